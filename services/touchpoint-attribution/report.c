/*
 * Report aggregation (see report.h): one pass over the attributed journey
 * entries into arrays indexed by the group key, then the non-empty keys are
 * sorted. Distinct opportunities per key come from remembering the last
 * opportunity that touched each key (opportunities are visited in order).
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

int attr_group_by_parse(const char *s, attr_group_by *out, attr_error *err)
{
    if (s && strcmp(s, "channel") == 0)
        *out = ATTR_GROUP_CHANNEL;
    else if (s && strcmp(s, "subchannel") == 0)
        *out = ATTR_GROUP_SUBCHANNEL;
    else if (s && strcmp(s, "campaign") == 0)
        *out = ATTR_GROUP_CAMPAIGN;
    else
        return attr_error_set(err, "group_by \"%s\" is not channel, subchannel or campaign",
                              s ? s : "");
    return 0;
}

static uint32_t key_of(const attr_dim *d, attr_group_by g)
{
    return g == ATTR_GROUP_CHANNEL      ? d->channel
           : g == ATTR_GROUP_SUBCHANNEL ? d->subchannel
                                        : d->campaign;
}

static int cmp_row(const void *a, const void *b)
{
    const attr_report_row *x = a, *y = b;
    if (x->revenue_minor != y->revenue_minor)
        return x->revenue_minor > y->revenue_minor ? -1 : 1;
    if (x->touches != y->touches)
        return x->touches > y->touches ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

int attr_report_build(const attr_dataset *ds, const attr_result *r, attr_group_by g,
                      int64_t from_ms, int64_t to_ms, attr_report *out, attr_error *err)
{
    memset(out, 0, sizeof *out);
    if (r->n_journey != ds->n_journey || r->n_opps != ds->n_opps)
        return attr_error_set(err, "attribution result does not belong to this dataset");
    if (g != ATTR_GROUP_CHANNEL && g != ATTR_GROUP_SUBCHANNEL && g != ATTR_GROUP_CAMPAIGN)
        return attr_error_set(err, "unknown report grouping %d", (int)g);
    if (from_ms && to_ms && to_ms <= from_ms)
        return attr_error_set(err, "report range is empty: to (%lld) is not after from (%lld)",
                              (long long)to_ms, (long long)from_ms);
    uint64_t nkeys = 0;
    for (size_t d = 0; d < ds->n_dims; d++) {
        uint32_t k = key_of(&ds->dims[d], g);
        if ((uint64_t)k + 1 > nkeys)
            nkeys = (uint64_t)k + 1;
    }
    attr_report_row *acc = calloc(nkeys ? nkeys : 1, sizeof *acc);
    size_t *last_opp = calloc(nkeys ? nkeys : 1, sizeof *last_opp);
    if (!acc || !last_opp) {
        free(acc);
        free(last_opp);
        return attr_error_set(err, "out of memory for a report over %llu keys",
                              (unsigned long long)nkeys);
    }
    int rc = 0;
    for (size_t o = 0; o < ds->n_opps && rc == 0; o++) {
        const attr_opp *op = &ds->opps[o];
        for (uint32_t k = 0; k < r->n_in[o]; k++) {
            size_t e = op->first + k;
            if (r->ppm[e] == 0)
                continue;
            const attr_touch *t = &ds->touches[ds->journey[e]];
            if ((from_ms && t->at_ms < from_ms) || (to_ms && t->at_ms >= to_ms))
                continue;
            attr_report_row *row = &acc[key_of(&ds->dims[t->dim], g)];
            if (__builtin_add_overflow(row->revenue_minor, r->revenue[e], &row->revenue_minor) ||
                __builtin_add_overflow(out->total_revenue_minor, r->revenue[e],
                                       &out->total_revenue_minor)) {
                rc = attr_error_set(err, "report revenue overflows 64 bits");
                break;
            }
            row->touches++;
            out->total_touches++;
            uint32_t key = key_of(&ds->dims[t->dim], g);
            if (last_opp[key] != o + 1) {
                last_opp[key] = o + 1;
                row->opportunities++;
            }
        }
    }
    free(last_opp);
    if (rc != 0) {
        free(acc);
        memset(out, 0, sizeof *out);
        return rc;
    }
    size_t n = 0;
    for (uint64_t k = 0; k < nkeys; k++) {
        if (!acc[k].touches)
            continue;
        acc[k].key = (uint32_t)k;
        acc[n++] = acc[k];
    }
    qsort(acc, n, sizeof *acc, cmp_row);
    out->rows = acc;
    out->n_rows = n;
    return 0;
}

void attr_report_free(attr_report *rep)
{
    free(rep->rows);
    memset(rep, 0, sizeof *rep);
}
