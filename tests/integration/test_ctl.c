/*
 * campsyncctl end to end: the real binary against the real stack
 * (redis-server, the vendor sandbox, both connectors, the reconciler and
 * attribution services on loopback). Each scenario runs campsyncctl as an
 * operator would and asserts on its exit code (0 ok, 1 service error or not
 * a member, 2 usage, 3 unreachable, 4 not serving, 5 partial batch), on its
 * --json output (one document per line, parsed with jansson) and on what
 * changed in the vendors' state, read back through the sandbox admin API.
 *
 * Scenarios run in order on one stack: link, dry run, sync, cycles and
 * events build on each other; the attribution part makes its own campaign,
 * contact and opportunity; the health check that stops Redis runs last.
 * CAMPSYNC_CTL_ECHO=1 copies every run's stdout and stderr to the test's
 * stderr.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "recon_test.h"
#include "ts_stack.h"

/* Ids in tests/sandbox/datasets/small.json: program 1001 has sfdcId
 * WEBINAR_CAMPAIGN, 1002 TRADESHOW_CAMPAIGN. */
#define WEBINAR 1001
#define WEBINAR_CAMPAIGN "701Dn00000000G8IAI"
#define TRADESHOW_CAMPAIGN "701Dn00000000G9IAI"
#define DAY_MS 86400000LL

static rt_env env;
static char ctl_path[512];
static int runs;
static char *out_text, *err_text; /* of the last run */
static json_t *out_json;          /* array: one element per stdout line (--json) */

static int setup(void **state)
{
    (void)state;
    static const char *const e[] = {"CAMPSYNC_SYNC_INTERVAL_MS=0",
                                    "CAMPSYNC_ATTRIBUTION_REFRESH_INTERVAL=0",
                                    "CAMPSYNC_ATTRIBUTION_FULL_REFRESH_INTERVAL=0", NULL};
    ts_stack_opts o = {.dataset = "tests/sandbox/datasets/small.json",
                       .seed = 11,
                       .services = (1u << TS_SVC_COUNT) - 1,
                       .env = e,
                       .redis_appendonly = 1};
    env.stack = ts_stack_start(&o);
    if (!env.stack || ts_bin_path("campsyncctl", ctl_path, sizeof ctl_path) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(out_text);
    free(err_text);
    json_decref(out_json);
    ts_stack_free(env.stack);
    return 0;
}

/* Starts campsyncctl with the service addresses of the stack and args
 * (NULL-terminated). */
static ts_proc *ctl_start(const char *const *args)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = ctl_path;
    argv[n++] = "--reconciler";
    argv[n++] = env.stack->target[TS_SVC_RECONCILER];
    argv[n++] = "--attribution";
    argv[n++] = env.stack->target[TS_SVC_ATTRIBUTION];
    for (; *args; args++) {
        assert_true(n < 63);
        argv[n++] = *args;
    }
    argv[n] = NULL;
    char name[32];
    snprintf(name, sizeof name, "ctl-%d", ++runs);
    ts_proc *p = ts_proc_spawn(argv, NULL, env.stack->dir, name);
    assert_non_null(p);
    return p;
}

/*
 * Waits for a started campsyncctl and returns its exit code. stdout/stderr
 * land in out_text/err_text; out_json holds each stdout line parsed as JSON
 * (NULL when some line is not JSON). A crash or a sanitizer report fails the
 * test.
 */
static int ctl_finish(ts_proc *p)
{
    int status = 0;
    if (ts_proc_wait(p, 60000, &status) != 0) {
        ts_proc_free(p);
        fail_msg("ctl-%d: campsyncctl did not exit within 60 s", runs);
    }
    free(out_text);
    free(err_text);
    json_decref(out_json);
    out_text = ts_read_file(ts_proc_stdout_path(p), NULL);
    err_text = ts_read_file(ts_proc_stderr_path(p), NULL);
    ts_proc_free(p);
    assert_non_null(out_text);
    assert_non_null(err_text);
    fprintf(stderr, "[ctl-%d] -> %d\n", runs, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (getenv("CAMPSYNC_CTL_ECHO")) /* =1: show what every run printed */
        fprintf(stderr, "%s%s", out_text, err_text);
    if (!WIFEXITED(status) || strstr(err_text, "Sanitizer") || strstr(err_text, "runtime error:"))
        fail_msg("ctl-%d crashed (status %d):\n%s", runs, status, err_text);
    out_json = json_array();
    char *save = NULL, *copy = strdup(out_text);
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        if (!j) {
            json_decref(out_json);
            out_json = NULL;
            break;
        }
        json_array_append_new(out_json, j);
    }
    free(copy);
    return WEXITSTATUS(status);
}

/* Runs campsyncctl with the NULL-terminated args (see ctl_finish). */
static int ctl(const char *first, ...)
{
    const char *args[64];
    int n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        assert_true(n < 63);
        args[n++] = a;
    }
    va_end(ap);
    args[n] = NULL;
    return ctl_finish(ctl_start(args));
}

/* The only JSON document the last run printed. */
static json_t *only_doc(void)
{
    if (!out_json || json_array_size(out_json) != 1)
        fail_msg("want one JSON line, got:\n%s", out_text);
    return json_array_get(out_json, 0);
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static long long jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("\"%s\" is not an integer in the JSON", k);
    return json_integer_value(v);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("\"%s\" not found in:\n%s", needle, hay);
}

/* ---- command line ---- */

static void usage_and_help(void **state)
{
    (void)state;
    static const char *const cmds[] = {"health",
                                       "pairs",
                                       "link",
                                       "unlink",
                                       "sync",
                                       "dry-run",
                                       "cycles",
                                       "events",
                                       "is-member",
                                       "add-to-campaign",
                                       "remove-from-campaign",
                                       "change-status",
                                       "mapping",
                                       "refresh",
                                       "touchpoints",
                                       "bulk-date",
                                       "attribute",
                                       "report",
                                       "export"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        assert_int_equal(ctl(cmds[i], "--help", NULL), 0);
        char want[64];
        snprintf(want, sizeof want, "usage: campsyncctl ");
        assert_contains(out_text, want);
        assert_contains(out_text, cmds[i]);
        /* every command is listed in the global help */
    }
    assert_int_equal(ctl("--help", NULL), 0);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        assert_contains(out_text, cmds[i]);
    assert_int_equal(ctl("help", NULL), 0);
    assert_int_equal(ctl(NULL), 2);
    assert_int_equal(ctl("frobnicate", NULL), 2);
    assert_contains(err_text, "unknown command \"frobnicate\"");
    assert_int_equal(ctl("--no-such-option", "pairs", NULL), 2);
    assert_int_equal(ctl("--timeout-ms", "soon", "pairs", NULL), 2);
    assert_int_equal(ctl("--timeout-ms", "5s", "pairs", NULL), 2);
    assert_int_equal(ctl("--token-file", "/nonexistent/token", "pairs", NULL), 2);
    assert_contains(err_text, "/nonexistent/token");
    /* per-command usage errors */
    assert_int_equal(ctl("sync", NULL), 2);
    assert_int_equal(ctl("sync", "1001", "--policy", "coin_toss", NULL), 2);
    assert_contains(err_text, "--policy");
    assert_int_equal(ctl("cycles", "x", NULL), 2);
    assert_int_equal(ctl("cycles", NULL), 2);
    assert_contains(err_text, "PROGRAM_ID");
    assert_int_equal(ctl("cycles", "1001", "--limit", "many", NULL), 2);
    assert_int_equal(ctl("events", "--count", "lots", NULL), 2);
    assert_contains(err_text, "\"lots\"");
    assert_int_equal(ctl("events", "stray", NULL), 2);
    /* usage errors go to stderr; stdout stays clean for scripts */
    assert_int_equal(ctl("link", "--frob", NULL), 2);
    assert_string_equal(out_text, "");
    assert_contains(err_text, "usage: campsyncctl link");
    assert_int_equal(ctl("export", "--frob", NULL), 2);
    assert_string_equal(out_text, "");
    assert_int_equal(ctl("unlink", "x", NULL), 2);
    assert_string_equal(out_text, "");
    assert_int_equal(ctl("unlink", NULL), 2);
    assert_int_equal(ctl("is-member", TRADESHOW_CAMPAIGN, NULL), 2);
    assert_int_equal(ctl("add-to-campaign", TRADESHOW_CAMPAIGN, "5", NULL), 2);
    assert_int_equal(ctl("report", "--model", "astrology", NULL), 2);
    assert_contains(err_text, "astrology");
    assert_int_equal(ctl("touchpoints", "--from", "yesterday", NULL), 2);
    assert_int_equal(ctl("bulk-date", TRADESHOW_CAMPAIGN, "2026-13-45", NULL), 2);
    assert_int_equal(ctl("mapping", "set", "Webinar", NULL), 2);
    assert_contains(err_text, "TYPE=CHANNEL/SUBCHANNEL");
    assert_int_equal(ctl("mapping", "frob", NULL), 2);
    /* "set" with no rule would wipe the mapping: refused locally */
    assert_int_equal(ctl("mapping", "set", NULL), 2);
}

/* ---- health ---- */

static void health_of_every_service(void **state)
{
    (void)state;
    for (int s = 0; s < TS_SVC_COUNT; s++) {
        assert_int_equal(ctl("--target", env.stack->target[s], "--json", "health", NULL), 0);
        json_t *d = only_doc();
        assert_string_equal(jstr(d, "status"), "SERVING");
        assert_string_equal(jstr(d, "target"), env.stack->target[s]);
    }
    assert_int_equal(ctl("--target", env.stack->target[TS_SVC_RECONCILER], "health", NULL), 0);
    assert_contains(out_text, "SERVING");

    /* nobody listens there */
    char dead[64];
    int port = ts_free_port();
    assert_true(port > 0);
    snprintf(dead, sizeof dead, "127.0.0.1:%d", port);
    assert_int_equal(ctl("--target", "", "health", NULL), 2);
    assert_contains(err_text, "empty target");
    assert_int_equal(ctl("--timeout-ms", "2000", "--target", dead, "health", NULL), 3);
    assert_contains(err_text, "UNAVAILABLE");
    assert_int_equal(ctl("--timeout-ms", "2000", "--reconciler", dead, "pairs", NULL), 3);
    assert_int_equal(
        ctl("--timeout-ms", "2000", "--reconciler", dead, "events", "--count", "1", NULL), 3);
    assert_int_equal(
        ctl("--timeout-ms", "2000", "--attribution", dead, "--json", "touchpoints", NULL), 3);
    json_t *d = only_doc();
    assert_string_equal(jstr(d, "code"), "UNAVAILABLE");
}

/* Redis down: the services say NOT_SERVING (4) within a few seconds, and
 * SERVING again once it is back. Runs last. */
static void health_follows_redis(void **state)
{
    (void)state;
    const char *target = env.stack->target[TS_SVC_RECONCILER];
    assert_int_equal(ts_redis_stop(env.stack->redis), 0);
    int rc = -1;
    for (int i = 0; i < 40 && rc != 4; i++) {
        rc = ctl("--timeout-ms", "3000", "--target", target, "--json", "health", NULL);
        if (rc != 4)
            ts_sleep_ms(250);
    }
    assert_int_equal(rc, 4);
    assert_string_equal(jstr(only_doc(), "status"), "NOT_SERVING");
    /* the process itself is fine */
    assert_int_equal(ctl("--target", target, "--json", "health", "liveness", NULL), 0);
    assert_string_equal(jstr(only_doc(), "service"), "liveness");
    assert_string_equal(jstr(only_doc(), "status"), "SERVING");
    assert_int_equal(ctl("--target", target, "health", "no.such.Service", NULL), 1);
    assert_contains(err_text, "NOT_FOUND");
    assert_int_equal(ts_redis_restart(env.stack->redis), 0);
    for (int i = 0; i < 80 && rc != 0; i++) {
        rc = ctl("--timeout-ms", "3000", "--target", target, "health", NULL);
        if (rc != 0)
            ts_sleep_ms(250);
    }
    assert_int_equal(rc, 0);
}

/* ---- reconciler ---- */

static void link_and_pairs(void **state)
{
    (void)state;
    assert_int_equal(ctl("link", "webinar", "--campaign", WEBINAR_CAMPAIGN, NULL), 2);
    assert_contains(err_text, "\"webinar\" is not a Marketo program id");
    assert_int_equal(ctl("link", "-5", "--campaign", WEBINAR_CAMPAIGN, NULL), 2);
    assert_int_equal(ctl("link", "1001", NULL), 2);
    assert_int_equal(
        ctl("link", "1001", "--campaign", WEBINAR_CAMPAIGN, "--new-campaign", "x", NULL), 2);
    assert_int_equal(ctl("--json", "pairs", NULL), 0);
    assert_int_equal(json_array_size(json_object_get(only_doc(), "pairs")), 0);

    /* a program that does not exist: the service's NOT_FOUND is exit 1 */
    assert_int_equal(ctl("link", "999999", "--campaign", WEBINAR_CAMPAIGN, NULL), 1);
    assert_contains(err_text, "NOT_FOUND");

    assert_int_equal(ctl("--json", "link", "1001", "--campaign", WEBINAR_CAMPAIGN, NULL), 0);
    json_t *p = only_doc();
    assert_int_equal(jint(p, "program_id"), WEBINAR);
    assert_string_equal(jstr(p, "campaign_id"), WEBINAR_CAMPAIGN);
    assert_string_equal(jstr(p, "channel"), "Webinar");

    /* linked twice: ALREADY_EXISTS, as JSON on stdout with --json */
    assert_int_equal(ctl("--json", "link", "1001", "--campaign", WEBINAR_CAMPAIGN, NULL), 1);
    assert_string_equal(jstr(only_doc(), "code"), "ALREADY_EXISTS");
    assert_string_equal(jstr(only_doc(), "call"), "Link");

    assert_int_equal(ctl("--json", "pairs", NULL), 0);
    json_t *pairs = json_object_get(only_doc(), "pairs");
    assert_int_equal(json_array_size(pairs), 1);
    assert_int_equal(jint(json_array_get(pairs, 0), "program_id"), WEBINAR);
    assert_string_equal(jstr(json_array_get(pairs, 0), "campaign_id"), WEBINAR_CAMPAIGN);
    assert_int_equal(ctl("pairs", NULL), 0);
    assert_contains(out_text, "PROGRAM");
    assert_contains(out_text, WEBINAR_CAMPAIGN);
}

static void dry_run_then_sync(void **state)
{
    (void)state;
    json_t *before = rt_state(&env);
    rt_pairing pb;
    rt_pairing_compute(before, WEBINAR, WEBINAR_CAMPAIGN, &pb);
    assert_true(pb.mkto_only + pb.sf_only > 0);

    assert_int_equal(ctl("--json", "dry-run", "1001", NULL), 0);
    json_t *changes = json_object_get(only_doc(), "changes");
    assert_true(json_array_size(changes) >= (size_t)(pb.mkto_only + pb.sf_only));
    json_t *after_dry = rt_state(&env);
    rt_pairing pd;
    rt_pairing_compute(after_dry, WEBINAR, WEBINAR_CAMPAIGN, &pd);
    assert_int_equal(pd.mkto_only, pb.mkto_only);
    assert_int_equal(pd.sf_only, pb.sf_only);
    json_decref(after_dry);
    assert_int_equal(ctl("dry-run", "1001", NULL), 0);
    assert_contains(out_text, "change(s)");

    /* a pair that is not linked */
    assert_int_equal(ctl("sync", "1002", NULL), 1);

    assert_int_equal(ctl("--json", "sync", "1001", NULL), 0);
    assert_non_null(out_json);
    size_t n = json_array_size(out_json);
    assert_true(n >= 1);
    for (size_t i = 0; i + 1 < n; i++)
        assert_true(jstr(json_array_get(out_json, i), "phase")[0] != '\0');
    json_t *rec = json_array_get(out_json, n - 1);
    assert_string_equal(jstr(rec, "status"), "Succeeded");
    assert_int_equal(jint(rec, "program_id"), WEBINAR);
    assert_string_equal(jstr(rec, "campaign_id"), WEBINAR_CAMPAIGN);
    json_t *counts = json_object_get(rec, "counts");
    assert_true(jint(counts, "new") >= pb.mkto_only + pb.sf_only);
    assert_int_equal(jint(counts, "failed"), 0);
    char cycle_id[128];
    snprintf(cycle_id, sizeof cycle_id, "%s", jstr(rec, "id"));
    assert_true(cycle_id[0] != '\0');

    json_t *after = rt_state(&env);
    rt_pairing pa;
    rt_pairing_compute(after, WEBINAR, WEBINAR_CAMPAIGN, &pa);
    assert_int_equal(pa.mkto_only + pa.sf_only + pa.differ, 0);
    json_decref(after);
    json_decref(before);

    /* a quiet second cycle, as text */
    assert_int_equal(ctl("sync", "1001", NULL), 0);
    assert_contains(out_text, "status     Succeeded");
    assert_contains(out_text, "   read "); /* how the pair was read */

    assert_int_equal(ctl("--json", "cycles", "1001", "--limit", "5", NULL), 0);
    json_t *cycles = json_object_get(only_doc(), "cycles");
    assert_int_equal(json_array_size(cycles), 2);
    assert_string_equal(jstr(json_array_get(cycles, 1), "id"), cycle_id);
    assert_string_equal(jstr(json_array_get(cycles, 0), "status"), "Succeeded");
    assert_int_equal(ctl("cycles", "1001", NULL), 0);
    assert_contains(out_text, "Succeeded");

    /* a status added to the campaign stops cycles (C6): the Failed record
     * is printed, then the service's error, exit 1 */
    char *extra = rt_sf_create(&env, "CampaignMemberStatus",
                               "{\"CampaignId\":\"" WEBINAR_CAMPAIGN "\",\"Label\":\"Maybe\","
                               "\"SortOrder\":99}");
    assert_non_null(extra);
    assert_int_equal(ctl("--json", "sync", "1001", NULL), 1);
    assert_non_null(out_json);
    n = json_array_size(out_json);
    assert_true(n >= 2);
    rec = json_array_get(out_json, n - 2);
    assert_string_equal(jstr(rec, "status"), "Failed");
    assert_contains(jstr(rec, "message"), "\"Maybe\"");
    assert_string_equal(jstr(json_array_get(out_json, n - 1), "code"), "FAILED_PRECONDITION");
    assert_int_equal(ctl("sync", "1001", NULL), 1);
    assert_contains(out_text, "status     Failed");
    assert_contains(err_text, "FAILED_PRECONDITION");
    assert_int_equal(rt_post(&env, "/admin/salesforce/delete", json_pack("{s:s}", "id", extra)), 0);
    free(extra);
    assert_int_equal(ctl("sync", "1001", NULL), 0);
}

static void events_replay(void **state)
{
    (void)state;
    assert_int_equal(ctl("--json", "events", "--from", "0", "--count", "3", NULL), 0);
    assert_non_null(out_json);
    assert_int_equal(json_array_size(out_json), 3);
    char first_id[128];
    snprintf(first_id, sizeof first_id, "%s", jstr(json_array_get(out_json, 0), "event_id"));
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(out_json, i);
        assert_true(jstr(e, "event_id")[0] != '\0');
        assert_string_equal(jstr(e, "campaign_id"), WEBINAR_CAMPAIGN);
        assert_non_null(strstr(jstr(e, "type"), "SFDC_CAMPAIGN"));
    }
    /* resuming after the first event starts at the second */
    char second[128];
    snprintf(second, sizeof second, "%s", jstr(json_array_get(out_json, 1), "event_id"));
    assert_int_equal(ctl("--json", "events", "--from", first_id, "--count", "1", NULL), 0);
    assert_string_equal(jstr(only_doc(), "event_id"), second);
    assert_int_equal(ctl("events", "--from", "0", "--count", "2", NULL), 0);
    assert_contains(out_text, "_SFDC_CAMPAIGN");
    /* an open-ended watch: Ctrl-C ends it (exit 0) even when no event comes */
    static const char *const watch[] = {"--json", "events", "--from", "0", NULL};
    ts_proc *p = ctl_start(watch);
    for (int i = 0; i < 200; i++) {
        char *text = ts_read_file(ts_proc_stdout_path(p), NULL);
        int some = text && strchr(text, '\n');
        free(text);
        if (some)
            break;
        ts_sleep_ms(50);
    }
    ts_sleep_ms(300); /* the replay is over: the watch waits for news */
    assert_int_equal(ts_proc_signal(p, SIGINT), 0);
    assert_int_equal(ctl_finish(p), 0);
    assert_non_null(out_json);
    assert_true(json_array_size(out_json) >= 3);

    /* the service ends the watch with an error: not a success */
    assert_int_equal(ctl("--json", "events", "--from", "not-an-id", "--count", "1", NULL), 1);
    assert_string_equal(jstr(only_doc(), "code"), "INVALID_ARGUMENT");
    assert_string_equal(jstr(only_doc(), "call"), "WatchEvents");
}

static void filter_and_flow_actions(void **state)
{
    (void)state;
    json_t *st = rt_state(&env);
    rt_pairing p;
    rt_pairing_compute(st, 1002, TRADESHOW_CAMPAIGN, &p);
    const rt_row *m = rt_find_row(&p, NULL, NULL);
    assert_non_null(m);
    rt_row member = *m;
    assert_true(member.sf_id[0] && member.in_sf);
    long long outsider = rt_lead_outside_campaign(st, TRADESHOW_CAMPAIGN);
    assert_true(outsider > 0);
    json_decref(st);
    char outsider_s[24];
    snprintf(outsider_s, sizeof outsider_s, "%lld", outsider);

    assert_int_equal(ctl("--json", "is-member", TRADESHOW_CAMPAIGN, member.sf_id, NULL), 0);
    assert_true(json_is_true(json_object_get(only_doc(), "is_member")));
    assert_string_equal(jstr(only_doc(), "status"), member.status);
    assert_int_equal(ctl("is-member", TRADESHOW_CAMPAIGN, outsider_s, NULL), 1);
    assert_contains(out_text, "not a member");
    assert_int_equal(ctl("--json", "is-member", TRADESHOW_CAMPAIGN, outsider_s, NULL), 1);
    assert_false(json_is_true(json_object_get(only_doc(), "is_member")));

    const char *new_email = "ctl.new@brandnew.example.com";
    assert_int_equal(ctl("--json", "add-to-campaign", TRADESHOW_CAMPAIGN, "--status",
                         "Visited Booth", member.sf_id, outsider_s, new_email, NULL),
                     0);
    json_t *res = json_object_get(json_object_get(only_doc(), "result"), "results");
    assert_int_equal(json_array_size(res), 3);
    assert_string_equal(jstr(json_array_get(res, 0), "outcome"), "OUTCOME_SKIPPED");
    assert_string_equal(jstr(json_array_get(res, 1), "outcome"), "OUTCOME_ADDED");
    assert_string_equal(jstr(json_array_get(res, 2), "outcome"), "OUTCOME_ADDED");
    st = rt_state(&env);
    assert_string_equal(rt_sf_status(st, TRADESHOW_CAMPAIGN, member.sf_id), member.status);
    json_t *nl = rt_sf_lead_by_email(st, new_email);
    assert_non_null(nl);
    char new_id[32];
    snprintf(new_id, sizeof new_id, "%s", rt_str(nl, "Id"));
    assert_string_equal(rt_sf_status(st, TRADESHOW_CAMPAIGN, new_id), "Visited Booth");
    json_decref(st);
    assert_int_equal(ctl("is-member", TRADESHOW_CAMPAIGN, new_email, NULL), 0);
    assert_contains(out_text, "Visited Booth");

    assert_int_equal(
        ctl("change-status", TRADESHOW_CAMPAIGN, "--status", "Had Meeting", new_id, NULL), 0);
    assert_contains(out_text, "UPDATED");
    st = rt_state(&env);
    assert_string_equal(rt_sf_status(st, TRADESHOW_CAMPAIGN, new_id), "Had Meeting");
    json_decref(st);

    assert_int_equal(ctl("--json", "remove-from-campaign", TRADESHOW_CAMPAIGN, new_id,
                         "nobody.here@brandnew.example.com", NULL),
                     0);
    res = json_object_get(json_object_get(only_doc(), "result"), "results");
    assert_string_equal(jstr(json_array_get(res, 0), "outcome"), "OUTCOME_DELETED");
    assert_string_equal(jstr(json_array_get(res, 1), "outcome"), "OUTCOME_SKIPPED");
    st = rt_state(&env);
    assert_string_equal(rt_sf_status(st, TRADESHOW_CAMPAIGN, new_id), "");
    json_decref(st);

    /* a campaign that does not exist: the record fails, exit 5 */
    assert_int_equal(ctl("--json", "add-to-campaign", "701Dn0000000NOPEAA", "--status", "Invited",
                         outsider_s, NULL),
                     5);
    res = json_object_get(json_object_get(only_doc(), "result"), "results");
    assert_string_equal(jstr(json_array_get(res, 0), "outcome"), "OUTCOME_FAILED");
    assert_true(jstr(json_array_get(res, 0), "reason")[0] != '\0');
    assert_int_equal(jint(json_object_get(only_doc(), "result"), "failed"), 1);
}

/* ---- attribution ---- */

static char *sf_create(const char *type, json_t *fields)
{
    json_t *body = json_pack("{s:s,s:o}", "type", type, "fields", fields);
    char *text = json_dumps(body, 0);
    json_decref(body);
    int status = 0;
    json_t *r = ts_admin(env.stack, "POST", "/admin/salesforce/create", text, &status);
    free(text);
    assert_int_equal(status, 200);
    char *id = strdup(json_string_value(json_object_get(r, "id")));
    json_decref(r);
    return id;
}

static char *add_member(const char *campaign, const char *contact)
{
    json_t *b = json_pack("{s:s,s:s}", "CampaignId", campaign, "ContactId", contact);
    char *text = json_dumps(b, 0);
    json_decref(b);
    int st = 0;
    json_t *r = ts_admin(env.stack, "POST", "/admin/salesforce/add_member", text, &st);
    free(text);
    assert_int_equal(st, 200);
    char *id = strdup(json_string_value(json_object_get(r, "id")));
    json_decref(r);
    return id;
}

static json_t *sf_record(const char *type, const char *id)
{
    json_t *st = rt_state(&env);
    json_t *r = json_incref(rt_sf_record(st, type, id));
    json_decref(st);
    return r;
}

static size_t sf_count_where(const char *type, const char *field, const char *value)
{
    json_t *st = rt_state(&env), *r;
    size_t i, n = 0;
    json_array_foreach(rt_sf_records(st, type), i, r)
    {
        if (strcmp(rt_str(r, field), value) == 0)
            n++;
    }
    json_decref(st);
    return n;
}

static void ymd(int64_t ms, char out[11])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static int64_t sandbox_now_ms(void)
{
    json_t *c = ts_admin(env.stack, "GET", "/admin/clock", NULL, NULL);
    assert_non_null(c);
    json_t *v = json_object_get(c, "now_ms");
    int64_t ms = json_is_integer(v) ? json_integer_value(v) : (int64_t)time(NULL) * 1000;
    json_decref(c);
    return ms;
}

static void mapping_touchpoints_and_attribution(void **state)
{
    (void)state;
    /* two Types on one subchannel: refused, both named */
    assert_int_equal(
        ctl("mapping", "set", "Webinar=Events/Webinar", "Virtual Event=Events/Webinar", NULL), 1);
    assert_contains(err_text, "INVALID_ARGUMENT");
    assert_contains(err_text, "Virtual Event");
    assert_contains(err_text, "Webinar");
    assert_int_equal(ctl("--json", "mapping", "set", "Webinar=Events/Webinar",
                         "Tradeshow=Events/Tradeshow", NULL),
                     0);
    assert_int_equal(json_array_size(json_object_get(only_doc(), "rules")), 2);
    assert_int_equal(ctl("--json", "mapping", NULL), 0);
    json_t *rules = json_object_get(only_doc(), "rules");
    assert_int_equal(json_array_size(rules), 2);
    assert_string_equal(jstr(json_array_get(rules, 0), "campaign_type"), "Tradeshow");
    assert_string_equal(jstr(json_array_get(rules, 1), "campaign_type"), "Webinar");
    assert_string_equal(jstr(json_array_get(rules, 1), "channel"), "Events");
    assert_string_equal(jstr(json_array_get(rules, 1), "subchannel"), "Webinar");
    assert_int_equal(ctl("mapping", "get", NULL), 0);
    assert_contains(out_text, "Tradeshow");

    /* a contact of an account, in a Webinar campaign, and a won deal of the
     * account closing after the touch */
    char *acct = sf_create("Account", json_pack("{s:s}", "Name", "Ctl Test Account"));
    char *contact =
        sf_create("Contact", json_pack("{s:s,s:s,s:s}", "LastName", "Ctl", "Email",
                                       "ctl.contact@attr.example.com", "AccountId", acct));
    char *campaign =
        sf_create("Campaign", json_pack("{s:s,s:s,s:b,s:s}", "Name", "Ctl webinar", "Type",
                                        "Webinar", "IsActive", 1, "Enable_Buyer_Touchpoints__c",
                                        "Include All Campaign Members"));
    char *member = add_member(campaign, contact);
    int64_t now = sandbox_now_ms();
    char close[11], redate[11];
    ymd(now + 10 * DAY_MS, close);
    ymd(now - 3 * DAY_MS, redate);
    char *opp = sf_create("Opportunity", json_pack("{s:s,s:s,s:s,s:s,s:f}", "Name", "Ctl deal",
                                                   "AccountId", acct, "StageName", "Closed Won",
                                                   "CloseDate", close, "Amount", 1234.56));

    assert_int_equal(ctl("--json", "refresh", campaign, NULL), 0);
    json_t *sum = only_doc();
    assert_int_equal(jint(sum, "campaigns"), 1);
    assert_int_equal(jint(sum, "created"), 1);
    assert_int_equal(ctl("refresh", campaign, NULL), 0);
    assert_contains(out_text, "1 campaign(s)");

    assert_int_equal(ctl("--json", "touchpoints", "--campaign", campaign, NULL), 0);
    json_t *tp = only_doc();
    assert_string_equal(jstr(tp, "member_id"), member);
    assert_string_equal(jstr(tp, "person_id"), contact);
    assert_string_equal(jstr(tp, "channel"), "Events");
    assert_string_equal(jstr(tp, "subchannel"), "Webinar");
    assert_string_equal(jstr(tp, "kind"), "CRM_CAMPAIGN");
    char tp_id[128];
    snprintf(tp_id, sizeof tp_id, "%s", jstr(tp, "id"));

    /* re-date the member: the field is set, the touchpoint moves, no copy */
    assert_int_equal(ctl("--json", "bulk-date", campaign, redate, NULL), 0);
    assert_int_equal(jint(only_doc(), "matched"), 1);
    assert_int_equal(jint(only_doc(), "updated"), 1);
    json_t *mr = sf_record("CampaignMember", member);
    assert_non_null(mr);
    assert_string_equal(rt_str(mr, "Buyer_Touchpoint_Date__c"), redate);
    json_decref(mr);
    assert_int_equal(ctl("--json", "refresh", campaign, NULL), 0);
    assert_int_equal(ctl("--json", "touchpoints", "--campaign", campaign, NULL), 0);
    char day[11];
    ymd(jint(only_doc(), "at_ms"), day);
    assert_string_equal(day, redate);
    assert_string_equal(jstr(only_doc(), "id"), tp_id);
    /* --to names a day that is included */
    assert_int_equal(ctl("--json", "touchpoints", "--campaign", campaign, "--from", redate, "--to",
                         redate, NULL),
                     0);
    assert_string_equal(jstr(only_doc(), "id"), tp_id);
    char before[11];
    ymd(now - 4 * DAY_MS, before);
    assert_int_equal(ctl("--json", "touchpoints", "--campaign", campaign, "--to", before, NULL), 0);
    assert_int_equal(json_array_size(out_json), 0);
    /* a member filter that matches nobody changes nothing */
    assert_int_equal(
        ctl("--json", "bulk-date", campaign, before, "--status", "No Such Status", NULL), 0);
    assert_int_equal(jint(only_doc(), "matched"), 0);

    assert_int_equal(ctl("--json", "report", "--model", "w_shaped", NULL), 0);
    json_t *rep = only_doc();
    json_t *rows = json_object_get(rep, "rows"), *row;
    size_t i;
    long long total = 0, events_rev = -1;
    json_array_foreach(rows, i, row)
    {
        total += jint(row, "revenue_minor");
        if (strcmp(jstr(row, "key"), "Events") == 0)
            events_rev = jint(row, "revenue_minor");
    }
    assert_true(events_rev >= 123456);
    assert_int_equal(total, jint(rep, "total_revenue_minor"));
    /* one day, both bounds on it: only the re-dated touch */
    assert_int_equal(
        ctl("--json", "report", "--group-by", "campaign", "--from", redate, "--to", redate, NULL),
        0);
    rows = json_object_get(only_doc(), "rows");
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(jstr(json_array_get(rows, 0), "key"), campaign);
    assert_int_equal(jint(json_array_get(rows, 0), "revenue_minor"), 123456);
    assert_int_equal(ctl("report", "--model", "linear", "--group-by", "campaign", NULL), 0);
    assert_contains(out_text, campaign);
    assert_contains(out_text, "1,234.56");
    assert_contains(out_text, "total revenue");
    assert_contains(out_text, "CAMPAIGN ");

    assert_int_equal(ctl("--json", "attribute", "--model", "w-shaped", opp, NULL), 0);
    json_t *a = only_doc();
    assert_string_equal(jstr(a, "opportunity_id"), opp);
    assert_int_equal(jint(a, "amount_minor"), 123456);
    assert_string_equal(jstr(a, "model"), "W_SHAPED");
    json_t *touches = json_object_get(a, "touches"), *t;
    long long rev = 0, ppm = 0;
    json_array_foreach(touches, i, t)
    {
        rev += jint(t, "revenue_minor");
        ppm += jint(t, "weight_ppm");
    }
    assert_true(json_array_size(touches) >= 1);
    assert_int_equal(rev, 123456);
    assert_int_equal(ppm, 1000000);
    /* the custom model needs its weights: from --custom, else the service
     * refuses */
    assert_int_equal(ctl("attribute", "--model", "custom", opp, NULL), 1);
    assert_contains(err_text, "CUSTOM");
    assert_int_equal(ctl("attribute", "--model", "custom", "--custom", "2500,2500", opp, NULL), 2);
    assert_int_equal(ctl("--json", "attribute", "--model", "custom", "--custom",
                         "2500,2500,2000,2000,1000", opp, NULL),
                     0);
    assert_string_equal(jstr(only_doc(), "model"), "CUSTOM");
    assert_int_equal(jint(only_doc(), "amount_minor"), 123456);
    assert_int_equal(ctl("--json", "report", "--model", "custom", "--custom",
                         "2500,2500,2000,2000,1000", "--group-by", "campaign", "--from", redate,
                         "--to", redate, NULL),
                     0);
    assert_int_equal(jint(only_doc(), "total_revenue_minor"), 123456);
    assert_int_equal(
        ctl("--json", "attribute", "--model", "time_decay", "--half-life-days", "3", opp, NULL), 0);
    assert_string_equal(jstr(only_doc(), "model"), "TIME_DECAY");
    assert_int_equal(ctl("report", "--half-life-days", "-1", NULL), 2);
    assert_int_equal(ctl("attribute", opp, NULL), 0);
    assert_contains(out_text, "1,234.56");

    assert_int_equal(ctl("--json", "export", "--touchpoints-only", NULL), 0);
    assert_true(jint(only_doc(), "touchpoints_upserted") >= 1);
    assert_int_equal(jint(only_doc(), "attribution_upserted"), 0);
    assert_int_equal(jint(only_doc(), "failed"), 0);
    assert_int_equal(sf_count_where("Buyer_Touchpoint__c", "Touchpoint_Id__c", tp_id), 1);
    assert_int_equal(sf_count_where("Buyer_Attribution_Touchpoint__c", "Opportunity__c", opp), 0);
    assert_int_equal(ctl("export", NULL), 0);
    assert_contains(out_text, "upserted, 0 failed");
    assert_true(sf_count_where("Buyer_Attribution_Touchpoint__c", "Opportunity__c", opp) >= 1);
    assert_int_equal(sf_count_where("Buyer_Touchpoint__c", "Touchpoint_Id__c", tp_id), 1);

    free(acct);
    free(contact);
    free(campaign);
    free(member);
    free(opp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(usage_and_help),
        cmocka_unit_test(health_of_every_service),
        cmocka_unit_test(link_and_pairs),
        cmocka_unit_test(dry_run_then_sync),
        cmocka_unit_test(events_replay),
        cmocka_unit_test(filter_and_flow_actions),
        cmocka_unit_test(mapping_touchpoints_and_attribution),
        cmocka_unit_test(health_follows_redis),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
