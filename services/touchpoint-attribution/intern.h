/*
 * String interning for the attribution data layout: channel, subchannel,
 * campaign, account and touchpoint ids become dense uint32 ids so the hot
 * structs stay small (see dataset.h) and grouping is an array index instead of
 * a string compare. Strings are copied into large arena blocks: one malloc per
 * block, not per string.
 */
#ifndef ATTR_INTERN_H
#define ATTR_INTERN_H

#include <stddef.h>
#include <stdint.h>

#define INTERN_NONE UINT32_MAX

typedef struct intern intern;

/* A new, empty table; NULL when out of memory. Free with intern_free. */
intern *intern_new(void);
void intern_free(intern *in);

/* The id of s, adding a copy of it when new. Ids are 0, 1, 2, ... in order of
 * first appearance. INTERN_NONE when out of memory. */
uint32_t intern_id(intern *in, const char *s);

/* The id of s if present, else INTERN_NONE; never adds. */
uint32_t intern_find(const intern *in, const char *s);

/* The string of an id (owned by the table, valid until intern_free). */
const char *intern_str(const intern *in, uint32_t id);

uint32_t intern_count(const intern *in);

/* rank[id] = position of the string in byte-wise (strcmp) order, for every
 * id. Gives touchpoints their tie order (A1: same instant -> ordered by id).
 * rank has intern_count() entries, owned by the caller. 0, or -1 when out of
 * memory. */
int intern_ranks(const intern *in, uint32_t *rank);

#endif
