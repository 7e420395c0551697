/*
 * Test support: clocks, temp dirs, file reading, binary/source paths and free
 * loopback ports. Ports are picked at random below the ephemeral range and
 * remembered, so parallel tests rarely collide and one process never hands the
 * same port out twice (a port handed out may not be bound yet).
 */
#include "ts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

long long ts_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ts_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Temp dirs still to remove at exit (a failed test skips its teardown). */
struct tmp_entry {
    struct tmp_entry *next;
    char path[];
};
static pthread_mutex_t tmp_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tmp_entry *tmp_head;
static pid_t tmp_owner;
static int tmp_atexit_done;

static int remove_tree(const char *path);

static void tmp_cleanup(void)
{
    if (getpid() != tmp_owner)
        return;
    /* Children may still write into the dirs: stop them first. */
    ts_proc_kill_all();
    const char *keep = getenv("CAMPSYNC_KEEP_TMP");
    pthread_mutex_lock(&tmp_mu);
    for (struct tmp_entry *t = tmp_head; t; t = t->next) {
        if (keep && *keep && strcmp(keep, "0") != 0)
            fprintf(stderr, "ts: keeping %s (CAMPSYNC_KEEP_TMP)\n", t->path);
        else
            remove_tree(t->path);
    }
    pthread_mutex_unlock(&tmp_mu);
}

static void tmp_register(const char *path)
{
    size_t len = strlen(path);
    struct tmp_entry *t = malloc(sizeof *t + len + 1);
    if (!t)
        return;
    memcpy(t->path, path, len + 1);
    pthread_mutex_lock(&tmp_mu);
    if (!tmp_atexit_done) {
        atexit(tmp_cleanup);
        tmp_atexit_done = 1;
    }
    if (tmp_owner != getpid()) {
        /* A child forked by the test: the inherited dirs are the parent's
         * to remove; drop our copies of the entries. */
        while (tmp_head) {
            struct tmp_entry *next = tmp_head->next;
            free(tmp_head);
            tmp_head = next;
        }
        tmp_owner = getpid();
    }
    t->next = tmp_head;
    tmp_head = t;
    pthread_mutex_unlock(&tmp_mu);
}

static void tmp_unregister(const char *path)
{
    pthread_mutex_lock(&tmp_mu);
    for (struct tmp_entry **pp = &tmp_head; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->path, path) == 0) {
            struct tmp_entry *dead = *pp;
            *pp = dead->next;
            free(dead);
            break;
        }
    }
    pthread_mutex_unlock(&tmp_mu);
}

int ts_tmpdir_make(const char *tag, char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    int n = snprintf(out, cap, "%s/campsync-%s-XXXXXX", base, tag ? tag : "test");
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "ts: temp dir path too long for buffer\n");
        return -1;
    }
    if (!mkdtemp(out)) {
        fprintf(stderr, "ts: mkdtemp %s: %s\n", out, strerror(errno));
        return -1;
    }
    tmp_register(out);
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "ts: remove %s: %s\n", path, strerror(errno));
    return 0;
}

int ts_tmpdir_remove(const char *path)
{
    if (!path || !*path || strcmp(path, "/") == 0) {
        fprintf(stderr, "ts: refusing to remove '%s'\n", path ? path : "(null)");
        return -1;
    }
    tmp_unregister(path);
    return remove_tree(path);
}

static int remove_tree(const char *path)
{
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) {
        fprintf(stderr, "ts: walking %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    return lstat(path, &st) == 0 ? -1 : 0;
}

char *ts_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (used + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + used, cap - used - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            buf = NULL;
            break;
        }
        if (r == 0)
            break;
        used += (size_t)r;
    }
    close(fd);
    if (!buf)
        return NULL;
    buf[used] = '\0';
    if (len)
        *len = used;
    return buf;
}

int ts_write_file(const char *path, const char *data, size_t len, int mode)
{
    if (!len)
        len = strlen(data);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        fprintf(stderr, "ts: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "ts: writing %s: %s\n", path, strerror(errno));
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    fchmod(fd, (mode_t)mode);
    return close(fd) == 0 ? 0 : -1;
}

int ts_bin_path(const char *name, char *out, size_t cap)
{
    const char *dir = getenv("CAMPSYNC_BIN_DIR");
    char self[PATH_MAX];
    if (!dir || !*dir) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            fprintf(stderr, "ts: CAMPSYNC_BIN_DIR unset and /proc/self/exe unreadable\n");
            return -1;
        }
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        dir = self;
    }
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "ts: binary path too long\n");
        return -1;
    }
    if (access(out, X_OK) != 0) {
        fprintf(stderr, "ts: %s is not an executable (%s); build it first\n", out, strerror(errno));
        return -1;
    }
    return 0;
}

int ts_source_path(const char *rel, char *out, size_t cap)
{
    const char *dir = getenv("CAMPSYNC_SOURCE_DIR");
    if (!dir || !*dir)
        dir = TS_SOURCE_DIR;
    int n = snprintf(out, cap, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "ts: source path too long\n");
        return -1;
    }
    if (access(out, F_OK) != 0) {
        fprintf(stderr, "ts: %s: %s\n", out, strerror(errno));
        return -1;
    }
    return 0;
}

/* Ports this process already handed out. */
static pthread_mutex_t port_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char port_used[65536 / 8];
static unsigned int port_seed;

static void port_range(int *lo, int *hi)
{
    int eph_lo = 32768, eph_hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &eph_lo, &eph_hi) != 2) {
            eph_lo = 32768;
            eph_hi = 60999;
        }
        fclose(f);
    }
    if (eph_lo - 10000 >= 2000) {
        *lo = 10000;
        *hi = eph_lo - 1;
    } else {
        *lo = eph_hi + 1;
        *hi = 65535;
    }
}

static int port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 1) == 0;
    close(fd);
    return ok;
}

int ts_free_port(void)
{
    int lo, hi;
    port_range(&lo, &hi);
    pthread_mutex_lock(&port_mu);
    if (!port_seed)
        port_seed = (unsigned int)getpid() ^ (unsigned int)ts_now_ms() ^ (unsigned int)time(NULL);
    int found = -1;
    for (int tries = 0; tries < 500 && found < 0; tries++) {
        int port = lo + (int)(rand_r(&port_seed) % (unsigned int)(hi - lo + 1));
        if (port_used[port / 8] & (1u << (port % 8)))
            continue;
        if (port_bindable(port)) {
            port_used[port / 8] |= (unsigned char)(1u << (port % 8));
            found = port;
        }
    }
    pthread_mutex_unlock(&port_mu);
    if (found < 0)
        fprintf(stderr, "ts: no free loopback port found in %d-%d\n", lo, hi);
    return found;
}

/* One non-blocking connect attempt bounded by wait_ms. */
static int try_connect(int port, int wait_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        ok = 1;
    } else if (errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, wait_ms) == 1) {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0;
        }
    }
    close(fd);
    return ok;
}

int ts_wait_port(int port, int timeout_ms)
{
    long long deadline = ts_now_ms() + timeout_ms;
    int pause = 2;
    for (;;) {
        long long left = deadline - ts_now_ms();
        if (try_connect(port, left > 200 ? 200 : (left > 0 ? (int)left : 1)))
            return 0;
        if (ts_now_ms() >= deadline)
            break;
        ts_sleep_ms(pause);
        if (pause < 50)
            pause *= 2;
    }
    fprintf(stderr, "ts: nothing accepted connections on 127.0.0.1:%d within %d ms\n", port,
            timeout_ms);
    return -1;
}
