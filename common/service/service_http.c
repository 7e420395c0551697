/*
 * Vendor HTTP client start-up for the connectors (see service_http.h).
 */
#include "service/service_http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "http/http.h"
#include "metrics/metrics.h"

int svc_http_check_url(const cfg *c, const char *option, char *err, size_t n)
{
    const char *url = cfg_str(c, option);
    if (!url || strncasecmp(url, "http://", 7) != 0 || cfg_bool(c, "allow-plain-http"))
        return 0;
    char env[128];
    size_t w = (size_t)snprintf(env, sizeof env, "CAMPSYNC_");
    for (const char *p = option; *p && w + 1 < sizeof env; p++)
        env[w++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    env[w] = '\0';
    snprintf(err, n,
             "%s is a plain http:// URL (%s): credentials would travel unencrypted; use "
             "https, or set CAMPSYNC_ALLOW_PLAIN_HTTP=true for a test sandbox",
             env, url);
    return -1;
}

int svc_http_start(const cfg *c, const char *user_agent, char *err, size_t n)
{
    http_error he = {0};
    http_config hc = {.allow_plain_http = cfg_bool(c, "allow-plain-http"),
                      .user_agent = user_agent};
    if (http_init(&hc, &he) != 0) {
        snprintf(err, n, "HTTP client: %s", he.msg);
        return -1;
    }
    http_set_call_hook(metrics_vendor_call);
    return 0;
}

void svc_http_stop(void)
{
    http_cleanup();
}
