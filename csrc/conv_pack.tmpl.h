/* Packing callbacks of the convolutions' implicit GEMMs, and the GEMM runner
 * over a batch's images, for one dtype: the
 * im2col rows of x (forward, dw), dy's rows (dw, dx) and the dcol rows of dy
 * (dx at stride 1) are built while the GEMM engine packs its panels, so no
 * im2col buffer exists.  See conv.tmpl.h for the index conventions. */
#ifndef FC_INSTANTIATING
#error "conv_pack.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

typedef struct {
    const fc_conv_desc *d;
    const T *t;                 /* the tensor packed from: x (forward, dw) or dy (dx) */
    const int64_t *ts;          /* its strides in (n, h, w, c) order */
    int64_t g;                  /* group */
    int64_t n0;                 /* first image of the rows (per-image GEMMs) */
    int64_t row0;               /* first pixel of the rows within the image (col2im blocks,
                                   the grouped forward pass's pixel blocks) */
    int64_t col0;               /* first column of the columns packed (dx by tap chunks) */
} FN(conv_src);

/* dst[0..len) = src[0, stride, 2*stride, ...), or zeros when src is NULL. */
static inline void FN(copy_run)(T *restrict dst, const T *restrict src, int64_t stride,
                                int64_t len) {
    if (!src)
        memset(dst, 0, (size_t)len * sizeof(T));
    else if (stride == 1 && len > 64)
        memcpy(dst, src, (size_t)len * sizeof(T));
    else if (stride == 1) {
        /* short runs (a group's channels): fixed-size copies, which the compiler
         * inlines as vector moves; a plain loop would become a memcpy call per
         * run (ResNeXt's 16-channel groups: 22 % of the forward pass in libc) */
        int64_t c = 0;
        for (; c + 8 <= len; c += 8) memcpy(dst + c, src + c, 8 * sizeof(T));
        for (; c + 2 <= len; c += 2) memcpy(dst + c, src + c, 2 * sizeof(T));
        if (c < len) dst[c] = src[c];
    } else
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

/* col2im A: rows are output pixels from pixel src->row0 of image src->n0 on
 * (running on into the next images), columns the group's output channels of dy. */
static void FN(pack_a_pixels)(const void *ctx, int64_t i0, int64_t rows, int64_t p0,
                              int64_t kc, int mr, T *dst) {
    const FN(conv_src) *src = (const FN(conv_src) *)ctx;
    const fc_conv_desc *d = src->d;
    const int64_t *ys = src->ts, kg = d->k / d->groups, pixels = d->ho * d->wo;
    for (int64_t i = 0; i < mr; i++) {
        const int64_t m = src->row0 + i0 + i, p = m % pixels;
        FN(copy_run)(dst + i * kc,
                     i < rows ? src->t + (src->n0 + m / pixels) * ys[0] + (p / d->wo) * ys[1] +
                                    (p % d->wo) * ys[2] + (src->g * kg + p0) * ys[3]
                              : NULL,
                     ys[3], kc);
    }
}

/* Runs plan `pl` writing rows (n, a, b) of a 4-D tensor with strides ts and
 * extents (n, rows_a, rows_b): one GEMM when the rows of the whole batch are
 * evenly spaced, else one per image (src->n0 selects the image). */
static int FN(run_over_images)(PLAN *pl, FN(conv_src) *src, T *base, const int64_t ts[4],
                               int64_t n, int64_t rows_a, int64_t rows_b, int nthreads) {
    const int64_t batch[3] = {n, rows_a, rows_b}, image[3] = {1, rows_a, rows_b};
    if (fc_uniform_row_stride(ts, batch, &pl->rsc)) {
        pl->m = n * rows_a * rows_b;
        pl->c = base;
        src->n0 = 0;
        return FN(fc_gemm_run)(pl, nthreads);
    }
    const int ok = fc_uniform_row_stride(ts, image, &pl->rsc);
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
