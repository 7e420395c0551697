/*
 * SOQL execution against the simulator's store: name and type checks with
 * Salesforce's errors, index-assisted filtering, ORDER BY/LIMIT/OFFSET, and
 * server-side cursors so results are paged the way the REST API pages them
 * (nextRecordsUrl ".../query/01g...-2000", up to 2,000 rows a page).
 *
 * Callers hold the state's mutex.
 */
#ifndef CAMPSYNC_SBX_SF_QUERY_H
#define CAMPSYNC_SBX_SF_QUERY_H

#include "sf_store.h"

#include <jansson.h>

#define SF_QUERY_PAGE_MAX 2000
#define SF_QUERY_PAGE_MIN 200
#define SF_CURSORS_PER_USER 10
#define SF_CURSOR_IDLE_MS (15 * 60 * 1000LL)

/* Runs q. version is the "vNN.0" path segment used in record urls; all = 1
 * for queryAll (deleted rows included). batch = page size (clamped to
 * 200..2000). Returns the HTTP status and sets *body to malloc'd JSON text
 * (the caller frees it): the first page, or Salesforce's error array. */
int sfs_query_run(sfs_state *st, const char *q, int all, const char *version, int batch,
                  const char *user_id, int64_t now_ms, char **body);

/* Serves the page at locator "01g...-2000" (the last segment of
 * nextRecordsUrl). Same return convention as sfs_query_run. */
int sfs_query_more(sfs_state *st, const char *locator, const char *version, const char *user_id,
                   int64_t now_ms, char **body);

/* Frees every open cursor (on destroy). */
void sfs_query_close_all(sfs_state *st);

/* One Salesforce error array: [{"message":..,"errorCode":..}] (new reference). */
json_t *sfs_error_array(const char *code, const char *message);

#endif
