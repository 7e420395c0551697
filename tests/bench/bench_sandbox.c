/*
 * Benchmark of campsync-sandbox: how many requests per second it sustains on
 * a 100,000-member program, for Marketo member paging and for Marketo status
 * writes (target: 5,000 req/s or more each), and, when the build has the
 * Salesforce simulator, for sObject Collection writes. Starts the real binary
 * (generated dataset, limits lifted through the admin API) and drives it from
 * a few threads with keep-alive connections. Prints one line per figure.
 *
 * Usage: bench_sandbox [seconds-per-phase (default 3)] [threads (default 4)]
 */
#include "ts.h"

#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *data;
    size_t len;
} buf;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    buf *b = ud;
    size_t add = size * n;
    char *nd = realloc(b->data, b->len + add + 1);
    if (!nd)
        return 0;
    b->data = nd;
    memcpy(b->data + b->len, p, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* One request on a reused handle; returns the body (caller frees) or NULL.
 * The load loop only looks into bodies with strstr: parsing 300-row pages
 * with jansson would measure the client, not the sandbox. */
static char *call_raw(CURL *c, const char *method, const char *url, const char *ctype,
                      const char *body, const char *auth)
{
    buf b = {0};
    struct curl_slist *h = NULL;
    char line[512];
    if (ctype) {
        snprintf(line, sizeof line, "Content-Type: %s", ctype);
        h = curl_slist_append(h, line);
    }
    if (auth) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", auth);
        h = curl_slist_append(h, line);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    if (rc != CURLE_OK) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

/* The same, parsed (for setup calls). */
static json_t *call(CURL *c, const char *method, const char *url, const char *ctype,
                    const char *body, const char *auth)
{
    char *raw = call_raw(c, method, url, ctype, body, auth);
    json_t *j = raw ? json_loads(raw, 0, NULL) : NULL;
    free(raw);
    return j;
}

/* Copies the nextPageToken of a Marketo answer into tok ("" when none). */
static void next_token(const char *body, char *tok, size_t cap)
{
    const char *k = body ? strstr(body, "\"nextPageToken\":\"") : NULL;
    tok[0] = '\0';
    if (!k)
        return;
    k += strlen("\"nextPageToken\":\"");
    const char *e = strchr(k, '"');
    if (e && (size_t)(e - k) < cap) {
        memcpy(tok, k, (size_t)(e - k));
        tok[e - k] = '\0';
    }
}

typedef enum { PH_PAGING, PH_STATUS, PH_SF_WRITES } phase;

typedef struct {
    const char *mkto;
    const char *sf;
    const char *mkto_token;
    const char *sf_token;
    json_t *cm_ids; /* CampaignMember ids for the Salesforce phase */
    phase ph;
    long long deadline_ms;
    int id;
    long long requests;
    long long errors;
} worker;

static void *run(void *p)
{
    worker *w = p;
    CURL *c = curl_easy_init();
    char tok[256] = "";
    unsigned seed = (unsigned)w->id * 7919u + 1;
    while (ts_now_ms() < w->deadline_ms) {
        char *r = NULL;
        if (w->ph == PH_PAGING) {
            char url[1024];
            snprintf(
                url, sizeof url,
                "%s/rest/v1/programs/1001/members.json?filterType=statusName&filterValues="
                "Invited,Registered,No%%20Show,Attended&fields=leadId,statusName,updatedAt%s%s",
                w->mkto, tok[0] ? "&nextPageToken=" : "", tok);
            r = call_raw(c, "GET", url, NULL, NULL, w->mkto_token);
            next_token(r, tok, sizeof tok);
        } else if (w->ph == PH_STATUS) {
            static const char *const st[] = {"Registered", "No Show", "Attended"};
            char url[512], body[1024];
            int n = snprintf(body, sizeof body, "{\"statusName\":\"%s\",\"input\":[",
                             st[rand_r(&seed) % 3]);
            for (int k = 0; k < 10; k++)
                n += snprintf(body + n, sizeof body - (size_t)n, "%s{\"leadId\":%u}", k ? "," : "",
                              1 + rand_r(&seed) % 100000);
            snprintf(body + n, sizeof body - (size_t)n, "]}");
            snprintf(url, sizeof url, "%s/rest/v1/programs/1001/members/status.json", w->mkto);
            r = call_raw(c, "POST", url, "application/json", body, w->mkto_token);
        } else {
            static const char *const st[] = {"Invited", "Registered", "Attended"};
            char url[512];
            json_t *recs = json_array();
            size_t nid = json_array_size(w->cm_ids);
            for (int k = 0; k < 10 && nid > 0; k++)
                json_array_append_new(
                    recs, json_pack("{s:{s:s},s:O,s:s}", "attributes", "type", "CampaignMember",
                                    "Id", json_array_get(w->cm_ids, rand_r(&seed) % nid), "Status",
                                    st[rand_r(&seed) % 3]));
            json_t *b = json_pack("{s:b,s:o}", "allOrNone", 0, "records", recs);
            char *body = json_dumps(b, JSON_COMPACT);
            json_decref(b);
            snprintf(url, sizeof url, "%s/services/data/v60.0/composite/sobjects", w->sf);
            r = call_raw(c, "PATCH", url, "application/json", body, w->sf_token);
            free(body);
        }
        w->requests++;
        int ok = r && (w->ph == PH_SF_WRITES ? r[0] == '[' : strstr(r, "\"success\":true") != NULL);
        w->errors += !ok;
        free(r);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static void run_phase(const char *name, worker *tmpl, int threads, int seconds)
{
    worker *w = calloc((size_t)threads, sizeof *w);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    long long t0 = ts_now_ms();
    for (int i = 0; i < threads; i++) {
        w[i] = *tmpl;
        w[i].id = i;
        w[i].deadline_ms = t0 + seconds * 1000LL;
        pthread_create(&th[i], NULL, run, &w[i]);
    }
    long long req = 0, err = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        req += w[i].requests;
        err += w[i].errors;
    }
    double secs = (double)(ts_now_ms() - t0) / 1000.0;
    printf("bench_sandbox %-28s %8.0f req/s  (%lld requests, %lld errors, %d threads, %.1f s)\n",
           name, (double)req / secs, req, err, threads, secs);
    fflush(stdout);
    free(w);
    free(th);
}

static char *token(const char *url, const char *method, const char *body)
{
    CURL *c = curl_easy_init();
    json_t *j = call(c, method, url, body ? "application/x-www-form-urlencoded" : NULL, body, NULL);
    curl_easy_cleanup(c);
    const char *t = json_string_value(json_object_get(j, "access_token"));
    char *out = t ? strdup(t) : NULL;
    json_decref(j);
    return out;
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 3;
    int threads = argc > 2 ? atoi(argv[2]) : 4;
    if (seconds < 1 || threads < 1) {
        fprintf(stderr, "usage: bench_sandbox [seconds-per-phase] [threads]\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char dir[PATH_MAX], bin[PATH_MAX];
    if (ts_tmpdir_make("bench-sbx", dir, sizeof dir) != 0 ||
        ts_bin_path("campsync-sandbox", bin, sizeof bin) != 0)
        return 1;
    const char *argv_s[] = {bin,
                            "--marketo",
                            "127.0.0.1:0",
                            "--salesforce",
                            "127.0.0.1:0",
                            "--admin",
                            "127.0.0.1:0",
                            "--generate",
                            "people=100000,programs=1,members=100000,seed=5",
                            NULL};
    long long t0 = ts_now_ms();
    ts_proc *p = ts_proc_spawn(argv_s, NULL, dir, "sandbox");
    char line[1024];
    if (!p || ts_proc_first_line(p, line, sizeof line, 120000) != 0) {
        fprintf(stderr, "bench_sandbox: the sandbox did not start\n");
        return 1;
    }
    printf("bench_sandbox startup with 100,000-member program: %lld ms\n", ts_now_ms() - t0);
    json_t *urls = json_loads(line, 0, NULL);
    const char *mkto = json_string_value(json_object_get(urls, "marketo"));
    const char *sf = json_string_value(json_object_get(urls, "salesforce"));
    const char *adm = json_string_value(json_object_get(urls, "admin"));

    CURL *c = curl_easy_init();
    char url[1024];
    snprintf(url, sizeof url, "%s/admin/marketo/limits", adm);
    json_decref(call(c, "POST", url, "application/json",
                     "{\"calls_per_20s\":0,\"concurrent\":0,\"daily\":0}", NULL));
    snprintf(url, sizeof url,
             "%s/identity/oauth/token?grant_type=client_credentials&client_id=sbx-mkto-client&"
             "client_secret=sbx-mkto-secret",
             mkto);
    char *mtok = token(url, "GET", NULL);
    worker tmpl = {.mkto = mkto, .sf = sf, .mkto_token = mtok};
    tmpl.ph = PH_PAGING;
    run_phase("marketo member paging (300/page)", &tmpl, threads, seconds);
    tmpl.ph = PH_STATUS;
    run_phase("marketo status writes (10/req)", &tmpl, threads, seconds);

    if (sf) {
        snprintf(url, sizeof url, "%s/admin/salesforce/limits", adm);
        json_decref(call(c, "POST", url, "application/json", "{\"daily_api\":100000000}", NULL));
        snprintf(url, sizeof url, "%s/services/oauth2/token", sf);
        char *stok = token(url, "POST",
                           "grant_type=client_credentials&client_id=sbx-sf-client&client_secret="
                           "sbx-sf-secret");
        snprintf(url, sizeof url,
                 "%s/services/data/v60.0/query?q=SELECT+Id+FROM+CampaignMember+LIMIT+2000", sf);
        json_t *q = stok ? call(c, "GET", url, NULL, NULL, stok) : NULL;
        json_t *ids = json_array();
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(q, "records"), i, r)
            json_array_append(ids, json_object_get(r, "Id"));
        json_decref(q);
        if (stok && json_array_size(ids) > 0) {
            tmpl.sf_token = stok;
            tmpl.cm_ids = ids;
            tmpl.ph = PH_SF_WRITES;
            run_phase("salesforce collection PATCH (10/req)", &tmpl, threads, seconds);
        } else {
            printf("bench_sandbox salesforce phase skipped: no token or no campaign members\n");
        }
        json_decref(ids);
        free(stok);
    }
    curl_easy_cleanup(c);
    free(mtok);
    json_decref(urls);
    ts_proc_stop(p, 10000);
    ts_proc_free(p);
    ts_tmpdir_remove(dir);
    curl_global_cleanup();
    return 0;
}
