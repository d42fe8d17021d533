/* Convolution forward and backward for one dtype, as implicit GEMMs: the
 * im2col rows are built while packing GEMM panels, so no im2col buffer exists
 * and the workspace is bounded by the GEMM blocking, whatever the batch.
 * Included by conv.c with T and SFX defined.
 *
 * Index conventions (one group g; Cg = C / groups, Kg = K / groups):
 *   forward   y[m, k]  = sum_p col[m, p] * w[p, k],  m = (n, ho, wo), p = (r, s, c)
 *   dw        dw[p, k] = sum_m col[m, p] * dy[m, k], computed as dw^T = dy^T col
 *   dx        dx[q, c] = sum_t dcol[q, t] * w[t, c],  q = (n, h, w), t = (r, s, k)
 *             where dcol[q, t] = dy[n, ho, wo, k] when h = ho*sh - pt + r*dh (and
 *             likewise for w) has an integer solution inside the output, else 0.
 *             That is used at stride 1; at larger strides most dcol entries are
 *             zero, so dx_col2im computes dy * W^T in blocks and scatters it. */

#define FC_CAT_(a, b) a##_##b
#define FC_CAT(a, b) FC_CAT_(a, b)
#define FN(name) FC_CAT(name, SFX)
#define PLAN FN(fc_gemm_plan)
#define MATRIX FN(fc_matrix)

#include "conv_direct_impl.h"
#include "conv_winograd_impl.h"
#include "conv_dw_inplace_impl.h"

/* Whether k output channels are few enough for the direct kernels to beat the
 * GEMM (measured on this machine, float32, 1 and 2 threads): up to 16 always
 * (dw: 8; LeNet's 6->16 dw takes 0.56 ms direct, 0.42 ms as a GEMM); up to 32
 * with at least 9 taps when the GEMM's 16-wide tiles would be part padding
 * (3x3, 64->24 on 56x56: 6.0 vs 7.9 ms) or with at least 25 taps (5x5, 16->32
 * on 28x28: 1.35 vs 1.50 ms); not for 3x3 to 32 channels (1.45 vs 1.36 ms). */
static int FN(few_channels)(int pass, int64_t k, int64_t taps) {
    if (pass == FC_PASS_DW) return k <= FC_DIRECT_MAX_KB;
    return k <= 2 * FC_DIRECT_MAX_KB ||
           (k <= 4 * FC_DIRECT_MAX_KB && taps >= 9 && (k % 16 != 0 || taps >= 25));
}

/* The algorithm for pass `pass` of d writing strides os: FC_CONV_GEMM,
 * _DIRECT, _WINOGRAD or _INPLACE (dw only), or FC_EINVAL when the one asked for
 * does not apply.  The automatic choice never depends on the thread count (so
 * neither do results): direct for few output channels (few_channels) when
 * there is a batch to share out; for dw of 3x3 stride-1 layers with at most
 * 64 channels each way, the in-place GEMM (resnet-3x3 20.9 -> 17.5 ms at 1
 * thread, 12.6 -> 10.2 at 2; 16->16 channels on 32x32: 4.9 -> 2.9 ms; but
 * vgg-c2's 128 channels 32.4 -> 35.0 ms, and slower for 1x1 and 5x5); Winograd for 3x3 stride-1 layers with
 * enough channels and tiles (with 32 channels it took 2x the GEMM's time);
 * else the implicit GEMM. */
static int FN(choose_algorithm)(const fc_conv_desc *d, int pass, const int64_t os[4]) {
    if (d->c == 0 || d->k == 0) return FC_CONV_GEMM;   /* no channels: nothing to choose */
    /* every algorithm but the GEMM needs stride 1, no dilation and one group;
     * dx by a forward algorithm also needs padding that leaves the flipped
     * convolution a non-negative one */
    const int64_t pb = d->ho + d->r - 1 - d->h - d->pad_top, pr = d->wo + d->s - 1 - d->w - d->pad_left;
    const int eligible = d->groups == 1 && d->stride_h == 1 && d->stride_w == 1 && d->dil_h == 1 &&
                         d->dil_w == 1 &&
                         (pass != FC_PASS_DX ||
                          (d->pad_top < d->r && d->pad_left < d->s && pb < d->r && pr < d->s));
    const FN(direct_geom) g = pass == FC_PASS_DX ? FN(direct_geom_dx)(d) : FN(direct_geom_of)(d);
    int64_t wp, len;
    const int direct = eligible && FN(direct_applies)(d, pass, os);
    const int winograd = eligible && pass != FC_PASS_DW &&
                         FN(winograd_applies)(&g, pass == FC_PASS_DX ? d->ys : d->xs, os);
    const int inplace = eligible && pass == FC_PASS_DW && FN(inplace_dw_sizes)(d, &wp, &len) > 0;
    switch (d->algo) {
    case FC_CONV_GEMM: return FC_CONV_GEMM;
    case FC_CONV_DIRECT: return direct ? FC_CONV_DIRECT : FC_EINVAL;
    case FC_CONV_WINOGRAD: return winograd ? FC_CONV_WINOGRAD : FC_EINVAL;
    case FC_CONV_INPLACE:
        return pass != FC_PASS_DW ? FC_CONV_GEMM : inplace ? FC_CONV_INPLACE : FC_EINVAL;
    }
    if (direct && d->n >= 2 && FN(few_channels)(pass, g.k, g.r * g.s)) return FC_CONV_DIRECT;
    if (inplace && d->r == 3 && d->s == 3 && d->c <= 64 && d->k <= 64) return FC_CONV_INPLACE;
    const int64_t tiles = g.n * FC_CEIL_DIV(g.ho, 2) * FC_CEIL_DIV(g.wo, 2);
    if (winograd && FC_MIN(g.c, g.k) >= FC_WINOGRAD_MIN_CHANNELS && tiles >= FC_WINOGRAD_MIN_TILES)
        return FC_CONV_WINOGRAD;
    return FC_CONV_GEMM;
}

/* dx by a forward algorithm on dy with the flipped kernel. */
static int FN(dx_as_forward)(const fc_conv_desc *d, int algo, const T *dy, const T *w, T *dx,
                             const int64_t dxs[4], int nthreads) {
    const FN(direct_geom) g = FN(direct_geom_dx)(d);
    T *wf = FN(flipped_kernel)(d, w);
    if (!wf) return FC_ENOMEM;
    const int status =
        algo == FC_CONV_WINOGRAD
            ? FN(winograd_conv)(&g, dy, d->ys, wf, NULL, FC_ACT_NONE, 0, dx, dxs, nthreads)
            : FN(direct_conv)(&g, dy, d->ys, wf, NULL, FC_ACT_NONE, 0, dx, dxs, nthreads);
    fc_free(wf);
    return status;
}

typedef struct {
    const fc_conv_desc *d;
    const T *t;                 /* the tensor packed from: x (forward, dw) or dy (dx) */
    const int64_t *ts;          /* its strides in (n, h, w, c) order */
    int64_t g;                  /* group */
    int64_t n0;                 /* first image of the rows (per-image GEMMs) */
    int64_t row0;               /* first pixel of the rows within the image (col2im blocks) */
    int64_t col0;               /* first column of the columns packed (dx by tap chunks) */
} FN(conv_src);

/* dst[0..len) = src[0, stride, 2*stride, ...), or zeros when src is NULL. */
static inline void FN(copy_run)(T *dst, const T *src, int64_t stride, int64_t len) {
    if (!src)
        memset(dst, 0, (size_t)len * sizeof(T));
    else if (stride == 1 && len > 8)   /* short runs (few channels) skip the call */
        memcpy(dst, src, (size_t)len * sizeof(T));
    else
        for (int64_t c = 0; c < len; c++) dst[c] = src[c * stride];
}

/* An output pixel (n, ho, wo) of the rows being packed, with its image and the
 * input coordinates of its receptive field's top-left corner; pixel_next
 * steps to the following pixel without dividing. */
typedef struct {
    int64_t n, ho, wo;
    const T *img;
    int64_t hb, wb;
} FN(pixel);

static inline void FN(pixel_update)(const FN(conv_src) *src, FN(pixel) *px) {
    const fc_conv_desc *d = src->d;
    px->img = src->t + (src->n0 + px->n) * src->ts[0] + src->g * (d->c / d->groups) * src->ts[3];
    px->hb = px->ho * d->stride_h - d->pad_top;
    px->wb = px->wo * d->stride_w - d->pad_left;
}

static inline FN(pixel) FN(pixel_at)(const FN(conv_src) *src, int64_t m) {
    const fc_conv_desc *d = src->d;
    const int64_t hw = d->ho * d->wo, rem = m % hw;
    FN(pixel) px = {m / hw, rem / d->wo, rem % d->wo, NULL, 0, 0};
    FN(pixel_update)(src, &px);
    return px;
}

static inline void FN(pixel_next)(const FN(conv_src) *src, FN(pixel) *px) {
    if (++px->wo == src->d->wo) {
        px->wo = 0;
        if (++px->ho == src->d->ho) {
            px->ho = 0;
            px->n++;
        }
    }
    FN(pixel_update)(src, px);
}

/* Where column p0 of an im2col row falls: kernel row r, tap s within it, channel c0. */
typedef struct {
    int64_t p0, r, tap, c0;
} FN(column);

static inline FN(column) FN(column_at)(const fc_conv_desc *d, int64_t p0) {
    const int64_t cg = d->c / d->groups, row_len = d->s * cg;
    const int64_t r = p0 / row_len, off = p0 - r * row_len;
    FN(column) col = {p0, r, off / cg, off % cg};
    return col;
}

/* out[0..len) = columns [col.p0, col.p0+len) of the im2col row of output pixel
 * px, columns ordered (r, s, c).  The row is a sequence of channel runs, one
 * per kernel tap; when a whole kernel row of taps is contiguous in x
 * (groups == 1, no column dilation, NHWC-contiguous pixels) it is copied as
 * one run of S*C values. */
static void FN(im2col_row)(const FN(conv_src) *src, const FN(pixel) *px, FN(column) col,
                           int64_t len, T *out) {
    const fc_conv_desc *d = src->d;
    const int64_t *xs = src->ts, cg = d->c / d->groups, end = col.p0 + len, row_len = d->s * cg;
    const T *img = px->img;
    const int64_t hb = px->hb, wb = px->wb;
    const int wide = d->groups == 1 && d->dil_w == 1 && xs[3] == 1 && xs[2] == d->c &&
                     wb >= 0 && wb + d->s <= d->w;
    out -= col.p0;
    int64_t r = col.r, tap = col.tap, c0 = col.c0;
    for (int64_t p = col.p0; p < end; r++, tap = 0, c0 = 0) {
        const int64_t h = hb + r * d->dil_h;
        const int h_ok = h >= 0 && h < d->h;
        if (wide) {   /* the rest of kernel row r in one run */
            const int64_t n = FC_MIN(row_len - (tap * cg + c0), end - p);
            FN(copy_run)(out + p, h_ok ? img + h * xs[1] + wb * xs[2] + tap * cg + c0 : NULL, 1, n);
            p += n;
            continue;
        }
        for (; tap < d->s && p < end; tap++, c0 = 0) {
            const int64_t n = FC_MIN(cg - c0, end - p), w = wb + tap * d->dil_w;
            const int ok = h_ok && w >= 0 && w < d->w;
            FN(copy_run)(out + p, ok ? img + h * xs[1] + w * xs[2] + c0 * xs[3] : NULL, xs[3], n);
            p += n;
        }
    }
}

/* Forward A: rows are output pixels, columns (r, s, c) of the receptive field. */
static void FN(pack_a_im2col)(const void *ctx, int64_t i0, int64_t rows, int64_t p0,
                              int64_t kc, int mr, T *dst) {
    const FN(conv_src) *src = (const FN(conv_src) *)ctx;
    FN(pixel) px = FN(pixel_at)(src, i0);
    const FN(column) col = FN(column_at)(src->d, p0);
    for (int64_t i = 0; i < mr; i++) {
        if (i < rows) {
            FN(im2col_row)(src, &px, col, kc, dst + i * kc);
            if (i + 1 < rows) FN(pixel_next)(src, &px);
        } else {
            memset(dst + i * kc, 0, (size_t)kc * sizeof(T));
        }
    }
}

/* dw^T B: rows are output pixels (the reduction), columns (r, s, c). */
static void FN(pack_b_im2col)(const void *ctx, int64_t p0, int64_t kc, int64_t j0,
                              int64_t cols, int nr, T *dst) {
    const FN(conv_src) *src = (const FN(conv_src) *)ctx;
    FN(pixel) px = FN(pixel_at)(src, p0);
    const FN(column) col = FN(column_at)(src->d, j0);
    for (int64_t p = 0; p < kc; p++, dst += nr) {
        FN(im2col_row)(src, &px, col, cols, dst);
        for (int64_t j = cols; j < nr; j++) dst[j] = 0;
        if (p + 1 < kc) FN(pixel_next)(src, &px);
    }
}

/* dw^T B by rows: each pixel's im2col row is built once, then cut into the
 * panels (see pack_b_rows in internal.h). */
static void FN(pack_b_im2col_rows)(const void *ctx, int64_t p0, int64_t rows, int64_t j0,
                                   int64_t nc, int nr, int64_t panel, T *dst) {
    const FN(conv_src) *src = (const FN(conv_src) *)ctx;
    FN(pixel) px = FN(pixel_at)(src, p0);
    const FN(column) col = FN(column_at)(src->d, j0);
    const int64_t npanels = FC_CEIL_DIV(nc, nr);
    T row[FC_GEMM_MAX_NC];
    for (int64_t p = 0; p < rows; p++, dst += nr) {
        FN(im2col_row)(src, &px, col, nc, row);
        for (int64_t q = 0; q < npanels; q++) {
            const int64_t cols = FC_MIN(nr, nc - q * nr);
            T *out = dst + q * panel;
            memcpy(out, row + q * nr, (size_t)cols * sizeof(T));
            for (int64_t j = cols; j < nr; j++) out[j] = 0;
        }
        if (p + 1 < rows) FN(pixel_next)(src, &px);
    }
}

/* dw^T A: rows are the group's output channels, columns output pixels of dy. */
static void FN(pack_a_dy_t)(const void *ctx, int64_t i0, int64_t rows, int64_t p0,
                            int64_t kc, int mr, T *dst) {
    const FN(conv_src) *src = (const FN(conv_src) *)ctx;
    const fc_conv_desc *d = src->d;
    const int64_t *ys = src->ts, hw = d->ho * d->wo, kg = d->k / d->groups;
    for (int64_t i = rows; i < mr; i++) memset(dst + i * kc, 0, (size_t)kc * sizeof(T));
    for (int64_t p = 0; p < kc; p++) {
        const int64_t m = p0 + p, rem = m % hw;
        const T *px = src->t + (m / hw) * ys[0] + (rem / d->wo) * ys[1] + (rem % d->wo) * ys[2] +
                      (src->g * kg + i0) * ys[3];
        for (int64_t i = 0; i < rows; i++) dst[i * kc + p] = px[i * ys[3]];
    }
}

/* dx A: rows are input pixels, columns (r, s, k); see the header comment. */
static void FN(pack_a_dcol)(const void *ctx, int64_t i0, int64_t rows, int64_t p0,
                            int64_t kc, int mr, T *dst) {
    const FN(conv_src) *src = (const FN(conv_src) *)ctx;
    const fc_conv_desc *d = src->d;
    p0 += src->col0;
    const int64_t *ys = src->ts, kg = d->k / d->groups, hw = d->h * d->w, end = p0 + kc;
    for (int64_t i = 0; i < mr; i++) {
        T *out = dst + i * kc - p0;
        if (i >= rows) {
            memset(out + p0, 0, (size_t)kc * sizeof(T));
            continue;
        }
        const int64_t q = i0 + i, rem = q % hw;
        const T *img = src->t + (src->n0 + q / hw) * ys[0] + src->g * kg * ys[3];
        const int64_t hq = rem / d->w + d->pad_top, wq = rem % d->w + d->pad_left;
        /* walk the taps (r, s) from column p0 on without dividing per run */
        const int64_t tap0 = p0 / kg;
        int64_t r = tap0 / d->s, s = tap0 % d->s, k0 = p0 - tap0 * kg;
        for (int64_t p = p0; p < end; k0 = 0) {
            const int64_t len = FC_MIN(kg - k0, end - p);
            const int64_t th = hq - r * d->dil_h, tw = wq - s * d->dil_w;
            const int64_t ho = th / d->stride_h, wo = tw / d->stride_w;
            const int ok = th >= 0 && tw >= 0 && th % d->stride_h == 0 && tw % d->stride_w == 0 &&
                           ho < d->ho && wo < d->wo;
            FN(copy_run)(out + p, ok ? img + ho * ys[1] + wo * ys[2] + k0 * ys[3] : NULL, ys[3], len);
            p += len;
            if (++s == d->s) {
                s = 0;
                r++;
            }
        }
    }
}

/* dw A = col^T (few pixels): rows (r, s, c), columns output pixels. */
static void FN(pack_a_col_t)(const void *ctx, int64_t i0, int64_t rows, int64_t p0,
                             int64_t kc, int mr, T *dst) {
    const FN(conv_src) *src = (const FN(conv_src) *)ctx;
    const fc_conv_desc *d = src->d;
    const int64_t *xs = src->ts, cg = d->c / d->groups, hw = d->ho * d->wo;
    int64_t dh[FC_MAX_MR], dw[FC_MAX_MR], coff[FC_MAX_MR];
    for (int64_t i = 0; i < rows; i++) {
        const int64_t q = i0 + i, rs = q / cg;
        dh[i] = (rs / d->s) * d->dil_h;
        dw[i] = (rs % d->s) * d->dil_w;
        coff[i] = (src->g * cg + q % cg) * xs[3];
    }
    for (int64_t i = rows; i < mr; i++) memset(dst + i * kc, 0, (size_t)kc * sizeof(T));
    for (int64_t p = 0; p < kc; p++) {
        const int64_t m = p0 + p, rem = m % hw;
        const T *img = src->t + (m / hw) * xs[0];
        const int64_t hb = (rem / d->wo) * d->stride_h - d->pad_top;
        const int64_t wb = (rem % d->wo) * d->stride_w - d->pad_left;
        for (int64_t i = 0; i < rows; i++) {
            const int64_t h = hb + dh[i], w = wb + dw[i];
            dst[i * kc + p] = (h < 0 || h >= d->h || w < 0 || w >= d->w)
                                  ? 0 : img[h * xs[1] + w * xs[2] + coff[i]];
        }
    }
}

/* dw B (few pixels): rows output pixels of dy, columns the group's output channels. */
static void FN(pack_b_pixels)(const void *ctx, int64_t p0, int64_t kc, int64_t j0,
                              int64_t cols, int nr, T *dst) {
    const FN(conv_src) *src = (const FN(conv_src) *)ctx;
    const fc_conv_desc *d = src->d;
    const int64_t *ys = src->ts, hw = d->ho * d->wo, kg = d->k / d->groups;
    for (int64_t p = 0; p < kc; p++, dst += nr) {
        const int64_t m = p0 + p, rem = m % hw;
        const T *s = src->t + (m / hw) * ys[0] + (rem / d->wo) * ys[1] + (rem % d->wo) * ys[2] +
                     (src->g * kg + j0) * ys[3];
        int64_t j = 0;
        for (; j < cols; j++) dst[j] = s[j * ys[3]];
        for (; j < nr; j++) dst[j] = 0;
    }
}


/* col2im A: rows are output pixels of image src->n0 (from src->row0 on),
 * columns the group's output channels of dy. */
static void FN(pack_a_pixels)(const void *ctx, int64_t i0, int64_t rows, int64_t p0,
                              int64_t kc, int mr, T *dst) {
    const FN(conv_src) *src = (const FN(conv_src) *)ctx;
    const fc_conv_desc *d = src->d;
    const int64_t *ys = src->ts, kg = d->k / d->groups;
    for (int64_t i = 0; i < mr; i++) {
        const int64_t m = src->row0 + i0 + i;
        FN(copy_run)(dst + i * kc,
                     i < rows ? src->t + src->n0 * ys[0] + (m / d->wo) * ys[1] +
                                    (m % d->wo) * ys[2] + (src->g * kg + p0) * ys[3]
                              : NULL,
                     ys[3], kc);
    }
}

/* dx at stride > 1 by a blocked col2im: dcol = dy * W^T for a block of output
 * pixels, then each row is added back into the receptive field it came from.
 * The implicit-GEMM dx would multiply mostly zeros there (1 in stride_h *
 * stride_w taps is live).  One thread owns each image, so the scatter needs no
 * atomics and the summation order is fixed.  Workspace: one block per thread. */
static int FN(dx_col2im)(const fc_conv_desc *d, const T *dy, const T *w, T *dx,
                         const int64_t dxs[4], int nthreads) {
    const int64_t cg = d->c / d->groups, kg = d->k / d->groups, taps = d->r * d->s;
    const int64_t width = taps * cg, hw = d->ho * d->wo;
    /* dcol blocks of at most 2^20 elements (4 MiB in float32) per thread */
    const int64_t block = FC_MAX(16, FC_MIN(1024, (1 << 20) / FC_MAX(width, 1)));
    /* W_g^T, (kg, (r, s, c)) per group, contiguous so packing it is row copies */
    T *wt_all = (T *)fc_alloc(d->k * width, sizeof(T));
    if (!wt_all) return FC_ENOMEM;
    for (int64_t g = 0; g < d->groups; g++)
        for (int64_t q = 0; q < width; q++)
            for (int64_t k = 0; k < kg; k++)
                wt_all[(g * kg + k) * width + q] = w[q * d->k + g * kg + k];
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && d->n > 1)
    {
        T *dcol = (T *)fc_alloc(block * width, sizeof(T));
        if (!dcol) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t n = 0; n < d->n; n++) {
            if (!dcol) continue;
            T *img = dx + n * dxs[0];
            for (int64_t h = 0; h < d->h; h++)
                for (int64_t x = 0; x < d->w; x++)
                    for (int64_t c = 0; c < d->c; c++) img[h * dxs[1] + x * dxs[2] + c * dxs[3]] = 0;
            for (int64_t g = 0; g < d->groups; g++) {
                FN(conv_src) src = {d, dy, d->ys, g, n, 0, 0};
                MATRIX wt = {wt_all + g * kg * width, width, 1};
                PLAN pl = {0};
                pl.n = width; pl.k = kg;
                pl.pack_a = FN(pack_a_pixels); pl.a_ctx = &src;
                pl.pack_b = FN(fc_pack_b_matrix); pl.b_ctx = &wt;
                pl.c = dcol; pl.rsc = width; pl.csc = 1;
                pl.alpha = 1; pl.beta = 0;
                for (int64_t m0 = 0; m0 < hw; m0 += block) {
                    pl.m = FC_MIN(block, hw - m0);
                    src.row0 = m0;
                    if (FN(fc_gemm_run)(&pl, 1) != FC_OK) {
#pragma omp atomic write
                        status = FC_ENOMEM;
                        break;
                    }
                    for (int64_t i = 0; i < pl.m; i++) {
                        const int64_t ho = (m0 + i) / d->wo, wo = (m0 + i) % d->wo;
                        for (int64_t t = 0; t < taps; t++) {
                            const int64_t h = ho * d->stride_h - d->pad_top + (t / d->s) * d->dil_h;
                            const int64_t x = wo * d->stride_w - d->pad_left + (t % d->s) * d->dil_w;
                            if (h < 0 || h >= d->h || x < 0 || x >= d->w) continue;
                            T *out = img + h * dxs[1] + x * dxs[2] + g * cg * dxs[3];
                            const T *in = dcol + i * width + t * cg;
                            if (dxs[3] == 1)
                                for (int64_t c = 0; c < cg; c++) out[c] += in[c];
                            else
                                for (int64_t c = 0; c < cg; c++) out[c * dxs[3]] += in[c];
                        }
                    }
                }
            }
        }
        fc_free(dcol);
    }
    fc_free(wt_all);
    return status;
}

#ifndef FC_UNIFORM_ROW_STRIDE
#define FC_UNIFORM_ROW_STRIDE
/* Whether rows (i0, i1, i2) of extents ext[] lie at a uniform distance *rs
 * (offset = linear row index * rs) given the axis strides ts[].  Strides of
 * extent-1 axes are ignored: NumPy's buffer export may give them any value. */
static int uniform_row_stride(const int64_t ts[3], const int64_t ext[3], int64_t *rs) {
    int64_t inner = 1, found = 0;
    *rs = 1;
    for (int i = 2; i >= 0; i--) {
        if (ext[i] > 1) {
            if (!found) {
                if (ts[i] % inner) return 0;
                *rs = ts[i] / inner;
                found = 1;
            } else if (ts[i] != inner * *rs) {
                return 0;
            }
        }
        inner *= ext[i];
    }
    return 1;
}
#endif

/* Runs plan `pl` writing rows (n, a, b) of a 4-D tensor with strides ts and
 * extents (n, rows_a, rows_b): one GEMM when the rows of the whole batch are
 * evenly spaced, else one per image (src->n0 selects the image). */
static int FN(run_over_images)(PLAN *pl, FN(conv_src) *src, T *base, const int64_t ts[4],
                               int64_t n, int64_t rows_a, int64_t rows_b, int nthreads) {
    const int64_t batch[3] = {n, rows_a, rows_b}, image[3] = {1, rows_a, rows_b};
    if (uniform_row_stride(ts, batch, &pl->rsc)) {
        pl->m = n * rows_a * rows_b;
        pl->c = base;
        src->n0 = 0;
        return FN(fc_gemm_run)(pl, nthreads);
    }
    const int ok = uniform_row_stride(ts, image, &pl->rsc);
    assert(ok);
    (void)ok;
    pl->m = rows_a * rows_b;
    for (int64_t i = 0; i < n; i++) {
        pl->c = base + i * ts[0];
        src->n0 = i;
        const int status = FN(fc_gemm_run)(pl, nthreads);
        if (status != FC_OK) return status;
    }
    return FC_OK;
}

/* A 1x1, stride-1, unpadded convolution is a plain GEMM on x's pixels, and
 * its dx one on dy's: when the pixels of the whole batch, of the GEMM's input
 * (strides as) and of its output (strides os), are evenly spaced with unit
 * channel stride, the GEMM reads the input's rows in place (no packing) unless
 * rows a multiple of 4 KiB apart would alias in L1.  Returns A (group g of
 * `a`, cg channels per group) or NULL. */
static const T *FN(pointwise_rows)(const fc_conv_desc *d, const T *a, const int64_t as[4],
                                   const int64_t os[4], int64_t cg, int64_t g, int64_t *lda) {
    const int64_t batch[3] = {d->n, d->h, d->w};
    int64_t out_rows;
    if (d->r != 1 || d->s != 1 || d->stride_h != 1 || d->stride_w != 1 || d->pad_top != 0 ||
        d->pad_left != 0 || as[3] != 1 || !uniform_row_stride(as, batch, lda) ||
        !uniform_row_stride(os, batch, &out_rows) || (*lda * (int64_t)sizeof(T)) % 4096 == 0)
        return NULL;
    return a + g * cg;
}

int FN(fc_conv2d)(const fc_conv_desc *d, const T *x, const T *w, const T *bias, int act,
                  double act_alpha, T *y, int nthreads) {
    const int64_t cg = d->c / d->groups, kg = d->k / d->groups;
    const int algo = FN(choose_algorithm)(d, FC_PASS_FORWARD, d->ys);
    const FN(direct_geom) geo = FN(direct_geom_of)(d);
    if (algo == FC_EINVAL) return FC_EINVAL;
    if (algo == FC_CONV_DIRECT)
        return FN(direct_conv)(&geo, x, d->xs, w, bias, act, (T)act_alpha, y, d->ys, nthreads);
    if (algo == FC_CONV_WINOGRAD)
        return FN(winograd_conv)(&geo, x, d->xs, w, bias, act, (T)act_alpha, y, d->ys, nthreads);
    for (int64_t g = 0; g < d->groups; g++) {
        FN(conv_src) src = {d, x, d->xs, g, 0, 0, 0};
        MATRIX wm = {w + g * kg, d->k, 1};
        PLAN pl = {0};
        pl.n = kg;
        pl.k = d->r * d->s * cg;
        pl.pack_a = FN(pack_a_im2col); pl.a_ctx = &src;
        pl.pack_b = FN(fc_pack_b_matrix); pl.b_ctx = &wm;
        pl.csc = d->ys[3];
        pl.alpha = 1; pl.beta = 0;
        pl.bias = bias ? bias + g * kg : NULL;
        pl.act = act; pl.act_alpha = (T)act_alpha;
        pl.a_direct = FN(pointwise_rows)(d, x, d->xs, d->ys, cg, g, &pl.lda_direct);
        const int status = FN(run_over_images)(&pl, &src, y + g * kg * d->ys[3], d->ys, d->n,
                                               d->ho, d->wo, nthreads);
        if (status != FC_OK) return status;
    }
    return FC_OK;
}

/* db[k] = sum of dy over n, ho, wo, in double.  When the pixels are evenly
 * spaced with unit channel stride (NHWC), fixed chunks of pixels are summed
 * along the contiguous channels in parallel and the chunk sums added in order;
 * otherwise each channel is summed on its own.  Either way the order is fixed,
 * so the thread count does not change the result. */
#define FC_DB_CHUNK 1024
static int FN(bias_grad)(const fc_conv_desc *d, const T *dy, T *db, int nthreads) {
    const int64_t *ys = d->ys, k = d->k, pixels = d->n * d->ho * d->wo;
    const int64_t extents[3] = {d->n, d->ho, d->wo};
    int64_t rs;
    if (ys[3] == 1 && uniform_row_stride(ys, extents, &rs)) {
        const int64_t chunks = FC_CEIL_DIV(pixels, FC_DB_CHUNK);
        double *part = (double *)fc_alloc(FC_MAX(chunks, 1) * k, sizeof(double));
        if (!part) return FC_ENOMEM;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && chunks > 1)
        for (int64_t c = 0; c < chunks; c++) {
            double *acc = part + c * k;
            for (int64_t j = 0; j < k; j++) acc[j] = 0;
            for (int64_t m = c * FC_DB_CHUNK; m < FC_MIN(pixels, (c + 1) * FC_DB_CHUNK); m++)
                for (int64_t j = 0; j < k; j++) acc[j] += dy[m * rs + j];
        }
        for (int64_t j = 0; j < k; j++) {
            double sum = 0;
            for (int64_t c = 0; c < chunks; c++) sum += part[c * k + j];
            db[j] = (T)sum;
        }
        fc_free(part);
        return FC_OK;
    }
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && k > 1)
    for (int64_t j = 0; j < k; j++) {
        double sum = 0;
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t a = 0; a < d->ho; a++)
                for (int64_t b = 0; b < d->wo; b++) sum += dy[n * ys[0] + a * ys[1] + b * ys[2] + j * ys[3]];
        db[j] = (T)sum;
    }
    return FC_OK;
}

/* dw of one group (written at dw_g, row stride K).  With many pixels per
 * output channel, dw^T = dy^T col packs the large operand as im2col rows
 * (channel runs) and is transposed into dw afterwards; with few pixels
 * (e.g. 13x13 maps, 1024 channels) dw = col^T dy is cheaper: its gathers are
 * few and it needs no transpose. */
static int FN(weight_grad)(const fc_conv_desc *d, FN(conv_src) *xsrc, FN(conv_src) *dysrc,
                           T *dw_g, int nthreads) {
    const int64_t kg = d->k / d->groups, width = d->r * d->s * (d->c / d->groups);
    const int64_t pixels = d->n * d->ho * d->wo;
    PLAN pl = {0};
    pl.k = pixels;
    pl.alpha = 1; pl.beta = 0;
    pl.csc = 1;
    if (pixels < kg) {
        pl.m = width; pl.n = kg;
        pl.pack_a = FN(pack_a_col_t); pl.a_ctx = xsrc;
        pl.pack_b = FN(pack_b_pixels); pl.b_ctx = dysrc;
        pl.c = dw_g; pl.rsc = d->k;
        return FN(fc_gemm_run)(&pl, nthreads);
    }
    T *dwt = (T *)fc_alloc(kg * width, sizeof(T));
    if (!dwt) return FC_ENOMEM;
    pl.m = kg; pl.n = width;
    pl.pack_a = FN(pack_a_dy_t); pl.a_ctx = dysrc;
    pl.pack_b = FN(pack_b_im2col); pl.b_ctx = xsrc;
    pl.pack_b_rows = FN(pack_b_im2col_rows);
    pl.c = dwt; pl.rsc = width;
    const int status = FN(fc_gemm_run)(&pl, nthreads);
    enum { TILE = 32 };   /* blocked transpose: both sides stay in cache */
    for (int64_t k0 = 0; k0 < kg; k0 += TILE)
        for (int64_t q0 = 0; q0 < width; q0 += TILE)
            for (int64_t q = q0; q < FC_MIN(q0 + TILE, width); q++)
                for (int64_t k = k0; k < FC_MIN(k0 + TILE, kg); k++)
                    dw_g[q * d->k + k] = dwt[k * width + q];
    fc_free(dwt);
    return status;
}

/* dx of group g at stride 1 as an implicit GEMM of dy (pack_a_dcol) with
 * B[(r, s, k), c] = w[r, s, c, k]: rows r,s step cg*K, k step 1, not a single
 * stride, so B is packed from a transposed copy, made (and multiplied) a few
 * taps at a time so that the copy stays within FC_DX_WEIGHT_BYTES; the later
 * chunks accumulate into dx. */
#define FC_DX_WEIGHT_BYTES (4 << 20)
static int FN(dx_implicit_gemm)(const fc_conv_desc *d, int64_t g, FN(conv_src) *dysrc, const T *w,
                                T *dx, const int64_t dxs[4], int nthreads) {
    const int64_t cg = d->c / d->groups, kg = d->k / d->groups, rs = d->r * d->s;
    const int64_t per_tap = kg * cg;
    const int64_t chunk = FC_MAX(1, FC_MIN(rs, FC_DX_WEIGHT_BYTES / (int64_t)sizeof(T) / FC_MAX(per_tap, 1)));
    T *wt = (T *)fc_alloc(chunk * per_tap, sizeof(T));
    if (!wt) return FC_ENOMEM;
    int status = FC_OK;
    for (int64_t t0 = 0; t0 < rs && status == FC_OK; t0 += chunk) {
        const int64_t taps = FC_MIN(chunk, rs - t0);
        enum { TILE = 32 };   /* blocked transpose of each tap's (c, k) matrix */
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && taps * per_tap >= (1 << 16))
        for (int64_t t = 0; t < taps; t++)
            for (int64_t c0 = 0; c0 < cg; c0 += TILE)
                for (int64_t k0 = 0; k0 < kg; k0 += TILE)
                    for (int64_t k = k0; k < FC_MIN(k0 + TILE, kg); k++)
                        for (int64_t c = c0; c < FC_MIN(c0 + TILE, cg); c++)
                            wt[(t * kg + k) * cg + c] = w[((t0 + t) * cg + c) * d->k + g * kg + k];
        MATRIX wm = {wt, cg, 1};
        PLAN px = {0};
        px.n = cg; px.k = taps * kg;
        px.pack_a = FN(pack_a_dcol); px.a_ctx = dysrc;
        px.pack_b = FN(fc_pack_b_matrix); px.b_ctx = &wm;
        px.csc = dxs[3];
        px.alpha = 1; px.beta = t0 == 0 ? 0 : 1;
        px.a_direct = FN(pointwise_rows)(d, dysrc->t, d->ys, dxs, kg, g, &px.lda_direct);
        dysrc->col0 = t0 * kg;
        status = FN(run_over_images)(&px, dysrc, dx + g * cg * dxs[3], dxs, d->n, d->h, d->w,
                                     nthreads);
    }
    fc_free(wt);
    return status;
}

int FN(fc_conv2d_backward)(const fc_conv_desc *d, const T *dy, const T *x, const T *w, T *dx,
                           const int64_t dxs[4], T *dw, T *db, int nthreads) {
    const int64_t kg = d->k / d->groups;
    const int dw_algo = d->algo == FC_CONV_WINOGRAD ? FC_CONV_GEMM   /* Winograd is for x and dx */
                                                    : FN(choose_algorithm)(d, FC_PASS_DW, NULL);
    const int inplace_dw = dw_algo == FC_CONV_INPLACE;
    const int dx_algo = dx ? FN(choose_algorithm)(d, FC_PASS_DX, dxs) : FC_CONV_GEMM;
    if (dw_algo == FC_EINVAL || dx_algo == FC_EINVAL) return FC_EINVAL;
    const int direct_dw = dw_algo == FC_CONV_DIRECT, dx_by_forward = dx_algo != FC_CONV_GEMM;
    if (db && FN(bias_grad)(d, dy, db, nthreads) != FC_OK) return FC_ENOMEM;
    if (direct_dw && FN(direct_dw)(d, x, dy, dw, nthreads) != FC_OK) return FC_ENOMEM;
    if (inplace_dw && FN(inplace_dw)(d, x, dy, dw, nthreads) != FC_OK) return FC_ENOMEM;
    for (int64_t g = 0; g < d->groups; g++) {
        FN(conv_src) xsrc = {d, x, d->xs, g, 0, 0, 0}, dysrc = {d, dy, d->ys, g, 0, 0, 0};
        int status = direct_dw || inplace_dw ? FC_OK : FN(weight_grad)(d, &xsrc, &dysrc, dw + g * kg, nthreads);
        if (status != FC_OK) return status;
        if (!dx || dx_by_forward || d->stride_h > 1 || d->stride_w > 1) continue;
        status = FN(dx_implicit_gemm)(d, g, &dysrc, w, dx, dxs, nthreads);
        if (status != FC_OK) return status;
    }
    if (dx_by_forward) return FN(dx_as_forward)(d, dx_algo, dy, w, dx, dxs, nthreads);
    if (dx && (d->stride_h > 1 || d->stride_w > 1)) return FN(dx_col2im)(d, dy, w, dx, dxs, nthreads);
    return FC_OK;
}

#undef FC_CAT_
#undef FC_CAT
#undef FN
#undef PLAN
#undef MATRIX
