/* Portable C pooling kernels (no ISA pragma): pool_simd.tmpl.h on one-lane
 * "vectors", for both dtypes. */
#include <math.h>
#include "internal.h"

#define FC_VL 1
#define FC_LOAD(p) (*(p))
#define FC_STORE(p, v) (*(p) = (v))
#define FC_SET1(v) (v)
#define FC_ZERO() 0
#define FC_ADD(a, b) ((a) + (b))
#define FC_MUL(a, b) ((a) * (b))
#define FC_VMAX_NAN(acc, v) (((v) > (acc) || (v) != (v)) ? (v) : (acc))
#define FC_ARGMAX_STEP(b, a, v, t)                                   \
    do {                                                             \
        const FC_T v_ = (v);                                         \
        const int take_ = (v_ > (b)) | ((v_ != v_) & ((b) == (b)));  \
        (b) = take_ ? v_ : (b);                                      \
        (a) = take_ ? (t) : (a);                                     \
    } while (0)
#define FC_ADD_IF_EQ(acc, a, id, g) ((acc) + ((a) == (id) ? (g) : 0))

#define FC_T float
#define FC_VEC float
#define FC_POOL_FN(name) spool_generic_##name
#define FC_POOL_KERNELS_TYPE fc_pool_kernels_f32
#define FC_POOL_KERNELS_TABLE fc_uk_spool_generic
#include "pool_simd.tmpl.h"
#undef FC_T
#undef FC_VEC
#undef FC_POOL_FN
#undef FC_POOL_KERNELS_TYPE
#undef FC_POOL_KERNELS_TABLE

#define FC_T double
#define FC_VEC double
#define FC_POOL_FN(name) dpool_generic_##name
#define FC_POOL_KERNELS_TYPE fc_pool_kernels_f64
#define FC_POOL_KERNELS_TABLE fc_uk_dpool_generic
#include "pool_simd.tmpl.h"
