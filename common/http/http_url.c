/*
 * URL building for vendor requests: percent-encoding (RFC 3986) and a query
 * string builder, so connectors never paste unescaped values (emails with
 * '+', SOQL with spaces and quotes) into a URL.
 */
#include "http/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static size_t encoded_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += unreserved(*p) ? 1 : 3;
    return n;
}

static void encode_into(char *dst, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p)) {
            *dst++ = (char)*p;
        } else {
            *dst++ = '%';
            *dst++ = hex[*p >> 4];
            *dst++ = hex[*p & 15];
        }
    }
    *dst = '\0';
}

char *http_url_encode(const char *s)
{
    if (!s)
        s = "";
    char *out = malloc(encoded_len(s) + 1);
    if (out)
        encode_into(out, s);
    return out;
}

static int reserve(http_url *u, size_t more)
{
    if (u->failed)
        return -1;
    if (u->len + more + 1 <= u->cap)
        return 0;
    size_t cap = u->cap ? u->cap : 128;
    while (cap < u->len + more + 1)
        cap *= 2;
    char *b = realloc(u->buf, cap);
    if (!b) {
        u->failed = 1;
        return -1;
    }
    u->buf = b;
    u->cap = cap;
    return 0;
}

void http_url_init(http_url *u, const char *base)
{
    memset(u, 0, sizeof *u);
    if (!base)
        base = "";
    size_t n = strlen(base);
    if (reserve(u, n) != 0)
        return;
    memcpy(u->buf, base, n + 1);
    u->len = n;
    /* A base that already has a query continues it with '&'. */
    u->nparams = strchr(base, '?') ? 1 : 0;
}

void http_url_param(http_url *u, const char *name, const char *value)
{
    if (!value)
        value = "";
    size_t n = 1 + encoded_len(name) + 1 + encoded_len(value);
    if (reserve(u, n) != 0)
        return;
    u->buf[u->len++] = u->nparams++ ? '&' : '?';
    encode_into(u->buf + u->len, name);
    u->len += strlen(u->buf + u->len);
    u->buf[u->len++] = '=';
    encode_into(u->buf + u->len, value);
    u->len += strlen(u->buf + u->len);
}

void http_url_param_int(http_url *u, const char *name, long long value)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", value);
    http_url_param(u, name, num);
}

const char *http_url_str(const http_url *u)
{
    return u->failed ? NULL : u->buf;
}

void http_url_free(http_url *u)
{
    free(u->buf);
    memset(u, 0, sizeof *u);
}
