/*
 * campsyncctl: the operator's command line over gRPC. Each command is one
 * row of the table below; `campsyncctl help` lists them and
 * `campsyncctl COMMAND --help` explains one.
 *
 * Exit codes: see ctl.h (0 ok, 1 service error, 2 usage, 3 unreachable,
 * 4 not serving, 5 partial batch failure).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_out.h"
#include "grpc/health/v1/health.pb-c.h"

rpc_client *ctl_client(const ctl_globals *g, const char *target)
{
    rpc_error err = {0};
    rpc_client_opts co = {.default_timeout_ms = g->timeout_ms, .bearer_token = g->token};
    rpc_client *c = rpc_client_get(target, &co, &err);
    if (!c)
        fprintf(stderr, "campsyncctl: %s: %s\n", target, err.message);
    return c;
}

int ctl_fail(const ctl_globals *g, const char *what, const rpc_error *err)
{
    if (g->json)
        ctl_print_json(json_pack("{s:s, s:s, s:s}", "call", what, "code",
                                 rpc_status_name(err->code), "error", err->message));
    else
        fprintf(stderr, "campsyncctl: %s: %s: %s\n", what, rpc_status_name(err->code),
                err->message);
    return err->code == GRPC_STATUS_UNAVAILABLE || err->code == GRPC_STATUS_DEADLINE_EXCEEDED
               ? CTL_UNREACHABLE
               : CTL_RPC_ERROR;
}

int ctl_parse_count(const char *s, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 0) {
        fprintf(stderr, "campsyncctl: \"%s\" is not a number (0 or more)\n", s);
        return -1;
    }
    *out = v;
    return 0;
}

int ctl_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

static const char *serving_name(int status)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &grpc__health__v1__health_check_response__serving_status__descriptor, status);
    return v ? v->name : "UNKNOWN";
}

static int cmd_health(const ctl_globals *g, int argc, char **argv)
{
    if (ctl_wants_help(argc, argv)) {
        printf("usage: campsyncctl [--target ADDR] health [SERVICE]\n"
               "  Asks grpc.health.v1.Health/Check for SERVICE (default \"\": the whole\n"
               "  server; \"liveness\" for the process only). Exit 0 when SERVING,\n"
               "  4 when not, 3 when the server cannot be reached.\n");
        return CTL_OK;
    }
    const char *service = argc > 1 ? argv[1] : "";
    rpc_client *c = ctl_client(g, g->target);
    if (!c)
        return CTL_USAGE;
    rpc_error err = {0};
    Grpc__Health__V1__HealthCheckRequest rq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    rq.service = (char *)service;
    ProtobufCMessage *out = NULL;
    if (rpc_client_unary(c, &grpc__health__v1__health__descriptor, "Check", &rq.base, &out, NULL,
                         &err) != 0)
        return ctl_fail(g, "health", &err);
    int status = ((Grpc__Health__V1__HealthCheckResponse *)out)->status;
    protobuf_c_message_free_unpacked(out, NULL);
    if (g->json)
        ctl_print_json(json_pack("{s:s, s:s, s:s}", "target", g->target, "service", service,
                                 "status", serving_name(status)));
    else
        printf("%-24s %-36s %s\n", g->target, service[0] ? service : "(server)",
               serving_name(status));
    return status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
               ? CTL_OK
               : CTL_NOT_SERVING;
}

struct ctl_command {
    const char *name;
    const char *summary;
    ctl_cmd_fn run;
};

static const struct ctl_command commands[] = {
    {"health", "check a service's gRPC health (--target)", cmd_health},
    {"pairs", "list linked program/campaign pairs", ctl_pairs},
    {"link", "link a program to a campaign", ctl_link},
    {"unlink", "remove a link", ctl_unlink},
    {"sync", "run a sync cycle now, with progress", ctl_sync},
    {"dry-run", "show the plan of a cycle without writing", ctl_dry_run},
    {"cycles", "cycle records of a pair", ctl_cycles},
    {"events", "watch membership events", ctl_events},
    {"is-member", "the \"Member of SFDC Campaign\" filter", ctl_is_member},
    {"add-to-campaign", "flow action: add people to a campaign", ctl_add_to_campaign},
    {"remove-from-campaign", "flow action: remove people from a campaign",
     ctl_remove_from_campaign},
    {"change-status", "flow action: change people's campaign status", ctl_change_status},
    {"mapping", "read or set the offline channel mapping", ctl_mapping},
    {"refresh", "recompute offline touchpoints", ctl_refresh},
    {"touchpoints", "list touchpoints", ctl_touchpoints},
    {"bulk-date", "set the Buyer Touchpoint Date of campaign members", ctl_bulk_date},
    {"attribute", "attribution of opportunities under a model", ctl_attribute},
    {"report", "revenue by channel/subchannel/campaign under a model", ctl_report},
    {"export", "upsert touchpoints and attribution to Salesforce", ctl_export},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: campsyncctl [global options] COMMAND [ARGS]\n\n"
               "global options:\n"
               "  --reconciler ADDR  membership reconciler (env CAMPSYNC_RECONCILER,\n"
               "                     default 127.0.0.1:50053)\n"
               "  --attribution ADDR touchpoint attribution (env CAMPSYNC_ATTRIBUTION,\n"
               "                     default 127.0.0.1:50054)\n"
               "  --target ADDR      any service, for health (env CAMPSYNC_TARGET)\n"
               "  --token-file FILE  bearer token for services that require one\n"
               "  --timeout-ms N     deadline of each call (default 30000)\n"
               "  --json             one JSON document per line, for scripts\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-21s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`campsyncctl COMMAND --help` explains one command.\n"
               "exit codes: 0 ok, 1 the service answered with an error (is-member: not a\n"
               "member), 2 bad usage, 3 service unreachable, 4 not serving, 5 some records\n"
               "of a batch failed.\n");
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

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && v[0] ? v : def;
}

int main(int argc, char **argv)
{
    ctl_globals g = {.target = env_or("CAMPSYNC_TARGET", "127.0.0.1:50051"),
                     .reconciler = env_or("CAMPSYNC_RECONCILER", "127.0.0.1:50053"),
                     .attribution = env_or("CAMPSYNC_ATTRIBUTION", "127.0.0.1:50054"),
                     .timeout_ms = 30000};
    char *token = NULL;
    int rc = -1;
    static const struct option longopts[] = {{"target", required_argument, NULL, 't'},
                                             {"reconciler", required_argument, NULL, 'r'},
                                             {"attribution", required_argument, NULL, 'a'},
                                             {"token-file", required_argument, NULL, 'k'},
                                             {"timeout-ms", required_argument, NULL, 'T'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "+t:r:a:k:T:jh", longopts, NULL)) != -1) {
        switch (opt) {
        case 't':
            g.target = optarg;
            break;
        case 'r':
            g.reconciler = optarg;
            break;
        case 'a':
            g.attribution = optarg;
            break;
        case 'k':
            free(token);
            token = read_token(optarg);
            if (!token) {
                fprintf(stderr, "campsyncctl: cannot read --token-file %s\n", optarg);
                rc = CTL_USAGE;
                goto out;
            }
            break;
        case 'T':
            if (ctl_parse_count(optarg, &g.timeout_ms) != 0 || g.timeout_ms <= 0) {
                fprintf(stderr, "campsyncctl: --timeout-ms must be a positive number\n");
                rc = CTL_USAGE;
                goto out;
            }
            break;
        case 'j':
            g.json = 1;
            break;
        case 'h':
            usage(stdout);
            rc = CTL_OK;
            goto out;
        default:
            usage(stderr);
            rc = CTL_USAGE;
            goto out;
        }
    }
    g.token = token;
    if (optind >= argc || strcmp(argv[optind], "help") == 0) {
        usage(optind >= argc ? stderr : stdout);
        rc = optind >= argc ? CTL_USAGE : CTL_OK;
        goto out;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[optind], commands[i].name) == 0)
            rc = commands[i].run(&g, argc - optind, argv + optind);
    if (rc < 0) {
        fprintf(stderr, "campsyncctl: unknown command \"%s\"\n\n", argv[optind]);
        usage(stderr);
        rc = CTL_USAGE;
    }
    rpc_client_cleanup();
out:
    free(token);
    return rc;
}
