/*
 * Fuzz target for common/json: parses arbitrary bytes with cj_parse, then
 * walks whatever came out with every getter, as a connector would walk a
 * vendor payload, so the path-building error code runs on hostile shapes
 * (deep nesting, huge indexes, odd keys, numeric strings).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json/json.h"

static void probe(const cj_ref *r, int depth)
{
    cj_error err;
    const char *s;
    int64_t i;
    double d;
    int b;
    size_t n;
    /* Every getter either succeeds or leaves a NUL-terminated message. */
    if (cj_string(r, &s, &err) != 0 && strlen(err.msg) >= sizeof err.msg)
        __builtin_trap();
    cj_int64(r, CJ_NUMERIC_STRING, &i, &err);
    cj_double(r, &d, &err);
    cj_bool(r, &b, &err);
    if (depth > 32)
        return;
    if (cj_array(r, &n, &err) == 0) {
        for (size_t k = 0; k < n && k < 64; k++) {
            cj_ref e = cj_elem(r, k);
            probe(&e, depth + 1);
        }
        cj_ref past = cj_elem(r, n);
        probe(&past, depth + 1);
    }
    if (cj_object(r, &err) == 0) {
        const char *key;
        json_t *v;
        json_object_foreach(r->json, key, v)
        {
            cj_ref f = cj_at(r, key);
            probe(&f, depth + 1);
            cj_ref child;
            cj_opt_object(r, key, &child, &err);
            cj_opt_array(r, key, &child, &n, &err);
            cj_opt_int64(r, key, CJ_NUMERIC_STRING, 0, &i, &err);
            cj_opt_string(r, key, "", &s, &err);
        }
        cj_req_string(r, "leadId", &s, &err);
        cj_req_int64(r, "id", 0, &i, &err);
    }
    /* Reaching through a scalar must name the parent, never crash. */
    cj_ref through = cj_at(r, "x");
    cj_req_bool(&through, "y", &b, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc;
    cj_error err;
    if (cj_parse((const char *)data, size, 1 << 20, &doc, &err) != 0)
        return 0;
    cj_ref root = cj_root(doc);
    probe(&root, 0);
    json_decref(doc);
    return 0;
}
