/*
 * Fuzzes the pure parsers of common/redis: the first byte picks the target.
 * 'u': the rest is a redis URL (must never crash, and never put the password
 * in an error message). Anything else: the rest is raw RESP, read with
 * hiredis's reader and handed to the stream reply parsers, which must
 * reject malformed shapes without leaking.
 */
#include "redis/redis.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_url(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    if (!url)
        return;
    memcpy(url, data, size);
    url[size] = '\0';
    rds_url u;
    rds_err e = {0};
    if (rds_url_parse(url, &u, &e) == 0) {
        if (u.port < 1 || u.port > 65535 || !u.host[0])
            abort();
    } else if (e.code != RDS_ERR_CONFIG) {
        abort();
    }
    free(url);
}

/* hiredis 0.14's reader allocates an array's element table from the count
 * in the header before any element arrives (1.0 added a limit); Redis never
 * sends a count larger than its reply, so skip inputs that claim one. */
static int plausible_counts(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (data[i] != '*')
            continue;
        unsigned long long n = 0;
        for (size_t j = i + 1; j < size && data[j] >= '0' && data[j] <= '9' && n <= size; j++)
            n = n * 10 + (unsigned long long)(data[j] - '0');
        if (n > size)
            return 0;
    }
    return 1;
}

static void fuzz_reply(const uint8_t *data, size_t size)
{
    if (!plausible_counts(data, size))
        return;
    redisReader *rd = redisReaderCreate();
    if (!rd)
        return;
    void *reply = NULL;
    if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK &&
        redisReaderGetReply(rd, &reply) == REDIS_OK && reply) {
        rds_stream_batch b;
        rds_err e = {0};
        if (rds_parse_read_reply(reply, &b, &e) == 0) {
            for (size_t i = 0; i < b.count; i++)
                if (!b.entries[i].id[0])
                    abort();
            rds_stream_batch_free(&b);
        }
        if (rds_parse_autoclaim_reply(reply, &b, &e) == 0)
            rds_stream_batch_free(&b);
        freeReplyObject(reply);
    }
    redisReaderFree(rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] == 'u')
        fuzz_url(data + 1, size - 1);
    else
        fuzz_reply(data + 1, size - 1);
    return 0;
}
