/*
 * Status map: see status_map.h. Channels have a handful of statuses, so
 * lookups are linear scans over a step-sorted array; the merge calls
 * smap_find once per member and side, which stays far below a millisecond
 * per thousand members.
 */
#include "status_map.h"

#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

typedef struct {
    char *name;
    int32_t step;
    bool success;
} entry;

struct smap {
    entry *e;
    size_t n;
};

static int cmp_step(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->step != y->step)
        return x->step < y->step ? -1 : 1;
    return 0;
}

int smap_create(const smap_mkto_status *statuses, size_t n, smap **out, recon_err *err)
{
    *out = NULL;
    if (n == 0)
        return recon_fail(err, RECON_EINVAL, "the channel has no progression statuses");
    if (n > SMAP_MAX_STATUSES)
        return recon_fail(err, RECON_EINVAL, "the channel has %zu statuses; at most %d", n,
                          SMAP_MAX_STATUSES);
    for (size_t i = 0; i < n; i++) {
        if (!statuses[i].name || !statuses[i].name[0])
            return recon_fail(err, RECON_EINVAL, "progression status #%zu has no name", i + 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(statuses[i].name, statuses[j].name) == 0)
                return recon_fail(err, RECON_EINVAL,
                                  "progression status \"%s\" appears twice in the channel",
                                  statuses[i].name);
    }
    smap *m = calloc(1, sizeof *m);
    if (!m || !(m->e = calloc(n, sizeof *m->e))) {
        free(m);
        return recon_fail(err, RECON_ENOMEM, "out of memory building the status map");
    }
    for (size_t i = 0; i < n; i++) {
        m->e[i].name = strdup(statuses[i].name);
        m->e[i].step = statuses[i].step;
        m->e[i].success = statuses[i].success;
        m->n++;
        if (!m->e[i].name) {
            smap_free(m);
            return recon_fail(err, RECON_ENOMEM, "out of memory building the status map");
        }
    }
    /* Insertion sort keeps ties in input order (qsort is not stable). */
    for (size_t i = 1; i < n; i++) {
        entry t = m->e[i];
        size_t j = i;
        while (j > 0 && cmp_step(&m->e[j - 1], &t) > 0) {
            m->e[j] = m->e[j - 1];
            j--;
        }
        m->e[j] = t;
    }
    *out = m;
    return 0;
}

void smap_free(smap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].name);
    free(m->e);
    free(m);
}

size_t smap_count(const smap *m)
{
    return m->n;
}

int smap_find(const smap *m, const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->e[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *smap_name(const smap *m, int idx)
{
    return idx >= 0 && (size_t)idx < m->n ? m->e[idx].name : "";
}

int32_t smap_step(const smap *m, int idx)
{
    if (idx < 0 || (size_t)idx >= m->n)
        return INT32_MIN;
    return m->e[idx].step;
}

bool smap_success(const smap *m, int idx)
{
    return idx >= 0 && (size_t)idx < m->n && m->e[idx].success;
}

bool smap_is_backward(const smap *m, int from, int to)
{
    if (from < 0 || to < 0)
        return false;
    return smap_step(m, to) < smap_step(m, from);
}

bool smap_marketo_accepts(const smap *m, int from, int to)
{
    if (to < 0)
        return false;
    if (from < 0)
        return true;
    return smap_step(m, to) > smap_step(m, from);
}

int smap_higher(const smap *m, int mkto, int sf)
{
    if (mkto < 0)
        return sf;
    if (sf < 0)
        return mkto;
    return smap_step(m, sf) > smap_step(m, mkto) ? sf : mkto;
}

static bool sf_has_label(const smap_sf_status *sf, size_t n, const char *label)
{
    for (size_t i = 0; i < n; i++)
        if (sf[i].label && strcmp(sf[i].label, label) == 0)
            return true;
    return false;
}

void smap_diff_free(smap_diff *d)
{
    for (size_t i = 0; i < d->n_missing; i++)
        free(d->missing[i]);
    for (size_t i = 0; i < d->n_extra; i++)
        free(d->extra[i]);
    free(d->missing);
    free(d->extra);
    free(d->message);
    memset(d, 0, sizeof *d);
}

static void list_names(sbuf *b, char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            sbuf_printf(b, ", ");
        sbuf_quoted(b, names[i]);
    }
}

int smap_compare(const smap *m, const smap_sf_status *sf, size_t n_sf, smap_diff *out,
                 recon_err *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n_sf; i++)
        if (!sf[i].label)
            return recon_fail(err, RECON_EINVAL, "Salesforce status #%zu has no label", i + 1);
    out->missing = calloc(m->n, sizeof *out->missing);
    out->extra = calloc(n_sf ? n_sf : 1, sizeof *out->extra);
    if (!out->missing || !out->extra)
        goto oom;
    for (size_t i = 0; i < m->n; i++) {
        if (sf_has_label(sf, n_sf, m->e[i].name))
            continue;
        if (!(out->missing[out->n_missing] = strdup(m->e[i].name)))
            goto oom;
        out->n_missing++;
    }
    for (size_t i = 0; i < n_sf; i++) {
        bool dup = sf_has_label(sf, i, sf[i].label);
        if (dup || smap_find(m, sf[i].label) >= 0)
            continue;
        if (!(out->extra[out->n_extra] = strdup(sf[i].label)))
            goto oom;
        out->n_extra++;
    }
    if (out->n_missing == 0 && out->n_extra == 0)
        return 0;
    sbuf b = {0};
    sbuf_printf(&b, "statuses differ: ");
    if (out->n_missing) {
        sbuf_printf(&b, "missing in Salesforce: ");
        list_names(&b, out->missing, out->n_missing);
    }
    if (out->n_extra) {
        sbuf_printf(&b, "%sextra in Salesforce: ", out->n_missing ? "; " : "");
        list_names(&b, out->extra, out->n_extra);
    }
    if (!(out->message = sbuf_take(&b)))
        goto oom;
    return 0;
oom:
    smap_diff_free(out);
    return recon_fail(err, RECON_ENOMEM, "out of memory comparing statuses");
}

void smap_create_plan_free(smap_create_plan *p)
{
    free(p->create);
    free(p->note);
    memset(p, 0, sizeof *p);
}

static bool order_used(const smap_sf_status *sf, size_t n_sf, const smap_create_plan *p,
                       int64_t order)
{
    for (size_t i = 0; i < n_sf; i++)
        if (sf[i].sort_order == order)
            return true;
    for (size_t i = 0; i < p->n_create; i++)
        if (p->create[i].sort_order == order)
            return true;
    return false;
}

/* Is `order` the step of a status still to be created after position i? */
static bool order_wanted_later(const smap *m, const bool *missing, size_t i, int64_t order)
{
    for (size_t j = i + 1; j < m->n; j++)
        if (missing[j] && m->e[j].step == order)
            return true;
    return false;
}

int smap_plan_missing(const smap *m, const smap_sf_status *sf, size_t n_sf, smap_create_plan *out,
                      recon_err *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n_sf; i++)
        if (!sf[i].label)
            return recon_fail(err, RECON_EINVAL, "Salesforce status #%zu has no label", i + 1);
    bool *missing = calloc(m->n, sizeof *missing);
    out->create = calloc(m->n, sizeof *out->create);
    if (!missing || !out->create) {
        free(missing);
        smap_create_plan_free(out);
        return recon_fail(err, RECON_ENOMEM, "out of memory planning statuses");
    }
    for (size_t i = 0; i < m->n; i++)
        missing[i] = !sf_has_label(sf, n_sf, m->e[i].name);
    sbuf note = {0};
    for (size_t i = 0; i < m->n; i++) {
        if (!missing[i])
            continue;
        int64_t order = m->e[i].step;
        while (order_used(sf, n_sf, out, order) ||
               (order != m->e[i].step && order_wanted_later(m, missing, i, order)))
            order++;
        if (order > INT32_MAX) {
            free(missing);
            sbuf_free(&note);
            smap_create_plan_free(out);
            return recon_fail(err, RECON_EINVAL, "no free SortOrder above step %d for \"%s\"",
                              (int)m->e[i].step, m->e[i].name);
        }
        smap_sf_status *c = &out->create[out->n_create++];
        c->label = m->e[i].name;
        c->sort_order = (int32_t)order;
        c->has_responded = m->e[i].success;
        c->is_default = i == 0;
        if (order != m->e[i].step) {
            sbuf_printf(&note, "%s", note.len ? "; " : "");
            sbuf_quoted(&note, m->e[i].name);
            sbuf_printf(&note, " gets SortOrder %lld because %d (its step) is already taken",
                        (long long)order, (int)m->e[i].step);
        }
    }
    free(missing);
    if (note.len && !(out->note = sbuf_take(&note))) {
        smap_create_plan_free(out);
        return recon_fail(err, RECON_ENOMEM, "out of memory planning statuses");
    }
    sbuf_free(&note);
    return 0;
}
