/*
 * Attribution throughput and memory: 1,000,000 touchpoints over 100,000
 * opportunities (one account each, ~10 touches per journey, random forms,
 * ties, closes, stages), attributed with every model on one thread. Prints
 * touchpoints per second per core (CPU time of the process, so a busy shared
 * machine does not inflate it), the bytes per touchpoint of the data layout,
 * and peak RSS per touchpoint. Also times journey building, Markov training
 * and offline touchpoint computation (T1-T7) for one 100,000-member campaign.
 *
 * Targets: >= 2,000,000 touchpoints/s/core for the rule-based models, < 100
 * bytes per touchpoint.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "attribute.h"
#include "markov.h"
#include "touchpoints.h"

#define N_TOUCHES 1000000u
#define N_OPPS 100000u
#define N_DIMS 64u
#define N_CHANNELS 8u
#define DAY 86400000LL

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint32_t below(uint32_t n)
{
    return (uint32_t)(next() % n);
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long peak_rss_bytes(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss * 1024L;
}

static void die(const char *what, const attr_error *err)
{
    fprintf(stderr, "bench_attribution: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

static void bench_offline_touchpoints(void)
{
    enum { N = 100000 };
    const chmap_rule rule = {"Tradeshow", "Events", "Trade Show"};
    chmap *map = NULL;
    attr_error err;
    if (chmap_build(&rule, 1, &map, &err) != 0)
        die("channel map", &err);
    tp_member *m = calloc(N, sizeof *m);
    char *ids = malloc((size_t)N * 3 * 20);
    if (!m || !ids)
        die("out of memory", NULL);
    for (int i = 0; i < N; i++) {
        char *mid = ids + (size_t)i * 60, *lead = mid + 20, *email = mid + 40;
        snprintf(mid, 20, "00v%015d", i);
        snprintf(lead, 20, "00Q%015d", i);
        snprintf(email, 20, "p%d@x.com", i);
        m[i] = (tp_member){.member_id = mid,
                           .lead_id = lead,
                           .email = email,
                           .account_id = "001A",
                           .created_ms = 20000 * DAY + i,
                           .has_responded = i % 2,
                           .buyer_touchpoint_ms = i % 3 ? 0 : 20000 * DAY};
    }
    tp_campaign c = {
        .id = "701000000000001", .name = "Expo", .type = "Tradeshow", .enable = TP_ENABLE_ALL};
    double c0 = cpu_now();
    tp_result r;
    if (tp_compute(&c, m, N, map, &r, &err) != 0)
        die("tp_compute", &err);
    double c1 = cpu_now();
    tp_diff d;
    if (tp_diff_compute(r.items, r.n, r.items, r.n, &d, &err) != 0)
        die("tp_diff", &err);
    double c2 = cpu_now();
    printf("offline touchpoints: %d members -> %zu touchpoints in %.3f s cpu (%.0f members/s); "
           "diff against itself %.3f s (%zu unchanged)\n",
           N, r.n, c1 - c0, N / (c1 - c0), c2 - c1, d.unchanged);
    tp_diff_free(&d);
    tp_result_free(&r);
    free(m);
    free(ids);
    chmap_free(map);
}

int main(void)
{
    attr_error err;
    attr_touch *touches = malloc(N_TOUCHES * sizeof *touches);
    uint32_t *touch_account = malloc(N_TOUCHES * sizeof *touch_account);
    attr_opp *opps = calloc(N_OPPS, sizeof *opps);
    uint32_t *opp_account = malloc(N_OPPS * sizeof *opp_account);
    int64_t *stage = calloc((size_t)N_OPPS * ATTR_MAX_STAGES, sizeof *stage);
    attr_dim dims[N_DIMS];
    if (!touches || !touch_account || !opps || !opp_account || !stage)
        die("out of memory", NULL);
    for (uint32_t d = 0; d < N_DIMS; d++)
        dims[d] = (attr_dim){d % N_CHANNELS, d, d};
    int64_t base = 20000 * DAY;
    for (uint32_t i = 0; i < N_TOUCHES; i++) {
        touches[i] = (attr_touch){.at_ms = base + (int64_t)below(720) * (DAY / 2),
                                  .tie = i,
                                  .dim = below(N_DIMS),
                                  .flags = below(3) == 0 ? ATTR_TOUCH_FORM : 0};
        touch_account[i] = below(N_OPPS);
    }
    for (uint32_t o = 0; o < N_OPPS; o++) {
        int64_t t0 = base + (int64_t)below(360) * DAY;
        opps[o].lead_created_ms = below(4) ? t0 - (int64_t)below(30) * DAY : 0;
        opps[o].created_ms = t0;
        if (below(2)) {
            opps[o].close_ms = t0 + (int64_t)below(120) * DAY;
            opps[o].won = below(2);
        }
        opps[o].amount_minor = below(100000000);
        for (int s = 0; s < ATTR_MAX_STAGES; s++)
            stage[(size_t)o * ATTR_MAX_STAGES + s] = below(2) ? t0 + (int64_t)below(60) * DAY : 0;
        opp_account[o] = o;
    }

    double c0 = cpu_now();
    uint32_t *journey = NULL;
    size_t n_journey = 0;
    if (attr_journeys_by_account(touches, touch_account, N_TOUCHES, opps, opp_account, N_OPPS,
                                 N_OPPS, &journey, &n_journey, &err) != 0)
        die("journeys", &err);
    double c1 = cpu_now();
    free(touch_account); /* only needed to build the journeys */
    free(opp_account);
    attr_dataset ds = {.touches = touches,
                       .n_touches = N_TOUCHES,
                       .dims = dims,
                       .n_dims = N_DIMS,
                       .n_channels = N_CHANNELS,
                       .opps = opps,
                       .n_opps = N_OPPS,
                       .journey = journey,
                       .n_journey = n_journey,
                       .stage_ms = stage};
    if (attr_dataset_check(&ds, &err) != 0)
        die("dataset", &err);
    double c2 = cpu_now();
    attr_markov *mk = NULL;
    if (attr_markov_train(&ds, &mk, &err) != 0)
        die("markov", &err);
    double c3 = cpu_now();
    printf("dataset: %u touchpoints, %u opportunities, %zu journey entries\n", N_TOUCHES, N_OPPS,
           n_journey);
    printf("journey build %.3f s cpu, check %.3f s, markov training %.3f s (%zu journeys)\n",
           c1 - c0, c2 - c1, c3 - c2, attr_markov_journeys(mk));

    attr_result r;
    if (attr_result_alloc(&r, &ds, &err) != 0)
        die("result", &err);
    attr_work w = {0};
    attr_model models[] = {
        {.kind = ATTR_MODEL_FIRST_TOUCH},
        {.kind = ATTR_MODEL_LEAD_CREATION},
        {.kind = ATTR_MODEL_U_SHAPED},
        {.kind = ATTR_MODEL_W_SHAPED},
        {.kind = ATTR_MODEL_FULL_PATH},
        {.kind = ATTR_MODEL_CUSTOM,
         .custom = {.ft_bp = 2000,
                    .lc_bp = 1500,
                    .oc_bp = 1500,
                    .cw_bp = 1000,
                    .middle_bp = 1000,
                    .n_stages = 6,
                    .stage_bp = {500, 500, 500, 500, 500, 500}}},
        {.kind = ATTR_MODEL_LINEAR},
        {.kind = ATTR_MODEL_TIME_DECAY, .half_life_days = 7},
        {.kind = ATTR_MODEL_DATA_DRIVEN, .markov = mk},
    };
    printf("%-13s %10s %10s %16s\n", "model", "cpu_s", "wall_s", "touches/s/core");
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        if (attr_model_check(&models[i], &err) != 0)
            die("model", &err);
        double w0 = wall_now(), t0 = cpu_now();
        if (attr_run_range(&ds, &models[i], 0, N_OPPS, &r, &w, &err) != 0)
            die("attribution", &err);
        double t1 = cpu_now(), w1 = wall_now();
        /* the results are used: every weight is checked */
        uint64_t total = 0;
        for (size_t e = 0; e < r.n_journey; e++)
            total += r.ppm[e];
        uint64_t with_touch = 0;
        for (size_t o = 0; o < N_OPPS; o++)
            with_touch += r.n_in[o] != 0;
        if (total != with_touch * 1000000u)
            die("weights do not sum to 1,000,000 per opportunity", NULL);
        printf("%-13s %10.3f %10.3f %16.0f\n", attr_model_name(models[i].kind), t1 - t0, w1 - w0,
               N_TOUCHES / (t1 - t0));
    }
    size_t layout = N_TOUCHES * sizeof(attr_touch) + n_journey * sizeof(uint32_t) +
                    N_OPPS * sizeof(attr_opp) + (size_t)N_OPPS * ATTR_MAX_STAGES * sizeof(int64_t) +
                    n_journey * (sizeof *r.ppm + sizeof *r.revenue + sizeof *r.positions) +
                    N_OPPS * sizeof *r.n_in;
    printf("layout: %.1f bytes/touchpoint (touch %zu B, journey entry 4 B, result 14 B per "
           "entry, opportunity %zu B + stages 48 B per opportunity)\n",
           (double)layout / N_TOUCHES, sizeof(attr_touch), sizeof(attr_opp));
    printf("peak RSS: %.1f bytes/touchpoint (%.1f MB, whole process incl. journey building)\n",
           (double)peak_rss_bytes() / N_TOUCHES, peak_rss_bytes() / 1e6);

    attr_work_free(&w);
    attr_result_free(&r);
    attr_markov_free(mk);
    free(journey);
    free(stage);
    free(opps);
    free(touches);

    bench_offline_touchpoints();
    return 0;
}
