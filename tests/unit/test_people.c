/*
 * People matching (people.c, SPEC C5): linked ids before email, Contact
 * before Lead, converted Leads followed to their Contact, case- and
 * space-insensitive emails, creations on the missing side, skips with
 * reasons (no email, duplicates), and 100,000 members matched at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hmap.h"
#include "people.h"

#define LEAD(id, email, sflead, sfcontact)                                                         \
    ((people_mkto_lead){id, email, NULL, NULL, NULL, sflead, sfcontact})
#define SFLEAD(id, email)                                                                          \
    ((people_sf_person){id, PEOPLE_SF_LEAD, email, NULL, NULL, NULL, false, NULL})
#define CONTACT(id, email)                                                                         \
    ((people_sf_person){id, PEOPLE_SF_CONTACT, email, NULL, NULL, NULL, false, NULL})

static const people_row *row_of_lead(const people_match *m, int64_t lead)
{
    for (size_t i = 0; i < m->n_rows; i++)
        if (m->rows[i].lead_id == lead)
            return &m->rows[i];
    return NULL;
}

static const people_row *row_of_person(const people_match *m, const char *id)
{
    for (size_t i = 0; i < m->n_rows; i++)
        if (m->rows[i].sf_person_id && strcmp(m->rows[i].sf_person_id, id) == 0)
            return &m->rows[i];
    return NULL;
}

/* The hash map under the matching: growth from a tiny table, int and
 * string keys, insert-if-absent vs replace, and over-long keys. */
static void test_hmap(void **state)
{
    enum { N = 20000 };
    int64_t *keys = malloc(N * sizeof *keys);
    hmap m;
    assert_int_equal(hmap_init(&m, 1), 0);
    for (int i = 0; i < N; i++) {
        keys[i] = (int64_t)i * 7919;
        assert_int_equal(hmap_put(&m, &keys[i], sizeof keys[i], (uint32_t)i, NULL), 0);
    }
    assert_int_equal(m.count, N);
    assert_true(m.count * 10 <= m.cap * 7);
    for (int i = 0; i < N; i++) {
        uint32_t v;
        assert_true(hmap_get(&m, &keys[i], sizeof keys[i], &v));
        assert_int_equal(v, i);
    }
    int64_t absent = 5;
    assert_false(hmap_get(&m, &absent, sizeof absent, NULL));
    uint32_t old;
    assert_int_equal(hmap_put(&m, &keys[3], sizeof keys[3], 99, &old), 1);
    assert_int_equal(old, 3);
    assert_int_equal(hmap_set(&m, &keys[3], sizeof keys[3], 99), 0);
    assert_true(hmap_get(&m, &keys[3], sizeof keys[3], &old));
    assert_int_equal(old, 99);
    hmap_free(&m);
    free(keys);

    hmap s;
    assert_int_equal(hmap_init(&s, 0), 0);
    assert_int_equal(hmap_put(&s, "ab", 2, 1, NULL), 0);
    assert_int_equal(hmap_put(&s, "abc", 3, 2, NULL), 0); /* a prefix is another key */
    uint32_t v;
    assert_true(hmap_get(&s, "abc", 3, &v));
    assert_int_equal(v, 2);
    assert_false(hmap_get(&s, "a", 1, NULL));
    char *big = calloc(HMAP_MAX_KEY + 2, 1);
    memset(big, 'x', HMAP_MAX_KEY + 1);
    assert_int_equal(hmap_put(&s, big, HMAP_MAX_KEY + 1, 3, NULL), -1);
    assert_false(hmap_get(&s, big, HMAP_MAX_KEY + 1, NULL));
    free(big);
    hmap_free(&s);
    /* Stable across runs: dedup keys depend on it. */
    assert_int_equal(hmap_hash("", 0), hmap_hash("", 0));
    assert_true(hmap_hash("a", 1) != hmap_hash("b", 1));
}

static void test_normalize_email(void **state)
{
    char buf[64];
    assert_int_equal(people_normalize_email("  Ann.Lee@Example.COM\t\n", buf, sizeof buf), 19);
    assert_string_equal(buf, "ann.lee@example.com");
    assert_int_equal(people_normalize_email("   ", buf, sizeof buf), 0);
    assert_int_equal(people_normalize_email(NULL, buf, sizeof buf), 0);
    assert_int_equal(people_normalize_email("abcdef", buf, 4), 0); /* does not fit */
}

static void test_link_before_email_and_contact_before_lead(void **state)
{
    people_mkto_lead leads[] = {
        /* 1: linked to Lead 00Q1 although a Contact has its email. */
        LEAD(1, "one@x.com", "00Q1", NULL),
        /* 2: no link; a Lead and a Contact share the email: the Contact. */
        LEAD(2, " TWO@x.com ", NULL, NULL),
        /* 3: linked to a converted Lead: its Contact. */
        LEAD(3, "three@x.com", "00Q3", NULL),
        /* 4: link to a person Salesforce did not return: falls back to email. */
        LEAD(4, "four@x.com", "00Qgone", NULL),
    };
    people_sf_person people[] = {
        SFLEAD("00Q1", "one@x.com"),
        CONTACT("0031", "one@x.com"),
        SFLEAD("00Q2", "two@x.com"),
        CONTACT("0032", "Two@X.com"),
        {"00Q3", PEOPLE_SF_LEAD, "three@x.com", NULL, NULL, NULL, true, "0033"},
        CONTACT("0033", "three@x.com"),
        SFLEAD("00Q4", "four@x.com"),
    };
    people_mkto_member mm[] = {
        {1, "Registered", 1}, {2, "Registered", 1}, {3, "Registered", 1}, {4, "Registered", 1}};
    people_sf_member sm[] = {{"00v1", "00Q1", "one@x.com", "Registered", 1},
                             {"00v3", "0033", "three@x.com", "Attended", 1}};
    people_input in = {leads, 4, people, 7, mm, 4, sm, 2};
    people_match m;
    recon_err err;
    assert_int_equal(people_match_all(&in, &m, &err), 0);
    assert_int_equal(m.n_skips, 0);
    assert_int_equal(m.n_rows, 4);
    const people_row *r = row_of_lead(&m, 1);
    assert_string_equal(r->sf_person_id, "00Q1");
    assert_int_equal(r->how, PEOPLE_BY_LINK);
    assert_int_equal(r->sf_member, 0);
    r = row_of_lead(&m, 2);
    assert_string_equal(r->sf_person_id, "0032");
    assert_int_equal(r->how, PEOPLE_BY_EMAIL);
    assert_int_equal(r->sf_member, PEOPLE_NONE); /* to be added to the campaign */
    r = row_of_lead(&m, 3);
    assert_string_equal(r->sf_person_id, "0033");
    assert_int_equal(r->sf_member, 1);
    assert_int_equal(r->sf_person, 5);
    r = row_of_lead(&m, 4);
    assert_string_equal(r->sf_person_id, "00Q4");
    assert_int_equal(r->how, PEOPLE_BY_EMAIL);
    people_match_free(&m);
}

static void test_member_preferred_within_kind(void **state)
{
    /* Two Leads share an email; the one in the campaign is chosen. */
    people_mkto_lead leads[] = {LEAD(1, "a@x.com", NULL, NULL)};
    people_sf_person people[] = {SFLEAD("00QA", "a@x.com"), SFLEAD("00QB", "a@x.com")};
    people_mkto_member mm[] = {{1, "Registered", 1}};
    people_sf_member sm[] = {{"00vB", "00QB", "a@x.com", "Registered", 1}};
    people_input in = {leads, 1, people, 2, mm, 1, sm, 1};
    people_match m;
    assert_int_equal(people_match_all(&in, &m, NULL), 0);
    assert_int_equal(m.n_rows, 1);
    assert_string_equal(m.rows[0].sf_person_id, "00QB");
    assert_int_equal(m.rows[0].sf_member, 0);
    people_match_free(&m);
}

static void test_creations_and_skips(void **state)
{
    people_mkto_lead leads[] = {
        LEAD(1, "new@x.com", NULL, NULL),   /* no Salesforce person: create a Lead */
        LEAD(2, NULL, NULL, NULL),          /* no email: skipped */
        LEAD(7, "Known@x.com", NULL, NULL), /* not a program member; matches a SF member */
    };
    people_sf_person people[] = {CONTACT("003K", "known@x.com"), SFLEAD("00QN", "fresh@x.com"),
                                 SFLEAD("00QE", NULL)};
    people_mkto_member mm[] = {{1, "Registered", 1}, {2, "Registered", 1}, {3, "Invited", 1}};
    people_sf_member sm[] = {
        {"00v1", "003K", NULL, "Registered", 1},         /* -> Marketo lead 7 by email */
        {"00v2", "00QN", NULL, "Registered", 1},         /* -> create in Marketo */
        {"00v3", "00QE", NULL, "Registered", 1},         /* no email: skipped */
        {"00v4", "00QX", "Other@x.com ", "Attended", 1}, /* email only on the member */
        {"00v5", "", NULL, "Registered", 1},             /* no person: skipped */
    };
    people_input in = {leads, 3, people, 3, mm, 3, sm, 5};
    people_match m;
    recon_err err;
    assert_int_equal(people_match_all(&in, &m, &err), 0);
    const people_row *r = row_of_lead(&m, 1);
    assert_null(r->sf_person_id);
    assert_string_equal(r->email, "new@x.com");
    r = row_of_lead(&m, 7);
    assert_string_equal(r->sf_person_id, "003K");
    assert_int_equal(r->mkto_member, PEOPLE_NONE);
    assert_int_equal(r->sf_member, 0);
    r = row_of_person(&m, "00QN");
    assert_int_equal(r->lead_id, 0);
    assert_string_equal(r->email, "fresh@x.com");
    r = row_of_person(&m, "00QX");
    assert_int_equal(r->lead_id, 0);
    assert_string_equal(r->email, "Other@x.com ");
    assert_null(row_of_lead(&m, 2));
    assert_null(row_of_person(&m, "00QE"));
    /* Skips: lead 2 (no email), lead 3 (no details), 00QE (no email), 00v5. */
    assert_int_equal(m.n_skips, 4);
    int seen = 0;
    for (size_t i = 0; i < m.n_skips; i++) {
        const people_skip *s = &m.skips[i];
        if (s->mkto && s->lead_id == 2 && strstr(s->reason, "no email"))
            seen |= 1;
        if (s->mkto && s->lead_id == 3 && strstr(s->reason, "no details"))
            seen |= 2;
        if (!s->mkto && s->sf_id && strcmp(s->sf_id, "00QE") == 0 && strstr(s->reason, "no email"))
            seen |= 4;
        if (!s->mkto && strstr(s->reason, "00v5"))
            seen |= 8;
    }
    assert_int_equal(seen, 15);
    people_match_free(&m);
}

static void test_duplicates_skipped(void **state)
{
    /* Two Marketo leads with one email and one Salesforce person; two
     * Salesforce people with one email and no Marketo person. */
    people_mkto_lead leads[] = {LEAD(1, "dup@x.com", NULL, NULL), LEAD(2, "dup@x.com", NULL, NULL)};
    people_sf_person people[] = {CONTACT("003D", "dup@x.com"), SFLEAD("00QA", "twin@x.com"),
                                 SFLEAD("00QB", "twin@x.com")};
    people_mkto_member mm[] = {{1, "Registered", 1}, {2, "Registered", 1}, {1, "Attended", 1}};
    people_sf_member sm[] = {{"00v1", "00QA", NULL, "Registered", 1},
                             {"00v2", "00QB", NULL, "Registered", 1}};
    people_input in = {leads, 2, people, 3, mm, 3, sm, 2};
    people_match m;
    assert_int_equal(people_match_all(&in, &m, NULL), 0);
    assert_int_equal(m.n_rows, 2);
    assert_string_equal(row_of_lead(&m, 1)->sf_person_id, "003D");
    assert_non_null(row_of_person(&m, "00QA"));
    assert_int_equal(m.n_skips, 3);
    assert_non_null(strstr(m.skips[0].reason, "already matched to Marketo lead 1"));
    assert_non_null(strstr(m.skips[1].reason, "appears twice"));
    assert_non_null(strstr(m.skips[2].reason, "only one Marketo person"));
    people_match_free(&m);
}

static void test_bad_input(void **state)
{
    people_mkto_lead leads[] = {LEAD(0, "a@x.com", NULL, NULL)};
    people_input in = {leads, 1, NULL, 0, NULL, 0, NULL, 0};
    people_match m;
    recon_err err;
    assert_int_equal(people_match_all(&in, &m, &err), RECON_EINVAL);
    assert_non_null(strstr(err.msg, "must be > 0"));
    char *huge = calloc(PEOPLE_MAX_TEXT + 2, 1);
    memset(huge, 'a', PEOPLE_MAX_TEXT + 1);
    people_sf_member sm[] = {{"00v1", "00Q1", huge, "Registered", 1}};
    people_input long_email = {NULL, 0, NULL, 0, NULL, 0, sm, 1};
    assert_int_equal(people_match_all(&long_email, &m, &err), RECON_EINVAL);
    assert_non_null(strstr(err.msg, "campaign member is longer than 1024"));
    free(huge);
    people_input none = {0};
    assert_int_equal(people_match_all(&none, &m, &err), 0);
    assert_int_equal(m.n_rows + m.n_skips, 0);
    people_match_free(&m);
}

/* 100,000 members: half matched by link, a quarter by email, the rest new
 * on either side. Checks the result, not the time (the benchmark prints it). */
static void test_hundred_thousand(void **state)
{
    enum { N = 100000 };
    people_mkto_lead *leads = calloc(N, sizeof *leads);
    people_sf_person *people = calloc(N, sizeof *people);
    people_mkto_member *mm = calloc(N, sizeof *mm);
    people_sf_member *sm = calloc(N, sizeof *sm);
    char(*emails)[32] = calloc(N, 32);
    char(*ids)[20] = calloc(N, 20);
    size_t nl = 0, np = 0, nm = 0, ns = 0;
    for (int i = 0; i < N; i++) {
        snprintf(emails[i], 32, "P%06d@Example.com", i);
        snprintf(ids[i], 20, "00Q%015d", i);
        int kind = i % 4; /* 0,1: linked; 2: email; 3: Marketo only */
        leads[nl++] = LEAD(i + 1, emails[i], kind < 2 ? ids[i] : NULL, NULL);
        mm[nm++] = (people_mkto_member){i + 1, "Registered", 1};
        if (kind < 3) {
            people[np++] = SFLEAD(ids[i], emails[i]);
            sm[ns++] = (people_sf_member){ids[i], ids[i], emails[i], "Registered", 1};
        }
    }
    people_input in = {leads, nl, people, np, mm, nm, sm, ns};
    people_match m;
    assert_int_equal(people_match_all(&in, &m, NULL), 0);
    assert_int_equal(m.n_skips, 0);
    assert_int_equal(m.n_rows, N);
    size_t link = 0, email = 0, create = 0;
    for (size_t i = 0; i < m.n_rows; i++) {
        link += m.rows[i].how == PEOPLE_BY_LINK;
        email += m.rows[i].how == PEOPLE_BY_EMAIL;
        create += m.rows[i].sf_person_id == NULL;
        if (m.rows[i].sf_person_id)
            assert_int_equal(m.rows[i].sf_member,
                             m.rows[i].lead_id - 1 - (m.rows[i].lead_id - 1) / 4);
    }
    assert_int_equal(link, N / 2);
    assert_int_equal(email, N / 4);
    assert_int_equal(create, N / 4);
    people_match_free(&m);
    free(leads);
    free(people);
    free(mm);
    free(sm);
    free(emails);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmap),
        cmocka_unit_test(test_normalize_email),
        cmocka_unit_test(test_link_before_email_and_contact_before_lead),
        cmocka_unit_test(test_member_preferred_within_kind),
        cmocka_unit_test(test_creations_and_skips),
        cmocka_unit_test(test_duplicates_skipped),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_hundred_thousand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
