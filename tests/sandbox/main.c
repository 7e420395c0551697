/*
 * campsync-sandbox: Marketo and Salesforce API simulators behind three
 * loopback listeners, for integration tests and local runs. Flags and wiring
 * only; see sbx_server.c for the HTTP side and README.md for usage.
 */
#include "gen.h"
#include "sbx.h"
#include "sbx_server.h"

#include "log/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* H5's Salesforce simulator may be absent from a build: weak, skipped when
 * NULL. */
extern const sbx_vendor_ops sbx_salesforce_ops __attribute__((weak));

static void usage(FILE *f)
{
    fprintf(f, "usage: campsync-sandbox [--marketo ADDR] [--salesforce ADDR] [--admin ADDR]\n"
               "                        [--dataset FILE | --generate SPEC] [--seed N]\n"
               "                        [--write-dataset FILE] [--log-level LEVEL]\n"
               "  ADDR is HOST:PORT, :PORT or PORT on loopback; port 0 picks a free port.\n"
               "  The bound URLs are printed as one JSON line on stdout.\n"
               "  SPEC: people=N,programs=N,members=N,seed=N (see README.md).\n");
}

int main(int argc, char **argv)
{
    const char *addr[3] = {NULL, NULL, NULL};
    const char *dataset_path = NULL, *spec = NULL, *write_path = NULL;
    const char *level = getenv("CAMPSYNC_LOG_LEVEL");
    uint64_t seed = 1;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "campsync-sandbox: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        if (strcmp(a, "--marketo") == 0)
            addr[SBX_LISTENER_MARKETO] = v;
        else if (strcmp(a, "--salesforce") == 0)
            addr[SBX_LISTENER_SALESFORCE] = v;
        else if (strcmp(a, "--admin") == 0)
            addr[SBX_LISTENER_ADMIN] = v;
        else if (strcmp(a, "--dataset") == 0)
            dataset_path = v;
        else if (strcmp(a, "--generate") == 0)
            spec = v;
        else if (strcmp(a, "--write-dataset") == 0)
            write_path = v;
        else if (strcmp(a, "--log-level") == 0)
            level = v;
        else if (strcmp(a, "--seed") == 0) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(v, &end, 10);
            if (errno || *end || !*v) {
                fprintf(stderr, "campsync-sandbox: --seed must be a non-negative integer\n");
                return 2;
            }
            seed = n;
        } else {
            fprintf(stderr, "campsync-sandbox: unknown flag %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    int lvl = level ? log_level_parse(level) : LOG_INFO;
    if (lvl < 0) {
        fprintf(stderr, "campsync-sandbox: bad log level '%s' (debug, info, warn, error)\n", level);
        return 2;
    }
    log_init("campsync-sandbox", (log_level)lvl);
    if (dataset_path && spec) {
        fprintf(stderr, "campsync-sandbox: give --dataset or --generate, not both\n");
        return 2;
    }

    json_t *dataset = NULL;
    char err[512] = "";
    if (dataset_path) {
        json_error_t jerr;
        dataset = json_load_file(dataset_path, 0, &jerr);
        if (!dataset) {
            fprintf(stderr, "campsync-sandbox: --dataset %s: %s (line %d)\n", dataset_path,
                    jerr.text, jerr.line);
            return 1;
        }
    } else if (spec) {
        dataset = gen_dataset(spec, seed, err, sizeof err);
        if (!dataset) {
            fprintf(stderr, "campsync-sandbox: --generate: %s\n", err);
            return 1;
        }
    }
    if (write_path) {
        if (!dataset) {
            fprintf(stderr, "campsync-sandbox: --write-dataset needs --generate or --dataset\n");
            return 2;
        }
        if (json_dump_file(dataset, write_path, JSON_INDENT(1) | JSON_SORT_KEYS) != 0) {
            fprintf(stderr, "campsync-sandbox: cannot write %s\n", write_path);
            json_decref(dataset);
            return 1;
        }
        if (!addr[0] && !addr[1] && !addr[2]) {
            json_decref(dataset);
            return 0;
        }
    }
    if (!addr[0] && !addr[1] && !addr[2]) {
        fprintf(stderr, "campsync-sandbox: nothing to serve: give --marketo, --salesforce and/or "
                        "--admin\n");
        usage(stderr);
        json_decref(dataset);
        return 2;
    }
    const sbx_vendor_ops *sf = &sbx_salesforce_ops;
    if (addr[SBX_LISTENER_SALESFORCE] && !sf)
        log_kv(LOG_WARN, "this build has no Salesforce simulator: --salesforce ignored", NULL);

    /* Signals are taken with sigwait; block them before any thread starts. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    sbx_server_config cfg = {
        .marketo_addr = addr[SBX_LISTENER_MARKETO],
        .salesforce_addr = addr[SBX_LISTENER_SALESFORCE],
        .admin_addr = addr[SBX_LISTENER_ADMIN],
        .dataset = dataset,
        .seed = seed,
        .marketo = &sbx_marketo_ops,
        .salesforce = sf,
    };
    sbx_server *srv = sbx_server_start(&cfg, err, sizeof err);
    json_decref(dataset);
    if (!srv) {
        log_kv(LOG_ERROR, "cannot start", "error", err, NULL);
        fprintf(stderr, "campsync-sandbox: %s\n", err);
        return 1;
    }
    json_t *line = json_object();
    static const char *const names[3] = {"marketo", "salesforce", "admin"};
    for (int k = 0; k < 3; k++)
        if (sbx_server_url(srv, k)[0])
            json_object_set_new(line, names[k], json_string(sbx_server_url(srv, k)));
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (text) {
        printf("%s\n", text);
        fflush(stdout);
        log_kv(LOG_INFO, "listening", "urls", text, NULL);
        free(text);
    }
    int sig = 0;
    sigwait(&set, &sig);
    log_kv(LOG_INFO, "stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    sbx_server_stop(srv);
    return 0;
}
