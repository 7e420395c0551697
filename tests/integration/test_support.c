/*
 * Checks the test-support library every other integration test relies on:
 * ports, spawning and signalling children, first-line capture, the cleanup
 * registry (nothing left running), and the redis-server fixture's
 * kill/restart on the same port.
 */
#include "ts.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static char tmp[PATH_MAX];

static int setup(void **state)
{
    return ts_tmpdir_make("support", tmp, sizeof tmp);
}

static int teardown(void **state)
{
    ts_proc_kill_all();
    return ts_tmpdir_remove(tmp);
}

/* 1 when pid no longer runs: absent, or a zombie nobody reaped yet (an
 * orphan's new parent may be slow to reap it). */
static int dead(pid_t pid)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *stat = ts_read_file(path, NULL);
    if (!stat)
        return 1;
    const char *paren = strrchr(stat, ')');
    int zombie = paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
    free(stat);
    return zombie;
}

/* Waits (bounded) until pid no longer runs. */
static int gone(pid_t pid)
{
    for (int i = 0; i < 500; i++) {
        if (dead(pid))
            return 1;
        ts_sleep_ms(10);
    }
    return 0;
}

static void test_ports(void **state)
{
    int a = ts_free_port(), b = ts_free_port();
    assert_true(a > 0 && b > 0);
    assert_int_not_equal(a, b);
    /* Nobody listens there: the wait gives up. */
    assert_int_equal(ts_wait_port(a, 100), -1);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(ts_wait_port(a, 2000), 0);
    close(fd);
}

static void test_spawn_output_and_status(void **state)
{
    const char *argv[] = {"/bin/sh", "-c", "echo \"hello $TS_X\"; echo oops >&2; exit 3", NULL};
    const char *env[] = {"TS_X=world", NULL};
    ts_proc *p = ts_proc_spawn(argv, env, tmp, "sh1");
    assert_non_null(p);
    assert_true(ts_proc_pid(p) > 0);
    char line[64];
    assert_int_equal(ts_proc_first_line(p, line, sizeof line, 5000), 0);
    assert_string_equal(line, "hello world");
    int st = 0;
    assert_int_equal(ts_proc_wait(p, 5000, &st), 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
    assert_int_equal(ts_proc_running(p), 0);
    assert_int_equal(ts_proc_signal(p, SIGTERM), -1);
    char *err = ts_read_file(ts_proc_stderr_path(p), NULL);
    assert_non_null(err);
    assert_string_equal(err, "oops\n");
    free(err);
    ts_proc_free(p);
}

static void test_spawn_missing_binary(void **state)
{
    const char *argv[] = {"/nonexistent/campsync-nothing", NULL};
    assert_null(ts_proc_spawn(argv, NULL, tmp, NULL));
}

static void test_first_line_failures(void **state)
{
    const char *silent[] = {"sleep", "30", NULL};
    ts_proc *p = ts_proc_spawn(silent, NULL, tmp, "silent");
    assert_non_null(p);
    char line[8];
    assert_int_equal(ts_proc_first_line(p, line, sizeof line, 100), -1);
    int st = 0;
    assert_int_equal(ts_proc_wait(p, 50, &st), -1);
    assert_int_equal(ts_proc_signal(p, SIGTERM), 0);
    assert_int_equal(ts_proc_wait(p, 5000, &st), 0);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    ts_proc_free(p);

    const char *quits[] = {"/bin/sh", "-c", "exit 1", NULL};
    p = ts_proc_spawn(quits, NULL, tmp, "quits");
    assert_non_null(p);
    assert_int_equal(ts_proc_first_line(p, line, sizeof line, 5000), -1);
    ts_proc_free(p);

    const char *longline[] = {"/bin/sh", "-c", "echo 0123456789; sleep 30", NULL};
    p = ts_proc_spawn(longline, NULL, tmp, "long");
    assert_non_null(p);
    assert_int_equal(ts_proc_first_line(p, line, sizeof line, 5000), -1);
    ts_proc_free(p);
}

static void test_stop_escalates_to_kill(void **state)
{
    const char *argv[] = {"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done",
                          NULL};
    ts_proc *p = ts_proc_spawn(argv, NULL, tmp, "stubborn");
    assert_non_null(p);
    char line[16];
    assert_int_equal(ts_proc_first_line(p, line, sizeof line, 5000), 0);
    int st = ts_proc_stop(p, 200);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    ts_proc_free(p);
}

/* Freeing a child kills what it started in its process group too. */
static void test_free_kills_group(void **state)
{
    const char *argv[] = {"/bin/sh", "-c", "sleep 30 & echo $!; wait", NULL};
    ts_proc *p = ts_proc_spawn(argv, NULL, tmp, "group");
    assert_non_null(p);
    char line[32];
    assert_int_equal(ts_proc_first_line(p, line, sizeof line, 5000), 0);
    pid_t grandchild = (pid_t)atoi(line);
    assert_true(grandchild > 0);
    assert_int_equal(kill(grandchild, 0), 0);
    ts_proc_free(p);
    assert_true(gone(grandchild));
}

/* A process that spawns children, makes a temp dir and exits leaves nothing
 * running and nothing on disk. */
static void test_exit_cleans_up(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t helper = fork();
    assert_true(helper >= 0);
    if (helper == 0) {
        close(fds[0]);
        char dir[PATH_MAX] = "";
        int made = ts_tmpdir_make("leftover", dir, sizeof dir);
        const char *argv[] = {"sleep", "30", NULL};
        ts_proc *p = ts_proc_spawn(argv, NULL, made == 0 ? dir : tmp, "orphan");
        pid_t pid = p ? ts_proc_pid(p) : -1;
        ssize_t w = write(fds[1], &pid, sizeof pid);
        ssize_t w2 = write(fds[1], dir, sizeof dir);
        exit(w == (ssize_t)sizeof pid && w2 == (ssize_t)sizeof dir && p && made == 0 ? 0 : 1);
    }
    close(fds[1]);
    pid_t child = -1;
    char leftover[PATH_MAX];
    assert_int_equal(read(fds[0], &child, sizeof child), (ssize_t)sizeof child);
    assert_int_equal(read(fds[0], leftover, sizeof leftover), (ssize_t)sizeof leftover);
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(helper, &st, 0), helper);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(child > 0);
    assert_true(gone(child));
    struct stat sb;
    assert_int_not_equal(stat(leftover, &sb), 0);
}

static void test_paths_and_tmpdir(void **state)
{
    char path[PATH_MAX];
    assert_int_equal(ts_source_path("CMakeLists.txt", path, sizeof path), 0);
    assert_int_equal(ts_source_path("no/such/file", path, sizeof path), -1);
    assert_int_equal(ts_bin_path("it_test_support", path, sizeof path), 0);
    assert_int_equal(ts_bin_path("campsync-no-such-binary", path, sizeof path), -1);

    char dir[PATH_MAX], file[PATH_MAX + 16];
    assert_int_equal(ts_tmpdir_make(NULL, dir, sizeof dir), 0);
    snprintf(file, sizeof file, "%s/sub", dir);
    assert_int_equal(mkdir(file, 0700), 0);
    snprintf(file, sizeof file, "%s/sub/f", dir);
    assert_int_equal(ts_write_file(file, "a\0b", 3, 0600), 0);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    size_t len = 0;
    char *back = ts_read_file(file, &len);
    assert_non_null(back);
    assert_int_equal(len, 3);
    assert_memory_equal(back, "a\0b", 3);
    free(back);
    assert_null(ts_read_file("/nonexistent/campsync", NULL));
    assert_int_equal(ts_write_file("/nonexistent/dir/f", "x", 0, 0644), -1);
    assert_int_equal(ts_tmpdir_remove(dir), 0);
    assert_int_not_equal(stat(dir, &st), 0);
    assert_int_equal(ts_tmpdir_remove("/"), -1);
}

static void test_redis_fixture(void **state)
{
    ts_redis *r = ts_redis_start(NULL);
    assert_non_null(r);
    int port = ts_redis_port(r);
    char want[64];
    snprintf(want, sizeof want, "redis://127.0.0.1:%d", port);
    assert_string_equal(ts_redis_url(r), want);
    assert_int_equal(ts_wait_port(port, 2000), 0);
    pid_t first = ts_proc_pid(ts_redis_proc(r));

    assert_int_equal(ts_redis_kill(r), 0);
    assert_null(ts_redis_proc(r));
    assert_true(gone(first));
    assert_int_equal(ts_wait_port(port, 100), -1);

    assert_int_equal(ts_redis_restart(r), 0);
    assert_int_equal(ts_redis_port(r), port);
    assert_int_equal(ts_wait_port(port, 2000), 0);
    pid_t second = ts_proc_pid(ts_redis_proc(r));
    assert_int_not_equal(first, second);

    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", ts_redis_dir(r));
    ts_redis_free(r);
    assert_true(gone(second));
    struct stat st;
    assert_int_not_equal(stat(dir, &st), 0);

    ts_redis_opts o = {.password = "s3cret", .appendonly = 1};
    r = ts_redis_start(&o);
    assert_non_null(r);
    snprintf(want, sizeof want, "redis://:s3cret@127.0.0.1:%d", ts_redis_port(r));
    assert_string_equal(ts_redis_url(r), want);
    ts_redis_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_spawn_output_and_status),
        cmocka_unit_test(test_spawn_missing_binary),
        cmocka_unit_test(test_first_line_failures),
        cmocka_unit_test(test_stop_escalates_to_kill),
        cmocka_unit_test(test_free_kills_group),
        cmocka_unit_test(test_exit_cleans_up),
        cmocka_unit_test(test_paths_and_tmpdir),
        cmocka_unit_test(test_redis_fixture),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
