/*
 * A small, independent SOQL tokenizer for tests and the SOQL fuzzer: it
 * reads a query the way Salesforce's lexer would (identifiers, quoted
 * strings with backslash escapes, bare literals such as numbers and dates,
 * punctuation), so a test can check the token SEQUENCE of a built query and
 * prove a hostile value stayed one string literal. It shares no code with
 * the builder on purpose. Header-only (static functions) so each test or
 * fuzz target can include it without another library.
 */
#ifndef CAMPSYNC_TEST_SOQL_LEX_H
#define CAMPSYNC_TEST_SOQL_LEX_H

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef enum { LEX_IDENT, LEX_STRING, LEX_LITERAL, LEX_PUNCT } lex_kind;

typedef struct lex_token {
    lex_kind kind;
    char *text; /* identifier / literal / punctuation as written; strings decoded */
    char *raw;  /* strings: the text between the quotes, escapes kept */
} lex_token;

typedef struct lex_tokens {
    lex_token *v;
    size_t n;
} lex_tokens;

static void lex_free(lex_tokens *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].text);
        free(t->v[i].raw);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

static void lex_push(lex_tokens *t, lex_kind k, const char *s, size_t n, char *raw)
{
    t->v = realloc(t->v, (t->n + 1) * sizeof *t->v);
    t->v[t->n].kind = k;
    t->v[t->n].text = strndup(s, n);
    t->v[t->n].raw = raw;
    t->n++;
}

/* Tokenizes q; returns 0, or -1 on a lexical error (bad escape, open string, stray byte). */
static int lex_soql(const char *q, lex_tokens *out)
{
    out->v = NULL;
    out->n = 0;
    const char *p = q;
    while (*p) {
        if (*p == ' ') {
            p++;
        } else if (isalpha((unsigned char)*p)) {
            const char *s = p;
            while (isalnum((unsigned char)*p) || *p == '_' || *p == '.')
                p++;
            lex_push(out, LEX_IDENT, s, (size_t)(p - s), NULL);
        } else if (isdigit((unsigned char)*p) || *p == '-') {
            const char *s = p++;
            while (isalnum((unsigned char)*p) || *p == ':' || *p == '-' || *p == '+' || *p == '.')
                p++;
            lex_push(out, LEX_LITERAL, s, (size_t)(p - s), NULL);
        } else if (*p == '\'') {
            const char *s = ++p;
            char *dec = malloc(strlen(p) + 1);
            size_t j = 0;
            for (;;) {
                if (*p == '\0' || *p == '\n' || *p == '\r') {
                    free(dec);
                    lex_free(out);
                    return -1;
                }
                if (*p == '\'')
                    break;
                if (*p == '\\') {
                    p++;
                    const char *from = "nNrtbf\"'\\%_", *to = "\n\n\r\t\b\f\"'\\%_";
                    const char *hit = *p ? strchr(from, *p) : NULL;
                    if (!hit) {
                        free(dec);
                        lex_free(out);
                        return -1;
                    }
                    dec[j++] = to[hit - from];
                    p++;
                    continue;
                }
                dec[j++] = *p++;
            }
            char *raw = strndup(s, (size_t)(p - s));
            lex_push(out, LEX_STRING, dec, j, raw);
            free(dec);
            p++;
        } else if (strchr("(),", *p)) {
            lex_push(out, LEX_PUNCT, p, 1, NULL);
            p++;
        } else if (*p == '!' && p[1] == '=') {
            lex_push(out, LEX_PUNCT, p, 2, NULL);
            p += 2;
        } else if (*p == '<' || *p == '>' || *p == '=') {
            size_t n = (p[0] != '=' && p[1] == '=') ? 2 : 1;
            lex_push(out, LEX_PUNCT, p, n, NULL);
            p += n;
        } else {
            lex_free(out);
            return -1;
        }
    }
    return 0;
}

#endif
