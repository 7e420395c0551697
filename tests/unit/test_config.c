/*
 * Unit tests for common/config: precedence (default < env < flag), every
 * type's parsing and its error message (which must name the variable or flag
 * the operator has to fix), secrets from files, and that a secret never
 * reaches help, errors, the effective-configuration dump or the log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static const char *const policies[] = {"marketo_wins", "salesforce_wins", "latest_wins", NULL};

static const cfg_option opts[] = {
    {.name = "grpc-addr", .type = CFG_ADDR, .def = "0.0.0.0:50051", .help = "gRPC listen address"},
    {.name = "workers", .type = CFG_INT, .def = "4", .help = "worker threads", .min = 1, .max = 64},
    {.name = "sync-interval", .type = CFG_DURATION_MS, .def = "5m", .help = "time between cycles"},
    {.name = "campaign-sync", .type = CFG_BOOL, .def = "true", .help = "campaign sync switch"},
    {.name = "conflict-policy",
     .type = CFG_ENUM,
     .def = "marketo_wins",
     .help = "conflict rule",
     .choices = policies},
    {.name = "marketo-url", .type = CFG_URL, .help = "Marketo REST base URL"},
    {.name = "client-secret",
     .type = CFG_STRING,
     .help = "Marketo client secret",
     .flags = CFG_REQUIRED | CFG_SECRET},
    {.name = "note", .type = CFG_STRING, .help = "free text"},
    {.name = "api-token", .type = CFG_STRING, .help = "secret flag forgotten"},
    {0}};

static const char *const env_names[] = {"CAMPSYNC_GRPC_ADDR",
                                        "CAMPSYNC_WORKERS",
                                        "CAMPSYNC_SYNC_INTERVAL",
                                        "CAMPSYNC_CAMPAIGN_SYNC",
                                        "CAMPSYNC_CONFLICT_POLICY",
                                        "CAMPSYNC_MARKETO_URL",
                                        "CAMPSYNC_CLIENT_SECRET",
                                        "CAMPSYNC_CLIENT_SECRET_FILE",
                                        "CAMPSYNC_NOTE",
                                        "CAMPSYNC_API_TOKEN"};

static char secret_path[64];

static int setup(void **state)
{
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++)
        unsetenv(env_names[i]);
    snprintf(secret_path, sizeof secret_path, "/tmp/campsync-cfg-XXXXXX");
    int fd = mkstemp(secret_path);
    if (fd < 0)
        return -1;
    const char content[] = "s3cr3t-value\n";
    ssize_t w = write(fd, content, sizeof content - 1);
    close(fd);
    return w == (ssize_t)(sizeof content - 1) ? 0 : -1;
}

static int teardown(void **state)
{
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++)
        unsetenv(env_names[i]);
    unlink(secret_path);
    return 0;
}

/* Runs cfg_load on a NULL-terminated argument list (argv[0] added). */
static int load(cfg **c, cfg_error *err, ...)
{
    char *argv[32] = {"prog"};
    int argc = 1;
    va_list ap;
    va_start(ap, err);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
        argv[argc++] = (char *)a;
    va_end(ap);
    memset(err, 0, sizeof *err);
    return cfg_load(opts, argc, argv, c, err);
}

static void defaults_env_and_flags(void **state)
{
    cfg *c;
    cfg_error err;
    setenv("CAMPSYNC_CLIENT_SECRET", "from-env", 1);
    assert_int_equal(load(&c, &err, NULL), 0);
    assert_int_equal(cfg_int(c, "workers"), 4);
    assert_int_equal(cfg_duration_ms(c, "sync-interval"), 300000);
    assert_true(cfg_bool(c, "campaign-sync"));
    assert_int_equal(cfg_enum(c, "conflict-policy"), 0);
    assert_false(cfg_is_set(c, "marketo-url"));
    assert_null(cfg_str(c, "marketo-url"));
    assert_string_equal(cfg_str(c, "client-secret"), "from-env");
    const char *host;
    int port;
    assert_int_equal(cfg_addr(c, "grpc-addr", &host, &port), 0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(port, 50051);
    char buf[64];
    assert_string_equal(cfg_display(c, "workers", buf, sizeof buf), "default");
    assert_string_equal(cfg_display(c, "client-secret", buf, sizeof buf), "env");
    assert_string_equal(buf, "[redacted]");
    assert_string_equal(cfg_display(c, "note", buf, sizeof buf), "unset");
    assert_string_equal(buf, "");
    cfg_free(c);

    /* A name that looks secret is redacted even without CFG_SECRET. */
    assert_int_equal(load(&c, &err, "--api-token=tok123", NULL), 0);
    assert_string_equal(cfg_display(c, "api-token", buf, sizeof buf), "flag");
    assert_string_equal(buf, "[redacted]");
    assert_string_equal(cfg_str(c, "api-token"), "tok123");
    cfg_free(c);

    /* Env overrides the default; a flag overrides the env. */
    setenv("CAMPSYNC_WORKERS", "8", 1);
    setenv("CAMPSYNC_CONFLICT_POLICY", "latest_wins", 1);
    setenv("CAMPSYNC_CAMPAIGN_SYNC", "off", 1);
    assert_int_equal(load(&c, &err, "--workers=16", "--sync-interval", "1m30s",
                          "--marketo-url=https://123-ABC-456.mktorest.com/", NULL),
                     0);
    assert_int_equal(cfg_int(c, "workers"), 16);
    assert_string_equal(cfg_display(c, "workers", buf, sizeof buf), "flag");
    assert_int_equal(cfg_duration_ms(c, "sync-interval"), 90000);
    assert_int_equal(cfg_enum(c, "conflict-policy"), 2);
    assert_false(cfg_bool(c, "campaign-sync"));
    assert_string_equal(cfg_str(c, "marketo-url"), "https://123-ABC-456.mktorest.com");
    cfg_free(c);

    /* A bare boolean flag means true, and beats the env. */
    assert_int_equal(load(&c, &err, "--campaign-sync", NULL), 0);
    assert_true(cfg_bool(c, "campaign-sync"));
    cfg_free(c);

    /* An empty env var counts as unset (Kubernetes renders missing values so). */
    setenv("CAMPSYNC_WORKERS", "", 1);
    assert_int_equal(load(&c, &err, NULL), 0);
    assert_int_equal(cfg_int(c, "workers"), 4);
    cfg_free(c);
}

static void errors_name_the_variable(void **state)
{
    cfg *c = (cfg *)1;
    cfg_error err;

    /* Required secret missing: names env, file env and flags. */
    assert_int_equal(load(&c, &err, NULL), -1);
    assert_null(c);
    assert_non_null(strstr(err.msg, "CAMPSYNC_CLIENT_SECRET"));
    assert_non_null(strstr(err.msg, "CAMPSYNC_CLIENT_SECRET_FILE"));
    assert_non_null(strstr(err.msg, "required"));

    setenv("CAMPSYNC_CLIENT_SECRET", "x", 1);
    setenv("CAMPSYNC_WORKERS", "lots", 1);
    assert_int_equal(load(&c, &err, NULL), -1);
    assert_string_equal(err.msg, "CAMPSYNC_WORKERS: expected an integer, got \"lots\"");

    setenv("CAMPSYNC_WORKERS", "65", 1);
    assert_int_equal(load(&c, &err, NULL), -1);
    assert_string_equal(err.msg, "CAMPSYNC_WORKERS: 65 is out of range, expected 1..64");
    unsetenv("CAMPSYNC_WORKERS");

    assert_int_equal(load(&c, &err, "--workers=0", NULL), -1);
    assert_string_equal(err.msg, "--workers: 0 is out of range, expected 1..64");

    assert_int_equal(load(&c, &err, "--conflict-policy=newest", NULL), -1);
    assert_string_equal(err.msg, "--conflict-policy: expected one of marketo_wins, "
                                 "salesforce_wins, latest_wins, got \"newest\"");

    assert_int_equal(load(&c, &err, "--sync-interval=5 minutes", NULL), -1);
    assert_non_null(strstr(err.msg, "--sync-interval: expected a duration"));
    assert_int_equal(load(&c, &err, "--sync-interval=-5", NULL), -1);
    assert_int_equal(load(&c, &err, "--sync-interval=5d", NULL), -1);

    assert_int_equal(load(&c, &err, "--campaign-sync=maybe", NULL), -1);
    assert_string_equal(err.msg, "--campaign-sync: expected true or false, got \"maybe\"");

    const char *bad_addrs[] = {"--grpc-addr=localhost", "--grpc-addr=:80", "--grpc-addr=h:70000",
                               "--grpc-addr=::1:80",    "--grpc-addr=h:",  "--grpc-addr=[::1]80"};
    for (size_t i = 0; i < sizeof bad_addrs / sizeof bad_addrs[0]; i++) {
        assert_int_equal(load(&c, &err, bad_addrs[i], NULL), -1);
        assert_non_null(strstr(err.msg, "--grpc-addr: expected host:port"));
    }

    assert_int_equal(load(&c, &err, "--marketo-url=ftp://x", NULL), -1);
    assert_non_null(strstr(err.msg, "--marketo-url: expected an http:// or https:// URL"));
    assert_int_equal(load(&c, &err, "--marketo-url=https://", NULL), -1);

    assert_int_equal(load(&c, &err, "--nope=1", NULL), -1);
    assert_string_equal(err.msg, "unknown flag --nope (see --help)");
    assert_int_equal(load(&c, &err, "stray", NULL), -1);
    assert_non_null(strstr(err.msg, "unexpected argument \"stray\""));
    assert_int_equal(load(&c, &err, "--workers", NULL), -1);
    assert_string_equal(err.msg, "--workers: missing value");
    assert_int_equal(load(&c, &err, "--workers=2", "--workers=3", NULL), -1);
    assert_non_null(strstr(err.msg, "more than once"));
    /* Only secrets have a -file form. */
    assert_int_equal(load(&c, &err, "--workers-file=/tmp/x", NULL), -1);
    assert_string_equal(err.msg, "unknown flag --workers-file (see --help)");
}

static void ipv6_and_port_zero(void **state)
{
    cfg *c;
    cfg_error err;
    setenv("CAMPSYNC_CLIENT_SECRET", "x", 1);
    assert_int_equal(load(&c, &err, "--grpc-addr=[::1]:0", NULL), 0);
    const char *host;
    int port;
    assert_int_equal(cfg_addr(c, "grpc-addr", &host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_string_equal(cfg_str(c, "grpc-addr"), "[::1]:0");
    cfg_free(c);
}

static void secrets_from_files(void **state)
{
    cfg *c;
    cfg_error err;
    setenv("CAMPSYNC_CLIENT_SECRET_FILE", secret_path, 1);
    assert_int_equal(load(&c, &err, NULL), 0);
    /* The trailing newline an editor adds is trimmed. */
    assert_string_equal(cfg_str(c, "client-secret"), "s3cr3t-value");
    char buf[64];
    assert_string_equal(cfg_display(c, "client-secret", buf, sizeof buf), "file");
    assert_string_equal(buf, "[redacted]");
    cfg_free(c);

    /* The flag form beats the env form. */
    unsetenv("CAMPSYNC_CLIENT_SECRET_FILE");
    setenv("CAMPSYNC_CLIENT_SECRET", "env-value", 1);
    char flag[128];
    snprintf(flag, sizeof flag, "--client-secret-file=%s", secret_path);
    assert_int_equal(load(&c, &err, flag, NULL), 0);
    assert_string_equal(cfg_str(c, "client-secret"), "s3cr3t-value");
    cfg_free(c);

    /* Value and file in the same source is ambiguous. */
    setenv("CAMPSYNC_CLIENT_SECRET_FILE", secret_path, 1);
    assert_int_equal(load(&c, &err, NULL), -1);
    assert_string_equal(err.msg, "CAMPSYNC_CLIENT_SECRET and CAMPSYNC_CLIENT_SECRET_FILE are "
                                 "both set: give only one");
    unsetenv("CAMPSYNC_CLIENT_SECRET");
    unsetenv("CAMPSYNC_CLIENT_SECRET_FILE");
    assert_int_equal(load(&c, &err, "--client-secret=a", flag, NULL), -1);
    assert_non_null(strstr(err.msg, "more than once"));

    setenv("CAMPSYNC_CLIENT_SECRET_FILE", "/nonexistent/secret", 1);
    assert_int_equal(load(&c, &err, NULL), -1);
    assert_non_null(strstr(err.msg, "CAMPSYNC_CLIENT_SECRET_FILE: cannot open secret file "
                                    "/nonexistent/secret"));
}

static void secret_never_printed(void **state)
{
    cfg *c;
    cfg_error err;
    setenv("CAMPSYNC_CLIENT_SECRET_FILE", secret_path, 1);
    assert_int_equal(load(&c, &err, NULL), 0);

    /* Capture the log (stderr) of cfg_log. */
    char logpath[] = "/tmp/campsync-cfglog-XXXXXX";
    int fd = mkstemp(logpath);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    cfg_log(c);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char out[8192] = {0};
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, out, sizeof out - 1);
    close(fd);
    unlink(logpath);
    assert_true(n > 0);
    assert_null(strstr(out, "s3cr3t"));
    assert_non_null(strstr(out, "client-secret"));
    assert_non_null(strstr(out, "[redacted]"));
    assert_non_null(strstr(out, "\"option\":\"workers\""));
    assert_non_null(strstr(out, "\"value\":\"4\""));
    cfg_free(c);
}

static void help_lists_everything(void **state)
{
    cfg *c = (cfg *)1;
    cfg_error err;
    assert_int_equal(load(&c, &err, "--workers=bad", "--help", NULL), CFG_HELP);
    assert_null(c);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cfg_help(f, "campsync-test", opts);
    fclose(f);
    for (size_t i = 0; opts[i].name; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s=", opts[i].name);
        assert_non_null(strstr(text, flag));
    }
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++)
        assert_non_null(strstr(text, env_names[i]));
    assert_non_null(strstr(text, "default: 0.0.0.0:50051"));
    assert_non_null(strstr(text, "range: 1..64"));
    assert_non_null(strstr(text, "one of: marketo_wins, salesforce_wins, latest_wins"));
    free(text);
}

static void bad_default_is_reported(void **state)
{
    static const cfg_option broken[] = {
        {.name = "port", .type = CFG_INT, .def = "eighty", .help = "a port"}, {0}};
    char *argv[] = {"prog"};
    cfg *c;
    cfg_error err;
    assert_int_equal(cfg_load(broken, 1, argv, &c, &err), -1);
    assert_non_null(strstr(err.msg, "built-in default of --port is invalid"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(defaults_env_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_name_the_variable, setup, teardown),
        cmocka_unit_test_setup_teardown(ipv6_and_port_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(secrets_from_files, setup, teardown),
        cmocka_unit_test_setup_teardown(secret_never_printed, setup, teardown),
        cmocka_unit_test_setup_teardown(help_lists_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_default_is_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
