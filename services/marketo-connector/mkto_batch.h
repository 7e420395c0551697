/*
 * Splitting work to Marketo's limits: at most 300 records or filter values
 * per call, filterValues lists sized so a GET stays under the 8 KB URI limit
 * (when a caller must use GET rather than POST with _method=GET), and
 * updatedAt ranges cut into windows of at most 7 days (the program members
 * query refuses longer ones).
 */
#ifndef MKTO_BATCH_H
#define MKTO_BATCH_H

#include "mkto_errors.h"

#include <stddef.h>
#include <stdint.h>

#define MKTO_BATCH_MAX 300
#define MKTO_WINDOW_MAX_MS (7LL * 24 * 3600 * 1000)

/* Calls needed for n items at 300 a call, and the range of call i (0-based). */
size_t mkto_batch_count(size_t n);
void mkto_batch_range(size_t i, size_t n, size_t *offset, size_t *len);

/*
 * How many of values[0..n) (at most 300) fit as "&filterValues=v1,v2,..." so
 * that a URL of base_len bytes plus that parameter stays within max_url.
 * Returns 0 when not even the first value fits.
 */
size_t mkto_filter_fit_ints(size_t base_len, const int64_t *values, size_t n, size_t max_url);
size_t mkto_filter_fit_strs(size_t base_len, const char *const *values, size_t n, size_t max_url);

typedef struct mkto_window {
    int64_t start_ms; /* inclusive */
    int64_t end_ms;   /* exclusive; end - start <= MKTO_WINDOW_MAX_MS */
} mkto_window;

/*
 * [from, to) cut into consecutive windows of at most 7 days (the last may be
 * shorter); each window's end is the next one's start. Marketo treats endAt
 * as inclusive, so a member updated exactly on a boundary can come back in
 * two windows: consumers dedupe by lead id (delivery is at-least-once).
 * *out is malloc'd (caller frees). Fails when to <= from.
 */
int mkto_windows(int64_t from_ms, int64_t to_ms, mkto_window **out, size_t *n, mkto_err *err);

#endif
