/*
 * campsync-attribution on the real stack: redis-server, the sandbox's
 * Salesforce, campsync-salesforce and campsync-attribution as processes on
 * loopback. Every rule of SPEC sections 2 and 3 is checked on what the
 * service stores in Redis (read back over gRPC and, for the layout, straight
 * from Redis) and on what lands in the sandbox org: T1 include all /
 * responded / exclude / unset, T2 email, T3 dates, T4 start/end, T5 bulk
 * re-dating without duplicates, T6 mapping and its validation, T7 ids and
 * removal, T8 ingestion, A1-A3 attribution sums, A4 reports, the export, and
 * what happens when the connector is down.
 *
 * Each test makes its own campaigns and people through the sandbox's admin
 * API, so tests do not depend on each other's data. The sandbox clock only
 * moves forward (SystemModstamp watermarks rely on it), starting in 2026.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "campsync/v1/attribution.pb-c.h"
#include "campsync/v1/reconciler.pb-c.h"
#include "redis/redis.h"
#include "rpc/rpc_client.h"
#include "rpc/rpc_server.h"
#include "ts_stack.h"

#define SVC (&campsync__v1__touchpoint_attribution__descriptor)
#define DAY_MS 86400000LL

static ts_stack *stack;
static rpc_client *attr;
static int64_t clk; /* the sandbox clock as last set */
static int seq;     /* makes names unique */

/* ---- plumbing ---- */

static void clock_set(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char body[96], iso[40];
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(body, sizeof body, "{\"set\": \"%s\"}", iso);
    int status = 0;
    json_decref(ts_admin(stack, "POST", "/admin/clock", body, &status));
    assert_int_equal(status, 200);
    clk = ms;
}

static void clock_advance(int64_t ms)
{
    clock_set(clk + ms);
}

static void ymd(int64_t ms, char out[11])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static int64_t day_start(int64_t ms)
{
    return ms - ((ms % DAY_MS) + DAY_MS) % DAY_MS;
}

static int setup(void **state)
{
    (void)state;
    static const char *const env[] = {"CAMPSYNC_ATTRIBUTION_REFRESH_INTERVAL=0",
                                      "CAMPSYNC_ATTRIBUTION_FULL_REFRESH_INTERVAL=0", NULL};
    ts_stack_opts o = {.dataset = "tests/sandbox/datasets/small.json",
                       .seed = 17,
                       .services = (1u << TS_SVC_SALESFORCE) | (1u << TS_SVC_ATTRIBUTION),
                       .env = env,
                       .redis_appendonly = 1};
    stack = ts_stack_start(&o);
    if (!stack)
        return -1;
    rpc_client_opts co = {.default_timeout_ms = 60000};
    rpc_error err = {0};
    attr = rpc_client_get(stack->target[TS_SVC_ATTRIBUTION], &co, &err);
    rds_err re = {0};
    if (!attr || rds_configure(ts_redis_url(stack->redis), NULL, &re) != 0)
        return -1;
    clock_set(1767571200000LL + 10 * 3600000LL); /* 2026-01-05 10:00 UTC */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rds_thread_disconnect();
    rpc_client_cleanup();
    ts_stack_free(stack);
    return 0;
}

static int call(const char *method, const ProtobufCMessage *rq, ProtobufCMessage **out,
                rpc_error *err)
{
    memset(err, 0, sizeof *err);
    *out = NULL;
    return rpc_client_unary(attr, SVC, method, rq, out, NULL, err);
}

/* Admin create: returns the new id (caller frees). */
static char *sf_create(const char *type, json_t *fields)
{
    json_t *body = json_pack("{s:s,s:o}", "type", type, "fields", fields);
    char *text = json_dumps(body, 0);
    json_decref(body);
    int status = 0;
    json_t *r = ts_admin(stack, "POST", "/admin/salesforce/create", text, &status);
    free(text);
    if (status != 200) {
        char *dump = r ? json_dumps(r, 0) : NULL;
        fprintf(stderr, "create %s failed: %d %s\n", type, status, dump ? dump : "");
        free(dump);
    }
    assert_int_equal(status, 200);
    char *id = strdup(json_string_value(json_object_get(r, "id")));
    json_decref(r);
    return id;
}

static void sf_action(const char *action, json_t *body)
{
    char *text = json_dumps(body, 0);
    json_decref(body);
    char path[128];
    snprintf(path, sizeof path, "/admin/salesforce/%s", action);
    int status = 0;
    json_decref(ts_admin(stack, "POST", path, text, &status));
    free(text);
    assert_int_equal(status, 200);
}

static void sf_update(const char *id, json_t *fields)
{
    sf_action("update", json_pack("{s:s,s:o}", "id", id, "fields", fields));
}

static char *new_campaign(const char *type, const char *enable)
{
    char name[64];
    snprintf(name, sizeof name, "Attribution test %d", ++seq);
    json_t *f = json_pack("{s:s,s:s,s:b}", "Name", name, "Type", type, "IsActive", 1);
    if (enable)
        json_object_set_new(f, "Enable_Buyer_Touchpoints__c", json_string(enable));
    return sf_create("Campaign", f);
}

static char *new_lead(int with_email)
{
    char email[64], last[32];
    snprintf(email, sizeof email, "lead%d@attr.example.com", ++seq);
    snprintf(last, sizeof last, "Lead%d", seq);
    json_t *f = json_pack("{s:s,s:s}", "LastName", last, "Company", "Attr Co");
    if (with_email)
        json_object_set_new(f, "Email", json_string(email));
    return sf_create("Lead", f);
}

static char *new_account(void)
{
    char name[32];
    snprintf(name, sizeof name, "Account %d", ++seq);
    return sf_create("Account", json_pack("{s:s}", "Name", name));
}

static char *new_contact(const char *account, char *email_out, size_t cap)
{
    char email[64], last[32];
    snprintf(email, sizeof email, "contact%d@attr.example.com", ++seq);
    snprintf(last, sizeof last, "Contact%d", seq);
    if (email_out)
        snprintf(email_out, cap, "%s", email);
    return sf_create("Contact", json_pack("{s:s,s:s,s:s}", "LastName", last, "Email", email,
                                          "AccountId", account));
}

/* Adds a person (Lead or Contact id) to a campaign; returns the member id. */
static char *add_member(const char *campaign, const char *person, const char *status)
{
    json_t *b = json_pack("{s:s,s:s}", "CampaignId", campaign,
                          strncmp(person, "003", 3) == 0 ? "ContactId" : "LeadId", person);
    if (status)
        json_object_set_new(b, "Status", json_string(status));
    char *text = json_dumps(b, 0);
    json_decref(b);
    int st = 0;
    json_t *r = ts_admin(stack, "POST", "/admin/salesforce/add_member", text, &st);
    free(text);
    assert_int_equal(st, 200);
    char *id = strdup(json_string_value(json_object_get(r, "id")));
    json_decref(r);
    return id;
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

/* A field of a record (a new reference, NULL when absent). */
static json_t *sf_field(const char *type, const char *id, const char *field)
{
    json_t *recs = sf_records(type), *r, *out = NULL;
    size_t i;
    json_array_foreach(recs, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "Id")), id) == 0)
            out = json_incref(json_object_get(r, field));
    }
    json_decref(recs);
    return out;
}

static int64_t parse_dt(const char *s)
{
    struct tm tm = {0};
    int ms = 0;
    assert_true(sscanf(s, "%d-%d-%dT%d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                       &tm.tm_min, &tm.tm_sec, &ms) >= 6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

static int64_t member_created_ms(const char *member)
{
    json_t *v = sf_field("CampaignMember", member, "CreatedDate");
    assert_non_null(v);
    int64_t ms = parse_dt(json_string_value(v));
    json_decref(v);
    return ms;
}

/* ---- calls to the service ---- */

static Campsync__V1__RefreshSummary *refresh(const char *campaign, int full)
{
    Campsync__V1__RefreshRequest rq = CAMPSYNC__V1__REFRESH_REQUEST__INIT;
    char *ids[] = {(char *)campaign};
    rq.campaign_ids = campaign ? ids : NULL;
    rq.n_campaign_ids = campaign ? 1 : 0;
    rq.full = full;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    int rc = call("RefreshTouchpoints", &rq.base, &out, &err);
    if (rc != 0)
        fprintf(stderr, "refresh: %s\n", err.message);
    assert_int_equal(rc, 0);
    return (Campsync__V1__RefreshSummary *)out;
}

typedef struct tplist {
    ProtobufCMessage *pages[64];
    size_t n_pages;
    Campsync__V1__Touchpoint *v[4096];
    size_t n;
} tplist;

static void tplist_free(tplist *l)
{
    for (size_t i = 0; i < l->n_pages; i++)
        protobuf_c_message_free_unpacked(l->pages[i], NULL);
    free(l);
}

static tplist *list_tps(const char *campaign)
{
    Campsync__V1__TouchpointFilter f = CAMPSYNC__V1__TOUCHPOINT_FILTER__INIT;
    if (campaign)
        f.campaign_id = (char *)campaign;
    rpc_stream *st = NULL;
    rpc_error err = {0};
    assert_int_equal(rpc_stream_open(attr, SVC, "ListTouchpoints", &f.base, NULL, &st, &err), 0);
    tplist *l = calloc(1, sizeof *l);
    ProtobufCMessage *m = NULL;
    int got;
    while ((got = rpc_stream_next(st, &m, &err)) == 1) {
        assert_true(l->n_pages < 64);
        l->pages[l->n_pages++] = m;
        const Campsync__V1__TouchpointPage *p = (const void *)m;
        for (size_t i = 0; i < p->n_touchpoints; i++) {
            assert_true(l->n < 4096);
            l->v[l->n++] = p->touchpoints[i];
        }
    }
    if (got != 0) {
        fprintf(stderr, "ListTouchpoints: %s\n", err.message);
        ts_proc_dump_stderr(stack->svc[TS_SVC_ATTRIBUTION], 8000);
    }
    assert_int_equal(got, 0);
    rpc_stream_close(st);
    return l;
}

static const Campsync__V1__Touchpoint *tp_of_member(const tplist *l, const char *member)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i]->member_id, member) == 0)
            return l->v[i];
    return NULL;
}

static size_t count_tps(const char *campaign)
{
    tplist *l = list_tps(campaign);
    size_t n = l->n;
    tplist_free(l);
    return n;
}

/* HLEN of a campaign's touchpoint hash, read straight from Redis. */
static long long redis_tps(const char *campaign)
{
    char key[128];
    snprintf(key, sizeof key, "campsync:{tp:%s}:tps", campaign);
    rds_err e = {0};
    redisReply *r = rds_command(1, &e, "HLEN %s", key);
    assert_non_null(r);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

static int set_mapping(const char *const (*rules)[3], size_t n, rpc_error *err)
{
    Campsync__V1__ChannelMapping m = CAMPSYNC__V1__CHANNEL_MAPPING__INIT;
    Campsync__V1__ChannelRule r[16], *p[16];
    for (size_t i = 0; i < n; i++) {
        campsync__v1__channel_rule__init(&r[i]);
        r[i].campaign_type = (char *)rules[i][0];
        r[i].channel = (char *)rules[i][1];
        r[i].subchannel = (char *)rules[i][2];
        p[i] = &r[i];
    }
    m.rules = p;
    m.n_rules = n;
    ProtobufCMessage *out = NULL;
    int rc = call("SetChannelMapping", &m.base, &out, err);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return rc;
}

static const char *const base_rules[][3] = {{"Webinar", "Events", "Webinar"},
                                            {"Tradeshow", "Events", "Tradeshow"},
                                            {"Email", "Email", "Newsletter"}};

/* ---- T6 ---- */

static void test_channel_mapping(void **state)
{
    (void)state;
    rpc_error err;
    static const char *const clash_sub[][3] = {{"Webinar", "Events", "Webinar"},
                                               {"Virtual Event", "Events", "Webinar"}};
    assert_int_equal(set_mapping(clash_sub, 2, &err), GRPC_STATUS_INVALID_ARGUMENT);
    /* the message names the subchannel and both Types */
    assert_non_null(strstr(err.message, "\"Webinar\""));
    assert_non_null(strstr(err.message, "Virtual Event"));
    static const char *const clash_type[][3] = {{"Webinar", "Events", "Webinar"},
                                                {"Webinar", "Online", "Live Stream"}};
    assert_int_equal(set_mapping(clash_type, 2, &err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "Webinar"));
    static const char *const blank[][3] = {{"Webinar", "", "Webinar"}};
    assert_int_equal(set_mapping(blank, 1, &err), GRPC_STATUS_INVALID_ARGUMENT);

    assert_int_equal(set_mapping(base_rules, 3, &err), 0);
    Campsync__V1__Empty e = CAMPSYNC__V1__EMPTY__INIT;
    ProtobufCMessage *out = NULL;
    assert_int_equal(call("GetChannelMapping", &e.base, &out, &err), 0);
    const Campsync__V1__ChannelMapping *m = (const void *)out;
    assert_int_equal(m->n_rules, 3);
    /* sorted by Type; many Types share the channel "Events" */
    assert_string_equal(m->rules[0]->campaign_type, "Email");
    assert_string_equal(m->rules[1]->campaign_type, "Tradeshow");
    assert_string_equal(m->rules[1]->channel, "Events");
    assert_string_equal(m->rules[2]->subchannel, "Webinar");
    protobuf_c_message_free_unpacked(out, NULL);
}

/* ---- T1 include all, T2, T3, T7 ---- */

static void test_include_all(void **state)
{
    (void)state;
    clock_advance(DAY_MS);
    char *camp = new_campaign("Webinar", "Include All Campaign Members");
    char *acct = new_account();
    char *lead = new_lead(1), *silent = new_lead(0), *contact = new_contact(acct, NULL, 0);
    char *m1 = add_member(camp, lead, NULL);
    char *m2 = add_member(camp, silent, NULL);
    char *m3 = add_member(camp, contact, NULL);

    Campsync__V1__RefreshSummary *s = refresh(camp, 0);
    assert_int_equal(s->campaigns, 1);
    assert_int_equal(s->created, 2);
    assert_int_equal(s->skipped_no_email, 1); /* T2 */
    protobuf_c_message_free_unpacked(&s->base, NULL);

    tplist *l = list_tps(camp);
    assert_int_equal(l->n, 2);
    assert_int_equal(redis_tps(camp), 2);
    assert_null(tp_of_member(l, m2));
    const Campsync__V1__Touchpoint *t = tp_of_member(l, m1);
    assert_non_null(t);
    assert_int_equal(t->kind, CAMPSYNC__V1__TOUCHPOINT_KIND__CRM_CAMPAIGN);
    assert_string_equal(t->person_id, lead);
    assert_string_equal(t->channel, "Events");
    assert_string_equal(t->subchannel, "Webinar");
    assert_string_equal(t->medium, "Webinar");
    assert_string_equal(t->campaign_id, camp);
    assert_true(strncmp(t->campaign_name, "Attribution test", 16) == 0);
    assert_string_equal(t->source, "CRM Campaign");
    assert_string_equal(t->type, "CRM");
    assert_int_equal(t->at_ms, member_created_ms(m1)); /* T3: CreatedDate */
    assert_true(strncmp(t->id, "crm-", 4) == 0 && strlen(t->id) == 36);
    char first_id[64];
    snprintf(first_id, sizeof first_id, "%s", t->id);
    const Campsync__V1__Touchpoint *tc = tp_of_member(l, m3);
    assert_non_null(tc);
    assert_string_equal(tc->person_id, contact);
    assert_string_equal(tc->account_id, acct);
    tplist_free(l);

    /* T7: the same again changes nothing, ids are stable, nothing doubles */
    s = refresh(camp, 1);
    assert_int_equal(s->created, 0);
    assert_int_equal(s->updated, 0);
    assert_int_equal(s->removed, 0);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    l = list_tps(camp);
    assert_int_equal(l->n, 2);
    assert_string_equal(tp_of_member(l, m1)->id, first_id);
    tplist_free(l);

    /* T2 the other way: the lead gets an email, the full pass sees it */
    sf_update(silent, json_pack("{s:s}", "Email", "late@attr.example.com"));
    s = refresh(camp, 1);
    assert_int_equal(s->created, 1);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    assert_int_equal(count_tps(camp), 3);
    free(camp), free(acct), free(lead), free(silent), free(contact), free(m1), free(m2), free(m3);
}

/* ---- T1 responded / exclude / unset, switching to Exclude ---- */

static void test_responded_exclude_unset(void **state)
{
    (void)state;
    clock_advance(DAY_MS);
    char *resp = new_campaign("Email", "Include \"Responded\" Campaign Members");
    char *excl = new_campaign("Email", "Exclude All Campaign Members");
    char *unset = new_campaign("Email", NULL);
    char *a = new_lead(1), *b = new_lead(1);
    char *ma = add_member(resp, a, "Sent");
    char *mb = add_member(resp, b, "Sent");
    char *mx = add_member(excl, a, "Responded");
    char *mu = add_member(unset, a, "Responded");
    clock_advance(3 * DAY_MS);
    sf_action("set_member_status", json_pack("{s:s,s:s}", "id", ma, "Status", "Responded"));

    for (int i = 0; i < 3; i++) {
        const char *c = i == 0 ? resp : i == 1 ? excl : unset;
        Campsync__V1__RefreshSummary *s = refresh(c, 0);
        protobuf_c_message_free_unpacked(&s->base, NULL);
    }
    assert_int_equal(count_tps(excl), 0);
    assert_int_equal(count_tps(unset), 0);
    tplist *l = list_tps(resp);
    assert_int_equal(l->n, 1);
    const Campsync__V1__Touchpoint *t = tp_of_member(l, ma);
    assert_non_null(t);
    /* T3: responded campaigns date by FirstRespondedDate (the response day) */
    assert_int_equal(t->at_ms, day_start(clk));
    assert_true(t->at_ms > member_created_ms(ma));
    assert_null(tp_of_member(l, mb));
    tplist_free(l);

    /* switching to Exclude removes what the campaign had produced */
    sf_update(resp,
              json_pack("{s:s}", "Enable_Buyer_Touchpoints__c", "Exclude All Campaign Members"));
    Campsync__V1__RefreshSummary *s = refresh(NULL, 0); /* incremental pass */
    assert_true(s->removed >= 1);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    assert_int_equal(count_tps(resp), 0);
    assert_int_equal(redis_tps(resp), 0);
    free(resp), free(excl), free(unset), free(a), free(b), free(ma), free(mb), free(mx), free(mu);
}

/* ---- T4 ---- */

static void test_start_end_dates(void **state)
{
    (void)state;
    clock_advance(DAY_MS);
    int64_t d0 = day_start(clk);
    char start[11], end[11];
    ymd(d0 + 2 * DAY_MS, start);
    ymd(d0 + 4 * DAY_MS, end);
    char *camp = new_campaign("Webinar", "Include All Campaign Members");
    sf_update(camp, json_pack("{s:s,s:s}", "Touchpoint_Start_Date__c", start,
                              "Touchpoint_End_Date__c", end));
    char *early = new_lead(1), *inside = new_lead(1), *late = new_lead(1);
    char *me = add_member(camp, early, NULL); /* before the start */
    clock_advance(3 * DAY_MS);
    char *mi = add_member(camp, inside, NULL); /* day 3: inside */
    clock_advance(DAY_MS);
    char *ml = add_member(camp, late, NULL); /* day 4: on the end date */
    Campsync__V1__RefreshSummary *s = refresh(camp, 0);
    assert_int_equal(s->created, 1);
    assert_int_equal(s->skipped_out_of_range, 2);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    tplist *l = list_tps(camp);
    assert_int_equal(l->n, 1);
    assert_non_null(tp_of_member(l, mi));
    tplist_free(l);
    free(camp), free(early), free(inside), free(late), free(me), free(mi), free(ml);
}

/* ---- T6: unmapped Type, and a changed map re-derives ---- */

static void test_unmapped_type(void **state)
{
    (void)state;
    clock_advance(DAY_MS);
    char *camp = new_campaign("Display Ads", "Include All Campaign Members");
    char *p = new_lead(1);
    char *m = add_member(camp, p, NULL);
    Campsync__V1__RefreshSummary *s = refresh(camp, 0);
    assert_int_equal(s->created, 0);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    assert_int_equal(count_tps(camp), 0);

    /* mapping the Type makes it offline: touchpoints appear with no refresh */
    static const char *const more[][3] = {{"Webinar", "Events", "Webinar"},
                                          {"Tradeshow", "Events", "Tradeshow"},
                                          {"Email", "Email", "Newsletter"},
                                          {"Display Ads", "Paid", "Display"}};
    rpc_error err;
    assert_int_equal(set_mapping(more, 4, &err), 0);
    tplist *l = list_tps(camp);
    assert_int_equal(l->n, 1);
    assert_string_equal(l->v[0]->channel, "Paid");
    assert_string_equal(l->v[0]->subchannel, "Display");
    tplist_free(l);
    /* and back: online again, touchpoints gone */
    assert_int_equal(set_mapping(base_rules, 3, &err), 0);
    assert_int_equal(count_tps(camp), 0);
    free(camp), free(p), free(m);
}

/* ---- T5: the late trade show ---- */

static void test_late_tradeshow_bulk_date(void **state)
{
    (void)state;
    clock_advance(DAY_MS);
    int64_t show_day = day_start(clk);
    char show[11];
    ymd(show_day, show);
    char *camp = new_campaign("Tradeshow", "Include All Campaign Members");
    clock_advance(21 * DAY_MS); /* the list is uploaded three weeks late */
    char *p[4], *m[4];
    for (int i = 0; i < 4; i++) {
        p[i] = new_lead(1);
        m[i] = add_member(camp, p[i], i == 3 ? "Responded" : "Sent");
    }
    Campsync__V1__RefreshSummary *s = refresh(camp, 0);
    assert_int_equal(s->created, 4);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    tplist *before = list_tps(camp);
    assert_int_equal(before->n, 4);
    assert_true(before->v[0]->at_ms >= day_start(clk)); /* on the upload day */

    /* the Sent members first (a filter), then all of them */
    Campsync__V1__BulkDateRequest rq = CAMPSYNC__V1__BULK_DATE_REQUEST__INIT;
    char *statuses[] = {"Sent"};
    rq.campaign_id = camp;
    rq.date = show;
    rq.statuses = statuses;
    rq.n_statuses = 1;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    assert_int_equal(call("BulkUpdateTouchpointDate", &rq.base, &out, &err), 0);
    Campsync__V1__BulkDateResponse *r = (void *)out;
    assert_int_equal(r->matched, 3);
    assert_int_equal(r->updated, 3);
    assert_int_equal(r->touchpoints_redated, 3);
    protobuf_c_message_free_unpacked(out, NULL);
    rq.n_statuses = 0;
    assert_int_equal(call("BulkUpdateTouchpointDate", &rq.base, &out, &err), 0);
    r = (void *)out;
    assert_int_equal(r->matched, 4);
    assert_int_equal(r->touchpoints_redated, 1); /* the other three were already on it */
    protobuf_c_message_free_unpacked(out, NULL);

    /* in Salesforce: every member carries the show day */
    for (int i = 0; i < 4; i++) {
        json_t *v = sf_field("CampaignMember", m[i], "Buyer_Touchpoint_Date__c");
        assert_string_equal(json_string_value(v), show);
        json_decref(v);
    }
    /* stored: the same four touchpoints (same ids), now on the show day */
    tplist *after = list_tps(camp);
    assert_int_equal(after->n, 4);
    assert_int_equal(redis_tps(camp), 4);
    for (int i = 0; i < 4; i++) {
        const Campsync__V1__Touchpoint *b = tp_of_member(before, m[i]);
        const Campsync__V1__Touchpoint *a = tp_of_member(after, m[i]);
        assert_non_null(a);
        assert_string_equal(a->id, b->id);
        assert_int_equal(a->at_ms, show_day);
    }
    tplist_free(before);
    tplist_free(after);

    /* a filter by member id only touches that member */
    char *ids[] = {m[0]};
    char other[11];
    ymd(show_day + DAY_MS, other);
    rq.date = other;
    rq.member_ids = ids;
    rq.n_member_ids = 1;
    assert_int_equal(call("BulkUpdateTouchpointDate", &rq.base, &out, &err), 0);
    r = (void *)out;
    assert_int_equal(r->matched, 1);
    assert_int_equal(r->touchpoints_redated, 1);
    protobuf_c_message_free_unpacked(out, NULL);
    tplist *l = list_tps(camp);
    assert_int_equal(l->n, 4);
    assert_int_equal(tp_of_member(l, m[0])->at_ms, show_day + DAY_MS);
    assert_int_equal(tp_of_member(l, m[1])->at_ms, show_day);
    tplist_free(l);
    for (int i = 0; i < 4; i++)
        free(p[i]), free(m[i]);
    free(camp);
}

/* ---- T7 removal and re-dating through incremental passes ---- */

static void test_remove_and_redate_incremental(void **state)
{
    (void)state;
    clock_advance(DAY_MS);
    char *camp = new_campaign("Webinar", "Include All Campaign Members");
    char *a = new_lead(1), *b = new_lead(1);
    char *ma = add_member(camp, a, NULL), *mb = add_member(camp, b, NULL);
    Campsync__V1__RefreshSummary *s = refresh(NULL, 0);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    assert_int_equal(count_tps(camp), 2);

    clock_advance(3600000);
    sf_action("remove_member", json_pack("{s:s}", "id", ma));
    char day[11];
    ymd(day_start(clk) - 5 * DAY_MS, day);
    sf_update(mb, json_pack("{s:s}", "Buyer_Touchpoint_Date__c", day));
    s = refresh(NULL, 0);
    assert_true(s->removed >= 1);
    assert_true(s->updated >= 1);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    tplist *l = list_tps(camp);
    assert_int_equal(l->n, 1);
    assert_null(tp_of_member(l, ma));
    assert_int_equal(tp_of_member(l, mb)->at_ms, day_start(clk) - 5 * DAY_MS);
    tplist_free(l);
    assert_int_equal(redis_tps(camp), 1);

    /* re-adding the person gives the same id back, once */
    char *ma2 = add_member(camp, a, NULL);
    s = refresh(NULL, 0);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    assert_int_equal(count_tps(camp), 2);
    free(camp), free(a), free(b), free(ma), free(mb), free(ma2);
}

/* ---- dormant campaigns: polled by full passes only ---- */

static void test_dormant_campaign(void **state)
{
    (void)state;
    clock_advance(DAY_MS);
    char *old = new_campaign("Webinar", "Include All Campaign Members");
    char *a = new_lead(1), *b = new_lead(1);
    char *ma = add_member(old, a, NULL);
    Campsync__V1__RefreshSummary *s = refresh(NULL, 0);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    assert_int_equal(count_tps(old), 1);
    /* another campaign changes later, so the next listing (which re-reads
     * a minute before the newest change) no longer includes the old one */
    clock_advance(DAY_MS);
    char *spacer = new_campaign("Webinar", "Exclude All Campaign Members");
    s = refresh(NULL, 0);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    /* 40 days later (default dormancy 30 days) another campaign changes and
     * a member lands in the old one: an incremental pass skips the old one,
     * a full pass reads it */
    clock_advance(40 * DAY_MS);
    char *fresh = new_campaign("Webinar", "Include All Campaign Members");
    char *mb = add_member(old, b, NULL);
    s = refresh(NULL, 0);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    assert_int_equal(count_tps(old), 1);
    s = refresh(NULL, 1);
    assert_true(s->created >= 1);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    assert_int_equal(count_tps(old), 2);
    free(old), free(a), free(b), free(ma), free(mb), free(fresh), free(spacer);
}

/* ---- T8 ---- */

static Campsync__V1__Touchpoint web_tp(const char *id, int kind, const char *email, int64_t at)
{
    Campsync__V1__Touchpoint t = CAMPSYNC__V1__TOUCHPOINT__INIT;
    t.id = (char *)id;
    t.kind = kind;
    t.email = (char *)email;
    t.at_ms = at;
    t.channel = "Web";
    t.subchannel = "Organic";
    return t;
}

static int ingest(Campsync__V1__Touchpoint *t, size_t n, Campsync__V1__IngestResponse **out,
                  rpc_error *err)
{
    Campsync__V1__Touchpoint *p[8];
    for (size_t i = 0; i < n; i++)
        p[i] = &t[i];
    Campsync__V1__IngestRequest rq = CAMPSYNC__V1__INGEST_REQUEST__INIT;
    rq.touchpoints = p;
    rq.n_touchpoints = n;
    return call("IngestTouchpoints", &rq.base, (ProtobufCMessage **)out, err);
}

static void test_ingest(void **state)
{
    (void)state;
    size_t before = count_tps(NULL);
    Campsync__V1__Touchpoint t[2] = {
        web_tp("web-1", CAMPSYNC__V1__TOUCHPOINT_KIND__WEB_VISIT, "v@attr.example.com", clk),
        web_tp("form-1", CAMPSYNC__V1__TOUCHPOINT_KIND__FORM_FILL, "v@attr.example.com", clk)};
    Campsync__V1__IngestResponse *r = NULL;
    rpc_error err;
    assert_int_equal(ingest(t, 2, &r, &err), 0);
    assert_int_equal(r->accepted, 2);
    assert_int_equal(r->duplicates, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_int_equal(ingest(t, 2, &r, &err), 0);
    assert_int_equal(r->accepted, 0);
    assert_int_equal(r->duplicates, 2);
    assert_int_equal(r->results->results[1]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_int_equal(count_tps(NULL), before + 2);
    /* the same id twice in one batch: stored once */
    Campsync__V1__Touchpoint twice[2] = {
        web_tp("web-twice", CAMPSYNC__V1__TOUCHPOINT_KIND__WEB_VISIT, "v@attr.example.com", clk),
        web_tp("web-twice", CAMPSYNC__V1__TOUCHPOINT_KIND__WEB_VISIT, "v@attr.example.com", clk)};
    assert_int_equal(ingest(twice, 2, &r, &err), 0);
    assert_int_equal(r->accepted, 1);
    assert_int_equal(r->duplicates, 1);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    before++;
    assert_int_equal(count_tps(NULL), before + 2);

    /* validation: one bad record stores nothing of its batch */
    Campsync__V1__Touchpoint bad[2] = {
        web_tp("web-2", CAMPSYNC__V1__TOUCHPOINT_KIND__WEB_VISIT, "w@attr.example.com", clk),
        web_tp("", CAMPSYNC__V1__TOUCHPOINT_KIND__WEB_VISIT, "w@attr.example.com", clk)};
    assert_int_equal(ingest(bad, 2, &r, &err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "touchpoints[1]"));
    bad[1] =
        web_tp("web-3", CAMPSYNC__V1__TOUCHPOINT_KIND__CRM_CAMPAIGN, "w@attr.example.com", clk);
    assert_int_equal(ingest(bad, 2, &r, &err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "kind"));
    bad[1] = web_tp("web-3", CAMPSYNC__V1__TOUCHPOINT_KIND__WEB_VISIT, "", clk);
    assert_int_equal(ingest(bad, 2, &r, &err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "email"));
    bad[1] = web_tp("web-3", CAMPSYNC__V1__TOUCHPOINT_KIND__WEB_VISIT, "w@attr.example.com", 0);
    assert_int_equal(ingest(bad, 2, &r, &err), GRPC_STATUS_INVALID_ARGUMENT);
    bad[1] =
        web_tp("crm-0123", CAMPSYNC__V1__TOUCHPOINT_KIND__WEB_VISIT, "w@attr.example.com", clk);
    assert_int_equal(ingest(bad, 2, &r, &err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(ingest(bad, 0, &r, &err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(count_tps(NULL), before + 2);
}

/* ---- A1-A3 ---- */

static char *g_opp;      /* the opportunity of the attribution tests */
static int64_t g_amount; /* its amount, minor units */
static char g_email[64]; /* a contact of its account */

static ProtobufCMessage *attribute_one(const char *opp, int model,
                                       Campsync__V1__CustomWeights *custom, rpc_error *err, int *rc)
{
    Campsync__V1__AttributeRequest rq = CAMPSYNC__V1__ATTRIBUTE_REQUEST__INIT;
    char *ids[] = {(char *)opp};
    rq.model = model;
    rq.opportunity_ids = ids;
    rq.n_opportunity_ids = 1;
    rq.custom = custom;
    rpc_stream *st = NULL;
    memset(err, 0, sizeof *err);
    *rc = rpc_stream_open(attr, SVC, "Attribute", &rq.base, NULL, &st, err);
    if (*rc != 0)
        return NULL;
    ProtobufCMessage *m = NULL, *extra = NULL;
    int got = rpc_stream_next(st, &m, err);
    if (got == 1 && rpc_stream_next(st, &extra, err) == 1)
        fail_msg("one opportunity asked, two answered");
    *rc = got == 1 ? 0 : err->code;
    rpc_stream_close(st);
    return m;
}

static void test_attribution(void **state)
{
    (void)state;
    clock_advance(DAY_MS);
    char *acct = new_account();
    char *k1 = new_contact(acct, NULL, 0), *k2 = new_contact(acct, g_email, sizeof g_email);
    char *c1 = new_campaign("Webinar", "Include All Campaign Members");
    char *c2 = new_campaign("Tradeshow", "Include All Campaign Members");
    char *m1 = add_member(c1, k1, NULL);
    clock_advance(2 * DAY_MS);
    char *m2 = add_member(c2, k2, NULL);
    clock_advance(DAY_MS);
    /* a web visit by k2's email, no account or person id on it */
    Campsync__V1__Touchpoint w =
        web_tp("web-attr-1", CAMPSYNC__V1__TOUCHPOINT_KIND__WEB_VISIT, g_email, clk);
    Campsync__V1__IngestResponse *ir = NULL;
    rpc_error err;
    assert_int_equal(ingest(&w, 1, &ir, &err), 0);
    protobuf_c_message_free_unpacked(&ir->base, NULL);
    clock_advance(DAY_MS);
    char close[11];
    ymd(clk + 10 * DAY_MS, close);
    g_opp = sf_create("Opportunity",
                      json_pack("{s:s,s:s,s:s,s:s,s:f}", "Name", "Attr deal", "AccountId", acct,
                                "StageName", "Closed Won", "CloseDate", close, "Amount", 1000.01));
    g_amount = 100001;
    for (int i = 0; i < 2; i++) {
        Campsync__V1__RefreshSummary *s = refresh(i ? c2 : c1, 0);
        protobuf_c_message_free_unpacked(&s->base, NULL);
    }

    for (int model = 1; model <= 9; model++) {
        Campsync__V1__CustomWeights cw = CAMPSYNC__V1__CUSTOM_WEIGHTS__INIT;
        cw.ft_bp = 2500, cw.lc_bp = 2500, cw.oc_bp = 2000, cw.cw_bp = 2000, cw.middle_bp = 1000;
        int rc = 0;
        ProtobufCMessage *m = attribute_one(g_opp, model, model == 6 ? &cw : NULL, &err, &rc);
        if (rc != 0)
            fail_msg("model %d: %s", model, err.message);
        const Campsync__V1__OpportunityAttribution *oa = (const void *)m;
        assert_string_equal(oa->opportunity_id, g_opp);
        assert_int_equal(oa->amount_minor, g_amount);
        assert_int_equal(oa->n_touches, 3); /* both contacts' touches + the web visit */
        int64_t ppm = 0, rev = 0;
        for (size_t i = 0; i < oa->n_touches; i++) {
            ppm += oa->touches[i]->weight_ppm;
            rev += oa->touches[i]->revenue_minor;
        }
        assert_int_equal(ppm, 1000000);
        assert_int_equal(rev, g_amount); /* A3: parts add up exactly */
        /* time order; the first touch is the Webinar member (A1) */
        assert_string_equal(oa->touches[0]->touchpoint->member_id, m1);
        assert_true(oa->touches[0]->positions & CAMPSYNC__V1__POSITION__FT);
        assert_string_equal(oa->touches[2]->touchpoint->id, "web-attr-1");
        if (model == CAMPSYNC__V1__MODEL__FIRST_TOUCH) {
            assert_int_equal(oa->touches[0]->weight_ppm, 1000000);
            assert_int_equal(oa->touches[0]->revenue_minor, g_amount);
        }
        if (model == CAMPSYNC__V1__MODEL__W_SHAPED) {
            /* the opportunity came after every touch: the last one is OC and,
             * closed won later, CW too */
            uint32_t last = oa->touches[2]->positions;
            assert_true((last & CAMPSYNC__V1__POSITION__OC) && (last & CAMPSYNC__V1__POSITION__CW));
            assert_true(oa->touches[2]->weight_ppm > oa->touches[1]->weight_ppm);
        }
        if (model == CAMPSYNC__V1__MODEL__LINEAR) {
            /* 100001 / 3: 33334 + 33334 + 33333, the remainder to earlier touches */
            assert_int_equal(oa->touches[0]->revenue_minor, 33334);
            assert_int_equal(oa->touches[2]->revenue_minor, 33333);
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }

    /* Custom with a stage: its weight goes to the last touch at or before
     * the stage's transition (here: right after the second touch) */
    Campsync__V1__CustomWeights cw = CAMPSYNC__V1__CUSTOM_WEIGHTS__INIT;
    Campsync__V1__CustomStage stage = CAMPSYNC__V1__CUSTOM_STAGE__INIT, *stages[] = {&stage};
    cw.ft_bp = 2000, cw.lc_bp = 2000, cw.oc_bp = 2000, cw.cw_bp = 2000, cw.middle_bp = 1000;
    stage.name = "MQL";
    stage.weight_bp = 1000;
    cw.stages = stages;
    cw.n_stages = 1;
    int rc = 0;
    ProtobufCMessage *cm = attribute_one(g_opp, CAMPSYNC__V1__MODEL__CUSTOM, &cw, &err, &rc);
    assert_int_equal(rc, 0);
    const Campsync__V1__OpportunityAttribution *co = (const void *)cm;
    stage.transition_at_ms = co->touches[1]->touchpoint->at_ms + 1;
    protobuf_c_message_free_unpacked(cm, NULL);
    ProtobufCMessage *cm0 = attribute_one(g_opp, CAMPSYNC__V1__MODEL__CUSTOM, &cw, &err, &rc);
    assert_int_equal(rc, 0);
    stage.transition_at_ms = 0; /* not reached: its weight spreads */
    cm = attribute_one(g_opp, CAMPSYNC__V1__MODEL__CUSTOM, &cw, &err, &rc);
    assert_int_equal(rc, 0);
    const Campsync__V1__OpportunityAttribution *with = (const void *)cm0, *without = (void *)cm;
    int64_t sum_with = 0, sum_without = 0;
    for (size_t i = 0; i < 3; i++) {
        sum_with += with->touches[i]->revenue_minor;
        sum_without += without->touches[i]->revenue_minor;
    }
    assert_int_equal(sum_with, g_amount);
    assert_int_equal(sum_without, g_amount);
    assert_true(with->touches[1]->weight_ppm > without->touches[1]->weight_ppm);
    protobuf_c_message_free_unpacked(cm0, NULL);
    protobuf_c_message_free_unpacked(cm, NULL);

    /* errors */
    attribute_one(g_opp, CAMPSYNC__V1__MODEL__MODEL_UNSPECIFIED, NULL, &err, &rc);
    assert_int_equal(rc, GRPC_STATUS_INVALID_ARGUMENT);
    Campsync__V1__CustomWeights bad = CAMPSYNC__V1__CUSTOM_WEIGHTS__INIT;
    bad.ft_bp = 5000;
    attribute_one(g_opp, CAMPSYNC__V1__MODEL__CUSTOM, &bad, &err, &rc);
    assert_int_equal(rc, GRPC_STATUS_INVALID_ARGUMENT);
    attribute_one(g_opp, CAMPSYNC__V1__MODEL__CUSTOM, NULL, &err, &rc);
    assert_int_equal(rc, GRPC_STATUS_INVALID_ARGUMENT);
    attribute_one("006Dn00000000ZZIAY", CAMPSYNC__V1__MODEL__LINEAR, NULL, &err, &rc);
    assert_int_equal(rc, GRPC_STATUS_NOT_FOUND);
    free(acct), free(k1), free(k2), free(c1), free(c2), free(m1), free(m2);
}

/* ---- A4 ---- */

static Campsync__V1__ReportResponse *report(const char *group_by, int64_t from, int64_t to, int *rc,
                                            rpc_error *err)
{
    Campsync__V1__ReportRequest rq = CAMPSYNC__V1__REPORT_REQUEST__INIT;
    rq.model = CAMPSYNC__V1__MODEL__LINEAR;
    rq.group_by = (char *)group_by;
    rq.from_ms = from;
    rq.to_ms = to;
    ProtobufCMessage *out = NULL;
    *rc = call("Report", &rq.base, &out, err);
    return (Campsync__V1__ReportResponse *)out;
}

static void test_report(void **state)
{
    (void)state;
    assert_non_null(g_opp);
    /* every opportunity's revenue, summed from Attribute over all of them */
    Campsync__V1__AttributeRequest rq = CAMPSYNC__V1__ATTRIBUTE_REQUEST__INIT;
    rq.model = CAMPSYNC__V1__MODEL__LINEAR;
    rpc_stream *st = NULL;
    rpc_error err = {0};
    assert_int_equal(rpc_stream_open(attr, SVC, "Attribute", &rq.base, NULL, &st, &err), 0);
    int64_t total = 0;
    int64_t subchannel_webinar = 0;
    int found = 0;
    ProtobufCMessage *m = NULL;
    while (rpc_stream_next(st, &m, &err) == 1) {
        const Campsync__V1__OpportunityAttribution *oa = (const void *)m;
        int64_t sum = 0;
        for (size_t i = 0; i < oa->n_touches; i++) {
            sum += oa->touches[i]->revenue_minor;
            if (strcmp(oa->touches[i]->touchpoint->subchannel, "Webinar") == 0)
                subchannel_webinar += oa->touches[i]->revenue_minor;
        }
        if (oa->n_touches)
            assert_int_equal(sum, oa->amount_minor);
        found += strcmp(oa->opportunity_id, g_opp) == 0;
        total += sum;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_close(st);
    assert_int_equal(found, 1);

    int rc = 0;
    const char *groups[] = {"channel", "subchannel", "campaign"};
    for (int g = 0; g < 3; g++) {
        Campsync__V1__ReportResponse *r = report(groups[g], 0, 0, &rc, &err);
        assert_int_equal(rc, 0);
        assert_int_equal(r->total_revenue_minor, total);
        int64_t rows = 0;
        for (size_t i = 0; i < r->n_rows; i++) {
            rows += r->rows[i]->revenue_minor;
            assert_true(r->rows[i]->touches > 0);
            if (g == 1 && strcmp(r->rows[i]->key, "Webinar") == 0)
                assert_int_equal(r->rows[i]->revenue_minor, subchannel_webinar);
        }
        assert_int_equal(rows, total);
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    /* a range with no touches at all */
    Campsync__V1__ReportResponse *r = report("channel", 1000, 2000, &rc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(r->total_revenue_minor, 0);
    assert_int_equal(r->n_rows, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_null(report("region", 0, 0, &rc, &err));
    assert_int_equal(rc, GRPC_STATUS_INVALID_ARGUMENT);
    assert_null(report("channel", 2000, 1000, &rc, &err));
    assert_int_equal(rc, GRPC_STATUS_INVALID_ARGUMENT);
}

/* ---- export ---- */

static size_t sandbox_count(const char *type)
{
    json_t *recs = sf_records(type);
    size_t n = json_array_size(recs);
    json_decref(recs);
    return n;
}

static void test_export(void **state)
{
    (void)state;
    Campsync__V1__ExportRequest rq = CAMPSYNC__V1__EXPORT_REQUEST__INIT;
    rq.touchpoints = 1;
    rq.attribution = 1;
    rq.model = CAMPSYNC__V1__MODEL__W_SHAPED;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    int rc = call("ExportToSalesforce", &rq.base, &out, &err);
    if (rc != 0)
        fail_msg("export: %s", err.message);
    Campsync__V1__ExportSummary *s = (void *)out;
    size_t stored = count_tps(NULL);
    assert_int_equal(s->touchpoints_upserted, (int)stored);
    assert_true(s->attribution_upserted >= 3);
    assert_int_equal(s->failed, 0);
    assert_int_equal(sandbox_count("Buyer_Touchpoint__c"), stored);
    assert_int_equal(sandbox_count("Buyer_Attribution_Touchpoint__c"),
                     (size_t)s->attribution_upserted);
    int attributed = s->attribution_upserted;
    protobuf_c_message_free_unpacked(out, NULL);

    /* what landed: the web visit and an attribution row of g_opp */
    json_t *recs = sf_records("Buyer_Touchpoint__c"), *r;
    size_t i;
    int web = 0;
    json_array_foreach(recs, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "Touchpoint_Id__c")), "web-attr-1"))
            continue;
        web = 1;
        assert_string_equal(json_string_value(json_object_get(r, "Email__c")), g_email);
        assert_string_equal(json_string_value(json_object_get(r, "Channel__c")), "Web");
    }
    json_decref(recs);
    assert_true(web);
    recs = sf_records("Buyer_Attribution_Touchpoint__c");
    double revenue = 0;
    json_array_foreach(recs, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "Opportunity__c")), g_opp) == 0)
            revenue += json_number_value(json_object_get(r, "Revenue__c"));
    }
    json_decref(recs);
    assert_true(revenue > 1000.0 && revenue < 1000.02);

    /* upsert by external id: a second export creates nothing new */
    assert_int_equal(call("ExportToSalesforce", &rq.base, &out, &err), 0);
    protobuf_c_message_free_unpacked(out, NULL);
    assert_int_equal(sandbox_count("Buyer_Touchpoint__c"), stored);
    assert_int_equal(sandbox_count("Buyer_Attribution_Touchpoint__c"), (size_t)attributed);

    Campsync__V1__ExportRequest none = CAMPSYNC__V1__EXPORT_REQUEST__INIT;
    assert_int_equal(call("ExportToSalesforce", &none.base, &out, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);
    none.attribution = 1;
    assert_int_equal(call("ExportToSalesforce", &none.base, &out, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);
}

/* ---- validation ---- */

static void test_validation(void **state)
{
    (void)state;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    Campsync__V1__RefreshRequest rr = CAMPSYNC__V1__REFRESH_REQUEST__INIT;
    char *ids[] = {"701Dn00000000ZZIAY"};
    rr.campaign_ids = ids;
    rr.n_campaign_ids = 1;
    assert_int_equal(call("RefreshTouchpoints", &rr.base, &out, &err), GRPC_STATUS_NOT_FOUND);
    assert_non_null(strstr(err.message, "701Dn00000000ZZIAY"));
    char *empty[] = {""};
    rr.campaign_ids = empty;
    assert_int_equal(call("RefreshTouchpoints", &rr.base, &out, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);

    Campsync__V1__BulkDateRequest b = CAMPSYNC__V1__BULK_DATE_REQUEST__INIT;
    b.date = "2026-01-05";
    assert_int_equal(call("BulkUpdateTouchpointDate", &b.base, &out, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);
    b.campaign_id = "701Dn00000000G8IAI";
    b.date = "2026-02-30";
    assert_int_equal(call("BulkUpdateTouchpointDate", &b.base, &out, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "date"));
    b.date = "2026-02-03";
    b.created_from_ms = 2000;
    b.created_to_ms = 1000;
    assert_int_equal(call("BulkUpdateTouchpointDate", &b.base, &out, &err),
                     GRPC_STATUS_INVALID_ARGUMENT);

    Campsync__V1__TouchpointFilter f = CAMPSYNC__V1__TOUCHPOINT_FILTER__INIT;
    f.from_ms = 5;
    f.to_ms = 1;
    rpc_stream *st = NULL;
    int rc = rpc_stream_open(attr, SVC, "ListTouchpoints", &f.base, NULL, &st, &err);
    if (rc == 0) {
        ProtobufCMessage *m = NULL;
        assert_int_equal(rpc_stream_next(st, &m, &err), -1);
        rc = err.code;
        rpc_stream_close(st);
    }
    assert_int_equal(rc, GRPC_STATUS_INVALID_ARGUMENT);
}

/* ---- the connector down ---- */

static void test_connector_down(void **state)
{
    (void)state;
    clock_advance(DAY_MS);
    char *camp = new_campaign("Webinar", "Include All Campaign Members");
    char *p = new_lead(1);
    char *m = add_member(camp, p, NULL);
    Campsync__V1__RefreshSummary *s = refresh(camp, 0);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    size_t before = count_tps(NULL);

    /* however it goes down (its own shutdown is not under test here) */
    assert_true(ts_proc_stop(stack->svc[TS_SVC_SALESFORCE], 15000) >= 0);
    char *p2 = new_lead(1);
    char *m2 = add_member(camp, p2, NULL);
    Campsync__V1__RefreshRequest rq = CAMPSYNC__V1__REFRESH_REQUEST__INIT;
    char *ids[] = {camp};
    rq.campaign_ids = ids;
    rq.n_campaign_ids = 1;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    assert_int_equal(call("RefreshTouchpoints", &rq.base, &out, &err), GRPC_STATUS_UNAVAILABLE);
    assert_non_null(strstr(err.message, "salesforce connector"));
    rq.n_campaign_ids = 0;
    assert_int_equal(call("RefreshTouchpoints", &rq.base, &out, &err), GRPC_STATUS_UNAVAILABLE);
    Campsync__V1__BulkDateRequest b = CAMPSYNC__V1__BULK_DATE_REQUEST__INIT;
    b.campaign_id = camp;
    b.date = "2026-01-02";
    assert_int_equal(call("BulkUpdateTouchpointDate", &b.base, &out, &err),
                     GRPC_STATUS_UNAVAILABLE);
    /* nothing lost: stored touchpoints are intact and still served */
    assert_int_equal(count_tps(NULL), before);

    assert_int_equal(ts_stack_start_service(stack, TS_SVC_SALESFORCE, NULL), 0);
    s = refresh(NULL, 0);
    assert_int_equal(s->created, 1);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    assert_int_equal(count_tps(camp), 2);
    free(camp), free(p), free(m), free(p2), free(m2);
}

/* ---- concurrent refreshes of one campaign ---- */

struct refresher {
    const char *campaign; /* NULL: an incremental pass */
    int full;
    int rc;
};

static void *refresh_thread(void *arg)
{
    struct refresher *r = arg;
    Campsync__V1__RefreshRequest rq = CAMPSYNC__V1__REFRESH_REQUEST__INIT;
    char *ids[] = {(char *)r->campaign};
    rq.campaign_ids = r->campaign ? ids : NULL;
    rq.n_campaign_ids = r->campaign ? 1 : 0;
    rq.full = r->full;
    ProtobufCMessage *out = NULL;
    rpc_error err = {0};
    r->rc = rpc_client_unary(attr, SVC, "RefreshTouchpoints", &rq.base, &out, NULL, &err);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return NULL;
}

static void test_concurrent_refreshes(void **state)
{
    (void)state;
    clock_advance(DAY_MS);
    char *camp = new_campaign("Webinar", "Include All Campaign Members");
    char *p[6], *m[6];
    for (int i = 0; i < 6; i++) {
        p[i] = new_lead(1);
        m[i] = add_member(camp, p[i], NULL);
    }
    /* six refreshes of the same campaign at once, full and incremental: the
     * campaign lock serializes them, every one succeeds, nothing doubles */
    struct refresher r[6] = {{camp, 1, -1}, {camp, 0, -1}, {NULL, 0, -1},
                             {camp, 1, -1}, {NULL, 1, -1}, {camp, 0, -1}};
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&t[i], NULL, refresh_thread, &r[i]), 0);
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].rc, 0);
    }
    assert_int_equal(count_tps(camp), 6);
    assert_int_equal(redis_tps(camp), 6);
    for (int i = 0; i < 6; i++)
        free(p[i]), free(m[i]);
    free(camp);
}

/* ---- Redis down ---- */

static void test_redis_down(void **state)
{
    (void)state;
    size_t before = count_tps(NULL);
    assert_true(before > 0);
    assert_int_equal(ts_redis_stop(stack->redis), 0);
    Campsync__V1__RefreshRequest rq = CAMPSYNC__V1__REFRESH_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    assert_int_equal(call("RefreshTouchpoints", &rq.base, &out, &err), GRPC_STATUS_UNAVAILABLE);
    assert_non_null(strstr(err.message, "redis"));
    Campsync__V1__Empty e = CAMPSYNC__V1__EMPTY__INIT;
    assert_int_equal(call("GetChannelMapping", &e.base, &out, &err), GRPC_STATUS_UNAVAILABLE);
    assert_int_equal(ts_redis_restart(stack->redis), 0);
    /* back: everything still there, refreshes work again */
    for (int i = 0; i < 50 && call("GetChannelMapping", &e.base, &out, &err) != 0; i++)
        ts_sleep_ms(100);
    assert_non_null(out);
    protobuf_c_message_free_unpacked(out, NULL);
    assert_int_equal(count_tps(NULL), before);
    Campsync__V1__RefreshSummary *s = refresh(NULL, 0);
    assert_int_equal(s->created, 0);
    assert_int_equal(s->removed, 0);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    assert_int_equal(count_tps(NULL), before);
}

/* ---- the background refresh ---- */

static void test_background_refresh(void **state)
{
    (void)state;
    static const char *const env[] = {"CAMPSYNC_ATTRIBUTION_REFRESH_INTERVAL=300ms", NULL};
    long long t0 = ts_now_ms();
    assert_int_equal(ts_proc_stop(stack->svc[TS_SVC_ATTRIBUTION], 30000), 0);
    fprintf(stderr, "attribution stopped in %lld ms\n", ts_now_ms() - t0);
    assert_int_equal(ts_stack_start_service(stack, TS_SVC_ATTRIBUTION, env), 0);
    clock_advance(DAY_MS);
    char *camp = new_campaign("Webinar", "Include All Campaign Members");
    char *p = new_lead(1);
    char *m = add_member(camp, p, NULL);
    size_t n = 0;
    for (int i = 0; i < 200 && n == 0; i++) {
        ts_sleep_ms(100);
        n = count_tps(camp);
    }
    if (n != 1)
        ts_proc_dump_stderr(stack->svc[TS_SVC_ATTRIBUTION], 6000);
    assert_int_equal(n, 1);
    free(camp), free(p), free(m);
}

/* ---- membership events from the reconciler ----
 * A stand-in reconciler (this process, common/rpc) serves WatchEvents and
 * emits one event when told; the service must refresh that campaign on
 * its own, with periodic refreshes off. */

static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static char ev_campaign[32]; /* the event to send, "" = none */
static char ev_resume_from[64];

static int watch_events(rpc_call *call, const ProtobufCMessage *request)
{
    const Campsync__V1__WatchEventsRequest *rq = (const void *)request;
    pthread_mutex_lock(&ev_mu);
    snprintf(ev_resume_from, sizeof ev_resume_from, "%s", rq->from_event_id);
    pthread_mutex_unlock(&ev_mu);
    while (!rpc_call_cancelled(call)) {
        char campaign[32];
        pthread_mutex_lock(&ev_mu);
        snprintf(campaign, sizeof campaign, "%s", ev_campaign);
        ev_campaign[0] = 0;
        pthread_mutex_unlock(&ev_mu);
        if (campaign[0]) {
            Campsync__V1__MembershipEvent ev = CAMPSYNC__V1__MEMBERSHIP_EVENT__INIT;
            ev.event_id = "1700000000000-0";
            ev.type = CAMPSYNC__V1__EVENT_TYPE__ADDED_TO_SFDC_CAMPAIGN;
            ev.campaign_id = campaign;
            ev.source = "salesforce";
            if (rpc_call_send(call, &ev.base) != 0)
                return GRPC_STATUS_CANCELLED;
        }
        rpc_call_wait(call, 50);
    }
    return GRPC_STATUS_OK;
}

static void *serve_thread(void *arg)
{
    rpc_server_run(arg);
    return NULL;
}

static void test_reconciler_events(void **state)
{
    (void)state;
    static const rpc_method methods[] = {RPC_STREAM("WatchEvents", watch_events)};
    rpc_server_opts o = {.listen_addr = "127.0.0.1:0", .workers = 1, .shutdown_grace_ms = 1000};
    rpc_server *srv = NULL;
    rpc_error err = {0};
    assert_int_equal(rpc_server_create(&srv, &o, &err), 0);
    assert_int_equal(rpc_server_add_service(srv, &campsync__v1__membership_reconciler__descriptor,
                                            methods, 1, NULL, &err),
                     0);
    assert_int_equal(rpc_server_start(srv, &err), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, serve_thread, srv), 0);
    char recon[64];
    snprintf(recon, sizeof recon, "CAMPSYNC_RECONCILER=127.0.0.1:%d", rpc_server_port(srv));
    const char *const env[] = {recon, "CAMPSYNC_ATTRIBUTION_REFRESH_INTERVAL=0", NULL};
    assert_true(ts_proc_stop(stack->svc[TS_SVC_ATTRIBUTION], 30000) >= 0);
    assert_int_equal(ts_stack_start_service(stack, TS_SVC_ATTRIBUTION, env), 0);

    clock_advance(DAY_MS);
    char *camp = new_campaign("Webinar", "Include All Campaign Members");
    char *p = new_lead(1);
    char *m = add_member(camp, p, NULL);
    ts_sleep_ms(300);
    assert_int_equal(count_tps(camp), 0); /* nothing refreshes on its own */
    pthread_mutex_lock(&ev_mu);
    snprintf(ev_campaign, sizeof ev_campaign, "%s", camp);
    pthread_mutex_unlock(&ev_mu);
    size_t n = 0;
    for (int i = 0; i < 200 && n == 0; i++) {
        ts_sleep_ms(100);
        n = count_tps(camp);
    }
    if (n != 1)
        ts_proc_dump_stderr(stack->svc[TS_SVC_ATTRIBUTION], 6000);
    assert_int_equal(n, 1);
    /* the stream is reopened in short windows and resumes after the event */
    int resumed = 0;
    for (int i = 0; i < 100 && !resumed; i++) {
        ts_sleep_ms(100);
        pthread_mutex_lock(&ev_mu);
        resumed = strcmp(ev_resume_from, "1700000000000-0") == 0;
        pthread_mutex_unlock(&ev_mu);
    }
    assert_true(resumed);

    rpc_server_request_shutdown(srv);
    pthread_join(t, NULL);
    rpc_server_destroy(srv);
    free(camp), free(p), free(m);
}

/* Last: a clean shutdown, and (in sanitizer builds) nothing reported. */
static void test_clean_shutdown(void **state)
{
    (void)state;
    ts_proc *p = stack->svc[TS_SVC_ATTRIBUTION];
    assert_int_equal(ts_proc_signal(p, SIGTERM), 0);
    int status = -1;
    assert_int_equal(ts_proc_wait(p, 30000, &status), 0);
    char *log = ts_read_file(ts_proc_stderr_path(p), NULL);
    assert_non_null(log);
    int dirty = strstr(log, "Sanitizer") || strstr(log, "runtime error");
    if (dirty || status != 0)
        ts_proc_dump_stderr(p, 8000);
    free(log);
    assert_false(dirty);
    assert_int_equal(status, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_mapping),
        cmocka_unit_test(test_include_all),
        cmocka_unit_test(test_responded_exclude_unset),
        cmocka_unit_test(test_start_end_dates),
        cmocka_unit_test(test_unmapped_type),
        cmocka_unit_test(test_late_tradeshow_bulk_date),
        cmocka_unit_test(test_remove_and_redate_incremental),
        cmocka_unit_test(test_dormant_campaign),
        cmocka_unit_test(test_ingest),
        cmocka_unit_test(test_attribution),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_connector_down),
        cmocka_unit_test(test_concurrent_refreshes),
        cmocka_unit_test(test_redis_down),
        cmocka_unit_test(test_background_refresh),
        cmocka_unit_test(test_reconciler_events),
        cmocka_unit_test(test_clean_shutdown),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    free(g_opp);
    return rc;
}
