/*
 * Fuzz target for the plan (people matching + three-way merge): the input
 * bytes are decoded into a channel, a base, Marketo leads and members and
 * Salesforce people and members (ids and emails drawn from small pools so
 * that links, shared emails, duplicates and conversions happen often). The
 * plan is built, every item applied in order, and the invariants checked:
 * no crash, Marketo is never asked to move backwards or sideways, every
 * dependency comes first, and the new base encodes and decodes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base_codec.h"
#include "plan.h"
#include "status_map.h"

#define MAXN 16

typedef struct {
    const uint8_t *p;
    size_t n;
} reader;

static unsigned take(reader *r, unsigned mod)
{
    if (r->n == 0)
        return 0;
    unsigned v = *r->p++;
    r->n--;
    return mod ? v % mod : v;
}

static const char *const status_names[] = {"Invited", "Registered", "Attended",
                                           "No Show", "Engaged",    "Sent"};
static const char *const emails[] = {"a@x.com", " A@X.com", "b@x.com", "c@x.com", "", NULL};
static const char *const sf_ids[] = {"00QA", "00QB", "003C", "003D", "00QE", "", NULL};

static const char *pick(reader *r, const char *const *pool, unsigned n)
{
    return pool[take(r, n)];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    smap_mkto_status st[5];
    unsigned nst = 1 + take(&r, 5);
    for (unsigned i = 0; i < nst; i++)
        st[i] = (smap_mkto_status){status_names[i], (int32_t)take(&r, 4) * 10, take(&r, 2)};
    smap *map = NULL;
    if (smap_create(st, nst, &map, NULL) != 0)
        return 0;

    people_mkto_lead leads[MAXN];
    people_sf_person people[MAXN];
    people_mkto_member mm[MAXN];
    people_sf_member sm[MAXN];
    size_t nl = take(&r, MAXN), np = take(&r, MAXN), nm = take(&r, MAXN), ns = take(&r, MAXN);
    for (size_t i = 0; i < nl; i++)
        leads[i] = (people_mkto_lead){1 + take(&r, 8),     pick(&r, emails, 6), NULL, NULL, NULL,
                                      pick(&r, sf_ids, 7), pick(&r, sf_ids, 7)};
    for (size_t i = 0; i < np; i++)
        people[i] = (people_sf_person){pick(&r, sf_ids, 6),
                                       take(&r, 2) ? PEOPLE_SF_CONTACT : PEOPLE_SF_LEAD,
                                       pick(&r, emails, 6),
                                       NULL,
                                       NULL,
                                       NULL,
                                       take(&r, 2),
                                       pick(&r, sf_ids, 7)};
    for (size_t i = 0; i < nm; i++)
        mm[i] = (people_mkto_member){1 + take(&r, 8), pick(&r, status_names, 6), take(&r, 4)};
    for (size_t i = 0; i < ns; i++)
        sm[i] = (people_sf_member){"00v", pick(&r, sf_ids, 7), pick(&r, emails, 6),
                                   pick(&r, status_names, 6), take(&r, 4)};

    /* Base: none, or entries for some of the lead ids. */
    char *bnames[6];
    base_entry be[8];
    base_state base = {.version = take(&r, 0), .names = bnames, .n_names = 0, .entries = be};
    bool has_base = take(&r, 2);
    base.n_names = 1 + take(&r, 6);
    unsigned first = take(&r, 6);
    for (size_t i = 0; i < base.n_names; i++)
        bnames[i] = (char *)status_names[(first + i) % 6]; /* distinct */
    for (int64_t id = 1; id <= 8; id++)
        if (take(&r, 2)) {
            int s = (int)take(&r, (unsigned)base.n_names + 1) - 1;
            be[base.n_entries++] = (base_entry){id, s, base_sf_tag(pick(&r, sf_ids, 7))};
        }

    plan_input in = {.pair_id = "fuzz",
                     .statuses = map,
                     .base = has_base ? &base : NULL,
                     .policy = (merge_policy)take(&r, 3),
                     .people = {leads, nl, people, np, mm, nm, sm, ns},
                     .partial = take(&r, 2)};
    plan *p = NULL;
    recon_err err;
    if (plan_build(&in, &p, &err) != 0) {
        smap_free(map);
        return 0;
    }
    for (size_t i = 0; i < p->n_items; i++) {
        const plan_item *it = &p->items[i];
        const plan_member *m = &p->members[it->member];
        if (it->depends_on >= (int32_t)i)
            abort();
        if (it->side == MERGE_SIDE_MARKETO && it->action == PLAN_STATUS &&
            !smap_marketo_accepts(map, m->in.mkto.status, it->to_status))
            abort();
        if (it->state != PLAN_PENDING)
            continue;
        const char *id = it->action == PLAN_CREATE_LEAD     ? "00QNEW"
                         : it->action == PLAN_CREATE_PERSON ? "77"
                                                            : NULL;
        if (take(&r, 4) == 0)
            plan_mark_failed(p, i, "refused", &err);
        else if (plan_mark_applied(p, i, id, &err) != 0)
            abort();
    }
    plan_counts c;
    plan_get_counts(p, &c);
    if (c.pending != 0)
        abort();
    base_state nb;
    if (plan_new_base(p, &nb, &err) == 0) {
        unsigned char *buf;
        size_t len;
        if (base_encode(&nb, &buf, &len, &err) != 0)
            abort();
        base_state back;
        if (base_decode(buf, len, &back, &err) != 0 || back.n_entries != nb.n_entries)
            abort();
        base_free(&back);
        free(buf);
        base_free(&nb);
    }
    plan_free(p);
    smap_free(map);
    return 0;
}
