/*
 * BatchResult totals (see batch_result.h).
 */
#include "batch/batch_result.h"

void batch_result_count(Campsync__V1__BatchResult *r, Campsync__V1__Outcome outcome)
{
    switch (outcome) {
    case CAMPSYNC__V1__OUTCOME__OUTCOME_CREATED:
        r->created++;
        break;
    case CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED:
        r->updated++;
        break;
    case CAMPSYNC__V1__OUTCOME__OUTCOME_DELETED:
        r->deleted++;
        break;
    case CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED:
        r->skipped++;
        break;
    case CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED:
        r->failed++;
        break;
    case CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED:
        r->added++;
        break;
    default:
        break;
    }
}

void batch_result_recount(Campsync__V1__BatchResult *r)
{
    r->created = r->updated = r->deleted = r->skipped = r->failed = r->added = 0;
    for (size_t i = 0; i < r->n_results; i++)
        batch_result_count(r, r->results[i]->outcome);
}
