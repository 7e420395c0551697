/*
 * One sync cycle of a pair (SPEC C2-C5, C8, C11): take the pair's lock (a
 * fencing token), check the preconditions, read both sides, plan with the
 * core, apply the plan in batches, emit the membership events, store the new
 * base, push the program's channel and cost to the campaign, and leave a
 * cycle record.
 *
 * Why it is safe to kill anywhere and run again:
 *   - before every batch the lock is extended and the token is checked
 *     against the highest token seen by the write side (rds_fence_check): a
 *     holder that lost its lock to a newer one stops with ABORTED before
 *     writing, and the base is stored by a script that refuses a stale token;
 *   - an applied item leaves its dedup key (the plan item's key, holding the
 *     created id for creations): a retry from the same base that plans the
 *     same item takes it as applied instead of writing again;
 *   - everything a crash may have half-done is visible in the next read (the
 *     member exists, the lead exists with that email), so the retry plans
 *     only what is still missing;
 *   - events carry a key made of the person, the change and the base version
 *     (not of which side the plan thinks made it), claimed with the append in
 *     one script: the change we carried to Salesforce, seen again as a
 *     Salesforce change after a crash, is the same event;
 *   - the base advances (in one fenced write, at the end) only for members
 *     whose every item was applied.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base_codec.h"
#include "hmap.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "recon_svc.h"
#include "redis/redis.h"

#define MAX_RECORD_ERRORS 1000 /* per cycle record; the counts stay exact */
#define LOCK_NAME "cycle"
#define FENCE_RESOURCE "writes"

typedef struct {
    rc_svc *s;
    const rc_cycle_opts *o;
    rc_pair pair;
    char scope[64];
    int64_t token;
    plan *pl;
    const smap *m;
    Campsync__V1__CycleRecord *rec;
    bool aborted;          /* the fence refused our token, or the lock was lost */
    bool interrupted;      /* shutdown or caller gone: stopped between batches */
    bool events_unwritten; /* an event append failed: the base must not advance */
    bool *emitted;         /* per plan event */
    int done, total;
    char abort_msg[700];
    bool was_quiet;  /* nothing changed: no read, no plan */
    int64_t seen_ms; /* changes up to here are in the base once this cycle succeeds */
    int64_t full_ms; /* when both sides were last read in full */
} cyc;

/* ---- cycle records ---- */

static Campsync__V1__CycleRecord *record_new(const rc_pair *p, int64_t token)
{
    Campsync__V1__CycleRecord *r = calloc(1, sizeof *r);
    Campsync__V1__CycleCounts *c = calloc(1, sizeof *c);
    if (!r || !c) {
        free(r);
        free(c);
        return NULL;
    }
    campsync__v1__cycle_record__init(r);
    campsync__v1__cycle_counts__init(c);
    r->counts = c;
    char id[64];
    r->started_at_ms = rc_now_ms();
    snprintf(id, sizeof id, "%" PRId64 "-%" PRId64, r->started_at_ms, token);
    r->id = strdup(id);
    r->program_id = p->program_id;
    r->campaign_id = strdup(p->campaign_id);
    r->status = strdup("In Process");
    r->message = strdup("");
    r->fencing_token = token;
    if (!r->id || !r->campaign_id || !r->status || !r->message) {
        campsync__v1__cycle_record__free_unpacked(r, NULL);
        return NULL;
    }
    return r;
}

/* Replaces a string field; an unset field points at protobuf-c's shared
 * empty string, which is not ours to free. */
static void record_set(char **field, const char *v)
{
    char *c = strdup(v ? v : "");
    if (c) {
        if (*field != protobuf_c_empty_string)
            free(*field);
        *field = c;
    }
}

static void record_error(Campsync__V1__CycleRecord *r, const char *person, const char *side,
                         const char *action, const char *code, const char *msg)
{
    if (r->n_errors >= MAX_RECORD_ERRORS)
        return;
    Campsync__V1__RecordError **v = realloc(r->errors, (r->n_errors + 1) * sizeof *v);
    if (!v)
        return;
    r->errors = v;
    Campsync__V1__RecordError *e = calloc(1, sizeof *e);
    if (!e)
        return;
    campsync__v1__record_error__init(e);
    e->person = strdup(person ? person : "");
    e->side = strdup(side ? side : "");
    e->action = strdup(action ? action : "");
    e->code = strdup(code ? code : "");
    e->message = strdup(msg ? msg : "");
    r->errors[r->n_errors++] = e;
}

static int record_key(char *out, size_t cap, const char *scope, const char *id)
{
    rds_err e = {0};
    return rds_key(out, cap, &e, scope, "cycle:%s", id);
}

static void record_store(const char *scope, const Campsync__V1__CycleRecord *r)
{
    size_t len = campsync__v1__cycle_record__get_packed_size(r);
    uint8_t *buf = malloc(len + 1);
    char key[200], zkey[160];
    rds_err e = {0};
    if (!buf || record_key(key, sizeof key, scope, r->id) != 0 ||
        rds_key(zkey, sizeof zkey, &e, scope, "cycles") != 0) {
        free(buf);
        return;
    }
    campsync__v1__cycle_record__pack(r, buf);
    if (rds_set(key, (const char *)buf, len ? len : 1, RC_CYCLE_TTL_S, &e) != 0)
        log_kv(LOG_WARN, "cycle record not stored", "error", e.msg, NULL);
    free(buf);
    redisReply *x = rds_command(1, &e, "ZADD %s %lld %s", zkey, (long long)r->started_at_ms, r->id);
    if (x)
        freeReplyObject(x);
    x = rds_command(1, &e, "ZREMRANGEBYSCORE %s -inf %lld", zkey,
                    (long long)(rc_now_ms() - (int64_t)RC_CYCLE_TTL_S * 1000));
    if (x)
        freeReplyObject(x);
    x = rds_command(1, &e, "EXPIRE %s %d", zkey, RC_CYCLE_TTL_S);
    if (x)
        freeReplyObject(x);
}

static Campsync__V1__CycleRecord *record_load(const char *scope, const char *id)
{
    char key[200];
    if (record_key(key, sizeof key, scope, id) != 0)
        return NULL;
    char *v = NULL;
    size_t len = 0;
    rds_err e = {0};
    if (rds_get(key, &v, &len, &e) != 0 || !v)
        return NULL;
    Campsync__V1__CycleRecord *r =
        campsync__v1__cycle_record__unpack(NULL, len == 1 && v[0] == 0 ? 0 : len, (uint8_t *)v);
    free(v);
    return r;
}

int rc_cycles_list(int64_t program_id, int limit, Campsync__V1__CycleRecord ***out, size_t *n,
                   rc_err *err)
{
    char scope[64], zkey[160];
    rds_err e = {0};
    *out = NULL;
    *n = 0;
    rc_pair_scope(program_id, scope, sizeof scope);
    if (rds_key(zkey, sizeof zkey, &e, scope, "cycles") != 0)
        return rc_fail(err, GRPC_STATUS_INTERNAL, "%s", e.msg);
    redisReply *r = rds_command(1, &e, "ZREVRANGE %s 0 %d", zkey, limit - 1);
    if (!r)
        return rc_fail(err, GRPC_STATUS_UNAVAILABLE, "redis (cycles): %s", e.msg);
    Campsync__V1__CycleRecord **v = calloc(r->elements + 1, sizeof *v);
    if (!v) {
        freeReplyObject(r);
        return rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        Campsync__V1__CycleRecord *c = record_load(scope, r->element[i]->str);
        if (c)
            v[(*n)++] = c;
    }
    freeReplyObject(r);
    *out = v;
    return 0;
}

/* A record left "In Process" by a holder that died is closed as Failed. */
static void close_interrupted(const char *scope)
{
    Campsync__V1__CycleRecord **v = NULL;
    size_t n = 0;
    int64_t pid = strtoll(scope + 5, NULL, 10);
    if (rc_cycles_list(pid, 1, &v, &n, NULL) != 0)
        return;
    if (n == 1 && strcmp(v[0]->status, "In Process") == 0) {
        record_set(&v[0]->status, "Failed");
        record_set(&v[0]->message,
                   "interrupted: the replica running it stopped before the end (a later cycle "
                   "finishes the work)");
        v[0]->finished_at_ms = rc_now_ms();
        record_store(scope, v[0]);
    }
    for (size_t i = 0; i < n; i++)
        campsync__v1__cycle_record__free_unpacked(v[i], NULL);
    free(v);
}

/* ---- base ---- */

static int base_load(const char *scope, base_state *b, bool *have)
{
    char key[160];
    rds_err e = {0};
    *have = false;
    if (rds_key(key, sizeof key, &e, scope, "base") != 0)
        return -1;
    char *v = NULL;
    size_t len = 0;
    if (rds_get(key, &v, &len, &e) != 0)
        return -1;
    if (!v)
        return 0;
    recon_err re = {0};
    if (base_decode(v, len, b, &re) == 0)
        *have = true;
    else
        log_kv(LOG_WARN, "stored base unreadable: syncing as if there were none (nothing removed)",
               "scope", scope, "error", re.msg, NULL);
    free(v);
    return 0;
}

static const char base_store_lua[] = "local seen = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
                                     "local t = tonumber(ARGV[1])\n"
                                     "if t < seen then return 0 end\n"
                                     "if t > seen then redis.call('SET', KEYS[1], ARGV[1]) end\n"
                                     "redis.call('SET', KEYS[2], ARGV[2])\n"
                                     "return 1\n";

/* 1 stored, 0 refused (stale token), -1 error. */
static int base_store(const char *scope, int64_t token, const unsigned char *data, size_t len,
                      char *why, size_t why_len)
{
    char fkey[160], bkey[160], tok[32];
    rds_err e = {0};
    if (rds_key(fkey, sizeof fkey, &e, scope, "fenced:%s", FENCE_RESOURCE) != 0 ||
        rds_key(bkey, sizeof bkey, &e, scope, "base") != 0) {
        snprintf(why, why_len, "%s", e.msg);
        return -1;
    }
    snprintf(tok, sizeof tok, "%" PRId64, token);
    const char *argv[] = {"EVAL", base_store_lua, "2", fkey, bkey, tok, (const char *)data};
    size_t lens[] = {4, strlen(base_store_lua), 1, strlen(fkey), strlen(bkey), strlen(tok), len};
    redisReply *r = rds_command_argv(1, 7, argv, lens, &e);
    if (!r) {
        snprintf(why, why_len, "%s", e.msg);
        return -1;
    }
    int rc = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 1 : 0;
    freeReplyObject(r);
    return rc;
}

/* ---- guards ---- */

static bool stopping(cyc *c)
{
    if (__atomic_load_n(&c->s->stop, __ATOMIC_RELAXED))
        return true;
    return c->o->parent && rpc_call_cancelled(c->o->parent);
}

/* Before every write: still the lock holder, token not stale. A batch is
 * not started once shutdown began; the base (final) is still stored. */
static int guard_write(cyc *c, bool final)
{
    if (c->aborted)
        return -1;
    if (!final && stopping(c)) {
        c->interrupted = true;
        return -1;
    }
    rds_err e = {0};
    int held = 0, accepted = 0;
    int64_t highest = 0;
    if (rds_lock_extend(c->scope, LOCK_NAME, c->token, c->s->lock_ttl_ms, &held, &e) != 0) {
        snprintf(c->abort_msg, sizeof c->abort_msg, "redis unreachable (lock): %s", e.msg);
        c->aborted = true;
        return -1;
    }
    if (rds_fence_check(c->scope, FENCE_RESOURCE, c->token, &accepted, &highest, &e) != 0) {
        snprintf(c->abort_msg, sizeof c->abort_msg, "redis unreachable (fence): %s", e.msg);
        c->aborted = true;
        return -1;
    }
    if (accepted && !held) {
        /* The lock expired (a slow batch) but no newer holder has written:
         * take it again if it is free; the new token is higher, and the
         * fence records it, so a replica that held it meanwhile is stale. */
        int64_t again = 0;
        if (rds_lock_acquire(c->scope, LOCK_NAME, c->s->lock_ttl_ms, &again, &e) == 0 &&
            again > 0 &&
            rds_fence_check(c->scope, FENCE_RESOURCE, again, &accepted, &highest, &e) == 0 &&
            accepted) {
            log_kv(LOG_WARN, "pair lock expired mid-cycle and was taken again", "pair", c->scope,
                   NULL);
            c->token = again;
            c->rec->fencing_token = again;
            return 0;
        }
        if (again > 0) {
            int released = 0;
            rds_lock_release(c->scope, LOCK_NAME, again, &released, &e);
        }
        accepted = 0;
    }
    if (!accepted || !held) {
        snprintf(c->abort_msg, sizeof c->abort_msg,
                 "ABORTED: lost the pair's lock (token %" PRId64 ", highest seen %" PRId64
                 "): another replica took over; nothing more written by this one",
                 c->token, highest);
        c->aborted = true;
        return -1;
    }
    return 0;
}

static int guard(cyc *c)
{
    return guard_write(c, false);
}

/* ---- events ---- */

/* The Salesforce person an event names: the one the campaign member has. */
static const char *event_person(const plan_member *m)
{
    return m->created_sf_id ? m->created_sf_id : m->sf_person_id;
}

/* Emits the events of the applied Salesforce writes among idx (plan event
 * indexes), once each; what Salesforce already showed was emitted by
 * observe_events before any write. */
static void emit_events(cyc *c, const size_t *idx, size_t n)
{
    rc_change *ch = calloc(n + 1, sizeof *ch);
    size_t *which = calloc(n + 1, sizeof *which);
    size_t k = 0;
    if (!ch || !which) {
        c->events_unwritten = true;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t ei = idx[i];
        const plan_event *pe = &c->pl->events[ei];
        const plan_member *m = &c->pl->members[pe->member];
        if (c->emitted[ei] || pe->item < 0 || c->pl->items[pe->item].state != PLAN_APPLIED ||
            !event_person(m))
            continue;
        ch[k] = (rc_change){
            .lead_id = m->lead_id,
            .person = event_person(m),
            .new_status = pe->type == PLAN_EV_REMOVED ? NULL : smap_name(c->m, pe->new_status),
            .source = pe->source,
        };
        which[k++] = ei;
    }
    rc_err err = {0};
    if (rc_events_emit(&c->pair, ch, k, rc_now_ms(), NULL, &err) != 0) {
        log_kv(LOG_WARN, "events not emitted (the next cycle emits them)", "error", err.msg, NULL);
        c->events_unwritten = true;
        goto out;
    }
    for (size_t i = 0; i < k; i++)
        c->emitted[which[i]] = true;
out:
    free(ch);
    free(which);
}

/* Before any write: the changes the read saw in Salesforce become events
 * (see rc_events_observe). lead_of pairs each campaign member with the
 * Marketo lead the plan matched it to. */
static int observe_events(cyc *c, const rc_read *rd, rc_err *err)
{
    const people_input *in = &rd->people;
    int64_t *lead_of = calloc(in->n_sf_members + 1, sizeof *lead_of);
    hmap by_person = {0};
    int rc = -1;
    if (!lead_of || hmap_init(&by_person, in->n_sf_members) != 0) {
        rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    for (size_t j = 0; j < in->n_sf_members; j++) {
        const char *pid = in->sf_members[j].person_id;
        if (pid && pid[0] && hmap_put(&by_person, pid, strlen(pid), (uint32_t)j, NULL) < 0) {
            rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < c->pl->n_members; i++) {
        const plan_member *m = &c->pl->members[i];
        uint32_t j;
        if (m->lead_id && m->sf_person_id &&
            hmap_get(&by_person, m->sf_person_id, strlen(m->sf_person_id), &j))
            lead_of[j] = m->lead_id;
    }
    size_t appended = 0;
    rc = rc_events_observe(&c->pair, in->sf_members, in->n_sf_members, lead_of,
                           rd->partial ? rd->people_read : NULL, rd->n_people_read, rc_now_ms(),
                           &appended, err);
    if (rc == 0 && appended)
        log_kv(LOG_INFO, "salesforce changes emitted as events", "pair", c->scope, NULL);
out:
    hmap_free(&by_person);
    free(lead_of);
    return rc;
}

/* ---- applying ---- */

static void item_person(const plan *pl, const plan_item *it, char *buf, size_t cap)
{
    const plan_member *m = &pl->members[it->member];
    if (it->side == MERGE_SIDE_MARKETO && m->lead_id)
        snprintf(buf, cap, "%" PRId64, m->lead_id);
    else if (m->created_sf_id || m->sf_person_id)
        snprintf(buf, cap, "%s", m->created_sf_id ? m->created_sf_id : m->sf_person_id);
    else if (m->lead_id)
        snprintf(buf, cap, "%" PRId64, m->lead_id);
    else
        snprintf(buf, cap, "%s", m->email ? m->email : "?");
}

static void fail_item(cyc *c, size_t i, const char *code, const char *reason)
{
    plan_item *it = &c->pl->items[i];
    char person[128];
    item_person(c->pl, it, person, sizeof person);
    recon_err re = {0};
    plan_mark_failed(c->pl, i, reason, &re);
    record_error(c->rec, person, plan_side_name(it->side), plan_action_name(it->action), code,
                 reason);
}

static void done_key(cyc *c, size_t i, char *out, size_t cap)
{
    rds_err e = {0};
    rds_key(out, cap, &e, c->scope, "done:%s", c->pl->items[i].dedup_key);
}

/* Items a retry already applied: marked applied again from their keys. */
static void take_done(cyc *c, size_t *idx, size_t *n)
{
    const char **argv = calloc(*n + 1, sizeof *argv);
    char(*keys)[160] = calloc(*n, sizeof *keys);
    if (!argv || !keys) {
        free(argv);
        free(keys);
        return;
    }
    argv[0] = "MGET";
    for (size_t i = 0; i < *n; i++) {
        done_key(c, idx[i], keys[i], sizeof keys[i]);
        argv[i + 1] = keys[i];
    }
    rds_err e = {0};
    redisReply *r = rds_command_argv(1, (int)*n + 1, argv, NULL, &e);
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        const redisReply *v =
            r && r->type == REDIS_REPLY_ARRAY && i < r->elements ? r->element[i] : NULL;
        const plan_item *it = &c->pl->items[idx[i]];
        bool creation = it->action == PLAN_CREATE_LEAD || it->action == PLAN_CREATE_PERSON;
        recon_err re = {0};
        if (v && v->type == REDIS_REPLY_STRING &&
            plan_mark_applied(c->pl, idx[i], creation ? v->str : NULL, &re) == 0)
            continue;
        idx[kept++] = idx[i];
    }
    if (r)
        freeReplyObject(r);
    *n = kept;
    free(argv);
    free(keys);
}

static const char done_lua[] = "local ttl = ARGV[#ARGV]\n"
                               "for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i], 'EX', ttl) "
                               "end\n"
                               "return #KEYS\n";

/* After a batch: dedup keys of what was applied, then its ready events. */
static void after_batch(cyc *c, const size_t *idx, size_t n)
{
    const char **keys = calloc(n + 1, sizeof *keys);
    const char **args = calloc(n + 2, sizeof *args);
    char(*kb)[160] = calloc(n + 1, sizeof *kb);
    char(*vb)[32] = calloc(n + 1, sizeof *vb);
    size_t *evs = calloc(n + 1, sizeof *evs);
    size_t k = 0, ne = 0;
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", RC_DONE_TTL_S);
    if (!keys || !args || !kb || !vb || !evs)
        goto out;
    for (size_t i = 0; i < n; i++) {
        plan_item *it = &c->pl->items[idx[i]];
        if (it->state != PLAN_APPLIED)
            continue;
        const plan_member *m = &c->pl->members[it->member];
        done_key(c, idx[i], kb[k], sizeof kb[k]);
        keys[k] = kb[k];
        if (it->action == PLAN_CREATE_LEAD)
            snprintf(vb[k], sizeof vb[k], "%s", m->created_sf_id ? m->created_sf_id : "");
        else if (it->action == PLAN_CREATE_PERSON)
            snprintf(vb[k], sizeof vb[k], "%" PRId64, m->lead_id);
        else
            snprintf(vb[k], sizeof vb[k], "1");
        args[k] = vb[k];
        k++;
        if (it->event >= 0)
            evs[ne++] = (size_t)it->event;
    }
    if (k > 0) {
        args[k] = ttl;
        rds_err e = {0};
        redisReply *r = rds_eval(done_lua, 1, (int)k, keys, (int)k + 1, args, &e);
        if (r)
            freeReplyObject(r);
        else
            log_kv(LOG_WARN, "dedup keys not stored", "error", e.msg, NULL);
    }
    emit_events(c, evs, ne);
out:
    free(keys);
    free(args);
    free(kb);
    free(vb);
    free(evs);
}

/* Applies one result of a batch to item i. */
static void take_result(cyc *c, size_t i, const Campsync__V1__RecordResult *r)
{
    plan_item *it = &c->pl->items[i];
    recon_err re = {0};
    if (!r) {
        fail_item(c, i, "", "the connector returned no result for this record");
        return;
    }
    switch (r->outcome) {
    case CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED:
    case CAMPSYNC__V1__OUTCOME__OUTCOME_UNSPECIFIED: {
        char why[600];
        snprintf(why, sizeof why, "%s%s%s", r->code ? r->code : "",
                 r->code && r->code[0] ? ": " : "", r->reason ? r->reason : "refused");
        fail_item(c, i, r->code, why);
        return;
    }
    default:
        break;
    }
    if (it->action == PLAN_CREATE_LEAD || it->action == PLAN_CREATE_PERSON) {
        if (!r->id || !r->id[0]) {
            fail_item(c, i, r->code, "the vendor created the person but returned no id");
            return;
        }
        if (plan_mark_applied(c->pl, i, r->id, &re) != 0)
            fail_item(c, i, "", re.msg);
        return;
    }
    /* SKIPPED: already a member (DUPLICATE_VALUE), already in or past the
     * status (1037) or not a member any more: the side already holds the
     * state, which the next read confirms. */
    if (plan_mark_applied(c->pl, i, NULL, &re) != 0)
        fail_item(c, i, "", re.msg);
}

static const Campsync__V1__RecordResult *result_at(const Campsync__V1__BatchResult *br, size_t j)
{
    for (size_t k = 0; k < br->n_results; k++)
        if ((size_t)br->results[k]->index == j)
            return br->results[k];
    return j < br->n_results ? br->results[j] : NULL;
}

static void take_batch(cyc *c, const size_t *idx, size_t n, ProtobufCMessage *out, int rc,
                       const rc_err *err, bool mkto)
{
    if (rc != 0) {
        char code[16];
        snprintf(code, sizeof code, "%s", rpc_status_name(err->code));
        for (size_t j = 0; j < n; j++)
            fail_item(c, idx[j], code, err->msg);
        return;
    }
    const Campsync__V1__BatchResult *br = (const void *)out;
    if (mkto)
        c->rec->api_calls_marketo += br->api_calls ? br->api_calls : 1;
    else
        c->rec->api_calls_salesforce += br->api_calls ? br->api_calls : 1;
    for (size_t j = 0; j < n; j++)
        take_result(c, idx[j], result_at(br, j));
    protobuf_c_message_free_unpacked(out, NULL);
}

static bool is_contact(const plan_member *m, const char *id)
{
    if (m->sf_person && m->sf_person->id == id)
        return m->sf_person->kind == PEOPLE_SF_CONTACT;
    return strncmp(id, "003", 3) == 0;
}

static void send_batch(cyc *c, plan_action action, merge_side_id side, int to, size_t *idx,
                       size_t n)
{
    plan *pl = c->pl;
    ProtobufCMessage *out = NULL;
    rc_err err = {0};
    int rc = 0;
    if (side == MERGE_SIDE_SALESFORCE && action == PLAN_CREATE_LEAD) {
        Campsync__V1__Person *ps = calloc(n, sizeof *ps);
        Campsync__V1__Person **pp = calloc(n, sizeof *pp);
        if (!ps || !pp) {
            free(ps);
            free(pp);
            return;
        }
        for (size_t j = 0; j < n; j++) {
            plan_person_fields f = {0};
            recon_err re = {0};
            campsync__v1__person__init(&ps[j]);
            plan_create_fields(pl, idx[j], &f, &re);
            ps[j].kind = "Lead";
            ps[j].email = (char *)(f.email ? f.email : "");
            ps[j].first_name = (char *)(f.first_name ? f.first_name : "");
            ps[j].last_name = (char *)(f.last_name ? f.last_name : PLAN_NOT_PROVIDED);
            ps[j].company = (char *)(f.company ? f.company : PLAN_NOT_PROVIDED);
            pp[j] = &ps[j];
        }
        Campsync__V1__CreateLeadsRequest rq = CAMPSYNC__V1__CREATE_LEADS_REQUEST__INIT;
        rq.leads = pp;
        rq.n_leads = n;
        rc = rc_sf_call(c->s, c->o->parent, "CreateLeads", &rq.base, &out, &err);
        free(ps);
        free(pp);
    } else if (side == MERGE_SIDE_MARKETO && action == PLAN_CREATE_PERSON) {
        Campsync__V1__Lead *ls = calloc(n, sizeof *ls);
        Campsync__V1__Lead **lp = calloc(n, sizeof *lp);
        if (!ls || !lp) {
            free(ls);
            free(lp);
            return;
        }
        for (size_t j = 0; j < n; j++) {
            plan_person_fields f = {0};
            recon_err re = {0};
            campsync__v1__lead__init(&ls[j]);
            plan_create_fields(pl, idx[j], &f, &re);
            ls[j].email = (char *)(f.email ? f.email : "");
            ls[j].first_name = (char *)(f.first_name ? f.first_name : "");
            ls[j].last_name = (char *)(f.last_name ? f.last_name : "");
            ls[j].company = (char *)(f.company ? f.company : "");
            lp[j] = &ls[j];
        }
        Campsync__V1__UpsertLeadsRequest rq = CAMPSYNC__V1__UPSERT_LEADS_REQUEST__INIT;
        rq.leads = lp;
        rq.n_leads = n;
        rc = rc_mkto_call(c->s, c->o->parent, "UpsertLeads", &rq.base, &out, &err);
        free(ls);
        free(lp);
    } else if (side == MERGE_SIDE_SALESFORCE && action == PLAN_ADD) {
        Campsync__V1__NewMember *ms = calloc(n, sizeof *ms);
        Campsync__V1__NewMember **mp = calloc(n, sizeof *mp);
        if (!ms || !mp) {
            free(ms);
            free(mp);
            return;
        }
        for (size_t j = 0; j < n; j++) {
            const plan_item *it = &pl->items[idx[j]];
            const plan_member *m = &pl->members[it->member];
            const char *pid = m->created_sf_id ? m->created_sf_id : m->sf_person_id;
            campsync__v1__new_member__init(&ms[j]);
            if (pid && is_contact(m, pid))
                ms[j].contact_id = (char *)pid;
            else
                ms[j].lead_id = (char *)(pid ? pid : "");
            ms[j].status = (char *)smap_name(c->m, it->to_status);
            mp[j] = &ms[j];
        }
        Campsync__V1__AddMembersRequest rq = CAMPSYNC__V1__ADD_MEMBERS_REQUEST__INIT;
        rq.campaign_id = c->pair.campaign_id;
        rq.members = mp;
        rq.n_members = n;
        rc = rc_sf_call(c->s, c->o->parent, "AddMembers", &rq.base, &out, &err);
        free(ms);
        free(mp);
    } else if (side == MERGE_SIDE_SALESFORCE && action == PLAN_STATUS) {
        Campsync__V1__MemberStatusChange *ch = calloc(n, sizeof *ch);
        Campsync__V1__MemberStatusChange **cp = calloc(n, sizeof *cp);
        if (!ch || !cp) {
            free(ch);
            free(cp);
            return;
        }
        for (size_t j = 0; j < n; j++) {
            const plan_item *it = &pl->items[idx[j]];
            campsync__v1__member_status_change__init(&ch[j]);
            ch[j].member_id = (char *)pl->members[it->member].sf_member_id;
            ch[j].status = (char *)smap_name(c->m, it->to_status);
            cp[j] = &ch[j];
        }
        Campsync__V1__UpdateMemberStatusRequest rq =
            CAMPSYNC__V1__UPDATE_MEMBER_STATUS_REQUEST__INIT;
        rq.changes = cp;
        rq.n_changes = n;
        rc = rc_sf_call(c->s, c->o->parent, "UpdateMemberStatus", &rq.base, &out, &err);
        free(ch);
        free(cp);
    } else if (side == MERGE_SIDE_SALESFORCE && action == PLAN_REMOVE) {
        char **ids = calloc(n, sizeof *ids);
        if (!ids)
            return;
        for (size_t j = 0; j < n; j++)
            ids[j] = (char *)pl->members[pl->items[idx[j]].member].sf_member_id;
        Campsync__V1__RemoveCampaignMembersRequest rq =
            CAMPSYNC__V1__REMOVE_CAMPAIGN_MEMBERS_REQUEST__INIT;
        rq.member_ids = ids;
        rq.n_member_ids = n;
        rc = rc_sf_call(c->s, c->o->parent, "RemoveMembers", &rq.base, &out, &err);
        free(ids);
    } else {
        int64_t *ids = calloc(n, sizeof *ids);
        if (!ids)
            return;
        for (size_t j = 0; j < n; j++)
            ids[j] = pl->members[pl->items[idx[j]].member].lead_id;
        if (action == PLAN_REMOVE) {
            Campsync__V1__RemoveMembersRequest rq = CAMPSYNC__V1__REMOVE_MEMBERS_REQUEST__INIT;
            rq.program_id = c->pair.program_id;
            rq.lead_ids = ids;
            rq.n_lead_ids = n;
            rc = rc_mkto_call(c->s, c->o->parent, "RemoveMembers", &rq.base, &out, &err);
        } else {
            Campsync__V1__SetMemberStatusRequest rq = CAMPSYNC__V1__SET_MEMBER_STATUS_REQUEST__INIT;
            rq.program_id = c->pair.program_id;
            rq.status_name = (char *)smap_name(c->m, to);
            rq.lead_ids = ids;
            rq.n_lead_ids = n;
            rc = rc_mkto_call(c->s, c->o->parent, "SetMemberStatus", &rq.base, &out, &err);
        }
        free(ids);
    }
    take_batch(c, idx, n, out, rc, &err, side == MERGE_SIDE_MARKETO);
}

typedef struct {
    merge_side_id side;
    plan_action action;
    bool by_status; /* Marketo adds and status changes: one call per target status */
} group;

static void apply_group(cyc *c, const group *g, int to)
{
    plan *pl = c->pl;
    size_t *idx = calloc(pl->n_items + 1, sizeof *idx);
    if (!idx)
        return;
    size_t n = 0;
    for (size_t i = 0; i < pl->n_items; i++) {
        const plan_item *it = &pl->items[i];
        if (it->state != PLAN_PENDING || it->side != g->side)
            continue;
        plan_action a = it->action;
        if (g->side == MERGE_SIDE_MARKETO && g->by_status)
            a = a == PLAN_STATUS ? PLAN_ADD : a;
        if (a != g->action || (g->by_status && it->to_status != to))
            continue;
        if (it->depends_on >= 0 && pl->items[it->depends_on].state != PLAN_APPLIED)
            continue;
        idx[n++] = i;
    }
    size_t batch = (size_t)(g->side == MERGE_SIDE_MARKETO ? c->s->mkto_batch : c->s->sf_batch);
    for (size_t off = 0; off < n; off += batch) {
        size_t len = n - off < batch ? n - off : batch;
        if (guard(c) != 0)
            break;
        size_t left = len;
        take_done(c, idx + off, &left);
        if (left > 0)
            send_batch(c, g->action, g->side, to, idx + off, left);
        after_batch(c, idx + off, left);
        c->done += (int)len;
        if (c->o->progress)
            c->o->progress(c->o->progress_user, "apply", c->done, c->total);
    }
    free(idx);
}

static void apply_plan(cyc *c)
{
    static const group creations[] = {
        {MERGE_SIDE_SALESFORCE, PLAN_CREATE_LEAD, false},
        {MERGE_SIDE_MARKETO, PLAN_CREATE_PERSON, false},
    };
    static const group writes[] = {
        {MERGE_SIDE_SALESFORCE, PLAN_REMOVE, false},
        {MERGE_SIDE_SALESFORCE, PLAN_ADD, false},
        {MERGE_SIDE_SALESFORCE, PLAN_STATUS, false},
        {MERGE_SIDE_MARKETO, PLAN_REMOVE, false},
    };
    c->total = (int)c->pl->n_items;
    for (size_t g = 0; g < 2; g++)
        apply_group(c, &creations[g], -1);
    for (size_t g = 0; g < 4; g++)
        apply_group(c, &writes[g], -1);
    /* Marketo adds and status moves, lowest target first. */
    group mk = {MERGE_SIDE_MARKETO, PLAN_ADD, true};
    for (int to = 0; to < (int)smap_count(c->m); to++)
        apply_group(c, &mk, to);
}

/* C2: the program's channel and cost, one way to the campaign. */
static void push_fields(cyc *c, const Campsync__V1__Program *prog)
{
    if (c->aborted || c->interrupted)
        return;
    Campsync__V1__GetCampaignsRequest gq = CAMPSYNC__V1__GET_CAMPAIGNS_REQUEST__INIT;
    char *ids[] = {c->pair.campaign_id};
    gq.ids = ids;
    gq.n_ids = 1;
    ProtobufCMessage *msg = NULL;
    rc_err err = {0};
    if (rc_sf_call(c->s, c->o->parent, "GetCampaigns", &gq.base, &msg, &err) != 0) {
        record_error(c->rec, c->pair.campaign_id, "salesforce", "campaign_fields", "", err.msg);
        return;
    }
    c->rec->api_calls_salesforce++;
    const Campsync__V1__CampaignList *cl = (const void *)msg;
    int64_t cost = 0;
    for (size_t i = 0; i < prog->n_costs; i++)
        cost += prog->costs[i]->cost_minor;
    const char *type = rc_type_for_channel(c->s, prog->channel);
    if (cl->n_campaigns == 1) {
        const Campsync__V1__Campaign *cp = cl->campaigns[0];
        Campsync__V1__CampaignUpdate u = CAMPSYNC__V1__CAMPAIGN_UPDATE__INIT;
        Campsync__V1__OptString t = CAMPSYNC__V1__OPT_STRING__INIT;
        Campsync__V1__OptInt64 a = CAMPSYNC__V1__OPT_INT64__INIT;
        u.id = c->pair.campaign_id;
        if (strcmp(cp->type ? cp->type : "", type) != 0) {
            t.value = (char *)type;
            u.type = &t;
        }
        if (cp->actual_cost_minor != cost) {
            a.value = cost;
            u.actual_cost_minor = &a;
        }
        if ((u.type || u.actual_cost_minor) && guard(c) == 0) {
            Campsync__V1__CampaignUpdate *up[] = {&u};
            Campsync__V1__UpdateCampaignsRequest rq = CAMPSYNC__V1__UPDATE_CAMPAIGNS_REQUEST__INIT;
            rq.updates = up;
            rq.n_updates = 1;
            ProtobufCMessage *out = NULL;
            if (rc_sf_call(c->s, c->o->parent, "UpdateCampaigns", &rq.base, &out, &err) != 0) {
                record_error(c->rec, c->pair.campaign_id, "salesforce", "campaign_fields", "",
                             err.msg);
            } else {
                const Campsync__V1__BatchResult *br = (const void *)out;
                if (br->n_results == 1 &&
                    br->results[0]->outcome == CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED)
                    record_error(c->rec, c->pair.campaign_id, "salesforce", "campaign_fields",
                                 br->results[0]->code, br->results[0]->reason);
                c->rec->api_calls_salesforce++;
                protobuf_c_message_free_unpacked(out, NULL);
            }
        }
    }
    protobuf_c_message_free_unpacked(msg, NULL);
}

/* ---- quiet cycles ---- */

#define PROBE_MARGIN_MS 1500 /* whole-second activity dates, vendor clock drift */

static int watermark_key(const cyc *c, char *out, size_t cap)
{
    rds_err e = {0};
    return rds_key(out, cap, &e, c->scope, "watermark");
}

/* After a Succeeded cycle: changes up to `seen_ms` are in the base. Any
 * other outcome forgets it, so the next cycle reads in full. */
static void watermark_set(const cyc *c, bool ok, int64_t seen_ms, int64_t full_ms)
{
    char key[160], val[64];
    rds_err e = {0};
    if (watermark_key(c, key, sizeof key) != 0)
        return;
    if (!ok) {
        rds_del(key, NULL, &e);
        return;
    }
    snprintf(val, sizeof val, "%" PRId64 " %" PRId64, seen_ms, full_ms);
    rds_set(key, val, 0, 7 * 86400, &e);
}

/* What the change probes found since the last Succeeded cycle. */
typedef struct {
    int64_t *leads; /* Marketo leads with status activity in the program */
    size_t n_leads, cap_leads;
    char **people; /* Salesforce people whose campaign member changed (owned) */
    size_t n_people, cap_people;
    size_t limit;  /* more people than this: a full read costs less */
    int max_pages; /* activity pages beyond this: likewise */
    bool over;     /* a limit was passed */
} probe_set;

static void probe_free(probe_set *ps)
{
    for (size_t i = 0; i < ps->n_people; i++)
        free(ps->people[i]);
    free(ps->people);
    free(ps->leads);
    memset(ps, 0, sizeof *ps);
}

static int probe_add_lead(probe_set *ps, int64_t id)
{
    if (ps->n_leads == ps->cap_leads) {
        size_t cap = ps->cap_leads ? 2 * ps->cap_leads : 64;
        int64_t *v = realloc(ps->leads, cap * sizeof *v);
        if (!v)
            return -1;
        ps->leads = v;
        ps->cap_leads = cap;
    }
    ps->leads[ps->n_leads++] = id;
    return 0;
}

static int probe_add_person(probe_set *ps, const char *id)
{
    if (!id || !id[0])
        return 0;
    if (ps->n_people == ps->cap_people) {
        size_t cap = ps->cap_people ? 2 * ps->cap_people : 64;
        char **v = realloc(ps->people, cap * sizeof *v);
        if (!v)
            return -1;
        ps->people = v;
        ps->cap_people = cap;
    }
    if (!(ps->people[ps->n_people] = strdup(id)))
        return -1;
    ps->n_people++;
    return 0;
}

/* Collects the changed people of one probe stream into ps (stopping once a
 * limit is passed). 0, or -1 when the stream failed. */
static int probe_stream(cyc *c, bool mkto, const char *method, const ProtobufCMessage *rq,
                        probe_set *ps)
{
    rpc_error e = {0};
    rpc_call_opts o = {.parent = c->o->parent, .timeout_ms = c->s->call_timeout_ms};
    rpc_stream *st = NULL;
    if (rpc_stream_open(mkto ? c->s->mkto : c->s->sf,
                        mkto ? &campsync__v1__marketo_connector__descriptor
                             : &campsync__v1__salesforce_connector__descriptor,
                        method, rq, &o, &st, &e) != 0)
        return -1;
    int n = 0, pages = 0, rc = 0;
    ProtobufCMessage *m = NULL;
    while (!ps->over && (n = rpc_stream_next(st, &m, &e)) == 1) {
        if (mkto) {
            c->rec->api_calls_marketo++;
            const Campsync__V1__ActivityPage *p = (const void *)m;
            for (size_t i = 0; i < p->n_activities && rc == 0; i++)
                if (p->activities[i]->primary_attribute_value_id == c->pair.program_id)
                    rc = probe_add_lead(ps, p->activities[i]->lead_id);
            ps->over = ps->over || ++pages > ps->max_pages;
        } else {
            c->rec->api_calls_salesforce++;
            const Campsync__V1__CampaignMemberPage *p = (const void *)m;
            for (size_t i = 0; i < p->n_members && rc == 0; i++)
                rc = probe_add_person(ps, p->members[i]->contact_id) ||
                     probe_add_person(ps, p->members[i]->lead_id);
        }
        protobuf_c_message_free_unpacked(m, NULL);
        ps->over = ps->over || ps->n_leads + ps->n_people > ps->limit;
        if (rc != 0)
            break;
    }
    rpc_stream_close(st);
    return rc != 0 || (!ps->over && n < 0) ? -1 : 0;
}

typedef enum { READ_FULL = 0, READ_NONE = 1, READ_PARTIAL = 2 } read_kind;

static const char *read_name(read_kind k)
{
    return k == READ_NONE ? "none" : k == READ_PARTIAL ? "partial" : "full";
}

/*
 * Since the last Succeeded cycle, with no full read due: READ_NONE when
 * neither side changed the pair's membership (the cycle needs no read),
 * READ_PARTIAL when only a few people did (ps names them: Marketo leads
 * with status-in-progression activity in the program, Salesforce people
 * whose campaign member was modified or deleted), else READ_FULL.
 * Anything the probes cannot see (a removal from a Marketo program that
 * left no activity, a person's email changed) is seen by the full reads,
 * at least every full_read_ms.
 */
static read_kind probe(cyc *c, const base_state *base, int64_t *probe_ms, probe_set *ps)
{
    char key[160];
    char *val = NULL;
    rds_err e = {0};
    *probe_ms = rc_now_ms();
    if (c->o->full || c->s->full_read_ms <= 0 || !base || watermark_key(c, key, sizeof key) != 0 ||
        rds_get(key, &val, NULL, &e) != 0 || !val)
        return READ_FULL;
    long long seen = 0, full = 0;
    int ok = sscanf(val, "%lld %lld", &seen, &full) == 2;
    free(val);
    if (!ok || *probe_ms - full >= c->s->full_read_ms || seen <= PROBE_MARGIN_MS)
        return READ_FULL;
    ps->limit = base->n_entries / 10 > 100 ? base->n_entries / 10 : 100;
    ps->max_pages = base->n_entries / 300 > 5 ? (int)(base->n_entries / 300) : 5;
    Campsync__V1__StreamCampaignMembersRequest sq =
        CAMPSYNC__V1__STREAM_CAMPAIGN_MEMBERS_REQUEST__INIT;
    sq.campaign_id = c->pair.campaign_id;
    sq.since_ms = seen - PROBE_MARGIN_MS;
    sq.include_deleted = true;
    char *types[] = {"Change Status in Progression"};
    Campsync__V1__StreamActivitiesRequest aq = CAMPSYNC__V1__STREAM_ACTIVITIES_REQUEST__INIT;
    aq.since_ms = seen - PROBE_MARGIN_MS;
    aq.activity_types = types;
    aq.n_activity_types = 1;
    if (probe_stream(c, false, "StreamCampaignMembers", &sq.base, ps) != 0 ||
        (!ps->over && probe_stream(c, true, "StreamActivities", &aq.base, ps) != 0)) {
        log_kv(LOG_INFO, "probe failed: full read", "pair", c->scope, NULL);
        return READ_FULL;
    }
    if (ps->over) {
        log_kv(LOG_INFO, "many members changed: full read", "pair", c->scope, NULL);
        return READ_FULL;
    }
    c->full_ms = full;
    return ps->n_leads + ps->n_people == 0 ? READ_NONE : READ_PARTIAL;
}

/* ---- dry run ---- */

static Campsync__V1__SyncPlan *plan_to_proto(const plan *pl, const smap *m)
{
    Campsync__V1__SyncPlan *sp = calloc(1, sizeof *sp);
    if (!sp)
        return NULL;
    campsync__v1__sync_plan__init(sp);
    sp->changes = calloc(pl->n_items + 1, sizeof *sp->changes);
    sp->skipped = calloc(pl->n_notes + 1, sizeof *sp->skipped);
    if (!sp->changes || !sp->skipped) {
        campsync__v1__sync_plan__free_unpacked(sp, NULL);
        return NULL;
    }
    for (size_t i = 0; i < pl->n_items; i++) {
        const plan_item *it = &pl->items[i];
        Campsync__V1__PlannedChange *ch = calloc(1, sizeof *ch);
        if (!ch)
            break;
        campsync__v1__planned_change__init(ch);
        char person[128];
        item_person(pl, it, person, sizeof person);
        ch->side = strdup(plan_side_name(it->side));
        ch->action = strdup(plan_action_name(it->action));
        ch->person = strdup(person);
        ch->from_status = strdup(smap_name(m, it->from_status));
        ch->to_status = strdup(smap_name(m, it->to_status));
        const char *why = it->why == MERGE_WHY_CONFLICT  ? "conflict settled by policy"
                          : it->why == MERGE_WHY_NO_BASE ? "no base: union, higher status"
                          : it->why == MERGE_WHY_REJECT_BACKWARD
                              ? "backward Salesforce change set back"
                          : it->why == MERGE_WHY_SF_CHANGE ? "Salesforce change"
                                                           : "Marketo change";
        ch->note = strdup(why);
        sp->changes[sp->n_changes++] = ch;
    }
    for (size_t i = 0; i < pl->n_notes; i++) {
        const plan_note *n = &pl->notes[i];
        if (n->kind == PLAN_NOTE_CONFLICT)
            sp->conflicts++;
        if (n->kind != PLAN_NOTE_SKIPPED)
            continue;
        Campsync__V1__RecordError *e = calloc(1, sizeof *e);
        if (!e)
            break;
        campsync__v1__record_error__init(e);
        char person[128];
        if (n->lead_id)
            snprintf(person, sizeof person, "%" PRId64, n->lead_id);
        else
            snprintf(person, sizeof person, "%s", n->sf_id ? n->sf_id : "");
        e->person = strdup(person);
        e->side = strdup(n->mkto ? "marketo" : "salesforce");
        e->action = strdup("skip");
        e->code = strdup("SKIPPED");
        e->message = strdup(n->message ? n->message : "");
        sp->skipped[sp->n_skipped++] = e;
    }
    return sp;
}

/* ---- the cycle ---- */

static void notes_to_record(cyc *c)
{
    for (size_t i = 0; i < c->pl->n_notes; i++) {
        const plan_note *n = &c->pl->notes[i];
        char person[128];
        if (n->lead_id)
            snprintf(person, sizeof person, "%" PRId64, n->lead_id);
        else
            snprintf(person, sizeof person, "%s", n->sf_id ? n->sf_id : "");
        const char *code = n->kind == PLAN_NOTE_CONFLICT   ? "CONFLICT"
                           : n->kind == PLAN_NOTE_REJECTED ? "REJECTED_BACKWARD"
                                                           : "SKIPPED";
        const char *side = n->kind == PLAN_NOTE_SKIPPED && n->mkto ? "marketo" : "salesforce";
        record_error(c->rec, person, side, n->kind == PLAN_NOTE_SKIPPED ? "skip" : "merge", code,
                     n->message);
    }
}

static void finish_record(cyc *c, const char *status, const char *message)
{
    plan_counts pc = {0};
    if (c->pl) {
        plan_get_counts(c->pl, &pc);
        c->rec->counts->new_ = pc.new_count;
        c->rec->counts->updated = pc.updated;
        c->rec->counts->deleted = pc.deleted;
        c->rec->counts->failed = pc.failed;
        c->rec->counts->skipped = pc.skipped;
        c->rec->conflicts = pc.conflicts;
        c->rec->rejected_backwards = pc.rejected_backwards;
    }
    record_set(&c->rec->status, status);
    record_set(&c->rec->message, message);
    c->rec->finished_at_ms = rc_now_ms();
}

static merge_policy policy_of(const rc_svc *s, const rc_cycle_opts *o)
{
    return o->policy == MERGE_SALESFORCE_WINS || o->policy == MERGE_LATEST_WINS ||
                   o->policy == MERGE_MARKETO_WINS
               ? o->policy
               : s->policy;
}

static int run_locked(cyc *c, Campsync__V1__SyncPlan **plan_out, rc_err *err)
{
    rc_svc *s = c->s;
    const rc_cycle_opts *o = c->o;
    int rc = -1;
    smap *m = NULL;
    ProtobufCMessage *pmsg = NULL;
    rc_read rd = {0};
    base_state base = {0};
    bool have_base = false;
    probe_set ps = {0};

    if (rc_check_marketing_user(s, o->parent, err) != 0)
        goto out;
    c->rec->api_calls_salesforce++;
    Campsync__V1__GetProgramRequest gp = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    gp.program_id = c->pair.program_id;
    if (rc_mkto_call(s, o->parent, "GetProgram", &gp.base, &pmsg, err) != 0)
        goto out;
    const Campsync__V1__Program *prog = (const void *)pmsg;
    if (rc_channel_map(s, o->parent, prog->channel, &m, err) != 0)
        goto out;
    c->m = m;
    c->rec->api_calls_marketo += 2;
    if (rc_check_statuses(s, o->parent, &c->pair, m, err) != 0)
        goto out;
    c->rec->api_calls_salesforce++;
    if (base_load(c->scope, &base, &have_base) != 0) {
        rc_fail(err, GRPC_STATUS_UNAVAILABLE, "redis unreachable reading the base");
        goto out;
    }
    read_kind rk = o->dry_run ? READ_FULL : probe(c, have_base ? &base : NULL, &c->seen_ms, &ps);
    record_set(&c->rec->read, read_name(rk));
    if (rk == READ_NONE) {
        c->was_quiet = true;
        push_fields(c, prog);
        rc = 0;
        goto out;
    }
    if (rk == READ_FULL)
        c->seen_ms = c->full_ms = rc_now_ms();
    if (o->progress)
        o->progress(o->progress_user, "read", 0, 0);
    if ((rk == READ_PARTIAL ? rc_read_people(s, o->parent, &c->pair, ps.leads, ps.n_leads,
                                             ps.people, ps.n_people, &rd, err)
                            : rc_read_pair(s, o->parent, &c->pair, &rd, err)) != 0)
        goto out;
    c->rec->api_calls_marketo += rd.api_calls_mkto;
    c->rec->api_calls_salesforce += rd.api_calls_sf;
    if (o->progress)
        o->progress(o->progress_user, "plan", 0, 0);
    char pair_id[32];
    snprintf(pair_id, sizeof pair_id, "%" PRId64, c->pair.program_id);
    plan_input pin = {.pair_id = pair_id,
                      .statuses = m,
                      .base = have_base ? &base : NULL,
                      .policy = policy_of(s, o),
                      .people = rd.people,
                      .partial = rd.partial};
    recon_err re = {0};
    if (plan_build(&pin, &c->pl, &re) != 0) {
        rc_fail(err, re.code == RECON_EINVAL ? GRPC_STATUS_INVALID_ARGUMENT : GRPC_STATUS_INTERNAL,
                "planning: %s", re.msg);
        goto out;
    }
    if (o->dry_run) {
        *plan_out = plan_to_proto(c->pl, m);
        rc = *plan_out ? 0 : rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    c->emitted = calloc(c->pl->n_events + 1, sizeof *c->emitted);
    if (!c->emitted) {
        rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    rc_err oerr = {0};
    if (guard(c) != 0) {
        /* aborted or shutting down: nothing is written */
    } else if (observe_events(c, &rd, &oerr) != 0) {
        /* Writing now would emit our changes before the ones Salesforce
         * made first: nothing is written, the next cycle starts over. */
        snprintf(c->abort_msg, sizeof c->abort_msg,
                 "salesforce changes could not be written as events (%s); nothing was "
                 "written, the next cycle retries",
                 oerr.msg);
        c->events_unwritten = true;
    } else {
        apply_plan(c);
    }
    push_fields(c, prog);

    /* Then the base: a crash before it re-plans from the same base; what
     * was applied is skipped by its dedup keys and its events are already
     * in the event state. */
    if (!c->aborted) {
        base_state nb = {0};
        unsigned char *enc = NULL;
        size_t enc_len = 0;
        char why[300] = "";
        if (c->events_unwritten) {
            /* The next cycle must read in full to emit them: it plans from
             * this base (applied items are skipped by their dedup keys) and
             * its read shows the changes the events are missing. */
            if (!c->abort_msg[0])
                snprintf(c->abort_msg, sizeof c->abort_msg,
                         "membership events could not be written to Redis; the base was kept "
                         "so the next cycle writes them");
            c->interrupted = true;
        } else if (plan_new_base(c->pl, &nb, &re) != 0 ||
                   base_encode(&nb, &enc, &enc_len, &re) != 0) {
            snprintf(c->abort_msg, sizeof c->abort_msg, "new base not computed: %s", re.msg);
            c->interrupted = true;
        } else {
            int st = guard_write(c, true) == 0
                         ? base_store(c->scope, c->token, enc, enc_len, why, sizeof why)
                         : 0;
            if (st < 0) {
                snprintf(c->abort_msg, sizeof c->abort_msg, "base not stored: %s", why);
                c->interrupted = true;
            } else if (st == 0 && !c->aborted && !c->interrupted) {
                snprintf(c->abort_msg, sizeof c->abort_msg,
                         "ABORTED: base refused: a newer lock holder wrote it");
                c->aborted = true;
            }
        }
        free(enc);
        base_free(&nb);
    }
    notes_to_record(c);
    rc = 0;
out:
    if (rc != 0 && c->pl == NULL)
        finish_record(c, "Failed", err->msg);
    smap_free(m);
    c->m = NULL;
    protobuf_c_message_free_unpacked(pmsg, NULL);
    rc_read_free(&rd);
    probe_free(&ps);
    if (have_base)
        base_free(&base);
    return rc;
}

int rc_cycle_run(rc_svc *s, int64_t program_id, const rc_cycle_opts *o,
                 Campsync__V1__CycleRecord **record, Campsync__V1__SyncPlan **plan_out, bool *busy,
                 rc_err *err)
{
    *record = NULL;
    if (plan_out)
        *plan_out = NULL;
    *busy = false;
    cyc c = {.s = s, .o = o};
    bool found = false;
    if (program_id <= 0)
        return rc_fail(err, GRPC_STATUS_INVALID_ARGUMENT, "program_id must be > 0");
    if (rc_check_sync_enabled(s, err) != 0)
        return -1;
    if (rc_pair_get(program_id, &c.pair, &found, err) != 0)
        return -1;
    if (!found)
        return rc_fail(err, GRPC_STATUS_NOT_FOUND, "program %" PRId64 " is not linked", program_id);
    rc_pair_scope(program_id, c.scope, sizeof c.scope);
    rds_err e = {0};
    if (!o->dry_run) {
        if (rds_lock_acquire(c.scope, LOCK_NAME, s->lock_ttl_ms, &c.token, &e) != 0)
            return rc_fail(err, GRPC_STATUS_UNAVAILABLE, "redis (lock): %s", e.msg);
        if (c.token == 0) {
            *busy = true;
            return 0;
        }
        close_interrupted(c.scope);
    }
    if (o->progress)
        o->progress(o->progress_user, "lock", 1, 1);
    c.rec = record_new(&c.pair, c.token);
    if (!c.rec) {
        if (c.token)
            rds_lock_release(c.scope, LOCK_NAME, c.token, &(int){0}, &e);
        return rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    if (!o->dry_run)
        record_store(c.scope, c.rec);
    int64_t t0 = rc_now_ms();
    int rc = run_locked(&c, plan_out, err);
    if (o->dry_run) {
        campsync__v1__cycle_record__free_unpacked(c.rec, NULL);
        plan_free(c.pl);
        free(c.emitted);
        return rc;
    }
    if (rc == 0 && c.was_quiet) {
        finish_record(&c, c.aborted ? "Failed" : "Succeeded",
                      c.aborted ? c.abort_msg
                                : "no membership change on either side since the last cycle: "
                                  "nothing read or written");
    } else if (rc == 0) {
        plan_counts pc = {0};
        plan_get_counts(c.pl, &pc);
        if (c.aborted)
            finish_record(&c, "Failed", c.abort_msg);
        else if (c.interrupted || pc.failed > 0 || pc.pending > 0)
            finish_record(&c, "Incomplete",
                          c.abort_msg[0] ? c.abort_msg
                          : c.interrupted
                              ? "stopped between batches (shutdown or caller gone); the next "
                                "cycle finishes the work"
                              : "some records failed; they keep their old base and are retried "
                                "next cycle");
        else
            finish_record(&c, "Succeeded", "");
    }
    record_store(c.scope, c.rec);
    watermark_set(&c, strcmp(c.rec->status, "Succeeded") == 0, c.seen_ms, c.full_ms);
    rc_pair_set_last_cycle(program_id, c.rec->finished_at_ms, c.rec->status, NULL);
    metrics_sync_cycle(c.rec->status, (double)(rc_now_ms() - t0) / 1000.0);
    int released = 0;
    rds_lock_release(c.scope, LOCK_NAME, c.token, &released, &e);
    char counts[160];
    snprintf(counts, sizeof counts, "new=%d updated=%d deleted=%d failed=%d skipped=%d",
             c.rec->counts->new_, c.rec->counts->updated, c.rec->counts->deleted,
             c.rec->counts->failed, c.rec->counts->skipped);
    log_kv(strcmp(c.rec->status, "Succeeded") == 0 ? LOG_INFO : LOG_WARN, "cycle done", "pair",
           c.scope, "status", c.rec->status, "counts", counts, "message", c.rec->message, NULL);
    plan_free(c.pl);
    free(c.emitted);
    *record = c.rec;
    return rc == 0 ? 0 : -1;
}
