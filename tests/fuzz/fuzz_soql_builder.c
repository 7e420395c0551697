/*
 * Fuzzes the SOQL builder with arbitrary bytes as values. Whatever the input,
 * a query that builds must tokenize (independent lexer, soql_lex.h) into
 * exactly the expected structure with the value coming back unchanged from
 * its one string literal; anything else aborts. Byte 0 picks the operator.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/soql_lex.h"
#include "soql.h"

static void check_single(const char *value, soql_op op)
{
    soql *q = soql_new("Lead");
    if (!q)
        return;
    soql_select(q, "Id");
    soql_where_string(q, "Email", op, value);
    sf_err err;
    char *text = soql_build(q, &err);
    if (text) {
        lex_tokens t;
        if (lex_soql(text, &t) != 0 || t.n != 8 || t.v[7].kind != LEX_STRING ||
            strcmp(t.v[5].text, "Email") != 0)
            abort();
        /* LIKE adds wildcards around the escaped value; plain comparison gives it back as is. */
        if (op == SOQL_EQ && strcmp(t.v[7].text, value) != 0)
            abort();
        lex_free(&t);
        /* The encoded query holds only unreserved bytes and complete %XX escapes. */
        char *enc = soql_url_encode(text);
        for (const char *p = enc; p && *p; p++) {
            if (*p == '%') {
                if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
                    abort();
                p += 2;
            } else if (!isalnum((unsigned char)*p) && !strchr("-._~", *p)) {
                abort();
            }
        }
        free(enc);
        free(text);
    }
    soql_free(q);
}

static void check_list(const char *a, const char *b)
{
    const char *vals[] = {a, b, a};
    soql *q = soql_new("Contact");
    if (!q)
        return;
    soql_select(q, "Id");
    soql_where_strings(q, "Email", SOQL_NOT_IN, vals, 3);
    soql_where_id(q, "AccountId", SOQL_EQ, b);
    sf_err err;
    char *text = soql_build(q, &err);
    if (text) {
        lex_tokens t;
        /* SELECT Id FROM Contact WHERE Email NOT IN ( s , s , s ) AND AccountId = s */
        if (lex_soql(text, &t) != 0 || t.n != 19 || strcmp(t.v[t.n - 4].text, "AND") != 0 ||
            t.v[9].kind != LEX_STRING || strcmp(t.v[9].text, a) != 0 ||
            t.v[11].kind != LEX_STRING || strcmp(t.v[11].text, b) != 0)
            abort();
        lex_free(&t);
        free(text);
    }
    size_t fit;
    soql_chunk_fit(q, "v60.0", false, "Email", false, vals, 3, 300, &fit, &err);
    soql_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    soql_op op = (soql_op)(data[0] % (SOQL_LIKE_SUFFIX + 1));
    char *value = strndup((const char *)data + 1, size - 1);
    if (!value)
        return 0;
    check_single(value, op);
    size_t half = strlen(value) / 2;
    char *b = strdup(value + half);
    value[half] = '\0';
    if (b)
        check_list(value, b);
    free(b);
    free(value);
    return 0;
}
