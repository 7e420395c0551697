/*
 * People matching (SPEC C5): pairs each Marketo program member with its
 * Salesforce person and campaign member, and each remaining campaign member
 * with its Marketo person, so the merge sees one row per person.
 *
 *   Marketo -> Salesforce: the lead's linked sfdcContactId, then sfdcLeadId
 *   (a converted Lead resolves to its ConvertedContactId), else by email,
 *   trimmed and case-insensitive: a Contact before a Lead; among people of
 *   the same kind, one already in the campaign first (so a person is not
 *   added twice under two records), then the smallest id.
 *   Salesforce -> Marketo: a lead linked to the person (or to the Contact its
 *   Lead was converted to), else a lead with the same email (program members
 *   first, then the smallest id).
 *
 * A row with no Salesforce person means "create a Lead, then add it"; a row
 * with no Marketo person means "create the person by email (createOrUpdate),
 * then add it". A person without an email can be neither matched by email
 * nor created: it is skipped with a reason, as are two records claiming the
 * same person (the second one is skipped, naming the first).
 *
 * What the caller must fetch: the program's members and their leads; the
 * campaign's members and their people; and, so that a person's absence from
 * one side is real and not a failed lookup, the Salesforce people linked to
 * or sharing an email with those leads and the Marketo leads linked to or
 * sharing an email with those people. A counterpart that is not in the
 * input reads as "not a member there", which the merge may carry over as a
 * removal.
 *
 * Every string in the result is borrowed from the input, which must outlive
 * it. Matching is linear in the input size (hash maps).
 */
#ifndef CAMPSYNC_PEOPLE_H
#define CAMPSYNC_PEOPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recon_err.h"

#define PEOPLE_NONE UINT32_MAX
#define PEOPLE_MAX_TEXT 1024 /* longest id or email accepted (INVALID_ARGUMENT beyond) */

/* A Marketo person (lead) known to the cycle: the program's members and any
 * lead found for a Salesforce member by link or email. */
typedef struct {
    int64_t id; /* > 0 */
    const char *email;
    const char *first_name;
    const char *last_name;
    const char *company;
    const char *sfdc_lead_id;    /* linked Salesforce Lead, or NULL/"" */
    const char *sfdc_contact_id; /* linked Salesforce Contact, or NULL/"" */
} people_mkto_lead;

typedef enum { PEOPLE_SF_LEAD = 0, PEOPLE_SF_CONTACT = 1 } people_sf_kind;

/* A Salesforce person known to the cycle: the campaign members' people and
 * any Lead/Contact found for a Marketo lead by link or email. */
typedef struct {
    const char *id;
    people_sf_kind kind;
    const char *email;
    const char *first_name;
    const char *last_name;
    const char *company;
    bool is_converted;                /* Leads only */
    const char *converted_contact_id; /* Leads only, when converted */
} people_sf_person;

typedef struct {
    int64_t lead_id;
    const char *status; /* progression status name */
    int64_t modified_ms;
} people_mkto_member;

typedef struct {
    const char *member_id; /* CampaignMember id */
    const char *person_id; /* its LeadId or ContactId */
    const char *email;     /* the person's email, if known */
    const char *status;
    int64_t modified_ms;
} people_sf_member;

typedef struct {
    const people_mkto_lead *leads;
    size_t n_leads;
    const people_sf_person *sf_people;
    size_t n_sf_people;
    const people_mkto_member *mkto_members;
    size_t n_mkto_members;
    const people_sf_member *sf_members;
    size_t n_sf_members;
} people_input;

typedef enum {
    PEOPLE_BY_NONE = 0, /* no counterpart: it will be created */
    PEOPLE_BY_LINK = 1, /* sfdcLeadId / sfdcContactId */
    PEOPLE_BY_EMAIL = 2,
} people_how;

typedef struct {
    int64_t lead_id;          /* Marketo person; 0 = none yet (create by email) */
    const char *sf_person_id; /* Salesforce Lead/Contact; NULL = none yet (create a Lead) */
    uint32_t mkto_member;     /* index in mkto_members, or PEOPLE_NONE */
    uint32_t sf_member;       /* index in sf_members, or PEOPLE_NONE */
    uint32_t lead;            /* index in leads, or PEOPLE_NONE */
    uint32_t sf_person;       /* index in sf_people, or PEOPLE_NONE */
    people_how how;
    const char *email; /* the email to create the missing side with */
} people_row;

typedef struct {
    bool mkto; /* true: mkto_members[index]; false: sf_members[index] */
    uint32_t index;
    int64_t lead_id;   /* the Marketo person concerned, 0 if none */
    const char *sf_id; /* the Salesforce person concerned, NULL if none */
    char reason[200];
} people_skip;

typedef struct {
    people_row *rows;
    size_t n_rows;
    people_skip *skips;
    size_t n_skips;
} people_match;

int people_match_all(const people_input *in, people_match *out, recon_err *err);
void people_match_free(people_match *m);

/* Trims ASCII white space and lowercases ASCII letters into out (cap bytes,
 * NUL-terminated). Returns the length, or 0 for a NULL/blank email or one
 * that does not fit. */
size_t people_normalize_email(const char *email, char *out, size_t cap);

#endif
