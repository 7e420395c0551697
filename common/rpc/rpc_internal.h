/*
 * What the server and client halves of common/rpc share and no service
 * should see: the parent-call accessors the client needs to inherit a
 * deadline, request id and cancellation, and small helpers (request ids,
 * message packing, file reading).
 */
#ifndef CAMPSYNC_RPC_INTERNAL_H
#define CAMPSYNC_RPC_INTERNAL_H

#include <stddef.h>

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "rpc/rpc_server.h"

/* The server call behind a handler's rpc_call, and its deadline on
 * GPR_CLOCK_MONOTONIC (infinite when the caller set none). */
grpc_call *rpc_call_grpc(const rpc_call *call);
gpr_timespec rpc_call_deadline(const rpc_call *call);

/* Writes a fresh random request id (32 hex digits) into out[33]. */
void rpc_mint_request_id(char out[33]);

/* True for an x-request-id worth passing on: 1..64 of [A-Za-z0-9._:-]. */
int rpc_request_id_valid(const char *s, size_t len);

/* Packs msg into a new byte buffer (caller destroys it). */
grpc_byte_buffer *rpc_pack(const ProtobufCMessage *msg);

/* Unpacks a received byte buffer; NULL when the bytes are not a valid desc. */
ProtobufCMessage *rpc_unpack(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb);

/* Reads a whole file into a NUL-terminated malloc'd string; NULL with err
 * filled (code INVALID_ARGUMENT) when it cannot. what names it in the error. */
char *rpc_read_file(const char *path, const char *what, rpc_error *err);

/* Fills err (never NULL-safe: err may be NULL) and returns code. */
int rpc_set_error(rpc_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A grpc_slice as a NUL-terminated string, truncated to fit out. */
void rpc_slice_str(grpc_slice s, char *out, size_t outsz);

#endif
