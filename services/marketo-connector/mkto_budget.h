/*
 * The Marketo instance's API budget, shared by every connector replica.
 *
 * Marketo's limits belong to the instance, not to a process: 100 calls per
 * sliding 20 s (606), 10 calls in flight (615) and a daily quota (607). Each
 * replica therefore draws every call from one budget kept in Redis, taken
 * and returned by atomic Lua scripts, so three replicas together stay under
 * the configured share of the limits:
 *
 *   campsync:{<scope>}:window   sorted set of call start times (Redis clock),
 *                               kept for 21 s: a second more than Marketo's
 *                               window, for the jitter between our grant and
 *                               Marketo's arrival time
 *   campsync:{<scope>}:leases   sorted set of calls in flight, scored by the
 *                               time their lease expires, so a replica killed
 *                               mid-call cannot leak a slot for longer than
 *                               one lease
 *   campsync:{<scope>}:daily:<reset ms>  calls counted towards the day whose
 *                               quota resets at <reset ms> (US Central midnight)
 *   campsync:{<scope>}:quota-blocked  set after Marketo answered 607: every
 *                               replica refuses work until the reset
 *
 * The scope names the Marketo instance (the REST host), so replicas that
 * talk to one instance share one budget. Times come from Redis (TIME inside
 * the script): every replica sees the same clock.
 *
 * Redis unreachable: calls are refused (UNAVAILABLE) rather than risk the
 * instance's limits; health already reports NOT_SERVING then.
 */
#ifndef MKTO_BUDGET_H
#define MKTO_BUDGET_H

#include <stddef.h>
#include <stdint.h>

typedef struct mkto_budget_config {
    const char *scope;   /* Redis hash-tag scope, e.g. "marketo:123-abc-456.mktorest.com" */
    int calls_per_20s;   /* sliding-window allowance, 1..100 */
    int max_concurrent;  /* calls in flight across replicas, 1..10 */
    int64_t daily_quota; /* calls per day, 0 = not enforced here */
    int lease_ms;        /* how long an unreturned slot stays taken (> one HTTP attempt) */
} mkto_budget_config;

typedef struct mkto_budget mkto_budget;

/* A slot taken for one call; give it back with mkto_budget_release. */
typedef struct mkto_lease {
    char id[64];
} mkto_lease;

/* Why a call could not get a slot: code is a grpc_status_code. */
typedef struct mkto_budget_denial {
    int code;
    int64_t quota_reset_ms; /* RESOURCE_EXHAUSTED: when the daily quota resets (wall ms) */
    char msg[300];
} mkto_budget_denial;

/* Copies cfg. NULL with msg set when cfg is out of range. */
mkto_budget *mkto_budget_new(const mkto_budget_config *cfg, char *msg, size_t msg_len);
void mkto_budget_free(mkto_budget *b);

/*
 * Takes a slot for one call, waiting (sleeping, polling Redis) while the
 * window or the concurrency cap is full, but never past deadline_ms
 * (http_now_ms clock). cancelled (may be NULL) is polled between waits. 0 on
 * success; otherwise a gRPC code with d filled: RESOURCE_EXHAUSTED for the
 * daily quota (saying when it resets), UNAVAILABLE when Redis cannot be
 * reached, DEADLINE_EXCEEDED when no slot frees up in time, CANCELLED.
 */
int mkto_budget_acquire(mkto_budget *b, int64_t deadline_ms, int (*cancelled)(void *ud), void *ud,
                        mkto_lease *lease, mkto_budget_denial *d);

/* Returns the slot (the call finished, whatever its outcome). */
void mkto_budget_release(mkto_budget *b, const mkto_lease *lease);

/* Marketo said 607: every replica refuses new calls until reset_ms (wall). */
void mkto_budget_block_until(mkto_budget *b, int64_t reset_ms);

/* Calls counted today across replicas, the configured quota (0 = none) and
 * the next reset (wall ms). -1 when Redis cannot be read (*used = 0 then). */
int mkto_budget_today(mkto_budget *b, int64_t *used, int64_t *quota, int64_t *reset_ms);

/* Wall-clock now in ms (the daily quota's clock). */
int64_t mkto_wall_ms(void);

#endif
