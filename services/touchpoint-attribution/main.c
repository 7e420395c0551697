/*
 * campsync-attribution: Touchpoint attribution: offline touchpoints and revenue attribution.
 * Wiring only: the shared start-up lives in common/service. No method has a
 * handler yet, so every method answers UNIMPLEMENTED naming itself.
 */
#include "service/service.h"

#include "campsync/v1/attribution.pb-c.h"

int main(int argc, char **argv)
{
    const svc_def def = {
        .name = "campsync-attribution",
        .summary = "Touchpoint attribution: offline touchpoints and revenue attribution",
        .descriptor = &campsync__v1__touchpoint_attribution__descriptor,
    };
    return svc_main(&def, argc, argv);
}
