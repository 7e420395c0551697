/*
 * Admin actions of the Salesforce simulator (POST /admin/salesforce/<action>):
 * the org's state, token expiry, API usage, and the changes a person would
 * make in the Salesforce UI (records, campaign members, lead conversion, the
 * Marketing User flag), which bump SystemModstamp exactly as API writes do.
 *
 *   state               -> the org in the dataset format (tombstones included,
 *                          plus "api_usage":{"used","max"})
 *   expire_tokens       -> {"expired":N}; the next call answers 401 INVALID_SESSION_ID
 *   limits | set_api_usage  {"daily_api":N, "used":N, "reset_usage":true}
 *   create              {"type":"Lead", "fields":{...}} -> {"id"}
 *   update              {"id", "fields":{...}}
 *   delete              {"id"}                     (cascades as Salesforce does)
 *   add_member          {"CampaignId", "LeadId"|"ContactId", "Status"?} -> {"id"}
 *   remove_member       {"id"} or {"CampaignId", "LeadId"|"ContactId"}
 *   set_member_status   {"id"} or {"CampaignId", "LeadId"|"ContactId"}, + "Status"
 *   set_marketing_user  {"value":bool, "user_id"?}  (default: the integration user)
 *   convert_lead        {"id", "contact_id"?} -> {"lead_id","contact_id","account_id",
 *                          "members_updated"}; the lead's memberships gain the ContactId
 * Every body may carry "user_id" (the acting user; default: the first active
 * user other than the integration user). Errors: 4xx {"error","errorCode","message"}.
 *
 * Dataset extensions read by sfs_store_create: "org_id"; custom fields may be
 * {"name":"X__c","type":"date|datetime|boolean|int|double|string|email|reference",
 * "ref":"Contact"} besides plain names (a plain name ending in Date__c is a
 * date, others keep the JSON type they are given).
 */
#ifndef CAMPSYNC_SBX_SF_ADMIN_H
#define CAMPSYNC_SBX_SF_ADMIN_H

#include "sf_store.h"

#include <jansson.h>

/* Runs one action (caller holds st->mu). Returns the HTTP status; *out is a
 * new reference to the JSON answer. */
int sfs_admin_action(sfs_state *st, const char *action, json_t *body, int64_t now_ms, json_t **out);

#endif
