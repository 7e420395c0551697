/*
 * Tables and JSON for campsyncctl (see ctl_out.h).
 */
#include "ctl_out.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *scalar_to_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_integer((json_int_t) * (const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
        return v ? json_string(v->name) : json_integer(*(const int *)p);
    }
    case PROTOBUF_C_TYPE_STRING:
        return json_string(*(char *const *)p ? *(char *const *)p : "");
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        return json_stringn((const char *)b->data, b->len);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(const ProtobufCMessage *const *)p;
        return m ? ctl_pb_to_json(m) : json_null();
    }
    }
    return json_null();
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4;
    }
}

json_t *ctl_pb_to_json(const ProtobufCMessage *m)
{
    json_t *o = json_object();
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            const char *arr = *(char *const *)base;
            const ProtobufCMessageDescriptor *md = f->descriptor;
            /* Maps arrive as repeated key/value entries: show them as objects. */
            if (f->type == PROTOBUF_C_TYPE_MESSAGE && md && md->n_fields == 2 &&
                strcmp(md->fields[0].name, "key") == 0 &&
                strcmp(md->fields[1].name, "value") == 0) {
                json_t *map = json_object();
                for (size_t k = 0; k < n; k++) {
                    const ProtobufCMessage *e = ((const ProtobufCMessage *const *)arr)[k];
                    json_t *key =
                        scalar_to_json(&md->fields[0], (const char *)e + md->fields[0].offset);
                    json_t *val =
                        scalar_to_json(&md->fields[1], (const char *)e + md->fields[1].offset);
                    json_object_set_new(map, json_is_string(key) ? json_string_value(key) : "?",
                                        val);
                    json_decref(key);
                }
                json_object_set_new(o, f->name, map);
                continue;
            }
            json_t *a = json_array();
            for (size_t k = 0; k < n; k++)
                json_array_append_new(a, scalar_to_json(f, arr + k * elem_size(f->type)));
            json_object_set_new(o, f->name, a);
        } else {
            json_object_set_new(o, f->name, scalar_to_json(f, base));
        }
    }
    return o;
}

void ctl_print_json(json_t *j)
{
    if (j)
        json_dumpf(j, stdout, JSON_COMPACT);
    putchar('\n');
    fflush(stdout);
    json_decref(j);
}

struct ctl_table {
    size_t ncols, nrows, cap;
    char **cells; /* row-major, nrows + 1 rows (headers first) */
};

ctl_table *ctl_table_new(const char *const *headers, size_t ncols)
{
    ctl_table *t = calloc(1, sizeof *t);
    t->ncols = ncols;
    t->cap = 16;
    t->cells = calloc(t->cap * ncols, sizeof *t->cells);
    for (size_t c = 0; c < ncols; c++)
        t->cells[c] = strdup(headers[c]);
    t->nrows = 1;
    return t;
}

void ctl_table_row(ctl_table *t, ...)
{
    if (t->nrows == t->cap) {
        t->cap *= 2;
        t->cells = realloc(t->cells, t->cap * t->ncols * sizeof *t->cells);
    }
    va_list ap;
    va_start(ap, t);
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = va_arg(ap, const char *);
        t->cells[t->nrows * t->ncols + c] = strdup(s ? s : "");
    }
    va_end(ap);
    t->nrows++;
}

void ctl_table_print(ctl_table *t)
{
    size_t *w = calloc(t->ncols, sizeof *w);
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t len = strlen(t->cells[r * t->ncols + c]);
            if (len > w[c])
                w[c] = len;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++)
            printf("%-*s%s", c + 1 < t->ncols ? (int)w[c] : 0, t->cells[r * t->ncols + c],
                   c + 1 < t->ncols ? "  " : "\n");
        if (r == 0) {
            for (size_t c = 0; c < t->ncols; c++) {
                for (size_t k = 0; k < w[c]; k++)
                    putchar('-');
                fputs(c + 1 < t->ncols ? "  " : "\n", stdout);
            }
        }
    }
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(w);
    free(t);
}

const char *ctl_time(int64_t ms, char *buf, size_t n)
{
    if (ms <= 0) {
        snprintf(buf, n, "-");
        return buf;
    }
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

const char *ctl_money(int64_t minor, char *buf, size_t n)
{
    char digits[32];
    int64_t whole = minor / 100, cents = minor % 100;
    int neg = minor < 0;
    if (neg) {
        whole = -whole;
        cents = -cents;
    }
    snprintf(digits, sizeof digits, "%lld", (long long)whole);
    char grouped[48];
    size_t len = strlen(digits), g = 0;
    for (size_t i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            grouped[g++] = ',';
        grouped[g++] = digits[i];
    }
    grouped[g] = '\0';
    snprintf(buf, n, "%s%s.%02lld", neg ? "-" : "", grouped, (long long)cents);
    return buf;
}
