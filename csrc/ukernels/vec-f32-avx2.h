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
/* max(a, b) is b when either is NaN: FC_VMAX(zero, v) is ReLU with NaN kept */
#define FC_VMAX _mm256_max_ps
#define FC_ZERO _mm256_setzero_ps
/* Two-source permute: lane l of the result is lane idx[l] of (a, b) counted
 * in 32-bit units (8 and up are b's); indices from FC_LOAD_IDX (int32_t).
 * AVX2 permutes one source: both, then a blend on index bit 3. */
#define FC_IDX __m256i
#define FC_IDX_UNITS 8
#define FC_LOAD_IDX(p) _mm256_loadu_si256((const __m256i *)(p))
#define FC_PERMUTE2(a, b, i)                                                                  \
    _mm256_blendv_ps(_mm256_permutevar8x32_ps(a, i), _mm256_permutevar8x32_ps(b, i),         \
                     _mm256_castsi256_ps(_mm256_slli_epi32(i, 28)))
