/*
 * Small pieces every file of the reconciler service uses: the error helper,
 * the bag that keeps connector replies alive while the core borrows their
 * strings, the pair's Redis scope, and the connector call wrappers (one place
 * that sets deadlines, passes the serving call as parent and names the
 * method in errors).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recon_svc.h"

int rc_fail(rc_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int rc_bag_add(rc_bag *b, ProtobufCMessage *msg)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        ProtobufCMessage **m = realloc(b->m, cap * sizeof *m);
        if (!m) {
            protobuf_c_message_free_unpacked(msg, NULL);
            return -1;
        }
        b->m = m;
        b->cap = cap;
    }
    b->m[b->n++] = msg;
    return 0;
}

void rc_bag_free(rc_bag *b)
{
    for (size_t i = 0; i < b->n; i++)
        protobuf_c_message_free_unpacked(b->m[i], NULL);
    free(b->m);
    memset(b, 0, sizeof *b);
}

void rc_pair_scope(int64_t program_id, char *out, size_t cap)
{
    snprintf(out, cap, "pair:%lld", (long long)program_id);
}

int64_t rc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool rc_is_read(const char *method)
{
    return strncmp(method, "Get", 3) == 0 || strncmp(method, "List", 4) == 0 ||
           strncmp(method, "Check", 5) == 0 || strncmp(method, "Stream", 6) == 0;
}

static int call(rc_svc *s, rpc_client *c, const ProtobufCServiceDescriptor *d, const char *vendor,
                rpc_call *parent, const char *method, const ProtobufCMessage *rq,
                ProtobufCMessage **out, rc_err *err)
{
    rpc_error e = {0};
    rpc_call_opts o = {.parent = parent, .timeout_ms = s->call_timeout_ms};
    *out = NULL;
    int rc = rpc_client_unary(c, d, method, rq, out, &o, &e);
    /* A read refused UNAVAILABLE (typically started while the channel
     * reconnects after the server's connection-age GOAWAY) is asked again;
     * a write is not: it may have been applied. */
    for (int i = 0; i < 2 && rc == GRPC_STATUS_UNAVAILABLE && rc_is_read(method); i++) {
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        memset(&e, 0, sizeof e);
        rc = rpc_client_unary(c, d, method, rq, out, &o, &e);
    }
    if (rc != 0)
        return rc_fail(err, rc, "%s connector %s: %s", vendor, method, e.message);
    return 0;
}

int rc_mkto_call(rc_svc *s, rpc_call *parent, const char *method, const ProtobufCMessage *rq,
                 ProtobufCMessage **out, rc_err *err)
{
    return call(s, s->mkto, &campsync__v1__marketo_connector__descriptor, "marketo", parent, method,
                rq, out, err);
}

int rc_sf_call(rc_svc *s, rpc_call *parent, const char *method, const ProtobufCMessage *rq,
               ProtobufCMessage **out, rc_err *err)
{
    return call(s, s->sf, &campsync__v1__salesforce_connector__descriptor, "salesforce", parent,
                method, rq, out, err);
}

const char *rc_type_for_channel(const rc_svc *s, const char *channel)
{
    for (size_t i = 0; i < s->n_type_map; i++)
        if (strcmp(s->type_map[i].channel, channel) == 0)
            return s->type_map[i].type;
    return channel;
}
