/*
 * Test support: a real redis-server per test on a free loopback port, with
 * its own temp dir. Readiness is a raw PING over a socket (any answer but
 * -LOADING means it serves), so this library needs no Redis client. The port
 * stays the same across kill/restart, which is what reconnect tests need.
 */
#include "ts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct ts_redis {
    ts_proc *proc;
    int port;
    int appendonly;
    int starts;
    char password[128];
    char dir[PATH_MAX];
    char url[256];
};

/* 1 when the server answered PING with anything but -LOADING. */
static int answers_ping(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = 0;
    char reply[64] = {0};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 1000) == 1) {
            ssize_t n = recv(fd, reply, sizeof reply - 1, 0);
            ok = n > 0 && strncmp(reply, "-LOADING", 8) != 0;
        }
    }
    close(fd);
    return ok;
}

/* Runs redis-server on r->port; 0 once it answers, -1 if it exits or hangs. */
static int launch(ts_redis *r)
{
    const char *bin = getenv("CAMPSYNC_REDIS_SERVER");
    if (!bin || !*bin)
        bin = "redis-server";
    char port[16], name[64];
    snprintf(port, sizeof port, "%d", r->port);
    snprintf(name, sizeof name, "redis.%d", ++r->starts);
    const char *argv[20];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--port";
    argv[n++] = port;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = r->appendonly ? "yes" : "no";
    argv[n++] = "--dir";
    argv[n++] = r->dir;
    argv[n++] = "--daemonize";
    argv[n++] = "no";
    if (r->password[0]) {
        argv[n++] = "--requirepass";
        argv[n++] = r->password;
    }
    argv[n] = NULL;
    r->proc = ts_proc_spawn(argv, NULL, r->dir, name);
    if (!r->proc)
        return -1;
    long long deadline = ts_now_ms() + 15000;
    while (ts_now_ms() < deadline) {
        if (!ts_proc_running(r->proc)) {
            fprintf(stderr, "ts: redis-server on port %d exited during start-up\n", r->port);
            break;
        }
        if (answers_ping(r->port))
            return 0;
        ts_sleep_ms(10);
    }
    if (ts_proc_running(r->proc))
        fprintf(stderr, "ts: redis-server on port %d did not answer PING in 15 s\n", r->port);
    char *log = ts_read_file(ts_proc_stdout_path(r->proc), NULL);
    if (log) {
        fprintf(stderr, "---- redis log ----\n%s---- end ----\n", log);
        free(log);
    }
    ts_proc_dump_stderr(r->proc, 2000);
    ts_proc_free(r->proc);
    r->proc = NULL;
    return -1;
}

ts_redis *ts_redis_start(const ts_redis_opts *opts)
{
    ts_redis *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (opts && opts->password)
        snprintf(r->password, sizeof r->password, "%s", opts->password);
    r->appendonly = opts ? opts->appendonly : 0;
    if (ts_tmpdir_make("redis", r->dir, sizeof r->dir) != 0) {
        free(r);
        return NULL;
    }
    /* Another process may take the probed port before redis binds it. */
    for (int attempt = 0; attempt < 3; attempt++) {
        r->port = ts_free_port();
        if (r->port < 0)
            break;
        if (launch(r) == 0) {
            if (r->password[0])
                snprintf(r->url, sizeof r->url, "redis://:%s@127.0.0.1:%d", r->password, r->port);
            else
                snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d", r->port);
            return r;
        }
    }
    ts_tmpdir_remove(r->dir);
    free(r);
    return NULL;
}

const char *ts_redis_url(const ts_redis *r)
{
    return r->url;
}

int ts_redis_port(const ts_redis *r)
{
    return r->port;
}

const char *ts_redis_dir(const ts_redis *r)
{
    return r->dir;
}

ts_proc *ts_redis_proc(const ts_redis *r)
{
    return r->proc;
}

int ts_redis_kill(ts_redis *r)
{
    if (!r->proc)
        return -1;
    ts_proc_signal(r->proc, SIGKILL);
    int rc = ts_proc_wait(r->proc, 10000, NULL);
    ts_proc_free(r->proc);
    r->proc = NULL;
    return rc;
}

int ts_redis_stop(ts_redis *r)
{
    if (!r->proc)
        return -1;
    int st = ts_proc_stop(r->proc, 10000);
    ts_proc_free(r->proc);
    r->proc = NULL;
    return st < 0 ? -1 : 0;
}

int ts_redis_restart(ts_redis *r)
{
    if (r->proc)
        ts_redis_stop(r);
    /* The old listener is gone once the process is reaped; redis sets
     * SO_REUSEADDR, so the same port binds again at once. */
    return launch(r);
}

void ts_redis_free(ts_redis *r)
{
    if (!r)
        return;
    if (r->proc)
        ts_redis_stop(r);
    ts_tmpdir_remove(r->dir);
    free(r);
}
