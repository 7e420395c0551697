/*
 * Formats attribution-core errors into the caller's buffer (see attr_error.h).
 */
#include "attr_error.h"

#include <stdarg.h>
#include <stdio.h>

int attr_error_set(attr_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}
