/*
 * Path-aware JSON field access over jansson (see json.h). The only formatting
 * work happens in error paths: a ref records how it was reached and the path
 * is rebuilt from the parent chain when a message is needed.
 */
#include "json/json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

/* Appends the path of r to buf at *pos; returns nothing, truncates quietly. */
static void put_path(const cj_ref *r, char *buf, size_t n, size_t *pos)
{
    if (r->parent)
        put_path(r->parent, buf, n, pos);
    int w;
    if (!r->parent)
        return;
    if (r->key)
        w = snprintf(buf + *pos, n - *pos, "%s%s", *pos ? "." : "", r->key);
    else
        w = snprintf(buf + *pos, n - *pos, "[%zu]", r->index);
    if (w < 0)
        return;
    *pos += (size_t)w < n - *pos ? (size_t)w : n - *pos - 1;
}

void cj_path(const cj_ref *r, char *buf, size_t n)
{
    if (n == 0)
        return;
    size_t pos = 0;
    buf[0] = '\0';
    put_path(r, buf, n, &pos);
    if (pos == 0)
        snprintf(buf, n, "$");
}

static int vfail(cj_error *err, const cj_ref *at, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static int vfail(cj_error *err, const cj_ref *at, const char *fmt, va_list ap)
{
    if (!err)
        return -1;
    char path[160];
    cj_path(at, path, sizeof path);
    int w = snprintf(err->msg, sizeof err->msg, "%s: ", path);
    if (w < 0 || (size_t)w >= sizeof err->msg)
        return -1;
    vsnprintf(err->msg + w, sizeof err->msg - (size_t)w, fmt, ap);
    return -1;
}

int cj_fail(cj_error *err, const cj_ref *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(err, at, fmt, ap);
    va_end(ap);
    return -1;
}

int cj_parse(const char *body, size_t len, size_t max_len, json_t **out, cj_error *err)
{
    *out = NULL;
    if (!body || len == 0) {
        snprintf(err->msg, sizeof err->msg, "empty body where JSON was expected");
        return -1;
    }
    if (max_len && len > max_len) {
        snprintf(err->msg, sizeof err->msg, "JSON body of %zu bytes exceeds the limit of %zu", len,
                 max_len);
        return -1;
    }
    json_error_t je;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        snprintf(err->msg, sizeof err->msg, "invalid JSON at line %d column %d: %s", je.line,
                 je.column, je.text);
        return -1;
    }
    *out = doc;
    return 0;
}

cj_ref cj_root(json_t *doc)
{
    cj_ref r = {.json = doc};
    return r;
}

cj_ref cj_at(const cj_ref *obj, const char *key)
{
    cj_ref r = {.parent = obj, .key = key};
    if (json_is_object(obj->json))
        r.json = json_object_get(obj->json, key);
    else
        r.bad_parent = 1;
    return r;
}

cj_ref cj_elem(const cj_ref *arr, size_t i)
{
    cj_ref r = {.parent = arr, .index = i};
    if (json_is_array(arr->json))
        r.json = json_array_get(arr->json, i);
    else
        r.bad_parent = 1;
    return r;
}

size_t cj_len(const cj_ref *arr)
{
    return json_is_array(arr->json) ? json_array_size(arr->json) : 0;
}

static int wrong(const cj_ref *r, const char *expected, cj_error *err);

/* Common check: present, non-null, and reached through an object (else the
 * error names the nearest ancestor that is missing or not an object). */
static int present(const cj_ref *r, const char *expected, cj_error *err)
{
    if (r->bad_parent) {
        const char *want = r->key ? "object" : "array";
        if (present(r->parent, want, err))
            return -1;
        return wrong(r->parent, want, err);
    }
    if (!r->json)
        return cj_fail(err, r, "missing (expected %s)", expected);
    if (json_is_null(r->json))
        return cj_fail(err, r, "expected %s, got null", expected);
    return 0;
}

static int wrong(const cj_ref *r, const char *expected, cj_error *err)
{
    if (json_is_string(r->json)) {
        const char *s = json_string_value(r->json);
        return cj_fail(err, r, "expected %s, got string \"%.40s%s\"", expected, s,
                       strlen(s) > 40 ? "..." : "");
    }
    return cj_fail(err, r, "expected %s, got %s", expected, type_name(r->json));
}

int cj_string(const cj_ref *r, const char **out, cj_error *err)
{
    if (present(r, "string", err))
        return -1;
    if (!json_is_string(r->json))
        return wrong(r, "string", err);
    *out = json_string_value(r->json);
    return 0;
}

static int parse_int_string(const char *s, int64_t *out)
{
    if (*s == '\0' || *s == ' ' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int cj_int64(const cj_ref *r, unsigned flags, int64_t *out, cj_error *err)
{
    const char *expected = (flags & CJ_NUMERIC_STRING) ? "integer or numeric string" : "integer";
    if (present(r, expected, err))
        return -1;
    if (json_is_integer(r->json)) {
        *out = json_integer_value(r->json);
        return 0;
    }
    if ((flags & CJ_NUMERIC_STRING) && json_is_string(r->json) &&
        parse_int_string(json_string_value(r->json), out) == 0)
        return 0;
    return wrong(r, expected, err);
}

int cj_double(const cj_ref *r, double *out, cj_error *err)
{
    if (present(r, "number", err))
        return -1;
    if (!json_is_number(r->json))
        return wrong(r, "number", err);
    *out = json_number_value(r->json);
    return 0;
}

int cj_bool(const cj_ref *r, int *out, cj_error *err)
{
    if (present(r, "boolean", err))
        return -1;
    if (!json_is_boolean(r->json))
        return wrong(r, "boolean", err);
    *out = json_is_true(r->json);
    return 0;
}

int cj_object(const cj_ref *r, cj_error *err)
{
    if (present(r, "object", err))
        return -1;
    if (!json_is_object(r->json))
        return wrong(r, "object", err);
    return 0;
}

int cj_array(const cj_ref *r, size_t *len, cj_error *err)
{
    if (present(r, "array", err))
        return -1;
    if (!json_is_array(r->json))
        return wrong(r, "array", err);
    if (len)
        *len = json_array_size(r->json);
    return 0;
}

/* For optional fields: 1 when absent or null (use the default), 0 when
 * present, -1 when obj is not an object. A missing or null obj (an optional
 * object that was not there) has no fields, so every field is absent. */
static int absent(const cj_ref *obj, const char *key, cj_error *err)
{
    if (!obj->bad_parent && (!obj->json || json_is_null(obj->json)))
        return 1;
    if (cj_object(obj, err))
        return -1;
    json_t *v = json_object_get(obj->json, key);
    return (!v || json_is_null(v)) ? 1 : 0;
}

/* Field getters: the child ref is a local, and its path is only needed
 * while building an error, so it never escapes. */

int cj_req_string(const cj_ref *obj, const char *key, const char **out, cj_error *err)
{
    cj_ref f = cj_at(obj, key);
    return cj_string(&f, out, err);
}

int cj_opt_string(const cj_ref *obj, const char *key, const char *dflt, const char **out,
                  cj_error *err)
{
    int a = absent(obj, key, err);
    if (a < 0)
        return -1;
    if (a) {
        *out = dflt;
        return 0;
    }
    return cj_req_string(obj, key, out, err);
}

int cj_req_int64(const cj_ref *obj, const char *key, unsigned flags, int64_t *out, cj_error *err)
{
    cj_ref f = cj_at(obj, key);
    return cj_int64(&f, flags, out, err);
}

int cj_opt_int64(const cj_ref *obj, const char *key, unsigned flags, int64_t dflt, int64_t *out,
                 cj_error *err)
{
    int a = absent(obj, key, err);
    if (a < 0)
        return -1;
    if (a) {
        *out = dflt;
        return 0;
    }
    return cj_req_int64(obj, key, flags, out, err);
}

int cj_req_double(const cj_ref *obj, const char *key, double *out, cj_error *err)
{
    cj_ref f = cj_at(obj, key);
    return cj_double(&f, out, err);
}

int cj_opt_double(const cj_ref *obj, const char *key, double dflt, double *out, cj_error *err)
{
    int a = absent(obj, key, err);
    if (a < 0)
        return -1;
    if (a) {
        *out = dflt;
        return 0;
    }
    return cj_req_double(obj, key, out, err);
}

int cj_req_bool(const cj_ref *obj, const char *key, int *out, cj_error *err)
{
    cj_ref f = cj_at(obj, key);
    return cj_bool(&f, out, err);
}

int cj_opt_bool(const cj_ref *obj, const char *key, int dflt, int *out, cj_error *err)
{
    int a = absent(obj, key, err);
    if (a < 0)
        return -1;
    if (a) {
        *out = dflt;
        return 0;
    }
    return cj_req_bool(obj, key, out, err);
}

int cj_req_object(const cj_ref *obj, const char *key, cj_ref *out, cj_error *err)
{
    *out = cj_at(obj, key);
    return cj_object(out, err);
}

int cj_opt_object(const cj_ref *obj, const char *key, cj_ref *out, cj_error *err)
{
    *out = cj_at(obj, key);
    int a = absent(obj, key, err);
    if (a < 0)
        return -1;
    if (a) {
        out->json = NULL;
        out->bad_parent = 0;
        return 0;
    }
    return cj_object(out, err);
}

int cj_req_array(const cj_ref *obj, const char *key, cj_ref *out, size_t *len, cj_error *err)
{
    *out = cj_at(obj, key);
    return cj_array(out, len, err);
}

int cj_opt_array(const cj_ref *obj, const char *key, cj_ref *out, size_t *len, cj_error *err)
{
    *out = cj_at(obj, key);
    int a = absent(obj, key, err);
    if (a < 0)
        return -1;
    if (a) {
        out->json = NULL;
        out->bad_parent = 0;
        if (len)
            *len = 0;
        return 0;
    }
    return cj_array(out, len, err);
}
