/*
 * People matching: see people.h for the rules. Everything is indexed once
 * in hash maps (by id, by linked id, by normalized email), then each member
 * is matched with a few lookups, so 100,000 members take milliseconds.
 * Normalized emails live in one arena allocated up front; the maps borrow
 * them and the input's strings. An email already in normal form (the usual
 * case) is borrowed from the input too, so most of the arena is never
 * written and its pages are never resident.
 */
#include "people.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"

size_t people_normalize_email(const char *email, char *out, size_t cap)
{
    if (!email || cap == 0)
        return 0;
    const char *b = email, *e = email + strlen(email);
    while (b < e && (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    size_t n = (size_t)(e - b);
    if (n == 0 || n + 1 > cap) {
        out[0] = '\0';
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return n;
}

static bool empty(const char *s)
{
    return !s || !s[0];
}

/* A Salesforce person an email can lead to. */
typedef struct {
    const char *id;
    uint32_t sf_person; /* index in sf_people or PEOPLE_NONE */
    bool contact;
    bool member;
} candidate;

typedef struct {
    const people_input *in;
    people_match *out;
    char *arena;
    const char **lead_email, **sfp_email, **sfm_email; /* normalized, NULL when blank */
    bool *sfm_dup, *mkm_dup, *sfm_done;
    /* Per lead: its program member (or PEOPLE_NONE) and the row that claimed
     * it; per Salesforce person and member: the row that claimed the person.
     * Arrays instead of maps: half the memory, no hashing. */
    uint32_t *lead_mm, *claim_lead, *claim_sfp, *claim_sfm;
    candidate *cands;
    size_t n_cands;
    hmap sfp_by_id, sfm_by_person, lead_by_id, cand_by_email, lead_by_sfid, lead_by_email,
        claimed_other, claimed_email;
} ctx;

static int normalize_all(ctx *c)
{
    const people_input *in = c->in;
    size_t total = 1;
    for (size_t i = 0; i < in->n_leads; i++)
        total += in->leads[i].email ? strlen(in->leads[i].email) + 1 : 0;
    for (size_t i = 0; i < in->n_sf_people; i++)
        total += in->sf_people[i].email ? strlen(in->sf_people[i].email) + 1 : 0;
    for (size_t i = 0; i < in->n_sf_members; i++)
        total += in->sf_members[i].email ? strlen(in->sf_members[i].email) + 1 : 0;
    c->arena = malloc(total);
    c->lead_email = calloc(in->n_leads + 1, sizeof *c->lead_email);
    c->sfp_email = calloc(in->n_sf_people + 1, sizeof *c->sfp_email);
    c->sfm_email = calloc(in->n_sf_members + 1, sizeof *c->sfm_email);
    if (!c->arena || !c->lead_email || !c->sfp_email || !c->sfm_email)
        return -1;
    size_t off = 0;
#define NORM(src, dst)                                                                             \
    do {                                                                                           \
        if (src) {                                                                                 \
            size_t l_ = people_normalize_email(src, c->arena + off, total - off);                  \
            if (l_ && strcmp(c->arena + off, src) == 0) {                                          \
                dst = src;                                                                         \
            } else if (l_) {                                                                       \
                dst = c->arena + off;                                                              \
                off += l_ + 1;                                                                     \
            }                                                                                      \
        }                                                                                          \
    } while (0)
    for (size_t i = 0; i < in->n_leads; i++)
        NORM(in->leads[i].email, c->lead_email[i]);
    for (size_t i = 0; i < in->n_sf_people; i++)
        NORM(in->sf_people[i].email, c->sfp_email[i]);
    for (size_t i = 0; i < in->n_sf_members; i++)
        NORM(in->sf_members[i].email, c->sfm_email[i]);
#undef NORM
    return 0;
}

static bool sget(const hmap *m, const char *key, uint32_t *v)
{
    return !empty(key) && hmap_get(m, key, strlen(key), v);
}

static bool iget(const hmap *m, const int64_t *key, uint32_t *v)
{
    return hmap_get(m, key, sizeof *key, v);
}

static bool cand_better(const candidate *a, const candidate *b)
{
    if (a->contact != b->contact)
        return a->contact;
    if (a->member != b->member)
        return a->member;
    return strcmp(a->id, b->id) < 0;
}

static int add_candidate(ctx *c, const char *email, candidate cand)
{
    if (!email)
        return 0;
    uint32_t cur;
    c->cands[c->n_cands] = cand;
    int r = hmap_put(&c->cand_by_email, email, strlen(email), (uint32_t)c->n_cands, &cur);
    if (r == 0)
        c->n_cands++;
    if (r != 1 || !cand_better(&cand, &c->cands[cur]))
        return r < 0 ? -1 : 0;
    return hmap_set(&c->cand_by_email, email, strlen(email), (uint32_t)c->n_cands++);
}

/* The record a person id stands for once Lead conversion is followed. */
static const char *resolve_person(ctx *c, const char *id, uint32_t *sfp)
{
    uint32_t i;
    *sfp = PEOPLE_NONE;
    if (!sget(&c->sfp_by_id, id, &i))
        return id;
    const people_sf_person *p = &c->in->sf_people[i];
    if (p->kind == PEOPLE_SF_LEAD && p->is_converted && !empty(p->converted_contact_id)) {
        uint32_t j;
        if (sget(&c->sfp_by_id, p->converted_contact_id, &j))
            *sfp = j;
        return p->converted_contact_id;
    }
    *sfp = i;
    return p->id;
}

/* Lead ranking for the Salesforce -> Marketo direction. */
static bool lead_better(ctx *c, uint32_t a, uint32_t b)
{
    const people_mkto_lead *la = &c->in->leads[a], *lb = &c->in->leads[b];
    bool ma = c->lead_mm[a] != PEOPLE_NONE, mb = c->lead_mm[b] != PEOPLE_NONE;
    if (ma != mb)
        return ma;
    return la->id < lb->id;
}

static int index_lead(ctx *c, hmap *m, const char *key, uint32_t li)
{
    if (empty(key))
        return 0;
    uint32_t cur;
    int r = hmap_put(m, key, strlen(key), li, &cur);
    if (r != 1 || !lead_better(c, li, cur))
        return r < 0 ? -1 : 0;
    return hmap_set(m, key, strlen(key), li);
}

static int build_indexes(ctx *c)
{
    const people_input *in = c->in;
    size_t nl = in->n_leads, np = in->n_sf_people, nm = in->n_mkto_members, ns = in->n_sf_members;
    int rc = 0;
    rc |= hmap_init(&c->sfp_by_id, np) | hmap_init(&c->sfm_by_person, ns);
    rc |= hmap_init(&c->lead_by_id, nl) | hmap_init(&c->cand_by_email, np);
    rc |= hmap_init(&c->lead_by_sfid, nl) | hmap_init(&c->lead_by_email, nl);
    rc |= hmap_init(&c->claimed_other, 16) | hmap_init(&c->claimed_email, 16);
    c->lead_mm = malloc((nl + 1) * sizeof *c->lead_mm);
    c->claim_lead = malloc((nl + 1) * sizeof *c->claim_lead);
    c->claim_sfp = malloc((np + 1) * sizeof *c->claim_sfp);
    c->claim_sfm = malloc((ns + 1) * sizeof *c->claim_sfm);
    if (!c->lead_mm || !c->claim_lead || !c->claim_sfp || !c->claim_sfm)
        return -1;
    memset(c->lead_mm, 0xFF, (nl + 1) * sizeof *c->lead_mm);
    memset(c->claim_lead, 0xFF, (nl + 1) * sizeof *c->claim_lead);
    memset(c->claim_sfp, 0xFF, (np + 1) * sizeof *c->claim_sfp);
    memset(c->claim_sfm, 0xFF, (ns + 1) * sizeof *c->claim_sfm);
    c->sfm_dup = calloc(ns + 1, sizeof *c->sfm_dup);
    c->sfm_done = calloc(ns + 1, sizeof *c->sfm_done);
    c->mkm_dup = calloc(nm + 1, sizeof *c->mkm_dup);
    c->cands = calloc(np + ns + 1, sizeof *c->cands);
    if (rc || !c->sfm_dup || !c->sfm_done || !c->mkm_dup || !c->cands)
        return -1;
    for (size_t i = 0; i < np; i++)
        if (!empty(in->sf_people[i].id))
            rc |= hmap_set(&c->sfp_by_id, in->sf_people[i].id, strlen(in->sf_people[i].id),
                           (uint32_t)i);
    for (size_t i = 0; i < ns; i++) {
        const char *pid = in->sf_members[i].person_id;
        if (empty(pid))
            continue;
        int r = hmap_put(&c->sfm_by_person, pid, strlen(pid), (uint32_t)i, NULL);
        rc |= r < 0;
        c->sfm_dup[i] = r == 1;
    }
    for (size_t i = 0; i < nl; i++)
        rc |= hmap_set(&c->lead_by_id, &in->leads[i].id, sizeof(int64_t), (uint32_t)i) != 0;
    for (size_t i = 0; i < nm; i++) {
        uint32_t li;
        if (!iget(&c->lead_by_id, &in->mkto_members[i].lead_id, &li))
            continue; /* skipped later: no details */
        c->mkm_dup[i] = c->lead_mm[li] != PEOPLE_NONE;
        if (!c->mkm_dup[i])
            c->lead_mm[li] = (uint32_t)i;
    }
    if (rc)
        return -1;
    /* Email candidates: every known person, then members whose person was
     * not fetched (their kind is read from the id's key prefix: 003 is a
     * Contact). */
    for (size_t i = 0; i < np && rc == 0; i++) {
        uint32_t sfp;
        const char *id = resolve_person(c, in->sf_people[i].id, &sfp);
        if (empty(id))
            continue;
        const people_sf_person *p = &in->sf_people[i];
        bool contact = p->kind == PEOPLE_SF_CONTACT || id != p->id;
        candidate cand = {id, sfp, contact, sget(&c->sfm_by_person, id, NULL)};
        rc = add_candidate(c, c->sfp_email[i], cand);
    }
    for (size_t i = 0; i < ns && rc == 0; i++) {
        const char *pid = in->sf_members[i].person_id;
        if (empty(pid) || sget(&c->sfp_by_id, pid, NULL))
            continue;
        candidate cand = {pid, PEOPLE_NONE, strncmp(pid, "003", 3) == 0, true};
        rc = add_candidate(c, c->sfm_email[i], cand);
    }
    for (size_t i = 0; i < nl && rc == 0; i++) {
        rc |= index_lead(c, &c->lead_by_sfid, in->leads[i].sfdc_contact_id, (uint32_t)i);
        rc |= index_lead(c, &c->lead_by_sfid, in->leads[i].sfdc_lead_id, (uint32_t)i);
        rc |= index_lead(c, &c->lead_by_email, c->lead_email[i], (uint32_t)i);
    }
    return rc ? -1 : 0;
}

static void skip(ctx *c, bool mkto, size_t index, int64_t lead_id, const char *sf_id,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void skip(ctx *c, bool mkto, size_t index, int64_t lead_id, const char *sf_id,
                 const char *fmt, ...)
{
    people_skip *s = &c->out->skips[c->out->n_skips++];
    s->mkto = mkto;
    s->index = (uint32_t)index;
    s->lead_id = lead_id;
    s->sf_id = sf_id;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->reason, sizeof s->reason, fmt, ap);
    va_end(ap);
}

static people_row *new_row(ctx *c)
{
    people_row *r = &c->out->rows[c->out->n_rows++];
    memset(r, 0, sizeof *r);
    r->mkto_member = r->sf_member = r->lead = r->sf_person = PEOPLE_NONE;
    return r;
}

/* The claim slot of a Salesforce person: by its index in sf_people, else
 * by the campaign member holding it, else (an id known only through a link
 * or a conversion) in a small map. NULL with *other_key set for the map. */
static uint32_t *person_claim(ctx *c, const char *pid, uint32_t sfp)
{
    uint32_t i;
    if (sfp != PEOPLE_NONE)
        return &c->claim_sfp[sfp];
    if (sget(&c->sfp_by_id, pid, &i))
        return &c->claim_sfp[i];
    if (sget(&c->sfm_by_person, pid, &i))
        return &c->claim_sfm[i];
    return NULL;
}

static bool person_claimed(ctx *c, const char *pid, uint32_t sfp, uint32_t *row)
{
    uint32_t *slot = person_claim(c, pid, sfp);
    if (slot) {
        *row = *slot;
        return *slot != PEOPLE_NONE;
    }
    return sget(&c->claimed_other, pid, row);
}

static int claim_row(ctx *c, people_row *r)
{
    uint32_t idx = (uint32_t)(r - c->out->rows);
    if (r->lead != PEOPLE_NONE)
        c->claim_lead[r->lead] = idx;
    if (r->sf_member != PEOPLE_NONE)
        c->sfm_done[r->sf_member] = true;
    if (!r->sf_person_id)
        return 0;
    uint32_t *slot = person_claim(c, r->sf_person_id, r->sf_person);
    if (slot) {
        *slot = idx;
        return 0;
    }
    return hmap_set(&c->claimed_other, r->sf_person_id, strlen(r->sf_person_id), idx);
}

static const char *row_person_text(ctx *c, uint32_t row, char *buf, size_t cap)
{
    const people_row *r = &c->out->rows[row];
    if (r->lead_id)
        snprintf(buf, cap, "Marketo lead %lld", (long long)r->lead_id);
    else
        snprintf(buf, cap, "Salesforce person %s", r->sf_person_id ? r->sf_person_id : "?");
    return buf;
}

static int match_mkto_member(ctx *c, size_t i)
{
    const people_input *in = c->in;
    const people_mkto_member *mm = &in->mkto_members[i];
    char who[64];
    uint32_t li, other;
    if (c->mkm_dup[i]) {
        skip(c, true, i, mm->lead_id, NULL, "Marketo lead %lld appears twice in the program",
             (long long)mm->lead_id);
        return 0;
    }
    if (!iget(&c->lead_by_id, &mm->lead_id, &li)) {
        skip(c, true, i, mm->lead_id, NULL,
             "no details for Marketo lead %lld (email, Salesforce link): cannot match it",
             (long long)mm->lead_id);
        return 0;
    }
    const people_mkto_lead *l = &in->leads[li];
    const char *email = c->lead_email[li];
    const char *pid = NULL;
    uint32_t sfp = PEOPLE_NONE;
    people_how how = PEOPLE_BY_NONE;
    const char *links[2] = {l->sfdc_contact_id, l->sfdc_lead_id};
    for (int k = 0; k < 2 && !pid; k++) {
        if (sget(&c->sfp_by_id, links[k], NULL))
            pid = resolve_person(c, links[k], &sfp);
        else if (sget(&c->sfm_by_person, links[k], NULL))
            pid = links[k];
        if (pid)
            how = PEOPLE_BY_LINK;
    }
    uint32_t ci;
    if (!pid && email && hmap_get(&c->cand_by_email, email, strlen(email), &ci)) {
        pid = c->cands[ci].id;
        sfp = c->cands[ci].sf_person;
        how = PEOPLE_BY_EMAIL;
    }
    if (pid && person_claimed(c, pid, sfp, &other)) {
        skip(c, true, i, mm->lead_id, pid,
             "Marketo lead %lld matches Salesforce person %s, already matched to %s",
             (long long)mm->lead_id, pid, row_person_text(c, other, who, sizeof who));
        return 0;
    }
    if (!pid && !email) {
        skip(c, true, i, mm->lead_id, NULL,
             "Marketo lead %lld has no email and no Salesforce link: cannot be matched or "
             "created in Salesforce",
             (long long)mm->lead_id);
        return 0;
    }
    if (!pid && hmap_get(&c->claimed_email, email, strlen(email), &other)) {
        skip(c, true, i, mm->lead_id, NULL,
             "Marketo lead %lld shares email %s with %s: only one Lead is created for it",
             (long long)mm->lead_id, email, row_person_text(c, other, who, sizeof who));
        return 0;
    }
    people_row *r = new_row(c);
    r->lead_id = mm->lead_id;
    r->sf_person_id = pid;
    r->mkto_member = (uint32_t)i;
    r->lead = li;
    r->sf_person = sfp;
    r->how = how;
    r->email = l->email;
    uint32_t sm;
    if (pid && sget(&c->sfm_by_person, pid, &sm))
        r->sf_member = sm;
    if (!pid && hmap_set(&c->claimed_email, email, strlen(email), (uint32_t)(r - c->out->rows)))
        return -1;
    return claim_row(c, r);
}

static int match_sf_member(ctx *c, size_t j)
{
    const people_input *in = c->in;
    const people_sf_member *sm = &in->sf_members[j];
    char who[64];
    uint32_t other, li = PEOPLE_NONE, pi = PEOPLE_NONE;
    const char *pid = sm->person_id;
    if (empty(pid)) {
        skip(c, false, j, 0, NULL, "Salesforce campaign member %s has no Lead or Contact",
             sm->member_id ? sm->member_id : "?");
        return 0;
    }
    if (c->sfm_dup[j] || person_claimed(c, pid, PEOPLE_NONE, &other)) {
        skip(c, false, j, 0, pid, "Salesforce person %s is in the campaign twice", pid);
        return 0;
    }
    uint32_t sfp;
    const char *resolved = resolve_person(c, pid, &sfp);
    sget(&c->sfp_by_id, pid, &pi);
    people_how how = PEOPLE_BY_NONE;
    if (sget(&c->lead_by_sfid, pid, &li) || sget(&c->lead_by_sfid, resolved, &li)) {
        how = PEOPLE_BY_LINK;
    } else {
        const char *email = pi != PEOPLE_NONE ? c->sfp_email[pi] : NULL;
        if (!email)
            email = c->sfm_email[j];
        if (email && hmap_get(&c->lead_by_email, email, strlen(email), &li))
            how = PEOPLE_BY_EMAIL;
    }
    const char *email = pi != PEOPLE_NONE && c->sfp_email[pi] ? in->sf_people[pi].email : sm->email;
    const char *norm = pi != PEOPLE_NONE && c->sfp_email[pi] ? c->sfp_email[pi] : c->sfm_email[j];
    int64_t lead_id = 0;
    if (how != PEOPLE_BY_NONE) {
        lead_id = in->leads[li].id;
        other = c->claim_lead[li];
        if (other != PEOPLE_NONE) {
            skip(c, false, j, lead_id, pid,
                 "Salesforce person %s matches Marketo lead %lld, already matched to %s", pid,
                 (long long)lead_id,
                 c->out->rows[other].sf_person_id ? c->out->rows[other].sf_person_id
                                                  : "a Lead still to be created");
            return 0;
        }
        if (c->lead_mm[li] != PEOPLE_NONE) {
            skip(c, false, j, lead_id, pid,
                 "Salesforce person %s matches Marketo lead %lld, which was skipped", pid,
                 (long long)lead_id);
            return 0;
        }
    } else if (!norm) {
        skip(c, false, j, 0, pid,
             "Salesforce person %s has no email: cannot be matched or created in Marketo", pid);
        return 0;
    } else if (hmap_get(&c->claimed_email, norm, strlen(norm), &other)) {
        skip(c, false, j, 0, pid,
             "Salesforce person %s shares email %s with %s: only one Marketo person is created",
             pid, norm, row_person_text(c, other, who, sizeof who));
        return 0;
    }
    people_row *r = new_row(c);
    r->lead_id = lead_id;
    r->sf_person_id = pid;
    r->sf_member = (uint32_t)j;
    r->lead = li;
    r->sf_person = pi;
    r->how = how;
    r->email = how == PEOPLE_BY_NONE ? email : in->leads[li].email;
    if (how == PEOPLE_BY_NONE &&
        hmap_set(&c->claimed_email, norm, strlen(norm), (uint32_t)(r - c->out->rows)))
        return -1;
    return claim_row(c, r);
}

static void ctx_free(ctx *c)
{
    free(c->arena);
    free(c->lead_email);
    free(c->sfp_email);
    free(c->sfm_email);
    free(c->sfm_dup);
    free(c->sfm_done);
    free(c->mkm_dup);
    free(c->lead_mm);
    free(c->claim_lead);
    free(c->claim_sfp);
    free(c->claim_sfm);
    free(c->cands);
    hmap *maps[] = {&c->sfp_by_id,    &c->sfm_by_person, &c->lead_by_id,    &c->cand_by_email,
                    &c->lead_by_sfid, &c->lead_by_email, &c->claimed_other, &c->claimed_email};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
        hmap_free(maps[i]);
}

static bool too_long(const char *s)
{
    return s && strnlen(s, PEOPLE_MAX_TEXT + 1) > PEOPLE_MAX_TEXT;
}

/* Names the first id or email that is too long to be real, or NULL. */
static const char *check_lengths(const people_input *in)
{
    for (size_t i = 0; i < in->n_leads; i++) {
        const people_mkto_lead *l = &in->leads[i];
        if (too_long(l->email) || too_long(l->sfdc_lead_id) || too_long(l->sfdc_contact_id))
            return "an email or Salesforce link of a Marketo lead";
    }
    for (size_t i = 0; i < in->n_sf_people; i++) {
        const people_sf_person *p = &in->sf_people[i];
        if (too_long(p->id) || too_long(p->email) || too_long(p->converted_contact_id))
            return "an id or email of a Salesforce person";
    }
    for (size_t i = 0; i < in->n_sf_members; i++) {
        const people_sf_member *m = &in->sf_members[i];
        if (too_long(m->person_id) || too_long(m->email))
            return "a person id or email of a Salesforce campaign member";
    }
    return NULL;
}

int people_match_all(const people_input *in, people_match *out, recon_err *err)
{
    memset(out, 0, sizeof *out);
    if (in->n_leads >= PEOPLE_NONE || in->n_sf_people >= PEOPLE_NONE ||
        in->n_mkto_members + in->n_sf_members >= PEOPLE_NONE)
        return recon_fail(err, RECON_EINVAL, "too many people to match in one cycle");
    for (size_t i = 0; i < in->n_leads; i++)
        if (in->leads[i].id <= 0)
            return recon_fail(err, RECON_EINVAL, "Marketo lead #%zu has id %lld (must be > 0)", i,
                              (long long)in->leads[i].id);
    for (size_t i = 0; i < in->n_mkto_members; i++)
        if (in->mkto_members[i].lead_id <= 0)
            return recon_fail(err, RECON_EINVAL,
                              "Marketo program member #%zu has lead id %lld (must be > 0)", i,
                              (long long)in->mkto_members[i].lead_id);
    const char *bad = check_lengths(in);
    if (bad)
        return recon_fail(err, RECON_EINVAL, "%s is longer than %d characters", bad,
                          PEOPLE_MAX_TEXT);
    ctx c = {.in = in, .out = out};
    size_t cap = in->n_mkto_members + in->n_sf_members + 1;
    out->rows = malloc(cap * sizeof *out->rows);
    out->skips = malloc(cap * sizeof *out->skips);
    int rc = (!out->rows || !out->skips || normalize_all(&c) || build_indexes(&c)) ? -1 : 0;
    for (size_t i = 0; i < in->n_mkto_members && rc == 0; i++)
        rc = match_mkto_member(&c, i);
    for (size_t j = 0; j < in->n_sf_members && rc == 0; j++)
        if (!c.sfm_done[j])
            rc = match_sf_member(&c, j);
    ctx_free(&c);
    if (rc) {
        people_match_free(out);
        return recon_fail(err, RECON_ENOMEM, "out of memory matching people");
    }
    return 0;
}

void people_match_free(people_match *m)
{
    free(m->rows);
    free(m->skips);
    memset(m, 0, sizeof *m);
}
