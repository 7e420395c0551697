/*
 * The handler table of campsync.v1.SalesforceConnector; service data is the
 * sf_client (sf_client.h).
 */
#ifndef SF_HANDLERS_H
#define SF_HANDLERS_H

#include <stddef.h>

#include "rpc/rpc_server.h"

extern const rpc_method sf_methods[];
extern const size_t sf_n_methods;

#endif
