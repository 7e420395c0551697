/*
 * Configurable touchpoint field names (SPEC section 2): once set, the record
 * mappers read and the body builders write the org's own field names, and
 * names that are not API names are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sf_batch.h"
#include "sf_fields.h"
#include "sf_json.h"

static void bad_names_are_refused(void **state)
{
    (void)state;
    sf_err e = {{0}};
    sf_field_names bad = {.enable_buyer_touchpoints = "Enable' OR Id != null"};
    assert_int_equal(sf_fields_set(&bad, &e), -1);
    assert_true(e.msg[0] != '\0');
    /* Nothing changed. */
    assert_string_equal(sf_fields()->enable_buyer_touchpoints, "Enable_Buyer_Touchpoints__c");
}

static void mappers_and_bodies_follow_the_names(void **state)
{
    (void)state;
    sf_err e = {{0}};
    sf_field_names names = {.enable_buyer_touchpoints = "BT_Enable__c",
                            .buyer_touchpoint_date = "BT_Date__c"};
    assert_int_equal(sf_fields_set(&names, &e), 0);
    assert_string_equal(sf_fields()->touchpoint_start_date, "Touchpoint_Start_Date__c");

    json_error_t je;
    json_t *rec =
        json_loads("{\"attributes\":{\"type\":\"Campaign\"},\"Id\":\"701Dn00000000G8IAI\","
                   "\"BT_Enable__c\":\"Exclude All Campaign Members\","
                   "\"Enable_Buyer_Touchpoints__c\":\"Include All Campaign Members\"}",
                   0, &je);
    Campsync__V1__Campaign *c = NULL;
    assert_int_equal(sf_campaign_from_json(rec, "records[0]", &c, &e), 0);
    assert_string_equal(c->enable_buyer_touchpoints, "Exclude All Campaign Members");
    protobuf_c_message_free_unpacked(&c->base, NULL);
    json_decref(rec);

    const char *ids[] = {"00vDn00000000G8IAI"};
    char *body =
        sf_body_set_member_field(sf_fields()->buyer_touchpoint_date, "2026-01-15", ids, 1, &e);
    assert_non_null(body);
    assert_non_null(strstr(body, "\"BT_Date__c\":\"2026-01-15\""));
    free(body);

    Campsync__V1__OptString v = CAMPSYNC__V1__OPT_STRING__INIT;
    v.value = "Include All Campaign Members";
    Campsync__V1__CampaignUpdate u = CAMPSYNC__V1__CAMPAIGN_UPDATE__INIT;
    u.id = "701Dn00000000G8IAI";
    u.enable_buyer_touchpoints = &v;
    Campsync__V1__CampaignUpdate *us[] = {&u};
    body = sf_body_campaign_updates(us, 1, &e);
    assert_non_null(body);
    assert_non_null(strstr(body, "\"BT_Enable__c\""));
    assert_null(strstr(body, "Enable_Buyer_Touchpoints__c"));
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_names_are_refused),
        cmocka_unit_test(mappers_and_bodies_follow_the_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
