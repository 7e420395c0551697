/*
 * Channel map validation and lookup (see channel_map.h). The map is one
 * allocation: the rule array sorted by Type (binary search for lookups)
 * followed by the copied strings.
 */
#include "channel_map.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct chmap {
    size_t n;
    chmap_rule *rules;
};

static int blank(const char *s)
{
    if (!s)
        return 1;
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

static int cmp_type(const void *a, const void *b)
{
    const chmap_rule *x = a, *y = b;
    return strcmp(x->campaign_type, y->campaign_type);
}

static int cmp_subchannel(const void *a, const void *b)
{
    const chmap_rule *x = *(const chmap_rule *const *)a, *y = *(const chmap_rule *const *)b;
    int c = strcmp(x->subchannel, y->subchannel);
    return c ? c : strcmp(x->campaign_type, y->campaign_type);
}

static int check_fields(const chmap_rule *rules, size_t n, attr_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const chmap_rule *r = &rules[i];
        if (blank(r->campaign_type))
            return attr_error_set(err, "channel rule %zu has an empty campaign Type", i + 1);
        if (blank(r->channel))
            return attr_error_set(err, "Type \"%s\" is mapped to an empty channel",
                                  r->campaign_type);
        if (blank(r->subchannel))
            return attr_error_set(err,
                                  "Type \"%s\" is mapped to an empty subchannel (each Type needs "
                                  "its own subchannel)",
                                  r->campaign_type);
    }
    return 0;
}

/* rules sorted by Type: adjacent equal Types are duplicates. */
static int check_types(const chmap_rule *rules, size_t n, attr_error *err)
{
    for (size_t i = 1; i < n; i++) {
        const chmap_rule *a = &rules[i - 1], *b = &rules[i];
        if (strcmp(a->campaign_type, b->campaign_type) != 0)
            continue;
        if (strcmp(a->subchannel, b->subchannel) == 0 && strcmp(a->channel, b->channel) == 0)
            return attr_error_set(err, "Type \"%s\" is listed twice", a->campaign_type);
        return attr_error_set(err,
                              "Type \"%s\" is mapped to both subchannel \"%s\" (channel \"%s\") "
                              "and subchannel \"%s\" (channel \"%s\")",
                              a->campaign_type, a->subchannel, a->channel, b->subchannel,
                              b->channel);
    }
    return 0;
}

static int check_subchannels(const chmap_rule *rules, size_t n, attr_error *err)
{
    if (n < 2)
        return 0;
    const chmap_rule **by_sub = malloc(n * sizeof *by_sub);
    if (!by_sub)
        return attr_error_set(err, "out of memory validating %zu channel rules", n);
    for (size_t i = 0; i < n; i++)
        by_sub[i] = &rules[i];
    qsort(by_sub, n, sizeof *by_sub, cmp_subchannel);
    int rc = 0;
    for (size_t i = 1; i < n && rc == 0; i++) {
        if (strcmp(by_sub[i - 1]->subchannel, by_sub[i]->subchannel) == 0)
            rc = attr_error_set(
                err, "subchannel \"%s\" is mapped from both Type \"%s\" and Type \"%s\"",
                by_sub[i]->subchannel, by_sub[i - 1]->campaign_type, by_sub[i]->campaign_type);
    }
    free(by_sub);
    return rc;
}

int chmap_build(const chmap_rule *rules, size_t n, chmap **out, attr_error *err)
{
    *out = NULL;
    if (n > 0 && !rules)
        return attr_error_set(err, "channel rules missing");
    if (check_fields(rules, n, err) != 0)
        return -1;
    size_t strbytes = 0;
    for (size_t i = 0; i < n; i++)
        strbytes += strlen(rules[i].campaign_type) + strlen(rules[i].channel) +
                    strlen(rules[i].subchannel) + 3;
    chmap *m = malloc(sizeof *m + n * sizeof(chmap_rule) + strbytes);
    if (!m)
        return attr_error_set(err, "out of memory building a channel map of %zu rules", n);
    m->n = n;
    m->rules = (chmap_rule *)(m + 1);
    char *p = (char *)(m->rules + n);
    for (size_t i = 0; i < n; i++) {
        const char *src[3] = {rules[i].campaign_type, rules[i].channel, rules[i].subchannel};
        char *dst[3];
        for (int k = 0; k < 3; k++) {
            size_t len = strlen(src[k]) + 1;
            memcpy(p, src[k], len);
            dst[k] = p;
            p += len;
        }
        m->rules[i] = (chmap_rule){dst[0], dst[1], dst[2]};
    }
    qsort(m->rules, n, sizeof *m->rules, cmp_type);
    if (check_types(m->rules, n, err) != 0 || check_subchannels(m->rules, n, err) != 0) {
        free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void chmap_free(chmap *m)
{
    free(m);
}

const chmap_rule *chmap_lookup(const chmap *m, const char *campaign_type)
{
    if (!campaign_type)
        return NULL;
    chmap_rule key = {.campaign_type = campaign_type};
    return bsearch(&key, m->rules, m->n, sizeof key, cmp_type);
}

size_t chmap_count(const chmap *m)
{
    return m->n;
}

const chmap_rule *chmap_rule_at(const chmap *m, size_t i)
{
    return i < m->n ? &m->rules[i] : NULL;
}
