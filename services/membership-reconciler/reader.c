/*
 * Reads both sides of a pair into the people input the core matches (SPEC
 * C3, C5): every program member and campaign member, the Marketo leads of the
 * program members, the Salesforce Leads/Contacts of the campaign members, and
 * then only the counterparts the matching can need that are not already
 * known: Salesforce people linked to or sharing an email with a Marketo
 * member, and Marketo leads linked to or sharing an email with a campaign
 * member. A full read also sees deletions on both sides.
 *
 * A partial read starts from the people a change probe named (Marketo leads
 * with program status activity, Salesforce people whose campaign member
 * changed): it looks them up, finds their counterparts on the other side
 * the same way (and the counterparts' counterparts, so that a person two
 * records claim is seen with both), then reads the membership of every one
 * of them on both sides by id. The core plans those people only and keeps
 * everyone else's base (plan_input.partial).
 *
 * Each connector reply is freed as soon as it is read: the strings the core
 * needs are copied into the read's string pool (status names interned), and
 * the people input grows as the replies come.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hmap.h"
#include "recon_svc.h"

#define ID_CHUNK 1000            /* ids or emails per lookup call */
#define STREAM_TIMEOUT_MS 600000 /* a 100,000-member read takes a while */

/* A set of strings borrowed from the read's pool (so they outlive the set),
 * but for normalized emails that differ from theirs: those are copied into
 * the set's own pool. */
typedef struct {
    hmap map;
    strpool pool;
    const char *last; /* the string added last */
} strset;

static int strset_init(strset *s, size_t expected)
{
    memset(s, 0, sizeof *s);
    return hmap_init(&s->map, expected ? expected : 16);
}

static void strset_free(strset *s)
{
    strpool_free(&s->pool);
    hmap_free(&s->map);
}

static bool strset_has(const strset *s, const char *v)
{
    uint32_t x;
    return v && v[0] && hmap_get(&s->map, v, strlen(v), &x);
}

/* Adds v (borrowed). 1 when added, 0 when present or empty, -1 out of
 * memory. */
static int strset_add(strset *s, const char *v)
{
    if (!v || !v[0] || strset_has(s, v))
        return 0;
    s->last = v;
    return hmap_put(&s->map, v, strlen(v), 0, NULL) < 0 ? -1 : 1;
}

/* Adds the normalized email: email itself (borrowed) when already normal,
 * the usual case, else a copy. */
static int add_email(strset *s, const char *email)
{
    char norm[PEOPLE_MAX_TEXT];
    if (!people_normalize_email(email, norm, sizeof norm) || strset_has(s, norm))
        return 0;
    const char *v = strcmp(norm, email) == 0 ? email : strpool_copy(&s->pool, norm);
    return v ? strset_add(s, v) : -1;
}

static bool has_email(const strset *s, const char *email)
{
    char norm[PEOPLE_MAX_TEXT];
    return people_normalize_email(email, norm, sizeof norm) && strset_has(s, norm);
}

typedef struct {
    void **v;
    size_t n, cap;
} ptrvec;

static int ptrvec_push(ptrvec *p, void *x)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        void **v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return -1;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = x;
    return 0;
}

/* The room for one more element of sz bytes in v (n used of *cap): v or
 * its reallocation, NULL when out of memory (v is then unchanged). */
static void *room_for_one(void *v, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap)
        return v;
    size_t c = *cap ? *cap * 2 : 64;
    void *nv = realloc(v, c * sz);
    if (nv)
        *cap = c;
    return nv;
}

typedef struct {
    rc_svc *s;
    rpc_call *parent;
    rc_read *out; /* its arrays grow as the replies come */
    size_t n_leads, n_people, n_mk_members, n_sf_members;
    size_t cap_leads, cap_people, cap_mk_members, cap_sf_members;
    bool *sf_by_contact; /* per campaign member: its person is its ContactId */
    bool oom;            /* a string copy failed */
    strpool keys;        /* the lead ids' keys */
    hmap lead_ids;       /* Marketo lead ids known (8-byte keys in keys) */
    strset sf_ids;       /* Salesforce person ids known */
    strset sf_emails;    /* normalized emails of known Salesforce people */
    strset mk_emails;    /* normalized emails of known Marketo leads */
    strset mk_links;     /* sfdc ids Marketo leads are linked to */
    strset member_ids;   /* partial reads: CampaignMember ids taken (a converted
                            Lead's member answers by LeadId and by ContactId) */
    bool partial;
} reader;

static int oom(rc_err *err)
{
    return rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory reading the pair");
}

/* A copy of s in the read's pool (r->oom when out of memory). */
static const char *keep(reader *r, const char *s)
{
    const char *c = strpool_copy(&r->out->strings, s);
    r->oom |= s && !c;
    return c;
}

static const char *keep_status(reader *r, const char *s)
{
    const char *c = strpool_intern(&r->out->strings, s);
    r->oom |= s && !c;
    return c;
}

static int add_mk_member(reader *r, const Campsync__V1__ProgramMember *m)
{
    people_mkto_member *v =
        room_for_one(r->out->mkto_members, r->n_mk_members, &r->cap_mk_members, sizeof *v);
    if (!v)
        return -1;
    r->out->mkto_members = v;
    v[r->n_mk_members++] =
        (people_mkto_member){m->lead_id, keep_status(r, m->status_name), m->updated_at_ms};
    return r->oom ? -1 : 0;
}

static int add_sf_member(reader *r, const Campsync__V1__CampaignMember *m)
{
    size_t cap = r->cap_sf_members;
    people_sf_member *v = room_for_one(r->out->sf_members, r->n_sf_members, &cap, sizeof *v);
    if (!v)
        return -1;
    r->out->sf_members = v;
    if (cap != r->cap_sf_members) {
        bool *c = realloc(r->sf_by_contact, cap * sizeof *c);
        if (!c)
            return -1;
        r->sf_by_contact = c;
        r->cap_sf_members = cap;
    }
    bool contact = m->contact_id && m->contact_id[0];
    r->sf_by_contact[r->n_sf_members] = contact;
    v[r->n_sf_members++] =
        (people_sf_member){keep(r, m->id), keep(r, contact ? m->contact_id : m->lead_id),
                           keep(r, m->email), keep_status(r, m->status), m->last_modified_ms};
    return r->oom ? -1 : 0;
}

/* The stored lead, or NULL when out of memory. */
static const people_mkto_lead *add_lead(reader *r, const Campsync__V1__Lead *l)
{
    people_mkto_lead *v = room_for_one(r->out->leads, r->n_leads, &r->cap_leads, sizeof *v);
    if (!v)
        return NULL;
    r->out->leads = v;
    v[r->n_leads++] = (people_mkto_lead){l->id,
                                         keep(r, l->email),
                                         keep(r, l->first_name),
                                         keep(r, l->last_name),
                                         keep(r, l->company),
                                         keep(r, l->sfdc_lead_id),
                                         keep(r, l->sfdc_contact_id)};
    return r->oom ? NULL : &v[r->n_leads - 1];
}

/* The stored person, or NULL when out of memory. */
static const people_sf_person *add_person(reader *r, const Campsync__V1__Person *p)
{
    people_sf_person *v = room_for_one(r->out->sf_people, r->n_people, &r->cap_people, sizeof *v);
    if (!v)
        return NULL;
    r->out->sf_people = v;
    v[r->n_people++] = (people_sf_person){
        .id = keep(r, p->id),
        .kind = strcmp(p->kind, "Contact") == 0 ? PEOPLE_SF_CONTACT : PEOPLE_SF_LEAD,
        .email = keep(r, p->email),
        .first_name = keep(r, p->first_name),
        .last_name = keep(r, p->last_name),
        .company = keep(r, p->company),
        .is_converted = p->is_converted,
        .converted_contact_id = keep(r, p->converted_contact_id)};
    return r->oom ? NULL : &v[r->n_people - 1];
}

static int stream_once(reader *r, bool mkto, const ProtobufCMessage *rq, bool *got_any, rc_err *err)
{
    rc_svc *s = r->s;
    rpc_error e = {0};
    rpc_call_opts o = {.parent = r->parent, .timeout_ms = STREAM_TIMEOUT_MS};
    rpc_stream *st = NULL;
    const char *method = mkto ? "StreamProgramMembers" : "StreamCampaignMembers";
    int rc = rpc_stream_open(mkto ? s->mkto : s->sf,
                             mkto ? &campsync__v1__marketo_connector__descriptor
                                  : &campsync__v1__salesforce_connector__descriptor,
                             method, rq, &o, &st, &e);
    if (rc != 0)
        return rc_fail(err, rc, "%s connector %s: %s", mkto ? "marketo" : "salesforce", method,
                       e.message);
    for (;;) {
        if (__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
            rpc_stream_close(st);
            return rc_fail(err, GRPC_STATUS_CANCELLED, "shutting down: read abandoned");
        }
        ProtobufCMessage *m = NULL;
        int n = rpc_stream_next(st, &m, &e);
        if (n == 0)
            break;
        if (n < 0) {
            rpc_stream_close(st);
            return rc_fail(err, e.code ? e.code : GRPC_STATUS_UNAVAILABLE, "%s connector %s: %s",
                           mkto ? "marketo" : "salesforce", method, e.message);
        }
        *got_any = true;
        int added = 0;
        if (mkto) {
            r->out->api_calls_mkto++;
            const Campsync__V1__ProgramMemberPage *p = (const void *)m;
            for (size_t i = 0; i < p->n_members && added == 0; i++)
                added = add_mk_member(r, p->members[i]);
        } else {
            r->out->api_calls_sf++;
            const Campsync__V1__CampaignMemberPage *p = (const void *)m;
            for (size_t i = 0; i < p->n_members && added == 0; i++) {
                const Campsync__V1__CampaignMember *cm = p->members[i];
                const char *id = r->partial ? keep(r, cm->id) : NULL;
                int fresh = !r->partial ? 1 : id ? strset_add(&r->member_ids, id) : -1;
                if (fresh < 0)
                    added = -1;
                else if (fresh && !cm->is_deleted)
                    added = add_sf_member(r, cm);
            }
        }
        protobuf_c_message_free_unpacked(m, NULL);
        if (added != 0) {
            rpc_stream_close(st);
            return oom(err);
        }
    }
    rpc_stream_close(st);
    return 0;
}

/* A stream refused UNAVAILABLE before its first page (the channel was
 * reconnecting) is opened again. */
static int stream_all(reader *r, bool mkto, const ProtobufCMessage *rq, rc_err *err)
{
    for (int i = 0;; i++) {
        bool got_any = false;
        int rc = stream_once(r, mkto, rq, &got_any, err);
        if (rc == 0 || got_any || i == 2 || err->code != GRPC_STATUS_UNAVAILABLE)
            return rc;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Takes the reply m (freed here). */
static int take_leads(reader *r, ProtobufCMessage *m, rc_err *err)
{
    r->out->api_calls_mkto++;
    const Campsync__V1__GetLeadsResponse *l = (const void *)m;
    int rc = 0;
    for (size_t i = 0; i < l->n_leads && rc == 0; i++) {
        Campsync__V1__Lead *ld = l->leads[i];
        if (ld->id <= 0 || hmap_get(&r->lead_ids, &ld->id, sizeof ld->id, &(uint32_t){0}))
            continue;
        const void *key = strpool_mem(&r->keys, &ld->id, sizeof ld->id);
        const people_mkto_lead *kept = NULL;
        if (!key || hmap_put(&r->lead_ids, key, sizeof ld->id, 0, NULL) < 0 ||
            !(kept = add_lead(r, ld)) || add_email(&r->mk_emails, kept->email) < 0 ||
            strset_add(&r->mk_links, kept->sfdc_lead_id) < 0 ||
            strset_add(&r->mk_links, kept->sfdc_contact_id) < 0)
            rc = oom(err);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* Takes the reply m (freed here). */
static int take_people(reader *r, ProtobufCMessage *m, rc_err *err)
{
    r->out->api_calls_sf++;
    const Campsync__V1__PersonList *l = (const void *)m;
    int rc = 0;
    for (size_t i = 0; i < l->n_people && rc == 0; i++) {
        Campsync__V1__Person *p = l->people[i];
        if (!p->id || !p->id[0] || strset_has(&r->sf_ids, p->id))
            continue;
        const people_sf_person *kept = add_person(r, p);
        if (!kept || strset_add(&r->sf_ids, kept->id) < 0 ||
            add_email(&r->sf_emails, kept->email) < 0)
            rc = oom(err);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

typedef enum { Q_IDS, Q_EMAILS, Q_SFDC_LEAD, Q_SFDC_CONTACT } qkind;

/* Marketo GetLeads in chunks. */
static int mk_lookup(reader *r, qkind k, const int64_t *ids, char **strs, size_t n, rc_err *err)
{
    for (size_t off = 0; off < n; off += ID_CHUNK) {
        if (__atomic_load_n(&r->s->stop, __ATOMIC_RELAXED))
            return rc_fail(err, GRPC_STATUS_CANCELLED, "shutting down: read abandoned");
        size_t len = n - off < ID_CHUNK ? n - off : ID_CHUNK;
        Campsync__V1__GetLeadsRequest rq = CAMPSYNC__V1__GET_LEADS_REQUEST__INIT;
        if (k == Q_IDS) {
            rq.ids = (int64_t *)ids + off;
            rq.n_ids = len;
        } else if (k == Q_EMAILS) {
            rq.emails = strs + off;
            rq.n_emails = len;
        } else if (k == Q_SFDC_LEAD) {
            rq.sfdc_lead_ids = strs + off;
            rq.n_sfdc_lead_ids = len;
        } else {
            rq.sfdc_contact_ids = strs + off;
            rq.n_sfdc_contact_ids = len;
        }
        ProtobufCMessage *m = NULL;
        if (rc_mkto_call(r->s, r->parent, "GetLeads", &rq.base, &m, err) != 0 ||
            take_leads(r, m, err) != 0)
            return -1;
    }
    return 0;
}

/* Salesforce GetLeads or GetContacts in chunks. */
static int sf_lookup(reader *r, bool contacts, bool by_email, char **strs, size_t n, rc_err *err)
{
    for (size_t off = 0; off < n; off += ID_CHUNK) {
        if (__atomic_load_n(&r->s->stop, __ATOMIC_RELAXED))
            return rc_fail(err, GRPC_STATUS_CANCELLED, "shutting down: read abandoned");
        size_t len = n - off < ID_CHUNK ? n - off : ID_CHUNK;
        Campsync__V1__GetPeopleRequest rq = CAMPSYNC__V1__GET_PEOPLE_REQUEST__INIT;
        if (by_email) {
            rq.emails = strs + off;
            rq.n_emails = len;
        } else {
            rq.ids = strs + off;
            rq.n_ids = len;
        }
        ProtobufCMessage *m = NULL;
        if (rc_sf_call(r->s, r->parent, contacts ? "GetContacts" : "GetLeads", &rq.base, &m, err) !=
                0 ||
            take_people(r, m, err) != 0)
            return -1;
    }
    return 0;
}

static bool is_contact_id(const char *id)
{
    return id && strncmp(id, "003", 3) == 0;
}

/* Collects strings (borrowed) into a vector, at most once each. */
typedef struct {
    ptrvec v;
    strset seen;
} strlist;

static int strlist_add(strlist *l, const char *s)
{
    int rc = strset_add(&l->seen, s);
    if (rc <= 0)
        return rc;
    return ptrvec_push(&l->v, (void *)l->seen.last);
}

static void strlist_free(strlist *l)
{
    free(l->v.v);
    strset_free(&l->seen);
}

static int read_members(reader *r, const rc_pair *p, rc_err *err)
{
    Campsync__V1__StreamProgramMembersRequest mq =
        CAMPSYNC__V1__STREAM_PROGRAM_MEMBERS_REQUEST__INIT;
    mq.program_id = p->program_id;
    if (stream_all(r, true, &mq.base, err) != 0)
        return -1;
    Campsync__V1__StreamCampaignMembersRequest sq =
        CAMPSYNC__V1__STREAM_CAMPAIGN_MEMBERS_REQUEST__INIT;
    sq.campaign_id = (char *)p->campaign_id;
    return stream_all(r, false, &sq.base, err);
}

/* Looks up Salesforce people by id, Leads and Contacts apart. */
static int sf_lookup_ids(reader *r, const char *const *ids, size_t n, rc_err *err)
{
    strlist leads = {0}, contacts = {0};
    int rc = -1;
    if (strset_init(&leads.seen, 64) || strset_init(&contacts.seen, 64)) {
        oom(err);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] && ids[i][0] && !strset_has(&r->sf_ids, ids[i]) &&
            strlist_add(is_contact_id(ids[i]) ? &contacts : &leads, ids[i]) < 0) {
            oom(err);
            goto out;
        }
    if (sf_lookup(r, false, false, (char **)leads.v.v, leads.v.n, err) == 0 &&
        sf_lookup(r, true, false, (char **)contacts.v.v, contacts.v.n, err) == 0)
        rc = 0;
out:
    strlist_free(&leads);
    strlist_free(&contacts);
    return rc;
}

/* Salesforce counterparts of leads[from, to): by link, else by email. */
static int sf_counterparts(reader *r, size_t from, size_t to, rc_err *err)
{
    strlist links = {0}, emails = {0};
    int rc = -1;
    if (strset_init(&links.seen, 64) || strset_init(&emails.seen, 64)) {
        oom(err);
        goto out;
    }
    for (size_t i = from; i < to; i++) {
        const people_mkto_lead *ld = &r->out->leads[i];
        bool linked = false;
        const char *l[] = {ld->sfdc_contact_id, ld->sfdc_lead_id};
        for (int k = 0; k < 2; k++) {
            if (!l[k] || !l[k][0])
                continue;
            linked = true;
            if (strlist_add(&links, l[k]) < 0) {
                oom(err);
                goto out;
            }
        }
        if (!linked && !has_email(&r->sf_emails, ld->email) &&
            add_email(&emails.seen, ld->email) > 0 &&
            ptrvec_push(&emails.v, (void *)emails.seen.last) != 0) {
            oom(err);
            goto out;
        }
    }
    if (sf_lookup_ids(r, (const char *const *)links.v.v, links.v.n, err) == 0 &&
        sf_lookup(r, true, true, (char **)emails.v.v, emails.v.n, err) == 0 &&
        sf_lookup(r, false, true, (char **)emails.v.v, emails.v.n, err) == 0)
        rc = 0;
out:
    strlist_free(&links);
    strlist_free(&emails);
    return rc;
}

/* Marketo counterparts of Salesforce people (ids[i], emails[i]): by link,
 * else by email. */
static int mk_counterparts(reader *r, const char *const *ids, const char *const *emails, size_t n,
                           rc_err *err)
{
    strlist links_l = {0}, links_c = {0}, em = {0};
    int rc = -1;
    if (strset_init(&links_l.seen, 64) || strset_init(&links_c.seen, 64) ||
        strset_init(&em.seen, 64)) {
        oom(err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *pid = ids[i];
        if (!pid || !pid[0] || strset_has(&r->mk_links, pid))
            continue;
        if (strlist_add(is_contact_id(pid) ? &links_c : &links_l, pid) < 0) {
            oom(err);
            goto out;
        }
        if (!has_email(&r->mk_emails, emails[i]) && add_email(&em.seen, emails[i]) > 0 &&
            ptrvec_push(&em.v, (void *)em.seen.last) != 0) {
            oom(err);
            goto out;
        }
    }
    if (mk_lookup(r, Q_SFDC_LEAD, NULL, (char **)links_l.v.v, links_l.v.n, err) == 0 &&
        mk_lookup(r, Q_SFDC_CONTACT, NULL, (char **)links_c.v.v, links_c.v.n, err) == 0 &&
        mk_lookup(r, Q_EMAILS, NULL, (char **)em.v.v, em.v.n, err) == 0)
        rc = 0;
out:
    strlist_free(&links_l);
    strlist_free(&links_c);
    strlist_free(&em);
    return rc;
}

/* Marketo counterparts of sf_people[from, to). */
static int mk_counterparts_of_people(reader *r, size_t from, size_t to, rc_err *err)
{
    size_t n = to > from ? to - from : 0;
    const char **ids = calloc(n + 1, sizeof *ids), **emails = calloc(n + 1, sizeof *emails);
    int rc = -1;
    if (!ids || !emails) {
        oom(err);
    } else {
        for (size_t i = 0; i < n; i++) {
            ids[i] = r->out->sf_people[from + i].id;
            emails[i] = r->out->sf_people[from + i].email;
        }
        rc = mk_counterparts(r, ids, emails, n, err);
    }
    free(ids);
    free(emails);
    return rc;
}

static int read_people(reader *r, rc_err *err)
{
    size_t n = r->n_mk_members > r->n_sf_members ? r->n_mk_members : r->n_sf_members;
    int64_t *ids = malloc((n + 1) * sizeof *ids);
    const char **pids = calloc(n + 1, sizeof *pids), **emails = calloc(n + 1, sizeof *emails);
    int rc = -1;
    if (!ids || !pids || !emails) {
        oom(err);
        goto out;
    }
    /* The program members' leads and the campaign members' people. */
    for (size_t i = 0; i < r->n_mk_members; i++)
        ids[i] = r->out->mkto_members[i].lead_id;
    for (size_t i = 0; i < r->n_sf_members; i++) {
        pids[i] = r->out->sf_members[i].person_id;
        emails[i] = r->out->sf_members[i].email;
    }
    if (mk_lookup(r, Q_IDS, ids, NULL, r->n_mk_members, err) != 0 ||
        sf_lookup_ids(r, pids, r->n_sf_members, err) != 0)
        goto out;
    /* Their counterparts on the other side. */
    if (sf_counterparts(r, 0, r->n_leads, err) != 0 ||
        mk_counterparts(r, pids, emails, r->n_sf_members, err) != 0)
        goto out;
    rc = 0;
out:
    free(ids);
    free(pids);
    free(emails);
    return rc;
}

/* The people a probe named, their counterparts and theirs, then the
 * membership of all of them on both sides (see the top of the file). */
static int read_partial(reader *r, const rc_pair *p, const int64_t *leads, size_t n_leads,
                        char *const *people, size_t n_people, rc_err *err)
{
    if (mk_lookup(r, Q_IDS, leads, NULL, n_leads, err) != 0 ||
        sf_lookup_ids(r, (const char *const *)people, n_people, err) != 0)
        return -1;
    size_t lf = 0, pf = 0;
    for (int round = 0; round < 2; round++) {
        size_t lt = r->n_leads, pt = r->n_people;
        if (sf_counterparts(r, lf, lt, err) != 0 || mk_counterparts_of_people(r, pf, pt, err) != 0)
            return -1;
        lf = lt;
        pf = pt;
    }
    /* Everyone by id: a person the lookups no longer find (deleted) is
     * still asked about, and so is the Contact a Lead became. */
    hmap seen_leads = {0};
    strlist pids = {0};
    int64_t *lids = calloc(r->n_leads + n_leads + 1, sizeof *lids);
    size_t nl = 0;
    int rc = -1;
    if (!lids || hmap_init(&seen_leads, r->n_leads + n_leads) || strset_init(&pids.seen, 64)) {
        oom(err);
        goto out;
    }
    for (size_t i = 0; i < r->n_leads + n_leads; i++) {
        lids[nl] = i < r->n_leads ? r->out->leads[i].id : leads[i - r->n_leads];
        int put = hmap_put(&seen_leads, &lids[nl], sizeof lids[nl], 0, NULL);
        if (put < 0) {
            oom(err);
            goto out;
        }
        nl += put == 0;
    }
    for (size_t i = 0; i < r->n_people + n_people; i++) {
        const people_sf_person *ps = i < r->n_people ? &r->out->sf_people[i] : NULL;
        const char *ids[2] = {ps ? ps->id : keep(r, people[i - r->n_people]),
                              ps && ps->is_converted ? ps->converted_contact_id : NULL};
        for (int k = 0; k < 2; k++)
            if (ids[k] && ids[k][0] && strlist_add(&pids, ids[k]) < 0) {
                oom(err);
                goto out;
            }
    }
    if (r->oom || !(r->out->people_read = calloc(pids.v.n + 1, sizeof *r->out->people_read))) {
        oom(err);
        goto out;
    }
    for (size_t i = 0; i < pids.v.n; i++)
        r->out->people_read[r->out->n_people_read++] = pids.v.v[i];
    Campsync__V1__StreamProgramMembersRequest mq =
        CAMPSYNC__V1__STREAM_PROGRAM_MEMBERS_REQUEST__INIT;
    mq.program_id = p->program_id;
    mq.lead_ids = lids;
    mq.n_lead_ids = nl;
    Campsync__V1__StreamCampaignMembersRequest sq =
        CAMPSYNC__V1__STREAM_CAMPAIGN_MEMBERS_REQUEST__INIT;
    sq.campaign_id = (char *)p->campaign_id;
    sq.person_ids = r->out->people_read;
    sq.n_person_ids = r->out->n_people_read;
    if ((nl == 0 || stream_all(r, true, &mq.base, err) == 0) &&
        (sq.n_person_ids == 0 || stream_all(r, false, &sq.base, err) == 0))
        rc = 0;
out:
    hmap_free(&seen_leads);
    strlist_free(&pids);
    free(lids);
    return rc;
}

static void build_input(reader *r)
{
    rc_read *o = r->out;
    o->people = (people_input){o->leads,        r->n_leads,      o->sf_people,  r->n_people,
                               o->mkto_members, r->n_mk_members, o->sf_members, r->n_sf_members};
}

static int read_any(rc_svc *s, rpc_call *parent, const rc_pair *p, const int64_t *leads,
                    size_t n_leads, char *const *people, size_t n_people, bool partial,
                    rc_read *out, rc_err *err)
{
    memset(out, 0, sizeof *out);
    out->partial = partial;
    reader r = {.s = s, .parent = parent, .out = out, .partial = partial};
    int rc = -1;
    if (hmap_init(&r.lead_ids, 1024) || strset_init(&r.sf_ids, 1024) ||
        strset_init(&r.sf_emails, 1024) || strset_init(&r.mk_emails, 1024) ||
        strset_init(&r.mk_links, 1024) || strset_init(&r.member_ids, partial ? 1024 : 1)) {
        oom(err);
        goto out;
    }
    if (partial ? read_partial(&r, p, leads, n_leads, people, n_people, err) == 0
                : read_members(&r, p, err) == 0 && read_people(&r, err) == 0) {
        build_input(&r);
        rc = 0;
    }
out:
    free(r.sf_by_contact);
    strpool_free(&r.keys);
    hmap_free(&r.lead_ids);
    strset_free(&r.sf_ids);
    strset_free(&r.sf_emails);
    strset_free(&r.mk_emails);
    strset_free(&r.mk_links);
    strset_free(&r.member_ids);
    if (rc != 0)
        rc_read_free(out);
    return rc;
}

int rc_read_pair(rc_svc *s, rpc_call *parent, const rc_pair *p, rc_read *out, rc_err *err)
{
    return read_any(s, parent, p, NULL, 0, NULL, 0, false, out, err);
}

int rc_read_people(rc_svc *s, rpc_call *parent, const rc_pair *p, const int64_t *leads,
                   size_t n_leads, char *const *people, size_t n_people, rc_read *out, rc_err *err)
{
    return read_any(s, parent, p, leads, n_leads, people, n_people, true, out, err);
}

void rc_read_free(rc_read *r)
{
    free(r->people_read); /* its strings are in the pool */
    free(r->leads);
    free(r->sf_people);
    free(r->mkto_members);
    free(r->sf_members);
    strpool_free(&r->strings);
    memset(r, 0, sizeof *r);
}
