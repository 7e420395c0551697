/*
 * Dataset generator for campsync-sandbox (see gen.h). It produces the mess
 * the services must cope with in a real org: people on one side only, people
 * linked by sfdcLeadId/sfdcContactId and people matching only by email,
 * people without an email, converted leads, campaigns whose member statuses
 * match their program's channel and one that does not, members whose status
 * differs between the two sides, trade-show members uploaded weeks after the
 * event, accounts with opportunities, and the touchpoint custom fields and
 * objects. Everything comes from one seeded generator, so a spec and seed
 * always give the same dataset.
 */
#include "gen.h"
#include "sbx.h"
#include "sbx_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
/* Data is dated in the year before this instant (2026-01-05T00:00:00Z). */
#define GEN_BASE_MS 1767571200000LL

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void gen_sf_id(const char *prefix, uint64_t n, char out[19])
{
    char id[16];
    memcpy(id, prefix, 3);
    /* Pod-like "Dn0", then 9 base-62 digits of n. */
    id[3] = 'D';
    id[4] = 'n';
    id[5] = '0';
    for (int i = 14; i >= 6; i--) {
        id[i] = b62[n % 62];
        n /= 62;
    }
    memcpy(out, id, 15);
    static const char sfx[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    for (int chunk = 0; chunk < 3; chunk++) {
        int bits = 0;
        for (int k = 0; k < 5; k++) {
            char ch = id[chunk * 5 + k];
            if (ch >= 'A' && ch <= 'Z')
                bits |= 1 << k;
        }
        out[15 + chunk] = sfx[bits];
    }
    out[18] = '\0';
}

typedef struct {
    const char *name;
    int step;
    int success;
} gen_status;

typedef struct {
    const char *name;
    const char *program_type;
    const char *marketo_type;
    gen_status st[5];
    int n_st;
} gen_channel;

static const gen_channel channels[] = {
    {"Webinar",
     "event",
     "Event",
     {{"Invited", 10, 0}, {"Registered", 20, 0}, {"No Show", 30, 0}, {"Attended", 40, 1}},
     4},
    {"Tradeshow",
     "event",
     "Event",
     {{"Invited", 10, 0}, {"Registered", 20, 0}, {"Visited Booth", 30, 1}, {"Had Meeting", 40, 1}},
     4},
    {"Email Send",
     "program",
     "Default",
     {{"Sent", 10, 0}, {"Opened", 20, 0}, {"Clicked", 30, 1}},
     3},
    {"Content Syndication", "program", "Default", {{"Lead Acquired", 10, 1}}, 1},
};
#define N_CHANNELS 4

static const char *const first_names[] = {"Ana",  "Ben",   "Chen", "Dana",  "Eli",   "Fatima",
                                          "Gus",  "Hana",  "Ivan", "Jia",   "Kofi",  "Lena",
                                          "Mo",   "Nora",  "Omar", "Priya", "Quinn", "Rosa",
                                          "Sven", "Tariq", "Uma",  "Vik",   "Wei",   "Yara"};
static const char *const last_names[] = {"Alvarez",  "Brown",  "Chandra", "Dubois",   "Eriksen",
                                         "Fischer",  "Garcia", "Haddad",  "Ito",      "Jensen",
                                         "Kowalski", "Lopez",  "Moreau",  "Nakamura", "Okafor",
                                         "Petrov",   "Rossi",  "Smith",   "Tanaka",   "Weber"};

enum { P_LINKED_LEAD, P_LINKED_CONTACT, P_MKTO_ONLY, P_SF_ONLY, P_CONVERTED, P_EMAIL_MATCH };

typedef struct {
    int kind;
    int has_email;
    int64_t mkto_id; /* 0 = none */
    char sf_lead[19];
    char sf_contact[19];
    int sf_is_contact; /* the person's live SF record is a contact */
    int account;       /* index, for contacts */
} person;

typedef struct {
    uint64_t rng;
    uint64_t counters[16];
    const char *prefixes[16];
    int n_prefixes;
} gen;

static void next_id(gen *g, const char *prefix, char out[19])
{
    int i = 0;
    for (; i < g->n_prefixes; i++)
        if (strcmp(g->prefixes[i], prefix) == 0)
            break;
    if (i == g->n_prefixes) {
        g->prefixes[g->n_prefixes++] = prefix;
        g->counters[i] = 1000;
    }
    gen_sf_id(prefix, g->counters[i]++, out);
}

static uint64_t rnd(gen *g, uint64_t n)
{
    return sbx_rng_below(&g->rng, n);
}

static json_t *sf_time(int64_t ms)
{
    char t[40];
    sbx_format_time_sf(ms, t, sizeof t);
    return json_string(t);
}

static json_t *iso_time(int64_t ms)
{
    char t[40];
    sbx_format_time_iso(ms, t, sizeof t);
    return json_string(t);
}

static json_t *sf_date(int64_t ms)
{
    char t[40];
    sbx_format_time_iso(ms, t, sizeof t);
    t[10] = '\0';
    return json_string(t);
}

static void set(json_t *o, const char *k, json_t *v)
{
    json_object_set_new(o, k, v);
}

static int parse_spec(const char *spec, long long *people, long long *programs, long long *members,
                      uint64_t *seed, char *err, size_t err_len)
{
    char *buf = strdup(spec ? spec : "");
    if (!buf) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*t))
            t++;
        if (!*t)
            continue;
        char *eq = strchr(t, '=');
        char *end = NULL;
        long long v = eq ? strtoll(eq + 1, &end, 10) : -1;
        if (!eq || !end || *end || end == eq + 1 || v < 0) {
            snprintf(err, err_len, "bad spec item '%s': expected key=non-negative integer", t);
            free(buf);
            return -1;
        }
        *eq = '\0';
        if (strcmp(t, "people") == 0)
            *people = v;
        else if (strcmp(t, "programs") == 0)
            *programs = v;
        else if (strcmp(t, "members") == 0)
            *members = v;
        else if (strcmp(t, "seed") == 0)
            *seed = (uint64_t)v;
        else {
            snprintf(err, err_len, "unknown spec key '%s' (people, programs, members, seed)", t);
            free(buf);
            return -1;
        }
    }
    free(buf);
    if (*people > 2000000 || *programs > 1000 || *members > 2000000) {
        snprintf(err, err_len,
                 "spec too large (people <= 2000000, programs <= 1000, members <= "
                 "2000000)");
        return -1;
    }
    return 0;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static json_t *campaign_statuses(gen *g, json_t *rows, const char *campaign_id,
                                 const gen_status *st, int n, int64_t created)
{
    for (int i = 0; i < n; i++) {
        char id[19];
        next_id(g, "01Y", id);
        json_t *r = json_object();
        set(r, "Id", json_string(id));
        set(r, "CampaignId", json_string(campaign_id));
        set(r, "Label", json_string(st[i].name));
        set(r, "SortOrder", json_integer(st[i].step));
        set(r, "IsDefault", json_boolean(i == 0));
        set(r, "HasResponded", json_boolean(st[i].success));
        set(r, "CreatedDate", sf_time(created));
        set(r, "LastModifiedDate", sf_time(created));
        set(r, "SystemModstamp", sf_time(created));
        set(r, "IsDeleted", json_false());
        json_array_append_new(rows, r);
    }
    return rows;
}

typedef struct {
    char id[19];
    const gen_status *st;
    int n_st;
    int64_t start_ms;
    int tradeshow;
    json_t *members;
    const char *type;
} gen_campaign;

static void add_campaign_member(gen *g, gen_campaign *c, const person *p, int st, json_t *rows)
{
    char id[19];
    next_id(g, "00v", id);
    json_t *r = json_object();
    int64_t created = c->start_ms + (int64_t)rnd(g, 20) * DAY_MS + (int64_t)rnd(g, DAY_MS);
    if (c->tradeshow) /* uploaded two to four weeks after the show */
        created = c->start_ms + (14 + (int64_t)rnd(g, 15)) * DAY_MS + (int64_t)rnd(g, DAY_MS);
    int64_t modified = created + (int64_t)rnd(g, 5) * DAY_MS;
    set(r, "Id", json_string(id));
    set(r, "CampaignId", json_string(c->id));
    if (p->sf_is_contact) {
        set(r, "ContactId", json_string(p->sf_contact));
        set(r, "LeadId", json_null());
    } else {
        set(r, "LeadId", json_string(p->sf_lead));
        set(r, "ContactId", json_null());
    }
    set(r, "Status", json_string(c->st[st].name));
    set(r, "HasResponded", json_boolean(c->st[st].success));
    set(r, "FirstRespondedDate", c->st[st].success ? sf_date(modified) : json_null());
    set(r, "CreatedDate", sf_time(created));
    set(r, "LastModifiedDate", sf_time(modified));
    set(r, "SystemModstamp", sf_time(modified));
    set(r, "IsDeleted", json_false());
    set(r, "Buyer_Touchpoint_Date__c",
        c->tradeshow && rnd(g, 2) == 0 ? sf_date(c->start_ms) : json_null());
    json_array_append_new(rows, r);
}

/* Status index biased towards the early steps. */
static int pick_status(gen *g, int n)
{
    int a = (int)rnd(g, (uint64_t)n), b = (int)rnd(g, (uint64_t)n);
    return a < b ? a : b;
}

json_t *gen_dataset(const char *spec, uint64_t seed_arg, char *err, size_t err_len)
{
    long long people = 200, programs = 4, members = -1;
    uint64_t seed = seed_arg;
    if (parse_spec(spec, &people, &programs, &members, &seed, err, err_len) != 0)
        return NULL;
    if (members < 0)
        members = people / 2;
    gen g = {.rng = seed * 0x2545F4914F6CDD1DULL + 7};

    person *pp = calloc(people ? (size_t)people : 1, sizeof *pp);
    if (!pp) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    json_t *m_leads = json_array(), *sf_leads = json_array(), *sf_contacts = json_array();
    json_t *sf_accounts = json_array(), *sf_opps = json_array(), *sf_users = json_array();
    json_t *m_channels = json_array(), *m_programs = json_array(), *m_members = json_array();
    json_t *sf_campaigns = json_array(), *sf_cms = json_array(), *sf_cm = json_array();

    /* Users: the integration user is a Marketing User; another is not. */
    char integ[19], other_user[19];
    next_id(&g, "005", integ);
    next_id(&g, "005", other_user);
    json_array_append_new(sf_users, json_pack("{s:s,s:s,s:s,s:b,s:b}", "Id", integ, "Username",
                                              "integration@sandbox.campsync.test", "Name",
                                              "Marketo Integration", "UserPermissionsMarketingUser",
                                              1, "IsActive", 1));
    json_array_append_new(sf_users, json_pack("{s:s,s:s,s:s,s:b,s:b}", "Id", other_user, "Username",
                                              "sales@sandbox.campsync.test", "Name", "Sales Rep",
                                              "UserPermissionsMarketingUser", 0, "IsActive", 1));

    /* Accounts and their opportunities. */
    long long n_acc = people / 8 > 0 ? people / 8 : 1;
    char(*acc_ids)[19] = calloc((size_t)n_acc, sizeof *acc_ids);
    if (!acc_ids) {
        free(pp);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    for (long long a = 0; a < n_acc; a++) {
        next_id(&g, "001", acc_ids[a]);
        int64_t created = GEN_BASE_MS - (int64_t)(200 + rnd(&g, 165)) * DAY_MS;
        char name[64];
        snprintf(name, sizeof name, "Company %lld Ltd", a + 1);
        json_t *r = json_object();
        set(r, "Id", json_string(acc_ids[a]));
        set(r, "Name", json_string(name));
        set(r, "CreatedDate", sf_time(created));
        set(r, "LastModifiedDate", sf_time(created));
        set(r, "SystemModstamp", sf_time(created));
        json_array_append_new(sf_accounts, r);
        int n_opp = (int)rnd(&g, 3);
        for (int k = 0; k < n_opp; k++) {
            char oid[19], oname[96];
            next_id(&g, "006", oid);
            snprintf(oname, sizeof oname, "%s - Deal %d", name, k + 1);
            int64_t oc = GEN_BASE_MS - (int64_t)(30 + rnd(&g, 150)) * DAY_MS;
            int64_t close = oc + (int64_t)(10 + rnd(&g, 90)) * DAY_MS;
            int closed = close < GEN_BASE_MS;
            int won = closed && rnd(&g, 2) == 0;
            double amount = (double)(1000 + rnd(&g, 99000)) + (double)rnd(&g, 100) / 100.0;
            json_t *o = json_object();
            set(o, "Id", json_string(oid));
            set(o, "Name", json_string(oname));
            set(o, "AccountId", json_string(acc_ids[a]));
            set(o, "Amount", json_real(amount));
            set(o, "StageName",
                json_string(closed ? (won ? "Closed Won" : "Closed Lost") : "Prospecting"));
            set(o, "CreatedDate", sf_time(oc));
            set(o, "CloseDate", sf_date(close));
            set(o, "IsClosed", json_boolean(closed));
            set(o, "IsWon", json_boolean(won));
            set(o, "LastModifiedDate", sf_time(oc));
            set(o, "SystemModstamp", sf_time(oc));
            json_array_append_new(sf_opps, o);
        }
    }

    /* People. */
    int64_t next_mkto = 1;
    long long n_mkto = 0;
    for (long long i = 0; i < people; i++) {
        person *p = &pp[i];
        int r = (int)rnd(&g, 100);
        p->kind = r < 45   ? P_LINKED_LEAD
                  : r < 70 ? P_LINKED_CONTACT
                  : r < 80 ? P_MKTO_ONLY
                  : r < 90 ? P_SF_ONLY
                  : r < 95 ? P_CONVERTED
                           : P_EMAIL_MATCH;
        p->has_email = rnd(&g, 100) >= 3;
        p->account = (int)(i % n_acc);
        const char *fn = first_names[rnd(&g, sizeof first_names / sizeof *first_names)];
        const char *ln = last_names[rnd(&g, sizeof last_names / sizeof *last_names)];
        char email[160], company[64];
        snprintf(email, sizeof email, "%c%c.%s%lld@company%lld.example.com",
                 tolower((unsigned char)fn[0]), tolower((unsigned char)fn[1]), ln, i + 1,
                 (long long)p->account + 1);
        for (char *c = email; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        snprintf(company, sizeof company, "Company %d Ltd", p->account + 1);
        int64_t created =
            GEN_BASE_MS - (int64_t)(10 + rnd(&g, 300)) * DAY_MS - (int64_t)rnd(&g, DAY_MS);
        int sf_lead = p->kind == P_LINKED_LEAD || p->kind == P_CONVERTED ||
                      p->kind == P_EMAIL_MATCH || (p->kind == P_SF_ONLY && rnd(&g, 10) < 6);
        int sf_contact = p->kind == P_LINKED_CONTACT || p->kind == P_CONVERTED ||
                         (p->kind == P_SF_ONLY && !sf_lead);
        if (sf_contact) {
            next_id(&g, "003", p->sf_contact);
            json_t *c = json_object();
            set(c, "Id", json_string(p->sf_contact));
            set(c, "FirstName", json_string(fn));
            set(c, "LastName", json_string(ln));
            set(c, "Email", p->has_email ? json_string(email) : json_null());
            set(c, "AccountId", json_string(acc_ids[p->account]));
            set(c, "CreatedDate", sf_time(created));
            set(c, "LastModifiedDate", sf_time(created));
            set(c, "SystemModstamp", sf_time(created));
            set(c, "IsDeleted", json_false());
            json_array_append_new(sf_contacts, c);
            p->sf_is_contact = 1;
        }
        if (sf_lead) {
            next_id(&g, "00Q", p->sf_lead);
            int converted = p->kind == P_CONVERTED;
            json_t *l = json_object();
            set(l, "Id", json_string(p->sf_lead));
            set(l, "FirstName", json_string(fn));
            set(l, "LastName", json_string(ln));
            set(l, "Company", json_string(company));
            set(l, "Email", p->has_email ? json_string(email) : json_null());
            set(l, "IsConverted", json_boolean(converted));
            set(l, "ConvertedContactId", converted ? json_string(p->sf_contact) : json_null());
            set(l, "ConvertedAccountId",
                converted ? json_string(acc_ids[p->account]) : json_null());
            set(l, "Status", json_string(converted ? "Qualified" : "Open - Not Contacted"));
            set(l, "CreatedDate", sf_time(created));
            set(l, "LastModifiedDate", sf_time(created));
            set(l, "SystemModstamp", sf_time(created));
            set(l, "IsDeleted", json_false());
            json_array_append_new(sf_leads, l);
            if (!converted)
                p->sf_is_contact = 0;
        }
        if (p->kind != P_SF_ONLY) {
            p->mkto_id = next_mkto++;
            n_mkto++;
            json_t *m = json_object();
            set(m, "id", json_integer(p->mkto_id));
            if (p->has_email)
                set(m, "email", json_string(email));
            set(m, "firstName", json_string(fn));
            set(m, "lastName", json_string(ln));
            if (rnd(&g, 10) != 0) /* some Marketo people have no company */
                set(m, "company", json_string(company));
            if (p->kind == P_LINKED_LEAD || p->kind == P_CONVERTED)
                set(m, "sfdcLeadId", json_string(p->sf_lead));
            if (p->kind == P_LINKED_CONTACT || p->kind == P_CONVERTED) {
                set(m, "sfdcContactId", json_string(p->sf_contact));
                set(m, "sfdcAccountId", json_string(acc_ids[p->account]));
            }
            set(m, "createdAt", iso_time(created));
            set(m, "updatedAt", iso_time(created + (int64_t)rnd(&g, 5) * DAY_MS));
            json_array_append_new(m_leads, m);
        }
    }

    /* Channels. */
    for (int c = 0; c < N_CHANNELS; c++) {
        json_t *sts = json_array();
        for (int k = 0; k < channels[c].n_st; k++)
            json_array_append_new(
                sts, json_pack("{s:s,s:i,s:b,s:b,s:s}", "name", channels[c].st[k].name, "step",
                               channels[c].st[k].step, "success", channels[c].st[k].success,
                               "hidden", 0, "description", ""));
        json_array_append_new(m_channels,
                              json_pack("{s:i,s:s,s:s,s:o}", "id", c + 1, "name", channels[c].name,
                                        "applicableProgramType", channels[c].program_type,
                                        "progressionStatuses", sts));
    }

    /* Marketo people, by position, for picking members. */
    long long *mk_people = calloc(n_mkto ? (size_t)n_mkto : 1, sizeof *mk_people);
    long long *sf_only = calloc(people ? (size_t)people : 1, sizeof *sf_only);
    long long n_sf_only = 0;
    if (!mk_people || !sf_only) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    for (long long i = 0, k = 0; i < people; i++) {
        if (pp[i].mkto_id)
            mk_people[k++] = i;
        else
            sf_only[n_sf_only++] = i;
    }
    long long per_program = members > n_mkto ? n_mkto : members;

    for (long long pi = 0; pi < programs; pi++) {
        const gen_channel *ch = &channels[pi % N_CHANNELS];
        int linked = !(programs >= 3 && pi == programs - 1);
        int64_t pid = 1001 + pi;
        int64_t start = GEN_BASE_MS - (int64_t)(40 + rnd(&g, 120)) * DAY_MS;
        char pname[96], cname[128];
        snprintf(pname, sizeof pname, "2025 %s %lld", ch->name, pi + 1);
        snprintf(cname, sizeof cname, "%s (SFDC)", pname);
        json_t *costs = json_array();
        double total = 0;
        int n_costs = 1 + (int)rnd(&g, 3);
        for (int k = 0; k < n_costs; k++) {
            double cost = (double)(500 + rnd(&g, 9500));
            total += cost;
            json_array_append_new(costs,
                                  json_pack("{s:o,s:f,s:s}", "startDate",
                                            sf_date(start + (int64_t)k * 30 * DAY_MS), "cost", cost,
                                            "note", k == 0 ? "Sponsorship" : "Follow-up"));
        }
        gen_campaign camp = {.st = ch->st,
                             .n_st = ch->n_st,
                             .start_ms = start,
                             .tradeshow = pi % N_CHANNELS == 1,
                             .type = ch->name};
        if (linked)
            next_id(&g, "701", camp.id);
        json_t *prog = json_object();
        set(prog, "id", json_integer(pid));
        set(prog, "name", json_string(pname));
        set(prog, "description", json_string("Generated by campsync-sandbox"));
        set(prog, "type", json_string(ch->marketo_type));
        set(prog, "channel", json_string(ch->name));
        set(prog, "status", json_string(""));
        set(prog, "folder",
            json_pack("{s:s,s:i,s:s}", "type", "Folder", "value", 1000, "folderName",
                      "Marketing Activities"));
        set(prog, "costs", costs);
        set(prog, "createdAt", iso_time(start - 30 * DAY_MS));
        set(prog, "updatedAt", iso_time(start - 30 * DAY_MS + DAY_MS));
        if (linked) {
            set(prog, "sfdcId", json_string(camp.id));
            set(prog, "sfdcName", json_string(cname));
        }
        json_array_append_new(m_programs, prog);

        if (linked) {
            static const char *const tp[] = {"Include All Campaign Members",
                                             "Include \"Responded\" Campaign Members",
                                             "Exclude All Campaign Members"};
            json_t *c = json_object();
            set(c, "Id", json_string(camp.id));
            set(c, "Name", json_string(cname));
            set(c, "Type", json_string(ch->name));
            set(c, "Status",
                json_string(start + 30 * DAY_MS < GEN_BASE_MS ? "Completed" : "In Progress"));
            set(c, "IsActive", json_true());
            /* Off by one cost sometimes: the sync must overwrite it. */
            set(c, "ActualCost", json_real(pi % 2 ? total : total + 100));
            set(c, "StartDate", sf_date(start));
            set(c, "EndDate", sf_date(start + 2 * DAY_MS));
            set(c, "Enable_Buyer_Touchpoints__c",
                pi % 4 == 3 ? json_null() : json_string(tp[pi % 3]));
            set(c, "Touchpoint_Start_Date__c", pi % 2 ? sf_date(start - 7 * DAY_MS) : json_null());
            set(c, "Touchpoint_End_Date__c",
                pi % 3 == 2 ? sf_date(start + 60 * DAY_MS) : json_null());
            set(c, "OwnerId", json_string(integ));
            set(c, "CreatedDate", sf_time(start - 30 * DAY_MS));
            set(c, "LastModifiedDate", sf_time(start - 29 * DAY_MS));
            set(c, "SystemModstamp", sf_time(start - 29 * DAY_MS));
            set(c, "IsDeleted", json_false());
            json_array_append_new(sf_campaigns, c);
            campaign_statuses(&g, sf_cms, camp.id, ch->st, ch->n_st, start - 30 * DAY_MS);
        }

        /* Members: a stride through the Marketo people visits each once. */
        if (n_mkto > 0 && per_program > 0) {
            uint64_t stride = 1 + rnd(&g, (uint64_t)n_mkto);
            while (gcd(stride, (uint64_t)n_mkto) != 1)
                stride++;
            uint64_t at = rnd(&g, (uint64_t)n_mkto);
            for (long long k = 0; k < per_program; k++) {
                const person *p = &pp[mk_people[at]];
                at = (at + stride) % (uint64_t)n_mkto;
                int st = pick_status(&g, ch->n_st);
                int64_t joined = start + (int64_t)rnd(&g, 20 * DAY_MS);
                int64_t updated = joined + (int64_t)rnd(&g, 10 * DAY_MS);
                json_t *m = json_object();
                set(m, "programId", json_integer(pid));
                set(m, "leadId", json_integer(p->mkto_id));
                set(m, "statusName", json_string(ch->st[st].name));
                set(m, "membershipDate", iso_time(joined));
                set(m, "updatedAt", iso_time(updated));
                set(m, "reachedSuccess", json_boolean(ch->st[st].success));
                set(m, "acquiredBy", json_boolean(rnd(&g, 10) == 0));
                json_array_append_new(m_members, m);
                int has_sf = p->sf_lead[0] || p->sf_contact[0];
                if (!linked || !has_sf || rnd(&g, 100) >= 85)
                    continue;
                int r = (int)rnd(&g, 10);
                int sst = st;
                if (r == 0 && st > 0)
                    sst = st - 1; /* Salesforce behind */
                else if (r == 1 && st + 1 < ch->n_st)
                    sst = st + 1; /* Salesforce ahead */
                add_campaign_member(&g, &camp, p, sst, sf_cm);
            }
            /* Salesforce-only people in the campaign. */
            for (long long k = 0; linked && k < per_program / 20 && k < n_sf_only; k++) {
                const person *p = &pp[sf_only[(k + pi) % n_sf_only]];
                add_campaign_member(&g, &camp, p, pick_status(&g, ch->n_st), sf_cm);
            }
        }
    }

    /* Two campaigns no program is linked to: one with the Webinar statuses
     * but not quite (for the status-compatibility check), one plain. */
    if (programs > 0) {
        static const gen_status mismatched[] = {
            {"Invited", 10, 0}, {"Registered", 20, 0}, {"Attended", 40, 1}, {"Maybe", 50, 0}};
        static const gen_status plain[] = {{"Sent", 1, 0}, {"Responded", 2, 1}};
        const char *names[2] = {"Webinar with other statuses (not linked)",
                                "Partner newsletter (not linked)"};
        for (int k = 0; k < 2; k++) {
            gen_campaign camp = {.st = k == 0 ? mismatched : plain,
                                 .n_st = k == 0 ? 4 : 2,
                                 .start_ms = GEN_BASE_MS - 20 * DAY_MS,
                                 .type = k == 0 ? "Webinar" : "Email"};
            next_id(&g, "701", camp.id);
            json_t *c = json_object();
            set(c, "Id", json_string(camp.id));
            set(c, "Name", json_string(names[k]));
            set(c, "Type", json_string(camp.type));
            set(c, "Status", json_string("Planned"));
            set(c, "IsActive", json_true());
            set(c, "ActualCost", json_null());
            set(c, "StartDate", sf_date(camp.start_ms));
            set(c, "EndDate", sf_date(camp.start_ms + DAY_MS));
            set(c, "Enable_Buyer_Touchpoints__c",
                json_string(k == 0 ? "Include All Campaign Members"
                                   : "Include \"Responded\" Campaign Members"));
            set(c, "Touchpoint_Start_Date__c", json_null());
            set(c, "Touchpoint_End_Date__c", json_null());
            set(c, "OwnerId", json_string(integ));
            set(c, "CreatedDate", sf_time(camp.start_ms - DAY_MS));
            set(c, "LastModifiedDate", sf_time(camp.start_ms - DAY_MS));
            set(c, "SystemModstamp", sf_time(camp.start_ms - DAY_MS));
            set(c, "IsDeleted", json_false());
            json_array_append_new(sf_campaigns, c);
            campaign_statuses(&g, sf_cms, camp.id, camp.st, camp.n_st, camp.start_ms - DAY_MS);
            for (long long i = 0, added = 0; i < people && added < 10; i++) {
                const person *p = &pp[(i + 5 * k) % people];
                if (p->sf_lead[0] || p->sf_contact[0]) {
                    add_campaign_member(&g, &camp, p, pick_status(&g, camp.n_st), sf_cm);
                    added++;
                }
            }
        }
    }

    json_t *touch_fields = json_pack(
        "[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]", "Touchpoint_Id__c", "Campaign__c",
        "Campaign_Member_Id__c", "Lead__c", "Contact__c", "Email__c", "Account__c",
        "Touchpoint_Date__c", "Channel__c", "Subchannel__c", "Medium__c", "Ad_Campaign_Id__c",
        "Ad_Campaign_Name__c", "Touchpoint_Source__c", "Touchpoint_Type__c");
    json_t *attr_fields = json_pack("[s,s,s,s,s,s,s,s,s]", "Attribution_Id__c", "Opportunity__c",
                                    "Touchpoint_Id__c", "Model__c", "Position__c", "Weight__c",
                                    "Revenue__c", "Touchpoint_Date__c", "Contact__c");
    json_t *records = json_object();
    set(records, "User", sf_users);
    set(records, "Account", sf_accounts);
    set(records, "Contact", sf_contacts);
    set(records, "Lead", sf_leads);
    set(records, "Campaign", sf_campaigns);
    set(records, "CampaignMemberStatus", sf_cms);
    set(records, "CampaignMember", sf_cm);
    set(records, "Opportunity", sf_opps);
    set(records, "Buyer_Touchpoint__c", json_array());
    set(records, "Buyer_Attribution_Touchpoint__c", json_array());

    json_t *sf = json_object();
    set(sf, "client_id", json_string("sbx-sf-client"));
    set(sf, "client_secret", json_string("sbx-sf-secret"));
    set(sf, "integration_user", json_string(integ));
    set(sf, "token_ttl_s", json_integer(7200));
    set(sf, "limits", json_pack("{s:i}", "daily_api", 100000));
    set(sf, "custom_fields",
        json_pack("{s:[s,s,s],s:[s]}", "Campaign", "Enable_Buyer_Touchpoints__c",
                  "Touchpoint_Start_Date__c", "Touchpoint_End_Date__c", "CampaignMember",
                  "Buyer_Touchpoint_Date__c"));
    set(sf, "custom_objects",
        json_pack("{s:o,s:o}", "Buyer_Touchpoint__c", touch_fields,
                  "Buyer_Attribution_Touchpoint__c", attr_fields));
    set(sf, "records", records);

    json_t *mk = json_object();
    set(mk, "client_id", json_string("sbx-mkto-client"));
    set(mk, "client_secret", json_string("sbx-mkto-secret"));
    set(mk, "token_ttl_s", json_integer(3600));
    set(mk, "limits",
        json_pack("{s:i,s:i,s:i}", "calls_per_20s", 100, "concurrent", 10, "daily", 50000));
    set(mk, "channels", m_channels);
    set(mk, "programs", m_programs);
    set(mk, "leads", m_leads);
    set(mk, "members", m_members);

    free(pp);
    free(acc_ids);
    free(mk_people);
    free(sf_only);
    return json_pack("{s:o,s:o}", "marketo", mk, "salesforce", sf);

fail:
    free(pp);
    free(acc_ids);
    free(mk_people);
    free(sf_only);
    json_decref(m_leads);
    json_decref(sf_leads);
    json_decref(sf_contacts);
    json_decref(sf_accounts);
    json_decref(sf_opps);
    json_decref(sf_users);
    json_decref(m_channels);
    json_decref(m_programs);
    json_decref(m_members);
    json_decref(sf_campaigns);
    json_decref(sf_cms);
    json_decref(sf_cm);
    return NULL;
}
