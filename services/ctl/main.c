/*
 * campsyncctl: the operator's command line over gRPC. Each command is one
 * row of the table below; `campsyncctl help` lists them and
 * `campsyncctl COMMAND --help` explains one.
 *
 * Exit codes: 0 ok, 1 the service answered with an error, 2 bad usage,
 * 3 the service could not be reached, 4 a health check found NOT_SERVING.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "grpc/health/v1/health.pb-c.h"
#include "rpc/rpc_client.h"

enum { EXIT_OK = 0, EXIT_RPC = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_NOT_SERVING = 4 };

struct ctl_globals {
    const char *target;
    const char *token;
    long timeout_ms;
    int json;
};

static int exit_for(const rpc_error *err)
{
    return err->code == GRPC_STATUS_UNAVAILABLE || err->code == GRPC_STATUS_DEADLINE_EXCEEDED
               ? EXIT_UNREACHABLE
               : EXIT_RPC;
}

static const char *serving_name(int status)
{
    switch (status) {
    case GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING:
        return "SERVING";
    case GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING:
        return "NOT_SERVING";
    case GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN:
        return "SERVICE_UNKNOWN";
    default:
        return "UNKNOWN";
    }
}

/* Prints one JSON document per line (--json) and frees it. */
static void print_json(json_t *j)
{
    if (j)
        json_dumpf(j, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(j);
}

static int cmd_health(const struct ctl_globals *g, int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: campsyncctl [--target ADDR] health [SERVICE]\n"
               "  Asks grpc.health.v1.Health/Check for SERVICE (default \"\": the whole\n"
               "  server; \"liveness\" for the process only). Exit 0 when SERVING,\n"
               "  4 when not, 3 when the server cannot be reached.\n");
        return EXIT_OK;
    }
    const char *service = argc > 1 ? argv[1] : "";
    rpc_error err = {0};
    rpc_client_opts co = {.default_timeout_ms = g->timeout_ms, .bearer_token = g->token};
    rpc_client *c = rpc_client_get(g->target, &co, &err);
    if (!c) {
        fprintf(stderr, "campsyncctl: %s\n", err.message);
        return EXIT_USAGE;
    }
    Grpc__Health__V1__HealthCheckRequest rq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    rq.service = (char *)service;
    ProtobufCMessage *out = NULL;
    if (rpc_client_unary(c, &grpc__health__v1__health__descriptor, "Check", &rq.base, &out, NULL,
                         &err) != 0) {
        if (g->json)
            print_json(json_pack("{s:s, s:s, s:s, s:s}", "target", g->target, "service", service,
                                 "code", rpc_status_name(err.code), "error", err.message));
        else
            fprintf(stderr, "campsyncctl: %s: %s: %s\n", g->target, rpc_status_name(err.code),
                    err.message);
        return exit_for(&err);
    }
    int status = ((Grpc__Health__V1__HealthCheckResponse *)out)->status;
    protobuf_c_message_free_unpacked(out, NULL);
    if (g->json)
        print_json(json_pack("{s:s, s:s, s:s}", "target", g->target, "service", service, "status",
                             serving_name(status)));
    else
        printf("%-24s %-36s %s\n", g->target, service[0] ? service : "(server)",
               serving_name(status));
    return status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
               ? EXIT_OK
               : EXIT_NOT_SERVING;
}

struct ctl_command {
    const char *name;
    const char *summary;
    int (*run)(const struct ctl_globals *g, int argc, char **argv);
};

static const struct ctl_command commands[] = {
    {"health", "check a service's gRPC health", cmd_health},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: campsyncctl [--target ADDR] [--token-file FILE] [--timeout-ms N] [--json]\n"
               "                   COMMAND [ARGS]\n\n"
               "  --target ADDR     gRPC target (env CAMPSYNC_TARGET, default 127.0.0.1:50051)\n"
               "  --token-file FILE bearer token for services that require one\n"
               "  --timeout-ms N    deadline of each call (default 10000)\n"
               "  --json            machine-readable output\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`campsyncctl COMMAND --help` explains one command.\n");
}

static char *read_token(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    return strdup(buf);
}

int main(int argc, char **argv)
{
    struct ctl_globals g = {.target = getenv("CAMPSYNC_TARGET"), .timeout_ms = 10000};
    if (!g.target)
        g.target = "127.0.0.1:50051";
    char *token = NULL;
    static const struct option longopts[] = {{"target", required_argument, NULL, 't'},
                                             {"token-file", required_argument, NULL, 'k'},
                                             {"timeout-ms", required_argument, NULL, 'T'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "+t:k:T:jh", longopts, NULL)) != -1) {
        switch (opt) {
        case 't':
            g.target = optarg;
            break;
        case 'k':
            free(token);
            token = read_token(optarg);
            if (!token) {
                fprintf(stderr, "campsyncctl: cannot read --token-file %s\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'T':
            g.timeout_ms = strtol(optarg, NULL, 10);
            if (g.timeout_ms <= 0) {
                fprintf(stderr, "campsyncctl: --timeout-ms must be a positive number\n");
                return EXIT_USAGE;
            }
            break;
        case 'j':
            g.json = 1;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    g.token = token;
    if (optind >= argc || strcmp(argv[optind], "help") == 0) {
        usage(optind >= argc ? stderr : stdout);
        return optind >= argc ? EXIT_USAGE : EXIT_OK;
    }
    int rc = -1;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[optind], commands[i].name) == 0)
            rc = commands[i].run(&g, argc - optind, argv + optind);
    if (rc < 0) {
        fprintf(stderr, "campsyncctl: unknown command \"%s\"\n\n", argv[optind]);
        usage(stderr);
        rc = EXIT_USAGE;
    }
    rpc_client_cleanup();
    free(token);
    return rc;
}
