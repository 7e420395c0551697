/*
 * Helpers shared by the reconciler's integration tests (test_reconciler*.c):
 * start the stack, call the reconciler, act on the sandbox as a user would
 * (admin API), and read the vendors' state back to compare both sides of a
 * pair the way SPEC C5 matches people. Header-only (static functions) so each
 * test binary stays a single file for the tests/integration glob.
 */
#ifndef CAMPSYNC_RECON_TEST_H
#define CAMPSYNC_RECON_TEST_H

#include <ctype.h>
#include <strings.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "campsync/v1/reconciler.pb-c.h"
#include "rpc/rpc_client.h"
#include "ts_stack.h"

#define RT_FN static __attribute__((unused))
#define RT_SVC (&campsync__v1__membership_reconciler__descriptor)

typedef struct {
    ts_stack *stack;
    rpc_client *rc;
} rt_env;

RT_FN int rt_connect(rt_env *e)
{
    rpc_client_opts co = {.default_timeout_ms = 300000};
    rpc_error err = {0};
    e->rc = rpc_client_get(e->stack->target[TS_SVC_RECONCILER], &co, &err);
    return e->rc ? 0 : -1;
}

RT_FN int rt_start(rt_env *e, const char *dataset, const char *generate,
                   const char *const *extra_env)
{
    ts_stack_opts o = {.dataset = dataset,
                       .generate = generate,
                       .seed = 7,
                       .services = (1u << TS_SVC_MARKETO) | (1u << TS_SVC_SALESFORCE) |
                                   (1u << TS_SVC_RECONCILER),
                       .env = extra_env};
    e->stack = ts_stack_start(&o);
    if (!e->stack)
        return -1;
    return rt_connect(e);
}

RT_FN void rt_stop(rt_env *e)
{
    rpc_client_cleanup();
    ts_stack_free(e->stack);
    e->stack = NULL;
}

RT_FN int rt_restart_reconciler(rt_env *e, const char *const *extra_env)
{
    ts_proc_stop(e->stack->svc[TS_SVC_RECONCILER], 15000);
    return ts_stack_start_service(e->stack, TS_SVC_RECONCILER, extra_env);
}

RT_FN int rt_unary(rt_env *e, const char *method, const ProtobufCMessage *rq,
                   ProtobufCMessage **out, rpc_error *err)
{
    rpc_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    *out = NULL;
    int rc = rpc_client_unary(e->rc, RT_SVC, method, rq, out, NULL, err);
    if (rc != 0)
        fprintf(stderr, "rt: %s -> %s: %s\n", method, rpc_status_name(rc), err->message);
    return rc;
}

RT_FN int rt_link(rt_env *e, const Campsync__V1__LinkRequest *rq, Campsync__V1__Pair **pair,
                  rpc_error *err)
{
    ProtobufCMessage *out = NULL;
    int rc = rt_unary(e, "Link", &rq->base, &out, err);
    if (rc == 0 && pair)
        *pair = (void *)out;
    else if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return rc;
}

RT_FN int rt_unlink(rt_env *e, const Campsync__V1__UnlinkRequest *rq, rpc_error *err)
{
    ProtobufCMessage *out = NULL;
    int rc = rt_unary(e, "Unlink", &rq->base, &out, err);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return rc;
}

RT_FN int rt_count_pairs(rt_env *e)
{
    Campsync__V1__Empty rq = CAMPSYNC__V1__EMPTY__INIT;
    ProtobufCMessage *out = NULL;
    if (rt_unary(e, "ListPairs", &rq.base, &out, NULL) != 0)
        return -1;
    int n = (int)((Campsync__V1__PairList *)out)->n_pairs;
    protobuf_c_message_free_unpacked(out, NULL);
    return n;
}

/* SyncNow to the end; *rec gets the final record (caller frees), and the
 * phases seen must include "lock" and "done". Returns the stream status. */
RT_FN int rt_sync_opts(rt_env *e, long long program, int policy, int full,
                       Campsync__V1__CycleRecord **rec, rpc_error *err)
{
    rpc_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    *rec = NULL;
    Campsync__V1__SyncRequest rq = CAMPSYNC__V1__SYNC_REQUEST__INIT;
    rq.program_id = program;
    rq.policy = (Campsync__V1__ConflictPolicy)policy;
    rq.full = full;
    rpc_stream *s = NULL;
    int rc = rpc_stream_open(e->rc, RT_SVC, "SyncNow", &rq.base, NULL, &s, err);
    if (rc != 0)
        return rc;
    ProtobufCMessage *m = NULL;
    int n;
    while ((n = rpc_stream_next(s, &m, err)) == 1) {
        Campsync__V1__SyncProgress *p = (void *)m;
        if (p->record) {
            if (*rec)
                protobuf_c_message_free_unpacked(&(*rec)->base, NULL);
            *rec = p->record;
            p->record = NULL;
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_close(s);
    if (n < 0)
        return err->code ? err->code : GRPC_STATUS_UNKNOWN;
    return *rec ? 0 : GRPC_STATUS_INTERNAL;
}

RT_FN int rt_sync(rt_env *e, long long program, int policy, Campsync__V1__CycleRecord **rec,
                  rpc_error *err)
{
    return rt_sync_opts(e, program, policy, 0, rec, err);
}

/* A cycle that found nothing changed and read nothing. */
RT_FN bool rt_was_quiet(const Campsync__V1__CycleRecord *rec)
{
    return strstr(rec->message, "nothing read or written") != NULL;
}

RT_FN int rt_dry_run(rt_env *e, long long program, Campsync__V1__SyncPlan **plan, rpc_error *err)
{
    Campsync__V1__SyncRequest rq = CAMPSYNC__V1__SYNC_REQUEST__INIT;
    rq.program_id = program;
    ProtobufCMessage *out = NULL;
    int rc = rt_unary(e, "DryRun", &rq.base, &out, err);
    *plan = (void *)out;
    return rc;
}

RT_FN int rt_list_cycles(rt_env *e, long long program, int limit, Campsync__V1__CycleList **l,
                         rpc_error *err)
{
    Campsync__V1__ListCyclesRequest rq = CAMPSYNC__V1__LIST_CYCLES_REQUEST__INIT;
    rq.program_id = program;
    rq.limit = limit;
    ProtobufCMessage *out = NULL;
    int rc = rt_unary(e, "ListCycles", &rq.base, &out, err);
    *l = (void *)out;
    return rc;
}

RT_FN int rt_is_member(rt_env *e, const char *campaign, long long lead, const char *email,
                       const char *sfdc, Campsync__V1__MembershipAnswer **a, rpc_error *err)
{
    Campsync__V1__PersonRef p = CAMPSYNC__V1__PERSON_REF__INIT;
    p.lead_id = lead;
    p.email = (char *)(email ? email : "");
    p.sfdc_id = (char *)(sfdc ? sfdc : "");
    Campsync__V1__MembershipQuery rq = CAMPSYNC__V1__MEMBERSHIP_QUERY__INIT;
    rq.campaign_id = (char *)campaign;
    rq.person = &p;
    ProtobufCMessage *out = NULL;
    int rc = rt_unary(e, "IsMemberOfSfdcCampaign", &rq.base, &out, err);
    *a = (void *)out;
    return rc;
}

/* A flow action for up to three people, in this order: a Salesforce id, a
 * Marketo lead id, an email (each only when given). */
RT_FN int rt_flow(rt_env *e, const char *method, const char *campaign, const char *status,
                  const char *sfdc, long long lead, const char *email,
                  Campsync__V1__BatchResult **res, rpc_error *err)
{
    Campsync__V1__PersonRef refs[3], *pp[3];
    size_t n = 0;
    if (sfdc) {
        campsync__v1__person_ref__init(&refs[n]);
        refs[n].sfdc_id = (char *)sfdc;
        pp[n] = &refs[n];
        n++;
    }
    if (lead > 0) {
        campsync__v1__person_ref__init(&refs[n]);
        refs[n].lead_id = lead;
        pp[n] = &refs[n];
        n++;
    }
    if (email) {
        campsync__v1__person_ref__init(&refs[n]);
        refs[n].email = (char *)email;
        pp[n] = &refs[n];
        n++;
    }
    Campsync__V1__FlowActionRequest rq = CAMPSYNC__V1__FLOW_ACTION_REQUEST__INIT;
    rq.campaign_id = (char *)campaign;
    rq.status = (char *)(status ? status : "");
    rq.people = pp;
    rq.n_people = n;
    ProtobufCMessage *out = NULL;
    *res = NULL;
    int rc = rt_unary(e, method, &rq.base, &out, err);
    if (rc == 0) {
        Campsync__V1__FlowActionResponse *r = (void *)out;
        *res = r->result;
        r->result = NULL;
        protobuf_c_message_free_unpacked(out, NULL);
    }
    return rc;
}

/* ---- events ---- */

typedef struct {
    int type;
    long long program_id;
    long long lead_id;
    char person[32];
    char old_status[48], new_status[48], source[16], id[48];
} rt_event;

typedef struct {
    rt_event *e;
    size_t n;
} rt_events;

/* Everything WatchEvents gives from `from` within ~1.5 s. */
RT_FN void rt_collect_events(rt_env *e, const char *from, const char *campaign, rt_events *out)
{
    memset(out, 0, sizeof *out);
    Campsync__V1__WatchEventsRequest rq = CAMPSYNC__V1__WATCH_EVENTS_REQUEST__INIT;
    rq.from_event_id = (char *)from;
    rq.campaign_id = (char *)(campaign ? campaign : "");
    rpc_call_opts o = {.timeout_ms = 1500};
    rpc_stream *s = NULL;
    rpc_error err = {0};
    if (rpc_stream_open(e->rc, RT_SVC, "WatchEvents", &rq.base, &o, &s, &err) != 0)
        return;
    ProtobufCMessage *m = NULL;
    while (rpc_stream_next(s, &m, &err) == 1) {
        Campsync__V1__MembershipEvent *ev = (void *)m;
        rt_event *v = realloc(out->e, (out->n + 1) * sizeof *v);
        if (v) {
            out->e = v;
            rt_event *x = &v[out->n++];
            memset(x, 0, sizeof *x);
            x->type = ev->type;
            x->program_id = ev->program_id;
            x->lead_id = ev->lead_id;
            snprintf(x->person, sizeof x->person, "%s", ev->sfdc_person_id);
            snprintf(x->old_status, sizeof x->old_status, "%s", ev->old_status);
            snprintf(x->new_status, sizeof x->new_status, "%s", ev->new_status);
            snprintf(x->source, sizeof x->source, "%s", ev->source);
            snprintf(x->id, sizeof x->id, "%s", ev->event_id);
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_close(s);
}

RT_FN void rt_events_free(rt_events *ev)
{
    free(ev->e);
    memset(ev, 0, sizeof *ev);
}

/* Events that repeat another's program, person, type and statuses. */
RT_FN int rt_events_duplicates(const rt_events *ev)
{
    int d = 0;
    for (size_t i = 0; i < ev->n; i++)
        for (size_t j = i + 1; j < ev->n; j++)
            if (ev->e[i].type == ev->e[j].type && ev->e[i].program_id == ev->e[j].program_id &&
                strcmp(ev->e[i].person, ev->e[j].person) == 0 &&
                strcmp(ev->e[i].old_status, ev->e[j].old_status) == 0 &&
                strcmp(ev->e[i].new_status, ev->e[j].new_status) == 0) {
                fprintf(stderr, "duplicate event: %s type %d %s -> %s (%s, %s)\n", ev->e[i].person,
                        ev->e[i].type, ev->e[i].old_status, ev->e[i].new_status, ev->e[i].id,
                        ev->e[j].id);
                d++;
            }
    return d;
}

RT_FN int rt_watch_error(rt_env *e, const char *from, rpc_error *err)
{
    Campsync__V1__WatchEventsRequest rq = CAMPSYNC__V1__WATCH_EVENTS_REQUEST__INIT;
    rq.from_event_id = (char *)from;
    rpc_call_opts o = {.timeout_ms = 3000};
    rpc_stream *s = NULL;
    memset(err, 0, sizeof *err);
    int rc = rpc_stream_open(e->rc, RT_SVC, "WatchEvents", &rq.base, &o, &s, err);
    if (rc != 0)
        return rc;
    ProtobufCMessage *m = NULL;
    while ((rc = rpc_stream_next(s, &m, err)) == 1)
        protobuf_c_message_free_unpacked(m, NULL);
    rpc_stream_close(s);
    return rc == 0 ? 0 : err->code;
}

/* ---- the sandbox, as a user ---- */

RT_FN json_t *rt_state(rt_env *e)
{
    return ts_admin(e->stack, "GET", "/admin/state", NULL, NULL);
}

RT_FN int rt_post(rt_env *e, const char *path, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    int status = 0;
    json_t *r = ts_admin(e->stack, "POST", path, text, &status);
    if (status != 200)
        fprintf(stderr, "rt_post %s %s -> %d %s\n", path, text, status,
                r ? json_string_value(json_object_get(r, "error")) : "");
    free(text);
    json_decref(r);
    return status == 200 ? 0 : -1;
}

RT_FN void rt_reset_calls(rt_env *e)
{
    json_decref(ts_admin(e->stack, "DELETE", "/admin/calls", NULL, NULL));
}

/* Vendor calls that change data since the last reset (logins excluded). */
RT_FN int rt_write_calls(rt_env *e)
{
    json_t *c = ts_admin(e->stack, "GET", "/admin/calls", NULL, NULL);
    int n = 0;
    const char *vendor;
    json_t *labels;
    json_object_foreach(c, vendor, labels)
    {
        const char *label;
        json_t *count;
        if (!json_is_object(labels))
            continue;
        json_object_foreach(labels, label, count)
        {
            bool write = false;
            if (strcmp(vendor, "marketo") == 0)
                write = strstr(label, "status.json") || strstr(label, "delete.json") ||
                        strncmp(label, "POST /rest/v1/leads.json", 24) == 0;
            else if (strcmp(vendor, "salesforce") == 0)
                write = (strncmp(label, "POST", 4) == 0 || strncmp(label, "PATCH", 5) == 0 ||
                         strncmp(label, "DELETE", 6) == 0) &&
                        !strstr(label, "token");
            if (write) {
                fprintf(stderr, "write call: %s %s x%lld\n", vendor, label,
                        (long long)json_integer_value(count));
                n += (int)json_integer_value(count);
            }
        }
    }
    json_decref(c);
    return n;
}

RT_FN int rt_set_marketing_user(rt_env *e, int on)
{
    return rt_post(e, "/admin/salesforce/set_marketing_user", json_pack("{s:b}", "value", on));
}

RT_FN const char *rt_person_field(const char *person)
{
    return strncmp(person, "003", 3) == 0 ? "ContactId" : "LeadId";
}

RT_FN int rt_sf_set_status(rt_env *e, const char *campaign, const char *person, const char *st)
{
    return rt_post(e, "/admin/salesforce/set_member_status",
                   json_pack("{s:s,s:s,s:s}", "CampaignId", campaign, rt_person_field(person),
                             person, "Status", st));
}

RT_FN int rt_sf_remove(rt_env *e, const char *campaign, const char *person)
{
    return rt_post(e, "/admin/salesforce/remove_member",
                   json_pack("{s:s,s:s}", "CampaignId", campaign, rt_person_field(person), person));
}

RT_FN int rt_sf_add(rt_env *e, const char *campaign, const char *field, const char *person,
                    const char *status)
{
    return rt_post(
        e, "/admin/salesforce/add_member",
        json_pack("{s:s,s:s,s:s}", "CampaignId", campaign, field, person, "Status", status));
}

RT_FN char *rt_sf_create(rt_env *e, const char *type, const char *fields_json)
{
    json_t *f = json_loads(fields_json, 0, NULL);
    json_t *body = json_pack("{s:s,s:o}", "type", type, "fields", f);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    int status = 0;
    json_t *r = ts_admin(e->stack, "POST", "/admin/salesforce/create", text, &status);
    free(text);
    char *id = status == 200 ? strdup(json_string_value(json_object_get(r, "id"))) : NULL;
    json_decref(r);
    return id;
}

RT_FN int rt_sf_update(rt_env *e, const char *id, const char *fields_json)
{
    return rt_post(e, "/admin/salesforce/update",
                   json_pack("{s:s,s:o}", "id", id, "fields", json_loads(fields_json, 0, NULL)));
}

RT_FN int rt_mk_add(rt_env *e, long long program, long long lead, const char *status)
{
    json_t *body =
        json_pack("{s:I,s:I}", "programId", (json_int_t)program, "leadId", (json_int_t)lead);
    if (status) /* else the channel's first status */
        json_object_set_new(body, "statusName", json_string(status));
    return rt_post(e, "/admin/marketo/add_member", body);
}

RT_FN int rt_mk_set_status(rt_env *e, long long program, long long lead, const char *status)
{
    return rt_post(e, "/admin/marketo/change_member_status",
                   json_pack("{s:I,s:I,s:s}", "programId", (json_int_t)program, "leadId",
                             (json_int_t)lead, "statusName", status));
}

RT_FN long long rt_mk_create_lead(rt_env *e, const char *fields_json)
{
    int status = 0;
    json_t *r = ts_admin(e->stack, "POST", "/admin/marketo/create_lead", fields_json, &status);
    long long id = status == 200 ? (long long)json_integer_value(json_object_get(r, "id")) : -1;
    json_decref(r);
    return id;
}

/* ---- reading state ---- */

RT_FN json_t *rt_sf_records(json_t *st, const char *type)
{
    return json_object_get(json_object_get(json_object_get(st, "salesforce"), "records"), type);
}

RT_FN json_t *rt_sf_record(json_t *st, const char *type, const char *id)
{
    size_t i;
    json_t *r;
    json_array_foreach(rt_sf_records(st, type), i, r)
    {
        const char *rid = json_string_value(json_object_get(r, "Id"));
        if (rid && strcmp(rid, id) == 0 && !json_is_true(json_object_get(r, "IsDeleted")))
            return r;
    }
    return NULL;
}

RT_FN const char *rt_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

RT_FN bool rt_email_eq(const char *a, const char *b)
{
    while (*a && isspace((unsigned char)*a))
        a++;
    while (*b && isspace((unsigned char)*b))
        b++;
    if (!*a || !*b)
        return false;
    return strcasecmp(a, b) == 0;
}

RT_FN json_t *rt_sf_lead_by_email(json_t *st, const char *email)
{
    size_t i;
    json_t *r;
    json_array_foreach(rt_sf_records(st, "Lead"), i, r)
    {
        if (!json_is_true(json_object_get(r, "IsDeleted")) &&
            rt_email_eq(rt_str(r, "Email"), email))
            return r;
    }
    return NULL;
}

RT_FN json_t *rt_mk_lead(json_t *st, long long id)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(json_object_get(st, "marketo"), "leads"), i, l)
    {
        if (json_integer_value(json_object_get(l, "id")) == id)
            return l;
    }
    return NULL;
}

RT_FN long long rt_mk_lead_by_email(json_t *st, const char *email)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(json_object_get(st, "marketo"), "leads"), i, l)
    {
        if (rt_email_eq(rt_str(l, "email"), email))
            return (long long)json_integer_value(json_object_get(l, "id"));
    }
    return 0;
}

/* The Salesforce person of a Marketo lead as C5 matches it: linked Contact,
 * linked Lead (its Contact when converted), else a Contact then a Lead with
 * the same email (smallest id). NULL when none. */
RT_FN const char *rt_sf_person_of(json_t *st, long long lead_id)
{
    json_t *l = rt_mk_lead(st, lead_id);
    if (!l)
        return NULL;
    const char *c = rt_str(l, "sfdcContactId");
    if (c[0] && rt_sf_record(st, "Contact", c))
        return json_string_value(json_object_get(rt_sf_record(st, "Contact", c), "Id"));
    const char *ld = rt_str(l, "sfdcLeadId");
    if (ld[0]) {
        json_t *r = rt_sf_record(st, "Lead", ld);
        if (r && json_is_true(json_object_get(r, "IsConverted")) &&
            rt_str(r, "ConvertedContactId")[0])
            return rt_str(r, "ConvertedContactId");
        if (r)
            return rt_str(r, "Id");
    }
    const char *email = rt_str(l, "email");
    const char *types[] = {"Contact", "Lead"};
    for (int t = 0; t < 2; t++) {
        const char *best = NULL;
        size_t i;
        json_t *r;
        json_array_foreach(rt_sf_records(st, types[t]), i, r)
        {
            if (json_is_true(json_object_get(r, "IsDeleted")) ||
                json_is_true(json_object_get(r, "IsConverted")) ||
                !rt_email_eq(rt_str(r, "Email"), email))
                continue;
            if (!best || strcmp(rt_str(r, "Id"), best) < 0)
                best = rt_str(r, "Id");
        }
        if (best)
            return best;
    }
    return NULL;
}

RT_FN const char *rt_mk_status(json_t *st, long long program, long long lead)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(json_object_get(st, "marketo"), "members"), i, m)
    {
        if (json_integer_value(json_object_get(m, "programId")) == program &&
            json_integer_value(json_object_get(m, "leadId")) == lead)
            return rt_str(m, "statusName");
    }
    return "";
}

RT_FN const char *rt_sf_status(json_t *st, const char *campaign, const char *person)
{
    size_t i;
    json_t *m;
    if (!person)
        return "";
    json_array_foreach(rt_sf_records(st, "CampaignMember"), i, m)
    {
        if (json_is_true(json_object_get(m, "IsDeleted")) ||
            strcmp(rt_str(m, "CampaignId"), campaign) != 0)
            continue;
        if (strcmp(rt_str(m, "LeadId"), person) == 0 || strcmp(rt_str(m, "ContactId"), person) == 0)
            return rt_str(m, "Status");
    }
    return "";
}

RT_FN bool rt_sf_has_status(json_t *st, const char *campaign, const char *label)
{
    size_t i;
    json_t *s;
    json_array_foreach(rt_sf_records(st, "CampaignMemberStatus"), i, s)
    {
        if (!json_is_true(json_object_get(s, "IsDeleted")) &&
            strcmp(rt_str(s, "CampaignId"), campaign) == 0 &&
            strcmp(rt_str(s, "Label"), label) == 0)
            return true;
    }
    return false;
}

RT_FN double rt_mk_program_cost(json_t *st, long long program)
{
    size_t i, k;
    json_t *p, *c;
    double sum = 0;
    json_array_foreach(json_object_get(json_object_get(st, "marketo"), "programs"), i, p)
    {
        if (json_integer_value(json_object_get(p, "id")) != program)
            continue;
        json_array_foreach(json_object_get(p, "costs"), k, c)
        {
            sum += json_number_value(json_object_get(c, "cost"));
        }
    }
    return sum;
}

/* A Marketo lead with an email that is in no side of the program's pair. */
RT_FN long long rt_lead_outside_program(json_t *st, long long program, const char *campaign)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(json_object_get(st, "marketo"), "leads"), i, l)
    {
        long long id = (long long)json_integer_value(json_object_get(l, "id"));
        if (!rt_str(l, "email")[0] || rt_mk_status(st, program, id)[0])
            continue;
        const char *p = rt_sf_person_of(st, id);
        if (campaign && p && rt_sf_status(st, campaign, p)[0])
            continue;
        return id;
    }
    return 0;
}

RT_FN const char *rt_campaign_of(json_t *st, long long program)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(json_object_get(st, "marketo"), "programs"), i, p)
    {
        if (json_integer_value(json_object_get(p, "id")) == program)
            return json_string_value(json_object_get(p, "sfdcId"));
    }
    return NULL;
}

RT_FN long long rt_lead_outside(json_t *st, long long program)
{
    return rt_lead_outside_program(st, program, rt_campaign_of(st, program));
}

RT_FN long long rt_lead_outside_campaign(json_t *st, const char *campaign)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(json_object_get(st, "marketo"), "leads"), i, l)
    {
        long long id = (long long)json_integer_value(json_object_get(l, "id"));
        const char *p = rt_sf_person_of(st, id);
        if (rt_str(l, "email")[0] && p && !rt_sf_status(st, campaign, p)[0])
            return id;
    }
    return 0;
}

/* ---- both sides of a pair, person by person ---- */

typedef struct {
    long long lead_id; /* 0: a Salesforce member nobody has in Marketo */
    char sf_id[24];    /* "" when the lead has no Salesforce person */
    char mk_status[64], sf_status[64];
    char status[64]; /* the common status when both agree */
    bool in_mk, in_sf;
} rt_row;

typedef struct {
    rt_row rows[2048];
    size_t n;
    int both, mkto_only, sf_only, differ;
} rt_pairing;

RT_FN void rt_pairing_compute(json_t *st, long long program, const char *campaign, rt_pairing *p)
{
    memset(p, 0, sizeof *p);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(json_object_get(st, "marketo"), "members"), i, m)
    {
        if (json_integer_value(json_object_get(m, "programId")) != program || p->n >= 2048)
            continue;
        rt_row *r = &p->rows[p->n++];
        r->lead_id = (long long)json_integer_value(json_object_get(m, "leadId"));
        r->in_mk = true;
        snprintf(r->mk_status, sizeof r->mk_status, "%s", rt_str(m, "statusName"));
        const char *sp = rt_sf_person_of(st, r->lead_id);
        snprintf(r->sf_id, sizeof r->sf_id, "%s", sp ? sp : "");
        const char *ss = rt_sf_status(st, campaign, sp);
        r->in_sf = ss[0] != 0;
        snprintf(r->sf_status, sizeof r->sf_status, "%s", ss);
    }
    json_array_foreach(rt_sf_records(st, "CampaignMember"), i, m)
    {
        if (json_is_true(json_object_get(m, "IsDeleted")) ||
            strcmp(rt_str(m, "CampaignId"), campaign) != 0 || p->n >= 2048)
            continue;
        const char *person =
            rt_str(m, "ContactId")[0] ? rt_str(m, "ContactId") : rt_str(m, "LeadId");
        bool seen = false;
        for (size_t k = 0; k < p->n && !seen; k++)
            seen = strcmp(p->rows[k].sf_id, person) == 0;
        if (seen)
            continue;
        rt_row *r = &p->rows[p->n++];
        snprintf(r->sf_id, sizeof r->sf_id, "%s", person);
        r->in_sf = true;
        snprintf(r->sf_status, sizeof r->sf_status, "%s", rt_str(m, "Status"));
    }
    for (size_t k = 0; k < p->n; k++) {
        rt_row *r = &p->rows[k];
        if (r->in_mk && r->in_sf) {
            p->both++;
            if (strcmp(r->mk_status, r->sf_status) != 0)
                p->differ++;
            else
                memcpy(r->status, r->mk_status, sizeof r->status);
        } else if (r->in_mk) {
            p->mkto_only++;
        } else {
            p->sf_only++;
        }
    }
}

/* A row on both sides agreeing on `status` (any when NULL), not `not_this`. */
RT_FN const rt_row *rt_find_row(const rt_pairing *p, const char *status, const rt_row *not_this)
{
    for (size_t k = 0; k < p->n; k++) {
        const rt_row *r = &p->rows[k];
        if (r == not_this || !r->in_mk || !r->in_sf || !r->status[0] || !r->lead_id)
            continue;
        if (!status || strcmp(r->status, status) == 0)
            return r;
    }
    return NULL;
}

RT_FN int rt_step(json_t *st, long long program, const char *status)
{
    size_t i, k;
    json_t *p, *c, *s;
    const char *channel = NULL;
    json_array_foreach(json_object_get(json_object_get(st, "marketo"), "programs"), i, p)
    {
        if (json_integer_value(json_object_get(p, "id")) == program)
            channel = rt_str(p, "channel");
    }
    json_array_foreach(json_object_get(json_object_get(st, "marketo"), "channels"), i, c)
    {
        if (!channel || strcmp(rt_str(c, "name"), channel) != 0)
            continue;
        json_array_foreach(json_object_get(c, "progressionStatuses"), k, s)
        {
            if (strcmp(rt_str(s, "name"), status) == 0)
                return (int)json_integer_value(json_object_get(s, "step"));
        }
    }
    return -1;
}

/* Where both sides held a person with different statuses, the higher step
 * is now on both. */
RT_FN void rt_assert_higher_kept(json_t *before, json_t *after, long long program,
                                 const char *campaign)
{
    static rt_pairing pb;
    rt_pairing_compute(before, program, campaign, &pb);
    for (size_t k = 0; k < pb.n; k++) {
        const rt_row *r = &pb.rows[k];
        if (!r->in_mk || !r->in_sf || strcmp(r->mk_status, r->sf_status) == 0)
            continue;
        int a = rt_step(before, program, r->mk_status), b = rt_step(before, program, r->sf_status);
        const char *want = a >= b ? r->mk_status : r->sf_status;
        if (strcmp(rt_mk_status(after, program, r->lead_id), want) != 0 ||
            strcmp(rt_sf_status(after, campaign, r->sf_id), want) != 0) {
            fprintf(stderr, "lead %lld / %s: want %s, have %s / %s\n", r->lead_id, r->sf_id, want,
                    rt_mk_status(after, program, r->lead_id),
                    rt_sf_status(after, campaign, r->sf_id));
            abort();
        }
    }
}

/* No person twice in the campaign, no email on two Marketo leads. */
RT_FN void rt_assert_no_duplicates(json_t *st, const char *campaign)
{
    size_t i, j;
    json_t *a, *b;
    json_t *cm = rt_sf_records(st, "CampaignMember");
    json_array_foreach(cm, i, a)
    {
        if (json_is_true(json_object_get(a, "IsDeleted")) ||
            strcmp(rt_str(a, "CampaignId"), campaign) != 0)
            continue;
        const char *pa = rt_str(a, "ContactId")[0] ? rt_str(a, "ContactId") : rt_str(a, "LeadId");
        for (j = i + 1; j < json_array_size(cm); j++) {
            b = json_array_get(cm, j);
            if (json_is_true(json_object_get(b, "IsDeleted")) ||
                strcmp(rt_str(b, "CampaignId"), campaign) != 0)
                continue;
            const char *pb =
                rt_str(b, "ContactId")[0] ? rt_str(b, "ContactId") : rt_str(b, "LeadId");
            if (strcmp(pa, pb) == 0) {
                fprintf(stderr, "%s is twice in campaign %s\n", pa, campaign);
                abort();
            }
        }
    }
    json_t *leads = json_object_get(json_object_get(st, "marketo"), "leads");
    json_array_foreach(leads, i, a)
    {
        for (j = i + 1; j < json_array_size(leads); j++) {
            b = json_array_get(leads, j);
            if (rt_str(a, "email")[0] && rt_email_eq(rt_str(a, "email"), rt_str(b, "email"))) {
                fprintf(stderr, "email %s on two Marketo leads\n", rt_str(a, "email"));
                abort();
            }
        }
    }
}

#endif
