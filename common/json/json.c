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

const char *cj_kind(const json_t *v)
{
    if (!v)
        return "nothing";
    return json_is_number(v) ? "number" : type_name(v);
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

/* ---- vendor times and money ---- */

static int set_err(cj_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_err(cj_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (any year, 0 included). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

/* Reads exactly n digits at *p into *out and moves past them. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return 0;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

int cj_parse_datetime(const char *s, int64_t *ms, cj_error *err)
{
    if (!s)
        return set_err(err, "invalid datetime: missing");
    const char *p = s;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0, frac = 0, offset_min = 0;
    int ok =
        digits(&p, 4, &y) && *p++ == '-' && digits(&p, 2, &mo) && *p++ == '-' && digits(&p, 2, &d);
    if (ok && *p) { /* else a bare date: midnight UTC */
        ok = (*p == 'T' || *p == ' ') && (++p, digits(&p, 2, &h)) && *p++ == ':' &&
             digits(&p, 2, &mi) && *p++ == ':' && digits(&p, 2, &se);
        if (ok && *p == '.') {
            int n = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, n++)
                if (n < 3)
                    frac = frac * 10 + (*p - '0');
            ok = n > 0;
            for (; n < 3; n++)
                frac *= 10;
        }
        if (ok && *p == 'Z')
            p++;
        if (ok && (*p == '+' || *p == '-')) {
            int sign = *p++ == '-' ? -1 : 1, oh = 0, om = 0;
            ok = digits(&p, 2, &oh) && (*p != ':' || (++p, 1)) && digits(&p, 2, &om) && oh <= 23 &&
                 om <= 59;
            offset_min = sign * (oh * 60 + om);
        }
    }
    ok = ok && *p == '\0' && mo >= 1 && mo <= 12 && d >= 1 && d <= month_days(y, mo) && h <= 23 &&
         mi <= 59 && se <= 60;
    if (!ok)
        return set_err(err, "invalid datetime '%.40s': expected like 2026-01-31T12:00:00Z", s);
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
    *ms = secs * 1000 + frac;
    return 0;
}

void cj_format_datetime(int64_t ms, unsigned flags, char *buf, size_t n)
{
    int64_t secs = ms / 1000 - (ms % 1000 < 0); /* floor */
    int64_t days = secs / 86400 - (secs % 86400 < 0);
    int64_t sod = secs - days * 86400, msec = ms - secs * 1000;
    /* civil_from_days, the inverse of days_from_civil. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    int w = snprintf(buf, n, "%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02d:%02d:%02d", y, m, d,
                     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    if (w < 0 || (size_t)w >= n)
        return;
    if (flags & CJ_DATETIME_MS)
        snprintf(buf + w, n - (size_t)w, ".%03dZ", (int)msec);
    else
        snprintf(buf + w, n - (size_t)w, "Z");
}

int cj_decimal_to_minor(const char *text, int64_t *minor, cj_error *err)
{
    if (!text)
        return set_err(err, "invalid amount: missing");
    const char *p = text;
    int neg = 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    /* The significant digits, where the point stood among them, and how many
     * zeros between the point and the first of them (0.05). */
    char dig[64];
    int nd = 0, point = -1, seen = 0, frac_zeros = 0;
    for (; (*p >= '0' && *p <= '9') || (*p == '.' && point < 0); p++) {
        if (*p == '.') {
            point = nd;
            continue;
        }
        seen++;
        if (nd == 0 && *p == '0') {
            frac_zeros += point >= 0;
            continue;
        }
        if (nd < (int)sizeof dig)
            dig[nd++] = *p;
        else if (point < 0)
            return set_err(err, "amount '%.40s' is too large", text);
        /* else: a fraction digit far below a cent, without effect */
    }
    if (point < 0)
        point = nd;
    long exp10 = 0;
    if (seen && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0;
        if (*p == '-' || *p == '+')
            eneg = *p++ == '-';
        if (*p < '0' || *p > '9')
            seen = 0;
        for (; *p >= '0' && *p <= '9'; p++)
            if (exp10 < 100000)
                exp10 = exp10 * 10 + (*p - '0');
        if (eneg)
            exp10 = -exp10;
    }
    if (!seen || *p != '\0')
        return set_err(err, "invalid amount '%.40s': expected a decimal number", text);
    /* value = 0.dig x 10^(point - frac_zeros + exp10), so the first `whole`
     * digits of dig (zero-padded) are the minor units. */
    long whole = (long)point - frac_zeros + exp10 + 2;
    int64_t v = 0;
    for (long i = 0; i < whole; i++) {
        int dd = i < nd ? dig[i] - '0' : 0;
        if (v > (INT64_MAX - dd) / 10)
            return set_err(err, "amount '%.40s' is too large", text);
        v = v * 10 + dd;
        if (v == 0 && i >= nd)
            break; /* 0 x 10^k stays 0 */
    }
    if (whole >= 0 && whole < nd && dig[whole] >= '5') { /* half away from zero */
        if (v == INT64_MAX)
            return set_err(err, "amount '%.40s' is too large", text);
        v++;
    }
    *minor = neg ? -v : v;
    return 0;
}

int cj_json_to_minor(const json_t *v, unsigned flags, int64_t *minor, cj_error *err)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i > INT64_MAX / 100 || i < INT64_MIN / 100)
            return set_err(err, "amount %" JSON_INTEGER_FORMAT " is too large", i);
        *minor = (int64_t)i * 100;
        return 0;
    }
    if (json_is_real(v)) {
        /* The body's decimal text is gone; with 15 significant digits a double
         * prints back as the decimal it was parsed from (DBL_DIG), so reprint
         * and convert that text exactly. */
        double d = json_real_value(v);
        char buf[64];
        snprintf(buf, sizeof buf, (d < 1e13 && d > -1e13) ? "%.15g" : "%.17g", d);
        return cj_decimal_to_minor(buf, minor, err);
    }
    if ((flags & CJ_NUMERIC_STRING) && json_is_string(v))
        return cj_decimal_to_minor(json_string_value(v), minor, err);
    return set_err(err, "amount: expected a number");
}

json_t *cj_minor_to_json(int64_t minor)
{
    if (minor % 100 == 0)
        return json_integer(minor / 100);
    return json_real((double)minor / 100.0);
}
