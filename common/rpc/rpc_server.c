/*
 * The generic gRPC C core <-> protobuf-c server bridge (see rpc_server.h).
 *
 * Shape: N workers, each polling its own completion queue. Every registered
 * method keeps requests armed on every worker with
 * GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, so a call arrives with its
 * request. RPC_KIND_UNARY calls are bound to the worker's queue and answered
 * with one batch on that worker: per-call state needs no lock. Calls that run
 * on their own thread (RPC_KIND_BLOCKING, RPC_KIND_STREAM) are bound to a
 * completion queue of their own, created when the request is armed, which
 * only that thread polls: it can block in send, poll for cancellation and
 * sleep without touching a worker. A generic request stays armed on every
 * worker so unknown paths are answered UNIMPLEMENTED at once instead of
 * hanging until the client's deadline.
 *
 * Shutdown follows the rules in notes/engineering.md: a signal only writes to
 * a pipe; rpc_server_run flips health, calls grpc_server_shutdown_and_notify,
 * gives in-flight calls a grace period, cancels the rest, and shuts the
 * worker queues down only when no application call and no armed request is
 * live, so no batch can start on a dead queue.
 */
#include "rpc/rpc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "grpc/health/v1/health.pb-c.h"
#include "log/log.h"

#define ARMED_INLINE 3   /* requests armed per worker for a worker-run method */
#define ARMED_THREADED 1 /* ... for an own-thread method (each holds a queue) */
#define POLL_SLICE_MS 50 /* how often waiting stream handlers look at shutdown */

enum tag_kind { TAG_REQUEST, TAG_GENERIC, TAG_INLINE_DONE, TAG_UNKNOWN_DONE, TAG_SHUTDOWN };

struct tag {
    enum tag_kind kind;
};

struct method_entry {
    char *path; /* "/campsync.v1.X/Y" */
    const ProtobufCMethodDescriptor *desc;
    rpc_method row; /* .unary and .stream NULL when not implemented */
    int implemented;
    void *service_data;
    void *registered; /* grpc_server_register_method handle */
    int public;       /* no bearer token needed (health) */
    struct method_entry *next;
};

struct worker {
    rpc_server *srv;
    grpc_completion_queue *cq;
    pthread_t thread;
    int started;
};

/* One armed grpc_server_request_registered_call. */
struct request_slot {
    struct tag tag;
    struct worker *w;
    struct method_entry *m;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    grpc_completion_queue *call_cq; /* own-thread methods only */
};

/* One armed grpc_server_request_call (paths nobody registered). */
struct generic_slot {
    struct tag tag;
    struct worker *w;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
};

/* An unknown-path call being answered. */
struct unknown_call {
    struct tag tag;
    grpc_call *call;
    int cancelled;
    struct timespec start;
};

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

struct done_fn {
    void (*fn)(void *);
    void *arg;
    struct done_fn *next;
};

struct health_entry {
    char *name;
    int status; /* RPC_HEALTH_* */
};

struct rpc_server {
    rpc_server_opts o;
    char *listen_addr;
    char *expected_auth; /* "Bearer <token>" or NULL */
    size_t expected_auth_len;
    char *tls_cert, *tls_key, *tls_ca;
    grpc_server *server;
    struct worker *workers;
    int n_workers;
    struct method_entry *methods;
    int port;
    int started, stopped, leaked;
    rpc_observer_fn observer;
    void *observer_user;
    int shutdown_pipe[2];

    atomic_int stopping; /* shutdown began: no re-arming, streams end */
    atomic_int forced;   /* grace over: everything is cancelled */
    atomic_long live;    /* accepted calls not yet freed */
    atomic_long armed;   /* requests armed and not yet returned */
    atomic_int shutdown_done;
    struct tag shutdown_tag;

    /* Handler threads for own-thread calls, kept for reuse: starting a
     * thread per call costs more than most calls. */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    rpc_call *pool_head, *pool_tail;
    int pool_queued, pool_idle, pool_total, pool_stop;
    int pool_busy; /* handlers submitted and not yet returned */

    pthread_mutex_t mu; /* health table and the drain condition */
    pthread_cond_t cv;
    struct health_entry *health;
    size_t n_health;
    int health_frozen; /* shutdown began: entries stay NOT_SERVING */
};

struct rpc_call {
    struct tag tag; /* TAG_INLINE_DONE for worker-run calls */
    rpc_server *srv;
    struct method_entry *m;
    grpc_call *call;
    grpc_completion_queue *cq; /* own queue for own-thread calls */
    int threaded;
    gpr_timespec deadline; /* GPR_CLOCK_MONOTONIC */
    int has_deadline;
    struct timespec start;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    ProtobufCMessage *request;
    char request_id[80];
    char *peer;

    int code;
    char *message; /* call memory */
    grpc_slice details;
    grpc_byte_buffer *response;
    int initial_md_sent;

    /* Own-thread calls: the RECV_CLOSE_ON_SERVER op and its outcome. */
    struct tag close_tag;
    struct tag op_tag;
    int close_cancelled; /* written by gRPC */
    int closed;
    int client_cancelled;
    int op_done, op_ok; /* the batch started with op_tag */

    rpc_call *pool_next;
    grpc_byte_buffer *pending_send; /* stream message gRPC has not taken yet */
    int send_failed;

    struct arena_chunk *arena;
    struct done_fn *done;
    size_t first_used; /* most calls need no more than this inline chunk */
    max_align_t first[32];
};

static rpc_server *signal_server;

static const rpc_server_opts default_opts = {
    .workers = 4,
    .max_threads = 256,
    .max_message_bytes = 4 << 20,
    .max_connection_age_grace_ms = 30000,
    .keepalive_time_ms = 60000,
    .keepalive_timeout_ms = 20000,
    .shutdown_grace_ms = 10000,
};

/* ---- small helpers ---- */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        log_msg(LOG_ERROR, "rpc: out of memory");
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        log_msg(LOG_ERROR, "rpc: out of memory");
        abort();
    }
    return d;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static gpr_timespec mono_in_ms(int64_t ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

static grpc_completion_queue *new_cq(void)
{
    return grpc_completion_queue_create_for_next(NULL);
}

/* Shuts a queue down, drains what is left and destroys it. */
static void destroy_cq(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

static void wake_drain(rpc_server *srv)
{
    if (atomic_load(&srv->stopping)) {
        pthread_mutex_lock(&srv->mu);
        pthread_cond_broadcast(&srv->cv);
        pthread_mutex_unlock(&srv->mu);
    }
}

/* ---- call memory ---- */

void *rpc_call_alloc(rpc_call *call, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (sizeof call->first - call->first_used >= size) {
        void *p = (char *)call->first + call->first_used;
        call->first_used += size;
        return p; /* calloc'ed with the call, never handed out twice */
    }
    struct arena_chunk *c = call->arena;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > 4000 ? size : 4000;
        c = xcalloc(1, sizeof *c + cap);
        c->cap = cap;
        c->next = call->arena;
        call->arena = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *rpc_call_strdup(rpc_call *call, const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    char *d = rpc_call_alloc(call, n);
    memcpy(d, s ? s : "", n);
    return d;
}

void rpc_call_on_done(rpc_call *call, void (*fn)(void *arg), void *arg)
{
    struct done_fn *d = rpc_call_alloc(call, sizeof *d);
    d->fn = fn;
    d->arg = arg;
    d->next = call->done;
    call->done = d;
}

static void free_message(void *msg)
{
    protobuf_c_message_free_unpacked(msg, NULL);
}

void rpc_call_adopt_message(rpc_call *call, ProtobufCMessage *msg)
{
    if (msg)
        rpc_call_on_done(call, free_message, msg);
}

/* Runs the on-done functions and frees the request: after the response was
 * packed, so the response may point into both. */
static void release_handler_memory(rpc_call *c)
{
    for (struct done_fn *d = c->done; d; d = d->next)
        d->fn(d->arg);
    c->done = NULL;
    if (c->request) {
        protobuf_c_message_free_unpacked(c->request, NULL);
        c->request = NULL;
    }
}

/* ---- accessors ---- */

void *rpc_call_service_data(const rpc_call *call)
{
    return call->m->service_data;
}

const char *rpc_call_method(const rpc_call *call)
{
    return call->m->path;
}

const char *rpc_call_metadata(rpc_call *call, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < call->md.count; i++) {
        grpc_slice k = call->md.metadata[i].key;
        if (GRPC_SLICE_LENGTH(k) == klen && memcmp(GRPC_SLICE_START_PTR(k), key, klen) == 0) {
            grpc_slice v = call->md.metadata[i].value;
            char *s = rpc_call_alloc(call, GRPC_SLICE_LENGTH(v) + 1);
            memcpy(s, GRPC_SLICE_START_PTR(v), GRPC_SLICE_LENGTH(v));
            return s;
        }
    }
    return NULL;
}

const char *rpc_call_request_id(const rpc_call *call)
{
    return call->request_id;
}

const char *rpc_call_peer(rpc_call *call)
{
    if (!call->peer) {
        char *p = grpc_call_get_peer(call->call);
        call->peer = rpc_call_strdup(call, p);
        gpr_free(p);
    }
    return call->peer;
}

int64_t rpc_call_remaining_ms(const rpc_call *call)
{
    if (!call->has_deadline)
        return INT64_MAX;
    gpr_timespec left = gpr_time_sub(call->deadline, gpr_now(GPR_CLOCK_MONOTONIC));
    return gpr_time_to_millis(left);
}

grpc_call *rpc_call_grpc(const rpc_call *call)
{
    return call->call;
}

gpr_timespec rpc_call_deadline(const rpc_call *call)
{
    return call->has_deadline ? call->deadline : gpr_inf_future(GPR_CLOCK_MONOTONIC);
}

int rpc_call_fail(rpc_call *call, int code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    call->message = rpc_call_strdup(call, buf);
    return code;
}

/* ---- own-thread calls: their queue ---- */

/* Records a completed RECV_CLOSE_ON_SERVER. */
static void note_close(rpc_call *c)
{
    c->closed = 1;
    if (c->close_cancelled)
        c->client_cancelled = 1;
}

/* Takes one event off the call's own queue (waiting until `until`) and
 * records it; returns 0 on timeout. */
static int own_cq_step(rpc_call *c, gpr_timespec until)
{
    grpc_event ev = grpc_completion_queue_next(c->cq, until, NULL);
    if (ev.type != GRPC_OP_COMPLETE)
        return 0;
    if (ev.tag == &c->close_tag)
        note_close(c);
    else if (ev.tag == &c->op_tag) {
        c->op_done = 1;
        c->op_ok = ev.success;
    }
    return 1;
}

/* Waits for the outstanding batch started with op_tag; returns its success. */
static int own_cq_wait_op(rpc_call *c)
{
    while (!c->op_done)
        own_cq_step(c, gpr_inf_future(GPR_CLOCK_MONOTONIC));
    c->op_done = 0;
    return c->op_ok;
}

/* Polls for the close op until `until`; returns whether it completed. */
static int own_cq_poll_close(rpc_call *c, gpr_timespec until)
{
    while (!c->closed && own_cq_step(c, until))
        ;
    return c->closed;
}

int rpc_call_cancelled(rpc_call *call)
{
    rpc_server *srv = call->srv;
    if (atomic_load(&srv->forced))
        return 1;
    if (call->threaded) {
        if (call->client_cancelled)
            return 1;
        if (own_cq_poll_close(call, gpr_inf_past(GPR_CLOCK_MONOTONIC)) && call->client_cancelled)
            return 1;
        if (call->m->row.kind == RPC_KIND_STREAM && atomic_load(&srv->stopping))
            return 1;
    }
    return call->has_deadline && rpc_call_remaining_ms(call) <= 0;
}

int rpc_call_wait(rpc_call *call, int64_t ms)
{
    gpr_timespec end = mono_in_ms(ms);
    for (;;) {
        if (rpc_call_cancelled(call))
            return 1;
        gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
        if (gpr_time_cmp(now, end) >= 0)
            return 0;
        gpr_timespec step = gpr_time_add(now, gpr_time_from_millis(POLL_SLICE_MS, GPR_TIMESPAN));
        if (gpr_time_cmp(step, end) > 0)
            step = end;
        if (call->threaded && !call->closed)
            own_cq_poll_close(call, step);
        else
            nanosleep(&(struct timespec){0, POLL_SLICE_MS * 1000000L}, NULL);
    }
}

/* Waits until gRPC took the previous stream message; -1 if it failed. */
static int wait_pending_send(rpc_call *c)
{
    if (c->pending_send) {
        if (!own_cq_wait_op(c))
            c->send_failed = 1;
        grpc_byte_buffer_destroy(c->pending_send);
        c->pending_send = NULL;
    }
    return c->send_failed ? -1 : 0;
}

int rpc_call_send(rpc_call *call, const ProtobufCMessage *msg)
{
    if (!call->threaded || call->m->row.kind != RPC_KIND_STREAM || !msg)
        return -1;
    if (msg->descriptor != call->m->desc->output) {
        log_kv(LOG_ERROR, "stream handler sent the wrong message type", "method", call->m->path,
               "sent", msg->descriptor->name, "want", call->m->desc->output->name, NULL);
        call->code =
            rpc_call_fail(call, GRPC_STATUS_INTERNAL, "%s: handler sent a %s, not a %s",
                          call->m->path + 1, msg->descriptor->name, call->m->desc->output->name);
        return -1;
    }
    /* One message at a time: the previous one must be gone first. Packing
     * this one while gRPC writes the last keeps a stream near async speed. */
    if (wait_pending_send(call) != 0 || call->client_cancelled || atomic_load(&call->srv->forced))
        return -1;
    size_t size = protobuf_c_message_get_packed_size(msg);
    if (size > call->srv->o.max_message_bytes) {
        call->code = GRPC_STATUS_RESOURCE_EXHAUSTED;
        call->message = rpc_call_strdup(call, "stream message over the size limit");
        return -1;
    }
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (!call->initial_md_sent) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        call->initial_md_sent = 1;
    }
    grpc_byte_buffer *bb = rpc_pack(msg);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = bb;
    if (grpc_call_start_batch(call->call, ops, n, &call->op_tag, NULL) != GRPC_CALL_OK) {
        grpc_byte_buffer_destroy(bb);
        call->send_failed = 1;
        return -1;
    }
    call->pending_send = bb;
    return 0;
}

/* ---- serving one call ---- */

static int ct_equal(const unsigned char *got, size_t got_len, const char *want, size_t want_len)
{
    unsigned char d = got_len != want_len;
    for (size_t i = 0; i < want_len; i++)
        d |= (unsigned char)want[i] ^ (i < got_len ? got[i] : 0);
    return d == 0;
}

static int authorized(rpc_call *c)
{
    rpc_server *srv = c->srv;
    if (!srv->expected_auth || c->m->public)
        return 1;
    for (size_t i = 0; i < c->md.count; i++) {
        grpc_slice k = c->md.metadata[i].key;
        if (GRPC_SLICE_LENGTH(k) == 13 &&
            memcmp(GRPC_SLICE_START_PTR(k), "authorization", 13) == 0) {
            grpc_slice v = c->md.metadata[i].value;
            return ct_equal(GRPC_SLICE_START_PTR(v), GRPC_SLICE_LENGTH(v), srv->expected_auth,
                            srv->expected_auth_len);
        }
    }
    return 0;
}

static void take_request_id(rpc_call *c)
{
    for (size_t i = 0; i < c->md.count; i++) {
        grpc_slice k = c->md.metadata[i].key;
        if (GRPC_SLICE_LENGTH(k) == 12 &&
            memcmp(GRPC_SLICE_START_PTR(k), "x-request-id", 12) == 0) {
            grpc_slice v = c->md.metadata[i].value;
            if (rpc_request_id_valid((const char *)GRPC_SLICE_START_PTR(v), GRPC_SLICE_LENGTH(v))) {
                rpc_slice_str(v, c->request_id, sizeof c->request_id);
                return;
            }
            break;
        }
    }
    rpc_mint_request_id(c->request_id);
}

/* Moves an arrived call out of its slot into a new rpc_call. */
static rpc_call *call_from_slot(struct request_slot *s)
{
    rpc_server *srv = s->w->srv;
    rpc_call *c = xcalloc(1, sizeof *c);
    clock_gettime(CLOCK_MONOTONIC, &c->start);
    c->tag.kind = TAG_INLINE_DONE;
    c->close_tag.kind = TAG_INLINE_DONE;
    c->op_tag.kind = TAG_INLINE_DONE;
    c->srv = srv;
    c->m = s->m;
    c->call = s->call;
    c->md = s->md;
    c->payload = s->payload;
    c->deadline = gpr_convert_clock_type(s->deadline, GPR_CLOCK_MONOTONIC);
    c->has_deadline = gpr_time_cmp(s->deadline, gpr_inf_future(s->deadline.clock_type)) != 0;
    c->code = GRPC_STATUS_OK;
    s->call = NULL;
    s->payload = NULL;
    grpc_metadata_array_init(&s->md);
    take_request_id(c);
    return c;
}

/* Checks auth and unpacks the request; returns the status so far. */
static int prepare(rpc_call *c)
{
    struct method_entry *m = c->m;
    if (!authorized(c))
        return rpc_call_fail(c, GRPC_STATUS_UNAUTHENTICATED,
                             "missing or invalid bearer token (metadata authorization)");
    if (!m->implemented)
        return rpc_call_fail(c, GRPC_STATUS_UNIMPLEMENTED, "%s is not implemented yet",
                             m->path + 1);
    if (!c->payload)
        return rpc_call_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "%s: no request message",
                             m->path + 1);
    c->request = rpc_unpack(m->desc->input, c->payload);
    if (!c->request)
        return rpc_call_fail(c, GRPC_STATUS_INVALID_ARGUMENT,
                             "%s: request is not a valid %s message", m->path + 1,
                             m->desc->input->name);
    return GRPC_STATUS_OK;
}

/* Runs a unary handler and packs its response into c->response. */
static int run_unary(rpc_call *c)
{
    ProtobufCMessage *resp = NULL;
    int code = c->m->row.unary(c, c->request, &resp);
    if (code != GRPC_STATUS_OK)
        return code;
    if (!resp)
        return rpc_call_fail(c, GRPC_STATUS_INTERNAL, "%s: handler returned no response",
                             c->m->path + 1);
    if (resp->descriptor != c->m->desc->output)
        return rpc_call_fail(c, GRPC_STATUS_INTERNAL, "%s: handler returned a %s, not a %s",
                             c->m->path + 1, resp->descriptor->name, c->m->desc->output->name);
    size_t size = protobuf_c_message_get_packed_size(resp);
    if (size > c->srv->o.max_message_bytes)
        return rpc_call_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
                             "%s: response of %zu bytes is over the %zu-byte limit", c->m->path + 1,
                             size, c->srv->o.max_message_bytes);
    c->response = rpc_pack(resp);
    return GRPC_STATUS_OK;
}

/* Fills the final ops: initial metadata if not sent, the response if any,
 * the status; returns how many. */
static size_t final_ops(rpc_call *c, grpc_op *ops)
{
    size_t n = 0;
    memset(ops, 0, 3 * sizeof *ops);
    if (!c->initial_md_sent) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->initial_md_sent = 1;
    }
    if (c->code == GRPC_STATUS_OK && c->response) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->response;
    }
    if (c->code != GRPC_STATUS_OK && !c->message)
        c->message = rpc_call_strdup(c, rpc_status_name(c->code));
    c->details = c->message ? grpc_slice_from_copied_string(c->message) : grpc_empty_slice();
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)c->code;
    ops[n++].data.send_status_from_server.status_details = &c->details;
    return n;
}

static int observed_code(rpc_call *c, int cancelled)
{
    if (!cancelled)
        return c->code;
    if (c->has_deadline && rpc_call_remaining_ms(c) <= 0)
        return GRPC_STATUS_DEADLINE_EXCEEDED;
    return GRPC_STATUS_CANCELLED;
}

/* Reports a finished call and frees it, except for its place in the live
 * count: see call_gone. */
static void call_release(rpc_call *c, int cancelled)
{
    rpc_server *srv = c->srv;
    if (srv->observer)
        srv->observer(srv->observer_user, c->m->path, observed_code(c, cancelled),
                      seconds_since(&c->start));
    release_handler_memory(c);
    if (c->response)
        grpc_byte_buffer_destroy(c->response);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    grpc_slice_unref(c->details);
    grpc_metadata_array_destroy(&c->md);
    grpc_call_unref(c->call);
    while (c->arena) {
        struct arena_chunk *next = c->arena->next;
        free(c->arena);
        c->arena = next;
    }
    free(c);
}

/* The last thing a call does: once live reaches 0 during shutdown the
 * server may be freed, so nothing touches srv after this. */
static void call_gone(rpc_server *srv)
{
    if (atomic_load(&srv->stopping)) {
        pthread_mutex_lock(&srv->mu);
        atomic_fetch_sub(&srv->live, 1);
        pthread_cond_broadcast(&srv->cv);
        pthread_mutex_unlock(&srv->mu);
    } else {
        atomic_fetch_sub(&srv->live, 1);
    }
}

static void call_free(rpc_call *c, int cancelled)
{
    rpc_server *srv = c->srv;
    call_release(c, cancelled);
    call_gone(srv);
}

/* A worker-run call: handler on this thread, then one batch. */
static void serve_inline(rpc_call *c)
{
    int code = prepare(c);
    if (code == GRPC_STATUS_OK) {
        log_set_request_id(c->request_id);
        code = run_unary(c);
        log_set_request_id(NULL);
    }
    c->code = code;
    release_handler_memory(c);
    grpc_op ops[4];
    size_t n = final_ops(c, ops);
    memset(&ops[n], 0, sizeof ops[n]);
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->close_cancelled;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, &c->tag, NULL);
    if (e != GRPC_CALL_OK) {
        log_kv(LOG_ERROR, "grpc_call_start_batch failed", "method", c->m->path, NULL);
        call_free(c, 1);
    }
}

/* Sends the final status of an own-thread call, waits for the close and
 * frees it. */
static void finish_own_thread(rpc_call *c)
{
    rpc_server *srv = c->srv;
    wait_pending_send(c);
    grpc_op ops[3];
    size_t n = final_ops(c, ops);
    if (grpc_call_start_batch(c->call, ops, n, &c->op_tag, NULL) == GRPC_CALL_OK)
        own_cq_wait_op(c);
    release_handler_memory(c);
    own_cq_poll_close(c, gpr_inf_future(GPR_CLOCK_MONOTONIC));
    grpc_completion_queue *cq = c->cq;
    call_release(c, c->client_cancelled);
    destroy_cq(cq);
    call_gone(srv);
}

static int start_close_op(rpc_call *c)
{
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->close_cancelled;
    return grpc_call_start_batch(c->call, &op, 1, &c->close_tag, NULL) == GRPC_CALL_OK;
}

static void serve_own_thread(rpc_call *c)
{
    int code = prepare(c);
    if (code == GRPC_STATUS_OK) {
        log_set_request_id(c->request_id);
        if (c->m->row.kind == RPC_KIND_STREAM) {
            c->code = GRPC_STATUS_OK;
            code = c->m->row.stream(c, c->request);
            /* A send that failed for size or type wins over the handler. */
            if (c->code != GRPC_STATUS_OK)
                code = c->code;
        } else {
            code = run_unary(c);
        }
        log_set_request_id(NULL);
    }
    c->code = code;
    /* The handler is done: the thread counts as free before the client can
     * see the status, so a caller's next call is never refused for it. */
    rpc_server *srv = c->srv;
    pthread_mutex_lock(&srv->pool_mu);
    srv->pool_busy--;
    pthread_mutex_unlock(&srv->pool_mu);
    finish_own_thread(c);
}

#define POOL_IDLE_SECONDS 30 /* an idle handler thread exits after this */

static void *pool_thread_main(void *arg)
{
    rpc_call *c = arg;
    rpc_server *srv = c->srv;
    for (;;) {
        serve_own_thread(c);
        pthread_mutex_lock(&srv->pool_mu);
        srv->pool_idle++;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += POOL_IDLE_SECONDS;
        while (!srv->pool_head && !srv->pool_stop)
            if (pthread_cond_timedwait(&srv->pool_cv, &srv->pool_mu, &until) == ETIMEDOUT)
                break;
        srv->pool_idle--;
        c = srv->pool_head;
        if (c) {
            srv->pool_head = c->pool_next;
            if (!srv->pool_head)
                srv->pool_tail = NULL;
            srv->pool_queued--;
            pthread_mutex_unlock(&srv->pool_mu);
            continue;
        }
        srv->pool_total--;
        pthread_cond_broadcast(&srv->pool_cv);
        pthread_mutex_unlock(&srv->pool_mu);
        return NULL;
    }
}

/* Gives the call to an idle handler thread, a new one, or one about to be
 * free (queued); 0 when max_threads handlers are running. */
static int pool_submit(rpc_server *srv, rpc_call *c)
{
    pthread_mutex_lock(&srv->pool_mu);
    if (srv->pool_busy >= srv->o.max_threads) {
        pthread_mutex_unlock(&srv->pool_mu);
        return 0;
    }
    if (srv->pool_idle <= srv->pool_queued && srv->pool_total < srv->o.max_threads) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, pool_thread_main, c);
        pthread_attr_destroy(&attr);
        if (rc == 0) {
            srv->pool_total++;
            srv->pool_busy++;
            pthread_mutex_unlock(&srv->pool_mu);
            return 1;
        }
        log_kv(LOG_ERROR, "cannot start a handler thread", "method", c->m->path, "error",
               strerror(rc), NULL);
        if (srv->pool_total == 0) {
            pthread_mutex_unlock(&srv->pool_mu);
            return 0;
        }
    }
    /* An idle thread, or one finishing a call (busy < max <= total), takes it. */
    c->pool_next = NULL;
    if (srv->pool_tail)
        srv->pool_tail->pool_next = c;
    else
        srv->pool_head = c;
    srv->pool_tail = c;
    srv->pool_queued++;
    srv->pool_busy++;
    pthread_cond_signal(&srv->pool_cv);
    pthread_mutex_unlock(&srv->pool_mu);
    return 1;
}

/* Tells idle handler threads to exit and waits for all of them. */
static void pool_stop(rpc_server *srv)
{
    pthread_mutex_lock(&srv->pool_mu);
    srv->pool_stop = 1;
    pthread_cond_broadcast(&srv->pool_cv);
    while (srv->pool_total > 0)
        pthread_cond_wait(&srv->pool_cv, &srv->pool_mu);
    pthread_mutex_unlock(&srv->pool_mu);
}

/* An own-thread call: hand it to a handler thread, or refuse it here. */
static void serve_threaded(rpc_call *c)
{
    rpc_server *srv = c->srv;
    c->threaded = 1;
    if (!start_close_op(c)) {
        log_kv(LOG_ERROR, "cannot start RECV_CLOSE_ON_SERVER", "method", c->m->path, NULL);
        grpc_call_cancel(c->call, NULL);
        grpc_completion_queue *cq = c->cq;
        call_release(c, 1);
        destroy_cq(cq);
        call_gone(srv);
        return;
    }
    if (pool_submit(srv, c))
        return;
    c->code = rpc_call_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
                            "%s: server busy (%d calls running on their own thread)",
                            c->m->path + 1, srv->o.max_threads);
    /* Blocks this worker only until the status is handed to the transport. */
    finish_own_thread(c);
}

/* ---- arming requests ---- */

static void arm_request(struct request_slot *s)
{
    rpc_server *srv = s->w->srv;
    if (s->m->row.kind != RPC_KIND_UNARY && !s->call_cq)
        s->call_cq = new_cq();
    grpc_completion_queue *bound = s->call_cq ? s->call_cq : s->w->cq;
    atomic_fetch_add(&srv->armed, 1);
    grpc_call_error e =
        grpc_server_request_registered_call(srv->server, s->m->registered, &s->call, &s->deadline,
                                            &s->md, &s->payload, bound, s->w->cq, &s->tag);
    if (e != GRPC_CALL_OK) {
        log_kv(LOG_ERROR, "grpc_server_request_registered_call failed", "method", s->m->path, NULL);
        atomic_fetch_sub(&srv->armed, 1);
    }
}

static void free_slot(struct request_slot *s)
{
    grpc_metadata_array_destroy(&s->md);
    if (s->call_cq)
        destroy_cq(s->call_cq);
    free(s);
}

static void arm_generic(struct generic_slot *g)
{
    rpc_server *srv = g->w->srv;
    atomic_fetch_add(&srv->armed, 1);
    if (grpc_server_request_call(srv->server, &g->call, &g->details, &g->md, g->w->cq, g->w->cq,
                                 &g->tag) != GRPC_CALL_OK) {
        log_msg(LOG_ERROR, "rpc: grpc_server_request_call failed");
        atomic_fetch_sub(&srv->armed, 1);
    }
}

static void on_request(struct request_slot *s, int ok)
{
    rpc_server *srv = s->w->srv;
    if (!ok) {
        free_slot(s);
        atomic_fetch_sub(&srv->armed, 1);
        wake_drain(srv);
        return;
    }
    atomic_fetch_add(&srv->live, 1);
    rpc_call *c = call_from_slot(s);
    if (s->call_cq) {
        c->cq = s->call_cq;
        s->call_cq = NULL;
    }
    atomic_fetch_sub(&srv->armed, 1);
    if (atomic_load(&srv->stopping))
        free_slot(s);
    else
        arm_request(s);
    if (c->m->row.kind == RPC_KIND_UNARY) {
        c->cq = NULL;
        serve_inline(c);
    } else {
        serve_threaded(c);
    }
}

static void on_generic(struct generic_slot *g, int ok)
{
    rpc_server *srv = g->w->srv;
    if (!ok) {
        grpc_call_details_destroy(&g->details);
        grpc_metadata_array_destroy(&g->md);
        free(g);
        atomic_fetch_sub(&srv->armed, 1);
        wake_drain(srv);
        return;
    }
    atomic_fetch_add(&srv->live, 1);
    struct unknown_call *u = xcalloc(1, sizeof *u);
    u->tag.kind = TAG_UNKNOWN_DONE;
    u->call = g->call;
    clock_gettime(CLOCK_MONOTONIC, &u->start);
    char path[256];
    rpc_slice_str(g->details.method, path, sizeof path);
    grpc_call_details_destroy(&g->details);
    grpc_metadata_array_destroy(&g->md);
    grpc_call_details_init(&g->details);
    grpc_metadata_array_init(&g->md);
    g->call = NULL;
    atomic_fetch_sub(&srv->armed, 1);
    if (atomic_load(&srv->stopping)) {
        free(g);
    } else {
        arm_generic(g);
    }

    char msg[400];
    snprintf(msg, sizeof msg, "unknown method %s", path);
    grpc_slice details = grpc_slice_from_copied_string(msg);
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[1].data.send_status_from_server.status = GRPC_STATUS_UNIMPLEMENTED;
    ops[1].data.send_status_from_server.status_details = &details;
    ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[2].data.recv_close_on_server.cancelled = &u->cancelled;
    grpc_call_error e = grpc_call_start_batch(u->call, ops, 3, &u->tag, NULL);
    grpc_slice_unref(details);
    if (e != GRPC_CALL_OK) {
        grpc_call_unref(u->call);
        free(u);
        call_gone(srv);
    }
}

static void on_unknown_done(rpc_server *srv, struct unknown_call *u)
{
    if (srv->observer)
        srv->observer(srv->observer_user, "unknown",
                      u->cancelled ? GRPC_STATUS_CANCELLED : GRPC_STATUS_UNIMPLEMENTED,
                      seconds_since(&u->start));
    grpc_call_unref(u->call);
    free(u);
    call_gone(srv);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    rpc_server *srv = w->srv;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(w->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        struct tag *t = ev.tag;
        switch (t->kind) {
        case TAG_REQUEST:
            on_request((struct request_slot *)t, ev.success);
            break;
        case TAG_GENERIC:
            on_generic((struct generic_slot *)t, ev.success);
            break;
        case TAG_INLINE_DONE: {
            rpc_call *c = (rpc_call *)t;
            call_free(c, !ev.success || c->close_cancelled);
            break;
        }
        case TAG_UNKNOWN_DONE:
            on_unknown_done(srv, (struct unknown_call *)t);
            break;
        case TAG_SHUTDOWN:
            pthread_mutex_lock(&srv->mu);
            atomic_store(&srv->shutdown_done, 1);
            pthread_cond_broadcast(&srv->cv);
            pthread_mutex_unlock(&srv->mu);
            break;
        }
    }
    return NULL;
}

/* ---- health ---- */

static struct health_entry *health_find(rpc_server *srv, const char *name)
{
    for (size_t i = 0; i < srv->n_health; i++)
        if (strcmp(srv->health[i].name, name) == 0)
            return &srv->health[i];
    return NULL;
}

void rpc_health_set(rpc_server *srv, const char *service, rpc_health_status status)
{
    pthread_mutex_lock(&srv->mu);
    struct health_entry *e = health_find(srv, service ? service : "");
    if (!e) {
        struct health_entry *n = realloc(srv->health, (srv->n_health + 1) * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&srv->mu);
            log_msg(LOG_ERROR, "rpc: out of memory");
            abort();
        }
        srv->health = n;
        e = &srv->health[srv->n_health++];
        e->name = xstrdup(service ? service : "");
        e->status = 0;
    }
    /* Once shutdown began, nothing (say a Redis watcher) may flip an entry
     * back to SERVING. */
    if (srv->health_frozen && status == RPC_HEALTH_SERVING && strcmp(e->name, "liveness") != 0)
        status = RPC_HEALTH_NOT_SERVING;
    e->status = (int)status;
    pthread_mutex_unlock(&srv->mu);
}

/* SERVICE_UNKNOWN (3) when there is no entry. */
static int health_get(rpc_server *srv, const char *name)
{
    pthread_mutex_lock(&srv->mu);
    struct health_entry *e = health_find(srv, name);
    int st =
        e ? e->status : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
    pthread_mutex_unlock(&srv->mu);
    return st;
}

int rpc_health_get(rpc_server *srv, const char *service)
{
    int st = health_get(srv, service ? service : "");
    return st == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN ? 0 : st;
}

static int health_check(rpc_call *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response)
{
    const Grpc__Health__V1__HealthCheckRequest *rq = (const void *)request;
    int st = health_get(call->srv, rq->service);
    if (st == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN)
        return rpc_call_fail(call, GRPC_STATUS_NOT_FOUND, "unknown service \"%s\"", rq->service);
    Grpc__Health__V1__HealthCheckResponse *r = rpc_call_alloc(call, sizeof *r);
    grpc__health__v1__health_check_response__init(r);
    r->status = st;
    *response = &r->base;
    return GRPC_STATUS_OK;
}

static int health_send(rpc_call *call, int status)
{
    Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    r.status = status;
    return rpc_call_send(call, &r.base);
}

static int health_watch(rpc_call *call, const ProtobufCMessage *request)
{
    const Grpc__Health__V1__HealthCheckRequest *rq = (const void *)request;
    int sent = -1;
    for (;;) {
        int st = health_get(call->srv, rq->service);
        if (st != sent) {
            if (health_send(call, st) != 0)
                return rpc_call_fail(call, GRPC_STATUS_CANCELLED, "watcher went away");
            sent = st;
        }
        if (rpc_call_wait(call, POLL_SLICE_MS * 2))
            break;
    }
    if (call->client_cancelled || atomic_load(&call->srv->forced))
        return rpc_call_fail(call, GRPC_STATUS_CANCELLED, "watch cancelled");
    if (!atomic_load(&call->srv->stopping))
        return rpc_call_fail(call, GRPC_STATUS_DEADLINE_EXCEEDED, "watch deadline reached");
    /* Shutdown: the watcher learns NOT_SERVING before the stream ends. */
    int st = health_get(call->srv, rq->service);
    if (st != sent)
        health_send(call, st);
    return rpc_call_fail(call, GRPC_STATUS_UNAVAILABLE, "server shutting down");
}

static const rpc_method health_methods[] = {
    RPC_UNARY("Check", health_check),
    RPC_STREAM("Watch", health_watch),
};

/* ---- server lifecycle ---- */

static int add_service(rpc_server *srv, const ProtobufCServiceDescriptor *desc,
                       const rpc_method *methods, size_t n_methods, void *service_data, int public,
                       rpc_error *err)
{
    if (srv->started)
        return rpc_set_error(err, GRPC_STATUS_FAILED_PRECONDITION,
                             "rpc_server_add_service(%s) after rpc_server_start", desc->name);
    for (size_t i = 0; i < n_methods; i++) {
        const rpc_method *r = &methods[i];
        int known = 0;
        for (unsigned j = 0; j < desc->n_methods; j++)
            known |= r->name && strcmp(desc->methods[j].name, r->name) == 0;
        if (!known)
            return rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT,
                                 "handler table row %zu: %s has no method \"%s\"", i, desc->name,
                                 r->name ? r->name : "(null)");
        int fn_ok = r->kind == RPC_KIND_STREAM ? r->stream && !r->unary : r->unary && !r->stream;
        if (!fn_ok || (r->kind != RPC_KIND_UNARY && r->kind != RPC_KIND_BLOCKING &&
                       r->kind != RPC_KIND_STREAM))
            return rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT,
                                 "handler table row for %s/%s: use RPC_UNARY, RPC_BLOCKING or "
                                 "RPC_STREAM",
                                 desc->name, r->name);
    }
    for (unsigned j = 0; j < desc->n_methods; j++) {
        struct method_entry *m = xcalloc(1, sizeof *m);
        size_t len = strlen(desc->name) + strlen(desc->methods[j].name) + 3;
        m->path = xcalloc(1, len);
        snprintf(m->path, len, "/%s/%s", desc->name, desc->methods[j].name);
        m->desc = &desc->methods[j];
        m->service_data = service_data;
        m->public = public;
        m->row.kind = RPC_KIND_UNARY;
        for (size_t i = 0; i < n_methods; i++)
            if (strcmp(methods[i].name, desc->methods[j].name) == 0) {
                m->row = methods[i];
                m->implemented = 1;
            }
        m->registered = grpc_server_register_method(srv->server, m->path, NULL,
                                                    GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
        if (!m->registered) {
            rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT,
                          "cannot register %s (registered twice?)", m->path);
            free(m->path);
            free(m);
            return GRPC_STATUS_INVALID_ARGUMENT;
        }
        m->next = srv->methods;
        srv->methods = m;
    }
    rpc_health_set(srv, desc->name, RPC_HEALTH_SERVING);
    return 0;
}

int rpc_server_add_service(rpc_server *srv, const ProtobufCServiceDescriptor *desc,
                           const rpc_method *methods, size_t n_methods, void *service_data,
                           rpc_error *err)
{
    return add_service(srv, desc, methods, n_methods, service_data, 0, err);
}

int rpc_server_create(rpc_server **out, const rpc_server_opts *opts, rpc_error *err)
{
    *out = NULL;
    if (!opts || !opts->listen_addr || !*opts->listen_addr)
        return rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT,
                             "rpc_server_opts.listen_addr is required (e.g. 0.0.0.0:50051)");
    if (!opts->tls_cert_file != !opts->tls_key_file)
        return rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT,
                             "TLS needs both tls_cert_file and tls_key_file");
    if (opts->tls_client_ca_file && !opts->tls_cert_file)
        return rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT,
                             "tls_client_ca_file (mTLS) needs tls_cert_file and tls_key_file");
    if (opts->bearer_token && !*opts->bearer_token)
        return rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT, "bearer_token is empty");

    rpc_server *srv = xcalloc(1, sizeof *srv);
    srv->o = *opts;
#define DEFAULT(f)                                                                                 \
    if (srv->o.f <= 0)                                                                             \
    srv->o.f = default_opts.f
    DEFAULT(workers);
    DEFAULT(max_threads);
    DEFAULT(max_message_bytes);
    DEFAULT(max_connection_age_grace_ms);
    DEFAULT(keepalive_time_ms);
    DEFAULT(keepalive_timeout_ms);
    DEFAULT(shutdown_grace_ms);
#undef DEFAULT
    if (srv->o.max_message_bytes > INT32_MAX)
        srv->o.max_message_bytes = INT32_MAX;
    srv->listen_addr = xstrdup(opts->listen_addr);
    srv->o.listen_addr = srv->listen_addr;
    srv->o.tls_cert_file = srv->o.tls_key_file = srv->o.tls_client_ca_file = NULL;
    srv->o.bearer_token = NULL;
    pthread_mutex_init(&srv->mu, NULL);
    pthread_mutex_init(&srv->pool_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->cv, &ca);
    pthread_cond_init(&srv->pool_cv, &ca);
    pthread_condattr_destroy(&ca);
    srv->shutdown_pipe[0] = srv->shutdown_pipe[1] = -1;
    srv->shutdown_tag.kind = TAG_SHUTDOWN;

    int rc = 0;
    if (opts->bearer_token) {
        size_t len = strlen(opts->bearer_token) + 8;
        srv->expected_auth = xcalloc(1, len);
        snprintf(srv->expected_auth, len, "Bearer %s", opts->bearer_token);
        srv->expected_auth_len = strlen(srv->expected_auth);
    }
    if (opts->tls_cert_file) {
        srv->tls_cert = rpc_read_file(opts->tls_cert_file, "TLS certificate", err);
        srv->tls_key = srv->tls_cert ? rpc_read_file(opts->tls_key_file, "TLS key", err) : NULL;
        if (!srv->tls_key)
            rc = GRPC_STATUS_INVALID_ARGUMENT;
        else if (opts->tls_client_ca_file &&
                 !(srv->tls_ca = rpc_read_file(opts->tls_client_ca_file, "client CA", err)))
            rc = GRPC_STATUS_INVALID_ARGUMENT;
    }
    if (rc == 0 && srv->tls_cert && !strstr(srv->tls_cert, "-----BEGIN CERTIFICATE-----"))
        rc = rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT,
                           "TLS certificate %s has no PEM certificate", opts->tls_cert_file);
    if (rc == 0 && srv->tls_key && !strstr(srv->tls_key, "PRIVATE KEY-----"))
        rc = rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT, "TLS key %s has no PEM private key",
                           opts->tls_key_file);
    if (rc == 0 && srv->tls_ca && !strstr(srv->tls_ca, "-----BEGIN CERTIFICATE-----"))
        rc = rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT, "client CA %s has no PEM certificate",
                           opts->tls_client_ca_file);
    if (rc == 0 && pipe2(srv->shutdown_pipe, O_CLOEXEC) != 0)
        rc = rpc_set_error(err, GRPC_STATUS_INTERNAL, "pipe: %s", strerror(errno));
    if (rc != 0) {
        free(srv->tls_cert);
        free(srv->tls_key);
        free(srv->tls_ca);
        free(srv->expected_auth);
        free(srv->listen_addr);
        for (int i = 0; i < 2; i++)
            if (srv->shutdown_pipe[i] >= 0)
                close(srv->shutdown_pipe[i]);
        pthread_mutex_destroy(&srv->mu);
        pthread_cond_destroy(&srv->cv);
        pthread_mutex_destroy(&srv->pool_mu);
        pthread_cond_destroy(&srv->pool_cv);
        free(srv);
        return rc;
    }
    fcntl(srv->shutdown_pipe[1], F_SETFL, O_NONBLOCK);

    grpc_init();
    grpc_arg args[12];
    int na = 0;
#define INT_ARG(k, v)                                                                              \
    args[na].type = GRPC_ARG_INTEGER;                                                              \
    args[na].key = (char *)(k);                                                                    \
    args[na++].value.integer = (int)(v)
    INT_ARG(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, srv->o.max_message_bytes);
    INT_ARG(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, srv->o.max_message_bytes);
    INT_ARG(GRPC_ARG_KEEPALIVE_TIME_MS, srv->o.keepalive_time_ms);
    INT_ARG(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, srv->o.keepalive_timeout_ms);
    /* campsync clients ping every 30 s: accept pings down to 10 s apart. */
    INT_ARG(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
    /* Two processes on one port must fail loudly, not share it. */
    INT_ARG(GRPC_ARG_ALLOW_REUSEPORT, 0);
    if (srv->o.max_connection_age_ms > 0) {
        INT_ARG(GRPC_ARG_MAX_CONNECTION_AGE_MS, srv->o.max_connection_age_ms);
        INT_ARG(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, srv->o.max_connection_age_grace_ms);
    }
#undef INT_ARG
    grpc_channel_args ch_args = {.num_args = (size_t)na, .args = args};
    srv->server = grpc_server_create(&ch_args, NULL);

    srv->n_workers = srv->o.workers;
    srv->workers = xcalloc((size_t)srv->n_workers, sizeof *srv->workers);
    for (int i = 0; i < srv->n_workers; i++) {
        srv->workers[i].srv = srv;
        srv->workers[i].cq = new_cq();
        grpc_server_register_completion_queue(srv->server, srv->workers[i].cq, NULL);
    }
    rpc_health_set(srv, "", RPC_HEALTH_SERVING);
    rpc_health_set(srv, "liveness", RPC_HEALTH_SERVING);
    add_service(srv, &grpc__health__v1__health__descriptor, health_methods, 2, NULL, 1, NULL);
    *out = srv;
    return 0;
}

void rpc_server_set_observer(rpc_server *srv, rpc_observer_fn fn, void *user)
{
    srv->observer = fn;
    srv->observer_user = user;
}

int rpc_server_start(rpc_server *srv, rpc_error *err)
{
    if (srv->started)
        return 0;
    grpc_server_credentials *creds;
    if (srv->tls_cert) {
        grpc_ssl_pem_key_cert_pair pair = {.private_key = srv->tls_key,
                                           .cert_chain = srv->tls_cert};
        creds = grpc_ssl_server_credentials_create_ex(
            srv->tls_ca, &pair, 1,
            srv->tls_ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                        : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
    } else {
        creds = grpc_insecure_server_credentials_create();
    }
    if (!creds)
        return rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT,
                             "TLS certificate or key is not valid PEM");
    srv->port = grpc_server_add_http2_port(srv->server, srv->listen_addr, creds);
    grpc_server_credentials_release(creds);
    if (srv->port <= 0)
        return rpc_set_error(err, GRPC_STATUS_UNAVAILABLE,
                             "cannot listen on %s (address in use, or not host:port?%s)",
                             srv->listen_addr,
                             srv->tls_cert ? " or the TLS key does not match the certificate" : "");
    grpc_server_start(srv->server);
    srv->started = 1;
    for (int i = 0; i < srv->n_workers; i++) {
        struct worker *w = &srv->workers[i];
        for (struct method_entry *m = srv->methods; m; m = m->next) {
            int n = m->row.kind == RPC_KIND_UNARY ? ARMED_INLINE : ARMED_THREADED;
            for (int k = 0; k < n; k++) {
                struct request_slot *s = xcalloc(1, sizeof *s);
                s->tag.kind = TAG_REQUEST;
                s->w = w;
                s->m = m;
                grpc_metadata_array_init(&s->md);
                arm_request(s);
            }
        }
        struct generic_slot *g = xcalloc(1, sizeof *g);
        g->tag.kind = TAG_GENERIC;
        g->w = w;
        grpc_call_details_init(&g->details);
        grpc_metadata_array_init(&g->md);
        arm_generic(g);
    }
    for (int i = 0; i < srv->n_workers; i++) {
        int rc = pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]);
        if (rc != 0) {
            log_kv(LOG_ERROR, "cannot start a worker thread", "error", strerror(rc), NULL);
            abort();
        }
        srv->workers[i].started = 1;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", srv->port);
    log_kv(LOG_INFO, "gRPC server listening", "addr", srv->listen_addr, "port", port, "tls",
           srv->tls_cert ? (srv->tls_ca ? "mtls" : "tls") : "off", "auth",
           srv->expected_auth ? "bearer" : "none", NULL);
    return 0;
}

int rpc_server_port(const rpc_server *srv)
{
    return srv->port;
}

void rpc_server_request_shutdown(rpc_server *srv)
{
    char b = 1;
    ssize_t r = write(srv->shutdown_pipe[1], &b, 1);
    (void)r; /* a full pipe already holds a request */
}

static void on_signal(int sig)
{
    int saved = errno;
    if (signal_server)
        rpc_server_request_shutdown(signal_server);
    errno = saved;
}

int rpc_server_install_signal_handlers(rpc_server *srv, rpc_error *err)
{
    signal_server = srv;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return rpc_set_error(err, GRPC_STATUS_INTERNAL, "sigaction: %s", strerror(errno));
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* Waits on the drain condition until done() or `until` (monotonic). */
static int wait_until(rpc_server *srv, int (*done)(rpc_server *), const struct timespec *until)
{
    pthread_mutex_lock(&srv->mu);
    int ok;
    while (!(ok = done(srv))) {
        /* Short waits: counters change without the lock held. */
        struct timespec now, t;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (until && (now.tv_sec > until->tv_sec ||
                      (now.tv_sec == until->tv_sec && now.tv_nsec >= until->tv_nsec)))
            break;
        t = now;
        t.tv_nsec += 20 * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->cv, &srv->mu, &t);
    }
    pthread_mutex_unlock(&srv->mu);
    return ok;
}

static int is_shutdown_done(rpc_server *srv)
{
    return atomic_load(&srv->shutdown_done);
}

static int is_idle(rpc_server *srv)
{
    return atomic_load(&srv->shutdown_done) && atomic_load(&srv->live) == 0 &&
           atomic_load(&srv->armed) == 0;
}

static struct timespec deadline_in(int64_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static void drain(rpc_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    srv->health_frozen = 1;
    for (size_t i = 0; i < srv->n_health; i++)
        if (strcmp(srv->health[i].name, "liveness") != 0)
            srv->health[i].status = RPC_HEALTH_NOT_SERVING;
    pthread_mutex_unlock(&srv->mu);
    char live[32];
    snprintf(live, sizeof live, "%ld", atomic_load(&srv->live));
    log_kv(LOG_INFO, "gRPC server shutting down", "calls_in_flight", live, NULL);
    atomic_store(&srv->stopping, 1);
    grpc_server_shutdown_and_notify(srv->server, srv->workers[0].cq, &srv->shutdown_tag);

    struct timespec grace = deadline_in(srv->o.shutdown_grace_ms);
    if (!wait_until(srv, is_idle, &grace)) {
        snprintf(live, sizeof live, "%ld", atomic_load(&srv->live));
        log_kv(LOG_WARN, "grace period over: cancelling calls", "calls_in_flight", live, NULL);
        atomic_store(&srv->forced, 1);
        grpc_server_cancel_all_calls(srv->server);
        struct timespec more = deadline_in(srv->o.shutdown_grace_ms);
        if (!wait_until(srv, is_idle, &more)) {
            /* A handler ignores cancellation (blocked outside gRPC). Its call
             * still references the server and a queue: keep them. */
            snprintf(live, sizeof live, "%ld", atomic_load(&srv->live));
            log_kv(LOG_ERROR, "handlers did not return after cancellation; exiting without them",
                   "calls_in_flight", live, "shutdown_done", is_shutdown_done(srv) ? "1" : "0",
                   NULL);
            srv->leaked = 1;
            srv->stopped = 1;
            return;
        }
    }
    pool_stop(srv);
    grpc_server_destroy(srv->server);
    srv->server = NULL;
    for (int i = 0; i < srv->n_workers; i++)
        grpc_completion_queue_shutdown(srv->workers[i].cq);
    for (int i = 0; i < srv->n_workers; i++)
        if (srv->workers[i].started)
            pthread_join(srv->workers[i].thread, NULL);
    for (int i = 0; i < srv->n_workers; i++)
        grpc_completion_queue_destroy(srv->workers[i].cq);
    srv->stopped = 1;
    log_msg(LOG_INFO, "gRPC server stopped");
}

int rpc_server_run(rpc_server *srv)
{
    rpc_error err;
    if (!srv->started && rpc_server_start(srv, &err) != 0) {
        log_kv(LOG_ERROR, "gRPC server cannot start", "error", err.message, NULL);
        return 1;
    }
    if (srv->stopped)
        return 0;
    char b;
    while (read(srv->shutdown_pipe[0], &b, 1) < 0 && errno == EINTR)
        ;
    drain(srv);
    return 0;
}

void rpc_server_destroy(rpc_server *srv)
{
    if (!srv)
        return;
    if (srv->started && !srv->stopped)
        drain(srv);
    if (srv->leaked)
        return;
    if (!srv->started) {
        grpc_server_destroy(srv->server);
        for (int i = 0; i < srv->n_workers; i++) {
            grpc_completion_queue_shutdown(srv->workers[i].cq);
            grpc_completion_queue_destroy(srv->workers[i].cq);
        }
    }
    if (signal_server == srv)
        signal_server = NULL;
    while (srv->methods) {
        struct method_entry *n = srv->methods->next;
        free(srv->methods->path);
        free(srv->methods);
        srv->methods = n;
    }
    for (size_t i = 0; i < srv->n_health; i++)
        free(srv->health[i].name);
    free(srv->health);
    free(srv->workers);
    free(srv->tls_cert);
    free(srv->tls_key);
    free(srv->tls_ca);
    free(srv->expected_auth);
    free(srv->listen_addr);
    close(srv->shutdown_pipe[0]);
    close(srv->shutdown_pipe[1]);
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cv);
    pthread_mutex_destroy(&srv->pool_mu);
    pthread_cond_destroy(&srv->pool_cv);
    free(srv);
    grpc_shutdown();
}
