/*
 * The Salesforce simulator driven through sbx_salesforce_ops.handle (no
 * sockets): OAuth (client credentials, JWT bearer, errors), token expiry,
 * the API usage header and daily limit, query paging with cursors, queryAll
 * tombstones, sObject rows and Collections with their per-record results,
 * allOrNone rollback, the CampaignMember / CampaignMemberStatus / Lead rules,
 * Marketing User visibility, upserts by external id, emulated faults, admin
 * actions, and the Id checksum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbx.h"
#include "sbx_util.h"
#include "sf_util.h"

#define NOW 1769860800000LL /* 2026-01-31T12:00:00Z */
#define USER "005000000000001AAA"

/* ---- a fake request ---- */

typedef struct {
    char *names[32];
    char *values[32];
    int n;
    const char *hdr_names[4];
    const char *hdr_values[4];
    int n_hdr;
} fake;

static const char *fake_arg(const sbx_request *req, const char *name)
{
    fake *f = req->impl;
    for (int i = 0; i < f->n; i++) {
        if (strcmp(f->names[i], name) == 0)
            return f->values[i];
    }
    return NULL;
}

static const char *fake_header(const sbx_request *req, const char *name)
{
    fake *f = req->impl;
    for (int i = 0; i < f->n_hdr; i++) {
        if (strcasecmp(f->hdr_names[i], name) == 0)
            return f->hdr_values[i];
    }
    return NULL;
}

typedef struct {
    int status;
    json_t *body;
    char limit[256];
    char endpoint[128];
} reply;

static void *org; /* the state under test */
static char token[160];
static int64_t now_ms = NOW;
static sbx_fault next_fault = SBX_FAULT_NONE;
static const char *extra_header_name, *extra_header_value;

static reply call(const char *method, const char *url, const char *body)
{
    fake f = {0};
    char *path = strdup(url);
    char *qs = strchr(path, '?');
    if (qs) {
        *qs++ = '\0';
        for (char *p = qs; p && *p && f.n < 32;) {
            char *amp = strchr(p, '&');
            size_t seg = amp ? (size_t)(amp - p) : strlen(p);
            char *eq = memchr(p, '=', seg);
            size_t kl = eq ? (size_t)(eq - p) : seg;
            f.names[f.n] = sbx_url_decode(p, kl);
            f.values[f.n] = eq ? sbx_url_decode(eq + 1, seg - kl - 1) : strdup("");
            f.n++;
            p = amp ? amp + 1 : NULL;
        }
    }
    char auth[200];
    snprintf(auth, sizeof auth, "Bearer %s", token);
    f.hdr_names[f.n_hdr] = "Host";
    f.hdr_values[f.n_hdr++] = "127.0.0.1:8080";
    if (token[0]) {
        f.hdr_names[f.n_hdr] = "Authorization";
        f.hdr_values[f.n_hdr++] = auth;
    }
    if (extra_header_name) {
        f.hdr_names[f.n_hdr] = extra_header_name;
        f.hdr_values[f.n_hdr++] = extra_header_value;
    }
    sbx_request req = {.method = method,
                       .path = path,
                       .url_length = strlen(url),
                       .body = body ? body : "",
                       .body_len = body ? strlen(body) : 0,
                       .fault = next_fault,
                       .now_ms = now_ms,
                       .arg = fake_arg,
                       .header = fake_header,
                       .impl = &f};
    sbx_response resp = {0};
    sbx_salesforce_ops.handle(org, &req, &resp);
    reply r = {.status = resp.status ? resp.status : 200};
    r.body = resp.body_len ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    if (resp.body_len && !r.body)
        fail_msg("response to %s %s is not JSON: %s", method, url, resp.body);
    for (int i = 0; i < resp.n_headers; i++) {
        if (strcmp(resp.header_names[i], "Sforce-Limit-Info") == 0)
            snprintf(r.limit, sizeof r.limit, "%s", resp.header_values[i]);
    }
    snprintf(r.endpoint, sizeof r.endpoint, "%s", resp.endpoint);
    free(resp.body);
    for (int i = 0; i < f.n; i++) {
        free(f.names[i]);
        free(f.values[i]);
    }
    free(path);
    return r;
}

static reply call_ok(const char *method, const char *url, const char *body, int want)
{
    reply r = call(method, url, body);
    if (r.status != want) {
        char *d = r.body ? json_dumps(r.body, 0) : strdup("(no body)");
        fail_msg("%s %s -> %d (wanted %d): %s", method, url, r.status, want, d);
    }
    return r;
}

static const char *err_code(json_t *body)
{
    return json_string_value(json_object_get(json_array_get(body, 0), "errorCode"));
}

static const char *err_message(json_t *body)
{
    return json_string_value(json_object_get(json_array_get(body, 0), "message"));
}

/* Per-record result i of a collection answer. */
static const char *rec_status(json_t *body, size_t i)
{
    json_t *r = json_array_get(body, i);
    if (json_is_true(json_object_get(r, "success")))
        return "ok";
    return json_string_value(
        json_object_get(json_array_get(json_object_get(r, "errors"), 0), "statusCode"));
}

static const char *rec_message(json_t *body, size_t i)
{
    json_t *r = json_array_get(body, i);
    return json_string_value(
        json_object_get(json_array_get(json_object_get(r, "errors"), 0), "message"));
}

static int admin(const char *action, const char *body_json, json_t **out)
{
    json_t *b = body_json ? json_loads(body_json, 0, NULL) : NULL;
    json_t *o = NULL;
    int status = sbx_salesforce_ops.admin(org, action, b, now_ms, &o);
    json_decref(b);
    if (out)
        *out = o;
    else
        json_decref(o);
    return status;
}

static void login(void)
{
    token[0] = '\0';
    reply r = call_ok("POST", "/services/oauth2/token",
                      "grant_type=client_credentials&client_id=cid&client_secret=s%26c", 200);
    snprintf(token, sizeof token, "%s", json_string_value(json_object_get(r.body, "access_token")));
    json_decref(r.body);
}

static int query_count(const char *soql_urlencoded, int all)
{
    char url[1024];
    snprintf(url, sizeof url, "/services/data/v60.0/%s?q=%s", all ? "queryAll" : "query",
             soql_urlencoded);
    reply r = call_ok("GET", url, NULL, 200);
    int n = (int)json_integer_value(json_object_get(r.body, "totalSize"));
    json_decref(r.body);
    return n;
}

/* ---- dataset ---- */

static const char *base_org =
    "{\"client_id\":\"cid\",\"client_secret\":\"s&c\",\"integration_user\":\"005000000000001\","
    "\"token_ttl_s\":600,\"limits\":{\"daily_api\":1000},"
    "\"custom_fields\":{\"CampaignMember\":[\"Buyer_Touchpoint_Date__c\"]},"
    "\"custom_objects\":{\"Buyer_Touchpoint__c\":[\"Touchpoint_Id__c\","
    "{\"name\":\"Weight__c\",\"type\":\"double\"}]},"
    "\"records\":{"
    "\"User\":[{\"Id\":\"005000000000001\",\"Username\":\"api@x.com\",\"LastName\":\"Api\","
    "\"UserPermissionsMarketingUser\":true},"
    "{\"Id\":\"005000000000002\",\"Username\":\"mia@x.com\",\"LastName\":\"Mia\"}],"
    "\"Account\":[{\"Id\":\"001000000000001\",\"Name\":\"Acme\"}],"
    "\"Contact\":[{\"Id\":\"003000000000001\",\"LastName\":\"Cee\",\"Email\":\"c@acme.com\","
    "\"AccountId\":\"001000000000001\"}],"
    "\"Lead\":[{\"Id\":\"00Q000000000001\",\"LastName\":\"One\",\"Company\":\"A\","
    "\"Email\":\"one@x.com\"},"
    "{\"Id\":\"00Q000000000002\",\"LastName\":\"Two\",\"Company\":\"B\",\"Email\":\"two@x.com\"},"
    "{\"Id\":\"00Q000000000003\",\"LastName\":\"Conv\",\"Company\":\"C\",\"IsConverted\":true}],"
    "\"Campaign\":[{\"Id\":\"701000000000001\",\"Name\":\"Webinar\"}],"
    "\"CampaignMemberStatus\":["
    "{\"CampaignId\":\"701000000000001\",\"Label\":\"Invited\",\"SortOrder\":10,"
    "\"IsDefault\":true,\"HasResponded\":false},"
    "{\"CampaignId\":\"701000000000001\",\"Label\":\"Registered\",\"SortOrder\":20,"
    "\"HasResponded\":false},"
    "{\"CampaignId\":\"701000000000001\",\"Label\":\"Attended\",\"SortOrder\":30,"
    "\"HasResponded\":true}]}}";

static void *make_org(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j)
        fail_msg("dataset: %s", jerr.text);
    char err[256] = "";
    void *st = sbx_salesforce_ops.create(j, 7, err, sizeof err);
    json_decref(j);
    if (!st)
        fail_msg("create: %s", err);
    return st;
}

static int setup(void **state)
{
    (void)state;
    org = make_org(base_org);
    now_ms = NOW;
    next_fault = SBX_FAULT_NONE;
    extra_header_name = extra_header_value = NULL;
    login();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sbx_salesforce_ops.destroy(org);
    org = NULL;
    return 0;
}

/* ---- tests ---- */

static void b64url(const char *text, char *out, size_t len)
{
    char *b = sfs_base64_encode((const uint8_t *)text, strlen(text));
    size_t o = 0;
    for (char *p = b; *p && o + 1 < len; p++) {
        if (*p == '=')
            break;
        out[o++] = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    }
    out[o] = '\0';
    free(b);
}

static const char *jwt_aud = "https://login.salesforce.com";

static int jwt_login(const char *iss, const char *sub, long long exp, json_t **body)
{
    char payload[256], h[64], p[400], form[600];
    snprintf(payload, sizeof payload, "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"exp\":%lld}",
             iss, sub, jwt_aud, exp);
    b64url("{\"alg\":\"RS256\"}", h, sizeof h);
    b64url(payload, p, sizeof p);
    snprintf(
        form, sizeof form,
        "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer&assertion=%s.%s."
        "c2ln",
        h, p);
    token[0] = '\0';
    reply r = call("POST", "/services/oauth2/token", form);
    *body = r.body;
    return r.status;
}

static void test_oauth(void **s)
{
    (void)s;
    token[0] = '\0';
    reply r = call_ok("POST", "/services/oauth2/token",
                      "grant_type=client_credentials&client_id=cid&client_secret=s%26c", 200);
    json_t *b = r.body;
    assert_string_equal(r.endpoint, "POST oauth2/token");
    assert_string_equal(json_string_value(json_object_get(b, "token_type")), "Bearer");
    assert_string_equal(json_string_value(json_object_get(b, "instance_url")),
                        "http://127.0.0.1:8080");
    const char *id = json_string_value(json_object_get(b, "id"));
    assert_string_equal(id, "http://127.0.0.1:8080/id/00D000000000001EAA/" USER);
    const char *issued = json_string_value(json_object_get(b, "issued_at"));
    assert_int_equal(strtoll(issued, NULL, 10), NOW);
    /* signature = base64(HMAC-SHA256(id + issued_at, secret)) */
    char text[300];
    snprintf(text, sizeof text, "%s%s", id, issued);
    uint8_t mac[32];
    sfs_hmac_sha256("s&c", 3, text, strlen(text), mac);
    char *sig = sfs_base64_encode(mac, 32);
    assert_string_equal(json_string_value(json_object_get(b, "signature")), sig);
    free(sig);
    assert_non_null(strstr(json_string_value(json_object_get(b, "access_token")), "!"));
    json_decref(b);

    r = call_ok("POST", "/services/oauth2/token",
                "grant_type=client_credentials&client_id=cid&client_secret=wrong", 400);
    assert_string_equal(json_string_value(json_object_get(r.body, "error")), "invalid_client");
    json_decref(r.body);
    r = call_ok("POST", "/services/oauth2/token",
                "grant_type=client_credentials&client_id=nope&client_secret=s%26c", 400);
    assert_string_equal(json_string_value(json_object_get(r.body, "error")), "invalid_client_id");
    json_decref(r.body);
    r = call_ok("POST", "/services/oauth2/token", "grant_type=password", 400);
    assert_string_equal(json_string_value(json_object_get(r.body, "error")),
                        "unsupported_grant_type");
    json_decref(r.body);

    long long exp = NOW / 1000 + 180;
    assert_int_equal(jwt_login("cid", "mia@x.com", exp, &b), 200);
    assert_non_null(strstr(json_string_value(json_object_get(b, "id")), "005000000000002AAA"));
    json_decref(b);
    assert_int_equal(jwt_login("other", "mia@x.com", exp, &b), 400);
    assert_string_equal(json_string_value(json_object_get(b, "error")), "invalid_client_id");
    json_decref(b);
    assert_int_equal(jwt_login("cid", "nobody@x.com", exp, &b), 400);
    assert_string_equal(json_string_value(json_object_get(b, "error")), "invalid_grant");
    json_decref(b);
    assert_int_equal(jwt_login("cid", "mia@x.com", NOW / 1000 - 1, &b), 400);
    assert_string_equal(json_string_value(json_object_get(b, "error")), "invalid_grant");
    json_decref(b);
    /* The audience must be a login server: Salesforce's or the sandbox itself. */
    jwt_aud = "http://127.0.0.1:8080";
    assert_int_equal(jwt_login("cid", "mia@x.com", exp, &b), 200);
    json_decref(b);
    jwt_aud = "https://example.com";
    assert_int_equal(jwt_login("cid", "mia@x.com", exp, &b), 400);
    assert_string_equal(json_string_value(json_object_get(b, "error_description")),
                        "audience is invalid");
    json_decref(b);
    jwt_aud = "https://login.salesforce.com";
}

static void test_session_expiry(void **s)
{
    (void)s;
    reply r = call_ok("GET", "/services/data/v60.0/limits", NULL, 200);
    json_decref(r.body);
    /* The identity URL names the token's user. */
    r = call_ok("GET", "/id/00D000000000001EAA/" USER, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(r.body, "username")), "api@x.com");
    assert_string_equal(json_string_value(json_object_get(r.body, "user_id")), USER);
    json_decref(r.body);
    /* token_ttl_s is 600. */
    now_ms = NOW + 600 * 1000;
    r = call_ok("GET", "/services/data/v60.0/limits", NULL, 401);
    assert_string_equal(err_code(r.body), "INVALID_SESSION_ID");
    assert_string_equal(err_message(r.body), "Session expired or invalid");
    json_decref(r.body);
    login();
    r = call_ok("GET", "/services/data/v60.0/limits", NULL, 200);
    json_decref(r.body);
    assert_int_equal(admin("expire_tokens", NULL, NULL), 200);
    r = call_ok("GET", "/services/data/v60.0/limits", NULL, 401);
    json_decref(r.body);
    token[0] = '\0';
    r = call_ok("GET", "/services/data/v60.0/query?q=SELECT+Id+FROM+Lead", NULL, 401);
    assert_string_equal(err_code(r.body), "INVALID_SESSION_ID");
    json_decref(r.body);
}

static void test_limits(void **s)
{
    (void)s;
    reply r = call_ok("GET", "/services/data/v60.0/limits", NULL, 200);
    assert_string_equal(r.limit, "api-usage=1/1000");
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(r.body, "DailyApiRequests"), "Remaining")),
                     999);
    json_decref(r.body);
    r = call_ok("GET", "/services/data/v60.0/query?q=SELECT+Id+FROM+Lead", NULL, 200);
    assert_string_equal(r.limit, "api-usage=2/1000");
    assert_string_equal(r.endpoint, "GET query");
    json_decref(r.body);
    assert_int_equal(admin("set_api_usage", "{\"used\":999}", NULL), 200);
    r = call_ok("GET", "/services/data/v60.0/limits", NULL, 200);
    json_decref(r.body);
    r = call_ok("GET", "/services/data/v60.0/limits", NULL, 403);
    assert_string_equal(err_code(r.body), "REQUEST_LIMIT_EXCEEDED");
    assert_string_equal(err_message(r.body), "TotalRequests Limit exceeded.");
    assert_string_equal(r.limit, "api-usage=1000/1000");
    json_decref(r.body);
    /* A new UTC day resets the count. */
    now_ms = NOW + 86400000LL;
    login();
    r = call_ok("GET", "/services/data/v60.0/limits", NULL, 200);
    assert_string_equal(r.limit, "api-usage=1/1000");
    json_decref(r.body);
}

static void test_routing(void **s)
{
    (void)s;
    reply r = call_ok("GET", "/services/data/v60/limits", NULL, 404);
    assert_string_equal(err_code(r.body), "NOT_FOUND");
    json_decref(r.body);
    r = call_ok("GET", "/services/data/v45.0/sobjects/Nope/001000000000001", NULL, 404);
    assert_string_equal(err_message(r.body), "The requested resource does not exist");
    json_decref(r.body);
    r = call_ok("PUT", "/services/data/v60.0/sobjects/Lead/00Q000000000001", "{}", 405);
    assert_string_equal(err_code(r.body), "METHOD_NOT_ALLOWED");
    json_decref(r.body);
    r = call_ok("GET", "/services/data/v60.0/query", NULL, 400);
    assert_string_equal(err_code(r.body), "MALFORMED_QUERY");
    json_decref(r.body);
    r = call_ok("POST", "/services/data/v60.0/composite/sobjects", "{not json", 400);
    assert_string_equal(err_code(r.body), "JSON_PARSER_ERROR");
    json_decref(r.body);
    r = call_ok("GET", "/services/data/v60.0/sobjects/campaignmember", NULL, 200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.body, "objectDescribe"), "keyPrefix")),
        "00v");
    json_decref(r.body);
    r = call_ok("GET", "/services/data/v60.0/sobjects/Campaign/describe", NULL, 200);
    int found = 0;
    size_t i;
    json_t *fd;
    json_array_foreach(json_object_get(r.body, "fields"), i, fd)
    {
        if (strcmp(json_string_value(json_object_get(fd, "name")), "ParentId") == 0) {
            found = 1;
            assert_string_equal(json_string_value(json_object_get(fd, "type")), "reference");
            assert_string_equal(json_string_value(json_object_get(fd, "relationshipName")),
                                "Parent");
        }
    }
    assert_true(found);
    json_decref(r.body);
    r = call_ok("GET", "/services/data/v60.0/sobjects", NULL, 200);
    assert_true(json_array_size(json_object_get(r.body, "sobjects")) >= 9);
    json_decref(r.body);
    /* Retrieve several rows at once; unknown ids give null. */
    r = call_ok("GET",
                "/services/data/v60.0/composite/sobjects/Lead?ids=00Q000000000001,"
                "00Q000000000009&fields=Email",
                NULL, 200);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.body, 0), "Email")),
                        "one@x.com");
    assert_true(json_is_null(json_array_get(r.body, 1)));
    json_decref(r.body);
    r = call_ok("GET",
                "/services/data/v60.0/composite/sobjects/Lead?ids=00Q000000000001&fields=Nope",
                NULL, 400);
    assert_string_equal(err_code(r.body), "INVALID_FIELD");
    json_decref(r.body);
    /* The identity of another org is not found. */
    r = call_ok("GET", "/id/00D000000000002/" USER, NULL, 404);
    json_decref(r.body);
    r = call_ok("GET", "/nothing/here", NULL, 404);
    json_decref(r.body);
}

static void test_single_records(void **s)
{
    (void)s;
    reply r = call_ok("POST", "/services/data/v60.0/sobjects/Lead",
                      "{\"LastName\":\"New\",\"Company\":\"N\",\"email\":\"new@x.com\"}", 201);
    assert_string_equal(r.endpoint, "POST sobjects");
    assert_true(json_is_true(json_object_get(r.body, "success")));
    assert_int_equal(json_array_size(json_object_get(r.body, "errors")), 0);
    char id[19], url[256];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.body, "id")));
    assert_int_equal(strlen(id), 18);
    assert_memory_equal(id, "00Q", 3);
    json_decref(r.body);
    /* 15-character Id in the URL. */
    snprintf(url, sizeof url, "/services/data/v60.0/sobjects/Lead/%.15s", id);
    r = call_ok("GET", url, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(r.body, "Email")), "new@x.com");
    assert_string_equal(json_string_value(json_object_get(r.body, "Status")),
                        "Open - Not Contacted");
    assert_string_equal(json_string_value(json_object_get(r.body, "CreatedDate")),
                        "2026-01-31T12:00:00.000+0000");
    assert_string_equal(json_string_value(json_object_get(r.body, "OwnerId")), USER);
    assert_true(json_is_null(json_object_get(r.body, "Phone")));
    json_decref(r.body);
    snprintf(url, sizeof url, "/services/data/v60.0/sobjects/Lead/%s?fields=Email,LastName", id);
    r = call_ok("GET", url, NULL, 200);
    assert_int_equal(json_object_size(r.body), 3);
    json_decref(r.body);
    snprintf(url, sizeof url, "/services/data/v60.0/sobjects/Lead/%s", id);
    now_ms += 5000;
    r = call_ok("PATCH", url, "{\"Title\":\"CTO\"}", 204);
    assert_null(r.body);
    r = call_ok("GET", url, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(r.body, "Title")), "CTO");
    assert_string_equal(json_string_value(json_object_get(r.body, "SystemModstamp")),
                        "2026-01-31T12:00:05.000+0000");
    json_decref(r.body);
    r = call_ok("PATCH", url, "{\"IsConverted\":true}", 400);
    assert_string_equal(err_code(r.body), "INVALID_FIELD_FOR_INSERT_UPDATE");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_array_get(r.body, 0), "fields"), 0)),
        "IsConverted");
    json_decref(r.body);
    r = call_ok("PATCH", url, "{\"Bogus__c\":1}", 400);
    assert_string_equal(err_code(r.body), "INVALID_FIELD");
    assert_string_equal(err_message(r.body), "No such column 'Bogus__c' on sobject of type Lead");
    json_decref(r.body);
    r = call_ok("DELETE", url, NULL, 204);
    r = call_ok("GET", url, NULL, 404);
    json_decref(r.body);
    r = call_ok("DELETE", url, NULL, 404);
    assert_string_equal(err_code(r.body), "ENTITY_IS_DELETED");
    json_decref(r.body);
    r = call_ok("GET", "/services/data/v60.0/sobjects/Lead/notanid", NULL, 404);
    assert_string_equal(err_message(r.body),
                        "Provided external ID field does not exist or is not accessible: notanid");
    json_decref(r.body);
    r = call_ok("POST", "/services/data/v60.0/sobjects/Lead", "[1,2]", 400);
    assert_string_equal(err_code(r.body), "JSON_PARSER_ERROR");
    json_decref(r.body);
    r = call_ok("POST", "/services/data/v60.0/sobjects/Lead", "{\"FirstName\":\"X\"}", 400);
    assert_string_equal(err_code(r.body), "REQUIRED_FIELD_MISSING");
    assert_string_equal(err_message(r.body), "Required fields are missing: [LastName, Company]");
    json_decref(r.body);
    r = call_ok("POST", "/services/data/v60.0/sobjects/Lead",
                "{\"LastName\":\"X\",\"Company\":\"Y\",\"Email\":\"not-an-email\"}", 400);
    assert_string_equal(err_code(r.body), "INVALID_EMAIL_ADDRESS");
    json_decref(r.body);
    r = call_ok("PATCH", "/services/data/v60.0/sobjects/Lead/00Q000000000003", "{\"Title\":\"x\"}",
                400);
    assert_string_equal(err_code(r.body), "CANNOT_UPDATE_CONVERTED_LEAD");
    json_decref(r.body);
}

static char *member_body(int n, const char *campaign, const char *lead_prefix, int all_or_none)
{
    size_t cap = 200 + (size_t)n * 200;
    char *b = malloc(cap);
    size_t o =
        (size_t)snprintf(b, cap, "{\"allOrNone\":%s,\"records\":[", all_or_none ? "true" : "false");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(
            b + o, cap - o,
            "%s{\"attributes\":{\"type\":\"CampaignMember\"},\"CampaignId\":\"%s\","
            "\"LeadId\":\"%s\"}",
            i ? "," : "", campaign, lead_prefix);
    snprintf(b + o, cap - o, "]}");
    return b;
}

static void test_collections_members(void **s)
{
    (void)s;
    const char *url = "/services/data/v60.0/composite/sobjects";
    char *big = member_body(201, "701000000000001", "00Q000000000001", 0);
    reply r = call_ok("POST", url, big, 400);
    free(big);
    assert_string_equal(err_code(r.body), "EXCEEDED_ID_LIMIT");
    json_decref(r.body);

    r = call_ok("POST", url,
                "{\"records\":["
                "{\"attributes\":{\"type\":\"CampaignMember\"},\"CampaignId\":\"701000000000001\","
                "\"LeadId\":\"00Q000000000001\"},"
                "{\"attributes\":{\"type\":\"CampaignMember\"},\"CampaignId\":\"701000000000001\","
                "\"LeadId\":\"00Q000000000001\"},"
                "{\"attributes\":{\"type\":\"CampaignMember\"},\"CampaignId\":\"701000000000001\"},"
                "{\"attributes\":{\"type\":\"CampaignMember\"},\"CampaignId\":\"701000000000001\","
                "\"LeadId\":\"00Q000000000003\"},"
                "{\"attributes\":{\"type\":\"CampaignMember\"},\"CampaignId\":\"701000000000001\","
                "\"ContactId\":\"003000000000001\",\"Status\":\"attended\"},"
                "{\"attributes\":{\"type\":\"CampaignMember\"},\"CampaignId\":\"701000000000001\","
                "\"LeadId\":\"00Q000000000002\",\"Status\":\"Nope\"},"
                "{\"attributes\":{\"type\":\"CampaignMember\"},\"CampaignId\":\"701000000000001\","
                "\"LeadId\":\"00Q000000000002\",\"HasResponded\":true}"
                "]}",
                200);
    assert_string_equal(r.endpoint, "POST composite/sobjects");
    json_t *b = r.body;
    assert_int_equal(json_array_size(b), 7);
    assert_string_equal(rec_status(b, 0), "ok");
    assert_string_equal(rec_status(b, 1), "DUPLICATE_VALUE");
    assert_string_equal(rec_message(b, 1), "Already a campaign member.");
    assert_null(json_object_get(json_array_get(b, 1), "id"));
    assert_string_equal(rec_status(b, 2), "REQUIRED_FIELD_MISSING");
    assert_string_equal(rec_status(b, 3), "CANNOT_UPDATE_CONVERTED_LEAD");
    assert_string_equal(rec_message(b, 3), "cannot reference converted lead");
    assert_string_equal(rec_status(b, 4), "ok");
    assert_string_equal(rec_status(b, 5), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    assert_string_equal(rec_status(b, 6), "INVALID_FIELD_FOR_INSERT_UPDATE");
    char m1[19], m2[19];
    snprintf(m1, sizeof m1, "%s", json_string_value(json_object_get(json_array_get(b, 0), "id")));
    snprintf(m2, sizeof m2, "%s", json_string_value(json_object_get(json_array_get(b, 4), "id")));
    json_decref(b);

    /* Default status when omitted; a responded status sets HasResponded and the date. */
    char q[512];
    snprintf(q, sizeof q,
             "/services/data/v60.0/query?q=SELECT+Status,HasResponded,FirstRespondedDate+FROM+"
             "CampaignMember+WHERE+Id+IN+('%s','%s')+ORDER+BY+Status",
             m1, m2);
    r = call_ok("GET", q, NULL, 200);
    json_t *recs = json_object_get(r.body, "records");
    json_t *att = json_array_get(recs, 0), *inv = json_array_get(recs, 1);
    assert_string_equal(json_string_value(json_object_get(att, "Status")), "Attended");
    assert_true(json_is_true(json_object_get(att, "HasResponded")));
    assert_string_equal(json_string_value(json_object_get(att, "FirstRespondedDate")),
                        "2026-01-31");
    assert_string_equal(json_string_value(json_object_get(inv, "Status")), "Invited");
    assert_true(json_is_false(json_object_get(inv, "HasResponded")));
    assert_true(json_is_null(json_object_get(inv, "FirstRespondedDate")));
    json_decref(r.body);

    /* Update: status change, bad status, HasResponded is read-only, unknown id. */
    now_ms += 1000;
    char body[1024];
    snprintf(body, sizeof body,
             "{\"records\":[{\"attributes\":{\"type\":\"CampaignMember\"},\"id\":\"%s\","
             "\"Status\":\"Registered\"},"
             "{\"attributes\":{\"type\":\"CampaignMember\"},\"id\":\"%s\",\"Status\":\"Gone\"},"
             "{\"attributes\":{\"type\":\"CampaignMember\"},\"id\":\"%s\",\"HasResponded\":false},"
             "{\"attributes\":{\"type\":\"CampaignMember\"},\"id\":\"00v00000000zzzz\","
             "\"Status\":\"Registered\"},"
             "{\"attributes\":{\"type\":\"CampaignMember\"},\"Status\":\"Registered\"}]}",
             m1, m2, m2);
    r = call_ok("PATCH", url, body, 200);
    b = r.body;
    assert_string_equal(rec_status(b, 0), "ok");
    assert_string_equal(json_string_value(json_object_get(json_array_get(b, 0), "id")), m1);
    assert_string_equal(rec_status(b, 1), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    assert_string_equal(json_string_value(json_object_get(json_array_get(b, 1), "id")), m2);
    /* The same Id twice in one call. */
    assert_string_equal(rec_status(b, 2), "DUPLICATE_VALUE");
    char dup[64];
    snprintf(dup, sizeof dup, "Duplicate id in list: %s", m2);
    assert_string_equal(rec_message(b, 2), dup);
    assert_string_equal(rec_status(b, 3), "INVALID_CROSS_REFERENCE_KEY");
    assert_string_equal(rec_status(b, 4), "MISSING_ARGUMENT");
    json_decref(b);
    snprintf(body, sizeof body,
             "{\"records\":[{\"attributes\":{\"type\":\"CampaignMember\"},\"id\":\"%s\","
             "\"HasResponded\":false}]}",
             m2);
    r = call_ok("PATCH", url, body, 200);
    assert_string_equal(rec_status(r.body, 0), "INVALID_FIELD_FOR_INSERT_UPDATE");
    assert_string_equal(rec_message(r.body, 0),
                        "Unable to create/update fields: HasResponded. Please check the security "
                        "settings of this field and verify that it is read/write for your profile "
                        "or permission set.");
    json_decref(r.body);
    snprintf(q, sizeof q,
             "/services/data/v60.0/query?q=SELECT+Status,SystemModstamp,CreatedDate+FROM+"
             "CampaignMember+WHERE+Id='%s'",
             m1);
    r = call_ok("GET", q, NULL, 200);
    json_t *row = json_array_get(json_object_get(r.body, "records"), 0);
    assert_string_equal(json_string_value(json_object_get(row, "Status")), "Registered");
    assert_string_equal(json_string_value(json_object_get(row, "SystemModstamp")),
                        "2026-01-31T12:00:01.000+0000");
    assert_string_equal(json_string_value(json_object_get(row, "CreatedDate")),
                        "2026-01-31T12:00:00.000+0000");
    json_decref(r.body);

    /* Delete keeps a tombstone for queryAll; the person can be added again. */
    char durl[256];
    snprintf(durl, sizeof durl, "%s?ids=%s,00v00000000zzzz,bad&allOrNone=false", url, m1);
    r = call_ok("DELETE", durl, NULL, 200);
    assert_string_equal(rec_status(r.body, 0), "ok");
    assert_string_equal(rec_status(r.body, 1), "INVALID_CROSS_REFERENCE_KEY");
    assert_string_equal(rec_status(r.body, 2), "MALFORMED_ID");
    json_decref(r.body);
    snprintf(durl, sizeof durl, "%s?ids=%s", url, m1);
    r = call_ok("DELETE", durl, NULL, 200);
    assert_string_equal(rec_status(r.body, 0), "ENTITY_IS_DELETED");
    json_decref(r.body);
    assert_int_equal(query_count("SELECT+Id+FROM+CampaignMember", 0), 1);
    assert_int_equal(query_count("SELECT+Id+FROM+CampaignMember+WHERE+IsDeleted=true", 1), 1);
    assert_int_equal(query_count("SELECT+Id+FROM+CampaignMember", 1), 2);
    r = call_ok("POST", url,
                "{\"records\":[{\"attributes\":{\"type\":\"CampaignMember\"},"
                "\"CampaignId\":\"701000000000001\",\"LeadId\":\"00Q000000000001\"}]}",
                200);
    assert_string_equal(rec_status(r.body, 0), "ok");
    assert_string_not_equal(json_string_value(json_object_get(json_array_get(r.body, 0), "id")),
                            m1);
    json_decref(r.body);
}

static void test_all_or_none(void **s)
{
    (void)s;
    const char *url = "/services/data/v60.0/composite/sobjects";
    const char *body =
        "{\"allOrNone\":true,\"records\":["
        "{\"attributes\":{\"type\":\"Lead\"},\"LastName\":\"A1\",\"Company\":\"C\"},"
        "{\"attributes\":{\"type\":\"CampaignMember\"},\"CampaignId\":\"701000000000001\","
        "\"LeadId\":\"00Q000000000001\"},"
        "{\"attributes\":{\"type\":\"Lead\"},\"LastName\":\"A2\"},"
        "{\"attributes\":{\"type\":\"Campaign\"},\"Name\":\"C2\"}]}";
    reply r = call_ok("POST", url, body, 200);
    json_t *b = r.body;
    assert_string_equal(rec_status(b, 0), "ALL_OR_NONE_OPERATION_ROLLED_BACK");
    assert_string_equal(rec_message(b, 0),
                        "Record rolled back because not all records were valid and the request "
                        "was using AllOrNone header");
    assert_null(json_object_get(json_array_get(b, 0), "id"));
    assert_string_equal(rec_status(b, 1), "ALL_OR_NONE_OPERATION_ROLLED_BACK");
    assert_string_equal(rec_status(b, 2), "REQUIRED_FIELD_MISSING");
    assert_string_equal(rec_status(b, 3), "ALL_OR_NONE_OPERATION_ROLLED_BACK");
    json_decref(b);
    /* Nothing was kept: no lead, no member, no campaign (nor its statuses). */
    assert_int_equal(query_count("SELECT+Id+FROM+Lead", 1), 3);
    assert_int_equal(query_count("SELECT+Id+FROM+CampaignMember", 1), 0);
    assert_int_equal(query_count("SELECT+Id+FROM+Campaign", 1), 1);
    assert_int_equal(query_count("SELECT+Id+FROM+CampaignMemberStatus", 1), 3);
    /* The same member can be added afterwards (the key index was rolled back). */
    r = call_ok("POST", url,
                "{\"allOrNone\":true,\"records\":[{\"attributes\":{\"type\":\"CampaignMember\"},"
                "\"CampaignId\":\"701000000000001\",\"LeadId\":\"00Q000000000001\"},"
                "{\"attributes\":{\"type\":\"Campaign\"},\"Name\":\"C2\"}]}",
                200);
    assert_string_equal(rec_status(r.body, 0), "ok");
    assert_string_equal(rec_status(r.body, 1), "ok");
    json_decref(r.body);
    /* A new campaign gets Salesforce's two default statuses. */
    assert_int_equal(query_count("SELECT+Id+FROM+CampaignMemberStatus+WHERE+Campaign.Name='C2'+"
                                 "AND+((Label='Sent'+AND+IsDefault=true)+OR+(Label='Responded'+"
                                 "AND+HasResponded=true))",
                                 0),
                     2);
    /* At most 10 chunks of one type each. */
    char chunky[4096];
    size_t o = (size_t)snprintf(chunky, sizeof chunky, "{\"records\":[");
    for (int i = 0; i < 11; i++)
        o += (size_t)snprintf(chunky + o, sizeof chunky - o,
                              "%s{\"attributes\":{\"type\":\"%s\"},\"Name\":\"N%d\"}", i ? "," : "",
                              i % 2 ? "Account" : "Campaign", i);
    snprintf(chunky + o, sizeof chunky - o, "]}");
    r = call_ok("POST", url, chunky, 400);
    assert_string_equal(err_code(r.body), "EXCEEDED_MAX_TYPES_LIMIT");
    json_decref(r.body);
    /* Bad value types reject the whole request before anything is saved. */
    r = call_ok("POST", url,
                "{\"records\":[{\"attributes\":{\"type\":\"Lead\"},\"LastName\":\"Ok\","
                "\"Company\":\"C\"},{\"attributes\":{\"type\":\"Campaign\"},\"Name\":\"X\","
                "\"IsActive\":\"maybe\"}]}",
                400);
    assert_string_equal(err_code(r.body), "JSON_PARSER_ERROR");
    json_decref(r.body);
    assert_int_equal(query_count("SELECT+Id+FROM+Lead+WHERE+LastName='Ok'", 0), 0);
}

static void test_member_status_rules(void **s)
{
    (void)s;
    const char *url = "/services/data/v60.0/composite/sobjects";
    reply r = call_ok("POST", url,
                      "{\"records\":["
                      "{\"attributes\":{\"type\":\"CampaignMemberStatus\"},\"CampaignId\":"
                      "\"701000000000001\",\"Label\":\"Dup\",\"SortOrder\":20},"
                      "{\"attributes\":{\"type\":\"CampaignMemberStatus\"},\"CampaignId\":"
                      "\"701000000000001\",\"Label\":\"registered\",\"SortOrder\":25},"
                      "{\"attributes\":{\"type\":\"CampaignMemberStatus\"},\"CampaignId\":"
                      "\"701000000000001\",\"Label\":\"No Show\",\"SortOrder\":40,"
                      "\"IsDefault\":true}]}",
                      200);
    assert_string_equal(rec_status(r.body, 0), "DUPLICATE_VALUE");
    assert_non_null(strstr(rec_message(r.body, 0), "SortOrder"));
    assert_string_equal(rec_status(r.body, 1), "DUPLICATE_VALUE");
    assert_string_equal(rec_status(r.body, 2), "ok");
    char noshow[19];
    snprintf(noshow, sizeof noshow, "%s",
             json_string_value(json_object_get(json_array_get(r.body, 2), "id")));
    json_decref(r.body);
    /* Exactly one default: the new one took over. */
    assert_int_equal(query_count("SELECT+Id+FROM+CampaignMemberStatus+WHERE+IsDefault=true", 0), 1);
    assert_int_equal(
        query_count("SELECT+Id+FROM+CampaignMemberStatus+WHERE+IsDefault=true+AND+Label='No+Show'",
                    0),
        1);
    /* The default can't be deleted; an unused non-default can. */
    char durl[256];
    snprintf(durl, sizeof durl, "%s?ids=%s", url, noshow);
    r = call_ok("DELETE", durl, NULL, 200);
    assert_string_equal(rec_status(r.body, 0), "DELETE_FAILED");
    json_decref(r.body);
    /* An in-use status can't be deleted. */
    r = call_ok("POST", url,
                "{\"records\":[{\"attributes\":{\"type\":\"CampaignMember\"},\"CampaignId\":"
                "\"701000000000001\",\"LeadId\":\"00Q000000000001\",\"Status\":\"Registered\"}]}",
                200);
    assert_string_equal(rec_status(r.body, 0), "ok");
    json_decref(r.body);
    r = call_ok("GET",
                "/services/data/v60.0/query?q=SELECT+Id,Label+FROM+CampaignMemberStatus+WHERE+"
                "Label+IN+('Registered','Invited')+ORDER+BY+SortOrder",
                NULL, 200);
    json_t *recs = json_object_get(r.body, "records");
    char invited[19], registered[19];
    snprintf(invited, sizeof invited, "%s",
             json_string_value(json_object_get(json_array_get(recs, 0), "Id")));
    snprintf(registered, sizeof registered, "%s",
             json_string_value(json_object_get(json_array_get(recs, 1), "Id")));
    json_decref(r.body);
    snprintf(durl, sizeof durl, "%s?ids=%s,%s", url, registered, invited);
    r = call_ok("DELETE", durl, NULL, 200);
    assert_string_equal(rec_status(r.body, 0), "DELETE_FAILED");
    assert_string_equal(rec_status(r.body, 1), "ok");
    json_decref(r.body);
    /* The default can't be unset, nor the last responded status made unresponded. */
    char body0[512];
    snprintf(body0, sizeof body0,
             "{\"records\":[{\"attributes\":{\"type\":\"CampaignMemberStatus\"},\"id\":\"%s\","
             "\"IsDefault\":false}]}",
             noshow);
    r = call_ok("PATCH", url, body0, 200);
    assert_string_equal(rec_status(r.body, 0), "FIELD_INTEGRITY_EXCEPTION");
    json_decref(r.body);
    r = call_ok("GET",
                "/services/data/v60.0/query?q=SELECT+Id+FROM+CampaignMemberStatus+WHERE+"
                "Label='Attended'",
                NULL, 200);
    char attended[19];
    snprintf(attended, sizeof attended, "%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(r.body, "records"), 0), "Id")));
    json_decref(r.body);
    snprintf(body0, sizeof body0,
             "{\"records\":[{\"attributes\":{\"type\":\"CampaignMemberStatus\"},\"id\":\"%s\","
             "\"HasResponded\":false}]}",
             attended);
    r = call_ok("PATCH", url, body0, 200);
    assert_string_equal(rec_status(r.body, 0), "FIELD_INTEGRITY_EXCEPTION");
    json_decref(r.body);
    /* Renaming a status carries its members along. */
    char body[512];
    snprintf(body, sizeof body,
             "{\"records\":[{\"attributes\":{\"type\":\"CampaignMemberStatus\"},\"id\":\"%s\","
             "\"Label\":\"Signed Up\",\"HasResponded\":true}]}",
             registered);
    r = call_ok("PATCH", url, body, 200);
    assert_string_equal(rec_status(r.body, 0), "ok");
    json_decref(r.body);
    assert_int_equal(query_count("SELECT+Id+FROM+CampaignMember+WHERE+Status='Signed+Up'+AND+"
                                 "HasResponded=true",
                                 0),
                     1);
}

static void test_marketing_user(void **s)
{
    (void)s;
    assert_int_equal(admin("set_marketing_user", "{\"value\":false}", NULL), 200);
    reply r = call_ok("GET", "/services/data/v60.0/query?q=SELECT+Id+FROM+CampaignMemberStatus",
                      NULL, 400);
    assert_string_equal(err_code(r.body), "INVALID_TYPE");
    assert_non_null(
        strstr(err_message(r.body), "sObject type 'CampaignMemberStatus' is not supported."));
    json_decref(r.body);
    r = call_ok("POST", "/services/data/v60.0/sobjects/CampaignMemberStatus",
                "{\"CampaignId\":\"701000000000001\",\"Label\":\"X\"}", 404);
    json_decref(r.body);
    r = call_ok("POST", "/services/data/v60.0/composite/sobjects",
                "{\"records\":[{\"attributes\":{\"type\":\"CampaignMemberStatus\"},"
                "\"CampaignId\":\"701000000000001\",\"Label\":\"X\"}]}",
                200);
    assert_string_equal(rec_status(r.body, 0), "INVALID_TYPE");
    json_decref(r.body);
    /* The flag itself is readable through the API. */
    r = call_ok("GET",
                "/services/data/v60.0/sobjects/User/" USER "?fields=UserPermissionsMarketingUser",
                NULL, 200);
    assert_true(json_is_false(json_object_get(r.body, "UserPermissionsMarketingUser")));
    json_decref(r.body);
    assert_int_equal(admin("set_marketing_user", "{\"value\":true}", NULL), 200);
    assert_int_equal(query_count("SELECT+Id+FROM+CampaignMemberStatus", 0), 3);
}

static void test_upsert(void **s)
{
    (void)s;
    const char *url =
        "/services/data/v60.0/composite/sobjects/Buyer_Touchpoint__c/Touchpoint_Id__c";
    const char *body = "{\"allOrNone\":false,\"records\":["
                       "{\"attributes\":{\"type\":\"Buyer_Touchpoint__c\"},\"Touchpoint_Id__c\":"
                       "\"tp-1\",\"Weight__c\":0.4},"
                       "{\"attributes\":{\"type\":\"Buyer_Touchpoint__c\"},\"Touchpoint_Id__c\":"
                       "\"tp-2\",\"Weight__c\":\"0.6\"}]}";
    reply r = call_ok("PATCH", url, body, 200);
    assert_string_equal(r.endpoint, "PATCH composite/sobjects upsert");
    assert_string_equal(rec_status(r.body, 0), "ok");
    assert_true(json_is_true(json_object_get(json_array_get(r.body, 0), "created")));
    assert_true(json_is_true(json_object_get(json_array_get(r.body, 1), "created")));
    char id1[19];
    snprintf(id1, sizeof id1, "%s",
             json_string_value(json_object_get(json_array_get(r.body, 0), "id")));
    json_decref(r.body);
    r = call_ok("PATCH", url, body, 200);
    assert_true(json_is_false(json_object_get(json_array_get(r.body, 0), "created")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.body, 0), "id")), id1);
    json_decref(r.body);
    assert_int_equal(query_count("SELECT+Id+FROM+Buyer_Touchpoint__c+WHERE+Weight__c+>+0.5", 0), 1);
    r = call_ok("PATCH", url,
                "{\"records\":[{\"attributes\":{\"type\":\"Buyer_Touchpoint__c\"},"
                "\"Touchpoint_Id__c\":\"tp-3\"},{\"attributes\":{\"type\":\"Buyer_Touchpoint__c\"},"
                "\"Touchpoint_Id__c\":\"tp-3\"},{\"attributes\":{\"type\":\"Buyer_Touchpoint__c\"},"
                "\"Weight__c\":1}]}",
                200);
    assert_string_equal(rec_status(r.body, 0), "DUPLICATE_EXTERNAL_ID");
    assert_string_equal(rec_status(r.body, 1), "DUPLICATE_EXTERNAL_ID");
    assert_string_equal(rec_status(r.body, 2), "REQUIRED_FIELD_MISSING");
    json_decref(r.body);
    r = call_ok("PATCH", "/services/data/v60.0/composite/sobjects/Buyer_Touchpoint__c/Nope__c",
                body, 404);
    json_decref(r.body);
    r = call_ok("PATCH", "/services/data/v60.0/composite/sobjects/Lead/LastName", body, 400);
    assert_string_equal(err_code(r.body), "INVALID_FIELD");
    json_decref(r.body);
    /* Upsert by Id updates the record, or says it doesn't exist. */
    r = call_ok("PATCH", "/services/data/v60.0/sobjects/Lead/Id/00Q000000000001",
                "{\"Title\":\"VP\"}", 200);
    assert_true(json_is_false(json_object_get(r.body, "created")));
    json_decref(r.body);
    r = call_ok("PATCH", "/services/data/v60.0/sobjects/Lead/Id/00Q000000000099", "{}", 404);
    assert_string_equal(err_code(r.body), "NOT_FOUND");
    json_decref(r.body);
    /* Single-record upsert: 201 created, then 200 updated. */
    r = call_ok("PATCH", "/services/data/v60.0/sobjects/Buyer_Touchpoint__c/Touchpoint_Id__c/tp-9",
                "{\"Weight__c\":1}", 201);
    assert_true(json_is_true(json_object_get(r.body, "created")));
    json_decref(r.body);
    r = call_ok("PATCH", "/services/data/v60.0/sobjects/Buyer_Touchpoint__c/Touchpoint_Id__c/tp-9",
                "{\"Weight__c\":2}", 200);
    assert_true(json_is_false(json_object_get(r.body, "created")));
    json_decref(r.body);
}

static void test_faults(void **s)
{
    (void)s;
    next_fault = SBX_FAULT_TRANSIENT;
    reply r = call_ok("POST", "/services/data/v60.0/composite/sobjects",
                      "{\"records\":[{\"attributes\":{\"type\":\"Lead\"},\"LastName\":\"L\","
                      "\"Company\":\"C\"}]}",
                      200);
    assert_string_equal(rec_status(r.body, 0), "UNABLE_TO_LOCK_ROW");
    json_decref(r.body);
    r = call_ok("POST", "/services/data/v60.0/sobjects/Lead",
                "{\"LastName\":\"L\",\"Company\":\"C\"}", 400);
    assert_string_equal(err_code(r.body), "UNABLE_TO_LOCK_ROW");
    json_decref(r.body);
    r = call_ok("GET", "/services/data/v60.0/query?q=SELECT+Id+FROM+Lead", NULL, 503);
    json_decref(r.body);
    r = call_ok("DELETE", "/services/data/v60.0/sobjects/Lead/00Q000000000001", NULL, 400);
    assert_string_equal(err_code(r.body), "UNABLE_TO_LOCK_ROW");
    json_decref(r.body);
    r = call_ok("DELETE", "/services/data/v60.0/composite/sobjects?ids=00Q000000000001", NULL, 200);
    assert_string_equal(rec_status(r.body, 0), "UNABLE_TO_LOCK_ROW");
    assert_non_null(strstr(rec_message(r.body, 0), "00Q000000000001EAA"));
    json_decref(r.body);
    next_fault = SBX_FAULT_SERVER_ERROR;
    r = call_ok("POST", "/services/data/v60.0/composite/sobjects", "{\"records\":[]}", 503);
    json_decref(r.body);
    next_fault = SBX_FAULT_RATE_LIMIT;
    r = call_ok("POST", "/services/oauth2/token",
                "grant_type=client_credentials&client_id=cid&client_secret=s%26c", 503);
    json_decref(r.body);
    next_fault = SBX_FAULT_NONE;
    assert_int_equal(query_count("SELECT+Id+FROM+Lead", 0), 3);
}

static void test_paging(void **s)
{
    (void)s;
    /* 5,000 leads in one campaign. */
    size_t cap = 5000 * 260 + 4096;
    char *d = malloc(cap);
    size_t o = (size_t)snprintf(
        d, cap,
        "{\"client_id\":\"cid\",\"client_secret\":\"s&c\",\"records\":{\"User\":[{\"Username\":"
        "\"a@x.com\",\"LastName\":\"A\",\"UserPermissionsMarketingUser\":true}],"
        "\"Campaign\":[{\"Id\":\"701000000000001\",\"Name\":\"Big\"}],\"Lead\":[");
    for (int i = 0; i < 5000; i++)
        o += (size_t)snprintf(d + o, cap - o,
                              "%s{\"LastName\":\"L%d\",\"Company\":\"C\",\"Email\":\"l%d@x.com\"}",
                              i ? "," : "", i, i);
    o += (size_t)snprintf(d + o, cap - o, "]}}");
    sbx_salesforce_ops.destroy(org);
    org = make_org(d);
    free(d);
    login();
    /* Members added through the API, 200 at a time. */
    reply r =
        call_ok("GET", "/services/data/v60.0/query?q=SELECT+Id+FROM+Lead+ORDER+BY+Id", NULL, 200);
    json_t *all_ids = json_array();
    for (;;) {
        size_t i;
        json_t *rec;
        json_array_foreach(json_object_get(r.body, "records"), i, rec)
            json_array_append(all_ids, json_object_get(rec, "Id"));
        const char *next = json_string_value(json_object_get(r.body, "nextRecordsUrl"));
        if (!next)
            break;
        char *n = strdup(next);
        json_decref(r.body);
        r = call_ok("GET", n, NULL, 200);
        free(n);
    }
    json_decref(r.body);
    assert_int_equal(json_array_size(all_ids), 5000);
    for (size_t at = 0; at < 5000; at += 200) {
        size_t cap2 = 200 * 200 + 64, o2 = 0;
        char *b = malloc(cap2);
        o2 += (size_t)snprintf(b, cap2, "{\"records\":[");
        for (size_t k = at; k < at + 200; k++)
            o2 +=
                (size_t)snprintf(b + o2, cap2 - o2,
                                 "%s{\"attributes\":{\"type\":\"CampaignMember\"},\"CampaignId\":"
                                 "\"701000000000001\",\"LeadId\":\"%s\"}",
                                 k > at ? "," : "", json_string_value(json_array_get(all_ids, k)));
        snprintf(b + o2, cap2 - o2, "]}");
        r = call_ok("POST", "/services/data/v60.0/composite/sobjects", b, 200);
        free(b);
        for (size_t k = 0; k < 200; k++)
            assert_string_equal(rec_status(r.body, k), "ok");
        json_decref(r.body);
    }
    json_decref(all_ids);

    const char *q = "/services/data/v60.0/query?q=SELECT+Id,Status,Lead.Email+FROM+CampaignMember+"
                    "WHERE+CampaignId='701000000000001'";
    r = call_ok("GET", q, NULL, 200);
    int pages = 0, rows = 0;
    json_t *seen = json_object();
    for (;;) {
        pages++;
        json_t *recs = json_object_get(r.body, "records");
        assert_int_equal(json_integer_value(json_object_get(r.body, "totalSize")), 5000);
        rows += (int)json_array_size(recs);
        size_t i;
        json_t *rec;
        json_array_foreach(recs, i, rec)
        {
            json_object_set(seen, json_string_value(json_object_get(rec, "Id")), json_true());
            assert_non_null(
                json_string_value(json_object_get(json_object_get(rec, "Lead"), "Email")));
        }
        const char *next = json_string_value(json_object_get(r.body, "nextRecordsUrl"));
        if (pages < 3) {
            assert_int_equal(json_array_size(recs), 2000);
            assert_true(json_is_false(json_object_get(r.body, "done")));
            assert_non_null(next);
            assert_memory_equal(next, "/services/data/v60.0/query/01g", 30);
            char suffix[16];
            snprintf(suffix, sizeof suffix, "-%d", pages * 2000);
            assert_string_equal(next + strlen(next) - strlen(suffix), suffix);
        } else {
            assert_int_equal(json_array_size(recs), 1000);
            assert_true(json_is_true(json_object_get(r.body, "done")));
            assert_null(next);
            break;
        }
        char *n = strdup(next);
        json_decref(r.body);
        r = call_ok("GET", n, NULL, 200);
        free(n);
    }
    json_decref(r.body);
    assert_int_equal(pages, 3);
    assert_int_equal(rows, 5000);
    assert_int_equal(json_object_size(seen), 5000);
    json_decref(seen);
    /* The cursor closed with its last page. */
    r = call_ok("GET", "/services/data/v60.0/query/01g000000000001-2000", NULL, 400);
    assert_string_equal(err_code(r.body), "INVALID_QUERY_LOCATOR");
    json_decref(r.body);
    /* Salesforce keeps 10 cursors per user: an 11th closes the oldest. */
    char first_next[256] = "";
    for (int k = 0; k < 11; k++) {
        r = call_ok("GET", q, NULL, 200);
        if (k == 0)
            snprintf(first_next, sizeof first_next, "%s",
                     json_string_value(json_object_get(r.body, "nextRecordsUrl")));
        json_decref(r.body);
    }
    r = call_ok("GET", first_next, NULL, 400);
    assert_string_equal(err_code(r.body), "INVALID_QUERY_LOCATOR");
    json_decref(r.body);
    /* Idle cursors expire after 15 minutes. */
    r = call_ok("GET", q, NULL, 200);
    snprintf(first_next, sizeof first_next, "%s",
             json_string_value(json_object_get(r.body, "nextRecordsUrl")));
    json_decref(r.body);
    now_ms += 16 * 60 * 1000;
    login();
    r = call_ok("GET", first_next, NULL, 400);
    json_decref(r.body);
    /* Sforce-Query-Options batchSize makes smaller pages. */
    extra_header_name = "Sforce-Query-Options";
    extra_header_value = "batchSize=500";
    r = call_ok("GET", q, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(r.body, "records")), 500);
    json_decref(r.body);
    extra_header_name = NULL;
}

static void test_admin_actions(void **s)
{
    (void)s;
    json_t *out = NULL;
    now_ms += 60000;
    assert_int_equal(admin("add_member",
                           "{\"CampaignId\":\"701000000000001\",\"LeadId\":\"00Q000000000002\"}",
                           &out),
                     200);
    char mid[19];
    snprintf(mid, sizeof mid, "%s", json_string_value(json_object_get(out, "id")));
    json_decref(out);
    assert_int_equal(admin("add_member",
                           "{\"CampaignId\":\"701000000000001\",\"LeadId\":\"00Q000000000002\"}",
                           &out),
                     400);
    assert_string_equal(json_string_value(json_object_get(out, "errorCode")), "DUPLICATE_VALUE");
    json_decref(out);
    now_ms += 60000;
    assert_int_equal(admin("set_member_status",
                           "{\"CampaignId\":\"701000000000001\",\"LeadId\":\"00Q000000000002\","
                           "\"Status\":\"Attended\"}",
                           NULL),
                     200);
    char url[256];
    snprintf(url, sizeof url,
             "/services/data/v60.0/sobjects/CampaignMember/%s?fields=Status,SystemModstamp,"
             "LastModifiedById,HasResponded",
             mid);
    reply r = call_ok("GET", url, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(r.body, "Status")), "Attended");
    assert_true(json_is_true(json_object_get(r.body, "HasResponded")));
    assert_string_equal(json_string_value(json_object_get(r.body, "SystemModstamp")),
                        "2026-01-31T12:02:00.000+0000");
    /* UI changes are made by a person, not the integration user. */
    assert_string_equal(json_string_value(json_object_get(r.body, "LastModifiedById")),
                        "005000000000002AAA");
    json_decref(r.body);
    /* Converting a lead: its memberships name the new contact too. */
    assert_int_equal(admin("convert_lead", "{\"id\":\"00Q000000000002\"}", &out), 200);
    const char *contact = json_string_value(json_object_get(out, "contact_id"));
    assert_int_equal(json_integer_value(json_object_get(out, "members_updated")), 1);
    char q[256];
    snprintf(q, sizeof q,
             "SELECT+Id+FROM+CampaignMember+WHERE+ContactId='%s'+AND+LeadId='00Q000000000002'",
             contact);
    assert_int_equal(query_count(q, 0), 1);
    json_decref(out);
    /* A converted lead can't be converted again, nor converted into a missing contact. */
    assert_int_equal(admin("convert_lead", "{\"id\":\"00Q000000000002\"}", NULL), 400);
    assert_int_equal(admin("convert_lead",
                           "{\"id\":\"00Q000000000001\",\"contact_id\":\"003000000000009\"}", NULL),
                     404);
    assert_int_equal(admin("convert_lead",
                           "{\"id\":\"00Q000000000001\",\"contact_id\":\"003000000000001\"}", &out),
                     200);
    assert_string_equal(json_string_value(json_object_get(out, "account_id")),
                        "001000000000001AAA");
    json_decref(out);
    assert_int_equal(admin("remove_member", "{\"id\":\"00v000000000000\"}", NULL), 404);
    snprintf(q, sizeof q, "{\"id\":\"%s\"}", mid);
    assert_int_equal(admin("remove_member", q, NULL), 200);
    assert_int_equal(query_count("SELECT+Id+FROM+CampaignMember+WHERE+IsDeleted=true", 1), 1);
    /* state: the dataset form, tombstones included. */
    assert_int_equal(admin("state", NULL, &out), 200);
    json_t *members = json_object_get(json_object_get(out, "records"), "CampaignMember");
    assert_int_equal(json_array_size(members), 1);
    assert_true(json_is_true(json_object_get(json_array_get(members, 0), "IsDeleted")));
    assert_string_equal(json_string_value(json_object_get(out, "client_id")), "cid");
    /* The state loads back into an equal org. */
    char err[256] = "";
    void *copy = sbx_salesforce_ops.create(out, 1, err, sizeof err);
    assert_non_null(copy);
    json_t *again = NULL;
    assert_int_equal(sbx_salesforce_ops.admin(copy, "state", NULL, now_ms, &again), 200);
    assert_true(json_equal(json_object_get(again, "records"), json_object_get(out, "records")));
    json_decref(again);
    sbx_salesforce_ops.destroy(copy);
    json_decref(out);
    assert_int_equal(admin("no_such_action", NULL, &out), 404);
    json_decref(out);
}

static void test_bad_datasets(void **s)
{
    (void)s;
    static const char *const bad[] = {
        "{\"records\":{\"Nope\":[]}}",
        "{\"records\":{\"Lead\":[{\"Id\":\"001000000000001\",\"LastName\":\"x\"}]}}",
        "{\"records\":{\"Lead\":[{\"Foo\":1}]}}",
        "{\"records\":{\"Campaign\":[{\"StartDate\":\"soon\"}]}}",
        "{\"custom_objects\":{\"NoSuffix\":[]}}",
        "{\"custom_fields\":{\"Nope\":[\"A__c\"]}}",
        "{\"integration_user\":\"005000000000009\"}",
        "{\"records\":{\"Lead\":[{\"Id\":\"00Q000000000001\"},{\"Id\":\"00Q000000000001\"}]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        char err[256] = "";
        void *st = sbx_salesforce_ops.create(j, 1, err, sizeof err);
        json_decref(j);
        if (st)
            fail_msg("dataset %zu was accepted: %s", i, bad[i]);
        assert_true(strlen(err) > 0);
    }
    /* Rows loaded without a required field stay editable (only a field an
     * update sets may not be blank). */
    json_t *j = json_loads("{\"integration_user\":\"005000000000001\",\"records\":{\"User\":"
                           "[{\"Id\":\"005000000000001\",\"Username\":\"u@x.com\","
                           "\"UserPermissionsMarketingUser\":true}]}}",
                           0, NULL);
    char err0[256] = "";
    org = sbx_salesforce_ops.create(j, 1, err0, sizeof err0);
    json_decref(j);
    assert_non_null(org);
    json_t *out = NULL;
    assert_int_equal(admin("set_marketing_user", "{\"value\":false}", &out), 200);
    json_decref(out);
    assert_int_equal(
        admin("update", "{\"id\":\"005000000000001\",\"fields\":{\"LastName\":\"\"}}", &out), 400);
    assert_string_equal(json_string_value(json_object_get(out, "errorCode")),
                        "REQUIRED_FIELD_MISSING");
    json_decref(out);
    sbx_salesforce_ops.destroy(org);
    org = NULL;
    /* An empty section is a valid empty org with a generated API user. */
    char err[256] = "";
    void *st = sbx_salesforce_ops.create(NULL, 1, err, sizeof err);
    assert_non_null(st);
    sbx_salesforce_ops.destroy(st);
}

static void test_ids(void **s)
{
    (void)s;
    char out[19];
    assert_int_equal(sfs_id_normalize("0015000000Gv7qJ", 15, out), 0);
    assert_string_equal(out, "0015000000Gv7qJAAR");
    assert_int_equal(sfs_id_normalize("0015000000gv7qjaar", 18, out), 0);
    assert_string_equal(out, "0015000000Gv7qJAAR");
    assert_int_equal(sfs_id_normalize("0015000000Gv7q", 14, out), -1);
    assert_int_equal(sfs_id_normalize("0015000000Gv7q!", 15, out), -1);
    assert_int_equal(sfs_id_normalize("0015000000Gv7qJAA9", 18, out), -1);
    sfs_id_make("00v", 123456789, out);
    char again[19];
    assert_int_equal(sfs_id_normalize(out, 15, again), 0);
    assert_string_equal(out, again);
    assert_memory_equal(out, "00v", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_oauth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collections_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_or_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_status_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marketing_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_actions, setup, teardown),
        cmocka_unit_test(test_bad_datasets),
        cmocka_unit_test(test_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
