/* Pooling row kernels for one ISA and dtype, with the channels on the vector
 * lanes (they are contiguous in NHWC).  Each call does one row: of the
 * output (forward) from the real input rows its windows read, of dx (average
 * backward) from the dy rows of the windows that cover it, or (max backward)
 * of dy, added into the dx rows of its windows' argmax taps; the driver
 * (pool_fast.tmpl.h) finds those rows, and the kernel the columns (struct
 * fc_pool_row in internal.h).  Within a row, each pixel lists the pointers to
 * its taps (or covering windows) and runs one of the pixel functions below on
 * them; channels are done in blocks of four vectors, then single vectors,
 * then one at a time.
 *
 * Parameters, set by the including file after its ISA and vector bindings:
 *   FC_T, FC_VEC, FC_VL, FC_LOAD, FC_STORE, FC_SET1, FC_ADD, FC_MUL, FC_ZERO;
 *   FC_VMAX_NAN(acc, v)      acc, or v where v > acc or v is NaN (NaN propagates);
 *   FC_ARGMAX_STEP(b, a, v, t)  where v > b, or v is NaN and b is not: b = v, a = t;
 *   FC_ADD_IF_EQ(acc, a, id, g) acc + (a == id ? g : 0);
 *   FC_POOL_FN(name)         the kernels' (static) names;
 *   FC_POOL_KERNELS_TYPE, FC_POOL_KERNELS_TABLE  the table's type and name. */
#if !defined(FC_T) || !defined(FC_VL) || !defined(FC_VMAX_NAN) || !defined(FC_ARGMAX_STEP) || \
    !defined(FC_ADD_IF_EQ) || !defined(FC_POOL_FN) || !defined(FC_POOL_KERNELS_TYPE) ||        \
    !defined(FC_POOL_KERNELS_TABLE)
#error "pool_simd.tmpl.h: define the ISA bindings and the kernel names first"
#endif

#define FC_POOL_TAPS 9   /* the most taps of a window, or windows over a pixel (3x3) */

/* The scalar forms of the three operations, for the last channels: selects
 * and table lookups, no branches (a branch on random data mispredicts half the
 * time: LeNet's 6-channel 2x2 pooling took 1.24 ms forward, 0.92 ms backward
 * for 64 images). */
static inline FC_T FC_POOL_FN(max1)(FC_T acc, FC_T v) {
    const FC_T m = v > acc ? v : acc;   /* acc where either is NaN */
    return v != v ? v : m;              /* a NaN tap wins */
}

/* Whether tap value v becomes the argmax over best: larger, or the first NaN. */
static inline int FC_POOL_FN(takes)(FC_T best, FC_T v) {
    return (v > best) | ((v != v) & (best == best));
}

/* The channel blocks [k, k + NB * FC_VL) of a pixel, NB = 4 and 1, then the
 * remaining channels: one masked vector where the ISA has masks (LeNet's 6
 * and 16 channels: a pixel's 6 were six scalar passes), else one at a time.
 * BODY(NB, k, M) for the vector blocks, M = 1 for the masked one (its loads
 * and stores FC_PLOAD(M, p), FC_PSTORE(M, p, v) read the mask m_), TAIL(k). */
#ifndef FC_POOL_MASKED
#define FC_POOL_MASKED 0
#define FC_PMASK int
#define FC_PMASK_FOR(n) 0
#define FC_LOAD_MASKED(p, m) FC_LOAD(p)
#define FC_STORE_MASKED(p, m, v) FC_STORE(p, v)
#endif
#define FC_PLOAD(M, p) ((M) ? FC_LOAD_MASKED(p, m_) : FC_LOAD(p))
#define FC_PSTORE(M, p, v)                  \
    do {                                    \
        if (M)                              \
            FC_STORE_MASKED(p, m_, v);      \
        else                                \
            FC_STORE(p, v);                 \
    } while (0)
#define FC_POOL_CHANNELS(c, BODY, TAIL)                                  \
    do {                                                                 \
        int64_t k_ = 0;                                                  \
        const FC_PMASK m_ = FC_PMASK_FOR((c) % FC_VL);                   \
        (void)m_;                                                        \
        for (; k_ + 4 * FC_VL <= (c); k_ += 4 * FC_VL) BODY(4, k_, 0);  \
        for (; k_ + FC_VL <= (c); k_ += FC_VL) BODY(1, k_, 0);          \
        if (FC_POOL_MASKED && k_ < (c)) {                                \
            BODY(1, k_, 1);                                              \
            k_ = (c);                                                    \
        }                                                                \
        for (; k_ < (c); k_++) TAIL(k_);                                 \
    } while (0)

/* ---- one pixel ---- */

/* Forward max: out = the maximum of the nt >= 1 taps (a NaN wins). */
static inline void FC_POOL_FN(max_px)(FC_T *restrict out, const FC_T *const *taps, int nt,
                                      int64_t c) {
    if (nt == 0) {   /* no real tap (not for a valid geometry): the padding's -inf */
        for (int64_t k = 0; k < c; k++) out[k] = -(FC_T)INFINITY;
        return;
    }
#define FC_BODY(NB, k, M)                                                               \
    do {                                                                                \
        FC_VEC acc[NB];                                                                 \
        for (int v = 0; v < NB; v++) acc[v] = FC_PLOAD(M, taps[0] + (k) + v * FC_VL);   \
        for (int t = 1; t < nt; t++)                                                    \
            for (int v = 0; v < NB; v++)                                                \
                acc[v] = FC_VMAX_NAN(acc[v], FC_PLOAD(M, taps[t] + (k) + v * FC_VL));   \
        for (int v = 0; v < NB; v++) FC_PSTORE(M, out + (k) + v * FC_VL, acc[v]);       \
    } while (0)
#define FC_TAIL(k)                                                                      \
    do {                                                                                \
        FC_T acc = taps[0][k];                                                          \
        for (int t = 1; t < nt; t++) acc = FC_POOL_FN(max1)(acc, taps[t][k]);           \
        out[k] = acc;                                                                   \
    } while (0)
    FC_POOL_CHANNELS(c, FC_BODY, FC_TAIL);
#undef FC_BODY
#undef FC_TAIL
}

/* Forward average: out = scale * (the sum of the nt >= 1 taps, in order). */
static inline void FC_POOL_FN(avg_px)(FC_T *restrict out, const FC_T *const *taps, int nt,
                                      FC_T scale, int64_t c) {
    if (nt == 0) {   /* no real tap (not for a valid geometry): 0 / 0 */
        for (int64_t k = 0; k < c; k++) out[k] = (FC_T)NAN;
        return;
    }
    const FC_VEC sv = FC_SET1(scale);
#define FC_BODY(NB, k, M)                                                               \
    do {                                                                                \
        FC_VEC acc[NB];                                                                 \
        for (int v = 0; v < NB; v++) acc[v] = FC_PLOAD(M, taps[0] + (k) + v * FC_VL);   \
        for (int t = 1; t < nt; t++)                                                    \
            for (int v = 0; v < NB; v++)                                                \
                acc[v] = FC_ADD(acc[v], FC_PLOAD(M, taps[t] + (k) + v * FC_VL));        \
        for (int v = 0; v < NB; v++) FC_PSTORE(M, out + (k) + v * FC_VL, FC_MUL(acc[v], sv)); \
    } while (0)
#define FC_TAIL(k)                                                                      \
    do {                                                                                \
        FC_T acc = taps[0][k];                                                          \
        for (int t = 1; t < nt; t++) acc += taps[t][k];                                 \
        out[k] = acc * scale;                                                           \
    } while (0)
    FC_POOL_CHANNELS(c, FC_BODY, FC_TAIL);
#undef FC_BODY
#undef FC_TAIL
}

/* Max backward of one window: its first tap holding the maximum (a NaN
 * counting as the maximum) over the nt >= 1 taps gets g added at the same
 * tap of dx (dtaps); the other taps get 0 added, so that a dx value covered
 * by several windows is the same sum, in window order, on every path. */
static inline void FC_POOL_FN(max_scatter_px)(FC_T *const *dtaps, const FC_T *const *taps,
                                              int nt, const FC_T *restrict g, int64_t c) {
#define FC_BODY(NB, k, M)                                                               \
    do {                                                                                \
        FC_VEC best[NB], at[NB], gv[NB];                                                \
        for (int v = 0; v < NB; v++) {                                                  \
            best[v] = FC_PLOAD(M, taps[0] + (k) + v * FC_VL);                           \
            at[v] = FC_ZERO();                                                          \
        }                                                                               \
        for (int t = 1; t < nt; t++) {                                                  \
            const FC_VEC id = FC_SET1((FC_T)t);                                         \
            for (int v = 0; v < NB; v++)                                                \
                FC_ARGMAX_STEP(best[v], at[v], FC_PLOAD(M, taps[t] + (k) + v * FC_VL), id); \
        }                                                                               \
        for (int v = 0; v < NB; v++) gv[v] = FC_PLOAD(M, g + (k) + v * FC_VL);          \
        for (int t = 0; t < nt; t++) {                                                  \
            const FC_VEC id = FC_SET1((FC_T)t);                                         \
            for (int v = 0; v < NB; v++) {                                              \
                FC_T *p = dtaps[t] + (k) + v * FC_VL;                                   \
                FC_PSTORE(M, p, FC_ADD_IF_EQ(FC_PLOAD(M, p), at[v], id, gv[v]));        \
            }                                                                           \
        }                                                                               \
    } while (0)
#define FC_TAIL(k)                                                                      \
    do {                                                                                \
        FC_T best = taps[0][k];                                                         \
        int at = 0;                                                                     \
        for (int t = 1; t < nt; t++) {                                                  \
            at += (t - at) & -FC_POOL_FN(takes)(best, taps[t][k]);                      \
            best = FC_POOL_FN(max1)(best, taps[t][k]);                                  \
        }                                                                               \
        const FC_T pick[2] = {0, g[k]};                                                 \
        for (int t = 0; t < nt; t++) dtaps[t][k] += pick[at == t];                      \
    } while (0)
    FC_POOL_CHANNELS(c, FC_BODY, FC_TAIL);
#undef FC_BODY
#undef FC_TAIL
}

/* ---- one row ---- */

/* The real columns [*j0, *j1) of output pixel wo's window. */
static inline void FC_POOL_FN(cols)(const fc_pool_row *g, int64_t wo, int64_t *j0, int64_t *j1) {
    const int64_t start = wo * g->stride - g->pad;
    *j0 = start < 0 ? -start : 0;
    *j1 = FC_MIN(g->s, g->in_w - start);
}

/* The taps of output pixel wo from the nrows real input rows; with dx_taps,
 * the same taps in the dx rows. */
static inline int FC_POOL_FN(row_taps)(const fc_pool_row *g, const FC_T *const *rows, int nrows,
                                       int64_t wo, const FC_T **taps, FC_T *const *dx_rows,
                                       FC_T **dx_taps) {
    int64_t j0, j1;
    int nt = 0;
    FC_POOL_FN(cols)(g, wo, &j0, &j1);
    const int64_t start = wo * g->stride - g->pad;
    for (int r = 0; r < nrows; r++)
        for (int64_t j = j0; j < j1; j++, nt++) {
            taps[nt] = rows[r] + (start + j) * g->in_ps;
            if (dx_taps) dx_taps[nt] = dx_rows[r] + (start + j) * g->dx_ps;
        }
    return nt;
}

static void FC_POOL_FN(max_row)(const fc_pool_row *g, const FC_T *const *rows, int nrows,
                                FC_T *out) {
    const FC_T *taps[FC_POOL_TAPS];
    for (int64_t wo = 0; wo < g->out_w; wo++) {
        const int nt = FC_POOL_FN(row_taps)(g, rows, nrows, wo, taps, NULL, NULL);
        FC_POOL_FN(max_px)(out + wo * g->out_ps, taps, nt, g->c);
    }
}

static void FC_POOL_FN(avg_row)(const fc_pool_row *g, const FC_T *const *rows, int nrows,
                                const FC_T *scale, FC_T *out) {
    const FC_T *taps[FC_POOL_TAPS];
    for (int64_t wo = 0; wo < g->out_w; wo++) {
        const int nt = FC_POOL_FN(row_taps)(g, rows, nrows, wo, taps, NULL, NULL);
        FC_POOL_FN(avg_px)(out + wo * g->out_ps, taps, nt, scale[wo], g->c);
    }
}

static void FC_POOL_FN(max_scatter_row)(const fc_pool_row *g, const FC_T *const *rows, int nrows,
                                        const FC_T *dy, FC_T *const *dx) {
    const FC_T *taps[FC_POOL_TAPS];
    FC_T *dx_taps[FC_POOL_TAPS];
    for (int64_t wo = 0; wo < g->out_w; wo++) {
        const int nt = FC_POOL_FN(row_taps)(g, rows, nrows, wo, taps, dx, dx_taps);
        if (nt) FC_POOL_FN(max_scatter_px)(dx_taps, taps, nt, dy + wo * g->out_ps, g->c);
    }
}

/* Average backward of one dx row: each pixel the sum over the windows that
 * cover it (window rows, then columns, in order) of dy * scale, from 0.  The
 * windows are walked inside each channel block, not listed per pixel first:
 * GCC turned the copying of their scales into a list into a memcpy call per
 * pixel and window row (with vzeroupper), a third of this pass. */
static void FC_POOL_FN(avg_gather_row)(const fc_pool_row *g, const FC_T *const *dy_rows,
                                       const FC_T *const *scale_rows, int nrows, FC_T *dx) {
    for (int64_t w = 0; w < g->in_w; w++) {
        const int64_t wlo = g->wlo[w], whi = g->whi[w];
        FC_T *restrict out = dx + w * g->in_ps;
#define FC_BODY(NB, k, M)                                                               \
    do {                                                                                \
        FC_VEC acc[NB];                                                                 \
        for (int v = 0; v < NB; v++) acc[v] = FC_ZERO();                                \
        for (int r = 0; r < nrows; r++)                                                 \
            for (int64_t wo = wlo; wo <= whi; wo++) {                                   \
                const FC_VEC s = FC_SET1(scale_rows[r][wo]);                            \
                const FC_T *gp = dy_rows[r] + wo * g->out_ps + (k);                     \
                for (int v = 0; v < NB; v++)                                            \
                    acc[v] = FC_ADD(acc[v], FC_MUL(FC_PLOAD(M, gp + v * FC_VL), s));    \
            }                                                                           \
        for (int v = 0; v < NB; v++) FC_PSTORE(M, out + (k) + v * FC_VL, acc[v]);       \
    } while (0)
#define FC_TAIL(k)                                                                      \
    do {                                                                                \
        FC_T acc = 0;                                                                   \
        for (int r = 0; r < nrows; r++)                                                 \
            for (int64_t wo = wlo; wo <= whi; wo++)                                     \
                acc += dy_rows[r][wo * g->out_ps + (k)] * scale_rows[r][wo];            \
        out[k] = acc;                                                                   \
    } while (0)
        FC_POOL_CHANNELS(g->c, FC_BODY, FC_TAIL);
#undef FC_BODY
#undef FC_TAIL
    }
}

/* The columns of dx rows dx[0], dx[1] past the last 2x2 tile: 0. */
static void FC_POOL_FN(zero_past_tiles)(const fc_pool_row *g, FC_T *const *dx) {
    for (int r = 0; r < 2; r++)
        for (int64_t w = 2 * g->out_w; w < g->in_w; w++)
            for (int64_t k = 0; k < g->c; k++) dx[r][w * g->in_ps + k] = 0;
}

/* Forward of 2x2 windows that tile two input rows (stride 2, no padding):
 * out_w output pixels from columns [0, 2 out_w) of rows[0] and rows[1], the
 * maximum (a NaN wins) or the mean, in the taps' order as max_px and avg_px.
 * Their bodies with the four taps fixed: max_px and avg_px called on a
 * four-pointer list ran 16-24 % slower (the tap loop stays a loop). */
static void FC_POOL_FN(tiles_2x2_row)(const fc_pool_row *g, const FC_T *const *rows, int is_max,
                                      FC_T *out) {
    const int64_t c = g->c, ps = g->in_ps;
    const FC_VEC quarter = FC_SET1((FC_T)0.25);
    for (int64_t wo = 0; wo < g->out_w; wo++) {
        const FC_T *x0 = rows[0] + 2 * wo * ps, *x1 = rows[1] + 2 * wo * ps;
        FC_T *o = out + wo * g->out_ps;
#define FC_TAP(t, k) ((t) < 2 ? x0 : x1)[((t) & 1) * ps + (k)]
#define FC_MAX_BODY(NB, k, M)                                                              \
    do {                                                                                   \
        for (int v = 0; v < NB; v++) {                                                     \
            FC_VEC acc = FC_PLOAD(M, &FC_TAP(0, (k) + v * FC_VL));                         \
            for (int t = 1; t < 4; t++) acc = FC_VMAX_NAN(acc, FC_PLOAD(M, &FC_TAP(t, (k) + v * FC_VL))); \
            FC_PSTORE(M, o + (k) + v * FC_VL, acc);                                        \
        }                                                                                  \
    } while (0)
#define FC_MAX_TAIL(k)                                                                     \
    do {                                                                                   \
        FC_T acc = FC_TAP(0, k);                                                           \
        for (int t = 1; t < 4; t++) acc = FC_POOL_FN(max1)(acc, FC_TAP(t, k));             \
        o[k] = acc;                                                                        \
    } while (0)
#define FC_AVG_BODY(NB, k, M)                                                              \
    do {                                                                                   \
        for (int v = 0; v < NB; v++) {                                                     \
            FC_VEC acc = FC_PLOAD(M, &FC_TAP(0, (k) + v * FC_VL));                         \
            for (int t = 1; t < 4; t++) acc = FC_ADD(acc, FC_PLOAD(M, &FC_TAP(t, (k) + v * FC_VL))); \
            FC_PSTORE(M, o + (k) + v * FC_VL, FC_MUL(acc, quarter));                       \
        }                                                                                  \
    } while (0)
#define FC_AVG_TAIL(k)                                                                     \
    do {                                                                                   \
        FC_T acc = FC_TAP(0, k);                                                           \
        for (int t = 1; t < 4; t++) acc += FC_TAP(t, k);                                   \
        o[k] = acc * (FC_T)0.25;                                                           \
    } while (0)
        if (is_max)
            FC_POOL_CHANNELS(c, FC_MAX_BODY, FC_MAX_TAIL);
        else
            FC_POOL_CHANNELS(c, FC_AVG_BODY, FC_AVG_TAIL);
#undef FC_MAX_BODY
#undef FC_MAX_TAIL
#undef FC_AVG_BODY
#undef FC_AVG_TAIL
#undef FC_TAP
    }
}

/* Average backward of the same 2x2 tiles: dy * 1/4 to the four pixels of
 * each window (0 + dy / 4, as avg_gather_row sums), columns past them 0. */
static void FC_POOL_FN(avg_back_2x2_row)(const fc_pool_row *g, const FC_T *dy, FC_T *const *dx) {
    const int64_t c = g->c, ps = g->in_ps;
    const FC_VEC quarter = FC_SET1((FC_T)0.25);
    for (int64_t wo = 0; wo < g->out_w; wo++) {
        const FC_T *gp = dy + wo * g->out_ps;
        FC_T *d0 = dx[0] + 2 * wo * ps, *d1 = dx[1] + 2 * wo * ps;
#define FC_BODY(NB, k, M)                                                                  \
    do {                                                                                   \
        for (int v = 0; v < NB; v++) {                                                     \
            const int64_t at = (k) + v * FC_VL;                                            \
            const FC_VEC q = FC_ADD(FC_ZERO(), FC_MUL(FC_PLOAD(M, gp + at), quarter));     \
            FC_PSTORE(M, d0 + at, q);                                                      \
            FC_PSTORE(M, d0 + ps + at, q);                                                 \
            FC_PSTORE(M, d1 + at, q);                                                      \
            FC_PSTORE(M, d1 + ps + at, q);                                                 \
        }                                                                                  \
    } while (0)
#define FC_TAIL(k)                                                                         \
    do {                                                                                   \
        const FC_T q = (FC_T)0 + gp[k] * (FC_T)0.25;                                       \
        d0[k] = d0[ps + (k)] = d1[k] = d1[ps + (k)] = q;                                   \
    } while (0)
        FC_POOL_CHANNELS(c, FC_BODY, FC_TAIL);
#undef FC_BODY
#undef FC_TAIL
    }
    FC_POOL_FN(zero_past_tiles)(g, dx);
}

/* Max backward of 2x2 windows that tile two input rows (stride 2, no
 * padding), argmax and dx in one pass: out_w windows over columns
 * [0, 2 out_w), columns past them 0.  The first maximum in row-major order. */
static void FC_POOL_FN(max_back_2x2_row)(const fc_pool_row *g, const FC_T *const *rows,
                                         const FC_T *dy, FC_T *const *dx) {
    const int64_t c = g->c, ps = g->in_ps;
    for (int64_t wo = 0; wo < g->out_w; wo++) {
        const FC_T *x0 = rows[0] + 2 * wo * ps, *x1 = rows[1] + 2 * wo * ps;
        const FC_T *gp = dy + wo * g->out_ps;
        FC_T *d0 = dx[0] + 2 * wo * ps, *d1 = dx[1] + 2 * wo * ps;
#define FC_BODY(NB, k, M)                                                                  \
    do {                                                                                   \
        FC_VEC best[NB], at[NB];                                                           \
        for (int v = 0; v < NB; v++) {                                                     \
            best[v] = FC_PLOAD(M, x0 + (k) + v * FC_VL);                                   \
            at[v] = FC_ZERO();                                                             \
            FC_ARGMAX_STEP(best[v], at[v], FC_PLOAD(M, x0 + ps + (k) + v * FC_VL), FC_SET1(1)); \
            FC_ARGMAX_STEP(best[v], at[v], FC_PLOAD(M, x1 + (k) + v * FC_VL), FC_SET1(2)); \
            FC_ARGMAX_STEP(best[v], at[v], FC_PLOAD(M, x1 + ps + (k) + v * FC_VL), FC_SET1(3)); \
        }                                                                                  \
        for (int v = 0; v < NB; v++) {                                                     \
            const FC_VEC gv = FC_PLOAD(M, gp + (k) + v * FC_VL), z = FC_ZERO();            \
            FC_PSTORE(M, d0 + (k) + v * FC_VL, FC_ADD_IF_EQ(z, at[v], FC_SET1(0), gv));    \
            FC_PSTORE(M, d0 + ps + (k) + v * FC_VL, FC_ADD_IF_EQ(z, at[v], FC_SET1(1), gv)); \
            FC_PSTORE(M, d1 + (k) + v * FC_VL, FC_ADD_IF_EQ(z, at[v], FC_SET1(2), gv));    \
            FC_PSTORE(M, d1 + ps + (k) + v * FC_VL, FC_ADD_IF_EQ(z, at[v], FC_SET1(3), gv)); \
        }                                                                                  \
    } while (0)
#define FC_TAIL(k)                                                                         \
    do {                                                                                   \
        const FC_T v4[4] = {x0[k], x0[ps + (k)], x1[k], x1[ps + (k)]};                     \
        FC_T best = v4[0];                                                                 \
        int at = 0;                                                                        \
        for (int t = 1; t < 4; t++) {                                                      \
            at += (t - at) & -FC_POOL_FN(takes)(best, v4[t]);                              \
            best = FC_POOL_FN(max1)(best, v4[t]);                                          \
        }                                                                                  \
        const FC_T pick[2] = {0, gp[k]};                                                   \
        d0[k] = pick[at == 0];                                                             \
        d0[ps + (k)] = pick[at == 1];                                                      \
        d1[k] = pick[at == 2];                                                             \
        d1[ps + (k)] = pick[at == 3];                                                      \
    } while (0)
        FC_POOL_CHANNELS(c, FC_BODY, FC_TAIL);
#undef FC_BODY
#undef FC_TAIL
    }
    FC_POOL_FN(zero_past_tiles)(g, dx);
}

/* ---- the table ---- */

/* acc += the np pixel rows px, added one after the other (the same sums
 * however a caller groups the pixels). */
static void FC_POOL_FN(add_px)(FC_T *restrict acc, const FC_T *const *px, int np, int64_t c) {
#define FC_BODY(NB, k, M)                                                               \
    do {                                                                                \
        FC_VEC s[NB];                                                                   \
        for (int v = 0; v < NB; v++) s[v] = FC_PLOAD(M, acc + (k) + v * FC_VL);         \
        for (int t = 0; t < np; t++)                                                    \
            for (int v = 0; v < NB; v++) s[v] = FC_ADD(s[v], FC_PLOAD(M, px[t] + (k) + v * FC_VL)); \
        for (int v = 0; v < NB; v++) FC_PSTORE(M, acc + (k) + v * FC_VL, s[v]);         \
    } while (0)
#define FC_TAIL(k)                                                                      \
    do {                                                                                \
        FC_T s = acc[k];                                                                \
        for (int t = 0; t < np; t++) s += px[t][k];                                     \
        acc[k] = s;                                                                     \
    } while (0)
    FC_POOL_CHANNELS(c, FC_BODY, FC_TAIL);
#undef FC_BODY
#undef FC_TAIL
}

const FC_POOL_KERNELS_TYPE FC_POOL_KERNELS_TABLE = {
    FC_VL,
    FC_POOL_FN(max_row),
    FC_POOL_FN(avg_row),
    FC_POOL_FN(max_scatter_row),
    FC_POOL_FN(avg_gather_row),
    FC_POOL_FN(tiles_2x2_row),
    FC_POOL_FN(max_back_2x2_row),
    FC_POOL_FN(avg_back_2x2_row),
    FC_POOL_FN(add_px),
};
#undef FC_POOL_CHANNELS
#undef FC_POOL_TAPS
#undef FC_PLOAD
#undef FC_PSTORE
