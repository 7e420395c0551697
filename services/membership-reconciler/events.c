/*
 * Membership events (SPEC C8): one Redis Stream for every pair, so a
 * subscriber watches all campaigns (or filters one) and resumes from the
 * last event id it saw. An event is appended together with the claim of its
 * dedup key in one script: a retried cycle that computes the same key finds
 * it claimed and appends nothing, and a lost reply retried does the same.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "recon_svc.h"
#include "redis/redis.h"

#define EVENTS_SCOPE "events"
#define EVENT_FIELDS 9

static const char emit_lua[] =
    "local ttl = ARGV[1]\n"
    "local maxlen = ARGV[2]\n"
    "local n = 0\n"
    "for i = 2, #KEYS do\n"
    "  local b = 3 + (i - 2) * 9\n"
    "  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ttl) then\n"
    "    redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'type', ARGV[b],\n"
    "      'lead_id', ARGV[b + 1], 'sfdc_person_id', ARGV[b + 2], 'campaign_id', ARGV[b + 3],\n"
    "      'program_id', ARGV[b + 4], 'old_status', ARGV[b + 5], 'new_status', ARGV[b + 6],\n"
    "      'source', ARGV[b + 7], 'at_ms', ARGV[b + 8])\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

static int stream_key(char *out, size_t cap)
{
    rds_err e = {0};
    return rds_key(out, cap, &e, EVENTS_SCOPE, "stream");
}

int rc_events_emit(int64_t program_id, const rc_event *ev, size_t n, size_t *appended, rc_err *err)
{
    if (appended)
        *appended = 0;
    if (n == 0)
        return 0;
    const char **keys = calloc(n + 1, sizeof *keys);
    const char **args = calloc(2 + n * EVENT_FIELDS, sizeof *args);
    char(*kb)[160] = calloc(n + 1, sizeof *kb);
    char(*nums)[4][32] = calloc(n, sizeof *nums);
    char ttl[16], maxlen[24];
    int rc = -1;
    if (!keys || !args || !kb || !nums) {
        rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    rds_err e = {0};
    if (stream_key(kb[0], sizeof kb[0]) != 0)
        goto out;
    keys[0] = kb[0];
    snprintf(ttl, sizeof ttl, "%d", RC_DONE_TTL_S);
    snprintf(maxlen, sizeof maxlen, "%ld", RC_EVENTS_MAXLEN);
    args[0] = ttl;
    args[1] = maxlen;
    for (size_t i = 0; i < n; i++) {
        if (rds_key(kb[i + 1], sizeof kb[i + 1], &e, EVENTS_SCOPE, "ev:%" PRId64 ":%s", program_id,
                    ev[i].key) != 0) {
            rc_fail(err, GRPC_STATUS_INTERNAL, "%s", e.msg);
            goto out;
        }
        keys[i + 1] = kb[i + 1];
        snprintf(nums[i][0], sizeof nums[i][0], "%d", ev[i].type);
        snprintf(nums[i][1], sizeof nums[i][1], "%" PRId64, ev[i].lead_id);
        snprintf(nums[i][2], sizeof nums[i][2], "%" PRId64, ev[i].program_id);
        snprintf(nums[i][3], sizeof nums[i][3], "%" PRId64, ev[i].at_ms);
        const char **a = args + 2 + i * EVENT_FIELDS;
        a[0] = nums[i][0];
        a[1] = nums[i][1];
        a[2] = ev[i].sfdc_person_id ? ev[i].sfdc_person_id : "";
        a[3] = ev[i].campaign_id ? ev[i].campaign_id : "";
        a[4] = nums[i][2];
        a[5] = ev[i].old_status ? ev[i].old_status : "";
        a[6] = ev[i].new_status ? ev[i].new_status : "";
        a[7] = ev[i].source ? ev[i].source : "";
        a[8] = nums[i][3];
    }
    /* Safe to resend: claimed keys make a second run append nothing. */
    redisReply *r = rds_eval(emit_lua, 1, (int)n + 1, keys, (int)(2 + n * EVENT_FIELDS), args, &e);
    if (!r) {
        rc_fail(err, GRPC_STATUS_UNAVAILABLE, "redis (events): %s", e.msg);
        goto out;
    }
    if (appended && r->type == REDIS_REPLY_INTEGER)
        *appended = (size_t)r->integer;
    freeReplyObject(r);
    rc = 0;
out:
    free(keys);
    free(args);
    free(kb);
    free(nums);
    return rc;
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
