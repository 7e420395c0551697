/*
 * campsync-reconciler under faults, on a generated dataset big enough for a
 * first sync of many batches: the reconciler killed with SIGKILL in the middle
 * of applying and restarted, two and then three replicas (with their
 * schedulers) sharing the pairs, Redis killed mid-cycle and coming back
 * empty, and 10% of vendor requests failing. (Connectors killed mid-cycle:
 * test_system_faults.) Every time the pair must end converged, with no
 * duplicate member or person, no lost change and every event exactly once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campsync/v1/reconciler.pb-c.h"
#include "recon_test.h"
#include "rpc/rpc_client.h"
#include "ts_stack.h"

#define P1 1001
#define P2 1002

static rt_env env;
static char camp1[32], camp2[32];
static rt_pairing pairing; /* large: kept off the stack */
/* No scheduler (cycles only on SyncNow), a lock a dead holder loses fast. */
static const char *const manual[] = {"CAMPSYNC_SYNC_INTERVAL_MS=0", "CAMPSYNC_LOCK_TTL_MS=3s",
                                     NULL};

static int setup(void **state)
{
    (void)state;
    /* Options go in at each (re)start rather than in the stack's env, which
     * would take precedence over the ones a restart gives. */
    if (rt_start(&env, NULL, "people=3000,programs=3,members=900", NULL) != 0 ||
        rt_restart_reconciler(&env, manual) != 0)
        return -1;
    json_t *st = rt_state(&env);
    snprintf(camp1, sizeof camp1, "%s", rt_campaign_of(st, P1));
    snprintf(camp2, sizeof camp2, "%s", rt_campaign_of(st, P2));
    json_decref(st);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rt_stop(&env);
    return 0;
}

static void link_pair(long long program, const char *campaign)
{
    Campsync__V1__LinkRequest rq = CAMPSYNC__V1__LINK_REQUEST__INIT;
    rq.program_id = program;
    rq.campaign_id = (char *)campaign;
    rpc_error err;
    assert_int_equal(rt_link(&env, &rq, NULL, &err), 0);
}

/* SyncNow until it is not refused as busy (a dead holder's lock expires). */
static Campsync__V1__CycleRecord *sync_when_free(long long program)
{
    Campsync__V1__CycleRecord *rec = NULL;
    rpc_error err;
    for (int i = 0; i < 60; i++) {
        int rc = rt_sync_opts(&env, program, 0, 1, &rec, &err); /* full read */
        if (rc == 0)
            return rec;
        if (rec)
            protobuf_c_message_free_unpacked(&rec->base, NULL);
        rec = NULL;
        if (i % 10 == 0)
            fprintf(stderr, "sync %lld: %s: %s\n", program, rpc_status_name(rc), err.message);
        assert_true(rc == GRPC_STATUS_UNAVAILABLE || rc == GRPC_STATUS_ABORTED);
        ts_sleep_ms(500);
    }
    fail_msg("pair %lld stayed busy", program);
    return NULL;
}

/* Both sides hold the same people with the same statuses, apart from the
 * records the cycle skipped (no email), and a further cycle writes nothing. */
static void assert_converged(long long program, const char *campaign)
{
    Campsync__V1__CycleRecord *rec = sync_when_free(program);
    assert_string_equal(rec->status, "Succeeded");
    assert_int_equal(rec->counts->new_ + rec->counts->updated + rec->counts->deleted, 0);
    int skipped = rec->counts->skipped;
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    json_t *st = rt_state(&env);
    rt_pairing_compute(st, program, campaign, &pairing);
    assert_int_equal(pairing.differ, 0);
    assert_true(pairing.mkto_only + pairing.sf_only <= skipped);
    rt_assert_no_duplicates(st, campaign);
    json_decref(st);
}

static int count_sf_members(const char *campaign)
{
    json_t *st = rt_state(&env);
    rt_pairing_compute(st, 0, campaign, &pairing);
    json_decref(st);
    return pairing.sf_only;
}

/* No event twice; an ADDED event for every member Salesforce gained (exactly
 * that many when no record failed along the way: `exact`). */
static void assert_events_once(const char *campaign, int added_in_sf, int exact)
{
    rt_events ev;
    rt_collect_events(&env, "0", campaign, &ev);
    assert_int_equal(rt_events_duplicates(&ev), 0);
    int added = 0;
    for (size_t i = 0; i < ev.n; i++)
        added += ev.e[i].type == CAMPSYNC__V1__EVENT_TYPE__ADDED_TO_SFDC_CAMPAIGN;
    rt_events_free(&ev);
    if (exact)
        assert_int_equal(added, added_in_sf);
    else
        assert_true(added >= added_in_sf);
}

static void killed_mid_apply_converges_once(void **state)
{
    (void)state;
    link_pair(P1, camp1);
    int sf_before = count_sf_members(camp1);
    /* Start the first sync and kill the reconciler after its first batch. */
    Campsync__V1__SyncRequest rq = CAMPSYNC__V1__SYNC_REQUEST__INIT;
    rq.program_id = P1;
    rpc_stream *s = NULL;
    rpc_error err = {0};
    assert_int_equal(rpc_stream_open(env.rc, RT_SVC, "SyncNow", &rq.base, NULL, &s, &err), 0);
    ProtobufCMessage *m = NULL;
    int killed = 0, total = 0;
    while (!killed && rpc_stream_next(s, &m, &err) == 1) {
        Campsync__V1__SyncProgress *p = (void *)m;
        if (strcmp(p->phase, "apply") == 0 && p->done > 0) {
            total = p->total;
            assert_true(p->done < p->total); /* really in the middle */
            assert_int_equal(ts_proc_signal(env.stack->svc[TS_SVC_RECONCILER], SIGKILL), 0);
            killed = 1;
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_close(s);
    assert_true(killed);
    assert_true(total > 400);
    ts_proc_wait(env.stack->svc[TS_SVC_RECONCILER], 10000, NULL);
    assert_int_equal(ts_stack_start_service(env.stack, TS_SVC_RECONCILER, manual), 0);
    rpc_client_cleanup();
    assert_int_equal(rt_connect(&env), 0);

    Campsync__V1__CycleRecord *rec = sync_when_free(P1);
    assert_string_equal(rec->status, "Succeeded");
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    /* The killed cycle's record was closed as Failed (interrupted). */
    Campsync__V1__CycleList *l = NULL;
    assert_int_equal(rt_list_cycles(&env, P1, 5, &l, &err), 0);
    assert_true(l->n_cycles >= 2);
    assert_string_equal(l->cycles[l->n_cycles - 1]->status, "Failed");
    assert_non_null(strstr(l->cycles[l->n_cycles - 1]->message, "interrupted"));
    protobuf_c_message_free_unpacked(&l->base, NULL);

    assert_converged(P1, camp1);
    int sf_after = count_sf_members(camp1);
    assert_true(sf_after > sf_before);
    assert_events_once(camp1, sf_after - sf_before, 1);
}

static void redis_lost_mid_cycle_removes_nothing(void **state)
{
    (void)state;
    /* Changes on both sides, then Redis dies during the cycle and comes
     * back empty: the base is gone, so the next cycle is a union. */
    json_t *st = rt_state(&env);
    rt_pairing_compute(st, P1, camp1, &pairing);
    const rt_row *r = rt_find_row(&pairing, NULL, NULL);
    assert_non_null(r);
    rt_row removed = *r;
    long long newcomer = rt_lead_outside_program(st, P1, camp1);
    json_decref(st);
    assert_int_equal(rt_sf_remove(&env, camp1, removed.sf_id), 0);
    assert_int_equal(rt_mk_add(&env, P1, newcomer, NULL), 0);

    Campsync__V1__SyncRequest rq = CAMPSYNC__V1__SYNC_REQUEST__INIT;
    rq.program_id = P1;
    rpc_stream *s = NULL;
    rpc_error err = {0};
    assert_int_equal(rpc_stream_open(env.rc, RT_SVC, "SyncNow", &rq.base, NULL, &s, &err), 0);
    ProtobufCMessage *m = NULL;
    int killed = 0;
    while (rpc_stream_next(s, &m, &err) == 1) {
        Campsync__V1__SyncProgress *p = (void *)m;
        if (!killed && strcmp(p->phase, "read") == 0) {
            assert_int_equal(ts_redis_kill(env.stack->redis), 0);
            killed = 1;
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_close(s);
    assert_true(killed);
    assert_int_equal(ts_redis_restart(env.stack->redis), 0);
    /* The pair itself was lost with Redis: link again (once the
     * reconciler's connection is back), sync. */
    Campsync__V1__LinkRequest lq = CAMPSYNC__V1__LINK_REQUEST__INIT;
    lq.program_id = P1;
    lq.campaign_id = camp1;
    int rc = -1;
    for (int i = 0; i < 40 && rc != 0; i++) {
        rc = rt_link(&env, &lq, NULL, &err);
        if (rc != 0)
            ts_sleep_ms(250);
    }
    assert_int_equal(rc, 0);
    Campsync__V1__CycleRecord *rec = sync_when_free(P1);
    assert_string_equal(rec->status, "Succeeded");
    assert_int_equal(rec->counts->deleted, 0);
    assert_true(rec->counts->new_ >= 2);
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    assert_converged(P1, camp1);
    st = rt_state(&env);
    /* With no base nothing is removed: the member removed in Salesforce is
     * back there (Marketo still had it), and the newcomer reached Salesforce. */
    assert_string_equal(rt_sf_status(st, camp1, removed.sf_id), removed.status);
    assert_true(rt_sf_status(st, camp1, rt_sf_person_of(st, newcomer))[0] != 0);
    json_decref(st);
}

static void vendor_faults_delay_but_lose_nothing(void **state)
{
    (void)state;
    link_pair(P2, camp2);
    int sf_before = count_sf_members(camp2);
    json_t *f1 = json_pack("{s:s,s:i,s:f,s:f,s:f,s:s}", "vendor", "marketo", "seed", 3, "transient",
                           0.04, "server_error", 0.03, "drop", 0.03, "path_prefix", "/rest/");
    json_t *f2 =
        json_pack("{s:s,s:i,s:f,s:f,s:f,s:s}", "vendor", "salesforce", "seed", 4, "transient", 0.04,
                  "server_error", 0.03, "drop", 0.03, "path_prefix", "/services/data/");
    assert_int_equal(rt_post(&env, "/admin/faults", f1), 0);
    assert_int_equal(rt_post(&env, "/admin/faults", f2), 0);
    int succeeded = 0;
    for (int i = 0; i < 10 && !succeeded; i++) {
        Campsync__V1__CycleRecord *rec = NULL;
        rpc_error err;
        if (rt_sync(&env, P2, 0, &rec, &err) == 0)
            succeeded = strcmp(rec->status, "Succeeded") == 0;
        if (rec)
            protobuf_c_message_free_unpacked(&rec->base, NULL);
    }
    json_decref(ts_admin(env.stack, "DELETE", "/admin/faults", NULL, NULL));
    assert_converged(P2, camp2);
    int sf_after = count_sf_members(camp2);
    assert_true(sf_after > sf_before);
    assert_events_once(camp2, sf_after - sf_before, 0);
}

/* Another reconciler process on the same Redis and connectors. */
static ts_proc *spawn_replica(const char *const *opts, const char *name)
{
    char bin[512], listen[64], redis_env[256], mk[128], sf[128];
    assert_int_equal(ts_bin_path("campsync-reconciler", bin, sizeof bin), 0);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", ts_free_port());
    snprintf(redis_env, sizeof redis_env, "CAMPSYNC_REDIS_URL=%s", ts_redis_url(env.stack->redis));
    snprintf(mk, sizeof mk, "CAMPSYNC_MARKETO_CONNECTOR=%s", env.stack->target[TS_SVC_MARKETO]);
    snprintf(sf, sizeof sf, "CAMPSYNC_SALESFORCE_CONNECTOR=%s",
             env.stack->target[TS_SVC_SALESFORCE]);
    const char *argv[] = {bin, "--listen", listen, "--metrics", "127.0.0.1:0", NULL};
    const char *envp[] = {redis_env, mk, sf, opts[0], opts[1], NULL};
    ts_proc *p = ts_proc_spawn(argv, envp, env.stack->dir, name);
    assert_non_null(p);
    return p;
}

/* A Marketo add and a Salesforce status change on each pair, then waits
 * until the replicas' schedulers carried both across. */
static void change_and_wait(ts_proc *const *replicas, int n_replicas)
{
    json_t *st = rt_state(&env);
    long long a = rt_lead_outside_program(st, P1, camp1);
    long long b = rt_lead_outside_program(st, P2, camp2);
    rt_pairing_compute(st, P1, camp1, &pairing);
    const rt_row *r = rt_find_row(&pairing, "Invited", NULL);
    assert_non_null(r);
    rt_row moved = *r;
    json_decref(st);
    assert_int_equal(rt_mk_add(&env, P1, a, NULL), 0);
    assert_int_equal(rt_mk_add(&env, P2, b, NULL), 0);
    assert_int_equal(rt_sf_set_status(&env, camp1, moved.sf_id, "Registered"), 0);
    int done = 0;
    for (int i = 0; i < 120 && !done; i++) {
        ts_sleep_ms(500);
        st = rt_state(&env);
        done = rt_sf_status(st, camp1, rt_sf_person_of(st, a))[0] &&
               rt_sf_status(st, camp2, rt_sf_person_of(st, b))[0] &&
               strcmp(rt_mk_status(st, P1, moved.lead_id), "Registered") == 0;
        json_decref(st);
    }
    if (!done) {
        ts_proc_dump_stderr(env.stack->svc[TS_SVC_RECONCILER], 3000);
        for (int i = 0; i < n_replicas; i++)
            ts_proc_dump_stderr(replicas[i], 3000);
    }
    assert_true(done);
}

static void two_and_three_replicas_share_the_pairs(void **state)
{
    (void)state;
    /* Every replica cycles every pair every second on its own. */
    static const char *const fast[] = {"CAMPSYNC_SYNC_INTERVAL_MS=1s", "CAMPSYNC_LOCK_TTL_MS=15s",
                                       NULL};
    assert_int_equal(rt_restart_reconciler(&env, fast), 0);
    ts_proc *replicas[2];
    replicas[0] = spawn_replica(fast, "reconciler-2");
    change_and_wait(replicas, 1);
    replicas[1] = spawn_replica(fast, "reconciler-3");
    change_and_wait(replicas, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ts_proc_stop(replicas[i], 15000) >= 0, 1);
        ts_proc_free(replicas[i]);
    }

    /* One holder at a time: each cycle's token is higher than the last. */
    rpc_error err;
    const long long pids[] = {P1, P2};
    for (int k = 0; k < 2; k++) {
        Campsync__V1__CycleList *l = NULL;
        assert_int_equal(rt_list_cycles(&env, pids[k], 50, &l, &err), 0);
        assert_true(l->n_cycles >= 2);
        for (size_t i = 1; i < l->n_cycles; i++) {
            const Campsync__V1__CycleRecord *newer = l->cycles[i - 1], *older = l->cycles[i];
            assert_true(newer->fencing_token > older->fencing_token);
        }
        protobuf_c_message_free_unpacked(&l->base, NULL);
    }
    assert_int_equal(rt_restart_reconciler(&env, manual), 0);
    assert_converged(P1, camp1);
    assert_converged(P2, camp2);
    rt_events ev;
    rt_collect_events(&env, "0", NULL, &ev);
    assert_int_equal(rt_events_duplicates(&ev), 0);
    rt_events_free(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(killed_mid_apply_converges_once),
        cmocka_unit_test(vendor_faults_delay_but_lose_nothing),
        cmocka_unit_test(two_and_three_replicas_share_the_pairs),
        cmocka_unit_test(redis_lost_mid_cycle_removes_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
