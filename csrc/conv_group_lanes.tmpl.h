/* Grouped convolutions with G = C/groups = K/groups channels per group, G a
 * power of two from 2 to 64 (ResNeXt's 4 to 32), for one dtype: the "lanes"
 * variant of the depthwise algorithm.  Channels are read in place from NHWC
 * and every FMA does useful work: narrow groups (G below the vector width)
 * sit whole on the vector lanes and each group's sum over its input channels
 * ends in the registers; wide groups put a group's output channels on the
 * lanes and broadcast its input channels (ukernels/group_lanes_simd.tmpl.h).
 * The im2col GEMM of one group would fill G of a tile's 16 or 32 columns, and
 * the planes of the depthwise kernels copy each input row G times.  Any
 * stride, dilation and padding; forward and dx by output rows (batch 1 is
 * parallel too), dw by fixed chunks of output rows whose partial sums are
 * added in order, so the bits do not depend on the thread count. */
#ifndef FC_INSTANTIATING
#error "conv_group_lanes.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

#ifndef FC_GL_PART_BYTES
#define FC_GL_PART_BYTES (8 << 20)   /* dw's partial sums, all chunks together */
#define FC_GL_MAX_G 64               /* channels per group (a group's weights: 147 KiB) */
#define FC_GL_ROWS_BYTES (8 << 20)   /* a thread's padded input rows */
/* dw's chunks of output rows (partial sums): enough for 16 threads; the
 * depthwise kernels' 64 cost 10 % of a ResNeXt layer's dw in clearing and
 * adding them up */
#define FC_GL_DW_CHUNKS 16
#endif

/* The row geometry: forward and dw read x's rows and meet output rows; dx
 * reads dy's rows and writes dx's. */
static fc_dw_row FN(group_lanes_row)(const fc_conv_desc *d, int pass) {
    fc_dw_row g = {0};   /* l1, prefetch, relu, nt: not asked by the lanes kernels */
    g.r = d->r; g.s = d->s; g.k = d->k;
    g.stride = d->stride_w; g.pad = d->pad_left; g.dil = d->dil_w;
    const int dx = pass == FC_PASS_DX;
    g.in_w = dx ? d->wo : d->w;
    g.in_ps = dx ? d->ys[2] : d->xs[2];
    g.out_w = dx ? d->w : d->wo;
    g.out_ps = dx ? d->dxs[2] : d->ys[2];
    return g;
}

/* The row geometry of the forward pass or dx on input rows copied between
 * zero margins wide enough that every tap of every output pixel lies inside
 * (the kernels' edge pixels ran one by one with their own tap lists: a third
 * of a 7-pixel row): in_w becomes the padded width, *ml the left margin.
 * Forward: input pixel iw = o * stride - pad + s * dil; dx: dy pixel wo =
 * (o + pad - s * dil) / stride. */
static fc_dw_row FN(group_lanes_padded)(const fc_conv_desc *d, int pass, int64_t *ml) {
    const fc_dw_row g = FN(group_lanes_row)(d, pass);
    const int transposed = pass == FC_PASS_DX;
    const int64_t span = (g.s - 1) * g.dil;
    *ml = transposed ? FC_CEIL_DIV(FC_MAX(0, span - g.pad), g.stride) : g.pad;
    const int64_t last = transposed ? (g.out_w - 1 + g.pad) / g.stride
                                    : (g.out_w - 1) * g.stride - g.pad + span;
    fc_dw_row gp = g;
    gp.in_w = *ml + FC_MAX(g.in_w, last + 1);
    gp.in_ps = d->k;
    gp.pad = transposed ? g.pad + *ml * g.stride : g.pad - *ml;
    return gp;
}

/* Why the group-lanes kernels cannot run pass `pass` of d, or NULL. */
static const char *FN(group_lanes_obstacle)(const fc_conv_desc *d, int pass) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const int64_t G = d->cg;
    if (!kern->gl_row) return "the portable kernels have no vector permutes";
    if (d->groups < 2 || d->kg != G || G < 2 || (G & (G - 1)) || G > FC_GL_MAX_G)
        return "needs as many input as output channels per group, a power of two from 2 to 64";
    if (d->k % kern->lanes) return "needs channels in whole vectors";
    if (d->r * d->s > FC_GL_MAX_TAPS || d->r > FC_DW_MAX_TAPS_R) return "takes at most 64 taps";
    const int64_t *in = pass == FC_PASS_DX ? d->ys : d->xs;
    const int64_t *out = pass == FC_PASS_DX ? d->dxs : d->ys;   /* dw: dy */
    if (in[3] != 1 || out[3] != 1) return "needs unit channel strides (NHWC)";
    int64_t ml;   /* per thread: the padded input rows, or dw's broadcast dy row */
    const int64_t per_thread = pass == FC_PASS_DW ? (G < kern->lanes ? d->wo * G * d->k : 0)
                                                  : d->r * FN(group_lanes_padded)(d, pass, &ml).in_w * d->k;
    if (per_thread * (int64_t)sizeof(T) > FC_GL_ROWS_BYTES)
        return "its padded input rows exceed the 8 MiB workspace cap";
    return NULL;
}

/* rows[r] = the row of src (an image's rows at stride rs) that output row o
 * meets through kernel row r, NULL in the padding; transposed: src is dy and
 * o a dx row (o + pad - r * dil = oh * stride). */
static void FN(group_lanes_rows)(const fc_conv_desc *d, const T *img, int64_t rs, int64_t o,
                                 int transposed, const T **rows) {
    for (int64_t r = 0; r < d->r; r++) {
        if (transposed) {
            const int64_t t = o + d->pad_top - r * d->dil_h;
            rows[r] = t >= 0 && t % d->stride_h == 0 && t / d->stride_h < d->ho
                          ? img + (t / d->stride_h) * rs : NULL;
        } else {
            const int64_t ih = o * d->stride_h - d->pad_top + r * d->dil_h;
            rows[r] = ih >= 0 && ih < d->h ? img + ih * rs : NULL;
        }
    }
}

/* Points rows[] (R input rows, NULL in the padding) at copies between zero
 * margins: slot i of buf (wpad pixels of K channels, the row from pixel ml)
 * holds row held[i]; a row already held is not copied again (at stride 1
 * consecutive output rows share R - 1 input rows). */
static void FN(group_lanes_pad_rows)(int64_t R, const T **rows, const T **held, T *buf,
                                     int64_t wpad, int64_t ml, int64_t in_w, int64_t ps, int64_t K) {
    const T *want[FC_DW_MAX_TAPS_R];
    memcpy(want, rows, (size_t)R * sizeof *rows);
    for (int64_t r = 0; r < R; r++) {
        if (!want[r]) continue;
        int64_t slot = -1;
        for (int64_t i = 0; i < R && slot < 0; i++)
            if (held[i] == want[r]) slot = i;
        for (int64_t i = 0; i < R && slot < 0; i++) {   /* a slot no row of this one needs */
            int needed = 0;
            for (int64_t q = 0; q < R; q++) needed |= held[i] && held[i] == want[q];
            if (!needed) {
                slot = i;
                T *dst = buf + i * wpad * K + ml * K;
                for (int64_t p = 0; p < in_w; p++)
                    memcpy(dst + p * K, want[r] + p * ps, (size_t)K * sizeof(T));
                held[i] = want[r];
            }
        }
        rows[r] = buf + slot * wpad * K;
    }
}

/* Forward (transposed = 0, from x) or dx (1, from dy).  Narrow groups (G <
 * VL): the kernels' weights are (K / VL, R * S, G, VL), at [k / VL, t, q,
 * k % VL] the weight of in-channel gG + l for out-channel gG + q, k = gG + l:
 * w transposed within each group forward, w itself (q = c, l = j) for dx.
 * Wide groups: (R * S, G, K) with [t, l, gG + q] that weight: w itself
 * forward, transposed within each group for dx. */
static int FN(group_lanes_rows_pass)(const fc_conv_desc *d, int transposed, const T *in,
                                     const T *w, const T *bias, int act, T act_alpha, T *out,
                                     int nthreads) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const int64_t G = d->cg, K = d->k, taps = d->r * d->s, vl = kern->lanes;
    const fc_dw_row g = FN(group_lanes_row)(d, transposed ? FC_PASS_DX : FC_PASS_FORWARD);
    const int64_t *is = transposed ? d->ys : d->xs, *os = transposed ? d->dxs : d->ys;
    const int64_t per_image = transposed ? d->h : d->ho, rows_out = d->n * per_image;
    if (rows_out == 0) return FC_OK;   /* an empty batch */
    const int wide = G >= vl;
    T *wb = wide && !transposed ? NULL : (T *)fc_alloc(taps * G * K, sizeof(T));
    if (!wb && !(wide && !transposed)) return FC_ENOMEM;
    /* (no division per value: ResNeXt-50 layer4's dx copies 295 K weights) */
    for (int64_t t = 0; wb && wide && t < taps; t++)   /* transposed within groups */
        for (int64_t q = 0; q < G; q++)
            for (int64_t g0 = 0; g0 < K; g0 += G)
                for (int64_t l = 0; l < G; l++)
                    wb[(t * G + q) * K + g0 + l] = w[(t * G + l) * K + g0 + q];
    for (int64_t k0 = 0; wb && !wide && k0 < K; k0 += vl)   /* blocked by channel vector */
        for (int64_t t = 0; t < taps; t++)
            for (int64_t q = 0; q < G; q++) {
                T *dst = wb + ((k0 / vl * taps + t) * G + q) * vl;
                for (int64_t i = 0; i < vl; i++) {
                    const int64_t l = i & (G - 1), k = k0 + i;   /* G divides vl */
                    dst[i] = transposed ? w[(t * G + q) * K + k] : w[(t * G + l) * K + k - l + q];
                }
            }
    const T *wk = wb ? wb : w;
    int64_t ml;
    const fc_dw_row gp = FN(group_lanes_padded)(d, transposed ? FC_PASS_DX : FC_PASS_FORWARD, &ml);
    const int64_t in_w = g.in_w, wpad = gp.in_w;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && rows_out > 1)
    {
        T *buf = (T *)fc_alloc(d->r * wpad * K, sizeof(T));
        if (!buf) {
#pragma omp atomic write
            status = FC_ENOMEM;
        } else {
            memset(buf, 0, (size_t)(d->r * wpad * K) * sizeof(T));
        }
        const T *held[FC_DW_MAX_TAPS_R];   /* the input row each slot holds */
        for (int64_t r = 0; r < d->r; r++) held[r] = NULL;
#pragma omp for schedule(static)
        for (int64_t nh = 0; nh < rows_out; nh++) {
            if (!buf) continue;
            const int64_t n = nh / per_image, o = nh % per_image;
            const T *rows[FC_DW_MAX_TAPS_R];
            FN(group_lanes_rows)(d, in + n * is[0], is[1], o, transposed, rows);
            FN(group_lanes_pad_rows)(d->r, rows, held, buf, wpad, ml, in_w, is[2], K);
            T *row = out + n * os[0] + o * os[1];
            kern->gl_row(&gp, rows, wk, G, bias, row, transposed);
            if (act != FC_ACT_NONE) kern->bias_act(row, os[2], row, os[2], g.out_w, K, NULL, act, act_alpha);
        }
        fc_free(buf);
    }
    fc_free(wb);
    return status;
}

/* dw: chunk i of the output rows adds its rows into partial sum i (kernel
 * order (R * S, G, K), see the kernels' header); the chunks are then added in
 * order into dw's (R, S, G, K), transposed within each group (narrow groups;
 * the wide groups' kernels sum in dw's order). */
static int FN(group_lanes_dw)(const fc_conv_desc *d, const T *x, const T *dy, T *dw, int nthreads) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const int64_t G = d->cg, K = d->k, taps = d->r * d->s, size = taps * G * K;
    const fc_dw_row g = FN(group_lanes_row)(d, FC_PASS_DW);
    const int64_t rows_total = d->n * d->ho;
    const int64_t max_chunks = FC_MAX(1, FC_MIN(FC_GL_DW_CHUNKS, FC_GL_PART_BYTES / (size * (int64_t)sizeof(T))));
    const int64_t per_chunk = FC_MAX(1, FC_CEIL_DIV(rows_total, max_chunks));
    const int64_t chunks = FC_MAX(1, FC_CEIL_DIV(rows_total, per_chunk));
    const int prefetch = FN(worth_prefetching)(d);
    T *part = (T *)fc_alloc(chunks * size, sizeof(T));
    if (!part) return FC_ENOMEM;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && chunks > 1)
    {
        /* dy's lanes broadcast per group (narrow groups) */
        T *dyb = (T *)fc_alloc(G < kern->lanes ? d->wo * G * K : 1, sizeof(T));
        if (!dyb) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t ch = 0; ch < chunks; ch++) {
            if (!dyb) continue;
            T *acc = part + ch * size;
            memset(acc, 0, (size_t)size * sizeof(T));
            for (int64_t nh = ch * per_chunk; nh < FC_MIN(rows_total, (ch + 1) * per_chunk); nh++) {
                const int64_t n = nh / d->ho, oh = nh % d->ho;
                const T *rows[FC_DW_MAX_TAPS_R];
                FN(group_lanes_rows)(d, x + n * d->xs[0], d->xs[1], oh, 0, rows);
                const T *dyrow = dy + n * d->ys[0] + oh * d->ys[1];
                if (prefetch)
                    FN(prefetch_next)(d, x, 1, dy, nh, FC_MIN(rows_total, (ch + 1) * per_chunk));
                kern->gl_wgrad(&g, rows, dyrow, d->ys[2], G, dyb, acc);
            }
        }
        fc_free(dyb);
        FN(sum_chunks)(part, chunks, size);
#pragma omp for schedule(static)
        for (int64_t tc = 0; tc < taps * G; tc++) {   /* (tap, in-channel c) of dw */
            const int64_t t = tc / G, c = tc % G;
            for (int64_t k = 0; k < K; k++) {   /* k = gG + j reads acc[t, j, gG + c] */
                const int64_t j = k & (G - 1);
                dw[tc * K + k] = G < kern->lanes ? part[(t * G + j) * K + k - j + c] : part[tc * K + k];
            }
        }
    }
    fc_free(part);
    return status;
}
