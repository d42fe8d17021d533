/* float32 vectors in AVX-512, for the micro-kernel templates
 * (gemm_simd.tmpl.h, conv_simd.tmpl.h): include after isa_avx512.h. */
#define FC_T float
#define FC_VEC __m512
#define FC_VL 16
#define FC_LOAD _mm512_loadu_ps
#define FC_STORE _mm512_storeu_ps
#define FC_SET1 _mm512_set1_ps
#define FC_FMA _mm512_fmadd_ps
#define FC_MUL _mm512_mul_ps
#define FC_ADD _mm512_add_ps
#define FC_ZERO _mm512_setzero_ps
