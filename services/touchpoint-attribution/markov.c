/*
 * Markov removal effects (see markov.h). Channels seen in training are
 * renumbered 1..K (dense states) so the linear systems are K x K whatever the
 * channel ids; K + 1 solves of O(K^3) each, done once per training.
 */
#include "markov.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "positions.h"

struct attr_markov {
    uint32_t n_channels;
    double *effect;  /* per channel id */
    uint64_t *share; /* per channel id */
    double conversion;
    size_t journeys;
};

/* Solves A x = b in place (n x n, row-major); x returned in b. A is
 * nonsingular for an absorbing chain; a zero pivot leaves x = 0 there. */
static void solve(double *A, double *b, uint32_t n)
{
    for (uint32_t c = 0; c < n; c++) {
        uint32_t p = c;
        for (uint32_t r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[p * n + c]))
                p = r;
        if (A[p * n + c] == 0.0)
            continue;
        if (p != c) {
            for (uint32_t k = 0; k < n; k++) {
                double t = A[c * n + k];
                A[c * n + k] = A[p * n + k];
                A[p * n + k] = t;
            }
            double t = b[c];
            b[c] = b[p];
            b[p] = t;
        }
        for (uint32_t r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            if (f == 0.0)
                continue;
            for (uint32_t k = c; k < n; k++)
                A[r * n + k] -= f * A[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (uint32_t c = n; c-- > 0;) {
        if (A[c * n + c] == 0.0) {
            b[c] = 0.0;
            continue;
        }
        double v = b[c];
        for (uint32_t k = c + 1; k < n; k++)
            v -= A[c * n + k] * b[k];
        b[c] = v / A[c * n + c];
    }
}

/* P(conversion from start) with state `removed` (1..K, 0 = none) turned
 * into null. P is (K+1) x (K+3): rows start, 1..K; columns -, 1..K, conv,
 * null. */
static double conversion(const double *P, uint32_t K, uint32_t removed, double *A, double *b)
{
    uint32_t W = K + 3;
    for (uint32_t i = 0; i < K; i++) {
        for (uint32_t j = 0; j < K; j++)
            A[i * K + j] = (i == j ? 1.0 : 0.0) - P[(i + 1) * W + j + 1];
        b[i] = P[(i + 1) * W + K + 1];
    }
    if (removed) {
        uint32_t r = removed - 1;
        for (uint32_t j = 0; j < K; j++)
            A[r * K + j] = r == j ? 1.0 : 0.0;
        b[r] = 0.0;
    }
    solve(A, b, K);
    double p = P[K + 1]; /* start -> conversion (never: journeys are not empty) */
    for (uint32_t j = 0; j < K; j++)
        p += P[j + 1] * b[j];
    return p;
}

int attr_markov_train(const attr_dataset *ds, attr_markov **out, attr_error *err)
{
    *out = NULL;
    attr_markov *m = calloc(1, sizeof *m);
    uint32_t *state = calloc(ds->n_channels ? ds->n_channels : 1, sizeof *state);
    if (!m || !state) {
        free(m);
        free(state);
        return attr_error_set(err, "out of memory training the data-driven model");
    }
    m->n_channels = ds->n_channels;
    m->effect = calloc(ds->n_channels ? ds->n_channels : 1, sizeof *m->effect);
    m->share = calloc(ds->n_channels ? ds->n_channels : 1, sizeof *m->share);
    uint32_t *chan_of_state = calloc(ATTR_MARKOV_MAX_CHANNELS + 1, sizeof *chan_of_state);
    double *P = NULL, *A = NULL, *b = NULL;
    int rc = -1;
    if (!m->effect || !m->share || !chan_of_state) {
        attr_error_set(err, "out of memory training the data-driven model");
        goto done;
    }
    /* Pass 1: number the channels that closed journeys use. */
    uint32_t K = 0;
    for (size_t o = 0; o < ds->n_opps; o++) {
        const attr_opp *op = &ds->opps[o];
        if (!op->close_ms)
            continue;
        int64_t cut = attr_close_cutoff(op->close_ms);
        const uint32_t *j = ds->journey + op->first;
        for (uint32_t k = 0; k < op->count && ds->touches[j[k]].at_ms <= cut; k++) {
            uint32_t ch = ds->dims[ds->touches[j[k]].dim].channel;
            if (state[ch])
                continue;
            if (K == ATTR_MARKOV_MAX_CHANNELS) {
                attr_error_set(err,
                               "data-driven model supports at most %d channels; the closed "
                               "journeys use more",
                               ATTR_MARKOV_MAX_CHANNELS);
                goto done;
            }
            state[ch] = ++K;
            chan_of_state[K] = ch;
        }
    }
    /* Pass 2: transition counts (as doubles: exact up to 2^53). */
    uint32_t W = K + 3;
    P = calloc((size_t)(K + 1) * W, sizeof *P);
    A = calloc((size_t)(K ? K : 1) * (K ? K : 1), sizeof *A);
    b = calloc(K ? K : 1, sizeof *b);
    if (!P || !A || !b) {
        attr_error_set(err, "out of memory training the data-driven model");
        goto done;
    }
    for (size_t o = 0; o < ds->n_opps; o++) {
        const attr_opp *op = &ds->opps[o];
        if (!op->close_ms)
            continue;
        int64_t cut = attr_close_cutoff(op->close_ms);
        const uint32_t *j = ds->journey + op->first;
        uint32_t prev = 0, k = 0;
        for (; k < op->count && ds->touches[j[k]].at_ms <= cut; k++) {
            uint32_t st = state[ds->dims[ds->touches[j[k]].dim].channel];
            P[prev * W + st] += 1.0;
            prev = st;
        }
        if (k == 0)
            continue;
        P[prev * W + (op->won ? K + 1 : K + 2)] += 1.0;
        m->journeys++;
    }
    for (uint32_t i = 0; i <= K; i++) {
        double total = 0;
        for (uint32_t c = 0; c < W; c++)
            total += P[i * W + c];
        if (total > 0)
            for (uint32_t c = 0; c < W; c++)
                P[i * W + c] /= total;
    }
    if (K > 0) {
        m->conversion = conversion(P, K, 0, A, b);
        for (uint32_t s = 1; s <= K && m->conversion > 0; s++) {
            double without = conversion(P, K, s, A, b);
            double e = 1.0 - without / m->conversion;
            e = e < 0 ? 0 : e > 1 ? 1 : e;
            m->effect[chan_of_state[s]] = e;
            m->share[chan_of_state[s]] = (uint64_t)llround(ldexp(e, 32));
        }
    }
    rc = 0;
    *out = m;
done:
    free(state);
    free(chan_of_state);
    free(P);
    free(A);
    free(b);
    if (rc != 0)
        attr_markov_free(m);
    return rc;
}

void attr_markov_free(attr_markov *m)
{
    if (!m)
        return;
    free(m->effect);
    free(m->share);
    free(m);
}

double attr_markov_conversion(const attr_markov *m)
{
    return m->conversion;
}

double attr_markov_removal_effect(const attr_markov *m, uint32_t channel)
{
    return channel < m->n_channels ? m->effect[channel] : 0.0;
}

uint64_t attr_markov_share(const attr_markov *m, uint32_t channel)
{
    return channel < m->n_channels ? m->share[channel] : 0;
}

size_t attr_markov_journeys(const attr_markov *m)
{
    return m->journeys;
}
