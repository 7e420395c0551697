/*
 * Types shared by the campsync gRPC server (rpc_server.h) and client
 * (rpc_client.h): the caller-owned error struct and the status codes.
 *
 * Status codes are gRPC's own (grpc_status_code from <grpc/status.h>:
 * GRPC_STATUS_OK = 0, GRPC_STATUS_INVALID_ARGUMENT, GRPC_STATUS_NOT_FOUND,
 * GRPC_STATUS_FAILED_PRECONDITION, GRPC_STATUS_UNAVAILABLE, ...), so a code
 * read from a client error can be returned unchanged by a handler.
 */
#ifndef CAMPSYNC_RPC_H
#define CAMPSYNC_RPC_H

#include <grpc/status.h>

/* Filled by every call that can fail. code is a grpc_status_code (0 = OK);
 * message says what went wrong in words a human can act on. */
typedef struct rpc_error {
    int code;
    char message[512];
} rpc_error;

/* "OK", "CANCELLED", ..., "UNAUTHENTICATED"; "UNKNOWN" for anything else. */
const char *rpc_status_name(int code);

#endif
