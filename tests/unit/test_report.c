/*
 * A4 reports on a hand-worked dataset: revenue, credited touch counts and
 * distinct opportunities per channel / subchannel / campaign, the date range
 * [from, to), ordering of rows, and the errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"

#define DAY 86400000LL

/* dims: d0 = (channel 0, sub 0, campaign 0), d1 = (0, 1, 1), d2 = (1, 2, 2).
 * Opp 0 (300.00... as 300 minor units): t0 d0 day 1, t1 d1 day 2, t2 d2 day 3.
 * Opp 1 (1000): t3 d2 day 2, t4 d0 day 10. */
static const attr_touch T[5] = {{.at_ms = 1 * DAY, .tie = 0, .dim = 0},
                                {.at_ms = 2 * DAY, .tie = 1, .dim = 1},
                                {.at_ms = 3 * DAY, .tie = 2, .dim = 2},
                                {.at_ms = 2 * DAY, .tie = 3, .dim = 2},
                                {.at_ms = 10 * DAY, .tie = 4, .dim = 0}};
static const attr_dim D[3] = {{0, 0, 0}, {0, 1, 1}, {1, 2, 2}};
static const attr_opp O[2] = {{.amount_minor = 300, .first = 0, .count = 3},
                              {.amount_minor = 1000, .first = 3, .count = 2}};
static const uint32_t J[5] = {0, 1, 2, 3, 4};

static attr_dataset dataset(void)
{
    return (attr_dataset){.touches = T,
                          .n_touches = 5,
                          .dims = D,
                          .n_dims = 3,
                          .n_channels = 2,
                          .opps = O,
                          .n_opps = 2,
                          .journey = J,
                          .n_journey = 5};
}

static void expect_row(const attr_report_row *r, uint32_t key, int64_t rev, uint64_t touches,
                       uint64_t opps)
{
    assert_int_equal(r->key, key);
    assert_true(r->revenue_minor == rev);
    assert_int_equal(r->touches, touches);
    assert_int_equal(r->opportunities, opps);
}

static void linear_by_channel_subchannel_and_range(void **state)
{
    attr_dataset ds = dataset();
    attr_model m = {.kind = ATTR_MODEL_LINEAR};
    attr_result r;
    attr_error err = {{0}};
    assert_int_equal(attr_run(&ds, &m, &r, &err), 0);
    /* Linear: opp 0 -> 100 per touch, opp 1 -> 500 per touch. */
    attr_report rep;
    assert_int_equal(attr_report_build(&ds, &r, ATTR_GROUP_CHANNEL, 0, 0, &rep, &err), 0);
    /* channel 0: t0 100 + t1 100 + t4 500 = 700 (3 touches, 2 opps);
     * channel 1: t2 100 + t3 500 = 600 (2 touches, 2 opps) */
    assert_int_equal(rep.n_rows, 2);
    expect_row(&rep.rows[0], 0, 700, 3, 2);
    expect_row(&rep.rows[1], 1, 600, 2, 2);
    assert_true(rep.total_revenue_minor == 1300);
    assert_int_equal(rep.total_touches, 5);
    attr_report_free(&rep);

    /* [day 2, day 10): t1 (ch 0, 100), t2 (ch 1, 100), t3 (ch 1, 500). */
    assert_int_equal(attr_report_build(&ds, &r, ATTR_GROUP_CHANNEL, 2 * DAY, 10 * DAY, &rep, &err),
                     0);
    assert_int_equal(rep.n_rows, 2);
    expect_row(&rep.rows[0], 1, 600, 2, 2);
    expect_row(&rep.rows[1], 0, 100, 1, 1);
    assert_true(rep.total_revenue_minor == 700);
    attr_report_free(&rep);

    /* subchannel: sub 0 = t0 + t4 = 600, sub 2 = t2 + t3 = 600, sub 1 = 100;
     * equal revenue and touches order by key. */
    assert_int_equal(attr_report_build(&ds, &r, ATTR_GROUP_SUBCHANNEL, 0, 0, &rep, &err), 0);
    assert_int_equal(rep.n_rows, 3);
    expect_row(&rep.rows[0], 0, 600, 2, 2);
    expect_row(&rep.rows[1], 2, 600, 2, 2);
    expect_row(&rep.rows[2], 1, 100, 1, 1);
    attr_report_free(&rep);
    attr_result_free(&r);
}

static void uncredited_touches_do_not_count(void **state)
{
    attr_dataset ds = dataset();
    attr_model m = {.kind = ATTR_MODEL_FIRST_TOUCH};
    attr_result r;
    attr_error err = {{0}};
    assert_int_equal(attr_run(&ds, &m, &r, &err), 0);
    /* FT: opp 0 -> t0 (campaign 0) 300, opp 1 -> t3 (campaign 2) 1000;
     * campaign 1 got no credit and has no row. */
    attr_report rep;
    assert_int_equal(attr_report_build(&ds, &r, ATTR_GROUP_CAMPAIGN, 0, 0, &rep, &err), 0);
    assert_int_equal(rep.n_rows, 2);
    expect_row(&rep.rows[0], 2, 1000, 1, 1);
    expect_row(&rep.rows[1], 0, 300, 1, 1);
    assert_int_equal(rep.total_touches, 2);
    attr_report_free(&rep);
    attr_result_free(&r);
}

static void report_errors(void **state)
{
    attr_dataset ds = dataset();
    attr_model m = {.kind = ATTR_MODEL_LINEAR};
    attr_result r;
    attr_error err = {{0}};
    assert_int_equal(attr_run(&ds, &m, &r, &err), 0);
    attr_report rep;
    assert_int_equal(attr_report_build(&ds, &r, ATTR_GROUP_CHANNEL, 5 * DAY, 5 * DAY, &rep, &err),
                     -1);
    assert_non_null(strstr(err.msg, "report range is empty"));
    attr_dataset other = ds;
    other.n_opps = 1;
    assert_int_equal(attr_report_build(&other, &r, ATTR_GROUP_CHANNEL, 0, 0, &rep, &err), -1);
    assert_string_equal(err.msg, "attribution result does not belong to this dataset");
    assert_null(rep.rows);
    attr_result_free(&r);

    attr_group_by g;
    assert_int_equal(attr_group_by_parse("subchannel", &g, &err), 0);
    assert_int_equal(g, ATTR_GROUP_SUBCHANNEL);
    assert_int_equal(attr_group_by_parse("campaign", &g, &err), 0);
    assert_int_equal(g, ATTR_GROUP_CAMPAIGN);
    assert_int_equal(attr_group_by_parse("Channel", &g, &err), -1);
    assert_string_equal(err.msg, "group_by \"Channel\" is not channel, subchannel or campaign");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linear_by_channel_subchannel_and_range),
        cmocka_unit_test(uncredited_touches_do_not_count),
        cmocka_unit_test(report_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
