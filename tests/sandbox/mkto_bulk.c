/*
 * Marketo simulator: the Bulk Program Member Extract jobs. Marketo refuses
 * every program-member query filter but leadId on a program of more than
 * 100,000 members; its documented way to read such a program is this bulk
 * API, so the connector falls back to it and the sandbox must play it:
 *
 *   create.json   a job (fields, filter.programId, format CSV|TSV|SSV): Created
 *   enqueue.json  Created -> Queued (at most max_queued Queued: 1029)
 *   status.json   Queued -> Processing (at most max_processing at once) ->
 *                 Completed after processing_ms, or Failed when told to
 *   file.json     the file of a Completed job: a header row, one row per
 *                 member, fields quoted per RFC 4180 when they need it
 *   cancel.json   Created/Queued/Processing -> Cancelled
 *
 * Jobs move only when a bulk endpoint is called (the sandbox has no timer):
 * each call first completes the Processing jobs whose time is up, then starts
 * Queued jobs in queue order while a processing slot is free. So a client
 * always sees Queued, then Processing, then Completed, deterministically for
 * a given sandbox clock. The member list is read when the job starts
 * processing, as Marketo documents ("members of the program at the time the
 * job begins processing").
 *
 * Limits as documented for the bulk extract queue (shared with leads,
 * activities and custom objects in Marketo; only program members here):
 * 10 jobs queued, 2 processing, 500 MB of files a day (counted when a job
 * completes; the day ends at midnight US Central like the call quota); the
 * queue and the quota both answer 1029. Where the documentation names no
 * code (unknown exportId, file or cancel in the wrong state) the simulator
 * answers 1003 with a message saying what is wrong, and enqueueing a job
 * twice answers 1029 "Job already queued".
 *
 * Every function here expects the caller to hold s->mu.
 */
#include "mkto_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BULK_DEFAULT_PROCESSING_MS 1000
#define BULK_MAX_QUEUED 10
#define BULK_MAX_PROCESSING 2
#define BULK_DAILY_BYTES (500LL * 1024 * 1024)
#define BULK_MAX_FIELDS 64

static const char *const status_names[] = {"Created",   "Queued", "Processing",
                                           "Completed", "Failed", "Cancelled"};

/* Program member fields a job may export (lead fields are added through
 * mkto_field_index). */
static const char *const pm_fields[] = {
    "leadId",      "programId",    "statusName", "reachedSuccess",     "membershipDate",
    "updatedAt",   "createdAt",    "acquiredBy", "reachedSuccessDate", "program",
    "isExhausted", "statusReason", NULL};

void mkto_bulk_init(mkto_state *s)
{
    s->bulk_processing_ms = BULK_DEFAULT_PROCESSING_MS;
    s->bulk_max_queued = BULK_MAX_QUEUED;
    s->bulk_max_processing = BULK_MAX_PROCESSING;
    s->bulk_daily_bytes = BULK_DAILY_BYTES;
}

static void export_free(mkto_export *x)
{
    for (size_t i = 0; i < x->n_fields; i++)
        free(x->fields[i]);
    free(x->fields);
    free(x->file);
    free(x->error_msg);
    free(x->fail_msg);
}

void mkto_bulk_free(mkto_state *s)
{
    for (size_t i = 0; i < s->n_exports; i++)
        export_free(&s->exports[i]);
    free(s->exports);
    free(s->bulk_fail_next);
    s->exports = NULL;
    s->n_exports = s->cap_exports = 0;
    s->bulk_fail_next = NULL;
}

static int set_err(mkto_bulk_err *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_err(mkto_bulk_err *e, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    mkto_ascii(e->msg);
    snprintf(e->code, sizeof e->code, "%s", code);
    return -1;
}

/* ---- the daily export quota ---- */

static void roll_day(mkto_state *s, int64_t now)
{
    const int64_t day = 86400000LL, cst = 6 * 3600000LL;
    int64_t start = ((now - cst) / day) * day + cst;
    if (start != s->bulk_day_start_ms) {
        s->bulk_day_start_ms = start;
        s->bulk_day_bytes = 0;
    }
}

static int quota_left(mkto_state *s, int64_t now, mkto_bulk_err *e)
{
    roll_day(s, now);
    if (s->bulk_daily_bytes > 0 && s->bulk_day_bytes >= s->bulk_daily_bytes)
        return set_err(e, "1029", "Export daily quota exceeded");
    return 0;
}

/* ---- the file ---- */

static void csv_value(sbx_buf *b, const char *v, char sep)
{
    if (!v)
        return;
    int quote = 0;
    for (const char *p = v; *p && !quote; p++)
        quote = *p == sep || *p == '"' || *p == '\r' || *p == '\n';
    if (!quote) {
        sbx_buf_str(b, v);
        return;
    }
    sbx_buf_str(b, "\"");
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            sbx_buf_str(b, "\"\"");
        else
            sbx_buf_add(b, p, 1);
    }
    sbx_buf_str(b, "\"");
}

static void member_value(mkto_state *s, const mkto_program *p, const mkto_member *m, const char *f,
                         char *out, size_t n, const char **v)
{
    const mkto_channel *ch = mkto_program_channel(s, p);
    *v = out;
    out[0] = '\0';
    if (strcmp(f, "leadId") == 0) {
        snprintf(out, n, "%lld", (long long)m->lead_id);
    } else if (strcmp(f, "programId") == 0) {
        snprintf(out, n, "%lld", (long long)p->id);
    } else if (strcmp(f, "statusName") == 0) {
        *v = ch ? ch->st[m->st].name : "";
    } else if (strcmp(f, "reachedSuccess") == 0) {
        *v = m->reached_success ? "true" : "false";
    } else if (strcmp(f, "acquiredBy") == 0) {
        *v = m->acquired_by ? "true" : "false";
    } else if (strcmp(f, "isExhausted") == 0) {
        *v = "false";
    } else if (strcmp(f, "membershipDate") == 0) {
        sbx_format_time_iso(m->membership_ms, out, n);
    } else if (strcmp(f, "updatedAt") == 0) {
        sbx_format_time_iso(m->updated_ms, out, n);
    } else if (strcmp(f, "createdAt") == 0) {
        sbx_format_time_iso(m->created_ms, out, n);
    } else if (strcmp(f, "reachedSuccessDate") == 0) {
        if (m->reached_success)
            sbx_format_time_iso(m->success_ms, out, n);
    } else if (strcmp(f, "program") == 0) {
        *v = p->name;
    } else {
        int lf = mkto_field_index(f);
        mkto_lead *l = lf >= 0 ? mkto_lead_get(s, m->lead_id) : NULL;
        *v = l && l->f[lf] ? l->f[lf] : "";
    }
}

/* Writes the job's file from the program's members now. 0 or -1 (OOM). */
static int build_file(mkto_state *s, mkto_export *x)
{
    mkto_program *p = mkto_program_get(s, x->program_id);
    sbx_buf b = {0};
    for (size_t i = 0; i < x->n_fields; i++) {
        if (i)
            sbx_buf_add(&b, &x->sep, 1);
        csv_value(&b, x->fields[i], x->sep);
    }
    sbx_buf_str(&b, "\n");
    size_t rows = 0;
    for (size_t k = 0; p && k < p->n_m; k++) {
        for (size_t i = 0; i < x->n_fields; i++) {
            char buf[48];
            const char *v;
            member_value(s, p, &p->m[k], x->fields[i], buf, sizeof buf, &v);
            if (i)
                sbx_buf_add(&b, &x->sep, 1);
            csv_value(&b, v, x->sep);
        }
        sbx_buf_str(&b, "\n");
        rows++;
    }
    if (b.oom) {
        free(b.p);
        return -1;
    }
    x->file = b.p;
    x->file_len = b.len;
    x->n_records = (int64_t)rows;
    return 0;
}

/* ---- the queue ---- */

void mkto_bulk_advance(mkto_state *s, int64_t now)
{
    roll_day(s, now);
    int processing = 0;
    for (size_t i = 0; i < s->n_exports; i++) {
        mkto_export *x = &s->exports[i];
        if (x->status != MKTO_EXPORT_PROCESSING)
            continue;
        if (now < x->started_ms + s->bulk_processing_ms) {
            processing++;
            continue;
        }
        x->finished_ms = now;
        if (x->fail_msg) {
            x->status = MKTO_EXPORT_FAILED;
            x->error_msg = x->fail_msg;
            x->fail_msg = NULL;
            free(x->file);
            x->file = NULL;
            x->file_len = 0;
            x->n_records = 0;
        } else {
            x->status = MKTO_EXPORT_COMPLETED;
            s->bulk_day_bytes += (int64_t)x->file_len;
        }
    }
    while (processing < s->bulk_max_processing) {
        mkto_export *next = NULL;
        for (size_t i = 0; i < s->n_exports; i++) {
            mkto_export *x = &s->exports[i];
            if (x->status == MKTO_EXPORT_QUEUED && (!next || x->queued_seq < next->queued_seq))
                next = x;
        }
        if (!next)
            break;
        next->status = MKTO_EXPORT_PROCESSING;
        next->started_ms = now;
        processing++;
        if (s->bulk_fail_next) {
            next->fail_msg = s->bulk_fail_next;
            s->bulk_fail_next = NULL;
        } else if (build_file(s, next) != 0) {
            next->fail_msg = strdup("Out of memory while writing the export file");
        }
    }
}

static mkto_export *find(mkto_state *s, const char *id, mkto_bulk_err *e)
{
    for (size_t i = 0; i < s->n_exports; i++)
        if (strcmp(s->exports[i].id, id) == 0)
            return &s->exports[i];
    set_err(e, "1003", "Export job '%.60s' not found", id);
    return NULL;
}

static json_t *job_json(const mkto_export *x)
{
    char t[48];
    sbx_format_time_iso(x->created_ms, t, sizeof t);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "exportId", x->id, "format", x->format, "status",
                          status_names[x->status], "createdAt", t);
    if (x->queued_ms) {
        sbx_format_time_iso(x->queued_ms, t, sizeof t);
        json_object_set_new(o, "queuedAt", json_string(t));
    }
    if (x->started_ms) {
        sbx_format_time_iso(x->started_ms, t, sizeof t);
        json_object_set_new(o, "startedAt", json_string(t));
    }
    if (x->finished_ms) {
        sbx_format_time_iso(x->finished_ms, t, sizeof t);
        json_object_set_new(o, "finishedAt", json_string(t));
    }
    if (x->status == MKTO_EXPORT_COMPLETED) {
        json_object_set_new(o, "numberOfRecords", json_integer(x->n_records));
        json_object_set_new(o, "fileSize", json_integer((json_int_t)x->file_len));
    }
    if (x->error_msg)
        json_object_set_new(o, "errorMsg", json_string(x->error_msg));
    return o;
}

/* ---- endpoints ---- */

static int field_known(const char *f)
{
    for (int i = 0; pm_fields[i]; i++)
        if (strcmp(pm_fields[i], f) == 0)
            return 1;
    return mkto_field_index(f) >= 0;
}

json_t *mkto_export_create(mkto_state *s, json_t *body, int64_t now, mkto_bulk_err *e)
{
    mkto_bulk_advance(s, now);
    json_t *fields = json_object_get(body, "fields");
    json_t *filter = json_object_get(body, "filter");
    json_t *fmt = json_object_get(body, "format");
    if (!json_is_array(fields) || json_array_size(fields) == 0) {
        set_err(e, "701", "fields cannot be blank");
        return NULL;
    }
    if (json_array_size(fields) > BULK_MAX_FIELDS) {
        set_err(e, "1003", "At most %d fields can be exported", BULK_MAX_FIELDS);
        return NULL;
    }
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        if (!json_is_string(f) || !field_known(json_string_value(f))) {
            set_err(e, "1006", "Field '%.80s' not found",
                    json_is_string(f) ? json_string_value(f) : "(not a string)");
            return NULL;
        }
    }
    json_t *pid = json_object_get(filter, "programId");
    if (!json_is_object(filter) || !pid) {
        set_err(e, "701", "filter.programId cannot be blank");
        return NULL;
    }
    if (!json_is_integer(pid)) {
        set_err(e, "1003", "filter.programId must be an integer");
        return NULL;
    }
    if (json_object_size(filter) != 1) {
        set_err(e, "1035", "Unsupported filter type for target subscription: only programId is");
        return NULL;
    }
    if (!mkto_program_get(s, json_integer_value(pid))) {
        set_err(e, "1013", "Program %lld not found", (long long)json_integer_value(pid));
        return NULL;
    }
    const char *format = fmt ? json_string_value(fmt) : "CSV";
    char sep;
    if (format && strcmp(format, "CSV") == 0)
        sep = ',';
    else if (format && strcmp(format, "TSV") == 0)
        sep = '\t';
    else if (format && strcmp(format, "SSV") == 0)
        sep = ' ';
    else {
        set_err(e, "1003", "Invalid format: use CSV, TSV or SSV");
        return NULL;
    }
    if (quota_left(s, now, e) != 0)
        return NULL;
    if (s->n_exports == s->cap_exports) {
        size_t cap = s->cap_exports ? s->cap_exports * 2 : 16;
        mkto_export *nx = realloc(s->exports, cap * sizeof *nx);
        if (!nx) {
            set_err(e, "611", "System error");
            return NULL;
        }
        s->exports = nx;
        s->cap_exports = cap;
    }
    mkto_export *x = &s->exports[s->n_exports];
    memset(x, 0, sizeof *x);
    x->fields = calloc(json_array_size(fields), sizeof *x->fields);
    if (!x->fields) {
        set_err(e, "611", "System error");
        return NULL;
    }
    json_array_foreach(fields, i, f)
    {
        if (!(x->fields[i] = strdup(json_string_value(f)))) {
            x->n_fields = i;
            export_free(x);
            set_err(e, "611", "System error");
            return NULL;
        }
    }
    x->n_fields = json_array_size(fields);
    s->bulk_seq++;
    snprintf(x->id, sizeof x->id, "%08llx-5bd1-4e2c-9a07-%012llx",
             (unsigned long long)(sbx_rng_next(&s->rng) & 0xffffffffULL),
             (unsigned long long)s->bulk_seq);
    snprintf(x->format, sizeof x->format, "%s", format);
    x->sep = sep;
    x->program_id = json_integer_value(pid);
    x->status = MKTO_EXPORT_CREATED;
    x->created_ms = now;
    s->n_exports++;
    return job_json(x);
}

json_t *mkto_export_enqueue(mkto_state *s, const char *id, int64_t now, mkto_bulk_err *e)
{
    mkto_bulk_advance(s, now);
    mkto_export *x = find(s, id, e);
    if (!x)
        return NULL;
    if (x->status != MKTO_EXPORT_CREATED) {
        set_err(e, "1029", "Job already queued");
        return NULL;
    }
    if (quota_left(s, now, e) != 0)
        return NULL;
    int queued = 0;
    for (size_t i = 0; i < s->n_exports; i++)
        queued += s->exports[i].status == MKTO_EXPORT_QUEUED;
    if (queued >= s->bulk_max_queued) {
        set_err(e, "1029", "Too many jobs (%d) in queue", queued);
        return NULL;
    }
    x->status = MKTO_EXPORT_QUEUED;
    x->queued_ms = now;
    x->queued_seq = ++s->bulk_seq;
    return job_json(x);
}

json_t *mkto_export_status(mkto_state *s, const char *id, int64_t now, mkto_bulk_err *e)
{
    mkto_bulk_advance(s, now);
    mkto_export *x = find(s, id, e);
    return x ? job_json(x) : NULL;
}

json_t *mkto_export_cancel(mkto_state *s, const char *id, int64_t now, mkto_bulk_err *e)
{
    mkto_bulk_advance(s, now);
    mkto_export *x = find(s, id, e);
    if (!x)
        return NULL;
    if (x->status >= MKTO_EXPORT_COMPLETED) {
        set_err(e, "1003", "Job is already %s and cannot be cancelled", status_names[x->status]);
        return NULL;
    }
    x->status = MKTO_EXPORT_CANCELLED;
    free(x->file);
    x->file = NULL;
    x->file_len = 0;
    return job_json(x);
}

const mkto_export *mkto_export_file(mkto_state *s, const char *id, int64_t now, mkto_bulk_err *e)
{
    mkto_bulk_advance(s, now);
    mkto_export *x = find(s, id, e);
    if (x && x->status != MKTO_EXPORT_COMPLETED) {
        set_err(e, "1003", "Job is %s: its file is available once it is Completed",
                status_names[x->status]);
        return NULL;
    }
    return x;
}

/* ---- admin ---- */

static int admin_int(json_t *body, const char *key, int64_t *dst, json_t **out)
{
    json_t *v = json_object_get(body, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        *out = json_pack("{s:s}", "error", "bulk settings must be non-negative integers");
        return -1;
    }
    *dst = json_integer_value(v);
    return 0;
}

int mkto_bulk_admin(mkto_state *s, json_t *body, int64_t now, json_t **out)
{
    int64_t pm = s->bulk_processing_ms, mq = s->bulk_max_queued, mp = s->bulk_max_processing,
            db = s->bulk_daily_bytes;
    if (admin_int(body, "processing_ms", &pm, out) || admin_int(body, "max_queued", &mq, out) ||
        admin_int(body, "max_processing", &mp, out) || admin_int(body, "daily_bytes", &db, out))
        return 400;
    json_t *fn = json_object_get(body, "fail_next");
    if (fn && !json_is_string(fn)) {
        *out = json_pack("{s:s}", "error", "'fail_next' must be the errorMsg to fail with");
        return 400;
    }
    s->bulk_processing_ms = pm;
    s->bulk_max_queued = mq;
    s->bulk_max_processing = mp;
    s->bulk_daily_bytes = db;
    if (fn) {
        free(s->bulk_fail_next);
        s->bulk_fail_next = strdup(json_string_value(fn));
    }
    mkto_bulk_advance(s, now);
    json_t *jobs = json_array();
    for (size_t i = 0; i < s->n_exports; i++) {
        json_t *j = job_json(&s->exports[i]);
        json_object_set_new(j, "programId", json_integer(s->exports[i].program_id));
        json_array_append_new(jobs, j);
    }
    *out = json_pack("{s:I,s:I,s:I,s:I,s:I,s:o}", "processing_ms", (json_int_t)pm, "max_queued",
                     (json_int_t)mq, "max_processing", (json_int_t)mp, "daily_bytes",
                     (json_int_t)db, "exported_today", (json_int_t)s->bulk_day_bytes, "jobs", jobs);
    return 200;
}
