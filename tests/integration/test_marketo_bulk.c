/*
 * campsync-marketo reading a program of more than 100,000 members, against
 * the sandbox (generated dataset: one program of 100,001 members, just over
 * Marketo's filter limit so the test stays quick under ASan). Marketo refuses
 * the paged full read of such a program (1003); the connector must fall back
 * to a Bulk Program Member Extract and stream every member exactly once, in
 * pages of 300, with the statuses Marketo holds, for a handful of calls
 * (counted by the sandbox). Error paths: the job fails in Marketo, the bulk
 * export queue is full (1029), the caller goes away or runs out of time (the
 * job is cancelled), a file cut short on the way (fetched again), and a
 * windowed read still gets the plain 1003.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "campsync/v1/marketo.pb-c.h"
#include "rpc/rpc_client.h"
#include "ts_http.h"
#include "ts_stack.h"

#define SVC (&campsync__v1__marketo_connector__descriptor)
#define BIG 1001
#define N_MEMBERS 100001
#define EXPORT "/bulk/v1/program/members/export"

static ts_stack *S;
static rpc_client *RPC;

static int group_up(void **state)
{
    (void)state;
    static const char *const env[] = {"CAMPSYNC_MARKETO_BULK_POLL=100ms",
                                      "CAMPSYNC_MARKETO_CALLS_PER_20S=100", NULL};
    ts_stack_opts o = {.generate = "people=115000,programs=1,members=100001",
                       .seed = 3,
                       .services = 1u << TS_SVC_MARKETO,
                       .env = env};
    S = ts_stack_start(&o);
    if (!S)
        return -1;
    rpc_client_opts co = {.default_timeout_ms = 120000};
    rpc_error err = {0};
    RPC = rpc_client_get(S->target[TS_SVC_MARKETO], &co, &err);
    return RPC ? 0 : -1;
}

/* Stops one process; 0 when it exited cleanly (no crash, no sanitizer
 * report), else -1 with its stderr printed. */
static int stop_clean(ts_proc **p, int timeout_ms)
{
    if (!*p)
        return 0;
    int st = ts_proc_stop(*p, timeout_ms);
    int clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!clean)
        ts_proc_dump_stderr(*p, 4000);
    ts_proc_free(*p);
    *p = NULL;
    return clean ? 0 : -1;
}

static int group_down(void **state)
{
    (void)state;
    rpc_client_cleanup();
    int rc = stop_clean(&S->svc[TS_SVC_MARKETO], 15000);
    rc |= stop_clean(&S->sandbox, 15000);
    ts_stack_free(S);
    S = NULL;
    return rc;
}

static json_t *admin(const char *method, const char *path, const char *body)
{
    int status = 0;
    json_t *j = ts_admin(S, method, path, body, &status);
    if (status != 200)
        fprintf(stderr, "admin %s %s -> %d\n", method, path, status);
    assert_int_equal(status, 200);
    assert_non_null(j);
    return j;
}

/* The sandbox's bulk jobs (caller decrefs). */
static json_t *jobs(void)
{
    json_t *a = admin("POST", "/admin/marketo/bulk", "{}");
    json_t *j = json_incref(json_object_get(a, "jobs"));
    json_decref(a);
    return j;
}

/* A Marketo token of the test's own, for calls made around the connector. */
static void token(char *out, size_t n)
{
    char url[512];
    snprintf(url, sizeof url,
             "%s/identity/oauth/token?grant_type=client_credentials&client_id=sbx-mkto-client"
             "&client_secret=sbx-mkto-secret",
             S->marketo_url);
    ts_http_res r = ts_http("GET", url, NULL, NULL, 0, NULL);
    const char *t = json_string_value(json_object_get(r.json, "access_token"));
    assert_non_null(t);
    snprintf(out, n, "%s", t);
    ts_http_res_free(&r);
}

static ts_http_res bulk(const char *tok, const char *method, const char *path, const char *body)
{
    return ts_http_at(method, S->marketo_url, path, body, tok);
}

/* No job left running, default bulk settings, no faults, counts at zero. */
static int fresh(void **state)
{
    (void)state;
    char tok[200];
    token(tok, sizeof tok);
    json_t *all = jobs();
    size_t i;
    json_t *j;
    json_array_foreach(all, i, j)
    {
        const char *st = json_string_value(json_object_get(j, "status"));
        if (strcmp(st, "Created") && strcmp(st, "Queued") && strcmp(st, "Processing"))
            continue;
        char path[256];
        snprintf(path, sizeof path, EXPORT "/%s/cancel.json",
                 json_string_value(json_object_get(j, "exportId")));
        ts_http_res r = bulk(tok, "POST", path, NULL);
        ts_http_res_free(&r);
    }
    json_decref(all);
    json_decref(admin("DELETE", "/admin/faults", NULL));
    json_decref(admin("POST", "/admin/marketo/bulk",
                      "{\"processing_ms\":1000,\"max_queued\":10,\"max_processing\":2,"
                      "\"daily_bytes\":524288000}"));
    json_decref(admin("DELETE", "/admin/calls", NULL));
    return 0;
}

static long long calls(const char *label)
{
    json_t *j = admin("GET", "/admin/calls", NULL);
    long long n = json_integer_value(json_object_get(json_object_get(j, "marketo"), label));
    json_decref(j);
    return n;
}

typedef struct {
    int64_t *ids;
    char **status;
    size_t n, pages, short_pages;
} got;

static void got_free(got *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->status[i]);
    free(g->ids);
    free(g->status);
}

/* Streams the program's members; returns the status, err filled. */
static int stream(const Campsync__V1__StreamProgramMembersRequest *rq, int64_t timeout_ms, got *g,
                  rpc_error *err)
{
    memset(g, 0, sizeof *g);
    rpc_stream *s = NULL;
    rpc_call_opts o = {.timeout_ms = timeout_ms};
    int rc = rpc_stream_open(RPC, SVC, "StreamProgramMembers", &rq->base, &o, &s, err);
    if (rc != 0)
        return rc;
    ProtobufCMessage *m;
    size_t cap = 0;
    while ((rc = rpc_stream_next(s, &m, err)) == 1) {
        Campsync__V1__ProgramMemberPage *p = (void *)m;
        assert_true(p->n_members > 0 && p->n_members <= 300);
        g->pages++;
        g->short_pages += p->n_members < 300;
        if (g->n + p->n_members > cap) {
            cap = (g->n + p->n_members) * 2;
            g->ids = realloc(g->ids, cap * sizeof *g->ids);
            g->status = realloc(g->status, cap * sizeof *g->status);
            assert_non_null(g->ids);
            assert_non_null(g->status);
        }
        for (size_t i = 0; i < p->n_members; i++) {
            g->ids[g->n] = p->members[i]->lead_id;
            g->status[g->n] = strdup(p->members[i]->status_name);
            g->n++;
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_close(s);
    return rc == 0 ? 0 : err->code;
}

static Campsync__V1__StreamProgramMembersRequest full_read(void)
{
    Campsync__V1__StreamProgramMembersRequest rq =
        CAMPSYNC__V1__STREAM_PROGRAM_MEMBERS_REQUEST__INIT;
    rq.program_id = BIG;
    return rq;
}

typedef struct {
    int64_t id;
    const char *status;
} pair;

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const pair *)a)->id, y = ((const pair *)b)->id;
    return x < y ? -1 : x > y;
}

static void test_full_read_over_the_limit(void **state)
{
    (void)state;
    Campsync__V1__StreamProgramMembersRequest rq = full_read();
    got g;
    rpc_error err;
    int rc = stream(&rq, 300000, &g, &err);
    if (rc != 0)
        fprintf(stderr, "stream: %d %s\n", rc, err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(g.n, N_MEMBERS);
    assert_int_equal(g.pages, (N_MEMBERS + 299) / 300);
    assert_int_equal(g.short_pages, 1);

    /* The calls it took: the refused query, then one job. */
    long long q = calls("GET /rest/v1/programs/{id}/members.json");
    long long c = calls("POST " EXPORT "/create.json");
    long long en = calls("POST " EXPORT "/{exportId}/enqueue.json");
    long long st = calls("GET " EXPORT "/{exportId}/status.json");
    long long f = calls("GET " EXPORT "/{exportId}/file.json");
    long long cancel = calls("POST " EXPORT "/{exportId}/cancel.json");
    printf("bulk read of %d members: %lld members.json + %lld create + %lld enqueue + %lld "
           "status + %lld file = %lld calls\n",
           N_MEMBERS, q, c, en, st, f, q + c + en + st + f);
    assert_int_equal(q, 1);
    assert_int_equal(c, 1);
    assert_int_equal(en, 1);
    assert_true(st >= 2); /* Processing was seen before Completed */
    assert_true(st <= 12);
    assert_int_equal(f, 1);
    assert_int_equal(cancel, 0);
    /* Every member exactly once, with the status Marketo holds: asked of
     * the sandbox by lead id (members.json, not the export's code path), 300
     * at a time, with its rate limits lifted for the test's own calls. */
    pair *have = calloc(g.n, sizeof *have);
    assert_non_null(have);
    for (size_t i = 0; i < g.n; i++)
        have[i] = (pair){g.ids[i], g.status[i]};
    qsort(have, g.n, sizeof *have, by_id);
    for (size_t i = 1; i < g.n; i++)
        assert_true(have[i - 1].id < have[i].id); /* no lead twice */
    json_decref(admin("POST", "/admin/marketo/limits", "{\"calls_per_20s\":0,\"daily\":0}"));
    char tok[200];
    token(tok, sizeof tok);
    size_t checked = 0;
    int wrong_status = 0;
    char *path = malloc(300 * 24 + 256);
    assert_non_null(path);
    for (size_t off = 0; off < g.n; off += 300) {
        size_t len = g.n - off < 300 ? g.n - off : 300;
        int n = snprintf(path, 256,
                         "/rest/v1/programs/%d/members.json?filterType=leadId&fields=leadId,"
                         "statusName&batchSize=300&filterValues=",
                         BIG);
        for (size_t k = 0; k < len; k++)
            n += sprintf(path + n, "%s%lld", k ? "," : "", (long long)have[off + k].id);
        ts_http_res r = bulk(tok, "GET", path, NULL);
        json_t *rows = json_object_get(r.json, "result");
        assert_int_equal(json_array_size(rows), len);
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            assert_int_equal(json_integer_value(json_object_get(row, "leadId")), have[off + i].id);
            wrong_status += strcmp(json_string_value(json_object_get(row, "statusName")),
                                   have[off + i].status) != 0;
            checked++;
        }
        ts_http_res_free(&r);
    }
    free(path);
    free(have);
    json_decref(admin("POST", "/admin/marketo/limits", "{\"calls_per_20s\":100,\"daily\":50000}"));
    assert_int_equal(checked, N_MEMBERS);
    assert_int_equal(wrong_status, 0);
    got_free(&g);
}

static void test_windowed_read_keeps_the_1003(void **state)
{
    (void)state;
    Campsync__V1__StreamProgramMembersRequest rq = full_read();
    rq.updated_from_ms = 1700000000000LL;
    rq.updated_to_ms = 1700000000000LL + 86400000LL;
    got g;
    rpc_error err;
    assert_int_equal(stream(&rq, 60000, &g, &err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "Total membership size"));
    assert_int_equal(calls("POST " EXPORT "/create.json"), 0);
    got_free(&g);
}

static void test_job_fails_in_marketo(void **state)
{
    (void)state;
    json_decref(admin("POST", "/admin/marketo/bulk", "{\"fail_next\":\"Disk quota exceeded\"}"));
    Campsync__V1__StreamProgramMembersRequest rq = full_read();
    got g;
    rpc_error err;
    assert_int_equal(stream(&rq, 60000, &g, &err), GRPC_STATUS_UNAVAILABLE);
    assert_non_null(strstr(err.message, "failed in Marketo: Disk quota exceeded"));
    assert_int_equal(g.n, 0);
    got_free(&g);
}

/* The status of the newest job (the connector's). */
static const char *newest_status(json_t *all)
{
    return json_string_value(
        json_object_get(json_array_get(all, json_array_size(all) - 1), "status"));
}

static void test_queue_full(void **state)
{
    (void)state;
    json_decref(admin("POST", "/admin/marketo/bulk", "{\"processing_ms\":3600000}"));
    /* Other clients of the instance hold 2 jobs processing and 10 queued. */
    char tok[200];
    token(tok, sizeof tok);
    for (int i = 0; i < 12; i++) {
        ts_http_res r = bulk(tok, "POST", EXPORT "/create.json",
                             "{\"fields\":[\"leadId\"],\"filter\":{\"programId\":1001}}");
        const char *id = json_string_value(
            json_object_get(json_array_get(json_object_get(r.json, "result"), 0), "exportId"));
        assert_non_null(id);
        char path[256];
        snprintf(path, sizeof path, EXPORT "/%s/enqueue.json", id);
        ts_http_res_free(&r);
        r = bulk(tok, "POST", path, NULL);
        assert_true(ts_mkto_success(&r));
        ts_http_res_free(&r);
    }
    Campsync__V1__StreamProgramMembersRequest rq = full_read();
    got g;
    rpc_error err;
    assert_int_equal(stream(&rq, 60000, &g, &err), GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(err.message, "bulk export queue or the daily export quota is full"));
    assert_non_null(strstr(err.message, "1029"));
    got_free(&g);
    /* The job it created but could not queue was cancelled. */
    json_t *all = jobs();
    assert_int_equal(json_array_size(all) >= 13, 1);
    assert_string_equal(newest_status(all), "Cancelled");
    json_decref(all);
}

/* Waits (bounded) until the newest job is Cancelled. */
static void expect_newest_cancelled(void)
{
    for (int i = 0; i < 100; i++) {
        json_t *all = jobs();
        int done = strcmp(newest_status(all), "Cancelled") == 0;
        json_decref(all);
        if (done)
            return;
        struct timespec ts = {.tv_nsec = 100000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("the connector did not cancel its bulk export job");
}

static void test_caller_goes_away_or_runs_out_of_time(void **state)
{
    (void)state;
    json_decref(admin("POST", "/admin/marketo/bulk", "{\"processing_ms\":3600000}"));
    /* The caller closes the stream while the job is processing. */
    Campsync__V1__StreamProgramMembersRequest rq = full_read();
    rpc_stream *s = NULL;
    rpc_error err;
    rpc_call_opts o = {.timeout_ms = 60000};
    assert_int_equal(rpc_stream_open(RPC, SVC, "StreamProgramMembers", &rq.base, &o, &s, &err), 0);
    for (int i = 0; i < 100 && calls("GET " EXPORT "/{exportId}/status.json") < 2; i++) {
        struct timespec ts = {.tv_nsec = 100000000};
        nanosleep(&ts, NULL);
    }
    assert_true(calls("GET " EXPORT "/{exportId}/status.json") >= 2);
    rpc_stream_close(s);
    expect_newest_cancelled();

    /* The caller's deadline comes first: DEADLINE_EXCEEDED, job cancelled. */
    got g;
    assert_int_equal(stream(&rq, 3000, &g, &err), GRPC_STATUS_DEADLINE_EXCEEDED);
    assert_int_equal(g.n, 0);
    got_free(&g);
    expect_newest_cancelled();
}

static void test_file_cut_short_is_fetched_again(void **state)
{
    (void)state;
    json_decref(admin("POST", "/admin/marketo/bulk", "{\"processing_ms\":60000}"));
    Campsync__V1__StreamProgramMembersRequest rq = full_read();
    rpc_stream *s = NULL;
    rpc_error err;
    rpc_call_opts o = {.timeout_ms = 120000};
    assert_int_equal(rpc_stream_open(RPC, SVC, "StreamProgramMembers", &rq.base, &o, &s, &err), 0);
    /* Once the connector's job is processing, its file's next download is
     * cut in half; then the job's processing time passes. */
    const char *id = NULL;
    json_t *all = NULL;
    for (int i = 0; i < 200 && !id; i++) {
        json_decref(all);
        all = jobs();
        json_t *last = json_array_get(all, json_array_size(all) - 1);
        if (last && strcmp(json_string_value(json_object_get(last, "status")), "Processing") == 0)
            id = json_string_value(json_object_get(last, "exportId"));
        else {
            struct timespec ts = {.tv_nsec = 50000000};
            nanosleep(&ts, NULL);
        }
    }
    assert_non_null(id);
    char faults[512];
    snprintf(faults, sizeof faults,
             "{\"vendor\":\"marketo\",\"next\":[\"truncate\"],\"path_prefix\":\"" EXPORT
             "/%s/file.json\"}",
             id);
    json_decref(all);
    json_decref(admin("POST", "/admin/faults", faults));
    json_decref(admin("POST", "/admin/clock", "{\"advance_ms\":60000}"));
    ProtobufCMessage *m;
    size_t n = 0;
    int rc;
    while ((rc = rpc_stream_next(s, &m, &err)) == 1) {
        n += ((Campsync__V1__ProgramMemberPage *)m)->n_members;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_close(s);
    json_decref(admin("POST", "/admin/clock", "{\"reset\":true}"));
    if (rc != 0)
        fprintf(stderr, "stream: %d %s\n", err.code, err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(n, N_MEMBERS);
    assert_int_equal(calls("GET " EXPORT "/{exportId}/file.json"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_full_read_over_the_limit, fresh),
        cmocka_unit_test_setup(test_windowed_read_keeps_the_1003, fresh),
        cmocka_unit_test_setup(test_job_fails_in_marketo, fresh),
        cmocka_unit_test_setup(test_queue_full, fresh),
        cmocka_unit_test_setup(test_caller_goes_away_or_runs_out_of_time, fresh),
        cmocka_unit_test_setup(test_file_cut_short_is_fetched_again, fresh),
    };
    return cmocka_run_group_tests(tests, group_up, group_down);
}
