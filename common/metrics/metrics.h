/*
 * Prometheus metrics: a small thread-safe registry of counters, gauges and
 * fixed-bucket histograms with labels, rendered in the text exposition
 * format 0.0.4 and served on /metrics by libmicrohttpd (GET / answers 200
 * "ok" for liveness checks).
 *
 * Hot path: a family (name, help, label names) is registered once; a series
 * (one tuple of label values) is created on first use and kept until the
 * registry is freed, so observing an existing series is a lock-free lookup
 * plus atomic updates, and allocates nothing. A family holds at
 * most METRICS_MAX_SERIES series; beyond that metrics_with returns NULL and
 * updates on NULL are ignored, so a label bug cannot eat the memory.
 *
 * The ready-made helpers (metrics_rpc_observe, metrics_vendor_call, ...)
 * write to the process-wide default registry, which metrics_serve exposes.
 */
#ifndef CAMPSYNC_METRICS_H
#define CAMPSYNC_METRICS_H

#include <stddef.h>

#define METRICS_MAX_SERIES 2000
#define METRICS_MAX_LABELS 8

typedef struct metrics_registry metrics_registry;
typedef struct metrics_family metrics_family;
typedef struct metrics_series metrics_series;

typedef struct metrics_error {
    char msg[256];
} metrics_error;

/* Latency buckets in seconds, 5 ms to 10 s (used when buckets is NULL). */
extern const double metrics_latency_buckets[];
extern const size_t metrics_latency_nbuckets;

metrics_registry *metrics_registry_new(void);
void metrics_registry_free(metrics_registry *r);
/* The process-wide registry (created on first use, lives until exit). */
metrics_registry *metrics_default(void);

/*
 * Registers a family. labels is a NULL-terminated list of label names (NULL
 * for none). Registering the same name again with the same type returns the
 * existing family. Returns NULL for an invalid name/label, a clash with a
 * different type, or no memory. The family is owned by the registry.
 */
metrics_family *metrics_counter(metrics_registry *r, const char *name, const char *help,
                                const char *const *labels);
metrics_family *metrics_gauge(metrics_registry *r, const char *name, const char *help,
                              const char *const *labels);
/* buckets: strictly increasing upper bounds (+Inf is implicit), or NULL for
 * metrics_latency_buckets. */
metrics_family *metrics_histogram(metrics_registry *r, const char *name, const char *help,
                                  const char *const *labels, const double *buckets,
                                  size_t nbuckets);

/* The series for one tuple of label values (as many as the family has label
 * names; NULL values count as ""). Stable until the registry is freed. */
metrics_series *metrics_with(metrics_family *f, const char *const *values);

void metrics_inc(metrics_series *s, double v);     /* counter (v >= 0) or gauge */
void metrics_set(metrics_series *s, double v);     /* gauge */
void metrics_observe(metrics_series *s, double v); /* histogram */

/* Renders every family in registration order, series in creation order.
 * Caller frees; NULL on allocation failure. */
char *metrics_render(metrics_registry *r, size_t *len);

/* Serves r on addr ("127.0.0.1:9090", "0.0.0.0:9090", "[::1]:0"; port 0 picks
 * a free port). Returns NULL with err set when it cannot listen. */
typedef struct metrics_server metrics_server;
metrics_server *metrics_serve(metrics_registry *r, const char *addr, metrics_error *err);
int metrics_server_port(const metrics_server *s);
void metrics_server_stop(metrics_server *s); /* stops, frees; NULL is fine */

/* Ready-made metrics in the default registry. */

/* campsync_rpc_requests_total{method,code} (code as "OK", "UNAVAILABLE", ...)
 * and campsync_rpc_duration_seconds{method}. */
void metrics_rpc_observe(const char *method, int grpc_code, double seconds);
/* campsync_vendor_api_calls_total{endpoint,status} (status "200" or "error"),
 * campsync_vendor_api_duration_seconds{endpoint}, and for transport errors or
 * status >= 400 campsync_vendor_api_errors_total{endpoint,code} with code
 * "http_<status>" or "transport". Has the shape of http_call_hook. */
void metrics_vendor_call(const char *endpoint, int status, int transport_error, double seconds);
/* campsync_vendor_api_errors_total{endpoint,code} for a vendor-level error
 * reported inside a 200 (e.g. Marketo "606"). */
void metrics_vendor_error(const char *endpoint, const char *code);
/* campsync_sync_cycles_total{result} ("Succeeded", "Failed", "Incomplete")
 * and campsync_sync_cycle_duration_seconds. */
void metrics_sync_cycle(const char *result, double seconds);
/* campsync_redis_errors_total{op}. */
void metrics_redis_error(const char *op);

#endif
