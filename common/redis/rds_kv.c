/*
 * Plain key and hash helpers: GET/SET/DEL/HSET/HGETALL with results copied
 * into plain C memory the caller owns, so no caller handles redisReply.
 */
#include "rds_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_bytes(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static int need_key(const char *key, const char *what, rds_err *err)
{
    if (!key || !*key)
        return rds_fail(err, RDS_ERR_ARG, "redis %s: key is empty", what);
    return 0;
}

int rds_get(const char *key, char **value, size_t *len, rds_err *err)
{
    *value = NULL;
    if (len)
        *len = 0;
    if (need_key(key, "GET", err) != 0)
        return -1;
    const char *argv[] = {"GET", key};
    redisReply *r = rds_run(1, 0, 2, argv, NULL, err);
    if (!r)
        return -1;
    int rc = 0;
    if (r->type == REDIS_REPLY_STRING) {
        *value = dup_bytes(r->str, r->len);
        if (!*value)
            rc = rds_fail(err, RDS_ERR_NOMEM, "redis GET: out of memory");
        else if (len)
            *len = r->len;
    } else if (r->type != REDIS_REPLY_NIL) {
        rc = rds_fail(err, RDS_ERR_PROTO, "redis GET: unexpected reply type %d", r->type);
    }
    freeReplyObject(r);
    return rc;
}

int rds_set(const char *key, const char *value, size_t len, int ttl_s, rds_err *err)
{
    if (need_key(key, "SET", err) != 0)
        return -1;
    if (!value)
        return rds_fail(err, RDS_ERR_ARG, "redis SET: value is NULL");
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    const char *argv[] = {"SET", key, value, "EX", ttl};
    size_t lens[] = {3, strlen(key), len ? len : strlen(value), 2, strlen(ttl)};
    redisReply *r = rds_run(1, 0, ttl_s > 0 ? 5 : 3, argv, lens, err);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

int rds_del(const char *key, int64_t *deleted, rds_err *err)
{
    if (need_key(key, "DEL", err) != 0)
        return -1;
    const char *argv[] = {"DEL", key};
    int64_t n = 0;
    if (rds_take_integer(rds_run(1, 0, 2, argv, NULL, err), "DEL", &n, err) != 0)
        return -1;
    if (deleted)
        *deleted = n;
    return 0;
}

int rds_hset(const char *key, const rds_field_in *fields, size_t n, rds_err *err)
{
    if (need_key(key, "HSET", err) != 0)
        return -1;
    if (!fields || n == 0)
        return rds_fail(err, RDS_ERR_ARG, "redis HSET: no fields");
    size_t argc = 2 + 2 * n;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lens = calloc(argc, sizeof *lens);
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return rds_fail(err, RDS_ERR_NOMEM, "redis HSET: out of memory");
    }
    argv[0] = "HSET";
    lens[0] = 4;
    argv[1] = key;
    lens[1] = strlen(key);
    for (size_t i = 0; i < n; i++) {
        argv[2 + 2 * i] = fields[i].name;
        lens[2 + 2 * i] = strlen(fields[i].name);
        argv[3 + 2 * i] = fields[i].value;
        lens[3 + 2 * i] = fields[i].value_len ? fields[i].value_len : strlen(fields[i].value);
    }
    redisReply *r = rds_run(1, 0, (int)argc, argv, lens, err);
    free(argv);
    free(lens);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

void rds_fields_free(rds_field *fields, size_t n)
{
    if (!fields)
        return;
    for (size_t i = 0; i < n; i++) {
        free(fields[i].name);
        free(fields[i].value);
    }
    free(fields);
}

int rds_hgetall(const char *key, rds_field **fields, size_t *n, rds_err *err)
{
    *fields = NULL;
    *n = 0;
    if (need_key(key, "HGETALL", err) != 0)
        return -1;
    const char *argv[] = {"HGETALL", key};
    redisReply *r = rds_run(1, 0, 2, argv, NULL, err);
    if (!r)
        return -1;
    int rc = 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
        rc = rds_fail(err, RDS_ERR_PROTO, "redis HGETALL: expected an even array");
    } else if (r->elements > 0) {
        size_t count = r->elements / 2;
        rds_field *out = calloc(count, sizeof *out);
        for (size_t i = 0; out && i < count && rc == 0; i++) {
            const redisReply *k = r->element[2 * i], *v = r->element[2 * i + 1];
            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
                rc = rds_fail(err, RDS_ERR_PROTO, "redis HGETALL: non-string field");
                break;
            }
            out[i].name = dup_bytes(k->str, k->len);
            out[i].value = dup_bytes(v->str, v->len);
            out[i].value_len = v->len;
            if (!out[i].name || !out[i].value)
                rc = rds_fail(err, RDS_ERR_NOMEM, "redis HGETALL: out of memory");
        }
        if (!out)
            rc = rds_fail(err, RDS_ERR_NOMEM, "redis HGETALL: out of memory");
        if (rc == 0) {
            *fields = out;
            *n = count;
        } else {
            rds_fields_free(out, count);
        }
    }
    freeReplyObject(r);
    return rc;
}
