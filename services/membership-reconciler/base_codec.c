/*
 * Base codec: see base_codec.h for the format. Varints are LEB128 (7 bits a
 * byte, low first); a varint longer than 10 bytes, above 64 bits or padded
 * with a zero byte is corrupt (one encoding per base). The checksum catches truncation and bit rot
 * that would otherwise decode into a plausible but wrong base, which could make the merge remove
 * members; so it is checked before anything else.
 */
#include "base_codec.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char magic[4] = {'C', 'S', 'B', '1'};

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

typedef struct {
    unsigned char *buf;
    size_t len, cap;
} wbuf;

static int wput(wbuf *w, const void *p, size_t n)
{
    if (w->len + n > w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 256;
        while (ncap < w->len + n)
            ncap *= 2;
        unsigned char *nb = realloc(w->buf, ncap);
        if (!nb)
            return -1;
        w->buf = nb;
        w->cap = ncap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return 0;
}

static int wvar(wbuf *w, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    do {
        b[n] = v & 0x7F;
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    return wput(w, b, n);
}

int base_encode(const base_state *b, unsigned char **out, size_t *out_len, recon_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (b->n_names > BASE_MAX_NAMES || b->n_entries > BASE_MAX_ENTRIES)
        return recon_fail(err, RECON_EINVAL, "base too large: %zu statuses, %zu members",
                          b->n_names, b->n_entries);
    for (size_t i = 0; i < b->n_names; i++) {
        size_t l = b->names[i] ? strlen(b->names[i]) : 0;
        if (l == 0 || l > BASE_MAX_NAME_LEN)
            return recon_fail(err, RECON_EINVAL, "base status #%zu has length %zu (1..%d)", i, l,
                              BASE_MAX_NAME_LEN);
    }
    wbuf w = {0};
    int rc = wput(&w, magic, sizeof magic) | wvar(&w, b->version) | wvar(&w, b->n_names);
    for (size_t i = 0; i < b->n_names; i++) {
        size_t l = strlen(b->names[i]);
        rc |= wvar(&w, l) | wput(&w, b->names[i], l);
    }
    rc |= wvar(&w, b->n_entries);
    int64_t prev = 0;
    for (size_t i = 0; i < b->n_entries && rc == 0; i++) {
        const base_entry *e = &b->entries[i];
        if (e->lead_id <= prev || e->status < BASE_STATUS_UNKNOWN ||
            (e->status >= 0 && (size_t)e->status >= b->n_names)) {
            free(w.buf);
            return recon_fail(err, RECON_EINVAL,
                              "base entry #%zu (lead %lld, status %d) is out of order or "
                              "names no status",
                              i, (long long)e->lead_id, (int)e->status);
        }
        unsigned char t[4] = {e->sf_tag & 0xFF, (e->sf_tag >> 8) & 0xFF, (e->sf_tag >> 16) & 0xFF,
                              e->sf_tag >> 24};
        rc |= wvar(&w, (uint64_t)(e->lead_id - prev)) | wvar(&w, (uint64_t)(e->status + 1)) |
              wput(&w, t, 4);
        prev = e->lead_id;
    }
    if (rc == 0) {
        uint32_t crc = crc32_of(w.buf, w.len);
        unsigned char c[4] = {crc & 0xFF, (crc >> 8) & 0xFF, (crc >> 16) & 0xFF, crc >> 24};
        rc = wput(&w, c, 4);
    }
    if (rc != 0) {
        free(w.buf);
        return recon_fail(err, RECON_ENOMEM, "out of memory encoding the base");
    }
    *out = w.buf;
    *out_len = w.len;
    return 0;
}

typedef struct {
    const unsigned char *p, *end;
} rbuf;

static bool rvar(rbuf *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return false;
        unsigned char c = *r->p++;
        if (shift == 63 && (c & 0x7E))
            return false; /* more than 64 bits */
        x |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) {
            if (c == 0 && shift > 0)
                return false; /* padded: one encoding per value */
            *v = x;
            return true;
        }
    }
    return false;
}

static int corrupt(base_state *out, recon_err *err, const char *what)
{
    base_free(out);
    return recon_fail(err, RECON_ECORRUPT, "stored base is corrupt (%s); it will be ignored", what);
}

int base_decode(const void *data, size_t len, base_state *out, recon_err *err)
{
    memset(out, 0, sizeof *out);
    const unsigned char *d = data;
    if (len < sizeof magic + 4 || memcmp(d, magic, sizeof magic) != 0)
        return corrupt(out, err, "bad header");
    uint32_t want = (uint32_t)d[len - 4] | (uint32_t)d[len - 3] << 8 | (uint32_t)d[len - 2] << 16 |
                    (uint32_t)d[len - 1] << 24;
    if (crc32_of(d, len - 4) != want)
        return corrupt(out, err, "checksum mismatch");
    rbuf r = {d + sizeof magic, d + len - 4};
    uint64_t n;
    if (!rvar(&r, &out->version))
        return corrupt(out, err, "truncated version");
    if (!rvar(&r, &n) || n > BASE_MAX_NAMES || n > (uint64_t)(r.end - r.p) / 2)
        return corrupt(out, err, "bad status count");
    if (n && !(out->names = calloc(n, sizeof *out->names)))
        return recon_fail(err, RECON_ENOMEM, "out of memory decoding the base");
    for (uint64_t i = 0; i < n; i++) {
        uint64_t l;
        if (!rvar(&r, &l) || l == 0 || l > BASE_MAX_NAME_LEN || l > (uint64_t)(r.end - r.p))
            return corrupt(out, err, "bad status name length");
        if (memchr(r.p, '\0', l))
            return corrupt(out, err, "status name holds a NUL byte");
        if (!(out->names[i] = strndup((const char *)r.p, l))) {
            base_free(out);
            return recon_fail(err, RECON_ENOMEM, "out of memory decoding the base");
        }
        out->n_names++;
        r.p += l;
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(out->names[j], out->names[i]) == 0)
                return corrupt(out, err, "duplicate status name");
    }
    /* Every entry takes at least six bytes. */
    if (!rvar(&r, &n) || n > BASE_MAX_ENTRIES || n > (uint64_t)(r.end - r.p) / 6)
        return corrupt(out, err, "bad member count");
    if (n && !(out->entries = malloc(n * sizeof *out->entries))) {
        base_free(out);
        return recon_fail(err, RECON_ENOMEM, "out of memory decoding the base");
    }
    uint64_t key = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t delta, st;
        if (!rvar(&r, &delta) || !rvar(&r, &st) || r.end - r.p < 4)
            return corrupt(out, err, "truncated member");
        uint32_t tag = (uint32_t)r.p[0] | (uint32_t)r.p[1] << 8 | (uint32_t)r.p[2] << 16 |
                       (uint32_t)r.p[3] << 24;
        r.p += 4;
        if (delta == 0 || delta > (uint64_t)INT64_MAX - key)
            return corrupt(out, err, "member keys out of order");
        if (st > out->n_names)
            return corrupt(out, err, "member status out of range");
        key += delta;
        out->entries[i].lead_id = (int64_t)key;
        out->entries[i].status = (int32_t)st - 1;
        out->entries[i].sf_tag = tag;
        out->n_entries++;
    }
    if (r.p != r.end)
        return corrupt(out, err, "trailing bytes");
    return 0;
}

void base_free(base_state *b)
{
    for (size_t i = 0; i < b->n_names; i++)
        free(b->names[i]);
    free(b->names);
    free(b->entries);
    memset(b, 0, sizeof *b);
}

uint32_t base_sf_tag(const char *sf_person_id)
{
    if (!sf_person_id || !sf_person_id[0])
        return 0;
    uint32_t h = 2166136261u; /* FNV-1a: stable, stored in Redis */
    for (const unsigned char *p = (const unsigned char *)sf_person_id; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h ? h : 1;
}

const base_entry *base_find(const base_state *b, int64_t lead_id)
{
    size_t lo = 0, hi = b->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->entries[mid].lead_id < lead_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < b->n_entries && b->entries[lo].lead_id == lead_id ? &b->entries[lo] : NULL;
}
