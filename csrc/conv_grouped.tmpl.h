/* The grouped forward GEMM for one dtype: every group in one pass, not one
 * GEMM per group.  Also dx of a grouped stride-1 convolution, as the grouped
 * forward convolution of dy with the flipped kernel (conv_backward.tmpl.h). */
#ifndef FC_INSTANTIATING
#error "conv_grouped.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

/* Output pixels per work item of a grouped forward pass (a multiple of every
 * kernel's MR), and how many groups' im2col rows are packed at a time: as
 * many as fill half of L2. */
#define FC_GROUPED_BLOCK_ROWS 96
static int64_t FN(groups_per_pack)(const fc_conv_desc *d) {
    fc_cpu_caches caches;
    fc_cpu_caches_get(&caches);
    const int64_t group_bytes = FC_GROUPED_BLOCK_ROWS * d->r * d->s * d->cg * (int64_t)sizeof(T);
    return FC_MAX(1, FC_MIN(d->groups, caches.l2 / 2 / group_bytes));
}

/* The im2col rows of `rows` output pixels, from pixel src->row0 of image
 * src->n0, for groups [g0, g0 + count) at once: group g's rows at
 * slab + (g - g0) * rows * k (k = R*S*cg), so each group's GEMM reads its A
 * in place.  x is read count * cg channels of a pixel at a time; packing
 * group by group would gather a few channels from every pixel per group, a
 * cache line per few values. */
static void FN(pack_groups)(const fc_conv_desc *d, const FN(conv_src) *src, int64_t rows,
                            int64_t g0, int64_t count, T *slab) {
    const int64_t cg = d->cg, k = d->r * d->s * cg, *xs = d->xs;
    FN(pixel) px = FN(pixel_at)(src, src->row0);
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t r = 0; r < d->r; r++) {
            const int64_t h = px.hb + r * d->dil_h;
            for (int64_t s = 0; s < d->s; s++) {
                const int64_t w = px.wb + s * d->dil_w;
                const T *in = h >= 0 && h < d->h && w >= 0 && w < d->w
                                  ? px.img + h * xs[1] + w * xs[2] + g0 * cg * xs[3] : NULL;
                T *out = slab + i * k + (r * d->s + s) * cg;
                for (int64_t g = 0; g < count; g++)
                    FN(copy_run)(out + g * rows * k, in ? in + g * cg * xs[3] : NULL, xs[3], cg);
            }
        }
        if (i + 1 < rows) FN(pixel_next)(src, &px);
    }
}

/* The GEMM of group g over m output pixels whose A rows start at a (lda
 * apart) and whose outputs start at c (rsc apart), B being the group's
 * panels packed for kd. */
static void FN(group_gemm)(const fc_conv_desc *d, int64_t g, int64_t m, const T *a, int64_t lda,
                           const T *panels, const FN(fc_gemm_kernel) *kd, const T *bias, int act,
                           double act_alpha, T *c, int64_t rsc, T *scratch, int64_t scratch_len) {
    const MATRIX am = {a, lda, 1};
    PLAN pl = {0};
    pl.m = m; pl.n = d->kg; pl.k = d->r * d->s * d->cg;
    pl.pack_a = FN(fc_pack_a_matrix); pl.a_ctx = &am;
    pl.a_direct = (lda * (int64_t)sizeof(T)) % 4096 ? a : NULL;   /* 4 KiB apart: L1 aliasing */
    pl.lda_direct = lda;
    pl.b_panels = panels; pl.kernel = kd;
    pl.c = c; pl.rsc = rsc; pl.csc = d->ys[3];
    pl.alpha = 1; pl.beta = d->accumulate ? 1 : 0;
    pl.bias = bias ? bias + g * d->kg : NULL;
    pl.act = act; pl.act_alpha = (T)act_alpha;
    pl.scratch = scratch; pl.scratch_len = scratch_len;
    FN(fc_gemm_run)(&pl, 1);   /* cannot fail: the scratch is large enough */
}

/* Grouped forward: every group in one pass (not one GEMM per group).  Work
 * items are (block of output pixels, chunk of groups): each packs the block's
 * im2col rows for its chunk, as many groups as fill half of L2 (pack_groups;
 * the 1x1 pointwise variant reads x in place), then runs those groups' GEMMs
 * on the weights packed once per call (or once per plan: d->w_packed).
 * Chunks are work items too, so a batch-1 map of one block still has some.  The sums are those of one GEMM per group: KC
 * alone splits them, so the bits do not depend on the blocks or threads.
 * (ResNeXt-50 layer2.0's stride-2 3x3, 8 channels per group, batch 8: 32 ms
 * as one GEMM per group.) */
static int FN(forward_grouped)(const fc_conv_desc *d, const FN(pass_plan) *p, const T *x,
                               const T *w, const T *bias, int act, double act_alpha, T *y,
                               int nthreads) {
    const int64_t hw = d->ho * d->wo, batch[3] = {d->n, d->ho, d->wo}, image[3] = {1, d->ho, d->wo};
    const int64_t k = d->r * d->s * d->cg;
    const int pointwise = p->variant == FC_VARIANT_POINTWISE;
    int64_t rsc;
    const int whole_batch = fc_uniform_row_stride(d->ys, batch, &rsc);
    if (!whole_batch && !fc_uniform_row_stride(d->ys, image, &rsc)) return FC_EINVAL;
    const int64_t images = whole_batch ? 1 : d->n, rows = whole_batch ? d->n * hw : hw;
    const int64_t br = FC_GROUPED_BLOCK_ROWS, chunk = FN(groups_per_pack)(d);
    const int64_t chunks = FC_CEIL_DIV(d->groups, chunk);
    const int64_t blocks = FC_CEIL_DIV(rows, br), items = images * blocks * chunks;
    const FN(fc_gemm_kernel) *kd = FN(fc_gemm_kernel_for)(d->kg);
    const int64_t group_len = FN(group_panels_len)(d, kd->nr);
    T *own;   /* filled below, by the threads */
    const T *panels = FN(weight_panels)(d, kd->nr, &own);
    if (!panels) return FC_ENOMEM;
    /* every group's GEMM on a full block has the same shape: one scratch per thread */
    PLAN shape = {0};
    shape.m = FC_MIN(br, rows); shape.n = d->kg; shape.k = k;
    shape.b_panels = panels; shape.kernel = kd;
    shape.a_direct = x;   /* as group_gemm may: no packed A block */
    const int64_t gemm_len = FN(fc_gemm_scratch_len)(&shape, 1);
    shape.a_direct = NULL;
    const int64_t scratch_len = FC_MAX(gemm_len, FN(fc_gemm_scratch_len)(&shape, 1));
    const int64_t slab_len = pointwise ? 0 : FC_MIN(br, rows) * k * chunk;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        T *scratch = (T *)fc_alloc(scratch_len + slab_len, sizeof(T));
        if (!scratch) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
        if (own) {
#pragma omp for schedule(static)
            for (int64_t p = 0; p < k; p++) FN(pack_weight_rows)(d, w, kd->nr, p, p + 1, own);
        }
#pragma omp for schedule(static)
        for (int64_t it = 0; it < items; it++) {   /* (image, pixel block, group chunk) */
            if (!scratch) continue;
            const int64_t img = it / (blocks * chunks), r0 = it / chunks % blocks * br;
            const int64_t g0 = it % chunks * chunk, m = FC_MIN(br, rows - r0);
            T *c = y + img * d->ys[0] + r0 * rsc, *slab = scratch + scratch_len;
            const FN(conv_src) src = {d, x, d->xs, 0, img, r0, 0};
            if (!pointwise) FN(pack_groups)(d, &src, m, g0, FC_MIN(chunk, d->groups - g0), slab);
            for (int64_t g = g0; g < FC_MIN(g0 + chunk, d->groups); g++) {
                const T *a = pointwise ? x + g * d->cg + r0 * p->lda : slab + (g - g0) * m * k;
                FN(group_gemm)(d, g, m, a, pointwise ? p->lda : k, panels + g * group_len, kd, bias,
                               act, act_alpha, c + g * d->kg * d->ys[3], rsc, scratch,
                               scratch_len);
            }
        }
        fc_free(scratch);
    }
    fc_free(own);
    return status;
}

/* dx of a grouped stride-1 convolution as the grouped forward GEMM of dy with
 * the flipped kernel wf ((R, S, kg, C): flipped_kernel), g being the plan's
 * geometry of that convolution (dy in, dx out, the flipped padding). */
static int FN(dx_grouped_gemm)(const fc_conv_desc *d, const FN(direct_geom) *g, const T *dy,
                               const T *wf, T *dx, int nthreads) {
    fc_conv_desc f = *d;
    f.w_packed = NULL;   /* a packed copy is of the forward weights, not of wf */
    f.n = g->n; f.h = g->h; f.w = g->w; f.c = g->c;
    f.k = g->k; f.ho = g->ho; f.wo = g->wo;
    f.cg = d->kg; f.kg = d->cg;
    f.pad_top = g->pt; f.pad_left = g->pl;
    f.pad_bottom = d->r - 1 - d->pad_bottom; f.pad_right = d->s - 1 - d->pad_right;
    memcpy(f.xs, d->ys, sizeof f.xs);
    memcpy(f.ys, d->dxs, sizeof f.ys);
    FN(pass_plan) p;
    memset(&p, 0, sizeof p);
    p.algo = FC_CONV_GEMM;
    p.variant = FC_VARIANT_IM2COL;
    return FN(forward_grouped)(&f, &p, dy, wf, NULL, FC_ACT_NONE, 0, dx, nthreads);
}
