/*
 * The campsync stack for integration tests: a redis-server, the vendor
 * sandbox and any of the four services, each a real process on loopback,
 * wired to each other the way production wires them (connector URLs, Redis
 * URL, credentials from files). Tests then talk gRPC to the services and
 * read or change the vendors' state through the sandbox's admin API.
 *
 * Everything is torn down by ts_stack_free (and, as ts_proc children, at
 * exit even when a test aborts).
 */
#ifndef CAMPSYNC_TS_STACK_H
#define CAMPSYNC_TS_STACK_H

#include <jansson.h>

#include "ts.h"

typedef enum {
    TS_SVC_MARKETO = 0,
    TS_SVC_SALESFORCE,
    TS_SVC_RECONCILER,
    TS_SVC_ATTRIBUTION,
    TS_SVC_COUNT
} ts_svc;

typedef struct ts_stack_opts {
    const char
        *dataset; /* source-relative dataset file, e.g. "tests/sandbox/datasets/small.json" */
    const char *generate;   /* or a generator spec, e.g. "people=2000,programs=2,members=500" */
    int seed;               /* sandbox --seed (faults, generator) */
    unsigned services;      /* bit (1u << ts_svc) for every service to start */
    const char *const *env; /* extra "KEY=VALUE" for every service (may be NULL) */
    int redis_appendonly;   /* 1: Redis keeps its data across ts_redis_kill + restart */
} ts_stack_opts;

typedef struct ts_stack {
    char dir[512];
    ts_redis *redis;
    ts_proc *sandbox;
    char marketo_url[128], salesforce_url[128], admin_url[128];
    ts_proc *svc[TS_SVC_COUNT];
    char target[TS_SVC_COUNT][64]; /* "127.0.0.1:<port>" of each started service */
    char secrets[4][600];          /* credential files handed to the connectors */
    const char *const *opts_env;   /* ts_stack_opts.env */
} ts_stack;

/* Starts everything asked for and waits until each service is SERVING.
 * NULL (with a message on stderr) when anything fails to start. */
ts_stack *ts_stack_start(const ts_stack_opts *opts);

/* Starts (or restarts, after ts_proc_stop / a kill) one service on its port. */
int ts_stack_start_service(ts_stack *s, ts_svc svc, const char *const *extra_env);

/* Stops everything and removes the temp dir. NULL ok. */
void ts_stack_free(ts_stack *s);

/*
 * An HTTP call to the sandbox's admin API ("/admin/state", "/admin/faults",
 * ...). body may be NULL. Returns the parsed JSON answer (caller decrefs) or
 * NULL; *status gets the HTTP status when status is not NULL.
 */
json_t *ts_admin(const ts_stack *s, const char *method, const char *path, const char *body,
                 int *status);

#endif
