/*
 * Plan of a cycle: see plan.h. Built in one pass over the matched people:
 * each row is merged (merge.c), its decision becomes at most one write per
 * side plus, before an add, the creation of the missing person. Arrays are
 * sized up front from the row count (a member has at most two items, two
 * events and two notes), so building never reallocates and indexes stay
 * valid.
 */
#include "plan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "strbuf.h"

const char *plan_action_name(plan_action a)
{
    switch (a) {
    case PLAN_ADD:
        return "add";
    case PLAN_REMOVE:
        return "remove";
    case PLAN_STATUS:
        return "status";
    case PLAN_CREATE_LEAD:
        return "create_lead";
    case PLAN_CREATE_PERSON:
        return "create_person";
    }
    return "?";
}

const char *plan_side_name(merge_side_id s)
{
    return s == MERGE_SIDE_SALESFORCE ? "salesforce" : "marketo";
}

static void hex_key(char out[PLAN_KEY_LEN + 1], const char *text)
{
    uint64_t h = hmap_hash(text, strlen(text));
    snprintf(out, PLAN_KEY_LEN + 1, "%016" PRIx64, h);
}

typedef struct {
    const plan_input *in;
    plan *p;
    people_match pm;
    int *base_map;                 /* old base name index -> status map index, -1 unknown */
    hmap sf_removed, mkto_removed; /* person id / lead id -> index of the latest removal */
    char keybuf[2048];
} builder;

static const char *st(const plan *p, int idx)
{
    return smap_name(p->statuses, idx);
}

bool plan_sf_person_is_contact(const plan_member *m)
{
    if (!m->sf_person_id || m->created_sf_id)
        return false;
    if (m->sf_person && m->sf_person->id && strcmp(m->sf_person->id, m->sf_person_id) == 0)
        return m->sf_person->kind == PEOPLE_SF_CONTACT;
    return strncmp(m->sf_person_id, "003", 3) == 0;
}

void plan_person_text(const plan_member *m, char *buf, size_t cap)
{
    if (m->lead_id && m->sf_person_id)
        snprintf(buf, cap, "Marketo lead %lld / Salesforce %s", (long long)m->lead_id,
                 m->sf_person_id);
    else if (m->lead_id)
        snprintf(buf, cap, "Marketo lead %lld", (long long)m->lead_id);
    else
        snprintf(buf, cap, "Salesforce %s", m->sf_person_id ? m->sf_person_id : "?");
}

static int add_note(builder *b, plan_note_kind kind, uint32_t member, bool mkto, int64_t lead_id,
                    const char *sf_id, char *message)
{
    if (!message)
        return -1;
    plan_note *n = &b->p->notes[b->p->n_notes++];
    n->kind = kind;
    n->member = member;
    n->mkto = mkto;
    n->lead_id = lead_id;
    n->sf_id = sf_id;
    n->message = message;
    return 0;
}

static int32_t add_item(builder *b, uint32_t mi, merge_side_id side, plan_action action,
                        int32_t depends_on, int from, int to)
{
    plan *p = b->p;
    plan_member *m = &p->members[mi];
    plan_item *it = &p->items[p->n_items];
    memset(it, 0, sizeof *it);
    it->side = side;
    it->action = action;
    it->member = mi;
    it->depends_on = depends_on;
    it->from_status = from;
    it->to_status = to;
    it->why = m->decision.why;
    it->event = -1;
    snprintf(b->keybuf, sizeof b->keybuf, "item|%s|%lld|%s|%s|%s|%s|%s|%" PRIu64, b->in->pair_id,
             (long long)m->lead_id, m->sf_person_id ? m->sf_person_id : "", plan_side_name(side),
             plan_action_name(action), st(p, from), st(p, to), p->base_version);
    hex_key(it->dedup_key, b->keybuf);
    if (m->n_items == 0)
        m->first_item = (uint32_t)p->n_items;
    m->n_items++;
    return (int32_t)p->n_items++;
}

static int32_t add_event(builder *b, uint32_t mi, plan_event_type type, int32_t item, int old_st,
                         int new_st, const char *source)
{
    plan *p = b->p;
    plan_member *m = &p->members[mi];
    plan_event *e = &p->events[p->n_events];
    e->type = type;
    e->member = mi;
    e->item = item;
    e->old_status = old_st;
    e->new_status = new_st;
    e->source = source;
    if (item >= 0)
        p->items[item].event = (int32_t)p->n_events;
    if (m->n_events == 0)
        m->first_event = (uint32_t)p->n_events;
    m->n_events++;
    return (int32_t)p->n_events++;
}

static plan_event_type event_of(merge_op op)
{
    return op == MERGE_OP_ADD      ? PLAN_EV_ADDED
           : op == MERGE_OP_REMOVE ? PLAN_EV_REMOVED
                                   : PLAN_EV_STATUS_CHANGED;
}

static plan_action action_of(merge_op op)
{
    return op == MERGE_OP_ADD ? PLAN_ADD : op == MERGE_OP_REMOVE ? PLAN_REMOVE : PLAN_STATUS;
}

static const char *state_text(const plan *p, bool present, int status, char *buf, size_t cap)
{
    if (!present)
        snprintf(buf, cap, "not a member");
    else
        snprintf(buf, cap, "\"%s\"", st(p, status));
    return buf;
}

static int note_decision(builder *b, uint32_t mi)
{
    plan *p = b->p;
    plan_member *m = &p->members[mi];
    const merge_decision *d = &m->decision;
    char who[128], s1[160], s2[160], s3[160];
    plan_person_text(m, who, sizeof who);
    sbuf sb = {0};
    if (d->conflict) {
        const char *base = m->in.base.kind == MERGE_BASE_PRESENT
                               ? state_text(p, true, m->in.base.status, s3, sizeof s3)
                               : "not a member";
        sbuf_printf(&sb,
                    "%s: both sides changed since %s: Marketo %s, Salesforce %s; %s kept the "
                    "%s change",
                    who, base, state_text(p, m->in.mkto.present, m->in.mkto.status, s1, sizeof s1),
                    state_text(p, m->in.sf.present, m->in.sf.status, s2, sizeof s2),
                    merge_policy_name(p->policy),
                    d->winner == MERGE_SIDE_SALESFORCE ? "Salesforce" : "Marketo");
        if (add_note(b, PLAN_NOTE_CONFLICT, mi, false, m->lead_id, m->sf_person_id, sbuf_take(&sb)))
            return -1;
    }
    if (d->rejected) {
        sbuf_printf(&sb,
                    "%s: Salesforce status \"%s\" is not after Marketo's \"%s\" (step %d -> %d); "
                    "Marketo only moves forward, so Salesforce is set back to \"%s\"",
                    who, st(p, d->rejected_status), st(p, m->in.mkto.status),
                    (int)smap_step(p->statuses, m->in.mkto.status),
                    (int)smap_step(p->statuses, d->rejected_status), st(p, m->in.mkto.status));
        if (add_note(b, PLAN_NOTE_REJECTED, mi, false, m->lead_id, m->sf_person_id, sbuf_take(&sb)))
            return -1;
    }
    return 0;
}

static merge_base base_of(builder *b, int64_t lead_id, const char *sf_person_id, uint32_t *old_tag)
{
    merge_base mb = {MERGE_BASE_UNKNOWN, -1};
    const base_state *bs = b->in->base;
    *old_tag = 0;
    if (!bs)
        return mb;
    mb.kind = MERGE_BASE_ABSENT;
    const base_entry *e = lead_id ? base_find(bs, lead_id) : NULL;
    if (!e)
        return mb;
    *old_tag = e->sf_tag;
    int idx = e->status >= 0 ? b->base_map[e->status] : -1;
    /* Unknown agreed state, a status the channel no longer has, or a lead
     * now matched to another Salesforce person than the one it was agreed
     * with: the safe reading is "no base" (nothing removed). */
    if (idx < 0 || (e->sf_tag && e->sf_tag != base_sf_tag(sf_person_id))) {
        mb.kind = MERGE_BASE_UNKNOWN;
        return mb;
    }
    mb.kind = MERGE_BASE_PRESENT;
    mb.status = idx;
    return mb;
}

static int keep_lead(builder *b, int64_t lead_id)
{
    if (lead_id && b->in->base && base_find(b->in->base, lead_id))
        b->p->kept_leads[b->p->n_kept++] = lead_id;
    return 0;
}

static int skip_row(builder *b, const people_row *r, bool mkto, const char *status)
{
    sbuf sb = {0};
    if (r->lead_id)
        sbuf_printf(&sb, "Marketo lead %lld: ", (long long)r->lead_id);
    else
        sbuf_printf(&sb, "Salesforce %s: ", r->sf_person_id ? r->sf_person_id : "?");
    sbuf_printf(&sb, "%s status ", mkto ? "Marketo" : "Salesforce");
    sbuf_quoted(&sb, status ? status : "");
    sbuf_printf(&sb, " is not a status of the program's channel; member left alone");
    keep_lead(b, r->lead_id);
    return add_note(b, PLAN_NOTE_SKIPPED, PEOPLE_NONE, mkto, r->lead_id, r->sf_person_id,
                    sbuf_take(&sb));
}

/* A copy of an email without surrounding white space (case kept: it is
 * what the person typed). */
static char *trim_dup(const char *s)
{
    if (!s)
        return strdup("");
    const char *e = s + strlen(s);
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    return strndup(s, (size_t)(e - s));
}

static int plan_row(builder *b, const people_row *r)
{
    plan *p = b->p;
    const people_input *pi = &b->in->people;
    merge_input in = {
        .base = {MERGE_BASE_UNKNOWN, -1}, .mkto = {false, -1, 0}, .sf = {false, -1, 0}};
    if (r->mkto_member != PEOPLE_NONE) {
        const people_mkto_member *mm = &pi->mkto_members[r->mkto_member];
        in.mkto = (merge_side){true, smap_find(p->statuses, mm->status), mm->modified_ms};
        if (in.mkto.status < 0)
            return skip_row(b, r, true, mm->status);
    }
    if (r->sf_member != PEOPLE_NONE) {
        const people_sf_member *sm = &pi->sf_members[r->sf_member];
        in.sf = (merge_side){true, smap_find(p->statuses, sm->status), sm->modified_ms};
        if (in.sf.status < 0)
            return skip_row(b, r, false, sm->status);
    }
    uint32_t old_tag;
    in.base = base_of(b, r->lead_id, r->sf_person_id, &old_tag);
    uint32_t ri;
    if (!in.mkto.present && r->lead_id &&
        hmap_get(&b->mkto_removed, &r->lead_id, sizeof r->lead_id, &ri))
        in.mkto.modified_ms = b->in->mkto_removed[ri].at_ms;
    if (!in.sf.present && r->sf_person_id &&
        hmap_get(&b->sf_removed, r->sf_person_id, strlen(r->sf_person_id), &ri))
        in.sf.modified_ms = b->in->sf_removed[ri].at_ms;

    uint32_t mi = (uint32_t)p->n_members++;
    plan_member *m = &p->members[mi];
    memset(m, 0, sizeof *m);
    m->lead_id = r->lead_id;
    m->sf_person_id = r->sf_person_id;
    m->sf_member_id = r->sf_member != PEOPLE_NONE ? pi->sf_members[r->sf_member].member_id : NULL;
    m->lead = r->lead != PEOPLE_NONE ? &pi->leads[r->lead] : NULL;
    m->sf_person = r->sf_person != PEOPLE_NONE ? &pi->sf_people[r->sf_person] : NULL;
    m->email = r->email;
    m->in = in;
    m->base_sf_tag = old_tag;
    merge_decide(p->statuses, p->policy, &in, &m->decision);
    const merge_decision *d = &m->decision;

    /* A change made in Salesforce is an event of its own (C8), whether it is
     * carried to Marketo, converges, or loses a conflict. */
    int32_t seen_ev = -1;
    if (in.base.kind != MERGE_BASE_UNKNOWN && d->sf_change != MERGE_CHANGE_NONE) {
        merge_op seen = d->sf_change == MERGE_CHANGE_ADDED     ? MERGE_OP_ADD
                        : d->sf_change == MERGE_CHANGE_REMOVED ? MERGE_OP_REMOVE
                                                               : MERGE_OP_STATUS;
        seen_ev = add_event(b, mi, event_of(seen), -1, in.base.status, in.sf.status, "salesforce");
    }
    bool creates = (d->sf_op == MERGE_OP_ADD && !m->sf_person_id) ||
                   (d->mkto_op == MERGE_OP_ADD && !m->lead_id);
    if (creates && !(m->create_email = trim_dup(m->email)))
        return -1;
    if (d->sf_op != MERGE_OP_NONE) {
        int32_t dep = -1;
        if (d->sf_op == MERGE_OP_ADD && !m->sf_person_id)
            dep = add_item(b, mi, MERGE_SIDE_SALESFORCE, PLAN_CREATE_LEAD, -1, -1, -1);
        int32_t it = add_item(b, mi, MERGE_SIDE_SALESFORCE, action_of(d->sf_op), dep, in.sf.status,
                              d->sf_to);
        add_event(b, mi, event_of(d->sf_op), it, in.sf.status, d->sf_to, "marketo");
    }
    if (d->mkto_op != MERGE_OP_NONE) {
        int32_t dep = -1;
        if (d->mkto_op == MERGE_OP_ADD && !m->lead_id)
            dep = add_item(b, mi, MERGE_SIDE_MARKETO, PLAN_CREATE_PERSON, -1, -1, -1);
        int32_t it = add_item(b, mi, MERGE_SIDE_MARKETO, action_of(d->mkto_op), dep, in.mkto.status,
                              d->mkto_to);
        /* A Marketo write carries a Salesforce change over: it points at the
         * event of that change (which belongs to Salesforce, not to it). */
        p->items[it].event = seen_ev;
    }
    return note_decision(b, mi);
}

/* Indexes the removal times, keeping the latest per person. */
static int index_removals(builder *b)
{
    const plan_input *in = b->in;
    if (hmap_init(&b->sf_removed, in->n_sf_removed) ||
        hmap_init(&b->mkto_removed, in->n_mkto_removed))
        return -1;
    for (size_t i = 0; i < in->n_sf_removed; i++) {
        const char *id = in->sf_removed[i].sf_person_id;
        uint32_t cur;
        if (!id || !id[0])
            continue;
        int r = hmap_put(&b->sf_removed, id, strlen(id), (uint32_t)i, &cur);
        if (r < 0 || (r == 1 && in->sf_removed[cur].at_ms < in->sf_removed[i].at_ms &&
                      hmap_set(&b->sf_removed, id, strlen(id), (uint32_t)i)))
            return -1;
    }
    for (size_t i = 0; i < in->n_mkto_removed; i++) {
        const int64_t *id = &in->mkto_removed[i].lead_id;
        uint32_t cur;
        int r = hmap_put(&b->mkto_removed, id, sizeof *id, (uint32_t)i, &cur);
        if (r < 0 || (r == 1 && in->mkto_removed[cur].at_ms < in->mkto_removed[i].at_ms &&
                      hmap_set(&b->mkto_removed, id, sizeof *id, (uint32_t)i)))
            return -1;
    }
    return 0;
}

void plan_free(plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_items; i++)
        free(p->items[i].error);
    for (size_t i = 0; i < p->n_notes; i++)
        free(p->notes[i].message);
    for (size_t i = 0; i < p->n_members; i++) {
        free(p->members[i].created_sf_id);
        free(p->members[i].create_email);
    }
    free(p->members);
    free(p->items);
    free(p->events);
    free(p->notes);
    free(p->kept_leads);
    free(p->read_leads);
    free(p->pair_id);
    free(p);
}

int plan_build(const plan_input *in, plan **out, recon_err *err)
{
    *out = NULL;
    if (!in->statuses)
        return recon_fail(err, RECON_EINVAL, "no status map given");
    if (!in->pair_id || !in->pair_id[0] || strlen(in->pair_id) > 200)
        return recon_fail(err, RECON_EINVAL, "pair id must be 1..200 characters");
    if (in->policy != MERGE_MARKETO_WINS && in->policy != MERGE_SALESFORCE_WINS &&
        in->policy != MERGE_LATEST_WINS)
        return recon_fail(err, RECON_EINVAL, "unknown conflict policy %d", (int)in->policy);
    builder b = {.in = in};
    int rc = people_match_all(&in->people, &b.pm, err);
    if (rc)
        return rc;
    plan *p = calloc(1, sizeof *p);
    size_t n = b.pm.n_rows;
    size_t n_base_names = in->base ? in->base->n_names : 0;
    if (p) {
        p->members = calloc(n + 1, sizeof *p->members);
        p->items = calloc(2 * n + 1, sizeof *p->items);
        p->events = calloc(2 * n + 1, sizeof *p->events);
        p->notes = calloc(2 * n + b.pm.n_skips + 1, sizeof *p->notes);
        p->kept_leads = calloc(n + b.pm.n_skips + 1, sizeof *p->kept_leads);
        b.base_map = calloc(n_base_names + 1, sizeof *b.base_map);
        p->pair_id = strdup(in->pair_id);
    }
    if (!p || !p->pair_id || !p->members || !p->items || !p->events || !p->notes ||
        !p->kept_leads || !b.base_map) {
        rc = recon_fail(err, RECON_ENOMEM, "out of memory building the plan");
        goto done;
    }
    b.p = p;
    p->statuses = in->statuses;
    p->policy = in->policy;
    p->had_base = in->base != NULL;
    p->partial = in->partial && in->base != NULL;
    if (p->partial) {
        /* Read and a member of neither side: removed on both. */
        p->read_leads = calloc(in->people.n_leads + 1, sizeof *p->read_leads);
        if (!p->read_leads) {
            rc = recon_fail(err, RECON_ENOMEM, "out of memory building the plan");
            goto done;
        }
        for (size_t i = 0; i < in->people.n_leads; i++)
            p->read_leads[p->n_read_leads++] = in->people.leads[i].id;
    }
    p->base_version = in->base ? in->base->version : 0;
    p->old_base = in->base;
    for (size_t i = 0; i < n_base_names; i++)
        b.base_map[i] = smap_find(in->statuses, in->base->names[i]);
    for (size_t i = 0; i < b.pm.n_skips && rc == 0; i++) {
        const people_skip *s = &b.pm.skips[i];
        keep_lead(&b, s->lead_id);
        if (add_note(&b, PLAN_NOTE_SKIPPED, PEOPLE_NONE, s->mkto, s->lead_id, s->sf_id,
                     strdup(s->reason)))
            rc = recon_fail(err, RECON_ENOMEM, "out of memory building the plan");
    }
    if (rc == 0 && index_removals(&b))
        rc = recon_fail(err, RECON_ENOMEM, "out of memory building the plan");
    for (size_t i = 0; i < n && rc == 0; i++)
        if (plan_row(&b, &b.pm.rows[i]))
            rc = recon_fail(err, RECON_ENOMEM, "out of memory building the plan");
done:
    hmap_free(&b.sf_removed);
    hmap_free(&b.mkto_removed);
    free(b.base_map);
    people_match_free(&b.pm);
    if (rc) {
        plan_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int plan_mark_applied(plan *p, size_t item, const char *created_id, recon_err *err)
{
    if (item >= p->n_items)
        return recon_fail(err, RECON_EINVAL, "no plan item %zu", item);
    plan_item *it = &p->items[item];
    if (it->state != PLAN_PENDING)
        return recon_fail(err, RECON_ESTATE, "plan item %zu was already marked %s", item,
                          it->state == PLAN_APPLIED ? "applied" : "failed");
    if (it->depends_on >= 0 && p->items[it->depends_on].state != PLAN_APPLIED)
        return recon_fail(err, RECON_ESTATE, "plan item %zu (%s) needs item %d applied first", item,
                          plan_action_name(it->action), (int)it->depends_on);
    plan_member *m = &p->members[it->member];
    bool creates = it->action == PLAN_CREATE_LEAD || it->action == PLAN_CREATE_PERSON;
    if (creates != (created_id != NULL && created_id[0] != '\0'))
        return recon_fail(err, RECON_EINVAL, "plan item %zu (%s) %s a created id", item,
                          plan_action_name(it->action), creates ? "needs" : "takes no");
    if (it->action == PLAN_CREATE_PERSON) {
        char *end;
        errno = 0;
        long long id = strtoll(created_id, &end, 10);
        if (errno || *end || id <= 0)
            return recon_fail(err, RECON_EINVAL,
                              "created Marketo lead id \"%s\" is not a "
                              "positive integer",
                              created_id);
        m->lead_id = id;
    } else if (it->action == PLAN_CREATE_LEAD) {
        char *copy = strdup(created_id);
        if (!copy)
            return recon_fail(err, RECON_ENOMEM, "out of memory");
        free(m->created_sf_id);
        m->created_sf_id = copy;
        m->sf_person_id = copy;
    }
    it->state = PLAN_APPLIED;
    return 0;
}

int plan_mark_failed(plan *p, size_t item, const char *reason, recon_err *err)
{
    if (item >= p->n_items)
        return recon_fail(err, RECON_EINVAL, "no plan item %zu", item);
    plan_item *it = &p->items[item];
    if (it->state != PLAN_PENDING)
        return recon_fail(err, RECON_ESTATE, "plan item %zu was already marked %s", item,
                          it->state == PLAN_APPLIED ? "applied" : "failed");
    char *copy = strdup(reason && reason[0] ? reason : "failed");
    if (!copy)
        return recon_fail(err, RECON_ENOMEM, "out of memory");
    it->state = PLAN_FAILED;
    it->error = copy;
    /* Dependents sit right after their dependency, within the member. */
    const plan_member *m = &p->members[it->member];
    for (size_t j = item + 1; j < (size_t)m->first_item + m->n_items; j++) {
        plan_item *dep = &p->items[j];
        if (dep->depends_on != (int32_t)item || dep->state != PLAN_PENDING)
            continue;
        sbuf sb = {0};
        sbuf_printf(&sb, "not attempted: %s failed: %s", plan_action_name(it->action), copy);
        char *msg = sbuf_take(&sb);
        if (!msg)
            return recon_fail(err, RECON_ENOMEM, "out of memory");
        dep->state = PLAN_FAILED;
        dep->error = msg;
    }
    return 0;
}

static const char *blank_to_null(const char *s)
{
    if (!s)
        return NULL;
    for (const char *c = s; *c; c++)
        if (*c != ' ' && *c != '\t' && *c != '\r' && *c != '\n')
            return s;
    return NULL;
}

int plan_create_fields(const plan *p, size_t item, plan_person_fields *out, recon_err *err)
{
    memset(out, 0, sizeof *out);
    if (item >= p->n_items)
        return recon_fail(err, RECON_EINVAL, "no plan item %zu", item);
    const plan_item *it = &p->items[item];
    const plan_member *m = &p->members[it->member];
    if (it->action == PLAN_CREATE_LEAD) {
        const people_mkto_lead *l = m->lead;
        out->email = m->create_email;
        out->first_name = l ? blank_to_null(l->first_name) : NULL;
        out->last_name = l ? blank_to_null(l->last_name) : NULL;
        out->company = l ? blank_to_null(l->company) : NULL;
        if (!out->last_name)
            out->last_name = PLAN_NOT_PROVIDED;
        if (!out->company)
            out->company = PLAN_NOT_PROVIDED;
        return 0;
    }
    if (it->action == PLAN_CREATE_PERSON) {
        const people_sf_person *sp = m->sf_person;
        out->email = m->create_email;
        out->first_name = sp ? blank_to_null(sp->first_name) : NULL;
        out->last_name = sp ? blank_to_null(sp->last_name) : NULL;
        out->company = sp ? blank_to_null(sp->company) : NULL;
        return 0;
    }
    return recon_fail(err, RECON_EINVAL, "plan item %zu (%s) creates no person", item,
                      plan_action_name(it->action));
}

bool plan_member_settled(const plan *p, size_t member)
{
    const plan_member *m = &p->members[member];
    for (uint32_t i = 0; i < m->n_items; i++)
        if (p->items[m->first_item + i].state != PLAN_APPLIED)
            return false;
    return true;
}

void plan_get_counts(const plan *p, plan_counts *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < p->n_items; i++) {
        const plan_item *it = &p->items[i];
        if (it->state == PLAN_FAILED) {
            c->failed++;
            continue;
        }
        if (it->state == PLAN_PENDING) {
            c->pending++;
            continue;
        }
        if (it->action == PLAN_STATUS)
            c->updated++;
        else if (it->action == PLAN_REMOVE)
            c->deleted++;
        else
            c->new_count++;
    }
    for (size_t i = 0; i < p->n_notes; i++) {
        plan_note_kind k = p->notes[i].kind;
        c->skipped += k == PLAN_NOTE_SKIPPED;
        c->conflicts += k == PLAN_NOTE_CONFLICT;
        c->rejected_backwards += k == PLAN_NOTE_REJECTED;
    }
}

typedef struct {
    int64_t lead_id;
    int32_t status;
    uint32_t sf_tag;
    int prio;  /* 0 = a member of this cycle, 1 = a lead read but no member (partial),
                  2 = kept from the old base */
    bool drop; /* no agreed state: no entry */
} nb_entry;

static int cmp_nb(const void *a, const void *b)
{
    const nb_entry *x = a, *y = b;
    if (x->lead_id != y->lead_id)
        return x->lead_id < y->lead_id ? -1 : 1;
    return x->prio - y->prio;
}

/* An old base entry in the new base's names (added when the channel lost
 * it; "unknown" when there is no room for another name). */
static int carry_old(const plan *p, const base_entry *e, base_state *out, nb_entry *slot)
{
    const base_state *ob = p->old_base;
    int32_t status = BASE_STATUS_UNKNOWN;
    if (e->status >= 0) {
        const char *name = ob->names[e->status];
        int idx = smap_find(p->statuses, name);
        for (size_t k = smap_count(p->statuses); idx < 0 && k < out->n_names; k++)
            if (strcmp(out->names[k], name) == 0)
                idx = (int)k;
        if (idx < 0 && out->n_names < BASE_MAX_NAMES) {
            if (!(out->names[out->n_names] = strdup(name)))
                return -1;
            idx = (int)out->n_names++;
        }
        status = idx >= 0 ? idx : BASE_STATUS_UNKNOWN;
    }
    *slot = (nb_entry){e->lead_id, status, e->sf_tag, 2, false};
    return 0;
}

int plan_new_base(const plan *p, base_state *out, recon_err *err)
{
    memset(out, 0, sizeof *out);
    size_t ns = smap_count(p->statuses);
    const base_state *ob = p->old_base;
    size_t cap_names = ns + (ob ? ob->n_names : 0);
    size_t n_old = !ob ? 0 : p->partial ? ob->n_entries + p->n_read_leads : p->n_kept;
    nb_entry *tmp = calloc(p->n_members + n_old + 1, sizeof *tmp);
    out->names = calloc(cap_names + 1, sizeof *out->names);
    if (!tmp || !out->names)
        goto oom;
    for (size_t i = 0; i < ns; i++) {
        if (!(out->names[i] = strdup(smap_name(p->statuses, (int)i))))
            goto oom;
        out->n_names++;
    }
    size_t n = 0;
    for (size_t i = 0; i < p->n_members; i++) {
        const plan_member *m = &p->members[i];
        if (!m->lead_id)
            continue; /* never reached Marketo: nothing to key it by */
        nb_entry *x = &tmp[n++];
        if (plan_member_settled(p, i) && m->decision.agreed_present)
            *x = (nb_entry){m->lead_id, m->decision.agreed_status, base_sf_tag(m->sf_person_id), 0,
                            false};
        else if (!plan_member_settled(p, i) && m->in.base.kind == MERGE_BASE_PRESENT)
            *x = (nb_entry){m->lead_id, m->in.base.status, m->base_sf_tag, 0, false};
        else if (!plan_member_settled(p, i) && m->in.base.kind == MERGE_BASE_UNKNOWN)
            *x = (nb_entry){m->lead_id, BASE_STATUS_UNKNOWN, m->base_sf_tag, 0, false};
        else
            *x = (nb_entry){.lead_id = m->lead_id, .drop = true};
    }
    if (p->partial) {
        for (size_t i = 0; i < p->n_read_leads; i++)
            tmp[n++] = (nb_entry){.lead_id = p->read_leads[i], .prio = 1, .drop = true};
        for (size_t i = 0; i < ob->n_entries; i++)
            if (carry_old(p, &ob->entries[i], out, &tmp[n++]))
                goto oom;
    } else {
        for (size_t i = 0; i < p->n_kept && ob; i++)
            if (carry_old(p, base_find(ob, p->kept_leads[i]), out, &tmp[n++]))
                goto oom;
    }
    qsort(tmp, n, sizeof *tmp, cmp_nb);
    out->entries = malloc((n + 1) * sizeof *out->entries);
    if (!out->entries)
        goto oom;
    int64_t last = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && tmp[i].lead_id == last)
            continue; /* the lowest prio comes first and wins */
        last = tmp[i].lead_id;
        if (!tmp[i].drop)
            out->entries[out->n_entries++] =
                (base_entry){tmp[i].lead_id, tmp[i].status, tmp[i].sf_tag};
    }
    free(tmp);
    out->version = p->base_version + 1;
    return 0;
oom:
    free(tmp);
    base_free(out);
    return recon_fail(err, RECON_ENOMEM, "out of memory building the new base");
}
