/*
 * campsync-marketo: Marketo connector: Marketo REST behind typed gRPC.
 * Wiring only: options, the mkto_client built from them, the handler table.
 */
#include <stdio.h>

#include "campsync/v1/marketo.pb-c.h"
#include "handlers.h"
#include "mkto_client.h"
#include "service/service.h"
#include "service/service_http.h"

static const cfg_option mkto_options[] = {
    {.name = "marketo-url",
     .type = CFG_URL,
     .help = "REST base, e.g. https://123-ABC-456.mktorest.com (the sandbox's URL in tests)",
     .flags = CFG_REQUIRED},
    {.name = "marketo-identity-url",
     .type = CFG_URL,
     .help = "Identity base (default: the REST base + /identity)"},
    {.name = "marketo-client-id",
     .type = CFG_STRING,
     .help = "LaunchPoint service client id (or CAMPSYNC_MARKETO_CLIENT_ID_FILE)",
     .flags = CFG_REQUIRED | CFG_SECRET},
    {.name = "marketo-client-secret",
     .type = CFG_STRING,
     .help = "LaunchPoint service client secret (give it as a file: "
             "CAMPSYNC_MARKETO_CLIENT_SECRET_FILE)",
     .flags = CFG_REQUIRED | CFG_SECRET},
    {.name = "marketo-calls-per-20s",
     .type = CFG_INT,
     .def = "50",
     .help = "calls all replicas together may make per sliding 20 s (Marketo allows 100)",
     .min = 1,
     .max = 100},
    {.name = "marketo-max-concurrent",
     .type = CFG_INT,
     .def = "5",
     .help = "calls in flight across all replicas (Marketo allows 10)",
     .min = 1,
     .max = 10},
    {.name = "marketo-daily-quota",
     .type = CFG_INT,
     .def = "50000",
     .help = "calls per day (resets at midnight US Central); 0 = leave it to Marketo's 607",
     .min = 0,
     .max = 100000000},
    {.name = "marketo-bulk-poll",
     .type = CFG_DURATION_MS,
     .def = "5s",
     .help = "first wait between status polls of a bulk member export (programs over 100,000 "
             "members); doubles up to a minute"},
    {.name = "marketo-timeout-ms",
     .type = CFG_DURATION_MS,
     .def = "30s",
     .help = "time limit of one HTTP attempt"},
    SVC_HTTP_OPTIONS,
    {0}};

static void *mkto_setup(const cfg *c, rpc_server *srv, char *err, size_t n)
{
    (void)srv;
    mkto_client_config mc = {
        .rest_url = cfg_str(c, "marketo-url"),
        .identity_url = cfg_str(c, "marketo-identity-url"),
        .client_id = cfg_str(c, "marketo-client-id"),
        .client_secret = cfg_str(c, "marketo-client-secret"),
        .timeout_ms = (long)cfg_duration_ms(c, "marketo-timeout-ms"),
        .calls_per_20s = (int)cfg_int(c, "marketo-calls-per-20s"),
        .max_concurrent = (int)cfg_int(c, "marketo-max-concurrent"),
        .daily_quota = cfg_int(c, "marketo-daily-quota"),
        .bulk_poll_ms = cfg_duration_ms(c, "marketo-bulk-poll"),
    };
    if (svc_http_check_url(c, "marketo-url", err, n) != 0 ||
        svc_http_check_url(c, "marketo-identity-url", err, n) != 0 ||
        svc_http_start(c, "campsync-marketo", err, n) != 0)
        return NULL;
    void *state = mkto_handlers_state_new(&mc, err, n);
    if (!state)
        svc_http_stop();
    return state;
}

static void mkto_teardown(void *state)
{
    mkto_handlers_state_free(state);
    svc_http_stop();
}

int main(int argc, char **argv)
{
    const svc_def def = {
        .name = "campsync-marketo",
        .summary = "Marketo connector: Marketo REST behind typed gRPC",
        .options = mkto_options,
        .descriptor = &campsync__v1__marketo_connector__descriptor,
        .methods = mkto_methods,
        .n_methods = mkto_n_methods,
        .setup = mkto_setup,
        .teardown = mkto_teardown,
    };
    return svc_main(&def, argc, argv);
}
