/*
 * Prometheus registry and text exposition (see metrics.h).
 *
 * Values are doubles stored as their bit patterns in 64-bit atomics and
 * updated with compare-and-swap, so an observation on an existing series
 * costs one hash of the label values, a lock-free chain walk, and a few
 * atomic adds.
 * Histogram buckets are kept non-cumulative (one increment per observation)
 * and summed at render time; _count is the sum of all buckets, so a scrape
 * always sees a consistent +Inf bucket and _count.
 */
#include "metrics/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_SIZE 256

typedef enum { FAM_COUNTER, FAM_GAUGE, FAM_HISTOGRAM } fam_type;

struct metrics_series {
    metrics_family *fam;
    char **values;
    uint32_t hash;
    struct metrics_series *chain;
    _Atomic uint64_t bits;     /* counter/gauge value, or histogram sum */
    _Atomic uint64_t *buckets; /* histogram: nbuckets + 1 (+Inf), non-cumulative */
};

struct metrics_family {
    char *name;
    char *help;
    fam_type type;
    size_t nlabels;
    char *labels[METRICS_MAX_LABELS];
    double *bounds;
    size_t nbounds;
    pthread_mutex_t lock; /* serialises series creation and rendering */
    _Atomic(metrics_series *) table[TABLE_SIZE];
    metrics_series **order; /* creation order, for rendering */
    size_t nseries, cap;
    struct metrics_family *next;
};

struct metrics_registry {
    pthread_mutex_t lock;
    metrics_family *first, *last;
};

const double metrics_latency_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const size_t metrics_latency_nbuckets =
    sizeof metrics_latency_buckets / sizeof metrics_latency_buckets[0];

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static void atomic_add_double(_Atomic uint64_t *a, double v)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, to_bits(from_bits(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

metrics_registry *metrics_registry_new(void)
{
    metrics_registry *r = calloc(1, sizeof *r);
    if (r)
        pthread_mutex_init(&r->lock, NULL);
    return r;
}

static void series_free(metrics_series *s, size_t nlabels)
{
    for (size_t i = 0; i < nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->buckets);
    free(s);
}

static void family_free(metrics_family *f)
{
    for (size_t i = 0; i < f->nseries; i++)
        series_free(f->order[i], f->nlabels);
    free(f->order);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    pthread_mutex_destroy(&f->lock);
    free(f->bounds);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_registry_free(metrics_registry *r)
{
    if (!r)
        return;
    metrics_family *f = r->first;
    while (f) {
        metrics_family *next = f->next;
        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static int valid_name(const char *s, int allow_colon)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (allow_colon && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static uint32_t hash_values(const char *const *values, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a, with a separator between values */
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)(values[i] ? values[i] : ""); *p; p++)
            h = (h ^ *p) * 16777619u;
        h = (h ^ 0xff) * 16777619u;
    }
    return h;
}

static int same_values(const metrics_series *s, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
            return 0;
    return 1;
}

static metrics_series *find_series(metrics_family *f, const char *const *values, uint32_t h)
{
    for (metrics_series *s = atomic_load_explicit(&f->table[h % TABLE_SIZE], memory_order_acquire);
         s; s = s->chain)
        if (s->hash == h && same_values(s, values, f->nlabels))
            return s;
    return NULL;
}

/* Creates a series; called with the write lock held. */
static metrics_series *create_locked(metrics_family *f, const char *const *values, uint32_t h)
{
    if (f->nseries >= METRICS_MAX_SERIES)
        return NULL;
    if (f->nseries == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        metrics_series **o = realloc(f->order, cap * sizeof *o);
        if (!o)
            return NULL;
        f->order = o;
        f->cap = cap;
    }
    metrics_series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fam = f;
    s->hash = h;
    s->values = calloc(f->nlabels ? f->nlabels : 1, sizeof *s->values);
    if (!s->values)
        goto oom;
    for (size_t i = 0; i < f->nlabels; i++)
        if (!(s->values[i] = strdup(values[i] ? values[i] : "")))
            goto oom;
    if (f->type == FAM_HISTOGRAM && !(s->buckets = calloc(f->nbounds + 1, sizeof *s->buckets)))
        goto oom;
    /* Fully built before it is published: readers never see a partial series. */
    s->chain = atomic_load_explicit(&f->table[h % TABLE_SIZE], memory_order_relaxed);
    atomic_store_explicit(&f->table[h % TABLE_SIZE], s, memory_order_release);
    f->order[f->nseries++] = s;
    return s;
oom:
    series_free(s, f->nlabels);
    return NULL;
}

metrics_series *metrics_with(metrics_family *f, const char *const *values)
{
    if (!f)
        return NULL;
    static const char *const none[1] = {NULL};
    if (!values)
        values = none;
    uint32_t h = hash_values(values, f->nlabels);
    /* Lock-free lookup: series are only ever prepended to a chain and live
     * until the registry is freed. */
    metrics_series *s = find_series(f, values, h);
    if (s)
        return s;
    pthread_mutex_lock(&f->lock);
    s = find_series(f, values, h);
    if (!s)
        s = create_locked(f, values, h);
    pthread_mutex_unlock(&f->lock);
    return s;
}

static metrics_family *family_new(fam_type type, const char *name, const char *help,
                                  const char *const *labels, const double *bounds, size_t nbounds)
{
    metrics_family *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (!f->name || !f->help)
        goto fail;
    for (size_t i = 0; labels && labels[i]; i++) {
        if (i >= METRICS_MAX_LABELS || !valid_name(labels[i], 0) ||
            strncmp(labels[i], "__", 2) == 0 ||
            (type == FAM_HISTOGRAM && strcmp(labels[i], "le") == 0))
            goto fail;
        if (!(f->labels[i] = strdup(labels[i])))
            goto fail;
        f->nlabels = i + 1;
    }
    if (type == FAM_HISTOGRAM) {
        for (size_t i = 0; i < nbounds; i++)
            if (isnan(bounds[i]) || isinf(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
                goto fail;
        if (!(f->bounds = malloc((nbounds ? nbounds : 1) * sizeof *f->bounds)))
            goto fail;
        memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
        f->nbounds = nbounds;
    }
    /* A family without labels has exactly one series: make it now, so it
     * is exported (as 0) before the first event. */
    if (f->nlabels == 0 && !create_locked(f, NULL, hash_values(NULL, 0)))
        goto fail;
    return f;
fail:
    family_free(f);
    return NULL;
}

static int same_labels(const metrics_family *f, const char *const *labels)
{
    size_t n = 0;
    while (labels && labels[n])
        n++;
    if (n != f->nlabels)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(f->labels[i], labels[i]) != 0)
            return 0;
    return 1;
}

static metrics_family *reg_family(metrics_registry *r, fam_type type, const char *name,
                                  const char *help, const char *const *labels, const double *bounds,
                                  size_t nbounds)
{
    if (!r || !valid_name(name, 1))
        return NULL;
    pthread_mutex_lock(&r->lock);
    metrics_family *f;
    for (f = r->first; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            break;
    if (f) {
        if (f->type != type || !same_labels(f, labels))
            f = NULL;
    } else if ((f = family_new(type, name, help, labels, bounds, nbounds)) != NULL) {
        if (r->last)
            r->last->next = f;
        else
            r->first = f;
        r->last = f;
    }
    pthread_mutex_unlock(&r->lock);
    return f;
}

metrics_family *metrics_counter(metrics_registry *r, const char *name, const char *help,
                                const char *const *labels)
{
    return reg_family(r, FAM_COUNTER, name, help, labels, NULL, 0);
}

metrics_family *metrics_gauge(metrics_registry *r, const char *name, const char *help,
                              const char *const *labels)
{
    return reg_family(r, FAM_GAUGE, name, help, labels, NULL, 0);
}

metrics_family *metrics_histogram(metrics_registry *r, const char *name, const char *help,
                                  const char *const *labels, const double *buckets, size_t nbuckets)
{
    if (!buckets) {
        buckets = metrics_latency_buckets;
        nbuckets = metrics_latency_nbuckets;
    }
    return reg_family(r, FAM_HISTOGRAM, name, help, labels, buckets, nbuckets);
}

void metrics_inc(metrics_series *s, double v)
{
    if (!s || s->fam->type == FAM_HISTOGRAM)
        return;
    if (s->fam->type == FAM_COUNTER && !(v >= 0))
        return; /* counters only go up; NaN is refused too */
    atomic_add_double(&s->bits, v);
}

void metrics_set(metrics_series *s, double v)
{
    if (!s || s->fam->type != FAM_GAUGE)
        return;
    atomic_store_explicit(&s->bits, to_bits(v), memory_order_relaxed);
}

void metrics_observe(metrics_series *s, double v)
{
    if (!s || s->fam->type != FAM_HISTOGRAM || isnan(v))
        return;
    const metrics_family *f = s->fam;
    size_t i = 0;
    while (i < f->nbounds && v > f->bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&s->bits, v);
}

/* Rendering. */

/* Prometheus number syntax; shortest text that reads back to the same value. */
static void fmt_number(double v, char buf[40])
{
    if (isnan(v))
        snprintf(buf, 40, "NaN");
    else if (isinf(v))
        snprintf(buf, 40, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, 40, "%" PRId64, (int64_t)v);
    else if (snprintf(buf, 40, "%.15g", v) > 0 && strtod(buf, NULL) != v)
        snprintf(buf, 40, "%.17g", v);
}

static void put_number(FILE *o, double v)
{
    char buf[40];
    fmt_number(v, buf);
    fputs(buf, o);
}

static void put_escaped(FILE *o, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", o);
        else if (*s == '\n')
            fputs("\\n", o);
        else if (quote && *s == '"')
            fputs("\\\"", o);
        else
            fputc(*s, o);
    }
}

/* {a="x",b="y"[,le="..."]}; nothing when there are no labels at all. */
static void put_labels(FILE *o, const metrics_series *s, const char *le)
{
    const metrics_family *f = s->fam;
    if (f->nlabels == 0 && !le)
        return;
    fputc('{', o);
    for (size_t i = 0; i < f->nlabels; i++) {
        fprintf(o, "%s%s=\"", i ? "," : "", f->labels[i]);
        put_escaped(o, s->values[i], 1);
        fputc('"', o);
    }
    if (le)
        fprintf(o, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    fputc('}', o);
}

static void render_series(FILE *o, const metrics_series *s)
{
    const metrics_family *f = s->fam;
    if (f->type != FAM_HISTOGRAM) {
        fputs(f->name, o);
        put_labels(o, s, NULL);
        fputc(' ', o);
        put_number(o, from_bits(atomic_load_explicit(&s->bits, memory_order_relaxed)));
        fputc('\n', o);
        return;
    }
    uint64_t cum = 0;
    for (size_t i = 0; i <= f->nbounds; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        char le[40];
        if (i == f->nbounds)
            snprintf(le, sizeof le, "+Inf");
        else
            fmt_number(f->bounds[i], le);
        fprintf(o, "%s_bucket", f->name);
        put_labels(o, s, le);
        fprintf(o, " %" PRIu64 "\n", cum);
    }
    fprintf(o, "%s_sum", f->name);
    put_labels(o, s, NULL);
    fputc(' ', o);
    put_number(o, from_bits(atomic_load_explicit(&s->bits, memory_order_relaxed)));
    fprintf(o, "\n%s_count", f->name);
    put_labels(o, s, NULL);
    fprintf(o, " %" PRIu64 "\n", cum);
}

char *metrics_render(metrics_registry *r, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *o = open_memstream(&text, &n);
    if (!o)
        return NULL;
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&r->lock);
    for (metrics_family *f = r->first; f; f = f->next) {
        fprintf(o, "# HELP %s ", f->name);
        put_escaped(o, f->help, 0);
        fprintf(o, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
        pthread_mutex_lock(&f->lock);
        for (size_t i = 0; i < f->nseries; i++)
            render_series(o, f->order[i]);
        pthread_mutex_unlock(&f->lock);
    }
    pthread_mutex_unlock(&r->lock);
    if (fclose(o) != 0) {
        free(text);
        return NULL;
    }
    if (len)
        *len = n;
    return text;
}
