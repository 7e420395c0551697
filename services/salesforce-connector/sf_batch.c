/*
 * sObject Collections request bodies and batching (see sf_batch.h).
 */
#include "sf_batch.h"
#include "sf_fields.h"

#include "sf_json.h"
#include "soql.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

size_t sf_batch_count(size_t n)
{
    return (n + SF_COLLECTION_MAX - 1) / SF_COLLECTION_MAX;
}

void sf_batch_range(size_t i, size_t n, size_t *offset, size_t *len)
{
    size_t off = i * SF_COLLECTION_MAX;
    *offset = off < n ? off : n;
    *len = n - *offset < SF_COLLECTION_MAX ? n - *offset : SF_COLLECTION_MAX;
}

char *sf_collections_path(const char *api_version, const char *sobject,
                          const char *external_id_field, sf_err *err)
{
    if (soql_check_version(api_version, err) != 0)
        return NULL;
    char *out = NULL;
    int rc;
    if (sobject || external_id_field) {
        if (!sobject || !external_id_field || soql_check_name(sobject, false, err) != 0 ||
            soql_check_name(external_id_field, false, err) != 0) {
            if (!sobject || !external_id_field)
                sf_err_set(err, "upsert path needs both an sObject and an external id field");
            return NULL;
        }
        rc = asprintf(&out, "/services/data/%s/composite/sobjects/%s/%s", api_version, sobject,
                      external_id_field);
    } else {
        rc = asprintf(&out, "/services/data/%s/composite/sobjects", api_version);
    }
    if (rc < 0) {
        sf_err_set(err, "out of memory");
        return NULL;
    }
    return out;
}

static int check_count(size_t n, sf_err *err)
{
    if (n == 0)
        return sf_err_set(err, "collection call with no records");
    if (n > SF_COLLECTION_MAX)
        return sf_err_set(err, "collection call with %zu records; at most %d per call", n,
                          SF_COLLECTION_MAX);
    return 0;
}

/* {"attributes":{"type":type}} */
static json_t *new_record(const char *type)
{
    return json_pack("{s:{s:s}}", "attributes", "type", type);
}

/* Sets key to the string v; fails (naming record i and key) on invalid UTF-8. */
static int put_str(json_t *rec, const char *key, const char *v, size_t i, sf_err *err)
{
    json_t *s = json_string(v ? v : "");
    if (!s)
        return sf_err_set(err, "records[%zu].%s: not valid UTF-8", i, key);
    json_object_set_new(rec, key, s);
    return 0;
}

/* Like put_str, but "" writes null (clears the field). */
static int put_str_or_null(json_t *rec, const char *key, const char *v, size_t i, sf_err *err)
{
    if (!v || !*v) {
        json_object_set_new(rec, key, json_null());
        return 0;
    }
    return put_str(rec, key, v, i, err);
}

static int put_id(json_t *rec, const char *key, const char *id, size_t i, sf_err *err)
{
    sf_err e;
    if (soql_check_id(id, &e) != 0)
        return sf_err_set(err, "records[%zu].%s: %s", i, key, e.msg);
    return put_str(rec, key, id, i, err);
}

/* A date field: "" writes null, anything else must be YYYY-MM-DD. */
static int put_date(json_t *rec, const char *key, const char *v, size_t i, sf_err *err)
{
    sf_err e;
    if (v && *v && soql_check_date(v, &e) != 0)
        return sf_err_set(err, "records[%zu].%s: %s", i, key, e.msg);
    return put_str_or_null(rec, key, v, i, err);
}

/* Wraps records into the collection body and prints it; consumes records. */
static char *finish(json_t *records, sf_err *err)
{
    json_t *body = json_pack("{s:b,s:o}", "allOrNone", 0, "records", records);
    char *out = body ? json_dumps(body, SF_JSON_DUMP_FLAGS) : NULL;
    json_decref(body);
    if (!out)
        sf_err_set(err, "out of memory");
    return out;
}

/* Appends rec to records; on a failed build (rc != 0) drops both. */
static int push(json_t *records, json_t *rec, int rc, sf_err *err)
{
    if (rc != 0 || !rec) {
        json_decref(rec);
        return rc != 0 ? rc : sf_err_set(err, "out of memory");
    }
    return json_array_append_new(records, rec) == 0 ? 0 : sf_err_set(err, "out of memory");
}

char *sf_body_add_members(const char *campaign_id, Campsync__V1__NewMember *const *members,
                          size_t n, sf_err *err)
{
    sf_err e;
    if (check_count(n, err) != 0)
        return NULL;
    if (soql_check_id(campaign_id, &e) != 0) {
        sf_err_set(err, "campaign_id: %s", e.msg);
        return NULL;
    }
    json_t *records = json_array();
    for (size_t i = 0; records && i < n; i++) {
        const Campsync__V1__NewMember *m = members[i];
        bool lead = m->lead_id && *m->lead_id, contact = m->contact_id && *m->contact_id;
        json_t *rec = new_record("CampaignMember");
        int rc = 0;
        if (lead == contact)
            rc =
                sf_err_set(err, "records[%zu]: exactly one of lead_id and contact_id is needed", i);
        if (rc == 0 && rec)
            rc = put_id(rec, "CampaignId", campaign_id, i, err) ||
                 (lead ? put_id(rec, "LeadId", m->lead_id, i, err)
                       : put_id(rec, "ContactId", m->contact_id, i, err)) ||
                 (m->status && *m->status && put_str(rec, "Status", m->status, i, err));
        if (push(records, rec, rc ? -1 : 0, err) != 0) {
            json_decref(records);
            return NULL;
        }
    }
    return finish(records, err);
}

char *sf_body_member_status_changes(Campsync__V1__MemberStatusChange *const *changes, size_t n,
                                    sf_err *err)
{
    if (check_count(n, err) != 0)
        return NULL;
    json_t *records = json_array();
    for (size_t i = 0; records && i < n; i++) {
        json_t *rec = new_record("CampaignMember");
        int rc = 0;
        if (!changes[i]->status || !*changes[i]->status)
            rc = sf_err_set(err, "records[%zu].Status: a status is required", i);
        if (rc == 0 && rec)
            rc = put_id(rec, "id", changes[i]->member_id, i, err) ||
                 put_str(rec, "Status", changes[i]->status, i, err);
        if (push(records, rec, rc ? -1 : 0, err) != 0) {
            json_decref(records);
            return NULL;
        }
    }
    return finish(records, err);
}

char *sf_body_campaign_updates(Campsync__V1__CampaignUpdate *const *updates, size_t n, sf_err *err)
{
    if (check_count(n, err) != 0)
        return NULL;
    json_t *records = json_array();
    for (size_t i = 0; records && i < n; i++) {
        const Campsync__V1__CampaignUpdate *u = updates[i];
        json_t *rec = new_record("Campaign");
        int rc = rec ? put_id(rec, "id", u->id, i, err) : 0;
        if (rc == 0 && rec && u->type)
            rc = put_str_or_null(rec, "Type", u->type->value, i, err);
        if (rc == 0 && rec && u->actual_cost_minor)
            json_object_set_new(rec, "ActualCost", sf_minor_to_json(u->actual_cost_minor->value));
        if (rc == 0 && rec && u->enable_buyer_touchpoints)
            rc = put_str_or_null(rec, sf_fields()->enable_buyer_touchpoints,
                                 u->enable_buyer_touchpoints->value, i, err);
        if (rc == 0 && rec && u->touchpoint_start_date)
            rc = put_date(rec, sf_fields()->touchpoint_start_date, u->touchpoint_start_date->value,
                          i, err);
        if (rc == 0 && rec && u->touchpoint_end_date)
            rc = put_date(rec, sf_fields()->touchpoint_end_date, u->touchpoint_end_date->value, i,
                          err);
        if (push(records, rec, rc, err) != 0) {
            json_decref(records);
            return NULL;
        }
    }
    return finish(records, err);
}

char *sf_body_member_statuses(const char *campaign_id, Campsync__V1__MemberStatus *const *statuses,
                              size_t n, sf_err *err)
{
    sf_err e;
    if (check_count(n, err) != 0)
        return NULL;
    if (soql_check_id(campaign_id, &e) != 0) {
        sf_err_set(err, "campaign_id: %s", e.msg);
        return NULL;
    }
    json_t *records = json_array();
    for (size_t i = 0; records && i < n; i++) {
        const Campsync__V1__MemberStatus *s = statuses[i];
        json_t *rec = new_record("CampaignMemberStatus");
        int rc = 0;
        if (!s->label || !*s->label)
            rc = sf_err_set(err, "records[%zu].Label: a label is required", i);
        if (rc == 0 && rec) {
            rc = put_id(rec, "CampaignId", campaign_id, i, err) ||
                 put_str(rec, "Label", s->label, i, err);
            json_object_set_new(rec, "SortOrder", json_integer(s->sort_order));
            json_object_set_new(rec, "IsDefault", json_boolean(s->is_default));
            json_object_set_new(rec, "HasResponded", json_boolean(s->has_responded));
        }
        if (push(records, rec, rc ? -1 : 0, err) != 0) {
            json_decref(records);
            return NULL;
        }
    }
    return finish(records, err);
}

char *sf_body_create_leads(Campsync__V1__Person *const *leads, size_t n, sf_err *err)
{
    if (check_count(n, err) != 0)
        return NULL;
    json_t *records = json_array();
    for (size_t i = 0; records && i < n; i++) {
        const Campsync__V1__Person *p = leads[i];
        json_t *rec = new_record("Lead");
        int rc = 0;
        if (!p->last_name || !*p->last_name)
            rc = sf_err_set(err, "records[%zu].LastName: required for a Lead", i);
        else if (!p->company || !*p->company)
            rc = sf_err_set(err, "records[%zu].Company: required for a Lead", i);
        if (rc == 0 && rec)
            rc = put_str(rec, "LastName", p->last_name, i, err) ||
                 put_str(rec, "Company", p->company, i, err) ||
                 (p->first_name && *p->first_name &&
                  put_str(rec, "FirstName", p->first_name, i, err)) ||
                 (p->email && *p->email && put_str(rec, "Email", p->email, i, err));
        if (push(records, rec, rc ? -1 : 0, err) != 0) {
            json_decref(records);
            return NULL;
        }
    }
    return finish(records, err);
}

char *sf_body_set_member_field(const char *field, const char *value, const char *const *member_ids,
                               size_t n, sf_err *err)
{
    if (check_count(n, err) != 0 || soql_check_name(field, false, err) != 0)
        return NULL;
    json_t *records = json_array();
    for (size_t i = 0; records && i < n; i++) {
        json_t *rec = new_record("CampaignMember");
        int rc = rec ? put_id(rec, "id", member_ids[i], i, err) ||
                           put_str_or_null(rec, field, value, i, err)
                     : 0;
        if (push(records, rec, rc ? -1 : 0, err) != 0) {
            json_decref(records);
            return NULL;
        }
    }
    return finish(records, err);
}

char *sf_body_upsert(const char *sobject, const char *external_id_field,
                     Campsync__V1__UpsertRecord *const *records_in, size_t n, sf_err *err)
{
    if (check_count(n, err) != 0 || soql_check_name(sobject, false, err) != 0 ||
        soql_check_name(external_id_field, false, err) != 0)
        return NULL;
    json_t *records = json_array();
    for (size_t i = 0; records && i < n; i++) {
        const Campsync__V1__UpsertRecord *r = records_in[i];
        json_t *rec = new_record(sobject);
        int rc = 0;
        bool has_key = false;
        for (size_t k = 0; rec && rc == 0 && k < r->n_fields_json; k++) {
            const char *name = r->fields_json[k]->key, *text = r->fields_json[k]->value;
            sf_err e;
            json_error_t je;
            if (soql_check_name(name, false, &e) != 0 || strcmp(name, "attributes") == 0) {
                rc = sf_err_set(err, "records[%zu]: field %s", i, e.msg);
                break;
            }
            json_t *v = json_loads(text ? text : "", JSON_DECODE_ANY, &je);
            if (!v || json_is_object(v) || json_is_array(v)) {
                json_decref(v);
                rc = sf_err_set(err, "records[%zu].%s: value must be one JSON scalar (%s)", i, name,
                                v ? "got a structure" : je.text);
                break;
            }
            if (strcmp(name, external_id_field) == 0)
                has_key = !json_is_null(v);
            json_object_set_new(rec, name, v);
        }
        if (rc == 0 && rec && !has_key)
            rc = sf_err_set(err, "records[%zu]: external id field %s is missing", i,
                            external_id_field);
        if (push(records, rec, rc, err) != 0) {
            json_decref(records);
            return NULL;
        }
    }
    return finish(records, err);
}

char *sf_delete_query(const char *const *ids, size_t n, sf_err *err)
{
    if (check_count(n, err) != 0)
        return NULL;
    /* ids are 18 alphanumerics at most: nothing to escape. */
    size_t cap = 4 + n * 19 + sizeof "&allOrNone=false";
    char *out = malloc(cap), *o = out;
    if (!out) {
        sf_err_set(err, "out of memory");
        return NULL;
    }
    o += sprintf(o, "ids=");
    for (size_t i = 0; i < n; i++) {
        sf_err e;
        if (soql_check_id(ids[i], &e) != 0) {
            sf_err_set(err, "ids[%zu]: %s", i, e.msg);
            free(out);
            return NULL;
        }
        o += sprintf(o, "%s%s", i ? "," : "", ids[i]);
    }
    strcpy(o, "&allOrNone=false");
    return out;
}

char *sf_body_create_campaign(const Campsync__V1__Campaign *c, sf_err *err)
{
    if (!c->name || !*c->name) {
        sf_err_set(err, "Campaign.Name: required");
        return NULL;
    }
    json_t *rec = json_object();
    int rc = rec ? 0 : sf_err_set(err, "out of memory");
    if (rc == 0)
        rc =
            put_str(rec, "Name", c->name, 0, err) ||
            (c->type && *c->type && put_str(rec, "Type", c->type, 0, err)) ||
            (c->status && *c->status && put_str(rec, "Status", c->status, 0, err)) ||
            (c->start_date && *c->start_date &&
             put_date(rec, "StartDate", c->start_date, 0, err)) ||
            (c->end_date && *c->end_date && put_date(rec, "EndDate", c->end_date, 0, err)) ||
            (c->enable_buyer_touchpoints && *c->enable_buyer_touchpoints &&
             put_str(rec, sf_fields()->enable_buyer_touchpoints, c->enable_buyer_touchpoints, 0,
                     err)) ||
            (c->touchpoint_start_date && *c->touchpoint_start_date &&
             put_date(rec, sf_fields()->touchpoint_start_date, c->touchpoint_start_date, 0, err)) ||
            (c->touchpoint_end_date && *c->touchpoint_end_date &&
             put_date(rec, sf_fields()->touchpoint_end_date, c->touchpoint_end_date, 0, err));
    if (rc == 0) {
        json_object_set_new(rec, "IsActive", json_boolean(c->is_active));
        if (c->actual_cost_minor)
            json_object_set_new(rec, "ActualCost", sf_minor_to_json(c->actual_cost_minor));
    }
    char *out = rc == 0 ? json_dumps(rec, SF_JSON_DUMP_FLAGS) : NULL;
    json_decref(rec);
    if (rc == 0 && !out)
        sf_err_set(err, "out of memory");
    return out;
}
