/*
 * Fuzzes every Salesforce response reader with the same bytes: query pages
 * and all record mappers, the OAuth answer, sObject Collections results, the
 * error body parser and the Sforce-Limit-Info header. None may crash, leak or
 * read out of bounds, and every message tree they build must free cleanly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sf_errors.h"
#include "sf_json.h"
#include "sf_limits.h"

#define FREE(m) protobuf_c_message_free_unpacked(&(m)->base, NULL)

static void pages(const char *body, size_t len)
{
    sf_page page;
    sf_err err;
    if (sf_page_parse(body, len, &page, &err) != 0)
        return;
    Campsync__V1__CampaignList *cl = sf_msg_new(&campsync__v1__campaign_list__descriptor);
    Campsync__V1__CampaignMemberPage *mp =
        sf_msg_new(&campsync__v1__campaign_member_page__descriptor);
    Campsync__V1__MemberStatusList *sl = sf_msg_new(&campsync__v1__member_status_list__descriptor);
    Campsync__V1__PersonList *pl = sf_msg_new(&campsync__v1__person_list__descriptor);
    Campsync__V1__OpportunityList *ol = sf_msg_new(&campsync__v1__opportunity_list__descriptor);
    sf_campaigns_append(&page, cl, &err);
    sf_members_append(&page, mp, &err);
    sf_member_statuses_append(&page, sl, &err);
    sf_people_append(&page, "Lead", pl, &err);
    sf_opportunities_append(&page, ol, &err);
    /* Whatever was built must pack (all fields valid) and free. */
    size_t n = campsync__v1__campaign_member_page__get_packed_size(mp);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf)
        campsync__v1__campaign_member_page__pack(mp, buf);
    free(buf);
    FREE(cl);
    FREE(mp);
    FREE(sl);
    FREE(pl);
    FREE(ol);
    for (size_t i = 0; i < json_array_size(page.records); i++) {
        Campsync__V1__MarketingUserCheck *u;
        if (sf_user_from_json(json_array_get(page.records, i), "records[i]", &u, &err) == 0)
            FREE(u);
    }
    sf_page_clear(&page);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    pages(body, size);

    sf_token tok;
    sf_err err;
    if (sf_token_parse(body, size, &tok, &err) == 0)
        sf_token_clear(&tok);

    Campsync__V1__BatchResult *acc = sf_msg_new(&campsync__v1__batch_result__descriptor);
    for (size_t n = 0; n < 4; n++)
        sf_collection_results_append(body, size, (sf_op)(n % 5), NULL, n, (int32_t)n, acc, &err);
    FREE(acc);

    char *id;
    if (sf_create_result_parse(body, size, &id, &err) == 0)
        free(id);

    sf_api_error e;
    sf_api_error_parse(400, body, size, &e);
    sf_error_classify(&e);
    char msg[256];
    sf_error_status_message(&e, msg, sizeof msg);

    char *text = strndup(body, size);
    if (text) {
        sf_api_usage u;
        sf_limits_parse(text, &u, &err);
        int64_t v;
        sf_parse_datetime(text, &v, &err);
        sf_decimal_to_minor(text, &v, &err);
        free(text);
    }
    return 0;
}
