/* The "nchw" variant of the forward GEMM, for channels-first tensors (a
 * PyTorch user's contiguous NCHW arrays), for one dtype.  With the channels
 * far apart, the im2col rows of the NHWC variants gather one value per channel
 * from a different plane.  Here the GEMM runs transposed, one image at a time:
 *
 *   y^T (K x Ho*Wo) = W^T (K x R*S*C) . col^T (R*S*C x Ho*Wo)
 *
 * so its B panels are runs of consecutive output pixels of one input plane
 * (contiguous in x at stride 1), and its output rows are y's channel planes,
 * stored where they belong, bias and activation in the GEMM's epilogue.  The
 * depth runs over (c, r, s), so channels-first weights (K, C, R, S) are W^T
 * itself, read in place as A (other weights are transposed into the workspace).
 * The layout change lives in the packing and the store: no transposed copy of
 * x or y exists. */
#ifndef FC_INSTANTIATING
#error "conv_nchw.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

/* Channels not at unit stride in x (or one channel), the pixels of a row at
 * unit stride in x and y, and y's pixels of one channel one run (an output row
 * after the other).  Strides of axes of length 1 mean nothing (NumPy reports
 * them in more than one way), so they are not asked about: a Dask block with
 * a 1x1 output chooses as its whole array does, and sums in the same order. */
static int FN(nchw_applies)(const fc_conv_desc *d) {
    return d->groups == 1 && (d->xs[3] != 1 || d->c == 1) && (d->w == 1 || d->xs[2] == 1) &&
           (d->wo == 1 || d->ys[2] == 1) && (d->ho == 1 || d->ys[1] == d->wo);
}

typedef struct {
    const fc_conv_desc *d;
    const T *img;   /* the image's first value */
} FN(nchw_src);

/* dst[j * dst_rs + i] = src[i * src_rs + j] for i < rows, j < cols, by the
 * active kernels (ukernels/transpose_simd.tmpl.h).  Every layout change of the
 * convolutions goes through it. */
static void FN(transpose)(const T *src, int64_t src_rs, int64_t rows, int64_t cols, T *dst,
                          int64_t dst_rs) {
    FN(fc_conv_kernels_for)()->transpose(src, src_rs, rows, cols, dst, dst_rs);
}

/* (K, C/g, R, S) weights -> (R, S, C/g, K). */
static void FN(weights_kcrs_to_rsck)(const fc_conv_desc *d, const T *w, T *out) {
    const int64_t cg = d->c / d->groups, rs = d->r * d->s;
    for (int64_t c = 0; c < cg; c++)
        FN(transpose)(w + c * rs, cg * rs, d->k, rs, out + c * d->k, cg * d->k);
}

/* B rows p0 .. p0+kc (taps (c, r, s), s fastest) over the output pixels
 * j0 .. j0+cols, as nr-wide rows of dst (zeros past cols).  Called per panel:
 * the tap and pixel coordinates step along without dividing. */
static void FN(pack_b_nchw)(const void *ctx, int64_t p0, int64_t kc, int64_t j0, int64_t cols,
                            int nr, T *dst) {
    const FN(nchw_src) *src = (const FN(nchw_src) *)ctx;
    const fc_conv_desc *d = src->d;
    const int64_t sw = d->stride_w, ho0 = j0 / d->wo, wo0 = j0 % d->wo, rs = d->r * d->s;
    int64_t c = p0 / rs, r = p0 % rs / d->s, s = p0 % d->s;
    int64_t lo = 0, hi = 0, s_bounds = -1;   /* the inside output columns of tap column s */
    for (int64_t p = 0; p < kc; p++, dst += nr) {
        const T *plane = src->img + c * d->xs[3];
        const int64_t dh = r * d->dil_h - d->pad_top, dw = s * d->dil_w - d->pad_left;
        if (s != s_bounds) {   /* output column i reads input column i * sw + dw */
            lo = dw >= 0 ? 0 : FC_CEIL_DIV(-dw, sw);
            hi = d->w - 1 - dw < 0 ? 0 : FC_MIN(d->wo, (d->w - 1 - dw) / sw + 1);
            s_bounds = s;
        }
        int64_t j = 0, ho = ho0, wo = wo0;
        while (j < cols) {
            const int64_t len = FC_MIN(cols - j, d->wo - wo), h = ho * d->stride_h + dh;
            T *out = dst + j - wo;   /* out[i] is output column i of row ho */
            if (h < 0 || h >= d->h) {
                memset(out + wo, 0, (size_t)len * sizeof(T));
            } else {
                const T *row = plane + h * d->xs[1] + dw;
                const int64_t a = FC_MAX(wo, FC_MIN(lo, wo + len));
                const int64_t b = FC_MAX(a, FC_MIN(hi, wo + len));
                if (a > wo) memset(out + wo, 0, (size_t)(a - wo) * sizeof(T));
                if (sw == 1)
                    memcpy(out + a, row + a, (size_t)(b - a) * sizeof(T));
                else
                    for (int64_t i = a; i < b; i++) out[i] = row[i * sw];
                if (wo + len > b) memset(out + b, 0, (size_t)(wo + len - b) * sizeof(T));
            }
            j += len;
            wo = 0;
            ho++;
        }
        for (; j < nr; j++) dst[j] = 0;
        if (++s == d->s) {
            s = 0;
            if (++r == d->r) {
                r = 0;
                c++;
            }
        }
    }
}

static int FN(forward_nchw)(const fc_conv_desc *d, const T *x, const T *w, const T *bias, int act,
                            T act_alpha, T *y, int nthreads) {
    const int64_t rs = d->r * d->s, depth = rs * d->c, k = d->k;
    const T *a = w;   /* W^T, (K, C, R, S) */
    T *wt = NULL;
    if (!d->w_kcrs) {
        a = wt = (T *)fc_alloc(k * depth, sizeof(T));
        if (!wt) return FC_ENOMEM;
        for (int64_t c = 0; c < d->c; c++)
            FN(transpose)(w + c * k, d->c * k, rs, k, wt + c * rs, depth);
    }
    const MATRIX am = {a, depth, 1};
    FN(nchw_src) src = {d, NULL};
    PLAN pl = {0};
    pl.m = k;
    pl.n = d->ho * d->wo;
    pl.k = depth;
    pl.pack_a = FN(fc_pack_a_matrix); pl.a_ctx = &am;
    pl.a_direct = a; pl.lda_direct = depth;
    pl.pack_b = FN(pack_b_nchw); pl.b_ctx = &src;
    /* 1x1, stride 1, unpadded: col^T is x's image itself (C planes of H*W), read in place */
    const int in_place = d->r == 1 && d->s == 1 && d->stride_h == 1 && d->stride_w == 1 &&
                         d->pad_top == 0 && d->pad_left == 0 && d->ho == d->h && d->wo == d->w &&
                         d->xs[1] == d->w;
    pl.ldb_direct = d->xs[3];
    pl.rsc = d->ys[3]; pl.csc = 1;
    pl.alpha = 1; pl.beta = d->accumulate ? 1 : 0;
    pl.bias = bias; pl.bias_per_row = 1;
    pl.act = act; pl.act_alpha = act_alpha;
    int status = FC_OK;
    for (int64_t n = 0; n < d->n && status == FC_OK; n++) {
        src.img = x + n * d->xs[0];
        pl.b_direct = in_place ? src.img : NULL;
        pl.c = y + n * d->ys[0];
        status = FN(fc_gemm_run)(&pl, nthreads);
    }
    fc_free(wt);
    return status;
}

/* Layout changes of a chunk of nb images between channels-first planes (image
 * i at planes + i * ps[0], channel j's plane at + j * ps[3], its pixels
 * contiguous) and NHWC pixel rows (image i at rows + i * pixels * ch).  Tasks
 * of 16 planes one way, 256 pixels the other, so the reads and the writes of
 * a task each stay within a few pages. */
static void FN(planes_to_rows)(const T *planes, const int64_t ps[4], int64_t nb, int64_t pixels,
                               int64_t ch, T *rows, int nthreads) {
    const int64_t cblocks = FC_CEIL_DIV(ch, 16);
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1)
    for (int64_t t = 0; t < nb * cblocks; t++) {
        const int64_t i = t / cblocks, c0 = t % cblocks * 16;
        FN(transpose)(planes + i * ps[0] + c0 * ps[3], ps[3], FC_MIN(16, ch - c0), pixels,
                      rows + i * pixels * ch + c0, ch);
    }
}

static void FN(rows_to_planes)(const T *rows, int64_t nb, int64_t pixels, int64_t ch, T *planes,
                               const int64_t ps[4], int nthreads) {
    const int64_t pblocks = FC_CEIL_DIV(pixels, 256);
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1)
    for (int64_t t = 0; t < nb * pblocks; t++) {
        const int64_t i = t / pblocks, p0 = t % pblocks * 256;
        FN(transpose)(rows + (i * pixels + p0) * ch, ch, FC_MIN(256, pixels - p0), ch,
                      planes + i * ps[0] + p0, ps[3]);
    }
}

/* d for nb contiguous NHWC images (the copies a chunk is convolved on). */
static fc_conv_desc FN(nhwc_twin)(const fc_conv_desc *d, int64_t nb) {
    fc_conv_desc t = *d;
    const int64_t xs[4] = {d->h * d->w * d->c, d->w * d->c, d->c, 1};
    const int64_t ys[4] = {d->ho * d->wo * d->k, d->wo * d->k, d->k, 1};
    t.n = nb;
    memcpy(t.xs, xs, sizeof xs);
    memcpy(t.dxs, xs, sizeof xs);
    memcpy(t.ys, ys, sizeof ys);
    return t;
}

/* Images per chunk of the copies, for images of `per_image` bytes (in and out). */
#define FC_NHWC_CHUNK_BYTES (4 << 20)
#define FC_NHWC_MAX_IMAGE_BYTES (16 << 20)   /* the plan's cap on one image's copies */
static int64_t FN(nhwc_chunk_images)(const fc_conv_desc *d, int64_t per_image) {
    return FC_MAX(1, FC_MIN(d->n, FC_NHWC_CHUNK_BYTES / FC_MAX(per_image, 1)));
}

/* Whether a tensor of ch channels of h x w pixels with strides s is whole
 * channel planes one after the other (axes of length 1 have no stride to
 * check; the image stride may be anything). */
static int FN(whole_planes)(int64_t h, int64_t w, int64_t ch, const int64_t s[4]) {
    return (ch == 1 || s[3] == h * w) && (w == 1 || s[2] == 1) && (h == 1 || s[1] == w);
}

/* Whether x, dy and dx are channels-first (a PyTorch user's arrays): whole
 * channel planes each, their channels at unit stride nowhere. */
static int FN(backward_channels_first)(const fc_conv_desc *d) {
    const int channels_apart = (d->c > 1 && d->xs[3] != 1) || (d->k > 1 && d->ys[3] != 1);
    return channels_apart && FN(whole_planes)(d->h, d->w, d->c, d->xs) &&
           FN(whole_planes)(d->h, d->w, d->c, d->dxs) &&
           FN(whole_planes)(d->ho, d->wo, d->k, d->ys);
}

/* 1x1 layers at stride 1, unpadded, on channels-first tensors (the plan's
 * nchw variant of dx and dw): each image's planes are the matrices of two
 * GEMMs, read in place, with no copies:
 *   dx_n (C x HW) = W (C x K) . dy_n (K x HW)
 *   dw   (C x K) += x_n (C x HW) . dy_n^T (HW x K), image after image. */
static int FN(pointwise_nchw_backward_applies)(const fc_conv_desc *d) {
    return d->groups == 1 && d->r == 1 && d->s == 1 && d->stride_h == 1 && d->stride_w == 1 &&
           d->pad_top == 0 && d->pad_left == 0 && d->ho == d->h && d->wo == d->w &&
           FN(backward_channels_first)(d);
}

static int FN(pointwise_nchw_dx)(const fc_conv_desc *d, const T *dy, const T *w, T *dx,
                                 int nthreads) {
    fc_gemm_args g = {0};
    g.m = d->c; g.n = d->h * d->w; g.k = d->k;
    g.a = w; g.rsa = d->k; g.csa = 1;
    g.rsb = d->ys[3]; g.csb = 1;
    g.rsc = d->dxs[3]; g.csc = 1;
    g.alpha = 1;
    for (int64_t n = 0; n < d->n; n++) {
        g.b = dy + n * d->ys[0];
        g.c = dx + n * d->dxs[0];
        const int status = FN(fc_gemm)(&g, nthreads);
        if (status != FC_OK) return status;
    }
    return FC_OK;
}

static int FN(pointwise_nchw_dw)(const fc_conv_desc *d, const T *x, const T *dy, T *dw,
                                 int nthreads) {
    fc_gemm_args g = {0};
    g.m = d->c; g.n = d->k; g.k = d->h * d->w;
    g.rsa = d->xs[3]; g.csa = 1;
    g.rsb = 1; g.csb = d->ys[3];
    g.c = dw; g.rsc = d->k; g.csc = 1;
    g.alpha = 1;
    for (int64_t n = 0; n < d->n; n++) {
        g.a = x + n * d->xs[0];
        g.b = dy + n * d->ys[0];
        g.beta = n > 0;
        const int status = FN(fc_gemm)(&g, nthreads);
        if (status != FC_OK) return status;
    }
    return FC_OK;
}

/* The images per chunk with which the backward passes run on NHWC copies
 * (the plan's nhwc_chunks variant for dx and dw), 0 when they run on the
 * tensors as they are: for channels-first x, dy and dx.  On those the NHWC
 * kernels gather one value per channel from a different plane: ResNet-18
 * layer1 at 8 images took 84 ms against 34 in NHWC, a depthwise 56x56x128
 * layer 44 against 19.  The copies (of x, dy and dx) take
 * FC_NHWC_CHUNK_BYTES, or one image's up to FC_NHWC_MAX_IMAGE_BYTES. */
static int64_t FN(backward_nhwc_chunk)(const fc_conv_desc *d) {
    const int64_t in_img = d->h * d->w * d->c, out_img = d->ho * d->wo * d->k;
    const int64_t per_image = (2 * in_img + out_img) * (int64_t)sizeof(T);
    if (d->n == 0 || d->c == 0 || d->k == 0 || per_image > FC_NHWC_MAX_IMAGE_BYTES ||
        !FN(backward_channels_first)(d))
        return 0;
    return FN(nhwc_chunk_images)(d, per_image);
}

/* Channels-first forward passes whose NHWC twin Winograd takes (the plan's
 * nhwc_chunks variant): a chunk of images at a time is laid out as NHWC in a
 * cache-sized buffer (with y's residual when one is added), convolved there
 * and laid back into y's planes.  The channels-first GEMM above runs these
 * 3x3 layers 2.4x slower than Winograd (ResNet-18 layer1, 8 images, 1 thread:
 * 13.0 against 3.7 ms, and the two re-layouts cost 1.8 ms whole, less within
 * cache).  Workspace: the copies of a chunk of images (4 MiB, or one image of
 * up to 16 MiB). */
static int FN(forward_by_nhwc_chunks)(const fc_conv_desc *d, const T *x, const T *w,
                                      const T *bias, int act, double act_alpha, T *y,
                                      int nthreads) {
    const int64_t hw = d->h * d->w, hwo = d->ho * d->wo;
    const int64_t in_img = hw * d->c, out_img = hwo * d->k;
    const int64_t chunk = FN(nhwc_chunk_images)(d, (in_img + out_img) * (int64_t)sizeof(T));
    T *xb = (T *)fc_alloc(chunk * in_img, sizeof(T));
    T *yb = (T *)fc_alloc(chunk * out_img, sizeof(T));
    int status = xb && yb ? FC_OK : FC_ENOMEM;
    for (int64_t n0 = 0; n0 < d->n && status == FC_OK; n0 += chunk) {
        const int64_t nb = FC_MIN(chunk, d->n - n0);
        const fc_conv_desc t = FN(nhwc_twin)(d, nb);
        FN(planes_to_rows)(x + n0 * d->xs[0], d->xs, nb, hw, d->c, xb, nthreads);
        if (d->accumulate)   /* y's residual, as the NHWC pass adds it */
            FN(planes_to_rows)(y + n0 * d->ys[0], d->ys, nb, hwo, d->k, yb, nthreads);
        FN(direct_geom) g = FN(direct_geom_of)(&t);
        status = FN(winograd_conv)(&g, xb, t.xs, w, bias, act, (T)act_alpha, d->accumulate, yb,
                                   t.ys, nthreads);
        if (status == FC_OK) FN(rows_to_planes)(yb, nb, hwo, d->k, y + n0 * d->ys[0], d->ys, nthreads);
    }
    fc_free(xb);
    fc_free(yb);
    return status;
}
