/*
 * common/http against a real HTTP server: a libmicrohttpd daemon started by
 * this test on 127.0.0.1 (port 0) with one route per behaviour a vendor can
 * show (echo, slow, flaky 503, Retry-After, Marketo-style error in a 200,
 * big bodies). Checks round trips, connection reuse, timeouts and deadlines,
 * retries and giving up, the body cap and header lookup.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"

static struct MHD_Daemon *daemon_;
static int port_;
static atomic_int connections; /* accepted TCP connections */
static atomic_int hits;        /* requests to the current scenario route */
static atomic_int fail_first;  /* /flaky: how many 503s before a 200 */
static atomic_int release_slow;
static int64_t hit_ms[8]; /* arrival times of /retry-after requests */
static char big[100000];  /* body of /big, filled before the server starts */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct upload {
    char buf[4096];
    size_t len;
};

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&connections, 1);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    free(*con_cls);
    *con_cls = NULL;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *body,
                                 const char *hname, const char *hvalue)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (hname)
        MHD_add_response_header(r, hname, hvalue);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Chunked body (no Content-Length), so the cap is enforced while reading. */
static ssize_t chunked_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    const uint64_t total = 100000;
    if (pos >= total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = max < total - pos ? max : (size_t)(total - pos);
    memset(buf, 'c', n);
    return (ssize_t)n;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    if (!*con_cls) {
        *con_cls = calloc(1, sizeof(struct upload));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    struct upload *up = *con_cls;
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (n > sizeof up->buf - 1 - up->len)
            n = sizeof up->buf - 1 - up->len;
        memcpy(up->buf + up->len, upload_data, n);
        up->len += n;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/echo") == 0) {
        const char *xt = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");
        const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
        char out[8192];
        snprintf(out, sizeof out, "%s|%s|%s|%.*s", method, xt ? xt : "", q ? q : "", (int)up->len,
                 up->buf);
        struct MHD_Response *r =
            MHD_create_response_from_buffer(strlen(out), out, MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(r, "Sforce-Limit-Info", "api-usage=5/1000");
        MHD_add_response_header(r, "X-List", "a, b");
        enum MHD_Result rc = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return rc;
    }
    if (strcmp(url, "/slow") == 0) {
        /* Held until the test releases it (bounded at 5 s). */
        for (int i = 0; i < 500 && !atomic_load(&release_slow); i++)
            usleep(10000);
        return send_text(c, 200, "late", NULL, NULL);
    }
    if (strcmp(url, "/flaky") == 0) {
        int n = atomic_fetch_add(&hits, 1);
        if (n < atomic_load(&fail_first))
            return send_text(c, 503, "busy", NULL, NULL);
        return send_text(c, 200, "ok", NULL, NULL);
    }
    if (strcmp(url, "/retry-after") == 0) {
        int n = atomic_fetch_add(&hits, 1);
        if (n < 8)
            hit_ms[n] = now_ms();
        if (n == 0)
            return send_text(c, 503, "later", "Retry-After", "1");
        return send_text(c, 200, "ok", NULL, NULL);
    }
    if (strcmp(url, "/always503") == 0) {
        atomic_fetch_add(&hits, 1);
        const char *ra = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ra");
        return send_text(c, 503, "down", ra ? "Retry-After" : NULL, ra);
    }
    if (strcmp(url, "/teapot") == 0) {
        atomic_fetch_add(&hits, 1);
        return send_text(c, 418, "no", NULL, NULL);
    }
    if (strcmp(url, "/marketo") == 0) {
        int n = atomic_fetch_add(&hits, 1);
        if (n == 0)
            return send_text(c, 200,
                             "{\"success\":false,\"errors\":[{\"code\":\"606\",\"message\":"
                             "\"Max rate limit exceeded\"}]}",
                             NULL, NULL);
        return send_text(c, 200, "{\"success\":true,\"result\":[]}", NULL, NULL);
    }
    if (strcmp(url, "/big") == 0) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(sizeof big, big, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result rc = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return rc;
    }
    if (strcmp(url, "/bigchunked") == 0) {
        struct MHD_Response *r =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, chunked_body, NULL, NULL);
        enum MHD_Result rc = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return rc;
    }
    return send_text(c, 404, "no such route", NULL, NULL);
}

static int start_server(void **state)
{
    memset(big, 'b', sizeof big);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    daemon_ = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL,
        NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)30, MHD_OPTION_END);
    if (!daemon_)
        return -1;
    port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
    http_config cfg = {.allow_plain_http = 1, .timeout_ms = 10000};
    http_error err;
    if (http_init(&cfg, &err) != 0)
        return -1;
    return 0;
}

static int stop_server(void **state)
{
    atomic_store(&release_slow, 1);
    http_cleanup();
    MHD_stop_daemon(daemon_);
    return 0;
}

/* Resets the per-scenario counters. */
static int reset(void **state)
{
    atomic_store(&hits, 0);
    atomic_store(&fail_first, 0);
    atomic_store(&release_slow, 0);
    return 0;
}

static const char *url(const char *path)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "http://127.0.0.1:%d%s", port_, path);
    return buf;
}

static void round_trip(void **state)
{
    const char *headers[] = {"X-Test: hello", "Content-Type: application/json", NULL};
    const char body[] = "{\"a\":1}";
    http_method methods[] = {HTTP_POST, HTTP_PATCH, HTTP_PUT, HTTP_DELETE};
    const char *names[] = {"POST", "PATCH", "PUT", "DELETE"};
    for (size_t i = 0; i < 4; i++) {
        http_request req = {.method = methods[i],
                            .url = url("/echo?q=a%20b"),
                            .headers = headers,
                            .body = body,
                            .body_len = sizeof body - 1};
        http_response resp;
        http_error err;
        assert_int_equal(http_do(&req, &resp, &err), 0);
        assert_int_equal(resp.status, 200);
        char want[128];
        snprintf(want, sizeof want, "%s|hello|a b|{\"a\":1}", names[i]);
        assert_string_equal(resp.body, want);
        assert_int_equal(resp.body_len, strlen(want));
        assert_true(resp.elapsed_s >= 0);
        http_response_free(&resp);
    }
    /* GET without a body. */
    http_request get = {.method = HTTP_GET, .url = url("/echo")};
    http_response resp;
    http_error err;
    assert_int_equal(http_do(&get, &resp, &err), 0);
    assert_string_equal(resp.body, "GET|||");
    http_response_free(&resp);
    /* Unknown routes are a response, not an error. */
    get.url = url("/nope");
    assert_int_equal(http_do(&get, &resp, &err), 0);
    assert_int_equal(resp.status, 404);
    http_response_free(&resp);
}

static void header_lookup(void **state)
{
    http_request req = {.method = HTTP_GET, .url = url("/echo")};
    http_response resp;
    http_error err;
    assert_int_equal(http_do(&req, &resp, &err), 0);
    assert_non_null(http_response_header(&resp, "Sforce-Limit-Info"));
    assert_string_equal(http_response_header(&resp, "Sforce-Limit-Info"), "api-usage=5/1000");
    assert_string_equal(http_response_header(&resp, "sforce-limit-info"), "api-usage=5/1000");
    assert_string_equal(http_response_header(&resp, "SFORCE-LIMIT-INFO"), "api-usage=5/1000");
    const char *list = http_response_header(&resp, "x-list");
    assert_non_null(list);
    assert_string_equal(list, "a, b");
    assert_null(http_response_header(&resp, "Retry-After"));
    /* The status line is not a header. */
    for (size_t i = 0; i < resp.n_headers; i++)
        assert_null(strstr(resp.headers[i].name, "HTTP/"));
    http_response_free(&resp);
    /* Freeing twice (zeroed) is harmless. */
    http_response_free(&resp);
}

static void keep_alive(void **state)
{
    http_request req = {.method = HTTP_GET, .url = url("/echo")};
    http_response resp;
    http_error err;
    /* Warm up so the handle has a live connection. */
    assert_int_equal(http_do(&req, &resp, &err), 0);
    http_response_free(&resp);
    int before = atomic_load(&connections);
    for (int i = 0; i < 5; i++) {
        req.method = i % 2 ? HTTP_POST : HTTP_GET;
        req.body = "x";
        req.body_len = 1;
        assert_int_equal(http_do(&req, &resp, &err), 0);
        assert_int_equal(resp.status, 200);
        http_response_free(&resp);
    }
    assert_int_equal(atomic_load(&connections), before);
}

static void *one_call(void *p)
{
    http_request req = {.method = HTTP_GET, .url = p};
    http_response resp;
    http_error err;
    intptr_t ok = http_do(&req, &resp, &err) == 0 && resp.status == 200;
    http_response_free(&resp);
    http_do(&req, &resp, &err);
    ok = ok && resp.status == 200;
    http_response_free(&resp);
    return (void *)ok;
}

static void handle_per_thread(void **state)
{
    char u[256];
    snprintf(u, sizeof u, "%s", url("/echo"));
    int before = atomic_load(&connections);
    pthread_t t;
    void *ok;
    assert_int_equal(pthread_create(&t, NULL, one_call, u), 0);
    pthread_join(t, &ok);
    assert_true((intptr_t)ok);
    /* Two calls on a fresh thread: one new connection, reused once. */
    assert_int_equal(atomic_load(&connections), before + 1);
}

static void timeout(void **state)
{
    http_request req = {.method = HTTP_GET, .url = url("/slow"), .timeout_ms = 200};
    http_response resp;
    http_error err;
    assert_int_equal(http_do(&req, &resp, &err), -1);
    assert_int_equal(err.kind, HTTP_ERR_TIMEOUT);
    assert_int_not_equal(err.curl_code, 0);
    assert_non_null(strstr(err.msg, "GET http://127.0.0.1:"));
    assert_null(resp.body);
    atomic_store(&release_slow, 1);
}

static void deadline(void **state)
{
    http_request req = {
        .method = HTTP_GET, .url = url("/slow"), .deadline_ms = http_deadline_in(300)};
    http_response resp;
    http_error err;
    assert_int_equal(http_do_retry(&req, NULL, &resp, &err), -1);
    assert_int_equal(err.kind, HTTP_ERR_DEADLINE);
    assert_int_equal(err.attempts, 1);
    atomic_store(&release_slow, 1);

    /* A deadline already past sends nothing. */
    int before = atomic_load(&hits);
    req.url = url("/flaky");
    req.deadline_ms = http_now_ms() - 1;
    assert_int_equal(http_do(&req, &resp, &err), -1);
    assert_int_equal(err.kind, HTTP_ERR_DEADLINE);
    assert_int_equal(atomic_load(&hits), before);
}

static int hook_calls;
static int hook_errors;
static char hook_endpoint[64];
static void count_hook(const char *endpoint, int status, int transport_error, double seconds)
{
    hook_calls++;
    hook_errors += transport_error;
    snprintf(hook_endpoint, sizeof hook_endpoint, "%s", endpoint);
}

static void retry_then_success(void **state)
{
    atomic_store(&fail_first, 2);
    hook_calls = 0;
    http_set_call_hook(count_hook);
    http_request req = {.method = HTTP_GET, .url = url("/flaky"), .endpoint = "test.flaky"};
    http_retry_policy pol = {.max_attempts = 5, .base_delay_ms = 10, .max_delay_ms = 50};
    http_response resp;
    http_error err;
    assert_int_equal(http_do_retry(&req, &pol, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body, "ok");
    assert_int_equal(err.attempts, 3);
    assert_int_equal(atomic_load(&hits), 3);
    assert_int_equal(hook_calls, 3);
    assert_string_equal(hook_endpoint, "test.flaky");
    http_set_call_hook(NULL);
    http_response_free(&resp);
}

static void non_retryable_status_is_final(void **state)
{
    http_request req = {.method = HTTP_GET, .url = url("/teapot")};
    http_response resp;
    http_error err;
    assert_int_equal(http_do_retry(&req, NULL, &resp, &err), 0);
    assert_int_equal(resp.status, 418);
    assert_int_equal(err.attempts, 1);
    assert_int_equal(atomic_load(&hits), 1);
    http_response_free(&resp);
}

static void retry_after_honoured(void **state)
{
    http_request req = {.method = HTTP_GET, .url = url("/retry-after")};
    /* Back-off alone would wait at most 5 ms. */
    http_retry_policy pol = {.max_attempts = 3, .base_delay_ms = 1, .max_delay_ms = 5};
    http_response resp;
    http_error err;
    assert_int_equal(http_do_retry(&req, &pol, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(err.attempts, 2);
    /* The second request came no earlier than Retry-After: 1 allowed (a
     * lower bound: the client slept at least that long). */
    assert_true(hit_ms[1] - hit_ms[0] >= 990);
    http_response_free(&resp);
}

static void retry_after_beyond_limit_gives_up(void **state)
{
    http_request req = {.method = HTTP_GET, .url = url("/always503?ra=120")};
    http_retry_policy pol = {.max_attempts = 5, .base_delay_ms = 1};
    http_response resp;
    http_error err;
    assert_int_equal(http_do_retry(&req, &pol, &resp, &err), 0);
    assert_int_equal(resp.status, 503);
    assert_int_equal(err.attempts, 1);
    assert_int_equal(atomic_load(&hits), 1);
    assert_non_null(strstr(err.msg, "Retry-After"));
    http_response_free(&resp);

    /* ... and a Retry-After past the caller's deadline as well. */
    atomic_store(&hits, 0);
    req.url = url("/always503?ra=5");
    req.deadline_ms = http_deadline_in(2000);
    assert_int_equal(http_do_retry(&req, &pol, &resp, &err), 0);
    assert_int_equal(err.attempts, 1);
    assert_non_null(strstr(err.msg, "deadline"));
    http_response_free(&resp);
}

static void gives_up_after_budget(void **state)
{
    http_request req = {.method = HTTP_POST, .url = url("/always503"), .body = "{}", .body_len = 2};
    http_retry_policy pol = {
        .max_attempts = 1000, .base_delay_ms = 20, .max_delay_ms = 100, .budget_ms = 600};
    http_response resp;
    http_error err;
    assert_int_equal(http_do_retry(&req, &pol, &resp, &err), 0);
    assert_int_equal(resp.status, 503);
    assert_true(err.attempts > 1);
    assert_true(err.attempts < 1000);
    assert_int_equal(atomic_load(&hits), err.attempts);
    assert_non_null(strstr(err.msg, "HTTP 503 after"));
    assert_non_null(strstr(err.msg, "deadline"));
    http_response_free(&resp);

    /* max_attempts bounds it too. */
    atomic_store(&hits, 0);
    pol = (http_retry_policy){.max_attempts = 3, .base_delay_ms = 1, .max_delay_ms = 2};
    assert_int_equal(http_do_retry(&req, &pol, &resp, &err), 0);
    assert_int_equal(err.attempts, 3);
    assert_int_equal(atomic_load(&hits), 3);
    assert_non_null(strstr(err.msg, "attempts exhausted"));
    http_response_free(&resp);
}

static http_verdict marketo_classifier(void *ud, int rc, const http_response *resp,
                                       const http_error *err, long *delay_ms)
{
    int *seen = ud;
    (*seen)++;
    if (rc == 0 && resp->status == 200 && strstr(resp->body, "\"606\"")) {
        *delay_ms = 20;
        return HTTP_RETRY_YES;
    }
    return HTTP_RETRY_DEFAULT;
}

static void classifier_retries_vendor_errors(void **state)
{
    int seen = 0;
    http_request req = {.method = HTTP_GET, .url = url("/marketo")};
    http_retry_policy pol = {.max_attempts = 3,
                             .base_delay_ms = 1,
                             .classify = marketo_classifier,
                             .classify_ud = &seen};
    http_response resp;
    http_error err;
    assert_int_equal(http_do_retry(&req, &pol, &resp, &err), 0);
    assert_int_equal(err.attempts, 2);
    assert_int_equal(seen, 2);
    assert_string_equal(resp.body, "{\"success\":true,\"result\":[]}");
    http_response_free(&resp);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static void connection_refused(void **state)
{
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x", free_port());
    http_request req = {.method = HTTP_GET, .url = u};
    http_response resp;
    http_error err;
    assert_int_equal(http_do(&req, &resp, &err), -1);
    assert_int_equal(err.kind, HTTP_ERR_CONNECT);
    assert_non_null(strstr(err.msg, "onnect"));
    /* Connection errors are retried, then reported. */
    http_retry_policy pol = {.max_attempts = 3, .base_delay_ms = 1, .max_delay_ms = 2};
    assert_int_equal(http_do_retry(&req, &pol, &resp, &err), -1);
    assert_int_equal(err.kind, HTTP_ERR_CONNECT);
    assert_int_equal(err.attempts, 3);
    assert_non_null(strstr(err.msg, "after 3 attempts"));
}

static void body_cap(void **state)
{
    const char *routes[] = {"/big", "/bigchunked"};
    for (size_t i = 0; i < 2; i++) {
        http_request req = {.method = HTTP_GET, .url = url(routes[i]), .max_response_bytes = 1000};
        http_response resp;
        http_error err;
        assert_int_equal(http_do(&req, &resp, &err), -1);
        assert_int_equal(err.kind, HTTP_ERR_TOO_LARGE);
        assert_non_null(strstr(err.msg, "exceeds the limit of 1000 bytes"));
        assert_null(resp.body);
        /* Not retried: the next answer would be as big. */
        assert_int_equal(http_do_retry(&req, NULL, &resp, &err), -1);
        assert_int_equal(err.attempts, 1);

        req.max_response_bytes = 100000; /* exactly fits */
        assert_int_equal(http_do(&req, &resp, &err), 0);
        assert_int_equal(resp.body_len, 100000);
        assert_int_equal(resp.body[100000], '\0');
        http_response_free(&resp);
    }
}

static void plain_http_needs_opt_in(void **state)
{
    http_cleanup();
    http_error err;
    assert_int_equal(http_init(NULL, &err), 0);
    http_request req = {.method = HTTP_GET, .url = url("/echo?client_secret=hunter2")};
    http_response resp;
    assert_int_equal(http_do(&req, &resp, &err), -1);
    assert_int_equal(err.kind, HTTP_ERR_USAGE);
    assert_non_null(strstr(err.msg, "only https:// URLs are allowed"));
    /* Query strings (which may hold secrets) never reach messages. */
    assert_null(strstr(err.msg, "hunter2"));
    req.url = "ftp://example.com/x";
    assert_int_equal(http_do(&req, &resp, &err), -1);
    assert_int_equal(err.kind, HTTP_ERR_USAGE);
    http_cleanup();
    http_config cfg = {.allow_plain_http = 1};
    assert_int_equal(http_init(&cfg, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(round_trip, reset),
        cmocka_unit_test_setup(header_lookup, reset),
        cmocka_unit_test_setup(keep_alive, reset),
        cmocka_unit_test_setup(handle_per_thread, reset),
        cmocka_unit_test_setup(timeout, reset),
        cmocka_unit_test_setup(deadline, reset),
        cmocka_unit_test_setup(retry_then_success, reset),
        cmocka_unit_test_setup(non_retryable_status_is_final, reset),
        cmocka_unit_test_setup(retry_after_honoured, reset),
        cmocka_unit_test_setup(retry_after_beyond_limit_gives_up, reset),
        cmocka_unit_test_setup(gives_up_after_budget, reset),
        cmocka_unit_test_setup(classifier_retries_vendor_errors, reset),
        cmocka_unit_test_setup(connection_refused, reset),
        cmocka_unit_test_setup(body_cap, reset),
        cmocka_unit_test_setup(plain_http_needs_opt_in, reset),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
