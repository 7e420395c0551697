/*
 * campsync gRPC client: typed calls to campsync services over the C core.
 *
 * One channel per target (and option set) is created on first use and
 * reused by every thread. Every call has a deadline; calls made while
 * serving a request pass its parent call and so inherit the earlier of the
 * parent's deadline and their own timeout, its x-request-id, and its
 * cancellation. UNAVAILABLE is retried by gRPC (service config retryPolicy)
 * only for methods listed as idempotent.
 *
 * Example (reconciler calling the Marketo connector from a handler):
 *
 *   static const char *const mkto_idem[] = {"campsync.v1.MarketoConnector/GetProgram",
 *                                            NULL};
 *   rpc_client_opts co = {.idempotent = mkto_idem, .bearer_token = tok};
 *   rpc_client *mk = rpc_client_get("dns:///marketo:50051", &co, &err);
 *
 *   Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
 *   rq.program_id = 1001;
 *   ProtobufCMessage *out = NULL;
 *   rpc_call_opts o = {.parent = call, .timeout_ms = 2000};
 *   if (rpc_client_unary(mk, &campsync__v1__marketo_connector__descriptor,
 *                        "GetProgram", &rq.base, &out, &o, &err) != 0)
 *       return rpc_call_fail(call, err.code, "marketo: %s", err.message);
 *   Campsync__V1__Program *p = (void *)out;
 *   ...
 *   protobuf_c_message_free_unpacked(out, NULL);      // the caller owns it
 */
#ifndef CAMPSYNC_RPC_CLIENT_H
#define CAMPSYNC_RPC_CLIENT_H

#include <stdint.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "rpc/rpc.h"

struct rpc_call;

typedef struct rpc_client rpc_client;
typedef struct rpc_stream rpc_stream;

/* Channel options; zero means the default given. */
typedef struct rpc_client_opts {
    int64_t default_timeout_ms; /* deadline of calls that give none (10000) */
    size_t max_message_bytes;   /* send and receive limit (4 MiB) */
    /* Full method names ("campsync.v1.X/Method") or service names
     * ("campsync.v1.X", every method) whose calls may be retried on
     * UNAVAILABLE; NULL-terminated. */
    const char *const *idempotent;
    int retry_max_attempts; /* attempts including the first (4, at most 5) */
    /* TLS: CA bundle that signed the server (PEM). Adding cert_file and
     * key_file presents a client certificate (mTLS). */
    const char *tls_ca_file;
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *bearer_token; /* sent as "authorization: Bearer <token>" */
} rpc_client_opts;

/* The shared client for target ("127.0.0.1:50051", "dns:///svc:50051";
 * dns:/// targets balance round_robin over all addresses). Cached: the same
 * target and options return the same client. Thread-safe. NULL with err
 * filled when TLS files cannot be read. Owned by the cache. */
rpc_client *rpc_client_get(const char *target, const rpc_client_opts *opts, rpc_error *err);

/* Closes every cached channel. Only at exit, when no call is running. */
void rpc_client_cleanup(void);

/* Per-call options; all optional (pass NULL for none). */
typedef struct rpc_call_opts {
    struct rpc_call *parent; /* the server call being served, if any */
    int64_t timeout_ms;      /* 0 = the client's default_timeout_ms; it bounds a
                                whole stream too, so give watches a long one */
    const char *request_id;  /* x-request-id when there is no parent; else the
                                thread's log request id, else a new one */
} rpc_call_opts;

/* Unary call of method (e.g. "GetProgram") of service desc. request must be
 * of the method's input type. On success *response is a new message of the
 * output type that the caller frees with protobuf_c_message_free_unpacked
 * (NULL allocator). Returns 0, or the grpc status code with err filled. */
int rpc_client_unary(rpc_client *c, const ProtobufCServiceDescriptor *desc, const char *method,
                     const ProtobufCMessage *request, ProtobufCMessage **response,
                     const rpc_call_opts *opts, rpc_error *err);

/* Opens a server stream. Returns 0 with *out set (close it with
 * rpc_stream_close), or the status code with err filled. */
int rpc_stream_open(rpc_client *c, const ProtobufCServiceDescriptor *desc, const char *method,
                    const ProtobufCMessage *request, const rpc_call_opts *opts, rpc_stream **out,
                    rpc_error *err);

/* Reads the next message: returns 1 with *msg set (caller frees it with
 * protobuf_c_message_free_unpacked), 0 at the end of a stream that finished
 * OK, or -1 with err filled (the server's status, e.g. DEADLINE_EXCEEDED). */
int rpc_stream_next(rpc_stream *s, ProtobufCMessage **msg, rpc_error *err);

/* Cancels the stream if it has not ended and frees it. */
void rpc_stream_close(rpc_stream *s);

#endif
