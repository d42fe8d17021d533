/* Depthwise-convolution row kernels for one ISA and dtype (included by
 * conv_simd.tmpl.h, with its vector bindings): the vector lanes run over
 * channels, which are contiguous in NHWC, so every tap is one vector load of
 * the input and one of the weights (w is (R, S, K) contiguous).  Each call
 * covers one row of the output (forward, dx) or adds one output row's
 * contribution to the weight gradient; the driver (conv_depthwise.tmpl.h)
 * finds the rows, NULL for rows in the padding.  Channels are done in blocks
 * of four vectors, then single vectors, then one at a time.
 *
 * Along the row, input pixel iw = wo * stride - pad + s * dil meets output
 * pixel wo through tap s (fc_dw_row in internal.h). */
#if !defined(FC_T) || !defined(FC_VL) || !defined(FC_DIRECT_FN)
#error "depthwise_simd.tmpl.h: include it through conv_simd.tmpl.h"
#endif

/* The pixel-block kernels below run once per block of a row: called, they
 * spilled their accumulators to the stack around each call (MobileNet's
 * 8x56x56x128 forward 1.54x faster inlined with 8-pixel blocks). */
#define FC_DW_BLOCK static inline __attribute__((always_inline))

/* Stores an output vector (forward, dx): ReLU'd when the driver fused it
 * (g->relu), non-temporal when nt (asked for by g->nt, every vector on whole
 * cache lines: dw_streams). */
static inline __attribute__((always_inline)) void FC_DIRECT_FN(dw_put, _)(
        const fc_dw_row *g, int nt, FC_T *p, FC_VEC v) {
    if (g->relu) v = FC_VMAX(FC_ZERO(), v);
    if (nt)
        FC_STREAM(p, v);
    else
        FC_STORE(p, v);
}

/* Forward: out[k..] for output pixel wo, channels [k, k + NB * FC_VL). */
#define FC_DEFINE_DW_FWD(NB)                                                                  \
    static inline void FC_DIRECT_FN(dwf, NB)(const fc_dw_row *g, const FC_T *const *rows,     \
                                             const FC_T *w, const FC_T *bias, FC_T *out,      \
                                             int64_t wo, int64_t k) {                         \
        FC_VEC acc[NB];                                                                       \
        for (int v = 0; v < NB; v++) acc[v] = bias ? FC_LOAD(bias + k + v * FC_VL) : FC_ZERO(); \
        const int64_t iw0 = wo * g->stride - g->pad;                                          \
        for (int64_t r = 0; r < g->r; r++) {                                                  \
            if (!rows[r]) continue;                                                           \
            for (int64_t s = 0; s < g->s; s++) {                                              \
                const int64_t iw = iw0 + s * g->dil;                                          \
                if (iw < 0 || iw >= g->in_w) continue;                                        \
                const FC_T *xp = rows[r] + iw * g->in_ps + k, *wp = w + (r * g->s + s) * g->k + k; \
                for (int v = 0; v < NB; v++)                                                  \
                    acc[v] = FC_FMA(FC_LOAD(xp + v * FC_VL), FC_LOAD(wp + v * FC_VL), acc[v]); \
            }                                                                                 \
        }                                                                                     \
        for (int v = 0; v < NB; v++)                                                          \
            FC_DIRECT_FN(dw_put, _)(g, 0, out + wo * g->out_ps + k + v * FC_VL, acc[v]);      \
    }
FC_DEFINE_DW_FWD(4)
FC_DEFINE_DW_FWD(1)

/* The output pixels [lo, hi) whose taps all lie inside the row (hi >= lo). */
static inline void FC_DIRECT_FN(dw_interior, _)(const fc_dw_row *g, int64_t *lo, int64_t *hi) {
    const int64_t span = g->in_w - 1 + g->pad - (g->s - 1) * g->dil;
    *lo = FC_CEIL_DIV(g->pad, g->stride);
    *hi = span < 0 ? *lo : FC_MAX(*lo, FC_MIN(g->out_w, span / g->stride + 1));
}

/* Forward, px output pixels whose taps all lie inside the row (px: FC_DW_PX
 * or 4, a constant at each call), one vector of channels: each weight vector
 * loaded once serves px pixels (1.25 loads per FMA instead of 2 at 4 pixels).
 * FC_DW_PX is 8 where the ISA has registers for them (FC_NACC, the
 * accumulators a kernel may hold); the rest of a row's interior then runs in
 * blocks of 4 (14-pixel rows: 12 interior pixels were a block of 8 and 4 one
 * by one). */
#define FC_DW_PX (FC_NACC >= 24 ? 8 : 4)
FC_DW_BLOCK void FC_DIRECT_FN(dwf_px, _)(const fc_dw_row *g, const FC_T *const *rows,
                                         const FC_T *w, const FC_T *bias, FC_T *out,
                                         int64_t wo, int64_t k, int nt, int px) {
    FC_VEC acc[FC_DW_PX];
    const FC_VEC b = bias ? FC_LOAD(bias + k) : FC_ZERO();
    for (int p = 0; p < px; p++) acc[p] = b;
    const int64_t step = g->stride * g->in_ps;
    for (int64_t r = 0; r < g->r; r++) {
        if (!rows[r]) continue;
        const FC_T *x0 = rows[r] + (wo * g->stride - g->pad) * g->in_ps + k;
        const FC_T *wr = w + r * g->s * g->k + k;
        for (int64_t s = 0; s < g->s; s++) {
            const FC_VEC wv = FC_LOAD(wr + s * g->k);
            const FC_T *xs = x0 + s * g->dil * g->in_ps;
            for (int p = 0; p < px; p++) acc[p] = FC_FMA(FC_LOAD(xs + p * step), wv, acc[p]);
        }
    }
    for (int p = 0; p < px; p++) FC_DIRECT_FN(dw_put, _)(g, nt, out + (wo + p) * g->out_ps + k, acc[p]);
}

/* The same for the common 3-tap rows at stride 1, no dilation: the
 * FC_DW_PX + 2 input vectors a block reads are loaded once and each serves up
 * to three taps (0.75 loads per FMA instead of 1.25). */
FC_DW_BLOCK void FC_DIRECT_FN(dwf_px3, _)(const fc_dw_row *g, const FC_T *const *rows,
                                          const FC_T *w, const FC_T *bias, FC_T *out,
                                          int64_t wo, int64_t k, int nt, int px) {
    FC_VEC acc[FC_DW_PX];
    const FC_VEC b = bias ? FC_LOAD(bias + k) : FC_ZERO();
    for (int p = 0; p < px; p++) acc[p] = b;
    for (int64_t r = 0; r < g->r; r++) {
        if (!rows[r]) continue;
        const FC_T *x0 = rows[r] + (wo - g->pad) * g->in_ps + k, *wr = w + r * 3 * g->k + k;
        FC_VEC xv[FC_DW_PX + 2];
        for (int j = 0; j < px + 2; j++) xv[j] = FC_LOAD(x0 + j * g->in_ps);
        for (int s = 0; s < 3; s++) {
            const FC_VEC wv = FC_LOAD(wr + s * g->k);
            for (int p = 0; p < px; p++) acc[p] = FC_FMA(xv[p + s], wv, acc[p]);
        }
    }
    for (int p = 0; p < px; p++) FC_DIRECT_FN(dw_put, _)(g, nt, out + (wo + p) * g->out_ps + k, acc[p]);
}

/* Output pixel wo, channels from k on (any taps outside the row skipped). */
static void FC_DIRECT_FN(dwf_pixel, _)(const fc_dw_row *g, const FC_T *const *rows, const FC_T *w,
                                       const FC_T *bias, FC_T *out, int64_t wo, int64_t k) {
    for (; k + 4 * FC_VL <= g->k; k += 4 * FC_VL) FC_DIRECT_FN(dwf, 4)(g, rows, w, bias, out, wo, k);
    for (; k + FC_VL <= g->k; k += FC_VL) FC_DIRECT_FN(dwf, 1)(g, rows, w, bias, out, wo, k);
    for (; k < g->k; k++) {   /* the channels past the last whole vector */
        FC_T acc = bias ? bias[k] : 0;
        for (int64_t r = 0; r < g->r; r++) {
            if (!rows[r]) continue;
            for (int64_t s = 0; s < g->s; s++) {
                const int64_t iw = wo * g->stride - g->pad + s * g->dil;
                if (iw >= 0 && iw < g->in_w)
                    acc += rows[r][iw * g->in_ps + k] * w[(r * g->s + s) * g->k + k];
            }
        }
        out[wo * g->out_ps + k] = g->relu && acc < 0 ? 0 : acc;   /* NaN kept, as FC_VMAX */
    }
}

/* Interior block wo .. wo + px - 1, channel vector k (px a constant at each
 * call, so the accumulators stay in registers). */
FC_DW_BLOCK void FC_DIRECT_FN(dwf_block, _)(const fc_dw_row *g, const FC_T *const *rows,
                                            const FC_T *w, const FC_T *bias, FC_T *out,
                                            int64_t wo, int64_t k, int slide3, int nt, int px) {
    if (slide3)
        FC_DIRECT_FN(dwf_px3, _)(g, rows, w, bias, out, wo, k, nt, px);
    else
        FC_DIRECT_FN(dwf_px, _)(g, rows, w, bias, out, wo, k, nt, px);
}

/* Asks for the input pixels that the block at output pixel wo reads from the
 * rows [g->pf_lo, g->pf_hi) (those not yet in cache), at channel k's cache line. */
static inline void FC_DIRECT_FN(dw_prefetch, _)(const fc_dw_row *g, const FC_T *const *rows,
                                                int64_t wo, int64_t k) {
    const int64_t iw0 = FC_MAX(0, wo * g->stride - g->pad);
    const int64_t iw1 = FC_MIN(g->in_w, (wo + FC_DW_PX) * g->stride - g->pad + (g->s - 1) * g->dil);
    for (int64_t r = g->pf_lo; r < g->pf_hi; r++)
        for (int64_t iw = iw0; rows[r] && iw < iw1; iw++) fc_prefetch(rows[r] + iw * g->in_ps + k);
}

/* The lines of a pixel: dw_prefetch for the channel vector at k where it
 * starts one. */
static inline void FC_DIRECT_FN(dw_prefetch_line, _)(const fc_dw_row *g, const FC_T *const *rows,
                                                     int64_t wo, int64_t k) {
    if (k % (64 / (int64_t)sizeof(FC_T)) == 0) FC_DIRECT_FN(dw_prefetch, _)(g, rows, wo, k);
}

#ifndef FC_DW_CHUNK_VECS
#define FC_DW_CHUNK_VECS 8
#endif
/* How far ahead of the block being computed the rows from memory are asked
 * for: the output pixels whose input spans this many bytes of a row (Zen 3,
 * batch 8, MobileNet's 112x112x64 at stride 2: 3.8 ms a block (2 KiB) ahead,
 * 5.3-6.0 three blocks ahead; a standalone loop of the kernel ran best 1.5 KiB
 * ahead, worse from 3 on). */
#define FC_DW_PF_BYTES 2048

/* Interior pixels wo .. wo + px - 1 (px a constant at each call): their
 * channels in whole vectors, unless a channel-chunk pass did them already
 * (done), each vector's line of the pixel pf_px ahead fetched where pf; then
 * the channels past the last whole vector, pixel by pixel. */
FC_DW_BLOCK void FC_DIRECT_FN(dwf_pixels, _)(const fc_dw_row *g, const FC_T *const *rows,
                                             const FC_T *w, const FC_T *bias, FC_T *out,
                                             int64_t wo, int slide3, int nt, int px, int done,
                                             int pf, int64_t pf_px) {
    const int64_t kv = g->k / FC_VL * FC_VL;
    for (int64_t k = 0; !done && k < kv; k += FC_VL) {
        if (pf) FC_DIRECT_FN(dw_prefetch_line, _)(g, rows, wo + pf_px, k);
        FC_DIRECT_FN(dwf_block, _)(g, rows, w, bias, out, wo, k, slide3, nt, px);
    }
    for (int64_t p = 0; p < px && kv < g->k; p++)
        FC_DIRECT_FN(dwf_pixel, _)(g, rows, w, bias, out, wo + p, kv);
}

/* How far ahead (output pixels, each step input pixels on) FC_DW_PF_BYTES of the row lie. */
static inline int64_t FC_DIRECT_FN(dw_prefetch_px, _)(const fc_dw_row *g, int64_t step) {
    return FC_CEIL_DIV(FC_DW_PF_BYTES, step * g->in_ps * (int64_t)sizeof(FC_T));
}

/* Whether a row's vectors are stored non-temporally: asked for, and every
 * vector on whole cache lines (out and its pixel stride 64-byte aligned; the
 * outputs fastconv allocates are).  Lines left partly written by streaming
 * stores are flushed in pieces: Zen 4, AVX-512, batch 8, 112x112x32 written
 * 16 bytes off a line in 16-byte pieces took 5.1 ms, with plain stores 1.9. */
static inline int FC_DIRECT_FN(dw_streams, _)(const fc_dw_row *g, const FC_T *out) {
    return g->nt && (uintptr_t)out % 64 == 0 && g->out_ps * sizeof(FC_T) % 64 == 0;
}
/* One output row.  Where a block's pixels (FC_DW_PX + 2 of them x R rows, all
 * channels) overflow L1, the interior blocks run a chunk of FC_DW_CHUNK_VECS
 * channel vectors at a time along the whole row, so that the next block still
 * finds the pixels it shares in L1.  Zen 3 (AVX2, 32 KiB L1d), 1 thread,
 * batch 8: 14x14x512 (36 KiB a block) 0.90 -> 0.54 ms, stride 2 0.46 ->
 * 0.23, 7x7x1024 0.88 -> 0.62; 28x28x256 (18 KiB) chunked lost 10-15 % at
 * batch 1, so it is not. */
static void FC_DIRECT_FN(dw_fwd, _)(const fc_dw_row *g, const FC_T *const *rows, const FC_T *w,
                                    const FC_T *bias, FC_T *out) {
    const int slide3 = g->s == 3 && g->stride == 1 && g->dil == 1;
    int64_t lo, hi;   /* the output pixels whose taps all lie inside the row */
    FC_DIRECT_FN(dw_interior, _)(g, &lo, &hi);
    const int64_t kv = g->k / FC_VL * FC_VL;   /* channels in whole vectors */
    /* blocked: [lo, bhi) in blocks of FC_DW_PX, then [bhi, bhi4) in blocks of 4
     * (unchunked, not fetching ahead: a row's last pixels).  Zen 4, AVX-512, 1
     * thread, batch 8: 14x14x512 0.51 -> 0.41 ms (A/B of builds, 3 runs);
     * 7x7x1024 0.41 -> 0.45-0.49, as in an A/B of a commit against itself
     * (0.43 -> 0.48: bench/ab_builds.py's two builds differ by that much). */
    const int64_t bhi = kv > 0 ? lo + (hi - lo) / FC_DW_PX * FC_DW_PX : lo;
    const int64_t bhi4 = kv > 0 ? bhi + (hi - bhi) / 4 * 4 : bhi;
    const int64_t block_bytes = (FC_DW_PX + 2) * g->r * g->k * (int64_t)sizeof(FC_T);
    const int chunked = block_bytes > g->l1 && kv > FC_DW_CHUNK_VECS * FC_VL;
    const int nt = FC_DIRECT_FN(dw_streams, _)(g, out), pf = g->pf_hi > g->pf_lo;
    const int64_t pf_px = FC_DIRECT_FN(dw_prefetch_px, _)(g, g->stride);
    for (int64_t k0 = 0; chunked && k0 < kv; k0 += FC_DW_CHUNK_VECS * FC_VL) {
        const int64_t k1 = FC_MIN(kv, k0 + FC_DW_CHUNK_VECS * FC_VL);
        for (int64_t wo = lo; wo < bhi; wo += FC_DW_PX) {
            for (int64_t k = 0; pf && k0 == 0 && k < g->k; k += 64 / (int64_t)sizeof(FC_T))
                FC_DIRECT_FN(dw_prefetch, _)(g, rows, wo + pf_px, k);   /* every channel, once */
            for (int64_t k = k0; k < k1; k += FC_VL)
                FC_DIRECT_FN(dwf_block, _)(g, rows, w, bias, out, wo, k, slide3, nt, FC_DW_PX);
        }
    }
    for (int64_t wo = 0; wo < g->out_w; wo++) {
        if (wo >= bhi && wo < bhi4) {
            FC_DIRECT_FN(dwf_pixels, _)(g, rows, w, bias, out, wo, slide3, nt, 4, 0, 0, 0);
            wo += 3;
            continue;
        }
        if (wo < lo || wo >= bhi) {
            FC_DIRECT_FN(dwf_pixel, _)(g, rows, w, bias, out, wo, 0);
            continue;
        }
        FC_DIRECT_FN(dwf_pixels, _)(g, rows, w, bias, out, wo, slide3, nt, FC_DW_PX, chunked, pf,
                                    pf_px);
        wo += FC_DW_PX - 1;
    }
    if (nt) FC_STREAM_FENCE();   /* before other threads read the row */
}

/* dx, gathered: out is a row of dx (out_w = W pixels), rows are dy's rows
 * (in_w = Wo pixels); output pixel iw takes dy[wo] * w[r, s] for every tap
 * with iw + pad - s * dil = wo * stride. */
#define FC_DEFINE_DW_DX(NB)                                                                   \
    static inline void FC_DIRECT_FN(dwx, NB)(const fc_dw_row *g, const FC_T *const *rows,     \
                                             const FC_T *w, FC_T *out, int64_t iw, int64_t k) { \
        FC_VEC acc[NB];                                                                       \
        for (int v = 0; v < NB; v++) acc[v] = FC_ZERO();                                      \
        for (int64_t s = 0; s < g->s; s++) {                                                  \
            const int64_t t = iw + g->pad - s * g->dil;                                       \
            if (t < 0 || t % g->stride) continue;                                             \
            const int64_t wo = t / g->stride;                                                 \
            if (wo >= g->in_w) continue;                                                      \
            for (int64_t r = 0; r < g->r; r++) {                                              \
                if (!rows[r]) continue;                                                       \
                const FC_T *dp = rows[r] + wo * g->in_ps + k, *wp = w + (r * g->s + s) * g->k + k; \
                for (int v = 0; v < NB; v++)                                                  \
                    acc[v] = FC_FMA(FC_LOAD(dp + v * FC_VL), FC_LOAD(wp + v * FC_VL), acc[v]); \
            }                                                                                 \
        }                                                                                     \
        for (int v = 0; v < NB; v++) FC_STORE(out + iw * g->out_ps + k + v * FC_VL, acc[v]);  \
    }
FC_DEFINE_DW_DX(4)
FC_DEFINE_DW_DX(1)

/* dx at stride 1, FC_DW_PX pixels whose taps all meet dy's row, one vector
 * of channels: each weight vector loaded serves FC_DW_PX pixels. */
FC_DW_BLOCK void FC_DIRECT_FN(dwx_px, _)(const fc_dw_row *g, const FC_T *const *rows,
                                         const FC_T *w, FC_T *out, int64_t iw, int64_t k,
                                         int nt) {
    FC_VEC acc[FC_DW_PX];
    for (int p = 0; p < FC_DW_PX; p++) acc[p] = FC_ZERO();
    for (int64_t r = 0; r < g->r; r++) {
        if (!rows[r]) continue;
        for (int64_t s = 0; s < g->s; s++) {
            const FC_VEC wv = FC_LOAD(w + (r * g->s + s) * g->k + k);
            const FC_T *dp = rows[r] + (iw + g->pad - s * g->dil) * g->in_ps + k;
            for (int p = 0; p < FC_DW_PX; p++) acc[p] = FC_FMA(FC_LOAD(dp + p * g->in_ps), wv, acc[p]);
        }
    }
    for (int p = 0; p < FC_DW_PX; p++) FC_DIRECT_FN(dw_put, _)(g, nt, out + (iw + p) * g->out_ps + k, acc[p]);
}

static void FC_DIRECT_FN(dw_dx, _)(const fc_dw_row *g, const FC_T *const *rows, const FC_T *w,
                                   FC_T *out) {
    /* stride 1: [lo, hi) are the dx pixels whose every tap meets a dy pixel
     * (and that lie in the row: with padding past the kernel, in_w - pad is
     * past its end, and blocks there wrote beyond it) */
    const int64_t lo = (g->s - 1) * g->dil - g->pad, hi = FC_MIN(g->in_w - g->pad, g->out_w);
    const int64_t kv = g->k / FC_VL * FC_VL;
    const int nt = FC_DIRECT_FN(dw_streams, _)(g, out), pf = g->pf_hi > g->pf_lo;
    /* dy's rows from memory, fetched ahead as in dw_fwd (dx pixels [iw, iw + PX)
     * read dy pixels [iw + pad - (S - 1) dil, iw + PX + pad), which are
     * dw_prefetch's pixels at iw where the padding is "same") */
    const int64_t pf_px = FC_DIRECT_FN(dw_prefetch_px, _)(g, 1);
    for (int64_t iw = 0; iw < g->out_w; iw++) {
        if (g->stride == 1 && iw >= lo && iw + FC_DW_PX <= hi && kv == g->k) {
            for (int64_t k = 0; k < kv; k += FC_VL) {
                if (pf) FC_DIRECT_FN(dw_prefetch_line, _)(g, rows, iw + pf_px, k);
                FC_DIRECT_FN(dwx_px, _)(g, rows, w, out, iw, k, nt);
            }
            iw += FC_DW_PX - 1;
            continue;
        }
        int64_t k = 0;
        for (; k + 4 * FC_VL <= g->k; k += 4 * FC_VL) FC_DIRECT_FN(dwx, 4)(g, rows, w, out, iw, k);
        for (; k + FC_VL <= g->k; k += FC_VL) FC_DIRECT_FN(dwx, 1)(g, rows, w, out, iw, k);
        for (; k < g->k; k++) {
            FC_T acc = 0;
            for (int64_t s = 0; s < g->s; s++) {
                const int64_t t = iw + g->pad - s * g->dil;
                if (t < 0 || t % g->stride || t / g->stride >= g->in_w) continue;
                for (int64_t r = 0; r < g->r; r++)
                    if (rows[r])
                        acc += rows[r][(t / g->stride) * g->in_ps + k] * w[(r * g->s + s) * g->k + k];
            }
            out[iw * g->out_ps + k] = acc;
        }
    }
    if (nt) FC_STREAM_FENCE();   /* before other threads read the row */
}

/* Weight gradient: acc[(r, s), k] += sum over output pixels wo of
 * rows[r][iw] * dy[wo], the sum over wo kept in registers per channel block. */
#define FC_DEFINE_DW_WGRAD(NB)                                                                \
    static inline void FC_DIRECT_FN(dwg, NB)(const fc_dw_row *g, const FC_T *row, int64_t s,  \
                                             const FC_T *dy, int64_t dy_ps, int64_t wo0,      \
                                             int64_t wo1, FC_T *acc_rs, int64_t k) {          \
        FC_VEC acc[NB];                                                                       \
        for (int v = 0; v < NB; v++) acc[v] = FC_LOAD(acc_rs + k + v * FC_VL);                \
        for (int64_t wo = wo0; wo < wo1; wo++) {                                              \
            const FC_T *xp = row + (wo * g->stride - g->pad + s * g->dil) * g->in_ps + k;     \
            const FC_T *dp = dy + wo * dy_ps + k;                                             \
            for (int v = 0; v < NB; v++)                                                      \
                acc[v] = FC_FMA(FC_LOAD(xp + v * FC_VL), FC_LOAD(dp + v * FC_VL), acc[v]);    \
        }                                                                                     \
        for (int v = 0; v < NB; v++) FC_STORE(acc_rs + k + v * FC_VL, acc[v]);                \
    }
FC_DEFINE_DW_WGRAD(4)
FC_DEFINE_DW_WGRAD(1)

/* Weight gradient over the interior pixels, one vector of channels, all S
 * taps of kernel row r at once: each dy vector loaded serves S taps. */
#define FC_DW_MAX_S 8
static inline void FC_DIRECT_FN(dwg_taps, _)(const fc_dw_row *g, const FC_T *row, const FC_T *dy,
                                             int64_t dy_ps, int64_t lo, int64_t hi,
                                             FC_T *acc_r, int64_t k) {
    FC_VEC acc[FC_DW_MAX_S];
    for (int64_t s = 0; s < g->s; s++) acc[s] = FC_LOAD(acc_r + s * g->k + k);
    const int64_t tap = g->dil * g->in_ps;
    for (int64_t wo = lo; wo < hi; wo++) {
        const FC_VEC dv = FC_LOAD(dy + wo * dy_ps + k);
        const FC_T *x0 = row + (wo * g->stride - g->pad) * g->in_ps + k;
        for (int64_t s = 0; s < g->s; s++) acc[s] = FC_FMA(FC_LOAD(x0 + s * tap), dv, acc[s]);
    }
    for (int64_t s = 0; s < g->s; s++) FC_STORE(acc_r + s * g->k + k, acc[s]);
}

static void FC_DIRECT_FN(dw_wgrad, _)(const fc_dw_row *g, const FC_T *const *rows,
                                      const FC_T *dy, int64_t dy_ps, FC_T *acc) {
    int64_t lo, hi;
    FC_DIRECT_FN(dw_interior, _)(g, &lo, &hi);
    const int64_t kv = g->s <= FC_DW_MAX_S ? g->k / FC_VL * FC_VL : 0;   /* by dwg_taps */
    for (int64_t r = 0; r < g->r; r++) {
        if (!rows[r]) continue;
        for (int64_t k = 0; k < kv; k += FC_VL)
            FC_DIRECT_FN(dwg_taps, _)(g, rows[r], dy, dy_ps, lo, hi, acc + r * g->s * g->k, k);
        for (int64_t s = 0; s < g->s; s++) {
            /* the output pixels whose input pixel through tap s lies in the row */
            const int64_t off = s * g->dil - g->pad;   /* iw = wo * stride + off */
            int64_t wo0 = off >= 0 ? 0 : (-off + g->stride - 1) / g->stride;
            int64_t wo1 = g->in_w - off <= 0 ? 0 : (g->in_w - off - 1) / g->stride + 1;
            if (wo1 > g->out_w) wo1 = g->out_w;
            FC_T *acc_rs = acc + (r * g->s + s) * g->k;
            /* channels in whole vectors: the pixels outside [lo, hi) (done above) */
            const int64_t ranges[2][2] = {{wo0, FC_MIN(wo1, lo)}, {FC_MAX(wo0, hi), wo1}};
            for (int q = 0; q < 2 && kv > 0; q++) {
                int64_t k = 0;
                for (; k + 4 * FC_VL <= kv; k += 4 * FC_VL)
                    FC_DIRECT_FN(dwg, 4)(g, rows[r], s, dy, dy_ps, ranges[q][0], ranges[q][1], acc_rs, k);
                for (; k < kv; k += FC_VL)
                    FC_DIRECT_FN(dwg, 1)(g, rows[r], s, dy, dy_ps, ranges[q][0], ranges[q][1], acc_rs, k);
            }
            /* the other channels over every pixel */
            int64_t k = kv;
            for (; k + FC_VL <= g->k; k += FC_VL)
                FC_DIRECT_FN(dwg, 1)(g, rows[r], s, dy, dy_ps, wo0, wo1, acc_rs, k);
            for (; k < g->k; k++)
                for (int64_t wo = wo0; wo < wo1; wo++)
                    acc_rs[k] += rows[r][(wo * g->stride + off) * g->in_ps + k] * dy[wo * dy_ps + k];
        }
    }
}

#undef FC_DEFINE_DW_FWD
#undef FC_DW_BLOCK
#undef FC_DW_PX
#undef FC_DW_MAX_S
#undef FC_DEFINE_DW_DX
#undef FC_DEFINE_DW_WGRAD

/* One output row of one channel plane (NCHW depthwise): out[i] = bias + the
 * sum over taps (r, s), in that order, of w[r * S + s] * lines[r][i * stride +
 * s * dil], for i < n.  The r lines are the input rows, padded with zeros
 * wherever the window reaches past the image, and readable for FC_VL values
 * past the last window (the last, partial vector is computed whole and only
 * its n % FC_VL values stored); output pixels on the lanes. */
/* NV vectors of outputs from i on, their taps in the same order; the first
 * VALID outputs stored (the last vector may be partial). */
#define FC_DW_PLANE_BLOCK(NV, VALID)                                                          \
    do {                                                                                      \
        FC_VEC acc_[NV];                                                                      \
        for (int v_ = 0; v_ < NV; v_++) acc_[v_] = FC_SET1(bias);                             \
        for (int64_t a = 0; a < r; a++)                                                       \
            for (int64_t b = 0; b < s; b++) {                                                 \
                const FC_VEC wv_ = FC_SET1(w[a * s + b]);                                     \
                const FC_T *p_ = lines[a] + i + b * dil;                                      \
                for (int v_ = 0; v_ < NV; v_++)                                               \
                    acc_[v_] = FC_FMA(wv_, FC_LOAD(p_ + v_ * FC_VL), acc_[v_]);               \
            }                                                                                 \
        for (int v_ = 0; v_ < NV; v_++) {                                                     \
            const int64_t left_ = (VALID) - v_ * FC_VL;                                       \
            if (left_ >= FC_VL) {                                                             \
                FC_STORE(out + i + v_ * FC_VL, acc_[v_]);                                     \
            } else {                                                                          \
                FC_T part_[FC_VL];                                                            \
                FC_STORE(part_, acc_[v_]);                                                    \
                for (int64_t j_ = 0; j_ < left_; j_++) out[i + v_ * FC_VL + j_] = part_[j_];  \
            }                                                                                 \
        }                                                                                     \
    } while (0)

static void FC_DIRECT_FN(dw_plane_row, _)(const FC_T *const *lines, const FC_T *w, int64_t r,
                                          int64_t s, int64_t dil, int64_t stride, int64_t n,
                                          FC_T bias, FC_T *out) {
    if (stride != 1) {
        for (int64_t i = 0; i < n; i++) {
            FC_T acc = bias;
            for (int64_t a = 0; a < r; a++)
                for (int64_t b = 0; b < s; b++) acc += w[a * s + b] * lines[a][i * stride + b * dil];
            out[i] = acc;
        }
        return;
    }
    /* four vectors at a time, then the rest of the row as one block: a
     * vector alone waits out the FMA latency at every tap (56x56x128 3x3, 1
     * thread: 0.98 ms, 7 GFLOP/s; a 56-pixel row as 2 + 1 + 1 vectors on
     * AVX-512: 0.32 ms against 0.13 for the channels-last kernels) */
    int64_t i = 0;
    for (; i + 4 * FC_VL <= n; i += 4 * FC_VL) FC_DW_PLANE_BLOCK(4, 4 * FC_VL);
    const int64_t rest = n - i;
    switch (FC_CEIL_DIV(rest, FC_VL)) {
    case 4: FC_DW_PLANE_BLOCK(4, rest); break;
    case 3: FC_DW_PLANE_BLOCK(3, rest); break;
    case 2: FC_DW_PLANE_BLOCK(2, rest); break;
    case 1: FC_DW_PLANE_BLOCK(1, rest); break;
    default: break;
    }
}
#undef FC_DW_PLANE_BLOCK
