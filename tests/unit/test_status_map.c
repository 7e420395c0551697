/*
 * Status map (status_map.c): the exact comparison of C6 with a message
 * naming every missing and extra status, the plan of statuses to create in
 * Salesforce (SortOrder = step, clashes moved and explained), step order and
 * the forward-only rule of C4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "status_map.h"

static const smap_mkto_status webinar[] = {
    {"Registered", 20, false}, {"Invited", 10, false},           {"Attended", 30, true},
    {"No Show", 30, false},    {"Attended On-demand", 40, true},
};

static smap *webinar_map(void)
{
    smap *m = NULL;
    recon_err err;
    assert_int_equal(smap_create(webinar, 5, &m, &err), 0);
    return m;
}

static void test_order_and_lookup(void **state)
{
    smap *m = webinar_map();
    assert_int_equal(smap_count(m), 5);
    /* Sorted by step, ties in channel order. */
    assert_string_equal(smap_name(m, 0), "Invited");
    assert_string_equal(smap_name(m, 1), "Registered");
    assert_string_equal(smap_name(m, 2), "Attended");
    assert_string_equal(smap_name(m, 3), "No Show");
    assert_int_equal(smap_find(m, "No Show"), 3);
    assert_int_equal(smap_find(m, "no show"), -1); /* exact match only */
    assert_int_equal(smap_find(m, NULL), -1);
    assert_int_equal(smap_step(m, smap_find(m, "Attended")), 30);
    assert_true(smap_success(m, smap_find(m, "Attended")));
    assert_false(smap_success(m, smap_find(m, "No Show")));
    assert_string_equal(smap_name(m, -1), "");
    smap_free(m);
}

static void test_backward_and_marketo_rule(void **state)
{
    smap *m = webinar_map();
    int inv = smap_find(m, "Invited"), reg = smap_find(m, "Registered");
    int att = smap_find(m, "Attended"), ns = smap_find(m, "No Show");
    assert_true(smap_is_backward(m, att, reg));
    assert_true(smap_is_backward(m, reg, inv));
    assert_false(smap_is_backward(m, reg, att));
    assert_false(smap_is_backward(m, att, ns));     /* same step: not earlier... */
    assert_false(smap_marketo_accepts(m, att, ns)); /* ...but Marketo refuses it (1037) */
    assert_false(smap_marketo_accepts(m, att, att));
    assert_false(smap_marketo_accepts(m, att, reg));
    assert_true(smap_marketo_accepts(m, reg, att));
    assert_true(smap_marketo_accepts(m, -1, inv)); /* a new member takes any status */
    assert_false(smap_marketo_accepts(m, reg, -1));
    assert_int_equal(smap_higher(m, reg, att), att);
    assert_int_equal(smap_higher(m, att, ns), att); /* same step: Marketo's */
    assert_int_equal(smap_higher(m, ns, att), ns);
    assert_int_equal(smap_higher(m, -1, inv), inv);
    assert_int_equal(smap_higher(m, inv, -1), inv);
    smap_free(m);
}

static void test_create_rejects_bad_channels(void **state)
{
    smap *m = NULL;
    recon_err err;
    assert_int_equal(smap_create(webinar, 0, &m, &err), RECON_EINVAL);
    assert_null(m);
    smap_mkto_status dup[] = {{"A", 1, false}, {"B", 2, false}, {"A", 3, false}};
    assert_int_equal(smap_create(dup, 3, &m, &err), RECON_EINVAL);
    assert_non_null(strstr(err.msg, "\"A\" appears twice"));
    smap_mkto_status unnamed[] = {{"A", 1, false}, {"", 2, false}};
    assert_int_equal(smap_create(unnamed, 2, &m, &err), RECON_EINVAL);
    assert_non_null(strstr(err.msg, "#2"));
}

static void test_compare_exact(void **state)
{
    smap *m = webinar_map();
    smap_sf_status same[] = {{"Invited", 10, true, false},
                             {"Registered", 20, false, false},
                             {"Attended", 30, false, true},
                             {"No Show", 31, false, false},
                             {"Attended On-demand", 40, false, true}};
    smap_diff d;
    recon_err err;
    assert_int_equal(smap_compare(m, same, 5, &d, &err), 0);
    assert_null(d.message);
    assert_int_equal(d.n_missing + d.n_extra, 0);
    smap_diff_free(&d);

    smap_sf_status sf[] = {{"Sent", 1, true, false},
                           {"Registered", 20, false, false},
                           {"Responded", 2, false, true},
                           {"attended", 3, false, true}};
    assert_int_equal(smap_compare(m, sf, 4, &d, &err), 0);
    assert_int_equal(d.n_missing, 4);
    assert_int_equal(d.n_extra, 3);
    assert_string_equal(d.message,
                        "statuses differ: missing in Salesforce: \"Invited\", \"Attended\", "
                        "\"No Show\", \"Attended On-demand\"; extra in Salesforce: \"Sent\", "
                        "\"Responded\", \"attended\"");
    smap_diff_free(&d);

    /* Only extra; quotes in labels are escaped. */
    smap_sf_status more[6];
    memcpy(more, same, sizeof same);
    more[5] = (smap_sf_status){"Said \"maybe\"", 50, false, false};
    assert_int_equal(smap_compare(m, more, 6, &d, &err), 0);
    assert_string_equal(d.message, "statuses differ: extra in Salesforce: \"Said \\\"maybe\\\"\"");
    smap_diff_free(&d);

    /* Only missing. */
    assert_int_equal(smap_compare(m, same, 3, &d, &err), 0);
    assert_string_equal(d.message, "statuses differ: missing in Salesforce: \"No Show\", "
                                   "\"Attended On-demand\"");
    smap_diff_free(&d);

    smap_sf_status bad[] = {{NULL, 1, false, false}};
    assert_int_equal(smap_compare(m, bad, 1, &d, &err), RECON_EINVAL);
    smap_free(m);
}

static const smap_sf_status *find_created(const smap_create_plan *p, const char *label)
{
    for (size_t i = 0; i < p->n_create; i++)
        if (strcmp(p->create[i].label, label) == 0)
            return &p->create[i];
    return NULL;
}

static void test_plan_missing_into_empty_campaign(void **state)
{
    smap *m = webinar_map();
    smap_create_plan p;
    recon_err err;
    assert_int_equal(smap_plan_missing(m, NULL, 0, &p, &err), 0);
    assert_int_equal(p.n_create, 5);
    const smap_sf_status *inv = find_created(&p, "Invited");
    assert_int_equal(inv->sort_order, 10);
    assert_true(inv->is_default);
    assert_false(inv->has_responded);
    const smap_sf_status *att = find_created(&p, "Attended");
    assert_int_equal(att->sort_order, 30);
    assert_true(att->has_responded);
    assert_false(att->is_default);
    /* "No Show" shares step 30: it moves to the next free order that is no
     * other status's step, and the note says so. */
    const smap_sf_status *ns = find_created(&p, "No Show");
    assert_int_equal(ns->sort_order, 31);
    assert_non_null(p.note);
    assert_non_null(strstr(p.note, "\"No Show\" gets SortOrder 31 because 30"));
    smap_create_plan_free(&p);
    smap_free(m);
}

static void test_plan_missing_around_existing(void **state)
{
    smap_mkto_status st[] = {{"A", 1, false}, {"B", 2, true}, {"C", 3, false}};
    smap *m = NULL;
    recon_err err;
    assert_int_equal(smap_create(st, 3, &m, &err), 0);
    /* "B" exists; "Sent" (an extra) holds SortOrder 1 and "X" holds 4. */
    smap_sf_status sf[] = {{"Sent", 1, true, false}, {"B", 2, false, true}, {"X", 4, false, false}};
    smap_create_plan p;
    assert_int_equal(smap_plan_missing(m, sf, 3, &p, &err), 0);
    assert_int_equal(p.n_create, 2);
    /* A wants 1 (taken), 2 (taken), 3 is C's step, 4 taken: gets 5. */
    assert_string_equal(p.create[0].label, "A");
    assert_int_equal(p.create[0].sort_order, 5);
    assert_true(p.create[0].is_default);
    assert_string_equal(p.create[1].label, "C");
    assert_int_equal(p.create[1].sort_order, 3);
    assert_false(p.create[1].has_responded);
    assert_non_null(strstr(p.note, "\"A\" gets SortOrder 5"));
    assert_null(strstr(p.note, "\"C\""));
    smap_create_plan_free(&p);

    /* Nothing missing: nothing to create, no note. */
    smap_sf_status all[] = {{"A", 1, true, false}, {"B", 2, false, true}, {"C", 3, false, false}};
    assert_int_equal(smap_plan_missing(m, all, 3, &p, &err), 0);
    assert_int_equal(p.n_create, 0);
    assert_null(p.note);
    smap_create_plan_free(&p);
    smap_free(m);
}

static void test_plan_missing_no_room(void **state)
{
    smap_mkto_status st[] = {{"Top", INT32_MAX, false}};
    smap *m = NULL;
    recon_err err;
    assert_int_equal(smap_create(st, 1, &m, &err), 0);
    smap_sf_status sf[] = {{"Other", INT32_MAX, true, true}};
    smap_create_plan p;
    assert_int_equal(smap_plan_missing(m, sf, 1, &p, &err), RECON_EINVAL);
    assert_non_null(strstr(err.msg, "no free SortOrder"));
    assert_null(p.create);
    smap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_lookup),
        cmocka_unit_test(test_backward_and_marketo_rule),
        cmocka_unit_test(test_create_rejects_bad_channels),
        cmocka_unit_test(test_compare_exact),
        cmocka_unit_test(test_plan_missing_into_empty_campaign),
        cmocka_unit_test(test_plan_missing_around_existing),
        cmocka_unit_test(test_plan_missing_no_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
