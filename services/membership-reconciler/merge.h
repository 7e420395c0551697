/*
 * The three-way merge of one member (SPEC C3, C4): given what both sides
 * last agreed on (the base) and what each side holds now, decide what to
 * write on each side so that both agree afterwards, and what that agreed
 * state (the new base) is.
 *
 *   - A side that differs from the base changed; a change on one side is
 *     applied to the other.
 *   - Changes on both sides that end in different states are a conflict,
 *     settled by the policy. A removal on one side and a status change on the
 *     other is a conflict too: both people acted on the same membership.
 *     Changes on both sides that end in the same state are not a conflict.
 *   - Unknown base (first sync, base lost, or an earlier failed first sync of
 *     this member): nothing is removed; a member on one side is added to the
 *     other, and where both hold it the higher status wins.
 *   - Marketo only moves forward: whenever the winning state would need
 *     Marketo to move to an earlier (or the same) step, the Salesforce change
 *     is rejected and the Salesforce member is set back to the Marketo status.
 *     So a decision never asks Marketo to move backwards.
 *
 * Pure function over plain structs: no allocation, no I/O.
 */
#ifndef CAMPSYNC_MERGE_H
#define CAMPSYNC_MERGE_H

#include <stdbool.h>
#include <stdint.h>

#include "status_map.h"

typedef enum {
    MERGE_MARKETO_WINS = 0, /* the default */
    MERGE_SALESFORCE_WINS = 1,
    MERGE_LATEST_WINS = 2, /* by modification time; ties go to Marketo */
} merge_policy;

typedef enum {
    MERGE_BASE_UNKNOWN = 0, /* no agreed state known for this member */
    MERGE_BASE_ABSENT = 1,  /* both sides agreed it was not a member */
    MERGE_BASE_PRESENT = 2, /* both sides agreed it was a member with `status` */
} merge_base_kind;

typedef struct {
    merge_base_kind kind;
    int status; /* status map index when PRESENT, else -1 */
} merge_base;

typedef struct {
    bool present;
    int status;          /* status map index when present, else -1 */
    int64_t modified_ms; /* last change of the membership; for an absent side the
                            removal time when known, 0 when not (latest_wins then
                            prefers the side whose time is known) */
} merge_side;

typedef struct {
    merge_base base;
    merge_side mkto;
    merge_side sf;
} merge_input;

typedef enum {
    MERGE_OP_NONE = 0,
    MERGE_OP_ADD = 1,    /* make the person a member with `to` */
    MERGE_OP_REMOVE = 2, /* end the membership */
    MERGE_OP_STATUS = 3, /* change the status of a member to `to` */
} merge_op;

typedef enum {
    MERGE_CHANGE_NONE = 0,
    MERGE_CHANGE_ADDED = 1,
    MERGE_CHANGE_REMOVED = 2,
    MERGE_CHANGE_STATUS = 3,
    MERGE_CHANGE_UNKNOWN = 4, /* base unknown: cannot tell */
} merge_change;

typedef enum {
    MERGE_WHY_NONE = 0,           /* nothing to write */
    MERGE_WHY_MKTO_CHANGE = 1,    /* a Marketo change carried to Salesforce */
    MERGE_WHY_SF_CHANGE = 2,      /* a Salesforce change carried to Marketo */
    MERGE_WHY_CONFLICT = 3,       /* both changed; the policy picked `winner` */
    MERGE_WHY_NO_BASE = 4,        /* unknown base: union, higher status */
    MERGE_WHY_REJECT_BACKWARD = 5 /* a Salesforce change Marketo cannot take */
} merge_why;

typedef enum { MERGE_SIDE_MARKETO = 0, MERGE_SIDE_SALESFORCE = 1 } merge_side_id;

typedef struct {
    merge_op mkto_op;
    int mkto_to; /* target status of mkto_op (ADD/STATUS), else -1 */
    merge_op sf_op;
    int sf_to;
    /* The state both sides hold once the ops are applied: the new base. */
    bool agreed_present;
    int agreed_status;
    merge_why why;
    bool conflict;        /* both sides changed to different states */
    merge_side_id winner; /* for a conflict: whose change the policy kept */
    bool rejected;        /* a Salesforce status Marketo cannot take was refused */
    int rejected_status;  /* that status */
    /* What each side did since the base (for events and reports). */
    merge_change mkto_change;
    merge_change sf_change;
} merge_decision;

void merge_decide(const smap *m, merge_policy policy, const merge_input *in, merge_decision *out);

const char *merge_policy_name(merge_policy p);
/* Parses "marketo_wins", "salesforce_wins", "latest_wins"; -1 otherwise. */
int merge_policy_parse(const char *name);

#endif
