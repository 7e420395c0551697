/*
 * The Bulk Program Member Extract job behind large-program reads (see
 * mkto_bulk.h for why it exists). Endpoints, as Adobe documents them:
 *   POST /bulk/v1/program/members/export/create.json
 *        {"fields":[..],"format":"CSV","filter":{"programId":N}}
 *   POST /bulk/v1/program/members/export/{exportId}/enqueue.json
 *   GET  /bulk/v1/program/members/export/{exportId}/status.json
 *        status Created | Queued | Processing | Completed | Failed | Cancelled,
 *        numberOfRecords, fileSize, errorMsg
 *   GET  /bulk/v1/program/members/export/{exportId}/file.json   (the CSV)
 *   POST /bulk/v1/program/members/export/{exportId}/cancel.json
 * 1029 answers a full queue (10 queued, 2 processing per subscription) and
 * the daily export quota (500 MB).
 */
#include "mkto_bulk.h"

#include <grpc/status.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"
#include "log/log.h"
#include "mkto_csv.h"
#include "mkto_json.h"

#define EXPORT_PATH "/bulk/v1/program/members/export"
#define EP_CREATE "POST /bulk/v1/program/members/export/create.json"
#define EP_ENQUEUE "POST /bulk/v1/program/members/export/{exportId}/enqueue.json"
#define EP_STATUS "GET /bulk/v1/program/members/export/{exportId}/status.json"
#define EP_FILE "GET /bulk/v1/program/members/export/{exportId}/file.json"
#define EP_CANCEL "POST /bulk/v1/program/members/export/{exportId}/cancel.json"
/* The file is bounded by Marketo's daily export quota (500 MB); the whole
 * file is held in memory while it is read. */
#define MAX_FILE_BYTES ((size_t)512 * 1024 * 1024)
/* Time a clean-up cancel may take once the caller's own time is gone. */
#define CANCEL_MS 10000
/* Downloads of one file before giving up on a size that never matches. */
#define FILE_ATTEMPTS 3
/* How often a wait between polls looks for a caller that went away. */
#define SLICE_MS 100

/* The fields the paged read asks members.json for, so both paths fill the
 * same ProgramMember fields. */
static const char *const export_fields[] = {"leadId", "statusName", "reachedSuccess",
                                            "membershipDate", "updatedAt"};

bool mkto_bulk_needed(const mkto_failure *f)
{
    return f->vendor_code == 1003 && strstr(f->msg, "Total membership size") &&
           strstr(f->msg, "exceeds the limit");
}

static int cancelled(const mkto_ctx *ctx)
{
    return ctx->cancelled && ctx->cancelled(ctx->ud);
}

/* 1029 says the queue or the export quota is full: say so plainly. */
static int bulk_fail(mkto_failure *f, const char *step, int64_t program_id)
{
    if (f->vendor_code == 1029) {
        char was[sizeof f->msg];
        snprintf(was, sizeof was, "%s", f->msg);
        mkto_fail(f, GRPC_STATUS_RESOURCE_EXHAUSTED,
                  "program %lld has over 100,000 members and needs a Marketo bulk export, but "
                  "the bulk export queue or the daily export quota is full (%s at %s); retry "
                  "later",
                  (long long)program_id, was, step);
        f->vendor_code = 1029;
    }
    return f->code;
}

/* The job in a create/enqueue/status answer: its id and status. */
static int read_job(const mkto_envelope *env, char *id, size_t id_n, const char **status,
                    json_t **job, mkto_failure *f)
{
    *job = json_array_get(env->result, 0);
    const char *xid = json_string_value(json_object_get(*job, "exportId"));
    *status = json_string_value(json_object_get(*job, "status"));
    size_t len = xid ? strlen(xid) : 0;
    if (!xid || len == 0 || len >= id_n || strspn(xid, "0123456789abcdefABCDEF-") != len)
        return mkto_fail(f, GRPC_STATUS_UNAVAILABLE,
                         "marketo bulk export answer unreadable: no usable exportId");
    if (!*status)
        return mkto_fail(f, GRPC_STATUS_UNAVAILABLE,
                         "marketo bulk export answer unreadable: no status");
    memcpy(id, xid, len + 1);
    return 0;
}

static int job_call(mkto_client *c, const mkto_ctx *ctx, const char *id, const char *action,
                    const char *endpoint, bool post, mkto_envelope *env, mkto_failure *f)
{
    char path[160];
    snprintf(path, sizeof path, EXPORT_PATH "/%s/%s.json", id, action);
    /* An empty body makes mkto_client send a POST (these take none). */
    return mkto_client_call(c, ctx, path, NULL, post ? "" : NULL, endpoint, env, f);
}

/* Best effort: the job is not needed any more. */
static void cancel_job(mkto_client *c, const char *id, int64_t program_id)
{
    mkto_ctx cx = {.deadline_ms = http_now_ms() + CANCEL_MS};
    mkto_envelope env;
    mkto_failure f = {0};
    if (job_call(c, &cx, id, "cancel", EP_CANCEL, true, &env, &f) == 0) {
        mkto_envelope_clear(&env);
        log_kv(LOG_INFO, "marketo bulk export cancelled", "export_id", id, NULL);
        return;
    }
    char pid[24];
    snprintf(pid, sizeof pid, "%lld", (long long)program_id);
    log_kv(LOG_WARN, "marketo bulk export not cancelled", "export_id", id, "program_id", pid, "why",
           f.msg, NULL);
}

/* Sleeps ms in slices, watching the caller. -1 when it went away. */
static int wait_ms(const mkto_ctx *ctx, int64_t ms)
{
    int64_t until = http_now_ms() + ms;
    for (;;) {
        if (cancelled(ctx))
            return -1;
        int64_t left = until - http_now_ms();
        if (left <= 0)
            return 0;
        int64_t step = left < SLICE_MS ? left : SLICE_MS;
        struct timespec ts = {.tv_sec = step / 1000, .tv_nsec = (step % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
}

static int create_job(mkto_client *c, const mkto_ctx *ctx, int64_t program_id, char *id,
                      size_t id_n, mkto_failure *f)
{
    json_t *fields = json_array();
    for (size_t i = 0; i < sizeof export_fields / sizeof export_fields[0]; i++)
        json_array_append_new(fields, json_string(export_fields[i]));
    json_t *body = json_pack("{s:o,s:s,s:{s:I}}", "fields", fields, "format", "CSV", "filter",
                             "programId", (json_int_t)program_id);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return mkto_fail(f, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    mkto_envelope env;
    int rc = mkto_client_call(c, ctx, EXPORT_PATH "/create.json", NULL, text, EP_CREATE, &env, f);
    free(text);
    if (rc != 0)
        return bulk_fail(f, "create", program_id);
    const char *status;
    json_t *job;
    rc = read_job(&env, id, id_n, &status, &job, f);
    mkto_envelope_clear(&env);
    return rc;
}

/* Polls until the job is Completed; *records and *bytes from its status. */
static int await_job(mkto_client *c, const mkto_ctx *ctx, const mkto_bulk_opts *o,
                     int64_t program_id, const char *id, mkto_bulk_stats *st, int64_t *records,
                     bool *ended, mkto_failure *f)
{
    *ended = false;
    int64_t wait = o->poll_first_ms;
    char last[24] = "Queued";
    for (;;) {
        if (http_now_ms() + wait >= ctx->deadline_ms)
            return mkto_fail(f, GRPC_STATUS_DEADLINE_EXCEEDED,
                             "marketo bulk export %s of program %lld still %s when the call's "
                             "deadline came (%d status polls); give the call more time",
                             id, (long long)program_id, last, st->polls);
        if (wait_ms(ctx, wait) != 0)
            return mkto_fail(f, GRPC_STATUS_CANCELLED, "the client went away");
        mkto_envelope env;
        int rc = job_call(c, ctx, id, "status", EP_STATUS, false, &env, f);
        st->polls++;
        if (rc != 0)
            return rc;
        char xid[64];
        const char *status;
        json_t *job;
        rc = read_job(&env, xid, sizeof xid, &status, &job, f);
        if (rc == 0 && strcmp(status, "Completed") == 0) {
            *records = json_integer_value(json_object_get(job, "numberOfRecords"));
            st->file_bytes = json_integer_value(json_object_get(job, "fileSize"));
        } else if (rc == 0 && strcmp(status, "Failed") == 0) {
            const char *why = json_string_value(json_object_get(job, "errorMsg"));
            *ended = true;
            rc = mkto_fail(f, GRPC_STATUS_UNAVAILABLE,
                           "marketo bulk export %s of program %lld failed in Marketo: %s; the "
                           "next read starts a new export",
                           id, (long long)program_id, why && *why ? why : "no errorMsg given");
        } else if (rc == 0 && strcmp(status, "Cancelled") == 0) {
            *ended = true;
            rc = mkto_fail(f, GRPC_STATUS_ABORTED,
                           "marketo bulk export %s of program %lld was cancelled in Marketo; "
                           "retry the read",
                           id, (long long)program_id);
        } else if (rc == 0 && strcmp(status, "Created") != 0 && strcmp(status, "Queued") != 0 &&
                   strcmp(status, "Processing") != 0) {
            rc = mkto_fail(f, GRPC_STATUS_UNAVAILABLE,
                           "marketo bulk export %s answered an unknown status '%.40s'", id, status);
        } else if (rc == 0) {
            snprintf(last, sizeof last, "%s", status);
            mkto_envelope_clear(&env);
            wait = wait * 2 > o->poll_max_ms ? o->poll_max_ms : wait * 2;
            continue;
        }
        mkto_envelope_clear(&env);
        return rc;
    }
}

typedef struct {
    int (*page_fn)(void *ud, Campsync__V1__ProgramMemberPage *page);
    void *ud;
    int stopped;
} relay;

static int relay_page(void *ud, Campsync__V1__ProgramMemberPage *page)
{
    relay *r = ud;
    int rc = r->page_fn(r->ud, page);
    if (rc != 0)
        r->stopped = 1;
    return rc;
}

int mkto_bulk_members(mkto_client *c, const mkto_ctx *ctx, int64_t program_id,
                      const mkto_bulk_opts *o,
                      int (*page_fn)(void *ud, Campsync__V1__ProgramMemberPage *page), void *ud,
                      mkto_bulk_stats *st, mkto_failure *f)
{
    memset(st, 0, sizeof *st);
    char id[64];
    int rc = create_job(c, ctx, program_id, id, sizeof id, f);
    if (rc != 0)
        return rc;
    snprintf(st->export_id, sizeof st->export_id, "%s", id);
    mkto_envelope env;
    rc = job_call(c, ctx, id, "enqueue", EP_ENQUEUE, true, &env, f);
    if (rc != 0) {
        bulk_fail(f, "enqueue", program_id);
        cancel_job(c, id, program_id);
        return rc;
    }
    mkto_envelope_clear(&env);
    char pid[24];
    snprintf(pid, sizeof pid, "%lld", (long long)program_id);
    log_kv(LOG_INFO, "marketo bulk export queued", "export_id", id, "program_id", pid, NULL);
    int64_t records = 0;
    bool ended = false;
    rc = await_job(c, ctx, o, program_id, id, st, &records, &ended, f);
    if (rc != 0 && !ended)
        cancel_job(c, id, program_id);
    if (rc != 0)
        return rc;
    char path[160];
    snprintf(path, sizeof path, EXPORT_PATH "/%s/file.json", id);
    char *file = NULL;
    size_t len = 0;
    /* A file shorter or longer than the status said was cut or mangled on
     * the way: fetch it again (the job keeps it) rather than read half. */
    for (int attempt = 1;; attempt++) {
        rc = mkto_client_download(c, ctx, path, EP_FILE, MAX_FILE_BYTES, &file, &len, f);
        if (rc != 0)
            return rc;
        if (st->file_bytes <= 0 || (int64_t)len == st->file_bytes)
            break;
        free(file);
        file = NULL;
        if (attempt == FILE_ATTEMPTS)
            return mkto_fail(f, GRPC_STATUS_UNAVAILABLE,
                             "marketo bulk export %s: the file came with %zu bytes where its "
                             "status said %lld, %d times",
                             id, len, (long long)st->file_bytes, attempt);
        log_kv(LOG_WARN, "marketo bulk export file size differs from its status; fetched again",
               "export_id", id, NULL);
    }
    relay r = {.page_fn = page_fn, .ud = ud};
    mkto_err me = {{0}};
    size_t rows = 0;
    rc = mkto_members_csv(file, len, ',', o->page_size, relay_page, &r, &rows, &me);
    free(file);
    st->records = (int64_t)rows;
    if (r.stopped)
        return mkto_fail(f, GRPC_STATUS_CANCELLED, "the client went away");
    if (rc != 0)
        return mkto_fail(f, GRPC_STATUS_UNAVAILABLE, "marketo bulk export %s file unreadable: %s",
                         id, me.msg);
    if ((int64_t)rows != records)
        return mkto_fail(f, GRPC_STATUS_UNAVAILABLE,
                         "marketo bulk export %s: the file holds %zu members where its status "
                         "said %lld; the read is incomplete",
                         id, rows, (long long)records);
    return 0;
}
