/*
 * Marketo JSON <-> typed values (see mkto_json.h for the rules on nulls,
 * times, money and message ownership).
 */
#include "mkto_json.h"

#include "batch/batch_result.h"

#include "json/json.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MKTO_BODY_MAX_RECORDS 300

void *mkto_msg_new(const ProtobufCMessageDescriptor *d)
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

int mkto_parse_datetime(const char *s, int64_t *ms, mkto_err *err)
{
    cj_error e;
    if (cj_parse_datetime(s, ms, &e) != 0)
        return mkto_err_set(err, "%s", e.msg);
    return 0;
}

void mkto_format_datetime(int64_t ms, char *buf, size_t n)
{
    cj_format_datetime(ms, 0, buf, n);
}

int mkto_json_to_minor(const json_t *v, int64_t *minor, mkto_err *err)
{
    cj_error e;
    if (cj_json_to_minor(v, CJ_NUMERIC_STRING, minor, &e) != 0)
        return mkto_err_set(err, "%s", e.msg);
    return 0;
}

/* ---- field access ---- */

/* The field, or NULL when missing or null. */
static json_t *field(const json_t *rec, const char *key)
{
    json_t *v = json_object_get(rec, key);
    return json_is_null(v) ? NULL : v;
}

static int wrong(const char *where, const char *key, const char *want, const json_t *v,
                 mkto_err *err)
{
    return mkto_err_set(err, "%s.%s: expected %s, got %s", where, key, want, cj_kind(v));
}

static int get_str(const json_t *rec, const char *key, const char *where, char **dst, mkto_err *err)
{
    json_t *v = field(rec, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return wrong(where, key, "a string", v, err);
    if (json_string_length(v) == 0)
        return 0;
    char *s = strdup(json_string_value(v));
    if (!s)
        return mkto_err_set(err, "out of memory");
    if (*dst != protobuf_c_empty_string)
        free(*dst);
    *dst = s;
    return 0;
}

/* Integers; Marketo's lead database sometimes quotes them, so "123" is accepted. */
static int get_int64(const json_t *rec, const char *key, const char *where, int64_t *dst,
                     mkto_err *err)
{
    json_t *v = field(rec, key);
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        *dst = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (*s && !isspace((unsigned char)*s) && *end == '\0' && errno == 0) {
            *dst = x;
            return 0;
        }
    }
    return wrong(where, key, "an integer", v, err);
}

static int get_int32(const json_t *rec, const char *key, const char *where, int32_t *dst,
                     mkto_err *err)
{
    int64_t v = *dst;
    if (get_int64(rec, key, where, &v, err) != 0)
        return -1;
    if (v < INT32_MIN || v > INT32_MAX)
        return mkto_err_set(err, "%s.%s: %" PRId64 " does not fit 32 bits", where, key, v);
    *dst = (int32_t)v;
    return 0;
}

/* Booleans; also "true"/"false" strings, which the lead database uses. */
static int get_bool(const json_t *rec, const char *key, const char *where, protobuf_c_boolean *dst,
                    mkto_err *err)
{
    json_t *v = field(rec, key);
    if (!v)
        return 0;
    if (json_is_boolean(v)) {
        *dst = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) && (strcasecmp(json_string_value(v), "true") == 0 ||
                              strcasecmp(json_string_value(v), "false") == 0)) {
        *dst = strcasecmp(json_string_value(v), "true") == 0;
        return 0;
    }
    return wrong(where, key, "a boolean", v, err);
}

static int get_time(const json_t *rec, const char *key, const char *where, int64_t *dst,
                    mkto_err *err)
{
    json_t *v = field(rec, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return wrong(where, key, "a datetime string", v, err);
    mkto_err e;
    if (mkto_parse_datetime(json_string_value(v), dst, &e) != 0)
        return mkto_err_set(err, "%s.%s: %s", where, key, e.msg);
    return 0;
}

static int need_object(const json_t *rec, const char *where, mkto_err *err)
{
    if (!json_is_object(rec))
        return mkto_err_set(err, "%s: expected an object, got %s", where, cj_kind(rec));
    return 0;
}

/* A scalar as text (numbers and booleans printed, null ""); NULL for structures/OOM. */
static char *scalar_text(const json_t *v)
{
    char buf[64];
    if (!v || json_is_null(v))
        return strdup("");
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(buf);
    }
    if (json_is_real(v)) {
        snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
        return strdup(buf);
    }
    if (json_is_boolean(v))
        return strdup(json_is_true(v) ? "true" : "false");
    return NULL;
}

/* ---- envelope ---- */

static int parse_code(const json_t *c, int *code)
{
    if (json_is_integer(c) && json_integer_value(c) >= 0 && json_integer_value(c) <= INT_MAX) {
        *code = (int)json_integer_value(c);
        return 0;
    }
    if (json_is_string(c)) {
        const char *s = json_string_value(c);
        char *end;
        long v = strtol(s, &end, 10);
        if (isdigit((unsigned char)*s) && *end == '\0' && v <= INT_MAX) {
            *code = (int)v;
            return 0;
        }
    }
    return -1;
}

static void copy_message(char *dst, size_t n, const json_t *m)
{
    const char *s = json_is_string(m) ? json_string_value(m) : "";
    size_t j = 0;
    for (; *s && j + 1 < n; s++)
        dst[j++] = ((unsigned char)*s < 0x20) ? ' ' : *s;
    dst[j] = '\0';
}

int mkto_envelope_parse(const char *body, size_t len, mkto_envelope *env, mkto_err *err)
{
    memset(env, 0, sizeof *env);
    json_error_t je;
    json_t *doc = json_loadb(body ? body : "", len, 0, &je);
    if (!doc)
        return mkto_err_set(err, "Marketo answer is not JSON: %s (line %d, column %d)", je.text,
                            je.line, je.column);
    json_t *ok = json_object_get(doc, "success"), *res = json_object_get(doc, "result");
    json_t *errs = json_object_get(doc, "errors"), *warns = json_object_get(doc, "warnings");
    json_t *more = json_object_get(doc, "moreResult"), *tok = json_object_get(doc, "nextPageToken");
    json_t *rid = json_object_get(doc, "requestId");
    int rc = -1;
    if (!json_is_object(doc))
        mkto_err_set(err, "Marketo answer: expected an object, got %s", cj_kind(doc));
    else if (!json_is_boolean(ok))
        mkto_err_set(err, "Marketo answer: success: expected a boolean, got %s", cj_kind(ok));
    else if (res && !json_is_array(res) && !json_is_null(res))
        mkto_err_set(err, "Marketo answer: result: expected an array, got %s", cj_kind(res));
    else if (errs && !json_is_array(errs) && !json_is_null(errs))
        mkto_err_set(err, "Marketo answer: errors: expected an array, got %s", cj_kind(errs));
    else if (warns && !json_is_array(warns) && !json_is_null(warns))
        mkto_err_set(err, "Marketo answer: warnings: expected an array, got %s", cj_kind(warns));
    else if (more && !json_is_boolean(more))
        mkto_err_set(err, "Marketo answer: moreResult: expected a boolean, got %s", cj_kind(more));
    else if (tok && !json_is_string(tok) && !json_is_null(tok))
        mkto_err_set(err, "Marketo answer: nextPageToken: expected a string, got %s", cj_kind(tok));
    else if (rid && !json_is_string(rid) && !json_is_null(rid))
        mkto_err_set(err, "Marketo answer: requestId: expected a string, got %s", cj_kind(rid));
    else
        rc = 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(errs); i++) {
        json_t *e = json_array_get(errs, i);
        int code = 0;
        if (!json_is_object(e) || parse_code(json_object_get(e, "code"), &code) != 0) {
            rc = mkto_err_set(err, "Marketo answer: errors[%zu].code: expected a numeric code", i);
            break;
        }
        if (i < sizeof env->errors / sizeof env->errors[0]) {
            env->errors[i].code = code;
            copy_message(env->errors[i].message, sizeof env->errors[i].message,
                         json_object_get(e, "message"));
        }
        env->n_errors++;
    }
    if (rc == 0) {
        env->success = json_is_true(ok);
        env->result = json_is_array(res) ? json_incref(res) : json_array();
        env->n_warnings = json_array_size(warns);
        env->has_more_result = more != NULL;
        env->more_result = json_is_true(more);
        env->request_id = strdup(json_is_string(rid) ? json_string_value(rid) : "");
        if (json_is_string(tok))
            env->next_page_token = strdup(json_string_value(tok));
        if (!env->result || !env->request_id || (json_is_string(tok) && !env->next_page_token))
            rc = mkto_err_set(err, "out of memory");
    }
    json_decref(doc);
    if (rc != 0)
        mkto_envelope_clear(env);
    return rc;
}

void mkto_envelope_clear(mkto_envelope *env)
{
    json_decref(env->result);
    free(env->request_id);
    free(env->next_page_token);
    memset(env, 0, sizeof *env);
}

/* ---- Identity ---- */

int mkto_token_parse(const char *body, size_t len, mkto_token *tok, mkto_err *err)
{
    memset(tok, 0, sizeof *tok);
    json_error_t je;
    json_t *doc = json_loadb(body ? body : "", len, 0, &je);
    if (!doc)
        return mkto_err_set(err, "Identity answer is not JSON: %s", je.text);
    json_t *at = json_object_get(doc, "access_token"), *tt = json_object_get(doc, "token_type");
    json_t *ex = json_object_get(doc, "expires_in"), *sc = json_object_get(doc, "scope");
    json_t *e = json_object_get(doc, "error");
    int rc = -1;
    if (!json_is_object(doc))
        mkto_err_set(err, "Identity answer: expected an object, got %s", cj_kind(doc));
    else if (json_is_string(e))
        mkto_err_set(err, "Identity refused: %s: %s", json_string_value(e),
                     json_is_string(json_object_get(doc, "error_description"))
                         ? json_string_value(json_object_get(doc, "error_description"))
                         : "");
    else if (!json_is_string(at) || json_string_length(at) == 0)
        mkto_err_set(err, "Identity answer: access_token: expected a non-empty string, got %s",
                     cj_kind(at));
    else if (!json_is_integer(ex) || json_integer_value(ex) < 0)
        mkto_err_set(err, "Identity answer: expires_in: expected seconds, got %s", cj_kind(ex));
    else if ((tt && !json_is_string(tt)) || (sc && !json_is_string(sc)))
        mkto_err_set(err, "Identity answer: token_type and scope must be strings");
    else
        rc = 0;
    if (rc == 0) {
        tok->access_token = strdup(json_string_value(at));
        tok->token_type = strdup(tt ? json_string_value(tt) : "bearer");
        tok->scope = strdup(sc ? json_string_value(sc) : "");
        tok->expires_in_s = json_integer_value(ex);
        if (!tok->access_token || !tok->token_type || !tok->scope) {
            mkto_token_clear(tok);
            rc = mkto_err_set(err, "out of memory");
        }
    }
    json_decref(doc);
    return rc;
}

void mkto_token_clear(mkto_token *tok)
{
    free(tok->access_token);
    free(tok->token_type);
    free(tok->scope);
    memset(tok, 0, sizeof *tok);
}

/* ---- records ---- */

static int costs_from_json(const json_t *arr, const char *where, Campsync__V1__Program *p,
                           mkto_err *err)
{
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return wrong(where, "costs", "an array", arr, err);
    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    p->costs = calloc(n, sizeof *p->costs);
    if (!p->costs)
        return mkto_err_set(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char w[96];
        snprintf(w, sizeof w, "%s.costs[%zu]", where, i);
        const json_t *c = json_array_get(arr, i);
        if (need_object(c, w, err) != 0)
            return -1;
        Campsync__V1__PeriodCost *pc = mkto_msg_new(&campsync__v1__period_cost__descriptor);
        if (!pc)
            return mkto_err_set(err, "out of memory");
        p->costs[p->n_costs++] = pc;
        json_t *cost = field(c, "cost");
        mkto_err e;
        if (get_str(c, "startDate", w, &pc->start_date, err) ||
            get_str(c, "note", w, &pc->note, err))
            return -1;
        if (cost && mkto_json_to_minor(cost, &pc->cost_minor, &e) != 0)
            return mkto_err_set(err, "%s.cost: %s", w, e.msg);
    }
    return 0;
}

int mkto_program_from_json(const json_t *rec, const char *where, Campsync__V1__Program **out,
                           mkto_err *err)
{
    *out = NULL;
    if (!where)
        where = "program";
    if (need_object(rec, where, err) != 0)
        return -1;
    Campsync__V1__Program *p = mkto_msg_new(&campsync__v1__program__descriptor);
    if (!p)
        return mkto_err_set(err, "out of memory");
    if (get_int64(rec, "id", where, &p->id, err) || get_str(rec, "name", where, &p->name, err) ||
        get_str(rec, "type", where, &p->type, err) ||
        get_str(rec, "channel", where, &p->channel, err) ||
        get_str(rec, "status", where, &p->status, err) ||
        costs_from_json(field(rec, "costs"), where, p, err) ||
        get_str(rec, "sfdcId", where, &p->sfdc_id, err) ||
        get_str(rec, "sfdcName", where, &p->sfdc_name, err) ||
        get_time(rec, "createdAt", where, &p->created_at_ms, err) ||
        get_time(rec, "updatedAt", where, &p->updated_at_ms, err)) {
        msg_free(p);
        return -1;
    }
    if (p->id <= 0) {
        msg_free(p);
        return mkto_err_set(err, "%s.id: expected a positive program id", where);
    }
    *out = p;
    return 0;
}

static int cmp_step(const void *a, const void *b)
{
    const Campsync__V1__ProgressionStatus *x = *(Campsync__V1__ProgressionStatus *const *)a;
    const Campsync__V1__ProgressionStatus *y = *(Campsync__V1__ProgressionStatus *const *)b;
    return (x->step > y->step) - (x->step < y->step);
}

static int channel_from_json(const json_t *rec, const char *where, Campsync__V1__Channel **out,
                             mkto_err *err)
{
    *out = NULL;
    if (need_object(rec, where, err) != 0)
        return -1;
    Campsync__V1__Channel *c = mkto_msg_new(&campsync__v1__channel__descriptor);
    if (!c)
        return mkto_err_set(err, "out of memory");
    json_t *sts = field(rec, "progressionStatuses");
    if (get_int64(rec, "id", where, &c->id, err) || get_str(rec, "name", where, &c->name, err) ||
        get_str(rec, "applicableProgramType", where, &c->applicable_program_type, err) ||
        (sts && !json_is_array(sts) && wrong(where, "progressionStatuses", "an array", sts, err)))
        goto bad;
    size_t n = json_array_size(sts);
    if (n && !(c->statuses = calloc(n, sizeof *c->statuses))) {
        mkto_err_set(err, "out of memory");
        goto bad;
    }
    for (size_t i = 0; i < n; i++) {
        char w[96];
        snprintf(w, sizeof w, "%s.progressionStatuses[%zu]", where, i);
        const json_t *s = json_array_get(sts, i);
        if (need_object(s, w, err) != 0)
            goto bad;
        Campsync__V1__ProgressionStatus *ps =
            mkto_msg_new(&campsync__v1__progression_status__descriptor);
        if (!ps) {
            mkto_err_set(err, "out of memory");
            goto bad;
        }
        c->statuses[c->n_statuses++] = ps;
        if (get_str(s, "name", w, &ps->name, err) || get_int32(s, "step", w, &ps->step, err) ||
            get_bool(s, "success", w, &ps->success, err) ||
            get_bool(s, "hidden", w, &ps->hidden, err) ||
            get_str(s, "description", w, &ps->description, err))
            goto bad;
    }
    if (c->n_statuses > 1)
        qsort(c->statuses, c->n_statuses, sizeof *c->statuses, cmp_step);
    *out = c;
    return 0;
bad:
    msg_free(c);
    return -1;
}

static int member_from_json(const json_t *rec, const char *where, Campsync__V1__ProgramMember **out,
                            mkto_err *err)
{
    *out = NULL;
    if (need_object(rec, where, err) != 0)
        return -1;
    Campsync__V1__ProgramMember *m = mkto_msg_new(&campsync__v1__program_member__descriptor);
    if (!m)
        return mkto_err_set(err, "out of memory");
    if (get_int64(rec, "leadId", where, &m->lead_id, err) ||
        get_str(rec, "statusName", where, &m->status_name, err) ||
        get_bool(rec, "reachedSuccess", where, &m->reached_success, err) ||
        get_time(rec, "membershipDate", where, &m->membership_date_ms, err) ||
        get_time(rec, "updatedAt", where, &m->updated_at_ms, err)) {
        msg_free(m);
        return -1;
    }
    if (m->lead_id <= 0) {
        msg_free(m);
        return mkto_err_set(err, "%s.leadId: expected a positive lead id", where);
    }
    *out = m;
    return 0;
}

static int lead_from_json(const json_t *rec, const char *where, Campsync__V1__Lead **out,
                          mkto_err *err)
{
    *out = NULL;
    if (need_object(rec, where, err) != 0)
        return -1;
    Campsync__V1__Lead *l = mkto_msg_new(&campsync__v1__lead__descriptor);
    if (!l)
        return mkto_err_set(err, "out of memory");
    if (get_int64(rec, "id", where, &l->id, err) || get_str(rec, "email", where, &l->email, err) ||
        get_str(rec, "firstName", where, &l->first_name, err) ||
        get_str(rec, "lastName", where, &l->last_name, err) ||
        get_str(rec, "company", where, &l->company, err) ||
        get_str(rec, "sfdcLeadId", where, &l->sfdc_lead_id, err) ||
        get_str(rec, "sfdcContactId", where, &l->sfdc_contact_id, err) ||
        get_time(rec, "updatedAt", where, &l->updated_at_ms, err) ||
        get_time(rec, "createdAt", where, &l->created_at_ms, err)) {
        msg_free(l);
        return -1;
    }
    *out = l;
    return 0;
}

typedef int (*map_fn)(const json_t *rec, const char *where, void **out, mkto_err *err);

/* Maps every element of env->result and appends all of them at once. */
static int append_all(const mkto_envelope *env, map_fn fn, void ***arr, size_t *n, mkto_err *err)
{
    size_t count = json_array_size(env->result);
    if (count == 0)
        return 0;
    void **tmp = calloc(count, sizeof *tmp);
    if (!tmp)
        return mkto_err_set(err, "out of memory");
    size_t i;
    for (i = 0; i < count; i++) {
        char where[32];
        snprintf(where, sizeof where, "result[%zu]", i);
        if (fn(json_array_get(env->result, i), where, &tmp[i], err) != 0)
            break;
    }
    void **grown = i == count ? realloc(*arr, (*n + count) * sizeof *grown) : NULL;
    if (!grown) {
        if (i == count)
            mkto_err_set(err, "out of memory");
        for (size_t j = 0; j < count; j++)
            msg_free(tmp[j]);
        free(tmp);
        return -1;
    }
    memcpy(grown + *n, tmp, count * sizeof *tmp);
    free(tmp);
    *arr = grown;
    *n += count;
    return 0;
}

static int map_program(const json_t *r, const char *w, void **o, mkto_err *e)
{
    return mkto_program_from_json(r, w, (Campsync__V1__Program **)o, e);
}

static int map_channel(const json_t *r, const char *w, void **o, mkto_err *e)
{
    return channel_from_json(r, w, (Campsync__V1__Channel **)o, e);
}

static int map_member(const json_t *r, const char *w, void **o, mkto_err *e)
{
    return member_from_json(r, w, (Campsync__V1__ProgramMember **)o, e);
}

static int map_lead(const json_t *r, const char *w, void **o, mkto_err *e)
{
    return lead_from_json(r, w, (Campsync__V1__Lead **)o, e);
}

int mkto_programs_append(const mkto_envelope *env, Campsync__V1__ListProgramsResponse *list,
                         mkto_err *err)
{
    return append_all(env, map_program, (void ***)&list->programs, &list->n_programs, err);
}

int mkto_channels_append(const mkto_envelope *env, Campsync__V1__ListChannelsResponse *list,
                         mkto_err *err)
{
    return append_all(env, map_channel, (void ***)&list->channels, &list->n_channels, err);
}

int mkto_members_append(const mkto_envelope *env, Campsync__V1__ProgramMemberPage *page,
                        mkto_err *err)
{
    return append_all(env, map_member, (void ***)&page->members, &page->n_members, err);
}

int mkto_leads_append(const mkto_envelope *env, Campsync__V1__GetLeadsResponse *list, mkto_err *err)
{
    return append_all(env, map_lead, (void ***)&list->leads, &list->n_leads, err);
}

/* ---- activities ---- */

int mkto_activity_types_parse(const mkto_envelope *env, mkto_activity_type **types, size_t *n,
                              mkto_err *err)
{
    size_t count = json_array_size(env->result);
    *types = NULL;
    *n = 0;
    if (count == 0)
        return 0;
    mkto_activity_type *t = calloc(count, sizeof *t);
    if (!t)
        return mkto_err_set(err, "out of memory");
    for (size_t i = 0; i < count; i++) {
        char where[32];
        snprintf(where, sizeof where, "result[%zu]", i);
        const json_t *r = json_array_get(env->result, i);
        json_t *name = json_object_get(r, "name");
        int rc = need_object(r, where, err) != 0 || get_int32(r, "id", where, &t[i].id, err) != 0;
        if (rc == 0 && !json_is_string(name))
            rc = wrong(where, "name", "a string", name, err);
        if (rc == 0 && !(t[i].name = strdup(json_string_value(name))))
            rc = mkto_err_set(err, "out of memory");
        if (rc != 0) {
            mkto_activity_types_free(t, i + 1);
            return -1;
        }
    }
    *types = t;
    *n = count;
    return 0;
}

void mkto_activity_types_free(mkto_activity_type *types, size_t n)
{
    for (size_t i = 0; types && i < n; i++)
        free(types[i].name);
    free(types);
}

static int attributes_from_json(const json_t *arr, const char *where, Campsync__V1__Activity *a,
                                mkto_err *err)
{
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return wrong(where, "attributes", "an array", arr, err);
    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    a->attributes = calloc(n, sizeof *a->attributes);
    if (!a->attributes)
        return mkto_err_set(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char w[96];
        snprintf(w, sizeof w, "%s.attributes[%zu]", where, i);
        const json_t *at = json_array_get(arr, i);
        json_t *name = json_object_get(at, "name");
        if (need_object(at, w, err) != 0)
            return -1;
        if (!json_is_string(name))
            return wrong(w, "name", "a string", name, err);
        char *value = scalar_text(json_object_get(at, "value"));
        if (!value)
            return wrong(w, "value", "a scalar", json_object_get(at, "value"), err);
        Campsync__V1__Activity__AttributesEntry *e =
            mkto_msg_new(&campsync__v1__activity__attributes_entry__descriptor);
        char *key = strdup(json_string_value(name));
        if (!e || !key) {
            free(e);
            free(key);
            free(value);
            return mkto_err_set(err, "out of memory");
        }
        e->key = key;
        e->value = value;
        a->attributes[a->n_attributes++] = e;
    }
    return 0;
}

static int activity_from_json(const json_t *rec, const char *where, const mkto_activity_type *types,
                              size_t n_types, Campsync__V1__Activity **out, mkto_err *err)
{
    *out = NULL;
    if (need_object(rec, where, err) != 0)
        return -1;
    Campsync__V1__Activity *a = mkto_msg_new(&campsync__v1__activity__descriptor);
    if (!a)
        return mkto_err_set(err, "out of memory");
    json_t *pav = field(rec, "primaryAttributeValue");
    if (get_int64(rec, "id", where, &a->id, err) ||
        get_str(rec, "marketoGUID", where, &a->marketo_guid, err) ||
        get_int64(rec, "leadId", where, &a->lead_id, err) ||
        get_time(rec, "activityDate", where, &a->activity_date_ms, err) ||
        get_int32(rec, "activityTypeId", where, &a->activity_type_id, err) ||
        get_int64(rec, "primaryAttributeValueId", where, &a->primary_attribute_value_id, err) ||
        attributes_from_json(field(rec, "attributes"), where, a, err))
        goto bad;
    if (pav) {
        char *s = scalar_text(pav);
        if (!s) {
            wrong(where, "primaryAttributeValue", "a scalar", pav, err);
            goto bad;
        }
        if (*s)
            a->primary_attribute_value = s;
        else
            free(s);
    }
    if (a->marketo_guid == protobuf_c_empty_string && a->id > 0) {
        /* Older answers carry only the numeric id; keep a stable unique key anyway. */
        if (asprintf(&a->marketo_guid, "%" PRId64, a->id) < 0) {
            a->marketo_guid = (char *)protobuf_c_empty_string;
            mkto_err_set(err, "out of memory");
            goto bad;
        }
    }
    for (size_t i = 0; i < n_types; i++)
        if (types[i].id == a->activity_type_id) {
            if (!(a->activity_type = strdup(types[i].name))) {
                a->activity_type = (char *)protobuf_c_empty_string;
                mkto_err_set(err, "out of memory");
                goto bad;
            }
            break;
        }
    *out = a;
    return 0;
bad:
    msg_free(a);
    return -1;
}

int mkto_activity_page(const mkto_envelope *env, const mkto_activity_type *types, size_t n_types,
                       Campsync__V1__ActivityPage **out, mkto_err *err)
{
    *out = NULL;
    Campsync__V1__ActivityPage *page = mkto_msg_new(&campsync__v1__activity_page__descriptor);
    if (!page)
        return mkto_err_set(err, "out of memory");
    size_t n = json_array_size(env->result);
    if (n && !(page->activities = calloc(n, sizeof *page->activities))) {
        msg_free(page);
        return mkto_err_set(err, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        char where[32];
        snprintf(where, sizeof where, "result[%zu]", i);
        if (activity_from_json(json_array_get(env->result, i), where, types, n_types,
                               &page->activities[i], err) != 0) {
            msg_free(page);
            return -1;
        }
        page->n_activities++;
    }
    page->more = env->more_result;
    if (env->next_page_token && *env->next_page_token &&
        !(page->next_cursor = strdup(env->next_page_token))) {
        page->next_cursor = (char *)protobuf_c_empty_string;
        msg_free(page);
        return mkto_err_set(err, "out of memory");
    }
    *out = page;
    return 0;
}

/* ---- per-record results ---- */

/* Fills rr from one result entry (everything but index and key). */
static int fill_result(const json_t *r, const char *where, mkto_op op,
                       Campsync__V1__RecordResult *rr, mkto_err *err)
{
    json_t *status = json_object_get(r, "status"), *reasons = field(r, "reasons");
    if (!json_is_string(status))
        return wrong(where, "status", "a string", status, err);
    if (reasons && !json_is_array(reasons))
        return wrong(where, "reasons", "an array", reasons, err);
    json_t *idv = field(r, "id") ? field(r, "id") : field(r, "leadId");
    if (idv) {
        char *id = scalar_text(idv);
        if (!id || json_is_boolean(idv)) {
            free(id);
            return wrong(where, "id", "a record id", idv, err);
        }
        if (*id)
            rr->id = id;
        else
            free(id);
    }
    const char *s = json_string_value(status);
    Campsync__V1__Outcome o;
    if (strcmp(s, "created") == 0)
        o = op == MKTO_OP_STATUS ? CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED
                                 : CAMPSYNC__V1__OUTCOME__OUTCOME_CREATED;
    else if (strcmp(s, "updated") == 0)
        o = CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED;
    else if (strcmp(s, "deleted") == 0)
        o = CAMPSYNC__V1__OUTCOME__OUTCOME_DELETED;
    else
        o = strcmp(s, "skipped") == 0 ? CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED
                                      : CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED;
    json_t *first = json_array_get(reasons, 0);
    if (first) {
        int code = 0;
        char w[96];
        snprintf(w, sizeof w, "%s.reasons[0]", where);
        if (!json_is_object(first) || parse_code(json_object_get(first, "code"), &code) != 0)
            return mkto_err_set(err, "%s.code: expected a numeric code", w);
        char msg[256];
        copy_message(msg, sizeof msg, json_object_get(first, "message"));
        if (asprintf(&rr->code, "%d", code) < 0) {
            rr->code = (char *)protobuf_c_empty_string;
            return mkto_err_set(err, "out of memory");
        }
        if (*msg && !(rr->reason = strdup(msg))) {
            rr->reason = (char *)protobuf_c_empty_string;
            return mkto_err_set(err, "out of memory");
        }
        if (o == CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED ||
            o == CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED)
            o = mkto_record_outcome(op, code);
    } else if (o == CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED) {
        char *why = NULL;
        if (asprintf(&why, "Marketo status '%.40s'", s) < 0)
            return mkto_err_set(err, "out of memory");
        rr->reason = why;
    }
    rr->outcome = o;
    return 0;
}

int mkto_record_results_append(const mkto_envelope *env, mkto_op op, const char *const *keys,
                               size_t n_records, int32_t index_base, Campsync__V1__BatchResult *acc,
                               mkto_err *err)
{
    size_t count = json_array_size(env->result);
    if (count != n_records)
        return mkto_err_set(err, "Marketo answer: %zu results for %zu records", count, n_records);
    Campsync__V1__RecordResult **slot = calloc(n_records ? n_records : 1, sizeof *slot);
    if (!slot)
        return mkto_err_set(err, "out of memory");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        char where[32];
        snprintf(where, sizeof where, "result[%zu]", i);
        const json_t *r = json_array_get(env->result, i);
        json_t *seqv = json_object_get(r, "seq");
        int64_t seq = (int64_t)i;
        if (need_object(r, where, err) != 0) {
            rc = -1;
            break;
        }
        if (seqv && (!json_is_integer(seqv) || (seq = json_integer_value(seqv)) < 0 ||
                     (uint64_t)seq >= n_records)) {
            rc = mkto_err_set(err, "%s.seq: expected 0..%zu, got %s", where,
                              n_records ? n_records - 1 : 0, cj_kind(seqv));
            break;
        }
        if (slot[seq]) {
            rc = mkto_err_set(err, "%s.seq: %" PRId64 " appears twice", where, seq);
            break;
        }
        Campsync__V1__RecordResult *rr = mkto_msg_new(&campsync__v1__record_result__descriptor);
        if (!rr) {
            rc = mkto_err_set(err, "out of memory");
            break;
        }
        slot[seq] = rr;
        rr->index = index_base + (int32_t)seq;
        if (keys && keys[seq] && *keys[seq] && !(rr->key = strdup(keys[seq]))) {
            rr->key = (char *)protobuf_c_empty_string;
            rc = mkto_err_set(err, "out of memory");
            break;
        }
        rc = fill_result(r, where, op, rr, err);
    }
    Campsync__V1__RecordResult **grown = NULL;
    if (rc == 0 && n_records) {
        grown = realloc(acc->results, (acc->n_results + n_records) * sizeof *grown);
        if (!grown)
            rc = mkto_err_set(err, "out of memory");
        else
            acc->results = grown;
    }
    if (rc != 0) {
        for (size_t j = 0; j < n_records; j++)
            msg_free(slot[j]);
        free(slot);
        return -1;
    }
    for (size_t j = 0; j < n_records; j++) {
        acc->results[acc->n_results++] = slot[j];
        batch_result_count(acc, slot[j]->outcome);
    }
    acc->api_calls++;
    free(slot);
    return 0;
}

/* ---- request bodies ---- */

static int check_batch(size_t n, mkto_err *err)
{
    if (n == 0)
        return mkto_err_set(err, "Marketo batch with no records");
    if (n > MKTO_BODY_MAX_RECORDS)
        return mkto_err_set(err, "Marketo batch of %zu records; at most %d per call", n,
                            MKTO_BODY_MAX_RECORDS);
    return 0;
}

static json_t *lead_id_input(const int64_t *ids, size_t n, mkto_err *err)
{
    json_t *input = json_array();
    for (size_t i = 0; input && i < n; i++) {
        if (ids[i] <= 0) {
            mkto_err_set(err, "input[%zu].leadId: %" PRId64 " is not a lead id", i, ids[i]);
            json_decref(input);
            return NULL;
        }
        json_array_append_new(input, json_pack("{s:I}", "leadId", (json_int_t)ids[i]));
    }
    if (!input)
        mkto_err_set(err, "out of memory");
    return input;
}

static char *dump(json_t *body, mkto_err *err)
{
    char *out = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!out)
        mkto_err_set(err, "out of memory");
    return out;
}

char *mkto_body_member_status(const char *status_name, const int64_t *lead_ids, size_t n,
                              mkto_err *err)
{
    if (check_batch(n, err) != 0)
        return NULL;
    json_t *name = status_name && *status_name ? json_string(status_name) : NULL;
    if (!name) {
        mkto_err_set(err, "statusName: %s",
                     status_name && *status_name ? "not valid UTF-8" : "a status is required");
        return NULL;
    }
    json_t *input = lead_id_input(lead_ids, n, err);
    if (!input) {
        json_decref(name);
        return NULL;
    }
    return dump(json_pack("{s:o,s:o}", "statusName", name, "input", input), err);
}

char *mkto_body_member_remove(const int64_t *lead_ids, size_t n, mkto_err *err)
{
    if (check_batch(n, err) != 0)
        return NULL;
    json_t *input = lead_id_input(lead_ids, n, err);
    if (!input)
        return NULL;
    return dump(json_pack("{s:o}", "input", input), err);
}

static int put_opt(json_t *o, const char *key, const char *v, size_t i, mkto_err *err)
{
    if (!v || !*v)
        return 0;
    json_t *s = json_string(v);
    if (!s)
        return mkto_err_set(err, "input[%zu].%s: not valid UTF-8", i, key);
    json_object_set_new(o, key, s);
    return 0;
}

char *mkto_body_leads_upsert(Campsync__V1__Lead *const *leads, size_t n, mkto_err *err)
{
    if (check_batch(n, err) != 0)
        return NULL;
    json_t *input = json_array();
    for (size_t i = 0; input && i < n; i++) {
        const Campsync__V1__Lead *l = leads[i];
        int rc = 0;
        if (!l->email || !*l->email)
            rc = mkto_err_set(err, "input[%zu].email: required (the upsert key)", i);
        for (size_t j = 0; rc == 0 && j < i; j++)
            if (strcasecmp(leads[j]->email, l->email) == 0)
                rc = mkto_err_set(err,
                                  "input[%zu].email: '%.80s' repeats input[%zu]; one upsert per "
                                  "email per call",
                                  i, l->email, j);
        json_t *o = json_object();
        if (rc == 0 && o)
            rc = put_opt(o, "email", l->email, i, err) ||
                 put_opt(o, "firstName", l->first_name, i, err) ||
                 put_opt(o, "lastName", l->last_name, i, err) ||
                 put_opt(o, "company", l->company, i, err);
        if (rc != 0 || !o || json_array_append_new(input, o) != 0) {
            if (rc == 0)
                mkto_err_set(err, "out of memory");
            if (rc != 0)
                json_decref(o);
            json_decref(input);
            return NULL;
        }
    }
    if (!input) {
        mkto_err_set(err, "out of memory");
        return NULL;
    }
    return dump(json_pack("{s:s,s:s,s:o}", "action", "createOrUpdate", "lookupField", "email",
                          "input", input),
                err);
}
