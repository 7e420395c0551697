/*
 * Implementation of sf_query.h. A query is parsed (soql.c), compiled against
 * the org's object descriptions (names resolved to canonical fields, literal
 * types checked the way Salesforce checks them), then run: candidates come
 * from an index when the WHERE clause pins Id or an indexed reference field
 * (CampaignMember.CampaignId above all), rows are filtered, sorted and cut,
 * and kept as snapshots in a cursor. Rows are projected into JSON only when a
 * page is served, so the first page of a 100,000-member campaign costs a scan
 * of the campaign's index entry plus 2,000 projections.
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
    const sf_field *hops[SF_MAX_HOPS];
    const sf_field *leaf;
} sf_cpath;

typedef struct sf_cexpr {
    soql_expr_kind kind;
    struct sf_cexpr **kids;
    int n_kids;
    sf_cpath path;
    soql_op op;
    const soql_literal *vals; /* borrowed from the parsed query */
    char (*ids)[19];          /* normalised Id literals for Id/reference fields */
    int n_vals;
} sf_cexpr;

typedef struct sf_compiled {
    soql_query *q;
    sf_object *obj;
    sf_cpath *select;
    int n_select;
    sf_cexpr *where;
    sf_cpath *order;
} sf_compiled;

typedef struct sf_cursor {
    char id[19];
    char user[19];
    int all;
    int batch;
    int64_t last_used_ms;
    sf_compiled *cq;
    json_t **rows; /* field-map snapshots, one reference each */
    size_t n_rows;
} sf_cursor;

json_t *sf_error_array(const char *code, const char *message)
{
    return json_pack("[{s:s,s:s}]", "message", message, "errorCode", code);
}

static int sf_query_fail(json_t **body, const soql_error *err)
{
    *body = sf_error_array(err->code, err->message);
    return 400;
}

/* ---- compile ---- */

static void sf_cexpr_free(sf_cexpr *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->n_kids; i++)
        sf_cexpr_free(e->kids[i]);
    free(e->kids);
    free(e->ids);
    free(e);
}

static void sf_compiled_free(sf_compiled *cq)
{
    if (!cq)
        return;
    soql_free(cq->q);
    free(cq->select);
    free(cq->order);
    sf_cexpr_free(cq->where);
    free(cq);
}

static int sf_compile_path(sf_state *st, const char *text, sf_object *obj, const soql_path *p,
                           sf_cpath *out, soql_error *err)
{
    memset(out, 0, sizeof *out);
    if (p->n_parts - 1 > SF_MAX_HOPS) {
        soql_error_at(err, text, p->pos, "MALFORMED_QUERY",
                      "SOQL statements cannot query more than %d levels of relationships",
                      SF_MAX_HOPS);
        return -1;
    }
    sf_object *cur = obj;
    for (int i = 0; i + 1 < p->n_parts; i++) {
        const sf_field *rel = sf_relationship_find(cur, p->parts[i]);
        sf_object *target = rel ? sf_object_find(st, rel->ref) : NULL;
        if (!target) {
            soql_error_at(err, text, p->pos, "INVALID_FIELD",
                          "Didn't understand relationship '%s' in field path. If you are "
                          "attempting to use a custom relationship, be sure to append the '__r' "
                          "after the custom relationship name. Please reference your WSDL or the "
                          "describe call for the appropriate names.",
                          p->parts[i]);
            return -1;
        }
        out->hops[out->n_hops++] = rel;
        cur = target;
    }
    out->leaf = sf_field_find(cur, p->parts[p->n_parts - 1]);
    if (!out->leaf) {
        soql_error_at(err, text, p->pos, "INVALID_FIELD",
                      "No such column '%s' on entity '%s'. If you are attempting to use a custom "
                      "field, be sure to append the '__c' after the custom field name. Please "
                      "reference your WSDL or the describe call for the appropriate names.",
                      p->parts[p->n_parts - 1], cur->name);
        return -1;
    }
    return 0;
}

static const char *sf_type_word(sf_type t)
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

static int sf_check_literal(const char *text, const sf_field *f, soql_op op,
                            const soql_literal *lit, char id_out[19], soql_error *err)
{
    sf_type t = f->type;
    if (op == SOQL_LIKE) {
        if (t != SF_T_STRING && t != SF_T_EMAIL && t != SF_T_ANY) {
            soql_error_at(err, text, lit->pos, "INVALID_QUERY_FILTER_OPERATOR",
                          "invalid operator on %s field", sf_type_word(t));
            return -1;
        }
        if (lit->kind != SOQL_LIT_STRING) {
            soql_error_at(err, text, lit->pos, "INVALID_QUERY_FILTER_OPERATOR",
                          "value of filter criterion for field '%s' must be of type string and "
                          "should be enclosed in quotes",
                          f->name);
            return -1;
        }
        return 0;
    }
    if (lit->kind == SOQL_LIT_NULL || t == SF_T_ANY)
        return 0;
    soql_lit_kind want;
    switch (t) {
    case SF_T_BOOL:
        want = SOQL_LIT_BOOL;
        break;
    case SF_T_INT:
    case SF_T_DOUBLE:
        want = SOQL_LIT_NUMBER;
        break;
    case SF_T_DATE:
        want = SOQL_LIT_DATE;
        break;
    case SF_T_DATETIME:
        want = SOQL_LIT_DATETIME;
        break;
    default:
        want = SOQL_LIT_STRING;
        break;
    }
    if (lit->kind != want) {
        int quoted = want == SOQL_LIT_STRING;
        soql_error_at(err, text, lit->pos, "INVALID_QUERY_FILTER_OPERATOR",
                      "value of filter criterion for field '%s' must be of type %s and should "
                      "%sbe enclosed in quotes",
                      f->name, quoted ? "string" : sf_type_word(t), quoted ? "" : "not ");
        return -1;
    }
    if ((t == SF_T_ID || t == SF_T_REF) && sf_id_normalize(lit->text, lit->len, id_out) != 0) {
        soql_error_at(err, text, lit->pos, "INVALID_QUERY_FILTER_OPERATOR",
                      "invalid ID field: %.*s", lit->len > 100 ? 100 : (int)lit->len, lit->text);
        return -1;
    }
    return 0;
}

static sf_cexpr *sf_compile_expr(sf_state *st, const char *text, sf_object *obj, const soql_expr *e,
                                 soql_error *err)
{
    sf_cexpr *c = calloc(1, sizeof *c);
    if (!c)
        goto oom;
    c->kind = e->kind;
    if (e->kind != SOQL_CMP) {
        c->kids = calloc((size_t)e->n_kids, sizeof *c->kids);
        if (!c->kids)
            goto oom;
        for (int i = 0; i < e->n_kids; i++) {
            c->kids[i] = sf_compile_expr(st, text, obj, e->kids[i], err);
            if (!c->kids[i]) {
                sf_cexpr_free(c);
                return NULL;
            }
            c->n_kids++;
        }
        return c;
    }
    if (sf_compile_path(st, text, obj, &e->path, &c->path, err) != 0) {
        sf_cexpr_free(c);
        return NULL;
    }
    c->op = e->op;
    c->vals = e->values;
    c->n_vals = e->n_values;
    c->ids = calloc((size_t)e->n_values, sizeof *c->ids);
    if (!c->ids)
        goto oom;
    for (int i = 0; i < e->n_values; i++) {
        if (sf_check_literal(text, c->path.leaf, e->op, &e->values[i], c->ids[i], err) != 0) {
            sf_cexpr_free(c);
            return NULL;
        }
    }
    return c;
oom:
    sf_cexpr_free(c);
    snprintf(err->code, sizeof err->code, "UNKNOWN_EXCEPTION");
    snprintf(err->message, sizeof err->message, "out of memory");
    return NULL;
}

static sf_compiled *sf_compile(sf_state *st, const char *text, const char *user_id, soql_error *err)
{
    soql_query *q = NULL;
    if (soql_parse(text, &q, err) != 0)
        return NULL;
    sf_compiled *cq = calloc(1, sizeof *cq);
    if (!cq) {
        soql_free(q);
        snprintf(err->code, sizeof err->code, "UNKNOWN_EXCEPTION");
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    cq->q = q;
    cq->obj = sf_object_find(st, q->object);
    if (!cq->obj || !sf_object_visible(st, cq->obj, user_id)) {
        soql_error_at(err, text, q->object_pos, "INVALID_TYPE",
                      "sObject type '%s' is not supported. If you are attempting to use a custom "
                      "object, be sure to append the '__c' after the entity name. Please "
                      "reference your WSDL or the describe call for the appropriate names.",
                      cq->obj ? cq->obj->name : q->object);
        sf_compiled_free(cq);
        return NULL;
    }
    cq->select = calloc((size_t)q->n_fields + 1, sizeof *cq->select);
    cq->order = calloc((size_t)q->n_order + 1, sizeof *cq->order);
    if (!cq->select || !cq->order) {
        sf_compiled_free(cq);
        snprintf(err->code, sizeof err->code, "UNKNOWN_EXCEPTION");
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    for (int i = 0; i < q->n_fields; i++) {
        if (sf_compile_path(st, text, cq->obj, &q->fields[i], &cq->select[i], err) != 0) {
            sf_compiled_free(cq);
            return NULL;
        }
        for (int j = 0; j < i; j++) {
            if (memcmp(&cq->select[j], &cq->select[i], sizeof cq->select[i]) == 0) {
                soql_error_at(err, text, q->fields[i].pos, "MALFORMED_QUERY",
                              "duplicate field selected: %s", cq->select[i].leaf->name);
                sf_compiled_free(cq);
                return NULL;
            }
        }
        cq->n_select++;
    }
    for (int i = 0; i < q->n_order; i++) {
        if (sf_compile_path(st, text, cq->obj, &q->order[i].path, &cq->order[i], err) != 0) {
            sf_compiled_free(cq);
            return NULL;
        }
    }
    if (q->where) {
        cq->where = sf_compile_expr(st, text, cq->obj, q->where, err);
        if (!cq->where) {
            sf_compiled_free(cq);
            return NULL;
        }
    }
    return cq;
}

/* ---- evaluation ---- */

static json_t *sf_path_value(const sf_state *st, json_t *f, const sf_cpath *p)
{
    for (int i = 0; i < p->n_hops; i++) {
        const char *id = json_string_value(json_object_get(f, p->hops[i]->name));
        sf_rec *r = id ? sf_map_get(&st->by_id, id) : NULL;
        if (!r || r->deleted)
            return NULL;
        f = r->f;
    }
    return json_object_get(f, p->leaf->name);
}

/* Compares a non-null value with a non-null literal; returns -2 when the two
 * can't be compared. */
static int sf_compare_lit(sf_type t, json_t *v, const soql_literal *lit, const char *id)
{
    if (t == SF_T_ID || t == SF_T_REF) {
        const char *s = json_string_value(v);
        if (!s)
            return -2;
        int c = strcmp(s, id);
        return c < 0 ? -1 : c > 0;
    }
    switch (lit->kind) {
    case SOQL_LIT_STRING: {
        const char *s = json_string_value(v);
        if (!s)
            return -2;
        int c = strcasecmp(s, lit->text);
        return c < 0 ? -1 : c > 0;
    }
    case SOQL_LIT_NUMBER: {
        if (!json_is_number(v))
            return -2;
        double d = json_number_value(v);
        return d < lit->number ? -1 : d > lit->number;
    }
    case SOQL_LIT_BOOL:
        if (!json_is_boolean(v))
            return -2;
        return json_is_true(v) - lit->boolean;
    case SOQL_LIT_DATE:
    case SOQL_LIT_DATETIME: {
        const char *s = json_string_value(v);
        if (!s)
            return -2;
        if (t == SF_T_DATE || t == SF_T_DATETIME) {
            int c = strcmp(s, lit->text);
            return c < 0 ? -1 : c > 0;
        }
        int64_t ms;
        int kind;
        if (sf_time_parse(s, strlen(s), &ms, &kind) != 0)
            return -2;
        return ms < lit->ms ? -1 : ms > lit->ms;
    }
    default:
        return -2;
    }
}

static int sf_eval(const sf_state *st, const sf_cexpr *e, json_t *f)
{
    switch (e->kind) {
    case SOQL_AND:
        for (int i = 0; i < e->n_kids; i++) {
            if (!sf_eval(st, e->kids[i], f))
                return 0;
        }
        return 1;
    case SOQL_OR:
        for (int i = 0; i < e->n_kids; i++) {
            if (sf_eval(st, e->kids[i], f))
                return 1;
        }
        return 0;
    case SOQL_NOT:
        return !sf_eval(st, e->kids[0], f);
    case SOQL_CMP:
        break;
    }
    json_t *v = sf_path_value(st, f, &e->path);
    int is_null = !v || json_is_null(v);
    sf_type t = e->path.leaf->type;
    if (e->op == SOQL_IN || e->op == SOQL_NOT_IN) {
        int found = 0;
        for (int i = 0; i < e->n_vals && !found; i++) {
            if (e->vals[i].kind == SOQL_LIT_NULL)
                found = is_null;
            else if (!is_null)
                found = sf_compare_lit(t, v, &e->vals[i], e->ids[i]) == 0;
        }
        return e->op == SOQL_IN ? found : !found;
    }
    const soql_literal *lit = &e->vals[0];
    if (e->op == SOQL_LIKE) {
        const char *s = json_string_value(v);
        return s && soql_like(lit->text, lit->len, s, strlen(s));
    }
    if (lit->kind == SOQL_LIT_NULL || is_null) {
        int both = lit->kind == SOQL_LIT_NULL && is_null;
        if (e->op == SOQL_EQ)
            return both;
        if (e->op == SOQL_NE)
            return !both;
        return 0;
    }
    int c = sf_compare_lit(t, v, lit, e->ids[0]);
    if (c == -2)
        return e->op == SOQL_NE;
    switch (e->op) {
    case SOQL_EQ:
        return c == 0;
    case SOQL_NE:
        return c != 0;
    case SOQL_LT:
        return c < 0;
    case SOQL_LE:
        return c <= 0;
    case SOQL_GT:
        return c > 0;
    case SOQL_GE:
        return c >= 0;
    default:
        return 0;
    }
}

/* ---- candidates ---- */

/* An equality/IN on Id or an indexed reference field, at the top of the WHERE
 * clause or inside its top-level AND, lets the index give the candidates. */
static const sf_cexpr *sf_index_term(const sf_compiled *cq, int *is_id)
{
    const sf_cexpr *w = cq->where;
    if (!w)
        return NULL;
    const sf_cexpr *const *terms = (const sf_cexpr *const *)&w;
    int n = 1;
    if (w->kind == SOQL_AND) {
        terms = (const sf_cexpr *const *)w->kids;
        n = w->n_kids;
    }
    const sf_cexpr *best = NULL;
    for (int i = 0; i < n; i++) {
        const sf_cexpr *t = terms[i];
        if (t->kind != SOQL_CMP || t->path.n_hops != 0 || (t->op != SOQL_EQ && t->op != SOQL_IN))
            continue;
        int has_null = 0;
        for (int j = 0; j < t->n_vals; j++)
            has_null |= t->vals[j].kind == SOQL_LIT_NULL;
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

static int sf_seen_before(const sf_cexpr *t, int i)
{
    for (int j = 0; j < i; j++) {
        if (strcmp(t->ids[j], t->ids[i]) == 0)
            return 1;
    }
    return 0;
}

typedef struct {
    sf_rec **items;
    size_t n, cap;
} sf_recs;

static int sf_recs_push(sf_recs *r, sf_rec *rec)
{
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 256;
        sf_rec **items = realloc(r->items, ncap * sizeof *items);
        if (!items)
            return -1;
        r->items = items;
        r->cap = ncap;
    }
    r->items[r->n++] = rec;
    return 0;
}

static int sf_consider(const sf_state *st, const sf_compiled *cq, int all, sf_rec *rec,
                       sf_recs *out)
{
    if (rec->obj != cq->obj || (rec->deleted && !all))
        return 0;
    if (cq->where && !sf_eval(st, cq->where, rec->f))
        return 0;
    return sf_recs_push(out, rec);
}

static int sf_collect(sf_state *st, const sf_compiled *cq, int all, sf_recs *out)
{
    int is_id = 0;
    const sf_cexpr *t = sf_index_term(cq, &is_id);
    if (!t) {
        for (size_t i = 0; i < cq->obj->recs.n; i++) {
            if (sf_consider(st, cq, all, cq->obj->recs.items[i], out) != 0)
                return -1;
        }
        return 0;
    }
    sf_index *ix = NULL;
    for (int j = 0; !is_id && j < cq->obj->n_idx; j++) {
        if (cq->obj->idx[j].field == t->path.leaf)
            ix = &cq->obj->idx[j];
    }
    for (int i = 0; i < t->n_vals; i++) {
        if (sf_seen_before(t, i))
            continue;
        if (is_id) {
            sf_rec *rec = sf_map_get(&st->by_id, t->ids[i]);
            if (rec && sf_consider(st, cq, all, rec, out) != 0)
                return -1;
            continue;
        }
        sf_vec *v = sf_map_get(&ix->map, t->ids[i]);
        for (size_t k = 0; v && k < v->n; k++) {
            if (sf_consider(st, cq, all, v->items[k], out) != 0)
                return -1;
        }
    }
    return 0;
}

/* ---- ORDER BY ---- */

typedef struct {
    const sf_compiled *cq;
    json_t **keys; /* n_rows x n_order */
    int n_order;
} sf_sort_ctx;

static int sf_compare_values(sf_type t, json_t *a, json_t *b)
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

static int sf_sort_cmp(const void *pa, const void *pb, void *arg)
{
    const sf_sort_ctx *ctx = arg;
    size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
    for (int k = 0; k < ctx->n_order; k++) {
        const soql_order *o = &ctx->cq->q->order[k];
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
        c = sf_compare_values(ctx->cq->order[k].leaf->type, a, b);
        if (c)
            return o->desc ? -c : c;
    }
    return ia < ib ? -1 : ia > ib;
}

static int sf_sort(const sf_state *st, const sf_compiled *cq, sf_recs *rows)
{
    int n_order = cq->q->n_order;
    if (n_order == 0 || rows->n < 2)
        return 0;
    sf_sort_ctx ctx = {cq, calloc(rows->n * (size_t)n_order, sizeof(json_t *)), n_order};
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
                sf_path_value(st, rows->items[i]->f, &cq->order[k]);
    }
    /* Rows often arrive in the requested order already (Ids grow with time). */
    int sorted = 1;
    for (size_t i = 1; i < rows->n && sorted; i++)
        sorted = sf_sort_cmp(&perm[i - 1], &perm[i], &ctx) <= 0;
    if (!sorted) {
        qsort_r(perm, rows->n, sizeof *perm, sf_sort_cmp, &ctx);
        sf_rec **sorted_rows = malloc(rows->n * sizeof *sorted_rows);
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

/* ---- projection and pages ---- */

static json_t *sf_record_attributes(const char *type, const char *id, const char *version)
{
    return json_pack("{s:s,s:o}", "type", type, "url",
                     json_sprintf("/services/data/%s/sobjects/%s/%s", version, type, id));
}

static json_t *sf_project(const sf_state *st, const sf_compiled *cq, json_t *f, const char *version)
{
    json_t *out = json_object();
    json_object_set_new(
        out, "attributes",
        sf_record_attributes(cq->obj->name, json_string_value(json_object_get(f, "Id")), version));
    for (int i = 0; i < cq->n_select; i++) {
        const sf_cpath *p = &cq->select[i];
        json_t *cur = out, *cf = f;
        int reached = 1;
        for (int h = 0; h < p->n_hops; h++) {
            const sf_field *hop = p->hops[h];
            char rel[128];
            snprintf(rel, sizeof rel, "%.*s", (int)strlen(hop->name) - 2, hop->name);
            const char *pid = json_string_value(json_object_get(cf, hop->name));
            sf_rec *parent = pid ? sf_map_get(&st->by_id, pid) : NULL;
            json_t *existing = json_object_get(cur, rel);
            if (!parent || parent->deleted) {
                if (!existing)
                    json_object_set_new(cur, rel, json_null());
                reached = 0;
                break;
            }
            if (!existing) {
                existing = json_object();
                json_object_set_new(existing, "attributes",
                                    sf_record_attributes(parent->obj->name, parent->id, version));
                json_object_set_new(cur, rel, existing);
            }
            cur = existing;
            cf = parent->f;
        }
        if (!reached)
            continue;
        json_t *v = json_object_get(cf, p->leaf->name);
        json_object_set(cur, p->leaf->name, v ? v : json_null());
    }
    return out;
}

static json_t *sf_page(const sf_state *st, const sf_cursor *c, size_t from, const char *version,
                       int *done)
{
    size_t to = from + (size_t)c->batch;
    if (to > c->n_rows)
        to = c->n_rows;
    json_t *records = json_array();
    for (size_t i = from; i < to; i++)
        json_array_append_new(records, sf_project(st, c->cq, c->rows[i], version));
    *done = to >= c->n_rows;
    json_t *page = json_pack("{s:I,s:b}", "totalSize", (json_int_t)c->n_rows, "done", *done);
    if (!*done)
        json_object_set_new(page, "nextRecordsUrl",
                            json_sprintf("/services/data/%s/%s/%s-%zu", version,
                                         c->all ? "queryAll" : "query", c->id, to));
    json_object_set_new(page, "records", records);
    return page;
}

static void sf_cursor_free(sf_cursor *c)
{
    for (size_t i = 0; i < c->n_rows; i++)
        json_decref(c->rows[i]);
    free(c->rows);
    sf_compiled_free(c->cq);
    free(c);
}

static void sf_cursor_close(sf_state *st, sf_cursor *c)
{
    sf_vec_remove(&st->cursors, c);
    sf_cursor_free(c);
}

void sf_query_close_all(sf_state *st)
{
    for (size_t i = 0; i < st->cursors.n; i++)
        sf_cursor_free(st->cursors.items[i]);
    sf_vec_free(&st->cursors);
}

/* Drops idle cursors and, past the per-user limit, the user's oldest one
 * (Salesforce keeps at most 10 open per user). */
static void sf_cursor_gc(sf_state *st, const char *user_id, int64_t now_ms)
{
    for (size_t i = st->cursors.n; i-- > 0;) {
        sf_cursor *c = st->cursors.items[i];
        if (now_ms - c->last_used_ms > SF_CURSOR_IDLE_MS)
            sf_cursor_close(st, c);
    }
    for (;;) {
        int n = 0;
        sf_cursor *oldest = NULL;
        for (size_t i = 0; i < st->cursors.n; i++) {
            sf_cursor *c = st->cursors.items[i];
            if (strcmp(c->user, user_id) == 0) {
                n++;
                if (!oldest)
                    oldest = c;
            }
        }
        if (n < SF_CURSORS_PER_USER || !oldest)
            return;
        sf_cursor_close(st, oldest);
    }
}

int sf_query_run(sf_state *st, const char *q, int all, const char *version, int batch,
                 const char *user_id, int64_t now_ms, json_t **body)
{
    soql_error err;
    memset(&err, 0, sizeof err);
    sf_compiled *cq = sf_compile(st, q, user_id, &err);
    if (!cq)
        return sf_query_fail(body, &err);
    sf_recs rows = {0};
    if (sf_collect(st, cq, all, &rows) != 0 || sf_sort(st, cq, &rows) != 0) {
        free(rows.items);
        sf_compiled_free(cq);
        *body = sf_error_array("UNKNOWN_EXCEPTION", "out of memory");
        return 500;
    }
    size_t from = cq->q->offset > 0 ? (size_t)cq->q->offset : 0;
    if (from > rows.n)
        from = rows.n;
    size_t n = rows.n - from;
    if (cq->q->limit >= 0 && (size_t)cq->q->limit < n)
        n = (size_t)cq->q->limit;
    if (cq->q->count_only) {
        *body = json_pack("{s:I,s:b,s:[]}", "totalSize", (json_int_t)n, "done", 1, "records");
        free(rows.items);
        sf_compiled_free(cq);
        return 200;
    }
    sf_cursor *c = calloc(1, sizeof *c);
    if (!c || (n && !(c->rows = malloc(n * sizeof *c->rows)))) {
        free(c);
        free(rows.items);
        sf_compiled_free(cq);
        *body = sf_error_array("UNKNOWN_EXCEPTION", "out of memory");
        return 500;
    }
    for (size_t i = 0; i < n; i++)
        c->rows[i] = json_incref(rows.items[from + i]->f);
    free(rows.items);
    c->n_rows = n;
    c->cq = cq;
    c->all = all;
    c->batch = batch < SF_QUERY_PAGE_MIN   ? SF_QUERY_PAGE_MIN
               : batch > SF_QUERY_PAGE_MAX ? SF_QUERY_PAGE_MAX
                                           : batch;
    c->last_used_ms = now_ms;
    snprintf(c->user, sizeof c->user, "%s", user_id);
    sf_id_make("01g", st->next_cursor++, c->id);
    int done;
    *body = sf_page(st, c, 0, version, &done);
    if (done) {
        sf_cursor_free(c);
        return 200;
    }
    sf_cursor_gc(st, user_id, now_ms);
    if (sf_vec_push(&st->cursors, c) != 0) {
        sf_cursor_free(c);
        json_decref(*body);
        *body = sf_error_array("UNKNOWN_EXCEPTION", "out of memory");
        return 500;
    }
    return 200;
}

int sf_query_more(sf_state *st, const char *locator, const char *version, const char *user_id,
                  int64_t now_ms, json_t **body)
{
    const char *dash = strchr(locator, '-');
    char id[19];
    sf_cursor *found = NULL;
    if (dash && sf_id_normalize(locator, (size_t)(dash - locator), id) == 0) {
        for (size_t i = 0; i < st->cursors.n; i++) {
            sf_cursor *c = st->cursors.items[i];
            if (strcmp(c->id, id) == 0 && strcmp(c->user, user_id) == 0 &&
                now_ms - c->last_used_ms <= SF_CURSOR_IDLE_MS)
                found = c;
        }
    }
    char *end = NULL;
    unsigned long long from = dash ? strtoull(dash + 1, &end, 10) : 0;
    if (!found || !end || *end || end == dash + 1 || from > found->n_rows) {
        *body = sf_error_array("INVALID_QUERY_LOCATOR", "invalid query locator");
        return 400;
    }
    found->last_used_ms = now_ms;
    int done;
    *body = sf_page(st, found, (size_t)from, version, &done);
    if (done)
        sf_cursor_close(st, found);
    return 200;
}
