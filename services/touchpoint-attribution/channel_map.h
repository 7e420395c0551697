/*
 * Offline channel mapping (SPEC T6): Campaign Type -> (channel, subchannel).
 * A Type maps to one subchannel and a subchannel comes from one Type, so a
 * touchpoint's subchannel always tells which kind of campaign it came from;
 * many Types may share a channel. A Type with no rule is an online campaign
 * and yields no offline touchpoints.
 *
 * Matching is exact (case and spaces count): the Type is a Salesforce
 * picklist value, so "Tradeshow" and "tradeshow " are different values.
 */
#ifndef ATTR_CHANNEL_MAP_H
#define ATTR_CHANNEL_MAP_H

#include <stddef.h>

#include "attr_error.h"

typedef struct chmap_rule {
    const char *campaign_type;
    const char *channel;
    const char *subchannel;
} chmap_rule;

typedef struct chmap chmap;

/*
 * Validates rules and builds a map holding its own copies of the strings.
 * Rejected, with the first clash in Type / subchannel order named in err:
 * an empty (or blank) Type, channel or subchannel; a Type listed twice; a
 * subchannel reached from two Types. n == 0 builds an empty map (every
 * campaign is online). On success *out is owned by the caller (chmap_free).
 */
int chmap_build(const chmap_rule *rules, size_t n, chmap **out, attr_error *err);
void chmap_free(chmap *m);

/* The rule of a Type, or NULL when the Type is unmapped (online campaign).
 * The rule's strings live as long as the map. */
const chmap_rule *chmap_lookup(const chmap *m, const char *campaign_type);

/* The rules sorted by Type, for GetChannelMapping. */
size_t chmap_count(const chmap *m);
const chmap_rule *chmap_rule_at(const chmap *m, size_t i);

#endif
