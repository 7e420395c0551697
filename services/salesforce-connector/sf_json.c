/*
 * Salesforce JSON -> typed values (see sf_json.h for the rules on nulls,
 * times, money and message ownership).
 */
#include "sf_json.h"

#include "batch/batch_result.h"
#include "sf_fields.h"

#include "soql.h"

#include "json/json.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *sf_msg_new(const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = malloc(d->sizeof_message);
    if (m)
        d->message_init(m);
    return m;
}

static void msg_free(void *m)
{
    if (m)
        protobuf_c_message_free_unpacked((ProtobufCMessage *)m, NULL);
}

/* ---- times and money (common/json does the work) ---- */

int sf_parse_datetime(const char *s, int64_t *ms, sf_err *err)
{
    if (cj_parse_datetime(s, ms, NULL) == 0)
        return 0;
    if (!s)
        return sf_err_set(err, "invalid datetime: missing");
    /* Same rules as Marketo's; the example is in Salesforce's own format. */
    return sf_err_set(err, "invalid datetime '%.40s': expected like 2026-01-31T12:00:00.000+0000",
                      s);
}

void sf_format_datetime(int64_t ms, char *buf, size_t n)
{
    cj_format_datetime(ms, CJ_DATETIME_MS, buf, n);
}

int sf_decimal_to_minor(const char *text, int64_t *minor, sf_err *err)
{
    cj_error e;
    if (cj_decimal_to_minor(text, minor, &e) != 0)
        return sf_err_set(err, "%s", e.msg);
    return 0;
}

int sf_json_to_minor(const json_t *v, int64_t *minor, sf_err *err)
{
    cj_error e;
    if (cj_json_to_minor(v, 0, minor, &e) != 0)
        return sf_err_set(err, "%s", e.msg);
    return 0;
}

json_t *sf_minor_to_json(int64_t minor)
{
    return cj_minor_to_json(minor);
}

/* ---- field access ---- */

#define W(where) ((where) ? (where) : "record")

/*
 * The value at path ("Email" or "Lead.Email") or NULL when it, or a parent
 * relationship, is missing or null. A parent that is not an object fails.
 */
static int lookup(const json_t *rec, const char *path, const char *where, json_t **out, sf_err *err)
{
    const json_t *cur = rec;
    const char *p = path;
    *out = NULL;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!json_is_object(cur))
            return sf_err_set(err, "%s.%.*s: parent is a %s, not an object", W(where),
                              (int)(p - path + n), path, cj_kind(cur));
        json_t *v = json_object_getn(cur, p, n);
        if (!v || json_is_null(v))
            return 0;
        if (!dot) {
            *out = v;
            return 0;
        }
        cur = v;
        p = dot + 1;
    }
}

static int wrong(const char *where, const char *key, const char *want, const json_t *v, sf_err *err)
{
    return sf_err_set(err, "%s.%s: expected %s, got %s", W(where), key, want, cj_kind(v));
}

/* String field -> malloc'd copy in *dst; absent leaves *dst (the empty default). */
static int get_str(const json_t *rec, const char *key, const char *where, char **dst, sf_err *err)
{
    json_t *v;
    if (lookup(rec, key, where, &v, err) != 0)
        return -1;
    if (!v)
        return 0;
    if (!json_is_string(v))
        return wrong(where, key, "a string", v, err);
    if (json_string_length(v) == 0)
        return 0;
    char *s = strdup(json_string_value(v));
    if (!s)
        return sf_err_set(err, "out of memory");
    if (*dst != protobuf_c_empty_string)
        free(*dst);
    *dst = s;
    return 0;
}

static int get_bool(const json_t *rec, const char *key, const char *where, protobuf_c_boolean *dst,
                    sf_err *err)
{
    json_t *v;
    if (lookup(rec, key, where, &v, err) != 0)
        return -1;
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return wrong(where, key, "a boolean", v, err);
    *dst = json_is_true(v);
    return 0;
}

static int get_datetime(const json_t *rec, const char *key, const char *where, int64_t *dst,
                        sf_err *err)
{
    json_t *v;
    if (lookup(rec, key, where, &v, err) != 0)
        return -1;
    if (!v)
        return 0;
    if (!json_is_string(v))
        return wrong(where, key, "a datetime string", v, err);
    sf_err e;
    if (sf_parse_datetime(json_string_value(v), dst, &e) != 0)
        return sf_err_set(err, "%s.%s: %s", W(where), key, e.msg);
    return 0;
}

static int get_date(const json_t *rec, const char *key, const char *where, char **dst, sf_err *err)
{
    json_t *v;
    if (lookup(rec, key, where, &v, err) != 0)
        return -1;
    if (!v)
        return 0;
    sf_err e;
    if (!json_is_string(v))
        return wrong(where, key, "a date string", v, err);
    if (soql_check_date(json_string_value(v), &e) != 0)
        return sf_err_set(err, "%s.%s: %s", W(where), key, e.msg);
    return get_str(rec, key, where, dst, err);
}

static int get_money(const json_t *rec, const char *key, const char *where, int64_t *dst,
                     sf_err *err)
{
    json_t *v;
    if (lookup(rec, key, where, &v, err) != 0)
        return -1;
    if (!v)
        return 0;
    if (!json_is_number(v))
        return wrong(where, key, "a number", v, err);
    sf_err e;
    if (sf_json_to_minor(v, dst, &e) != 0)
        return sf_err_set(err, "%s.%s: %s", W(where), key, e.msg);
    return 0;
}

static int get_int32(const json_t *rec, const char *key, const char *where, int32_t *dst,
                     sf_err *err)
{
    json_t *v;
    if (lookup(rec, key, where, &v, err) != 0)
        return -1;
    if (!v)
        return 0;
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v))
        d = json_real_value(v);
    else
        return wrong(where, key, "a number", v, err);
    if (d != (double)(int32_t)d || d > INT32_MAX || d < INT32_MIN)
        return sf_err_set(err, "%s.%s: %g is not a 32-bit whole number", W(where), key, d);
    *dst = (int32_t)d;
    return 0;
}

static int need_object(const json_t *rec, const char *where, sf_err *err)
{
    if (!json_is_object(rec))
        return sf_err_set(err, "%s: expected an object, got %s", W(where), cj_kind(rec));
    return 0;
}

/* ---- records ---- */

int sf_campaign_from_json(const json_t *rec, const char *where, Campsync__V1__Campaign **out,
                          sf_err *err)
{
    *out = NULL;
    if (need_object(rec, where, err) != 0)
        return -1;
    Campsync__V1__Campaign *c = sf_msg_new(&campsync__v1__campaign__descriptor);
    if (!c)
        return sf_err_set(err, "out of memory");
    if (get_str(rec, "Id", where, &c->id, err) || get_str(rec, "Name", where, &c->name, err) ||
        get_str(rec, "Type", where, &c->type, err) ||
        get_str(rec, "Status", where, &c->status, err) ||
        get_bool(rec, "IsActive", where, &c->is_active, err) ||
        get_money(rec, "ActualCost", where, &c->actual_cost_minor, err) ||
        get_date(rec, "StartDate", where, &c->start_date, err) ||
        get_date(rec, "EndDate", where, &c->end_date, err) ||
        get_datetime(rec, "SystemModstamp", where, &c->system_modstamp_ms, err) ||
        get_str(rec, sf_fields()->enable_buyer_touchpoints, where, &c->enable_buyer_touchpoints,
                err) ||
        get_date(rec, sf_fields()->touchpoint_start_date, where, &c->touchpoint_start_date, err) ||
        get_date(rec, sf_fields()->touchpoint_end_date, where, &c->touchpoint_end_date, err)) {
        msg_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int sf_member_from_json(const json_t *rec, const char *where, Campsync__V1__CampaignMember **out,
                        sf_err *err)
{
    *out = NULL;
    if (need_object(rec, where, err) != 0)
        return -1;
    Campsync__V1__CampaignMember *m = sf_msg_new(&campsync__v1__campaign_member__descriptor);
    if (!m)
        return sf_err_set(err, "out of memory");
    if (get_str(rec, "Id", where, &m->id, err) ||
        get_str(rec, "CampaignId", where, &m->campaign_id, err) ||
        get_str(rec, "LeadId", where, &m->lead_id, err) ||
        get_str(rec, "ContactId", where, &m->contact_id, err) ||
        get_str(rec, "Status", where, &m->status, err) ||
        get_bool(rec, "HasResponded", where, &m->has_responded, err) ||
        get_datetime(rec, "FirstRespondedDate", where, &m->first_responded_date_ms, err) ||
        get_datetime(rec, "CreatedDate", where, &m->created_date_ms, err) ||
        get_datetime(rec, "LastModifiedDate", where, &m->last_modified_ms, err) ||
        get_datetime(rec, "SystemModstamp", where, &m->system_modstamp_ms, err) ||
        get_bool(rec, "IsDeleted", where, &m->is_deleted, err) ||
        get_str(rec, "Contact.Email", where, &m->email, err) ||
        get_str(rec, "Lead.Email", where, &m->email, err) ||
        get_str(rec, "Email", where, &m->email, err) ||
        get_str(rec, "Contact.AccountId", where, &m->account_id, err) ||
        get_date(rec, sf_fields()->buyer_touchpoint_date, where, &m->buyer_touchpoint_date, err)) {
        msg_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

int sf_member_status_from_json(const json_t *rec, const char *where,
                               Campsync__V1__MemberStatus **out, sf_err *err)
{
    *out = NULL;
    if (need_object(rec, where, err) != 0)
        return -1;
    Campsync__V1__MemberStatus *s = sf_msg_new(&campsync__v1__member_status__descriptor);
    if (!s)
        return sf_err_set(err, "out of memory");
    if (get_str(rec, "Id", where, &s->id, err) || get_str(rec, "Label", where, &s->label, err) ||
        get_int32(rec, "SortOrder", where, &s->sort_order, err) ||
        get_bool(rec, "IsDefault", where, &s->is_default, err) ||
        get_bool(rec, "HasResponded", where, &s->has_responded, err)) {
        msg_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int sf_person_from_json(const json_t *rec, const char *where, const char *kind,
                        Campsync__V1__Person **out, sf_err *err)
{
    *out = NULL;
    if (need_object(rec, where, err) != 0)
        return -1;
    Campsync__V1__Person *p = sf_msg_new(&campsync__v1__person__descriptor);
    if (!p)
        return sf_err_set(err, "out of memory");
    json_t *type = NULL;
    lookup(rec, "attributes.type", where, &type, NULL);
    const char *k = json_is_string(type) ? json_string_value(type) : kind;
    if (k && *k && !(p->kind = strdup(k))) {
        p->kind = (char *)protobuf_c_empty_string;
        msg_free(p);
        return sf_err_set(err, "out of memory");
    }
    if (get_str(rec, "Id", where, &p->id, err) || get_str(rec, "Email", where, &p->email, err) ||
        get_str(rec, "FirstName", where, &p->first_name, err) ||
        get_str(rec, "LastName", where, &p->last_name, err) ||
        get_str(rec, "Company", where, &p->company, err) ||
        get_str(rec, "AccountId", where, &p->account_id, err) ||
        get_bool(rec, "IsConverted", where, &p->is_converted, err) ||
        get_str(rec, "ConvertedContactId", where, &p->converted_contact_id, err) ||
        get_datetime(rec, "CreatedDate", where, &p->created_date_ms, err)) {
        msg_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

int sf_opportunity_from_json(const json_t *rec, const char *where, Campsync__V1__Opportunity **out,
                             sf_err *err)
{
    *out = NULL;
    if (need_object(rec, where, err) != 0)
        return -1;
    Campsync__V1__Opportunity *o = sf_msg_new(&campsync__v1__opportunity__descriptor);
    if (!o)
        return sf_err_set(err, "out of memory");
    if (get_str(rec, "Id", where, &o->id, err) ||
        get_str(rec, "AccountId", where, &o->account_id, err) ||
        get_money(rec, "Amount", where, &o->amount_minor, err) ||
        get_datetime(rec, "CreatedDate", where, &o->created_date_ms, err) ||
        get_date(rec, "CloseDate", where, &o->close_date, err) ||
        get_bool(rec, "IsClosed", where, &o->is_closed, err) ||
        get_bool(rec, "IsWon", where, &o->is_won, err) ||
        get_str(rec, "Name", where, &o->name, err)) {
        msg_free(o);
        return -1;
    }
    *out = o;
    return 0;
}

int sf_user_from_json(const json_t *rec, const char *where, Campsync__V1__MarketingUserCheck **out,
                      sf_err *err)
{
    *out = NULL;
    if (need_object(rec, where, err) != 0)
        return -1;
    Campsync__V1__MarketingUserCheck *u =
        sf_msg_new(&campsync__v1__marketing_user_check__descriptor);
    if (!u)
        return sf_err_set(err, "out of memory");
    if (get_str(rec, "Id", where, &u->user_id, err) ||
        get_str(rec, "Username", where, &u->username, err) ||
        get_bool(rec, "UserPermissionsMarketingUser", where, &u->is_marketing_user, err)) {
        msg_free(u);
        return -1;
    }
    *out = u;
    return 0;
}

/* ---- pages ---- */

static bool safe_path(const char *s)
{
    if (strncmp(s, "/services/data/", 15) != 0 || strstr(s, ".."))
        return false;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '/' || *p == '.' || *p == '-' || *p == '_'))
            return false;
    return true;
}

int sf_page_parse(const char *body, size_t len, sf_page *page, sf_err *err)
{
    memset(page, 0, sizeof *page);
    json_error_t je;
    json_t *doc = json_loadb(body ? body : "", len, 0, &je);
    if (!doc)
        return sf_err_set(err, "query answer is not JSON: %s (line %d, column %d)", je.text,
                          je.line, je.column);
    json_t *ts = json_object_get(doc, "totalSize"), *done = json_object_get(doc, "done");
    json_t *recs = json_object_get(doc, "records"), *next = json_object_get(doc, "nextRecordsUrl");
    int rc = -1;
    if (!json_is_object(doc))
        sf_err_set(err, "query answer: expected an object, got %s", cj_kind(doc));
    else if (!json_is_integer(ts) || json_integer_value(ts) < 0)
        sf_err_set(err, "query answer: totalSize: expected a count, got %s", cj_kind(ts));
    else if (!json_is_boolean(done))
        sf_err_set(err, "query answer: done: expected a boolean, got %s", cj_kind(done));
    else if (!json_is_array(recs))
        sf_err_set(err, "query answer: records: expected an array, got %s", cj_kind(recs));
    else if (!json_is_true(done) && !json_is_string(next))
        sf_err_set(err, "query answer: nextRecordsUrl: expected a string when done is false");
    else if (!json_is_true(done) && !safe_path(json_string_value(next)))
        sf_err_set(err, "query answer: nextRecordsUrl '%.80s' is not a /services/data/ path",
                   json_string_value(next));
    else
        rc = 0;
    if (rc == 0) {
        page->total_size = json_integer_value(ts);
        page->done = json_is_true(done);
        if (!page->done && !(page->next_records_url = strdup(json_string_value(next))))
            rc = sf_err_set(err, "out of memory");
        page->records = json_incref(recs);
    }
    json_decref(doc);
    if (rc != 0)
        sf_page_clear(page);
    return rc;
}

void sf_page_clear(sf_page *page)
{
    free(page->next_records_url);
    json_decref(page->records);
    memset(page, 0, sizeof *page);
}

typedef int (*map_fn)(const json_t *rec, const char *where, const char *kind, void **out,
                      sf_err *err);

/* Maps every record of page with fn and appends the results to (*arr, *n) at once. */
static int append_all(const sf_page *page, map_fn fn, const char *kind, void ***arr, size_t *n,
                      sf_err *err)
{
    size_t count = json_array_size(page->records);
    if (count == 0)
        return 0;
    void **tmp = calloc(count, sizeof *tmp);
    if (!tmp)
        return sf_err_set(err, "out of memory");
    for (size_t i = 0; i < count; i++) {
        char where[32];
        snprintf(where, sizeof where, "records[%zu]", i);
        if (fn(json_array_get(page->records, i), where, kind, &tmp[i], err) != 0) {
            for (size_t j = 0; j < i; j++)
                msg_free(tmp[j]);
            free(tmp);
            return -1;
        }
    }
    void **grown = realloc(*arr, (*n + count) * sizeof *grown);
    if (!grown) {
        for (size_t j = 0; j < count; j++)
            msg_free(tmp[j]);
        free(tmp);
        return sf_err_set(err, "out of memory");
    }
    memcpy(grown + *n, tmp, count * sizeof *tmp);
    free(tmp);
    *arr = grown;
    *n += count;
    return 0;
}

static int map_campaign(const json_t *r, const char *w, const char *k, void **o, sf_err *e)
{
    (void)k;
    return sf_campaign_from_json(r, w, (Campsync__V1__Campaign **)o, e);
}

static int map_member(const json_t *r, const char *w, const char *k, void **o, sf_err *e)
{
    (void)k;
    return sf_member_from_json(r, w, (Campsync__V1__CampaignMember **)o, e);
}

static int map_status(const json_t *r, const char *w, const char *k, void **o, sf_err *e)
{
    (void)k;
    return sf_member_status_from_json(r, w, (Campsync__V1__MemberStatus **)o, e);
}

static int map_person(const json_t *r, const char *w, const char *k, void **o, sf_err *e)
{
    return sf_person_from_json(r, w, k, (Campsync__V1__Person **)o, e);
}

static int map_opportunity(const json_t *r, const char *w, const char *k, void **o, sf_err *e)
{
    (void)k;
    return sf_opportunity_from_json(r, w, (Campsync__V1__Opportunity **)o, e);
}

int sf_campaigns_append(const sf_page *page, Campsync__V1__CampaignList *list, sf_err *err)
{
    return append_all(page, map_campaign, NULL, (void ***)&list->campaigns, &list->n_campaigns,
                      err);
}

int sf_members_append(const sf_page *page, Campsync__V1__CampaignMemberPage *list, sf_err *err)
{
    return append_all(page, map_member, NULL, (void ***)&list->members, &list->n_members, err);
}

int sf_member_statuses_append(const sf_page *page, Campsync__V1__MemberStatusList *list,
                              sf_err *err)
{
    return append_all(page, map_status, NULL, (void ***)&list->statuses, &list->n_statuses, err);
}

int sf_people_append(const sf_page *page, const char *kind, Campsync__V1__PersonList *list,
                     sf_err *err)
{
    return append_all(page, map_person, kind, (void ***)&list->people, &list->n_people, err);
}

int sf_opportunities_append(const sf_page *page, Campsync__V1__OpportunityList *list, sf_err *err)
{
    return append_all(page, map_opportunity, NULL, (void ***)&list->opportunities,
                      &list->n_opportunities, err);
}

/* ---- OAuth ---- */

static char *dup_or_empty(const char *s, size_t n)
{
    return strndup(s ? s : "", s ? n : 0);
}

int sf_token_parse(const char *body, size_t len, sf_token *tok, sf_err *err)
{
    memset(tok, 0, sizeof *tok);
    json_error_t je;
    json_t *doc = json_loadb(body ? body : "", len, 0, &je);
    if (!doc)
        return sf_err_set(err, "token answer is not JSON: %s", je.text);
    json_t *at = json_object_get(doc, "access_token"), *iu = json_object_get(doc, "instance_url");
    json_t *id = json_object_get(doc, "id"), *tt = json_object_get(doc, "token_type");
    json_t *ia = json_object_get(doc, "issued_at");
    int rc = -1;
    if (!json_is_object(doc))
        sf_err_set(err, "token answer: expected an object, got %s", cj_kind(doc));
    else if (!json_is_string(at) || json_string_length(at) == 0)
        sf_err_set(err, "token answer: access_token: expected a non-empty string");
    else if (!json_is_string(iu) || (strncmp(json_string_value(iu), "https://", 8) != 0 &&
                                     strncmp(json_string_value(iu), "http://", 7) != 0))
        sf_err_set(err, "token answer: instance_url: expected an http(s) URL");
    else if ((id && !json_is_string(id)) || (tt && !json_is_string(tt)) ||
             (ia && !json_is_string(ia)))
        sf_err_set(err, "token answer: id, token_type and issued_at must be strings");
    else
        rc = 0;
    if (rc == 0) {
        const char *u = json_string_value(iu);
        size_t ul = strlen(u);
        while (ul > 0 && u[ul - 1] == '/')
            ul--;
        const char *idu = id ? json_string_value(id) : "";
        /* ".../id/<orgId>/<userId>" */
        const char *org = strstr(idu, "/id/"), *org_end = NULL;
        const char *user = NULL;
        if (org) {
            org += 4;
            org_end = strchr(org, '/');
            user = org_end ? org_end + 1 : NULL;
        }
        tok->access_token = strdup(json_string_value(at));
        tok->instance_url = strndup(u, ul);
        tok->id_url = strdup(idu);
        tok->org_id = dup_or_empty(org_end ? org : NULL, org_end ? (size_t)(org_end - org) : 0);
        tok->user_id = dup_or_empty(user, user ? strcspn(user, "/?") : 0);
        tok->token_type = strdup(tt ? json_string_value(tt) : "Bearer");
        if (ia) {
            char *end;
            long long v = strtoll(json_string_value(ia), &end, 10);
            tok->issued_at_ms = (*end || v < 0) ? 0 : v;
        }
        if (!tok->access_token || !tok->instance_url || !tok->id_url || !tok->org_id ||
            !tok->user_id || !tok->token_type) {
            sf_token_clear(tok);
            rc = sf_err_set(err, "out of memory");
        }
    }
    json_decref(doc);
    return rc;
}

void sf_token_clear(sf_token *tok)
{
    free(tok->access_token);
    free(tok->instance_url);
    free(tok->id_url);
    free(tok->org_id);
    free(tok->user_id);
    free(tok->token_type);
    memset(tok, 0, sizeof *tok);
}

/* ---- sObject Collections results ---- */

static Campsync__V1__Outcome success_outcome(sf_op op, bool created)
{
    switch (op) {
    case SF_OP_CREATE:
        return CAMPSYNC__V1__OUTCOME__OUTCOME_CREATED;
    case SF_OP_ADD_MEMBER:
        return CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED;
    case SF_OP_UPDATE:
        return CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED;
    case SF_OP_UPSERT:
        return created ? CAMPSYNC__V1__OUTCOME__OUTCOME_CREATED
                       : CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED;
    case SF_OP_DELETE:
        return CAMPSYNC__V1__OUTCOME__OUTCOME_DELETED;
    }
    return CAMPSYNC__V1__OUTCOME__OUTCOME_UNSPECIFIED;
}

/* One result object -> a RecordResult (NULL with err on a malformed entry). */
static Campsync__V1__RecordResult *map_result(const json_t *r, size_t i, sf_op op, const char *key,
                                              int32_t index, sf_err *err)
{
    char where[32];
    snprintf(where, sizeof where, "results[%zu]", i);
    if (need_object(r, where, err) != 0)
        return NULL;
    json_t *ok = json_object_get(r, "success"), *errs = json_object_get(r, "errors");
    if (!json_is_boolean(ok)) {
        sf_err_set(err, "%s.success: expected a boolean, got %s", where, cj_kind(ok));
        return NULL;
    }
    if (errs && !json_is_array(errs) && !json_is_null(errs)) {
        wrong(where, "errors", "an array", errs, err);
        return NULL;
    }
    Campsync__V1__RecordResult *rr = sf_msg_new(&campsync__v1__record_result__descriptor);
    if (!rr) {
        sf_err_set(err, "out of memory");
        return NULL;
    }
    rr->index = index;
    protobuf_c_boolean created = 0;
    if ((key && *key && !(rr->key = strdup(key))) || get_str(r, "id", where, &rr->id, err) ||
        get_bool(r, "created", where, &created, err))
        goto bad;
    if (json_is_true(ok)) {
        rr->outcome = success_outcome(op, created);
        return rr;
    }
    json_t *first = json_array_get(errs, 0);
    char reason[600] = "";
    if (first) {
        if (need_object(first, where, err) != 0 ||
            get_str(first, "statusCode", where, &rr->code, err))
            goto bad;
        json_t *msg = json_object_get(first, "message"), *fields = json_object_get(first, "fields");
        snprintf(reason, sizeof reason, "%s", json_is_string(msg) ? json_string_value(msg) : "");
        if (json_array_size(fields) > 0) {
            size_t used = strlen(reason);
            snprintf(reason + used, sizeof reason - used, " (fields:");
            size_t k;
            json_t *f;
            json_array_foreach(fields, k, f)
            {
                used = strlen(reason);
                if (json_is_string(f))
                    snprintf(reason + used, sizeof reason - used, "%s %s", k ? "," : "",
                             json_string_value(f));
            }
            used = strlen(reason);
            snprintf(reason + used, sizeof reason - used, ")");
        }
    } else {
        snprintf(reason, sizeof reason, "Salesforce reported failure without an error");
    }
    if (reason[0] && !(rr->reason = strdup(reason)))
        goto bad;
    rr->outcome = sf_record_failure_is_skip(op, rr->code) ? CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED
                                                          : CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED;
    return rr;
bad:
    if (!rr->key)
        rr->key = (char *)protobuf_c_empty_string;
    if (!rr->reason)
        rr->reason = (char *)protobuf_c_empty_string;
    if (!err->msg[0])
        sf_err_set(err, "out of memory");
    msg_free(rr);
    return NULL;
}

int sf_collection_results_append(const char *body, size_t len, sf_op op, const char *const *keys,
                                 size_t n_records, int32_t index_base,
                                 Campsync__V1__BatchResult *acc, sf_err *err)
{
    json_error_t je;
    sf_err local;
    if (!err)
        err = &local; /* map_result tells OOM from its own messages through err */
    err->msg[0] = '\0';
    json_t *doc = json_loadb(body ? body : "", len, 0, &je);
    if (!doc)
        return sf_err_set(err, "collection answer is not JSON: %s", je.text);
    if (!json_is_array(doc) || json_array_size(doc) != n_records) {
        sf_err_set(err, "collection answer: expected an array of %zu results, got %s of %zu",
                   n_records, cj_kind(doc), json_is_array(doc) ? json_array_size(doc) : 0);
        json_decref(doc);
        return -1;
    }
    Campsync__V1__RecordResult **tmp = calloc(n_records ? n_records : 1, sizeof *tmp);
    if (!tmp) {
        json_decref(doc);
        return sf_err_set(err, "out of memory");
    }
    size_t i;
    for (i = 0; i < n_records; i++) {
        tmp[i] = map_result(json_array_get(doc, i), i, op, keys ? keys[i] : NULL,
                            index_base + (int32_t)i, err);
        if (!tmp[i])
            break;
    }
    json_decref(doc);
    Campsync__V1__RecordResult **grown = NULL;
    if (i == n_records) {
        grown = realloc(acc->results, (acc->n_results + n_records) * sizeof *grown);
        if (!grown && n_records)
            sf_err_set(err, "out of memory");
    }
    if (i < n_records || (!grown && n_records)) {
        for (size_t j = 0; j < i; j++)
            msg_free(tmp[j]);
        free(tmp);
        return -1;
    }
    if (grown)
        acc->results = grown;
    for (size_t j = 0; j < n_records; j++) {
        acc->results[acc->n_results++] = tmp[j];
        batch_result_count(acc, tmp[j]->outcome);
    }
    acc->api_calls++;
    free(tmp);
    return 0;
}

int sf_create_result_parse(const char *body, size_t len, char **id, sf_err *err)
{
    *id = NULL;
    json_error_t je;
    json_t *doc = json_loadb(body ? body : "", len, 0, &je);
    if (!doc)
        return sf_err_set(err, "create answer is not JSON: %s", je.text);
    json_t *ok = json_object_get(doc, "success"), *jid = json_object_get(doc, "id");
    int rc = 0;
    if (!json_is_true(ok)) {
        json_t *first = json_array_get(json_object_get(doc, "errors"), 0);
        json_t *code = json_object_get(first, "statusCode"),
               *msg = json_object_get(first, "message");
        rc = sf_err_set(err, "create failed: %s: %s",
                        json_is_string(code) ? json_string_value(code) : "?",
                        json_is_string(msg) ? json_string_value(msg) : "no message");
    } else if (!json_is_string(jid) || soql_check_id(json_string_value(jid), err) != 0) {
        rc = sf_err_set(err, "create answer: id: expected a record id");
    } else if (!(*id = strdup(json_string_value(jid)))) {
        rc = sf_err_set(err, "out of memory");
    }
    json_decref(doc);
    return rc;
}
