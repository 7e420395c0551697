/*
 * The HTTP client start-up the two connectors share (kept apart from
 * svc_main so services that never call a vendor do not load libcurl).
 *
 * SVC_HTTP_OPTIONS is the connector option for it (plain http:// only when
 * asked: a vendor URL mistyped as http:// must not send credentials in the
 * clear); the connectors put the macro in their option table and call svc_http_start from their
 * setup and svc_http_stop from their teardown.
 */
#ifndef CAMPSYNC_SERVICE_HTTP_H
#define CAMPSYNC_SERVICE_HTTP_H

#include <stddef.h>

#include "config/config.h"

#define SVC_HTTP_OPTIONS                                                                           \
    {                                                                                              \
        .name = "allow-plain-http", .type = CFG_BOOL, .def = "false",                              \
        .help = "accept http:// vendor URLs (the sandbox); https is always verified"               \
    }

/* Fails, naming the variable, when the URL option holds a plain http:// URL
 * and allow-plain-http is off: better to stop at start-up than to fail every
 * call later. */
int svc_http_check_url(const cfg *c, const char *option, char *err, size_t n);

/* Initialises libcurl with the options above, metrics on every call. */
int svc_http_start(const cfg *c, const char *user_agent, char *err, size_t n);
void svc_http_stop(void);

#endif
