/*
 * The campsync gRPC client (see rpc_client.h).
 *
 * Channels are expensive (connections, name resolution, subchannels) and
 * thread-safe, so there is one per target and option set, kept in a small
 * locked list for the life of the process. Each call gets a completion queue
 * of its own that only the calling thread polls: calls are synchronous, any
 * thread may make them, and nested calls from inside a handler are fine.
 *
 * Retries come from the channel's service config (retryPolicy on UNAVAILABLE
 * for the methods marked idempotent). The service config never carries a
 * `timeout`: gRPC 1.51 applies it off by up to a second and it also ends
 * server streams; every call carries its own deadline instead.
 */
#include "rpc/rpc_client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "log/log.h"
#include "rpc/rpc_internal.h"

struct rpc_client {
    char *key; /* target and options, for the cache */
    char *target;
    grpc_channel *channel;
    int64_t default_timeout_ms;
    char *auth; /* "Bearer <token>" or NULL */
    struct rpc_client *next;
};

/* One call in flight (unary or stream). */
struct rpc_stream {
    rpc_client *client;
    const ProtobufCMethodDescriptor *m;
    char path[256];
    grpc_completion_queue *cq;
    grpc_call *call;
    grpc_metadata send_md[2];
    size_t n_send_md;
    grpc_metadata_array recv_initial;
    grpc_metadata_array trailing;
    int got_initial;
    grpc_status_code status;
    grpc_slice details;
    int finished; /* status received */
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static rpc_client *cache;

/* ---- building a channel ---- */

struct buf {
    char *s;
    size_t len, cap;
};

static void buf_add(struct buf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            log_msg(LOG_ERROR, "rpc: out of memory");
            abort();
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

static int name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '/'))
            return 0;
    return 1;
}

/* The service config JSON; NULL (err filled) for a bad idempotent name. */
static char *service_config(const char *target, const rpc_client_opts *o, rpc_error *err)
{
    struct buf b = {0};
    buf_add(&b, "{");
    int sep = 0;
    if (strncmp(target, "dns:", 4) == 0) {
        buf_add(&b, "\"loadBalancingConfig\":[{\"round_robin\":{}}]");
        sep = 1;
    }
    if (o->idempotent && o->idempotent[0]) {
        buf_add(&b, sep ? ",\"methodConfig\":[{\"name\":[" : "\"methodConfig\":[{\"name\":[");
        for (size_t i = 0; o->idempotent[i]; i++) {
            const char *n = o->idempotent[i];
            const char *slash = strchr(n, '/');
            if (!name_ok(n) || (slash && (slash == n || !slash[1] || strchr(slash + 1, '/')))) {
                free(b.s);
                rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT,
                              "idempotent method \"%s\" is not \"pkg.Service/Method\" or "
                              "\"pkg.Service\"",
                              n);
                return NULL;
            }
            char item[512];
            if (slash)
                snprintf(item, sizeof item, "%s{\"service\":\"%.*s\",\"method\":\"%s\"}",
                         i ? "," : "", (int)(slash - n), n, slash + 1);
            else
                snprintf(item, sizeof item, "%s{\"service\":\"%s\"}", i ? "," : "", n);
            buf_add(&b, item);
        }
        int attempts = o->retry_max_attempts > 0 ? o->retry_max_attempts : 4;
        if (attempts > 5)
            attempts = 5;
        char policy[300];
        snprintf(policy, sizeof policy,
                 "],\"retryPolicy\":{\"maxAttempts\":%d,\"initialBackoff\":\"0.1s\","
                 "\"maxBackoff\":\"2s\",\"backoffMultiplier\":2,"
                 "\"retryableStatusCodes\":[\"UNAVAILABLE\"]}}]",
                 attempts);
        buf_add(&b, policy);
    }
    buf_add(&b, "}");
    return b.s;
}

static char *cache_key(const char *target, const rpc_client_opts *o)
{
    struct buf b = {0};
    char num[64];
    buf_add(&b, target);
    snprintf(num, sizeof num, "\n%lld\n%zu\n%d\n", (long long)o->default_timeout_ms,
             o->max_message_bytes, o->retry_max_attempts);
    buf_add(&b, num);
    for (size_t i = 0; o->idempotent && o->idempotent[i]; i++) {
        buf_add(&b, o->idempotent[i]);
        buf_add(&b, ",");
    }
    const char *fields[] = {o->tls_ca_file, o->tls_cert_file, o->tls_key_file, o->bearer_token};
    for (size_t i = 0; i < 4; i++) {
        buf_add(&b, "\n");
        buf_add(&b, fields[i] ? fields[i] : "-");
    }
    return b.s;
}

static grpc_channel_credentials *channel_creds(const rpc_client_opts *o, rpc_error *err)
{
    if (!o->tls_ca_file) {
        if (o->tls_cert_file || o->tls_key_file) {
            rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT,
                          "a client certificate needs tls_ca_file as well");
            return NULL;
        }
        return grpc_insecure_credentials_create();
    }
    if (!o->tls_cert_file != !o->tls_key_file) {
        rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "mTLS needs both tls_cert_file and tls_key_file");
        return NULL;
    }
    char *ca = rpc_read_file(o->tls_ca_file, "TLS CA", err);
    char *cert = ca && o->tls_cert_file ? rpc_read_file(o->tls_cert_file, "TLS cert", err) : NULL;
    char *key = cert ? rpc_read_file(o->tls_key_file, "TLS key", err) : NULL;
    grpc_channel_credentials *creds = NULL;
    if (ca && (!o->tls_cert_file || key)) {
        grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
        creds = grpc_ssl_credentials_create(ca, key ? &pair : NULL, NULL, NULL);
        if (!creds)
            rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT, "TLS files are not valid PEM");
    }
    free(ca);
    free(cert);
    free(key);
    return creds;
}

static rpc_client *client_new(const char *target, const rpc_client_opts *o, char *key,
                              rpc_error *err)
{
    char *sc = service_config(target, o, err);
    if (!sc)
        return NULL;
    grpc_channel_credentials *creds = channel_creds(o, err);
    if (!creds) {
        free(sc);
        return NULL;
    }
    size_t max = o->max_message_bytes > 0 ? o->max_message_bytes : 4 << 20;
    if (max > INT32_MAX)
        max = INT32_MAX;
    grpc_arg args[7];
    int na = 0;
#define INT_ARG(k, v)                                                                              \
    args[na].type = GRPC_ARG_INTEGER;                                                              \
    args[na].key = (char *)(k);                                                                    \
    args[na++].value.integer = (int)(v)
    INT_ARG(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, max);
    INT_ARG(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, max);
    INT_ARG(GRPC_ARG_ENABLE_RETRIES, 1);
    /* Notice dead connections (a killed pod) while a long stream is open. */
    INT_ARG(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
    INT_ARG(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
#undef INT_ARG
    args[na].type = GRPC_ARG_STRING;
    args[na].key = (char *)GRPC_ARG_SERVICE_CONFIG;
    args[na++].value.string = sc;
    grpc_channel_args ch_args = {.num_args = (size_t)na, .args = args};

    rpc_client *c = calloc(1, sizeof *c);
    if (!c) {
        log_msg(LOG_ERROR, "rpc: out of memory");
        abort();
    }
    grpc_init();
    c->key = key;
    c->target = strdup(target);
    c->default_timeout_ms = o->default_timeout_ms > 0 ? o->default_timeout_ms : 10000;
    if (o->bearer_token) {
        size_t n = strlen(o->bearer_token) + 8;
        c->auth = malloc(n);
        if (c->auth)
            snprintf(c->auth, n, "Bearer %s", o->bearer_token);
    }
    c->channel = grpc_channel_create(target, creds, &ch_args);
    grpc_channel_credentials_release(creds);
    free(sc);
    if (!c->target || (o->bearer_token && !c->auth)) {
        log_msg(LOG_ERROR, "rpc: out of memory");
        abort();
    }
    return c;
}

rpc_client *rpc_client_get(const char *target, const rpc_client_opts *opts, rpc_error *err)
{
    static const rpc_client_opts none;
    const rpc_client_opts *o = opts ? opts : &none;
    if (!target || !*target) {
        rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT, "rpc_client_get: empty target");
        return NULL;
    }
    char *key = cache_key(target, o);
    pthread_mutex_lock(&cache_mu);
    rpc_client *c;
    for (c = cache; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            break;
    if (c) {
        free(key);
    } else if ((c = client_new(target, o, key, err))) {
        c->next = cache;
        cache = c;
    } else {
        free(key);
    }
    pthread_mutex_unlock(&cache_mu);
    return c;
}

void rpc_client_cleanup(void)
{
    pthread_mutex_lock(&cache_mu);
    while (cache) {
        rpc_client *n = cache->next;
        grpc_channel_destroy(cache->channel);
        free(cache->key);
        free(cache->target);
        free(cache->auth);
        free(cache);
        grpc_shutdown();
        cache = n;
    }
    pthread_mutex_unlock(&cache_mu);
}

/* ---- calls ---- */

static void drain_destroy_cq(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

/* Runs a batch and waits for it; returns its success. The call's deadline
 * bounds the wait. */
static int run_batch(struct rpc_stream *s, const grpc_op *ops, size_t n)
{
    if (grpc_call_start_batch(s->call, ops, n, s, NULL) != GRPC_CALL_OK)
        return 0;
    grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static void free_stream(struct rpc_stream *s)
{
    if (s->call)
        grpc_call_unref(s->call);
    if (s->cq)
        drain_destroy_cq(s->cq);
    for (size_t i = 0; i < s->n_send_md; i++)
        grpc_slice_unref(s->send_md[i].value);
    grpc_metadata_array_destroy(&s->recv_initial);
    grpc_metadata_array_destroy(&s->trailing);
    grpc_slice_unref(s->details);
    free(s);
}

/* Receives the status; fills err and returns the code. */
static int finish(struct rpc_stream *s, rpc_error *err)
{
    if (!s->finished) {
        grpc_op op;
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        op.data.recv_status_on_client.trailing_metadata = &s->trailing;
        op.data.recv_status_on_client.status = &s->status;
        op.data.recv_status_on_client.status_details = &s->details;
        if (!run_batch(s, &op, 1)) {
            s->status = GRPC_STATUS_INTERNAL;
            s->details = grpc_slice_from_static_string("could not receive the call's status");
        }
        s->finished = 1;
    }
    if (s->status == GRPC_STATUS_OK)
        return 0;
    char details[400];
    rpc_slice_str(s->details, details, sizeof details);
    if (!details[0])
        snprintf(details, sizeof details, "%s", rpc_status_name(s->status));
    /* Name the method unless the server already did. */
    if (strstr(details, s->path + 1))
        return rpc_set_error(err, s->status, "%s", details);
    return rpc_set_error(err, s->status, "%s: %s", s->path + 1, details);
}

/* Creates the call and sends the request (and half-close). */
static int start(rpc_client *c, const ProtobufCServiceDescriptor *desc, const char *method,
                 const ProtobufCMessage *request, const rpc_call_opts *opts,
                 struct rpc_stream **out, rpc_error *err)
{
    static const rpc_call_opts none;
    const rpc_call_opts *o = opts ? opts : &none;
    *out = NULL;
    if (!c || !desc || !method || !request)
        return rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT,
                             "rpc client call: missing argument");
    const ProtobufCMethodDescriptor *m = NULL;
    for (unsigned i = 0; i < desc->n_methods; i++)
        if (strcmp(desc->methods[i].name, method) == 0)
            m = &desc->methods[i];
    if (!m)
        return rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT, "%s has no method %s", desc->name,
                             method);
    if (request->descriptor != m->input)
        return rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT, "%s/%s takes a %s, not a %s",
                             desc->name, method, m->input->name, request->descriptor->name);

    gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
    int64_t timeout = o->timeout_ms > 0 ? o->timeout_ms : c->default_timeout_ms;
    gpr_timespec deadline = gpr_time_add(now, gpr_time_from_millis(timeout, GPR_TIMESPAN));
    grpc_call *parent = NULL;
    char request_id[80];
    if (o->parent) {
        gpr_timespec pd = rpc_call_deadline(o->parent);
        if (gpr_time_cmp(pd, deadline) < 0)
            deadline = pd;
        if (gpr_time_cmp(deadline, now) <= 0)
            return rpc_set_error(err, GRPC_STATUS_DEADLINE_EXCEEDED,
                                 "%s/%s: the caller's deadline has already passed", desc->name,
                                 method);
        parent = rpc_call_grpc(o->parent);
        snprintf(request_id, sizeof request_id, "%s", rpc_call_request_id(o->parent));
    } else if (o->request_id && rpc_request_id_valid(o->request_id, strlen(o->request_id))) {
        snprintf(request_id, sizeof request_id, "%s", o->request_id);
    } else if (rpc_request_id_valid(log_request_id(), strlen(log_request_id()))) {
        snprintf(request_id, sizeof request_id, "%s", log_request_id());
    } else {
        rpc_mint_request_id(request_id);
    }

    struct rpc_stream *s = calloc(1, sizeof *s);
    if (!s)
        return rpc_set_error(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    s->client = c;
    s->m = m;
    snprintf(s->path, sizeof s->path, "/%s/%s", desc->name, method);
    grpc_metadata_array_init(&s->recv_initial);
    grpc_metadata_array_init(&s->trailing);
    s->details = grpc_empty_slice();
    s->cq = grpc_completion_queue_create_for_next(NULL);
    /* Copied: the HPACK encoder may remember a "static" slice's address. */
    grpc_slice path = grpc_slice_from_copied_string(s->path);
    s->call = grpc_channel_create_call(
        c->channel, parent, parent ? GRPC_PROPAGATE_CANCELLATION : GRPC_PROPAGATE_DEFAULTS, s->cq,
        path, NULL, deadline, NULL);
    grpc_slice_unref(path);
    if (!s->call) {
        free_stream(s);
        return rpc_set_error(err, GRPC_STATUS_INTERNAL, "cannot create a call to %s", method);
    }
    s->send_md[0].key = grpc_slice_from_static_string("x-request-id");
    s->send_md[0].value = grpc_slice_from_copied_string(request_id);
    s->n_send_md = 1;
    if (c->auth) {
        s->send_md[1].key = grpc_slice_from_static_string("authorization");
        s->send_md[1].value = grpc_slice_from_copied_string(c->auth);
        s->n_send_md = 2;
    }
    grpc_byte_buffer *bb = rpc_pack(request);
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = s->n_send_md;
    ops[0].data.send_initial_metadata.metadata = s->send_md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    int ok = run_batch(s, ops, 3);
    grpc_byte_buffer_destroy(bb);
    if (!ok) {
        int code = finish(s, err);
        free_stream(s);
        return code ? code
                    : rpc_set_error(err, GRPC_STATUS_INTERNAL, "%s: could not send the request",
                                    method);
    }
    *out = s;
    return 0;
}

/* Receives one message: 1 with *msg, 0 at the end of the stream, -1 when a
 * message came that does not parse (err filled). */
static int recv_one(struct rpc_stream *s, ProtobufCMessage **msg, rpc_error *err)
{
    *msg = NULL;
    grpc_byte_buffer *bb = NULL;
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (!s->got_initial) {
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n++].data.recv_initial_metadata.recv_initial_metadata = &s->recv_initial;
        s->got_initial = 1;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &bb;
    run_batch(s, ops, n);
    if (!bb)
        return 0;
    *msg = rpc_unpack(s->m->output, bb);
    grpc_byte_buffer_destroy(bb);
    if (!*msg) {
        grpc_call_cancel(s->call, NULL);
        rpc_set_error(err, GRPC_STATUS_INTERNAL, "%s: response is not a valid %s", s->path + 1,
                      s->m->output->name);
        return -1;
    }
    return 1;
}

int rpc_client_unary(rpc_client *c, const ProtobufCServiceDescriptor *desc, const char *method,
                     const ProtobufCMessage *request, ProtobufCMessage **response,
                     const rpc_call_opts *opts, rpc_error *err)
{
    *response = NULL;
    struct rpc_stream *s;
    int code = start(c, desc, method, request, opts, &s, err);
    if (code)
        return code;
    ProtobufCMessage *msg = NULL;
    rpc_error parse_err;
    int got = recv_one(s, &msg, &parse_err);
    code = finish(s, err);
    if (code == 0 && got < 0)
        code = rpc_set_error(err, parse_err.code, "%s", parse_err.message);
    else if (code == 0 && got == 0)
        code = rpc_set_error(err, GRPC_STATUS_INTERNAL, "%s: OK status without a response",
                             s->path + 1);
    free_stream(s);
    if (code) {
        if (msg)
            protobuf_c_message_free_unpacked(msg, NULL);
        return code;
    }
    *response = msg;
    return 0;
}

int rpc_stream_open(rpc_client *c, const ProtobufCServiceDescriptor *desc, const char *method,
                    const ProtobufCMessage *request, const rpc_call_opts *opts, rpc_stream **out,
                    rpc_error *err)
{
    return start(c, desc, method, request, opts, out, err);
}

int rpc_stream_next(rpc_stream *s, ProtobufCMessage **msg, rpc_error *err)
{
    *msg = NULL;
    if (s->finished)
        return finish(s, err) ? -1 : 0;
    int got = recv_one(s, msg, err);
    if (got != 0) {
        if (got < 0)
            finish(s, NULL);
        return got;
    }
    return finish(s, err) ? -1 : 0;
}

void rpc_stream_close(rpc_stream *s)
{
    if (!s)
        return;
    if (!s->finished) {
        grpc_call_cancel(s->call, NULL);
        finish(s, NULL);
    }
    free_stream(s);
}
