/*
 * Offline touchpoint rules (see touchpoints.h for the decisions). One pass
 * over the members decides each member's fate; the kept touchpoints are then
 * sorted by id so a person with two members collapses to one and the diff
 * against the stored set is a merge of two sorted lists.
 */
#include "touchpoints.h"

#include <stdlib.h>
#include <string.h>

static bool set(const char *s)
{
    return s && *s;
}

static int streq0(const char *a, const char *b)
{
    if (!a)
        a = "";
    if (!b)
        b = "";
    return strcmp(a, b) == 0;
}

int tp_enable_parse(const char *picklist, tp_enable *out, attr_error *err)
{
    if (!set(picklist))
        *out = TP_ENABLE_UNSET;
    else if (strcmp(picklist, TP_PICK_ALL) == 0)
        *out = TP_ENABLE_ALL;
    else if (strcmp(picklist, TP_PICK_RESPONDED) == 0)
        *out = TP_ENABLE_RESPONDED;
    else if (strcmp(picklist, TP_PICK_EXCLUDE) == 0)
        *out = TP_ENABLE_EXCLUDE;
    else
        return attr_error_set(err,
                              "Enable Buyer Touchpoints value \"%s\" is not one of \"%s\", \"%s\", "
                              "\"%s\"",
                              picklist, TP_PICK_ALL, TP_PICK_RESPONDED, TP_PICK_EXCLUDE);
    return 0;
}

/* FNV-1a, 128 bits (offset basis and prime of the FNV specification). */
static const unsigned __int128 FNV128_PRIME =
    ((unsigned __int128)0x0000000001000000ULL << 64) | 0x000000000000013BULL;
static const unsigned __int128 FNV128_BASIS =
    ((unsigned __int128)0x6c62272e07bb0142ULL << 64) | 0x62b821756295c58dULL;

static unsigned __int128 fnv_bytes(unsigned __int128 h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV128_PRIME;
    }
    return h;
}

static unsigned __int128 fnv_field(unsigned __int128 h, const char *s)
{
    uint64_t len = strlen(s);
    unsigned char lenbytes[8];
    for (int i = 0; i < 8; i++)
        lenbytes[i] = (unsigned char)(len >> (8 * i));
    h = fnv_bytes(h, lenbytes, sizeof lenbytes);
    return fnv_bytes(h, s, len);
}

void tp_make_id(const char *campaign_id, const char *person_id, char id[TP_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned __int128 h = fnv_field(FNV128_BASIS, campaign_id ? campaign_id : "");
    h = fnv_field(h, person_id ? person_id : "");
    memcpy(id, "crm-", 4);
    for (int i = 0; i < 32; i++)
        id[4 + i] = hex[(unsigned)(h >> (124 - 4 * i)) & 0xF];
    id[TP_ID_LEN] = '\0';
}

/* T3: the touchpoint date of a member, 0 when it has none. */
static int64_t member_date(tp_enable e, const tp_member *m)
{
    if (m->buyer_touchpoint_ms)
        return m->buyer_touchpoint_ms;
    if (e == TP_ENABLE_RESPONDED && m->first_responded_ms)
        return m->first_responded_ms;
    return m->created_ms;
}

static int cmp_tp(const void *a, const void *b)
{
    const tp_touchpoint *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    if (x->at_ms != y->at_ms)
        return x->at_ms < y->at_ms ? -1 : 1;
    return strcmp(x->member_id ? x->member_id : "", y->member_id ? y->member_id : "");
}

int tp_compute(const tp_campaign *c, const tp_member *members, size_t n, const chmap *map,
               tp_result *out, attr_error *err)
{
    memset(out, 0, sizeof *out);
    if (!set(c->id))
        return attr_error_set(err, "campaign has no id");
    const chmap_rule *rule = chmap_lookup(map, c->type);
    out->online = rule == NULL;
    bool enabled = (c->enable == TP_ENABLE_ALL || c->enable == TP_ENABLE_RESPONDED) && rule;
    if (enabled && n > 0) {
        out->items = malloc(n * sizeof *out->items);
        if (!out->items)
            return attr_error_set(err, "out of memory for %zu touchpoints of campaign %s", n,
                                  c->id);
    }
    for (size_t i = 0; i < n; i++) {
        const tp_member *m = &members[i];
        if (m->is_deleted) {
            out->skipped_deleted++;
            continue;
        }
        if (!enabled) {
            out->skipped_excluded++;
            continue;
        }
        if (c->enable == TP_ENABLE_RESPONDED && !m->has_responded) {
            out->skipped_not_responded++;
            continue;
        }
        if (!set(m->email)) {
            out->skipped_no_email++;
            continue;
        }
        const char *person = set(m->contact_id) ? m->contact_id : m->lead_id;
        if (!set(person)) {
            out->skipped_no_person++;
            continue;
        }
        int64_t at = member_date(c->enable, m);
        if (!at) {
            out->skipped_no_date++;
            continue;
        }
        if ((c->start_ms && at < c->start_ms) || (c->end_ms && at >= c->end_ms)) {
            out->skipped_out_of_range++;
            continue;
        }
        tp_touchpoint *t = &out->items[out->n++];
        tp_make_id(c->id, person, t->id);
        t->member_id = m->member_id;
        t->person_id = person;
        t->email = m->email;
        t->account_id = m->account_id;
        t->at_ms = at;
        t->channel = rule->channel;
        t->subchannel = rule->subchannel;
        t->medium = c->type;
        t->campaign_id = c->id;
        t->campaign_name = c->name;
    }
    if (out->n > 1) {
        qsort(out->items, out->n, sizeof *out->items, cmp_tp);
        size_t w = 1;
        for (size_t r = 1; r < out->n; r++) {
            if (strcmp(out->items[r].id, out->items[w - 1].id) == 0)
                out->merged_same_person++;
            else
                out->items[w++] = out->items[r];
        }
        out->n = w;
    }
    return 0;
}

void tp_result_free(tp_result *r)
{
    free(r->items);
    r->items = NULL;
    r->n = 0;
}

static int cmp_idx_by_id(const void *a, const void *b, void *ctx)
{
    const tp_touchpoint *set_ = ctx;
    return strcmp(set_[*(const size_t *)a].id, set_[*(const size_t *)b].id);
}

/* Indices of s sorted by id; error on a repeated id. NULL with n == 0 is ok. */
static int sorted_index(const tp_touchpoint *s, size_t n, const char *which, size_t **out,
                        attr_error *err)
{
    *out = NULL;
    if (n == 0)
        return 0;
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx)
        return attr_error_set(err, "out of memory sorting %zu touchpoints", n);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    qsort_r(idx, n, sizeof *idx, cmp_idx_by_id, (void *)s);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(s[idx[i - 1]].id, s[idx[i]].id) == 0) {
            attr_error_set(err, "touchpoint id %s appears twice in the %s set", s[idx[i]].id,
                           which);
            free(idx);
            return -1;
        }
    }
    *out = idx;
    return 0;
}

static bool same_fields(const tp_touchpoint *a, const tp_touchpoint *b)
{
    return a->at_ms == b->at_ms && streq0(a->member_id, b->member_id) &&
           streq0(a->person_id, b->person_id) && streq0(a->email, b->email) &&
           streq0(a->account_id, b->account_id) && streq0(a->channel, b->channel) &&
           streq0(a->subchannel, b->subchannel) && streq0(a->medium, b->medium) &&
           streq0(a->campaign_id, b->campaign_id) && streq0(a->campaign_name, b->campaign_name);
}

int tp_diff_compute(const tp_touchpoint *old, size_t n_old, const tp_touchpoint *cur, size_t n_cur,
                    tp_diff *out, attr_error *err)
{
    memset(out, 0, sizeof *out);
    size_t *io = NULL, *ic = NULL;
    if (sorted_index(old, n_old, "old", &io, err) != 0)
        return -1;
    if (sorted_index(cur, n_cur, "new", &ic, err) != 0) {
        free(io);
        return -1;
    }
    /* Worst cases: everything new created or updated, everything old removed. */
    out->created = malloc((n_cur ? n_cur : 1) * sizeof(size_t));
    out->updated = malloc((n_cur ? n_cur : 1) * sizeof(size_t));
    out->removed = malloc((n_old ? n_old : 1) * sizeof(size_t));
    if (!out->created || !out->updated || !out->removed) {
        free(io);
        free(ic);
        tp_diff_free(out);
        return attr_error_set(err, "out of memory diffing %zu against %zu touchpoints", n_old,
                              n_cur);
    }
    size_t a = 0, b = 0;
    while (a < n_old || b < n_cur) {
        int c;
        if (a == n_old)
            c = 1;
        else if (b == n_cur)
            c = -1;
        else
            c = strcmp(old[io[a]].id, cur[ic[b]].id);
        if (c < 0) {
            out->removed[out->n_removed++] = io[a++];
        } else if (c > 0) {
            out->created[out->n_created++] = ic[b++];
        } else {
            if (same_fields(&old[io[a]], &cur[ic[b]]))
                out->unchanged++;
            else
                out->updated[out->n_updated++] = ic[b];
            a++;
            b++;
        }
    }
    free(io);
    free(ic);
    return 0;
}

void tp_diff_free(tp_diff *d)
{
    free(d->created);
    free(d->updated);
    free(d->removed);
    memset(d, 0, sizeof *d);
}

bool tp_bulk_matches(const tp_bulk_filter *f, const tp_member *m)
{
    if (m->is_deleted)
        return false;
    if (f->n_statuses) {
        bool hit = false;
        for (size_t i = 0; i < f->n_statuses && !hit; i++)
            hit = streq0(f->statuses[i], m->status);
        if (!hit)
            return false;
    }
    if (f->has_responded >= 0 && (f->has_responded != 0) != m->has_responded)
        return false;
    if (f->created_from_ms && m->created_ms < f->created_from_ms)
        return false;
    if (f->created_to_ms && m->created_ms >= f->created_to_ms)
        return false;
    if (f->n_member_ids) {
        bool hit = false;
        for (size_t i = 0; i < f->n_member_ids && !hit; i++)
            hit = streq0(f->member_ids[i], m->member_id);
        if (!hit)
            return false;
    }
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned mo, unsigned d)
{
    y -= mo <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int tp_date_parse(const char *ymd, int64_t *ms_out, attr_error *err)
{
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *s = ymd ? ymd : "";
    bool shape = strlen(s) == 10 && s[4] == '-' && s[7] == '-';
    for (int i = 0; shape && i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            shape = false;
    if (!shape)
        return attr_error_set(err, "date \"%s\" is not YYYY-MM-DD", s);
    unsigned y =
        (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
    unsigned mo = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y == 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap))
        return attr_error_set(err, "date \"%s\" does not exist", s);
    *ms_out = days_from_civil(y, mo, d) * 86400000LL;
    return 0;
}
