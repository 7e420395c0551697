/*
 * The membership reconciler service (SPEC section 1): the state every
 * handler and the scheduler share, and the internal interfaces between the
 * service's files. The pure logic (status map, matching, merge, plan, base
 * codec) lives in reconciler_core; these files do the I/O around it:
 *
 *   rc_util.c    errors, message bags, Redis keys, fenced base store
 *   links.c      pairs in Redis, Link / Unlink / ListPairs (C1, C6, C7)
 *   reader.c     reads both sides of a pair into the core's people input
 *   cycle.c      one sync cycle: lock, read, plan, apply, events, base, record
 *   events.c     the event stream: exactly-once append, WatchEvents (C8)
 *   flow.c       the filter and the three flow actions (C9, C10)
 *   scheduler.c  the background thread cycling every pair (C11)
 *   handlers.c   the gRPC handler table
 *
 * Redis layout (hash tags keep each pair's keys in one Cluster slot):
 *   campsync:{pairs}:pair:<program>     hash: the pair
 *   campsync:{pairs}:by_campaign        hash: campaign id -> program id (1:1)
 *   campsync:{pairs}:programs           set of linked program ids
 *   campsync:{pair:<program>}:base      the sync base (base_codec)
 *   campsync:{pair:<program>}:lock:cycle / fence:cycle / fenced:writes
 *   campsync:{pair:<program>}:done:<item key>   applied plan items (7 days)
 *   campsync:{pair:<program>}:cycle:<id>        packed CycleRecord (5 days)
 *   campsync:{pair:<program>}:cycles            zset of cycle ids by start
 *   campsync:{pair:<program>}:watermark         "<changes seen up to> <last full read>"
 *   campsync:{events}:stream                    the membership events
 *   campsync:{events}:ev:<program>:<key>        emitted events (7 days)
 */
#ifndef CAMPSYNC_RECON_SVC_H
#define CAMPSYNC_RECON_SVC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "campsync/v1/marketo.pb-c.h"
#include "campsync/v1/reconciler.pb-c.h"
#include "campsync/v1/salesforce.pb-c.h"
#include "merge.h"
#include "plan.h"
#include "rpc/rpc_client.h"
#include "rpc/rpc_server.h"
#include "status_map.h"
#include "strpool.h"

#define RC_CYCLE_TTL_S (5 * 86400) /* cycle records are kept 5 days (C11) */
#define RC_DONE_TTL_S (7 * 86400)  /* dedup keys outlive any retry */
#define RC_EVENTS_MAXLEN 1000000L  /* the event stream is trimmed beyond this */

typedef struct {
    char *channel;
    char *type;
} rc_type_map_entry;

typedef struct rc_svc {
    rpc_client *mkto;
    rpc_client *sf;
    int64_t interval_ms;
    int64_t full_read_ms; /* longest time between two full reads of a pair (0: always) */
    merge_policy policy;
    bool sync_enabled;
    rc_type_map_entry *type_map; /* channel -> campaign Type; identity when absent */
    size_t n_type_map;
    int lock_ttl_ms;
    int sf_batch;   /* Salesforce writes per call (200) */
    int mkto_batch; /* Marketo writes per call (300) */
    int64_t call_timeout_ms;
    char instance[96]; /* hostname/pid, in logs and cycle records */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop; /* shutdown: cycles stop between batches and reads (atomic access) */
    bool sched_started;
    pthread_t sched;
} rc_svc;

/* An error with the gRPC status it maps to. */
typedef struct {
    int code; /* GRPC_STATUS_* */
    char msg[512];
} rc_err;

int rc_fail(rc_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Protobuf messages a read keeps alive while the core borrows their strings. */
typedef struct {
    ProtobufCMessage **m;
    size_t n, cap;
} rc_bag;

int rc_bag_add(rc_bag *b, ProtobufCMessage *msg); /* takes msg; frees it on failure */
void rc_bag_free(rc_bag *b);

/* "pair:<program>" */
void rc_pair_scope(int64_t program_id, char *out, size_t cap);
int64_t rc_now_ms(void);

/* Unary call of a connector; the calling handler's call (or NULL) is the
 * parent. Errors name the method. */
int rc_mkto_call(rc_svc *s, rpc_call *parent, const char *method, const ProtobufCMessage *rq,
                 ProtobufCMessage **out, rc_err *err);
int rc_sf_call(rc_svc *s, rpc_call *parent, const char *method, const ProtobufCMessage *rq,
               ProtobufCMessage **out, rc_err *err);

/* Methods that only read (Get*, List*, Check*, Stream*): safe to ask again. */
bool rc_is_read(const char *method);

/* The campaign Type for a channel (C2). */
const char *rc_type_for_channel(const rc_svc *s, const char *channel);

/* ---- pairs (links.c) ---- */

typedef struct {
    int64_t program_id;
    char campaign_id[32];
    char program_name[256];
    char campaign_name[256];
    char channel[128];
    int64_t linked_at_ms;
    int64_t last_cycle_at_ms;
    char last_cycle_status[32];
    /* Salesforce's own default statuses, added when campaign sync created the
     * campaign; the connector cannot delete them, so they are tolerated. */
    char tolerated_extra[256]; /* '\n'-separated labels */
} rc_pair;

/* 0 and *found = true/false, or -1 with err (UNAVAILABLE). */
int rc_pair_get(int64_t program_id, rc_pair *out, bool *found, rc_err *err);
/* Every pair; *out malloc'd (caller frees). */
int rc_pair_list(rc_pair **out, size_t *n, rc_err *err);
int rc_pair_set_last_cycle(int64_t program_id, int64_t at_ms, const char *status, rc_err *err);
/* The program of a linked campaign, 0 when none. */
int rc_pair_by_campaign(const char *campaign_id, int64_t *program_id, rc_err *err);

/* C7 preconditions shared by every sync call. */
int rc_check_sync_enabled(const rc_svc *s, rc_err *err);
int rc_check_marketing_user(rc_svc *s, rpc_call *parent, rc_err *err);

/* A channel's status map (ListChannels). */
int rc_channel_map(rc_svc *s, rpc_call *parent, const char *channel, smap **out, rc_err *err);
/* C6 at the start of a cycle: every channel status exists in the campaign and
 * no other label does (apart from tolerated ones). */
int rc_check_statuses(rc_svc *s, rpc_call *parent, const rc_pair *p, const smap *m, rc_err *err);

int rc_link(rc_svc *s, rpc_call *parent, const Campsync__V1__LinkRequest *rq, rc_pair *out,
            rc_err *err);
int rc_unlink(int64_t program_id, rc_err *err);

/* ---- reading a pair (reader.c) ---- */

typedef struct {
    strpool strings; /* owns every string people borrows */
    people_input people;
    /* arrays behind people (owned) */
    people_mkto_lead *leads;
    people_sf_person *sf_people;
    people_mkto_member *mkto_members;
    people_sf_member *sf_members;
    int api_calls_mkto;
    int api_calls_sf;
    bool partial;       /* rc_read_people: only some people were read */
    char **people_read; /* partial: the Salesforce people whose membership was read
                           (the array is owned, its strings are in `strings`) */
    size_t n_people_read;
} rc_read;

/* Everyone: both sides' members in full, and their counterparts. */
int rc_read_pair(rc_svc *s, rpc_call *parent, const rc_pair *p, rc_read *out, rc_err *err);
/* Only these Marketo leads and Salesforce people (Lead/Contact ids), their
 * counterparts on the other side, and the membership of all of them. */
int rc_read_people(rc_svc *s, rpc_call *parent, const rc_pair *p, const int64_t *leads,
                   size_t n_leads, char *const *people, size_t n_people, rc_read *out, rc_err *err);
void rc_read_free(rc_read *r);

/* ---- one cycle (cycle.c) ---- */

/* Progress callback of SyncNow (may be NULL). */
typedef void (*rc_progress_fn)(void *user, const char *phase, int done, int total);

typedef struct {
    merge_policy policy;
    bool dry_run;     /* plan only: no lock, no write */
    bool full;        /* read both sides in full even if nothing changed */
    rpc_call *parent; /* serving call (SyncNow, DryRun) or NULL (scheduler) */
    rc_progress_fn progress;
    void *progress_user;
} rc_cycle_opts;

/*
 * Runs one cycle of a pair. Fills *record (free with
 * campsync__v1__cycle_record__free_unpacked(.., NULL)); for a dry run, *plan_out
 * gets the plan (same free). Returns 0 when the cycle ran (whatever its
 * record's status) or the pair was busy (*busy = true, no record); -1 with err
 * when it could not run (pair unknown, preconditions, a side unreadable):
 * then *record, when set, is the Failed record left for it.
 */
int rc_cycle_run(rc_svc *s, int64_t program_id, const rc_cycle_opts *o,
                 Campsync__V1__CycleRecord **record, Campsync__V1__SyncPlan **plan_out, bool *busy,
                 rc_err *err);

/* Newest first, at most limit. */
int rc_cycles_list(int64_t program_id, int limit, Campsync__V1__CycleRecord ***out, size_t *n,
                   rc_err *err);

/* ---- events (events.c) ---- */

/* A membership change on the Salesforce side: the person's status in the
 * pair's campaign is now new_status (NULL: no longer a member). */
typedef struct {
    int64_t lead_id;        /* the matched Marketo person, 0 if none */
    const char *person;     /* Salesforce Lead or Contact id */
    const char *new_status; /* NULL: removed */
    const char *source;     /* "salesforce" (made there) or "marketo" (carried there) */
} rc_change;

/*
 * Appends one event per change that moves the person away from the status
 * the stream last gave them (the pair's event state), in the same script
 * that updates that state: an event's old status is the state's, and a
 * change the state already shows appends nothing, so a retried batch or a
 * re-planned cycle never emits twice and a subscriber replaying the stream
 * always ends where the state is. Fails (UNAVAILABLE) when the state was
 * never set or was lost: rc_events_observe sets it first. *appended (may be
 * NULL) counts the events appended.
 */
int rc_events_emit(const rc_pair *p, const rc_change *ch, size_t n, int64_t at_ms, size_t *appended,
                   rc_err *err);

/*
 * What a read of the campaign saw, before the cycle writes anything: every
 * member whose status differs from the event state gets its event (source
 * "salesforce"), and every person in the state but no longer a member a
 * removal (read_people: after a partial read, the people whose membership
 * was read; NULL after a full read: everyone). This is where changes made in Salesforce become
 * events, and also where a change a crashed cycle made but did not get to emit is caught. The first
 * time (no state), it only sets the state to what it saw: the members a pair starts with are not
 * changes. lead_of[j] (may be NULL) is the Marketo lead matched to members[j], 0 if none.
 */
int rc_events_observe(const rc_pair *p, const people_sf_member *members, size_t n,
                      const int64_t *lead_of, char *const *read_people, size_t n_read_people,
                      int64_t at_ms, size_t *appended, rc_err *err);

/* Drops the pair's event state (unlink: a later link starts afresh). */
int rc_events_forget(int64_t program_id, rc_err *err);

int rc_watch_events(rpc_call *call, const Campsync__V1__WatchEventsRequest *rq);

/* ---- filter and flow actions (flow.c) ---- */

int rc_is_member(rc_svc *s, rpc_call *call, const Campsync__V1__MembershipQuery *rq,
                 Campsync__V1__MembershipAnswer *out, rc_err *err);
typedef enum { RC_FLOW_ADD = 0, RC_FLOW_REMOVE = 1, RC_FLOW_STATUS = 2 } rc_flow_kind;
/* out->results is allocated in call memory. */
int rc_flow(rc_svc *s, rpc_call *call, rc_flow_kind kind, const Campsync__V1__FlowActionRequest *rq,
            Campsync__V1__BatchResult *out, rc_err *err);

/* ---- scheduler (scheduler.c) ---- */

int rc_scheduler_start(rc_svc *s, char *err, size_t err_len);
void rc_scheduler_stop(rc_svc *s);

/* ---- handlers (handlers.c) ---- */

extern const rpc_method rc_methods[];
extern const size_t rc_n_methods;

#endif
