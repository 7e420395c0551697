/*
 * gRPC methods of campsync.v1.MembershipReconciler: validate, call the
 * service's logic, map its errors (rc_err carries the gRPC status). Every
 * method waits on the connectors or Redis, so all run on their own threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recon_svc.h"

static rc_svc *svc(rpc_call *call)
{
    return rpc_call_service_data(call);
}

static int fail(rpc_call *call, const rc_err *e)
{
    return rpc_call_fail(call, e->code ? e->code : GRPC_STATUS_INTERNAL, "%s", e->msg);
}

static Campsync__V1__Pair *pair_msg(rpc_call *call, const rc_pair *p)
{
    Campsync__V1__Pair *m = rpc_call_alloc(call, sizeof *m);
    campsync__v1__pair__init(m);
    m->program_id = p->program_id;
    m->campaign_id = rpc_call_strdup(call, p->campaign_id);
    m->program_name = rpc_call_strdup(call, p->program_name);
    m->campaign_name = rpc_call_strdup(call, p->campaign_name);
    m->channel = rpc_call_strdup(call, p->channel);
    m->linked_at_ms = p->linked_at_ms;
    m->last_cycle_at_ms = p->last_cycle_at_ms;
    m->last_cycle_status = rpc_call_strdup(call, p->last_cycle_status);
    return m;
}

static int link_h(rpc_call *call, const ProtobufCMessage *request, ProtobufCMessage **response)
{
    rc_pair p;
    rc_err e = {0};
    if (rc_link(svc(call), call, (const void *)request, &p, &e) != 0)
        return fail(call, &e);
    *response = &pair_msg(call, &p)->base;
    return GRPC_STATUS_OK;
}

static int unlink_h(rpc_call *call, const ProtobufCMessage *request, ProtobufCMessage **response)
{
    const Campsync__V1__UnlinkRequest *rq = (const void *)request;
    rc_err e = {0};
    if (rc_unlink(rq->program_id, &e) != 0)
        return fail(call, &e);
    Campsync__V1__Empty *m = rpc_call_alloc(call, sizeof *m);
    campsync__v1__empty__init(m);
    *response = &m->base;
    return GRPC_STATUS_OK;
}

static int list_pairs_h(rpc_call *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response)
{
    (void)request;
    rc_pair *pairs = NULL;
    size_t n = 0;
    rc_err e = {0};
    if (rc_pair_list(&pairs, &n, &e) != 0)
        return fail(call, &e);
    Campsync__V1__PairList *l = rpc_call_alloc(call, sizeof *l);
    campsync__v1__pair_list__init(l);
    l->pairs = rpc_call_alloc(call, (n + 1) * sizeof *l->pairs);
    for (size_t i = 0; i < n; i++)
        l->pairs[l->n_pairs++] = pair_msg(call, &pairs[i]);
    free(pairs);
    *response = &l->base;
    return GRPC_STATUS_OK;
}

static merge_policy policy_of(rc_svc *s, Campsync__V1__ConflictPolicy p)
{
    switch (p) {
    case CAMPSYNC__V1__CONFLICT_POLICY__MARKETO_WINS:
        return MERGE_MARKETO_WINS;
    case CAMPSYNC__V1__CONFLICT_POLICY__SALESFORCE_WINS:
        return MERGE_SALESFORCE_WINS;
    case CAMPSYNC__V1__CONFLICT_POLICY__LATEST_WINS:
        return MERGE_LATEST_WINS;
    default:
        return s->policy;
    }
}

static int check_policy(rpc_call *call, const Campsync__V1__SyncRequest *rq)
{
    if ((int)rq->policy < 0 || rq->policy > CAMPSYNC__V1__CONFLICT_POLICY__LATEST_WINS)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "unknown conflict policy %d",
                             (int)rq->policy);
    return GRPC_STATUS_OK;
}

static void progress(void *user, const char *phase, int done, int total)
{
    rpc_call *call = user;
    Campsync__V1__SyncProgress m = CAMPSYNC__V1__SYNC_PROGRESS__INIT;
    m.phase = (char *)phase;
    m.done = done;
    m.total = total;
    rpc_call_send(call, &m.base); /* a gone client shows as cancellation */
}

static int sync_now_h(rpc_call *call, const ProtobufCMessage *request)
{
    const Campsync__V1__SyncRequest *rq = (const void *)request;
    int rc = check_policy(call, rq);
    if (rc != GRPC_STATUS_OK)
        return rc;
    rc_svc *s = svc(call);
    rc_cycle_opts o = {.policy = policy_of(s, rq->policy),
                       .full = rq->full,
                       .parent = call,
                       .progress = progress,
                       .progress_user = call};
    Campsync__V1__CycleRecord *rec = NULL;
    bool busy = false;
    rc_err e = {0};
    int rc2 = rc_cycle_run(s, rq->program_id, &o, &rec, NULL, &busy, &e);
    if (rc2 != 0 && !rec)
        return fail(call, &e);
    if (busy)
        return rpc_call_fail(call, GRPC_STATUS_UNAVAILABLE,
                             "program %lld: a cycle is already running (another request or "
                             "replica holds the pair's lock); retry shortly",
                             (long long)rq->program_id);
    rpc_call_adopt_message(call, &rec->base);
    Campsync__V1__SyncProgress m = CAMPSYNC__V1__SYNC_PROGRESS__INIT;
    m.phase = "done";
    m.done = 1;
    m.total = 1;
    m.record = rec;
    if (rpc_call_send(call, &m.base) != 0)
        return GRPC_STATUS_CANCELLED;
    if (rc2 != 0)
        return fail(call, &e);
    if (strncmp(rec->message, "ABORTED", 7) == 0)
        return rpc_call_fail(call, GRPC_STATUS_ABORTED, "%s", rec->message);
    return GRPC_STATUS_OK;
}

static int dry_run_h(rpc_call *call, const ProtobufCMessage *request, ProtobufCMessage **response)
{
    const Campsync__V1__SyncRequest *rq = (const void *)request;
    int rc = check_policy(call, rq);
    if (rc != GRPC_STATUS_OK)
        return rc;
    rc_svc *s = svc(call);
    rc_cycle_opts o = {.policy = policy_of(s, rq->policy), .dry_run = true, .parent = call};
    Campsync__V1__CycleRecord *rec = NULL;
    Campsync__V1__SyncPlan *sp = NULL;
    bool busy = false;
    rc_err e = {0};
    if (rc_cycle_run(s, rq->program_id, &o, &rec, &sp, &busy, &e) != 0)
        return fail(call, &e);
    rpc_call_adopt_message(call, &sp->base);
    *response = &sp->base;
    return GRPC_STATUS_OK;
}

static int list_cycles_h(rpc_call *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response)
{
    const Campsync__V1__ListCyclesRequest *rq = (const void *)request;
    if (rq->program_id <= 0)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "program_id must be > 0");
    if (rq->limit < 0 || rq->limit > 1000)
        return rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "limit must be 0..1000");
    Campsync__V1__CycleRecord **v = NULL;
    size_t n = 0;
    rc_err e = {0};
    if (rc_cycles_list(rq->program_id, rq->limit ? rq->limit : 20, &v, &n, &e) != 0)
        return fail(call, &e);
    Campsync__V1__CycleList *l = rpc_call_alloc(call, sizeof *l);
    campsync__v1__cycle_list__init(l);
    l->cycles = rpc_call_alloc(call, (n + 1) * sizeof *l->cycles);
    for (size_t i = 0; i < n; i++) {
        rpc_call_adopt_message(call, &v[i]->base);
        l->cycles[l->n_cycles++] = v[i];
    }
    free(v);
    *response = &l->base;
    return GRPC_STATUS_OK;
}

static int watch_h(rpc_call *call, const ProtobufCMessage *request)
{
    return rc_watch_events(call, (const void *)request);
}

static int is_member_h(rpc_call *call, const ProtobufCMessage *request, ProtobufCMessage **response)
{
    Campsync__V1__MembershipAnswer *a = rpc_call_alloc(call, sizeof *a);
    campsync__v1__membership_answer__init(a);
    rc_err e = {0};
    if (rc_is_member(svc(call), call, (const void *)request, a, &e) != 0)
        return fail(call, &e);
    *response = &a->base;
    return GRPC_STATUS_OK;
}

static int flow(rpc_call *call, rc_flow_kind kind, const ProtobufCMessage *request,
                ProtobufCMessage **response)
{
    Campsync__V1__FlowActionResponse *r = rpc_call_alloc(call, sizeof *r);
    Campsync__V1__BatchResult *br = rpc_call_alloc(call, sizeof *br);
    campsync__v1__flow_action_response__init(r);
    campsync__v1__batch_result__init(br);
    r->result = br;
    rc_err e = {0};
    if (rc_flow(svc(call), call, kind, (const void *)request, br, &e) != 0)
        return fail(call, &e);
    *response = &r->base;
    return GRPC_STATUS_OK;
}

static int add_h(rpc_call *call, const ProtobufCMessage *rq, ProtobufCMessage **out)
{
    return flow(call, RC_FLOW_ADD, rq, out);
}

static int remove_h(rpc_call *call, const ProtobufCMessage *rq, ProtobufCMessage **out)
{
    return flow(call, RC_FLOW_REMOVE, rq, out);
}

static int change_h(rpc_call *call, const ProtobufCMessage *rq, ProtobufCMessage **out)
{
    return flow(call, RC_FLOW_STATUS, rq, out);
}

const rpc_method rc_methods[] = {
    RPC_BLOCKING("Link", link_h),
    RPC_BLOCKING("Unlink", unlink_h),
    RPC_BLOCKING("ListPairs", list_pairs_h),
    RPC_STREAM("SyncNow", sync_now_h),
    RPC_BLOCKING("DryRun", dry_run_h),
    RPC_BLOCKING("ListCycles", list_cycles_h),
    RPC_STREAM("WatchEvents", watch_h),
    RPC_BLOCKING("IsMemberOfSfdcCampaign", is_member_h),
    RPC_BLOCKING("AddToSfdcCampaign", add_h),
    RPC_BLOCKING("RemoveFromSfdcCampaign", remove_h),
    RPC_BLOCKING("ChangeStatusInSfdcCampaign", change_h),
};
const size_t rc_n_methods = sizeof rc_methods / sizeof rc_methods[0];
