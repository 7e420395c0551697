/*
 * campsync-marketo throughput and API economy against the sandbox: members
 * streamed per second from one large program (default 100,000 members),
 * status writes per second for all of them, and the Marketo calls each used
 * against the minimum ceil(n / 300) (target: <= 1.02x).
 *
 * The connector runs with Marketo's full allowance (100 calls per 20 s, 10
 * at once) and the sandbox with no limits of its own, so the figures show
 * the connector under the real instance ceiling: beyond the first 100 calls
 * of a 20-second window the budget, not the code, sets the pace (300
 * records x 100 calls / 20 s = 1,500 records/s). The "burst" figure is the
 * rate over the first window's calls, where only the connector and the
 * sandbox set it.
 *
 * Usage: bench_marketo [members]   (needs CAMPSYNC_BIN_DIR, as the
 * integration tests do; takes a few minutes at 100,000).
 */
#include "ts.h"

#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campsync/v1/marketo.pb-c.h"
#include "rpc/rpc_client.h"

#define SVC (&campsync__v1__marketo_connector__descriptor)
#define WRITE_CHUNK 19800 /* a multiple of 300: no part-filled calls between RPCs */

typedef struct {
    char *body;
    size_t len;
} buf;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    buf *b = ud;
    char *nb = realloc(b->body, b->len + size * n + 1);
    if (!nb)
        return 0;
    b->body = nb;
    memcpy(b->body + b->len, p, size * n);
    b->len += size * n;
    b->body[b->len] = '\0';
    return size * n;
}

static json_t *admin(const char *base, const char *method, const char *path, const char *body)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    buf b = {0};
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    json_t *j = rc == CURLE_OK && b.body ? json_loads(b.body, 0, NULL) : NULL;
    free(b.body);
    return j;
}

static long long calls(const char *base, const char *label)
{
    json_t *j = admin(base, "GET", "/admin/calls", NULL);
    long long n = json_integer_value(json_object_get(json_object_get(j, "marketo"), label));
    json_decref(j);
    return n;
}

int main(int argc, char **argv)
{
    long n_want = argc > 1 ? atol(argv[1]) : 100000;
    if (n_want < 300 || n_want > 1000000) {
        fprintf(stderr, "members must be within 300..1000000\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char dir[PATH_MAX], bin[PATH_MAX], mbin[PATH_MAX];
    if (ts_tmpdir_make("bench-mkto", dir, sizeof dir) != 0 ||
        ts_bin_path("campsync-sandbox", bin, sizeof bin) != 0 ||
        ts_bin_path("campsync-marketo", mbin, sizeof mbin) != 0) {
        fprintf(stderr, "set CAMPSYNC_BIN_DIR to the build's bin directory\n");
        return 2;
    }
    int rc = 1;
    int64_t *ids = NULL;
    ts_proc *conn = NULL;
    ts_redis *redis = ts_redis_start(NULL);
    char spec[128];
    /* Enough people that the Marketo side holds n of them. */
    snprintf(spec, sizeof spec, "people=%ld,programs=1,members=%ld", n_want * 2 + 1000, n_want);
    const char *sargv[] = {bin,          "--marketo", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                           "--generate", spec,        "--seed",      "3",       NULL};
    long long t0 = ts_now_ms();
    ts_proc *sbx = redis ? ts_proc_spawn(sargv, NULL, dir, "sandbox") : NULL;
    char line[1024];
    if (!sbx || ts_proc_first_line(sbx, line, sizeof line, 300000) != 0) {
        fprintf(stderr, "sandbox did not start\n");
        goto out;
    }
    json_t *urls = json_loads(line, 0, NULL);
    char mkto[128], adm[128];
    snprintf(mkto, sizeof mkto, "%s", json_string_value(json_object_get(urls, "marketo")));
    snprintf(adm, sizeof adm, "%s", json_string_value(json_object_get(urls, "admin")));
    json_decref(urls);
    printf("dataset generated and loaded in %.1f s\n", (ts_now_ms() - t0) / 1000.0);
    json_decref(admin(adm, "POST", "/admin/marketo/limits",
                      "{\"calls_per_20s\":0,\"concurrent\":0,\"daily\":0}"));

    char secret[PATH_MAX + 16];
    snprintf(secret, sizeof secret, "%s/secret", dir);
    ts_write_file(secret, "sbx-mkto-secret", 0, 0600);
    int port = ts_free_port(), mport = ts_free_port();
    char listen[64], metrics[64], e_url[200], e_redis[200], e_secret[PATH_MAX + 64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(metrics, sizeof metrics, "127.0.0.1:%d", mport);
    snprintf(e_url, sizeof e_url, "CAMPSYNC_MARKETO_URL=%s", mkto);
    snprintf(e_redis, sizeof e_redis, "CAMPSYNC_REDIS_URL=%s", ts_redis_url(redis));
    snprintf(e_secret, sizeof e_secret, "CAMPSYNC_MARKETO_CLIENT_SECRET_FILE=%s", secret);
    const char *env[] = {e_url,
                         e_redis,
                         e_secret,
                         "CAMPSYNC_MARKETO_CLIENT_ID=sbx-mkto-client",
                         "CAMPSYNC_ALLOW_PLAIN_HTTP=true",
                         "CAMPSYNC_MARKETO_CALLS_PER_20S=100",
                         "CAMPSYNC_MARKETO_MAX_CONCURRENT=10",
                         "CAMPSYNC_MARKETO_DAILY_QUOTA=0",
                         "CAMPSYNC_LOG_LEVEL=warn",
                         NULL};
    const char *margv[] = {mbin, "--listen", listen, "--metrics", metrics, NULL};
    conn = ts_proc_spawn(margv, env, dir, "marketo");
    if (!conn || ts_wait_port(port, 20000) != 0) {
        fprintf(stderr, "connector did not start\n");
        goto out_sbx;
    }
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    rpc_error err;
    rpc_client_opts co = {.default_timeout_ms = 600000, .max_message_bytes = 64u << 20};
    rpc_client *cl = rpc_client_get(target, &co, &err);
    if (!cl)
        goto out_conn;

    /* ---- members streamed ---- */
    Campsync__V1__StreamProgramMembersRequest sr =
        CAMPSYNC__V1__STREAM_PROGRAM_MEMBERS_REQUEST__INIT;
    sr.program_id = 1001;
    rpc_call_opts o = {.timeout_ms = 900000};
    rpc_stream *s = NULL;
    ids = malloc((size_t)n_want * 2 * sizeof *ids);
    size_t n = 0, pages = 0;
    long long burst_ms = 0;
    t0 = ts_now_ms();
    if (!ids || rpc_stream_open(cl, SVC, "StreamProgramMembers", &sr.base, &o, &s, &err) != 0) {
        fprintf(stderr, "stream: %s\n", err.message);
        goto out_conn;
    }
    ProtobufCMessage *m;
    int r;
    while ((r = rpc_stream_next(s, &m, &err)) == 1) {
        Campsync__V1__ProgramMemberPage *p = (void *)m;
        for (size_t i = 0; i < p->n_members && n < (size_t)n_want * 2; i++)
            ids[n++] = p->members[i]->lead_id;
        if (++pages == 90)
            burst_ms = ts_now_ms() - t0;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_close(s);
    if (r != 0) {
        fprintf(stderr, "stream: %s\n", err.message);
        goto out_conn;
    }
    double secs = (ts_now_ms() - t0) / 1000.0;
    long long used = calls(adm, "GET /rest/v1/programs/{id}/members.json");
    long long min = ((long long)n + 299) / 300;
    printf("members streamed: %zu in %.1f s = %.0f members/s (burst, first 90 pages: %.0f "
           "members/s)\n",
           n, secs, n / secs, burst_ms > 0 ? 90 * 300 / (burst_ms / 1000.0) : 0.0);
    printf("  members calls: %lld, minimum ceil(n/300) = %lld, ratio %.3f\n", used, min,
           (double)used / (double)min);

    /* ---- status writes: everyone to the channel's last step ---- */
    char status[128] = "";
    {
        Campsync__V1__GetProgramRequest gr = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
        gr.program_id = 1001;
        ProtobufCMessage *out = NULL;
        if (rpc_client_unary(cl, SVC, "GetProgram", &gr.base, &out, &o, &err) != 0) {
            fprintf(stderr, "GetProgram: %s\n", err.message);
            goto out_conn;
        }
        Campsync__V1__ListChannelsRequest lr = CAMPSYNC__V1__LIST_CHANNELS_REQUEST__INIT;
        lr.name = ((Campsync__V1__Program *)out)->channel;
        ProtobufCMessage *ch = NULL;
        int crc = rpc_client_unary(cl, SVC, "ListChannels", &lr.base, &ch, &o, &err);
        protobuf_c_message_free_unpacked(out, NULL);
        if (crc != 0) {
            fprintf(stderr, "ListChannels: %s\n", err.message);
            goto out_conn;
        }
        Campsync__V1__ListChannelsResponse *l = (void *)ch;
        if (l->n_channels > 0 && l->channels[0]->n_statuses > 0)
            snprintf(status, sizeof status, "%s",
                     l->channels[0]->statuses[l->channels[0]->n_statuses - 1]->name);
        protobuf_c_message_free_unpacked(ch, NULL);
    }
    /* Start with an empty 20-second window, as the stream did, so the
     * first RPC's rate is the connector's own. */
    ts_sleep_ms(21500);
    t0 = ts_now_ms();
    long long results = 0, updated = 0, skipped = 0, failed = 0, first_ms = 0;
    for (size_t off = 0; off < n; off += WRITE_CHUNK) {
        Campsync__V1__SetMemberStatusRequest wr = CAMPSYNC__V1__SET_MEMBER_STATUS_REQUEST__INIT;
        wr.program_id = 1001;
        wr.status_name = status;
        wr.lead_ids = ids + off;
        wr.n_lead_ids = n - off < WRITE_CHUNK ? n - off : WRITE_CHUNK;
        ProtobufCMessage *out = NULL;
        if (rpc_client_unary(cl, SVC, "SetMemberStatus", &wr.base, &out, &o, &err) != 0) {
            fprintf(stderr, "SetMemberStatus: %s\n", err.message);
            goto out_conn;
        }
        if (off == 0)
            first_ms = ts_now_ms() - t0;
        Campsync__V1__BatchResult *b = (void *)out;
        results += (long long)b->n_results;
        updated += b->updated + b->added;
        skipped += b->skipped;
        failed += b->failed;
        protobuf_c_message_free_unpacked(out, NULL);
    }
    secs = (ts_now_ms() - t0) / 1000.0;
    used = calls(adm, "POST /rest/v1/programs/{id}/members/status.json");
    printf("status writes (to \"%s\"): %lld in %.1f s = %.0f writes/s (%lld changed, %lld skipped, "
           "%lld "
           "failed)\n",
           status, results, secs, results / secs, updated, skipped, failed);
    if (first_ms > 0)
        printf("  burst (first RPC, %d writes within one window's allowance): %.0f writes/s\n",
               WRITE_CHUNK < (int)n ? WRITE_CHUNK : (int)n,
               (WRITE_CHUNK < (int)n ? WRITE_CHUNK : (int)n) / (first_ms / 1000.0));
    printf("  status calls: %lld, minimum ceil(n/300) = %lld, ratio %.3f\n", used, min,
           (double)used / (double)min);
    rc = 0;
out_conn:
    free(ids);
    rpc_client_cleanup();
    if (conn) {
        ts_proc_stop(conn, 10000);
        ts_proc_free(conn);
    }
out_sbx:
    ts_proc_stop(sbx, 10000);
    ts_proc_free(sbx);
out:
    if (redis)
        ts_redis_free(redis);
    ts_tmpdir_remove(dir);
    curl_global_cleanup();
    return rc;
}
