/*
 * campsync-attribution: offline buyer touchpoints and revenue attribution.
 * Wiring only: options, the service state built from them (asvc.h), the
 * background threads, the handler table. The shared start-up lives in
 * common/service.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asvc.h"
#include "campsync/v1/attribution.pb-c.h"
#include "service/service.h"

const char *const asvc_export_defaults[AX_COUNT] = {
    [AX_TP_ID] = "Touchpoint_Id__c",
    [AX_TP_CAMPAIGN] = "Campaign__c",
    [AX_TP_MEMBER] = "Campaign_Member_Id__c",
    [AX_TP_LEAD] = "Lead__c",
    [AX_TP_CONTACT] = "Contact__c",
    [AX_TP_EMAIL] = "Email__c",
    [AX_TP_ACCOUNT] = "Account__c",
    [AX_TP_DATE] = "Touchpoint_Date__c",
    [AX_TP_CHANNEL] = "Channel__c",
    [AX_TP_SUBCHANNEL] = "Subchannel__c",
    [AX_TP_MEDIUM] = "Medium__c",
    [AX_TP_AD_ID] = "Ad_Campaign_Id__c",
    [AX_TP_AD_NAME] = "Ad_Campaign_Name__c",
    [AX_TP_SOURCE] = "Touchpoint_Source__c",
    [AX_TP_TYPE] = "Touchpoint_Type__c",
    [AX_AT_ID] = "Attribution_Id__c",
    [AX_AT_OPPORTUNITY] = "Opportunity__c",
    [AX_AT_TOUCHPOINT] = "Touchpoint_Id__c",
    [AX_AT_MODEL] = "Model__c",
    [AX_AT_POSITION] = "Position__c",
    [AX_AT_WEIGHT] = "Weight__c",
    [AX_AT_REVENUE] = "Revenue__c",
    [AX_AT_DATE] = "Touchpoint_Date__c",
    [AX_AT_CONTACT] = "Contact__c",
};

static const cfg_option attr_options[] = {
    {.name = "salesforce-connector",
     .type = CFG_STRING,
     .help = "gRPC target of campsync-salesforce, e.g. dns:///salesforce:50051",
     .flags = CFG_REQUIRED},
    {.name = "reconciler",
     .type = CFG_STRING,
     .help = "gRPC target of campsync-reconciler: refresh a campaign as soon as its membership "
             "changes (unset = only periodic and on-demand refreshes)"},
    {.name = "downstream-token",
     .type = CFG_STRING,
     .help = "bearer token sent to the connector and the reconciler (default: this service's "
             "own auth-token, one token for the whole deployment)",
     .flags = CFG_SECRET},
    {.name = "attribution-refresh-interval",
     .type = CFG_DURATION_MS,
     .def = "5m",
     .help = "incremental refresh period (changes since the last run); 0 = off"},
    {.name = "attribution-full-refresh-interval",
     .type = CFG_DURATION_MS,
     .def = "6h",
     .help = "full refresh period (every campaign and member re-read); 0 = off"},
    {.name = "attribution-connector-timeout",
     .type = CFG_DURATION_MS,
     .def = "120s",
     .help = "deadline of one call to the Salesforce connector"},
    {.name = "attribution-lock-ttl",
     .type = CFG_DURATION_MS,
     .def = "5m",
     .help = "lifetime of a campaign's refresh lock (a crashed holder's lock expires)"},
    {.name = "attribution-watermark-overlap",
     .type = CFG_DURATION_MS,
     .def = "60s",
     .help = "incremental reads start this long before the last SystemModstamp seen"},
    {.name = "sf-field-buyer-touchpoint-date",
     .type = CFG_STRING,
     .def = "Buyer_Touchpoint_Date__c",
     .help = "CampaignMember field BulkUpdateTouchpointDate writes; the same variable tells the "
             "connector which field to read, so one setting serves both"},
    {.name = "attribution-dormant-after",
     .type = CFG_DURATION_MS,
     .def = "720h",
     .help = "incremental passes stop polling a campaign whose members have not changed for "
             "this long (each poll is a Salesforce API call); full passes, reconciler events and "
             "RefreshTouchpoints still read it; 0 = always poll"},
    {.name = "touchpoint-object",
     .type = CFG_STRING,
     .def = "Buyer_Touchpoint__c",
     .help = "Salesforce object touchpoints are exported to"},
    {.name = "attribution-touchpoint-object",
     .type = CFG_STRING,
     .def = "Buyer_Attribution_Touchpoint__c",
     .help = "Salesforce object attribution touchpoints are exported to"},
    {.name = "export-field-names",
     .type = CFG_STRING,
     .def = "",
     .help = "renames export fields: comma-separated Default__c=Yours__c pairs (defaults are "
             "the sandbox's; the touchpoint and attribution objects share the list)"},
    {0}};

/* Applies "Default__c=Yours__c,..." to both objects' field names. */
static int apply_field_names(asvc *s, const char *spec, char *err, size_t n)
{
    for (int i = 0; i < AX_COUNT; i++)
        s->export_names[i] = asvc_export_defaults[i];
    if (!spec || !spec[0])
        return 0;
    s->export_names_buf = strdup(spec);
    if (!s->export_names_buf) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    char *save = NULL;
    for (char *pair = strtok_r(s->export_names_buf, ",", &save); pair;
         pair = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq || eq == pair || !eq[1]) {
            snprintf(err, n, "CAMPSYNC_EXPORT_FIELD_NAMES: \"%s\" is not Default__c=Yours__c",
                     pair);
            return -1;
        }
        *eq = 0;
        int hit = 0;
        for (int i = 0; i < AX_COUNT; i++)
            if (strcmp(asvc_export_defaults[i], pair) == 0) {
                s->export_names[i] = eq + 1;
                hit = 1;
            }
        if (!hit) {
            snprintf(err, n, "CAMPSYNC_EXPORT_FIELD_NAMES: \"%s\" is not an export field", pair);
            return -1;
        }
    }
    return 0;
}

static void attr_teardown(void *state)
{
    asvc *s = state;
    if (!s)
        return;
    asvc_stop_threads(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->connector_target);
    free(s->reconciler_target);
    free(s->tp_object);
    free(s->at_object);
    free(s->btd_field);
    free(s->export_names_buf);
    free(s);
}

static void *attr_setup(const cfg *c, rpc_server *srv, char *err, size_t n)
{
    (void)srv;
    asvc *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    const char *recon = cfg_str(c, "reconciler");
    s->connector_target = strdup(cfg_str(c, "salesforce-connector"));
    s->reconciler_target = recon && recon[0] ? strdup(recon) : NULL;
    s->tp_object = strdup(cfg_str(c, "touchpoint-object"));
    s->at_object = strdup(cfg_str(c, "attribution-touchpoint-object"));
    s->btd_field = strdup(cfg_str(c, "sf-field-buyer-touchpoint-date"));
    s->refresh_interval_ms = cfg_duration_ms(c, "attribution-refresh-interval");
    s->full_refresh_interval_ms = cfg_duration_ms(c, "attribution-full-refresh-interval");
    s->connector_timeout_ms = cfg_duration_ms(c, "attribution-connector-timeout");
    s->lock_ttl_ms = cfg_duration_ms(c, "attribution-lock-ttl");
    s->overlap_ms = cfg_duration_ms(c, "attribution-watermark-overlap");
    s->dormant_after_ms = cfg_duration_ms(c, "attribution-dormant-after");
    if (!s->connector_target || !s->tp_object || !s->at_object || !s->btd_field ||
        (recon && recon[0] && !s->reconciler_target)) {
        snprintf(err, n, "out of memory");
        goto fail;
    }
    if (s->connector_timeout_ms <= 0 || s->lock_ttl_ms < 1000) {
        snprintf(err, n,
                 "CAMPSYNC_ATTRIBUTION_CONNECTOR_TIMEOUT must be > 0 and "
                 "CAMPSYNC_ATTRIBUTION_LOCK_TTL at least 1s");
        goto fail;
    }
    if (apply_field_names(s, cfg_str(c, "export-field-names"), err, n) != 0)
        goto fail;
    /* The connector's read methods are idempotent; its writes are too (by
     * id / external id), so every method may be retried on UNAVAILABLE. */
    static const char *const idem[] = {"campsync.v1.SalesforceConnector", NULL};
    const char *token = cfg_str(c, "downstream-token");
    if (!token || !token[0])
        token = cfg_str(c, "auth-token");
    rpc_client_opts co = {.idempotent = idem,
                          .default_timeout_ms = s->connector_timeout_ms,
                          .bearer_token = token && token[0] ? token : NULL};
    rpc_error re = {0};
    s->sf = rpc_client_get(s->connector_target, &co, &re);
    if (!s->sf) {
        snprintf(err, n, "CAMPSYNC_SALESFORCE_CONNECTOR: %s", re.message);
        goto fail;
    }
    if (s->reconciler_target) {
        rpc_client_opts ro = {.default_timeout_ms = 10000, .bearer_token = co.bearer_token};
        s->recon = rpc_client_get(s->reconciler_target, &ro, &re);
        if (!s->recon) {
            snprintf(err, n, "CAMPSYNC_RECONCILER: %s", re.message);
            goto fail;
        }
    }
    if (asvc_start_threads(s, err, n) != 0)
        goto fail;
    return s;
fail:
    attr_teardown(s);
    return NULL;
}

int main(int argc, char **argv)
{
    const svc_def def = {
        .name = "campsync-attribution",
        .summary = "Touchpoint attribution: offline touchpoints and revenue attribution",
        .options = attr_options,
        .descriptor = &campsync__v1__touchpoint_attribution__descriptor,
        .methods = asvc_methods,
        .n_methods = asvc_n_methods,
        .setup = attr_setup,
        .teardown = attr_teardown,
    };
    return svc_main(&def, argc, argv);
}
