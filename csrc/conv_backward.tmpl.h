/* The backward passes' parts, for one dtype: db, dw by a GEMM (two
 * variants), dx by the implicit GEMM of dcol (stride 1), by a blocked col2im
 * (stride > 1) or as a forward convolution of dy with the flipped kernel.
 * The plan (conv_plan.tmpl.h) picks among them; conv.tmpl.h runs them. */
#ifndef FC_INSTANTIATING
#error "conv_backward.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

/* dx by a forward algorithm (direct or Winograd) on dy with the flipped
 * kernel; g is the plan's geometry of that convolution. */
static int FN(dx_as_forward)(const fc_conv_desc *d, int algo, const FN(direct_geom) *g, const T *dy,
                             const T *w, T *dx, int nthreads) {
    T *wf = FN(flipped_kernel)(d, w);
    if (!wf) return FC_ENOMEM;
    const int status =
        algo == FC_CONV_WINOGRAD
            ? FN(winograd_conv)(g, dy, d->ys, wf, NULL, FC_ACT_NONE, 0, 0, dx, d->dxs, nthreads)
        : algo == FC_CONV_GEMM   /* grouped */
            ? FN(dx_grouped_gemm)(d, g, dy, wf, dx, nthreads)
            : FN(direct_conv)(g, dy, d->ys, wf, NULL, FC_ACT_NONE, 0, dx, d->dxs, nthreads);
    fc_free(wf);
    return status;
}

/* dx at stride > 1 by a blocked col2im: dcol = dy * W^T for a block of output
 * rows, then each dcol row is added back into the receptive field it came
 * from.  The implicit-GEMM dx would multiply mostly zeros there (1 in
 * stride_h * stride_w taps is live).
 *
 * Blocks are at least as tall as the rows two blocks' fields share, so the
 * even blocks of an image touch disjoint dx rows, and so do the odd ones:
 * every image runs its even blocks, then its odd blocks.  With enough images
 * each thread owns whole images; with fewer images than threads each phase's
 * blocks are shared out.  Either way every dx element receives its terms in
 * the same order, so the bits do not depend on the thread count.  Workspace:
 * one block of dcol per thread.
 *
 * Small maps (a transposed convolution's input: DCGAN's 4x4) would make a
 * GEMM of a few rows per image, each packing W^T again: there a block holds
 * several whole images (a fixed number, so the bits still do not depend on
 * the thread count), and threads own blocks. */
typedef struct {
    const fc_conv_desc *d;
    const T *dy, *wt_all;    /* wt_all: W_g^T per group, (kg, (r, s, c)) */
    T *dx;
    int64_t rows;            /* output rows per block */
} FN(col2im_job);

/* The pixels of a block of small images: enough rows for the GEMM to beat
 * packing W^T once per block, few enough that two threads get blocks of a
 * 16-image DCGAN batch. */
#define FC_COL2IM_GROUP_PIXELS 128

/* Adds one kernel row's terms of a pixel, in[s * cg + c] for tap s, into dx's
 * row at pixels x0 + s * dil_w.  Where those pixels lie side by side in an
 * NHWC row of cg channels and all inside it, the terms are one run of s * cg
 * values (a 3-channel stem's dx: 9 adds in a row rather than 3 taps of 3). */
static inline void FN(col2im_add_row)(const fc_conv_desc *d, T *restrict row, const T *restrict in,
                                      int64_t x0) {
    const int64_t cg = d->cg, xs = d->dxs[2], cs = d->dxs[3], taps = d->s, dil = d->dil_w;
    if (cs == 1 && xs == cg && dil == 1 && x0 >= 0 && x0 + taps <= d->w) {
        T *restrict out = row + x0 * cg;
        for (int64_t q = 0; q < taps * cg; q++) out[q] += in[q];
        return;
    }
    for (int64_t s = 0; s < taps; s++) {
        const int64_t x = x0 + s * dil;
        if (x < 0 || x >= d->w) continue;
        T *restrict out = row + x * xs;
        for (int64_t c = 0; c < cg; c++) out[c * cs] += in[s * cg + c];
    }
}

/* Pixels [m0, m1) counted from the first pixel of image n (a block may run
 * on into the next images): dcol for them, group by group, added into dx. */
static int FN(col2im_pixels)(const FN(col2im_job) *job, int64_t n, int64_t m0, int64_t m1,
                             T *dcol) {
    const fc_conv_desc *d = job->d;
    const int64_t *dxs = d->dxs, cg = d->cg, kg = d->kg, taps = d->r * d->s, width = taps * cg;
    const int64_t pixels = d->ho * d->wo;
    for (int64_t g = 0; g < d->groups; g++) {
        FN(conv_src) src = {d, job->dy, d->ys, g, n, m0, 0};
        MATRIX wt = {job->wt_all + g * kg * width, width, 1};
        PLAN pl = {0};
        pl.m = m1 - m0; pl.n = width; pl.k = kg;
        pl.pack_a = FN(pack_a_pixels); pl.a_ctx = &src;
        pl.pack_b = FN(fc_pack_b_matrix); pl.b_ctx = &wt;
        pl.c = dcol; pl.rsc = width; pl.csc = 1;
        pl.alpha = 1; pl.beta = 0;
        if (FN(fc_gemm_run)(&pl, 1) != FC_OK) return FC_ENOMEM;
        /* the pixel (image, ho, wo) of row i, stepped along rather than divided out */
        int64_t img = n + m0 / pixels, ho = m0 % pixels / d->wo, wo = m0 % d->wo;
        for (int64_t i = 0; i < pl.m; i++) {
            T *base = job->dx + img * dxs[0] + g * cg * dxs[3];
            for (int64_t r = 0; r < d->r; r++) {
                const int64_t h = ho * d->stride_h - d->pad_top + r * d->dil_h;
                if (h < 0 || h >= d->h) continue;
                FN(col2im_add_row)(d, base + h * dxs[1], dcol + i * width + r * d->s * cg,
                                   wo * d->stride_w - d->pad_left);
            }
            if (++wo == d->wo) {
                wo = 0;
                if (++ho == d->ho) ho = 0, img++;
            }
        }
    }
    return FC_OK;
}

/* Block b of image n: its output rows job->rows * b on. */
static int FN(col2im_block)(const FN(col2im_job) *job, int64_t n, int64_t b, T *dcol) {
    const fc_conv_desc *d = job->d;
    return FN(col2im_pixels)(job, n, b * job->rows * d->wo,
                             FC_MIN(d->ho, (b + 1) * job->rows) * d->wo, dcol);
}

static void FN(zero_dx_row)(const fc_conv_desc *d, T *dx, int64_t n, int64_t h) {
    T *row = dx + n * d->dxs[0] + h * d->dxs[1];
    for (int64_t x = 0; x < d->w; x++)
        for (int64_t c = 0; c < d->c; c++) row[x * d->dxs[2] + c * d->dxs[3]] = 0;
}

static int FN(dx_col2im)(const fc_conv_desc *d, const T *dy, const T *w, T *dx, int nthreads) {
    const int64_t kg = d->kg, width = d->r * d->s * d->cg;
    /* dcol blocks of whole output rows: at most about 2^20 elements (4 MiB in
     * float32); an eighth of the image (so one image's blocks can be shared
     * out) unless that is under 256 pixels, since every block packs W^T again
     * (7x7 maps of 2048 channels ran 1.4x slower in blocks of one row); at
     * least as many rows as two blocks' fields share */
    const int64_t block = FC_MAX(16, FC_MIN(1024, (1 << 20) / FC_MAX(width, 1)));
    const int64_t shared_rows = FC_CEIL_DIV((d->r - 1) * d->dil_h, d->stride_h);
    const int64_t rows = FC_MIN(block / d->wo, FC_MAX(FC_CEIL_DIV(d->ho, 8), FC_CEIL_DIV(256, d->wo)));
    FN(col2im_job) job = {d, dy, NULL, dx, FC_MAX(FC_MAX(shared_rows, 1), rows)};
    /* small maps: whole images per block, about FC_COL2IM_GROUP_PIXELS of them */
    const int64_t per_block = d->ho * d->wo < FC_COL2IM_GROUP_PIXELS
        ? FC_MIN(d->n, FC_MIN(FC_COL2IM_GROUP_PIXELS, block) / (d->ho * d->wo))
        : 1;
    if (per_block > 1) job.rows = per_block * d->ho;
    const int64_t nblocks = FC_CEIL_DIV(d->ho, job.rows);
    T *wt_all = (T *)fc_alloc(d->k * width, sizeof(T));
    if (!wt_all) return FC_ENOMEM;
    /* in 8 x 8 tiles: element by element, the writes stride over width
     * elements, which for power-of-two widths fall in one cache set (13 ms for
     * DCGAN's 4x4x256x512 weights, against 5 ms for the GEMMs) */
    const int64_t tile = 8, qtiles = FC_CEIL_DIV(width, tile), K = d->k;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && d->k * width >= (1 << 16))
    for (int64_t gq = 0; gq < d->groups * qtiles; gq++) {
        const int64_t g = gq / qtiles, q0 = gq % qtiles * tile, q1 = FC_MIN(width, q0 + tile);
        for (int64_t k0 = 0; k0 < kg; k0 += tile) {
            const int64_t k1 = FC_MIN(kg, k0 + tile);
            for (int64_t k = k0; k < k1; k++)
                for (int64_t q = q0; q < q1; q++)
                    wt_all[(g * kg + k) * width + q] = w[q * K + g * kg + k];
        }
    }
    job.wt_all = wt_all;
    const int share_blocks = d->n < nthreads && per_block == 1;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && (d->n > 1 || share_blocks))
    {
        T *dcol = (T *)fc_alloc(job.rows * d->wo * width, sizeof(T));
        if (!dcol) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
        if (per_block > 1) {   /* blocks of whole images per thread */
#pragma omp for schedule(static)
            for (int64_t n = 0; n < d->n; n += per_block) {
                if (!dcol) continue;
                const int64_t count = FC_MIN(per_block, d->n - n);
                for (int64_t i = n; i < n + count; i++)
                    for (int64_t h = 0; h < d->h; h++) FN(zero_dx_row)(d, dx, i, h);
                if (FN(col2im_pixels)(&job, n, 0, count * d->ho * d->wo, dcol) != FC_OK) {
#pragma omp atomic write
                    status = FC_ENOMEM;
                }
            }
        } else if (!share_blocks) {   /* whole images per thread */
#pragma omp for schedule(static)
            for (int64_t n = 0; n < d->n; n++) {
                if (!dcol) continue;
                for (int64_t h = 0; h < d->h; h++) FN(zero_dx_row)(d, dx, n, h);
                for (int64_t q = 0; q < nblocks; q++) {   /* even blocks, then odd */
                    const int64_t b = 2 * q < nblocks ? 2 * q : 2 * q - nblocks + (nblocks % 2 == 0);
                    if (FN(col2im_block)(&job, n, b, dcol) != FC_OK) {
#pragma omp atomic write
                        status = FC_ENOMEM;
                        break;
                    }
                }
            }
        } else {   /* each image's rows, then its even and its odd blocks, shared out */
            for (int64_t n = 0; n < d->n; n++) {
#pragma omp for schedule(static)
                for (int64_t h = 0; h < d->h; h++) FN(zero_dx_row)(d, dx, n, h);
                for (int64_t phase = 0; phase < 2; phase++) {
#pragma omp for schedule(static)
                    for (int64_t i = 0; i < (nblocks - phase + 1) / 2; i++)
                        if (dcol && FN(col2im_block)(&job, n, phase + 2 * i, dcol) != FC_OK) {
#pragma omp atomic write
                            status = FC_ENOMEM;
                        }
                }
            }
        }
        fc_free(dcol);
    }
    fc_free(wt_all);
    return status;
}

/* db[k] = sum of dy over n, ho, wo, in double.  When the pixels are evenly
 * spaced with unit channel stride (NHWC), fixed chunks of pixels are summed
 * along the contiguous channels in parallel and the chunk sums added in order;
 * otherwise each channel is summed on its own.  Either way the order is fixed,
 * so the thread count does not change the result. */
#define FC_DB_CHUNK 1024
#define FC_DB_LANES 8
static int FN(bias_grad)(const fc_conv_desc *d, const T *dy, T *db, int nthreads) {
    const int64_t *ys = d->ys, k = d->k, pixels = d->n * d->ho * d->wo;
    const int64_t extents[3] = {d->n, d->ho, d->wo};
    int64_t rs;
    if (ys[3] == 1 && fc_uniform_row_stride(ys, extents, &rs)) {
        const int64_t chunks = FC_CEIL_DIV(pixels, FC_DB_CHUNK);
        double *part = (double *)fc_alloc(FC_MAX(chunks, 1) * k, sizeof(double));
        if (!part) return FC_ENOMEM;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && chunks > 1)
        for (int64_t c = 0; c < chunks; c++) {
            /* restrict: with -fno-strict-aliasing the double sums could alias dy,
             * and the loop would not vectorise (3x slower for a stem's 16 channels) */
            double *restrict acc = part + c * k;
            for (int64_t j = 0; j < k; j++) acc[j] = 0;
            for (int64_t m = c * FC_DB_CHUNK; m < FC_MIN(pixels, (c + 1) * FC_DB_CHUNK); m++) {
                const T *restrict row = dy + m * rs;
                for (int64_t j = 0; j < k; j++) acc[j] += row[j];
            }
        }
        for (int64_t j = 0; j < k; j++) {
            double sum = 0;
            for (int64_t c = 0; c < chunks; c++) sum += part[c * k + j];
            db[j] = (T)sum;
        }
        fc_free(part);
        return FC_OK;
    }
    /* each channel on its own, along its rows into FC_DB_LANES partial sums
     * (one double chain per value was latency-bound: 0.5 ms of a 56x56x128
     * channels-first backward pass), added up in a fixed order */
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && k > 1)
    for (int64_t j = 0; j < k; j++) {
        double lane[FC_DB_LANES] = {0};
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t a = 0; a < d->ho; a++) {
                const T *row = dy + n * ys[0] + a * ys[1] + j * ys[3];
                int64_t b = 0;
                if (ys[2] == 1)
                    for (; b + FC_DB_LANES <= d->wo; b += FC_DB_LANES)
                        for (int l = 0; l < FC_DB_LANES; l++) lane[l] += row[b + l];
                for (; b < d->wo; b++) lane[b % FC_DB_LANES] += row[b * ys[2]];
            }
        double sum = 0;
        for (int l = 0; l < FC_DB_LANES; l++) sum += lane[l];
        db[j] = (T)sum;
    }
    return FC_OK;
}

/* Whether dw's A = dy^T is read in place (its pixel stride in *ps): channels
 * at unit stride and pixels evenly spaced across rows and images (a 1x1
 * layer's dw on 8x56x56, 64 -> 256, spent 41 % of its time packing dy^T:
 * 11.2 -> 5.7 ms), except pixels a multiple of 4 KiB apart, whose lines
 * would all fall in one L1 set. */
static int FN(dy_t_in_place)(const fc_conv_desc *d, const FN(conv_src) *dy, int64_t *ps) {
    const int64_t extents[3] = {d->n, d->ho, d->wo};
    return dy->ts[3] == 1 && fc_uniform_row_stride(dy->ts, extents, ps) &&
           (*ps * (int64_t)sizeof(T)) % 4096 != 0;
}

/* dw of one group (written at dw_g, row stride K).  With many pixels per
 * output channel, dw^T = dy^T col packs the large operand as im2col rows
 * (channel runs) and is transposed into dw afterwards; with few pixels
 * (e.g. 13x13 maps, 1024 channels) dw = col^T dy is cheaper: its gathers are
 * few and it needs no transpose. */
static int FN(weight_grad)(const fc_conv_desc *d, int variant, FN(conv_src) *xsrc,
                           FN(conv_src) *dysrc, T *dw_g, int nthreads) {
    const int64_t kg = d->k / d->groups, width = d->r * d->s * (d->c / d->groups);
    const int64_t pixels = d->n * d->ho * d->wo;
    PLAN pl = {0};
    pl.k = pixels;
    pl.alpha = 1; pl.beta = 0;
    pl.csc = 1;
    if (variant == FC_VARIANT_ROWS) return FN(dw_rows)(d, xsrc->t, dysrc->t, dw_g, nthreads);
    int64_t pixel_stride;
    if (variant == FC_VARIANT_COL_T_DY) {
        pl.m = width; pl.n = kg;
        pl.pack_a = FN(pack_a_col_t); pl.a_ctx = xsrc;
        if (FN(pointwise_applies)(d, xsrc->ts, dysrc->ts, &pixel_stride)) {
            /* col = x's pixel rows: col^T read in place, as dy^T below (a 1x1
             * layer's dw on 8x7x7, 512 -> 2048, packed it 15 % of its time) */
            pl.a_direct = xsrc->t + xsrc->g * (d->c / d->groups);
            pl.lda_direct = 1;
            pl.ksa_direct = pixel_stride;
        }
        pl.pack_b = FN(pack_b_pixels); pl.b_ctx = dysrc;
        pl.c = dw_g; pl.rsc = d->k;
        return FN(fc_gemm_run)(&pl, nthreads);
    }
    T *dwt = (T *)fc_alloc(kg * width, sizeof(T));
    if (!dwt) return FC_ENOMEM;
    pl.m = kg; pl.n = width;
    pl.pack_a = FN(pack_a_dy_t); pl.a_ctx = dysrc;
    if (FN(dy_t_in_place)(d, dysrc, &pixel_stride)) {
        pl.a_direct = dysrc->t + dysrc->g * kg;
        pl.lda_direct = 1;
        pl.ksa_direct = pixel_stride;
    }
    pl.pack_b = FN(pack_b_im2col); pl.b_ctx = xsrc;
    pl.pack_b_rows = FN(pack_b_im2col_rows);
    pl.c = dwt; pl.rsc = width;
    const int status = FN(fc_gemm_run)(&pl, nthreads);
    FN(transpose)(dwt, width, kg, width, dw_g, d->k);
    fc_free(dwt);
    return status;
}

/* dx of group g at stride 1 as an implicit GEMM of dy (pack_a_dcol) with
 * B[(r, s, k), c] = w[r, s, c, k]: rows r,s step cg*K, k step 1, not a single
 * stride, so B is packed from a transposed copy, made (and multiplied) a few
 * taps at a time so that the copy stays within FC_DX_WEIGHT_BYTES; the later
 * chunks accumulate into dx. */
#define FC_DX_WEIGHT_BYTES (4 << 20)
static int FN(dx_implicit_gemm)(const fc_conv_desc *d, const FN(pass_plan) *p, int64_t g,
                                FN(conv_src) *dysrc, const T *w, T *dx, int nthreads) {
    const int64_t *dxs = d->dxs;
    const int64_t cg = d->c / d->groups, kg = d->k / d->groups, rs = d->r * d->s;
    const int64_t per_tap = kg * cg;
    const int64_t chunk = FC_MAX(1, FC_MIN(rs, FC_DX_WEIGHT_BYTES / (int64_t)sizeof(T) / FC_MAX(per_tap, 1)));
    T *wt = (T *)fc_alloc(chunk * per_tap, sizeof(T));
    if (!wt) return FC_ENOMEM;
    int status = FC_OK;
    for (int64_t t0 = 0; t0 < rs && status == FC_OK; t0 += chunk) {
        const int64_t taps = FC_MIN(chunk, rs - t0);
        /* each tap's (c, k) block of w, transposed to (k, c) */
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && taps * per_tap >= (1 << 16))
        for (int64_t t = 0; t < taps; t++)
            FN(transpose)(w + (t0 + t) * cg * d->k + g * kg, d->k, cg, kg, wt + t * per_tap, cg);
        MATRIX wm = {wt, cg, 1};
        PLAN px = {0};
        px.n = cg; px.k = taps * kg;
        px.pack_a = FN(pack_a_dcol); px.a_ctx = dysrc;
        px.pack_b = FN(fc_pack_b_matrix); px.b_ctx = &wm;
        px.csc = dxs[3];
        px.alpha = 1; px.beta = t0 == 0 ? 0 : 1;
        if (p->variant == FC_VARIANT_POINTWISE) {   /* dy's pixel rows read in place */
            px.a_direct = dysrc->t + g * kg;
            px.lda_direct = p->lda;
        }
        dysrc->col0 = t0 * kg;
        status = FN(run_over_images)(&px, dysrc, dx + g * cg * dxs[3], dxs, d->n, d->h, d->w,
                                     nthreads);
    }
    fc_free(wt);
    return status;
}
