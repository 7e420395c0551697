/*
 * The file of a Marketo bulk extract job, read. Bulk Program Member Extract
 * (mkto_bulk.h) answers with a delimited text file, not JSON: a header row
 * naming the columns, then one row per member, fields quoted per RFC 4180
 * when they hold the separator, a quote or a line break. The file comes from
 * outside, so this reader trusts nothing in it: every malformed row is an
 * error naming its line, never a crash or a silently shifted column. Pure
 * (no I/O), so it is unit-tested and fuzzed (tests/fuzz/fuzz_mkto_csv.c).
 */
#ifndef MKTO_CSV_H
#define MKTO_CSV_H

#include "campsync/v1/marketo.pb-c.h"
#include "mkto_errors.h"

#include <stddef.h>
#include <stdint.h>

/* A row reader over one buffer (the buffer must outlive it). */
typedef struct mkto_csv {
    const char *p, *end;
    char sep;
    size_t line;     /* line the reader is at (1-based) */
    size_t row_line; /* line where the current row starts */
    char **fields;   /* the current row: n NUL-terminated fields */
    size_t n;
    char *buf; /* storage of the current row's fields */
    size_t buf_len, buf_cap;
    size_t *offs; /* where each field starts in buf */
    size_t offs_cap, fields_cap;
    int oom;
} mkto_csv;

/* sep: ',' (CSV), '\t' (TSV) or ' ' (SSV). A UTF-8 byte order mark is skipped. */
void mkto_csv_init(mkto_csv *r, const char *data, size_t len, char sep);
void mkto_csv_free(mkto_csv *r);
/*
 * Reads the next row into r->fields / r->n. Returns 1 for a row, 0 at the
 * end of the data, -1 with err set for a malformed row (a quote inside an
 * unquoted field, text after a closing quote, an unterminated quoted field).
 * Rows end at LF or CRLF; a final line break is optional; empty lines are
 * skipped.
 */
int mkto_csv_row(mkto_csv *r, mkto_err *err);

/*
 * Reads a program member export file: the header must name leadId; the
 * columns statusName, reachedSuccess, membershipDate and updatedAt fill the
 * same ProgramMember fields as members.json does (others are ignored).
 * Members go out in pages of at most page_size (>= 1): page_fn gets each
 * page and owns it (free with protobuf_c_message_free_unpacked(.., NULL));
 * a non-zero return from page_fn stops the read and is returned as is.
 * Returns 0, -1 with err set for a bad file (a row whose field count differs
 * from the header's, a lead id that is not a positive integer, a bad boolean
 * or date), or page_fn's code. *n_rows (may be NULL) gets the members read.
 */
int mkto_members_csv(const char *data, size_t len, char sep, size_t page_size,
                     int (*page_fn)(void *ud, Campsync__V1__ProgramMemberPage *page), void *ud,
                     size_t *n_rows, mkto_err *err);

#endif
