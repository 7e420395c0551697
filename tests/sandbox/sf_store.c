/*
 * Implementation of sf_store.h: object descriptions, record store, indexes,
 * dataset loading/dumping, and the write path with Salesforce's object rules.
 *
 * A record's field map is never changed in place: a write builds a new map
 * and swaps it in, so the undo journal can put the old one back.
 */
#include "sf_store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#define CU (SF_F_CREATE | SF_F_UPDATE)
#define CUR (SF_F_CREATE | SF_F_UPDATE | SF_F_REQUIRED)
#define CR (SF_F_CREATE | SF_F_REQUIRED)

typedef struct {
    const char *name;
    sfs_type type;
    int flags;
    const char *ref;
} sfs_field_def;

typedef struct {
    const char *name;
    const char *prefix;
    const sfs_field_def *fields;
    const char *indexed[4];
} sfs_object_def;

static const sfs_field_def sfs_system_fields[] = {
    {"Id", SF_T_ID, 0, NULL},
    {"IsDeleted", SF_T_BOOL, 0, NULL},
    {"CreatedDate", SF_T_DATETIME, 0, NULL},
    {"CreatedById", SF_T_REF, 0, "User"},
    {"LastModifiedDate", SF_T_DATETIME, 0, NULL},
    {"LastModifiedById", SF_T_REF, 0, "User"},
    {"SystemModstamp", SF_T_DATETIME, 0, NULL},
    {NULL, 0, 0, NULL},
};

static const sfs_field_def sfs_user_fields[] = {
    {"Username", SF_T_STRING, CUR, NULL},
    {"FirstName", SF_T_STRING, CU, NULL},
    {"LastName", SF_T_STRING, CUR, NULL},
    {"Name", SF_T_STRING, 0, NULL},
    {"Email", SF_T_EMAIL, CU, NULL},
    {"Alias", SF_T_STRING, CU, NULL},
    {"IsActive", SF_T_BOOL, CU, NULL},
    {"UserPermissionsMarketingUser", SF_T_BOOL, CU, NULL},
    {NULL, 0, 0, NULL},
};

static const sfs_field_def sfs_account_fields[] = {
    {"Name", SF_T_STRING, CUR, NULL},    {"Type", SF_T_STRING, CU, NULL},
    {"Industry", SF_T_STRING, CU, NULL}, {"Website", SF_T_STRING, CU, NULL},
    {"OwnerId", SF_T_REF, CU, "User"},   {NULL, 0, 0, NULL},
};

static const sfs_field_def sfs_contact_fields[] = {
    {"FirstName", SF_T_STRING, CU, NULL},   {"LastName", SF_T_STRING, CUR, NULL},
    {"Name", SF_T_STRING, 0, NULL},         {"Email", SF_T_EMAIL, CU, NULL},
    {"Phone", SF_T_STRING, CU, NULL},       {"Title", SF_T_STRING, CU, NULL},
    {"AccountId", SF_T_REF, CU, "Account"}, {"LeadSource", SF_T_STRING, CU, NULL},
    {"OwnerId", SF_T_REF, CU, "User"},      {NULL, 0, 0, NULL},
};

static const sfs_field_def sfs_lead_fields[] = {
    {"FirstName", SF_T_STRING, CU, NULL},
    {"LastName", SF_T_STRING, CUR, NULL},
    {"Name", SF_T_STRING, 0, NULL},
    {"Company", SF_T_STRING, CUR, NULL},
    {"Email", SF_T_EMAIL, CU, NULL},
    {"Phone", SF_T_STRING, CU, NULL},
    {"Title", SF_T_STRING, CU, NULL},
    {"Status", SF_T_STRING, CU, NULL},
    {"LeadSource", SF_T_STRING, CU, NULL},
    {"IsConverted", SF_T_BOOL, 0, NULL},
    {"ConvertedContactId", SF_T_REF, 0, "Contact"},
    {"ConvertedAccountId", SF_T_REF, 0, "Account"},
    {"ConvertedDate", SF_T_DATE, 0, NULL},
    {"OwnerId", SF_T_REF, CU, "User"},
    {NULL, 0, 0, NULL},
};

static const sfs_field_def sfs_campaign_fields[] = {
    {"Name", SF_T_STRING, CUR, NULL},
    {"Type", SF_T_STRING, CU, NULL},
    {"Status", SF_T_STRING, CU, NULL},
    {"IsActive", SF_T_BOOL, CU, NULL},
    {"ActualCost", SF_T_DOUBLE, CU, NULL},
    {"BudgetedCost", SF_T_DOUBLE, CU, NULL},
    {"ExpectedRevenue", SF_T_DOUBLE, CU, NULL},
    {"StartDate", SF_T_DATE, CU, NULL},
    {"EndDate", SF_T_DATE, CU, NULL},
    {"Description", SF_T_STRING, CU, NULL},
    {"ParentId", SF_T_REF, CU, "Campaign"},
    {"OwnerId", SF_T_REF, CU, "User"},
    {NULL, 0, 0, NULL},
};

static const sfs_field_def sfs_cms_fields[] = {
    {"CampaignId", SF_T_REF, CR, "Campaign"}, {"Label", SF_T_STRING, CUR, NULL},
    {"SortOrder", SF_T_INT, CU, NULL},        {"IsDefault", SF_T_BOOL, CU, NULL},
    {"HasResponded", SF_T_BOOL, CU, NULL},    {NULL, 0, 0, NULL},
};

static const sfs_field_def sfs_member_fields[] = {
    {"CampaignId", SF_T_REF, CR, "Campaign"},
    {"LeadId", SF_T_REF, SF_F_CREATE, "Lead"},
    {"ContactId", SF_T_REF, SF_F_CREATE, "Contact"},
    {"Status", SF_T_STRING, CU, NULL},
    {"HasResponded", SF_T_BOOL, 0, NULL},
    {"FirstRespondedDate", SF_T_DATE, 0, NULL},
    {"Type", SF_T_STRING, 0, NULL},
    {"LeadOrContactId", SF_T_REF, 0, "Lead"},
    {NULL, 0, 0, NULL},
};

static const sfs_field_def sfs_opportunity_fields[] = {
    {"Name", SF_T_STRING, CUR, NULL},
    {"AccountId", SF_T_REF, CU, "Account"},
    {"Amount", SF_T_DOUBLE, CU, NULL},
    {"StageName", SF_T_STRING, CUR, NULL},
    {"CloseDate", SF_T_DATE, CUR, NULL},
    {"IsClosed", SF_T_BOOL, 0, NULL},
    {"IsWon", SF_T_BOOL, 0, NULL},
    {"CampaignId", SF_T_REF, CU, "Campaign"},
    {"LeadSource", SF_T_STRING, CU, NULL},
    {"OwnerId", SF_T_REF, CU, "User"},
    {NULL, 0, 0, NULL},
};

static const sfs_field_def sfs_custom_object_fields[] = {
    {"Name", SF_T_STRING, CU, NULL},
    {"OwnerId", SF_T_REF, CU, "User"},
    {NULL, 0, 0, NULL},
};

/* Load order: referenced objects first. */
static const sfs_object_def sfs_standard_objects[] = {
    {"User", "005", sfs_user_fields, {NULL}},
    {"Account", "001", sfs_account_fields, {NULL}},
    {"Contact", "003", sfs_contact_fields, {"AccountId", NULL}},
    {"Lead", "00Q", sfs_lead_fields, {NULL}},
    {"Campaign", "701", sfs_campaign_fields, {NULL}},
    {"CampaignMemberStatus", "01Y", sfs_cms_fields, {"CampaignId", NULL}},
    {"CampaignMember", "00v", sfs_member_fields, {"CampaignId", "LeadId", "ContactId", NULL}},
    {"Opportunity", "006", sfs_opportunity_fields, {"AccountId", NULL}},
};
#define SF_N_STANDARD (sizeof sfs_standard_objects / sizeof sfs_standard_objects[0])

/* ---- errors ---- */

void sfs_err_set(sfs_err *err, const char *code, const char *fmt, ...)
{
    memset(err, 0, sizeof *err);
    snprintf(err->code, sizeof err->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

void sfs_err_field(sfs_err *err, const char *field)
{
    if (err->n_fields < 4)
        snprintf(err->fields[err->n_fields++], sizeof err->fields[0], "%s", field);
}

static void sfs_err_readonly(sfs_err *err, const char *field)
{
    sfs_err_set(err, "INVALID_FIELD_FOR_INSERT_UPDATE",
                "Unable to create/update fields: %s. Please check the security settings of this "
                "field and verify that it is read/write for your profile or permission set.",
                field);
    sfs_err_field(err, field);
}

/* ---- schema ---- */

static int sfs_object_add_field(sfs_object *obj, const char *name, sfs_type type, int flags,
                                const char *ref)
{
    sfs_field *f = realloc(obj->fields, (size_t)(obj->n_fields + 1) * sizeof *f);
    if (!f)
        return -1;
    obj->fields = f;
    sfs_field *nf = &obj->fields[obj->n_fields];
    nf->name = strdup(name);
    nf->ref = ref ? strdup(ref) : NULL;
    nf->type = type;
    nf->flags = flags;
    if (!nf->name || (ref && !nf->ref)) {
        free(nf->name);
        free(nf->ref);
        return -1;
    }
    obj->n_fields++;
    return 0;
}

static sfs_object *sfs_object_new(sfs_state *st, const char *name, const char *prefix, int custom)
{
    sfs_object **objs = realloc(st->objs, (size_t)(st->n_objs + 1) * sizeof *objs);
    if (!objs)
        return NULL;
    st->objs = objs;
    sfs_object *obj = calloc(1, sizeof *obj);
    if (!obj)
        return NULL;
    obj->name = strdup(name);
    if (!obj->name) {
        free(obj);
        return NULL;
    }
    snprintf(obj->prefix, sizeof obj->prefix, "%s", prefix);
    obj->custom = custom;
    st->objs[st->n_objs++] = obj;
    for (int i = 0; sfs_system_fields[i].name; i++) {
        const sfs_field_def *d = &sfs_system_fields[i];
        if (sfs_object_add_field(obj, d->name, d->type, d->flags, d->ref) != 0)
            return NULL;
    }
    return obj;
}

static int sfs_object_add_defs(sfs_object *obj, const sfs_field_def *defs)
{
    for (int i = 0; defs[i].name; i++) {
        if (sfs_object_add_field(obj, defs[i].name, defs[i].type, defs[i].flags, defs[i].ref) != 0)
            return -1;
    }
    return 0;
}

static void sfs_object_free(sfs_object *obj)
{
    for (size_t i = 0; i < obj->recs.n; i++) {
        sfs_rec *r = obj->recs.items[i];
        json_decref(r->f);
        free(r->vals);
        free(r);
    }
    sfs_vec_free(&obj->recs);
    for (int i = 0; i < obj->n_idx; i++) {
        sfs_map *m = &obj->idx[i].map;
        for (size_t j = 0; j < m->cap; j++) {
            if (m->keys[j]) {
                sfs_vec_free(m->vals[j]);
                free(m->vals[j]);
            }
        }
        sfs_map_free(m);
    }
    for (int i = 0; i < obj->n_fields; i++) {
        free(obj->fields[i].name);
        free(obj->fields[i].ref);
    }
    free(obj->fields);
    free(obj->name);
    free(obj);
}

sfs_object *sfs_object_find(const sfs_state *st, const char *name)
{
    for (int i = 0; i < st->n_objs; i++) {
        if (strcasecmp(st->objs[i]->name, name) == 0)
            return st->objs[i];
    }
    return NULL;
}

const sfs_field *sfs_field_find(const sfs_object *obj, const char *name)
{
    for (int i = 0; i < obj->n_fields; i++) {
        if (strcasecmp(obj->fields[i].name, name) == 0)
            return &obj->fields[i];
    }
    return NULL;
}

const sfs_field *sfs_relationship_find(const sfs_object *obj, const char *rel)
{
    size_t n = strlen(rel);
    for (int i = 0; i < obj->n_fields; i++) {
        const sfs_field *f = &obj->fields[i];
        size_t fl = strlen(f->name);
        if (f->type == SF_T_REF && fl == n + 2 && strncasecmp(f->name, rel, n) == 0 &&
            strcmp(f->name + n, "Id") == 0)
            return f;
    }
    return NULL;
}

sfs_rec *sfs_rec_find(const sfs_state *st, const char *id)
{
    char norm[19];
    if (!id || sfs_id_normalize(id, strlen(id), norm) != 0)
        return NULL;
    return sfs_map_get(&st->by_id, norm);
}

int sfs_user_is_marketing(const sfs_state *st, const char *user_id)
{
    sfs_rec *u = sfs_rec_find(st, user_id);
    if (!u || u->deleted)
        return 0;
    return json_is_true(json_object_get(u->f, "UserPermissionsMarketingUser"));
}

int sfs_object_visible(const sfs_state *st, const sfs_object *obj, const char *user_id)
{
    if (strcmp(obj->name, "CampaignMemberStatus") == 0)
        return sfs_user_is_marketing(st, user_id);
    return 1;
}

/* ---- value helpers ---- */

static const char *sfs_str(json_t *f, const char *name)
{
    return json_string_value(json_object_get(f, name));
}

static int sfs_is_blank(json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

static void sfs_now_strings(int64_t now_ms, char dt[32])
{
    sfs_time_format_datetime(now_ms, dt);
}

static const char *sfs_json_kind(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "START_OBJECT";
    case JSON_ARRAY:
        return "START_ARRAY";
    case JSON_STRING:
        return "VALUE_STRING";
    case JSON_INTEGER:
        return "VALUE_NUMBER_INT";
    case JSON_REAL:
        return "VALUE_NUMBER_FLOAT";
    case JSON_TRUE:
        return "VALUE_TRUE";
    case JSON_FALSE:
        return "VALUE_FALSE";
    default:
        return "VALUE_NULL";
    }
}

static json_t *sfs_coerce_fail(const char *type, json_t *value, sfs_err *err)
{
    char shown[80] = "";
    if (json_is_string(value))
        snprintf(shown, sizeof shown, "%s", json_string_value(value));
    else if (json_is_object(value))
        snprintf(shown, sizeof shown, "{");
    else if (json_is_array(value))
        snprintf(shown, sizeof shown, "[");
    else {
        char *d = json_dumps(value, JSON_ENCODE_ANY);
        snprintf(shown, sizeof shown, "%s", d ? d : "");
        free(d);
    }
    sfs_err_set(err, "JSON_PARSER_ERROR",
                "Cannot deserialize instance of %s from %s value %s or request may be missing a "
                "required field",
                type, sfs_json_kind(value), shown);
    return NULL;
}

json_t *sfs_coerce(const sfs_field *f, json_t *value, sfs_err *err)
{
    if (json_is_null(value))
        return json_null();
    switch (f->type) {
    case SF_T_ID:
    case SF_T_REF:
        if (!json_is_string(value))
            return sfs_coerce_fail("reference", value, err);
        return json_incref(value);
    case SF_T_STRING:
    case SF_T_EMAIL:
        if (json_is_string(value))
            return json_incref(value);
        if (json_is_integer(value))
            return json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(value));
        if (json_is_real(value))
            return json_sprintf("%g", json_real_value(value));
        if (json_is_boolean(value))
            return json_string(json_is_true(value) ? "true" : "false");
        return sfs_coerce_fail("string", value, err);
    case SF_T_BOOL:
        if (json_is_boolean(value))
            return json_incref(value);
        if (json_is_string(value) && strcasecmp(json_string_value(value), "true") == 0)
            return json_true();
        if (json_is_string(value) && strcasecmp(json_string_value(value), "false") == 0)
            return json_false();
        return sfs_coerce_fail("boolean", value, err);
    case SF_T_INT:
    case SF_T_DOUBLE: {
        double d;
        if (json_is_number(value)) {
            d = json_number_value(value);
        } else if (json_is_string(value)) {
            const char *s = json_string_value(value);
            char *end;
            d = strtod(s, &end);
            if (!*s || *end)
                return sfs_coerce_fail(f->type == SF_T_INT ? "int" : "double", value, err);
        } else {
            return sfs_coerce_fail(f->type == SF_T_INT ? "int" : "double", value, err);
        }
        if (f->type == SF_T_INT) {
            if (d != (double)(json_int_t)d)
                return sfs_coerce_fail("int", value, err);
            return json_integer((json_int_t)d);
        }
        return json_real(d);
    }
    case SF_T_DATE:
    case SF_T_DATETIME: {
        int64_t ms;
        int kind;
        const char *s = json_string_value(value);
        const char *tname = f->type == SF_T_DATE ? "date" : "datetime";
        if (!s || sfs_time_parse(s, strlen(s), &ms, &kind) != 0)
            return sfs_coerce_fail(tname, value, err);
        char buf[32];
        if (f->type == SF_T_DATE)
            sfs_time_format_date(ms, buf);
        else
            sfs_time_format_datetime(ms, buf);
        return json_string(buf);
    }
    case SF_T_ANY:
        if (json_is_object(value) || json_is_array(value))
            return sfs_coerce_fail("string", value, err);
        return json_incref(value);
    }
    return sfs_coerce_fail("string", value, err);
}

/* ---- indexes and maps ---- */

static sfs_index *sfs_index_for(sfs_object *obj, const char *field)
{
    for (int i = 0; i < obj->n_idx; i++) {
        if (strcmp(obj->idx[i].field->name, field) == 0)
            return &obj->idx[i];
    }
    return NULL;
}

static int sfs_index_add(sfs_index *ix, const char *key, sfs_rec *r)
{
    sfs_vec *v = sfs_map_get(&ix->map, key);
    if (!v) {
        v = calloc(1, sizeof *v);
        if (!v || sfs_map_put(&ix->map, key, v) != 0) {
            free(v);
            return -1;
        }
    }
    return sfs_vec_push(v, r);
}

static void sfs_index_remove(sfs_index *ix, const char *key, sfs_rec *r)
{
    sfs_vec *v = sfs_map_get(&ix->map, key);
    if (v)
        sfs_vec_remove(v, r);
}

/* The index key of a value: strings as they are, numbers in decimal. */
static int sfs_index_key(json_t *v, char out[128])
{
    if (json_is_string(v) && json_string_length(v) < 128) {
        memcpy(out, json_string_value(v), json_string_length(v) + 1);
        return 0;
    }
    if (json_is_integer(v)) {
        snprintf(out, 128, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 0;
    }
    if (json_is_real(v)) {
        snprintf(out, 128, "%.17g", json_real_value(v));
        return 0;
    }
    return -1;
}

int sfs_store_lookup(sfs_state *st, sfs_object *obj, const sfs_field *f, json_t *value,
                     sfs_vec *out)
{
    (void)st;
    char key[128];
    if (sfs_index_key(value, key) != 0)
        return 0;
    sfs_index *ix = sfs_index_for(obj, f->name);
    if (!ix && obj->n_idx < (int)(sizeof obj->idx / sizeof obj->idx[0])) {
        ix = &obj->idx[obj->n_idx++];
        ix->field = f;
        for (size_t i = 0; i < obj->recs.n; i++) {
            sfs_rec *r = obj->recs.items[i];
            char k[128];
            if (sfs_index_key(json_object_get(r->f, f->name), k) == 0 &&
                sfs_index_add(ix, k, r) != 0)
                return -1;
        }
    }
    if (ix) {
        sfs_vec *v = sfs_map_get(&ix->map, key);
        for (size_t i = 0; v && i < v->n; i++) {
            sfs_rec *r = v->items[i];
            if (!r->deleted && sfs_vec_push(out, r) != 0)
                return -1;
        }
        return 0;
    }
    /* Every index slot taken: scan. */
    for (size_t i = 0; i < obj->recs.n; i++) {
        sfs_rec *r = obj->recs.items[i];
        char k[128];
        if (!r->deleted && sfs_index_key(json_object_get(r->f, f->name), k) == 0 &&
            strcmp(k, key) == 0 && sfs_vec_push(out, r) != 0)
            return -1;
    }
    return 0;
}

/* Records of obj whose indexed field equals id (tombstones included). */
static sfs_vec *sfs_index_lookup(sfs_state *st, const char *object, const char *field,
                                 const char *id)
{
    sfs_object *obj = sfs_object_find(st, object);
    sfs_index *ix = obj ? sfs_index_for(obj, field) : NULL;
    return ix && id ? sfs_map_get(&ix->map, id) : NULL;
}

static void sfs_member_key(json_t *f, char out[48])
{
    const char *person = sfs_str(f, "ContactId");
    if (!person)
        person = sfs_str(f, "LeadId");
    snprintf(out, 48, "%s/%s", sfs_str(f, "CampaignId") ? sfs_str(f, "CampaignId") : "",
             person ? person : "");
}

/* Keeps indexes and the member key map in step when rec's fields change from
 * old_f (NULL = new record) to new_f (NULL = record removed). */
static void sfs_reindex(sfs_state *st, sfs_rec *rec, json_t *old_f, int old_deleted, json_t *new_f,
                        int new_deleted)
{
    sfs_object *obj = rec->obj;
    for (int i = 0; i < obj->n_idx; i++) {
        const char *name = obj->idx[i].field->name;
        char ov[128], nv[128];
        int has_o = old_f && sfs_index_key(json_object_get(old_f, name), ov) == 0;
        int has_n = new_f && sfs_index_key(json_object_get(new_f, name), nv) == 0;
        if (has_o && has_n && strcmp(ov, nv) == 0)
            continue;
        if (has_o)
            sfs_index_remove(&obj->idx[i], ov, rec);
        if (has_n)
            sfs_index_add(&obj->idx[i], nv, rec);
    }
    if (strcmp(obj->name, "CampaignMember") == 0) {
        char key[48];
        if (old_f && !old_deleted) {
            sfs_member_key(old_f, key);
            if (sfs_map_get(&st->member_key, key) == rec)
                sfs_map_del(&st->member_key, key);
        }
        if (new_f && !new_deleted) {
            sfs_member_key(new_f, key);
            sfs_map_put(&st->member_key, key, rec);
        }
    }
}

/* Refreshes rec->vals from rec->f. The array is sized when the record is
 * made (fields are final by then), so this never fails. */
static void sfs_rec_sync(sfs_rec *rec)
{
    for (int i = 0; i < rec->obj->n_fields; i++)
        rec->vals[i] = json_object_get(rec->f, rec->obj->fields[i].name);
}

static void sfs_journal_push(sfs_state *st, int kind, sfs_rec *rec, json_t *old_f)
{
    if (!st->journaling) {
        json_decref(old_f);
        return;
    }
    if (st->n_journal == st->cap_journal) {
        size_t ncap = st->cap_journal ? st->cap_journal * 2 : 64;
        sfs_journal_entry *j = realloc(st->journal, ncap * sizeof *j);
        if (!j) {
            /* Without memory the write cannot be undone; keep the old map alive
             * anyway so nothing dangles, and accept the leak. */
            return;
        }
        st->journal = j;
        st->cap_journal = ncap;
    }
    st->journal[st->n_journal++] = (sfs_journal_entry){kind, rec, old_f};
}

void sfs_journal_begin(sfs_state *st)
{
    st->journaling = 1;
    st->n_journal = 0;
}

void sfs_journal_commit(sfs_state *st)
{
    for (size_t i = 0; i < st->n_journal; i++)
        json_decref(st->journal[i].old_f);
    st->n_journal = 0;
    st->journaling = 0;
}

void sfs_journal_rollback(sfs_state *st)
{
    for (size_t i = st->n_journal; i-- > 0;) {
        sfs_journal_entry *e = &st->journal[i];
        sfs_rec *rec = e->rec;
        if (e->kind == 0) {
            sfs_reindex(st, rec, rec->f, rec->deleted, NULL, 0);
            sfs_map_del(&st->by_id, rec->id);
            sfs_vec_remove(&rec->obj->recs, rec);
            json_decref(rec->f);
            free(rec->vals);
            free(rec);
        } else {
            int old_deleted = json_is_true(json_object_get(e->old_f, "IsDeleted"));
            sfs_reindex(st, rec, rec->f, rec->deleted, e->old_f, old_deleted);
            json_decref(rec->f);
            rec->f = e->old_f;
            rec->deleted = old_deleted;
            sfs_rec_sync(rec);
        }
    }
    st->n_journal = 0;
    st->journaling = 0;
}

/* Stores a brand-new record (fields complete). */
static sfs_rec *sfs_store_new(sfs_state *st, sfs_object *obj, const char *id, json_t *f)
{
    sfs_rec *rec = calloc(1, sizeof *rec);
    if (!rec)
        return NULL;
    rec->obj = obj;
    memcpy(rec->id, id, 19);
    rec->vals = calloc((size_t)obj->n_fields, sizeof *rec->vals);
    if (!rec->vals) {
        free(rec);
        return NULL;
    }
    rec->f = f;
    rec->deleted = json_is_true(json_object_get(f, "IsDeleted"));
    sfs_rec_sync(rec);
    if (sfs_vec_push(&obj->recs, rec) != 0 || sfs_map_put(&st->by_id, rec->id, rec) != 0) {
        sfs_vec_remove(&obj->recs, rec);
        free(rec->vals);
        free(rec);
        return NULL;
    }
    sfs_reindex(st, rec, NULL, 0, f, rec->deleted);
    sfs_journal_push(st, 0, rec, NULL);
    return rec;
}

/* Swaps in a new field map (takes the reference to f). */
static void sfs_store_replace(sfs_state *st, sfs_rec *rec, json_t *f)
{
    int new_deleted = json_is_true(json_object_get(f, "IsDeleted"));
    sfs_reindex(st, rec, rec->f, rec->deleted, f, new_deleted);
    json_t *old = rec->f;
    rec->f = f;
    rec->deleted = new_deleted;
    sfs_rec_sync(rec);
    sfs_journal_push(st, 1, rec, old);
}

static void sfs_new_id(sfs_state *st, const char *prefix, char out[19])
{
    do {
        sfs_id_make(prefix, st->next_id++, out);
    } while (sfs_map_get(&st->by_id, out));
}

static void sfs_stamp(json_t *f, int64_t now_ms, const char *user_id)
{
    char dt[32];
    sfs_now_strings(now_ms, dt);
    json_object_set_new(f, "LastModifiedDate", json_string(dt));
    json_object_set_new(f, "SystemModstamp", json_string(dt));
    if (user_id && *user_id)
        json_object_set_new(f, "LastModifiedById", json_string(user_id));
}

/* ---- derived fields ---- */

static json_t *sfs_find_status(sfs_state *st, const char *campaign_id, const char *label)
{
    sfs_vec *v = sfs_index_lookup(st, "CampaignMemberStatus", "CampaignId", campaign_id);
    for (size_t i = 0; v && i < v->n; i++) {
        sfs_rec *r = v->items[i];
        const char *l = sfs_str(r->f, "Label");
        if (!r->deleted && l && label && strcasecmp(l, label) == 0)
            return r->f;
    }
    return NULL;
}

static json_t *sfs_default_status(sfs_state *st, const char *campaign_id)
{
    sfs_vec *v = sfs_index_lookup(st, "CampaignMemberStatus", "CampaignId", campaign_id);
    for (size_t i = 0; v && i < v->n; i++) {
        sfs_rec *r = v->items[i];
        if (!r->deleted && json_is_true(json_object_get(r->f, "IsDefault")))
            return r->f;
    }
    return NULL;
}

static void sfs_derive(sfs_state *st, sfs_object *obj, json_t *f, int64_t now_ms)
{
    const char *name = obj->name;
    if (strcmp(name, "Lead") == 0 || strcmp(name, "Contact") == 0 || strcmp(name, "User") == 0) {
        const char *fn = sfs_str(f, "FirstName"), *ln = sfs_str(f, "LastName");
        if (fn && *fn && ln)
            json_object_set_new(f, "Name", json_sprintf("%s %s", fn, ln));
        else if (ln)
            json_object_set_new(f, "Name", json_string(ln));
    } else if (strcmp(name, "Opportunity") == 0) {
        const char *stage = sfs_str(f, "StageName");
        int closed = stage && strncasecmp(stage, "Closed", 6) == 0;
        int won = stage && strcasecmp(stage, "Closed Won") == 0;
        json_object_set_new(f, "IsClosed", json_boolean(closed));
        json_object_set_new(f, "IsWon", json_boolean(won));
    } else if (strcmp(name, "CampaignMember") == 0) {
        const char *contact = sfs_str(f, "ContactId"), *lead = sfs_str(f, "LeadId");
        json_object_set_new(f, "Type", json_string(contact ? "Contact" : "Lead"));
        json_object_set_new(f, "LeadOrContactId",
                            contact ? json_string(contact)
                            : lead  ? json_string(lead)
                                    : json_null());
        json_t *status = sfs_find_status(st, sfs_str(f, "CampaignId"), sfs_str(f, "Status"));
        if (!status)
            return;
        int responded = json_is_true(json_object_get(status, "HasResponded"));
        json_object_set_new(f, "HasResponded", json_boolean(responded));
        if (responded && sfs_is_blank(json_object_get(f, "FirstRespondedDate"))) {
            char d[16];
            sfs_time_format_date(now_ms, d);
            json_object_set_new(f, "FirstRespondedDate", json_string(d));
        }
    }
}

/* ---- field input ---- */

static void sfs_ref_label(const char *field, char *out, size_t len)
{
    size_t n = strlen(field);
    if (n > 2 && strcmp(field + n - 2, "Id") == 0)
        snprintf(out, len, "%.*s ID", (int)(n - 2), field);
    else
        snprintf(out, len, "%s", field);
}

/* Validates a reference value and rewrites it in its 18-char form. */
static int sfs_check_ref(sfs_state *st, const sfs_field *f, json_t *fields, sfs_err *err)
{
    json_t *v = json_object_get(fields, f->name);
    if (sfs_is_blank(v))
        return 0;
    const char *s = json_string_value(v);
    char norm[19], label[80];
    sfs_object *target = sfs_object_find(st, f->ref);
    sfs_ref_label(f->name, label, sizeof label);
    if (sfs_id_normalize(s, strlen(s), norm) != 0 || !target ||
        strncmp(norm, target->prefix, 3) != 0) {
        sfs_err_set(err, "FIELD_INTEGRITY_EXCEPTION", "%s: id value of incorrect type: %s", label,
                    s);
        sfs_err_field(err, f->name);
        return -1;
    }
    sfs_rec *r = sfs_map_get(&st->by_id, norm);
    if (!r || r->deleted) {
        sfs_err_set(err, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id");
        sfs_err_field(err, f->name);
        return -1;
    }
    json_object_set_new(fields, f->name, json_string(norm));
    return 0;
}

/* Copies the input values into f with the write checks of an API call. */
static int sfs_apply_input(sfs_state *st, sfs_object *obj, json_t *f, json_t *input, int insert,
                           sfs_err *err)
{
    const char *key;
    json_t *value;
    json_object_foreach(input, key, value)
    {
        if (strcmp(key, "attributes") == 0)
            continue;
        if (strcasecmp(key, "Id") == 0) {
            if (insert && !json_is_null(value)) {
                sfs_err_set(err, "INVALID_FIELD", "cannot specify Id in an insert call");
                sfs_err_field(err, "Id");
                return -1;
            }
            continue;
        }
        const sfs_field *fd = sfs_field_find(obj, key);
        if (!fd) {
            sfs_err_set(err, "INVALID_FIELD", "No such column '%s' on sobject of type %s", key,
                        obj->name);
            return -1;
        }
        if (!(fd->flags & (insert ? SF_F_CREATE : SF_F_UPDATE))) {
            sfs_err_readonly(err, fd->name);
            return -1;
        }
        json_t *cv = sfs_coerce(fd, value, err);
        if (!cv)
            return -1;
        json_object_set_new(f, fd->name, cv);
        if (fd->type == SF_T_REF && sfs_check_ref(st, fd, f, err) != 0)
            return -1;
        if (fd->type == SF_T_EMAIL && json_is_string(cv) && json_string_length(cv) > 0) {
            const char *e = json_string_value(cv);
            const char *at = strchr(e, '@');
            if (!at || at == e || !strchr(at, '.') || strchr(e, ' ') || strchr(at + 1, '@')) {
                sfs_err_set(err, "INVALID_EMAIL_ADDRESS", "%s: invalid email address: %s", fd->name,
                            e);
                sfs_err_field(err, fd->name);
                return -1;
            }
        }
    }
    return 0;
}

static int sfs_input_has(json_t *input, const char *name)
{
    const char *key;
    json_t *v;
    json_object_foreach(input, key, v)
    {
        if (strcasecmp(key, name) == 0)
            return 1;
    }
    return 0;
}

/* Required fields must be filled on insert; an update only may not blank
 * one it sets (input != NULL), so rows loaded from a dataset without them
 * stay editable. */
static int sfs_check_required(sfs_object *obj, json_t *f, json_t *input, sfs_err *err)
{
    char list[256] = "";
    int missing = 0;
    sfs_err tmp = {0};
    for (int i = 0; i < obj->n_fields; i++) {
        const sfs_field *fd = &obj->fields[i];
        if (!(fd->flags & SF_F_REQUIRED) || !sfs_is_blank(json_object_get(f, fd->name)))
            continue;
        if (input && !sfs_input_has(input, fd->name))
            continue;
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", missing ? ", " : "", fd->name);
        sfs_err_field(&tmp, fd->name);
        missing++;
    }
    if (!missing)
        return 0;
    sfs_err_set(err, "REQUIRED_FIELD_MISSING", "Required fields are missing: [%s]", list);
    memcpy(err->fields, tmp.fields, sizeof tmp.fields);
    err->n_fields = tmp.n_fields;
    return -1;
}

/* ---- object rules ---- */

static int sfs_rules_member(sfs_state *st, json_t *f, json_t *old, sfs_err *err)
{
    const char *campaign = sfs_str(f, "CampaignId");
    const char *lead = sfs_str(f, "LeadId"), *contact = sfs_str(f, "ContactId");
    if (!old) {
        if (!lead && !contact) {
            sfs_err_set(err, "REQUIRED_FIELD_MISSING", "Required fields are missing: [%s]",
                        "LeadId, ContactId");
            sfs_err_field(err, "LeadId");
            sfs_err_field(err, "ContactId");
            return -1;
        }
        if (lead && contact) {
            sfs_err_set(err, "FIELD_INTEGRITY_EXCEPTION",
                        "A campaign member can reference a lead or a contact, not both.");
            sfs_err_field(err, "LeadId");
            sfs_err_field(err, "ContactId");
            return -1;
        }
        if (lead) {
            sfs_rec *l = sfs_rec_find(st, lead);
            if (l && json_is_true(json_object_get(l->f, "IsConverted"))) {
                sfs_err_set(err, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead");
                sfs_err_field(err, "LeadId");
                return -1;
            }
        }
        char key[48];
        sfs_member_key(f, key);
        if (sfs_map_get(&st->member_key, key)) {
            sfs_err_set(err, "DUPLICATE_VALUE", "Already a campaign member.");
            return -1;
        }
    }
    json_t *status = json_object_get(f, "Status");
    if (sfs_is_blank(status)) {
        if (old) {
            sfs_err_set(err, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        "Status: bad value for restricted picklist field: ");
            sfs_err_field(err, "Status");
            return -1;
        }
        json_t *def = sfs_default_status(st, campaign);
        if (def)
            json_object_set(f, "Status", json_object_get(def, "Label"));
        return 0;
    }
    json_t *found = sfs_find_status(st, campaign, json_string_value(status));
    if (!found) {
        sfs_err_set(err, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    "Status: bad value for restricted picklist field: %s",
                    json_string_value(status));
        sfs_err_field(err, "Status");
        return -1;
    }
    json_object_set(f, "Status", json_object_get(found, "Label"));
    return 0;
}

static int sfs_rules_cms(sfs_state *st, sfs_rec *self, json_t *f, json_t *old, sfs_err *err)
{
    const char *campaign = sfs_str(f, "CampaignId");
    const char *label = sfs_str(f, "Label");
    json_t *sort = json_object_get(f, "SortOrder");
    sfs_vec *v = sfs_index_lookup(st, "CampaignMemberStatus", "CampaignId", campaign);
    json_int_t max_sort = 0;
    for (size_t i = 0; v && i < v->n; i++) {
        sfs_rec *r = v->items[i];
        if (r->deleted || r == self)
            continue;
        const char *l = sfs_str(r->f, "Label");
        if (l && label && strcasecmp(l, label) == 0) {
            sfs_err_set(err, "DUPLICATE_VALUE",
                        "duplicate value found: Label duplicates value on record with id: %s",
                        r->id);
            sfs_err_field(err, "Label");
            return -1;
        }
        json_t *os = json_object_get(r->f, "SortOrder");
        if (json_is_integer(os) && json_integer_value(os) > max_sort)
            max_sort = json_integer_value(os);
        if (json_is_integer(sort) && json_is_integer(os) &&
            json_integer_value(sort) == json_integer_value(os)) {
            sfs_err_set(err, "DUPLICATE_VALUE",
                        "duplicate value found: SortOrder duplicates value on record with id: %s",
                        r->id);
            sfs_err_field(err, "SortOrder");
            return -1;
        }
    }
    if (!json_is_integer(sort))
        json_object_set_new(f, "SortOrder", json_integer(max_sort + 1));
    if (!json_is_boolean(json_object_get(f, "IsDefault")))
        json_object_set_new(f, "IsDefault", json_false());
    if (!json_is_boolean(json_object_get(f, "HasResponded")))
        json_object_set_new(f, "HasResponded", json_false());
    if (old && json_is_true(json_object_get(old, "IsDefault")) &&
        !json_is_true(json_object_get(f, "IsDefault"))) {
        sfs_err_set(err, "FIELD_INTEGRITY_EXCEPTION",
                    "A campaign needs one default member status: set another status as the "
                    "default instead.");
        sfs_err_field(err, "IsDefault");
        return -1;
    }
    if (old && json_is_true(json_object_get(old, "HasResponded")) &&
        !json_is_true(json_object_get(f, "HasResponded"))) {
        int others = 0;
        for (size_t i = 0; v && i < v->n; i++) {
            sfs_rec *r = v->items[i];
            if (!r->deleted && r != self && json_is_true(json_object_get(r->f, "HasResponded")))
                others++;
        }
        if (!others) {
            sfs_err_set(err, "FIELD_INTEGRITY_EXCEPTION",
                        "A campaign needs at least one member status that counts as responded.");
            sfs_err_field(err, "HasResponded");
            return -1;
        }
    }
    return 0;
}

/* After a status changed: one default per campaign, members follow renames
 * and the responded flag. */
static void sfs_after_cms(sfs_state *st, sfs_rec *self, json_t *old, int64_t now_ms,
                          const char *user_id)
{
    const char *campaign = sfs_str(self->f, "CampaignId");
    if (json_is_true(json_object_get(self->f, "IsDefault")) &&
        !(old && json_is_true(json_object_get(old, "IsDefault")))) {
        sfs_vec *v = sfs_index_lookup(st, "CampaignMemberStatus", "CampaignId", campaign);
        for (size_t i = 0; v && i < v->n; i++) {
            sfs_rec *r = v->items[i];
            if (r == self || r->deleted || !json_is_true(json_object_get(r->f, "IsDefault")))
                continue;
            json_t *nf = json_copy(r->f);
            json_object_set_new(nf, "IsDefault", json_false());
            sfs_stamp(nf, now_ms, user_id);
            sfs_store_replace(st, r, nf);
        }
    }
    if (!old)
        return;
    const char *old_label = sfs_str(old, "Label"), *new_label = sfs_str(self->f, "Label");
    int label_changed = old_label && new_label && strcmp(old_label, new_label) != 0;
    int resp_changed = json_is_true(json_object_get(old, "HasResponded")) !=
                       json_is_true(json_object_get(self->f, "HasResponded"));
    if (!label_changed && !resp_changed)
        return;
    sfs_vec *members = sfs_index_lookup(st, "CampaignMember", "CampaignId", campaign);
    for (size_t i = 0; members && i < members->n; i++) {
        sfs_rec *m = members->items[i];
        const char *ms = sfs_str(m->f, "Status");
        if (m->deleted || !ms || !old_label || strcasecmp(ms, old_label) != 0)
            continue;
        json_t *nf = json_copy(m->f);
        json_object_set_new(nf, "Status", json_string(new_label));
        sfs_derive(st, m->obj, nf, now_ms);
        sfs_stamp(nf, now_ms, user_id);
        sfs_store_replace(st, m, nf);
    }
}

static int sfs_rules_before(sfs_state *st, sfs_rec *self, sfs_object *obj, json_t *f, json_t *old,
                            sfs_err *err)
{
    if (strcmp(obj->name, "CampaignMember") == 0)
        return sfs_rules_member(st, f, old, err);
    if (strcmp(obj->name, "CampaignMemberStatus") == 0)
        return sfs_rules_cms(st, self, f, old, err);
    return 0;
}

static void sfs_defaults(sfs_object *obj, json_t *f, const char *user_id)
{
    const char *name = obj->name;
    if (sfs_field_find(obj, "OwnerId") && sfs_is_blank(json_object_get(f, "OwnerId")) && user_id &&
        *user_id)
        json_object_set_new(f, "OwnerId", json_string(user_id));
    if (strcmp(name, "Lead") == 0) {
        if (sfs_is_blank(json_object_get(f, "Status")))
            json_object_set_new(f, "Status", json_string("Open - Not Contacted"));
        if (!json_is_boolean(json_object_get(f, "IsConverted")))
            json_object_set_new(f, "IsConverted", json_false());
    } else if (strcmp(name, "Campaign") == 0) {
        if (!json_is_boolean(json_object_get(f, "IsActive")))
            json_object_set_new(f, "IsActive", json_false());
        if (sfs_is_blank(json_object_get(f, "Status")))
            json_object_set_new(f, "Status", json_string("Planned"));
    } else if (strcmp(name, "User") == 0) {
        if (!json_is_boolean(json_object_get(f, "IsActive")))
            json_object_set_new(f, "IsActive", json_true());
        if (!json_is_boolean(json_object_get(f, "UserPermissionsMarketingUser")))
            json_object_set_new(f, "UserPermissionsMarketingUser", json_false());
    } else if (strcmp(name, "CampaignMember") == 0) {
        if (!json_is_boolean(json_object_get(f, "HasResponded")))
            json_object_set_new(f, "HasResponded", json_false());
    }
}

static sfs_rec *sfs_insert_internal(sfs_state *st, sfs_object *obj, json_t *f, int64_t now_ms,
                                    const char *user_id)
{
    char id[19], dt[32];
    sfs_new_id(st, obj->prefix, id);
    sfs_now_strings(now_ms, dt);
    json_object_set_new(f, "Id", json_string(id));
    json_object_set_new(f, "IsDeleted", json_false());
    json_object_set_new(f, "CreatedDate", json_string(dt));
    if (user_id && *user_id)
        json_object_set_new(f, "CreatedById", json_string(user_id));
    sfs_stamp(f, now_ms, user_id);
    sfs_defaults(obj, f, user_id);
    sfs_derive(st, obj, f, now_ms);
    return sfs_store_new(st, obj, id, f);
}

static int sfs_add_default_statuses(sfs_state *st, const char *campaign_id, int64_t now_ms,
                                    const char *user_id)
{
    sfs_object *cms = sfs_object_find(st, "CampaignMemberStatus");
    static const struct {
        const char *label;
        int sort, is_default, responded;
    } defs[] = {{"Sent", 1, 1, 0}, {"Responded", 2, 0, 1}};
    for (size_t i = 0; i < 2; i++) {
        json_t *f = json_pack("{s:s,s:s,s:i,s:b,s:b}", "CampaignId", campaign_id, "Label",
                              defs[i].label, "SortOrder", defs[i].sort, "IsDefault",
                              defs[i].is_default, "HasResponded", defs[i].responded);
        if (!f || !sfs_insert_internal(st, cms, f, now_ms, user_id)) {
            json_decref(f);
            return -1;
        }
    }
    return 0;
}

int sfs_insert(sfs_state *st, sfs_object *obj, json_t *input, int64_t now_ms, const char *user_id,
               sfs_rec **out, sfs_err *err)
{
    if (out)
        *out = NULL;
    if (!json_is_object(input)) {
        sfs_err_set(err, "JSON_PARSER_ERROR", "The record must be a JSON object");
        return -1;
    }
    json_t *f = json_object();
    if (!f) {
        sfs_err_set(err, "UNKNOWN_EXCEPTION", "out of memory");
        return -1;
    }
    if (sfs_apply_input(st, obj, f, input, 1, err) != 0 ||
        sfs_check_required(obj, f, NULL, err) != 0 ||
        sfs_rules_before(st, NULL, obj, f, NULL, err) != 0) {
        json_decref(f);
        return -1;
    }
    sfs_rec *rec = sfs_insert_internal(st, obj, f, now_ms, user_id);
    if (!rec) {
        json_decref(f);
        sfs_err_set(err, "UNKNOWN_EXCEPTION", "out of memory");
        return -1;
    }
    if (strcmp(obj->name, "Campaign") == 0 &&
        sfs_add_default_statuses(st, rec->id, now_ms, user_id) != 0) {
        sfs_err_set(err, "UNKNOWN_EXCEPTION", "out of memory");
        return -1;
    }
    if (strcmp(obj->name, "CampaignMemberStatus") == 0)
        sfs_after_cms(st, rec, NULL, now_ms, user_id);
    if (out)
        *out = rec;
    return 0;
}

int sfs_update(sfs_state *st, sfs_rec *rec, json_t *input, int64_t now_ms, const char *user_id,
               sfs_err *err)
{
    if (rec->deleted) {
        sfs_err_set(err, "ENTITY_IS_DELETED", "entity is deleted");
        return -1;
    }
    if (!json_is_object(input)) {
        sfs_err_set(err, "JSON_PARSER_ERROR", "The record must be a JSON object");
        return -1;
    }
    json_t *f = json_copy(rec->f);
    if (!f) {
        sfs_err_set(err, "UNKNOWN_EXCEPTION", "out of memory");
        return -1;
    }
    if (strcmp(rec->obj->name, "Lead") == 0 &&
        json_is_true(json_object_get(rec->f, "IsConverted"))) {
        json_decref(f);
        sfs_err_set(err, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead");
        return -1;
    }
    if (sfs_apply_input(st, rec->obj, f, input, 0, err) != 0 ||
        sfs_check_required(rec->obj, f, input, err) != 0 ||
        sfs_rules_before(st, rec, rec->obj, f, rec->f, err) != 0) {
        json_decref(f);
        return -1;
    }
    sfs_stamp(f, now_ms, user_id);
    sfs_derive(st, rec->obj, f, now_ms);
    json_t *old = json_incref(rec->f);
    sfs_store_replace(st, rec, f);
    if (strcmp(rec->obj->name, "CampaignMemberStatus") == 0)
        sfs_after_cms(st, rec, old, now_ms, user_id);
    json_decref(old);
    return 0;
}

void sfs_store_force(sfs_state *st, sfs_rec *rec, json_t *changes, int64_t now_ms,
                     const char *user_id)
{
    json_t *f = json_copy(rec->f);
    json_object_update(f, changes);
    sfs_stamp(f, now_ms, user_id);
    sfs_derive(st, rec->obj, f, now_ms);
    sfs_store_replace(st, rec, f);
}

static void sfs_mark_deleted(sfs_state *st, sfs_rec *rec, int64_t now_ms, const char *user_id)
{
    if (rec->deleted)
        return;
    json_t *f = json_copy(rec->f);
    json_object_set_new(f, "IsDeleted", json_true());
    sfs_stamp(f, now_ms, user_id);
    sfs_store_replace(st, rec, f);
}

static void sfs_cascade(sfs_state *st, const char *object, const char *field, const char *id,
                        int64_t now_ms, const char *user_id)
{
    sfs_vec *v = sfs_index_lookup(st, object, field, id);
    for (size_t i = 0; v && i < v->n; i++) {
        sfs_rec *r = v->items[i];
        if (r->deleted)
            continue;
        if (strcmp(object, "Contact") == 0)
            sfs_cascade(st, "CampaignMember", "ContactId", r->id, now_ms, user_id);
        sfs_mark_deleted(st, r, now_ms, user_id);
    }
}

int sfs_delete(sfs_state *st, sfs_rec *rec, int64_t now_ms, const char *user_id, sfs_err *err)
{
    if (rec->deleted) {
        sfs_err_set(err, "ENTITY_IS_DELETED", "entity is deleted");
        return -1;
    }
    const char *name = rec->obj->name;
    if (strcmp(name, "CampaignMemberStatus") == 0) {
        const char *campaign = sfs_str(rec->f, "CampaignId");
        sfs_rec *c = sfs_rec_find(st, campaign);
        if (c && !c->deleted) {
            if (json_is_true(json_object_get(rec->f, "IsDefault"))) {
                sfs_err_set(err, "DELETE_FAILED",
                            "You can't delete the default member status of a campaign: make "
                            "another status the default first.");
                return -1;
            }
            sfs_vec *members = sfs_index_lookup(st, "CampaignMember", "CampaignId", campaign);
            const char *label = sfs_str(rec->f, "Label");
            for (size_t i = 0; members && i < members->n; i++) {
                sfs_rec *m = members->items[i];
                const char *ms = sfs_str(m->f, "Status");
                if (!m->deleted && ms && label && strcasecmp(ms, label) == 0) {
                    sfs_err_set(err, "DELETE_FAILED",
                                "This member status is used by campaign members (for example "
                                "%s): change their status first.",
                                m->id);
                    return -1;
                }
            }
            if (json_is_true(json_object_get(rec->f, "HasResponded"))) {
                int others = 0;
                sfs_vec *v = sfs_index_lookup(st, "CampaignMemberStatus", "CampaignId", campaign);
                for (size_t i = 0; v && i < v->n; i++) {
                    sfs_rec *r = v->items[i];
                    if (r != rec && !r->deleted &&
                        json_is_true(json_object_get(r->f, "HasResponded")))
                        others++;
                }
                if (!others) {
                    sfs_err_set(err, "DELETE_FAILED",
                                "A campaign needs at least one member status that counts as "
                                "responded.");
                    return -1;
                }
            }
        }
    } else if (strcmp(name, "Campaign") == 0) {
        sfs_cascade(st, "CampaignMember", "CampaignId", rec->id, now_ms, user_id);
        sfs_cascade(st, "CampaignMemberStatus", "CampaignId", rec->id, now_ms, user_id);
    } else if (strcmp(name, "Lead") == 0) {
        sfs_cascade(st, "CampaignMember", "LeadId", rec->id, now_ms, user_id);
    } else if (strcmp(name, "Contact") == 0) {
        sfs_cascade(st, "CampaignMember", "ContactId", rec->id, now_ms, user_id);
    } else if (strcmp(name, "Account") == 0) {
        sfs_cascade(st, "Contact", "AccountId", rec->id, now_ms, user_id);
        sfs_cascade(st, "Opportunity", "AccountId", rec->id, now_ms, user_id);
    }
    sfs_mark_deleted(st, rec, now_ms, user_id);
    return 0;
}

/* ---- dataset ---- */

static int64_t sfs_wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static sfs_type sfs_custom_type(const char *name, const char *type)
{
    if (type) {
        static const struct {
            const char *name;
            sfs_type type;
        } map[] = {{"string", SF_T_STRING},     {"text", SF_T_STRING},    {"picklist", SF_T_STRING},
                   {"email", SF_T_EMAIL},       {"boolean", SF_T_BOOL},   {"int", SF_T_INT},
                   {"integer", SF_T_INT},       {"double", SF_T_DOUBLE},  {"number", SF_T_DOUBLE},
                   {"currency", SF_T_DOUBLE},   {"percent", SF_T_DOUBLE}, {"date", SF_T_DATE},
                   {"datetime", SF_T_DATETIME}, {"reference", SF_T_REF},  {"any", SF_T_ANY}};
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
            if (strcasecmp(type, map[i].name) == 0)
                return map[i].type;
        }
        return (sfs_type)-1;
    }
    size_t n = strlen(name);
    if (n > 7 && strcasecmp(name + n - 7, "Date__c") == 0)
        return SF_T_DATE;
    return SF_T_ANY;
}

/* Adds custom fields declared as ["Name__c", {"name":"X__c","type":"date"}, ...]. */
static int sfs_add_custom_fields(sfs_object *obj, json_t *list, char *err, size_t err_len)
{
    size_t i;
    json_t *item;
    if (!json_is_array(list)) {
        snprintf(err, err_len, "salesforce: custom fields of %s must be a list", obj->name);
        return -1;
    }
    json_array_foreach(list, i, item)
    {
        const char *name = json_is_string(item) ? json_string_value(item)
                                                : json_string_value(json_object_get(item, "name"));
        const char *type = json_string_value(json_object_get(item, "type"));
        const char *ref = json_string_value(json_object_get(item, "ref"));
        if (!name || !*name) {
            snprintf(err, err_len, "salesforce: custom field %zu of %s has no name", i, obj->name);
            return -1;
        }
        sfs_type t = sfs_custom_type(name, type);
        if ((int)t < 0 || (t == SF_T_REF && !ref)) {
            snprintf(err, err_len, "salesforce: custom field %s.%s has a bad type", obj->name,
                     name);
            return -1;
        }
        if (sfs_field_find(obj, name)) {
            snprintf(err, err_len, "salesforce: field %s.%s is declared twice", obj->name, name);
            return -1;
        }
        if (sfs_object_add_field(obj, name, t, CU, t == SF_T_REF ? ref : NULL) != 0) {
            snprintf(err, err_len, "salesforce: out of memory");
            return -1;
        }
    }
    return 0;
}

static int sfs_setup_indexes(sfs_object *obj, const char *const *names)
{
    for (int i = 0; names[i] && i < 4; i++) {
        const sfs_field *f = sfs_field_find(obj, names[i]);
        if (!f)
            return -1;
        obj->idx[obj->n_idx++].field = f;
    }
    return 0;
}

/* Loads one dataset row as is (no API write rules), filling system fields. */
static int sfs_load_record(sfs_state *st, sfs_object *obj, json_t *row, int64_t now_ms, char *err,
                           size_t err_len)
{
    if (!json_is_object(row)) {
        snprintf(err, err_len, "salesforce: a %s record is not an object", obj->name);
        return -1;
    }
    json_t *f = json_object();
    char id[19];
    const char *key;
    json_t *value;
    const char *given_id = NULL;
    json_object_foreach(row, key, value)
    {
        if (strcmp(key, "attributes") == 0)
            continue;
        const sfs_field *fd = sfs_field_find(obj, key);
        if (!fd) {
            snprintf(err, err_len, "salesforce: %s has no field '%s'", obj->name, key);
            json_decref(f);
            return -1;
        }
        if (fd->type == SF_T_ID) {
            given_id = json_string_value(value);
            continue;
        }
        sfs_err e;
        json_t *cv = sfs_coerce(fd, value, &e);
        if (!cv) {
            snprintf(err, err_len, "salesforce: %s.%s: %s", obj->name, fd->name, e.message);
            json_decref(f);
            return -1;
        }
        if (fd->type == SF_T_REF && json_is_string(cv)) {
            char norm[19];
            const char *s = json_string_value(cv);
            if (sfs_id_normalize(s, strlen(s), norm) != 0) {
                snprintf(err, err_len, "salesforce: %s.%s: '%s' is not an Id", obj->name, fd->name,
                         s);
                json_decref(cv);
                json_decref(f);
                return -1;
            }
            json_decref(cv);
            cv = json_string(norm);
        }
        json_object_set_new(f, fd->name, cv);
    }
    if (given_id) {
        if (sfs_id_normalize(given_id, strlen(given_id), id) != 0 ||
            strncmp(id, obj->prefix, 3) != 0) {
            snprintf(err, err_len, "salesforce: '%s' is not a %s Id (prefix %s)", given_id,
                     obj->name, obj->prefix);
            json_decref(f);
            return -1;
        }
        if (sfs_map_get(&st->by_id, id)) {
            snprintf(err, err_len, "salesforce: Id %s appears twice", id);
            json_decref(f);
            return -1;
        }
    } else {
        sfs_new_id(st, obj->prefix, id);
    }
    char dt[32];
    sfs_time_format_datetime(now_ms, dt);
    json_object_set_new(f, "Id", json_string(id));
    if (!json_is_boolean(json_object_get(f, "IsDeleted")))
        json_object_set_new(f, "IsDeleted", json_false());
    if (sfs_is_blank(json_object_get(f, "CreatedDate")))
        json_object_set_new(f, "CreatedDate", json_string(dt));
    if (sfs_is_blank(json_object_get(f, "LastModifiedDate")))
        json_object_set(f, "LastModifiedDate", json_object_get(f, "CreatedDate"));
    if (sfs_is_blank(json_object_get(f, "SystemModstamp")))
        json_object_set(f, "SystemModstamp", json_object_get(f, "LastModifiedDate"));
    sfs_defaults(obj, f, NULL);
    if (strcmp(obj->name, "CampaignMember") == 0) {
        if (sfs_is_blank(json_object_get(f, "CampaignId")) ||
            (sfs_is_blank(json_object_get(f, "LeadId")) &&
             sfs_is_blank(json_object_get(f, "ContactId")))) {
            snprintf(err, err_len,
                     "salesforce: campaign member %s needs CampaignId and LeadId or "
                     "ContactId",
                     id);
            json_decref(f);
            return -1;
        }
        char mkey[48];
        sfs_member_key(f, mkey);
        if (!json_is_true(json_object_get(f, "IsDeleted")) && sfs_map_get(&st->member_key, mkey)) {
            snprintf(err, err_len, "salesforce: campaign member %s duplicates another member", id);
            json_decref(f);
            return -1;
        }
    }
    /* Derived fields are filled in where the dataset doesn't give them. */
    json_t *given = json_object();
    json_object_foreach(row, key, value)
    {
        const sfs_field *fd = sfs_field_find(obj, key);
        if (fd && json_object_get(f, fd->name))
            json_object_set(given, fd->name, json_object_get(f, fd->name));
    }
    sfs_derive(st, obj, f, now_ms);
    json_object_update(f, given);
    json_decref(given);
    if (!sfs_store_new(st, obj, id, f)) {
        snprintf(err, err_len, "salesforce: out of memory");
        json_decref(f);
        return -1;
    }
    return 0;
}

sfs_state *sfs_store_create(json_t *section, uint64_t seed, char *err, size_t err_len)
{
    sfs_state *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, err_len, "salesforce: out of memory");
        return NULL;
    }
    pthread_mutex_init(&st->mu, NULL);
    st->next_id = 1;
    st->rng = seed ? seed : 0x5eed5eedULL;
    st->token_ttl_ms = 7200 * 1000LL;
    st->daily_limit = 100000;
    st->api_day = -1;
    json_t *sec = json_is_object(section) ? section : NULL;
    const char *cid = sec ? json_string_value(json_object_get(sec, "client_id")) : NULL;
    const char *csec = sec ? json_string_value(json_object_get(sec, "client_secret")) : NULL;
    st->client_id = strdup(cid ? cid : "campsync-sandbox-client");
    st->client_secret = strdup(csec ? csec : "campsync-sandbox-secret");
    const char *org = sec ? json_string_value(json_object_get(sec, "org_id")) : NULL;
    if (!org || sfs_id_normalize(org, strlen(org), st->org_id) != 0)
        sfs_id_normalize("00D000000000001", 15, st->org_id);
    json_t *ttl = sec ? json_object_get(sec, "token_ttl_s") : NULL;
    if (json_is_integer(ttl) && json_integer_value(ttl) > 0)
        st->token_ttl_ms = json_integer_value(ttl) * 1000;
    json_t *daily = sec ? json_object_get(json_object_get(sec, "limits"), "daily_api") : NULL;
    if (json_is_integer(daily) && json_integer_value(daily) > 0)
        st->daily_limit = (long)json_integer_value(daily);
    json_t *cf = sec ? json_object_get(sec, "custom_fields") : NULL;
    json_t *co = sec ? json_object_get(sec, "custom_objects") : NULL;
    st->custom_fields = cf ? json_incref(cf) : json_object();
    st->custom_objects = co ? json_incref(co) : json_object();
    if (!st->client_id || !st->client_secret || !json_is_object(st->custom_fields) ||
        !json_is_object(st->custom_objects)) {
        snprintf(err, err_len, "salesforce: custom_fields and custom_objects must be objects");
        sfs_store_destroy(st);
        return NULL;
    }
    for (size_t i = 0; i < SF_N_STANDARD; i++) {
        const sfs_object_def *d = &sfs_standard_objects[i];
        sfs_object *obj = sfs_object_new(st, d->name, d->prefix, 0);
        if (!obj || sfs_object_add_defs(obj, d->fields) != 0) {
            snprintf(err, err_len, "salesforce: out of memory");
            sfs_store_destroy(st);
            return NULL;
        }
    }
    const char *key;
    json_t *value;
    unsigned n_custom = 0;
    json_object_foreach(st->custom_objects, key, value)
    {
        size_t kl = strlen(key);
        if (kl < 4 || strcmp(key + kl - 3, "__c") != 0 || sfs_object_find(st, key)) {
            snprintf(err, err_len, "salesforce: custom object '%s' must end in __c and be unique",
                     key);
            sfs_store_destroy(st);
            return NULL;
        }
        char prefix[4];
        snprintf(prefix, sizeof prefix, "a%02u", n_custom++ % 100u);
        sfs_object *obj = sfs_object_new(st, key, prefix, 1);
        if (!obj || sfs_object_add_defs(obj, sfs_custom_object_fields) != 0 ||
            sfs_add_custom_fields(obj, value, err, err_len) != 0) {
            if (obj && !*err)
                snprintf(err, err_len, "salesforce: out of memory");
            sfs_store_destroy(st);
            return NULL;
        }
    }
    json_object_foreach(st->custom_fields, key, value)
    {
        sfs_object *obj = sfs_object_find(st, key);
        if (!obj) {
            snprintf(err, err_len, "salesforce: custom_fields names unknown object '%s'", key);
            sfs_store_destroy(st);
            return NULL;
        }
        if (sfs_add_custom_fields(obj, value, err, err_len) != 0) {
            sfs_store_destroy(st);
            return NULL;
        }
    }
    /* Field arrays are final now: indexes may point into them. */
    for (size_t i = 0; i < SF_N_STANDARD; i++)
        sfs_setup_indexes(sfs_object_find(st, sfs_standard_objects[i].name),
                          sfs_standard_objects[i].indexed);
    json_t *records = sec ? json_object_get(sec, "records") : NULL;
    int64_t now = sfs_wall_ms();
    if (records && !json_is_object(records)) {
        snprintf(err, err_len, "salesforce: records must be an object of lists");
        sfs_store_destroy(st);
        return NULL;
    }
    json_object_foreach(records, key, value)
    {
        if (!sfs_object_find(st, key) || !json_is_array(value)) {
            snprintf(err, err_len, "salesforce: records has unknown object '%s' (or not a list)",
                     key);
            sfs_store_destroy(st);
            return NULL;
        }
    }
    for (int i = 0; i < st->n_objs; i++) {
        sfs_object *obj = st->objs[i];
        json_t *rows = NULL;
        json_object_foreach(records, key, value)
        {
            if (strcasecmp(key, obj->name) == 0)
                rows = value;
        }
        size_t j;
        json_t *row;
        json_array_foreach(rows, j, row)
        {
            if (sfs_load_record(st, obj, row, now, err, err_len) != 0) {
                sfs_store_destroy(st);
                return NULL;
            }
        }
        if (strcmp(obj->name, "CampaignMemberStatus") == 0) {
            /* Salesforce gives every campaign a default and a responded status. */
            sfs_object *camp = sfs_object_find(st, "Campaign");
            for (size_t k = 0; k < camp->recs.n; k++) {
                sfs_rec *c = camp->recs.items[k];
                if (!sfs_index_lookup(st, "CampaignMemberStatus", "CampaignId", c->id))
                    sfs_add_default_statuses(st, c->id, now, NULL);
            }
        }
    }
    const char *iu = sec ? json_string_value(json_object_get(sec, "integration_user")) : NULL;
    if (iu) {
        if (sfs_id_normalize(iu, strlen(iu), st->integration_user) != 0) {
            snprintf(err, err_len, "salesforce: integration_user '%s' is not an Id", iu);
            sfs_store_destroy(st);
            return NULL;
        }
    } else {
        sfs_object *users = sfs_object_find(st, "User");
        if (users->recs.n > 0) {
            memcpy(st->integration_user, ((sfs_rec *)users->recs.items[0])->id, 19);
        } else {
            json_t *u =
                json_pack("{s:s,s:s,s:s,s:b}", "Username", "integration@campsync.sandbox",
                          "LastName", "Integration", "Email", "integration@campsync.sandbox",
                          "UserPermissionsMarketingUser", 1);
            int rc = sfs_load_record(st, users, u, now, err, err_len);
            json_decref(u);
            if (rc != 0) {
                sfs_store_destroy(st);
                return NULL;
            }
            memcpy(st->integration_user, ((sfs_rec *)users->recs.items[0])->id, 19);
        }
    }
    sfs_rec *user = sfs_map_get(&st->by_id, st->integration_user);
    if (!user || strcmp(user->obj->name, "User") != 0) {
        snprintf(err, err_len, "salesforce: integration_user %s is not a User record",
                 st->integration_user);
        sfs_store_destroy(st);
        return NULL;
    }
    return st;
}

void sfs_store_destroy(sfs_state *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->n_objs; i++)
        sfs_object_free(st->objs[i]);
    free(st->objs);
    sfs_map_free(&st->by_id);
    sfs_map_free(&st->member_key);
    for (size_t i = 0; i < st->tokens.cap; i++) {
        if (st->tokens.keys[i])
            free(st->tokens.vals[i]);
    }
    sfs_map_free(&st->tokens);
    sfs_vec_free(&st->cursors);
    for (size_t i = 0; i < st->n_journal; i++)
        json_decref(st->journal[i].old_f);
    free(st->journal);
    json_decref(st->custom_fields);
    json_decref(st->custom_objects);
    free(st->client_id);
    free(st->client_secret);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

json_t *sfs_store_dump(sfs_state *st)
{
    json_t *records = json_object();
    for (int i = 0; i < st->n_objs; i++) {
        sfs_object *obj = st->objs[i];
        if (obj->recs.n == 0)
            continue;
        json_t *rows = json_array();
        for (size_t j = 0; j < obj->recs.n; j++)
            json_array_append(rows, ((sfs_rec *)obj->recs.items[j])->f);
        json_object_set_new(records, obj->name, rows);
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:{s:I},s:{s:I,s:I},s:O,s:O,s:o}", "client_id",
                     st->client_id, "client_secret", st->client_secret, "org_id", st->org_id,
                     "integration_user", st->integration_user, "token_ttl_s",
                     (json_int_t)(st->token_ttl_ms / 1000), "limits", "daily_api",
                     (json_int_t)st->daily_limit, "api_usage", "used", (json_int_t)st->api_used,
                     "max", (json_int_t)st->daily_limit, "custom_fields", st->custom_fields,
                     "custom_objects", st->custom_objects, "records", records);
}
