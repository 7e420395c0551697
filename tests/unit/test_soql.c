/*
 * The SOQL builder: exact output for the queries the connector makes, the
 * validation of every part, and the property that matters most — no value
 * can change a query's structure. Each hostile value is built into a query,
 * the query is tokenized by an independent lexer (soql_lex.h), and the token
 * sequence must be exactly the expected one with the value decoded back
 * unchanged from its single string literal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soql.h"
#include "soql_lex.h"

static const char *const hostile[] = {
    "' OR Id != null OR Name='",
    "'",
    "\\",
    "\\'",
    "\\\\'",
    "\"",
    "a'b\"c\\d",
    "x' ) OR (Name LIKE '%",
    "line1\nline2\r\n\tend",
    "\b\f",
    "%_%",
    "Zoë 日本語 🎉",
    "'; DELETE FROM Lead; --",
    "') OR CampaignId != null OR Id IN ('",
    "",
    "\\\\\\",
    "a\\nb",
    "' AND Name = 'x",
};

/* Builds SELECT Id FROM Lead WHERE Email = <v> and checks its tokens. */
static void test_hostile_strings_stay_one_literal(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        soql *q = soql_new("Lead");
        soql_select(q, "Id");
        assert_int_equal(soql_where_string(q, "Email", SOQL_EQ, hostile[i]), 0);
        sf_err err = {{0}};
        char *text = soql_build(q, &err);
        assert_non_null(text);
        lex_tokens t;
        assert_int_equal(lex_soql(text, &t), 0);
        static const char *const want[] = {"SELECT", "Id", "FROM", "Lead", "WHERE", "Email", "="};
        assert_int_equal(t.n, 8);
        for (size_t k = 0; k < 7; k++)
            assert_string_equal(t.v[k].text, want[k]);
        assert_int_equal(t.v[7].kind, LEX_STRING);
        assert_string_equal(t.v[7].text, hostile[i]);
        lex_free(&t);
        free(text);
        soql_free(q);
    }
}

static void test_hostile_string_lists_stay_literals(void **state)
{
    (void)state;
    size_t n = sizeof hostile / sizeof hostile[0];
    soql *q = soql_new("Contact");
    soql_select(q, "Id");
    soql_select(q, "Email");
    assert_int_equal(soql_where_strings(q, "Email", SOQL_IN, hostile, n), 0);
    soql_limit(q, 10);
    sf_err err = {{0}};
    char *text = soql_build(q, &err);
    assert_non_null(text);
    lex_tokens t;
    assert_int_equal(lex_soql(text, &t), 0);
    /* SELECT Id , Email FROM Contact WHERE Email IN ( s (, s)* ) LIMIT 10 */
    assert_int_equal(t.n, 10 + 2 * n + 2);
    assert_string_equal(t.v[8].text, "IN");
    assert_string_equal(t.v[9].text, "(");
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(t.v[10 + 2 * k].kind, LEX_STRING);
        assert_string_equal(t.v[10 + 2 * k].text, hostile[k]);
        assert_string_equal(t.v[11 + 2 * k].text, k + 1 < n ? "," : ")");
    }
    assert_string_equal(t.v[t.n - 2].text, "LIMIT");
    assert_string_equal(t.v[t.n - 1].text, "10");
    lex_free(&t);
    free(text);
    soql_free(q);
}

static void test_escaping_exact(void **state)
{
    (void)state;
    soql *q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_string(q, "Name", SOQL_EQ, "O'Brien \"Jr\" \\ \n\r\t\b\f 50%_");
    soql_where_string(q, "Company", SOQL_LIKE_CONTAINS, "50%_off's");
    soql_where_string(q, "Title", SOQL_LIKE_PREFIX, "VP");
    soql_where_string(q, "City", SOQL_LIKE_SUFFIX, "burg");
    sf_err err;
    char *text = soql_build(q, &err);
    assert_string_equal(text, "SELECT Id FROM Lead WHERE Name = 'O\\'Brien \\\"Jr\\\" \\\\ "
                              "\\n\\r\\t\\b\\f 50%_' AND Company LIKE '%50\\%\\_off\\'s%' "
                              "AND Title LIKE 'VP%' AND City LIKE '%burg'");
    free(text);
    soql_free(q);
}

static void test_campaign_member_query_exact(void **state)
{
    (void)state;
    static const char *const fields[] = {"Id",
                                         "CampaignId",
                                         "LeadId",
                                         "ContactId",
                                         "Status",
                                         "Lead.Email",
                                         "Contact.Email",
                                         "Contact.AccountId",
                                         "Buyer_Touchpoint_Date__c"};
    static const char *const leads[] = {"00Q000000000001AAA", "00Q000000000002"};
    static const char *const contacts[] = {"003000000000001AAA"};
    soql *q = soql_new("CampaignMember");
    assert_int_equal(soql_select_many(q, fields, 9), 0);
    assert_int_equal(soql_where_id(q, "CampaignId", SOQL_EQ, "701000000000001AAA"), 0);
    assert_int_equal(soql_or_begin(q), 0);
    assert_int_equal(soql_where_ids(q, "LeadId", SOQL_IN, leads, 2), 0);
    assert_int_equal(soql_where_ids(q, "ContactId", SOQL_IN, contacts, 1), 0);
    assert_int_equal(soql_or_end(q), 0);
    assert_int_equal(soql_where_datetime(q, "SystemModstamp", SOQL_GE, 1769860800123LL), 0);
    assert_int_equal(soql_where_bool(q, "HasResponded", SOQL_EQ, true), 0);
    assert_int_equal(soql_where_date(q, "Buyer_Touchpoint_Date__c", SOQL_LT, "2026-02-28"), 0);
    assert_int_equal(soql_where_null(q, "ContactId", SOQL_NE), 0);
    assert_int_equal(soql_where_number(q, "NumberOfEmployees", SOQL_GT, -5), 0);
    assert_int_equal(soql_order_by(q, "SystemModstamp", false), 0);
    assert_int_equal(soql_order_by(q, "Id", true), 0);
    assert_int_equal(soql_limit(q, 2000), 0);
    sf_err err = {{0}};
    char *text = soql_build(q, &err);
    assert_non_null(text);
    assert_string_equal(
        text, "SELECT Id, CampaignId, LeadId, ContactId, Status, Lead.Email, Contact.Email, "
              "Contact.AccountId, Buyer_Touchpoint_Date__c FROM CampaignMember WHERE CampaignId = "
              "'701000000000001AAA' AND (LeadId IN ('00Q000000000001AAA', '00Q000000000002') OR "
              "ContactId IN ('003000000000001AAA')) AND SystemModstamp >= 2026-01-31T12:00:00Z "
              "AND HasResponded = true AND Buyer_Touchpoint_Date__c < 2026-02-28 AND ContactId != "
              "null AND NumberOfEmployees > -5 ORDER BY SystemModstamp, Id DESC LIMIT 2000");
    /* The independent lexer agrees on the structure. */
    lex_tokens t;
    assert_int_equal(lex_soql(text, &t), 0);
    int strings = 0;
    for (size_t i = 0; i < t.n; i++)
        strings += t.v[i].kind == LEX_STRING;
    assert_int_equal(strings, 4);
    lex_free(&t);
    free(text);
    soql_free(q);
}

static void test_datetime_bounds_widen(void **state)
{
    (void)state;
    soql *q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_datetime(q, "CreatedDate", SOQL_GE, 1500);
    soql_where_datetime(q, "CreatedDate", SOQL_LT, 1500);
    soql_where_datetime(q, "LastModifiedDate", SOQL_LT, 2000);
    soql_where_datetime(q, "SystemModstamp", SOQL_GT, -1);
    sf_err err;
    char *text = soql_build(q, &err);
    assert_string_equal(text, "SELECT Id FROM Lead WHERE CreatedDate >= 1970-01-01T00:00:01Z AND "
                              "CreatedDate < 1970-01-01T00:00:02Z AND LastModifiedDate < "
                              "1970-01-01T00:00:02Z AND SystemModstamp > 1969-12-31T23:59:59Z");
    free(text);
    soql_free(q);
}

static void expect_build_error(soql *q, const char *needle)
{
    sf_err err = {{0}};
    char *text = soql_build(q, &err);
    if (text)
        fail_msg("built '%s' but expected an error containing '%s'", text, needle);
    if (!strstr(err.msg, needle))
        fail_msg("error '%s' does not contain '%s'", err.msg, needle);
    soql_free(q);
}

static void test_invalid_ids_rejected_naming_value(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "00Q00000000001",     "00Q0000000000010AAA", "00Q000000000001AA", "00Q00000000'001",
        "00Q000000000001AA'", "00Q 00000000001",     "00Q00000000000é",   ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        soql *q = soql_new("Lead");
        soql_select(q, "Id");
        assert_int_equal(soql_where_id(q, "Id", SOQL_EQ, bad[i]), -1);
        char needle[64];
        snprintf(needle, sizeof needle, "'%s'", bad[i]);
        /* Non-ASCII is shown as is; the message names the value and the field. */
        sf_err err = {{0}};
        assert_null(soql_build(q, &err));
        assert_non_null(strstr(err.msg, "invalid Salesforce id"));
        assert_non_null(strstr(err.msg, "field Id"));
        if (strlen(bad[i]) && !strchr(bad[i], (char)0xC3))
            assert_non_null(strstr(err.msg, needle));
        soql_free(q);
    }
    const char *list[] = {"00Q000000000001AAA", "bad'id"};
    soql *q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_ids(q, "Id", SOQL_IN, list, 2);
    expect_build_error(q, "'bad'id'");
    sf_err err;
    assert_int_equal(soql_check_id("00Q000000000001", &err), 0);
    assert_int_equal(soql_check_id("00Q000000000001AAA", &err), 0);
    assert_int_equal(soql_check_id(NULL, &err), -1);
}

static void test_invalid_names_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {"Name; DROP", "Email'", "1abc",   "a..b",          ".Email",
                                      "Email.",     "OR",     "select", "Lead.FROM",     "Name__",
                                      "A___b",      "Na me",  "Näme",   "a.b.c.d.e.f.g", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        soql *q = soql_new("Lead");
        assert_int_equal(soql_select(q, bad[i]), -1);
        sf_err err;
        assert_null(soql_build(q, &err));
        soql_free(q);
    }
    static const char *const good[] = {"Id",
                                       "Lead.Email",
                                       "Custom_Field__c",
                                       "ns__Thing__c",
                                       "Contact.Account.Owner.Name",
                                       "Parent__r.Name"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        sf_err err;
        assert_int_equal(soql_check_name(good[i], true, &err), 0);
    }
    /* Standard objects whose names are also SOQL words elsewhere. */
    soql *ok = soql_new("Order");
    soql_select(ok, "Id");
    sf_err e2;
    char *t2 = soql_build(ok, &e2);
    assert_string_equal(t2, "SELECT Id FROM Order");
    free(t2);
    soql_free(ok);
    ok = soql_new("Group");
    soql_select(ok, "Id");
    t2 = soql_build(ok, &e2);
    assert_string_equal(t2, "SELECT Id FROM Group");
    free(t2);
    soql_free(ok);
    expect_build_error(soql_new("Lead.Email"), "must not contain '.'");
    expect_build_error(soql_new("Lead Where"), "invalid name");
    soql *q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_string(q, "Name' OR Id != null", SOQL_EQ, "x");
    expect_build_error(q, "invalid name");
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_order_by(q, "Name DESC, Id", false);
    expect_build_error(q, "invalid name");
}

static void test_unsendable_strings_rejected(void **state)
{
    (void)state;
    soql *q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_string(q, "Name", SOQL_EQ, "a\x01z");
    expect_build_error(q, "control character 0x01");
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_string(q, "Name", SOQL_EQ, "bad \xC3\x28 utf8");
    expect_build_error(q, "not valid UTF-8");
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_string(q, "Name", SOQL_EQ, "\xED\xA0\x80"); /* a UTF-16 surrogate */
    expect_build_error(q, "not valid UTF-8");
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_string(q, "Name", SOQL_EQ, "\xC0\xAF"); /* overlong '/' */
    expect_build_error(q, "not valid UTF-8");
}

static void test_operator_misuse_and_sticky_errors(void **state)
{
    (void)state;
    soql *q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_id(q, "Id", SOQL_LIKE_PREFIX, "00Q000000000001");
    expect_build_error(q, "operator");
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_string(q, "Name", SOQL_IN, "x");
    expect_build_error(q, "operator");
    q = soql_new("Lead");
    soql_select(q, "Id");
    const char *v[] = {"a"};
    soql_where_strings(q, "Name", SOQL_EQ, v, 1);
    expect_build_error(q, "operator");
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_strings(q, "Name", SOQL_IN, v, 0);
    expect_build_error(q, "empty IN list");
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_bool(q, "IsConverted", SOQL_LT, true);
    expect_build_error(q, "booleans");
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_date(q, "CreatedDate", SOQL_EQ, "2026-02-30");
    expect_build_error(q, "invalid date '2026-02-30'");
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_date(q, "CreatedDate", SOQL_EQ, "2026-01-01' OR Id != null");
    expect_build_error(q, "invalid date");
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_limit(q, 0);
    expect_build_error(q, "LIMIT 0");
    q = soql_new("Lead");
    expect_build_error(q, "no fields selected");
    /* The first problem is reported even when later parts are fine. */
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_where_id(q, "Id", SOQL_EQ, "nope");
    soql_where_string(q, "Name", SOQL_EQ, "fine");
    soql_where_date(q, "CreatedDate", SOQL_EQ, "bad");
    expect_build_error(q, "'nope'");
    /* OR group misuse. */
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_or_begin(q);
    soql_or_begin(q);
    expect_build_error(q, "do not nest");
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_or_begin(q);
    soql_or_end(q);
    expect_build_error(q, "empty OR group");
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_or_begin(q);
    soql_where_bool(q, "IsConverted", SOQL_EQ, false);
    expect_build_error(q, "not closed");
    q = soql_new("Lead");
    soql_select(q, "Id");
    soql_or_end(q);
    expect_build_error(q, "without soql_or_begin");
}

static void test_single_member_or_group_has_no_parens(void **state)
{
    (void)state;
    soql *q = soql_new("Lead");
    soql_select(q, "Id");
    soql_or_begin(q);
    soql_where_string(q, "Email", SOQL_EQ, "a@b.c");
    soql_or_end(q);
    sf_err err;
    char *text = soql_build(q, &err);
    assert_string_equal(text, "SELECT Id FROM Lead WHERE Email = 'a@b.c'");
    free(text);
    soql_free(q);
}

static void test_url_encoding_and_path(void **state)
{
    (void)state;
    char *e = soql_url_encode("SELECT Id FROM Lead WHERE Email = 'a+b@x.io' AND Name = 'Zoë'");
    assert_string_equal(e, "SELECT%20Id%20FROM%20Lead%20WHERE%20Email%20%3D%20%27a%2Bb%40x.io%27"
                           "%20AND%20Name%20%3D%20%27Zo%C3%AB%27");
    free(e);
    soql *q = soql_new("Campaign");
    soql_select(q, "Id");
    soql_where_string(q, "Name", SOQL_EQ, "a&q=b#c");
    sf_err err;
    char *path = soql_build_path(q, "v60.0", true, &err);
    assert_string_equal(path, "/services/data/v60.0/queryAll?q=SELECT%20Id%20FROM%20Campaign%20"
                              "WHERE%20Name%20%3D%20%27a%26q%3Db%23c%27");
    free(path);
    path = soql_build_path(q, "v60.0", false, &err);
    assert_non_null(strstr(path, "/services/data/v60.0/query?q="));
    free(path);
    assert_null(soql_build_path(q, "v60.0/../x", false, &err));
    assert_non_null(strstr(err.msg, "API version"));
    assert_null(soql_build_path(q, "60.0", false, &err));
    soql_free(q);
}

/* Every chunk fits, and one more value would not: chunks are as large as allowed. */
static void check_chunks(const char *field, bool ids, const char *const *values, size_t n,
                         size_t max_path)
{
    soql *base = soql_new("CampaignMember");
    soql_select(base, "Id");
    soql_select(base, "Status");
    soql_where_id(base, "CampaignId", SOQL_EQ, "701000000000001AAA");
    soql_order_by(base, "Id", false);
    size_t done = 0, chunks = 0;
    while (done < n) {
        size_t fit = 0;
        sf_err err = {{0}};
        if (soql_chunk_fit(base, "v60.0", false, field, ids, values + done, n - done, max_path,
                           &fit, &err) != 0)
            fail_msg("chunk_fit: %s", err.msg);
        assert_true(fit >= 1 && fit <= n - done);
        for (size_t extra = 0; extra < 2 && done + fit + extra <= n; extra++) {
            soql *q = soql_new("CampaignMember");
            soql_select(q, "Id");
            soql_select(q, "Status");
            soql_where_id(q, "CampaignId", SOQL_EQ, "701000000000001AAA");
            soql_order_by(q, "Id", false);
            if (ids)
                soql_where_ids(q, field, SOQL_IN, values + done, fit + extra);
            else
                soql_where_strings(q, field, SOQL_IN, values + done, fit + extra);
            char *path = soql_build_path(q, "v60.0", false, &err);
            assert_non_null(path);
            if (extra == 0)
                assert_true(strlen(path) <= max_path);
            else
                assert_true(strlen(path) > max_path);
            free(path);
            soql_free(q);
        }
        done += fit;
        chunks++;
    }
    assert_int_equal(done, n);
    assert_true(chunks >= 2);
    soql_free(base);
}

static void test_chunking_ids_and_emails(void **state)
{
    (void)state;
    size_t n = 3000;
    char **ids = calloc(n, sizeof *ids), **emails = calloc(n, sizeof *emails);
    for (size_t i = 0; i < n; i++) {
        assert_true(asprintf(&ids[i], "00Q%012zuAAA", i) > 0);
        assert_true(asprintf(&emails[i], "%s%zu+tag'%s@example.com", i % 3 ? "p" : "Zoë.", i,
                             i % 7 ? "" : "\\") > 0);
    }
    check_chunks("LeadId", true, (const char *const *)ids, n, SOQL_DEFAULT_MAX_URL);
    check_chunks("Lead.Email", false, (const char *const *)emails, n, SOQL_DEFAULT_MAX_URL);
    check_chunks("Lead.Email", false, (const char *const *)emails, 40, 400);
    /* A value that can never fit, and an invalid one, are errors naming the problem. */
    size_t fit;
    sf_err err;
    soql *base = soql_new("Lead");
    soql_select(base, "Id");
    assert_int_equal(soql_chunk_fit(base, "v60.0", false, "Email", false,
                                    (const char *const *)emails, n, 60, &fit, &err),
                     -1);
    assert_non_null(strstr(err.msg, "does not fit"));
    const char *bad[] = {"00Q000000000001AAA", "x'y"};
    assert_int_equal(soql_chunk_fit(base, "v60.0", false, "Id", true, bad, 2, 16000, &fit, &err),
                     -1);
    assert_non_null(strstr(err.msg, "'x'y'"));
    soql_free(base);
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
        free(emails[i]);
    }
    free(ids);
    free(emails);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_strings_stay_one_literal),
        cmocka_unit_test(test_hostile_string_lists_stay_literals),
        cmocka_unit_test(test_escaping_exact),
        cmocka_unit_test(test_campaign_member_query_exact),
        cmocka_unit_test(test_datetime_bounds_widen),
        cmocka_unit_test(test_invalid_ids_rejected_naming_value),
        cmocka_unit_test(test_invalid_names_rejected),
        cmocka_unit_test(test_unsendable_strings_rejected),
        cmocka_unit_test(test_operator_misuse_and_sticky_errors),
        cmocka_unit_test(test_single_member_or_group_has_no_parens),
        cmocka_unit_test(test_url_encoding_and_path),
        cmocka_unit_test(test_chunking_ids_and_emails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
