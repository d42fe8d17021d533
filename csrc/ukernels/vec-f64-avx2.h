/* float64 vectors in AVX2 + FMA, for the micro-kernel templates
 * (gemm_simd.tmpl.h, conv_simd.tmpl.h): include after isa_avx2.h. */
#define FC_T double
#define FC_VEC __m256d
#define FC_VL 4
#define FC_LOAD _mm256_loadu_pd
#define FC_STORE _mm256_storeu_pd
#define FC_SET1 _mm256_set1_pd
#define FC_FMA _mm256_fmadd_pd
#define FC_MUL _mm256_mul_pd
#define FC_ADD _mm256_add_pd
#define FC_ZERO _mm256_setzero_pd
