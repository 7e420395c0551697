/*
 * Base codec (base_codec.c): round trips, size of a 100,000-member base,
 * and rejection of every kind of damage (truncation, flipped bits, bad
 * counts, keys out of order, statuses out of range) without crashing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base_codec.h"

static void test_round_trip(void **state)
{
    char *names[] = {"Registered", "Attended"};
    base_entry e[] = {{1, 0, base_sf_tag("00Q000000000001AAA")},
                      {2, 1, 0},
                      {90000000000LL, BASE_STATUS_UNKNOWN, 0xFFFFFFFFu},
                      {INT64_MAX, 1, 7}};
    base_state b = {.version = 42, .names = names, .n_names = 2, .entries = e, .n_entries = 4};
    unsigned char *buf;
    size_t len;
    recon_err err;
    assert_int_equal(base_encode(&b, &buf, &len, &err), 0);
    base_state d;
    assert_int_equal(base_decode(buf, len, &d, &err), 0);
    assert_int_equal(d.version, 42);
    assert_int_equal(d.n_names, 2);
    assert_string_equal(d.names[1], "Attended");
    assert_int_equal(d.n_entries, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(d.entries[i].lead_id, e[i].lead_id);
        assert_int_equal(d.entries[i].status, e[i].status);
        assert_int_equal(d.entries[i].sf_tag, e[i].sf_tag);
    }
    assert_non_null(base_find(&d, 90000000000LL));
    assert_null(base_find(&d, 3));
    assert_int_equal(base_find(&d, INT64_MAX)->status, 1);
    base_free(&d);
    free(buf);

    assert_int_equal(base_sf_tag(NULL), 0);
    assert_int_equal(base_sf_tag(""), 0);
    assert_int_not_equal(base_sf_tag("00Q1"), 0);
    assert_int_equal(base_sf_tag("00Q1"), base_sf_tag("00Q1"));
    assert_int_not_equal(base_sf_tag("00Q1"), base_sf_tag("00Q2"));

    base_state empty = {0};
    assert_int_equal(base_encode(&empty, &buf, &len, &err), 0);
    assert_int_equal(base_decode(buf, len, &d, &err), 0);
    assert_int_equal(d.n_entries, 0);
    assert_null(base_find(&d, 1));
    base_free(&d);
    free(buf);
}

static void test_encode_rejects_bad_state(void **state)
{
    char *names[] = {"Registered"};
    base_entry unordered[] = {{5, 0, 0}, {5, 0, 0}};
    base_state b = {.names = names, .n_names = 1, .entries = unordered, .n_entries = 2};
    unsigned char *buf;
    size_t len;
    recon_err err;
    assert_int_equal(base_encode(&b, &buf, &len, &err), RECON_EINVAL);
    assert_null(buf);
    base_entry out_of_range[] = {{5, 1, 0}};
    b.entries = out_of_range;
    b.n_entries = 1;
    assert_int_equal(base_encode(&b, &buf, &len, &err), RECON_EINVAL);
    base_entry zero[] = {{0, 0, 0}};
    b.entries = zero;
    assert_int_equal(base_encode(&b, &buf, &len, &err), RECON_EINVAL);
    char *empty_name[] = {""};
    base_state c = {.names = empty_name, .n_names = 1};
    assert_int_equal(base_encode(&c, &buf, &len, &err), RECON_EINVAL);
}

static void test_hundred_thousand_is_small(void **state)
{
    enum { N = 100000 };
    char *names[] = {"Invited", "Registered", "Attended", "No Show"};
    base_entry *e = malloc(N * sizeof *e);
    /* Lead ids spread over 30 million, as in a large instance. */
    for (int i = 0; i < N; i++)
        e[i] = (base_entry){1000000 + (int64_t)i * 297, i % 4, base_sf_tag("003000000000001AAA")};
    base_state b = {.version = 1, .names = names, .n_names = 4, .entries = e, .n_entries = N};
    unsigned char *buf;
    size_t len;
    assert_int_equal(base_encode(&b, &buf, &len, NULL), 0);
    assert_true(len < 8 * N); /* well under 1 MB */
    base_state d;
    assert_int_equal(base_decode(buf, len, &d, NULL), 0);
    assert_int_equal(d.n_entries, N);
    assert_int_equal(d.entries[N - 1].lead_id, e[N - 1].lead_id);
    assert_int_equal(base_find(&d, 1000000 + 297 * 500)->status, 0);
    base_free(&d);
    free(buf);
    free(e);
}

static void reseal(unsigned char *buf, size_t len);

static void test_decode_rejects_damage(void **state)
{
    char *names[] = {"Registered", "Attended"};
    base_entry e[] = {{10, 0, 0}, {20, 1, 0}, {30, 0, 0}};
    base_state b = {.version = 3, .names = names, .n_names = 2, .entries = e, .n_entries = 3};
    unsigned char *buf;
    size_t len;
    assert_int_equal(base_encode(&b, &buf, &len, NULL), 0);
    base_state d;
    recon_err err;
    /* Every truncation and every single flipped bit is refused. */
    for (size_t n = 0; n < len; n++)
        assert_int_equal(base_decode(buf, n, &d, &err), RECON_ECORRUPT);
    for (size_t i = 0; i < len * 8; i++) {
        buf[i / 8] ^= (unsigned char)(1u << (i % 8));
        assert_int_equal(base_decode(buf, len, &d, &err), RECON_ECORRUPT);
        buf[i / 8] ^= (unsigned char)(1u << (i % 8));
    }
    assert_non_null(strstr(err.msg, "corrupt"));
    /* Well-sealed but wrong content: status index 3 with 2 names. The last
     * entry's status byte sits before its 4-byte tag and the checksum. */
    unsigned char *bad = malloc(len);
    memcpy(bad, buf, len);
    bad[len - 9] = 3;
    reseal(bad, len);
    assert_int_equal(base_decode(bad, len, &d, &err), RECON_ECORRUPT);
    assert_non_null(strstr(err.msg, "status out of range"));
    /* A zero key delta (keys not increasing). */
    memcpy(bad, buf, len);
    bad[len - 10] = 0;
    reseal(bad, len);
    assert_int_equal(base_decode(bad, len, &d, &err), RECON_ECORRUPT);
    assert_non_null(strstr(err.msg, "out of order"));
    free(bad);
    assert_int_equal(base_decode("garbage!", 8, &d, &err), RECON_ECORRUPT);
    assert_int_equal(base_decode("", 0, &d, &err), RECON_ECORRUPT);
    free(buf);
}

/* Recomputes the trailing checksum so the content checks are reached. */
static void reseal(unsigned char *buf, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len - 4; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    crc ^= 0xFFFFFFFFu;
    for (int k = 0; k < 4; k++)
        buf[len - 4 + k] = (unsigned char)(crc >> (8 * k));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_rejects_bad_state),
        cmocka_unit_test(test_hundred_thousand_is_small),
        cmocka_unit_test(test_decode_rejects_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
