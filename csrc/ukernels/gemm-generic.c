/* Portable C GEMM micro-kernels (no ISA pragma): 4 x 8 tiles for both dtypes
 * (ukernels/registry.h). */
#include "internal.h"

#define GENERIC_MR 4
#define GENERIC_NR 8

#define FC_DEFINE_GENERIC_UKERNEL(T, NAME)                                                \
    void fc_uk_##NAME(int64_t k, const T *a, int64_t lda, int64_t ksa,      \
                                   const T *b, int64_t ldb, T *c, int64_t ldc, T alpha,  \
                                   T beta, int64_t seg, int64_t sga, const T *bias,    \
                                   int relu) {                                          \
        T acc[GENERIC_MR][GENERIC_NR] = {{0}};                                           \
        if (seg <= 0 || seg > k) seg = k;                                                \
        for (int64_t p0 = 0; p0 < k; p0 += seg) {                                        \
            const T *as = a + p0 / seg * sga;                                            \
            for (int64_t p = 0; p < FC_MIN(seg, k - p0); p++, as += ksa, b += ldb)       \
                for (int i = 0; i < GENERIC_MR; i++)                                     \
                    for (int j = 0; j < GENERIC_NR; j++) acc[i][j] += as[i * lda] * b[j]; \
        }                                                                                \
        for (int i = 0; i < GENERIC_MR; i++)                                             \
            for (int j = 0; j < GENERIC_NR; j++) {                                       \
                T *cij = c + i * ldc + j;                                                \
                T v = beta == 0 ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *cij;   \
                if (bias) v += bias[j];                                                  \
                *cij = relu && v < 0 ? (T)0 : v;                                         \
            }                                                                            \
    }

FC_DEFINE_GENERIC_UKERNEL(float, sgemm_generic_4x8)
FC_DEFINE_GENERIC_UKERNEL(double, dgemm_generic_4x8)
