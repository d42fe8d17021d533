/* float64 pooling kernels, AVX-512: channels on the 8 lanes, selections
 * through mask registers (pool_simd.tmpl.h). */
#include "isa_avx512.h"
#if FC_ARCH_X86
#include <math.h>
#include "internal.h"
#include "vec-f64-avx512.h"

#define FC_VMAX_NAN(acc, v) \
    _mm512_mask_blend_pd(_mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q), _mm512_max_pd(v, acc), v)
#define FC_ARGMAX_STEP(b, a, v, t)                                                          \
    do {                                                                                    \
        const __m512d v_ = (v);                                                              \
        const __mmask8 take_ =                                                             \
            _mm512_mask_cmp_pd_mask(_mm512_cmp_pd_mask(b, b, _CMP_ORD_Q), v_, b, _CMP_NLE_UQ); \
        (b) = _mm512_mask_blend_pd(take_, b, v_);                                           \
        (a) = _mm512_mask_blend_pd(take_, a, t);                                            \
    } while (0)
#define FC_ADD_IF_EQ(acc, a, id, g) \
    _mm512_mask_add_pd(acc, _mm512_cmp_pd_mask(a, id, _CMP_EQ_OQ), acc, g)

/* the last channels of a pixel as one masked vector (pool_simd.tmpl.h) */
#define FC_POOL_MASKED 1
#define FC_PMASK __mmask8
#define FC_PMASK_FOR(n) ((__mmask8)((1u << (n)) - 1u))
#define FC_LOAD_MASKED(p, m) _mm512_maskz_loadu_pd(m, p)
#define FC_STORE_MASKED(p, m, v) _mm512_mask_storeu_pd(p, m, v)

#define FC_POOL_FN(name) dpool_avx512_##name
#define FC_POOL_KERNELS_TYPE fc_pool_kernels_f64
#define FC_POOL_KERNELS_TABLE fc_uk_dpool_avx512
#include "pool_simd.tmpl.h"
FC_ISA_POP
#endif
