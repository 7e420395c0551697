/*
 * Fuzzes every Marketo response reader with the same bytes: the envelope and
 * everything mapped from its result (programs, channels, members, leads,
 * activity types and pages, per-record results for each operation) and the
 * Identity answer. None may crash, leak or read out of bounds, and every
 * message tree built must pack and free cleanly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mkto_errors.h"
#include "mkto_json.h"

#define FREE(m) protobuf_c_message_free_unpacked(&(m)->base, NULL)

static void mapped(const mkto_envelope *env)
{
    mkto_err err;
    Campsync__V1__ListProgramsResponse *pl =
        mkto_msg_new(&campsync__v1__list_programs_response__descriptor);
    Campsync__V1__ListChannelsResponse *cl =
        mkto_msg_new(&campsync__v1__list_channels_response__descriptor);
    Campsync__V1__ProgramMemberPage *mp =
        mkto_msg_new(&campsync__v1__program_member_page__descriptor);
    Campsync__V1__GetLeadsResponse *ll =
        mkto_msg_new(&campsync__v1__get_leads_response__descriptor);
    mkto_programs_append(env, pl, &err);
    mkto_channels_append(env, cl, &err);
    mkto_members_append(env, mp, &err);
    mkto_leads_append(env, ll, &err);
    size_t n = campsync__v1__list_programs_response__get_packed_size(pl);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf)
        campsync__v1__list_programs_response__pack(pl, buf);
    free(buf);
    FREE(pl);
    FREE(cl);
    FREE(mp);
    FREE(ll);

    mkto_activity_type *types = NULL;
    size_t nt = 0;
    if (mkto_activity_types_parse(env, &types, &nt, &err) != 0)
        types = NULL, nt = 0;
    Campsync__V1__ActivityPage *page;
    if (mkto_activity_page(env, types, nt, &page, &err) == 0) {
        n = campsync__v1__activity_page__get_packed_size(page);
        buf = malloc(n ? n : 1);
        if (buf)
            campsync__v1__activity_page__pack(page, buf);
        free(buf);
        FREE(page);
    }
    mkto_activity_types_free(types, nt);

    Campsync__V1__BatchResult *acc = mkto_msg_new(&campsync__v1__batch_result__descriptor);
    size_t count = json_array_size(env->result);
    for (int op = MKTO_OP_ANY; op <= MKTO_OP_UPSERT; op++)
        mkto_record_results_append(env, (mkto_op)op, NULL, count, 0, acc, &err);
    mkto_record_results_append(env, MKTO_OP_STATUS, NULL, count + 1, 0, acc, &err);
    FREE(acc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    mkto_envelope env;
    mkto_err err;
    if (mkto_envelope_parse(body, size, &env, &err) == 0) {
        mapped(&env);
        for (size_t i = 0; i < env.n_errors && i < 8; i++) {
            char msg[128];
            mkto_error_classify(env.errors[i].code);
            mkto_status_message(env.errors[i].code, env.errors[i].message, msg, sizeof msg);
        }
        mkto_envelope_clear(&env);
    }
    mkto_token tok;
    if (mkto_token_parse(body, size, &tok, &err) == 0)
        mkto_token_clear(&tok);
    char *text = strndup(body, size);
    if (text) {
        int64_t ms;
        mkto_parse_datetime(text, &ms, &err);
        free(text);
    }
    return 0;
}
