/*
 * Redis URL parsing and the key builder: pure string work with no I/O, kept
 * apart from the connection code so unit tests and fuzzers drive it directly.
 * Parse errors name the part that is wrong but never echo the password.
 */
#include "rds_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int rds_fail(rds_err *err, rds_code code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes src[0..len) into out; -1 on a bad escape or overflow. */
static int pct_decode(const char *src, size_t len, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (len - i < 3)
                return -1;
            int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || k + 1 >= cap)
            return -1;
        out[k++] = c;
    }
    out[k] = '\0';
    return 0;
}

/* Parses decimal digits s[0..len) into [min, max]; -1 if not. */
static int parse_num(const char *s, size_t len, long min, long max, long *out)
{
    if (len == 0 || len > 10)
        return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int rds_url_parse(const char *url, rds_url *out, rds_err *err)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (!url || !*url)
        return rds_fail(err, RDS_ERR_CONFIG, "redis URL is empty");
    if (strncasecmp(url, "rediss://", 9) == 0)
        return rds_fail(err, RDS_ERR_CONFIG,
                        "rediss:// (TLS) is not supported by hiredis 0.14; use redis://");
    if (strncasecmp(url, "redis://", 8) != 0)
        return rds_fail(err, RDS_ERR_CONFIG, "redis URL must start with redis://");
    const char *rest = url + 8;
    if (strpbrk(rest, "?#"))
        return rds_fail(err, RDS_ERR_CONFIG, "redis URL: query or fragment not supported");

    /* The last '@' ends the userinfo: a raw '@' in a password still parses. */
    const char *at = strrchr(rest, '@');
    const char *hostpart = rest;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        if (!colon)
            return rds_fail(err, RDS_ERR_CONFIG,
                            "redis URL: write credentials as redis://[user]:PASSWORD@host");
        if (pct_decode(rest, (size_t)(colon - rest), out->user, sizeof out->user) != 0)
            return rds_fail(err, RDS_ERR_CONFIG, "redis URL: bad or too long user name");
        if (pct_decode(colon + 1, (size_t)(at - colon - 1), out->password, sizeof out->password) !=
            0)
            return rds_fail(err, RDS_ERR_CONFIG,
                            "redis URL: bad percent-escape in password, or password too long");
        hostpart = at + 1;
    }

    const char *slash = strchr(hostpart, '/');
    size_t hp_len = slash ? (size_t)(slash - hostpart) : strlen(hostpart);
    if (slash && slash[1]) {
        long db;
        if (parse_num(slash + 1, strlen(slash + 1), 0, 1000000, &db) != 0)
            return rds_fail(err, RDS_ERR_CONFIG, "redis URL: database must be a number, got '%s'",
                            slash + 1);
        out->db = (int)db;
    }

    const char *host = hostpart, *port = NULL;
    size_t host_len;
    if (hp_len > 0 && hostpart[0] == '[') {
        const char *close = memchr(hostpart, ']', hp_len);
        if (!close)
            return rds_fail(err, RDS_ERR_CONFIG, "redis URL: missing ']' after IPv6 host");
        host = hostpart + 1;
        host_len = (size_t)(close - host);
        const char *after = close + 1;
        if (after < hostpart + hp_len) {
            if (*after != ':')
                return rds_fail(err, RDS_ERR_CONFIG, "redis URL: expected ':port' after ']'");
            port = after + 1;
        }
    } else {
        const char *colon = memchr(hostpart, ':', hp_len);
        if (colon && memchr(colon + 1, ':', hp_len - (size_t)(colon + 1 - hostpart)))
            return rds_fail(err, RDS_ERR_CONFIG, "redis URL: put an IPv6 host in brackets");
        host_len = colon ? (size_t)(colon - hostpart) : hp_len;
        if (colon)
            port = colon + 1;
    }
    if (host_len == 0)
        return rds_fail(err, RDS_ERR_CONFIG, "redis URL: host is missing");
    if (host_len >= sizeof out->host)
        return rds_fail(err, RDS_ERR_CONFIG, "redis URL: host name too long");
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    if (port) {
        long p;
        if (parse_num(port, (size_t)(hostpart + hp_len - port), 1, 65535, &p) != 0)
            return rds_fail(err, RDS_ERR_CONFIG, "redis URL: port must be 1-65535");
        out->port = (int)p;
    }
    return 0;
}

int rds_key(char *out, size_t cap, rds_err *err, const char *scope, const char *name_fmt, ...)
{
    if (cap)
        out[0] = '\0';
    if (!scope || !*scope)
        return rds_fail(err, RDS_ERR_ARG, "redis key: scope is empty");
    if (strpbrk(scope, "{}"))
        return rds_fail(err, RDS_ERR_ARG, "redis key: scope '%s' contains a brace", scope);
    int n = snprintf(out, cap, "campsync:{%s}:", scope);
    if (n < 0 || (size_t)n >= cap)
        return rds_fail(err, RDS_ERR_ARG, "redis key for scope '%s' is too long", scope);
    va_list ap;
    va_start(ap, name_fmt);
    int m = vsnprintf(out + n, cap - (size_t)n, name_fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)m >= cap - (size_t)n) {
        out[0] = '\0';
        return rds_fail(err, RDS_ERR_ARG, "redis key for scope '%s' is too long", scope);
    }
    return 0;
}
