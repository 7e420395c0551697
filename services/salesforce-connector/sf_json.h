/*
 * Salesforce response bodies -> typed values. This is where the connector
 * stops speaking Salesforce: query pages, the records of the objects campsync
 * uses (Campaign, CampaignMember, CampaignMemberStatus, Lead, Contact,
 * Opportunity, User), the OAuth token answer and sObject Collections results
 * come in as JSON text and leave as C values or the generated protobuf-c
 * messages of campsync/v1/salesforce.proto.
 *
 * Nothing here trusts the body: a missing field is its proto default, JSON
 * null is "no value" (empty string / 0 / false), and a field of the wrong
 * type fails the parse with an error naming it, e.g.
 *   "records[3].ActualCost: expected a number, got string".
 *
 * Times: datetimes like "2026-01-31T12:00:00.000+0000" become Unix epoch ms;
 * dates stay "YYYY-MM-DD" (validated). Money: currency fields become integer
 * minor units (cents) exactly: 1234.5 -> 123450, 19.99 -> 1999, with no
 * binary floating-point drift; a third decimal rounds half away from zero.
 *
 * Ownership of protobuf-c messages: every message these functions create or
 * extend is ONE tree allocated with malloc (strings, repeated arrays,
 * sub-messages), laid out exactly as protobuf-c's default allocator would,
 * so the caller releases it with protobuf_c_message_free_unpacked(&m->base,
 * NULL) (or the generated *__free_unpacked(m, NULL)). String fields left at
 * their default point at protobuf_c_empty_string, which free_unpacked skips.
 * Messages passed in to be extended must follow the same rule (create them
 * with sf_msg_new or get them from these functions).
 */
#ifndef SF_JSON_H
#define SF_JSON_H

#include "sf_errors.h"

#include "campsync/v1/salesforce.pb-c.h"
#include "json/json.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A zeroed, initialised message of type d from malloc (NULL on OOM). */
void *sf_msg_new(const ProtobufCMessageDescriptor *d);

/* Times and money: thin wrappers over common/json (cj_parse_datetime,
 * cj_format_datetime, cj_decimal_to_minor, cj_json_to_minor,
 * cj_minor_to_json), which hold the rules for both connectors. */

/* "2026-01-31T12:00:00.000+0000" (also Z, +00:00, no fraction) -> epoch ms.
 * A bare date "2026-01-31" (date fields such as FirstRespondedDate) reads as
 * midnight UTC. */
int sf_parse_datetime(const char *s, int64_t *ms, sf_err *err);
/* epoch ms -> "2026-01-31T12:00:00.000Z" (buf >= 32 bytes). */
void sf_format_datetime(int64_t ms, char *buf, size_t n);
/* An exact decimal text ("1234.5", "-0.01", "1e3") -> minor units (x100). */
int sf_decimal_to_minor(const char *text, int64_t *minor, sf_err *err);
/* A JSON number (integer or real) -> minor units, exactly as its decimal reads. */
int sf_json_to_minor(const json_t *v, int64_t *minor, sf_err *err);
/* Minor units -> a JSON number that prints exactly (integer when whole).
 * Dump with SF_JSON_DUMP_FLAGS so 19.99 does not print as 19.989999999999998. */
json_t *sf_minor_to_json(int64_t minor);
#define SF_JSON_DUMP_FLAGS CJ_MONEY_DUMP_FLAGS

/* One page of a query or queryAll answer. records is owned by the page. */
typedef struct sf_page {
    int64_t total_size;
    bool done;
    char *next_records_url; /* NULL when done; a path like /services/data/v60.0/query/01g..-2000 */
    json_t *records;        /* the records array */
} sf_page;

/* Parses a query answer; on failure *page is empty and err says why. */
int sf_page_parse(const char *body, size_t len, sf_page *page, sf_err *err);
void sf_page_clear(sf_page *page);

/*
 * Record mappers: one JSON record (as in sf_page.records) -> a new message.
 * `where` prefixes error messages ("records[3]"); may be NULL.
 * Fields read (relationship paths in parentheses):
 *   Campaign: Id Name Type Status IsActive ActualCost StartDate EndDate
 *     SystemModstamp and the touchpoint fields named by sf_fields()
 *     (default Enable_Buyer_Touchpoints__c Touchpoint_Start_Date__c
 *     Touchpoint_End_Date__c)
 *   CampaignMember: Id CampaignId LeadId ContactId Status HasResponded
 *     FirstRespondedDate CreatedDate LastModifiedDate SystemModstamp IsDeleted
 *     Email (else Lead.Email / Contact.Email) (Contact.AccountId)
 *     sf_fields()->buyer_touchpoint_date (default Buyer_Touchpoint_Date__c)
 *   CampaignMemberStatus: Id Label SortOrder IsDefault HasResponded
 *   Lead / Contact (kind from attributes.type, else the `kind` argument):
 *     Id Email FirstName LastName Company AccountId IsConverted
 *     ConvertedContactId CreatedDate
 *   Opportunity: Id AccountId Amount CreatedDate CloseDate IsClosed IsWon Name
 *   User: Id Username UserPermissionsMarketingUser
 */
int sf_campaign_from_json(const json_t *rec, const char *where, Campsync__V1__Campaign **out,
                          sf_err *err);
int sf_member_from_json(const json_t *rec, const char *where, Campsync__V1__CampaignMember **out,
                        sf_err *err);
int sf_member_status_from_json(const json_t *rec, const char *where,
                               Campsync__V1__MemberStatus **out, sf_err *err);
int sf_person_from_json(const json_t *rec, const char *where, const char *kind,
                        Campsync__V1__Person **out, sf_err *err);
int sf_opportunity_from_json(const json_t *rec, const char *where, Campsync__V1__Opportunity **out,
                             sf_err *err);
int sf_user_from_json(const json_t *rec, const char *where, Campsync__V1__MarketingUserCheck **out,
                      sf_err *err);

/*
 * Page -> list: appends every record of the page to the list message (which
 * may already hold earlier pages). On failure the list is unchanged.
 */
int sf_campaigns_append(const sf_page *page, Campsync__V1__CampaignList *list, sf_err *err);
int sf_members_append(const sf_page *page, Campsync__V1__CampaignMemberPage *list, sf_err *err);
int sf_member_statuses_append(const sf_page *page, Campsync__V1__MemberStatusList *list,
                              sf_err *err);
int sf_people_append(const sf_page *page, const char *kind, Campsync__V1__PersonList *list,
                     sf_err *err);
int sf_opportunities_append(const sf_page *page, Campsync__V1__OpportunityList *list, sf_err *err);

/* The OAuth token answer. */
typedef struct sf_token {
    char *access_token;
    char *instance_url;   /* "https://na1.my.salesforce.com", no trailing slash */
    char *id_url;         /* identity URL ".../id/<orgId>/<userId>" ("" if absent) */
    char *org_id;         /* from id_url ("" if absent) */
    char *user_id;        /* from id_url ("" if absent) */
    char *token_type;     /* "Bearer" */
    int64_t issued_at_ms; /* 0 if absent */
} sf_token;

/* Requires access_token and an http(s) instance_url. */
int sf_token_parse(const char *body, size_t len, sf_token *tok, sf_err *err);
void sf_token_clear(sf_token *tok);

/*
 * An sObject Collections answer ([{id, success, errors, created?}] in request
 * order) appended to acc: one RecordResult per request record, index =
 * index_base + position, key = keys[position] (keys may be NULL). Outcomes:
 * success -> CREATED / ADDED / UPDATED / DELETED by op (upsert: by "created");
 * failure -> FAILED (or SKIPPED, see sf_record_failure_is_skip) with code =
 * first statusCode and reason = its message (+ fields). Fails, leaving acc
 * unchanged, when the answer is not an array of n_records results.
 * api_calls is incremented by one.
 */
int sf_collection_results_append(const char *body, size_t len, sf_op op, const char *const *keys,
                                 size_t n_records, int32_t index_base,
                                 Campsync__V1__BatchResult *acc, sf_err *err);

/* Single-record create answer {"id":"..","success":true,"errors":[]} -> id (caller frees). */
int sf_create_result_parse(const char *body, size_t len, char **id, sf_err *err);

#endif
