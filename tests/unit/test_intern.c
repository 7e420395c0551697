/*
 * String interning for the attribution layout: dense ids in order of first
 * appearance, lookups that never add, copies owned by the table, growth past
 * the initial table, and the byte-order ranks used as touchpoint tie order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "intern.h"

static void ids_are_dense_and_stable(void **state)
{
    intern *in = intern_new();
    assert_non_null(in);
    char buf[32] = "Events";
    assert_int_equal(intern_id(in, buf), 0);
    assert_int_equal(intern_id(in, "Paid Search"), 1);
    assert_int_equal(intern_id(in, "Events"), 0);
    strcpy(buf, "changed");
    assert_string_equal(intern_str(in, 0), "Events");
    assert_int_equal(intern_find(in, "Paid Search"), 1);
    assert_int_equal(intern_find(in, "Social"), INTERN_NONE);
    assert_int_equal(intern_count(in), 2);
    assert_null(intern_str(in, 2));
    assert_int_equal(intern_id(in, ""), 2);
    intern_free(in);
}

static void grows_and_ranks(void **state)
{
    intern *in = intern_new();
    char s[32];
    /* inserted in descending order so ranks are the reverse of ids */
    for (int i = 0; i < 5000; i++) {
        snprintf(s, sizeof s, "tp-%05d", 4999 - i);
        assert_int_equal(intern_id(in, s), (uint32_t)i);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(s, sizeof s, "tp-%05d", 4999 - i);
        assert_int_equal(intern_find(in, s), (uint32_t)i);
    }
    static uint32_t rank[5000];
    assert_int_equal(intern_ranks(in, rank), 0);
    for (uint32_t i = 0; i < 5000; i++)
        assert_int_equal(rank[i], 4999 - i);
    intern_free(in);
    intern_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_are_dense_and_stable),
        cmocka_unit_test(grows_and_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
