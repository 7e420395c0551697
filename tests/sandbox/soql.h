/*
 * SOQL parser of the Salesforce simulator: the subset campsync uses, parsed
 * into a small syntax tree with no knowledge of objects or fields (the store
 * checks names and types, see sf_query.c). Kept apart from the transport so it
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
 * Keywords are case-insensitive.
 */
#ifndef CAMPSYNC_SOQL_H
#define CAMPSYNC_SOQL_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SOQL_LIT_STRING,
    SOQL_LIT_NUMBER,
    SOQL_LIT_BOOL,
    SOQL_LIT_NULL,
    SOQL_LIT_DATE,
    SOQL_LIT_DATETIME,
} soql_lit_kind;

typedef struct soql_literal {
    soql_lit_kind kind;
    char *text;    /* STRING: the unescaped value; NUMBER: as written;
                      DATE/DATETIME: canonical "2026-01-31" / "2026-01-31T00:00:00.000+0000" */
    size_t len;    /* length of text (strings may hold NUL after unescaping) */
    double number; /* NUMBER */
    int boolean;   /* BOOL */
    int64_t ms;    /* DATE/DATETIME: UTC milliseconds */
    int pos;       /* offset in the query */
} soql_literal;

/* A field path: "Email" or "Lead.Email" (parts as written). */
typedef struct soql_path {
    char **parts;
    int n_parts;
    int pos; /* offset of the first part in the query */
} soql_path;

typedef enum { SOQL_AND, SOQL_OR, SOQL_NOT, SOQL_CMP } soql_expr_kind;

typedef enum {
    SOQL_EQ,
    SOQL_NE,
    SOQL_LT,
    SOQL_LE,
    SOQL_GT,
    SOQL_GE,
    SOQL_LIKE,
    SOQL_IN,
    SOQL_NOT_IN,
} soql_op;

typedef struct soql_expr {
    soql_expr_kind kind;
    struct soql_expr **kids; /* AND/OR: n_kids >= 2; NOT: 1 */
    int n_kids;
    soql_path path;       /* CMP */
    soql_op op;           /* CMP */
    soql_literal *values; /* CMP: 1 value, or the IN list */
    int n_values;
    int op_pos;
} soql_expr;

typedef struct soql_order {
    soql_path path;
    int desc;
    int nulls_last;
} soql_order;

typedef struct soql_query {
    int count_only;    /* SELECT COUNT() */
    soql_path *fields; /* SELECT list (none when count_only) */
    int n_fields;
    char *object;
    int object_pos;
    soql_expr *where; /* NULL when absent */
    soql_order *order;
    int n_order;
    long limit;  /* -1 when absent */
    long offset; /* -1 when absent */
    int offset_pos;
} soql_query;

typedef struct soql_error {
    char code[40];      /* MALFORMED_QUERY, INVALID_FIELD, ... */
    char message[1024]; /* as Salesforce words it, with the query excerpt */
} soql_error;

/* Parses q (NUL-terminated). Returns 0 and a query the caller frees with
 * soql_free, or -1 with err filled. */
int soql_parse(const char *q, soql_query **out, soql_error *err);
void soql_free(soql_query *query);

/* Fills err the way Salesforce reports a problem at offset pos of query:
 * "\n<the query row>\n<spaces>^\nERROR at Row:R:Column:C\n<text>". */
void soql_error_at(soql_error *err, const char *query, int pos, const char *code, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

/* SOQL LIKE: % any run, _ one character, case-insensitive (ASCII). */
int soql_like(const char *pattern, size_t plen, const char *s, size_t slen);

#endif
