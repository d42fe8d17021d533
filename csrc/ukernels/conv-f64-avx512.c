/* float64 convolution kernels, AVX-512: direct kernels for few
 * output channels (pixels on the vector lanes) and the Winograd transforms. */
#include "isa_avx512.h"
#include "internal.h"
#include "vec-f64-avx512.h"

#define FC_NACC 24
#define FC_DIRECT_FN(kind, kb) ddirect_avx512_##kind##kb
#define FC_CONV_KERNELS_TYPE fc_conv_kernels_f64
#define FC_CONV_KERNELS_TABLE fc_uk_dconv_avx512
/* The store's scatter: 8 pixels of each of kb channels, masked by the map. */
#define FC_SCATTER(tile, width, kb, map, out, ks)                                          \
    do {                                                                                   \
        const __m256i idx = _mm256_loadu_si256((const __m256i *)(map));                    \
        const __mmask8 keep = _mm256_cmpneq_epi32_mask(idx, _mm256_set1_epi32(FC_DIRECT_DROP)); \
        for (int k = 0; k < (kb); k++)                                                     \
            _mm512_mask_i32scatter_pd((out) + k * (ks), keep, idx,                         \
                                      _mm512_loadu_pd((tile) + k * (width)), 8);           \
    } while (0)
#include "conv_simd.tmpl.h"
FC_ISA_POP
