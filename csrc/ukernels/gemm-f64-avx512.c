/* float64 GEMM micro-kernel, AVX-512: 12 x 16 tile, 24 zmm accumulators
 * (and a narrow one with half the columns). */
#include "isa_avx512.h"
#include "fastconv/internal.h"

#define FC_T double
#define FC_VEC __m512d
#define FC_VL 8
#define FC_MR 12
#define FC_LOAD _mm512_loadu_pd
#define FC_STORE _mm512_storeu_pd
#define FC_SET1 _mm512_set1_pd
#define FC_FMA _mm512_fmadd_pd
#define FC_MUL _mm512_mul_pd
#define FC_ADD _mm512_add_pd
#define FC_ZERO _mm512_setzero_pd
#define FC_UKERNEL_WIDE dgemm_avx512_12x16
#define FC_UKERNEL_NARROW dgemm_avx512_12x8
#include "ukernel_pair.h"

const fc_gemm_kernel_f64 fc_dgemm_avx512 = {12, 16, 240, 256, 768, dgemm_avx512_12x16};
const fc_gemm_kernel_f64 fc_dgemm_avx512_narrow = {12, 8, 240, 256, 768, dgemm_avx512_12x8};

/* direct-convolution kernels (few output channels) on the same vectors */
#define FC_NACC 24
#define FC_DIRECT_FN(kind, kb) ddirect_avx512_##kind##kb
#define FC_CONV_KERNELS_TYPE fc_conv_kernels_f64
#define FC_CONV_KERNELS_TABLE fc_conv_avx512_f64
/* The store's scatter: 8 pixels of each of kb channels, masked by the map. */
#define FC_SCATTER(tile, width, kb, map, out, ks)                                          \
    do {                                                                                   \
        const __m256i idx = _mm256_loadu_si256((const __m256i *)(map));                    \
        const __mmask8 keep = _mm256_cmpneq_epi32_mask(idx, _mm256_set1_epi32(FC_DIRECT_DROP)); \
        for (int k = 0; k < (kb); k++)                                                     \
            _mm512_mask_i32scatter_pd((out) + k * (ks), keep, idx,                         \
                                      _mm512_loadu_pd((tile) + k * (width)), 8);           \
    } while (0)
#include "conv_simd.h"
FC_ISA_POP
