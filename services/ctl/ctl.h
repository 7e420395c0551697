/*
 * What every campsyncctl command shares: the global options, the gRPC
 * client for a service, error reporting and the exit codes.
 */
#ifndef CTL_H
#define CTL_H

#include "rpc/rpc_client.h"

enum {
    CTL_OK = 0,
    CTL_RPC_ERROR = 1,   /* the service answered with an error */
    CTL_USAGE = 2,       /* bad command line */
    CTL_UNREACHABLE = 3, /* the service could not be reached in time */
    CTL_NOT_SERVING = 4, /* health: the service is not serving */
    CTL_PARTIAL = 5,     /* a batch ran but some records failed */
};

typedef struct ctl_globals {
    const char *target;      /* --target: health and generic calls */
    const char *reconciler;  /* --reconciler or CAMPSYNC_RECONCILER */
    const char *attribution; /* --attribution or CAMPSYNC_ATTRIBUTION */
    const char *token;
    long timeout_ms;
    int json;
} ctl_globals;

/* The client for target (NULL after printing why). */
rpc_client *ctl_client(const ctl_globals *g, const char *target);

/* Prints a failed call (JSON or text) and returns the matching exit code. */
int ctl_fail(const ctl_globals *g, const char *what, const rpc_error *err);

/* Parses a whole non-negative decimal number ("12", not "12x" or "-1").
 * 0 or -1 (with a message naming the value on stderr). */
int ctl_parse_count(const char *s, long *out);

/* 1 when argv holds --help or -h (the command then prints its usage). */
int ctl_wants_help(int argc, char **argv);

typedef int (*ctl_cmd_fn)(const ctl_globals *g, int argc, char **argv);

/* Reconciler commands (ctl_recon.c). */
int ctl_pairs(const ctl_globals *g, int argc, char **argv);
int ctl_link(const ctl_globals *g, int argc, char **argv);
int ctl_unlink(const ctl_globals *g, int argc, char **argv);
int ctl_sync(const ctl_globals *g, int argc, char **argv);
int ctl_dry_run(const ctl_globals *g, int argc, char **argv);
int ctl_cycles(const ctl_globals *g, int argc, char **argv);
int ctl_events(const ctl_globals *g, int argc, char **argv);
int ctl_is_member(const ctl_globals *g, int argc, char **argv);
int ctl_add_to_campaign(const ctl_globals *g, int argc, char **argv);
int ctl_remove_from_campaign(const ctl_globals *g, int argc, char **argv);
int ctl_change_status(const ctl_globals *g, int argc, char **argv);

/* Attribution commands (ctl_attr.c). */
int ctl_mapping(const ctl_globals *g, int argc, char **argv);
int ctl_refresh(const ctl_globals *g, int argc, char **argv);
int ctl_touchpoints(const ctl_globals *g, int argc, char **argv);
int ctl_bulk_date(const ctl_globals *g, int argc, char **argv);
int ctl_report(const ctl_globals *g, int argc, char **argv);
int ctl_attribute(const ctl_globals *g, int argc, char **argv);
int ctl_export(const ctl_globals *g, int argc, char **argv);

#endif
