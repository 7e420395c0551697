/*
 * Status map (SPEC C4, C6): a Marketo channel's progression statuses set
 * against a Salesforce campaign's CampaignMemberStatus labels. It says whether
 * the two match exactly (and names every difference when they don't), plans
 * the statuses to create in Salesforce, and orders statuses by step so the
 * merge can tell a forward move from a backward one.
 *
 * Statuses are referred to by index (0 .. smap_count-1) in step order; -1
 * means "no status" (not a member). Indexes are only meaningful for the map
 * that produced them.
 */
#ifndef CAMPSYNC_STATUS_MAP_H
#define CAMPSYNC_STATUS_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recon_err.h"

/* A Marketo progression status (Channel.progressionStatuses). */
typedef struct {
    const char *name;
    int32_t step;
    bool success;
} smap_mkto_status;

/* A Salesforce CampaignMemberStatus. */
typedef struct {
    const char *label;
    int32_t sort_order;
    bool is_default;
    bool has_responded;
} smap_sf_status;

typedef struct smap smap;

/* Channels have a handful of statuses; the stored base has room for this
 * many names (BASE_MAX_NAMES). */
#define SMAP_MAX_STATUSES 256

/* Builds the map of a channel. Names must be non-empty and unique (exact
 * bytes). Statuses are ordered by step, ties in input order. The map copies
 * everything; free it with smap_free. */
int smap_create(const smap_mkto_status *statuses, size_t n, smap **out, recon_err *err);
void smap_free(smap *m);

size_t smap_count(const smap *m);
/* Index of the status with exactly this name, or -1. */
int smap_find(const smap *m, const char *name);
const char *smap_name(const smap *m, int idx); /* "" for idx -1 */
int32_t smap_step(const smap *m, int idx);
bool smap_success(const smap *m, int idx);

/* C4: is a move from status `from` to `to` backwards (to an earlier step)? */
bool smap_is_backward(const smap *m, int from, int to);
/* Would Marketo accept moving a member from `from` to `to`? Only to a strictly
 * later step (it answers 1037 "already in or past this status" otherwise,
 * so a move between two statuses of the same step is refused too); any status
 * is accepted for a person who is not a member (from = -1). */
bool smap_marketo_accepts(const smap *m, int from, int to);
/* The higher of two statuses; on the same step, `mkto` (Marketo cannot move
 * sideways, Salesforce can). Either may be -1. */
int smap_higher(const smap *m, int mkto, int sf);

/* The exact comparison of C6. */
typedef struct {
    char **missing; /* Marketo statuses with no Salesforce label, in step order */
    size_t n_missing;
    char **extra; /* Salesforce labels that are no Marketo status, in input order */
    size_t n_extra;
    char *message; /* NULL when equal, else `statuses differ: missing in
                      Salesforce: "A", "B"; extra in Salesforce: "C"` */
} smap_diff;

int smap_compare(const smap *m, const smap_sf_status *sf, size_t n_sf, smap_diff *out,
                 recon_err *err);
void smap_diff_free(smap_diff *d);

/*
 * The CampaignMemberStatus records to create so that every Marketo status
 * exists in Salesforce: SortOrder = step, HasResponded = success, IsDefault
 * on the first step. SortOrder is unique per campaign, so when the step is
 * already taken (by an existing label, or by another status of the same
 * step) the status gets the smallest free SortOrder above its step that is
 * neither taken nor the step of another status to create; `note` lists every
 * such move. Extra Salesforce labels are left alone (a default or in-use
 * status cannot be deleted there).
 */
typedef struct {
    smap_sf_status *create; /* labels point into the map: valid while it lives */
    size_t n_create;
    char *note; /* NULL when every status got SortOrder = step */
} smap_create_plan;

int smap_plan_missing(const smap *m, const smap_sf_status *sf, size_t n_sf, smap_create_plan *out,
                      recon_err *err);
void smap_create_plan_free(smap_create_plan *p);

#endif
