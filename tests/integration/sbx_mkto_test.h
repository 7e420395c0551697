/*
 * Helpers shared by the suites that test the sandbox's Marketo simulator and
 * admin API over HTTP (test_sandbox_admin.c, test_sandbox_marketo.c): a
 * sandbox of their own per test (cmocka setup/teardown) with the small
 * dataset and seed 7, and short names for the calls they make, asserting
 * where a test cannot go on. The work is in tests/support/ts_http.c;
 * header-only (static functions) so each test binary stays a single file for
 * the tests/integration glob.
 */
#ifndef CAMPSYNC_SBX_MKTO_TEST_H
#define CAMPSYNC_SBX_MKTO_TEST_H

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ts_http.h"

#define SM_FN static __attribute__((unused))

/* Setup: campsync-sandbox (Marketo + admin) with tests/sandbox/datasets/small.json. */
SM_FN int sandbox_start(void **state)
{
    ts_sandbox_opts o = {.marketo = 1, .dataset = "tests/sandbox/datasets/small.json", .seed = 7};
    *state = ts_sandbox_start(&o);
    return *state ? 0 : -1;
}

/* Teardown: fails the test when the sandbox does not exit cleanly on SIGTERM. */
SM_FN int sandbox_stop(void **state)
{
    int rc = ts_sandbox_stop(*state, 5000);
    *state = NULL;
    return rc;
}

/* Marketo REST calls with the session token (path with its query). */
SM_FN ts_http_res sget(const ts_sandbox *sb, const char *path_query)
{
    return ts_http_at("GET", sb->marketo, path_query, NULL, sb->token);
}

SM_FN ts_http_res spost(const ts_sandbox *sb, const char *path, const char *json_body)
{
    return ts_http_at("POST", sb->marketo, path, json_body, sb->token);
}

SM_FN ts_http_res admin(const ts_sandbox *sb, const char *method, const char *path,
                        const char *json_body)
{
    return ts_http_at(method, sb->admin, path, json_body, NULL);
}

/* Admin call that must answer 200. */
SM_FN void admin_ok(const ts_sandbox *sb, const char *method, const char *path,
                    const char *json_body)
{
    assert_int_equal(ts_sandbox_admin_ok(sb, method, path, json_body), 0);
}

SM_FN void fetch_token(ts_sandbox *sb)
{
    assert_int_equal(ts_sandbox_marketo_token(sb), 0);
}

/* The sandbox's Marketo state (dataset JSON); caller decrefs. */
SM_FN json_t *mkto_state(const ts_sandbox *sb)
{
    json_t *m = ts_sandbox_state(sb, "marketo");
    assert_non_null(m);
    return m;
}

#endif
