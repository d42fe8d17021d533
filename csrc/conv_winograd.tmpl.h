/* Winograd F(2x2, 3x3) for 3x3, stride-1 convolutions (forward, and dx, which
 * is a 3x3 stride-1 convolution of dy): each 2x2 block of outputs ("tile")
 * comes from a 4x4 input patch with 16 multiplies per channel pair instead of
 * 36.  Per block of tiles: the patches are transformed (V = B^T d B), 16 GEMMs
 * (tiles x C) * (C x K) multiply them with the transformed kernel
 * (U = G g G^T), and the products are transformed back (Y = A^T M A).
 * Included by conv.tmpl.h with T, SFX and FN defined.  NHWC with unit channel
 * strides only.  Workspace: U (16 C K values, capped) plus per thread one
 * block of V and M (about 2 MiB each in float32). */
#ifndef FC_INSTANTIATING
#error "conv_winograd.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

#ifndef FC_WINOGRAD_BLOCK_VALUES
#define FC_WINOGRAD_BLOCK_VALUES (1 << 19)    /* values in one V or M block */
#define FC_WINOGRAD_MAX_U ((int64_t)1 << 21)  /* values of U (8 MiB in float32) */
#endif

/* Whether Winograd can run convolution g (3x3, stride 1 given by the caller)
 * reading strides xs and writing strides os. */
static int FN(winograd_applies)(const FN(direct_geom) *g, const int64_t xs[4], const int64_t os[4]) {
    return g->r == 3 && g->s == 3 && xs[3] == 1 && os[3] == 1 && g->c * g->k <= FC_WINOGRAD_MAX_U / 16;
}

/* U[xi][c][k] = (G g G^T)[xi] for the (3, 3, c, k) kernel w. */
static void FN(winograd_kernel)(const T *w, int64_t c, int64_t k, T *u) {
    const int64_t ck = c * k;
    for (int64_t e = 0; e < ck; e++) {
        T gk[3][3], t[4][3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) gk[i][j] = w[(i * 3 + j) * ck + e];
        for (int j = 0; j < 3; j++) {
            t[0][j] = gk[0][j];
            t[1][j] = (gk[0][j] + gk[1][j] + gk[2][j]) / 2;
            t[2][j] = (gk[0][j] - gk[1][j] + gk[2][j]) / 2;
            t[3][j] = gk[2][j];
        }
        for (int i = 0; i < 4; i++) {
            u[(i * 4 + 0) * ck + e] = t[i][0];
            u[(i * 4 + 1) * ck + e] = (t[i][0] + t[i][1] + t[i][2]) / 2;
            u[(i * 4 + 2) * ck + e] = (t[i][0] - t[i][1] + t[i][2]) / 2;
            u[(i * 4 + 3) * ck + e] = t[i][2];
        }
    }
}

/* V[xi][t - t0][c] = (B^T d B)[xi] for the 4x4 input patch d of each tile t of
 * [t0, t1), by the ISA's 1-D transforms over contiguous channels.  Scratch: the patch as rows [16][c] (zeros outside x), then B^T d. */
static void FN(winograd_input)(const FN(direct_geom) *g, const T *x, const int64_t xs[4],
                               int64_t th, int64_t tw, int64_t t0, int64_t t1, int64_t tb,
                               T *scratch, T *v) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const int64_t c = g->c, plane = tb * c;
    T *patch = scratch, *half = scratch + 16 * c;
    for (int64_t t = t0; t < t1; t++) {
        const int64_t n = t / (th * tw), ti = t / tw % th, tj = t % tw;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                const int64_t h = 2 * ti - g->pt + i, x0 = 2 * tj - g->pl + j;
                T *dst = patch + (i * 4 + j) * c;
                if (h >= 0 && h < g->h && x0 >= 0 && x0 < g->w)
                    memcpy(dst, x + n * xs[0] + h * xs[1] + x0 * xs[2], (size_t)c * sizeof(T));
                else
                    memset(dst, 0, (size_t)c * sizeof(T));
            }
        for (int j = 0; j < 4; j++)   /* columns: B^T d */
            kern->winograd_bt(patch + j * c, patch + (4 + j) * c, patch + (8 + j) * c,
                            patch + (12 + j) * c, c, half + j * c, half + (4 + j) * c,
                            half + (8 + j) * c, half + (12 + j) * c);
        T *out = v + (t - t0) * c;
        for (int i = 0; i < 4; i++)   /* rows: (B^T d) B */
            kern->winograd_bt(half + 4 * i * c, half + (4 * i + 1) * c, half + (4 * i + 2) * c,
                            half + (4 * i + 3) * c, c, out + 4 * i * plane,
                            out + (4 * i + 1) * plane, out + (4 * i + 2) * plane,
                            out + (4 * i + 3) * plane);
    }
}

/* y's 2x2 block of each tile t of [t0, t1) = A^T M[.][t - t0] A + bias, then
 * the activation; outputs past the last row or column are dropped.  Scratch:
 * A^T M as rows [8][k], then the 2x2 block as rows [4][k]. */
static void FN(winograd_output)(const FN(direct_geom) *g, const T *m, int64_t th, int64_t tw,
                                int64_t t0, int64_t t1, int64_t tb, const T *bias, int act,
                                T act_alpha, T *scratch, T *y, const int64_t ys[4]) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const int64_t k = g->k, plane = tb * k;
    T *half = scratch, *quad = scratch + 8 * k;
    for (int64_t t = t0; t < t1; t++) {
        const int64_t n = t / (th * tw), ti = t / tw % th, tj = t % tw;
        const T *in = m + (t - t0) * k;
        for (int j = 0; j < 4; j++)   /* columns: A^T M */
            kern->winograd_at(in + j * plane, in + (4 + j) * plane, in + (8 + j) * plane,
                            in + (12 + j) * plane, k, half + j * k, half + (4 + j) * k);
        for (int a = 0; a < 2; a++)   /* rows: (A^T M) A */
            kern->winograd_at(half + 4 * a * k, half + (4 * a + 1) * k, half + (4 * a + 2) * k,
                            half + (4 * a + 3) * k, k, quad + 2 * a * k, quad + (2 * a + 1) * k);
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) {
                const int64_t h = 2 * ti + a, x0 = 2 * tj + b;
                if (h >= g->ho || x0 >= g->wo) continue;
                T *restrict q = quad + (2 * a + b) * k;
                if (bias)
                    for (int64_t kk = 0; kk < k; kk++) q[kk] += bias[kk];
                FN(fc_activate_array)(q, y + n * ys[0] + h * ys[1] + x0 * ys[2], k, act, act_alpha);
            }
    }
}

/* One block of tiles [t0, t1): transform in, 16 GEMMs, transform out. */
static int FN(winograd_block)(const FN(direct_geom) *g, const T *x, const int64_t xs[4],
                              const T *u, int64_t th, int64_t tw, int64_t t0, int64_t t1,
                              int64_t tb, T *scratch, T *v, T *mbuf, const T *bias, int act,
                              T act_alpha, T *y, const int64_t ys[4], int gemm_threads) {
    FN(winograd_input)(g, x, xs, th, tw, t0, t1, tb, scratch, v);
    int64_t a_off[16], b_off[16];
    for (int i = 0; i < 16; i++) {
        a_off[i] = i * tb * g->c;
        b_off[i] = i * g->c * g->k;
    }
    fc_gemm_args ga = {0};
    ga.m = t1 - t0; ga.n = g->k; ga.k = g->c;
    ga.a = v; ga.rsa = g->c; ga.csa = 1;
    ga.b = u; ga.rsb = g->k; ga.csb = 1;
    ga.c = mbuf; ga.rsc = g->k; ga.csc = 1;
    ga.alpha = 1; ga.beta = 0;
    const int status = FN(fc_gemm_batched)(&ga, 16, a_off, b_off, tb * g->k, gemm_threads);
    if (status == FC_OK)
        FN(winograd_output)(g, mbuf, th, tw, t0, t1, tb, bias, act, act_alpha, scratch, y, ys);
    return status;
}

/* Blocks [b0, b1) of tiles with their own V, M and scratch buffers. */
static int FN(winograd_blocks)(const FN(direct_geom) *g, const T *x, const int64_t xs[4],
                               const T *u, int64_t th, int64_t tw, int64_t tiles, int64_t tb,
                               int64_t b0, int64_t b1, const T *bias, int act, T act_alpha,
                               T *y, const int64_t ys[4], int gemm_threads) {
    T *v = (T *)fc_alloc(16 * tb * g->c, sizeof(T));
    T *mbuf = (T *)fc_alloc(16 * tb * g->k, sizeof(T));
    T *scratch = (T *)fc_alloc(32 * FC_MAX(g->c, g->k), sizeof(T));   /* the transforms' */
    int status = v && mbuf && scratch ? FC_OK : FC_ENOMEM;
    for (int64_t b = b0; b < b1 && status == FC_OK; b++)
        status = FN(winograd_block)(g, x, xs, u, th, tw, b * tb, FC_MIN(tiles, (b + 1) * tb), tb,
                                    scratch, v, mbuf, bias, act, act_alpha, y, ys, gemm_threads);
    fc_free(v);
    fc_free(mbuf);
    fc_free(scratch);
    return status;
}

/* y = act(conv(x, w) + bias) for a 3x3 stride-1 convolution, w as (3, 3, c, k).
 * Blocks of tiles go to threads when there are enough of them; otherwise the
 * blocks run in turn, each GEMM using every thread (no nested parallel region). */
static int FN(winograd_conv)(const FN(direct_geom) *g, const T *x, const int64_t xs[4],
                             const T *w, const T *bias, int act, T act_alpha, T *y,
                             const int64_t ys[4], int nthreads) {
    const int64_t th = FC_CEIL_DIV(g->ho, 2), tw = FC_CEIL_DIV(g->wo, 2), tiles = g->n * th * tw;
    if (tiles == 0) return FC_OK;
    /* Blocks of at most ~2 MiB, and small enough for every thread to get one
     * where there are enough tiles (a tile's result does not depend on its
     * block, so neither do the bits on the thread count). */
    const int64_t tb_cap = FC_MAX(16, FC_WINOGRAD_BLOCK_VALUES / (16 * FC_MAX(g->c, g->k)));
    const int64_t tb = FC_MIN(tiles, FC_MIN(tb_cap, FC_MAX(16, FC_CEIL_DIV(tiles, nthreads))));
    const int64_t nblocks = FC_CEIL_DIV(tiles, tb);
    T *u = (T *)fc_alloc(16 * g->c * g->k, sizeof(T));
    if (!u) return FC_ENOMEM;
    FN(winograd_kernel)(w, g->c, g->k, u);
    int status = FC_OK;
    if (nthreads > 1 && nblocks >= nthreads) {
#pragma omp parallel num_threads(nthreads)
        {
            const int64_t id = fc_thread_id(), nt = fc_thread_count();
            if (FN(winograd_blocks)(g, x, xs, u, th, tw, tiles, tb, id * nblocks / nt,
                                    (id + 1) * nblocks / nt, bias, act, act_alpha, y, ys, 1) != FC_OK) {
#pragma omp atomic write
                status = FC_ENOMEM;
            }
        }
    } else {
        status = FN(winograd_blocks)(g, x, xs, u, th, tw, tiles, tb, 0, nblocks, bias, act,
                                     act_alpha, y, ys, nthreads);
    }
    fc_free(u);
    return status;
}
