/*
 * The org's daily API budget as Salesforce reports it. Every REST response
 * carries `Sforce-Limit-Info: api-usage=N/M` (sometimes with more entries,
 * e.g. `per-app-api-usage=17/250(appName=sample-connected-app)`); the
 * connector keeps the latest figures and refuses new work once the share
 * used passes a threshold, so the org keeps headroom for its other
 * integrations and campsync fails clearly instead of hitting
 * REQUEST_LIMIT_EXCEEDED half-way through a batch.
 */
#ifndef SF_LIMITS_H
#define SF_LIMITS_H

#include "sf_errors.h"

#include <stdbool.h>
#include <stdint.h>

/* Refuse new work at or above this share of the daily limit, in percent. */
#define SF_LIMITS_DEFAULT_THRESHOLD_PCT 90.0

typedef struct sf_api_usage {
    int64_t used;  /* calls used in the rolling 24 hours */
    int64_t limit; /* calls allowed (> 0 after a successful parse) */
} sf_api_usage;

/*
 * Parses the header value ("api-usage=18/5000", entries separated by ',' or
 * ';', in any order, whitespace ignored). A whole header line
 * ("Sforce-Limit-Info: ...", any case) is accepted too. Fails, naming the
 * problem, when there is no api-usage entry or its numbers are not N/M with
 * 0 <= N and M > 0.
 */
int sf_limits_parse(const char *header, sf_api_usage *out, sf_err *err);

/* used / limit in percent (may exceed 100); 0 when the limit is unknown. */
double sf_limits_used_pct(const sf_api_usage *u);

/*
 * True when new work must be refused: the usage is known and used/limit is at
 * or above threshold_pct (pass SF_LIMITS_DEFAULT_THRESHOLD_PCT for the default).
 */
bool sf_limits_must_refuse(const sf_api_usage *u, double threshold_pct);

#endif
