/* Portable C convolution kernels (no ISA pragma): direct kernels and Winograd
 * transforms on one-lane "vectors", for both dtypes. */
#include "internal.h"

#define FC_VL 1
#define FC_LOAD(p) (*(p))
#define FC_STORE(p, v) (*(p) = (v))
#define FC_STREAM FC_STORE
#define FC_STREAM_FENCE() ((void)0)
#define FC_VMAX(a, b) ((a) > (b) ? (a) : (b))   /* b when either is NaN, as the ISAs' */
#define FC_SET1(v) (v)
#define FC_FMA(a, b, c) ((a) * (b) + (c))
#define FC_ZERO() 0
#define FC_ADD(a, b) ((a) + (b))
#define FC_NACC 8

#define FC_T float
#define FC_VEC float
#define FC_DIRECT_FN(kind, kb) sdirect_generic_##kind##kb
#define FC_CONV_KERNELS_TYPE fc_conv_kernels_f32
#define FC_CONV_KERNELS_TABLE fc_uk_sconv_generic
#include "conv_simd.tmpl.h"
#undef FC_T
#undef FC_VEC
#undef FC_DIRECT_FN
#undef FC_CONV_KERNELS_TYPE
#undef FC_CONV_KERNELS_TABLE

#define FC_T double
#define FC_VEC double
#define FC_DIRECT_FN(kind, kb) ddirect_generic_##kind##kb
#define FC_CONV_KERNELS_TYPE fc_conv_kernels_f64
#define FC_CONV_KERNELS_TABLE fc_uk_dconv_generic
#include "conv_simd.tmpl.h"
