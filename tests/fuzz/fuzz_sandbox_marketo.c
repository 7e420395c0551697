/*
 * Fuzz target for the sandbox's Marketo simulator: drives
 * sbx_marketo_ops.handle (and .admin) directly with a fuzzed method, path,
 * query string, content type, clock, fault and body, on a small fresh state
 * per input, so every endpoint's parameter and body parsing meets garbage.
 * The simulator must answer every input with a status and, for REST calls,
 * an envelope; it must never crash or leak.
 *
 * Input: five lines, then the body:
 *   METHOD (or ADMIN)   PATH (or admin action)   QUERY (k=v&...)
 *   CONTENT-TYPE        CONTROL (digits: fault, inflight, clock offset in
 *                       minutes; a leading 'x' sends no Authorization)
 */
#include "sbx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char dataset[] =
    "{\"client_id\":\"c\",\"client_secret\":\"s\",\"limits\":{\"calls_per_20s\":5,"
    "\"concurrent\":2,\"daily\":8},"
    "\"channels\":[{\"id\":1,\"name\":\"Webinar\",\"applicableProgramType\":\"event\","
    "\"progressionStatuses\":[{\"name\":\"Invited\",\"step\":10},{\"name\":\"Registered\","
    "\"step\":20},{\"name\":\"Attended\",\"step\":40,\"success\":true}]}],"
    "\"programs\":[{\"id\":1001,\"name\":\"P\",\"channel\":\"Webinar\",\"costs\":[]},"
    "{\"id\":1002,\"name\":\"Q\",\"channel\":\"Webinar\"}],"
    "\"leads\":[{\"id\":1,\"email\":\"a@x.com\"},{\"id\":2,\"email\":\"A@x.com\","
    "\"sfdcLeadId\":\"00Q000000000001AAA\"},{\"id\":3}],"
    "\"members\":[{\"programId\":1001,\"leadId\":1,\"statusName\":\"Registered\"},"
    "{\"programId\":1001,\"leadId\":2,\"statusName\":\"Invited\"}]}";

typedef struct {
    const char *query;
    const char *ctype;
    const char *body;
    char auth[128];
    int no_auth;
    char *vals[32];
    int n_vals;
} fz;

static const char *fz_arg(const sbx_request *r, const char *name)
{
    fz *f = r->impl;
    char *v = sbx_form_value(f->query, name);
    if (!v && f->ctype && strstr(f->ctype, "x-www-form-urlencoded"))
        v = sbx_form_value(f->body, name);
    if (!v)
        return NULL;
    if (f->n_vals == 32) {
        free(v);
        return NULL;
    }
    f->vals[f->n_vals++] = v;
    return v;
}

static const char *fz_header(const sbx_request *r, const char *name)
{
    fz *f = r->impl;
    if (strcmp(name, "Content-Type") == 0)
        return f->ctype[0] ? f->ctype : NULL;
    if (strcmp(name, "Authorization") == 0 && !f->no_auth)
        return f->auth;
    return NULL;
}

/* Next line of the input (NUL-terminated in place), or "" at the end. */
static char *line(char **p, char *end)
{
    char *s = *p;
    if (s >= end)
        return end;
    char *nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl) {
        *p = end;
        return s;
    }
    *nl = '\0';
    *p = nl + 1;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *p = buf, *end = buf + size;
    char *method = line(&p, end), *path = line(&p, end), *query = line(&p, end);
    char *ctype = line(&p, end), *control = line(&p, end);
    char *body = p;
    size_t body_len = (size_t)(end - p);

    json_t *ds = json_loads(dataset, 0, NULL);
    char err[256];
    void *st = sbx_marketo_ops.create(ds, 1, err, sizeof err);
    json_decref(ds);
    if (!st) {
        fprintf(stderr, "fuzz: dataset rejected: %s\n", err);
        abort();
    }
    const int64_t base = 1767571200000LL;

    /* A valid token first, so fuzzed calls get past auth. */
    fz tf = {.query = "grant_type=client_credentials&client_id=c&client_secret=s",
             .ctype = "",
             .body = ""};
    sbx_request tr = {.method = "GET",
                      .path = "/identity/oauth/token",
                      .body = "",
                      .now_ms = base,
                      .arg = fz_arg,
                      .header = fz_header,
                      .impl = &tf};
    sbx_response tresp = {.status = 200};
    sbx_marketo_ops.handle(st, &tr, &tresp);
    json_t *tj = json_loadb(tresp.body, tresp.body_len, 0, NULL);
    fz f = {.query = query, .ctype = ctype, .body = body};
    snprintf(f.auth, sizeof f.auth, "Bearer %s",
             json_string_value(json_object_get(tj, "access_token")) ?: "");
    json_decref(tj);
    free(tresp.body);
    for (int i = 0; i < tf.n_vals; i++)
        free(tf.vals[i]);

    f.no_auth = control[0] == 'x';
    const char *c = control + f.no_auth;
    int fault = c[0] >= '0' && c[0] <= '3' ? c[0] - '0' : 0;
    int inflight = c[0] && c[1] >= '0' && c[1] <= '9' ? c[1] - '0' : 1;
    long minutes = c[0] && c[1] ? strtol(c + 2, NULL, 10) : 0;
    if (minutes > 5000000 || minutes < -5000000) /* about ten years */
        minutes = 0;

    if (strcmp(method, "ADMIN") == 0) {
        json_t *jb = json_loadb(body, body_len, 0, NULL);
        json_t *out = NULL;
        int rc = sbx_marketo_ops.admin(st, path, jb, base + minutes * 60000, &out);
        if (rc < 200 || rc > 599 || !out)
            abort();
        json_decref(out);
        json_decref(jb);
    } else {
        /* The same request a few times, so the rate limits trip too. */
        for (int k = 0; k < 3; k++) {
            sbx_request r = {.method = method,
                             .path = path,
                             .url_length = size,
                             .body = body,
                             .body_len = body_len,
                             .fault = (sbx_fault)fault,
                             .now_ms = base + minutes * 60000,
                             .arg = fz_arg,
                             .header = fz_header,
                             .impl = &f,
                             .inflight = inflight};
            sbx_response resp = {.status = 200};
            sbx_marketo_ops.handle(st, &r, &resp);
            if (resp.status < 200 || resp.status > 599 || (resp.body_len && !resp.body))
                abort();
            if (resp.status == 200 && strncmp(path, "/rest/", 6) == 0) {
                json_t *j = json_loadb(resp.body, resp.body_len, 0, NULL);
                if (!j || !json_is_boolean(json_object_get(j, "success")))
                    abort();
                json_decref(j);
            }
            free(resp.body);
        }
    }
    for (int i = 0; i < f.n_vals; i++)
        free(f.vals[i]);
    sbx_marketo_ops.destroy(st);
    free(buf);
    return 0;
}
