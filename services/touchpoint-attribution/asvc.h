/*
 * The campsync-attribution service layer (everything around attribution_core
 * that does I/O): its state, its Redis layout (store.c), the refresh of
 * offline touchpoints from Salesforce through the connector (refresh.c),
 * attribution over stored touchpoints and opportunities (attrib.c) and the
 * gRPC methods (handlers.c). One header because these files share one
 * state struct and one error convention; attribution_core stays unaware of
 * all of it.
 *
 * Errors: functions return 0, or -1 with a gRPC status code and a sentence
 * in a caller-owned asvc_err, which handlers pass through unchanged.
 */
#ifndef ATTR_ASVC_H
#define ATTR_ASVC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "campsync/v1/attribution.pb-c.h"
#include "campsync/v1/salesforce.pb-c.h"
#include "channel_map.h"
#include "intern.h"
#include "rpc/rpc_client.h"
#include "rpc/rpc_server.h"
#include "touchpoints.h"

typedef struct asvc_err {
    int code; /* grpc_status_code */
    char msg[512];
} asvc_err;

/* Always returns -1. */
int asvc_fail(asvc_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Salesforce names used when exporting (configurable, see main.c). */
enum asvc_export_field {
    AX_TP_ID,
    AX_TP_CAMPAIGN,
    AX_TP_MEMBER,
    AX_TP_LEAD,
    AX_TP_CONTACT,
    AX_TP_EMAIL,
    AX_TP_ACCOUNT,
    AX_TP_DATE,
    AX_TP_CHANNEL,
    AX_TP_SUBCHANNEL,
    AX_TP_MEDIUM,
    AX_TP_AD_ID,
    AX_TP_AD_NAME,
    AX_TP_SOURCE,
    AX_TP_TYPE,
    AX_AT_ID,
    AX_AT_OPPORTUNITY,
    AX_AT_TOUCHPOINT,
    AX_AT_MODEL,
    AX_AT_POSITION,
    AX_AT_WEIGHT,
    AX_AT_REVENUE,
    AX_AT_DATE,
    AX_AT_CONTACT,
    AX_COUNT
};
/* Default API names, indexed by asvc_export_field. */
extern const char *const asvc_export_defaults[AX_COUNT];

typedef struct asvc {
    char *connector_target;  /* CAMPSYNC_SALESFORCE_CONNECTOR */
    char *reconciler_target; /* CAMPSYNC_RECONCILER, NULL = no event listening */
    rpc_client *sf;
    rpc_client *recon;
    int64_t connector_timeout_ms;
    int64_t refresh_interval_ms;      /* incremental passes, 0 = off */
    int64_t full_refresh_interval_ms; /* full passes, 0 = off */
    int64_t lock_ttl_ms;
    int64_t overlap_ms;       /* re-read this much before a watermark */
    int64_t dormant_after_ms; /* incremental passes skip campaigns quiet this long */
    char *tp_object, *at_object;
    char *btd_field; /* CampaignMember Buyer Touchpoint Date API name (T5) */
    const char *export_names[AX_COUNT];
    char *export_names_buf; /* owns overridden names */

    /* background threads */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    bool refresher_started, listener_started;
    pthread_t refresher, listener;
} asvc;

/* ---- store.c: the Redis layout ----
 *
 * campsync:{attr}:campaigns        SET of campaign ids seen
 * campsync:{attr}:active           SET of those yielding touchpoints
 * campsync:{attr}:campaigns_since  campaign SystemModstamp watermark (ms)
 * campsync:{attr}:chmap            the channel map, one rule a line
 * campsync:{attr}:online           HASH touchpoint id -> record (T8)
 * campsync:{tp:<cid>}:meta         HASH campaign fields + member watermark
 * campsync:{tp:<cid>}:members      HASH member id -> member record
 * campsync:{tp:<cid>}:tps          HASH touchpoint id -> record
 * Records are fields joined by 0x1F (unit separator), which no Salesforce
 * value of interest contains (it is replaced by a space on the way in).
 * Each campaign's keys share one hash tag, so its update is one atomic,
 * fenced script even on Redis Cluster.
 */

/* A stored touchpoint (CRM or ingested); strings live in a pool. */
typedef struct asvc_tp {
    const char *id;
    int kind; /* Campsync__V1__TouchpointKind */
    const char *person_id, *email, *account_id;
    int64_t at_ms;
    const char *channel, *subchannel, *medium;
    const char *campaign_id, *campaign_name;
    const char *source, *type, *member_id;
    bool form;
} asvc_tp;

typedef struct asvc_tps {
    asvc_tp *v;
    size_t n, cap;
} asvc_tps;

int asvc_tps_push(asvc_tps *a, const asvc_tp *t);
void asvc_tps_free(asvc_tps *a);

/* The campaign fields a refresh needs, as stored in meta. */
typedef struct asvc_campaign {
    const char *id, *name, *type, *enable;
    const char *start_date, *end_date; /* "YYYY-MM-DD" or "" */
    int64_t modstamp_ms;
    int64_t members_since_ms; /* member watermark; 0 = members not loaded */
    bool known;               /* meta existed */
} asvc_campaign;

/* Everything stored for one campaign. Strings in pool. */
typedef struct asvc_campaign_state {
    asvc_campaign c;
    tp_member *members;
    size_t n_members;
    tp_touchpoint *tps;
    size_t n_tps;
} asvc_campaign_state;

void asvc_campaign_state_free(asvc_campaign_state *s);

int asvc_store_load_campaign(const char *cid, intern *pool, asvc_campaign_state *out, asvc_err *e);

/* Writes one campaign's new state atomically, refused (ABORTED) when token is
 * lower than a token already used for this campaign. members: with
 * replace_members the whole new member set, else the changed rows (a
 * deleted row removes its member); touchpoints: the diff against what was
 * loaded. */
typedef struct asvc_apply {
    const asvc_campaign *c;
    bool replace_members;
    const tp_member *members;
    size_t n_members;
    const tp_touchpoint *set;
    size_t n_set;
    const char *const *del;
    size_t n_del;
} asvc_apply;
int asvc_store_apply(const char *cid, int64_t token, const asvc_apply *a, asvc_err *e);

/* The campaigns ever seen, or (active_only) those that yielded touchpoints
 * at their last refresh: the ones an incremental pass polls for members. */
int asvc_store_campaign_ids(bool active_only, char ***ids, size_t *n, asvc_err *e);
int asvc_store_mark_active(const char *cid, bool active, asvc_err *e);
void asvc_strv_free(char **v, size_t n);
int asvc_store_forget_campaign(const char *cid, int64_t token, asvc_err *e);
int asvc_store_get_i64(const char *name, int64_t *v, asvc_err *e);
int asvc_store_set_i64(const char *name, int64_t v, asvc_err *e);

/* The channel map: *out NULL-free (an empty map when none is stored). */
int asvc_store_load_chmap(chmap **out, asvc_err *e);
int asvc_store_save_chmap(const chmap *m, asvc_err *e);

/* T8: adds each t[i] unless its id is stored: added[i] 1, or 0 for a
 * duplicate (of a stored one or of an earlier one in t). On failure the
 * touchpoints of earlier chunks may be stored: resending is safe. */
int asvc_store_ingest(const asvc_tp *t, size_t n, int *added, asvc_err *e);

/* Every stored touchpoint (CRM of every active campaign + ingested). */
int asvc_store_load_all(intern *pool, asvc_tps *out, asvc_err *e);
/* Touchpoints of one campaign. */
int asvc_store_load_campaign_tps(const char *cid, intern *pool, asvc_tps *out, asvc_err *e);

/* A CRM touchpoint of the core as a stored touchpoint. */
void asvc_tp_from_core(const tp_touchpoint *c, asvc_tp *out);

/* ---- refresh.c ---- */

typedef struct asvc_refresh_summary {
    int campaigns, created, updated, removed, skipped_no_email, skipped_out_of_range;
} asvc_refresh_summary;

/* Refreshes the named campaigns (all known + changed when n == 0). full:
 * re-read every member instead of the changes since the watermark.
 * parent: the serving call, or NULL for the background thread.
 * wait_lock: wait for a campaign busy on another replica (else skip it). */
int asvc_refresh(asvc *s, rpc_call *parent, char *const *ids, size_t n, bool full, bool wait_lock,
                 asvc_refresh_summary *sum, asvc_err *e);
/* Recomputes every stored campaign from its stored members (no Salesforce
 * call): after a channel-map change. */
int asvc_rederive_all(asvc *s, rpc_call *parent, asvc_refresh_summary *sum, asvc_err *e);

int asvc_start_threads(asvc *s, char *err, size_t n);
void asvc_stop_threads(asvc *s);

/* A connector failure as an asvc_err naming the connector. */
int asvc_connector_fail(asvc *s, const char *method, const rpc_error *re, asvc_err *e);

/* ---- attrib.c ---- */

typedef struct asvc_model_req {
    int model; /* Campsync__V1__Model */
    const Campsync__V1__CustomWeights *custom;
    double half_life_days;
} asvc_model_req;

typedef struct asvc_attribution asvc_attribution;

/* Loads touchpoints and opportunities (the given ids, or every opportunity
 * of the accounts the touchpoints reach) and runs the model. */
int asvc_attribute(asvc *s, rpc_call *parent, char *const *opp_ids, size_t n_opp_ids,
                   const asvc_model_req *m, asvc_attribution **out, asvc_err *e);
void asvc_attribution_free(asvc_attribution *a);

size_t asvc_attribution_opps(const asvc_attribution *a);
/* Opportunity i: its id, amount, and its counted touches. */
typedef struct asvc_att_touch {
    const asvc_tp *tp;
    uint32_t positions;
    uint32_t ppm;
    int64_t revenue;
} asvc_att_touch;
const char *asvc_attribution_opp(const asvc_attribution *a, size_t i, int64_t *amount,
                                 size_t *n_touches);
void asvc_attribution_touch(const asvc_attribution *a, size_t i, size_t k, asvc_att_touch *out);

/* A4 report over the attribution; group_by as in the proto. */
int asvc_report(const asvc_attribution *a, const char *group_by, int64_t from_ms, int64_t to_ms,
                Campsync__V1__ReportResponse *out, rpc_call *call, asvc_err *e);

/* ---- handlers.c ---- */

extern const rpc_method asvc_methods[];
extern const size_t asvc_n_methods;

#endif
