/* Register-blocked GEMM micro-kernel template: an FC_MR x (2 * FC_VL) tile held
 * in 2 * FC_MR vector accumulators.  Each step loads two vectors of the packed
 * B panel and broadcasts FC_MR values of the packed A panel.
 *
 * The including file selects the ISA (pragma) and defines FC_T, FC_VEC, FC_VL,
 * FC_MR (6 or 12), the vector operations FC_LOAD/STORE/SET1/FMA/MUL/ZERO and
 * FC_UKERNEL, the function's name.  See internal.h for the contract. */

#if FC_MR == 12
#define FC_ROWS_HI(X) X(6) X(7) X(8) X(9) X(10) X(11)
#elif FC_MR == 6
#define FC_ROWS_HI(X)
#else
#error "FC_MR must be 6 or 12"
#endif
#define FC_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) FC_ROWS_HI(X)

static void FC_UKERNEL(int64_t k, const FC_T *a, const FC_T *b, FC_T *c, int64_t ldc,
                       FC_T alpha, FC_T beta) {
#define FC_DECLARE(i) FC_VEC c##i##_0 = FC_ZERO(), c##i##_1 = FC_ZERO();
    FC_ROWS(FC_DECLARE)
#pragma GCC unroll 4
    for (int64_t p = 0; p < k; p++) {
        const FC_VEC b0 = FC_LOAD(b), b1 = FC_LOAD(b + FC_VL);
#define FC_STEP(i)                              \
    {                                           \
        const FC_VEC ai = FC_SET1(a[i]);        \
        c##i##_0 = FC_FMA(ai, b0, c##i##_0);    \
        c##i##_1 = FC_FMA(ai, b1, c##i##_1);    \
    }
        FC_ROWS(FC_STEP)
        a += FC_MR;
        b += 2 * FC_VL;
    }
    const FC_VEC va = FC_SET1(alpha);
    if (beta == 0) {
        if (alpha == 1) {
#define FC_STORE_PLAIN(i)                             \
    FC_STORE(c + (i) * ldc, c##i##_0);                \
    FC_STORE(c + (i) * ldc + FC_VL, c##i##_1);
            FC_ROWS(FC_STORE_PLAIN)
        } else {
#define FC_STORE_SCALED(i)                                      \
    FC_STORE(c + (i) * ldc, FC_MUL(va, c##i##_0));              \
    FC_STORE(c + (i) * ldc + FC_VL, FC_MUL(va, c##i##_1));
            FC_ROWS(FC_STORE_SCALED)
        }
    } else {
        const FC_VEC vb = FC_SET1(beta);
#define FC_STORE_UPDATE(i)                                                                 \
    FC_STORE(c + (i) * ldc, FC_FMA(va, c##i##_0, FC_MUL(vb, FC_LOAD(c + (i) * ldc))));    \
    FC_STORE(c + (i) * ldc + FC_VL,                                                        \
             FC_FMA(va, c##i##_1, FC_MUL(vb, FC_LOAD(c + (i) * ldc + FC_VL))));
        FC_ROWS(FC_STORE_UPDATE)
    }
}

#undef FC_ROWS_HI
#undef FC_ROWS
#undef FC_DECLARE
#undef FC_STEP
#undef FC_STORE_PLAIN
#undef FC_STORE_SCALED
#undef FC_STORE_UPDATE
