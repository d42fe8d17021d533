/* How wide the CPU executes AVX-512 FMAs, measured once: the float32 FMA rate
 * of a loop of 512-bit vectors against the same loop of 256-bit ones.  Zen 4
 * splits each 512-bit FMA over its 256-bit units (ratio about 1); Zen 5
 * (desktop and server) and most AVX-512 Xeons have full-width units (about
 * 2).  cpuid says nothing about this, and the ratio moves the point where
 * Winograd's transforms pay for the GEMM work they save (conv_plan.tmpl.h). */
#define _POSIX_C_SOURCE 199309L   /* clock_gettime under -std=c11 */
#include "internal.h"
#include <string.h>
#include <time.h>

#if FC_ARCH_X86
#include <immintrin.h>

#define FC_PROBE_STEPS 4096   /* 12 FMAs a step: ~50k cycles a loop */

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Twelve independent chains (latency 4 x 2 ports = 8 in flight at most on
 * the CPUs above, so the units stay busy), each from its own value the
 * compiler cannot see (seed), so that it neither merges the chains nor
 * computes them ahead, and summed into the value returned. */
static volatile float seed = 1.0f;
#define FC_PROBE_LOOP(VEC, SET1, FMA, ADD, LANES)                                             \
    const float s0 = seed;                                                                     \
    VEC a0 = SET1(s0), a1 = SET1(s0 + 1), a2 = SET1(s0 + 2), a3 = SET1(s0 + 3),                \
        a4 = SET1(s0 + 4), a5 = SET1(s0 + 5), a6 = SET1(s0 + 6), a7 = SET1(s0 + 7),            \
        a8 = SET1(s0 + 8), a9 = SET1(s0 + 9), a10 = SET1(s0 + 10), a11 = SET1(s0 + 11);        \
    const VEC m = SET1(s0 * 0.999999f), c = SET1(s0 * 1e-7f);                                  \
    for (int i = 0; i < FC_PROBE_STEPS; i++) {                                                 \
        a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);        \
        a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);        \
        a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);    \
    }                                                                                          \
    VEC s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));                 \
    s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));                                               \
    float out[LANES];                                                                          \
    memcpy(out, &s, sizeof out);                                                               \
    return out[0];

__attribute__((target("avx512f"))) static float fma_loop_512(void) {
    FC_PROBE_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, 16)
}

__attribute__((target("avx2,fma"))) static float fma_loop_256(void) {
    FC_PROBE_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, 8)
}

/* Best of five runs of each loop, the two alternating (a busy host slows
 * some runs, never speeds one up). */
static double measure(void) {
    double best512 = 1e30, best256 = 1e30;
    volatile float sink = 0;
    for (int run = 0; run < 5; run++) {
        double t = seconds();
        sink += fma_loop_512();
        best512 = FC_MIN(best512, seconds() - t);
        t = seconds();
        sink += fma_loop_256();
        best256 = FC_MIN(best256, seconds() - t);
    }
    (void)sink;
    return best512 > 0 ? 2.0 * best256 / best512 : 0;   /* twice the flops a 512-bit loop */
}
#endif

double fc_cpu_fma512_ratio(void) {
    static double ratio;   /* written once; later calls read it */
    static int done;
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        double r = 0;
#if FC_ARCH_X86
        if (fc_isa_supported(FC_ISA_AVX512)) r = measure();
#endif
        ratio = r;
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
    return ratio;
}
