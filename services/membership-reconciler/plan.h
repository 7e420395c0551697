/*
 * The plan of one sync cycle (SPEC C3-C5, C8, C11): people matching plus the
 * three-way merge over every member, turned into the writes to make on each
 * side, the people to create first, the conflicts, backward rejections and
 * skips to report, the membership events to emit, and the new base.
 *
 * Lifecycle: plan_build, then for each item the caller applies (in array
 * order, or at least after its `depends_on`), plan_mark_applied or
 * plan_mark_failed; then plan_new_base gives the base to store. The base of
 * a member advances only when every item of that member was applied; a
 * member with a failed or unattempted item keeps its old base, so the next
 * cycle plans the same change again.
 *
 * Idempotence: every item carries a dedup key hashed from the pair, the
 * person, the action, the statuses and the version of the base the plan was
 * computed from. A retried cycle that starts from the same base computes the
 * same keys, so the caller does not apply a change twice: it records an
 * item's key once the vendor accepted it and skips items whose key is
 * recorded. The events list the membership changes on the Salesforce side:
 * the ones the plan saw there (item -1) and the ones its writes make there;
 * the service emits them against its own event state (events.c), which is
 * what makes each one happen once.
 *
 * Ownership: the plan borrows the status map, the old base and every string
 * of the people input (ids, emails, names); they must outlive it (the
 * removal arrays are read only by plan_build). The pair id, ids recorded by
 * plan_mark_applied and all messages are owned by the plan. plan_free frees
 * everything the plan owns.
 */
#ifndef CAMPSYNC_PLAN_H
#define CAMPSYNC_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base_codec.h"
#include "merge.h"
#include "people.h"
#include "status_map.h"

typedef enum {
    PLAN_ADD = 0,           /* add the person as a member with to_status */
    PLAN_REMOVE = 1,        /* end the membership */
    PLAN_STATUS = 2,        /* change the member's status to to_status */
    PLAN_CREATE_LEAD = 3,   /* Salesforce: create a Lead (LastName, Company required) */
    PLAN_CREATE_PERSON = 4, /* Marketo: createOrUpdate the person by email */
} plan_action;

typedef enum { PLAN_PENDING = 0, PLAN_APPLIED = 1, PLAN_FAILED = 2 } plan_state;

/* Values match campsync.v1.EventType. */
typedef enum {
    PLAN_EV_ADDED = 1,          /* ADDED_TO_SFDC_CAMPAIGN */
    PLAN_EV_REMOVED = 2,        /* REMOVED_FROM_SFDC_CAMPAIGN */
    PLAN_EV_STATUS_CHANGED = 3, /* SFDC_CAMPAIGN_STATUS_CHANGED */
} plan_event_type;

#define PLAN_KEY_LEN 16 /* hex digits of a dedup key */

typedef struct {
    merge_side_id side; /* where the write goes */
    plan_action action;
    uint32_t member;    /* index in plan->members */
    int32_t depends_on; /* item to apply first (the person's creation), or -1 */
    int from_status;    /* status map index before (-1 none) */
    int to_status;      /* status map index after (-1 none) */
    merge_why why;
    int32_t event; /* the membership event this item implies, or -1: for a
                      Salesforce write the change it makes; for a Marketo
                      write the Salesforce change it carries over (that
                      event's `item` stays -1: it happened in Salesforce) */
    plan_state state;
    char dedup_key[PLAN_KEY_LEN + 1];
    char *error; /* reason given to plan_mark_failed (owned) */
} plan_item;

typedef struct {
    plan_event_type type;
    uint32_t member;
    int32_t item;       /* the write that makes this change, or -1 when the
                           change was made in Salesforce and only observed */
    int old_status;     /* -1 none */
    int new_status;     /* -1 none */
    const char *source; /* "salesforce" (made there) or "marketo" (carried over) */
} plan_event;

typedef struct {
    int64_t lead_id;                   /* 0 until created in Marketo */
    const char *sf_person_id;          /* NULL until the Lead is created in Salesforce */
    const char *sf_member_id;          /* CampaignMember id, NULL when not a member */
    const people_mkto_lead *lead;      /* Marketo details, or NULL */
    const people_sf_person *sf_person; /* Salesforce details, or NULL */
    const char *email;
    merge_input in;
    merge_decision decision;
    uint32_t base_sf_tag; /* sf tag of its old base entry (0 = none) */
    uint32_t first_item;  /* items of a member are contiguous */
    uint32_t n_items;
    uint32_t first_event; /* so are its events */
    uint32_t n_events;
    char *created_sf_id; /* owned: id given when the Lead was created */
    char *create_email;  /* owned: the email trimmed, for a person to create */
} plan_member;

typedef enum {
    PLAN_NOTE_CONFLICT = 0, /* both sides changed; settled by policy */
    PLAN_NOTE_REJECTED = 1, /* Salesforce change Marketo cannot take (C4) */
    PLAN_NOTE_SKIPPED = 2,  /* person or member left alone, with the reason */
} plan_note_kind;

typedef struct {
    plan_note_kind kind;
    uint32_t member;   /* index in plan->members, or PEOPLE_NONE for a skip */
    bool mkto;         /* for skips: which side's record was skipped */
    int64_t lead_id;   /* 0 if none */
    const char *sf_id; /* NULL if none */
    char *message;     /* owned */
} plan_note;

typedef struct {
    int new_count; /* members added (either side) and people created */
    int updated;   /* statuses changed (either side) */
    int deleted;   /* members removed (either side) */
    int failed;    /* items marked failed */
    int skipped;   /* records skipped with a reason */
    int conflicts;
    int rejected_backwards;
    int pending; /* items neither applied nor failed */
} plan_counts;

/* When a membership ended, where the caller knows it (Salesforce: queryAll
 * rows with IsDeleted; Marketo: the activity feed). Only latest_wins uses
 * it, to settle a removal on one side against a change on the other; an
 * unknown removal time loses to a known change (nothing is removed on a
 * guess). */
typedef struct {
    const char *sf_person_id;
    int64_t at_ms;
} plan_sf_removal;

typedef struct {
    int64_t lead_id;
    int64_t at_ms;
} plan_mkto_removal;

typedef struct {
    const char *pair_id;    /* identifies the linked pair in dedup keys */
    const smap *statuses;   /* the channel's statuses (C6 already checked) */
    const base_state *base; /* NULL: no base (first sync or lost) */
    merge_policy policy;
    people_input people;
    const plan_sf_removal *sf_removed; /* optional */
    size_t n_sf_removed;
    const plan_mkto_removal *mkto_removed; /* optional */
    size_t n_mkto_removed;
    /* The people input holds only some of the pair's people (a partial read:
     * those a change probe named and their counterparts), each read in full
     * on both sides. The base entries of everyone else are kept as they are
     * in the new base. */
    bool partial;
} plan_input;

typedef struct {
    char *pair_id; /* owned copy */
    const smap *statuses;
    merge_policy policy;
    uint64_t base_version; /* version the plan was computed from (0 = no base) */
    bool had_base;
    bool partial;        /* plan_input.partial */
    int64_t *read_leads; /* partial: every lead the input holds (owned) */
    size_t n_read_leads;
    plan_member *members;
    size_t n_members;
    plan_item *items;
    size_t n_items;
    plan_event *events;
    size_t n_events;
    plan_note *notes;
    size_t n_notes;
    /* Old base entries of records skipped this cycle: kept as they were. */
    int64_t *kept_leads;
    size_t n_kept;
    const base_state *old_base;
} plan;

int plan_build(const plan_input *in, plan **out, recon_err *err);
void plan_free(plan *p);

/* Records that an item was applied. created_id is required for creations
 * (the new Salesforce Lead id, or the Marketo lead id in decimal) and must be
 * NULL otherwise; it fills in the member, so later items and the new base
 * use it. RECON_ESTATE when the item is not pending or its dependency was
 * not applied first. */
int plan_mark_applied(plan *p, size_t item, const char *created_id, recon_err *err);
/* Records that the vendor refused an item (reason is copied). Items that
 * depend on it fail with it. */
int plan_mark_failed(plan *p, size_t item, const char *reason, recon_err *err);

/* All items of the member applied (true for a member without items): its
 * base advances. */
bool plan_member_settled(const plan *p, size_t member);

void plan_get_counts(const plan *p, plan_counts *out);

/* The base to store after applying: version + 1, names = the channel's
 * statuses (plus any kept from the old base); for a partial plan, the old
 * entries of the people it did not cover are carried over. Caller frees
 * with base_free. */
int plan_new_base(const plan *p, base_state *out, recon_err *err);

/* Salesforce requires LastName and Company on a Lead (C5). */
#define PLAN_NOT_PROVIDED "[not provided]"

typedef struct {
    const char *email;
    const char *first_name; /* NULL when unknown */
    const char *last_name;
    const char *company;
} plan_person_fields;

/* The fields to create the missing person of a PLAN_CREATE_LEAD or
 * PLAN_CREATE_PERSON item with, taken from the other side's record. For a
 * Salesforce Lead a blank LastName or Company becomes PLAN_NOT_PROVIDED;
 * Marketo needs only the email. Strings are borrowed from the plan's input.
 * RECON_EINVAL for an item that creates nothing. */
int plan_create_fields(const plan *p, size_t item, plan_person_fields *out, recon_err *err);

/* Whether the member's Salesforce person is a Contact (CampaignMember
 * ContactId) rather than a Lead (LeadId): from the person's record when the
 * cycle read it, else from the id's key prefix (003 = Contact). A Lead the
 * plan created is a Lead. */
bool plan_sf_person_is_contact(const plan_member *m);

/* "Marketo lead 12 / Salesforce 00Q...", "Marketo lead 12" or
 * "Salesforce 00Q...": how reports name the member's person. */
void plan_person_text(const plan_member *m, char *buf, size_t cap);

const char *plan_action_name(plan_action a); /* "add", "remove", "status", ... */
const char *plan_side_name(merge_side_id s); /* "marketo", "salesforce" */

#endif
