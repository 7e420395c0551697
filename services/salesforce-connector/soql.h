/*
 * The only way the Salesforce connector makes SOQL. Queries are assembled
 * from typed parts — validated field and object names, typed values — never
 * from caller text, so a value can only ever become one literal: ids must be
 * 15 or 18 alphanumerics, dates and datetimes are formatted here, and strings
 * are escaped per the SOQL rules (\' \" \\ \n \r \t \b \f, plus \% \_ inside
 * LIKE). The shape is fixed:
 *
 *   SELECT f1, f2 FROM Obj WHERE c1 AND (c2 OR c3) AND c4 ORDER BY f DESC LIMIT n
 *
 * Conditions are AND-combined; those added between soql_or_begin() and
 * soql_or_end() form one parenthesised OR group.
 *
 * Errors are sticky: the first bad part is remembered (its function returns
 * -1 too) and soql_build() reports it, naming the field and value, so a
 * caller can add parts without checking each call.
 *
 * Ownership: soql_new() allocates, soql_free() releases; every string
 * argument is copied; the char * results are malloc'd for the caller to free.
 */
#ifndef SOQL_H
#define SOQL_H

#include "sf_errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Salesforce refuses GET request lines much longer than 16 KB. */
#define SOQL_DEFAULT_MAX_URL 16000

typedef enum {
    SOQL_EQ = 0,
    SOQL_NE,
    SOQL_LT,
    SOQL_LE,
    SOQL_GT,
    SOQL_GE,
    SOQL_LIKE_PREFIX,   /* strings only: field LIKE 'value%' (value matched literally) */
    SOQL_LIKE_CONTAINS, /* strings only: field LIKE '%value%' */
    SOQL_LIKE_SUFFIX,   /* strings only: field LIKE '%value' */
    SOQL_IN,            /* lists only */
    SOQL_NOT_IN,        /* lists only */
} soql_op;

typedef struct soql soql;

/* A query on sobject (validated at build). NULL only when out of memory. */
soql *soql_new(const char *sobject);
void soql_free(soql *q);

/* Adds a field to the SELECT list: Name, Custom__c, Lead.Email, Contact.Account.Name. */
int soql_select(soql *q, const char *field);
/* Adds n fields. */
int soql_select_many(soql *q, const char *const *fields, size_t n);

/* field op value, with op in EQ..GE (and LIKE_* for strings). */
int soql_where_id(soql *q, const char *field, soql_op op, const char *id);
int soql_where_string(soql *q, const char *field, soql_op op, const char *value);
int soql_where_date(soql *q, const char *field, soql_op op, const char *yyyy_mm_dd);
/* Written to whole seconds in UTC; a sub-second bound is widened (floor for
 * > and >=, ceiling for < and <=) so no matching row is ever missed. */
int soql_where_datetime(soql *q, const char *field, soql_op op, int64_t epoch_ms);
int soql_where_bool(soql *q, const char *field, soql_op op, bool value); /* EQ / NE */
int soql_where_number(soql *q, const char *field, soql_op op, int64_t value);
int soql_where_null(soql *q, const char *field, soql_op op); /* EQ: = null, NE: != null */
/* field IN / NOT IN (...) with n >= 1 values. */
int soql_where_ids(soql *q, const char *field, soql_op op, const char *const *ids, size_t n);
int soql_where_strings(soql *q, const char *field, soql_op op, const char *const *values, size_t n);

/* Conditions added in between become one "(a OR b OR ...)" group. No nesting. */
int soql_or_begin(soql *q);
int soql_or_end(soql *q);

/* ORDER BY field [DESC]; may be called several times. */
int soql_order_by(soql *q, const char *field, bool descending);
/* LIMIT n (n >= 1). */
int soql_limit(soql *q, int64_t n);

/* The query text, or NULL with err set (first problem recorded, or OOM). */
char *soql_build(const soql *q, sf_err *err);

/*
 * The request target for the REST query resource:
 *   /services/data/<api_version>/query?q=<url-encoded SOQL>
 * (queryAll instead of query when query_all). api_version looks like "v60.0".
 */
char *soql_build_path(const soql *q, const char *api_version, bool query_all, sf_err *err);

/* Percent-encodes everything but A-Z a-z 0-9 - . _ ~ (space becomes %20). */
char *soql_url_encode(const char *s);

/*
 * Splitting long id or email lists over several queries: how many of
 * values[0..n) fit, as "AND field IN (...)" added to base, so that
 * soql_build_path(...) stays within max_path bytes. Call again from
 * values[*fit] until everything is placed. ids selects id validation (else
 * strings). Fails when a value is invalid (naming it), when base itself is
 * invalid, or when not even one value fits.
 */
int soql_chunk_fit(const soql *base, const char *api_version, bool query_all, const char *field,
                   bool ids, const char *const *values, size_t n, size_t max_path, size_t *fit,
                   sf_err *err);

/* Validators the rest of the connector shares (0 = valid, else err names the value). */
int soql_check_id(const char *id, sf_err *err);
int soql_check_name(const char *name, bool allow_path, sf_err *err);
int soql_check_date(const char *yyyy_mm_dd, sf_err *err);
/* A REST API version as it appears in paths: "v60.0". */
int soql_check_version(const char *api_version, sf_err *err);

#endif
