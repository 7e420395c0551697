/*
 * The /metrics endpoint over real HTTP: a server started on 127.0.0.1 with
 * port 0, scraped with libcurl as Prometheus would; also the liveness path,
 * 404/405 answers, and clear start-up errors (port taken, bad address).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

struct fetched {
    long status;
    char ctype[128];
    char *body;
    size_t len;
};

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    struct fetched *f = ud;
    char *nb = realloc(f->body, f->len + sz * n + 1);
    if (!nb)
        return 0;
    f->body = nb;
    memcpy(f->body + f->len, p, sz * n);
    f->len += sz * n;
    f->body[f->len] = '\0';
    return sz * n;
}

static int fetch_from(const char *host, int port, const char *path, const char *method,
                      struct fetched *f)
{
    memset(f, 0, sizeof *f);
    char url[128];
    snprintf(url, sizeof url, "http://%s:%d%s", host, port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(f->ctype, sizeof f->ctype, "%s", ct ? ct : "");
    }
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

static int fetch(int port, const char *path, const char *method, struct fetched *f)
{
    return fetch_from("127.0.0.1", port, path, method, f);
}

static void scrape(void **state)
{
    metrics_registry *r = metrics_registry_new();
    metrics_family *c = metrics_counter(r, "it_requests_total", "Requests", NULL);
    metrics_inc(metrics_with(c, NULL), 41);
    metrics_error err;
    metrics_server *s = metrics_serve(r, "127.0.0.1:0", &err);
    if (!s)
        fail_msg("metrics_serve: %s", err.msg);
    int port = metrics_server_port(s);
    assert_true(port > 0);

    struct fetched f;
    assert_int_equal(fetch(port, "/metrics", NULL, &f), 0);
    assert_int_equal(f.status, 200);
    assert_string_equal(f.ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(f.body, "# TYPE it_requests_total counter\nit_requests_total 41\n"));
    free(f.body);

    /* Later updates show in the next scrape. */
    metrics_inc(metrics_with(c, NULL), 1);
    assert_int_equal(fetch(port, "/metrics", NULL, &f), 0);
    assert_non_null(strstr(f.body, "it_requests_total 42\n"));
    free(f.body);

    assert_int_equal(fetch(port, "/", NULL, &f), 0);
    assert_int_equal(f.status, 200);
    assert_string_equal(f.body, "ok\n");
    free(f.body);

    assert_int_equal(fetch(port, "/nope", NULL, &f), 0);
    assert_int_equal(f.status, 404);
    free(f.body);

    assert_int_equal(fetch(port, "/metrics", "POST", &f), 0);
    assert_int_equal(f.status, 405);
    free(f.body);

    /* The port is taken while the server runs, and the error says so. */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    metrics_server *dup = metrics_serve(r, addr, &err);
    assert_null(dup);
    assert_non_null(strstr(err.msg, "Address already in use"));
    assert_non_null(strstr(err.msg, addr));

    metrics_server_stop(s);
    /* Stopped means stopped: nothing answers on the port any more. */
    assert_int_equal(fetch(port, "/metrics", NULL, &f), -1);
    free(f.body);
    metrics_registry_free(r);
}

static void bad_addresses(void **state)
{
    metrics_registry *r = metrics_registry_new();
    metrics_error err;
    const char *bad[] = {"9090", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:99999", "::1:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_null(metrics_serve(r, bad[i], &err));
        assert_non_null(strstr(err.msg, bad[i]));
    }
    metrics_registry_free(r);
}

static void default_registry_served(void **state)
{
    metrics_rpc_observe("/campsync.v1.Test/Ping", 0, 0.001);
    metrics_error err = {""};
    const char *host = "[::1]";
    metrics_server *s = metrics_serve(metrics_default(), "[::1]:0", &err);
    if (!s) {
        host = "127.0.0.1";
        /* Hosts without IPv6 loopback: fall back to IPv4. */
        s = metrics_serve(metrics_default(), "127.0.0.1:0", &err);
        assert_non_null(s);
    }
    struct fetched f;
    assert_int_equal(fetch_from(host, metrics_server_port(s), "/metrics", NULL, &f), 0);
    assert_non_null(strstr(
        f.body, "campsync_rpc_requests_total{method=\"/campsync.v1.Test/Ping\",code=\"OK\"} 1\n"));
    free(f.body);
    metrics_server_stop(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scrape),
        cmocka_unit_test(bad_addresses),
        cmocka_unit_test(default_registry_served),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
