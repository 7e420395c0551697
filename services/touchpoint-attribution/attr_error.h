/*
 * The error convention of the attribution core: functions return int 0 on
 * success and, on failure, leave a sentence a human can act on in a
 * caller-owned attr_error. The service layer turns it into INVALID_ARGUMENT
 * or FAILED_PRECONDITION; the message is passed through unchanged.
 */
#ifndef ATTR_ERROR_H
#define ATTR_ERROR_H

typedef struct attr_error {
    char msg[256];
} attr_error;

/* printf-style; err may be NULL (the caller does not want the text).
 * Always returns -1 so callers can write `return attr_error_set(...)`. */
int attr_error_set(attr_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
