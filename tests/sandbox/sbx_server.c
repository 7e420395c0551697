/*
 * The sandbox's HTTP side. Each listener is a libmicrohttpd daemon with a
 * thread per connection: a latency fault can then hold any number of
 * requests in flight at once (needed to provoke Marketo's 615) without
 * stalling other clients.
 *
 * A request's life: the URI logger allocates its context (and sees the raw
 * URI, so the full length is known for 414), the body is gathered up to the
 * vendor's limit (413 beyond), the fault for the request is drawn (from a
 * queue of forced faults, else from the configured shares with a seeded
 * generator, so a sequential client sees the same faults every run), the
 * vendor answers under a read lock (POST /admin/reset takes the write lock to
 * swap in fresh state), the call is counted under the vendor's endpoint label,
 * and the answer may then be dropped, truncated or corrupted.
 */
#include "sbx_server.h"
#include "sbx_util.h"

#include "log/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum {
    FK_NONE = 0,
    FK_TRANSIENT,
    FK_SERVER_ERROR,
    FK_RATE_LIMIT,
    FK_LATENCY,
    FK_DROP,
    FK_DROP_AFTER,
    FK_TRUNCATE,
    FK_MALFORMED,
    FK_N
};

static const char *const fault_names[FK_N] = {"none",       "transient", "server_error",
                                              "rate_limit", "latency",   "drop",
                                              "drop_after", "truncate",  "malformed"};

#define MAX_FORCED 256
#define ADMIN_MAX_BODY (64u << 20)

typedef struct {
    char *label;
    uint64_t count;
} call_count;

typedef struct {
    const sbx_vendor_ops *ops;
    void *state;
    const char *name;
    size_t max_uri;
    size_t max_body;
    /* faults (under the server mutex) */
    double share[FK_N];
    int64_t latency_ms;
    char path_prefix[256];
    uint64_t rng;
    int forced[MAX_FORCED];
    int n_forced;
    uint64_t injected[FK_N];
    /* calls (under the server mutex) */
    call_count *calls;
    size_t n_calls;
    size_t cap_calls;
    atomic_int inflight;
} vendor_slot;

struct sbx_server;

typedef struct {
    struct sbx_server *srv;
    int kind; /* SBX_LISTENER_* */
} listener;

struct sbx_server {
    struct MHD_Daemon *daemon[3];
    char url[3][64];
    listener lis[3];
    vendor_slot v[2];
    pthread_rwlock_t state_lock;
    pthread_mutex_t mu;
    json_t *dataset;
    uint64_t seed;
    _Atomic int64_t clock_offset_ms;
};

typedef struct {
    char *name;
    char *val;
} cached_arg;

typedef struct {
    struct MHD_Connection *conn;
    char *uri;
    size_t uri_len;
    char *body;
    size_t body_len;
    size_t body_cap;
    int started; /* the first call only announces the request */
    int too_big;
    int form_body;
    cached_arg *args;
    size_t n_args;
} req_ctx;

/* ---- clock ---- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t sandbox_now(struct sbx_server *s)
{
    return wall_ms() + atomic_load(&s->clock_offset_ms);
}

/* ---- request context ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    req_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->conn = conn;
    c->uri_len = strlen(uri);
    c->uri = strdup(uri);
    return c;
}

static void ctx_free(req_ctx *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_args; i++) {
        free(c->args[i].name);
        free(c->args[i].val);
    }
    free(c->args);
    free(c->uri);
    free(c->body);
    free(c);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    ctx_free(*con_cls);
    *con_cls = NULL;
}

static const char *req_arg(const sbx_request *r, const char *name)
{
    req_ctx *c = r->impl;
    const char *v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, name);
    if (v)
        return v;
    if (!c->form_body || !c->body)
        return NULL;
    for (size_t i = 0; i < c->n_args; i++)
        if (strcmp(c->args[i].name, name) == 0)
            return c->args[i].val;
    char *val = sbx_form_value(c->body, name);
    if (!val)
        return NULL;
    cached_arg *na = realloc(c->args, (c->n_args + 1) * sizeof *na);
    char *nm = strdup(name);
    if (!na || !nm) {
        free(nm);
        free(val);
        if (na)
            c->args = na;
        return NULL;
    }
    c->args = na;
    c->args[c->n_args].name = nm;
    c->args[c->n_args].val = val;
    c->n_args++;
    return val;
}

static const char *req_header(const sbx_request *r, const char *name)
{
    req_ctx *c = r->impl;
    return MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, name);
}

/* ---- responses ---- */

static enum MHD_Result send_body(struct MHD_Connection *conn, int status, const char *ctype,
                                 char *body, size_t len, const sbx_response *extra)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (extra)
        for (int i = 0; i < extra->n_headers; i++)
            MHD_add_response_header(r, extra->header_names[i], extra->header_values[i]);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        return MHD_NO;
    return send_body(conn, status, "application/json", s, strlen(s), NULL);
}

static enum MHD_Result send_text(struct MHD_Connection *conn, int status, const char *text)
{
    char *s = strdup(text);
    if (!s)
        return MHD_NO;
    return send_body(conn, status, "text/html", s, strlen(s), NULL);
}

static json_t *admin_error(const char *msg)
{
    return json_pack("{s:s}", "error", msg);
}

/* ---- faults and calls ---- */

static int draw_fault(struct sbx_server *s, vendor_slot *v, const char *path)
{
    int kind = FK_NONE;
    pthread_mutex_lock(&s->mu);
    int applies =
        v->path_prefix[0] == '\0' || strncmp(path, v->path_prefix, strlen(v->path_prefix)) == 0;
    if (applies) {
        if (v->n_forced > 0) {
            kind = v->forced[0];
            memmove(v->forced, v->forced + 1, (size_t)(v->n_forced - 1) * sizeof v->forced[0]);
            v->n_forced--;
        } else {
            double total = 0;
            for (int k = 1; k < FK_N; k++)
                total += v->share[k];
            if (total > 0) {
                double u = sbx_rng_unit(&v->rng), acc = 0;
                for (int k = 1; k < FK_N; k++) {
                    acc += v->share[k];
                    if (u < acc) {
                        kind = k;
                        break;
                    }
                }
            }
        }
    }
    v->injected[kind]++;
    pthread_mutex_unlock(&s->mu);
    return kind;
}

static void count_call(struct sbx_server *s, vendor_slot *v, const char *label)
{
    if (!label[0])
        return;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < v->n_calls; i++) {
        if (strcmp(v->calls[i].label, label) == 0) {
            v->calls[i].count++;
            pthread_mutex_unlock(&s->mu);
            return;
        }
    }
    if (v->n_calls == v->cap_calls) {
        size_t nc = v->cap_calls ? v->cap_calls * 2 : 16;
        call_count *n = realloc(v->calls, nc * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&s->mu);
            return;
        }
        v->calls = n;
        v->cap_calls = nc;
    }
    v->calls[v->n_calls].label = strdup(label);
    if (v->calls[v->n_calls].label) {
        v->calls[v->n_calls].count = 1;
        v->n_calls++;
    }
    pthread_mutex_unlock(&s->mu);
}

/* Turns a body into something that is no longer JSON but keeps its size. */
static void corrupt(char *body, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (body[i] == '"' || body[i] == ':')
            body[i] = body[i] == '"' ? '\'' : '=';
    if (len > 0)
        body[len - 1] = '<';
}

/* ---- vendor requests ---- */

static enum MHD_Result serve_vendor(struct sbx_server *s, int which, req_ctx *c, const char *url,
                                    const char *method)
{
    vendor_slot *v = &s->v[which];
    if (c->uri_len > v->max_uri)
        return send_text(c->conn, 414,
                         "<html><head><title>414 Request-URI Too Large</title></head><body>"
                         "<center><h1>414 Request-URI Too Large</h1></center></body></html>");
    if (c->too_big)
        return send_text(c->conn, 413,
                         "<html><head><title>413 Request Entity Too Large</title></head><body>"
                         "<center><h1>413 Request Entity Too Large</h1></center></body></html>");

    int fault = draw_fault(s, v, url);
    if (fault == FK_DROP) {
        log_kv(LOG_DEBUG, "fault: dropped connection", "vendor", v->name, "path", url, NULL);
        return MHD_NO;
    }
    int64_t received = sandbox_now(s);
    atomic_fetch_add(&v->inflight, 1);
    if (fault == FK_LATENCY && v->latency_ms > 0) {
        struct timespec ts = {.tv_sec = v->latency_ms / 1000,
                              .tv_nsec = (long)(v->latency_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }

    const char *ctype = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "Content-Type");
    c->form_body = ctype && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0;

    sbx_request req = {0};
    req.method = method;
    req.path = url;
    req.url_length = c->uri_len;
    req.body = c->body ? c->body : "";
    req.body_len = c->body_len;
    req.fault = fault == FK_TRANSIENT      ? SBX_FAULT_TRANSIENT
                : fault == FK_SERVER_ERROR ? SBX_FAULT_SERVER_ERROR
                : fault == FK_RATE_LIMIT   ? SBX_FAULT_RATE_LIMIT
                                           : SBX_FAULT_NONE;
    req.now_ms = sandbox_now(s);
    req.arg = req_arg;
    req.header = req_header;
    req.impl = c;
    req.inflight = atomic_load(&v->inflight);
    req.received_ms = received;

    sbx_response resp = {0};
    resp.status = 200;
    snprintf(resp.content_type, sizeof resp.content_type, "%s", "application/json;charset=UTF-8");

    pthread_rwlock_rdlock(&s->state_lock);
    v->ops->handle(v->state, &req, &resp);
    pthread_rwlock_unlock(&s->state_lock);
    atomic_fetch_sub(&v->inflight, 1);
    count_call(s, v, resp.endpoint);
    char st[16];
    snprintf(st, sizeof st, "%d", resp.status);
    log_kv(LOG_DEBUG, "request", "vendor", v->name, "method", method, "path", url, "status", st,
           "fault", fault_names[fault], NULL);

    if (fault == FK_DROP_AFTER) {
        free(resp.body);
        log_kv(LOG_DEBUG, "fault: answer dropped after processing", "vendor", v->name, "path", url,
               NULL);
        return MHD_NO;
    }
    if (fault == FK_TRUNCATE)
        resp.body_len /= 2;
    if (fault == FK_MALFORMED && resp.body)
        corrupt(resp.body, resp.body_len);
    if (resp.status < 100 || resp.status > 599) {
        log_kv(LOG_ERROR, "vendor returned no valid HTTP status", "vendor", v->name, "path", url,
               NULL);
        free(resp.body);
        return send_json(c->conn, 500, admin_error("sandbox vendor bug: no valid HTTP status"));
    }
    return send_body(c->conn, resp.status, resp.content_type, resp.body, resp.body_len, &resp);
}

/* ---- admin ---- */

static int vendor_index(struct sbx_server *s, const char *name)
{
    for (int i = 0; i < 2; i++)
        if (s->v[i].ops && strcmp(s->v[i].name, name) == 0)
            return i;
    return -1;
}

static json_t *calls_json(struct sbx_server *s)
{
    json_t *out = json_object();
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < 2; i++) {
        if (!s->v[i].ops)
            continue;
        json_t *m = json_object();
        for (size_t k = 0; k < s->v[i].n_calls; k++)
            json_object_set_new(m, s->v[i].calls[k].label,
                                json_integer((json_int_t)s->v[i].calls[k].count));
        json_object_set_new(out, s->v[i].name, m);
    }
    pthread_mutex_unlock(&s->mu);
    return out;
}

static void calls_reset(struct sbx_server *s)
{
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < 2; i++) {
        for (size_t k = 0; k < s->v[i].n_calls; k++)
            free(s->v[i].calls[k].label);
        s->v[i].n_calls = 0;
    }
    pthread_mutex_unlock(&s->mu);
}

static json_t *faults_json(struct sbx_server *s)
{
    json_t *out = json_object();
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < 2; i++) {
        vendor_slot *v = &s->v[i];
        if (!v->ops)
            continue;
        json_t *o = json_object();
        for (int k = 1; k < FK_N; k++)
            json_object_set_new(o, fault_names[k], json_real(v->share[k]));
        json_object_set_new(o, "latency_ms", json_integer(v->latency_ms));
        json_object_set_new(o, "path_prefix", json_string(v->path_prefix));
        json_t *q = json_array();
        for (int k = 0; k < v->n_forced; k++)
            json_array_append_new(q, json_string(fault_names[v->forced[k]]));
        json_object_set_new(o, "next", q);
        json_t *inj = json_object();
        for (int k = 0; k < FK_N; k++)
            json_object_set_new(inj, fault_names[k], json_integer((json_int_t)v->injected[k]));
        json_object_set_new(o, "injected", inj);
        json_object_set_new(out, v->name, o);
    }
    pthread_mutex_unlock(&s->mu);
    return out;
}

static int fault_kind(const char *name)
{
    for (int k = 1; k < FK_N; k++)
        if (strcmp(fault_names[k], name) == 0)
            return k;
    return -1;
}

/* Validates the whole config first so a bad one changes nothing. */
static int faults_set(struct sbx_server *s, json_t *body, char *err, size_t err_len)
{
    if (!json_is_object(body)) {
        snprintf(err, err_len, "body must be a JSON object");
        return -1;
    }
    const char *vendor = json_string_value(json_object_get(body, "vendor"));
    int targets[2] = {0, 0};
    if (!vendor || strcmp(vendor, "all") == 0) {
        targets[0] = s->v[0].ops != NULL;
        targets[1] = s->v[1].ops != NULL;
    } else {
        int i = vendor_index(s, vendor);
        if (i < 0) {
            snprintf(err, err_len, "unknown vendor '%s' (marketo, salesforce or all)", vendor);
            return -1;
        }
        targets[i] = 1;
    }
    double share[FK_N] = {0};
    double total = 0;
    const char *key;
    json_t *val;
    json_object_foreach(body, key, val)
    {
        if (strcmp(key, "vendor") == 0 || strcmp(key, "seed") == 0 ||
            strcmp(key, "latency_ms") == 0 || strcmp(key, "next") == 0 ||
            strcmp(key, "path_prefix") == 0)
            continue;
        int k = fault_kind(key);
        if (k < 0 || !json_is_number(val)) {
            snprintf(err, err_len,
                     "unknown fault setting '%s' (transient, server_error, rate_limit, latency, "
                     "drop, drop_after, truncate, malformed are shares in [0,1]; also vendor, "
                     "seed, latency_ms, next, path_prefix)",
                     key);
            return -1;
        }
        share[k] = json_number_value(val);
        if (share[k] < 0 || share[k] > 1) {
            snprintf(err, err_len, "share '%s' must be within [0, 1]", key);
            return -1;
        }
        total += share[k];
    }
    if (total > 1.0 + 1e-9) {
        snprintf(err, err_len, "fault shares add up to %.3f, more than 1", total);
        return -1;
    }
    json_t *next = json_object_get(body, "next");
    int forced[MAX_FORCED];
    int n_forced = 0;
    if (next) {
        if (!json_is_array(next) || json_array_size(next) > MAX_FORCED) {
            snprintf(err, err_len, "'next' must be an array of at most %d fault names", MAX_FORCED);
            return -1;
        }
        size_t i;
        json_t *e;
        json_array_foreach(next, i, e)
        {
            const char *nm = json_string_value(e);
            int k = nm ? (strcmp(nm, "none") == 0 ? FK_NONE : fault_kind(nm)) : -1;
            if (k < 0) {
                snprintf(err, err_len, "unknown fault '%s' in 'next'", nm ? nm : "(not a string)");
                return -1;
            }
            forced[n_forced++] = k;
        }
    }
    json_t *lat = json_object_get(body, "latency_ms");
    if (lat && (!json_is_integer(lat) || json_integer_value(lat) < 0 ||
                json_integer_value(lat) > 600000)) {
        snprintf(err, err_len, "latency_ms must be an integer in [0, 600000]");
        return -1;
    }
    const char *prefix = json_string_value(json_object_get(body, "path_prefix"));
    json_t *seedj = json_object_get(body, "seed");
    uint64_t seed = seedj && json_is_integer(seedj) ? (uint64_t)json_integer_value(seedj) : s->seed;

    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < 2; i++) {
        if (!targets[i])
            continue;
        vendor_slot *v = &s->v[i];
        memcpy(v->share, share, sizeof share);
        v->latency_ms = lat ? json_integer_value(lat) : 1000;
        snprintf(v->path_prefix, sizeof v->path_prefix, "%s", prefix ? prefix : "");
        v->rng = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i + 1;
        memcpy(v->forced, forced, (size_t)n_forced * sizeof forced[0]);
        v->n_forced = n_forced;
        memset(v->injected, 0, sizeof v->injected);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void faults_clear(struct sbx_server *s)
{
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < 2; i++) {
        memset(s->v[i].share, 0, sizeof s->v[i].share);
        s->v[i].n_forced = 0;
        s->v[i].path_prefix[0] = '\0';
    }
    pthread_mutex_unlock(&s->mu);
}

static json_t *clock_json(struct sbx_server *s)
{
    char iso[40];
    int64_t now = sandbox_now(s);
    sbx_format_time_iso(now, iso, sizeof iso);
    return json_pack("{s:s,s:I,s:I}", "now", iso, "now_ms", (json_int_t)now, "offset_ms",
                     (json_int_t)atomic_load(&s->clock_offset_ms));
}

static int clock_set(struct sbx_server *s, json_t *body, char *err, size_t err_len)
{
    json_t *adv_s = json_object_get(body, "advance_s");
    json_t *adv_ms = json_object_get(body, "advance_ms");
    const char *set = json_string_value(json_object_get(body, "set"));
    if (adv_s && json_is_number(adv_s)) {
        atomic_fetch_add(&s->clock_offset_ms, (int64_t)(json_number_value(adv_s) * 1000.0));
    } else if (adv_ms && json_is_integer(adv_ms)) {
        atomic_fetch_add(&s->clock_offset_ms, (int64_t)json_integer_value(adv_ms));
    } else if (set) {
        int64_t t = sbx_parse_time_ms(set);
        if (t < 0) {
            snprintf(err, err_len, "'set' must be an ISO 8601 date or datetime, got '%s'", set);
            return -1;
        }
        atomic_store(&s->clock_offset_ms, t - wall_ms());
    } else if (json_object_get(body, "reset")) {
        atomic_store(&s->clock_offset_ms, 0);
    } else {
        snprintf(err, err_len,
                 "give one of advance_s (number), advance_ms (integer), set (ISO 8601) or reset");
        return -1;
    }
    return 0;
}

static int create_states(struct sbx_server *s, void *out[2], char *err, size_t err_len)
{
    for (int i = 0; i < 2; i++) {
        out[i] = NULL;
        if (!s->v[i].ops)
            continue;
        json_t *section = s->dataset ? json_object_get(s->dataset, s->v[i].name) : NULL;
        char verr[512] = "";
        out[i] = s->v[i].ops->create(section, s->seed, verr, sizeof verr);
        if (!out[i]) {
            snprintf(err, err_len, "%s: %s", s->v[i].name, verr[0] ? verr : "cannot build state");
            for (int k = 0; k < i; k++)
                if (out[k])
                    s->v[k].ops->destroy(out[k]);
            return -1;
        }
    }
    return 0;
}

static json_t *vendor_admin(struct sbx_server *s, int i, const char *action, json_t *body,
                            int *status)
{
    json_t *out = NULL;
    pthread_rwlock_rdlock(&s->state_lock);
    *status = s->v[i].ops->admin(s->v[i].state, action, body, sandbox_now(s), &out);
    pthread_rwlock_unlock(&s->state_lock);
    if (*status < 100 || *status > 599) {
        /* A vendor bug must not turn into a dropped connection. */
        log_kv(LOG_ERROR, "vendor admin returned no valid HTTP status", "vendor", s->v[i].name,
               "action", action, NULL);
        json_decref(out);
        *status = 500;
        return admin_error("the vendor's admin action returned no valid HTTP status");
    }
    return out ? out : json_object();
}

static enum MHD_Result serve_admin(struct sbx_server *s, req_ctx *c, const char *url,
                                   const char *method)
{
    struct MHD_Connection *conn = c->conn;
    if (c->too_big)
        return send_json(conn, 413, admin_error("admin body over 64 MB"));
    json_t *body = NULL;
    if (c->body_len > 0) {
        json_error_t jerr;
        body = json_loadb(c->body, c->body_len, 0, &jerr);
        if (!body) {
            char msg[300];
            snprintf(msg, sizeof msg, "body is not JSON: %s (line %d)", jerr.text, jerr.line);
            return send_json(conn, 400, admin_error(msg));
        }
    }
    int is_get = strcmp(method, "GET") == 0;
    int is_post = strcmp(method, "POST") == 0;
    int is_del = strcmp(method, "DELETE") == 0;
    char err[512] = "";
    enum MHD_Result r;

    if (strcmp(url, "/admin/health") == 0) {
        r = send_json(conn, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(url, "/admin/calls") == 0 && (is_get || is_del)) {
        if (is_del)
            calls_reset(s);
        r = send_json(conn, 200, calls_json(s));
    } else if (strcmp(url, "/admin/state") == 0 && is_get) {
        json_t *out = json_object();
        for (int i = 0; i < 2; i++) {
            if (!s->v[i].ops)
                continue;
            int st;
            json_t *vs = vendor_admin(s, i, "state", NULL, &st);
            json_object_set_new(out, s->v[i].name, vs);
        }
        r = send_json(conn, 200, out);
    } else if (strcmp(url, "/admin/faults") == 0) {
        if (is_post) {
            if (faults_set(s, body, err, sizeof err) != 0)
                r = send_json(conn, 400, admin_error(err));
            else
                r = send_json(conn, 200, faults_json(s));
        } else if (is_del) {
            faults_clear(s);
            r = send_json(conn, 200, faults_json(s));
        } else {
            r = send_json(conn, 200, faults_json(s));
        }
    } else if (strcmp(url, "/admin/clock") == 0) {
        if (is_post && clock_set(s, body, err, sizeof err) != 0)
            r = send_json(conn, 400, admin_error(err));
        else
            r = send_json(conn, 200, clock_json(s));
    } else if (strcmp(url, "/admin/reset") == 0 && is_post) {
        void *fresh[2];
        if (create_states(s, fresh, err, sizeof err) != 0) {
            r = send_json(conn, 500, admin_error(err));
        } else {
            pthread_rwlock_wrlock(&s->state_lock);
            for (int i = 0; i < 2; i++) {
                if (!s->v[i].ops)
                    continue;
                s->v[i].ops->destroy(s->v[i].state);
                s->v[i].state = fresh[i];
            }
            pthread_rwlock_unlock(&s->state_lock);
            log_kv(LOG_INFO, "state reset from the dataset", NULL);
            r = send_json(conn, 200, json_pack("{s:b}", "reset", 1));
        }
    } else if (strcmp(url, "/admin/expire_tokens") == 0 && is_post) {
        json_t *out = json_object();
        for (int i = 0; i < 2; i++) {
            if (!s->v[i].ops)
                continue;
            int st;
            json_t *vs = vendor_admin(s, i, "expire_tokens", body, &st);
            json_object_set_new(out, s->v[i].name, vs);
        }
        r = send_json(conn, 200, out);
    } else if (strncmp(url, "/admin/", 7) == 0 && strchr(url + 7, '/')) {
        const char *slash = strchr(url + 7, '/');
        char vname[32];
        size_t n = (size_t)(slash - (url + 7));
        if (n >= sizeof vname)
            n = sizeof vname - 1;
        memcpy(vname, url + 7, n);
        vname[n] = '\0';
        int i = vendor_index(s, vname);
        const char *action = slash + 1;
        if (i < 0 || !*action || strchr(action, '/')) {
            r = send_json(conn, 404, admin_error("unknown admin path"));
        } else {
            int st = 200;
            json_t *out = vendor_admin(s, i, action, body, &st);
            r = send_json(conn, st, out);
        }
    } else {
        r = send_json(conn, 404,
                      admin_error("unknown admin path: see tests/sandbox/README.md (health, "
                                  "calls, state, faults, clock, reset, expire_tokens, "
                                  "<vendor>/<action>)"));
    }
    json_decref(body);
    return r;
}

/* ---- libmicrohttpd glue ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    listener *l = cls;
    struct sbx_server *s = l->srv;
    req_ctx *c = *con_cls;
    if (!c)
        return MHD_NO;
    if (!c->started) {
        c->started = 1;
        return MHD_YES;
    }
    size_t limit = l->kind == SBX_LISTENER_ADMIN ? ADMIN_MAX_BODY : s->v[l->kind].max_body;
    if (*upload_size > 0) {
        if (!c->too_big && c->body_len + *upload_size > limit) {
            c->too_big = 1;
            free(c->body);
            c->body = NULL;
            c->body_len = c->body_cap = 0;
        }
        if (!c->too_big) {
            if (c->body_len + *upload_size + 1 > c->body_cap) {
                size_t nc = c->body_cap ? c->body_cap : 4096;
                while (nc < c->body_len + *upload_size + 1)
                    nc *= 2;
                char *nb = realloc(c->body, nc);
                if (!nb)
                    return MHD_NO;
                c->body = nb;
                c->body_cap = nc;
            }
            memcpy(c->body + c->body_len, upload_data, *upload_size);
            c->body_len += *upload_size;
            c->body[c->body_len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (l->kind == SBX_LISTENER_ADMIN)
        return serve_admin(s, c, url, method);
    return serve_vendor(s, l->kind, c, url, method);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_kv(LOG_WARN, "libmicrohttpd", "detail", msg, NULL);
}

static int parse_addr(const char *addr, struct sockaddr_in *sa, char *err, size_t err_len)
{
    char host[64] = "127.0.0.1";
    const char *port_s = addr;
    const char *colon = strrchr(addr, ':');
    if (colon) {
        size_t n = (size_t)(colon - addr);
        if (n > 0) {
            if (n >= sizeof host) {
                snprintf(err, err_len, "address '%s': host too long", addr);
                return -1;
            }
            memcpy(host, addr, n);
            host[n] = '\0';
        }
        port_s = colon + 1;
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    char *end;
    long port = strtol(port_s, &end, 10);
    if (*port_s == '\0' || *end != '\0' || port < 0 || port > 65535) {
        snprintf(err, err_len, "address '%s': port must be 0..65535", addr);
        return -1;
    }
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        snprintf(err, err_len, "address '%s': host must be an IPv4 address", addr);
        return -1;
    }
    return 0;
}

static int start_listener(struct sbx_server *s, int kind, const char *addr, char *err,
                          size_t err_len)
{
    struct sockaddr_in sa;
    if (parse_addr(addr, &sa, err, err_len) != 0)
        return -1;
    s->lis[kind].srv = s;
    s->lis[kind].kind = kind;
    s->daemon[kind] = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, &s->lis[kind], MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(64 * 1024), MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    if (!s->daemon[kind]) {
        snprintf(err, err_len, "cannot listen on %s (port in use or not permitted)", addr);
        return -1;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(s->daemon[kind], MHD_DAEMON_INFO_BIND_PORT);
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    snprintf(s->url[kind], sizeof s->url[kind], "http://%s:%u", host,
             info ? (unsigned)info->port : (unsigned)ntohs(sa.sin_port));
    return 0;
}

sbx_server *sbx_server_start(const sbx_server_config *cfg, char *err, size_t err_len)
{
    struct sbx_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_rwlock_init(&s->state_lock, NULL);
    pthread_mutex_init(&s->mu, NULL);
    s->seed = cfg->seed;
    s->dataset = cfg->dataset ? json_incref(cfg->dataset) : NULL;
    const sbx_vendor_ops *ops[2] = {cfg->marketo_addr ? cfg->marketo : NULL,
                                    cfg->salesforce_addr ? cfg->salesforce : NULL};
    for (int i = 0; i < 2; i++) {
        s->v[i].ops = ops[i];
        s->v[i].name = i == 0 ? "marketo" : "salesforce";
        /* Marketo: 414 over 8 KB, 413 over 1 MB. Salesforce: 414 over 16 KB;
         * bodies capped at 8 MB so garbage cannot exhaust memory. */
        s->v[i].max_uri = i == 0 ? 8192 : 16384;
        s->v[i].max_body = i == 0 ? (1u << 20) : (8u << 20);
        s->v[i].latency_ms = 1000;
        s->v[i].rng = cfg->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i + 1;
    }
    void *states[2];
    if (create_states(s, states, err, err_len) != 0) {
        sbx_server_stop(s);
        return NULL;
    }
    s->v[0].state = states[0];
    s->v[1].state = states[1];
    const char *addrs[3] = {ops[0] ? cfg->marketo_addr : NULL, ops[1] ? cfg->salesforce_addr : NULL,
                            cfg->admin_addr};
    for (int k = 0; k < 3; k++) {
        if (!addrs[k])
            continue;
        if (start_listener(s, k, addrs[k], err, err_len) != 0) {
            sbx_server_stop(s);
            return NULL;
        }
    }
    return s;
}

const char *sbx_server_url(const sbx_server *s, int which)
{
    if (!s || which < 0 || which > 2)
        return "";
    return s->url[which];
}

void sbx_server_stop(sbx_server *s)
{
    if (!s)
        return;
    for (int k = 0; k < 3; k++)
        if (s->daemon[k])
            MHD_stop_daemon(s->daemon[k]);
    for (int i = 0; i < 2; i++) {
        if (s->v[i].ops && s->v[i].state)
            s->v[i].ops->destroy(s->v[i].state);
        for (size_t k = 0; k < s->v[i].n_calls; k++)
            free(s->v[i].calls[k].label);
        free(s->v[i].calls);
    }
    json_decref(s->dataset);
    pthread_rwlock_destroy(&s->state_lock);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
