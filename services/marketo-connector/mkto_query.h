/*
 * Query strings and form bodies for Marketo GETs. Parameters are kept in
 * order and percent-encoded once here; a request whose URL would pass
 * Marketo's 8 KB limit (HTTP 414) is turned into the documented alternative:
 * POST <path>?_method=GET with the same parameters as an
 * application/x-www-form-urlencoded body. The access token never goes into
 * the URL (it travels in the Authorization header).
 */
#ifndef MKTO_QUERY_H
#define MKTO_QUERY_H

#include "mkto_errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Marketo refuses URIs over 8 KB with 414. */
#define MKTO_MAX_URL 8192

typedef struct mkto_params mkto_params;

mkto_params *mkto_params_new(void); /* NULL on OOM */
void mkto_params_free(mkto_params *p);

/* Adds name=value (both encoded here). Fails on OOM or invalid UTF-8 in value. */
int mkto_params_add(mkto_params *p, const char *name, const char *value, mkto_err *err);
int mkto_params_add_int(mkto_params *p, const char *name, int64_t value, mkto_err *err);
/* Adds a comma-joined list (filterValues, fields, activityTypeIds); n >= 1. String
 * values must not contain ',' (Marketo would split them). */
int mkto_params_add_ints(mkto_params *p, const char *name, const int64_t *v, size_t n,
                         mkto_err *err);
int mkto_params_add_strs(mkto_params *p, const char *name, const char *const *v, size_t n,
                         mkto_err *err);
/* epoch ms as "2026-01-31T12:00:00Z" (sinceDatetime, startAt, endAt). */
int mkto_params_add_time(mkto_params *p, const char *name, int64_t ms, mkto_err *err);

/* "a=1&b=x%20y" (malloc'd; "" when empty). */
char *mkto_params_encode(const mkto_params *p);
/* Length mkto_params_encode would return. */
size_t mkto_params_encoded_len(const mkto_params *p);

/* A request ready for the HTTP layer. */
typedef struct mkto_request {
    bool post_form;  /* true: POST target with form_body (Content-Type form-urlencoded) */
    char *target;    /* "/rest/v1/leads.json?filterType=..." or ".../leads.json?_method=GET" */
    char *form_body; /* NULL for a GET */
} mkto_request;

/*
 * GET path?params when the path+query stays within max_url bytes
 * (MKTO_MAX_URL minus the scheme/host the caller adds), else POST
 * path?_method=GET with params as the body. path must start with '/' and
 * hold no '?' or '#'.
 */
int mkto_request_build(const char *path, const mkto_params *p, size_t max_url, mkto_request *out,
                       mkto_err *err);
void mkto_request_clear(mkto_request *r);

/* Percent-encodes all but A-Z a-z 0-9 - . _ ~ (malloc'd). */
char *mkto_url_encode(const char *s);
/* Bytes s takes once percent-encoded. */
size_t mkto_url_encoded_len(const char *s);

#endif
