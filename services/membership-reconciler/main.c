/*
 * campsync-reconciler: Membership reconciler: two-way Marketo program / Salesforce campaign sync.
 * Wiring only: the shared start-up lives in common/service. No method has a
 * handler yet, so every method answers UNIMPLEMENTED naming itself.
 */
#include "service/service.h"

#include "campsync/v1/reconciler.pb-c.h"

int main(int argc, char **argv)
{
    const svc_def def = {
        .name = "campsync-reconciler",
        .summary = "Membership reconciler: two-way Marketo program / Salesforce campaign sync",
        .descriptor = &campsync__v1__membership_reconciler__descriptor,
    };
    return svc_main(&def, argc, argv);
}
