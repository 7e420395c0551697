/*
 * SOQL from typed parts (see soql.h). Each condition is validated and
 * rendered to text when it is added, so soql_build() only joins finished
 * pieces, and the length of a query with an extra IN list can be computed
 * without building it (soql_chunk_fit).
 */
#include "soql.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A growable string; on OOM it sets oom and stops growing. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_putn(sbuf *b, const char *p, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_putn(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Takes the buffer's string (NULL on OOM) and resets the buffer. */
static char *sb_take(sbuf *b)
{
    char *s = b->oom ? NULL : b->s;
    if (b->oom)
        free(b->s);
    if (!s && !b->oom)
        s = strdup("");
    b->s = NULL;
    b->len = b->cap = 0;
    b->oom = false;
    return s;
}

typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

static int sl_push(strlist *l, char *s)
{
    if (!s)
        return -1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            free(s);
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 0;
}

static void sl_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

struct soql {
    char *sobject;
    strlist fields;
    strlist conds; /* rendered top-level conditions (groups already parenthesised) */
    strlist group; /* members of the open OR group */
    bool in_group;
    strlist orders; /* "Field" or "Field DESC" */
    int64_t limit;  /* 0 = none */
    bool failed;
    sf_err err; /* first problem */
};

/* Records the first problem; returns -1. */
static int fail(soql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(soql *q, const char *fmt, ...)
{
    if (!q->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(q->err.msg, sizeof q->err.msg, fmt, ap);
        va_end(ap);
        q->failed = true;
    }
    return -1;
}

static int fail_from(soql *q, const sf_err *e)
{
    return fail(q, "%s", e->msg);
}

/* Prints at most 60 bytes of a value, non-printables as \xNN, for messages. */
static void quote_for_msg(const char *v, char *out, size_t n)
{
    size_t j = 0;
    out[0] = '\0';
    for (size_t i = 0; v[i] && j + 5 < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (i >= 60) {
            snprintf(out + j, n - j, "...");
            return;
        }
        if (c < 0x20 || c == 0x7f)
            j += (size_t)snprintf(out + j, n - j, "\\x%02X", c);
        else
            out[j++] = (char)c;
        out[j] = '\0';
    }
}

/*
 * Words SOQL treats as syntax; a field or object so named could change the
 * query's shape. ORDER and GROUP are left out: Order and Group are standard
 * objects, and in the FROM position SOQL reads them as names.
 */
static const char *const reserved[] = {
    "AND",      "AS",     "ASC",      "BY",       "CUBE",   "DESC",      "ELSE",   "END",
    "EXCLUDES", "FALSE",  "FIRST",    "FOR",      "FROM",   "HAVING",    "IN",     "INCLUDES",
    "LAST",     "LIKE",   "LIMIT",    "NOT",      "NULL",   "NULLS",     "OFFSET", "OR",
    "ROLLUP",   "SELECT", "TRUE",     "TYPEOF",   "USING",  "WHEN",      "WHERE",  "WITH",
    "THEN",     "SCOPE",  "TRACKING", "VIEWSTAT", "UPDATE", "REFERENCE",
};

static bool is_reserved(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strlen(reserved[i]) == n && strncasecmp(reserved[i], s, n) == 0)
            return true;
    return false;
}

int soql_check_name(const char *name, bool allow_path, sf_err *err)
{
    if (!name || !*name)
        return sf_err_set(err, "SOQL: empty %s name", allow_path ? "field" : "object");
    char shown[128];
    quote_for_msg(name, shown, sizeof shown);
    size_t len = strlen(name);
    if (len > 255)
        return sf_err_set(err, "SOQL: name '%s' is longer than 255 characters", shown);
    const char *seg = name;
    int segments = 0;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        segments++;
        if (n == 0 || !isalpha((unsigned char)seg[0]) || seg[n - 1] == '_')
            return sf_err_set(err,
                              "SOQL: invalid name '%s': each part must start with a letter and "
                              "not end with '_'",
                              shown);
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)seg[i];
            if (!(isalnum(c) || c == '_') || c > 0x7f)
                return sf_err_set(err,
                                  "SOQL: invalid name '%s': only letters, digits and '_' "
                                  "are allowed",
                                  shown);
            if (i + 2 < n && seg[i] == '_' && seg[i + 1] == '_' && seg[i + 2] == '_')
                return sf_err_set(err, "SOQL: invalid name '%s': '___'", shown);
        }
        if (is_reserved(seg, n))
            return sf_err_set(err, "SOQL: '%s' is a SOQL keyword, not a name", shown);
        if (!dot)
            break;
        if (!allow_path)
            return sf_err_set(err, "SOQL: object name '%s' must not contain '.'", shown);
        seg = dot + 1;
    }
    /* SOQL follows at most five parent relationships. */
    if (segments > 6)
        return sf_err_set(err, "SOQL: '%s' follows more than 5 relationships", shown);
    return 0;
}

int soql_check_id(const char *id, sf_err *err)
{
    if (!id)
        return sf_err_set(err, "invalid Salesforce id: missing");
    size_t n = strlen(id);
    bool ok = n == 15 || n == 18;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)id[i]) && (unsigned char)id[i] < 0x80;
    if (!ok) {
        char shown[128];
        quote_for_msg(id, shown, sizeof shown);
        return sf_err_set(err, "invalid Salesforce id '%s': expected 15 or 18 letters/digits",
                          shown);
    }
    return 0;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

int soql_check_date(const char *s, sf_err *err)
{
    char shown[128];
    bool ok = s && strlen(s) == 10 && s[4] == '-' && s[7] == '-';
    for (int i = 0; ok && i < 10; i++)
        if (i != 4 && i != 7)
            ok = s[i] >= '0' && s[i] <= '9';
    if (ok) {
        int y = atoi(s), m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
        ok = y >= 1700 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
    }
    if (!ok) {
        quote_for_msg(s ? s : "", shown, sizeof shown);
        return sf_err_set(err, "invalid date '%s': expected YYYY-MM-DD", shown);
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at p (0 when invalid). */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if ((p[0] & 0xE0) == 0xC0) {
        n = 2;
        cp = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        n = 3;
        cp = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/*
 * Appends 'value' as a SOQL string literal. Control characters without a
 * SOQL escape and invalid UTF-8 are refused: they cannot be sent faithfully.
 */
static int put_literal(sbuf *b, const char *field, const char *value, bool like, sf_err *err)
{
    char shown[128];
    sb_putn(b, "'", 1);
    const unsigned char *p = (const unsigned char *)value;
    while (*p) {
        const char *esc = NULL;
        switch (*p) {
        case '\'':
            esc = "\\'";
            break;
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '%':
            esc = like ? "\\%" : NULL;
            break;
        case '_':
            esc = like ? "\\_" : NULL;
            break;
        default:
            break;
        }
        if (esc) {
            sb_puts(b, esc);
            p++;
            continue;
        }
        if (*p < 0x20 || *p == 0x7f) {
            quote_for_msg(value, shown, sizeof shown);
            return sf_err_set(err, "SOQL: value '%s' for %s holds control character 0x%02X", shown,
                              field, *p);
        }
        size_t n = utf8_len(p);
        if (n == 0) {
            quote_for_msg(value, shown, sizeof shown);
            return sf_err_set(err, "SOQL: value '%s' for %s is not valid UTF-8", shown, field);
        }
        sb_putn(b, (const char *)p, n);
        p += n;
    }
    sb_putn(b, "'", 1);
    return 0;
}

static const char *op_text(soql_op op)
{
    switch (op) {
    case SOQL_EQ:
        return "=";
    case SOQL_NE:
        return "!=";
    case SOQL_LT:
        return "<";
    case SOQL_LE:
        return "<=";
    case SOQL_GT:
        return ">";
    case SOQL_GE:
        return ">=";
    case SOQL_LIKE_PREFIX:
    case SOQL_LIKE_CONTAINS:
    case SOQL_LIKE_SUFFIX:
        return "LIKE";
    case SOQL_IN:
        return "IN";
    case SOQL_NOT_IN:
        return "NOT IN";
    }
    return NULL;
}

static bool is_like(soql_op op)
{
    return op == SOQL_LIKE_PREFIX || op == SOQL_LIKE_CONTAINS || op == SOQL_LIKE_SUFFIX;
}

static bool is_list(soql_op op)
{
    return op == SOQL_IN || op == SOQL_NOT_IN;
}

soql *soql_new(const char *sobject)
{
    soql *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->sobject = strdup(sobject ? sobject : "");
    if (!q->sobject) {
        free(q);
        return NULL;
    }
    sf_err e;
    if (soql_check_name(q->sobject, false, &e) != 0)
        fail_from(q, &e);
    return q;
}

void soql_free(soql *q)
{
    if (!q)
        return;
    free(q->sobject);
    sl_free(&q->fields);
    sl_free(&q->conds);
    sl_free(&q->group);
    sl_free(&q->orders);
    free(q);
}

int soql_select(soql *q, const char *field)
{
    sf_err e;
    if (soql_check_name(field, true, &e) != 0)
        return fail_from(q, &e);
    if (sl_push(&q->fields, strdup(field)) != 0)
        return fail(q, "out of memory");
    return 0;
}

int soql_select_many(soql *q, const char *const *fields, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        rc |= soql_select(q, fields[i]);
    return rc ? -1 : 0;
}

/* Adds a rendered condition to the open group or the top level. */
static int add_cond(soql *q, sbuf *b)
{
    char *s = sb_take(b);
    if (!s)
        return fail(q, "out of memory");
    if (sl_push(q->in_group ? &q->group : &q->conds, s) != 0)
        return fail(q, "out of memory");
    return 0;
}

/* Starts "field op " in b after checking the field and that op suits the kind. */
static int begin_cond(soql *q, sbuf *b, const char *field, soql_op op, const char *kind,
                      bool like_ok, bool list)
{
    sf_err e;
    if (soql_check_name(field, true, &e) != 0)
        return fail_from(q, &e);
    if (!op_text(op) || (list && !is_list(op)) || (!list && is_list(op)) ||
        (is_like(op) && !like_ok))
        return fail(q, "SOQL: operator %d cannot compare field %s with %s", (int)op, field, kind);
    sb_puts(b, field);
    sb_putn(b, " ", 1);
    sb_puts(b, op_text(op));
    sb_putn(b, " ", 1);
    return 0;
}

int soql_where_id(soql *q, const char *field, soql_op op, const char *id)
{
    sbuf b = {0};
    sf_err e;
    if (begin_cond(q, &b, field, op, "an id", false, false) != 0 ||
        (op != SOQL_EQ && op != SOQL_NE &&
         fail(q, "SOQL: ids compare with = or != only (field %s)", field)))
        goto bad;
    if (soql_check_id(id, &e) != 0) {
        fail(q, "SOQL: field %s: %s", field, e.msg);
        goto bad;
    }
    sb_printf(&b, "'%s'", id);
    return add_cond(q, &b);
bad:
    free(sb_take(&b));
    return -1;
}

int soql_where_string(soql *q, const char *field, soql_op op, const char *value)
{
    sbuf b = {0};
    sf_err e;
    if (begin_cond(q, &b, field, op, "a string", true, false) != 0)
        goto bad;
    if (!value) {
        fail(q, "SOQL: field %s: missing value (use soql_where_null)", field);
        goto bad;
    }
    bool like = is_like(op);
    sbuf lit = {0};
    if (put_literal(&lit, field, value, like, &e) != 0) {
        free(sb_take(&lit));
        fail_from(q, &e);
        goto bad;
    }
    char *l = sb_take(&lit);
    if (!l) {
        fail(q, "out of memory");
        goto bad;
    }
    /* The wildcards go inside the quotes, around the escaped text. */
    if (like) {
        size_t n = strlen(l);
        sb_putn(&b, "'", 1);
        if (op != SOQL_LIKE_PREFIX)
            sb_putn(&b, "%", 1);
        sb_putn(&b, l + 1, n - 2);
        if (op != SOQL_LIKE_SUFFIX)
            sb_putn(&b, "%", 1);
        sb_putn(&b, "'", 1);
    } else {
        sb_puts(&b, l);
    }
    free(l);
    return add_cond(q, &b);
bad:
    free(sb_take(&b));
    return -1;
}

int soql_where_date(soql *q, const char *field, soql_op op, const char *date)
{
    sbuf b = {0};
    sf_err e;
    if (begin_cond(q, &b, field, op, "a date", false, false) != 0)
        goto bad;
    if (soql_check_date(date, &e) != 0) {
        fail(q, "SOQL: field %s: %s", field, e.msg);
        goto bad;
    }
    sb_puts(&b, date);
    return add_cond(q, &b);
bad:
    free(sb_take(&b));
    return -1;
}

int soql_where_datetime(soql *q, const char *field, soql_op op, int64_t ms)
{
    sbuf b = {0};
    if (begin_cond(q, &b, field, op, "a datetime", false, false) != 0)
        goto bad;
    /* Years 1700..9999 keep the literal four digits wide. */
    if (ms < -8520336000000LL || ms > 253402300799000LL) {
        fail(q, "SOQL: field %s: datetime %" PRId64 " ms is out of range", field, ms);
        goto bad;
    }
    int64_t sec = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        sec--;
    }
    if (rem && (op == SOQL_LT || op == SOQL_LE))
        sec++;
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    sb_printf(&b, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
              tm.tm_hour, tm.tm_min, tm.tm_sec);
    return add_cond(q, &b);
bad:
    free(sb_take(&b));
    return -1;
}

int soql_where_bool(soql *q, const char *field, soql_op op, bool value)
{
    sbuf b = {0};
    if (begin_cond(q, &b, field, op, "a boolean", false, false) != 0 ||
        (op != SOQL_EQ && op != SOQL_NE &&
         fail(q, "SOQL: booleans compare with = or != only (field %s)", field))) {
        free(sb_take(&b));
        return -1;
    }
    sb_puts(&b, value ? "true" : "false");
    return add_cond(q, &b);
}

int soql_where_number(soql *q, const char *field, soql_op op, int64_t value)
{
    sbuf b = {0};
    if (begin_cond(q, &b, field, op, "a number", false, false) != 0) {
        free(sb_take(&b));
        return -1;
    }
    sb_printf(&b, "%" PRId64, value);
    return add_cond(q, &b);
}

int soql_where_null(soql *q, const char *field, soql_op op)
{
    sbuf b = {0};
    if (begin_cond(q, &b, field, op, "null", false, false) != 0 ||
        (op != SOQL_EQ && op != SOQL_NE &&
         fail(q, "SOQL: null compares with = or != only (field %s)", field))) {
        free(sb_take(&b));
        return -1;
    }
    sb_puts(&b, "null");
    return add_cond(q, &b);
}

/* Appends one list element literal; ids are validated, strings escaped. */
static int put_list_value(sbuf *b, const char *field, bool ids, const char *v, sf_err *err)
{
    if (ids) {
        sf_err e;
        if (soql_check_id(v, &e) != 0)
            return sf_err_set(err, "SOQL: field %s: %s", field, e.msg);
        sb_putn(b, "'", 1);
        sb_puts(b, v);
        sb_putn(b, "'", 1);
        return 0;
    }
    if (!v)
        return sf_err_set(err, "SOQL: field %s: missing list value", field);
    return put_literal(b, field, v, false, err);
}

static int where_list(soql *q, const char *field, soql_op op, bool ids, const char *const *v,
                      size_t n)
{
    sbuf b = {0};
    sf_err e;
    if (begin_cond(q, &b, field, op, ids ? "an id list" : "a string list", false, true) != 0)
        goto bad;
    if (n == 0) {
        fail(q, "SOQL: field %s: empty IN list", field);
        goto bad;
    }
    sb_putn(&b, "(", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_putn(&b, ", ", 2);
        if (put_list_value(&b, field, ids, v[i], &e) != 0) {
            fail_from(q, &e);
            goto bad;
        }
    }
    sb_putn(&b, ")", 1);
    return add_cond(q, &b);
bad:
    free(sb_take(&b));
    return -1;
}

int soql_where_ids(soql *q, const char *field, soql_op op, const char *const *ids, size_t n)
{
    return where_list(q, field, op, true, ids, n);
}

int soql_where_strings(soql *q, const char *field, soql_op op, const char *const *values, size_t n)
{
    return where_list(q, field, op, false, values, n);
}

int soql_or_begin(soql *q)
{
    if (q->in_group)
        return fail(q, "SOQL: OR groups do not nest");
    q->in_group = true;
    return 0;
}

int soql_or_end(soql *q)
{
    if (!q->in_group)
        return fail(q, "SOQL: soql_or_end without soql_or_begin");
    q->in_group = false;
    if (q->group.n == 0)
        return fail(q, "SOQL: empty OR group");
    sbuf b = {0};
    if (q->group.n > 1)
        sb_putn(&b, "(", 1);
    for (size_t i = 0; i < q->group.n; i++) {
        if (i)
            sb_puts(&b, " OR ");
        sb_puts(&b, q->group.v[i]);
    }
    if (q->group.n > 1)
        sb_putn(&b, ")", 1);
    sl_free(&q->group);
    memset(&q->group, 0, sizeof q->group);
    return add_cond(q, &b);
}

int soql_order_by(soql *q, const char *field, bool descending)
{
    sf_err e;
    if (soql_check_name(field, true, &e) != 0)
        return fail_from(q, &e);
    char *s = NULL;
    if (asprintf(&s, "%s%s", field, descending ? " DESC" : "") < 0 || sl_push(&q->orders, s) != 0)
        return fail(q, "out of memory");
    return 0;
}

int soql_limit(soql *q, int64_t n)
{
    if (n < 1)
        return fail(q, "SOQL: LIMIT %" PRId64 " must be at least 1", n);
    q->limit = n;
    return 0;
}

/* Renders the query with an optional extra top-level condition. */
static char *render(const soql *q, const char *extra, sf_err *err)
{
    if (q->failed) {
        sf_err_set(err, "%s", q->err.msg);
        return NULL;
    }
    if (q->in_group) {
        sf_err_set(err, "SOQL: OR group not closed");
        return NULL;
    }
    if (q->fields.n == 0) {
        sf_err_set(err, "SOQL: no fields selected from %s", q->sobject);
        return NULL;
    }
    sbuf b = {0};
    sb_puts(&b, "SELECT ");
    for (size_t i = 0; i < q->fields.n; i++) {
        if (i)
            sb_putn(&b, ", ", 2);
        sb_puts(&b, q->fields.v[i]);
    }
    sb_puts(&b, " FROM ");
    sb_puts(&b, q->sobject);
    size_t nc = q->conds.n + (extra ? 1 : 0);
    for (size_t i = 0; i < nc; i++) {
        sb_puts(&b, i ? " AND " : " WHERE ");
        sb_puts(&b, i < q->conds.n ? q->conds.v[i] : extra);
    }
    for (size_t i = 0; i < q->orders.n; i++) {
        sb_puts(&b, i ? ", " : " ORDER BY ");
        sb_puts(&b, q->orders.v[i]);
    }
    if (q->limit)
        sb_printf(&b, " LIMIT %" PRId64, q->limit);
    char *s = sb_take(&b);
    if (!s)
        sf_err_set(err, "out of memory");
    return s;
}

char *soql_build(const soql *q, sf_err *err)
{
    return render(q, NULL, err);
}

static bool unreserved(unsigned char c)
{
    return isalnum(c) ? c < 0x80 : (c == '-' || c == '.' || c == '_' || c == '~');
}

/* Bytes s takes once percent-encoded. */
static size_t encoded_len(const char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += unreserved((unsigned char)s[i]) ? 1 : 3;
    return len;
}

char *soql_url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(encoded_len(s, n) + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
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

int soql_check_version(const char *v, sf_err *err)
{
    /* "v60.0": the version lands in the path unescaped, so it must be exactly this shape. */
    bool ok = v && v[0] == 'v' && isdigit((unsigned char)v[1]);
    const char *p = v ? v + 1 : NULL;
    while (ok && isdigit((unsigned char)*p))
        p++;
    ok = ok && *p == '.' && isdigit((unsigned char)p[1]);
    if (ok) {
        p++;
        while (isdigit((unsigned char)*p))
            p++;
        ok = *p == '\0';
    }
    if (!ok) {
        char shown[128];
        quote_for_msg(v ? v : "", shown, sizeof shown);
        return sf_err_set(err, "invalid Salesforce API version '%s': expected like v60.0", shown);
    }
    return 0;
}

static char *path_for(const char *soql_text, const char *api_version, bool query_all)
{
    char *enc = soql_url_encode(soql_text);
    char *out = NULL;
    if (enc && asprintf(&out, "/services/data/%s/%s?q=%s", api_version,
                        query_all ? "queryAll" : "query", enc) < 0)
        out = NULL;
    free(enc);
    return out;
}

char *soql_build_path(const soql *q, const char *api_version, bool query_all, sf_err *err)
{
    if (soql_check_version(api_version, err) != 0)
        return NULL;
    char *text = soql_build(q, err);
    if (!text)
        return NULL;
    char *path = path_for(text, api_version, query_all);
    free(text);
    if (!path)
        sf_err_set(err, "out of memory");
    return path;
}

int soql_chunk_fit(const soql *base, const char *api_version, bool query_all, const char *field,
                   bool ids, const char *const *values, size_t n, size_t max_path, size_t *fit,
                   sf_err *err)
{
    *fit = 0;
    if (soql_check_version(api_version, err) != 0 || soql_check_name(field, true, err) != 0)
        return -1;
    if (n == 0)
        return sf_err_set(err, "SOQL: no values to place for field %s", field);
    /* The query with an empty list: every value adds its literal and a separator. */
    char *cond = NULL;
    if (asprintf(&cond, "%s IN ()", field) < 0)
        return sf_err_set(err, "out of memory");
    char *text = render(base, cond, err);
    free(cond);
    if (!text)
        return -1;
    char *path = path_for(text, api_version, query_all);
    free(text);
    if (!path)
        return sf_err_set(err, "out of memory");
    size_t total = strlen(path);
    free(path);
    const size_t sep = encoded_len(", ", 2);
    size_t k = 0;
    for (; k < n; k++) {
        sbuf lit = {0};
        if (put_list_value(&lit, field, ids, values[k], err) != 0) {
            free(sb_take(&lit));
            return -1;
        }
        char *l = sb_take(&lit);
        if (!l)
            return sf_err_set(err, "out of memory");
        size_t add = encoded_len(l, strlen(l)) + (k ? sep : 0);
        free(l);
        if (total + add > max_path)
            break;
        total += add;
    }
    if (k == 0)
        return sf_err_set(err, "SOQL: value 1 for %s does not fit in a %zu-byte URL", field,
                          max_path);
    *fit = k;
    return 0;
}
