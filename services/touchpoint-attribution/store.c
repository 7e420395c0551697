/*
 * Where campsync-attribution keeps its state: Redis, through common/redis,
 * in the layout described in asvc.h. A campaign's members are kept next to
 * its touchpoints so that a changed member, a changed campaign setting or a
 * new channel map is recomputed without reading the whole campaign from
 * Salesforce again, and a campaign's whole update is one fenced Lua script
 * (a stale replica's late write is refused, a crash leaves either the old or
 * the new state, never half of each).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/status.h>

#include "asvc.h"
#include "redis/redis.h"

#define SEP '\x1f'
#define GLOBAL_SCOPE "attr"

int asvc_fail(asvc_err *e, int code, const char *fmt, ...)
{
    if (e) {
        e->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int redis_fail(asvc_err *e, const char *what, const rds_err *re)
{
    return asvc_fail(e, GRPC_STATUS_UNAVAILABLE, "redis %s: %s", what, re->msg);
}

int asvc_tps_push(asvc_tps *a, const asvc_tp *t)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        asvc_tp *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = *t;
    return 0;
}

void asvc_tps_free(asvc_tps *a)
{
    free(a->v);
    memset(a, 0, sizeof *a);
}

void asvc_campaign_state_free(asvc_campaign_state *s)
{
    free(s->members);
    free(s->tps);
    memset(s, 0, sizeof *s);
}

void asvc_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- records ---- */

/* A growing text buffer; on out of memory it stays marked failed. */
typedef struct buf {
    char *p;
    size_t n, cap;
    bool oom;
} buf;

static void buf_add(buf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

/* A field: the value with separators and line ends made spaces. */
static void buf_field(buf *b, const char *s, bool last)
{
    for (const char *p = s ? s : ""; *p; p++) {
        char c = (*p == SEP || *p == '\n') ? ' ' : *p;
        buf_add(b, &c, 1);
    }
    if (!last) {
        char c = SEP;
        buf_add(b, &c, 1);
    }
}

static void buf_i64(buf *b, int64_t v, bool last)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)v);
    buf_field(b, t, last);
}

/* Splits s in place at separators into at most max fields. */
static size_t split(char *s, char **f, size_t max)
{
    size_t n = 0;
    f[n++] = s;
    for (char *p = s; *p && n < max; p++) {
        if (*p == SEP) {
            *p = 0;
            f[n++] = p + 1;
        }
    }
    return n;
}

static const char *pooled(intern *pool, const char *s)
{
    uint32_t id = intern_id(pool, s ? s : "");
    return id == INTERN_NONE ? NULL : intern_str(pool, id);
}

static int64_t to_i64(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

enum {
    TPF_KIND,
    TPF_PERSON,
    TPF_EMAIL,
    TPF_ACCOUNT,
    TPF_AT,
    TPF_CHANNEL,
    TPF_SUB,
    TPF_MEDIUM,
    TPF_CAMPAIGN,
    TPF_CNAME,
    TPF_SOURCE,
    TPF_TYPE,
    TPF_FORM,
    TPF_MEMBER,
    TPF_COUNT
};

static char *tp_encode(const asvc_tp *t)
{
    buf b = {0};
    buf_i64(&b, t->kind, false);
    buf_field(&b, t->person_id, false);
    buf_field(&b, t->email, false);
    buf_field(&b, t->account_id, false);
    buf_i64(&b, t->at_ms, false);
    buf_field(&b, t->channel, false);
    buf_field(&b, t->subchannel, false);
    buf_field(&b, t->medium, false);
    buf_field(&b, t->campaign_id, false);
    buf_field(&b, t->campaign_name, false);
    buf_field(&b, t->source, false);
    buf_field(&b, t->type, false);
    buf_i64(&b, t->form ? 1 : 0, false);
    buf_field(&b, t->member_id, true);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static int tp_decode(const char *id, const char *value, intern *pool, asvc_tp *t)
{
    char *copy = strdup(value);
    if (!copy)
        return -1;
    char *f[TPF_COUNT] = {0};
    size_t n = split(copy, f, TPF_COUNT);
    for (size_t i = n; i < TPF_COUNT; i++)
        f[i] = "";
    memset(t, 0, sizeof *t);
    t->id = pooled(pool, id);
    t->kind = (int)to_i64(f[TPF_KIND]);
    t->person_id = pooled(pool, f[TPF_PERSON]);
    t->email = pooled(pool, f[TPF_EMAIL]);
    t->account_id = pooled(pool, f[TPF_ACCOUNT]);
    t->at_ms = to_i64(f[TPF_AT]);
    t->channel = pooled(pool, f[TPF_CHANNEL]);
    t->subchannel = pooled(pool, f[TPF_SUB]);
    t->medium = pooled(pool, f[TPF_MEDIUM]);
    t->campaign_id = pooled(pool, f[TPF_CAMPAIGN]);
    t->campaign_name = pooled(pool, f[TPF_CNAME]);
    t->source = pooled(pool, f[TPF_SOURCE]);
    t->type = pooled(pool, f[TPF_TYPE]);
    t->form = to_i64(f[TPF_FORM]) != 0;
    t->member_id = pooled(pool, f[TPF_MEMBER]);
    free(copy);
    return t->id && t->type && t->member_id ? 0 : -1;
}

void asvc_tp_from_core(const tp_touchpoint *c, asvc_tp *out)
{
    memset(out, 0, sizeof *out);
    out->id = c->id;
    out->kind = CAMPSYNC__V1__TOUCHPOINT_KIND__CRM_CAMPAIGN;
    out->person_id = c->person_id;
    out->email = c->email;
    out->account_id = c->account_id;
    out->at_ms = c->at_ms;
    out->channel = c->channel;
    out->subchannel = c->subchannel;
    out->medium = c->medium;
    out->campaign_id = c->campaign_id;
    out->campaign_name = c->campaign_name;
    out->source = TP_SOURCE;
    out->type = TP_TYPE;
    out->form = true; /* a campaign inclusion counts as a form touch (A1) */
    out->member_id = c->member_id;
}

static void core_from_tp(const asvc_tp *t, tp_touchpoint *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", t->id);
    c->member_id = t->member_id;
    c->person_id = t->person_id;
    c->email = t->email;
    c->account_id = t->account_id;
    c->at_ms = t->at_ms;
    c->channel = t->channel;
    c->subchannel = t->subchannel;
    c->medium = t->medium;
    c->campaign_id = t->campaign_id;
    c->campaign_name = t->campaign_name;
}

enum {
    MF_LEAD,
    MF_CONTACT,
    MF_EMAIL,
    MF_ACCOUNT,
    MF_STATUS,
    MF_BTD,
    MF_FRD,
    MF_CREATED,
    MF_RESPONDED,
    MF_COUNT
};

static char *member_encode(const tp_member *m)
{
    buf b = {0};
    buf_field(&b, m->lead_id, false);
    buf_field(&b, m->contact_id, false);
    buf_field(&b, m->email, false);
    buf_field(&b, m->account_id, false);
    buf_field(&b, m->status, false);
    buf_i64(&b, m->buyer_touchpoint_ms, false);
    buf_i64(&b, m->first_responded_ms, false);
    buf_i64(&b, m->created_ms, false);
    buf_i64(&b, m->has_responded ? 1 : 0, true);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static int member_decode(const char *id, const char *value, intern *pool, tp_member *m)
{
    char *copy = strdup(value);
    if (!copy)
        return -1;
    char *f[MF_COUNT] = {0};
    size_t n = split(copy, f, MF_COUNT);
    for (size_t i = n; i < MF_COUNT; i++)
        f[i] = "";
    memset(m, 0, sizeof *m);
    m->member_id = pooled(pool, id);
    m->lead_id = pooled(pool, f[MF_LEAD]);
    m->contact_id = pooled(pool, f[MF_CONTACT]);
    m->email = pooled(pool, f[MF_EMAIL]);
    m->account_id = pooled(pool, f[MF_ACCOUNT]);
    m->status = pooled(pool, f[MF_STATUS]);
    m->buyer_touchpoint_ms = to_i64(f[MF_BTD]);
    m->first_responded_ms = to_i64(f[MF_FRD]);
    m->created_ms = to_i64(f[MF_CREATED]);
    m->has_responded = to_i64(f[MF_RESPONDED]) != 0;
    free(copy);
    return m->member_id && m->status ? 0 : -1;
}

/* ---- keys ---- */

static int ckey(char *out, size_t cap, const char *cid, const char *name, asvc_err *e)
{
    char scope[160];
    rds_err re = {0};
    snprintf(scope, sizeof scope, "tp:%s", cid);
    if (rds_key(out, cap, &re, scope, "%s", name) != 0)
        return asvc_fail(e, GRPC_STATUS_INVALID_ARGUMENT, "campaign id \"%s\": %s", cid, re.msg);
    return 0;
}

static int gkey(char *out, size_t cap, const char *name, asvc_err *e)
{
    rds_err re = {0};
    if (rds_key(out, cap, &re, GLOBAL_SCOPE, "%s", name) != 0)
        return asvc_fail(e, GRPC_STATUS_INTERNAL, "redis key: %s", re.msg);
    return 0;
}

/* ---- campaign state ---- */

static const char *field_of(const rds_field *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0)
            return f[i].value;
    return NULL;
}

int asvc_store_load_campaign(const char *cid, intern *pool, asvc_campaign_state *out, asvc_err *e)
{
    memset(out, 0, sizeof *out);
    char kmeta[256], kmem[256], ktps[256];
    if (ckey(kmeta, sizeof kmeta, cid, "meta", e) || ckey(kmem, sizeof kmem, cid, "members", e) ||
        ckey(ktps, sizeof ktps, cid, "tps", e))
        return -1;
    rds_err re = {0};
    rds_field *f = NULL;
    size_t n = 0;
    if (rds_hgetall(kmeta, &f, &n, &re) != 0)
        return redis_fail(e, "read campaign", &re);
    asvc_campaign *c = &out->c;
    c->known = n > 0;
    c->id = pooled(pool, cid);
    c->name = pooled(pool, field_of(f, n, "name"));
    c->type = pooled(pool, field_of(f, n, "type"));
    c->enable = pooled(pool, field_of(f, n, "enable"));
    c->start_date = pooled(pool, field_of(f, n, "start"));
    c->end_date = pooled(pool, field_of(f, n, "end"));
    c->modstamp_ms = to_i64(field_of(f, n, "modstamp"));
    c->members_since_ms = to_i64(field_of(f, n, "members_since"));
    rds_fields_free(f, n);

    if (rds_hgetall(kmem, &f, &n, &re) != 0)
        return redis_fail(e, "read members", &re);
    out->members = calloc(n ? n : 1, sizeof *out->members);
    if (!out->members) {
        rds_fields_free(f, n);
        return asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        if (member_decode(f[i].name, f[i].value, pool, &out->members[out->n_members]) == 0)
            out->n_members++;
    rds_fields_free(f, n);

    if (rds_hgetall(ktps, &f, &n, &re) != 0) {
        asvc_campaign_state_free(out);
        return redis_fail(e, "read touchpoints", &re);
    }
    out->tps = calloc(n ? n : 1, sizeof *out->tps);
    if (!out->tps) {
        rds_fields_free(f, n);
        asvc_campaign_state_free(out);
        return asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        asvc_tp t;
        if (tp_decode(f[i].name, f[i].value, pool, &t) == 0 && strlen(t.id) == TP_ID_LEN)
            core_from_tp(&t, &out->tps[out->n_tps++]);
    }
    rds_fields_free(f, n);
    if (!out->c.id || !out->c.name) {
        asvc_campaign_state_free(out);
        return asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    return 0;
}

/*
 * KEYS: fenced, meta, members, tps. ARGV: token, n_meta, replace_members,
 * n_mem_set, n_mem_del, n_tp_set, n_tp_del, then meta pairs, member pairs,
 * deleted member ids, touchpoint pairs, deleted touchpoint ids.
 */
static const char apply_script[] =
    "local tok = tonumber(ARGV[1])\n"
    "local hi = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "if tok < hi then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[1])\n"
    "local nm, nmem, nmdel = tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local nset, ndel = tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "local i = 8\n"
    "redis.call('DEL', KEYS[2])\n"
    "for k = 1, nm do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i+1]); i = i + 2 end\n"
    "if ARGV[3] == '1' then redis.call('DEL', KEYS[3]) end\n"
    "for k = 1, nmem do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i+1]); i = i + 2 end\n"
    "for k = 1, nmdel do redis.call('HDEL', KEYS[3], ARGV[i]); i = i + 1 end\n"
    "for k = 1, nset do redis.call('HSET', KEYS[4], ARGV[i], ARGV[i+1]); i = i + 2 end\n"
    "for k = 1, ndel do redis.call('HDEL', KEYS[4], ARGV[i]); i = i + 1 end\n"
    "return 1\n";

/* Owned argument strings for one script call. */
typedef struct argv_list {
    char **v;
    size_t n, cap;
    bool oom;
} argv_list;

static void args_take(argv_list *a, char *s)
{
    if (!s)
        a->oom = true;
    if (a->oom) {
        free(s);
        return;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        char **v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            a->oom = true;
            free(s);
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = s;
}

static void args_str(argv_list *a, const char *s)
{
    args_take(a, strdup(s ? s : ""));
}

static void args_i64(argv_list *a, int64_t v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)v);
    args_str(a, t);
}

static void args_free(argv_list *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
}

int asvc_store_apply(const char *cid, int64_t token, const asvc_apply *ap, asvc_err *e)
{
    char kfence[256], kmeta[256], kmem[256], ktps[256];
    if (ckey(kfence, sizeof kfence, cid, "fenced:touchpoints", e) ||
        ckey(kmeta, sizeof kmeta, cid, "meta", e) || ckey(kmem, sizeof kmem, cid, "members", e) ||
        ckey(ktps, sizeof ktps, cid, "tps", e))
        return -1;
    const asvc_campaign *c = ap->c;
    argv_list a = {0};
    size_t n_mem_del = 0;
    for (size_t i = 0; i < ap->n_members; i++)
        n_mem_del += ap->members[i].is_deleted;
    args_i64(&a, token);
    args_i64(&a, 8);
    args_i64(&a, ap->replace_members ? 1 : 0);
    args_i64(&a, (int64_t)(ap->n_members - n_mem_del));
    args_i64(&a, (int64_t)n_mem_del);
    args_i64(&a, (int64_t)ap->n_set);
    args_i64(&a, (int64_t)ap->n_del);
    const char *meta_names[] = {"name", "type", "enable", "start", "end"};
    const char *meta_values[] = {c->name, c->type, c->enable, c->start_date, c->end_date};
    for (size_t i = 0; i < 5; i++) {
        args_str(&a, meta_names[i]);
        buf b = {0};
        buf_field(&b, meta_values[i], true);
        args_take(&a, b.oom ? NULL : (b.p ? b.p : strdup("")));
    }
    args_str(&a, "modstamp");
    args_i64(&a, c->modstamp_ms);
    args_str(&a, "members_since");
    args_i64(&a, c->members_since_ms);
    args_str(&a, "id");
    args_str(&a, cid);
    for (size_t i = 0; i < ap->n_members; i++) {
        if (ap->members[i].is_deleted)
            continue;
        args_str(&a, ap->members[i].member_id);
        args_take(&a, member_encode(&ap->members[i]));
    }
    for (size_t i = 0; i < ap->n_members; i++)
        if (ap->members[i].is_deleted)
            args_str(&a, ap->members[i].member_id);
    for (size_t i = 0; i < ap->n_set; i++) {
        asvc_tp t;
        asvc_tp_from_core(&ap->set[i], &t);
        args_str(&a, t.id);
        args_take(&a, tp_encode(&t));
    }
    for (size_t i = 0; i < ap->n_del; i++)
        args_str(&a, ap->del[i]);
    if (a.oom) {
        args_free(&a);
        return asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    const char *keys[] = {kfence, kmeta, kmem, ktps};
    rds_err re = {0};
    redisReply *r = rds_eval(apply_script, 1, 4, keys, (int)a.n, (const char *const *)a.v, &re);
    args_free(&a);
    if (!r)
        return redis_fail(e, "write campaign touchpoints", &re);
    long long ok = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (ok != 1)
        return asvc_fail(e, GRPC_STATUS_ABORTED,
                         "campaign %s was refreshed by a newer lock holder meanwhile: write "
                         "refused (retry)",
                         cid);
    char kset[128];
    if (gkey(kset, sizeof kset, "campaigns", e) != 0)
        return -1;
    r = rds_command(1, &re, "SADD %s %s", kset, cid);
    if (!r)
        return redis_fail(e, "index campaign", &re);
    freeReplyObject(r);
    return 0;
}

static const char forget_script[] = "local tok = tonumber(ARGV[1])\n"
                                    "local hi = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
                                    "if tok < hi then return 0 end\n"
                                    "redis.call('SET', KEYS[1], ARGV[1])\n"
                                    "redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])\n"
                                    "return 1\n";

int asvc_store_forget_campaign(const char *cid, int64_t token, asvc_err *e)
{
    char kfence[256], kmeta[256], kmem[256], ktps[256], kset[128];
    if (ckey(kfence, sizeof kfence, cid, "fenced:touchpoints", e) ||
        ckey(kmeta, sizeof kmeta, cid, "meta", e) || ckey(kmem, sizeof kmem, cid, "members", e) ||
        ckey(ktps, sizeof ktps, cid, "tps", e) || gkey(kset, sizeof kset, "campaigns", e))
        return -1;
    const char *keys[] = {kfence, kmeta, kmem, ktps};
    char tok[32];
    snprintf(tok, sizeof tok, "%lld", (long long)token);
    const char *args[] = {tok};
    rds_err re = {0};
    redisReply *r = rds_eval(forget_script, 1, 4, keys, 1, args, &re);
    if (!r)
        return redis_fail(e, "forget campaign", &re);
    long long ok = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (ok != 1)
        return asvc_fail(e, GRPC_STATUS_ABORTED, "campaign %s: stale lock token", cid);
    r = rds_command(1, &re, "SREM %s %s", kset, cid);
    if (!r)
        return redis_fail(e, "unindex campaign", &re);
    freeReplyObject(r);
    return asvc_store_mark_active(cid, false, e);
}

int asvc_store_mark_active(const char *cid, bool active, asvc_err *e)
{
    char kset[128];
    if (gkey(kset, sizeof kset, "active", e) != 0)
        return -1;
    rds_err re = {0};
    redisReply *r = rds_command(1, &re, active ? "SADD %s %s" : "SREM %s %s", kset, cid);
    if (!r)
        return redis_fail(e, "index active campaign", &re);
    freeReplyObject(r);
    return 0;
}

int asvc_store_campaign_ids(bool active_only, char ***ids, size_t *n, asvc_err *e)
{
    *ids = NULL;
    *n = 0;
    char kset[128];
    if (gkey(kset, sizeof kset, active_only ? "active" : "campaigns", e) != 0)
        return -1;
    rds_err re = {0};
    redisReply *r = rds_command(1, &re, "SMEMBERS %s", kset);
    if (!r)
        return redis_fail(e, "list campaigns", &re);
    char **v = calloc(r->elements ? r->elements : 1, sizeof *v);
    if (!v) {
        freeReplyObject(r);
        return asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        v[k] = strdup(r->element[i]->str);
        if (!v[k]) {
            asvc_strv_free(v, k);
            freeReplyObject(r);
            return asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        k++;
    }
    freeReplyObject(r);
    *ids = v;
    *n = k;
    return 0;
}

int asvc_store_get_i64(const char *name, int64_t *v, asvc_err *e)
{
    char key[128];
    if (gkey(key, sizeof key, name, e) != 0)
        return -1;
    char *val = NULL;
    rds_err re = {0};
    if (rds_get(key, &val, NULL, &re) != 0)
        return redis_fail(e, "read watermark", &re);
    *v = to_i64(val);
    free(val);
    return 0;
}

int asvc_store_set_i64(const char *name, int64_t v, asvc_err *e)
{
    char key[128], t[32];
    if (gkey(key, sizeof key, name, e) != 0)
        return -1;
    snprintf(t, sizeof t, "%lld", (long long)v);
    rds_err re = {0};
    if (rds_set(key, t, 0, 0, &re) != 0)
        return redis_fail(e, "write watermark", &re);
    return 0;
}

/* ---- channel map ---- */

int asvc_store_load_chmap(chmap **out, asvc_err *e)
{
    *out = NULL;
    char key[128];
    if (gkey(key, sizeof key, "chmap", e) != 0)
        return -1;
    char *val = NULL;
    rds_err re = {0};
    if (rds_get(key, &val, NULL, &re) != 0)
        return redis_fail(e, "read channel map", &re);
    size_t cap = 0;
    for (const char *p = val ? val : ""; *p; p++)
        cap += *p == '\n';
    chmap_rule *rules = calloc(cap + 1, sizeof *rules);
    if (!rules) {
        free(val);
        return asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    size_t n = 0;
    char *save = NULL;
    for (char *line = val ? strtok_r(val, "\n", &save) : NULL; line && n < cap;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[3] = {0};
        if (split(line, f, 3) != 3)
            continue;
        rules[n].campaign_type = f[0];
        rules[n].channel = f[1];
        rules[n].subchannel = f[2];
        n++;
    }
    attr_error ae = {{0}};
    int rc = chmap_build(rules, n, out, &ae);
    free(rules);
    free(val);
    if (rc != 0)
        return asvc_fail(e, GRPC_STATUS_INTERNAL, "stored channel map is invalid: %s", ae.msg);
    return 0;
}

int asvc_store_save_chmap(const chmap *m, asvc_err *e)
{
    char key[128];
    if (gkey(key, sizeof key, "chmap", e) != 0)
        return -1;
    buf b = {0};
    for (size_t i = 0; i < chmap_count(m); i++) {
        const chmap_rule *r = chmap_rule_at(m, i);
        buf_field(&b, r->campaign_type, false);
        buf_field(&b, r->channel, false);
        buf_field(&b, r->subchannel, true);
        buf_add(&b, "\n", 1);
    }
    if (b.oom) {
        free(b.p);
        return asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    rds_err re = {0};
    int rc = rds_set(key, b.p ? b.p : "", b.n, 0, &re);
    free(b.p);
    if (rc != 0)
        return redis_fail(e, "write channel map", &re);
    return 0;
}

/* ---- ingested touchpoints ---- */

/* One round trip for a whole chunk; HSETNX makes a resend after a lost
 * reply harmless (the ids are found and reported as duplicates of our own
 * write, which is still "stored once"). */
static const char ingest_script[] = "local out = {}\n"
                                    "for i = 1, #ARGV, 2 do\n"
                                    "  out[#out + 1] = redis.call('HSETNX', KEYS[1], ARGV[i], "
                                    "ARGV[i + 1])\n"
                                    "end\n"
                                    "return out\n";

#define INGEST_CHUNK 500

int asvc_store_ingest(const asvc_tp *t, size_t n, int *added, asvc_err *e)
{
    char key[128];
    if (gkey(key, sizeof key, "online", e) != 0)
        return -1;
    const char *keys[] = {key};
    for (size_t at = 0; at < n; at += INGEST_CHUNK) {
        size_t k = n - at < INGEST_CHUNK ? n - at : INGEST_CHUNK;
        argv_list a = {0};
        for (size_t i = 0; i < k; i++) {
            args_str(&a, t[at + i].id);
            args_take(&a, tp_encode(&t[at + i]));
        }
        if (a.oom) {
            args_free(&a);
            return asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        rds_err re = {0};
        redisReply *r =
            rds_eval(ingest_script, 1, 1, keys, (int)a.n, (const char *const *)a.v, &re);
        args_free(&a);
        if (!r)
            return redis_fail(e, "store touchpoints", &re);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != k) {
            freeReplyObject(r);
            return asvc_fail(e, GRPC_STATUS_INTERNAL,
                             "redis: unexpected answer storing touchpoints");
        }
        for (size_t i = 0; i < k; i++)
            added[at + i] =
                r->element[i]->type == REDIS_REPLY_INTEGER && r->element[i]->integer == 1;
        freeReplyObject(r);
    }
    return 0;
}

static int load_hash(const char *key, intern *pool, asvc_tps *out, asvc_err *e)
{
    rds_field *f = NULL;
    size_t n = 0;
    rds_err re = {0};
    if (rds_hgetall(key, &f, &n, &re) != 0)
        return redis_fail(e, "read touchpoints", &re);
    for (size_t i = 0; i < n; i++) {
        asvc_tp t;
        if (tp_decode(f[i].name, f[i].value, pool, &t) != 0)
            continue;
        if (asvc_tps_push(out, &t) != 0) {
            rds_fields_free(f, n);
            return asvc_fail(e, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
    }
    rds_fields_free(f, n);
    return 0;
}

int asvc_store_load_campaign_tps(const char *cid, intern *pool, asvc_tps *out, asvc_err *e)
{
    char key[256];
    if (ckey(key, sizeof key, cid, "tps", e) != 0)
        return -1;
    return load_hash(key, pool, out, e);
}

int asvc_store_load_all(intern *pool, asvc_tps *out, asvc_err *e)
{
    char **ids = NULL;
    size_t n = 0;
    if (asvc_store_campaign_ids(true, &ids, &n, e) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = asvc_store_load_campaign_tps(ids[i], pool, out, e);
    asvc_strv_free(ids, n);
    if (rc != 0)
        return -1;
    char key[128];
    if (gkey(key, sizeof key, "online", e) != 0)
        return -1;
    return load_hash(key, pool, out, e);
}
