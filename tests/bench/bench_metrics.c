/*
 * Cost of the metrics hot path: metrics_rpc_observe (a counter and a
 * histogram, each found by label values) on existing series, from one and
 * from two threads, and the cost of rendering a scrape. Prints figures.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "metrics/metrics.h"

#define N 2000000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const methods[] = {
    "/campsync.v1.Marketo/GetProgram", "/campsync.v1.Marketo/QueryMembers",
    "/campsync.v1.Salesforce/Query", "/campsync.v1.Reconciler/SyncPair"};

static void *observe_loop(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++)
        metrics_rpc_observe(methods[i & 3], i % 7 == 0 ? 14 : 0, 0.003);
    return NULL;
}

int main(void)
{
    observe_loop(NULL); /* create the series, warm up */
    double t0 = now_s();
    observe_loop(NULL);
    double one = now_s() - t0;
    printf("metrics_rpc_observe, 1 thread : %.0f ns/op\n", one / N * 1e9);

    pthread_t th[2];
    t0 = now_s();
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, observe_loop, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    double two = now_s() - t0;
    printf("metrics_rpc_observe, 2 threads: %.0f ns/op (wall per op, both threads)\n",
           two / (2.0 * N) * 1e9);

    size_t len = 0;
    t0 = now_s();
    for (int i = 0; i < 1000; i++) {
        char *text = metrics_render(metrics_default(), &len);
        free(text);
    }
    printf("metrics_render (%zu bytes)     : %.1f us/scrape\n", len, (now_s() - t0) / 1000 * 1e6);
    return 0;
}
