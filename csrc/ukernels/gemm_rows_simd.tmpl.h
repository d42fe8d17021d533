/* gemm_rows: sum[i * n + j] += sum_{p < kc} at[p * m + i] * b[p * rsb + j]
 * for i < m, j < n: a product of few rows (m <= FC_GEMM_ROWS_MAX_M) that
 * streams B's rows in order, eight at a time, across their whole width.  The
 * micro-kernels walk B NR columns at a time down its rows, one page apart for
 * a 1000-column fc layer, which no prefetcher follows: 8 x 1024 x 1000 took
 * 1.23 ms from memory in place, 0.82 packed, against NumPy's 0.58 (Zen 4).
 * Here B's eight rows are eight sequential streams and the few rows of sums
 * stay in L1/L2; each element's terms are added in the order of p.
 * Included by conv_simd.tmpl.h. */
#if !defined(FC_T) || !defined(FC_VL) || !defined(FC_DIRECT_FN)
#error "gemm_rows_simd.tmpl.h: include it through conv_simd.tmpl.h"
#endif

#define FC_ROWS_PB 8   /* rows of B per pass over the sums */

static void FC_DIRECT_FN(gemm_rows, _)(int64_t m, int64_t n, int64_t kc, const FC_T *at,
                                       const FC_T *b, int64_t rsb, FC_T *sum) {
    const int64_t nv = n / FC_VL * FC_VL;
    int64_t p = 0;
    for (; p + FC_ROWS_PB <= kc; p += FC_ROWS_PB, at += FC_ROWS_PB * m, b += FC_ROWS_PB * rsb) {
        for (int64_t j = 0; j < nv; j += FC_VL) {
            FC_VEC bv[FC_ROWS_PB];
            for (int q = 0; q < FC_ROWS_PB; q++) bv[q] = FC_LOAD(b + q * rsb + j);
            for (int64_t i = 0; i < m; i++) {
                FC_VEC s = FC_LOAD(sum + i * n + j);
                for (int q = 0; q < FC_ROWS_PB; q++) s = FC_FMA(FC_SET1(at[q * m + i]), bv[q], s);
                FC_STORE(sum + i * n + j, s);
            }
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = nv; j < n; j++) {
                FC_T s = sum[i * n + j];
                for (int q = 0; q < FC_ROWS_PB; q++) s += at[q * m + i] * b[q * rsb + j];
                sum[i * n + j] = s;
            }
    }
    for (; p < kc; p++, at += m, b += rsb)   /* the last rows, one at a time */
        for (int64_t i = 0; i < m; i++) {
            int64_t j = 0;
            for (; j < nv; j += FC_VL)
                FC_STORE(sum + i * n + j,
                         FC_FMA(FC_SET1(at[i]), FC_LOAD(b + j), FC_LOAD(sum + i * n + j)));
            for (; j < n; j++) sum[i * n + j] += at[i] * b[j];
        }
}

#undef FC_ROWS_PB
