/*
 * Membership events (SPEC C8): one Redis Stream for every pair, so a
 * subscriber watches all campaigns (or filters one) and resumes from the
 * last event id it saw.
 *
 * Exactly one event per change, in the order the changes happened, however
 * a cycle is interrupted and retried: next to the stream each pair keeps its
 * event state, the status every person has according to the events emitted
 * so far. An event is appended in the same script that moves the state, with
 * the state's status as its old status, and only if the state does not
 * already show the change. A cycle first emits what it saw change in
 * Salesforce (rc_events_observe: the read against the state), then the
 * changes it makes there, batch by batch: a change a crashed cycle made but
 * did not emit is seen by the next read and emitted then, and one it did
 * emit is already in the state.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "log/log.h"
#include "recon_svc.h"
#include "redis/redis.h"

#define EVENTS_SCOPE "events"
#define STATE_MARK "#" /* field of an initialized state: no Salesforce id is "#" */
#define EMIT_CHUNK 500 /* changes per script run */
#define INIT_CHUNK 1000

/* KEYS: stream, state. ARGV: maxlen, campaign, program, at_ms, then per
 * change: person, new status ("" = removed), lead id, source. */
static const char emit_lua[] =
    "if redis.call('HEXISTS', KEYS[2], '" STATE_MARK "') == 0 then return -1 end\n"
    "local n = 0\n"
    "for i = 5, #ARGV, 4 do\n"
    "  local person, new = ARGV[i], ARGV[i + 1]\n"
    "  local old = redis.call('HGET', KEYS[2], person) or ''\n"
    "  if old ~= new then\n"
    "    local t = '3'\n"
    "    if old == '' then t = '1' elseif new == '' then t = '2' end\n"
    "    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'type', t,\n"
    "      'lead_id', ARGV[i + 2], 'sfdc_person_id', person, 'campaign_id', ARGV[2],\n"
    "      'program_id', ARGV[3], 'old_status', old, 'new_status', new,\n"
    "      'source', ARGV[i + 3], 'at_ms', ARGV[4])\n"
    "    if new == '' then redis.call('HDEL', KEYS[2], person)\n"
    "    else redis.call('HSET', KEYS[2], person, new) end\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

/* KEYS: the state being built, the state. Marks and installs it. */
static const char install_lua[] = "redis.call('HSET', KEYS[1], '" STATE_MARK "', '1')\n"
                                  "redis.call('RENAME', KEYS[1], KEYS[2])\n"
                                  "return 1\n";

_Static_assert(PLAN_EV_ADDED == 1 && PLAN_EV_REMOVED == 2 && PLAN_EV_STATUS_CHANGED == 3,
               "emit_lua writes the event types as numbers");

static int stream_key(char *out, size_t cap)
{
    rds_err e = {0};
    return rds_key(out, cap, &e, EVENTS_SCOPE, "stream");
}

static int state_key(char *out, size_t cap, int64_t program_id, const char *which)
{
    rds_err e = {0};
    return rds_key(out, cap, &e, EVENTS_SCOPE, "%s:%" PRId64, which, program_id);
}

static int emit_chunk(const rc_pair *p, const rc_change *ch, size_t n, int64_t at_ms,
                      size_t *appended, rc_err *err)
{
    char stream[128], state[128], maxlen[24], program[24], at[24];
    char(*leads)[24] = calloc(n + 1, sizeof *leads);
    const char **args = calloc(4 + 4 * n, sizeof *args);
    int rc = -1;
    if (!leads || !args) {
        rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    if (stream_key(stream, sizeof stream) != 0 ||
        state_key(state, sizeof state, p->program_id, "state") != 0) {
        rc_fail(err, GRPC_STATUS_INTERNAL, "event keys do not fit");
        goto out;
    }
    snprintf(maxlen, sizeof maxlen, "%ld", RC_EVENTS_MAXLEN);
    snprintf(program, sizeof program, "%" PRId64, p->program_id);
    snprintf(at, sizeof at, "%" PRId64, at_ms);
    args[0] = maxlen;
    args[1] = p->campaign_id;
    args[2] = program;
    args[3] = at;
    for (size_t i = 0; i < n; i++) {
        snprintf(leads[i], sizeof leads[i], "%" PRId64, ch[i].lead_id);
        const char **a = args + 4 + 4 * i;
        a[0] = ch[i].person;
        a[1] = ch[i].new_status ? ch[i].new_status : "";
        a[2] = leads[i];
        a[3] = ch[i].source ? ch[i].source : "";
    }
    const char *keys[2] = {stream, state};
    rds_err e = {0};
    /* Safe to resend: a change the state already shows appends nothing. */
    redisReply *r = rds_eval(emit_lua, 1, 2, keys, (int)(4 + 4 * n), args, &e);
    if (!r) {
        rc_fail(err, GRPC_STATUS_UNAVAILABLE, "redis (events): %s", e.msg);
        goto out;
    }
    long long got = r->type == REDIS_REPLY_INTEGER ? r->integer : -2;
    freeReplyObject(r);
    if (got < 0) {
        rc_fail(err, GRPC_STATUS_UNAVAILABLE,
                "the event state of program %" PRId64 " is %s; the next full read sets it again",
                p->program_id, got == -1 ? "missing (Redis lost it)" : "unreadable");
        goto out;
    }
    if (appended)
        *appended += (size_t)got;
    rc = 0;
out:
    free(leads);
    free(args);
    return rc;
}

int rc_events_emit(const rc_pair *p, const rc_change *ch, size_t n, int64_t at_ms, size_t *appended,
                   rc_err *err)
{
    if (appended)
        *appended = 0;
    for (size_t off = 0; off < n; off += EMIT_CHUNK) {
        size_t len = n - off < EMIT_CHUNK ? n - off : EMIT_CHUNK;
        if (emit_chunk(p, ch + off, len, at_ms, appended, err) != 0)
            return -1;
    }
    return 0;
}

static bool usable(const people_sf_member *m)
{
    return m->person_id && m->person_id[0] && strcmp(m->person_id, STATE_MARK) != 0 && m->status &&
           m->status[0];
}

/* Sets the state to the members (built aside, then renamed into place, so a
 * crash half-way leaves no state rather than a partial one). */
static int state_init(const rc_pair *p, const people_sf_member *m, size_t n, rc_err *err)
{
    char tmp[128], state[128];
    if (state_key(tmp, sizeof tmp, p->program_id, "state-new") != 0 ||
        state_key(state, sizeof state, p->program_id, "state") != 0)
        return rc_fail(err, GRPC_STATUS_INTERNAL, "event keys do not fit");
    rds_err e = {0};
    if (rds_del(tmp, NULL, &e) != 0)
        return rc_fail(err, GRPC_STATUS_UNAVAILABLE, "redis (event state): %s", e.msg);
    const char **argv = calloc(2 + 2 * INIT_CHUNK, sizeof *argv);
    if (!argv)
        return rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    argv[0] = "HSET";
    argv[1] = tmp;
    size_t i = 0;
    while (i < n) {
        int argc = 2;
        for (; i < n && argc < 2 + 2 * INIT_CHUNK; i++) {
            if (!usable(&m[i]))
                continue;
            argv[argc++] = m[i].person_id;
            argv[argc++] = m[i].status;
        }
        if (argc == 2)
            break;
        redisReply *r = rds_command_argv(1, argc, argv, NULL, &e);
        if (!r) {
            free(argv);
            return rc_fail(err, GRPC_STATUS_UNAVAILABLE, "redis (event state): %s", e.msg);
        }
        freeReplyObject(r);
    }
    free(argv);
    const char *keys[2] = {tmp, state};
    redisReply *r = rds_eval(install_lua, 1, 2, keys, 0, NULL, &e);
    if (!r)
        return rc_fail(err, GRPC_STATUS_UNAVAILABLE, "redis (event state): %s", e.msg);
    freeReplyObject(r);
    log_kv(LOG_INFO, "event state set from the campaign's members", "campaign", p->campaign_id,
           NULL);
    return 0;
}

static int state_exists(int64_t program_id, bool *exists, rc_err *err)
{
    char state[128];
    if (state_key(state, sizeof state, program_id, "state") != 0)
        return rc_fail(err, GRPC_STATUS_INTERNAL, "event keys do not fit");
    rds_err e = {0};
    redisReply *r = rds_command(1, &e, "HEXISTS %s %s", state, STATE_MARK);
    if (!r)
        return rc_fail(err, GRPC_STATUS_UNAVAILABLE, "redis (event state): %s", e.msg);
    *exists = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return 0;
}

/*
 * One pass over the state after a full read: members it already shows as
 * they are get known[j] set (nothing to send for them), and the people it
 * holds who are no longer members are collected as removals (*gone, their
 * ids copied into *owned).
 */
static int scan_state(const rc_pair *p, const hmap *present, const people_sf_member *members,
                      bool *known, rc_change **gone, size_t *n_gone, char ***owned, size_t *n_owned,
                      rc_err *err)
{
    char state[128], cursor[32] = "0";
    if (state_key(state, sizeof state, p->program_id, "state") != 0)
        return rc_fail(err, GRPC_STATUS_INTERNAL, "event keys do not fit");
    size_t cap = 0;
    do {
        rds_err e = {0};
        redisReply *r = rds_command(1, &e, "HSCAN %s %s COUNT 1000", state, cursor);
        if (!r)
            return rc_fail(err, GRPC_STATUS_UNAVAILABLE, "redis (event state): %s", e.msg);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return rc_fail(err, GRPC_STATUS_INTERNAL, "unexpected HSCAN reply");
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *kv = r->element[1];
        for (size_t i = 0; i + 1 < kv->elements; i += 2) {
            const redisReply *f = kv->element[i], *v = kv->element[i + 1];
            uint32_t j;
            if (f->type != REDIS_REPLY_STRING || strcmp(f->str, STATE_MARK) == 0)
                continue;
            if (hmap_get(present, f->str, f->len, &j)) {
                known[j] = v->type == REDIS_REPLY_STRING && strcmp(v->str, members[j].status) == 0;
                continue;
            }
            if (*n_gone == cap) {
                cap = cap ? cap * 2 : 64;
                rc_change *nc = realloc(*gone, cap * sizeof *nc);
                char **no = realloc(*owned, cap * sizeof *no);
                if (nc)
                    *gone = nc;
                if (no)
                    *owned = no;
                if (!nc || !no) {
                    freeReplyObject(r);
                    return rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
                }
            }
            char *person = strdup(f->str);
            if (!person) {
                freeReplyObject(r);
                return rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            }
            (*owned)[(*n_owned)++] = person;
            (*gone)[(*n_gone)++] = (rc_change){.person = person, .source = "salesforce"};
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

/* The people read who are not among the members: their removals. */
static int removals_of(char *const *read, size_t n_read, const hmap *present, rc_change **out,
                       size_t *n_out, rc_err *err)
{
    rc_change *v = realloc(*out, (n_read + 1) * sizeof *v);
    if (!v)
        return rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    *out = v;
    for (size_t i = 0; i < n_read; i++)
        if (read[i] && read[i][0] && !hmap_get(present, read[i], strlen(read[i]), NULL))
            v[(*n_out)++] = (rc_change){.person = read[i], .source = "salesforce"};
    return 0;
}

int rc_events_observe(const rc_pair *p, const people_sf_member *members, size_t n,
                      const int64_t *lead_of, char *const *read_people, size_t n_read_people,
                      int64_t at_ms, size_t *appended, rc_err *err)
{
    if (appended)
        *appended = 0;
    bool exists = false;
    if (state_exists(p->program_id, &exists, err) != 0)
        return -1;
    if (!exists && read_people)
        return rc_fail(err, GRPC_STATUS_UNAVAILABLE,
                       "the event state of program %" PRId64
                       " is missing (Redis lost it); the next full read sets it again",
                       p->program_id);
    if (!exists)
        return state_init(p, members, n, err);
    hmap present = {0};
    rc_change *ch = calloc(n + 1, sizeof *ch), *gone = NULL;
    bool *known = calloc(n + 1, sizeof *known); /* or not to send: unusable, a repeat */
    char **owned = NULL;
    size_t n_ch = 0, n_gone = 0, n_owned = 0;
    int rc = -1;
    if (!ch || !known || hmap_init(&present, n) != 0) {
        rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    for (size_t j = 0; j < n; j++) {
        const people_sf_member *m = &members[j];
        int put = usable(m)
                      ? hmap_put(&present, m->person_id, strlen(m->person_id), (uint32_t)j, NULL)
                      : 1;
        if (put < 0) {
            rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            goto out;
        }
        known[j] = put == 1;
    }
    /* After a full read one scan of the state finds both what is unchanged
     * and who left; after a partial one, the people read who are no longer
     * members left. The script checks every change against the state again. */
    if (read_people
            ? removals_of(read_people, n_read_people, &present, &gone, &n_gone, err) != 0
            : scan_state(p, &present, members, known, &gone, &n_gone, &owned, &n_owned, err) != 0)
        goto out;
    for (size_t j = 0; j < n; j++)
        if (!known[j])
            ch[n_ch++] = (rc_change){.lead_id = lead_of ? lead_of[j] : 0,
                                     .person = members[j].person_id,
                                     .new_status = members[j].status,
                                     .source = "salesforce"};
    size_t left = 0;
    if (rc_events_emit(p, ch, n_ch, at_ms, appended, err) != 0 ||
        rc_events_emit(p, gone, n_gone, at_ms, &left, err) != 0)
        goto out;
    if (appended)
        *appended += left;
    rc = 0;
out:
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(ch);
    free(gone);
    free(known);
    hmap_free(&present);
    return rc;
}

int rc_events_forget(int64_t program_id, rc_err *err)
{
    char state[128];
    if (state_key(state, sizeof state, program_id, "state") != 0)
        return rc_fail(err, GRPC_STATUS_INTERNAL, "event keys do not fit");
    rds_err e = {0};
    if (rds_del(state, NULL, &e) != 0)
        return rc_fail(err, GRPC_STATUS_UNAVAILABLE, "redis (event state): %s", e.msg);
    return 0;
}

static bool valid_id(const char *id)
{
    const char *p = id;
    if (!isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '-') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0' && strlen(id) < RDS_STREAM_ID_MAX;
}

static const char *field(const rds_stream_entry *e, const char *name)
{
    const rds_field *f = rds_stream_field(e, name);
    return f ? f->value : "";
}

int rc_watch_events(rpc_call *call, const Campsync__V1__WatchEventsRequest *rq)
{
    const char *from = rq->from_event_id ? rq->from_event_id : "";
    const char *only = rq->campaign_id && rq->campaign_id[0] ? rq->campaign_id : NULL;
    if (from[0] && !valid_id(from))
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "from_event_id \"%s\" is not an event id (\"\" = only new events, "
                             "\"0\" = from the start, or an id like 1700000000000-0)",
                             from);
    char key[128], after[RDS_STREAM_ID_MAX];
    if (stream_key(key, sizeof key) != 0)
        return rpc_call_fail(call, GRPC_STATUS_INTERNAL, "bad stream key");
    rds_err e = {0};
    if (!from[0]) {
        /* "Only new": resolve to the newest id now, so nothing appended
         * between two blocking reads is missed. */
        redisReply *r = rds_command(1, &e, "XREVRANGE %s + - COUNT 1", key);
        if (!r)
            return rpc_call_fail(call, GRPC_STATUS_UNAVAILABLE, "redis: %s", e.msg);
        snprintf(after, sizeof after, "0-0");
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements >= 1 &&
            r->element[0]->element[0]->type == REDIS_REPLY_STRING)
            snprintf(after, sizeof after, "%s", r->element[0]->element[0]->str);
        freeReplyObject(r);
    } else {
        snprintf(after, sizeof after, "%s", from);
    }
    int failures = 0;
    while (!rpc_call_cancelled(call)) {
        rds_stream_batch b = {0};
        if (rds_stream_read(key, after, 200, 1000, &b, &e) != 0) {
            /* Redis restarting: keep the subscriber, retry with backoff. */
            if (++failures > 30)
                return rpc_call_fail(call, GRPC_STATUS_UNAVAILABLE, "redis: %s", e.msg);
            rpc_call_wait(call, 500);
            continue;
        }
        failures = 0;
        for (size_t i = 0; i < b.count; i++) {
            const rds_stream_entry *en = &b.entries[i];
            snprintf(after, sizeof after, "%s", en->id);
            const char *camp = field(en, "campaign_id");
            if (only && strcmp(camp, only) != 0)
                continue;
            Campsync__V1__MembershipEvent ev = CAMPSYNC__V1__MEMBERSHIP_EVENT__INIT;
            ev.event_id = (char *)en->id;
            ev.type = (Campsync__V1__EventType)atoi(field(en, "type"));
            ev.lead_id = strtoll(field(en, "lead_id"), NULL, 10);
            ev.sfdc_person_id = (char *)field(en, "sfdc_person_id");
            ev.campaign_id = (char *)camp;
            ev.program_id = strtoll(field(en, "program_id"), NULL, 10);
            ev.old_status = (char *)field(en, "old_status");
            ev.new_status = (char *)field(en, "new_status");
            ev.source = (char *)field(en, "source");
            ev.at_ms = strtoll(field(en, "at_ms"), NULL, 10);
            if (rpc_call_send(call, &ev.base) != 0) {
                rds_stream_batch_free(&b);
                return GRPC_STATUS_CANCELLED;
            }
        }
        rds_stream_batch_free(&b);
    }
    return rpc_call_fail(call, GRPC_STATUS_CANCELLED, "watch ended (cancelled or shutting down)");
}
