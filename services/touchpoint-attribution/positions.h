/*
 * A1 positions on an opportunity's time-ordered journey. Decisions:
 * - The close cuts the journey: a touch after the end (23:59:59.999 UTC) of
 *   the close day is ignored by every model, whether the opportunity was won
 *   or lost. Only a closed-won opportunity has a CW: the last touch at or
 *   before the cutoff. A lost or open one has no CW (its weight is spread as a
 *   missing position's).
 * - OC: the last touch at or before the opportunity's creation; none when
 *   every touch came later or the creation time is unknown.
 * - LC: the last form touch (ATTR_TOUCH_FORM) at or before the lead's
 *   creation; with no creation time, the first form touch; none when there is
 *   no such touch (a lead imported before any form fill).
 * - Custom stage i: the last touch at or before its transition time ("before"
 *   read as "at or before", like OC and CW).
 */
#ifndef ATTR_POSITIONS_H
#define ATTR_POSITIONS_H

#include <stdint.h>

#include "dataset.h"

/* Same bits as the proto's Position enum; stages above them. */
#define ATTR_POS_FT 0x01u
#define ATTR_POS_LC 0x02u
#define ATTR_POS_OC 0x04u
#define ATTR_POS_CW 0x08u
#define ATTR_POS_STAGE(i) (0x10u << (i))

#define ATTR_SLOT_NONE UINT32_MAX

/* Offsets into the opportunity's journey slice, ATTR_SLOT_NONE = missing. */
typedef struct attr_slots {
    uint32_t n_in; /* the first n_in journey entries are at or before the cutoff */
    uint32_t ft, lc, oc, cw;
    uint32_t stage[ATTR_MAX_STAGES];
} attr_slots;

/* The last instant that still counts for a close on close_ms's UTC day. */
int64_t attr_close_cutoff(int64_t close_ms);

void attr_positions_find(const attr_dataset *ds, size_t opp, attr_slots *out);

/* ORs each position's flag into pos[offset] (pos has s->n_in entries). */
void attr_positions_mark(const attr_slots *s, uint16_t *pos);

#endif
