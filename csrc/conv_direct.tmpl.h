/* Direct convolution for few output channels (stride 1, no dilation): the
 * forward pass and dx (a forward convolution of dy with the flipped,
 * channel-swapped kernel), also with groups, and dw (one group).  A GEMM would put those few channels on the
 * vector lanes and leave most of each tile as padding; these kernels put output
 * pixels on the lanes (ukernels/conv_simd.tmpl.h).  Included by conv.tmpl.h
 * with T, SFX and FN defined.
 *
 * Each image is copied into a planar, zero-padded buffer: plane c holds the
 * padded image's rows, wp = W + pad_left + pad_right values each, back to back.
 * Output pixel (ho, wo) is numbered q = ho * wp + wo, so kernel tap (r, s) reads
 * plane[q + r * wp + s] and consecutive q read consecutive memory, across row
 * ends too.  The wp - Wo columns past each output row's end are computed and
 * dropped.  Workspace per thread: one planar image (at most FC_DIRECT_MAX_BYTES). */
#ifndef FC_INSTANTIATING
#error "conv_direct.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

#define CONV_KERNELS FN(fc_conv_kernels)
#ifndef FC_DIRECT_MAX_BYTES   /* dtype-independent: once for both instantiations */
#define FC_DIRECT_MAX_BYTES (8 << 20)
#define FC_DW_SLOTS 16   /* dw partial sums: image n goes to slot n % FC_DW_SLOTS */
/* Planar copies hold one zero plane past their channels: GCC 12, vectorising
 * the portable kernels (one-lane "vectors"), loads the next channel's values
 * beside this one's and discards them, so the last channel's loop read up to
 * a plane past the copy (valgrind; a crash when the copy ended a page). */
#define FC_DIRECT_PLANES(c) ((c) + 1)
#endif

/* A stride-1 convolution as the direct and Winograd kernels see it. */
typedef struct {
    int64_t n, h, w, c;    /* input */
    int64_t r, s, pt, pl;  /* kernel and padding */
    int64_t ho, wo, k;     /* output */
    int64_t groups;        /* the direct kernels take groups (forward); Winograd one */
} FN(direct_geom);

static FN(direct_geom) FN(direct_geom_of)(const fc_conv_desc *d) {
    FN(direct_geom) g = {d->n, d->h, d->w, d->c, d->r, d->s, d->pad_top, d->pad_left,
                         d->ho, d->wo, d->k, d->groups};
    return g;
}

/* dx as a forward convolution of dy: input dy (Ho x Wo, K channels), output dx. */
static FN(direct_geom) FN(direct_geom_dx)(const fc_conv_desc *d) {
    FN(direct_geom) g = {d->n, d->ho, d->wo, d->k, d->r, d->s, d->r - 1 - d->pad_top,
                         d->s - 1 - d->pad_left, d->h, d->w, d->c, d->groups};
    return g;
}

/* Row width and plane length of the planar copy, with room for the reads of
 * tiles of up to `tile` pixels that start before the last pixel; 0 when a
 * planar image would exceed the workspace cap. */
static int64_t FN(direct_plane)(const FN(direct_geom) *g, int64_t tile, int64_t *wp) {
    *wp = g->wo + g->s - 1;
    const int64_t q_end = g->ho * *wp + tile;
    const int64_t plane = FC_CEIL_DIV(q_end + (g->r - 1) * *wp + g->s - 1, 16) * 16;
    return plane <= FC_DIRECT_MAX_BYTES / (int64_t)sizeof(T) / g->c ? plane : 0;
}

/* Whether the offsets of one output image (extents ho, wo, k; strides os)
 * fit the store's int32 pixel map. */
static int FN(direct_offsets_fit)(int64_t ho, int64_t wo, int64_t k, const int64_t os[4]) {
    const int64_t lim = INT32_MAX / 4;
    if (ho > lim || wo > lim || k > lim) return 0;
    const int64_t a = (ho - 1) * (os[1] < 0 ? -os[1] : os[1]), b = (wo - 1) * (os[2] < 0 ? -os[2] : os[2]);
    const int64_t c = (k - 1) * (os[3] < 0 ? -os[3] : os[3]);
    return a <= lim && b <= lim && c <= lim;
}

/* Whether the direct kernels can run pass `pass`, the stride-1 convolution g
 * (dx: on dy) writing strides os (unused for dw), which the caller has checked
 * is undilated, (for dw) of one group and (for dx) flippable: a planar image within the
 * workspace cap; for dw, a bounded buffer of partial sums. */
static int FN(direct_applies)(const FN(direct_geom) *g, int pass, const int64_t os[4]) {
    int64_t wp;
    if (FN(direct_plane)(g, 64, &wp) == 0) return 0;
    if (pass == FC_PASS_DW) {
        const int64_t limit = FC_DIRECT_MAX_BYTES / (int64_t)sizeof(T);
        const int64_t sums = g->r * g->s * g->c * g->k, dy_plane = (g->ho + 1) * wp + 64;
        const int64_t slots = FC_MAX(1, FC_MIN(FC_DW_SLOTS, g->n));
        return sums <= limit / (slots * 16) && dy_plane <= limit / g->k;
    }
    return FN(direct_offsets_fit)(g->ho, g->wo, g->k, os);
}

/* The planar copy of image img (h x w x c, strides xs[1..3]) at offset (pt, pl). */
static void FN(to_planar)(const T *img, const int64_t xs[4], int64_t h, int64_t w, int64_t c,
                          int64_t pt, int64_t pl, int64_t wp, int64_t plane, T *dst) {
    memset(dst, 0, (size_t)(FC_DIRECT_PLANES(c) * plane) * sizeof(T));
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            const T *src = img + y * xs[1] + x * xs[2];
            T *out = dst + (y + pt) * wp + x + pl;
            for (int64_t ch = 0; ch < c; ch++) out[ch * plane] = src[ch * xs[3]];
        }
}

/* Output channels split into near-equal chunks of at most FC_DIRECT_MAX_KB. */
static inline void FN(direct_chunk)(int64_t k, int64_t i, int64_t *k0, int *kb) {
    const int64_t nch = FC_CEIL_DIV(k, FC_DIRECT_MAX_KB), base = k / nch, extra = k % nch;
    *k0 = i * base + FC_MIN(i, extra);
    *kb = (int)(base + (i < extra));
}

/* With groups, each group's output channels are split into chunks of their
 * own (a chunk reads one group's input planes): chunk i is chunk i % cpg of
 * group i / cpg, cpg chunks per group.  One group: direct_chunk. */
static inline int64_t FN(direct_chunks)(const FN(direct_geom) *g) {
    return g->groups * FC_CEIL_DIV(g->k / g->groups, FC_DIRECT_MAX_KB);
}

static inline void FN(direct_group_chunk)(const FN(direct_geom) *g, int64_t i, int64_t *k0, int *kb,
                                          int64_t *grp) {
    const int64_t kg = g->k / g->groups, cpg = FC_CEIL_DIV(kg, FC_DIRECT_MAX_KB);
    *grp = i / cpg;
    FN(direct_chunk)(kg, i % cpg, k0, kb);
    *k0 += *grp * kg;
}

/* Tap offsets in the planar copy. */
static void FN(direct_offsets)(const FN(direct_geom) *g, int64_t wp, int64_t *off) {
    for (int64_t t = 0; t < g->r * g->s; t++) off[t] = (t / g->s) * wp + t % g->s;
}

/* The store's map: output pixel q's offset in its image (strides ys), or
 * FC_DIRECT_DROP for the virtual columns and the pixels past the end. */
static void FN(direct_map)(const FN(direct_geom) *g, int64_t wp, int64_t len, const int64_t ys[4],
                           int32_t *map) {
    for (int64_t q = 0; q < len; q++) {
        const int64_t ho = q / wp, wo = q % wp;
        map[q] = ho < g->ho && wo < g->wo ? (int32_t)(ho * ys[1] + wo * ys[2]) : FC_DIRECT_DROP;
    }
}

/* y = act(conv(x, w) + bias), w as (r, s, c, k) contiguous; images in parallel. */
/* Tile t of output-channel chunk i of one image (planar copy xp): the
 * kernel, the activation, and the store into y_img (channel stride ks).
 * Chunks with wider tiles have fewer; t past the end does nothing. */
static void FN(direct_tile)(const CONV_KERNELS *kern, int64_t i, int64_t t, const FN(direct_geom) *g,
                            const T *xp, int64_t plane, const int64_t *off, const T *wpk,
                            const T *bias, int act, T act_alpha, const int32_t *map, T *y_img,
                            int64_t ks, T *tbuf) {
    int64_t c0, wp, grp;
    int cb;
    FN(direct_group_chunk)(g, i, &c0, &cb, &grp);
    const int64_t width = kern->width[cb], q0 = t * width, taps = g->r * g->s, cg = g->c / g->groups;
    wp = g->wo + g->s - 1;
    if (q0 >= g->ho * wp) return;
    kern->fwd[cb](xp + grp * cg * plane + q0, plane, off, taps, cg, wpk + c0 * taps * cg,
                  bias ? bias + c0 : NULL, tbuf);
    if (act != FC_ACT_NONE) kern->bias_act(tbuf, 0, tbuf, 0, 1, cb * width, NULL, act, act_alpha);
    kern->store(tbuf, width, cb, map + q0, y_img + c0 * ks, ks);
}

static int FN(direct_conv)(const FN(direct_geom) *g, const T *x, const int64_t xs[4], const T *w,
                           const T *bias, int act, T act_alpha, T *y, const int64_t ys[4],
                           int nthreads) {
    const CONV_KERNELS *kern = FN(fc_conv_kernels_for)();
    const int64_t taps = g->r * g->s, nch = FN(direct_chunks)(g), cg = g->c / g->groups;
    int64_t tile = 0, narrowest = INT64_MAX, k0, wp, grp;   /* the widest and narrowest tiles */
    int kb;
    for (int64_t i = 0; i < nch; i++) {
        FN(direct_group_chunk)(g, i, &k0, &kb, &grp);
        tile = FC_MAX(tile, kern->width[kb]);
        narrowest = FC_MIN(narrowest, kern->width[kb]);
    }
    const int64_t plane = FN(direct_plane)(g, tile, &wp), q_total = g->ho * wp;
    assert(plane > 0);
    /* weights regrouped per chunk as (t, c, kb), c over the chunk's group */
    T *wpk = (T *)fc_alloc(taps * cg * g->k, sizeof(T));
    int64_t *off = (int64_t *)fc_alloc(taps, sizeof(int64_t));
    int32_t *map = (int32_t *)fc_alloc(q_total + tile, sizeof(int32_t));
    int status = wpk && off && map ? FC_OK : FC_ENOMEM;
    if (status == FC_OK) {
        FN(direct_map)(g, wp, q_total + tile, ys, map);
        for (int64_t i = 0; i < nch; i++) {
            FN(direct_group_chunk)(g, i, &k0, &kb, &grp);
            T *dst = wpk + k0 * taps * cg;
            for (int64_t tc = 0; tc < taps * cg; tc++)
                for (int k = 0; k < kb; k++) dst[tc * kb + k] = w[tc * g->k + k0 + k];
        }
        FN(direct_offsets)(g, wp, off);
    }
    /* Images go to threads; with fewer images than threads, each image's
     * tiles are shared out instead (one planar copy, made before the tiles).
     * Either way a tile is computed the same way, so the bits do not depend on
     * the thread count. */
    const int share_tiles = g->n < nthreads;
    T *shared = status == FC_OK && share_tiles ? (T *)fc_alloc(FC_DIRECT_PLANES(g->c) * plane, sizeof(T))
                                               : NULL;
    if (share_tiles && !shared) status = FC_ENOMEM;
    const int64_t ntiles = FC_CEIL_DIV(q_total, narrowest);   /* the most a chunk has */
    for (int64_t n0 = 0; share_tiles && status == FC_OK && n0 < g->n; n0++) {
        FN(to_planar)(x + n0 * xs[0], xs, g->h, g->w, g->c, g->pt, g->pl, wp, plane, shared);
#pragma omp parallel num_threads(nthreads)
        {
            T *tbuf = (T *)fc_alloc(FC_DIRECT_MAX_KB * tile, sizeof(T));
            if (!tbuf) {
#pragma omp atomic write
                status = FC_ENOMEM;
            }
            /* items ordered tile-major: a thread's block of tiles covers all the
             * chunks (channels) of its pixels, so no two threads write one cache line */
#pragma omp for schedule(static)
            for (int64_t it = 0; it < nch * ntiles; it++)
                if (tbuf)
                    FN(direct_tile)(kern, it % nch, it / nch, g, shared, plane, off, wpk, bias,
                                    act, act_alpha, map, y + n0 * ys[0], ys[3], tbuf);
            fc_free(tbuf);
        }
    }
    const int per_image = !share_tiles && status == FC_OK;   /* whole images per thread */
#pragma omp parallel num_threads(nthreads) if (per_image && nthreads > 1 && g->n > 1)
    if (per_image) {
        T *xp = (T *)fc_alloc(FC_DIRECT_PLANES(g->c) * plane, sizeof(T));
        T *tbuf = (T *)fc_alloc(FC_DIRECT_MAX_KB * tile, sizeof(T));
        if (!xp || !tbuf) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t n = 0; n < g->n; n++) {
            if (!xp || !tbuf) continue;
            FN(to_planar)(x + n * xs[0], xs, g->h, g->w, g->c, g->pt, g->pl, wp, plane, xp);
            for (int64_t it = 0; it < nch * ntiles; it++)
                FN(direct_tile)(kern, it / ntiles, it % ntiles, g, xp, plane, off, wpk, bias, act,
                                act_alpha, map, y + n * ys[0], ys[3], tbuf);
        }
        fc_free(xp);
        fc_free(tbuf);
    }
    fc_free(shared);
    fc_free(wpk);
    fc_free(off);
    fc_free(map);
    return status;
}

/* dx's kernel as a forward convolution of dy: w flipped in r and s, with c
 * and k swapped, as (r, s, k, c); NULL when out of memory. */
static T *FN(flipped_kernel)(const fc_conv_desc *d, const T *w) {
    const int64_t taps = d->r * d->s, c = d->c, k = d->k, cg = d->cg, kg = d->kg;
    T *wf = (T *)fc_alloc(taps * kg * c, sizeof(T));   /* (R, S, kg, C) */
    if (!wf) return NULL;
    enum { B = 16 };   /* transposed in B x B tiles: both sides stay in L1 */
    for (int64_t t = 0; t < taps; t++) {
        const T *src = w + (taps - 1 - t) * cg * k;   /* tap (r-1-r', s-1-s') */
        T *dst = wf + t * kg * c;
        for (int64_t g = 0; g < d->groups; g++)   /* dx channel g * cg + cc */
            for (int64_t k0 = 0; k0 < kg; k0 += B)
                for (int64_t c0 = 0; c0 < cg; c0 += B)
                    for (int64_t kk = k0; kk < FC_MIN(kg, k0 + B); kk++)
                        for (int64_t cc = c0; cc < FC_MIN(cg, c0 + B); cc++)
                            dst[kk * c + g * cg + cc] = src[cc * k + g * kg + kk];
    }
    return wf;
}

/* dw[t, c, k] = sum over images and pixels of x_planar[c][q + off[t]] * dy_planar[k][q].
 * Image n adds per-lane partial sums into slot n % FC_DW_SLOTS; the slots, then
 * the lanes, are added up in a fixed order, so any thread count gives the same
 * bits, and the workspace does not grow with the batch.  dy's virtual columns
 * are zero in its planar copy. */
static int FN(direct_dw)(const FN(direct_geom) *geo, const T *x, const int64_t xs[4], const T *dy,
                         const int64_t ys[4], T *dw, int nthreads) {
    const CONV_KERNELS *kern = FN(fc_conv_kernels_for)();
    const FN(direct_geom) g = *geo;
    const int64_t vl = kern->lanes, taps = g.r * g.s, width = taps * g.c * g.k;
    const int64_t nch = FC_CEIL_DIV(g.k, FC_DIRECT_MAX_KB), slots = FC_MIN(FC_DW_SLOTS, g.n);
    int64_t wp;
    const int64_t plane = FN(direct_plane)(&g, vl, &wp);
    const int64_t dplane = FC_CEIL_DIV(g.ho * wp, vl) * vl;
    assert(plane > 0);
    if (g.n == 0) {
        memset(dw, 0, (size_t)width * sizeof(T));
        return FC_OK;
    }
    T *part = (T *)fc_alloc(slots * width * vl, sizeof(T));
    int64_t *off = (int64_t *)fc_alloc(taps, sizeof(int64_t));
    int status = part && off ? FC_OK : FC_ENOMEM;
    if (off) FN(direct_offsets)(&g, wp, off);
#pragma omp parallel num_threads(nthreads) if (status == FC_OK && nthreads > 1 && slots > 1)
    {
        T *xp = status == FC_OK ? (T *)fc_alloc(FC_DIRECT_PLANES(g.c) * plane, sizeof(T)) : NULL;
        T *dyp = status == FC_OK ? (T *)fc_alloc(FC_DIRECT_PLANES(g.k) * dplane, sizeof(T)) : NULL;
        if (!xp || !dyp) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t slot = 0; slot < slots; slot++) {
            if (!xp || !dyp) continue;
            T *acc = part + slot * width * vl;
            memset(acc, 0, (size_t)(width * vl) * sizeof(T));
            for (int64_t n = slot; n < g.n; n += slots) {
                FN(to_planar)(x + n * xs[0], xs, g.h, g.w, g.c, g.pt, g.pl, wp, plane, xp);
                FN(to_planar)(dy + n * ys[0], ys, g.ho, g.wo, g.k, 0, 0, wp, dplane, dyp);
                for (int64_t tc = 0; tc < taps * g.c; tc++) {
                    const T *xt = xp + (tc % g.c) * plane + off[tc / g.c];
                    for (int64_t i = 0; i < nch; i++) {
                        int64_t k0;
                        int kb;
                        FN(direct_chunk)(g.k, i, &k0, &kb);
                        kern->dw[kb](xt, dyp + k0 * dplane, dplane, dplane / vl,
                                     acc + (tc * g.k + k0) * vl);
                    }
                }
            }
        }
        fc_free(xp);
        fc_free(dyp);
    }
    if (status == FC_OK) {
        /* slot 0 collects the others, in blocks of contiguous sums */
        const int64_t total = width * vl, block = 4096;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && total >= 2 * block)
        for (int64_t b0 = 0; b0 < total; b0 += block) {
            const int64_t len = FC_MIN(block, total - b0);
            for (int64_t s = 1; s < slots; s++) {
                const T *src = part + s * total + b0;
                T *sum = part + b0;
                for (int64_t j = 0; j < len; j++) sum[j] += src[j];
            }
        }
        for (int64_t i = 0; i < width; i++) {
            T sum = 0;
            for (int64_t l = 0; l < vl; l++) sum += part[i * vl + l];
            dw[i] = sum;
        }
    }
    fc_free(part);
    fc_free(off);
    return status;
}

#undef CONV_KERNELS
