/*
 * The start-up and shutdown every campsync service shares, so each main.c
 * holds only what is its own: its option table, its handler table and the
 * function that builds its state.
 *
 * svc_main parses the common options (--listen, --redis, --metrics,
 * --log-level, TLS, bearer token, shutdown grace, ...) together with the
 * service's own, sets up logging, Redis, the /metrics endpoint and the gRPC
 * server with health, installs SIGTERM/SIGINT
 * handling, serves until told to stop, drains, tears down and returns the
 * process exit code (0 after a clean shutdown, 2 for bad configuration, 1
 * when it could not start).
 *
 * Health: "" (overall) and the service's own entry are SERVING only while
 * Redis answers (a watcher pings it every couple of seconds); "liveness"
 * stays SERVING until shutdown, so Kubernetes restarts a pod only when the
 * process itself is stuck, and stops routing to it while Redis is gone.
 */
#ifndef CAMPSYNC_SERVICE_H
#define CAMPSYNC_SERVICE_H

#include <stddef.h>

#include "config/config.h"
#include "rpc/rpc_server.h"

typedef struct svc_def {
    const char *name;          /* process name, e.g. "campsync-marketo" (log "svc") */
    const char *summary;       /* one line for --help */
    const cfg_option *options; /* the service's own options ({0}-terminated), or NULL */
    const ProtobufCServiceDescriptor *descriptor;
    const rpc_method *methods;
    size_t n_methods;
    /*
     * Builds the service's state from the loaded configuration, after
     * logging and Redis are set up (connectors start their HTTP client here,
     * see service_http.h); the returned pointer is the handlers'
     * rpc_call_service_data. On failure returns NULL and writes why into err.
     * May be NULL when the service has no state.
     */
    void *(*setup)(const cfg *config, rpc_server *server, char *err, size_t err_len);
    /* Releases what setup built, after the server has drained. May be NULL. */
    void (*teardown)(void *state);
} svc_def;

/* Runs the service; returns the process exit code. */
int svc_main(const svc_def *def, int argc, char **argv);

#endif
