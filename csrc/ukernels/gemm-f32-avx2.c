/* float32 GEMM micro-kernels, AVX2 + FMA: 6 x 16 tile with 12 ymm
 * accumulators, and a narrow one with half the columns (ukernels/registry.h). */
#include "isa_avx2.h"
#if FC_ARCH_X86
#include "internal.h"
#include "vec-f32-avx2.h"

#define FC_MR 6
#define FC_UKERNEL_WIDE fc_uk_sgemm_avx2_6x16
#define FC_UKERNEL_NARROW fc_uk_sgemm_avx2_6x8
#include "gemm_pair.tmpl.h"
FC_ISA_POP
#endif
