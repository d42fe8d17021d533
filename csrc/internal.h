/* Internal declarations shared by the kernel library's drivers. */
#ifndef FASTCONV_INTERNAL_H
#define FASTCONV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "fastconv/fastconv.h"
#include "ukernels/registry.h"

#ifdef _OPENMP
#include <omp.h>
static inline int fc_thread_id(void) { return omp_get_thread_num(); }
static inline int fc_thread_count(void) { return omp_get_num_threads(); }
#else
static inline int fc_thread_id(void) { return 0; }
static inline int fc_thread_count(void) { return 1; }
#endif

/* A barrier of a team of nth threads that splits its work by hand; nothing
 * for a lone thread, which may be inside another parallel region whose team
 * it must not wait for. */
static inline void fc_team_barrier(int nth) {
#ifdef _OPENMP
    if (nth > 1) {
#pragma omp barrier
    }
#else
    (void)nth;
#endif
}

#define FC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FC_MAX(a, b) ((a) > (b) ? (a) : (b))
#define FC_CEIL_DIV(a, b) (((a) + (b) - 1) / (b))

/* Whether a tensor of this many bytes is read from memory rather than cache:
 * at least four times L2.  The depthwise and grouped kernels, which read it a
 * few rows at a time, pixel by pixel, then fetch rows ahead (the forward pass
 * a block ahead, in its kernel; the weight gradients a row ahead,
 * fc_prefetch_row): the hardware did not, and the first touch of each line
 * stalled them.  Zen 3, 1 thread, batch 8 (until fc_prefetch, GCC had deleted
 * every one of these prefetches): MobileNet's 56x56x128 depthwise forward 7.1
 * -> 3.0 ms with the non-temporal stores of dw_fwd, its backward 16.6 -> 10.5. */
static inline int fc_beyond_l2(int64_t bytes) {
    fc_cpu_caches caches;
    fc_cpu_caches_get(&caches);
    return bytes >= 4 * caches.l2;
}

/* Asks for the cache line at p.  GCC deletes a loop whose only statements are
 * __builtin_prefetch calls (it counts them as free of side effects), so on x86
 * the instruction is volatile asm. */
#if FC_ARCH_X86
#define fc_prefetch(p) __asm__ __volatile__("prefetcht0 (%0)" : : "r"((const void *)(p)))
#else
#define fc_prefetch(p) __builtin_prefetch(p)
#endif

/* Asks for a row of w pixels (ps bytes apart) of `bytes` bytes each to be
 * brought into cache.  Rows that kernels read pixel by pixel, a few rows at a
 * time, are not all fetched ahead by the hardware: the first touch of each
 * line stalled a third of some depthwise and grouped passes. */
static inline void fc_prefetch_row(const void *row, int64_t w, int64_t ps, int64_t bytes) {
    const char *p = (const char *)row;
    for (int64_t i = 0; i < w; i++)
        for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(p + i * ps + b);
}

/* The largest register tile any micro-kernel uses (for stack scratch tiles;
 * dispatch.c checks every registered kernel against them). */
#define FC_MAX_MR 16
#define FC_MAX_NR 32
/* The largest column block (NC) of any kernel (for stack scratch rows). */
#define FC_GEMM_MAX_NC 768
/* Few-row products (fc layers, convolutions of a few pixels) meet each element
 * of B in few micro-kernel calls, so packing B would cost about as much as the
 * product: B is read in place up to this many rows.  (Measured on Zen 5:
 * 8x4096x1000 0.86 -> 0.44 ms.)  Not where B's rows are a multiple of 512
 * bytes apart: a micro-kernel walks NR columns down kc rows, and such rows
 * fall in so few cache sets (L1's 64 sets span 4 KiB, a 512 KiB 8-way L2's
 * span 64 KiB) that the walk misses L1 on every row and thrashes L2 too at
 * 1 KiB and beyond, for every row panel of A.  Measured on Zen 3 (AVX2), 1
 * thread, 1024 x 1024 B: 8 rows 0.83 ms in place, 0.54 packed, 64 rows 5.0
 * against 2.0; ResNet-50's 7x7 1x1 layers at batch 1 1.35-1.65x faster
 * packed; 49 x 832 x 384 (rows 1.5 KiB apart) 0.52 against 0.44; rows 4000
 * bytes apart (n = 1000) stay faster in place, 16 x 512 x 1000 0.22 against
 * 0.31. */
#ifndef FC_GEMM_B_IN_PLACE_MAX_M
#define FC_GEMM_B_IN_PLACE_MAX_M 64
#endif
/* Nor for B larger than a quarter of L3 (at least four L2s): the walk down
 * rows a page apart is then served from memory, where no prefetcher follows
 * it.  Zen 4 (32 MiB L3), 16-64 rows, n = 1000, 4 rounds: B of 16 MiB packed
 * 1.19-1.52x faster on 1 and 2 threads (6 of 6), of 8 MiB 0.76-1.30x, of
 * 2-4 MiB in place faster (0.70-1.11x). */
static inline int fc_b_in_place_pays(int64_t m, int64_t row_bytes, int64_t b_bytes) {
    fc_cpu_caches caches;
    fc_cpu_caches_get(&caches);
    return m <= FC_GEMM_B_IN_PLACE_MAX_M && row_bytes % 512 != 0 &&
           b_bytes <= FC_MAX(caches.l3 / 4, 4 * caches.l2);
}

/* Whether rows (i0, i1, i2) of extents ext[] lie at a uniform distance *rs
 * (offset = linear row index * rs) given the axis strides ts[].  Strides of
 * extent-1 axes are ignored: NumPy's buffer export may give them any value. */
static inline int fc_uniform_row_stride(const int64_t ts[3], const int64_t ext[3], int64_t *rs) {
    int64_t inner = 1, found = 0;
    *rs = 1;
    for (int i = 2; i >= 0; i--) {
        if (ext[i] > 1) {
            if (!found) {
                if (ts[i] % inner) return 0;
                *rs = ts[i] / inner;
                found = 1;
            } else if (ts[i] != inner * *rs) {
                return 0;
            }
        }
        inner *= ext[i];
    }
    return 1;
}

/* 64-byte aligned allocation of count * size bytes; NULL on overflow or failure. */
void *fc_alloc(int64_t count, int64_t size);
void fc_free(void *p);

/* Micro-kernel: for i < MR, j < NR,
 *   c[i*ldc + j] = alpha * sum_p A(i, p) * b[p*ldb + j] + beta * c[i*ldc + j]
 * where A(i, p) = a[(p / seg) * sga + i*lda + (p % seg) * ksa]: a holds MR rows
 * of A (a packed panel: lda = k, ksa = 1; or A itself, in place), read in
 * segments of seg steps sga apart (seg >= k: one segment; the "rows" variant
 * of conv_rows.tmpl.h reads one kernel row of the input per segment), and b
 * NR columns of B (a packed micro-panel: ldb = NR; or B itself).  beta == 0
 * must not read c (it may hold NaN).  Then, before the store, bias[j] (NR
 * values; NULL: none) is added to column j and, if relu, ReLU applied (NaN
 * kept): the store epilogue of a full tile, in registers. */
typedef void (*fc_ukernel_f32)(int64_t k, const float *a, int64_t lda, int64_t ksa,
                               const float *b, int64_t ldb, float *c, int64_t ldc, float alpha,
                               float beta, int64_t seg, int64_t sga, const float *bias, int relu);
typedef void (*fc_ukernel_f64)(int64_t k, const double *a, int64_t lda, int64_t ksa,
                               const double *b, int64_t ldb, double *c, int64_t ldc,
                               double alpha, double beta, int64_t seg, int64_t sga,
                               const double *bias, int relu);

/* The store epilogues a micro-kernel applies in registers (the others run
 * after it, on the stored tile: fc_conv_kernels_*.bias_act). */
static inline int fc_act_in_ukernel(int act) { return act == FC_ACT_NONE || act == FC_ACT_RELU; }

/* A micro-kernel with its cache blocks (derived at first use, dispatch.c);
 * nc_direct is the column block when B is read in place.  Its twins, where
 * it has them: run_half the same tile with mr / 2 rows; run_narrow (and
 * run_narrow_half) the narrow kernel of its ISA, nr / 2 columns (dispatch.c
 * links them). */
typedef struct {
    const char *name; int isa, mr, nr, mc, kc, nc, nc_direct, narrow;
    fc_ukernel_f32 run, run_half, run_narrow, run_narrow_half;
} fc_gemm_kernel_f32;
typedef struct {
    const char *name; int isa, mr, nr, mc, kc, nc, nc_direct, narrow;
    fc_ukernel_f64 run, run_half, run_narrow, run_narrow_half;
} fc_gemm_kernel_f64;

/* The kernel for an edge tile of rows x cols valid, written to a scratch
 * tile: the half-height and half-width twins where they fit (they run the
 * same sums, element by element, as the full tile, reading its packed
 * panels: the same bits).  A 12x32 tile of 16 valid columns did twice the
 * FMAs it needed: 48 output channels ran 2 calls where 1.5 do. */
#define FC_EDGE_RUN_ROWS(run, half, kd, rows) ((half) && 2 * (rows) <= (kd)->mr ? (half) : (run))
#define FC_EDGE_RUN(kd, rows, cols)                                                        \
    ((kd)->run_narrow && 2 * (cols) <= (kd)->nr                                            \
         ? FC_EDGE_RUN_ROWS((kd)->run_narrow, (kd)->run_narrow_half, kd, rows)             \
         : FC_EDGE_RUN_ROWS((kd)->run, (kd)->run_half, kd, rows))

#define FC_DECLARE_SGEMM(name, ...)                                                    \
    void fc_uk_##name(int64_t k, const float *a, int64_t lda, int64_t ksa, const float *b, \
                      int64_t ldb, float *c, int64_t ldc, float alpha, float beta,        \
                      int64_t seg, int64_t sga, const float *bias, int relu);
#define FC_DECLARE_DGEMM(name, ...)                                                    \
    void fc_uk_##name(int64_t k, const double *a, int64_t lda, int64_t ksa,              \
                      const double *b, int64_t ldb, double *c, int64_t ldc, double alpha, \
                      double beta, int64_t seg, int64_t sga, const double *bias, int relu);
/* and the half-height twins: X(name, isa, mr, nr, narrow, half) */
#define FC_DECLARE_HALF_0(decl, name)
#define FC_DECLARE_HALF_1(decl, name) decl(name##_half)
#define FC_DECLARE_SGEMM_HALF(name, isa, mr, nr, narrow, half) FC_DECLARE_HALF_##half(FC_DECLARE_SGEMM, name)
#define FC_DECLARE_DGEMM_HALF(name, isa, mr, nr, narrow, half) FC_DECLARE_HALF_##half(FC_DECLARE_DGEMM, name)
FC_SGEMM_UKERNELS(FC_DECLARE_SGEMM)
FC_DGEMM_UKERNELS(FC_DECLARE_DGEMM)
FC_SGEMM_UKERNELS(FC_DECLARE_SGEMM_HALF)
FC_DGEMM_UKERNELS(FC_DECLARE_DGEMM_HALF)
#undef FC_DECLARE_SGEMM_HALF
#undef FC_DECLARE_DGEMM_HALF
#undef FC_DECLARE_HALF_0
#undef FC_DECLARE_HALF_1
#undef FC_DECLARE_SGEMM
#undef FC_DECLARE_DGEMM

/* The convolution kernels beside the GEMM, compiled per ISA (ukernels/conv_simd.tmpl.h):
 * direct kernels for few output channels (entry kb, 1..FC_DIRECT_MAX_KB,
 * computes kb output channels over width[kb] consecutive output pixels) and
 * the Winograd F(4x4, 3x3) 1-D transforms, over n contiguous values of each row:
 *   bt: o[0..5] = B^T d[0..5]  (o0 = 4d0 - 5d2 + d4, o1,2 = (d4 - 4d2) -+ (4d1 - d3),
 *       o3,4 = (d4 - d2) -+ 2(d1 - d3), o5 = 4d1 - 5d3 + d5)
 *   at: o[0..3] = A^T m[0..5]  (o0 = m0 + (m1 + m2) + (m3 + m4), o1 = (m1 - m2) + 2(m3 - m4),
 *       o2 = (m1 + m2) + 4(m3 + m4), o3 = (m1 - m2) + 8(m3 - m4) + m5)
 *   g:  o[0..5] = G g[0..2]  (g0/4, -(g0 + g1 + g2)/6, -(g0 - g1 + g2)/6,
 *       g0/24 + g1/12 + g2/6, g0/24 - g1/12 + g2/6, g2), written as GEMM B panels:
 *       value j at o[b][(j / nr) * pstride + j % nr], zeros up to the panel's end.
 * and dw's F(3x3, 4x4), with the same points:
 *   a:  o[0..5] = A d[0..3]  (d0, (d0 + d2) +- (d1 + d3), (d0 + 4d2) +- (2d1 + 8d3), d3)
 *   gt: o[0..2] = G^T m[0..5]  (m0/4 - (m1 + m2)/6 + (m3 + m4)/24,
 *       (m3 - m4)/12 - (m1 - m2)/6, ((m3 + m4) - (m1 + m2))/6 + m5) */
#define FC_DIRECT_MAX_KB 8
#define FC_GEMM_ROWS_MAX_M 8   /* rows of A the gemm_rows kernels take */
#define FC_GL_MAX_TAPS 64   /* taps the group-lanes row kernels take (stack arrays) */
#define FC_DIRECT_DROP INT32_MIN   /* a pixel the store skips */
/* One row of a depthwise convolution as its row kernels see it (see
 * ukernels/depthwise_simd.tmpl.h): input pixel iw = wo * stride - pad + s * dil
 * meets output pixel wo through tap s; pixel strides in elements, channels at
 * unit stride. */
typedef struct {
    int64_t r, s;            /* kernel rows, taps per row */
    int64_t in_w, in_ps;     /* the rows read: pixels, pixel stride */
    int64_t out_w, out_ps;   /* the row written: pixels, pixel stride */
    int64_t k;               /* channels */
    int64_t stride, pad, dil;
    int64_t l1;              /* L1d bytes: whether the forward pass runs channel chunks */
    int64_t pf_lo, pf_hi;    /* forward, dx: rows [pf_lo, pf_hi) come from memory (fetched ahead) */
    int relu;                /* forward: ReLU applied in the store */
    int nt;                  /* forward, dx: non-temporal stores (where they fill whole lines) */
} fc_dw_row;

#define FC_DECLARE_CONV_KERNELS(T, SFX)                                                  \
    typedef void (*fc_direct_fwd_##SFX)(const T *x, int64_t plane, const int64_t *off,   \
                                        int64_t taps, int64_t ch, const T *w,             \
                                        const T *bias, T *tile);                          \
    typedef void (*fc_direct_dw_##SFX)(const T *x, const T *dy, int64_t dy_plane,         \
                                       int64_t nvec, T *out);                            \
    typedef void (*fc_direct_store_##SFX)(const T *tile, int64_t width, int kb,           \
                                          const int32_t *map, T *out, int64_t ks);        \
    typedef void (*fc_bias_act_##SFX)(const T *x, int64_t ldx, T *y, int64_t ldy,         \
                                      int64_t rows, int64_t cols, const T *bias, int act, \
                                      T alpha);                                          \
    typedef void (*fc_winograd_bt_##SFX)(const T *const *d, int64_t n, T *const *o);      \
    typedef void (*fc_winograd_at_##SFX)(const T *const *m, int64_t n, T *const *o);      \
    typedef void (*fc_winograd_g_##SFX)(const T *const *g, int64_t n, int64_t nr,         \
                                        int64_t pstride, T *const *o);                   \
    typedef void (*fc_winograd_a_##SFX)(const T *const *d, int64_t n, T *const *o);       \
    typedef void (*fc_winograd_gt_##SFX)(const T *const *m, int64_t n, T *const *o);      \
    typedef void (*fc_dw_fwd_##SFX)(const fc_dw_row *g, const T *const *rows, const T *w, \
                                    const T *bias, T *out);                              \
    typedef void (*fc_dw_dx_##SFX)(const fc_dw_row *g, const T *const *rows, const T *w,  \
                                   T *out);                                              \
    typedef void (*fc_dw_wgrad_##SFX)(const fc_dw_row *g, const T *const *rows,           \
                                      const T *dy, int64_t dy_ps, T *acc);               \
    typedef void (*fc_dw_plane_row_##SFX)(const T *const *lines, const T *w, int64_t r,   \
                                          int64_t s, int64_t dil, int64_t stride,         \
                                          int64_t n, T bias, T *out);                     \
    typedef void (*fc_gl_row_##SFX)(const fc_dw_row *g, const T *const *rows, const T *w, \
                                     int64_t gsize, const T *bias, T *out, int transposed); \
    typedef void (*fc_gl_wgrad_##SFX)(const fc_dw_row *g, const T *const *rows,           \
                                      const T *dy, int64_t dy_ps, int64_t gsize, T *dyb,  \
                                      T *acc);                                           \
    typedef void (*fc_transpose_##SFX)(const T *src, int64_t src_rs, int64_t rows,        \
                                       int64_t cols, T *dst, int64_t dst_rs);            \
    typedef void (*fc_gemm_rows_##SFX)(int64_t m, int64_t n, int64_t kc, const T *at,     \
                                       const T *b, int64_t rsb, T *sum);                 \
    typedef struct {                                                                     \
        int lanes;                                                                       \
        int width[FC_DIRECT_MAX_KB + 1];                                                 \
        fc_direct_fwd_##SFX fwd[FC_DIRECT_MAX_KB + 1];                                   \
        fc_direct_dw_##SFX dw[FC_DIRECT_MAX_KB + 1];                                     \
        fc_direct_store_##SFX store;                                                     \
        fc_bias_act_##SFX bias_act;  /* the kernels' store epilogue: bias, activation */  \
        fc_bias_act_##SFX bias_add_act;  /* the same, adding y's old value (a residual) */ \
        fc_winograd_bt_##SFX winograd_bt;                                                \
        fc_winograd_at_##SFX winograd_at;                                                \
        fc_winograd_g_##SFX winograd_g;                                                  \
        fc_winograd_a_##SFX winograd_a;      /* dw */                                     \
        fc_winograd_gt_##SFX winograd_gt;                                                \
        fc_dw_fwd_##SFX dw_fwd;      /* depthwise rows */                                 \
        fc_dw_dx_##SFX dw_dx;                                                            \
        fc_dw_wgrad_##SFX dw_wgrad;                                                      \
        fc_dw_plane_row_##SFX dw_plane_row;  /* depthwise on channel planes (NCHW) */    \
        fc_gl_row_##SFX gl_row;      /* groups on the lanes (NULL: no permutes) */        \
        fc_gl_wgrad_##SFX gl_wgrad;                                                      \
        fc_transpose_##SFX transpose;                                                    \
        fc_gemm_rows_##SFX gemm_rows;  /* few-row products streaming B's rows */          \
    } fc_conv_kernels_##SFX;                                                             \
    const fc_conv_kernels_##SFX *fc_conv_kernels_for_##SFX(void);
FC_DECLARE_CONV_KERNELS(float, f32)
FC_DECLARE_CONV_KERNELS(double, f64)
#define FC_DECLARE_CONV_TABLE(name, isa, dtype) extern const fc_conv_kernels_##dtype fc_uk_##name;
FC_CONV_UKERNELS(FC_DECLARE_CONV_TABLE)
#undef FC_DECLARE_CONV_TABLE

/* The pooling row kernels, compiled per ISA (ukernels/pool_simd.tmpl.h), for
 * undilated windows of at most 3x3 with channels at unit stride.  Along a
 * row, output pixel wo's window covers input columns wo * stride - pad + j,
 * 0 <= j < s, of those inside [0, in_w); input column w is covered by the
 * windows wlo[w] .. whi[w] (none when wlo[w] > whi[w]).  Pixel strides in elements. */
typedef struct {
    int64_t s, stride, pad;     /* window columns, column stride, left padding */
    int64_t in_w, in_ps;        /* the input (or dx) row: pixels, pixel stride */
    int64_t out_w, out_ps;      /* the output (or dy) row: pixels, pixel stride */
    int64_t c;                  /* channels */
    const int64_t *wlo, *whi;   /* avg backward only: the windows over each input column */
    int64_t dx_ps;              /* max_scatter_row only: dx's pixel stride */
} fc_pool_row;

/* Rows of nrows entries each, in window-row order:
 *   max_row / avg_row: output row `out` from its real input rows (avg: times
 *       scale[wo], 1 / the window's divisor);
 *   max_scatter_row: max backward of output row dy: each window's first
 *       maximum over its real x rows (NaN counts as the maximum) gets its dy
 *       added at the same tap of the dx rows (dx[row], pixel stride dx_ps),
 *       the window's other taps 0 added; windows in order;
 *   avg_gather_row: dx row = the sum over covering windows of dy * scale
 *       (scale_rows[row][wo]);
 *   tiles_2x2_row: forward of 2x2/2 windows without padding (rows 2 ho and
 *       2 ho + 1), max or mean, without per-pixel tap lists;
 *   max_back_2x2_row: dx rows 2 ho and 2 ho + 1 (dx[0], dx[1]; pixel stride
 *       in_ps, as the x rows) of 2x2/2 windows without padding, straight
 *       from the x rows and dy row ho: argmax and dx in one pass;
 *   avg_back_2x2_row: the same dx rows of the mean: dy / 4 at each tap;
 *   add_px: acc += the np pixel rows px, one after the other, over c
 *       contiguous channels (global average pooling). */
#define FC_DECLARE_POOL_KERNELS(T, SFX)                                                  \
    typedef struct {                                                                     \
        int lanes;                                                                       \
        void (*max_row)(const fc_pool_row *g, const T *const *rows, int nrows, T *out);  \
        void (*avg_row)(const fc_pool_row *g, const T *const *rows, int nrows,           \
                        const T *scale, T *out);                                         \
        void (*max_scatter_row)(const fc_pool_row *g, const T *const *rows, int nrows,   \
                                const T *dy, T *const *dx);                              \
        void (*avg_gather_row)(const fc_pool_row *g, const T *const *dy_rows,            \
                               const T *const *scale_rows, int nrows, T *dx);            \
        void (*tiles_2x2_row)(const fc_pool_row *g, const T *const *rows, int is_max,    \
                              T *out);                                                   \
        void (*max_back_2x2_row)(const fc_pool_row *g, const T *const *rows, const T *dy,  \
                                 T *const *dx);                                          \
        void (*avg_back_2x2_row)(const fc_pool_row *g, const T *dy, T *const *dx);        \
        void (*add_px)(T *acc, const T *const *px, int np, int64_t c);                   \
    } fc_pool_kernels_##SFX;                                                             \
    const fc_pool_kernels_##SFX *fc_pool_kernels_for_##SFX(void);
FC_DECLARE_POOL_KERNELS(float, f32)
FC_DECLARE_POOL_KERNELS(double, f64)
#define FC_DECLARE_POOL_TABLE(name, isa, dtype) extern const fc_pool_kernels_##dtype fc_uk_##name;
FC_POOL_UKERNELS(FC_DECLARE_POOL_TABLE)
#undef FC_DECLARE_POOL_TABLE

/* The active ISA's kernel for a product with n columns (see dispatch.c); the
 * _for_SFX names let dtype templates call FN(fc_gemm_kernel_for). */
const fc_gemm_kernel_f32 *fc_gemm_kernel_for_f32(int64_t n);
const fc_gemm_kernel_f64 *fc_gemm_kernel_for_f64(int64_t n);
/* The registered GEMM kernel at index i of fc_ukernel_info's numbering, or
 * NULL when it is not a GEMM kernel of that dtype. */
const fc_gemm_kernel_f32 *fc_gemm_kernel_at_f32(int i);
const fc_gemm_kernel_f64 *fc_gemm_kernel_at_f64(int i);


/* ---- the GEMM engine, shared by matmul and the convolutions ------------
 * The operands are produced by packing callbacks, so a convolution can build
 * its im2col rows while packing instead of materialising them.
 *   pack_a: rows [i0, i0+rows) (rows <= mr) and columns [p0, p0+kc) of A into
 *           the row-major panel dst[i*kc + p], zero rows for i >= rows.
 *   a_direct (optional): A itself: element (i, p) at
 *           a_direct[i*lda_direct + p*ksa_direct] (ksa_direct 0 means 1:
 *           row-major; dy^T for dw has rows 1 apart and columns a pixel
 *           apart).  Full MR-row panels are then read in place and only the
 *           last partial panel is packed.
 *   b_direct (optional): B itself when row-major: element (p, j) at
 *           b_direct[p*ldb_direct + j].  Full NR-column panels are then read
 *           in place and only the last partial panel is packed.
 *   pack_b: rows [p0, p0+kc) and columns [j0, j0+cols) (cols <= nr) of B into
 *           dst[p*nr + j], zero for j >= cols.
 *   b_panels (optional, used instead of packing): B packed once by the caller
 *           as whole-k panels of NR columns: panel q at b_panels + q*NR*k,
 *           element (p, j) at [p*NR + j % NR], zero past column n (a
 *           product that reuses B across many calls packs it once).  The
 *           plan's kernel must then be given, with that NR.
 *   pack_b_rows (optional, used instead of pack_b): rows [p0, p0+rows) and
 *           columns [j0, j0+nc) of B into all the NR-column panels of a block
 *           at once: element (p, j) at dst[(j / nr) * panel + (p - p0) * nr + j % nr],
 *           zero past column nc in the last panel.  For sources whose rows
 *           are costly to locate (im2col), which per-panel packing would
 *           locate once per panel. */
#define FC_DECLARE_GEMM_ENGINE(T, SFX)                                                   \
    typedef void (*fc_pack_a_##SFX)(const void *ctx, int64_t i0, int64_t rows, int64_t p0, \
                                    int64_t kc, int mr, T *dst);                          \
    typedef void (*fc_pack_b_##SFX)(const void *ctx, int64_t p0, int64_t kc, int64_t j0,  \
                                    int64_t cols, int nr, T *dst);                        \
    typedef void (*fc_pack_b_rows_##SFX)(const void *ctx, int64_t p0, int64_t rows,       \
                                         int64_t j0, int64_t nc, int nr, int64_t panel,   \
                                         T *dst);                                         \
    typedef struct {                                                                     \
        int64_t m, n, k;                                                                 \
        fc_pack_a_##SFX pack_a; const void *a_ctx;                                       \
        fc_pack_b_##SFX pack_b; const void *b_ctx;                                       \
        fc_pack_b_rows_##SFX pack_b_rows;                                                \
        const T *a_direct; int64_t lda_direct, ksa_direct;                               \
        const T *b_direct; int64_t ldb_direct;                                           \
        const T *b_panels;                                                               \
        T *c; int64_t rsc, csc;                                                          \
        T alpha, beta;                                                                   \
        const T *bias; int bias_per_row;                                                 \
        int act; T act_alpha;                                                            \
        const fc_gemm_kernel_##SFX *kernel; /* NULL: the active ISA's choice for n */     \
        T *scratch; int64_t scratch_len;    /* optional workspace, used when large enough */ \
    } fc_gemm_plan_##SFX;                                                                \
    /* A strided matrix as a packing source. */                                          \
    typedef struct { const T *p; int64_t rs, cs; } fc_matrix_##SFX;                      \
    void fc_pack_a_matrix_##SFX(const void *ctx, int64_t i0, int64_t rows, int64_t p0,   \
                                int64_t kc, int mr, T *dst);                             \
    void fc_pack_b_matrix_##SFX(const void *ctx, int64_t p0, int64_t kc, int64_t j0,     \
                                int64_t cols, int nr, T *dst);                           \
    /* ... and its pack_b_rows, for a row-major one (cs 1). */                           \
    void fc_pack_b_matrix_rows_##SFX(const void *ctx, int64_t p0, int64_t rows,          \
                                     int64_t j0, int64_t nc, int nr, int64_t panel,      \
                                     T *dst);                                            \
    /* Runs the plan with up to nthreads threads (1: no parallel region). */             \
    int fc_gemm_run_##SFX(const fc_gemm_plan_##SFX *plan, int nthreads);                 \
    /* The scratch (elements) the plan needs on nthreads threads, for plan->scratch. */   \
    int64_t fc_gemm_scratch_len_##SFX(const fc_gemm_plan_##SFX *plan, int nthreads);

FC_DECLARE_GEMM_ENGINE(float, f32)
FC_DECLARE_GEMM_ENGINE(double, f64)

#endif
