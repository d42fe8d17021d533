/* float32 vectors in AVX-512, for the micro-kernel templates
 * (gemm_simd.tmpl.h, conv_simd.tmpl.h): include after isa_avx512.h. */
#define FC_T float
#define FC_VEC __m512
#define FC_VL 16
#define FC_LOAD _mm512_loadu_ps
#define FC_STORE _mm512_storeu_ps
/* a non-temporal store (no read of the line first) of a vector-aligned p */
#define FC_STREAM _mm512_stream_ps
#define FC_STREAM_FENCE _mm_sfence
#define FC_SET1 _mm512_set1_ps
#define FC_FMA _mm512_fmadd_ps
#define FC_MUL _mm512_mul_ps
#define FC_ADD _mm512_add_ps
/* max(a, b) is b when either is NaN: FC_VMAX(zero, v) is ReLU with NaN kept */
#define FC_VMAX _mm512_max_ps
#define FC_ZERO _mm512_setzero_ps
/* Two-source permute: lane l of the result is lane idx[l] of (a, b) counted
 * in 32-bit units (16 and up are b's); indices from FC_LOAD_IDX (int32_t). */
#define FC_IDX __m512i
#define FC_IDX_UNITS 16
#define FC_LOAD_IDX(p) _mm512_loadu_si512((const void *)(p))
#define FC_PERMUTE2(a, b, i) _mm512_permutex2var_ps(a, i, b)
