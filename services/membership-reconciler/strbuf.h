/*
 * Growable string for the messages the reconciler builds (status
 * differences naming every status, plan notes). Out of memory is sticky:
 * after a failed append every later append is a no-op and sbuf_take
 * returns NULL, so callers check once at the end.
 */
#ifndef CAMPSYNC_STRBUF_H
#define CAMPSYNC_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} sbuf;

void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s in double quotes, escaping '"' and '\\'. */
void sbuf_quoted(sbuf *b, const char *s);
/* Returns the string (caller frees) or NULL after out of memory; resets b. */
char *sbuf_take(sbuf *b);
void sbuf_free(sbuf *b);

#endif
