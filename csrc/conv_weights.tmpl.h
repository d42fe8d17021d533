/* The forward GEMM's weights as B panels, for one dtype: packed once per
 * plan (fc_conv_pack_weights) or per call (the grouped and rows variants). */
#ifndef FC_INSTANTIATING
#error "conv_weights.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

/* The elements of one group's weights packed as the GEMM's B: whole-k panels
 * of nr columns, zeros past the group's kg. */
static int64_t FN(group_panels_len)(const fc_conv_desc *d, int64_t nr) {
    return FC_CEIL_DIV(d->kg, nr) * nr * d->r * d->s * d->cg;
}

/* Rows [p0, p1) of every group's B (w is (R, S, cg, K): row p holds tap p's K
 * weights, contiguous) into out, group g's panels at
 * out + g * group_panels_len, panel q's element (p, j) at q * nr * depth +
 * p * nr + j.  Read row by row: a group's own rows lie K values apart (a page
 * in ResNeXt's layer4), and packing them group by group, per pixel block, was
 * a quarter of that layer's pass. */
static void FN(pack_weight_rows)(const fc_conv_desc *d, const T *w, int64_t nr, int64_t p0,
                                 int64_t p1, T *out) {
    const int64_t depth = d->r * d->s * d->cg, panels = FC_CEIL_DIV(d->kg, nr);
    for (int64_t p = p0; p < p1; p++)
        for (int64_t g = 0; g < d->groups; g++)
            for (int64_t q = 0; q < panels; q++) {
                const int64_t cols = FC_MIN(nr, d->kg - q * nr);
                T *dst = out + ((g * panels + q) * depth + p) * nr;
                memcpy(dst, w + p * d->k + g * d->kg + q * nr, (size_t)cols * sizeof(T));
                for (int64_t j = cols; j < nr; j++) dst[j] = 0;
            }
}

/* The weights as nr-column panels (pack_weight_rows' layout): the plan's copy
 * when it was packed for this nr, else a new block, *own, that the caller
 * fills with pack_weight_rows and frees (*own is NULL otherwise).  NULL when
 * that block cannot be had. */
static const T *FN(weight_panels)(const fc_conv_desc *d, int64_t nr, T **own) {
    *own = NULL;
    if (d->w_packed && d->w_packed_nr == nr) return (const T *)d->w_packed;
    *own = (T *)fc_alloc(d->groups * FN(group_panels_len)(d, nr), sizeof(T));
    return *own;
}
