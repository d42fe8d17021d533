/* Max, average and global-average pooling for one dtype (included by pool.c
 * with T and SFX defined).  Tensors are addressed through (n, h, w, c) element
 * strides; the channel loop is innermost so NHWC data vectorises. */
#ifndef FC_INSTANTIATING
#error "pool.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

/* The valid window rows [*lo, *hi) of output row o over an input of extent n. */
static inline void FN(window)(int64_t o, int64_t stride, int64_t pad, int64_t size, int64_t n,
                              int64_t *lo, int64_t *hi) {
    const int64_t start = o * stride - pad;
    *lo = FC_MAX(start, 0);
    *hi = FC_MIN(start + size, n);
}

/* out = max(out, in) element-wise, keeping NaN; unit strides vectorise. */
static inline void FN(max_into)(T *restrict out, const T *restrict in, int64_t n, int64_t os,
                                int64_t is) {
    if (os == 1 && is == 1) {
        for (int64_t c = 0; c < n; c++) out[c] = (in[c] > out[c] || in[c] != in[c]) ? in[c] : out[c];
        return;
    }
    for (int64_t c = 0; c < n; c++) {
        const T v = in[c * is], m = out[c * os];
        /* keeps the first NaN: a NaN m never compares greater */
        out[c * os] = (v > m || v != v) ? v : m;
    }
}

/* out += in element-wise; unit strides vectorise. */
static inline void FN(add_into)(T *restrict out, const T *restrict in, int64_t n, int64_t os,
                                int64_t is) {
    if (os == 1 && is == 1) {
        for (int64_t c = 0; c < n; c++) out[c] += in[c];
        return;
    }
    for (int64_t c = 0; c < n; c++) out[c * os] += in[c * is];
}

int FN(fc_max_pool2d)(const fc_pool_desc *d, const T *x, T *y, int nthreads) {
    const int64_t *xs = d->xs, *ys = d->ys;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1)
    for (int64_t nh = 0; nh < d->n * d->ho; nh++) {
        const int64_t n = nh / d->ho, ho = nh % d->ho;
        int64_t h0, h1;
        FN(window)(ho, d->stride_h, d->pad_top, d->r, d->h, &h0, &h1);
        for (int64_t wo = 0; wo < d->wo; wo++) {
            int64_t w0, w1;
            FN(window)(wo, d->stride_w, d->pad_left, d->s, d->w, &w0, &w1);
            T *out = y + n * ys[0] + ho * ys[1] + wo * ys[2];
            for (int64_t c = 0; c < d->c; c++) out[c * ys[3]] = -(T)INFINITY;
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++) {
                    FN(max_into)(out, x + n * xs[0] + h * xs[1] + w * xs[2], d->c, ys[3], xs[3]);
                }
        }
    }
    return FC_OK;
}

int FN(fc_avg_pool2d)(const fc_pool_desc *d, const T *x, T *y, int nthreads) {
    const int64_t *xs = d->xs, *ys = d->ys;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1)
    for (int64_t nh = 0; nh < d->n * d->ho; nh++) {
        const int64_t n = nh / d->ho, ho = nh % d->ho;
        int64_t h0, h1;
        FN(window)(ho, d->stride_h, d->pad_top, d->r, d->h, &h0, &h1);
        for (int64_t wo = 0; wo < d->wo; wo++) {
            int64_t w0, w1;
            FN(window)(wo, d->stride_w, d->pad_left, d->s, d->w, &w0, &w1);
            T *out = y + n * ys[0] + ho * ys[1] + wo * ys[2];
            for (int64_t c = 0; c < d->c; c++) out[c * ys[3]] = 0;
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++) {
                    FN(add_into)(out, x + n * xs[0] + h * xs[1] + w * xs[2], d->c, ys[3], xs[3]);
                }
            const T inv = (T)1 / (T)((h1 - h0) * (w1 - w0));
            for (int64_t c = 0; c < d->c; c++) out[c * ys[3]] *= inv;
        }
    }
    return FC_OK;
}

/* One window position t of the running argmax (positions are kept in T, exact
 * for windows under 2^24 pixels, so the argmax and its uses vectorise without
 * type conversions): take v where it beats the best
 * so far or is the first NaN.  Branch-free, so random data does not stall on
 * mispredictions, and vectorisable for unit strides. */
static inline void FN(argmax_step)(T *restrict best, T *restrict arg, const T *restrict in,
                                   int64_t n, int64_t is, T t) {
    if (is == 1) {
        for (int64_t c = 0; c < n; c++) {
            const T v = in[c], b = best[c];
            const int take = (v > b) | ((v != v) & (b == b));
            best[c] = take ? v : b;
            arg[c] = take ? t : arg[c];
        }
        return;
    }
    for (int64_t c = 0; c < n; c++) {
        const T v = in[c * is], b = best[c];
        const int take = (v > b) | ((v != v) & (b == b));
        best[c] = take ? v : b;
        arg[c] = take ? t : arg[c];
    }
}

/* Windows that tile the input (stride = size, no padding), channels at unit
 * strides: every dx element is written once, no zeroing pass and no
 * scatter.  max: dx = dy at the window's first maximum (arg), 0 elsewhere;
 * avg: dy / count everywhere.  Rows and columns past the last window are 0.
 * Output rows own disjoint input rows, so they are shared among threads. */
static int FN(tiled_pool_backward)(const fc_pool_desc *d, int is_max, const T *dy, const T *x,
                                   T *dx, int nthreads) {
    const int64_t *xs = d->xs, *ys = d->ys, *dxs = d->dxs, c = d->c, r = d->r, s = d->s;
    const T inv = (T)1 / (T)(r * s);
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && d->n * d->ho > 1)
    {
        T *best = is_max ? (T *)fc_alloc(c, sizeof(T)) : NULL;
        T *arg = is_max ? (T *)fc_alloc(c, sizeof(T)) : NULL;
        const int ok = !is_max || (best && arg);
        if (!ok) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t nho = 0; nho < d->n * d->ho; nho++) {
            if (!ok) continue;
            const int64_t n = nho / d->ho, ho = nho % d->ho;
            T *img = dx + n * dxs[0];
            for (int64_t wo = 0; wo < d->wo; wo++) {
                const T *restrict g = dy + n * ys[0] + ho * ys[1] + wo * ys[2];
                if (is_max)   /* the window's first maximum */
                    for (int64_t t = 0; t < r * s; t++) {
                        const T *in = x + n * xs[0] + (ho * r + t / s) * xs[1] + (wo * s + t % s) * xs[2];
                        if (t == 0) {
                            memcpy(best, in, (size_t)c * sizeof(T));
                            memset(arg, 0, (size_t)c * sizeof(T));
                        } else {
                            FN(argmax_step)(best, arg, in, c, 1, (T)t);
                        }
                    }
                for (int64_t t = 0; t < r * s; t++) {
                    T *restrict out = img + (ho * r + t / s) * dxs[1] + (wo * s + t % s) * dxs[2];
                    const T pos = (T)t;
                    if (is_max)
                        for (int64_t ch = 0; ch < c; ch++) {   /* loads outside the select: */
                            const T gv = g[ch];                      /* it vectorises */
                            out[ch] = arg[ch] == pos ? gv : 0;
                        }
                    else
                        for (int64_t ch = 0; ch < c; ch++) out[ch] = g[ch] * inv;
                }
            }
            /* the columns past the last window, and below the last window's rows */
            const int64_t h1 = ho + 1 == d->ho ? d->h : (ho + 1) * r;
            for (int64_t h = ho * r; h < h1; h++)
                for (int64_t w = h < d->ho * r ? d->wo * s : 0; w < d->w; w++)
                    memset(img + h * dxs[1] + w * dxs[2], 0, (size_t)c * sizeof(T));
        }
        fc_free(best);
        fc_free(arg);
    }
    if (d->ho == 0)   /* no window at all: dx is 0 */
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t h = 0; h < d->h; h++)
                for (int64_t w = 0; w < d->w; w++)
                    memset(dx + n * dxs[0] + h * dxs[1] + w * dxs[2], 0, (size_t)c * sizeof(T));
    return status;
}

/* Whether tiled_pool_backward applies: non-overlapping windows from the
 * origin that stay inside the input (bottom/right padding, as "same" adds,
 * would put the last windows partly outside it), unit channel strides. */
static int FN(pool_is_tiled)(const fc_pool_desc *d) {
    return d->stride_h == d->r && d->stride_w == d->s && d->pad_top == 0 && d->pad_left == 0 &&
           d->ho * d->r <= d->h && d->wo * d->s <= d->w && d->xs[3] == 1 && d->ys[3] == 1 &&
           d->dxs[3] == 1;
}

/* Each gradient goes to the first maximum of its window (row-major), a NaN
 * counting as the maximum.  Overlapping windows: one thread owns each image,
 * which is zeroed and then gets each gradient added at its argmax.  (Adding
 * it, masked, at every window position vectorises but was slower for 3x3/2.) */
int FN(fc_max_pool2d_backward)(const fc_pool_desc *d, const T *dy, const T *x, T *dx,
                               int nthreads) {
    if (FN(pool_is_tiled)(d)) return FN(tiled_pool_backward)(d, 1, dy, x, dx, nthreads);
    const int64_t *xs = d->xs, *ys = d->ys, *dxs = d->dxs;
    const int dense = dxs[3] == 1 && dxs[2] == d->c && dxs[1] == d->w * d->c;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && d->n > 1)
    {
        T *best = (T *)fc_alloc(d->c, sizeof(T));
        T *arg = (T *)fc_alloc(d->c, sizeof(T));
        int64_t *off = (int64_t *)fc_alloc(d->r * d->s, sizeof(int64_t));
        if (!best || !arg || !off) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t n = 0; n < d->n; n++) {
            if (!best || !arg || !off) continue;
            T *img = dx + n * dxs[0];
            if (dense)
                memset(img, 0, (size_t)(d->h * d->w * d->c) * sizeof(T));
            else
                for (int64_t h = 0; h < d->h; h++)
                    for (int64_t w = 0; w < d->w; w++)
                        for (int64_t c = 0; c < d->c; c++) img[h * dxs[1] + w * dxs[2] + c * dxs[3]] = 0;
            for (int64_t ho = 0; ho < d->ho; ho++) {
                int64_t h0, h1;
                FN(window)(ho, d->stride_h, d->pad_top, d->r, d->h, &h0, &h1);
                for (int64_t wo = 0; wo < d->wo; wo++) {
                    int64_t w0, w1;
                    FN(window)(wo, d->stride_w, d->pad_left, d->s, d->w, &w0, &w1);
                    int32_t t = 0;   /* valid window positions in row-major order */
                    for (int64_t h = h0; h < h1; h++)
                        for (int64_t w = w0; w < w1; w++, t++) {
                            const T *in = x + n * xs[0] + h * xs[1] + w * xs[2];
                            off[t] = h * dxs[1] + w * dxs[2];
                            if (t == 0) {
                                for (int64_t c = 0; c < d->c; c++) best[c] = in[c * xs[3]];
                                memset(arg, 0, (size_t)d->c * sizeof(T));
                            } else {
                                FN(argmax_step)(best, arg, in, d->c, xs[3], (T)t);
                            }
                        }
                    const T *g = dy + n * ys[0] + ho * ys[1] + wo * ys[2];
                    for (int64_t c = 0; c < d->c; c++)
                        img[off[(int64_t)arg[c]] + c * dxs[3]] += g[c * ys[3]];
                }
            }
        }
        fc_free(best);
        fc_free(arg);
        fc_free(off);
    }
    return status;
}

/* dx[h, w] gathers dy / count from every window that covers (h, w). */
int FN(fc_avg_pool2d_backward)(const fc_pool_desc *d, const T *dy, T *dx, int nthreads) {
    if (FN(pool_is_tiled)(d)) return FN(tiled_pool_backward)(d, 0, dy, NULL, dx, nthreads);
    const int64_t *ys = d->ys, *dxs = d->dxs;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1)
    for (int64_t nh = 0; nh < d->n * d->h; nh++) {
        const int64_t n = nh / d->h, h = nh % d->h;
        /* windows ho with ho*sh - pt <= h < ho*sh - pt + r */
        const int64_t ho0 = FC_MAX(0, FC_CEIL_DIV(FC_MAX(h + d->pad_top - d->r + 1, 0), d->stride_h));
        const int64_t ho1 = FC_MIN(d->ho - 1, (h + d->pad_top) / d->stride_h);
        for (int64_t w = 0; w < d->w; w++) {
            const int64_t wo0 = FC_MAX(0, FC_CEIL_DIV(FC_MAX(w + d->pad_left - d->s + 1, 0), d->stride_w));
            const int64_t wo1 = FC_MIN(d->wo - 1, (w + d->pad_left) / d->stride_w);
            T *out = dx + n * dxs[0] + h * dxs[1] + w * dxs[2];
            for (int64_t c = 0; c < d->c; c++) out[c * dxs[3]] = 0;
            for (int64_t ho = ho0; ho <= ho1; ho++) {
                int64_t h0, h1;
                FN(window)(ho, d->stride_h, d->pad_top, d->r, d->h, &h0, &h1);
                for (int64_t wo = wo0; wo <= wo1; wo++) {
                    int64_t w0, w1;
                    FN(window)(wo, d->stride_w, d->pad_left, d->s, d->w, &w0, &w1);
                    const T inv = (T)1 / (T)((h1 - h0) * (w1 - w0));
                    const T *g = dy + n * ys[0] + ho * ys[1] + wo * ys[2];
                    for (int64_t c = 0; c < d->c; c++) out[c * dxs[3]] += g[c * ys[3]] * inv;
                }
            }
        }
    }
    return FC_OK;
}

/* Pixels summed in the input's precision before joining the double total:
 * the inner loop then vectorises without conversions, and 64 terms keep the
 * float32 rounding small. */
#define FC_GAP_CHUNK 64

int FN(fc_global_avg_pool2d)(const fc_pool_desc *d, const T *x, T *y, int nthreads) {
    const int64_t *xs = d->xs, pixels = d->h * d->w;
    const double inv = 1.0 / (double)pixels;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && d->n > 1)
    {
        double *acc = (double *)fc_alloc(d->c, sizeof(double));
        T *part = (T *)fc_alloc(d->c, sizeof(T));
        if (!acc || !part) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t n = 0; n < d->n; n++) {
            if (!acc || !part) continue;
            for (int64_t c = 0; c < d->c; c++) acc[c] = 0;
            for (int64_t p0 = 0; p0 < pixels; p0 += FC_GAP_CHUNK) {
                for (int64_t c = 0; c < d->c; c++) part[c] = 0;
                for (int64_t p = p0; p < FC_MIN(p0 + FC_GAP_CHUNK, pixels); p++)
                    FN(add_into)(part, x + n * xs[0] + (p / d->w) * xs[1] + (p % d->w) * xs[2],
                                 d->c, 1, xs[3]);
                for (int64_t c = 0; c < d->c; c++) acc[c] += part[c];
            }
            for (int64_t c = 0; c < d->c; c++) y[n * d->c + c] = (T)(acc[c] * inv);
        }
        fc_free(acc);
        fc_free(part);
    }
    return status;
}

