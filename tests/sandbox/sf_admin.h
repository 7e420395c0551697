/*
 * Admin actions of the Salesforce simulator (POST /admin/salesforce/<action>):
 * the org's state, token expiry, API usage, and the changes a person would
 * make in the Salesforce UI (records, campaign members, lead conversion, the
 * Marketing User flag), which bump SystemModstamp exactly as API writes do.
 */
#ifndef CAMPSYNC_SBX_SF_ADMIN_H
#define CAMPSYNC_SBX_SF_ADMIN_H

#include "sf_store.h"

#include <jansson.h>

/* Runs one action (caller holds st->mu). Returns the HTTP status; *out is a
 * new reference to the JSON answer. */
int sfs_admin_action(sfs_state *st, const char *action, json_t *body, int64_t now_ms, json_t **out);

#endif
