/*
 * campsync-salesforce against the sandbox over real HTTP, called over real
 * gRPC, with a real redis-server: typed reads and writes land in (and come
 * from) the simulated org, requests are validated, vendor failures map to
 * the documented gRPC statuses, transient faults and an expired token are
 * absorbed, the daily limit is guarded before Salesforce refuses, and the
 * number of API calls is the minimum (2,000 rows per page, 200 per write).
 *
 * Also: the JWT bearer flow (a throwaway RSA key made with the openssl CLI),
 * every sandbox fault mode (cut and garbled answers, dropped connections
 * before and after processing, UNABLE_TO_LOCK_ROW, 503 bursts) with no
 * duplicate created by a write that may have been applied, and a second
 * group on a generated org (a campaign over 2,000 members) for a token that
 * expires between pages and the fewest-calls figures for reads and writes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

#include "campsync/v1/salesforce.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "rpc/rpc_client.h"
#include "ts_stack.h"

#define SVC (&campsync__v1__salesforce_connector__descriptor)
/* Ids in tests/sandbox/datasets/small.json. */
#define WEBINAR_CAMPAIGN "701Dn00000000G8IAI"

static ts_stack *stack;
static rpc_client *sf;

static int setup(void **state)
{
    (void)state;
    static const char *const env[] = {"CAMPSYNC_SALESFORCE_LIMIT_RECHECK_MS=1500", NULL};
    ts_stack_opts o = {.dataset = "tests/sandbox/datasets/small.json",
                       .seed = 11,
                       .services = 1u << TS_SVC_SALESFORCE,
                       .env = env};
    stack = ts_stack_start(&o);
    if (!stack)
        return -1;
    rpc_client_opts co = {.default_timeout_ms = 30000};
    rpc_error err = {0};
    sf = rpc_client_get(stack->target[TS_SVC_SALESFORCE], &co, &err);
    return sf ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rpc_client_cleanup();
    ts_stack_free(stack);
    return 0;
}

static int call(const char *method, const ProtobufCMessage *rq, ProtobufCMessage **out,
                rpc_error *err)
{
    memset(err, 0, sizeof *err);
    return rpc_client_unary(sf, SVC, method, rq, out, NULL, err);
}

static json_t *sf_records(const char *type)
{
    json_t *st = ts_admin(stack, "GET", "/admin/state", NULL, NULL);
    assert_non_null(st);
    json_t *recs = json_incref(
        json_object_get(json_object_get(json_object_get(st, "salesforce"), "records"), type));
    json_decref(st);
    assert_non_null(recs);
    return recs;
}

static size_t members_of(const char *campaign)
{
    json_t *recs = sf_records("CampaignMember");
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        if (json_is_true(json_object_get(r, "IsDeleted")))
            continue;
        if (strcmp(json_string_value(json_object_get(r, "CampaignId")), campaign) == 0)
            n++;
    }
    json_decref(recs);
    return n;
}

static long long calls_to(const char *label)
{
    json_t *c = ts_admin(stack, "GET", "/admin/calls", NULL, NULL);
    assert_non_null(c);
    long long n = json_integer_value(json_object_get(json_object_get(c, "salesforce"), label));
    json_decref(c);
    return n;
}

static void reset_calls(void)
{
    json_decref(ts_admin(stack, "DELETE", "/admin/calls", NULL, NULL));
}

/* A lead of the dataset that is not a member of campaign. */
static char *lead_outside(const char *campaign)
{
    json_t *members = sf_records("CampaignMember"), *leads = sf_records("Lead");
    size_t i, k;
    json_t *l, *m;
    char *found = NULL;
    json_array_foreach(leads, i, l)
    {
        const char *id = json_string_value(json_object_get(l, "Id"));
        if (json_is_true(json_object_get(l, "IsConverted")))
            continue;
        int member = 0;
        json_array_foreach(members, k, m)
        {
            const char *lid = json_string_value(json_object_get(m, "LeadId"));
            const char *cid = json_string_value(json_object_get(m, "CampaignId"));
            if (lid && cid && strcmp(lid, id) == 0 && strcmp(cid, campaign) == 0 &&
                !json_is_true(json_object_get(m, "IsDeleted")))
                member = 1;
        }
        if (!member) {
            found = strdup(id);
            break;
        }
    }
    json_decref(members);
    json_decref(leads);
    assert_non_null(found);
    return found;
}

/* A live member of campaign other than not_this. */
static char *other_member(const char *campaign, const char *not_this)
{
    json_t *members = sf_records("CampaignMember");
    size_t i;
    json_t *m;
    char *found = NULL;
    json_array_foreach(members, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "Id"));
        if (!found && strcmp(json_string_value(json_object_get(m, "CampaignId")), campaign) == 0 &&
            strcmp(id, not_this) != 0 && !json_is_true(json_object_get(m, "IsDeleted")))
            found = strdup(id);
    }
    json_decref(members);
    assert_non_null(found);
    return found;
}

static void get_campaigns_maps_fields(void **state)
{
    (void)state;
    char *ids[] = {WEBINAR_CAMPAIGN, "701Dn00000000G8IAI", "701Dn00000000ZZZAA"};
    Campsync__V1__GetCampaignsRequest rq = CAMPSYNC__V1__GET_CAMPAIGNS_REQUEST__INIT;
    rq.ids = ids;
    rq.n_ids = 3;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    reset_calls();
    assert_int_equal(call("GetCampaigns", &rq.base, &out, &err), 0);
    Campsync__V1__CampaignList *l = (void *)out;
    /* The repeated id is asked once; the unknown one is simply absent. */
    assert_int_equal(l->n_campaigns, 1);
    assert_string_equal(l->campaigns[0]->id, WEBINAR_CAMPAIGN);
    assert_string_equal(l->campaigns[0]->type, "Webinar");
    assert_int_equal(l->campaigns[0]->actual_cost_minor, 1436700);
    assert_string_equal(l->campaigns[0]->enable_buyer_touchpoints, "Include All Campaign Members");
    assert_int_equal(calls_to("GET query"), 1);
    protobuf_c_message_free_unpacked(out, NULL);
}

static void hostile_ids_are_refused(void **state)
{
    (void)state;
    static char *bad[][1] = {{"701' OR Id != null OR Name='"}, {"abc"}, {"701Dn00000000G8IAI\n"}};
    for (size_t i = 0; i < 3; i++) {
        Campsync__V1__GetCampaignsRequest rq = CAMPSYNC__V1__GET_CAMPAIGNS_REQUEST__INIT;
        rq.ids = bad[i];
        rq.n_ids = 1;
        ProtobufCMessage *out = NULL;
        rpc_error err;
        assert_int_equal(call("GetCampaigns", &rq.base, &out, &err), GRPC_STATUS_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "ids[0]"));
    }
}

static void members_stream_matches_the_org(void **state)
{
    (void)state;
    Campsync__V1__StreamCampaignMembersRequest rq =
        CAMPSYNC__V1__STREAM_CAMPAIGN_MEMBERS_REQUEST__INIT;
    rq.campaign_id = WEBINAR_CAMPAIGN;
    rpc_stream *s = NULL;
    rpc_error err = {0};
    assert_int_equal(rpc_stream_open(sf, SVC, "StreamCampaignMembers", &rq.base, NULL, &s, &err),
                     0);
    ProtobufCMessage *msg;
    size_t n = 0, with_email = 0;
    int rc;
    while ((rc = rpc_stream_next(s, &msg, &err)) == 1) {
        Campsync__V1__CampaignMemberPage *p = (void *)msg;
        for (size_t i = 0; i < p->n_members; i++) {
            assert_string_equal(p->members[i]->campaign_id, WEBINAR_CAMPAIGN);
            assert_true(p->members[i]->lead_id[0] || p->members[i]->contact_id[0]);
            with_email += p->members[i]->email[0] != '\0';
        }
        n += p->n_members;
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    assert_int_equal(rc, 0);
    rpc_stream_close(s);
    assert_int_equal(n, members_of(WEBINAR_CAMPAIGN));
    assert_true(with_email > 0);
}

/* Streams the campaign's members of the given people: member id -> status. */
static json_t *members_of_people(char **ids, size_t n, rpc_error *err, int *code)
{
    Campsync__V1__StreamCampaignMembersRequest rq =
        CAMPSYNC__V1__STREAM_CAMPAIGN_MEMBERS_REQUEST__INIT;
    rq.campaign_id = WEBINAR_CAMPAIGN;
    rq.person_ids = ids;
    rq.n_person_ids = n;
    rpc_stream *s = NULL;
    json_t *got = json_object();
    *code = rpc_stream_open(sf, SVC, "StreamCampaignMembers", &rq.base, NULL, &s, err);
    if (*code != 0)
        return got;
    ProtobufCMessage *msg;
    while ((*code = rpc_stream_next(s, &msg, err)) == 1) {
        Campsync__V1__CampaignMemberPage *p = (void *)msg;
        for (size_t i = 0; i < p->n_members; i++)
            json_object_set_new(got, p->members[i]->id, json_string(p->members[i]->status));
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    rpc_stream_close(s);
    if (*code < 0)
        *code = err->code;
    return got;
}

/* The members of a list of people, Leads and Contacts mixed, chunked over
 * several queries, people who are not members answering nothing. */
static void members_stream_by_people(void **state)
{
    (void)state;
    json_t *recs = sf_records("CampaignMember");
    json_t *want = json_object();
    char **ids = calloc(json_array_size(recs) + 2, sizeof *ids);
    size_t n = 0, leads = 0, contacts = 0, i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        if (json_is_true(json_object_get(r, "IsDeleted")) ||
            strcmp(json_string_value(json_object_get(r, "CampaignId")), WEBINAR_CAMPAIGN) != 0 ||
            i % 2)
            continue;
        const char *lid = json_string_value(json_object_get(r, "LeadId"));
        const char *cid = json_string_value(json_object_get(r, "ContactId"));
        ids[n++] = strdup(cid ? cid : lid);
        contacts += cid != NULL;
        leads += cid == NULL;
        json_object_set(want, json_string_value(json_object_get(r, "Id")),
                        json_object_get(r, "Status"));
    }
    assert_true(leads > 0 && contacts > 0);
    ids[n++] = lead_outside(WEBINAR_CAMPAIGN);
    reset_calls();
    rpc_error err = {0};
    int code = 0;
    json_t *got = members_of_people(ids, n, &err, &code);
    assert_int_equal(code, 0);
    assert_true(json_equal(got, want));
    assert_true(calls_to("GET query") >= 2);
    json_decref(got);

    /* Not a person id, or mixed with a since: refused, naming the problem. */
    char *bad[] = {"701Dn00000000G8IAI"};
    got = members_of_people(bad, 1, &err, &code);
    assert_int_equal(code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "person_ids[0]"));
    json_decref(got);
    Campsync__V1__StreamCampaignMembersRequest rq =
        CAMPSYNC__V1__STREAM_CAMPAIGN_MEMBERS_REQUEST__INIT;
    rq.campaign_id = WEBINAR_CAMPAIGN;
    rq.person_ids = ids;
    rq.n_person_ids = 1;
    rq.since_ms = 1;
    rpc_stream *s = NULL;
    ProtobufCMessage *msg = NULL;
    assert_int_equal(rpc_stream_open(sf, SVC, "StreamCampaignMembers", &rq.base, NULL, &s, &err),
                     0);
    assert_int_equal(rpc_stream_next(s, &msg, &err), -1);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    rpc_stream_close(s);

    for (size_t k = 0; k < n; k++)
        free(ids[k]);
    free(ids);
    json_decref(want);
    json_decref(recs);
}

static void add_update_remove_members(void **state)
{
    (void)state;
    char *lead = lead_outside(WEBINAR_CAMPAIGN);
    size_t before = members_of(WEBINAR_CAMPAIGN);

    Campsync__V1__NewMember m = CAMPSYNC__V1__NEW_MEMBER__INIT;
    m.lead_id = lead;
    m.status = "Registered";
    Campsync__V1__NewMember *ms[] = {&m, &m};
    Campsync__V1__AddMembersRequest add = CAMPSYNC__V1__ADD_MEMBERS_REQUEST__INIT;
    add.campaign_id = WEBINAR_CAMPAIGN;
    add.members = ms;
    add.n_members = 2;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    assert_int_equal(call("AddMembers", &add.base, &out, &err), 0);
    Campsync__V1__BatchResult *r = (void *)out;
    assert_int_equal(r->n_results, 2);
    assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED);
    /* The same person twice: Salesforce says DUPLICATE_VALUE, a skip. */
    assert_int_equal(r->results[1]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED);
    assert_string_equal(r->results[1]->code, "DUPLICATE_VALUE");
    char *member_id = strdup(r->results[0]->id);
    protobuf_c_message_free_unpacked(out, NULL);
    assert_int_equal(members_of(WEBINAR_CAMPAIGN), before + 1);

    Campsync__V1__MemberStatusChange good = CAMPSYNC__V1__MEMBER_STATUS_CHANGE__INIT;
    good.member_id = member_id;
    good.status = "Attended";
    char *other = other_member(WEBINAR_CAMPAIGN, member_id);
    Campsync__V1__MemberStatusChange bad = CAMPSYNC__V1__MEMBER_STATUS_CHANGE__INIT;
    bad.member_id = other;
    bad.status = "No Such Status";
    Campsync__V1__MemberStatusChange *ch[] = {&bad, &good};
    Campsync__V1__UpdateMemberStatusRequest up = CAMPSYNC__V1__UPDATE_MEMBER_STATUS_REQUEST__INIT;
    up.changes = ch;
    up.n_changes = 2;
    assert_int_equal(call("UpdateMemberStatus", &up.base, &out, &err), 0);
    r = (void *)out;
    /* One bad record fails alone; the other is written. */
    assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED);
    assert_true(r->results[0]->reason[0] != '\0');
    assert_int_equal(r->results[1]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED);
    protobuf_c_message_free_unpacked(out, NULL);

    char *ids[] = {member_id};
    Campsync__V1__RemoveCampaignMembersRequest rm =
        CAMPSYNC__V1__REMOVE_CAMPAIGN_MEMBERS_REQUEST__INIT;
    rm.member_ids = ids;
    rm.n_member_ids = 1;
    assert_int_equal(call("RemoveMembers", &rm.base, &out, &err), 0);
    r = (void *)out;
    assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_DELETED);
    protobuf_c_message_free_unpacked(out, NULL);
    assert_int_equal(members_of(WEBINAR_CAMPAIGN), before);
    free(member_id);
    free(other);
    free(lead);
}

static void add_members_validates_each_person(void **state)
{
    (void)state;
    Campsync__V1__NewMember both = CAMPSYNC__V1__NEW_MEMBER__INIT;
    both.lead_id = "00QDn00000000GIMAY";
    both.contact_id = "003Dn00000000GIMAY";
    Campsync__V1__NewMember *ms[] = {&both};
    Campsync__V1__AddMembersRequest add = CAMPSYNC__V1__ADD_MEMBERS_REQUEST__INIT;
    add.campaign_id = WEBINAR_CAMPAIGN;
    add.members = ms;
    add.n_members = 1;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    assert_int_equal(call("AddMembers", &add.base, &out, &err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "exactly one"));
}

static void create_leads_requires_last_name_and_company(void **state)
{
    (void)state;
    Campsync__V1__Person p = CAMPSYNC__V1__PERSON__INIT;
    p.email = "new.person@example.com";
    p.last_name = "Person";
    Campsync__V1__Person *ps[] = {&p};
    Campsync__V1__CreateLeadsRequest rq = CAMPSYNC__V1__CREATE_LEADS_REQUEST__INIT;
    rq.leads = ps;
    rq.n_leads = 1;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    assert_int_equal(call("CreateLeads", &rq.base, &out, &err), GRPC_STATUS_INVALID_ARGUMENT);
    p.company = "[not provided]";
    assert_int_equal(call("CreateLeads", &rq.base, &out, &err), 0);
    Campsync__V1__BatchResult *r = (void *)out;
    assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_CREATED);
    assert_int_equal(strlen(r->results[0]->id), 18);
    protobuf_c_message_free_unpacked(out, NULL);

    char *emails[] = {"NEW.PERSON@example.com"};
    Campsync__V1__GetPeopleRequest g = CAMPSYNC__V1__GET_PEOPLE_REQUEST__INIT;
    g.emails = emails;
    g.n_emails = 1;
    assert_int_equal(call("GetLeads", &g.base, &out, &err), 0);
    Campsync__V1__PersonList *l = (void *)out;
    assert_int_equal(l->n_people, 1);
    assert_string_equal(l->people[0]->company, "[not provided]");
    protobuf_c_message_free_unpacked(out, NULL);
}

static void marketing_user_check_follows_the_org(void **state)
{
    (void)state;
    Campsync__V1__Empty e = CAMPSYNC__V1__EMPTY__INIT;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    assert_int_equal(call("CheckMarketingUser", &e.base, &out, &err), 0);
    assert_true(((Campsync__V1__MarketingUserCheck *)out)->is_marketing_user);
    protobuf_c_message_free_unpacked(out, NULL);

    json_decref(ts_admin(stack, "POST", "/admin/salesforce/set_marketing_user",
                         "{\"value\": false}", NULL));
    assert_int_equal(call("CheckMarketingUser", &e.base, &out, &err), 0);
    assert_false(((Campsync__V1__MarketingUserCheck *)out)->is_marketing_user);
    protobuf_c_message_free_unpacked(out, NULL);
    /* Without the permission CampaignMemberStatus is invisible: the caller
     * gets Salesforce's error code and message, not a generic failure. */
    Campsync__V1__ListMemberStatusesRequest ls = CAMPSYNC__V1__LIST_MEMBER_STATUSES_REQUEST__INIT;
    ls.campaign_id = WEBINAR_CAMPAIGN;
    assert_int_not_equal(call("ListMemberStatuses", &ls.base, &out, &err), 0);
    assert_non_null(strstr(err.message, "INVALID_TYPE"));
    json_decref(
        ts_admin(stack, "POST", "/admin/salesforce/set_marketing_user", "{\"value\": true}", NULL));
    assert_int_equal(call("ListMemberStatuses", &ls.base, &out, &err), 0);
    assert_true(((Campsync__V1__MemberStatusList *)out)->n_statuses > 0);
    protobuf_c_message_free_unpacked(out, NULL);
}

static void expired_token_is_renewed_once(void **state)
{
    (void)state;
    json_decref(ts_admin(stack, "POST", "/admin/expire_tokens", "{}", NULL));
    reset_calls();
    char *ids[] = {WEBINAR_CAMPAIGN};
    Campsync__V1__GetCampaignsRequest rq = CAMPSYNC__V1__GET_CAMPAIGNS_REQUEST__INIT;
    rq.ids = ids;
    rq.n_ids = 1;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    assert_int_equal(call("GetCampaigns", &rq.base, &out, &err), 0);
    protobuf_c_message_free_unpacked(out, NULL);
    /* One refused call (the sandbox counts a 401 as "GET data"), one new
     * token, the query again. */
    assert_int_equal(calls_to("GET data") + calls_to("GET query"), 2);
    assert_int_equal(calls_to("GET query"), 1);
    assert_int_equal(calls_to("POST oauth2/token"), 1);
}

static void transient_faults_are_absorbed(void **state)
{
    (void)state;
    json_decref(ts_admin(stack, "POST", "/admin/faults",
                         "{\"vendor\":\"salesforce\",\"server_error\":0.2,\"transient\":0.1,"
                         "\"seed\":5}",
                         NULL));
    for (int i = 0; i < 10; i++) {
        char *ids[] = {WEBINAR_CAMPAIGN};
        Campsync__V1__GetCampaignsRequest rq = CAMPSYNC__V1__GET_CAMPAIGNS_REQUEST__INIT;
        rq.ids = ids;
        rq.n_ids = 1;
        ProtobufCMessage *out = NULL;
        rpc_error err;
        assert_int_equal(call("GetCampaigns", &rq.base, &out, &err), 0);
        assert_int_equal(((Campsync__V1__CampaignList *)out)->n_campaigns, 1);
        protobuf_c_message_free_unpacked(out, NULL);
    }
    json_decref(ts_admin(stack, "POST", "/admin/faults",
                         "{\"vendor\":\"salesforce\",\"server_error\":0,\"transient\":0}", NULL));
}

static void daily_limit_is_guarded_before_salesforce_refuses(void **state)
{
    (void)state;
    json_decref(ts_admin(stack, "POST", "/admin/salesforce/set_api_usage",
                         "{\"used\": 9500, \"daily_api\": 10000}", NULL));
    char *ids[] = {WEBINAR_CAMPAIGN};
    Campsync__V1__GetCampaignsRequest rq = CAMPSYNC__V1__GET_CAMPAIGNS_REQUEST__INIT;
    rq.ids = ids;
    rq.n_ids = 1;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    /* The first call learns the usage from Sforce-Limit-Info... */
    assert_int_equal(call("GetCampaigns", &rq.base, &out, &err), 0);
    protobuf_c_message_free_unpacked(out, NULL);
    /* ...and new work is then refused, saying why, with no call made. */
    reset_calls();
    assert_int_equal(call("GetCampaigns", &rq.base, &out, &err), GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(err.message, "90%"));
    assert_int_equal(calls_to("GET query"), 0);
    /* The window rolls on: once the figure is older than the recheck time,
     * one call goes through and learns the usage has fallen. */
    json_decref(ts_admin(stack, "POST", "/admin/salesforce/set_api_usage",
                         "{\"used\": 0, \"daily_api\": 100000}", NULL));
    ts_sleep_ms(1600);
    assert_int_equal(call("GetCampaigns", &rq.base, &out, &err), 0);
    protobuf_c_message_free_unpacked(out, NULL);
    assert_int_equal(call("GetCampaigns", &rq.base, &out, &err), 0);
    protobuf_c_message_free_unpacked(out, NULL);
    /* Salesforce's own refusal maps to RESOURCE_EXHAUSTED as well. */
    json_decref(ts_admin(stack, "POST", "/admin/salesforce/set_api_usage",
                         "{\"used\": 100000, \"daily_api\": 100000}", NULL));
    int rc = call("GetCampaigns", &rq.base, &out, &err);
    assert_int_equal(rc, GRPC_STATUS_RESOURCE_EXHAUSTED);
    json_decref(ts_admin(stack, "POST", "/admin/salesforce/set_api_usage",
                         "{\"used\": 0, \"daily_api\": 100000}", NULL));
}

static void plain_http_refused_unless_allowed(void **state)
{
    (void)state;
    char bin[512], url[256];
    assert_int_equal(ts_bin_path("campsync-salesforce", bin, sizeof bin), 0);
    snprintf(url, sizeof url, "CAMPSYNC_SALESFORCE_LOGIN_URL=%s", stack->salesforce_url);
    const char *env[] = {url, "CAMPSYNC_ALLOW_PLAIN_HTTP=false",
                         "CAMPSYNC_SALESFORCE_CLIENT_ID=sbx-sf-client",
                         "CAMPSYNC_SALESFORCE_CLIENT_SECRET=sbx-sf-secret", NULL};
    const char *argv[] = {bin, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", NULL};
    ts_proc *p = ts_proc_spawn(argv, env, stack->dir, "sf-plain-http");
    assert_non_null(p);
    int status = 0;
    assert_int_equal(ts_proc_wait(p, 10000, &status), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    char *err = ts_read_file(ts_proc_stderr_path(p), NULL);
    assert_non_null(err);
    assert_non_null(strstr(err, "CAMPSYNC_SALESFORCE_LOGIN_URL is a plain http:// URL"));
    free(err);
    ts_proc_free(p);
}

/* ---- faults on the small org ---- */

/* Faults on the data API only (the token endpoint stays clean). */
static void set_faults(const char *json_fields)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"vendor\":\"salesforce\",\"path_prefix\":\"/services/data/\",%s}", json_fields);
    int st = 0;
    json_decref(ts_admin(stack, "POST", "/admin/faults", body, &st));
    assert_int_equal(st, 200);
}

static void clear_faults(void)
{
    json_decref(ts_admin(stack, "DELETE", "/admin/faults", NULL, NULL));
}

static size_t leads_with_email(const char *email)
{
    json_t *recs = sf_records("Lead");
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        const char *e = json_string_value(json_object_get(r, "Email"));
        n += e && strcasecmp(e, email) == 0 && !json_is_true(json_object_get(r, "IsDeleted"));
    }
    json_decref(recs);
    return n;
}

static int create_lead(const char *email, rpc_error *err)
{
    Campsync__V1__Person p = CAMPSYNC__V1__PERSON__INIT;
    p.email = (char *)email;
    p.last_name = "Fault";
    p.company = "Faults Inc";
    Campsync__V1__Person *ps[] = {&p};
    Campsync__V1__CreateLeadsRequest rq = CAMPSYNC__V1__CREATE_LEADS_REQUEST__INIT;
    rq.leads = ps;
    rq.n_leads = 1;
    ProtobufCMessage *out = NULL;
    int rc = call("CreateLeads", &rq.base, &out, err);
    if (rc == 0) {
        Campsync__V1__BatchResult *r = (void *)out;
        assert_int_equal(r->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_CREATED);
        protobuf_c_message_free_unpacked(out, NULL);
    }
    return rc;
}

static int get_webinar(rpc_error *err)
{
    char *ids[] = {WEBINAR_CAMPAIGN};
    Campsync__V1__GetCampaignsRequest rq = CAMPSYNC__V1__GET_CAMPAIGNS_REQUEST__INIT;
    rq.ids = ids;
    rq.n_ids = 1;
    ProtobufCMessage *out = NULL;
    int rc = call("GetCampaigns", &rq.base, &out, err);
    if (rc == 0) {
        assert_int_equal(((Campsync__V1__CampaignList *)out)->n_campaigns, 1);
        assert_string_equal(((Campsync__V1__CampaignList *)out)->campaigns[0]->id,
                            WEBINAR_CAMPAIGN);
        protobuf_c_message_free_unpacked(out, NULL);
    }
    return rc;
}

static void cut_and_garbled_reads_are_read_again(void **state)
{
    (void)state;
    rpc_error err;
    /* One cut and one garbled answer: the same query is read again. */
    set_faults("\"next\":[\"truncate\",\"malformed\"]");
    reset_calls();
    assert_int_equal(get_webinar(&err), 0);
    assert_int_equal(calls_to("GET query"), 3);
    /* Garbled every time: UNAVAILABLE, saying what was wrong, after a
     * bounded number of reads. */
    set_faults("\"malformed\":1");
    reset_calls();
    assert_int_equal(get_webinar(&err), GRPC_STATUS_UNAVAILABLE);
    assert_non_null(strstr(err.message, "query answer unreadable 3 times"));
    assert_int_equal(calls_to("GET query"), 3);
    clear_faults();
}

static void garbled_write_answer_is_unavailable(void **state)
{
    (void)state;
    rpc_error err;
    set_faults("\"next\":[\"malformed\"]");
    assert_int_equal(create_lead("garbled.answer@example.com", &err), GRPC_STATUS_UNAVAILABLE);
    assert_non_null(strstr(err.message, "collection answer unreadable"));
    clear_faults();
    /* The write itself happened once; nothing was sent again. */
    assert_int_equal(leads_with_email("garbled.answer@example.com"), 1);
}

static void dropped_connections(void **state)
{
    (void)state;
    rpc_error err;
    /* Reads: dropped before or after processing, read again. */
    set_faults("\"next\":[\"drop\",\"drop_after\"]");
    reset_calls();
    assert_int_equal(get_webinar(&err), 0);
    assert_int_equal(calls_to("GET query"), 2); /* the dropped one never reached the org */

    /* A create whose answer is lost after Salesforce saved it is not sent
     * again: the caller gets UNAVAILABLE saying it may have been applied,
     * and exactly one lead exists. */
    set_faults("\"next\":[\"drop_after\"]");
    reset_calls();
    assert_int_equal(create_lead("dropped.after@example.com", &err), GRPC_STATUS_UNAVAILABLE);
    assert_non_null(strstr(err.message, "may have been applied"));
    assert_int_equal(calls_to("POST composite/sobjects"), 1);
    clear_faults();
    assert_int_equal(leads_with_email("dropped.after@example.com"), 1);

    /* Dropped before processing: also not resent (the connector cannot tell
     * the two apart), and nothing was created. */
    set_faults("\"next\":[\"drop\"]");
    assert_int_equal(create_lead("dropped.before@example.com", &err), GRPC_STATUS_UNAVAILABLE);
    clear_faults();
    assert_int_equal(leads_with_email("dropped.before@example.com"), 0);
}

static void server_unavailable_bursts_on_writes(void **state)
{
    (void)state;
    rpc_error err;
    /* 503 means not processed: even a create is sent again, and once. */
    set_faults("\"next\":[\"server_error\",\"server_error\",\"rate_limit\"]");
    reset_calls();
    assert_int_equal(create_lead("after.burst@example.com", &err), 0);
    assert_int_equal(calls_to("POST composite/sobjects"), 4);
    clear_faults();
    assert_int_equal(leads_with_email("after.burst@example.com"), 1);
}

static void locked_rows_are_sent_again(void **state)
{
    (void)state;
    /* Every live member of the webinar to its current... and then a new
     * status; the first collection call answers UNABLE_TO_LOCK_ROW for each
     * record, the records go again and all are written. */
    json_t *members = sf_records("CampaignMember");
    size_t i, n = 0;
    json_t *m;
    Campsync__V1__MemberStatusChange *ch = calloc(json_array_size(members), sizeof *ch);
    Campsync__V1__MemberStatusChange **chp = calloc(json_array_size(members), sizeof *chp);
    assert_non_null(ch);
    assert_non_null(chp);
    json_array_foreach(members, i, m)
    {
        if (json_is_true(json_object_get(m, "IsDeleted")) ||
            strcmp(json_string_value(json_object_get(m, "CampaignId")), WEBINAR_CAMPAIGN) != 0)
            continue;
        campsync__v1__member_status_change__init(&ch[n]);
        ch[n].member_id = (char *)json_string_value(json_object_get(m, "Id"));
        ch[n].status = "No Show";
        chp[n] = &ch[n];
        n++;
    }
    assert_true(n > 1);
    set_faults("\"next\":[\"transient\"]");
    reset_calls();
    Campsync__V1__UpdateMemberStatusRequest up = CAMPSYNC__V1__UPDATE_MEMBER_STATUS_REQUEST__INIT;
    up.changes = chp;
    up.n_changes = n;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    assert_int_equal(call("UpdateMemberStatus", &up.base, &out, &err), 0);
    Campsync__V1__BatchResult *r = (void *)out;
    assert_int_equal(r->n_results, n);
    assert_int_equal(r->updated, n);
    for (size_t k = 0; k < n; k++)
        assert_int_equal(r->results[k]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED);
    protobuf_c_message_free_unpacked(out, NULL);
    assert_int_equal(calls_to("PATCH composite/sobjects"), 2);
    clear_faults();
    json_t *after = sf_records("CampaignMember");
    size_t no_show = 0;
    json_array_foreach(after, i, m)
    {
        const char *cid = json_string_value(json_object_get(m, "CampaignId"));
        if (!json_is_true(json_object_get(m, "IsDeleted")) && strcmp(cid, WEBINAR_CAMPAIGN) == 0)
            no_show += strcmp(json_string_value(json_object_get(m, "Status")), "No Show") == 0;
    }
    json_decref(after);
    assert_int_equal(no_show, n);
    json_decref(members);
    free(ch);
    free(chp);
}

/* An 18-character Lead id (key prefix 00Q) with its case-checksum suffix. */
static void make_lead_id(unsigned k, char out[19])
{
    snprintf(out, 16, "00QZz%010u", k);
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    for (int chunk = 0; chunk < 3; chunk++) {
        int bits = 0;
        for (int b = 0; b < 5; b++) {
            char ch = out[chunk * 5 + b];
            if (ch >= 'A' && ch <= 'Z')
                bits |= 1 << b;
        }
        out[15 + chunk] = alphabet[bits];
    }
    out[18] = '\0';
}

/* GetLeads with n ids: every distinct id once, real leads first. Returns
 * the number of people answered and sets *queries. */
static size_t get_leads(char **ids, size_t n, long long *queries)
{
    Campsync__V1__GetPeopleRequest g = CAMPSYNC__V1__GET_PEOPLE_REQUEST__INIT;
    g.ids = ids;
    g.n_ids = n;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    reset_calls();
    assert_int_equal(call("GetLeads", &g.base, &out, &err), 0);
    *queries = calls_to("GET query");
    Campsync__V1__PersonList *l = (void *)out;
    size_t got = l->n_people;
    for (size_t i = 0; i < got; i++)
        for (size_t k = i + 1; k < got; k++)
            assert_string_not_equal(l->people[i]->id, l->people[k]->id);
    protobuf_c_message_free_unpacked(out, NULL);
    return got;
}

static void get_leads_splits_only_where_the_uri_limit_forces(void **state)
{
    (void)state;
    json_t *leads = sf_records("Lead");
    size_t n_real = json_array_size(leads);
    assert_true(n_real > 0 && n_real < 100);
    char(*made)[19] = calloc(1000, sizeof *made);
    char **ids = calloc(1000, sizeof *ids);
    assert_non_null(made);
    assert_non_null(ids);
    for (size_t i = 0; i < n_real; i++)
        snprintf(made[i], 19, "%s",
                 json_string_value(json_object_get(json_array_get(leads, i), "Id")));
    for (unsigned i = (unsigned)n_real; i < 1000; i++)
        make_lead_id(i, made[i]);
    json_decref(leads);

    /* 1,000 ids, each of 500 twice: 500 ids fit one 16 KB URI (about 27
     * bytes each, encoded) where 1,000 would not, so asking each id once
     * takes one query. */
    for (size_t i = 0; i < 1000; i++)
        ids[i] = made[i % 500];
    long long queries = 0;
    assert_int_equal(get_leads(ids, 1000, &queries), n_real);
    assert_int_equal(queries, 1);
    /* 1,000 distinct ids (~27 KB) need two queries and get two. */
    for (size_t i = 0; i < 1000; i++)
        ids[i] = made[i];
    assert_int_equal(get_leads(ids, 1000, &queries), n_real);
    assert_int_equal(queries, 2);
    free(ids);
    free(made);
}

/* Our channel to the connector is ready again after a restart. */
static void wait_connector(void)
{
    for (int i = 0; i < 200; i++) {
        Grpc__Health__V1__HealthCheckRequest rq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
        ProtobufCMessage *out = NULL;
        rpc_error err = {0};
        if (rpc_client_unary(sf, &grpc__health__v1__health__descriptor, "Check", &rq.base, &out,
                             NULL, &err) == 0) {
            protobuf_c_message_free_unpacked(out, NULL);
            return;
        }
        ts_sleep_ms(100);
    }
    fail_msg("the connector did not answer after its restart");
}

static void restart_connector(const char *const *env)
{
    assert_int_equal(ts_proc_stop(stack->svc[TS_SVC_SALESFORCE], 10000), 0);
    assert_int_equal(ts_stack_start_service(stack, TS_SVC_SALESFORCE, env), 0);
    wait_connector();
}

static void jwt_bearer_flow(void **state)
{
    (void)state;
    char key[600], cmd[1400];
    snprintf(key, sizeof key, "%s/jwt-key.pem", stack->dir);
    snprintf(cmd, sizeof cmd,
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '%s' 2>/dev/null",
             key);
    assert_int_equal(system(cmd), 0);
    char key_env[700];
    snprintf(key_env, sizeof key_env, "CAMPSYNC_SALESFORCE_JWT_KEY_FILE=%s", key);
    /* The integration user of small.json; no client secret. The assertion's
     * aud is the login URL (the sandbox's own URL here), which it checks. */
    const char *good[] = {key_env, "CAMPSYNC_SALESFORCE_USERNAME=integration@sandbox.campsync.test",
                          "CAMPSYNC_SALESFORCE_CLIENT_SECRET_FILE=", NULL};
    restart_connector(good);
    reset_calls();
    rpc_error err;
    assert_int_equal(get_webinar(&err), 0);
    assert_int_equal(calls_to("POST oauth2/token"), 1);
    /* The token belongs to the integration user, a Marketing User. */
    Campsync__V1__Empty e = CAMPSYNC__V1__EMPTY__INIT;
    ProtobufCMessage *out = NULL;
    assert_int_equal(call("CheckMarketingUser", &e.base, &out, &err), 0);
    assert_true(((Campsync__V1__MarketingUserCheck *)out)->is_marketing_user);
    protobuf_c_message_free_unpacked(out, NULL);

    /* An unknown username: UNAUTHENTICATED, naming the setting to fix. */
    const char *bad[] = {key_env, "CAMPSYNC_SALESFORCE_USERNAME=nobody@sandbox.campsync.test",
                         "CAMPSYNC_SALESFORCE_CLIENT_SECRET_FILE=", NULL};
    restart_connector(bad);
    assert_int_equal(get_webinar(&err), GRPC_STATUS_UNAUTHENTICATED);
    assert_non_null(strstr(err.message, "CAMPSYNC_SALESFORCE_USERNAME"));
    assert_non_null(strstr(err.message, "nobody@sandbox.campsync.test"));
    assert_non_null(strstr(err.message, "invalid_grant"));

    restart_connector(NULL);
    assert_int_equal(get_webinar(&err), 0);
}

/* ---- a generated org: a campaign with more than 2,000 members ---- */

static char big_campaign[19];
static size_t big_members;
static char big_status[128];

static int setup_big(void **state)
{
    (void)state;
    ts_stack_opts o = {.generate = "people=6000,programs=2,members=5000",
                       .seed = 3,
                       .services = 1u << TS_SVC_SALESFORCE};
    stack = ts_stack_start(&o);
    if (!stack)
        return -1;
    rpc_client_opts co = {.default_timeout_ms = 60000};
    rpc_error err = {0};
    sf = rpc_client_get(stack->target[TS_SVC_SALESFORCE], &co, &err);
    if (!sf)
        return -1;
    /* The campaign with the most live members, and one of its statuses. */
    json_t *st = ts_admin(stack, "GET", "/admin/state", NULL, NULL);
    json_t *recs = json_object_get(json_object_get(st, "salesforce"), "records");
    json_t *campaigns = json_object_get(recs, "Campaign");
    size_t i, k;
    json_t *c, *m;
    json_array_foreach(campaigns, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "Id"));
        size_t n = 0;
        json_array_foreach(json_object_get(recs, "CampaignMember"), k, m)
        {
            n += !json_is_true(json_object_get(m, "IsDeleted")) &&
                 strcmp(json_string_value(json_object_get(m, "CampaignId")), id) == 0;
        }
        if (n > big_members) {
            big_members = n;
            snprintf(big_campaign, sizeof big_campaign, "%s", id);
        }
    }
    json_array_foreach(json_object_get(recs, "CampaignMemberStatus"), k, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "CampaignId")), big_campaign) == 0)
            snprintf(big_status, sizeof big_status, "%s",
                     json_string_value(json_object_get(m, "Label")));
    }
    json_decref(st);
    if (big_members <= 4000 || !big_status[0]) {
        fprintf(stderr, "the generated org has no campaign over 4,000 members (%zu)\n",
                big_members);
        return -1;
    }
    /* A first call, so the connector holds a token before counting starts. */
    Campsync__V1__Empty e = CAMPSYNC__V1__EMPTY__INIT;
    ProtobufCMessage *out = NULL;
    if (call("CheckMarketingUser", &e.base, &out, &err) != 0)
        return -1;
    protobuf_c_message_free_unpacked(out, NULL);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Streams big_campaign; returns its member ids (sorted, each checked to be
 * there once; caller frees), calling between() after the first page. */
static char **stream_big(void (*between)(void), size_t *n_out)
{
    Campsync__V1__StreamCampaignMembersRequest rq =
        CAMPSYNC__V1__STREAM_CAMPAIGN_MEMBERS_REQUEST__INIT;
    rq.campaign_id = big_campaign;
    rpc_stream *s = NULL;
    rpc_error err = {0};
    assert_int_equal(rpc_stream_open(sf, SVC, "StreamCampaignMembers", &rq.base, NULL, &s, &err),
                     0);
    char **ids = calloc(big_members + 1, sizeof *ids);
    assert_non_null(ids);
    size_t n = 0, pages = 0;
    ProtobufCMessage *msg;
    int rc;
    while ((rc = rpc_stream_next(s, &msg, &err)) == 1) {
        Campsync__V1__CampaignMemberPage *p = (void *)msg;
        for (size_t i = 0; i < p->n_members; i++) {
            assert_true(n < big_members);
            assert_string_equal(p->members[i]->campaign_id, big_campaign);
            ids[n++] = strdup(p->members[i]->id);
        }
        protobuf_c_message_free_unpacked(msg, NULL);
        if (pages++ == 0 && between)
            between();
    }
    if (rc != 0)
        fail_msg("stream ended with %d: %s", err.code, err.message);
    rpc_stream_close(s);
    assert_int_equal(n, big_members);
    qsort(ids, n, sizeof *ids, cmp_str);
    for (size_t i = 1; i < n; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    *n_out = n;
    return ids;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static void stream_uses_one_query_call_per_2000_members(void **state)
{
    (void)state;
    reset_calls();
    size_t n = 0;
    char **ids = stream_big(NULL, &n);
    assert_int_equal(calls_to("GET query"), (long long)((n + 1999) / 2000));
    assert_int_equal(calls_to("POST oauth2/token"), 0);
    free_ids(ids, n);
}

static void expire_tokens(void)
{
    int st = 0;
    json_decref(ts_admin(stack, "POST", "/admin/expire_tokens", "{}", &st));
    assert_int_equal(st, 200);
}

static void token_expiring_between_pages_loses_no_member(void **state)
{
    (void)state;
    /* The second page is held for a while in the sandbox, and the tokens
     * expire as soon as the first page reached us: the held request meets an
     * expired session, the connector takes a new token and reads the same
     * page again, and every member arrives exactly once. */
    set_faults("\"next\":[\"none\",\"latency\"],\"latency_ms\":1500");
    reset_calls();
    size_t n = 0;
    char **ids = stream_big(expire_tokens, &n);
    clear_faults();
    assert_int_equal(calls_to("POST oauth2/token"), 1);
    assert_int_equal(calls_to("GET data"), 1); /* the refused page */
    assert_int_equal(calls_to("GET query"), (long long)((n + 1999) / 2000));
    free_ids(ids, n);
}

static void cut_page_mid_stream_is_read_again(void **state)
{
    (void)state;
    /* The second page's answer is cut in half: the connector reads that
     * page again through the same cursor, and nobody is lost or repeated. */
    set_faults("\"next\":[\"none\",\"truncate\"]");
    reset_calls();
    size_t n = 0;
    char **ids = stream_big(NULL, &n);
    clear_faults();
    assert_int_equal(calls_to("GET query"), (long long)((n + 1999) / 2000) + 1);
    free_ids(ids, n);
}

static void cut_last_page_fails_saying_why(void **state)
{
    (void)state;
    /* The last page closes the cursor when served, so a cut last page
     * cannot be read again: the stream ends UNAVAILABLE, saying so. */
    size_t pages = (big_members + 1999) / 2000;
    char next[256] = "\"next\":[";
    for (size_t i = 0; i + 1 < pages; i++)
        strcat(next, "\"none\",");
    strcat(next, "\"truncate\"]");
    set_faults(next);
    Campsync__V1__StreamCampaignMembersRequest rq =
        CAMPSYNC__V1__STREAM_CAMPAIGN_MEMBERS_REQUEST__INIT;
    rq.campaign_id = big_campaign;
    rpc_stream *s = NULL;
    rpc_error err = {0};
    assert_int_equal(rpc_stream_open(sf, SVC, "StreamCampaignMembers", &rq.base, NULL, &s, &err),
                     0);
    ProtobufCMessage *msg;
    size_t n = 0;
    int rc;
    while ((rc = rpc_stream_next(s, &msg, &err)) == 1) {
        n += ((Campsync__V1__CampaignMemberPage *)msg)->n_members;
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    rpc_stream_close(s);
    clear_faults();
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, GRPC_STATUS_UNAVAILABLE);
    assert_non_null(strstr(err.message, "unreadable"));
    assert_non_null(strstr(err.message, "INVALID_QUERY_LOCATOR"));
    assert_int_equal(n, (pages - 1) * 2000);
}

static void status_writes_use_one_call_per_200_members(void **state)
{
    (void)state;
    size_t n = 0;
    char **ids = stream_big(NULL, &n);
    Campsync__V1__MemberStatusChange *ch = calloc(n, sizeof *ch);
    Campsync__V1__MemberStatusChange **chp = calloc(n, sizeof *chp);
    assert_non_null(ch);
    assert_non_null(chp);
    for (size_t i = 0; i < n; i++) {
        campsync__v1__member_status_change__init(&ch[i]);
        ch[i].member_id = ids[i];
        ch[i].status = big_status;
        chp[i] = &ch[i];
    }
    Campsync__V1__UpdateMemberStatusRequest up = CAMPSYNC__V1__UPDATE_MEMBER_STATUS_REQUEST__INIT;
    up.changes = chp;
    up.n_changes = n;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    reset_calls();
    assert_int_equal(call("UpdateMemberStatus", &up.base, &out, &err), 0);
    Campsync__V1__BatchResult *r = (void *)out;
    assert_int_equal(r->n_results, n);
    assert_int_equal(r->updated, n);
    assert_int_equal(r->api_calls, (n + 199) / 200);
    protobuf_c_message_free_unpacked(out, NULL);
    assert_int_equal(calls_to("PATCH composite/sobjects"), (long long)((n + 199) / 200));
    /* The org agrees: every member now has that status. */
    json_t *recs = sf_records("CampaignMember");
    size_t i, with = 0;
    json_t *m;
    json_array_foreach(recs, i, m)
    {
        if (!json_is_true(json_object_get(m, "IsDeleted")) &&
            strcmp(json_string_value(json_object_get(m, "CampaignId")), big_campaign) == 0)
            with += strcmp(json_string_value(json_object_get(m, "Status")), big_status) == 0;
    }
    json_decref(recs);
    assert_int_equal(with, n);
    free(ch);
    free(chp);
    free_ids(ids, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_campaigns_maps_fields),
        cmocka_unit_test(hostile_ids_are_refused),
        cmocka_unit_test(members_stream_matches_the_org),
        cmocka_unit_test(members_stream_by_people),
        cmocka_unit_test(add_update_remove_members),
        cmocka_unit_test(add_members_validates_each_person),
        cmocka_unit_test(create_leads_requires_last_name_and_company),
        cmocka_unit_test(marketing_user_check_follows_the_org),
        cmocka_unit_test(expired_token_is_renewed_once),
        cmocka_unit_test(transient_faults_are_absorbed),
        cmocka_unit_test(cut_and_garbled_reads_are_read_again),
        cmocka_unit_test(garbled_write_answer_is_unavailable),
        cmocka_unit_test(dropped_connections),
        cmocka_unit_test(server_unavailable_bursts_on_writes),
        cmocka_unit_test(locked_rows_are_sent_again),
        cmocka_unit_test(get_leads_splits_only_where_the_uri_limit_forces),
        cmocka_unit_test(daily_limit_is_guarded_before_salesforce_refuses),
        cmocka_unit_test(plain_http_refused_unless_allowed),
        cmocka_unit_test(jwt_bearer_flow),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    const struct CMUnitTest big[] = {
        cmocka_unit_test(stream_uses_one_query_call_per_2000_members),
        cmocka_unit_test(token_expiring_between_pages_loses_no_member),
        cmocka_unit_test(cut_page_mid_stream_is_read_again),
        cmocka_unit_test(cut_last_page_fails_saying_why),
        cmocka_unit_test(status_writes_use_one_call_per_200_members),
    };
    return failed + cmocka_run_group_tests(big, setup_big, teardown);
}
