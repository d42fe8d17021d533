/* float64 vectors in AVX2 + FMA, for the micro-kernel templates
 * (gemm_simd.tmpl.h, conv_simd.tmpl.h): include after isa_avx2.h. */
#define FC_T double
#define FC_VEC __m256d
#define FC_VL 4
#define FC_LOAD _mm256_loadu_pd
#define FC_STORE _mm256_storeu_pd
/* a non-temporal store (no read of the line first) of a vector-aligned p */
#define FC_STREAM _mm256_stream_pd
#define FC_STREAM_FENCE _mm_sfence
#define FC_SET1 _mm256_set1_pd
#define FC_FMA _mm256_fmadd_pd
#define FC_MUL _mm256_mul_pd
#define FC_ADD _mm256_add_pd
/* max(a, b) is b when either is NaN: FC_VMAX(zero, v) is ReLU with NaN kept */
#define FC_VMAX _mm256_max_pd
#define FC_ZERO _mm256_setzero_pd
/* Two-source permute: lane l of the result is lane idx[l] of (a, b) counted
 * in 32-bit units (a double is two; 8 and up are b's); indices from
 * FC_LOAD_IDX (int32_t).  AVX2 permutes one source: both, then a blend on
 * index bit 3. */
#define FC_IDX __m256i
#define FC_IDX_UNITS 8
#define FC_LOAD_IDX(p) _mm256_loadu_si256((const __m256i *)(p))
#define FC_PERMUTE2(a, b, i)                                                                  \
    _mm256_castps_pd(_mm256_blendv_ps(                                                        \
        _mm256_permutevar8x32_ps(_mm256_castpd_ps(a), i),                                     \
        _mm256_permutevar8x32_ps(_mm256_castpd_ps(b), i), _mm256_castsi256_ps(_mm256_slli_epi32(i, 28))))
/* v[0..3] (4 x 4 doubles, a row each) transposed in place (transpose_simd.tmpl.h):
 * pairs of rows interleaved, then the 128-bit halves. */
#define FC_TRANSPOSE_VL(v)                                                                    \
    do {                                                                                      \
        const __m256d t0_ = _mm256_unpacklo_pd(v[0], v[1]), t1_ = _mm256_unpackhi_pd(v[0], v[1]); \
        const __m256d t2_ = _mm256_unpacklo_pd(v[2], v[3]), t3_ = _mm256_unpackhi_pd(v[2], v[3]); \
        v[0] = _mm256_permute2f128_pd(t0_, t2_, 0x20);                                        \
        v[1] = _mm256_permute2f128_pd(t1_, t3_, 0x20);                                        \
        v[2] = _mm256_permute2f128_pd(t0_, t2_, 0x31);                                        \
        v[3] = _mm256_permute2f128_pd(t1_, t3_, 0x31);                                        \
    } while (0)
