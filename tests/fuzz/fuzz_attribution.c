/*
 * Fuzz target for the attribution core: decodes bytes into a small dataset
 * (touches, dims, opportunities, journeys that may be out of order, out of
 * range or repeated, stage times), which attr_dataset_check must either
 * reject or accept; accepted ones run through every model, and the
 * invariants must hold: weights sum to exactly 1,000,000 ppm and revenue to
 * exactly the amount for every opportunity with a counted touch, nothing
 * after the close is credited. A violation aborts so the fuzzer reports it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attribute.h"
#include "markov.h"
#include "positions.h"
#include "report.h"

#define DAY 86400000LL
#define MAX_T 48
#define MAX_O 6
#define MAX_J 96

typedef struct reader {
    const uint8_t *p;
    size_t n, at;
} reader;

static uint8_t u8(reader *r)
{
    return r->at < r->n ? r->p[r->at++] : 0;
}

static uint16_t u16(reader *r)
{
    uint16_t hi = u8(r);
    uint16_t lo = u8(r);
    return (uint16_t)(hi << 8 | lo);
}

static int32_t i32(reader *r)
{
    uint32_t hi = u16(r);
    uint32_t lo = u16(r);
    return (int32_t)(hi << 16 | lo);
}

static void check_invariants(const attr_dataset *ds, const attr_result *res)
{
    for (size_t o = 0; o < ds->n_opps; o++) {
        const attr_opp *op = &ds->opps[o];
        int64_t cut = op->close_ms ? attr_close_cutoff(op->close_ms) : INT64_MAX;
        uint64_t ppm = 0;
        int64_t rev = 0;
        for (uint32_t k = 0; k < op->count; k++) {
            size_t e = op->first + k;
            if (ds->touches[ds->journey[e]].at_ms > cut && (res->ppm[e] || res->revenue[e]))
                abort();
            ppm += res->ppm[e];
            rev += res->revenue[e];
        }
        if (res->n_in[o] && (ppm != 1000000 || rev != op->amount_minor))
            abort();
        if (!res->n_in[o] && (ppm || rev))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size, 0};
    attr_touch t[MAX_T];
    attr_dim d[4];
    attr_opp o[MAX_O];
    uint32_t j[MAX_J];
    int64_t stage[MAX_O * ATTR_MAX_STAGES];
    size_t nt = u8(&r) % (MAX_T + 1);
    size_t no = u8(&r) % (MAX_O + 1);
    size_t nd = u8(&r) % 4 + 1;
    uint32_t nch = u8(&r) % 3 + 1;
    /* One read per statement: initializer lists do not sequence calls. */
    for (size_t i = 0; i < nd; i++) {
        d[i].channel = u8(&r) % (nch + 1); /* may be out of range */
        d[i].subchannel = u8(&r);
        d[i].campaign = u8(&r);
    }
    for (size_t i = 0; i < nt; i++) {
        uint8_t f = u8(&r);
        t[i].at_ms = (int64_t)u16(&r) * (DAY / 4);
        t[i].tie = f & 0x80 ? u8(&r) : (uint32_t)i;
        t[i].dim = (f >> 1) % (nd + 1);
        t[i].flags = f & ATTR_TOUCH_FORM;
    }
    size_t nj = 0;
    for (size_t i = 0; i < no; i++) {
        uint8_t f = u8(&r);
        memset(&o[i], 0, sizeof o[i]);
        if (f & 1)
            o[i].created_ms = (int64_t)u16(&r) * (DAY / 4);
        if (f & 2)
            o[i].close_ms = (int64_t)u16(&r) * (DAY / 4);
        if (f & 4)
            o[i].lead_created_ms = (int64_t)u16(&r) * (DAY / 4);
        o[i].won = (f >> 3) & 1;
        o[i].amount_minor = i32(&r);
        if (f & 0x10)
            o[i].amount_minor *= 1000003; /* beyond 32 bits */
        uint32_t count = u8(&r) % 17;
        o[i].first = (uint32_t)nj;
        for (uint32_t k = 0; k < count && nj < MAX_J; k++)
            j[nj++] = nt ? u8(&r) % (nt + 1) : u8(&r); /* may be out of range */
        o[i].count = (uint32_t)nj - o[i].first;
        if ((f & 0x20) && nt && o[i].count) {
            /* usually sorted, so most inputs get past the check */
            for (uint32_t k = 0; k < o[i].count; k++)
                j[o[i].first + k] %= (uint32_t)nt;
            attr_journey_sort(t, j + o[i].first, o[i].count);
        }
        for (int s = 0; s < ATTR_MAX_STAGES; s++)
            stage[i * ATTR_MAX_STAGES + s] = f & 0x40 ? (int64_t)u8(&r) * DAY : 0;
    }
    attr_dataset ds = {.touches = t,
                       .n_touches = nt,
                       .dims = d,
                       .n_dims = nd,
                       .n_channels = nch,
                       .opps = o,
                       .n_opps = no,
                       .journey = j,
                       .n_journey = nj,
                       .stage_ms = stage};
    attr_error err;
    if (attr_dataset_check(&ds, &err) != 0)
        return 0;

    /* custom weights: byte proportions of 10000, the rest to the middle */
    attr_custom c = {.n_stages = u8(&r) % (ATTR_MAX_STAGES + 1)};
    uint32_t *w[4] = {&c.ft_bp, &c.lc_bp, &c.oc_bp, &c.cw_bp};
    uint32_t left = 10000;
    for (int i = 0; i < 4; i++) {
        *w[i] = (uint32_t)u8(&r) * left / 255;
        left -= *w[i];
    }
    for (uint32_t i = 0; i < c.n_stages; i++) {
        c.stage_bp[i] = (uint32_t)u8(&r) * left / 255;
        left -= c.stage_bp[i];
    }
    c.middle_bp = left;
    double hl = u8(&r) / 8.0;

    attr_markov *mk = NULL;
    if (attr_markov_train(&ds, &mk, &err) != 0)
        abort(); /* at most 3 channels: training cannot fail */
    for (int k = ATTR_MODEL_FIRST_TOUCH; k <= ATTR_MODEL_DATA_DRIVEN; k++) {
        attr_model m = {
            .kind = (attr_model_kind)k, .custom = c, .half_life_days = hl, .markov = mk};
        attr_result res;
        if (attr_run(&ds, &m, &res, &err) != 0)
            abort();
        check_invariants(&ds, &res);
        attr_report rep;
        if (attr_report_build(&ds, &res, (attr_group_by)(k % 3), 0, 0, &rep, &err) == 0)
            attr_report_free(&rep);
        attr_result_free(&res);
    }
    attr_markov_free(mk);
    return 0;
}
