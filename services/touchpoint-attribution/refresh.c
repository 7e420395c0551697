/*
 * Keeping offline touchpoints current (SPEC T1-T7): reads campaigns and
 * their members from Salesforce through the connector, recomputes a
 * campaign's touchpoints with attribution_core (tp_compute) and writes the
 * difference to Redis (store.c).
 *
 * How much is read:
 * - incremental: campaigns changed since the campaign watermark
 *   (ListChangedCampaigns), and for every campaign that yields touchpoints,
 *   its members changed since its member watermark, deleted ones included
 *   (StreamCampaignMembers, queryAll). Members are merged into the stored
 *   member set, so the campaign is recomputed without reading it whole.
 *   A campaign whose members last changed longer than the dormancy period
 *   before the newest campaign change is not polled (an old campaign rarely
 *   gets members, and each poll is a Salesforce API call); full passes,
 *   reconciler events and on-demand refreshes still read it.
 * - full: every campaign and every member again; catches what SystemModstamp
 *   does not show (a lead's or contact's email edited, a campaign deleted).
 * - local: only what is stored (a new channel map); a campaign whose
 *   members were never read (it was excluded or online) is read whole.
 * Watermarks re-read a short overlap before them, so a row committed late
 * with an older SystemModstamp is still seen; re-reading is harmless
 * because every write is by id.
 *
 * A campaign is worked on under a Redis lock (one replica at a time) and
 * its write is fenced by the lock's token, so a holder whose lock expired
 * cannot overwrite a newer result. Nothing is written for a campaign until
 * everything it needs has been read: a connector outage leaves the stored
 * state as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/status.h>

#include "asvc.h"
#include "campsync/v1/reconciler.pb-c.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "redis/redis.h"

#define SF_SVC (&campsync__v1__salesforce_connector__descriptor)
#define LOCK_WAIT_MS 30000

enum fetch_mode { FETCH_INCREMENTAL, FETCH_FULL, FETCH_LOCAL };

int asvc_connector_fail(asvc *s, const char *method, const rpc_error *re, asvc_err *e)
{
    if (re->code == GRPC_STATUS_UNAVAILABLE || re->code == GRPC_STATUS_DEADLINE_EXCEEDED)
        return asvc_fail(e, GRPC_STATUS_UNAVAILABLE,
                         "salesforce connector at %s did not answer %s (%s: %s); nothing was "
                         "changed, retry later",
                         s->connector_target, method, rpc_status_name(re->code), re->message);
    return asvc_fail(e, re->code, "salesforce connector %s: %s", method, re->message);
}

static rpc_call_opts call_opts(asvc *s, rpc_call *parent)
{
    rpc_call_opts o = {.parent = parent, .timeout_ms = s->connector_timeout_ms};
    return o;
}

static const char *pooled(intern *pool, const char *s)
{
    uint32_t id = intern_id(pool, s ? s : "");
    return id == INTERN_NONE ? "" : intern_str(pool, id);
}

static void campaign_from_sf(const Campsync__V1__Campaign *sc, intern *pool, asvc_campaign *c)
{
    memset(c, 0, sizeof *c);
    c->id = pooled(pool, sc->id);
    c->name = pooled(pool, sc->name);
    c->type = pooled(pool, sc->type);
    c->enable = pooled(pool, sc->enable_buyer_touchpoints);
    c->start_date = pooled(pool, sc->touchpoint_start_date);
    c->end_date = pooled(pool, sc->touchpoint_end_date);
    c->modstamp_ms = sc->system_modstamp_ms;
}

/* ---- members ---- */

typedef struct member_set {
    tp_member *v;
    size_t n, cap;
    intern *ids; /* member id -> index in v (ids are dense, in order) */
    int64_t max_modstamp;
    tp_member *fetched; /* every row read, in order: the changes to store */
    size_t n_fetched, cap_fetched;
} member_set;

static int members_init(member_set *ms, const tp_member *stored, size_t n)
{
    memset(ms, 0, sizeof *ms);
    ms->ids = intern_new();
    if (!ms->ids)
        return -1;
    if (n) {
        ms->v = calloc(n, sizeof *ms->v);
        if (!ms->v)
            return -1;
        ms->cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        if (intern_find(ms->ids, stored[i].member_id) != INTERN_NONE)
            continue;
        if (intern_id(ms->ids, stored[i].member_id) != ms->n)
            return -1;
        ms->v[ms->n++] = stored[i];
    }
    return 0;
}

static void members_free(member_set *ms)
{
    free(ms->v);
    free(ms->fetched);
    intern_free(ms->ids);
    memset(ms, 0, sizeof *ms);
}

/* Adds or replaces a member (a deleted row marks it deleted). */
static int members_put(member_set *ms, const tp_member *m)
{
    if (ms->n_fetched == ms->cap_fetched) {
        size_t cap = ms->cap_fetched ? ms->cap_fetched * 2 : 64;
        tp_member *f = realloc(ms->fetched, cap * sizeof *f);
        if (!f)
            return -1;
        ms->fetched = f;
        ms->cap_fetched = cap;
    }
    ms->fetched[ms->n_fetched++] = *m;
    uint32_t id = intern_find(ms->ids, m->member_id);
    if (id != INTERN_NONE) {
        ms->v[id] = *m;
        return 0;
    }
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? ms->cap * 2 : 256;
        tp_member *v = realloc(ms->v, cap * sizeof *v);
        if (!v)
            return -1;
        ms->v = v;
        ms->cap = cap;
    }
    if (intern_id(ms->ids, m->member_id) != ms->n)
        return -1;
    ms->v[ms->n++] = *m;
    return 0;
}

/* Drops deleted members (ids map is stale afterwards: only for the end). */
static void members_compact(member_set *ms)
{
    size_t k = 0;
    for (size_t i = 0; i < ms->n; i++)
        if (!ms->v[i].is_deleted)
            ms->v[k++] = ms->v[i];
    ms->n = k;
}

static int member_from_sf(const Campsync__V1__CampaignMember *sm, intern *pool, tp_member *m,
                          asvc_err *e)
{
    memset(m, 0, sizeof *m);
    m->member_id = pooled(pool, sm->id);
    m->lead_id = pooled(pool, sm->lead_id);
    m->contact_id = pooled(pool, sm->contact_id);
    m->email = pooled(pool, sm->email);
    m->account_id = pooled(pool, sm->account_id);
    m->status = pooled(pool, sm->status);
    m->first_responded_ms = sm->first_responded_date_ms;
    m->created_ms = sm->created_date_ms;
    m->has_responded = sm->has_responded;
    m->is_deleted = sm->is_deleted;
    if (sm->buyer_touchpoint_date && sm->buyer_touchpoint_date[0]) {
        attr_error ae = {{0}};
        if (tp_date_parse(sm->buyer_touchpoint_date, &m->buyer_touchpoint_ms, &ae) != 0)
            return asvc_fail(e, GRPC_STATUS_FAILED_PRECONDITION,
                             "campaign member %s: Buyer Touchpoint Date: %s", sm->id, ae.msg);
    }
    return 0;
}

/* Reads the members of cid changed at/after since (0 = all) into ms. */
static int fetch_members(asvc *s, rpc_call *parent, const char *cid, int64_t since,
                         bool include_deleted, intern *pool, member_set *ms, asvc_err *e)
{
    Campsync__V1__StreamCampaignMembersRequest rq =
        CAMPSYNC__V1__STREAM_CAMPAIGN_MEMBERS_REQUEST__INIT;
    rq.campaign_id = (char *)cid;
    rq.since_ms = since;
    rq.include_deleted = include_deleted;
    rpc_call_opts o = call_opts(s, parent);
    rpc_stream *st = NULL;
    rpc_error re = {0};
    if (rpc_stream_open(s->sf, SF_SVC, "StreamCampaignMembers", &rq.base, &o, &st, &re) != 0)
        return asvc_connector_fail(s, "StreamCampaignMembers", &re, e);
    int rc = 0;
    for (;;) {
        ProtobufCMessage *msg = NULL;
        int got = rpc_stream_next(st, &msg, &re);
        if (got == 0)
            break;
        if (got < 0) {
            rc = asvc_connector_fail(s, "StreamCampaignMembers", &re, e);
            break;
        }
        const Campsync__V1__CampaignMemberPage *page = (const void *)msg;
        for (size_t i = 0; i < page->n_members && rc == 0; i++) {
            tp_member m;
            rc = member_from_sf(page->members[i], pool, &m, e);
            if (rc == 0 && members_put(ms, &m) != 0)
                rc = asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            if (page->members[i]->system_modstamp_ms > ms->max_modstamp)
                ms->max_modstamp = page->members[i]->system_modstamp_ms;
        }
        protobuf_c_message_free_unpacked(msg, NULL);
        if (rc != 0)
            break;
    }
    rpc_stream_close(st);
    return rc;
}

/* ---- locks ---- */

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* 0 with *token > 0 when held; 0 with *token 0 when busy and not waiting. */
static int lock_campaign(asvc *s, rpc_call *parent, const char *cid, bool wait, int64_t *token,
                         asvc_err *e)
{
    char scope[160];
    snprintf(scope, sizeof scope, "tp:%s", cid);
    int64_t waited = 0;
    for (;;) {
        rds_err re = {0};
        if (rds_lock_acquire(scope, "refresh", (int)s->lock_ttl_ms, token, &re) != 0)
            return asvc_fail(e, GRPC_STATUS_UNAVAILABLE, "redis lock for campaign %s: %s", cid,
                             re.msg);
        if (*token > 0 || !wait)
            return 0;
        if (waited >= LOCK_WAIT_MS)
            return asvc_fail(e, GRPC_STATUS_ABORTED,
                             "campaign %s is being refreshed by another replica for over %d s: "
                             "retry",
                             cid, LOCK_WAIT_MS / 1000);
        if (parent) {
            if (rpc_call_wait(parent, 200))
                return asvc_fail(e, GRPC_STATUS_DEADLINE_EXCEEDED,
                                 "gave up waiting for campaign %s's refresh lock", cid);
        } else {
            sleep_ms(200);
        }
        waited += 200;
    }
}

static void unlock_campaign(const char *cid, int64_t token)
{
    char scope[160];
    snprintf(scope, sizeof scope, "tp:%s", cid);
    int released = 0;
    rds_err re = {0};
    if (rds_lock_release(scope, "refresh", token, &released, &re) != 0)
        log_kv(LOG_WARN, "campaign lock not released (it expires)", "campaign", cid, "error",
               re.msg, NULL);
}

/* ---- metrics ---- */

static void count_changes(size_t created, size_t updated, size_t removed)
{
    static const char *const labels[] = {"change", NULL};
    metrics_family *f =
        metrics_counter(metrics_default(), "campsync_attribution_touchpoint_changes_total",
                        "Offline touchpoints written, by change", labels);
    const char *const kinds[] = {"created", "updated", "removed"};
    const size_t n[] = {created, updated, removed};
    for (int i = 0; f && i < 3; i++) {
        const char *const v[] = {kinds[i]};
        if (n[i])
            metrics_inc(metrics_with(f, v), (double)n[i]);
    }
}

static void count_pass(bool full, bool ok)
{
    static const char *const labels[] = {"kind", "result", NULL};
    metrics_family *f =
        metrics_counter(metrics_default(), "campsync_attribution_refresh_passes_total",
                        "Background refresh passes, by kind and result", labels);
    const char *const v[] = {full ? "full" : "incremental", ok ? "ok" : "failed"};
    if (f)
        metrics_inc(metrics_with(f, v), 1);
}

/* ---- one campaign ---- */

static int date_or_zero(const char *ymd, const char *what, const char *cid, int64_t *ms,
                        asvc_err *e)
{
    *ms = 0;
    if (!ymd || !ymd[0])
        return 0;
    attr_error ae = {{0}};
    if (tp_date_parse(ymd, ms, &ae) != 0)
        return asvc_fail(e, GRPC_STATUS_FAILED_PRECONDITION, "campaign %s %s: %s", cid, what,
                         ae.msg);
    return 0;
}

/* Under the lock: read what is needed, recompute, write the difference. */
static int refresh_locked(asvc *s, rpc_call *parent, const asvc_campaign *from_sf, const char *cid,
                          enum fetch_mode mode, int64_t dormant_before, int64_t token, intern *pool,
                          asvc_refresh_summary *sum, asvc_err *e)
{
    asvc_campaign_state st;
    if (asvc_store_load_campaign(cid, pool, &st, e) != 0)
        return -1;
    asvc_campaign c = from_sf ? *from_sf : st.c;
    c.members_since_ms = st.c.members_since_ms;
    if (!from_sf && !st.c.known) {
        asvc_campaign_state_free(&st);
        return 0; /* nothing stored, nothing to recompute */
    }
    if (!from_sf && mode == FETCH_INCREMENTAL && st.c.members_since_ms > 0 &&
        st.c.members_since_ms < dormant_before) {
        asvc_campaign_state_free(&st);
        return 0; /* dormant: left to full passes, events and on-demand refreshes */
    }
    int rc = -1;
    chmap *map = NULL;
    member_set ms = {0};
    tp_result res = {0};
    tp_diff diff = {0};
    const char **del = NULL;
    tp_touchpoint *set = NULL;

    attr_error ae = {{0}};
    tp_campaign tc = {.id = cid, .name = c.name, .type = c.type};
    if (tp_enable_parse(c.enable, &tc.enable, &ae) != 0) {
        /* An unknown picklist value is an org misconfiguration: leave the
         * campaign's touchpoints as they are rather than guess. */
        log_kv(LOG_WARN, "campaign skipped", "campaign", cid, "reason", ae.msg, NULL);
        rc = 0;
        goto done;
    }
    if (date_or_zero(c.start_date, "Touchpoint Start Date", cid, &tc.start_ms, e) != 0 ||
        date_or_zero(c.end_date, "Touchpoint End Date", cid, &tc.end_ms, e) != 0 ||
        asvc_store_load_chmap(&map, e) != 0)
        goto done;
    bool active = (tc.enable == TP_ENABLE_ALL || tc.enable == TP_ENABLE_RESPONDED) &&
                  chmap_lookup(map, c.type) != NULL;
    /* The whole member set is written when it was read whole (or dropped);
     * else only the rows read since the watermark. */
    bool replace = !active || mode == FETCH_FULL || c.members_since_ms == 0;
    if (!active) {
        if (members_init(&ms, NULL, 0) != 0)
            goto oom;
        c.members_since_ms = 0;
    } else if (mode == FETCH_FULL || c.members_since_ms == 0) {
        if (members_init(&ms, NULL, 0) != 0)
            goto oom;
        if (fetch_members(s, parent, cid, 0, false, pool, &ms, e) != 0)
            goto done;
        c.members_since_ms = ms.max_modstamp > 0 ? ms.max_modstamp : 1;
    } else {
        if (members_init(&ms, st.members, st.n_members) != 0)
            goto oom;
        if (mode == FETCH_INCREMENTAL) {
            int64_t since = c.members_since_ms - s->overlap_ms;
            if (fetch_members(s, parent, cid, since > 1 ? since : 1, true, pool, &ms, e) != 0)
                goto done;
            if (ms.max_modstamp > c.members_since_ms)
                c.members_since_ms = ms.max_modstamp;
        }
    }
    members_compact(&ms);
    if (tp_compute(&tc, ms.v, ms.n, map, &res, &ae) != 0 ||
        tp_diff_compute(st.tps, st.n_tps, res.items, res.n, &diff, &ae) != 0) {
        asvc_fail(e, GRPC_STATUS_INTERNAL, "campaign %s: %s", cid, ae.msg);
        goto done;
    }
    size_t n_set = diff.n_created + diff.n_updated;
    set = calloc(n_set ? n_set : 1, sizeof *set);
    del = calloc(diff.n_removed ? diff.n_removed : 1, sizeof *del);
    if (!set || !del)
        goto oom;
    for (size_t i = 0; i < diff.n_created; i++)
        set[i] = res.items[diff.created[i]];
    for (size_t i = 0; i < diff.n_updated; i++)
        set[diff.n_created + i] = res.items[diff.updated[i]];
    for (size_t i = 0; i < diff.n_removed; i++)
        del[i] = st.tps[diff.removed[i]].id;
    bool same_campaign =
        st.c.known && strcmp(c.name, st.c.name) == 0 && strcmp(c.type, st.c.type) == 0 &&
        strcmp(c.enable, st.c.enable) == 0 && strcmp(c.start_date, st.c.start_date) == 0 &&
        strcmp(c.end_date, st.c.end_date) == 0 && c.modstamp_ms == st.c.modstamp_ms &&
        c.members_since_ms == st.c.members_since_ms;
    if (same_campaign && n_set == 0 && diff.n_removed == 0 && ms.n_fetched == 0 &&
        (!replace || st.n_members == 0)) {
        sum->campaigns++;
        rc = asvc_store_mark_active(cid, active, e); /* nothing else changed */
        goto done;
    }
    asvc_apply ap = {.c = &c,
                     .replace_members = replace,
                     .members = replace ? ms.v : ms.fetched,
                     .n_members = replace ? ms.n : ms.n_fetched,
                     .set = set,
                     .n_set = n_set,
                     .del = del,
                     .n_del = diff.n_removed};
    /* The active set always covers every campaign holding touchpoints (a
     * crash in between leaves at worst an active entry with none): listings
     * and attribution read only the active campaigns. */
    if ((active && asvc_store_mark_active(cid, true, e) != 0) ||
        asvc_store_apply(cid, token, &ap, e) != 0 ||
        (!active && asvc_store_mark_active(cid, false, e) != 0))
        goto done;
    count_changes(diff.n_created, diff.n_updated, diff.n_removed);
    sum->campaigns++;
    sum->created += (int)diff.n_created;
    sum->updated += (int)diff.n_updated;
    sum->removed += (int)diff.n_removed;
    sum->skipped_no_email += (int)res.skipped_no_email;
    sum->skipped_out_of_range += (int)res.skipped_out_of_range;
    if (diff.n_created || diff.n_updated || diff.n_removed) {
        char a[16], b[16], d[16];
        snprintf(a, sizeof a, "%zu", diff.n_created);
        snprintf(b, sizeof b, "%zu", diff.n_updated);
        snprintf(d, sizeof d, "%zu", diff.n_removed);
        log_kv(LOG_INFO, "campaign touchpoints changed", "campaign", cid, "created", a, "updated",
               b, "removed", d, NULL);
    }
    rc = 0;
    goto done;
oom:
    asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory refreshing campaign %s", cid);
done:
    free(set);
    free(del);
    tp_diff_free(&diff);
    tp_result_free(&res);
    members_free(&ms);
    chmap_free(map);
    asvc_campaign_state_free(&st);
    return rc;
}

/* from_sf NULL: the campaign as stored. gone: Salesforce no longer has it. */
static int refresh_campaign(asvc *s, rpc_call *parent, const char *cid,
                            const Campsync__V1__Campaign *from_sf, bool gone, enum fetch_mode mode,
                            int64_t dormant_before, bool wait, asvc_refresh_summary *sum,
                            asvc_err *e)
{
    int64_t token = 0;
    if (lock_campaign(s, parent, cid, wait, &token, e) != 0)
        return -1;
    if (token == 0)
        return 0; /* another replica is on it */
    int rc;
    if (gone) {
        intern *pool = intern_new();
        asvc_campaign_state st;
        rc = pool ? asvc_store_load_campaign(cid, pool, &st, e)
                  : asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        if (rc == 0) {
            rc = asvc_store_forget_campaign(cid, token, e);
            if (rc == 0) {
                sum->campaigns++;
                sum->removed += (int)st.n_tps;
                log_kv(LOG_INFO, "campaign gone from salesforce: touchpoints removed", "campaign",
                       cid, NULL);
            }
            asvc_campaign_state_free(&st);
        }
        intern_free(pool);
    } else {
        intern *pool = intern_new();
        asvc_campaign c;
        if (!pool) {
            rc = asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        } else {
            if (from_sf)
                campaign_from_sf(from_sf, pool, &c);
            rc = refresh_locked(s, parent, from_sf ? &c : NULL, cid, mode, dormant_before, token,
                                pool, sum, e);
        }
        intern_free(pool);
    }
    unlock_campaign(cid, token);
    return rc;
}

/* ---- passes ---- */

static int get_campaigns(asvc *s, rpc_call *parent, char *const *ids, size_t n,
                         Campsync__V1__CampaignList **out, asvc_err *e)
{
    Campsync__V1__GetCampaignsRequest rq = CAMPSYNC__V1__GET_CAMPAIGNS_REQUEST__INIT;
    rq.ids = (char **)ids;
    rq.n_ids = n;
    rpc_call_opts o = call_opts(s, parent);
    rpc_error re = {0};
    ProtobufCMessage *msg = NULL;
    if (rpc_client_unary(s->sf, SF_SVC, "GetCampaigns", &rq.base, &msg, &o, &re) != 0)
        return asvc_connector_fail(s, "GetCampaigns", &re, e);
    *out = (Campsync__V1__CampaignList *)msg;
    return 0;
}

static const Campsync__V1__Campaign *find_campaign(const Campsync__V1__CampaignList *l,
                                                   const char *id)
{
    /* Salesforce answers 18-character ids; a caller may give 15. */
    for (size_t i = 0; i < l->n_campaigns; i++)
        if (strcmp(l->campaigns[i]->id, id) == 0 ||
            (strlen(id) == 15 && strncmp(l->campaigns[i]->id, id, 15) == 0))
            return l->campaigns[i];
    return NULL;
}

static int refresh_named(asvc *s, rpc_call *parent, char *const *ids, size_t n, bool full,
                         bool wait, asvc_refresh_summary *sum, asvc_err *e)
{
    Campsync__V1__CampaignList *l = NULL;
    if (get_campaigns(s, parent, ids, n, &l, e) != 0)
        return -1;
    int rc = 0;
    char **known = NULL;
    size_t n_known = 0;
    if (asvc_store_campaign_ids(false, &known, &n_known, e) != 0)
        rc = -1;
    /* Every id must be a campaign Salesforce has or one we stored. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (find_campaign(l, ids[i]))
            continue;
        bool stored = false;
        for (size_t k = 0; k < n_known; k++)
            stored = stored || strcmp(known[k], ids[i]) == 0;
        if (!stored)
            rc = asvc_fail(e, GRPC_STATUS_NOT_FOUND, "campaign %s does not exist in Salesforce",
                           ids[i]);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const Campsync__V1__Campaign *c = find_campaign(l, ids[i]);
        rc = refresh_campaign(s, parent, c ? c->id : ids[i], c, c == NULL,
                              full ? FETCH_FULL : FETCH_INCREMENTAL, 0, wait, sum, e);
    }
    asvc_strv_free(known, n_known);
    protobuf_c_message_free_unpacked(&l->base, NULL);
    return rc;
}

static int refresh_pass(asvc *s, rpc_call *parent, bool full, bool wait, asvc_refresh_summary *sum,
                        asvc_err *e)
{
    int64_t mark = 0;
    if (asvc_store_get_i64("campaigns_since", &mark, e) != 0)
        return -1;
    int64_t since = full || mark == 0 ? 0 : mark - s->overlap_ms;
    Campsync__V1__ListChangedCampaignsRequest rq =
        CAMPSYNC__V1__LIST_CHANGED_CAMPAIGNS_REQUEST__INIT;
    rq.since_ms = since > 0 ? since : 0;
    rpc_call_opts o = call_opts(s, parent);
    rpc_error re = {0};
    ProtobufCMessage *msg = NULL;
    if (rpc_client_unary(s->sf, SF_SVC, "ListChangedCampaigns", &rq.base, &msg, &o, &re) != 0)
        return asvc_connector_fail(s, "ListChangedCampaigns", &re, e);
    Campsync__V1__CampaignList *l = (Campsync__V1__CampaignList *)msg;
    char **known = NULL;
    size_t n_known = 0;
    /* incremental: besides the changed campaigns only the active ones can
     * have news (member changes); inactive ones change only with their
     * campaign (listed) or the channel map (re-derived when it changes). */
    int rc = asvc_store_campaign_ids(!full, &known, &n_known, e);
    enum fetch_mode mode = full ? FETCH_FULL : FETCH_INCREMENTAL;
    int64_t new_mark = mark;
    for (size_t i = 0; i < l->n_campaigns; i++)
        if (l->campaigns[i]->system_modstamp_ms > new_mark)
            new_mark = l->campaigns[i]->system_modstamp_ms;
    /* Salesforce's "now" as far as we know it (the newest campaign change),
     * so a skewed local clock cannot make campaigns look dormant. */
    int64_t dormant_before = !full && s->dormant_after_ms > 0 && new_mark > s->dormant_after_ms
                                 ? new_mark - s->dormant_after_ms
                                 : 0;
    for (size_t i = 0; i < l->n_campaigns && rc == 0; i++) {
        const Campsync__V1__Campaign *c = l->campaigns[i];
        rc = refresh_campaign(s, parent, c->id, c, false, mode, 0, wait, sum, e);
    }
    for (size_t k = 0; k < n_known && rc == 0; k++) {
        if (find_campaign(l, known[k]))
            continue;
        /* Unchanged campaign (incremental) or one Salesforce no longer
         * lists (a full pass lists them all). */
        rc = refresh_campaign(s, parent, known[k], NULL, full, mode, dormant_before, wait, sum, e);
    }
    if (rc == 0 && new_mark != mark)
        rc = asvc_store_set_i64("campaigns_since", new_mark, e);
    asvc_strv_free(known, n_known);
    protobuf_c_message_free_unpacked(&l->base, NULL);
    return rc;
}

int asvc_refresh(asvc *s, rpc_call *parent, char *const *ids, size_t n, bool full, bool wait_lock,
                 asvc_refresh_summary *sum, asvc_err *e)
{
    memset(sum, 0, sizeof *sum);
    if (n > 0)
        return refresh_named(s, parent, ids, n, full, wait_lock, sum, e);
    return refresh_pass(s, parent, full, wait_lock, sum, e);
}

int asvc_rederive_all(asvc *s, rpc_call *parent, asvc_refresh_summary *sum, asvc_err *e)
{
    memset(sum, 0, sizeof *sum);
    char **known = NULL;
    size_t n_known = 0;
    if (asvc_store_campaign_ids(false, &known, &n_known, e) != 0)
        return -1;
    int rc = 0;
    for (size_t k = 0; k < n_known && rc == 0; k++)
        rc = refresh_campaign(s, parent, known[k], NULL, false, FETCH_LOCAL, 0, true, sum, e);
    asvc_strv_free(known, n_known);
    return rc;
}

/* ---- background work ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until deadline (monotonic ms) or stop; returns true when stopping. */
static bool wait_until(asvc *s, int64_t deadline)
{
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (left % 1000) * 1000000L;
        ts.tv_sec += left / 1000 + ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    bool stop = s->stopping;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void run_pass(asvc *s, bool full)
{
    int64_t token = 0;
    rds_err re = {0};
    if (rds_lock_acquire("attr", "refresh-pass", (int)s->lock_ttl_ms, &token, &re) != 0) {
        log_kv(LOG_WARN, "refresh pass skipped: redis", "error", re.msg, NULL);
        return;
    }
    if (token == 0)
        return; /* another replica runs this pass */
    asvc_refresh_summary sum;
    asvc_err e = {0};
    int rc = asvc_refresh(s, NULL, NULL, 0, full, false, &sum, &e);
    count_pass(full, rc == 0);
    char c[16], cr[16], up[16], rm[16];
    snprintf(c, sizeof c, "%d", sum.campaigns);
    snprintf(cr, sizeof cr, "%d", sum.created);
    snprintf(up, sizeof up, "%d", sum.updated);
    snprintf(rm, sizeof rm, "%d", sum.removed);
    if (rc == 0)
        log_kv(LOG_INFO, "refresh pass done", "full", full ? "true" : "false", "campaigns", c,
               "created", cr, "updated", up, "removed", rm, NULL);
    else
        log_kv(LOG_WARN, "refresh pass failed (retried next time)", "full", full ? "true" : "false",
               "error", e.msg, NULL);
    int released = 0;
    rds_lock_release("attr", "refresh-pass", token, &released, &re);
}

static void *refresher_main(void *arg)
{
    asvc *s = arg;
    log_set_request_id("refresh");
    int64_t now = mono_ms();
    int64_t next_inc = s->refresh_interval_ms ? now + s->refresh_interval_ms : INT64_MAX;
    int64_t next_full = s->full_refresh_interval_ms ? now + s->full_refresh_interval_ms : INT64_MAX;
    for (;;) {
        if (wait_until(s, next_inc < next_full ? next_inc : next_full))
            break;
        now = mono_ms();
        if (now >= next_full) {
            run_pass(s, true);
            next_full = mono_ms() + s->full_refresh_interval_ms;
            if (s->refresh_interval_ms)
                next_inc = mono_ms() + s->refresh_interval_ms;
        } else if (now >= next_inc) {
            run_pass(s, false);
            next_inc = mono_ms() + s->refresh_interval_ms;
        }
    }
    rds_thread_disconnect();
    return NULL;
}

/* Membership events from the reconciler: a campaign whose membership just
 * changed is refreshed at once instead of at the next pass. The stream is
 * reopened every 2 s (shutdown waits for at most that) and resumed
 * after the last event seen, so nothing in between is missed. */
#define RECON_SVC (&campsync__v1__membership_reconciler__descriptor)
static void *listener_main(void *arg)
{
    asvc *s = arg;
    log_set_request_id("events");
    char last[64] = "";
    int64_t backoff = 500;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        Campsync__V1__WatchEventsRequest rq = CAMPSYNC__V1__WATCH_EVENTS_REQUEST__INIT;
        rq.from_event_id = last;
        rpc_call_opts o = {.timeout_ms = 2000};
        rpc_stream *st = NULL;
        rpc_error re = {0};
        int failed = rpc_stream_open(s->recon, RECON_SVC, "WatchEvents", &rq.base, &o, &st, &re);
        while (!failed) {
            ProtobufCMessage *msg = NULL;
            int got = rpc_stream_next(st, &msg, &re);
            if (got <= 0) {
                failed = got < 0 && re.code != GRPC_STATUS_DEADLINE_EXCEEDED;
                break;
            }
            const Campsync__V1__MembershipEvent *ev = (const void *)msg;
            snprintf(last, sizeof last, "%s", ev->event_id);
            if (ev->campaign_id && ev->campaign_id[0]) {
                char *ids[] = {ev->campaign_id};
                asvc_refresh_summary sum;
                asvc_err e = {0};
                if (asvc_refresh(s, NULL, ids, 1, false, true, &sum, &e) != 0)
                    log_kv(LOG_WARN, "event-driven refresh failed (the next pass retries)",
                           "campaign", ev->campaign_id, "error", e.msg, NULL);
            }
            protobuf_c_message_free_unpacked(msg, NULL);
            backoff = 500;
        }
        rpc_stream_close(st);
        if (failed) {
            log_kv(LOG_WARN, "reconciler events unavailable; retrying", "error", re.message, NULL);
            if (wait_until(s, mono_ms() + backoff))
                break;
            backoff = backoff < 30000 ? backoff * 2 : 30000;
        }
    }
    rds_thread_disconnect();
    return NULL;
}

int asvc_start_threads(asvc *s, char *err, size_t n)
{
    if (s->refresh_interval_ms || s->full_refresh_interval_ms) {
        if (pthread_create(&s->refresher, NULL, refresher_main, s) != 0) {
            snprintf(err, n, "cannot start the refresh thread");
            return -1;
        }
        s->refresher_started = true;
    }
    if (s->recon) {
        if (pthread_create(&s->listener, NULL, listener_main, s) != 0) {
            snprintf(err, n, "cannot start the reconciler event thread");
            return -1;
        }
        s->listener_started = true;
    }
    return 0;
}

void asvc_stop_threads(asvc *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->refresher_started)
        pthread_join(s->refresher, NULL);
    if (s->listener_started)
        pthread_join(s->listener, NULL);
    s->refresher_started = s->listener_started = false;
}
