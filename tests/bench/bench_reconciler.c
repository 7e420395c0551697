/*
 * campsync-reconciler end to end on the sandbox: one pair of N members
 * (default 100,000) through the real connectors. Prints, for the first sync
 * (no base: union), a cycle with no change (full read), a quiet cycle (the
 * change probes only), and a cycle after 1% of the members changed status
 * in Salesforce and 1% in Marketo (a partial read): wall time, members per
 * second, how the pair was read, CPU seconds of the reconciler and the
 * connectors, the vendor API calls made (reads and writes, from the
 * sandbox's accounting) against the minimum writes the changes need
 * (Salesforce 200 records per call, Marketo 300), and the reconciler's peak
 * resident memory.
 *
 * The Marketo connector runs at Marketo's real ceiling (100 calls per 20 s,
 * 10 at once): past the first 100 calls of a window the budget, not the
 * code, sets the pace, which is why API calls are the figure to watch.
 *
 * Usage: bench_reconciler [members]   (needs CAMPSYNC_BIN_DIR, as the
 * integration tests do).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "campsync/v1/reconciler.pb-c.h"
#include "rpc/rpc_client.h"
#include "ts.h"
#include "ts_stack.h"

#define SVC (&campsync__v1__membership_reconciler__descriptor)

static ts_stack *stack;
static rpc_client *rc;

typedef struct {
    long long reads, writes;
} calls;

static void count_calls(calls *c, const char *vendor)
{
    json_t *j = ts_admin(stack, "GET", "/admin/calls", NULL, NULL);
    const char *label;
    json_t *n;
    memset(c, 0, sizeof *c);
    json_object_foreach(json_object_get(j, vendor), label, n)
    {
        int write;
        if (strcmp(vendor, "marketo") == 0)
            /* (a bulk export's create/enqueue/status calls read) */
            write = strncmp(label, "POST /rest/v1/programs/{id}/members/", 36) == 0 ||
                    strncmp(label, "POST /rest/v1/leads.json", 24) == 0;
        else
            write = (strncmp(label, "POST", 4) == 0 || strncmp(label, "PATCH", 5) == 0 ||
                     strncmp(label, "DELETE", 6) == 0) &&
                    !strstr(label, "token");
        if (strstr(label, "token") || strstr(label, "identity"))
            continue;
        if (write)
            c->writes += json_integer_value(n);
        else
            c->reads += json_integer_value(n);
    }
    json_decref(j);
}

static long peak_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)ts_proc_pid(stack->svc[TS_SVC_RECONCILER]));
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* CPU seconds (user + system) a service has used so far. */
static double cpu_s(int svc)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)ts_proc_pid(stack->svc[svc]));
    FILE *f = fopen(path, "r");
    unsigned long ut = 0, st = 0;
    /* Fields 14 and 15; the command name (field 2) holds no ") " here. */
    int ok = f && fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                         &st) == 2;
    if (f)
        fclose(f);
    return ok ? (double)(ut + st) / (double)sysconf(_SC_CLK_TCK) : -1.0;
}

static Campsync__V1__CycleRecord *sync_once(long long program)
{
    Campsync__V1__SyncRequest rq = CAMPSYNC__V1__SYNC_REQUEST__INIT;
    rq.program_id = program;
    rpc_call_opts o = {.timeout_ms = 3600000};
    rpc_stream *s = NULL;
    rpc_error err = {0};
    if (rpc_stream_open(rc, SVC, "SyncNow", &rq.base, &o, &s, &err) != 0)
        return NULL;
    Campsync__V1__CycleRecord *rec = NULL;
    ProtobufCMessage *m = NULL;
    while (rpc_stream_next(s, &m, &err) == 1) {
        Campsync__V1__SyncProgress *p = (void *)m;
        if (p->record) {
            rec = p->record;
            p->record = NULL;
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_close(s);
    if (!rec)
        fprintf(stderr, "SyncNow: %s\n", err.message);
    return rec;
}

/* A call started while the channel reconnects (the server's connection age)
 * fails UNAVAILABLE before reaching the server: try again. */
static Campsync__V1__CycleRecord *sync_now(long long program)
{
    Campsync__V1__CycleRecord *rec = NULL;
    for (int i = 0; i < 3 && !rec; i++)
        rec = sync_once(program);
    return rec;
}

static int run(const char *what, long long program, long long members)
{
    json_decref(ts_admin(stack, "DELETE", "/admin/calls", NULL, NULL));
    double cpu0[3];
    for (int k = 0; k < 3; k++)
        cpu0[k] = cpu_s(k);
    long long t0 = ts_now_ms();
    Campsync__V1__CycleRecord *rec = sync_now(program);
    long long ms = ts_now_ms() - t0;
    double cpu[3];
    for (int k = 0; k < 3; k++)
        cpu[k] = cpu_s(k) - cpu0[k];
    if (!rec)
        return -1;
    calls mk, sf;
    count_calls(&mk, "marketo");
    count_calls(&sf, "salesforce");
    /* The fewest write calls the record's changes could take, by side is
     * not in the record: bound it with the larger batch on the total. */
    long long changes = rec->counts->new_ + rec->counts->updated + rec->counts->deleted;
    printf("%-14s %-10s %8lld ms %9.0f members/s  new %6d upd %6d del %5d skip %4d fail %d\n", what,
           rec->status, ms, ms > 0 ? members * 1000.0 / (double)ms : 0.0, rec->counts->new_,
           rec->counts->updated, rec->counts->deleted, rec->counts->skipped, rec->counts->failed);
    printf("%-14s calls: marketo %lld reads + %lld writes, salesforce %lld reads + %lld writes; "
           "changes %lld (>= %lld write calls at 300/call)\n",
           "", mk.reads, mk.writes, sf.reads, sf.writes, changes, (changes + 299) / 300);
    printf("%-14s read: %s; CPU seconds: reconciler %.2f, marketo connector %.2f, salesforce "
           "connector %.2f\n",
           "", rec->read, cpu[TS_SVC_RECONCILER], cpu[TS_SVC_MARKETO], cpu[TS_SVC_SALESFORCE]);
    if (rec->message && rec->message[0])
        printf("%-14s message: %.300s\n", "", rec->message);
    printf("%-14s reconciler peak RSS %ld KiB\n", "", peak_kib());
    fflush(stdout);
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    long long n = argc > 1 ? atoll(argv[1]) : 100000;
    if (n < 100) {
        fprintf(stderr, "usage: bench_reconciler [members >= 100]\n");
        return 2;
    }
    char spec[128];
    snprintf(spec, sizeof spec, "people=%lld,programs=3,members=%lld", n * 5 / 4 + 100, n);
    /* The connector keeps Marketo's real ceiling (100 calls / 20 s, 10 at
     * once); only the simulator's own accounting is lifted. */
    static const char *const env[] = {"CAMPSYNC_SYNC_INTERVAL_MS=0",
                                      "CAMPSYNC_MARKETO_CALLS_PER_20S=100",
                                      "CAMPSYNC_MARKETO_MAX_CONCURRENT=10", NULL};
    ts_stack_opts o = {.generate = spec,
                       .seed = 5,
                       .services = (1u << TS_SVC_MARKETO) | (1u << TS_SVC_SALESFORCE) |
                                   (1u << TS_SVC_RECONCILER),
                       .env = env};
    long long t0 = ts_now_ms();
    stack = ts_stack_start(&o);
    if (!stack)
        return 1;
    printf("stack with %s up in %lld ms\n", spec, ts_now_ms() - t0);
    json_decref(ts_admin(stack, "POST", "/admin/marketo/limits",
                         "{\"calls_per_20s\":0,\"concurrent\":0,\"daily\":0}", NULL));
    json_decref(ts_admin(stack, "POST", "/admin/salesforce/set_api_usage",
                         "{\"daily_api\":100000000}", NULL));
    rpc_client_opts co = {.default_timeout_ms = 600000};
    rpc_error err = {0};
    rc = rpc_client_get(stack->target[TS_SVC_RECONCILER], &co, &err);
    json_t *st = ts_admin(stack, "GET", "/admin/state", NULL, NULL);
    static char campaign_buf[32];
    const char *campaign = NULL;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(json_object_get(st, "marketo"), "programs"), i, p)
    {
        if (json_integer_value(json_object_get(p, "id")) == 1001 &&
            json_string_value(json_object_get(p, "sfdcId"))) {
            snprintf(campaign_buf, sizeof campaign_buf, "%s",
                     json_string_value(json_object_get(p, "sfdcId")));
            campaign = campaign_buf;
        }
    }
    Campsync__V1__LinkRequest lq = CAMPSYNC__V1__LINK_REQUEST__INIT;
    lq.program_id = 1001;
    lq.campaign_id = (char *)campaign;
    ProtobufCMessage *out = NULL;
    int status = campaign ? rpc_client_unary(rc, SVC, "Link", &lq.base, &out, NULL, &err) : -1;
    if (status != 0) {
        fprintf(stderr, "link: %s\n", err.message);
        json_decref(st);
        ts_stack_free(stack);
        return 1;
    }
    protobuf_c_message_free_unpacked(out, NULL);
    /* The cycle after the first sees that sync's own writes and reads in
     * full (finding nothing to do); the one after that finds the pair quiet
     * and reads nothing. */
    int bad = run("first sync", 1001, n) != 0;
    ts_sleep_ms(2000); /* writes older than the probes' 1.5 s margin */
    bad |= run("no change", 1001, n) != 0;
    bad |= run("quiet", 1001, n) != 0;

    /* 1% churn: members moved one status forward in Salesforce. */
    json_decref(st);
    st = ts_admin(stack, "GET", "/admin/state", NULL, NULL);
    json_t *cms = json_object_get(json_object_get(json_object_get(st, "salesforce"), "records"),
                                  "CampaignMember");
    long long want = n / 100, changed = 0;
    json_t *m;
    json_array_foreach(cms, i, m)
    {
        if (changed >= want)
            break;
        if (json_is_true(json_object_get(m, "IsDeleted")) ||
            strcmp(json_string_value(json_object_get(m, "CampaignId")), campaign) != 0 ||
            strcmp(json_string_value(json_object_get(m, "Status")), "Invited") != 0)
            continue;
        char body[160];
        snprintf(body, sizeof body, "{\"id\":\"%s\",\"Status\":\"Registered\"}",
                 json_string_value(json_object_get(m, "Id")));
        int s2 = 0;
        json_decref(ts_admin(stack, "POST", "/admin/salesforce/set_member_status", body, &s2));
        changed += s2 == 200;
    }
    printf("churn: %lld members moved Invited -> Registered in Salesforce\n", changed);
    /* ... and 1% moved forward in Marketo (from the other end of the list,
     * so mostly other people). */
    json_t *mms = json_object_get(json_object_get(st, "marketo"), "members");
    long long mk_changed = 0;
    for (size_t k = json_array_size(mms); k-- > 0 && mk_changed < want;) {
        m = json_array_get(mms, k);
        if (json_integer_value(json_object_get(m, "programId")) != 1001 ||
            strcmp(json_string_value(json_object_get(m, "statusName")), "Invited") != 0)
            continue;
        char body[160];
        snprintf(body, sizeof body,
                 "{\"programId\":1001,\"leadId\":%lld,\"statusName\":\"Registered\"}",
                 (long long)json_integer_value(json_object_get(m, "leadId")));
        int s2 = 0;
        json_decref(ts_admin(stack, "POST", "/admin/marketo/change_member_status", body, &s2));
        mk_changed += s2 == 200;
    }
    printf("churn: %lld members moved Invited -> Registered in Marketo\n", mk_changed);
    bad |= run("1% churn", 1001, n) != 0;
    json_decref(st);
    rpc_client_cleanup();
    ts_stack_free(stack);
    return bad;
}
