/* float64 convolution kernels, AVX2 + FMA: direct kernels for few
 * output channels (pixels on the vector lanes) and the Winograd transforms. */
#include "isa_avx2.h"
#if FC_ARCH_X86
#include "internal.h"
#include "vec-f64-avx2.h"

#define FC_NACC 10
#define FC_DIRECT_FN(kind, kb) ddirect_avx2_##kind##kb
#define FC_CONV_KERNELS_TYPE fc_conv_kernels_f64
#define FC_CONV_KERNELS_TABLE fc_uk_dconv_avx2
#include "conv_simd.tmpl.h"
FC_ISA_POP
#endif
