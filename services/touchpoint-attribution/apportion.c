/*
 * Largest remainder (see apportion.h). Products total * share use 64-bit
 * arithmetic when both factors fit 32 bits and 128-bit otherwise.
 */
#include "apportion.h"

#include <stdlib.h>

int apportion_reserve(apportion_scratch *s, size_t n)
{
    if (n <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 16;
    while (cap < n)
        cap *= 2;
    uint64_t *rem = realloc(s->rem, cap * sizeof *rem);
    if (!rem)
        return -1;
    s->rem = rem;
    uint32_t *order = realloc(s->order, cap * sizeof *order);
    if (!order)
        return -1;
    s->order = order;
    s->cap = cap;
    return 0;
}

void apportion_scratch_free(apportion_scratch *s)
{
    free(s->rem);
    free(s->order);
    s->rem = NULL;
    s->order = NULL;
    s->cap = 0;
}

static int rem_first(const uint64_t *rem, uint32_t a, uint32_t b)
{
    return rem[a] > rem[b] || (rem[a] == rem[b] && a < b);
}

static int cmp_rem(const void *x, const void *y, void *ctx)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    if (a == b)
        return 0;
    return rem_first(ctx, a, b) ? -1 : 1;
}

int apportion(uint64_t total, const uint64_t *shares, size_t n, uint64_t *out, apportion_scratch *s)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        if (__builtin_add_overflow(sum, shares[i], &sum))
            return -1;
    if (sum == 0)
        return -1;
    uint64_t given = 0;
    if (total <= UINT32_MAX && sum <= UINT32_MAX) {
        for (size_t i = 0; i < n; i++) {
            uint64_t p = total * shares[i];
            out[i] = p / sum;
            s->rem[i] = p % sum;
            given += out[i];
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            unsigned __int128 p = (unsigned __int128)total * shares[i];
            out[i] = (uint64_t)(p / sum);
            s->rem[i] = (uint64_t)(p % sum);
            given += out[i];
        }
    }
    uint64_t left = total - given; /* < n: each remainder is < 1 part */
    if (left == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        s->order[i] = (uint32_t)i;
    if (n <= 32) {
        for (size_t i = 1; i < n; i++) {
            uint32_t v = s->order[i];
            size_t j = i;
            while (j > 0 && rem_first(s->rem, v, s->order[j - 1])) {
                s->order[j] = s->order[j - 1];
                j--;
            }
            s->order[j] = v;
        }
    } else {
        qsort_r(s->order, n, sizeof *s->order, cmp_rem, s->rem);
    }
    for (uint64_t k = 0; k < left; k++)
        out[s->order[k]]++;
    return 0;
}
