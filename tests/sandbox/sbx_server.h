/*
 * campsync-sandbox framework: three loopback HTTP listeners (Marketo,
 * Salesforce, admin) on libmicrohttpd, the admin API, fault injection, call
 * accounting and the sandbox clock. main.c only parses flags and calls this;
 * the vendors only see sbx.h.
 */
#ifndef CAMPSYNC_SBX_SERVER_H
#define CAMPSYNC_SBX_SERVER_H

#include "sbx.h"

#include <stdint.h>

typedef struct sbx_server sbx_server;

typedef struct {
    /* "HOST:PORT", ":PORT" or "PORT" (host defaults to 127.0.0.1; port 0 =
     * any free port). NULL = no listener. */
    const char *marketo_addr;
    const char *salesforce_addr;
    const char *admin_addr;
    json_t *dataset; /* borrowed; the server keeps its own reference */
    uint64_t seed;
    /* Vendor simulators; NULL skips that vendor. */
    const sbx_vendor_ops *marketo;
    const sbx_vendor_ops *salesforce;
} sbx_server_config;

enum { SBX_LISTENER_MARKETO = 0, SBX_LISTENER_SALESFORCE = 1, SBX_LISTENER_ADMIN = 2 };

/* Builds vendor state from the dataset and starts listening. Returns NULL
 * and a message in err on failure. */
sbx_server *sbx_server_start(const sbx_server_config *cfg, char *err, size_t err_len);

/* "http://127.0.0.1:PORT" of a listener, or "" when it is not running. */
const char *sbx_server_url(const sbx_server *s, int which);

/* Stops the listeners and frees everything. NULL ok. */
void sbx_server_stop(sbx_server *s);

#endif
