/*
 * Offline touchpoint rules T1-T7, case by case: picklist values, email
 * required, the date of each enable mode, start/end dates (the late
 * trade-show upload), unmapped Types, the record and its id, and the diff
 * that turns Exclude / removal / re-dating into removed / updated, never a
 * duplicate. Also T5's member filter and the date parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "touchpoints.h"

#define DAY 86400000LL

static chmap *map;

static int64_t day(const char *ymd)
{
    int64_t ms = 0;
    assert_int_equal(tp_date_parse(ymd, &ms, NULL), 0);
    return ms;
}

static int setup(void **state)
{
    const chmap_rule rules[] = {{"Tradeshow", "Events", "Trade Show"},
                                {"Webinar", "Events", "Webinar"}};
    return chmap_build(rules, 2, &map, NULL);
}

static int teardown(void **state)
{
    chmap_free(map);
    return 0;
}

static tp_campaign show(tp_enable e)
{
    return (tp_campaign){.id = "701A", .name = "Expo 2026", .type = "Tradeshow", .enable = e};
}

static tp_member member(const char *mid, const char *lead, const char *contact, const char *email)
{
    return (tp_member){.member_id = mid,
                       .lead_id = lead,
                       .contact_id = contact,
                       .email = email,
                       .account_id = "001X",
                       .status = "Attended",
                       .created_ms = day("2026-03-20")};
}

static void picklist_values_parse(void **state)
{
    tp_enable e = TP_ENABLE_ALL;
    attr_error err = {{0}};
    assert_int_equal(tp_enable_parse("Include All Campaign Members", &e, &err), 0);
    assert_int_equal(e, TP_ENABLE_ALL);
    assert_int_equal(tp_enable_parse("Include \"Responded\" Campaign Members", &e, &err), 0);
    assert_int_equal(e, TP_ENABLE_RESPONDED);
    assert_int_equal(tp_enable_parse("Exclude All Campaign Members", &e, &err), 0);
    assert_int_equal(e, TP_ENABLE_EXCLUDE);
    assert_int_equal(tp_enable_parse(NULL, &e, &err), 0);
    assert_int_equal(e, TP_ENABLE_UNSET);
    assert_int_equal(tp_enable_parse("", &e, &err), 0);
    assert_int_equal(e, TP_ENABLE_UNSET);
    assert_int_equal(tp_enable_parse("Include All", &e, &err), -1);
    assert_non_null(strstr(err.msg, "\"Include All\" is not one of"));
}

static void include_all_uses_buyer_date_else_created(void **state)
{
    tp_campaign c = show(TP_ENABLE_ALL);
    tp_member m[2] = {member("00v1", "00Q1", NULL, "a@x.com"),
                      member("00v2", "00Q2", NULL, "b@x.com")};
    m[0].buyer_touchpoint_ms = day("2026-03-10");
    m[1].first_responded_ms = day("2026-03-12"); /* ignored by Include All */
    m[1].has_responded = false;                  /* Include All takes everyone */
    tp_result r;
    assert_int_equal(tp_compute(&c, m, 2, map, &r, NULL), 0);
    assert_int_equal(r.n, 2);
    for (size_t i = 0; i < r.n; i++) {
        if (strcmp(r.items[i].member_id, "00v1") == 0)
            assert_true(r.items[i].at_ms == day("2026-03-10"));
        else
            assert_true(r.items[i].at_ms == day("2026-03-20"));
    }
    tp_result_free(&r);
}

static void include_responded_takes_responders_and_their_date(void **state)
{
    tp_campaign c = show(TP_ENABLE_RESPONDED);
    tp_member m[4] = {
        member("00v1", "00Q1", NULL, "a@x.com"), member("00v2", "00Q2", NULL, "b@x.com"),
        member("00v3", "00Q3", NULL, "c@x.com"), member("00v4", "00Q4", NULL, "d@x.com")};
    m[0].has_responded = true; /* buyer date wins over first responded */
    m[0].buyer_touchpoint_ms = day("2026-03-10");
    m[0].first_responded_ms = day("2026-03-11");
    m[1].has_responded = true; /* first responded wins over created */
    m[1].first_responded_ms = day("2026-03-11");
    m[2].has_responded = true; /* created only */
    m[3].has_responded = false;
    m[3].first_responded_ms = day("2026-03-11"); /* not a responder all the same */
    tp_result r;
    assert_int_equal(tp_compute(&c, m, 4, map, &r, NULL), 0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.skipped_not_responded, 1);
    for (size_t i = 0; i < r.n; i++) {
        const tp_touchpoint *t = &r.items[i];
        int64_t want = strcmp(t->member_id, "00v1") == 0   ? day("2026-03-10")
                       : strcmp(t->member_id, "00v2") == 0 ? day("2026-03-11")
                                                           : day("2026-03-20");
        assert_true(t->at_ms == want);
        assert_string_not_equal(t->member_id, "00v4");
    }
    tp_result_free(&r);
}

static void exclude_and_unset_yield_nothing(void **state)
{
    tp_member m = member("00v1", "00Q1", NULL, "a@x.com");
    tp_enable modes[2] = {TP_ENABLE_EXCLUDE, TP_ENABLE_UNSET};
    for (int i = 0; i < 2; i++) {
        tp_campaign c = show(modes[i]);
        tp_result r;
        assert_int_equal(tp_compute(&c, &m, 1, map, &r, NULL), 0);
        assert_int_equal(r.n, 0);
        assert_int_equal(r.skipped_excluded, 1);
        assert_false(r.online);
        tp_result_free(&r);
    }
}

static void email_is_required(void **state)
{
    tp_campaign c = show(TP_ENABLE_ALL);
    tp_member m[3] = {member("00v1", "00Q1", NULL, NULL), member("00v2", "00Q2", NULL, ""),
                      member("00v3", "00Q3", NULL, "c@x.com")};
    tp_result r;
    assert_int_equal(tp_compute(&c, m, 3, map, &r, NULL), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.skipped_no_email, 2);
    assert_string_equal(r.items[0].member_id, "00v3");
    tp_result_free(&r);
}

/* The SPEC's example: a trade show on 10 March, uploaded three weeks late
 * (CreatedDate 31 March), after the end date (15 March) on which online
 * tracking took over. Back-dated with Buyer Touchpoint Date it still counts:
 * T4 judges the touchpoint date, not the upload. */
static void late_trade_show_upload_counts_on_show_day(void **state)
{
    tp_campaign c = show(TP_ENABLE_ALL);
    c.start_ms = day("2026-03-01");
    c.end_ms = day("2026-03-15");
    tp_member m[5] = {
        member("00v1", "00Q1", NULL, "a@x.com"), member("00v2", "00Q2", NULL, "b@x.com"),
        member("00v3", "00Q3", NULL, "c@x.com"), member("00v4", "00Q4", NULL, "d@x.com"),
        member("00v5", "00Q5", NULL, "e@x.com")};
    for (int i = 0; i < 5; i++)
        m[i].created_ms = day("2026-03-31");
    m[0].buyer_touchpoint_ms = day("2026-03-10");     /* show day: kept */
    m[1].buyer_touchpoint_ms = day("2026-02-28");     /* before start: none */
    m[2].buyer_touchpoint_ms = day("2026-03-15");     /* on the end date: none */
    m[3].buyer_touchpoint_ms = day("2026-03-15") - 1; /* last ms before end: kept */
    m[4].buyer_touchpoint_ms = day("2026-03-01");     /* on the start date: kept */
    tp_result r;
    assert_int_equal(tp_compute(&c, m, 5, map, &r, NULL), 0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.skipped_out_of_range, 2);
    int found = 0;
    for (size_t i = 0; i < r.n; i++) {
        assert_string_not_equal(r.items[i].member_id, "00v2");
        assert_string_not_equal(r.items[i].member_id, "00v3");
        if (strcmp(r.items[i].member_id, "00v1") == 0) {
            assert_true(r.items[i].at_ms == day("2026-03-10"));
            found = 1;
        }
    }
    assert_true(found);
    tp_result_free(&r);

    /* Without the back-dating the upload is after the end date: none. */
    m[0].buyer_touchpoint_ms = 0;
    assert_int_equal(tp_compute(&c, m, 1, map, &r, NULL), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.skipped_out_of_range, 1);
    tp_result_free(&r);
}

static void unmapped_type_is_online(void **state)
{
    tp_campaign c = show(TP_ENABLE_ALL);
    c.type = "Paid Search";
    tp_member m = member("00v1", "00Q1", NULL, "a@x.com");
    tp_result r;
    assert_int_equal(tp_compute(&c, &m, 1, map, &r, NULL), 0);
    assert_true(r.online);
    assert_int_equal(r.n, 0);
    tp_result_free(&r);
    c.type = NULL;
    assert_int_equal(tp_compute(&c, &m, 1, map, &r, NULL), 0);
    assert_true(r.online);
    assert_int_equal(r.n, 0);
    tp_result_free(&r);
}

static void record_carries_every_field(void **state)
{
    tp_campaign c = show(TP_ENABLE_ALL);
    tp_member m = member("00v1", "00Q1", "003C", "a@x.com");
    tp_result r;
    assert_int_equal(tp_compute(&c, &m, 1, map, &r, NULL), 0);
    assert_int_equal(r.n, 1);
    const tp_touchpoint *t = &r.items[0];
    char want[TP_ID_LEN + 1];
    tp_make_id("701A", "003C", want); /* contact is the person once converted */
    assert_string_equal(t->id, want);
    assert_int_equal(strlen(t->id), TP_ID_LEN);
    assert_memory_equal(t->id, "crm-", 4);
    assert_string_equal(t->person_id, "003C");
    assert_string_equal(t->member_id, "00v1");
    assert_string_equal(t->email, "a@x.com");
    assert_string_equal(t->account_id, "001X");
    assert_string_equal(t->channel, "Events");
    assert_string_equal(t->subchannel, "Trade Show");
    assert_string_equal(t->medium, "Tradeshow");
    assert_string_equal(t->campaign_id, "701A");
    assert_string_equal(t->campaign_name, "Expo 2026");
    assert_string_equal(TP_SOURCE, "CRM Campaign");
    assert_string_equal(TP_TYPE, "CRM");
    tp_result_free(&r);
}

static void ids_are_deterministic_and_distinct(void **state)
{
    char a[TP_ID_LEN + 1], b[TP_ID_LEN + 1], c[TP_ID_LEN + 1], d[TP_ID_LEN + 1];
    tp_make_id("701A", "00Q1", a);
    tp_make_id("701A", "00Q1", b);
    assert_string_equal(a, b);
    tp_make_id("701B", "00Q1", c);
    assert_string_not_equal(a, c);
    /* field boundaries matter: ("701A0", "0Q1") is not ("701A", "00Q1") */
    tp_make_id("701A0", "0Q1", d);
    assert_string_not_equal(a, d);
    /* pinned: ids are external ids in Salesforce and Redis keys, so they
     * must not change between releases */
    tp_make_id("701A", "00Q1", d);
    assert_string_equal(d, "crm-ca165c6ee70b5f9c265796c253d747b6");
}

static void one_person_two_members_is_one_touchpoint(void **state)
{
    tp_campaign c = show(TP_ENABLE_ALL);
    /* the converted lead's member and a separate member for its contact */
    tp_member m[2] = {member("00v9", "00Q1", "003C", "a@x.com"),
                      member("00v2", NULL, "003C", "a@x.com")};
    m[0].buyer_touchpoint_ms = day("2026-03-10");
    m[1].buyer_touchpoint_ms = day("2026-03-12");
    tp_result r;
    assert_int_equal(tp_compute(&c, m, 2, map, &r, NULL), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.merged_same_person, 1);
    assert_string_equal(r.items[0].member_id, "00v9"); /* the earlier date */
    tp_result_free(&r);
}

static void deleted_and_personless_members_get_none(void **state)
{
    tp_campaign c = show(TP_ENABLE_ALL);
    tp_member m[3] = {member("00v1", "00Q1", NULL, "a@x.com"), member("00v2", NULL, "", "b@x.com"),
                      member("00v3", "00Q3", NULL, "c@x.com")};
    m[0].is_deleted = true;
    m[2].created_ms = 0;
    tp_result r;
    assert_int_equal(tp_compute(&c, m, 3, map, &r, NULL), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.skipped_deleted, 1);
    assert_int_equal(r.skipped_no_person, 1);
    assert_int_equal(r.skipped_no_date, 1);
    tp_result_free(&r);
    tp_campaign bad = c;
    bad.id = "";
    attr_error err = {{0}};
    assert_int_equal(tp_compute(&bad, m, 3, map, &r, &err), -1);
    assert_string_equal(err.msg, "campaign has no id");
}

static tp_result compute(const tp_campaign *c, const tp_member *m, size_t n)
{
    tp_result r;
    assert_int_equal(tp_compute(c, m, n, map, &r, NULL), 0);
    return r;
}

static void diff_redate_remove_exclude_never_duplicates(void **state)
{
    tp_campaign c = show(TP_ENABLE_ALL);
    tp_member m[3] = {member("00v1", "00Q1", NULL, "a@x.com"),
                      member("00v2", "00Q2", NULL, "b@x.com"),
                      member("00v3", "00Q3", NULL, "c@x.com")};
    tp_result r0 = compute(&c, m, 3);

    /* Same input again: all unchanged. */
    tp_result r1 = compute(&c, m, 3);
    tp_diff d;
    assert_int_equal(tp_diff_compute(r0.items, r0.n, r1.items, r1.n, &d, NULL), 0);
    assert_int_equal(d.n_created + d.n_updated + d.n_removed, 0);
    assert_int_equal(d.unchanged, 3);
    tp_diff_free(&d);
    tp_result_free(&r1);

    /* T5 after enabling: bulk re-date member 1; member 3 leaves; member 4 joins. */
    tp_member m2[3] = {m[0], m[1], member("00v4", "00Q4", NULL, "d@x.com")};
    tp_bulk_filter f = {
        .has_responded = -1, .member_ids = (const char *const[]){"00v1"}, .n_member_ids = 1};
    for (int i = 0; i < 3; i++)
        if (tp_bulk_matches(&f, &m2[i]))
            m2[i].buyer_touchpoint_ms = day("2026-03-10");
    tp_result r2 = compute(&c, m2, 3);
    assert_int_equal(r2.n, 3);
    assert_int_equal(tp_diff_compute(r0.items, r0.n, r2.items, r2.n, &d, NULL), 0);
    assert_int_equal(d.n_updated, 1);
    assert_string_equal(r2.items[d.updated[0]].member_id, "00v1");
    assert_true(r2.items[d.updated[0]].at_ms == day("2026-03-10"));
    assert_int_equal(d.n_removed, 1);
    assert_string_equal(r0.items[d.removed[0]].member_id, "00v3");
    assert_int_equal(d.n_created, 1);
    assert_string_equal(r2.items[d.created[0]].member_id, "00v4");
    assert_int_equal(d.unchanged, 1);
    tp_diff_free(&d);

    /* Switch to Exclude: everything it produced is removed. */
    c.enable = TP_ENABLE_EXCLUDE;
    tp_result r3 = compute(&c, m2, 3);
    assert_int_equal(tp_diff_compute(r2.items, r2.n, r3.items, r3.n, &d, NULL), 0);
    assert_int_equal(d.n_removed, 3);
    assert_int_equal(d.n_created + d.n_updated + d.unchanged, 0);
    tp_diff_free(&d);
    tp_result_free(&r3);

    /* A set with an id twice is refused. */
    tp_touchpoint dup[2] = {r2.items[0], r2.items[0]};
    attr_error err = {{0}};
    assert_int_equal(tp_diff_compute(dup, 2, r2.items, r2.n, &d, &err), -1);
    assert_non_null(strstr(err.msg, "appears twice in the old set"));
    assert_int_equal(tp_diff_compute(r2.items, r2.n, dup, 2, &d, &err), -1);
    assert_non_null(strstr(err.msg, "appears twice in the new set"));
    tp_result_free(&r2);
    tp_result_free(&r0);
}

static void bulk_filter_criteria(void **state)
{
    tp_member m = member("00v1", "00Q1", NULL, "a@x.com");
    m.has_responded = true;
    tp_bulk_filter any = {.has_responded = -1};
    assert_true(tp_bulk_matches(&any, &m));
    const char *st[] = {"Sent", "Attended"};
    tp_bulk_filter f = {.statuses = st, .n_statuses = 2, .has_responded = 1};
    assert_true(tp_bulk_matches(&f, &m));
    m.status = "Registered";
    assert_false(tp_bulk_matches(&f, &m));
    m.status = "Attended";
    f.has_responded = 0;
    assert_false(tp_bulk_matches(&f, &m));
    f.has_responded = -1;
    f.created_from_ms = day("2026-03-20");
    f.created_to_ms = day("2026-03-21");
    assert_true(tp_bulk_matches(&f, &m));
    f.created_to_ms = day("2026-03-20"); /* to is exclusive */
    assert_false(tp_bulk_matches(&f, &m));
    f.created_to_ms = 0;
    m.is_deleted = true;
    assert_false(tp_bulk_matches(&f, &m));
}

static void dates_parse_strictly(void **state)
{
    int64_t ms = -1;
    attr_error err = {{0}};
    assert_int_equal(tp_date_parse("1970-01-01", &ms, &err), 0);
    assert_true(ms == 0);
    assert_int_equal(tp_date_parse("2024-02-29", &ms, &err), 0);
    assert_true(ms == 1709164800000LL);
    assert_true(day("2026-03-01") - day("2026-02-28") == DAY);
    assert_int_equal(tp_date_parse("2023-02-29", &ms, &err), -1);
    assert_string_equal(err.msg, "date \"2023-02-29\" does not exist");
    assert_int_equal(tp_date_parse("2026-3-1", &ms, &err), -1);
    assert_string_equal(err.msg, "date \"2026-3-1\" is not YYYY-MM-DD");
    assert_int_equal(tp_date_parse("2026-13-01", &ms, &err), -1);
    assert_int_equal(tp_date_parse(NULL, &ms, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(picklist_values_parse),
        cmocka_unit_test(include_all_uses_buyer_date_else_created),
        cmocka_unit_test(include_responded_takes_responders_and_their_date),
        cmocka_unit_test(exclude_and_unset_yield_nothing),
        cmocka_unit_test(email_is_required),
        cmocka_unit_test(late_trade_show_upload_counts_on_show_day),
        cmocka_unit_test(unmapped_type_is_online),
        cmocka_unit_test(record_carries_every_field),
        cmocka_unit_test(ids_are_deterministic_and_distinct),
        cmocka_unit_test(one_person_two_members_is_one_touchpoint),
        cmocka_unit_test(deleted_and_personless_members_get_none),
        cmocka_unit_test(diff_redate_remove_exclude_never_duplicates),
        cmocka_unit_test(bulk_filter_criteria),
        cmocka_unit_test(dates_parse_strictly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
