/*
 * Configurable touchpoint field names (see sf_fields.h).
 */
#include "sf_fields.h"

#include <stdio.h>
#include <string.h>

#include "soql.h"

static char names_buf[4][128] = {"Enable_Buyer_Touchpoints__c", "Touchpoint_Start_Date__c",
                                 "Touchpoint_End_Date__c", "Buyer_Touchpoint_Date__c"};
static sf_field_names names = {names_buf[0], names_buf[1], names_buf[2], names_buf[3]};

const sf_field_names *sf_fields(void)
{
    return &names;
}

int sf_fields_set(const sf_field_names *in, sf_err *err)
{
    const char *given[4] = {in->enable_buyer_touchpoints, in->touchpoint_start_date,
                            in->touchpoint_end_date, in->buyer_touchpoint_date};
    for (int i = 0; i < 4; i++) {
        if (!given[i] || !given[i][0])
            continue;
        if (soql_check_name(given[i], false, err) != 0)
            return -1;
        if (strlen(given[i]) >= sizeof names_buf[i])
            return sf_err_set(err, "field name too long: %s", given[i]);
    }
    for (int i = 0; i < 4; i++)
        if (given[i] && given[i][0])
            snprintf(names_buf[i], sizeof names_buf[i], "%s", given[i]);
    return 0;
}
