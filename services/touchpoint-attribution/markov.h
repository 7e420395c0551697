/*
 * The data-driven model (A2 "beyond the seeds"): a first-order Markov chain
 * over ALL closed journeys. States are start, one per channel, conversion
 * and null; a closed-won journey ends in conversion, a closed-lost one in
 * null, open opportunities have no outcome yet and are not used for
 * training (they are still attributed with the trained effects). Repeated
 * channels stay as self-transitions.
 *
 * The removal effect of channel c is 1 - P(conversion without c) /
 * P(conversion), where "without c" turns c into null. Conversion
 * probabilities are solved exactly ((I - Q) x = r, Gaussian elimination with
 * partial pivoting), at most ATTR_MARKOV_MAX_CHANNELS channels.
 */
#ifndef ATTR_MARKOV_H
#define ATTR_MARKOV_H

#include <stddef.h>
#include <stdint.h>

#include "attr_error.h"
#include "dataset.h"

#define ATTR_MARKOV_MAX_CHANNELS 128

typedef struct attr_markov attr_markov;

/* Trains on every closed opportunity of a checked dataset. *out is owned by
 * the caller (attr_markov_free). No closed journey is not an error: every
 * effect is then 0 and the model behaves as Linear. */
int attr_markov_train(const attr_dataset *ds, attr_markov **out, attr_error *err);
void attr_markov_free(attr_markov *m);

/* P(conversion) of the whole chain. */
double attr_markov_conversion(const attr_markov *m);
/* Removal effect in [0, 1]; 0 for channels never seen in training. */
double attr_markov_removal_effect(const attr_markov *m, uint32_t channel);
/* The effect as an integer share (effect * 2^32, rounded) for the weights. */
uint64_t attr_markov_share(const attr_markov *m, uint32_t channel);
/* Journeys used for training. */
size_t attr_markov_journeys(const attr_markov *m);

#endif
