/*
 * JSON-line logger. Lines are built in a local buffer and written with one
 * write(2) so lines from different threads never interleave.
 */
#include "log/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char log_service[64] = "campsync";
static log_level log_min = LOG_INFO;
static __thread char log_req_id[80];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *service, log_level min_level)
{
    snprintf(log_service, sizeof log_service, "%s", service ? service : "campsync");
    log_min = min_level;
}

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcasecmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void log_set_request_id(const char *request_id)
{
    snprintf(log_req_id, sizeof log_req_id, "%s", request_id ? request_id : "");
}

const char *log_request_id(void)
{
    return log_req_id;
}

int log_key_is_secret(const char *key)
{
    static const char *const words[] = {"secret", "token", "password", "authorization",
                                        "apikey", "api_key", "private", "credential"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (key && strcasestr(key, words[i]))
            return 1;
    return 0;
}

struct line {
    char buf[8192];
    size_t len;
};

static void put_raw(struct line *l, const char *s, size_t n)
{
    if (l->len + n >= sizeof l->buf - 3)
        n = sizeof l->buf - 3 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_str(struct line *l, const char *s)
{
    put_raw(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        char esc[8];
        switch (*p) {
        case '"':
            put_raw(l, "\\\"", 2);
            break;
        case '\\':
            put_raw(l, "\\\\", 2);
            break;
        case '\n':
            put_raw(l, "\\n", 2);
            break;
        case '\r':
            put_raw(l, "\\r", 2);
            break;
        case '\t':
            put_raw(l, "\\t", 2);
            break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                put_raw(l, esc, 6);
            } else {
                put_raw(l, (const char *)p, 1);
            }
        }
    }
    put_raw(l, "\"", 1);
}

static void put_field(struct line *l, const char *key, const char *value)
{
    put_raw(l, ",", 1);
    put_str(l, key);
    put_raw(l, ":", 1);
    put_str(l, log_key_is_secret(key) ? "[redacted]" : value);
}

static void start_line(struct line *l, log_level level, const char *msg)
{
    struct timeval tv;
    struct tm tm;
    char ts[40];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
    l->len = 0;
    put_raw(l, "{\"ts\":", 6);
    put_str(l, ts);
    put_field(l, "level", level_names[level]);
    put_field(l, "svc", log_service);
    put_field(l, "msg", msg);
    if (log_req_id[0])
        put_field(l, "request_id", log_req_id);
}

static void end_line(struct line *l)
{
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    ssize_t w = write(STDERR_FILENO, l->buf, l->len);
    (void)w;
}

void log_kvv(log_level level, const char *msg, va_list ap)
{
    if (level < log_min)
        return;
    struct line l;
    start_line(&l, level, msg);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        const char *value = va_arg(ap, const char *);
        put_field(&l, key, value);
    }
    end_line(&l);
}

void log_kv(log_level level, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    log_kvv(level, msg, ap);
    va_end(ap);
}

void log_msg(log_level level, const char *fmt, ...)
{
    if (level < log_min)
        return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct line l;
    start_line(&l, level, msg);
    end_line(&l);
}
