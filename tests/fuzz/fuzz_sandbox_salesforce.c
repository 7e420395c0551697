/*
 * Fuzz target for the Salesforce simulator's request handling. Input:
 *   line 1: method, line 2: path with optional ?query, line 3: fault digit
 *   (0-3), rest: body.
 * Each input runs against a fresh small org with a valid session, so the
 * fuzzer reaches queries, sObject rows, collections, upserts and their rules.
 * The answer must always be a well-formed status with a JSON body (or none
 * for 204), whatever comes in.
 */
#include "sbx.h"
#include "sbx_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *org_json =
    "{\"client_id\":\"cid\",\"client_secret\":\"sec\",\"integration_user\":\"005000000000001\","
    "\"custom_objects\":{\"Buyer_Touchpoint__c\":[\"Touchpoint_Id__c\"]},\"records\":{"
    "\"User\":[{\"Id\":\"005000000000001\",\"Username\":\"a@x.com\",\"LastName\":\"A\","
    "\"UserPermissionsMarketingUser\":true}],"
    "\"Lead\":[{\"Id\":\"00Q000000000001\",\"LastName\":\"L\",\"Company\":\"C\"}],"
    "\"Contact\":[{\"Id\":\"003000000000001\",\"LastName\":\"K\"}],"
    "\"Campaign\":[{\"Id\":\"701000000000001\",\"Name\":\"W\"}],"
    "\"CampaignMember\":[{\"Id\":\"00v000000000001\",\"CampaignId\":\"701000000000001\","
    "\"LeadId\":\"00Q000000000001\"}]}}";

typedef struct {
    char *names[16], *values[16];
    int n;
    char auth[200];
} fuzz_req;

static const char *fz_arg(const sbx_request *req, const char *name)
{
    fuzz_req *f = req->impl;
    for (int i = 0; i < f->n; i++) {
        if (strcmp(f->names[i], name) == 0)
            return f->values[i];
    }
    return NULL;
}

static const char *fz_header(const sbx_request *req, const char *name)
{
    fuzz_req *f = req->impl;
    if (strcasecmp(name, "Authorization") == 0)
        return f->auth;
    if (strcasecmp(name, "Host") == 0)
        return "127.0.0.1:1";
    return NULL;
}

static void fz_call(void *org, fuzz_req *f, const char *method, char *path, const char *body,
                    size_t body_len, sbx_fault fault, sbx_response *resp)
{
    char *qs = strchr(path, '?');
    if (qs) {
        *qs++ = '\0';
        for (char *p = qs; p && *p && f->n < 16;) {
            char *amp = strchr(p, '&');
            size_t seg = amp ? (size_t)(amp - p) : strlen(p);
            char *eq = memchr(p, '=', seg);
            size_t kl = eq ? (size_t)(eq - p) : seg;
            f->names[f->n] = sbx_url_decode(p, kl);
            f->values[f->n] = eq ? sbx_url_decode(eq + 1, seg - kl - 1) : strdup("");
            f->n++;
            p = amp ? amp + 1 : NULL;
        }
    }
    sbx_request req = {.method = method,
                       .path = path,
                       .url_length = strlen(path),
                       .body = body,
                       .body_len = body_len,
                       .fault = fault,
                       .now_ms = 1769860800000LL,
                       .arg = fz_arg,
                       .header = fz_header,
                       .impl = f};
    sbx_salesforce_ops.handle(org, &req, resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loads(org_json, 0, NULL);
    char err[256];
    void *org = sbx_salesforce_ops.create(j, 1, err, sizeof err);
    json_decref(j);
    if (!org)
        abort();
    /* A valid session first. */
    fuzz_req login = {0};
    char token_path[] = "/services/oauth2/token";
    const char *form = "grant_type=client_credentials&client_id=cid&client_secret=sec";
    sbx_response resp = {0};
    fz_call(org, &login, "POST", token_path, form, strlen(form), SBX_FAULT_NONE, &resp);
    json_t *tok = json_loadb(resp.body, resp.body_len, 0, NULL);
    free(resp.body);
    fuzz_req f = {0};
    snprintf(f.auth, sizeof f.auth, "Bearer %s",
             json_string_value(json_object_get(tok, "access_token")));
    json_decref(tok);

    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = '\0';
    char *method = in, *path = "", *fault_s = "0", *body = "";
    char *nl = strchr(method, '\n');
    if (nl) {
        *nl = '\0';
        path = nl + 1;
        nl = strchr(path, '\n');
        if (nl) {
            *nl = '\0';
            fault_s = nl + 1;
            nl = strchr(fault_s, '\n');
            if (nl) {
                *nl = '\0';
                body = nl + 1;
            }
        }
    }
    sbx_fault fault = (sbx_fault)((unsigned char)fault_s[0] % 4);
    size_t body_len = size - (size_t)(body - in);
    if (body[0] == '\0' && body_len > 0)
        body_len = 0;
    char *path_copy = strdup(path);
    memset(&resp, 0, sizeof resp);
    fz_call(org, &f, method, path_copy, body, body_len > size ? 0 : body_len, fault, &resp);
    if (resp.status < 200 || resp.status > 599)
        abort();
    if (resp.body_len) {
        json_t *answer = json_loadb(resp.body, resp.body_len, 0, NULL);
        if (!answer)
            abort();
        json_decref(answer);
    }
    free(resp.body);
    for (int i = 0; i < f.n; i++) {
        free(f.names[i]);
        free(f.values[i]);
    }
    free(path_copy);
    free(in);
    sbx_salesforce_ops.destroy(org);
    return 0;
}
