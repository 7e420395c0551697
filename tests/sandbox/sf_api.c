/*
 * The Salesforce REST API as campsync sees it, on top of sfs_store.c and
 * sfs_query.c: OAuth 2.0 token endpoint (client credentials and JWT bearer),
 * the identity URL, /services/data/vNN.0/ (limits, query, queryAll, sObject
 * rows, describe, sObject Collections create/update/upsert/delete), API usage
 * accounting with the Sforce-Limit-Info header and the daily limit, emulated
 * faults, and the admin actions a test uses to play a Salesforce user.
 *
 * Wire fidelity is the point: status codes, error bodies
 * ([{"message","errorCode","fields"}], per-record {"statusCode",..}),
 * field names and formats follow the real API so connectors tested here work
 * against Salesforce.
 *
 * JWT bearer: the assertion's payload is decoded and iss/sub/exp are checked;
 * the RS256 signature is NOT verified (the sandbox holds no certificate).
 *
 * Faults asked for by the framework: SERVER_ERROR and RATE_LIMIT answer 503;
 * TRANSIENT makes writes fail with UNABLE_TO_LOCK_ROW (per record inside
 * collections, HTTP 400 for a single-record call) and reads answer 503
 * (a read takes no lock in Salesforce). Faulted calls still count against the
 * daily API limit, as Salesforce counts every authenticated call.
 *
 * Call-accounting labels (sbx_response.endpoint): "POST oauth2/token",
 * "GET identity", "GET versions", "GET query", "GET queryAll", "GET limits",
 * "GET|POST|PATCH|DELETE sobjects", "GET describe", "PATCH sobjects upsert",
 * "POST|PATCH|DELETE composite/sobjects", "GET composite/sobjects",
 * "PATCH composite/sobjects upsert"; calls refused before reaching an
 * endpoint (bad version, no valid session) count as "GET data".
 */
#include "sbx.h"
#include "sf_admin.h"
#include "sf_query.h"
#include "sf_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SF_COLLECTION_MAX 200
#define SF_MAX_SEGMENTS 10

/* One request being served (all under the state's mutex). */
typedef struct {
    sfs_state *st;
    const sbx_request *req;
    sbx_response *resp;
    char *seg[SF_MAX_SEGMENTS];
    int n_seg;
    const char *version; /* "v59.0" */
    char user[19];
} sfs_call;

/* ---- responses ---- */

/* Sets a JSON answer (takes the reference). Doubles are written with 15
 * significant digits, as Salesforce writes them (0.4, not 0.40000000000000002),
 * and text stays UTF-8. */
static void sfs_respond(sbx_response *resp, int status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(j);
    free(resp->body);
    resp->status = status;
    resp->body = text ? text : strdup("[]");
    resp->body_len = resp->body ? strlen(resp->body) : 0;
    snprintf(resp->content_type, sizeof resp->content_type, "%s", "application/json;charset=UTF-8");
}

static json_t *sfs_errors_json(const sfs_err *err, const char *code_key)
{
    json_t *fields = json_array();
    for (int i = 0; i < err->n_fields; i++)
        json_array_append_new(fields, sfs_json_text(err->fields[i], strlen(err->fields[i])));
    return json_pack("{s:s,s:o,s:o}", code_key, err->code, "message",
                     sfs_json_text(err->message, strlen(err->message)), "fields", fields);
}

static void sfs_reply_error(sfs_call *c, int status, const char *code, const char *message)
{
    sfs_respond(c->resp, status, sfs_error_array(code, message));
}

/* Single-record errors: [{"message","errorCode","fields"}]. */
static void sfs_reply_record_error(sfs_call *c, int status, const sfs_err *err)
{
    json_t *e = sfs_errors_json(err, "errorCode");
    json_t *arr = json_array();
    json_t *ordered =
        json_pack("{s:O,s:O,s:O}", "message", json_object_get(e, "message"), "errorCode",
                  json_object_get(e, "errorCode"), "fields", json_object_get(e, "fields"));
    json_decref(e);
    json_array_append_new(arr, ordered);
    sfs_respond(c->resp, status, arr);
}

static void sfs_reply_not_found(sfs_call *c)
{
    sfs_reply_error(c, 404, "NOT_FOUND", "The requested resource does not exist");
}

static void sfs_reply_method(sfs_call *c, const char *allowed)
{
    char msg[160];
    snprintf(msg, sizeof msg, "HTTP Method '%s' not allowed. Allowed are %s", c->req->method,
             allowed);
    sfs_reply_error(c, 405, "METHOD_NOT_ALLOWED", msg);
}

static void sfs_endpoint(sfs_call *c, const char *label)
{
    snprintf(c->resp->endpoint, sizeof c->resp->endpoint, "%s", label);
}

static int sfs_method(const sfs_call *c, const char *m)
{
    return strcmp(c->req->method, m) == 0;
}

static const char *sfs_arg(const sfs_call *c, const char *name)
{
    return c->req->arg ? c->req->arg(c->req, name) : NULL;
}

static const char *sfs_header(const sfs_call *c, const char *name)
{
    return c->req->header ? c->req->header(c->req, name) : NULL;
}

/* Parses the JSON body; on failure replies 400 JSON_PARSER_ERROR. */
static json_t *sfs_body_json(sfs_call *c)
{
    json_error_t jerr;
    json_t *j = json_loadb(c->req->body ? c->req->body : "", c->req->body_len, 0, &jerr);
    if (!j) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "Unexpected character or end of input: %s at [line:%d, column:%d]", jerr.text,
                 jerr.line, jerr.column);
        sfs_reply_error(c, 400, "JSON_PARSER_ERROR", msg);
    }
    return j;
}

static void sfs_instance_url(const sfs_call *c, char *out, size_t len)
{
    const char *host = sfs_header(c, "Host");
    snprintf(out, len, "http://%s", host && *host ? host : "localhost");
}

/* ---- OAuth ---- */

static void sfs_oauth_error(sfs_call *c, const char *error, const char *description)
{
    sfs_respond(c->resp, 400,
                json_pack("{s:s,s:s}", "error", error, "error_description", description));
}

static uint64_t sfs_rand(sfs_state *st)
{
    uint64_t z = (st->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void sfs_tokens_sweep(sfs_state *st, int64_t now_ms)
{
    for (size_t i = 0; i < st->tokens.cap;) {
        char *key = st->tokens.keys[i];
        sfs_token *t = key ? st->tokens.vals[i] : NULL;
        if (t && t->expires_ms <= now_ms) {
            /* Deleting shifts later entries back into slot i: look at it again. */
            free(sfs_map_del(&st->tokens, key));
            continue;
        }
        i++;
    }
}

static sfs_rec *sfs_user_by_username(sfs_state *st, const char *username)
{
    sfs_object *users = sfs_object_find(st, "User");
    for (size_t i = 0; i < users->recs.n; i++) {
        sfs_rec *u = users->recs.items[i];
        const char *name = json_string_value(json_object_get(u->f, "Username"));
        if (!u->deleted && name && strcasecmp(name, username) == 0)
            return u;
    }
    return NULL;
}

/* Checks a JWT bearer assertion; returns the user or NULL after replying. */
static sfs_rec *sfs_jwt_user(sfs_call *c, const char *assertion)
{
    const char *dot1 = assertion ? strchr(assertion, '.') : NULL;
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    size_t n = 0;
    char *payload = dot2 ? sfs_base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &n) : NULL;
    json_t *claims = payload ? json_loadb(payload, n, 0, NULL) : NULL;
    free(payload);
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    json_t *exp = json_object_get(claims, "exp");
    /* The audience is the login server: Salesforce's own, or this sandbox. */
    char self[256];
    sfs_instance_url(c, self, sizeof self);
    size_t self_len = strlen(self);
    int aud_ok = aud && (strcmp(aud, "https://login.salesforce.com") == 0 ||
                         strcmp(aud, "https://test.salesforce.com") == 0 ||
                         (strncmp(aud, self, self_len) == 0 &&
                          (aud[self_len] == '\0' || strcmp(aud + self_len, "/") == 0)));
    sfs_rec *user = NULL;
    if (!iss || !sub || !json_is_number(exp)) {
        sfs_oauth_error(c, "invalid_grant", "invalid assertion");
    } else if (!aud_ok) {
        sfs_oauth_error(c, "invalid_grant", "audience is invalid");
    } else if (strcmp(iss, c->st->client_id) != 0) {
        sfs_oauth_error(c, "invalid_client_id", "client identifier invalid");
    } else if ((int64_t)(json_number_value(exp) * 1000) < c->req->now_ms) {
        sfs_oauth_error(c, "invalid_grant", "invalid assertion");
    } else if (!(user = sfs_user_by_username(c->st, sub))) {
        sfs_oauth_error(c, "invalid_grant", "invalid assertion");
    } else if (!json_is_true(json_object_get(user->f, "IsActive"))) {
        sfs_oauth_error(c, "invalid_grant", "inactive user");
        user = NULL;
    }
    json_decref(claims);
    return user;
}

static void sfs_oauth_token(sfs_call *c)
{
    sfs_endpoint(c, "POST oauth2/token");
    if (!sfs_method(c, "POST")) {
        sfs_reply_method(c, "POST");
        return;
    }
    sfs_state *st = c->st;
    char *grant = sbx_form_value(c->req->body, "grant_type");
    char *client_id = sbx_form_value(c->req->body, "client_id");
    char *secret = sbx_form_value(c->req->body, "client_secret");
    char *assertion = sbx_form_value(c->req->body, "assertion");
    const char *user_id = NULL;
    if (!grant) {
        sfs_oauth_error(c, "unsupported_grant_type", "grant type not supported");
    } else if (strcmp(grant, "client_credentials") == 0) {
        if (!client_id || strcmp(client_id, st->client_id) != 0)
            sfs_oauth_error(c, "invalid_client_id", "client identifier invalid");
        else if (!secret || strcmp(secret, st->client_secret) != 0)
            sfs_oauth_error(c, "invalid_client", "invalid client credentials");
        else
            user_id = st->integration_user;
    } else if (strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer") == 0) {
        sfs_rec *u = sfs_jwt_user(c, assertion);
        if (u)
            user_id = u->id;
    } else {
        sfs_oauth_error(c, "unsupported_grant_type", "grant type not supported");
    }
    free(grant);
    free(client_id);
    free(secret);
    free(assertion);
    if (!user_id)
        return;
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    char token[128];
    int len = snprintf(token, sizeof token, "%.15s!AQ", st->org_id);
    for (int i = 0; i < 96; i++)
        token[len++] = chars[sfs_rand(st) % 64];
    token[len] = '\0';
    if (st->tokens.n > 1000)
        sfs_tokens_sweep(st, c->req->now_ms);
    sfs_token *t = calloc(1, sizeof *t);
    if (!t || sfs_map_put(&st->tokens, token, t) != 0) {
        free(t);
        sfs_reply_error(c, 500, "UNKNOWN_EXCEPTION", "out of memory");
        return;
    }
    memcpy(t->user, user_id, 19);
    t->expires_ms = c->req->now_ms + st->token_ttl_ms;
    char base[256], id_url[320], issued[32];
    sfs_instance_url(c, base, sizeof base);
    snprintf(id_url, sizeof id_url, "%s/id/%s/%s", base, st->org_id, user_id);
    snprintf(issued, sizeof issued, "%lld", (long long)c->req->now_ms);
    /* signature = base64(HMAC-SHA256(id + issued_at, client secret)), as Salesforce signs. */
    char signed_text[400];
    int sl = snprintf(signed_text, sizeof signed_text, "%s%s", id_url, issued);
    uint8_t mac[32];
    sfs_hmac_sha256(st->client_secret, strlen(st->client_secret), signed_text, (size_t)sl, mac);
    char *sig = sfs_base64_encode(mac, sizeof mac);
    sfs_respond(c->resp, 200,
                json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "access_token", token, "signature",
                          sig ? sig : "", "instance_url", base, "id", id_url, "token_type",
                          "Bearer", "issued_at", issued));
    free(sig);
}

/* Resolves the bearer token; replies 401 and returns -1 when it isn't valid. */
static int sfs_authenticate(sfs_call *c)
{
    const char *auth = sfs_header(c, "Authorization");
    const char *tok = NULL;
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        tok = auth + 7;
    else if (auth && strncasecmp(auth, "OAuth ", 6) == 0)
        tok = auth + 6;
    while (tok && *tok == ' ')
        tok++;
    sfs_token *t = tok ? sfs_map_get(&c->st->tokens, tok) : NULL;
    if (t && t->expires_ms <= c->req->now_ms) {
        free(sfs_map_del(&c->st->tokens, tok));
        t = NULL;
    }
    if (!t) {
        sfs_reply_error(c, 401, "INVALID_SESSION_ID", "Session expired or invalid");
        return -1;
    }
    memcpy(c->user, t->user, 19);
    return 0;
}

static void sfs_identity(sfs_call *c)
{
    sfs_endpoint(c, "GET identity");
    if (sfs_authenticate(c) != 0)
        return;
    if (!sfs_method(c, "GET")) {
        sfs_reply_method(c, "GET");
        return;
    }
    char org[19], user[19];
    if (sfs_id_normalize(c->seg[1], strlen(c->seg[1]), org) != 0 ||
        sfs_id_normalize(c->seg[2], strlen(c->seg[2]), user) != 0 ||
        strcmp(org, c->st->org_id) != 0) {
        sfs_reply_not_found(c);
        return;
    }
    sfs_rec *u = sfs_map_get(&c->st->by_id, user);
    if (!u || u->deleted || strcmp(u->obj->name, "User") != 0) {
        sfs_reply_not_found(c);
        return;
    }
    char base[256], id_url[320], rest[320];
    sfs_instance_url(c, base, sizeof base);
    snprintf(id_url, sizeof id_url, "%s/id/%s/%s", base, org, user);
    snprintf(rest, sizeof rest, "%s/services/data/v{version}/", base);
    json_t *f = u->f;
    json_t *j = json_pack(
        "{s:s,s:b,s:s,s:s,s:O,s:O,s:O,s:O,s:O,s:b,s:s,s:s,s:s,s:i,s:O,s:{s:s,s:s+,s:s+,s:s+}}",
        "id", id_url, "asserted_user", 1, "user_id", user, "organization_id", org, "username",
        json_object_get(f, "Username") ? json_object_get(f, "Username") : json_null(),
        "display_name", json_object_get(f, "Name") ? json_object_get(f, "Name") : json_null(),
        "email", json_object_get(f, "Email") ? json_object_get(f, "Email") : json_null(),
        "first_name",
        json_object_get(f, "FirstName") ? json_object_get(f, "FirstName") : json_null(),
        "last_name", json_object_get(f, "LastName") ? json_object_get(f, "LastName") : json_null(),
        "active", json_is_true(json_object_get(f, "IsActive")), "user_type", "STANDARD", "language",
        "en_US", "locale", "en_US", "utcOffset", 0, "last_modified_date",
        json_object_get(f, "LastModifiedDate") ? json_object_get(f, "LastModifiedDate")
                                               : json_null(),
        "urls", "rest", rest, "sobjects", rest, "sobjects/", "query", rest, "query/", "limits",
        rest, "limits/");
    sfs_respond(c->resp, 200, j);
}

/* ---- limits and faults ---- */

static void sfs_limit_header(sfs_call *c)
{
    char v[64];
    snprintf(v, sizeof v, "api-usage=%ld/%ld", c->st->api_used, c->st->daily_limit);
    sbx_add_header(c->resp, "Sforce-Limit-Info", v);
}

/* Counts the call against the org's daily limit; replies 403 past it. */
static int sfs_count_call(sfs_call *c)
{
    sfs_state *st = c->st;
    int64_t day = c->req->now_ms / 86400000LL;
    if (day != st->api_day) {
        st->api_day = day;
        st->api_used = 0;
    }
    if (st->api_used >= st->daily_limit) {
        sfs_reply_error(c, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.");
        return -1;
    }
    st->api_used++;
    return 0;
}

static void sfs_reply_unavailable(sfs_call *c)
{
    sfs_reply_error(c, 503, "SERVER_UNAVAILABLE",
                    "Server temporarily unavailable. Please try again later.");
}

/* ---- records ---- */

static json_t *sfs_record_json(const sfs_call *c, sfs_rec *r, const char *fields)
{
    json_t *out = json_pack(
        "{s:{s:s,s:o}}", "attributes", "type", r->obj->name, "url",
        json_sprintf("/services/data/%s/sobjects/%s/%s", c->version, r->obj->name, r->id));
    for (int i = 0; i < r->obj->n_fields; i++) {
        const char *name = r->obj->fields[i].name;
        if (fields) {
            int wanted = 0;
            const char *p = fields;
            size_t n = strlen(name);
            while (*p && !wanted) {
                const char *comma = strchr(p, ',');
                size_t l = comma ? (size_t)(comma - p) : strlen(p);
                wanted = l == n && strncasecmp(p, name, n) == 0;
                p = comma ? comma + 1 : p + l;
            }
            if (!wanted)
                continue;
        }
        json_t *v = json_object_get(r->f, name);
        json_object_set(out, name, v ? v : json_null());
    }
    return out;
}

/* Unknown names in a fields= list: replies 400 and returns -1. */
static int sfs_check_field_list(sfs_call *c, sfs_object *obj, const char *fields)
{
    const char *p = fields;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(l < 127 ? l : 127), p);
        if (!sfs_field_find(obj, name)) {
            char msg[512];
            snprintf(msg, sizeof msg,
                     "No such column '%s' on entity '%s'. If you are attempting to use a custom "
                     "field, be sure to append the '__c' after the custom field name. Please "
                     "reference your WSDL or the describe call for the appropriate names.",
                     name, obj->name);
            sfs_reply_error(c, 400, "INVALID_FIELD", msg);
            return -1;
        }
        p = comma ? comma + 1 : p + l;
    }
    return 0;
}

static sfs_object *sfs_visible_object(sfs_call *c, const char *name)
{
    sfs_object *obj = sfs_object_find(c->st, name);
    return obj && sfs_object_visible(c->st, obj, c->user) ? obj : NULL;
}

static void sfs_save_result(json_t *arr, const char *id, int ok, const sfs_err *err, int created)
{
    json_t *r = json_object();
    if (id)
        json_object_set_new(r, "id", sfs_json_text(id, strlen(id)));
    json_object_set_new(r, "success", json_boolean(ok));
    json_t *errors = json_array();
    if (!ok)
        json_array_append_new(errors, sfs_errors_json(err, "statusCode"));
    json_object_set_new(r, "errors", errors);
    if (created >= 0)
        json_object_set_new(r, "created", json_boolean(created));
    json_array_append_new(arr, r);
}

static void sfs_lock_error(sfs_err *err, const char *id)
{
    if (id)
        sfs_err_set(err, "UNABLE_TO_LOCK_ROW",
                    "unable to obtain exclusive access to this record or 1 records: %s", id);
    else
        sfs_err_set(err, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record");
}

/* Upserts one record by external id. Returns 0 and sets *created, or -1. */
static int sfs_upsert_one(sfs_call *c, sfs_object *obj, const sfs_field *ext, json_t *rec,
                          json_t *value, sfs_rec **out, int *created, sfs_err *err)
{
    *out = NULL;
    if (ext->type == SF_T_ID) {
        sfs_rec *r = json_is_string(value) ? sfs_rec_find(c->st, json_string_value(value)) : NULL;
        if (!r || r->obj != obj || r->deleted) {
            sfs_err_set(err, "NOT_FOUND",
                        "Provided external ID field does not exist or is not "
                        "accessible: %s",
                        json_is_string(value) ? json_string_value(value) : "");
            return -1;
        }
        *created = 0;
        *out = r;
        return sfs_update(c->st, r, rec, c->req->now_ms, c->user, err);
    }
    json_t *cv = sfs_coerce(ext, value, err);
    if (!cv)
        return -1;
    if (json_is_null(cv)) {
        json_decref(cv);
        sfs_err_set(err, "REQUIRED_FIELD_MISSING", "Required fields are missing: [%s]", ext->name);
        sfs_err_field(err, ext->name);
        return -1;
    }
    sfs_vec found = {0};
    if (sfs_store_lookup(c->st, obj, ext, cv, &found) != 0) {
        json_decref(cv);
        sfs_err_set(err, "UNKNOWN_EXCEPTION", "out of memory");
        return -1;
    }
    int rc;
    if (found.n > 1) {
        char ids[200] = "";
        for (size_t i = 0; i < found.n && i < 8; i++) {
            size_t l = strlen(ids);
            snprintf(ids + l, sizeof ids - l, "%s%s", i ? ", " : "",
                     ((sfs_rec *)found.items[i])->id);
        }
        sfs_err_set(err, "DUPLICATE_EXTERNAL_ID",
                    "%s: more than one record found for external id field: [%s]", ext->name, ids);
        sfs_err_field(err, ext->name);
        rc = -1;
    } else if (found.n == 1) {
        *created = 0;
        *out = found.items[0];
        json_t *input = json_copy(rec);
        json_object_del(input, ext->name);
        rc = sfs_update(c->st, found.items[0], input, c->req->now_ms, c->user, err);
        json_decref(input);
    } else {
        *created = 1;
        json_t *input = json_copy(rec);
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(input, tmp, k, v)
        {
            if (strcasecmp(k, ext->name) == 0)
                json_object_del(input, k);
        }
        json_object_set(input, ext->name, cv);
        rc = sfs_insert(c->st, obj, input, c->req->now_ms, c->user, out, err);
        json_decref(input);
    }
    sfs_vec_free(&found);
    json_decref(cv);
    return rc;
}

static void sfs_sobject_row(sfs_call *c, sfs_object *obj, const char *id_text)
{
    char norm[19];
    int is_id =
        sfs_id_normalize(id_text, strlen(id_text), norm) == 0 && strncmp(norm, obj->prefix, 3) == 0;
    sfs_rec *r = is_id ? sfs_map_get(&c->st->by_id, norm) : NULL;
    if (sfs_method(c, "GET")) {
        sfs_endpoint(c, "GET sobjects");
        if (!is_id) {
            char msg[300];
            snprintf(msg, sizeof msg,
                     "Provided external ID field does not exist or is not accessible: %s", id_text);
            sfs_reply_error(c, 404, "NOT_FOUND", msg);
            return;
        }
        if (!r || r->deleted) {
            sfs_reply_not_found(c);
            return;
        }
        const char *fields = sfs_arg(c, "fields");
        if (fields && sfs_check_field_list(c, obj, fields) != 0)
            return;
        sfs_respond(c->resp, 200, sfs_record_json(c, r, fields));
        return;
    }
    int is_patch = sfs_method(c, "PATCH"), is_delete = sfs_method(c, "DELETE");
    if (!is_patch && !is_delete) {
        sfs_endpoint(c, "GET sobjects");
        sfs_reply_method(c, "HEAD,GET,PATCH,DELETE");
        return;
    }
    sfs_endpoint(c, is_patch ? "PATCH sobjects" : "DELETE sobjects");
    if (!r) {
        sfs_reply_not_found(c);
        return;
    }
    if (r->deleted) {
        sfs_reply_error(c, 404, "ENTITY_IS_DELETED", "entity is deleted");
        return;
    }
    sfs_err err;
    memset(&err, 0, sizeof err);
    if (c->req->fault == SBX_FAULT_TRANSIENT) {
        sfs_lock_error(&err, NULL);
        sfs_reply_record_error(c, 400, &err);
        return;
    }
    int rc;
    if (is_patch) {
        json_t *body = sfs_body_json(c);
        if (!body)
            return;
        rc = sfs_update(c->st, r, body, c->req->now_ms, c->user, &err);
        json_decref(body);
    } else {
        rc = sfs_delete(c->st, r, c->req->now_ms, c->user, &err);
    }
    if (rc != 0) {
        sfs_reply_record_error(c, 400, &err);
        return;
    }
    sbx_respond_raw(c->resp, 204, NULL, "", 0);
}

static const sfs_field *sfs_external_field(sfs_call *c, sfs_object *obj, const char *name)
{
    const sfs_field *f = sfs_field_find(obj, name);
    char msg[300];
    if (!f) {
        snprintf(msg, sizeof msg,
                 "Provided external ID field does not exist or is not accessible: %s", name);
        sfs_reply_error(c, 404, "NOT_FOUND", msg);
        return NULL;
    }
    size_t n = strlen(f->name);
    int custom = n > 3 && strcmp(f->name + n - 3, "__c") == 0;
    if (f->type != SF_T_ID && !custom) {
        snprintf(msg, sizeof msg,
                 "Field Name provided, %s is not an External ID or indexed field for %s", f->name,
                 obj->name);
        sfs_reply_error(c, 400, "INVALID_FIELD", msg);
        return NULL;
    }
    return f;
}

static void sfs_sobject_upsert(sfs_call *c, sfs_object *obj, const char *field, const char *value)
{
    sfs_endpoint(c, "PATCH sobjects upsert");
    if (!sfs_method(c, "PATCH")) {
        sfs_reply_method(c, "PATCH");
        return;
    }
    const sfs_field *ext = sfs_external_field(c, obj, field);
    if (!ext)
        return;
    json_t *body = sfs_body_json(c);
    if (!body)
        return;
    sfs_err err;
    memset(&err, 0, sizeof err);
    sfs_rec *r = NULL;
    int created = 0;
    json_t *v = json_string(value);
    int rc;
    if (c->req->fault == SBX_FAULT_TRANSIENT) {
        sfs_lock_error(&err, NULL);
        rc = -1;
    } else {
        rc = sfs_upsert_one(c, obj, ext, body, v, &r, &created, &err);
    }
    json_decref(v);
    json_decref(body);
    if (rc != 0) {
        sfs_reply_record_error(c, strcmp(err.code, "NOT_FOUND") == 0 ? 404 : 400, &err);
        return;
    }
    sfs_respond(
        c->resp, created ? 201 : 200,
        json_pack("{s:s,s:b,s:[],s:b}", "id", r->id, "success", 1, "errors", "created", created));
}

static void sfs_sobject_create(sfs_call *c, sfs_object *obj)
{
    if (sfs_method(c, "GET")) {
        /* Basic information about the object. */
        sfs_endpoint(c, "GET sobjects");
        sfs_respond(
            c->resp, 200,
            json_pack(
                "{s:{s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:{s:o,s:o}},s:[]}", "objectDescribe", "name",
                obj->name, "keyPrefix", obj->prefix, "custom", obj->custom, "queryable", 1,
                "createable", 1, "updateable", 1, "deletable", 1, "urls", "sobject",
                json_sprintf("/services/data/%s/sobjects/%s", c->version, obj->name), "describe",
                json_sprintf("/services/data/%s/sobjects/%s/describe", c->version, obj->name),
                "recentItems"));
        return;
    }
    sfs_endpoint(c, "POST sobjects");
    if (!sfs_method(c, "POST")) {
        sfs_reply_method(c, "HEAD,GET,POST");
        return;
    }
    json_t *body = sfs_body_json(c);
    if (!body)
        return;
    sfs_err err;
    memset(&err, 0, sizeof err);
    sfs_rec *r = NULL;
    int rc;
    if (c->req->fault == SBX_FAULT_TRANSIENT) {
        sfs_lock_error(&err, NULL);
        rc = -1;
    } else {
        rc = sfs_insert(c->st, obj, body, c->req->now_ms, c->user, &r, &err);
    }
    json_decref(body);
    if (rc != 0) {
        sfs_reply_record_error(c, 400, &err);
        return;
    }
    sfs_respond(c->resp, 201, json_pack("{s:s,s:b,s:[]}", "id", r->id, "success", 1, "errors"));
}

static const char *sfs_type_name(sfs_type t)
{
    switch (t) {
    case SF_T_ID:
        return "id";
    case SF_T_REF:
        return "reference";
    case SF_T_EMAIL:
        return "email";
    case SF_T_BOOL:
        return "boolean";
    case SF_T_INT:
        return "int";
    case SF_T_DOUBLE:
        return "double";
    case SF_T_DATE:
        return "date";
    case SF_T_DATETIME:
        return "datetime";
    case SF_T_ANY:
        return "anyType";
    default:
        return "string";
    }
}

static void sfs_describe(sfs_call *c, sfs_object *obj)
{
    sfs_endpoint(c, "GET describe");
    if (!sfs_method(c, "GET")) {
        sfs_reply_method(c, "HEAD,GET");
        return;
    }
    json_t *fields = json_array();
    for (int i = 0; i < obj->n_fields; i++) {
        const sfs_field *f = &obj->fields[i];
        json_t *fd =
            json_pack("{s:s,s:s,s:b,s:b,s:b,s:b}", "name", f->name, "type", sfs_type_name(f->type),
                      "createable", (f->flags & SF_F_CREATE) != 0, "updateable",
                      (f->flags & SF_F_UPDATE) != 0, "nillable",
                      !(f->flags & SF_F_REQUIRED) && f->type != SF_T_BOOL && f->type != SF_T_ID,
                      "custom", strstr(f->name, "__c") != NULL);
        json_t *refs = json_array();
        if (f->type == SF_T_REF)
            json_array_append_new(refs, json_string(f->ref));
        json_object_set_new(fd, "referenceTo", refs);
        if (f->type == SF_T_REF && strlen(f->name) > 2 &&
            strcmp(f->name + strlen(f->name) - 2, "Id") == 0)
            json_object_set_new(fd, "relationshipName",
                                json_sprintf("%.*s", (int)strlen(f->name) - 2, f->name));
        else
            json_object_set_new(fd, "relationshipName", json_null());
        json_array_append_new(fields, fd);
    }
    sfs_respond(c->resp, 200,
                json_pack("{s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:o}", "name", obj->name, "keyPrefix",
                          obj->prefix, "custom", obj->custom, "queryable", 1, "createable", 1,
                          "updateable", 1, "deletable", 1, "fields", fields));
}

static void sfs_describe_global(sfs_call *c)
{
    sfs_endpoint(c, "GET sobjects");
    if (!sfs_method(c, "GET")) {
        sfs_reply_method(c, "HEAD,GET");
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < c->st->n_objs; i++) {
        sfs_object *obj = c->st->objs[i];
        if (!sfs_object_visible(c->st, obj, c->user))
            continue;
        json_array_append_new(
            list,
            json_pack(
                "{s:s,s:s,s:b,s:b,s:{s:o,s:o}}", "name", obj->name, "keyPrefix", obj->prefix,
                "custom", obj->custom, "queryable", 1, "urls", "sobject",
                json_sprintf("/services/data/%s/sobjects/%s", c->version, obj->name), "describe",
                json_sprintf("/services/data/%s/sobjects/%s/describe", c->version, obj->name)));
    }
    sfs_respond(
        c->resp, 200,
        json_pack("{s:s,s:i,s:o}", "encoding", "UTF-8", "maxBatchSize", 200, "sobjects", list));
}

/* ---- sObject Collections ---- */

/* Validates the shape and value types of a collection body up front, as
 * Salesforce rejects a badly typed request as a whole before saving anything. */
static json_t *sfs_collection_records(sfs_call *c, json_t *body, int *all_or_none)
{
    json_t *records = json_object_get(body, "records");
    json_t *aon = json_object_get(body, "allOrNone");
    if (!json_is_object(body) || !json_is_array(records) || (aon && !json_is_boolean(aon))) {
        sfs_reply_error(c, 400, "JSON_PARSER_ERROR",
                        "The request body must be an object with a \"records\" list and an "
                        "optional boolean \"allOrNone\"");
        return NULL;
    }
    if (json_array_size(records) > SF_COLLECTION_MAX) {
        sfs_reply_error(c, 400, "EXCEEDED_ID_LIMIT",
                        "record limit reached. cannot submit more than 200 records into this call");
        return NULL;
    }
    *all_or_none = json_is_true(aon);
    /* Records are saved in chunks of one type; a call may hold 10 chunks. */
    int chunks = 0;
    const char *prev = NULL;
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        const char *t =
            json_string_value(json_object_get(json_object_get(rec, "attributes"), "type"));
        if (!t || !prev || strcasecmp(t, prev) != 0)
            chunks++;
        prev = t;
    }
    if (chunks > 10) {
        sfs_reply_error(c, 400, "EXCEEDED_MAX_TYPES_LIMIT",
                        "Cannot have more than 10 chunks in a single operation. Please rearrange "
                        "the data to reduce chunking.");
        return NULL;
    }
    json_array_foreach(records, i, rec)
    {
        if (!json_is_object(rec)) {
            sfs_reply_error(c, 400, "JSON_PARSER_ERROR",
                            "Cannot deserialize instance of SObject from a value that is not an "
                            "object");
            return NULL;
        }
        const char *type =
            json_string_value(json_object_get(json_object_get(rec, "attributes"), "type"));
        sfs_object *obj = type ? sfs_object_find(c->st, type) : NULL;
        if (!obj)
            continue; /* reported per record */
        const char *key;
        json_t *value;
        json_object_foreach(rec, key, value)
        {
            const sfs_field *f = sfs_field_find(obj, key);
            sfs_err err;
            json_t *cv = f && f->type != SF_T_ID ? sfs_coerce(f, value, &err) : json_null();
            if (!cv) {
                sfs_reply_error(c, 400, "JSON_PARSER_ERROR", err.message);
                return NULL;
            }
            json_decref(cv);
        }
    }
    return records;
}

static sfs_object *sfs_record_type(sfs_call *c, json_t *rec, sfs_err *err)
{
    const char *type =
        json_string_value(json_object_get(json_object_get(rec, "attributes"), "type"));
    if (!type) {
        sfs_err_set(err, "INVALID_TYPE", "Each record must have attributes with a type.");
        return NULL;
    }
    sfs_object *obj = sfs_visible_object(c, type);
    if (!obj)
        sfs_err_set(err, "INVALID_TYPE", "sObject type '%s' is not supported.", type);
    return obj;
}

/* With allOrNone, a failure anywhere rolls everything back: the records that
 * had succeeded are reported as rolled back. */
static void sfs_all_or_none_finish(sfs_call *c, int all_or_none, int failed, int keep_ids,
                                   json_t *results)
{
    if (!all_or_none)
        return;
    if (!failed) {
        sfs_journal_commit(c->st);
        return;
    }
    sfs_journal_rollback(c->st);
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r)
    {
        if (!json_is_true(json_object_get(r, "success")))
            continue;
        sfs_err err;
        sfs_err_set(&err, "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "Record rolled back because not all records were valid and the request was "
                    "using AllOrNone header");
        json_t *nr = json_object();
        if (keep_ids && json_object_get(r, "id"))
            json_object_set(nr, "id", json_object_get(r, "id"));
        json_object_set_new(nr, "success", json_false());
        json_object_set_new(nr, "errors", json_pack("[o]", sfs_errors_json(&err, "statusCode")));
        json_array_set_new(results, i, nr);
    }
}

static void sfs_collection_create(sfs_call *c)
{
    sfs_endpoint(c, "POST composite/sobjects");
    json_t *body = sfs_body_json(c);
    if (!body)
        return;
    int aon = 0;
    json_t *records = sfs_collection_records(c, body, &aon);
    if (!records) {
        json_decref(body);
        return;
    }
    json_t *results = json_array();
    int failed = 0;
    if (aon)
        sfs_journal_begin(c->st);
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        sfs_err err;
        memset(&err, 0, sizeof err);
        sfs_rec *r = NULL;
        sfs_object *obj = sfs_record_type(c, rec, &err);
        int rc = -1;
        if (obj && c->req->fault == SBX_FAULT_TRANSIENT)
            sfs_lock_error(&err, NULL);
        else if (obj)
            rc = sfs_insert(c->st, obj, rec, c->req->now_ms, c->user, &r, &err);
        failed |= rc != 0;
        sfs_save_result(results, rc == 0 ? r->id : NULL, rc == 0, &err, -1);
    }
    sfs_all_or_none_finish(c, aon, failed, 0, results);
    json_decref(body);
    sfs_respond(c->resp, 200, results);
}

static sfs_rec *sfs_lookup_for_write(sfs_call *c, const char *id, sfs_object *want, sfs_err *err)
{
    char norm[19];
    if (!id || sfs_id_normalize(id, strlen(id), norm) != 0) {
        sfs_err_set(err, "MALFORMED_ID", "malformed id %s", id ? id : "");
        return NULL;
    }
    sfs_rec *r = sfs_map_get(&c->st->by_id, norm);
    if (want && strncmp(norm, want->prefix, 3) != 0) {
        sfs_err_set(err, "MALFORMED_ID", "malformed id %s", id);
        return NULL;
    }
    if (!r) {
        sfs_err_set(err, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id");
        return NULL;
    }
    if (!sfs_object_visible(c->st, r->obj, c->user)) {
        sfs_err_set(err, "INVALID_TYPE", "sObject type '%s' is not supported.", r->obj->name);
        return NULL;
    }
    if (r->deleted) {
        sfs_err_set(err, "ENTITY_IS_DELETED", "entity is deleted");
        return NULL;
    }
    return r;
}

static void sfs_collection_update(sfs_call *c)
{
    sfs_endpoint(c, "PATCH composite/sobjects");
    json_t *body = sfs_body_json(c);
    if (!body)
        return;
    int aon = 0;
    json_t *records = sfs_collection_records(c, body, &aon);
    if (!records) {
        json_decref(body);
        return;
    }
    json_t *results = json_array();
    int failed = 0;
    if (aon)
        sfs_journal_begin(c->st);
    sfs_map seen = {0};
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        sfs_err err;
        memset(&err, 0, sizeof err);
        json_t *idv = json_object_get(rec, "id");
        if (!idv)
            idv = json_object_get(rec, "Id");
        const char *id = json_string_value(idv);
        int rc = -1;
        sfs_object *obj = sfs_record_type(c, rec, &err);
        sfs_rec *r = NULL;
        if (obj && !id) {
            sfs_err_set(&err, "MISSING_ARGUMENT", "Id not specified in an update call");
        } else if (obj && (r = sfs_lookup_for_write(c, id, obj, &err)) != NULL) {
            if (sfs_map_get(&seen, r->id)) {
                sfs_err_set(&err, "DUPLICATE_VALUE", "Duplicate id in list: %s", r->id);
            } else if (c->req->fault == SBX_FAULT_TRANSIENT) {
                sfs_lock_error(&err, r->id);
            } else {
                sfs_map_put(&seen, r->id, r);
                rc = sfs_update(c->st, r, rec, c->req->now_ms, c->user, &err);
            }
        }
        failed |= rc != 0;
        sfs_save_result(results, r ? r->id : id, rc == 0, &err, -1);
    }
    sfs_map_free(&seen);
    sfs_all_or_none_finish(c, aon, failed, 1, results);
    json_decref(body);
    sfs_respond(c->resp, 200, results);
}

static void sfs_collection_delete(sfs_call *c)
{
    sfs_endpoint(c, "DELETE composite/sobjects");
    const char *ids = sfs_arg(c, "ids");
    const char *aon_arg = sfs_arg(c, "allOrNone");
    if (!ids || !*ids) {
        sfs_reply_error(c, 400, "MISSING_ARGUMENT", "ids parameter is required");
        return;
    }
    json_t *list = json_array();
    for (const char *p = ids; *p;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        json_array_append_new(list, sfs_json_text(p, l));
        p = comma ? comma + 1 : p + l;
    }
    if (json_array_size(list) > SF_COLLECTION_MAX) {
        json_decref(list);
        sfs_reply_error(c, 400, "EXCEEDED_ID_LIMIT",
                        "record limit reached. cannot submit more than 200 records into this call");
        return;
    }
    int aon = aon_arg && strcasecmp(aon_arg, "true") == 0;
    json_t *results = json_array();
    int failed = 0;
    if (aon)
        sfs_journal_begin(c->st);
    size_t i;
    json_t *idv;
    json_array_foreach(list, i, idv)
    {
        sfs_err err;
        memset(&err, 0, sizeof err);
        const char *id = json_string_value(idv);
        sfs_rec *r = sfs_lookup_for_write(c, id, NULL, &err);
        int rc = -1;
        if (r && c->req->fault == SBX_FAULT_TRANSIENT)
            sfs_lock_error(&err, r->id);
        else if (r)
            rc = sfs_delete(c->st, r, c->req->now_ms, c->user, &err);
        failed |= rc != 0;
        sfs_save_result(results, r ? r->id : id, rc == 0, &err, -1);
    }
    sfs_all_or_none_finish(c, aon, failed, 1, results);
    json_decref(list);
    sfs_respond(c->resp, 200, results);
}

static void sfs_collection_upsert(sfs_call *c, sfs_object *obj, const char *field)
{
    sfs_endpoint(c, "PATCH composite/sobjects upsert");
    if (!sfs_method(c, "PATCH")) {
        sfs_reply_method(c, "PATCH");
        return;
    }
    const sfs_field *ext = sfs_external_field(c, obj, field);
    if (!ext)
        return;
    json_t *body = sfs_body_json(c);
    if (!body)
        return;
    int aon = 0;
    json_t *records = sfs_collection_records(c, body, &aon);
    if (!records) {
        json_decref(body);
        return;
    }
    /* Each record's external id value (at most 200 records). */
    json_t *ext_vals[SF_COLLECTION_MAX] = {0};
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        const char *key;
        json_t *v;
        json_object_foreach(rec, key, v)
        {
            if (strcasecmp(key, ext->name) == 0)
                ext_vals[i] = v;
        }
    }
    json_t *results = json_array();
    int failed = 0;
    if (aon)
        sfs_journal_begin(c->st);
    json_array_foreach(records, i, rec)
    {
        sfs_err err;
        memset(&err, 0, sizeof err);
        sfs_object *rt = sfs_record_type(c, rec, &err);
        json_t *value = ext_vals[i];
        int rc = -1, created = 0;
        sfs_rec *r = NULL;
        if (rt && rt != obj) {
            sfs_err_set(&err, "INVALID_TYPE", "Record type %s does not match %s", rt->name,
                        obj->name);
        } else if (rt && value) {
            /* The same external id twice in one call is rejected for each copy. */
            int dup = 0;
            for (size_t j = 0; j < json_array_size(records) && !dup; j++)
                dup = j != i && ext_vals[j] && json_equal(ext_vals[j], value);
            if (dup) {
                sfs_err_set(&err, "DUPLICATE_EXTERNAL_ID", "Duplicate external id specified: %s",
                            json_is_string(value) ? json_string_value(value) : "");
                sfs_err_field(&err, ext->name);
            } else if (c->req->fault == SBX_FAULT_TRANSIENT) {
                sfs_lock_error(&err, NULL);
            } else {
                rc = sfs_upsert_one(c, obj, ext, rec, value, &r, &created, &err);
            }
        } else if (rt) {
            sfs_err_set(&err, "REQUIRED_FIELD_MISSING", "Required fields are missing: [%s]",
                        ext->name);
            sfs_err_field(&err, ext->name);
        }
        failed |= rc != 0;
        sfs_save_result(results, rc == 0 ? r->id : NULL, rc == 0, &err, rc == 0 ? created : -1);
    }
    sfs_all_or_none_finish(c, aon, failed, 0, results);
    json_decref(body);
    sfs_respond(c->resp, 200, results);
}

static void sfs_collection_retrieve(sfs_call *c, sfs_object *obj)
{
    sfs_endpoint(c, "GET composite/sobjects");
    if (!sfs_method(c, "GET")) {
        sfs_reply_method(c, "GET,POST");
        return;
    }
    const char *ids = sfs_arg(c, "ids"), *fields = sfs_arg(c, "fields");
    if (!ids || !*ids || !fields || !*fields) {
        sfs_reply_error(c, 400, "MISSING_ARGUMENT", "ids and fields parameters are required");
        return;
    }
    if (sfs_check_field_list(c, obj, fields) != 0)
        return;
    json_t *out = json_array();
    int n = 0;
    for (const char *p = ids; *p;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        char norm[19];
        sfs_rec *r = NULL;
        if (sfs_id_normalize(p, l, norm) == 0)
            r = sfs_map_get(&c->st->by_id, norm);
        if (r && r->obj == obj && !r->deleted)
            json_array_append_new(out, sfs_record_json(c, r, fields));
        else
            json_array_append_new(out, json_null());
        n++;
        p = comma ? comma + 1 : p + l;
    }
    if (n > SF_COLLECTION_MAX) {
        json_decref(out);
        sfs_reply_error(c, 400, "EXCEEDED_ID_LIMIT",
                        "record limit reached. cannot submit more than 200 records into this call");
        return;
    }
    sfs_respond(c->resp, 200, out);
}

/* ---- query ---- */

static void sfs_query(sfs_call *c, int all)
{
    sfs_endpoint(c, all ? "GET queryAll" : "GET query");
    if (!sfs_method(c, "GET")) {
        sfs_reply_method(c, "HEAD,GET");
        return;
    }
    char *body = NULL;
    int status;
    if (c->n_seg == 5) {
        status = sfs_query_more(c->st, c->seg[4], c->version, c->user, c->req->now_ms, &body);
    } else {
        const char *q = sfs_arg(c, "q");
        if (!q || !*q) {
            sfs_reply_error(c, 400, "MALFORMED_QUERY", "A query string has to be specified");
            return;
        }
        int batch = SF_QUERY_PAGE_MAX;
        const char *opts = sfs_header(c, "Sforce-Query-Options");
        const char *bs = opts ? strcasestr(opts, "batchSize=") : NULL;
        if (bs)
            batch = atoi(bs + 10);
        status = sfs_query_run(c->st, q, all, c->version, batch, c->user, c->req->now_ms, &body);
    }
    /* The page is already text: hand it over as it is. */
    free(c->resp->body);
    c->resp->status = status;
    c->resp->body = body;
    c->resp->body_len = body ? strlen(body) : 0;
    snprintf(c->resp->content_type, sizeof c->resp->content_type, "%s",
             "application/json;charset=UTF-8");
}

/* ---- routing ---- */

static int sfs_version_ok(const char *v)
{
    if (v[0] != 'v' || !v[1])
        return 0;
    const char *p = v + 1;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        p++;
        digits++;
    }
    return digits > 0 && digits <= 3 && p[0] == '.' && p[1] >= '0' && p[1] <= '9' && !p[2];
}

/* The call-accounting label of a data API request, known before it is served
 * (a faulted call is counted under the endpoint it was meant for). */
static void sfs_label(sfs_call *c)
{
    const char *r = c->n_seg > 3 ? c->seg[3] : "";
    const char *m = c->req->method;
    char label[128];
    int n = c->n_seg;
    if (strcmp(r, "query") == 0 || strcmp(r, "queryAll") == 0)
        snprintf(label, sizeof label, "GET %s", r);
    else if (strcmp(r, "limits") == 0)
        snprintf(label, sizeof label, "GET limits");
    else if (strcmp(r, "sobjects") == 0 && n == 6 && strcmp(c->seg[5], "describe") == 0)
        snprintf(label, sizeof label, "GET describe");
    else if (strcmp(r, "sobjects") == 0 && n == 7)
        snprintf(label, sizeof label, "PATCH sobjects upsert");
    else if (strcmp(r, "sobjects") == 0)
        snprintf(label, sizeof label, "%s sobjects", n == 4 ? "GET" : m);
    else if (strcmp(r, "composite") == 0 && n == 7)
        snprintf(label, sizeof label, "PATCH composite/sobjects upsert");
    else if (strcmp(r, "composite") == 0)
        snprintf(label, sizeof label, "%s composite/sobjects", n == 6 ? "GET" : m);
    else
        snprintf(label, sizeof label, "GET data");
    sfs_endpoint(c, label);
}

static void sfs_data_api(sfs_call *c)
{
    /* Calls refused before reaching an endpoint (bad version, no session)
     * are counted as "GET data". */
    sfs_endpoint(c, "GET data");
    if (!sfs_version_ok(c->seg[2])) {
        sfs_reply_not_found(c);
        return;
    }
    c->version = c->seg[2];
    if (sfs_authenticate(c) != 0)
        return;
    sfs_label(c);
    if (sfs_count_call(c) != 0)
        return;
    const sbx_fault fault = c->req->fault;
    int is_read = sfs_method(c, "GET");
    if (fault == SBX_FAULT_SERVER_ERROR || fault == SBX_FAULT_RATE_LIMIT ||
        (fault == SBX_FAULT_TRANSIENT && is_read)) {
        sfs_reply_unavailable(c);
        return;
    }
    const char *r = c->n_seg > 3 ? c->seg[3] : "";
    int n = c->n_seg;
    if (n == 3) {
        json_t *res = json_object();
        static const char *const names[] = {"sobjects", "query", "queryAll", "limits", "composite"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            json_object_set_new(res, names[i],
                                json_sprintf("/services/data/%s/%s", c->version, names[i]));
        sfs_respond(c->resp, 200, res);
        return;
    }
    if (strcmp(r, "limits") == 0 && n == 4) {
        sfs_endpoint(c, "GET limits");
        sfs_respond(c->resp, 200,
                    json_pack("{s:{s:I,s:I}}", "DailyApiRequests", "Max",
                              (json_int_t)c->st->daily_limit, "Remaining",
                              (json_int_t)(c->st->daily_limit - c->st->api_used)));
        return;
    }
    if ((strcmp(r, "query") == 0 || strcmp(r, "queryAll") == 0) && n <= 5) {
        sfs_query(c, strcmp(r, "queryAll") == 0);
        return;
    }
    if (strcmp(r, "sobjects") == 0) {
        if (n == 4) {
            sfs_describe_global(c);
            return;
        }
        sfs_object *obj = sfs_visible_object(c, c->seg[4]);
        if (!obj) {
            sfs_endpoint(c, "GET sobjects");
            sfs_reply_not_found(c);
            return;
        }
        if (n == 5)
            sfs_sobject_create(c, obj);
        else if (n == 6 && strcmp(c->seg[5], "describe") == 0)
            sfs_describe(c, obj);
        else if (n == 6)
            sfs_sobject_row(c, obj, c->seg[5]);
        else if (n == 7)
            sfs_sobject_upsert(c, obj, c->seg[5], c->seg[6]);
        else
            sfs_reply_not_found(c);
        return;
    }
    if (strcmp(r, "composite") == 0 && n >= 5 && strcmp(c->seg[4], "sobjects") == 0) {
        if (n == 5) {
            if (sfs_method(c, "POST"))
                sfs_collection_create(c);
            else if (sfs_method(c, "PATCH"))
                sfs_collection_update(c);
            else if (sfs_method(c, "DELETE"))
                sfs_collection_delete(c);
            else
                sfs_reply_method(c, "POST,PATCH,DELETE");
            return;
        }
        sfs_object *obj = sfs_visible_object(c, c->seg[5]);
        if (!obj) {
            sfs_reply_not_found(c);
            return;
        }
        if (n == 6)
            sfs_collection_retrieve(c, obj);
        else if (n == 7)
            sfs_collection_upsert(c, obj, c->seg[6]);
        else
            sfs_reply_not_found(c);
        return;
    }
    sfs_reply_not_found(c);
}

static void sfs_route(sfs_call *c)
{
    /* Split the path into segments (a trailing slash is ignored). */
    const char *p = c->req->path ? c->req->path : "";
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        if (c->n_seg == SF_MAX_SEGMENTS) {
            sfs_reply_not_found(c);
            return;
        }
        c->seg[c->n_seg++] = strndup(p, l);
        p += l;
    }
    char **s = c->seg;
    int n = c->n_seg;
    if (n == 3 && strcmp(s[0], "services") == 0 && strcmp(s[1], "oauth2") == 0 &&
        strcmp(s[2], "token") == 0) {
        if (c->req->fault != SBX_FAULT_NONE) {
            sfs_endpoint(c, "POST oauth2/token");
            sfs_reply_unavailable(c);
            return;
        }
        sfs_oauth_token(c);
    } else if (n == 3 && strcmp(s[0], "id") == 0) {
        sfs_identity(c);
    } else if (n == 2 && strcmp(s[0], "services") == 0 && strcmp(s[1], "data") == 0) {
        sfs_endpoint(c, "GET versions");
        sfs_respond(c->resp, 200,
                    json_pack("[{s:s,s:s,s:s}]", "label", "Spring '24", "url",
                              "/services/data/v60.0", "version", "60.0"));
    } else if (n >= 3 && strcmp(s[0], "services") == 0 && strcmp(s[1], "data") == 0) {
        sfs_data_api(c);
    } else {
        sfs_reply_not_found(c);
    }
}

static void sfs_handle(void *state, const sbx_request *req, sbx_response *resp)
{
    sfs_state *st = state;
    sfs_call c = {.st = st, .req = req, .resp = resp};
    pthread_mutex_lock(&st->mu);
    sfs_route(&c);
    sfs_limit_header(&c);
    pthread_mutex_unlock(&st->mu);
    for (int i = 0; i < c.n_seg; i++)
        free(c.seg[i]);
}

/* ---- vendor ops ---- */

static void *sfs_create(json_t *section, uint64_t seed, char *err, size_t err_len)
{
    return sfs_store_create(section, seed, err, err_len);
}

static void sfs_destroy(void *state)
{
    sfs_state *st = state;
    if (!st)
        return;
    sfs_query_close_all(st);
    sfs_store_destroy(st);
}

static int sfs_admin(void *state, const char *action, json_t *body, int64_t now_ms, json_t **out)
{
    sfs_state *st = state;
    pthread_mutex_lock(&st->mu);
    int status = sfs_admin_action(st, action, body, now_ms, out);
    pthread_mutex_unlock(&st->mu);
    return status;
}

const sbx_vendor_ops sbx_salesforce_ops = {
    .name = "salesforce",
    .create = sfs_create,
    .destroy = sfs_destroy,
    .handle = sfs_handle,
    .admin = sfs_admin,
};
