/*
 * Channel map (SPEC T6): one Type -> one subchannel, one subchannel -> one
 * Type, channels shared, empty fields and every clash rejected with a message
 * naming it; lookups exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "channel_map.h"

static void valid_map_looks_up_types(void **state)
{
    const chmap_rule rules[] = {
        {"Webinar", "Events", "Webinar"},
        {"Tradeshow", "Events", "Trade Show"},
        {"Direct Mail", "Offline", "Direct Mail"},
    };
    chmap *m = NULL;
    attr_error err = {{0}};
    assert_int_equal(chmap_build(rules, 3, &m, &err), 0);
    const chmap_rule *r = chmap_lookup(m, "Tradeshow");
    assert_non_null(r);
    assert_string_equal(r->channel, "Events");
    assert_string_equal(r->subchannel, "Trade Show");
    /* many Types share the Events channel */
    assert_string_equal(chmap_lookup(m, "Webinar")->channel, "Events");
    /* unmapped, and matching is exact */
    assert_null(chmap_lookup(m, "Paid Search"));
    assert_null(chmap_lookup(m, "tradeshow"));
    assert_null(chmap_lookup(m, "Tradeshow "));
    assert_null(chmap_lookup(m, NULL));
    /* listed sorted by Type */
    assert_int_equal(chmap_count(m), 3);
    assert_string_equal(chmap_rule_at(m, 0)->campaign_type, "Direct Mail");
    assert_string_equal(chmap_rule_at(m, 1)->campaign_type, "Tradeshow");
    assert_string_equal(chmap_rule_at(m, 2)->campaign_type, "Webinar");
    assert_null(chmap_rule_at(m, 3));
    chmap_free(m);
}

static void map_owns_its_strings(void **state)
{
    char type[] = "Tradeshow", ch[] = "Events", sub[] = "Trade Show";
    chmap_rule rule = {type, ch, sub};
    chmap *m = NULL;
    assert_int_equal(chmap_build(&rule, 1, &m, NULL), 0);
    memset(type, 'x', sizeof type - 1);
    memset(sub, 'y', sizeof sub - 1);
    assert_null(chmap_lookup(m, type));
    assert_string_equal(chmap_lookup(m, "Tradeshow")->subchannel, "Trade Show");
    chmap_free(m);
}

static void empty_rule_set_means_all_online(void **state)
{
    chmap *m = NULL;
    assert_int_equal(chmap_build(NULL, 0, &m, NULL), 0);
    assert_int_equal(chmap_count(m), 0);
    assert_null(chmap_lookup(m, "Tradeshow"));
    chmap_free(m);
}

static void subchannel_from_two_types_is_rejected(void **state)
{
    const chmap_rule rules[] = {
        {"Tradeshow", "Events", "Trade Show"},
        {"Webinar", "Events", "Webinar"},
        {"Conference", "Events", "Trade Show"},
    };
    chmap *m = (chmap *)1;
    attr_error err = {{0}};
    assert_int_equal(chmap_build(rules, 3, &m, &err), -1);
    assert_null(m);
    assert_string_equal(err.msg,
                        "subchannel \"Trade Show\" is mapped from both Type \"Conference\" and "
                        "Type \"Tradeshow\"");
}

static void type_to_two_subchannels_is_rejected(void **state)
{
    const chmap_rule rules[] = {
        {"Tradeshow", "Events", "Trade Show"},
        {"Tradeshow", "Field", "Booth"},
    };
    chmap *m = NULL;
    attr_error err = {{0}};
    assert_int_equal(chmap_build(rules, 2, &m, &err), -1);
    assert_null(m);
    assert_non_null(strstr(err.msg, "Type \"Tradeshow\" is mapped to both subchannel"));
    assert_non_null(strstr(err.msg, "\"Trade Show\""));
    assert_non_null(strstr(err.msg, "\"Booth\""));

    const chmap_rule twice[] = {
        {"Tradeshow", "Events", "Trade Show"},
        {"Tradeshow", "Events", "Trade Show"},
    };
    assert_int_equal(chmap_build(twice, 2, &m, &err), -1);
    assert_string_equal(err.msg, "Type \"Tradeshow\" is listed twice");
}

static void empty_fields_are_rejected(void **state)
{
    chmap *m = NULL;
    attr_error err = {{0}};
    const chmap_rule no_type[] = {{"Webinar", "Events", "Webinar"}, {"", "Events", "X"}};
    assert_int_equal(chmap_build(no_type, 2, &m, &err), -1);
    assert_string_equal(err.msg, "channel rule 2 has an empty campaign Type");

    const chmap_rule blank_type = {"  ", "Events", "X"};
    assert_int_equal(chmap_build(&blank_type, 1, &m, &err), -1);
    assert_string_equal(err.msg, "channel rule 1 has an empty campaign Type");

    const chmap_rule no_channel = {"Webinar", NULL, "Webinar"};
    assert_int_equal(chmap_build(&no_channel, 1, &m, &err), -1);
    assert_string_equal(err.msg, "Type \"Webinar\" is mapped to an empty channel");

    const chmap_rule no_sub = {"Webinar", "Events", ""};
    assert_int_equal(chmap_build(&no_sub, 1, &m, &err), -1);
    assert_non_null(strstr(err.msg, "Type \"Webinar\" is mapped to an empty subchannel"));
    assert_null(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_map_looks_up_types),
        cmocka_unit_test(map_owns_its_strings),
        cmocka_unit_test(empty_rule_set_means_all_online),
        cmocka_unit_test(subchannel_from_two_types_is_rejected),
        cmocka_unit_test(type_to_two_subchannels_is_rejected),
        cmocka_unit_test(empty_fields_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
