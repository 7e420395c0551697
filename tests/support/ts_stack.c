/*
 * ts_stack: redis-server + campsync-sandbox + services as real processes,
 * wired like production (see ts_stack.h).
 */
#include "ts_stack.h"
#include "ts_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "rpc/rpc_client.h"

/* The sandbox's default credentials (tests/sandbox/README.md). */
#define SBX_MKTO_CLIENT "sbx-mkto-client"
#define SBX_MKTO_SECRET "sbx-mkto-secret"
#define SBX_SF_CLIENT "sbx-sf-client"
#define SBX_SF_SECRET "sbx-sf-secret"

static const char *const svc_binary[TS_SVC_COUNT] = {"campsync-marketo", "campsync-salesforce",
                                                     "campsync-reconciler", "campsync-attribution"};

static int json_line_url(const char *line, const char *key, char *out, size_t cap)
{
    json_error_t je;
    json_t *j = json_loads(line, 0, &je);
    const char *v = j ? json_string_value(json_object_get(j, key)) : NULL;
    int rc = v && strlen(v) < cap ? 0 : -1;
    if (rc == 0)
        snprintf(out, cap, "%s", v);
    json_decref(j);
    return rc;
}

static int start_sandbox(ts_stack *s, const ts_stack_opts *o)
{
    char bin[512], dataset[512], seed[24];
    if (ts_bin_path("campsync-sandbox", bin, sizeof bin) != 0)
        return -1;
    snprintf(seed, sizeof seed, "%d", o->seed);
    const char *argv[16] = {bin,           "--marketo", "127.0.0.1:0", "--salesforce",
                            "127.0.0.1:0", "--admin",   "127.0.0.1:0", "--seed",
                            seed};
    int n = 9;
    if (o->dataset) {
        if (ts_source_path(o->dataset, dataset, sizeof dataset) != 0)
            return -1;
        argv[n++] = "--dataset";
        argv[n++] = dataset;
    } else if (o->generate) {
        argv[n++] = "--generate";
        argv[n++] = o->generate;
    }
    argv[n] = NULL;
    s->sandbox = ts_proc_spawn(argv, NULL, s->dir, "sandbox");
    char line[1024];
    if (!s->sandbox || ts_proc_first_line(s->sandbox, line, sizeof line, 60000) != 0)
        return -1;
    if (json_line_url(line, "marketo", s->marketo_url, sizeof s->marketo_url) ||
        json_line_url(line, "salesforce", s->salesforce_url, sizeof s->salesforce_url) ||
        json_line_url(line, "admin", s->admin_url, sizeof s->admin_url)) {
        fprintf(stderr, "ts: sandbox printed an unexpected line: %s\n", line);
        return -1;
    }
    return 0;
}

static int write_secret(ts_stack *s, int slot, const char *name, const char *value)
{
    snprintf(s->secrets[slot], sizeof s->secrets[slot], "%s/%s", s->dir, name);
    return ts_write_file(s->secrets[slot], value, 0, 0600);
}

/* Waits until the service answers SERVING on "" (Redis reachable too). */
static int wait_serving(const char *target, int timeout_ms)
{
    long long until = ts_now_ms() + timeout_ms;
    rpc_client_opts co = {.default_timeout_ms = 1000};
    rpc_error err = {0};
    rpc_client *c = rpc_client_get(target, &co, &err);
    while (c && ts_now_ms() < until) {
        Grpc__Health__V1__HealthCheckRequest rq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
        ProtobufCMessage *out = NULL;
        if (rpc_client_unary(c, &grpc__health__v1__health__descriptor, "Check", &rq.base, &out,
                             NULL, &err) == 0) {
            int st = ((Grpc__Health__V1__HealthCheckResponse *)out)->status;
            protobuf_c_message_free_unpacked(out, NULL);
            if (st == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING)
                return 0;
        }
        ts_sleep_ms(50);
    }
    fprintf(stderr, "ts: %s never became SERVING: %s\n", target, err.message);
    return -1;
}

int ts_stack_start_service(ts_stack *s, ts_svc svc, const char *const *extra_env)
{
    char bin[512], listen[64], redis_env[256];
    if (ts_bin_path(svc_binary[svc], bin, sizeof bin) != 0)
        return -1;
    if (!s->target[svc][0]) {
        int port = ts_free_port();
        if (port < 0)
            return -1;
        snprintf(s->target[svc], sizeof s->target[svc], "127.0.0.1:%d", port);
    }
    snprintf(listen, sizeof listen, "%s", s->target[svc]);
    snprintf(redis_env, sizeof redis_env, "CAMPSYNC_REDIS_URL=%s", ts_redis_url(s->redis));
    char vars[8][700];
    int nv = 0;
    switch (svc) {
    case TS_SVC_MARKETO:
        snprintf(vars[nv++], sizeof vars[0], "CAMPSYNC_ALLOW_PLAIN_HTTP=true");
        snprintf(vars[nv++], sizeof vars[0], "CAMPSYNC_MARKETO_URL=%s", s->marketo_url);
        snprintf(vars[nv++], sizeof vars[0], "CAMPSYNC_MARKETO_IDENTITY_URL=%s/identity",
                 s->marketo_url);
        snprintf(vars[nv++], sizeof vars[0], "CAMPSYNC_MARKETO_CLIENT_ID=%s", SBX_MKTO_CLIENT);
        snprintf(vars[nv++], sizeof vars[0], "CAMPSYNC_MARKETO_CLIENT_SECRET_FILE=%s",
                 s->secrets[0]);
        break;
    case TS_SVC_SALESFORCE:
        snprintf(vars[nv++], sizeof vars[0], "CAMPSYNC_ALLOW_PLAIN_HTTP=true");
        snprintf(vars[nv++], sizeof vars[0], "CAMPSYNC_SALESFORCE_LOGIN_URL=%s", s->salesforce_url);
        snprintf(vars[nv++], sizeof vars[0], "CAMPSYNC_SALESFORCE_CLIENT_ID=%s", SBX_SF_CLIENT);
        snprintf(vars[nv++], sizeof vars[0], "CAMPSYNC_SALESFORCE_CLIENT_SECRET_FILE=%s",
                 s->secrets[1]);
        break;
    case TS_SVC_RECONCILER:
    case TS_SVC_ATTRIBUTION:
        snprintf(vars[nv++], sizeof vars[0], "CAMPSYNC_MARKETO_CONNECTOR=%s",
                 s->target[TS_SVC_MARKETO]);
        snprintf(vars[nv++], sizeof vars[0], "CAMPSYNC_SALESFORCE_CONNECTOR=%s",
                 s->target[TS_SVC_SALESFORCE]);
        snprintf(vars[nv++], sizeof vars[0], "CAMPSYNC_RECONCILER=%s",
                 s->target[TS_SVC_RECONCILER]);
        break;
    default:
        return -1;
    }
    /* The first of two equal names wins (getenv): a restart's extra_env
     * overrides the stack's env, which overrides the wiring. */
    const char *env[32];
    int ne = 0;
    for (int i = 0; extra_env && extra_env[i] && ne < 8; i++)
        env[ne++] = extra_env[i];
    for (int i = 0; s->opts_env && s->opts_env[i] && ne < 22; i++)
        env[ne++] = s->opts_env[i];
    env[ne++] = redis_env;
    for (int i = 0; i < nv; i++)
        env[ne++] = vars[i];
    env[ne] = NULL;
    const char *argv[] = {bin, "--listen", listen, "--metrics", "127.0.0.1:0", NULL};
    if (s->svc[svc])
        ts_proc_free(s->svc[svc]);
    s->svc[svc] = ts_proc_spawn(argv, env, s->dir, svc_binary[svc]);
    if (!s->svc[svc])
        return -1;
    if (wait_serving(s->target[svc], 20000) != 0) {
        ts_proc_dump_stderr(s->svc[svc], 4000);
        return -1;
    }
    return 0;
}

ts_stack *ts_stack_start(const ts_stack_opts *o)
{
    ts_stack *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->opts_env = o->env;
    ts_redis_opts ro = {.appendonly = o->redis_appendonly};
    if (ts_tmpdir_make("stack", s->dir, sizeof s->dir) != 0 || !(s->redis = ts_redis_start(&ro)) ||
        start_sandbox(s, o) != 0 || write_secret(s, 0, "marketo_client_secret", SBX_MKTO_SECRET) ||
        write_secret(s, 1, "salesforce_client_secret", SBX_SF_SECRET))
        goto fail;
    /* Reserve every port first so services can name each other. */
    for (int i = 0; i < TS_SVC_COUNT; i++) {
        int port = ts_free_port();
        if (port < 0)
            goto fail;
        snprintf(s->target[i], sizeof s->target[i], "127.0.0.1:%d", port);
    }
    for (int i = 0; i < TS_SVC_COUNT; i++)
        if ((o->services & (1u << i)) && ts_stack_start_service(s, (ts_svc)i, NULL) != 0)
            goto fail;
    return s;
fail:
    if (s->sandbox)
        ts_proc_dump_stderr(s->sandbox, 2000);
    ts_stack_free(s);
    return NULL;
}

void ts_stack_free(ts_stack *s)
{
    if (!s)
        return;
    for (int i = 0; i < TS_SVC_COUNT; i++)
        if (s->svc[i]) {
            ts_proc_stop(s->svc[i], 15000);
            ts_proc_free(s->svc[i]);
        }
    if (s->sandbox) {
        ts_proc_stop(s->sandbox, 5000);
        ts_proc_free(s->sandbox);
    }
    ts_redis_free(s->redis);
    if (s->dir[0])
        ts_tmpdir_remove(s->dir);
    free(s);
}

json_t *ts_admin(const ts_stack *s, const char *method, const char *path, const char *body,
                 int *status)
{
    ts_http_res r = ts_http_at(method, s->admin_url, path, body, NULL);
    if (status)
        *status = (int)r.status;
    if (r.transport_error)
        fprintf(stderr, "ts: admin %s %s: %s\n", method, path, r.transport_error);
    json_t *j = json_incref(r.json);
    ts_http_res_free(&r);
    return j;
}
