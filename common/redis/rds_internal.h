/*
 * Shared between the files of common/redis only: error filling and the one
 * command runner every public call goes through.
 */
#ifndef CAMPSYNC_RDS_INTERNAL_H
#define CAMPSYNC_RDS_INTERNAL_H

#include "redis/redis.h"

/* Fills err (when not NULL) with code and a printf-style message; returns -1
 * so callers can `return rds_fail(...)`. */
int rds_fail(rds_err *err, rds_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs argv on the thread's connection; extra_timeout_ms is added to the
 * command timeout for blocking commands. Same contract as rds_command_argv. */
redisReply *rds_run(int idempotent, int extra_timeout_ms, int argc, const char **argv,
                    const size_t *argvlen, rds_err *err);

/* Integer reply to *out, or RDS_ERR_PROTO naming what. Frees r either way. */
int rds_take_integer(redisReply *r, const char *what, int64_t *out, rds_err *err);

#endif
