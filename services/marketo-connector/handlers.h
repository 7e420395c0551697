/*
 * The handler table of campsync.v1.MarketoConnector and the service state
 * its handlers share (the mkto_client and a cache of activity types).
 */
#ifndef MKTO_HANDLERS_H
#define MKTO_HANDLERS_H

#include <stddef.h>

#include "mkto_client.h"
#include "rpc/rpc_server.h"

extern const rpc_method mkto_methods[];
extern const size_t mkto_n_methods;

/* Builds the state handed to svc_main (NULL with err set on bad config). */
void *mkto_handlers_state_new(const mkto_client_config *cfg, char *err, size_t n);
void mkto_handlers_state_free(void *state);

#endif
