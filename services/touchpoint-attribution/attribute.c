/*
 * The attribution pipeline per opportunity: positions -> weights ->
 * revenue (see attribute.h).
 */
#include "attribute.h"

#include <stdlib.h>
#include <string.h>

#include "positions.h"

int attr_result_alloc(attr_result *r, const attr_dataset *ds, attr_error *err)
{
    memset(r, 0, sizeof *r);
    size_t nj = ds->n_journey ? ds->n_journey : 1, no = ds->n_opps ? ds->n_opps : 1;
    r->ppm = calloc(nj, sizeof *r->ppm);
    r->revenue = calloc(nj, sizeof *r->revenue);
    r->positions = calloc(nj, sizeof *r->positions);
    r->n_in = calloc(no, sizeof *r->n_in);
    if (!r->ppm || !r->revenue || !r->positions || !r->n_in) {
        attr_result_free(r);
        return attr_error_set(err, "out of memory for the attribution of %zu journey entries",
                              ds->n_journey);
    }
    r->n_journey = ds->n_journey;
    r->n_opps = ds->n_opps;
    return 0;
}

void attr_result_free(attr_result *r)
{
    free(r->ppm);
    free(r->revenue);
    free(r->positions);
    free(r->n_in);
    memset(r, 0, sizeof *r);
}

int attr_revenue_split(int64_t amount, const uint32_t *ppm, uint32_t n, int64_t *revenue,
                       attr_work *w)
{
    if (n == 0)
        return 0;
    if (attr_work_reserve(w, n) != 0)
        return -1;
    for (uint32_t k = 0; k < n; k++)
        w->shares[k] = ppm[k];
    uint64_t mag = amount < 0 ? (uint64_t)(-(amount + 1)) + 1 : (uint64_t)amount;
    if (apportion(mag, w->shares, n, w->parts, &w->ap) != 0)
        return -1;
    for (uint32_t k = 0; k < n; k++)
        revenue[k] = amount < 0 ? -(int64_t)w->parts[k] : (int64_t)w->parts[k];
    return 0;
}

int attr_run_range(const attr_dataset *ds, const attr_model *m, size_t begin, size_t end,
                   attr_result *r, attr_work *w, attr_error *err)
{
    for (size_t o = begin; o < end; o++) {
        const attr_opp *op = &ds->opps[o];
        attr_slots s;
        attr_positions_find(ds, o, &s);
        r->n_in[o] = s.n_in;
        uint32_t *ppm = r->ppm + op->first;
        int64_t *rev = r->revenue + op->first;
        uint16_t *pos = r->positions + op->first;
        memset(ppm + s.n_in, 0, (op->count - s.n_in) * sizeof *ppm);
        memset(rev + s.n_in, 0, (op->count - s.n_in) * sizeof *rev);
        memset(pos, 0, op->count * sizeof *pos);
        if (s.n_in == 0)
            continue;
        attr_positions_mark(&s, pos);
        if (attr_model_weights(m, ds, o, &s, ppm, w) != 0 ||
            attr_revenue_split(op->amount_minor, ppm, s.n_in, rev, w) != 0)
            return attr_error_set(err, "out of memory attributing opportunity %zu (%u touches)", o,
                                  op->count);
    }
    return 0;
}

int attr_run(const attr_dataset *ds, const attr_model *m, attr_result *r, attr_error *err)
{
    memset(r, 0, sizeof *r);
    if (attr_dataset_check(ds, err) != 0 || attr_model_check(m, err) != 0)
        return -1;
    if (attr_result_alloc(r, ds, err) != 0)
        return -1;
    attr_work w = {0};
    int rc = attr_run_range(ds, m, 0, ds->n_opps, r, &w, err);
    attr_work_free(&w);
    if (rc != 0)
        attr_result_free(r);
    return rc;
}
