/*
 * Reading every member of a program of more than 100,000 members.
 *
 * Marketo's members.json refuses every filter but leadId on such a program
 * (1003 "Total membership size: N exceeds the limit allowed (100,000) for
 * the filter"), and a full read cannot name lead ids it does not know yet.
 * Marketo's documented way out is the Bulk Program Member Extract API: create
 * an export job for the program, enqueue it, poll its status until it is
 * Completed, download its CSV file. This module runs that job and hands the
 * file back as the same 300-member ProgramMemberPage messages the paged read
 * produces, so StreamProgramMembers' callers never see the difference.
 *
 * Every request goes through mkto_client (token, shared budget, retries,
 * error mapping), so each poll is a counted call under the instance's rate
 * limit and daily quota like any other. Polls back off from poll_first_ms to
 * poll_max_ms. A job this module started and no longer needs (the caller
 * went away, the deadline came, enqueue failed) is cancelled so it does not
 * hold one of the instance's queue slots or export quota.
 */
#ifndef MKTO_BULK_H
#define MKTO_BULK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "campsync/v1/marketo.pb-c.h"
#include "mkto_client.h"

typedef struct mkto_bulk_opts {
    int64_t poll_first_ms; /* wait before the first status poll (> 0) */
    int64_t poll_max_ms;   /* longest wait between polls (>= poll_first_ms) */
    size_t page_size;      /* members per page (300) */
} mkto_bulk_opts;

/* What one export took (for logs and tests). */
typedef struct mkto_bulk_stats {
    char export_id[64];
    int polls;
    int64_t records;
    int64_t file_bytes;
} mkto_bulk_stats;

/* Is f Marketo's refusal of a non-leadId member filter on a program over
 * 100,000 members (and not any other 1003)? */
bool mkto_bulk_needed(const mkto_failure *f);

/*
 * Exports every member of program_id and calls page_fn with each page (it
 * owns the page; a non-zero return stops the export: the caller went away).
 * Returns 0, or a gRPC code with f filled: RESOURCE_EXHAUSTED when Marketo's
 * bulk export queue or daily export quota is full (1029), UNAVAILABLE when
 * the job failed in Marketo (with its errorMsg) or the file is unreadable,
 * ABORTED when someone cancelled the job in Marketo, DEADLINE_EXCEEDED when
 * the job is not done before ctx's deadline, CANCELLED when the caller went
 * away, or whatever mkto_client_call maps a failed call to.
 */
int mkto_bulk_members(mkto_client *c, const mkto_ctx *ctx, int64_t program_id,
                      const mkto_bulk_opts *o,
                      int (*page_fn)(void *ud, Campsync__V1__ProgramMemberPage *page), void *ud,
                      mkto_bulk_stats *st, mkto_failure *f);

#endif
