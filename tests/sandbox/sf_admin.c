/*
 * Implementation of sf_admin.h. UI-like changes go through the same write
 * path as API calls (sfs_insert/sfs_update/sfs_delete), so they obey the same
 * object rules and stamp the same audit fields; they are made as a "UI user"
 * (the body's user_id, else the first active user other than the integration
 * user) so a connector can tell its own echoes from people's changes.
 */
#include "sf_admin.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int sfs_admin_error(json_t **out, int status, const char *code, const char *message)
{
    json_t *msg = sfs_json_text(message, strlen(message));
    *out = json_pack("{s:s++,s:s,s:o}", "error", code, ": ", json_string_value(msg), "errorCode",
                     code, "message", msg);
    return status;
}

static int sfs_admin_sf_error(json_t **out, const sfs_err *err)
{
    return sfs_admin_error(out, 400, err->code, err->message);
}

static const char *sfs_ui_user(sfs_state *st, json_t *body)
{
    const char *given = json_string_value(json_object_get(body, "user_id"));
    sfs_rec *u = given ? sfs_rec_find(st, given) : NULL;
    if (u && !u->deleted && strcmp(u->obj->name, "User") == 0)
        return u->id;
    sfs_object *users = sfs_object_find(st, "User");
    for (size_t i = 0; i < users->recs.n; i++) {
        sfs_rec *r = users->recs.items[i];
        if (!r->deleted && strcmp(r->id, st->integration_user) != 0 &&
            json_is_true(json_object_get(r->f, "IsActive")))
            return r->id;
    }
    return st->integration_user;
}

/* The live member of a campaign for a lead or contact, from the body. */
static sfs_rec *sfs_admin_member(sfs_state *st, json_t *body, json_t **out, int *status)
{
    const char *id = json_string_value(json_object_get(body, "id"));
    sfs_rec *m = NULL;
    if (id) {
        m = sfs_rec_find(st, id);
    } else {
        const char *campaign = json_string_value(json_object_get(body, "CampaignId"));
        const char *person = json_string_value(json_object_get(body, "ContactId"));
        if (!person)
            person = json_string_value(json_object_get(body, "LeadId"));
        sfs_rec *c = campaign ? sfs_rec_find(st, campaign) : NULL;
        sfs_rec *p = person ? sfs_rec_find(st, person) : NULL;
        char key[48];
        if (c && p) {
            snprintf(key, sizeof key, "%s/%s", c->id, p->id);
            m = sfs_map_get(&st->member_key, key);
        }
    }
    if (!m || m->deleted || strcmp(m->obj->name, "CampaignMember") != 0) {
        *status = sfs_admin_error(out, 404, "NOT_FOUND",
                                  "no such campaign member (give id, or CampaignId and LeadId or "
                                  "ContactId)");
        return NULL;
    }
    return m;
}

static int sfs_admin_convert_lead(sfs_state *st, json_t *body, int64_t now_ms, const char *user,
                                  json_t **out)
{
    const char *id = json_string_value(json_object_get(body, "id"));
    sfs_rec *lead = id ? sfs_rec_find(st, id) : NULL;
    if (!lead || lead->deleted || strcmp(lead->obj->name, "Lead") != 0)
        return sfs_admin_error(out, 404, "NOT_FOUND", "no such lead");
    if (json_is_true(json_object_get(lead->f, "IsConverted")))
        return sfs_admin_error(out, 400, "CANNOT_UPDATE_CONVERTED_LEAD",
                               "cannot reference converted lead");
    sfs_err err;
    sfs_rec *contact = NULL, *account = NULL;
    const char *cid = json_string_value(json_object_get(body, "contact_id"));
    sfs_journal_begin(st);
    if (cid) {
        contact = sfs_rec_find(st, cid);
        if (!contact || contact->deleted || strcmp(contact->obj->name, "Contact") != 0) {
            sfs_journal_rollback(st);
            return sfs_admin_error(out, 404, "NOT_FOUND", "no such contact");
        }
        const char *aid = json_string_value(json_object_get(contact->f, "AccountId"));
        account = aid ? sfs_rec_find(st, aid) : NULL;
    } else {
        json_t *lf = lead->f;
        json_t *acc = json_pack("{s:O}", "Name", json_object_get(lf, "Company"));
        int rc = sfs_insert(st, sfs_object_find(st, "Account"), acc, now_ms, user, &account, &err);
        json_decref(acc);
        if (rc == 0) {
            json_t *con = json_pack("{s:s}", "AccountId", account->id);
            static const char *const copy[] = {"FirstName", "LastName", "Email",
                                               "Phone",     "Title",    "LeadSource"};
            for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++) {
                json_t *v = json_object_get(lf, copy[i]);
                if (v && !json_is_null(v))
                    json_object_set(con, copy[i], v);
            }
            rc = sfs_insert(st, sfs_object_find(st, "Contact"), con, now_ms, user, &contact, &err);
            json_decref(con);
        }
        if (rc != 0) {
            sfs_journal_rollback(st);
            return sfs_admin_sf_error(out, &err);
        }
    }
    char today[16];
    sfs_time_format_date(now_ms, today);
    json_t *changes =
        json_pack("{s:b,s:s,s:s,s:s}", "IsConverted", 1, "ConvertedContactId", contact->id,
                  "ConvertedAccountId", account ? account->id : "", "ConvertedDate", today);
    if (!account)
        json_object_set_new(changes, "ConvertedAccountId", json_null());
    sfs_store_force(st, lead, changes, now_ms, user);
    json_decref(changes);
    /* The lead's campaign memberships now also name the contact. */
    sfs_object *cm = sfs_object_find(st, "CampaignMember");
    int moved = 0;
    for (size_t i = 0; i < cm->recs.n; i++) {
        sfs_rec *m = cm->recs.items[i];
        const char *lid = json_string_value(json_object_get(m->f, "LeadId"));
        if (m->deleted || !lid || strcmp(lid, lead->id) != 0)
            continue;
        char key[48];
        snprintf(key, sizeof key, "%s/%s", json_string_value(json_object_get(m->f, "CampaignId")),
                 contact->id);
        if (sfs_map_get(&st->member_key, key))
            continue; /* the contact is already a member of that campaign */
        json_t *ch = json_pack("{s:s}", "ContactId", contact->id);
        sfs_store_force(st, m, ch, now_ms, user);
        json_decref(ch);
        moved++;
    }
    sfs_journal_commit(st);
    *out =
        json_pack("{s:s,s:s,s:o,s:i}", "lead_id", lead->id, "contact_id", contact->id, "account_id",
                  account ? json_string(account->id) : json_null(), "members_updated", moved);
    return 200;
}

int sfs_admin_action(sfs_state *st, const char *action, json_t *body, int64_t now_ms, json_t **out)
{
    *out = NULL;
    const char *user = sfs_ui_user(st, body);
    sfs_err err;
    memset(&err, 0, sizeof err);
    if (strcmp(action, "state") == 0) {
        *out = sfs_store_dump(st);
        return 200;
    }
    if (strcmp(action, "expire_tokens") == 0) {
        int n = 0;
        for (size_t i = 0; i < st->tokens.cap; i++) {
            if (st->tokens.keys[i]) {
                ((sfs_token *)st->tokens.vals[i])->expires_ms = 0;
                n++;
            }
        }
        *out = json_pack("{s:i}", "expired", n);
        return 200;
    }
    if (strcmp(action, "set_api_usage") == 0 || strcmp(action, "limits") == 0) {
        /* {"daily_api": N, "used": N, "reset_usage": true} */
        json_t *used = json_object_get(body, "used"), *max = json_object_get(body, "daily_api");
        if ((used && !json_is_integer(used)) || (max && !json_is_integer(max)))
            return sfs_admin_error(out, 400, "INVALID_INPUT",
                                   "used and daily_api must be integers");
        if (max && json_integer_value(max) > 0)
            st->daily_limit = (long)json_integer_value(max);
        if (used || json_is_true(json_object_get(body, "reset_usage"))) {
            st->api_used = used ? (long)json_integer_value(used) : 0;
            st->api_day = now_ms / 86400000LL;
        }
        *out = json_pack("{s:I,s:I}", "used", (json_int_t)st->api_used, "max",
                         (json_int_t)st->daily_limit);
        return 200;
    }
    if (strcmp(action, "create") == 0 || strcmp(action, "add_member") == 0) {
        int is_member = strcmp(action, "add_member") == 0;
        const char *type =
            is_member ? "CampaignMember" : json_string_value(json_object_get(body, "type"));
        json_t *fields = is_member ? body : json_object_get(body, "fields");
        sfs_object *obj = type ? sfs_object_find(st, type) : NULL;
        if (!obj || !json_is_object(fields))
            return sfs_admin_error(out, 400, "INVALID_INPUT",
                                   "give {\"type\": an sObject name, \"fields\": {...}}");
        json_t *input = json_deep_copy(fields);
        json_object_del(input, "user_id");
        sfs_rec *r = NULL;
        int rc = sfs_insert(st, obj, input, now_ms, user, &r, &err);
        json_decref(input);
        if (rc != 0)
            return sfs_admin_sf_error(out, &err);
        *out = json_pack("{s:s}", "id", r->id);
        return 200;
    }
    if (strcmp(action, "update") == 0 || strcmp(action, "delete") == 0) {
        const char *id = json_string_value(json_object_get(body, "id"));
        sfs_rec *r = id ? sfs_rec_find(st, id) : NULL;
        if (!r)
            return sfs_admin_error(out, 404, "NOT_FOUND", "no record with that id");
        int rc;
        if (strcmp(action, "delete") == 0) {
            rc = sfs_delete(st, r, now_ms, user, &err);
        } else {
            json_t *fields = json_object_get(body, "fields");
            if (!json_is_object(fields))
                return sfs_admin_error(out, 400, "INVALID_INPUT",
                                       "give {\"id\": .., \"fields\": {...}}");
            rc = sfs_update(st, r, fields, now_ms, user, &err);
        }
        if (rc != 0)
            return sfs_admin_sf_error(out, &err);
        *out = json_pack("{s:s}", "id", r->id);
        return 200;
    }
    if (strcmp(action, "remove_member") == 0 || strcmp(action, "set_member_status") == 0) {
        int status = 200;
        sfs_rec *m = sfs_admin_member(st, body, out, &status);
        if (!m)
            return status;
        int rc;
        if (strcmp(action, "remove_member") == 0) {
            rc = sfs_delete(st, m, now_ms, user, &err);
        } else {
            json_t *s = json_object_get(body, "Status");
            if (!json_is_string(s))
                return sfs_admin_error(out, 400, "INVALID_INPUT", "give the new \"Status\"");
            json_t *ch = json_pack("{s:O}", "Status", s);
            rc = sfs_update(st, m, ch, now_ms, user, &err);
            json_decref(ch);
        }
        if (rc != 0)
            return sfs_admin_sf_error(out, &err);
        *out = json_pack("{s:s}", "id", m->id);
        return 200;
    }
    if (strcmp(action, "set_marketing_user") == 0) {
        const char *uid = json_string_value(json_object_get(body, "user_id"));
        sfs_rec *u = sfs_rec_find(st, uid ? uid : st->integration_user);
        json_t *value = json_object_get(body, "value");
        if (!u || strcmp(u->obj->name, "User") != 0 || !json_is_boolean(value))
            return sfs_admin_error(out, 400, "INVALID_INPUT",
                                   "give {\"value\": true|false} and optionally a \"user_id\"");
        json_t *ch = json_pack("{s:O}", "UserPermissionsMarketingUser", value);
        int rc = sfs_update(st, u, ch, now_ms, user, &err);
        json_decref(ch);
        if (rc != 0)
            return sfs_admin_sf_error(out, &err);
        *out = json_pack("{s:s,s:O}", "id", u->id, "UserPermissionsMarketingUser", value);
        return 200;
    }
    if (strcmp(action, "convert_lead") == 0)
        return sfs_admin_convert_lead(st, body, now_ms, user, out);
    char msg[200];
    snprintf(msg, sizeof msg,
             "unknown action '%s' (state, expire_tokens, limits, set_api_usage, create, update, "
             "delete, "
             "add_member, remove_member, set_member_status, set_marketing_user, convert_lead)",
             action);
    return sfs_admin_error(out, 404, "NOT_FOUND", msg);
}
