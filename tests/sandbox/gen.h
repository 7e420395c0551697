/*
 * campsync-sandbox data generator: builds a dataset (both vendors, in the
 * sbx.h format) from a short spec, deterministic from its seed, fast enough
 * for 100,000-member programs.
 */
#ifndef CAMPSYNC_SBX_GEN_H
#define CAMPSYNC_SBX_GEN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * spec: comma-separated key=value, all optional:
 *   people=N    persons across both systems (default 200)
 *   programs=N  Marketo programs (default 4; all but the last linked to a
 *               Salesforce campaign when there are 3 or more)
 *   members=N   members per program (default people/2, capped at the
 *               Marketo leads)
 *   seed=N      random seed (default: the seed argument)
 * Returns a new dataset, or NULL with a message in err.
 */
json_t *gen_dataset(const char *spec, uint64_t seed, char *err, size_t err_len);

/* A Salesforce-style 18-character id: 3-character key prefix, 12 more
 * characters from n, and the case-checksum suffix Salesforce appends. */
void gen_sf_id(const char *prefix, uint64_t n, char out[19]);

#endif
