/*
 * A libcurl client and a private campsync-sandbox for integration tests (see
 * ts_http.h).
 */
#include "ts_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    ts_http_res *r = ud;
    size_t add = size * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, p, add);
    r->body = nb;
    r->len += add;
    nb[r->len] = '\0';
    return add;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    ts_http_res *r = ud;
    size_t add = size * n, have = r->headers ? strlen(r->headers) : 0;
    char *nh = realloc(r->headers, have + add + 1);
    if (!nh)
        return 0;
    memcpy(nh + have, p, add);
    nh[have + add] = '\0';
    r->headers = nh;
    return add;
}

ts_http_res ts_http(const char *method, const char *url, const char *ctype, const char *body,
                    size_t body_len, const char *bearer)
{
    ts_http_res r = {0};
    CURL *c = curl_easy_init();
    if (!c) {
        r.transport_error = "curl_easy_init failed";
        return r;
    }
    struct curl_slist *h = NULL;
    char line[300];
    if (ctype) {
        snprintf(line, sizeof line, "Content-Type: %s", ctype);
        h = curl_slist_append(h, line);
    }
    if (bearer) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", bearer);
        h = curl_slist_append(h, line);
    }
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    else
        r.transport_error = curl_easy_strerror(rc);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r.body)
        r.json = json_loads(r.body, 0, NULL);
    return r;
}

ts_http_res ts_http_at(const char *method, const char *base, const char *path,
                       const char *json_body, const char *bearer)
{
    char *url = NULL;
    if (asprintf(&url, "%s%s", base, path) < 0) {
        ts_http_res r = {.transport_error = "out of memory"};
        return r;
    }
    ts_http_res r = ts_http(method, url, json_body ? "application/json" : NULL, json_body,
                            json_body ? strlen(json_body) : 0, bearer);
    free(url);
    return r;
}

void ts_http_res_free(ts_http_res *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

int ts_http_header(const ts_http_res *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = r->headers; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
        if (strncasecmp(l, name, nl) != 0 || l[nl] != ':')
            continue;
        const char *v = l + nl + 1, *end = v + strcspn(v, "\r\n");
        while (*v == ' ' || *v == '\t')
            v++;
        snprintf(out, cap, "%.*s", (int)(end - v), v);
        return 0;
    }
    if (cap)
        out[0] = '\0';
    return -1;
}

/* ---- sandbox ---- */

static int url_of(json_t *urls, const char *key, char *out, size_t cap)
{
    const char *v = json_string_value(json_object_get(urls, key));
    if (v && strlen(v) >= cap)
        return -1;
    snprintf(out, cap, "%s", v ? v : "");
    return 0;
}

ts_sandbox *ts_sandbox_start(const ts_sandbox_opts *o)
{
    ts_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb || ts_tmpdir_make("sbx", sb->dir, sizeof sb->dir) != 0) {
        free(sb);
        return NULL;
    }
    char bin[512], dataset[600] = "", seed[24];
    snprintf(seed, sizeof seed, "%d", o->seed);
    if (ts_bin_path("campsync-sandbox", bin, sizeof bin) != 0)
        goto fail;
    if (o->dataset && ts_source_path(o->dataset, dataset, sizeof dataset) != 0)
        goto fail;
    if (o->dataset_json) {
        snprintf(dataset, sizeof dataset, "%s/dataset.json", sb->dir);
        if (ts_write_file(dataset, o->dataset_json, 0, 0600) != 0)
            goto fail;
    }
    const char *argv[12] = {bin, "--admin", "127.0.0.1:0", "--seed", seed};
    int n = 5;
    if (o->marketo) {
        argv[n++] = "--marketo";
        argv[n++] = "127.0.0.1:0";
    }
    if (o->salesforce) {
        argv[n++] = "--salesforce";
        argv[n++] = "127.0.0.1:0";
    }
    if (dataset[0]) {
        argv[n++] = "--dataset";
        argv[n++] = dataset;
    }
    argv[n] = NULL;
    sb->proc = ts_proc_spawn(argv, NULL, sb->dir, "sandbox");
    char line[1024];
    if (!sb->proc || ts_proc_first_line(sb->proc, line, sizeof line, 60000) != 0)
        goto fail;
    json_t *urls = json_loads(line, 0, NULL);
    int bad = url_of(urls, "marketo", sb->marketo, sizeof sb->marketo) ||
              url_of(urls, "salesforce", sb->salesforce, sizeof sb->salesforce) ||
              url_of(urls, "admin", sb->admin, sizeof sb->admin) || !sb->admin[0] ||
              (o->marketo && !sb->marketo[0]) || (o->salesforce && !sb->salesforce[0]);
    json_decref(urls);
    if (bad) {
        fprintf(stderr, "ts: sandbox printed an unexpected line: %s\n", line);
        goto fail;
    }
    return sb;
fail:
    ts_sandbox_stop(sb, 5000);
    return NULL;
}

int ts_sandbox_stop(ts_sandbox *sb, int timeout_ms)
{
    if (!sb)
        return 0;
    int rc = 0;
    if (sb->proc) {
        int st = ts_proc_stop(sb->proc, timeout_ms);
        if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "ts: sandbox exited with status %d\n", st);
            ts_proc_dump_stderr(sb->proc, 4000);
            rc = -1;
        }
        ts_proc_free(sb->proc);
    }
    ts_tmpdir_remove(sb->dir);
    free(sb);
    return rc;
}

int ts_sandbox_admin_ok(const ts_sandbox *sb, const char *method, const char *path,
                        const char *json_body)
{
    ts_http_res r = ts_http_at(method, sb->admin, path, json_body, NULL);
    int rc = r.status == 200 ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "ts: admin %s %s -> %ld %s\n", method, path, r.status,
                r.body ? r.body : (r.transport_error ? r.transport_error : ""));
    ts_http_res_free(&r);
    return rc;
}

json_t *ts_sandbox_state(const ts_sandbox *sb, const char *vendor)
{
    ts_http_res r = ts_http_at("GET", sb->admin, "/admin/state", NULL, NULL);
    json_t *v = r.status == 200 ? json_incref(json_object_get(r.json, vendor)) : NULL;
    if (!v)
        fprintf(stderr, "ts: admin state -> %ld, no \"%s\"\n", r.status, vendor);
    ts_http_res_free(&r);
    return v;
}

int ts_sandbox_marketo_token(ts_sandbox *sb)
{
    /* The sandbox's default Marketo client (tests/sandbox/README.md). */
    ts_http_res r = ts_http_at("GET", sb->marketo,
                               "/identity/oauth/token?grant_type=client_credentials&"
                               "client_id=sbx-mkto-client&client_secret=sbx-mkto-secret",
                               NULL, NULL);
    const char *t =
        r.status == 200 ? json_string_value(json_object_get(r.json, "access_token")) : NULL;
    int rc = t && strlen(t) < sizeof sb->token ? 0 : -1;
    if (rc == 0)
        snprintf(sb->token, sizeof sb->token, "%s", t);
    else
        fprintf(stderr, "ts: Marketo token -> %ld %s\n", r.status, r.body ? r.body : "");
    ts_http_res_free(&r);
    return rc;
}

int ts_mkto_success(const ts_http_res *r)
{
    return json_is_true(json_object_get(r->json, "success"));
}

const char *ts_mkto_error_code(const ts_http_res *r)
{
    json_t *e = json_array_get(json_object_get(r->json, "errors"), 0);
    const char *c = json_string_value(json_object_get(e, "code"));
    return c ? c : "";
}
