/*
 * Three-way merge of one member: see merge.h for the rules. The decision is
 * made in two steps: first say which side's state wins (or that the two
 * states are combined, for an unknown base), then derive the writes that
 * make the other side hold that state, checking every Marketo write against
 * the forward-only rule.
 */
#include "merge.h"

#include <assert.h>
#include <string.h>

static merge_change classify(const merge_base *b, const merge_side *s)
{
    if (b->kind == MERGE_BASE_UNKNOWN)
        return MERGE_CHANGE_UNKNOWN;
    if (b->kind == MERGE_BASE_ABSENT)
        return s->present ? MERGE_CHANGE_ADDED : MERGE_CHANGE_NONE;
    if (!s->present)
        return MERGE_CHANGE_REMOVED;
    return s->status == b->status ? MERGE_CHANGE_NONE : MERGE_CHANGE_STATUS;
}

static bool same_state(const merge_side *a, const merge_side *b)
{
    if (a->present != b->present)
        return false;
    return !a->present || a->status == b->status;
}

/* Make Salesforce hold Marketo's state. */
static void sf_follows_mkto(const merge_input *in, merge_decision *d)
{
    d->agreed_present = in->mkto.present;
    d->agreed_status = in->mkto.present ? in->mkto.status : -1;
    if (!in->mkto.present) {
        if (in->sf.present)
            d->sf_op = MERGE_OP_REMOVE;
        return;
    }
    if (!in->sf.present) {
        d->sf_op = MERGE_OP_ADD;
        d->sf_to = in->mkto.status;
    } else if (in->sf.status != in->mkto.status) {
        d->sf_op = MERGE_OP_STATUS;
        d->sf_to = in->mkto.status;
    }
}

/* Make Marketo hold Salesforce's state, unless Marketo cannot move there:
 * then Salesforce is set back to Marketo's status and the change rejected. */
static void mkto_follows_sf(const smap *m, const merge_input *in, merge_decision *d)
{
    if (!in->sf.present) {
        d->agreed_present = false;
        d->agreed_status = -1;
        if (in->mkto.present)
            d->mkto_op = MERGE_OP_REMOVE;
        return;
    }
    if (!in->mkto.present) {
        d->mkto_op = MERGE_OP_ADD;
        d->mkto_to = in->sf.status;
    } else if (in->sf.status != in->mkto.status) {
        if (!smap_marketo_accepts(m, in->mkto.status, in->sf.status)) {
            d->rejected = true;
            d->rejected_status = in->sf.status;
            d->why = MERGE_WHY_REJECT_BACKWARD;
            sf_follows_mkto(in, d);
            return;
        }
        d->mkto_op = MERGE_OP_STATUS;
        d->mkto_to = in->sf.status;
    }
    d->agreed_present = true;
    d->agreed_status = in->sf.status;
}

static void no_base(const smap *m, const merge_input *in, merge_decision *d)
{
    if (!in->mkto.present && !in->sf.present)
        return;
    d->why = MERGE_WHY_NO_BASE;
    if (!in->sf.present ||
        (in->mkto.present && smap_higher(m, in->mkto.status, in->sf.status) == in->mkto.status)) {
        sf_follows_mkto(in, d);
    } else {
        /* Salesforce is alone or strictly higher: Marketo moves forward. */
        mkto_follows_sf(m, in, d);
    }
    if (d->mkto_op == MERGE_OP_NONE && d->sf_op == MERGE_OP_NONE)
        d->why = MERGE_WHY_NONE;
}

static merge_side_id policy_winner(merge_policy p, const merge_input *in)
{
    switch (p) {
    case MERGE_SALESFORCE_WINS:
        return MERGE_SIDE_SALESFORCE;
    case MERGE_LATEST_WINS:
        return in->sf.modified_ms > in->mkto.modified_ms ? MERGE_SIDE_SALESFORCE
                                                         : MERGE_SIDE_MARKETO;
    case MERGE_MARKETO_WINS:
    default:
        return MERGE_SIDE_MARKETO;
    }
}

void merge_decide(const smap *m, merge_policy policy, const merge_input *in, merge_decision *d)
{
    memset(d, 0, sizeof *d);
    d->mkto_to = d->sf_to = d->agreed_status = d->rejected_status = -1;
    d->mkto_change = classify(&in->base, &in->mkto);
    d->sf_change = classify(&in->base, &in->sf);

    if (in->base.kind == MERGE_BASE_UNKNOWN) {
        no_base(m, in, d);
        return;
    }
    bool mk_changed = d->mkto_change != MERGE_CHANGE_NONE;
    bool sf_changed = d->sf_change != MERGE_CHANGE_NONE;
    if (!mk_changed && !sf_changed) {
        d->agreed_present = in->base.kind == MERGE_BASE_PRESENT;
        d->agreed_status = d->agreed_present ? in->base.status : -1;
        return;
    }
    if (mk_changed && sf_changed && same_state(&in->mkto, &in->sf)) {
        /* Both made the same change: already agreed. */
        d->agreed_present = in->mkto.present;
        d->agreed_status = in->mkto.present ? in->mkto.status : -1;
        return;
    }
    merge_side_id winner;
    if (mk_changed && sf_changed) {
        d->conflict = true;
        d->why = MERGE_WHY_CONFLICT;
        winner = policy_winner(policy, in);
        d->winner = winner;
    } else {
        winner = mk_changed ? MERGE_SIDE_MARKETO : MERGE_SIDE_SALESFORCE;
        d->why = mk_changed ? MERGE_WHY_MKTO_CHANGE : MERGE_WHY_SF_CHANGE;
    }
    if (winner == MERGE_SIDE_MARKETO)
        sf_follows_mkto(in, d);
    else
        mkto_follows_sf(m, in, d);
    assert(d->mkto_op != MERGE_OP_STATUS || smap_marketo_accepts(m, in->mkto.status, d->mkto_to));
}

const char *merge_policy_name(merge_policy p)
{
    switch (p) {
    case MERGE_SALESFORCE_WINS:
        return "salesforce_wins";
    case MERGE_LATEST_WINS:
        return "latest_wins";
    case MERGE_MARKETO_WINS:
    default:
        return "marketo_wins";
    }
}

int merge_policy_parse(const char *name)
{
    if (!name)
        return -1;
    if (strcmp(name, "marketo_wins") == 0)
        return MERGE_MARKETO_WINS;
    if (strcmp(name, "salesforce_wins") == 0)
        return MERGE_SALESFORCE_WINS;
    if (strcmp(name, "latest_wins") == 0)
        return MERGE_LATEST_WINS;
    return -1;
}
