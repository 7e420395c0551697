/*
 * Integration tests of common/rpc against real servers on 127.0.0.1 (port 0):
 * campsync.v1.MarketoConnector served by a few test handlers, called through
 * rpc_client and through raw C-core calls where the client API cannot make
 * the request (unknown paths, bytes that are not a message).
 *
 * The same binary is also a test server: `it_test_rpc --serve [--token T]
 * [--grace MS]`
 * prints its port on stdout and serves until SIGTERM. The SIGTERM test and
 * the python3-grpcio interop test (rpc_interop.py) run it as a child.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "campsync/v1/marketo.pb-c.h"
#include "campsync/v1/salesforce.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "log/log.h"
#include "rpc/rpc_client.h"
#include "rpc/rpc_server.h"

#define MKTO (&campsync__v1__marketo_connector__descriptor)
#define HEALTH (&grpc__health__v1__health__descriptor)

/* ---- what the handlers saw ---- */

static atomic_int saw_unary_cancel;  /* a blocking unary noticed cancellation */
static atomic_int saw_stream_cancel; /* an endless stream noticed it */
static atomic_int flaky_calls;       /* ListPrograms(3) attempts */
static atomic_int in_slow_handler;   /* a ListPrograms(<0) is running */
static char self_target[64];         /* the server the proxy handler calls */

static atomic_int observed;
static atomic_int observed_unimplemented;
static atomic_int observed_not_found; /* GetProgram answered NOT_FOUND */

static void observer(void *user, const char *method, int code, double seconds)
{
    (void)user;
    assert_true(seconds >= 0);
    atomic_fetch_add(&observed, 1);
    if (code == GRPC_STATUS_UNIMPLEMENTED && strcmp(method, "unknown") == 0)
        atomic_fetch_add(&observed_unimplemented, 1);
    if (code == GRPC_STATUS_NOT_FOUND &&
        strcmp(method, "/campsync.v1.MarketoConnector/GetProgram") == 0)
        atomic_fetch_add(&observed_not_found, 1);
}

/* GetProgram: echoes the id, the request id (sfdc_id), the deadline left
 * (created_at_ms) and whether authorization came (sfdc_name). 404 ->
 * NOT_FOUND. */
static int get_program(rpc_call *call, const ProtobufCMessage *request, ProtobufCMessage **response)
{
    const Campsync__V1__GetProgramRequest *rq = (const void *)request;
    if (rq->program_id == 404)
        return rpc_call_fail(call, GRPC_STATUS_NOT_FOUND, "program %lld not found",
                             (long long)rq->program_id);
    Campsync__V1__Program *p = rpc_call_alloc(call, sizeof *p);
    campsync__v1__program__init(p);
    p->id = rq->program_id;
    char name[64];
    snprintf(name, sizeof name, "program %lld", (long long)rq->program_id);
    p->name = rpc_call_strdup(call, name);
    p->sfdc_id = rpc_call_strdup(call, rpc_call_request_id(call));
    const char *auth = rpc_call_metadata(call, "authorization");
    p->sfdc_name = (char *)(auth ? auth : "");
    p->created_at_ms = rpc_call_remaining_ms(call);
    p->type = (char *)rpc_call_peer(call);
    assert_string_equal(log_request_id(), rpc_call_request_id(call));
    *response = &p->base;
    return GRPC_STATUS_OK;
}

/* ListPrograms, by updated_since_ms:
 *   0  three programs
 *  <0  works -N ms, watching for cancellation
 *   1  asks this server's GetProgram(77) with this call as parent
 *   2  a response over the server's 1 MiB limit
 *   3  UNAVAILABLE on the first attempt, then one program
 *   4  as many programs as ListPrograms(<0) calls are running */
static int list_programs(rpc_call *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response)
{
    const Campsync__V1__ListProgramsRequest *rq = (const void *)request;
    Campsync__V1__ListProgramsResponse *r = rpc_call_alloc(call, sizeof *r);
    campsync__v1__list_programs_response__init(r);
    *response = &r->base;
    if (rq->updated_since_ms < 0) {
        atomic_fetch_add(&in_slow_handler, 1);
        int stopped = rpc_call_wait(call, -rq->updated_since_ms);
        atomic_fetch_sub(&in_slow_handler, 1);
        if (stopped) {
            atomic_store(&saw_unary_cancel, 1);
            return rpc_call_fail(call, GRPC_STATUS_CANCELLED, "stopped early");
        }
        return GRPC_STATUS_OK;
    }
    size_t n = 3;
    if (rq->updated_since_ms == 3 && atomic_fetch_add(&flaky_calls, 1) == 0)
        return rpc_call_fail(call, GRPC_STATUS_UNAVAILABLE, "try again");
    if (rq->updated_since_ms == 3)
        n = 1;
    if (rq->updated_since_ms == 4)
        n = (size_t)atomic_load(&in_slow_handler);
    if (rq->updated_since_ms == 2)
        n = 2000;
    r->programs = rpc_call_alloc(call, n * sizeof *r->programs);
    char *big = NULL;
    if (rq->updated_since_ms == 2) {
        big = rpc_call_alloc(call, 1000);
        memset(big, 'x', 999);
    }
    if (rq->updated_since_ms == 1) {
        rpc_error err;
        rpc_client *self = rpc_client_get(self_target, NULL, &err);
        assert_non_null(self);
        Campsync__V1__GetProgramRequest g = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
        g.program_id = 77;
        ProtobufCMessage *out = NULL;
        rpc_call_opts o = {.parent = call, .timeout_ms = 60000};
        if (rpc_client_unary(self, MKTO, "GetProgram", &g.base, &out, &o, &err) != 0)
            return rpc_call_fail(call, err.code, "inner call: %s", err.message);
        rpc_call_adopt_message(call, out);
        r->programs[0] = (Campsync__V1__Program *)out;
        r->n_programs = 1;
        return GRPC_STATUS_OK;
    }
    for (size_t i = 0; i < n; i++) {
        Campsync__V1__Program *p = rpc_call_alloc(call, sizeof *p);
        campsync__v1__program__init(p);
        p->id = (int64_t)i + 1;
        if (big)
            p->name = big;
        r->programs[i] = p;
    }
    r->n_programs = n;
    return GRPC_STATUS_OK;
}

/* GetLeads: answers how many emails came (to show a big request passed). */
static int get_leads(rpc_call *call, const ProtobufCMessage *request, ProtobufCMessage **response)
{
    const Campsync__V1__GetLeadsRequest *rq = (const void *)request;
    Campsync__V1__GetLeadsResponse *r = rpc_call_alloc(call, sizeof *r);
    campsync__v1__get_leads_response__init(r);
    r->n_leads = rq->n_emails > 0;
    r->leads = rpc_call_alloc(call, sizeof *r->leads);
    *response = &r->base;
    if (r->n_leads) {
        r->leads[0] = rpc_call_alloc(call, sizeof *r->leads[0]);
        campsync__v1__lead__init(r->leads[0]);
        r->leads[0]->id = (int64_t)rq->n_emails;
    }
    return GRPC_STATUS_OK;
}

/* StreamProgramMembers: program_id pages (page i has i+1 members), or with
 * updated_to_ms == -1 pages every 20 ms until cancelled. */
static int stream_members(rpc_call *call, const ProtobufCMessage *request)
{
    const Campsync__V1__StreamProgramMembersRequest *rq = (const void *)request;
    int endless = rq->updated_to_ms == -1;
    for (int64_t i = 0; endless || i < rq->program_id; i++) {
        Campsync__V1__ProgramMember m[8];
        Campsync__V1__ProgramMember *mp[8];
        Campsync__V1__ProgramMemberPage page = CAMPSYNC__V1__PROGRAM_MEMBER_PAGE__INIT;
        page.n_members = (size_t)(i % 8) + 1;
        for (size_t k = 0; k < page.n_members; k++) {
            campsync__v1__program_member__init(&m[k]);
            m[k].lead_id = i * 100 + (int64_t)k;
            m[k].status_name = "Registered";
            mp[k] = &m[k];
        }
        page.members = mp;
        if (rpc_call_send(call, &page.base) != 0) {
            if (endless)
                atomic_store(&saw_stream_cancel, 1);
            return rpc_call_fail(call, GRPC_STATUS_CANCELLED, "client went away");
        }
        if (endless && rpc_call_wait(call, 20)) {
            atomic_store(&saw_stream_cancel, 1);
            return rpc_call_fail(call, GRPC_STATUS_UNAVAILABLE, "stream ended");
        }
    }
    return GRPC_STATUS_OK;
}

static const rpc_method mkto_methods[] = {
    RPC_UNARY("GetProgram", get_program),
    RPC_BLOCKING("ListPrograms", list_programs),
    RPC_UNARY("GetLeads", get_leads),
    RPC_STREAM("StreamProgramMembers", stream_members),
};

/* ---- a server in a thread ---- */

struct test_server {
    rpc_server *srv;
    pthread_t thread;
    int port;
    char target[64];
};

static void *run_thread(void *arg)
{
    struct test_server *t = arg;
    int rc = rpc_server_run(t->srv);
    assert_int_equal(rc, 0);
    return NULL;
}

static struct test_server *server_start(rpc_server_opts *o)
{
    struct test_server *t = calloc(1, sizeof *t);
    rpc_error err = {0};
    o->listen_addr = "127.0.0.1:0";
    if (o->max_message_bytes == 0)
        o->max_message_bytes = 1 << 20;
    if (o->workers == 0)
        o->workers = 2;
    if (rpc_server_create(&t->srv, o, &err) != 0)
        fail_msg("rpc_server_create: %s", err.message);
    rpc_server_set_observer(t->srv, observer, NULL);
    if (rpc_server_add_service(t->srv, MKTO, mkto_methods,
                               sizeof mkto_methods / sizeof mkto_methods[0], NULL, &err) != 0 ||
        rpc_server_start(t->srv, &err) != 0)
        fail_msg("server: %s", err.message);
    t->port = rpc_server_port(t->srv);
    assert_true(t->port > 0);
    snprintf(t->target, sizeof t->target, "127.0.0.1:%d", t->port);
    assert_int_equal(pthread_create(&t->thread, NULL, run_thread, t), 0);
    return t;
}

static void server_stop(struct test_server *t)
{
    rpc_server_request_shutdown(t->srv);
    pthread_join(t->thread, NULL);
    rpc_server_destroy(t->srv);
    free(t);
}

static struct test_server *plain; /* shared by most tests */

static int group_setup(void **state)
{
    (void)state;
    rpc_server_opts o = {.shutdown_grace_ms = 2000};
    plain = server_start(&o);
    snprintf(self_target, sizeof self_target, "%s", plain->target);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    server_stop(plain);
    rpc_client_cleanup();
    return 0;
}

static rpc_client *client_for(const char *target, rpc_client_opts *o)
{
    rpc_error err = {0};
    rpc_client *c = rpc_client_get(target, o, &err);
    if (!c)
        fail_msg("rpc_client_get: %s", err.message);
    return c;
}

static int get_program_call(rpc_client *c, int64_t id, const rpc_call_opts *o,
                            Campsync__V1__Program **out, rpc_error *err)
{
    Campsync__V1__GetProgramRequest rq = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    rq.program_id = id;
    ProtobufCMessage *m = NULL;
    int rc = rpc_client_unary(c, MKTO, "GetProgram", &rq.base, &m, o, err);
    *out = (Campsync__V1__Program *)m;
    return rc;
}

static int list_programs_call(rpc_client *c, int64_t since, int64_t timeout_ms, size_t *n,
                              rpc_error *err)
{
    Campsync__V1__ListProgramsRequest rq = CAMPSYNC__V1__LIST_PROGRAMS_REQUEST__INIT;
    rq.updated_since_ms = since;
    ProtobufCMessage *m = NULL;
    rpc_call_opts o = {.timeout_ms = timeout_ms};
    int rc = rpc_client_unary(c, MKTO, "ListPrograms", &rq.base, &m, &o, err);
    if (m) {
        *n = ((Campsync__V1__ListProgramsResponse *)m)->n_programs;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    return rc;
}

/* A raw C-core unary call: path and request bytes as given. */
static int raw_call(const char *target, const char *path, const void *bytes, size_t len,
                    int64_t timeout_ms, char *details, size_t details_len)
{
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, NULL);
    grpc_channel_credentials_release(creds);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    gpr_timespec deadline =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
    grpc_call *call =
        grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                 grpc_slice_from_static_string(path), NULL, deadline, NULL);
    grpc_slice s = grpc_slice_from_copied_buffer(bytes, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_byte_buffer *resp = NULL;
    grpc_status_code status;
    grpc_slice det = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &det;
    assert_int_equal(grpc_call_start_batch(call, ops, 6, (void *)1, NULL), GRPC_CALL_OK);
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
    size_t n = GRPC_SLICE_LENGTH(det) < details_len - 1 ? GRPC_SLICE_LENGTH(det) : details_len - 1;
    memcpy(details, GRPC_SLICE_START_PTR(det), n);
    details[n] = '\0';
    grpc_slice_unref(det);
    if (resp)
        grpc_byte_buffer_destroy(resp);
    grpc_byte_buffer_destroy(bb);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    grpc_channel_destroy(ch);
    return status;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits (bounded) for a flag a handler sets. */
static int wait_flag(atomic_int *flag, int64_t ms)
{
    int64_t end = now_ms() + ms;
    while (!atomic_load(flag) && now_ms() < end)
        usleep(10000);
    return atomic_load(flag);
}

/* ---- tests ---- */

static void test_unary_round_trip(void **state)
{
    (void)state;
    rpc_client *c = client_for(plain->target, NULL);
    Campsync__V1__Program *p;
    rpc_error err = {0};
    assert_int_equal(get_program_call(c, 7, NULL, &p, &err), 0);
    assert_int_equal(p->id, 7);
    assert_string_equal(p->name, "program 7");
    assert_string_equal(p->sfdc_name, ""); /* no token configured */
    assert_non_null(strstr(p->type, "127.0.0.1"));
    protobuf_c_message_free_unpacked(&p->base, NULL);

    assert_int_equal(get_program_call(c, 404, NULL, &p, &err), GRPC_STATUS_NOT_FOUND);
    assert_null(p);
    assert_int_equal(err.code, GRPC_STATUS_NOT_FOUND);
    assert_non_null(strstr(err.message, "program 404 not found"));
    /* The observer hears of it with the full method name and the code. */
    assert_true(wait_flag(&observed_not_found, 5000));

    size_t n = 0;
    assert_int_equal(list_programs_call(c, 0, 5000, &n, &err), 0);
    assert_int_equal(n, 3);
}

static void test_client_rejects_wrong_request_type(void **state)
{
    (void)state;
    rpc_client *c = client_for(plain->target, NULL);
    Campsync__V1__ListProgramsRequest rq = CAMPSYNC__V1__LIST_PROGRAMS_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    rpc_error err = {0};
    assert_int_equal(rpc_client_unary(c, MKTO, "GetProgram", &rq.base, &m, NULL, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "GetProgramRequest"));
    assert_int_equal(rpc_client_unary(c, MKTO, "NoSuchMethod", &rq.base, &m, NULL, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);
}

static void test_client_errors(void **state)
{
    (void)state;
    rpc_error err = {0};
    Campsync__V1__Program *p;
    /* Nothing listens on port 1: UNAVAILABLE, naming the method. */
    rpc_call_opts quick = {.timeout_ms = 3000};
    assert_int_equal(get_program_call(client_for("127.0.0.1:1", NULL), 1, &quick, &p, &err),
                     GRPC_STATUS_UNAVAILABLE);
    assert_non_null(strstr(err.message, "campsync.v1.MarketoConnector/GetProgram"));

    /* A call without its own timeout gets the client's default deadline. */
    rpc_client_opts co = {.default_timeout_ms = 300};
    Campsync__V1__ListProgramsRequest rq = CAMPSYNC__V1__LIST_PROGRAMS_REQUEST__INIT;
    rq.updated_since_ms = -10000;
    ProtobufCMessage *m = NULL;
    assert_int_equal(rpc_client_unary(client_for(plain->target, &co), MKTO, "ListPrograms",
                                      &rq.base, &m, NULL, &err),
                     GRPC_STATUS_DEADLINE_EXCEEDED);
    assert_null(m);
}

static void test_stream_round_trip(void **state)
{
    (void)state;
    rpc_client *c = client_for(plain->target, NULL);
    Campsync__V1__StreamProgramMembersRequest rq =
        CAMPSYNC__V1__STREAM_PROGRAM_MEMBERS_REQUEST__INIT;
    rq.program_id = 5;
    rpc_stream *s;
    rpc_error err = {0};
    assert_int_equal(rpc_stream_open(c, MKTO, "StreamProgramMembers", &rq.base, NULL, &s, &err), 0);
    ProtobufCMessage *m;
    int pages = 0, rc;
    while ((rc = rpc_stream_next(s, &m, &err)) == 1) {
        Campsync__V1__ProgramMemberPage *pg = (void *)m;
        assert_int_equal(pg->n_members, pages + 1);
        assert_int_equal(pg->members[0]->lead_id, pages * 100);
        assert_string_equal(pg->members[0]->status_name, "Registered");
        protobuf_c_message_free_unpacked(m, NULL);
        pages++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(pages, 5);
    rpc_stream_close(s);
}

static void test_unknown_method_unimplemented(void **state)
{
    (void)state;
    int before = atomic_load(&observed_unimplemented);
    char details[256];
    int64_t t0 = now_ms();
    /* A hanging call would end in DEADLINE_EXCEEDED after 3 s. */
    int code =
        raw_call(plain->target, "/campsync.v1.Nope/Nothing", "", 0, 3000, details, sizeof details);
    printf("# unknown method answered in %lld ms\n", (long long)(now_ms() - t0));
    assert_int_equal(code, GRPC_STATUS_UNIMPLEMENTED);
    assert_non_null(strstr(details, "/campsync.v1.Nope/Nothing"));

    /* Through the client: a service this server does not serve. */
    rpc_client *c = client_for(plain->target, NULL);
    Campsync__V1__GetCampaignsRequest rq = CAMPSYNC__V1__GET_CAMPAIGNS_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    rpc_error err = {0};
    rpc_call_opts o = {.timeout_ms = 3000};
    assert_int_equal(rpc_client_unary(c, &campsync__v1__salesforce_connector__descriptor,
                                      "GetCampaigns", &rq.base, &m, &o, &err),
                     GRPC_STATUS_UNIMPLEMENTED);
    /* The observer hears of both (after the client saw the status). */
    int64_t end = now_ms() + 5000;
    while (atomic_load(&observed_unimplemented) < before + 2 && now_ms() < end)
        usleep(10000);
    assert_int_equal(atomic_load(&observed_unimplemented), before + 2);
}

static void test_missing_handler_unimplemented(void **state)
{
    (void)state;
    rpc_client *c = client_for(plain->target, NULL);
    Campsync__V1__Empty rq = CAMPSYNC__V1__EMPTY__INIT;
    ProtobufCMessage *m = NULL;
    rpc_error err = {0};
    assert_int_equal(rpc_client_unary(c, MKTO, "GetUsage", &rq.base, &m, NULL, &err),
                     GRPC_STATUS_UNIMPLEMENTED);
    assert_null(m);
    assert_non_null(
        strstr(err.message, "campsync.v1.MarketoConnector/GetUsage is not implemented yet"));
}

static void test_deadline_exceeded_seen_by_handler(void **state)
{
    (void)state;
    atomic_store(&saw_unary_cancel, 0);
    rpc_client *c = client_for(plain->target, NULL);
    size_t n;
    rpc_error err = {0};
    assert_int_equal(list_programs_call(c, -5000, 200, &n, &err), GRPC_STATUS_DEADLINE_EXCEEDED);
    assert_int_equal(err.code, GRPC_STATUS_DEADLINE_EXCEEDED);
    assert_true(wait_flag(&saw_unary_cancel, 5000));
}

static void test_client_cancel_seen_by_stream_handler(void **state)
{
    (void)state;
    atomic_store(&saw_stream_cancel, 0);
    rpc_client *c = client_for(plain->target, NULL);
    Campsync__V1__StreamProgramMembersRequest rq =
        CAMPSYNC__V1__STREAM_PROGRAM_MEMBERS_REQUEST__INIT;
    rq.updated_to_ms = -1;
    rpc_error err = {0};
    rpc_call_opts o = {.timeout_ms = 60000};
    /* More endless streams than the server has workers (2)... */
    rpc_stream *s[4];
    for (int k = 0; k < 4; k++) {
        assert_int_equal(
            rpc_stream_open(c, MKTO, "StreamProgramMembers", &rq.base, &o, &s[k], &err), 0);
        for (int i = 0; i < 2; i++) {
            ProtobufCMessage *m;
            assert_int_equal(rpc_stream_next(s[k], &m, &err), 1);
            protobuf_c_message_free_unpacked(m, NULL);
        }
    }
    /* ...do not starve unary calls. */
    Campsync__V1__Program *p;
    assert_int_equal(get_program_call(c, 8, NULL, &p, &err), 0);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    size_t n;
    assert_int_equal(list_programs_call(c, 0, 5000, &n, &err), 0);

    rpc_stream_close(s[0]); /* cancels */
    assert_true(wait_flag(&saw_stream_cancel, 5000));
    for (int k = 1; k < 4; k++)
        rpc_stream_close(s[k]);
}

static void test_oversized_messages(void **state)
{
    (void)state;
    /* The client may send 8 MiB; the server takes 1 MiB. */
    rpc_client_opts co = {.max_message_bytes = 8 << 20};
    rpc_client *c = client_for(plain->target, &co);
    Campsync__V1__GetLeadsRequest rq = CAMPSYNC__V1__GET_LEADS_REQUEST__INIT;
    size_t n = 2000;
    char *email = malloc(1000);
    memset(email, 'a', 999);
    email[999] = '\0';
    rq.emails = malloc(n * sizeof *rq.emails);
    for (size_t i = 0; i < n; i++)
        rq.emails[i] = email;
    rq.n_emails = n;
    ProtobufCMessage *m = NULL;
    rpc_error err = {0};
    assert_int_equal(rpc_client_unary(c, MKTO, "GetLeads", &rq.base, &m, NULL, &err),
                     GRPC_STATUS_RESOURCE_EXHAUSTED);
    /* A small one passes, so the limit is what refused the big one. */
    rq.n_emails = 10;
    assert_int_equal(rpc_client_unary(c, MKTO, "GetLeads", &rq.base, &m, NULL, &err), 0);
    assert_int_equal(((Campsync__V1__GetLeadsResponse *)m)->leads[0]->id, 10);
    protobuf_c_message_free_unpacked(m, NULL);
    free(rq.emails);
    free(email);

    /* A response over the server's limit. */
    size_t got;
    assert_int_equal(list_programs_call(c, 2, 5000, &got, &err), GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(err.message, "limit"));
}

static void test_invalid_bytes_invalid_argument(void **state)
{
    (void)state;
    char details[256];
    static const unsigned char junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    int code = raw_call(plain->target, "/campsync.v1.MarketoConnector/GetProgram", junk,
                        sizeof junk, 5000, details, sizeof details);
    assert_int_equal(code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(details, "GetProgramRequest"));
    /* The same path with a valid (empty) message works. */
    code = raw_call(plain->target, "/campsync.v1.MarketoConnector/GetProgram", "", 0, 5000, details,
                    sizeof details);
    assert_int_equal(code, GRPC_STATUS_OK);
}

static void test_request_id_and_deadline_propagate(void **state)
{
    (void)state;
    rpc_client *c = client_for(plain->target, NULL);
    Campsync__V1__Program *p;
    rpc_error err = {0};
    rpc_call_opts o = {.request_id = "req-abc.1"};
    assert_int_equal(get_program_call(c, 1, &o, &p, &err), 0);
    assert_string_equal(p->sfdc_id, "req-abc.1");
    protobuf_c_message_free_unpacked(&p->base, NULL);

    /* No id given: the server mints one. */
    assert_int_equal(get_program_call(c, 1, NULL, &p, &err), 0);
    assert_true(strlen(p->sfdc_id) >= 16);
    protobuf_c_message_free_unpacked(&p->base, NULL);

    /* ListPrograms(1) calls GetProgram with itself as parent: the inner call
     * carries the outer request id and the outer deadline (2 s), not its
     * own 60 s timeout. */
    Campsync__V1__ListProgramsRequest rq = CAMPSYNC__V1__LIST_PROGRAMS_REQUEST__INIT;
    rq.updated_since_ms = 1;
    ProtobufCMessage *m = NULL;
    rpc_call_opts outer = {.request_id = "req-xyz", .timeout_ms = 2000};
    assert_int_equal(rpc_client_unary(c, MKTO, "ListPrograms", &rq.base, &m, &outer, &err), 0);
    Campsync__V1__ListProgramsResponse *r = (void *)m;
    assert_int_equal(r->n_programs, 1);
    assert_int_equal(r->programs[0]->id, 77);
    assert_string_equal(r->programs[0]->sfdc_id, "req-xyz");
    /* gRPC rounds a deadline up on the wire, so allow a little over 2 s;
     * far below the inner call's own 60 s. */
    printf("# inner call had %lld ms left\n", (long long)r->programs[0]->created_at_ms);
    assert_true(r->programs[0]->created_at_ms < 10000);
    assert_true(r->programs[0]->created_at_ms > 0);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_retry_only_idempotent(void **state)
{
    (void)state;
    rpc_error err = {0};
    size_t n = 0;
    atomic_store(&flaky_calls, 0);
    rpc_client *once = client_for(plain->target, NULL);
    assert_int_equal(list_programs_call(once, 3, 5000, &n, &err), GRPC_STATUS_UNAVAILABLE);
    assert_int_equal(atomic_load(&flaky_calls), 1);

    static const char *const idem[] = {"campsync.v1.MarketoConnector/ListPrograms", NULL};
    rpc_client_opts co = {.idempotent = idem};
    rpc_client *retrying = client_for(plain->target, &co);
    assert_ptr_not_equal(retrying, once);
    assert_ptr_equal(client_for(plain->target, &co), retrying); /* cached */
    atomic_store(&flaky_calls, 0);
    assert_int_equal(list_programs_call(retrying, 3, 5000, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(atomic_load(&flaky_calls), 2);

    static const char *const bad[] = {"not a method\"", NULL};
    rpc_client_opts cb = {.idempotent = bad};
    assert_null(rpc_client_get(plain->target, &cb, &err));
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
}

static void test_dns_target_round_robin(void **state)
{
    (void)state;
    char target[80];
    snprintf(target, sizeof target, "dns:///127.0.0.1:%d", plain->port);
    static const char *const idem[] = {"campsync.v1.MarketoConnector", NULL};
    rpc_client_opts co = {.idempotent = idem, .default_timeout_ms = 5000};
    Campsync__V1__Program *p;
    rpc_error err = {0};
    assert_int_equal(get_program_call(client_for(target, &co), 9, NULL, &p, &err), 0);
    assert_string_equal(p->name, "program 9");
    protobuf_c_message_free_unpacked(&p->base, NULL);
}

static void test_max_connection_age_reconnects(void **state)
{
    (void)state;
    rpc_server_opts o = {.max_connection_age_ms = 100, .max_connection_age_grace_ms = 5000};
    struct test_server *t = server_start(&o);
    static const char *const idem[] = {"campsync.v1.MarketoConnector/GetProgram", NULL};
    rpc_client_opts co = {.idempotent = idem};
    rpc_client *c = client_for(t->target, &co);
    /* Connections are closed every ~100 ms; calls keep working. */
    for (int i = 0; i < 8; i++) {
        Campsync__V1__Program *p;
        rpc_error err = {0};
        assert_int_equal(get_program_call(c, i + 1, NULL, &p, &err), 0);
        assert_int_equal(p->id, i + 1);
        protobuf_c_message_free_unpacked(&p->base, NULL);
        usleep(60000);
    }
    /* A call still running when its connection reaches its age finishes
     * within the grace: 1.5 s of work on a 100 ms connection. */
    size_t n = 0;
    rpc_error err = {0};
    assert_int_equal(list_programs_call(c, -1500, 10000, &n, &err), 0);
    server_stop(t);
}

struct slow_call {
    rpc_client *c;
    int code;
    pthread_t th;
};

static void *slow_call_main(void *arg)
{
    struct slow_call *s = arg;
    size_t n;
    rpc_error err;
    s->code = list_programs_call(s->c, -3000, 10000, &n, &err);
    return NULL;
}

static void test_thread_limit_resource_exhausted(void **state)
{
    (void)state;
    rpc_server_opts o = {.max_threads = 1};
    struct test_server *t = server_start(&o);
    rpc_client *c = client_for(t->target, NULL);
    atomic_store(&in_slow_handler, 0);
    struct slow_call slow = {.c = c, .code = -1};
    assert_int_equal(pthread_create(&slow.th, NULL, slow_call_main, &slow), 0);
    int64_t end = now_ms() + 5000;
    while (!atomic_load(&in_slow_handler) && now_ms() < end)
        usleep(5000);
    assert_int_equal(atomic_load(&in_slow_handler), 1);
    /* The one handler thread is busy: a second own-thread call is refused,
     * worker-run calls still work. */
    size_t n;
    rpc_error err = {0};
    assert_int_equal(list_programs_call(c, 0, 5000, &n, &err), GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(err.message, "busy"));
    Campsync__V1__Program *p;
    assert_int_equal(get_program_call(c, 3, NULL, &p, &err), 0);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    pthread_join(slow.th, NULL);
    assert_int_equal(slow.code, 0);
    /* The thread is reused once free. */
    assert_int_equal(list_programs_call(c, 0, 5000, &n, &err), 0);
    assert_int_equal(n, 3);
    server_stop(t);
}

static int health_check(rpc_client *c, const char *service, rpc_error *err)
{
    Grpc__Health__V1__HealthCheckRequest rq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    rq.service = (char *)service;
    ProtobufCMessage *m = NULL;
    int rc = rpc_client_unary(c, HEALTH, "Check", &rq.base, &m, NULL, err);
    if (rc)
        return -rc;
    int st = ((Grpc__Health__V1__HealthCheckResponse *)m)->status;
    protobuf_c_message_free_unpacked(m, NULL);
    return st;
}

static int watch_next(rpc_stream *s)
{
    ProtobufCMessage *m;
    rpc_error err;
    if (rpc_stream_next(s, &m, &err) != 1)
        return -1;
    int st = ((Grpc__Health__V1__HealthCheckResponse *)m)->status;
    protobuf_c_message_free_unpacked(m, NULL);
    return st;
}

static void test_health(void **state)
{
    (void)state;
    rpc_server_opts o = {0};
    struct test_server *t = server_start(&o);
    rpc_client *c = client_for(t->target, NULL);
    rpc_error err = {0};
    assert_int_equal(health_check(c, "", &err), RPC_HEALTH_SERVING);
    assert_int_equal(health_check(c, "liveness", &err), RPC_HEALTH_SERVING);
    assert_int_equal(health_check(c, "campsync.v1.MarketoConnector", &err), RPC_HEALTH_SERVING);
    assert_int_equal(health_check(c, "campsync.v1.Nope", &err), -GRPC_STATUS_NOT_FOUND);

    Grpc__Health__V1__HealthCheckRequest rq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    rq.service = "campsync.v1.MarketoConnector";
    rpc_stream *w;
    rpc_call_opts wo = {.timeout_ms = 30000};
    assert_int_equal(rpc_stream_open(c, HEALTH, "Watch", &rq.base, &wo, &w, &err), 0);
    assert_int_equal(watch_next(w), RPC_HEALTH_SERVING);
    rpc_health_set(t->srv, "campsync.v1.MarketoConnector", RPC_HEALTH_NOT_SERVING);
    assert_int_equal(watch_next(w), RPC_HEALTH_NOT_SERVING);
    assert_int_equal(health_check(c, "campsync.v1.MarketoConnector", &err), RPC_HEALTH_NOT_SERVING);
    rpc_health_set(t->srv, "campsync.v1.MarketoConnector", RPC_HEALTH_SERVING);
    assert_int_equal(watch_next(w), RPC_HEALTH_SERVING);

    /* An unknown service is watched as SERVICE_UNKNOWN until it appears. */
    rq.service = "redis";
    rpc_stream *w2;
    assert_int_equal(rpc_stream_open(c, HEALTH, "Watch", &rq.base, &wo, &w2, &err), 0);
    assert_int_equal(watch_next(w2), 3);
    rpc_health_set(t->srv, "redis", RPC_HEALTH_NOT_SERVING);
    assert_int_equal(watch_next(w2), RPC_HEALTH_NOT_SERVING);
    rpc_stream_close(w2);

    /* Shutdown flips the watched service to NOT_SERVING, then ends the
     * stream with UNAVAILABLE. */
    rpc_server_request_shutdown(t->srv);
    assert_int_equal(watch_next(w), RPC_HEALTH_NOT_SERVING);
    /* A dependency watcher cannot turn it back on while draining. */
    rpc_health_set(t->srv, "campsync.v1.MarketoConnector", RPC_HEALTH_SERVING);
    ProtobufCMessage *m;
    assert_int_equal(rpc_stream_next(w, &m, &err), -1);
    assert_int_equal(err.code, GRPC_STATUS_UNAVAILABLE);
    rpc_stream_close(w);
    pthread_join(t->thread, NULL);
    /* After shutdown began nothing turns an entry back on, but liveness. */
    assert_int_equal(rpc_health_get(t->srv, "campsync.v1.MarketoConnector"),
                     RPC_HEALTH_NOT_SERVING);
    rpc_health_set(t->srv, "campsync.v1.MarketoConnector", RPC_HEALTH_SERVING);
    assert_int_equal(rpc_health_get(t->srv, "campsync.v1.MarketoConnector"),
                     RPC_HEALTH_NOT_SERVING);
    assert_int_equal(rpc_health_get(t->srv, ""), RPC_HEALTH_NOT_SERVING);
    assert_int_equal(rpc_health_get(t->srv, "liveness"), RPC_HEALTH_SERVING);
    assert_int_equal(rpc_health_get(t->srv, "campsync.v1.Nope"), 0);
    rpc_server_destroy(t->srv);
    free(t);
}

static void test_bearer_token(void **state)
{
    (void)state;
    rpc_server_opts o = {.bearer_token = "s3cret-token"};
    struct test_server *t = server_start(&o);
    rpc_error err = {0};
    Campsync__V1__Program *p;

    rpc_client *none = client_for(t->target, NULL);
    assert_int_equal(get_program_call(none, 1, NULL, &p, &err), GRPC_STATUS_UNAUTHENTICATED);
    /* Unimplemented methods do not tell anonymous callers more. */
    Campsync__V1__Empty e = CAMPSYNC__V1__EMPTY__INIT;
    ProtobufCMessage *m = NULL;
    assert_int_equal(rpc_client_unary(none, MKTO, "GetUsage", &e.base, &m, NULL, &err),
                     GRPC_STATUS_UNAUTHENTICATED);
    /* Health is exempt. */
    assert_int_equal(health_check(none, "", &err), RPC_HEALTH_SERVING);

    rpc_client_opts wrong = {.bearer_token = "s3cret-tokeX"};
    assert_int_equal(get_program_call(client_for(t->target, &wrong), 1, NULL, &p, &err),
                     GRPC_STATUS_UNAUTHENTICATED);
    rpc_client_opts longer = {.bearer_token = "s3cret-token2"};
    assert_int_equal(get_program_call(client_for(t->target, &longer), 1, NULL, &p, &err),
                     GRPC_STATUS_UNAUTHENTICATED);

    rpc_client_opts right = {.bearer_token = "s3cret-token"};
    assert_int_equal(get_program_call(client_for(t->target, &right), 1, NULL, &p, &err), 0);
    assert_string_equal(p->sfdc_name, "Bearer s3cret-token");
    protobuf_c_message_free_unpacked(&p->base, NULL);
    server_stop(t);
}

/* ---- TLS ---- */

static char tls_dir[64];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("command failed (%d): %s", rc, cmd);
}

static void make_certs(void)
{
    snprintf(tls_dir, sizeof tls_dir, "/tmp/campsync-rpc-tls-XXXXXX");
    assert_non_null(mkdtemp(tls_dir));
    const char *d = tls_dir;
    sh("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca "
       "-keyout ca.key -out ca.pem >/dev/null 2>&1",
       d);
    sh("cd %s && openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key "
       "-out server.csr >/dev/null 2>&1 && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' "
       "> san.ext && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
       "-days 1 -extfile san.ext -out server.pem >/dev/null 2>&1",
       d);
    sh("cd %s && openssl req -newkey rsa:2048 -nodes -subj /CN=client -keyout client.key "
       "-out client.csr >/dev/null 2>&1 && openssl x509 -req -in client.csr -CA ca.pem -CAkey "
       "ca.key -CAcreateserial -days 1 -out client.pem >/dev/null 2>&1",
       d);
}

static void remove_certs(void)
{
    if (tls_dir[0])
        sh("rm -rf %s", tls_dir);
    tls_dir[0] = '\0';
}

static char *tls_path(char *buf, const char *name)
{
    snprintf(buf, 128, "%s/%s", tls_dir, name);
    return buf;
}

static void test_tls_and_mtls(void **state)
{
    (void)state;
    make_certs();
    char cert[128], key[128], ca[128], ccert[128], ckey[128];
    tls_path(cert, "server.pem");
    tls_path(key, "server.key");
    tls_path(ca, "ca.pem");
    tls_path(ccert, "client.pem");
    tls_path(ckey, "client.key");
    rpc_error err = {0};
    Campsync__V1__Program *p;
    rpc_call_opts quick = {.timeout_ms = 3000};

    rpc_server_opts o = {.tls_cert_file = cert, .tls_key_file = key};
    struct test_server *t = server_start(&o);
    rpc_client_opts tls = {.tls_ca_file = ca};
    assert_int_equal(get_program_call(client_for(t->target, &tls), 5, &quick, &p, &err), 0);
    assert_string_equal(p->name, "program 5");
    protobuf_c_message_free_unpacked(&p->base, NULL);
    /* Plaintext to a TLS port does not get through. */
    assert_int_not_equal(get_program_call(client_for(t->target, NULL), 5, &quick, &p, &err), 0);
    server_stop(t);

    rpc_server_opts mo = {.tls_cert_file = cert, .tls_key_file = key, .tls_client_ca_file = ca};
    t = server_start(&mo);
    assert_int_equal(get_program_call(client_for(t->target, &tls), 5, &quick, &p, &err),
                     GRPC_STATUS_UNAVAILABLE);
    rpc_client_opts mtls = {.tls_ca_file = ca, .tls_cert_file = ccert, .tls_key_file = ckey};
    assert_int_equal(get_program_call(client_for(t->target, &mtls), 6, &quick, &p, &err), 0);
    assert_string_equal(p->name, "program 6");
    protobuf_c_message_free_unpacked(&p->base, NULL);
    server_stop(t);

    /* Bad TLS configuration is refused with a message naming the file. */
    rpc_server *bad;
    rpc_server_opts bo = {
        .listen_addr = "127.0.0.1:0", .tls_cert_file = "/nonexistent.pem", .tls_key_file = key};
    assert_int_equal(rpc_server_create(&bad, &bo, &err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "/nonexistent.pem"));
    rpc_server_opts swapped = {
        .listen_addr = "127.0.0.1:0", .tls_cert_file = key, .tls_key_file = cert};
    assert_int_equal(rpc_server_create(&bad, &swapped, &err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "server.key"));
    rpc_client_opts half = {.tls_ca_file = ca, .tls_cert_file = ccert};
    assert_null(rpc_client_get("127.0.0.1:1", &half, &err));
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    remove_certs();
}

static void test_bad_server_config(void **state)
{
    (void)state;
    rpc_server *srv;
    rpc_error err = {0};
    rpc_server_opts none = {0};
    assert_int_not_equal(rpc_server_create(&srv, &none, &err), 0);
    assert_non_null(strstr(err.message, "listen_addr"));

    rpc_server_opts o = {.listen_addr = "127.0.0.1:0"};
    assert_int_equal(rpc_server_create(&srv, &o, &err), 0);
    static const rpc_method wrong[] = {RPC_UNARY("NoSuchMethod", get_program)};
    assert_int_equal(rpc_server_add_service(srv, MKTO, wrong, 1, NULL, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "NoSuchMethod"));
    rpc_server_destroy(srv);

    /* The port of a running server is taken (no silent SO_REUSEPORT). */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", plain->port);
    rpc_server_opts taken = {.listen_addr = addr};
    assert_int_equal(rpc_server_create(&srv, &taken, &err), 0);
    assert_int_equal(rpc_server_start(srv, &err), GRPC_STATUS_UNAVAILABLE);
    rpc_server_destroy(srv);
}

/* ---- SIGTERM with calls in flight, server in a child process ---- */

struct caller {
    const char *target;
    int64_t since;
    int code;
    size_t n;
    pthread_t th;
};

static void *caller_main(void *arg)
{
    struct caller *c = arg;
    rpc_error err = {0};
    c->code = list_programs_call(client_for(c->target, NULL), c->since, 20000, &c->n, &err);
    return NULL;
}

static pid_t spawn_server(int *port)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/proc/self/exe", "it_test_rpc", "--serve", "--grace", "4000", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    *port = 0;
    if (fscanf(f, "%d", port) != 1)
        *port = 0;
    fclose(f);
    return pid;
}

static void test_sigterm_drains_and_exits_zero(void **state)
{
    (void)state;
    int port;
    pid_t pid = spawn_server(&port);
    if (port <= 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("test server did not start");
    }
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    rpc_client *c = client_for(target, NULL);
    rpc_error err = {0};
    assert_int_equal(health_check(c, "", &err), RPC_HEALTH_SERVING);

    Grpc__Health__V1__HealthCheckRequest hq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    hq.service = "";
    rpc_stream *watch;
    rpc_call_opts wo = {.timeout_ms = 30000};
    assert_int_equal(rpc_stream_open(c, HEALTH, "Watch", &hq.base, &wo, &watch, &err), 0);
    assert_int_equal(watch_next(watch), RPC_HEALTH_SERVING);

    Campsync__V1__StreamProgramMembersRequest sq =
        CAMPSYNC__V1__STREAM_PROGRAM_MEMBERS_REQUEST__INIT;
    sq.updated_to_ms = -1;
    rpc_stream *endless;
    assert_int_equal(
        rpc_stream_open(c, MKTO, "StreamProgramMembers", &sq.base, &wo, &endless, &err), 0);
    ProtobufCMessage *m;
    assert_int_equal(rpc_stream_next(endless, &m, &err), 1);
    protobuf_c_message_free_unpacked(m, NULL);

    /* Three calls that end within the 4 s grace period, one that does not. */
    struct caller callers[4];
    for (int i = 0; i < 4; i++) {
        callers[i] = (struct caller){.target = target, .since = i < 3 ? -2500 : -15000, .code = -1};
        assert_int_equal(pthread_create(&callers[i].th, NULL, caller_main, &callers[i]), 0);
    }
    /* Wait until all four run in the child's handlers. */
    size_t running = 0;
    int64_t until = now_ms() + 10000;
    while (running < 4 && now_ms() < until) {
        usleep(20000);
        assert_int_equal(list_programs_call(c, 4, 5000, &running, &err), 0);
    }
    assert_int_equal(running, 4);
    assert_int_equal(kill(pid, SIGTERM), 0);

    /* Health flips before the stream ends. */
    assert_int_equal(watch_next(watch), RPC_HEALTH_NOT_SERVING);
    rpc_stream_close(watch);
    int rc;
    while ((rc = rpc_stream_next(endless, &m, &err)) == 1)
        protobuf_c_message_free_unpacked(m, NULL);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, GRPC_STATUS_UNAVAILABLE);
    rpc_stream_close(endless);

    /* In-flight unary calls finish within the grace period. */
    for (int i = 0; i < 3; i++) {
        pthread_join(callers[i].th, NULL);
        assert_int_equal(callers[i].code, 0);
    }
    /* The long one is cancelled when the grace period is over: it still
     * gets a status, long before its own 20 s deadline. */
    pthread_join(callers[3].th, NULL);
    printf("# call past the grace period ended with %s\n", rpc_status_name(callers[3].code));
    assert_true(callers[3].code == GRPC_STATUS_CANCELLED ||
                callers[3].code == GRPC_STATUS_UNAVAILABLE);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* Nothing listens any more. */
    assert_int_not_equal(health_check(c, "", &err), RPC_HEALTH_SERVING);
}

/* `--serve [--token T] [--grace MS]`: the child-process server. */
static int serve_main(int argc, char **argv)
{
    log_init("rpc-test-server", LOG_WARN);
    rpc_server_opts o = {.listen_addr = "127.0.0.1:0", .shutdown_grace_ms = 10000};
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--token") == 0)
            o.bearer_token = argv[i + 1];
        if (strcmp(argv[i], "--grace") == 0)
            o.shutdown_grace_ms = atoi(argv[i + 1]);
    }
    rpc_server *srv;
    rpc_error err;
    if (rpc_server_create(&srv, &o, &err) != 0 ||
        rpc_server_add_service(srv, MKTO, mkto_methods,
                               sizeof mkto_methods / sizeof mkto_methods[0], NULL, &err) != 0 ||
        rpc_server_install_signal_handlers(srv, &err) != 0 || rpc_server_start(srv, &err) != 0) {
        fprintf(stderr, "test server: %s\n", err.message);
        return 1;
    }
    snprintf(self_target, sizeof self_target, "127.0.0.1:%d", rpc_server_port(srv));
    printf("%d\n", rpc_server_port(srv));
    fflush(stdout);
    int rc = rpc_server_run(srv);
    rpc_server_destroy(srv);
    rpc_client_cleanup();
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--serve") == 0)
        return serve_main(argc, argv);
    log_init("test-rpc", LOG_ERROR);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary_round_trip),
        cmocka_unit_test(test_client_rejects_wrong_request_type),
        cmocka_unit_test(test_client_errors),
        cmocka_unit_test(test_stream_round_trip),
        cmocka_unit_test(test_unknown_method_unimplemented),
        cmocka_unit_test(test_missing_handler_unimplemented),
        cmocka_unit_test(test_deadline_exceeded_seen_by_handler),
        cmocka_unit_test(test_client_cancel_seen_by_stream_handler),
        cmocka_unit_test(test_oversized_messages),
        cmocka_unit_test(test_invalid_bytes_invalid_argument),
        cmocka_unit_test(test_request_id_and_deadline_propagate),
        cmocka_unit_test(test_retry_only_idempotent),
        cmocka_unit_test(test_dns_target_round_robin),
        cmocka_unit_test(test_max_connection_age_reconnects),
        cmocka_unit_test(test_thread_limit_resource_exhausted),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_bearer_token),
        cmocka_unit_test(test_tls_and_mtls),
        cmocka_unit_test(test_bad_server_config),
        cmocka_unit_test(test_sigterm_drains_and_exits_zero),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
    remove_certs();
    return failed;
}
