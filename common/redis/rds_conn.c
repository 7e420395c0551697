/*
 * The per-thread Redis connection and the command runner.
 *
 * hiredis 0.14 contexts are not thread-safe and are unusable after any error,
 * so each thread owns one context (freed by a pthread key destructor when the
 * thread exits) and throws it away on the first error. Reconnects back off
 * exponentially with jitter so a fleet of threads does not hammer a Redis
 * that is restarting; inside the delay calls fail fast rather than block a
 * gRPC handler.
 *
 * hiredis writes with write(2), which raises SIGPIPE on a socket the server
 * reset; the runner blocks SIGPIPE around each command and swallows one it
 * caused, so a dead Redis can never kill the process.
 */
#include "rds_internal.h"

#include "log/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t cfg_mu = PTHREAD_MUTEX_INITIALIZER;
static int cfg_set;
static unsigned int cfg_gen;
static rds_url cfg_url;
static rds_options cfg_opt;

struct conn {
    redisContext *ctx;
    unsigned int gen; /* cfg_gen the settings below were copied from */
    pid_t pid;        /* process that made ctx */
    rds_url url;
    rds_options opt;
    int failures;          /* consecutive failed connects */
    long long retry_at_ms; /* no connect attempt before this */
    int down;              /* 1 after a failure was logged, until reconnected */
    char last_error[200];
    unsigned int seed;
};

static pthread_key_t conn_key;
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval ms_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

static void conn_destroy(void *p)
{
    struct conn *c = p;
    if (c->ctx)
        redisFree(c->ctx);
    free(c);
}

static void conn_key_init(void)
{
    pthread_key_create(&conn_key, conn_destroy);
}

static struct conn *conn_self(void)
{
    pthread_once(&conn_once, conn_key_init);
    struct conn *c = pthread_getspecific(conn_key);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return NULL;
        unsigned int seed = 0;
        if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
            seed = (unsigned int)getpid() ^ (unsigned int)now_ms();
        c->seed = seed;
        pthread_setspecific(conn_key, c);
    }
    return c;
}

int rds_configure(const char *url, const rds_options *opts, rds_err *err)
{
    rds_url u;
    if (rds_url_parse(url, &u, err) != 0)
        return -1;
    rds_options o = {1000, 2000, 50, 2000};
    if (opts) {
        if (opts->connect_timeout_ms < 0 || opts->command_timeout_ms < 0 ||
            opts->backoff_min_ms < 0 || opts->backoff_max_ms < 0)
            return rds_fail(err, RDS_ERR_CONFIG, "redis options: timeouts must not be negative");
        if (opts->connect_timeout_ms)
            o.connect_timeout_ms = opts->connect_timeout_ms;
        if (opts->command_timeout_ms)
            o.command_timeout_ms = opts->command_timeout_ms;
        if (opts->backoff_min_ms)
            o.backoff_min_ms = opts->backoff_min_ms;
        if (opts->backoff_max_ms)
            o.backoff_max_ms = opts->backoff_max_ms;
    }
    if (o.backoff_max_ms < o.backoff_min_ms)
        o.backoff_max_ms = o.backoff_min_ms;
    pthread_mutex_lock(&cfg_mu);
    cfg_url = u;
    cfg_opt = o;
    cfg_set = 1;
    cfg_gen++;
    pthread_mutex_unlock(&cfg_mu);
    return 0;
}

void rds_thread_disconnect(void)
{
    pthread_once(&conn_once, conn_key_init);
    struct conn *c = pthread_getspecific(conn_key);
    if (c && c->ctx) {
        redisFree(c->ctx);
        c->ctx = NULL;
    }
}

/* Drops a dead context; the next call reconnects at once (a connection that
 * worked and broke is worth one immediate retry; backoff starts when
 * connecting fails). */
static void conn_drop(struct conn *c, const char *why)
{
    if (c->ctx) {
        redisFree(c->ctx);
        c->ctx = NULL;
    }
    snprintf(c->last_error, sizeof c->last_error, "%.*s", (int)sizeof c->last_error - 1, why);
}

/* 1 when the server closed or reset the idle socket (e.g. Redis restarted). */
static int peer_closed(redisContext *ctx)
{
    char b;
    ssize_t n = recv(ctx->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0)
        return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    /* 0 is EOF; data nobody asked for means the stream is out of step. */
    return 1;
}

static void connect_failed(struct conn *c, rds_code code, rds_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void connect_failed(struct conn *c, rds_code code, rds_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->last_error, sizeof c->last_error, fmt, ap);
    va_end(ap);
    if (c->ctx) {
        redisFree(c->ctx);
        c->ctx = NULL;
    }
    c->failures++;
    long long delay = c->opt.backoff_min_ms;
    for (int i = 1; i < c->failures && delay < c->opt.backoff_max_ms; i++)
        delay *= 2;
    if (delay > c->opt.backoff_max_ms)
        delay = c->opt.backoff_max_ms;
    /* Equal jitter: half fixed, half random, so threads spread out. */
    long long half = delay / 2;
    delay = half + (half > 0 ? rand_r(&c->seed) % (half + 1) : 0);
    c->retry_at_ms = now_ms() + delay;
    if (!c->down) {
        char addr[300];
        snprintf(addr, sizeof addr, "%s:%d", c->url.host, c->url.port);
        log_kv(LOG_WARN, "redis unavailable", "addr", addr, "error", c->last_error, NULL);
        c->down = 1;
    }
    rds_fail(err, code, "%s", c->last_error);
}

/* Sends argv and reads the reply with SIGPIPE blocked for this thread. */
static redisReply *send_argv(redisContext *ctx, int argc, const char **argv, const size_t *argvlen)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    redisReply *r = redisCommandArgv(ctx, argc, argv, argvlen);
    int saved = errno;
    if (!r && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return r;
}

/* Makes c->ctx usable: connected, authenticated, database selected. */
static int conn_open(struct conn *c, rds_err *err)
{
    const char *host = c->url.host;
    int port = c->url.port;
    c->ctx = redisConnectWithTimeout(host, port, ms_tv(c->opt.connect_timeout_ms));
    if (!c->ctx) {
        connect_failed(c, RDS_ERR_NOMEM, err, "redis %s:%d: out of memory making a context", host,
                       port);
        return -1;
    }
    if (c->ctx->err) {
        connect_failed(c, RDS_ERR_CONN, err, "redis %s:%d: cannot connect: %s", host, port,
                       c->ctx->errstr);
        return -1;
    }
    redisSetTimeout(c->ctx, ms_tv(c->opt.command_timeout_ms));
    redisEnableKeepAlive(c->ctx);
    c->pid = getpid();

    if (c->url.password[0]) {
        const char *auth[] = {"AUTH", c->url.user, c->url.password};
        if (!c->url.user[0])
            auth[1] = c->url.password;
        redisReply *r = send_argv(c->ctx, c->url.user[0] ? 3 : 2, auth, NULL);
        if (!r) {
            connect_failed(c, RDS_ERR_CONN, err, "redis %s:%d: connection lost during AUTH: %s",
                           host, port, c->ctx->errstr);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            char msg[160];
            snprintf(msg, sizeof msg, "%s", r->str);
            freeReplyObject(r);
            connect_failed(c, RDS_ERR_AUTH, err,
                           "redis %s:%d refused AUTH%s%s: %s (check the password in the URL)", host,
                           port, c->url.user[0] ? " as " : "", c->url.user, msg);
            return -1;
        }
        freeReplyObject(r);
    }
    if (c->url.db > 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", c->url.db);
        const char *sel[] = {"SELECT", db};
        redisReply *r = send_argv(c->ctx, 2, sel, NULL);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            rds_code code = r ? RDS_ERR_CONFIG : RDS_ERR_CONN;
            char msg[160];
            snprintf(msg, sizeof msg, "%s", r ? r->str : c->ctx->errstr);
            if (r)
                freeReplyObject(r);
            connect_failed(c, code, err, "redis %s:%d: SELECT %d failed: %s", host, port, c->url.db,
                           msg);
            return -1;
        }
        freeReplyObject(r);
    }
    if (c->down) {
        char addr[300];
        snprintf(addr, sizeof addr, "%s:%d", host, port);
        log_kv(LOG_INFO, "redis reconnected", "addr", addr, NULL);
    }
    c->down = 0;
    c->failures = 0;
    c->retry_at_ms = 0;
    return 0;
}

/* The thread's usable context, or NULL with err set. */
static redisContext *conn_get(struct conn *c, rds_err *err)
{
    pthread_mutex_lock(&cfg_mu);
    int set = cfg_set;
    if (set && c->gen != cfg_gen) {
        conn_drop(c, "configuration changed");
        c->url = cfg_url;
        c->opt = cfg_opt;
        c->gen = cfg_gen;
        c->failures = 0;
        c->retry_at_ms = 0;
        c->down = 0;
    }
    pthread_mutex_unlock(&cfg_mu);
    if (!set) {
        rds_fail(err, RDS_ERR_CONFIG, "redis is not configured: call rds_configure first");
        return NULL;
    }
    if (c->ctx && c->pid != getpid())
        conn_drop(c, "forked: the parent's connection is not ours");
    if (c->ctx && peer_closed(c->ctx))
        conn_drop(c, "server closed the connection");
    if (c->ctx)
        return c->ctx;
    long long wait = c->retry_at_ms - now_ms();
    if (wait > 0) {
        rds_fail(err, RDS_ERR_CONN, "%s; next reconnect attempt in %lld ms", c->last_error, wait);
        return NULL;
    }
    return conn_open(c, err) == 0 ? c->ctx : NULL;
}

redisReply *rds_run(int idempotent, int extra_timeout_ms, int argc, const char **argv,
                    const size_t *argvlen, rds_err *err)
{
    struct conn *c = conn_self();
    if (!c) {
        rds_fail(err, RDS_ERR_NOMEM, "redis: out of memory");
        return NULL;
    }
    const char *cmd = argc > 0 ? argv[0] : "?";
    for (int attempt = 0;; attempt++) {
        redisContext *ctx = conn_get(c, err);
        if (!ctx)
            return NULL;
        if (extra_timeout_ms > 0)
            redisSetTimeout(ctx, ms_tv(c->opt.command_timeout_ms + extra_timeout_ms));
        redisReply *r = send_argv(ctx, argc, argv, argvlen);
        if (r) {
            if (extra_timeout_ms > 0)
                redisSetTimeout(ctx, ms_tv(c->opt.command_timeout_ms));
            if (r->type != REDIS_REPLY_ERROR)
                return r;
            if (strncmp(r->str, "NOAUTH", 6) == 0)
                rds_fail(err, RDS_ERR_AUTH,
                         "redis %s: %s (put the password in the URL: redis://:PASSWORD@host)", cmd,
                         r->str);
            else
                rds_fail(err, RDS_ERR_REPLY, "redis %s: %s", cmd, r->str);
            freeReplyObject(r);
            return NULL;
        }
        int timed_out = ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
        char why[220];
        if (timed_out)
            snprintf(why, sizeof why, "redis %s timed out after %d ms", cmd,
                     c->opt.command_timeout_ms + (extra_timeout_ms > 0 ? extra_timeout_ms : 0));
        else
            snprintf(why, sizeof why, "redis %s: connection lost: %s", cmd, ctx->errstr);
        conn_drop(c, why);
        /* A timed-out command may still run; only an idempotent one is
         * resent, and only once. */
        if (!idempotent || attempt > 0) {
            rds_fail(err, RDS_ERR_CONN, "%s", why);
            return NULL;
        }
    }
}

redisReply *rds_command_argv(int idempotent, int argc, const char **argv, const size_t *argvlen,
                             rds_err *err)
{
    if (argc <= 0 || !argv) {
        rds_fail(err, RDS_ERR_ARG, "redis command: no arguments");
        return NULL;
    }
    return rds_run(idempotent, 0, argc, argv, argvlen, err);
}

redisReply *rds_command(int idempotent, rds_err *err, const char *fmt, ...)
{
    /* Format once with hiredis, then split back into argv so every command
     * goes through the same runner (and the same retry). */
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0 || !cmd) {
        rds_fail(err, RDS_ERR_ARG, "redis command: bad format string");
        return NULL;
    }
    redisReply *r = NULL;
    redisReader *rd = redisReaderCreate();
    void *parsed = NULL;
    if (rd && redisReaderFeed(rd, cmd, (size_t)len) == REDIS_OK &&
        redisReaderGetReply(rd, &parsed) == REDIS_OK && parsed) {
        redisReply *a = parsed;
        if (a->type == REDIS_REPLY_ARRAY && a->elements > 0) {
            const char **argv = calloc(a->elements, sizeof *argv);
            size_t *lens = calloc(a->elements, sizeof *lens);
            if (argv && lens) {
                for (size_t i = 0; i < a->elements; i++) {
                    argv[i] = a->element[i]->str;
                    lens[i] = a->element[i]->len;
                }
                r = rds_run(idempotent, 0, (int)a->elements, argv, lens, err);
            } else {
                rds_fail(err, RDS_ERR_NOMEM, "redis: out of memory");
            }
            free(argv);
            free(lens);
        } else {
            rds_fail(err, RDS_ERR_ARG, "redis command: empty command");
        }
        freeReplyObject(parsed);
    } else {
        rds_fail(err, RDS_ERR_NOMEM, "redis command: could not re-read formatted command");
    }
    if (rd)
        redisReaderFree(rd);
    redisFreeCommand(cmd);
    return r;
}

redisReply *rds_eval(const char *script, int idempotent, int nkeys, const char *const *keys,
                     int nargs, const char *const *args, rds_err *err)
{
    if (!script || nkeys < 0 || nargs < 0) {
        rds_fail(err, RDS_ERR_ARG, "redis eval: bad arguments");
        return NULL;
    }
    int argc = 3 + nkeys + nargs;
    const char **argv = calloc((size_t)argc, sizeof *argv);
    if (!argv) {
        rds_fail(err, RDS_ERR_NOMEM, "redis: out of memory");
        return NULL;
    }
    char sha[41], nk[16];
    rds_script_sha(script, sha);
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[0] = "EVALSHA";
    argv[1] = sha;
    argv[2] = nk;
    for (int i = 0; i < nkeys; i++)
        argv[3 + i] = keys[i];
    for (int i = 0; i < nargs; i++)
        argv[3 + nkeys + i] = args[i];
    rds_err local;
    redisReply *r = rds_run(idempotent, 0, argc, argv, NULL, &local);
    if (!r && local.code == RDS_ERR_REPLY && strstr(local.msg, "NOSCRIPT")) {
        /* EVAL runs the script and caches it for the next EVALSHA. */
        argv[0] = "EVAL";
        argv[1] = script;
        r = rds_run(idempotent, 0, argc, argv, NULL, &local);
    }
    free(argv);
    if (!r && err)
        *err = local;
    return r;
}

int rds_take_integer(redisReply *r, const char *what, int64_t *out, rds_err *err)
{
    if (!r)
        return -1;
    int ok = r->type == REDIS_REPLY_INTEGER;
    if (ok)
        *out = (int64_t)r->integer;
    freeReplyObject(r);
    return ok ? 0 : rds_fail(err, RDS_ERR_PROTO, "redis %s: expected an integer reply", what);
}
