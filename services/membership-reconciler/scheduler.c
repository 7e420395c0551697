/*
 * The background scheduler (SPEC C11): every pair is cycled every
 * CAMPSYNC_SYNC_INTERVAL_MS, jittered so replicas started together drift
 * apart. Replicas need no coordinator: each walks every pair whose last cycle
 * is older than the interval and tries the pair's lock; a pair another
 * replica is working on is simply skipped (busy), and the next tick sees its
 * fresh last-cycle time. A new pair's first scheduled cycle comes one
 * interval after it was linked (SyncNow runs one at once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log.h"
#include "recon_svc.h"
#include "redis/redis.h"

static bool should_stop(rc_svc *s)
{
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* Sleeps up to ms; returns true when asked to stop. */
static bool nap(rc_svc *s, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0)
        ;
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void *run(void *arg)
{
    rc_svc *s = arg;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;
    /* The first pass waits a random part of a tick, so replicas spread out. */
    int64_t tick =
        s->interval_ms / 10 > 1000 ? 1000 : (s->interval_ms / 10 > 50 ? s->interval_ms / 10 : 50);
    if (nap(s, (int64_t)(rand_r(&seed) % (unsigned)(tick + 1))))
        goto out;
    while (!should_stop(s)) {
        rc_pair *pairs = NULL;
        size_t n = 0;
        rc_err err = {0};
        if (s->sync_enabled && rc_pair_list(&pairs, &n, &err) != 0)
            log_kv(LOG_WARN, "scheduler: pairs not listed", "error", err.msg, NULL);
        int64_t now = rc_now_ms();
        for (size_t i = 0; i < n && !should_stop(s); i++) {
            /* Due after interval +- 10% jitter since the last cycle ended. */
            int64_t jitter = s->interval_ms / 10;
            int64_t last = pairs[i].last_cycle_at_ms > pairs[i].linked_at_ms
                               ? pairs[i].last_cycle_at_ms
                               : pairs[i].linked_at_ms;
            int64_t due =
                last + s->interval_ms -
                (jitter > 0 ? (int64_t)(rand_r(&seed) % (unsigned)(2 * jitter + 1)) - jitter : 0);
            if (due > now)
                continue;
            rc_cycle_opts o = {.policy = s->policy};
            Campsync__V1__CycleRecord *rec = NULL;
            bool busy = false;
            rc_err ce = {0};
            if (rc_cycle_run(s, pairs[i].program_id, &o, &rec, NULL, &busy, &ce) != 0)
                log_kv(LOG_WARN, "scheduled cycle not run", "error", ce.msg, NULL);
            if (rec)
                campsync__v1__cycle_record__free_unpacked(rec, NULL);
        }
        free(pairs);
        if (nap(s, tick))
            break;
    }
out:
    rds_thread_disconnect();
    return NULL;
}

int rc_scheduler_start(rc_svc *s, char *err, size_t err_len)
{
    if (pthread_create(&s->sched, NULL, run, s) != 0) {
        snprintf(err, err_len, "cannot start the scheduler thread");
        return -1;
    }
    s->sched_started = true;
    return 0;
}

void rc_scheduler_stop(rc_svc *s)
{
    if (!s->sched_started)
        return;
    pthread_mutex_lock(&s->mu);
    __atomic_store_n(&s->stop, true, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->sched, NULL);
    s->sched_started = false;
}
