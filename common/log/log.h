/*
 * Structured logs: one JSON object per line on stderr, so a log shipper can
 * parse every line without guessing. Each line carries ts, level, svc, msg,
 * the request id when there is one, and any extra key/value pairs.
 *
 * Secrets never reach a log: values of keys that look like credentials
 * (secret, token, password, authorization, key) are replaced by "[redacted]".
 */
#ifndef CAMPSYNC_LOG_H
#define CAMPSYNC_LOG_H

#include <stdarg.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level;

/* Sets the service name printed as "svc" and the lowest level printed. */
void log_init(const char *service, log_level min_level);

/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int log_level_parse(const char *name);

/* The request id of the calling thread's current request ("" when none);
 * set by the RPC layer around each handler so logs carry it. The string is
 * copied into thread-local storage. */
void log_set_request_id(const char *request_id);
const char *log_request_id(void);

/*
 * Logs msg with extra fields given as a NULL-terminated list of
 * (const char *key, const char *value) pairs, e.g.
 *   log_kv(LOG_INFO, "cycle done", "pair", "123", "status", "Succeeded", NULL);
 */
void log_kv(log_level level, const char *msg, ...);
void log_kvv(log_level level, const char *msg, va_list ap);

/* printf-style message with no extra fields. */
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True when the key names a secret whose value must never be printed. */
int log_key_is_secret(const char *key);

#endif
