/*
 * Properties of attribution over thousands of random journeys (fixed seed,
 * so a failure replays): per opportunity the weights sum to exactly
 * 1,000,000 ppm and the revenue parts to exactly the amount, no part has the
 * wrong sign, touches after the close get nothing, exactly one FT, and runs
 * are deterministic (twice, and split into ranges, give the same bytes).
 * Also the account mapping (A3 default) and dataset validation errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attribute.h"
#include "markov.h"
#include "positions.h"
#include "report.h"

#define DAY 86400000LL
#define N_OPPS 3000
#define N_ACCOUNTS 1200
#define N_TOUCHES 20000
#define N_DIMS 12

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint32_t below(uint32_t n)
{
    return (uint32_t)(next() % n);
}

typedef struct world {
    attr_touch touches[N_TOUCHES];
    uint32_t touch_account[N_TOUCHES];
    attr_dim dims[N_DIMS];
    attr_opp opps[N_OPPS];
    uint32_t opp_account[N_OPPS];
    int64_t stage[N_OPPS * ATTR_MAX_STAGES];
    uint32_t *journey;
    size_t n_journey;
    attr_dataset ds;
} world;

static world *make_world(void)
{
    world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    for (uint32_t d = 0; d < N_DIMS; d++)
        w->dims[d] = (attr_dim){d % 5, d, d / 2};
    int64_t base = 20000 * DAY;
    for (uint32_t i = 0; i < N_TOUCHES; i++) {
        /* coarse times so ties at one instant are common */
        w->touches[i] = (attr_touch){.at_ms = base + (int64_t)below(400) * (DAY / 4),
                                     .tie = i,
                                     .dim = below(N_DIMS),
                                     .flags = below(3) == 0 ? ATTR_TOUCH_FORM : 0};
        w->touch_account[i] = below(N_ACCOUNTS + 50); /* some touches belong to no account */
        if (w->touch_account[i] >= N_ACCOUNTS)
            w->touch_account[i] = UINT32_MAX;
    }
    for (uint32_t o = 0; o < N_OPPS; o++) {
        attr_opp *op = &w->opps[o];
        int64_t t0 = base + (int64_t)below(400) * (DAY / 4);
        op->lead_created_ms = below(4) ? t0 - (int64_t)below(30) * DAY : 0;
        op->created_ms = below(5) ? t0 : 0;
        if (below(3)) {
            op->close_ms = t0 + (int64_t)below(60) * DAY + below(DAY);
            op->won = below(2);
        }
        switch (below(6)) {
        case 0:
            op->amount_minor = 0;
            break;
        case 1:
            op->amount_minor = -(int64_t)below(1000000);
            break;
        case 2:
            op->amount_minor = (int64_t)(next() >> 24); /* beyond 32 bits */
            break;
        default:
            op->amount_minor = below(10000000);
        }
        for (int s = 0; s < ATTR_MAX_STAGES; s++)
            w->stage[o * ATTR_MAX_STAGES + s] = below(2) ? t0 + (int64_t)below(20) * DAY : 0;
        w->opp_account[o] = below(N_ACCOUNTS);
    }
    attr_error err = {{0}};
    assert_int_equal(attr_journeys_by_account(w->touches, w->touch_account, N_TOUCHES, w->opps,
                                              w->opp_account, N_OPPS, N_ACCOUNTS, &w->journey,
                                              &w->n_journey, &err),
                     0);
    w->ds = (attr_dataset){.touches = w->touches,
                           .n_touches = N_TOUCHES,
                           .dims = w->dims,
                           .n_dims = N_DIMS,
                           .n_channels = 5,
                           .opps = w->opps,
                           .n_opps = N_OPPS,
                           .journey = w->journey,
                           .n_journey = w->n_journey,
                           .stage_ms = w->stage};
    assert_int_equal(attr_dataset_check(&w->ds, &err), 0);
    return w;
}

static void free_world(world *w)
{
    free(w->journey);
    free(w);
}

static void check_result(const world *w, const attr_result *r)
{
    const attr_dataset *ds = &w->ds;
    for (size_t o = 0; o < ds->n_opps; o++) {
        const attr_opp *op = &ds->opps[o];
        int64_t cut = op->close_ms ? attr_close_cutoff(op->close_ms) : INT64_MAX;
        uint64_t ppm = 0;
        int64_t rev = 0;
        int ft = 0;
        for (uint32_t k = 0; k < op->count; k++) {
            size_t e = op->first + k;
            const attr_touch *t = &ds->touches[ds->journey[e]];
            if (t->at_ms > cut) {
                assert_true(k >= r->n_in[o]);
                assert_int_equal(r->ppm[e], 0);
                assert_true(r->revenue[e] == 0);
                assert_int_equal(r->positions[e], 0);
                continue;
            }
            assert_true(k < r->n_in[o]);
            assert_true(r->ppm[e] <= 1000000);
            assert_true(op->amount_minor >= 0 ? r->revenue[e] >= 0 : r->revenue[e] <= 0);
            ppm += r->ppm[e];
            rev += r->revenue[e];
            ft += (r->positions[e] & ATTR_POS_FT) != 0;
        }
        if (r->n_in[o] == 0) {
            assert_int_equal(ppm, 0);
            continue;
        }
        assert_int_equal(ft, 1);
        if (ppm != 1000000)
            fail_msg("opportunity %zu: weights sum to %llu ppm", o, (unsigned long long)ppm);
        if (rev != op->amount_minor)
            fail_msg("opportunity %zu: revenue %lld != amount %lld", o, (long long)rev,
                     (long long)op->amount_minor);
    }
}

static void same_result(const attr_result *a, const attr_result *b)
{
    assert_int_equal(a->n_journey, b->n_journey);
    assert_memory_equal(a->ppm, b->ppm, a->n_journey * sizeof *a->ppm);
    assert_memory_equal(a->revenue, b->revenue, a->n_journey * sizeof *a->revenue);
    assert_memory_equal(a->positions, b->positions, a->n_journey * sizeof *a->positions);
    assert_memory_equal(a->n_in, b->n_in, a->n_opps * sizeof *a->n_in);
}

static void every_model_sums_exactly_and_is_deterministic(void **state)
{
    world *w = make_world();
    attr_markov *mk = NULL;
    attr_error err = {{0}};
    assert_int_equal(attr_markov_train(&w->ds, &mk, &err), 0);
    assert_true(attr_markov_journeys(mk) > 100);
    attr_model models[] = {
        {.kind = ATTR_MODEL_FIRST_TOUCH},
        {.kind = ATTR_MODEL_LEAD_CREATION},
        {.kind = ATTR_MODEL_U_SHAPED},
        {.kind = ATTR_MODEL_W_SHAPED},
        {.kind = ATTR_MODEL_FULL_PATH},
        {.kind = ATTR_MODEL_CUSTOM,
         .custom = {.ft_bp = 2000,
                    .lc_bp = 1500,
                    .oc_bp = 1500,
                    .cw_bp = 1000,
                    .middle_bp = 1000,
                    .n_stages = 6,
                    .stage_bp = {500, 500, 500, 500, 500, 500}}},
        {.kind = ATTR_MODEL_CUSTOM, .custom = {.lc_bp = 7000, .middle_bp = 3000}},
        {.kind = ATTR_MODEL_LINEAR},
        {.kind = ATTR_MODEL_TIME_DECAY, .half_life_days = 3.5},
        {.kind = ATTR_MODEL_TIME_DECAY, .half_life_days = 0.01},
        {.kind = ATTR_MODEL_DATA_DRIVEN, .markov = mk},
    };
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        attr_result a, b, c;
        assert_int_equal(attr_run(&w->ds, &models[i], &a, &err), 0);
        check_result(w, &a);
        assert_int_equal(attr_run(&w->ds, &models[i], &b, &err), 0);
        same_result(&a, &b);
        /* two ranges with their own work space, as two threads would */
        assert_int_equal(attr_result_alloc(&c, &w->ds, &err), 0);
        attr_work w1 = {0}, w2 = {0};
        assert_int_equal(attr_run_range(&w->ds, &models[i], 0, N_OPPS / 3, &c, &w1, &err), 0);
        assert_int_equal(attr_run_range(&w->ds, &models[i], N_OPPS / 3, N_OPPS, &c, &w2, &err), 0);
        same_result(&a, &c);
        attr_work_free(&w1);
        attr_work_free(&w2);

        /* report totals are the attributed revenue of the credited touches */
        attr_report rep;
        assert_int_equal(attr_report_build(&w->ds, &a, ATTR_GROUP_CHANNEL, 0, 0, &rep, &err), 0);
        int64_t want = 0;
        uint64_t touches = 0;
        for (size_t e = 0; e < a.n_journey; e++)
            if (a.ppm[e]) {
                want += a.revenue[e];
                touches++;
            }
        int64_t rows = 0;
        for (size_t k = 0; k < rep.n_rows; k++)
            rows += rep.rows[k].revenue_minor;
        assert_true(rep.total_revenue_minor == want && rows == want);
        assert_int_equal(rep.total_touches, touches);
        attr_report_free(&rep);

        attr_result_free(&a);
        attr_result_free(&b);
        attr_result_free(&c);
    }
    attr_markov_free(mk);
    free_world(w);
}

static void journeys_follow_accounts(void **state)
{
    /* touches: 0,1 account 0; 2 account 1; 3 no account. opps: A0, A1, A0, A2. */
    attr_touch t[4] = {{.at_ms = 30, .tie = 0},
                       {.at_ms = 10, .tie = 1},
                       {.at_ms = 20, .tie = 2},
                       {.at_ms = 5, .tie = 3}};
    uint32_t ta[4] = {0, 0, 1, UINT32_MAX};
    attr_opp o[4] = {{0}};
    uint32_t oa[4] = {0, 1, 0, 2};
    uint32_t *j = NULL;
    size_t nj = 0;
    assert_int_equal(attr_journeys_by_account(t, ta, 4, o, oa, 4, 3, &j, &nj, NULL), 0);
    assert_int_equal(nj, 5);
    /* opp 0: account 0's touches in time order: 1 (t=10) then 0 (t=30) */
    assert_int_equal(o[0].count, 2);
    assert_int_equal(j[o[0].first], 1);
    assert_int_equal(j[o[0].first + 1], 0);
    assert_int_equal(o[1].count, 1);
    assert_int_equal(j[o[1].first], 2);
    assert_int_equal(o[2].count, 2); /* shares account 0's touches */
    assert_int_equal(j[o[2].first], 1);
    assert_int_equal(o[3].count, 0); /* account 2 has none */
    free(j);
}

static void invalid_datasets_are_named(void **state)
{
    attr_touch t[2] = {{.at_ms = 10, .tie = 0, .dim = 0}, {.at_ms = 10, .tie = 1, .dim = 0}};
    attr_dim d[1] = {{0, 0, 0}};
    uint32_t j[2] = {1, 0}; /* same instant, tie 1 before tie 0: wrong order */
    attr_opp o[1] = {{.first = 0, .count = 2}};
    attr_dataset ds = {.touches = t,
                       .n_touches = 2,
                       .dims = d,
                       .n_dims = 1,
                       .n_channels = 1,
                       .opps = o,
                       .n_opps = 1,
                       .journey = j,
                       .n_journey = 2};
    attr_error err = {{0}};
    assert_int_equal(attr_dataset_check(&ds, &err), -1);
    assert_non_null(strstr(err.msg, "not ordered"));
    j[0] = 0, j[1] = 1;
    assert_int_equal(attr_dataset_check(&ds, &err), 0);
    j[1] = 7;
    assert_int_equal(attr_dataset_check(&ds, &err), -1);
    assert_non_null(strstr(err.msg, "is touch 7 of 2"));
    j[1] = 1;
    o[0].count = 3;
    assert_int_equal(attr_dataset_check(&ds, &err), -1);
    assert_non_null(strstr(err.msg, "exceeds 2 entries"));
    o[0].count = 2;
    o[0].won = 1;
    assert_int_equal(attr_dataset_check(&ds, &err), -1);
    assert_non_null(strstr(err.msg, "won but has no close date"));
    o[0].won = 0;
    t[1].dim = 3;
    assert_int_equal(attr_dataset_check(&ds, &err), -1);
    assert_non_null(strstr(err.msg, "touch 1 has dim 3"));
    t[1].dim = 0;
    d[0].channel = 1;
    assert_int_equal(attr_dataset_check(&ds, &err), -1);
    assert_non_null(strstr(err.msg, "only 1 channels"));
    d[0].channel = 0;
    o[0].amount_minor = INT64_MIN;
    assert_int_equal(attr_dataset_check(&ds, &err), -1);
    assert_non_null(strstr(err.msg, "amount out of range"));
}

static void markov_refuses_too_many_channels(void **state)
{
    enum { N = ATTR_MARKOV_MAX_CHANNELS + 1 };
    static attr_touch t[N];
    static attr_dim d[N];
    static uint32_t j[N];
    for (uint32_t i = 0; i < N; i++) {
        t[i] = (attr_touch){.at_ms = 1000 + i, .tie = i, .dim = i};
        d[i] = (attr_dim){i, i, i};
        j[i] = i;
    }
    attr_opp o = {.close_ms = 1000, .won = 1, .count = N};
    attr_dataset ds = {.touches = t,
                       .n_touches = N,
                       .dims = d,
                       .n_dims = N,
                       .n_channels = N,
                       .opps = &o,
                       .n_opps = 1,
                       .journey = j,
                       .n_journey = N};
    attr_markov *mk = (attr_markov *)1;
    attr_error err = {{0}};
    assert_int_equal(attr_markov_train(&ds, &mk, &err), -1);
    assert_null(mk);
    assert_non_null(strstr(err.msg, "at most 128 channels"));
    /* the same journey while still open is not training data: no error */
    o.close_ms = 0;
    o.won = 0;
    assert_int_equal(attr_markov_train(&ds, &mk, &err), 0);
    assert_int_equal(attr_markov_journeys(mk), 0);
    assert_true(attr_markov_conversion(mk) == 0.0);
    attr_markov_free(mk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_model_sums_exactly_and_is_deterministic),
        cmocka_unit_test(journeys_follow_accounts),
        cmocka_unit_test(invalid_datasets_are_named),
        cmocka_unit_test(markov_refuses_too_many_channels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
