/*
 * Implementation of sf_query.h. A query is parsed (soql.c), compiled against
 * the org's object descriptions (names resolved to canonical fields, literal
 * types checked the way Salesforce checks them), then run: candidates come
 * from an index when the WHERE clause pins Id or an indexed reference field
 * (CampaignMember.CampaignId above all), rows are filtered, sorted and cut,
 * and the selected records kept in a cursor. Rows are written out only when
 * a page is served, so the first page of a 100,000-member campaign costs a
 * walk of the campaign's index entry plus 2,000 rows of text.
 */
#include "sf_query.h"
#include "soql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SF_MAX_HOPS 5

typedef struct {
    int n_hops;
    const sfs_field *hops[SF_MAX_HOPS];
    const sfs_object *targets[SF_MAX_HOPS]; /* the object each hop leads to */
    const sfs_field *leaf;
} sfs_cpath;

typedef struct sfs_cexpr {
    sfq_expr_kind kind;
    struct sfs_cexpr **kids;
    int n_kids;
    sfs_cpath path;
    sfq_op op;
    const sfq_literal *vals; /* borrowed from the parsed query */
    char (*ids)[19];         /* normalised Id literals for Id/reference fields */
    int n_vals;
} sfs_cexpr;

typedef struct sfs_pnode {
    const sfs_field *field;   /* leaf: the field; relationship: the reference field */
    const sfs_object *target; /* relationship: the object it leads to */
    int is_rel;
    char rel[64];
    struct sfs_pnode *kids;
    int n_kids, cap_kids;
} sfs_pnode;

static void sfs_pnode_free(sfs_pnode *n);

typedef struct sfs_compiled {
    sfq_query *q;
    sfs_object *obj;
    sfs_cpath *select;
    int n_select;
    sfs_cexpr *where;
    sfs_cpath *order;
    sfs_pnode proj; /* the SELECT list as written out (see sfs_page) */
} sfs_compiled;

static int sfs_build_projection(sfs_compiled *cq);

typedef struct sfs_cursor {
    char id[19];
    char user[19];
    int all;
    int batch;
    int64_t last_used_ms;
    sfs_compiled *cq;
    /* The selected records (owned array), from rows[start], n_rows of them.
     * Pages show the records as they are when the page is served, as
     * records are only ever freed with the org (or by a rollback within one
     * call, before any query can see them). */
    sfs_rec **rows;
    size_t start;
    size_t n_rows;
} sfs_cursor;

json_t *sfs_error_array(const char *code, const char *message)
{
    return json_pack("[{s:o,s:s}]", "message", sfs_json_text(message, strlen(message)), "errorCode",
                     code);
}

/* Error answers as text: Salesforce's array of {message, errorCode}. */
static int sfs_query_error(char **body, int status, const char *code, const char *message)
{
    json_t *j = sfs_error_array(code, message);
    *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return status;
}

static int sfs_query_fail(char **body, const sfq_error *err)
{
    return sfs_query_error(body, 400, err->code, err->message);
}

/* ---- compile ---- */

static void sfs_cexpr_free(sfs_cexpr *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->n_kids; i++)
        sfs_cexpr_free(e->kids[i]);
    free(e->kids);
    free(e->ids);
    free(e);
}

static void sfs_compiled_free(sfs_compiled *cq)
{
    if (!cq)
        return;
    sfq_free(cq->q);
    sfs_pnode_free(&cq->proj);
    free(cq->select);
    free(cq->order);
    sfs_cexpr_free(cq->where);
    free(cq);
}

static int sfs_compile_path(sfs_state *st, const char *text, sfs_object *obj, const sfq_path *p,
                            sfs_cpath *out, sfq_error *err)
{
    memset(out, 0, sizeof *out);
    if (p->n_parts - 1 > SF_MAX_HOPS) {
        sfq_error_at(err, text, p->pos, "MALFORMED_QUERY",
                     "SOQL statements cannot query more than %d levels of relationships",
                     SF_MAX_HOPS);
        return -1;
    }
    sfs_object *cur = obj;
    for (int i = 0; i + 1 < p->n_parts; i++) {
        const sfs_field *rel = sfs_relationship_find(cur, p->parts[i]);
        sfs_object *target = rel ? sfs_object_find(st, rel->ref) : NULL;
        if (!target) {
            sfq_error_at(err, text, p->pos, "INVALID_FIELD",
                         "Didn't understand relationship '%s' in field path. If you are "
                         "attempting to use a custom relationship, be sure to append the '__r' "
                         "after the custom relationship name. Please reference your WSDL or the "
                         "describe call for the appropriate names.",
                         p->parts[i]);
            return -1;
        }
        out->targets[out->n_hops] = target;
        out->hops[out->n_hops++] = rel;
        cur = target;
    }
    out->leaf = sfs_field_find(cur, p->parts[p->n_parts - 1]);
    if (!out->leaf) {
        sfq_error_at(err, text, p->pos, "INVALID_FIELD",
                     "No such column '%s' on entity '%s'. If you are attempting to use a custom "
                     "field, be sure to append the '__c' after the custom field name. Please "
                     "reference your WSDL or the describe call for the appropriate names.",
                     p->parts[p->n_parts - 1], cur->name);
        return -1;
    }
    return 0;
}

static const char *sfs_type_word(sfs_type t)
{
    switch (t) {
    case SF_T_BOOL:
        return "boolean";
    case SF_T_INT:
        return "integer";
    case SF_T_DOUBLE:
        return "double";
    case SF_T_DATE:
        return "date";
    case SF_T_DATETIME:
        return "dateTime";
    case SF_T_ID:
    case SF_T_REF:
        return "id";
    default:
        return "string";
    }
}

static int sfs_check_literal(const char *text, const sfs_field *f, sfq_op op,
                             const sfq_literal *lit, char id_out[19], sfq_error *err)
{
    sfs_type t = f->type;
    if (op == SFQ_LIKE) {
        if (t != SF_T_STRING && t != SF_T_EMAIL && t != SF_T_ANY) {
            sfq_error_at(err, text, lit->pos, "INVALID_QUERY_FILTER_OPERATOR",
                         "invalid operator on %s field", sfs_type_word(t));
            return -1;
        }
        if (lit->kind != SFQ_LIT_STRING) {
            sfq_error_at(err, text, lit->pos, "INVALID_QUERY_FILTER_OPERATOR",
                         "value of filter criterion for field '%s' must be of type string and "
                         "should be enclosed in quotes",
                         f->name);
            return -1;
        }
        return 0;
    }
    if (lit->kind == SFQ_LIT_NULL || t == SF_T_ANY)
        return 0;
    sfq_lit_kind want;
    switch (t) {
    case SF_T_BOOL:
        want = SFQ_LIT_BOOL;
        break;
    case SF_T_INT:
    case SF_T_DOUBLE:
        want = SFQ_LIT_NUMBER;
        break;
    case SF_T_DATE:
        want = SFQ_LIT_DATE;
        break;
    case SF_T_DATETIME:
        want = SFQ_LIT_DATETIME;
        break;
    default:
        want = SFQ_LIT_STRING;
        break;
    }
    int relative_date = lit->kind == SFQ_LIT_DATE_RANGE && (t == SF_T_DATE || t == SF_T_DATETIME);
    if (lit->kind != want && !relative_date) {
        int quoted = want == SFQ_LIT_STRING;
        sfq_error_at(err, text, lit->pos, "INVALID_QUERY_FILTER_OPERATOR",
                     "value of filter criterion for field '%s' must be of type %s and should "
                     "%sbe enclosed in quotes",
                     f->name, quoted ? "string" : sfs_type_word(t), quoted ? "" : "not ");
        return -1;
    }
    if ((t == SF_T_ID || t == SF_T_REF) && sfs_id_normalize(lit->text, lit->len, id_out) != 0) {
        sfq_error_at(err, text, lit->pos, "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: %.*s",
                     lit->len > 100 ? 100 : (int)lit->len, lit->text);
        return -1;
    }
    return 0;
}

static sfs_cexpr *sfs_compile_expr(sfs_state *st, const char *text, sfs_object *obj,
                                   const sfq_expr *e, int64_t now_ms, sfq_error *err)
{
    sfs_cexpr *c = calloc(1, sizeof *c);
    if (!c)
        goto oom;
    c->kind = e->kind;
    if (e->kind != SFQ_CMP) {
        c->kids = calloc((size_t)e->n_kids, sizeof *c->kids);
        if (!c->kids)
            goto oom;
        for (int i = 0; i < e->n_kids; i++) {
            c->kids[i] = sfs_compile_expr(st, text, obj, e->kids[i], now_ms, err);
            if (!c->kids[i]) {
                sfs_cexpr_free(c);
                return NULL;
            }
            c->n_kids++;
        }
        return c;
    }
    if (sfs_compile_path(st, text, obj, &e->path, &c->path, err) != 0) {
        sfs_cexpr_free(c);
        return NULL;
    }
    c->op = e->op;
    c->vals = e->values;
    c->n_vals = e->n_values;
    c->ids = calloc((size_t)e->n_values, sizeof *c->ids);
    if (!c->ids)
        goto oom;
    for (int i = 0; i < e->n_values; i++) {
        if (sfs_check_literal(text, c->path.leaf, e->op, &e->values[i], c->ids[i], err) != 0) {
            sfs_cexpr_free(c);
            return NULL;
        }
        sfq_literal *lit = &e->values[i];
        if (lit->kind == SFQ_LIT_DATE_RANGE) {
            /* Relative dates are days of the sandbox clock (UTC). */
            int64_t day = 86400000LL;
            int64_t today = (now_ms >= 0 ? now_ms / day : (now_ms - day + 1) / day) * day;
            lit->ms = today + lit->days_from * day;
            lit->ms_end = today + lit->days_to * day;
        }
    }
    return c;
oom:
    sfs_cexpr_free(c);
    snprintf(err->code, sizeof err->code, "UNKNOWN_EXCEPTION");
    snprintf(err->message, sizeof err->message, "out of memory");
    return NULL;
}

static sfs_compiled *sfs_compile(sfs_state *st, const char *text, const char *user_id,
                                 int64_t now_ms, sfq_error *err)
{
    sfq_query *q = NULL;
    if (sfq_parse(text, &q, err) != 0)
        return NULL;
    sfs_compiled *cq = calloc(1, sizeof *cq);
    if (!cq) {
        sfq_free(q);
        snprintf(err->code, sizeof err->code, "UNKNOWN_EXCEPTION");
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    cq->q = q;
    cq->obj = sfs_object_find(st, q->object);
    if (!cq->obj || !sfs_object_visible(st, cq->obj, user_id)) {
        sfq_error_at(err, text, q->object_pos, "INVALID_TYPE",
                     "sObject type '%s' is not supported. If you are attempting to use a custom "
                     "object, be sure to append the '__c' after the entity name. Please "
                     "reference your WSDL or the describe call for the appropriate names.",
                     cq->obj ? cq->obj->name : q->object);
        sfs_compiled_free(cq);
        return NULL;
    }
    cq->select = calloc((size_t)q->n_fields + 1, sizeof *cq->select);
    cq->order = calloc((size_t)q->n_order + 1, sizeof *cq->order);
    if (!cq->select || !cq->order) {
        sfs_compiled_free(cq);
        snprintf(err->code, sizeof err->code, "UNKNOWN_EXCEPTION");
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    for (int i = 0; i < q->n_fields; i++) {
        if (sfs_compile_path(st, text, cq->obj, &q->fields[i], &cq->select[i], err) != 0) {
            sfs_compiled_free(cq);
            return NULL;
        }
        for (int j = 0; j < i; j++) {
            if (memcmp(&cq->select[j], &cq->select[i], sizeof cq->select[i]) == 0) {
                sfq_error_at(err, text, q->fields[i].pos, "MALFORMED_QUERY",
                             "duplicate field selected: %s", cq->select[i].leaf->name);
                sfs_compiled_free(cq);
                return NULL;
            }
        }
        cq->n_select++;
    }
    if (sfs_build_projection(cq) != 0) {
        sfs_compiled_free(cq);
        snprintf(err->code, sizeof err->code, "UNKNOWN_EXCEPTION");
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    for (int i = 0; i < q->n_order; i++) {
        if (sfs_compile_path(st, text, cq->obj, &q->order[i].path, &cq->order[i], err) != 0) {
            sfs_compiled_free(cq);
            return NULL;
        }
    }
    if (q->where) {
        cq->where = sfs_compile_expr(st, text, cq->obj, q->where, now_ms, err);
        if (!cq->where) {
            sfs_compiled_free(cq);
            return NULL;
        }
    }
    return cq;
}

/* ---- evaluation ---- */

/* Follows a path from rec. A reference that names a missing or deleted
 * record, or a record of another object (polymorphic fields), ends at null. */
static json_t *sfs_path_value(const sfs_state *st, const sfs_rec *rec, const sfs_cpath *p)
{
    for (int i = 0; i < p->n_hops; i++) {
        const char *id = json_string_value(sfs_rec_value(rec, p->hops[i]));
        const sfs_rec *r = id ? sfs_map_get(&st->by_id, id) : NULL;
        if (!r || r->deleted || r->obj != p->targets[i])
            return NULL;
        rec = r;
    }
    return sfs_rec_value(rec, p->leaf);
}

/* Compares a non-null value with a non-null literal; returns -2 when the two
 * can't be compared. */
static int sfs_compare_lit(sfs_type t, json_t *v, const sfq_literal *lit, const char *id)
{
    if (t == SF_T_ID || t == SF_T_REF) {
        const char *s = json_string_value(v);
        if (!s)
            return -2;
        int c = strcmp(s, id);
        return c < 0 ? -1 : c > 0;
    }
    switch (lit->kind) {
    case SFQ_LIT_STRING: {
        const char *s = json_string_value(v);
        if (!s)
            return -2;
        int c = strcasecmp(s, lit->text);
        return c < 0 ? -1 : c > 0;
    }
    case SFQ_LIT_NUMBER: {
        if (!json_is_number(v))
            return -2;
        double d = json_number_value(v);
        return d < lit->number ? -1 : d > lit->number;
    }
    case SFQ_LIT_BOOL:
        if (!json_is_boolean(v))
            return -2;
        return json_is_true(v) - lit->boolean;
    case SFQ_LIT_DATE_RANGE: {
        const char *s = json_string_value(v);
        int64_t ms;
        int kind;
        if (!s || sfs_time_parse(s, strlen(s), &ms, &kind) != 0)
            return -2;
        return ms < lit->ms ? -1 : ms >= lit->ms_end;
    }
    case SFQ_LIT_DATE:
    case SFQ_LIT_DATETIME: {
        const char *s = json_string_value(v);
        if (!s)
            return -2;
        if (t == SF_T_DATE || t == SF_T_DATETIME) {
            int c = strcmp(s, lit->text);
            return c < 0 ? -1 : c > 0;
        }
        int64_t ms;
        int kind;
        if (sfs_time_parse(s, strlen(s), &ms, &kind) != 0)
            return -2;
        return ms < lit->ms ? -1 : ms > lit->ms;
    }
    default:
        return -2;
    }
}

static int sfs_eval(const sfs_state *st, const sfs_cexpr *e, const sfs_rec *f)
{
    switch (e->kind) {
    case SFQ_AND:
        for (int i = 0; i < e->n_kids; i++) {
            if (!sfs_eval(st, e->kids[i], f))
                return 0;
        }
        return 1;
    case SFQ_OR:
        for (int i = 0; i < e->n_kids; i++) {
            if (sfs_eval(st, e->kids[i], f))
                return 1;
        }
        return 0;
    case SFQ_NOT:
        return !sfs_eval(st, e->kids[0], f);
    case SFQ_CMP:
        break;
    }
    json_t *v = sfs_path_value(st, f, &e->path);
    int is_null = !v || json_is_null(v);
    sfs_type t = e->path.leaf->type;
    if (e->op == SFQ_IN || e->op == SFQ_NOT_IN) {
        int found = 0;
        for (int i = 0; i < e->n_vals && !found; i++) {
            if (e->vals[i].kind == SFQ_LIT_NULL)
                found = is_null;
            else if (!is_null)
                found = sfs_compare_lit(t, v, &e->vals[i], e->ids[i]) == 0;
        }
        return e->op == SFQ_IN ? found : !found;
    }
    const sfq_literal *lit = &e->vals[0];
    if (e->op == SFQ_LIKE) {
        const char *s = json_string_value(v);
        return s && sfq_like(lit->text, lit->len, s, strlen(s));
    }
    if (lit->kind == SFQ_LIT_NULL || is_null) {
        int both = lit->kind == SFQ_LIT_NULL && is_null;
        if (e->op == SFQ_EQ)
            return both;
        if (e->op == SFQ_NE)
            return !both;
        return 0;
    }
    int c = sfs_compare_lit(t, v, lit, e->ids[0]);
    if (c == -2)
        return e->op == SFQ_NE;
    switch (e->op) {
    case SFQ_EQ:
        return c == 0;
    case SFQ_NE:
        return c != 0;
    case SFQ_LT:
        return c < 0;
    case SFQ_LE:
        return c <= 0;
    case SFQ_GT:
        return c > 0;
    case SFQ_GE:
        return c >= 0;
    default:
        return 0;
    }
}

/* ---- candidates ---- */

/* An equality/IN on Id or an indexed reference field, at the top of the WHERE
 * clause or inside its top-level AND, lets the index give the candidates. */
static const sfs_cexpr *sfs_index_term(const sfs_compiled *cq, int *is_id)
{
    const sfs_cexpr *w = cq->where;
    if (!w)
        return NULL;
    const sfs_cexpr *const *terms = (const sfs_cexpr *const *)&w;
    int n = 1;
    if (w->kind == SFQ_AND) {
        terms = (const sfs_cexpr *const *)w->kids;
        n = w->n_kids;
    }
    const sfs_cexpr *best = NULL;
    for (int i = 0; i < n; i++) {
        const sfs_cexpr *t = terms[i];
        if (t->kind != SFQ_CMP || t->path.n_hops != 0 || (t->op != SFQ_EQ && t->op != SFQ_IN))
            continue;
        int has_null = 0;
        for (int j = 0; j < t->n_vals; j++)
            has_null |= t->vals[j].kind == SFQ_LIT_NULL;
        if (has_null)
            continue;
        if (t->path.leaf->type == SF_T_ID) {
            *is_id = 1;
            return t;
        }
        for (int j = 0; j < cq->obj->n_idx; j++) {
            if (cq->obj->idx[j].field == t->path.leaf && !best)
                best = t;
        }
    }
    *is_id = 0;
    return best;
}

static int sfs_seen_before(const sfs_cexpr *t, int i)
{
    for (int j = 0; j < i; j++) {
        if (strcmp(t->ids[j], t->ids[i]) == 0)
            return 1;
    }
    return 0;
}

typedef struct {
    sfs_rec **items;
    size_t n, cap;
} sfs_recs;

static int sfs_recs_push(sfs_recs *r, sfs_rec *rec)
{
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 256;
        sfs_rec **items = realloc(r->items, ncap * sizeof *items);
        if (!items)
            return -1;
        r->items = items;
        r->cap = ncap;
    }
    r->items[r->n++] = rec;
    return 0;
}

/* Filters one candidate. skip is the term the index already satisfied. */
static int sfs_consider(const sfs_state *st, const sfs_compiled *cq, const sfs_cexpr *skip, int all,
                        sfs_rec *rec, sfs_recs *out)
{
    if (rec->obj != cq->obj || (rec->deleted && !all))
        return 0;
    const sfs_cexpr *w = cq->where;
    if (w && w != skip) {
        if (skip && w->kind == SFQ_AND) {
            for (int i = 0; i < w->n_kids; i++) {
                if (w->kids[i] != skip && !sfs_eval(st, w->kids[i], rec))
                    return 0;
            }
        } else if (!sfs_eval(st, w, rec)) {
            return 0;
        }
    }
    return sfs_recs_push(out, rec);
}

static int sfs_collect(sfs_state *st, const sfs_compiled *cq, int all, sfs_recs *out)
{
    int is_id = 0;
    const sfs_cexpr *t = sfs_index_term(cq, &is_id);
    if (!t) {
        for (size_t i = 0; i < cq->obj->recs.n; i++) {
            if (sfs_consider(st, cq, NULL, all, cq->obj->recs.items[i], out) != 0)
                return -1;
        }
        return 0;
    }
    sfs_index *ix = NULL;
    for (int j = 0; !is_id && j < cq->obj->n_idx; j++) {
        if (cq->obj->idx[j].field == t->path.leaf)
            ix = &cq->obj->idx[j];
    }
    for (int i = 0; i < t->n_vals; i++) {
        if (sfs_seen_before(t, i))
            continue;
        if (is_id) {
            sfs_rec *rec = sfs_map_get(&st->by_id, t->ids[i]);
            if (rec && sfs_consider(st, cq, t, all, rec, out) != 0)
                return -1;
            continue;
        }
        sfs_vec *v = sfs_map_get(&ix->map, t->ids[i]);
        for (size_t k = 0; v && k < v->n; k++) {
            if (sfs_consider(st, cq, t, all, v->items[k], out) != 0)
                return -1;
        }
    }
    return 0;
}

/* ---- ORDER BY ---- */

typedef struct {
    const sfs_compiled *cq;
    json_t **keys; /* n_rows x n_order */
    int n_order;
} sfs_sort_ctx;

static int sfs_compare_values(sfs_type t, json_t *a, json_t *b)
{
    if (json_is_string(a) && json_is_string(b)) {
        int c = (t == SF_T_STRING || t == SF_T_EMAIL || t == SF_T_ANY)
                    ? strcasecmp(json_string_value(a), json_string_value(b))
                    : strcmp(json_string_value(a), json_string_value(b));
        return c < 0 ? -1 : c > 0;
    }
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_boolean(a) && json_is_boolean(b))
        return json_is_true(a) - json_is_true(b);
    /* Mixed types (untyped custom fields): order by JSON type. */
    int ta = (int)json_typeof(a), tb = (int)json_typeof(b);
    return ta < tb ? -1 : ta > tb;
}

static int sfs_sort_cmp(const void *pa, const void *pb, void *arg)
{
    const sfs_sort_ctx *ctx = arg;
    size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
    for (int k = 0; k < ctx->n_order; k++) {
        const sfq_order *o = &ctx->cq->q->order[k];
        json_t *a = ctx->keys[ia * (size_t)ctx->n_order + (size_t)k];
        json_t *b = ctx->keys[ib * (size_t)ctx->n_order + (size_t)k];
        int an = !a || json_is_null(a), bn = !b || json_is_null(b);
        int c;
        if (an || bn) {
            if (an && bn)
                continue;
            c = an ? -1 : 1;
            if (o->nulls_last)
                c = -c;
            return c;
        }
        c = sfs_compare_values(ctx->cq->order[k].leaf->type, a, b);
        if (c)
            return o->desc ? -c : c;
    }
    return ia < ib ? -1 : ia > ib;
}

static int sfs_sort(const sfs_state *st, const sfs_compiled *cq, sfs_recs *rows)
{
    int n_order = cq->q->n_order;
    if (n_order == 0 || rows->n < 2)
        return 0;
    sfs_sort_ctx ctx = {cq, calloc(rows->n * (size_t)n_order, sizeof(json_t *)), n_order};
    size_t *perm = malloc(rows->n * sizeof *perm);
    if (!ctx.keys || !perm) {
        free(ctx.keys);
        free(perm);
        return -1;
    }
    for (size_t i = 0; i < rows->n; i++) {
        perm[i] = i;
        for (int k = 0; k < n_order; k++)
            ctx.keys[i * (size_t)n_order + (size_t)k] =
                sfs_path_value(st, rows->items[i], &cq->order[k]);
    }
    /* Rows often arrive in the requested order already (Ids grow with time). */
    int sorted = 1;
    for (size_t i = 1; i < rows->n && sorted; i++)
        sorted = sfs_sort_cmp(&perm[i - 1], &perm[i], &ctx) <= 0;
    if (!sorted) {
        qsort_r(perm, rows->n, sizeof *perm, sfs_sort_cmp, &ctx);
        sfs_rec **sorted_rows = malloc(rows->n * sizeof *sorted_rows);
        if (!sorted_rows) {
            free(ctx.keys);
            free(perm);
            return -1;
        }
        for (size_t i = 0; i < rows->n; i++)
            sorted_rows[i] = rows->items[perm[i]];
        free(rows->items);
        rows->items = sorted_rows;
        rows->cap = rows->n;
    }
    free(ctx.keys);
    free(perm);
    return 0;
}

/* ---- projection and pages ----
 *
 * Pages are written straight to text: building a jansson tree per row and
 * dumping it costs several times more, and a 2,000-row page of a large
 * campaign must be served in a few milliseconds. The SELECT list is turned
 * once into a tree (relationship fields grouped under their relationship, in
 * first-mention order) that each row is written through.
 */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sfs_buf;

static void sfs_buf_put(sfs_buf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < b->n + len + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static void sfs_buf_lit(sfs_buf *b, const char *s)
{
    sfs_buf_put(b, s, strlen(s));
}

static void sfs_buf_str(sfs_buf *b, const char *s, size_t len)
{
    sfs_buf_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sfs_buf_put(b, s + run, i - run);
        run = i + 1;
        char esc[8];
        switch (c) {
        case '"':
            sfs_buf_put(b, "\\\"", 2);
            break;
        case '\\':
            sfs_buf_put(b, "\\\\", 2);
            break;
        case '\n':
            sfs_buf_put(b, "\\n", 2);
            break;
        case '\r':
            sfs_buf_put(b, "\\r", 2);
            break;
        case '\t':
            sfs_buf_put(b, "\\t", 2);
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sfs_buf_put(b, esc, 6);
            break;
        }
    }
    sfs_buf_put(b, s + run, len - run);
    sfs_buf_put(b, "\"", 1);
}

static void sfs_buf_value(sfs_buf *b, json_t *v)
{
    char num[64];
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        sfs_buf_str(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        sfs_buf_lit(b, num);
        break;
    case JSON_REAL: {
        /* Shortest faithful form, always with a decimal point as Salesforce
         * writes double and currency fields (1500.0, 0.4). */
        snprintf(num, sizeof num, "%.15g", json_real_value(v));
        if (!strpbrk(num, ".eEn"))
            strcat(num, ".0");
        sfs_buf_lit(b, num);
        break;
    }
    case JSON_TRUE:
        sfs_buf_lit(b, "true");
        break;
    case JSON_FALSE:
        sfs_buf_lit(b, "false");
        break;
    default:
        sfs_buf_lit(b, "null");
        break;
    }
}

static void sfs_pnode_free(sfs_pnode *n)
{
    for (int i = 0; i < n->n_kids; i++)
        sfs_pnode_free(&n->kids[i]);
    free(n->kids);
}

static sfs_pnode *sfs_pnode_child(sfs_pnode *n, const sfs_field *f, const sfs_object *target,
                                  int is_rel)
{
    for (int i = 0; i < n->n_kids; i++) {
        if (n->kids[i].field == f && n->kids[i].is_rel == is_rel)
            return &n->kids[i];
    }
    if (n->n_kids == n->cap_kids) {
        int ncap = n->cap_kids ? n->cap_kids * 2 : 8;
        sfs_pnode *k = realloc(n->kids, (size_t)ncap * sizeof *k);
        if (!k)
            return NULL;
        n->kids = k;
        n->cap_kids = ncap;
    }
    sfs_pnode *c = &n->kids[n->n_kids++];
    memset(c, 0, sizeof *c);
    c->field = f;
    c->target = target;
    c->is_rel = is_rel;
    if (is_rel)
        snprintf(c->rel, sizeof c->rel, "%.*s", (int)strlen(f->name) - 2, f->name);
    return c;
}

static int sfs_build_projection(sfs_compiled *cq)
{
    for (int i = 0; i < cq->n_select; i++) {
        const sfs_cpath *p = &cq->select[i];
        sfs_pnode *cur = &cq->proj;
        for (int h = 0; h < p->n_hops && cur; h++)
            cur = sfs_pnode_child(cur, p->hops[h], p->targets[h], 1);
        if (!cur || !sfs_pnode_child(cur, p->leaf, NULL, 0))
            return -1;
    }
    return 0;
}

static void sfs_write_attributes(sfs_buf *b, const char *type, const char *id, const char *version)
{
    sfs_buf_lit(b, "{\"attributes\":{\"type\":");
    sfs_buf_str(b, type, strlen(type));
    sfs_buf_lit(b, ",\"url\":\"/services/data/");
    sfs_buf_lit(b, version);
    sfs_buf_lit(b, "/sobjects/");
    sfs_buf_lit(b, type);
    sfs_buf_lit(b, "/");
    sfs_buf_lit(b, id);
    sfs_buf_lit(b, "\"}");
}

static void sfs_write_node(sfs_buf *b, const sfs_state *st, const sfs_pnode *n, const sfs_rec *rec,
                           const char *version)
{
    sfs_write_attributes(b, rec->obj->name, rec->id, version);
    for (int i = 0; i < n->n_kids; i++) {
        const sfs_pnode *k = &n->kids[i];
        sfs_buf_put(b, ",", 1);
        if (!k->is_rel) {
            sfs_buf_str(b, k->field->name, strlen(k->field->name));
            sfs_buf_put(b, ":", 1);
            sfs_buf_value(b, sfs_rec_value(rec, k->field));
            continue;
        }
        sfs_buf_str(b, k->rel, strlen(k->rel));
        sfs_buf_put(b, ":", 1);
        const char *pid = json_string_value(sfs_rec_value(rec, k->field));
        const sfs_rec *parent = pid ? sfs_map_get(&st->by_id, pid) : NULL;
        if (!parent || parent->deleted || parent->obj != k->target) {
            sfs_buf_lit(b, "null");
            continue;
        }
        sfs_write_node(b, st, k, parent, version);
    }
    sfs_buf_put(b, "}", 1);
}

static char *sfs_page(const sfs_state *st, const sfs_cursor *c, size_t from, const char *version,
                      int *done)
{
    size_t to = from + (size_t)c->batch;
    if (to > c->n_rows)
        to = c->n_rows;
    *done = to >= c->n_rows;
    sfs_buf b = {0};
    char head[256];
    snprintf(head, sizeof head, "{\"totalSize\":%zu,\"done\":%s", c->n_rows,
             *done ? "true" : "false");
    sfs_buf_lit(&b, head);
    if (!*done) {
        snprintf(head, sizeof head, ",\"nextRecordsUrl\":\"/services/data/%s/%s/%s-%zu\"", version,
                 c->all ? "queryAll" : "query", c->id, to);
        sfs_buf_lit(&b, head);
    }
    sfs_buf_lit(&b, ",\"records\":[");
    for (size_t i = from; i < to; i++) {
        if (i > from)
            sfs_buf_put(&b, ",", 1);
        sfs_write_node(&b, st, &c->cq->proj, c->rows[c->start + i], version);
    }
    sfs_buf_lit(&b, "]}");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static void sfs_cursor_free(sfs_cursor *c)
{
    free(c->rows);
    sfs_compiled_free(c->cq);
    free(c);
}

static void sfs_cursor_close(sfs_state *st, sfs_cursor *c)
{
    sfs_vec_remove(&st->cursors, c);
    sfs_cursor_free(c);
}

void sfs_query_close_all(sfs_state *st)
{
    for (size_t i = 0; i < st->cursors.n; i++)
        sfs_cursor_free(st->cursors.items[i]);
    sfs_vec_free(&st->cursors);
}

/* Drops idle cursors and, past the per-user limit, the user's oldest one
 * (Salesforce keeps at most 10 open per user). */
static void sfs_cursor_gc(sfs_state *st, const char *user_id, int64_t now_ms)
{
    for (size_t i = st->cursors.n; i-- > 0;) {
        sfs_cursor *c = st->cursors.items[i];
        if (now_ms - c->last_used_ms > SF_CURSOR_IDLE_MS)
            sfs_cursor_close(st, c);
    }
    for (;;) {
        int n = 0;
        sfs_cursor *oldest = NULL;
        for (size_t i = 0; i < st->cursors.n; i++) {
            sfs_cursor *c = st->cursors.items[i];
            if (strcmp(c->user, user_id) == 0) {
                n++;
                if (!oldest)
                    oldest = c;
            }
        }
        if (n < SF_CURSORS_PER_USER || !oldest)
            return;
        sfs_cursor_close(st, oldest);
    }
}

int sfs_query_run(sfs_state *st, const char *q, int all, const char *version, int batch,
                  const char *user_id, int64_t now_ms, char **body)
{
    sfq_error err;
    memset(&err, 0, sizeof err);
    *body = NULL;
    sfs_compiled *cq = sfs_compile(st, q, user_id, now_ms, &err);
    if (!cq)
        return sfs_query_fail(body, &err);
    sfs_recs rows = {0};
    if (sfs_collect(st, cq, all, &rows) != 0 || sfs_sort(st, cq, &rows) != 0) {
        free(rows.items);
        sfs_compiled_free(cq);
        return sfs_query_error(body, 500, "UNKNOWN_EXCEPTION", "out of memory");
    }
    size_t from = cq->q->offset > 0 ? (size_t)cq->q->offset : 0;
    if (from > rows.n)
        from = rows.n;
    size_t n = rows.n - from;
    if (cq->q->limit >= 0 && (size_t)cq->q->limit < n)
        n = (size_t)cq->q->limit;
    if (cq->q->count_only) {
        free(rows.items);
        sfs_compiled_free(cq);
        if (asprintf(body, "{\"totalSize\":%zu,\"done\":true,\"records\":[]}", n) < 0) {
            *body = NULL;
            return sfs_query_error(body, 500, "UNKNOWN_EXCEPTION", "out of memory");
        }
        return 200;
    }
    sfs_cursor *c = calloc(1, sizeof *c);
    if (!c) {
        free(rows.items);
        sfs_compiled_free(cq);
        return sfs_query_error(body, 500, "UNKNOWN_EXCEPTION", "out of memory");
    }
    c->rows = rows.items;
    c->start = from;
    c->n_rows = n;
    c->cq = cq;
    c->all = all;
    c->batch = batch < SF_QUERY_PAGE_MIN   ? SF_QUERY_PAGE_MIN
               : batch > SF_QUERY_PAGE_MAX ? SF_QUERY_PAGE_MAX
                                           : batch;
    c->last_used_ms = now_ms;
    snprintf(c->user, sizeof c->user, "%s", user_id);
    sfs_id_make("01g", st->next_cursor++, c->id);
    int done;
    *body = sfs_page(st, c, 0, version, &done);
    if (!*body || done) {
        sfs_cursor_free(c);
        return *body ? 200 : sfs_query_error(body, 500, "UNKNOWN_EXCEPTION", "out of memory");
    }
    sfs_cursor_gc(st, user_id, now_ms);
    if (sfs_vec_push(&st->cursors, c) != 0) {
        sfs_cursor_free(c);
        free(*body);
        return sfs_query_error(body, 500, "UNKNOWN_EXCEPTION", "out of memory");
    }
    return 200;
}

int sfs_query_more(sfs_state *st, const char *locator, const char *version, const char *user_id,
                   int64_t now_ms, char **body)
{
    *body = NULL;
    const char *dash = strchr(locator, '-');
    char id[19];
    sfs_cursor *found = NULL;
    if (dash && sfs_id_normalize(locator, (size_t)(dash - locator), id) == 0) {
        for (size_t i = 0; i < st->cursors.n; i++) {
            sfs_cursor *c = st->cursors.items[i];
            if (strcmp(c->id, id) == 0 && strcmp(c->user, user_id) == 0 &&
                now_ms - c->last_used_ms <= SF_CURSOR_IDLE_MS)
                found = c;
        }
    }
    char *end = NULL;
    unsigned long long from = dash ? strtoull(dash + 1, &end, 10) : 0;
    if (!found || !end || *end || end == dash + 1 || from > found->n_rows)
        return sfs_query_error(body, 400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    found->last_used_ms = now_ms;
    int done;
    *body = sfs_page(st, found, (size_t)from, version, &done);
    if (!*body)
        return sfs_query_error(body, 500, "UNKNOWN_EXCEPTION", "out of memory");
    if (done)
        sfs_cursor_close(st, found);
    return 200;
}
