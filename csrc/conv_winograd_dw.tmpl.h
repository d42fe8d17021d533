/* dw of a 3x3 stride-1 convolution by Winograd F(3x3, 4x4): the 3x3 weight
 * gradient of each 4x4 tile of dy is a correlation of the tile with its 6x6
 * input patch, which the forward pass's points turn into 36 products per
 * channel pair instead of 144:
 *   dw = G^T [ sum over tiles (B^T d B) (.) (A dy A^T) ] G,
 * the sum over tiles being 36 GEMMs P[xi] (C x kb) += V[xi]^T D[xi] over
 * blocks of tiles (V as the forward pass's, D = A dy A^T).
 *
 * The threads share each tile block's transforms (by tiles) and then its 36
 * GEMMs (by xi), each P[xi] summed by one thread over the blocks in order:
 * the blocks do not depend on the thread count, so neither do the bits.
 * Workspace: P for one K block (like the forward pass's U), one block of V and
 * D, and per thread the transforms' scratch and a packed A block.  Included
 * by conv.tmpl.h after conv_winograd.tmpl.h. */
#ifndef FC_INSTANTIATING
#error "conv_winograd_dw.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

#ifndef FC_WINOGRAD_DW_MAX_TB
#define FC_WINOGRAD_DW_MAX_TB 256   /* tiles per block: the GEMMs' depth */
#endif

/* The forward pass's cut (tiles, K blocks, V's rows), with tile blocks of a
 * size that does not depend on the thread count. */
static void FN(winograd_dw_cut)(const FN(direct_geom) *g, FN(winograd_cut) *c) {
    FN(winograd_plan_cut)(g, 1, c);
    fc_cpu_caches caches;
    fc_cpu_caches_get(&caches);
    /* V and D of a block in about L2 (1x to 8x L2, blocks capped at 256 or
     * 1024 tiles: within the noise of each other on Zen 5, 1 and 2 threads) */
    const int64_t per_tile = FC_WINOGRAD_POINTS * (c->ldv + c->kb) * (int64_t)sizeof(T);
    c->tb = FC_MIN(c->tiles, FC_MAX(32, FC_MIN(FC_WINOGRAD_DW_MAX_TB, caches.l2 / per_tile)));
}

/* D[xi][t - t0][.] = (A dy A^T)[xi] for the 4x4 dy tile of each tile t of
 * [t0, t1), output channels [k0, k0 + kb).  Scratch: A dy as [6][4][kb], then
 * one zero row of kb. */
static void FN(winograd_dy)(const FN(direct_geom) *g, const FN(winograd_cut) *cut,
                            const T *dy, const int64_t ys[4], int64_t t0, int64_t t1,
                            int64_t block_t0, int64_t k0, T *scratch, T *d) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const int64_t kb = FC_MIN(cut->kb, g->k - k0), dplane = cut->tb * cut->kb;
    T *half = scratch, *zeros = scratch + FC_WINOGRAD_A * FC_WINOGRAD_M * kb;
    memset(zeros, 0, (size_t)kb * sizeof(T));
    for (int64_t t = t0; t < t1; t++) {
        const int64_t n = t / (cut->th * cut->tw), ti = t / cut->tw % cut->th, tj = t % cut->tw;
        for (int b = 0; b < FC_WINOGRAD_M; b++) {   /* columns: A dy */
            const T *col[FC_WINOGRAD_M];
            T *out[FC_WINOGRAD_A];
            const int64_t wo = FC_WINOGRAD_M * tj + b;
            for (int a = 0; a < FC_WINOGRAD_M; a++) {
                const int64_t ho = FC_WINOGRAD_M * ti + a;
                col[a] = ho < g->ho && wo < g->wo ? dy + n * ys[0] + ho * ys[1] + wo * ys[2] + k0
                                                  : zeros;
            }
            for (int i = 0; i < FC_WINOGRAD_A; i++) out[i] = half + (i * FC_WINOGRAD_M + b) * kb;
            kern->winograd_a(col, kb, out);
        }
        for (int i = 0; i < FC_WINOGRAD_A; i++) {   /* rows: (A dy) A^T */
            const T *row[FC_WINOGRAD_M];
            T *out[FC_WINOGRAD_A];
            for (int b = 0; b < FC_WINOGRAD_M; b++) row[b] = half + (i * FC_WINOGRAD_M + b) * kb;
            for (int j = 0; j < FC_WINOGRAD_A; j++)
                out[j] = d + (i * FC_WINOGRAD_A + j) * dplane + (t - block_t0) * cut->kb;
            kern->winograd_a(row, kb, out);
        }
    }
}

/* A = V[xi]^T: element (c, t) at v[t * ldv + c], packed as the GEMM's panels. */
static void FN(pack_a_transposed)(const void *ctx, int64_t i0, int64_t rows, int64_t p0,
                                  int64_t kc, int mr, T *dst) {
    const MATRIX *A = (const MATRIX *)ctx;
    for (int64_t p = 0; p < kc; p++) {
        const T *src = A->p + (p0 + p) * A->cs + i0;
        int64_t i = 0;
        for (; i < rows; i++) dst[i * kc + p] = src[i];
        for (; i < mr; i++) dst[i * kc + p] = 0;
    }
}

/* dw[., ., ., k0 : k0 + kb] = G^T P[.][c] G for input channels [c0, c1). */
static void FN(winograd_dw_out)(const FN(direct_geom) *g, const FN(winograd_cut) *cut,
                                const T *pbuf, int64_t k0, int64_t c0, int64_t c1, T *scratch,
                                T *dw) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const int64_t kb = FC_MIN(cut->kb, g->k - k0), pplane = g->c * cut->kb;
    for (int64_t c = c0; c < c1; c++) {
        for (int a = 0; a < FC_WINOGRAD_A; a++) {   /* columns: P G */
            const T *row[FC_WINOGRAD_A];
            T *out[3];
            for (int b = 0; b < FC_WINOGRAD_A; b++)
                row[b] = pbuf + (a * FC_WINOGRAD_A + b) * pplane + c * cut->kb;
            for (int s = 0; s < 3; s++) out[s] = scratch + (a * 3 + s) * kb;
            kern->winograd_gt(row, kb, out);
        }
        for (int s = 0; s < 3; s++) {   /* rows: G^T (P G), into dw */
            const T *col[FC_WINOGRAD_A];
            T *out[3];
            for (int a = 0; a < FC_WINOGRAD_A; a++) col[a] = scratch + (a * 3 + s) * kb;
            for (int r = 0; r < 3; r++) out[r] = dw + ((r * 3 + s) * g->c + c) * g->k + k0;
            kern->winograd_gt(col, kb, out);
        }
    }
}

/* Thread id of nt: its share of tile block [t0, t1)'s transforms, then its
 * GEMMs (xi = id, id + nt, ...), P[xi] (+)= V[xi]^T D[xi]. */
static void FN(winograd_dw_block)(const FN(direct_geom) *g, const FN(winograd_cut) *cut,
                                  const T *x, const int64_t xs[4], const T *dy,
                                  const int64_t ys[4], int64_t k0, int64_t t0, int64_t t1,
                                  int first, T *v, T *d, T *pbuf, T *scratch, T *gemm,
                                  int64_t gemm_len, int id, int nt, int *status) {
    const int64_t s0 = t0 + (t1 - t0) * id / nt, s1 = t0 + (t1 - t0) * (id + 1) / nt;
    /* V's rows are those of the block: shift so tile t lands at row t - t0 */
    FN(winograd_input)(g, cut, x, xs, s0, s1, scratch, v + (s0 - t0) * cut->ldv);
    FN(winograd_dy)(g, cut, dy, ys, s0, s1, t0, k0, scratch, d);
#pragma omp barrier
    for (int xi = id; xi < FC_WINOGRAD_POINTS; xi += nt) {
        MATRIX A = {v + xi * cut->tb * cut->ldv, 1, cut->ldv};
        MATRIX B = {d + xi * cut->tb * cut->kb, cut->kb, 1};
        PLAN pl = {0};
        pl.m = g->c; pl.n = FC_MIN(cut->kb, g->k - k0); pl.k = t1 - t0;
        pl.pack_a = FN(pack_a_transposed); pl.a_ctx = &A;
        pl.pack_b = FN(fc_pack_b_matrix); pl.b_ctx = &B;
        pl.c = pbuf + xi * g->c * cut->kb; pl.rsc = cut->kb; pl.csc = 1;
        pl.alpha = 1; pl.beta = first ? 0 : 1;
        pl.scratch = gemm; pl.scratch_len = gemm_len;
        if (FN(fc_gemm_run)(&pl, 1) != FC_OK) {   /* only if the scratch fell short */
#pragma omp atomic write
            *status = FC_ENOMEM;
        }
    }
#pragma omp barrier   /* V and D are rewritten next */
}

static int FN(winograd_dw)(const FN(direct_geom) *g, const T *x, const int64_t xs[4],
                           const T *dy, const int64_t ys[4], T *dw, int nthreads) {
    FN(winograd_cut) cut;
    FN(winograd_dw_cut)(g, &cut);
    const int64_t nw = 9 * g->c * g->k;
    if (cut.tiles == 0) {
        for (int64_t i = 0; i < nw; i++) dw[i] = 0;
        return FC_OK;
    }
    PLAN probe = {0};   /* the GEMMs' scratch: full K blocks and the last one */
    probe.m = g->c; probe.n = cut.kb; probe.k = cut.tb;
    int64_t gemm_len = FN(fc_gemm_scratch_len)(&probe, 1);
    probe.n = g->k - (cut.nkb - 1) * cut.kb;
    gemm_len = FC_MAX(gemm_len, FN(fc_gemm_scratch_len)(&probe, 1));
    const int64_t scratch_len = FC_MAX(FC_WINOGRAD_POINTS * g->c + g->c,
                                       FC_WINOGRAD_POINTS * cut.kb + cut.kb);
    const int64_t p_len = FC_WINOGRAD_POINTS * g->c * cut.kb;
    const int64_t v_len = FC_WINOGRAD_POINTS * cut.tb * cut.ldv;
    const int64_t d_len = FC_WINOGRAD_POINTS * cut.tb * cut.kb;
    const int64_t per_thread = scratch_len + gemm_len;
    T *buf = (T *)fc_alloc(p_len + v_len + d_len + (int64_t)nthreads * per_thread, sizeof(T));
    if (!buf) return FC_ENOMEM;
    T *pbuf = buf, *v = pbuf + p_len, *d = v + v_len, *mine = d + d_len;
    const int64_t nblocks = FC_CEIL_DIV(cut.tiles, cut.tb);
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        const int id = fc_thread_id(), nt = fc_thread_count();
        T *scratch = mine + id * per_thread, *gemm = scratch + scratch_len;
        for (int64_t k0 = 0; k0 < g->k; k0 += cut.kb) {
            for (int64_t blk = 0; blk < nblocks; blk++)
                FN(winograd_dw_block)(g, &cut, x, xs, dy, ys, k0, blk * cut.tb,
                                      FC_MIN(cut.tiles, (blk + 1) * cut.tb), blk == 0, v, d,
                                      pbuf, scratch, gemm, gemm_len, id, nt, &status);
            FN(winograd_dw_out)(g, &cut, pbuf, k0, g->c * id / nt, g->c * (id + 1) / nt, scratch,
                                dw);
#pragma omp barrier   /* P is rewritten by the next K block */
        }
    }
    fc_free(buf);
    return status;
}
