/*
 * Load on the reconciler's request paths that other services call at
 * volume: the "Member of SFDC campaign" filter (IsMemberOfSfdcCampaign) and
 * the three flow actions (Add / ChangeStatus / Remove), each through the
 * whole stack (reconciler -> Salesforce connector -> sandbox, Redis, real
 * processes on loopback, as ts_stack wires production).
 *
 * Many caller threads share one gRPC channel and call for a fixed time, one
 * person per call, picked at random from the campaign's people (by
 * Salesforce id; one call in ten by email, which adds a lookup). Printed per
 * method: calls, calls/s, p50/p99/max latency, per-person outcomes, and
 * every error by status code.
 *
 * The run fails (exit 1) on any error but the intended ones. Intended:
 * RESOURCE_EXHAUSTED (a vendor's API limit reached: a caller must back
 * off) — and per-person outcomes FAILED that the vendor gave (counted,
 * printed). Everything else (UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED, ...)
 * is a fault of ours under load.
 *
 * Usage: bench_flow_load [seconds (20)] [threads (8)] [people (4000)]
 *                        [members per program (2000)]
 * The ctest variant (integration.flow_load, tests/integration/system.cmake)
 * runs it for 5 s with 4 threads on the small default dataset.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "campsync/v1/reconciler.pb-c.h"
#include "rpc/rpc_client.h"
#include "ts_stack.h"

#define SVC (&campsync__v1__membership_reconciler__descriptor)
#define MAX_THREADS 64
#define MAX_CODES 17

enum { M_IS_MEMBER, M_ADD, M_CHANGE, M_REMOVE, M_COUNT };

static const char *const method_name[M_COUNT] = {"IsMemberOfSfdcCampaign", "AddToSfdcCampaign",
                                                 "ChangeStatusInSfdcCampaign",
                                                 "RemoveFromSfdcCampaign"};

/* Share of calls per method, in percent (the filter dominates real use). */
static const int method_share[M_COUNT] = {55, 15, 15, 15};

typedef struct {
    double *lat_ms; /* every latency of the method */
    size_t n, cap;
    long codes[MAX_CODES];            /* calls per grpc status */
    long outcomes[8];                 /* per-person outcomes (campsync.v1.Outcome) */
    char first_error[MAX_CODES][200]; /* the first message per status */
} method_stats;

typedef struct {
    int id;
    unsigned seed;
    method_stats m[M_COUNT];
} worker;

static rpc_client *rc;
static const char *campaign;
static char **people, **emails;
static size_t n_people;
static const char *statuses[16];
static size_t n_statuses;
static long long deadline_ms;

static void record(method_stats *s, double ms)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        double *v = realloc(s->lat_ms, cap * sizeof *v);
        if (!v)
            return;
        s->lat_ms = v;
        s->cap = cap;
    }
    s->lat_ms[s->n++] = ms;
}

static int call_once(worker *w, int method, char *err_msg, size_t cap)
{
    size_t pick = (size_t)rand_r(&w->seed) % n_people;
    Campsync__V1__PersonRef ref = CAMPSYNC__V1__PERSON_REF__INIT;
    if (rand_r(&w->seed) % 10 == 0 && emails[pick][0])
        ref.email = emails[pick];
    else
        ref.sfdc_id = people[pick];
    rpc_error err = {0};
    ProtobufCMessage *out = NULL;
    int code;
    if (method == M_IS_MEMBER) {
        Campsync__V1__MembershipQuery rq = CAMPSYNC__V1__MEMBERSHIP_QUERY__INIT;
        rq.campaign_id = (char *)campaign;
        rq.person = &ref;
        code = rpc_client_unary(rc, SVC, method_name[method], &rq.base, &out, NULL, &err);
    } else {
        Campsync__V1__PersonRef *pp[] = {&ref};
        Campsync__V1__FlowActionRequest rq = CAMPSYNC__V1__FLOW_ACTION_REQUEST__INIT;
        rq.campaign_id = (char *)campaign;
        rq.status = (char *)statuses[(size_t)rand_r(&w->seed) % n_statuses];
        rq.people = pp;
        rq.n_people = 1;
        code = rpc_client_unary(rc, SVC, method_name[method], &rq.base, &out, NULL, &err);
        if (code == 0) {
            Campsync__V1__BatchResult *r = ((Campsync__V1__FlowActionResponse *)out)->result;
            for (size_t i = 0; r && i < r->n_results; i++) {
                int o = r->results[i]->outcome;
                w->m[method].outcomes[o >= 0 && o < 8 ? o : 0]++;
            }
        }
    }
    if (code != 0)
        snprintf(err_msg, cap, "%.190s", err.message);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return code;
}

static void *work(void *arg)
{
    worker *w = arg;
    while (ts_now_ms() < deadline_ms) {
        int r = rand_r(&w->seed) % 100, method = 0;
        for (int acc = method_share[0]; r >= acc && method < M_COUNT - 1;)
            acc += method_share[++method];
        char msg[300] = "";
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int code = call_once(w, method, msg, sizeof msg);
        clock_gettime(CLOCK_MONOTONIC, &b);
        method_stats *s = &w->m[method];
        record(s, (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
        s->codes[code >= 0 && code < MAX_CODES ? code : GRPC_STATUS_UNKNOWN]++;
        int c = code >= 0 && code < MAX_CODES ? code : GRPC_STATUS_UNKNOWN;
        if (c != 0 && !s->first_error[c][0])
            snprintf(s->first_error[c], sizeof s->first_error[c], "%.199s", msg);
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* The campaign of the first linked program, its statuses and the people
 * (Contacts and unconverted Leads with an email) the calls pick from. */
static int load_targets(ts_stack *s)
{
    json_t *st = ts_admin(s, "GET", "/admin/state", NULL, NULL);
    if (!st)
        return -1;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(st, "marketo"), "programs"), i, v)
    {
        if (!campaign && jstr(v, "sfdcId")[0])
            campaign = strdup(jstr(v, "sfdcId"));
    }
    json_t *recs = json_object_get(json_object_get(st, "salesforce"), "records");
    json_array_foreach(json_object_get(recs, "CampaignMemberStatus"), i, v)
    {
        if (campaign && strcmp(jstr(v, "CampaignId"), campaign) == 0 && n_statuses < 16 &&
            !json_is_true(json_object_get(v, "IsDeleted")))
            statuses[n_statuses++] = strdup(jstr(v, "Label"));
    }
    size_t cap = json_array_size(json_object_get(recs, "Lead")) +
                 json_array_size(json_object_get(recs, "Contact"));
    people = calloc(cap + 1, sizeof *people);
    emails = calloc(cap + 1, sizeof *emails);
    const char *types[] = {"Contact", "Lead"};
    for (int t = 0; t < 2; t++) {
        json_array_foreach(json_object_get(recs, types[t]), i, v)
        {
            if (json_is_true(json_object_get(v, "IsDeleted")) ||
                json_is_true(json_object_get(v, "IsConverted")) || !jstr(v, "Email")[0])
                continue;
            people[n_people] = strdup(jstr(v, "Id"));
            emails[n_people++] = strdup(jstr(v, "Email"));
        }
    }
    json_decref(st);
    return campaign && n_statuses && n_people ? 0 : -1;
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 20;
    int threads = argc > 2 ? atoi(argv[2]) : 8;
    int n_ppl = argc > 3 ? atoi(argv[3]) : 4000;
    int members = argc > 4 ? atoi(argv[4]) : 2000;
    if (seconds <= 0 || threads <= 0 || threads > MAX_THREADS || n_ppl <= 0 || members <= 0) {
        fprintf(stderr, "usage: bench_flow_load [seconds] [threads <= %d] [people] [members]\n",
                MAX_THREADS);
        return 2;
    }
    char gen[128];
    snprintf(gen, sizeof gen, "people=%d,programs=2,members=%d,seed=5", n_ppl, members);
    static const char *const env[] = {"CAMPSYNC_SYNC_INTERVAL_MS=0", "CAMPSYNC_LOG_LEVEL=warn",
                                      NULL};
    ts_stack_opts o = {.generate = gen,
                       .seed = 5,
                       .services = (1u << TS_SVC_MARKETO) | (1u << TS_SVC_SALESFORCE) |
                                   (1u << TS_SVC_RECONCILER),
                       .env = env};
    ts_stack *s = ts_stack_start(&o);
    if (!s || load_targets(s) != 0) {
        fprintf(stderr,
                "bench_flow_load: the stack did not start or the dataset has no campaign\n");
        ts_stack_free(s);
        return 1;
    }
    rpc_client_opts co = {.default_timeout_ms = 30000};
    rpc_error err = {0};
    rc = rpc_client_get(s->target[TS_SVC_RECONCILER], &co, &err);
    if (!rc) {
        fprintf(stderr, "bench_flow_load: %s\n", err.message);
        ts_stack_free(s);
        return 1;
    }
    json_decref(ts_admin(s, "DELETE", "/admin/calls", NULL, NULL));
    printf("bench_flow_load: %s, campaign %s (%zu statuses), %zu people to pick from, %d "
           "threads, %d s\n",
           gen, campaign, n_statuses, n_people, threads, seconds);
    worker *w = calloc((size_t)threads, sizeof *w);
    pthread_t th[MAX_THREADS];
    long long t0 = ts_now_ms();
    deadline_ms = t0 + seconds * 1000LL;
    for (int i = 0; i < threads; i++) {
        w[i].id = i;
        w[i].seed = 1234u + (unsigned)i * 7919u;
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double elapsed = (double)(ts_now_ms() - t0) / 1000.0;

    int bad = 0;
    long total = 0;
    printf("%-28s %8s %9s %9s %9s %9s  %s\n", "method", "calls", "calls/s", "p50 ms", "p99 ms",
           "max ms", "per-person outcomes / errors");
    for (int m = 0; m < M_COUNT; m++) {
        method_stats all = {0};
        for (int i = 0; i < threads; i++) {
            for (size_t k = 0; k < w[i].m[m].n; k++)
                record(&all, w[i].m[m].lat_ms[k]);
            for (int c = 0; c < MAX_CODES; c++)
                all.codes[c] += w[i].m[m].codes[c];
            for (int c = 0; c < 8; c++)
                all.outcomes[c] += w[i].m[m].outcomes[c];
            for (int c = 0; c < MAX_CODES; c++)
                if (!all.first_error[c][0] && w[i].m[m].first_error[c][0])
                    memcpy(all.first_error[c], w[i].m[m].first_error[c], sizeof all.first_error[c]);
        }
        qsort(all.lat_ms, all.n, sizeof *all.lat_ms, cmp_double);
        total += (long)all.n;
        printf("%-28s %8zu %9.1f %9.1f %9.1f %9.1f ", method_name[m], all.n,
               (double)all.n / elapsed, pct(all.lat_ms, all.n, 0.5), pct(all.lat_ms, all.n, 0.99),
               all.n ? all.lat_ms[all.n - 1] : 0.0);
        if (m != M_IS_MEMBER)
            printf(" added %ld updated %ld deleted %ld skipped %ld failed %ld",
                   all.outcomes[CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED],
                   all.outcomes[CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED],
                   all.outcomes[CAMPSYNC__V1__OUTCOME__OUTCOME_DELETED],
                   all.outcomes[CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED],
                   all.outcomes[CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED]);
        for (int c = 1; c < MAX_CODES; c++) {
            if (!all.codes[c])
                continue;
            printf(" %s x%ld", rpc_status_name(c), all.codes[c]);
            if (c != GRPC_STATUS_RESOURCE_EXHAUSTED)
                bad++;
        }
        printf("\n");
        for (int c = 0; c < MAX_CODES; c++)
            if (all.first_error[c][0])
                printf("    e.g. %s: %s\n", rpc_status_name(c), all.first_error[c]);
        free(all.lat_ms);
    }
    printf("%-28s %8ld %9.1f\n", "all", total, (double)total / elapsed);
    json_t *calls = ts_admin(s, "GET", "/admin/calls", NULL, NULL);
    long sf_calls = 0, mk_calls = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(calls, "salesforce"), k, v)
    {
        sf_calls += (long)json_integer_value(v);
    }
    json_object_foreach(json_object_get(calls, "marketo"), k, v)
    {
        mk_calls += (long)json_integer_value(v);
    }
    json_decref(calls);
    printf("vendor API calls: salesforce %ld (%.1f per reconciler call), marketo %ld\n", sf_calls,
           total ? (double)sf_calls / (double)total : 0.0, mk_calls);
    for (int i = 0; i < threads; i++)
        for (int m = 0; m < M_COUNT; m++)
            free(w[i].m[m].lat_ms);
    free(w);
    for (size_t i = 0; i < n_people; i++) {
        free(people[i]);
        free(emails[i]);
    }
    free(people);
    free(emails);
    for (size_t i = 0; i < n_statuses; i++)
        free((char *)statuses[i]);
    free((char *)campaign);
    rpc_client_cleanup();
    ts_stack_free(s);
    if (bad) {
        printf("FAILED: errors other than RESOURCE_EXHAUSTED (see above)\n");
        return 1;
    }
    return total > 0 ? 0 : 1;
}
