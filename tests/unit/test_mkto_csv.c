/*
 * Reading Marketo bulk export files: RFC 4180 rows (quoted separators,
 * doubled quotes, line breaks inside quotes, CRLF or LF, no final break, a
 * byte order mark), every malformed row refused with its line, and the
 * program member mapping: the same fields as members.json, pages of exactly
 * the page size, a caller that stops the read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mkto_csv.h"

static void expect_row(mkto_csv *r, size_t n, const char *const *want)
{
    mkto_err err = {{0}};
    int rc = mkto_csv_row(r, &err);
    if (rc != 1)
        fprintf(stderr, "row: %d %s\n", rc, err.msg);
    assert_int_equal(rc, 1);
    assert_int_equal(r->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(r->fields[i], want[i]);
}

static void test_rows(void **state)
{
    (void)state;
    const char *text = "\xEF\xBB\xBF"
                       "a,b,c\r\n"
                       "\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
                       "\n"
                       ",,\n"
                       "last,row,no break";
    mkto_csv r;
    mkto_csv_init(&r, text, strlen(text), ',');
    expect_row(&r, 3, (const char *[]){"a", "b", "c"});
    expect_row(&r, 3, (const char *[]){"x, y", "say \"hi\"", "two\nlines"});
    assert_int_equal(r.row_line, 2);
    expect_row(&r, 3, (const char *[]){"", "", ""});
    assert_int_equal(r.row_line, 5);
    expect_row(&r, 3, (const char *[]){"last", "row", "no break"});
    mkto_err err;
    assert_int_equal(mkto_csv_row(&r, &err), 0);
    mkto_csv_free(&r);

    const char *tsv = "a\tb c\n\"t\tq\"\tz\n";
    mkto_csv_init(&r, tsv, strlen(tsv), '\t');
    expect_row(&r, 2, (const char *[]){"a", "b c"});
    expect_row(&r, 2, (const char *[]){"t\tq", "z"});
    mkto_csv_free(&r);
}

static void expect_bad(const char *text, const char *needle)
{
    mkto_csv r;
    mkto_err err = {{0}};
    mkto_csv_init(&r, text, strlen(text), ',');
    int rc;
    while ((rc = mkto_csv_row(&r, &err)) == 1)
        ;
    if (rc != -1 || !strstr(err.msg, needle))
        fprintf(stderr, "'%s': %d '%s', want '%s'\n", text, rc, err.msg, needle);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, needle));
    mkto_csv_free(&r);
}

static void test_bad_rows(void **state)
{
    (void)state;
    expect_bad("a,b\n1,\"open\n", "line 2: quoted field never closed");
    expect_bad("a,b\n1,x\"y\n", "line 2: a quote inside an unquoted field");
    expect_bad("a,b\n1,\"x\"y\n", "line 2: text after a closing quote");
}

typedef struct {
    Campsync__V1__ProgramMember *seen[400];
    size_t n;
    size_t page_sizes[8];
    int pages;
    int stop_after;
} sink;

static int keep(void *ud, Campsync__V1__ProgramMemberPage *page)
{
    sink *s = ud;
    s->page_sizes[s->pages++] = page->n_members;
    for (size_t i = 0; i < page->n_members; i++) {
        s->seen[s->n++] = page->members[i];
        page->members[i] = NULL;
    }
    page->n_members = 0;
    protobuf_c_message_free_unpacked(&page->base, NULL);
    return s->stop_after && s->pages == s->stop_after ? 42 : 0;
}

static void sink_free(sink *s)
{
    for (size_t i = 0; i < s->n; i++)
        protobuf_c_message_free_unpacked(&s->seen[i]->base, NULL);
}

static void test_members(void **state)
{
    (void)state;
    const char *text = "updatedAt,leadId,program,statusName,reachedSuccess,membershipDate\n"
                       "2026-01-03T00:00:00Z,7,\"Big, \"\"Quoted\"\"\",Attended,true,"
                       "2026-01-02T03:04:05Z\n"
                       ",9,x,,,\n";
    sink s = {0};
    mkto_err err = {{0}};
    size_t rows;
    assert_int_equal(mkto_members_csv(text, strlen(text), ',', 300, keep, &s, &rows, &err), 0);
    assert_int_equal(rows, 2);
    assert_int_equal(s.pages, 1);
    assert_int_equal(s.seen[0]->lead_id, 7);
    assert_string_equal(s.seen[0]->status_name, "Attended");
    assert_true(s.seen[0]->reached_success);
    assert_int_equal(s.seen[0]->membership_date_ms, 1767323045000LL);
    assert_int_equal(s.seen[0]->updated_at_ms, 1767398400000LL);
    assert_int_equal(s.seen[1]->lead_id, 9);
    assert_string_equal(s.seen[1]->status_name, "");
    assert_false(s.seen[1]->reached_success);
    assert_int_equal(s.seen[1]->updated_at_ms, 0);
    sink_free(&s);
}

static void test_member_pages(void **state)
{
    (void)state;
    char *text = malloc(16 + 301 * 16);
    size_t len = (size_t)sprintf(text, "leadId\n");
    for (int i = 1; i <= 301; i++)
        len += (size_t)sprintf(text + len, "%d\n", i);
    sink s = {0};
    mkto_err err = {{0}};
    size_t rows;
    assert_int_equal(mkto_members_csv(text, len, ',', 300, keep, &s, &rows, &err), 0);
    assert_int_equal(rows, 301);
    assert_int_equal(s.pages, 2);
    assert_int_equal(s.page_sizes[0], 300);
    assert_int_equal(s.page_sizes[1], 1);
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(s.seen[i]->lead_id, (int64_t)i + 1);
    sink_free(&s);

    /* The caller went away after the first page: its code comes back. */
    sink t = {.stop_after = 1};
    assert_int_equal(mkto_members_csv(text, len, ',', 100, keep, &t, &rows, &err), 42);
    assert_int_equal(t.pages, 1);
    sink_free(&t);
    free(text);
}

static void expect_bad_members(const char *text, const char *needle)
{
    sink s = {0};
    mkto_err err = {{0}};
    int rc = mkto_members_csv(text, strlen(text), ',', 300, keep, &s, NULL, &err);
    if (rc != -1 || !strstr(err.msg, needle))
        fprintf(stderr, "'%s': %d '%s', want '%s'\n", text, rc, err.msg, needle);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, needle));
    assert_int_equal(s.pages, 0);
}

static void test_bad_members(void **state)
{
    (void)state;
    expect_bad_members("", "empty");
    expect_bad_members("statusName\nInvited\n", "no leadId column");
    expect_bad_members("leadId,statusName\n1\n", "line 2: 1 fields where the header has 2");
    expect_bad_members("leadId\n0\n", "line 2: leadId '0' is not a positive integer");
    expect_bad_members("leadId\n12x\n", "not a positive integer");
    expect_bad_members("leadId\n99999999999999999999\n", "not a positive integer");
    expect_bad_members("leadId,reachedSuccess\n1,yes\n", "reachedSuccess 'yes'");
    expect_bad_members("leadId,updatedAt\n1,yesterday\n", "line 2: updatedAt");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),        cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_members),     cmocka_unit_test(test_member_pages),
        cmocka_unit_test(test_bad_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
