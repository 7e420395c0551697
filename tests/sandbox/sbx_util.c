/*
 * Implementation of the helpers declared in sbx.h (responses, form values,
 * time) and sbx_util.h (URL decoding, random numbers, hash maps, base32).
 * Everything here is pure and thread-agnostic: callers hold their own locks.
 */
#include "sbx.h"
#include "sbx_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- responses ---- */

static void set_default_type(sbx_response *resp)
{
    if (resp->content_type[0] == '\0')
        snprintf(resp->content_type, sizeof resp->content_type, "%s",
                 "application/json;charset=UTF-8");
}

void sbx_respond_json(sbx_response *resp, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(j);
    free(resp->body);
    resp->status = status;
    resp->body = s ? s : strdup("{}");
    resp->body_len = resp->body ? strlen(resp->body) : 0;
    snprintf(resp->content_type, sizeof resp->content_type, "%s", "application/json;charset=UTF-8");
}

void sbx_respond_raw(sbx_response *resp, int status, const char *content_type, const char *body,
                     size_t len)
{
    free(resp->body);
    resp->status = status;
    resp->body = malloc(len + 1);
    if (resp->body) {
        if (len)
            memcpy(resp->body, body, len);
        resp->body[len] = '\0';
        resp->body_len = len;
    } else {
        resp->body_len = 0;
    }
    if (content_type)
        snprintf(resp->content_type, sizeof resp->content_type, "%s", content_type);
    set_default_type(resp);
}

void sbx_add_header(sbx_response *resp, const char *name, const char *value)
{
    for (int i = 0; i < resp->n_headers; i++) {
        if (strcasecmp(resp->header_names[i], name) == 0) {
            snprintf(resp->header_values[i], sizeof resp->header_values[i], "%s", value);
            return;
        }
    }
    if (resp->n_headers >= SBX_MAX_HEADERS)
        return;
    snprintf(resp->header_names[resp->n_headers], sizeof resp->header_names[0], "%s", name);
    snprintf(resp->header_values[resp->n_headers], sizeof resp->header_values[0], "%s", value);
    resp->n_headers++;
}

/* ---- URL / form decoding ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *sbx_url_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
                   hexval((unsigned char)s[i + 2]) >= 0) {
            out[o++] =
                (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

char *sbx_form_value(const char *body, const char *name)
{
    if (!body || !name)
        return NULL;
    size_t nlen = strlen(name);
    const char *p = body;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', seg);
        size_t klen = eq ? (size_t)(eq - p) : seg;
        char *key = sbx_url_decode(p, klen);
        int match = key && strlen(key) == nlen && memcmp(key, name, nlen) == 0;
        free(key);
        if (match) {
            if (!eq)
                return strdup("");
            return sbx_url_decode(eq + 1, seg - klen - 1);
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return NULL;
}

/* ---- time ---- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int64_t sbx_parse_time_ms(const char *iso)
{
    if (!iso)
        return -1;
    int y, mo, d, h = 0, mi = 0, se = 0, ms = 0;
    const char *p = iso;
    if (digits(p, 4, &y) || p[4] != '-' || digits(p + 5, 2, &mo) || p[7] != '-' ||
        digits(p + 8, 2, &d))
        return -1;
    p += 10;
    if (*p == 'T' || *p == ' ') {
        if (digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi))
            return -1;
        p += 6;
        if (*p == ':') {
            if (digits(p + 1, 2, &se))
                return -1;
            p += 3;
        }
        if (*p == '.') {
            p++;
            int nd = 0;
            int frac = 0;
            while (isdigit((unsigned char)*p)) {
                if (nd < 3) {
                    frac = frac * 10 + (*p - '0');
                    nd++;
                }
                p++;
            }
            if (nd == 0)
                return -1;
            while (nd < 3) {
                frac *= 10;
                nd++;
            }
            ms = frac;
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    int64_t offset_s = 0;
    /* Marketo's asset API writes "2015-05-21T22:45:13Z+0000": accept a Z
     * followed by an offset. */
    if (*p == 'Z')
        p++;
    if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om;
        p++;
        if (digits(p, 2, &oh))
            return -1;
        p += 2;
        if (*p == ':')
            p++;
        if (digits(p, 2, &om))
            return -1;
        p += 2;
        offset_s = sign * (oh * 3600 + om * 60);
    }
    if (*p != '\0')
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 && !(y == 1969))
        return -1;
    return ((int64_t)t - offset_s) * 1000 + ms;
}

/* Civil date from days since 1970-01-01 (Howard Hinnant's algorithm): no
 * gmtime or printf on the hot paths that write thousands of dates. */
static void civil(int64_t days, int *y, int *m, int *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* "YYYY-MM-DDTHH:MM:SS" into out (20 bytes with the NUL); returns millis. */
static int fmt_base(int64_t ms, char *out)
{
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int millis = (int)(ms - s * 1000);
    int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    int64_t sod = s - days * 86400;
    int y, m, d;
    civil(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999;
    char *p = out;
    p = put2(p, y / 100);
    p = put2(p, y % 100);
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, (int)(sod / 3600));
    *p++ = ':';
    p = put2(p, (int)(sod / 60 % 60));
    *p++ = ':';
    p = put2(p, (int)(sod % 60));
    *p = '\0';
    return millis;
}

void sbx_format_time_sf(int64_t ms, char *out, size_t len)
{
    char base[24];
    int millis = fmt_base(ms, base);
    char tmp[40];
    memcpy(tmp, base, 19);
    tmp[19] = '.';
    tmp[20] = (char)('0' + millis / 100);
    tmp[21] = (char)('0' + millis / 10 % 10);
    tmp[22] = (char)('0' + millis % 10);
    memcpy(tmp + 23, "+0000", 6);
    snprintf(out, len, "%s", tmp);
}

void sbx_format_time_iso(int64_t ms, char *out, size_t len)
{
    char base[24];
    fmt_base(ms, base);
    if (len >= 21) {
        memcpy(out, base, 19);
        out[19] = 'Z';
        out[20] = '\0';
    } else if (len > 0) {
        base[len - 1] = '\0';
        memcpy(out, base, len);
    }
}

/* ---- text buffer ---- */

void sbx_buf_add(sbx_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sbx_buf_str(sbx_buf *b, const char *s)
{
    sbx_buf_add(b, s, strlen(s));
}

void sbx_buf_json_str(sbx_buf *b, const char *s)
{
    if (!s) {
        sbx_buf_add(b, "null", 4);
        return;
    }
    sbx_buf_add(b, "\"", 1);
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue;
        sbx_buf_add(b, run, (size_t)((const char *)p - run));
        char esc[8];
        if (*p == '"' || *p == '\\')
            snprintf(esc, sizeof esc, "\\%c", *p);
        else
            snprintf(esc, sizeof esc, "\\u%04x", *p);
        sbx_buf_str(b, esc);
        run = (const char *)p + 1;
    }
    sbx_buf_str(b, run);
    sbx_buf_add(b, "\"", 1);
}

void sbx_buf_int(sbx_buf *b, int64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    sbx_buf_add(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* ---- random ---- */

uint64_t sbx_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double sbx_rng_unit(uint64_t *state)
{
    return (double)(sbx_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t sbx_rng_below(uint64_t *state, uint64_t n)
{
    return n ? sbx_rng_next(state) % n : 0;
}

/* ---- integer map ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

void sbx_imap_free(sbx_imap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static int imap_grow(sbx_imap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    int64_t *nk = malloc(ncap * sizeof *nk);
    int64_t *nv = malloc(ncap * sizeof *nv);
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return -1;
    }
    for (size_t i = 0; i < ncap; i++)
        nk[i] = INT64_MIN;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == INT64_MIN)
            continue;
        size_t j = mix64((uint64_t)m->keys[i]) & (ncap - 1);
        while (nk[j] != INT64_MIN)
            j = (j + 1) & (ncap - 1);
        nk[j] = m->keys[i];
        nv[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    return 0;
}

int sbx_imap_put(sbx_imap *m, int64_t key, int64_t val)
{
    if ((m->n + 1) * 2 > m->cap && imap_grow(m) != 0)
        return -1;
    size_t j = mix64((uint64_t)key) & (m->cap - 1);
    while (m->keys[j] != INT64_MIN && m->keys[j] != key)
        j = (j + 1) & (m->cap - 1);
    if (m->keys[j] == INT64_MIN)
        m->n++;
    m->keys[j] = key;
    m->vals[j] = val;
    return 0;
}

int sbx_imap_get(const sbx_imap *m, int64_t key, int64_t *val)
{
    if (!m->cap || key == INT64_MIN)
        return 0;
    size_t j = mix64((uint64_t)key) & (m->cap - 1);
    while (m->keys[j] != INT64_MIN) {
        if (m->keys[j] == key) {
            if (val)
                *val = m->vals[j];
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}

/* ---- string map ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void sbx_smap_free(sbx_smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static int smap_grow(sbx_smap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    char **nk = calloc(ncap, sizeof *nk);
    int64_t *nv = malloc(ncap * sizeof *nv);
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = hash_str(m->keys[i]) & (ncap - 1);
        while (nk[j])
            j = (j + 1) & (ncap - 1);
        nk[j] = m->keys[i];
        nv[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    return 0;
}

int sbx_smap_put(sbx_smap *m, const char *key, int64_t val)
{
    if ((m->n + 1) * 2 > m->cap && smap_grow(m) != 0)
        return -1;
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j] && strcmp(m->keys[j], key) != 0)
        j = (j + 1) & (m->cap - 1);
    if (!m->keys[j]) {
        m->keys[j] = strdup(key);
        if (!m->keys[j])
            return -1;
        m->n++;
    }
    m->vals[j] = val;
    return 0;
}

int sbx_smap_get(const sbx_smap *m, const char *key, int64_t *val)
{
    if (!m->cap || !key)
        return 0;
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0) {
            if (val)
                *val = m->vals[j];
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}

void sbx_smap_del(sbx_smap *m, const char *key)
{
    if (!m->cap || !key)
        return;
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j] && strcmp(m->keys[j], key) != 0)
        j = (j + 1) & (m->cap - 1);
    if (!m->keys[j])
        return;
    free(m->keys[j]);
    m->keys[j] = NULL;
    m->n--;
    size_t k = (j + 1) & (m->cap - 1);
    while (m->keys[k]) {
        char *kk = m->keys[k];
        int64_t vv = m->vals[k];
        m->keys[k] = NULL;
        m->n--;
        sbx_smap_put(m, kk, vv);
        free(kk);
        k = (k + 1) & (m->cap - 1);
    }
}

/* ---- base32 ---- */

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

char *sbx_base32(const void *data, size_t len)
{
    const unsigned char *d = data;
    size_t out_len = (len + 4) / 5 * 8;
    char *out = malloc(out_len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 5) {
        uint64_t buf = 0;
        size_t chunk = len - i < 5 ? len - i : 5;
        for (size_t k = 0; k < 5; k++)
            buf = (buf << 8) | (k < chunk ? d[i + k] : 0);
        size_t nchars = (chunk * 8 + 4) / 5;
        for (size_t k = 0; k < 8; k++)
            out[o++] = k < nchars ? b32[(buf >> (35 - 5 * k)) & 31] : '=';
    }
    out[o] = '\0';
    return out;
}

int sbx_unbase32(const char *s, char *out, size_t cap)
{
    uint64_t buf = 0;
    int bits = 0;
    size_t o = 0;
    for (; *s && *s != '='; s++) {
        const char *p = strchr(b32, toupper((unsigned char)*s));
        if (!p || *s == '\0')
            return -1;
        buf = (buf << 5) | (uint64_t)(p - b32);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= cap)
                return -1;
            out[o++] = (char)((buf >> bits) & 0xff);
        }
    }
    for (; *s; s++)
        if (*s != '=')
            return -1;
    if (cap == 0)
        return -1;
    out[o] = '\0';
    return (int)o;
}
