/* float64 vectors in AVX-512, for the micro-kernel templates
 * (gemm_simd.tmpl.h, conv_simd.tmpl.h): include after isa_avx512.h. */
#define FC_T double
#define FC_VEC __m512d
#define FC_VL 8
#define FC_LOAD _mm512_loadu_pd
#define FC_STORE _mm512_storeu_pd
#define FC_SET1 _mm512_set1_pd
#define FC_FMA _mm512_fmadd_pd
#define FC_MUL _mm512_mul_pd
#define FC_ADD _mm512_add_pd
#define FC_ZERO _mm512_setzero_pd
