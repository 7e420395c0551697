/*
 * Finds every position in one pass over the journey (see positions.h). The
 * journey is ordered, so "the last touch at or before t" is the last offset
 * seen while at_ms <= t.
 */
#include "positions.h"

#define DAY_MS 86400000LL

int64_t attr_close_cutoff(int64_t close_ms)
{
    int64_t day = close_ms / DAY_MS;
    if (close_ms % DAY_MS < 0)
        day--;
    if (day > INT64_MAX / DAY_MS - 1)
        return INT64_MAX;
    return day * DAY_MS + DAY_MS - 1;
}

void attr_positions_find(const attr_dataset *ds, size_t opp, attr_slots *s)
{
    const attr_opp *o = &ds->opps[opp];
    const uint32_t *j = ds->journey + o->first;
    const int64_t *stage = ds->stage_ms ? ds->stage_ms + opp * ATTR_MAX_STAGES : NULL;
    int64_t cutoff = o->close_ms ? attr_close_cutoff(o->close_ms) : INT64_MAX;

    s->ft = s->lc = s->oc = s->cw = ATTR_SLOT_NONE;
    for (int i = 0; i < ATTR_MAX_STAGES; i++)
        s->stage[i] = ATTR_SLOT_NONE;
    uint32_t k = 0;
    for (; k < o->count; k++) {
        const attr_touch *t = &ds->touches[j[k]];
        if (t->at_ms > cutoff)
            break;
        if (o->created_ms && t->at_ms <= o->created_ms)
            s->oc = k;
        if (t->flags & ATTR_TOUCH_FORM) {
            if (o->lead_created_ms ? t->at_ms <= o->lead_created_ms : s->lc == ATTR_SLOT_NONE)
                s->lc = k;
        }
        if (stage)
            for (int i = 0; i < ATTR_MAX_STAGES; i++)
                if (stage[i] && t->at_ms <= stage[i])
                    s->stage[i] = k;
    }
    s->n_in = k;
    if (k > 0) {
        s->ft = 0;
        if (o->won)
            s->cw = k - 1;
    }
}

void attr_positions_mark(const attr_slots *s, uint16_t *pos)
{
    if (s->ft != ATTR_SLOT_NONE)
        pos[s->ft] |= ATTR_POS_FT;
    if (s->lc != ATTR_SLOT_NONE)
        pos[s->lc] |= ATTR_POS_LC;
    if (s->oc != ATTR_SLOT_NONE)
        pos[s->oc] |= ATTR_POS_OC;
    if (s->cw != ATTR_SLOT_NONE)
        pos[s->cw] |= ATTR_POS_CW;
    for (int i = 0; i < ATTR_MAX_STAGES; i++)
        if (s->stage[i] != ATTR_SLOT_NONE)
            pos[s->stage[i]] |= (uint16_t)ATTR_POS_STAGE(i);
}
