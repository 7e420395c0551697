/*
 * svc_main: configuration, logging, Redis, metrics, the gRPC server,
 * signals and the Redis health watcher, in the one order every service needs.
 * Kept here so the four main.c files cannot drift apart.
 */
#include "service/service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log.h"
#include "metrics/metrics.h"
#include "redis/redis.h"

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

/* Options every service takes; the service's own follow them. */
static const cfg_option common_options[] = {
    {.name = "listen",
     .type = CFG_ADDR,
     .def = "0.0.0.0:50051",
     .help = "gRPC listen address (port 0 picks a free port)"},
    {.name = "redis",
     .type = CFG_STRING,
     .def = "redis://127.0.0.1:6379/0",
     .help = "Redis URL redis://[[user]:password@]host[:port][/db]",
     .env = "CAMPSYNC_REDIS_URL"},
    {.name = "metrics",
     .type = CFG_ADDR,
     .def = "0.0.0.0:9090",
     .help = "Prometheus /metrics listen address"},
    {.name = "log-level",
     .type = CFG_ENUM,
     .def = "info",
     .help = "lowest log level printed",
     .choices = log_levels},
    {.name = "workers",
     .type = CFG_INT,
     .def = "4",
     .help = "gRPC worker threads (one completion queue each)",
     .min = 1,
     .max = 64},
    {.name = "max-message-bytes",
     .type = CFG_INT,
     .def = "4194304",
     .help = "largest gRPC request or response",
     .min = 1024,
     .max = 268435456},
    {.name = "max-connection-age-ms",
     .type = CFG_DURATION_MS,
     .def = "5m",
     .help = "clients reconnect (and re-resolve) after this; 0 = never"},
    {.name = "max-connection-age-grace-ms",
     .type = CFG_DURATION_MS,
     .def = "15m",
     .help = "calls running when a connection reaches its age finish within this (a "
             "SyncNow of a large pair takes minutes)"},
    {.name = "shutdown-grace-ms",
     .type = CFG_DURATION_MS,
     .def = "10s",
     .help = "time in-flight calls get to finish on SIGTERM before they are cancelled"},
    {.name = "tls-cert",
     .type = CFG_STRING,
     .def = NULL,
     .help = "server certificate chain (PEM file); enables TLS"},
    {.name = "tls-key", .type = CFG_STRING, .def = NULL, .help = "server private key (PEM file)"},
    {.name = "tls-client-ca",
     .type = CFG_STRING,
     .def = NULL,
     .help = "CA (PEM file) client certificates must chain to (mTLS)"},
    {.name = "auth-token",
     .type = CFG_STRING,
     .def = NULL,
     .help =
         "bearer token every call must carry (health exempt); from a file with --auth-token-file",
     .flags = CFG_SECRET},
};
#define N_COMMON (sizeof common_options / sizeof common_options[0])

static cfg_option *merged_options(const cfg_option *own)
{
    size_t n_own = 0;
    while (own && own[n_own].name)
        n_own++;
    cfg_option *all = calloc(N_COMMON + n_own + 1, sizeof *all);
    if (!all)
        return NULL;
    memcpy(all, common_options, sizeof common_options);
    if (n_own)
        memcpy(all + N_COMMON, own, n_own * sizeof *own);
    return all;
}

static void observe_rpc(void *user, const char *method, int code, double seconds)
{
    (void)user;
    metrics_rpc_observe(method, code, seconds);
}

/* Pings Redis every couple of seconds and mirrors the answer in health, so
 * Kubernetes stops routing to a replica that cannot reach shared state. */
struct redis_watch {
    rpc_server *server;
    const char *service_name;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static void *redis_watch_run(void *arg)
{
    struct redis_watch *w = arg;
    int last = -1;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        pthread_mutex_unlock(&w->mu);
        rds_err e = {0};
        redisReply *r = rds_command(1, &e, "PING");
        int up = r != NULL;
        if (r)
            freeReplyObject(r);
        else
            metrics_redis_error("ping");
        if (up != last) {
            rpc_health_status st = up ? RPC_HEALTH_SERVING : RPC_HEALTH_NOT_SERVING;
            rpc_health_set(w->server, "", st);
            rpc_health_set(w->server, w->service_name, st);
            if (up)
                log_kv(LOG_INFO, "redis reachable: serving", NULL);
            else
                log_kv(LOG_WARN, "redis unreachable: not serving until it answers", "error", e.msg,
                       NULL);
            last = up;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 2;
        pthread_mutex_lock(&w->mu);
        if (!w->stop)
            pthread_cond_timedwait(&w->cv, &w->mu, &until);
    }
    pthread_mutex_unlock(&w->mu);
    rds_thread_disconnect();
    return NULL;
}

static int start_rpc(const svc_def *def, const cfg *c, rpc_server **out, char *err, size_t n)
{
    rpc_server_opts o = {
        .listen_addr = cfg_str(c, "listen"),
        .workers = (int)cfg_int(c, "workers"),
        .max_message_bytes = (size_t)cfg_int(c, "max-message-bytes"),
        .max_connection_age_ms = cfg_duration_ms(c, "max-connection-age-ms"),
        .max_connection_age_grace_ms = cfg_duration_ms(c, "max-connection-age-grace-ms"),
        .shutdown_grace_ms = cfg_duration_ms(c, "shutdown-grace-ms"),
        .tls_cert_file = cfg_str(c, "tls-cert"),
        .tls_key_file = cfg_str(c, "tls-key"),
        .tls_client_ca_file = cfg_str(c, "tls-client-ca"),
        .bearer_token = cfg_str(c, "auth-token"),
    };
    if ((o.tls_cert_file == NULL) != (o.tls_key_file == NULL)) {
        snprintf(err, n, "CAMPSYNC_TLS_CERT and CAMPSYNC_TLS_KEY must be given together");
        return -1;
    }
    if (o.tls_client_ca_file && !o.tls_cert_file) {
        snprintf(err, n, "CAMPSYNC_TLS_CLIENT_CA needs CAMPSYNC_TLS_CERT and CAMPSYNC_TLS_KEY");
        return -1;
    }
    rpc_error e = {0};
    if (rpc_server_create(out, &o, &e) != 0) {
        snprintf(err, n, "gRPC server: %.400s", e.message);
        return -1;
    }
    rpc_server_set_observer(*out, observe_rpc, NULL);
    return 0;
}

int svc_main(const svc_def *def, int argc, char **argv)
{
    cfg_option *opts = merged_options(def->options);
    if (!opts) {
        fprintf(stderr, "%s: out of memory\n", def->name);
        return 1;
    }
    cfg *c = NULL;
    cfg_error ce = {{0}};
    int rc = cfg_load(opts, argc, argv, &c, &ce);
    if (rc == CFG_HELP) {
        printf("%s: %s\n\n", def->name, def->summary);
        cfg_help(stdout, def->name, opts);
        free(opts);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", def->name, ce.msg);
        free(opts);
        return 2;
    }
    log_init(def->name, (log_level)cfg_enum(c, "log-level"));
    cfg_log(c);

    int exit_code = 1;
    char err[512] = "";
    rpc_server *srv = NULL;
    metrics_server *ms = NULL;
    void *state = NULL;
    int watcher_started = 0;
    struct redis_watch watch = {.service_name = def->descriptor->name,
                                .mu = PTHREAD_MUTEX_INITIALIZER,
                                .cv = PTHREAD_COND_INITIALIZER};
    pthread_t watcher;

    rds_err re = {0};
    if (rds_configure(cfg_str(c, "redis"), NULL, &re) != 0) {
        snprintf(err, sizeof err, "CAMPSYNC_REDIS_URL: %s", re.msg);
        exit_code = 2;
        goto out;
    }
    metrics_error me = {{0}};
    ms = metrics_serve(metrics_default(), cfg_str(c, "metrics"), &me);
    if (!ms) {
        snprintf(err, sizeof err, "CAMPSYNC_METRICS: %s", me.msg);
        goto out;
    }
    if (start_rpc(def, c, &srv, err, sizeof err) != 0)
        goto out;
    if (def->setup) {
        state = def->setup(c, srv, err, sizeof err);
        if (!state)
            goto out;
    }
    rpc_error e = {0};
    if (rpc_server_add_service(srv, def->descriptor, def->methods, def->n_methods, state, &e) ||
        rpc_server_install_signal_handlers(srv, &e) || rpc_server_start(srv, &e)) {
        snprintf(err, sizeof err, "gRPC server: %.400s", e.message);
        goto out;
    }
    watch.server = srv;
    if (pthread_create(&watcher, NULL, redis_watch_run, &watch) == 0)
        watcher_started = 1;

    char port[16], mport[16];
    snprintf(port, sizeof port, "%d", rpc_server_port(srv));
    snprintf(mport, sizeof mport, "%d", metrics_server_port(ms));
    log_kv(LOG_INFO, "serving", "service", def->descriptor->name, "grpc_port", port, "metrics_port",
           mport, NULL);
    exit_code = rpc_server_run(srv);
    log_kv(LOG_INFO, "stopped", NULL);

out:
    if (err[0])
        log_kv(LOG_ERROR, "cannot start", "error", err, NULL);
    if (watcher_started) {
        pthread_mutex_lock(&watch.mu);
        watch.stop = 1;
        pthread_cond_signal(&watch.cv);
        pthread_mutex_unlock(&watch.mu);
        pthread_join(watcher, NULL);
    }
    if (srv)
        rpc_server_destroy(srv);
    if (state && def->teardown)
        def->teardown(state);
    metrics_server_stop(ms);
    rds_thread_disconnect();
    cfg_free(c);
    free(opts);
    return exit_code;
}
