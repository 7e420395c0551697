/*
 * The Salesforce simulator's SOQL: the parser (tree shape, every operator,
 * literal forms and escapes, AND/OR needing parentheses, errors worded and
 * positioned as Salesforce does) and the evaluator through sfs_query_run on a
 * small org (operator semantics, nulls, case-insensitive text, Ids in 15 and
 * 18 characters, relationship paths, ORDER BY with NULLS FIRST/LAST, LIMIT,
 * OFFSET, COUNT(), type checks and name errors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_query.h"
#include "sf_store.h"
#include "soql.h"

/* ---- parser ---- */

static sfq_query *parse_ok(const char *q)
{
    sfq_query *out = NULL;
    sfq_error err;
    int rc = sfq_parse(q, &out, &err);
    if (rc != 0)
        fail_msg("parse of <%s> failed: %s %s", q, err.code, err.message);
    return out;
}

static void parse_err(const char *q, const char *code, const char *msg_part)
{
    sfq_query *out = NULL;
    sfq_error err;
    assert_int_equal(sfq_parse(q, &out, &err), -1);
    assert_null(out);
    assert_string_equal(err.code, code);
    if (!strstr(err.message, msg_part))
        fail_msg("error for <%s> is <%s>, wanted it to contain <%s>", q, err.message, msg_part);
}

static void test_parse_shape(void **s)
{
    (void)s;
    sfq_query *q = parse_ok("select Id, Lead.Email, contact.AccountId FROM CampaignMember "
                            "WHERE CampaignId = '701000000000001' ORDER BY Id DESC NULLS FIRST, "
                            "Status LIMIT 10 OFFSET 20");
    assert_int_equal(q->n_fields, 3);
    assert_int_equal(q->fields[1].n_parts, 2);
    assert_string_equal(q->fields[1].parts[0], "Lead");
    assert_string_equal(q->fields[1].parts[1], "Email");
    assert_string_equal(q->object, "CampaignMember");
    assert_non_null(q->where);
    assert_int_equal(q->where->kind, SFQ_CMP);
    assert_int_equal(q->where->op, SFQ_EQ);
    assert_int_equal(q->n_order, 2);
    assert_true(q->order[0].desc);
    assert_false(q->order[0].nulls_last);
    assert_false(q->order[1].desc);
    assert_false(q->order[1].nulls_last);
    assert_int_equal(q->limit, 10);
    assert_int_equal(q->offset, 20);
    sfq_free(q);

    q = parse_ok("SELECT COUNT() FROM Lead");
    assert_true(q->count_only);
    assert_int_equal(q->n_fields, 0);
    assert_int_equal(q->limit, -1);
    assert_int_equal(q->offset, -1);
    assert_null(q->where);
    sfq_free(q);

    /* "Count" is also an ordinary field name when no parentheses follow. */
    q = parse_ok("SELECT Count FROM Foo__c");
    assert_false(q->count_only);
    assert_string_equal(q->fields[0].parts[0], "Count");
    sfq_free(q);

    /* Order and Group are object names too. */
    q = parse_ok("SELECT Id FROM Order ORDER BY Id");
    assert_string_equal(q->object, "Order");
    assert_int_equal(q->n_order, 1);
    sfq_free(q);

    /* DESC defaults to NULLS LAST. */
    q = parse_ok("SELECT Id FROM Lead ORDER BY Email DESC");
    assert_true(q->order[0].nulls_last);
    sfq_free(q);
}

static void test_parse_operators(void **s)
{
    (void)s;
    static const struct {
        const char *text;
        sfq_op op;
    } ops[] = {{"=", SFQ_EQ}, {"!=", SFQ_NE}, {"<>", SFQ_NE},     {"<", SFQ_LT},     {"<=", SFQ_LE},
               {">", SFQ_GT}, {">=", SFQ_GE}, {"LIKE", SFQ_LIKE}, {"like", SFQ_LIKE}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char q[128];
        snprintf(q, sizeof q, "SELECT Id FROM Lead WHERE Email %s 'a'", ops[i].text);
        sfq_query *p = parse_ok(q);
        assert_int_equal(p->where->op, ops[i].op);
        assert_int_equal(p->where->n_values, 1);
        sfq_free(p);
    }
    sfq_query *p = parse_ok("SELECT Id FROM Lead WHERE Email IN ('a','b', 'c')");
    assert_int_equal(p->where->op, SFQ_IN);
    assert_int_equal(p->where->n_values, 3);
    assert_string_equal(p->where->values[2].text, "c");
    sfq_free(p);
    p = parse_ok("SELECT Id FROM Lead WHERE Email NOT IN ('a')");
    assert_int_equal(p->where->op, SFQ_NOT_IN);
    sfq_free(p);
}

static void test_parse_literals(void **s)
{
    (void)s;
    sfq_query *p = parse_ok("SELECT Id FROM Lead WHERE A = 'it\\'s \\\\ \\n\\t\\\"x\\%\\_' AND "
                            "B = -12.5 AND C = TRUE AND D = false AND E = NULL AND F = 2026-01-31 "
                            "AND G = 2026-01-31T12:00:00Z AND H = 2026-01-31T12:00:00.250+01:00 "
                            "AND I = 2026-01-31T12:00:00+0000 AND J = +7");
    sfq_expr *w = p->where;
    assert_int_equal(w->kind, SFQ_AND);
    assert_int_equal(w->n_kids, 10);
    sfq_literal *l = &w->kids[0]->values[0];
    assert_int_equal(l->kind, SFQ_LIT_STRING);
    /* \% and \_ stay escaped for LIKE; the others are decoded. */
    assert_string_equal(l->text, "it's \\ \n\t\"x\\%\\_");
    l = &w->kids[1]->values[0];
    assert_int_equal(l->kind, SFQ_LIT_NUMBER);
    assert_true(l->number == -12.5);
    assert_int_equal(w->kids[2]->values[0].kind, SFQ_LIT_BOOL);
    assert_int_equal(w->kids[2]->values[0].boolean, 1);
    assert_int_equal(w->kids[3]->values[0].boolean, 0);
    assert_int_equal(w->kids[4]->values[0].kind, SFQ_LIT_NULL);
    l = &w->kids[5]->values[0];
    assert_int_equal(l->kind, SFQ_LIT_DATE);
    assert_string_equal(l->text, "2026-01-31");
    l = &w->kids[6]->values[0];
    assert_int_equal(l->kind, SFQ_LIT_DATETIME);
    assert_string_equal(l->text, "2026-01-31T12:00:00.000+0000");
    l = &w->kids[7]->values[0];
    assert_string_equal(l->text, "2026-01-31T11:00:00.250+0000");
    assert_string_equal(w->kids[8]->values[0].text, "2026-01-31T12:00:00.000+0000");
    assert_true(w->kids[9]->values[0].number == 7);
    sfq_free(p);
}

static void test_parse_relative_dates(void **s)
{
    (void)s;
    sfq_query *p = parse_ok("SELECT Id FROM Lead WHERE CreatedDate = TODAY OR CreatedDate > "
                            "last_n_days:30 OR CreatedDate < N_DAYS_AGO:2 OR CreatedDate = "
                            "NEXT_N_DAYS : 7 OR CreatedDate = YESTERDAY");
    sfq_expr *w = p->where;
    assert_int_equal(w->n_kids, 5);
    sfq_literal *l = &w->kids[0]->values[0];
    assert_int_equal(l->kind, SFQ_LIT_DATE_RANGE);
    assert_int_equal(l->days_from, 0);
    assert_int_equal(l->days_to, 1);
    l = &w->kids[1]->values[0];
    assert_string_equal(l->text, "last_n_days:30");
    assert_int_equal(l->days_from, -30);
    assert_int_equal(l->days_to, 1);
    l = &w->kids[2]->values[0];
    assert_int_equal(l->days_from, -2);
    assert_int_equal(l->days_to, -1);
    l = &w->kids[3]->values[0];
    assert_int_equal(l->days_from, 1);
    assert_int_equal(l->days_to, 8);
    l = &w->kids[4]->values[0];
    assert_int_equal(l->days_from, -1);
    assert_int_equal(l->days_to, 0);
    sfq_free(p);
    parse_err("SELECT Id FROM Lead WHERE CreatedDate > LAST_N_DAYS", "MALFORMED_QUERY",
              "unexpected token: '<EOF>'");
    parse_err("SELECT Id FROM Lead WHERE CreatedDate > LAST_N_DAYS:-1", "MALFORMED_QUERY",
              "unexpected token: '-1'");
    parse_err("SELECT Id FROM Lead WHERE CreatedDate > LAST_WEEKDAY", "MALFORMED_QUERY",
              "unexpected token: 'LAST_WEEKDAY'");
}

static void test_parse_precedence(void **s)
{
    (void)s;
    /* NOT binds to the comparison after it. */
    sfq_query *p = parse_ok("SELECT Id FROM Lead WHERE NOT A = 'x' AND B = 'y'");
    assert_int_equal(p->where->kind, SFQ_AND);
    assert_int_equal(p->where->kids[0]->kind, SFQ_NOT);
    sfq_free(p);
    p = parse_ok("SELECT Id FROM Lead WHERE (A = 'x' OR B = 'y') AND NOT (C = 'z' OR D = 'w')");
    assert_int_equal(p->where->kind, SFQ_AND);
    assert_int_equal(p->where->kids[0]->kind, SFQ_OR);
    assert_int_equal(p->where->kids[1]->kind, SFQ_NOT);
    assert_int_equal(p->where->kids[1]->kids[0]->kind, SFQ_OR);
    sfq_free(p);
    /* SOQL has no precedence between AND and OR: mixing needs parentheses. */
    parse_err("SELECT Id FROM Lead WHERE A = 'x' AND B = 'y' OR C = 'z'", "MALFORMED_QUERY",
              "unexpected token: 'OR'");
    parse_err("SELECT Id FROM Lead WHERE A = 'x' OR B = 'y' AND C = 'z'", "MALFORMED_QUERY",
              "unexpected token: 'AND'");
}

static void test_parse_errors(void **s)
{
    (void)s;
    sfq_query *out = NULL;
    sfq_error err;
    assert_int_equal(sfq_parse("SELECT FROM Lead", &out, &err), -1);
    assert_string_equal(err.code, "MALFORMED_QUERY");
    assert_string_equal(err.message, "\nSELECT FROM Lead\n       ^\nERROR at Row:1:Column:8\n"
                                     "unexpected token: 'FROM'");
    parse_err("SELECT Id FROM", "MALFORMED_QUERY", "unexpected token: '<EOF>'");
    parse_err("SELECT Id FROM Lead\nWHERE Email = ", "MALFORMED_QUERY",
              "ERROR at Row:2:Column:15\nunexpected token: '<EOF>'");
    parse_err("", "MALFORMED_QUERY", "SOQL statements cannot be empty or null");
    parse_err("   ", "MALFORMED_QUERY", "SOQL statements cannot be empty or null");
    parse_err("SELECT Id FROM Lead WHERE Email = 'abc", "MALFORMED_QUERY", "unexpected token");
    parse_err("SELECT Id FROM Lead WHERE Email = 'a\\qb'", "MALFORMED_QUERY",
              "Illegal character sequence '\\q' in string literal.");
    parse_err("SELECT Id FROM Lead OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE",
              "Maximum SOQL offset allowed is 2000");
    parse_err("SELECT Id FROM Lead LIMIT -1", "MALFORMED_QUERY", "unexpected token: '-1'");
    parse_err("SELECT Id FROM Lead WHERE Email IN ()", "MALFORMED_QUERY", "unexpected token: ')'");
    parse_err("SELECT Id FROM Lead WHERE Email = :x", "MALFORMED_QUERY", "unexpected token: ':'");
    parse_err("SELECT Id FROM Lead WHERE CreatedDate > 2026-13-01", "MALFORMED_QUERY",
              "unexpected token: '2026-13-01'");
    parse_err("SELECT Id, FROM Lead", "MALFORMED_QUERY", "unexpected token: 'FROM'");
    parse_err("SELECT Id FROM Lead Lead2", "MALFORMED_QUERY", "unexpected token: 'Lead2'");
    parse_err("SELECT Id FROM Lead WHERE Email NOT LIKE 'x'", "MALFORMED_QUERY",
              "unexpected token: 'LIKE'");
    /* Deep nesting is refused, not recursed into. */
    char deep[2000] = "SELECT Id FROM Lead WHERE ";
    for (int i = 0; i < 300; i++)
        strcat(deep, "(");
    parse_err(deep, "MALFORMED_QUERY", "nesting is too deep");
}

static void test_like(void **s)
{
    (void)s;
    assert_true(sfq_like("a%", 2, "abc", 3));
    assert_true(sfq_like("%C", 2, "abc", 3));
    assert_true(sfq_like("a_c", 3, "ABC", 3));
    assert_false(sfq_like("a_c", 3, "abbc", 4));
    assert_true(sfq_like("%b%", 3, "abc", 3));
    assert_true(sfq_like("%", 1, "", 0));
    assert_false(sfq_like("_", 1, "", 0));
    assert_true(sfq_like("50\\%", 4, "50%", 3));
    assert_false(sfq_like("50\\%", 4, "500", 3));
    assert_true(sfq_like("a\\_b", 4, "a_b", 3));
    assert_false(sfq_like("a\\_b", 4, "axb", 3));
    assert_true(sfq_like("%@example.com", 13, "jo@EXAMPLE.com", 14));
}

/* ---- evaluator ---- */

static const char *org_json =
    "{\"client_id\":\"cid\",\"client_secret\":\"sec\",\"integration_user\":\"005000000000001\","
    "\"custom_fields\":{\"CampaignMember\":[\"Buyer_Touchpoint_Date__c\"],"
    "\"Campaign\":[\"Enable_Buyer_Touchpoints__c\"]},"
    "\"records\":{"
    "\"User\":[{\"Id\":\"005000000000001\",\"Username\":\"api@x.com\",\"LastName\":\"Api\","
    "\"UserPermissionsMarketingUser\":true}],"
    "\"Account\":[{\"Id\":\"001000000000001\",\"Name\":\"Acme\"}],"
    "\"Contact\":[{\"Id\":\"003000000000001\",\"LastName\":\"Cee\",\"Email\":\"c@acme.com\","
    "\"AccountId\":\"001000000000001\"}],"
    "\"Lead\":["
    "{\"Id\":\"00Q000000000001\",\"LastName\":\"One\",\"Company\":\"A\",\"Email\":\"One@X.com\","
    "\"CreatedDate\":\"2026-01-10T08:00:00Z\"},"
    "{\"Id\":\"00Q000000000002\",\"LastName\":\"Two\",\"Company\":\"B\",\"Email\":null,"
    "\"CreatedDate\":\"2026-01-20T08:00:00.000+0000\"},"
    "{\"Id\":\"00Q000000000003\",\"LastName\":\"O'Brien\",\"Company\":\"C\","
    "\"Email\":\"ob@y.com\",\"CreatedDate\":\"2026-01-31T00:00:00Z\"}],"
    "\"Campaign\":[{\"Id\":\"701000000000001\",\"Name\":\"Webinar\",\"ActualCost\":1500.5,"
    "\"StartDate\":\"2026-01-15\",\"Enable_Buyer_Touchpoints__c\":\"Include All Campaign "
    "Members\"}],"
    "\"CampaignMember\":["
    "{\"Id\":\"00v000000000001\",\"CampaignId\":\"701000000000001\","
    "\"LeadId\":\"00Q000000000001\",\"Status\":\"Responded\"},"
    "{\"Id\":\"00v000000000002\",\"CampaignId\":\"701000000000001\","
    "\"LeadId\":\"00Q000000000002\",\"Status\":\"Sent\",\"Buyer_Touchpoint_Date__c\":\"2026-02-"
    "01\"},"
    "{\"Id\":\"00v000000000003\",\"CampaignId\":\"701000000000001\","
    "\"ContactId\":\"003000000000001\",\"Status\":\"Sent\",\"IsDeleted\":true}]}}";

static int setup_org(void **state)
{
    json_error_t jerr;
    json_t *j = json_loads(org_json, 0, &jerr);
    if (!j)
        fail_msg("test dataset: %s", jerr.text);
    char err[256] = "";
    sfs_state *st = sfs_store_create(j, 1, err, sizeof err);
    json_decref(j);
    if (!st)
        fail_msg("store: %s", err);
    *state = st;
    return 0;
}

static int teardown_org(void **state)
{
    sfs_query_close_all(*state);
    sfs_store_destroy(*state);
    return 0;
}

static json_t *run(sfs_state *st, const char *q, int all, int want_status)
{
    char *text = NULL;
    int status = sfs_query_run(st, q, all, "v60.0", 2000, "005000000000001AAA", 1000, &text);
    if (status != want_status)
        fail_msg("query <%s>: status %d (wanted %d): %s", q, status, want_status, text);
    json_error_t jerr;
    json_t *body = json_loads(text, 0, &jerr);
    if (!body)
        fail_msg("query <%s> answered invalid JSON (%s): %s", q, jerr.text, text);
    free(text);
    return body;
}

static int count(sfs_state *st, const char *q)
{
    json_t *b = run(st, q, 0, 200);
    int n = (int)json_integer_value(json_object_get(b, "totalSize"));
    assert_int_equal(json_array_size(json_object_get(b, "records")), n);
    json_decref(b);
    return n;
}

static void expect_error(sfs_state *st, const char *q, const char *code, const char *message)
{
    json_t *b = run(st, q, 0, 400);
    json_t *e = json_array_get(b, 0);
    assert_string_equal(json_string_value(json_object_get(e, "errorCode")), code);
    const char *m = json_string_value(json_object_get(e, "message"));
    if (!strstr(m, message))
        fail_msg("message <%s> lacks <%s>", m, message);
    json_decref(b);
}

static void test_eval_operators(void **state)
{
    sfs_state *st = *state;
    assert_int_equal(count(st, "SELECT Id FROM Lead"), 3);
    /* Text equality is case-insensitive. */
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE Email = 'one@x.com'"), 1);
    /* != and NOT IN include rows whose value is null. */
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE Email != 'one@x.com'"), 2);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE Email <> 'one@x.com'"), 2);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE Email NOT IN ('one@x.com')"), 2);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE Email IN ('ONE@x.com','ob@y.com')"), 2);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE Email = null"), 1);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE Email != null"), 2);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE Email LIKE '%@x.COM'"), 1);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE LastName = 'O\\'Brien'"), 1);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE LastName < 'p'"), 2);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE LastName <= 'One'"), 2);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE LastName > 'One'"), 1);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE LastName >= 'One'"), 2);
    /* Datetimes compare in time, whatever the literal's zone. */
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE CreatedDate > 2026-01-20T08:00:00Z"), 1);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE CreatedDate >= "
                               "2026-01-20T09:00:00+01:00"),
                     2);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE CreatedDate < 2026-01-20T08:00:00.001Z"),
                     2);
    assert_int_equal(count(st, "SELECT Id FROM Campaign WHERE StartDate = 2026-01-15"), 1);
    assert_int_equal(count(st, "SELECT Id FROM Campaign WHERE ActualCost > 1500"), 1);
    assert_int_equal(count(st, "SELECT Id FROM Campaign WHERE ActualCost < 1500.5"), 0);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE IsConverted = false"), 3);
    /* Untyped custom fields compare with the literal's type. */
    assert_int_equal(count(st, "SELECT Id FROM CampaignMember WHERE Buyer_Touchpoint_Date__c "
                               "> 2026-01-31"),
                     1);
    assert_int_equal(
        count(st, "SELECT Id FROM Campaign WHERE Enable_Buyer_Touchpoints__c LIKE 'Include%'"), 1);
}

static int count_at(sfs_state *st, const char *q, int64_t now_ms)
{
    char *text = NULL;
    int status = sfs_query_run(st, q, 0, "v60.0", 2000, "005000000000001AAA", now_ms, &text);
    if (status != 200)
        fail_msg("query <%s>: %d %s", q, status, text);
    json_t *b = json_loads(text, 0, NULL);
    free(text);
    int n = (int)json_integer_value(json_object_get(b, "totalSize"));
    json_decref(b);
    return n;
}

static void test_eval_relative_dates(void **state)
{
    sfs_state *st = *state;
    /* The sandbox clock: 2026-01-31T12:00:00Z. Leads were created on Jan 10,
     * Jan 20 08:00 and Jan 31 00:00; the campaign starts on Jan 15. */
    int64_t now = 1769860800000LL;
    assert_int_equal(count_at(st, "SELECT Id FROM Lead WHERE CreatedDate = TODAY", now), 1);
    assert_int_equal(count_at(st, "SELECT Id FROM Lead WHERE CreatedDate = YESTERDAY", now), 0);
    assert_int_equal(count_at(st, "SELECT Id FROM Lead WHERE CreatedDate = LAST_N_DAYS:11", now),
                     2);
    assert_int_equal(count_at(st, "SELECT Id FROM Lead WHERE CreatedDate < LAST_N_DAYS:11", now),
                     1);
    assert_int_equal(count_at(st, "SELECT Id FROM Lead WHERE CreatedDate = N_DAYS_AGO:11", now), 1);
    assert_int_equal(count_at(st, "SELECT Id FROM Lead WHERE CreatedDate > YESTERDAY", now), 1);
    assert_int_equal(count_at(st, "SELECT Id FROM Lead WHERE CreatedDate >= YESTERDAY", now), 1);
    assert_int_equal(count_at(st, "SELECT Id FROM Lead WHERE CreatedDate <= YESTERDAY", now), 2);
    assert_int_equal(count_at(st, "SELECT Id FROM Lead WHERE CreatedDate != TODAY", now), 2);
    assert_int_equal(count_at(st, "SELECT Id FROM Campaign WHERE StartDate = N_DAYS_AGO:16", now),
                     1);
    assert_int_equal(count_at(st, "SELECT Id FROM Lead WHERE CreatedDate = NEXT_N_DAYS:3", now), 0);
    /* A day later, "today" has moved on. */
    assert_int_equal(
        count_at(st, "SELECT Id FROM Lead WHERE CreatedDate = YESTERDAY", now + 86400000LL), 1);
    /* Relative dates are for date and datetime fields only. */
    char *text = NULL;
    assert_int_equal(sfs_query_run(st, "SELECT Id FROM Lead WHERE Email = TODAY", 0, "v60.0", 2000,
                                   "005000000000001AAA", now, &text),
                     400);
    assert_non_null(strstr(text, "INVALID_QUERY_FILTER_OPERATOR"));
    free(text);
}

static void test_eval_logic_and_ids(void **state)
{
    sfs_state *st = *state;
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE NOT Email = null"), 2);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE (Email = null OR LastName = 'One') "
                               "AND Company != 'B'"),
                     1);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE NOT (Email = null OR LastName = "
                               "'One')"),
                     1);
    /* Ids match in their 15- and 18-character forms. */
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE Id = '00Q000000000001'"), 1);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE Id = '00Q000000000001EAA'"), 1);
    /* The suffix restores the casing of an 18-character Id. */
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE Id = '00q000000000001eaa'"), 1);
    /* A suffix that doesn't match the casing names another record. */
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE Id = '00Q000000000001AAA'"), 0);
    assert_int_equal(count(st, "SELECT Id FROM Lead WHERE Id IN ('00Q000000000001', "
                               "'00Q000000000003EAA', '00Q000000000001')"),
                     2);
    /* Plain query hides deleted rows; queryAll shows them. */
    assert_int_equal(count(st, "SELECT Id FROM CampaignMember WHERE CampaignId = "
                               "'701000000000001'"),
                     2);
    json_t *b = run(st,
                    "SELECT Id, IsDeleted FROM CampaignMember WHERE CampaignId = "
                    "'701000000000001' AND IsDeleted = true",
                    1, 200);
    assert_int_equal(json_integer_value(json_object_get(b, "totalSize")), 1);
    json_t *r = json_array_get(json_object_get(b, "records"), 0);
    assert_true(json_is_true(json_object_get(r, "IsDeleted")));
    json_decref(b);
    /* Type and LeadOrContactId follow the member's person. */
    assert_int_equal(count(st, "SELECT Id FROM CampaignMember WHERE Type = 'Lead' AND "
                               "LeadOrContactId = '00Q000000000002'"),
                     1);
    /* A reference naming a record of another object than the relationship's
     * (LeadOrContactId holding a Contact) reads as null. */
    b = run(st,
            "SELECT LeadOrContact.LastName FROM CampaignMember WHERE Type = 'Contact' ORDER BY "
            "LeadOrContact.Company",
            1, 200);
    r = json_array_get(json_object_get(b, "records"), 0);
    assert_non_null(r);
    assert_true(json_is_null(json_object_get(r, "LeadOrContact")));
    json_decref(b);
    assert_int_equal(
        count(st, "SELECT Id FROM CampaignMember WHERE LeadOrContact.LastName = 'One'"), 1);
    /* Relationship fields in WHERE. */
    assert_int_equal(count(st, "SELECT Id FROM CampaignMember WHERE Lead.Email = 'one@x.com'"), 1);
    assert_int_equal(count(st, "SELECT Id FROM CampaignMember WHERE Lead.Company IN ('A','B')"), 2);
}

static void test_eval_projection(void **state)
{
    sfs_state *st = *state;
    json_t *b = run(st,
                    "SELECT id, status, lead.email, Lead.LastName, Contact.Email, "
                    "Contact.AccountId, HasResponded, FirstRespondedDate FROM campaignmember "
                    "WHERE Id = '00v000000000001'",
                    0, 200);
    assert_true(json_is_true(json_object_get(b, "done")));
    assert_null(json_object_get(b, "nextRecordsUrl"));
    json_t *r = json_array_get(json_object_get(b, "records"), 0);
    json_t *attr = json_object_get(r, "attributes");
    assert_string_equal(json_string_value(json_object_get(attr, "type")), "CampaignMember");
    assert_string_equal(json_string_value(json_object_get(attr, "url")),
                        "/services/data/v60.0/sobjects/CampaignMember/00v000000000001AAA");
    /* Field names come back in their canonical casing. */
    assert_string_equal(json_string_value(json_object_get(r, "Id")), "00v000000000001AAA");
    assert_string_equal(json_string_value(json_object_get(r, "Status")), "Responded");
    json_t *lead = json_object_get(r, "Lead");
    assert_string_equal(json_string_value(json_object_get(lead, "Email")), "One@X.com");
    assert_string_equal(json_string_value(json_object_get(lead, "LastName")), "One");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(lead, "attributes"), "type")), "Lead");
    /* No contact: the relationship is null. */
    assert_true(json_is_null(json_object_get(r, "Contact")));
    assert_true(json_is_true(json_object_get(r, "HasResponded")));
    assert_true(json_is_string(json_object_get(r, "FirstRespondedDate")));
    /* Keys keep the SELECT order, after attributes. */
    const char *first = NULL, *second = NULL;
    int i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v)
    {
        if (i == 0)
            first = k;
        if (i == 1)
            second = k;
        i++;
    }
    assert_string_equal(first, "attributes");
    assert_string_equal(second, "Id");
    json_decref(b);

    /* Numbers as Salesforce writes them; text escaped as JSON. */
    char *text = NULL;
    assert_int_equal(sfs_query_run(st, "SELECT ActualCost, Name FROM Campaign", 0, "v60.0", 2000,
                                   "005000000000001AAA", 1000, &text),
                     200);
    assert_non_null(strstr(text, "\"ActualCost\":1500.5,\"Name\":\"Webinar\""));
    free(text);
    assert_int_equal(sfs_query_run(st, "SELECT LastName FROM Lead WHERE LastName LIKE 'O%'", 0,
                                   "v60.0", 2000, "005000000000001AAA", 1000, &text),
                     200);
    assert_non_null(strstr(text, "\"LastName\":\"O'Brien\""));
    free(text);

    b = run(st, "SELECT COUNT() FROM Lead WHERE Email != null", 0, 200);
    assert_int_equal(json_integer_value(json_object_get(b, "totalSize")), 2);
    assert_int_equal(json_array_size(json_object_get(b, "records")), 0);
    json_decref(b);
}

static const char *ids_of(json_t *b, char *out, size_t len)
{
    out[0] = '\0';
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(b, "records"), i, r)
    {
        const char *id = json_string_value(json_object_get(r, "Id"));
        size_t l = strlen(out);
        snprintf(out + l, len - l, "%s%c", i ? "," : "", id[14]);
    }
    return out;
}

static void test_eval_order_limit_offset(void **state)
{
    sfs_state *st = *state;
    char buf[64];
    json_t *b = run(st, "SELECT Id FROM Lead ORDER BY CreatedDate DESC", 0, 200);
    assert_string_equal(ids_of(b, buf, sizeof buf), "3,2,1");
    json_decref(b);
    /* ASC puts nulls first by default, NULLS LAST moves them. */
    b = run(st, "SELECT Id FROM Lead ORDER BY Email", 0, 200);
    assert_string_equal(ids_of(b, buf, sizeof buf), "2,3,1");
    json_decref(b);
    b = run(st, "SELECT Id FROM Lead ORDER BY Email ASC NULLS LAST", 0, 200);
    assert_string_equal(ids_of(b, buf, sizeof buf), "3,1,2");
    json_decref(b);
    b = run(st, "SELECT Id FROM Lead ORDER BY Email DESC", 0, 200);
    assert_string_equal(ids_of(b, buf, sizeof buf), "1,3,2");
    json_decref(b);
    b = run(st, "SELECT Id FROM Lead ORDER BY Id LIMIT 2 OFFSET 1", 0, 200);
    assert_string_equal(ids_of(b, buf, sizeof buf), "2,3");
    assert_int_equal(json_integer_value(json_object_get(b, "totalSize")), 2);
    json_decref(b);
    b = run(st, "SELECT Id FROM Lead ORDER BY Id LIMIT 0", 0, 200);
    assert_int_equal(json_integer_value(json_object_get(b, "totalSize")), 0);
    json_decref(b);
}

static void test_eval_errors(void **state)
{
    sfs_state *st = *state;
    expect_error(st, "SELECT Foo FROM Lead", "INVALID_FIELD",
                 "\nSELECT Foo FROM Lead\n       ^\nERROR at Row:1:Column:8\nNo such column 'Foo' "
                 "on entity 'Lead'. If you are attempting to use a custom field, be sure to append "
                 "the '__c' after the custom field name. Please reference your WSDL or the "
                 "describe call for the appropriate names.");
    expect_error(st, "SELECT Id FROM Leads", "INVALID_TYPE",
                 "sObject type 'Leads' is not supported. If you are attempting to use a custom "
                 "object, be sure to append the '__c' after the entity name.");
    expect_error(st, "SELECT Lead.Foo FROM CampaignMember", "INVALID_FIELD",
                 "No such column 'Foo' on entity 'Lead'.");
    expect_error(st, "SELECT Leed.Email FROM CampaignMember", "INVALID_FIELD",
                 "Didn't understand relationship 'Leed' in field path.");
    expect_error(st, "SELECT Id FROM Lead WHERE CreatedDate > '2026-01-01'",
                 "INVALID_QUERY_FILTER_OPERATOR",
                 "value of filter criterion for field 'CreatedDate' must be of type dateTime and "
                 "should not be enclosed in quotes");
    expect_error(st, "SELECT Id FROM Lead WHERE CreatedDate > 2026-01-01",
                 "INVALID_QUERY_FILTER_OPERATOR", "must be of type dateTime");
    expect_error(st, "SELECT Id FROM Lead WHERE Email = 5", "INVALID_QUERY_FILTER_OPERATOR",
                 "value of filter criterion for field 'Email' must be of type string and should "
                 "be enclosed in quotes");
    expect_error(st, "SELECT Id FROM Lead WHERE IsConverted = 'true'",
                 "INVALID_QUERY_FILTER_OPERATOR", "must be of type boolean");
    expect_error(st, "SELECT Id FROM Lead WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR",
                 "invalid ID field: abc");
    expect_error(st, "SELECT Id FROM Lead WHERE IsConverted LIKE 'x'",
                 "INVALID_QUERY_FILTER_OPERATOR", "invalid operator on boolean field");
    expect_error(st, "SELECT Id, id FROM Lead", "MALFORMED_QUERY", "duplicate field selected: Id");
    expect_error(st, "SELECT Id FROM Lead WHERE", "MALFORMED_QUERY", "unexpected token: '<EOF>'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_shape),
        cmocka_unit_test(test_parse_operators),
        cmocka_unit_test(test_parse_literals),
        cmocka_unit_test(test_parse_relative_dates),
        cmocka_unit_test(test_parse_precedence),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_like),
        cmocka_unit_test_setup_teardown(test_eval_operators, setup_org, teardown_org),
        cmocka_unit_test_setup_teardown(test_eval_relative_dates, setup_org, teardown_org),
        cmocka_unit_test_setup_teardown(test_eval_logic_and_ids, setup_org, teardown_org),
        cmocka_unit_test_setup_teardown(test_eval_projection, setup_org, teardown_org),
        cmocka_unit_test_setup_teardown(test_eval_order_limit_offset, setup_org, teardown_org),
        cmocka_unit_test_setup_teardown(test_eval_errors, setup_org, teardown_org),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
