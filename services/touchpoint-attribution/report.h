/*
 * A4 reports: revenue and touch counts per channel, subchannel or campaign
 * under one model's attribution, over touches whose date is in [from, to).
 * A touch counts when its weight is non-zero (so counts differ by model, as
 * credited touches do); an opportunity counts once per group it credits.
 * Keys are the interned ids of dataset.h; the caller turns them into names.
 */
#ifndef ATTR_REPORT_H
#define ATTR_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "attr_error.h"
#include "attribute.h"
#include "dataset.h"

typedef enum attr_group_by {
    ATTR_GROUP_CHANNEL,
    ATTR_GROUP_SUBCHANNEL,
    ATTR_GROUP_CAMPAIGN,
} attr_group_by;

/* "channel", "subchannel" or "campaign" (the proto's group_by). */
int attr_group_by_parse(const char *s, attr_group_by *out, attr_error *err);

typedef struct attr_report_row {
    uint32_t key;
    int64_t revenue_minor;
    uint64_t touches;
    uint64_t opportunities;
} attr_report_row;

typedef struct attr_report {
    attr_report_row *rows; /* by revenue desc, then touches desc, then key */
    size_t n_rows;
    int64_t total_revenue_minor;
    uint64_t total_touches;
} attr_report;

/* from_ms / to_ms 0 = unbounded on that side. r must come from attr_run (or
 * attr_run_range over every opportunity) on the same ds. */
int attr_report_build(const attr_dataset *ds, const attr_result *r, attr_group_by g,
                      int64_t from_ms, int64_t to_ms, attr_report *out, attr_error *err);
void attr_report_free(attr_report *rep);

#endif
