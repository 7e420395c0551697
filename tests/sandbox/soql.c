/*
 * Recursive-descent parser for the SOQL subset described in soql.h. One token
 * of look-ahead, every allocation owned by the resulting sfq_query (or freed
 * on the error path), nesting bounded so hostile input cannot exhaust the
 * stack. Errors quote the query the way Salesforce's parser does.
 */
#include "soql.h"
#include "sf_util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SFQ_MAX_DEPTH 64
#define SFQ_MAX_PARTS 8

typedef enum {
    TK_EOF,
    TK_IDENT,
    TK_STRING,
    TK_NUMBER,
    TK_DATE,
    TK_DATETIME,
    TK_COMMA,
    TK_LPAREN,
    TK_RPAREN,
    TK_DOT,
    TK_COLON,
    TK_OP,
    TK_BAD,
} sfq_tok_kind;

typedef struct {
    sfq_tok_kind kind;
    size_t start, end; /* token text in the query */
    sfq_op op;         /* TK_OP */
} sfq_tok;

typedef struct {
    const char *q;
    size_t len;
    size_t pos;
    sfq_tok tok;
    sfq_error *err;
    int failed;
    int depth;
} sfq_parser;

void sfq_error_at(sfq_error *err, const char *query, int pos, const char *code, const char *fmt,
                  ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    snprintf(err->code, sizeof err->code, "%s", code);
    size_t qlen = strlen(query);
    if (pos < 0)
        pos = 0;
    if ((size_t)pos > qlen)
        pos = (int)qlen;
    /* Find the row holding pos. */
    int row = 1;
    size_t row_start = 0;
    for (size_t i = 0; i < (size_t)pos; i++) {
        if (query[i] == '\n') {
            row++;
            row_start = i + 1;
        }
    }
    size_t row_end = row_start;
    while (row_end < qlen && query[row_end] != '\n')
        row_end++;
    int col = pos - (int)row_start + 1;
    /* Show at most 200 characters of the row, keeping the column in view. */
    size_t show_from = row_start;
    if ((size_t)pos - row_start > 150)
        show_from = (size_t)pos - 150;
    size_t show_len = row_end - show_from;
    if (show_len > 200)
        show_len = 200;
    char caret[160];
    size_t spaces = (size_t)pos - show_from;
    if (spaces >= sizeof caret - 1)
        spaces = sizeof caret - 2;
    memset(caret, ' ', spaces);
    caret[spaces] = '^';
    caret[spaces + 1] = '\0';
    snprintf(err->message, sizeof err->message, "\n%.*s\n%s\nERROR at Row:%d:Column:%d\n%s",
             (int)show_len, query + show_from, caret, row, col, text);
}

/* ---- lexer ---- */

static int sfq_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static void sfq_lex(sfq_parser *p)
{
    const char *q = p->q;
    while (p->pos < p->len && isspace((unsigned char)q[p->pos]))
        p->pos++;
    sfq_tok *t = &p->tok;
    t->start = p->pos;
    if (p->pos >= p->len) {
        t->kind = TK_EOF;
        t->end = p->pos;
        return;
    }
    char c = q[p->pos];
    size_t i = p->pos;
    if (isdigit((unsigned char)c) && i + 4 < p->len && isdigit((unsigned char)q[i + 1]) &&
        isdigit((unsigned char)q[i + 2]) && isdigit((unsigned char)q[i + 3]) && q[i + 4] == '-') {
        /* Date or datetime literal: take everything that can belong to one. */
        size_t j = i;
        while (j < p->len && (isdigit((unsigned char)q[j]) || q[j] == '-' || q[j] == ':' ||
                              q[j] == '.' || q[j] == 'T' || q[j] == 'Z' || q[j] == '+'))
            j++;
        t->end = j;
        int64_t ms;
        int kind;
        if (sfs_time_parse(q + i, j - i, &ms, &kind) != 0)
            t->kind = TK_BAD;
        else
            t->kind = kind == SF_TIME_DATE ? TK_DATE : TK_DATETIME;
        p->pos = j;
        return;
    }
    if (isdigit((unsigned char)c) ||
        ((c == '-' || c == '+') && i + 1 < p->len && isdigit((unsigned char)q[i + 1]))) {
        size_t j = i + 1;
        while (j < p->len && isdigit((unsigned char)q[j]))
            j++;
        if (j + 1 < p->len && q[j] == '.' && isdigit((unsigned char)q[j + 1])) {
            j++;
            while (j < p->len && isdigit((unsigned char)q[j]))
                j++;
        }
        t->kind = TK_NUMBER;
        t->end = j;
        p->pos = j;
        return;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        size_t j = i;
        while (j < p->len && sfq_ident_char(q[j]))
            j++;
        t->kind = TK_IDENT;
        t->end = j;
        p->pos = j;
        return;
    }
    if (c == '\'') {
        size_t j = i + 1;
        while (j < p->len && q[j] != '\'') {
            if (q[j] == '\\' && j + 1 < p->len)
                j++;
            j++;
        }
        if (j >= p->len) {
            t->kind = TK_BAD;
            t->end = p->len;
            p->pos = p->len;
            return;
        }
        t->kind = TK_STRING;
        t->end = j + 1;
        p->pos = j + 1;
        return;
    }
    t->kind = TK_OP;
    t->end = i + 1;
    switch (c) {
    case ',':
        t->kind = TK_COMMA;
        break;
    case '(':
        t->kind = TK_LPAREN;
        break;
    case ')':
        t->kind = TK_RPAREN;
        break;
    case '.':
        t->kind = TK_DOT;
        break;
    case ':':
        t->kind = TK_COLON;
        break;
    case '=':
        t->op = SFQ_EQ;
        break;
    case '!':
        if (i + 1 < p->len && q[i + 1] == '=') {
            t->op = SFQ_NE;
            t->end = i + 2;
        } else {
            t->kind = TK_BAD;
        }
        break;
    case '<':
        t->op = SFQ_LT;
        if (i + 1 < p->len && q[i + 1] == '=') {
            t->op = SFQ_LE;
            t->end = i + 2;
        } else if (i + 1 < p->len && q[i + 1] == '>') {
            t->op = SFQ_NE;
            t->end = i + 2;
        }
        break;
    case '>':
        t->op = SFQ_GT;
        if (i + 1 < p->len && q[i + 1] == '=') {
            t->op = SFQ_GE;
            t->end = i + 2;
        }
        break;
    default:
        t->kind = TK_BAD;
        /* A whole UTF-8 sequence counts as one bad character. */
        while (t->end < p->len && ((unsigned char)q[t->end] & 0xC0) == 0x80)
            t->end++;
        break;
    }
    p->pos = t->end;
}

/* ---- helpers ---- */

static void sfq_fail_token(sfq_parser *p)
{
    if (p->failed)
        return;
    p->failed = 1;
    if (p->tok.kind == TK_EOF) {
        sfq_error_at(p->err, p->q, (int)p->tok.start, "MALFORMED_QUERY",
                     "unexpected token: '<EOF>'");
        return;
    }
    size_t n = p->tok.end - p->tok.start;
    if (n > 100)
        n = 100;
    sfq_error_at(p->err, p->q, (int)p->tok.start, "MALFORMED_QUERY", "unexpected token: '%.*s'",
                 (int)n, p->q + p->tok.start);
}

static int sfq_is_kw(const sfq_parser *p, const char *kw)
{
    size_t n = strlen(kw);
    return p->tok.kind == TK_IDENT && p->tok.end - p->tok.start == n &&
           strncasecmp(p->q + p->tok.start, kw, n) == 0;
}

static const char *const sfq_keywords[] = {
    "SELECT", "FROM", "WHERE", "AND",    "OR",    "NOT",    "IN",       "LIKE",
    "ORDER",  "BY",   "ASC",   "DESC",   "NULLS", "FIRST",  "LAST",     "LIMIT",
    "OFFSET", "TRUE", "FALSE", "NULL",   "GROUP", "HAVING", "INCLUDES", "EXCLUDES",
    "WITH",   "FOR",  "USING", "TYPEOF", NULL};

static int sfq_is_reserved(const sfq_parser *p)
{
    for (int i = 0; sfq_keywords[i]; i++) {
        if (sfq_is_kw(p, sfq_keywords[i]))
            return 1;
    }
    return 0;
}

static int sfq_expect_kw(sfq_parser *p, const char *kw)
{
    if (!sfq_is_kw(p, kw)) {
        sfq_fail_token(p);
        return -1;
    }
    sfq_lex(p);
    return 0;
}

static int sfq_expect(sfq_parser *p, sfq_tok_kind kind)
{
    if (p->tok.kind != kind) {
        sfq_fail_token(p);
        return -1;
    }
    sfq_lex(p);
    return 0;
}

static char *sfq_tok_dup(const sfq_parser *p)
{
    return strndup(p->q + p->tok.start, p->tok.end - p->tok.start);
}

static void sfq_path_free(sfq_path *path)
{
    for (int i = 0; i < path->n_parts; i++)
        free(path->parts[i]);
    free(path->parts);
    path->parts = NULL;
    path->n_parts = 0;
}

static void sfq_oom(sfq_parser *p)
{
    if (!p->failed) {
        p->failed = 1;
        snprintf(p->err->code, sizeof p->err->code, "UNKNOWN_EXCEPTION");
        snprintf(p->err->message, sizeof p->err->message, "out of memory while parsing the query");
    }
}

static int sfq_parse_path(sfq_parser *p, sfq_path *out)
{
    memset(out, 0, sizeof *out);
    if (p->tok.kind != TK_IDENT || sfq_is_reserved(p)) {
        sfq_fail_token(p);
        return -1;
    }
    out->pos = (int)p->tok.start;
    out->parts = calloc(SFQ_MAX_PARTS, sizeof *out->parts);
    if (!out->parts) {
        sfq_oom(p);
        return -1;
    }
    for (;;) {
        if (p->tok.kind != TK_IDENT || out->n_parts == SFQ_MAX_PARTS) {
            sfq_fail_token(p);
            sfq_path_free(out);
            return -1;
        }
        out->parts[out->n_parts] = sfq_tok_dup(p);
        if (!out->parts[out->n_parts]) {
            sfq_oom(p);
            sfq_path_free(out);
            return -1;
        }
        out->n_parts++;
        sfq_lex(p);
        if (p->tok.kind != TK_DOT)
            return 0;
        sfq_lex(p);
    }
}

/* Unescapes a quoted string token. \% and \_ stay escaped (they only mean
 * something to LIKE, which reads them). */
static int sfq_unescape(sfq_parser *p, sfq_literal *lit)
{
    size_t s = p->tok.start + 1, e = p->tok.end - 1;
    char *out = malloc(e - s + 1);
    if (!out) {
        sfq_oom(p);
        return -1;
    }
    size_t o = 0;
    for (size_t i = s; i < e; i++) {
        char c = p->q[i];
        if (c != '\\') {
            out[o++] = c;
            continue;
        }
        char n = p->q[++i];
        switch (n) {
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case 'b':
            out[o++] = '\b';
            break;
        case 'f':
            out[o++] = '\f';
            break;
        case '\'':
        case '"':
        case '\\':
            out[o++] = n;
            break;
        case '%':
        case '_':
            out[o++] = '\\';
            out[o++] = n;
            break;
        default: {
            free(out);
            p->failed = 1;
            size_t n_shown = e - s > 100 ? 100 : e - s;
            sfq_error_at(p->err, p->q, (int)p->tok.start, "MALFORMED_QUERY",
                         "Invalid string literal '%.*s'. Illegal character sequence '\\%c' in "
                         "string literal.",
                         (int)n_shown, p->q + s, n);
            return -1;
        }
        }
    }
    out[o] = '\0';
    lit->text = out;
    lit->len = o;
    return 0;
}

/* Relative date literals, in whole UTC days from today. */
static int sfq_parse_date_range(sfq_parser *p, sfq_literal *lit)
{
    static const struct {
        const char *name;
        int from, to, with_n;
    } ranges[] = {{"TODAY", 0, 1, 0},       {"YESTERDAY", -1, 0, 0},  {"TOMORROW", 1, 2, 0},
                  {"LAST_N_DAYS", 0, 1, 1}, {"NEXT_N_DAYS", 1, 1, 1}, {"N_DAYS_AGO", 0, 1, 1}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        if (!sfq_is_kw(p, ranges[i].name))
            continue;
        lit->kind = SFQ_LIT_DATE_RANGE;
        lit->days_from = ranges[i].from;
        lit->days_to = ranges[i].to;
        size_t start = p->tok.start, end = p->tok.end;
        sfq_lex(p);
        if (ranges[i].with_n) {
            if (p->tok.kind != TK_COLON) {
                sfq_fail_token(p);
                return -1;
            }
            sfq_lex(p);
            int n = 0;
            for (size_t k = p->tok.start; p->tok.kind == TK_NUMBER && k < p->tok.end; k++) {
                if (p->q[k] < '0' || p->q[k] > '9' || n > 100000) {
                    n = -1;
                    break;
                }
                n = n * 10 + (p->q[k] - '0');
            }
            if (p->tok.kind != TK_NUMBER || n < 0) {
                sfq_fail_token(p);
                return -1;
            }
            end = p->tok.end;
            sfq_lex(p);
            if (strcmp(ranges[i].name, "LAST_N_DAYS") == 0) {
                lit->days_from = -n; /* today and the n days before */
            } else if (strcmp(ranges[i].name, "NEXT_N_DAYS") == 0) {
                lit->days_to = 1 + n; /* the n days after today */
            } else {
                lit->days_from = -n; /* that one day */
                lit->days_to = 1 - n;
            }
        }
        lit->text = strndup(p->q + start, end - start);
        if (!lit->text) {
            sfq_oom(p);
            return -1;
        }
        lit->len = strlen(lit->text);
        return 0;
    }
    sfq_fail_token(p);
    return -1;
}

static int sfq_parse_literal(sfq_parser *p, sfq_literal *lit)
{
    memset(lit, 0, sizeof *lit);
    lit->pos = (int)p->tok.start;
    switch (p->tok.kind) {
    case TK_STRING:
        lit->kind = SFQ_LIT_STRING;
        if (sfq_unescape(p, lit) != 0)
            return -1;
        break;
    case TK_NUMBER:
        lit->kind = SFQ_LIT_NUMBER;
        lit->text = sfq_tok_dup(p);
        if (!lit->text) {
            sfq_oom(p);
            return -1;
        }
        lit->len = strlen(lit->text);
        lit->number = strtod(lit->text, NULL);
        break;
    case TK_DATE:
    case TK_DATETIME: {
        int kind;
        sfs_time_parse(p->q + p->tok.start, p->tok.end - p->tok.start, &lit->ms, &kind);
        lit->kind = kind == SF_TIME_DATE ? SFQ_LIT_DATE : SFQ_LIT_DATETIME;
        lit->text = malloc(32);
        if (!lit->text) {
            sfq_oom(p);
            return -1;
        }
        if (kind == SF_TIME_DATE)
            sfs_time_format_date(lit->ms, lit->text);
        else
            sfs_time_format_datetime(lit->ms, lit->text);
        lit->len = strlen(lit->text);
        break;
    }
    case TK_IDENT:
        if (sfq_is_kw(p, "TRUE") || sfq_is_kw(p, "FALSE")) {
            lit->kind = SFQ_LIT_BOOL;
            lit->boolean = sfq_is_kw(p, "TRUE");
        } else if (sfq_is_kw(p, "NULL")) {
            lit->kind = SFQ_LIT_NULL;
        } else {
            return sfq_parse_date_range(p, lit);
        }
        break;
    default:
        sfq_fail_token(p);
        return -1;
    }
    sfq_lex(p);
    return 0;
}

static void sfq_expr_free(sfq_expr *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->n_kids; i++)
        sfq_expr_free(e->kids[i]);
    free(e->kids);
    sfq_path_free(&e->path);
    for (int i = 0; i < e->n_values; i++)
        free(e->values[i].text);
    free(e->values);
    free(e);
}

static sfq_expr *sfq_parse_cond(sfq_parser *p);

static sfq_expr *sfq_parse_comparison(sfq_parser *p)
{
    sfq_expr *e = calloc(1, sizeof *e);
    if (!e) {
        sfq_oom(p);
        return NULL;
    }
    e->kind = SFQ_CMP;
    if (sfq_parse_path(p, &e->path) != 0)
        goto fail;
    int is_list = 0;
    if (p->tok.kind == TK_OP) {
        e->op = p->tok.op;
        sfq_lex(p);
    } else if (sfq_is_kw(p, "LIKE")) {
        e->op = SFQ_LIKE;
        sfq_lex(p);
    } else if (sfq_is_kw(p, "IN")) {
        e->op = SFQ_IN;
        is_list = 1;
        sfq_lex(p);
    } else if (sfq_is_kw(p, "NOT")) {
        sfq_lex(p);
        if (sfq_expect_kw(p, "IN") != 0)
            goto fail;
        e->op = SFQ_NOT_IN;
        is_list = 1;
    } else {
        sfq_fail_token(p);
        goto fail;
    }
    if (!is_list) {
        e->values = calloc(1, sizeof *e->values);
        if (!e->values) {
            sfq_oom(p);
            goto fail;
        }
        if (sfq_parse_literal(p, &e->values[0]) != 0)
            goto fail;
        e->n_values = 1;
        return e;
    }
    if (sfq_expect(p, TK_LPAREN) != 0)
        goto fail;
    size_t cap = 0;
    for (;;) {
        if ((size_t)e->n_values == cap) {
            cap = cap ? cap * 2 : 8;
            sfq_literal *v = realloc(e->values, cap * sizeof *v);
            if (!v) {
                sfq_oom(p);
                goto fail;
            }
            e->values = v;
        }
        if (sfq_parse_literal(p, &e->values[e->n_values]) != 0)
            goto fail;
        e->n_values++;
        if (p->tok.kind == TK_COMMA) {
            sfq_lex(p);
            continue;
        }
        if (sfq_expect(p, TK_RPAREN) != 0)
            goto fail;
        return e;
    }
fail:
    sfq_expr_free(e);
    return NULL;
}

static sfq_expr *sfq_parse_unary(sfq_parser *p)
{
    if (++p->depth > SFQ_MAX_DEPTH) {
        if (!p->failed) {
            p->failed = 1;
            sfq_error_at(p->err, p->q, (int)p->tok.start, "MALFORMED_QUERY",
                         "expression nesting is too deep");
        }
        return NULL;
    }
    sfq_expr *e = NULL;
    if (sfq_is_kw(p, "NOT")) {
        sfq_lex(p);
        sfq_expr *kid = sfq_parse_unary(p);
        if (!kid)
            goto out;
        e = calloc(1, sizeof *e);
        sfq_expr **kids = calloc(1, sizeof *kids);
        if (!e || !kids) {
            free(e);
            free(kids);
            sfq_expr_free(kid);
            e = NULL;
            sfq_oom(p);
            goto out;
        }
        e->kind = SFQ_NOT;
        e->kids = kids;
        e->kids[0] = kid;
        e->n_kids = 1;
    } else if (p->tok.kind == TK_LPAREN) {
        sfq_lex(p);
        e = sfq_parse_cond(p);
        if (e && sfq_expect(p, TK_RPAREN) != 0) {
            sfq_expr_free(e);
            e = NULL;
        }
    } else {
        e = sfq_parse_comparison(p);
    }
out:
    p->depth--;
    return e;
}

static sfq_expr *sfq_parse_cond(sfq_parser *p)
{
    sfq_expr *first = sfq_parse_unary(p);
    if (!first)
        return NULL;
    int is_and = sfq_is_kw(p, "AND"), is_or = sfq_is_kw(p, "OR");
    if (!is_and && !is_or)
        return first;
    sfq_expr *e = calloc(1, sizeof *e);
    if (!e) {
        sfq_expr_free(first);
        sfq_oom(p);
        return NULL;
    }
    e->kind = is_and ? SFQ_AND : SFQ_OR;
    const char *kw = is_and ? "AND" : "OR";
    size_t cap = 4;
    e->kids = calloc(cap, sizeof *e->kids);
    if (!e->kids) {
        sfq_expr_free(first);
        free(e);
        sfq_oom(p);
        return NULL;
    }
    e->kids[e->n_kids++] = first;
    while (sfq_is_kw(p, kw)) {
        sfq_lex(p);
        sfq_expr *kid = sfq_parse_unary(p);
        if (!kid)
            goto fail;
        if ((size_t)e->n_kids == cap) {
            cap *= 2;
            sfq_expr **k = realloc(e->kids, cap * sizeof *k);
            if (!k) {
                sfq_expr_free(kid);
                sfq_oom(p);
                goto fail;
            }
            e->kids = k;
        }
        e->kids[e->n_kids++] = kid;
    }
    /* SOQL has no precedence between AND and OR: mixing them needs parentheses. */
    if (sfq_is_kw(p, is_and ? "OR" : "AND")) {
        sfq_fail_token(p);
        goto fail;
    }
    return e;
fail:
    sfq_expr_free(e);
    return NULL;
}

static int sfq_parse_long(sfq_parser *p, long *out)
{
    if (p->tok.kind != TK_NUMBER || !isdigit((unsigned char)p->q[p->tok.start])) {
        sfq_fail_token(p);
        return -1;
    }
    long v = 0;
    for (size_t i = p->tok.start; i < p->tok.end; i++) {
        if (!isdigit((unsigned char)p->q[i]) || v > 100000000L) {
            sfq_fail_token(p);
            return -1;
        }
        v = v * 10 + (p->q[i] - '0');
    }
    *out = v;
    sfq_lex(p);
    return 0;
}

void sfq_free(sfq_query *query)
{
    if (!query)
        return;
    for (int i = 0; i < query->n_fields; i++)
        sfq_path_free(&query->fields[i]);
    free(query->fields);
    free(query->object);
    sfq_expr_free(query->where);
    for (int i = 0; i < query->n_order; i++)
        sfq_path_free(&query->order[i].path);
    free(query->order);
    free(query);
}

int sfq_parse(const char *q, sfq_query **out, sfq_error *err)
{
    *out = NULL;
    memset(err, 0, sizeof *err);
    sfq_parser p = {.q = q, .len = strlen(q), .err = err};
    sfq_query *query = calloc(1, sizeof *query);
    if (!query) {
        sfq_oom(&p);
        return -1;
    }
    query->limit = -1;
    query->offset = -1;
    sfq_lex(&p);
    if (p.tok.kind == TK_EOF) {
        snprintf(err->code, sizeof err->code, "MALFORMED_QUERY");
        snprintf(err->message, sizeof err->message, "SOQL statements cannot be empty or null");
        sfq_free(query);
        return -1;
    }
    if (sfq_expect_kw(&p, "SELECT") != 0)
        goto fail;
    if (sfq_is_kw(&p, "COUNT")) {
        size_t save_pos = p.pos;
        sfq_tok save_tok = p.tok;
        sfq_lex(&p);
        if (p.tok.kind == TK_LPAREN) {
            sfq_lex(&p);
            if (sfq_expect(&p, TK_RPAREN) != 0)
                goto fail;
            query->count_only = 1;
        } else {
            p.pos = save_pos;
            p.tok = save_tok;
        }
    }
    if (!query->count_only) {
        size_t cap = 0;
        for (;;) {
            if ((size_t)query->n_fields == cap) {
                cap = cap ? cap * 2 : 8;
                sfq_path *f = realloc(query->fields, cap * sizeof *f);
                if (!f) {
                    sfq_oom(&p);
                    goto fail;
                }
                query->fields = f;
            }
            if (sfq_parse_path(&p, &query->fields[query->n_fields]) != 0)
                goto fail;
            query->n_fields++;
            if (p.tok.kind != TK_COMMA)
                break;
            sfq_lex(&p);
        }
    }
    if (sfq_expect_kw(&p, "FROM") != 0)
        goto fail;
    /* Order and Group are objects as well as keywords. */
    if (p.tok.kind != TK_IDENT ||
        (sfq_is_reserved(&p) && !sfq_is_kw(&p, "ORDER") && !sfq_is_kw(&p, "GROUP"))) {
        sfq_fail_token(&p);
        goto fail;
    }
    query->object_pos = (int)p.tok.start;
    query->object = sfq_tok_dup(&p);
    if (!query->object) {
        sfq_oom(&p);
        goto fail;
    }
    sfq_lex(&p);
    if (sfq_is_kw(&p, "WHERE")) {
        sfq_lex(&p);
        query->where = sfq_parse_cond(&p);
        if (!query->where)
            goto fail;
    }
    if (sfq_is_kw(&p, "ORDER")) {
        sfq_lex(&p);
        if (sfq_expect_kw(&p, "BY") != 0)
            goto fail;
        size_t cap = 0;
        for (;;) {
            if ((size_t)query->n_order == cap) {
                cap = cap ? cap * 2 : 4;
                sfq_order *o = realloc(query->order, cap * sizeof *o);
                if (!o) {
                    sfq_oom(&p);
                    goto fail;
                }
                query->order = o;
            }
            sfq_order *o = &query->order[query->n_order];
            memset(o, 0, sizeof *o);
            if (sfq_parse_path(&p, &o->path) != 0)
                goto fail;
            query->n_order++;
            if (sfq_is_kw(&p, "ASC")) {
                sfq_lex(&p);
            } else if (sfq_is_kw(&p, "DESC")) {
                o->desc = 1;
                sfq_lex(&p);
            }
            o->nulls_last = o->desc;
            if (sfq_is_kw(&p, "NULLS")) {
                sfq_lex(&p);
                if (sfq_is_kw(&p, "FIRST")) {
                    o->nulls_last = 0;
                } else if (sfq_is_kw(&p, "LAST")) {
                    o->nulls_last = 1;
                } else {
                    sfq_fail_token(&p);
                    goto fail;
                }
                sfq_lex(&p);
            }
            if (p.tok.kind != TK_COMMA)
                break;
            sfq_lex(&p);
        }
    }
    if (sfq_is_kw(&p, "LIMIT")) {
        sfq_lex(&p);
        if (sfq_parse_long(&p, &query->limit) != 0)
            goto fail;
    }
    if (sfq_is_kw(&p, "OFFSET")) {
        sfq_lex(&p);
        if (sfq_parse_long(&p, &query->offset) != 0)
            goto fail;
        if (query->offset > 2000) {
            p.failed = 1;
            snprintf(err->code, sizeof err->code, "NUMBER_OUTSIDE_VALID_RANGE");
            snprintf(err->message, sizeof err->message, "Maximum SOQL offset allowed is 2000");
            goto fail;
        }
    }
    if (p.tok.kind != TK_EOF) {
        sfq_fail_token(&p);
        goto fail;
    }
    *out = query;
    return 0;
fail:
    if (!p.failed)
        sfq_fail_token(&p);
    sfq_free(query);
    return -1;
}

int sfq_like(const char *pat, size_t plen, const char *s, size_t slen)
{
    /* Iterative wildcard match with one back-tracking point for '%'. */
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
    while (si < slen) {
        if (pi < plen && pat[pi] == '%') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < plen) {
            char pc = pat[pi];
            size_t step = 1;
            int any = 0;
            if (pc == '\\' && pi + 1 < plen) {
                pc = pat[pi + 1];
                step = 2;
            } else if (pc == '_') {
                any = 1;
            }
            if (any || tolower((unsigned char)pc) == tolower((unsigned char)s[si])) {
                pi += step;
                si++;
                continue;
            }
        }
        if (star_p == (size_t)-1)
            return 0;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && pat[pi] == '%')
        pi++;
    return pi == plen;
}
