/*
 * The "Member of SFDC campaign" filter (SPEC C9) and the three flow actions
 * (C10). They act on the Salesforce campaign only: when the campaign is
 * linked, the next cycle sees the change as a Salesforce change, carries it
 * to the program and emits its event, exactly once.
 *
 * A person is given as a Marketo lead id, an email or a Salesforce id; it is
 * resolved the way C5 matches people (the lead's linked Contact/Lead, else by
 * email, a Contact before a Lead). A whole request costs a handful of calls:
 * one lookup per kind, one read of those people's memberships in the
 * campaign (by id, not the whole campaign), one write per kind (the
 * connector batches by 200).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recon_svc.h"

typedef struct {
    const char *sf_id;              /* resolved Salesforce person, NULL if none */
    const char *email;              /* to create a Lead with */
    const Campsync__V1__Lead *lead; /* Marketo details when known */
    const char *member_id;          /* CampaignMember id when a member */
    const char *member_status;
    Campsync__V1__RecordResult *res;
    bool pending; /* still to be written */
} person;

static bool same_email(const char *a, const char *b)
{
    char x[PEOPLE_MAX_TEXT], y[PEOPLE_MAX_TEXT];
    return people_normalize_email(a, x, sizeof x) && people_normalize_email(b, y, sizeof y) &&
           strcmp(x, y) == 0;
}

/* The campaign members of the resolved people (none resolved: no call; the
 * connector asks for each person once). */
static int read_members(rc_svc *s, rpc_call *call, const char *campaign, const person *ps, size_t n,
                        rc_bag *bag, rc_err *err)
{
    char **ids = rpc_call_alloc(call, (n + 1) * sizeof *ids);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ps[i].sf_id)
            ids[k++] = (char *)ps[i].sf_id;
    if (k == 0)
        return 0;
    Campsync__V1__StreamCampaignMembersRequest rq =
        CAMPSYNC__V1__STREAM_CAMPAIGN_MEMBERS_REQUEST__INIT;
    rq.campaign_id = (char *)campaign;
    rq.person_ids = ids;
    rq.n_person_ids = k;
    rpc_error e = {0};
    rpc_call_opts o = {.parent = call, .timeout_ms = 120000};
    rpc_stream *st = NULL;
    int rc = rpc_stream_open(s->sf, &campsync__v1__salesforce_connector__descriptor,
                             "StreamCampaignMembers", &rq.base, &o, &st, &e);
    if (rc != 0)
        return rc_fail(err, rc, "salesforce connector StreamCampaignMembers: %s", e.message);
    for (;;) {
        ProtobufCMessage *m = NULL;
        int got = rpc_stream_next(st, &m, &e);
        if (got == 0)
            break;
        if (got < 0 || rc_bag_add(bag, m) != 0) {
            rpc_stream_close(st);
            return rc_fail(err, got < 0 && e.code ? e.code : GRPC_STATUS_UNAVAILABLE,
                           "salesforce connector StreamCampaignMembers: %s", e.message);
        }
    }
    rpc_stream_close(st);
    return 0;
}

static void find_member(const rc_bag *bag, size_t first, size_t last, person *p)
{
    for (size_t b = first; b < last && p->sf_id; b++) {
        const Campsync__V1__CampaignMemberPage *pg = (const void *)bag->m[b];
        for (size_t i = 0; i < pg->n_members; i++) {
            const Campsync__V1__CampaignMember *m = pg->members[i];
            const char *pid = m->contact_id && m->contact_id[0] ? m->contact_id : m->lead_id;
            if (!m->is_deleted && pid && strcmp(pid, p->sf_id) == 0) {
                p->member_id = m->id;
                p->member_status = m->status;
                return;
            }
        }
    }
}

/* Resolves every person to a Salesforce id where one exists. */
static int resolve(rc_svc *s, rpc_call *call, const Campsync__V1__FlowActionRequest *rq, person *ps,
                   rc_bag *bag, rc_err *err)
{
    size_t n = rq->n_people;
    int64_t *ids = calloc(n + 1, sizeof *ids);
    char **emails = calloc(n + 1, sizeof *emails);
    size_t n_ids = 0, n_emails = 0;
    int rc = -1;
    if (!ids || !emails) {
        rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const Campsync__V1__PersonRef *r = rq->people[i];
        if (r->sfdc_id && r->sfdc_id[0])
            ps[i].sf_id = r->sfdc_id;
        else if (r->lead_id > 0)
            ids[n_ids++] = r->lead_id;
        if (r->email && r->email[0])
            ps[i].email = r->email;
    }
    if (n_ids > 0) {
        Campsync__V1__GetLeadsRequest gl = CAMPSYNC__V1__GET_LEADS_REQUEST__INIT;
        gl.ids = ids;
        gl.n_ids = n_ids;
        ProtobufCMessage *m = NULL;
        if (rc_mkto_call(s, call, "GetLeads", &gl.base, &m, err) != 0 || rc_bag_add(bag, m) != 0)
            goto out;
        const Campsync__V1__GetLeadsResponse *lr = (const void *)m;
        for (size_t i = 0; i < n; i++) {
            const Campsync__V1__PersonRef *r = rq->people[i];
            if (ps[i].sf_id || r->lead_id <= 0)
                continue;
            for (size_t k = 0; k < lr->n_leads; k++) {
                const Campsync__V1__Lead *l = lr->leads[k];
                if (l->id != r->lead_id)
                    continue;
                ps[i].lead = l;
                if (!ps[i].email)
                    ps[i].email = l->email;
                if (l->sfdc_contact_id && l->sfdc_contact_id[0])
                    ps[i].sf_id = l->sfdc_contact_id;
                else if (l->sfdc_lead_id && l->sfdc_lead_id[0])
                    ps[i].sf_id = l->sfdc_lead_id;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!ps[i].sf_id && ps[i].email && ps[i].email[0])
            emails[n_emails++] = (char *)ps[i].email;
    if (n_emails > 0) {
        const char *methods[] = {"GetContacts", "GetLeads"};
        for (int k = 0; k < 2; k++) {
            Campsync__V1__GetPeopleRequest gp = CAMPSYNC__V1__GET_PEOPLE_REQUEST__INIT;
            gp.emails = emails;
            gp.n_emails = n_emails;
            ProtobufCMessage *m = NULL;
            if (rc_sf_call(s, call, methods[k], &gp.base, &m, err) != 0 || rc_bag_add(bag, m) != 0)
                goto out;
            const Campsync__V1__PersonList *pl = (const void *)m;
            for (size_t i = 0; i < n; i++) {
                if (ps[i].sf_id || !ps[i].email)
                    continue;
                const char *best = NULL;
                for (size_t j = 0; j < pl->n_people; j++) {
                    const Campsync__V1__Person *p = pl->people[j];
                    if (p->is_converted || !same_email(p->email, ps[i].email))
                        continue;
                    if (!best || strcmp(p->id, best) < 0)
                        best = p->id;
                }
                ps[i].sf_id = best;
            }
        }
    }
    rc = 0;
out:
    free(ids);
    free(emails);
    return rc;
}

static Campsync__V1__RecordResult *result(rpc_call *call, size_t i, const char *key)
{
    Campsync__V1__RecordResult *r = rpc_call_alloc(call, sizeof *r);
    campsync__v1__record_result__init(r);
    r->index = (int32_t)i;
    r->key = rpc_call_strdup(call, key ? key : "");
    return r;
}

static void set_outcome(rpc_call *call, Campsync__V1__RecordResult *r, Campsync__V1__Outcome o,
                        const char *id, const char *code, const char *reason)
{
    r->outcome = o;
    r->id = rpc_call_strdup(call, id ? id : "");
    r->code = rpc_call_strdup(call, code ? code : "");
    r->reason = rpc_call_strdup(call, reason ? reason : "");
}

static void take_batch(rpc_call *call, person **which, size_t n, ProtobufCMessage *out, int rc,
                       const rc_err *err, Campsync__V1__Outcome ok)
{
    const Campsync__V1__BatchResult *br = (const void *)out;
    for (size_t j = 0; j < n; j++) {
        Campsync__V1__RecordResult *r = which[j]->res;
        which[j]->pending = false;
        if (rc != 0) {
            set_outcome(call, r, CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED, NULL,
                        rpc_status_name(err->code), err->msg);
            continue;
        }
        const Campsync__V1__RecordResult *x = j < br->n_results ? br->results[j] : NULL;
        if (!x)
            set_outcome(call, r, CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED, NULL, "",
                        "no result from the connector");
        else if (x->outcome == CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED ||
                 x->outcome == CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED)
            set_outcome(call, r, x->outcome, x->id, x->code, x->reason);
        else
            set_outcome(call, r, ok, x->id, "", "");
    }
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
}

/* Creates Leads for the people with pending set and no Salesforce id. */
static int create_leads(rc_svc *s, rpc_call *call, person *ps, size_t n, rc_err *err)
{
    size_t k = 0;
    Campsync__V1__Person *leads = rpc_call_alloc(call, (n + 1) * sizeof *leads);
    Campsync__V1__Person **lp = rpc_call_alloc(call, (n + 1) * sizeof *lp);
    person **who = rpc_call_alloc(call, (n + 1) * sizeof *who);
    for (size_t i = 0; i < n; i++) {
        if (!ps[i].pending || ps[i].sf_id)
            continue;
        const Campsync__V1__Lead *l = ps[i].lead;
        campsync__v1__person__init(&leads[k]);
        leads[k].kind = "Lead";
        leads[k].email = (char *)ps[i].email;
        leads[k].first_name = l && l->first_name ? l->first_name : "";
        leads[k].last_name =
            l && l->last_name && l->last_name[0] ? l->last_name : PLAN_NOT_PROVIDED;
        leads[k].company = l && l->company && l->company[0] ? l->company : PLAN_NOT_PROVIDED;
        lp[k] = &leads[k];
        who[k++] = &ps[i];
    }
    if (k == 0)
        return 0;
    Campsync__V1__CreateLeadsRequest rq = CAMPSYNC__V1__CREATE_LEADS_REQUEST__INIT;
    rq.leads = lp;
    rq.n_leads = k;
    ProtobufCMessage *out = NULL;
    if (rc_sf_call(s, call, "CreateLeads", &rq.base, &out, err) != 0) {
        for (size_t j = 0; j < k; j++) {
            set_outcome(call, who[j]->res, CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED, NULL,
                        rpc_status_name(err->code), err->msg);
            who[j]->pending = false;
        }
        return 0;
    }
    const Campsync__V1__BatchResult *br = (const void *)out;
    for (size_t j = 0; j < k; j++) {
        const Campsync__V1__RecordResult *x = j < br->n_results ? br->results[j] : NULL;
        if (x && x->outcome != CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED && x->id && x->id[0]) {
            who[j]->sf_id = rpc_call_strdup(call, x->id);
        } else {
            set_outcome(call, who[j]->res, CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED, NULL,
                        x ? x->code : "", x ? x->reason : "lead not created");
            who[j]->pending = false;
        }
    }
    protobuf_c_message_free_unpacked(out, NULL);
    return 0;
}

static void add_members(rc_svc *s, rpc_call *call, const char *campaign, const char *status,
                        person *ps, size_t n)
{
    size_t k = 0;
    Campsync__V1__NewMember *nm = rpc_call_alloc(call, (n + 1) * sizeof *nm);
    Campsync__V1__NewMember **np = rpc_call_alloc(call, (n + 1) * sizeof *np);
    person **who = rpc_call_alloc(call, (n + 1) * sizeof *who);
    for (size_t i = 0; i < n; i++) {
        if (!ps[i].pending || ps[i].member_id || !ps[i].sf_id)
            continue;
        campsync__v1__new_member__init(&nm[k]);
        if (strncmp(ps[i].sf_id, "003", 3) == 0)
            nm[k].contact_id = (char *)ps[i].sf_id;
        else
            nm[k].lead_id = (char *)ps[i].sf_id;
        nm[k].status = (char *)(status ? status : "");
        np[k] = &nm[k];
        who[k++] = &ps[i];
    }
    if (k == 0)
        return;
    Campsync__V1__AddMembersRequest rq = CAMPSYNC__V1__ADD_MEMBERS_REQUEST__INIT;
    rq.campaign_id = (char *)campaign;
    rq.members = np;
    rq.n_members = k;
    ProtobufCMessage *out = NULL;
    rc_err err = {0};
    int rc = rc_sf_call(s, call, "AddMembers", &rq.base, &out, &err);
    take_batch(call, who, k, out, rc, &err, CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED);
}

int rc_is_member(rc_svc *s, rpc_call *call, const Campsync__V1__MembershipQuery *rq,
                 Campsync__V1__MembershipAnswer *out, rc_err *err)
{
    if (!rq->campaign_id || !rq->campaign_id[0])
        return rc_fail(err, GRPC_STATUS_INVALID_ARGUMENT, "campaign_id is required");
    const Campsync__V1__PersonRef *p = rq->person;
    if (!p || (p->lead_id <= 0 && !(p->email && p->email[0]) && !(p->sfdc_id && p->sfdc_id[0])))
        return rc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
                       "person is required: a lead_id, an email or a sfdc_id");
    Campsync__V1__PersonRef *people[] = {(Campsync__V1__PersonRef *)p};
    Campsync__V1__FlowActionRequest fr = CAMPSYNC__V1__FLOW_ACTION_REQUEST__INIT;
    fr.campaign_id = rq->campaign_id;
    fr.people = people;
    fr.n_people = 1;
    person ps = {0};
    rc_bag bag = {0};
    int rc = -1;
    if (resolve(s, call, &fr, &ps, &bag, err) != 0)
        goto out;
    size_t first = bag.n;
    if (read_members(s, call, rq->campaign_id, &ps, 1, &bag, err) != 0)
        goto out;
    find_member(&bag, first, bag.n, &ps);
    out->is_member = ps.member_id != NULL;
    out->status = rpc_call_strdup(call, ps.member_status ? ps.member_status : "");
    out->member_id = rpc_call_strdup(call, ps.member_id ? ps.member_id : "");
    rc = 0;
out:
    rc_bag_free(&bag);
    return rc;
}

int rc_flow(rc_svc *s, rpc_call *call, rc_flow_kind kind, const Campsync__V1__FlowActionRequest *rq,
            Campsync__V1__BatchResult *out, rc_err *err)
{
    if (rc_check_sync_enabled(s, err) != 0)
        return -1;
    if (!rq->campaign_id || !rq->campaign_id[0])
        return rc_fail(err, GRPC_STATUS_INVALID_ARGUMENT, "campaign_id is required");
    if (rq->n_people == 0)
        return rc_fail(err, GRPC_STATUS_INVALID_ARGUMENT, "people is empty");
    if (kind == RC_FLOW_STATUS && (!rq->status || !rq->status[0]))
        return rc_fail(err, GRPC_STATUS_INVALID_ARGUMENT, "status (the new status) is required");
    size_t n = rq->n_people;
    for (size_t i = 0; i < n; i++) {
        const Campsync__V1__PersonRef *p = rq->people[i];
        if (p->lead_id <= 0 && !(p->email && p->email[0]) && !(p->sfdc_id && p->sfdc_id[0]))
            return rc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
                           "people[%zu]: give a lead_id, an email or a sfdc_id", i);
    }
    person *ps = rpc_call_alloc(call, n * sizeof *ps);
    rc_bag bag = {0};
    int rc = -1;
    if (resolve(s, call, rq, ps, &bag, err) != 0)
        goto out;
    size_t first = bag.n;
    if (read_members(s, call, rq->campaign_id, ps, n, &bag, err) != 0)
        goto out;
    out->results = rpc_call_alloc(call, n * sizeof *out->results);
    out->n_results = n;
    for (size_t i = 0; i < n; i++) {
        const Campsync__V1__PersonRef *r = rq->people[i];
        char key[64];
        snprintf(key, sizeof key, "%" PRId64, r->lead_id);
        ps[i].res = result(call, i,
                           r->sfdc_id && r->sfdc_id[0] ? r->sfdc_id
                           : r->email && r->email[0]   ? r->email
                                                       : key);
        out->results[i] = ps[i].res;
        find_member(&bag, first, bag.n, &ps[i]);
        ps[i].pending = true;
        bool member = ps[i].member_id != NULL;
        if (kind == RC_FLOW_ADD && member) {
            char why[300];
            snprintf(why, sizeof why, "already a member with status \"%s\"; status not changed",
                     ps[i].member_status ? ps[i].member_status : "");
            set_outcome(call, ps[i].res, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED, ps[i].member_id,
                        "ALREADY_MEMBER", why);
            ps[i].pending = false;
        } else if (kind == RC_FLOW_REMOVE && !member) {
            set_outcome(call, ps[i].res, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED, NULL, "NOT_MEMBER",
                        "not a member of the campaign");
            ps[i].pending = false;
        } else if (kind == RC_FLOW_STATUS && member && ps[i].member_status &&
                   strcmp(ps[i].member_status, rq->status) == 0) {
            set_outcome(call, ps[i].res, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED, ps[i].member_id,
                        "SAME_STATUS", "already has this status");
            ps[i].pending = false;
        } else if (!member && !ps[i].sf_id && !(ps[i].email && ps[i].email[0])) {
            set_outcome(call, ps[i].res, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED, NULL, "NO_EMAIL",
                        "not in Salesforce and no email to create a Lead with");
            ps[i].pending = false;
        }
    }
    rc_err e2 = {0};
    if (kind == RC_FLOW_REMOVE) {
        size_t k = 0;
        char **ids = rpc_call_alloc(call, n * sizeof *ids);
        person **who = rpc_call_alloc(call, n * sizeof *who);
        for (size_t i = 0; i < n; i++)
            if (ps[i].pending) {
                ids[k] = (char *)ps[i].member_id;
                who[k++] = &ps[i];
            }
        if (k > 0) {
            Campsync__V1__RemoveCampaignMembersRequest r2 =
                CAMPSYNC__V1__REMOVE_CAMPAIGN_MEMBERS_REQUEST__INIT;
            r2.member_ids = ids;
            r2.n_member_ids = k;
            ProtobufCMessage *o2 = NULL;
            int x = rc_sf_call(s, call, "RemoveMembers", &r2.base, &o2, &e2);
            take_batch(call, who, k, o2, x, &e2, CAMPSYNC__V1__OUTCOME__OUTCOME_DELETED);
        }
    } else {
        if (kind == RC_FLOW_STATUS) {
            size_t k = 0;
            Campsync__V1__MemberStatusChange *ch = rpc_call_alloc(call, n * sizeof *ch);
            Campsync__V1__MemberStatusChange **cp = rpc_call_alloc(call, n * sizeof *cp);
            person **who = rpc_call_alloc(call, n * sizeof *who);
            for (size_t i = 0; i < n; i++) {
                if (!ps[i].pending || !ps[i].member_id)
                    continue;
                campsync__v1__member_status_change__init(&ch[k]);
                ch[k].member_id = (char *)ps[i].member_id;
                ch[k].status = rq->status;
                cp[k] = &ch[k];
                who[k++] = &ps[i];
            }
            if (k > 0) {
                Campsync__V1__UpdateMemberStatusRequest r2 =
                    CAMPSYNC__V1__UPDATE_MEMBER_STATUS_REQUEST__INIT;
                r2.changes = cp;
                r2.n_changes = k;
                ProtobufCMessage *o2 = NULL;
                int x = rc_sf_call(s, call, "UpdateMemberStatus", &r2.base, &o2, &e2);
                take_batch(call, who, k, o2, x, &e2, CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED);
            }
        }
        /* Add (and Change for non-members): create missing people, then add. */
        create_leads(s, call, ps, n, &e2);
        add_members(s, call, rq->campaign_id, rq->status, ps, n);
    }
    for (size_t i = 0; i < n; i++) {
        switch (ps[i].res->outcome) {
        case CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED:
            out->added++;
            break;
        case CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED:
            out->updated++;
            break;
        case CAMPSYNC__V1__OUTCOME__OUTCOME_DELETED:
            out->deleted++;
            break;
        case CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED:
            out->skipped++;
            break;
        case CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED:
            out->failed++;
            break;
        default:
            break;
        }
    }
    rc = 0;
out:
    rc_bag_free(&bag);
    return rc;
}
