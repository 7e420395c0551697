/*
 * campsync gRPC server: serves protoc-c services over the gRPC C core.
 *
 * protoc-c generates message code and a service descriptor but no gRPC glue.
 * This module registers every method of a descriptor as
 * "/<package>.<Service>/<Method>", unpacks requests, calls your handler,
 * packs the response and sends it with the status you return. It also serves
 * grpc.health.v1.Health, checks bearer tokens, enforces message size limits,
 * and shuts down gracefully on SIGTERM.
 *
 * Example (services/marketo-connector):
 *
 *   // handlers.c
 *   static int get_program(rpc_call *call, const ProtobufCMessage *request,
 *                          ProtobufCMessage **response)
 *   {
 *       const Campsync__V1__GetProgramRequest *rq = (const void *)request;
 *       struct mkto *m = rpc_call_service_data(call);
 *       if (rq->program_id <= 0)
 *           return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
 *                                "program_id must be > 0");
 *       Campsync__V1__Program *p = rpc_call_alloc(call, sizeof *p);
 *       campsync__v1__program__init(p);
 *       p->name = rpc_call_strdup(call, "Spring webinar");  // freed with the call
 *       *response = &p->base;
 *       return GRPC_STATUS_OK;
 *   }
 *   static int stream_activities(rpc_call *call, const ProtobufCMessage *request)
 *   {
 *       while (!rpc_call_cancelled(call)) {
 *           Campsync__V1__ActivityPage page = CAMPSYNC__V1__ACTIVITY_PAGE__INIT;
 *           ... fill page ...
 *           if (rpc_call_send(call, &page.base) != 0)
 *               return GRPC_STATUS_CANCELLED;          // client gone
 *           rpc_call_wait(call, 1000);
 *       }
 *       return rpc_call_fail(call, GRPC_STATUS_UNAVAILABLE, "server shutting down");
 *   }
 *   const rpc_method mkto_methods[] = {
 *       RPC_BLOCKING("GetProgram", get_program),   // waits on Marketo: own thread
 *       RPC_STREAM("StreamActivities", stream_activities),
 *   };                                             // others answer UNIMPLEMENTED
 *
 *   // main.c
 *   rpc_server_opts o = {.listen_addr = "0.0.0.0:50051", .bearer_token = tok};
 *   rpc_server *srv;
 *   rpc_error err;
 *   if (rpc_server_create(&srv, &o, &err) != 0 ||
 *       rpc_server_add_service(srv, &campsync__v1__marketo_connector__descriptor,
 *                              mkto_methods, 2, &mkto, &err) != 0 ||
 *       rpc_server_install_signal_handlers(srv, &err) != 0 ||
 *       rpc_server_start(srv, &err) != 0)
 *       die(err.message);
 *   int rc = rpc_server_run(srv);          // returns 0 after SIGTERM + drain
 *   rpc_server_destroy(srv);
 *   return rc;
 *
 * Memory: the runtime owns and frees the request. The response is NOT freed
 * by the runtime: build it in call memory (rpc_call_alloc/rpc_call_strdup,
 * freed when the call ends), or hand heap memory over with
 * rpc_call_adopt_message / rpc_call_on_done. The response may point into the
 * request: both live until the response has been packed.
 *
 * Threads: N workers each poll their own completion queue. RPC_UNARY
 * handlers run on a worker and must be quick: no waits on the network and
 * no rpc_client calls (a call back into the same server could wait on the
 * very worker it blocks); they are the cheapest kind. RPC_BLOCKING
 * and RPC_STREAM handlers run on a handler thread of their own (reused, at
 * most max_threads at a time), so an hour-long watch or a slow vendor call
 * never holds a worker. Handlers run concurrently: protect shared state.
 *
 * Logs: the call's request id is set with log_set_request_id on the
 * handler's thread, so log_kv lines carry it without further work.
 */
#ifndef CAMPSYNC_RPC_SERVER_H
#define CAMPSYNC_RPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "rpc/rpc.h"

typedef struct rpc_server rpc_server;
/* One call being served; valid only inside the handler it was given to,
 * on that handler's thread. */
typedef struct rpc_call rpc_call;

/* Unary handler: sets *response (a message of the method's output type) and
 * returns GRPC_STATUS_OK, or returns an error code (use rpc_call_fail to
 * attach a message). Returning OK without a response answers INTERNAL. */
typedef int (*rpc_unary_fn)(rpc_call *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response);
/* Server-streaming handler: sends messages with rpc_call_send, then returns
 * the final status. */
typedef int (*rpc_stream_fn)(rpc_call *call, const ProtobufCMessage *request);

enum rpc_method_kind {
    RPC_KIND_UNARY = 0,    /* runs on a worker thread: must not block */
    RPC_KIND_BLOCKING = 1, /* unary, on a handler thread: may wait on I/O */
    RPC_KIND_STREAM = 2,   /* server stream, on a handler thread */
};

/* One row of a handler table. Methods of the descriptor without a row
 * answer UNIMPLEMENTED ("campsync.v1.X/Y is not implemented yet"). */
typedef struct rpc_method {
    const char *name; /* method name as in the .proto, e.g. "GetProgram" */
    enum rpc_method_kind kind;
    rpc_unary_fn unary;   /* RPC_KIND_UNARY and RPC_KIND_BLOCKING */
    rpc_stream_fn stream; /* RPC_KIND_STREAM */
} rpc_method;

/* Table rows: RPC_UNARY("GetProgram", get_program), ... */
// clang-format off
#define RPC_UNARY(name, fn) {(name), RPC_KIND_UNARY, (fn), NULL}
#define RPC_BLOCKING(name, fn) {(name), RPC_KIND_BLOCKING, (fn), NULL}
#define RPC_STREAM(name, fn) {(name), RPC_KIND_STREAM, NULL, (fn)}
// clang-format on

/* Server options; zero means the default given. */
typedef struct rpc_server_opts {
    const char *listen_addr;             /* "0.0.0.0:50051"; port 0 picks a free port
                                            (read it with rpc_server_port). Required. */
    int workers;                         /* worker threads, each with its own queue (4) */
    int max_threads;                     /* handler threads for RPC_BLOCKING + RPC_STREAM
                                            calls (reused; idle ones exit after 30 s);
                                            calls beyond get RESOURCE_EXHAUSTED (256) */
    size_t max_message_bytes;            /* request and response limit (4 MiB);
                                            larger -> RESOURCE_EXHAUSTED */
    int64_t max_connection_age_ms;       /* clients reconnect (re-resolve) after
                                            this (0 = never) */
    int64_t max_connection_age_grace_ms; /* calls' time to finish then (30000) */
    int64_t keepalive_time_ms;           /* ping idle connections (60000) */
    int64_t keepalive_timeout_ms;        /* drop them if no answer (20000) */
    int64_t shutdown_grace_ms;           /* in-flight calls' time to finish on
                                            shutdown before cancellation (10000) */
    /* TLS: certificate chain and key (PEM files). With client_ca_file as
     * well, clients must present a certificate signed by that CA (mTLS). */
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *tls_client_ca_file;
    /* When set, every call except health checks must carry the metadata
     * "authorization: Bearer <token>"; others get UNAUTHENTICATED. */
    const char *bearer_token;
} rpc_server_opts;

/* Creates a server (nothing listens yet). Also registers
 * grpc.health.v1.Health with entries "" (overall) and "liveness", SERVING. */
int rpc_server_create(rpc_server **out, const rpc_server_opts *opts, rpc_error *err);

/* Serves a protoc-c service: every method of desc is registered; methods
 * without a row in the table answer UNIMPLEMENTED. service_data is returned
 * by rpc_call_service_data in its handlers. Adds a SERVING health entry for
 * desc->name. Call before rpc_server_start. Fails for a table row naming a
 * method the descriptor does not have. */
int rpc_server_add_service(rpc_server *srv, const ProtobufCServiceDescriptor *desc,
                           const rpc_method *methods, size_t n_methods, void *service_data,
                           rpc_error *err);

/* Called once per finished call with the full method name
 * ("/campsync.v1.MarketoConnector/GetProgram", or "unknown" for paths the
 * server does not serve), the status code and the call's duration. Runs on
 * server threads: must be thread-safe and quick. Set before start. */
typedef void (*rpc_observer_fn)(void *user, const char *method, int code, double seconds);
void rpc_server_set_observer(rpc_server *srv, rpc_observer_fn fn, void *user);

/* Binds the port and starts the workers. */
int rpc_server_start(rpc_server *srv, rpc_error *err);

/* The bound port (after rpc_server_start). */
int rpc_server_port(const rpc_server *srv);

/* Starts the server if needed, then blocks until shutdown is requested and
 * drains: health NOT_SERVING (all entries but "liveness"), no new calls,
 * in-flight calls get shutdown_grace_ms, then the rest are cancelled.
 * Streams see rpc_call_cancelled() turn true as shutdown begins.
 * Returns 0 (nonzero only if the server could not start). */
int rpc_server_run(rpc_server *srv);

/* Asks rpc_server_run to shut down. Async-signal-safe (writes to a pipe), so
 * it may be called from a signal handler or any thread, any number of times. */
void rpc_server_request_shutdown(rpc_server *srv);

/* Installs SIGTERM and SIGINT handlers that call rpc_server_request_shutdown
 * for this server (one server per process), and ignores SIGPIPE. */
int rpc_server_install_signal_handlers(rpc_server *srv, rpc_error *err);

/* Frees the server. After rpc_server_run returned (or before start). */
void rpc_server_destroy(rpc_server *srv);

/* Health: SERVING or NOT_SERVING for a service name ("" = overall,
 * "liveness", or a full service name like "campsync.v1.MarketoConnector").
 * Creates the entry if needed; Watch streams see the change. Any thread.
 * Once shutdown began, entries other than "liveness" stay NOT_SERVING. */
typedef enum { RPC_HEALTH_SERVING = 1, RPC_HEALTH_NOT_SERVING = 2 } rpc_health_status;
void rpc_health_set(rpc_server *srv, const char *service, rpc_health_status status);

/* The entry's status, or 0 when there is none. Any thread. */
int rpc_health_get(rpc_server *srv, const char *service);

/* ---- Inside a handler ---- */

/* The service_data given to rpc_server_add_service. */
void *rpc_call_service_data(const rpc_call *call);

/* "/campsync.v1.MarketoConnector/GetProgram" */
const char *rpc_call_method(const rpc_call *call);

/* First value of a request metadata key (lower case, e.g. "authorization"),
 * NUL-terminated, owned by the call; NULL when absent. */
const char *rpc_call_metadata(rpc_call *call, const char *key);

/* The caller's x-request-id, or one minted for this call. Also set as the
 * log request id (log_set_request_id) on the handler's thread, and sent on
 * by client calls made with this call as parent. */
const char *rpc_call_request_id(const rpc_call *call);

/* The client's address, e.g. "ipv4:127.0.0.1:53412"; owned by the call. */
const char *rpc_call_peer(rpc_call *call);

/* Milliseconds left before the caller's deadline (<= 0 when passed);
 * INT64_MAX when the caller set none. */
int64_t rpc_call_remaining_ms(const rpc_call *call);

/* True when the handler should stop: deadline passed, the client cancelled
 * (RPC_BLOCKING and RPC_STREAM calls), the server gave up waiting on
 * shutdown, or, for streams, the server started shutting down. */
int rpc_call_cancelled(rpc_call *call);

/* Waits up to ms milliseconds; returns early with 1 when the call is
 * cancelled (as rpc_call_cancelled), else 0. For RPC_STREAM/RPC_BLOCKING. */
int rpc_call_wait(rpc_call *call, int64_t ms);

/* Sends one message of a server stream (the method's output type); msg
 * may be reused as soon as this returns. Waits while gRPC still holds the
 * previous message (flow control), so a slow reader slows the handler down.
 * Returns 0, or -1 when the client is gone, the call was cancelled or the
 * message is too large: stop and return. */
int rpc_call_send(rpc_call *call, const ProtobufCMessage *msg);

/* Sets the status message for an error return and returns code, so
 * handlers can write `return rpc_call_fail(call, CODE, "...", ...);`. */
int rpc_call_fail(rpc_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Zeroed memory freed when the call ends (after the response was sent);
 * aborts on out-of-memory like the protobuf-c default allocator would fail. */
void *rpc_call_alloc(rpc_call *call, size_t size);
char *rpc_call_strdup(rpc_call *call, const char *s);

/* Runs fn(arg) when the call ends, after the response was packed (in
 * reverse order of registration). */
void rpc_call_on_done(rpc_call *call, void (*fn)(void *arg), void *arg);

/* Frees msg with protobuf_c_message_free_unpacked when the call ends: for
 * responses that came unpacked from another service. */
void rpc_call_adopt_message(rpc_call *call, ProtobufCMessage *msg);

#endif
