/* float64 GEMM micro-kernel, AVX-512: 12 x 16 tile, 24 zmm accumulators
 * (and a narrow one with half the columns). */
#include "isa_avx512.h"
#include "fastconv/internal.h"

#define FC_T double
#define FC_VEC __m512d
#define FC_VL 8
#define FC_MR 12
#define FC_LOAD _mm512_loadu_pd
#define FC_STORE _mm512_storeu_pd
#define FC_SET1 _mm512_set1_pd
#define FC_FMA _mm512_fmadd_pd
#define FC_MUL _mm512_mul_pd
#define FC_ZERO _mm512_setzero_pd
#define FC_UKERNEL_WIDE dgemm_avx512_12x16
#define FC_UKERNEL_NARROW dgemm_avx512_12x8
#include "ukernel_pair.h"

const fc_gemm_kernel_f64 fc_dgemm_avx512 = {12, 16, 240, 256, 768, dgemm_avx512_12x16};
const fc_gemm_kernel_f64 fc_dgemm_avx512_narrow = {12, 8, 240, 256, 768, dgemm_avx512_12x8};
FC_ISA_POP
