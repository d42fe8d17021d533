/* float32 GEMM micro-kernel, AVX-512: 12 x 32 tile, 24 zmm accumulators
 * (and a narrow one with half the columns). */
#include "isa_avx512.h"
#include "fastconv/internal.h"

#define FC_T float
#define FC_VEC __m512
#define FC_VL 16
#define FC_MR 12
#define FC_LOAD _mm512_loadu_ps
#define FC_STORE _mm512_storeu_ps
#define FC_SET1 _mm512_set1_ps
#define FC_FMA _mm512_fmadd_ps
#define FC_MUL _mm512_mul_ps
#define FC_ZERO _mm512_setzero_ps
#define FC_UKERNEL_WIDE sgemm_avx512_12x32
#define FC_UKERNEL_NARROW sgemm_avx512_12x16
#include "ukernel_pair.h"

const fc_gemm_kernel_f32 fc_sgemm_avx512 = {12, 32, 240, 384, 768, sgemm_avx512_12x32};
const fc_gemm_kernel_f32 fc_sgemm_avx512_narrow = {12, 16, 240, 384, 768, sgemm_avx512_12x16};
FC_ISA_POP
