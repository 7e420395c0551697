/*
 * The API names of the Salesforce fields behind buyer touchpoints (SPEC
 * section 2 makes them configurable: orgs name custom fields their own way).
 * Set once at start-up, before any request, then read by the query builder
 * callers, the record mappers and the body builders.
 */
#ifndef SF_FIELDS_H
#define SF_FIELDS_H

#include "sf_errors.h"

typedef struct sf_field_names {
    const char *enable_buyer_touchpoints; /* Campaign picklist */
    const char *touchpoint_start_date;    /* Campaign date */
    const char *touchpoint_end_date;      /* Campaign date */
    const char *buyer_touchpoint_date;    /* CampaignMember date */
} sf_field_names;

/* The names in force (the defaults until sf_fields_set). */
const sf_field_names *sf_fields(void);

/* Validates (API names: letters, digits, underscores) and copies the names;
 * NULL members keep the default. Not thread-safe: call before serving. */
int sf_fields_set(const sf_field_names *names, sf_err *err);

#endif
