/* The convolution kernels beside the GEMM, for one ISA and dtype: the Winograd
 * transforms (at the end) and direct-convolution kernels for convolutions
 * with few output channels, where
 * a GEMM tile of output channels would be mostly padding.  Here the vector
 * lanes run over output pixels of one channel instead: the input is a planar,
 * zero-padded copy (one plane per channel, see conv_direct.tmpl.h), so the
 * pixels a kernel tap reads for consecutive outputs are consecutive in memory.
 *
 * fwd<KB>: tile[k * W + q] = bias[k] + sum_{t < taps, c < ch} x[c * plane + off[t] + q] * w[(t * ch + c) * KB + k]
 *          for k < KB and q < W, W = width[KB] pixels (a whole number of vectors);
 *          bias may be NULL (zero).
 * dw<KB>:  out[k * VL + l] += sum_{i < nvec} x[i * VL + l] * dy[k * dy_plane + i * VL + l]:
 *          per-lane sums (the caller adds the lanes up once, after all images).
 * store:   out[map[q] + k * ks] = tile[k * width + q] for k < kb, q < width, skipping
 *          the pixels whose map[q] is FC_DIRECT_DROP.  Scalar stores: AVX-512's
 *          scatter took twice as long on Zen 5 (YOLOv3-tiny conv0, batch 1:
 *          7.1 ms with it, 3.0 ms without) and saves nothing on Intel.
 *
 * The including file selects the ISA and defines FC_T, FC_VEC, FC_VL, FC_LOAD,
 * FC_STORE, FC_SET1, FC_FMA, FC_ZERO (as for gemm_simd.tmpl.h), FC_ADD, FC_NACC (how many
 * vector accumulators fit in registers), FC_DIRECT_FN(kind, kb) (function
 * names) and FC_CONV_KERNELS_TABLE (the exported fc_conv_kernels_* table). */
#if !defined(FC_T) || !defined(FC_VEC) || !defined(FC_VL) || !defined(FC_NACC) || \
    !defined(FC_DIRECT_FN) || !defined(FC_CONV_KERNELS_TYPE) || !defined(FC_CONV_KERNELS_TABLE)
#error "conv_simd.tmpl.h: define the vector operations (vec-*.h), FC_NACC, FC_DIRECT_FN and the table's type and name first"
#endif

#include "activation.h"

/* Vectors of output pixels per tile: as many as the accumulators allow, at most 4. */
#define FC_DIRECT_NV(KB) (FC_NACC / (KB) < 4 ? FC_NACC / (KB) : 4)
/* Independent partial sums in dw, so the FMA latency is hidden when KB is small. */
#define FC_DIRECT_NU(KB) ((KB) >= 5 ? 1 : (KB) >= 3 ? 2 : 4)

#define FC_DEFINE_DIRECT(KB)                                                                  \
    static void FC_DIRECT_FN(fwd, KB)(const FC_T *x, int64_t plane, const int64_t *off,       \
                                      int64_t taps, int64_t ch, const FC_T *w,                \
                                      const FC_T *bias, FC_T *tile) {                         \
        enum { NV = FC_DIRECT_NV(KB) };                                                       \
        FC_VEC acc[KB][NV];                                                                   \
        for (int k = 0; k < KB; k++)                                                          \
            for (int v = 0; v < NV; v++) acc[k][v] = bias ? FC_SET1(bias[k]) : FC_ZERO();     \
        for (int64_t t = 0; t < taps; t++) {                                                  \
            const FC_T *xc = x + off[t];                                                      \
            for (int64_t c = 0; c < ch; c++, xc += plane, w += KB) {                          \
                FC_VEC xv[NV];                                                                \
                for (int v = 0; v < NV; v++) xv[v] = FC_LOAD(xc + v * FC_VL);                 \
                for (int k = 0; k < KB; k++) {                                                \
                    const FC_VEC wk = FC_SET1(w[k]);                                          \
                    for (int v = 0; v < NV; v++) acc[k][v] = FC_FMA(xv[v], wk, acc[k][v]);   \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        for (int k = 0; k < KB; k++)                                                          \
            for (int v = 0; v < NV; v++) FC_STORE(tile + (k * NV + v) * FC_VL, acc[k][v]);    \
    }                                                                                         \
    static void FC_DIRECT_FN(dw, KB)(const FC_T *x, const FC_T *dy, int64_t dy_plane,         \
                                     int64_t nvec, FC_T *out) {                               \
        enum { NU = FC_DIRECT_NU(KB) };                                                       \
        FC_VEC acc[NU][KB];                                                                   \
        for (int u = 0; u < NU; u++)                                                          \
            for (int k = 0; k < KB; k++) acc[u][k] = FC_ZERO();                               \
        int64_t i = 0;                                                                        \
        for (; i + NU <= nvec; i += NU)                                                       \
            for (int u = 0; u < NU; u++) {                                                    \
                const FC_VEC xv = FC_LOAD(x + (i + u) * FC_VL);                               \
                for (int k = 0; k < KB; k++)                                                  \
                    acc[u][k] = FC_FMA(xv, FC_LOAD(dy + k * dy_plane + (i + u) * FC_VL),      \
                                       acc[u][k]);                                            \
            }                                                                                 \
        for (; i < nvec; i++) {                                                               \
            const FC_VEC xv = FC_LOAD(x + i * FC_VL);                                         \
            for (int k = 0; k < KB; k++)                                                      \
                acc[0][k] = FC_FMA(xv, FC_LOAD(dy + k * dy_plane + i * FC_VL), acc[0][k]);    \
        }                                                                                     \
        for (int k = 0; k < KB; k++) {                                                        \
            for (int u = 1; u < NU; u++) acc[0][k] = FC_ADD(acc[0][k], acc[u][k]);            \
            FC_STORE(out + k * FC_VL, FC_ADD(FC_LOAD(out + k * FC_VL), acc[0][k]));           \
        }                                                                                     \
    }

FC_DEFINE_DIRECT(1)
FC_DEFINE_DIRECT(2)
FC_DEFINE_DIRECT(3)
FC_DEFINE_DIRECT(4)
FC_DEFINE_DIRECT(5)
FC_DEFINE_DIRECT(6)
FC_DEFINE_DIRECT(7)
FC_DEFINE_DIRECT(8)

static void FC_DIRECT_FN(store, _)(const FC_T *tile, int64_t width, int kb,
                                   const int32_t *map, FC_T *out, int64_t ks) {
    for (int64_t q = 0; q < width; q++)
        if (map[q] != FC_DIRECT_DROP)
            for (int k = 0; k < kb; k++) out[map[q] + k * ks] = tile[k * width + q];
}

/* Winograd F(4x4, 3x3)'s 1-D transforms (see internal.h): plain loops over
 * contiguous values, vectorised by the compiler for this file's ISA (the
 * loops take their rows as restrict parameters, which GCC needs for that). */
static inline void FC_DIRECT_FN(winograd_bt_rows, _)(
    int64_t n, const FC_T *restrict d0, const FC_T *restrict d1, const FC_T *restrict d2,
    const FC_T *restrict d3, const FC_T *restrict d4, const FC_T *restrict d5,
    FC_T *restrict o0, FC_T *restrict o1, FC_T *restrict o2, FC_T *restrict o3,
    FC_T *restrict o4, FC_T *restrict o5) {
    for (int64_t i = 0; i < n; i++) {
        const FC_T a = d4[i] - 4 * d2[i], b = 4 * d1[i] - d3[i];
        const FC_T c = d4[i] - d2[i], e = 2 * (d1[i] - d3[i]);
        o0[i] = 4 * d0[i] - 5 * d2[i] + d4[i];
        o1[i] = a - b;
        o2[i] = a + b;
        o3[i] = c - e;
        o4[i] = c + e;
        o5[i] = 4 * d1[i] - 5 * d3[i] + d5[i];
    }
}

static void FC_DIRECT_FN(winograd_bt, _)(const FC_T *const *d, int64_t n, FC_T *const *o) {
    FC_DIRECT_FN(winograd_bt_rows, _)(n, d[0], d[1], d[2], d[3], d[4], d[5], o[0], o[1], o[2],
                                      o[3], o[4], o[5]);
}

static inline void FC_DIRECT_FN(winograd_at_rows, _)(
    int64_t n, const FC_T *restrict m0, const FC_T *restrict m1, const FC_T *restrict m2,
    const FC_T *restrict m3, const FC_T *restrict m4, const FC_T *restrict m5,
    FC_T *restrict o0, FC_T *restrict o1, FC_T *restrict o2, FC_T *restrict o3) {
    for (int64_t i = 0; i < n; i++) {
        const FC_T a = m1[i] + m2[i], b = m1[i] - m2[i];
        const FC_T c = m3[i] + m4[i], e = m3[i] - m4[i];
        o0[i] = m0[i] + a + c;
        o1[i] = b + 2 * e;
        o2[i] = a + 4 * c;
        o3[i] = b + 8 * e + m5[i];
    }
}

static void FC_DIRECT_FN(winograd_at, _)(const FC_T *const *m, int64_t n, FC_T *const *o) {
    FC_DIRECT_FN(winograd_at_rows, _)(n, m[0], m[1], m[2], m[3], m[4], m[5], o[0], o[1], o[2],
                                      o[3]);
}

/* dw's transforms: A (4 -> 6) on dy tiles, G^T (6 -> 3) on the products. */
static inline void FC_DIRECT_FN(winograd_a_rows, _)(
    int64_t n, const FC_T *restrict d0, const FC_T *restrict d1, const FC_T *restrict d2,
    const FC_T *restrict d3, FC_T *restrict o0, FC_T *restrict o1, FC_T *restrict o2,
    FC_T *restrict o3, FC_T *restrict o4, FC_T *restrict o5) {
    for (int64_t i = 0; i < n; i++) {
        const FC_T e = d0[i] + d2[i], f = d1[i] + d3[i];
        const FC_T g = d0[i] + 4 * d2[i], h = 2 * d1[i] + 8 * d3[i];
        o0[i] = d0[i];
        o1[i] = e + f;
        o2[i] = e - f;
        o3[i] = g + h;
        o4[i] = g - h;
        o5[i] = d3[i];
    }
}

static void FC_DIRECT_FN(winograd_a, _)(const FC_T *const *d, int64_t n, FC_T *const *o) {
    FC_DIRECT_FN(winograd_a_rows, _)(n, d[0], d[1], d[2], d[3], o[0], o[1], o[2], o[3], o[4],
                                     o[5]);
}

static inline void FC_DIRECT_FN(winograd_gt_rows, _)(
    int64_t n, const FC_T *restrict m0, const FC_T *restrict m1, const FC_T *restrict m2,
    const FC_T *restrict m3, const FC_T *restrict m4, const FC_T *restrict m5,
    FC_T *restrict o0, FC_T *restrict o1, FC_T *restrict o2) {
    const FC_T sixth = (FC_T)1 / 6, twelfth = (FC_T)1 / 12, twentyfourth = (FC_T)1 / 24;
    for (int64_t i = 0; i < n; i++) {
        const FC_T a = m1[i] + m2[i], b = m1[i] - m2[i];
        const FC_T c = m3[i] + m4[i], e = m3[i] - m4[i];
        o0[i] = m0[i] * (FC_T)0.25 - a * sixth + c * twentyfourth;
        o1[i] = e * twelfth - b * sixth;
        o2[i] = (c - a) * sixth + m5[i];
    }
}

static void FC_DIRECT_FN(winograd_gt, _)(const FC_T *const *m, int64_t n, FC_T *const *o) {
    FC_DIRECT_FN(winograd_gt_rows, _)(n, m[0], m[1], m[2], m[3], m[4], m[5], o[0], o[1], o[2]);
}

/* One panel of G g: len values, zeros up to nr. */
static inline void FC_DIRECT_FN(winograd_g_panel, _)(
    int64_t len, int64_t nr, const FC_T *restrict g0, const FC_T *restrict g1,
    const FC_T *restrict g2, FC_T *restrict o0, FC_T *restrict o1, FC_T *restrict o2,
    FC_T *restrict o3, FC_T *restrict o4, FC_T *restrict o5) {
    const FC_T sixth = (FC_T)1 / 6, twelfth = (FC_T)1 / 12, twentyfourth = (FC_T)1 / 24;
    int64_t j = 0;
    for (; j < len; j++) {   /* multiplies by the rounded fractions: no divisions */
        const FC_T a = g0[j], b = g1[j], c = g2[j];
        const FC_T s = a + c, t = a * twentyfourth + c * sixth, u = b * twelfth;
        o0[j] = a * (FC_T)0.25;
        o1[j] = (s + b) * -sixth;
        o2[j] = (s - b) * -sixth;
        o3[j] = t + u;
        o4[j] = t - u;
        o5[j] = c;
    }
    for (; j < nr; j++) o0[j] = o1[j] = o2[j] = o3[j] = o4[j] = o5[j] = 0;
}

static void FC_DIRECT_FN(winograd_g, _)(const FC_T *const *g, int64_t n, int64_t nr,
                                        int64_t pstride, FC_T *const *o) {
    for (int64_t q = 0; q * nr < n; q++) {
        const int64_t j0 = q * nr, p = q * pstride;
        FC_DIRECT_FN(winograd_g_panel, _)(n - j0 < nr ? n - j0 : nr, nr, g[0] + j0, g[1] + j0,
                                          g[2] + j0, o[0] + p, o[1] + p, o[2] + p, o[3] + p,
                                          o[4] + p, o[5] + p);
    }
}

/* bias_act: y[i * ldy + j] = act(x[i * ldx + j] + bias[j]) for i < rows, j < cols
 * (bias may be NULL; y may be x): the store epilogue of the GEMM, "rows" and
 * Winograd kernels, compiled for the ISA.  At the baseline ISA it cost more
 * than the products of a 1x1 layer with 32 channels (+121 %, Zen 5).
 * bias_add_act: the same with y's old value added first (a residual that y
 * holds): y = act((x + y) + bias), x apart from y. */
#define FC_ACTIVATE(v, act, alpha) \
    _Generic((v), float: fc_activate_f32, double: fc_activate_f64)(v, act, alpha)
/* One row: y[j] = act(V(j)).  The activation is chosen outside the loops, so
 * they vectorise. */
#define FC_ACT_ROW(V)                                                                   \
    switch (act) {                                                                      \
    case FC_ACT_NONE:                                                                   \
        for (int64_t j = 0; j < cols; j++) y[j] = V(j);                                 \
        break;                                                                          \
    case FC_ACT_RELU:                                                                   \
        for (int64_t j = 0; j < cols; j++) {                                            \
            const FC_T v = V(j);                                                        \
            y[j] = v < 0 ? (FC_T)0 : v;                                                 \
        }                                                                               \
        break;                                                                          \
    case FC_ACT_LEAKY_RELU:                                                             \
        for (int64_t j = 0; j < cols; j++) {                                            \
            const FC_T v = V(j);                                                        \
            y[j] = v < 0 ? alpha * v : v;                                               \
        }                                                                               \
        break;                                                                          \
    default:                                                                            \
        for (int64_t j = 0; j < cols; j++) y[j] = FC_ACTIVATE(V(j), act, alpha);        \
    }
#define FC_X_BIAS(j) (x[j] + bias[j])
#define FC_X(j) x[j]
#define FC_Y_BIAS(j) (y[j] + bias[j])
#define FC_Y(j) y[j]
#define FC_XY_BIAS(j) ((x[j] + y[j]) + bias[j])
#define FC_XY(j) (x[j] + y[j])
/* A row function: V_BIAS(j) with a bias, V(j) without. */
#define FC_DEFINE_ACT_ROW(NAME, V_BIAS, V, ...)                                            \
    static inline void FC_DIRECT_FN(NAME, _)(__VA_ARGS__, int64_t cols,                   \
                                             const FC_T *restrict bias, int act,           \
                                             FC_T alpha) {                                 \
        if (bias) {                                                                        \
            FC_ACT_ROW(V_BIAS)                                                             \
        } else {                                                                           \
            FC_ACT_ROW(V)                                                                  \
        }                                                                                  \
    }
FC_DEFINE_ACT_ROW(bias_act_into, FC_X_BIAS, FC_X, const FC_T *restrict x, FC_T *restrict y)
FC_DEFINE_ACT_ROW(bias_act_in_place, FC_Y_BIAS, FC_Y, FC_T *y)
FC_DEFINE_ACT_ROW(add_act_row, FC_XY_BIAS, FC_XY, const FC_T *restrict x, FC_T *restrict y)
static void FC_DIRECT_FN(bias_act, _)(const FC_T *x, int64_t ldx, FC_T *y, int64_t ldy,
                                      int64_t rows, int64_t cols, const FC_T *bias, int act,
                                      FC_T alpha) {
    for (int64_t i = 0; i < rows; i++, x += ldx, y += ldy)
        if (x == y)
            FC_DIRECT_FN(bias_act_in_place, _)(y, cols, bias, act, alpha);
        else
            FC_DIRECT_FN(bias_act_into, _)(x, y, cols, bias, act, alpha);
}
static void FC_DIRECT_FN(bias_add_act, _)(const FC_T *x, int64_t ldx, FC_T *y, int64_t ldy,
                                          int64_t rows, int64_t cols, const FC_T *bias, int act,
                                          FC_T alpha) {
    for (int64_t i = 0; i < rows; i++, x += ldx, y += ldy)
        FC_DIRECT_FN(add_act_row, _)(x, y, cols, bias, act, alpha);
}
#undef FC_DEFINE_ACT_ROW
#undef FC_X_BIAS
#undef FC_X
#undef FC_Y_BIAS
#undef FC_Y
#undef FC_XY_BIAS
#undef FC_XY
#undef FC_ACT_ROW
#undef FC_ACTIVATE

#include "depthwise_simd.tmpl.h"
#include "transpose_simd.tmpl.h"
#include "gemm_rows_simd.tmpl.h"
#ifdef FC_PERMUTE2
#include "group_lanes_simd.tmpl.h"
#define FC_GL_ROW FC_DIRECT_FN(gl_row, _)
#define FC_GL_WGRAD FC_DIRECT_FN(gl_wgrad, _)
#else   /* no permutes (the portable kernels): the plan does not choose them */
#define FC_GL_ROW NULL
#define FC_GL_WGRAD NULL
#endif

#define FC_DIRECT_W(KB) FC_DIRECT_NV(KB) * FC_VL
const FC_CONV_KERNELS_TYPE FC_CONV_KERNELS_TABLE = {
    FC_VL,
    {0, FC_DIRECT_W(1), FC_DIRECT_W(2), FC_DIRECT_W(3), FC_DIRECT_W(4), FC_DIRECT_W(5),
     FC_DIRECT_W(6), FC_DIRECT_W(7), FC_DIRECT_W(8)},
    {NULL, FC_DIRECT_FN(fwd, 1), FC_DIRECT_FN(fwd, 2), FC_DIRECT_FN(fwd, 3), FC_DIRECT_FN(fwd, 4),
     FC_DIRECT_FN(fwd, 5), FC_DIRECT_FN(fwd, 6), FC_DIRECT_FN(fwd, 7), FC_DIRECT_FN(fwd, 8)},
    {NULL, FC_DIRECT_FN(dw, 1), FC_DIRECT_FN(dw, 2), FC_DIRECT_FN(dw, 3), FC_DIRECT_FN(dw, 4),
     FC_DIRECT_FN(dw, 5), FC_DIRECT_FN(dw, 6), FC_DIRECT_FN(dw, 7), FC_DIRECT_FN(dw, 8)},
    FC_DIRECT_FN(store, _),
    FC_DIRECT_FN(bias_act, _),
    FC_DIRECT_FN(bias_add_act, _),
    FC_DIRECT_FN(winograd_bt, _),
    FC_DIRECT_FN(winograd_at, _),
    FC_DIRECT_FN(winograd_g, _),
    FC_DIRECT_FN(winograd_a, _),
    FC_DIRECT_FN(winograd_gt, _),
    FC_DIRECT_FN(dw_fwd, _),
    FC_DIRECT_FN(dw_dx, _),
    FC_DIRECT_FN(dw_wgrad, _),
    FC_DIRECT_FN(dw_plane_row, _),
    FC_GL_ROW,
    FC_GL_WGRAD,
    FC_DIRECT_FN(transpose, _),
    FC_DIRECT_FN(gemm_rows, _),
};
#undef FC_GL_ROW
#undef FC_GL_WGRAD
#undef FC_DIRECT_W
#undef FC_DEFINE_DIRECT
#undef FC_DIRECT_NV
#undef FC_DIRECT_NU
