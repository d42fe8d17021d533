/* Portable C GEMM micro-kernels (no ISA pragma): 4 x 8 tiles for both dtypes. */
#include "fastconv/internal.h"

#define GENERIC_MR 4
#define GENERIC_NR 8

#define FC_DEFINE_GENERIC_UKERNEL(T, SFX)                                                \
    static void gemm_generic_##SFX(int64_t k, const T *a, int64_t lda, int64_t ksa,      \
                                   const T *b, int64_t ldb, T *c, int64_t ldc, T alpha,  \
                                   T beta) {                                             \
        T acc[GENERIC_MR][GENERIC_NR] = {{0}};                                           \
        for (int64_t p = 0; p < k; p++, a += ksa, b += ldb)                              \
            for (int i = 0; i < GENERIC_MR; i++)                                         \
                for (int j = 0; j < GENERIC_NR; j++) acc[i][j] += a[i * lda] * b[j];     \
        for (int i = 0; i < GENERIC_MR; i++)                                             \
            for (int j = 0; j < GENERIC_NR; j++) {                                       \
                T *cij = c + i * ldc + j;                                                \
                *cij = beta == 0 ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *cij;  \
            }                                                                            \
    }

FC_DEFINE_GENERIC_UKERNEL(float, f32)
FC_DEFINE_GENERIC_UKERNEL(double, f64)

const fc_gemm_kernel_f32 fc_sgemm_generic = {GENERIC_MR, GENERIC_NR, 128, 256, 512,
                                             gemm_generic_f32};
const fc_gemm_kernel_f64 fc_dgemm_generic = {GENERIC_MR, GENERIC_NR, 128, 256, 512,
                                             gemm_generic_f64};

/* Direct-convolution kernels (few output channels) with one-lane "vectors". */
#define FC_VL 1
#define FC_LOAD(p) (*(p))
#define FC_STORE(p, v) (*(p) = (v))
#define FC_SET1(v) (v)
#define FC_FMA(a, b, c) ((a) * (b) + (c))
#define FC_ZERO() 0
#define FC_ADD(a, b) ((a) + (b))
#define FC_NACC 8

#define FC_T float
#define FC_VEC float
#define FC_DIRECT_FN(kind, kb) sdirect_generic_##kind##kb
#define FC_CONV_KERNELS_TYPE fc_conv_kernels_f32
#define FC_CONV_KERNELS_TABLE fc_conv_generic_f32
#include "conv_simd.h"
#undef FC_T
#undef FC_VEC
#undef FC_DIRECT_FN
#undef FC_CONV_KERNELS_TYPE
#undef FC_CONV_KERNELS_TABLE

#define FC_T double
#define FC_VEC double
#define FC_DIRECT_FN(kind, kb) ddirect_generic_##kind##kb
#define FC_CONV_KERNELS_TYPE fc_conv_kernels_f64
#define FC_CONV_KERNELS_TABLE fc_conv_generic_f64
#include "conv_simd.h"
