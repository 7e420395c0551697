/*
 * campsync's Redis primitives on hiredis 0.14: one lazily made connection per
 * thread (hiredis contexts are neither thread-safe nor usable after an error),
 * reconnect with exponential backoff and jitter, and the building blocks the
 * services share: keys with hash tags, locks with fencing tokens, a fence
 * check for the write side, dedup keys, streams and small key/hash helpers.
 *
 * Errors: every call returns 0 on success and -1 on failure with details in a
 * caller-owned rds_err (which may be NULL). Nothing here aborts or blocks
 * without bound when Redis is gone: commands fail with RDS_ERR_CONN and the
 * connection is re-made on a later call.
 *
 * Reconnect policy: a connection that dies is re-made on the next call at
 * once; if making it fails, further attempts wait an exponentially growing,
 * jittered delay, and calls inside that delay fail fast with RDS_ERR_CONN.
 * Before sending, a call checks its socket for a close by the server (a Redis
 * restart), so the first command after a restart goes out on a new connection
 * whether or not it may be retried.
 *
 * Retries: a command marked idempotent that fails on a connection error is
 * sent once more on a new connection. Others are not: the server may have
 * executed them.
 *
 * Fork: a child process must not share its parent's socket; the connection
 * notices a pid change and the child makes its own.
 */
#ifndef CAMPSYNC_REDIS_H
#define CAMPSYNC_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    RDS_OK = 0,
    RDS_ERR_CONFIG, /* not configured, or a bad URL/option: fix the config */
    RDS_ERR_ARG,    /* bad argument (empty key, scope with a brace, ...) */
    RDS_ERR_CONN,   /* Redis unreachable, connection lost or timed out: retry later */
    RDS_ERR_AUTH,   /* AUTH refused or required: fix the password */
    RDS_ERR_REPLY,  /* Redis answered with an error (WRONGTYPE, OOM, ...) */
    RDS_ERR_PROTO,  /* the reply had an unexpected shape */
    RDS_ERR_NOMEM,
} rds_code;

typedef struct {
    rds_code code;
    char msg[256];
} rds_err;

/* ---- configuration and connection ---- */

typedef struct {
    char host[256];
    int port;       /* default 6379 */
    char user[128]; /* ACL user, "" for the default user */
    char password[256];
    int db; /* SELECT on connect when > 0 */
} rds_url;

/*
 * Parses redis://[[user]:password@]host[:port][/db]; user and password may be
 * percent-encoded, an IPv6 host goes in brackets. rediss:// (TLS) is refused:
 * hiredis 0.14 has no TLS. Messages never contain the password.
 */
int rds_url_parse(const char *url, rds_url *out, rds_err *err);

typedef struct {
    int connect_timeout_ms; /* default 1000 */
    int command_timeout_ms; /* default 2000; blocking reads add their block time */
    int backoff_min_ms;     /* first delay after a failed connect, default 50 */
    int backoff_max_ms;     /* cap of the exponential delay, default 2000 */
} rds_options;

/*
 * Sets the server every thread connects to (opts may be NULL for defaults;
 * zero fields take defaults). Services call it once at start-up; calling it
 * again makes every thread reconnect to the new server on its next call.
 */
int rds_configure(const char *url, const rds_options *opts, rds_err *err);

/* Closes the calling thread's connection (threads that exit are cleaned up
 * automatically). */
void rds_thread_disconnect(void);

/*
 * Runs one command (hiredis format, or argv form) on the calling thread's
 * connection. Returns the reply, which the caller frees with
 * freeReplyObject, or NULL with err set; an error reply from Redis becomes
 * RDS_ERR_REPLY with Redis's message. idempotent: the caller says the
 * command may be sent twice (see Retries above).
 */
redisReply *rds_command(int idempotent, rds_err *err, const char *fmt, ...);
redisReply *rds_command_argv(int idempotent, int argc, const char **argv, const size_t *argvlen,
                             rds_err *err);

/*
 * Runs a Lua script with EVALSHA, falling back to EVAL when Redis does not
 * have it cached (NOSCRIPT: first use, or after a restart), which caches it.
 * Returns the reply (caller frees) or NULL with err set.
 */
redisReply *rds_eval(const char *script, int idempotent, int nkeys, const char *const *keys,
                     int nargs, const char *const *args, rds_err *err);

/* SHA1 of a script as 40 lowercase hex digits plus NUL (what EVALSHA wants). */
void rds_script_sha(const char *script, char out[41]);

/* ---- keys ---- */

/*
 * Writes campsync:{<scope>}:<name> into out, name formatted printf-style.
 * The braces are a Redis Cluster hash tag: every key of one scope lands in one
 * slot, so scripts may touch several of them. Returns -1 (RDS_ERR_ARG) for an
 * empty scope, a scope containing '{' or '}', or a key longer than cap.
 */
int rds_key(char *out, size_t cap, rds_err *err, const char *scope, const char *name_fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- locks with fencing tokens ---- */

/*
 * Takes the lock <scope>/<name> for ttl_ms if nobody holds it. On success
 * *token is the fencing token (> 0, strictly higher than every token issued
 * before for this lock); *token is 0 when another holder has it. The token
 * also identifies the holder for extend and release.
 * Keys: campsync:{scope}:lock:<name> and campsync:{scope}:fence:<name>.
 */
int rds_lock_acquire(const char *scope, const char *name, int ttl_ms, int64_t *token, rds_err *err);

/* Extends the lock to ttl_ms from now if token still holds it: *held = 1,
 * else 0 (expired or taken by another: stop writing, the token is stale). */
int rds_lock_extend(const char *scope, const char *name, int64_t token, int ttl_ms, int *held,
                    rds_err *err);

/* Releases the lock if token holds it: *released = 1, else 0. */
int rds_lock_release(const char *scope, const char *name, int64_t token, int *released,
                     rds_err *err);

/*
 * The write side of fencing: atomically accepts token if it is >= the highest
 * token seen for <scope>/<resource> (and records it), or refuses it. Callers
 * answer a refused write with ABORTED. *highest (may be NULL) receives the
 * highest token seen after the check. Key: campsync:{scope}:fenced:<resource>.
 */
int rds_fence_check(const char *scope, const char *resource, int64_t token, int *accepted,
                    int64_t *highest, rds_err *err);

/* ---- dedup keys ---- */

/*
 * Claims key for ttl_s seconds (SET NX EX): *claimed = 1 the first time, 0
 * when it was already claimed. A claim whose reply was lost to a broken
 * connection is retried and still reported as ours (the value is a nonce).
 */
int rds_dedup_claim(const char *key, int ttl_s, int *claimed, rds_err *err);

/* ---- plain keys and hashes ---- */

typedef struct {
    const char *name;
    const char *value;
    size_t value_len; /* 0: strlen(value) */
} rds_field_in;

typedef struct {
    char *name;
    char *value; /* NUL-terminated; value_len bytes may include NULs */
    size_t value_len;
} rds_field;

/* *value is a malloc'd NUL-terminated copy the caller frees, or NULL when
 * the key does not exist. len may be NULL. */
int rds_get(const char *key, char **value, size_t *len, rds_err *err);

/* SET key value [EX ttl_s] (no expiry when ttl_s <= 0). len 0: strlen. */
int rds_set(const char *key, const char *value, size_t len, int ttl_s, rds_err *err);

/* DEL; *deleted (may be NULL) = number of keys removed. */
int rds_del(const char *key, int64_t *deleted, rds_err *err);

/* HSET key f v [f v ...]. */
int rds_hset(const char *key, const rds_field_in *fields, size_t n, rds_err *err);

/* HGETALL: *fields is a malloc'd array the caller frees with rds_fields_free
 * (NULL and *n = 0 for a missing key). */
int rds_hgetall(const char *key, rds_field **fields, size_t *n, rds_err *err);

void rds_fields_free(rds_field *fields, size_t n);

/* ---- streams ---- */

#define RDS_STREAM_ID_MAX 48

typedef struct {
    char id[RDS_STREAM_ID_MAX];
    rds_field *fields; /* NULL with nfields 0 for an entry deleted while pending */
    size_t nfields;
} rds_stream_entry;

typedef struct {
    rds_stream_entry *entries;
    size_t count;
    /* XAUTOCLAIM: the cursor for the next call ("0-0" when the scan is done).
     * Reads: the id of the last entry returned, or "" when none. */
    char next_id[RDS_STREAM_ID_MAX];
} rds_stream_batch;

/* Frees what a batch holds and zeroes it (the struct itself is the caller's). */
void rds_stream_batch_free(rds_stream_batch *b);

/* The value of field name in e, or NULL. */
const rds_field *rds_stream_field(const rds_stream_entry *e, const char *name);

/*
 * XADD stream MAXLEN ~ maxlen * field value ...; maxlen <= 0 means no trim.
 * Writes the new entry's id to id_out (may be NULL). Not retried on a broken
 * connection (it may have been added): consumers dedup by content.
 */
int rds_stream_append(const char *stream, long maxlen, const rds_field_in *fields, size_t n,
                      char id_out[RDS_STREAM_ID_MAX], rds_err *err);

/*
 * XREAD COUNT count [BLOCK block_ms] STREAMS stream after_id: entries with ids
 * greater than after_id ("0" for all, "$" for only new ones when blocking).
 * count 0: no COUNT limit. block_ms <= 0 does not block; > 0 waits up to that
 * long for entries (blocking forever is not offered: it would pin the
 * thread's connection). An empty batch (count 0) means nothing arrived.
 */
int rds_stream_read(const char *stream, const char *after_id, size_t count, int block_ms,
                    rds_stream_batch *out, rds_err *err);

/* XGROUP CREATE stream group start_id MKSTREAM; an existing group is fine.
 * start_id "$" delivers only new entries, "0" the whole stream. */
int rds_stream_group_create(const char *stream, const char *group, const char *start_id,
                            rds_err *err);

/*
 * XREADGROUP GROUP group consumer COUNT count [BLOCK block_ms] STREAMS stream
 * id. id ">" reads entries never delivered to the group; "0" re-reads this
 * consumer's own pending entries. Entries stay pending until acked. count and
 * block_ms as for rds_stream_read. Retried on a broken connection: entries
 * delivered by a lost reply stay pending and come back through autoclaim.
 */
int rds_stream_group_read(const char *stream, const char *group, const char *consumer,
                          const char *id, size_t count, int block_ms, rds_stream_batch *out,
                          rds_err *err);

/* XACK stream group id...; *acked (may be NULL) = entries acknowledged. */
int rds_stream_ack(const char *stream, const char *group, const char *const *ids, size_t n,
                   int64_t *acked, rds_err *err);

/*
 * XAUTOCLAIM stream group consumer min_idle_ms start COUNT count (0: 100):
 * takes over entries pending longer than min_idle_ms (their consumer died),
 * starting at start ("0-0" for the beginning). Continue with out->next_id as
 * start until it is "0-0".
 */
int rds_stream_autoclaim(const char *stream, const char *group, const char *consumer,
                         int64_t min_idle_ms, const char *start, size_t count,
                         rds_stream_batch *out, rds_err *err);

/*
 * Parses an XREAD/XREADGROUP reply (nil, or [[stream, [entry...]]...]; only
 * the first stream is used) or an XAUTOCLAIM reply ([cursor, [entry...],
 * (deleted ids)]) into out. Pure functions, exposed for tests and fuzzing.
 */
int rds_parse_read_reply(const redisReply *r, rds_stream_batch *out, rds_err *err);
int rds_parse_autoclaim_reply(const redisReply *r, rds_stream_batch *out, rds_err *err);

#endif
