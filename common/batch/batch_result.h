/*
 * Totals of a campsync.v1.BatchResult, kept in one place: every batch call
 * of every service reports created / updated / deleted / skipped / failed /
 * added counts beside its per-record results.
 */
#ifndef CAMPSYNC_BATCH_RESULT_H
#define CAMPSYNC_BATCH_RESULT_H

#include "campsync/v1/common.pb-c.h"

/* Adds one record with this outcome to r's totals (UNSPECIFIED counts nowhere). */
void batch_result_count(Campsync__V1__BatchResult *r, Campsync__V1__Outcome outcome);

/* Recomputes r's totals from r->results. */
void batch_result_recount(Campsync__V1__BatchResult *r);

#endif
