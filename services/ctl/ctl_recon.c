/*
 * campsyncctl commands served by campsync.v1.MembershipReconciler: pairs,
 * sync (with a live progress bar), dry runs, cycle records, events, the
 * "member of SFDC campaign" filter and the three flow actions.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "campsync/v1/reconciler.pb-c.h"
#include "ctl.h"
#include "ctl_out.h"

#define RECON (&campsync__v1__membership_reconciler__descriptor)

static int unary(const ctl_globals *g, const char *method, const ProtobufCMessage *rq,
                 ProtobufCMessage **out)
{
    rpc_client *c = ctl_client(g, g->reconciler);
    if (!c)
        return CTL_USAGE;
    rpc_error err = {0};
    if (rpc_client_unary(c, RECON, method, rq, out, NULL, &err) != 0)
        return ctl_fail(g, method, &err);
    return CTL_OK;
}

static int parse_program(const char *s, int64_t *id)
{
    char *end = NULL;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || v <= 0) {
        fprintf(stderr, "campsyncctl: \"%s\" is not a Marketo program id (a positive number)\n",
                s ? s : "");
        return -1;
    }
    *id = v;
    return 0;
}

static void print_pair_table(const Campsync__V1__PairList *l)
{
    static const char *const h[] = {"PROGRAM", "NAME",       "CAMPAIGN", "CAMPAIGN NAME",
                                    "CHANNEL", "LAST CYCLE", "STATUS"};
    ctl_table *t = ctl_table_new(h, 7);
    for (size_t i = 0; i < l->n_pairs; i++) {
        const Campsync__V1__Pair *p = l->pairs[i];
        char id[24], when[32];
        snprintf(id, sizeof id, "%lld", (long long)p->program_id);
        ctl_table_row(t, id, p->program_name, p->campaign_id, p->campaign_name, p->channel,
                      ctl_time(p->last_cycle_at_ms, when, sizeof when),
                      p->last_cycle_status[0] ? p->last_cycle_status : "-");
    }
    ctl_table_print(t);
}

int ctl_pairs(const ctl_globals *g, int argc, char **argv)
{
    if (ctl_wants_help(argc, argv)) {
        printf("usage: campsyncctl pairs\n  Lists every linked program/campaign pair.\n");
        return CTL_OK;
    }
    Campsync__V1__Empty rq = CAMPSYNC__V1__EMPTY__INIT;
    ProtobufCMessage *out = NULL;
    int rc = unary(g, "ListPairs", &rq.base, &out);
    if (rc)
        return rc;
    if (g->json)
        ctl_print_json(ctl_pb_to_json(out));
    else
        print_pair_table((const void *)out);
    protobuf_c_message_free_unpacked(out, NULL);
    return CTL_OK;
}

int ctl_link(const ctl_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"campaign", required_argument, NULL, 'c'},
                                         {"new-campaign", required_argument, NULL, 'n'},
                                         {"create-missing-statuses", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Campsync__V1__LinkRequest rq = CAMPSYNC__V1__LINK_REQUEST__INIT;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "c:n:sh", opts, NULL)) != -1) {
        if (o == 'c')
            rq.campaign_id = optarg;
        else if (o == 'n')
            rq.new_campaign_name = optarg;
        else if (o == 's')
            rq.create_missing_statuses = 1;
        else {
            fprintf(o == 'h' ? stdout : stderr,
                    "usage: campsyncctl link PROGRAM_ID (--campaign ID | --new-campaign NAME)\n"
                    "                        [--create-missing-statuses]\n"
                    "  Links a Marketo program to an existing Salesforce campaign or to a new\n"
                    "  one. Statuses must match exactly; --create-missing-statuses creates the\n"
                    "  program's statuses the campaign lacks.\n");
            return o == 'h' ? CTL_OK : CTL_USAGE;
        }
    }
    if (optind != argc - 1 || (rq.campaign_id[0] != '\0') == (rq.new_campaign_name[0] != '\0')) {
        fprintf(stderr, "campsyncctl link: give PROGRAM_ID and one of --campaign or "
                        "--new-campaign (see --help)\n");
        return CTL_USAGE;
    }
    if (parse_program(argv[optind], &rq.program_id))
        return CTL_USAGE;
    ProtobufCMessage *out = NULL;
    int rc = unary(g, "Link", &rq.base, &out);
    if (rc)
        return rc;
    if (g->json) {
        ctl_print_json(ctl_pb_to_json(out));
    } else {
        const Campsync__V1__Pair *p = (const void *)out;
        printf("linked program %lld (%s) <-> campaign %s (%s)\n", (long long)p->program_id,
               p->program_name, p->campaign_id, p->campaign_name);
    }
    protobuf_c_message_free_unpacked(out, NULL);
    return CTL_OK;
}

int ctl_unlink(const ctl_globals *g, int argc, char **argv)
{
    Campsync__V1__UnlinkRequest rq = CAMPSYNC__V1__UNLINK_REQUEST__INIT;
    int help = ctl_wants_help(argc, argv);
    if (help || argc != 2 || parse_program(argv[1], &rq.program_id)) {
        fprintf(help ? stdout : stderr,
                "usage: campsyncctl unlink PROGRAM_ID\n"
                "  Removes the link; members stay as they are on both sides.\n");
        return help ? CTL_OK : CTL_USAGE;
    }
    ProtobufCMessage *out = NULL;
    int rc = unary(g, "Unlink", &rq.base, &out);
    if (rc)
        return rc;
    protobuf_c_message_free_unpacked(out, NULL);
    if (g->json)
        ctl_print_json(
            json_pack("{s:I,s:b}", "program_id", (json_int_t)rq.program_id, "unlinked", 1));
    else
        printf("unlinked program %lld\n", (long long)rq.program_id);
    return CTL_OK;
}

static int parse_policy(const char *s, Campsync__V1__ConflictPolicy *p)
{
    if (strcmp(s, "marketo_wins") == 0)
        *p = CAMPSYNC__V1__CONFLICT_POLICY__MARKETO_WINS;
    else if (strcmp(s, "salesforce_wins") == 0)
        *p = CAMPSYNC__V1__CONFLICT_POLICY__SALESFORCE_WINS;
    else if (strcmp(s, "latest_wins") == 0)
        *p = CAMPSYNC__V1__CONFLICT_POLICY__LATEST_WINS;
    else {
        fprintf(stderr, "campsyncctl: --policy must be marketo_wins, salesforce_wins or "
                        "latest_wins\n");
        return -1;
    }
    return 0;
}

/* Parses "PROGRAM_ID [--full] [--policy P]" for sync and dry-run. */
static int parse_sync(int argc, char **argv, Campsync__V1__SyncRequest *rq, const char *usage)
{
    static const struct option opts[] = {{"full", no_argument, NULL, 'f'},
                                         {"policy", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "fp:h", opts, NULL)) != -1) {
        if (o == 'f')
            rq->full = 1;
        else if (o == 'p') {
            if (parse_policy(optarg, &rq->policy))
                return CTL_USAGE;
        } else {
            fputs(usage, o == 'h' ? stdout : stderr);
            return o == 'h' ? -1 : CTL_USAGE;
        }
    }
    if (optind != argc - 1 || parse_program(argv[optind], &rq->program_id)) {
        fputs(usage, stderr);
        return CTL_USAGE;
    }
    return 0;
}

static void print_cycle(const Campsync__V1__CycleRecord *r)
{
    char a[32], b[32];
    const Campsync__V1__CycleCounts *c = r->counts;
    printf("cycle %s  program %lld <-> campaign %s\n", r->id, (long long)r->program_id,
           r->campaign_id);
    printf("  status     %s%s%s\n", r->status, r->message[0] ? ": " : "", r->message);
    printf("  started    %s   finished %s%s%s\n", ctl_time(r->started_at_ms, a, sizeof a),
           ctl_time(r->finished_at_ms, b, sizeof b), r->read[0] ? "   read " : "", r->read);
    if (c)
        printf("  new %d  updated %d  deleted %d  failed %d  skipped %d\n", c->new_, c->updated,
               c->deleted, c->failed, c->skipped);
    printf("  conflicts %d  backwards rejected %d  API calls: marketo %d, salesforce %d\n",
           r->conflicts, r->rejected_backwards, r->api_calls_marketo, r->api_calls_salesforce);
    for (size_t i = 0; i < r->n_errors; i++) {
        const Campsync__V1__RecordError *e = r->errors[i];
        printf("  ! %-10s %-12s %-20s %s%s%s\n", e->side, e->action, e->person, e->code,
               e->code[0] ? ": " : "", e->message);
    }
}

static void progress_bar(const Campsync__V1__SyncProgress *p)
{
    int width = 30, filled = p->total > 0 ? (int)((int64_t)width * p->done / p->total) : 0;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r%-6s [%s] %d/%d   ", p->phase, bar, p->done, p->total);
    fflush(stderr);
}

int ctl_sync(const ctl_globals *g, int argc, char **argv)
{
    static const char usage[] =
        "usage: campsyncctl sync PROGRAM_ID [--full] [--policy P]\n"
        "  Runs a sync cycle for the pair now, showing progress, then its record.\n"
        "  --full reads both sides completely; --policy overrides the conflict policy\n"
        "  (marketo_wins, salesforce_wins, latest_wins). Exit 5 when some records failed\n"
        "  (Incomplete), 1 when the cycle failed.\n";
    Campsync__V1__SyncRequest rq = CAMPSYNC__V1__SYNC_REQUEST__INIT;
    int rc = parse_sync(argc, argv, &rq, usage);
    if (rc)
        return rc < 0 ? CTL_OK : rc;
    rpc_client *c = ctl_client(g, g->reconciler);
    if (!c)
        return CTL_USAGE;
    rpc_stream *s = NULL;
    rpc_error err = {0};
    rpc_call_opts co = {.timeout_ms = g->timeout_ms};
    if (rpc_stream_open(c, RECON, "SyncNow", &rq.base, &co, &s, &err) != 0)
        return ctl_fail(g, "SyncNow", &err);
    int tty = isatty(STDERR_FILENO) && !g->json;
    ProtobufCMessage *msg = NULL;
    Campsync__V1__CycleRecord *final = NULL;
    ProtobufCMessage *final_msg = NULL;
    while ((rc = rpc_stream_next(s, &msg, &err)) == 1) {
        const Campsync__V1__SyncProgress *p = (const void *)msg;
        if (g->json && !p->record)
            ctl_print_json(ctl_pb_to_json(msg));
        else if (tty)
            progress_bar(p);
        if (p->record) {
            if (final_msg)
                protobuf_c_message_free_unpacked(final_msg, NULL);
            final_msg = msg;
            final = p->record;
        } else {
            protobuf_c_message_free_unpacked(msg, NULL);
        }
    }
    rpc_stream_close(s);
    if (tty)
        fputs("\n", stderr);
    if (!final) {
        if (rc < 0)
            return ctl_fail(g, "SyncNow", &err);
        rpc_error none = {.code = GRPC_STATUS_UNKNOWN};
        snprintf(none.message, sizeof none.message,
                 "the stream ended without a cycle record; see `campsyncctl cycles %lld`",
                 (long long)rq.program_id);
        return ctl_fail(g, "SyncNow", &none);
    }
    /* A cycle that failed or was aborted still sends its record before the
     * error status: show both. */
    if (g->json)
        ctl_print_json(ctl_pb_to_json(&final->base));
    else
        print_cycle(final);
    /* Incomplete: some records failed (retried next cycle); Failed: the
     * cycle as a whole did not go through. */
    int exit_code = rc < 0                                     ? ctl_fail(g, "SyncNow", &err)
                    : strcmp(final->status, "Succeeded") == 0  ? CTL_OK
                    : strcmp(final->status, "Incomplete") == 0 ? CTL_PARTIAL
                                                               : CTL_RPC_ERROR;
    protobuf_c_message_free_unpacked(final_msg, NULL);
    return exit_code;
}

int ctl_dry_run(const ctl_globals *g, int argc, char **argv)
{
    static const char usage[] =
        "usage: campsyncctl dry-run PROGRAM_ID [--full] [--policy P]\n"
        "  Shows what a cycle would change on each side, without writing anything.\n";
    Campsync__V1__SyncRequest rq = CAMPSYNC__V1__SYNC_REQUEST__INIT;
    int rc = parse_sync(argc, argv, &rq, usage);
    if (rc)
        return rc < 0 ? CTL_OK : rc;
    ProtobufCMessage *out = NULL;
    if ((rc = unary(g, "DryRun", &rq.base, &out)))
        return rc;
    const Campsync__V1__SyncPlan *p = (const void *)out;
    if (g->json) {
        ctl_print_json(ctl_pb_to_json(out));
    } else {
        static const char *const h[] = {"SIDE", "ACTION", "PERSON", "FROM", "TO", "NOTE"};
        ctl_table *t = ctl_table_new(h, 6);
        for (size_t i = 0; i < p->n_changes; i++) {
            const Campsync__V1__PlannedChange *ch = p->changes[i];
            ctl_table_row(t, ch->side, ch->action, ch->person, ch->from_status, ch->to_status,
                          ch->note);
        }
        ctl_table_print(t);
        printf("\n%zu change(s), %d conflict(s), %zu skipped\n", p->n_changes, p->conflicts,
               p->n_skipped);
        for (size_t i = 0; i < p->n_skipped; i++)
            printf("  skipped %s: %s\n", p->skipped[i]->person, p->skipped[i]->message);
    }
    protobuf_c_message_free_unpacked(out, NULL);
    return CTL_OK;
}

int ctl_cycles(const ctl_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"limit", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Campsync__V1__ListCyclesRequest rq = CAMPSYNC__V1__LIST_CYCLES_REQUEST__INIT;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "l:h", opts, NULL)) != -1) {
        long limit = 0;
        if (o == 'l' && ctl_parse_count(optarg, &limit) == 0 && limit <= 1000) {
            rq.limit = (int32_t)limit;
            continue;
        }
        fprintf(o == 'h' ? stdout : stderr,
                "usage: campsyncctl cycles PROGRAM_ID [--limit N]\n"
                "  Cycle records of the pair, newest first (kept 5 days); N up to 1000.\n");
        return o == 'h' ? CTL_OK : CTL_USAGE;
    }
    if (optind != argc - 1 || parse_program(argv[optind], &rq.program_id)) {
        fprintf(stderr, "campsyncctl cycles: give one PROGRAM_ID (see --help)\n");
        return CTL_USAGE;
    }
    ProtobufCMessage *out = NULL;
    int rc = unary(g, "ListCycles", &rq.base, &out);
    if (rc)
        return rc;
    const Campsync__V1__CycleList *l = (const void *)out;
    if (g->json) {
        ctl_print_json(ctl_pb_to_json(out));
    } else {
        static const char *const h[] = {"STARTED", "STATUS", "NEW",     "UPDATED",
                                        "DELETED", "FAILED", "SKIPPED", "MESSAGE"};
        ctl_table *t = ctl_table_new(h, 8);
        for (size_t i = 0; i < l->n_cycles; i++) {
            const Campsync__V1__CycleRecord *r = l->cycles[i];
            char when[32], n[5][16];
            const Campsync__V1__CycleCounts *c = r->counts;
            snprintf(n[0], 16, "%d", c ? c->new_ : 0);
            snprintf(n[1], 16, "%d", c ? c->updated : 0);
            snprintf(n[2], 16, "%d", c ? c->deleted : 0);
            snprintf(n[3], 16, "%d", c ? c->failed : 0);
            snprintf(n[4], 16, "%d", c ? c->skipped : 0);
            ctl_table_row(t, ctl_time(r->started_at_ms, when, sizeof when), r->status, n[0], n[1],
                          n[2], n[3], n[4], r->message);
        }
        ctl_table_print(t);
    }
    protobuf_c_message_free_unpacked(out, NULL);
    return CTL_OK;
}

/* Ctrl-C ends a watch. The stream read blocks inside gRPC until the next
 * event, which may never come, so a flag checked between events would not
 * stop a quiet watch: exit at once instead. Every event is flushed as it is
 * printed, so nothing printed is lost. */
static void on_sigint(int sig)
{
    (void)sig;
    _exit(CTL_OK);
}

int ctl_events(const ctl_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                         {"campaign", required_argument, NULL, 'c'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Campsync__V1__WatchEventsRequest rq = CAMPSYNC__V1__WATCH_EVENTS_REQUEST__INIT;
    long count = -1;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "f:c:n:h", opts, NULL)) != -1) {
        if (o == 'f')
            rq.from_event_id = optarg;
        else if (o == 'c')
            rq.campaign_id = optarg;
        else if (o == 'n' && ctl_parse_count(optarg, &count) == 0)
            continue;
        else {
            fprintf(o == 'h' ? stdout : stderr,
                    "usage: campsyncctl events [--from EVENT_ID] [--campaign ID] [--count N]\n"
                    "  Watches membership events (ADDED_TO_SFDC_CAMPAIGN, ...). --from 0\n"
                    "  replays from the start; --from ID resumes after that event. Stops after\n"
                    "  N events or on Ctrl-C.\n");
            return o == 'h' ? CTL_OK : CTL_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "campsyncctl events: unexpected argument \"%s\" (see --help)\n",
                argv[optind]);
        return CTL_USAGE;
    }
    rpc_client *c = ctl_client(g, g->reconciler);
    if (!c)
        return CTL_USAGE;
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    rpc_stream *s = NULL;
    rpc_error err = {0};
    /* A watch is open-ended: its deadline is a day, not the call timeout. */
    rpc_call_opts co = {.timeout_ms = 24L * 3600 * 1000};
    if (rpc_stream_open(c, RECON, "WatchEvents", &rq.base, &co, &s, &err) != 0)
        return ctl_fail(g, "WatchEvents", &err);
    ProtobufCMessage *msg = NULL;
    int rc = 0;
    long seen = 0;
    while ((count < 0 || seen < count) && (rc = rpc_stream_next(s, &msg, &err)) == 1) {
        const Campsync__V1__MembershipEvent *e = (const void *)msg;
        if (g->json) {
            ctl_print_json(ctl_pb_to_json(msg));
        } else {
            char when[32];
            const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
                &campsync__v1__event_type__descriptor, e->type);
            printf("%s  %-20s  %-28s  campaign %s  person %s/%lld  %s -> %s  (%s)\n",
                   ctl_time(e->at_ms, when, sizeof when), e->event_id, v ? v->name : "?",
                   e->campaign_id, e->sfdc_person_id, (long long)e->lead_id,
                   e->old_status[0] ? e->old_status : "-", e->new_status[0] ? e->new_status : "-",
                   e->source);
            fflush(stdout);
        }
        protobuf_c_message_free_unpacked(msg, NULL);
        seen++;
    }
    rpc_stream_close(s);
    /* The server ended the watch with an error (a bad --from, the service
     * going away): say so instead of exiting as if all went well. */
    if (rc < 0)
        return ctl_fail(g, "WatchEvents", &err);
    return CTL_OK;
}

/* PERSON: a number is a Marketo lead id, text with '@' an email, anything
 * else a Salesforce Lead/Contact id. */
static void parse_person(const char *s, Campsync__V1__PersonRef *p)
{
    campsync__v1__person_ref__init(p);
    char *end = NULL;
    long long id = strtoll(s, &end, 10);
    if (*s && !*end && id > 0)
        p->lead_id = id;
    else if (strchr(s, '@'))
        p->email = (char *)s;
    else
        p->sfdc_id = (char *)s;
}

int ctl_is_member(const ctl_globals *g, int argc, char **argv)
{
    int help = ctl_wants_help(argc, argv);
    if (help || argc != 3) {
        fprintf(help ? stdout : stderr,
                "usage: campsyncctl is-member CAMPAIGN_ID PERSON\n"
                "  The \"Member of SFDC Campaign\" filter. PERSON is a Marketo lead id, an\n"
                "  email or a Salesforce Lead/Contact id. Exit 0 when a member, 1 when not.\n");
        return help ? CTL_OK : CTL_USAGE;
    }
    Campsync__V1__PersonRef person;
    parse_person(argv[2], &person);
    Campsync__V1__MembershipQuery rq = CAMPSYNC__V1__MEMBERSHIP_QUERY__INIT;
    rq.campaign_id = argv[1];
    rq.person = &person;
    ProtobufCMessage *out = NULL;
    int rc = unary(g, "IsMemberOfSfdcCampaign", &rq.base, &out);
    if (rc)
        return rc;
    const Campsync__V1__MembershipAnswer *a = (const void *)out;
    int member = a->is_member;
    if (g->json)
        ctl_print_json(ctl_pb_to_json(out));
    else if (member)
        printf("member, status \"%s\" (campaign member %s)\n", a->status, a->member_id);
    else
        printf("not a member\n");
    protobuf_c_message_free_unpacked(out, NULL);
    return member ? CTL_OK : CTL_RPC_ERROR;
}

static const char *outcome_name(int o)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&campsync__v1__outcome__descriptor, o);
    return v ? v->name + strlen("OUTCOME_") : "?";
}

/* Shared by the three flow actions. */
static int flow_action(const ctl_globals *g, int argc, char **argv, const char *method,
                       int needs_status, const char *usage)
{
    static const struct option opts[] = {{"status", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Campsync__V1__FlowActionRequest rq = CAMPSYNC__V1__FLOW_ACTION_REQUEST__INIT;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
        if (o == 's')
            rq.status = optarg;
        else {
            fputs(usage, o == 'h' ? stdout : stderr);
            return o == 'h' ? CTL_OK : CTL_USAGE;
        }
    }
    if (argc - optind < 2 || (needs_status && !rq.status[0])) {
        fputs(usage, stderr);
        return CTL_USAGE;
    }
    rq.campaign_id = argv[optind];
    size_t n = (size_t)(argc - optind - 1);
    Campsync__V1__PersonRef *people = calloc(n, sizeof *people);
    Campsync__V1__PersonRef **ptrs = calloc(n, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        parse_person(argv[optind + 1 + (int)i], &people[i]);
        ptrs[i] = &people[i];
    }
    rq.people = ptrs;
    rq.n_people = n;
    ProtobufCMessage *out = NULL;
    int rc = unary(g, method, &rq.base, &out);
    free(ptrs);
    free(people);
    if (rc)
        return rc;
    const Campsync__V1__BatchResult *r = ((const Campsync__V1__FlowActionResponse *)out)->result;
    int failed = r ? r->failed : 0;
    if (g->json) {
        ctl_print_json(ctl_pb_to_json(out));
    } else if (r) {
        static const char *const h[] = {"PERSON", "OUTCOME", "ID", "REASON"};
        ctl_table *t = ctl_table_new(h, 4);
        for (size_t i = 0; i < r->n_results; i++) {
            const Campsync__V1__RecordResult *x = r->results[i];
            char reason[600];
            snprintf(reason, sizeof reason, "%s%s%s", x->code, x->code[0] ? ": " : "", x->reason);
            ctl_table_row(t, x->key, outcome_name(x->outcome), x->id, reason);
        }
        ctl_table_print(t);
    }
    protobuf_c_message_free_unpacked(out, NULL);
    return failed ? CTL_PARTIAL : CTL_OK;
}

int ctl_add_to_campaign(const ctl_globals *g, int argc, char **argv)
{
    return flow_action(g, argc, argv, "AddToSfdcCampaign", 1,
                       "usage: campsyncctl add-to-campaign CAMPAIGN_ID --status S PERSON...\n"
                       "  Adds people (created in Salesforce first when needed); members already\n"
                       "  in the campaign are skipped and keep their status. Exit 5 when some\n"
                       "  failed.\n");
}

int ctl_remove_from_campaign(const ctl_globals *g, int argc, char **argv)
{
    return flow_action(g, argc, argv, "RemoveFromSfdcCampaign", 0,
                       "usage: campsyncctl remove-from-campaign CAMPAIGN_ID PERSON...\n"
                       "  Removes people from the campaign; non-members are skipped.\n");
}

int ctl_change_status(const ctl_globals *g, int argc, char **argv)
{
    return flow_action(g, argc, argv, "ChangeStatusInSfdcCampaign", 1,
                       "usage: campsyncctl change-status CAMPAIGN_ID --status S PERSON...\n"
                       "  Sets people's status in the campaign, adding them first where needed.\n");
}
