/*
 * campsync-marketo against the sandbox's Marketo simulator, over real HTTP
 * and real gRPC: redis-server, campsync-sandbox (tests/sandbox/datasets/
 * small.json) and campsync-marketo processes on free loopback ports, called
 * with common/rpc's client. Covers every RPC, request validation, every
 * fault the sandbox can inject (expired token, 606 storms, 615, 5xx,
 * 608/713, malformed and cut answers, the daily quota), the fewest-calls
 * rules (300 per batch, dedupe, nothing fetched twice) and three connector
 * processes sharing one budget without making the sandbox answer 606/615.
 */
#include "ts.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>

#include "campsync/v1/marketo.pb-c.h"
#include "redis/redis.h"
#include "rpc/rpc_client.h"

#define SVC (&campsync__v1__marketo_connector__descriptor)
#define CLIENT_ID "sbx-mkto-client"
#define CLIENT_SECRET "sbx-mkto-secret"

typedef struct connector {
    ts_proc *proc;
    int port, metrics_port;
    char target[64];
    rpc_client *rpc;
} connector;

typedef struct world {
    char dir[PATH_MAX];
    ts_redis *redis;
    ts_proc *sandbox;
    char mkto[128], admin[128];
    connector main;
} world;

static world *W;

/* ---- HTTP to the sandbox's admin API and the connectors' /metrics ---- */

typedef struct {
    long status;
    char *body;
    size_t len;
} http_res;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    http_res *r = ud;
    size_t add = size * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, ptr, add);
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

static http_res http(const char *method, const char *url, const char *body)
{
    http_res r = {0};
    CURL *c = curl_easy_init();
    if (!c)
        return r;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

/* Admin call that must answer 200; returns the parsed body (caller decrefs). */
static json_t *admin(const char *method, const char *path, const char *body)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", W->admin, path);
    http_res r = http(method, url, body);
    if (r.status != 200)
        fprintf(stderr, "admin %s %s -> %ld %s\n", method, path, r.status, r.body ? r.body : "");
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    free(r.body);
    assert_non_null(j);
    return j;
}

static void admin_do(const char *method, const char *path, const char *body)
{
    json_decref(admin(method, path, body));
}

/* Calls the sandbox counted for one Marketo endpoint label (0 when none). */
static long long sbx_calls(const char *label)
{
    json_t *j = admin("GET", "/admin/calls", NULL);
    long long n = json_integer_value(json_object_get(json_object_get(j, "marketo"), label));
    json_decref(j);
    return n;
}

/* Every REST call the sandbox received (identity excluded). */
static long long sbx_rest_calls(void)
{
    json_t *j = admin("GET", "/admin/calls", NULL);
    const char *k;
    json_t *v;
    long long n = 0;
    json_object_foreach(json_object_get(j, "marketo"), k, v)
    {
        if (!strstr(k, "/identity/"))
            n += json_integer_value(v);
    }
    json_decref(j);
    return n;
}

/* Calls the sandbox let through its limits today. */
static long long sbx_today(void)
{
    json_t *j = admin("POST", "/admin/marketo/limits", "{}");
    long long n = json_integer_value(json_object_get(json_object_get(j, "usage"), "today"));
    json_decref(j);
    return n;
}

/* Sum of a connector's campsync_vendor_api_errors_total for one Marketo code. */
static long long vendor_errors(const connector *c, const char *code)
{
    char url[128], needle[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", c->metrics_port);
    snprintf(needle, sizeof needle, "code=\"%s\"}", code);
    http_res r = http("GET", url, NULL);
    assert_int_equal(r.status, 200);
    long long n = 0;
    for (char *line = strtok(r.body, "\n"); line; line = strtok(NULL, "\n")) {
        char *p = strstr(line, needle);
        if (strncmp(line, "campsync_vendor_api_errors_total{", 33) == 0 && p)
            n += atoll(p + strlen(needle));
    }
    free(r.body);
    return n;
}

/* ---- processes ---- */

static int connector_start(connector *c, const char *const *extra_env, const char *name)
{
    char bin[PATH_MAX], secret[PATH_MAX + 16];
    if (ts_bin_path("campsync-marketo", bin, sizeof bin) != 0)
        return -1;
    snprintf(secret, sizeof secret, "%s/mkto-secret", W->dir);
    c->port = ts_free_port();
    c->metrics_port = ts_free_port();
    char listen[64], metrics[64], url[200], redis[200], secret_env[PATH_MAX + 64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", c->port);
    snprintf(metrics, sizeof metrics, "127.0.0.1:%d", c->metrics_port);
    snprintf(url, sizeof url, "CAMPSYNC_MARKETO_URL=%s", W->mkto);
    snprintf(redis, sizeof redis, "CAMPSYNC_REDIS_URL=%s", ts_redis_url(W->redis));
    snprintf(secret_env, sizeof secret_env, "CAMPSYNC_MARKETO_CLIENT_SECRET_FILE=%s", secret);
    /* The caller's settings first: the first of two equal keys wins. */
    const char *env[20];
    size_t ne = 0;
    for (size_t i = 0; extra_env && extra_env[i] && ne < 10; i++)
        env[ne++] = extra_env[i];
    env[ne++] = url;
    env[ne++] = redis;
    env[ne++] = secret_env;
    env[ne++] = "CAMPSYNC_MARKETO_CLIENT_ID=" CLIENT_ID;
    env[ne++] = "CAMPSYNC_LOG_LEVEL=warn";
    env[ne++] = "CAMPSYNC_ALLOW_PLAIN_HTTP=true"; /* the sandbox speaks http:// */
    env[ne] = NULL;
    const char *argv[] = {bin, "--listen", listen, "--metrics", metrics, NULL};
    c->proc = ts_proc_spawn(argv, env, W->dir, name);
    if (!c->proc || ts_wait_port(c->port, 20000) != 0)
        return -1;
    snprintf(c->target, sizeof c->target, "127.0.0.1:%d", c->port);
    rpc_error err;
    rpc_client_opts o = {.default_timeout_ms = 60000};
    c->rpc = rpc_client_get(c->target, &o, &err);
    return c->rpc ? 0 : -1;
}

/* Stops a connector with SIGTERM; 1 when it exited cleanly (status 0: no
 * crash, no sanitizer report), else 0 with its stderr printed. */
static int connector_stop(connector *c)
{
    if (!c->proc)
        return 1;
    int st = ts_proc_stop(c->proc, 10000);
    int clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!clean)
        ts_proc_dump_stderr(c->proc, 4000);
    ts_proc_free(c->proc);
    c->proc = NULL;
    return clean;
}

static int world_up(void **state)
{
    (void)state;
    W = calloc(1, sizeof *W);
    if (!W || ts_tmpdir_make("mkto-conn", W->dir, sizeof W->dir) != 0)
        return -1;
    char secret[PATH_MAX + 16];
    snprintf(secret, sizeof secret, "%s/mkto-secret", W->dir);
    if (ts_write_file(secret, CLIENT_SECRET "\n", 0, 0600) != 0)
        return -1;
    W->redis = ts_redis_start(NULL);
    if (!W->redis)
        return -1;
    rds_err re;
    if (rds_configure(ts_redis_url(W->redis), NULL, &re) != 0)
        return -1;
    char bin[PATH_MAX], dataset[PATH_MAX];
    if (ts_bin_path("campsync-sandbox", bin, sizeof bin) != 0 ||
        ts_source_path("tests/sandbox/datasets/small.json", dataset, sizeof dataset) != 0)
        return -1;
    const char *argv[] = {bin,         "--marketo", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                          "--dataset", dataset,     "--seed",      "7",       NULL};
    W->sandbox = ts_proc_spawn(argv, NULL, W->dir, "sandbox");
    char line[1024];
    if (!W->sandbox || ts_proc_first_line(W->sandbox, line, sizeof line, 20000) != 0)
        return -1;
    json_t *urls = json_loads(line, 0, NULL);
    const char *m = json_string_value(json_object_get(urls, "marketo"));
    const char *a = json_string_value(json_object_get(urls, "admin"));
    if (!m || !a)
        return -1;
    snprintf(W->mkto, sizeof W->mkto, "%s", m);
    snprintf(W->admin, sizeof W->admin, "%s", a);
    json_decref(urls);
    static const char *const env[] = {"CAMPSYNC_MARKETO_CALLS_PER_20S=100", NULL};
    return connector_start(&W->main, env, "marketo");
}

static int world_down(void **state)
{
    (void)state;
    if (!W)
        return 0;
    rpc_client_cleanup();
    connector_stop(&W->main);
    if (W->sandbox) {
        ts_proc_stop(W->sandbox, 5000);
        ts_proc_free(W->sandbox);
    }
    if (W->redis)
        ts_redis_free(W->redis);
    ts_tmpdir_remove(W->dir);
    free(W);
    W = NULL;
    return 0;
}

/* Fresh sandbox data, no faults, counters at zero. */
static int fresh(void **state)
{
    (void)state;
    admin_do("POST", "/admin/reset", NULL);
    admin_do("DELETE", "/admin/faults", NULL);
    /* The reset forgot the connector's token: one call re-authenticates
     * (601, new token, retry) so the tests count only their own calls. */
    Campsync__V1__ListChannelsRequest rq = CAMPSYNC__V1__LIST_CHANNELS_REQUEST__INIT;
    rq.name = "Webinar";
    ProtobufCMessage *out = NULL;
    rpc_error err;
    rpc_call_opts o = {.timeout_ms = 60000};
    if (rpc_client_unary(W->main.rpc, SVC, "ListChannels", &rq.base, &out, &o, &err) != 0) {
        fprintf(stderr, "warm-up: %s\n", err.message);
        return -1;
    }
    protobuf_c_message_free_unpacked(out, NULL);
    admin_do("DELETE", "/admin/calls", NULL);
    return 0;
}

/* ---- gRPC helpers ---- */

static int unary_on(const connector *c, const char *method, const ProtobufCMessage *rq,
                    ProtobufCMessage **out, int64_t timeout_ms, rpc_error *err)
{
    rpc_call_opts o = {.timeout_ms = timeout_ms};
    memset(err, 0, sizeof *err);
    *out = NULL;
    return rpc_client_unary(c->rpc, SVC, method, rq, out, &o, err);
}

static int unary(const char *method, const ProtobufCMessage *rq, ProtobufCMessage **out,
                 rpc_error *err)
{
    return unary_on(&W->main, method, rq, out, 60000, err);
}

/* Asserts a call returned OK, printing the status message when not. */
#define ASSERT_OK(expr, err)                                                                       \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0)                                                                              \
            fprintf(stderr, "%s -> %d %s\n", #expr, rc_, (err).message);                           \
        assert_int_equal(rc_, 0);                                                                  \
    } while (0)

/* Runs a unary call that must fail with code; its message must hold needle. */
static void expect_fail(const char *method, const ProtobufCMessage *rq, int code,
                        const char *needle)
{
    ProtobufCMessage *out = NULL;
    rpc_error err;
    int rc = unary(method, rq, &out, &err);
    if (rc != code || (needle && !strstr(err.message, needle)))
        fprintf(stderr, "%s: got %d \"%s\", want %d with \"%s\"\n", method, rc, err.message, code,
                needle ? needle : "");
    assert_int_equal(rc, code);
    if (needle)
        assert_non_null(strstr(err.message, needle));
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
}

static Campsync__V1__Program *get_program(int64_t id)
{
    Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    rq.program_id = id;
    ProtobufCMessage *out;
    rpc_error err;
    int rc = unary("GetProgram", &rq.base, &out, &err);
    if (rc != 0)
        fprintf(stderr, "GetProgram: %d %s\n", rc, err.message);
    assert_int_equal(rc, 0);
    return (Campsync__V1__Program *)out;
}

/* Collects a members stream: returns the status; *ids gets every lead id. */
static int stream_members(const Campsync__V1__StreamProgramMembersRequest *rq, int64_t **ids,
                          size_t *n, rpc_error *err)
{
    rpc_stream *s = NULL;
    rpc_call_opts o = {.timeout_ms = 60000};
    *ids = NULL;
    *n = 0;
    int rc = rpc_stream_open(W->main.rpc, SVC, "StreamProgramMembers", &rq->base, &o, &s, err);
    if (rc != 0)
        return rc;
    ProtobufCMessage *m;
    while ((rc = rpc_stream_next(s, &m, err)) == 1) {
        Campsync__V1__ProgramMemberPage *p = (void *)m;
        assert_true(p->n_members > 0 && p->n_members <= 300);
        *ids = realloc(*ids, (*n + p->n_members) * sizeof **ids);
        for (size_t i = 0; i < p->n_members; i++)
            (*ids)[(*n)++] = p->members[i]->lead_id;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_close(s);
    return rc == 0 ? 0 : err->code;
}

/* The sandbox's Marketo state (caller decrefs). */
static json_t *mkto_state(void)
{
    json_t *j = admin("GET", "/admin/state", NULL);
    json_t *m = json_incref(json_object_get(j, "marketo"));
    json_decref(j);
    return m;
}

static const char *member_status(json_t *m, int64_t pid, int64_t lead)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(m, "members"), i, e)
    {
        if (json_integer_value(json_object_get(e, "programId")) == pid &&
            json_integer_value(json_object_get(e, "leadId")) == lead)
            return json_string_value(json_object_get(e, "statusName"));
    }
    return NULL;
}

static int64_t member_with_status(json_t *m, int64_t pid, const char *status, int skip)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(m, "members"), i, e)
    {
        if (json_integer_value(json_object_get(e, "programId")) == pid &&
            strcmp(json_string_value(json_object_get(e, "statusName")), status) == 0 && skip-- == 0)
            return json_integer_value(json_object_get(e, "leadId"));
    }
    return 0;
}

static int64_t non_member(json_t *m, int64_t pid)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(m, "leads"), i, e)
    {
        int64_t id = json_integer_value(json_object_get(e, "id"));
        if (!member_status(m, pid, id))
            return id;
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- programs, channels, costs ---- */

static void test_programs(void **state)
{
    (void)state;
    Campsync__V1__ListProgramsRequest lr = CAMPSYNC__V1__LIST_PROGRAMS_REQUEST__INIT;
    ProtobufCMessage *out;
    rpc_error err;
    ASSERT_OK(unary("ListPrograms", &lr.base, &out, &err), err);
    Campsync__V1__ListProgramsResponse *list = (void *)out;
    assert_int_equal(list->n_programs, 4);
    protobuf_c_message_free_unpacked(out, NULL);

    /* Only programs updated since a time: none are after 2100. */
    lr.updated_since_ms = 4102444800000LL;
    ASSERT_OK(unary("ListPrograms", &lr.base, &out, &err), err);
    assert_int_equal(((Campsync__V1__ListProgramsResponse *)out)->n_programs, 0);
    protobuf_c_message_free_unpacked(out, NULL);

    Campsync__V1__Program *p = get_program(1001);
    assert_int_equal(p->id, 1001);
    assert_string_equal(p->name, "2025 Webinar 1");
    assert_string_equal(p->channel, "Webinar");
    assert_string_equal(p->sfdc_id, "701Dn00000000G8IAI");
    assert_int_equal(p->n_costs, 2);
    assert_true(p->updated_at_ms > p->created_at_ms);
    protobuf_c_message_free_unpacked(&p->base, NULL);

    Campsync__V1__GetProgramRequest gr = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    gr.program_id = 1001;
    ASSERT_OK(unary("GetProgramCosts", &gr.base, &out, &err), err);
    Campsync__V1__ProgramCosts *costs = (void *)out;
    assert_int_equal(costs->program_id, 1001);
    assert_int_equal(costs->n_costs, 2);
    assert_int_equal(costs->total_minor, 691500 + 735200);
    assert_string_equal(costs->costs[0]->start_date, "2025-11-12");
    protobuf_c_message_free_unpacked(out, NULL);

    gr.program_id = 987654;
    expect_fail("GetProgram", &gr.base, GRPC_STATUS_NOT_FOUND, "987654");
    gr.program_id = 0;
    expect_fail("GetProgram", &gr.base, GRPC_STATUS_INVALID_ARGUMENT, "program_id");
    gr.program_id = -5;
    expect_fail("GetProgramCosts", &gr.base, GRPC_STATUS_INVALID_ARGUMENT, "program_id");
    lr.updated_since_ms = -1;
    expect_fail("ListPrograms", &lr.base, GRPC_STATUS_INVALID_ARGUMENT, "updated_since_ms");
}

static void test_channels(void **state)
{
    (void)state;
    Campsync__V1__ListChannelsRequest rq = CAMPSYNC__V1__LIST_CHANNELS_REQUEST__INIT;
    ProtobufCMessage *out;
    rpc_error err;
    ASSERT_OK(unary("ListChannels", &rq.base, &out, &err), err);
    Campsync__V1__ListChannelsResponse *l = (void *)out;
    assert_int_equal(l->n_channels, 4);
    protobuf_c_message_free_unpacked(out, NULL);

    rq.name = "Webinar";
    ASSERT_OK(unary("ListChannels", &rq.base, &out, &err), err);
    l = (void *)out;
    assert_int_equal(l->n_channels, 1);
    /* Marketo lists the implicit "Not in Program" step 0 first. */
    assert_int_equal(l->channels[0]->n_statuses, 5);
    assert_string_equal(l->channels[0]->statuses[0]->name, "Not in Program");
    assert_int_equal(l->channels[0]->statuses[0]->step, 0);
    assert_string_equal(l->channels[0]->statuses[1]->name, "Invited");
    assert_string_equal(l->channels[0]->statuses[4]->name, "Attended");
    assert_true(l->channels[0]->statuses[4]->success);
    assert_false(l->channels[0]->statuses[1]->success);
    for (size_t i = 1; i < 5; i++)
        assert_true(l->channels[0]->statuses[i - 1]->step < l->channels[0]->statuses[i]->step);
    protobuf_c_message_free_unpacked(out, NULL);

    /* No such channel: an empty list (Marketo's "no assets" warning). */
    rq.name = "No Such Channel";
    ASSERT_OK(unary("ListChannels", &rq.base, &out, &err), err);
    assert_int_equal(((Campsync__V1__ListChannelsResponse *)out)->n_channels, 0);
    protobuf_c_message_free_unpacked(out, NULL);
}

/* ---- members ---- */

static void test_members_stream(void **state)
{
    (void)state;
    json_t *m = mkto_state();
    /* All members of 1001 in one paged query. */
    Campsync__V1__StreamProgramMembersRequest rq =
        CAMPSYNC__V1__STREAM_PROGRAM_MEMBERS_REQUEST__INIT;
    rq.program_id = 1001;
    int64_t *ids;
    size_t n;
    rpc_error err;
    assert_int_equal(stream_members(&rq, &ids, &n, &err), 0);
    size_t want = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(m, "members"), i, e)
    {
        if (json_integer_value(json_object_get(e, "programId")) == 1001)
            want++;
    }
    assert_int_equal(n, want);
    qsort(ids, n, sizeof *ids, cmp_i64);
    for (i = 1; i < n; i++)
        assert_true(ids[i] != ids[i - 1]);
    assert_int_equal(sbx_calls("GET /rest/v1/programs/{id}/members.json"), 1);

    /* By lead ids: repeats and non-members asked once, only members back. */
    int64_t a = ids[0], b = ids[1], outsider = non_member(m, 1001);
    free(ids);
    int64_t ask[] = {a, b, a, outsider, b};
    rq.lead_ids = ask;
    rq.n_lead_ids = 5;
    assert_int_equal(stream_members(&rq, &ids, &n, &err), 0);
    assert_int_equal(n, 2);
    free(ids);
    assert_int_equal(sbx_calls("GET /rest/v1/programs/{id}/members.json"), 2);

    /* Updated within a window of 20 days: three <= 7-day calls. */
    rq.lead_ids = NULL;
    rq.n_lead_ids = 0;
    rq.updated_from_ms = 1764547200000LL; /* 2025-12-01 */
    rq.updated_to_ms = rq.updated_from_ms + 20LL * 86400000;
    assert_int_equal(stream_members(&rq, &ids, &n, &err), 0);
    size_t in_window = 0;
    json_array_foreach(json_object_get(m, "members"), i, e)
    {
        if (json_integer_value(json_object_get(e, "programId")) != 1001)
            continue;
        struct tm tm = {0};
        const char *u = json_string_value(json_object_get(e, "updatedAt"));
        strptime(u, "%Y-%m-%dT%H:%M:%SZ", &tm);
        int64_t t = (int64_t)timegm(&tm) * 1000;
        if (t >= rq.updated_from_ms && t < rq.updated_to_ms)
            in_window++;
    }
    assert_int_equal(n, in_window);
    free(ids);
    assert_int_equal(sbx_calls("GET /rest/v1/programs/{id}/members.json"), 2 + 3);
    json_decref(m);

    /* Validation and Marketo's own refusals. */
    rq.program_id = 0;
    assert_int_equal(stream_members(&rq, &ids, &n, &err), GRPC_STATUS_INVALID_ARGUMENT);
    rq.program_id = 1001;
    rq.lead_ids = ask;
    rq.n_lead_ids = 1;
    assert_int_equal(stream_members(&rq, &ids, &n, &err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "not both"));
    rq.updated_from_ms = rq.updated_to_ms = 0;
    int64_t bad[] = {5, -3};
    rq.lead_ids = bad;
    rq.n_lead_ids = 2;
    assert_int_equal(stream_members(&rq, &ids, &n, &err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "lead_ids[1]"));
    rq.n_lead_ids = 0;
    rq.program_id = 999999;
    assert_int_equal(stream_members(&rq, &ids, &n, &err), GRPC_STATUS_NOT_FOUND);
    assert_non_null(strstr(err.message, "marketo 1013"));
}

static Campsync__V1__BatchResult *set_status(int64_t pid, const char *status, int64_t *ids,
                                             size_t n)
{
    Campsync__V1__SetMemberStatusRequest rq = CAMPSYNC__V1__SET_MEMBER_STATUS_REQUEST__INIT;
    rq.program_id = pid;
    rq.status_name = (char *)status;
    rq.lead_ids = ids;
    rq.n_lead_ids = n;
    ProtobufCMessage *out;
    rpc_error err;
    int rc = unary("SetMemberStatus", &rq.base, &out, &err);
    if (rc != 0)
        fprintf(stderr, "SetMemberStatus: %d %s\n", rc, err.message);
    assert_int_equal(rc, 0);
    return (Campsync__V1__BatchResult *)out;
}

static void test_set_status_and_remove(void **state)
{
    (void)state;
    json_t *m = mkto_state();
    int64_t invited = member_with_status(m, 1001, "Invited", 0);
    int64_t attended = member_with_status(m, 1001, "Attended", 0);
    int64_t outsider = non_member(m, 1001);
    assert_true(invited && attended && outsider);
    json_decref(m);

    int64_t ids[] = {invited, attended, outsider, 424242, invited};
    Campsync__V1__BatchResult *r = set_status(1001, "Registered", ids, 5);
    assert_int_equal(r->n_results, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(r->results[i]->index, i);
    assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED);
    /* Attended is past Registered: 1037 is skipped, never failed. */
    assert_int_equal(r->results[1]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED);
    assert_string_equal(r->results[1]->code, "1037");
    assert_int_equal(r->results[2]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED);
    assert_int_equal(r->results[3]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED);
    assert_string_equal(r->results[3]->code, "1004");
    /* The repeated id was sent once and shares its result. */
    assert_int_equal(r->results[4]->outcome, r->results[0]->outcome);
    assert_int_equal(r->skipped, 1);
    assert_int_equal(r->failed, 1);
    assert_int_equal(r->api_calls, 1);
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)attended);
    assert_string_equal(r->results[1]->key, key);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_int_equal(sbx_calls("POST /rest/v1/programs/{id}/members/status.json"), 1);
    m = mkto_state();
    assert_string_equal(member_status(m, 1001, invited), "Registered");
    assert_string_equal(member_status(m, 1001, outsider), "Registered");
    assert_string_equal(member_status(m, 1001, attended), "Attended");
    json_decref(m);

    /* An unknown status is refused per record (1025). */
    r = set_status(1001, "No Such Status", ids, 1);
    assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED);
    assert_string_equal(r->results[0]->code, "1025");
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* Remove: a member goes, a non-member is skipped. */
    Campsync__V1__RemoveMembersRequest rm = CAMPSYNC__V1__REMOVE_MEMBERS_REQUEST__INIT;
    m = mkto_state();
    int64_t gone[] = {invited, non_member(m, 1001)};
    json_decref(m);
    rm.program_id = 1001;
    rm.lead_ids = gone;
    rm.n_lead_ids = 2;
    ProtobufCMessage *out;
    rpc_error err;
    ASSERT_OK(unary("RemoveMembers", &rm.base, &out, &err), err);
    r = (void *)out;
    assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_DELETED);
    assert_int_equal(r->results[1]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED);
    protobuf_c_message_free_unpacked(out, NULL);
    m = mkto_state();
    assert_null(member_status(m, 1001, invited));
    json_decref(m);

    /* Validation. */
    Campsync__V1__SetMemberStatusRequest sr = CAMPSYNC__V1__SET_MEMBER_STATUS_REQUEST__INIT;
    sr.program_id = 1001;
    sr.lead_ids = ids;
    sr.n_lead_ids = 1;
    expect_fail("SetMemberStatus", &sr.base, GRPC_STATUS_INVALID_ARGUMENT, "status_name");
    sr.status_name = "Registered";
    sr.n_lead_ids = 0;
    expect_fail("SetMemberStatus", &sr.base, GRPC_STATUS_INVALID_ARGUMENT, "lead_ids");
    int64_t neg[] = {0};
    sr.lead_ids = neg;
    sr.n_lead_ids = 1;
    expect_fail("SetMemberStatus", &sr.base, GRPC_STATUS_INVALID_ARGUMENT, "lead_ids[0]");
    rm.program_id = 0;
    expect_fail("RemoveMembers", &rm.base, GRPC_STATUS_INVALID_ARGUMENT, "program_id");
    /* Marketo's request-level code travels in the status message. */
    sr.program_id = 999999;
    sr.lead_ids = ids;
    expect_fail("SetMemberStatus", &sr.base, GRPC_STATUS_NOT_FOUND, "marketo 1013: ");
}

/* 700 ids: 3 calls of <= 300, results in request order. */
static void test_status_batches_of_300(void **state)
{
    (void)state;
    int64_t ids[700];
    for (int i = 0; i < 700; i++)
        ids[i] = 100000 + i; /* no such leads: 1004 per record */
    json_t *m = mkto_state();
    ids[350] = non_member(m, 1002);
    json_decref(m);
    Campsync__V1__BatchResult *r = set_status(1002, "Invited", ids, 700);
    assert_int_equal(r->n_results, 700);
    assert_int_equal(r->api_calls, 3);
    for (int i = 0; i < 700; i++) {
        assert_int_equal(r->results[i]->index, i);
        assert_int_equal(r->results[i]->outcome, i == 350 ? CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED
                                                          : CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED);
    }
    assert_int_equal(r->failed, 699);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_int_equal(sbx_calls("POST /rest/v1/programs/{id}/members/status.json"), 3);
}

/* ---- leads ---- */

static void test_leads(void **state)
{
    (void)state;
    json_t *m = mkto_state();
    json_t *l0 = json_array_get(json_object_get(m, "leads"), 0);
    json_t *l1 = json_array_get(json_object_get(m, "leads"), 1);
    int64_t id0 = json_integer_value(json_object_get(l0, "id"));
    const char *email0 = json_string_value(json_object_get(l0, "email"));
    const char *email1 = json_string_value(json_object_get(l1, "email"));
    const char *sfdc0 = json_string_value(json_object_get(l0, "sfdcLeadId"));
    char upper1[256];
    snprintf(upper1, sizeof upper1, "%s", email1);
    for (char *p = upper1; *p; p++)
        *p = (char)toupper((unsigned char)*p);

    Campsync__V1__GetLeadsRequest rq = CAMPSYNC__V1__GET_LEADS_REQUEST__INIT;
    int64_t ids[] = {id0, id0, 999999};
    char *emails[] = {(char *)email0, (char *)email1, upper1, "nobody@nowhere.example"};
    char *sfdc[] = {(char *)sfdc0};
    rq.ids = ids;
    rq.n_ids = 3;
    rq.emails = emails;
    rq.n_emails = 4;
    rq.sfdc_lead_ids = sfdc;
    rq.n_sfdc_lead_ids = sfdc0 ? 1 : 0;
    ProtobufCMessage *out;
    rpc_error err;
    ASSERT_OK(unary("GetLeads", &rq.base, &out, &err), err);
    Campsync__V1__GetLeadsResponse *r = (void *)out;
    /* lead 0 found three ways, lead 1 twice: each comes back once. */
    assert_int_equal(r->n_leads, 2);
    int seen0 = 0;
    for (size_t i = 0; i < r->n_leads; i++) {
        if (r->leads[i]->id == id0) {
            seen0 = 1;
            assert_string_equal(r->leads[i]->email, email0);
            assert_string_equal(r->leads[i]->last_name,
                                json_string_value(json_object_get(l0, "lastName")));
        }
    }
    assert_true(seen0);
    protobuf_c_message_free_unpacked(out, NULL);
    /* One call per filter type: ids, emails (case-insensitive dedupe), sfdc ids. */
    assert_int_equal(sbx_calls("GET /rest/v1/leads.json"), sfdc0 ? 3 : 2);
    json_decref(m);

    Campsync__V1__GetLeadsRequest bad = CAMPSYNC__V1__GET_LEADS_REQUEST__INIT;
    expect_fail("GetLeads", &bad.base, GRPC_STATUS_INVALID_ARGUMENT, "give ids");
    char *bad_email[] = {"a,b@x.com"};
    bad.emails = bad_email;
    bad.n_emails = 1;
    expect_fail("GetLeads", &bad.base, GRPC_STATUS_INVALID_ARGUMENT, "emails[0]");
    bad.n_emails = 0;
    char *bad_sf[] = {"00Q123"};
    bad.sfdc_contact_ids = bad_sf;
    bad.n_sfdc_contact_ids = 1;
    expect_fail("GetLeads", &bad.base, GRPC_STATUS_INVALID_ARGUMENT, "sfdc_contact_ids[0]");
}

/* 650 ids: three calls, not more (300 values per call). */
static void test_leads_batches(void **state)
{
    (void)state;
    int64_t ids[650];
    for (int i = 0; i < 650; i++)
        ids[i] = i + 1;
    Campsync__V1__GetLeadsRequest rq = CAMPSYNC__V1__GET_LEADS_REQUEST__INIT;
    rq.ids = ids;
    rq.n_ids = 650;
    ProtobufCMessage *out;
    rpc_error err;
    ASSERT_OK(unary("GetLeads", &rq.base, &out, &err), err);
    json_t *m = mkto_state();
    assert_int_equal(((Campsync__V1__GetLeadsResponse *)out)->n_leads,
                     json_array_size(json_object_get(m, "leads")));
    json_decref(m);
    protobuf_c_message_free_unpacked(out, NULL);
    assert_int_equal(sbx_calls("GET /rest/v1/leads.json"), 3);
}

/* Long filter values: the URL would pass 8 KB, so the GET goes as POST with
 * _method=GET (the sandbox would answer 414 to the GET). */
static void test_long_get_as_post(void **state)
{
    (void)state;
    enum { NE = 250 };
    char *emails[NE];
    for (int i = 0; i < NE; i++) {
        emails[i] = malloc(64);
        snprintf(emails[i], 64, "someone.with.a.long.address.%03d@example-company.example", i);
    }
    Campsync__V1__GetLeadsRequest rq = CAMPSYNC__V1__GET_LEADS_REQUEST__INIT;
    rq.emails = emails;
    rq.n_emails = NE;
    ProtobufCMessage *out;
    rpc_error err;
    int rc = unary("GetLeads", &rq.base, &out, &err);
    for (int i = 0; i < NE; i++)
        free(emails[i]);
    if (rc != 0)
        fprintf(stderr, "GetLeads: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(((Campsync__V1__GetLeadsResponse *)out)->n_leads, 0);
    protobuf_c_message_free_unpacked(out, NULL);
    assert_int_equal(sbx_calls("GET /rest/v1/leads.json"), 1);
}

static Campsync__V1__BatchResult *upsert(Campsync__V1__Lead **leads, size_t n, int64_t timeout_ms,
                                         rpc_error *err)
{
    Campsync__V1__UpsertLeadsRequest rq = CAMPSYNC__V1__UPSERT_LEADS_REQUEST__INIT;
    rq.leads = leads;
    rq.n_leads = n;
    ProtobufCMessage *out = NULL;
    int rc = unary_on(&W->main, "UpsertLeads", &rq.base, &out, timeout_ms, err);
    return rc == 0 ? (Campsync__V1__BatchResult *)out : NULL;
}

static void test_upsert_leads(void **state)
{
    (void)state;
    json_t *m = mkto_state();
    const char *existing =
        json_string_value(json_object_get(json_array_get(json_object_get(m, "leads"), 0), "email"));
    size_t before = json_array_size(json_object_get(m, "leads"));
    Campsync__V1__Lead a = CAMPSYNC__V1__LEAD__INIT, b = CAMPSYNC__V1__LEAD__INIT;
    a.email = "new.person@campsync-test.example";
    a.first_name = "New";
    a.last_name = "Person";
    a.company = "Acme";
    b.email = (char *)existing;
    b.company = "Renamed Co";
    Campsync__V1__Lead *leads[] = {&a, &b};
    rpc_error err;
    Campsync__V1__BatchResult *r = upsert(leads, 2, 30000, &err);
    assert_non_null(r);
    assert_int_equal(r->n_results, 2);
    assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_CREATED);
    assert_string_equal(r->results[0]->key, a.email);
    assert_true(atoll(r->results[0]->id) > 0);
    assert_int_equal(r->results[1]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    json_decref(m);
    m = mkto_state();
    assert_int_equal(json_array_size(json_object_get(m, "leads")), before + 1);
    json_decref(m);

    /* Same email again: updated, not created twice. */
    Campsync__V1__Lead *again[] = {&a};
    r = upsert(again, 1, 30000, &err);
    assert_non_null(r);
    assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* Another replica holds the person's lock: we wait, and give up at the
     * deadline without sending anything. */
    int64_t token = 0;
    rds_err re;
    assert_int_equal(
        rds_lock_acquire("marketo-leads", "new.person@campsync-test.example", 30000, &token, &re),
        0);
    assert_true(token > 0);
    long long posts = sbx_calls("POST /rest/v1/leads.json");
    Campsync__V1__Lead upper = CAMPSYNC__V1__LEAD__INIT;
    upper.email = "NEW.Person@campsync-test.example";
    Campsync__V1__Lead *locked[] = {&upper};
    r = upsert(locked, 1, 1500, &err);
    assert_null(r);
    assert_int_equal(err.code, GRPC_STATUS_DEADLINE_EXCEEDED);
    assert_int_equal(sbx_calls("POST /rest/v1/leads.json"), posts);
    int released = 0;
    assert_int_equal(rds_lock_release("marketo-leads", "new.person@campsync-test.example", token,
                                      &released, &re),
                     0);
    assert_true(released);
    r = upsert(locked, 1, 30000, &err);
    assert_non_null(r);
    assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* Validation: an email each, each person once. */
    Campsync__V1__Lead noemail = CAMPSYNC__V1__LEAD__INIT;
    Campsync__V1__Lead *bad1[] = {&a, &noemail};
    Campsync__V1__UpsertLeadsRequest rq = CAMPSYNC__V1__UPSERT_LEADS_REQUEST__INIT;
    rq.leads = bad1;
    rq.n_leads = 2;
    expect_fail("UpsertLeads", &rq.base, GRPC_STATUS_INVALID_ARGUMENT, "leads[1]");
    Campsync__V1__Lead *bad2[] = {&a, &upper};
    rq.leads = bad2;
    expect_fail("UpsertLeads", &rq.base, GRPC_STATUS_INVALID_ARGUMENT, "more than once");
    rq.n_leads = 0;
    expect_fail("UpsertLeads", &rq.base, GRPC_STATUS_INVALID_ARGUMENT, "empty");
}

/* Two threads create the same new person at once: one lead results. */
typedef struct {
    Campsync__V1__Lead *lead;
    int outcome;
} race_arg;

static void *race_upsert(void *p)
{
    race_arg *a = p;
    rpc_error err;
    Campsync__V1__Lead *leads[] = {a->lead};
    Campsync__V1__BatchResult *r = upsert(leads, 1, 30000, &err);
    a->outcome = r ? (int)r->results[0]->outcome : -1;
    if (r)
        protobuf_c_message_free_unpacked(&r->base, NULL);
    return NULL;
}

static void test_upsert_race(void **state)
{
    (void)state;
    Campsync__V1__Lead l = CAMPSYNC__V1__LEAD__INIT;
    l.email = "race@campsync-test.example";
    race_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (race_arg){&l, 0};
        pthread_create(&th[i], NULL, race_upsert, &args[i]);
    }
    int created = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(args[i].outcome == CAMPSYNC__V1__OUTCOME__OUTCOME_CREATED ||
                    args[i].outcome == CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED);
        created += args[i].outcome == CAMPSYNC__V1__OUTCOME__OUTCOME_CREATED;
    }
    assert_int_equal(created, 1);
    json_t *m = mkto_state();
    size_t i, same = 0;
    json_t *e;
    json_array_foreach(json_object_get(m, "leads"), i, e)
    {
        const char *em = json_string_value(json_object_get(e, "email"));
        same += em && strcmp(em, l.email) == 0;
    }
    assert_int_equal(same, 1);
    json_decref(m);
}

/* 650 new people, all added to a program, then read back: upserts and
 * status writes go 300 a call, the members stream follows nextPageToken
 * over pages of at most 300, and emails are looked up 300 a call. */
static void test_paging_beyond_300(void **state)
{
    (void)state;
    enum { NP = 650 };
    Campsync__V1__Lead *leads = calloc(NP, sizeof *leads);
    Campsync__V1__Lead **ptrs = calloc(NP, sizeof *ptrs);
    char(*emails)[64] = calloc(NP, sizeof *emails);
    char **email_ptrs = calloc(NP, sizeof *email_ptrs);
    for (int i = 0; i < NP; i++) {
        campsync__v1__lead__init(&leads[i]);
        snprintf(emails[i], sizeof emails[i], "bulk.%03d@campsync-test.example", i);
        leads[i].email = emails[i];
        leads[i].last_name = "Bulk";
        ptrs[i] = &leads[i];
        email_ptrs[i] = emails[i];
    }
    rpc_error err;
    Campsync__V1__BatchResult *r = upsert(ptrs, NP, 60000, &err);
    assert_non_null(r);
    assert_int_equal(r->created, NP);
    assert_int_equal(r->api_calls, 3);
    int64_t *ids = calloc(NP, sizeof *ids);
    for (int i = 0; i < NP; i++)
        ids[i] = atoll(r->results[i]->id);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_int_equal(sbx_calls("POST /rest/v1/leads.json"), 3);

    r = set_status(1002, "Invited", ids, NP);
    assert_int_equal(r->added, NP);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    Campsync__V1__StreamProgramMembersRequest rq =
        CAMPSYNC__V1__STREAM_PROGRAM_MEMBERS_REQUEST__INIT;
    rq.program_id = 1002;
    int64_t *got;
    size_t n;
    assert_int_equal(stream_members(&rq, &got, &n, &err), 0);
    json_t *m = mkto_state();
    size_t want = 0, i;
    json_t *e;
    json_array_foreach(json_object_get(m, "members"), i, e)
    {
        want += json_integer_value(json_object_get(e, "programId")) == 1002;
    }
    json_decref(m);
    assert_int_equal(n, want);
    assert_true(n >= NP);
    qsort(got, n, sizeof *got, cmp_i64);
    for (i = 1; i < n; i++)
        assert_true(got[i] != got[i - 1]);
    free(got);
    assert_int_equal(sbx_calls("GET /rest/v1/programs/{id}/members.json"),
                     (long long)(n + 299) / 300);

    Campsync__V1__GetLeadsRequest lr = CAMPSYNC__V1__GET_LEADS_REQUEST__INIT;
    lr.emails = email_ptrs;
    lr.n_emails = NP;
    ProtobufCMessage *out;
    ASSERT_OK(unary("GetLeads", &lr.base, &out, &err), err);
    assert_int_equal(((Campsync__V1__GetLeadsResponse *)out)->n_leads, NP);
    protobuf_c_message_free_unpacked(out, NULL);
    assert_int_equal(sbx_calls("GET /rest/v1/leads.json"), 3);
    free(ids);
    free(leads);
    free(ptrs);
    free(emails);
    free(email_ptrs);
}

/* ---- activities ---- */

static int collect_activities(const Campsync__V1__StreamActivitiesRequest *rq, int64_t lead,
                              int *found, char *cursor, size_t cap, rpc_error *err)
{
    rpc_stream *s = NULL;
    rpc_call_opts o = {.timeout_ms = 60000};
    int rc = rpc_stream_open(W->main.rpc, SVC, "StreamActivities", &rq->base, &o, &s, err);
    if (rc != 0)
        return rc;
    ProtobufCMessage *m;
    int last_more = 1;
    *found = 0;
    while ((rc = rpc_stream_next(s, &m, err)) == 1) {
        Campsync__V1__ActivityPage *p = (void *)m;
        for (size_t i = 0; i < p->n_activities; i++)
            if (p->activities[i]->lead_id == lead && p->activities[i]->activity_type_id == 104) {
                (*found)++;
                assert_string_equal(p->activities[i]->activity_type,
                                    "Change Status in Progression");
                assert_int_equal(p->activities[i]->primary_attribute_value_id, 1001);
            }
        snprintf(cursor, cap, "%s", p->next_cursor);
        last_more = p->more;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_close(s);
    if (rc == 0)
        assert_false(last_more);
    return rc == 0 ? 0 : err->code;
}

static void test_activities(void **state)
{
    (void)state;
    json_t *m = mkto_state();
    int64_t lead = non_member(m, 1001);
    json_decref(m);
    json_t *clock = admin("GET", "/admin/clock", NULL);
    int64_t now = json_integer_value(json_object_get(clock, "now_ms"));
    json_decref(clock);
    int64_t ids[] = {lead};
    Campsync__V1__BatchResult *r = set_status(1001, "Invited", ids, 1);
    assert_int_equal(r->added, 1);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    Campsync__V1__StreamActivitiesRequest rq = CAMPSYNC__V1__STREAM_ACTIVITIES_REQUEST__INIT;
    rq.since_ms = now - 60000;
    char cursor[512] = "";
    int found = 0;
    rpc_error err;
    assert_int_equal(collect_activities(&rq, lead, &found, cursor, sizeof cursor, &err), 0);
    assert_int_equal(found, 1);
    assert_true(cursor[0] != '\0');

    /* From the cursor: only what happened since. */
    rq.since_ms = 0;
    rq.cursor = cursor;
    char next[512] = "";
    assert_int_equal(collect_activities(&rq, lead, &found, next, sizeof next, &err), 0);
    assert_int_equal(found, 0);
    r = set_status(1001, "Registered", ids, 1);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_int_equal(collect_activities(&rq, lead, &found, next, sizeof next, &err), 0);
    assert_int_equal(found, 1);

    /* By type name and lead. */
    char *types[] = {"Change Status in Progression"};
    rq.activity_types = types;
    rq.n_activity_types = 1;
    rq.lead_ids = ids;
    rq.n_lead_ids = 1;
    assert_int_equal(collect_activities(&rq, lead, &found, next, sizeof next, &err), 0);
    assert_int_equal(found, 1);

    char *unknown[] = {"Teleport Lead"};
    rq.activity_types = unknown;
    assert_int_equal(collect_activities(&rq, lead, &found, next, sizeof next, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "Teleport Lead"));
    rq.activity_types = NULL;
    rq.n_activity_types = 0;
    rq.cursor = NULL;
    assert_int_equal(collect_activities(&rq, lead, &found, next, sizeof next, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);
    /* Marketo's own caps, refused before any call. */
    char *many_types[11];
    for (int i = 0; i < 11; i++)
        many_types[i] = "Change Status in Progression";
    rq.since_ms = now - 60000;
    rq.activity_types = many_types;
    rq.n_activity_types = 11;
    assert_int_equal(collect_activities(&rq, lead, &found, next, sizeof next, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "at most 10"));
    rq.n_activity_types = 0;
    int64_t many_leads[31];
    for (int i = 0; i < 31; i++)
        many_leads[i] = i + 1;
    rq.lead_ids = many_leads;
    rq.n_lead_ids = 31;
    assert_int_equal(collect_activities(&rq, lead, &found, next, sizeof next, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "at most 30"));
    rq.lead_ids = NULL;
    rq.n_lead_ids = 0;
    rq.since_ms = 0;
    rq.cursor = "not-a-real-token";
    assert_int_equal(collect_activities(&rq, lead, &found, next, sizeof next, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "marketo 1003"));
}

/* ---- faults ---- */

static void set_faults(const char *json)
{
    admin_do("POST", "/admin/faults", json);
}

static void test_expired_token(void **state)
{
    (void)state;
    Campsync__V1__Program *p = get_program(1001);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    admin_do("POST", "/admin/expire_tokens", "{}");
    p = get_program(1002);
    assert_int_equal(p->id, 1002);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    /* One new token (602 -> re-auth once), then the call went through. */
    assert_int_equal(sbx_calls("GET /identity/oauth/token"), 1);
    assert_int_equal(sbx_calls("GET /rest/asset/v1/program/{id}.json"), 3);
    assert_true(vendor_errors(&W->main, "602") >= 1);
}

static void test_transient_faults_retried(void **state)
{
    (void)state;
    /* 606 twice, 608, 503, a corrupted body, a cut body, a dropped
     * connection: the call still succeeds. */
    set_faults("{\"vendor\":\"marketo\",\"next\":[\"rate_limit\",\"rate_limit\",\"transient\","
               "\"server_error\",\"malformed\",\"truncate\",\"drop\"]}");
    Campsync__V1__Program *p = get_program(1001);
    assert_int_equal(p->id, 1001);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    /* Seven attempts; the dropped one never reached the sandbox's counter. */
    assert_int_equal(sbx_calls("GET /rest/asset/v1/program/{id}.json"), 7);
    json_t *f = admin("GET", "/admin/faults", NULL);
    json_t *inj = json_object_get(json_object_get(f, "marketo"), "injected");
    assert_int_equal(json_integer_value(json_object_get(inj, "rate_limit")), 2);
    assert_int_equal(json_integer_value(json_object_get(inj, "malformed")), 1);
    assert_int_equal(json_integer_value(json_object_get(inj, "drop")), 1);
    assert_int_equal(json_integer_value(json_object_get(inj, "truncate")), 1);
    assert_int_equal(json_integer_value(json_object_get(inj, "none")), 1);
    json_decref(f);
    assert_true(vendor_errors(&W->main, "606") >= 2);
}

static void test_606_storm_gives_up_with_code(void **state)
{
    (void)state;
    set_faults("{\"vendor\":\"marketo\",\"rate_limit\":1.0}");
    Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    rq.program_id = 1001;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    int rc = unary_on(&W->main, "GetProgram", &rq.base, &out, 4000, &err);
    /* Backs off (no hammering) and reports Marketo's code once out of time. */
    assert_true(rc == GRPC_STATUS_UNAVAILABLE || rc == GRPC_STATUS_DEADLINE_EXCEEDED);
    if (rc == GRPC_STATUS_UNAVAILABLE)
        assert_non_null(strstr(err.message, "marketo 606"));
    assert_true(sbx_calls("GET /rest/asset/v1/program/{id}.json") <= 5);
}

static void test_server_errors_give_up(void **state)
{
    (void)state;
    set_faults("{\"vendor\":\"marketo\",\"server_error\":1.0}");
    Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    rq.program_id = 1001;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    int rc = unary_on(&W->main, "GetProgram", &rq.base, &out, 60000, &err);
    assert_int_equal(rc, GRPC_STATUS_UNAVAILABLE);
    assert_non_null(strstr(err.message, "HTTP 503"));
}

/* The sandbox allows 2 calls at once; the connector keeps sending 5:
 * 615s come back and are retried until every call succeeds. */
typedef struct {
    int rc;
} par_arg;

static void *par_get(void *p)
{
    par_arg *a = p;
    Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    rq.program_id = 1001;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    a->rc = unary_on(&W->main, "GetProgram", &rq.base, &out, 60000, &err);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return NULL;
}

static void test_615_retried(void **state)
{
    (void)state;
    admin_do("POST", "/admin/marketo/limits", "{\"concurrent\":2}");
    set_faults("{\"vendor\":\"marketo\",\"latency\":1.0,\"latency_ms\":300}");
    long long before = vendor_errors(&W->main, "615");
    pthread_t th[6];
    par_arg args[6];
    for (int i = 0; i < 6; i++)
        pthread_create(&th[i], NULL, par_get, &args[i]);
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].rc, 0);
    }
    assert_true(vendor_errors(&W->main, "615") > before);
    admin_do("POST", "/admin/marketo/limits", "{\"concurrent\":10}");
}

static void test_daily_quota(void **state)
{
    (void)state;
    long long today = sbx_today();
    char body[96];
    snprintf(body, sizeof body, "{\"daily\":%lld}", today);
    admin_do("POST", "/admin/marketo/limits", body);
    Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    rq.program_id = 1001;
    expect_fail("GetProgram", &rq.base, GRPC_STATUS_RESOURCE_EXHAUSTED, "marketo 607");
    expect_fail("GetProgram", &rq.base, GRPC_STATUS_RESOURCE_EXHAUSTED, "resets at");
    /* After the 607 every replica refuses at once: one call reached Marketo. */
    assert_int_equal(sbx_calls("GET /rest/asset/v1/program/{id}.json"), 1);
    Campsync__V1__Empty e = CAMPSYNC__V1__EMPTY__INIT;
    ProtobufCMessage *out;
    rpc_error err;
    ASSERT_OK(unary("GetUsage", &e.base, &out, &err), err);
    Campsync__V1__ApiUsage *u = (void *)out;
    assert_true(u->resets_at_ms > (int64_t)time(NULL) * 1000);
    assert_true(u->resets_at_ms <= (int64_t)time(NULL) * 1000 + 86400000);
    protobuf_c_message_free_unpacked(out, NULL);
    /* Lift the block (as the reset would) for the tests that follow. */
    char key[256];
    snprintf(key, sizeof key, "campsync:{marketo:%s}:quota-blocked", W->mkto + 7);
    rds_err re;
    int64_t deleted = 0;
    assert_int_equal(rds_del(key, &deleted, &re), 0);
    assert_int_equal(deleted, 1);
    admin_do("POST", "/admin/marketo/limits", "{\"daily\":50000}");
}

static void test_usage(void **state)
{
    (void)state;
    Campsync__V1__Program *p = get_program(1001);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    Campsync__V1__Empty e = CAMPSYNC__V1__EMPTY__INIT;
    ProtobufCMessage *out;
    rpc_error err;
    ASSERT_OK(unary("GetUsage", &e.base, &out, &err), err);
    Campsync__V1__ApiUsage *u = (void *)out;
    assert_true(u->used >= 1);
    assert_int_equal(u->limit, 50000);
    int found = 0;
    for (size_t i = 0; i < u->n_calls_by_endpoint; i++)
        if (strcmp(u->calls_by_endpoint[i]->key, "GET /rest/asset/v1/program/{id}.json") == 0)
            found = u->calls_by_endpoint[i]->value >= 1;
    assert_true(found);
    protobuf_c_message_free_unpacked(out, NULL);
}

/* The connector's own daily quota: refused before Marketo is asked. */
static void test_own_daily_quota(void **state)
{
    (void)state;
    Campsync__V1__Empty e = CAMPSYNC__V1__EMPTY__INIT;
    ProtobufCMessage *out;
    rpc_error err;
    ASSERT_OK(unary("GetUsage", &e.base, &out, &err), err);
    long long used = ((Campsync__V1__ApiUsage *)out)->used;
    protobuf_c_message_free_unpacked(out, NULL);
    char quota[80];
    snprintf(quota, sizeof quota, "CAMPSYNC_MARKETO_DAILY_QUOTA=%lld", used + 1);
    const char *env[] = {quota, NULL};
    connector c = {0};
    assert_int_equal(connector_start(&c, env, "quota"), 0);
    Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    rq.program_id = 1001;
    ASSERT_OK(unary_on(&c, "GetProgram", &rq.base, &out, 30000, &err), err);
    protobuf_c_message_free_unpacked(out, NULL);
    out = NULL;
    assert_int_equal(unary_on(&c, "GetProgram", &rq.base, &out, 30000, &err),
                     GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(err.message, "CAMPSYNC_MARKETO_DAILY_QUOTA"));
    assert_non_null(strstr(err.message, "resets at"));
    assert_int_equal(sbx_calls("GET /rest/asset/v1/program/{id}.json"), 1);
    assert_true(connector_stop(&c));
}

/* A replica killed in the middle of a call cannot keep its slot: its
 * lease expires and another replica gets the slot. */
static long long budget_waits(const connector *c, const char *reason)
{
    char url[128], needle[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", c->metrics_port);
    snprintf(needle, sizeof needle, "campsync_marketo_budget_waits_total{reason=\"%s\"}", reason);
    http_res r = http("GET", url, NULL);
    assert_int_equal(r.status, 200);
    char *p = strstr(r.body, needle);
    long long n = p ? atoll(p + strlen(needle)) : 0;
    free(r.body);
    return n;
}

static long long leases_held(void)
{
    char key[256];
    snprintf(key, sizeof key, "campsync:{marketo:%s}:leases", W->mkto + 7);
    rds_err re;
    redisReply *r = rds_command(1, &re, "ZCARD %s", key);
    assert_non_null(r);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

static void *get_program_on(void *p)
{
    connector *c = p;
    Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    rq.program_id = 1001;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    unary_on(c, "GetProgram", &rq.base, &out, 20000, &err);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return NULL;
}

static void test_killed_replica_lease_expires(void **state)
{
    (void)state;
    const char *env[] = {"CAMPSYNC_MARKETO_MAX_CONCURRENT=1", "CAMPSYNC_MARKETO_TIMEOUT_MS=3s",
                         NULL};
    connector a = {0}, b = {0};
    assert_int_equal(connector_start(&a, env, "doomed"), 0);
    assert_int_equal(connector_start(&b, env, "survivor"), 0);
    /* Warm both tokens, then hold A's call at the sandbox. */
    pthread_t th;
    get_program_on(&a);
    get_program_on(&b);
    set_faults("{\"vendor\":\"marketo\",\"latency\":1.0,\"latency_ms\":2500}");
    pthread_create(&th, NULL, get_program_on, &a);
    for (int i = 0; i < 200 && leases_held() == 0; i++)
        ts_sleep_ms(10);
    assert_int_equal(leases_held(), 1);
    ts_proc_signal(a.proc, SIGKILL);
    pthread_join(th, NULL);
    admin_do("DELETE", "/admin/faults", NULL);
    assert_int_equal(leases_held(), 1); /* the dead replica's slot */
    long long waits = budget_waits(&b, "concurrency");
    Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    rq.program_id = 1002;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    ASSERT_OK(unary_on(&b, "GetProgram", &rq.base, &out, 30000, &err), err);
    assert_int_equal(((Campsync__V1__Program *)out)->id, 1002);
    protobuf_c_message_free_unpacked(out, NULL);
    /* B waited for the slot, got it once the lease expired, returned it. */
    assert_true(budget_waits(&b, "concurrency") > waits);
    assert_int_equal(leases_held(), 0);
    ts_proc_wait(a.proc, 5000, NULL);
    ts_proc_free(a.proc);
    assert_true(connector_stop(&b));
}

/* Without Redis there is no shared budget: calls are refused (fail
 * closed) rather than risk the instance's limits, and resume with it. */
static void test_redis_down_fails_closed(void **state)
{
    (void)state;
    assert_int_equal(ts_redis_stop(W->redis), 0);
    Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    rq.program_id = 1001;
    expect_fail("GetProgram", &rq.base, GRPC_STATUS_UNAVAILABLE, "Redis");
    assert_int_equal(sbx_calls("GET /rest/asset/v1/program/{id}.json"), 0);
    assert_int_equal(ts_redis_restart(W->redis), 0);
    int rc = -1;
    for (int i = 0; i < 50 && rc != 0; i++) {
        ProtobufCMessage *out = NULL;
        rpc_error err;
        rc = unary("GetProgram", &rq.base, &out, &err);
        if (out)
            protobuf_c_message_free_unpacked(out, NULL);
        if (rc != 0)
            ts_sleep_ms(100);
    }
    assert_int_equal(rc, 0);
}

/* ---- three replicas, one budget ---- */

typedef struct {
    connector *c;
    int calls;
    int failures;
} hammer_arg;

static void *hammer(void *p)
{
    hammer_arg *a = p;
    for (int i = 0; i < a->calls; i++) {
        Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
        rq.program_id = 1001 + i % 4;
        ProtobufCMessage *out = NULL;
        rpc_error err;
        if (unary_on(a->c, "GetProgram", &rq.base, &out, 120000, &err) != 0) {
            fprintf(stderr, "hammer: %s\n", err.message);
            a->failures++;
        }
        if (out)
            protobuf_c_message_free_unpacked(out, NULL);
    }
    return NULL;
}

static void test_three_replicas_share_budget(void **state)
{
    (void)state;
    /* A tighter instance than Marketo's (30 per 20 s, 3 at once), and three
     * replicas each allowed 30 calls and 2 at once: alone each would fit,
     * together (90, 6 at once) they would not unless they share. Calls are
     * held 100 ms so concurrency is real. */
    admin_do("POST", "/admin/marketo/limits",
             "{\"calls_per_20s\":30,\"concurrent\":3,\"reset_usage\":true}");
    set_faults("{\"vendor\":\"marketo\",\"latency\":1.0,\"latency_ms\":100}");
    const char *env[] = {"CAMPSYNC_MARKETO_CALLS_PER_20S=30", "CAMPSYNC_MARKETO_MAX_CONCURRENT=2",
                         NULL};
    /* The budget's key is the REST host: the replicas share it. */
    connector r[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "replica%d", i);
        assert_int_equal(connector_start(&r[i], env, name), 0);
    }
    /* Warm the tokens so the storm is all REST calls. */
    admin_do("DELETE", "/admin/calls", NULL);
    hammer_arg args[9];
    pthread_t th[9];
    for (int i = 0; i < 9; i++) {
        args[i] = (hammer_arg){&r[i % 3], 5, 0};
        pthread_create(&th[i], NULL, hammer, &args[i]);
    }
    for (int i = 0; i < 9; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    /* 45 calls through a 30-per-20 s window: it had to wait, and the
     * sandbox never refused one (606/615 calls use no quota). */
    long long rest = sbx_rest_calls(), today = sbx_today();
    long long r606 = 0, r615 = 0;
    for (int i = 0; i < 3; i++) {
        r606 += vendor_errors(&r[i], "606");
        r615 += vendor_errors(&r[i], "615");
        assert_true(connector_stop(&r[i]));
    }
    fprintf(stderr, "three replicas: %lld REST calls, %lld within limits, 606: %lld, 615: %lld\n",
            rest, today, r606, r615);
    assert_int_equal(r615, 0);
    assert_true(r606 <= 1);
    assert_true(rest - today <= 1);
    assert_int_equal(rest, 45 + r606);
    admin_do("POST", "/admin/marketo/limits",
             "{\"calls_per_20s\":100,\"concurrent\":10,\"reset_usage\":true}");
}

/* Bad configuration stops the process with exit code 2 and a clear message. */
static void test_bad_config(void **state)
{
    (void)state;
    char bin[PATH_MAX];
    assert_int_equal(ts_bin_path("campsync-marketo", bin, sizeof bin), 0);
    char url[200];
    snprintf(url, sizeof url, "CAMPSYNC_MARKETO_URL=%s", W->mkto);
    const char *env[] = {url, "CAMPSYNC_MARKETO_CLIENT_ID=x", "CAMPSYNC_MARKETO_CLIENT_SECRET=y",
                         "CAMPSYNC_MARKETO_CALLS_PER_20S=101", NULL};
    const char *argv[] = {bin, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", NULL};
    ts_proc *p = ts_proc_spawn(argv, env, W->dir, "badconfig");
    assert_non_null(p);
    int st = 0;
    assert_int_equal(ts_proc_wait(p, 10000, &st), 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    char errpath[PATH_MAX];
    snprintf(errpath, sizeof errpath, "%s", ts_proc_stderr_path(p));
    char *text = ts_read_file(errpath, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "CALLS_PER_20S"));
    assert_null(strstr(text, "=y")); /* the secret is never printed */
    free(text);
    ts_proc_free(p);
}

/* Wrong credentials: UNAUTHENTICATED naming the settings to check. */
static void test_bad_credentials(void **state)
{
    (void)state;
    char secret[PATH_MAX + 16];
    snprintf(secret, sizeof secret, "%s/other-secret", W->dir);
    assert_int_equal(ts_write_file(secret, "Zq9-not-the-secret", 0, 0600), 0);
    char env_secret[PATH_MAX + 64];
    snprintf(env_secret, sizeof env_secret, "CAMPSYNC_MARKETO_CLIENT_SECRET_FILE=%s", secret);
    /* Debug logging: even then the secret must not appear. */
    const char *env[] = {env_secret, "CAMPSYNC_LOG_LEVEL=debug", NULL};
    connector c = {0};
    assert_int_equal(connector_start(&c, env, "badcreds"), 0);
    Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    rq.program_id = 1001;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    assert_int_equal(unary_on(&c, "GetProgram", &rq.base, &out, 30000, &err),
                     GRPC_STATUS_UNAUTHENTICATED);
    assert_non_null(strstr(err.message, "CAMPSYNC_MARKETO_CLIENT_ID"));
    assert_non_null(strstr(err.message, "HTTP 401"));
    assert_null(strstr(err.message, "Zq9"));
    char log_path[PATH_MAX];
    snprintf(log_path, sizeof log_path, "%s", ts_proc_stderr_path(c.proc));
    assert_true(connector_stop(&c));
    char *log = ts_read_file(log_path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "marketo-client-secret")); /* the config was logged */
    assert_null(strstr(log, "Zq9"));
    free(log);
}

/* Last: the main connector shuts down cleanly after everything above. */
static void test_clean_shutdown(void **state)
{
    (void)state;
    assert_true(connector_stop(&W->main));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_programs, fresh),
        cmocka_unit_test_setup(test_channels, fresh),
        cmocka_unit_test_setup(test_members_stream, fresh),
        cmocka_unit_test_setup(test_set_status_and_remove, fresh),
        cmocka_unit_test_setup(test_status_batches_of_300, fresh),
        cmocka_unit_test_setup(test_leads, fresh),
        cmocka_unit_test_setup(test_leads_batches, fresh),
        cmocka_unit_test_setup(test_long_get_as_post, fresh),
        cmocka_unit_test_setup(test_upsert_leads, fresh),
        cmocka_unit_test_setup(test_upsert_race, fresh),
        cmocka_unit_test_setup(test_paging_beyond_300, fresh),
        cmocka_unit_test_setup(test_activities, fresh),
        cmocka_unit_test_setup(test_expired_token, fresh),
        cmocka_unit_test_setup(test_transient_faults_retried, fresh),
        cmocka_unit_test_setup(test_606_storm_gives_up_with_code, fresh),
        cmocka_unit_test_setup(test_server_errors_give_up, fresh),
        cmocka_unit_test_setup(test_615_retried, fresh),
        cmocka_unit_test_setup(test_daily_quota, fresh),
        cmocka_unit_test_setup(test_usage, fresh),
        cmocka_unit_test_setup(test_own_daily_quota, fresh),
        cmocka_unit_test_setup(test_killed_replica_lease_expires, fresh),
        cmocka_unit_test_setup(test_redis_down_fails_closed, fresh),
        cmocka_unit_test_setup(test_three_replicas_share_budget, fresh),
        cmocka_unit_test_setup(test_bad_config, fresh),
        cmocka_unit_test_setup(test_bad_credentials, fresh),
        cmocka_unit_test(test_clean_shutdown),
    };
    int rc = cmocka_run_group_tests(tests, world_up, world_down);
    curl_global_cleanup();
    return rc;
}
