/*
 * Benchmark of one reconciler cycle's pure work at 100,000 members: people
 * matching + three-way merge (plan_build), marking every item applied, the
 * new base and its encoding, and decoding the base back. Prints times, the
 * encoded base size and the process's peak memory (inputs included), which
 * must stay well under the reconciler's 150 MB budget.
 *
 *   bench_merge [members]   (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base_codec.h"
#include "plan.h"
#include "status_map.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long peak_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    if (n <= 0 || n > 5000000) {
        fprintf(stderr, "usage: bench_merge [members 1..5000000]\n");
        return 2;
    }
    static const smap_mkto_status st[] = {{"Invited", 10, false},
                                          {"Registered", 20, false},
                                          {"Attended", 30, true},
                                          {"No Show", 30, false},
                                          {"Engaged", 40, true}};
    smap *map;
    recon_err err;
    if (smap_create(st, 5, &map, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    long rss0 = peak_kb();
    people_mkto_lead *leads = calloc(n, sizeof *leads);
    people_sf_person *people = calloc(n, sizeof *people);
    people_mkto_member *mm = calloc(n, sizeof *mm);
    people_sf_member *sm = calloc(n, sizeof *sm);
    char(*emails)[32] = calloc(n, 32);
    char(*ids)[20] = calloc(n, 20);
    base_entry *be = calloc(n, sizeof *be);
    char *names[] = {"Invited", "Registered", "Attended", "No Show", "Engaged"};
    size_t nl = 0, np = 0, nm = 0, ns = 0, nb = 0;
    srand(1);
    /* A realistic mix: most members unchanged, some changed on either side,
     * some only on one side, a tenth matched by email only, a few new. */
    for (int i = 0; i < n; i++) {
        snprintf(emails[i], 32, "Person%07d@Example.com", i);
        snprintf(ids[i], 20, "00Q%015d", i);
        int64_t lead = 1000000 + (int64_t)i * 3;
        int s = 1 + rand() % 2;
        int kind = rand() % 100;
        leads[nl++] = (people_mkto_lead){
            lead, emails[i], "First", "Last", "Co", kind % 10 ? ids[i] : NULL, NULL};
        people[np++] = (people_sf_person){ids[i], PEOPLE_SF_LEAD, emails[i], "First",
                                          "Last", "Co",           false,     NULL};
        be[nb++] = (base_entry){lead, s, base_sf_tag(ids[i])};
        int mk = s, sf = s;
        if (kind < 5)
            mk = 2; /* Marketo moved forward */
        else if (kind < 10)
            sf = 4; /* Salesforce moved forward */
        else if (kind < 12)
            sf = 0; /* Salesforce moved back: rejected */
        else if (kind < 14)
            mk = -1; /* removed in Marketo */
        else if (kind < 16)
            sf = -1; /* removed in Salesforce */
        else if (kind < 18) {
            mk = 2; /* both moved: a conflict */
            sf = 4;
        }
        if (mk >= 0)
            mm[nm++] = (people_mkto_member){lead, names[mk], 1000};
        if (sf >= 0)
            sm[ns++] = (people_sf_member){ids[i], ids[i], emails[i], names[sf], 2000};
    }
    base_state base = {.version = 7, .names = names, .n_names = 5, .entries = be, .n_entries = nb};
    unsigned char *enc;
    size_t enc_len;
    if (base_encode(&base, &enc, &enc_len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    long rss_inputs = peak_kb();

    double c0 = cpu_ms(), t0 = now_ms();
    base_state stored;
    if (base_decode(enc, enc_len, &stored, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t1 = now_ms();
    plan_input in = {.pair_id = "1234",
                     .statuses = map,
                     .base = &stored,
                     .policy = MERGE_MARKETO_WINS,
                     .people = {leads, nl, people, np, mm, nm, sm, ns}};
    plan *p;
    if (plan_build(&in, &p, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t2 = now_ms();
    for (size_t i = 0; i < p->n_items; i++)
        if (plan_mark_applied(p, i, NULL, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    base_state next;
    unsigned char *enc2;
    size_t enc2_len;
    if (plan_new_base(p, &next, &err) || base_encode(&next, &enc2, &enc2_len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t3 = now_ms(), c3 = cpu_ms();
    plan_counts c;
    plan_get_counts(p, &c);
    long rss_peak = peak_kb();

    printf("bench_merge: %d members\n", n);
    printf("  decode base       %8.1f ms (%zu bytes, %.2f bytes/member)\n", t1 - t0, enc_len,
           (double)enc_len / n);
    printf("  match + merge     %8.1f ms (%zu members, %zu items, %zu events, %zu notes)\n",
           t2 - t1, p->n_members, p->n_items, p->n_events, p->n_notes);
    printf("  apply + new base  %8.1f ms (%zu bytes encoded)\n", t3 - t2, enc2_len);
    printf("  total             %8.1f ms wall, %.1f ms CPU\n", t3 - t0, c3 - c0);
    printf("  counts: new %d updated %d deleted %d conflicts %d rejected %d skipped %d\n",
           c.new_count, c.updated, c.deleted, c.conflicts, c.rejected_backwards, c.skipped);
    printf("  peak RSS          %8.1f MB (empty process %.1f MB, inputs %.1f MB, "
           "cycle work %.1f MB)\n",
           rss_peak / 1024.0, rss0 / 1024.0, (rss_inputs - rss0) / 1024.0,
           (rss_peak - rss_inputs) / 1024.0);
    base_free(&next);
    base_free(&stored);
    free(enc);
    free(enc2);
    plan_free(p);
    free(leads);
    free(people);
    free(mm);
    free(sm);
    free(emails);
    free(ids);
    free(be);
    smap_free(map);
    return 0;
}
