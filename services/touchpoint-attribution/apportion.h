/*
 * Largest-remainder apportionment: splits an integer total into parts
 * proportional to integer shares so the parts add up to exactly the total.
 * Every weight (A2, parts per million) and every revenue split (A3, minor
 * units) goes through here, so "sums to exactly 100%" and "adds up to the
 * amount" hold by construction. Ties between equal remainders go to the
 * lower index (the earlier touch), so the result is deterministic.
 */
#ifndef ATTR_APPORTION_H
#define ATTR_APPORTION_H

#include <stddef.h>
#include <stdint.h>

/* Reusable work space, grown on demand: one per thread, no per-call malloc. */
typedef struct apportion_scratch {
    uint64_t *rem;
    uint32_t *order;
    size_t cap;
} apportion_scratch;

/* Makes room for n parts; 0, or -1 when out of memory. */
int apportion_reserve(apportion_scratch *s, size_t n);
void apportion_scratch_free(apportion_scratch *s);

/*
 * out[i] = floor(total * shares[i] / S) (S = sum of shares) plus one for the
 * (total - sum of floors) parts with the largest remainders. The scratch must
 * hold n (apportion_reserve). -1 when S is 0 or overflows 64 bits.
 */
int apportion(uint64_t total, const uint64_t *shares, size_t n, uint64_t *out,
              apportion_scratch *s);

#endif
