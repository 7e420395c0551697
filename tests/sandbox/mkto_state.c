/*
 * Marketo simulator: the data model (channels, programs with their members,
 * leads, the activity log), loading it from the dataset's "marketo" section,
 * exporting it back in the same format, and the two membership primitives
 * every path goes through (set status, remove) so that each change made via
 * the REST API or the admin API writes exactly the activity a real instance
 * would. Also defines sbx_marketo_ops.
 */
#include "mkto_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const mkto_field_names[MKTO_NF] = {
    "email", "firstName",  "lastName",   "company",       "title",
    "phone", "leadSource", "sfdcLeadId", "sfdcContactId", "sfdcAccountId",
};

int mkto_field_index(const char *name)
{
    for (int i = 0; i < MKTO_NF; i++)
        if (strcmp(mkto_field_names[i], name) == 0)
            return i;
    return -1;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static char *jstr(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? strdup(v) : NULL;
}

static int64_t jtime(json_t *o, const char *key, int64_t dflt)
{
    const char *v = json_string_value(json_object_get(o, key));
    int64_t t = v ? sbx_parse_time_ms(v) : -1;
    return t >= 0 ? t : dflt;
}

/* ---- lookups ---- */

mkto_program *mkto_program_get(mkto_state *s, int64_t id)
{
    int64_t i;
    return sbx_imap_get(&s->pg_by_id, id, &i) ? &s->pg[i] : NULL;
}

mkto_lead *mkto_lead_get(mkto_state *s, int64_t id)
{
    int64_t i;
    return sbx_imap_get(&s->lead_by_id, id, &i) ? &s->leads[i] : NULL;
}

size_t mkto_member_find(const mkto_program *p, int64_t lead_id, int *found)
{
    size_t lo = 0, hi = p->n_m;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->m[mid].lead_id < lead_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < p->n_m && p->m[lo].lead_id == lead_id;
    return lo;
}

mkto_member *mkto_member_get(mkto_program *p, int64_t lead_id)
{
    int found;
    size_t i = mkto_member_find(p, lead_id, &found);
    return found ? &p->m[i] : NULL;
}

mkto_member *mkto_member_insert(mkto_state *s, mkto_program *p, int64_t lead_id, int64_t now)
{
    int found;
    size_t i = mkto_member_find(p, lead_id, &found);
    if (found)
        return &p->m[i];
    if (p->n_m == p->cap_m) {
        size_t nc = p->cap_m ? p->cap_m * 2 : 64;
        mkto_member *nm = realloc(p->m, nc * sizeof *nm);
        if (!nm)
            return NULL;
        p->m = nm;
        p->cap_m = nc;
    }
    memmove(p->m + i + 1, p->m + i, (p->n_m - i) * sizeof *p->m);
    p->n_m++;
    mkto_member *m = &p->m[i];
    memset(m, 0, sizeof *m);
    m->lead_id = lead_id;
    m->member_id = s->next_member_id++;
    m->st = 0;
    m->created_ms = m->membership_ms = m->updated_ms = now;
    return m;
}

void mkto_member_remove(mkto_program *p, int64_t lead_id)
{
    int found;
    size_t i = mkto_member_find(p, lead_id, &found);
    if (!found)
        return;
    memmove(p->m + i, p->m + i + 1, (p->n_m - i - 1) * sizeof *p->m);
    p->n_m--;
}

mkto_lead *mkto_lead_create(mkto_state *s, int64_t now)
{
    if (s->n_leads == s->cap_leads) {
        size_t nc = s->cap_leads ? s->cap_leads * 2 : 256;
        mkto_lead *nl = realloc(s->leads, nc * sizeof *nl);
        if (!nl)
            return NULL;
        s->leads = nl;
        s->cap_leads = nc;
    }
    mkto_lead *l = &s->leads[s->n_leads];
    memset(l, 0, sizeof *l);
    for (int k = 0; k < MKTO_NIDX; k++)
        l->next_same[k] = -1;
    l->id = s->next_lead_id++;
    l->created_ms = l->updated_ms = now;
    if (sbx_imap_put(&s->lead_by_id, l->id, (int64_t)s->n_leads) != 0)
        return NULL;
    s->n_leads++;
    return l;
}

const int mkto_indexed_fields[MKTO_NIDX] = {MKTO_F_EMAIL, MKTO_F_SFDCLEADID, MKTO_F_SFDCCONTACTID};

static int index_slot(int field)
{
    for (int k = 0; k < MKTO_NIDX; k++)
        if (mkto_indexed_fields[k] == field)
            return k;
    return -1;
}

/* Index key for a value: emails are case-insensitive. Caller frees. */
static char *index_key(int field, const char *value)
{
    char *k = strdup(value);
    if (k && field == MKTO_F_EMAIL)
        for (char *p = k; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    return k;
}

static void index_add(mkto_state *s, int slot, size_t idx)
{
    mkto_lead *l = &s->leads[idx];
    int field = mkto_indexed_fields[slot];
    l->next_same[slot] = -1;
    if (!l->f[field] || !l->f[field][0])
        return;
    char *key = index_key(field, l->f[field]);
    if (!key)
        return;
    int64_t head;
    if (sbx_smap_get(&s->lead_by[slot], key, &head))
        l->next_same[slot] = head;
    sbx_smap_put(&s->lead_by[slot], key, (int64_t)idx);
    free(key);
}

static void index_remove(mkto_state *s, int slot, size_t idx)
{
    mkto_lead *l = &s->leads[idx];
    int field = mkto_indexed_fields[slot];
    if (!l->f[field] || !l->f[field][0])
        return;
    char *key = index_key(field, l->f[field]);
    if (!key)
        return;
    int64_t head;
    if (sbx_smap_get(&s->lead_by[slot], key, &head)) {
        if (head == (int64_t)idx) {
            if (l->next_same[slot] < 0)
                sbx_smap_del(&s->lead_by[slot], key);
            else
                sbx_smap_put(&s->lead_by[slot], key, l->next_same[slot]);
        } else {
            for (int64_t i = head; i >= 0; i = s->leads[i].next_same[slot]) {
                if (s->leads[i].next_same[slot] == (int64_t)idx) {
                    s->leads[i].next_same[slot] = l->next_same[slot];
                    break;
                }
            }
        }
    }
    l->next_same[slot] = -1;
    free(key);
}

void mkto_lead_set(mkto_state *s, mkto_lead *l, int field, const char *value)
{
    size_t idx = (size_t)(l - s->leads);
    int slot = index_slot(field);
    if (slot >= 0)
        index_remove(s, slot, idx);
    free(l->f[field]);
    l->f[field] = dup_or_null(value);
    if (slot >= 0)
        index_add(s, slot, idx);
}

size_t mkto_leads_by(mkto_state *s, int field, const char *value, int64_t *out, size_t cap)
{
    size_t n = 0;
    int slot = index_slot(field);
    if (slot >= 0) {
        char *key = index_key(field, value);
        int64_t i;
        if (key && sbx_smap_get(&s->lead_by[slot], key, &i)) {
            for (; i >= 0; i = s->leads[i].next_same[slot]) {
                if (n < cap)
                    out[n] = i;
                n++;
            }
        }
        free(key);
        return n;
    }
    for (size_t i = 0; i < s->n_leads; i++) {
        const char *v = s->leads[i].f[field];
        if (v && strcmp(v, value) == 0) {
            if (n < cap)
                out[n] = (int64_t)i;
            n++;
        }
    }
    return n;
}

const mkto_channel *mkto_program_channel(const mkto_state *s, const mkto_program *p)
{
    return p->ch >= 0 ? &s->ch[p->ch] : NULL;
}

int mkto_status_index(const mkto_channel *c, const char *name)
{
    if (!c || !name)
        return -1;
    for (int i = 0; i < c->n_st; i++)
        if (strcasecmp(c->st[i].name, name) == 0)
            return i;
    return -1;
}

int64_t mkto_status_id(const mkto_channel *c, int st)
{
    if (!c || st < 0)
        return 0;
    return c->id * 100 + st + 1;
}

/* ---- activities ---- */

int mkto_activity_add(mkto_state *s, int64_t lead_id, int type, int64_t primary_id,
                      const char *primary_value, json_t *attrs, int64_t now)
{
    if (s->n_act == s->cap_act) {
        size_t nc = s->cap_act ? s->cap_act * 2 : 1024;
        mkto_activity *na = realloc(s->act, nc * sizeof *na);
        if (!na) {
            json_decref(attrs);
            return -1;
        }
        s->act = na;
        s->cap_act = nc;
    }
    /* The log stays ordered by date even if the sandbox clock is set back. */
    if (s->n_act > 0 && now < s->act[s->n_act - 1].date_ms)
        now = s->act[s->n_act - 1].date_ms;
    mkto_activity *a = &s->act[s->n_act++];
    a->id = s->next_act_id++;
    a->lead_id = lead_id;
    a->date_ms = now;
    a->type = type;
    a->primary_id = primary_id;
    a->primary_value = dup_or_null(primary_value);
    a->campaign_id = 0;
    a->attrs = attrs ? attrs : json_array();
    return 0;
}

static void attr(json_t *a, const char *name, json_t *value)
{
    json_array_append_new(a, json_pack("{s:s,s:o}", "name", name, "value", value));
}

static void status_activity(mkto_state *s, const mkto_program *p, const mkto_member *m, int old_st,
                            int new_st, const char *reason, int64_t now)
{
    const mkto_channel *c = mkto_program_channel(s, p);
    json_t *a = json_array();
    attr(a, "Acquired By", json_boolean(m->acquired_by));
    attr(a, "New Status ID", json_integer(mkto_status_id(c, new_st)));
    attr(a, "Old Status ID", json_integer(mkto_status_id(c, old_st)));
    attr(a, "Program Member ID", json_integer(m->member_id));
    attr(a, "Reason", json_string(reason ? reason : ""));
    attr(a, "Success", json_boolean(new_st >= 0 && c && c->st[new_st].success));
    attr(a, "New Status", json_string(new_st >= 0 && c ? c->st[new_st].name : "Not in Program"));
    attr(a, "Old Status", json_string(old_st >= 0 && c ? c->st[old_st].name : "Not in Program"));
    mkto_activity_add(s, m->lead_id, MKTO_ACT_CHANGE_PROGRAM_STATUS, p->id, p->name, a, now);
}

int mkto_set_status(mkto_state *s, mkto_program *p, int64_t lead_id, int st, int forward_only,
                    const char *reason, int64_t now)
{
    const mkto_channel *c = mkto_program_channel(s, p);
    if (!c || st < 0 || st >= c->n_st)
        return -1;
    mkto_member *m = mkto_member_get(p, lead_id);
    int created = 0;
    int old_st = -1;
    if (m) {
        old_st = m->st;
        if (forward_only && (old_st == st || c->st[st].step < c->st[old_st].step))
            return 1;
    } else {
        m = mkto_member_insert(s, p, lead_id, now);
        if (!m)
            return -1;
        created = 1;
    }
    m->st = st;
    m->updated_ms = now;
    if (c->st[st].success && !m->reached_success) {
        m->reached_success = 1;
        m->success_ms = now;
    }
    status_activity(s, p, m, old_st, st, reason, now);
    return created ? 2 : 0;
}

int mkto_remove_member(mkto_state *s, mkto_program *p, int64_t lead_id, const char *reason,
                       int64_t now)
{
    mkto_member *m = mkto_member_get(p, lead_id);
    if (!m)
        return 1;
    mkto_member copy = *m;
    status_activity(s, p, &copy, copy.st, -1, reason, now);
    mkto_member_remove(p, lead_id);
    return 0;
}

/* ---- load ---- */

static void channel_free(mkto_channel *c)
{
    for (int i = 0; i < c->n_st; i++) {
        free(c->st[i].name);
        free(c->st[i].description);
    }
    free(c->st);
    free(c->name);
    free(c->program_type);
}

static void program_free(mkto_program *p)
{
    free(p->name);
    free(p->description);
    free(p->type);
    free(p->channel);
    free(p->status);
    free(p->workspace);
    free(p->sfdc_id);
    free(p->sfdc_name);
    free(p->folder_name);
    json_decref(p->costs);
    json_decref(p->tags);
    free(p->m);
}

static void state_free(mkto_state *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_ch; i++)
        channel_free(&s->ch[i]);
    free(s->ch);
    for (size_t i = 0; i < s->n_pg; i++)
        program_free(&s->pg[i]);
    free(s->pg);
    for (size_t i = 0; i < s->n_leads; i++)
        for (int f = 0; f < MKTO_NF; f++)
            free(s->leads[i].f[f]);
    free(s->leads);
    for (size_t i = 0; i < s->n_act; i++) {
        free(s->act[i].primary_value);
        json_decref(s->act[i].attrs);
    }
    free(s->act);
    mkto_bulk_free(s);
    sbx_imap_free(&s->pg_by_id);
    sbx_imap_free(&s->lead_by_id);
    for (int k = 0; k < MKTO_NIDX; k++)
        sbx_smap_free(&s->lead_by[k]);
    free(s->win);
    free(s->client_id);
    free(s->client_secret);
    free(s->scope);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static int load_channels(mkto_state *s, json_t *arr, char *err, size_t err_len)
{
    size_t n = json_array_size(arr);
    s->ch = calloc(n ? n : 1, sizeof *s->ch);
    if (!s->ch)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        mkto_channel *c = &s->ch[s->n_ch++];
        c->id = json_is_integer(json_object_get(o, "id"))
                    ? json_integer_value(json_object_get(o, "id"))
                    : (int64_t)i + 1;
        c->name = jstr(o, "name");
        c->program_type = jstr(o, "applicableProgramType");
        if (!c->name) {
            snprintf(err, err_len, "marketo.channels[%zu]: 'name' is required", i);
            return -1;
        }
        json_t *st = json_object_get(o, "progressionStatuses");
        size_t ns = json_array_size(st);
        c->st = calloc(ns ? ns : 1, sizeof *c->st);
        if (!c->st)
            return -1;
        for (size_t k = 0; k < ns; k++) {
            json_t *so = json_array_get(st, k);
            const char *sname = json_string_value(json_object_get(so, "name"));
            if (sname && strcasecmp(sname, MKTO_NOT_IN_PROGRAM) == 0)
                continue; /* implicit in every channel */
            mkto_status *ms = &c->st[c->n_st++];
            ms->name = jstr(so, "name");
            if (!ms->name) {
                snprintf(err, err_len,
                         "marketo.channels[%zu].progressionStatuses[%zu]: 'name' is "
                         "required",
                         i, k);
                return -1;
            }
            ms->step = (int)json_integer_value(json_object_get(so, "step"));
            ms->success = json_is_true(json_object_get(so, "success"));
            ms->hidden = json_is_true(json_object_get(so, "hidden"));
            ms->description = jstr(so, "description");
        }
        c->created_ms = jtime(o, "createdAt", 1577836800000LL);
        c->updated_ms = jtime(o, "updatedAt", c->created_ms);
    }
    return 0;
}

static int find_channel(mkto_state *s, const char *name)
{
    for (size_t i = 0; i < s->n_ch; i++)
        if (name && strcmp(s->ch[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int load_programs(mkto_state *s, json_t *arr, char *err, size_t err_len)
{
    size_t n = json_array_size(arr);
    s->pg = calloc(n ? n : 1, sizeof *s->pg);
    if (!s->pg)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        json_t *id = json_object_get(o, "id");
        if (!json_is_integer(id)) {
            snprintf(err, err_len, "marketo.programs[%zu]: integer 'id' is required", i);
            return -1;
        }
        if (sbx_imap_get(&s->pg_by_id, json_integer_value(id), NULL)) {
            snprintf(err, err_len, "marketo.programs[%zu]: duplicate id %lld", i,
                     (long long)json_integer_value(id));
            return -1;
        }
        mkto_program *p = &s->pg[s->n_pg];
        p->id = json_integer_value(id);
        p->name = jstr(o, "name");
        if (!p->name)
            p->name = strdup("");
        p->description = jstr(o, "description");
        p->type = jstr(o, "type");
        if (!p->type)
            p->type = strdup("Default");
        p->channel = jstr(o, "channel");
        p->status = jstr(o, "status");
        p->workspace = jstr(o, "workspace");
        p->sfdc_id = jstr(o, "sfdcId");
        p->sfdc_name = jstr(o, "sfdcName");
        json_t *folder = json_object_get(o, "folder");
        p->folder_id =
            json_is_object(folder) ? json_integer_value(json_object_get(folder, "value")) : 1000;
        p->folder_name = json_is_object(folder) ? jstr(folder, "folderName") : NULL;
        if (!p->folder_name)
            p->folder_name = strdup("Marketing Activities");
        json_t *costs = json_object_get(o, "costs");
        p->costs = json_is_array(costs) ? json_deep_copy(costs) : json_array();
        json_t *tags = json_object_get(o, "tags");
        p->tags = json_is_array(tags) ? json_deep_copy(tags) : json_array();
        p->created_ms = jtime(o, "createdAt", 1577836800000LL);
        p->updated_ms = jtime(o, "updatedAt", p->created_ms);
        p->ch = find_channel(s, p->channel);
        if (p->channel && p->ch < 0) {
            snprintf(err, err_len, "marketo.programs[%zu]: channel '%s' is not in marketo.channels",
                     i, p->channel);
            program_free(p);
            return -1;
        }
        if (sbx_imap_put(&s->pg_by_id, p->id, (int64_t)s->n_pg) != 0) {
            program_free(p);
            return -1;
        }
        s->n_pg++;
    }
    return 0;
}

static int load_leads(mkto_state *s, json_t *arr, char *err, size_t err_len)
{
    size_t n = json_array_size(arr);
    int64_t max_id = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        json_t *id = json_object_get(o, "id");
        if (!json_is_integer(id) || json_integer_value(id) <= 0) {
            snprintf(err, err_len, "marketo.leads[%zu]: positive integer 'id' is required", i);
            return -1;
        }
        if (sbx_imap_get(&s->lead_by_id, json_integer_value(id), NULL)) {
            snprintf(err, err_len, "marketo.leads[%zu]: duplicate id %lld", i,
                     (long long)json_integer_value(id));
            return -1;
        }
        s->next_lead_id = json_integer_value(id);
        mkto_lead *l = mkto_lead_create(s, 0);
        if (!l)
            return -1;
        for (int f = 0; f < MKTO_NF; f++)
            l->f[f] = jstr(o, mkto_field_names[f]);
        for (int k = 0; k < MKTO_NIDX; k++)
            index_add(s, k, (size_t)(l - s->leads));
        l->created_ms = jtime(o, "createdAt", 1577836800000LL);
        l->updated_ms = jtime(o, "updatedAt", l->created_ms);
        if (l->id > max_id)
            max_id = l->id;
    }
    s->next_lead_id = max_id + 1;
    return 0;
}

static int cmp_member(const void *a, const void *b)
{
    const mkto_member *x = a, *y = b;
    return x->lead_id < y->lead_id ? -1 : x->lead_id > y->lead_id;
}

static int load_members(mkto_state *s, json_t *arr, char *err, size_t err_len)
{
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        int64_t pid = json_integer_value(json_object_get(o, "programId"));
        int64_t lid = json_integer_value(json_object_get(o, "leadId"));
        mkto_program *p = mkto_program_get(s, pid);
        if (!p) {
            snprintf(err, err_len, "marketo.members[%zu]: unknown programId %lld", i,
                     (long long)pid);
            return -1;
        }
        if (!mkto_lead_get(s, lid)) {
            snprintf(err, err_len, "marketo.members[%zu]: unknown leadId %lld", i, (long long)lid);
            return -1;
        }
        const char *sn = json_string_value(json_object_get(o, "statusName"));
        int st = mkto_status_index(mkto_program_channel(s, p), sn);
        if (st < 0) {
            snprintf(err, err_len,
                     "marketo.members[%zu]: status '%s' is not a progression status of program "
                     "%lld's channel",
                     i, sn ? sn : "(none)", (long long)pid);
            return -1;
        }
        if (p->n_m == p->cap_m) {
            size_t nc = p->cap_m ? p->cap_m * 2 : 64;
            mkto_member *nm = realloc(p->m, nc * sizeof *nm);
            if (!nm)
                return -1;
            p->m = nm;
            p->cap_m = nc;
        }
        mkto_member *m = &p->m[p->n_m++];
        memset(m, 0, sizeof *m);
        m->lead_id = lid;
        m->member_id = s->next_member_id++;
        m->st = st;
        m->membership_ms = jtime(o, "membershipDate", 1577836800000LL);
        m->created_ms = jtime(o, "createdAt", m->membership_ms);
        m->updated_ms = jtime(o, "updatedAt", m->membership_ms);
        json_t *rs = json_object_get(o, "reachedSuccess");
        m->reached_success = rs ? json_is_true(rs) : s->ch[p->ch].st[st].success;
        m->success_ms = m->reached_success ? m->updated_ms : 0;
        m->acquired_by = json_is_true(json_object_get(o, "acquiredBy"));
    }
    for (size_t i = 0; i < s->n_pg; i++) {
        mkto_program *p = &s->pg[i];
        if (p->n_m > 1)
            qsort(p->m, p->n_m, sizeof *p->m, cmp_member);
        for (size_t k = 1; k < p->n_m; k++) {
            if (p->m[k].lead_id == p->m[k - 1].lead_id) {
                snprintf(err, err_len, "marketo.members: lead %lld is twice in program %lld",
                         (long long)p->m[k].lead_id, (long long)p->id);
                return -1;
            }
        }
    }
    return 0;
}

static int load_activities(mkto_state *s, json_t *arr)
{
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        json_t *attrs = json_object_get(o, "attributes");
        int64_t date = jtime(o, "activityDate", 0);
        if (mkto_activity_add(s, json_integer_value(json_object_get(o, "leadId")),
                              (int)json_integer_value(json_object_get(o, "activityTypeId")),
                              json_integer_value(json_object_get(o, "primaryAttributeValueId")),
                              json_string_value(json_object_get(o, "primaryAttributeValue")),
                              json_is_array(attrs) ? json_deep_copy(attrs) : json_array(),
                              date) != 0)
            return -1;
        int64_t id = json_integer_value(json_object_get(o, "id"));
        if (id > 0) {
            s->act[s->n_act - 1].id = id;
            if (id >= s->next_act_id)
                s->next_act_id = id + 1;
        }
    }
    return 0;
}

static void *mkto_create(json_t *section, uint64_t seed, char *err, size_t err_len)
{
    mkto_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->rng = seed ^ 0x6d6b746fULL;
    s->next_lead_id = 1;
    s->next_act_id = 1;
    s->next_member_id = 1;
    mkto_bulk_init(s);
    json_t *sec = json_is_object(section) ? section : NULL;
    const char *cid = sec ? json_string_value(json_object_get(sec, "client_id")) : NULL;
    const char *csec = sec ? json_string_value(json_object_get(sec, "client_secret")) : NULL;
    s->client_id = strdup(cid ? cid : "sbx-mkto-client");
    s->client_secret = strdup(csec ? csec : "sbx-mkto-secret");
    const char *scope = sec ? json_string_value(json_object_get(sec, "scope")) : NULL;
    s->scope = strdup(scope ? scope : "apis@sandbox.campsync.test");
    json_t *ttl = sec ? json_object_get(sec, "token_ttl_s") : NULL;
    s->token_ttl_s =
        json_is_integer(ttl) && json_integer_value(ttl) > 0 ? json_integer_value(ttl) : 3600;
    json_t *lim = sec ? json_object_get(sec, "limits") : NULL;
    json_t *v;
    s->lim_per20 =
        json_is_integer(v = json_object_get(lim, "calls_per_20s")) ? json_integer_value(v) : 100;
    s->lim_concurrent =
        json_is_integer(v = json_object_get(lim, "concurrent")) ? json_integer_value(v) : 10;
    s->lim_daily =
        json_is_integer(v = json_object_get(lim, "daily")) ? json_integer_value(v) : 50000;
    if (!s->client_id || !s->client_secret || !s->scope) {
        snprintf(err, err_len, "out of memory");
        state_free(s);
        return NULL;
    }
    if (sec && (load_channels(s, json_object_get(sec, "channels"), err, err_len) != 0 ||
                load_programs(s, json_object_get(sec, "programs"), err, err_len) != 0 ||
                load_leads(s, json_object_get(sec, "leads"), err, err_len) != 0 ||
                load_members(s, json_object_get(sec, "members"), err, err_len) != 0 ||
                load_activities(s, json_object_get(sec, "activities")) != 0)) {
        if (!err[0])
            snprintf(err, err_len, "out of memory loading the marketo dataset");
        state_free(s);
        return NULL;
    }
    if (!sec) {
        s->ch = calloc(1, sizeof *s->ch);
        s->pg = calloc(1, sizeof *s->pg);
    }
    return s;
}

static void mkto_destroy(void *state)
{
    state_free(state);
}

/* ---- export ---- */

void mkto_format_asset_time(int64_t ms, char *out, size_t len)
{
    char iso[40];
    sbx_format_time_iso(ms, iso, sizeof iso);
    snprintf(out, len, "%s+0000", iso);
}

json_t *mkto_channel_json(const mkto_channel *c, int api)
{
    json_t *sts = json_array();
    /* Every channel starts with the implicit "Not in Program" step 0. */
    if (api)
        json_array_append_new(sts, json_pack("{s:s,s:i,s:n,s:b,s:b}", "name", MKTO_NOT_IN_PROGRAM,
                                             "step", 0, "description", "hidden", 0, "success", 0));
    for (int i = 0; i < c->n_st; i++) {
        const mkto_status *st = &c->st[i];
        json_t *desc =
            st->description && st->description[0] ? json_string(st->description) : json_null();
        json_array_append_new(sts, json_pack("{s:s,s:i,s:o,s:b,s:b}", "name", st->name, "step",
                                             st->step, "description", desc, "hidden", st->hidden,
                                             "success", st->success));
    }
    json_t *o = json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)c->id, "name", c->name,
                          "applicableProgramType", c->program_type ? c->program_type : "program",
                          "progressionStatuses", sts);
    if (api) {
        char created[48], updated[48];
        mkto_format_asset_time(c->created_ms, created, sizeof created);
        mkto_format_asset_time(c->updated_ms, updated, sizeof updated);
        json_object_set_new(o, "createdAt", json_string(created));
        json_object_set_new(o, "updatedAt", json_string(updated));
    }
    return o;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *array_or_null(json_t *a)
{
    return json_array_size(a) > 0 ? json_incref(a) : json_null();
}

json_t *mkto_program_json(const mkto_program *p, int mode)
{
    char created[48], updated[48], url[96];
    if (mode != MKTO_PJ_DATASET) {
        mkto_format_asset_time(p->created_ms, created, sizeof created);
        mkto_format_asset_time(p->updated_ms, updated, sizeof updated);
    } else {
        sbx_format_time_iso(p->created_ms, created, sizeof created);
        sbx_format_time_iso(p->updated_ms, updated, sizeof updated);
    }
    snprintf(url, sizeof url, "https://app-sbx01.marketo.com/#PG%lldA1", (long long)p->id);
    json_t *o = json_pack(
        "{s:I,s:s,s:o,s:s,s:s,s:s,s:s,s:o,s:{s:s,s:I,s:s},s:s,s:s}", "id", (json_int_t)p->id,
        "name", p->name, "description", str_or_null(p->description), "createdAt", created,
        "updatedAt", updated, "url", url, "type", p->type, "channel", str_or_null(p->channel),
        "folder", "type", "Folder", "value", (json_int_t)p->folder_id, "folderName", p->folder_name,
        "status", p->status ? p->status : "", "workspace", p->workspace ? p->workspace : "Default");
    if (!o)
        return NULL;
    if (mode == MKTO_PJ_DATASET) {
        json_object_set(o, "tags", p->tags);
        json_object_set(o, "costs", p->costs);
    } else {
        json_object_set_new(o, "headStart", json_false());
        /* Browsing returns neither tags nor costs; by id returns both, null
         * when there are none; by name only when asked for. */
        if (mode == MKTO_PJ_FULL || mode == MKTO_PJ_TAGS || mode == MKTO_PJ_TAGS_COSTS)
            json_object_set_new(o, "tags", array_or_null(p->tags));
        else if (mode == MKTO_PJ_COSTS)
            json_object_set_new(o, "tags", json_null());
        if (mode == MKTO_PJ_FULL || mode == MKTO_PJ_COSTS || mode == MKTO_PJ_TAGS_COSTS)
            json_object_set_new(o, "costs", array_or_null(p->costs));
        else if (mode == MKTO_PJ_TAGS)
            json_object_set_new(o, "costs", json_null());
    }
    if (p->sfdc_id)
        json_object_set_new(o, "sfdcId", json_string(p->sfdc_id));
    if (p->sfdc_name)
        json_object_set_new(o, "sfdcName", json_string(p->sfdc_name));
    return o;
}

json_t *mkto_state_export(mkto_state *s)
{
    char t1[48], t2[48], t3[48];
    json_t *out = json_object();
    json_object_set_new(out, "client_id", json_string(s->client_id));
    json_object_set_new(out, "client_secret", json_string(s->client_secret));
    json_object_set_new(out, "token_ttl_s", json_integer(s->token_ttl_s));
    json_object_set_new(out, "limits",
                        json_pack("{s:I,s:I,s:I}", "calls_per_20s", (json_int_t)s->lim_per20,
                                  "concurrent", (json_int_t)s->lim_concurrent, "daily",
                                  (json_int_t)s->lim_daily));
    json_t *chs = json_array();
    for (size_t i = 0; i < s->n_ch; i++) {
        json_array_append_new(chs, mkto_channel_json(&s->ch[i], 0));
    }
    json_object_set_new(out, "channels", chs);
    json_t *pgs = json_array();
    json_t *mems = json_array();
    for (size_t i = 0; i < s->n_pg; i++) {
        mkto_program *p = &s->pg[i];
        json_array_append_new(pgs, mkto_program_json(p, MKTO_PJ_DATASET));
        const mkto_channel *c = mkto_program_channel(s, p);
        for (size_t k = 0; k < p->n_m; k++) {
            mkto_member *m = &p->m[k];
            sbx_format_time_iso(m->membership_ms, t1, sizeof t1);
            sbx_format_time_iso(m->updated_ms, t2, sizeof t2);
            sbx_format_time_iso(m->created_ms, t3, sizeof t3);
            json_array_append_new(
                mems, json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:b,s:b}", "programId", (json_int_t)p->id,
                                "leadId", (json_int_t)m->lead_id, "statusName",
                                c ? c->st[m->st].name : "", "membershipDate", t1, "updatedAt", t2,
                                "createdAt", t3, "reachedSuccess", m->reached_success, "acquiredBy",
                                m->acquired_by));
        }
    }
    json_object_set_new(out, "programs", pgs);
    json_t *leads = json_array();
    for (size_t i = 0; i < s->n_leads; i++) {
        mkto_lead *l = &s->leads[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(l->id));
        for (int f = 0; f < MKTO_NF; f++)
            if (l->f[f])
                json_object_set_new(o, mkto_field_names[f], json_string(l->f[f]));
        sbx_format_time_iso(l->created_ms, t1, sizeof t1);
        sbx_format_time_iso(l->updated_ms, t2, sizeof t2);
        json_object_set_new(o, "createdAt", json_string(t1));
        json_object_set_new(o, "updatedAt", json_string(t2));
        json_array_append_new(leads, o);
    }
    json_object_set_new(out, "leads", leads);
    json_object_set_new(out, "members", mems);
    json_t *acts = json_array();
    for (size_t i = 0; i < s->n_act; i++) {
        mkto_activity *a = &s->act[i];
        sbx_format_time_iso(a->date_ms, t1, sizeof t1);
        json_array_append_new(acts,
                              json_pack("{s:I,s:I,s:s,s:i,s:I,s:o,s:O}", "id", (json_int_t)a->id,
                                        "leadId", (json_int_t)a->lead_id, "activityDate", t1,
                                        "activityTypeId", a->type, "primaryAttributeValueId",
                                        (json_int_t)a->primary_id, "primaryAttributeValue",
                                        str_or_null(a->primary_value), "attributes", a->attrs));
    }
    json_object_set_new(out, "activities", acts);
    return out;
}

const sbx_vendor_ops sbx_marketo_ops = {
    .name = "marketo",
    .create = mkto_create,
    .destroy = mkto_destroy,
    .handle = mkto_handle,
    .admin = mkto_admin,
};
