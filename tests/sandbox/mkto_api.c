/*
 * Marketo simulator: the REST endpoints. Answers follow Adobe's Marketo REST
 * documentation: identity errors as HTTP 401 with an OAuth body; everything
 * else HTTP 200 with the {requestId, success, result, errors, moreResult,
 * nextPageToken} envelope (the asset API adds warnings and reports "nothing
 * found" as a warning, not an error); per-record results in request order.
 *
 * Order of checks on a REST call: route (label for call accounting), access
 * token (600/601/602), injected fault (608/713, 503, 606), concurrency (615),
 * 20-second window (606), daily quota (607); then the endpoint's own checks
 * (612 content type, 609 JSON, 701/1003 parameters). Rejected 6xx calls do not
 * use up the window or the quota; every other call does.
 */
#include "mkto_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_BATCH 300
#define MEMBER_FILTER_LIMIT 100000
#define ACTIVITY_SCAN_WINDOW 1000
#define SEVEN_DAYS_MS (7LL * 24 * 3600 * 1000)
#define NO_ASSETS "No assets found for the given search criteria."

typedef struct {
    mkto_state *s;
    const sbx_request *req;
    sbx_response *resp;
    int64_t now;
    int is_get; /* GET, or POST with _method=GET */
} ctx;

/* ---- envelopes ---- */

void mkto_ascii(char *msg)
{
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            *p = '?';
}

static json_t *env(ctx *c)
{
    char rid[48];
    c->s->request_seq++;
    snprintf(rid, sizeof rid, "%llx#%llx", (unsigned long long)(c->s->request_seq & 0xfffff),
             (unsigned long long)c->now);
    return json_pack("{s:s}", "requestId", rid);
}

static void reply_error(ctx *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_error(ctx *c, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mkto_ascii(msg);
    json_t *e = env(c);
    json_object_set_new(e, "success", json_false());
    json_object_set_new(e, "errors", json_pack("[{s:s,s:s}]", "code", code, "message", msg));
    sbx_respond_json(c->resp, 200, e);
}

static void reply_asset(ctx *c, json_t *result)
{
    json_t *e = json_pack("{s:b,s:[],s:[]}", "success", 1, "errors", "warnings");
    json_t *rid = env(c);
    json_object_update(e, rid);
    json_decref(rid);
    if (result && json_array_size(result) > 0) {
        json_object_set_new(e, "result", result);
    } else {
        json_decref(result);
        json_array_append_new(json_object_get(e, "warnings"), json_string(NO_ASSETS));
    }
    sbx_respond_json(c->resp, 200, e);
}

static void reply_asset_error(ctx *c, const char *code, const char *msg)
{
    json_t *e = json_pack("{s:b,s:[{s:s,s:s}],s:[]}", "success", 0, "errors", "code", code,
                          "message", msg, "warnings");
    json_t *rid = env(c);
    json_object_update(e, rid);
    json_decref(rid);
    sbx_respond_json(c->resp, 200, e);
}

/* more < 0: no moreResult member. */
static void reply_result(ctx *c, json_t *result, int more, const char *next)
{
    json_t *e = env(c);
    if (result)
        json_object_set_new(e, "result", result);
    json_object_set_new(e, "success", json_true());
    if (next)
        json_object_set_new(e, "nextPageToken", json_string(next));
    if (more >= 0)
        json_object_set_new(e, "moreResult", json_boolean(more));
    sbx_respond_json(c->resp, 200, e);
}

static json_t *skipped(int seq, const char *code, const char *msg)
{
    json_t *o = json_pack("{s:s,s:[{s:s,s:s}]}", "status", "skipped", "reasons", "code", code,
                          "message", msg);
    if (seq >= 0)
        json_object_set_new(o, "seq", json_integer(seq));
    return o;
}

/* ---- parameters ---- */

static const char *arg(ctx *c, const char *name)
{
    return c->req->arg(c->req, name);
}

static int parse_i64(const char *s, int64_t *out)
{
    if (!s)
        return -1;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* Splits a comma-separated list in place; returns the count (at most cap
 * stored, the full count returned). */
static size_t split_csv(char *s, char **out, size_t cap)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*t))
            t++;
        size_t len = strlen(t);
        while (len > 0 && isspace((unsigned char)t[len - 1]))
            t[--len] = '\0';
        if (!*t)
            continue;
        if (n < cap)
            out[n] = t;
        n++;
    }
    return n;
}

/* batchSize: default and cap 300. Returns -1 (and replies) when invalid. */
static int batch_size(ctx *c, int *out)
{
    const char *b = arg(c, "batchSize");
    int64_t v = MAX_BATCH;
    if (b && parse_i64(b, &v) != 0) {
        reply_error(c, "1001", "Invalid value '%s'. Required of type 'integer'", b);
        return -1;
    }
    if (v < 1)
        v = MAX_BATCH;
    *out = v > MAX_BATCH ? MAX_BATCH : (int)v;
    return 0;
}

static char *make_token(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *make_token(const char *fmt, ...)
{
    char raw[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    return sbx_base32(raw, strlen(raw));
}

/* Decodes a token of the form "<tag>:<a>:<b>"; 0 or -1. */
static int read_token(const char *tok, const char *tag, int64_t *a, int64_t *b)
{
    char raw[128];
    if (!tok || sbx_unbase32(tok, raw, sizeof raw) < 0)
        return -1;
    char t[16];
    long long x, y;
    if (sscanf(raw, "%15[a-z]:%lld:%lld", t, &x, &y) != 3 || strcmp(t, tag) != 0)
        return -1;
    *a = x;
    *b = y;
    return 0;
}

static int body_json(ctx *c, json_t **out)
{
    const char *ct = c->req->header(c->req, "Content-Type");
    if (!ct || !strstr(ct, "application/json")) {
        reply_error(c, "612", "Invalid Content Type");
        return -1;
    }
    json_error_t jerr;
    *out = json_loadb(c->req->body, c->req->body_len, 0, &jerr);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        reply_error(c, "609", "Invalid JSON");
        return -1;
    }
    return 0;
}

/* input: [{leadId}] with 1..300 entries. */
static json_t *input_array(ctx *c, json_t *body)
{
    json_t *in = json_object_get(body, "input");
    if (!json_is_array(in) || json_array_size(in) == 0) {
        reply_error(c, "701", "input cannot be blank");
        return NULL;
    }
    if (json_array_size(in) > MAX_BATCH) {
        reply_error(c, "1003", "Input array exceeds the maximum batch size of %d records",
                    MAX_BATCH);
        return NULL;
    }
    return in;
}

static void iso(int64_t ms, char *out, size_t len)
{
    sbx_format_time_iso(ms, out, len);
}

/* ---- identity ---- */

static void new_token(mkto_state *s, int64_t now)
{
    if (s->token[0]) {
        snprintf(s->expired[s->expired_pos], sizeof s->expired[0], "%s", s->token);
        s->expired_pos = (s->expired_pos + 1) % 32;
    }
    uint64_t a = sbx_rng_next(&s->rng), b = sbx_rng_next(&s->rng);
    snprintf(s->token, sizeof s->token, "%08llx-%04llx-%04llx-%04llx-%012llx:ab",
             (unsigned long long)(a >> 32), (unsigned long long)((a >> 16) & 0xffff),
             (unsigned long long)(a & 0xffff), (unsigned long long)(b >> 48),
             (unsigned long long)(b & 0xffffffffffffULL));
    s->token_exp_ms = now + s->token_ttl_s * 1000;
}

static void identity(ctx *c)
{
    mkto_state *s = c->s;
    snprintf(c->resp->endpoint, sizeof c->resp->endpoint, "%s /identity/oauth/token",
             c->req->method);
    if (c->req->fault != SBX_FAULT_NONE) {
        sbx_respond_raw(c->resp, 503, "text/html",
                        "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                        71);
        return;
    }
    const char *gt = arg(c, "grant_type");
    const char *id = arg(c, "client_id");
    const char *secret = arg(c, "client_secret");
    if (!gt) {
        sbx_respond_json(c->resp, 400,
                         json_pack("{s:s,s:s}", "error", "invalid_request", "error_description",
                                   "Missing grant type"));
        return;
    }
    if (strcmp(gt, "client_credentials") != 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "Unsupported grant type: %.100s", gt);
        mkto_ascii(msg);
        sbx_respond_json(
            c->resp, 400,
            json_pack("{s:s,s:s}", "error", "unsupported_grant_type", "error_description", msg));
        return;
    }
    if (!id || !secret || strcmp(id, s->client_id) != 0 || strcmp(secret, s->client_secret) != 0) {
        sbx_respond_json(c->resp, 401,
                         json_pack("{s:s,s:s}", "error", "invalid_client", "error_description",
                                   "Bad client credentials"));
        return;
    }
    if (!s->token[0] || c->now >= s->token_exp_ms)
        new_token(s, c->now);
    int64_t left = (s->token_exp_ms - c->now - 1) / 1000;
    sbx_respond_json(c->resp, 200,
                     json_pack("{s:s,s:s,s:I,s:s}", "access_token", s->token, "token_type",
                               "bearer", "expires_in", (json_int_t)(left < 0 ? 0 : left), "scope",
                               s->scope));
}

static int check_token(ctx *c)
{
    mkto_state *s = c->s;
    const char *tok = NULL;
    const char *auth = c->req->header(c->req, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        tok = auth + 7;
        while (*tok == ' ')
            tok++;
    }
    if (!tok || !*tok)
        tok = arg(c, "access_token");
    if (!tok || !*tok) {
        reply_error(c, "600", "Access token not specified");
        return -1;
    }
    if (s->token[0] && strcmp(tok, s->token) == 0) {
        if (c->now >= s->token_exp_ms) {
            reply_error(c, "602", "Access token expired");
            return -1;
        }
        return 0;
    }
    for (int i = 0; i < 32; i++) {
        if (s->expired[i][0] && strcmp(s->expired[i], tok) == 0) {
            reply_error(c, "602", "Access token expired");
            return -1;
        }
    }
    reply_error(c, "601", "Access token invalid");
    return -1;
}

/* ---- limits ---- */

static int check_limits(ctx *c)
{
    mkto_state *s = c->s;
    if (s->lim_concurrent > 0 && c->req->inflight > s->lim_concurrent) {
        reply_error(c, "615", "Concurrent access limit reached");
        return -1;
    }
    if (s->lim_per20 > 0) {
        if ((size_t)s->lim_per20 != s->win_cap) {
            int64_t *nw = realloc(s->win, (size_t)s->lim_per20 * sizeof *nw);
            if (!nw) {
                reply_error(c, "611", "System error");
                return -1;
            }
            s->win = nw;
            s->win_cap = (size_t)s->lim_per20;
            s->win_head = s->win_n = 0;
        }
        while (s->win_n > 0 && s->win[s->win_head] <= c->now - 20000) {
            s->win_head = (s->win_head + 1) % s->win_cap;
            s->win_n--;
        }
        if (s->win_n >= s->win_cap) {
            reply_error(c, "606", "Max rate limit '%lld' exceeded with in '20' secs",
                        (long long)s->lim_per20);
            return -1;
        }
    }
    /* The daily quota resets at midnight US Central (UTC-6). */
    const int64_t day = 86400000LL, cst = 6 * 3600000LL;
    int64_t day_start = ((c->now - cst) / day) * day + cst;
    if (day_start != s->day_start_ms) {
        s->day_start_ms = day_start;
        s->day_count = 0;
    }
    if (s->lim_daily > 0 && s->day_count >= s->lim_daily) {
        reply_error(c, "607", "Daily quota reached");
        return -1;
    }
    if (s->lim_per20 > 0) {
        s->win[(s->win_head + s->win_n) % s->win_cap] = c->now;
        s->win_n++;
    }
    s->day_count++;
    return 0;
}

/* ---- asset API ---- */

static int paging(ctx *c, int64_t *max_return, int64_t *offset)
{
    const char *m = arg(c, "maxReturn"), *o = arg(c, "offset");
    *max_return = 20;
    *offset = 0;
    if (m && (parse_i64(m, max_return) != 0 || *max_return < 1 || *max_return > 200)) {
        reply_asset_error(c, "1003", "maxReturn must be an integer between 1 and 200");
        return -1;
    }
    if (o && (parse_i64(o, offset) != 0 || *offset < 0)) {
        reply_asset_error(c, "1003", "offset must be a non-negative integer");
        return -1;
    }
    return 0;
}

static void programs_list(ctx *c)
{
    int64_t max_return, offset;
    if (paging(c, &max_return, &offset) != 0)
        return;
    const char *e = arg(c, "earliestUpdatedAt"), *l = arg(c, "latestUpdatedAt");
    int64_t emin = INT64_MIN, lmax = INT64_MAX;
    if (e && (emin = sbx_parse_time_ms(e)) < 0) {
        reply_asset_error(c, "1003", "earliestUpdatedAt must be an ISO 8601 datetime");
        return;
    }
    if (l && (lmax = sbx_parse_time_ms(l)) < 0) {
        reply_asset_error(c, "1003", "latestUpdatedAt must be an ISO 8601 datetime");
        return;
    }
    if (emin != INT64_MIN && lmax != INT64_MAX && emin > lmax) {
        reply_asset_error(c, "1003", "earliestUpdatedAt must be before latestUpdatedAt");
        return;
    }
    const char *status = arg(c, "status");
    json_t *res = json_array();
    int64_t seen = 0;
    for (size_t i = 0; i < c->s->n_pg && (int64_t)json_array_size(res) < max_return; i++) {
        mkto_program *p = &c->s->pg[i];
        if (p->updated_ms < emin || p->updated_ms > lmax)
            continue;
        if (status && strcmp(status, p->status ? p->status : "") != 0)
            continue;
        if (seen++ < offset)
            continue;
        json_array_append_new(res, mkto_program_json(p, MKTO_PJ_BROWSE));
    }
    reply_asset(c, res);
}

static void program_by_name(ctx *c)
{
    const char *name = arg(c, "name");
    if (!name) {
        reply_asset_error(c, "701", "name cannot be blank");
        return;
    }
    const char *it = arg(c, "includeTags"), *ic = arg(c, "includeCosts");
    int tags = it && strcmp(it, "true") == 0, costs = ic && strcmp(ic, "true") == 0;
    int mode = tags && costs ? MKTO_PJ_TAGS_COSTS
               : tags        ? MKTO_PJ_TAGS
               : costs       ? MKTO_PJ_COSTS
                             : MKTO_PJ_NAME;
    json_t *res = json_array();
    for (size_t i = 0; i < c->s->n_pg; i++)
        if (strcmp(c->s->pg[i].name, name) == 0)
            json_array_append_new(res, mkto_program_json(&c->s->pg[i], mode));
    reply_asset(c, res);
}

static void program_by_id(ctx *c, int64_t id)
{
    mkto_program *p = mkto_program_get(c->s, id);
    json_t *res = json_array();
    if (p)
        json_array_append_new(res, mkto_program_json(p, MKTO_PJ_FULL));
    reply_asset(c, res);
}

static void channels_list(ctx *c)
{
    int64_t max_return, offset;
    if (paging(c, &max_return, &offset) != 0)
        return;
    json_t *res = json_array();
    for (size_t i = (size_t)offset; i < c->s->n_ch && (int64_t)json_array_size(res) < max_return;
         i++)
        json_array_append_new(res, mkto_channel_json(&c->s->ch[i], 1));
    reply_asset(c, res);
}

static void channel_by_name(ctx *c)
{
    const char *name = arg(c, "name");
    if (!name) {
        reply_asset_error(c, "701", "name cannot be blank");
        return;
    }
    json_t *res = json_array();
    for (size_t i = 0; i < c->s->n_ch; i++)
        if (strcmp(c->s->ch[i].name, name) == 0)
            json_array_append_new(res, mkto_channel_json(&c->s->ch[i], 1));
    reply_asset(c, res);
}

/* ---- program members ---- */

static const char *const member_fields[] = {"acquiredBy",
                                            "leadId",
                                            "membershipDate",
                                            "programId",
                                            "reachedSuccess",
                                            "statusName",
                                            "updatedAt",
                                            "createdAt",
                                            "reachedSuccessDate",
                                            "isExhausted",
                                            "statusReason",
                                            "nurtureCadence",
                                            "trackName",
                                            "program",
                                            "attendanceLikelihood",
                                            "registrationLikelihood",
                                            "waitlistPriority",
                                            "webinarUrl",
                                            "registrationCode",
                                            NULL};

static int known(const char *const *list, const char *name)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

/* Member rows are written as text: a page of 300 is the hottest path. */
static void member_text(sbx_buf *b, ctx *c, const mkto_program *p, const mkto_member *m,
                        char **fields, size_t nf, int seq)
{
    const mkto_channel *ch = mkto_program_channel(c->s, p);
    char t[48];
    sbx_buf_str(b, seq ? ",{\"seq\":" : "{\"seq\":");
    sbx_buf_int(b, seq);
    sbx_buf_str(b, ",\"leadId\":");
    sbx_buf_int(b, m->lead_id);
    for (size_t i = 0; i < nf; i++) {
        const char *f = fields[i];
        if (strcmp(f, "leadId") == 0)
            continue;
        sbx_buf_str(b, ",");
        sbx_buf_json_str(b, f);
        sbx_buf_str(b, ":");
        if (strcmp(f, "acquiredBy") == 0) {
            sbx_buf_str(b, m->acquired_by ? "true" : "false");
        } else if (strcmp(f, "membershipDate") == 0) {
            iso(m->membership_ms, t, sizeof t);
            sbx_buf_json_str(b, t);
        } else if (strcmp(f, "programId") == 0) {
            sbx_buf_int(b, p->id);
        } else if (strcmp(f, "reachedSuccess") == 0) {
            sbx_buf_str(b, m->reached_success ? "true" : "false");
        } else if (strcmp(f, "statusName") == 0) {
            sbx_buf_json_str(b, ch ? ch->st[m->st].name : "");
        } else if (strcmp(f, "updatedAt") == 0) {
            iso(m->updated_ms, t, sizeof t);
            sbx_buf_json_str(b, t);
        } else if (strcmp(f, "createdAt") == 0) {
            iso(m->created_ms, t, sizeof t);
            sbx_buf_json_str(b, t);
        } else if (strcmp(f, "reachedSuccessDate") == 0 && m->reached_success) {
            iso(m->success_ms, t, sizeof t);
            sbx_buf_json_str(b, t);
        } else if (strcmp(f, "isExhausted") == 0) {
            sbx_buf_str(b, "false");
        } else if (strcmp(f, "program") == 0) {
            sbx_buf_json_str(b, p->name);
        } else {
            sbx_buf_str(b, "null");
        }
    }
    sbx_buf_str(b, "}");
}

/* Sends {"requestId","result":[rows],"success":true,"nextPageToken","moreResult"}. */
static void reply_rows(ctx *c, sbx_buf *rows, int more, const char *next)
{
    char rid[48];
    c->s->request_seq++;
    snprintf(rid, sizeof rid, "%llx#%llx", (unsigned long long)(c->s->request_seq & 0xfffff),
             (unsigned long long)c->now);
    sbx_buf b = {0};
    sbx_buf_str(&b, "{\"requestId\":");
    sbx_buf_json_str(&b, rid);
    sbx_buf_str(&b, ",\"result\":[");
    if (rows->len)
        sbx_buf_add(&b, rows->p, rows->len);
    sbx_buf_str(&b, "],\"success\":true");
    if (next) {
        sbx_buf_str(&b, ",\"nextPageToken\":");
        sbx_buf_json_str(&b, next);
    }
    sbx_buf_str(&b, more ? ",\"moreResult\":true}" : ",\"moreResult\":false}");
    if (b.oom) {
        free(b.p);
        reply_error(c, "611", "System error");
        return;
    }
    free(c->resp->body);
    c->resp->status = 200;
    c->resp->body = b.p;
    c->resp->body_len = b.len;
}

static void members_query(ctx *c, int64_t pid)
{
    mkto_program *p = mkto_program_get(c->s, pid);
    if (!p) {
        reply_error(c, "1013", "Program not found");
        return;
    }
    const char *ft = arg(c, "filterType");
    if (!ft || !*ft) {
        reply_error(c, "701", "filterType cannot be blank");
        return;
    }
    int bs;
    if (batch_size(c, &bs) != 0)
        return;
    static const char *const dflt[] = {"acquiredBy", "leadId", "membershipDate", "programId",
                                       "reachedSuccess"};
    char *fbuf = NULL;
    char *fields[64];
    size_t nf = 0;
    const char *fa = arg(c, "fields");
    if (fa && *fa) {
        fbuf = strdup(fa);
        nf = fbuf ? split_csv(fbuf, fields, 64) : 0;
        if (nf > 64)
            nf = 64;
        for (size_t i = 0; i < nf; i++) {
            if (!known(member_fields, fields[i])) {
                reply_error(c, "1006", "Field '%s' not found", fields[i]);
                free(fbuf);
                return;
            }
        }
    }
    if (nf == 0) {
        for (size_t i = 0; i < 5; i++)
            fields[i] = (char *)dflt[i];
        nf = 5;
    }
    const char *tok = arg(c, "nextPageToken");
    sbx_buf rows = {0};
    int n_rows = 0;
    char *next = NULL;
    int more = 0;

    if (strcmp(ft, "leadId") == 0) {
        const char *fv = arg(c, "filterValues");
        if (!fv || !*fv) {
            reply_error(c, "701", "filterValues cannot be blank");
            goto out;
        }
        char *vbuf = strdup(fv);
        char *vals[MAX_BATCH];
        size_t nv = vbuf ? split_csv(vbuf, vals, MAX_BATCH) : 0;
        if (nv > MAX_BATCH) {
            reply_error(c, "1003", "filterValues exceeds the limit of %d values", MAX_BATCH);
            free(vbuf);
            goto out;
        }
        int64_t pos = 0, tpid = pid;
        if (tok && (read_token(tok, "pl", &tpid, &pos) != 0 || tpid != pid || pos < 0)) {
            reply_error(c, "1003", "Invalid nextPageToken");
            free(vbuf);
            goto out;
        }
        size_t i = (size_t)pos;
        for (; i < nv && n_rows < bs; i++) {
            int64_t lid;
            if (parse_i64(vals[i], &lid) != 0) {
                reply_error(c, "1001", "Invalid value '%s'. Required of type 'integer'", vals[i]);
                free(vbuf);
                goto out;
            }
            mkto_member *m = mkto_member_get(p, lid);
            if (m)
                member_text(&rows, c, p, m, fields, nf, n_rows++);
        }
        more = i < nv;
        if (more)
            next = make_token("pl:%lld:%zu", (long long)pid, i);
        free(vbuf);
    } else if (strcmp(ft, "updatedAt") == 0 || strcmp(ft, "statusName") == 0 ||
               strcmp(ft, "reachedSuccess") == 0) {
        if (p->n_m > MEMBER_FILTER_LIMIT) {
            reply_error(c, "1003",
                        "Total membership size: %zu exceeds the limit allowed (100,000) for the "
                        "filter",
                        p->n_m);
            goto out;
        }
        int64_t t0 = 0, t1 = 0;
        const mkto_channel *ch = mkto_program_channel(c->s, p);
        char *vbuf = NULL;
        char *vals[MAX_BATCH];
        size_t nv = 0;
        if (ft[0] == 'u') {
            const char *sa = arg(c, "startAt"), *ea = arg(c, "endAt");
            if (!sa || !*sa) {
                reply_error(c, "701", "startAt cannot be blank");
                goto out;
            }
            if (!ea || !*ea) {
                reply_error(c, "701", "endAt cannot be blank");
                goto out;
            }
            if ((t0 = sbx_parse_time_ms(sa)) < 0) {
                reply_error(c, "1001", "Invalid value '%s'. Required of type 'datetime'", sa);
                goto out;
            }
            if ((t1 = sbx_parse_time_ms(ea)) < 0) {
                reply_error(c, "1001", "Invalid value '%s'. Required of type 'datetime'", ea);
                goto out;
            }
            if (t1 < t0 || t1 - t0 > SEVEN_DAYS_MS) {
                reply_error(c, "1003",
                            "Date range must be 7 days or less, with endAt after startAt");
                goto out;
            }
        } else {
            const char *fv = arg(c, "filterValues");
            if (!fv || !*fv) {
                reply_error(c, "701", "filterValues cannot be blank");
                goto out;
            }
            vbuf = strdup(fv);
            nv = vbuf ? split_csv(vbuf, vals, MAX_BATCH) : 0;
            if (nv > MAX_BATCH) {
                reply_error(c, "1003", "filterValues exceeds the limit of %d values", MAX_BATCH);
                free(vbuf);
                goto out;
            }
        }
        int64_t from = INT64_MIN, tpid = pid;
        if (tok && (read_token(tok, "pm", &tpid, &from) != 0 || tpid != pid)) {
            reply_error(c, "1003", "Invalid nextPageToken");
            free(vbuf);
            goto out;
        }
        int found;
        size_t i = tok ? mkto_member_find(p, from, &found) : 0;
        for (; i < p->n_m && n_rows < bs; i++) {
            const mkto_member *m = &p->m[i];
            int match = 0;
            if (ft[0] == 'u') {
                match = m->updated_ms >= t0 && m->updated_ms <= t1;
            } else if (ft[0] == 's') {
                for (size_t k = 0; k < nv && !match; k++)
                    match = ch && strcasecmp(ch->st[m->st].name, vals[k]) == 0;
            } else {
                for (size_t k = 0; k < nv && !match; k++)
                    match = (strcasecmp(vals[k], "true") == 0) == (m->reached_success != 0);
            }
            if (match)
                member_text(&rows, c, p, m, fields, nf, n_rows++);
        }
        free(vbuf);
        more = i < p->n_m;
        if (more)
            next = make_token("pm:%lld:%lld", (long long)pid, (long long)p->m[i].lead_id);
    } else {
        reply_error(c, "1003",
                    "Invalid filterType '%s': use leadId, statusName, reachedSuccess or "
                    "updatedAt",
                    ft);
        goto out;
    }
    reply_rows(c, &rows, more, next);
out:
    free(rows.p);
    free(next);
    free(fbuf);
}

static void members_status(ctx *c, int64_t pid)
{
    json_t *body = NULL;
    if (body_json(c, &body) != 0)
        return;
    mkto_program *p = mkto_program_get(c->s, pid);
    const char *sn = json_string_value(json_object_get(body, "statusName"));
    json_t *in;
    if (!p) {
        reply_error(c, "1013", "Program not found");
    } else if (!sn || !*sn) {
        reply_error(c, "701", "statusName cannot be blank");
    } else if ((in = input_array(c, body)) != NULL) {
        int st = mkto_status_index(mkto_program_channel(c->s, p), sn);
        json_t *res = json_array();
        size_t i;
        json_t *rec;
        json_array_foreach(in, i, rec)
        {
            json_t *lj = json_object_get(rec, "leadId");
            if (!json_is_integer(lj)) {
                json_array_append_new(res, skipped((int)i, "1003", "leadId is required"));
                continue;
            }
            int64_t lid = json_integer_value(lj);
            if (!mkto_lead_get(c->s, lid)) {
                json_array_append_new(res, skipped((int)i, "1004", "Lead not found"));
                continue;
            }
            if (strcasecmp(sn, MKTO_NOT_IN_PROGRAM) == 0) {
                /* Step 0: every lead is already in or past it. */
                json_array_append_new(res, skipped((int)i, "1037",
                                                   "Lead skipped because it is already in or "
                                                   "past this status"));
                continue;
            }
            if (st < 0) {
                json_array_append_new(res, skipped((int)i, "1025", "Program status not found"));
                continue;
            }
            int r = mkto_set_status(c->s, p, lid, st, 1, "Changed by API", c->now);
            if (r == 1)
                json_array_append_new(res, skipped((int)i, "1037",
                                                   "Lead skipped because it is already in or "
                                                   "past this status"));
            else if (r < 0)
                json_array_append_new(res, skipped((int)i, "611", "System error"));
            else
                json_array_append_new(res, json_pack("{s:i,s:s,s:I}", "seq", (int)i, "status",
                                                     r == 2 ? "created" : "updated", "leadId",
                                                     (json_int_t)lid));
        }
        reply_result(c, res, -1, NULL);
    }
    json_decref(body);
}

static void members_delete(ctx *c, int64_t pid)
{
    json_t *body = NULL;
    if (body_json(c, &body) != 0)
        return;
    mkto_program *p = mkto_program_get(c->s, pid);
    json_t *in;
    if (!p) {
        reply_error(c, "1013", "Program not found");
    } else if ((in = input_array(c, body)) != NULL) {
        json_t *res = json_array();
        size_t i;
        json_t *rec;
        json_array_foreach(in, i, rec)
        {
            json_t *lj = json_object_get(rec, "leadId");
            if (!json_is_integer(lj)) {
                json_array_append_new(res, skipped((int)i, "1003", "leadId is required"));
                continue;
            }
            int64_t lid = json_integer_value(lj);
            if (!mkto_lead_get(c->s, lid)) {
                json_array_append_new(res, skipped((int)i, "1004", "Lead not found"));
                continue;
            }
            if (mkto_remove_member(c->s, p, lid, "Removed by API", c->now) != 0)
                json_array_append_new(res, skipped((int)i, "1037", "Lead not in program"));
            else
                json_array_append_new(res, json_pack("{s:i,s:s,s:I}", "seq", (int)i, "status",
                                                     "deleted", "leadId", (json_int_t)lid));
        }
        reply_result(c, res, -1, NULL);
    }
    json_decref(body);
}

/* ---- leads ---- */

static const char *const lead_ro_fields[] = {"id", "createdAt", "updatedAt", NULL};

static int lead_field_known(const char *f)
{
    return known(lead_ro_fields, f) || mkto_field_index(f) >= 0;
}

static json_t *lead_json(const mkto_lead *l, char **fields, size_t nf)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(l->id));
    char t[48];
    for (size_t i = 0; i < nf; i++) {
        const char *f = fields[i];
        if (strcmp(f, "id") == 0)
            continue;
        if (strcmp(f, "createdAt") == 0) {
            iso(l->created_ms, t, sizeof t);
            json_object_set_new(o, f, json_string(t));
        } else if (strcmp(f, "updatedAt") == 0) {
            iso(l->updated_ms, t, sizeof t);
            json_object_set_new(o, f, json_string(t));
        } else {
            int k = mkto_field_index(f);
            json_object_set_new(o, f, k >= 0 && l->f[k] ? json_string(l->f[k]) : json_null());
        }
    }
    return o;
}

static void leads_query(ctx *c)
{
    const char *ft = arg(c, "filterType"), *fv = arg(c, "filterValues");
    if (!ft || !*ft) {
        reply_error(c, "701", "filterType cannot be blank");
        return;
    }
    if (!fv || !*fv) {
        reply_error(c, "701", "filterValues cannot be blank");
        return;
    }
    int field = -2;
    if (strcmp(ft, "id") == 0)
        field = -1;
    else if (strcmp(ft, "email") == 0 || strcmp(ft, "sfdcLeadId") == 0 ||
             strcmp(ft, "sfdcContactId") == 0 || strcmp(ft, "sfdcAccountId") == 0)
        field = mkto_field_index(ft);
    if (field == -2) {
        reply_error(c, "1011", "Field '%s' not supported", ft);
        return;
    }
    int bs;
    if (batch_size(c, &bs) != 0)
        return;
    static const char *const dflt[] = {"id",        "email",     "updatedAt",
                                       "createdAt", "firstName", "lastName"};
    char *fbuf = NULL, *vbuf = NULL, *next = NULL;
    char *fields[64], *vals[MAX_BATCH];
    size_t nf = 0;
    json_t *res = json_array();
    const char *fa = arg(c, "fields");
    if (fa && *fa) {
        fbuf = strdup(fa);
        nf = fbuf ? split_csv(fbuf, fields, 64) : 0;
        if (nf > 64)
            nf = 64;
        for (size_t i = 0; i < nf; i++) {
            if (!lead_field_known(fields[i])) {
                reply_error(c, "1006", "Field '%s' not found", fields[i]);
                goto out;
            }
        }
    }
    if (nf == 0) {
        for (size_t i = 0; i < 6; i++)
            fields[i] = (char *)dflt[i];
        nf = 6;
    }
    vbuf = strdup(fv);
    size_t nv = vbuf ? split_csv(vbuf, vals, MAX_BATCH) : 0;
    if (nv > MAX_BATCH) {
        reply_error(c, "1003", "filterValues exceeds the limit of %d values", MAX_BATCH);
        goto out;
    }
    int64_t skip = 0, zero = 0;
    const char *tok = arg(c, "nextPageToken");
    if (tok && (read_token(tok, "ld", &zero, &skip) != 0 || skip < 0)) {
        reply_error(c, "1003", "Invalid nextPageToken");
        goto out;
    }
    int64_t seen = 0;
    int more = 0;
    for (size_t i = 0; i < nv && !more; i++) {
        int64_t idx[64];
        size_t n;
        if (field == -1) {
            int64_t id, k;
            if (parse_i64(vals[i], &id) != 0) {
                reply_error(c, "1001", "Invalid value '%s'. Required of type 'integer'", vals[i]);
                goto out;
            }
            n = sbx_imap_get(&c->s->lead_by_id, id, &k) ? 1 : 0;
            idx[0] = n ? k : 0;
        } else {
            n = mkto_leads_by(c->s, field, vals[i], idx, 64);
            if (n > 64)
                n = 64;
        }
        for (size_t k = 0; k < n; k++) {
            if (seen++ < skip)
                continue;
            if ((int)json_array_size(res) >= bs) {
                more = 1;
                break;
            }
            json_array_append_new(res, lead_json(&c->s->leads[idx[k]], fields, nf));
        }
    }
    if (more)
        next = make_token("ld:0:%lld", (long long)(skip + (int64_t)json_array_size(res)));
    reply_result(c, res, more ? 1 : -1, next);
    res = NULL;
out:
    json_decref(res);
    free(fbuf);
    free(vbuf);
    free(next);
}

static void lead_by_id(ctx *c, int64_t id)
{
    mkto_lead *l = mkto_lead_get(c->s, id);
    static const char *const dflt[] = {"id",        "email",     "updatedAt",
                                       "createdAt", "firstName", "lastName"};
    json_t *res = json_array();
    if (l)
        json_array_append_new(res, lead_json(l, (char **)dflt, 6));
    reply_result(c, res, -1, NULL);
}

static void leads_sync(ctx *c)
{
    json_t *body = NULL;
    if (body_json(c, &body) != 0)
        return;
    const char *action = json_string_value(json_object_get(body, "action"));
    const char *lookup = json_string_value(json_object_get(body, "lookupField"));
    if (!action)
        action = "createOrUpdate";
    if (!lookup)
        lookup = "email";
    int create_ok = strcmp(action, "createOrUpdate") == 0 || strcmp(action, "createOnly") == 0 ||
                    strcmp(action, "createDuplicate") == 0;
    int update_ok = strcmp(action, "createOrUpdate") == 0 || strcmp(action, "updateOnly") == 0;
    int lf = strcmp(lookup, "id") == 0 ? -1 : mkto_field_index(lookup);
    json_t *in;
    if (!create_ok && !update_ok) {
        reply_error(c, "1003", "Invalid action '%s'", action);
    } else if (lf == -1 && strcmp(lookup, "id") != 0) {
        reply_error(c, "1011", "Field '%s' not supported", lookup);
    } else if (lf != -1 && lf != MKTO_F_EMAIL && lf != MKTO_F_SFDCLEADID &&
               lf != MKTO_F_SFDCCONTACTID && lf != MKTO_F_SFDCACCOUNTID) {
        reply_error(c, "1011", "Field '%s' not supported", lookup);
    } else if ((in = input_array(c, body)) != NULL) {
        json_t *res = json_array();
        size_t i;
        json_t *rec;
        json_array_foreach(in, i, rec)
        {
            if (!json_is_object(rec)) {
                json_array_append_new(res, skipped(-1, "1003", "Invalid data"));
                continue;
            }
            const char *key;
            json_t *val;
            const char *bad = NULL;
            json_object_foreach(rec, key, val)
            {
                if (strcmp(key, "id") != 0 && mkto_field_index(key) < 0) {
                    bad = key;
                    break;
                }
                if (!json_is_string(val) && !json_is_null(val) &&
                    !(strcmp(key, "id") == 0 && json_is_integer(val))) {
                    bad = key;
                    break;
                }
            }
            if (bad) {
                char msg[160];
                snprintf(msg, sizeof msg, "Field '%.100s' not found", bad);
                json_array_append_new(res, skipped(-1, "1006", msg));
                continue;
            }
            /* Find the lead to update. */
            int64_t idx[2];
            size_t n = 0;
            json_t *kv = json_object_get(rec, lookup);
            int has_key = 0;
            if (lf == -1) {
                int64_t k;
                has_key = json_is_integer(kv);
                if (has_key && sbx_imap_get(&c->s->lead_by_id, json_integer_value(kv), &k))
                    idx[n++] = k;
            } else {
                const char *ks = json_string_value(kv);
                has_key = ks && *ks;
                if (has_key && c->s->duplicate_race && c->req->received_ms > 0) {
                    int64_t all[64];
                    size_t na = mkto_leads_by(c->s, lf, ks, all, 64);
                    for (size_t k = 0; k < na && k < 64; k++)
                        if (c->s->leads[all[k]].created_ms <= c->req->received_ms && n < 2)
                            idx[n++] = all[k];
                } else if (has_key) {
                    n = mkto_leads_by(c->s, lf, ks, idx, 2);
                }
            }
            if (strcmp(action, "createDuplicate") == 0)
                n = 0;
            if (!has_key && update_ok && strcmp(action, "createOnly") != 0 &&
                strcmp(action, "createDuplicate") != 0) {
                char msg[160];
                snprintf(msg, sizeof msg, "Value for lookup field '%s' not found", lookup);
                json_array_append_new(res, skipped(-1, "1003", msg));
                continue;
            }
            if (n > 1 && update_ok) {
                json_array_append_new(
                    res, skipped(-1, "1007", "Multiple leads match the lookup criteria"));
                continue;
            }
            if (n >= 1 && !update_ok) {
                json_array_append_new(res, skipped(-1, "1005", "Lead already exists"));
                continue;
            }
            if (n == 0 && !create_ok) {
                json_array_append_new(res, skipped(-1, "1004", "Lead not found"));
                continue;
            }
            if (n == 0 && json_object_get(rec, "id")) {
                json_array_append_new(res, skipped(-1, "1003", "Invalid data"));
                continue;
            }
            mkto_lead *l;
            int created = n == 0;
            if (created) {
                l = mkto_lead_create(c->s, c->now);
                if (!l) {
                    json_array_append_new(res, skipped(-1, "611", "System error"));
                    continue;
                }
            } else {
                l = &c->s->leads[idx[0]];
            }
            json_object_foreach(rec, key, val)
            {
                int f = mkto_field_index(key);
                if (f >= 0)
                    mkto_lead_set(c->s, l, f, json_string_value(val));
            }
            l->updated_ms = c->now;
            if (created)
                mkto_activity_add(
                    c->s, l->id, MKTO_ACT_NEW_LEAD, l->id,
                    l->f[MKTO_F_EMAIL] ? l->f[MKTO_F_EMAIL] : "",
                    json_pack("[{s:s,s:s}]", "name", "Source Type", "value", "Web service API"),
                    c->now);
            json_array_append_new(res, json_pack("{s:I,s:s}", "id", (json_int_t)l->id, "status",
                                                 created ? "created" : "updated"));
        }
        reply_result(c, res, -1, NULL);
    }
    json_decref(body);
}

/* ---- activities ---- */

static json_t *activity_types(void)
{
    return json_pack(
        "[{s:i,s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s}]},"
        "{s:i,s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s},{s:s,s:s}]},"
        "{s:i,s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s},{s:s,s:s}]},"
        "{s:i,s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s},{s:s,s:s}]},"
        "{s:i,s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]},"
        "{s:i,s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},"
        "{s:s,s:s},{s:s,s:s},{s:s,s:s}]}]",
        "id", MKTO_ACT_NEW_LEAD, "name", "New Lead", "description", "New person/record is added",
        "primaryAttribute", "name", "Lead ID", "dataType", "integer", "attributes", "name",
        "Source Type", "dataType", "string",
        /* 13 */
        "id", MKTO_ACT_CHANGE_DATA_VALUE, "name", "Change Data Value", "description",
        "Changed attribute value for a person", "primaryAttribute", "name", "Attribute Name",
        "dataType", "string", "attributes", "name", "New Value", "dataType", "string", "name",
        "Old Value", "dataType", "string",
        /* 42 */
        "id", MKTO_ACT_ADD_SFDC_CAMPAIGN, "name", "Add to SFDC Campaign", "description",
        "Add person to a Salesforce campaign", "primaryAttribute", "name", "Campaign ID",
        "dataType", "integer", "attributes", "name", "Status", "dataType", "string", "name",
        "SFDC Campaign ID", "dataType", "string",
        /* 43 */
        "id", MKTO_ACT_REMOVE_SFDC_CAMPAIGN, "name", "Remove from SFDC Campaign", "description",
        "Remove person from a Salesforce campaign", "primaryAttribute", "name", "Campaign ID",
        "dataType", "integer", "attributes", "name", "Status", "dataType", "string", "name",
        "SFDC Campaign ID", "dataType", "string",
        /* 44 */
        "id", MKTO_ACT_CHANGE_SFDC_CAMPAIGN_STATUS, "name", "Change Status in SFDC Campaign",
        "description", "Change person's status in a Salesforce campaign", "primaryAttribute",
        "name", "Campaign ID", "dataType", "integer", "attributes", "name", "New Status",
        "dataType", "string", "name", "Old Status", "dataType", "string", "name",
        "SFDC Campaign ID", "dataType", "string",
        /* 104 */
        "id", MKTO_ACT_CHANGE_PROGRAM_STATUS, "name", "Change Status in Progression", "description",
        "Change a person's program status", "primaryAttribute", "name", "Program ID", "dataType",
        "integer", "attributes", "name", "Acquired By", "dataType", "boolean", "name",
        "New Status ID", "dataType", "integer", "name", "Old Status ID", "dataType", "integer",
        "name", "Program Member ID", "dataType", "integer", "name", "Reason", "dataType", "string",
        "name", "Success", "dataType", "boolean", "name", "New Status", "dataType", "string",
        "name", "Old Status", "dataType", "string");
}

static void paging_token(ctx *c)
{
    const char *since = arg(c, "sinceDatetime");
    if (!since || !*since) {
        reply_error(c, "701", "sinceDatetime cannot be blank");
        return;
    }
    int64_t t = sbx_parse_time_ms(since);
    if (t < 0) {
        reply_error(c, "1001", "Invalid value '%s'. Required of type 'datetime'", since);
        return;
    }
    /* First activity at or after the time (the log is ordered by date). */
    size_t lo = 0, hi = c->s->n_act;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->s->act[mid].date_ms < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    char *tok = make_token("act:%lld:%zu", (long long)t / 1000, lo);
    reply_result(c, NULL, -1, tok);
    free(tok);
}

static json_t *activity_json(const mkto_activity *a)
{
    char t[48], guid[32];
    iso(a->date_ms, t, sizeof t);
    snprintf(guid, sizeof guid, "%lld", (long long)a->id);
    json_t *o =
        json_pack("{s:I,s:s,s:I,s:s,s:i,s:I,s:s,s:O}", "id", (json_int_t)a->id, "marketoGUID", guid,
                  "leadId", (json_int_t)a->lead_id, "activityDate", t, "activityTypeId", a->type,
                  "primaryAttributeValueId", (json_int_t)a->primary_id, "primaryAttributeValue",
                  a->primary_value ? a->primary_value : "", "attributes", a->attrs);
    return o;
}

static void activities(ctx *c)
{
    const char *tok = arg(c, "nextPageToken"), *types = arg(c, "activityTypeIds");
    const char *leads = arg(c, "leadIds");
    if (!tok || !*tok) {
        reply_error(c, "701", "nextPageToken cannot be blank");
        return;
    }
    if (!types || !*types) {
        reply_error(c, "701", "activityTypeIds cannot be blank");
        return;
    }
    int bs;
    if (batch_size(c, &bs) != 0)
        return;
    int64_t tsec, pos;
    if (read_token(tok, "act", &tsec, &pos) != 0 || pos < 0) {
        reply_error(c, "1003", "Invalid nextPageToken");
        return;
    }
    char *tbuf = strdup(types), *lbuf = leads ? strdup(leads) : NULL;
    char *tv[16], *lv[40];
    int64_t tid[10], lid[30];
    size_t nt = tbuf ? split_csv(tbuf, tv, 16) : 0, nl = lbuf ? split_csv(lbuf, lv, 40) : 0;
    if (nt > 10) {
        reply_error(c, "1003", "Too many activityTypeIds: at most 10 are allowed");
        goto out;
    }
    if (nl > 30) {
        reply_error(c, "1003", "Too many leadIds: at most 30 are allowed");
        goto out;
    }
    for (size_t i = 0; i < nt; i++) {
        if (parse_i64(tv[i], &tid[i]) != 0) {
            reply_error(c, "1001", "Invalid value '%s'. Required of type 'integer'", tv[i]);
            goto out;
        }
    }
    for (size_t i = 0; i < nl; i++) {
        if (parse_i64(lv[i], &lid[i]) != 0) {
            reply_error(c, "1001", "Invalid value '%s'. Required of type 'integer'", lv[i]);
            goto out;
        }
    }
    json_t *res = json_array();
    size_t i = (size_t)pos > c->s->n_act ? c->s->n_act : (size_t)pos;
    size_t end = i + ACTIVITY_SCAN_WINDOW < c->s->n_act ? i + ACTIVITY_SCAN_WINDOW : c->s->n_act;
    for (; i < end && (int)json_array_size(res) < bs; i++) {
        const mkto_activity *a = &c->s->act[i];
        int ok = 0;
        for (size_t k = 0; k < nt && !ok; k++)
            ok = a->type == tid[k];
        if (ok && nl > 0) {
            ok = 0;
            for (size_t k = 0; k < nl && !ok; k++)
                ok = a->lead_id == lid[k];
        }
        if (ok)
            json_array_append_new(res, activity_json(a));
    }
    char *next = make_token("act:%lld:%zu", (long long)tsec, i);
    int more = i < c->s->n_act;
    if (json_array_size(res) == 0) {
        json_decref(res);
        res = NULL;
    }
    reply_result(c, res, more, next);
    free(next);
out:
    free(tbuf);
    free(lbuf);
}

/* ---- bulk program member extract (jobs in mkto_bulk.c) ---- */

static void export_reply(ctx *c, json_t *job, const mkto_bulk_err *e)
{
    if (!job) {
        reply_error(c, e->code, "%s", e->msg);
        return;
    }
    reply_result(c, json_pack("[o]", job), -1, NULL);
}

static void export_create(ctx *c)
{
    json_t *body = NULL;
    if (body_json(c, &body) != 0)
        return;
    mkto_bulk_err e = {.code = ""};
    export_reply(c, mkto_export_create(c->s, body, c->now, &e), &e);
    json_decref(body);
}

static void export_job(ctx *c, json_t *(*op)(mkto_state *, const char *, int64_t, mkto_bulk_err *),
                       const char *xid)
{
    mkto_bulk_err e = {.code = ""};
    export_reply(c, op(c->s, xid, c->now, &e), &e);
}

/* The file itself, not an envelope (errors still come as envelopes). */
static void export_file(ctx *c, const char *xid)
{
    mkto_bulk_err e = {.code = ""};
    const mkto_export *x = mkto_export_file(c->s, xid, c->now, &e);
    if (!x) {
        reply_error(c, e.code, "%s", e.msg);
        return;
    }
    sbx_respond_raw(c->resp, 200, "text/csv;charset=UTF-8", x->file ? x->file : "", x->file_len);
}

/* ---- routing ---- */

/* path == prefix + digits + suffix: 1 and the number in *id. */
static int match_id(const char *path, const char *prefix, const char *suffix, int64_t *id)
{
    size_t pl = strlen(prefix);
    if (strncmp(path, prefix, pl) != 0)
        return 0;
    const char *p = path + pl;
    int nd = 0;
    int64_t v = 0;
    while (isdigit((unsigned char)*p) && nd < 18) {
        v = v * 10 + (*p - '0');
        p++;
        nd++;
    }
    if (nd == 0 || strcmp(p, suffix) != 0)
        return 0;
    *id = v;
    return 1;
}

typedef enum {
    R_NONE,
    R_PROGRAMS,
    R_PROGRAM_ID,
    R_PROGRAM_NAME,
    R_CHANNELS,
    R_CHANNEL_NAME,
    R_MEMBERS,
    R_MEMBERS_STATUS,
    R_MEMBERS_DELETE,
    R_LEADS,
    R_LEAD_ID,
    R_ACT_TYPES,
    R_ACT_TOKEN,
    R_ACTIVITIES,
    R_EXPORT_CREATE,
    R_EXPORT_ENQUEUE,
    R_EXPORT_STATUS,
    R_EXPORT_FILE,
    R_EXPORT_CANCEL,
} route;

#define EXPORT_BASE "/bulk/v1/program/members/export/"

/* EXPORT_BASE + "<exportId>/<action>.json": the route, with the id in xid. */
static route export_route(const char *path, char *xid, size_t xn, const char **label)
{
    static const struct {
        const char *suffix, *label;
        route r;
    } acts[] = {
        {"/enqueue.json", "/bulk/v1/program/members/export/{exportId}/enqueue.json",
         R_EXPORT_ENQUEUE},
        {"/status.json", "/bulk/v1/program/members/export/{exportId}/status.json", R_EXPORT_STATUS},
        {"/file.json", "/bulk/v1/program/members/export/{exportId}/file.json", R_EXPORT_FILE},
        {"/cancel.json", "/bulk/v1/program/members/export/{exportId}/cancel.json", R_EXPORT_CANCEL},
    };
    const char *rest = path + strlen(EXPORT_BASE);
    if (strcmp(rest, "create.json") == 0)
        return *label = "/bulk/v1/program/members/export/create.json", R_EXPORT_CREATE;
    size_t idlen = strcspn(rest, "/");
    if (idlen == 0 || idlen >= xn)
        return R_NONE;
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        if (strcmp(rest + idlen, acts[i].suffix) == 0) {
            memcpy(xid, rest, idlen);
            xid[idlen] = '\0';
            *label = acts[i].label;
            return acts[i].r;
        }
    }
    return R_NONE;
}

static route route_of(const char *path, int64_t *id, char *xid, size_t xn, const char **label)
{
    if (strncmp(path, EXPORT_BASE, strlen(EXPORT_BASE)) == 0) {
        route r = export_route(path, xid, xn, label);
        if (r != R_NONE)
            return r;
    }
    if (strcmp(path, "/rest/asset/v1/programs.json") == 0)
        return *label = "/rest/asset/v1/programs.json", R_PROGRAMS;
    if (strcmp(path, "/rest/asset/v1/program/byName.json") == 0)
        return *label = "/rest/asset/v1/program/byName.json", R_PROGRAM_NAME;
    if (match_id(path, "/rest/asset/v1/program/", ".json", id))
        return *label = "/rest/asset/v1/program/{id}.json", R_PROGRAM_ID;
    if (strcmp(path, "/rest/asset/v1/channels.json") == 0)
        return *label = "/rest/asset/v1/channels.json", R_CHANNELS;
    if (strcmp(path, "/rest/asset/v1/channel/byName.json") == 0)
        return *label = "/rest/asset/v1/channel/byName.json", R_CHANNEL_NAME;
    if (match_id(path, "/rest/v1/programs/", "/members.json", id))
        return *label = "/rest/v1/programs/{id}/members.json", R_MEMBERS;
    if (match_id(path, "/rest/v1/programs/", "/members/status.json", id))
        return *label = "/rest/v1/programs/{id}/members/status.json", R_MEMBERS_STATUS;
    if (match_id(path, "/rest/v1/programs/", "/members/delete.json", id))
        return *label = "/rest/v1/programs/{id}/members/delete.json", R_MEMBERS_DELETE;
    if (strcmp(path, "/rest/v1/leads.json") == 0)
        return *label = "/rest/v1/leads.json", R_LEADS;
    if (match_id(path, "/rest/v1/lead/", ".json", id))
        return *label = "/rest/v1/lead/{id}.json", R_LEAD_ID;
    if (strcmp(path, "/rest/v1/activities/types.json") == 0)
        return *label = "/rest/v1/activities/types.json", R_ACT_TYPES;
    if (strcmp(path, "/rest/v1/activities/pagingtoken.json") == 0)
        return *label = "/rest/v1/activities/pagingtoken.json", R_ACT_TOKEN;
    if (strcmp(path, "/rest/v1/activities.json") == 0)
        return *label = "/rest/v1/activities.json", R_ACTIVITIES;
    *label = "(unknown)";
    return R_NONE;
}

static void dispatch(ctx *c, route r, int64_t id, const char *xid)
{
    int get = c->is_get;
    switch (r) {
    case R_EXPORT_CREATE:
        !get ? export_create(c) : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_EXPORT_ENQUEUE:
        !get ? export_job(c, mkto_export_enqueue, xid)
             : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_EXPORT_CANCEL:
        !get ? export_job(c, mkto_export_cancel, xid)
             : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_EXPORT_STATUS:
        get ? export_job(c, mkto_export_status, xid)
            : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_EXPORT_FILE:
        get ? export_file(c, xid) : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_PROGRAMS:
        get ? programs_list(c) : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_PROGRAM_ID:
        get ? program_by_id(c, id) : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_PROGRAM_NAME:
        get ? program_by_name(c) : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_CHANNELS:
        get ? channels_list(c) : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_CHANNEL_NAME:
        get ? channel_by_name(c) : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_MEMBERS:
        get ? members_query(c, id) : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_MEMBERS_STATUS:
        !get ? members_status(c, id) : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_MEMBERS_DELETE:
        !get ? members_delete(c, id) : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_LEADS:
        get ? leads_query(c) : leads_sync(c);
        return;
    case R_LEAD_ID:
        get ? lead_by_id(c, id) : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_ACT_TYPES:
        get ? reply_result(c, activity_types(), -1, NULL)
            : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_ACT_TOKEN:
        get ? paging_token(c) : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_ACTIVITIES:
        get ? activities(c) : reply_error(c, "605", "HTTP Method not supported");
        return;
    case R_NONE:
        reply_error(c, "610", "Requested resource not found");
        return;
    }
}

void mkto_handle(void *state, const sbx_request *req, sbx_response *resp)
{
    mkto_state *s = state;
    ctx c = {.s = s, .req = req, .resp = resp, .now = req->now_ms};
    const char *method = req->method ? req->method : "";
    const char *path = req->path ? req->path : "";
    pthread_mutex_lock(&s->mu);
    if (strcmp(path, "/identity/oauth/token") == 0) {
        identity(&c);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    const char *mo = arg(&c, "_method");
    c.is_get =
        strcmp(method, "GET") == 0 || (strcmp(method, "POST") == 0 && mo && strcmp(mo, "GET") == 0);
    int64_t id = 0;
    char xid[64] = "";
    const char *label;
    route r = route_of(path, &id, xid, sizeof xid, &label);
    snprintf(resp->endpoint, sizeof resp->endpoint, "%s %s", c.is_get ? "GET" : method, label);

    if (check_token(&c) != 0)
        goto done;
    switch (req->fault) {
    case SBX_FAULT_TRANSIENT:
        if (s->transient_flip++ % 2 == 0)
            reply_error(&c, "608", "API Temporarily Unavailable");
        else
            reply_error(&c, "713", "Transient Error");
        goto done;
    case SBX_FAULT_SERVER_ERROR:
        sbx_respond_raw(resp, 503, "text/html",
                        "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                        71);
        goto done;
    case SBX_FAULT_RATE_LIMIT:
        reply_error(&c, "606", "Max rate limit '%lld' exceeded with in '20' secs",
                    (long long)s->lim_per20);
        goto done;
    case SBX_FAULT_NONE:
        break;
    }
    if (check_limits(&c) != 0)
        goto done;
    dispatch(&c, r, id, xid);
done:
    pthread_mutex_unlock(&s->mu);
}
