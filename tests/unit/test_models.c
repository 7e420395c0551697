/*
 * Golden tests of positions (A1), every model (A2) and revenue (A3) on
 * hand-worked journeys. Each expected number is written out with its
 * arithmetic; weights are ppm (1,000,000 = 100%).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "attribute.h"
#include "markov.h"
#include "positions.h"

#define DAY 86400000LL
#define HOUR 3600000LL

enum { WEB = 0, FORM = 1 };

/* A small dataset builder: dim c = channel c = subchannel c = campaign c. */
typedef struct tb {
    attr_touch t[32];
    attr_dim d[4];
    attr_opp o[8];
    uint32_t j[64];
    int64_t stage[8 * ATTR_MAX_STAGES];
    size_t nt, no, nj;
    int with_stages;
} tb;

static void tb_init(tb *b)
{
    memset(b, 0, sizeof *b);
    for (uint32_t c = 0; c < 4; c++)
        b->d[c] = (attr_dim){c, c, c};
}

/* Adds a touch; tie = its index, so equal times keep insertion order unless
 * a test sets tie itself. */
static uint32_t tb_touch(tb *b, int64_t at, int form, uint32_t ch)
{
    uint32_t i = (uint32_t)b->nt++;
    b->t[i] = (attr_touch){.at_ms = at, .tie = i, .dim = ch, .flags = form ? ATTR_TOUCH_FORM : 0};
    return i;
}

/* Opens an opportunity over touches [from, to) of the builder. */
static attr_opp *tb_opp(tb *b, uint32_t from, uint32_t to)
{
    attr_opp *o = &b->o[b->no++];
    memset(o, 0, sizeof *o);
    o->first = (uint32_t)b->nj;
    for (uint32_t i = from; i < to; i++)
        b->j[b->nj++] = i;
    o->count = to - from;
    attr_journey_sort(b->t, b->j + o->first, o->count);
    return o;
}

static attr_dataset tb_ds(tb *b)
{
    return (attr_dataset){.touches = b->t,
                          .n_touches = b->nt,
                          .dims = b->d,
                          .n_dims = 4,
                          .n_channels = 4,
                          .opps = b->o,
                          .n_opps = b->no,
                          .journey = b->j,
                          .n_journey = b->nj,
                          .stage_ms = b->with_stages ? b->stage : NULL};
}

static attr_result run(const attr_dataset *ds, attr_model m)
{
    attr_result r;
    attr_error err = {{0}};
    int rc = attr_run(ds, &m, &r, &err);
    if (rc != 0)
        fail_msg("attr_run: %s", err.msg);
    return r;
}

static void expect_ppm(const attr_result *r, const attr_opp *o, const uint32_t *want)
{
    for (uint32_t k = 0; k < o->count; k++)
        if (r->ppm[o->first + k] != want[k])
            fail_msg("touch %u: ppm %u, expected %u", k, r->ppm[o->first + k], want[k]);
}

static attr_model model(attr_model_kind k)
{
    return (attr_model){.kind = k};
}

/*
 * Journey A, five touches:
 *   t0 day 1 web    FT
 *   t1 day 2 form
 *   t2 day 3 form   LC  (lead created day 4: last form at or before it)
 *   t3 day 4 web    OC  (opportunity created day 4 + 1h)
 *   t4 day 5 form   CW  (won, closed day 6)
 */
static attr_opp *journey_a(tb *b)
{
    tb_init(b);
    tb_touch(b, 1 * DAY, WEB, 0);
    tb_touch(b, 2 * DAY, FORM, 1);
    tb_touch(b, 3 * DAY, FORM, 0);
    tb_touch(b, 4 * DAY, WEB, 2);
    tb_touch(b, 5 * DAY, FORM, 1);
    attr_opp *o = tb_opp(b, 0, 5);
    o->lead_created_ms = 4 * DAY;
    o->created_ms = 4 * DAY + HOUR;
    o->close_ms = 6 * DAY;
    o->won = 1;
    o->amount_minor = 100000;
    return o;
}

static void positions_of_journey_a(void **state)
{
    tb b;
    attr_opp *o = journey_a(&b);
    attr_dataset ds = tb_ds(&b);
    attr_slots s;
    attr_positions_find(&ds, 0, &s);
    assert_int_equal(s.n_in, 5);
    assert_int_equal(s.ft, 0);
    assert_int_equal(s.lc, 2);
    assert_int_equal(s.oc, 3);
    assert_int_equal(s.cw, 4);
    /* "at or before" is inclusive: a touch at the very instant counts */
    o->created_ms = 4 * DAY;      /* t3's instant */
    o->lead_created_ms = 3 * DAY; /* t2's instant */
    attr_positions_find(&ds, 0, &s);
    assert_int_equal(s.oc, 3);
    assert_int_equal(s.lc, 2);
    o->created_ms = 4 * DAY - 1;
    o->lead_created_ms = 3 * DAY - 1;
    attr_positions_find(&ds, 0, &s);
    assert_int_equal(s.oc, 2);
    assert_int_equal(s.lc, 1);
    o->created_ms = 4 * DAY + HOUR;
    o->lead_created_ms = 4 * DAY;
    /* the close day lasts until 23:59:59.999 UTC: closed on day 5 (any time
     * of it) keeps t4 (day 5 00:00); closed on day 4 drops it */
    o->close_ms = 5 * DAY + 13 * HOUR;
    attr_positions_find(&ds, 0, &s);
    assert_int_equal(s.n_in, 5);
    assert_int_equal(s.cw, 4);
    o->close_ms = 5 * DAY - 1;
    attr_positions_find(&ds, 0, &s);
    assert_int_equal(s.n_in, 4);
    assert_int_equal(s.cw, 3);
    assert_true(attr_close_cutoff(5 * DAY + 13 * HOUR) == 6 * DAY - 1);
    assert_true(attr_close_cutoff(-1) == -1); /* 1969-12-31 ends at -1 ms */
    o->close_ms = 6 * DAY;
    /* lost: cut the same way, but no CW */
    o->won = 0;
    attr_positions_find(&ds, 0, &s);
    assert_int_equal(s.n_in, 5);
    assert_int_equal(s.cw, ATTR_SLOT_NONE);
    /* no lead creation time: LC is the first form touch (t1) */
    o->lead_created_ms = 0;
    attr_positions_find(&ds, 0, &s);
    assert_int_equal(s.lc, 1);
    /* lead created before any form touch: no LC */
    o->lead_created_ms = 1 * DAY + HOUR;
    attr_positions_find(&ds, 0, &s);
    assert_int_equal(s.lc, ATTR_SLOT_NONE);
    /* opportunity created before every touch: no OC */
    o->created_ms = DAY / 2;
    attr_positions_find(&ds, 0, &s);
    assert_int_equal(s.oc, ATTR_SLOT_NONE);
}

static void rule_models_on_journey_a(void **state)
{
    tb b;
    attr_opp *o = journey_a(&b);
    attr_dataset ds = tb_ds(&b);

    attr_result r = run(&ds, model(ATTR_MODEL_FIRST_TOUCH));
    expect_ppm(&r, o, (uint32_t[]){1000000, 0, 0, 0, 0});
    assert_int_equal(r.positions[0], ATTR_POS_FT);
    assert_int_equal(r.positions[1], 0);
    assert_int_equal(r.positions[2], ATTR_POS_LC);
    assert_int_equal(r.positions[3], ATTR_POS_OC);
    assert_int_equal(r.positions[4], ATTR_POS_CW);
    attr_result_free(&r);

    r = run(&ds, model(ATTR_MODEL_LEAD_CREATION));
    expect_ppm(&r, o, (uint32_t[]){0, 0, 1000000, 0, 0});
    attr_result_free(&r);

    /* U: FT t0 40%, LC t2 40%, form touches strictly between: t1 -> 20%;
     * t3 (after LC, and not a form) and t4 (after LC) get nothing. */
    r = run(&ds, model(ATTR_MODEL_U_SHAPED));
    expect_ppm(&r, o, (uint32_t[]){400000, 200000, 400000, 0, 0});
    attr_result_free(&r);

    /* W: FT t0, LC t2, OC t3 30% each; others t1, t4 share 10% -> 5% each. */
    r = run(&ds, model(ATTR_MODEL_W_SHAPED));
    expect_ppm(&r, o, (uint32_t[]){300000, 50000, 300000, 300000, 50000});
    /* revenue 1000.00: 300.00 / 50.00 / 300.00 / 300.00 / 50.00 */
    assert_true(r.revenue[0] == 30000 && r.revenue[1] == 5000 && r.revenue[2] == 30000 &&
                r.revenue[3] == 30000 && r.revenue[4] == 5000);
    attr_result_free(&r);

    /* Full Path: FT, LC, OC, CW 22.5% each; the only other touch t1 10%. */
    r = run(&ds, model(ATTR_MODEL_FULL_PATH));
    expect_ppm(&r, o, (uint32_t[]){225000, 100000, 225000, 225000, 225000});
    attr_result_free(&r);

    /* Linear: 5 touches, 20% each. */
    r = run(&ds, model(ATTR_MODEL_LINEAR));
    expect_ppm(&r, o, (uint32_t[]){200000, 200000, 200000, 200000, 200000});
    attr_result_free(&r);
}

static void time_decay_on_journey_a(void **state)
{
    tb b;
    attr_opp *o = journey_a(&b);
    attr_dataset ds = tb_ds(&b);
    /* Half-life 1 day, ages from the last touch 4,3,2,1,0 days: weights
     * 1/16, 1/8, 1/4, 1/2, 1 (sum 31/16) -> 1/31, 2/31, 4/31, 8/31, 16/31 =
     * 32258.06, 64516.13, 129032.26, 258064.52, 516129.03 ppm. Floors sum to
     * 999999; the largest remainder (.52, t3) takes the last ppm. */
    attr_model m = {.kind = ATTR_MODEL_TIME_DECAY, .half_life_days = 1.0};
    attr_result r = run(&ds, m);
    expect_ppm(&r, o, (uint32_t[]){32258, 64516, 129032, 258065, 516129});
    attr_result_free(&r);
    /* Default half-life 7 days: only the ratios 2^(-1/7) per day matter; the
     * last touch weighs the most and the total is exact. */
    m.half_life_days = 0;
    r = run(&ds, m);
    uint64_t sum = 0;
    for (int k = 0; k < 5; k++) {
        sum += r.ppm[k];
        if (k)
            assert_true(r.ppm[k] > r.ppm[k - 1]);
    }
    assert_int_equal(sum, 1000000);
    attr_result_free(&r);
}

static void custom_model_with_stages(void **state)
{
    tb b;
    attr_opp *o = journey_a(&b);
    b.with_stages = 1;
    b.stage[0] = 3 * DAY + HOUR; /* stage 0 reached day 3 + 1h: last touch t2 */
    b.stage[1] = 0;              /* stage 1 not reached: missing */
    attr_dataset ds = tb_ds(&b);
    /* FT 30%, LC 20%, OC 20%, CW 0 (not a position of this model), stage0
     * 10%, stage1 10%, middle 10%. Present: FT t0, LC t2, OC t3, stage0 t2
     * (P = 4); stage1's 10% spreads +2.5% each. Middle: t1 and t4 (t4 holds
     * only CW, which this model does not weigh) -> 5% each.
     *   t0 = 30 + 2.5               = 32.5%
     *   t2 = (20 + 2.5) + (10 + 2.5) = 35%
     *   t3 = 20 + 2.5               = 22.5%  */
    attr_model m = {.kind = ATTR_MODEL_CUSTOM,
                    .custom = {.ft_bp = 3000,
                               .lc_bp = 2000,
                               .oc_bp = 2000,
                               .cw_bp = 0,
                               .middle_bp = 1000,
                               .n_stages = 2,
                               .stage_bp = {1000, 1000}}};
    attr_result r = run(&ds, m);
    expect_ppm(&r, o, (uint32_t[]){325000, 50000, 350000, 225000, 50000});
    assert_int_equal(r.positions[2], ATTR_POS_LC | ATTR_POS_STAGE(0));
    attr_result_free(&r);
}

/* Journey B, one touch holding several positions:
 *   t0 day 1 form  FT + LC (lead created day 1 + 1h)
 *   t1 day 2 web
 *   t2 day 3 web   OC (created day 3 + 1h) + CW (won, closed day 3) */
static void touch_with_several_positions(void **state)
{
    tb b;
    tb_init(&b);
    tb_touch(&b, 1 * DAY, FORM, 0);
    tb_touch(&b, 2 * DAY, WEB, 1);
    tb_touch(&b, 3 * DAY, WEB, 2);
    attr_opp *o = tb_opp(&b, 0, 3);
    o->lead_created_ms = DAY + HOUR;
    o->created_ms = 3 * DAY + HOUR;
    o->close_ms = 3 * DAY;
    o->won = 1;
    attr_dataset ds = tb_ds(&b);

    /* W: t0 = FT 30 + LC 30 = 60%, t2 = OC 30%, other t1 = 10%. */
    attr_result r = run(&ds, model(ATTR_MODEL_W_SHAPED));
    expect_ppm(&r, o, (uint32_t[]){600000, 100000, 300000});
    assert_int_equal(r.positions[0], ATTR_POS_FT | ATTR_POS_LC);
    assert_int_equal(r.positions[2], ATTR_POS_OC | ATTR_POS_CW);
    attr_result_free(&r);
    /* Full Path: t0 = 22.5 + 22.5 = 45%, t2 = 45%, t1 = 10%. */
    r = run(&ds, model(ATTR_MODEL_FULL_PATH));
    expect_ppm(&r, o, (uint32_t[]){450000, 100000, 450000});
    attr_result_free(&r);
    /* U: FT = LC -> 100% (40 + 40, and the 20% of no middle touch). */
    r = run(&ds, model(ATTR_MODEL_U_SHAPED));
    expect_ppm(&r, o, (uint32_t[]){1000000, 0, 0});
    attr_result_free(&r);
}

/* Journey C, no middle touches:
 *   t0 day 1 web   FT
 *   t1 day 2 form  LC (lead day 2 + 1h) + OC (created day 2 + 2h); open */
static void no_middle_touches(void **state)
{
    tb b;
    tb_init(&b);
    tb_touch(&b, 1 * DAY, WEB, 0);
    tb_touch(&b, 2 * DAY, FORM, 1);
    attr_opp *o = tb_opp(&b, 0, 2);
    o->lead_created_ms = 2 * DAY + HOUR;
    o->created_ms = 2 * DAY + 2 * HOUR;
    o->amount_minor = 10001;
    attr_dataset ds = tb_ds(&b);

    /* U: no form touch between FT and LC -> FT 50% / LC 50%.
     * Revenue 100.01: 50.005 each -> 5000 + 5000 + 1 left, equal
     * remainders: the earlier touch takes it. */
    attr_result r = run(&ds, model(ATTR_MODEL_U_SHAPED));
    expect_ppm(&r, o, (uint32_t[]){500000, 500000});
    assert_true(r.revenue[0] == 5001 && r.revenue[1] == 5000);
    attr_result_free(&r);
    /* W: FT t0 30, LC t1 30, OC t1 30; the 10% middle has nobody and goes
     * 3.33% to each position: t0 = 33.33..%, t1 = 66.66..%. Floors 333333 +
     * 666666 = 999999; the larger remainder (.67, t1) takes the last ppm. */
    r = run(&ds, model(ATTR_MODEL_W_SHAPED));
    expect_ppm(&r, o, (uint32_t[]){333333, 666667});
    attr_result_free(&r);
    /* Full Path, open (CW missing): 22.5% spreads 7.5% over FT, LC, OC ->
     * 30% each; the 10% middle spreads 3.33% each: same as W. */
    r = run(&ds, model(ATTR_MODEL_FULL_PATH));
    expect_ppm(&r, o, (uint32_t[]){333333, 666667});
    attr_result_free(&r);
    /* Custom FT 40, LC 30, OC 20, middle 10 -> +3.33 each:
     * t0 = 43.33% (433333.3), t1 = 56.67% (566666.7) -> 433333 / 566667. */
    attr_model m = {.kind = ATTR_MODEL_CUSTOM,
                    .custom = {.ft_bp = 4000, .lc_bp = 3000, .oc_bp = 2000, .middle_bp = 1000}};
    r = run(&ds, m);
    expect_ppm(&r, o, (uint32_t[]){433333, 566667});
    attr_result_free(&r);
}

/* Journey D, no opportunity yet (no creation, open): OC and CW missing.
 *   t0 day 1 form  FT + LC (no lead creation time: first form touch)
 *   t1 day 2 web, t2 day 3 web */
static void missing_positions_spread(void **state)
{
    tb b;
    tb_init(&b);
    tb_touch(&b, 1 * DAY, FORM, 0);
    tb_touch(&b, 2 * DAY, WEB, 1);
    tb_touch(&b, 3 * DAY, WEB, 2);
    attr_opp *o = tb_opp(&b, 0, 3);
    attr_dataset ds = tb_ds(&b);
    /* W: OC's 30% -> 15% to FT and to LC: t0 = 45 + 45 = 90%; t1, t2 5%. */
    attr_result r = run(&ds, model(ATTR_MODEL_W_SHAPED));
    expect_ppm(&r, o, (uint32_t[]){900000, 50000, 50000});
    assert_int_equal(r.positions[0], ATTR_POS_FT | ATTR_POS_LC);
    assert_int_equal(r.positions[1] | r.positions[2], 0);
    attr_result_free(&r);
    /* Full Path: OC + CW = 45% -> 22.5% to FT and LC: t0 = 90%. */
    r = run(&ds, model(ATTR_MODEL_FULL_PATH));
    expect_ppm(&r, o, (uint32_t[]){900000, 50000, 50000});
    attr_result_free(&r);

    /* No form touch at all: Lead Creation has no position present, so the
     * first touch takes 100%; U-Shaped: LC's 40% and the middle 20% go to
     * FT. */
    b.t[0].flags = 0;
    r = run(&ds, model(ATTR_MODEL_LEAD_CREATION));
    expect_ppm(&r, o, (uint32_t[]){1000000, 0, 0});
    attr_result_free(&r);
    r = run(&ds, model(ATTR_MODEL_U_SHAPED));
    expect_ppm(&r, o, (uint32_t[]){1000000, 0, 0});
    attr_result_free(&r);
}

/* Journey E, touches after the close:
 *   t0 day 1 form  FT, LC, OC (created day 2)
 *   t1 day 3 + 20h web: counts, the close date (day 3 00:00) lasts all day: CW
 *   t2 day 4 web: after the close, ignored */
static void touches_after_close_are_ignored(void **state)
{
    tb b;
    tb_init(&b);
    tb_touch(&b, 1 * DAY, FORM, 0);
    tb_touch(&b, 3 * DAY + 20 * HOUR, WEB, 1);
    tb_touch(&b, 4 * DAY, WEB, 2);
    attr_opp *o = tb_opp(&b, 0, 3);
    o->created_ms = 2 * DAY;
    o->close_ms = 3 * DAY;
    o->won = 1;
    o->amount_minor = 999;
    attr_dataset ds = tb_ds(&b);
    /* Linear over the 2 counted touches. */
    attr_result r = run(&ds, model(ATTR_MODEL_LINEAR));
    expect_ppm(&r, o, (uint32_t[]){500000, 500000, 0});
    assert_int_equal(r.n_in[0], 2);
    /* 9.99 -> 4.995 each: 500 + 499 (tie to the earlier touch), 0 after close */
    assert_true(r.revenue[0] == 500 && r.revenue[1] == 499 && r.revenue[2] == 0);
    assert_int_equal(r.positions[1], ATTR_POS_CW);
    assert_int_equal(r.positions[2], 0);
    attr_result_free(&r);
    /* Full Path: t0 = FT + LC + OC = 67.5%, t1 = CW 22.5%; no other touch
     * counts, so the 10% middle adds 2.5% per position: 75% / 25%. */
    r = run(&ds, model(ATTR_MODEL_FULL_PATH));
    expect_ppm(&r, o, (uint32_t[]){750000, 250000, 0});
    attr_result_free(&r);
}

/* Ties: touches at the same instant are ordered by id (the tie rank). */
static void ties_at_same_instant(void **state)
{
    tb b;
    tb_init(&b);
    uint32_t x = tb_touch(&b, DAY, FORM, 0);
    uint32_t y = tb_touch(&b, DAY, WEB, 1);
    uint32_t z = tb_touch(&b, DAY, WEB, 2);
    b.t[x].tie = 9; /* x's id sorts last */
    b.t[y].tie = 1;
    b.t[z].tie = 5;
    attr_opp *o = tb_opp(&b, 0, 3);
    assert_int_equal(b.j[0], y);
    assert_int_equal(b.j[1], z);
    assert_int_equal(b.j[2], x);
    attr_dataset ds = tb_ds(&b);
    attr_result r = run(&ds, model(ATTR_MODEL_FIRST_TOUCH));
    expect_ppm(&r, o, (uint32_t[]){1000000, 0, 0}); /* y */
    attr_result_free(&r);
    /* Linear: 333333.3 each; the leftover ppm goes to the first (y). */
    r = run(&ds, model(ATTR_MODEL_LINEAR));
    expect_ppm(&r, o, (uint32_t[]){333334, 333333, 333333});
    attr_result_free(&r);
}

/*
 * Markov: closed journeys J1 = A (won), J2 = B A (won), J3 = B (lost);
 * channel A = 0, B = 1. Transitions: start->A 1/3, start->B 2/3, A->conv 1,
 * B->A 1/2, B->null 1/2. P(conv) = 1/3 * 1 + 2/3 * (1/2 * 1) = 2/3.
 * Without A: B->A becomes null, P = 0: effect 1. Without B: P = 1/3:
 * effect 1 - (1/3)/(2/3) = 1/2. J2 = (B, A) -> shares 1/2 : 1 -> 1/3, 2/3:
 * 333333.3 / 666666.7 -> 333333 / 666667. An open opportunity on a channel
 * never seen (C = 2) has effect 0 and falls back to Linear.
 */
static void data_driven_removal_effects(void **state)
{
    tb b;
    tb_init(&b);
    tb_touch(&b, DAY, WEB, 0);     /* J1: A */
    tb_touch(&b, DAY, WEB, 1);     /* J2: B */
    tb_touch(&b, 2 * DAY, WEB, 0); /* J2: A */
    tb_touch(&b, DAY, WEB, 1);     /* J3: B */
    tb_touch(&b, DAY, WEB, 2);     /* open: C */
    tb_touch(&b, 2 * DAY, WEB, 2); /* open: C */
    attr_opp *o;
    o = tb_opp(&b, 0, 1);
    o->close_ms = 3 * DAY, o->won = 1;
    attr_opp *j2 = tb_opp(&b, 1, 3);
    j2->close_ms = 3 * DAY, j2->won = 1;
    o = tb_opp(&b, 3, 4);
    o->close_ms = 3 * DAY;
    attr_opp *open = tb_opp(&b, 4, 6);
    attr_dataset ds = tb_ds(&b);

    attr_markov *mk = NULL;
    attr_error err = {{0}};
    assert_int_equal(attr_markov_train(&ds, &mk, &err), 0);
    assert_int_equal(attr_markov_journeys(mk), 3);
    assert_true(attr_markov_conversion(mk) > 0.6666666 && attr_markov_conversion(mk) < 0.6666667);
    assert_true(attr_markov_removal_effect(mk, 0) > 0.9999999);
    assert_true(attr_markov_removal_effect(mk, 1) > 0.4999999 &&
                attr_markov_removal_effect(mk, 1) < 0.5000001);
    assert_true(attr_markov_removal_effect(mk, 2) == 0.0);
    assert_true(attr_markov_removal_effect(mk, 99) == 0.0);

    attr_model m = {.kind = ATTR_MODEL_DATA_DRIVEN, .markov = mk};
    attr_result r = run(&ds, m);
    expect_ppm(&r, j2, (uint32_t[]){333333, 666667});
    expect_ppm(&r, open, (uint32_t[]){500000, 500000});
    attr_result_free(&r);
    attr_markov_free(mk);
}

static void revenue_split_is_exact(void **state)
{
    attr_work w = {0};
    int64_t rev[3];
    /* 40/20/40% of 100.01: 4000.4, 2000.2, 4000.4 -> floors 10000, 1 left;
     * the equal largest remainders (.4) -> the earlier touch. */
    assert_int_equal(attr_revenue_split(10001, (uint32_t[]){400000, 200000, 400000}, 3, rev, &w),
                     0);
    assert_true(rev[0] == 4001 && rev[1] == 2000 && rev[2] == 4000);
    /* negative amounts (credit notes) split symmetrically */
    assert_int_equal(attr_revenue_split(-10001, (uint32_t[]){400000, 200000, 400000}, 3, rev, &w),
                     0);
    assert_true(rev[0] == -4001 && rev[1] == -2000 && rev[2] == -4000);
    /* amounts far beyond 32 bits take the 128-bit path */
    assert_int_equal(attr_revenue_split(INT64_MAX, (uint32_t[]){500000, 500000}, 2, rev, &w), 0);
    assert_true(rev[0] == INT64_MAX / 2 + 1 && rev[1] == INT64_MAX / 2);
    assert_int_equal(attr_revenue_split(0, (uint32_t[]){1000000}, 1, rev, &w), 0);
    assert_true(rev[0] == 0);
    attr_work_free(&w);
}

static void bad_models_are_rejected(void **state)
{
    attr_error err = {{0}};
    attr_model m = {.kind = ATTR_MODEL_CUSTOM, .custom = {.ft_bp = 5000, .lc_bp = 4000}};
    assert_int_equal(attr_model_check(&m, &err), -1);
    assert_non_null(strstr(err.msg, "sum to 9000 basis points"));
    m.custom.n_stages = 7;
    assert_int_equal(attr_model_check(&m, &err), -1);
    assert_non_null(strstr(err.msg, "7 stages, at most 6"));
    m = (attr_model){.kind = ATTR_MODEL_TIME_DECAY, .half_life_days = -1};
    assert_int_equal(attr_model_check(&m, &err), -1);
    m = (attr_model){.kind = ATTR_MODEL_DATA_DRIVEN};
    assert_int_equal(attr_model_check(&m, &err), -1);
    assert_non_null(strstr(err.msg, "trained"));
    m = (attr_model){.kind = (attr_model_kind)42};
    assert_int_equal(attr_model_check(&m, &err), -1);
    assert_string_equal(err.msg, "unknown attribution model 42");
    assert_string_equal(attr_model_name(ATTR_MODEL_U_SHAPED), "U-Shaped");

    /* attr_run refuses them too, leaving no result to free */
    tb b;
    journey_a(&b);
    attr_dataset ds = tb_ds(&b);
    attr_result r;
    assert_int_equal(attr_run(&ds, &m, &r, &err), -1);
    assert_null(r.ppm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(positions_of_journey_a),
        cmocka_unit_test(rule_models_on_journey_a),
        cmocka_unit_test(time_decay_on_journey_a),
        cmocka_unit_test(custom_model_with_stages),
        cmocka_unit_test(touch_with_several_positions),
        cmocka_unit_test(no_middle_touches),
        cmocka_unit_test(missing_positions_spread),
        cmocka_unit_test(touches_after_close_are_ignored),
        cmocka_unit_test(ties_at_same_instant),
        cmocka_unit_test(data_driven_removal_effects),
        cmocka_unit_test(revenue_split_is_exact),
        cmocka_unit_test(bad_models_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
