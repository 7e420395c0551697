/*
 * Reading vendor JSON without trusting it. Marketo and Salesforce bodies are
 * parsed with jansson; these helpers fetch fields so that a missing or
 * mistyped field becomes an error naming the exact path, e.g.
 *   "result[3].leadId: expected integer, got string"
 * which is what an operator needs to see when a vendor changes a payload.
 *
 * A cj_ref is a borrowed view of one value plus how it was reached (parent,
 * key or index). Refs live on the caller's stack and point at their parent,
 * so a child must not outlive the ref it was made from. Paths are only
 * formatted when an error is reported: the success path does no formatting
 * and no allocation. Strings handed out are borrowed from the jansson
 * document and live as long as it does.
 */
#ifndef CAMPSYNC_JSON_H
#define CAMPSYNC_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cj_error {
    char msg[256];
} cj_error;

typedef struct cj_ref {
    json_t *json; /* the value; NULL when missing */
    const struct cj_ref *parent;
    const char *key; /* member name in parent; NULL for an array element */
    size_t index;    /* array index in parent when key is NULL */
    int bad_parent;  /* parent was not an object (key) / array (index): report the parent */
} cj_ref;

/* Flags for integer getters and cj_json_to_minor. */
enum {
    CJ_NUMERIC_STRING = 1 /* also accept "123" (Marketo quotes its codes and costs) */
};

/*
 * Parses body[0..len) into *out (caller frees with json_decref). Fails with a
 * clear message on an empty body, a body over max_len bytes (0 = no limit),
 * or invalid JSON (with line and column). Top-level must be an object or array.
 */
int cj_parse(const char *body, size_t len, size_t max_len, json_t **out, cj_error *err);

/* The ref for a whole document (its path prints as "$"). */
cj_ref cj_root(json_t *doc);
/* Member `key` of obj and element i of arr; .json is NULL when absent. */
cj_ref cj_at(const cj_ref *obj, const char *key);
cj_ref cj_elem(const cj_ref *arr, size_t i);
/* Number of elements of an array ref (0 when not an array). */
size_t cj_len(const cj_ref *arr);

/* A value's kind in words for error messages about vendor bodies: "object",
 * "array", "string", "number" (integer or real), "boolean", "null", or
 * "nothing" for NULL (absent). */
const char *cj_kind(const json_t *v);

/* Writes the path of r ("result[3].leadId", "$" for the root) into buf. */
void cj_path(const cj_ref *r, char *buf, size_t n);
/* Sets err to "<path of at>: <message>" and returns -1, so callers can report
 * their own checks (unknown enum value, out of range) the same way. */
int cj_fail(cj_error *err, const cj_ref *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Value getters: the value of r itself must be present, non-null and of the
 * type asked. Return 0 and set *out, or -1 with err naming the path.
 * cj_object/cj_array only check the type (and give the length).
 */
int cj_string(const cj_ref *r, const char **out, cj_error *err);
int cj_int64(const cj_ref *r, unsigned flags, int64_t *out, cj_error *err);
int cj_double(const cj_ref *r, double *out, cj_error *err); /* integer or real */
int cj_bool(const cj_ref *r, int *out, cj_error *err);
int cj_object(const cj_ref *r, cj_error *err);
int cj_array(const cj_ref *r, size_t *len, cj_error *err);

/*
 * Field getters on an object ref. cj_req_* fail when the field is missing or
 * null; cj_opt_* store dflt when it is missing or null, or when obj itself
 * is missing or null (an optional object that was absent). Both fail when
 * the field is present with the wrong type, or when obj is not an object.
 * cj_req_object/cj_req_array/cj_opt_* fill *out with the child ref (for
 * cj_opt_object/cj_opt_array out->json is NULL when absent).
 */
int cj_req_string(const cj_ref *obj, const char *key, const char **out, cj_error *err);
int cj_opt_string(const cj_ref *obj, const char *key, const char *dflt, const char **out,
                  cj_error *err);
int cj_req_int64(const cj_ref *obj, const char *key, unsigned flags, int64_t *out, cj_error *err);
int cj_opt_int64(const cj_ref *obj, const char *key, unsigned flags, int64_t dflt, int64_t *out,
                 cj_error *err);
int cj_req_double(const cj_ref *obj, const char *key, double *out, cj_error *err);
int cj_opt_double(const cj_ref *obj, const char *key, double dflt, double *out, cj_error *err);
int cj_req_bool(const cj_ref *obj, const char *key, int *out, cj_error *err);
int cj_opt_bool(const cj_ref *obj, const char *key, int dflt, int *out, cj_error *err);
int cj_req_object(const cj_ref *obj, const char *key, cj_ref *out, cj_error *err);
int cj_opt_object(const cj_ref *obj, const char *key, cj_ref *out, cj_error *err);
int cj_req_array(const cj_ref *obj, const char *key, cj_ref *out, size_t *len, cj_error *err);
int cj_opt_array(const cj_ref *obj, const char *key, cj_ref *out, size_t *len, cj_error *err);

/*
 * Vendor times and money, read the same way for Marketo and Salesforce.
 *
 * cj_parse_datetime: "2026-01-31T12:00:00Z" -> Unix epoch ms. Accepts 'T' or
 * ' ' between date and time, a fraction (milliseconds; further digits are
 * dropped), 'Z', an offset "+0000" / "+00:00", both ("Z+0000", as Marketo's
 * asset API writes it), and a bare date "2026-01-31" (midnight UTC). Fails
 * with "invalid datetime '<text>': expected like 2026-01-31T12:00:00Z".
 * cj_format_datetime: epoch ms -> "2026-01-31T12:00:00Z" (whole seconds,
 * floor) or, with CJ_DATETIME_MS, "2026-01-31T12:00:00.123Z" (buf >= 32).
 *
 * Money is integer minor units (cents, x100), converted exactly from the
 * decimal text with no binary floating-point drift; a digit below a cent
 * rounds half away from zero (0.005 -> 1, -2.675 -> -268).
 * cj_decimal_to_minor: "1234.5", "-0.01", "1e3" -> minor units; errors name
 * the text ("invalid amount '12a': ...", "amount '1e30' is too large").
 * cj_json_to_minor: a JSON integer or real (exactly as its decimal reads);
 * with CJ_NUMERIC_STRING also a decimal string ("12.345").
 * cj_minor_to_json: minor units -> a JSON number (integer when whole); dump
 * with CJ_MONEY_DUMP_FLAGS so 19.99 does not print as 19.989999999999998.
 */
enum {
    CJ_DATETIME_MS = 1 /* cj_format_datetime: print milliseconds */
};
int cj_parse_datetime(const char *s, int64_t *ms, cj_error *err);
void cj_format_datetime(int64_t ms, unsigned flags, char *buf, size_t n);
int cj_decimal_to_minor(const char *text, int64_t *minor, cj_error *err);
int cj_json_to_minor(const json_t *v, unsigned flags, int64_t *minor, cj_error *err);
json_t *cj_minor_to_json(int64_t minor);
#define CJ_MONEY_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

#endif
