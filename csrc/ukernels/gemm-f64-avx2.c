/* float64 GEMM micro-kernel, AVX2 + FMA: 6 x 8 tile, 12 ymm accumulators
 * (and a narrow one with half the columns). */
#include "isa_avx2.h"
#include "fastconv/internal.h"

#define FC_T double
#define FC_VEC __m256d
#define FC_VL 4
#define FC_MR 6
#define FC_LOAD _mm256_loadu_pd
#define FC_STORE _mm256_storeu_pd
#define FC_SET1 _mm256_set1_pd
#define FC_FMA _mm256_fmadd_pd
#define FC_MUL _mm256_mul_pd
#define FC_ADD _mm256_add_pd
#define FC_ZERO _mm256_setzero_pd
#define FC_UKERNEL_WIDE dgemm_avx2_6x8
#define FC_UKERNEL_NARROW dgemm_avx2_6x4
#include "ukernel_pair.h"

const fc_gemm_kernel_f64 fc_dgemm_avx2 = {6, 8, 240, 256, 768, dgemm_avx2_6x8};
const fc_gemm_kernel_f64 fc_dgemm_avx2_narrow = {6, 4, 240, 256, 768, dgemm_avx2_6x4};

/* direct-convolution kernels (few output channels) on the same vectors */
#define FC_NACC 10
#define FC_DIRECT_FN(kind, kb) ddirect_avx2_##kind##kb
#define FC_CONV_KERNELS_TYPE fc_conv_kernels_f64
#define FC_CONV_KERNELS_TABLE fc_conv_avx2_f64
#include "conv_simd.h"
FC_ISA_POP
