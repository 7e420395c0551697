/*
 * Salesforce error bodies and the one table that says what each error means
 * for the connector (see sf_errors.h). The table is data, not a switch, so
 * the documentation (ERRORS.md) is printed from the same rows the code uses.
 */
#include "sf_errors.h"

#include "rpc/rpc.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sf_err_set(sf_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Row keys for status classes: they match when no more specific row does. */
enum { ANY_STATUS = 0, CLASS_4XX = -4, CLASS_5XX = -5, CLASS_OTHER = -1 };

#define U GRPC_STATUS_UNAVAILABLE
static const sf_error_rule rules[] = {
    {401, "INVALID_SESSION_ID", GRPC_STATUS_UNAUTHENTICATED, SF_ACTION_REAUTH_ONCE,
     "Session expired or revoked: fetch a new token and retry once."},
    {401, NULL, GRPC_STATUS_UNAUTHENTICATED, SF_ACTION_REAUTH_ONCE,
     "Not authenticated: fetch a new token and retry once."},
    {ANY_STATUS, "invalid_client_id", GRPC_STATUS_UNAUTHENTICATED, SF_ACTION_FAIL,
     "Token endpoint: unknown consumer key; fix the connected app credentials."},
    {ANY_STATUS, "invalid_client", GRPC_STATUS_UNAUTHENTICATED, SF_ACTION_FAIL,
     "Token endpoint: wrong consumer secret; fix the connected app credentials."},
    {ANY_STATUS, "invalid_grant", GRPC_STATUS_UNAUTHENTICATED, SF_ACTION_FAIL,
     "Token endpoint: grant refused (user not pre-authorized, bad JWT, wrong audience)."},
    {ANY_STATUS, "unsupported_grant_type", GRPC_STATUS_UNAUTHENTICATED, SF_ACTION_FAIL,
     "Token endpoint: grant type not enabled for this connected app."},
    {403, "REQUEST_LIMIT_EXCEEDED", GRPC_STATUS_RESOURCE_EXHAUSTED, SF_ACTION_FAIL,
     "Org API request limit reached: stop until usage falls (see Sforce-Limit-Info)."},
    {ANY_STATUS, "UNABLE_TO_LOCK_ROW", U, SF_ACTION_RETRY,
     "Record locked by another transaction: back off and retry."},
    {ANY_STATUS, "SERVER_UNAVAILABLE", U, SF_ACTION_RETRY,
     "Salesforce temporarily unavailable: back off and retry."},
    {ANY_STATUS, "INVALID_QUERY_LOCATOR", GRPC_STATUS_ABORTED, SF_ACTION_FAIL,
     "Query cursor expired or unknown: restart the whole query."},
    {ANY_STATUS, "QUERY_TIMEOUT", U, SF_ACTION_RETRY,
     "Query ran too long: back off and retry (narrow the filter if it persists)."},
    {ANY_STATUS, "MALFORMED_QUERY", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL, "SOQL rejected."},
    {ANY_STATUS, "INVALID_FIELD", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL,
     "Unknown field (or not visible to the integration user)."},
    {ANY_STATUS, "INVALID_TYPE", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL,
     "Unknown sObject type (or not visible to the integration user)."},
    {ANY_STATUS, "MALFORMED_ID", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL,
     "A value is not a valid record id."},
    {ANY_STATUS, "INVALID_QUERY_FILTER_OPERATOR", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL,
     "Operator not allowed on this field."},
    {ANY_STATUS, "JSON_PARSER_ERROR", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL,
     "Request body rejected as JSON."},
    {ANY_STATUS, "INVALID_CROSS_REFERENCE_KEY", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL,
     "A referenced record id does not exist or has the wrong type."},
    {ANY_STATUS, "REQUIRED_FIELD_MISSING", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL,
     "A required field was not given."},
    {ANY_STATUS, "STRING_TOO_LONG", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL,
     "A value is longer than the field allows."},
    {ANY_STATUS, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", GRPC_STATUS_INVALID_ARGUMENT,
     SF_ACTION_FAIL, "Value not in a restricted picklist."},
    {ANY_STATUS, "INVALID_FIELD_FOR_INSERT_UPDATE", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL,
     "Field cannot be written."},
    {ANY_STATUS, "FIELD_CUSTOM_VALIDATION_EXCEPTION", GRPC_STATUS_FAILED_PRECONDITION,
     SF_ACTION_FAIL, "An org validation rule refused the change."},
    {ANY_STATUS, "FIELD_INTEGRITY_EXCEPTION", GRPC_STATUS_FAILED_PRECONDITION, SF_ACTION_FAIL,
     "The change conflicts with related data."},
    {ANY_STATUS, "DUPLICATE_VALUE", GRPC_STATUS_FAILED_PRECONDITION, SF_ACTION_FAIL,
     "A unique value already exists (e.g. already a campaign member)."},
    {ANY_STATUS, "ENTITY_IS_DELETED", GRPC_STATUS_FAILED_PRECONDITION, SF_ACTION_FAIL,
     "The record is deleted."},
    {ANY_STATUS, "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", GRPC_STATUS_FAILED_PRECONDITION,
     SF_ACTION_FAIL, "A trigger or flow refused the change."},
    {ANY_STATUS, "DELETE_FAILED", GRPC_STATUS_FAILED_PRECONDITION, SF_ACTION_FAIL,
     "The record is in use (e.g. a default or used member status)."},
    {ANY_STATUS, "STORAGE_LIMIT_EXCEEDED", GRPC_STATUS_RESOURCE_EXHAUSTED, SF_ACTION_FAIL,
     "Org data storage is full."},
    {ANY_STATUS, "INSUFFICIENT_ACCESS", GRPC_STATUS_PERMISSION_DENIED, SF_ACTION_FAIL,
     "The integration user lacks access (Marketing User, object or field permission)."},
    {ANY_STATUS, "INSUFFICIENT_ACCESS_OR_READONLY", GRPC_STATUS_PERMISSION_DENIED, SF_ACTION_FAIL,
     "The integration user cannot edit this record."},
    {ANY_STATUS, "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY", GRPC_STATUS_PERMISSION_DENIED,
     SF_ACTION_FAIL, "The integration user cannot see a referenced record."},
    {ANY_STATUS, "API_DISABLED_FOR_ORG", GRPC_STATUS_PERMISSION_DENIED, SF_ACTION_FAIL,
     "The org's edition or the user's profile has no API access."},
    {ANY_STATUS, "API_CURRENTLY_DISABLED", GRPC_STATUS_PERMISSION_DENIED, SF_ACTION_FAIL,
     "API access is switched off for this user."},
    {ANY_STATUS, "NOT_FOUND", GRPC_STATUS_NOT_FOUND, SF_ACTION_FAIL,
     "The requested resource does not exist."},
    {300, NULL, GRPC_STATUS_FAILED_PRECONDITION, SF_ACTION_FAIL,
     "Upsert external id matches several records."},
    {403, NULL, GRPC_STATUS_PERMISSION_DENIED, SF_ACTION_FAIL, "Request refused."},
    {404, NULL, GRPC_STATUS_NOT_FOUND, SF_ACTION_FAIL, "The requested resource does not exist."},
    {409, NULL, GRPC_STATUS_ABORTED, SF_ACTION_FAIL, "Conflicting change: redo the operation."},
    {414, NULL, GRPC_STATUS_INTERNAL, SF_ACTION_FAIL,
     "URI too long: the connector failed to split a query (a bug)."},
    {500, NULL, U, SF_ACTION_RETRY, "Salesforce internal error: back off and retry."},
    {502, NULL, U, SF_ACTION_RETRY, "Bad gateway: back off and retry."},
    {503, NULL, U, SF_ACTION_RETRY, "Service unavailable: back off and retry."},
    {504, NULL, U, SF_ACTION_RETRY, "Gateway timeout: back off and retry."},
    {CLASS_4XX, NULL, GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL,
     "Other client errors: the request was refused as sent."},
    {CLASS_5XX, NULL, U, SF_ACTION_RETRY, "Other server errors: back off and retry."},
    {CLASS_OTHER, NULL, U, SF_ACTION_RETRY,
     "No HTTP answer (connection refused, reset, timeout, TLS): back off and retry."},
};
#undef U

const sf_error_rule *sf_error_rules(size_t *n)
{
    *n = sizeof rules / sizeof rules[0];
    return rules;
}

static int status_class(int http_status)
{
    if (http_status >= 400 && http_status < 500)
        return CLASS_4XX;
    if (http_status >= 500 && http_status < 600)
        return CLASS_5XX;
    return CLASS_OTHER;
}

const sf_error_rule *sf_error_classify(const sf_api_error *e)
{
    size_t n = sizeof rules / sizeof rules[0];
    const char *code = e->error_code[0] ? e->error_code : NULL;
    if (code) {
        for (size_t i = 0; i < n; i++)
            if (rules[i].http_status == e->http_status && rules[i].error_code &&
                strcmp(rules[i].error_code, code) == 0)
                return &rules[i];
        for (size_t i = 0; i < n; i++)
            if (rules[i].http_status == ANY_STATUS && rules[i].error_code &&
                strcmp(rules[i].error_code, code) == 0)
                return &rules[i];
    }
    if (e->http_status > 0)
        for (size_t i = 0; i < n; i++)
            if (rules[i].http_status == e->http_status && !rules[i].error_code)
                return &rules[i];
    int cls = status_class(e->http_status);
    for (size_t i = 0; i < n; i++)
        if (rules[i].http_status == cls)
            return &rules[i];
    return &rules[n - 1];
}

/* Copies src into dst (size n) replacing control characters by spaces. */
static void copy_printable(char *dst, size_t n, const char *src, size_t len)
{
    size_t j = 0;
    for (size_t i = 0; i < len && src[i] && j + 1 < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    dst[j] = '\0';
}

static void copy_json_string(char *dst, size_t n, json_t *v)
{
    if (json_is_string(v))
        copy_printable(dst, n, json_string_value(v), json_string_length(v));
}

static void join_fields(char *dst, size_t n, json_t *fields)
{
    size_t i;
    json_t *f;
    dst[0] = '\0';
    json_array_foreach(fields, i, f)
    {
        if (!json_is_string(f))
            continue;
        size_t used = strlen(dst);
        snprintf(dst + used, n - used, "%s%s", used ? ", " : "", json_string_value(f));
    }
}

void sf_api_error_parse(int http_status, const char *body, size_t len, sf_api_error *out)
{
    memset(out, 0, sizeof *out);
    out->http_status = http_status;
    if (!body || len == 0)
        return;
    json_t *doc = json_loadb(body, len, JSON_DECODE_ANY, NULL);
    json_t *first = NULL;
    if (json_is_array(doc)) {
        out->n_errors = (int)json_array_size(doc);
        first = json_array_get(doc, 0);
    } else if (json_is_object(doc)) {
        first = doc;
    }
    if (json_is_object(first) && json_is_string(json_object_get(first, "errorCode"))) {
        if (!out->n_errors)
            out->n_errors = 1;
        copy_json_string(out->error_code, sizeof out->error_code,
                         json_object_get(first, "errorCode"));
        copy_json_string(out->message, sizeof out->message, json_object_get(first, "message"));
        join_fields(out->fields, sizeof out->fields, json_object_get(first, "fields"));
    } else if (json_is_object(first) && json_is_string(json_object_get(first, "error"))) {
        out->n_errors = 1;
        copy_json_string(out->error_code, sizeof out->error_code, json_object_get(first, "error"));
        copy_json_string(out->message, sizeof out->message,
                         json_object_get(first, "error_description"));
    } else {
        /* Not a Salesforce error: keep the start of the body for the operator. */
        size_t keep = len < 200 ? len : 200;
        copy_printable(out->message, sizeof out->message, body, keep);
    }
    json_decref(doc);
}

void sf_error_status_message(const sf_api_error *e, char *buf, size_t n)
{
    if (n == 0)
        return;
    int w;
    if (e->http_status <= 0)
        w = snprintf(buf, n, "salesforce: no answer: %s", e->message[0] ? e->message : "?");
    else if (e->error_code[0])
        w = snprintf(buf, n, "salesforce %s (HTTP %d): %s", e->error_code, e->http_status,
                     e->message);
    else
        w = snprintf(buf, n, "salesforce HTTP %d: %s", e->http_status, e->message);
    if (w >= 0 && (size_t)w < n && e->fields[0])
        snprintf(buf + w, n - (size_t)w, " [fields: %s]", e->fields);
}

static const char *action_text(sf_action a)
{
    switch (a) {
    case SF_ACTION_RETRY:
        return "retry with backoff";
    case SF_ACTION_REAUTH_ONCE:
        return "new token, retry once";
    case SF_ACTION_FAIL:
        break;
    }
    return "fail";
}

char *sf_errors_markdown(void)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fputs("# Salesforce errors and what the connector does\n\n"
          "Generated from the table in `sf_errors.c` (`sf_errors_markdown()`); the\n"
          "unit test `test_sf_errors` fails when this file and the table differ.\n"
          "Rows are matched in this order: exact HTTP status and errorCode, then\n"
          "errorCode under any status, then HTTP status alone, then the class.\n"
          "The gRPC status is what callers see once the connector gives up; its\n"
          "message reads `salesforce <errorCode> (HTTP <status>): <message>`.\n\n"
          "| HTTP | errorCode | gRPC status | Action | Meaning |\n"
          "|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const sf_error_rule *r = &rules[i];
        char status[16];
        if (r->http_status == ANY_STATUS)
            snprintf(status, sizeof status, "any");
        else if (r->http_status == CLASS_4XX)
            snprintf(status, sizeof status, "other 4xx");
        else if (r->http_status == CLASS_5XX)
            snprintf(status, sizeof status, "other 5xx");
        else if (r->http_status == CLASS_OTHER)
            snprintf(status, sizeof status, "none/other");
        else
            snprintf(status, sizeof status, "%d", r->http_status);
        fprintf(f, "| %s | %s | %s | %s | %s |\n", status, r->error_code ? r->error_code : "any",
                rpc_status_name(r->status), action_text(r->action), r->why);
    }
    fputs("\nPer-record failures inside sObject Collections results never fail a\n"
          "batch: they come back as FAILED with the statusCode, except\n"
          "`DUPLICATE_VALUE` when adding campaign members and `ENTITY_IS_DELETED`\n"
          "when deleting, which are SKIPPED (nothing left to do).\n"
          "\n"
          "Writes that are not idempotent (creates) are never sent again once the\n"
          "request may have reached Salesforce (no answer, a dropped connection, a\n"
          "timeout): the caller gets UNAVAILABLE saying the request may have been\n"
          "applied, and each such request uses a new connection so the HTTP client\n"
          "cannot silently resend it either. Only a refused connection or a 5xx\n"
          "answer (not processed) is retried for them.\n"
          "\n"
          "An answer that is not JSON (cut or garbled): a query page is read again\n"
          "(up to 2 more times, then UNAVAILABLE \"query answer unreadable\"); a write\n"
          "fails with UNAVAILABLE \"collection answer unreadable\" (it may have been\n"
          "applied).\n",
          f);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

bool sf_record_failure_is_skip(sf_op op, const char *status_code)
{
    if (!status_code)
        return false;
    if (op == SF_OP_ADD_MEMBER && strcmp(status_code, "DUPLICATE_VALUE") == 0)
        return true;
    if (op == SF_OP_DELETE && strcmp(status_code, "ENTITY_IS_DELETED") == 0)
        return true;
    return false;
}
