/*
 * Helpers shared by the server and the client: status names, request ids,
 * protobuf-c <-> grpc_byte_buffer conversion, reading PEM files, errors.
 */
#include "rpc/rpc_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>

const char *rpc_status_name(int code)
{
    static const char *const names[] = {"OK",
                                        "CANCELLED",
                                        "UNKNOWN",
                                        "INVALID_ARGUMENT",
                                        "DEADLINE_EXCEEDED",
                                        "NOT_FOUND",
                                        "ALREADY_EXISTS",
                                        "PERMISSION_DENIED",
                                        "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION",
                                        "ABORTED",
                                        "OUT_OF_RANGE",
                                        "UNIMPLEMENTED",
                                        "INTERNAL",
                                        "UNAVAILABLE",
                                        "DATA_LOSS",
                                        "UNAUTHENTICATED"};
    if (code < 0 || code >= (int)(sizeof names / sizeof names[0]))
        return "UNKNOWN";
    return names[code];
}

/* splitmix64 per thread, seeded from the kernel: request ids need to be
 * unique, not secret, and minting one must not cost a system call. */
static uint64_t next_random(void)
{
    static __thread uint64_t state;
    static __thread int seeded;
    if (!seeded) {
        if (getrandom(&state, sizeof state, 0) != (ssize_t)sizeof state)
            state = (uint64_t)(uintptr_t)&state ^ (uint64_t)random();
        seeded = 1;
    }
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rpc_mint_request_id(char out[33])
{
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)next_random(),
             (unsigned long long)next_random());
}

int rpc_request_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

grpc_byte_buffer *rpc_pack(const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

ProtobufCMessage *rpc_unpack(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    return m;
}

char *rpc_read_file(const char *path, const char *what, rpc_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT, "cannot read %s %s: %s", what, path,
                      strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len < cap - 1)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad || len == 0) {
        free(buf);
        rpc_set_error(err, GRPC_STATUS_INVALID_ARGUMENT, "cannot read %s %s: %s", what, path,
                      bad   ? "read error"
                      : buf ? "file is empty"
                            : "out of memory");
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

int rpc_set_error(rpc_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

void rpc_slice_str(grpc_slice s, char *out, size_t outsz)
{
    size_t n = GRPC_SLICE_LENGTH(s);
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, GRPC_SLICE_START_PTR(s), n);
    out[n] = '\0';
}
