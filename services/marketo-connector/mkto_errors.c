/*
 * The Marketo error table and the decisions drawn from it (see
 * mkto_errors.h). Data, not a switch, so ERRORS.md is printed from the very
 * rows the connector uses.
 */
#include "mkto_errors.h"

#include "rpc/rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mkto_err_set(mkto_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#define FAILED CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED
#define SKIPPED CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED
#define U GRPC_STATUS_UNAVAILABLE
#define IA GRPC_STATUS_INVALID_ARGUMENT
#define FP GRPC_STATUS_FAILED_PRECONDITION

static const mkto_error_rule rules[] = {
    /* HTTP-level failures (Marketo answers API errors with HTTP 200). */
    {-1, 0, MKTO_OP_ANY, U, MKTO_ACTION_RETRY, FAILED,
     "No HTTP answer (connection refused, reset, timeout, TLS): back off and retry."},
    {401, 0, MKTO_OP_ANY, GRPC_STATUS_UNAUTHENTICATED, MKTO_ACTION_FAIL, FAILED,
     "Identity refused the client id/secret: fix the credentials."},
    {413, 0, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED, "Request body over 1 MB."},
    {414, 0, MKTO_OP_ANY, GRPC_STATUS_INTERNAL, MKTO_ACTION_USE_POST, FAILED,
     "URI over 8 KB: resend as POST with _method=GET and the parameters in the body."},
    {502, 0, MKTO_OP_ANY, U, MKTO_ACTION_RETRY, FAILED, "Bad gateway: back off and retry."},
    {-5, 0, MKTO_OP_ANY, U, MKTO_ACTION_RETRY, FAILED, "Other 5xx: back off and retry."},
    {-4, 0, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED, "Other 4xx: refused as sent."},
    /* Request-level codes. */
    {0, 601, MKTO_OP_ANY, GRPC_STATUS_UNAUTHENTICATED, MKTO_ACTION_REAUTH_ONCE, FAILED,
     "Access token invalid: fetch a new token and retry once."},
    {0, 602, MKTO_OP_ANY, GRPC_STATUS_UNAUTHENTICATED, MKTO_ACTION_REAUTH_ONCE, FAILED,
     "Access token expired: fetch a new token and retry once."},
    {0, 603, MKTO_OP_ANY, GRPC_STATUS_PERMISSION_DENIED, MKTO_ACTION_FAIL, FAILED,
     "Access denied: the API user's role lacks the permission."},
    {0, 604, MKTO_OP_ANY, U, MKTO_ACTION_RETRY, FAILED, "Request timed out: back off and retry."},
    {0, 605, MKTO_OP_ANY, GRPC_STATUS_INTERNAL, MKTO_ACTION_FAIL, FAILED,
     "HTTP method not supported (a connector bug)."},
    {0, 606, MKTO_OP_ANY, U, MKTO_ACTION_RETRY, FAILED,
     "Rate limit (100 calls / 20 s per instance): back off and retry."},
    {0, 607, MKTO_OP_ANY, GRPC_STATUS_RESOURCE_EXHAUSTED, MKTO_ACTION_WAIT_QUOTA, FAILED,
     "Daily quota reached: refuse work until midnight US Central time."},
    {0, 608, MKTO_OP_ANY, U, MKTO_ACTION_RETRY, FAILED,
     "API temporarily unavailable: back off and retry."},
    {0, 609, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED, "Invalid JSON in the request body."},
    {0, 610, MKTO_OP_ANY, GRPC_STATUS_NOT_FOUND, MKTO_ACTION_FAIL, FAILED,
     "Requested resource not found."},
    {0, 611, MKTO_OP_ANY, U, MKTO_ACTION_RETRY, FAILED, "System error: back off and retry."},
    {0, 612, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED, "Invalid content type."},
    {0, 613, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED, "Invalid multipart request."},
    {0, 614, MKTO_OP_ANY, FP, MKTO_ACTION_FAIL, FAILED,
     "Invalid subscription: check the Munchkin id / endpoint."},
    {0, 615, MKTO_OP_ANY, U, MKTO_ACTION_RETRY, FAILED,
     "Concurrency limit (10 calls at once per instance): back off and retry."},
    {0, 616, MKTO_OP_ANY, FP, MKTO_ACTION_FAIL, FAILED, "Subscription type has no API access."},
    {0, MKTO_CLASS_6XX, MKTO_OP_ANY, GRPC_STATUS_UNKNOWN, MKTO_ACTION_FAIL, FAILED,
     "Other 6xx: request not executed."},
    {0, 701, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED, "A required parameter is blank."},
    {0, 702, MKTO_OP_ANY, GRPC_STATUS_NOT_FOUND, MKTO_ACTION_FAIL, FAILED,
     "No data found for the given search."},
    {0, 703, MKTO_OP_ANY, FP, MKTO_ACTION_FAIL, FAILED,
     "Feature not enabled for this subscription."},
    {0, 704, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED, "Invalid date format."},
    {0, 709, MKTO_OP_ANY, FP, MKTO_ACTION_FAIL, FAILED, "Business rule violation."},
    {0, 710, MKTO_OP_ANY, GRPC_STATUS_NOT_FOUND, MKTO_ACTION_FAIL, FAILED,
     "Parent folder not found."},
    {0, 711, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED, "Incompatible folder type."},
    {0, 713, MKTO_OP_ANY, U, MKTO_ACTION_RETRY, FAILED, "Transient error: back off and retry."},
    {0, 714, MKTO_OP_ANY, FP, MKTO_ACTION_FAIL, FAILED, "Default record type not found."},
    {0, 719, MKTO_OP_ANY, U, MKTO_ACTION_RETRY, FAILED, "Lock wait timeout: back off and retry."},
    {0, MKTO_CLASS_7XX, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED,
     "Other 7xx: a parameter was rejected."},
    /* Record-level reasons (and the few 1xxx codes that fail a whole request). */
    {0, 1003, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED,
     "Invalid data. \"Total membership size ... exceeds the limit\" on a full member read "
     "(program over 100,000 members) is not an error: the read goes through a bulk export."},
    {0, 1004, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED, "Lead not found."},
    {0, 1005, MKTO_OP_ANY, GRPC_STATUS_ALREADY_EXISTS, MKTO_ACTION_FAIL, SKIPPED,
     "Already exists: nothing to create."},
    {0, 1006, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED, "Field not found."},
    {0, 1007, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED, "Several leads match the lookup."},
    {0, 1013, MKTO_OP_REMOVE, GRPC_STATUS_NOT_FOUND, MKTO_ACTION_FAIL, SKIPPED,
     "Not a member of the program: nothing to remove."},
    {0, 1013, MKTO_OP_ANY, GRPC_STATUS_NOT_FOUND, MKTO_ACTION_FAIL, FAILED, "Object not found."},
    {0, 1025, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED,
     "Program status not found in the program's channel."},
    {0, 1029, MKTO_OP_ANY, GRPC_STATUS_RESOURCE_EXHAUSTED, MKTO_ACTION_FAIL, FAILED,
     "Bulk export queue full (10 queued) or daily export quota (500 MB) used up: retry later."},
    {0, 1035, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED, "Unsupported filter type."},
    {0, 1036, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, SKIPPED,
     "Duplicate in the same request: the first copy was processed."},
    {0, 1037, MKTO_OP_ANY, FP, MKTO_ACTION_FAIL, SKIPPED,
     "Already in or past this status (progression only moves forward)."},
    {0, MKTO_CLASS_1XXX, MKTO_OP_ANY, IA, MKTO_ACTION_FAIL, FAILED,
     "Other 1xxx: the record was refused."},
};
#undef U
#undef IA
#undef FP

const mkto_error_rule *mkto_error_rules(size_t *n)
{
    *n = sizeof rules / sizeof rules[0];
    return rules;
}

static const mkto_error_rule *find_code(int code, mkto_op op)
{
    size_t n = sizeof rules / sizeof rules[0];
    for (size_t i = 0; i < n; i++)
        if (rules[i].http_status == 0 && rules[i].code == code && rules[i].op == op)
            return &rules[i];
    return NULL;
}

const mkto_error_rule *mkto_error_classify(int code)
{
    const mkto_error_rule *r = find_code(code, MKTO_OP_ANY);
    if (r)
        return r;
    int cls = code >= 600 && code < 700   ? MKTO_CLASS_6XX
              : code >= 700 && code < 800 ? MKTO_CLASS_7XX
                                          : MKTO_CLASS_1XXX;
    return find_code(cls, MKTO_OP_ANY);
}

const mkto_error_rule *mkto_http_classify(int http_status)
{
    size_t n = sizeof rules / sizeof rules[0];
    int key = http_status <= 0 ? -1 : (http_status >= 500 && http_status < 600) ? -5 : -4;
    for (size_t i = 0; i < n; i++)
        if (http_status > 0 && rules[i].http_status == http_status)
            return &rules[i];
    for (size_t i = 0; i < n; i++)
        if (rules[i].http_status == key)
            return &rules[i];
    return &rules[0];
}

Campsync__V1__Outcome mkto_record_outcome(mkto_op op, int code)
{
    const mkto_error_rule *r = op != MKTO_OP_ANY ? find_code(code, op) : NULL;
    if (!r)
        r = find_code(code, MKTO_OP_ANY);
    return r ? r->outcome : CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED;
}

void mkto_status_message(int code, const char *message, char *buf, size_t n)
{
    if (n == 0)
        return;
    snprintf(buf, n, "marketo %d: %s", code, message && *message ? message : "(no message)");
}

/* ---- the daily quota reset ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t year_of_day(int64_t days)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* Day number of the n-th Sunday (n >= 1) of month m of year y. */
static int64_t nth_sunday(int64_t y, int m, int n)
{
    int64_t first = days_from_civil(y, m, 1);
    int64_t wd = ((first + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday; 0 = Sunday */
    return first + (7 - wd) % 7 + 7 * (n - 1);
}

/* US daylight saving time in Chicago at UTC second t (rules since 2007). */
static bool chicago_dst(int64_t t)
{
    int64_t y = year_of_day(floor_div(t, 86400));
    int64_t start = nth_sunday(y, 3, 2) * 86400 + 8 * 3600; /* 02:00 CST */
    int64_t end = nth_sunday(y, 11, 1) * 86400 + 7 * 3600;  /* 02:00 CDT */
    return t >= start && t < end;
}

int64_t mkto_quota_reset_ms(int64_t now_ms)
{
    int64_t t = floor_div(now_ms, 1000);
    int64_t local = t + (chicago_dst(t) ? -5 : -6) * 3600;
    int64_t next_midnight_local = (floor_div(local, 86400) + 1) * 86400;
    /* Transitions happen at 02:00 local, so midnight's offset is unambiguous. */
    int64_t utc = next_midnight_local + 6 * 3600;
    if (chicago_dst(utc))
        utc -= 3600;
    return utc * 1000;
}

/* ---- documentation ---- */

static const char *action_text(mkto_action a)
{
    switch (a) {
    case MKTO_ACTION_REAUTH_ONCE:
        return "new token, retry once";
    case MKTO_ACTION_RETRY:
        return "retry with backoff";
    case MKTO_ACTION_WAIT_QUOTA:
        return "refuse until quota reset";
    case MKTO_ACTION_USE_POST:
        return "resend as POST (_method=GET)";
    case MKTO_ACTION_FAIL:
        break;
    }
    return "fail";
}

static const char *op_text(mkto_op op)
{
    switch (op) {
    case MKTO_OP_STATUS:
        return "status change";
    case MKTO_OP_REMOVE:
        return "remove members";
    case MKTO_OP_UPSERT:
        return "lead upsert";
    case MKTO_OP_ANY:
        break;
    }
    return "any";
}

char *mkto_errors_markdown(void)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fputs("# Marketo errors and what the connector does\n\n"
          "Generated from the table in `mkto_errors.c` (`mkto_errors_markdown()`); the\n"
          "unit test `test_mkto_errors` fails when this file and the table differ.\n"
          "Marketo answers with HTTP 200 and codes in the body: request-level codes\n"
          "in `errors` (the gRPC status applies once the connector gives up; the\n"
          "message reads `marketo <code>: <Marketo's message>`), and record-level\n"
          "reasons inside each result (the last column: one record's outcome, never\n"
          "a failed call). A row for a specific operation wins over an `any` row.\n"
          "The daily quota (607) resets at midnight US Central time\n"
          "(America/Chicago).\n\n"
          "A full `StreamProgramMembers` read of a program over 100,000 members (Marketo's\n"
          "1003) runs a Bulk Program Member Extract job (`mkto_bulk.c`): each\n"
          "step is a counted call under the same budget, and its failures map to:\n"
          "1029 at create or enqueue -> RESOURCE_EXHAUSTED (the bulk export queue or\n"
          "daily export quota is full); job `Failed` -> UNAVAILABLE with Marketo's\n"
          "`errorMsg`; job `Cancelled` in Marketo -> ABORTED; not `Completed` before the\n"
          "call's deadline -> DEADLINE_EXCEEDED (the job is cancelled); the caller went\n"
          "away -> the job is cancelled; an unreadable file, or one whose row count\n"
          "differs from `numberOfRecords` -> UNAVAILABLE.\n\n"
          "| HTTP / code | Operation | gRPC status | Action | Record outcome | Meaning |\n"
          "|---|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const mkto_error_rule *r = &rules[i];
        char key[32];
        if (r->http_status == -1)
            snprintf(key, sizeof key, "no HTTP answer");
        else if (r->http_status == -5)
            snprintf(key, sizeof key, "HTTP other 5xx");
        else if (r->http_status == -4)
            snprintf(key, sizeof key, "HTTP other 4xx");
        else if (r->http_status > 0)
            snprintf(key, sizeof key, "HTTP %d", r->http_status);
        else if (r->code == MKTO_CLASS_6XX)
            snprintf(key, sizeof key, "other 6xx");
        else if (r->code == MKTO_CLASS_7XX)
            snprintf(key, sizeof key, "other 7xx");
        else if (r->code == MKTO_CLASS_1XXX)
            snprintf(key, sizeof key, "other 1xxx");
        else
            snprintf(key, sizeof key, "%d", r->code);
        fprintf(f, "| %s | %s | %s | %s | %s | %s |\n", key, op_text(r->op),
                rpc_status_name(r->status), action_text(r->action),
                r->outcome == SKIPPED ? "SKIPPED" : "FAILED", r->why);
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
