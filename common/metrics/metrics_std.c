/*
 * The metrics every campsync service exports (ARCHITECTURE: RPC counts and
 * latency per method, vendor API calls and errors per endpoint, sync cycle
 * results, Redis errors), registered once in the default registry so that
 * dashboards see the same names from every service.
 */
#include "metrics/metrics.h"
#include "rpc/rpc.h"

#include <pthread.h>
#include <stdio.h>

static metrics_registry *default_reg;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static metrics_family *rpc_total, *rpc_seconds;
static metrics_family *vendor_calls, *vendor_errors, *vendor_seconds;
static metrics_family *cycles_total, *cycle_seconds;
static metrics_family *redis_errors;

/* Sync cycles run from seconds to many minutes. */
static const double cycle_buckets[] = {1, 5, 15, 30, 60, 120, 300, 600, 1800};

static void create_default(void)
{
    default_reg = metrics_registry_new();
    metrics_registry *r = default_reg;
    rpc_total = metrics_counter(r, "campsync_rpc_requests_total",
                                "gRPC requests handled, by method and status code",
                                (const char *const[]){"method", "code", NULL});
    rpc_seconds = metrics_histogram(r, "campsync_rpc_duration_seconds",
                                    "gRPC request latency in seconds, by method",
                                    (const char *const[]){"method", NULL}, NULL, 0);
    vendor_calls = metrics_counter(r, "campsync_vendor_api_calls_total",
                                   "Vendor API HTTP attempts, by endpoint and HTTP status",
                                   (const char *const[]){"endpoint", "status", NULL});
    vendor_errors = metrics_counter(r, "campsync_vendor_api_errors_total",
                                    "Vendor API errors, by endpoint and error code",
                                    (const char *const[]){"endpoint", "code", NULL});
    vendor_seconds = metrics_histogram(r, "campsync_vendor_api_duration_seconds",
                                       "Vendor API attempt latency in seconds, by endpoint",
                                       (const char *const[]){"endpoint", NULL}, NULL, 0);
    cycles_total = metrics_counter(r, "campsync_sync_cycles_total", "Sync cycles, by result",
                                   (const char *const[]){"result", NULL});
    cycle_seconds = metrics_histogram(r, "campsync_sync_cycle_duration_seconds",
                                      "Sync cycle duration in seconds", NULL, cycle_buckets,
                                      sizeof cycle_buckets / sizeof cycle_buckets[0]);
    redis_errors =
        metrics_counter(r, "campsync_redis_errors_total", "Redis command failures, by operation",
                        (const char *const[]){"op", NULL});
}

metrics_registry *metrics_default(void)
{
    pthread_once(&default_once, create_default);
    return default_reg;
}

void metrics_rpc_observe(const char *method, int grpc_code, double seconds)
{
    metrics_default();
    metrics_inc(metrics_with(rpc_total, (const char *const[]){method, rpc_status_name(grpc_code)}),
                1);
    metrics_observe(metrics_with(rpc_seconds, (const char *const[]){method}), seconds);
}

void metrics_vendor_call(const char *endpoint, int status, int transport_error, double seconds)
{
    metrics_default();
    if (!endpoint)
        endpoint = "other";
    char st[16];
    if (transport_error || status <= 0)
        snprintf(st, sizeof st, "error");
    else
        snprintf(st, sizeof st, "%d", status);
    metrics_inc(metrics_with(vendor_calls, (const char *const[]){endpoint, st}), 1);
    metrics_observe(metrics_with(vendor_seconds, (const char *const[]){endpoint}), seconds);
    if (transport_error || status <= 0) {
        metrics_vendor_error(endpoint, "transport");
    } else if (status >= 400) {
        char code[24];
        snprintf(code, sizeof code, "http_%d", status);
        metrics_vendor_error(endpoint, code);
    }
}

void metrics_vendor_error(const char *endpoint, const char *code)
{
    metrics_default();
    metrics_inc(
        metrics_with(vendor_errors, (const char *const[]){endpoint ? endpoint : "other", code}), 1);
}

void metrics_sync_cycle(const char *result, double seconds)
{
    metrics_default();
    metrics_inc(metrics_with(cycles_total, (const char *const[]){result}), 1);
    metrics_observe(metrics_with(cycle_seconds, NULL), seconds);
}

void metrics_redis_error(const char *op)
{
    metrics_default();
    metrics_inc(metrics_with(redis_errors, (const char *const[]){op}), 1);
}
