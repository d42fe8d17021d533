/* Internal declarations shared by the kernel library's drivers. */
#ifndef FASTCONV_INTERNAL_H
#define FASTCONV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "fastconv/fastconv.h"

#ifdef _OPENMP
#include <omp.h>
static inline int fc_thread_id(void) { return omp_get_thread_num(); }
static inline int fc_thread_count(void) { return omp_get_num_threads(); }
#else
static inline int fc_thread_id(void) { return 0; }
static inline int fc_thread_count(void) { return 1; }
#endif

#define FC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FC_MAX(a, b) ((a) > (b) ? (a) : (b))
#define FC_CEIL_DIV(a, b) (((a) + (b) - 1) / (b))

/* The largest register tile any micro-kernel uses (for stack scratch tiles). */
#define FC_MAX_MR 16
#define FC_MAX_NR 32
/* The largest column block (NC) of any kernel (for stack scratch rows). */
#define FC_GEMM_MAX_NC 768

/* 64-byte aligned allocation of count * size bytes; NULL on overflow or failure. */
void *fc_alloc(int64_t count, int64_t size);
void fc_free(void *p);

/* Micro-kernel: for i < MR, j < NR,
 *   c[i*ldc + j] = alpha * sum_p a[i*lda + p*ksa] * b[p*ldb + j] + beta * c[i*ldc + j]
 * where a holds MR rows of A (a packed panel: lda = k, ksa = 1; or A itself,
 * in place) and b NR columns of B (a packed micro-panel: ldb = NR; or B
 * itself).  beta == 0 must not read c (it may hold NaN). */
typedef void (*fc_ukernel_f32)(int64_t k, const float *a, int64_t lda, int64_t ksa,
                               const float *b, int64_t ldb, float *c, int64_t ldc, float alpha,
                               float beta);
typedef void (*fc_ukernel_f64)(int64_t k, const double *a, int64_t lda, int64_t ksa,
                               const double *b, int64_t ldb, double *c, int64_t ldc,
                               double alpha, double beta);

/* A micro-kernel with the cache blocking tuned for it. */
typedef struct { int mr, nr, mc, kc, nc; fc_ukernel_f32 run; } fc_gemm_kernel_f32;
typedef struct { int mr, nr, mc, kc, nc; fc_ukernel_f64 run; } fc_gemm_kernel_f64;

extern const fc_gemm_kernel_f32 fc_sgemm_generic, fc_sgemm_avx2, fc_sgemm_avx512;
extern const fc_gemm_kernel_f64 fc_dgemm_generic, fc_dgemm_avx2, fc_dgemm_avx512;
/* Half-width tiles for products with few columns. */
extern const fc_gemm_kernel_f32 fc_sgemm_avx2_narrow, fc_sgemm_avx512_narrow;
extern const fc_gemm_kernel_f64 fc_dgemm_avx2_narrow, fc_dgemm_avx512_narrow;

/* The convolution kernels beside the GEMM, compiled per ISA (ukernels/conv_simd.h):
 * direct kernels for few output channels (entry kb, 1..FC_DIRECT_MAX_KB,
 * computes kb output channels over width[kb] consecutive output pixels) and
 * the Winograd F(2x2, 3x3) 1-D transforms, applied to n values of four rows:
 *   bt: (o0, o1, o2, o3) = B^T (d0, d1, d2, d3) = (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
 *   at: (o0, o1) = A^T (m0, m1, m2, m3) = (m0 + m1 + m2, m1 - m2 - m3) */
#define FC_DIRECT_MAX_KB 8
#define FC_DIRECT_DROP INT32_MIN   /* a pixel the store skips */
#define FC_DECLARE_CONV_KERNELS(T, SFX)                                                  \
    typedef void (*fc_direct_fwd_##SFX)(const T *x, int64_t plane, const int64_t *off,   \
                                        int64_t taps, int64_t ch, const T *w,             \
                                        const T *bias, T *tile);                          \
    typedef void (*fc_direct_dw_##SFX)(const T *x, const T *dy, int64_t dy_plane,         \
                                       int64_t nvec, T *out);                            \
    typedef void (*fc_direct_store_##SFX)(const T *tile, int64_t width, int kb,           \
                                          const int32_t *map, T *out, int64_t ks);        \
    typedef void (*fc_winograd_bt_##SFX)(const T *d0, const T *d1, const T *d2,           \
                                         const T *d3, int64_t n, T *o0, T *o1, T *o2,     \
                                         T *o3);                                          \
    typedef void (*fc_winograd_at_##SFX)(const T *m0, const T *m1, const T *m2,           \
                                         const T *m3, int64_t n, T *o0, T *o1);           \
    typedef struct {                                                                     \
        int lanes;                                                                       \
        int width[FC_DIRECT_MAX_KB + 1];                                                 \
        fc_direct_fwd_##SFX fwd[FC_DIRECT_MAX_KB + 1];                                   \
        fc_direct_dw_##SFX dw[FC_DIRECT_MAX_KB + 1];                                     \
        fc_direct_store_##SFX store;                                                     \
        fc_winograd_bt_##SFX winograd_bt;                                                \
        fc_winograd_at_##SFX winograd_at;                                                \
    } fc_conv_kernels_##SFX;                                                             \
    extern const fc_conv_kernels_##SFX fc_conv_generic_##SFX, fc_conv_avx2_##SFX,         \
        fc_conv_avx512_##SFX;                                                            \
    const fc_conv_kernels_##SFX *fc_conv_kernels_for_##SFX(void);
FC_DECLARE_CONV_KERNELS(float, f32)
FC_DECLARE_CONV_KERNELS(double, f64)

/* The active ISA's kernel for a product with n columns (see dispatch.c). */
const fc_gemm_kernel_f32 *fc_sgemm_kernel(int64_t n);
const fc_gemm_kernel_f64 *fc_dgemm_kernel(int64_t n);

/* ---- the GEMM engine, shared by matmul and the convolutions ------------
 * The operands are produced by packing callbacks, so a convolution can build
 * its im2col rows while packing instead of materialising them.
 *   pack_a: rows [i0, i0+rows) (rows <= mr) and columns [p0, p0+kc) of A into
 *           the row-major panel dst[i*kc + p], zero rows for i >= rows.
 *   a_direct (optional): A itself when it is row-major (unit column stride):
 *           element (i, p) at a_direct[i*lda_direct + p].  Full MR-row panels
 *           are then read in place and only the last partial panel is packed.
 *   pack_b: rows [p0, p0+kc) and columns [j0, j0+cols) (cols <= nr) of B into
 *           dst[p*nr + j], zero for j >= cols.
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
        const T *a_direct; int64_t lda_direct;                                           \
        T *c; int64_t rsc, csc;                                                          \
        T alpha, beta;                                                                   \
        const T *bias; int bias_per_row;                                                 \
        int act; T act_alpha;                                                            \
    } fc_gemm_plan_##SFX;                                                                \
    /* A strided matrix as a packing source. */                                          \
    typedef struct { const T *p; int64_t rs, cs; } fc_matrix_##SFX;                      \
    void fc_pack_a_matrix_##SFX(const void *ctx, int64_t i0, int64_t rows, int64_t p0,   \
                                int64_t kc, int mr, T *dst);                             \
    void fc_pack_b_matrix_##SFX(const void *ctx, int64_t p0, int64_t kc, int64_t j0,     \
                                int64_t cols, int nr, T *dst);                           \
    /* Runs the plan with up to nthreads threads (1: no parallel region). */             \
    int fc_gemm_run_##SFX(const fc_gemm_plan_##SFX *plan, int nthreads);

FC_DECLARE_GEMM_ENGINE(float, f32)
FC_DECLARE_GEMM_ENGINE(double, f64)

#endif
