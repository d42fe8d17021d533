/* float32 pooling kernels, AVX2: channels on the 8 lanes (pool_simd.tmpl.h). */
#include "isa_avx2.h"
#if FC_ARCH_X86
#include <math.h>
#include "internal.h"
#include "vec-f32-avx2.h"

#define FC_VMAX_NAN(acc, v) \
    _mm256_blendv_ps(_mm256_max_ps(v, acc), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q))
#define FC_ARGMAX_STEP(b, a, v, t)                                                   \
    do {                                                                             \
        const __m256 v_ = (v);                                                       \
        const __m256 take_ = _mm256_and_ps(_mm256_cmp_ps(v_, b, _CMP_NLE_UQ),        \
                                           _mm256_cmp_ps(b, b, _CMP_ORD_Q));         \
        (b) = _mm256_blendv_ps(b, v_, take_);                                        \
        (a) = _mm256_blendv_ps(a, t, take_);                                         \
    } while (0)
#define FC_ADD_IF_EQ(acc, a, id, g) \
    _mm256_add_ps(acc, _mm256_and_ps(_mm256_cmp_ps(a, id, _CMP_EQ_OQ), g))

#define FC_POOL_FN(name) spool_avx2_##name
#define FC_POOL_KERNELS_TYPE fc_pool_kernels_f32
#define FC_POOL_KERNELS_TABLE fc_uk_spool_avx2
#include "pool_simd.tmpl.h"
FC_ISA_POP
#endif
