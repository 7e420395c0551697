/*
 * Attribution over what is stored (SPEC A1-A4): gathers every touchpoint
 * (offline ones of every campaign and ingested ones), asks the connector
 * for the opportunities and the contacts of their accounts, builds the
 * compact dataset of attribution_core and runs a model over it.
 *
 * Which touches belong to an opportunity (A3 default): those of every
 * contact of its account. A touch is placed in an account by, first, its own
 * account id (contacts' campaign memberships carry it), else its person id
 * being one of the account's contacts, else its email being one of theirs
 * (case-insensitive: ingested web touches and leads later converted into
 * the contact). The lead creation time LC looks for is the earliest
 * CreatedDate among the account's contacts: the moment the buying group
 * first became known.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/status.h>

#include "asvc.h"
#include "attribute.h"
#include "dataset.h"
#include "markov.h"
#include "models.h"
#include "report.h"

#define SF_SVC (&campsync__v1__salesforce_connector__descriptor)

struct asvc_attribution {
    intern *pool; /* touchpoint strings */
    asvc_tps tps;
    intern *channels, *subchannels, *campaigns, *dimkeys, *accounts;
    size_t n_opps;
    char **opp_ids;
    attr_touch *touches;
    attr_dim *dims;
    size_t n_dims, cap_dims;
    attr_opp *opps;
    uint32_t *journey;
    size_t n_journey;
    int64_t *stage_ms;
    attr_dataset ds;
    attr_result res;
    attr_markov *markov;
};

void asvc_attribution_free(asvc_attribution *a)
{
    if (!a)
        return;
    intern_free(a->pool);
    asvc_tps_free(&a->tps);
    intern_free(a->channels);
    intern_free(a->subchannels);
    intern_free(a->campaigns);
    intern_free(a->dimkeys);
    intern_free(a->accounts);
    asvc_strv_free(a->opp_ids, a->n_opps);
    free(a->touches);
    free(a->dims);
    free(a->opps);
    free(a->journey);
    free(a->stage_ms);
    attr_result_free(&a->res);
    attr_markov_free(a->markov);
    free(a);
}

static int oom(asvc_err *e)
{
    return asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
}

/* A lower-case copy (emails compare case-insensitively). */
static char *lower_dup(const char *s)
{
    char *d = strdup(s ? s : "");
    for (char *p = d; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

static bool same_id(const char *a, const char *b)
{
    /* 15- and 18-character forms of one Salesforce id share the first 15. */
    if (strcmp(a, b) == 0)
        return true;
    return (strlen(a) == 15 || strlen(b) == 15) && strlen(a) >= 15 && strlen(b) >= 15 &&
           strncmp(a, b, 15) == 0;
}

static int sf_unary(asvc *s, rpc_call *parent, const char *method, const ProtobufCMessage *rq,
                    ProtobufCMessage **out, asvc_err *e)
{
    rpc_call_opts o = {.parent = parent, .timeout_ms = s->connector_timeout_ms};
    rpc_error re = {0};
    if (rpc_client_unary(s->sf, SF_SVC, method, rq, out, &o, &re) != 0)
        return asvc_connector_fail(s, method, &re, e);
    return 0;
}

/* A string list owned by the caller (dedup by an intern table). */
typedef struct strlist {
    intern *seen;
    char **v;
    size_t n, cap;
} strlist;

static int strlist_add(strlist *l, const char *s)
{
    if (!s || !s[0])
        return 0;
    if (!l->seen && !(l->seen = intern_new()))
        return -1;
    if (intern_find(l->seen, s) != INTERN_NONE)
        return 0;
    if (intern_id(l->seen, s) == INTERN_NONE)
        return -1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = strdup(s);
    return l->v[l->n++] ? 0 : -1;
}

static void strlist_free(strlist *l)
{
    asvc_strv_free(l->v, l->n);
    intern_free(l->seen);
    memset(l, 0, sizeof *l);
}

static int get_contacts(asvc *s, rpc_call *parent, char **ids_by, size_t n, bool by_email,
                        Campsync__V1__PersonList **out, asvc_err *e)
{
    Campsync__V1__GetPeopleRequest rq = CAMPSYNC__V1__GET_PEOPLE_REQUEST__INIT;
    if (by_email) {
        rq.emails = ids_by;
        rq.n_emails = n;
    } else {
        rq.account_ids = ids_by;
        rq.n_account_ids = n;
    }
    ProtobufCMessage *msg = NULL;
    if (sf_unary(s, parent, "GetContacts", &rq.base, &msg, e) != 0)
        return -1;
    *out = (Campsync__V1__PersonList *)msg;
    return 0;
}

/* The opportunities to attribute: the named ones, or all of the accounts
 * the touchpoints reach. */
static int get_opportunities(asvc *s, rpc_call *parent, const asvc_tps *tps, char *const *ids,
                             size_t n_ids, Campsync__V1__OpportunityList **out, asvc_err *e)
{
    Campsync__V1__GetOpportunitiesRequest rq = CAMPSYNC__V1__GET_OPPORTUNITIES_REQUEST__INIT;
    strlist accounts = {0}, emails = {0};
    int rc = 0;
    if (n_ids) {
        rq.ids = (char **)ids;
        rq.n_ids = n_ids;
    } else {
        for (size_t i = 0; i < tps->n && rc == 0; i++) {
            const asvc_tp *t = &tps->v[i];
            if (t->account_id[0]) {
                rc = strlist_add(&accounts, t->account_id);
            } else if (t->email[0]) {
                char *l = lower_dup(t->email);
                rc = l ? strlist_add(&emails, l) : -1;
                free(l);
            }
        }
        if (rc != 0) {
            rc = oom(e);
        } else if (emails.n) {
            Campsync__V1__PersonList *pl = NULL;
            rc = get_contacts(s, parent, emails.v, emails.n, true, &pl, e);
            for (size_t i = 0; rc == 0 && i < pl->n_people; i++)
                if (strlist_add(&accounts, pl->people[i]->account_id) != 0)
                    rc = oom(e);
            if (pl)
                protobuf_c_message_free_unpacked(&pl->base, NULL);
        }
        rq.account_ids = accounts.v;
        rq.n_account_ids = accounts.n;
    }
    ProtobufCMessage *msg = NULL;
    if (rc == 0 && (n_ids || accounts.n))
        rc = sf_unary(s, parent, "GetOpportunities", &rq.base, &msg, e);
    strlist_free(&accounts);
    strlist_free(&emails);
    if (rc != 0)
        return -1;
    if (!msg) {
        Campsync__V1__OpportunityList *empty = malloc(sizeof *empty);
        if (!empty)
            return oom(e);
        campsync__v1__opportunity_list__init(empty);
        msg = &empty->base;
    }
    Campsync__V1__OpportunityList *l = (Campsync__V1__OpportunityList *)msg;
    for (size_t i = 0; i < n_ids; i++) {
        bool found = false;
        for (size_t k = 0; k < l->n_opportunities && !found; k++)
            found = same_id(l->opportunities[k]->id, ids[i]);
        if (!found) {
            protobuf_c_message_free_unpacked(msg, NULL);
            return asvc_fail(e, GRPC_STATUS_NOT_FOUND,
                             "opportunity %s does not exist in Salesforce", ids[i]);
        }
    }
    *out = l;
    return 0;
}

static uint32_t dim_of(asvc_attribution *a, const asvc_tp *t)
{
    char key[1024];
    snprintf(key, sizeof key, "%s\x1f%s\x1f%s", t->channel, t->subchannel, t->campaign_id);
    uint32_t id = intern_id(a->dimkeys, key);
    if (id == INTERN_NONE)
        return INTERN_NONE;
    if (id < a->n_dims)
        return id;
    if (a->n_dims == a->cap_dims) {
        size_t cap = a->cap_dims ? a->cap_dims * 2 : 64;
        attr_dim *d = realloc(a->dims, cap * sizeof *d);
        if (!d)
            return INTERN_NONE;
        a->dims = d;
        a->cap_dims = cap;
    }
    attr_dim *d = &a->dims[a->n_dims++];
    d->channel = intern_id(a->channels, t->channel);
    d->subchannel = intern_id(a->subchannels, t->subchannel);
    d->campaign = intern_id(a->campaigns, t->campaign_id);
    if (d->channel == INTERN_NONE || d->subchannel == INTERN_NONE || d->campaign == INTERN_NONE)
        return INTERN_NONE;
    return id;
}

static int build_model(const asvc_model_req *m, attr_model *out, asvc_err *e)
{
    memset(out, 0, sizeof *out);
    if (m->model < CAMPSYNC__V1__MODEL__FIRST_TOUCH || m->model > CAMPSYNC__V1__MODEL__DATA_DRIVEN)
        return asvc_fail(e, GRPC_STATUS_INVALID_ARGUMENT,
                         "model must be one of FIRST_TOUCH, LEAD_CREATION, U_SHAPED, W_SHAPED, "
                         "FULL_PATH, CUSTOM, LINEAR, TIME_DECAY, DATA_DRIVEN");
    out->kind = (attr_model_kind)m->model;
    if (out->kind == ATTR_MODEL_CUSTOM) {
        const Campsync__V1__CustomWeights *c = m->custom;
        if (!c)
            return asvc_fail(e, GRPC_STATUS_INVALID_ARGUMENT,
                             "the CUSTOM model needs custom weights (basis points summing to "
                             "10000)");
        if (c->n_stages > ATTR_MAX_STAGES)
            return asvc_fail(e, GRPC_STATUS_INVALID_ARGUMENT,
                             "custom: %zu stages given, at most %d", c->n_stages, ATTR_MAX_STAGES);
        int32_t w[] = {c->ft_bp, c->lc_bp, c->oc_bp, c->cw_bp, c->middle_bp};
        for (size_t i = 0; i < 5; i++)
            if (w[i] < 0)
                return asvc_fail(e, GRPC_STATUS_INVALID_ARGUMENT,
                                 "custom weights must not be negative");
        out->custom.ft_bp = (uint32_t)c->ft_bp;
        out->custom.lc_bp = (uint32_t)c->lc_bp;
        out->custom.oc_bp = (uint32_t)c->oc_bp;
        out->custom.cw_bp = (uint32_t)c->cw_bp;
        out->custom.middle_bp = (uint32_t)c->middle_bp;
        out->custom.n_stages = (uint32_t)c->n_stages;
        for (size_t i = 0; i < c->n_stages; i++) {
            if (c->stages[i]->weight_bp < 0)
                return asvc_fail(e, GRPC_STATUS_INVALID_ARGUMENT,
                                 "custom stage %zu: negative weight", i);
            out->custom.stage_bp[i] = (uint32_t)c->stages[i]->weight_bp;
        }
    }
    out->half_life_days = m->half_life_days;
    attr_error ae = {{0}};
    /* Data-driven is checked once trained (it needs the chain). */
    if (out->kind != ATTR_MODEL_DATA_DRIVEN && attr_model_check(out, &ae) != 0)
        return asvc_fail(e, GRPC_STATUS_INVALID_ARGUMENT, "%s", ae.msg);
    return 0;
}

/* Contacts of the opportunities' accounts: where each touch belongs. */
static int place_touches(asvc *s, rpc_call *parent, asvc_attribution *a, uint32_t *touch_account,
                         int64_t *lead_created, asvc_err *e)
{
    uint32_t n_acc = intern_count(a->accounts);
    for (size_t i = 0; i < a->tps.n; i++)
        touch_account[i] = INTERN_NONE;
    if (n_acc == 0)
        return 0;
    char **acc = calloc(n_acc, sizeof *acc);
    if (!acc)
        return oom(e);
    for (uint32_t i = 0; i < n_acc; i++)
        acc[i] = (char *)intern_str(a->accounts, i);
    Campsync__V1__PersonList *pl = NULL;
    int rc = get_contacts(s, parent, acc, n_acc, false, &pl, e);
    free(acc);
    if (rc != 0)
        return -1;
    intern *people = intern_new(), *mails = intern_new();
    uint32_t *person_acc = calloc(pl->n_people * 2 + 1, sizeof *person_acc);
    uint32_t *mail_acc = person_acc ? person_acc + pl->n_people : NULL;
    if (!people || !mails || !person_acc) {
        rc = oom(e);
        goto done;
    }
    for (size_t i = 0; i < pl->n_people; i++) {
        const Campsync__V1__Person *p = pl->people[i];
        uint32_t acct = intern_find(a->accounts, p->account_id);
        if (acct == INTERN_NONE) /* 15-char form: compare by prefix */
            for (uint32_t k = 0; k < n_acc && acct == INTERN_NONE; k++)
                if (same_id(intern_str(a->accounts, k), p->account_id))
                    acct = k;
        uint32_t pid = intern_id(people, p->id);
        char *l = lower_dup(p->email);
        uint32_t mid = l && l[0] ? intern_id(mails, l) : INTERN_NONE;
        free(l);
        if (pid == INTERN_NONE) {
            rc = oom(e);
            goto done;
        }
        person_acc[pid] = acct;
        if (mid != INTERN_NONE)
            mail_acc[mid] = acct;
        if (acct != INTERN_NONE && p->created_date_ms > 0 &&
            (lead_created[acct] == 0 || p->created_date_ms < lead_created[acct]))
            lead_created[acct] = p->created_date_ms;
    }
    for (size_t i = 0; i < a->tps.n; i++) {
        const asvc_tp *t = &a->tps.v[i];
        uint32_t acct = t->account_id[0] ? intern_find(a->accounts, t->account_id) : INTERN_NONE;
        if (acct == INTERN_NONE && t->person_id[0]) {
            uint32_t pid = intern_find(people, t->person_id);
            if (pid != INTERN_NONE)
                acct = person_acc[pid];
        }
        if (acct == INTERN_NONE && t->email[0]) {
            char *l = lower_dup(t->email);
            uint32_t mid = l ? intern_find(mails, l) : INTERN_NONE;
            free(l);
            if (mid != INTERN_NONE)
                acct = mail_acc[mid];
        }
        touch_account[i] = acct;
    }
done:
    intern_free(people);
    intern_free(mails);
    free(person_acc);
    protobuf_c_message_free_unpacked(&pl->base, NULL);
    return rc;
}

int asvc_attribute(asvc *s, rpc_call *parent, char *const *opp_ids, size_t n_opp_ids,
                   const asvc_model_req *mreq, asvc_attribution **out, asvc_err *e)
{
    *out = NULL;
    attr_model model;
    if (build_model(mreq, &model, e) != 0)
        return -1;
    asvc_attribution *a = calloc(1, sizeof *a);
    if (!a)
        return oom(e);
    Campsync__V1__OpportunityList *ol = NULL;
    uint32_t *touch_account = NULL, *opp_account = NULL;
    int64_t *lead_created = NULL;
    intern *tpids = NULL;
    uint32_t *rank = NULL;
    int rc = -1;
    a->pool = intern_new();
    a->channels = intern_new();
    a->subchannels = intern_new();
    a->campaigns = intern_new();
    a->dimkeys = intern_new();
    a->accounts = intern_new();
    tpids = intern_new();
    if (!a->pool || !a->channels || !a->subchannels || !a->campaigns || !a->dimkeys ||
        !a->accounts || !tpids) {
        oom(e);
        goto done;
    }
    if (asvc_store_load_all(a->pool, &a->tps, e) != 0 ||
        get_opportunities(s, parent, &a->tps, opp_ids, n_opp_ids, &ol, e) != 0)
        goto done;

    a->n_opps = ol->n_opportunities;
    a->opp_ids = calloc(a->n_opps + 1, sizeof *a->opp_ids);
    a->opps = calloc(a->n_opps + 1, sizeof *a->opps);
    opp_account = calloc(a->n_opps + 1, sizeof *opp_account);
    a->touches = calloc(a->tps.n + 1, sizeof *a->touches);
    touch_account = calloc(a->tps.n + 1, sizeof *touch_account);
    if (!a->opp_ids || !a->opps || !opp_account || !a->touches || !touch_account) {
        oom(e);
        goto done;
    }
    for (size_t o = 0; o < a->n_opps; o++) {
        const Campsync__V1__Opportunity *op = ol->opportunities[o];
        a->opp_ids[o] = strdup(op->id);
        if (!a->opp_ids[o]) {
            oom(e);
            goto done;
        }
        opp_account[o] = op->account_id[0] ? intern_id(a->accounts, op->account_id) : INTERN_NONE;
        attr_opp *ao = &a->opps[o];
        ao->created_ms = op->created_date_ms;
        ao->amount_minor = op->amount_minor == INT64_MIN ? 0 : op->amount_minor;
        if (op->is_closed && op->close_date[0]) {
            attr_error ae = {{0}};
            if (tp_date_parse(op->close_date, &ao->close_ms, &ae) != 0) {
                asvc_fail(e, GRPC_STATUS_FAILED_PRECONDITION, "opportunity %s CloseDate: %s",
                          op->id, ae.msg);
                goto done;
            }
            ao->won = op->is_won;
        }
    }
    uint32_t n_acc = intern_count(a->accounts);
    lead_created = calloc(n_acc + 1, sizeof *lead_created);
    if (!lead_created) {
        oom(e);
        goto done;
    }
    if (place_touches(s, parent, a, touch_account, lead_created, e) != 0)
        goto done;
    for (size_t o = 0; o < a->n_opps; o++)
        if (opp_account[o] != INTERN_NONE)
            a->opps[o].lead_created_ms = lead_created[opp_account[o]];

    for (size_t i = 0; i < a->tps.n; i++)
        if (intern_id(tpids, a->tps.v[i].id) != i) {
            /* the same id twice (cannot happen: ids are keys) */
            asvc_fail(e, GRPC_STATUS_INTERNAL, "touchpoint %s stored twice", a->tps.v[i].id);
            goto done;
        }
    rank = calloc(a->tps.n + 1, sizeof *rank);
    if (!rank || intern_ranks(tpids, rank) != 0) {
        oom(e);
        goto done;
    }
    for (size_t i = 0; i < a->tps.n; i++) {
        const asvc_tp *t = &a->tps.v[i];
        uint32_t d = dim_of(a, t);
        if (d == INTERN_NONE) {
            oom(e);
            goto done;
        }
        a->touches[i] = (attr_touch){
            .at_ms = t->at_ms, .tie = rank[i], .dim = d, .flags = t->form ? ATTR_TOUCH_FORM : 0};
    }
    attr_error ae = {{0}};
    if (attr_journeys_by_account(a->touches, touch_account, a->tps.n, a->opps, opp_account,
                                 a->n_opps, n_acc, &a->journey, &a->n_journey, &ae) != 0) {
        asvc_fail(e, GRPC_STATUS_INTERNAL, "%s", ae.msg);
        goto done;
    }
    if (model.kind == ATTR_MODEL_CUSTOM && model.custom.n_stages) {
        /* Stage transition times come with the request (one per stage). */
        a->stage_ms = calloc(a->n_opps * ATTR_MAX_STAGES + 1, sizeof *a->stage_ms);
        if (!a->stage_ms) {
            oom(e);
            goto done;
        }
        for (size_t o = 0; o < a->n_opps; o++)
            for (size_t k = 0; k < model.custom.n_stages; k++)
                a->stage_ms[o * ATTR_MAX_STAGES + k] = mreq->custom->stages[k]->transition_at_ms;
    }
    a->ds = (attr_dataset){.touches = a->touches,
                           .n_touches = a->tps.n,
                           .dims = a->dims,
                           .n_dims = a->n_dims,
                           .n_channels = intern_count(a->channels),
                           .opps = a->opps,
                           .n_opps = a->n_opps,
                           .journey = a->journey,
                           .n_journey = a->n_journey,
                           .stage_ms = a->stage_ms};
    if (attr_dataset_check(&a->ds, &ae) != 0) {
        asvc_fail(e, GRPC_STATUS_INTERNAL, "dataset: %s", ae.msg);
        goto done;
    }
    if (model.kind == ATTR_MODEL_DATA_DRIVEN) {
        if (attr_markov_train(&a->ds, &a->markov, &ae) != 0) {
            asvc_fail(e, GRPC_STATUS_FAILED_PRECONDITION, "data-driven model: %s", ae.msg);
            goto done;
        }
        model.markov = a->markov;
        if (attr_model_check(&model, &ae) != 0) {
            asvc_fail(e, GRPC_STATUS_INVALID_ARGUMENT, "%s", ae.msg);
            goto done;
        }
    }
    if (attr_run(&a->ds, &model, &a->res, &ae) != 0) {
        asvc_fail(e, GRPC_STATUS_INTERNAL, "attribution: %s", ae.msg);
        goto done;
    }
    rc = 0;
done:
    if (ol)
        protobuf_c_message_free_unpacked(&ol->base, NULL);
    free(touch_account);
    free(opp_account);
    free(lead_created);
    free(rank);
    intern_free(tpids);
    if (rc != 0)
        asvc_attribution_free(a);
    else
        *out = a;
    return rc;
}

size_t asvc_attribution_opps(const asvc_attribution *a)
{
    return a->n_opps;
}

const char *asvc_attribution_opp(const asvc_attribution *a, size_t i, int64_t *amount,
                                 size_t *n_touches)
{
    *amount = a->opps[i].amount_minor;
    *n_touches = a->res.n_in[i];
    return a->opp_ids[i];
}

void asvc_attribution_touch(const asvc_attribution *a, size_t i, size_t k, asvc_att_touch *out)
{
    size_t j = a->opps[i].first + k;
    out->tp = &a->tps.v[a->journey[j]];
    out->positions = a->res.positions[j] & (ATTR_POS_FT | ATTR_POS_LC | ATTR_POS_OC | ATTR_POS_CW);
    out->ppm = a->res.ppm[j];
    out->revenue = a->res.revenue[j];
}

int asvc_report(const asvc_attribution *a, const char *group_by, int64_t from_ms, int64_t to_ms,
                Campsync__V1__ReportResponse *out, rpc_call *call, asvc_err *e)
{
    attr_group_by g;
    attr_error ae = {{0}};
    if (attr_group_by_parse(group_by && group_by[0] ? group_by : "channel", &g, &ae) != 0)
        return asvc_fail(e, GRPC_STATUS_INVALID_ARGUMENT, "group_by: %s", ae.msg);
    attr_report rep;
    if (attr_report_build(&a->ds, &a->res, g, from_ms, to_ms, &rep, &ae) != 0)
        return asvc_fail(e, GRPC_STATUS_INVALID_ARGUMENT, "%s", ae.msg);
    const intern *names = g == ATTR_GROUP_CHANNEL      ? a->channels
                          : g == ATTR_GROUP_SUBCHANNEL ? a->subchannels
                                                       : a->campaigns;
    out->n_rows = rep.n_rows;
    out->rows = rpc_call_alloc(call, (rep.n_rows + 1) * sizeof *out->rows);
    for (size_t i = 0; i < rep.n_rows; i++) {
        Campsync__V1__ReportRow *r = rpc_call_alloc(call, sizeof *r);
        campsync__v1__report_row__init(r);
        const char *key = intern_str(names, rep.rows[i].key);
        r->key = rpc_call_strdup(call, key && key[0] ? key : "(none)");
        r->revenue_minor = rep.rows[i].revenue_minor;
        r->touches = (int32_t)rep.rows[i].touches;
        r->opportunities = (int32_t)rep.rows[i].opportunities;
        out->rows[i] = r;
    }
    out->total_revenue_minor = rep.total_revenue_minor;
    attr_report_free(&rep);
    return 0;
}
