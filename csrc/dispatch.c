/* CPU detection, the active kernel set, threads and allocation helpers. */
#include <stdlib.h>
#include "fastconv/internal.h"

#ifndef FC_COMPILER
#define FC_COMPILER "unknown"
#endif

int fc_isa_supported(int isa) {
    switch (isa) {
    case FC_ISA_GENERIC: return 1;
#if defined(__x86_64__) || defined(__i386__)
    case FC_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FC_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
               fc_isa_supported(FC_ISA_AVX2);
#endif
    default: return 0;
    }
}

int fc_best_isa(void) {
    if (fc_isa_supported(FC_ISA_AVX512)) return FC_ISA_AVX512;
    if (fc_isa_supported(FC_ISA_AVX2)) return FC_ISA_AVX2;
    return FC_ISA_GENERIC;
}

/* -1 until first use; then the ISA whose kernels run. */
static int active_isa = -1;

void fc_set_isa(int isa) { active_isa = fc_isa_supported(isa) ? isa : fc_best_isa(); }

int fc_get_isa(void) {
    if (active_isa < 0) active_isa = fc_best_isa();
    return active_isa;
}

/* The narrow kernel wastes no lanes when C has at most its NR columns. */
#define FC_PICK(wide, narrow, n) ((n) <= (narrow).nr ? &(narrow) : &(wide))

const fc_gemm_kernel_f32 *fc_sgemm_kernel(int64_t n) {
    switch (fc_get_isa()) {
    case FC_ISA_AVX512: return FC_PICK(fc_sgemm_avx512, fc_sgemm_avx512_narrow, n);
    case FC_ISA_AVX2: return FC_PICK(fc_sgemm_avx2, fc_sgemm_avx2_narrow, n);
    default: return &fc_sgemm_generic;
    }
}

const fc_gemm_kernel_f64 *fc_dgemm_kernel(int64_t n) {
    switch (fc_get_isa()) {
    case FC_ISA_AVX512: return FC_PICK(fc_dgemm_avx512, fc_dgemm_avx512_narrow, n);
    case FC_ISA_AVX2: return FC_PICK(fc_dgemm_avx2, fc_dgemm_avx2_narrow, n);
    default: return &fc_dgemm_generic;
    }
}

const fc_conv_kernels_f32 *fc_conv_kernels_for_f32(void) {
    switch (fc_get_isa()) {
    case FC_ISA_AVX512: return &fc_conv_avx512_f32;
    case FC_ISA_AVX2: return &fc_conv_avx2_f32;
    default: return &fc_conv_generic_f32;
    }
}

const fc_conv_kernels_f64 *fc_conv_kernels_for_f64(void) {
    switch (fc_get_isa()) {
    case FC_ISA_AVX512: return &fc_conv_avx512_f64;
    case FC_ISA_AVX2: return &fc_conv_avx2_f64;
    default: return &fc_conv_generic_f64;
    }
}

int fc_have_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int fc_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void fc_set_max_threads(int n) {
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}

const char *fc_compiler(void) { return FC_COMPILER; }

/* Workspace accounting: every kernel allocation goes through fc_alloc, which
 * keeps the block's size in a 64-byte header, so the bytes in use and their
 * high-water mark can be reported (benchmarks read the peak per call). */
static int64_t mem_in_use = 0, mem_peak = 0;
#define FC_HEADER 64

void *fc_alloc(int64_t count, int64_t size) {
    if (count < 0 || size <= 0 || count > (INT64_MAX - 2 * FC_HEADER) / size) return NULL;
    size_t bytes = (size_t)(count * size);
    bytes = (bytes + 63) & ~(size_t)63; /* aligned_alloc wants a multiple of the alignment */
    char *block = aligned_alloc(64, bytes + FC_HEADER);
    if (!block) return NULL;
    *(int64_t *)block = (int64_t)bytes;
    const int64_t now = __atomic_add_fetch(&mem_in_use, (int64_t)bytes, __ATOMIC_RELAXED);
    int64_t peak = __atomic_load_n(&mem_peak, __ATOMIC_RELAXED);
    while (now > peak &&
           !__atomic_compare_exchange_n(&mem_peak, &peak, now, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return block + FC_HEADER;
}

void fc_free(void *p) {
    if (!p) return;
    char *block = (char *)p - FC_HEADER;
    __atomic_sub_fetch(&mem_in_use, *(int64_t *)block, __ATOMIC_RELAXED);
    free(block);
}

int64_t fc_workspace_in_use(void) { return __atomic_load_n(&mem_in_use, __ATOMIC_RELAXED); }

int64_t fc_workspace_peak(void) { return __atomic_load_n(&mem_peak, __ATOMIC_RELAXED); }

void fc_workspace_reset_peak(void) {
    __atomic_store_n(&mem_peak, fc_workspace_in_use(), __ATOMIC_RELAXED);
}
