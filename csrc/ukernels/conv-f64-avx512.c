/* float64 convolution kernels, AVX-512: direct kernels for few
 * output channels (pixels on the vector lanes) and the Winograd transforms. */
#include "isa_avx512.h"
#if FC_ARCH_X86
#include "internal.h"
#include "vec-f64-avx512.h"

#define FC_NACC 24
#define FC_DIRECT_FN(kind, kb) ddirect_avx512_##kind##kb
#define FC_CONV_KERNELS_TYPE fc_conv_kernels_f64
#define FC_CONV_KERNELS_TABLE fc_uk_dconv_avx512
#include "conv_simd.tmpl.h"
FC_ISA_POP
#endif
