/*
 * Dataset validation and journey construction (see dataset.h). Journeys are
 * built with a counting sort by account (two passes, no per-account
 * allocation), then each account's bucket is ordered by time once.
 */
#include "dataset.h"

#include <stdlib.h>
#include <string.h>

static int touch_before(const attr_touch *a, const attr_touch *b)
{
    return a->at_ms < b->at_ms || (a->at_ms == b->at_ms && a->tie < b->tie);
}

static int cmp_idx(const void *a, const void *b, void *ctx)
{
    const attr_touch *t = ctx;
    const attr_touch *x = &t[*(const uint32_t *)a], *y = &t[*(const uint32_t *)b];
    if (touch_before(x, y))
        return -1;
    if (touch_before(y, x))
        return 1;
    return 0;
}

void attr_journey_sort(const attr_touch *touches, uint32_t *idx, size_t n)
{
    if (n <= 24) {
        for (size_t i = 1; i < n; i++) {
            uint32_t v = idx[i];
            size_t j = i;
            while (j > 0 && touch_before(&touches[v], &touches[idx[j - 1]])) {
                idx[j] = idx[j - 1];
                j--;
            }
            idx[j] = v;
        }
        return;
    }
    qsort_r(idx, n, sizeof *idx, cmp_idx, (void *)touches);
}

int attr_dataset_check(const attr_dataset *ds, attr_error *err)
{
    if ((ds->n_touches && !ds->touches) || (ds->n_dims && !ds->dims) || (ds->n_opps && !ds->opps) ||
        (ds->n_journey && !ds->journey))
        return attr_error_set(err, "dataset array missing for a non-zero count");
    if (ds->n_touches > UINT32_MAX || ds->n_journey > UINT32_MAX)
        return attr_error_set(err, "dataset too large: at most %u touches and journey entries",
                              UINT32_MAX);
    for (size_t d = 0; d < ds->n_dims; d++)
        if (ds->dims[d].channel >= ds->n_channels)
            return attr_error_set(err, "dim %zu has channel %u, only %u channels", d,
                                  ds->dims[d].channel, ds->n_channels);
    for (size_t i = 0; i < ds->n_touches; i++)
        if (ds->touches[i].dim >= ds->n_dims)
            return attr_error_set(err, "touch %zu has dim %u, only %zu dims", i, ds->touches[i].dim,
                                  ds->n_dims);
    for (size_t o = 0; o < ds->n_opps; o++) {
        const attr_opp *op = &ds->opps[o];
        if ((uint64_t)op->first + op->count > ds->n_journey)
            return attr_error_set(err, "opportunity %zu journey [%u, +%u) exceeds %zu entries", o,
                                  op->first, op->count, ds->n_journey);
        if (op->won && !op->close_ms)
            return attr_error_set(err, "opportunity %zu is won but has no close date", o);
        if (op->amount_minor == INT64_MIN)
            return attr_error_set(err, "opportunity %zu amount out of range", o);
        const uint32_t *j = ds->journey + op->first;
        for (uint32_t k = 0; k < op->count; k++) {
            if (j[k] >= ds->n_touches)
                return attr_error_set(err, "opportunity %zu journey entry %u is touch %u of %zu", o,
                                      k, j[k], ds->n_touches);
            if (k > 0 && !touch_before(&ds->touches[j[k - 1]], &ds->touches[j[k]]))
                return attr_error_set(err,
                                      "opportunity %zu journey is not ordered by (time, tie) "
                                      "without repeats at entry %u",
                                      o, k);
        }
    }
    return 0;
}

int attr_journeys_by_account(const attr_touch *touches, const uint32_t *touch_account,
                             size_t n_touches, attr_opp *opps, const uint32_t *opp_account,
                             size_t n_opps, uint32_t n_accounts, uint32_t **journey_out,
                             size_t *n_journey_out, attr_error *err)
{
    *journey_out = NULL;
    *n_journey_out = 0;
    if (n_touches > UINT32_MAX)
        return attr_error_set(err, "too many touches (%zu)", n_touches);
    uint32_t *start = calloc((size_t)n_accounts + 1, sizeof *start);
    uint32_t *bucket = malloc((n_touches ? n_touches : 1) * sizeof *bucket);
    if (!start || !bucket) {
        free(start);
        free(bucket);
        return attr_error_set(err, "out of memory grouping %zu touches by account", n_touches);
    }
    for (size_t i = 0; i < n_touches; i++)
        if (touch_account[i] < n_accounts)
            start[touch_account[i] + 1]++;
    for (uint32_t a = 0; a < n_accounts; a++)
        start[a + 1] += start[a];
    /* fill using start[a] as a cursor, then shift back */
    for (size_t i = 0; i < n_touches; i++)
        if (touch_account[i] < n_accounts)
            bucket[start[touch_account[i]]++] = (uint32_t)i;
    for (uint32_t a = n_accounts; a > 0; a--)
        start[a] = start[a - 1];
    start[0] = 0;
    for (uint32_t a = 0; a < n_accounts; a++)
        attr_journey_sort(touches, bucket + start[a], start[a + 1] - start[a]);

    uint64_t total = 0;
    for (size_t o = 0; o < n_opps; o++)
        if (opp_account[o] < n_accounts)
            total += start[opp_account[o] + 1] - start[opp_account[o]];
    if (total > UINT32_MAX) {
        free(start);
        free(bucket);
        return attr_error_set(err, "journeys would hold %llu entries, more than %u",
                              (unsigned long long)total, UINT32_MAX);
    }
    uint32_t *journey = malloc((total ? total : 1) * sizeof *journey);
    if (!journey) {
        free(start);
        free(bucket);
        return attr_error_set(err, "out of memory for %llu journey entries",
                              (unsigned long long)total);
    }
    uint32_t at = 0;
    for (size_t o = 0; o < n_opps; o++) {
        uint32_t a = opp_account[o];
        uint32_t n = a < n_accounts ? start[a + 1] - start[a] : 0;
        if (n)
            memcpy(journey + at, bucket + start[a], n * sizeof *journey);
        opps[o].first = at;
        opps[o].count = n;
        at += n;
    }
    free(start);
    free(bucket);
    *journey_out = journey;
    *n_journey_out = total;
    return 0;
}
