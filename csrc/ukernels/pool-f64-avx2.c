/* float64 pooling kernels, AVX2: channels on the 4 lanes (pool_simd.tmpl.h). */
#include "isa_avx2.h"
#if FC_ARCH_X86
#include <math.h>
#include "internal.h"
#include "vec-f64-avx2.h"

#define FC_VMAX_NAN(acc, v) \
    _mm256_blendv_pd(_mm256_max_pd(v, acc), v, _mm256_cmp_pd(v, v, _CMP_UNORD_Q))
#define FC_ARGMAX_STEP(b, a, v, t)                                                   \
    do {                                                                             \
        const __m256d v_ = (v);                                                       \
        const __m256d take_ = _mm256_and_pd(_mm256_cmp_pd(v_, b, _CMP_NLE_UQ),        \
                                           _mm256_cmp_pd(b, b, _CMP_ORD_Q));         \
        (b) = _mm256_blendv_pd(b, v_, take_);                                        \
        (a) = _mm256_blendv_pd(a, t, take_);                                         \
    } while (0)
#define FC_ADD_IF_EQ(acc, a, id, g) \
    _mm256_add_pd(acc, _mm256_and_pd(_mm256_cmp_pd(a, id, _CMP_EQ_OQ), g))

#define FC_POOL_FN(name) dpool_avx2_##name
#define FC_POOL_KERNELS_TYPE fc_pool_kernels_f64
#define FC_POOL_KERNELS_TABLE fc_uk_dpool_avx2
#include "pool_simd.tmpl.h"
FC_ISA_POP
#endif
