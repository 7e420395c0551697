/*
 * Fuzzes the reader of Marketo bulk export files (mkto_csv.h): the file is
 * outside input of any size. The first byte picks the separator and the page
 * size; the rest is the file. The row reader and the member mapping must not
 * crash, leak or read out of bounds, every page handed out must pack and
 * free cleanly, and a successful read must account for every row it paged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mkto_csv.h"

typedef struct {
    size_t members;
    int pages;
} tally;

static int take_page(void *ud, Campsync__V1__ProgramMemberPage *page)
{
    tally *t = ud;
    size_t n = campsync__v1__program_member_page__get_packed_size(page);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf)
        campsync__v1__program_member_page__pack(page, buf);
    free(buf);
    t->members += page->n_members;
    t->pages++;
    protobuf_c_message_free_unpacked(&page->base, NULL);
    /* Stop now and then, as a caller that went away does. */
    return t->pages == 7 ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char seps[] = {',', '\t', ' ', ','};
    char sep = seps[data[0] & 3];
    size_t page_size = 1 + (data[0] >> 2);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    mkto_csv r;
    mkto_err err;
    mkto_csv_init(&r, text, len, sep);
    int rc;
    while ((rc = mkto_csv_row(&r, &err)) == 1)
        for (size_t i = 0; i < r.n; i++)
            (void)strlen(r.fields[i]);
    mkto_csv_free(&r);

    tally t = {0};
    size_t rows = 0;
    rc = mkto_members_csv(text, len, sep, page_size, take_page, &t, &rows, &err);
    if (rc == 0 && t.members != rows)
        abort();
    return 0;
}
