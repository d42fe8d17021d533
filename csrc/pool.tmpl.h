/* Max, average and global-average pooling and max unpooling for one dtype (included by pool.c
 * with T and SFX defined).  Tensors are addressed through (n, h, w, c) element
 * strides; the channel loop is innermost so NHWC data vectorises. */
#ifndef FC_INSTANTIATING
#error "pool.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

/* The taps [*t0, *t1) of output o, in one axis, whose positions
 * o * stride - pad + t * dil lie in [lo, hi). */
static inline void FN(taps)(int64_t o, int64_t stride, int64_t pad, int64_t size, int64_t dil,
                            int64_t lo, int64_t hi, int64_t *t0, int64_t *t1) {
    const int64_t start = o * stride - pad;
    *t0 = start >= lo ? 0 : FC_MIN(size, FC_CEIL_DIV(lo - start, dil));
    *t1 = hi > start ? FC_MIN(size, FC_CEIL_DIV(hi - start, dil)) : 0;
    if (*t1 < *t0) *t1 = *t0;
}

/* The real taps of window (ho, wo): rows [*i0, *i1), columns [*j0, *j1). */
static inline void FN(window)(const fc_pool_desc *d, int64_t ho, int64_t wo, int64_t *i0,
                              int64_t *i1, int64_t *j0, int64_t *j1) {
    FN(taps)(ho, d->stride_h, d->pad_top, d->r, d->dil_h, 0, d->h, i0, i1);
    FN(taps)(wo, d->stride_w, d->pad_left, d->s, d->dil_w, 0, d->w, j0, j1);
}

/* The row and column of tap (i, j) of window (ho, wo). */
#define FC_TAP_H(d, ho, i) ((ho) * (d)->stride_h - (d)->pad_top + (i) * (d)->dil_h)
#define FC_TAP_W(d, wo, j) ((wo) * (d)->stride_w - (d)->pad_left + (j) * (d)->dil_w)

/* What average pooling divides window (ho, wo) by: its real taps, or with
 * count_include_pad its taps inside the padded input. */
static inline T FN(avg_divisor)(const fc_pool_desc *d, int64_t ho, int64_t wo) {
    const int64_t inc = d->count_include_pad;
    int64_t i0, i1, j0, j1;
    FN(taps)(ho, d->stride_h, d->pad_top, d->r, d->dil_h, inc ? -d->pad_top : 0,
             d->h + (inc ? d->pad_bottom : 0), &i0, &i1);
    FN(taps)(wo, d->stride_w, d->pad_left, d->s, d->dil_w, inc ? -d->pad_left : 0,
             d->w + (inc ? d->pad_right : 0), &j0, &j1);
    return (T)((i1 - i0) * (j1 - j0));
}

#include "pool_fast.tmpl.h"

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

/* max (is_max) or sum over the real taps of every window into y; the sums
 * are then divided by avg_divisor. */
static void FN(pool_forward)(const fc_pool_desc *d, int is_max, const T *x, T *y, int nthreads) {
    const int64_t *xs = d->xs, *ys = d->ys;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1)
    for (int64_t nh = 0; nh < d->n * d->ho; nh++) {
        const int64_t n = nh / d->ho, ho = nh % d->ho;
        for (int64_t wo = 0; wo < d->wo; wo++) {
            int64_t i0, i1, j0, j1;
            FN(window)(d, ho, wo, &i0, &i1, &j0, &j1);
            T *out = y + n * ys[0] + ho * ys[1] + wo * ys[2];
            const T init = is_max ? -(T)INFINITY : 0;
            for (int64_t c = 0; c < d->c; c++) out[c * ys[3]] = init;
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = j0; j < j1; j++) {
                    const T *in = x + n * xs[0] + FC_TAP_H(d, ho, i) * xs[1] +
                                  FC_TAP_W(d, wo, j) * xs[2];
                    if (is_max)
                        FN(max_into)(out, in, d->c, ys[3], xs[3]);
                    else
                        FN(add_into)(out, in, d->c, ys[3], xs[3]);
                }
            if (!is_max) {
                const T inv = (T)1 / FN(avg_divisor)(d, ho, wo);
                for (int64_t c = 0; c < d->c; c++) out[c * ys[3]] *= inv;
            }
        }
    }
}

int FN(fc_avg_pool2d)(const fc_pool_desc *d, const T *x, T *y, int nthreads) {
    if (FN(pool_fast_applies)(d, 1, 0)) return FN(pool_fast_forward)(d, 0, x, y, nthreads);
    FN(pool_forward)(d, 0, x, y, nthreads);
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

/* Per-thread scratch of the argmax: best and arg (c values each), pix (r * s). */
typedef struct {
    T *best, *arg;
    int64_t *pix;
} FN(argmax_scratch);

static int FN(argmax_scratch_alloc)(const fc_pool_desc *d, FN(argmax_scratch) *a) {
    a->best = (T *)fc_alloc(d->c, sizeof(T));
    a->arg = (T *)fc_alloc(d->c, sizeof(T));
    a->pix = (int64_t *)fc_alloc(d->r * d->s, sizeof(int64_t));
    return a->best && a->arg && a->pix;
}

static void FN(argmax_scratch_free)(FN(argmax_scratch) *a) {
    fc_free(a->best);
    fc_free(a->arg);
    fc_free(a->pix);
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
        FN(argmax_scratch) a = {NULL, NULL, NULL};
        const int ok = !is_max || FN(argmax_scratch_alloc)(d, &a);
        T *best = a.best, *arg = a.arg;
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
        FN(argmax_scratch_free)(&a);
    }
    if (d->ho == 0)   /* no window at all: dx is 0 */
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t h = 0; h < d->h; h++)
                for (int64_t w = 0; w < d->w; w++)
                    memset(dx + n * dxs[0] + h * dxs[1] + w * dxs[2], 0, (size_t)c * sizeof(T));
    return status;
}

/* Whether tiled_pool_backward applies: non-overlapping undilated windows
 * from the origin that stay inside the input (bottom/right padding, as "same"
 * or ceil mode adds, would put the last windows partly outside it), unit
 * channel strides. */
static int FN(pool_is_tiled)(const fc_pool_desc *d) {
    return d->stride_h == d->r && d->stride_w == d->s && d->dil_h == 1 && d->dil_w == 1 &&
           d->pad_top == 0 && d->pad_left == 0 &&
           d->ho * d->r <= d->h && d->wo * d->s <= d->w && d->xs[3] == 1 && d->ys[3] == 1 &&
           d->dxs[3] == 1;
}

/* The first maximum of window (n, ho, wo) of every channel, over its real
 * taps in row-major order, a NaN counting as the maximum: its value in best,
 * its tap number in arg, and the position h * W + w of tap number t in pix[t].
 * Returns the number of real taps (>= 1 for a valid geometry). */
static int64_t FN(window_argmax)(const fc_pool_desc *d, const T *x, int64_t n, int64_t ho,
                                 int64_t wo, T *best, T *arg, int64_t *pix) {
    const int64_t *xs = d->xs;
    int64_t i0, i1, j0, j1, t = 0;
    FN(window)(d, ho, wo, &i0, &i1, &j0, &j1);
    for (int64_t i = i0; i < i1; i++)
        for (int64_t j = j0; j < j1; j++, t++) {
            const int64_t h = FC_TAP_H(d, ho, i), w = FC_TAP_W(d, wo, j);
            const T *in = x + n * xs[0] + h * xs[1] + w * xs[2];
            pix[t] = h * d->w + w;
            if (t == 0) {
                for (int64_t c = 0; c < d->c; c++) best[c] = in[c * xs[3]];
                memset(arg, 0, (size_t)d->c * sizeof(T));
            } else {
                FN(argmax_step)(best, arg, in, d->c, xs[3], (T)t);
            }
        }
    return t;
}

/* Max pooling that also records where each maximum is. */
static int FN(max_pool_indices)(const fc_pool_desc *d, const T *x, T *y, int64_t *idx,
                                int nthreads) {
    const int64_t *ys = d->ys;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && d->n * d->ho > 1)
    {
        FN(argmax_scratch) a;
        const int ok = FN(argmax_scratch_alloc)(d, &a);
        if (!ok) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t nh = 0; nh < d->n * d->ho; nh++) {
            if (!ok) continue;
            const int64_t n = nh / d->ho, ho = nh % d->ho;
            for (int64_t wo = 0; wo < d->wo; wo++) {
                FN(window_argmax)(d, x, n, ho, wo, a.best, a.arg, a.pix);
                const int64_t at = n * ys[0] + ho * ys[1] + wo * ys[2];
                for (int64_t c = 0; c < d->c; c++) {
                    y[at + c * ys[3]] = a.best[c];
                    idx[at + c * ys[3]] = a.pix[(int64_t)a.arg[c]];
                }
            }
        }
        FN(argmax_scratch_free)(&a);
    }
    return status;
}

int FN(fc_max_pool2d)(const fc_pool_desc *d, const T *x, T *y, int64_t *idx, int nthreads) {
    if (idx) return FN(max_pool_indices)(d, x, y, idx, nthreads);
    if (FN(pool_fast_applies)(d, 1, 0)) return FN(pool_fast_forward)(d, 1, x, y, nthreads);
    FN(pool_forward)(d, 1, x, y, nthreads);
    return FC_OK;
}

/* Zeroes image n of a tensor shaped like the input (strides s). */
static void FN(zero_image)(const fc_pool_desc *d, T *img, const int64_t *s) {
    if (s[3] == 1 && s[2] == d->c && s[1] == d->w * d->c) {
        memset(img, 0, (size_t)(d->h * d->w * d->c) * sizeof(T));
        return;
    }
    for (int64_t h = 0; h < d->h; h++)
        for (int64_t w = 0; w < d->w; w++)
            for (int64_t c = 0; c < d->c; c++) img[h * s[1] + w * s[2] + c * s[3]] = 0;
}

/* Each gradient goes to the first maximum of its window (row-major), a NaN
 * counting as the maximum.  Overlapping windows: one thread owns each image,
 * which is zeroed and then gets each gradient added at its argmax.  (Adding
 * it, masked, at every window position vectorises but was slower for 3x3/2.) */
int FN(fc_max_pool2d_backward)(const fc_pool_desc *d, const T *dy, const T *x, T *dx,
                               int nthreads) {
    if (FN(pool_fast_applies)(d, 1, 1)) return FN(pool_fast_backward)(d, 1, dy, x, dx, nthreads);
    if (FN(pool_is_tiled)(d)) return FN(tiled_pool_backward)(d, 1, dy, x, dx, nthreads);
    const int64_t *ys = d->ys, *dxs = d->dxs;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && d->n > 1)
    {
        FN(argmax_scratch) a;
        const int ok = FN(argmax_scratch_alloc)(d, &a);
        if (!ok) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t n = 0; n < d->n; n++) {
            if (!ok) continue;
            T *img = dx + n * dxs[0];
            FN(zero_image)(d, img, dxs);
            for (int64_t ho = 0; ho < d->ho; ho++)
                for (int64_t wo = 0; wo < d->wo; wo++) {
                    const int64_t taps = FN(window_argmax)(d, x, n, ho, wo, a.best, a.arg, a.pix);
                    for (int64_t t = 0; t < taps; t++)     /* positions to dx offsets */
                        a.pix[t] = (a.pix[t] / d->w) * dxs[1] + (a.pix[t] % d->w) * dxs[2];
                    const T *g = dy + n * ys[0] + ho * ys[1] + wo * ys[2];
                    for (int64_t c = 0; c < d->c; c++)
                        img[a.pix[(int64_t)a.arg[c]] + c * dxs[3]] += g[c * ys[3]];
                }
        }
        FN(argmax_scratch_free)(&a);
    }
    return status;
}

/* The window index o (in one axis) whose tap t lands on input position p, or
 * -1 when none does. */
static inline int64_t FN(window_of)(int64_t p, int64_t t, int64_t stride, int64_t pad,
                                    int64_t dil, int64_t count) {
    const int64_t num = p + pad - t * dil;
    if (num < 0 || num % stride) return -1;
    return num / stride < count ? num / stride : -1;
}

/* dx[h, w] gathers dy / divisor from every window that has a tap on (h, w)
 * (windows in increasing order: taps in decreasing order). */
int FN(fc_avg_pool2d_backward)(const fc_pool_desc *d, const T *dy, T *dx, int nthreads) {
    if (FN(pool_fast_applies)(d, 0, 1)) return FN(pool_fast_backward)(d, 0, dy, NULL, dx, nthreads);
    if (FN(pool_is_tiled)(d)) return FN(tiled_pool_backward)(d, 0, dy, NULL, dx, nthreads);
    const int64_t *ys = d->ys, *dxs = d->dxs;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1)
    for (int64_t nh = 0; nh < d->n * d->h; nh++) {
        const int64_t n = nh / d->h, h = nh % d->h;
        for (int64_t w = 0; w < d->w; w++) {
            T *out = dx + n * dxs[0] + h * dxs[1] + w * dxs[2];
            for (int64_t c = 0; c < d->c; c++) out[c * dxs[3]] = 0;
            for (int64_t i = d->r - 1; i >= 0; i--) {
                const int64_t ho = FN(window_of)(h, i, d->stride_h, d->pad_top, d->dil_h, d->ho);
                if (ho < 0) continue;
                for (int64_t j = d->s - 1; j >= 0; j--) {
                    const int64_t wo = FN(window_of)(w, j, d->stride_w, d->pad_left, d->dil_w,
                                                     d->wo);
                    if (wo < 0) continue;
                    const T inv = (T)1 / FN(avg_divisor)(d, ho, wo);
                    const T *g = dy + n * ys[0] + ho * ys[1] + wo * ys[2];
                    for (int64_t c = 0; c < d->c; c++) out[c * dxs[3]] += g[c * ys[3]] * inv;
                }
            }
        }
    }
    return FC_OK;
}

/* One thread per image, inputs in row-major order: where windows overlap and
 * two inputs name one position, the later one is kept, whatever the thread count. */
int FN(fc_max_unpool2d)(const fc_pool_desc *d, const T *in, const int64_t *idx, T *out,
                        int nthreads) {
    const int64_t *ys = d->ys, *os = d->dxs, plane = d->h * d->w;
    int status = FC_OK;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && d->n > 1)
    for (int64_t n = 0; n < d->n; n++) {
        T *img = out + n * os[0];
        FN(zero_image)(d, img, os);
        for (int64_t i = 0; i < d->ho; i++)
            for (int64_t j = 0; j < d->wo; j++)
                for (int64_t c = 0; c < d->c; c++) {
                    const int64_t at = n * ys[0] + i * ys[1] + j * ys[2] + c * ys[3];
                    const int64_t p = idx[at];
                    if (p < 0 || p >= plane) {
#pragma omp atomic write
                        status = FC_EINVAL;
                        continue;
                    }
                    img[(p / d->w) * os[1] + (p % d->w) * os[2] + c * os[3]] = in[at];
                }
    }
    return status;
}

/* Pixels summed in the input's precision, in order, by the ISA's add_px
 * before joining the double total: 64 terms keep the float32 rounding small.
 * FC_GAP_ROWS pixel rows go in one pass: part is read and written once per
 * pass, and each row is read as a stream (a block of channels of every
 * pixel of a 7x7 map of 2048 channels: 49 lines 8 KiB apart, one L1 set). */
#define FC_GAP_CHUNK 64
#define FC_GAP_ROWS 8
/* Channels per work item: images are split into blocks of channels, so one
 * image (batch 1) still runs on every thread; each channel's sum is the same
 * whatever the block, so the bits do not depend on the threads. */
#define FC_GAP_CHANNELS 512

int FN(fc_global_avg_pool2d)(const fc_pool_desc *d, const T *x, T *y, int nthreads) {
    const int64_t pixels = d->h * d->w, cblocks = FC_CEIL_DIV(d->c, FC_GAP_CHANNELS);
    const double inv = 1.0 / (double)pixels;
    const FN(fc_pool_kernels) *kern = FN(fc_pool_kernels_for)();
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && d->n * cblocks > 1)
    {
        const int64_t width = FC_MIN(d->c, FC_GAP_CHANNELS);
        double *acc = (double *)fc_alloc(width, sizeof(double));
        T *part = (T *)fc_alloc(width, sizeof(T));
        if (!acc || !part) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t item = 0; item < d->n * cblocks; item++) {
            if (!acc || !part) continue;
            const int64_t n = item / cblocks, c0 = item % cblocks * FC_GAP_CHANNELS;
            const int64_t cb = FC_MIN(FC_GAP_CHANNELS, d->c - c0);
            const T *xn = x + n * d->xs[0] + c0 * d->xs[3];
            for (int64_t c = 0; c < cb; c++) acc[c] = 0;
            for (int64_t p0 = 0; p0 < pixels; p0 += FC_GAP_CHUNK) {
                const T *px[FC_GAP_CHUNK];
                const int np = (int)FC_MIN(FC_GAP_CHUNK, pixels - p0);
                for (int i = 0; i < np; i++)
                    px[i] = xn + ((p0 + i) / d->w) * d->xs[1] + ((p0 + i) % d->w) * d->xs[2];
                for (int64_t c = 0; c < cb; c++) part[c] = 0;
                if (d->xs[3] == 1) {   /* a few pixel rows a pass: each a stream */
                    for (int i = 0; i < np; i += FC_GAP_ROWS)
                        kern->add_px(part, px + i, FC_MIN(FC_GAP_ROWS, np - i), cb);
                } else {   /* channels apart (NCHW): the pixels of one channel at a time */
                    for (int64_t c = 0; c < cb; c++)
                        for (int i = 0; i < np; i++) part[c] += px[i][c * d->xs[3]];
                }
                for (int64_t c = 0; c < cb; c++) acc[c] += part[c];
            }
            for (int64_t c = 0; c < cb; c++) y[n * d->c + c0 + c] = (T)(acc[c] * inv);
        }
        fc_free(acc);
        fc_free(part);
    }
    return status;
}

