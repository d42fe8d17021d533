/* The "rows" variant of the forward GEMM, for inputs with few channels (stems:
 * 1-8 channels, any stride, large kernels) and for wider layers whose weights
 * fit in L2 (rows_forward_applies), for one dtype.  In NHWC the
 * receptive field of one kernel row (S taps x C channels) is S*C consecutive
 * values of x, and consecutive output pixels of an output row start
 * stride_w*C values apart: the micro-kernel reads those rows as its A panel
 * (lda = stride_w*C), one segment per kernel row, against the packed weights,
 * so each output tile is stored once and no im2col packing exists (for a few
 * channels it cost as much as the products).  The blocks whose pixels lie
 * inside the image read x itself; for those at the padding and the last,
 * partial block their pixels are first copied between zero columns
 * (rows_buffer) and read there (packing those per block cost 20 % of
 * YOLO-tiny's stem; copying every input row of every output row, 20 % of
 * MobileNet's 3x3/2 stem, each row copied 1.5 times).  Each output sums its kernel rows in
 * order r = 0, 1, ... in one micro-kernel call, so the bits do not depend on
 * the blocks or the threads. */
#ifndef FC_INSTANTIATING
#error "conv_rows.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

/* The largest input channel count the variant takes: beyond it the im2col
 * packing is cheap beside the products, and the rows of a kernel row grow past
 * what one micro-panel should hold. */
#define FC_ROWS_MAX_CHANNELS 8

/* Kernel rows as S*C consecutive values of x, and y's channels at unit stride. */
static int FN(rows_layout)(const fc_conv_desc *d) {
    return d->groups == 1 && d->dil_w == 1 && d->xs[3] == 1 && d->xs[2] == d->c && d->ys[3] == 1;
}

static int FN(rows_applies)(const fc_conv_desc *d) {
    return FN(rows_layout)(d) && d->c <= FC_ROWS_MAX_CHANNELS;
}

/* The forward pass of a layer with more channels gains from reading x in
 * place too (no im2col packing: at batch 8, x comes from memory and its
 * packed copy went through the caches once more) when all of its packed
 * weights stay in L2 while every block of pixels reads them, and its output
 * rows are at least two MR-pixel tiles wide and fill 3/4 of their tiles
 * (narrower maps stay with im2col, whose blocks span rows and images, and
 * whose few-pixel inference steps pack their weights once).  Zen 4, batch 8, 1 and 2
 * threads, against im2col: ResNet-50 layer2.0.conv2 (3x3/2, 128 -> 128,
 * 590 KiB of weights) 1.10x and 1.18x, ResNet-18 layer2.0.conv1 (3x3/2,
 * 64 -> 128) 1.08x and 1.13x, GoogLeNet 3b's 5x5 (32 -> 96) 1.07x and 1.02x;
 * at batch 1 0.95-1.16x.  Weights past L2 are streamed again for each block
 * (ResNet-18 layer3.0.conv1, 1.2 MiB: 0.85x and 0.48x), and a 1x1 layer's
 * im2col GEMM already reads its rows in place (1x1/2: 0.76-1.18x). */
static int FN(rows_forward_applies)(const fc_conv_desc *d) {
    if (FN(rows_applies)(d)) return 1;
    if (!FN(rows_layout)(d) || d->r * d->s < 2) return 0;
    const FN(fc_gemm_kernel) *kd = FN(fc_gemm_kernel_for)(d->k);
    const int64_t tiled = FC_CEIL_DIV(d->wo, kd->mr) * kd->mr;
    fc_cpu_caches caches;
    fc_cpu_caches_get(&caches);
    const int64_t weights = d->r * d->s * d->c * FC_CEIL_DIV(d->k, kd->nr) * kd->nr * (int64_t)sizeof(T);
    return weights <= caches.l2 && d->wo >= 2 * kd->mr && 4 * d->wo >= 3 * tiled;
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
    FC_EDGE_RUN(kd, rows, cols)(k, a, lda, 1, b, kd->nr, tile, kd->nr, 1, 0, seg, sga, NULL, 0);
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    (accumulate ? kern->bias_add_act : kern->bias_act)(tile, kd->nr, c, ldc, rows, cols, bias, act,
                                                       act_alpha);
}

/* The input rows one output row reads, each copied between zero columns
 * (the left and right padding, and past the last block's reach), so every
 * block of mr output pixels reads its A panel in place. */
typedef struct {
    int64_t ld;      /* values from one copied row to the next */
    int64_t left;    /* zero values before a row's first pixel */
} FN(rows_buffer);

static FN(rows_buffer) FN(rows_buffer_of)(const fc_conv_desc *d, int64_t mr) {
    const int64_t blocks = FC_CEIL_DIV(d->wo, mr);
    const int64_t reach = (blocks * mr - 1) * d->stride_w + d->s;   /* pixels the last block reads */
    FN(rows_buffer) b = {FC_MAX(reach, d->pad_left + d->w) * d->c, d->pad_left * d->c};
    return b;
}

static int FN(forward_rows)(const fc_conv_desc *d, const T *x, const T *w, const T *bias, int act,
                            T act_alpha, T *y, int nthreads) {
    const FN(fc_gemm_kernel) *kd = FN(fc_gemm_kernel_for)(d->k);
    const int64_t mr = kd->mr, nr = kd->nr, c = d->c, k = d->k, rowk = d->s * c;
    const int64_t depth = d->r * rowk, panels = FC_CEIL_DIV(k, nr);
    const int64_t *xs = d->xs, *ys = d->ys;
    const FN(rows_buffer) rb = FN(rows_buffer_of)(d, mr);
    /* all of w as NR-column panels, panel q at bpack + q * depth * nr */
    T *own;
    const T *bpack = FN(weight_panels)(d, nr, &own);
    if (!bpack) return FC_ENOMEM;
    if (own) FN(pack_weight_rows)(d, w, nr, 0, depth, own);
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        T *rows_in = (T *)fc_alloc(d->r * rb.ld, sizeof(T));
        if (!rows_in) {
#pragma omp atomic write
            status = FC_ENOMEM;
        } else {
            memset(rows_in, 0, (size_t)(d->r * rb.ld) * sizeof(T));   /* the zero columns stay zero */
        }
#pragma omp for schedule(static)
        for (int64_t item = 0; item < d->n * d->ho; item++) {
            if (!rows_in) continue;
            const int64_t n = item / d->ho, ho = item % d->ho, hb = ho * d->stride_h - d->pad_top;
            /* the kernel rows r0 .. r1 - 1 that fall inside the input (the padding adds nothing) */
            int64_t r0 = 0, r1 = d->r;
            while (r0 < r1 && hb + r0 * d->dil_h < 0) r0++;
            while (r1 > r0 && hb + (r1 - 1) * d->dil_h >= d->h) r1--;
            const T *xrow = x + n * xs[0] + (hb + r0 * d->dil_h) * xs[1];   /* kernel row r0's */
            T *yrow = y + n * ys[0] + ho * ys[1];
            for (int64_t wo0 = 0; wo0 < d->wo; wo0 += mr) {
                const int64_t rows = FC_MIN(mr, d->wo - wo0);
                T *cblk = yrow + wo0 * ys[2];
                if (r0 == r1) {   /* every kernel row in the padding: act(bias (+ y)) */
                    if (!d->accumulate)
                        for (int64_t i = 0; i < rows; i++) memset(cblk + i * ys[2], 0, (size_t)k * sizeof(T));
                    FN(fc_conv_kernels_for)()->bias_act(cblk, ys[2], cblk, ys[2], rows, k, bias, act,
                                                        act_alpha);
                    continue;
                }
                /* A: one segment per kernel row, read in place from x where the
                 * block's pixels [p0, p1] lie inside the image, else from the
                 * copied rows, into which just those pixels are copied first */
                const int64_t p0 = wo0 * d->stride_w - d->pad_left;
                const int64_t p1 = p0 + (rows - 1) * d->stride_w + d->s - 1;
                const T *a = xrow + p0 * c;
                int64_t sga = d->dil_h * xs[1];
                if (rows < mr || p0 < 0 || p1 >= d->w) {
                    const int64_t lo = FC_MAX(p0, 0), hi = FC_MIN(p1, d->w - 1);
                    for (int64_t r = r0; r < r1 && lo <= hi; r++)
                        memcpy(rows_in + (r - r0) * rb.ld + rb.left + lo * c,
                               xrow + (r - r0) * sga + lo * c, (size_t)((hi - lo + 1) * c) * sizeof(T));
                    a = rows_in + wo0 * d->stride_w * c;
                    sga = rb.ld;
                }
                for (int64_t q = 0; q < panels; q++)
                    FN(rows_tile)(kd, (r1 - r0) * rowk, a, d->stride_w * c, rowk, sga,
                                  bpack + q * depth * nr + r0 * rowk * nr, cblk + q * nr, ys[2], rows,
                                  FC_MIN(nr, k - q * nr), bias ? bias + q * nr : NULL, act, act_alpha,
                                  d->accumulate);
            }
        }
        fc_free(rows_in);
    }
    fc_free(own);
    return status;
}

/* dw of the few-channel layers the forward "rows" variant takes.  For kernel
 * row r, dw[r] (S*C x K, its rows (s, c) contiguous in dw) sums over the output
 * pixels the product of the pixel's receptive-field row (S*C consecutive
 * values of x) and its dy row: per output row, a GEMM whose A^T is the input
 * row copied between zero columns (lda = 1, a pixel's step stride_w*C; the
 * padding and the tiles' extra rows read zeros) and whose B is dy's row, with
 * the output pixels as the reduction, added (beta = 1) into a partial sum laid
 * out in whole register tiles (rows of r rounded up to MR, K to NR; the extra
 * rows and columns are dropped at the end).  Output rows go in FC_DW_CHUNKS
 * fixed chunks, one partial sum each, added in order: the bits do not depend
 * on the threads.  (Before the zero columns, the pixels at the padding ran
 * one by one, scalar: as long as the GEMM on YOLO-tiny's 64-pixel rows.) */
static int FN(dw_rows)(const fc_conv_desc *d, const T *x, const T *dy, T *dw, int nthreads) {
    const FN(fc_gemm_kernel) *kd = FN(fc_gemm_kernel_for)(d->k);
    const int64_t mr = kd->mr, nr = kd->nr, c = d->c, K = d->k, rowk = d->s * c;
    const int64_t sw = d->stride_w, panels = FC_CEIL_DIV(K, nr), wo = d->wo;
    const int64_t rows_r = FC_CEIL_DIV(rowk, mr) * mr, ldp = panels * nr;   /* a partial sum's tiles */
    const int64_t size = d->r * rows_r * ldp, rows_total = d->n * d->ho;
    if (d->r * rowk * K == 0) return FC_OK;   /* no channels: dw is empty */
    const int64_t per_chunk = FC_MAX(1, FC_CEIL_DIV(rows_total, FC_DW_CHUNKS));
    const int64_t chunks = FC_CEIL_DIV(rows_total, per_chunk);
    /* the copied input row: left padding, the row, zeros up to the last tile's reach */
    const int64_t left = d->pad_left * c;
    const int64_t row_len = FC_MAX(left + d->w * c, (wo - 1) * sw * c + rows_r);
    T *part = (T *)fc_alloc(FC_MAX(chunks, 1) * size, sizeof(T));
    if (!part) return FC_ENOMEM;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && chunks > 1)
    {
        /* dy's row packed into nr-wide panels when K is not a multiple of nr */
        T *bpack = K % nr ? (T *)fc_alloc(panels * nr * FC_MAX(wo, 1), sizeof(T)) : NULL;
        T *xrow = (T *)fc_alloc(row_len, sizeof(T));
        if ((K % nr && !bpack) || !xrow) {
#pragma omp atomic write
            status = FC_ENOMEM;
        } else {
            memset(xrow, 0, (size_t)row_len * sizeof(T));   /* the zero columns stay zero */
        }
#pragma omp for schedule(static)
        for (int64_t ch = 0; ch < chunks; ch++) {
            if ((K % nr && !bpack) || !xrow) continue;
            T *acc = part + ch * size;
            memset(acc, 0, (size_t)size * sizeof(T));
            for (int64_t nh = ch * per_chunk; nh < FC_MIN(rows_total, (ch + 1) * per_chunk); nh++) {
                const int64_t n = nh / d->ho, ho = nh % d->ho;
                const T *dyrow = dy + n * d->ys[0] + ho * d->ys[1];
                const T *b = dyrow;
                int64_t ldb = d->ys[2];
                if (bpack) {   /* [panel q][pixel][nr] */
                    for (int64_t q = 0; q < panels; q++)
                        for (int64_t p = 0; p < wo; p++)
                            for (int64_t j = 0; j < nr; j++)
                                bpack[(q * wo + p) * nr + j] =
                                    q * nr + j < K ? dyrow[p * d->ys[2] + q * nr + j] : 0;
                    b = bpack;
                    ldb = nr;
                }
                for (int64_t r = 0; r < d->r; r++) {
                    const int64_t h = ho * d->stride_h - d->pad_top + r * d->dil_h;
                    if (h < 0 || h >= d->h || wo == 0) continue;
                    memcpy(xrow + left, x + n * d->xs[0] + h * d->xs[1], (size_t)(d->w * c) * sizeof(T));
                    for (int64_t i0 = 0; i0 < rowk; i0 += mr)
                        for (int64_t q = 0; q < panels; q++)
                            kd->run(wo, xrow + i0, 1, sw * c, bpack ? b + q * wo * nr : b + q * nr,
                                    ldb, acc + (r * rows_r + i0) * ldp + q * nr, ldp, 1, 1, wo, 0,
                                    NULL, 0);
                }
            }
        }
        fc_free(bpack);
        fc_free(xrow);
        FN(sum_chunks)(part, chunks, size);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < d->r * rowk; i++)   /* i = (r, s, c) of dw */
            memcpy(dw + i * K, part + (i / rowk * rows_r + i % rowk) * ldp, (size_t)K * sizeof(T));
    }
    fc_free(part);
    return status;
}
