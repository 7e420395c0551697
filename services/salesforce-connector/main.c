/*
 * campsync-salesforce: Salesforce connector: Salesforce REST behind typed gRPC.
 * Wiring only: options, the sf_client built from them, the handler table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campsync/v1/salesforce.pb-c.h"
#include "handlers.h"
#include "service/service.h"
#include "service/service_http.h"
#include "sf_client.h"
#include "sf_fields.h"

static const cfg_option sf_options[] = {
    {.name = "salesforce-login-url",
     .type = CFG_URL,
     .def = "https://login.salesforce.com",
     .help = "OAuth login base (the sandbox's URL in tests)"},
    {.name = "salesforce-api-version",
     .type = CFG_STRING,
     .def = "60.0",
     .help = "REST API version, e.g. 60.0"},
    {.name = "salesforce-client-id",
     .type = CFG_STRING,
     .help = "connected app consumer key",
     .flags = CFG_REQUIRED | CFG_SECRET},
    {.name = "salesforce-client-secret",
     .type = CFG_STRING,
     .help = "consumer secret (client-credentials flow)",
     .flags = CFG_SECRET},
    {.name = "salesforce-jwt-key",
     .type = CFG_STRING,
     .help = "RS256 private key, PEM (JWT bearer flow)",
     .flags = CFG_SECRET},
    {.name = "salesforce-username",
     .type = CFG_STRING,
     .help = "integration user's username (JWT bearer flow)"},
    {.name = "salesforce-limit-share",
     .type = CFG_STRING,
     .def = "0.9",
     .help = "share of the org's daily API limit campsync may use before refusing new work"},
    {.name = "salesforce-limit-recheck-ms",
     .type = CFG_DURATION_MS,
     .def = "60s",
     .help = "a refusal for the daily limit based on an older usage figure lets one call "
             "through to learn the current usage"},
    {.name = "sf-field-enable-buyer-touchpoints",
     .type = CFG_STRING,
     .def = "Enable_Buyer_Touchpoints__c",
     .help =
         "Campaign picklist: Include All / Include \"Responded\" / Exclude All Campaign Members"},
    {.name = "sf-field-touchpoint-start-date",
     .type = CFG_STRING,
     .def = "Touchpoint_Start_Date__c",
     .help = "Campaign date before which members get no touchpoint"},
    {.name = "sf-field-touchpoint-end-date",
     .type = CFG_STRING,
     .def = "Touchpoint_End_Date__c",
     .help = "Campaign date from which members get no touchpoint"},
    {.name = "sf-field-buyer-touchpoint-date",
     .type = CFG_STRING,
     .def = "Buyer_Touchpoint_Date__c",
     .help = "CampaignMember date overriding the touchpoint date"},
    {.name = "salesforce-timeout-ms",
     .type = CFG_DURATION_MS,
     .def = "30s",
     .help = "time limit of one HTTP attempt"},
    SVC_HTTP_OPTIONS,
    {0}};

static void *sf_setup(const cfg *c, rpc_server *srv, char *err, size_t n)
{
    (void)srv;
    char *end = NULL;
    const char *share_s = cfg_str(c, "salesforce-limit-share");
    double share = strtod(share_s, &end);
    if (!end || *end || share <= 0 || share > 1) {
        snprintf(err, n, "CAMPSYNC_SALESFORCE_LIMIT_SHARE: \"%s\" is not a share in (0, 1]",
                 share_s);
        return NULL;
    }
    sf_field_names names = {
        .enable_buyer_touchpoints = cfg_str(c, "sf-field-enable-buyer-touchpoints"),
        .touchpoint_start_date = cfg_str(c, "sf-field-touchpoint-start-date"),
        .touchpoint_end_date = cfg_str(c, "sf-field-touchpoint-end-date"),
        .buyer_touchpoint_date = cfg_str(c, "sf-field-buyer-touchpoint-date"),
    };
    sf_err fe = {{0}};
    if (sf_fields_set(&names, &fe) != 0) {
        snprintf(err, n, "CAMPSYNC_SF_FIELD_*: %s", fe.msg);
        return NULL;
    }
    const char *version = cfg_str(c, "salesforce-api-version");
    char vpath[32];
    snprintf(vpath, sizeof vpath, "%s%s", version[0] == 'v' ? "" : "v", version);
    sf_client_config sc = {
        .login_url = cfg_str(c, "salesforce-login-url"),
        .api_version = vpath,
        .client_id = cfg_str(c, "salesforce-client-id"),
        .client_secret = cfg_str(c, "salesforce-client-secret"),
        .jwt_key_pem = cfg_str(c, "salesforce-jwt-key"),
        .username = cfg_str(c, "salesforce-username"),
        .limit_share_pct = share * 100.0,
        .limit_recheck_ms = (long)cfg_duration_ms(c, "salesforce-limit-recheck-ms"),
        .timeout_ms = (long)cfg_duration_ms(c, "salesforce-timeout-ms"),
    };
    if (svc_http_check_url(c, "salesforce-login-url", err, n) != 0 ||
        svc_http_start(c, "campsync-salesforce", err, n) != 0)
        return NULL;
    sf_client *client = sf_client_new(&sc, err, n);
    if (!client)
        svc_http_stop();
    return client;
}

static void sf_teardown(void *state)
{
    sf_client_free(state);
    svc_http_stop();
}

int main(int argc, char **argv)
{
    const svc_def def = {
        .name = "campsync-salesforce",
        .summary = "Salesforce connector: Salesforce REST behind typed gRPC",
        .options = sf_options,
        .descriptor = &campsync__v1__salesforce_connector__descriptor,
        .methods = sf_methods,
        .n_methods = sf_n_methods,
        .setup = sf_setup,
        .teardown = sf_teardown,
    };
    return svc_main(&def, argc, argv);
}
