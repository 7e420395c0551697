/*
 * The three-way merge of one member (merge.c) and the plan built from it
 * (plan.c). A table spells out the expected decision for every combination
 * of base (unknown / absent / present) and change on each side (none,
 * added, forward, backward, sideways, removed) under each policy; an
 * exhaustive sweep then checks the invariants on every combination of
 * states and times. Plan tests check items, dependencies, events, dedup
 * keys, failure handling and the new base.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "merge.h"
#include "plan.h"
#include "status_map.h"

static smap *new_map(void)
{
    static const smap_mkto_status st[] = {
        {"Invited", 10, false}, {"Registered", 20, false}, {"Attended", 30, true},
        {"No Show", 30, false}, {"Engaged", 40, true},
    };
    smap *m = NULL;
    recon_err err;
    assert_int_equal(smap_create(st, 5, &m, &err), 0);
    return m;
}

static const char *op_text(merge_op op)
{
    static const char *t[] = {"none", "add", "remove", "status"};
    return t[op];
}

/* "M:<op>[><status>] S:<op>[><status>] =<agreed>|- [conflict] [rejected]" */
static void describe(const smap *m, const merge_decision *d, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "M:%s", op_text(d->mkto_op));
    if (d->mkto_to >= 0)
        n += snprintf(buf + n, cap - n, ">%s", smap_name(m, d->mkto_to));
    n += snprintf(buf + n, cap - n, " S:%s", op_text(d->sf_op));
    if (d->sf_to >= 0)
        n += snprintf(buf + n, cap - n, ">%s", smap_name(m, d->sf_to));
    n += snprintf(buf + n, cap - n, " =%s",
                  d->agreed_present ? smap_name(m, d->agreed_status) : "-");
    if (d->conflict)
        n += snprintf(buf + n, cap - n, " conflict");
    if (d->rejected)
        snprintf(buf + n, cap - n, " rejected");
}

#define ALL (-1)
#define MW MERGE_MARKETO_WINS
#define SW MERGE_SALESFORCE_WINS
#define LW MERGE_LATEST_WINS

typedef struct {
    const char *base; /* "?" unknown, "-" absent, else a status */
    const char *mk;   /* "-" absent, else a status */
    int64_t mk_ms;
    const char *sf;
    int64_t sf_ms;
    int policy; /* ALL or one policy */
    const char *want;
} row;

static const row table[] = {
    /* Base present ("Registered"). */
    {"Registered", "Registered", 100, "Registered", 200, ALL, "M:none S:none =Registered"},
    {"Registered", "Registered", 100, "Engaged", 200, ALL, "M:status>Engaged S:none =Engaged"},
    {"Registered", "Registered", 100, "Invited", 200, ALL,
     "M:none S:status>Registered =Registered rejected"},
    {"Registered", "Registered", 100, "-", 0, ALL, "M:remove S:none =-"},
    {"Registered", "Attended", 100, "Registered", 200, ALL, "M:none S:status>Attended =Attended"},
    {"Registered", "Attended", 100, "Attended", 200, ALL, "M:none S:none =Attended"},
    {"Registered", "Attended", 100, "Engaged", 200, MW,
     "M:none S:status>Attended =Attended conflict"},
    {"Registered", "Attended", 100, "Engaged", 200, SW,
     "M:status>Engaged S:none =Engaged conflict"},
    {"Registered", "Attended", 100, "Engaged", 200, LW,
     "M:status>Engaged S:none =Engaged conflict"},
    {"Registered", "Attended", 300, "Engaged", 200, LW,
     "M:none S:status>Attended =Attended conflict"},
    {"Registered", "Attended", 200, "Engaged", 200, LW,
     "M:none S:status>Attended =Attended conflict"},
    {"Registered", "Attended", 100, "Invited", 200, MW,
     "M:none S:status>Attended =Attended conflict"},
    {"Registered", "Attended", 100, "Invited", 200, SW,
     "M:none S:status>Attended =Attended conflict rejected"},
    {"Registered", "Attended", 100, "Invited", 200, LW,
     "M:none S:status>Attended =Attended conflict rejected"},
    {"Registered", "Attended", 100, "No Show", 200, MW,
     "M:none S:status>Attended =Attended conflict"},
    {"Registered", "Attended", 100, "No Show", 200, SW,
     "M:none S:status>Attended =Attended conflict rejected"},
    {"Registered", "Attended", 100, "-", 0, MW, "M:none S:add>Attended =Attended conflict"},
    {"Registered", "Attended", 100, "-", 0, SW, "M:remove S:none =- conflict"},
    {"Registered", "Attended", 100, "-", 0, LW, "M:none S:add>Attended =Attended conflict"},
    {"Registered", "Attended", 100, "-", 300, LW, "M:remove S:none =- conflict"},
    {"Registered", "-", 0, "Registered", 200, ALL, "M:none S:remove =-"},
    {"Registered", "-", 0, "Engaged", 200, MW, "M:none S:remove =- conflict"},
    {"Registered", "-", 0, "Engaged", 200, SW, "M:add>Engaged S:none =Engaged conflict"},
    {"Registered", "-", 0, "Engaged", 200, LW, "M:add>Engaged S:none =Engaged conflict"},
    {"Registered", "-", 300, "Engaged", 200, LW, "M:none S:remove =- conflict"},
    {"Registered", "-", 0, "Invited", 200, MW, "M:none S:remove =- conflict"},
    {"Registered", "-", 0, "Invited", 200, SW, "M:add>Invited S:none =Invited conflict"},
    {"Registered", "-", 0, "-", 0, ALL, "M:none S:none =-"},
    /* Base absent: both sides agreed it was not a member. */
    {"-", "-", 0, "-", 0, ALL, "M:none S:none =-"},
    {"-", "Registered", 100, "-", 0, ALL, "M:none S:add>Registered =Registered"},
    {"-", "-", 0, "Registered", 200, ALL, "M:add>Registered S:none =Registered"},
    {"-", "Registered", 100, "Registered", 200, ALL, "M:none S:none =Registered"},
    {"-", "Registered", 100, "Attended", 200, MW,
     "M:none S:status>Registered =Registered conflict"},
    {"-", "Registered", 100, "Attended", 200, SW, "M:status>Attended S:none =Attended conflict"},
    {"-", "Registered", 100, "Attended", 200, LW, "M:status>Attended S:none =Attended conflict"},
    {"-", "Attended", 100, "Registered", 200, MW, "M:none S:status>Attended =Attended conflict"},
    {"-", "Attended", 100, "Registered", 200, SW,
     "M:none S:status>Attended =Attended conflict rejected"},
    /* Base unknown: union, higher status, never a removal; policy-free. */
    {"?", "-", 0, "-", 0, ALL, "M:none S:none =-"},
    {"?", "Registered", 100, "-", 0, ALL, "M:none S:add>Registered =Registered"},
    {"?", "-", 0, "Registered", 200, ALL, "M:add>Registered S:none =Registered"},
    {"?", "Registered", 100, "Registered", 200, ALL, "M:none S:none =Registered"},
    {"?", "Registered", 100, "Engaged", 200, ALL, "M:status>Engaged S:none =Engaged"},
    {"?", "Attended", 100, "Invited", 200, ALL, "M:none S:status>Attended =Attended"},
    {"?", "Attended", 100, "No Show", 200, ALL, "M:none S:status>Attended =Attended"},
    {"?", "No Show", 100, "Attended", 200, ALL, "M:none S:status>No Show =No Show"},
};

static merge_side side_of(const smap *m, const char *s, int64_t ms)
{
    merge_side r = {false, -1, ms};
    if (strcmp(s, "-") != 0) {
        r.present = true;
        r.status = smap_find(m, s);
        assert_true(r.status >= 0);
    }
    return r;
}

static void test_table(void **state)
{
    smap *m = new_map();
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const row *r = &table[i];
        merge_input in = {.mkto = side_of(m, r->mk, r->mk_ms), .sf = side_of(m, r->sf, r->sf_ms)};
        if (strcmp(r->base, "?") == 0)
            in.base = (merge_base){MERGE_BASE_UNKNOWN, -1};
        else if (strcmp(r->base, "-") == 0)
            in.base = (merge_base){MERGE_BASE_ABSENT, -1};
        else
            in.base = (merge_base){MERGE_BASE_PRESENT, smap_find(m, r->base)};
        for (int p = MW; p <= LW; p++) {
            if (r->policy != ALL && r->policy != p)
                continue;
            merge_decision d;
            merge_decide(m, (merge_policy)p, &in, &d);
            char got[256];
            describe(m, &d, got, sizeof got);
            if (strcmp(got, r->want) != 0)
                fail_msg("row %zu (base %s, mkto %s, sf %s, %s): want \"%s\", got \"%s\"", i,
                         r->base, r->mk, r->sf, merge_policy_name((merge_policy)p), r->want, got);
        }
    }
    smap_free(m);
}

/* Applies a decision's ops to a side's (present, status). */
static void apply_op(merge_op op, int to, bool *present, int *status)
{
    if (op == MERGE_OP_REMOVE) {
        *present = false;
        *status = -1;
    } else if (op != MERGE_OP_NONE) {
        *present = true;
        *status = to;
    }
}

/* Every combination of base, side states, times and policy keeps the rules. */
static void test_invariants_exhaustive(void **state)
{
    smap *m = new_map();
    int ns = (int)smap_count(m);
    int64_t times[] = {0, 100, 200};
    size_t checked = 0;
    for (int bk = 0; bk < 3; bk++)
        for (int bs = -1; bs < ns; bs++) {
            if ((bk == MERGE_BASE_PRESENT) != (bs >= 0))
                continue;
            for (int ms = -2; ms < ns; ms++) /* -2: absent */
                for (int ss = -2; ss < ns; ss++)
                    for (int p = MW; p <= LW; p++)
                        for (int ti = 0; ti < 3; ti++)
                            for (int tj = 0; tj < 3; tj++) {
                                merge_input in = {
                                    .base = {(merge_base_kind)bk, bs},
                                    .mkto = {ms >= 0, ms >= 0 ? ms : -1, times[ti]},
                                    .sf = {ss >= 0, ss >= 0 ? ss : -1, times[tj]},
                                };
                                merge_decision d;
                                merge_decide(m, (merge_policy)p, &in, &d);
                                checked++;
                                bool mp = in.mkto.present, sp = in.sf.present;
                                int mst = in.mkto.status, sst = in.sf.status;
                                /* Marketo never asked to move backwards or sideways. */
                                if (d.mkto_op == MERGE_OP_STATUS)
                                    assert_true(smap_marketo_accepts(m, mst, d.mkto_to));
                                apply_op(d.mkto_op, d.mkto_to, &mp, &mst);
                                apply_op(d.sf_op, d.sf_to, &sp, &sst);
                                /* Both sides agree, and the base is that state. */
                                assert_int_equal(mp, sp);
                                assert_int_equal(mp, d.agreed_present);
                                if (mp) {
                                    assert_int_equal(mst, sst);
                                    assert_int_equal(mst, d.agreed_status);
                                }
                                /* Never a write that changes nothing. */
                                if (d.mkto_op == MERGE_OP_STATUS)
                                    assert_int_not_equal(d.mkto_to, in.mkto.status);
                                if (d.sf_op == MERGE_OP_STATUS)
                                    assert_int_not_equal(d.sf_to, in.sf.status);
                                /* No base: nothing removed, the higher status kept. */
                                if (bk == MERGE_BASE_UNKNOWN) {
                                    assert_int_not_equal(d.mkto_op, MERGE_OP_REMOVE);
                                    assert_int_not_equal(d.sf_op, MERGE_OP_REMOVE);
                                    assert_false(d.conflict);
                                    if (in.mkto.present || in.sf.present) {
                                        assert_true(d.agreed_present);
                                        assert_int_equal(
                                            d.agreed_status,
                                            smap_higher(m, in.mkto.status, in.sf.status));
                                    }
                                }
                                /* Only one side changed: its state wins unless Marketo
                                 * cannot take it (then Marketo's state stays). */
                                bool mc = d.mkto_change != MERGE_CHANGE_NONE;
                                bool sc = d.sf_change != MERGE_CHANGE_NONE;
                                if (bk != MERGE_BASE_UNKNOWN && mc != sc) {
                                    assert_false(d.conflict);
                                    const merge_side *w = mc ? &in.mkto : &in.sf;
                                    if (!d.rejected) {
                                        assert_int_equal(d.agreed_present, w->present);
                                        if (w->present)
                                            assert_int_equal(d.agreed_status, w->status);
                                    } else {
                                        assert_true(sc);
                                        assert_int_equal(d.agreed_status, in.mkto.status);
                                    }
                                }
                                if (bk != MERGE_BASE_UNKNOWN && !mc && !sc) {
                                    assert_int_equal(d.mkto_op, MERGE_OP_NONE);
                                    assert_int_equal(d.sf_op, MERGE_OP_NONE);
                                }
                                /* Conflict iff both changed to different states. */
                                if (bk != MERGE_BASE_UNKNOWN) {
                                    bool same =
                                        in.mkto.present == in.sf.present &&
                                        (!in.mkto.present || in.mkto.status == in.sf.status);
                                    assert_int_equal(d.conflict, mc && sc && !same);
                                }
                                /* A rejection always leaves Marketo untouched. */
                                if (d.rejected) {
                                    assert_int_equal(d.mkto_op, MERGE_OP_NONE);
                                    assert_true(in.mkto.present);
                                }
                            }
        }
    assert_true(checked > 1000);
    smap_free(m);
}

static void test_policy_names(void **state)
{
    assert_int_equal(merge_policy_parse("marketo_wins"), MW);
    assert_int_equal(merge_policy_parse("salesforce_wins"), SW);
    assert_int_equal(merge_policy_parse("latest_wins"), LW);
    assert_int_equal(merge_policy_parse("Marketo_Wins"), -1);
    assert_int_equal(merge_policy_parse(NULL), -1);
    assert_string_equal(merge_policy_name(LW), "latest_wins");
}

/* ---- plan ---- */

typedef struct {
    people_mkto_lead leads[8];
    size_t n_leads;
    people_sf_person people[8];
    size_t n_people;
    people_mkto_member mm[8];
    size_t n_mm;
    people_sf_member sm[8];
    size_t n_sm;
} world;

static plan_input input_of(world *w, const smap *m, const base_state *base, merge_policy p)
{
    plan_input in = {.pair_id = "pair-1", .statuses = m, .base = base, .policy = p};
    in.people = (people_input){w->leads, w->n_leads, w->people, w->n_people,
                               w->mm,    w->n_mm,    w->sm,     w->n_sm};
    return in;
}

/* Base of one entry: lead 1 "Registered" with Salesforce Lead
 * 00Q000000000001AAA, version 7. */
static void base_one(base_state *b, char **names, base_entry *e)
{
    names[0] = "Registered";
    e[0] = (base_entry){1, 0, base_sf_tag("00Q000000000001AAA")};
    *b = (base_state){.version = 7, .names = names, .n_names = 1, .entries = e, .n_entries = 1};
}

static void test_plan_first_sync_creates_people(void **state)
{
    smap *m = new_map();
    world w = {0};
    /* Marketo lead 1 with no Salesforce person; Salesforce Contact with no
     * Marketo person; a Marketo lead without email. */
    w.leads[w.n_leads++] = (people_mkto_lead){1, "ann@x.com", "Ann", " ", NULL, NULL, NULL};
    w.leads[w.n_leads++] = (people_mkto_lead){2, NULL, NULL, NULL, NULL, NULL, NULL};
    w.mm[w.n_mm++] = (people_mkto_member){1, "Attended", 100};
    w.mm[w.n_mm++] = (people_mkto_member){2, "Invited", 100};
    w.people[w.n_people++] = (people_sf_person){
        "003000000000001AAA", PEOPLE_SF_CONTACT, " Bob@x.com\t", "Bob", "B", NULL, false, NULL};
    w.sm[w.n_sm++] =
        (people_sf_member){"00v1", "003000000000001AAA", "bob@x.com", "Registered", 200};
    plan_input in = input_of(&w, m, NULL, MW);
    plan *p = NULL;
    recon_err err;
    assert_int_equal(plan_build(&in, &p, &err), 0);
    assert_int_equal(p->n_members, 2);
    assert_int_equal(p->n_items, 4);
    /* Lead 1: create the Lead, then add it with Marketo's status. */
    assert_int_equal(p->items[0].action, PLAN_CREATE_LEAD);
    assert_int_equal(p->items[0].side, MERGE_SIDE_SALESFORCE);
    assert_int_equal(p->items[1].action, PLAN_ADD);
    assert_int_equal(p->items[1].depends_on, 0);
    assert_string_equal(smap_name(m, p->items[1].to_status), "Attended");
    assert_int_equal(p->items[1].why, MERGE_WHY_NO_BASE);
    /* Bob: create in Marketo by email, then add with Salesforce's status. */
    assert_int_equal(p->items[2].action, PLAN_CREATE_PERSON);
    assert_int_equal(p->items[2].side, MERGE_SIDE_MARKETO);
    assert_int_equal(p->items[3].action, PLAN_ADD);
    assert_int_equal(p->items[3].depends_on, 2);
    assert_string_equal(p->members[1].email, " Bob@x.com\t");
    /* Lead 2 has no email: skipped with a reason. */
    assert_int_equal(p->n_notes, 1);
    assert_int_equal(p->notes[0].kind, PLAN_NOTE_SKIPPED);
    assert_non_null(strstr(p->notes[0].message, "no email"));
    /* The add to Salesforce is an ADDED_TO_SFDC_CAMPAIGN event from Marketo;
     * nothing was observed (no base to compare with). */
    assert_int_equal(p->n_events, 1);
    assert_int_equal(p->events[0].type, PLAN_EV_ADDED);
    assert_string_equal(p->events[0].source, "marketo");
    assert_int_equal(p->items[1].event, 0);

    /* The Lead gets Marketo's names, and "[not provided]" where Salesforce
     * requires a value Marketo lacks; Marketo gets the email and names. */
    plan_person_fields f;
    assert_int_equal(plan_create_fields(p, 0, &f, &err), 0);
    assert_string_equal(f.email, "ann@x.com");
    assert_string_equal(f.first_name, "Ann");
    assert_string_equal(f.last_name, PLAN_NOT_PROVIDED);
    assert_string_equal(f.company, "[not provided]");
    assert_int_equal(plan_create_fields(p, 2, &f, &err), 0);
    assert_string_equal(f.email, "Bob@x.com");
    assert_string_equal(f.last_name, "B");
    assert_null(f.company);
    assert_int_equal(plan_create_fields(p, 1, &f, &err), RECON_EINVAL);

    /* Applying out of order is refused; created ids are required. */
    assert_int_equal(plan_mark_applied(p, 1, NULL, &err), RECON_ESTATE);
    assert_int_equal(plan_mark_applied(p, 0, NULL, &err), RECON_EINVAL);
    assert_int_equal(plan_mark_applied(p, 0, "00Q000000000009AAA", &err), 0);
    assert_string_equal(p->members[0].sf_person_id, "00Q000000000009AAA");
    assert_false(plan_sf_person_is_contact(&p->members[0]));
    assert_true(plan_sf_person_is_contact(&p->members[1]));
    assert_int_equal(plan_mark_applied(p, 1, NULL, &err), 0);
    assert_int_equal(plan_mark_applied(p, 1, NULL, &err), RECON_ESTATE);
    assert_true(plan_member_settled(p, 0));
    /* Bob's creation fails: his add is not attempted, and he gets no base. */
    assert_int_equal(plan_mark_applied(p, 2, "abc", &err), RECON_EINVAL);
    assert_int_equal(plan_mark_failed(p, 2, "1003 invalid data", &err), 0);
    assert_int_equal(p->items[3].state, PLAN_FAILED);
    assert_non_null(strstr(p->items[3].error, "1003"));
    plan_counts c;
    plan_get_counts(p, &c);
    assert_int_equal(c.new_count, 2);
    assert_int_equal(c.failed, 2);
    assert_int_equal(c.skipped, 1);

    base_state nb;
    assert_int_equal(plan_new_base(p, &nb, &err), 0);
    assert_int_equal(nb.version, 1);
    assert_int_equal(nb.n_entries, 1);
    assert_int_equal(nb.entries[0].lead_id, 1);
    assert_string_equal(nb.names[nb.entries[0].status], "Attended");
    base_free(&nb);
    plan_free(p);
    smap_free(m);
}

static void test_plan_failed_item_keeps_base(void **state)
{
    smap *m = new_map();
    world w = {0};
    w.leads[w.n_leads++] =
        (people_mkto_lead){1, "ann@x.com", NULL, NULL, NULL, "00Q000000000001AAA", NULL};
    w.people[w.n_people++] = (people_sf_person){
        "00Q000000000001AAA", PEOPLE_SF_LEAD, "ann@x.com", NULL, NULL, NULL, false, NULL};
    w.mm[w.n_mm++] = (people_mkto_member){1, "Registered", 100};
    w.sm[w.n_sm++] = (people_sf_member){"00v1", "00Q000000000001AAA", "ann@x.com", "Engaged", 200};
    char *names[1];
    base_entry e[1];
    base_state base;
    base_one(&base, names, e);
    plan_input in = input_of(&w, m, &base, MW);
    plan *p = NULL;
    recon_err err;
    assert_int_equal(plan_build(&in, &p, &err), 0);
    assert_int_equal(p->n_items, 1);
    assert_int_equal(p->items[0].side, MERGE_SIDE_MARKETO);
    assert_int_equal(p->items[0].action, PLAN_STATUS);
    assert_int_equal(p->items[0].why, MERGE_WHY_SF_CHANGE);
    /* The Salesforce change is an observed event. */
    assert_int_equal(p->n_events, 1);
    assert_int_equal(p->events[0].item, -1);
    assert_int_equal(p->events[0].type, PLAN_EV_STATUS_CHANGED);
    assert_string_equal(smap_name(m, p->events[0].old_status), "Registered");
    assert_string_equal(smap_name(m, p->events[0].new_status), "Engaged");
    assert_string_equal(p->events[0].source, "salesforce");
    assert_int_equal(p->items[0].event, 0); /* the Marketo write carries it over */
    char who[128];
    plan_person_text(&p->members[0], who, sizeof who);
    assert_string_equal(who, "Marketo lead 1 / Salesforce 00Q000000000001AAA");

    /* Same inputs, same keys: a retried cycle dedups. */
    plan *p2 = NULL;
    assert_int_equal(plan_build(&in, &p2, &err), 0);
    assert_string_equal(p->items[0].dedup_key, p2->items[0].dedup_key);
    assert_int_equal(strlen(p->items[0].dedup_key), PLAN_KEY_LEN);
    plan_free(p2);
    /* A newer base gives new keys: the same change made again is new. */
    base.version = 8;
    assert_int_equal(plan_build(&in, &p2, &err), 0);
    assert_string_not_equal(p->items[0].dedup_key, p2->items[0].dedup_key);
    plan_free(p2);

    assert_int_equal(plan_mark_failed(p, 0, "611 system error", &err), 0);
    assert_false(plan_member_settled(p, 0));
    base_state nb;
    assert_int_equal(plan_new_base(p, &nb, &err), 0);
    assert_int_equal(nb.version, 8);
    assert_int_equal(nb.n_entries, 1);
    assert_string_equal(nb.names[nb.entries[0].status], "Registered");
    base_free(&nb);
    plan_free(p);
    smap_free(m);
}

static void test_plan_rejection_and_conflict_notes(void **state)
{
    smap *m = new_map();
    world w = {0};
    w.leads[w.n_leads++] =
        (people_mkto_lead){1, "ann@x.com", NULL, NULL, NULL, "00Q000000000001AAA", NULL};
    w.mm[w.n_mm++] = (people_mkto_member){1, "Attended", 100};
    w.sm[w.n_sm++] = (people_sf_member){"00v1", "00Q000000000001AAA", "ann@x.com", "Invited", 200};
    char *names[1];
    base_entry e[1];
    base_state base;
    base_one(&base, names, e);
    plan_input in = input_of(&w, m, &base, SW);
    plan *p = NULL;
    recon_err err;
    assert_int_equal(plan_build(&in, &p, &err), 0);
    /* Salesforce wins the conflict but cannot move Marketo back: set back. */
    assert_int_equal(p->n_items, 1);
    assert_int_equal(p->items[0].side, MERGE_SIDE_SALESFORCE);
    assert_int_equal(p->items[0].action, PLAN_STATUS);
    assert_string_equal(smap_name(m, p->items[0].to_status), "Attended");
    assert_int_equal(p->n_notes, 2);
    assert_int_equal(p->notes[0].kind, PLAN_NOTE_CONFLICT);
    assert_non_null(strstr(p->notes[0].message, "salesforce_wins"));
    assert_int_equal(p->notes[1].kind, PLAN_NOTE_REJECTED);
    assert_non_null(strstr(p->notes[1].message, "set back to \"Attended\""));
    /* Two events: the Salesforce change seen, and the set-back. */
    assert_int_equal(p->n_events, 2);
    assert_int_equal(p->events[1].item, 0);
    assert_string_equal(smap_name(m, p->events[1].old_status), "Invited");
    plan_counts c;
    plan_get_counts(p, &c);
    assert_int_equal(c.conflicts, 1);
    assert_int_equal(c.rejected_backwards, 1);
    assert_int_equal(c.pending, 1);
    plan_free(p);
    smap_free(m);
}

static void test_plan_unknown_status_keeps_base(void **state)
{
    smap *m = new_map();
    world w = {0};
    w.leads[w.n_leads++] =
        (people_mkto_lead){1, "ann@x.com", NULL, NULL, NULL, "00Q000000000001AAA", NULL};
    w.mm[w.n_mm++] = (people_mkto_member){1, "Registered", 100};
    w.sm[w.n_sm++] = (people_sf_member){"00v1", "00Q000000000001AAA", "ann@x.com", "Sent", 200};
    /* Lead 5 is in the base but on neither side now: dropped. */
    char *names[2] = {"Registered", "Old Status"};
    base_entry e[2] = {{1, 1, 0}, {5, 0, 0}};
    base_state base = {.version = 3, .names = names, .n_names = 2, .entries = e, .n_entries = 2};
    plan_input in = input_of(&w, m, &base, MW);
    plan *p = NULL;
    recon_err err;
    assert_int_equal(plan_build(&in, &p, &err), 0);
    assert_int_equal(p->n_members, 0);
    assert_int_equal(p->n_notes, 1);
    assert_non_null(strstr(p->notes[0].message, "\"Sent\" is not a status"));
    base_state nb;
    assert_int_equal(plan_new_base(p, &nb, &err), 0);
    assert_int_equal(nb.n_entries, 1);
    assert_int_equal(nb.entries[0].lead_id, 1);
    assert_string_equal(nb.names[nb.entries[0].status], "Old Status");
    base_free(&nb);
    plan_free(p);
    smap_free(m);
}

/* A cycle writes to Salesforce and dies before storing its base. The retry
 * starts from the same base and sees its writes as Salesforce changes: no
 * write is planned again, and the changes are listed as observed there
 * (the service's event state emits each change once either way). */
static void test_retry_sees_its_writes_as_salesforce_changes(void **state)
{
    smap *m = new_map();
    world w = {0};
    w.leads[w.n_leads++] =
        (people_mkto_lead){1, "ann@x.com", NULL, NULL, NULL, "00Q000000000001AAA", NULL};
    w.leads[w.n_leads++] = (people_mkto_lead){2, "cy@x.com", NULL, "Cy", "Co", NULL, NULL};
    w.mm[w.n_mm++] = (people_mkto_member){1, "Attended", 100};
    w.mm[w.n_mm++] = (people_mkto_member){2, "Invited", 100};
    w.sm[w.n_sm++] =
        (people_sf_member){"00v1", "00Q000000000001AAA", "ann@x.com", "Registered", 50};
    char *names[1];
    base_entry e[1];
    base_state base;
    base_one(&base, names, e);
    plan_input in = input_of(&w, m, &base, MW);
    plan *p = NULL;
    recon_err err;
    assert_int_equal(plan_build(&in, &p, &err), 0);
    /* Lead 1: status to Salesforce; lead 2: create its Lead, then add it. */
    assert_int_equal(p->n_items, 3);
    assert_int_equal(p->items[1].action, PLAN_CREATE_LEAD);
    assert_int_equal(p->events[p->items[0].event].item, 0);
    assert_string_equal(p->events[p->items[0].event].source, "marketo");
    assert_int_equal(p->events[p->items[2].event].type, PLAN_EV_ADDED);
    assert_int_equal(plan_mark_applied(p, 0, NULL, &err), 0);
    assert_int_equal(plan_mark_applied(p, 1, "00QNEW000000000AAA", &err), 0);
    assert_int_equal(plan_mark_applied(p, 2, NULL, &err), 0);
    /* The created Lead is the person of the add's event. */
    assert_string_equal(p->members[p->events[p->items[2].event].member].sf_person_id,
                        "00QNEW000000000AAA");
    plan_free(p);

    /* Salesforce now holds both writes; the base was never stored. */
    w.sm[0].status = "Attended";
    w.people[w.n_people++] = (people_sf_person){
        "00QNEW000000000AAA", PEOPLE_SF_LEAD, "cy@x.com", NULL, "Cy", "Co", false, NULL};
    w.sm[w.n_sm++] = (people_sf_member){"00v2", "00QNEW000000000AAA", "cy@x.com", "Invited", 60};
    in = input_of(&w, m, &base, MW);
    assert_int_equal(plan_build(&in, &p, &err), 0);
    assert_int_equal(p->n_items, 0);
    assert_int_equal(p->n_events, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(p->events[i].item, -1);
        assert_string_equal(p->events[i].source, "salesforce");
    }
    plan_free(p);
    smap_free(m);
}

/* A partial plan covers only the people a probe named: everyone else keeps
 * their base entry (not read as removed on both sides), a covered person
 * removed on both sides loses theirs, a covered change moves it. The same
 * input as a full plan drops the uncovered entries. */
static void test_partial_plan_keeps_the_base_of_people_not_read(void **state)
{
    smap *m = new_map();
    world w = {0};
    /* Lead 1: Marketo moved on to Attended, Salesforce still Registered. */
    w.leads[w.n_leads++] =
        (people_mkto_lead){1, "ann@x.com", NULL, NULL, NULL, "00Q000000000001AAA", NULL};
    w.people[w.n_people++] = (people_sf_person){
        "00Q000000000001AAA", PEOPLE_SF_LEAD, "ann@x.com", NULL, NULL, NULL, false, NULL};
    w.mm[w.n_mm++] = (people_mkto_member){1, "Attended", 100};
    w.sm[w.n_sm++] =
        (people_sf_member){"00v1", "00Q000000000001AAA", "ann@x.com", "Registered", 50};
    /* Lead 3: removed on both sides (read, member of neither). */
    w.leads[w.n_leads++] =
        (people_mkto_lead){3, "cy@x.com", NULL, NULL, NULL, "00Q000000000003AAA", NULL};
    w.people[w.n_people++] = (people_sf_person){
        "00Q000000000003AAA", PEOPLE_SF_LEAD, "cy@x.com", NULL, NULL, NULL, false, NULL};
    char *names[] = {"Registered", "Attended", "Invited"};
    base_entry e[] = {{1, 0, base_sf_tag("00Q000000000001AAA")},
                      {2, 1, base_sf_tag("00Q000000000002AAA")},
                      {3, 2, base_sf_tag("00Q000000000003AAA")}};
    base_state base = {.version = 4, .names = names, .n_names = 3, .entries = e, .n_entries = 3};
    plan_input in = input_of(&w, m, &base, MW);
    in.partial = true;
    plan *p = NULL;
    recon_err err;
    assert_int_equal(plan_build(&in, &p, &err), 0);
    /* Only lead 1's status goes to Salesforce: lead 2 (not read) is not
     * removed anywhere. */
    assert_int_equal(p->n_items, 1);
    assert_int_equal(p->items[0].side, MERGE_SIDE_SALESFORCE);
    assert_int_equal(p->items[0].action, PLAN_STATUS);
    assert_int_equal(plan_mark_applied(p, 0, NULL, &err), 0);
    base_state nb;
    assert_int_equal(plan_new_base(p, &nb, &err), 0);
    assert_int_equal(nb.version, 5);
    assert_int_equal(nb.n_entries, 2);
    assert_int_equal(nb.entries[0].lead_id, 1);
    assert_string_equal(nb.names[nb.entries[0].status], "Attended");
    assert_int_equal(nb.entries[1].lead_id, 2);
    assert_string_equal(nb.names[nb.entries[1].status], "Attended");
    assert_int_equal(nb.entries[1].sf_tag, base_sf_tag("00Q000000000002AAA"));
    base_free(&nb);
    plan_free(p);

    /* Lead 1's write fails: its old entry stays, and so does lead 2's. */
    assert_int_equal(plan_build(&in, &p, &err), 0);
    assert_int_equal(plan_mark_failed(p, 0, "refused", &err), 0);
    assert_int_equal(plan_new_base(p, &nb, &err), 0);
    assert_int_equal(nb.n_entries, 2);
    assert_string_equal(nb.names[nb.entries[0].status], "Registered");
    base_free(&nb);
    plan_free(p);

    /* A full plan of the same input: lead 2 is absent on both sides. */
    in.partial = false;
    assert_int_equal(plan_build(&in, &p, &err), 0);
    assert_int_equal(plan_mark_applied(p, 0, NULL, &err), 0);
    assert_int_equal(plan_new_base(p, &nb, &err), 0);
    assert_int_equal(nb.n_entries, 1);
    assert_int_equal(nb.entries[0].lead_id, 1);
    base_free(&nb);
    plan_free(p);
    smap_free(m);
}

/* latest_wins: a removal with a known time against a change on the other
 * side; without the time the change wins (nothing removed on a guess). */
static void test_plan_latest_wins_with_removal_times(void **state)
{
    smap *m = new_map();
    world w = {0};
    w.leads[w.n_leads++] =
        (people_mkto_lead){1, "ann@x.com", NULL, NULL, NULL, "00Q000000000001AAA", NULL};
    w.people[w.n_people++] = (people_sf_person){
        "00Q000000000001AAA", PEOPLE_SF_LEAD, "ann@x.com", NULL, NULL, NULL, false, NULL};
    w.mm[w.n_mm++] = (people_mkto_member){1, "Attended", 100};
    char *names[1];
    base_entry e[1];
    base_state base;
    base_one(&base, names, e);
    plan_input in = input_of(&w, m, &base, LW);
    plan *p = NULL;
    recon_err err;
    /* Removed in Salesforce at an unknown time: Marketo's change wins. */
    assert_int_equal(plan_build(&in, &p, &err), 0);
    assert_int_equal(p->n_items, 1);
    assert_int_equal(p->items[0].side, MERGE_SIDE_SALESFORCE);
    assert_int_equal(p->items[0].action, PLAN_ADD);
    plan_free(p);
    /* Removed after Marketo's change (the latest of two removals counts). */
    plan_sf_removal rm[] = {
        {"00Q000000000001AAA", 50}, {"00Q000000000001AAA", 300}, {"00Qother", 999}};
    in.sf_removed = rm;
    in.n_sf_removed = 3;
    assert_int_equal(plan_build(&in, &p, &err), 0);
    assert_int_equal(p->n_items, 1);
    assert_int_equal(p->items[0].side, MERGE_SIDE_MARKETO);
    assert_int_equal(p->items[0].action, PLAN_REMOVE);
    assert_int_equal(p->notes[0].kind, PLAN_NOTE_CONFLICT);
    plan_free(p);
    /* Removed before it: the change wins again. */
    rm[1].at_ms = 80;
    assert_int_equal(plan_build(&in, &p, &err), 0);
    assert_int_equal(p->items[0].action, PLAN_ADD);
    plan_free(p);
    /* The same on the Marketo side. */
    w.n_mm = 0;
    w.sm[w.n_sm++] = (people_sf_member){"00v1", "00Q000000000001AAA", "ann@x.com", "Engaged", 200};
    plan_mkto_removal mr[] = {{1, 250}};
    in = input_of(&w, m, &base, LW);
    in.mkto_removed = mr;
    in.n_mkto_removed = 1;
    assert_int_equal(plan_build(&in, &p, &err), 0);
    assert_int_equal(p->n_items, 1);
    assert_int_equal(p->items[0].side, MERGE_SIDE_SALESFORCE);
    assert_int_equal(p->items[0].action, PLAN_REMOVE);
    plan_free(p);
    smap_free(m);
}

/* Lead 1 was agreed with Lead 00Q..1AAA; now Marketo links it to a Contact
 * that is not in the campaign, and the old Lead's member is gone. That is a
 * change of identity, not a removal in Salesforce: nothing is removed from
 * Marketo, the Contact is added, and the base remembers the Contact. */
static void test_plan_identity_change_is_not_a_removal(void **state)
{
    smap *m = new_map();
    world w = {0};
    w.leads[w.n_leads++] =
        (people_mkto_lead){1, "ann@x.com", NULL, NULL, NULL, NULL, "003000000000002AAA"};
    w.people[w.n_people++] = (people_sf_person){
        "003000000000002AAA", PEOPLE_SF_CONTACT, "ann@x.com", NULL, NULL, NULL, false, NULL};
    w.mm[w.n_mm++] = (people_mkto_member){1, "Attended", 100};
    char *names[1];
    base_entry e[1];
    base_state base;
    base_one(&base, names, e);
    plan_input in = input_of(&w, m, &base, MW);
    plan *p = NULL;
    recon_err err;
    assert_int_equal(plan_build(&in, &p, &err), 0);
    assert_int_equal(p->members[0].in.base.kind, MERGE_BASE_UNKNOWN);
    assert_int_equal(p->n_items, 1);
    assert_int_equal(p->items[0].side, MERGE_SIDE_SALESFORCE);
    assert_int_equal(p->items[0].action, PLAN_ADD);
    assert_string_equal(smap_name(m, p->items[0].to_status), "Attended");
    assert_int_equal(plan_mark_applied(p, 0, NULL, &err), 0);
    base_state nb;
    assert_int_equal(plan_new_base(p, &nb, &err), 0);
    assert_int_equal(nb.n_entries, 1);
    assert_int_equal(nb.entries[0].sf_tag, base_sf_tag("003000000000002AAA"));
    base_free(&nb);
    plan_free(p);
    /* The same person as agreed: the missing member is a real removal. */
    e[0].sf_tag = base_sf_tag("003000000000002AAA");
    e[0].status = 0;
    w.mm[0].status = "Registered";
    assert_int_equal(plan_build(&in, &p, &err), 0);
    assert_int_equal(p->n_items, 1);
    assert_int_equal(p->items[0].side, MERGE_SIDE_MARKETO);
    assert_int_equal(p->items[0].action, PLAN_REMOVE);
    plan_free(p);
    smap_free(m);
}

static void test_plan_bad_input(void **state)
{
    smap *m = new_map();
    world w = {0};
    plan *p = NULL;
    recon_err err;
    plan_input in = input_of(&w, m, NULL, MW);
    in.pair_id = "";
    assert_int_equal(plan_build(&in, &p, &err), RECON_EINVAL);
    in.pair_id = "x";
    in.policy = (merge_policy)9;
    assert_int_equal(plan_build(&in, &p, &err), RECON_EINVAL);
    assert_non_null(strstr(err.msg, "policy"));
    in.policy = MW;
    w.mm[w.n_mm++] = (people_mkto_member){-4, "Registered", 0};
    in = input_of(&w, m, NULL, MW);
    assert_int_equal(plan_build(&in, &p, &err), RECON_EINVAL);
    assert_null(p);
    smap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_invariants_exhaustive),
        cmocka_unit_test(test_policy_names),
        cmocka_unit_test(test_plan_first_sync_creates_people),
        cmocka_unit_test(test_plan_failed_item_keeps_base),
        cmocka_unit_test(test_plan_rejection_and_conflict_notes),
        cmocka_unit_test(test_plan_unknown_status_keeps_base),
        cmocka_unit_test(test_retry_sees_its_writes_as_salesforce_changes),
        cmocka_unit_test(test_partial_plan_keeps_the_base_of_people_not_read),
        cmocka_unit_test(test_plan_latest_wins_with_removal_times),
        cmocka_unit_test(test_plan_identity_change_is_not_a_removal),
        cmocka_unit_test(test_plan_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
