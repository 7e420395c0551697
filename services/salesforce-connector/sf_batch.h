/*
 * The request side of sObject Collections: splitting any number of records
 * into calls of at most 200, and the JSON bodies (and the DELETE query) for
 * each call, built from the typed requests of salesforce.proto. Every body
 * says "allOrNone": false, so one bad record never sinks the other 199; the
 * answers are read by sf_collection_results_append (sf_json.h).
 *
 * Every id is validated (15/18 alphanumerics) and every string must be valid
 * UTF-8; a bad record fails the whole body with an error naming its position
 * and field, before anything is sent. Bodies are malloc'd for the caller.
 */
#ifndef SF_BATCH_H
#define SF_BATCH_H

#include "sf_errors.h"

#include "campsync/v1/salesforce.pb-c.h"

#include <stddef.h>

/* sObject Collections take at most 200 records per call. */
#define SF_COLLECTION_MAX 200

/* Calls needed for n records, and the range of call i (0-based). */
size_t sf_batch_count(size_t n);
void sf_batch_range(size_t i, size_t n, size_t *offset, size_t *len);

/*
 * Path of the collections resource: /services/data/<ver>/composite/sobjects,
 * or .../composite/sobjects/<sobject>/<external_id_field> for upserts (both
 * names validated). Caller frees.
 */
char *sf_collections_path(const char *api_version, const char *sobject,
                          const char *external_id_field, sf_err *err);

/* POST: CampaignMember rows {CampaignId, LeadId|ContactId, Status?}. */
char *sf_body_add_members(const char *campaign_id, Campsync__V1__NewMember *const *members,
                          size_t n, sf_err *err);
/* PATCH: CampaignMember rows {id, Status}. */
char *sf_body_member_status_changes(Campsync__V1__MemberStatusChange *const *changes, size_t n,
                                    sf_err *err);
/* PATCH: Campaign rows {id, set fields only}; an OptString of "" clears the field. */
char *sf_body_campaign_updates(Campsync__V1__CampaignUpdate *const *updates, size_t n, sf_err *err);
/* POST: CampaignMemberStatus rows {CampaignId, Label, SortOrder, IsDefault, HasResponded}. */
char *sf_body_member_statuses(const char *campaign_id, Campsync__V1__MemberStatus *const *statuses,
                              size_t n, sf_err *err);
/* POST: Lead rows {FirstName?, LastName, Company, Email?}; LastName and Company required. */
char *sf_body_create_leads(Campsync__V1__Person *const *leads, size_t n, sf_err *err);
/* PATCH: CampaignMember rows {id, <field>: value} ("" = null). */
char *sf_body_set_member_field(const char *field, const char *value, const char *const *member_ids,
                               size_t n, sf_err *err);
/*
 * PATCH (upsert by external id): rows of sobject from fields_json maps, each
 * value a JSON text; every record must carry external_id_field.
 */
char *sf_body_upsert(const char *sobject, const char *external_id_field,
                     Campsync__V1__UpsertRecord *const *records, size_t n, sf_err *err);
/* The query string for DELETE .../composite/sobjects: "ids=a,b,c&allOrNone=false". */
char *sf_delete_query(const char *const *ids, size_t n, sf_err *err);

/* Body for POST /sobjects/Campaign (one record, not a collection). */
char *sf_body_create_campaign(const Campsync__V1__Campaign *c, sf_err *err);

#endif
