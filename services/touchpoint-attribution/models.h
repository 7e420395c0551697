/*
 * A2 attribution models: the weight of each touch of one opportunity, in
 * parts per million summing to exactly 1,000,000 (apportion.h). Decisions:
 * - A model's positions are those it gives weight to (FT; LC; FT+LC for
 *   U-Shaped; FT+LC+OC for W-Shaped; FT+LC+OC+CW for Full Path; the non-zero
 *   ones for Custom). A missing one's weight is spread evenly over the model's
 *   positions that are present. When none is present (Lead Creation with no
 *   form touch, say) the first touch takes 100%.
 * - A touch holding several positions gets the sum of their weights.
 * - The middle share goes to the "other" touches, those holding none of the
 *   model's positions (for U-Shaped: only form touches strictly between FT and
 *   LC). With no such touch it is spread evenly over the present positions,
 *   which gives U-Shaped its 50/50 and FT = LC its 100%.
 * - Time-Decay: weight 2^(-age / half-life), age measured back from the last
 *   counted touch. The reference point cancels out when weights are
 *   normalised (close, creation or last touch give the same result), and the
 *   last touch keeps the numbers in range. Touches more than 32 half-lives
 *   older than the last one get 0.
 * - Data-driven: each touch weighs its channel's Markov removal effect
 *   (markov.h); a journey whose channels all have effect 0 falls back to
 *   Linear.
 * Exact shares are integers over a common denominator, so only the final
 * largest-remainder rounding decides the last ppm, and it is deterministic.
 */
#ifndef ATTR_MODELS_H
#define ATTR_MODELS_H

#include <stdint.h>

#include "apportion.h"
#include "attr_error.h"
#include "dataset.h"
#include "positions.h"

#define ATTR_PPM_TOTAL 1000000u

/* Numbered like the proto's Model enum. */
typedef enum attr_model_kind {
    ATTR_MODEL_FIRST_TOUCH = 1,
    ATTR_MODEL_LEAD_CREATION = 2,
    ATTR_MODEL_U_SHAPED = 3,
    ATTR_MODEL_W_SHAPED = 4,
    ATTR_MODEL_FULL_PATH = 5,
    ATTR_MODEL_CUSTOM = 6,
    ATTR_MODEL_LINEAR = 7,
    ATTR_MODEL_TIME_DECAY = 8,
    ATTR_MODEL_DATA_DRIVEN = 9,
} attr_model_kind;

/* Custom weights in basis points; all of them plus middle_bp sum to 10,000. */
typedef struct attr_custom {
    uint32_t ft_bp, lc_bp, oc_bp, cw_bp, middle_bp;
    uint32_t n_stages; /* <= ATTR_MAX_STAGES; stage i is ds->stage_ms[i] */
    uint32_t stage_bp[ATTR_MAX_STAGES];
} attr_custom;

typedef struct attr_markov attr_markov;

typedef struct attr_model {
    attr_model_kind kind;
    attr_custom custom;        /* ATTR_MODEL_CUSTOM */
    double half_life_days;     /* ATTR_MODEL_TIME_DECAY; 0 = 7 days */
    const attr_markov *markov; /* ATTR_MODEL_DATA_DRIVEN, trained on all journeys */
} attr_model;

/* Unknown kind, custom weights not summing to 10,000 or more than 6 stages,
 * negative / non-finite half-life, data-driven without a trained chain. */
int attr_model_check(const attr_model *m, attr_error *err);

/* "First Touch", "U-Shaped", ...; "unknown" for anything else. */
const char *attr_model_name(attr_model_kind k);

/* Per-thread work space, grown on demand. Zero-initialise, free when done. */
typedef struct attr_work {
    apportion_scratch ap;
    uint64_t *shares;
    uint64_t *parts;
    size_t cap;
} attr_work;

int attr_work_reserve(attr_work *w, size_t n);
void attr_work_free(attr_work *w);

/* Weights of the s->n_in counted touches of opportunity opp (s from
 * attr_positions_find) into ppm[0 .. n_in). The model must be checked.
 * Nothing is written when n_in is 0. 0, or -1 when out of memory. */
int attr_model_weights(const attr_model *m, const attr_dataset *ds, size_t opp, const attr_slots *s,
                       uint32_t *ppm, attr_work *w);

#endif
