/*
 * Implementation of sf_util.h. The Id suffix follows Salesforce's documented
 * scheme: each 5-character chunk of the 15-character Id gives a 5-bit mask of
 * its upper-case letters, written as one character of A-Z0-5. SHA-256 is
 * written out here (FIPS 180-4) so the sandbox needs no crypto library for the
 * token signature.
 */
#include "sf_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Ids ---- */

static const char sfs_id_suffix_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

static void sfs_id_suffix(const char id15[15], char out[3])
{
    for (int chunk = 0; chunk < 3; chunk++) {
        int mask = 0;
        for (int i = 0; i < 5; i++) {
            char c = id15[chunk * 5 + i];
            if (c >= 'A' && c <= 'Z')
                mask |= 1 << i;
        }
        out[chunk] = sfs_id_suffix_chars[mask];
    }
}

static int sfs_id_suffix_value(char c)
{
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
    const char *p = strchr(sfs_id_suffix_chars, c);
    return (p && c) ? (int)(p - sfs_id_suffix_chars) : -1;
}

int sfs_id_normalize(const char *in, size_t len, char out[19])
{
    if (!in || (len != 15 && len != 18))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isalnum((unsigned char)in[i]))
            return -1;
    }
    memcpy(out, in, 15);
    if (len == 18) {
        for (int chunk = 0; chunk < 3; chunk++) {
            int mask = sfs_id_suffix_value(in[15 + chunk]);
            if (mask < 0)
                return -1;
            for (int i = 0; i < 5; i++) {
                char *c = &out[chunk * 5 + i];
                if (isalpha((unsigned char)*c))
                    *c = (mask & (1 << i)) ? (char)toupper((unsigned char)*c)
                                           : (char)tolower((unsigned char)*c);
            }
        }
    }
    sfs_id_suffix(out, out + 15);
    out[18] = '\0';
    return 0;
}

void sfs_id_make(const char *prefix, uint64_t n, char out[19])
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    memcpy(out, prefix, 3);
    memcpy(out + 3, "5g0", 3);
    for (int i = 14; i >= 6; i--) {
        out[i] = digits[n % 62];
        n /= 62;
    }
    sfs_id_suffix(out, out + 15);
    out[18] = '\0';
}

/* ---- time ---- */

static int64_t sfs_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void sfs_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int sfs_digits(const char *s, size_t len, size_t at, int n, int *out)
{
    if (at + (size_t)n > len)
        return -1;
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = s[at + (size_t)i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

int sfs_time_parse(const char *s, size_t len, int64_t *ms, int *kind)
{
    int y, mo, d, h = 0, mi = 0, se = 0, frac = 0;
    if (!s || sfs_digits(s, len, 0, 4, &y) || len < 10 || s[4] != '-' ||
        sfs_digits(s, len, 5, 2, &mo) || s[7] != '-' || sfs_digits(s, len, 8, 2, &d))
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;
    int64_t days = sfs_days_from_civil(y, mo, d);
    if (len == 10) {
        *ms = days * 86400000LL;
        *kind = SF_TIME_DATE;
        return 0;
    }
    size_t p = 10;
    if (s[p] != 'T' || sfs_digits(s, len, 11, 2, &h) || len < 19 || s[13] != ':' ||
        sfs_digits(s, len, 14, 2, &mi) || s[16] != ':' || sfs_digits(s, len, 17, 2, &se))
        return -1;
    if (h > 23 || mi > 59 || se > 59)
        return -1;
    p = 19;
    if (p < len && s[p] == '.') {
        p++;
        int n = 0;
        while (p < len && s[p] >= '0' && s[p] <= '9') {
            if (n < 3)
                frac = frac * 10 + (s[p] - '0');
            n++;
            p++;
        }
        if (n == 0)
            return -1;
        for (; n < 3; n++)
            frac *= 10;
    }
    int64_t offset_min = 0;
    if (p < len && s[p] == 'Z') {
        p++;
    } else if (p < len && (s[p] == '+' || s[p] == '-')) {
        int sign = s[p] == '-' ? -1 : 1, oh, om;
        p++;
        if (sfs_digits(s, len, p, 2, &oh))
            return -1;
        p += 2;
        if (p < len && s[p] == ':')
            p++;
        if (sfs_digits(s, len, p, 2, &om) || oh > 23 || om > 59)
            return -1;
        p += 2;
        offset_min = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (p != len)
        return -1;
    *ms = ((days * 86400 + h * 3600 + mi * 60 + se) - offset_min * 60) * 1000 + frac;
    *kind = SF_TIME_DATETIME;
    return 0;
}

static void sfs_split_ms(int64_t ms, int64_t *days, int64_t *rem)
{
    *days = ms >= 0 ? ms / 86400000LL : -((-ms + 86399999LL) / 86400000LL);
    *rem = ms - *days * 86400000LL;
}

void sfs_time_format_datetime(int64_t ms, char out[32])
{
    int64_t days, rem;
    int y, m, d;
    sfs_split_ms(ms, &days, &rem);
    sfs_civil_from_days(days, &y, &m, &d);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000", y, m, d, (int)(rem / 3600000),
             (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
}

void sfs_time_format_date(int64_t ms, char out[16])
{
    int64_t days, rem;
    int y, m, d;
    sfs_split_ms(ms, &days, &rem);
    sfs_civil_from_days(days, &y, &m, &d);
    snprintf(out, 16, "%04d-%02d-%02d", y, m, d);
}

/* ---- SHA-256 ---- */

static const uint32_t sfs_k256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define SF_ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sfs_sha256_block(uint32_t h[8], const uint8_t *b)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[i * 4] << 24 | (uint32_t)b[i * 4 + 1] << 16 |
               (uint32_t)b[i * 4 + 2] << 8 | b[i * 4 + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = SF_ROR(w[i - 15], 7) ^ SF_ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = SF_ROR(w[i - 2], 17) ^ SF_ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t s1 = SF_ROR(e, 6) ^ SF_ROR(e, 11) ^ SF_ROR(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + s1 + ch + sfs_k256[i] + w[i];
        uint32_t s0 = SF_ROR(a, 2) ^ SF_ROR(a, 13) ^ SF_ROR(a, 22);
        uint32_t maj = (a & bb) ^ (a & c) ^ (bb & c);
        uint32_t t2 = s0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = bb;
        bb = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += bb;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void sfs_sha256(const void *data, size_t len, uint8_t out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *p = data;
    size_t left = len;
    while (left >= 64) {
        sfs_sha256_block(h, p);
        p += 64;
        left -= 64;
    }
    uint8_t tail[128] = {0};
    memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tail_len = left + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tail_len - 1 - (size_t)i] = (uint8_t)(bits >> (8 * i));
    sfs_sha256_block(h, tail);
    if (tail_len == 128)
        sfs_sha256_block(h, tail + 64);
    for (int i = 0; i < 8; i++) {
        out[i * 4] = (uint8_t)(h[i] >> 24);
        out[i * 4 + 1] = (uint8_t)(h[i] >> 16);
        out[i * 4 + 2] = (uint8_t)(h[i] >> 8);
        out[i * 4 + 3] = (uint8_t)h[i];
    }
}

void sfs_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                     uint8_t out[32])
{
    uint8_t k[64] = {0};
    if (key_len > 64)
        sfs_sha256(key, key_len, k);
    else
        memcpy(k, key, key_len);
    uint8_t *buf = malloc(64 + (msg_len > 32 ? msg_len : 32));
    if (!buf) {
        memset(out, 0, 32);
        return;
    }
    for (int i = 0; i < 64; i++)
        buf[i] = k[i] ^ 0x36;
    memcpy(buf + 64, msg, msg_len);
    uint8_t inner[32];
    sfs_sha256(buf, 64 + msg_len, inner);
    for (int i = 0; i < 64; i++)
        buf[i] = k[i] ^ 0x5c;
    memcpy(buf + 64, inner, 32);
    sfs_sha256(buf, 64 + 32, out);
    free(buf);
}

/* ---- base64 ---- */

static const char sfs_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *sfs_base64_encode(const uint8_t *data, size_t len)
{
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = sfs_b64[(v >> 18) & 63];
        out[o++] = sfs_b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? sfs_b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? sfs_b64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int sfs_b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

char *sfs_base64url_decode(const char *in, size_t len, size_t *out_len)
{
    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return NULL;
    char *out = malloc(len / 4 * 3 + 4);
    if (!out)
        return NULL;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = sfs_b64_value(in[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* ---- UTF-8 ---- */

static size_t sfs_utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

json_t *sfs_json_text(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (!out)
        return json_string("");
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = s[i] ? sfs_utf8_seq((const unsigned char *)s + i, len - i) : 0;
        if (n == 0) {
            out[o++] = '?';
            i++;
            continue;
        }
        memcpy(out + o, s + i, n);
        o += n;
        i += n;
    }
    json_t *j = json_stringn(out, o);
    free(out);
    return j ? j : json_string("");
}

/* ---- hash map: open addressing, linear probing, backward-shift delete ---- */

static uint64_t sfs_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t sfs_map_slot(const sfs_map *m, const char *key)
{
    size_t i = (size_t)sfs_hash(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

void *sfs_map_get(const sfs_map *m, const char *key)
{
    if (m->cap == 0)
        return NULL;
    size_t i = sfs_map_slot(m, key);
    return m->keys[i] ? m->vals[i] : NULL;
}

static int sfs_map_grow(sfs_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    char **keys = calloc(ncap, sizeof *keys);
    void **vals = calloc(ncap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    sfs_map old = *m;
    m->keys = keys;
    m->vals = vals;
    m->cap = ncap;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.keys[i]) {
            size_t j = sfs_map_slot(m, old.keys[i]);
            m->keys[j] = old.keys[i];
            m->vals[j] = old.vals[i];
        }
    }
    free(old.keys);
    free(old.vals);
    return 0;
}

int sfs_map_put(sfs_map *m, const char *key, void *val)
{
    if ((m->n + 1) * 4 > m->cap * 3 && sfs_map_grow(m) != 0)
        return -1;
    size_t i = sfs_map_slot(m, key);
    if (m->keys[i]) {
        m->vals[i] = val;
        return 0;
    }
    m->keys[i] = strdup(key);
    if (!m->keys[i])
        return -1;
    m->vals[i] = val;
    m->n++;
    return 0;
}

void *sfs_map_del(sfs_map *m, const char *key)
{
    if (m->cap == 0)
        return NULL;
    size_t i = sfs_map_slot(m, key);
    if (!m->keys[i])
        return NULL;
    void *val = m->vals[i];
    free(m->keys[i]);
    m->keys[i] = NULL;
    m->n--;
    /* Shift back the entries of the probe run that follows the hole. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (!m->keys[j])
            break;
        size_t home = (size_t)sfs_hash(m->keys[j]) & (m->cap - 1);
        int between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (between)
            continue;
        m->keys[i] = m->keys[j];
        m->vals[i] = m->vals[j];
        m->keys[j] = NULL;
        i = j;
    }
    return val;
}

void sfs_map_free(sfs_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- vector ---- */

int sfs_vec_push(sfs_vec *v, void *item)
{
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 8;
        void **items = realloc(v->items, ncap * sizeof *items);
        if (!items)
            return -1;
        v->items = items;
        v->cap = ncap;
    }
    v->items[v->n++] = item;
    return 0;
}

int sfs_vec_remove(sfs_vec *v, const void *item)
{
    for (size_t i = v->n; i-- > 0;) {
        if (v->items[i] == item) {
            memmove(&v->items[i], &v->items[i + 1], (v->n - i - 1) * sizeof *v->items);
            v->n--;
            return 0;
        }
    }
    return -1;
}

void sfs_vec_free(sfs_vec *v)
{
    free(v->items);
    memset(v, 0, sizeof *v);
}
