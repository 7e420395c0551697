/*
 * The one error convention of the reconciler core: functions return int
 * (0 = ok, otherwise a RECON_E* code) and, when the caller passes one, fill a
 * caller-owned recon_err with the same code and a message a person can act
 * on. The service layer maps the codes to gRPC statuses.
 */
#ifndef CAMPSYNC_RECON_ERR_H
#define CAMPSYNC_RECON_ERR_H

#include <stdarg.h>
#include <stdio.h>

enum {
    RECON_OK = 0,
    RECON_EINVAL = 1,        /* bad input: INVALID_ARGUMENT */
    RECON_ENOMEM = 2,        /* allocation failed: RESOURCE_EXHAUSTED / INTERNAL */
    RECON_EPRECONDITION = 3, /* state must change first: FAILED_PRECONDITION */
    RECON_ECORRUPT = 4,      /* stored data unreadable: treat as missing */
    RECON_ESTATE = 5,        /* call out of order (e.g. applying before a dependency) */
};

typedef struct {
    int code;
    char msg[512];
} recon_err;

/* Fills err (when not NULL) and returns code, so callers can write
 * `return recon_fail(err, RECON_EINVAL, "...", ...);`. */
static inline int recon_fail(recon_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline int recon_fail(recon_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

#endif
