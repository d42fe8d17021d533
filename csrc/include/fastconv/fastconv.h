/* fastconv C kernel library: the interface the Cython bridge calls.
 *
 * Every array is described by a base pointer and element strides (which may be
 * negative), so callers pass NumPy views without copying.  Functions return 0 on
 * success, FC_ENOMEM when a workspace could not be allocated and FC_EINVAL when
 * an algorithm that was asked for does not apply; arguments are
 * validated by the Python layer, the kernels only assert them. */
#ifndef FASTCONV_FASTCONV_H
#define FASTCONV_FASTCONV_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { FC_OK = 0, FC_ENOMEM = -1, FC_EINVAL = -2 };

/* Instruction sets, in increasing order of preference. */
enum { FC_ISA_GENERIC = 0, FC_ISA_AVX2 = 1, FC_ISA_AVX512 = 2 };

/* Activations fused into the store of conv and GEMM results. */
enum { FC_ACT_NONE = 0, FC_ACT_RELU, FC_ACT_LEAKY_RELU, FC_ACT_SIGMOID, FC_ACT_TANH };

/* ---- configuration ---------------------------------------------------- */
int fc_isa_supported(int isa);
int fc_best_isa(void);
void fc_set_isa(int isa);   /* isa must be supported */
int fc_get_isa(void);
int fc_have_openmp(void);
int fc_max_threads(void);        /* omp_get_max_threads(), 1 without OpenMP */
void fc_set_max_threads(int n);  /* omp_set_num_threads(n) */
const char *fc_compiler(void);
/* Kernel workspace (bytes allocated by the kernels, outputs excluded): in use
 * now, the high-water mark, and a reset of the mark to the bytes in use. */
int64_t fc_workspace_in_use(void);
int64_t fc_workspace_peak(void);
void fc_workspace_reset_peak(void);

/* ---- matrix multiply -------------------------------------------------- */
/* C = act(alpha * A B + beta * C + bias).  A is m x k, B is k x n, C is m x n,
 * each with (row, column) element strides.  beta == 0 never reads C.
 * bias: NULL, or n values added to every row (bias_per_row = 0), or m values
 * added to every column (bias_per_row = 1). */
typedef struct {
    int64_t m, n, k;
    const void *a; int64_t rsa, csa;
    const void *b; int64_t rsb, csb;
    void *c; int64_t rsc, csc;
    double alpha, beta;
    const void *bias; int bias_per_row;
    int act; double act_alpha;
} fc_gemm_args;

int fc_gemm_f32(const fc_gemm_args *g, int nthreads);
int fc_gemm_f64(const fc_gemm_args *g, int nthreads);

/* Batched: item i uses a + a_off[i], b + b_off[i], c + i * c_batch_stride
 * (element offsets). */
int fc_gemm_batched_f32(const fc_gemm_args *g, int64_t batch, const int64_t *a_off,
                        const int64_t *b_off, int64_t c_batch_stride, int nthreads);
int fc_gemm_batched_f64(const fc_gemm_args *g, int64_t batch, const int64_t *a_off,
                        const int64_t *b_off, int64_t c_batch_stride, int nthreads);

/* ---- convolution ------------------------------------------------------ */
/* Shapes in NHWC terms; strides are element strides in (n, h, w, c) order, so an
 * NCHW array is passed as its transposed view.  Weights are (R, S, C/groups, K)
 * C-contiguous.  algo picks the algorithm: FC_CONV_AUTO chooses per shape and
 * pass; FC_CONV_DIRECT (few output channels, stride 1) and FC_CONV_WINOGRAD
 * (3x3 stride 1, unit channel strides; forward and dx, dw by GEMM) and
 * FC_CONV_INPLACE (dw only, by a GEMM reading x and dy in place, stride 1; the
 * forward pass and dx by the implicit GEMM) return FC_EINVAL where they do not
 * apply. */
enum { FC_CONV_AUTO = 0, FC_CONV_GEMM, FC_CONV_DIRECT, FC_CONV_WINOGRAD, FC_CONV_INPLACE };
typedef struct {
    int64_t n, h, w, c;            /* input */
    int64_t r, s, k;               /* kernel rows, columns, output channels */
    int64_t groups;
    int64_t stride_h, stride_w, pad_top, pad_left, dil_h, dil_w;
    int64_t ho, wo;                /* output rows, columns */
    int64_t xs[4];                 /* strides of x (and of dx in backward) */
    int64_t ys[4];                 /* strides of y (forward) or dy (backward) */
    int algo;                      /* FC_CONV_AUTO, _GEMM, _DIRECT, _WINOGRAD, _INPLACE */
} fc_conv_desc;

int fc_conv2d_f32(const fc_conv_desc *d, const float *x, const float *w, const float *bias,
                  int act, double act_alpha, float *y, int nthreads);
int fc_conv2d_f64(const fc_conv_desc *d, const double *x, const double *w, const double *bias,
                  int act, double act_alpha, double *y, int nthreads);

/* dx (strides dxs, may be NULL to skip), dw (R,S,C/groups,K contiguous) and
 * db (K, may be NULL) from dy (strides d->ys), x (strides d->xs) and w. */
int fc_conv2d_backward_f32(const fc_conv_desc *d, const float *dy, const float *x,
                           const float *w, float *dx, const int64_t dxs[4], float *dw,
                           float *db, int nthreads);
int fc_conv2d_backward_f64(const fc_conv_desc *d, const double *dy, const double *x,
                           const double *w, double *dx, const int64_t dxs[4], double *dw,
                           double *db, int nthreads);

/* ---- pooling ---------------------------------------------------------- */
typedef struct {
    int64_t n, h, w, c;
    int64_t r, s;                  /* window rows, columns */
    int64_t stride_h, stride_w, pad_top, pad_left;
    int64_t ho, wo;
    int64_t xs[4];                 /* x (forward input, backward input) */
    int64_t ys[4];                 /* y (forward output) or dy (backward) */
    int64_t dxs[4];                /* dx (backward output) */
} fc_pool_desc;

int fc_max_pool2d_f32(const fc_pool_desc *d, const float *x, float *y, int nthreads);
int fc_max_pool2d_f64(const fc_pool_desc *d, const double *x, double *y, int nthreads);
int fc_avg_pool2d_f32(const fc_pool_desc *d, const float *x, float *y, int nthreads);
int fc_avg_pool2d_f64(const fc_pool_desc *d, const double *x, double *y, int nthreads);
int fc_max_pool2d_backward_f32(const fc_pool_desc *d, const float *dy, const float *x,
                               float *dx, int nthreads);
int fc_max_pool2d_backward_f64(const fc_pool_desc *d, const double *dy, const double *x,
                               double *dx, int nthreads);
int fc_avg_pool2d_backward_f32(const fc_pool_desc *d, const float *dy, float *dx, int nthreads);
int fc_avg_pool2d_backward_f64(const fc_pool_desc *d, const double *dy, double *dx,
                               int nthreads);
/* y[n, c] = mean over h, w of x; x strides d->xs, y is (N, C) contiguous. */
int fc_global_avg_pool2d_f32(const fc_pool_desc *d, const float *x, float *y, int nthreads);
int fc_global_avg_pool2d_f64(const fc_pool_desc *d, const double *x, double *y, int nthreads);

/* ---- element-wise ----------------------------------------------------- */
/* Contiguous arrays of n elements.  Backward takes x for relu/leaky_relu and
 * the forward output y for sigmoid/tanh. */
int fc_activation_f32(int act, double alpha, const float *x, float *y, int64_t n, int nthreads);
int fc_activation_f64(int act, double alpha, const double *x, double *y, int64_t n,
                      int nthreads);
int fc_activation_backward_f32(int act, double alpha, const float *dy, const float *xy,
                               float *dx, int64_t n, int nthreads);
int fc_activation_backward_f64(int act, double alpha, const double *dy, const double *xy,
                               double *dx, int64_t n, int nthreads);
/* Row-wise softmax over contiguous (rows, cols). */
int fc_softmax_f32(const float *x, float *y, int64_t rows, int64_t cols, int nthreads);
int fc_softmax_f64(const double *x, double *y, int64_t rows, int64_t cols, int nthreads);
int fc_softmax_backward_f32(const float *dy, const float *y, float *dx, int64_t rows,
                            int64_t cols, int nthreads);
int fc_softmax_backward_f64(const double *dy, const double *y, double *dx, int64_t rows,
                            int64_t cols, int nthreads);

/* ---- batch normalisation over the rows of a contiguous (rows, C) array ---- */
/* mean and biased variance of each channel (double). */
int fc_batchnorm_stats_f32(const float *x, int64_t rows, int64_t c, double *mean, double *var,
                           int nthreads);
int fc_batchnorm_stats_f64(const double *x, int64_t rows, int64_t c, double *mean, double *var,
                           int nthreads);
/* y = x * scale + shift per channel. */
int fc_batchnorm_apply_f32(const float *x, float *y, int64_t rows, int64_t c, const float *scale,
                           const float *shift, int nthreads);
int fc_batchnorm_apply_f64(const double *x, double *y, int64_t rows, int64_t c,
                           const double *scale, const double *shift, int nthreads);
/* dx, dgamma, dbeta of y = gamma * (x - mean) * inv_std + beta with batch statistics. */
int fc_batchnorm_backward_f32(const float *dy, const float *x, int64_t rows, int64_t c,
                              const double *mean, const double *inv_std, const float *gamma,
                              float *dx, double *dgamma, double *dbeta, int nthreads);
int fc_batchnorm_backward_f64(const double *dy, const double *x, int64_t rows, int64_t c,
                              const double *mean, const double *inv_std, const double *gamma,
                              double *dx, double *dgamma, double *dbeta, int nthreads);

/* ---- detection -------------------------------------------------------- */
/* out (n, m) = IoU of xyxy boxes a (n, 4) and b (m, 4); 0 where the union is empty. */
void fc_iou(const double *a, int64_t n, const double *b, int64_t m, double *out);
/* Greedy NMS over n boxes (x1, y1, x2, y2) sorted by descending score; classes
 * NULL or per-box labels.  Writes kept positions to keep; returns their count,
 * or -1 when out of memory. */
int64_t fc_nms_sorted(const double *boxes, const int64_t *classes, int64_t n,
                      double iou_threshold, int64_t *keep);

#ifdef __cplusplus
}
#endif
#endif
