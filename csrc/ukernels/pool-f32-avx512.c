/* float32 pooling kernels, AVX-512: channels on the 16 lanes, selections
 * through mask registers (pool_simd.tmpl.h). */
#include "isa_avx512.h"
#if FC_ARCH_X86
#include <math.h>
#include "internal.h"
#include "vec-f32-avx512.h"

#define FC_VMAX_NAN(acc, v) \
    _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_max_ps(v, acc), v)
#define FC_ARGMAX_STEP(b, a, v, t)                                                          \
    do {                                                                                    \
        const __m512 v_ = (v);                                                              \
        const __mmask16 take_ =                                                             \
            _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(b, b, _CMP_ORD_Q), v_, b, _CMP_NLE_UQ); \
        (b) = _mm512_mask_blend_ps(take_, b, v_);                                           \
        (a) = _mm512_mask_blend_ps(take_, a, t);                                            \
    } while (0)
#define FC_ADD_IF_EQ(acc, a, id, g) \
    _mm512_mask_add_ps(acc, _mm512_cmp_ps_mask(a, id, _CMP_EQ_OQ), acc, g)

/* the last channels of a pixel as one masked vector (pool_simd.tmpl.h) */
#define FC_POOL_MASKED 1
#define FC_PMASK __mmask16
#define FC_PMASK_FOR(n) ((__mmask16)((1u << (n)) - 1u))
#define FC_LOAD_MASKED(p, m) _mm512_maskz_loadu_ps(m, p)
#define FC_STORE_MASKED(p, m, v) _mm512_mask_storeu_ps(p, m, v)

#define FC_POOL_FN(name) spool_avx512_##name
#define FC_POOL_KERNELS_TYPE fc_pool_kernels_f32
#define FC_POOL_KERNELS_TABLE fc_uk_spool_avx512
#include "pool_simd.tmpl.h"
FC_ISA_POP
#endif
