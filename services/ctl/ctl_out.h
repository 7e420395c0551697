/*
 * campsyncctl output: aligned tables for people, one JSON document per line
 * for scripts (--json), and the generic protobuf -> JSON conversion that
 * lets every command print any answer as JSON without per-message code.
 */
#ifndef CTL_OUT_H
#define CTL_OUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* A message as JSON (field names as in the .proto; enums by name; int64 as
 * numbers). Caller decrefs. */
json_t *ctl_pb_to_json(const ProtobufCMessage *m);

/* Prints j on one line and decrefs it. */
void ctl_print_json(json_t *j);

/* A table built row by row, printed with columns aligned. Cells are copied. */
typedef struct ctl_table ctl_table;
ctl_table *ctl_table_new(const char *const *headers, size_t ncols);
/* Appends a row of ncols printf-formatted cells: pass ncols strings. */
void ctl_table_row(ctl_table *t, ...);
/* Prints (headers, a rule, the rows) to stdout and frees the table. */
void ctl_table_print(ctl_table *t);

/* "2026-11-23 13:04:05Z" for epoch ms (0 -> "-"); buf >= 24 bytes. */
const char *ctl_time(int64_t ms, char *buf, size_t n);
/* "1,234.56" for minor units; buf >= 32 bytes. */
const char *ctl_money(int64_t minor, char *buf, size_t n);

#endif
