/*
 * Runs a model over every opportunity of a dataset: positions (A1), weights
 * (A2) and revenue (A3), written into arrays aligned with ds->journey so a
 * million touches cost 14 bytes of output each and no allocation per
 * opportunity. Revenue = Amount x weight, split by largest remainder so the
 * parts add up to exactly the amount (a negative amount is split as its
 * absolute value and negated). Touches after the close get weight 0,
 * revenue 0 and no position.
 */
#ifndef ATTR_ATTRIBUTE_H
#define ATTR_ATTRIBUTE_H

#include <stddef.h>
#include <stdint.h>

#include "attr_error.h"
#include "dataset.h"
#include "models.h"

typedef struct attr_result {
    size_t n_journey, n_opps;
    uint32_t *ppm;       /* per journey entry */
    int64_t *revenue;    /* per journey entry, minor units */
    uint16_t *positions; /* per journey entry, ATTR_POS_* flags */
    uint32_t *n_in;      /* per opportunity: counted touches (a journey prefix) */
} attr_result;

/* Allocates the arrays for ds (zeroed); free with attr_result_free. */
int attr_result_alloc(attr_result *r, const attr_dataset *ds, attr_error *err);
void attr_result_free(attr_result *r);

/* Splits amount by weights (ppm summing to 1,000,000) into revenue[0..n).
 * Uses w for scratch. 0, or -1 when out of memory. */
int attr_revenue_split(int64_t amount, const uint32_t *ppm, uint32_t n, int64_t *revenue,
                       attr_work *w);

/* Attributes opportunities [begin, end) into r (allocated for ds). Disjoint
 * ranges may run on different threads, each with its own work space. ds
 * and m must be checked (attr_dataset_check, attr_model_check). */
int attr_run_range(const attr_dataset *ds, const attr_model *m, size_t begin, size_t end,
                   attr_result *r, attr_work *w, attr_error *err);

/* Checks ds and m, allocates r and attributes every opportunity. */
int attr_run(const attr_dataset *ds, const attr_model *m, attr_result *r, attr_error *err);

#endif
