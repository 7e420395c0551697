/*
 * Property test of the whole plan (people matching + merge + apply + base
 * codec) against a tiny in-memory model of both vendors. Random histories of
 * changes on both sides (Marketo: adds, forward moves, removals; Salesforce:
 * adds, moves in any direction, removals) are synced at random points by
 * applying the plan to the model, with random vendor failures and random loss
 * of the stored base. Marketo refuses backward and sideways moves (1037) and
 * Salesforce refuses duplicate members, as the real APIs do.
 *
 * After every sync without failures: both sides hold the same members with
 * the same statuses, the stored base equals that state, a second sync plans
 * nothing, and no change was lost that the rules say should win (a one-sided
 * change always reaches the other side unless it was a Salesforce move
 * Marketo cannot take; conflicts go to the policy's side; without a base
 * nothing is removed and the higher status is kept). In every sync the plan
 * never asks Marketo to move backwards and Marketo statuses never go back.
 *
 * Half of the syncs that follow a clean one are partial, as the service's
 * change probes make them: the input holds only the people changed since
 * (plan_input.partial), and everyone else must keep their base.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base_codec.h"
#include "plan.h"
#include "status_map.h"

#define NP 24 /* people */
#define SYNCS 25
#ifndef SEEDS
#define SEEDS 300 /* -DSEEDS=5000 for a long run */
#endif

typedef struct {
    char email[32];
    int64_t lead_id; /* 0: no Marketo person */
    char sf_id[20];  /* "": no Salesforce person */
    bool linked;     /* Marketo knows the sfdcLeadId */
    bool converted;  /* got a new Salesforce id since the last clean sync */
    bool touched;    /* changed since the last clean sync (what a probe sees) */
    int mk, sf;      /* status index, -1 not a member */
    int64_t mk_ms, sf_ms;
} person;

typedef struct {
    uint64_t rng;
    smap *map;
    person p[NP];
    int64_t clock;
    int next_lead, next_sf;
    unsigned char *stored; /* encoded base, NULL = none */
    size_t stored_len;
    int refused_1037;
    bool removal_times; /* tell the plan when memberships ended */
    /* The state both sides held after the last clean sync (test's own base). */
    bool tb_known;
    int tb[NP];
} world;

static uint32_t rnd(world *w, uint32_t n)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return (uint32_t)(w->rng % n);
}

static void new_lead(world *w, person *x)
{
    x->lead_id = 1000 + w->next_lead++;
}

static void new_sf(world *w, person *x)
{
    snprintf(x->sf_id, sizeof x->sf_id, "00Q%015d", w->next_sf++);
}

static void init_world(world *w, uint64_t seed)
{
    static const smap_mkto_status st[] = {{"Invited", 10, false},
                                          {"Registered", 20, false},
                                          {"Attended", 30, true},
                                          {"No Show", 30, false},
                                          {"Engaged", 40, true}};
    memset(w, 0, sizeof *w);
    w->rng = seed * 2654435761u + 1;
    assert_int_equal(smap_create(st, 5, &w->map, NULL), 0);
    for (int i = 0; i < NP; i++) {
        person *x = &w->p[i];
        snprintf(x->email, sizeof x->email, "%sP%d@x.com ", i % 3 ? "" : " ", i);
        x->mk = x->sf = -1;
        int where = (int)rnd(w, 5); /* 0: Marketo only, 1: Salesforce only, else both */
        if (where != 1)
            new_lead(w, x);
        if (where != 0)
            new_sf(w, x);
        x->linked = x->lead_id && x->sf_id[0] && rnd(w, 2);
        if (x->lead_id && rnd(w, 2))
            x->mk = (int)rnd(w, 5);
        if (x->sf_id[0] && rnd(w, 2))
            x->sf = (int)rnd(w, 5);
    }
}

static void random_change(world *w)
{
    person *x = &w->p[rnd(w, NP)];
    int64_t t = ++w->clock;
    x->touched = true;
    if (rnd(w, 2) == 0) { /* Marketo: add, forward, remove */
        if (!x->lead_id)
            return;
        if (x->mk < 0) {
            x->mk = (int)rnd(w, 5);
        } else if (rnd(w, 4) == 0) {
            x->mk = -1;
        } else {
            int to = (int)rnd(w, 5);
            if (!smap_marketo_accepts(w->map, x->mk, to))
                return;
            x->mk = to;
        }
        x->mk_ms = t;
    } else { /* Salesforce: anything */
        if (!x->sf_id[0])
            return;
        x->sf = (x->sf >= 0 && rnd(w, 4) == 0) ? -1 : (int)rnd(w, 5);
        x->sf_ms = t;
    }
    if (x->lead_id && x->sf_id[0] && rnd(w, 8) == 0)
        x->linked = true; /* Marketo's own sync links the records */
    if (x->sf_id[0] && rnd(w, 30) == 0) {
        /* Lead conversion: a new Salesforce id; Salesforce moves the
         * membership to it, Marketo may or may not know the new link. */
        new_sf(w, x);
        x->linked = x->lead_id && rnd(w, 2);
        x->converted = true;
    }
}

static person *by_member(world *w, const plan_member *m)
{
    for (int i = 0; i < NP; i++) {
        person *x = &w->p[i];
        if ((m->lead_id && x->lead_id == m->lead_id) ||
            (m->sf_person_id && strcmp(x->sf_id, m->sf_person_id) == 0))
            return x;
    }
    fail_msg("plan member matches nobody (lead %lld)", (long long)m->lead_id);
    return NULL;
}

/* Applies one item to the model like the vendor would. Returns NULL when
 * done, or the vendor's refusal. */
static const char *apply(world *w, const plan *p, const plan_item *it, char *created)
{
    person *x = by_member(w, &p->members[it->member]);
    int64_t t = ++w->clock;
    created[0] = '\0';
    switch (it->action) {
    case PLAN_CREATE_LEAD:
        if (!x->sf_id[0])
            new_sf(w, x);
        strcpy(created, x->sf_id);
        return NULL;
    case PLAN_CREATE_PERSON: /* createOrUpdate by email */
        if (!x->lead_id)
            new_lead(w, x);
        sprintf(created, "%lld", (long long)x->lead_id);
        return NULL;
    default:
        break;
    }
    if (it->side == MERGE_SIDE_MARKETO) {
        if (it->action == PLAN_REMOVE) {
            if (x->mk < 0)
                return "1013 membership not found";
            x->mk = -1;
        } else {
            if (x->mk >= 0 && !smap_marketo_accepts(w->map, x->mk, it->to_status)) {
                w->refused_1037++;
                return "1037 already in or past this status";
            }
            x->mk = it->to_status;
        }
        x->mk_ms = t;
    } else {
        if (it->action == PLAN_ADD && x->sf >= 0)
            return "DUPLICATE_VALUE";
        if (it->action != PLAN_ADD && x->sf < 0)
            return "ENTITY_IS_DELETED";
        x->sf = it->action == PLAN_REMOVE ? -1 : it->to_status;
        x->sf_ms = t;
    }
    return NULL;
}

typedef struct {
    people_mkto_lead leads[NP];
    people_sf_person people[NP];
    people_mkto_member mm[NP];
    people_sf_member sm[NP];
    plan_sf_removal sf_rm[NP];
    plan_mkto_removal mk_rm[NP];
    size_t n_sf_rm, n_mk_rm;
    people_input in;
} snapshot;

static void snap(world *w, snapshot *s, bool partial)
{
    memset(s, 0, sizeof *s);
    people_input *in = &s->in;
    in->leads = s->leads;
    in->sf_people = s->people;
    in->mkto_members = s->mm;
    in->sf_members = s->sm;
    for (int i = 0; i < NP; i++) {
        person *x = &w->p[i];
        if (partial && !x->touched)
            continue;
        if (x->lead_id)
            s->leads[in->n_leads++] = (people_mkto_lead){
                x->lead_id, x->email, NULL, NULL, NULL, x->linked ? x->sf_id : NULL, NULL};
        if (x->sf_id[0])
            s->people[in->n_sf_people++] = (people_sf_person){
                x->sf_id, PEOPLE_SF_LEAD, x->email, NULL, NULL, NULL, false, NULL};
        if (x->mk >= 0)
            s->mm[in->n_mkto_members++] =
                (people_mkto_member){x->lead_id, smap_name(w->map, x->mk), x->mk_ms};
        if (x->sf >= 0)
            s->sm[in->n_sf_members++] =
                (people_sf_member){x->sf_id, x->sf_id, NULL, smap_name(w->map, x->sf), x->sf_ms};
        if (w->removal_times && x->mk < 0 && x->lead_id && x->mk_ms)
            s->mk_rm[s->n_mk_rm++] = (plan_mkto_removal){x->lead_id, x->mk_ms};
        if (w->removal_times && x->sf < 0 && x->sf_id[0] && x->sf_ms)
            s->sf_rm[s->n_sf_rm++] = (plan_sf_removal){x->sf_id, x->sf_ms};
    }
}

/* One cycle. Returns true when every item was applied. */
static bool sync_once(world *w, merge_policy pol, int fail_pct, bool partial, bool *planned_nothing)
{
    base_state base, *bp = NULL;
    if (w->stored) {
        assert_int_equal(base_decode(w->stored, w->stored_len, &base, NULL), 0);
        bp = &base;
    }
    snapshot s;
    snap(w, &s, partial && bp);
    plan_input in = {.pair_id = "42",
                     .statuses = w->map,
                     .base = bp,
                     .policy = pol,
                     .people = s.in,
                     .sf_removed = s.sf_rm,
                     .n_sf_removed = s.n_sf_rm,
                     .mkto_removed = s.mk_rm,
                     .n_mkto_removed = s.n_mk_rm,
                     .partial = partial && bp};
    plan *p = NULL;
    recon_err err;
    assert_int_equal(plan_build(&in, &p, &err), 0);
    *planned_nothing = p->n_items == 0;
    bool clean = true;
    char created[32];
    for (size_t i = 0; i < p->n_items; i++) {
        const plan_item *it = &p->items[i];
        if (it->state != PLAN_PENDING)
            continue; /* failed with its dependency */
        if (it->side == MERGE_SIDE_MARKETO && it->action == PLAN_STATUS) {
            /* The plan itself never asks Marketo to move back. */
            const person *x = by_member(w, &p->members[it->member]);
            assert_true(smap_marketo_accepts(w->map, x->mk, it->to_status));
        }
        if ((int)rnd(w, 100) < fail_pct) {
            assert_int_equal(plan_mark_failed(p, i, "611 system error", &err), 0);
            clean = false;
            continue;
        }
        const char *refused = apply(w, p, it, created);
        if (refused) {
            assert_int_equal(plan_mark_failed(p, i, refused, &err), 0);
            clean = false;
        } else {
            assert_int_equal(plan_mark_applied(p, i, created[0] ? created : NULL, &err), 0);
        }
    }
    base_state nb;
    assert_int_equal(plan_new_base(p, &nb, &err), 0);
    free(w->stored);
    assert_int_equal(base_encode(&nb, &w->stored, &w->stored_len, &err), 0);
    if (clean) {
        /* The stored base is exactly the agreed state. */
        for (int i = 0; i < NP; i++) {
            const person *x = &w->p[i];
            const base_entry *e = x->lead_id ? base_find(&nb, x->lead_id) : NULL;
            if (x->mk < 0) {
                assert_null(e);
            } else {
                assert_non_null(e);
                assert_string_equal(nb.names[e->status], smap_name(w->map, x->mk));
            }
        }
        for (size_t i = 0; i < p->n_members; i++)
            assert_true(plan_member_settled(p, i));
    }
    base_free(&nb);
    plan_free(p);
    if (bp)
        base_free(bp);
    return clean;
}

static int winner_state(world *w, merge_policy pol, const person *pre, bool *sf_won)
{
    /* An absent side's time is its removal time when the plan was told it. */
    int64_t sf_t = pre->sf >= 0 || w->removal_times ? pre->sf_ms : 0;
    int64_t mk_t = pre->mk >= 0 || w->removal_times ? pre->mk_ms : 0;
    *sf_won = pol == MERGE_SALESFORCE_WINS || (pol == MERGE_LATEST_WINS && sf_t > mk_t);
    return *sf_won ? pre->sf : pre->mk;
}

/* What the rules say the member must end as, given the state before. */
static void check_outcome(world *w, merge_policy pol, bool base_known, const person *pre,
                          const person *post, int tb)
{
    assert_int_equal(post->mk, post->sf);
    int fin = post->mk;
    if (pre->mk >= 0 && post->mk >= 0)
        assert_true(smap_step(w->map, post->mk) >= smap_step(w->map, pre->mk));
    if (!base_known) {
        if (pre->mk >= 0 || pre->sf >= 0)
            assert_int_equal(fin, smap_higher(w->map, pre->mk, pre->sf));
        else
            assert_int_equal(fin, -1);
        return;
    }
    bool mc = pre->mk != tb, sc = pre->sf != tb;
    /* Marketo cannot take the Salesforce state: it keeps its own. */
    bool sf_blocked = pre->mk >= 0 && pre->sf >= 0 && pre->sf != pre->mk &&
                      !smap_marketo_accepts(w->map, pre->mk, pre->sf);
    if (!mc && !sc) {
        assert_int_equal(fin, tb);
    } else if (mc && !sc) {
        assert_int_equal(fin, pre->mk);
    } else if (!mc && sc) {
        assert_int_equal(fin, sf_blocked ? pre->mk : pre->sf);
    } else if (pre->mk == pre->sf) {
        assert_int_equal(fin, pre->mk);
    } else {
        bool sf_won;
        int want = winner_state(w, pol, pre, &sf_won);
        assert_int_equal(fin, sf_won && sf_blocked ? pre->mk : want);
    }
}

static void run_seed(uint64_t seed, merge_policy pol)
{
    world w;
    init_world(&w, seed);
    w.removal_times = seed % 2 == 0;
    for (int s = 0; s < SYNCS; s++) {
        int changes = (int)rnd(&w, 12);
        for (int c = 0; c < changes; c++)
            random_change(&w);
        if (rnd(&w, 12) == 0) { /* Redis lost the base */
            free(w.stored);
            w.stored = NULL;
            w.stored_len = 0;
        }
        bool base_known = w.stored != NULL && w.tb_known;
        bool check = w.stored == NULL || w.tb_known;
        person pre[NP];
        memcpy(pre, w.p, sizeof pre);
        int fail_pct = rnd(&w, 3) == 0 ? 25 : 0;
        bool nothing;
        bool clean = sync_once(&w, pol, fail_pct, w.tb_known && rnd(&w, 2), &nothing);
        if (!clean) {
            /* A retry with no new changes must finish the job (reading in
             * full, as the service does after an Incomplete cycle). */
            clean = sync_once(&w, pol, 0, false, &nothing);
            check = false;
        }
        assert_true(clean);
        for (int i = 0; i < NP; i++) {
            if (check)
                /* A member agreed with another Salesforce id has no usable
                 * base: the plan must fall back to the union rule. */
                check_outcome(&w, pol, base_known && !(pre[i].converted && w.tb[i] >= 0), &pre[i],
                              &w.p[i], w.tb[i]);
            assert_int_equal(w.p[i].mk, w.p[i].sf);
            w.tb[i] = w.p[i].mk;
            w.p[i].converted = false;
            w.p[i].touched = false;
        }
        w.tb_known = true;
        /* Nothing changed since: the next cycle plans nothing, and a partial
         * one (nobody read) keeps the whole base. */
        sync_once(&w, pol, 0, rnd(&w, 2), &nothing);
        assert_true(nothing);
    }
    assert_int_equal(w.refused_1037, 0);
    free(w.stored);
    smap_free(w.map);
}

static void test_marketo_wins(void **state)
{
    for (uint64_t s = 1; s <= SEEDS; s++)
        run_seed(s, MERGE_MARKETO_WINS);
}

static void test_salesforce_wins(void **state)
{
    for (uint64_t s = 1; s <= SEEDS; s++)
        run_seed(s, MERGE_SALESFORCE_WINS);
}

static void test_latest_wins(void **state)
{
    for (uint64_t s = 1; s <= SEEDS; s++)
        run_seed(s, MERGE_LATEST_WINS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marketo_wins),
        cmocka_unit_test(test_salesforce_wins),
        cmocka_unit_test(test_latest_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
