/*
 * Fuzz target for the base codec: the stored base comes back from Redis and
 * could be anything after a bug, a manual edit or a bad restore. Decoding
 * must never crash, and whatever decodes must encode back to the same bytes
 * (the format has exactly one encoding per base).
 *
 * A fuzzer cannot forge the trailing CRC-32, so each input is decoded twice:
 * as given (checks the checksum path) and with a correct checksum appended
 * (reaches the structural checks behind it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base_codec.h"

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    return crc ^ 0xFFFFFFFFu;
}

static void check(const uint8_t *data, size_t size)
{
    base_state b;
    recon_err err;
    if (base_decode(data, size, &b, &err) != 0)
        return;
    unsigned char *buf;
    size_t len;
    if (base_encode(&b, &buf, &len, &err) != 0)
        abort(); /* a decoded base always satisfies the encoder */
    if (len != size || memcmp(buf, data, size) != 0)
        abort();
    for (size_t i = 0; i < b.n_entries; i++)
        if (base_find(&b, b.entries[i].lead_id) != &b.entries[i])
            abort();
    free(buf);
    base_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    uint8_t *sealed = malloc(size + 4);
    if (!sealed)
        return 0;
    if (size)
        memcpy(sealed, data, size);
    uint32_t crc = crc32_of(data, size);
    for (int k = 0; k < 4; k++)
        sealed[size + k] = (uint8_t)(crc >> (8 * k));
    check(sealed, size + 4);
    free(sealed);
    return 0;
}
