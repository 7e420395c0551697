/*
 * campsync-salesforce throughput and API economy against the sandbox:
 * members streamed per second from one large campaign (about 100,000
 * members by default) through gRPC StreamCampaignMembers, member status
 * writes per second (UpdateMemberStatus over 20,000 of them), and the
 * Salesforce calls each used against the minimum: ceil(n / 2000) query
 * pages to read, ceil(n / 200) collection calls to write (target <= 1.02x).
 *
 * The stack is the integration tests' (redis-server, the sandbox with a
 * generated org, the connector with CAMPSYNC_ALLOW_PLAIN_HTTP=true), so the
 * figures are the connector's and the sandbox's on this machine.
 *
 * Usage: bench_salesforce [members] [writes]   (needs CAMPSYNC_BIN_DIR and
 * CAMPSYNC_SOURCE_DIR, as the integration tests do; about a minute at
 * 100,000).
 */
#include "ts_stack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campsync/v1/salesforce.pb-c.h"
#include "rpc/rpc_client.h"

#define SVC (&campsync__v1__salesforce_connector__descriptor)
#define WRITE_CHUNK 10000 /* a multiple of 200: no part-filled calls between RPCs */

static long long sf_calls(const ts_stack *s, const char *label)
{
    json_t *j = ts_admin(s, "GET", "/admin/calls", NULL, NULL);
    long long n = json_integer_value(json_object_get(json_object_get(j, "salesforce"), label));
    json_decref(j);
    return n;
}

static void reset_calls(const ts_stack *s)
{
    json_decref(ts_admin(s, "DELETE", "/admin/calls", NULL, NULL));
}

typedef struct {
    char **ids;
    size_t n, cap;
} id_list;

static void ids_clear(id_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->ids[i]);
    free(l->ids);
    memset(l, 0, sizeof *l);
}

/* Streams one campaign's members into out; returns 0 or -1. */
static int stream(rpc_client *cl, const char *campaign, id_list *out, double *secs)
{
    Campsync__V1__StreamCampaignMembersRequest rq =
        CAMPSYNC__V1__STREAM_CAMPAIGN_MEMBERS_REQUEST__INIT;
    rq.campaign_id = (char *)campaign;
    rpc_call_opts o = {.timeout_ms = 900000};
    rpc_stream *s = NULL;
    rpc_error err = {0};
    long long t0 = ts_now_ms();
    if (rpc_stream_open(cl, SVC, "StreamCampaignMembers", &rq.base, &o, &s, &err) != 0) {
        fprintf(stderr, "stream: %s\n", err.message);
        return -1;
    }
    ProtobufCMessage *m;
    int r;
    while ((r = rpc_stream_next(s, &m, &err)) == 1) {
        Campsync__V1__CampaignMemberPage *p = (void *)m;
        for (size_t i = 0; i < p->n_members; i++) {
            if (out->n == out->cap) {
                size_t cap = out->cap ? out->cap * 2 : 4096;
                char **nb = realloc(out->ids, cap * sizeof *nb);
                if (!nb) {
                    r = -1;
                    break;
                }
                out->ids = nb;
                out->cap = cap;
            }
            out->ids[out->n++] = strdup(p->members[i]->id);
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_close(s);
    *secs = (ts_now_ms() - t0) / 1000.0;
    if (r != 0)
        fprintf(stderr, "stream: %s\n", err.message);
    return r == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    long n_want = argc > 1 ? atol(argv[1]) : 100000;
    long n_writes = argc > 2 ? atol(argv[2]) : 20000;
    if (n_want < 2000 || n_want > 1000000 || n_writes < 200) {
        fprintf(stderr, "usage: bench_salesforce [members 2000..1000000] [writes >= 200]\n");
        return 2;
    }
    /* About 79% of the generator's members of a linked program are
     * Salesforce campaign members; people: twice the members. */
    long members = n_want * 100 / 79 + 100;
    char spec[128];
    snprintf(spec, sizeof spec, "people=%ld,programs=1,members=%ld", members * 2 + 1000, members);
    static const char *const env[] = {"CAMPSYNC_LOG_LEVEL=warn", NULL};
    ts_stack_opts so = {
        .generate = spec, .seed = 3, .services = 1u << TS_SVC_SALESFORCE, .env = env};
    long long t0 = ts_now_ms();
    ts_stack *st = ts_stack_start(&so);
    if (!st) {
        fprintf(stderr, "the stack did not start (CAMPSYNC_BIN_DIR, CAMPSYNC_SOURCE_DIR set?)\n");
        return 2;
    }
    printf("org generated (%s) and stack started in %.1f s\n", spec, (ts_now_ms() - t0) / 1000.0);
    int rc = 1;
    id_list best = {0};
    char campaign[32] = "";
    rpc_error err = {0};
    rpc_client_opts co = {.default_timeout_ms = 600000, .max_message_bytes = 64u << 20};
    rpc_client *cl = rpc_client_get(st->target[TS_SVC_SALESFORCE], &co, &err);
    if (!cl)
        goto out;

    /* The campaigns; the generated program's is the large one. */
    Campsync__V1__ListChangedCampaignsRequest lr =
        CAMPSYNC__V1__LIST_CHANGED_CAMPAIGNS_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    if (rpc_client_unary(cl, SVC, "ListChangedCampaigns", &lr.base, &out, NULL, &err) != 0) {
        fprintf(stderr, "ListChangedCampaigns: %s\n", err.message);
        goto out;
    }
    Campsync__V1__CampaignList *cls = (void *)out;
    double best_secs = 0;
    long long best_calls = 0;
    for (size_t i = 0; i < cls->n_campaigns; i++) {
        id_list l = {0};
        double secs = 0;
        reset_calls(st);
        if (stream(cl, cls->campaigns[i]->id, &l, &secs) != 0) {
            ids_clear(&l);
            protobuf_c_message_free_unpacked(out, NULL);
            goto out;
        }
        if (l.n > best.n) {
            ids_clear(&best);
            best = l;
            best_secs = secs;
            best_calls = sf_calls(st, "GET query");
            snprintf(campaign, sizeof campaign, "%s", cls->campaigns[i]->id);
        } else {
            ids_clear(&l);
        }
    }
    protobuf_c_message_free_unpacked(out, NULL);
    size_t n = best.n;
    long long min = ((long long)n + 1999) / 2000;
    printf("members streamed (campaign %s): %zu in %.2f s = %.0f members/s\n", campaign, n,
           best_secs, n / best_secs);
    printf("  query calls: %lld, minimum ceil(n/2000) = %lld, ratio %.3f\n", best_calls, min,
           (double)best_calls / (double)min);

    /* A status of that campaign: its last (highest step). */
    Campsync__V1__ListMemberStatusesRequest sr = CAMPSYNC__V1__LIST_MEMBER_STATUSES_REQUEST__INIT;
    sr.campaign_id = campaign;
    if (rpc_client_unary(cl, SVC, "ListMemberStatuses", &sr.base, &out, NULL, &err) != 0) {
        fprintf(stderr, "ListMemberStatuses: %s\n", err.message);
        goto out;
    }
    char status[128] = "";
    Campsync__V1__MemberStatusList *sl = (void *)out;
    int best_order = -1;
    for (size_t i = 0; i < sl->n_statuses; i++)
        if (sl->statuses[i]->sort_order > best_order) {
            best_order = sl->statuses[i]->sort_order;
            snprintf(status, sizeof status, "%s", sl->statuses[i]->label);
        }
    protobuf_c_message_free_unpacked(out, NULL);

    size_t w = (size_t)n_writes < n ? (size_t)n_writes : n;
    Campsync__V1__MemberStatusChange *ch = calloc(w, sizeof *ch);
    Campsync__V1__MemberStatusChange **chp = calloc(w, sizeof *chp);
    if (!ch || !chp) {
        free(ch);
        free(chp);
        goto out;
    }
    for (size_t i = 0; i < w; i++) {
        campsync__v1__member_status_change__init(&ch[i]);
        ch[i].member_id = best.ids[i];
        ch[i].status = status;
        chp[i] = &ch[i];
    }
    reset_calls(st);
    long long updated = 0, failed = 0, reported = 0;
    t0 = ts_now_ms();
    for (size_t off = 0; off < w; off += WRITE_CHUNK) {
        Campsync__V1__UpdateMemberStatusRequest up =
            CAMPSYNC__V1__UPDATE_MEMBER_STATUS_REQUEST__INIT;
        up.changes = chp + off;
        up.n_changes = w - off < WRITE_CHUNK ? w - off : WRITE_CHUNK;
        if (rpc_client_unary(cl, SVC, "UpdateMemberStatus", &up.base, &out, NULL, &err) != 0) {
            fprintf(stderr, "UpdateMemberStatus: %s\n", err.message);
            free(ch);
            free(chp);
            goto out;
        }
        Campsync__V1__BatchResult *b = (void *)out;
        updated += b->updated;
        failed += b->failed;
        reported += b->api_calls;
        protobuf_c_message_free_unpacked(out, NULL);
    }
    double secs = (ts_now_ms() - t0) / 1000.0;
    free(ch);
    free(chp);
    long long used = sf_calls(st, "PATCH composite/sobjects");
    long long wmin = ((long long)w + 199) / 200;
    printf("status writes (to \"%s\"): %zu in %.2f s = %.0f writes/s (%lld updated, %lld failed)\n",
           status, w, secs, w / secs, updated, failed);
    printf("  collection calls: %lld (connector reports %lld), minimum ceil(n/200) = %lld, ratio "
           "%.3f\n",
           used, reported, wmin, (double)used / (double)wmin);
    rc = 0;
out:
    ids_clear(&best);
    rpc_client_cleanup();
    ts_stack_free(st);
    return rc;
}
