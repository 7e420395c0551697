/*
 * campsync-reconciler on the sandbox: the real reconciler, both connectors,
 * redis-server and the vendor simulators as processes on loopback. Every SPEC
 * rule of section 1 (C1-C11) gets a scenario, asserted on the vendors' state
 * read back through the sandbox's admin API: links and their preconditions,
 * first sync as a union with the higher status, changes carried both ways,
 * statuses forward only, people created on either side, skips, conflicts per
 * policy, events exactly once, the filter and the flow actions, cycle
 * records, the sync switch.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campsync/v1/reconciler.pb-c.h"
#include "recon_test.h"
#include "redis/redis.h"
#include "rpc/rpc_client.h"
#include "ts_stack.h"

/* Ids in tests/sandbox/datasets/small.json. */
#define WEBINAR 1001
#define TRADESHOW 1002
#define EMAIL_SEND 1003
#define SYNDICATION 1004
#define WEBINAR_CAMPAIGN "701Dn00000000G8IAI"
#define TRADESHOW_CAMPAIGN "701Dn00000000G9IAI"
#define OTHER_WEBINAR_CAMPAIGN "701Dn00000000GBIAY"
#define NEWSLETTER_CAMPAIGN "701Dn00000000GCIAY"

static rt_env env;

static int setup(void **state)
{
    (void)state;
    static const char *const e[] = {"CAMPSYNC_SYNC_INTERVAL_MS=0", NULL};
    return rt_start(&env, "tests/sandbox/datasets/small.json", NULL, e);
}

static int teardown(void **state)
{
    (void)state;
    rt_stop(&env);
    return 0;
}

static void link_validates_and_names_every_status(void **state)
{
    (void)state;
    rpc_error err;
    Campsync__V1__LinkRequest rq = CAMPSYNC__V1__LINK_REQUEST__INIT;
    rq.program_id = WEBINAR;
    rq.campaign_id = WEBINAR_CAMPAIGN;
    rq.new_campaign_name = "both";
    assert_int_equal(rt_link(&env, &rq, NULL, &err), GRPC_STATUS_INVALID_ARGUMENT);

    /* Missing "No Show", extra "Maybe": named, even with the create option
     * (an extra status cannot be fixed by creating). */
    rq.new_campaign_name = "";
    rq.campaign_id = OTHER_WEBINAR_CAMPAIGN;
    for (int create = 0; create < 2; create++) {
        rq.create_missing_statuses = create;
        assert_int_equal(rt_link(&env, &rq, NULL, &err), GRPC_STATUS_FAILED_PRECONDITION);
        assert_non_null(strstr(err.message, "\"No Show\""));
        assert_non_null(strstr(err.message, "\"Maybe\""));
    }
    rq.program_id = SYNDICATION;
    rq.campaign_id = NEWSLETTER_CAMPAIGN;
    rq.create_missing_statuses = 0;
    assert_int_equal(rt_link(&env, &rq, NULL, &err), GRPC_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, "\"Lead Acquired\""));
    assert_non_null(strstr(err.message, "\"Sent\""));
    assert_non_null(strstr(err.message, "\"Responded\""));
    /* Nothing was linked or created by the failures. */
    assert_int_equal(rt_count_pairs(&env), 0);

    rq.program_id = 999999;
    rq.campaign_id = WEBINAR_CAMPAIGN;
    assert_int_equal(rt_link(&env, &rq, NULL, &err), GRPC_STATUS_NOT_FOUND);
}

static void link_is_one_to_one(void **state)
{
    (void)state;
    rpc_error err;
    Campsync__V1__LinkRequest rq = CAMPSYNC__V1__LINK_REQUEST__INIT;
    rq.program_id = WEBINAR;
    rq.campaign_id = WEBINAR_CAMPAIGN;
    Campsync__V1__Pair *p = NULL;
    assert_int_equal(rt_link(&env, &rq, &p, &err), 0);
    assert_string_equal(p->campaign_id, WEBINAR_CAMPAIGN);
    assert_string_equal(p->channel, "Webinar");
    protobuf_c_message_free_unpacked(&p->base, NULL);

    assert_int_equal(rt_link(&env, &rq, NULL, &err), GRPC_STATUS_ALREADY_EXISTS);
    assert_non_null(strstr(err.message, WEBINAR_CAMPAIGN));
    rq.program_id = TRADESHOW;
    assert_int_equal(rt_link(&env, &rq, NULL, &err), GRPC_STATUS_ALREADY_EXISTS);
    assert_non_null(strstr(err.message, "1001"));
    assert_int_equal(rt_count_pairs(&env), 1);
}

static void first_sync_is_a_union_with_the_higher_status(void **state)
{
    (void)state;
    json_t *before = rt_state(&env);
    rt_pairing pb;
    rt_pairing_compute(before, WEBINAR, WEBINAR_CAMPAIGN, &pb);
    /* The dataset has people on one side only and people on both with
     * different statuses. */
    assert_true(pb.mkto_only > 0);
    assert_true(pb.sf_only > 0);
    assert_true(pb.differ > 0);

    Campsync__V1__CycleRecord *rec = NULL;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, NULL), 0);
    assert_string_equal(rec->status, "Succeeded");
    assert_true(rec->counts->new_ >= pb.mkto_only + pb.sf_only);
    assert_int_equal(rec->counts->deleted, 0);
    assert_int_equal(rec->counts->failed, 0);
    protobuf_c_message_free_unpacked(&rec->base, NULL);

    json_t *after = rt_state(&env);
    rt_pairing pa;
    rt_pairing_compute(after, WEBINAR, WEBINAR_CAMPAIGN, &pa);
    assert_int_equal(pa.mkto_only, 0);
    assert_int_equal(pa.sf_only, 0);
    assert_int_equal(pa.differ, 0);
    assert_int_equal(pa.both, pb.both + pb.mkto_only + pb.sf_only);
    /* Nobody lost, and where the statuses differed the higher one won. */
    rt_assert_higher_kept(before, after, WEBINAR, WEBINAR_CAMPAIGN);
    rt_assert_no_duplicates(after, WEBINAR_CAMPAIGN);
    json_decref(before);
    json_decref(after);
}

static void no_change_cycle_writes_nothing(void **state)
{
    (void)state;
    rt_reset_calls(&env);
    Campsync__V1__CycleRecord *rec = NULL;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, NULL), 0);
    assert_string_equal(rec->status, "Succeeded");
    assert_int_equal(rec->counts->new_ + rec->counts->updated + rec->counts->deleted, 0);
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    assert_int_equal(rt_write_calls(&env), 0);
}

static void changes_reach_the_other_side(void **state)
{
    (void)state;
    json_t *st = rt_state(&env);
    rt_pairing p;
    rt_pairing_compute(st, WEBINAR, WEBINAR_CAMPAIGN, &p);
    /* Pick three synced members: one changed in Salesforce (forward), one
     * removed in Salesforce, one moved forward in Marketo. */
    const rt_row *fwd = rt_find_row(&p, "Invited", NULL);
    assert_non_null(fwd);
    const rt_row *gone = rt_find_row(&p, NULL, fwd);
    assert_non_null(gone);
    rt_row a = *fwd, b = *gone;
    assert_int_equal(rt_sf_set_status(&env, WEBINAR_CAMPAIGN, a.sf_id, "Registered"), 0);
    assert_int_equal(rt_sf_remove(&env, WEBINAR_CAMPAIGN, b.sf_id), 0);
    /* A Marketo lead that is in no side of the pair yet. */
    long long newcomer = rt_lead_outside(st, WEBINAR);
    assert_true(newcomer > 0);
    assert_int_equal(rt_mk_add(&env, WEBINAR, newcomer, "Registered"), 0);
    json_decref(st);

    Campsync__V1__CycleRecord *rec = NULL;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, NULL), 0);
    assert_string_equal(rec->status, "Succeeded");
    assert_int_equal(rec->counts->deleted, 1);
    assert_true(rec->counts->updated >= 1);
    assert_true(rec->counts->new_ >= 1);
    protobuf_c_message_free_unpacked(&rec->base, NULL);

    st = rt_state(&env);
    assert_string_equal(rt_mk_status(st, WEBINAR, a.lead_id), "Registered");
    assert_string_equal(rt_mk_status(st, WEBINAR, b.lead_id), "");
    rt_pairing_compute(st, WEBINAR, WEBINAR_CAMPAIGN, &p);
    assert_int_equal(p.mkto_only + p.sf_only + p.differ, 0);
    const char *sf_of_newcomer = rt_sf_person_of(st, newcomer);
    assert_non_null(sf_of_newcomer);
    assert_string_equal(rt_sf_status(st, WEBINAR_CAMPAIGN, sf_of_newcomer), "Registered");
    json_decref(st);
}

static void backward_salesforce_change_is_set_back(void **state)
{
    (void)state;
    json_t *st = rt_state(&env);
    rt_pairing p;
    rt_pairing_compute(st, WEBINAR, WEBINAR_CAMPAIGN, &p);
    const rt_row *r = rt_find_row(&p, "Attended", NULL);
    if (!r)
        r = rt_find_row(&p, "No Show", NULL);
    assert_non_null(r);
    rt_row row = *r;
    json_decref(st);
    assert_int_equal(rt_sf_set_status(&env, WEBINAR_CAMPAIGN, row.sf_id, "Invited"), 0);

    Campsync__V1__CycleRecord *rec = NULL;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, NULL), 0);
    assert_string_equal(rec->status, "Succeeded");
    assert_int_equal(rec->rejected_backwards, 1);
    int found = 0;
    for (size_t i = 0; i < rec->n_errors; i++)
        if (strcmp(rec->errors[i]->code, "REJECTED_BACKWARD") == 0 &&
            strstr(rec->errors[i]->message, "Invited"))
            found = 1;
    assert_true(found);
    protobuf_c_message_free_unpacked(&rec->base, NULL);

    st = rt_state(&env);
    assert_string_equal(rt_sf_status(st, WEBINAR_CAMPAIGN, row.sf_id), row.status);
    assert_string_equal(rt_mk_status(st, WEBINAR, row.lead_id), row.status);
    json_decref(st);
}

static void conflicts_follow_the_policy(void **state)
{
    (void)state;
    static const struct {
        Campsync__V1__ConflictPolicy policy;
        int marketo_should_win;
    } cases[] = {
        {CAMPSYNC__V1__CONFLICT_POLICY__MARKETO_WINS, 1},
        {CAMPSYNC__V1__CONFLICT_POLICY__SALESFORCE_WINS, 0},
        /* Salesforce changes second below, so it is the latest. */
        {CAMPSYNC__V1__CONFLICT_POLICY__LATEST_WINS, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        json_t *st = rt_state(&env);
        rt_pairing p;
        rt_pairing_compute(st, WEBINAR, WEBINAR_CAMPAIGN, &p);
        const rt_row *r = rt_find_row(&p, "Invited", NULL);
        assert_non_null(r);
        rt_row row = *r;
        json_decref(st);
        /* Both sides move the same member forward, to different steps. */
        assert_int_equal(rt_mk_set_status(&env, WEBINAR, row.lead_id, "Registered"), 0);
        assert_int_equal(rt_sf_set_status(&env, WEBINAR_CAMPAIGN, row.sf_id, "No Show"), 0);
        Campsync__V1__CycleRecord *rec = NULL;
        assert_int_equal(rt_sync(&env, WEBINAR, cases[k].policy, &rec, NULL), 0);
        assert_string_equal(rec->status, "Succeeded");
        assert_int_equal(rec->conflicts, 1);
        protobuf_c_message_free_unpacked(&rec->base, NULL);
        st = rt_state(&env);
        const char *want = cases[k].marketo_should_win ? "Registered" : "No Show";
        assert_string_equal(rt_mk_status(st, WEBINAR, row.lead_id), want);
        assert_string_equal(rt_sf_status(st, WEBINAR_CAMPAIGN, row.sf_id), want);
        json_decref(st);
    }
}

static void status_drift_stops_the_cycle(void **state)
{
    (void)state;
    /* Someone adds a status to the linked campaign: cycles stop (C6) with a
     * Failed record naming it, until it is gone again. */
    char *extra = rt_sf_create(&env, "CampaignMemberStatus",
                               "{\"CampaignId\":\"" WEBINAR_CAMPAIGN "\",\"Label\":\"Maybe\","
                               "\"SortOrder\":99}");
    assert_non_null(extra);
    Campsync__V1__CycleRecord *rec = NULL;
    rpc_error err;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, &err), GRPC_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, "\"Maybe\""));
    assert_non_null(rec);
    assert_string_equal(rec->status, "Failed");
    assert_non_null(strstr(rec->message, "\"Maybe\""));
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    assert_int_equal(rt_post(&env, "/admin/salesforce/delete", json_pack("{s:s}", "id", extra)), 0);
    free(extra);
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, &err), 0);
    assert_string_equal(rec->status, "Succeeded");
    protobuf_c_message_free_unpacked(&rec->base, NULL);
}

static void stale_token_writes_are_refused(void **state)
{
    (void)state;
    /* A newer holder has written (the fence saw a far higher token): this
     * replica's next cycle must not write anything and answers ABORTED. */
    rds_err re = {0};
    assert_int_equal(rds_configure(ts_redis_url(env.stack->redis), NULL, &re), 0);
    int accepted = 0;
    assert_int_equal(rds_fence_check("pair:1001", "writes", (int64_t)1 << 40, &accepted, NULL, &re),
                     0);
    assert_true(accepted);
    json_t *st = rt_state(&env);
    long long newcomer = rt_lead_outside(st, WEBINAR);
    json_decref(st);
    assert_int_equal(rt_mk_add(&env, WEBINAR, newcomer, "Invited"), 0);
    rt_reset_calls(&env);
    Campsync__V1__CycleRecord *rec = NULL;
    rpc_error err;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, &err), GRPC_STATUS_ABORTED);
    assert_non_null(rec);
    assert_string_equal(rec->status, "Failed");
    assert_non_null(strstr(rec->message, "lost the pair's lock"));
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    assert_int_equal(rt_write_calls(&env), 0);
    /* The newer holder gone (its fence record removed), cycles resume. */
    char key[128];
    assert_int_equal(rds_key(key, sizeof key, &re, "pair:1001", "fenced:writes"), 0);
    assert_int_equal(rds_del(key, NULL, &re), 0);
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, &err), 0);
    assert_string_equal(rec->status, "Succeeded");
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    rds_thread_disconnect();
}

static void people_are_created_on_both_sides(void **state)
{
    (void)state;
    /* A Marketo person without last name and company, and a Salesforce
     * contact nobody has in Marketo. */
    long long lead = rt_mk_create_lead(&env, "{\"email\":\"np.person@nowhere.example.com\"}");
    assert_true(lead > 0);
    assert_int_equal(rt_mk_add(&env, WEBINAR, lead, "Invited"), 0);
    char *contact = rt_sf_create(&env, "Contact",
                                 "{\"LastName\":\"Okafor\",\"FirstName\":\"Ada\","
                                 "\"Email\":\"ada.okafor@elsewhere.example.com\"}");
    assert_non_null(contact);
    assert_int_equal(rt_sf_add(&env, WEBINAR_CAMPAIGN, "ContactId", contact, "Registered"), 0);
    /* A Salesforce lead without an email: cannot be matched or created. */
    char *noemail =
        rt_sf_create(&env, "Lead", "{\"LastName\":\"Nomail\",\"Company\":\"Quiet Ltd\"}");
    assert_non_null(noemail);
    assert_int_equal(rt_sf_add(&env, WEBINAR_CAMPAIGN, "LeadId", noemail, "Invited"), 0);

    Campsync__V1__CycleRecord *rec = NULL;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, NULL), 0);
    assert_string_equal(rec->status, "Succeeded");
    assert_int_equal(rec->counts->skipped, 1);
    int named = 0;
    for (size_t i = 0; i < rec->n_errors; i++)
        if (strcmp(rec->errors[i]->code, "SKIPPED") == 0 &&
            (strstr(rec->errors[i]->person, noemail) || strstr(rec->errors[i]->message, noemail)))
            named = 1;
    assert_true(named);
    protobuf_c_message_free_unpacked(&rec->base, NULL);

    json_t *st = rt_state(&env);
    /* The Marketo person became a Lead with the required fields filled. */
    json_t *l = rt_sf_lead_by_email(st, "np.person@nowhere.example.com");
    assert_non_null(l);
    assert_string_equal(json_string_value(json_object_get(l, "LastName")), "[not provided]");
    assert_string_equal(json_string_value(json_object_get(l, "Company")), "[not provided]");
    assert_string_equal(
        rt_sf_status(st, WEBINAR_CAMPAIGN, json_string_value(json_object_get(l, "Id"))), "Invited");
    /* The contact became a Marketo person, member with its status. */
    long long made = rt_mk_lead_by_email(st, "ada.okafor@elsewhere.example.com");
    assert_true(made > 0);
    assert_string_equal(rt_mk_status(st, WEBINAR, made), "Registered");
    /* The email-less lead stayed a Salesforce-only member. */
    assert_string_equal(rt_sf_status(st, WEBINAR_CAMPAIGN, noemail), "Invited");
    json_decref(st);
    free(contact);
    free(noemail);
}

/* The reader looks a Marketo lead's Salesforce counterpart up by its email
 * in normal form (trimmed, lowercased), which it must keep for the lookup:
 * a lead whose email is not in that form still finds its Contact and is not
 * created again as a Lead. */
static void people_match_by_email_in_any_case(void **state)
{
    (void)state;
    long long lead = rt_mk_create_lead(
        &env, "{\"email\":\" Case.Mix@Differ.example.com\",\"lastName\":\"Mix\"}");
    assert_true(lead > 0);
    assert_int_equal(rt_mk_add(&env, WEBINAR, lead, "Invited"), 0);
    char *contact = rt_sf_create(
        &env, "Contact", "{\"LastName\":\"Mix\",\"Email\":\"case.mix@differ.example.com\"}");
    assert_non_null(contact);

    Campsync__V1__CycleRecord *rec = NULL;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, NULL), 0);
    assert_string_equal(rec->status, "Succeeded");
    protobuf_c_message_free_unpacked(&rec->base, NULL);

    json_t *st = rt_state(&env);
    assert_string_equal(rt_sf_status(st, WEBINAR_CAMPAIGN, contact), "Invited");
    assert_null(rt_sf_lead_by_email(st, "case.mix@differ.example.com"));
    json_decref(st);
    free(contact);
}

static void fields_go_one_way_to_the_campaign(void **state)
{
    (void)state;
    /* A Salesforce user edits Type and ActualCost: the cycle puts the
     * program's channel and summed costs back. */
    assert_int_equal(rt_sf_update(&env, WEBINAR_CAMPAIGN, "{\"Type\":\"Other\",\"ActualCost\":1}"),
                     0);
    Campsync__V1__CycleRecord *rec = NULL;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, NULL), 0);
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    json_t *st = rt_state(&env);
    json_t *c = rt_sf_record(st, "Campaign", WEBINAR_CAMPAIGN);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "Type")), "Webinar");
    assert_true(json_number_value(json_object_get(c, "ActualCost")) ==
                rt_mk_program_cost(st, WEBINAR));
    json_decref(st);
}

static void events_are_emitted_once(void **state)
{
    (void)state;
    rt_events ev;
    rt_collect_events(&env, "0", WEBINAR_CAMPAIGN, &ev);
    assert_true(ev.n > 0);
    /* Every change is one event: no (person, type, old, new) twice. */
    assert_int_equal(rt_events_duplicates(&ev), 0);
    size_t before = ev.n;
    int added = 0, removed = 0, changed = 0;
    for (size_t i = 0; i < ev.n; i++) {
        added += ev.e[i].type == CAMPSYNC__V1__EVENT_TYPE__ADDED_TO_SFDC_CAMPAIGN;
        removed += ev.e[i].type == CAMPSYNC__V1__EVENT_TYPE__REMOVED_FROM_SFDC_CAMPAIGN;
        changed += ev.e[i].type == CAMPSYNC__V1__EVENT_TYPE__SFDC_CAMPAIGN_STATUS_CHANGED;
        assert_int_equal(ev.e[i].program_id, WEBINAR);
    }
    assert_true(added > 0 && removed > 0 && changed > 0);
    rt_events_free(&ev);

    /* A further cycle with no change adds none; resuming after the last id
     * gives nothing old. */
    Campsync__V1__CycleRecord *rec = NULL;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, NULL), 0);
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    rt_collect_events(&env, "0", WEBINAR_CAMPAIGN, &ev);
    assert_int_equal(ev.n, before);
    rt_events_free(&ev);

    rpc_error err;
    assert_int_equal(rt_watch_error(&env, "not-an-id", &err), GRPC_STATUS_INVALID_ARGUMENT);
}

/* Syncs until a cycle finds nothing changed (our own writes of a cycle are
 * seen by the next one, which then reads in full and finds nothing to do). */
static void sync_until_quiet(void)
{
    for (int i = 0; i < 4; i++) {
        Campsync__V1__CycleRecord *rec = NULL;
        assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, NULL), 0);
        assert_string_equal(rec->status, "Succeeded");
        bool quiet = rt_was_quiet(rec);
        protobuf_c_message_free_unpacked(&rec->base, NULL);
        if (quiet)
            return;
        /* Changes within the probe's margin (1.5 s) before the last full
         * read count as unseen: let our own writes age past it. */
        ts_sleep_ms(1700);
    }
    ts_proc_dump_stderr(env.stack->svc[TS_SVC_RECONCILER], 6000);
    fail_msg("cycles never went quiet");
}

static void quiet_cycles_read_nothing_yet_see_every_change(void **state)
{
    (void)state;
    sync_until_quiet();
    /* A quiet cycle: two probes, no member read, no write. */
    rt_reset_calls(&env);
    Campsync__V1__CycleRecord *rec = NULL;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, NULL), 0);
    assert_true(rt_was_quiet(rec));
    assert_true(rec->api_calls_marketo + rec->api_calls_salesforce <= 8);
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    assert_int_equal(rt_write_calls(&env), 0);
    json_t *calls = ts_admin(env.stack, "GET", "/admin/calls", NULL, NULL);
    assert_null(json_object_get(json_object_get(calls, "marketo"),
                                "GET /rest/v1/programs/{id}/members.json"));
    json_decref(calls);

    /* A change on the Salesforce side only is seen... */
    json_t *st = rt_state(&env);
    rt_pairing p;
    rt_pairing_compute(st, WEBINAR, WEBINAR_CAMPAIGN, &p);
    const rt_row *r = rt_find_row(&p, "Registered", NULL);
    assert_non_null(r);
    rt_row row = *r;
    long long newcomer = rt_lead_outside(st, WEBINAR);
    json_decref(st);
    assert_int_equal(rt_sf_set_status(&env, WEBINAR_CAMPAIGN, row.sf_id, "No Show"), 0);
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, NULL), 0);
    assert_false(rt_was_quiet(rec));
    assert_int_equal(rec->counts->updated, 1);
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    st = rt_state(&env);
    assert_string_equal(rt_mk_status(st, WEBINAR, row.lead_id), "No Show");
    json_decref(st);

    /* ... and so is one on the Marketo side only. */
    sync_until_quiet();
    assert_int_equal(rt_mk_add(&env, WEBINAR, newcomer, "Registered"), 0);
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, NULL), 0);
    assert_false(rt_was_quiet(rec));
    assert_true(rec->counts->new_ >= 1);
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    st = rt_state(&env);
    assert_string_equal(rt_sf_status(st, WEBINAR_CAMPAIGN, rt_sf_person_of(st, newcomer)),
                        "Registered");
    json_decref(st);

    /* full = true reads in full whatever the probes say. */
    sync_until_quiet();
    assert_int_equal(rt_sync_opts(&env, WEBINAR, 0, 1, &rec, NULL), 0);
    assert_false(rt_was_quiet(rec));
    protobuf_c_message_free_unpacked(&rec->base, NULL);
}

/* A few people changed since the last cycle: only they (and their
 * counterparts) are read, by id, and the rest of the base is kept. */
static void partial_reads_take_the_changes_of_a_few_people(void **state)
{
    (void)state;
    sync_until_quiet();
    json_t *st = rt_state(&env);
    rt_pairing p;
    rt_pairing_compute(st, WEBINAR, WEBINAR_CAMPAIGN, &p);
    /* (people without email stay on one side: counted, not changed) */
    int members_before = p.both, one_side_before = p.mkto_only + p.sf_only;
    assert_int_equal(p.differ, 0);
    const rt_row *r1 = rt_find_row(&p, "Invited", NULL);
    const rt_row *r3 = rt_find_row(&p, "Registered", NULL);
    assert_non_null(r1);
    assert_non_null(r3);
    const rt_row *r2 = rt_find_row(&p, "Invited", r1);
    assert_non_null(r2);
    rt_row a = *r1, b = *r2, c = *r3;
    long long newcomer = rt_lead_outside(st, WEBINAR);
    assert_true(newcomer > 0);
    json_decref(st);
    /* Salesforce: a status forward and a removal; Marketo: a status forward
     * and a new member. */
    assert_int_equal(rt_sf_set_status(&env, WEBINAR_CAMPAIGN, a.sf_id, "Registered"), 0);
    assert_int_equal(rt_sf_remove(&env, WEBINAR_CAMPAIGN, b.sf_id), 0);
    assert_int_equal(rt_mk_set_status(&env, WEBINAR, c.lead_id, "Attended"), 0);
    assert_int_equal(rt_mk_add(&env, WEBINAR, newcomer, "Registered"), 0);

    Campsync__V1__CycleRecord *rec = NULL;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, NULL), 0);
    assert_string_equal(rec->status, "Succeeded");
    assert_string_equal(rec->read, "partial");
    assert_int_equal(rec->counts->deleted, 1);
    assert_int_equal(rec->counts->updated, 2);
    assert_true(rec->counts->new_ >= 1);
    /* Only the changed people were read: the campaign member without an
     * email, whom every full read skips, was not among them. */
    assert_int_equal(rec->counts->skipped, 0);
    protobuf_c_message_free_unpacked(&rec->base, NULL);

    st = rt_state(&env);
    assert_string_equal(rt_mk_status(st, WEBINAR, a.lead_id), "Registered");
    assert_string_equal(rt_mk_status(st, WEBINAR, b.lead_id), "");
    assert_string_equal(rt_sf_status(st, WEBINAR_CAMPAIGN, c.sf_id), "Attended");
    assert_string_equal(rt_sf_status(st, WEBINAR_CAMPAIGN, rt_sf_person_of(st, newcomer)),
                        "Registered");
    rt_pairing_compute(st, WEBINAR, WEBINAR_CAMPAIGN, &p);
    assert_int_equal(p.differ, 0);
    assert_int_equal(p.mkto_only + p.sf_only, one_side_before);
    assert_int_equal(p.both, members_before);
    json_decref(st);

    /* The base of everyone else was kept: a full read afterwards finds
     * nothing to do on either side. */
    sync_until_quiet();
    rt_reset_calls(&env);
    assert_int_equal(rt_sync_opts(&env, WEBINAR, 0, 1, &rec, NULL), 0);
    assert_string_equal(rec->read, "full");
    assert_int_equal(rec->counts->new_ + rec->counts->updated + rec->counts->deleted, 0);
    assert_true(rec->counts->skipped > 0);
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    assert_int_equal(rt_write_calls(&env), 0);

    /* Each change is one event, in order: the removal, and the status
     * change made in Salesforce as seen there. */
    rt_events ev;
    rt_collect_events(&env, "0", WEBINAR_CAMPAIGN, &ev);
    assert_int_equal(rt_events_duplicates(&ev), 0);
    int removed_b = 0, a_registered = 0;
    for (size_t i = 0; i < ev.n; i++) {
        removed_b += ev.e[i].type == CAMPSYNC__V1__EVENT_TYPE__REMOVED_FROM_SFDC_CAMPAIGN &&
                     strcmp(ev.e[i].person, b.sf_id) == 0;
        a_registered += ev.e[i].type == CAMPSYNC__V1__EVENT_TYPE__SFDC_CAMPAIGN_STATUS_CHANGED &&
                        strcmp(ev.e[i].person, a.sf_id) == 0 &&
                        strcmp(ev.e[i].new_status, "Registered") == 0;
    }
    assert_int_equal(removed_b, 1);
    assert_int_equal(a_registered, 1);
    rt_events_free(&ev);
}

static void dry_run_writes_nothing(void **state)
{
    (void)state;
    json_t *st = rt_state(&env);
    long long newcomer = rt_lead_outside(st, WEBINAR);
    json_decref(st);
    assert_int_equal(rt_mk_add(&env, WEBINAR, newcomer, "Invited"), 0);
    rt_reset_calls(&env);
    Campsync__V1__SyncPlan *plan = NULL;
    rpc_error err;
    assert_int_equal(rt_dry_run(&env, WEBINAR, &plan, &err), 0);
    int found = 0;
    for (size_t i = 0; i < plan->n_changes; i++)
        if (strcmp(plan->changes[i]->side, "salesforce") == 0 &&
            strcmp(plan->changes[i]->action, "add") == 0 &&
            strcmp(plan->changes[i]->to_status, "Invited") == 0)
            found = 1;
    assert_true(found);
    protobuf_c_message_free_unpacked(&plan->base, NULL);
    assert_int_equal(rt_write_calls(&env), 0);
    st = rt_state(&env);
    const char *sfp = rt_sf_person_of(st, newcomer);
    assert_true(!sfp || !rt_sf_status(st, WEBINAR_CAMPAIGN, sfp)[0]);
    json_decref(st);
}

static void cycles_are_recorded(void **state)
{
    (void)state;
    Campsync__V1__CycleList *l = NULL;
    rpc_error err;
    assert_int_equal(rt_list_cycles(&env, WEBINAR, 3, &l, &err), 0);
    assert_int_equal(l->n_cycles, 3);
    for (size_t i = 0; i < l->n_cycles; i++) {
        assert_string_equal(l->cycles[i]->campaign_id, WEBINAR_CAMPAIGN);
        assert_true(l->cycles[i]->fencing_token > 0);
        assert_true(l->cycles[i]->finished_at_ms >= l->cycles[i]->started_at_ms);
        if (i > 0)
            assert_true(l->cycles[i - 1]->started_at_ms >= l->cycles[i]->started_at_ms);
    }
    protobuf_c_message_free_unpacked(&l->base, NULL);
    assert_int_equal(rt_list_cycles(&env, 0, 3, &l, &err), GRPC_STATUS_INVALID_ARGUMENT);
}

static void new_campaign_link_creates_it_with_statuses(void **state)
{
    (void)state;
    rpc_error err;
    Campsync__V1__LinkRequest rq = CAMPSYNC__V1__LINK_REQUEST__INIT;
    rq.program_id = SYNDICATION;
    rq.new_campaign_name = "Syndication 2025 (campsync)";
    Campsync__V1__Pair *p = NULL;
    assert_int_equal(rt_link(&env, &rq, &p, &err), 0);
    char campaign[32];
    snprintf(campaign, sizeof campaign, "%s", p->campaign_id);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    json_t *st = rt_state(&env);
    json_t *c = rt_sf_record(st, "Campaign", campaign);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "Type")), "Content Syndication");
    assert_true(rt_sf_has_status(st, campaign, "Lead Acquired"));
    json_decref(st);

    Campsync__V1__CycleRecord *rec = NULL;
    assert_int_equal(rt_sync(&env, SYNDICATION, 0, &rec, NULL), 0);
    assert_string_equal(rec->status, "Succeeded");
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    st = rt_state(&env);
    rt_pairing pa;
    rt_pairing_compute(st, SYNDICATION, campaign, &pa);
    assert_int_equal(pa.mkto_only + pa.sf_only + pa.differ, 0);
    assert_int_equal(pa.both, 30);
    json_decref(st);

    /* Unlink leaves members alone; the pair is gone. */
    Campsync__V1__UnlinkRequest uq = CAMPSYNC__V1__UNLINK_REQUEST__INIT;
    uq.program_id = SYNDICATION;
    assert_int_equal(rt_unlink(&env, &uq, &err), 0);
    assert_int_equal(rt_unlink(&env, &uq, &err), GRPC_STATUS_NOT_FOUND);
    st = rt_state(&env);
    rt_pairing_compute(st, SYNDICATION, campaign, &pa);
    assert_int_equal(pa.both, 30);
    json_decref(st);
}

static void filter_and_flow_actions(void **state)
{
    (void)state;
    json_t *st = rt_state(&env);
    rt_pairing p;
    rt_pairing_compute(st, TRADESHOW, TRADESHOW_CAMPAIGN, &p);
    const rt_row *m = rt_find_row(&p, NULL, NULL);
    assert_non_null(m);
    rt_row member = *m;
    assert_true(member.sf_id[0] && member.status[0] && member.in_sf);
    long long outsider = rt_lead_outside_campaign(st, TRADESHOW_CAMPAIGN);
    assert_true(outsider > 0);
    json_decref(st);

    /* Filter: member with status, non-member. */
    Campsync__V1__MembershipAnswer *a = NULL;
    rpc_error err;
    assert_int_equal(rt_is_member(&env, TRADESHOW_CAMPAIGN, 0, NULL, member.sf_id, &a, &err), 0);
    assert_true(a->is_member);
    assert_string_equal(a->status, member.status);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    assert_int_equal(rt_is_member(&env, TRADESHOW_CAMPAIGN, outsider, NULL, NULL, &a, &err), 0);
    assert_false(a->is_member);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    assert_int_equal(rt_is_member(&env, "", outsider, NULL, NULL, &a, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);

    /* Add: the member is skipped and keeps its status; the outsider (a
     * Marketo lead id) and a brand-new email are added, the email created
     * as a Lead first. */
    Campsync__V1__BatchResult *r = NULL;
    const char *new_email = "flow.new@brandnew.example.com";
    assert_int_equal(rt_flow(&env, "AddToSfdcCampaign", TRADESHOW_CAMPAIGN, "Visited Booth",
                             member.sf_id, outsider, new_email, &r, &err),
                     0);
    assert_int_equal(r->n_results, 3);
    assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED);
    assert_int_equal(r->results[1]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED);
    assert_int_equal(r->results[2]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    st = rt_state(&env);
    assert_string_equal(rt_sf_status(st, TRADESHOW_CAMPAIGN, member.sf_id), member.status);
    json_t *nl = rt_sf_lead_by_email(st, new_email);
    assert_non_null(nl);
    char new_id[32];
    snprintf(new_id, sizeof new_id, "%s", json_string_value(json_object_get(nl, "Id")));
    assert_string_equal(rt_sf_status(st, TRADESHOW_CAMPAIGN, new_id), "Visited Booth");
    json_decref(st);

    /* Change status: member updated; a non-member is added first. */
    const char *other_email = "flow.other@brandnew.example.com";
    assert_int_equal(rt_flow(&env, "ChangeStatusInSfdcCampaign", TRADESHOW_CAMPAIGN, "Had Meeting",
                             new_id, 0, other_email, &r, &err),
                     0);
    assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED);
    assert_int_equal(r->results[1]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    st = rt_state(&env);
    assert_string_equal(rt_sf_status(st, TRADESHOW_CAMPAIGN, new_id), "Had Meeting");
    json_decref(st);

    /* Remove: the member goes, a non-member is skipped. */
    assert_int_equal(rt_flow(&env, "RemoveFromSfdcCampaign", TRADESHOW_CAMPAIGN, NULL, new_id, 0,
                             "nobody.here@brandnew.example.com", &r, &err),
                     0);
    assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_DELETED);
    assert_int_equal(r->results[1]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    st = rt_state(&env);
    assert_string_equal(rt_sf_status(st, TRADESHOW_CAMPAIGN, new_id), "");
    json_decref(st);

    assert_int_equal(rt_flow(&env, "ChangeStatusInSfdcCampaign", TRADESHOW_CAMPAIGN, NULL, new_id,
                             0, NULL, &r, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);
}

static void marketing_user_is_required(void **state)
{
    (void)state;
    assert_int_equal(rt_set_marketing_user(&env, 0), 0);
    Campsync__V1__CycleRecord *rec = NULL;
    rpc_error err;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, &err), GRPC_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, "Marketing User"));
    assert_non_null(strstr(err.message, "checkbox"));
    if (rec)
        protobuf_c_message_free_unpacked(&rec->base, NULL);
    Campsync__V1__LinkRequest rq = CAMPSYNC__V1__LINK_REQUEST__INIT;
    rq.program_id = EMAIL_SEND;
    rq.campaign_id = "701Dn00000000GAIAY";
    assert_int_equal(rt_link(&env, &rq, NULL, &err), GRPC_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, "Marketing User"));
    assert_int_equal(rt_set_marketing_user(&env, 1), 0);
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, &err), 0);
    assert_string_equal(rec->status, "Succeeded");
    protobuf_c_message_free_unpacked(&rec->base, NULL);
}

static void sync_switched_off_refuses_sync_calls(void **state)
{
    (void)state;
    static const char *const off[] = {"CAMPSYNC_CAMPAIGN_SYNC=off", NULL};
    assert_int_equal(rt_restart_reconciler(&env, off), 0);
    Campsync__V1__CycleRecord *rec = NULL;
    rpc_error err;
    assert_int_equal(rt_sync(&env, WEBINAR, 0, &rec, &err), GRPC_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, ": campaign sync is disabled"));
    Campsync__V1__SyncPlan *plan = NULL;
    assert_int_equal(rt_dry_run(&env, WEBINAR, &plan, &err), GRPC_STATUS_FAILED_PRECONDITION);
    Campsync__V1__LinkRequest rq = CAMPSYNC__V1__LINK_REQUEST__INIT;
    rq.program_id = EMAIL_SEND;
    rq.campaign_id = "701Dn00000000GAIAY";
    assert_int_equal(rt_link(&env, &rq, NULL, &err), GRPC_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, ": campaign sync is disabled"));
    Campsync__V1__BatchResult *r = NULL;
    assert_int_equal(
        rt_flow(&env, "AddToSfdcCampaign", TRADESHOW_CAMPAIGN, "Invited", NULL, 5, NULL, &r, &err),
        GRPC_STATUS_FAILED_PRECONDITION);
    /* Reading what exists still works. */
    assert_int_equal(rt_count_pairs(&env), 1);
    assert_int_equal(rt_restart_reconciler(&env, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(link_validates_and_names_every_status),
        cmocka_unit_test(link_is_one_to_one),
        cmocka_unit_test(first_sync_is_a_union_with_the_higher_status),
        cmocka_unit_test(no_change_cycle_writes_nothing),
        cmocka_unit_test(changes_reach_the_other_side),
        cmocka_unit_test(backward_salesforce_change_is_set_back),
        cmocka_unit_test(conflicts_follow_the_policy),
        cmocka_unit_test(status_drift_stops_the_cycle),
        cmocka_unit_test(stale_token_writes_are_refused),
        cmocka_unit_test(people_are_created_on_both_sides),
        cmocka_unit_test(people_match_by_email_in_any_case),
        cmocka_unit_test(fields_go_one_way_to_the_campaign),
        cmocka_unit_test(events_are_emitted_once),
        cmocka_unit_test(quiet_cycles_read_nothing_yet_see_every_change),
        cmocka_unit_test(partial_reads_take_the_changes_of_a_few_people),
        cmocka_unit_test(dry_run_writes_nothing),
        cmocka_unit_test(cycles_are_recorded),
        cmocka_unit_test(new_campaign_link_creates_it_with_statuses),
        cmocka_unit_test(filter_and_flow_actions),
        cmocka_unit_test(marketing_user_is_required),
        cmocka_unit_test(sync_switched_off_refuses_sync_calls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
