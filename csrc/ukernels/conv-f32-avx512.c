/* float32 convolution kernels, AVX-512: direct kernels for few
 * output channels (pixels on the vector lanes) and the Winograd transforms. */
#include "isa_avx512.h"
#include "internal.h"
#include "vec-f32-avx512.h"

#define FC_NACC 24
#define FC_DIRECT_FN(kind, kb) sdirect_avx512_##kind##kb
#define FC_CONV_KERNELS_TYPE fc_conv_kernels_f32
#define FC_CONV_KERNELS_TABLE fc_uk_sconv_avx512
/* The store's scatter: 16 pixels of each of kb channels, masked by the map. */
#define FC_SCATTER(tile, width, kb, map, out, ks)                                          \
    do {                                                                                   \
        const __m512i idx = _mm512_loadu_si512(map);                                       \
        const __mmask16 keep = _mm512_cmpneq_epi32_mask(idx, _mm512_set1_epi32(FC_DIRECT_DROP)); \
        for (int k = 0; k < (kb); k++)                                                     \
            _mm512_mask_i32scatter_ps((out) + k * (ks), keep, idx,                         \
                                      _mm512_loadu_ps((tile) + k * (width)), 4);           \
    } while (0)
#include "conv_simd.tmpl.h"
FC_ISA_POP
