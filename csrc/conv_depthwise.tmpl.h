/* Depthwise convolution (one input channel per group: groups = C, K = C * m
 * with channel multiplier m) for one dtype, any stride, dilation and padding,
 * with channels on the vector lanes (ukernels/depthwise_simd.tmpl.h).  The
 * implicit GEMM would run one tiny GEMM per channel.  Work is shared out by
 * rows of the output (forward), of dx, or by fixed chunks of output rows (dw),
 * so batch 1 is parallel too.  Channel stride 1 (NHWC) only.
 *
 * Output channel k reads input channel k / m.  For m > 1 the input rows a row
 * needs are first copied with each channel repeated m times (and dx is
 * computed with K channels, then each group of m added up), so the row
 * kernels always see K channels on both sides.  Workspace per thread: R
 * expanded rows or one K-channel dx row; dw: at most FC_DW_CHUNKS partial
 * sums of R * S * K values. */
#ifndef FC_INSTANTIATING
#error "conv_depthwise.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

#ifndef FC_DW_CHUNKS
#define FC_DW_CHUNKS 64   /* dw partial sums: fixed chunks of output rows, added in order */
#endif

/* Whether the depthwise kernels can run pass `pass` of d. */
static int FN(depthwise_applies)(const fc_conv_desc *d, int pass) {
    const int64_t *os = pass == FC_PASS_DX ? d->dxs : d->ys;
    return d->cg == 1 && d->xs[3] == 1 && d->ys[3] == 1 && (pass == FC_PASS_DW || os[3] == 1);
}

/* The row geometry along W: forward and dw read x's rows and produce output
 * rows; dx reads dy's rows and produces dx's. */
static fc_dw_row FN(dw_row_of)(const fc_conv_desc *d, int pass) {
    fc_dw_row g;
    g.r = d->r; g.s = d->s; g.k = d->k;
    g.stride = d->stride_w; g.pad = d->pad_left; g.dil = d->dil_w;
    if (pass == FC_PASS_DX) {
        g.in_w = d->wo; g.in_ps = d->ys[2];
        g.out_w = d->w; g.out_ps = d->kg > 1 ? d->k : d->dxs[2];
    } else {
        g.in_w = d->w; g.in_ps = d->kg > 1 ? d->k : d->xs[2];
        g.out_w = d->wo; g.out_ps = d->ys[2];
    }
    return g;
}

/* rows[r] = the input row that output row (n, oh) reads through kernel row r,
 * or NULL in the padding; with m > 1, copied with channels repeated into
 * `expanded` (R rows of W * K values). */
static void FN(dw_input_rows)(const fc_conv_desc *d, const T *x, int64_t n, int64_t oh,
                              T *expanded, const T **rows) {
    const int64_t m = d->kg;
    for (int64_t r = 0; r < d->r; r++) {
        const int64_t ih = oh * d->stride_h - d->pad_top + r * d->dil_h;
        rows[r] = ih >= 0 && ih < d->h ? x + n * d->xs[0] + ih * d->xs[1] : NULL;
        if (m == 1 || !rows[r]) continue;
        T *dst = expanded + r * d->w * d->k;
        for (int64_t iw = 0; iw < d->w; iw++)
            for (int64_t c = 0; c < d->c; c++) {
                const T v = rows[r][iw * d->xs[2] + c];
                for (int64_t j = 0; j < m; j++) dst[iw * d->k + c * m + j] = v;
            }
        rows[r] = dst;
    }
}

/* Per-thread buffers: the row pointers and, for m > 1, the expanded rows
 * (forward, dw) or the K-channel dx row.  NULL when out of memory. */
static void *FN(dw_scratch)(const fc_conv_desc *d, int pass, const T ***rows, T **buf) {
    const int64_t values = d->kg == 1 ? 0 : pass == FC_PASS_DX ? d->w * d->k : d->r * d->w * d->k;
    char *block = (char *)fc_alloc(d->r * (int64_t)sizeof(T *) + 64 + values * (int64_t)sizeof(T), 1);
    if (!block) return NULL;
    *rows = (const T **)block;
    *buf = (T *)(block + ((d->r * (int64_t)sizeof(T *) + 63) / 64) * 64);
    return block;
}

static int FN(depthwise_forward)(const fc_conv_desc *d, const T *x, const T *w, const T *bias,
                                 int act, T act_alpha, T *y, int nthreads) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const fc_dw_row g = FN(dw_row_of)(d, FC_PASS_FORWARD);
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && d->n * d->ho > 1)
    {
        const T **rows = NULL;
        T *expanded = NULL;
        void *scratch = FN(dw_scratch)(d, FC_PASS_FORWARD, &rows, &expanded);
        if (!scratch) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t nh = 0; nh < d->n * d->ho; nh++) {
            if (!scratch) continue;
            const int64_t n = nh / d->ho, oh = nh % d->ho;
            FN(dw_input_rows)(d, x, n, oh, expanded, rows);
            T *out = y + n * d->ys[0] + oh * d->ys[1];
            kern->dw_fwd(&g, rows, w, bias, out);
            if (act != FC_ACT_NONE)
                for (int64_t wo = 0; wo < d->wo; wo++)
                    FN(fc_activate_array)(out + wo * d->ys[2], out + wo * d->ys[2], d->k, act, act_alpha);
        }
        fc_free(scratch);
    }
    return status;
}

/* dx row (n, ih) gathers dy's rows through each kernel row r: output row
 * oh = (ih + pad_top - r * dil_h) / stride_h where that divides exactly. */
static int FN(depthwise_dx)(const fc_conv_desc *d, const T *dy, const T *w, T *dx, int nthreads) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const fc_dw_row g = FN(dw_row_of)(d, FC_PASS_DX);
    const int64_t m = d->kg;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && d->n * d->h > 1)
    {
        const T **rows = NULL;
        T *wide = NULL;   /* m > 1: the dx row with K channels */
        void *scratch = FN(dw_scratch)(d, FC_PASS_DX, &rows, &wide);
        if (!scratch) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t nh = 0; nh < d->n * d->h; nh++) {
            if (!scratch) continue;
            const int64_t n = nh / d->h, ih = nh % d->h;
            for (int64_t r = 0; r < d->r; r++) {
                const int64_t t = ih + d->pad_top - r * d->dil_h;
                rows[r] = t >= 0 && t % d->stride_h == 0 && t / d->stride_h < d->ho
                              ? dy + n * d->ys[0] + (t / d->stride_h) * d->ys[1]
                              : NULL;
            }
            T *out = dx + n * d->dxs[0] + ih * d->dxs[1];
            if (m == 1) {
                kern->dw_dx(&g, rows, w, out);
                continue;
            }
            kern->dw_dx(&g, rows, w, wide);
            for (int64_t iw = 0; iw < d->w; iw++)
                for (int64_t c = 0; c < d->c; c++) {
                    T sum = 0;
                    for (int64_t j = 0; j < m; j++) sum += wide[iw * d->k + c * m + j];
                    out[iw * d->dxs[2] + c] = sum;
                }
        }
        fc_free(scratch);
    }
    return status;
}

/* dw: chunk i of the output rows adds its rows' contributions into partial
 * sum i (one thread per chunk); the chunks are then added in order, so the
 * result does not depend on the thread count. */
static int FN(depthwise_dw)(const fc_conv_desc *d, const T *x, const T *dy, T *dw, int nthreads) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const fc_dw_row g = FN(dw_row_of)(d, FC_PASS_DW);
    const int64_t rows_total = d->n * d->ho, size = d->r * d->s * d->k;
    const int64_t per_chunk = FC_MAX(1, FC_CEIL_DIV(rows_total, FC_DW_CHUNKS));
    const int64_t chunks = FC_CEIL_DIV(rows_total, per_chunk);
    T *part = (T *)fc_alloc(FC_MAX(chunks, 1) * size, sizeof(T));
    if (!part) return FC_ENOMEM;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && chunks > 1)
    {
        const T **rows = NULL;
        T *expanded = NULL;
        void *scratch = FN(dw_scratch)(d, FC_PASS_DW, &rows, &expanded);
        if (!scratch) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t ch = 0; ch < chunks; ch++) {
            if (!scratch) continue;
            T *acc = part + ch * size;
            memset(acc, 0, (size_t)size * sizeof(T));
            for (int64_t nh = ch * per_chunk; nh < FC_MIN(rows_total, (ch + 1) * per_chunk); nh++) {
                const int64_t n = nh / d->ho, oh = nh % d->ho;
                FN(dw_input_rows)(d, x, n, oh, expanded, rows);
                kern->dw_wgrad(&g, rows, dy + n * d->ys[0] + oh * d->ys[1], d->ys[2], acc);
            }
        }
        fc_free(scratch);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < size; i++) {
            T sum = 0;
            for (int64_t ch = 0; ch < chunks; ch++) sum += part[ch * size + i];
            dw[i] = sum;
        }
    }
    fc_free(part);
    return status;
}
