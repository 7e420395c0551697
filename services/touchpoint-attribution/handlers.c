/*
 * campsync.v1.TouchpointAttribution methods: validate the request, call the
 * service layer (refresh.c, store.c, attrib.c), map the result. Every method
 * waits on Redis or the connector, so all run on their own threads
 * (RPC_BLOCKING / RPC_STREAM).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/status.h>
#include <jansson.h>

#include "asvc.h"
#include "log/log.h"

#define SF_SVC (&campsync__v1__salesforce_connector__descriptor)
#define PAGE 500
#define UPSERT_CHUNK 1000
#define MAX_INGEST_ID 255

static asvc *svc_of(rpc_call *call)
{
    return rpc_call_service_data(call);
}

static int fail(rpc_call *call, const asvc_err *e)
{
    return rpc_call_fail(call, e->code ? e->code : GRPC_STATUS_INTERNAL, "%s", e->msg);
}

/* ---- channel mapping (T6) ---- */

static Campsync__V1__ChannelMapping *mapping_msg(rpc_call *call, const chmap *m)
{
    Campsync__V1__ChannelMapping *out = rpc_call_alloc(call, sizeof *out);
    campsync__v1__channel_mapping__init(out);
    size_t n = chmap_count(m);
    out->rules = rpc_call_alloc(call, (n + 1) * sizeof *out->rules);
    for (size_t i = 0; i < n; i++) {
        const chmap_rule *r = chmap_rule_at(m, i);
        Campsync__V1__ChannelRule *pr = rpc_call_alloc(call, sizeof *pr);
        campsync__v1__channel_rule__init(pr);
        pr->campaign_type = rpc_call_strdup(call, r->campaign_type);
        pr->channel = rpc_call_strdup(call, r->channel);
        pr->subchannel = rpc_call_strdup(call, r->subchannel);
        out->rules[out->n_rules++] = pr;
    }
    return out;
}

static int set_channel_mapping(rpc_call *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response)
{
    const Campsync__V1__ChannelMapping *rq = (const void *)request;
    chmap_rule *rules = rpc_call_alloc(call, (rq->n_rules + 1) * sizeof *rules);
    for (size_t i = 0; i < rq->n_rules; i++)
        rules[i] = (chmap_rule){.campaign_type = rq->rules[i]->campaign_type,
                                .channel = rq->rules[i]->channel,
                                .subchannel = rq->rules[i]->subchannel};
    chmap *m = NULL;
    attr_error ae = {{0}};
    if (chmap_build(rules, rq->n_rules, &m, &ae) != 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "channel mapping: %s", ae.msg);
    asvc_err e = {0};
    if (asvc_store_save_chmap(m, &e) != 0) {
        chmap_free(m);
        return fail(call, &e);
    }
    Campsync__V1__ChannelMapping *out = mapping_msg(call, m);
    chmap_free(m);
    asvc_refresh_summary sum;
    if (asvc_rederive_all(svc_of(call), call, &sum, &e) != 0)
        return rpc_call_fail(call, e.code,
                             "channel mapping stored, but re-deriving touchpoints stopped: %s "
                             "(the next refresh completes it)",
                             e.msg);
    *response = &out->base;
    return GRPC_STATUS_OK;
}

static int get_channel_mapping(rpc_call *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response)
{
    (void)request;
    chmap *m = NULL;
    asvc_err e = {0};
    if (asvc_store_load_chmap(&m, &e) != 0)
        return fail(call, &e);
    *response = &mapping_msg(call, m)->base;
    chmap_free(m);
    return GRPC_STATUS_OK;
}

/* ---- refresh (T1-T4, T7) ---- */

static int refresh_touchpoints(rpc_call *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response)
{
    const Campsync__V1__RefreshRequest *rq = (const void *)request;
    for (size_t i = 0; i < rq->n_campaign_ids; i++)
        if (!rq->campaign_ids[i][0])
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "campaign_ids[%zu] is empty",
                                 i);
    asvc_refresh_summary sum;
    asvc_err e = {0};
    if (asvc_refresh(svc_of(call), call, rq->campaign_ids, rq->n_campaign_ids, rq->full, true, &sum,
                     &e) != 0)
        return fail(call, &e);
    Campsync__V1__RefreshSummary *out = rpc_call_alloc(call, sizeof *out);
    campsync__v1__refresh_summary__init(out);
    out->campaigns = sum.campaigns;
    out->created = sum.created;
    out->updated = sum.updated;
    out->removed = sum.removed;
    out->skipped_no_email = sum.skipped_no_email;
    out->skipped_out_of_range = sum.skipped_out_of_range;
    *response = &out->base;
    return GRPC_STATUS_OK;
}

/* ---- listing ---- */

/* Strings point at t (valid while the pool lives). */
static void tp_msg(const asvc_tp *t, Campsync__V1__Touchpoint *m)
{
    campsync__v1__touchpoint__init(m);
    m->id = (char *)t->id;
    m->kind = (Campsync__V1__TouchpointKind)t->kind;
    m->person_id = (char *)t->person_id;
    m->email = (char *)t->email;
    m->account_id = (char *)t->account_id;
    m->at_ms = t->at_ms;
    m->channel = (char *)t->channel;
    m->subchannel = (char *)t->subchannel;
    m->medium = (char *)t->medium;
    m->campaign_id = (char *)t->campaign_id;
    m->campaign_name = (char *)t->campaign_name;
    m->source = (char *)t->source;
    m->type = (char *)t->type;
    m->is_form_fill = t->kind == CAMPSYNC__V1__TOUCHPOINT_KIND__FORM_FILL;
    m->member_id = (char *)t->member_id;
}

static bool tp_matches(const Campsync__V1__TouchpointFilter *f, const asvc_tp *t)
{
    if (f->campaign_id[0] && strcmp(f->campaign_id, t->campaign_id) != 0)
        return false;
    if (f->person_id[0] && strcmp(f->person_id, t->person_id) != 0)
        return false;
    if (f->account_id[0] && strcmp(f->account_id, t->account_id) != 0)
        return false;
    if (f->from_ms && t->at_ms < f->from_ms)
        return false;
    if (f->to_ms && t->at_ms >= f->to_ms)
        return false;
    return true;
}

static int cmp_tp(const void *a, const void *b)
{
    const asvc_tp *x = a, *y = b;
    if (x->at_ms != y->at_ms)
        return x->at_ms < y->at_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int list_touchpoints(rpc_call *call, const ProtobufCMessage *request)
{
    const Campsync__V1__TouchpointFilter *f = (const void *)request;
    if (f->from_ms < 0 || f->to_ms < 0 || (f->to_ms && f->from_ms > f->to_ms))
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "from_ms and to_ms must be >= 0 with from_ms <= to_ms");
    intern *pool = intern_new();
    if (!pool)
        return rpc_call_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    asvc_tps all = {0};
    asvc_err e = {0};
    int rc = f->campaign_id[0] ? asvc_store_load_campaign_tps(f->campaign_id, pool, &all, &e)
                               : asvc_store_load_all(pool, &all, &e);
    if (rc != 0) {
        asvc_tps_free(&all);
        intern_free(pool);
        return fail(call, &e);
    }
    if (all.n > 1)
        qsort(all.v, all.n, sizeof *all.v, cmp_tp);
    Campsync__V1__Touchpoint *msgs = calloc(PAGE, sizeof *msgs);
    Campsync__V1__Touchpoint **ptrs = calloc(PAGE, sizeof *ptrs);
    int status = GRPC_STATUS_OK;
    if (!msgs || !ptrs)
        status = rpc_call_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    Campsync__V1__TouchpointPage page = CAMPSYNC__V1__TOUCHPOINT_PAGE__INIT;
    page.touchpoints = ptrs;
    for (size_t i = 0; i <= all.n && status == GRPC_STATUS_OK; i++) {
        if (i < all.n && tp_matches(f, &all.v[i])) {
            tp_msg(&all.v[i], &msgs[page.n_touchpoints]);
            ptrs[page.n_touchpoints] = &msgs[page.n_touchpoints];
            page.n_touchpoints++;
        }
        if (page.n_touchpoints == PAGE || (i == all.n && page.n_touchpoints)) {
            if (rpc_call_send(call, &page.base) != 0)
                status = GRPC_STATUS_CANCELLED;
            page.n_touchpoints = 0;
        }
    }
    free(msgs);
    free(ptrs);
    asvc_tps_free(&all);
    intern_free(pool);
    return status;
}

/* ---- T5 ---- */

static int bulk_update_touchpoint_date(rpc_call *call, const ProtobufCMessage *request,
                                       ProtobufCMessage **response)
{
    const Campsync__V1__BulkDateRequest *rq = (const void *)request;
    asvc *s = svc_of(call);
    if (!rq->campaign_id[0])
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "campaign_id is required");
    int64_t day = 0;
    attr_error ae = {{0}};
    if (tp_date_parse(rq->date, &day, &ae) != 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "date: %s", ae.msg);
    if (rq->created_from_ms < 0 || rq->created_to_ms < 0 ||
        (rq->created_to_ms && rq->created_from_ms >= rq->created_to_ms))
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "created_from_ms must be before created_to_ms (both >= 0, 0 = open)");
    for (size_t i = 0; i < rq->n_statuses; i++)
        if (!rq->statuses[i][0])
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "statuses[%zu] is empty", i);
    for (size_t i = 0; i < rq->n_member_ids; i++)
        if (!rq->member_ids[i][0])
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "member_ids[%zu] is empty", i);

    Campsync__V1__MemberFilter flt = CAMPSYNC__V1__MEMBER_FILTER__INIT;
    flt.statuses = rq->statuses;
    flt.n_statuses = rq->n_statuses;
    flt.has_responded = rq->has_responded;
    flt.created_from_ms = rq->created_from_ms;
    flt.created_to_ms = rq->created_to_ms;
    flt.member_ids = rq->member_ids;
    flt.n_member_ids = rq->n_member_ids;
    Campsync__V1__SetMemberFieldRequest sr = CAMPSYNC__V1__SET_MEMBER_FIELD_REQUEST__INIT;
    sr.campaign_id = rq->campaign_id;
    sr.field = s->btd_field;
    sr.value = rq->date;
    sr.filter = &flt;
    rpc_call_opts o = {.parent = call, .timeout_ms = s->connector_timeout_ms};
    rpc_error re = {0};
    ProtobufCMessage *msg = NULL;
    asvc_err e = {0};
    if (rpc_client_unary(s->sf, SF_SVC, "SetMemberField", &sr.base, &msg, &o, &re) != 0) {
        asvc_connector_fail(s, "SetMemberField", &re, &e);
        return fail(call, &e);
    }
    rpc_call_adopt_message(call, msg);
    const Campsync__V1__SetMemberFieldResponse *sf = (const void *)msg;
    Campsync__V1__BulkDateResponse *out = rpc_call_alloc(call, sizeof *out);
    campsync__v1__bulk_date_response__init(out);
    out->matched = sf->matched;
    out->updated = sf->updated;
    /* Re-date what the write changed: the members changed since the
     * campaign's watermark, recomputed by id (never a second touchpoint). */
    char *ids[] = {rq->campaign_id};
    asvc_refresh_summary sum;
    if (asvc_refresh(s, call, ids, 1, false, true, &sum, &e) != 0)
        return rpc_call_fail(call, e.code,
                             "%d members written, but re-dating their touchpoints stopped: %s "
                             "(the next refresh completes it)",
                             sf->updated, e.msg);
    out->touchpoints_redated = sum.updated;
    *response = &out->base;
    return GRPC_STATUS_OK;
}

/* ---- T8 ---- */

static const char *ingest_problem(const Campsync__V1__Touchpoint *t)
{
    if (!t->id[0])
        return "id is required";
    if (strlen(t->id) > MAX_INGEST_ID)
        return "id is longer than 255 characters";
    if (strncmp(t->id, "crm-", 4) == 0)
        return "ids starting with \"crm-\" are reserved for CRM campaign touchpoints";
    for (const char *p = t->id; *p; p++)
        if ((unsigned char)*p < 0x20)
            return "id contains a control character";
    if (t->kind != CAMPSYNC__V1__TOUCHPOINT_KIND__WEB_VISIT &&
        t->kind != CAMPSYNC__V1__TOUCHPOINT_KIND__FORM_FILL &&
        t->kind != CAMPSYNC__V1__TOUCHPOINT_KIND__OTHER_ONLINE)
        return "kind must be WEB_VISIT, FORM_FILL or OTHER_ONLINE (CRM touchpoints come from "
               "campaigns)";
    if (!t->person_id[0] && !t->email[0])
        return "person_id or email is required";
    if (t->at_ms <= 0)
        return "at_ms (the touch time, ms since the epoch) is required";
    return NULL;
}

static const char *kind_channel(int kind)
{
    switch (kind) {
    case CAMPSYNC__V1__TOUCHPOINT_KIND__WEB_VISIT:
        return "Web Visit";
    case CAMPSYNC__V1__TOUCHPOINT_KIND__FORM_FILL:
        return "Form Fill";
    default:
        return "Other Online";
    }
}

static int ingest_touchpoints(rpc_call *call, const ProtobufCMessage *request,
                              ProtobufCMessage **response)
{
    const Campsync__V1__IngestRequest *rq = (const void *)request;
    if (rq->n_touchpoints == 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "no touchpoints given");
    /* All or nothing on validation: a bad record stores nothing, so the
     * caller can fix and resend the batch as it is. */
    for (size_t i = 0; i < rq->n_touchpoints; i++) {
        const char *why = ingest_problem(rq->touchpoints[i]);
        if (why)
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "touchpoints[%zu] (%s): %s", i,
                                 rq->touchpoints[i]->id, why);
    }
    asvc_tp *tps = rpc_call_alloc(call, rq->n_touchpoints * sizeof *tps);
    int *added = rpc_call_alloc(call, rq->n_touchpoints * sizeof *added);
    for (size_t i = 0; i < rq->n_touchpoints; i++) {
        const Campsync__V1__Touchpoint *p = rq->touchpoints[i];
        bool form = p->kind == CAMPSYNC__V1__TOUCHPOINT_KIND__FORM_FILL || p->is_form_fill;
        tps[i] = (asvc_tp){.id = p->id,
                           .kind = form ? CAMPSYNC__V1__TOUCHPOINT_KIND__FORM_FILL : (int)p->kind,
                           .person_id = p->person_id,
                           .email = p->email,
                           .account_id = p->account_id,
                           .at_ms = p->at_ms,
                           .channel = p->channel[0] ? p->channel : kind_channel((int)p->kind),
                           .subchannel = p->subchannel,
                           .medium = p->medium,
                           .campaign_id = p->campaign_id,
                           .campaign_name = p->campaign_name,
                           .source = p->source,
                           .type = p->type[0] ? p->type : "Online",
                           .form = form,
                           .member_id = ""};
    }
    asvc_err e = {0};
    if (asvc_store_ingest(tps, rq->n_touchpoints, added, &e) != 0)
        return rpc_call_fail(call, e.code, "%s (resending the batch is safe)", e.msg);
    Campsync__V1__IngestResponse *out = rpc_call_alloc(call, sizeof *out);
    campsync__v1__ingest_response__init(out);
    Campsync__V1__BatchResult *br = rpc_call_alloc(call, sizeof *br);
    campsync__v1__batch_result__init(br);
    br->results = rpc_call_alloc(call, rq->n_touchpoints * sizeof *br->results);
    out->results = br;
    for (size_t i = 0; i < rq->n_touchpoints; i++) {
        Campsync__V1__RecordResult *r = rpc_call_alloc(call, sizeof *r);
        campsync__v1__record_result__init(r);
        r->index = (int32_t)i;
        r->key = rq->touchpoints[i]->id;
        r->id = rq->touchpoints[i]->id;
        if (added[i]) {
            r->outcome = CAMPSYNC__V1__OUTCOME__OUTCOME_CREATED;
            out->accepted++;
            br->created++;
        } else {
            r->outcome = CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED;
            r->code = "DUPLICATE";
            r->reason = "a touchpoint with this id is already stored";
            out->duplicates++;
            br->skipped++;
        }
        br->results[br->n_results++] = r;
    }
    *response = &out->base;
    return GRPC_STATUS_OK;
}

/* ---- attribution (A1-A4) ---- */

static int attribute(rpc_call *call, const ProtobufCMessage *request)
{
    const Campsync__V1__AttributeRequest *rq = (const void *)request;
    for (size_t i = 0; i < rq->n_opportunity_ids; i++)
        if (!rq->opportunity_ids[i][0])
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                                 "opportunity_ids[%zu] is empty", i);
    asvc_model_req m = {
        .model = (int)rq->model, .custom = rq->custom, .half_life_days = rq->half_life_days};
    asvc_attribution *a = NULL;
    asvc_err e = {0};
    if (asvc_attribute(svc_of(call), call, rq->opportunity_ids, rq->n_opportunity_ids, &m, &a,
                       &e) != 0)
        return fail(call, &e);
    int status = GRPC_STATUS_OK;
    for (size_t i = 0; i < asvc_attribution_opps(a) && status == GRPC_STATUS_OK; i++) {
        int64_t amount = 0;
        size_t n = 0;
        const char *id = asvc_attribution_opp(a, i, &amount, &n);
        Campsync__V1__OpportunityAttribution oa = CAMPSYNC__V1__OPPORTUNITY_ATTRIBUTION__INIT;
        oa.opportunity_id = (char *)id;
        oa.amount_minor = amount;
        oa.model = rq->model;
        Campsync__V1__AttributedTouch *at = calloc(n + 1, sizeof *at);
        Campsync__V1__Touchpoint *tps = calloc(n + 1, sizeof *tps);
        Campsync__V1__AttributedTouch **ptrs = calloc(n + 1, sizeof *ptrs);
        if (!at || !tps || !ptrs) {
            status = rpc_call_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        } else {
            for (size_t k = 0; k < n; k++) {
                asvc_att_touch t;
                asvc_attribution_touch(a, i, k, &t);
                campsync__v1__attributed_touch__init(&at[k]);
                tp_msg(t.tp, &tps[k]);
                at[k].touchpoint = &tps[k];
                at[k].positions = t.positions;
                at[k].weight_ppm = t.ppm;
                at[k].revenue_minor = t.revenue;
                ptrs[k] = &at[k];
            }
            oa.touches = ptrs;
            oa.n_touches = n;
            if (rpc_call_send(call, &oa.base) != 0)
                status = GRPC_STATUS_CANCELLED;
        }
        free(at);
        free(tps);
        free(ptrs);
    }
    asvc_attribution_free(a);
    return status;
}

static int report(rpc_call *call, const ProtobufCMessage *request, ProtobufCMessage **response)
{
    const Campsync__V1__ReportRequest *rq = (const void *)request;
    if (rq->from_ms < 0 || rq->to_ms < 0 || (rq->to_ms && rq->from_ms >= rq->to_ms))
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "from_ms must be before to_ms (both >= 0, 0 = open)");
    if (rq->group_by[0] && strcmp(rq->group_by, "channel") != 0 &&
        strcmp(rq->group_by, "subchannel") != 0 && strcmp(rq->group_by, "campaign") != 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "group_by must be \"channel\", \"subchannel\" or \"campaign\", not "
                             "\"%s\"",
                             rq->group_by);
    asvc_model_req m = {
        .model = (int)rq->model, .custom = rq->custom, .half_life_days = rq->half_life_days};
    asvc_attribution *a = NULL;
    asvc_err e = {0};
    if (asvc_attribute(svc_of(call), call, NULL, 0, &m, &a, &e) != 0)
        return fail(call, &e);
    Campsync__V1__ReportResponse *out = rpc_call_alloc(call, sizeof *out);
    campsync__v1__report_response__init(out);
    int rc = asvc_report(a, rq->group_by, rq->from_ms, rq->to_ms, out, call, &e);
    asvc_attribution_free(a);
    if (rc != 0)
        return fail(call, &e);
    *response = &out->base;
    return GRPC_STATUS_OK;
}

/* ---- export ---- */

typedef struct upsert_batch {
    Campsync__V1__UpsertRecordsRequest rq;
    Campsync__V1__UpsertRecord *recs;
    Campsync__V1__UpsertRecord **ptrs;
    Campsync__V1__UpsertRecord__FieldsJsonEntry *entries;
    Campsync__V1__UpsertRecord__FieldsJsonEntry **eptrs;
    char **values; /* owned JSON texts */
    size_t n_values, cap_entries, per_record;
} upsert_batch;

static int batch_init(upsert_batch *b, const char *sobject, const char *ext, size_t per_record)
{
    memset(b, 0, sizeof *b);
    campsync__v1__upsert_records_request__init(&b->rq);
    b->rq.sobject = (char *)sobject;
    b->rq.external_id_field = (char *)ext;
    b->per_record = per_record;
    b->cap_entries = UPSERT_CHUNK * per_record;
    b->recs = calloc(UPSERT_CHUNK, sizeof *b->recs);
    b->ptrs = calloc(UPSERT_CHUNK, sizeof *b->ptrs);
    b->entries = calloc(b->cap_entries, sizeof *b->entries);
    b->eptrs = calloc(b->cap_entries, sizeof *b->eptrs);
    b->values = calloc(b->cap_entries, sizeof *b->values);
    b->rq.records = b->ptrs;
    return b->recs && b->ptrs && b->entries && b->eptrs && b->values ? 0 : -1;
}

static void batch_clear(upsert_batch *b)
{
    for (size_t i = 0; i < b->n_values; i++)
        free(b->values[i]);
    b->n_values = 0;
    b->rq.n_records = 0;
}

static void batch_free(upsert_batch *b)
{
    batch_clear(b);
    free(b->recs);
    free(b->ptrs);
    free(b->entries);
    free(b->eptrs);
    free(b->values);
}

static Campsync__V1__UpsertRecord *batch_record(upsert_batch *b)
{
    Campsync__V1__UpsertRecord *r = &b->recs[b->rq.n_records];
    campsync__v1__upsert_record__init(r);
    r->fields_json = &b->eptrs[b->n_values];
    b->ptrs[b->rq.n_records++] = r;
    return r;
}

/* Adds name = json (owned, may be NULL on out of memory). */
static int batch_field(upsert_batch *b, Campsync__V1__UpsertRecord *r, const char *name, char *json)
{
    if (!json || b->n_values == b->cap_entries) {
        free(json);
        return -1;
    }
    Campsync__V1__UpsertRecord__FieldsJsonEntry *en = &b->entries[b->n_values];
    campsync__v1__upsert_record__fields_json_entry__init(en);
    en->key = (char *)name;
    en->value = json;
    b->values[b->n_values] = json;
    b->eptrs[b->n_values++] = en;
    r->n_fields_json++;
    return 0;
}

static char *json_str(const char *s)
{
    json_t *j = json_string(s ? s : "");
    char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return out;
}

static char *json_str_or_null(const char *s)
{
    return s && s[0] ? json_str(s) : strdup("null");
}

static char *json_num(int decimals, double v)
{
    char t[64];
    snprintf(t, sizeof t, "%.*f", decimals, v);
    return strdup(t);
}

static char *json_date(int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char t[32];
    gmtime_r(&secs, &tm);
    strftime(t, sizeof t, "\"%Y-%m-%d\"", &tm);
    return strdup(t);
}

static int batch_flush(asvc *s, rpc_call *call, upsert_batch *b, int *upserted, int *failed,
                       asvc_err *e)
{
    if (b->rq.n_records == 0)
        return 0;
    rpc_call_opts o = {.parent = call, .timeout_ms = s->connector_timeout_ms};
    rpc_error re = {0};
    ProtobufCMessage *msg = NULL;
    int rc = rpc_client_unary(s->sf, SF_SVC, "UpsertRecords", &b->rq.base, &msg, &o, &re);
    batch_clear(b);
    if (rc != 0)
        return asvc_connector_fail(s, "UpsertRecords", &re, e);
    const Campsync__V1__BatchResult *br = (const void *)msg;
    *upserted += br->created + br->updated;
    *failed += br->failed;
    for (size_t i = 0; i < br->n_results; i++)
        if (br->results[i]->outcome == CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED)
            log_kv(LOG_WARN, "export record refused by salesforce", "sobject", b->rq.sobject, "key",
                   br->results[i]->key, "reason", br->results[i]->reason, NULL);
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}

static bool is_contact(const char *id)
{
    return strncmp(id, "003", 3) == 0;
}

static int add_tp_record(asvc *s, upsert_batch *b, const asvc_tp *t)
{
    const char *const *N = s->export_names;
    Campsync__V1__UpsertRecord *r = batch_record(b);
    bool contact = is_contact(t->person_id);
    return batch_field(b, r, N[AX_TP_ID], json_str(t->id)) ||
           batch_field(b, r, N[AX_TP_CAMPAIGN], json_str_or_null(t->campaign_id)) ||
           batch_field(b, r, N[AX_TP_MEMBER], json_str_or_null(t->member_id)) ||
           batch_field(b, r, N[AX_TP_LEAD], json_str_or_null(contact ? "" : t->person_id)) ||
           batch_field(b, r, N[AX_TP_CONTACT], json_str_or_null(contact ? t->person_id : "")) ||
           batch_field(b, r, N[AX_TP_EMAIL], json_str_or_null(t->email)) ||
           batch_field(b, r, N[AX_TP_ACCOUNT], json_str_or_null(t->account_id)) ||
           batch_field(b, r, N[AX_TP_DATE], json_date(t->at_ms)) ||
           batch_field(b, r, N[AX_TP_CHANNEL], json_str_or_null(t->channel)) ||
           batch_field(b, r, N[AX_TP_SUBCHANNEL], json_str_or_null(t->subchannel)) ||
           batch_field(b, r, N[AX_TP_MEDIUM], json_str_or_null(t->medium)) ||
           batch_field(b, r, N[AX_TP_AD_ID], json_str_or_null(t->campaign_id)) ||
           batch_field(b, r, N[AX_TP_AD_NAME], json_str_or_null(t->campaign_name)) ||
           batch_field(b, r, N[AX_TP_SOURCE], json_str_or_null(t->source)) ||
           batch_field(b, r, N[AX_TP_TYPE], json_str_or_null(t->type));
}

static const char *model_code(int model)
{
    static const char *const codes[] = {"",           "FIRST_TOUCH", "LEAD_CREATION", "U_SHAPED",
                                        "W_SHAPED",   "FULL_PATH",   "CUSTOM",        "LINEAR",
                                        "TIME_DECAY", "DATA_DRIVEN"};
    return model >= 1 && model <= 9 ? codes[model] : "";
}

static void positions_text(uint32_t p, char *out, size_t cap)
{
    static const char *const names[] = {"FT", "LC", "OC", "CW"};
    out[0] = 0;
    for (int i = 0; i < 4; i++) {
        if (p & (1u << i)) {
            size_t l = strlen(out);
            snprintf(out + l, cap - l, "%s%s", l ? "," : "", names[i]);
        }
    }
}

static int export_to_salesforce(rpc_call *call, const ProtobufCMessage *request,
                                ProtobufCMessage **response)
{
    const Campsync__V1__ExportRequest *rq = (const void *)request;
    asvc *s = svc_of(call);
    if (!rq->touchpoints && !rq->attribution)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "nothing to export: set touchpoints and/or attribution");
    if (rq->attribution && rq->model == CAMPSYNC__V1__MODEL__MODEL_UNSPECIFIED)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "exporting attribution needs a model");
    if (rq->attribution && rq->model == CAMPSYNC__V1__MODEL__CUSTOM)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "CUSTOM weights are per request: export another model");
    Campsync__V1__ExportSummary *out = rpc_call_alloc(call, sizeof *out);
    campsync__v1__export_summary__init(out);
    asvc_err e = {0};
    upsert_batch b;
    int rc = 0;
    if (rq->touchpoints) {
        intern *pool = intern_new();
        asvc_tps all = {0};
        rc = pool ? asvc_store_load_all(pool, &all, &e)
                  : asvc_fail(&e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        if (rc == 0 && batch_init(&b, s->tp_object, s->export_names[AX_TP_ID], 15) != 0) {
            batch_free(&b);
            rc = asvc_fail(&e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        } else if (rc == 0) {
            for (size_t i = 0; i < all.n && rc == 0; i++) {
                if (add_tp_record(s, &b, &all.v[i]) != 0)
                    rc = asvc_fail(&e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
                else if (b.rq.n_records == UPSERT_CHUNK)
                    rc = batch_flush(s, call, &b, &out->touchpoints_upserted, &out->failed, &e);
            }
            if (rc == 0)
                rc = batch_flush(s, call, &b, &out->touchpoints_upserted, &out->failed, &e);
            batch_free(&b);
        }
        asvc_tps_free(&all);
        intern_free(pool);
    }
    if (rc == 0 && rq->attribution) {
        asvc_model_req m = {.model = (int)rq->model};
        asvc_attribution *a = NULL;
        rc = asvc_attribute(s, call, NULL, 0, &m, &a, &e);
        if (rc == 0 && batch_init(&b, s->at_object, s->export_names[AX_AT_ID], 9) != 0) {
            batch_free(&b);
            rc = asvc_fail(&e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        } else if (rc == 0) {
            const char *const *N = s->export_names;
            for (size_t i = 0; i < asvc_attribution_opps(a) && rc == 0; i++) {
                int64_t amount = 0;
                size_t n = 0;
                const char *opp = asvc_attribution_opp(a, i, &amount, &n);
                for (size_t k = 0; k < n && rc == 0; k++) {
                    asvc_att_touch t;
                    asvc_attribution_touch(a, i, k, &t);
                    char id[512], pos[16];
                    snprintf(id, sizeof id, "%s:%s:%s", opp, model_code((int)rq->model), t.tp->id);
                    positions_text(t.positions, pos, sizeof pos);
                    Campsync__V1__UpsertRecord *r = batch_record(&b);
                    if (batch_field(&b, r, N[AX_AT_ID], json_str(id)) ||
                        batch_field(&b, r, N[AX_AT_OPPORTUNITY], json_str(opp)) ||
                        batch_field(&b, r, N[AX_AT_TOUCHPOINT], json_str(t.tp->id)) ||
                        batch_field(&b, r, N[AX_AT_MODEL], json_str(model_code((int)rq->model))) ||
                        batch_field(&b, r, N[AX_AT_POSITION], json_str_or_null(pos)) ||
                        batch_field(&b, r, N[AX_AT_WEIGHT], json_num(4, t.ppm / 10000.0)) ||
                        batch_field(&b, r, N[AX_AT_REVENUE], json_num(2, t.revenue / 100.0)) ||
                        batch_field(&b, r, N[AX_AT_DATE], json_date(t.tp->at_ms)) ||
                        batch_field(
                            &b, r, N[AX_AT_CONTACT],
                            json_str_or_null(is_contact(t.tp->person_id) ? t.tp->person_id : "")))
                        rc = asvc_fail(&e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
                    else if (b.rq.n_records == UPSERT_CHUNK)
                        rc = batch_flush(s, call, &b, &out->attribution_upserted, &out->failed, &e);
                }
            }
            if (rc == 0)
                rc = batch_flush(s, call, &b, &out->attribution_upserted, &out->failed, &e);
            batch_free(&b);
        }
        asvc_attribution_free(a);
    }
    if (rc != 0)
        return fail(call, &e);
    *response = &out->base;
    return GRPC_STATUS_OK;
}

const rpc_method asvc_methods[] = {
    RPC_BLOCKING("SetChannelMapping", set_channel_mapping),
    RPC_BLOCKING("GetChannelMapping", get_channel_mapping),
    RPC_BLOCKING("RefreshTouchpoints", refresh_touchpoints),
    RPC_STREAM("ListTouchpoints", list_touchpoints),
    RPC_BLOCKING("BulkUpdateTouchpointDate", bulk_update_touchpoint_date),
    RPC_BLOCKING("IngestTouchpoints", ingest_touchpoints),
    RPC_STREAM("Attribute", attribute),
    RPC_BLOCKING("Report", report),
    RPC_BLOCKING("ExportToSalesforce", export_to_salesforce),
};
const size_t asvc_n_methods = sizeof asvc_methods / sizeof asvc_methods[0];
