/* dw of a stride-1 convolution (one group, no dilation) without im2col: with
 * each image zero-padded and its output pixels numbered virtually as in
 * conv_direct.tmpl.h (q = ho * wp + wo, wo < wp),
 *   dw[(t, c), k] = sum over images and q of xpad[(q + off[t]) * C + c] * dyv[q * K + k]
 * where dyv is dy laid out on the virtual pixels (zero in the dropped columns).
 * The GEMM micro-kernel reads both operands in place: A's rows (channels c of
 * tap t) are adjacent and its depth steps (pixels) C apart, B's rows are dy's
 * pixels, K apart.  The packed GEMM would copy the whole im2col matrix, which
 * meets only K rows of A per element.  Tiles never cross a tap; rows or
 * columns past C or K are computed into a scratch tile and dropped.  Per image,
 * depth blocks run in order and each tile has one owner, so any thread count
 * gives the same bits.  Workspace: the padded image and dyv (capped). */
#ifndef FC_INSTANTIATING
#error "conv_dw_inplace.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

/* Buffer lengths (with the slack the edge tiles read); 0 when over the cap. */
static int64_t FN(inplace_dw_sizes)(const fc_conv_desc *d, int64_t *wp, int64_t *dyv_len) {
    const int64_t limit = FC_DIRECT_MAX_BYTES / (int64_t)sizeof(T);
    *wp = d->wo + d->s - 1;
    const int64_t hp = d->ho + d->r - 1, slack = FC_MAX_MR + FC_MAX_NR;
    if (*wp > limit / hp || hp * *wp + d->s > limit / d->c || d->ho * *wp > limit / d->k) return 0;
    *dyv_len = d->ho * *wp * d->k + slack;
    return (hp * *wp + d->s) * d->c + slack;
}

/* One MR x NR tile of dw (rows c0.. of tap t, columns k0..) += the depth block [q0, q0 + kc). */
static void FN(inplace_dw_tile)(const fc_conv_desc *d, const FN(fc_gemm_kernel) *kd,
                                const T *xpad, const T *dyv, int64_t off, int64_t t, int64_t c0,
                                int64_t k0, int64_t q0, int64_t kc, T *dw) {
    const int64_t rows = FC_MIN(kd->mr, d->c - c0), cols = FC_MIN(kd->nr, d->k - k0);
    const T *a = xpad + (q0 + off) * d->c + c0, *b = dyv + q0 * d->k + k0;
    T *c = dw + (t * d->c + c0) * d->k + k0;
    if (rows == kd->mr && cols == kd->nr) {
        kd->run(kc, a, 1, d->c, b, d->k, c, d->k, 1, 1, kc, 0, NULL, 0);
        return;
    }
    T tile[FC_MAX_MR * FC_MAX_NR] __attribute__((aligned(64)));
    FC_EDGE_RUN(kd, rows, cols)(kc, a, 1, d->c, b, d->k, tile, kd->nr, 1, 0, kc, 0, NULL, 0);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) c[i * d->k + j] += tile[i * kd->nr + j];
}

static int FN(inplace_dw)(const fc_conv_desc *d, const T *x, const T *dy, T *dw, int nthreads) {
    const FN(fc_gemm_kernel) *kd = FN(fc_gemm_kernel_for)(d->k);
    const int64_t taps = d->r * d->s, rtiles = FC_CEIL_DIV(d->c, kd->mr);
    const int64_t tiles = taps * rtiles * FC_CEIL_DIV(d->k, kd->nr);
    int64_t wp = 0, dyv_len = 0;
    const int64_t pad_len = FN(inplace_dw_sizes)(d, &wp, &dyv_len), q_total = d->ho * wp;
    assert(pad_len > 0);
    memset(dw, 0, (size_t)(taps * d->c * d->k) * sizeof(T));
    T *xpad = (T *)fc_alloc(pad_len, sizeof(T)), *dyv = (T *)fc_alloc(dyv_len, sizeof(T));
    if (!xpad || !dyv) {
        fc_free(xpad);
        fc_free(dyv);
        return FC_ENOMEM;
    }
    memset(xpad, 0, (size_t)pad_len * sizeof(T));   /* the rows are rewritten per image, */
    memset(dyv, 0, (size_t)dyv_len * sizeof(T));    /* the slack past them stays zero */
    /* one parallel region: per image, the threads build the padded copies by
     * rows, then share each depth block's tiles (static: fixed owners) */
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && tiles > 1)
    for (int64_t n = 0; n < d->n; n++) {
#pragma omp for schedule(static)
        for (int64_t hp = 0; hp < d->ho + d->r - 1; hp++) {
            T *row = xpad + hp * wp * d->c;
            memset(row, 0, (size_t)(wp * d->c) * sizeof(T));
            const int64_t h = hp - d->pad_top;
            if (h >= 0 && h < d->h)
                for (int64_t w = 0; w < d->w; w++) {
                    const T *src = x + n * d->xs[0] + h * d->xs[1] + w * d->xs[2];
                    T *dst = row + (w + d->pad_left) * d->c;
                    for (int64_t c = 0; c < d->c; c++) dst[c] = src[c * d->xs[3]];
                }
            if (hp < d->ho) {
                T *drow = dyv + hp * wp * d->k;
                memset(drow, 0, (size_t)(wp * d->k) * sizeof(T));
                for (int64_t wo = 0; wo < d->wo; wo++) {
                    const T *src = dy + n * d->ys[0] + hp * d->ys[1] + wo * d->ys[2];
                    for (int64_t k = 0; k < d->k; k++) drow[wo * d->k + k] = src[k * d->ys[3]];
                }
            }
        }
        for (int64_t q0 = 0; q0 < q_total; q0 += kd->kc) {
            const int64_t kc = FC_MIN(kd->kc, q_total - q0);
#pragma omp for schedule(static)
            for (int64_t it = 0; it < tiles; it++) {
                const int64_t t = it / (tiles / taps), rest = it % (tiles / taps);
                const int64_t c0 = rest % rtiles * kd->mr, k0 = rest / rtiles * kd->nr;
                FN(inplace_dw_tile)(d, kd, xpad, dyv, (t / d->s) * wp + t % d->s, t, c0, k0, q0,
                                    kc, dw);
            }
        }
    }
    fc_free(xpad);
    fc_free(dyv);
    return FC_OK;
}
