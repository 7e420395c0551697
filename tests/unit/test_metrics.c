/*
 * Unit tests for common/metrics: the exact text exposition format (HELP and
 * TYPE lines, escaping, cumulative histogram buckets, _sum and _count),
 * read back with a small parser of the format, plus registration rules,
 * the series cap, and exact totals under concurrent updates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

#define L(...) ((const char *const[]){__VA_ARGS__})

/* One parsed sample line: name{labels} value, with label values unescaped. */
struct sample {
    char name[128];
    char labels[8][2][128];
    int nlabels;
    double value;
};

static int parse_sample(const char *line, struct sample *s)
{
    memset(s, 0, sizeof *s);
    const char *p = line;
    size_t n = strcspn(p, "{ ");
    if (n == 0 || n >= sizeof s->name)
        return -1;
    memcpy(s->name, p, n);
    p += n;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            if (s->nlabels == 8)
                return -1;
            size_t k = strcspn(p, "=");
            if (p[k] != '=' || p[k + 1] != '"' || k >= 128)
                return -1;
            memcpy(s->labels[s->nlabels][0], p, k);
            p += k + 2;
            char *v = s->labels[s->nlabels][1];
            size_t vi = 0;
            while (*p != '"') {
                if (!*p || vi >= 127)
                    return -1;
                if (*p == '\\') {
                    p++;
                    if (*p == 'n')
                        v[vi++] = '\n';
                    else if (*p == '\\' || *p == '"')
                        v[vi++] = *p;
                    else
                        return -1;
                    p++;
                } else {
                    v[vi++] = *p++;
                }
            }
            p++;
            s->nlabels++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return -1;
        }
        p++;
    }
    if (*p != ' ')
        return -1;
    p++;
    char *end;
    if (strcmp(p, "+Inf") == 0)
        s->value = INFINITY;
    else if (strcmp(p, "-Inf") == 0)
        s->value = -INFINITY;
    else if (strcmp(p, "NaN") == 0)
        s->value = NAN;
    else {
        s->value = strtod(p, &end);
        if (end == p || *end)
            return -1;
    }
    return 0;
}

/* Checks that every line is a comment or a parseable sample. */
static void assert_well_formed(const char *text)
{
    char *copy = strdup(text);
    assert_true(strlen(text) == 0 || text[strlen(text) - 1] == '\n');
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') {
            assert_true(strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0);
            continue;
        }
        struct sample s;
        if (parse_sample(line, &s) != 0)
            fail_msg("unparseable line: %s", line);
    }
    free(copy);
}

/* Finds the sample line with this name and label set (as "k=v,k=v"). */
static int find_value(const char *text, const char *name, const char *labels, double *out)
{
    char *copy = strdup(text);
    int found = 0;
    for (char *line = strtok(copy, "\n"); line && !found; line = strtok(NULL, "\n")) {
        struct sample s;
        if (line[0] == '#' || parse_sample(line, &s) != 0 || strcmp(s.name, name) != 0)
            continue;
        char got[512] = "";
        for (int i = 0; i < s.nlabels; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s=%s", i ? "," : "",
                     s.labels[i][0], s.labels[i][1]);
        if (strcmp(got, labels) == 0) {
            *out = s.value;
            found = 1;
        }
    }
    free(copy);
    return found;
}

static void exact_text(void **state)
{
    metrics_registry *r = metrics_registry_new();
    metrics_family *c =
        metrics_counter(r, "app_requests_total", "Requests served.", L("method", "code", NULL));
    metrics_family *g = metrics_gauge(r, "app_queue_depth", "Queue depth", NULL);
    static const double b[] = {0.1, 0.5, 1};
    metrics_family *h = metrics_histogram(r, "app_latency_seconds", "Latency", L("op", NULL), b, 3);
    assert_non_null(c);
    assert_non_null(g);
    assert_non_null(h);

    metrics_inc(metrics_with(c, L("Get", "OK")), 1);
    metrics_inc(metrics_with(c, L("Get", "OK")), 2);
    metrics_inc(metrics_with(c, L("Put", "UNAVAILABLE")), 1);
    metrics_set(metrics_with(g, NULL), 7);
    metrics_inc(metrics_with(g, NULL), -2.5);
    metrics_series *hs = metrics_with(h, L("sync"));
    metrics_observe(hs, 0.05);
    metrics_observe(hs, 0.1); /* le is inclusive */
    metrics_observe(hs, 0.7);
    metrics_observe(hs, 3);

    size_t len;
    char *text = metrics_render(r, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    const char *want = "# HELP app_requests_total Requests served.\n"
                       "# TYPE app_requests_total counter\n"
                       "app_requests_total{method=\"Get\",code=\"OK\"} 3\n"
                       "app_requests_total{method=\"Put\",code=\"UNAVAILABLE\"} 1\n"
                       "# HELP app_queue_depth Queue depth\n"
                       "# TYPE app_queue_depth gauge\n"
                       "app_queue_depth 4.5\n"
                       "# HELP app_latency_seconds Latency\n"
                       "# TYPE app_latency_seconds histogram\n"
                       "app_latency_seconds_bucket{op=\"sync\",le=\"0.1\"} 2\n"
                       "app_latency_seconds_bucket{op=\"sync\",le=\"0.5\"} 2\n"
                       "app_latency_seconds_bucket{op=\"sync\",le=\"1\"} 3\n"
                       "app_latency_seconds_bucket{op=\"sync\",le=\"+Inf\"} 4\n"
                       "app_latency_seconds_sum{op=\"sync\"} 3.85\n"
                       "app_latency_seconds_count{op=\"sync\"} 4\n";
    assert_string_equal(text, want);
    assert_well_formed(text);
    free(text);
    metrics_registry_free(r);
}

static void escaping(void **state)
{
    metrics_registry *r = metrics_registry_new();
    metrics_family *c =
        metrics_counter(r, "esc_total", "Help with \\ backslash\nand newline", L("v", NULL));
    const char *nasty = "a\"b\\c\nd";
    metrics_inc(metrics_with(c, L(nasty)), 1);
    metrics_inc(metrics_with(c, L(NULL)), 1); /* NULL value is "" */
    char *text = metrics_render(r, NULL);
    assert_non_null(strstr(text, "# HELP esc_total Help with \\\\ backslash\\nand newline\n"));
    assert_non_null(strstr(text, "esc_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"));
    assert_non_null(strstr(text, "esc_total{v=\"\"} 1\n"));
    assert_well_formed(text);
    double v = 0;
    assert_true(find_value(text, "esc_total", "v=a\"b\\c\nd", &v));
    assert_true(v == 1);
    free(text);
    metrics_registry_free(r);
}

static void numbers(void **state)
{
    metrics_registry *r = metrics_registry_new();
    metrics_family *g = metrics_gauge(r, "num", "n", L("k", NULL));
    metrics_set(metrics_with(g, L("third")), 1.0 / 3);
    metrics_set(metrics_with(g, L("big")), 1e20);
    metrics_set(metrics_with(g, L("neg")), -42);
    metrics_set(metrics_with(g, L("inf")), INFINITY);
    metrics_set(metrics_with(g, L("nan")), NAN);
    char *text = metrics_render(r, NULL);
    assert_well_formed(text);
    double v;
    assert_true(find_value(text, "num", "k=third", &v));
    assert_true(v == 1.0 / 3); /* printed with enough digits to round-trip */
    assert_true(find_value(text, "num", "k=big", &v));
    assert_true(v == 1e20);
    assert_non_null(strstr(text, "num{k=\"neg\"} -42\n"));
    assert_non_null(strstr(text, "num{k=\"inf\"} +Inf\n"));
    assert_non_null(strstr(text, "num{k=\"nan\"} NaN\n"));
    free(text);
    metrics_registry_free(r);
}

static void registration_rules(void **state)
{
    metrics_registry *r = metrics_registry_new();
    metrics_family *c = metrics_counter(r, "x_total", "x", L("a", NULL));
    assert_non_null(c);
    /* Same name, type and labels: the same family. */
    assert_ptr_equal(metrics_counter(r, "x_total", "other help", L("a", NULL)), c);
    /* Clashes and invalid names are refused. */
    assert_null(metrics_gauge(r, "x_total", "x", L("a", NULL)));
    assert_null(metrics_counter(r, "x_total", "x", L("b", NULL)));
    assert_null(metrics_counter(r, "1bad", "x", NULL));
    assert_null(metrics_counter(r, "bad-name", "x", NULL));
    assert_null(metrics_counter(r, "ok_name", "x", L("bad-label", NULL)));
    assert_null(metrics_counter(r, "ok_name", "x", L("__reserved", NULL)));
    assert_null(metrics_histogram(r, "h", "x", L("le", NULL), NULL, 0));
    static const double unsorted[] = {1, 0.5};
    assert_null(metrics_histogram(r, "h", "x", NULL, unsorted, 2));
    /* Counters never go down; updates of the wrong kind are ignored. */
    metrics_series *s = metrics_with(c, L("v"));
    metrics_inc(s, 5);
    metrics_inc(s, -1);
    metrics_inc(s, NAN);
    metrics_set(s, 100);
    metrics_observe(s, 1);
    /* NULL series and families are no-ops, never crashes. */
    metrics_inc(NULL, 1);
    metrics_observe(NULL, 1);
    assert_null(metrics_with(NULL, L("v")));
    char *text = metrics_render(r, NULL);
    assert_non_null(strstr(text, "x_total{a=\"v\"} 5\n"));
    /* The default latency buckets are used when none are given. */
    metrics_family *h = metrics_histogram(r, "lat_seconds", "l", NULL, NULL, 0);
    assert_non_null(h);
    free(text);
    text = metrics_render(r, NULL);
    assert_non_null(strstr(text, "lat_seconds_bucket{le=\"0.005\"} 0\n"));
    assert_non_null(strstr(text, "lat_seconds_bucket{le=\"10\"} 0\n"));
    assert_non_null(strstr(text, "lat_seconds_count 0\n"));
    free(text);
    metrics_registry_free(r);
}

static void series_cap(void **state)
{
    metrics_registry *r = metrics_registry_new();
    metrics_family *c = metrics_counter(r, "cap_total", "c", L("id", NULL));
    char id[16];
    for (int i = 0; i < METRICS_MAX_SERIES; i++) {
        snprintf(id, sizeof id, "%d", i);
        assert_non_null(metrics_with(c, L(id)));
    }
    assert_null(metrics_with(c, L("one-too-many")));
    /* Existing series still work at the cap. */
    metrics_series *s0 = metrics_with(c, L("0"));
    assert_non_null(s0);
    assert_ptr_equal(metrics_with(c, L("0")), s0);
    metrics_registry_free(r);
}

struct worker_arg {
    metrics_family *c, *h;
    int id;
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    char label[8];
    snprintf(label, sizeof label, "%d", a->id % 2);
    for (int i = 0; i < 20000; i++) {
        metrics_inc(metrics_with(a->c, L(label)), 1);
        metrics_observe(metrics_with(a->h, L(label)), 0.25);
    }
    return NULL;
}

static void concurrent_updates_are_exact(void **state)
{
    metrics_registry *r = metrics_registry_new();
    struct worker_arg args[4];
    pthread_t th[4];
    metrics_family *c = metrics_counter(r, "conc_total", "c", L("w", NULL));
    metrics_family *h = metrics_histogram(r, "conc_seconds", "h", L("w", NULL), NULL, 0);
    for (int i = 0; i < 4; i++) {
        args[i] = (struct worker_arg){c, h, i};
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    /* Scrapes racing with updates must stay well-formed. */
    for (int i = 0; i < 20; i++) {
        char *text = metrics_render(r, NULL);
        assert_well_formed(text);
        free(text);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *text = metrics_render(r, NULL);
    double v;
    assert_true(find_value(text, "conc_total", "w=0", &v));
    assert_true(v == 40000);
    assert_true(find_value(text, "conc_total", "w=1", &v));
    assert_true(v == 40000);
    assert_true(find_value(text, "conc_seconds_count", "w=1", &v));
    assert_true(v == 40000);
    assert_true(find_value(text, "conc_seconds_sum", "w=1", &v));
    assert_true(v == 10000);
    assert_true(find_value(text, "conc_seconds_bucket", "w=1,le=0.1", &v));
    assert_true(v == 0);
    assert_true(find_value(text, "conc_seconds_bucket", "w=1,le=0.25", &v));
    assert_true(v == 40000);
    free(text);
    metrics_registry_free(r);
}

static void ready_made_helpers(void **state)
{
    metrics_rpc_observe("/campsync.v1.Marketo/GetProgram", 0, 0.02);
    metrics_rpc_observe("/campsync.v1.Marketo/GetProgram", 14, 0.3);
    metrics_rpc_observe("/campsync.v1.Marketo/GetProgram", 99, 0.3);
    metrics_vendor_call("marketo.leads", 200, 0, 0.1);
    metrics_vendor_call("marketo.leads", 503, 0, 0.1);
    metrics_vendor_call("marketo.leads", 0, 1, 5);
    metrics_vendor_error("marketo.leads", "606");
    metrics_sync_cycle("Succeeded", 42);
    metrics_redis_error("lock");
    char *text = metrics_render(metrics_default(), NULL);
    assert_well_formed(text);
    double v;
    const char *m = "method=/campsync.v1.Marketo/GetProgram";
    char want[256];
    snprintf(want, sizeof want, "%s,code=OK", m);
    assert_true(find_value(text, "campsync_rpc_requests_total", want, &v) && v == 1);
    snprintf(want, sizeof want, "%s,code=UNAVAILABLE", m);
    assert_true(find_value(text, "campsync_rpc_requests_total", want, &v) && v == 1);
    snprintf(want, sizeof want, "%s,code=UNKNOWN", m);
    assert_true(find_value(text, "campsync_rpc_requests_total", want, &v) && v == 1);
    assert_true(find_value(text, "campsync_rpc_duration_seconds_count", m, &v) && v == 3);
    snprintf(want, sizeof want, "%s,le=0.025", m);
    assert_true(find_value(text, "campsync_rpc_duration_seconds_bucket", want, &v) && v == 1);
    assert_true(find_value(text, "campsync_vendor_api_calls_total",
                           "endpoint=marketo.leads,status=200", &v) &&
                v == 1);
    assert_true(find_value(text, "campsync_vendor_api_calls_total",
                           "endpoint=marketo.leads,status=error", &v) &&
                v == 1);
    assert_true(find_value(text, "campsync_vendor_api_errors_total",
                           "endpoint=marketo.leads,code=http_503", &v) &&
                v == 1);
    assert_true(find_value(text, "campsync_vendor_api_errors_total",
                           "endpoint=marketo.leads,code=transport", &v) &&
                v == 1);
    assert_true(find_value(text, "campsync_vendor_api_errors_total",
                           "endpoint=marketo.leads,code=606", &v) &&
                v == 1);
    assert_false(find_value(text, "campsync_vendor_api_errors_total",
                            "endpoint=marketo.leads,code=http_200", &v));
    assert_true(find_value(text, "campsync_sync_cycles_total", "result=Succeeded", &v) && v == 1);
    assert_true(find_value(text, "campsync_sync_cycle_duration_seconds_bucket", "le=60", &v) &&
                v == 1);
    assert_true(find_value(text, "campsync_sync_cycle_duration_seconds_bucket", "le=30", &v) &&
                v == 0);
    assert_true(find_value(text, "campsync_redis_errors_total", "op=lock", &v) && v == 1);
    assert_non_null(strstr(text, "# TYPE campsync_rpc_duration_seconds histogram\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_text),
        cmocka_unit_test(escaping),
        cmocka_unit_test(numbers),
        cmocka_unit_test(registration_rules),
        cmocka_unit_test(series_cap),
        cmocka_unit_test(concurrent_updates_are_exact),
        cmocka_unit_test(ready_made_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
