/* float32 vectors in AVX2 + FMA, for the micro-kernel templates
 * (gemm_simd.tmpl.h, conv_simd.tmpl.h): include after isa_avx2.h. */
#define FC_T float
#define FC_VEC __m256
#define FC_VL 8
#define FC_LOAD _mm256_loadu_ps
#define FC_STORE _mm256_storeu_ps
/* a non-temporal store (no read of the line first) of a vector-aligned p */
#define FC_STREAM _mm256_stream_ps
#define FC_STREAM_FENCE _mm_sfence
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
/* v[0..7] (8 x 8 floats, a row each) transposed in place (transpose_simd.tmpl.h):
 * pairs of rows interleaved, then pairs of pairs, then the 128-bit halves. */
#define FC_TRANSPOSE_VL(v)                                                                    \
    do {                                                                                      \
        __m256 t_[8], s_[8];                                                                  \
        for (int p_ = 0; p_ < 4; p_++) {                                                      \
            t_[2 * p_] = _mm256_unpacklo_ps(v[2 * p_], v[2 * p_ + 1]);                        \
            t_[2 * p_ + 1] = _mm256_unpackhi_ps(v[2 * p_], v[2 * p_ + 1]);                    \
        }                                                                                     \
        for (int q_ = 0; q_ < 2; q_++) { /* rows 4q.. : columns 0 1 2 3 of each half */       \
            s_[4 * q_] = _mm256_shuffle_ps(t_[4 * q_], t_[4 * q_ + 2], 0x44);                 \
            s_[4 * q_ + 1] = _mm256_shuffle_ps(t_[4 * q_], t_[4 * q_ + 2], 0xEE);             \
            s_[4 * q_ + 2] = _mm256_shuffle_ps(t_[4 * q_ + 1], t_[4 * q_ + 3], 0x44);         \
            s_[4 * q_ + 3] = _mm256_shuffle_ps(t_[4 * q_ + 1], t_[4 * q_ + 3], 0xEE);         \
        }                                                                                     \
        for (int c_ = 0; c_ < 4; c_++) {                                                      \
            v[c_] = _mm256_permute2f128_ps(s_[c_], s_[4 + c_], 0x20);                         \
            v[4 + c_] = _mm256_permute2f128_ps(s_[c_], s_[4 + c_], 0x31);                     \
        }                                                                                     \
    } while (0)
