/*
 * Benchmark of common/rpc against a bare gRPC C-core server written here,
 * both serving campsync.v1.MarketoConnector (GetProgram unary,
 * StreamProgramMembers server stream) on 127.0.0.1, each in a child process
 * of its own (this binary run with --serve) so its CPU can be measured.
 *
 * One load generator (async C-core calls on one completion queue) keeps 1,
 * 16 or 64 unary calls in flight for a fixed time and records every latency;
 * then one stream of small pages measures messages/s. Both servers use the
 * same worker count. Server CPU per call is printed too: on a shared 2-core
 * box the load generator competes with the server, so calls/s alone
 * misleads.
 *
 * Usage: bench_rpc [seconds per run (default 1.5)]; about 45 s in all.
 * Prints figures, not a test.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "campsync/v1/marketo.pb-c.h"
#include "log/log.h"
#include "rpc/rpc_internal.h"
#include "rpc/rpc_server.h"

#define WORKERS 2
#define GET_PROGRAM "/campsync.v1.MarketoConnector/GetProgram"
#define STREAM_MEMBERS "/campsync.v1.MarketoConnector/StreamProgramMembers"

static double run_seconds = 1.5;
#define ROUNDS 3

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* CPU seconds a server process has used (user + system). */
static double cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return 0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void fill_program(Campsync__V1__Program *p, int64_t id, char *name, size_t name_len)
{
    campsync__v1__program__init(p);
    p->id = id;
    snprintf(name, name_len, "program %lld", (long long)id);
    p->name = name;
    p->type = "Webinar";
    p->channel = "Webinar";
    p->status = "on";
}

/* ---- the campsync runtime server ---- */

static int rt_get_program(rpc_call *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response)
{
    const Campsync__V1__GetProgramRequest *rq = (const void *)request;
    Campsync__V1__Program *p = rpc_call_alloc(call, sizeof *p);
    char *name = rpc_call_alloc(call, 32);
    fill_program(p, rq->program_id, name, 32);
    *response = &p->base;
    return GRPC_STATUS_OK;
}

static int rt_stream_members(rpc_call *call, const ProtobufCMessage *request)
{
    const Campsync__V1__StreamProgramMembersRequest *rq = (const void *)request;
    Campsync__V1__ProgramMember m = CAMPSYNC__V1__PROGRAM_MEMBER__INIT;
    Campsync__V1__ProgramMember *mp = &m;
    Campsync__V1__ProgramMemberPage page = CAMPSYNC__V1__PROGRAM_MEMBER_PAGE__INIT;
    m.status_name = "Registered";
    page.members = &mp;
    page.n_members = 1;
    for (int64_t i = 0; i < rq->program_id; i++) {
        m.lead_id = i;
        if (rpc_call_send(call, &page.base) != 0)
            return GRPC_STATUS_CANCELLED;
    }
    return GRPC_STATUS_OK;
}

struct rt {
    rpc_server *srv;
    pthread_t th;
};

static void *rt_run(void *arg)
{
    rpc_server_run(((struct rt *)arg)->srv);
    return NULL;
}

static int rt_start(struct rt *r, int blocking)
{
    const rpc_method methods[] = {
        blocking ? (rpc_method)RPC_BLOCKING("GetProgram", rt_get_program)
                 : (rpc_method)RPC_UNARY("GetProgram", rt_get_program),
        RPC_STREAM("StreamProgramMembers", rt_stream_members),
    };
    rpc_server_opts o = {.listen_addr = "127.0.0.1:0", .workers = WORKERS};
    rpc_error err;
    if (rpc_server_create(&r->srv, &o, &err) != 0 ||
        rpc_server_add_service(r->srv, &campsync__v1__marketo_connector__descriptor, methods, 2,
                               NULL, &err) != 0 ||
        rpc_server_start(r->srv, &err) != 0) {
        fprintf(stderr, "runtime server: %s\n", err.message);
        exit(1);
    }
    pthread_create(&r->th, NULL, rt_run, r);
    return rpc_server_port(r->srv);
}

static void rt_stop(struct rt *r)
{
    rpc_server_request_shutdown(r->srv);
    pthread_join(r->th, NULL);
    rpc_server_destroy(r->srv);
}

/* ---- the bare C-core server: the usual hand-written pattern ---- */

enum bare_kind { BARE_UNARY_REQ, BARE_STREAM_REQ, BARE_UNARY_DONE, BARE_STREAM_STEP, BARE_STOP };

struct bare_tag {
    enum bare_kind kind;
};

struct bare_req {
    struct bare_tag tag;
    int stream;
    struct bare_worker *w;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
};

struct bare_unary {
    struct bare_tag tag;
    grpc_call *call;
    grpc_byte_buffer *resp;
    int cancelled;
};

struct bare_stream {
    struct bare_tag tag;
    grpc_call *call;
    int64_t left, sent;
    int cancelled, done;
    grpc_byte_buffer *msg;
};

struct bare_worker {
    struct bare *b;
    grpc_completion_queue *cq;
    pthread_t th;
};

struct bare {
    grpc_server *server;
    void *m_unary, *m_stream;
    struct bare_worker w[WORKERS];
    atomic_int stopping;
    atomic_long live;
    struct bare_tag shutdown_tag;
    atomic_int shutdown_done;
};

static void bare_arm(struct bare_req *r)
{
    struct bare *b = r->w->b;
    grpc_server_request_registered_call(b->server, r->stream ? b->m_stream : b->m_unary, &r->call,
                                        &r->deadline, &r->md, &r->payload, r->w->cq, r->w->cq,
                                        &r->tag);
}

static void bare_stream_step(struct bare_stream *s)
{
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (s->msg) {
        grpc_byte_buffer_destroy(s->msg);
        s->msg = NULL;
    }
    if (s->left > 0) {
        if (s->sent == 0)
            ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        Campsync__V1__ProgramMember m = CAMPSYNC__V1__PROGRAM_MEMBER__INIT;
        Campsync__V1__ProgramMember *mp = &m;
        Campsync__V1__ProgramMemberPage page = CAMPSYNC__V1__PROGRAM_MEMBER_PAGE__INIT;
        m.status_name = "Registered";
        m.lead_id = s->sent;
        page.members = &mp;
        page.n_members = 1;
        s->msg = rpc_pack(&page.base);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = s->msg;
        s->left--;
        s->sent++;
    } else {
        if (s->sent == 0)
            ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        static grpc_slice empty;
        empty = grpc_empty_slice();
        ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        ops[n].data.send_status_from_server.status = GRPC_STATUS_OK;
        ops[n++].data.send_status_from_server.status_details = &empty;
        ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        ops[n++].data.recv_close_on_server.cancelled = &s->cancelled;
        s->done = 1;
    }
    grpc_call_start_batch(s->call, ops, n, &s->tag, NULL);
}

static void bare_on_request(struct bare_req *r, int ok)
{
    struct bare *b = r->w->b;
    if (!ok) {
        grpc_metadata_array_destroy(&r->md);
        free(r);
        return;
    }
    atomic_fetch_add(&b->live, 1);
    grpc_call *call = r->call;
    grpc_byte_buffer *payload = r->payload;
    r->call = NULL;
    r->payload = NULL;
    grpc_metadata_array_destroy(&r->md);
    grpc_metadata_array_init(&r->md);
    int stream = r->stream;
    if (atomic_load(&b->stopping)) {
        grpc_metadata_array_destroy(&r->md);
        free(r);
    } else {
        bare_arm(r);
    }
    if (stream) {
        Campsync__V1__StreamProgramMembersRequest *rq =
            (void *)rpc_unpack(&campsync__v1__stream_program_members_request__descriptor, payload);
        struct bare_stream *s = calloc(1, sizeof *s);
        s->tag.kind = BARE_STREAM_STEP;
        s->call = call;
        s->left = rq ? rq->program_id : 0;
        if (rq)
            protobuf_c_message_free_unpacked(&rq->base, NULL);
        grpc_byte_buffer_destroy(payload);
        bare_stream_step(s);
        return;
    }
    Campsync__V1__GetProgramRequest *rq =
        (void *)rpc_unpack(&campsync__v1__get_program_request__descriptor, payload);
    grpc_byte_buffer_destroy(payload);
    struct bare_unary *u = calloc(1, sizeof *u);
    u->tag.kind = BARE_UNARY_DONE;
    u->call = call;
    Campsync__V1__Program p;
    char name[32];
    fill_program(&p, rq ? rq->program_id : 0, name, sizeof name);
    if (rq)
        protobuf_c_message_free_unpacked(&rq->base, NULL);
    u->resp = rpc_pack(&p.base);
    grpc_slice empty = grpc_empty_slice();
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = u->resp;
    ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
    ops[2].data.send_status_from_server.status_details = &empty;
    ops[3].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[3].data.recv_close_on_server.cancelled = &u->cancelled;
    grpc_call_start_batch(call, ops, 4, &u->tag, NULL);
}

static void *bare_worker_main(void *arg)
{
    struct bare_worker *w = arg;
    struct bare *b = w->b;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(w->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;
        struct bare_tag *t = ev.tag;
        switch (t->kind) {
        case BARE_UNARY_REQ:
        case BARE_STREAM_REQ:
            bare_on_request((struct bare_req *)t, ev.success);
            break;
        case BARE_UNARY_DONE: {
            struct bare_unary *u = (void *)t;
            grpc_byte_buffer_destroy(u->resp);
            grpc_call_unref(u->call);
            free(u);
            atomic_fetch_sub(&b->live, 1);
            break;
        }
        case BARE_STREAM_STEP: {
            struct bare_stream *s = (void *)t;
            if (s->done || !ev.success) {
                if (!s->done) {
                    s->left = 0; /* client gone: finish with a status */
                    bare_stream_step(s);
                    break;
                }
                if (s->msg)
                    grpc_byte_buffer_destroy(s->msg);
                grpc_call_unref(s->call);
                free(s);
                atomic_fetch_sub(&b->live, 1);
            } else {
                bare_stream_step(s);
            }
            break;
        }
        case BARE_STOP:
            atomic_store(&b->shutdown_done, 1);
            break;
        }
    }
}

static int bare_start(struct bare *b)
{
    memset(b, 0, sizeof *b);
    b->server = grpc_server_create(NULL, NULL);
    b->m_unary = grpc_server_register_method(b->server, GET_PROGRAM, NULL,
                                             GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    b->m_stream = grpc_server_register_method(b->server, STREAM_MEMBERS, NULL,
                                              GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    for (int i = 0; i < WORKERS; i++) {
        b->w[i].b = b;
        b->w[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(b->server, b->w[i].cq, NULL);
    }
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(b->server, "127.0.0.1:0", creds);
    grpc_server_credentials_release(creds);
    grpc_server_start(b->server);
    for (int i = 0; i < WORKERS; i++) {
        for (int k = 0; k < 4; k++) {
            struct bare_req *r = calloc(1, sizeof *r);
            r->tag.kind = k < 3 ? BARE_UNARY_REQ : BARE_STREAM_REQ;
            r->stream = k == 3;
            r->w = &b->w[i];
            grpc_metadata_array_init(&r->md);
            bare_arm(r);
        }
        pthread_create(&b->w[i].th, NULL, bare_worker_main, &b->w[i]);
    }
    b->shutdown_tag.kind = BARE_STOP;
    return port;
}

static void bare_stop(struct bare *b)
{
    atomic_store(&b->stopping, 1);
    grpc_server_shutdown_and_notify(b->server, b->w[0].cq, &b->shutdown_tag);
    while (!atomic_load(&b->shutdown_done) || atomic_load(&b->live) > 0) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    grpc_server_destroy(b->server);
    for (int i = 0; i < WORKERS; i++)
        grpc_completion_queue_shutdown(b->w[i].cq);
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(b->w[i].th, NULL);
        grpc_completion_queue_destroy(b->w[i].cq);
    }
}

/* ---- the load generator ---- */

struct slot {
    grpc_call *call;
    grpc_byte_buffer *req, *resp;
    grpc_metadata_array initial, trailing;
    grpc_status_code status;
    grpc_slice details;
    int64_t t0;
};

struct result {
    double calls_per_s, p50_us, p99_us, cpu_us_per_call;
    long calls, errors;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static grpc_channel *open_channel(int port)
{
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, NULL);
    grpc_channel_credentials_release(creds);
    return ch;
}

static void start_unary(grpc_channel *ch, grpc_completion_queue *cq, struct slot *s,
                        grpc_slice path, grpc_byte_buffer *req)
{
    s->t0 = now_ns();
    s->call = grpc_channel_create_call(
        ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path, NULL,
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(10, GPR_TIMESPAN)), NULL);
    grpc_metadata_array_init(&s->initial);
    grpc_metadata_array_init(&s->trailing);
    s->resp = NULL;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &s->trailing;
    ops[5].data.recv_status_on_client.status = &s->status;
    ops[5].data.recv_status_on_client.status_details = &s->details;
    grpc_call_start_batch(s->call, ops, 6, s, NULL);
}

static struct result load_unary(pid_t server, int port, int inflight)
{
    grpc_channel *ch = open_channel(port);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    grpc_slice path = grpc_slice_from_static_string(GET_PROGRAM);
    Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    rq.program_id = 1001;
    grpc_byte_buffer *req = rpc_pack(&rq.base);
    size_t cap = 4 << 20, n = 0;
    int64_t *lat = malloc(cap * sizeof *lat);
    struct slot *slots = calloc((size_t)inflight, sizeof *slots);
    struct result r = {0};

    /* Warm up the connection. */
    start_unary(ch, cq, &slots[0], path, req);
    grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_call_unref(slots[0].call);
    if (slots[0].resp)
        grpc_byte_buffer_destroy(slots[0].resp);
    grpc_slice_unref(slots[0].details);
    grpc_metadata_array_destroy(&slots[0].initial);
    grpc_metadata_array_destroy(&slots[0].trailing);

    double cpu0 = cpu_seconds(server);
    int64_t start = now_ns(), end = start + (int64_t)(run_seconds * 1e9);
    for (int i = 0; i < inflight; i++)
        start_unary(ch, cq, &slots[i], path, req);
    int live = inflight;
    while (live > 0) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        struct slot *s = ev.tag;
        int64_t t = now_ns();
        if (ev.success && s->status == GRPC_STATUS_OK && s->resp) {
            if (n < cap)
                lat[n++] = t - s->t0;
            r.calls++;
        } else {
            r.errors++;
        }
        grpc_call_unref(s->call);
        if (s->resp)
            grpc_byte_buffer_destroy(s->resp);
        grpc_slice_unref(s->details);
        grpc_metadata_array_destroy(&s->initial);
        grpc_metadata_array_destroy(&s->trailing);
        if (t < end)
            start_unary(ch, cq, s, path, req);
        else
            live--;
    }
    double secs = (double)(now_ns() - start) / 1e9;
    r.cpu_us_per_call = (cpu_seconds(server) - cpu0) * 1e6 / (double)(r.calls ? r.calls : 1);
    r.calls_per_s = (double)r.calls / secs;
    qsort(lat, n, sizeof *lat, cmp_i64);
    if (n) {
        r.p50_us = (double)lat[n / 2] / 1e3;
        r.p99_us = (double)lat[(size_t)((double)n * 0.99)] / 1e3;
    }
    free(lat);
    free(slots);
    grpc_byte_buffer_destroy(req);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    grpc_channel_destroy(ch);
    return r;
}

/* One stream of `count` pages; returns messages/s. */
static double load_stream(pid_t server, int port, int64_t count, double *cpu_us_per_msg)
{
    grpc_channel *ch = open_channel(port);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    Campsync__V1__StreamProgramMembersRequest rq =
        CAMPSYNC__V1__STREAM_PROGRAM_MEMBERS_REQUEST__INIT;
    rq.program_id = count;
    grpc_byte_buffer *req = rpc_pack(&rq.base);
    double cpu0 = cpu_seconds(server);
    int64_t t0 = now_ns();
    grpc_call *call = grpc_channel_create_call(
        ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, grpc_slice_from_static_string(STREAM_MEMBERS), NULL,
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(60, GPR_TIMESPAN)), NULL);
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    grpc_call_start_batch(call, ops, 4, (void *)1, NULL);
    grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    int64_t got = 0;
    for (;;) {
        grpc_byte_buffer *bb = NULL;
        grpc_op op;
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &bb;
        grpc_call_start_batch(call, &op, 1, (void *)2, NULL);
        grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (!bb)
            break;
        grpc_byte_buffer_destroy(bb);
        got++;
    }
    grpc_status_code status;
    grpc_slice details;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.trailing_metadata = &trailing;
    op.data.recv_status_on_client.status = &status;
    op.data.recv_status_on_client.status_details = &details;
    grpc_call_start_batch(call, &op, 1, (void *)3, NULL);
    grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    double secs = (double)(now_ns() - t0) / 1e9;
    *cpu_us_per_msg = (cpu_seconds(server) - cpu0) * 1e6 / (double)(got ? got : 1);
    if (status != GRPC_STATUS_OK || got != count)
        fprintf(stderr, "stream: status %d, %lld of %lld messages\n", status, (long long)got,
                (long long)count);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    grpc_byte_buffer_destroy(req);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    grpc_channel_destroy(ch);
    return (double)got / secs;
}

static void print_row(const char *server, int inflight, const struct result *r)
{
    printf("%-22s %5d %10.0f %8.0f %8.0f %12.1f %6ld\n", server, inflight, r->calls_per_s,
           r->p50_us, r->p99_us, r->cpu_us_per_call, r->errors);
}

static void keep_best(struct result *best, const struct result *r)
{
    if (r->calls_per_s > best->calls_per_s)
        *best = *r;
}

/* ---- server processes ---- */

struct child {
    pid_t pid;
    int port;
    int stdin_fd; /* closing it stops the server */
};

/* Runs `bench_rpc --serve KIND` and reads its port. Before grpc_init, so
 * nothing but exec follows the fork. */
static struct child spawn_server(const char *kind)
{
    int in[2], out[2];
    struct child c = {0};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        perror("pipe");
        exit(1);
    }
    c.pid = fork();
    if (c.pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl("/proc/self/exe", "bench_rpc", "--serve", kind, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c.stdin_fd = in[1];
    FILE *f = fdopen(out[0], "r");
    if (!f || fscanf(f, "%d", &c.port) != 1 || c.port <= 0) {
        fprintf(stderr, "bench server %s did not start\n", kind);
        exit(1);
    }
    fclose(f);
    return c;
}

static void stop_server(struct child *c)
{
    close(c->stdin_fd);
    waitpid(c->pid, NULL, 0);
}

/* `--serve bare|rpc|rpc-blocking`: serves until stdin closes. */
static int serve_main(const char *kind)
{
    grpc_init();
    struct bare b;
    struct rt r;
    int port = strcmp(kind, "bare") == 0 ? bare_start(&b) : rt_start(&r, strcmp(kind, "rpc") != 0);
    printf("%d\n", port);
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0)
        ;
    if (strcmp(kind, "bare") == 0)
        bare_stop(&b);
    else
        rt_stop(&r);
    grpc_shutdown();
    return 0;
}

int main(int argc, char **argv)
{
    log_init("bench-rpc", LOG_WARN);
    if (argc > 2 && strcmp(argv[1], "--serve") == 0)
        return serve_main(argv[2]);
    if (argc > 1)
        run_seconds = atof(argv[1]) > 0 ? atof(argv[1]) : 1.5;
    static const int inflights[] = {1, 16, 64};
    struct result bare_r[3] = {0}, rt_r[3] = {0};
    double bare_s = 0, rt_s = 0, bare_cpu = 0, rt_cpu = 0;
    int64_t msgs = 200000;

    struct child b = spawn_server("bare");
    struct child rt = spawn_server("rpc");
    struct child rtb = spawn_server("rpc-blocking");
    grpc_init();
    /* Alternating rounds, best of each: the box is shared, and a
     * neighbour's burst should not decide the comparison. */
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < 3; i++) {
            struct result r = load_unary(b.pid, b.port, inflights[i]);
            keep_best(&bare_r[i], &r);
            r = load_unary(rt.pid, rt.port, inflights[i]);
            keep_best(&rt_r[i], &r);
        }
        double cpu, s = load_stream(b.pid, b.port, msgs, &cpu);
        if (s > bare_s) {
            bare_s = s;
            bare_cpu = cpu;
        }
        s = load_stream(rt.pid, rt.port, msgs, &cpu);
        if (s > rt_s) {
            rt_s = s;
            rt_cpu = cpu;
        }
    }
    struct result blk = load_unary(rtb.pid, rtb.port, 16);
    grpc_shutdown();
    stop_server(&b);
    stop_server(&rt);
    stop_server(&rtb);

    printf("unary GetProgram, servers in their own processes with %d workers,\n"
           "best of %d runs of %.1f s; cpu = server process CPU per call\n",
           WORKERS, ROUNDS, run_seconds);
    printf("%-22s %5s %10s %8s %8s %12s %6s\n", "server", "inflt", "calls/s", "p50 us", "p99 us",
           "cpu us/call", "errors");
    for (int i = 0; i < 3; i++) {
        print_row("bare C core", inflights[i], &bare_r[i]);
        print_row("campsync rpc", inflights[i], &rt_r[i]);
    }
    print_row("campsync RPC_BLOCKING", 16, &blk);
    printf("\nstreamed ProgramMemberPage, one stream of %lld\n", (long long)msgs);
    printf("%-22s %10.0f msgs/s %6.2f server cpu us/msg\n", "bare C core", bare_s, bare_cpu);
    printf("%-22s %10.0f msgs/s %6.2f server cpu us/msg\n", "campsync rpc", rt_s, rt_cpu);

    printf("\nruntime / bare (target >= 90%% of calls/s):\n");
    for (int i = 0; i < 3; i++)
        printf("  unary %2d in flight: %5.1f%% calls/s, %5.1f%% server cpu per call\n",
               inflights[i], 100.0 * rt_r[i].calls_per_s / bare_r[i].calls_per_s,
               100.0 * rt_r[i].cpu_us_per_call / bare_r[i].cpu_us_per_call);
    printf("  stream:             %5.1f%% msgs/s\n", 100.0 * rt_s / bare_s);
    return 0;
}
