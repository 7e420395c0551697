/*
 * Linked pairs (SPEC C1, C6, C7): a Marketo program linked 1:1 to a
 * Salesforce campaign, kept in Redis under the {pairs} hash tag so the 1:1
 * check and the write are one Lua script (two replicas linking at once cannot
 * both win). Linking checks the preconditions every sync call shares (sync
 * switched on, integration user is a Marketing User) and the exact status
 * match of C6, creating missing statuses when asked (or always, for a
 * campaign it creates itself).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "recon_svc.h"
#include "redis/redis.h"

#define PAIRS_SCOPE "pairs"
#define NOT_IN_PROGRAM "Not in Program"

static int redis_fail(rc_err *err, const char *what, const rds_err *e)
{
    return rc_fail(err, GRPC_STATUS_UNAVAILABLE, "redis (%s): %s", what, e->msg);
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static int pair_key(int64_t program_id, char *out, size_t cap, rc_err *err)
{
    rds_err e = {0};
    if (rds_key(out, cap, &e, PAIRS_SCOPE, "pair:%lld", (long long)program_id) != 0)
        return redis_fail(err, "key", &e);
    return 0;
}

int rc_pair_get(int64_t program_id, rc_pair *out, bool *found, rc_err *err)
{
    char key[128];
    memset(out, 0, sizeof *out);
    *found = false;
    if (pair_key(program_id, key, sizeof key, err) != 0)
        return -1;
    rds_field *f = NULL;
    size_t n = 0;
    rds_err e = {0};
    if (rds_hgetall(key, &f, &n, &e) != 0)
        return redis_fail(err, "read pair", &e);
    for (size_t i = 0; i < n; i++) {
        const char *k = f[i].name, *v = f[i].value;
        if (strcmp(k, "program_id") == 0)
            out->program_id = strtoll(v, NULL, 10);
        else if (strcmp(k, "campaign_id") == 0)
            copy(out->campaign_id, sizeof out->campaign_id, v);
        else if (strcmp(k, "program_name") == 0)
            copy(out->program_name, sizeof out->program_name, v);
        else if (strcmp(k, "campaign_name") == 0)
            copy(out->campaign_name, sizeof out->campaign_name, v);
        else if (strcmp(k, "channel") == 0)
            copy(out->channel, sizeof out->channel, v);
        else if (strcmp(k, "linked_at_ms") == 0)
            out->linked_at_ms = strtoll(v, NULL, 10);
        else if (strcmp(k, "last_cycle_at_ms") == 0)
            out->last_cycle_at_ms = strtoll(v, NULL, 10);
        else if (strcmp(k, "last_cycle_status") == 0)
            copy(out->last_cycle_status, sizeof out->last_cycle_status, v);
        else if (strcmp(k, "tolerated_extra") == 0)
            copy(out->tolerated_extra, sizeof out->tolerated_extra, v);
    }
    *found = n > 0 && out->program_id == program_id && out->campaign_id[0];
    rds_fields_free(f, n);
    return 0;
}

static int cmp_pair(const void *a, const void *b)
{
    const rc_pair *x = a, *y = b;
    return (x->program_id > y->program_id) - (x->program_id < y->program_id);
}

int rc_pair_list(rc_pair **out, size_t *n_out, rc_err *err)
{
    *out = NULL;
    *n_out = 0;
    char key[128];
    rds_err e = {0};
    if (rds_key(key, sizeof key, &e, PAIRS_SCOPE, "programs") != 0)
        return redis_fail(err, "key", &e);
    redisReply *r = rds_command(1, &e, "SMEMBERS %s", key);
    if (!r)
        return redis_fail(err, "list pairs", &e);
    rc_pair *pairs = calloc(r->elements + 1, sizeof *pairs);
    if (!pairs) {
        freeReplyObject(r);
        return rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory listing pairs");
    }
    size_t n = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        int64_t pid = strtoll(r->element[i]->str, NULL, 10);
        bool found = false;
        if (rc_pair_get(pid, &pairs[n], &found, err) != 0) {
            freeReplyObject(r);
            free(pairs);
            return -1;
        }
        if (found)
            n++;
    }
    freeReplyObject(r);
    qsort(pairs, n, sizeof *pairs, cmp_pair);
    *out = pairs;
    *n_out = n;
    return 0;
}

static const char set_last_lua[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
                                   "redis.call('HSET', KEYS[1], 'last_cycle_at_ms', ARGV[1],\n"
                                   "           'last_cycle_status', ARGV[2])\n"
                                   "return 1\n";

int rc_pair_set_last_cycle(int64_t program_id, int64_t at_ms, const char *status, rc_err *err)
{
    char key[128], at[32];
    if (pair_key(program_id, key, sizeof key, err) != 0)
        return -1;
    snprintf(at, sizeof at, "%" PRId64, at_ms);
    const char *keys[] = {key};
    const char *args[] = {at, status};
    rds_err e = {0};
    redisReply *r = rds_eval(set_last_lua, 1, 1, keys, 2, args, &e);
    if (!r)
        return redis_fail(err, "update pair", &e);
    freeReplyObject(r);
    return 0;
}

int rc_pair_by_campaign(const char *campaign_id, int64_t *program_id, rc_err *err)
{
    char key[128];
    rds_err e = {0};
    *program_id = 0;
    if (rds_key(key, sizeof key, &e, PAIRS_SCOPE, "by_campaign") != 0)
        return redis_fail(err, "key", &e);
    redisReply *r = rds_command(1, &e, "HGET %s %s", key, campaign_id);
    if (!r)
        return redis_fail(err, "read pair", &e);
    if (r->type == REDIS_REPLY_STRING)
        *program_id = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return 0;
}

int rc_check_sync_enabled(const rc_svc *s, rc_err *err)
{
    if (!s->sync_enabled)
        return rc_fail(err, GRPC_STATUS_FAILED_PRECONDITION, "campaign sync is disabled");
    return 0;
}

int rc_check_marketing_user(rc_svc *s, rpc_call *parent, rc_err *err)
{
    Campsync__V1__Empty rq = CAMPSYNC__V1__EMPTY__INIT;
    ProtobufCMessage *out = NULL;
    if (rc_sf_call(s, parent, "CheckMarketingUser", &rq.base, &out, err) != 0)
        return -1;
    const Campsync__V1__MarketingUserCheck *c = (const void *)out;
    int rc = 0;
    if (!c->is_marketing_user)
        rc = rc_fail(err, GRPC_STATUS_FAILED_PRECONDITION,
                     "the Salesforce integration user %s (%s) is not a Marketing User "
                     "(User.UserPermissionsMarketingUser is off), so campaign sync cannot create "
                     "or change campaigns; fix: in Salesforce Setup > Users, edit that user, tick "
                     "the Marketing User checkbox, save, and retry",
                     c->username && c->username[0] ? c->username : "?",
                     c->user_id && c->user_id[0] ? c->user_id : "?");
    protobuf_c_message_free_unpacked(out, NULL);
    return rc;
}

int rc_channel_map(rc_svc *s, rpc_call *parent, const char *channel, smap **out, rc_err *err)
{
    *out = NULL;
    Campsync__V1__ListChannelsRequest rq = CAMPSYNC__V1__LIST_CHANNELS_REQUEST__INIT;
    rq.name = (char *)channel;
    ProtobufCMessage *msg = NULL;
    if (rc_mkto_call(s, parent, "ListChannels", &rq.base, &msg, err) != 0)
        return -1;
    const Campsync__V1__ListChannelsResponse *r = (const void *)msg;
    const Campsync__V1__Channel *ch = NULL;
    for (size_t i = 0; i < r->n_channels; i++)
        if (strcmp(r->channels[i]->name, channel) == 0)
            ch = r->channels[i];
    int rc = 0;
    if (!ch || ch->n_statuses == 0) {
        rc = rc_fail(err, GRPC_STATUS_FAILED_PRECONDITION,
                     "Marketo channel \"%s\" has no progression statuses", channel);
    } else {
        smap_mkto_status *st = calloc(ch->n_statuses, sizeof *st);
        if (!st) {
            rc = rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        } else {
            /* Marketo's implicit step 0 "Not in Program" means not a member:
             * it is no membership status and has no Salesforce label. */
            size_t k = 0;
            for (size_t i = 0; i < ch->n_statuses; i++)
                if (strcmp(ch->statuses[i]->name, NOT_IN_PROGRAM) != 0)
                    st[k++] = (smap_mkto_status){ch->statuses[i]->name, ch->statuses[i]->step,
                                                 ch->statuses[i]->success};
            recon_err re = {0};
            if (k == 0)
                rc = rc_fail(err, GRPC_STATUS_FAILED_PRECONDITION,
                             "Marketo channel \"%s\" has no progression statuses", channel);
            else if (smap_create(st, k, out, &re) != 0)
                rc = rc_fail(err, GRPC_STATUS_FAILED_PRECONDITION, "channel \"%s\": %s", channel,
                             re.msg);
            free(st);
        }
    }
    protobuf_c_message_free_unpacked(msg, NULL);
    return rc;
}

/* The campaign's statuses as the core wants them; *msg keeps the strings. */
static int campaign_statuses(rc_svc *s, rpc_call *parent, const char *campaign_id,
                             smap_sf_status **out, size_t *n, ProtobufCMessage **msg, rc_err *err)
{
    Campsync__V1__ListMemberStatusesRequest rq = CAMPSYNC__V1__LIST_MEMBER_STATUSES_REQUEST__INIT;
    rq.campaign_id = (char *)campaign_id;
    *out = NULL;
    *n = 0;
    if (rc_sf_call(s, parent, "ListMemberStatuses", &rq.base, msg, err) != 0)
        return -1;
    const Campsync__V1__MemberStatusList *l = (const void *)*msg;
    *out = calloc(l->n_statuses + 1, sizeof **out);
    if (!*out) {
        protobuf_c_message_free_unpacked(*msg, NULL);
        *msg = NULL;
        return rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    for (size_t i = 0; i < l->n_statuses; i++)
        (*out)[i] = (smap_sf_status){l->statuses[i]->label, l->statuses[i]->sort_order,
                                     l->statuses[i]->is_default, l->statuses[i]->has_responded};
    *n = l->n_statuses;
    return 0;
}

static bool tolerated(const char *list, const char *label)
{
    size_t n = strlen(label);
    for (const char *p = list; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == n && memcmp(p, label, n) == 0)
            return true;
        p = nl ? nl + 1 : NULL;
    }
    return false;
}

int rc_check_statuses(rc_svc *s, rpc_call *parent, const rc_pair *p, const smap *m, rc_err *err)
{
    smap_sf_status *sf = NULL;
    size_t n = 0;
    ProtobufCMessage *msg = NULL;
    if (campaign_statuses(s, parent, p->campaign_id, &sf, &n, &msg, err) != 0)
        return -1;
    smap_diff d = {0};
    recon_err re = {0};
    int rc = 0;
    if (smap_compare(m, sf, n, &d, &re) != 0) {
        rc = rc_fail(err, GRPC_STATUS_INTERNAL, "status comparison: %s", re.msg);
    } else if (d.message) {
        bool only_tolerated = d.n_missing == 0;
        for (size_t i = 0; only_tolerated && i < d.n_extra; i++)
            only_tolerated = tolerated(p->tolerated_extra, d.extra[i]);
        if (!only_tolerated)
            rc = rc_fail(err, GRPC_STATUS_FAILED_PRECONDITION,
                         "program %lld channel \"%s\" and campaign %s: %s",
                         (long long)p->program_id, p->channel, p->campaign_id, d.message);
    }
    smap_diff_free(&d);
    free(sf);
    protobuf_c_message_free_unpacked(msg, NULL);
    return rc;
}

/* Creates the statuses of the channel the campaign lacks. */
static int create_missing(rc_svc *s, rpc_call *parent, const char *campaign_id, const smap *m,
                          const smap_sf_status *sf, size_t n_sf, rc_err *err)
{
    smap_create_plan cp = {0};
    recon_err re = {0};
    if (smap_plan_missing(m, sf, n_sf, &cp, &re) != 0)
        return rc_fail(err, GRPC_STATUS_INTERNAL, "planning statuses: %s", re.msg);
    int rc = 0;
    if (cp.n_create > 0) {
        Campsync__V1__MemberStatus *ms = calloc(cp.n_create, sizeof *ms);
        Campsync__V1__MemberStatus **mp = calloc(cp.n_create, sizeof *mp);
        if (!ms || !mp) {
            rc = rc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        } else {
            for (size_t i = 0; i < cp.n_create; i++) {
                campsync__v1__member_status__init(&ms[i]);
                ms[i].label = (char *)cp.create[i].label;
                ms[i].sort_order = cp.create[i].sort_order;
                ms[i].is_default = cp.create[i].is_default;
                ms[i].has_responded = cp.create[i].has_responded;
                mp[i] = &ms[i];
            }
            Campsync__V1__CreateMemberStatusesRequest rq =
                CAMPSYNC__V1__CREATE_MEMBER_STATUSES_REQUEST__INIT;
            rq.campaign_id = (char *)campaign_id;
            rq.statuses = mp;
            rq.n_statuses = cp.n_create;
            ProtobufCMessage *out = NULL;
            if (rc_sf_call(s, parent, "CreateMemberStatuses", &rq.base, &out, err) != 0) {
                rc = -1;
            } else {
                const Campsync__V1__BatchResult *br = (const void *)out;
                for (size_t i = 0; i < br->n_results && rc == 0; i++)
                    if (br->results[i]->outcome == CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED)
                        rc = rc_fail(err, GRPC_STATUS_FAILED_PRECONDITION,
                                     "Salesforce refused to create status \"%s\" on campaign %s: "
                                     "%s %s",
                                     cp.create[i].label, campaign_id, br->results[i]->code,
                                     br->results[i]->reason);
                protobuf_c_message_free_unpacked(out, NULL);
            }
        }
        free(ms);
        free(mp);
    }
    if (rc == 0 && cp.note)
        log_kv(LOG_INFO, "statuses created with moved SortOrder", "campaign", campaign_id, "note",
               cp.note, NULL);
    smap_create_plan_free(&cp);
    return rc;
}

static const char link_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  return {1, redis.call('HGET', KEYS[1], 'campaign_id') or ''}\n"
    "end\n"
    "local c = redis.call('HGET', KEYS[2], ARGV[2])\n"
    "if c then return {2, c} end\n"
    "redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])\n"
    "redis.call('SADD', KEYS[3], ARGV[1])\n"
    "for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end\n"
    "return {0, ''}\n";

static int store_pair(const rc_pair *p, rc_err *err)
{
    char k1[128], k2[128], k3[128], pid[32], at[32];
    rds_err e = {0};
    if (pair_key(p->program_id, k1, sizeof k1, err) != 0 ||
        rds_key(k2, sizeof k2, &e, PAIRS_SCOPE, "by_campaign") != 0 ||
        rds_key(k3, sizeof k3, &e, PAIRS_SCOPE, "programs") != 0)
        return err->msg[0] ? -1 : redis_fail(err, "key", &e);
    snprintf(pid, sizeof pid, "%lld", (long long)p->program_id);
    snprintf(at, sizeof at, "%lld", (long long)p->linked_at_ms);
    const char *keys[] = {k1, k2, k3};
    const char *args[] = {pid,
                          p->campaign_id,
                          "program_id",
                          pid,
                          "campaign_id",
                          p->campaign_id,
                          "program_name",
                          p->program_name,
                          "campaign_name",
                          p->campaign_name,
                          "channel",
                          p->channel,
                          "linked_at_ms",
                          at,
                          "tolerated_extra",
                          p->tolerated_extra};
    redisReply *r = rds_eval(link_lua, 0, 3, keys, (int)(sizeof args / sizeof *args), args, &e);
    if (!r)
        return redis_fail(err, "store pair", &e);
    int rc = 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        rc = rc_fail(err, GRPC_STATUS_INTERNAL, "redis: unexpected reply storing the pair");
    } else if (r->element[0]->integer == 1) {
        rc = rc_fail(err, GRPC_STATUS_ALREADY_EXISTS,
                     "program %lld is already linked to campaign %s; unlink it first",
                     (long long)p->program_id, r->element[1]->str ? r->element[1]->str : "?");
    } else if (r->element[0]->integer == 2) {
        rc = rc_fail(err, GRPC_STATUS_ALREADY_EXISTS,
                     "campaign %s is already linked to program %s; a campaign is linked to at "
                     "most one program",
                     p->campaign_id, r->element[1]->str ? r->element[1]->str : "?");
    }
    freeReplyObject(r);
    return rc;
}

static int64_t sum_costs(const Campsync__V1__Program *prog)
{
    int64_t sum = 0;
    for (size_t i = 0; i < prog->n_costs; i++)
        sum += prog->costs[i]->cost_minor;
    return sum;
}

/* Fails ALREADY_EXISTS naming the pair the program or campaign is in. */
static int check_free(int64_t program_id, const char *campaign_id, rc_err *err)
{
    rc_pair existing;
    bool found = false;
    if (rc_pair_get(program_id, &existing, &found, err) != 0)
        return -1;
    if (found)
        return rc_fail(err, GRPC_STATUS_ALREADY_EXISTS,
                       "program %lld is already linked to campaign %s (\"%s\"); unlink it first",
                       (long long)program_id, existing.campaign_id, existing.campaign_name);
    if (!campaign_id || !campaign_id[0])
        return 0;
    int64_t other = 0;
    if (rc_pair_by_campaign(campaign_id, &other, err) != 0)
        return -1;
    if (other)
        return rc_fail(err, GRPC_STATUS_ALREADY_EXISTS,
                       "campaign %s is already linked to program %lld; a campaign is linked to "
                       "at most one program",
                       campaign_id, (long long)other);
    return 0;
}

static int link_existing(rc_svc *s, rpc_call *parent, const Campsync__V1__LinkRequest *rq,
                         const smap *m, rc_pair *out, rc_err *err)
{
    Campsync__V1__GetCampaignsRequest gq = CAMPSYNC__V1__GET_CAMPAIGNS_REQUEST__INIT;
    char *ids[] = {rq->campaign_id};
    gq.ids = ids;
    gq.n_ids = 1;
    ProtobufCMessage *msg = NULL;
    if (rc_sf_call(s, parent, "GetCampaigns", &gq.base, &msg, err) != 0)
        return -1;
    const Campsync__V1__CampaignList *cl = (const void *)msg;
    if (cl->n_campaigns == 0) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return rc_fail(err, GRPC_STATUS_NOT_FOUND, "Salesforce has no campaign %s",
                       rq->campaign_id);
    }
    copy(out->campaign_id, sizeof out->campaign_id, cl->campaigns[0]->id);
    copy(out->campaign_name, sizeof out->campaign_name, cl->campaigns[0]->name);
    protobuf_c_message_free_unpacked(msg, NULL);

    smap_sf_status *sf = NULL;
    size_t n = 0;
    if (campaign_statuses(s, parent, out->campaign_id, &sf, &n, &msg, err) != 0)
        return -1;
    smap_diff d = {0};
    recon_err re = {0};
    int rc = 0;
    if (smap_compare(m, sf, n, &d, &re) != 0) {
        rc = rc_fail(err, GRPC_STATUS_INTERNAL, "status comparison: %s", re.msg);
    } else if (d.message) {
        if (rq->create_missing_statuses && d.n_extra == 0) {
            rc = create_missing(s, parent, out->campaign_id, m, sf, n, err);
        } else {
            rc = rc_fail(err, GRPC_STATUS_FAILED_PRECONDITION,
                         "program %lld (channel \"%s\") cannot be linked to campaign %s: %s%s",
                         (long long)rq->program_id, out->channel, out->campaign_id, d.message,
                         d.n_extra > 0 ? "; extra statuses must be removed in Salesforce first"
                                       : "; set create_missing_statuses to create them");
        }
    }
    smap_diff_free(&d);
    free(sf);
    protobuf_c_message_free_unpacked(msg, NULL);
    return rc;
}

static int link_new(rc_svc *s, rpc_call *parent, const Campsync__V1__LinkRequest *rq,
                    const Campsync__V1__Program *prog, const smap *m, rc_pair *out, rc_err *err)
{
    Campsync__V1__Campaign c = CAMPSYNC__V1__CAMPAIGN__INIT;
    c.name = rq->new_campaign_name;
    c.type = (char *)rc_type_for_channel(s, prog->channel);
    c.actual_cost_minor = sum_costs(prog);
    c.is_active = true;
    ProtobufCMessage *msg = NULL;
    if (rc_sf_call(s, parent, "CreateCampaign", &c.base, &msg, err) != 0)
        return -1;
    const Campsync__V1__Campaign *made = (const void *)msg;
    copy(out->campaign_id, sizeof out->campaign_id, made->id);
    copy(out->campaign_name, sizeof out->campaign_name, made->name);
    protobuf_c_message_free_unpacked(msg, NULL);
    log_kv(LOG_INFO, "campaign created", "campaign", out->campaign_id, "name", out->campaign_name,
           NULL);

    smap_sf_status *sf = NULL;
    size_t n = 0;
    if (campaign_statuses(s, parent, out->campaign_id, &sf, &n, &msg, err) != 0)
        return -1;
    /* Salesforce gave the new campaign its own default statuses; they cannot
     * be deleted through the connector, so they are remembered as tolerated. */
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (smap_find(m, sf[i].label) >= 0)
            continue;
        int w = snprintf(out->tolerated_extra + used, sizeof out->tolerated_extra - used, "%s%s",
                         used ? "\n" : "", sf[i].label);
        if (w > 0 && (size_t)w < sizeof out->tolerated_extra - used)
            used += (size_t)w;
    }
    int rc = create_missing(s, parent, out->campaign_id, m, sf, n, err);
    free(sf);
    protobuf_c_message_free_unpacked(msg, NULL);
    return rc;
}

int rc_link(rc_svc *s, rpc_call *parent, const Campsync__V1__LinkRequest *rq, rc_pair *out,
            rc_err *err)
{
    memset(out, 0, sizeof *out);
    if (rc_check_sync_enabled(s, err) != 0)
        return -1;
    if (rq->program_id <= 0)
        return rc_fail(err, GRPC_STATUS_INVALID_ARGUMENT, "program_id must be > 0");
    bool has_id = rq->campaign_id && rq->campaign_id[0];
    bool has_name = rq->new_campaign_name && rq->new_campaign_name[0];
    if (has_id == has_name)
        return rc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
                       "give exactly one of campaign_id (link an existing campaign) or "
                       "new_campaign_name (create one)");
    if (has_id && strlen(rq->campaign_id) != 15 && strlen(rq->campaign_id) != 18)
        return rc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
                       "campaign_id \"%s\" is not a 15- or 18-character Salesforce id",
                       rq->campaign_id);
    if (check_free(rq->program_id, has_id ? rq->campaign_id : NULL, err) != 0)
        return -1;
    if (rc_check_marketing_user(s, parent, err) != 0)
        return -1;

    Campsync__V1__GetProgramRequest gp = CAMPSYNC__V1__GET_PROGRAM_REQUEST__INIT;
    gp.program_id = rq->program_id;
    ProtobufCMessage *pmsg = NULL;
    if (rc_mkto_call(s, parent, "GetProgram", &gp.base, &pmsg, err) != 0)
        return -1;
    const Campsync__V1__Program *prog = (const void *)pmsg;
    out->program_id = rq->program_id;
    copy(out->program_name, sizeof out->program_name, prog->name);
    copy(out->channel, sizeof out->channel, prog->channel);
    smap *m = NULL;
    int rc = rc_channel_map(s, parent, prog->channel, &m, err);
    if (rc == 0)
        rc = has_id ? link_existing(s, parent, rq, m, out, err)
                    : link_new(s, parent, rq, prog, m, out, err);
    smap_free(m);
    protobuf_c_message_free_unpacked(pmsg, NULL);
    if (rc != 0)
        return -1;
    out->linked_at_ms = rc_now_ms();
    if (store_pair(out, err) != 0)
        return -1;
    log_kv(LOG_INFO, "linked", "program", out->program_name, "campaign", out->campaign_id, NULL);
    return 0;
}

static const char unlink_lua[] = "local c = redis.call('HGET', KEYS[1], 'campaign_id')\n"
                                 "if not c then return 0 end\n"
                                 "redis.call('DEL', KEYS[1])\n"
                                 "redis.call('HDEL', KEYS[2], c)\n"
                                 "redis.call('SREM', KEYS[3], ARGV[1])\n"
                                 "return 1\n";

int rc_unlink(int64_t program_id, rc_err *err)
{
    if (program_id <= 0)
        return rc_fail(err, GRPC_STATUS_INVALID_ARGUMENT, "program_id must be > 0");
    char k1[128], k2[128], k3[128], pid[32], scope[64], base[160];
    rds_err e = {0};
    if (pair_key(program_id, k1, sizeof k1, err) != 0 ||
        rds_key(k2, sizeof k2, &e, PAIRS_SCOPE, "by_campaign") != 0 ||
        rds_key(k3, sizeof k3, &e, PAIRS_SCOPE, "programs") != 0)
        return err->msg[0] ? -1 : redis_fail(err, "key", &e);
    snprintf(pid, sizeof pid, "%lld", (long long)program_id);
    const char *keys[] = {k1, k2, k3};
    const char *args[] = {pid};
    redisReply *r = rds_eval(unlink_lua, 1, 3, keys, 1, args, &e);
    if (!r)
        return redis_fail(err, "unlink", &e);
    long long removed = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    if (!removed)
        return rc_fail(err, GRPC_STATUS_NOT_FOUND, "program %lld is not linked",
                       (long long)program_id);
    /* A later link starts from no base (union, nothing removed): the old
     * base describes a link that no longer exists. */
    rc_pair_scope(program_id, scope, sizeof scope);
    if (rds_key(base, sizeof base, &e, scope, "base") == 0 && rds_del(base, NULL, &e) != 0)
        log_kv(LOG_WARN, "unlink: base not deleted", "error", e.msg, NULL);
    rc_err ferr = {0};
    if (rc_events_forget(program_id, &ferr) != 0)
        log_kv(LOG_WARN, "unlink: event state not deleted", "error", ferr.msg, NULL);
    return 0;
}
