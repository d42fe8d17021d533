/* float32 GEMM micro-kernel, AVX2 + FMA: 6 x 16 tile, 12 ymm accumulators
 * (and a narrow one with half the columns). */
#include "isa_avx2.h"
#include "fastconv/internal.h"

#define FC_T float
#define FC_VEC __m256
#define FC_VL 8
#define FC_MR 6
#define FC_LOAD _mm256_loadu_ps
#define FC_STORE _mm256_storeu_ps
#define FC_SET1 _mm256_set1_ps
#define FC_FMA _mm256_fmadd_ps
#define FC_MUL _mm256_mul_ps
#define FC_ADD _mm256_add_ps
#define FC_ZERO _mm256_setzero_ps
#define FC_UKERNEL_WIDE sgemm_avx2_6x16
#define FC_UKERNEL_NARROW sgemm_avx2_6x8
#include "ukernel_pair.h"

const fc_gemm_kernel_f32 fc_sgemm_avx2 = {6, 16, 240, 384, 768, sgemm_avx2_6x16};
const fc_gemm_kernel_f32 fc_sgemm_avx2_narrow = {6, 8, 240, 384, 768, sgemm_avx2_6x8};

/* direct-convolution kernels (few output channels) on the same vectors */
#define FC_NACC 10
#define FC_DIRECT_FN(kind, kb) sdirect_avx2_##kind##kb
#define FC_CONV_KERNELS_TYPE fc_conv_kernels_f32
#define FC_CONV_KERNELS_TABLE fc_conv_avx2_f32
#include "conv_simd.h"
FC_ISA_POP
