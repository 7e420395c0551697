/*
 * The models (see models.h for the rules). Every model reduces to integer
 * shares per touch whose ratios are the exact weights; apportion() turns them
 * into ppm. Position models put their weights over the common denominator
 * P * M (present positions x middle touches) so the spreading of missing
 * weights and of the middle share stays exact.
 */
#include "models.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "markov.h"

#define MAX_SLOTS (4 + ATTR_MAX_STAGES)
#define DAY_MS 86400000.0

const char *attr_model_name(attr_model_kind k)
{
    switch (k) {
    case ATTR_MODEL_FIRST_TOUCH:
        return "First Touch";
    case ATTR_MODEL_LEAD_CREATION:
        return "Lead Creation";
    case ATTR_MODEL_U_SHAPED:
        return "U-Shaped";
    case ATTR_MODEL_W_SHAPED:
        return "W-Shaped";
    case ATTR_MODEL_FULL_PATH:
        return "Full Path";
    case ATTR_MODEL_CUSTOM:
        return "Custom";
    case ATTR_MODEL_LINEAR:
        return "Linear";
    case ATTR_MODEL_TIME_DECAY:
        return "Time-Decay";
    case ATTR_MODEL_DATA_DRIVEN:
        return "Data-Driven";
    }
    return "unknown";
}

int attr_model_check(const attr_model *m, attr_error *err)
{
    switch (m->kind) {
    case ATTR_MODEL_FIRST_TOUCH:
    case ATTR_MODEL_LEAD_CREATION:
    case ATTR_MODEL_U_SHAPED:
    case ATTR_MODEL_W_SHAPED:
    case ATTR_MODEL_FULL_PATH:
    case ATTR_MODEL_LINEAR:
        return 0;
    case ATTR_MODEL_CUSTOM: {
        const attr_custom *c = &m->custom;
        if (c->n_stages > ATTR_MAX_STAGES)
            return attr_error_set(err, "custom model has %u stages, at most %d", c->n_stages,
                                  ATTR_MAX_STAGES);
        uint64_t sum = (uint64_t)c->ft_bp + c->lc_bp + c->oc_bp + c->cw_bp + c->middle_bp;
        for (uint32_t i = 0; i < c->n_stages; i++)
            sum += c->stage_bp[i];
        if (sum != 10000)
            return attr_error_set(err,
                                  "custom weights sum to %llu basis points; FT, LC, OC, CW, the "
                                  "stages and the middle share must sum to 10000",
                                  (unsigned long long)sum);
        return 0;
    }
    case ATTR_MODEL_TIME_DECAY:
        if (!isfinite(m->half_life_days) || m->half_life_days < 0)
            return attr_error_set(err, "time-decay half-life must be a positive number of days");
        return 0;
    case ATTR_MODEL_DATA_DRIVEN:
        if (!m->markov)
            return attr_error_set(err, "data-driven model needs a chain trained on all journeys");
        return 0;
    }
    return attr_error_set(err, "unknown attribution model %d", (int)m->kind);
}

int attr_work_reserve(attr_work *w, size_t n)
{
    if (apportion_reserve(&w->ap, n) != 0)
        return -1;
    if (n <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : 16;
    while (cap < n)
        cap *= 2;
    uint64_t *shares = realloc(w->shares, cap * sizeof *shares);
    if (!shares)
        return -1;
    w->shares = shares;
    uint64_t *parts = realloc(w->parts, cap * sizeof *parts);
    if (!parts)
        return -1;
    w->parts = parts;
    w->cap = cap;
    return 0;
}

void attr_work_free(attr_work *w)
{
    apportion_scratch_free(&w->ap);
    free(w->shares);
    free(w->parts);
    memset(w, 0, sizeof *w);
}

typedef struct slot {
    uint32_t at; /* journey offset or ATTR_SLOT_NONE */
    uint64_t ppm;
} slot;

/* The positions a model weighs, with their weights in ppm; returns how many,
 * and the middle share in *mid. */
static int model_slots(const attr_model *m, const attr_slots *s, slot *out, uint64_t *mid)
{
    int n = 0;
    const attr_custom *c = &m->custom;
    *mid = 0;
    switch (m->kind) {
    case ATTR_MODEL_FIRST_TOUCH:
        out[n++] = (slot){s->ft, 1000000};
        break;
    case ATTR_MODEL_LEAD_CREATION:
        out[n++] = (slot){s->lc, 1000000};
        break;
    case ATTR_MODEL_U_SHAPED:
        out[n++] = (slot){s->ft, 400000};
        out[n++] = (slot){s->lc, 400000};
        *mid = 200000;
        break;
    case ATTR_MODEL_W_SHAPED:
        out[n++] = (slot){s->ft, 300000};
        out[n++] = (slot){s->lc, 300000};
        out[n++] = (slot){s->oc, 300000};
        *mid = 100000;
        break;
    case ATTR_MODEL_FULL_PATH:
        out[n++] = (slot){s->ft, 225000};
        out[n++] = (slot){s->lc, 225000};
        out[n++] = (slot){s->oc, 225000};
        out[n++] = (slot){s->cw, 225000};
        *mid = 100000;
        break;
    case ATTR_MODEL_CUSTOM: {
        const uint32_t at[4] = {s->ft, s->lc, s->oc, s->cw};
        const uint32_t bp[4] = {c->ft_bp, c->lc_bp, c->oc_bp, c->cw_bp};
        for (int i = 0; i < 4; i++)
            if (bp[i])
                out[n++] = (slot){at[i], (uint64_t)bp[i] * 100};
        for (uint32_t i = 0; i < c->n_stages; i++)
            if (c->stage_bp[i])
                out[n++] = (slot){s->stage[i], (uint64_t)c->stage_bp[i] * 100};
        *mid = (uint64_t)c->middle_bp * 100;
        break;
    }
    default:
        break;
    }
    return n;
}

#define HOLDER UINT64_MAX

static void position_shares(const attr_model *m, const attr_dataset *ds, size_t opp,
                            const attr_slots *s, uint64_t *sh)
{
    slot sl[MAX_SLOTS];
    uint64_t mid;
    int ns = model_slots(m, s, sl, &mid);
    uint32_t n = s->n_in;
    uint64_t P = 0, missing = 0;
    for (int i = 0; i < ns; i++) {
        if (sl[i].at == ATTR_SLOT_NONE)
            missing += sl[i].ppm;
        else
            P++;
    }
    memset(sh, 0, n * sizeof *sh);
    if (P == 0) {
        sh[s->ft] = 1;
        return;
    }
    for (int i = 0; i < ns; i++)
        if (sl[i].at != ATTR_SLOT_NONE)
            sh[sl[i].at] = HOLDER;

    /* Middle candidates: U-Shaped takes form touches strictly between FT
     * and LC; the others every touch holding none of their positions. */
    uint32_t lo = 0, hi = n;
    bool forms_only = m->kind == ATTR_MODEL_U_SHAPED;
    if (forms_only) {
        lo = s->ft + 1;
        hi = s->lc == ATTR_SLOT_NONE ? 0 : s->lc;
    }
    const uint32_t *j = ds->journey + ds->opps[opp].first;
    uint64_t M = 0;
    if (mid == 0)
        hi = 0; /* no middle share: nobody needs counting */
    for (uint32_t k = lo; k < hi; k++) {
        if (sh[k] == HOLDER)
            continue;
        if (forms_only && !(ds->touches[j[k]].flags & ATTR_TOUCH_FORM))
            continue;
        sh[k] = 1; /* middle marker, valued below */
        M++;
    }
    uint64_t mid_each = M ? mid * P : 0;
    for (uint32_t k = 0; k < n; k++)
        sh[k] = sh[k] == 1 ? mid_each : 0;
    for (int i = 0; i < ns; i++) {
        if (sl[i].at == ATTR_SLOT_NONE)
            continue;
        uint64_t v = M ? (sl[i].ppm * P + missing) * M : sl[i].ppm * P + missing + mid;
        sh[sl[i].at] += v;
    }
}

static void linear_shares(uint32_t n, uint64_t *sh)
{
    for (uint32_t k = 0; k < n; k++)
        sh[k] = 1;
}

static void decay_shares(const attr_model *m, const attr_dataset *ds, size_t opp,
                         const attr_slots *s, uint64_t *sh)
{
    const uint32_t *j = ds->journey + ds->opps[opp].first;
    double hl_ms = (m->half_life_days > 0 ? m->half_life_days : 7.0) * DAY_MS;
    int64_t ref = ds->touches[j[s->n_in - 1]].at_ms;
    for (uint32_t k = 0; k < s->n_in; k++) {
        double age = (double)(ref - ds->touches[j[k]].at_ms);
        double halvings = age / hl_ms;
        sh[k] = halvings >= 32.0 ? 0 : (uint64_t)ldexp(exp2(-halvings), 32);
    }
    /* the last touch always has 2^32, so the sum is never 0 */
}

static void markov_shares(const attr_model *m, const attr_dataset *ds, size_t opp,
                          const attr_slots *s, uint64_t *sh)
{
    const uint32_t *j = ds->journey + ds->opps[opp].first;
    uint64_t any = 0;
    for (uint32_t k = 0; k < s->n_in; k++) {
        uint32_t ch = ds->dims[ds->touches[j[k]].dim].channel;
        sh[k] = attr_markov_share(m->markov, ch);
        any |= sh[k];
    }
    if (!any)
        linear_shares(s->n_in, sh);
}

int attr_model_weights(const attr_model *m, const attr_dataset *ds, size_t opp, const attr_slots *s,
                       uint32_t *ppm, attr_work *w)
{
    uint32_t n = s->n_in;
    if (n == 0)
        return 0;
    if (attr_work_reserve(w, n) != 0)
        return -1;
    uint64_t *sh = w->shares;
    switch (m->kind) {
    case ATTR_MODEL_LINEAR:
        linear_shares(n, sh);
        break;
    case ATTR_MODEL_TIME_DECAY:
        decay_shares(m, ds, opp, s, sh);
        break;
    case ATTR_MODEL_DATA_DRIVEN:
        markov_shares(m, ds, opp, s, sh);
        break;
    default:
        position_shares(m, ds, opp, s, sh);
        break;
    }
    if (apportion(ATTR_PPM_TOTAL, sh, n, w->parts, &w->ap) != 0)
        return -1;
    for (uint32_t k = 0; k < n; k++)
        ppm[k] = (uint32_t)w->parts[k];
    return 0;
}
