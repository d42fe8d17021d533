/* The "rows" variant of the forward GEMM, for inputs with few channels (stems:
 * 1-8 channels, any stride, large kernels), for one dtype.  In NHWC the
 * receptive field of one kernel row (S taps x C channels) is S*C consecutive
 * values of x, and consecutive output pixels of an output row start
 * stride_w*C values apart: the micro-kernel reads those rows of x in place as
 * its A panel (lda = stride_w*C), one segment per kernel row (sga = the
 * input's row stride), against the packed weights, so each output tile is
 * stored once.  The im2col packing, which for a few channels costs as much as
 * the products, is gone except for blocks that touch the left or right
 * padding or end an output row (packed per kernel row).  Each output sums its kernel rows in order r = 0,
 * 1, ... in one micro-kernel call, so the bits do not depend on the blocks or
 * the threads. */
#ifndef FC_INSTANTIATING
#error "conv_rows.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

/* The largest input channel count the variant takes: beyond it the im2col
 * packing is cheap beside the products, and the rows of a kernel row grow past
 * what one micro-panel should hold. */
#define FC_ROWS_MAX_CHANNELS 8

static int FN(rows_applies)(const fc_conv_desc *d) {
    return d->groups == 1 && d->c <= FC_ROWS_MAX_CHANNELS && d->dil_w == 1 && d->xs[3] == 1 &&
           d->xs[2] == d->c && d->ys[3] == 1;
}

/* Kernel row r's receptive field of `rows` output pixels from (n, ho, wo0)
 * into the row-major panel dst (mr rows of S*C, zeros past `rows` and in the
 * padding). */
static void FN(pack_kernel_row)(const fc_conv_desc *d, const T *xrow, int64_t wb, int64_t rows,
                                int64_t mr, T *dst) {
    const int64_t c = d->c, rowk = d->s * c;
    memset(dst, 0, (size_t)(mr * rowk) * sizeof(T));
    for (int64_t i = 0; i < rows; i++) {   /* the taps inside the input are one run of x */
        const int64_t w0 = wb + i * d->stride_w;
        const int64_t s0 = FC_MAX(0, -w0), s1 = FC_MIN(d->s, d->w - w0);
        if (s1 > s0)
            memcpy(dst + i * rowk + s0 * c, xrow + (w0 + s0) * c, (size_t)((s1 - s0) * c) * sizeof(T));
    }
}

/* c (rows x cols, row stride ldc) = act(the a-panel (segments of seg steps,
 * sga apart) x the b-panel over k (+ c, if accumulate) + bias). */
static void FN(rows_tile)(const FN(fc_gemm_kernel) *kd, int64_t k, const T *a, int64_t lda,
                          int64_t seg, int64_t sga, const T *b, T *c, int64_t ldc, int64_t rows,
                          int64_t cols, const T *bias, int act, T act_alpha, int accumulate) {
    if (rows == kd->mr && cols == kd->nr) {
        const int in_kernel = fc_act_in_ukernel(act);
        kd->run(k, a, lda, 1, b, kd->nr, c, ldc, 1, accumulate, seg, sga, in_kernel ? bias : NULL,
                act == FC_ACT_RELU);
        if (!in_kernel)
            FN(fc_conv_kernels_for)()->bias_act(c, ldc, c, ldc, rows, cols, bias, act, act_alpha);
        return;
    }
    T tile[FC_MAX_MR * FC_MAX_NR] __attribute__((aligned(64)));
    kd->run(k, a, lda, 1, b, kd->nr, tile, kd->nr, 1, 0, seg, sga, NULL, 0);
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    (accumulate ? kern->bias_add_act : kern->bias_act)(tile, kd->nr, c, ldc, rows, cols, bias, act,
                                                       act_alpha);
}

static int FN(forward_rows)(const fc_conv_desc *d, const T *x, const T *w, const T *bias, int act,
                            T act_alpha, T *y, int nthreads) {
    const FN(fc_gemm_kernel) *kd = FN(fc_gemm_kernel_for)(d->k);
    const int64_t mr = kd->mr, nr = kd->nr, c = d->c, k = d->k, rowk = d->s * c;
    const int64_t depth = d->r * rowk, panels = FC_CEIL_DIV(k, nr);
    const int64_t *xs = d->xs, *ys = d->ys;
    /* all of w as NR-column panels: panel q at bpack + q * depth * nr */
    T *bpack = (T *)fc_alloc(panels * depth * nr, sizeof(T));
    if (!bpack) return FC_ENOMEM;
    const MATRIX wm = {w, k, 1};
    for (int64_t q = 0; q < panels; q++)
        FN(fc_pack_b_matrix)(&wm, 0, depth, q * nr, FC_MIN(nr, k - q * nr), (int)nr,
                             bpack + q * depth * nr);
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        T *apack = (T *)fc_alloc(mr * depth, sizeof(T));
        if (!apack) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t item = 0; item < d->n * d->ho; item++) {
            if (!apack) continue;
            const int64_t n = item / d->ho, ho = item % d->ho, hb = ho * d->stride_h - d->pad_top;
            /* the kernel rows r0 .. r1 - 1 that fall inside the input (the padding adds nothing) */
            int64_t r0 = 0, r1 = d->r;
            while (r0 < r1 && hb + r0 * d->dil_h < 0) r0++;
            while (r1 > r0 && hb + (r1 - 1) * d->dil_h >= d->h) r1--;
            const T *xrow0 = x + n * xs[0] + (hb + r0 * d->dil_h) * xs[1];
            T *yrow = y + n * ys[0] + ho * ys[1];
            for (int64_t wo0 = 0; wo0 < d->wo; wo0 += mr) {
                const int64_t rows = FC_MIN(mr, d->wo - wo0), wb = wo0 * d->stride_w - d->pad_left;
                const int inside = rows == mr && wb >= 0 && wb + (mr - 1) * d->stride_w + d->s <= d->w;
                T *cblk = yrow + wo0 * ys[2];
                if (r0 == r1) {   /* every kernel row in the padding: act(bias (+ y)) */
                    if (!d->accumulate)
                        for (int64_t i = 0; i < rows; i++) memset(cblk + i * ys[2], 0, (size_t)k * sizeof(T));
                    FN(fc_conv_kernels_for)()->bias_act(cblk, ys[2], cblk, ys[2], rows, k, bias, act,
                                                        act_alpha);
                } else {
                    /* A: one segment per kernel row, read in place or packed */
                    const T *a = xrow0 + wb * c;
                    int64_t lda = d->stride_w * c, sga = d->dil_h * xs[1];
                    if (!inside) {
                        for (int64_t r = r0; r < r1; r++)
                            FN(pack_kernel_row)(d, xrow0 + (r - r0) * d->dil_h * xs[1], wb, rows, mr,
                                                apack + (r - r0) * mr * rowk);
                        a = apack;
                        lda = rowk;
                        sga = mr * rowk;
                    }
                    for (int64_t q = 0; q < panels; q++)
                        FN(rows_tile)(kd, (r1 - r0) * rowk, a, lda, rowk, sga,
                                      bpack + q * depth * nr + r0 * rowk * nr, cblk + q * nr, ys[2],
                                      rows, FC_MIN(nr, k - q * nr), bias ? bias + q * nr : NULL, act,
                                      act_alpha, d->accumulate);
                }
            }
        }
        fc_free(apack);
    }
    fc_free(bpack);
    return status;
}

/* dw of the few-channel layers the forward "rows" variant takes.  For kernel
 * row r, dw[r] (S*C x K, its rows (s, c) contiguous in dw) sums over the output
 * pixels the product of the pixel's receptive-field row (S*C consecutive
 * values of x) and its dy row: per output row, a GEMM whose A^T is read from x
 * in place (lda = 1, a pixel's step stride_w*C) and whose B is dy's row
 * (ldb = dy's pixel stride), with the output pixels as the reduction.  Pixels
 * whose window touches the left or right padding, or whose extra tile rows
 * would read past the input row (S*C is not a multiple of the tile's rows),
 * are added one by one.  Output rows go in FC_DW_CHUNKS fixed chunks, one
 * partial sum each, added in order: the bits do not depend on the threads. */
static int FN(dw_rows)(const fc_conv_desc *d, const T *x, const T *dy, T *dw, int nthreads) {
    const FN(fc_gemm_kernel) *kd = FN(fc_gemm_kernel_for)(d->k);
    const int64_t mr = kd->mr, nr = kd->nr, c = d->c, K = d->k, rowk = d->s * c;
    const int64_t sw = d->stride_w, size = d->r * rowk * K, panels = FC_CEIL_DIV(K, nr);
    const int64_t rows_total = d->n * d->ho;
    if (size == 0) return FC_OK;   /* no channels: dw is empty */
    const int64_t per_chunk = FC_MAX(1, FC_CEIL_DIV(rows_total, FC_DW_CHUNKS));
    const int64_t chunks = FC_CEIL_DIV(rows_total, per_chunk);
    /* interior output columns [lo, hi): the window inside the row, and the
     * tiles' extra rows (up to a whole tile past the window) inside it too */
    const int64_t rtiles = FC_CEIL_DIV(rowk, mr);
    const int64_t lo = FC_MIN(d->wo, FC_CEIL_DIV(d->pad_left, sw));
    const int64_t reach = rtiles * mr;   /* values read from a window's start */
    const int64_t last = d->w * c - reach;   /* the largest start (in values) allowed */
    const int64_t hi = last < 0 ? lo : FC_MAX(lo, FC_MIN(d->wo, (last / c + d->pad_left) / sw + 1));
    T *part = (T *)fc_alloc(FC_MAX(chunks, 1) * size, sizeof(T));
    if (!part) return FC_ENOMEM;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && chunks > 1)
    {
        /* dy's row packed into nr-wide panels when K is not a multiple of nr */
        T *bpack = K % nr ? (T *)fc_alloc(panels * nr * FC_MAX(hi - lo, 1), sizeof(T)) : NULL;
        if (K % nr && !bpack) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t ch = 0; ch < chunks; ch++) {
            if (K % nr && !bpack) continue;
            T *acc = part + ch * size;
            memset(acc, 0, (size_t)size * sizeof(T));
            for (int64_t nh = ch * per_chunk; nh < FC_MIN(rows_total, (ch + 1) * per_chunk); nh++) {
                const int64_t n = nh / d->ho, ho = nh % d->ho;
                const T *dyrow = dy + n * d->ys[0] + ho * d->ys[1];
                const T *b = dyrow + lo * d->ys[2];
                int64_t ldb = d->ys[2];
                if (bpack && hi > lo) {   /* [panel q][pixel][nr] */
                    for (int64_t q = 0; q < panels; q++)
                        for (int64_t p = lo; p < hi; p++)
                            for (int64_t j = 0; j < nr; j++)
                                bpack[(q * (hi - lo) + p - lo) * nr + j] =
                                    q * nr + j < K ? dyrow[p * d->ys[2] + q * nr + j] : 0;
                    b = bpack;
                    ldb = nr;
                }
                for (int64_t r = 0; r < d->r; r++) {
                    const int64_t h = ho * d->stride_h - d->pad_top + r * d->dil_h;
                    if (h < 0 || h >= d->h) continue;
                    const T *xrow = x + n * d->xs[0] + h * d->xs[1];
                    T *accr = acc + r * rowk * K;
                    if (hi > lo)
                        for (int64_t i0 = 0; i0 < rowk; i0 += mr)
                            for (int64_t q = 0; q < panels; q++) {
                                T tile[FC_MAX_MR * FC_MAX_NR] __attribute__((aligned(64)));
                                const T *bq = bpack ? b + q * (hi - lo) * nr : b + q * nr;
                                kd->run(hi - lo, xrow + (lo * sw - d->pad_left) * c + i0, 1, sw * c,
                                        bq, ldb, tile, nr, 1, 0, hi - lo, 0, NULL, 0);
                                for (int64_t i = i0; i < FC_MIN(rowk, i0 + mr); i++)
                                    for (int64_t j = q * nr; j < FC_MIN(K, (q + 1) * nr); j++)
                                        accr[i * K + j] += tile[(i - i0) * nr + j - q * nr];
                            }
                    for (int64_t wo = 0; wo < d->wo; wo++) {   /* the edge pixels */
                        if (wo >= lo && wo < hi) continue;
                        const T *dyp = dyrow + wo * d->ys[2];
                        for (int64_t s = 0; s < d->s; s++) {
                            const int64_t w = wo * sw - d->pad_left + s;
                            if (w < 0 || w >= d->w) continue;
                            for (int64_t ci = 0; ci < c; ci++) {
                                const T xv = xrow[w * c + ci];
                                T *out = accr + (s * c + ci) * K;
                                for (int64_t j = 0; j < K; j++) out[j] += xv * dyp[j];
                            }
                        }
                    }
                }
            }
        }
        fc_free(bpack);
        FN(sum_chunks)(part, chunks, size);
#pragma omp single
        memcpy(dw, part, (size_t)size * sizeof(T));
    }
    fc_free(part);
    return status;
}
