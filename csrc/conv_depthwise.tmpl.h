/* Depthwise and narrow grouped convolution (at most FC_DEPTHWISE_MAX_CG input
 * channels per group; depthwise is one, with K = C * m for a channel
 * multiplier m) for one dtype, any stride, dilation and padding, with output
 * channels on the vector lanes (ukernels/depthwise_simd.tmpl.h).  The implicit
 * GEMM would run one tiny GEMM per group.  Work is shared out by rows of the
 * output (forward), of dx, or by fixed chunks of output rows (dw), so batch 1
 * is parallel too.  Channel stride 1 (NHWC) only.
 *
 * Output channel k (group k / kg) reads input channels (k / kg) * cg + c,
 * c < cg.  Unless cg = kg = 1, each input row a row needs is first copied into
 * cg "planes" of K channels, plane c holding at channel k the input channel
 * (k / kg) * cg + c; the row kernels then treat (kernel row r, plane c) as one
 * of R * cg kernel rows, with the weights reordered to (R, cg, S, K).  dx is
 * computed per plane with K channels and each group's kg channels added up.
 * Channels at other strides (NCHW) go through the same copies: x's rows are
 * expanded (which gathers the channels), y's and dx's rows are written to a
 * contiguous row and then stored, dy's rows are gathered first.  So do the
 * rows of a stride-1 layer whose pixels would alias in L1 (dw_wide_rows),
 * copied a cache line wider a pixel.
 * Workspace per thread: R * cg expanded rows, or one K-channel dx row; dw: at
 * most FC_DW_CHUNKS partial sums of R * S * cg * K values.  Kernels of up to
 * FC_DW_MAX_TAPS_R rows. */
#ifndef FC_INSTANTIATING
#error "conv_depthwise.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

#ifndef FC_DW_CHUNKS
#define FC_DW_CHUNKS 64          /* dw partial sums: fixed chunks of output rows, added in order */
#define FC_DEPTHWISE_MAX_CG 8    /* input channels per group the kernels take */
#define FC_DW_MAX_TAPS_R 64      /* kernel rows the kernels take (a stack array per row) */
#endif

/* Whether the channel offsets fit the int32 index table (always, but for
 * NCHW tensors of over 2^31 elements per image). */
static int FN(dw_offsets_fit)(const fc_conv_desc *d) {
    const int64_t cs = d->xs[3] < 0 ? -d->xs[3] : d->xs[3];
    return d->c <= 1 || cs <= INT32_MAX / (d->c - 1);
}

/* Whether the depthwise kernels can run d (any pass, any strides). */
static int FN(depthwise_applies)(const fc_conv_desc *d) {
    return d->cg <= FC_DEPTHWISE_MAX_CG && FN(dw_offsets_fit)(d);
}

/* Whether a pixel stride of ps elements puts the pixels a kernel block reads
 * (up to ten of a row at the same channel, from three rows) into too few L1
 * sets: pixels a multiple of 2 KiB apart fall into at most two sets of a
 * 4 KiB way, so the rows' lines evict each other and what the hardware
 * fetched ahead, worst where y starts about as far into a page as x (NumPy's
 * large arrays all start 16 bytes into one).  Zen 4, 1 thread, rows copied a
 * line wider against read in place, stride 1, best of 4 runs: NumPy arrays
 * 8x14x14x512 0.49 -> 0.32 ms, 8x7x7x1024 0.45 -> 0.22, 1x14x14x512 1.3x;
 * arrays on a cache line 8x7x7x1024 and 1x7x7x1024 1.3x, 14x14x512 the same,
 * dw 0.9-1.1x.  Not at 1 KiB (28x28x256: 0.93-1.02x) nor at stride 2 (the
 * copy reads every pixel, the kernels every other: 28x28x512 0.89x forward,
 * 0.83x dw, on a cache line). */
static int FN(dw_aliases)(int64_t ps) { return ps * (int64_t)sizeof(T) % 2048 == 0; }

/* Whether input rows are copied only to widen their pixel stride (the plan's
 * variant wide_rows for the forward pass and dw). */
static int FN(dw_wide_rows)(const fc_conv_desc *d) {
    return d->cg == 1 && d->kg == 1 && d->xs[3] == 1 && d->stride_w == 1 &&
           FN(dw_aliases)(d->xs[2]);
}

/* Whether input rows are copied into planes (see the header comment). */
static int FN(dw_expands)(const fc_conv_desc *d) {
    return d->cg > 1 || d->kg > 1 || d->xs[3] != 1 || FN(dw_wide_rows)(d);
}

/* The pixel stride of the planes: K, a cache line more where K would alias
 * (at stride 1, as dw_wide_rows). */
static int64_t FN(dw_plane_ps)(const fc_conv_desc *d) {
    return d->k + (d->stride_w == 1 && FN(dw_aliases)(d->k) ? 64 / (int64_t)sizeof(T) : 0);
}

/* Whether dx rows are computed with K channels and then reduced / stored. */
static int FN(dw_wide_dx)(const fc_conv_desc *d) { return d->cg > 1 || d->kg > 1 || d->dxs[3] != 1; }

/* The row geometry along W: forward and dw read x's rows (R * cg of them) and
 * produce output rows; dx reads dy's rows (R) and produces dx's. */
static fc_dw_row FN(dw_row_of)(const fc_conv_desc *d, int pass) {
    fc_dw_row g = {0};   /* no prefetch, ReLU or streaming stores unless the pass asks */
    g.s = d->s; g.k = d->k;
    g.stride = d->stride_w; g.pad = d->pad_left; g.dil = d->dil_w;
    fc_cpu_caches caches;
    fc_cpu_caches_get(&caches);
    g.l1 = caches.l1d;
    if (pass == FC_PASS_DX) {
        g.r = d->r;
        g.in_w = d->wo; g.in_ps = d->ys[3] == 1 ? d->ys[2] : d->k;
        g.out_w = d->w; g.out_ps = FN(dw_wide_dx)(d) ? d->k : d->dxs[2];
    } else {
        g.r = d->r * d->cg;
        g.in_w = d->w; g.in_ps = FN(dw_expands)(d) ? FN(dw_plane_ps)(d) : d->xs[2];
        g.out_w = d->wo; g.out_ps = d->ys[3] == 1 ? d->ys[2] : d->k;
    }
    return g;
}

/* dst[wo * K + k] = row[wo * ps + k * cs]: a row of y or dy at channel stride cs. */
static void FN(dw_gather_row)(const T *row, int64_t ps, int64_t cs, int64_t w, int64_t k, T *dst) {
    for (int64_t i = 0; i < w; i++)
        for (int64_t c = 0; c < k; c++) dst[i * k + c] = row[i * ps + c * cs];
}

/* Expanded input rows kept between the output rows of one thread: R slots of
 * cg planes each, keyed by image and input row (-1: empty), so that at stride
 * 1 each input row is expanded once, not R times. */
typedef struct {
    const T **rows;      /* R * cg row pointers handed to the kernels */
    T *planes;           /* R slots of cg * W * dw_plane_ps values (expanding only) */
    int64_t *key;        /* R slot keys */
    T *line;             /* a contiguous row: y's (forward), dx's with K channels, dy's (dw) */
    int32_t *idx;        /* expanding: per plane c, the offset of channel k's input in a pixel */
    T *dy_rows;          /* dx with strided dy channels: R gathered rows of dy */
} FN(dw_scratch_t);

/* Copies input row src into cg planes at dst: plane c holds at channel k the
 * input channel (k / kg) * cg + c. */
static void FN(dw_expand_row)(const fc_conv_desc *d, const FN(dw_scratch_t) *sc, const T *src,
                              T *dst) {
    const int64_t ps = FN(dw_plane_ps)(d);
    if (FN(dw_wide_rows)(d)) {   /* only the pixel stride changes */
        for (int64_t iw = 0; iw < d->w; iw++)
            memcpy(dst + iw * ps, src + iw * d->xs[2], (size_t)d->k * sizeof(T));
        return;
    }
    /* one indexed loop per pixel and plane (sc->idx: where channel k's input
     * lies); the ISAs' gathers measured slower than this on Zen 4 */
    for (int64_t c = 0; c < d->cg; c++) {
        const int32_t *idx = sc->idx + c * d->k;
        for (int64_t iw = 0; iw < d->w; iw++) {
            const T *px = src + iw * d->xs[2];
            T *out = dst + (c * d->w + iw) * ps;
            for (int64_t k = 0; k < d->k; k++) out[k] = px[idx[k]];
        }
    }
}

/* sc->rows[r * cg + c] = plane c of the input row that output row (n, oh)
 * reads through kernel row r, or NULL in the padding (see the header comment). */
static void FN(dw_input_rows)(const fc_conv_desc *d, const T *x, int64_t n, int64_t oh,
                              FN(dw_scratch_t) *sc) {
    const int64_t cg = d->cg, R = d->r, row_values = d->w * FN(dw_plane_ps)(d);
    const int64_t plane_values = cg * row_values;
    int64_t want[FC_DW_MAX_TAPS_R];   /* the keys this row needs, -1 in the padding */
    for (int64_t r = 0; r < R; r++) {
        const int64_t ih = oh * d->stride_h - d->pad_top + r * d->dil_h;
        want[r] = ih >= 0 && ih < d->h ? n * d->h + ih : -1;
        if (!FN(dw_expands)(d))
            sc->rows[r] = want[r] < 0 ? NULL : x + n * d->xs[0] + ih * d->xs[1];
    }
    if (!FN(dw_expands)(d)) return;
    for (int64_t r = 0; r < R; r++) {
        int64_t slot = -1;
        for (int64_t i = 0; i < R && want[r] >= 0; i++)
            if (sc->key[i] == want[r]) slot = i;
        if (want[r] >= 0 && slot < 0) {   /* take a slot no row of this output row needs */
            for (int64_t i = 0; i < R && slot < 0; i++) {
                int needed = 0;
                for (int64_t q = 0; q < R; q++) needed |= sc->key[i] >= 0 && sc->key[i] == want[q];
                if (!needed) slot = i;
            }
            const int64_t ih = want[r] - n * d->h;
            FN(dw_expand_row)(d, sc, x + n * d->xs[0] + ih * d->xs[1], sc->planes + slot * plane_values);
            sc->key[slot] = want[r];
        }
        for (int64_t c = 0; c < cg; c++)
            sc->rows[r * cg + c] = slot < 0 ? NULL : sc->planes + slot * plane_values + c * row_values;
    }
}

/* Per-thread buffers (see dw_scratch_t), carved from one block.  Returns the
 * block to free, NULL when out of memory. */
static void *FN(dw_scratch)(const fc_conv_desc *d, int pass, FN(dw_scratch_t) *sc) {
    memset(sc, 0, sizeof *sc);   /* defined pointers even when out of memory */
    const int64_t nrows = d->r * d->cg, K = d->k;
    const int64_t planes =
        pass != FC_PASS_DX && FN(dw_expands)(d) ? nrows * d->w * FN(dw_plane_ps)(d) : 0;
    const int64_t line = pass == FC_PASS_FORWARD ? (d->ys[3] != 1 ? d->wo * K : 0)
                         : pass == FC_PASS_DX   ? (FN(dw_wide_dx)(d) ? d->w * K : 0)
                                                : (d->ys[3] != 1 ? d->wo * K : 0);
    const int64_t dy_rows = pass == FC_PASS_DX && d->ys[3] != 1 ? d->r * d->wo * K : 0;
    const int64_t nidx = planes ? d->cg * K : 0;
    const int64_t head = FC_CEIL_DIV(nrows * (int64_t)sizeof(T *) + d->r * (int64_t)sizeof(int64_t) +
                                     nidx * (int64_t)sizeof(int32_t), 64) * 64;
    const int64_t values = planes + line + dy_rows;   /* each below the checked size of a tensor */
    char *block = (char *)fc_alloc(head / (int64_t)sizeof(T) + values, sizeof(T));
    if (!block) return NULL;
    sc->rows = (const T **)block;
    sc->key = (int64_t *)(block + nrows * (int64_t)sizeof(T *));
    for (int64_t i = 0; i < d->r; i++) sc->key[i] = -1;
    sc->idx = (int32_t *)(sc->key + d->r);
    for (int64_t c = 0; c < (planes ? d->cg : 0); c++)   /* plane c: channel (k / kg) * cg + c */
        for (int64_t k = 0; k < K; k++)
            sc->idx[c * K + k] = (int32_t)(((k / d->kg) * d->cg + c) * d->xs[3]);
    sc->planes = (T *)(block + head);
    sc->line = sc->planes + planes;
    sc->dy_rows = sc->line + line;
    return block;
}

/* The weights (R, S, cg, K) reordered for the row kernels: (R, cg, S, K) for
 * the forward pass (kernel row r * cg + c), (cg, R, S, K) for dx (one (R, S, K)
 * block per plane).  NULL when out of memory. */
static T *FN(dw_weights)(const fc_conv_desc *d, const T *w, int for_dx) {
    const int64_t R = d->r, S = d->s, cg = d->cg, K = d->k;
    T *out = (T *)fc_alloc(R * S * cg * K, sizeof(T));
    if (!out) return NULL;
    for (int64_t r = 0; r < R; r++)
        for (int64_t s = 0; s < S; s++)
            for (int64_t c = 0; c < cg; c++) {
                const int64_t to = for_dx ? (c * R + r) * S + s : (r * cg + c) * S + s;
                memcpy(out + to * K, w + ((r * S + s) * cg + c) * K, (size_t)K * sizeof(T));
            }
    return out;
}

/* A row of w pixels of K values, ps values apart (fc_prefetch_row). */
static void FN(prefetch_row)(const T *row, int64_t w, int64_t ps, int64_t K) {
    fc_prefetch_row(row, w, ps * (int64_t)sizeof(T), K * (int64_t)sizeof(T));
}

/* Whether to prefetch the rows ahead: x read from memory (fc_beyond_l2). */
static int FN(worth_prefetching)(const fc_conv_desc *d) {
    return fc_beyond_l2(d->n * d->h * d->w * d->c * (int64_t)sizeof(T));
}

/* Whether y is written with non-temporal stores: x and y together overflow
 * half of L3, so x's stream evicts y before the next layer reads it, and a
 * store's read of each line first is wasted.  Zen 3, 1 thread, batch 8,
 * 112x112x64 stride 2 (a standalone loop of the row kernel): 7.5 ms; with the
 * rows prefetched ahead 5.5-6; with these stores too 3.4-3.7. */
static int FN(output_leaves_cache)(const fc_conv_desc *d) {
    fc_cpu_caches caches;
    fc_cpu_caches_get(&caches);
    const int64_t bytes = (d->n * d->h * d->w * d->c + d->n * d->ho * d->wo * d->k) * (int64_t)sizeof(T);
    return caches.l3 > 0 && 2 * bytes >= caches.l3;
}

/* Prefetches the input rows that output row nh + 1 (over the batch) reads
 * and output row nh does not (dw reads R input rows per output row, one or
 * two of them new at stride 1 or 2). */
static void FN(prefetch_next_rows)(const fc_conv_desc *d, const T *x, int64_t nh) {
    const int64_t n = (nh + 1) / d->ho, oh = (nh + 1) % d->ho;
    if (n >= d->n) return;
    const int64_t span = (d->r - 1) * d->dil_h;
    const int64_t seen = oh == 0 ? -1 : (oh - 1) * d->stride_h - d->pad_top + span;
    for (int64_t r = 0; r < d->r; r++) {
        const int64_t ih = oh * d->stride_h - d->pad_top + r * d->dil_h;
        if (ih > seen && ih >= 0 && ih < d->h)
            FN(prefetch_row)(x + n * d->xs[0] + ih * d->xs[1], d->w, d->xs[2], d->c);
    }
}

/* dw: prefetches what output row nh + 1 reads if it is in this chunk (rows
 * before `end`): its new input rows (when the kernels read x in place) and
 * its dy row.  Callers ask worth_prefetching once per call. */
static void FN(prefetch_next)(const fc_conv_desc *d, const T *x, int x_in_place, const T *dy,
                              int64_t nh, int64_t end) {
    if (nh + 1 >= end) return;
    if (x_in_place) FN(prefetch_next_rows)(d, x, nh);
    const int64_t n = (nh + 1) / d->ho, oh = (nh + 1) % d->ho;
    if (d->ys[3] == 1) FN(prefetch_row)(dy + n * d->ys[0] + oh * d->ys[1], d->wo, d->ys[2], d->k);
}

/* Channels-first (NCHW) depthwise forward: each output channel is a 2-D
 * correlation of one input plane, computed from the plane copied into
 * zero-padded lines with output pixels on the vector lanes (kernels'
 * dw_plane_row), instead of gathering channels for the kernels above.  Each
 * output sums its taps in (r, s) order on one thread.
 * At row stride 1 the padded plane is one flat array (rows len = the padded
 * width apart, padding rows included) and the whole plane is one call: output
 * (ho, wo) at flat ho * len + wo reads tap (a, b) at that + a * dil_h * len +
 * b * dil_w, so a narrow plane's rows fill whole vectors together (14x14x512,
 * 1 thread: 0.16 ms a row at a time, against 0.08 for the channels-last
 * kernels); the len - wo padding columns are computed and dropped as the rows
 * are copied out.  Otherwise one call per output row.
 * Strides of length-1 axes are not asked about (see nchw_applies). */
static int FN(depthwise_planes_applies)(const fc_conv_desc *d) {
    /* column stride 1: at stride 2 the gathers of the channels-last kernels
     * win (MobileNet's 112x112x64 dw: 0.55 vs 0.87 ms) */
    return d->cg == 1 && d->c > 1 && d->stride_w == 1 && d->r <= FC_DW_MAX_TAPS_R &&
           d->xs[3] != 1 && (d->w == 1 || d->xs[2] == 1) && (d->wo == 1 || d->ys[2] == 1);
}

/* One plane's output rows: the whole flat plane in one call into out_flat,
 * then its rows copied out (flat), or a row at a time from the plane's lines. */
static void FN(depthwise_plane)(const fc_conv_desc *d, const T *buf, int64_t len, int flat,
                                const T *zero, const T *taps, T bias, T *out_flat, T *y) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const T *lines[FC_DW_MAX_TAPS_R];
    if (flat) {
        for (int64_t a = 0; a < d->r; a++) lines[a] = buf + a * d->dil_h * len;
        kern->dw_plane_row(lines, taps, d->r, d->s, d->dil_w, 1, (d->ho - 1) * len + d->wo, bias,
                           out_flat);
        for (int64_t ho = 0; ho < d->ho; ho++)
            memcpy(y + ho * d->ys[1], out_flat + ho * len, (size_t)d->wo * sizeof(T));
        return;
    }
    for (int64_t ho = 0; ho < d->ho; ho++) {
        for (int64_t a = 0; a < d->r; a++) {
            const int64_t h = ho * d->stride_h - d->pad_top + a * d->dil_h;
            lines[a] = h < 0 || h >= d->h ? zero : buf + h * len;
        }
        kern->dw_plane_row(lines, taps, d->r, d->s, d->dil_w, d->stride_w, d->wo, bias,
                           y + ho * d->ys[1]);
    }
}

static int FN(depthwise_planes_forward)(const fc_conv_desc *d, const T *x, const T *w,
                                        const T *bias, int act, T act_alpha, T *y, int nthreads) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const int64_t K = d->k, kg = d->kg, R = d->r, S = d->s, planes = d->n * K;
    /* a padded input line holds every column the row's windows read (and, a
     * line at a time, a vector more: dw_plane_row computes the last vector
     * whole); flat, the padding rows are lines too and one vector follows
     * the last line */
    const int64_t span = (d->wo - 1) * d->stride_w + (S - 1) * d->dil_w + 1;
    const int flat = d->stride_h == 1 && d->ho > 0;
    const int64_t len = flat ? FC_MAX(span, d->pad_left + d->w)
                             : FC_MAX(span, d->pad_left + d->w) + kern->lanes;
    const int64_t top = flat ? d->pad_top : 0;   /* the padding rows above the plane's first */
    const int64_t lines = flat ? FC_MAX(d->ho + (R - 1) * d->dil_h, top + d->h) : d->h + 1;
    const int64_t plane_len = lines * len + kern->lanes, out_len = flat ? d->ho * len : 0;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && planes > 1)
    {
        /* the padded plane (and a line of zeros, a line at a time), the flat
         * outputs, the taps */
        T *buf = (T *)fc_alloc(plane_len + out_len + R * S, sizeof(T));
        if (!buf) {
#pragma omp atomic write
            status = FC_ENOMEM;
        } else {
            memset(buf, 0, (size_t)plane_len * sizeof(T));
        }
        T *zero = buf + d->h * len, *out_flat = buf + plane_len, *taps = out_flat + out_len;
#pragma omp for schedule(static)
        for (int64_t item = 0; item < planes; item++) {
            if (!buf) continue;
            const int64_t n = item / K, k = item % K;
            const T *plane = x + n * d->xs[0] + (k / kg) * d->xs[3];
            for (int64_t h = 0; h < d->h; h++)   /* its padding stays 0 */
                memcpy(buf + (top + h) * len + d->pad_left, plane + h * d->xs[1],
                       (size_t)d->w * sizeof(T));
            for (int64_t t = 0; t < R * S; t++) taps[t] = w[t * K + k];
            T *out = y + n * d->ys[0] + k * d->ys[3];
            FN(depthwise_plane)(d, buf, len, flat, zero, taps, bias ? bias[k] : 0, out_flat, out);
            if (act != FC_ACT_NONE)
                for (int64_t ho = 0; ho < d->ho; ho++)
                    kern->bias_act(out + ho * d->ys[1], 0, out + ho * d->ys[1], 0, 1, d->wo, NULL,
                                   act, act_alpha);
        }
        fc_free(buf);
    }
    return status;
}

/* dx of a channels-first depthwise layer at stride 1 (channel multiplier 1):
 * the depthwise forward of dy's planes with the flipped kernel and the
 * complementary padding, on the planes as above, instead of NHWC copies of
 * dy and dx (the copies and their transposes cost the layer 1.3-1.5x at
 * batch 1, 56x56x128). */
static fc_conv_desc FN(planes_dx_desc)(const fc_conv_desc *d) {
    fc_conv_desc f = *d;   /* dx = conv(dy, flipped w): dy's planes in, dx's out */
    f.h = d->ho; f.w = d->wo; f.ho = d->h; f.wo = d->w;
    f.pad_top = (d->r - 1) * d->dil_h - d->pad_top;   /* negative: padding past the kernel */
    f.pad_bottom = (d->r - 1) * d->dil_h - d->pad_bottom;
    f.pad_left = (d->s - 1) * d->dil_w - d->pad_left;
    f.pad_right = (d->s - 1) * d->dil_w - d->pad_right;
    memcpy(f.xs, d->ys, sizeof f.xs);
    memcpy(f.ys, d->dxs, sizeof f.ys);
    f.accumulate = 0;
    return f;
}

static int FN(depthwise_planes_dx_applies)(const fc_conv_desc *d) {
    const fc_conv_desc f = FN(planes_dx_desc)(d);
    return d->kg == 1 && d->stride_h == 1 && f.pad_top >= 0 && f.pad_bottom >= 0 &&
           f.pad_left >= 0 && f.pad_right >= 0 && FN(depthwise_planes_applies)(&f);
}

static int FN(depthwise_planes_dx)(const fc_conv_desc *d, const T *dy, const T *w, T *dx,
                                   int nthreads) {
    const fc_conv_desc f = FN(planes_dx_desc)(d);
    T *wf = FN(flipped_kernel)(d, w);
    if (!wf) return FC_ENOMEM;
    const int status = FN(depthwise_planes_forward)(&f, dy, wf, NULL, FC_ACT_NONE, 0, dx, nthreads);
    fc_free(wf);
    return status;
}

static int FN(depthwise_forward)(const fc_conv_desc *d, const T *x, const T *w, const T *bias,
                                 int act, T act_alpha, T *y, int nthreads) {
    if (FN(depthwise_planes_applies)(d))
        return FN(depthwise_planes_forward)(d, x, w, bias, act, act_alpha, y, nthreads);
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    fc_dw_row g = FN(dw_row_of)(d, FC_PASS_FORWARD);
    if (!FN(dw_expands)(d) && FN(worth_prefetching)(d)) {   /* the rows an output row adds */
        g.pf_hi = d->r;
        g.pf_lo = d->r - FC_MIN(d->r, FC_CEIL_DIV(d->stride_h, d->dil_h));
    }
    g.relu = act == FC_ACT_RELU && d->ys[3] == 1;
    g.nt = d->ys[3] == 1 && FN(output_leaves_cache)(d);
    T *wt = d->cg > 1 ? FN(dw_weights)(d, w, 0) : NULL;
    if (d->cg > 1 && !wt) return FC_ENOMEM;
    const T *wk = wt ? wt : w;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && d->n * d->ho > 1)
    {
        FN(dw_scratch_t) sc;
        void *scratch = FN(dw_scratch)(d, FC_PASS_FORWARD, &sc);
        if (!scratch) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t nh = 0; nh < d->n * d->ho; nh++) {
            if (!scratch) continue;
            const int64_t n = nh / d->ho, oh = nh % d->ho;
            FN(dw_input_rows)(d, x, n, oh, &sc);
            T *out = y + n * d->ys[0] + oh * d->ys[1];
            kern->dw_fwd(&g, sc.rows, wk, bias, d->ys[3] == 1 ? out : sc.line);
            if (d->ys[3] != 1) {   /* store the contiguous row at y's channel stride */
                kern->bias_act(sc.line, 0, sc.line, 0, 1, d->wo * d->k, NULL, act, act_alpha);
                for (int64_t wo = 0; wo < d->wo; wo++)
                    for (int64_t k = 0; k < d->k; k++)
                        out[wo * d->ys[2] + k * d->ys[3]] = sc.line[wo * d->k + k];
            } else if (act != FC_ACT_NONE && !g.relu) {
                kern->bias_act(out, d->ys[2], out, d->ys[2], d->wo, d->k, NULL, act, act_alpha);
            }
        }
        fc_free(scratch);
    }
    fc_free(wt);
    return status;
}

/* dx row (n, ih) gathers dy's rows through each kernel row r: output row
 * oh = (ih + pad_top - r * dil_h) / stride_h where that divides exactly. */
static int FN(depthwise_dx)(const fc_conv_desc *d, const T *dy, const T *w, T *dx, int nthreads) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    fc_dw_row g = FN(dw_row_of)(d, FC_PASS_DX);
    if (d->ys[3] == 1 && FN(worth_prefetching)(d))   /* kernel row 0 reads the dy row a dx row adds */
        g.pf_hi = 1;
    g.nt = !FN(dw_wide_dx)(d) && FN(output_leaves_cache)(d);
    const int64_t cg = d->cg, kg = d->kg, block = d->r * d->s * d->k;
    T *wt = cg > 1 ? FN(dw_weights)(d, w, 1) : NULL;
    if (cg > 1 && !wt) return FC_ENOMEM;
    const T *wk = wt ? wt : w;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && d->n * d->h > 1)
    {
        FN(dw_scratch_t) sc;
        void *scratch = FN(dw_scratch)(d, FC_PASS_DX, &sc);
        const T **rows = sc.rows;
        T *wide = sc.line;   /* the dx row with K channels (dw_wide_dx) */
        if (!scratch) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t nh = 0; nh < d->n * d->h; nh++) {
            if (!scratch) continue;
            const int64_t n = nh / d->h, ih = nh % d->h;
            for (int64_t r = 0; r < d->r; r++) {
                const int64_t t = ih + d->pad_top - r * d->dil_h;
                rows[r] = t >= 0 && t % d->stride_h == 0 && t / d->stride_h < d->ho
                              ? dy + n * d->ys[0] + (t / d->stride_h) * d->ys[1]
                              : NULL;
                if (rows[r] && d->ys[3] != 1) {   /* dy's channels gathered to unit stride */
                    T *buf = sc.dy_rows + r * d->wo * d->k;
                    FN(dw_gather_row)(rows[r], d->ys[2], d->ys[3], d->wo, d->k, buf);
                    rows[r] = buf;
                }
            }
            T *out = dx + n * d->dxs[0] + ih * d->dxs[1];
            if (!FN(dw_wide_dx)(d)) {
                kern->dw_dx(&g, rows, wk, out);
                continue;
            }
            for (int64_t c = 0; c < cg; c++) {   /* plane c: input channels g * cg + c */
                kern->dw_dx(&g, rows, wk + c * block, wide);
                for (int64_t iw = 0; iw < d->w; iw++)
                    for (int64_t grp = 0; grp < d->groups; grp++) {
                        T sum = 0;
                        for (int64_t j = 0; j < kg; j++) sum += wide[iw * d->k + grp * kg + j];
                        out[iw * d->dxs[2] + (grp * cg + c) * d->dxs[3]] = sum;
                    }
            }
        }
        fc_free(scratch);
    }
    fc_free(wt);
    return status;
}

/* Adds partial sums 1 .. chunks-1 (size values each, one after another) in
 * order into partial sum 0 (which has room for size values even when there
 * are no chunks: then it is cleared), in contiguous runs shared among the threads of
 * the enclosing parallel region: each value's sum is the same whatever the
 * thread count.  (Summing each value over the chunks in an inner loop read
 * them size apart, one scalar at a time: a third of a small-map dw.) */
#define FC_SUM_RUN 4096
static void FN(sum_chunks)(T *part, int64_t chunks, int64_t size) {
#pragma omp for schedule(static)
    for (int64_t i0 = 0; i0 < size; i0 += FC_SUM_RUN) {
        const int64_t i1 = FC_MIN(size, i0 + FC_SUM_RUN);
        if (chunks == 0) memset(part + i0, 0, (size_t)(i1 - i0) * sizeof(T));   /* no rows */
        for (int64_t ch = 1; ch < chunks; ch++) {
            const T *restrict src = part + ch * size;
            T *restrict dst = part;
            for (int64_t i = i0; i < i1; i++) dst[i] += src[i];
        }
    }
}

/* dw: chunk i of the output rows adds its rows' contributions into partial
 * sum i (one thread per chunk, in the kernels' (R, cg, S, K) order); the
 * chunks are then added in order into dw's (R, S, cg, K), so the result does
 * not depend on the thread count. */
static int FN(depthwise_dw)(const fc_conv_desc *d, const T *x, const T *dy, T *dw, int nthreads) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const fc_dw_row g = FN(dw_row_of)(d, FC_PASS_DW);
    const int64_t rows_total = d->n * d->ho, size = d->r * d->s * d->cg * d->k;
    const int64_t per_chunk = FC_MAX(1, FC_CEIL_DIV(rows_total, FC_DW_CHUNKS));
    const int64_t chunks = FC_CEIL_DIV(rows_total, per_chunk);
    const int64_t S = d->s, cg = d->cg, K = d->k;
    const int prefetch = FN(worth_prefetching)(d);
    T *part = (T *)fc_alloc(FC_MAX(chunks, 1) * size, sizeof(T));
    if (!part) return FC_ENOMEM;
    int status = FC_OK;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && chunks > 1)
    {
        FN(dw_scratch_t) sc;
        void *scratch = FN(dw_scratch)(d, FC_PASS_DW, &sc);
        if (!scratch) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int64_t ch = 0; ch < chunks; ch++) {
            if (!scratch) continue;
            T *acc = part + ch * size;
            memset(acc, 0, (size_t)size * sizeof(T));
            for (int64_t nh = ch * per_chunk; nh < FC_MIN(rows_total, (ch + 1) * per_chunk); nh++) {
                const int64_t n = nh / d->ho, oh = nh % d->ho;
                FN(dw_input_rows)(d, x, n, oh, &sc);
                const T *dyrow = dy + n * d->ys[0] + oh * d->ys[1];
                if (prefetch)
                    FN(prefetch_next)(d, x, !FN(dw_expands)(d), dy, nh,
                                      FC_MIN(rows_total, (ch + 1) * per_chunk));
                if (d->ys[3] == 1) {
                    kern->dw_wgrad(&g, sc.rows, dyrow, d->ys[2], acc);
                } else {   /* dy's channels gathered to unit stride */
                    FN(dw_gather_row)(dyrow, d->ys[2], d->ys[3], d->wo, d->k, sc.line);
                    kern->dw_wgrad(&g, sc.rows, sc.line, d->k, acc);
                }
            }
        }
        fc_free(scratch);
        FN(sum_chunks)(part, chunks, size);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < size / K; i++) {   /* i = (r, s, c) of dw */
            const int64_t r = i / (S * cg), s = (i / cg) % S, c = i % cg;
            memcpy(dw + i * K, part + ((r * cg + c) * S + s) * K, (size_t)K * sizeof(T));
        }
    }
    fc_free(part);
    return status;
}
