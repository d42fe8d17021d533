/* The convolution entry points for one dtype: each asks the plan
 * (conv_plan.tmpl.h) which algorithm and variant runs each pass and runs it.
 * The implicit GEMMs build im2col rows while packing GEMM panels
 * (conv_pack.tmpl.h), so no im2col buffer exists and the workspace is bounded
 * by the GEMM blocking, whatever the batch.
 *
 * Index conventions (one group g; Cg = C / groups, Kg = K / groups):
 *   forward   y[m, k]  = sum_p col[m, p] * w[p, k],  m = (n, ho, wo), p = (r, s, c)
 *   dw        dw[p, k] = sum_m col[m, p] * dy[m, k], computed as dw^T = dy^T col
 *   dx        dx[q, c] = sum_t dcol[q, t] * w[t, c],  q = (n, h, w), t = (r, s, k)
 *             where dcol[q, t] = dy[n, ho, wo, k] when h = ho*sh - pt + r*dh (and
 *             likewise for w) has an integer solution inside the output, else 0.
 *             That is used at stride 1; at larger strides most dcol entries are
 *             zero, so dx_col2im computes dy * W^T in blocks and scatters it. */
#ifndef FC_INSTANTIATING
#error "conv.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

#define PLAN FN(fc_gemm_plan)
#define MATRIX FN(fc_matrix)

#include "conv_direct.tmpl.h"
#include "conv_winograd.tmpl.h"
#include "conv_winograd_dw.tmpl.h"
#include "conv_dw_inplace.tmpl.h"
#include "conv_depthwise.tmpl.h"
#include "conv_group_lanes.tmpl.h"
#include "conv_weights.tmpl.h"
#include "conv_rows.tmpl.h"
#include "conv_nchw.tmpl.h"
#include "conv_plan.tmpl.h"
#include "conv_pack.tmpl.h"
#include "conv_grouped.tmpl.h"
#include "conv_backward.tmpl.h"

/* The forward pass as an implicit GEMM (groups > 1: forward_grouped; few
 * channels: forward_rows; channels first: forward_nchw). */
static int FN(forward_gemm)(const fc_conv_desc *d, const FN(pass_plan) *p, const T *x, const T *w,
                            const T *bias, int act, double act_alpha, T *y, int nthreads) {
    if (d->groups > 1) return FN(forward_grouped)(d, p, x, w, bias, act, act_alpha, y, nthreads);
    if (p->variant == FC_VARIANT_ROWS)
        return FN(forward_rows)(d, x, w, bias, act, (T)act_alpha, y, nthreads);
    if (p->variant == FC_VARIANT_NCHW)
        return FN(forward_nchw)(d, x, w, bias, act, (T)act_alpha, y, nthreads);
    FN(conv_src) src = {d, x, d->xs, 0, 0, 0, 0};
    MATRIX wm = {w, d->k, 1};
    PLAN pl = {0};
    pl.n = d->k;
    pl.k = d->r * d->s * d->c;
    pl.pack_a = FN(pack_a_im2col); pl.a_ctx = &src;
    pl.pack_b = FN(fc_pack_b_matrix); pl.b_ctx = &wm;
    pl.pack_b_rows = FN(fc_pack_b_matrix_rows);
    pl.csc = d->ys[3];
    pl.alpha = 1; pl.beta = d->accumulate ? 1 : 0;
    pl.bias = bias;
    pl.act = act; pl.act_alpha = (T)act_alpha;
    if (p->variant == FC_VARIANT_POINTWISE) {   /* x's pixel rows read in place */
        pl.a_direct = x;
        pl.lda_direct = p->lda;
    }
    const FN(fc_gemm_kernel) *kd = FN(fc_gemm_kernel_for)(d->k);
    if (d->w_packed && d->w_packed_nr == kd->nr) {   /* packed once, by fc_conv_pack_weights */
        pl.b_panels = (const T *)d->w_packed;
        pl.kernel = kd;
    } else if (fc_b_in_place_pays(d->n * d->ho * d->wo, d->k * (int64_t)sizeof(T),
                                  pl.k * d->k * (int64_t)sizeof(T))) {   /* few pixels */
        pl.b_direct = w;
        pl.ldb_direct = d->k;
    }
    return FN(run_over_images)(&pl, &src, y, d->ys, d->n, d->ho, d->wo, nthreads);
}

/* Packing weights once pays in the few-row products of small maps, where a
 * call's own packing (a read and a write of every weight) is a visible part of
 * it: Zen 3, 7x7 maps at batch 1 (49 output pixels), 1 / 2 threads: 1x1
 * 512->2048 1.34x / 1.45x, 2048->512 1.19x / 1.64x, 3x3 512->512 1.01x /
 * 1.12x, 3x3/2 256->512 1.05x / 1.31x.  From 196 pixels on it was 0.9-1.0x at
 * 1 thread (14x14 3x3 512->512: 0.90x; 28x28 1x1: 0.89x): the GEMM's own
 * packing leaves each B block contiguous in L2, the whole-k panels spread it
 * over a slice of every panel, and the copy's memory is no longer repaid. */
#define FC_PACK_WEIGHTS_MAX_PIXELS 64

int64_t FN(fc_conv_pack_weights)(const fc_conv_desc *d, const T *w, T *out, int *nr) {
    FN(pass_plan) p;
    /* grouped GEMMs pack their weights once per call whatever the pixels
     * (forward_grouped): a plan's copy always saves that pass */
    if (d->w_kcrs || FN(plan_pass)(d, FC_PASS_FORWARD, &p, NULL, 0) != FC_CONV_GEMM) return 0;
    /* the rows variant packs all its weights on every call, whatever the pixels */
    const int few_pixels = d->n * d->ho * d->wo <= FC_PACK_WEIGHTS_MAX_PIXELS;
    if (!(p.variant == FC_VARIANT_ROWS ||
          ((d->groups > 1 || few_pixels) &&
           (p.variant == FC_VARIANT_IM2COL || p.variant == FC_VARIANT_POINTWISE))))
        return 0;
    const int64_t NR = FN(fc_gemm_kernel_for)(d->kg)->nr;
    if (out) {
        FN(pack_weight_rows)(d, w, NR, 0, d->r * d->s * d->cg, out);
        *nr = (int)NR;
    }
    return d->groups * FN(group_panels_len)(d, NR);
}

int FN(fc_conv2d)(const fc_conv_desc *d, const T *x, const T *w, const T *bias, int act,
                  double act_alpha, T *y, int nthreads) {
    FN(pass_plan) p;
    const int algo = FN(plan_pass)(d, FC_PASS_FORWARD, &p, NULL, 0);
    if (d->w_kcrs && !(algo == FC_CONV_GEMM && p.variant == FC_VARIANT_NCHW)) {
        /* every other kernel reads (R, S, C/g, K) weights */
        T *wr = (T *)fc_alloc(d->r * d->s * (d->c / d->groups) * d->k, sizeof(T));
        if (!wr) return FC_ENOMEM;
        FN(weights_kcrs_to_rsck)(d, w, wr);
        fc_conv_desc rsck = *d;
        rsck.w_kcrs = 0;
        const int status = FN(fc_conv2d)(&rsck, x, wr, bias, act, act_alpha, y, nthreads);
        fc_free(wr);
        return status;
    }
    switch (algo) {
    case FC_CONV_DIRECT:
        return FN(direct_conv)(&p.geo, x, d->xs, w, bias, act, (T)act_alpha, y, d->ys, nthreads);
    case FC_CONV_WINOGRAD:
        if (p.variant == FC_VARIANT_NHWC_CHUNKS)
            return FN(forward_by_nhwc_chunks)(d, x, w, bias, act, act_alpha, y, nthreads);
        return FN(winograd_conv)(&p.geo, x, d->xs, w, bias, act, (T)act_alpha, d->accumulate, y,
                                 d->ys, nthreads);
    case FC_CONV_DEPTHWISE:
        if (p.variant == FC_VARIANT_LANES)
            return FN(group_lanes_rows_pass)(d, 0, x, w, bias, act, (T)act_alpha, y, nthreads);
        return FN(depthwise_forward)(d, x, w, bias, act, (T)act_alpha, y, nthreads);
    case FC_CONV_GEMM:
        return FN(forward_gemm)(d, &p, x, w, bias, act, act_alpha, y, nthreads);
    default:
        return FC_EINVAL;
    }
}

/* dw by the plan's algorithm. */
static int FN(run_dw)(const fc_conv_desc *d, const FN(pass_plan) *p, const T *dy, const T *x,
                      T *dw, int nthreads) {
    if (p->variant == FC_VARIANT_NCHW) return FN(pointwise_nchw_dw)(d, x, dy, dw, nthreads);
    switch (p->algo) {
    case FC_CONV_DIRECT: return FN(direct_dw)(&p->geo, x, d->xs, dy, d->ys, dw, nthreads);
    case FC_CONV_INPLACE: return FN(inplace_dw)(d, x, dy, dw, nthreads);
    case FC_CONV_WINOGRAD: return FN(winograd_dw)(&p->geo, x, d->xs, dy, d->ys, dw, nthreads);
    case FC_CONV_DEPTHWISE:
        return p->variant == FC_VARIANT_LANES ? FN(group_lanes_dw)(d, x, dy, dw, nthreads)
                                              : FN(depthwise_dw)(d, x, dy, dw, nthreads);
    default:
        break;
    }
    if (d->groups > 1 && d->groups >= nthreads) {
        /* each thread runs whole groups: their GEMMs are small, and a team per
         * group cost more than it shared (ResNeXt-50 layer4, batch 1: 2
         * threads were 1.5x slower than 1) */
        int status = FC_OK;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1)
        for (int64_t g = 0; g < d->groups; g++) {
            FN(conv_src) xsrc = {d, x, d->xs, g, 0, 0, 0}, dysrc = {d, dy, d->ys, g, 0, 0, 0};
            if (FN(weight_grad)(d, p->variant, &xsrc, &dysrc, dw + g * d->kg, 1) != FC_OK) {
#pragma omp atomic write
                status = FC_ENOMEM;
            }
        }
        return status;
    }
    for (int64_t g = 0; g < d->groups; g++) {
        FN(conv_src) xsrc = {d, x, d->xs, g, 0, 0, 0}, dysrc = {d, dy, d->ys, g, 0, 0, 0};
        const int status = FN(weight_grad)(d, p->variant, &xsrc, &dysrc, dw + g * d->kg, nthreads);
        if (status != FC_OK) return status;
    }
    return FC_OK;
}

/* dx by the plan's algorithm and variant. */
static int FN(run_dx)(const fc_conv_desc *d, const FN(pass_plan) *p, const T *dy, const T *w,
                      T *dx, int nthreads) {
    if (p->variant == FC_VARIANT_NCHW) return FN(pointwise_nchw_dx)(d, dy, w, dx, nthreads);
    if (p->algo == FC_CONV_DEPTHWISE)
        return p->variant == FC_VARIANT_LANES
                   ? FN(group_lanes_rows_pass)(d, 1, dy, w, NULL, FC_ACT_NONE, 0, dx, nthreads)
               : p->variant == FC_VARIANT_PLANES ? FN(depthwise_planes_dx)(d, dy, w, dx, nthreads)
                                                 : FN(depthwise_dx)(d, dy, w, dx, nthreads);
    switch (p->variant) {
    case FC_VARIANT_FLIPPED: return FN(dx_as_forward)(d, p->algo, &p->geo, dy, w, dx, nthreads);
    case FC_VARIANT_COL2IM: return FN(dx_col2im)(d, dy, w, dx, nthreads);
    default:
        for (int64_t g = 0; g < d->groups; g++) {
            FN(conv_src) dysrc = {d, dy, d->ys, g, 0, 0, 0};
            const int status = FN(dx_implicit_gemm)(d, p, g, &dysrc, w, dx, nthreads);
            if (status != FC_OK) return status;
        }
        return FC_OK;
    }
}

/* db, dw and dx (each may be NULL) by the plans of dw and dx. */
static int FN(backward_planned)(const fc_conv_desc *d, const FN(pass_plan) *pdw,
                                const FN(pass_plan) *pdx, const T *dy, const T *x, const T *w,
                                T *dx, T *dw, T *db, int nthreads) {
    int status = db ? FN(bias_grad)(d, dy, db, nthreads) : FC_OK;
    if (status == FC_OK && dw) status = FN(run_dw)(d, pdw, dy, x, dw, nthreads);
    if (status == FC_OK && dx) status = FN(run_dx)(d, pdx, dy, w, dx, nthreads);
    return status;
}

/* The backward passes on NHWC copies of `chunk` images at a time (the plans'
 * nhwc_chunks, see backward_nhwc_chunk): dy and x laid out as pixel rows, the
 * passes run there as planned for a whole chunk, dx laid back into its planes.
 * dw is summed over the chunks in their order (the first chunk's straight into
 * dw), so its bits depend on the shapes only; db is taken from dy as it is. */
static int FN(backward_by_nhwc_chunks)(const fc_conv_desc *d, int64_t chunk,
                                       const FN(pass_plan) *pdw, const FN(pass_plan) *pdx,
                                       const T *dy, const T *x, const T *w, T *dx, T *dw, T *db,
                                       int nthreads) {
    const int64_t hw = d->h * d->w, hwo = d->ho * d->wo;
    const int64_t in_img = hw * d->c, out_img = hwo * d->k, dw_len = d->r * d->s * d->cg * d->k;
    T *dyb = (T *)fc_alloc(chunk * out_img, sizeof(T));
    T *xb = dw ? (T *)fc_alloc(chunk * in_img, sizeof(T)) : NULL;
    T *dxb = dx ? (T *)fc_alloc(chunk * in_img, sizeof(T)) : NULL;
    T *dwb = dw && d->n > chunk ? (T *)fc_alloc(dw_len, sizeof(T)) : NULL;
    int status = !dyb || (dw && !xb) || (dx && !dxb) || (dw && d->n > chunk && !dwb) ? FC_ENOMEM : FC_OK;
    if (status == FC_OK && db) status = FN(bias_grad)(d, dy, db, nthreads);
    for (int64_t n0 = 0; n0 < d->n && status == FC_OK; n0 += chunk) {
        const int64_t nb = FC_MIN(chunk, d->n - n0);
        const fc_conv_desc t = FN(nhwc_twin)(d, nb);
        FN(pass_plan) qdw, qdx;   /* the chunk's plans, for nb images */
        if (dw) qdw = *pdw, qdw.geo.n = nb;
        if (dx) qdx = *pdx, qdx.geo.n = nb;
        FN(planes_to_rows)(dy + n0 * d->ys[0], d->ys, nb, hwo, d->k, dyb, nthreads);
        if (dw) FN(planes_to_rows)(x + n0 * d->xs[0], d->xs, nb, hw, d->c, xb, nthreads);
        status = FN(backward_planned)(&t, &qdw, &qdx, dyb, xb, w, dxb, n0 == 0 ? dw : dwb, NULL,
                                      nthreads);
        if (status != FC_OK) break;
        if (dw && n0 > 0)
            for (int64_t i = 0; i < dw_len; i++) dw[i] += dwb[i];
        if (dx) FN(rows_to_planes)(dxb, nb, hw, d->c, dx + n0 * d->dxs[0], d->dxs, nthreads);
    }
    fc_free(dyb);
    fc_free(xb);
    fc_free(dxb);
    fc_free(dwb);
    return status;
}

int FN(fc_conv2d_backward)(const fc_conv_desc *d, const T *dy, const T *x, const T *w, T *dx,
                           T *dw, T *db, int nthreads) {
    FN(pass_plan) pdw, pdx;
    if ((dw && FN(plan_pass)(d, FC_PASS_DW, &pdw, NULL, 0) == FC_EINVAL) ||
        (dx && FN(plan_pass)(d, FC_PASS_DX, &pdx, NULL, 0) == FC_EINVAL))
        return FC_EINVAL;
    /* a dx on the channel planes runs apart from the passes on NHWC copies */
    const int dx_apart = dx && !pdx.nhwc_chunk && pdx.variant == FC_VARIANT_PLANES;
    const int64_t chunk = dw ? pdw.nhwc_chunk : dx ? pdx.nhwc_chunk : 0;
    if (chunk) {
        int status = FN(backward_by_nhwc_chunks)(d, chunk, &pdw, &pdx, dy, x, w,
                                                  dx_apart ? NULL : dx, dw, db, nthreads);
        if (status == FC_OK && dx_apart) status = FN(run_dx)(d, &pdx, dy, w, dx, nthreads);
        return status;
    }
    return FN(backward_planned)(d, &pdw, &pdx, dy, x, w, dx, dw, db, nthreads);
}

#undef PLAN
#undef MATRIX
