/*
 * The reader's string pool: copies that outlive the source and stay intact
 * as the pool grows past many blocks (including strings too large to share
 * a block), NULL and "" kept apart, raw byte keys, and interning that gives
 * equal strings one copy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strpool.h"

static void copies_outlive_source_across_blocks(void **state)
{
    (void)state;
    strpool p = {0};
    enum { N = 20000 };
    const char **c = calloc(N, sizeof *c);
    assert_non_null(c);
    char big[70000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *big_copy = NULL;
    char buf[64];
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "person-%d@example.com", i);
        c[i] = strpool_copy(&p, buf);
        assert_non_null(c[i]);
        assert_ptr_not_equal(c[i], buf);
        if (i == N / 2) {
            /* larger than a block: its own block, the current one keeps filling */
            big_copy = strpool_copy(&p, big);
            assert_non_null(big_copy);
        }
    }
    memset(buf, 0, sizeof buf);
    big[0] = 'y';
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "person-%d@example.com", i);
        assert_string_equal(c[i], buf);
    }
    assert_int_equal(strlen(big_copy), sizeof big - 1);
    assert_int_equal(big_copy[0], 'x');
    free(c);
    strpool_free(&p);
}

static void null_empty_and_bytes(void **state)
{
    (void)state;
    strpool p = {0};
    assert_null(strpool_copy(&p, NULL));
    assert_null(strpool_intern(&p, NULL));
    assert_string_equal(strpool_copy(&p, ""), "");
    assert_string_equal(strpool_intern(&p, ""), "");
    int64_t id = 0x0102030405060708LL;
    const void *k = strpool_mem(&p, &id, sizeof id);
    assert_non_null(k);
    id = 0;
    int64_t back;
    memcpy(&back, k, sizeof back);
    assert_true(back == 0x0102030405060708LL);
    strpool_free(&p);
    /* a freed pool is empty and usable again */
    assert_string_equal(strpool_copy(&p, "again"), "again");
    strpool_free(&p);
}

static void interning_shares_copies(void **state)
{
    (void)state;
    strpool p = {0};
    char buf[32] = "Registered";
    const char *a = strpool_intern(&p, buf);
    strcpy(buf, "Attended");
    const char *b = strpool_intern(&p, buf);
    assert_string_equal(a, "Registered");
    assert_string_equal(b, "Attended");
    assert_ptr_equal(strpool_intern(&p, "Registered"), a);
    assert_ptr_equal(strpool_intern(&p, "Attended"), b);
    assert_ptr_not_equal(strpool_copy(&p, "Registered"), a);
    /* many distinct names: the table grows and earlier ones still resolve */
    for (int i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "status %d", i);
        const char *s = strpool_intern(&p, buf);
        assert_string_equal(s, buf);
        assert_ptr_equal(strpool_intern(&p, buf), s);
    }
    assert_ptr_equal(strpool_intern(&p, "Registered"), a);
    strpool_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copies_outlive_source_across_blocks),
        cmocka_unit_test(null_empty_and_bytes),
        cmocka_unit_test(interning_shares_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
