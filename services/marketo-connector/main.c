/*
 * campsync-marketo: Marketo connector: Marketo REST behind typed gRPC.
 * Wiring only: the shared start-up lives in common/service. No method has a
 * handler yet, so every method answers UNIMPLEMENTED naming itself.
 */
#include "service/service.h"

#include "campsync/v1/marketo.pb-c.h"

int main(int argc, char **argv)
{
    const svc_def def = {
        .name = "campsync-marketo",
        .summary = "Marketo connector: Marketo REST behind typed gRPC",
        .uses_http = 1,
        .descriptor = &campsync__v1__marketo_connector__descriptor,
    };
    return svc_main(&def, argc, argv);
}
