/*
 * Reader of Marketo bulk extract files (see mkto_csv.h): an RFC 4180 row
 * reader over one buffer, and the mapping of a program member export to the
 * ProgramMember pages StreamProgramMembers sends.
 */
#include "mkto_csv.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mkto_json.h"

void mkto_csv_init(mkto_csv *r, const char *data, size_t len, char sep)
{
    memset(r, 0, sizeof *r);
    r->p = data;
    r->end = data + len;
    r->sep = sep;
    r->line = 1;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        r->p += 3;
}

void mkto_csv_free(mkto_csv *r)
{
    free(r->buf);
    free(r->offs);
    free(r->fields);
    memset(r, 0, sizeof *r);
}

static void put(mkto_csv *r, char c)
{
    if (r->buf_len == r->buf_cap) {
        size_t cap = r->buf_cap ? r->buf_cap * 2 : 256;
        char *nb = realloc(r->buf, cap);
        if (!nb) {
            r->oom = 1;
            return;
        }
        r->buf = nb;
        r->buf_cap = cap;
    }
    r->buf[r->buf_len++] = c;
}

static void start_field(mkto_csv *r)
{
    if (r->n == r->offs_cap) {
        size_t cap = r->offs_cap ? r->offs_cap * 2 : 16;
        size_t *no = realloc(r->offs, cap * sizeof *no);
        if (!no) {
            r->oom = 1;
            return;
        }
        r->offs = no;
        r->offs_cap = cap;
    }
    r->offs[r->n++] = r->buf_len;
}

/* At a line break (LF or CRLF) at p? Its length, else 0. */
static size_t line_break(const mkto_csv *r, const char *p)
{
    if (p < r->end && *p == '\n')
        return 1;
    if (p + 1 < r->end && p[0] == '\r' && p[1] == '\n')
        return 2;
    return 0;
}

int mkto_csv_row(mkto_csv *r, mkto_err *err)
{
    size_t lb;
    while ((lb = line_break(r, r->p)) > 0) {
        r->p += lb;
        r->line++;
    }
    r->n = 0;
    r->buf_len = 0;
    if (r->p >= r->end)
        return 0;
    r->row_line = r->line;
    for (;;) {
        start_field(r);
        if (r->p < r->end && *r->p == '"') {
            size_t open_line = r->line;
            r->p++;
            for (;;) {
                if (r->p >= r->end)
                    return mkto_err_set(err, "line %zu: quoted field never closed", open_line);
                char c = *r->p;
                if (c == '"') {
                    if (r->p + 1 < r->end && r->p[1] == '"') {
                        put(r, '"');
                        r->p += 2;
                        continue;
                    }
                    r->p++;
                    break;
                }
                if (c == '\n')
                    r->line++;
                put(r, c);
                r->p++;
            }
            if (r->p < r->end && *r->p != r->sep && !line_break(r, r->p))
                return mkto_err_set(err, "line %zu: text after a closing quote", r->line);
        } else {
            while (r->p < r->end && *r->p != r->sep && !line_break(r, r->p)) {
                if (*r->p == '"')
                    return mkto_err_set(err, "line %zu: a quote inside an unquoted field", r->line);
                put(r, *r->p);
                r->p++;
            }
        }
        put(r, '\0');
        if (r->oom)
            return mkto_err_set(err, "out of memory reading the export file");
        if (r->p < r->end && *r->p == r->sep) {
            r->p++;
            continue;
        }
        if ((lb = line_break(r, r->p)) > 0) {
            r->p += lb;
            r->line++;
        }
        break;
    }
    if (r->n > r->fields_cap) {
        char **nf = realloc(r->fields, r->n * sizeof *nf);
        if (!nf)
            return mkto_err_set(err, "out of memory reading the export file");
        r->fields = nf;
        r->fields_cap = r->n;
    }
    for (size_t i = 0; i < r->n; i++)
        r->fields[i] = r->buf + r->offs[i];
    return 1;
}

/* ---- program members ---- */

enum { COL_LEAD, COL_STATUS, COL_SUCCESS, COL_JOINED, COL_UPDATED, N_COLS };
static const char *const col_names[N_COLS] = {"leadId", "statusName", "reachedSuccess",
                                              "membershipDate", "updatedAt"};

static int parse_lead_id(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return v > 0 ? 0 : -1;
}

static int member_from_row(const mkto_csv *r, const long *col, Campsync__V1__ProgramMember **out,
                           mkto_err *err)
{
    Campsync__V1__ProgramMember *m = mkto_msg_new(&campsync__v1__program_member__descriptor);
    if (!m)
        return mkto_err_set(err, "out of memory");
    *out = m;
    const char *v = r->fields[col[COL_LEAD]];
    if (parse_lead_id(v, &m->lead_id) != 0)
        return mkto_err_set(err, "line %zu: leadId '%.40s' is not a positive integer", r->row_line,
                            v);
    if (col[COL_STATUS] >= 0 && r->fields[col[COL_STATUS]][0] &&
        !(m->status_name = strdup(r->fields[col[COL_STATUS]]))) {
        m->status_name = (char *)protobuf_c_empty_string;
        return mkto_err_set(err, "out of memory");
    }
    if (col[COL_SUCCESS] >= 0) {
        v = r->fields[col[COL_SUCCESS]];
        if (strcasecmp(v, "true") == 0)
            m->reached_success = 1;
        else if (*v && strcasecmp(v, "false") != 0)
            return mkto_err_set(err, "line %zu: reachedSuccess '%.40s' is not true or false",
                                r->row_line, v);
    }
    int64_t *dates[2] = {&m->membership_date_ms, &m->updated_at_ms};
    for (int k = 0; k < 2; k++) {
        long c = col[COL_JOINED + k];
        if (c < 0 || !r->fields[c][0])
            continue;
        mkto_err de = {{0}};
        if (mkto_parse_datetime(r->fields[c], dates[k], &de) != 0)
            return mkto_err_set(err, "line %zu: %s: %s", r->row_line, col_names[COL_JOINED + k],
                                de.msg);
    }
    return 0;
}

static Campsync__V1__ProgramMemberPage *page_new(size_t page_size)
{
    Campsync__V1__ProgramMemberPage *pg =
        mkto_msg_new(&campsync__v1__program_member_page__descriptor);
    if (pg && !(pg->members = calloc(page_size, sizeof *pg->members))) {
        protobuf_c_message_free_unpacked(&pg->base, NULL);
        return NULL;
    }
    return pg;
}

int mkto_members_csv(const char *data, size_t len, char sep, size_t page_size,
                     int (*page_fn)(void *ud, Campsync__V1__ProgramMemberPage *page), void *ud,
                     size_t *n_rows, mkto_err *err)
{
    if (n_rows)
        *n_rows = 0;
    if (page_size == 0)
        return mkto_err_set(err, "page size must be at least 1");
    mkto_csv r;
    mkto_csv_init(&r, data, len, sep);
    int rc = mkto_csv_row(&r, err);
    if (rc <= 0) {
        mkto_csv_free(&r);
        return rc < 0 ? -1 : mkto_err_set(err, "the export file is empty (no header row)");
    }
    long col[N_COLS];
    size_t width = r.n;
    for (int k = 0; k < N_COLS; k++) {
        col[k] = -1;
        for (size_t i = 0; i < r.n && col[k] < 0; i++)
            if (strcmp(r.fields[i], col_names[k]) == 0)
                col[k] = (long)i;
    }
    if (col[COL_LEAD] < 0) {
        mkto_csv_free(&r);
        return mkto_err_set(err, "the export file's header has no leadId column");
    }
    Campsync__V1__ProgramMemberPage *pg = NULL;
    size_t rows = 0;
    rc = 0;
    while (rc == 0) {
        int got = mkto_csv_row(&r, err);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got == 0)
            break;
        if (r.n != width) {
            rc = mkto_err_set(err, "line %zu: %zu fields where the header has %zu", r.row_line, r.n,
                              width);
            break;
        }
        if (!pg && !(pg = page_new(page_size))) {
            rc = mkto_err_set(err, "out of memory");
            break;
        }
        Campsync__V1__ProgramMember *m = NULL;
        if (member_from_row(&r, col, &m, err) != 0) {
            if (m)
                protobuf_c_message_free_unpacked(&m->base, NULL);
            rc = -1;
            break;
        }
        pg->members[pg->n_members++] = m;
        rows++;
        if (pg->n_members == page_size) {
            Campsync__V1__ProgramMemberPage *full = pg;
            pg = NULL;
            rc = page_fn(ud, full);
        }
    }
    if (rc == 0 && pg && pg->n_members > 0) {
        Campsync__V1__ProgramMemberPage *last = pg;
        pg = NULL;
        rc = page_fn(ud, last);
    }
    if (pg)
        protobuf_c_message_free_unpacked(&pg->base, NULL);
    mkto_csv_free(&r);
    if (n_rows)
        *n_rows = rows;
    return rc;
}
