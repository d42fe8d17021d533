/* Pooling through the active ISA's row kernels (ukernels/pool_simd.tmpl.h),
 * for undilated windows of at most 3x3 on tensors whose channels are at unit
 * stride: the NHWC 2x2/2 and 3x3/2 poolings of the classic CNNs, and the
 * 3x3/1 of GoogLeNet's inception modules.  Any padding, ceil mode and
 * count_include_pad: the drivers below find each output row's real input
 * rows (or each input row's covering window rows), the kernels the columns.
 *
 * Average backward writes every dx element once, gathered from the windows
 * that cover it.  Max backward finds each window's argmax in registers and
 * adds its dy at that tap of dx, a few dx rows at a time (zeroed just
 * before, so they stay in cache); 2x2/2 windows that tile the input write
 * their four dx values straight.  Included by pool.tmpl.h, after its window
 * helpers. */
#ifndef FC_INSTANTIATING
#error "pool_fast.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

#define FC_POOL_FAST_MAX 3   /* the largest window side of the fast path */

/* Whether the fast path applies; x's channel stride matters where x is read. */
static int FN(pool_fast_applies)(const fc_pool_desc *d, int reads_x, int backward) {
    return d->dil_h == 1 && d->dil_w == 1 && d->r <= FC_POOL_FAST_MAX &&
           d->s <= FC_POOL_FAST_MAX && (!reads_x || d->xs[3] == 1) && d->ys[3] == 1 &&
           (!backward || d->dxs[3] == 1);
}

/* The windows [*lo, *hi] (in one axis; none when *lo > *hi) with a tap on
 * input position p. */
static inline void FN(covering)(int64_t p, int64_t pad, int64_t size, int64_t stride,
                                int64_t count, int64_t *lo, int64_t *hi) {
    const int64_t first = p + pad - size + 1;
    *lo = first <= 0 ? 0 : FC_CEIL_DIV(first, stride);
    *hi = FC_MIN((p + pad) / stride, count - 1);
}

/* The real input rows of output row ho of image n (at most FC_POOL_FAST_MAX),
 * with their tap rows i when row_taps is given.  Returns their count. */
static inline int FN(window_rows)(const fc_pool_desc *d, const T *x, int64_t n, int64_t ho,
                                  const T **rows, int64_t *row_taps) {
    int64_t i0, i1;
    FN(taps)(ho, d->stride_h, d->pad_top, d->r, 1, 0, d->h, &i0, &i1);
    for (int64_t i = i0; i < i1; i++) {
        rows[i - i0] = x + n * d->xs[0] + FC_TAP_H(d, ho, i) * d->xs[1];
        if (row_taps) row_taps[i - i0] = i;
    }
    return (int)(i1 - i0);
}

/* Average pooling's divisor of window (ho, wo) is rows(ho) * cols(wo): the
 * taps counted in one axis (the real ones, or with count_include_pad those
 * inside the padded input), as avg_divisor counts them. */
static inline int64_t FN(counted_taps)(const fc_pool_desc *d, int axis, int64_t o) {
    const int64_t inc = d->count_include_pad;
    int64_t t0, t1;
    if (axis == 0)
        FN(taps)(o, d->stride_h, d->pad_top, d->r, 1, inc ? -d->pad_top : 0,
                 d->h + (inc ? d->pad_bottom : 0), &t0, &t1);
    else
        FN(taps)(o, d->stride_w, d->pad_left, d->s, 1, inc ? -d->pad_left : 0,
                 d->w + (inc ? d->pad_right : 0), &t0, &t1);
    return t1 - t0;
}

/* scale[wo] = 1 / the divisor of window (ho, wo), given cols[wo]. */
static inline void FN(scale_row)(const fc_pool_desc *d, int64_t ho, const int64_t *cols,
                                 T *scale) {
    const int64_t rows = FN(counted_taps)(d, 0, ho);
    for (int64_t wo = 0; wo < d->wo; wo++) scale[wo] = (T)1 / (T)(rows * cols[wo]);
}

/* Per-call tables: cols[wo] (average pooling), and for backward the windows
 * wlo[w] .. whi[w] over each input column.  NULL when out of memory. */
static int64_t *FN(column_tables)(const fc_pool_desc *d, int backward) {
    int64_t *t = (int64_t *)fc_alloc(d->wo + (backward ? 2 * d->w : 0), sizeof(int64_t));
    if (!t) return NULL;
    for (int64_t wo = 0; wo < d->wo; wo++) t[wo] = FN(counted_taps)(d, 1, wo);
    if (backward)
        for (int64_t w = 0; w < d->w; w++)
            FN(covering)(w, d->pad_left, d->s, d->stride_w, d->wo, &t[d->wo + w],
                         &t[d->wo + d->w + w]);
    return t;
}

/* Whether the windows are 2x2/2 tiles from the origin, every one whole
 * (any padding only past the last one; their mean divides by 4). */
static int FN(pool_tiles_2x2)(const fc_pool_desc *d) {
    return d->r == 2 && d->s == 2 && d->stride_h == 2 && d->stride_w == 2 && d->pad_top == 0 &&
           d->pad_left == 0 && 2 * d->ho <= d->h && 2 * d->wo <= d->w;
}

/* Forward of 2x2/2 tiles, one output row from its two input rows. */
static void FN(pool_fast_forward_2x2)(const fc_pool_desc *d, int is_max, const T *x, T *y,
                                      int nthreads) {
    const FN(fc_pool_kernels) *k = FN(fc_pool_kernels_for)();
    const fc_pool_row g = {2, 2, 0, d->w, d->xs[2], d->wo, d->ys[2], d->c, NULL, NULL, 0};
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && d->n * d->ho > 1)
    for (int64_t nh = 0; nh < d->n * d->ho; nh++) {
        const int64_t n = nh / d->ho, ho = nh % d->ho;
        const T *rows[2] = {x + n * d->xs[0] + 2 * ho * d->xs[1],
                            x + n * d->xs[0] + (2 * ho + 1) * d->xs[1]};
        k->tiles_2x2_row(&g, rows, is_max, y + n * d->ys[0] + ho * d->ys[1]);
    }
}

static int FN(pool_fast_forward)(const fc_pool_desc *d, int is_max, const T *x, T *y,
                                 int nthreads) {
    if (FN(pool_tiles_2x2)(d)) {
        FN(pool_fast_forward_2x2)(d, is_max, x, y, nthreads);
        return FC_OK;
    }
    const FN(fc_pool_kernels) *k = FN(fc_pool_kernels_for)();
    const fc_pool_row g = {d->s, d->stride_w, d->pad_left, d->w, d->xs[2], d->wo, d->ys[2],
                           d->c, NULL, NULL, 0};
    int64_t *cols = is_max ? NULL : FN(column_tables)(d, 0);
    if (!is_max && !cols) return FC_ENOMEM;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && d->n * d->ho > 1)
    {
        T *scale = is_max ? NULL : (T *)fc_alloc(d->wo, sizeof(T));
        const int ok = is_max || scale;
        if (!ok) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
        const T *rows[FC_POOL_FAST_MAX];
#pragma omp for schedule(static)
        for (int64_t nh = 0; nh < d->n * d->ho; nh++) {
            if (!ok) continue;
            const int64_t n = nh / d->ho, ho = nh % d->ho;
            const int nrows = FN(window_rows)(d, x, n, ho, rows, NULL);
            T *out = y + n * d->ys[0] + ho * d->ys[1];
            if (is_max) {
                k->max_row(&g, rows, nrows, out);
            } else {
                FN(scale_row)(d, ho, cols, scale);
                k->avg_row(&g, rows, nrows, scale, out);
            }
        }
        fc_free(scale);
    }
    fc_free(cols);
    return status;
}

/* Zeroes c channels (at unit stride) of each pixel of one dx row. */
static inline void FN(zero_row)(const fc_pool_desc *d, T *row, int64_t c) {
    if (d->dxs[2] == c) {
        memset(row, 0, (size_t)(d->w * c) * sizeof(T));
        return;
    }
    for (int64_t w = 0; w < d->w; w++) memset(row + w * d->dxs[2], 0, (size_t)c * sizeof(T));
}

/* Bands of input rows: whole images when there are enough of them for the
 * threads, else each image cut into up to four bands a thread, of at least
 * eight rows (a band recomputes up to ring - 1 scale rows of the one above).
 * Returns the bands per image. */
static int64_t FN(pool_bands)(const fc_pool_desc *d, int nthreads, int64_t *band) {
    int64_t per_image = 1;
    if (d->n < 4 * (int64_t)nthreads)
        per_image = FC_MAX(1, FC_MIN(d->h / 8, FC_CEIL_DIV(4 * (int64_t)nthreads, d->n)));
    *band = FC_CEIL_DIV(d->h, per_image);
    return FC_CEIL_DIV(d->h, *band);
}

/* Backward of 2x2/2 windows that tile the input from the origin (max: x
 * and dx at the same pixel strides): one pass per output row, writing its two
 * dx rows straight (rows below the last window are 0). */
static void FN(pool_fast_backward_2x2)(const fc_pool_desc *d, int is_max, const T *dy,
                                       const T *x, T *dx, int nthreads) {
    const FN(fc_pool_kernels) *k = FN(fc_pool_kernels_for)();
    const fc_pool_row g = {2, 2, 0, d->w, d->dxs[2], d->wo, d->ys[2], d->c, NULL, NULL, 0};
    const int64_t rows_per_image = d->ho + (d->h - 2 * d->ho);   /* windows, rows below */
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1)
    for (int64_t nh = 0; nh < d->n * rows_per_image; nh++) {
        const int64_t n = nh / rows_per_image, ho = nh % rows_per_image;
        if (ho >= d->ho) {   /* a row below the last window: 0 */
            FN(zero_row)(d, dx + n * d->dxs[0] + (ho + d->ho) * d->dxs[1], d->c);
            continue;
        }
        T *out[2] = {dx + n * d->dxs[0] + 2 * ho * d->dxs[1],
                     dx + n * d->dxs[0] + (2 * ho + 1) * d->dxs[1]};
        const T *dy_row = dy + n * d->ys[0] + ho * d->ys[1];
        if (is_max) {
            const T *rows[2] = {x + n * d->xs[0] + 2 * ho * d->xs[1],
                                x + n * d->xs[0] + (2 * ho + 1) * d->xs[1]};
            k->max_back_2x2_row(&g, rows, dy_row, out);
        } else {
            k->avg_back_2x2_row(&g, dy_row, out);
        }
    }
}

/* Max backward by scattering: output row ho's windows find their argmax
 * in x and add their dy at that tap of dx (max_scatter_row), the dx rows
 * zeroed just before the first window that reaches them, so they are still
 * in cache for the windows below.  Tasks are images times channel blocks
 * (whole vectors), which keeps batch 1 parallel; every dx value is the same
 * sum in window order whatever the blocks. */
static int FN(pool_fast_max_backward_scatter)(const fc_pool_desc *d, const T *dy, const T *x,
                                              T *dx, int nthreads) {
    const FN(fc_pool_kernels) *k = FN(fc_pool_kernels_for)();
    const int64_t per_image = FC_MAX(1, FC_MIN(FC_CEIL_DIV(nthreads, d->n),
                                               d->c / (4 * k->lanes)));
    const int64_t block = FC_CEIL_DIV(FC_CEIL_DIV(d->c, per_image), k->lanes) * k->lanes;
    const int64_t blocks = FC_CEIL_DIV(d->c, block), tasks = d->n * blocks;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && tasks > 1)
    for (int64_t task = 0; task < tasks; task++) {
        const int64_t n = task / blocks, c0 = task % blocks * block;
        const fc_pool_row g = {d->s, d->stride_w, d->pad_left, d->w, d->xs[2], d->wo, d->ys[2],
                               FC_MIN(block, d->c - c0), NULL, NULL, d->dxs[2]};
        T *img = dx + n * d->dxs[0] + c0;
        int64_t zeroed = 0;   /* dx rows [0, zeroed) are zeroed */
        const T *rows[FC_POOL_FAST_MAX];
        T *dx_rows[FC_POOL_FAST_MAX];
        int64_t row_taps[FC_POOL_FAST_MAX];
        for (int64_t ho = 0; ho < d->ho; ho++) {
            const int nrows = FN(window_rows)(d, x + c0, n, ho, rows, row_taps);
            if (!nrows) continue;
            for (int r = 0; r < nrows; r++)
                dx_rows[r] = img + FC_TAP_H(d, ho, row_taps[r]) * d->dxs[1];
            const int64_t last = FC_TAP_H(d, ho, row_taps[nrows - 1]);
            for (; zeroed <= last; zeroed++) FN(zero_row)(d, img + zeroed * d->dxs[1], g.c);
            k->max_scatter_row(&g, rows, nrows, dy + n * d->ys[0] + ho * d->ys[1] + c0, dx_rows);
        }
        for (; zeroed < d->h; zeroed++) FN(zero_row)(d, img + zeroed * d->dxs[1], g.c);
    }
    return FC_OK;
}

/* Average pooling backward: each dx row gathered from the dy rows of the
 * windows that cover it, their scales in a ring of as many window rows as
 * can cover one input row. */
static int FN(pool_fast_avg_backward)(const fc_pool_desc *d, const T *dy, T *dx, int nthreads) {
    const FN(fc_pool_kernels) *k = FN(fc_pool_kernels_for)();
    int64_t *tables = FN(column_tables)(d, 1);
    if (!tables) return FC_ENOMEM;
    const int64_t *cols = tables;
    const fc_pool_row gd = {d->s, d->stride_w, d->pad_left, d->w, d->dxs[2], d->wo, d->ys[2],
                            d->c, tables + d->wo, tables + d->wo + d->w, 0};
    const int64_t ring_rows = FC_CEIL_DIV(d->r, d->stride_h), ring_len = ring_rows * d->wo;
    int64_t band;
    const int64_t per_image = FN(pool_bands)(d, nthreads, &band), tasks = d->n * per_image;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && tasks > 1)
    {
        T *ring = (T *)fc_alloc(ring_len, sizeof(T));
        if (!ring) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
        const T *dy_rows[FC_POOL_FAST_MAX], *side[FC_POOL_FAST_MAX];
#pragma omp for schedule(static)
        for (int64_t task = 0; task < tasks; task++) {
            if (!ring) continue;
            const int64_t n = task / per_image, h0 = task % per_image * band;
            int64_t next = 0;   /* the next window row whose scales are due */
            for (int64_t h = h0; h < FC_MIN(d->h, h0 + band); h++) {
                int64_t lo, hi;
                FN(covering)(h, d->pad_top, d->r, d->stride_h, d->ho, &lo, &hi);
                for (next = FC_MAX(next, lo); next <= hi; next++)
                    FN(scale_row)(d, next, cols, ring + (next % ring_rows) * d->wo);
                int nrows = 0;
                for (int64_t ho = lo; ho <= hi; ho++, nrows++) {
                    dy_rows[nrows] = dy + n * d->ys[0] + ho * d->ys[1];
                    side[nrows] = ring + (ho % ring_rows) * d->wo;
                }
                k->avg_gather_row(&gd, dy_rows, side, nrows, dx + n * d->dxs[0] + h * d->dxs[1]);
            }
        }
        fc_free(ring);
    }
    fc_free(tables);
    return status;
}

/* Max (is_max, reading x) or average pooling backward. */
static int FN(pool_fast_backward)(const fc_pool_desc *d, int is_max, const T *dy, const T *x,
                                  T *dx, int nthreads) {
    if (FN(pool_tiles_2x2)(d) && (!is_max || d->xs[2] == d->dxs[2])) {
        FN(pool_fast_backward_2x2)(d, is_max, dy, x, dx, nthreads);
        return FC_OK;
    }
    if (!is_max) return FN(pool_fast_avg_backward)(d, dy, dx, nthreads);
    return FN(pool_fast_max_backward_scatter)(d, dy, x, dx, nthreads);
}
#undef FC_POOL_FAST_MAX
