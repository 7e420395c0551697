/*
 * SOQL parser of the Salesforce simulator: the subset campsync uses, parsed
 * into a small syntax tree with no knowledge of objects or fields (the store
 * checks names and types, see sfs_query.c). Kept apart from the transport so it
 * can be unit-tested and fuzzed: it never reads past its input and reports
 * every problem the way Salesforce does (errorCode + a message that quotes the
 * query, points at the column and says what is wrong).
 *
 * Grammar:
 *   query   := SELECT (COUNT '(' ')' | path (',' path)*) FROM ident
 *              [WHERE cond] [ORDER BY path [ASC|DESC] [NULLS FIRST|LAST], ...]
 *              [LIMIT int] [OFFSET int]
 *   cond    := unary (AND unary)* | unary (OR unary)*   (mixing needs parentheses)
 *   unary   := NOT unary | '(' cond ')' | path op literal
 *            | path [NOT] IN '(' literal, ... ')' | path LIKE string
 *   op      := = != <> < <= > >=
 *   literal := 'string' | number | TRUE | FALSE | NULL | 2026-01-31
 *            | 2026-01-31T00:00:00[.000](Z|+hh:mm|+hhmm)
 *            | TODAY | YESTERDAY | TOMORROW | LAST_N_DAYS:n | NEXT_N_DAYS:n | N_DAYS_AGO:n
 * Keywords are case-insensitive.
 */
#ifndef CAMPSYNC_SBX_SOQL_H
#define CAMPSYNC_SBX_SOQL_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SFQ_LIT_STRING,
    SFQ_LIT_NUMBER,
    SFQ_LIT_BOOL,
    SFQ_LIT_NULL,
    SFQ_LIT_DATE,
    SFQ_LIT_DATETIME,
    SFQ_LIT_DATE_RANGE, /* TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n, NEXT_N_DAYS:n,
                           N_DAYS_AGO:n (UTC days) */
} sfq_lit_kind;

typedef struct sfq_literal {
    sfq_lit_kind kind;
    char *text;     /* STRING: the unescaped value; NUMBER: as written;
                       DATE/DATETIME: canonical "2026-01-31" / "2026-01-31T00:00:00.000+0000" */
    size_t len;     /* length of text (strings may hold NUL after unescaping) */
    double number;  /* NUMBER */
    int boolean;    /* BOOL */
    int64_t ms;     /* DATE/DATETIME: UTC milliseconds; DATE_RANGE: start (set by the
                       executor, which knows the clock) */
    int64_t ms_end; /* DATE_RANGE: end, exclusive (set by the executor) */
    int days_from;  /* DATE_RANGE: [today + days_from, today + days_to) in days */
    int days_to;
    int pos; /* offset in the query */
} sfq_literal;

/* A field path: "Email" or "Lead.Email" (parts as written). */
typedef struct sfq_path {
    char **parts;
    int n_parts;
    int pos; /* offset of the first part in the query */
} sfq_path;

typedef enum { SFQ_AND, SFQ_OR, SFQ_NOT, SFQ_CMP } sfq_expr_kind;

typedef enum {
    SFQ_EQ,
    SFQ_NE,
    SFQ_LT,
    SFQ_LE,
    SFQ_GT,
    SFQ_GE,
    SFQ_LIKE,
    SFQ_IN,
    SFQ_NOT_IN,
} sfq_op;

typedef struct sfq_expr {
    sfq_expr_kind kind;
    struct sfq_expr **kids; /* AND/OR: n_kids >= 2; NOT: 1 */
    int n_kids;
    sfq_path path;       /* CMP */
    sfq_op op;           /* CMP */
    sfq_literal *values; /* CMP: 1 value, or the IN list */
    int n_values;
} sfq_expr;

typedef struct sfq_order {
    sfq_path path;
    int desc;
    int nulls_last;
} sfq_order;

typedef struct sfq_query {
    int count_only;   /* SELECT COUNT() */
    sfq_path *fields; /* SELECT list (none when count_only) */
    int n_fields;
    char *object;
    int object_pos;
    sfq_expr *where; /* NULL when absent */
    sfq_order *order;
    int n_order;
    long limit;  /* -1 when absent */
    long offset; /* -1 when absent */
} sfq_query;

typedef struct sfq_error {
    char code[40];      /* MALFORMED_QUERY, INVALID_FIELD, ... */
    char message[1024]; /* as Salesforce words it, with the query excerpt */
} sfq_error;

/* Parses q (NUL-terminated). Returns 0 and a query the caller frees with
 * sfq_free, or -1 with err filled. */
int sfq_parse(const char *q, sfq_query **out, sfq_error *err);
void sfq_free(sfq_query *query);

/* Fills err the way Salesforce reports a problem at offset pos of query:
 * "\n<the query row>\n<spaces>^\nERROR at Row:R:Column:C\n<text>". */
void sfq_error_at(sfq_error *err, const char *query, int pos, const char *code, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));

/* SOQL LIKE: % any run, _ one character, case-insensitive (ASCII). */
int sfq_like(const char *pattern, size_t plen, const char *s, size_t slen);

#endif
