/*
 * Locks with fencing tokens, the write-side fence check, and dedup claims.
 *
 * A lock only saves work: a holder paused past its TTL (GC, a slow vendor
 * call) can wake up still believing it holds the lock. Correctness comes from
 * the fencing token: every acquisition gets a strictly higher number, and
 * whoever applies the writes refuses a token lower than the highest it has
 * seen (rds_fence_check), so the stale holder's writes are refused.
 *
 * Each step is one Lua script so it is atomic; a lock's keys share the hash
 * tag of its scope, so the scripts are Redis Cluster safe. The lock's value is
 * its fencing token: it identifies the holder for extend and release.
 */
#include "rds_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* KEYS: lock, fence counter. ARGV: ttl ms. Returns the new token or 0. */
static const char acquire_lua[] = "if redis.call('SET', KEYS[1], '0', 'NX', 'PX', ARGV[1]) then\n"
                                  "  local t = redis.call('INCR', KEYS[2])\n"
                                  "  redis.call('SET', KEYS[1], t, 'XX', 'KEEPTTL')\n"
                                  "  return t\n"
                                  "end\n"
                                  "return 0\n";

/* KEYS: lock. ARGV: token, ttl ms. */
static const char extend_lua[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                 "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                                 "  return 1\n"
                                 "end\n"
                                 "return 0\n";

/* KEYS: lock. ARGV: token. */
static const char release_lua[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                  "  redis.call('DEL', KEYS[1])\n"
                                  "  return 1\n"
                                  "end\n"
                                  "return 0\n";

/* KEYS: highest token seen. ARGV: token. Returns {accepted, highest}. */
static const char fence_lua[] = "local seen = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
                                "local t = tonumber(ARGV[1])\n"
                                "if t < seen then return {0, seen} end\n"
                                "if t > seen then redis.call('SET', KEYS[1], ARGV[1]) end\n"
                                "return {1, t}\n";

/* KEYS: dedup key. ARGV: nonce, ttl s. A retry with the same nonce after a
 * lost reply still finds its own claim. */
static const char dedup_lua[] =
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end\n"
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end\n"
    "return 0\n";

static int lock_keys(const char *scope, const char *name, char *lock, char *fence, size_t cap,
                     rds_err *err)
{
    if (!name || !*name)
        return rds_fail(err, RDS_ERR_ARG, "redis lock: name is empty");
    if (rds_key(lock, cap, err, scope, "lock:%s", name) != 0)
        return -1;
    if (fence && rds_key(fence, cap, err, scope, "fence:%s", name) != 0)
        return -1;
    return 0;
}

int rds_lock_acquire(const char *scope, const char *name, int ttl_ms, int64_t *token, rds_err *err)
{
    *token = 0;
    if (ttl_ms <= 0)
        return rds_fail(err, RDS_ERR_ARG, "redis lock: ttl must be positive");
    char lock[512], fence[512], ttl[16];
    if (lock_keys(scope, name, lock, fence, sizeof lock, err) != 0)
        return -1;
    snprintf(ttl, sizeof ttl, "%d", ttl_ms);
    const char *keys[] = {lock, fence};
    const char *args[] = {ttl};
    /* Resending is safe: a first attempt that did run leaves the lock held,
     * so the second returns 0 and there are never two holders. */
    return rds_take_integer(rds_eval(acquire_lua, 1, 2, keys, 1, args, err), "lock acquire", token,
                            err);
}

static int owner_script(const char *script, const char *what, const char *scope, const char *name,
                        int64_t token, int ttl_ms, int *result, rds_err *err)
{
    *result = 0;
    if (token <= 0)
        return rds_fail(err, RDS_ERR_ARG, "redis %s: token must be positive", what);
    char lock[512], tok[24], ttl[16];
    if (lock_keys(scope, name, lock, NULL, sizeof lock, err) != 0)
        return -1;
    snprintf(tok, sizeof tok, "%" PRId64, token);
    snprintf(ttl, sizeof ttl, "%d", ttl_ms);
    const char *keys[] = {lock};
    const char *args[] = {tok, ttl};
    int64_t v = 0;
    if (rds_take_integer(rds_eval(script, 1, 1, keys, ttl_ms > 0 ? 2 : 1, args, err), what, &v,
                         err) != 0)
        return -1;
    *result = v == 1;
    return 0;
}

int rds_lock_extend(const char *scope, const char *name, int64_t token, int ttl_ms, int *held,
                    rds_err *err)
{
    if (ttl_ms <= 0) {
        *held = 0;
        return rds_fail(err, RDS_ERR_ARG, "redis lock extend: ttl must be positive");
    }
    return owner_script(extend_lua, "lock extend", scope, name, token, ttl_ms, held, err);
}

int rds_lock_release(const char *scope, const char *name, int64_t token, int *released,
                     rds_err *err)
{
    return owner_script(release_lua, "lock release", scope, name, token, 0, released, err);
}

int rds_fence_check(const char *scope, const char *resource, int64_t token, int *accepted,
                    int64_t *highest, rds_err *err)
{
    *accepted = 0;
    if (token <= 0)
        return rds_fail(err, RDS_ERR_ARG, "redis fence check: token must be positive");
    if (!resource || !*resource)
        return rds_fail(err, RDS_ERR_ARG, "redis fence check: resource is empty");
    char key[512], tok[24];
    if (rds_key(key, sizeof key, err, scope, "fenced:%s", resource) != 0)
        return -1;
    snprintf(tok, sizeof tok, "%" PRId64, token);
    const char *keys[] = {key};
    const char *args[] = {tok};
    redisReply *r = rds_eval(fence_lua, 1, 1, keys, 1, args, err);
    if (!r)
        return -1;
    int ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
             r->element[0]->type == REDIS_REPLY_INTEGER &&
             r->element[1]->type == REDIS_REPLY_INTEGER;
    if (ok) {
        *accepted = r->element[0]->integer == 1;
        if (highest)
            *highest = (int64_t)r->element[1]->integer;
    }
    freeReplyObject(r);
    return ok ? 0 : rds_fail(err, RDS_ERR_PROTO, "redis fence check: unexpected reply");
}

int rds_dedup_claim(const char *key, int ttl_s, int *claimed, rds_err *err)
{
    *claimed = 0;
    if (!key || !*key)
        return rds_fail(err, RDS_ERR_ARG, "redis dedup: key is empty");
    if (ttl_s <= 0)
        return rds_fail(err, RDS_ERR_ARG, "redis dedup: ttl must be positive");
    unsigned char raw[12];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return rds_fail(err, RDS_ERR_NOMEM, "redis dedup: no randomness for the claim nonce");
    char nonce[2 * sizeof raw + 1], ttl[16];
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    const char *keys[] = {key};
    const char *args[] = {nonce, ttl};
    int64_t v = 0;
    if (rds_take_integer(rds_eval(dedup_lua, 1, 1, keys, 2, args, err), "dedup claim", &v, err) !=
        0)
        return -1;
    *claimed = v == 1;
    return 0;
}
