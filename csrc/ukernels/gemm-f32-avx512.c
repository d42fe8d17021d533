/* float32 GEMM micro-kernel, AVX-512: 12 x 32 tile, 24 zmm accumulators
 * (and a narrow one with half the columns). */
#include "isa_avx512.h"
#include "fastconv/internal.h"

#define FC_T float
#define FC_VEC __m512
#define FC_VL 16
#define FC_MR 12
#define FC_LOAD _mm512_loadu_ps
#define FC_STORE _mm512_storeu_ps
#define FC_SET1 _mm512_set1_ps
#define FC_FMA _mm512_fmadd_ps
#define FC_MUL _mm512_mul_ps
#define FC_ADD _mm512_add_ps
#define FC_ZERO _mm512_setzero_ps
#define FC_UKERNEL_WIDE sgemm_avx512_12x32
#define FC_UKERNEL_NARROW sgemm_avx512_12x16
#include "ukernel_pair.h"

const fc_gemm_kernel_f32 fc_sgemm_avx512 = {12, 32, 240, 384, 768, sgemm_avx512_12x32};
const fc_gemm_kernel_f32 fc_sgemm_avx512_narrow = {12, 16, 240, 384, 768, sgemm_avx512_12x16};

/* direct-convolution kernels (few output channels) on the same vectors */
#define FC_NACC 24
#define FC_DIRECT_FN(kind, kb) sdirect_avx512_##kind##kb
#define FC_CONV_KERNELS_TYPE fc_conv_kernels_f32
#define FC_CONV_KERNELS_TABLE fc_conv_avx512_f32
/* The store's scatter: 16 pixels of each of kb channels, masked by the map. */
#define FC_SCATTER(tile, width, kb, map, out, ks)                                          \
    do {                                                                                   \
        const __m512i idx = _mm512_loadu_si512(map);                                       \
        const __mmask16 keep = _mm512_cmpneq_epi32_mask(idx, _mm512_set1_epi32(FC_DIRECT_DROP)); \
        for (int k = 0; k < (kb); k++)                                                     \
            _mm512_mask_i32scatter_ps((out) + k * (ks), keep, idx,                         \
                                      _mm512_loadu_ps((tile) + k * (width)), 4);           \
    } while (0)
#include "conv_simd.h"
FC_ISA_POP
