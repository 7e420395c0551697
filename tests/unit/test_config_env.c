/*
 * Unit tests for two config details the services depend on: an option that
 * names its own environment variable (--redis reads CAMPSYNC_REDIS_URL), and
 * URL passwords kept out of the effective-configuration display.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static const cfg_option opts[] = {{.name = "redis",
                                   .type = CFG_STRING,
                                   .def = "redis://127.0.0.1:6379/0",
                                   .help = "Redis URL",
                                   .env = "CAMPSYNC_REDIS_URL"},
                                  {0}};

static void env_override_is_read(void **state)
{
    (void)state;
    setenv("CAMPSYNC_REDIS_URL", "redis://10.0.0.1:7000/2", 1);
    setenv("CAMPSYNC_REDIS", "redis://wrong:1/0", 1);
    char *argv[] = {"prog", NULL};
    cfg *c = NULL;
    cfg_error e = {{0}};
    assert_int_equal(cfg_load(opts, 1, argv, &c, &e), 0);
    assert_string_equal(cfg_str(c, "redis"), "redis://10.0.0.1:7000/2");
    cfg_free(c);
    unsetenv("CAMPSYNC_REDIS");
    unsetenv("CAMPSYNC_REDIS_URL");
}

static void flag_still_wins(void **state)
{
    (void)state;
    setenv("CAMPSYNC_REDIS_URL", "redis://10.0.0.1:7000/2", 1);
    char *argv[] = {"prog", "--redis", "redis://127.0.0.1:6390/0", NULL};
    cfg *c = NULL;
    cfg_error e = {{0}};
    assert_int_equal(cfg_load(opts, 3, argv, &c, &e), 0);
    assert_string_equal(cfg_str(c, "redis"), "redis://127.0.0.1:6390/0");
    cfg_free(c);
    unsetenv("CAMPSYNC_REDIS_URL");
}

static void display_hides_url_password(void **state)
{
    (void)state;
    static const struct {
        const char *in, *shown;
    } cases[] = {
        {"redis://:s3cret@redis:6379/0", "redis://:[redacted]@redis:6379/0"},
        {"redis://app:s3cret@redis:6379", "redis://app:[redacted]@redis:6379"},
        {"redis://redis:6379/0", "redis://redis:6379/0"},
        {"redis://user@redis:6379", "redis://user@redis:6379"},
        {"https://example.com/a@b", "https://example.com/a@b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[] = {"prog", "--redis", (char *)cases[i].in, NULL};
        cfg *c = NULL;
        cfg_error e = {{0}};
        assert_int_equal(cfg_load(opts, 3, argv, &c, &e), 0);
        char buf[256];
        assert_string_equal(cfg_display(c, "redis", buf, sizeof buf), "flag");
        assert_string_equal(buf, cases[i].shown);
        cfg_free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(env_override_is_read),
        cmocka_unit_test(flag_still_wins),
        cmocka_unit_test(display_hides_url_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
