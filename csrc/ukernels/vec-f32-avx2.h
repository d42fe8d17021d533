/* float32 vectors in AVX2 + FMA, for the micro-kernel templates
 * (gemm_simd.tmpl.h, conv_simd.tmpl.h): include after isa_avx2.h. */
#define FC_T float
#define FC_VEC __m256
#define FC_VL 8
#define FC_LOAD _mm256_loadu_ps
#define FC_STORE _mm256_storeu_ps
#define FC_SET1 _mm256_set1_ps
#define FC_FMA _mm256_fmadd_ps
#define FC_MUL _mm256_mul_ps
#define FC_ADD _mm256_add_ps
#define FC_ZERO _mm256_setzero_ps
