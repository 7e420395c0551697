/*
 * Batches of 300, filterValues lists under the URI limit, 7-day windows (see
 * mkto_batch.h).
 */
#include "mkto_batch.h"

#include "mkto_query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

size_t mkto_batch_count(size_t n)
{
    return (n + MKTO_BATCH_MAX - 1) / MKTO_BATCH_MAX;
}

void mkto_batch_range(size_t i, size_t n, size_t *offset, size_t *len)
{
    size_t off = i * MKTO_BATCH_MAX;
    *offset = off < n ? off : n;
    *len = n - *offset < MKTO_BATCH_MAX ? n - *offset : MKTO_BATCH_MAX;
}

/* "&filterValues=" then values joined by %2C (an encoded comma). */
static const size_t param_len = sizeof "&filterValues=" - 1, sep_len = 3;

size_t mkto_filter_fit_ints(size_t base_len, const int64_t *values, size_t n, size_t max_url)
{
    size_t total = base_len + param_len, k = 0;
    for (; k < n && k < MKTO_BATCH_MAX; k++) {
        char buf[32];
        size_t add = (size_t)snprintf(buf, sizeof buf, "%" PRId64, values[k]) + (k ? sep_len : 0);
        if (total + add > max_url)
            break;
        total += add;
    }
    return k;
}

size_t mkto_filter_fit_strs(size_t base_len, const char *const *values, size_t n, size_t max_url)
{
    size_t total = base_len + param_len, k = 0;
    for (; k < n && k < MKTO_BATCH_MAX; k++) {
        size_t add = mkto_url_encoded_len(values[k]) + (k ? sep_len : 0);
        if (total + add > max_url)
            break;
        total += add;
    }
    return k;
}

int mkto_windows(int64_t from_ms, int64_t to_ms, mkto_window **out, size_t *n, mkto_err *err)
{
    *out = NULL;
    *n = 0;
    if (to_ms <= from_ms)
        return mkto_err_set(err, "updatedAt window: end %" PRId64 " is not after start %" PRId64,
                            to_ms, from_ms);
    /* Computed in unsigned to avoid overflow on extreme bounds. */
    uint64_t span = (uint64_t)to_ms - (uint64_t)from_ms;
    size_t count = (size_t)((span + MKTO_WINDOW_MAX_MS - 1) / MKTO_WINDOW_MAX_MS);
    mkto_window *w = calloc(count, sizeof *w);
    if (!w)
        return mkto_err_set(err, "out of memory (%zu windows)", count);
    int64_t start = from_ms;
    for (size_t i = 0; i < count; i++) {
        w[i].start_ms = start;
        w[i].end_ms = (i + 1 == count) ? to_ms : start + MKTO_WINDOW_MAX_MS;
        start = w[i].end_ms;
    }
    *out = w;
    *n = count;
    return 0;
}
