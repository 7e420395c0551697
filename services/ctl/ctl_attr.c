/*
 * campsyncctl commands served by campsync.v1.TouchpointAttribution: the
 * channel mapping, touchpoint refresh and listing, the bulk touchpoint date,
 * attribution per opportunity, reports and the export to Salesforce.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "campsync/v1/attribution.pb-c.h"
#include "ctl.h"
#include "ctl_out.h"

#define ATTR (&campsync__v1__touchpoint_attribution__descriptor)

static int unary(const ctl_globals *g, const char *method, const ProtobufCMessage *rq,
                 ProtobufCMessage **out)
{
    rpc_client *c = ctl_client(g, g->attribution);
    if (!c)
        return CTL_USAGE;
    rpc_error err = {0};
    if (rpc_client_unary(c, ATTR, method, rq, out, NULL, &err) != 0)
        return ctl_fail(g, method, &err);
    return CTL_OK;
}

/* "YYYY-MM-DD" -> epoch ms at midnight UTC; -1 when malformed. */
static int64_t parse_date(const char *s)
{
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    if (!end || *end)
        return -1;
    return (int64_t)timegm(&tm) * 1000;
}

/* A date option as the service's bound: its midnight UTC, or with
 * through_day the next midnight, so "--to D" includes day D (the services
 * treat to_ms as exclusive). */
static int date_arg(const char *flag, const char *s, int through_day, int64_t *ms)
{
    *ms = parse_date(s);
    if (*ms < 0) {
        fprintf(stderr, "campsyncctl: %s wants a date YYYY-MM-DD, got \"%s\"\n", flag, s);
        return -1;
    }
    if (through_day)
        *ms += 86400000LL;
    return 0;
}

static int parse_model(const char *s, Campsync__V1__Model *m)
{
    const ProtobufCEnumValue *v = NULL;
    char upper[64];
    size_t i = 0;
    for (; s[i] && i < sizeof upper - 1; i++)
        upper[i] = (char)(s[i] == '-' ? '_' : (s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]));
    upper[i] = '\0';
    v = protobuf_c_enum_descriptor_get_value_by_name(&campsync__v1__model__descriptor, upper);
    if (!v || v->value == 0) {
        fprintf(stderr,
                "campsyncctl: unknown model \"%s\" (first_touch, lead_creation, "
                "u_shaped, w_shaped, full_path, custom, linear, time_decay, "
                "data_driven)\n",
                s);
        return -1;
    }
    *m = (Campsync__V1__Model)v->value;
    return 0;
}

/* "FT,LC,OC,CW,MIDDLE" in basis points (summing to 10000) -> the CUSTOM
 * model's weights. 0 or -1 with a message. */
static int parse_custom(const char *s, Campsync__V1__CustomWeights *w)
{
    int ft, lc, oc, cw, mid, used = -1;
    if (sscanf(s, "%d,%d,%d,%d,%d%n", &ft, &lc, &oc, &cw, &mid, &used) != 5 || s[used] != '\0' ||
        ft < 0 || lc < 0 || oc < 0 || cw < 0 || mid < 0) {
        fprintf(stderr,
                "campsyncctl: --custom wants FT,LC,OC,CW,MIDDLE in basis points (e.g. "
                "2500,2500,2000,2000,1000), got \"%s\"\n",
                s);
        return -1;
    }
    w->ft_bp = ft;
    w->lc_bp = lc;
    w->oc_bp = oc;
    w->cw_bp = cw;
    w->middle_bp = mid;
    return 0;
}

/* A positive number of days for --half-life-days. */
static int parse_half_life(const char *s, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!*s || *end || !(v > 0)) {
        fprintf(stderr, "campsyncctl: --half-life-days wants a positive number, got \"%s\"\n", s);
        return -1;
    }
    *out = v;
    return 0;
}

static void print_mapping(const Campsync__V1__ChannelMapping *m)
{
    static const char *const h[] = {"CAMPAIGN TYPE", "CHANNEL", "SUBCHANNEL"};
    ctl_table *t = ctl_table_new(h, 3);
    for (size_t i = 0; i < m->n_rules; i++)
        ctl_table_row(t, m->rules[i]->campaign_type, m->rules[i]->channel, m->rules[i]->subchannel);
    ctl_table_print(t);
}

int ctl_mapping(const ctl_globals *g, int argc, char **argv)
{
    static const char usage[] =
        "usage: campsyncctl mapping [get]\n"
        "       campsyncctl mapping set TYPE=CHANNEL/SUBCHANNEL...\n"
        "  Reads or replaces the offline channel mapping (campaign Type -> channel,\n"
        "  subchannel). One Type maps to one subchannel and back; Types left out are\n"
        "  online campaigns and get no offline touchpoints.\n";
    if (ctl_wants_help(argc, argv)) {
        printf("%s", usage);
        return CTL_OK;
    }
    ProtobufCMessage *out = NULL;
    int rc;
    if (argc == 1 || strcmp(argv[1], "get") == 0) {
        Campsync__V1__Empty rq = CAMPSYNC__V1__EMPTY__INIT;
        rc = unary(g, "GetChannelMapping", &rq.base, &out);
    } else if (strcmp(argv[1], "set") == 0) {
        /* An empty mapping would turn every campaign online: not from a typo. */
        if (argc < 3) {
            fputs(usage, stderr);
            return CTL_USAGE;
        }
        size_t n = (size_t)(argc - 2);
        Campsync__V1__ChannelRule *rules = calloc(n ? n : 1, sizeof *rules);
        Campsync__V1__ChannelRule **ptrs = calloc(n ? n : 1, sizeof *ptrs);
        char **copies = calloc(n ? n : 1, sizeof *copies);
        rc = CTL_OK;
        for (size_t i = 0; i < n && rc == CTL_OK; i++) {
            campsync__v1__channel_rule__init(&rules[i]);
            copies[i] = strdup(argv[2 + i]);
            char *eq = strchr(copies[i], '='), *slash = eq ? strchr(eq, '/') : NULL;
            if (!eq || !slash) {
                fprintf(stderr, "campsyncctl: \"%s\" is not TYPE=CHANNEL/SUBCHANNEL\n",
                        argv[2 + i]);
                rc = CTL_USAGE;
                break;
            }
            *eq = *slash = '\0';
            rules[i].campaign_type = copies[i];
            rules[i].channel = eq + 1;
            rules[i].subchannel = slash + 1;
            ptrs[i] = &rules[i];
        }
        if (rc == CTL_OK) {
            Campsync__V1__ChannelMapping rq = CAMPSYNC__V1__CHANNEL_MAPPING__INIT;
            rq.rules = ptrs;
            rq.n_rules = n;
            rc = unary(g, "SetChannelMapping", &rq.base, &out);
        }
        for (size_t i = 0; i < n; i++)
            free(copies[i]);
        free(copies);
        free(ptrs);
        free(rules);
    } else {
        fputs(usage, stderr);
        return CTL_USAGE;
    }
    if (rc)
        return rc;
    if (g->json)
        ctl_print_json(ctl_pb_to_json(out));
    else
        print_mapping((const void *)out);
    protobuf_c_message_free_unpacked(out, NULL);
    return CTL_OK;
}

int ctl_refresh(const ctl_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"full", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    Campsync__V1__RefreshRequest rq = CAMPSYNC__V1__REFRESH_REQUEST__INIT;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        if (o == 'f')
            rq.full = 1;
        else {
            fprintf(o == 'h' ? stdout : stderr,
                    "usage: campsyncctl refresh [--full] [CAMPAIGN_ID...]\n"
                    "  Recomputes offline touchpoints (every campaign when none named).\n");
            return o == 'h' ? CTL_OK : CTL_USAGE;
        }
    }
    rq.campaign_ids = argv + optind;
    rq.n_campaign_ids = (size_t)(argc - optind);
    ProtobufCMessage *out = NULL;
    int rc = unary(g, "RefreshTouchpoints", &rq.base, &out);
    if (rc)
        return rc;
    const Campsync__V1__RefreshSummary *s = (const void *)out;
    if (g->json)
        ctl_print_json(ctl_pb_to_json(out));
    else
        printf("%d campaign(s): %d created, %d updated, %d removed; skipped %d without email, "
               "%d outside the touchpoint dates\n",
               s->campaigns, s->created, s->updated, s->removed, s->skipped_no_email,
               s->skipped_out_of_range);
    protobuf_c_message_free_unpacked(out, NULL);
    return CTL_OK;
}

int ctl_touchpoints(const ctl_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"campaign", required_argument, NULL, 'c'},
                                         {"person", required_argument, NULL, 'p'},
                                         {"account", required_argument, NULL, 'a'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Campsync__V1__TouchpointFilter rq = CAMPSYNC__V1__TOUCHPOINT_FILTER__INIT;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "c:p:a:f:t:h", opts, NULL)) != -1) {
        if (o == 'c')
            rq.campaign_id = optarg;
        else if (o == 'p')
            rq.person_id = optarg;
        else if (o == 'a')
            rq.account_id = optarg;
        else if (o == 'f' || o == 't') {
            if (date_arg(o == 'f' ? "--from" : "--to", optarg, o == 't',
                         o == 'f' ? &rq.from_ms : &rq.to_ms))
                return CTL_USAGE;
        } else {
            fprintf(o == 'h' ? stdout : stderr,
                    "usage: campsyncctl touchpoints [--campaign ID] [--person ID] [--account ID]\n"
                    "                              [--from YYYY-MM-DD] [--to YYYY-MM-DD]\n"
                    "  Lists stored touchpoints (offline and ingested); dates are UTC days,\n"
                    "  --to included.\n");
            return o == 'h' ? CTL_OK : CTL_USAGE;
        }
    }
    rpc_client *c = ctl_client(g, g->attribution);
    if (!c)
        return CTL_USAGE;
    rpc_stream *s = NULL;
    rpc_error err = {0};
    rpc_call_opts co = {.timeout_ms = g->timeout_ms};
    if (rpc_stream_open(c, ATTR, "ListTouchpoints", &rq.base, &co, &s, &err) != 0)
        return ctl_fail(g, "ListTouchpoints", &err);
    static const char *const h[] = {"DATE",       "PERSON",   "EMAIL",  "CHANNEL",
                                    "SUBCHANNEL", "CAMPAIGN", "SOURCE", "ID"};
    ctl_table *t = g->json ? NULL : ctl_table_new(h, 8);
    ProtobufCMessage *msg;
    int rc;
    while ((rc = rpc_stream_next(s, &msg, &err)) == 1) {
        const Campsync__V1__TouchpointPage *p = (const void *)msg;
        for (size_t i = 0; i < p->n_touchpoints; i++) {
            const Campsync__V1__Touchpoint *tp = p->touchpoints[i];
            if (g->json) {
                ctl_print_json(ctl_pb_to_json(&tp->base));
                continue;
            }
            char when[32];
            ctl_table_row(t, ctl_time(tp->at_ms, when, sizeof when), tp->person_id, tp->email,
                          tp->channel, tp->subchannel, tp->campaign_name, tp->source, tp->id);
        }
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    rpc_stream_close(s);
    if (t)
        ctl_table_print(t);
    return rc < 0 ? ctl_fail(g, "ListTouchpoints", &err) : CTL_OK;
}

int ctl_bulk_date(const ctl_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"status", required_argument, NULL, 's'},
                                         {"responded", required_argument, NULL, 'r'},
                                         {"created-from", required_argument, NULL, 'f'},
                                         {"created-to", required_argument, NULL, 't'},
                                         {"member", required_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    static const char usage[] =
        "usage: campsyncctl bulk-date CAMPAIGN_ID YYYY-MM-DD [--status S]... [--responded yes|no]\n"
        "                             [--created-from D] [--created-to D] [--member ID]...\n"
        "  Sets the Buyer Touchpoint Date of the campaign's members (all, or those\n"
        "  matching every filter given), e.g. to the day of a trade show uploaded late.\n"
        "  --created-from/--created-to bound the member's creation day (both included).\n";
    Campsync__V1__BulkDateRequest rq = CAMPSYNC__V1__BULK_DATE_REQUEST__INIT;
    Campsync__V1__OptBool responded = CAMPSYNC__V1__OPT_BOOL__INIT;
    char *statuses[64], *members[256];
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "s:r:f:t:m:h", opts, NULL)) != -1) {
        if (o == 's' && rq.n_statuses < 64)
            statuses[rq.n_statuses++] = optarg;
        else if (o == 'm' && rq.n_member_ids < 256)
            members[rq.n_member_ids++] = optarg;
        else if (o == 'r') {
            responded.value = strcmp(optarg, "yes") == 0;
            if (!responded.value && strcmp(optarg, "no") != 0) {
                fprintf(stderr, "campsyncctl: --responded is yes or no\n");
                return CTL_USAGE;
            }
            rq.has_responded = &responded;
        } else if (o == 'f' || o == 't') {
            if (date_arg(o == 'f' ? "--created-from" : "--created-to", optarg, o == 't',
                         o == 'f' ? &rq.created_from_ms : &rq.created_to_ms))
                return CTL_USAGE;
        } else {
            fputs(usage, o == 'h' ? stdout : stderr);
            return o == 'h' ? CTL_OK : CTL_USAGE;
        }
    }
    int64_t ignored;
    if (argc - optind != 2 || date_arg("DATE", argv[optind + 1], 0, &ignored)) {
        fputs(usage, stderr);
        return CTL_USAGE;
    }
    rq.campaign_id = argv[optind];
    rq.date = argv[optind + 1];
    rq.statuses = statuses;
    rq.member_ids = members;
    ProtobufCMessage *out = NULL;
    int rc = unary(g, "BulkUpdateTouchpointDate", &rq.base, &out);
    if (rc)
        return rc;
    const Campsync__V1__BulkDateResponse *r = (const void *)out;
    if (g->json)
        ctl_print_json(ctl_pb_to_json(out));
    else
        printf("%d member(s) matched, %d updated, %d touchpoint(s) re-dated\n", r->matched,
               r->updated, r->touchpoints_redated);
    protobuf_c_message_free_unpacked(out, NULL);
    return CTL_OK;
}

int ctl_report(const ctl_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"group-by", required_argument, NULL, 'g'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"half-life-days", required_argument, NULL, 'l'},
                                         {"custom", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Campsync__V1__ReportRequest rq = CAMPSYNC__V1__REPORT_REQUEST__INIT;
    Campsync__V1__CustomWeights custom = CAMPSYNC__V1__CUSTOM_WEIGHTS__INIT;
    rq.group_by = "channel";
    rq.model = CAMPSYNC__V1__MODEL__W_SHAPED;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "m:g:f:t:l:c:h", opts, NULL)) != -1) {
        if (o == 'm') {
            if (parse_model(optarg, &rq.model))
                return CTL_USAGE;
        } else if (o == 'g')
            rq.group_by = optarg;
        else if (o == 'l') {
            if (parse_half_life(optarg, &rq.half_life_days))
                return CTL_USAGE;
        } else if (o == 'c') {
            if (parse_custom(optarg, &custom))
                return CTL_USAGE;
            rq.custom = &custom;
        } else if (o == 'f' || o == 't') {
            if (date_arg(o == 'f' ? "--from" : "--to", optarg, o == 't',
                         o == 'f' ? &rq.from_ms : &rq.to_ms))
                return CTL_USAGE;
        } else {
            fprintf(
                o == 'h' ? stdout : stderr,
                "usage: campsyncctl report [--model M] [--group-by channel|subchannel|campaign]\n"
                "                          [--from YYYY-MM-DD] [--to YYYY-MM-DD]\n"
                "                          [--custom FT,LC,OC,CW,MIDDLE] [--half-life-days D]\n"
                "  Revenue and touches by channel, subchannel or campaign under a model\n"
                "  (default w_shaped), over touchpoints from --from to --to (UTC days, both\n"
                "  included). --custom gives the custom model's weights in basis points\n"
                "  (sum 10000); --half-life-days the time_decay half-life (default 7).\n");
            return o == 'h' ? CTL_OK : CTL_USAGE;
        }
    }
    ProtobufCMessage *out = NULL;
    int rc = unary(g, "Report", &rq.base, &out);
    if (rc)
        return rc;
    const Campsync__V1__ReportResponse *r = (const void *)out;
    if (g->json) {
        ctl_print_json(ctl_pb_to_json(out));
    } else {
        char key[32];
        size_t k = 0;
        for (; rq.group_by[k] && k < sizeof key - 1; k++)
            key[k] = (char)(rq.group_by[k] >= 'a' && rq.group_by[k] <= 'z' ? rq.group_by[k] - 32
                                                                           : rq.group_by[k]);
        key[k] = '\0';
        const char *h[] = {key, "REVENUE", "TOUCHES", "OPPORTUNITIES"};
        ctl_table *t = ctl_table_new(h, 4);
        for (size_t i = 0; i < r->n_rows; i++) {
            char money[48], touches[16], opps[16];
            snprintf(touches, sizeof touches, "%d", r->rows[i]->touches);
            snprintf(opps, sizeof opps, "%d", r->rows[i]->opportunities);
            ctl_table_row(t, r->rows[i]->key, ctl_money(r->rows[i]->revenue_minor, money, 48),
                          touches, opps);
        }
        ctl_table_print(t);
        char total[48];
        printf("total revenue %s\n", ctl_money(r->total_revenue_minor, total, sizeof total));
    }
    protobuf_c_message_free_unpacked(out, NULL);
    return CTL_OK;
}

int ctl_attribute(const ctl_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"custom", required_argument, NULL, 'c'},
                                         {"half-life-days", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Campsync__V1__AttributeRequest rq = CAMPSYNC__V1__ATTRIBUTE_REQUEST__INIT;
    Campsync__V1__CustomWeights custom = CAMPSYNC__V1__CUSTOM_WEIGHTS__INIT;
    rq.model = CAMPSYNC__V1__MODEL__W_SHAPED;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "m:c:l:h", opts, NULL)) != -1) {
        if (o == 'm') {
            if (parse_model(optarg, &rq.model))
                return CTL_USAGE;
        } else if (o == 'c') {
            if (parse_custom(optarg, &custom))
                return CTL_USAGE;
            rq.custom = &custom;
        } else if (o == 'l') {
            if (parse_half_life(optarg, &rq.half_life_days))
                return CTL_USAGE;
        } else {
            fprintf(o == 'h' ? stdout : stderr,
                    "usage: campsyncctl attribute [--model M] [--custom FT,LC,OC,CW,MIDDLE]\n"
                    "                             [--half-life-days D] [OPPORTUNITY_ID...]\n"
                    "  Each opportunity's touchpoints with their positions, weight and revenue\n"
                    "  (every opportunity when none named). --custom: the custom model's\n"
                    "  weights in basis points (sum 10000); --half-life-days: time_decay's.\n");
            return o == 'h' ? CTL_OK : CTL_USAGE;
        }
    }
    rq.opportunity_ids = argv + optind;
    rq.n_opportunity_ids = (size_t)(argc - optind);
    rpc_client *c = ctl_client(g, g->attribution);
    if (!c)
        return CTL_USAGE;
    rpc_stream *s = NULL;
    rpc_error err = {0};
    rpc_call_opts co = {.timeout_ms = g->timeout_ms};
    if (rpc_stream_open(c, ATTR, "Attribute", &rq.base, &co, &s, &err) != 0)
        return ctl_fail(g, "Attribute", &err);
    ProtobufCMessage *msg;
    int rc;
    while ((rc = rpc_stream_next(s, &msg, &err)) == 1) {
        const Campsync__V1__OpportunityAttribution *a = (const void *)msg;
        if (g->json) {
            ctl_print_json(ctl_pb_to_json(msg));
        } else {
            char amount[48];
            printf("opportunity %s  amount %s\n", a->opportunity_id,
                   ctl_money(a->amount_minor, amount, sizeof amount));
            static const char *const h[] = {"  DATE",    "CHANNEL",  "CAMPAIGN",
                                            "POSITIONS", "WEIGHT %", "REVENUE"};
            ctl_table *t = ctl_table_new(h, 6);
            for (size_t i = 0; i < a->n_touches; i++) {
                const Campsync__V1__AttributedTouch *x = a->touches[i];
                char when[40], pos[24] = "", weight[24], rev[48];
                snprintf(when, sizeof when, "  %s",
                         ctl_time(x->touchpoint ? x->touchpoint->at_ms : 0, rev, sizeof rev));
                if (x->positions & 1)
                    strcat(pos, "FT ");
                if (x->positions & 2)
                    strcat(pos, "LC ");
                if (x->positions & 4)
                    strcat(pos, "OC ");
                if (x->positions & 8)
                    strcat(pos, "CW ");
                snprintf(weight, sizeof weight, "%.4f", (double)x->weight_ppm / 10000.0);
                ctl_table_row(t, when, x->touchpoint ? x->touchpoint->channel : "",
                              x->touchpoint ? x->touchpoint->campaign_name : "", pos, weight,
                              ctl_money(x->revenue_minor, rev, sizeof rev));
            }
            ctl_table_print(t);
            putchar('\n');
        }
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    rpc_stream_close(s);
    return rc < 0 ? ctl_fail(g, "Attribute", &err) : CTL_OK;
}

int ctl_export(const ctl_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"touchpoints-only", no_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Campsync__V1__ExportRequest rq = CAMPSYNC__V1__EXPORT_REQUEST__INIT;
    rq.touchpoints = 1;
    rq.attribution = 1;
    rq.model = CAMPSYNC__V1__MODEL__W_SHAPED;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "m:th", opts, NULL)) != -1) {
        if (o == 'm') {
            if (parse_model(optarg, &rq.model))
                return CTL_USAGE;
        } else if (o == 't')
            rq.attribution = 0;
        else {
            fprintf(o == 'h' ? stdout : stderr,
                    "usage: campsyncctl export [--model M] [--touchpoints-only]\n"
                    "  Upserts touchpoints (Buyer_Touchpoint__c) and attribution touchpoints\n"
                    "  (Buyer_Attribution_Touchpoint__c) to Salesforce.\n");
            return o == 'h' ? CTL_OK : CTL_USAGE;
        }
    }
    ProtobufCMessage *out = NULL;
    int rc = unary(g, "ExportToSalesforce", &rq.base, &out);
    if (rc)
        return rc;
    const Campsync__V1__ExportSummary *s = (const void *)out;
    if (g->json)
        ctl_print_json(ctl_pb_to_json(out));
    else
        printf("%d touchpoint(s) and %d attribution touchpoint(s) upserted, %d failed\n",
               s->touchpoints_upserted, s->attribution_upserted, s->failed);
    int failed = s->failed;
    protobuf_c_message_free_unpacked(out, NULL);
    return failed ? CTL_PARTIAL : CTL_OK;
}
