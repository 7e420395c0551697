/*
 * The compact input of attribution (SPEC section 3): every touchpoint once,
 * 24 bytes, with strings replaced by interned ids; opportunities; and each
 * opportunity's journey as a slice of one shared index array, so a touch seen
 * by several opportunities of an account is stored once. No per-touch
 * allocation anywhere: a million touchpoints are a handful of arrays.
 *
 * Conventions: times are ms since the epoch and 0 means "not known / not
 * reached"; ids (channel, subchannel, campaign) are dense uint32 from an
 * intern table, so reports group by array index.
 */
#ifndef ATTR_DATASET_H
#define ATTR_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "attr_error.h"

/* A form fill or a CRM campaign inclusion: the touches that can be LC and the
 * ones U-Shaped shares its middle 20% among. */
#define ATTR_TOUCH_FORM 0x01u

typedef struct attr_touch {
    int64_t at_ms;
    uint32_t tie; /* order among touches at the same instant: rank of the
                     touchpoint id string (intern_ranks), unique */
    uint32_t dim; /* index into attr_dataset.dims */
    uint8_t flags;
} attr_touch;

/* What a touch is reported under; touches of one campaign share one dim. */
typedef struct attr_dim {
    uint32_t channel; /* < attr_dataset.n_channels: the Markov states */
    uint32_t subchannel;
    uint32_t campaign;
} attr_dim;

#define ATTR_MAX_STAGES 6

typedef struct attr_opp {
    int64_t created_ms;      /* opportunity CreatedDate; 0 = none -> no OC */
    int64_t close_ms;        /* any instant of the close day; 0 = still open */
    int64_t lead_created_ms; /* creation of the lead the opportunity came from
                                (the caller picks it, e.g. the primary contact's
                                lead); 0 = unknown -> LC is the first form touch */
    int64_t amount_minor;    /* Amount in minor units, not INT64_MIN */
    uint32_t first;          /* journey slice: journey[first .. first+count) */
    uint32_t count;
    uint8_t won; /* closed won (needs close_ms): the only close that has a CW */
} attr_opp;

typedef struct attr_dataset {
    const attr_touch *touches;
    size_t n_touches;
    const attr_dim *dims;
    size_t n_dims;
    uint32_t n_channels;
    const attr_opp *opps;
    size_t n_opps;
    const uint32_t *journey; /* touch indices; each slice ordered by (at_ms, tie) */
    size_t n_journey;
    /* Custom-model stage transition times, n_opps * ATTR_MAX_STAGES (0 = stage
     * not reached), or NULL when no opportunity reached any stage. */
    const int64_t *stage_ms;
} attr_dataset;

/* Checks every index is in range, every slice is ordered by (at_ms, tie)
 * with no touch twice, won implies a close, no amount is INT64_MIN. The other
 * functions assume a checked dataset. */
int attr_dataset_check(const attr_dataset *ds, attr_error *err);

/* Sorts touch indices by (at_ms, tie). */
void attr_journey_sort(const attr_touch *touches, uint32_t *idx, size_t n);

/*
 * A3 default mapping: an opportunity's journey is every touchpoint of every
 * contact of its account. touch_account[i] is the account of touch i and
 * opp_account[o] the account of opportunity o, both < n_accounts
 * (INTERN_NONE-style UINT32_MAX = no account: the touch belongs to no
 * opportunity / the opportunity gets an empty journey). Sets opps[o].first
 * and .count and returns the journey array (caller frees) in *journey_out.
 * Each account's touches are sorted once, then copied per opportunity.
 */
int attr_journeys_by_account(const attr_touch *touches, const uint32_t *touch_account,
                             size_t n_touches, attr_opp *opps, const uint32_t *opp_account,
                             size_t n_opps, uint32_t n_accounts, uint32_t **journey_out,
                             size_t *n_journey_out, attr_error *err);

#endif
