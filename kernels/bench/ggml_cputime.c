// LD_PRELOAD shim for llama.cpp's test-backend-ops (kernels/bench/ggml_compare.sh): wraps
// ggml_backend_graph_compute and prints the process CPU time and wall time of every call on stdout, next to
// test-backend-ops' own lines (same FILE buffer, so in order). On a shared machine test-backend-ops' wall-time
// rates also measure the other processes; these lines give the rate per CPU-second, as Nuri's benchmarks do.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct ggml_cgraph;
int ggml_graph_n_nodes(struct ggml_cgraph *graph);

static double now_us(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int ggml_backend_graph_compute(void *backend, struct ggml_cgraph *graph) {
    static int (*real)(void *, struct ggml_cgraph *);
    if (!real) {
        real = (int (*)(void *, struct ggml_cgraph *)) dlsym(RTLD_NEXT, "ggml_backend_graph_compute");
        if (!real) {
            fprintf(stderr, "ggml_cputime: ggml_backend_graph_compute not found\n");
            abort();
        }
    }
    double w = now_us(CLOCK_MONOTONIC), c = now_us(CLOCK_PROCESS_CPUTIME_ID);
    int status = real(backend, graph);
    printf("#compute nodes=%d wall_us=%.1f cpu_us=%.1f\n", ggml_graph_n_nodes(graph),
           now_us(CLOCK_MONOTONIC) - w, now_us(CLOCK_PROCESS_CPUTIME_ID) - c);
    return status;
}
