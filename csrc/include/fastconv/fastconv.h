/* fastconv C kernel library: the interface the Cython bridge calls.
 *
 * Every array is described by a base pointer and element strides (which may be
 * negative), so callers pass NumPy views without copying.  Functions return 0 on
 * success, FC_ENOMEM when a workspace could not be allocated and FC_EINVAL when
 * an algorithm that was asked for does not apply; arguments are
 * validated by the Python layer, the kernels only assert them. */
#ifndef FASTCONV_FASTCONV_H
#define FASTCONV_FASTCONV_H

#include <stddef.h>
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
const char *fc_isa_name(int isa);   /* "generic", "avx2" or "avx512" */
int fc_best_isa(void);
void fc_set_isa(int isa);   /* isa must be supported */
int fc_get_isa(void);
int fc_have_openmp(void);
/* Threads a call made now from this thread should use: omp_get_max_threads()
 * capped at fc_thread_bound(); 1 without OpenMP, and 1 in a child forked from
 * a thread that had run threads (GNU libgomp's pool does not survive fork). */
int fc_max_threads(void);
void fc_set_max_threads(int n);  /* omp_set_num_threads(n): this thread's setting */
int fc_usable_cores(void);       /* the cores this process may run on */
int fc_thread_bound(void);       /* 4 x fc_usable_cores(), at most OpenMP's thread limit */
int fc_forked_serial(void);      /* 1 in a forked child that runs single-threaded */
const char *fc_compiler(void);
const char *fc_cflags(void);     /* the flags the kernels were compiled with */
int fc_openmp_spec(void);        /* _OPENMP at compile time (e.g. 201511), 0 without OpenMP */
const char *fc_openmp_library(void);  /* the file the OpenMP runtime was loaded from, or "" */
/* The CPU features that matter to the kernels, as the compiler's run-time
 * check sees them: a space-separated list, e.g. "sse4.2 avx avx2 fma avx512f",
 * written into buf (cut short to fit size bytes with its terminating zero). */
void fc_cpu_features(char *buf, size_t size);
/* The data caches the GEMM blocking is derived from: L1 data and L2 per core,
 * L3 (0: none reported) in bytes, and where the sizes came from ("cpuid",
 * "sysfs" or "default"). */
typedef struct { int64_t l1d, l2, l3; const char *source; } fc_cpu_caches;
void fc_cpu_caches_get(fc_cpu_caches *out);
/* The float32 FMA rate of 512-bit vectors over that of 256-bit ones, measured
 * once (about 1 where the units are 256 bits wide, 2 where they are 512); 0
 * without AVX-512. */
double fc_cpu_fma512_ratio(void);

/* The registered micro-kernels, numbered 0 .. fc_ukernel_count() - 1. */
typedef struct {
    const char *name;      /* e.g. "sgemm_avx512_12x32", "sconv_avx2" */
    const char *kind;      /* "gemm", "conv" (direct kernels and Winograd transforms) or "pool" */
    const char *dtype;     /* "f32" or "f64" */
    int isa;               /* FC_ISA_* it needs */
    int mr, nr, mc, kc, nc, narrow;   /* GEMM: tile, and cache blocks derived from fc_cpu_caches */
    int nc_direct;         /* GEMM: the column block when B is read in place */
    int edge_mr;           /* GEMM: rows of the twin that runs edge tiles of at most that many (0: none) */
    int lanes;             /* conv: pixels per vector */
    int supported;         /* this CPU can run it */
    int active;            /* the active kernel set uses it */
} fc_ukernel_info;
int fc_ukernel_count(void);
int fc_ukernel_get(int index, fc_ukernel_info *info);   /* FC_EINVAL past the end */
/* Kernel workspace (bytes allocated by the kernels, outputs excluded): in use
 * now, the high-water mark, and a reset of the mark to the bytes in use.
 * Freed blocks of 128 KiB or more are kept for reuse (up to 64 MiB):
 * fc_workspace_kept says how many bytes, fc_workspace_release frees them and
 * returns how many. */
int64_t fc_workspace_in_use(void);
int64_t fc_workspace_peak(void);
void fc_workspace_reset_peak(void);
int64_t fc_workspace_kept(void);
int64_t fc_workspace_release(void);
/* Memory for NumPy arrays (the allocation handler a training step installs):
 * 64-byte aligned blocks of at least `bytes`, or NULL; fc_array_size gives
 * the bytes a block was asked for (rounded up to 64).  Freed blocks of 128
 * KiB or more are kept for reuse, up to 256 MiB in 64 blocks: fc_array_kept
 * says how many bytes, fc_array_release frees them and returns how many. */
void *fc_array_alloc(size_t bytes);
size_t fc_array_size(const void *p);
void fc_array_free(void *p);
int64_t fc_array_kept(void);
int64_t fc_array_release(void);

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

/* The same product with registered micro-kernel `index` (fc_ukernel_info's
 * numbering), on one thread: FC_EINVAL when that kernel is not a GEMM kernel
 * of this dtype or this CPU cannot run it.  For tests of every kernel. */
int fc_gemm_with_ukernel_f32(int index, const fc_gemm_args *g);
int fc_gemm_with_ukernel_f64(int index, const fc_gemm_args *g);

/* Batched: item i uses a + a_off[i], b + b_off[i], c + i * c_batch_stride
 * (element offsets). */
int fc_gemm_batched_f32(const fc_gemm_args *g, int64_t batch, const int64_t *a_off,
                        const int64_t *b_off, int64_t c_batch_stride, int nthreads);
int fc_gemm_batched_f64(const fc_gemm_args *g, int64_t batch, const int64_t *a_off,
                        const int64_t *b_off, int64_t c_batch_stride, int nthreads);

/* ---- convolution ------------------------------------------------------ */
/* Shapes in NHWC terms; strides are element strides in (n, h, w, c) order, so an
 * NCHW array is passed as its transposed view.  Weights are (R, S, C/groups, K)
 * C-contiguous (the forward pass also takes (K, C/groups, R, S): w_kcrs).  algo asks for an algorithm; fc_conv_plan_* says which one runs
 * for each pass, how, and why (the rule lives in conv_plan.tmpl.h alone). */
enum { FC_CONV_AUTO = 0, FC_CONV_GEMM, FC_CONV_DIRECT, FC_CONV_WINOGRAD, FC_CONV_INPLACE,
       FC_CONV_DEPTHWISE, FC_CONV_NUM_ALGOS };
enum { FC_PASS_FORWARD = 0, FC_PASS_DX, FC_PASS_DW, FC_NUM_PASSES };
/* How a pass runs within its algorithm. */
enum {
    FC_VARIANT_NONE = 0,
    FC_VARIANT_IM2COL,     /* GEMM, im2col rows built while packing (forward) */
    FC_VARIANT_POINTWISE,  /* GEMM reading the input's pixel rows in place (1x1) */
    FC_VARIANT_ROWS,       /* GEMM reading each kernel row's receptive field in place (few channels) */
    FC_VARIANT_DY_T_COL,   /* dw^T = dy^T col: im2col packed as B (many pixels) */
    FC_VARIANT_COL_T_DY,   /* dw = col^T dy (fewer pixels than output channels) */
    FC_VARIANT_DCOL,       /* dx = dcol W^T, dcol packed from dy (stride 1) */
    FC_VARIANT_COL2IM,     /* dx: blocks of dy W^T added back to x's pixels (stride > 1) */
    FC_VARIANT_FLIPPED,    /* dx as a forward convolution of dy with the flipped kernel */
    FC_VARIANT_GROUPED,    /* depthwise kernels on a grouped convolution (cg > 1 input planes) */
    FC_VARIANT_NCHW,       /* GEMM on channels-first tensors: y^T = W^T col^T, per image */
    FC_VARIANT_PLANES,     /* depthwise forward (and stride-1 dx) on channels-first planes */
    FC_VARIANT_LANES,      /* depthwise kernels, whole groups on the lanes (cg = kg = 2..16) */
    FC_VARIANT_NHWC_CHUNKS, /* channels-first forward on NHWC copies of a few images at a time */
    FC_VARIANT_WIDE_ROWS,  /* depthwise forward and dw on input rows copied a cache line wider
                              per pixel (stride 1; pixels a multiple of 2 KiB apart alias in L1) */
    FC_NUM_VARIANTS
};
typedef struct {
    int64_t n, h, w, c;            /* input */
    int64_t r, s, k;               /* kernel rows, columns, output channels */
    int64_t groups, cg, kg;        /* groups; input and output channels per group */
    int64_t stride_h, stride_w, dil_h, dil_w;
    int64_t pad_top, pad_bottom, pad_left, pad_right;
    int64_t ho, wo;                /* output rows, columns */
    int64_t xs[4];                 /* strides of x */
    int64_t ys[4];                 /* strides of y (forward) or dy (backward) */
    int64_t dxs[4];                /* strides of dx (backward) */
    int algo;                      /* the algorithm asked for: FC_CONV_AUTO, _GEMM, ... */
    int w_kcrs;                    /* fc_conv2d_*: w is (K, C/groups, R, S) C-contiguous (channels-
                                      first weights, read in place by the NCHW GEMM) */
    int accumulate;                /* fc_conv2d_*: y holds a residual r on entry, and becomes
                                      act(conv + bias + r); the GEMM and Winograd algorithms
                                      only (the plan picks no other, and refuses them) */
    const void *w_packed;          /* fc_conv2d_*: NULL, or fc_conv_pack_weights' copy of w for
                                      this geometry, packed for NR-column kernels: */
    int w_packed_nr;               /* used when the forward pass's GEMM kernel has this NR */
} fc_conv_desc;

/* One pass of the plan.  algo is FC_EINVAL when the algorithm asked for does
 * not apply; reason then says why, else why this algorithm was chosen. */
typedef struct {
    int algo, variant;
    char kernel[96];               /* the micro-kernel(s) it runs, e.g. "f32 gemm 12x32 avx512" */
    char reason[320];
} fc_conv_pass_plan;
typedef struct { fc_conv_pass_plan pass[FC_NUM_PASSES]; } fc_conv_plan;

/* The plan for every pass of d; returns FC_EINVAL when any pass does not apply. */
int fc_conv_plan_f32(const fc_conv_desc *d, fc_conv_plan *plan);
int fc_conv_plan_f64(const fc_conv_desc *d, fc_conv_plan *plan);
const char *fc_conv_algo_name(int algo);        /* "auto", "gemm", ...; NULL past the end */
const char *fc_conv_variant_name(int variant);  /* "im2col", ...; NULL past the end */

/* Forward weights (R, S, C, K) packed once for repeated fc_conv2d calls of d
 * (an inference plan's layer): the elements of the packed copy, 0 when d's
 * forward pass would not read it (not a GEMM on NHWC pixel rows, or, ungrouped,
 * enough pixels that packing per call costs little).  With out non-NULL, fills out
 * and *nr; pass both in d->w_packed and d->w_packed_nr. */
int64_t fc_conv_pack_weights_f32(const fc_conv_desc *d, const float *w, float *out, int *nr);
int64_t fc_conv_pack_weights_f64(const fc_conv_desc *d, const double *w, double *out, int *nr);

/* Run the plan's forward pass; FC_EINVAL when it does not apply. */
int fc_conv2d_f32(const fc_conv_desc *d, const float *x, const float *w, const float *bias,
                  int act, double act_alpha, float *y, int nthreads);
int fc_conv2d_f64(const fc_conv_desc *d, const double *x, const double *w, const double *bias,
                  int act, double act_alpha, double *y, int nthreads);

/* dx (strides d->dxs; NULL skips it), dw (R,S,C/groups,K contiguous; NULL
 * skips it, and x is then not read) and db (K; NULL skips it) from dy (strides
 * d->ys), x (strides d->xs) and w.  dx alone is a transposed convolution of dy.
 * The plan reads dxs even when dx is skipped (channels-first tensors run both
 * passes on NHWC copies): give x's strides there for the dw of a call with dx. */
int fc_conv2d_backward_f32(const fc_conv_desc *d, const float *dy, const float *x,
                           const float *w, float *dx, float *dw, float *db, int nthreads);
int fc_conv2d_backward_f64(const fc_conv_desc *d, const double *dy, const double *x,
                           const double *w, double *dx, double *dw, double *db, int nthreads);

/* ---- pooling ---------------------------------------------------------- */
/* Window (ho, wo) reads the taps x[ho * stride_h - pad_top + i * dil_h,
 * wo * stride_w - pad_left + j * dil_w], 0 <= i < r, 0 <= j < s, that lie
 * inside the input.  Average pooling divides by the number of those taps, or
 * with count_include_pad by the number inside the padded input (pad_bottom
 * and pad_right bound it; ceil mode's windows may reach past it). */
typedef struct {
    int64_t n, h, w, c;
    int64_t r, s;                  /* window rows, columns */
    int64_t stride_h, stride_w, pad_top, pad_left;
    int64_t ho, wo;
    int64_t dil_h, dil_w;          /* tap spacing, >= 1 */
    int64_t pad_bottom, pad_right;
    int64_t count_include_pad;     /* 0 or 1 (average pooling) */
    int64_t xs[4];                 /* x (forward input, backward input) */
    int64_t ys[4];                 /* y (forward output) or dy (backward) */
    int64_t dxs[4];                /* dx (backward output) */
} fc_pool_desc;

/* idx: NULL, or (with strides d->ys) the position h * W + w of each maximum
 * in its image's plane (the first maximum, a NaN counting as the maximum). */
int fc_max_pool2d_f32(const fc_pool_desc *d, const float *x, float *y, int64_t *idx,
                      int nthreads);
int fc_max_pool2d_f64(const fc_pool_desc *d, const double *x, double *y, int64_t *idx,
                      int nthreads);
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
/* The inverse of max pooling with indices: out (n, h, w, c; strides d->dxs)
 * is zero but for out[n, p / w, p % w, c] = in[n, i, j, c] with
 * p = idx[n, i, j, c]; in and idx are (n, ho, wo, c) with strides d->ys.
 * Returns FC_EINVAL (out partly written) when an index is outside [0, h * w). */
int fc_max_unpool2d_f32(const fc_pool_desc *d, const float *in, const int64_t *idx, float *out,
                        int nthreads);
int fc_max_unpool2d_f64(const fc_pool_desc *d, const double *in, const int64_t *idx,
                        double *out, int nthreads);

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
/* y = act(a + b) over n contiguous elements (y may alias a or b): a residual sum. */
int fc_add_activation_f32(int act, double alpha, const float *a, const float *b, float *y,
                          int64_t n, int nthreads);
int fc_add_activation_f64(int act, double alpha, const double *a, const double *b, double *y,
                          int64_t n, int nthreads);
/* y[n, h, w, c] = act(y + bias[c]) in place (bias NULL: no bias); shape
 * (n, h, w, c), element strides ys. */
int fc_bias_activation_f32(float *y, const int64_t shape[4], const int64_t ys[4],
                           const float *bias, int act, double alpha, int nthreads);
int fc_bias_activation_f64(double *y, const int64_t shape[4], const int64_t ys[4],
                           const double *bias, int act, double alpha, int nthreads);
/* ---- optimizer updates (in place, n contiguous elements) ------------- */
/* SGD, PyTorch's momentum: v = momentum v + g, w -= lr v (v NULL: w -= lr g). */
int fc_sgd_update_f32(float *w, const float *g, float *v, int64_t n, double lr, double momentum,
                      int nthreads);
int fc_sgd_update_f64(double *w, const double *g, double *v, int64_t n, double lr,
                      double momentum, int nthreads);
/* Adam, step t >= 1: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
 * w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps). */
int fc_adam_update_f32(float *w, const float *g, float *m, float *v, int64_t n, double lr,
                       double beta1, double beta2, double eps, int64_t t, int nthreads);
int fc_adam_update_f64(double *w, const double *g, double *m, double *v, int64_t n, double lr,
                       double beta1, double beta2, double eps, int64_t t, int nthreads);
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
/* Greedy NMS over n boxes (x1, y1, x2, y2) with scores, of those scoring at
 * least score_threshold, highest score first (ties: lower index first);
 * classes NULL or per-box labels (boxes of different labels never suppress
 * each other).  Writes the kept indices to keep (n long), stopping after
 * max_keep of them (< 0: no limit); returns their count, or -1 when out of
 * memory. */
int64_t fc_nms(const double *boxes, const double *scores, const int64_t *classes, int64_t n,
               double iou_threshold, double score_threshold, int64_t max_keep, int64_t *keep);

#ifdef __cplusplus
}
#endif
#endif
