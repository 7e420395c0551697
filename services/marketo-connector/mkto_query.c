/*
 * Marketo query strings, form bodies and the GET-or-POST decision (see
 * mkto_query.h).
 */
#include "mkto_query.h"

#include "mkto_json.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mkto_params {
    char **pairs; /* "name=value", both already encoded */
    size_t n, cap;
};

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

size_t mkto_url_encoded_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += unreserved((unsigned char)*s) ? 1 : 3;
    return n;
}

char *mkto_url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(mkto_url_encoded_len(s) + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (unreserved(c)) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

mkto_params *mkto_params_new(void)
{
    return calloc(1, sizeof(mkto_params));
}

void mkto_params_free(mkto_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->pairs[i]);
    free(p->pairs);
    free(p);
}

/* Valid UTF-8 (jansson's check), so the bytes sent are the text meant. */
static bool utf8_ok(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

int mkto_params_add(mkto_params *p, const char *name, const char *value, mkto_err *err)
{
    if (!name || !*name || !value)
        return mkto_err_set(err, "query parameter: missing name or value");
    if (!utf8_ok(value))
        return mkto_err_set(err, "query parameter %s: not valid UTF-8", name);
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        char **v = realloc(p->pairs, cap * sizeof *v);
        if (!v)
            return mkto_err_set(err, "out of memory");
        p->pairs = v;
        p->cap = cap;
    }
    char *en = mkto_url_encode(name), *ev = mkto_url_encode(value), *pair = NULL;
    if (en && ev && asprintf(&pair, "%s=%s", en, ev) < 0)
        pair = NULL;
    free(en);
    free(ev);
    if (!pair)
        return mkto_err_set(err, "out of memory");
    p->pairs[p->n++] = pair;
    return 0;
}

int mkto_params_add_int(mkto_params *p, const char *name, int64_t value, mkto_err *err)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    return mkto_params_add(p, name, buf, err);
}

int mkto_params_add_ints(mkto_params *p, const char *name, const int64_t *v, size_t n,
                         mkto_err *err)
{
    if (n == 0)
        return mkto_err_set(err, "query parameter %s: empty list", name);
    char *buf = malloc(n * 21 + 1), *o = buf;
    if (!buf)
        return mkto_err_set(err, "out of memory");
    for (size_t i = 0; i < n; i++)
        o += sprintf(o, "%s%" PRId64, i ? "," : "", v[i]);
    int rc = mkto_params_add(p, name, buf, err);
    free(buf);
    return rc;
}

int mkto_params_add_strs(mkto_params *p, const char *name, const char *const *v, size_t n,
                         mkto_err *err)
{
    if (n == 0)
        return mkto_err_set(err, "query parameter %s: empty list", name);
    size_t len = 1;
    for (size_t i = 0; i < n; i++) {
        if (!v[i] || !*v[i] || strchr(v[i], ','))
            return mkto_err_set(err, "query parameter %s: value %zu is empty or holds ','", name,
                                i);
        len += strlen(v[i]) + 1;
    }
    char *buf = malloc(len), *o = buf;
    if (!buf)
        return mkto_err_set(err, "out of memory");
    for (size_t i = 0; i < n; i++)
        o += sprintf(o, "%s%s", i ? "," : "", v[i]);
    int rc = mkto_params_add(p, name, buf, err);
    free(buf);
    return rc;
}

int mkto_params_add_time(mkto_params *p, const char *name, int64_t ms, mkto_err *err)
{
    char buf[40];
    mkto_format_datetime(ms, buf, sizeof buf);
    return mkto_params_add(p, name, buf, err);
}

size_t mkto_params_encoded_len(const mkto_params *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += strlen(p->pairs[i]) + (i ? 1 : 0);
    return n;
}

char *mkto_params_encode(const mkto_params *p)
{
    char *out = malloc(mkto_params_encoded_len(p) + 1), *o = out;
    if (!out)
        return NULL;
    *o = '\0';
    for (size_t i = 0; i < p->n; i++)
        o += sprintf(o, "%s%s", i ? "&" : "", p->pairs[i]);
    return out;
}

int mkto_request_build(const char *path, const mkto_params *p, size_t max_url, mkto_request *out,
                       mkto_err *err)
{
    memset(out, 0, sizeof *out);
    if (!path || path[0] != '/' || strpbrk(path, "?# \r\n"))
        return mkto_err_set(err, "Marketo path '%.80s' must start with '/' and hold no query",
                            path ? path : "");
    char *q = mkto_params_encode(p);
    if (!q)
        return mkto_err_set(err, "out of memory");
    size_t get_len = strlen(path) + (*q ? 1 + strlen(q) : 0);
    int rc;
    if (get_len <= max_url) {
        rc = *q ? asprintf(&out->target, "%s?%s", path, q) : asprintf(&out->target, "%s", path);
        free(q);
    } else {
        out->post_form = true;
        out->form_body = q;
        rc = asprintf(&out->target, "%s?_method=GET", path);
    }
    if (rc < 0) {
        out->target = NULL;
        mkto_request_clear(out);
        return mkto_err_set(err, "out of memory");
    }
    return 0;
}

void mkto_request_clear(mkto_request *r)
{
    free(r->target);
    free(r->form_body);
    memset(r, 0, sizeof *r);
}
