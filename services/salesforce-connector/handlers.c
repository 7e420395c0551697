/*
 * campsync.v1.SalesforceConnector methods: validate the request, turn it into
 * the fewest Salesforce calls (2,000-row query pages, 200-record collection
 * calls, id and email lists split only where the URI limit forces it, every
 * value asked for once), and map the answers back. Salesforce's wire format
 * stays in salesforce_core (soql, sf_json, sf_batch); transport, auth, limits
 * and error mapping in sf_client.
 */
#include "handlers.h"

#include "batch/batch_result.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sf_batch.h"
#include "sf_client.h"
#include "sf_fields.h"
#include "sf_json.h"
#include "soql.h"

/* Fields read per object (names as sf_json's mappers expect); the
 * touchpoint fields come from sf_fields() and are added by the query
 * builders below. */
static const char *const campaign_fields[] = {"Id",        "Name",     "Type",
                                              "Status",    "IsActive", "ActualCost",
                                              "StartDate", "EndDate",  "SystemModstamp"};
static const char *const member_fields[] = {
    "Id",           "CampaignId",         "LeadId",        "ContactId",        "Status",
    "HasResponded", "FirstRespondedDate", "CreatedDate",   "LastModifiedDate", "SystemModstamp",
    "IsDeleted",    "Lead.Email",         "Contact.Email", "Contact.AccountId"};
static const char *const status_fields[] = {"Id", "Label", "SortOrder", "IsDefault",
                                            "HasResponded"};
static const char *const lead_fields[] = {
    "Id",      "Email",       "FirstName",          "LastName",
    "Company", "IsConverted", "ConvertedContactId", "CreatedDate"};
static const char *const contact_fields[] = {"Id",       "Email",     "FirstName",
                                             "LastName", "AccountId", "CreatedDate"};
static const char *const opportunity_fields[] = {"Id",        "AccountId", "Amount", "CreatedDate",
                                                 "CloseDate", "IsClosed",  "IsWon",  "Name"};
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define LOCK_RETRY_ROUNDS 3

/* ---- helpers ---- */

static sf_client *client_of(rpc_call *call)
{
    return rpc_call_service_data(call);
}

/* The HTTP deadline for work done while serving call: the caller's, capped
 * at five minutes when it set none. */
static int64_t deadline_of(rpc_call *call)
{
    int64_t left = rpc_call_remaining_ms(call);
    if (left > 300000)
        left = 300000;
    return http_now_ms() + (left > 0 ? left : 1);
}

static int fail(rpc_call *call, const sf_failure *f)
{
    return rpc_call_fail(call, f->code, "%s", f->msg);
}

static int check_id_arg(rpc_call *call, const char *what, const char *id)
{
    sf_err e = {{0}};
    if (!id || !id[0])
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "%s is required", what);
    if (soql_check_id(id, &e) != 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "%s: %s", what, e.msg);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* A sorted copy of values without repeats (case-insensitive: Salesforce
 * compares ids of one object and emails that way in SOQL), so nothing is
 * asked for twice. The array is call memory; the strings are the request's. */
static const char **unique_values(rpc_call *call, char *const *values, size_t n, size_t *out_n)
{
    const char **v = rpc_call_alloc(call, (n ? n : 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (values[i] && values[i][0])
            v[k++] = values[i];
    qsort(v, k, sizeof *v, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || strcasecmp(v[u - 1], v[i]) != 0)
            v[u++] = v[i];
    *out_n = u;
    return v;
}

static int validate_ids(rpc_call *call, const char *what, char *const *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sf_err e = {{0}};
        if (soql_check_id(ids[i], &e) != 0)
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "%s[%zu]: %s", what, i, e.msg);
    }
    return 0;
}

/* Builds the fixed part of a query. */
typedef soql *(*query_base_fn)(const void *arg);

/* Runs base + "field IN (chunk)" for every chunk of values that fits the
 * URI limit, feeding every page to fn. */
static int query_in_chunks(rpc_call *call, query_base_fn make, const void *arg, const char *field,
                           bool ids, const char *const *values, size_t n, sf_page_fn fn, void *ud,
                           sf_failure *f)
{
    sf_client *c = client_of(call);
    size_t done = 0;
    while (done < n) {
        soql *q = make(arg);
        if (!q)
            return sf_fail(f, GRPC_STATUS_INTERNAL, "out of memory");
        size_t fit = 0;
        sf_err e = {{0}};
        if (soql_chunk_fit(q, sf_client_api_version(c), false, field, ids, values + done, n - done,
                           SOQL_DEFAULT_MAX_URL, &fit, &e) != 0) {
            soql_free(q);
            return sf_fail(f, GRPC_STATUS_INVALID_ARGUMENT, "%s", e.msg);
        }
        if (ids)
            soql_where_ids(q, field, SOQL_IN, values + done, fit);
        else
            soql_where_strings(q, field, SOQL_IN, values + done, fit);
        int rc = sf_client_query(c, q, false, deadline_of(call), fn, ud, f);
        soql_free(q);
        if (rc != 0)
            return rc;
        done += fit;
    }
    return 0;
}

static soql *select_from(const char *object, const char *const *fields, size_t n)
{
    soql *q = soql_new(object);
    if (q)
        soql_select_many(q, fields, n);
    return q;
}

static soql *campaign_base(const void *arg)
{
    (void)arg;
    soql *q = select_from("Campaign", campaign_fields, N(campaign_fields));
    if (q) {
        soql_select(q, sf_fields()->enable_buyer_touchpoints);
        soql_select(q, sf_fields()->touchpoint_start_date);
        soql_select(q, sf_fields()->touchpoint_end_date);
    }
    return q;
}

static soql *lead_base(const void *arg)
{
    (void)arg;
    return select_from("Lead", lead_fields, N(lead_fields));
}

static soql *contact_base(const void *arg)
{
    (void)arg;
    return select_from("Contact", contact_fields, N(contact_fields));
}

static soql *opportunity_base(const void *arg)
{
    (void)arg;
    return select_from("Opportunity", opportunity_fields, N(opportunity_fields));
}

/* Page sinks appending to a list message. */
static int campaigns_sink(void *ud, const sf_page *page, sf_failure *f)
{
    sf_err e = {{0}};
    if (sf_campaigns_append(page, ud, &e) != 0)
        return sf_fail(f, GRPC_STATUS_UNAVAILABLE, "salesforce Campaign rows unreadable: %s",
                       e.msg);
    return 0;
}

static int statuses_sink(void *ud, const sf_page *page, sf_failure *f)
{
    sf_err e = {{0}};
    if (sf_member_statuses_append(page, ud, &e) != 0)
        return sf_fail(f, GRPC_STATUS_UNAVAILABLE,
                       "salesforce CampaignMemberStatus rows unreadable: %s", e.msg);
    return 0;
}

struct people_sink_ctx {
    Campsync__V1__PersonList *list;
    const char *kind;
};

static int people_sink(void *ud, const sf_page *page, sf_failure *f)
{
    struct people_sink_ctx *p = ud;
    sf_err e = {{0}};
    if (sf_people_append(page, p->kind, p->list, &e) != 0)
        return sf_fail(f, GRPC_STATUS_UNAVAILABLE, "salesforce %s rows unreadable: %s", p->kind,
                       e.msg);
    return 0;
}

static int opportunities_sink(void *ud, const sf_page *page, sf_failure *f)
{
    sf_err e = {{0}};
    if (sf_opportunities_append(page, ud, &e) != 0)
        return sf_fail(f, GRPC_STATUS_UNAVAILABLE, "salesforce Opportunity rows unreadable: %s",
                       e.msg);
    return 0;
}

static void *new_msg(rpc_call *call, const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = sf_msg_new(d);
    if (m)
        rpc_call_adopt_message(call, m);
    return m;
}

/* ---- sObject Collections with per-record lock retries ---- */

/* Builds the body for the records at idx[0..n) (NULL + err on a bad record). */
typedef char *(*body_fn)(const void *arg, const size_t *idx, size_t n, sf_err *err);

struct collection_job {
    http_method method;
    const char *path;     /* collections path (DELETE: built per call) */
    const char *endpoint; /* metrics label */
    sf_op op;
    bool idempotent;
    body_fn body;
    const void *arg;
    const char *const *keys; /* one per record */
    size_t n;
    int delete_ids; /* DELETE ?ids=: body() returns the query string */
};

static int is_lock_failure(const Campsync__V1__RecordResult *r)
{
    return r && r->outcome == CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED && r->code &&
           strcmp(r->code, "UNABLE_TO_LOCK_ROW") == 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * Sends the job's records 200 per call; records refused with
 * UNABLE_TO_LOCK_ROW are sent again (up to LOCK_RETRY_ROUNDS more times,
 * backing off) since another transaction only held the row for a moment.
 * Fills out (a BatchResult with one result per record, in request order).
 */
static int run_collection(rpc_call *call, const struct collection_job *job,
                          Campsync__V1__BatchResult *out, sf_failure *f)
{
    sf_client *c = client_of(call);
    Campsync__V1__RecordResult **slots = calloc(job->n ? job->n : 1, sizeof *slots);
    size_t *pending = malloc((job->n ? job->n : 1) * sizeof *pending);
    size_t n_pending = job->n;
    int rc = 0;
    if (!slots || !pending) {
        free(slots);
        free(pending);
        return sf_fail(f, GRPC_STATUS_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < job->n; i++)
        pending[i] = i;
    for (int round = 0; round <= LOCK_RETRY_ROUNDS && n_pending && rc == 0; round++) {
        if (round)
            sleep_ms(100L << round);
        size_t next_pending = 0;
        for (size_t off = 0; off < n_pending && rc == 0; off += SF_COLLECTION_MAX) {
            size_t len = n_pending - off < SF_COLLECTION_MAX ? n_pending - off : SF_COLLECTION_MAX;
            const size_t *idx = pending + off;
            sf_err e = {{0}};
            char *body = job->body(job->arg, idx, len, &e);
            if (!body) {
                rc = sf_fail(f, GRPC_STATUS_INVALID_ARGUMENT, "%s", e.msg);
                break;
            }
            char *path = NULL;
            if (job->delete_ids) {
                if (asprintf(&path, "%s?%s", job->path, body) < 0)
                    path = NULL;
                free(body);
                body = NULL;
            } else {
                path = strdup(job->path);
            }
            http_response resp;
            if (!path) {
                rc = sf_fail(f, GRPC_STATUS_INTERNAL, "out of memory");
                free(body);
                break;
            }
            rc = sf_client_request(c, job->method, path, body, job->endpoint, job->idempotent,
                                   deadline_of(call), &resp, f);
            free(path);
            free(body);
            if (rc != 0)
                break;
            const char **keys = malloc(len * sizeof *keys);
            Campsync__V1__BatchResult *part = sf_msg_new(&campsync__v1__batch_result__descriptor);
            if (!keys || !part) {
                free(keys);
                if (part)
                    protobuf_c_message_free_unpacked(&part->base, NULL);
                http_response_free(&resp);
                rc = sf_fail(f, GRPC_STATUS_INTERNAL, "out of memory");
                break;
            }
            for (size_t k = 0; k < len; k++)
                keys[k] = job->keys ? job->keys[idx[k]] : NULL;
            if (sf_collection_results_append(resp.body, resp.body_len, job->op, keys, len, 0, part,
                                             &e) != 0) {
                rc = sf_fail(f, GRPC_STATUS_UNAVAILABLE,
                             "salesforce collection answer unreadable: %s", e.msg);
            } else {
                out->api_calls++;
                for (size_t k = 0; k < len; k++) {
                    Campsync__V1__RecordResult *r = part->results[k];
                    part->results[k] = NULL;
                    r->index = (int32_t)idx[k];
                    if (slots[idx[k]])
                        protobuf_c_message_free_unpacked(&slots[idx[k]]->base, NULL);
                    slots[idx[k]] = r;
                    if (is_lock_failure(r) && round < LOCK_RETRY_ROUNDS)
                        pending[next_pending++] = idx[k];
                }
            }
            part->n_results = 0;
            protobuf_c_message_free_unpacked(&part->base, NULL);
            free(keys);
            http_response_free(&resp);
        }
        n_pending = next_pending;
    }
    free(pending);
    if (rc != 0) {
        for (size_t i = 0; i < job->n; i++)
            if (slots[i])
                protobuf_c_message_free_unpacked(&slots[i]->base, NULL);
        free(slots);
        return rc;
    }
    out->results = slots;
    out->n_results = job->n;
    batch_result_recount(out);
    return 0;
}

static char *collections_path(rpc_call *call, const char *sobject, const char *field, sf_failure *f)
{
    sf_err e = {{0}};
    char *p = sf_collections_path(sf_client_api_version(client_of(call)), sobject, field, &e);
    if (!p)
        sf_fail(f, GRPC_STATUS_INVALID_ARGUMENT, "%s", e.msg);
    return p;
}

/* Runs a job whose records come from the request; answers with the result. */
static int answer_collection(rpc_call *call, struct collection_job *job, const char *sobject,
                             const char *ext_field, ProtobufCMessage **response)
{
    sf_failure f = {0};
    sf_client *c = client_of(call);
    if (sf_client_admit(c, &f) != 0)
        return fail(call, &f);
    char *path = collections_path(call, sobject, ext_field, &f);
    if (!path)
        return fail(call, &f);
    rpc_call_on_done(call, free, path);
    job->path = path;
    Campsync__V1__BatchResult *out = new_msg(call, &campsync__v1__batch_result__descriptor);
    if (!out)
        return rpc_call_fail(call, GRPC_STATUS_INTERNAL, "out of memory");
    if (job->n && run_collection(call, job, out, &f) != 0)
        return fail(call, &f);
    *response = &out->base;
    return GRPC_STATUS_OK;
}

/* ---- campaigns ---- */

static int get_campaigns(rpc_call *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response)
{
    const Campsync__V1__GetCampaignsRequest *rq = (const void *)request;
    if (validate_ids(call, "ids", rq->ids, rq->n_ids))
        return GRPC_STATUS_INVALID_ARGUMENT;
    sf_failure f = {0};
    if (sf_client_admit(client_of(call), &f) != 0)
        return fail(call, &f);
    size_t n = 0;
    const char **ids = unique_values(call, rq->ids, rq->n_ids, &n);
    Campsync__V1__CampaignList *out = new_msg(call, &campsync__v1__campaign_list__descriptor);
    if (query_in_chunks(call, campaign_base, NULL, "Id", true, ids, n, campaigns_sink, out, &f))
        return fail(call, &f);
    *response = &out->base;
    return GRPC_STATUS_OK;
}

static int list_changed_campaigns(rpc_call *call, const ProtobufCMessage *request,
                                  ProtobufCMessage **response)
{
    const Campsync__V1__ListChangedCampaignsRequest *rq = (const void *)request;
    if (rq->since_ms < 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "since_ms must be >= 0 (0 lists every campaign)");
    sf_failure f = {0};
    sf_client *c = client_of(call);
    if (sf_client_admit(c, &f) != 0)
        return fail(call, &f);
    soql *q = campaign_base(NULL);
    if (rq->since_ms > 0)
        soql_where_datetime(q, "SystemModstamp", SOQL_GE, rq->since_ms);
    soql_order_by(q, "SystemModstamp", false);
    Campsync__V1__CampaignList *out = new_msg(call, &campsync__v1__campaign_list__descriptor);
    int rc = sf_client_query(c, q, false, deadline_of(call), campaigns_sink, out, &f);
    soql_free(q);
    if (rc != 0)
        return fail(call, &f);
    *response = &out->base;
    return GRPC_STATUS_OK;
}

static int create_campaign(rpc_call *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response)
{
    const Campsync__V1__Campaign *rq = (const void *)request;
    if (!rq->name || !rq->name[0])
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "name is required to create a campaign");
    if (rq->id && rq->id[0])
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "id must be empty when creating a campaign (got %s)", rq->id);
    sf_failure f = {0};
    sf_client *c = client_of(call);
    if (sf_client_admit(c, &f) != 0)
        return fail(call, &f);
    sf_err e = {{0}};
    char *body = sf_body_create_campaign(rq, &e);
    if (!body)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "%s", e.msg);
    char path[128];
    snprintf(path, sizeof path, "/services/data/%s/sobjects/Campaign", sf_client_api_version(c));
    http_response resp;
    int rc = sf_client_request(c, HTTP_POST, path, body, "POST sobjects/Campaign", false,
                               deadline_of(call), &resp, &f);
    free(body);
    if (rc != 0)
        return fail(call, &f);
    char *id = NULL;
    rc = sf_create_result_parse(resp.body, resp.body_len, &id, &e);
    http_response_free(&resp);
    if (rc != 0)
        return rpc_call_fail(call, GRPC_STATUS_UNAVAILABLE, "salesforce create answer: %s", e.msg);
    Campsync__V1__Campaign *out = rpc_call_alloc(call, sizeof *out);
    *out = *rq;
    out->id = rpc_call_strdup(call, id);
    free(id);
    *response = &out->base;
    return GRPC_STATUS_OK;
}

static char *campaign_updates_body(const void *arg, const size_t *idx, size_t n, sf_err *err)
{
    const Campsync__V1__UpdateCampaignsRequest *rq = arg;
    Campsync__V1__CampaignUpdate **sub = malloc((n ? n : 1) * sizeof *sub);
    if (!sub)
        return NULL;
    for (size_t i = 0; i < n; i++)
        sub[i] = rq->updates[idx[i]];
    char *body = sf_body_campaign_updates(sub, n, err);
    free(sub);
    return body;
}

static int update_campaigns(rpc_call *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response)
{
    const Campsync__V1__UpdateCampaignsRequest *rq = (const void *)request;
    const char **keys = rpc_call_alloc(call, (rq->n_updates + 1) * sizeof *keys);
    for (size_t i = 0; i < rq->n_updates; i++) {
        if (check_id_arg(call, "updates[].id", rq->updates[i]->id))
            return GRPC_STATUS_INVALID_ARGUMENT;
        keys[i] = rq->updates[i]->id;
    }
    struct collection_job job = {.method = HTTP_PATCH,
                                 .endpoint = "PATCH composite/sobjects",
                                 .op = SF_OP_UPDATE,
                                 .idempotent = true,
                                 .body = campaign_updates_body,
                                 .arg = rq,
                                 .keys = keys,
                                 .n = rq->n_updates};
    return answer_collection(call, &job, NULL, NULL, response);
}

/* ---- member statuses ---- */

static int list_member_statuses(rpc_call *call, const ProtobufCMessage *request,
                                ProtobufCMessage **response)
{
    const Campsync__V1__ListMemberStatusesRequest *rq = (const void *)request;
    if (check_id_arg(call, "campaign_id", rq->campaign_id))
        return GRPC_STATUS_INVALID_ARGUMENT;
    sf_failure f = {0};
    sf_client *c = client_of(call);
    if (sf_client_admit(c, &f) != 0)
        return fail(call, &f);
    soql *q = select_from("CampaignMemberStatus", status_fields, N(status_fields));
    soql_where_id(q, "CampaignId", SOQL_EQ, rq->campaign_id);
    soql_order_by(q, "SortOrder", false);
    Campsync__V1__MemberStatusList *out =
        new_msg(call, &campsync__v1__member_status_list__descriptor);
    int rc = sf_client_query(c, q, false, deadline_of(call), statuses_sink, out, &f);
    soql_free(q);
    if (rc != 0)
        return fail(call, &f);
    *response = &out->base;
    return GRPC_STATUS_OK;
}

static char *member_statuses_body(const void *arg, const size_t *idx, size_t n, sf_err *err)
{
    const Campsync__V1__CreateMemberStatusesRequest *rq = arg;
    Campsync__V1__MemberStatus **sub = malloc((n ? n : 1) * sizeof *sub);
    if (!sub)
        return NULL;
    for (size_t i = 0; i < n; i++)
        sub[i] = rq->statuses[idx[i]];
    char *body = sf_body_member_statuses(rq->campaign_id, sub, n, err);
    free(sub);
    return body;
}

static int create_member_statuses(rpc_call *call, const ProtobufCMessage *request,
                                  ProtobufCMessage **response)
{
    const Campsync__V1__CreateMemberStatusesRequest *rq = (const void *)request;
    if (check_id_arg(call, "campaign_id", rq->campaign_id))
        return GRPC_STATUS_INVALID_ARGUMENT;
    const char **keys = rpc_call_alloc(call, (rq->n_statuses + 1) * sizeof *keys);
    for (size_t i = 0; i < rq->n_statuses; i++) {
        if (!rq->statuses[i]->label || !rq->statuses[i]->label[0])
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                                 "statuses[].label is required");
        keys[i] = rq->statuses[i]->label;
    }
    struct collection_job job = {.method = HTTP_POST,
                                 .endpoint = "POST composite/sobjects",
                                 .op = SF_OP_CREATE,
                                 .idempotent = false,
                                 .body = member_statuses_body,
                                 .arg = rq,
                                 .keys = keys,
                                 .n = rq->n_statuses};
    return answer_collection(call, &job, NULL, NULL, response);
}

/* ---- campaign members ---- */

struct member_stream {
    rpc_call *call;
    int64_t sent;
};

static int member_page_sink(void *ud, const sf_page *page, sf_failure *f)
{
    struct member_stream *ms = ud;
    Campsync__V1__CampaignMemberPage *msg =
        sf_msg_new(&campsync__v1__campaign_member_page__descriptor);
    if (!msg)
        return sf_fail(f, GRPC_STATUS_INTERNAL, "out of memory");
    sf_err e = {{0}};
    int rc = 0;
    if (sf_members_append(page, msg, &e) != 0)
        rc = sf_fail(f, GRPC_STATUS_UNAVAILABLE, "salesforce CampaignMember rows unreadable: %s",
                     e.msg);
    else if (msg->n_members && rpc_call_send(ms->call, &msg->base) != 0)
        rc = sf_fail(f, GRPC_STATUS_CANCELLED, "the caller went away");
    ms->sent += (int64_t)msg->n_members;
    protobuf_c_message_free_unpacked(&msg->base, NULL);
    return rc;
}

static soql *members_of_campaign(const void *arg)
{
    soql *q = select_from("CampaignMember", member_fields, N(member_fields));
    if (q) {
        soql_select(q, sf_fields()->buyer_touchpoint_date);
        soql_where_id(q, "CampaignId", SOQL_EQ, arg);
    }
    return q;
}

/* The campaign members of the given people: Leads by LeadId, Contacts by
 * ContactId (a converted Lead's member has both: it may come twice). */
static int stream_members_of_people(rpc_call *call, const char *campaign_id, char *const *ids,
                                    size_t n)
{
    if (validate_ids(call, "person_ids", ids, n) != 0)
        return GRPC_STATUS_INVALID_ARGUMENT;
    for (size_t i = 0; i < n; i++)
        if (strncmp(ids[i], "00Q", 3) != 0 && strncmp(ids[i], "003", 3) != 0)
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                                 "person_ids[%zu]: %s is neither a Lead (00Q...) nor a Contact "
                                 "(003...) id",
                                 i, ids[i]);
    size_t nu = 0, nl = 0, nc = 0;
    const char **u = unique_values(call, ids, n, &nu);
    const char **leads = rpc_call_alloc(call, (nu + 1) * sizeof *leads);
    const char **contacts = rpc_call_alloc(call, (nu + 1) * sizeof *contacts);
    for (size_t i = 0; i < nu; i++) {
        if (strncmp(u[i], "00Q", 3) == 0)
            leads[nl++] = u[i];
        else
            contacts[nc++] = u[i];
    }
    sf_failure f = {0};
    if (sf_client_admit(client_of(call), &f) != 0)
        return fail(call, &f);
    struct member_stream ms = {.call = call};
    if ((nl && query_in_chunks(call, members_of_campaign, campaign_id, "LeadId", true, leads, nl,
                               member_page_sink, &ms, &f) != 0) ||
        (nc && query_in_chunks(call, members_of_campaign, campaign_id, "ContactId", true, contacts,
                               nc, member_page_sink, &ms, &f) != 0))
        return fail(call, &f);
    return GRPC_STATUS_OK;
}

static int stream_campaign_members(rpc_call *call, const ProtobufCMessage *request)
{
    const Campsync__V1__StreamCampaignMembersRequest *rq = (const void *)request;
    if (check_id_arg(call, "campaign_id", rq->campaign_id))
        return GRPC_STATUS_INVALID_ARGUMENT;
    if (rq->since_ms < 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "since_ms must be >= 0");
    if (rq->n_person_ids > 0) {
        if (rq->since_ms || rq->include_deleted)
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                                 "give person_ids or since_ms/include_deleted, not both");
        return stream_members_of_people(call, rq->campaign_id, rq->person_ids, rq->n_person_ids);
    }
    sf_failure f = {0};
    sf_client *c = client_of(call);
    if (sf_client_admit(c, &f) != 0)
        return fail(call, &f);
    soql *q = members_of_campaign(rq->campaign_id);
    if (!q)
        return rpc_call_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    if (rq->since_ms > 0)
        soql_where_datetime(q, "SystemModstamp", SOQL_GE, rq->since_ms);
    struct member_stream ms = {.call = call};
    int rc =
        sf_client_query(c, q, rq->include_deleted, deadline_of(call), member_page_sink, &ms, &f);
    soql_free(q);
    return rc ? fail(call, &f) : GRPC_STATUS_OK;
}

static char *add_members_body(const void *arg, const size_t *idx, size_t n, sf_err *err)
{
    const Campsync__V1__AddMembersRequest *rq = arg;
    Campsync__V1__NewMember **sub = malloc((n ? n : 1) * sizeof *sub);
    if (!sub)
        return NULL;
    for (size_t i = 0; i < n; i++)
        sub[i] = rq->members[idx[i]];
    char *body = sf_body_add_members(rq->campaign_id, sub, n, err);
    free(sub);
    return body;
}

static int add_members(rpc_call *call, const ProtobufCMessage *request, ProtobufCMessage **response)
{
    const Campsync__V1__AddMembersRequest *rq = (const void *)request;
    if (check_id_arg(call, "campaign_id", rq->campaign_id))
        return GRPC_STATUS_INVALID_ARGUMENT;
    const char **keys = rpc_call_alloc(call, (rq->n_members + 1) * sizeof *keys);
    for (size_t i = 0; i < rq->n_members; i++) {
        const Campsync__V1__NewMember *m = rq->members[i];
        int has_lead = m->lead_id && m->lead_id[0], has_contact = m->contact_id && m->contact_id[0];
        if (has_lead == has_contact)
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                                 "members[%zu]: give exactly one of lead_id and contact_id", i);
        keys[i] = has_lead ? m->lead_id : m->contact_id;
    }
    /* Sending an add twice is harmless: Salesforce answers DUPLICATE_VALUE,
     * which comes back as SKIPPED. So adds may be retried like reads. */
    struct collection_job job = {.method = HTTP_POST,
                                 .endpoint = "POST composite/sobjects",
                                 .op = SF_OP_ADD_MEMBER,
                                 .idempotent = true,
                                 .body = add_members_body,
                                 .arg = rq,
                                 .keys = keys,
                                 .n = rq->n_members};
    return answer_collection(call, &job, NULL, NULL, response);
}

static char *status_changes_body(const void *arg, const size_t *idx, size_t n, sf_err *err)
{
    const Campsync__V1__UpdateMemberStatusRequest *rq = arg;
    Campsync__V1__MemberStatusChange **sub = malloc((n ? n : 1) * sizeof *sub);
    if (!sub)
        return NULL;
    for (size_t i = 0; i < n; i++)
        sub[i] = rq->changes[idx[i]];
    char *body = sf_body_member_status_changes(sub, n, err);
    free(sub);
    return body;
}

static int update_member_status(rpc_call *call, const ProtobufCMessage *request,
                                ProtobufCMessage **response)
{
    const Campsync__V1__UpdateMemberStatusRequest *rq = (const void *)request;
    const char **keys = rpc_call_alloc(call, (rq->n_changes + 1) * sizeof *keys);
    for (size_t i = 0; i < rq->n_changes; i++) {
        if (check_id_arg(call, "changes[].member_id", rq->changes[i]->member_id))
            return GRPC_STATUS_INVALID_ARGUMENT;
        if (!rq->changes[i]->status || !rq->changes[i]->status[0])
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                                 "changes[%zu].status is required", i);
        keys[i] = rq->changes[i]->member_id;
    }
    struct collection_job job = {.method = HTTP_PATCH,
                                 .endpoint = "PATCH composite/sobjects",
                                 .op = SF_OP_UPDATE,
                                 .idempotent = true,
                                 .body = status_changes_body,
                                 .arg = rq,
                                 .keys = keys,
                                 .n = rq->n_changes};
    return answer_collection(call, &job, NULL, NULL, response);
}

static char *delete_ids_query(const void *arg, const size_t *idx, size_t n, sf_err *err)
{
    const char *const *ids = arg;
    const char **sub = malloc((n ? n : 1) * sizeof *sub);
    if (!sub)
        return NULL;
    for (size_t i = 0; i < n; i++)
        sub[i] = ids[idx[i]];
    char *q = sf_delete_query(sub, n, err);
    free(sub);
    return q;
}

static int remove_members(rpc_call *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response)
{
    const Campsync__V1__RemoveCampaignMembersRequest *rq = (const void *)request;
    if (validate_ids(call, "member_ids", rq->member_ids, rq->n_member_ids))
        return GRPC_STATUS_INVALID_ARGUMENT;
    struct collection_job job = {.method = HTTP_DELETE,
                                 .endpoint = "DELETE composite/sobjects",
                                 .op = SF_OP_DELETE,
                                 .idempotent = true,
                                 .body = delete_ids_query,
                                 .arg = rq->member_ids,
                                 .keys = (const char *const *)rq->member_ids,
                                 .n = rq->n_member_ids,
                                 .delete_ids = 1};
    return answer_collection(call, &job, NULL, NULL, response);
}

/* ---- people and opportunities ---- */

static int get_people(rpc_call *call, const Campsync__V1__GetPeopleRequest *rq, const char *kind,
                      query_base_fn base, ProtobufCMessage **response)
{
    int contacts = strcmp(kind, "Contact") == 0;
    if (validate_ids(call, "ids", rq->ids, rq->n_ids) ||
        validate_ids(call, "account_ids", rq->account_ids, rq->n_account_ids))
        return GRPC_STATUS_INVALID_ARGUMENT;
    if (!contacts && rq->n_account_ids)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "account_ids applies to contacts only");
    sf_failure f = {0};
    if (sf_client_admit(client_of(call), &f) != 0)
        return fail(call, &f);
    Campsync__V1__PersonList *out = new_msg(call, &campsync__v1__person_list__descriptor);
    struct people_sink_ctx ctx = {.list = out, .kind = kind};
    size_t n_ids = 0, n_emails = 0, n_accounts = 0;
    const char **ids = unique_values(call, rq->ids, rq->n_ids, &n_ids);
    const char **emails = unique_values(call, rq->emails, rq->n_emails, &n_emails);
    const char **accounts = unique_values(call, rq->account_ids, rq->n_account_ids, &n_accounts);
    if (query_in_chunks(call, base, NULL, "Id", true, ids, n_ids, people_sink, &ctx, &f) ||
        query_in_chunks(call, base, NULL, "Email", false, emails, n_emails, people_sink, &ctx,
                        &f) ||
        query_in_chunks(call, base, NULL, "AccountId", true, accounts, n_accounts, people_sink,
                        &ctx, &f))
        return fail(call, &f);
    *response = &out->base;
    return GRPC_STATUS_OK;
}

static int get_leads(rpc_call *call, const ProtobufCMessage *request, ProtobufCMessage **response)
{
    return get_people(call, (const void *)request, "Lead", lead_base, response);
}

static int get_contacts(rpc_call *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response)
{
    return get_people(call, (const void *)request, "Contact", contact_base, response);
}

static char *create_leads_body(const void *arg, const size_t *idx, size_t n, sf_err *err)
{
    const Campsync__V1__CreateLeadsRequest *rq = arg;
    Campsync__V1__Person **sub = malloc((n ? n : 1) * sizeof *sub);
    if (!sub)
        return NULL;
    for (size_t i = 0; i < n; i++)
        sub[i] = rq->leads[idx[i]];
    char *body = sf_body_create_leads(sub, n, err);
    free(sub);
    return body;
}

static int create_leads(rpc_call *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response)
{
    const Campsync__V1__CreateLeadsRequest *rq = (const void *)request;
    const char **keys = rpc_call_alloc(call, (rq->n_leads + 1) * sizeof *keys);
    for (size_t i = 0; i < rq->n_leads; i++) {
        const Campsync__V1__Person *p = rq->leads[i];
        if (!p->last_name || !p->last_name[0] || !p->company || !p->company[0])
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                                 "leads[%zu]: last_name and company are required by Salesforce "
                                 "(fill them, e.g. with \"[not provided]\")",
                                 i);
        keys[i] = p->email;
    }
    struct collection_job job = {.method = HTTP_POST,
                                 .endpoint = "POST composite/sobjects",
                                 .op = SF_OP_CREATE,
                                 .idempotent = false,
                                 .body = create_leads_body,
                                 .arg = rq,
                                 .keys = keys,
                                 .n = rq->n_leads};
    return answer_collection(call, &job, NULL, NULL, response);
}

static int get_opportunities(rpc_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response)
{
    const Campsync__V1__GetOpportunitiesRequest *rq = (const void *)request;
    if (validate_ids(call, "ids", rq->ids, rq->n_ids) ||
        validate_ids(call, "account_ids", rq->account_ids, rq->n_account_ids))
        return GRPC_STATUS_INVALID_ARGUMENT;
    sf_failure f = {0};
    if (sf_client_admit(client_of(call), &f) != 0)
        return fail(call, &f);
    Campsync__V1__OpportunityList *out = new_msg(call, &campsync__v1__opportunity_list__descriptor);
    size_t n_ids = 0, n_accounts = 0;
    const char **ids = unique_values(call, rq->ids, rq->n_ids, &n_ids);
    const char **accounts = unique_values(call, rq->account_ids, rq->n_account_ids, &n_accounts);
    if (query_in_chunks(call, opportunity_base, NULL, "Id", true, ids, n_ids, opportunities_sink,
                        out, &f) ||
        query_in_chunks(call, opportunity_base, NULL, "AccountId", true, accounts, n_accounts,
                        opportunities_sink, out, &f))
        return fail(call, &f);
    *response = &out->base;
    return GRPC_STATUS_OK;
}

/* ---- the integration user ---- */

struct user_sink_ctx {
    Campsync__V1__MarketingUserCheck *found;
};

static int user_sink(void *ud, const sf_page *page, sf_failure *f)
{
    struct user_sink_ctx *u = ud;
    if (json_array_size(page->records) == 0 || u->found)
        return 0;
    sf_err e = {{0}};
    if (sf_user_from_json(json_array_get(page->records, 0), "records[0]", &u->found, &e) != 0)
        return sf_fail(f, GRPC_STATUS_UNAVAILABLE, "salesforce User row unreadable: %s", e.msg);
    return 0;
}

static int check_marketing_user(rpc_call *call, const ProtobufCMessage *request,
                                ProtobufCMessage **response)
{
    sf_failure f = {0};
    sf_client *c = client_of(call);
    if (sf_client_admit(c, &f) != 0)
        return fail(call, &f);
    char uid[64];
    if (sf_client_user_id(c, uid, sizeof uid, deadline_of(call), &f) != 0)
        return fail(call, &f);
    if (!uid[0] || soql_check_id(uid, NULL) != 0)
        return rpc_call_fail(call, GRPC_STATUS_UNAVAILABLE,
                             "salesforce token answer did not name the integration user (no id "
                             "URL); cannot check the Marketing User permission");
    static const char *const fields[] = {"Id", "Username", "UserPermissionsMarketingUser"};
    soql *q = select_from("User", fields, N(fields));
    soql_where_id(q, "Id", SOQL_EQ, uid);
    struct user_sink_ctx ctx = {0};
    int rc = sf_client_query(c, q, false, deadline_of(call), user_sink, &ctx, &f);
    soql_free(q);
    if (rc != 0)
        return fail(call, &f);
    if (!ctx.found)
        return rpc_call_fail(call, GRPC_STATUS_NOT_FOUND,
                             "salesforce has no User %s (the token's user)", uid);
    rpc_call_adopt_message(call, &ctx.found->base);
    *response = &ctx.found->base;
    return GRPC_STATUS_OK;
}

/* ---- bulk member field ---- */

struct id_collect {
    char **ids;
    size_t n, cap;
};

static int id_sink(void *ud, const sf_page *page, sf_failure *f)
{
    struct id_collect *ic = ud;
    size_t i;
    json_t *rec;
    json_array_foreach(page->records, i, rec)
    {
        const char *id = json_string_value(json_object_get(rec, "Id"));
        if (!id)
            return sf_fail(f, GRPC_STATUS_UNAVAILABLE, "salesforce row without Id");
        if (ic->n == ic->cap) {
            size_t cap = ic->cap ? ic->cap * 2 : 256;
            char **grown = realloc(ic->ids, cap * sizeof *grown);
            if (!grown)
                return sf_fail(f, GRPC_STATUS_INTERNAL, "out of memory");
            ic->ids = grown;
            ic->cap = cap;
        }
        ic->ids[ic->n++] = strdup(id);
    }
    return 0;
}

static void id_collect_free(void *arg)
{
    struct id_collect *ic = arg;
    for (size_t i = 0; i < ic->n; i++)
        free(ic->ids[i]);
    free(ic->ids);
}

struct member_filter_base {
    const Campsync__V1__SetMemberFieldRequest *rq;
};

static soql *member_filter_query(const void *arg)
{
    const Campsync__V1__SetMemberFieldRequest *rq = ((const struct member_filter_base *)arg)->rq;
    soql *q = soql_new("CampaignMember");
    if (!q)
        return NULL;
    soql_select(q, "Id");
    soql_where_id(q, "CampaignId", SOQL_EQ, rq->campaign_id);
    const Campsync__V1__MemberFilter *flt = rq->filter;
    if (flt) {
        if (flt->n_statuses)
            soql_where_strings(q, "Status", SOQL_IN, (const char *const *)flt->statuses,
                               flt->n_statuses);
        if (flt->has_responded)
            soql_where_bool(q, "HasResponded", SOQL_EQ, flt->has_responded->value);
        if (flt->created_from_ms > 0)
            soql_where_datetime(q, "CreatedDate", SOQL_GE, flt->created_from_ms);
        if (flt->created_to_ms > 0)
            soql_where_datetime(q, "CreatedDate", SOQL_LT, flt->created_to_ms);
    }
    return q;
}

struct field_write {
    const char *field, *value;
    char *const *ids;
};

static char *field_write_body(const void *arg, const size_t *idx, size_t n, sf_err *err)
{
    const struct field_write *fw = arg;
    const char **sub = malloc((n ? n : 1) * sizeof *sub);
    if (!sub)
        return NULL;
    for (size_t i = 0; i < n; i++)
        sub[i] = fw->ids[idx[i]];
    char *body = sf_body_set_member_field(fw->field, fw->value, sub, n, err);
    free(sub);
    return body;
}

static int set_member_field(rpc_call *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response)
{
    const Campsync__V1__SetMemberFieldRequest *rq = (const void *)request;
    sf_err e = {{0}};
    if (check_id_arg(call, "campaign_id", rq->campaign_id))
        return GRPC_STATUS_INVALID_ARGUMENT;
    if (!rq->field || soql_check_name(rq->field, false, &e) != 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "field: %s",
                             rq->field ? e.msg : "is required");
    const Campsync__V1__MemberFilter *flt = rq->filter;
    if (flt && validate_ids(call, "filter.member_ids", flt->member_ids, flt->n_member_ids))
        return GRPC_STATUS_INVALID_ARGUMENT;
    sf_failure f = {0};
    sf_client *c = client_of(call);
    if (sf_client_admit(c, &f) != 0)
        return fail(call, &f);
    struct id_collect *ic = rpc_call_alloc(call, sizeof *ic);
    rpc_call_on_done(call, id_collect_free, ic);
    struct member_filter_base base = {.rq = rq};
    int rc;
    if (flt && flt->n_member_ids) {
        size_t n = 0;
        const char **ids = unique_values(call, flt->member_ids, flt->n_member_ids, &n);
        rc = query_in_chunks(call, member_filter_query, &base, "Id", true, ids, n, id_sink, ic, &f);
    } else {
        soql *q = member_filter_query(&base);
        rc = q ? sf_client_query(c, q, false, deadline_of(call), id_sink, ic, &f)
               : sf_fail(&f, GRPC_STATUS_INTERNAL, "out of memory");
        soql_free(q);
    }
    if (rc != 0)
        return fail(call, &f);
    Campsync__V1__SetMemberFieldResponse *out =
        new_msg(call, &campsync__v1__set_member_field_response__descriptor);
    out->results = sf_msg_new(&campsync__v1__batch_result__descriptor);
    out->matched = (int32_t)ic->n;
    struct field_write fw = {
        .field = rq->field, .value = rq->value ? rq->value : "", .ids = ic->ids};
    char *path = collections_path(call, NULL, NULL, &f);
    if (!path)
        return fail(call, &f);
    rpc_call_on_done(call, free, path);
    struct collection_job job = {.method = HTTP_PATCH,
                                 .path = path,
                                 .endpoint = "PATCH composite/sobjects",
                                 .op = SF_OP_UPDATE,
                                 .idempotent = true,
                                 .body = field_write_body,
                                 .arg = &fw,
                                 .keys = (const char *const *)ic->ids,
                                 .n = ic->n};
    if (ic->n && run_collection(call, &job, out->results, &f) != 0)
        return fail(call, &f);
    out->updated = out->results->updated;
    *response = &out->base;
    return GRPC_STATUS_OK;
}

/* ---- upsert ---- */

static char *upsert_body(const void *arg, const size_t *idx, size_t n, sf_err *err)
{
    const Campsync__V1__UpsertRecordsRequest *rq = arg;
    Campsync__V1__UpsertRecord **sub = malloc((n ? n : 1) * sizeof *sub);
    if (!sub)
        return NULL;
    for (size_t i = 0; i < n; i++)
        sub[i] = rq->records[idx[i]];
    char *body = sf_body_upsert(rq->sobject, rq->external_id_field, sub, n, err);
    free(sub);
    return body;
}

static int upsert_records(rpc_call *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response)
{
    const Campsync__V1__UpsertRecordsRequest *rq = (const void *)request;
    sf_err e = {{0}};
    if (!rq->sobject || soql_check_name(rq->sobject, false, &e) != 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "sobject: %s",
                             rq->sobject ? e.msg : "is required");
    if (!rq->external_id_field || soql_check_name(rq->external_id_field, false, &e) != 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "external_id_field: %s",
                             rq->external_id_field ? e.msg : "is required");
    const char **keys = rpc_call_alloc(call, (rq->n_records + 1) * sizeof *keys);
    for (size_t i = 0; i < rq->n_records; i++) {
        const Campsync__V1__UpsertRecord *r = rq->records[i];
        for (size_t k = 0; k < r->n_fields_json; k++)
            if (strcmp(r->fields_json[k]->key, rq->external_id_field) == 0)
                keys[i] = r->fields_json[k]->value;
        if (!keys[i])
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                                 "records[%zu] has no %s (the external id)", i,
                                 rq->external_id_field);
    }
    struct collection_job job = {.method = HTTP_PATCH,
                                 .endpoint = "PATCH composite/sobjects upsert",
                                 .op = SF_OP_UPSERT,
                                 .idempotent = true,
                                 .body = upsert_body,
                                 .arg = rq,
                                 .keys = keys,
                                 .n = rq->n_records};
    return answer_collection(call, &job, rq->sobject, rq->external_id_field, response);
}

/* ---- usage ---- */

struct usage_ctx {
    rpc_call *call;
    Campsync__V1__ApiUsage *out;
    size_t cap;
};

static void usage_entry(void *ud, const char *endpoint, int64_t calls)
{
    struct usage_ctx *u = ud;
    if (u->out->n_calls_by_endpoint == u->cap)
        return;
    Campsync__V1__ApiUsage__CallsByEndpointEntry *e = rpc_call_alloc(u->call, sizeof *e);
    campsync__v1__api_usage__calls_by_endpoint_entry__init(e);
    e->key = rpc_call_strdup(u->call, endpoint);
    e->value = calls;
    u->out->calls_by_endpoint[u->out->n_calls_by_endpoint++] = e;
}

static int get_usage(rpc_call *call, const ProtobufCMessage *request, ProtobufCMessage **response)
{
    Campsync__V1__ApiUsage *out = rpc_call_alloc(call, sizeof *out);
    campsync__v1__api_usage__init(out);
    struct usage_ctx u = {.call = call, .out = out, .cap = 64};
    out->calls_by_endpoint = rpc_call_alloc(call, u.cap * sizeof *out->calls_by_endpoint);
    sf_client_usage(client_of(call), &out->used, &out->limit, usage_entry, &u);
    *response = &out->base;
    return GRPC_STATUS_OK;
}

const rpc_method sf_methods[] = {
    RPC_BLOCKING("GetCampaigns", get_campaigns),
    RPC_BLOCKING("ListChangedCampaigns", list_changed_campaigns),
    RPC_BLOCKING("CreateCampaign", create_campaign),
    RPC_BLOCKING("UpdateCampaigns", update_campaigns),
    RPC_BLOCKING("ListMemberStatuses", list_member_statuses),
    RPC_BLOCKING("CreateMemberStatuses", create_member_statuses),
    RPC_STREAM("StreamCampaignMembers", stream_campaign_members),
    RPC_BLOCKING("AddMembers", add_members),
    RPC_BLOCKING("UpdateMemberStatus", update_member_status),
    RPC_BLOCKING("RemoveMembers", remove_members),
    RPC_BLOCKING("GetLeads", get_leads),
    RPC_BLOCKING("GetContacts", get_contacts),
    RPC_BLOCKING("CreateLeads", create_leads),
    RPC_BLOCKING("GetOpportunities", get_opportunities),
    RPC_BLOCKING("CheckMarketingUser", check_marketing_user),
    RPC_BLOCKING("SetMemberField", set_member_field),
    RPC_BLOCKING("UpsertRecords", upsert_records),
    RPC_UNARY("GetUsage", get_usage),
};
const size_t sf_n_methods = sizeof sf_methods / sizeof sf_methods[0];
