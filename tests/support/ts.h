/*
 * Test support for campsync's integration tests: free loopback ports, child
 * processes with their output in files, a redis-server fixture, temp dirs and
 * paths to the built binaries.
 *
 * Every integration test of every service uses this, so the surface is small
 * and each call either works or says why on stderr ("ts: ...") and returns an
 * error (-1 or NULL): a test only has to assert on the return value.
 *
 * Nothing is left running: every spawned process is in a registry that kills
 * its process group and reaps it at exit(), and each child also gets
 * PR_SET_PDEATHSIG=SIGKILL so it dies with the test even when the test is
 * killed or aborts. Spawn children from the test's main thread (the death
 * signal follows the thread that forked). A process the test fork()s inherits
 * no registry entries: it cleans up only the children it spawned itself.
 *
 * Children write stdout/stderr to <dir>/<name>.stdout and <dir>/<name>.stderr.
 * A child that announces something on stdout (the sandbox prints its bound
 * addresses as one JSON line) must fflush(stdout): stdout to a file is fully
 * buffered.
 */
#ifndef CAMPSYNC_TS_H
#define CAMPSYNC_TS_H

#include <stddef.h>
#include <sys/types.h>

/* ---- time ---- */

/* Monotonic milliseconds. */
long long ts_now_ms(void);
void ts_sleep_ms(int ms);

/* ---- files and paths ---- */

/* Makes a fresh directory $TMPDIR/campsync-<tag>-XXXXXX (tag may be NULL) and
 * writes its path to out. Returns 0 or -1. Dirs not removed by the test are
 * removed at exit (after its children are killed) unless CAMPSYNC_KEEP_TMP=1
 * is set, which keeps them, logs included, for a post-mortem. */
int ts_tmpdir_make(const char *tag, char *out, size_t cap);

/* Removes path and everything under it. Returns 0 or -1. Refuses "" and "/". */
int ts_tmpdir_remove(const char *path);

/* Reads a whole file; returns a NUL-terminated malloc'd buffer the caller
 * frees (length in *len when len is not NULL), or NULL. */
char *ts_read_file(const char *path, size_t *len);

/* Writes len bytes (len 0: strlen) to path, replacing it, with the given
 * mode (e.g. 0600 for a secret file). Returns 0 or -1. */
int ts_write_file(const char *path, const char *data, size_t len, int mode);

/* Path of a built binary: $CAMPSYNC_BIN_DIR/<name>, or beside the running test
 * binary when that variable is unset. Returns 0 when the file is executable,
 * -1 otherwise (with a message naming the path tried). */
int ts_bin_path(const char *name, char *out, size_t cap);

/* Path of a file in the source tree: $CAMPSYNC_SOURCE_DIR/<rel>, or the source
 * dir this library was built from. Returns 0 when it exists, -1 otherwise. */
int ts_source_path(const char *rel, char *out, size_t cap);

/* ---- ports ---- */

/* A loopback TCP port nobody listens on right now, picked at random below the
 * kernel's ephemeral range (so outgoing connections never take it) and never
 * handed out twice by this process. Returns the port or -1. */
int ts_free_port(void);

/* Waits until 127.0.0.1:port accepts a TCP connection. 0 or -1 on timeout. */
int ts_wait_port(int port, int timeout_ms);

/* ---- processes ---- */

typedef struct ts_proc ts_proc;

/*
 * Starts argv[0] (searched in PATH when it has no '/') with argv, in its own
 * process group, with the test's environment plus env (NULL-terminated
 * "KEY=VALUE" strings, may be NULL; a KEY= entry overrides), stdin from
 * /dev/null and stdout/stderr to <dir>/<name>.stdout|.stderr (name defaults to
 * the basename of argv[0]). Returns NULL when the program cannot be started
 * (exec errors are reported, not left to the child).
 */
ts_proc *ts_proc_spawn(const char *const argv[], const char *const env[], const char *dir,
                       const char *name);

pid_t ts_proc_pid(const ts_proc *p);
const char *ts_proc_stdout_path(const ts_proc *p);
const char *ts_proc_stderr_path(const ts_proc *p);

/* 1 while the child has not exited (it is reaped if it has), else 0. */
int ts_proc_running(ts_proc *p);

/* Sends sig to the child (not its group). 0 or -1 (already reaped). */
int ts_proc_signal(ts_proc *p, int sig);

/*
 * Waits up to timeout_ms for the child to exit. Returns 0 and the waitpid
 * status in *status (may be NULL), or -1 on timeout (child left running).
 * Calling it again after the child was reaped returns the same status.
 */
int ts_proc_wait(ts_proc *p, int timeout_ms, int *status);

/* SIGTERM to the group, wait up to timeout_ms, then SIGKILL the group. Returns the waitpid
 * status, or -1 if even SIGKILL did not reap it. */
int ts_proc_stop(ts_proc *p, int timeout_ms);

/* Kills the group if still running, reaps, unregisters and frees. NULL ok. */
void ts_proc_free(ts_proc *p);

/*
 * Copies the first line the child printed on stdout (without the newline) into
 * buf, waiting up to timeout_ms for a complete line. Returns 0, or -1 on
 * timeout, if the child exited first (its stderr tail is printed), or if the
 * line does not fit.
 */
int ts_proc_first_line(ts_proc *p, char *buf, size_t cap, int timeout_ms);

/* Prints the last max_bytes of the child's stderr to our stderr (for failed
 * tests). */
void ts_proc_dump_stderr(const ts_proc *p, size_t max_bytes);

/* Kills and reaps every registered child now (also done at exit). */
void ts_proc_kill_all(void);

/* ---- redis-server fixture ---- */

typedef struct ts_redis ts_redis;

typedef struct {
    const char *password; /* requirepass; NULL for none */
    int appendonly;       /* 1: appendonly yes (data survives a kill+restart) */
} ts_redis_opts;

/* Starts redis-server ($CAMPSYNC_REDIS_SERVER or redis-server in PATH) on a
 * free 127.0.0.1 port, --save '' and its own temp dir; returns once it answers
 * PING. opts may be NULL. Returns NULL on failure. */
ts_redis *ts_redis_start(const ts_redis_opts *opts);

/* "redis://127.0.0.1:<port>" or "redis://:<password>@127.0.0.1:<port>". */
const char *ts_redis_url(const ts_redis *r);
int ts_redis_port(const ts_redis *r);
const char *ts_redis_dir(const ts_redis *r);
/* The running server process (NULL while stopped). */
ts_proc *ts_redis_proc(const ts_redis *r);

/* SIGKILL (a crash: no shutdown save) and reap. 0 or -1. */
int ts_redis_kill(ts_redis *r);

/* SIGTERM (clean shutdown) and reap. 0 or -1. */
int ts_redis_stop(ts_redis *r);

/* Starts the server again on the same port, password and dir (stopping it
 * first if running). Returns 0 once it answers, -1 otherwise. */
int ts_redis_restart(ts_redis *r);

/* Stops the server, removes its dir and frees. NULL ok. */
void ts_redis_free(ts_redis *r);

#endif
