/*
 * The whole campsync sync path under faults (issue 8, "run it for real"):
 * redis-server (append-only), the vendor sandbox with a generated dataset of
 * tens of thousands of people, both connectors and the reconciler, each a
 * real process. Round after round, people are changed on both sides through
 * the sandbox's admin API (as users would), the sandbox injects 10% faults
 * and expires every token, a cycle starts, and in the middle of it one part
 * is killed with SIGKILL and restarted: the reconciler, the Marketo
 * connector, the Salesforce connector, Redis. Then clean cycles run until a
 * cycle changes nothing, and the test asserts what a user relies on:
 *
 *   - both sides equal: every member of each linked pair, with its status,
 *     matched the way SPEC C5 matches people (people who cannot be matched,
 *     having no email, are counted and exempt);
 *   - nobody duplicated: no person twice in a campaign or program, no
 *     email on more Marketo leads or Salesforce Leads than it started with;
 *   - every change to a campaign's membership produced exactly one event:
 *     for each person, the campaign's events (WatchEvents from "0") must
 *     form a chain of possible steps (an add of a non-member, a removal of
 *     a member, a status change from the member's current status) from the
 *     person's membership before the first cycle to the final one, in the
 *     stream's own order (a subscriber replaying it ends at the right
 *     status); a lost event, a repeated one or a wrong old status breaks the
 *     chain, and the report tells a broken chain from a wrong order;
 *   - every cycle record tells the truth: a final status, a message on
 *     Failed and Incomplete, no failures in Succeeded, fencing tokens rising,
 *     and for each Succeeded cycle the test ran with nothing else writing,
 *     counts equal to what changed on the vendors (new = members added on
 *     either side + people created; updated = statuses changed; deleted =
 *     members removed).
 *
 * Size: 25,000 people, 20,000 members per program, one linked pair (a full
 * read of the pair needs ~100 Marketo calls, a whole 20 s rate window, so
 * the run takes ~5 min); CAMPSYNC_SYSTEM_PEOPLE,
 * CAMPSYNC_SYSTEM_MEMBERS, CAMPSYNC_SYSTEM_PAIRS, CAMPSYNC_SYSTEM_CHANGES
 * override; under the sanitizers (CAMPSYNC_SANITIZE_BUILD=1, set by
 * system.cmake) 3,000 / 2,000. CAMPSYNC_SYSTEM_LOG_DIR=<dir> keeps the
 * services' logs and, on an event failure, the events and user changes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "campsync/v1/reconciler.pb-c.h"
#include "rpc/rpc_client.h"
#include "ts_stack.h"

#define SVC (&campsync__v1__membership_reconciler__descriptor)
#define MAX_PAIRS 4
#define EVENTS_STREAM "campsync:{events}:stream"

/* ---- size ---- */

typedef struct {
    int people, members, changes, pairs;
} sx_scale;

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && atoi(v) > 0 ? atoi(v) : def;
}

static sx_scale scale_from_env(void)
{
    const char *san = getenv("CAMPSYNC_SANITIZE_BUILD");
    bool small = san && strcmp(san, "1") == 0;
    sx_scale s = {
        .people = small ? 3000 : 25000, .members = small ? 2000 : 20000, .changes = 40, .pairs = 1};
    s.people = env_int("CAMPSYNC_SYSTEM_PEOPLE", s.people);
    s.members = env_int("CAMPSYNC_SYSTEM_MEMBERS", s.members);
    s.changes = env_int("CAMPSYNC_SYSTEM_CHANGES", s.changes);
    s.pairs = env_int("CAMPSYNC_SYSTEM_PAIRS", s.pairs);
    if (s.pairs > MAX_PAIRS)
        s.pairs = MAX_PAIRS;
    return s;
}

/* ---- small helpers ---- */

static long long t_start;

/* Progress lines, stamped with the seconds since the stack started. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%6.1f s] system: ", (double)(ts_now_ms() - t_start) / 1000.0);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Trimmed, lower-cased email (C5 matches emails case-insensitively). */
static void norm_email(const char *in, char *out, size_t cap)
{
    while (*in && isspace((unsigned char)*in))
        in++;
    size_t n = 0;
    for (; *in && n + 1 < cap; in++)
        out[n++] = (char)tolower((unsigned char)*in);
    while (n > 0 && isspace((unsigned char)out[n - 1]))
        n--;
    out[n] = '\0';
}

static void count_up(json_t *counts, const char *key)
{
    json_t *v = json_object_get(counts, key);
    json_object_set_new(counts, key, json_integer(v ? json_integer_value(v) + 1 : 1));
}

static long long count_of(json_t *counts, const char *key)
{
    return (long long)json_integer_value(json_object_get(counts, key));
}

/* Keeps the smallest id per email. */
static void keep_smallest(json_t *map, const char *email, const char *id)
{
    const char *cur = json_string_value(json_object_get(map, email));
    if (!cur || strcmp(id, cur) < 0)
        json_object_set_new(map, email, json_string(id));
}

/* ---- the vendors' state, indexed ---- */

typedef struct {
    json_t *st;         /* owned: GET /admin/state */
    json_t *mk_lead;    /* "<lead id>" -> lead */
    json_t *mk_email_n; /* email -> number of Marketo leads */
    json_t *mk_linked;  /* Salesforce id -> "<lead id>" linked to it */
    json_t *sf_rec;     /* id -> Lead or Contact (not deleted) */
    json_t *sf_contact; /* email -> smallest Contact id (not deleted) */
    json_t *sf_lead;    /* email -> smallest unconverted Lead id */
    json_t *sf_lead_n;  /* email -> number of unconverted Leads */
    json_t *mk_members; /* "<program>" -> {"<lead>": status} */
    json_t *sf_members; /* campaign -> {person: status} */
    json_t *channel_of; /* "<program>" -> channel name */
    long long n_mk_leads, n_sf_leads;
    int dup_members; /* membership rows seen twice */
} sx_index;

static void index_free(sx_index *ix)
{
    json_t **all[] = {&ix->st,         &ix->mk_lead,    &ix->mk_email_n, &ix->mk_linked,
                      &ix->sf_rec,     &ix->sf_contact, &ix->sf_lead,    &ix->sf_lead_n,
                      &ix->mk_members, &ix->sf_members, &ix->channel_of};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        json_decref(*all[i]);
        *all[i] = NULL;
    }
}

static json_t *sub(json_t *map, const char *key)
{
    json_t *o = json_object_get(map, key);
    if (!o) {
        o = json_object();
        json_object_set_new(map, key, o);
    }
    return o;
}

static const char *member_person(json_t *cm)
{
    return jstr(cm, "ContactId")[0] ? jstr(cm, "ContactId") : jstr(cm, "LeadId");
}

static int index_load(ts_stack *s, sx_index *ix)
{
    memset(ix, 0, sizeof *ix);
    ix->st = ts_admin(s, "GET", "/admin/state", NULL, NULL);
    if (!ix->st)
        return -1;
    ix->mk_lead = json_object();
    ix->mk_email_n = json_object();
    ix->mk_linked = json_object();
    ix->sf_rec = json_object();
    ix->sf_contact = json_object();
    ix->sf_lead = json_object();
    ix->sf_lead_n = json_object();
    ix->mk_members = json_object();
    ix->sf_members = json_object();
    ix->channel_of = json_object();
    json_t *mk = json_object_get(ix->st, "marketo");
    json_t *recs = json_object_get(json_object_get(ix->st, "salesforce"), "records");
    size_t i;
    json_t *v;
    char key[64], email[256];
    json_array_foreach(json_object_get(mk, "leads"), i, v)
    {
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(v, "id")));
        json_object_set(ix->mk_lead, key, v);
        ix->n_mk_leads++;
        norm_email(jstr(v, "email"), email, sizeof email);
        if (email[0])
            count_up(ix->mk_email_n, email);
        if (jstr(v, "sfdcContactId")[0])
            json_object_set_new(ix->mk_linked, jstr(v, "sfdcContactId"), json_string(key));
        if (jstr(v, "sfdcLeadId")[0])
            json_object_set_new(ix->mk_linked, jstr(v, "sfdcLeadId"), json_string(key));
    }
    json_array_foreach(json_object_get(mk, "programs"), i, v)
    {
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(v, "id")));
        json_object_set_new(ix->channel_of, key, json_string(jstr(v, "channel")));
    }
    json_array_foreach(json_object_get(mk, "members"), i, v)
    {
        snprintf(key, sizeof key, "%lld",
                 (long long)json_integer_value(json_object_get(v, "programId")));
        json_t *prog = sub(ix->mk_members, key);
        snprintf(key, sizeof key, "%lld",
                 (long long)json_integer_value(json_object_get(v, "leadId")));
        if (json_object_get(prog, key))
            ix->dup_members++;
        json_object_set_new(prog, key, json_string(jstr(v, "statusName")));
    }
    const char *types[] = {"Contact", "Lead"};
    for (int t = 0; t < 2; t++) {
        json_array_foreach(json_object_get(recs, types[t]), i, v)
        {
            if (json_is_true(json_object_get(v, "IsDeleted")))
                continue;
            const char *id = jstr(v, "Id");
            json_object_set(ix->sf_rec, id, v);
            norm_email(jstr(v, "Email"), email, sizeof email);
            if (t == 1)
                ix->n_sf_leads++;
            if (!email[0] || json_is_true(json_object_get(v, "IsConverted")))
                continue;
            keep_smallest(t == 0 ? ix->sf_contact : ix->sf_lead, email, id);
            if (t == 1)
                count_up(ix->sf_lead_n, email);
        }
    }
    json_array_foreach(json_object_get(recs, "CampaignMember"), i, v)
    {
        if (json_is_true(json_object_get(v, "IsDeleted")))
            continue;
        json_t *camp = sub(ix->sf_members, jstr(v, "CampaignId"));
        const char *p = member_person(v);
        if (json_object_get(camp, p))
            ix->dup_members++;
        json_object_set_new(camp, p, json_string(jstr(v, "Status")));
    }
    return 0;
}

/* The Salesforce person of a Marketo lead as C5 matches it: the linked
 * Contact, the linked Lead (its Contact once converted), else a Contact then
 * an unconverted Lead with the same email (smallest id). NULL when none. */
static const char *person_of(const sx_index *ix, const char *lead_key)
{
    json_t *l = json_object_get(ix->mk_lead, lead_key);
    if (!l)
        return NULL;
    const char *c = jstr(l, "sfdcContactId");
    if (c[0] && json_object_get(ix->sf_rec, c))
        return c;
    const char *ld = jstr(l, "sfdcLeadId");
    json_t *r = ld[0] ? json_object_get(ix->sf_rec, ld) : NULL;
    if (r) {
        if (json_is_true(json_object_get(r, "IsConverted")) && jstr(r, "ConvertedContactId")[0])
            return jstr(r, "ConvertedContactId");
        return ld;
    }
    char email[256];
    norm_email(jstr(l, "email"), email, sizeof email);
    if (!email[0])
        return NULL;
    const char *p = json_string_value(json_object_get(ix->sf_contact, email));
    return p ? p : json_string_value(json_object_get(ix->sf_lead, email));
}

static json_t *program_members(const sx_index *ix, long long program)
{
    char key[32];
    snprintf(key, sizeof key, "%lld", program);
    return json_object_get(ix->mk_members, key);
}

/* ---- assertions on the state ---- */

typedef struct {
    long long program;
    char campaign[24];
} sx_pair;

/* Both sides of a pair hold the same people with the same statuses. Returns
 * the number of differences (the first ones printed); *exempt gets the
 * people nobody can match (no email). */
static int pair_differences(const sx_index *ix, const sx_pair *p, int *exempt, int *members)
{
    json_t *mk = program_members(ix, p->program);
    json_t *sf = json_object_get(ix->sf_members, p->campaign);
    json_t *seen = json_object();
    int diff = 0;
    *exempt = 0;
    *members = (int)json_object_size(mk);
    const char *lead;
    json_t *st;
    json_object_foreach(mk, lead, st)
    {
        const char *person = person_of(ix, lead);
        char email[256];
        norm_email(jstr(json_object_get(ix->mk_lead, lead), "email"), email, sizeof email);
        if (!person) {
            if (email[0] && diff++ < 10)
                fprintf(stderr, "pair %lld: lead %s (%s) has no Salesforce person\n", p->program,
                        lead, email);
            *exempt += !email[0];
            continue;
        }
        json_object_set_new(seen, person, json_true());
        const char *sfst = json_string_value(json_object_get(sf, person));
        if (!sfst || strcmp(sfst, json_string_value(st)) != 0) {
            if (diff++ < 10)
                fprintf(stderr, "pair %lld: lead %s is \"%s\" in Marketo, %s is \"%s\" in %s\n",
                        p->program, lead, json_string_value(st), person, sfst ? sfst : "(none)",
                        p->campaign);
        }
    }
    json_object_foreach(sf, lead, st)
    {
        if (json_object_get(seen, lead))
            continue;
        char email[256];
        norm_email(jstr(json_object_get(ix->sf_rec, lead), "Email"), email, sizeof email);
        if (!email[0] && !json_object_get(ix->mk_linked, lead)) {
            (*exempt)++;
            continue;
        }
        if (diff++ < 10)
            fprintf(stderr, "pair %lld: %s is \"%s\" in %s but in no Marketo membership\n",
                    p->program, lead, json_string_value(st), p->campaign);
    }
    json_decref(seen);
    return diff;
}

/* Emails on more Marketo leads or Salesforce Leads than at the start. */
static int grown_duplicates(const sx_index *start, const sx_index *now)
{
    int n = 0;
    json_t *maps[2][2] = {{start->mk_email_n, now->mk_email_n}, {start->sf_lead_n, now->sf_lead_n}};
    for (int m = 0; m < 2; m++) {
        const char *email;
        json_t *v;
        json_object_foreach(maps[m][1], email, v)
        {
            long long was = count_of(maps[m][0], email), is = json_integer_value(v);
            if (is > 1 && is > was) {
                if (n++ < 10)
                    fprintf(stderr, "%s: %lld %s for email %s (was %lld)\n",
                            m ? "Salesforce" : "Marketo", is, m ? "Leads" : "leads", email, was);
            }
        }
    }
    return n;
}

/* What changed on the vendors between two states, in cycle-record terms. */
typedef struct {
    long long new_, updated, deleted;
} sx_delta;

static void member_delta(json_t *a, json_t *b, sx_delta *d)
{
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v)
    {
        const char *was = json_string_value(json_object_get(a, k));
        if (!was)
            d->new_++;
        else if (strcmp(was, json_string_value(v)) != 0)
            d->updated++;
    }
    json_object_foreach(a, k, v)
    {
        if (!json_object_get(b, k))
            d->deleted++;
    }
}

static sx_delta pair_delta(const sx_index *a, const sx_index *b, const sx_pair *p)
{
    sx_delta d = {0};
    member_delta(program_members(a, p->program), program_members(b, p->program), &d);
    member_delta(json_object_get(a->sf_members, p->campaign),
                 json_object_get(b->sf_members, p->campaign), &d);
    d.new_ += (b->n_mk_leads - a->n_mk_leads) + (b->n_sf_leads - a->n_sf_leads);
    return d;
}

/* ---- the stack ---- */

static ts_stack *stack;
static rpc_client *rc;
static sx_pair pairs[MAX_PAIRS];
static int n_pairs;
static sx_index start_ix;       /* before the first cycle */
static json_t *checked_records; /* cycle id -> true: counts checked against the vendors */
static json_t *user_log;        /* every user change made, in order (for a post-mortem) */
static int cur_round = -1;      /* the fault round running (-1 before, 99 after) */
static sx_index fin_ix;         /* after convergence (freed by teardown, even on failure) */
static json_t *all_events;      /* the whole event stream, likewise */

static int sync_once(long long program, Campsync__V1__CycleRecord **rec, rpc_error *err);
static void assert_alive(const char *when);

static int unary(const char *method, const ProtobufCMessage *rq, ProtobufCMessage **out,
                 rpc_error *err)
{
    memset(err, 0, sizeof *err);
    *out = NULL;
    return rpc_client_unary(rc, SVC, method, rq, out, NULL, err);
}

static int setup(void **state)
{
    (void)state;
    sx_scale sc = scale_from_env();
    char gen[128];
    snprintf(gen, sizeof gen, "people=%d,programs=2,members=%d,seed=11", sc.people, sc.members);
    /* On-demand cycles only, so every cycle is one the test started. The
     * lock outlives a wait for Marketo's 20 s rate window (a shorter one
     * lapses inside a connector call); a killed reconciler's lock lapses
     * after it. One connector replica may use all of Marketo's limits. */
    static const char *const env[] = {
        "CAMPSYNC_SYNC_INTERVAL_MS=0",        "CAMPSYNC_LOCK_TTL_MS=30s",
        "CAMPSYNC_CONNECTOR_TIMEOUT_MS=60s",  "CAMPSYNC_MARKETO_CALLS_PER_20S=100",
        "CAMPSYNC_MARKETO_MAX_CONCURRENT=10", NULL};
    ts_stack_opts o = {.generate = gen,
                       .seed = 11,
                       .services = (1u << TS_SVC_MARKETO) | (1u << TS_SVC_SALESFORCE) |
                                   (1u << TS_SVC_RECONCILER),
                       .env = env,
                       .redis_appendonly = 1};
    long long t0 = ts_now_ms();
    t_start = t0;
    stack = ts_stack_start(&o);
    if (!stack)
        return -1;
    say("%s, stack up in %lld ms (in %s)\n", gen, ts_now_ms() - t0, stack->dir);
    rpc_client_opts co = {.default_timeout_ms = 300000, .max_message_bytes = 64u << 20};
    rpc_error err = {0};
    rc = rpc_client_get(stack->target[TS_SVC_RECONCILER], &co, &err);
    checked_records = json_object();
    user_log = json_array();
    return rc ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rpc_client_cleanup();
    /* The services' logs, for a post-mortem, where asked. */
    const char *keep = getenv("CAMPSYNC_SYSTEM_LOG_DIR");
    if (stack && keep && keep[0]) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/*.stderr '%s'/", keep, stack->dir,
                 keep);
        if (system(cmd) != 0)
            fprintf(stderr, "could not copy the logs to %s\n", keep);
    }
    ts_stack_free(stack);
    index_free(&start_ix);
    json_decref(checked_records);
    json_decref(user_log);
    index_free(&fin_ix);
    json_decref(all_events);
    return 0;
}

/* Links every program the generator linked (sfdcId) through the reconciler. */
static void link_pairs(void)
{
    assert_int_equal(index_load(stack, &start_ix), 0);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(json_object_get(start_ix.st, "marketo"), "programs"), i, p)
    {
        if (!jstr(p, "sfdcId")[0] || n_pairs == scale_from_env().pairs)
            continue;
        sx_pair *x = &pairs[n_pairs++];
        x->program = (long long)json_integer_value(json_object_get(p, "id"));
        snprintf(x->campaign, sizeof x->campaign, "%s", jstr(p, "sfdcId"));
        Campsync__V1__LinkRequest rq = CAMPSYNC__V1__LINK_REQUEST__INIT;
        rq.program_id = x->program;
        rq.campaign_id = x->campaign;
        ProtobufCMessage *out = NULL;
        rpc_error err;
        int code = unary("Link", &rq.base, &out, &err);
        if (code != 0)
            fprintf(stderr, "Link %lld -> %s: %s\n", x->program, x->campaign, err.message);
        assert_int_equal(code, 0);
        protobuf_c_message_free_unpacked(out, NULL);
        say("pair %lld <-> %s: %zu Marketo members, %zu campaign members\n", x->program,
            x->campaign, json_object_size(program_members(&start_ix, x->program)),
            json_object_size(json_object_get(start_ix.sf_members, x->campaign)));
    }
    assert_true(n_pairs >= 1);
}

/* ---- cycles ---- */

/* A SyncNow run on its own thread, so the main thread can kill things while
 * it is in a given phase. */
typedef struct {
    long long program;
    atomic_int phase; /* 0 none, 1 lock, 2 read, 3 plan, 4 apply, 5 ended */
    int code;
    rpc_error err;
    Campsync__V1__CycleRecord *rec;
    pthread_t th;
} sx_sync;

static int phase_num(const char *ph)
{
    static const char *const names[] = {"lock", "read", "plan", "apply"};
    for (int i = 0; i < 4; i++)
        if (strcmp(ph, names[i]) == 0)
            return i + 1;
    return 0;
}

static int sync_attempt(sx_sync *x, const Campsync__V1__SyncRequest *rq, const rpc_call_opts *o)
{
    rpc_stream *s = NULL;
    int code = rpc_stream_open(rc, SVC, "SyncNow", &rq->base, o, &s, &x->err);
    if (code == 0) {
        ProtobufCMessage *m = NULL;
        int n;
        while ((n = rpc_stream_next(s, &m, &x->err)) == 1) {
            Campsync__V1__SyncProgress *p = (void *)m;
            int ph = phase_num(p->phase ? p->phase : "");
            if (ph > atomic_load(&x->phase))
                atomic_store(&x->phase, ph);
            if (p->record) {
                if (x->rec)
                    campsync__v1__cycle_record__free_unpacked(x->rec, NULL);
                x->rec = p->record;
                p->record = NULL;
            }
            protobuf_c_message_free_unpacked(m, NULL);
        }
        rpc_stream_close(s);
        if (n < 0)
            code = x->err.code ? x->err.code : GRPC_STATUS_UNKNOWN;
        else if (!x->rec)
            code = GRPC_STATUS_INTERNAL;
    }
    return code;
}

static void *sync_thread(void *arg)
{
    sx_sync *x = arg;
    Campsync__V1__SyncRequest rq = CAMPSYNC__V1__SYNC_REQUEST__INIT;
    rq.program_id = x->program;
    rpc_call_opts o = {.timeout_ms = 240000};
    long long until = ts_now_ms() + 60000;
    for (;;) {
        x->code = sync_attempt(x, &rq, &o);
        /* A killed reconciler's lock stays until it lapses: wait for it. */
        if (x->code != GRPC_STATUS_UNAVAILABLE || !strstr(x->err.message, "already running") ||
            ts_now_ms() > until)
            break;
        ts_sleep_ms(500);
    }
    atomic_store(&x->phase, 5);
    return NULL;
}

static int sync_once(long long program, Campsync__V1__CycleRecord **rec, rpc_error *err)
{
    sx_sync x = {.program = program};
    sync_thread(&x);
    *rec = x.rec;
    *err = x.err;
    return x.code;
}

static void print_record(const char *what, const Campsync__V1__CycleRecord *r)
{
    fprintf(stderr,
            "system: %s: cycle %s %s new %d updated %d deleted %d failed %d skipped %d "
            "conflicts %d backwards %d calls mk %d sf %d%s%s\n",
            what, r->id, r->status, r->counts ? r->counts->new_ : -1,
            r->counts ? r->counts->updated : -1, r->counts ? r->counts->deleted : -1,
            r->counts ? r->counts->failed : -1, r->counts ? r->counts->skipped : -1, r->conflicts,
            r->rejected_backwards, r->api_calls_marketo, r->api_calls_salesforce,
            r->message && r->message[0] ? " message: " : "", r->message ? r->message : "");
}

/* A Succeeded cycle that ran alone: its counts must be what changed. */
static void check_counts(const Campsync__V1__CycleRecord *r, const sx_index *before,
                         const sx_index *after, const sx_pair *p)
{
    if (strcmp(r->status, "Succeeded") != 0)
        return;
    sx_delta d = pair_delta(before, after, p);
    if (d.new_ != r->counts->new_ || d.updated != r->counts->updated ||
        d.deleted != r->counts->deleted)
        fprintf(stderr,
                "cycle %s of %lld: record says new %d updated %d deleted %d; the vendors "
                "changed new %lld updated %lld deleted %lld\n",
                r->id, p->program, r->counts->new_, r->counts->updated, r->counts->deleted, d.new_,
                d.updated, d.deleted);
    assert_int_equal(r->counts->new_, d.new_);
    assert_int_equal(r->counts->updated, d.updated);
    assert_int_equal(r->counts->deleted, d.deleted);
    json_object_set_new(checked_records, r->id, json_true());
}

/* Clean cycles of every pair until each one has a Succeeded cycle that
 * changed nothing; the counts of every Succeeded one are checked. */
static void converge(const char *why)
{
    bool done[MAX_PAIRS] = {0};
    for (int round = 0; round < 8; round++) {
        int left = 0;
        for (int i = 0; i < n_pairs; i++) {
            if (done[i])
                continue;
            sx_index before, after;
            assert_int_equal(index_load(stack, &before), 0);
            Campsync__V1__CycleRecord *r = NULL;
            rpc_error err;
            long long t0 = ts_now_ms();
            int code = sync_once(pairs[i].program, &r, &err);
            long long ms = ts_now_ms() - t0;
            if (code != 0) {
                /* e.g. the lock of a killed reconciler not yet lapsed */
                say("%s: SyncNow %lld -> %s: %s\n", why, pairs[i].program, rpc_status_name(code),
                    err.message);
                index_free(&before);
                assert_alive(why);
                ts_sleep_ms(1000);
                left++;
                continue;
            }
            assert_int_equal(index_load(stack, &after), 0);
            char what[96];
            snprintf(what, sizeof what, "%s, pair %lld, %lld ms", why, pairs[i].program, ms);
            print_record(what, r);
            check_counts(r, &before, &after, &pairs[i]);
            if (strcmp(r->status, "Succeeded") == 0 && r->counts->new_ == 0 &&
                r->counts->updated == 0 && r->counts->deleted == 0)
                done[i] = true;
            else
                left++;
            campsync__v1__cycle_record__free_unpacked(r, NULL);
            index_free(&before);
            index_free(&after);
        }
        if (!left)
            return;
    }
    fail_msg("%s: the pairs did not converge in 8 clean rounds", why);
}

/* ---- users changing things ---- */

static int admin_post(const char *path, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    int status = 0;
    json_t *r = ts_admin(stack, "POST", path, text, &status);
    if (status != 200)
        say("%s %s -> %d %s\n", path, text, status,
            r ? json_string_value(json_object_get(r, "error")) : "");
    free(text);
    json_decref(r);
    return status == 200 ? 0 : -1;
}

/* Keys of an object, for picking at random. */
static size_t keys_of(json_t *o, const char ***out)
{
    size_t n = json_object_size(o), k = 0;
    const char **v = calloc(n + 1, sizeof *v);
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val)
    {
        v[k++] = key;
    }
    *out = v;
    return k;
}

/* The channel's statuses of a program, "Not in Program" excluded, by step. */
static size_t statuses_of(const sx_index *ix, long long program, const char **names, int *steps,
                          size_t cap)
{
    char key[32];
    snprintf(key, sizeof key, "%lld", program);
    const char *channel = json_string_value(json_object_get(ix->channel_of, key));
    size_t i, k, n = 0;
    json_t *c, *s;
    json_array_foreach(json_object_get(json_object_get(ix->st, "marketo"), "channels"), i, c)
    {
        if (!channel || strcmp(jstr(c, "name"), channel) != 0)
            continue;
        json_array_foreach(json_object_get(c, "progressionStatuses"), k, s)
        {
            int step = (int)json_integer_value(json_object_get(s, "step"));
            if (step > 0 && n < cap) {
                names[n] = jstr(s, "name");
                steps[n++] = step;
            }
        }
    }
    return n;
}

static int step_of(const char **names, const int *steps, size_t n, const char *status)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], status) == 0)
            return steps[i];
    return -1;
}

/* `changes` user edits per side of a pair: status changes (Marketo forward
 * only, as its API allows; Salesforce any direction, so some are moves
 * backwards that C4 rejects), removals and additions. Each person is
 * touched at most once per round. */
static void user_changes(const sx_pair *p, int changes)
{
    sx_index ix;
    assert_int_equal(index_load(stack, &ix), 0);
    const char *names[16];
    int steps[16];
    size_t ns = statuses_of(&ix, p->program, names, steps, 16);
    assert_true(ns >= 2);
    json_t *used = json_object();
    const char **mk, **sf, **leads, **people;
    size_t nmk = keys_of(program_members(&ix, p->program), &mk);
    size_t nsf = keys_of(json_object_get(ix.sf_members, p->campaign), &sf);
    size_t nl = keys_of(ix.mk_lead, &leads), np = keys_of(ix.sf_rec, &people);
    int done = 0, fails = 0;
    char pid[32];
    snprintf(pid, sizeof pid, "%lld", p->program);
    for (int k = 0; k < changes * 8 && done < changes * 2; k++) {
        int kind = (int)(rnd() % 6);
        const char *lead = NULL, *person = NULL;
        json_t *body = NULL;
        const char *path = NULL;
        if (kind < 3) { /* Marketo: status forward, remove, add */
            lead = kind < 2 ? mk[rnd() % nmk] : leads[rnd() % nl];
            person = person_of(&ix, lead);
            const char *cur =
                json_string_value(json_object_get(program_members(&ix, p->program), lead));
            if (json_object_get(used, lead) || (person && json_object_get(used, person)))
                continue;
            long long lid = atoll(lead);
            if (kind == 0) {
                int st = step_of(names, steps, ns, cur ? cur : "");
                size_t up[16], nu = 0;
                for (size_t i = 0; i < ns; i++)
                    if (steps[i] > st)
                        up[nu++] = i;
                if (!cur || !nu)
                    continue;
                path = "/admin/marketo/change_member_status";
                body = json_pack("{s:I,s:I,s:s}", "programId", (json_int_t)p->program, "leadId",
                                 (json_int_t)lid, "statusName", names[up[rnd() % nu]]);
            } else if (kind == 1) {
                path = "/admin/marketo/remove_member";
                body = json_pack("{s:I,s:I}", "programId", (json_int_t)p->program, "leadId",
                                 (json_int_t)lid);
            } else {
                if (cur || !jstr(json_object_get(ix.mk_lead, lead), "email")[0])
                    continue;
                path = "/admin/marketo/add_member";
                body = json_pack("{s:I,s:I,s:s}", "programId", (json_int_t)p->program, "leadId",
                                 (json_int_t)lid, "statusName", names[rnd() % ns]);
            }
        } else { /* Salesforce: status any way, remove, add */
            person = kind < 5 ? sf[rnd() % nsf] : people[rnd() % np];
            json_t *camp = json_object_get(ix.sf_members, p->campaign);
            const char *cur = json_string_value(json_object_get(camp, person));
            json_t *rec = json_object_get(ix.sf_rec, person);
            if (json_object_get(used, person) ||
                (json_object_get(ix.mk_linked, person) &&
                 json_object_get(used, json_string_value(json_object_get(ix.mk_linked, person)))))
                continue;
            const char *field = strncmp(person, "003", 3) == 0 ? "ContactId" : "LeadId";
            if (kind == 3) {
                const char *to = names[rnd() % ns];
                if (!cur || strcmp(to, cur) == 0)
                    continue;
                path = "/admin/salesforce/set_member_status";
                body = json_pack("{s:s,s:s,s:s}", "CampaignId", p->campaign, field, person,
                                 "Status", to);
            } else if (kind == 4) {
                path = "/admin/salesforce/remove_member";
                body = json_pack("{s:s,s:s}", "CampaignId", p->campaign, field, person);
            } else {
                if (cur || !rec || !jstr(rec, "Email")[0] ||
                    json_is_true(json_object_get(rec, "IsConverted")))
                    continue;
                path = "/admin/salesforce/add_member";
                body = json_pack("{s:s,s:s,s:s}", "CampaignId", p->campaign, field, person,
                                 "Status", names[rnd() % ns]);
            }
        }
        json_array_append_new(
            user_log, json_pack("{s:s,s:O,s:i}", "path", path, "body", body, "round", cur_round));
        if (admin_post(path, body) != 0)
            fails++;
        if (lead)
            json_object_set_new(used, lead, json_true());
        if (person)
            json_object_set_new(used, person, json_true());
        done++;
    }
    assert_int_equal(fails, 0);
    assert_true(done >= changes);
    free(mk);
    free(sf);
    free(leads);
    free(people);
    json_decref(used);
    index_free(&ix);
}

/* ---- killing things ---- */

/* Nothing dies but what the test kills: a service that exited on its own
 * (a crash) fails the test with the end of its log. */
static void assert_alive(const char *when)
{
    static const char *const names[] = {"campsync-marketo", "campsync-salesforce",
                                        "campsync-reconciler"};
    for (int i = 0; i <= TS_SVC_RECONCILER; i++) {
        if (!stack->svc[i] || ts_proc_running(stack->svc[i]))
            continue;
        int status = 0;
        ts_proc_wait(stack->svc[i], 0, &status);
        fprintf(stderr, "%s: %s exited by itself (wait status 0x%x); its log ends:\n", when,
                names[i], status);
        ts_proc_dump_stderr(stack->svc[i], 6000);
        fail_msg("%s died %s", names[i], when);
    }
    assert_non_null(ts_redis_proc(stack->redis));
    assert_true(ts_proc_running(ts_redis_proc(stack->redis)));
}

typedef enum { V_RECONCILER, V_MARKETO, V_SALESFORCE, V_REDIS } sx_victim;

static const char *const victim_name[] = {"reconciler", "marketo connector", "salesforce connector",
                                          "redis"};

static void kill_and_restart(sx_victim v)
{
    if (v == V_REDIS) {
        assert_int_equal(ts_redis_kill(stack->redis), 0);
        ts_sleep_ms(300);
        assert_int_equal(ts_redis_restart(stack->redis), 0);
        return;
    }
    ts_svc svc = v == V_RECONCILER ? TS_SVC_RECONCILER
                 : v == V_MARKETO  ? TS_SVC_MARKETO
                                   : TS_SVC_SALESFORCE;
    ts_proc_signal(stack->svc[svc], SIGKILL);
    assert_int_equal(ts_proc_wait(stack->svc[svc], 10000, NULL), 0);
    ts_sleep_ms(200);
    assert_int_equal(ts_stack_start_service(stack, svc, NULL), 0);
}

static void set_faults(int seed)
{
    assert_int_equal(
        admin_post("/admin/faults", json_pack("{s:s,s:f,s:f,s:i}", "vendor", "all", "transient",
                                              0.05, "server_error", 0.05, "seed", seed)),
        0);
}

static void clear_faults(void)
{
    int status = 0;
    json_decref(ts_admin(stack, "DELETE", "/admin/faults", NULL, &status));
    assert_int_equal(status, 200);
}

/* One round: users change both sides, faults on, tokens expired, a cycle of
 * every pair starts, the victim dies during `kill_phase` and comes back,
 * the cycles end however they end (a dead reconciler's stream breaks). */
static void fault_round(int round, sx_victim v, int kill_phase, int changes)
{
    cur_round = round;
    for (int i = 0; i < n_pairs; i++)
        user_changes(&pairs[i], changes);
    set_faults(100 + round);
    assert_int_equal(admin_post("/admin/expire_tokens", json_object()), 0);
    sx_sync x[MAX_PAIRS];
    memset(x, 0, sizeof x);
    long long t0 = ts_now_ms();
    for (int i = 0; i < n_pairs; i++) {
        x[i].program = pairs[i].program;
        assert_int_equal(pthread_create(&x[i].th, NULL, sync_thread, &x[i]), 0);
    }
    /* Kill once the first pair reaches the phase (or ended: then still kill,
     * to test the restart between cycles). */
    int seen = 0;
    while (ts_now_ms() - t0 < 240000) {
        seen = atomic_load(&x[0].phase);
        if (seen >= kill_phase)
            break;
        ts_sleep_ms(2);
    }
    say("round %d: killing the %s in phase %d after %lld ms\n", round, victim_name[v], seen,
        ts_now_ms() - t0);
    kill_and_restart(v);
    for (int i = 0; i < n_pairs; i++) {
        pthread_join(x[i].th, NULL);
        if (x[i].rec) {
            char what[96];
            snprintf(what, sizeof what, "round %d (%s killed), pair %lld", round, victim_name[v],
                     x[i].program);
            print_record(what, x[i].rec);
            campsync__v1__cycle_record__free_unpacked(x[i].rec, NULL);
        } else {
            say("round %d, pair %lld: SyncNow -> %s: %s\n", round, x[i].program,
                rpc_status_name(x[i].code), x[i].err.message);
        }
    }
    clear_faults();
    assert_alive("after the round");
}

/* ---- events ---- */

static long long stream_length(void)
{
    redisContext *c = redisConnect("127.0.0.1", ts_redis_port(stack->redis));
    long long n = -1;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "XLEN %s", EVENTS_STREAM);
        if (r && r->type == REDIS_REPLY_INTEGER)
            n = r->integer;
        freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return n;
}

/* May event e follow a person whose status is cur (NULL: not a member)? */
static bool applies(json_t *e, const char *cur)
{
    int type = (int)json_integer_value(json_object_get(e, "type"));
    if (type == CAMPSYNC__V1__EVENT_TYPE__ADDED_TO_SFDC_CAMPAIGN)
        return !cur;
    if (type == CAMPSYNC__V1__EVENT_TYPE__REMOVED_FROM_SFDC_CAMPAIGN)
        return cur != NULL;
    return type == CAMPSYNC__V1__EVENT_TYPE__SFDC_CAMPAIGN_STATUS_CHANGED && cur &&
           strcmp(cur, jstr(e, "old")) == 0;
}

static const char *after(json_t *e)
{
    int type = (int)json_integer_value(json_object_get(e, "type"));
    return type == CAMPSYNC__V1__EVENT_TYPE__REMOVED_FROM_SFDC_CAMPAIGN ? NULL : jstr(e, "new");
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Is there an order of the unused events leading from cur to fin, each
 * step possible? (A person has a handful of events: plain search.) */
static bool chain_exists(json_t *evs, bool *used, size_t left, const char *cur, const char *fin)
{
    if (!left)
        return same(cur, fin);
    for (size_t i = 0; i < json_array_size(evs); i++) {
        json_t *e = json_array_get(evs, i);
        if (used[i] || !applies(e, cur))
            continue;
        used[i] = true;
        bool ok = chain_exists(evs, used, left - 1, after(e), fin);
        used[i] = false;
        if (ok)
            return true;
    }
    return false;
}

static void print_person(const char *person, const char *start, const char *fin, json_t *evs)
{
    fprintf(stderr, "  %s: before the first cycle \"%s\", now \"%s\"; events:", person,
            start ? start : "(not a member)", fin ? fin : "(not a member)");
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e)
    {
        fprintf(stderr, " [%s type %d \"%s\" -> \"%s\" from %s]", jstr(e, "id"),
                (int)json_integer_value(json_object_get(e, "type")), jstr(e, "old"), jstr(e, "new"),
                jstr(e, "source"));
    }
    fprintf(stderr, "\n");
}

/*
 * The events of the pair's campaign against its members before the first
 * cycle and now, person by person. *lost_or_extra counts people whose
 * events cannot be arranged into a chain of possible steps from the first
 * state to the last (an event lost, repeated, or with a wrong old status:
 * "exactly one event per change" is broken); *out_of_order counts people
 * for whom such a chain exists but the stream's own order is not one (a
 * subscriber replaying the stream ends at a wrong status).
 */
static void check_events(const sx_pair *p, json_t *events, const sx_index *final_ix, size_t *n_ev,
                         int *lost_or_extra, int *out_of_order)
{
    json_t *start = json_object_get(start_ix.sf_members, p->campaign);
    json_t *fin = json_object_get(final_ix->sf_members, p->campaign);
    json_t *by_person = json_object(); /* person -> [events in stream order] */
    size_t i;
    json_t *e;
    *n_ev = 0;
    *lost_or_extra = *out_of_order = 0;
    json_array_foreach(events, i, e)
    {
        if (strcmp(jstr(e, "campaign"), p->campaign) != 0)
            continue;
        (*n_ev)++;
        json_t *list = json_object_get(by_person, jstr(e, "person"));
        if (!list) {
            list = json_array();
            json_object_set_new(by_person, jstr(e, "person"), list);
        }
        json_array_append(list, e);
    }
    json_t *people = json_object(); /* everyone with a start, an end or an event */
    json_object_update(people, by_person);
    json_object_update_missing(people, start);
    json_object_update_missing(people, fin);
    const char *person;
    json_t *v;
    json_object_foreach(people, person, v)
    {
        json_t *evs = json_object_get(by_person, person);
        const char *s0 = json_string_value(json_object_get(start, person));
        const char *s1 = json_string_value(json_object_get(fin, person));
        size_t n = json_array_size(evs);
        const char *cur = s0;
        bool in_order = person[0] != 0;
        json_array_foreach(evs, i, e)
        {
            in_order = in_order && applies(e, cur);
            cur = after(e);
        }
        in_order = in_order && same(cur, s1);
        if (in_order)
            continue;
        bool *used = calloc(n + 1, sizeof *used);
        bool some_order = person[0] && n <= 10 && chain_exists(evs, used, n, s0, s1);
        free(used);
        int *count = some_order ? out_of_order : lost_or_extra;
        if ((*count)++ < 8) {
            fprintf(stderr, "campaign %s: %s\n", p->campaign,
                    some_order ? "events out of order" : "events lost, repeated or wrong");
            print_person(person[0] ? person : "(no person id)", s0, s1, evs);
        }
    }
    json_decref(people);
    json_decref(by_person);
}

/* Every event in the stream, read once from "0". */
static json_t *read_all_events(void)
{
    long long want = stream_length();
    assert_true(want >= 0);
    json_t *all = json_array();
    if (want == 0)
        return all;
    Campsync__V1__WatchEventsRequest rq = CAMPSYNC__V1__WATCH_EVENTS_REQUEST__INIT;
    rq.from_event_id = "0";
    rpc_call_opts o = {.timeout_ms = 120000};
    rpc_stream *s = NULL;
    rpc_error err = {0};
    assert_int_equal(rpc_stream_open(rc, SVC, "WatchEvents", &rq.base, &o, &s, &err), 0);
    ProtobufCMessage *m = NULL;
    while ((long long)json_array_size(all) < want && rpc_stream_next(s, &m, &err) == 1) {
        Campsync__V1__MembershipEvent *ev = (void *)m;
        json_array_append_new(all, json_pack("{s:s,s:i,s:I,s:s,s:s,s:s,s:s,s:s}", "id",
                                             ev->event_id, "type", (int)ev->type, "lead",
                                             (json_int_t)ev->lead_id, "person", ev->sfdc_person_id,
                                             "campaign", ev->campaign_id, "old", ev->old_status,
                                             "new", ev->new_status, "source", ev->source));
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_close(s);
    assert_int_equal((long long)json_array_size(all), want);
    return all;
}

/* ---- cycle records ---- */

static void check_records(const sx_pair *p, int *n_cycles, int *n_checked)
{
    Campsync__V1__ListCyclesRequest rq = CAMPSYNC__V1__LIST_CYCLES_REQUEST__INIT;
    rq.program_id = p->program;
    rq.limit = 1000;
    ProtobufCMessage *out = NULL;
    rpc_error err;
    assert_int_equal(unary("ListCycles", &rq.base, &out, &err), 0);
    Campsync__V1__CycleList *l = (void *)out;
    *n_cycles = (int)l->n_cycles;
    *n_checked = 0;
    int64_t prev_token = INT64_MAX;
    for (size_t i = 0; i < l->n_cycles; i++) {
        const Campsync__V1__CycleRecord *r = l->cycles[i];
        bool ok = strcmp(r->status, "Succeeded") == 0, failed = strcmp(r->status, "Failed") == 0,
             incomplete = strcmp(r->status, "Incomplete") == 0;
        if (!(ok || failed || incomplete) || ((failed || incomplete) && !r->message[0]) ||
            (ok && (r->counts->failed != 0 || r->message[0])) || r->campaign_id[0] == 0 ||
            strcmp(r->campaign_id, p->campaign) != 0 || r->finished_at_ms < r->started_at_ms ||
            r->fencing_token >= prev_token) {
            print_record("untruthful record", r);
            fail_msg("cycle record %s of %lld does not hold together", r->id, p->program);
        }
        prev_token = r->fencing_token;
        *n_checked += json_object_get(checked_records, r->id) != NULL;
    }
    protobuf_c_message_free_unpacked(out, NULL);
}

/* ---- the test ---- */

/* What a post-mortem of the events needs, in CAMPSYNC_SYSTEM_LOG_DIR. */
static void save_debug(const sx_pair *p, json_t *events, const sx_index *fin)
{
    const char *dir = getenv("CAMPSYNC_SYSTEM_LOG_DIR");
    if (!dir || !dir[0])
        return;
    char path[600];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/system-debug-%lld.json", dir, p->program);
    json_t *d = json_pack("{s:O,s:O,s:O,s:O}", "events", events, "user_changes", user_log, "start",
                          json_object_get(start_ix.sf_members, p->campaign), "final",
                          json_object_get(fin->sf_members, p->campaign));
    if (json_dump_file(d, path, JSON_COMPACT) == 0)
        fprintf(stderr, "events, user changes and members written to %s\n", path);
    json_decref(d);
}

static void faults_kills_and_convergence(void **state)
{
    (void)state;
    sx_scale sc = scale_from_env();
    long long t0 = ts_now_ms();
    link_pairs();
    converge("first sync");
    say("first sync converged after %lld ms\n", ts_now_ms() - t0);

    /* Each part killed in turn, in the phase where it hurts most. */
    static const struct {
        sx_victim v;
        int phase;
    } rounds[] = {{V_RECONCILER, 3}, {V_MARKETO, 2}, {V_SALESFORCE, 3}, {V_REDIS, 3}};
    for (size_t r = 0; r < sizeof rounds / sizeof rounds[0]; r++)
        fault_round((int)r, rounds[r].v, rounds[r].phase, sc.changes);
    /* And the users' last changes reach the other side in clean cycles. */
    cur_round = 99;
    for (int i = 0; i < n_pairs; i++)
        user_changes(&pairs[i], sc.changes);
    converge("after faults");

    assert_int_equal(index_load(stack, &fin_ix), 0);
    assert_int_equal(fin_ix.dup_members, 0);
    assert_int_equal(grown_duplicates(&start_ix, &fin_ix), 0);
    json_t *events = all_events = read_all_events();
    for (int i = 0; i < n_pairs; i++) {
        int exempt = 0, members = 0, cycles = 0, checked = 0;
        assert_int_equal(pair_differences(&fin_ix, &pairs[i], &exempt, &members), 0);
        size_t n_ev = 0;
        int lost_or_extra = 0, out_of_order = 0;
        check_events(&pairs[i], events, &fin_ix, &n_ev, &lost_or_extra, &out_of_order);
        if (lost_or_extra || out_of_order)
            save_debug(&pairs[i], events, &fin_ix);
        say("pair %lld: %zu events; people whose events are lost, repeated or wrong: %d; "
            "whose events are in an impossible order: %d\n",
            pairs[i].program, n_ev, lost_or_extra, out_of_order);
        assert_int_equal(lost_or_extra, 0);
        assert_int_equal(out_of_order, 0);
        check_records(&pairs[i], &cycles, &checked);
        fprintf(stderr,
                "system: pair %lld: %d members equal on both sides (%d unmatchable, no email), "
                "%zu events replay to the campaign, %d cycle records hold together (%d "
                "checked against the vendors)\n",
                pairs[i].program, members, exempt, n_ev, cycles, checked);
    }
    say("done in %lld ms\n", ts_now_ms() - t0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(faults_kills_and_convergence),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
