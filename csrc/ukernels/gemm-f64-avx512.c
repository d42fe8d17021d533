/* float64 GEMM micro-kernels, AVX-512: 12 x 16 tile with 24 zmm
 * accumulators, and a narrow one with half the columns (ukernels/registry.h). */
#include "isa_avx512.h"
#if FC_ARCH_X86
#include "internal.h"
#include "vec-f64-avx512.h"

#define FC_MR 12
#define FC_UKERNEL_WIDE fc_uk_dgemm_avx512_12x16
#define FC_UKERNEL_NARROW fc_uk_dgemm_avx512_12x8
#include "gemm_pair.tmpl.h"
FC_ISA_POP
#endif
