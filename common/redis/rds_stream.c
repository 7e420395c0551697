/*
 * Redis Streams for the event log: append, read from an id, consumer groups,
 * ack and claiming entries a dead consumer left pending. Delivery is
 * at-least-once, so consumers dedup by entry id or content.
 *
 * Replies are parsed by pure functions (rds_parse_*) into plain structs that
 * own copies of every string; the network code never hands out redisReply,
 * and the parsers can be fed hand-made or fuzzed replies.
 */
#include "rds_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rds_stream_batch_free(rds_stream_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->count; i++)
        rds_fields_free(b->entries[i].fields, b->entries[i].nfields);
    free(b->entries);
    memset(b, 0, sizeof *b);
}

const rds_field *rds_stream_field(const rds_stream_entry *e, const char *name)
{
    for (size_t i = 0; i < e->nfields; i++)
        if (strcmp(e->fields[i].name, name) == 0)
            return &e->fields[i];
    return NULL;
}

static int copy_id(char dst[RDS_STREAM_ID_MAX], const redisReply *r, rds_err *err)
{
    if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)
        return rds_fail(err, RDS_ERR_PROTO, "redis stream: entry id is not a string");
    if (r->len == 0 || r->len >= RDS_STREAM_ID_MAX)
        return rds_fail(err, RDS_ERR_PROTO, "redis stream: entry id of bad length %zu", r->len);
    /* Ids are <ms>-<seq>; anything else (a NUL byte, say) would be cut short
     * or misread by callers treating the id as a string. */
    size_t dashes = 0;
    for (size_t i = 0; i < r->len; i++) {
        char ch = r->str[i];
        if (ch == '-')
            dashes++;
        else if (ch < '0' || ch > '9')
            return rds_fail(err, RDS_ERR_PROTO, "redis stream: entry id is not <ms>-<seq>");
    }
    if (dashes != 1 || r->str[0] == '-' || r->str[r->len - 1] == '-')
        return rds_fail(err, RDS_ERR_PROTO, "redis stream: entry id is not <ms>-<seq>");
    memcpy(dst, r->str, r->len);
    dst[r->len] = '\0';
    return 0;
}

static char *dup_bytes(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* [id, [f, v, ...] | nil] into e; on failure e holds what was copied so far. */
static int parse_entry(const redisReply *r, rds_stream_entry *e, rds_err *err)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return rds_fail(err, RDS_ERR_PROTO, "redis stream: entry is not [id, fields]");
    if (copy_id(e->id, r->element[0], err) != 0)
        return -1;
    const redisReply *f = r->element[1];
    if (f->type == REDIS_REPLY_NIL)
        return 0;
    if (f->type != REDIS_REPLY_ARRAY || f->elements % 2 != 0)
        return rds_fail(err, RDS_ERR_PROTO, "redis stream: fields are not an even array");
    if (f->elements == 0)
        return 0;
    e->fields = calloc(f->elements / 2, sizeof *e->fields);
    if (!e->fields)
        return rds_fail(err, RDS_ERR_NOMEM, "redis stream: out of memory");
    for (size_t i = 0; i < f->elements / 2; i++) {
        const redisReply *k = f->element[2 * i], *v = f->element[2 * i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return rds_fail(err, RDS_ERR_PROTO, "redis stream: field is not a string");
        rds_field *out = &e->fields[e->nfields++];
        out->name = dup_bytes(k->str, k->len);
        out->value = dup_bytes(v->str, v->len);
        out->value_len = v->len;
        if (!out->name || !out->value)
            return rds_fail(err, RDS_ERR_NOMEM, "redis stream: out of memory");
    }
    return 0;
}

static int parse_entries(const redisReply *arr, rds_stream_batch *out, rds_err *err)
{
    if (arr->type == REDIS_REPLY_NIL)
        return 0;
    if (arr->type != REDIS_REPLY_ARRAY)
        return rds_fail(err, RDS_ERR_PROTO, "redis stream: entries are not an array");
    if (arr->elements == 0)
        return 0;
    out->entries = calloc(arr->elements, sizeof *out->entries);
    if (!out->entries)
        return rds_fail(err, RDS_ERR_NOMEM, "redis stream: out of memory");
    for (size_t i = 0; i < arr->elements; i++) {
        out->count++;
        if (parse_entry(arr->element[i], &out->entries[i], err) != 0)
            return -1;
    }
    return 0;
}

int rds_parse_read_reply(const redisReply *r, rds_stream_batch *out, rds_err *err)
{
    memset(out, 0, sizeof *out);
    if (r->type == REDIS_REPLY_NIL)
        return 0;
    if (r->type != REDIS_REPLY_ARRAY)
        return rds_fail(err, RDS_ERR_PROTO, "redis stream read: reply is not an array");
    if (r->elements == 0)
        return 0;
    const redisReply *s = r->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 2)
        return rds_fail(err, RDS_ERR_PROTO, "redis stream read: expected [stream, entries]");
    if (parse_entries(s->element[1], out, err) != 0) {
        rds_stream_batch_free(out);
        return -1;
    }
    if (out->count > 0)
        memcpy(out->next_id, out->entries[out->count - 1].id, RDS_STREAM_ID_MAX);
    return 0;
}

int rds_parse_autoclaim_reply(const redisReply *r, rds_stream_batch *out, rds_err *err)
{
    memset(out, 0, sizeof *out);
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2)
        return rds_fail(err, RDS_ERR_PROTO, "redis autoclaim: expected [cursor, entries, ...]");
    if (copy_id(out->next_id, r->element[0], err) != 0)
        return -1;
    if (parse_entries(r->element[1], out, err) != 0) {
        rds_stream_batch_free(out);
        return -1;
    }
    return 0;
}

static int need(const char *s, const char *what, rds_err *err)
{
    if (!s || !*s)
        return rds_fail(err, RDS_ERR_ARG, "redis stream: %s is empty", what);
    return 0;
}

int rds_stream_append(const char *stream, long maxlen, const rds_field_in *fields, size_t n,
                      char id_out[RDS_STREAM_ID_MAX], rds_err *err)
{
    if (id_out)
        id_out[0] = '\0';
    if (need(stream, "stream key", err) != 0)
        return -1;
    if (!fields || n == 0)
        return rds_fail(err, RDS_ERR_ARG, "redis stream append: no fields");
    size_t argc = 6 + 2 * n;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lens = calloc(argc, sizeof *lens);
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return rds_fail(err, RDS_ERR_NOMEM, "redis stream append: out of memory");
    }
    char maxbuf[24];
    snprintf(maxbuf, sizeof maxbuf, "%ld", maxlen);
    size_t k = 0;
    argv[k++] = "XADD";
    argv[k++] = stream;
    if (maxlen > 0) {
        argv[k++] = "MAXLEN";
        argv[k++] = "~";
        argv[k++] = maxbuf;
    }
    argv[k++] = "*";
    for (size_t i = 0; i < k; i++)
        lens[i] = strlen(argv[i]);
    for (size_t i = 0; i < n; i++) {
        argv[k] = fields[i].name;
        lens[k++] = strlen(fields[i].name);
        argv[k] = fields[i].value;
        lens[k++] = fields[i].value_len ? fields[i].value_len : strlen(fields[i].value);
    }
    /* Not resent: an append whose reply was lost may have happened. */
    redisReply *r = rds_run(0, 0, (int)k, argv, lens, err);
    free(argv);
    free(lens);
    if (!r)
        return -1;
    char id[RDS_STREAM_ID_MAX];
    int rc = copy_id(id, r, err);
    freeReplyObject(r);
    if (rc == 0 && id_out)
        memcpy(id_out, id, RDS_STREAM_ID_MAX);
    return rc;
}

/* Runs a read-type command and parses its reply into out. */
static int run_read(int argc, const char **argv, int block_ms, rds_stream_batch *out, rds_err *err)
{
    redisReply *r = rds_run(1, block_ms > 0 ? block_ms : 0, argc, argv, NULL, err);
    if (!r)
        return -1;
    int rc = rds_parse_read_reply(r, out, err);
    freeReplyObject(r);
    return rc;
}

int rds_stream_read(const char *stream, const char *after_id, size_t count, int block_ms,
                    rds_stream_batch *out, rds_err *err)
{
    memset(out, 0, sizeof *out);
    if (need(stream, "stream key", err) != 0 || need(after_id, "start id", err) != 0)
        return -1;
    char cnt[24], blk[16];
    snprintf(cnt, sizeof cnt, "%zu", count);
    snprintf(blk, sizeof blk, "%d", block_ms);
    const char *argv[10];
    int k = 0;
    argv[k++] = "XREAD";
    if (count > 0) {
        argv[k++] = "COUNT";
        argv[k++] = cnt;
    }
    if (block_ms > 0) {
        argv[k++] = "BLOCK";
        argv[k++] = blk;
    }
    argv[k++] = "STREAMS";
    argv[k++] = stream;
    argv[k++] = after_id;
    return run_read(k, argv, block_ms, out, err);
}

int rds_stream_group_create(const char *stream, const char *group, const char *start_id,
                            rds_err *err)
{
    if (need(stream, "stream key", err) != 0 || need(group, "group", err) != 0 ||
        need(start_id, "start id", err) != 0)
        return -1;
    const char *argv[] = {"XGROUP", "CREATE", stream, group, start_id, "MKSTREAM"};
    rds_err local;
    redisReply *r = rds_run(1, 0, 6, argv, NULL, &local);
    if (r) {
        freeReplyObject(r);
        return 0;
    }
    /* The group already exists (or a resend found our own first attempt). */
    if (local.code == RDS_ERR_REPLY && strstr(local.msg, "BUSYGROUP"))
        return 0;
    if (err)
        *err = local;
    return -1;
}

int rds_stream_group_read(const char *stream, const char *group, const char *consumer,
                          const char *id, size_t count, int block_ms, rds_stream_batch *out,
                          rds_err *err)
{
    memset(out, 0, sizeof *out);
    if (need(stream, "stream key", err) != 0 || need(group, "group", err) != 0 ||
        need(consumer, "consumer", err) != 0 || need(id, "id", err) != 0)
        return -1;
    char cnt[24], blk[16];
    snprintf(cnt, sizeof cnt, "%zu", count);
    snprintf(blk, sizeof blk, "%d", block_ms);
    const char *argv[12];
    int k = 0;
    argv[k++] = "XREADGROUP";
    argv[k++] = "GROUP";
    argv[k++] = group;
    argv[k++] = consumer;
    if (count > 0) {
        argv[k++] = "COUNT";
        argv[k++] = cnt;
    }
    if (block_ms > 0) {
        argv[k++] = "BLOCK";
        argv[k++] = blk;
    }
    argv[k++] = "STREAMS";
    argv[k++] = stream;
    argv[k++] = id;
    return run_read(k, argv, block_ms, out, err);
}

int rds_stream_ack(const char *stream, const char *group, const char *const *ids, size_t n,
                   int64_t *acked, rds_err *err)
{
    if (acked)
        *acked = 0;
    if (need(stream, "stream key", err) != 0 || need(group, "group", err) != 0)
        return -1;
    if (!ids || n == 0)
        return rds_fail(err, RDS_ERR_ARG, "redis stream ack: no ids");
    const char **argv = calloc(3 + n, sizeof *argv);
    if (!argv)
        return rds_fail(err, RDS_ERR_NOMEM, "redis stream ack: out of memory");
    argv[0] = "XACK";
    argv[1] = stream;
    argv[2] = group;
    for (size_t i = 0; i < n; i++)
        argv[3 + i] = ids[i];
    int64_t v = 0;
    int rc = rds_take_integer(rds_run(1, 0, (int)(3 + n), argv, NULL, err), "XACK", &v, err);
    free(argv);
    if (rc == 0 && acked)
        *acked = v;
    return rc;
}

int rds_stream_autoclaim(const char *stream, const char *group, const char *consumer,
                         int64_t min_idle_ms, const char *start, size_t count,
                         rds_stream_batch *out, rds_err *err)
{
    memset(out, 0, sizeof *out);
    if (need(stream, "stream key", err) != 0 || need(group, "group", err) != 0 ||
        need(consumer, "consumer", err) != 0 || need(start, "start id", err) != 0)
        return -1;
    if (min_idle_ms < 0)
        return rds_fail(err, RDS_ERR_ARG, "redis autoclaim: min idle must not be negative");
    char idle[24], cnt[24];
    snprintf(idle, sizeof idle, "%" PRId64, min_idle_ms);
    snprintf(cnt, sizeof cnt, "%zu", count > 0 ? count : 100);
    const char *argv[] = {"XAUTOCLAIM", stream, group, consumer, idle, start, "COUNT", cnt};
    redisReply *r = rds_run(1, 0, 8, argv, NULL, err);
    if (!r)
        return -1;
    int rc = rds_parse_autoclaim_reply(r, out, err);
    freeReplyObject(r);
    return rc;
}
