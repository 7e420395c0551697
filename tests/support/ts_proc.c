/*
 * Test support: child processes. Each child runs in its own process group
 * with PR_SET_PDEATHSIG, so killing the group on teardown also takes anything
 * it forked, and a test that dies (abort, ASan, ctest timeout) takes its
 * children with it. A registry kills and reaps whatever is still running at
 * exit(). Exec failures travel back over a close-on-exec pipe so spawn fails
 * in the test, not silently in the child.
 */
#include "ts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct ts_proc {
    pid_t pid;
    pid_t owner; /* the process that spawned it: only it may kill or reap */
    int reaped;
    int status;
    char out_path[PATH_MAX];
    char err_path[PATH_MAX];
    struct ts_proc *next;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ts_proc *reg_head;
static pid_t reg_owner;
static int reg_atexit_done;

static void reg_add(struct ts_proc *p)
{
    pthread_mutex_lock(&reg_mu);
    if (!reg_atexit_done) {
        atexit(ts_proc_kill_all);
        reg_atexit_done = 1;
    }
    if (reg_owner != getpid()) {
        /* First spawn in this process, or in a child forked by a test: the
         * inherited entries are the parent's to clean up, not ours. */
        reg_owner = getpid();
        reg_head = NULL;
    }
    p->next = reg_head;
    reg_head = p;
    pthread_mutex_unlock(&reg_mu);
}

static void reg_remove(struct ts_proc *p)
{
    pthread_mutex_lock(&reg_mu);
    for (struct ts_proc **pp = &reg_head; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    pthread_mutex_unlock(&reg_mu);
}

/* Non-blocking reap; 1 once the child is reaped. */
static int reap(struct ts_proc *p)
{
    if (p->reaped)
        return 1;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid || (r < 0 && errno == ECHILD)) {
        p->reaped = 1;
        p->status = r == p->pid ? st : -1;
    }
    return p->reaped;
}

static int wait_reaped(struct ts_proc *p, int timeout_ms)
{
    long long deadline = ts_now_ms() + timeout_ms;
    int pause = 1;
    while (!reap(p)) {
        if (ts_now_ms() >= deadline)
            return -1;
        ts_sleep_ms(pause);
        if (pause < 20)
            pause *= 2;
    }
    return 0;
}

static void kill_group_and_reap(struct ts_proc *p)
{
    if (!p->reaped) {
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
        if (wait_reaped(p, 10000) != 0)
            fprintf(stderr, "ts: pid %d survived SIGKILL for 10 s\n", (int)p->pid);
    }
}

void ts_proc_kill_all(void)
{
    if (getpid() != reg_owner)
        return;
    pthread_mutex_lock(&reg_mu);
    for (struct ts_proc *p = reg_head; p; p = p->next)
        if (!p->reaped)
            kill_group_and_reap(p);
    pthread_mutex_unlock(&reg_mu);
}

/* environ with entries of extra added, a KEY= in extra replacing KEY=. */
static char **merged_env(const char *const env[])
{
    size_t n_base = 0, n_extra = 0;
    while (environ && environ[n_base])
        n_base++;
    while (env && env[n_extra])
        n_extra++;
    char **out = calloc(n_base + n_extra + 1, sizeof *out);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n_base; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t keylen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        int overridden = 0;
        for (size_t j = 0; j < n_extra && !overridden; j++)
            overridden = strncmp(env[j], environ[i], keylen) == 0 && env[j][keylen] == '=';
        if (!overridden)
            out[k++] = environ[i];
    }
    for (size_t j = 0; j < n_extra; j++)
        out[k++] = (char *)env[j];
    out[k] = NULL;
    return out;
}

ts_proc *ts_proc_spawn(const char *const argv[], const char *const env[], const char *dir,
                       const char *name)
{
    if (!argv || !argv[0] || !dir) {
        fprintf(stderr, "ts: spawn needs argv and an output dir\n");
        return NULL;
    }
    if (!name) {
        const char *slash = strrchr(argv[0], '/');
        name = slash ? slash + 1 : argv[0];
    }
    struct ts_proc *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->out_path, sizeof p->out_path, "%s/%s.stdout", dir, name);
    snprintf(p->err_path, sizeof p->err_path, "%s/%s.stderr", dir, name);
    int out_fd = open(p->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err_fd = open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int pipefd[2] = {-1, -1};
    char **envp = merged_env(env);
    if (out_fd < 0 || err_fd < 0 || null_fd < 0 || !envp || pipe2(pipefd, O_CLOEXEC) != 0) {
        fprintf(stderr, "ts: cannot prepare %s (%s): %s\n", name, p->out_path, strerror(errno));
        goto fail;
    }

    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "ts: fork: %s\n", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls until exec. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        dup2(null_fd, 0);
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        execvpe(argv[0], (char *const *)argv, envp);
        int e = errno;
        ssize_t w = write(pipefd[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    setpgid(pid, pid);
    close(pipefd[1]);
    pipefd[1] = -1;
    int child_errno = 0;
    ssize_t r;
    do {
        r = read(pipefd[0], &child_errno, sizeof child_errno);
    } while (r < 0 && errno == EINTR);
    p->pid = pid;
    p->owner = parent;
    if (r == (ssize_t)sizeof child_errno) {
        fprintf(stderr, "ts: cannot exec %s: %s\n", argv[0], strerror(child_errno));
        wait_reaped(p, 5000);
        goto fail;
    }
    close(pipefd[0]);
    close(out_fd);
    close(err_fd);
    close(null_fd);
    free(envp);
    reg_add(p);
    return p;

fail:
    for (int i = 0; i < 2; i++)
        if (pipefd[i] >= 0)
            close(pipefd[i]);
    if (out_fd >= 0)
        close(out_fd);
    if (err_fd >= 0)
        close(err_fd);
    if (null_fd >= 0)
        close(null_fd);
    free(envp);
    free(p);
    return NULL;
}

pid_t ts_proc_pid(const ts_proc *p)
{
    return p->pid;
}

const char *ts_proc_stdout_path(const ts_proc *p)
{
    return p->out_path;
}

const char *ts_proc_stderr_path(const ts_proc *p)
{
    return p->err_path;
}

int ts_proc_running(ts_proc *p)
{
    return !reap(p);
}

int ts_proc_signal(ts_proc *p, int sig)
{
    if (reap(p))
        return -1;
    return kill(p->pid, sig) == 0 ? 0 : -1;
}

int ts_proc_wait(ts_proc *p, int timeout_ms, int *status)
{
    if (wait_reaped(p, timeout_ms) != 0)
        return -1;
    if (status)
        *status = p->status;
    return 0;
}

int ts_proc_stop(ts_proc *p, int timeout_ms)
{
    if (!reap(p)) {
        kill(-p->pid, SIGTERM);
        if (wait_reaped(p, timeout_ms) != 0) {
            fprintf(stderr, "ts: pid %d ignored SIGTERM for %d ms; killing it\n", (int)p->pid,
                    timeout_ms);
            kill_group_and_reap(p);
        }
    }
    return p->reaped ? p->status : -1;
}

void ts_proc_free(ts_proc *p)
{
    if (!p)
        return;
    if (getpid() == p->owner)
        kill_group_and_reap(p);
    reg_remove(p);
    free(p);
}

int ts_proc_first_line(ts_proc *p, char *buf, size_t cap, int timeout_ms)
{
    long long deadline = ts_now_ms() + timeout_ms;
    int pause = 1;
    for (;;) {
        int exited = reap(p);
        char *text = ts_read_file(p->out_path, NULL);
        char *nl = text ? strchr(text, '\n') : NULL;
        if (nl) {
            size_t n = (size_t)(nl - text);
            int fits = n < cap;
            if (fits) {
                memcpy(buf, text, n);
                buf[n] = '\0';
            } else {
                fprintf(stderr, "ts: first line of %s is %zu bytes, buffer holds %zu\n",
                        p->out_path, n, cap);
            }
            free(text);
            return fits ? 0 : -1;
        }
        free(text);
        if (exited) {
            fprintf(stderr, "ts: pid %d exited (status %d) before printing a line\n", (int)p->pid,
                    p->status);
            ts_proc_dump_stderr(p, 4000);
            return -1;
        }
        if (ts_now_ms() >= deadline) {
            fprintf(stderr, "ts: pid %d printed no line within %d ms\n", (int)p->pid, timeout_ms);
            ts_proc_dump_stderr(p, 4000);
            return -1;
        }
        ts_sleep_ms(pause);
        if (pause < 20)
            pause *= 2;
    }
}

void ts_proc_dump_stderr(const ts_proc *p, size_t max_bytes)
{
    size_t len = 0;
    char *text = ts_read_file(p->err_path, &len);
    if (!text)
        return;
    const char *start = len > max_bytes ? text + len - max_bytes : text;
    fprintf(stderr, "---- %s (last %zu bytes) ----\n%s\n---- end ----\n", p->err_path,
            (size_t)(len - (size_t)(start - text)), start);
    free(text);
}
