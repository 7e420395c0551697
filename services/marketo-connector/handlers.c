/*
 * campsync.v1.MarketoConnector methods: validate the request, turn it into
 * the fewest Marketo calls (300 records or filter values per call, 300 per
 * page, every id or email asked for once), and map the answers back.
 * Marketo's wire format stays in marketo_core (mkto_json, mkto_query,
 * mkto_batch, mkto_errors); transport, auth, the shared budget, retries and
 * error mapping in mkto_client.
 *
 * Memory: lists built by mkto_json are single malloc'd trees handed to the
 * call with rpc_call_adopt_message; small responses are built in call
 * memory and may point into such trees.
 */
#include "handlers.h"

#include "batch/batch_result.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log/log.h"
#include "mkto_batch.h"
#include "mkto_bulk.h"
#include "mkto_json.h"
#include "mkto_query.h"
#include "redis/redis.h"

#define PAGE 300
#define ASSET_PAGE 200
#define MAX_CALL_MS 300000
#define TYPES_TTL_MS 3600000
#define LEAD_LOCK_TTL_MS 60000
#define LEAD_LOCK_SCOPE "marketo-leads"
#define MAX_ACTIVITY_TYPES 10
#define MAX_ACTIVITY_LEADS 30

#define BULK_POLL_MAX_MS 60000

typedef struct mkto_service {
    mkto_client *client;
    mkto_bulk_opts bulk;
    pthread_mutex_t types_mu;
    mkto_activity_type *types;
    size_t n_types;
    int64_t types_at; /* http_now_ms when fetched; 0 = never */
} mkto_service;

static const char *const member_fields[] = {"leadId", "statusName", "reachedSuccess",
                                            "membershipDate", "updatedAt"};
static const char *const lead_fields[] = {"id",       "email",      "firstName",     "lastName",
                                          "company",  "sfdcLeadId", "sfdcContactId", "createdAt",
                                          "updatedAt"};
/* The feed campsync needs when the caller names no types. */
static const char *const default_activity_types[] = {
    "Change Status in Progression", "Add to SFDC Campaign", "Remove from SFDC Campaign",
    "Change Status in SFDC Campaign"};
#define N(a) (sizeof(a) / sizeof((a)[0]))

void *mkto_handlers_state_new(const mkto_client_config *cfg, char *err, size_t n)
{
    mkto_service *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    s->client = mkto_client_new(cfg, err, n);
    if (!s->client) {
        free(s);
        return NULL;
    }
    int64_t first = cfg->bulk_poll_ms > 0 ? cfg->bulk_poll_ms : 5000;
    s->bulk = (mkto_bulk_opts){.poll_first_ms = first,
                               .poll_max_ms = first > BULK_POLL_MAX_MS ? first : BULK_POLL_MAX_MS,
                               .page_size = PAGE};
    pthread_mutex_init(&s->types_mu, NULL);
    return s;
}

void mkto_handlers_state_free(void *state)
{
    mkto_service *s = state;
    if (!s)
        return;
    mkto_client_free(s->client);
    mkto_activity_types_free(s->types, s->n_types);
    pthread_mutex_destroy(&s->types_mu);
    free(s);
}

/* ---- helpers ---- */

static mkto_service *svc_of(rpc_call *call)
{
    return rpc_call_service_data(call);
}

static int call_cancelled(void *ud)
{
    return rpc_call_cancelled(ud);
}

/* The caller's deadline (capped at five minutes when it set none) and its
 * cancellation. */
static mkto_ctx ctx_of(rpc_call *call)
{
    int64_t left = rpc_call_remaining_ms(call);
    if (left > MAX_CALL_MS)
        left = MAX_CALL_MS;
    mkto_ctx c = {.deadline_ms = http_now_ms() + (left > 0 ? left : 1),
                  .cancelled = call_cancelled,
                  .ud = call};
    return c;
}

static int fail(rpc_call *call, const mkto_failure *f)
{
    return rpc_call_fail(call, f->code, "%s", f->msg);
}

static int unreadable(rpc_call *call, const char *what, const mkto_err *e)
{
    return rpc_call_fail(call, GRPC_STATUS_UNAVAILABLE, "marketo %s answer unreadable: %s", what,
                         e->msg);
}

static int oom(rpc_call *call)
{
    return rpc_call_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
}

static int call_marketo(rpc_call *call, const char *path, const mkto_params *p, const char *body,
                        const char *endpoint, mkto_envelope *env, mkto_failure *f)
{
    mkto_ctx ctx = ctx_of(call);
    return mkto_client_call(svc_of(call)->client, &ctx, path, p, body, endpoint, env, f);
}

/* A list message from mkto_msg_new, freed when the call ends. */
static void *new_adopted(rpc_call *call, const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = mkto_msg_new(d);
    if (m)
        rpc_call_adopt_message(call, m);
    return m;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_str_ci(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted copy of ids without repeats (call memory). */
static int64_t *sorted_unique_ids(rpc_call *call, const int64_t *ids, size_t n, size_t *out_n)
{
    int64_t *v = rpc_call_alloc(call, (n ? n : 1) * sizeof *v);
    memcpy(v, ids, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || v[u - 1] != v[i])
            v[u++] = v[i];
    *out_n = u;
    return v;
}

/* Sorted copy of strings without repeats (call memory; the strings are the
 * request's). */
static const char **sorted_unique_strs(rpc_call *call, char *const *s, size_t n, bool ci,
                                       size_t *out_n)
{
    const char **v = rpc_call_alloc(call, (n ? n : 1) * sizeof *v);
    memcpy(v, s, n * sizeof *v);
    int (*cmp)(const void *, const void *) = ci ? cmp_str_ci : cmp_str;
    qsort(v, n, sizeof *v, cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || cmp(&v[u - 1], &v[i]) != 0)
            v[u++] = v[i];
    *out_n = u;
    return v;
}

typedef struct {
    int64_t id;
    size_t idx;
} id_pos;

static int cmp_id_pos(const void *a, const void *b)
{
    const id_pos *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * The distinct ids in order of first appearance (*uniq, *n_uniq) and, for
 * every input position, the position of its id in uniq (*slot). Call memory.
 */
static int order_unique_ids(rpc_call *call, const int64_t *ids, size_t n, int64_t **uniq,
                            size_t *n_uniq, size_t **slot)
{
    id_pos *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return -1;
    size_t *first = rpc_call_alloc(call, (n ? n : 1) * sizeof *first);
    for (size_t i = 0; i < n; i++)
        v[i] = (id_pos){ids[i], i};
    qsort(v, n, sizeof *v, cmp_id_pos);
    for (size_t i = 0; i < n; i++)
        first[v[i].idx] = i > 0 && v[i - 1].id == v[i].id ? first[v[i - 1].idx] : v[i].idx;
    free(v);
    *uniq = rpc_call_alloc(call, (n ? n : 1) * sizeof **uniq);
    *slot = rpc_call_alloc(call, (n ? n : 1) * sizeof **slot);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (first[i] == i) {
            (*uniq)[u] = ids[i];
            (*slot)[i] = u++;
        } else {
            (*slot)[i] = (*slot)[first[i]];
        }
    }
    *n_uniq = u;
    return 0;
}

static int check_ids(rpc_call *call, const char *what, const int64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] <= 0)
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                                 "%s[%zu]: %lld is not a Marketo id (must be > 0)", what, i,
                                 (long long)ids[i]);
    return 0;
}

static int check_email(rpc_call *call, const char *what, size_t i, const char *e)
{
    size_t len = e ? strlen(e) : 0;
    if (len == 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "%s[%zu]: email is required", what,
                             i);
    bool at = false;
    for (const char *p = e; *p; p++) {
        if (*p == '@')
            at = true;
        if (*p == ',' || isspace((unsigned char)*p) || (unsigned char)*p < 0x20)
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                                 "%s[%zu]: \"%.80s\" is not an email address (no commas, spaces "
                                 "or control characters)",
                                 what, i, e);
    }
    if (!at || len > 254)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "%s[%zu]: \"%.80s\" is not an email address", what, i, e);
    return 0;
}

static int check_sfdc_id(rpc_call *call, const char *what, size_t i, const char *id)
{
    size_t len = id ? strlen(id) : 0;
    bool ok = len == 15 || len == 18;
    for (size_t k = 0; ok && k < len; k++)
        ok = isalnum((unsigned char)id[k]);
    if (!ok)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "%s[%zu]: \"%.40s\" is not a Salesforce id (15 or 18 letters and "
                             "digits)",
                             what, i, id ? id : "");
    return 0;
}

static int params_failed(rpc_call *call, mkto_params *p, const mkto_err *e)
{
    mkto_params_free(p);
    return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "%s",
                         e->msg[0] ? e->msg : "out of memory");
}

/* ---- programs and channels ---- */

/* Pages an asset list (maxReturn/offset) until a short page. fn appends. */
typedef int (*asset_append_fn)(const mkto_envelope *env, void *list, mkto_err *err);

static int programs_append(const mkto_envelope *env, void *list, mkto_err *err)
{
    return mkto_programs_append(env, list, err);
}

static int channels_append(const mkto_envelope *env, void *list, mkto_err *err)
{
    return mkto_channels_append(env, list, err);
}

/* The asset API wants both ends of an update range: up to a day past now
 * (or past since, for a since in the future). */
static int64_t latest_updated(int64_t since_ms)
{
    int64_t now = mkto_wall_ms();
    return (since_ms > now ? since_ms : now) + 86400000;
}

static int asset_pages(rpc_call *call, const char *path, const char *endpoint, int64_t since_ms,
                       asset_append_fn fn, void *list, const char *what)
{
    for (int64_t offset = 0;; offset += ASSET_PAGE) {
        mkto_err me = {{0}};
        mkto_params *p = mkto_params_new();
        int bad = !p || mkto_params_add_int(p, "maxReturn", ASSET_PAGE, &me) != 0 ||
                  mkto_params_add_int(p, "offset", offset, &me) != 0;
        if (!bad && since_ms > 0)
            bad = mkto_params_add_time(p, "earliestUpdatedAt", since_ms, &me) != 0 ||
                  mkto_params_add_time(p, "latestUpdatedAt", latest_updated(since_ms), &me) != 0;
        if (bad)
            return params_failed(call, p, &me);
        mkto_envelope env;
        mkto_failure f = {0};
        int rc = call_marketo(call, path, p, NULL, endpoint, &env, &f);
        mkto_params_free(p);
        if (rc != 0)
            return fail(call, &f);
        size_t got = json_array_size(env.result);
        rc = fn(&env, list, &me);
        mkto_envelope_clear(&env);
        if (rc != 0)
            return unreadable(call, what, &me);
        if (got < ASSET_PAGE)
            return 0;
    }
}

static int list_programs(rpc_call *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response)
{
    const Campsync__V1__ListProgramsRequest *rq = (const void *)request;
    if (rq->updated_since_ms < 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "updated_since_ms must be >= 0 (0 = all programs)");
    Campsync__V1__ListProgramsResponse *out =
        new_adopted(call, &campsync__v1__list_programs_response__descriptor);
    if (!out)
        return oom(call);
    int rc = asset_pages(call, "/rest/asset/v1/programs.json", "GET /rest/asset/v1/programs.json",
                         rq->updated_since_ms, programs_append, out, "programs");
    if (rc != 0)
        return rc;
    *response = &out->base;
    return GRPC_STATUS_OK;
}

/* One program (adopted by the call) or a status. */
static int fetch_program(rpc_call *call, int64_t id, Campsync__V1__Program **out)
{
    if (id <= 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "program_id must be > 0 (got %lld)", (long long)id);
    char path[96];
    snprintf(path, sizeof path, "/rest/asset/v1/program/%lld.json", (long long)id);
    mkto_envelope env;
    mkto_failure f = {0};
    if (call_marketo(call, path, NULL, NULL, "GET /rest/asset/v1/program/{id}.json", &env, &f) != 0)
        return fail(call, &f);
    if (json_array_size(env.result) == 0) {
        mkto_envelope_clear(&env);
        return rpc_call_fail(call, GRPC_STATUS_NOT_FOUND, "marketo has no program %lld",
                             (long long)id);
    }
    mkto_err me = {{0}};
    int rc = mkto_program_from_json(json_array_get(env.result, 0), "result[0]", out, &me);
    mkto_envelope_clear(&env);
    if (rc != 0)
        return unreadable(call, "program", &me);
    rpc_call_adopt_message(call, &(*out)->base);
    return 0;
}

static int get_program(rpc_call *call, const ProtobufCMessage *request, ProtobufCMessage **response)
{
    const Campsync__V1__GetProgramRequest *rq = (const void *)request;
    Campsync__V1__Program *p = NULL;
    int rc = fetch_program(call, rq->program_id, &p);
    if (rc != 0)
        return rc;
    *response = &p->base;
    return GRPC_STATUS_OK;
}

static int get_program_costs(rpc_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response)
{
    const Campsync__V1__GetProgramRequest *rq = (const void *)request;
    Campsync__V1__Program *p = NULL;
    int rc = fetch_program(call, rq->program_id, &p);
    if (rc != 0)
        return rc;
    Campsync__V1__ProgramCosts *out = rpc_call_alloc(call, sizeof *out);
    campsync__v1__program_costs__init(out);
    out->program_id = p->id;
    out->n_costs = p->n_costs;
    out->costs = p->costs; /* owned by the adopted program */
    for (size_t i = 0; i < p->n_costs; i++)
        out->total_minor += p->costs[i]->cost_minor;
    *response = &out->base;
    return GRPC_STATUS_OK;
}

static int list_channels(rpc_call *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response)
{
    const Campsync__V1__ListChannelsRequest *rq = (const void *)request;
    Campsync__V1__ListChannelsResponse *out =
        new_adopted(call, &campsync__v1__list_channels_response__descriptor);
    if (!out)
        return oom(call);
    if (rq->name && rq->name[0]) {
        mkto_err me = {{0}};
        mkto_params *p = mkto_params_new();
        if (!p || mkto_params_add(p, "name", rq->name, &me) != 0)
            return params_failed(call, p, &me);
        mkto_envelope env;
        mkto_failure f = {0};
        int rc = call_marketo(call, "/rest/asset/v1/channel/byName.json", p, NULL,
                              "GET /rest/asset/v1/channel/byName.json", &env, &f);
        mkto_params_free(p);
        if (rc != 0)
            return fail(call, &f);
        rc = mkto_channels_append(&env, out, &me);
        mkto_envelope_clear(&env);
        if (rc != 0)
            return unreadable(call, "channel", &me);
    } else {
        int rc =
            asset_pages(call, "/rest/asset/v1/channels.json", "GET /rest/asset/v1/channels.json", 0,
                        channels_append, out, "channels");
        if (rc != 0)
            return rc;
    }
    *response = &out->base;
    return GRPC_STATUS_OK;
}

/* ---- program members (stream) ---- */

typedef struct member_query {
    const char *filter_type; /* leadId, updatedAt, reachedSuccess */
    const int64_t *ids;      /* leadId */
    size_t n_ids;
    int64_t start_ms, end_ms; /* updatedAt: [start, end] as Marketo compares */
} member_query;

static mkto_params *member_params(const member_query *q, const char *token, mkto_err *me)
{
    static const char *const both[] = {"true", "false"};
    mkto_params *p = mkto_params_new();
    int bad = !p || mkto_params_add(p, "filterType", q->filter_type, me) != 0;
    if (!bad && q->ids)
        bad = mkto_params_add_ints(p, "filterValues", q->ids, q->n_ids, me) != 0;
    else if (!bad && strcmp(q->filter_type, "updatedAt") == 0)
        bad = mkto_params_add_time(p, "startAt", q->start_ms, me) != 0 ||
              mkto_params_add_time(p, "endAt", q->end_ms, me) != 0;
    else if (!bad)
        bad = mkto_params_add_strs(p, "filterValues", both, 2, me) != 0;
    if (!bad)
        bad = mkto_params_add_strs(p, "fields", member_fields, N(member_fields), me) != 0 ||
              mkto_params_add_int(p, "batchSize", PAGE, me) != 0;
    if (!bad && token)
        bad = mkto_params_add(p, "nextPageToken", token, me) != 0;
    if (bad) {
        mkto_params_free(p);
        return NULL;
    }
    return p;
}

/* Runs one member query to its last page, sending every non-empty page. */
static int stream_member_query(rpc_call *call, int64_t program_id, const member_query *q,
                               mkto_failure *f)
{
    char path[96];
    snprintf(path, sizeof path, "/rest/v1/programs/%lld/members.json", (long long)program_id);
    char *token = NULL;
    for (;;) {
        mkto_err me = {{0}};
        mkto_params *p = member_params(q, token, &me);
        free(token);
        token = NULL;
        if (!p)
            return mkto_fail(f, GRPC_STATUS_INVALID_ARGUMENT, "%s",
                             me.msg[0] ? me.msg : "out of memory");
        mkto_envelope env;
        int rc =
            call_marketo(call, path, p, NULL, "GET /rest/v1/programs/{id}/members.json", &env, f);
        mkto_params_free(p);
        if (rc != 0)
            return rc;
        Campsync__V1__ProgramMemberPage *page =
            mkto_msg_new(&campsync__v1__program_member_page__descriptor);
        if (!page || mkto_members_append(&env, page, &me) != 0) {
            if (page)
                protobuf_c_message_free_unpacked(&page->base, NULL);
            mkto_envelope_clear(&env);
            return mkto_fail(f, GRPC_STATUS_UNAVAILABLE, "marketo members answer unreadable: %s",
                             me.msg[0] ? me.msg : "out of memory");
        }
        if (env.more_result && env.next_page_token && env.next_page_token[0])
            token = strdup(env.next_page_token);
        mkto_envelope_clear(&env);
        rc = page->n_members > 0 ? rpc_call_send(call, &page->base) : 0;
        protobuf_c_message_free_unpacked(&page->base, NULL);
        if (rc != 0) {
            free(token);
            return mkto_fail(f, GRPC_STATUS_CANCELLED, "the client went away");
        }
        if (!token)
            return 0;
    }
}

static int send_bulk_page(void *ud, Campsync__V1__ProgramMemberPage *page)
{
    int rc = rpc_call_send(ud, &page->base);
    protobuf_c_message_free_unpacked(&page->base, NULL);
    return rc;
}

/* Every member of a program over Marketo's 100,000-member filter limit,
 * through a bulk export job (mkto_bulk.h). */
static int stream_bulk(rpc_call *call, int64_t program_id)
{
    mkto_ctx ctx = ctx_of(call);
    mkto_bulk_stats st;
    mkto_failure f = {0};
    int rc = mkto_bulk_members(svc_of(call)->client, &ctx, program_id, &svc_of(call)->bulk,
                               send_bulk_page, call, &st, &f);
    char pid[24], polls[16], rows[24];
    snprintf(pid, sizeof pid, "%lld", (long long)program_id);
    snprintf(polls, sizeof polls, "%d", st.polls);
    snprintf(rows, sizeof rows, "%lld", (long long)st.records);
    log_kv(rc == 0 ? LOG_INFO : LOG_WARN, "marketo bulk member export", "program_id", pid,
           "export_id", st.export_id, "status_polls", polls, "members", rows, "error",
           rc == 0 ? "" : f.msg, NULL);
    return rc == 0 ? GRPC_STATUS_OK : fail(call, &f);
}

/* Members updated in [from, to), one query per window of <= 7 days. */
static int stream_windows(rpc_call *call, int64_t program_id, int64_t from, int64_t to)
{
    mkto_window *w = NULL;
    size_t nw = 0;
    mkto_err me = {{0}};
    mkto_failure f = {0};
    if (mkto_windows(from, to, &w, &nw, &me) != 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "%s", me.msg);
    for (size_t i = 0; i < nw; i++) {
        /* Marketo's endAt is inclusive and whole seconds: stop a second
         * short so the next window's startAt is not read twice. */
        member_query q = {
            .filter_type = "updatedAt", .start_ms = w[i].start_ms, .end_ms = w[i].end_ms - 1000};
        if (stream_member_query(call, program_id, &q, &f) != 0) {
            free(w);
            return fail(call, &f);
        }
    }
    free(w);
    return GRPC_STATUS_OK;
}

static int stream_program_members(rpc_call *call, const ProtobufCMessage *request)
{
    const Campsync__V1__StreamProgramMembersRequest *rq = (const void *)request;
    if (rq->program_id <= 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "program_id must be > 0 (got %lld)", (long long)rq->program_id);
    bool window = rq->updated_from_ms != 0 || rq->updated_to_ms != 0;
    if (window && rq->n_lead_ids > 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "give lead_ids or an updated window, not both");
    int rc = check_ids(call, "lead_ids", rq->lead_ids, rq->n_lead_ids);
    if (rc != 0)
        return rc;
    mkto_failure f = {0};
    if (rq->n_lead_ids > 0) {
        size_t n = 0;
        int64_t *ids = sorted_unique_ids(call, rq->lead_ids, rq->n_lead_ids, &n);
        for (size_t i = 0; i < mkto_batch_count(n); i++) {
            size_t off, len;
            mkto_batch_range(i, n, &off, &len);
            member_query q = {.filter_type = "leadId", .ids = ids + off, .n_ids = len};
            if (stream_member_query(call, rq->program_id, &q, &f) != 0)
                return fail(call, &f);
        }
        return GRPC_STATUS_OK;
    }
    if (window) {
        int64_t from = rq->updated_from_ms;
        int64_t to = rq->updated_to_ms ? rq->updated_to_ms : mkto_wall_ms();
        if (from <= 0 || to <= from)
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                                 "the updated window [%lld, %lld) is empty or starts at 0",
                                 (long long)from, (long long)to);
        return stream_windows(call, rq->program_id, from, to);
    }
    /* Every member: reachedSuccess is true or false, one paged query.
     * Marketo serves non-leadId filters only for programs of up to 100,000
     * members and refuses larger ones on the first page (nothing sent yet):
     * those are read through a bulk export instead. */
    member_query q = {.filter_type = "reachedSuccess"};
    if (stream_member_query(call, rq->program_id, &q, &f) != 0)
        return mkto_bulk_needed(&f) ? stream_bulk(call, rq->program_id) : fail(call, &f);
    return GRPC_STATUS_OK;
}

/* ---- membership writes ---- */

/* status_name NULL: remove. Each distinct lead is sent once; a repeated id
 * gets its first occurrence's result. */
static int member_writes(rpc_call *call, int64_t program_id, const char *status_name,
                         const int64_t *ids, size_t n, ProtobufCMessage **response)
{
    if (program_id <= 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "program_id must be > 0 (got %lld)", (long long)program_id);
    if (n == 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "lead_ids is empty");
    int rc = check_ids(call, "lead_ids", ids, n);
    if (rc != 0)
        return rc;
    int64_t *uniq;
    size_t nu, *slot;
    if (order_unique_ids(call, ids, n, &uniq, &nu, &slot) != 0)
        return oom(call);
    char **keys = rpc_call_alloc(call, nu * sizeof *keys);
    for (size_t i = 0; i < nu; i++) {
        char k[24];
        snprintf(k, sizeof k, "%lld", (long long)uniq[i]);
        keys[i] = rpc_call_strdup(call, k);
    }
    Campsync__V1__BatchResult *acc = new_adopted(call, &campsync__v1__batch_result__descriptor);
    if (!acc)
        return oom(call);
    char path[96];
    const char *endpoint;
    if (status_name) {
        snprintf(path, sizeof path, "/rest/v1/programs/%lld/members/status.json",
                 (long long)program_id);
        endpoint = "POST /rest/v1/programs/{id}/members/status.json";
    } else {
        snprintf(path, sizeof path, "/rest/v1/programs/%lld/members/delete.json",
                 (long long)program_id);
        endpoint = "POST /rest/v1/programs/{id}/members/delete.json";
    }
    for (size_t b = 0; b < mkto_batch_count(nu); b++) {
        size_t off, len;
        mkto_batch_range(b, nu, &off, &len);
        mkto_err me = {{0}};
        char *body = status_name ? mkto_body_member_status(status_name, uniq + off, len, &me)
                                 : mkto_body_member_remove(uniq + off, len, &me);
        if (!body)
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "%s", me.msg);
        mkto_envelope env;
        mkto_failure f = {0};
        rc = call_marketo(call, path, NULL, body, endpoint, &env, &f);
        free(body);
        if (rc != 0)
            return fail(call, &f);
        rc = mkto_record_results_append(&env, status_name ? MKTO_OP_STATUS : MKTO_OP_REMOVE,
                                        (const char *const *)keys + off, len, (int32_t)off, acc,
                                        &me);
        mkto_envelope_clear(&env);
        if (rc != 0)
            return unreadable(call, "membership", &me);
    }
    if (nu == n) {
        *response = &acc->base;
        return GRPC_STATUS_OK;
    }
    /* Repeated ids: one result per request position, pointing into acc. */
    Campsync__V1__BatchResult *out = rpc_call_alloc(call, sizeof *out);
    campsync__v1__batch_result__init(out);
    out->results = rpc_call_alloc(call, n * sizeof *out->results);
    out->n_results = n;
    for (size_t i = 0; i < n; i++) {
        Campsync__V1__RecordResult *r = rpc_call_alloc(call, sizeof *r);
        *r = *acc->results[slot[i]];
        r->index = (int32_t)i;
        out->results[i] = r;
    }
    batch_result_recount(out);
    out->api_calls = acc->api_calls;
    *response = &out->base;
    return GRPC_STATUS_OK;
}

static int set_member_status(rpc_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response)
{
    const Campsync__V1__SetMemberStatusRequest *rq = (const void *)request;
    if (!rq->status_name || !rq->status_name[0])
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "status_name is required (a status of the program's channel)");
    return member_writes(call, rq->program_id, rq->status_name, rq->lead_ids, rq->n_lead_ids,
                         response);
}

static int remove_members(rpc_call *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response)
{
    const Campsync__V1__RemoveMembersRequest *rq = (const void *)request;
    return member_writes(call, rq->program_id, NULL, rq->lead_ids, rq->n_lead_ids, response);
}

/* ---- leads ---- */

/* One lookup: filterType with either ids or strings (already distinct). */
static int leads_lookup(rpc_call *call, const char *filter_type, const int64_t *ids,
                        const char *const *strs, size_t n, Campsync__V1__GetLeadsResponse *out)
{
    for (size_t b = 0; b < mkto_batch_count(n); b++) {
        size_t off, len;
        mkto_batch_range(b, n, &off, &len);
        char *token = NULL;
        do {
            mkto_err me = {{0}};
            mkto_params *p = mkto_params_new();
            int bad = !p || mkto_params_add(p, "filterType", filter_type, &me) != 0 ||
                      (ids ? mkto_params_add_ints(p, "filterValues", ids + off, len, &me)
                           : mkto_params_add_strs(p, "filterValues", strs + off, len, &me)) != 0 ||
                      mkto_params_add_strs(p, "fields", lead_fields, N(lead_fields), &me) != 0 ||
                      mkto_params_add_int(p, "batchSize", PAGE, &me) != 0 ||
                      (token && mkto_params_add(p, "nextPageToken", token, &me) != 0);
            free(token);
            token = NULL;
            if (bad)
                return params_failed(call, p, &me);
            mkto_envelope env;
            mkto_failure f = {0};
            int rc = call_marketo(call, "/rest/v1/leads.json", p, NULL, "GET /rest/v1/leads.json",
                                  &env, &f);
            mkto_params_free(p);
            if (rc != 0)
                return fail(call, &f);
            rc = mkto_leads_append(&env, out, &me);
            if (rc == 0 && env.more_result && env.next_page_token && env.next_page_token[0])
                token = strdup(env.next_page_token);
            mkto_envelope_clear(&env);
            if (rc != 0)
                return unreadable(call, "leads", &me);
        } while (token);
    }
    return 0;
}

/* Drops leads found twice (by id and by email, say), keeping the first. */
static void drop_repeated_leads(Campsync__V1__GetLeadsResponse *out)
{
    size_t n = out->n_leads;
    if (n < 2)
        return;
    id_pos *v = malloc(n * sizeof *v);
    unsigned char *drop = calloc(n, 1);
    if (!v || !drop) {
        free(v);
        free(drop);
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (id_pos){out->leads[i]->id, i};
    qsort(v, n, sizeof *v, cmp_id_pos);
    for (size_t i = 1; i < n; i++)
        if (v[i].id == v[i - 1].id)
            drop[v[i].idx] = 1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (drop[i])
            protobuf_c_message_free_unpacked(&out->leads[i]->base, NULL);
        else
            out->leads[k++] = out->leads[i];
    }
    out->n_leads = k;
    free(v);
    free(drop);
}

static int get_leads(rpc_call *call, const ProtobufCMessage *request, ProtobufCMessage **response)
{
    const Campsync__V1__GetLeadsRequest *rq = (const void *)request;
    if (rq->n_ids + rq->n_emails + rq->n_sfdc_lead_ids + rq->n_sfdc_contact_ids == 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "give ids, emails, sfdc_lead_ids or sfdc_contact_ids");
    int rc = check_ids(call, "ids", rq->ids, rq->n_ids);
    for (size_t i = 0; rc == 0 && i < rq->n_emails; i++)
        rc = check_email(call, "emails", i, rq->emails[i]);
    for (size_t i = 0; rc == 0 && i < rq->n_sfdc_lead_ids; i++)
        rc = check_sfdc_id(call, "sfdc_lead_ids", i, rq->sfdc_lead_ids[i]);
    for (size_t i = 0; rc == 0 && i < rq->n_sfdc_contact_ids; i++)
        rc = check_sfdc_id(call, "sfdc_contact_ids", i, rq->sfdc_contact_ids[i]);
    if (rc != 0)
        return rc;
    Campsync__V1__GetLeadsResponse *out =
        new_adopted(call, &campsync__v1__get_leads_response__descriptor);
    if (!out)
        return oom(call);
    size_t n;
    if (rq->n_ids) {
        int64_t *ids = sorted_unique_ids(call, rq->ids, rq->n_ids, &n);
        if ((rc = leads_lookup(call, "id", ids, NULL, n, out)) != 0)
            return rc;
    }
    if (rq->n_emails) {
        const char **v = sorted_unique_strs(call, rq->emails, rq->n_emails, true, &n);
        if ((rc = leads_lookup(call, "email", NULL, v, n, out)) != 0)
            return rc;
    }
    if (rq->n_sfdc_lead_ids) {
        const char **v =
            sorted_unique_strs(call, rq->sfdc_lead_ids, rq->n_sfdc_lead_ids, false, &n);
        if ((rc = leads_lookup(call, "sfdcLeadId", NULL, v, n, out)) != 0)
            return rc;
    }
    if (rq->n_sfdc_contact_ids) {
        const char **v =
            sorted_unique_strs(call, rq->sfdc_contact_ids, rq->n_sfdc_contact_ids, false, &n);
        if ((rc = leads_lookup(call, "sfdcContactId", NULL, v, n, out)) != 0)
            return rc;
    }
    drop_repeated_leads(out);
    *response = &out->base;
    return GRPC_STATUS_OK;
}

typedef struct lead_lock {
    char name[256];
    int64_t token;
} lead_lock;

static void unlock_leads(lead_lock *locks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!locks[i].token)
            continue;
        int released = 0;
        rds_err re = {0};
        if (rds_lock_release(LEAD_LOCK_SCOPE, locks[i].name, locks[i].token, &released, &re) != 0)
            log_kv(LOG_WARN, "marketo lead lock not released (it expires)", "error", re.msg, NULL);
        locks[i].token = 0;
    }
}

static int cmp_lock(const void *a, const void *b)
{
    return strcmp(((const lead_lock *)a)->name, ((const lead_lock *)b)->name);
}

/* Takes the per-email locks of one batch, in name order (two replicas with
 * overlapping batches then cannot wait on each other in a cycle), waiting
 * for holders until the call's deadline. */
static int lock_leads(rpc_call *call, Campsync__V1__Lead *const *leads, size_t n, lead_lock *locks,
                      mkto_failure *f)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(locks[i].name, sizeof locks[i].name, "%s", leads[i]->email);
        for (char *p = locks[i].name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        locks[i].token = 0;
    }
    qsort(locks, n, sizeof *locks, cmp_lock);
    mkto_ctx ctx = ctx_of(call);
    for (size_t i = 0; i < n; i++) {
        for (;;) {
            rds_err re = {0};
            if (rds_lock_acquire(LEAD_LOCK_SCOPE, locks[i].name, LEAD_LOCK_TTL_MS, &locks[i].token,
                                 &re) != 0) {
                unlock_leads(locks, i);
                return mkto_fail(f, GRPC_STATUS_UNAVAILABLE,
                                 "marketo upsert: the per-email lock in Redis is unreachable "
                                 "(%s); not sending, so no duplicate person can be created",
                                 re.msg);
            }
            if (locks[i].token)
                break;
            if (rpc_call_cancelled(call) || http_now_ms() + 50 >= ctx.deadline_ms) {
                unlock_leads(locks, i);
                return mkto_fail(f, GRPC_STATUS_DEADLINE_EXCEEDED,
                                 "marketo upsert: %s is being written by another replica and "
                                 "its lock did not free up before the deadline",
                                 locks[i].name);
            }
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (20 + random() % 30) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

static int upsert_leads(rpc_call *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response)
{
    const Campsync__V1__UpsertLeadsRequest *rq = (const void *)request;
    size_t n = rq->n_leads;
    if (n == 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "leads is empty");
    for (size_t i = 0; i < n; i++) {
        int rc = check_email(call, "leads", i, rq->leads[i]->email);
        if (rc != 0)
            return rc;
    }
    /* One person once per request: a repeated email is the caller's bug. */
    const char **emails = rpc_call_alloc(call, n * sizeof *emails);
    for (size_t i = 0; i < n; i++)
        emails[i] = rq->leads[i]->email;
    size_t nu = 0;
    sorted_unique_strs(call, (char *const *)emails, n, true, &nu);
    if (nu != n)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "leads: %zu emails appear more than once (case-insensitive); send "
                             "each person once",
                             n - nu);
    Campsync__V1__BatchResult *acc = new_adopted(call, &campsync__v1__batch_result__descriptor);
    if (!acc)
        return oom(call);
    lead_lock *locks =
        rpc_call_alloc(call, (n < MKTO_BATCH_MAX ? n : MKTO_BATCH_MAX) * sizeof *locks);
    for (size_t b = 0; b < mkto_batch_count(n); b++) {
        size_t off, len;
        mkto_batch_range(b, n, &off, &len);
        mkto_err me = {{0}};
        char *body = mkto_body_leads_upsert(rq->leads + off, len, &me);
        if (!body)
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "%s", me.msg);
        mkto_failure f = {0};
        if (lock_leads(call, rq->leads + off, len, locks, &f) != 0) {
            free(body);
            return fail(call, &f);
        }
        mkto_envelope env;
        int rc = call_marketo(call, "/rest/v1/leads.json", NULL, body, "POST /rest/v1/leads.json",
                              &env, &f);
        unlock_leads(locks, len);
        free(body);
        if (rc != 0)
            return fail(call, &f);
        rc = mkto_record_results_append(&env, MKTO_OP_UPSERT, emails + off, len, (int32_t)off, acc,
                                        &me);
        mkto_envelope_clear(&env);
        if (rc != 0)
            return unreadable(call, "leads", &me);
    }
    *response = &acc->base;
    return GRPC_STATUS_OK;
}

/* ---- activities (stream) ---- */

/* Copies the activity types (fetched at most hourly) into call memory. */
static int activity_types(rpc_call *call, mkto_activity_type **types, size_t *n)
{
    mkto_service *s = svc_of(call);
    pthread_mutex_lock(&s->types_mu);
    bool fresh = s->types_at && http_now_ms() - s->types_at < TYPES_TTL_MS;
    pthread_mutex_unlock(&s->types_mu);
    if (!fresh) {
        mkto_envelope env;
        mkto_failure f = {0};
        if (call_marketo(call, "/rest/v1/activities/types.json", NULL, NULL,
                         "GET /rest/v1/activities/types.json", &env, &f) != 0)
            return fail(call, &f);
        mkto_activity_type *t = NULL;
        size_t nt = 0;
        mkto_err me = {{0}};
        int rc = mkto_activity_types_parse(&env, &t, &nt, &me);
        mkto_envelope_clear(&env);
        if (rc != 0)
            return unreadable(call, "activity types", &me);
        pthread_mutex_lock(&s->types_mu);
        mkto_activity_types_free(s->types, s->n_types);
        s->types = t;
        s->n_types = nt;
        s->types_at = http_now_ms();
        pthread_mutex_unlock(&s->types_mu);
    }
    pthread_mutex_lock(&s->types_mu);
    *n = s->n_types;
    *types = rpc_call_alloc(call, (*n ? *n : 1) * sizeof **types);
    for (size_t i = 0; i < *n; i++) {
        (*types)[i].id = s->types[i].id;
        (*types)[i].name = rpc_call_strdup(call, s->types[i].name ? s->types[i].name : "");
    }
    pthread_mutex_unlock(&s->types_mu);
    return 0;
}

static int stream_activities(rpc_call *call, const ProtobufCMessage *request)
{
    const Campsync__V1__StreamActivitiesRequest *rq = (const void *)request;
    bool has_cursor = rq->cursor && rq->cursor[0];
    if (!has_cursor && rq->since_ms <= 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "give a cursor from an earlier page or since_ms > 0");
    if (rq->n_activity_types > MAX_ACTIVITY_TYPES)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "activity_types: %zu given, Marketo takes at most %d",
                             rq->n_activity_types, MAX_ACTIVITY_TYPES);
    if (rq->n_lead_ids > MAX_ACTIVITY_LEADS)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                             "lead_ids: %zu given, Marketo's feed filters at most %d",
                             rq->n_lead_ids, MAX_ACTIVITY_LEADS);
    int rc = check_ids(call, "lead_ids", rq->lead_ids, rq->n_lead_ids);
    if (rc != 0)
        return rc;
    mkto_activity_type *types = NULL;
    size_t nt = 0;
    if ((rc = activity_types(call, &types, &nt)) != 0)
        return rc;
    /* Names -> ids. */
    bool defaults = rq->n_activity_types == 0;
    size_t nwant = defaults ? N(default_activity_types) : rq->n_activity_types;
    int64_t type_ids[MAX_ACTIVITY_TYPES];
    size_t nids = 0;
    for (size_t i = 0; i < nwant; i++) {
        const char *want = defaults ? default_activity_types[i] : rq->activity_types[i];
        size_t k = 0;
        while (k < nt && strcasecmp(types[k].name, want) != 0)
            k++;
        if (k == nt) {
            if (defaults)
                continue;
            return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                                 "activity_types[%zu]: \"%.80s\" is not an activity type of this "
                                 "Marketo subscription",
                                 i, want);
        }
        bool seen = false;
        for (size_t j = 0; j < nids; j++)
            seen = seen || type_ids[j] == types[k].id;
        if (!seen)
            type_ids[nids++] = types[k].id;
    }
    if (nids == 0)
        return rpc_call_fail(call, GRPC_STATUS_FAILED_PRECONDITION,
                             "this Marketo subscription has none of the default activity types; "
                             "name them in activity_types");
    mkto_failure f = {0};
    char *token = NULL;
    if (has_cursor) {
        token = strdup(rq->cursor);
    } else {
        mkto_err me = {{0}};
        mkto_params *p = mkto_params_new();
        if (!p || mkto_params_add_time(p, "sinceDatetime", rq->since_ms, &me) != 0)
            return params_failed(call, p, &me);
        mkto_envelope env;
        rc = call_marketo(call, "/rest/v1/activities/pagingtoken.json", p, NULL,
                          "GET /rest/v1/activities/pagingtoken.json", &env, &f);
        mkto_params_free(p);
        if (rc != 0)
            return fail(call, &f);
        if (env.next_page_token && env.next_page_token[0])
            token = strdup(env.next_page_token);
        mkto_envelope_clear(&env);
        if (!token)
            return rpc_call_fail(call, GRPC_STATUS_UNAVAILABLE,
                                 "marketo paging token answer had no nextPageToken");
    }
    for (;;) {
        mkto_err me = {{0}};
        mkto_params *p = mkto_params_new();
        int bad = !p || !token || mkto_params_add(p, "nextPageToken", token, &me) != 0 ||
                  mkto_params_add_ints(p, "activityTypeIds", type_ids, nids, &me) != 0 ||
                  (rq->n_lead_ids > 0 &&
                   mkto_params_add_ints(p, "leadIds", rq->lead_ids, rq->n_lead_ids, &me) != 0) ||
                  mkto_params_add_int(p, "batchSize", PAGE, &me) != 0;
        free(token);
        token = NULL;
        if (bad)
            return params_failed(call, p, &me);
        mkto_envelope env;
        rc = call_marketo(call, "/rest/v1/activities.json", p, NULL, "GET /rest/v1/activities.json",
                          &env, &f);
        mkto_params_free(p);
        if (rc != 0)
            return fail(call, &f);
        Campsync__V1__ActivityPage *page = NULL;
        rc = mkto_activity_page(&env, types, nt, &page, &me);
        mkto_envelope_clear(&env);
        if (rc != 0)
            return unreadable(call, "activities", &me);
        bool more = page->more && page->next_cursor && page->next_cursor[0];
        if (more)
            token = strdup(page->next_cursor);
        /* Empty pages in the middle carry nothing; the last one carries the
         * cursor to resume from, so it is always sent. */
        rc = page->n_activities > 0 || !more ? rpc_call_send(call, &page->base) : 0;
        protobuf_c_message_free_unpacked(&page->base, NULL);
        if (rc != 0) {
            free(token);
            return GRPC_STATUS_CANCELLED;
        }
        if (!more)
            return GRPC_STATUS_OK;
        if (!token)
            return oom(call);
    }
}

/* ---- usage ---- */

typedef struct usage_acc {
    rpc_call *call;
    Campsync__V1__ApiUsage *out;
    size_t cap;
} usage_acc;

static void add_endpoint(void *ud, const char *endpoint, int64_t calls)
{
    usage_acc *a = ud;
    if (a->out->n_calls_by_endpoint == a->cap)
        return;
    Campsync__V1__ApiUsage__CallsByEndpointEntry *e = rpc_call_alloc(a->call, sizeof *e);
    campsync__v1__api_usage__calls_by_endpoint_entry__init(e);
    e->key = rpc_call_strdup(a->call, endpoint);
    e->value = calls;
    a->out->calls_by_endpoint[a->out->n_calls_by_endpoint++] = e;
}

static int get_usage(rpc_call *call, const ProtobufCMessage *request, ProtobufCMessage **response)
{
    (void)request;
    Campsync__V1__ApiUsage *out = rpc_call_alloc(call, sizeof *out);
    campsync__v1__api_usage__init(out);
    usage_acc a = {.call = call, .out = out, .cap = 64};
    out->calls_by_endpoint = rpc_call_alloc(call, a.cap * sizeof *out->calls_by_endpoint);
    mkto_client_usage(svc_of(call)->client, &out->used, &out->limit, &out->resets_at_ms,
                      add_endpoint, &a);
    *response = &out->base;
    return GRPC_STATUS_OK;
}

const rpc_method mkto_methods[] = {
    RPC_BLOCKING("ListPrograms", list_programs),
    RPC_BLOCKING("GetProgram", get_program),
    RPC_BLOCKING("ListChannels", list_channels),
    RPC_STREAM("StreamProgramMembers", stream_program_members),
    RPC_BLOCKING("SetMemberStatus", set_member_status),
    RPC_BLOCKING("RemoveMembers", remove_members),
    RPC_BLOCKING("GetLeads", get_leads),
    RPC_BLOCKING("UpsertLeads", upsert_leads),
    RPC_STREAM("StreamActivities", stream_activities),
    RPC_BLOCKING("GetProgramCosts", get_program_costs),
    RPC_BLOCKING("GetUsage", get_usage),
};
const size_t mkto_n_methods = N(mkto_methods);
