/*
 * campsync-sandbox: the contract between the HTTP framework (sbx_server.c,
 * main.c: listening, admin API, faults, call accounting, dataset loading and
 * generation) and the two vendor simulators (mkto_*.c for Marketo,
 * sf_*.c + soql*.c for Salesforce).
 *
 * The framework owns the sockets and parses each request into an sbx_request;
 * a vendor fills an sbx_response. A vendor never touches libmicrohttpd, so
 * each vendor can be driven directly by unit tests and fuzz targets.
 *
 * Threading: the framework may call a vendor from several threads at once;
 * each vendor serialises access to its own state with its own mutex.
 *
 * Dataset (JSON file given with --dataset, or made by --generate):
 * {
 *   "marketo": {
 *     "client_id": "...", "client_secret": "...",
 *     "token_ttl_s": 3600,                       optional
 *     "limits": {"calls_per_20s":100, "concurrent":10, "daily":50000},  optional
 *     "channels": [{"id":1,"name":"Webinar","applicableProgramType":"event",
 *                   "progressionStatuses":[{"name":"Invited","step":10,
 *                   "success":false,"hidden":false,"description":""}]}],
 *     "programs": [{"id":1001,"name":"...","type":"Event","channel":"Webinar",
 *                   "status":"on","costs":[{"startDate":"2026-01-01","cost":1500.0,
 *                   "note":""}],"sfdcId":"701...","sfdcName":"...",
 *                   "createdAt":"2026-01-01T00:00:00Z","updatedAt":"..."}],
 *     "leads":   [{"id":1,"email":"a@x.com","firstName":"..","lastName":"..",
 *                  "company":"..","sfdcLeadId":"00Q...","sfdcContactId":"003...",
 *                  "createdAt":"...","updatedAt":"..."}],
 *     "members": [{"programId":1001,"leadId":1,"statusName":"Registered",
 *                  "membershipDate":"...","updatedAt":"..."}]
 *   },
 *   "salesforce": {
 *     "client_id": "...", "client_secret": "...",
 *     "integration_user": "005000000000001AAA",  the Id of the API user
 *     "token_ttl_s": 7200,                       optional
 *     "limits": {"daily_api": 100000},           optional
 *     "custom_fields": {"Campaign":["Enable_Buyer_Touchpoints__c", ...],
 *                       "CampaignMember":["Buyer_Touchpoint_Date__c"]},
 *     "custom_objects": {"Buyer_Touchpoint__c": ["Touchpoint_Id__c", ...]},
 *     "records": {                               sObject name -> rows
 *       "User": [{"Id":"005...","Username":"..","UserPermissionsMarketingUser":true}],
 *       "Account": [...], "Contact": [...], "Lead": [...], "Campaign": [...],
 *       "CampaignMemberStatus": [...], "CampaignMember": [...], "Opportunity": [...]
 *     }
 *   }
 * }
 * Record fields use Salesforce API names; datetimes are ISO 8601 UTC
 * ("2026-01-31T12:00:00.000+0000" as Salesforce writes them), dates "YYYY-MM-DD".
 */
#ifndef CAMPSYNC_SBX_H
#define CAMPSYNC_SBX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A fault the framework asks the vendor to emulate on this request. */
typedef enum {
    SBX_FAULT_NONE = 0,
    SBX_FAULT_TRANSIENT,    /* Marketo: 608/713 (alternating); Salesforce: UNABLE_TO_LOCK_ROW */
    SBX_FAULT_SERVER_ERROR, /* HTTP 503 with the vendor's body */
    SBX_FAULT_RATE_LIMIT,   /* Marketo: 606; Salesforce: treated as SERVER_ERROR */
} sbx_fault;

typedef struct sbx_request {
    const char *method; /* "GET", "POST", "PATCH", "DELETE" */
    const char *path;   /* URL path, without the query string */
    size_t url_length;  /* full URL length as received (for 414) */
    const char *body;   /* request body, NUL-terminated (may be "") */
    size_t body_len;
    sbx_fault fault; /* fault chosen by the framework for this request */
    int64_t now_ms;  /* the sandbox clock (wall clock + admin offset) */
    /* Query-string argument / request header by name; NULL when absent. */
    const char *(*arg)(const struct sbx_request *req, const char *name);
    const char *(*header)(const struct sbx_request *req, const char *name);
    void *impl; /* framework-private */
    /* Requests to this vendor being served right now, this one included
     * (a latency fault keeps a request in flight): lets a vendor emulate a
     * concurrency limit such as Marketo's 615. 0 when unknown. */
    int inflight;
    /* Sandbox time when the request arrived, before any latency fault
     * (now_ms is when it is served). 0 when unknown. */
    int64_t received_ms;
} sbx_request;

#define SBX_MAX_HEADERS 8

typedef struct sbx_response {
    int status; /* HTTP status (default 200) */
    char *body; /* malloc'd; the framework frees it */
    size_t body_len;
    char content_type[64]; /* default "application/json;charset=UTF-8" */
    int n_headers;
    char header_names[SBX_MAX_HEADERS][64];
    char header_values[SBX_MAX_HEADERS][256];
    /* Endpoint label for call accounting, e.g. "GET /rest/v1/leads.json" or
     * "POST /services/data/composite/sobjects". Empty = not counted. */
    char endpoint[128];
} sbx_response;

/* Sets status and a JSON body (takes the reference to j). */
void sbx_respond_json(sbx_response *resp, int status, json_t *j);
/* Sets status and a raw body (copied). */
void sbx_respond_raw(sbx_response *resp, int status, const char *content_type, const char *body,
                     size_t len);
/* Adds a response header. */
void sbx_add_header(sbx_response *resp, const char *name, const char *value);
/* Decodes an application/x-www-form-urlencoded value by name from a body;
 * returns a malloc'd string or NULL. */
char *sbx_form_value(const char *body, const char *name);

/* A vendor simulator. */
typedef struct sbx_vendor_ops {
    const char *name; /* "marketo" or "salesforce" */
    /* Builds state from the dataset's section for this vendor (may be NULL =
     * empty). On error returns NULL and writes a message to err. */
    void *(*create)(json_t *section, uint64_t seed, char *err, size_t err_len);
    void (*destroy)(void *state);
    /* Serves one API request. */
    void (*handle)(void *state, const sbx_request *req, sbx_response *resp);
    /*
     * Admin actions under /admin/<vendor>/<action> (POST, JSON body). Every
     * vendor answers at least "state" (the full state as dataset JSON) and
     * "expire_tokens". Returns the HTTP status; *out is the JSON answer.
     */
    int (*admin)(void *state, const char *action, json_t *body, int64_t now_ms, json_t **out);
} sbx_vendor_ops;

extern const sbx_vendor_ops sbx_marketo_ops;
extern const sbx_vendor_ops sbx_salesforce_ops;

/* Time helpers shared by both vendors (UTC). */
int64_t sbx_parse_time_ms(const char *iso); /* ISO 8601 date or datetime; -1 on error */
void sbx_format_time_sf(int64_t ms, char *out, size_t len);  /* 2026-01-31T12:00:00.000+0000 */
void sbx_format_time_iso(int64_t ms, char *out, size_t len); /* 2026-01-31T12:00:00Z */

#endif
