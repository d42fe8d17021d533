/* Register-blocked GEMM micro-kernel template: an FC_MR x (FC_NV * FC_VL) tile
 * held in FC_NV * FC_MR vector accumulators (FC_NV = 2, or 1 for the narrow
 * kernels used when C has few columns).  Each step loads FC_NV vectors of the packed
 * B panel (rows ldb apart: a packed panel, or B itself) and broadcasts FC_MR
 * values of A, whose rows lie lda apart and depth steps ksa apart (a packed
 * row-major panel, or the source matrix itself).
 *
 * The including file selects the ISA (pragma) and defines FC_T, FC_VEC, FC_VL,
 * FC_MR (6 or 12), FC_NV (1 or 2), the vector operations FC_LOAD/STORE/SET1/FMA/MUL/ZERO and
 * FC_UKERNEL, the function's name.  See internal.h for the contract. */
#if !defined(FC_T) || !defined(FC_VEC) || !defined(FC_VL) || !defined(FC_MR) || \
    !defined(FC_NV) || !defined(FC_FMA) || !defined(FC_UKERNEL)
#error "gemm_simd.tmpl.h: include it from an ISA file through gemm_pair.tmpl.h, after vec-*.h and FC_MR"
#endif

#if FC_MR == 12
#define FC_ROWS_HI(X) X(6) X(7) X(8) X(9) X(10) X(11)
#elif FC_MR == 6
#define FC_ROWS_HI(X)
#else
#error "FC_MR must be 6 or 12"
#endif
#if FC_MR == 12
#define FC_IF_MR12(x) x
#else
#define FC_IF_MR12(x)
#endif
#ifndef FC_B_PREFETCH_ROWS
#define FC_B_PREFETCH_ROWS 32
#endif
#define FC_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) FC_ROWS_HI(X)
#if FC_NV == 2
#define FC_IF_V1(x) x
#elif FC_NV == 1
#define FC_IF_V1(x)
#else
#error "FC_NV must be 1 or 2"
#endif

void FC_UKERNEL(int64_t k, const FC_T *a, int64_t lda, int64_t ksa, const FC_T *b,
                       int64_t ldb, FC_T *c, int64_t ldc, FC_T alpha, FC_T beta, int64_t seg,
                       int64_t sga, const FC_T *bias, int relu) {
    const int64_t l2 = 2 * lda;
#define FC_A_0 a0[0]
#define FC_A_1 a0[lda]
#define FC_A_2 a0[l2]
#define FC_A_3 a1[0]
#define FC_A_4 a1[lda]
#define FC_A_5 a1[l2]
#define FC_A_6 a2[0]
#define FC_A_7 a2[lda]
#define FC_A_8 a2[l2]
#define FC_A_9 a3[0]
#define FC_A_10 a3[lda]
#define FC_A_11 a3[l2]
#define FC_DECLARE(i) FC_VEC c##i##_0 = FC_ZERO(); FC_IF_V1(FC_VEC c##i##_1 = FC_ZERO();)
    FC_ROWS(FC_DECLARE)
    /* C's tile fetched for writing while the products run: a tile of a C too
     * big for the caches otherwise stalls its stores on reading the lines in
     * (both ends of each row: it may straddle two lines). */
#define FC_PREFETCH_C(i)                                       \
    __builtin_prefetch(c + (i) * ldc, 1);                      \
    __builtin_prefetch(c + (i) * ldc + FC_NV * FC_VL - 1, 1);
    FC_ROWS(FC_PREFETCH_C)
    if (seg <= 0 || seg > k) seg = k;
    for (int64_t p0 = 0; p0 < k; p0 += seg) {
    /* Row i of A is read through one of four base pointers (rows 3g..3g+2 at
     * a_g, a_g + lda, a_g + 2*lda), so every broadcast is a base+index address
     * and the pointers fit in general registers. */
    const FC_T *a0 = a + p0 / seg * sga, *a1 = a0 + 3 * lda;
#if FC_MR == 12
    const FC_T *a2 = a0 + 6 * lda, *a3 = a0 + 9 * lda;
#endif
    const int64_t len = seg < k - p0 ? seg : k - p0;
#define FC_K_STEPS(PREFETCH)                                                         \
    _Pragma("GCC unroll 4") for (int64_t p = 0; p < len; p++) {                       \
        PREFETCH                                                                     \
        const FC_VEC b0 = FC_LOAD(b);                                                \
        FC_IF_V1(const FC_VEC b1 = FC_LOAD(b + FC_VL);)                              \
        FC_ROWS(FC_STEP)                                                             \
        a0 += ksa;                                                                   \
        a1 += ksa;                                                                   \
        FC_IF_MR12(a2 += ksa; a3 += ksa;)                                            \
        b += ldb;                                                                    \
    }
#define FC_STEP(i)                              \
    {                                           \
        const FC_VEC ai = FC_SET1(FC_A_##i);    \
        c##i##_0 = FC_FMA(ai, b0, c##i##_0);    \
        FC_IF_V1(c##i##_1 = FC_FMA(ai, b1, c##i##_1);) \
    }
    /* B read in place with rows far apart (a page or more for wide B): no
     * hardware prefetcher follows such a walk, so each row is fetched
     * FC_B_PREFETCH_ROWS steps ahead, both ends of its segment (it may
     * straddle two lines).  Zen 3, 8 x 4096 x 1000: 4.4 -> 1.9 ms (8 rows
     * ahead: 3.5, 64: 2.8). */
    if (ldb > 4 * FC_NV * FC_VL) {
        FC_K_STEPS(__builtin_prefetch(b + FC_B_PREFETCH_ROWS * ldb);
                   __builtin_prefetch(b + FC_B_PREFETCH_ROWS * ldb + FC_NV * FC_VL - 1);)
    } else {
        FC_K_STEPS()
    }
    }
    /* the tile's values, then the bias and ReLU, in registers; one store */
    const FC_VEC va = FC_SET1(alpha);
    if (beta != 0) {
        const FC_VEC vb = FC_SET1(beta);
#define FC_UPDATE(i)                                                                \
    c##i##_0 = FC_FMA(va, c##i##_0, FC_MUL(vb, FC_LOAD(c + (i) * ldc)));            \
    FC_IF_V1(c##i##_1 = FC_FMA(va, c##i##_1, FC_MUL(vb, FC_LOAD(c + (i) * ldc + FC_VL)));)
        FC_ROWS(FC_UPDATE)
    } else if (alpha != 1) {
#define FC_SCALE(i) c##i##_0 = FC_MUL(va, c##i##_0); FC_IF_V1(c##i##_1 = FC_MUL(va, c##i##_1);)
        FC_ROWS(FC_SCALE)
    }
    if (bias) {
        const FC_VEC bias0 = FC_LOAD(bias);
        FC_IF_V1(const FC_VEC bias1 = FC_LOAD(bias + FC_VL);)
#define FC_BIAS(i) c##i##_0 = FC_ADD(c##i##_0, bias0); FC_IF_V1(c##i##_1 = FC_ADD(c##i##_1, bias1);)
        FC_ROWS(FC_BIAS)
    }
    if (relu) {
        const FC_VEC zero = FC_ZERO();
#define FC_RELU(i) c##i##_0 = FC_VMAX(zero, c##i##_0); FC_IF_V1(c##i##_1 = FC_VMAX(zero, c##i##_1);)
        FC_ROWS(FC_RELU)
    }
#define FC_STORE_ROW(i)                                \
    FC_STORE(c + (i) * ldc, c##i##_0);                 \
    FC_IF_V1(FC_STORE(c + (i) * ldc + FC_VL, c##i##_1);)
    FC_ROWS(FC_STORE_ROW)
}

#undef FC_K_STEPS
#undef FC_PREFETCH_C
#undef FC_IF_MR12
#undef FC_ROWS_HI
#undef FC_ROWS
#undef FC_IF_V1
#undef FC_DECLARE
#undef FC_STEP
#undef FC_UPDATE
#undef FC_SCALE
#undef FC_BIAS
#undef FC_RELU
#undef FC_STORE_ROW
#undef FC_A_0
#undef FC_A_1
#undef FC_A_2
#undef FC_A_3
#undef FC_A_4
#undef FC_A_5
#undef FC_A_6
#undef FC_A_7
#undef FC_A_8
#undef FC_A_9
#undef FC_A_10
#undef FC_A_11
