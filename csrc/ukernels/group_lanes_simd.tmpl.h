/* Row kernels for grouped convolutions with G = C/groups = K/groups channels
 * per group, G a power of two from 2 to 64 ("lanes" variant of the depthwise
 * algorithm; driver: conv_group_lanes.tmpl.h), NHWC, read in place.
 *
 * Narrow groups (G < VL): a vector holds VL / G whole groups of channels:
 *
 *   forward  y[p, gG+q] = sum_{t, l} x[p_t, gG+l] * w[t, l, gG+q].  With lanes
 *            i = gG+l over the INPUT channels, acc_q[i] += x[p_t, i] * wl[t, q, i]
 *            (wl[t, q, gG+l] = w[t, l, gG+q]: one FMA per loaded x vector and q),
 *            and y[gG+q] = sum_l acc_q[gG+l]: G vectors summed across each
 *            group's lanes in log2(G) levels of two-source permutes and adds.
 *   dx       the same with dy for x and w itself for wl (q = c, l = j).
 *   dw       dw[t, c, gG+j] = sum_p x[p_t, gG+c] * dy[p, gG+j]: lanes over x's
 *            channels, dy's lane j broadcast within each group (once per
 *            pixel, into dyb), G accumulators per tap kept over a whole row;
 *            acc[t, j, gG+c] holds dw[t, c, gG+j] (the driver transposes).
 *
 * Wide groups (G a multiple of VL) run on broadcast kernels instead, as a
 * GEMM micro-kernel does: output channels on the lanes, each input channel
 * broadcast; forward and dx with w (R * S, G, K) holding at [t, l, gG+q] the
 * weight of in-channel gG+l for out-channel gG+q, dw summed in dw's order.
 *
 * Included by conv_simd.tmpl.h when the vector bindings define FC_PERMUTE2. */
#if !defined(FC_T) || !defined(FC_VL) || !defined(FC_DIRECT_FN) || !defined(FC_PERMUTE2)
#error "group_lanes_simd.tmpl.h: include it through conv_simd.tmpl.h with permutes defined"
#endif

/* Indices (in 32-bit units) of the permute taking lane e(l) of a when bit
 * `sel` of l is clear, of b when it is set (sel 0: always a). */
static void FC_DIRECT_FN(gl_index, _)(int64_t sel, int64_t h, int64_t bcast_g, int64_t j,
                                      int32_t *idx) {
    const int n32 = (int)(sizeof(FC_T) / 4);
    for (int l = 0; l < FC_VL; l++) {
        const int from_b = sel && (l & sel);
        const int e = bcast_g ? (int)((l & ~(bcast_g - 1)) + j) : (int)(h ? l ^ h : l);
        for (int u = 0; u < n32; u++) idx[l * n32 + u] = e * n32 + u + (from_b ? FC_IDX_UNITS : 0);
    }
}

/* The permutes of the in-group sum for G channels per group: level v (h =
 * G / 2^(v+1)) takes perm[2v] (own lane) and perm[2v + 1] (lane l ^ h);
 * 2 log2(G) of them. */
static void FC_DIRECT_FN(gl_sum_perms, _)(int64_t G, FC_IDX *perm) {
    int32_t idx[FC_IDX_UNITS];
    int v = 0;
    for (int64_t h = G / 2; h >= 1; h /= 2, v++) {
        FC_DIRECT_FN(gl_index, _)(h, 0, 0, 0, idx);
        perm[2 * v] = FC_LOAD_IDX(idx);
        FC_DIRECT_FN(gl_index, _)(h, h, 0, 0, idx);
        perm[2 * v + 1] = FC_LOAD_IDX(idx);
    }
}

/* PX output pixels, one vector of channels from k: pixel v's taps read
 * xp[t] + poff + v * step, with weights wt[t], summed in tap order, then
 * in-group; its output goes to out + v * ops.  w is blocked by channel
 * vector, (K / VL, R * S, G, VL), bstride = R * S * G * VL apart: with
 * (R * S, G, K) rows a multiple of 4 KiB apart, a block's taps fell into two
 * L1 sets.  A tap's G weight vectors are loaded once for the PX pixels, and
 * PX * GV independent sums hide the FMA latency (one pixel per call ran at
 * 35 GFLOP/s on Zen 5, four at 190 in a micro-benchmark). */
#define FC_DEFINE_GL_PIXEL(GV, PX)                                                           \
    static inline void FC_DIRECT_FN(glp##GV##x, PX)(const FC_T *const *xp, int64_t poff,      \
                                                    int64_t step, const int64_t *wt,          \
                                                    int64_t n, const FC_T *w, int64_t bstride, \
                                                    const FC_IDX *perm, const FC_T *bias,     \
                                                    FC_T *out, int64_t ops, int64_t k) {      \
        FC_VEC acc[PX][GV];                                                                   \
        for (int v = 0; v < PX; v++)                                                          \
            for (int q = 0; q < GV; q++) acc[v][q] = FC_ZERO();                               \
        const FC_T *wk = w + (k / FC_VL) * bstride;                                           \
        for (int64_t t = 0; t < n; t++) {                                                     \
            const FC_T *wp = wk + wt[t] * GV * FC_VL;                                         \
            FC_VEC wv[GV];                                                                    \
            for (int q = 0; q < GV; q++) wv[q] = FC_LOAD(wp + q * FC_VL);                     \
            for (int v = 0; v < PX; v++) {                                                    \
                const FC_T *xv_at = xp[t] + poff + v * step + k;                              \
                const FC_VEC xv = FC_LOAD(xv_at);                                             \
                if (PX > 1) __builtin_prefetch(xv_at + PX * step);   /* the next call's */    \
                for (int q = 0; q < GV; q++) acc[v][q] = FC_FMA(xv, wv[q], acc[v][q]);        \
            }                                                                                 \
        }                                                                                     \
        int lev = 0;                                                                          \
        for (int h = GV / 2; h >= 1; h /= 2, lev++)                                           \
            for (int v = 0; v < PX; v++)                                                      \
                for (int q = 0; q < h; q++)                                                   \
                    acc[v][q] = FC_ADD(FC_PERMUTE2(acc[v][q], acc[v][q + h], perm[2 * lev]),  \
                                       FC_PERMUTE2(acc[v][q], acc[v][q + h], perm[2 * lev + 1])); \
        for (int v = 0; v < PX; v++) {                                                        \
            if (bias) acc[v][0] = FC_ADD(acc[v][0], FC_LOAD(bias + k));                       \
            FC_STORE(out + v * ops + k, acc[v][0]);                                           \
        }                                                                                     \
    }

/* Weight gradient, one vector of channels from k, TB taps s0.. of kernel
 * row `row` at once, output pixels [wo0, wo1) (inside the row for all of
 * them): each pixel's GV broadcast dy vectors are loaded once for the TB
 * taps.  acc_r: the kernel row's sums, (S, GV, K). */
#define FC_DEFINE_GL_WGRAD(GV, TB)                                                           \
    static inline void FC_DIRECT_FN(glw##GV##x, TB)(const fc_dw_row *g, const FC_T *row,      \
                                                    int64_t s0, int64_t wo0, int64_t wo1,     \
                                                    const FC_T *dyb, FC_T *acc_r, int64_t k) { \
        const int64_t K = g->k, tap = g->dil * g->in_ps, step = g->stride * g->in_ps;         \
        FC_VEC acc[TB][GV];                                                                   \
        for (int b = 0; b < (TB); b++)                                                        \
            for (int j = 0; j < GV; j++) acc[b][j] = FC_LOAD(acc_r + ((s0 + b) * GV + j) * K + k); \
        const FC_T *x0 = row + (s0 * g->dil - g->pad) * g->in_ps + k;                         \
        const FC_T *dp = dyb + (k / FC_VL) * g->out_w * GV * FC_VL;                           \
        for (int64_t wo = wo0; wo < wo1; wo++) {                                              \
            FC_VEC dv[GV];                                                                    \
            for (int j = 0; j < GV; j++) dv[j] = FC_LOAD(dp + (wo * GV + j) * FC_VL);         \
            for (int b = 0; b < (TB); b++) {                                                  \
                const FC_VEC xv = FC_LOAD(x0 + wo * step + b * tap);                          \
                for (int j = 0; j < GV; j++) acc[b][j] = FC_FMA(xv, dv[j], acc[b][j]);        \
            }                                                                                 \
        }                                                                                     \
        for (int b = 0; b < (TB); b++)                                                        \
            for (int j = 0; j < GV; j++) FC_STORE(acc_r + ((s0 + b) * GV + j) * K + k, acc[b][j]); \
    }

/* The output pixels [wo0, wo1) whose input pixel through tap s lies inside
 * the row (iw = wo * stride + s * dil - pad). */
static inline void FC_DIRECT_FN(gl_tap_range, _)(const fc_dw_row *g, int64_t s, int64_t *wo0,
                                                 int64_t *wo1) {
    const int64_t off = s * g->dil - g->pad;
    *wo0 = off >= 0 ? 0 : (-off + g->stride - 1) / g->stride;
    *wo1 = FC_MAX(*wo0, FC_MIN(g->out_w, g->in_w - off <= 0 ? 0 : (g->in_w - off - 1) / g->stride + 1));
}

#define FC_GL_W_BYTES (24 << 10)   /* weights a block of channels reads per pixel: half of L1 */

/* Runs of the kernels above over every channel vector.
 *   fwd run: output pixels out0 + m * ops for m in [m0, m1), their taps'
 *            inputs at xp[t] + m * step, PX at a time;
 *   wgrad run: every tap of kernel rows `rows` (NULL: padding), TB taps at a
 *            time where all lie inside, channel vectors outermost, so a
 *            vector's broadcast dy (dyb) stays in L1. */
#define FC_DEFINE_GL_RUNS(GV, PX, TB)                                                        \
    FC_DEFINE_GL_PIXEL(GV, PX)                                                                \
    FC_DEFINE_GL_WGRAD(GV, TB)                                                                \
    static void FC_DIRECT_FN(gl_fwd_run, GV)(const FC_T *const *xp, const int64_t *wt,        \
                                             int64_t n, int64_t m0, int64_t m1, int64_t step, \
                                             FC_T *out0, int64_t ops, const FC_T *w,          \
                                             int64_t K, int64_t bstride, const FC_IDX *perm,  \
                                             const FC_T *bias) {                              \
        /* channel blocks whose weights fill at most FC_GL_W_BYTES, pixels inside */          \
        const int64_t kblock =                                                                \
            FC_MAX(1, FC_GL_W_BYTES / (bstride * (int64_t)sizeof(FC_T))) * FC_VL;             \
        for (int64_t k0 = 0; k0 < K; k0 += kblock) {                                          \
            const int64_t k1 = FC_MIN(K, k0 + kblock);                                        \
            int64_t m = m0;                                                                   \
            for (; m + (PX) <= m1; m += (PX))                                                 \
                for (int64_t k = k0; k < k1; k += FC_VL)                                      \
                    FC_DIRECT_FN(glp##GV##x, PX)(xp, m * step, step, wt, n, w, bstride, perm, \
                                                 bias, out0 + m * ops, ops, k);               \
            for (; m < m1; m++)                                                               \
                for (int64_t k = k0; k < k1; k += FC_VL)                                      \
                    FC_DIRECT_FN(glp##GV##x, 1)(xp, m * step, step, wt, n, w, bstride, perm,  \
                                                bias, out0 + m * ops, ops, k);                \
        }                                                                                     \
    }                                                                                         \
    static void FC_DIRECT_FN(gl_wgrad_run, GV)(const fc_dw_row *g, const FC_T *const *rows,   \
                                               const FC_T *dyb, FC_T *acc) {                  \
        for (int64_t k = 0; k < g->k; k += FC_VL)                                             \
            for (int64_t r = 0; r < g->r; r++) {                                              \
                if (!rows[r]) continue;                                                       \
                FC_T *acc_r = acc + r * g->s * GV * g->k;                                     \
                for (int64_t s0 = 0; s0 < g->s; s0 += (TB)) {                                 \
                    const int64_t tb = FC_MIN((TB), g->s - s0);                               \
                    int64_t lo = 0, hi = g->out_w, wo0[TB], wo1[TB];                          \
                    for (int64_t b = 0; b < tb; b++) {   /* pixels whose tap is inside */     \
                        FC_DIRECT_FN(gl_tap_range, _)(g, s0 + b, &wo0[b], &wo1[b]);           \
                        lo = FC_MAX(lo, wo0[b]);                                              \
                        hi = FC_MIN(hi, wo1[b]);                                              \
                    }                                                                         \
                    if (tb == (TB) && lo < hi)                                                \
                        FC_DIRECT_FN(glw##GV##x, TB)(g, rows[r], s0, lo, hi, dyb, acc_r, k);  \
                    else                                                                      \
                        lo = hi = wo1[0];   /* each tap alone below */                        \
                    for (int64_t b = 0; b < tb; b++) {                                        \
                        if (wo0[b] < FC_MIN(lo, wo1[b]))                                      \
                            FC_DIRECT_FN(glw##GV##x, 1)(g, rows[r], s0 + b, wo0[b],           \
                                                        FC_MIN(lo, wo1[b]), dyb, acc_r, k);   \
                        if (FC_MAX(hi, wo0[b]) < wo1[b])                                      \
                            FC_DIRECT_FN(glw##GV##x, 1)(g, rows[r], s0 + b,                   \
                                                        FC_MAX(hi, wo0[b]), wo1[b], dyb,      \
                                                        acc_r, k);                            \
                    }                                                                         \
                }                                                                             \
            }                                                                                 \
    }

/* forward and dx: PX pixels per call; dw: TB taps per call (the one-pixel
 * and one-tap versions first: the runs use them for the rest) */
FC_DEFINE_GL_PIXEL(2, 1)
FC_DEFINE_GL_PIXEL(4, 1)
FC_DEFINE_GL_PIXEL(8, 1)
FC_DEFINE_GL_WGRAD(2, 1)
FC_DEFINE_GL_WGRAD(4, 1)
FC_DEFINE_GL_WGRAD(8, 1)
FC_DEFINE_GL_RUNS(2, 8, 3)
FC_DEFINE_GL_RUNS(4, 4, 3)
FC_DEFINE_GL_RUNS(8, 2, 2)

/* Wide groups, G a multiple of VL: output channels on the lanes as in a GEMM
 * micro-kernel, each input channel of a pixel broadcast (no in-group sum).
 * PX pixels (as glp), output channels [k0, k0 + NV * VL) of the group whose
 * input channels start at c0; w is (R * S, G, K). */
#define FC_DEFINE_GB_PIXEL(NV, NAME, PX)                                                     \
    static inline void FC_DIRECT_FN(gbp##NV##NAME, _)(                                        \
        const FC_T *const *xp, int64_t poff, int64_t step, const int64_t *wt, int64_t n,      \
        int64_t G, const FC_T *w, int64_t K, const FC_T *bias, FC_T *out, int64_t ops,        \
        int64_t c0, int64_t k0) {                                                             \
        FC_VEC acc[PX][NV];                                                                   \
        for (int p = 0; p < (PX); p++)                                                        \
            for (int v = 0; v < (NV); v++)                                                    \
                acc[p][v] = bias ? FC_LOAD(bias + k0 + v * FC_VL) : FC_ZERO();                \
        for (int64_t t = 0; t < n; t++) {                                                     \
            const FC_T *wp = w + wt[t] * G * K + k0, *xt = xp[t] + poff + c0;                 \
            for (int64_t c = 0; c < G; c++, wp += K) {                                        \
                FC_VEC wv[NV];                                                                \
                for (int v = 0; v < (NV); v++) wv[v] = FC_LOAD(wp + v * FC_VL);               \
                for (int p = 0; p < (PX); p++) {                                              \
                    const FC_VEC xb = FC_SET1(xt[p * step + c]);                              \
                    for (int v = 0; v < (NV); v++) acc[p][v] = FC_FMA(xb, wv[v], acc[p][v]);  \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        for (int p = 0; p < (PX); p++)                                                        \
            for (int v = 0; v < (NV); v++) FC_STORE(out + p * ops + k0 + v * FC_VL, acc[p][v]); \
    }

/* Pixels per call: as many as the accumulators allow, at most 12, then 7 (a
 * 7-pixel row), 4, 2 and 1. */
#if FC_NACC >= 24
#define FC_GB_PX1 12
#define FC_GB_PX2 12
#else
#define FC_GB_PX1 8
#define FC_GB_PX2 5
#endif
#define FC_DEFINE_GB_RUN(NV)                                                                 \
    FC_DEFINE_GB_PIXEL(NV, big, FC_GB_PX##NV)                                                 \
    FC_DEFINE_GB_PIXEL(NV, seven, 7)                                                          \
    FC_DEFINE_GB_PIXEL(NV, four, 4)                                                           \
    FC_DEFINE_GB_PIXEL(NV, two, 2)                                                            \
    FC_DEFINE_GB_PIXEL(NV, one, 1)                                                            \
    static void FC_DIRECT_FN(gb_fwd_run, NV)(const FC_T *const *xp, const int64_t *wt,        \
                                             int64_t n, int64_t m0, int64_t m1, int64_t step, \
                                             FC_T *out0, int64_t ops, const FC_T *w,          \
                                             int64_t K, int64_t G, const FC_T *bias) {        \
        for (int64_t c0 = 0; c0 < K; c0 += G)   /* a group's weights stay in L1 */            \
            for (int64_t k0 = c0; k0 < c0 + G; k0 += (NV) * FC_VL) {                          \
                int64_t m = m0;                                                               \
                while (m1 - m >= 7 && 7 <= FC_GB_PX##NV) {                                    \
                    /* big blocks unless they would leave 1..6 pixels: 14 = 7 + 7 */          \
                    const int64_t left = m1 - m - FC_GB_PX##NV;                               \
                    if (left == 0 || left >= 7) {                                             \
                        FC_DIRECT_FN(gbp##NV##big, _)(xp, m * step, step, wt, n, G, w, K,     \
                                                      bias, out0 + m * ops, ops, c0, k0);     \
                        m += FC_GB_PX##NV;                                                    \
                    } else {                                                                  \
                        FC_DIRECT_FN(gbp##NV##seven, _)(xp, m * step, step, wt, n, G, w, K,   \
                                                        bias, out0 + m * ops, ops, c0, k0);   \
                        m += 7;                                                               \
                    }                                                                         \
                }                                                                             \
                for (; m + 4 <= m1; m += 4)                                                   \
                    FC_DIRECT_FN(gbp##NV##four, _)(xp, m * step, step, wt, n, G, w, K, bias,  \
                                                   out0 + m * ops, ops, c0, k0);              \
                for (; m + 2 <= m1; m += 2)                                                   \
                    FC_DIRECT_FN(gbp##NV##two, _)(xp, m * step, step, wt, n, G, w, K, bias,   \
                                                  out0 + m * ops, ops, c0, k0);               \
                for (; m < m1; m++)                                                           \
                    FC_DIRECT_FN(gbp##NV##one, _)(xp, m * step, step, wt, n, G, w, K, bias,   \
                                                  out0 + m * ops, ops, c0, k0);               \
            }                                                                                 \
    }
FC_DEFINE_GB_RUN(1)
FC_DEFINE_GB_RUN(2)

/* Wide groups' weight gradient: dw[t, c, gG + j] for CB input channels c
 * from c0 (broadcast from x) and NV vectors of output channels from k0 (dy's
 * lanes), tap s of kernel row `row` (in place), output pixels [wo0, wo1);
 * acc_t: tap t's sums, (G, K), in dw's own order. */
#define FC_DEFINE_GB_WGRAD(NV, CB)                                                           \
    static inline void FC_DIRECT_FN(gbw##NV, _)(const fc_dw_row *g, const FC_T *row,          \
                                                int64_t s, int64_t wo0, int64_t wo1,          \
                                                const FC_T *dy, int64_t dy_ps, int64_t c0,    \
                                                int64_t cb0, int64_t k0, FC_T *acc_t) {       \
        const int64_t K = g->k, step = g->stride * g->in_ps;                                  \
        FC_VEC acc[CB][NV];                                                                   \
        for (int i = 0; i < (CB); i++)                                                        \
            for (int v = 0; v < (NV); v++)                                                    \
                acc[i][v] = FC_LOAD(acc_t + (cb0 + i) * K + k0 + v * FC_VL);                  \
        const FC_T *x0 = row + (s * g->dil - g->pad) * g->in_ps + c0 + cb0;                   \
        for (int64_t wo = wo0; wo < wo1; wo++) {                                              \
            FC_VEC dv[NV];                                                                    \
            for (int v = 0; v < (NV); v++) dv[v] = FC_LOAD(dy + wo * dy_ps + k0 + v * FC_VL); \
            const FC_T *xp = x0 + wo * step;                                                  \
            for (int i = 0; i < (CB); i++) {                                                  \
                const FC_VEC xb = FC_SET1(xp[i]);                                             \
                for (int v = 0; v < (NV); v++) acc[i][v] = FC_FMA(xb, dv[v], acc[i][v]);      \
            }                                                                                 \
        }                                                                                     \
        for (int i = 0; i < (CB); i++)                                                        \
            for (int v = 0; v < (NV); v++)                                                    \
                FC_STORE(acc_t + (cb0 + i) * K + k0 + v * FC_VL, acc[i][v]);                  \
    }
/* G = VL: all G channels at once; G >= 2 VL: half a vector's worth at a time */
FC_DEFINE_GB_WGRAD(1, FC_VL)
FC_DEFINE_GB_WGRAD(2, FC_VL / 2)

/* One output row's contribution to a wide-group dw (acc: (R * S, G, K)). */
static void FC_DIRECT_FN(gb_wgrad, _)(const fc_dw_row *g, const FC_T *const *rows, const FC_T *dy,
                                      int64_t dy_ps, int64_t G, FC_T *acc) {
    const int64_t K = g->k, nv = G >= 2 * FC_VL ? 2 : 1, cb = nv == 2 ? FC_VL / 2 : FC_VL;
    for (int64_t c0 = 0; c0 < K; c0 += G)   /* group by group */
        for (int64_t r = 0; r < g->r; r++) {
            if (!rows[r]) continue;
            for (int64_t s = 0; s < g->s; s++) {
                int64_t wo0, wo1;
                FC_DIRECT_FN(gl_tap_range, _)(g, s, &wo0, &wo1);
                if (wo0 >= wo1) continue;
                FC_T *acc_t = acc + (r * g->s + s) * G * K;
                for (int64_t k0 = c0; k0 < c0 + G; k0 += nv * FC_VL)
                    for (int64_t cb0 = 0; cb0 < G; cb0 += cb) {
                        if (nv == 2)
                            FC_DIRECT_FN(gbw2, _)(g, rows[r], s, wo0, wo1, dy, dy_ps, c0, cb0, k0, acc_t);
                        else
                            FC_DIRECT_FN(gbw1, _)(g, rows[r], s, wo0, wo1, dy, dy_ps, c0, cb0, k0, acc_t);
                    }
            }
        }
}

typedef void (*FC_DIRECT_FN(gl_fwd_run_fn, _))(const FC_T *const *, const int64_t *, int64_t,
                                                int64_t, int64_t, int64_t, FC_T *, int64_t,
                                                const FC_T *, int64_t, int64_t, const FC_IDX *,
                                                const FC_T *);
typedef void (*FC_DIRECT_FN(gl_wgrad_run_fn, _))(const fc_dw_row *, const FC_T *const *,
                                                  const FC_T *, FC_T *);

/* The narrow groups' runs for G channels per group (2, 4 or 8, below VL). */
static FC_DIRECT_FN(gl_fwd_run_fn, _) FC_DIRECT_FN(gl_fwd_run_for, _)(int64_t G) {
    return G == 2 ? FC_DIRECT_FN(gl_fwd_run, 2) : G == 4 ? FC_DIRECT_FN(gl_fwd_run, 4)
                                                         : FC_DIRECT_FN(gl_fwd_run, 8);
}

static FC_DIRECT_FN(gl_wgrad_run_fn, _) FC_DIRECT_FN(gl_wgrad_run_for, _)(int64_t G) {
    return G == 2 ? FC_DIRECT_FN(gl_wgrad_run, 2) : G == 4 ? FC_DIRECT_FN(gl_wgrad_run, 4)
                                                           : FC_DIRECT_FN(gl_wgrad_run, 8);
}

/* Output pixels [m0, m1) of a run (see the runs): wide groups by the
 * broadcast kernels, narrow ones by fwd (the lanes kernels). */
static inline void FC_DIRECT_FN(gl_pixels, _)(int64_t G, FC_DIRECT_FN(gl_fwd_run_fn, _) fwd,
                                              const FC_T *const *xp, const int64_t *wt,
                                              int64_t n, int64_t m0, int64_t m1, int64_t step,
                                              FC_T *out0, int64_t ops, const FC_T *w, int64_t K,
                                              int64_t bstride, const FC_IDX *perm,
                                              const FC_T *bias) {
    if (G < FC_VL)
        fwd(xp, wt, n, m0, m1, step, out0, ops, w, K, bstride, perm, bias);
    else if (G % (2 * FC_VL) == 0)
        FC_DIRECT_FN(gb_fwd_run, 2)(xp, wt, n, m0, m1, step, out0, ops, w, K, G, bias);
    else
        FC_DIRECT_FN(gb_fwd_run, 1)(xp, wt, n, m0, m1, step, out0, ops, w, K, G, bias);
}

/* The taps of output pixel o (see gl_row): xp[t] its input pixels, wt[t]
 * their weight blocks; returns how many. */
static int64_t FC_DIRECT_FN(gl_taps, _)(const fc_dw_row *g, const FC_T *const *rows, int64_t o,
                                        int transposed, const FC_T **xp, int64_t *wt) {
    int64_t n = 0;
    for (int64_t a = 0; a < (transposed ? g->s : g->r); a++) {
        if (transposed) {   /* a = s */
            const int64_t t = o + g->pad - a * g->dil;
            if (t < 0 || t % g->stride || t / g->stride >= g->in_w) continue;
            for (int64_t r = 0; r < g->r; r++)
                if (rows[r]) {
                    xp[n] = rows[r] + (t / g->stride) * g->in_ps;
                    wt[n++] = r * g->s + a;
                }
        } else if (rows[a]) {   /* a = r */
            for (int64_t s = 0; s < g->s; s++) {
                const int64_t iw = o * g->stride - g->pad + s * g->dil;
                if (iw < 0 || iw >= g->in_w) continue;
                xp[n] = rows[a] + iw * g->in_ps;
                wt[n++] = a * g->s + s;
            }
        }
    }
    return n;
}

/* One output row (forward), or one dx row (transposed: rows are dy's and
 * output pixel o takes dy[wo] through tap s where o + pad - s * dil =
 * wo * stride).  w is (K / VL, R * S, G, VL) for narrow groups, (R * S, G,
 * K) for wide ones (see the header); K a multiple of FC_VL; at most
 * FC_GL_MAX_TAPS taps.  The output pixels fall into phases (o mod stride for
 * dx, one phase forward) whose pixels o = p + m * ostep all read the same
 * taps, input pixel a_t + m of tap t; the pixels whose every tap lies inside
 * the row run channel block by channel block (a block's weights stay in L1),
 * the others one by one. */
static void FC_DIRECT_FN(gl_row, _)(const fc_dw_row *g, const FC_T *const *rows, const FC_T *w,
                                    int64_t G, const FC_T *bias, FC_T *out, int transposed) {
    FC_IDX perm[6];   /* narrow groups (G <= 8): at most 3 levels of the in-group sum */
    if (G < FC_VL) FC_DIRECT_FN(gl_sum_perms, _)(G, perm);
    const FC_DIRECT_FN(gl_fwd_run_fn, _) fwd = FC_DIRECT_FN(gl_fwd_run_for, _)(G);
    const FC_T *xp[FC_GL_MAX_TAPS];
    int64_t wt[FC_GL_MAX_TAPS];
    const int64_t K = g->k, ostep = transposed ? g->stride : 1, bstride = g->r * g->s * G * FC_VL;
    const int64_t istep = transposed ? 1 : g->stride;   /* input pixels per step of m */
    for (int64_t p = 0; p < FC_MIN(ostep, g->out_w); p++) {
        /* the phase's taps at m = 0 and the range [m0, m1) where all lie inside */
        int64_t n = 0, m0 = 0, m1 = (g->out_w - p + ostep - 1) / ostep;
        for (int64_t r = 0; r < g->r; r++) {
            if (!rows[r]) continue;
            for (int64_t s = 0; s < g->s; s++) {
                const int64_t t = p + g->pad - s * g->dil;
                if (transposed && ((t % g->stride) + g->stride) % g->stride) continue;
                const int64_t a = transposed ? t / g->stride : s * g->dil - g->pad;
                /* a + m * istep in [0, in_w) */
                m0 = FC_MAX(m0, a >= 0 ? 0 : (-a + istep - 1) / istep);
                m1 = FC_MIN(m1, g->in_w - a <= 0 ? 0 : (g->in_w - a - 1) / istep + 1);
                xp[n] = rows[r] + a * g->in_ps;
                wt[n++] = r * g->s + s;
            }
        }
        if (n == 0) m1 = m0;   /* no taps: the pixel-by-pixel path writes the zeros */
        if (m0 < m1)
            FC_DIRECT_FN(gl_pixels, _)(G, fwd, xp, wt, n, m0, m1, istep * g->in_ps,
                                       out + p * g->out_ps, ostep * g->out_ps, w, K, bstride,
                                       perm, bias);
        for (int64_t m = 0; p + m * ostep < g->out_w; m++) {
            if (m == m0 && m0 < m1) m = m1;   /* done above */
            const int64_t o = p + m * ostep;
            if (o >= g->out_w) break;
            const int64_t en = FC_DIRECT_FN(gl_taps, _)(g, rows, o, transposed, xp, wt);
            FC_DIRECT_FN(gl_pixels, _)(G, fwd, xp, wt, en, 0, 1, 0, out + o * g->out_ps, 0, w, K,
                                       bstride, perm, bias);
        }
    }
}

/* Adds one output row's contribution to acc ((R * S, G, K), see the header;
 * wide groups: in dw's (R * S, G, K) order); dyb: scratch of out_w * G * K
 * values (narrow groups). */
static void FC_DIRECT_FN(gl_wgrad, _)(const fc_dw_row *g, const FC_T *const *rows, const FC_T *dy,
                                      int64_t dy_ps, int64_t G, FC_T *dyb, FC_T *acc) {
    if (G >= FC_VL) {   /* wide groups: no broadcast dy, acc in dw's order */
        FC_DIRECT_FN(gb_wgrad, _)(g, rows, dy, dy_ps, G, acc);
        return;
    }
    const int64_t K = g->k;
    FC_IDX bcast[16];
    int32_t idx[FC_IDX_UNITS];
    for (int64_t j = 0; j < G; j++) {
        FC_DIRECT_FN(gl_index, _)(0, 0, G, j, idx);
        bcast[j] = FC_LOAD_IDX(idx);
    }
    const int64_t kstep = g->out_w * G * FC_VL;   /* dyb: (K / VL, out_w, G, VL) */
    for (int64_t wo = 0; wo < g->out_w; wo++) {   /* dy read in order */
        FC_T *dst = dyb + wo * G * FC_VL;
        for (int64_t k = 0; k < K; k += FC_VL, dst += kstep) {
            const FC_VEC dv = FC_LOAD(dy + wo * dy_ps + k);
            for (int64_t j = 0; j < G; j++) FC_STORE(dst + j * FC_VL, FC_PERMUTE2(dv, dv, bcast[j]));
        }
    }
    FC_DIRECT_FN(gl_wgrad_run_for, _)(G)(g, rows, dyb, acc);
}

#undef FC_DEFINE_GB_WGRAD
#undef FC_DEFINE_GB_RUN
#undef FC_DEFINE_GB_PIXEL
#undef FC_GB_PX1
#undef FC_GB_PX2
#undef FC_DEFINE_GL_RUNS
#undef FC_DEFINE_GL_PIXEL
#undef FC_DEFINE_GL_WGRAD
