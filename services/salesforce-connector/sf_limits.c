/*
 * Sforce-Limit-Info parsing and the refuse-new-work decision (see sf_limits.h).
 */
#include "sf_limits.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Reads a non-negative decimal at *p (no sign, no overflow); advances *p. */
static int read_count(const char **p, int64_t *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)*s))
        return -1;
    int64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        int d = *s - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

int sf_limits_parse(const char *header, sf_api_usage *out, sf_err *err)
{
    out->used = 0;
    out->limit = 0;
    if (!header)
        return sf_err_set(err, "Sforce-Limit-Info: missing");
    const char *p = header;
    static const char name[] = "sforce-limit-info:";
    while (isspace((unsigned char)*p))
        p++;
    if (strncasecmp(p, name, sizeof name - 1) == 0)
        p += sizeof name - 1;
    /* Entries are key=value separated by ',' or ';'; only exactly "api-usage" counts. */
    while (*p) {
        while (*p == ',' || *p == ';' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *key = p;
        while (*p && *p != '=' && *p != ',' && *p != ';' && !isspace((unsigned char)*p))
            p++;
        size_t klen = (size_t)(p - key);
        while (isspace((unsigned char)*p))
            p++;
        bool is_usage = klen == 9 && strncasecmp(key, "api-usage", 9) == 0;
        if (*p == '=')
            p++;
        while (isspace((unsigned char)*p))
            p++;
        if (is_usage) {
            int64_t used, limit;
            const char *v = p;
            if (read_count(&p, &used) != 0 || *p++ != '/' || read_count(&p, &limit) != 0 ||
                limit <= 0 || (*p && *p != ',' && *p != ';' && !isspace((unsigned char)*p))) {
                size_t n = strcspn(v, ",;");
                return sf_err_set(err, "Sforce-Limit-Info: api-usage '%.*s' is not N/M with M > 0",
                                  (int)(n > 60 ? 60 : n), v);
            }
            out->used = used;
            out->limit = limit;
            return 0;
        }
        /* Skip this entry's value, including any parenthesised part. */
        int depth = 0;
        while (*p && (depth > 0 || (*p != ',' && *p != ';'))) {
            if (*p == '(')
                depth++;
            else if (*p == ')' && depth > 0)
                depth--;
            p++;
        }
    }
    return sf_err_set(err, "Sforce-Limit-Info: no api-usage entry in '%.80s'", header);
}

double sf_limits_used_pct(const sf_api_usage *u)
{
    if (u->limit <= 0)
        return 0.0;
    return 100.0 * (double)u->used / (double)u->limit;
}

bool sf_limits_must_refuse(const sf_api_usage *u, double threshold_pct)
{
    if (u->limit <= 0)
        return false;
    /* Cross-multiplied, so 90% of 5000 refuses at exactly 4500 with no rounding. */
    return (long double)u->used * 100.0L >= (long double)threshold_pct * (long double)u->limit;
}
