/*
 * Service configuration from a declarative table. Each option is reachable
 * as an environment variable (CAMPSYNC_REDIS_ADDR) and as a flag
 * (--redis-addr, --redis-addr=VALUE); flags override the environment, which
 * overrides the default; an empty environment variable counts as unset
 * (Kubernetes renders absent optional values that way). Secret options may
 * instead be read from a file
 * (CAMPSYNC_X_FILE / --x-file: a Kubernetes Secret mounted as a file), and are
 * never printed.
 *
 * Any bad or missing value makes cfg_load fail with a message naming the
 * variable or flag and saying what is expected; main prints it and exits 2.
 * Start-up either gets a fully valid configuration or stops.
 *
 *   static const char *const policies[] = {"marketo_wins", "salesforce_wins", NULL};
 *   static const cfg_option opts[] = {
 *       {.name = "grpc-addr", .type = CFG_ADDR, .def = "0.0.0.0:50051", .help = "gRPC listen"},
 *       {.name = "sync-interval", .type = CFG_DURATION_MS, .def = "5m", .help = "cycle period"},
 *       {.name = "workers", .type = CFG_INT, .def = "4", .help = "threads", .min = 1, .max = 64},
 *       {.name = "conflict-policy", .type = CFG_ENUM, .def = "marketo_wins",
 *        .help = "conflict rule", .choices = policies},
 *       {.name = "client-secret", .type = CFG_STRING, .help = "vendor secret",
 *        .flags = CFG_REQUIRED | CFG_SECRET},
 *       {0}};
 *   cfg *c; cfg_error e;
 *   int rc = cfg_load(opts, argc, argv, &c, &e);
 *   if (rc == CFG_HELP) { cfg_help(stdout, argv[0], opts); return 0; }
 *   if (rc != 0) { fprintf(stderr, "%s\n", e.msg); return 2; }
 *   cfg_log(c);
 *   ... cfg_int(c, "workers") ...
 *   cfg_free(c);
 */
#ifndef CAMPSYNC_CONFIG_H
#define CAMPSYNC_CONFIG_H

#include <stdint.h>
#include <stdio.h>

typedef enum {
    CFG_STRING,
    CFG_INT,         /* 64-bit; range [min, max] unless both are 0 */
    CFG_BOOL,        /* true/false, 1/0, yes/no, on/off; a bare --flag means true */
    CFG_DURATION_MS, /* "250ms", "5s", "2m", "1h", "1m30s"; a bare number is ms */
    CFG_ENUM,        /* one of choices (NULL-terminated), matched exactly */
    CFG_ADDR,        /* "host:port" or "[v6]:port", port 0-65535 */
    CFG_URL          /* http:// or https:// with a host; a trailing '/' is dropped */
} cfg_type;

enum {
    CFG_REQUIRED = 1, /* must be set (and non-empty) */
    CFG_SECRET = 2    /* may come from *_FILE; redacted everywhere */
};

typedef struct cfg_option {
    const char *name; /* kebab-case: flag --name, env CAMPSYNC_NAME */
    cfg_type type;
    const char *def; /* default in the same syntax as a value; NULL = unset */
    const char *help;
    unsigned flags;
    int64_t min, max;           /* CFG_INT */
    const char *const *choices; /* CFG_ENUM */
    const char *env;            /* environment variable when it is not
                                   CAMPSYNC_<NAME> (e.g. --redis reads
                                   CAMPSYNC_REDIS_URL) */
} cfg_option;

/* The table ends with an entry whose name is NULL ({0}). Use designated
 * initializers: -Wextra rejects positional ones that leave fields out. */

typedef struct cfg cfg;

typedef struct cfg_error {
    char msg[512];
} cfg_error;

#define CFG_HELP 1

/*
 * Reads the environment and argv[1..argc) against opts (which must outlive
 * the result). Returns 0 with *out set (free with cfg_free), CFG_HELP when
 * --help or -h was given (nothing allocated), or -1 with err set.
 */
int cfg_load(const cfg_option *opts, int argc, char **argv, cfg **out, cfg_error *err);
void cfg_free(cfg *c);

/* Prints usage: every option with its flag, env name, type and default. */
void cfg_help(FILE *f, const char *prog, const cfg_option *opts);

/*
 * Typed getters by option name. Asking for a name not in the table, or with
 * the wrong type, is a programming error and aborts. Strings are owned by
 * the cfg. cfg_str works for every type (the value as given, normalised);
 * it returns NULL for an unset option.
 */
const char *cfg_str(const cfg *c, const char *name);
int cfg_is_set(const cfg *c, const char *name);
int64_t cfg_int(const cfg *c, const char *name);
int cfg_bool(const cfg *c, const char *name);
int64_t cfg_duration_ms(const cfg *c, const char *name);
int cfg_enum(const cfg *c, const char *name); /* index into choices, -1 when unset */
/* Host (without brackets) and port of a CFG_ADDR option; -1 when unset. */
int cfg_addr(const cfg *c, const char *name, const char **host, int *port);

/* Text shown for an option in the effective configuration: the value, "" when
 * unset, "[redacted]" for a set secret (CFG_SECRET, or a name that looks like
 * one to log_key_is_secret, in case the flag was forgotten). Returns the source: "default",
 * "env", "flag", "file" or "unset". */
const char *cfg_display(const cfg *c, const char *name, char *buf, size_t n);
/* Logs the effective configuration (one line per option, secrets redacted). */
void cfg_log(const cfg *c);

#endif
