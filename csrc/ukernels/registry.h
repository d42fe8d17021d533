/* Every micro-kernel of the library, listed once.  The lists feed the
 * declarations (internal.h), the tables dispatch.c selects from, the kernel
 * report (fc_ukernel_info: show_config() and the kernel tests).  A new kernel
 * is a row here plus its definition in a ukernels/ file compiled for its ISA.
 *
 * GEMM micro-kernels, one list per dtype; the columns of X():
 *   name    the function is fc_uk_<name>
 *   isa     FC_ISA_<isa> must be supported to run it
 *   mr, nr  the register tile (rows of A, columns of B)
 *   narrow  1: the half-width tile the dispatcher picks when C has at most nr columns
 *   half    1: fc_uk_<name>_half, the same tile with mr / 2 rows, runs the edge
 *           tiles of at most that many rows (a 12-row tile of 1 valid row costs
 *           as much as a full one: 49 pixels are 5 tiles, now 4 and a half)
 * The cache blocks (mc, kc, nc) are not listed: dispatch.c derives them from
 * the caches detected at run time (cpuinfo.c). */
#ifndef FASTCONV_UKERNELS_REGISTRY_H
#define FASTCONV_UKERNELS_REGISTRY_H

#include "arch.h"

/* A row that exists only on x86 (arch.h). */
#if FC_ARCH_X86
#define FC_X86(row) row
#else
#define FC_X86(row)
#endif

/*  X(name,               isa,     mr, nr, narrow, half) */
#define FC_SGEMM_UKERNELS(X)                               \
    X(sgemm_generic_4x8,   GENERIC,  4,  8, 0, 0)          \
    FC_X86(X(sgemm_avx2_6x16,     AVX2,     6, 16, 0, 0))  \
    FC_X86(X(sgemm_avx2_6x8,      AVX2,     6,  8, 1, 0))  \
    FC_X86(X(sgemm_avx512_12x32,  AVX512,  12, 32, 0, 1))  \
    FC_X86(X(sgemm_avx512_12x16,  AVX512,  12, 16, 1, 1))

#define FC_DGEMM_UKERNELS(X)                               \
    X(dgemm_generic_4x8,   GENERIC,  4,  8, 0, 0)          \
    FC_X86(X(dgemm_avx2_6x8,      AVX2,     6,  8, 0, 0))  \
    FC_X86(X(dgemm_avx2_6x4,      AVX2,     6,  4, 1, 0))  \
    FC_X86(X(dgemm_avx512_12x16,  AVX512,  12, 16, 0, 1))  \
    FC_X86(X(dgemm_avx512_12x8,   AVX512,  12,  8, 1, 1))

/* fc_uk_<name>_half where the row's half column is 1, else none. */
#define FC_UK_HALF_0(name) NULL
#define FC_UK_HALF_1(name) fc_uk_##name##_half

/* Convolution kernel tables (direct kernels for few output channels and the
 * Winograd transforms, ukernels/conv_simd.tmpl.h): X(name, isa, dtype); the
 * table is fc_uk_<name>. */
#define FC_CONV_UKERNELS(X)                             \
    X(sconv_generic,  GENERIC, f32)                     \
    FC_X86(X(sconv_avx2,     AVX2,    f32))             \
    FC_X86(X(sconv_avx512,   AVX512,  f32))             \
    X(dconv_generic,  GENERIC, f64)                     \
    FC_X86(X(dconv_avx2,     AVX2,    f64))             \
    FC_X86(X(dconv_avx512,   AVX512,  f64))

/* Pooling kernel tables (max, average, argmax and the backward gathers of one
 * pixel, channels on the lanes: ukernels/pool_simd.tmpl.h): X(name, isa, dtype);
 * the table is fc_uk_<name>. */
#define FC_POOL_UKERNELS(X)                             \
    X(spool_generic,  GENERIC, f32)                     \
    FC_X86(X(spool_avx2,     AVX2,    f32))             \
    FC_X86(X(spool_avx512,   AVX512,  f32))             \
    X(dpool_generic,  GENERIC, f64)                     \
    FC_X86(X(dpool_avx2,     AVX2,    f64))             \
    FC_X86(X(dpool_avx512,   AVX512,  f64))

#endif
