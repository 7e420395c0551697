/*
 * Offline buyer touchpoints from Salesforce campaign membership (SPEC
 * section 2, T1-T7): which members of a campaign get a touchpoint, on which
 * date, under which id, and how a recomputed set differs from the stored one.
 *
 * Decisions the SPEC leaves open, made here once:
 * - T4 "added" means the touchpoint date of T3, not CampaignMember
 *   CreatedDate: a trade show uploaded three weeks late but back-dated with
 *   Buyer Touchpoint Date is judged by the day of the show. A member counts
 *   when start <= date < end (end = the day online tracking took over).
 * - T7 id = "crm-" + 32 hex digits of a 128-bit FNV-1a hash of (campaign id,
 *   person id), each field length-prefixed. The person is the ContactId when
 *   set (a converted lead), else the LeadId. So removing and re-adding a person
 *   keeps the id, re-dating updates in place, and a lead and its converted
 *   contact both in the campaign make one touchpoint. A lead's conversion
 *   changes the id once (old removed, new created, never both kept). 128 bits
 *   make a collision among 10^8 touchpoints ~1e-23 likely.
 * - Two members of one campaign for the same person give one touchpoint: the
 *   earliest date, ties by the smaller member id.
 * - Include Responded uses HasResponded; a member with a FirstRespondedDate but
 *   HasResponded false is not responded.
 * - Times are ms since the epoch, 0 = not set (dates are 00:00 UTC of the day).
 *
 * Output strings point into the inputs (campaign, members, channel map): the
 * result is valid while they are.
 */
#ifndef ATTR_TOUCHPOINTS_H
#define ATTR_TOUCHPOINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr_error.h"
#include "channel_map.h"

#define TP_SOURCE "CRM Campaign"
#define TP_TYPE "CRM"
#define TP_ID_LEN 36 /* "crm-" + 32 hex digits */

#define TP_PICK_ALL "Include All Campaign Members"
#define TP_PICK_RESPONDED "Include \"Responded\" Campaign Members"
#define TP_PICK_EXCLUDE "Exclude All Campaign Members"

typedef enum tp_enable {
    TP_ENABLE_UNSET = 0, /* behaves as Exclude (T1) */
    TP_ENABLE_EXCLUDE,
    TP_ENABLE_ALL,
    TP_ENABLE_RESPONDED,
} tp_enable;

/* Parses the Enable Buyer Touchpoints picklist value: NULL or "" = unset;
 * an unknown value is an error naming it and the three accepted values. */
int tp_enable_parse(const char *picklist, tp_enable *out, attr_error *err);

typedef struct tp_campaign {
    const char *id;
    const char *name;
    const char *type; /* Campaign Type: the channel map key and the medium */
    tp_enable enable;
    int64_t start_ms; /* Touchpoint Start Date, 0 = none */
    int64_t end_ms;   /* Touchpoint End Date, 0 = none */
} tp_campaign;

typedef struct tp_member {
    const char *member_id;
    const char *lead_id;    /* NULL or "" when none */
    const char *contact_id; /* NULL or "" when none */
    const char *email;      /* of the lead / contact */
    const char *account_id;
    const char *status;
    int64_t buyer_touchpoint_ms;
    int64_t first_responded_ms;
    int64_t created_ms;
    bool has_responded;
    bool is_deleted;
} tp_member;

typedef struct tp_touchpoint {
    char id[TP_ID_LEN + 1];
    const char *member_id;
    const char *person_id; /* ContactId, else LeadId */
    const char *email;
    const char *account_id;
    int64_t at_ms;
    const char *channel;
    const char *subchannel;
    const char *medium; /* campaign Type */
    const char *campaign_id;
    const char *campaign_name;
    /* source is always TP_SOURCE and type TP_TYPE */
} tp_touchpoint;

typedef struct tp_result {
    tp_touchpoint *items; /* sorted by id; owned, free with tp_result_free */
    size_t n;
    bool online; /* the Type has no channel rule: no offline touchpoints */
    /* Members without a touchpoint, by first reason that applied. */
    size_t skipped_deleted;
    size_t skipped_excluded;      /* campaign Exclude / unset / online */
    size_t skipped_not_responded; /* Include Responded, member has not */
    size_t skipped_no_email;      /* T2 */
    size_t skipped_no_person;     /* neither LeadId nor ContactId */
    size_t skipped_no_date;       /* no date of T3 at all */
    size_t skipped_out_of_range;  /* T4 */
    size_t merged_same_person;    /* second member of one person */
} tp_result;

/* The touchpoints of one campaign (T1-T4, T6, T7). Errors only on bad input
 * (campaign without id) or out of memory; *out is always initialised. */
int tp_compute(const tp_campaign *c, const tp_member *members, size_t n, const chmap *map,
               tp_result *out, attr_error *err);
void tp_result_free(tp_result *r);

/* The T7 id of (campaign, person) into id[TP_ID_LEN + 1]. */
void tp_make_id(const char *campaign_id, const char *person_id, char id[TP_ID_LEN + 1]);

/* The old touchpoints of a campaign against the recomputed ones, by id. */
typedef struct tp_diff {
    size_t *created; /* indices into the new set */
    size_t n_created;
    size_t *updated; /* indices into the new set: same id, some field differs */
    size_t n_updated;
    size_t *removed; /* indices into the old set */
    size_t n_removed;
    size_t unchanged;
} tp_diff;

/* Either set in any order; an id twice in one set is an error. Owned
 * arrays: free with tp_diff_free. */
int tp_diff_compute(const tp_touchpoint *old, size_t n_old, const tp_touchpoint *cur, size_t n_cur,
                    tp_diff *out, attr_error *err);
void tp_diff_free(tp_diff *d);

/* T5: which members a bulk touchpoint-date update applies to. Every set
 * criterion must hold; a deleted member never matches. */
typedef struct tp_bulk_filter {
    const char *const *statuses; /* Status IN (...); none = any */
    size_t n_statuses;
    int has_responded;             /* -1 any, 0 no, 1 yes */
    int64_t created_from_ms;       /* CreatedDate >= from; 0 = open */
    int64_t created_to_ms;         /* CreatedDate < to; 0 = open */
    const char *const *member_ids; /* none = any */
    size_t n_member_ids;
} tp_bulk_filter;

bool tp_bulk_matches(const tp_bulk_filter *f, const tp_member *m);

/* "YYYY-MM-DD" -> ms at 00:00 UTC of that day (proleptic Gregorian, years
 * 1-9999); a wrong shape or a day that does not exist is an error. */
int tp_date_parse(const char *ymd, int64_t *ms_out, attr_error *err);

#endif
