/*
 * Marketo simulator: admin actions (POST /admin/marketo/<action>). Besides
 * "state" and "expire_tokens" these play a marketer working in the Marketo
 * UI — add or remove program members, change a status (the UI may move a
 * member backwards, the API may not), create or edit a lead, change a
 * program's cost or channel, and Marketo's own Salesforce campaign changes —
 * each writing the activity a real instance would, so connectors see them
 * through the activity feed exactly as they would in production.
 */
#include "mkto_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(json_t **out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(json_t **out, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mkto_ascii(msg);
    *out = json_pack("{s:s}", "error", msg);
    return status;
}

static json_t *limits_json(mkto_state *s)
{
    return json_pack("{s:I,s:I,s:I,s:{s:I,s:I}}", "calls_per_20s", (json_int_t)s->lim_per20,
                     "concurrent", (json_int_t)s->lim_concurrent, "daily", (json_int_t)s->lim_daily,
                     "usage", "window", (json_int_t)s->win_n, "today", (json_int_t)s->day_count);
}

static int set_limit(json_t *body, const char *key, int64_t *dst, json_t **out)
{
    json_t *v = json_object_get(body, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fail(out, 400, "'%s' must be a non-negative integer (0 = unlimited)", key);
    *dst = json_integer_value(v);
    return 0;
}

/* Resolves {programId, leadId} from the body. */
static int member_args(mkto_state *s, json_t *body, mkto_program **p, int64_t *lead_id,
                       json_t **out)
{
    json_t *pj = json_object_get(body, "programId"), *lj = json_object_get(body, "leadId");
    if (!json_is_integer(pj) || !json_is_integer(lj))
        return fail(out, 400, "integer 'programId' and 'leadId' are required");
    *p = mkto_program_get(s, json_integer_value(pj));
    if (!*p)
        return fail(out, 404, "no program %lld", (long long)json_integer_value(pj));
    *lead_id = json_integer_value(lj);
    if (!mkto_lead_get(s, *lead_id))
        return fail(out, 404, "no lead %lld", (long long)*lead_id);
    return 0;
}

static int status_arg(mkto_state *s, mkto_program *p, json_t *body, int dflt_first, int *st,
                      json_t **out)
{
    const mkto_channel *c = mkto_program_channel(s, p);
    if (!c || c->n_st == 0)
        return fail(out, 409, "program %lld has no channel with progression statuses",
                    (long long)p->id);
    const char *sn = json_string_value(json_object_get(body, "statusName"));
    if (!sn && dflt_first) {
        *st = 0;
        return 0;
    }
    *st = mkto_status_index(c, sn);
    if (*st < 0)
        return fail(out, 400, "'statusName' %s is not a status of channel '%s'",
                    sn ? sn : "(missing)", c->name);
    return 0;
}

static int lead_fields(mkto_state *s, mkto_lead *l, json_t *body, json_t **out, int64_t now)
{
    const char *key;
    json_t *val;
    json_object_foreach(body, key, val)
    {
        if (strcmp(key, "id") == 0)
            continue;
        int f = mkto_field_index(key);
        if (f < 0)
            return fail(out, 400, "unknown lead field '%s'", key);
        if (!json_is_string(val) && !json_is_null(val))
            return fail(out, 400, "lead field '%s' must be a string or null", key);
    }
    json_object_foreach(body, key, val)
    {
        int f = mkto_field_index(key);
        if (f >= 0)
            mkto_lead_set(s, l, f, json_string_value(val));
    }
    l->updated_ms = now;
    return 0;
}

static int update_program(mkto_state *s, json_t *body, int64_t now, json_t **out)
{
    json_t *idj = json_object_get(body, "id");
    mkto_program *p = json_is_integer(idj) ? mkto_program_get(s, json_integer_value(idj)) : NULL;
    if (!p)
        return fail(out, 404, "integer 'id' of an existing program is required");
    json_t *costs = json_object_get(body, "costs");
    if (costs && !json_is_array(costs))
        return fail(out, 400, "'costs' must be an array of {startDate, cost, note}");
    const char *channel = json_string_value(json_object_get(body, "channel"));
    int ch = -1;
    if (channel) {
        for (size_t i = 0; i < s->n_ch; i++)
            if (strcmp(s->ch[i].name, channel) == 0)
                ch = (int)i;
        if (ch < 0)
            return fail(out, 400, "no channel named '%s'", channel);
    }
    static const char *const strs[] = {"name", "description", "status", "sfdcId", "sfdcName"};
    char **dst[] = {&p->name, &p->description, &p->status, &p->sfdc_id, &p->sfdc_name};
    for (int i = 0; i < 5; i++) {
        json_t *v = json_object_get(body, strs[i]);
        if (!v)
            continue;
        if (!json_is_string(v) && !json_is_null(v))
            return fail(out, 400, "'%s' must be a string or null", strs[i]);
        if (i == 0 && !json_is_string(v))
            return fail(out, 400, "'name' must be a string");
    }
    for (int i = 0; i < 5; i++) {
        json_t *v = json_object_get(body, strs[i]);
        if (!v)
            continue;
        free(*dst[i]);
        *dst[i] = json_is_string(v) ? strdup(json_string_value(v)) : NULL;
    }
    if (costs) {
        json_decref(p->costs);
        p->costs = json_deep_copy(costs);
    }
    if (ch >= 0 && ch != p->ch) {
        /* Members keep a status of the same name, else the first step. */
        const mkto_channel *old = mkto_program_channel(s, p);
        for (size_t k = 0; k < p->n_m; k++) {
            int st = old ? mkto_status_index(&s->ch[ch], old->st[p->m[k].st].name) : -1;
            p->m[k].st = st >= 0 ? st : 0;
        }
        p->ch = ch;
        free(p->channel);
        p->channel = strdup(channel);
    }
    p->updated_ms = now;
    *out = mkto_program_json(p, MKTO_PJ_DATASET);
    return 200;
}

static int sfdc_campaign_change(mkto_state *s, json_t *body, int64_t now, json_t **out)
{
    json_t *lj = json_object_get(body, "leadId");
    const char *cid = json_string_value(json_object_get(body, "campaignId"));
    const char *cname = json_string_value(json_object_get(body, "campaignName"));
    const char *action = json_string_value(json_object_get(body, "action"));
    const char *status = json_string_value(json_object_get(body, "status"));
    const char *old = json_string_value(json_object_get(body, "oldStatus"));
    if (!json_is_integer(lj) || !mkto_lead_get(s, json_integer_value(lj)))
        return fail(out, 400, "'leadId' of an existing lead is required");
    if (!cid || !action)
        return fail(out, 400, "'campaignId' and 'action' (add, remove, status) are required");
    int type;
    json_t *attrs = json_array();
    if (strcmp(action, "add") == 0) {
        type = MKTO_ACT_ADD_SFDC_CAMPAIGN;
        json_array_append_new(
            attrs, json_pack("{s:s,s:s}", "name", "Status", "value", status ? status : ""));
    } else if (strcmp(action, "remove") == 0) {
        type = MKTO_ACT_REMOVE_SFDC_CAMPAIGN;
        json_array_append_new(
            attrs, json_pack("{s:s,s:s}", "name", "Status", "value", status ? status : ""));
    } else if (strcmp(action, "status") == 0) {
        type = MKTO_ACT_CHANGE_SFDC_CAMPAIGN_STATUS;
        json_array_append_new(
            attrs, json_pack("{s:s,s:s}", "name", "New Status", "value", status ? status : ""));
        json_array_append_new(
            attrs, json_pack("{s:s,s:s}", "name", "Old Status", "value", old ? old : ""));
    } else {
        json_decref(attrs);
        return fail(out, 400, "'action' must be add, remove or status");
    }
    json_array_append_new(attrs, json_pack("{s:s,s:s}", "name", "SFDC Campaign ID", "value", cid));
    /* Marketo shows SFDC campaigns under a local numeric id. */
    int64_t local = 0;
    for (const char *p = cid; *p; p++)
        local = (local * 31 + (unsigned char)*p) % 1000000007LL;
    if (mkto_activity_add(s, json_integer_value(lj), type, local, cname ? cname : cid, attrs,
                          now) != 0)
        return fail(out, 500, "out of memory");
    *out = json_pack("{s:I}", "activityId", (json_int_t)s->act[s->n_act - 1].id);
    return 200;
}

int mkto_admin(void *state, const char *action, json_t *body, int64_t now, json_t **out)
{
    mkto_state *s = state;
    json_t *empty = NULL;
    if (!body)
        body = empty = json_object();
    int rc = 200;
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    if (!json_is_object(body)) {
        rc = fail(out, 400, "body must be a JSON object");
    } else if (strcmp(action, "state") == 0) {
        *out = mkto_state_export(s);
    } else if (strcmp(action, "expire_tokens") == 0) {
        int had = s->token[0] && s->token_exp_ms > now;
        if (had)
            s->token_exp_ms = now;
        *out = json_pack("{s:i}", "expired", had);
    } else if (strcmp(action, "limits") == 0) {
        int64_t a = s->lim_per20, b = s->lim_concurrent, c = s->lim_daily;
        if (set_limit(body, "calls_per_20s", &a, out) || set_limit(body, "concurrent", &b, out) ||
            set_limit(body, "daily", &c, out)) {
            rc = 400;
        } else {
            s->lim_per20 = a;
            s->lim_concurrent = b;
            s->lim_daily = c;
            if (json_is_true(json_object_get(body, "reset_usage"))) {
                s->win_n = s->win_head = 0;
                s->day_count = 0;
            }
            *out = limits_json(s);
        }
    } else if (strcmp(action, "quirks") == 0) {
        json_t *dr = json_object_get(body, "duplicate_race");
        if (dr && !json_is_boolean(dr)) {
            rc = fail(out, 400, "'duplicate_race' must be true or false");
        } else {
            if (dr)
                s->duplicate_race = json_is_true(dr);
            *out = json_pack("{s:b}", "duplicate_race", s->duplicate_race);
        }
    } else if (strcmp(action, "add_member") == 0 || strcmp(action, "change_member_status") == 0) {
        mkto_program *p;
        int64_t lid;
        int st = 0;
        int adding = action[0] == 'a';
        if ((rc = member_args(s, body, &p, &lid, out)) == 0 &&
            (rc = status_arg(s, p, body, adding, &st, out)) == 0) {
            if (adding && mkto_member_get(p, lid)) {
                rc = fail(out, 409, "lead %lld is already a member of program %lld", (long long)lid,
                          (long long)p->id);
            } else if (!adding && !mkto_member_get(p, lid)) {
                rc = fail(out, 404, "lead %lld is not a member of program %lld", (long long)lid,
                          (long long)p->id);
            } else {
                int r = mkto_set_status(s, p, lid, st, 0, "Changed by user", now);
                rc = r < 0 ? fail(out, 500, "out of memory") : 200;
                if (r >= 0)
                    *out = json_pack("{s:s}", "result", r == 2 ? "created" : "updated");
            }
        }
    } else if (strcmp(action, "remove_member") == 0) {
        mkto_program *p;
        int64_t lid;
        if ((rc = member_args(s, body, &p, &lid, out)) == 0) {
            if (mkto_remove_member(s, p, lid, "Removed by user", now) != 0)
                rc = fail(out, 404, "lead %lld is not a member of program %lld", (long long)lid,
                          (long long)p->id);
            else {
                rc = 200;
                *out = json_pack("{s:s}", "result", "deleted");
            }
        }
    } else if (strcmp(action, "create_lead") == 0) {
        const char *key;
        json_t *val;
        const char *bad = NULL;
        json_object_foreach(body, key, val)
        {
            if (mkto_field_index(key) < 0 || (!json_is_string(val) && !json_is_null(val))) {
                bad = key;
                break;
            }
        }
        mkto_lead *l = NULL;
        if (bad) {
            rc = fail(out, 400, "unknown lead field '%s' or value not a string", bad);
        } else if (!(l = mkto_lead_create(s, now))) {
            rc = fail(out, 500, "out of memory");
        } else {
            lead_fields(s, l, body, out, now);
            mkto_activity_add(
                s, l->id, MKTO_ACT_NEW_LEAD, l->id, l->f[MKTO_F_EMAIL] ? l->f[MKTO_F_EMAIL] : "",
                json_pack("[{s:s,s:s}]", "name", "Source Type", "value", "New lead"), now);
            *out = json_pack("{s:I}", "id", (json_int_t)l->id);
        }
    } else if (strcmp(action, "change_lead") == 0) {
        json_t *idj = json_object_get(body, "id");
        mkto_lead *l = json_is_integer(idj) ? mkto_lead_get(s, json_integer_value(idj)) : NULL;
        if (!l) {
            rc = fail(out, 404, "integer 'id' of an existing lead is required");
        } else {
            rc = lead_fields(s, l, body, out, now);
            if (rc == 0) {
                rc = 200;
                *out = json_pack("{s:I}", "id", (json_int_t)l->id);
            }
        }
    } else if (strcmp(action, "update_program") == 0) {
        rc = update_program(s, body, now, out);
    } else if (strcmp(action, "sfdc_campaign_change") == 0) {
        rc = sfdc_campaign_change(s, body, now, out);
    } else if (strcmp(action, "bulk") == 0) {
        rc = mkto_bulk_admin(s, body, now, out);
    } else {
        rc = fail(
            out, 404,
            "unknown marketo admin action '%s' (state, expire_tokens, limits, quirks, add_member, "
            "remove_member, change_member_status, create_lead, change_lead, "
            "update_program, sfdc_campaign_change, bulk)",
            action);
    }
    pthread_mutex_unlock(&s->mu);
    json_decref(empty);
    return rc;
}
