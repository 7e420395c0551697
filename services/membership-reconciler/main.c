/*
 * campsync-reconciler: Membership reconciler: two-way Marketo program /
 * Salesforce campaign sync. Wiring only: options, the service state built
 * from them (connector clients, policy, type map), the scheduler thread, the
 * handler table.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "campsync/v1/reconciler.pb-c.h"
#include "recon_svc.h"
#include "service/service.h"

static const char *const policies[] = {"marketo_wins", "salesforce_wins", "latest_wins", NULL};

static const cfg_option rc_options[] = {
    {.name = "marketo-connector",
     .type = CFG_STRING,
     .help = "gRPC target of campsync-marketo, e.g. dns:///campsync-marketo:50051",
     .flags = CFG_REQUIRED},
    {.name = "salesforce-connector",
     .type = CFG_STRING,
     .help = "gRPC target of campsync-salesforce",
     .flags = CFG_REQUIRED},
    {.name = "sync-interval-ms",
     .type = CFG_DURATION_MS,
     .def = "5m",
     .help = "how often every pair is cycled (jittered by 10%); 0 = only on demand (SyncNow)"},
    {.name = "full-read-interval-ms",
     .type = CFG_DURATION_MS,
     .def = "1h",
     .help = "between full reads a cycle first asks both sides whether the pair changed at all "
             "(Marketo activities, Salesforce SystemModstamp) and reads nothing when not; "
             "0 = read in full every cycle"},
    {.name = "conflict-policy",
     .type = CFG_ENUM,
     .def = "marketo_wins",
     .help = "who wins when both sides changed one member",
     .choices = policies},
    {.name = "campaign-sync",
     .type = CFG_BOOL,
     .def = "on",
     .help = "campaign sync switch; while off every sync call fails FAILED_PRECONDITION"},
    {.name = "campaign-type-map",
     .type = CFG_STRING,
     .def = "",
     .help = "program channel -> campaign Type, \"Channel=Type,...\" (unlisted: same name)"},
    {.name = "lock-ttl-ms",
     .type = CFG_DURATION_MS,
     .def = "60s",
     .help = "pair lock lifetime, extended before every batch"},
    {.name = "connector-timeout-ms",
     .type = CFG_DURATION_MS,
     .def = "120s",
     .help = "deadline of one connector call"},
    {0}};

static void free_state(rc_svc *s)
{
    for (size_t i = 0; i < s->n_type_map; i++) {
        free(s->type_map[i].channel);
        free(s->type_map[i].type);
    }
    free(s->type_map);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static int parse_type_map(rc_svc *s, const char *spec, char *err, size_t n)
{
    if (!spec || !spec[0])
        return 0;
    char *copy = strdup(spec), *save = NULL;
    if (!copy)
        return snprintf(err, n, "out of memory"), -1;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1]) {
            snprintf(err, n,
                     "CAMPSYNC_CAMPAIGN_TYPE_MAP: \"%s\" is not Channel=Type (expected "
                     "\"Webinar=Webinar,Tradeshow=Trade Show\")",
                     tok);
            free(copy);
            return -1;
        }
        *eq = '\0';
        rc_type_map_entry *m = realloc(s->type_map, (s->n_type_map + 1) * sizeof *m);
        if (!m) {
            free(copy);
            return snprintf(err, n, "out of memory"), -1;
        }
        s->type_map = m;
        m[s->n_type_map].channel = strdup(tok);
        m[s->n_type_map].type = strdup(eq + 1);
        s->n_type_map++;
    }
    free(copy);
    return 0;
}

static void *rc_setup(const cfg *c, rpc_server *srv, char *err, size_t n)
{
    (void)srv;
    rc_svc *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->interval_ms = cfg_duration_ms(c, "sync-interval-ms");
    s->full_read_ms = cfg_duration_ms(c, "full-read-interval-ms");
    s->policy = (merge_policy)cfg_enum(c, "conflict-policy");
    s->sync_enabled = cfg_bool(c, "campaign-sync") != 0;
    s->lock_ttl_ms = (int)cfg_duration_ms(c, "lock-ttl-ms");
    s->call_timeout_ms = cfg_duration_ms(c, "connector-timeout-ms");
    s->sf_batch = 200;
    s->mkto_batch = 300;
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(s->instance, sizeof s->instance, "%s/%d", host, (int)getpid());
    if (s->lock_ttl_ms < 1000) {
        snprintf(err, n, "CAMPSYNC_LOCK_TTL_MS must be at least 1s");
        free_state(s);
        return NULL;
    }
    if (parse_type_map(s, cfg_str(c, "campaign-type-map"), err, n) != 0) {
        free_state(s);
        return NULL;
    }
    /* Reads may be retried by gRPC; writes are not (the plan's dedup keys
     * and the next read settle a write whose answer was lost). */
    static const char *const mkto_idem[] = {"campsync.v1.MarketoConnector/GetProgram",
                                            "campsync.v1.MarketoConnector/ListChannels",
                                            "campsync.v1.MarketoConnector/StreamProgramMembers",
                                            "campsync.v1.MarketoConnector/GetLeads",
                                            "campsync.v1.MarketoConnector/StreamActivities",
                                            NULL};
    static const char *const sf_idem[] = {"campsync.v1.SalesforceConnector/GetCampaigns",
                                          "campsync.v1.SalesforceConnector/ListMemberStatuses",
                                          "campsync.v1.SalesforceConnector/StreamCampaignMembers",
                                          "campsync.v1.SalesforceConnector/GetLeads",
                                          "campsync.v1.SalesforceConnector/GetContacts",
                                          "campsync.v1.SalesforceConnector/CheckMarketingUser",
                                          NULL};
    rpc_client_opts mo = {.idempotent = mkto_idem,
                          .default_timeout_ms = s->call_timeout_ms,
                          .max_message_bytes = 64u << 20};
    rpc_client_opts so = {.idempotent = sf_idem,
                          .default_timeout_ms = s->call_timeout_ms,
                          .max_message_bytes = 64u << 20};
    rpc_error e = {0};
    s->mkto = rpc_client_get(cfg_str(c, "marketo-connector"), &mo, &e);
    if (s->mkto)
        s->sf = rpc_client_get(cfg_str(c, "salesforce-connector"), &so, &e);
    if (!s->mkto || !s->sf) {
        snprintf(err, n, "connector client: %s", e.message);
        free_state(s);
        return NULL;
    }
    if (s->interval_ms > 0 && rc_scheduler_start(s, err, n) != 0) {
        free_state(s);
        return NULL;
    }
    return s;
}

static void rc_teardown(void *state)
{
    rc_svc *s = state;
    rc_scheduler_stop(s);
    rpc_client_cleanup();
    free_state(s);
}

int main(int argc, char **argv)
{
    /* Every large buffer (the read's string blocks and people arrays, the
     * plan's arrays) gets its own mapping, given back to the system when
     * freed, and pages of it never touched cost nothing. Left alone, glibc
     * raises this threshold after the first such free, and later cycles put
     * those buffers in the heap, where they stay resident and fragmented. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    const svc_def def = {
        .name = "campsync-reconciler",
        .summary = "Membership reconciler: two-way Marketo program / Salesforce campaign sync",
        .options = rc_options,
        .descriptor = &campsync__v1__membership_reconciler__descriptor,
        .methods = rc_methods,
        .n_methods = rc_n_methods,
        .setup = rc_setup,
        .teardown = rc_teardown,
    };
    return svc_main(&def, argc, argv);
}
