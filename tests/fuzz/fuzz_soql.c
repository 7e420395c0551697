/*
 * Fuzz target for the Salesforce simulator's SOQL: any input is parsed, and
 * what parses is also compiled and run against a small org, so name
 * resolution, literal checks, evaluation, sorting and paging all see hostile
 * queries. Must never crash, leak or read out of bounds.
 */
#include "sf_query.h"
#include "sf_store.h"
#include "soql.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *org_json =
    "{\"integration_user\":\"005000000000001\",\"custom_fields\":{\"CampaignMember\":"
    "[\"Buyer_Touchpoint_Date__c\",\"Note__c\"]},\"records\":{"
    "\"User\":[{\"Id\":\"005000000000001\",\"Username\":\"a@x.com\",\"LastName\":\"A\","
    "\"UserPermissionsMarketingUser\":true}],"
    "\"Lead\":[{\"Id\":\"00Q000000000001\",\"LastName\":\"L\",\"Company\":\"C\",\"Email\":"
    "\"l@x.com\"},{\"Id\":\"00Q000000000002\",\"LastName\":\"M\",\"Company\":\"C\"}],"
    "\"Contact\":[{\"Id\":\"003000000000001\",\"LastName\":\"K\",\"Email\":\"k@x.com\"}],"
    "\"Campaign\":[{\"Id\":\"701000000000001\",\"Name\":\"W\",\"StartDate\":\"2026-01-01\"}],"
    "\"CampaignMember\":[{\"CampaignId\":\"701000000000001\",\"LeadId\":\"00Q000000000001\","
    "\"Note__c\":5},{\"CampaignId\":\"701000000000001\",\"ContactId\":\"003000000000001\","
    "\"Note__c\":\"x\",\"Buyer_Touchpoint_Date__c\":\"2026-02-01\"},"
    "{\"CampaignId\":\"701000000000001\",\"LeadId\":\"00Q000000000002\",\"IsDeleted\":true}]}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sfs_state *st;
    if (!st) {
        json_t *j = json_loads(org_json, 0, NULL);
        char err[256];
        st = sfs_store_create(j, 1, err, sizeof err);
        json_decref(j);
        if (!st)
            abort();
    }
    char *q = malloc(size + 1);
    if (!q)
        return 0;
    memcpy(q, data, size);
    q[size] = '\0';
    sfq_query *parsed = NULL;
    sfq_error err;
    if (sfq_parse(q, &parsed, &err) == 0) {
        sfq_free(parsed);
        for (int all = 0; all < 2; all++) {
            char *text = NULL;
            int status = sfs_query_run(st, q, all, "v60.0", 200, "005000000000001AAA", 0, &text);
            json_t *body = text ? json_loads(text, 0, NULL) : NULL;
            if (!body || (status != 200 && status != 400))
                abort(); /* always a status and a valid JSON answer */
            json_decref(body);
            free(text);
        }
    } else if (!err.code[0] || !err.message[0]) {
        abort(); /* every failure must say why */
    }
    sfs_query_close_all(st);
    free(q);
    return 0;
}
