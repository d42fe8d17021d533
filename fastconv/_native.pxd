# Declarations of the C kernel library (csrc/include/fastconv/fastconv.h) for
# the bridge, _native.pyx, which cimports this file automatically.  The enums
# are declared here once and exposed to Python as fastconv._native.FC_*.
from libc.stdint cimport int64_t

cdef extern from "fastconv/fastconv.h":
    # The C enums, once; cpdef makes them attributes of fastconv._native too.
    cpdef enum:
        FC_OK
        FC_ENOMEM
        FC_EINVAL
    cpdef enum:
        FC_ISA_GENERIC
        FC_ISA_AVX2
        FC_ISA_AVX512
    cpdef enum:
        FC_ACT_NONE
        FC_ACT_RELU
        FC_ACT_LEAKY_RELU
        FC_ACT_SIGMOID
        FC_ACT_TANH
    cpdef enum:
        FC_CONV_AUTO
        FC_CONV_GEMM
        FC_CONV_DIRECT
        FC_CONV_WINOGRAD
        FC_CONV_INPLACE
        FC_CONV_DEPTHWISE
        FC_CONV_NUM_ALGOS
    cpdef enum:
        FC_PASS_FORWARD
        FC_PASS_DX
        FC_PASS_DW
        FC_NUM_PASSES
    cpdef enum:
        FC_NUM_VARIANTS

    int fc_isa_supported(int isa)
    const char *fc_isa_name(int isa)
    int fc_best_isa()
    void fc_set_isa(int isa)
    int fc_get_isa()
    int fc_have_openmp()
    int fc_max_threads()
    void fc_set_max_threads(int n)
    int fc_usable_cores()
    int fc_thread_bound()
    int fc_forked_serial()
    const char *fc_compiler()
    const char *fc_cflags()
    int fc_openmp_spec()
    const char *fc_openmp_library()
    void fc_cpu_features(char *buf, size_t size)
    ctypedef struct fc_cpu_caches:
        int64_t l1d, l2, l3
        const char *source
    void fc_cpu_caches_get(fc_cpu_caches *out)
    double fc_cpu_fma512_ratio()
    ctypedef struct fc_ukernel_info:
        const char *name
        const char *kind
        const char *dtype
        int isa, mr, nr, mc, kc, nc, nc_direct, edge_mr, narrow, lanes, supported, active
    int fc_ukernel_count()
    int fc_ukernel_get(int index, fc_ukernel_info *info)
    int64_t fc_workspace_in_use()
    int64_t fc_workspace_peak()
    void fc_workspace_reset_peak()
    int64_t fc_workspace_kept()
    int64_t fc_workspace_release()
    void *fc_array_alloc(size_t bytes) nogil
    size_t fc_array_size(const void *p) nogil
    void fc_array_free(void *p) nogil
    int64_t fc_array_kept()
    int64_t fc_array_release()

    ctypedef struct fc_gemm_args:
        int64_t m, n, k
        const void *a
        int64_t rsa, csa
        const void *b
        int64_t rsb, csb
        void *c
        int64_t rsc, csc
        double alpha, beta
        const void *bias
        int bias_per_row
        int act
        double act_alpha
    int fc_gemm_f32(const fc_gemm_args *g, int nthreads) nogil
    int fc_gemm_f64(const fc_gemm_args *g, int nthreads) nogil
    int fc_gemm_with_ukernel_f32(int index, const fc_gemm_args *g) nogil
    int fc_gemm_with_ukernel_f64(int index, const fc_gemm_args *g) nogil
    int fc_gemm_batched_f32(const fc_gemm_args *g, int64_t batch, const int64_t *a_off,
                            const int64_t *b_off, int64_t c_batch_stride, int nthreads) nogil
    int fc_gemm_batched_f64(const fc_gemm_args *g, int64_t batch, const int64_t *a_off,
                            const int64_t *b_off, int64_t c_batch_stride, int nthreads) nogil

    ctypedef struct fc_conv_desc:
        int64_t n, h, w, c, r, s, k, groups, cg, kg
        int64_t stride_h, stride_w, dil_h, dil_w
        int64_t pad_top, pad_bottom, pad_left, pad_right, ho, wo
        int64_t xs[4]
        int64_t ys[4]
        int64_t dxs[4]
        int algo
        int w_kcrs
        int accumulate
        const void *w_packed
        int w_packed_nr
    ctypedef struct fc_conv_pass_plan:
        int algo, variant
        char kernel[96]
        char reason[320]
    ctypedef struct fc_conv_plan:
        fc_conv_pass_plan passes "pass"[3]
    int fc_conv_plan_f32(const fc_conv_desc *d, fc_conv_plan *plan) nogil
    int fc_conv_plan_f64(const fc_conv_desc *d, fc_conv_plan *plan) nogil
    const char *fc_conv_algo_name(int algo)
    const char *fc_conv_variant_name(int variant)
    int64_t fc_conv_pack_weights_f32(const fc_conv_desc *d, const float *w, float *out,
                                     int *nr) nogil
    int64_t fc_conv_pack_weights_f64(const fc_conv_desc *d, const double *w, double *out,
                                     int *nr) nogil
    int fc_conv2d_f32(const fc_conv_desc *d, const float *x, const float *w, const float *bias,
                      int act, double act_alpha, float *y, int nthreads) nogil
    int fc_conv2d_f64(const fc_conv_desc *d, const double *x, const double *w, const double *bias,
                      int act, double act_alpha, double *y, int nthreads) nogil
    int fc_conv2d_backward_f32(const fc_conv_desc *d, const float *dy, const float *x,
                               const float *w, float *dx, float *dw, float *db,
                               int nthreads) nogil
    int fc_conv2d_backward_f64(const fc_conv_desc *d, const double *dy, const double *x,
                               const double *w, double *dx, double *dw, double *db,
                               int nthreads) nogil

    ctypedef struct fc_pool_desc:
        int64_t n, h, w, c, r, s, stride_h, stride_w, pad_top, pad_left, ho, wo
        int64_t dil_h, dil_w, pad_bottom, pad_right, count_include_pad
        int64_t xs[4]
        int64_t ys[4]
        int64_t dxs[4]
    int fc_max_pool2d_f32(const fc_pool_desc *d, const float *x, float *y, int64_t *idx,
                          int nthreads) nogil
    int fc_max_pool2d_f64(const fc_pool_desc *d, const double *x, double *y, int64_t *idx,
                          int nthreads) nogil
    int fc_avg_pool2d_f32(const fc_pool_desc *d, const float *x, float *y, int nthreads) nogil
    int fc_avg_pool2d_f64(const fc_pool_desc *d, const double *x, double *y, int nthreads) nogil
    int fc_max_pool2d_backward_f32(const fc_pool_desc *d, const float *dy, const float *x,
                                   float *dx, int nthreads) nogil
    int fc_max_pool2d_backward_f64(const fc_pool_desc *d, const double *dy, const double *x,
                                   double *dx, int nthreads) nogil
    int fc_avg_pool2d_backward_f32(const fc_pool_desc *d, const float *dy, float *dx,
                                   int nthreads) nogil
    int fc_avg_pool2d_backward_f64(const fc_pool_desc *d, const double *dy, double *dx,
                                   int nthreads) nogil
    int fc_global_avg_pool2d_f32(const fc_pool_desc *d, const float *x, float *y,
                                 int nthreads) nogil
    int fc_global_avg_pool2d_f64(const fc_pool_desc *d, const double *x, double *y,
                                 int nthreads) nogil
    int fc_max_unpool2d_f32(const fc_pool_desc *d, const float *inp, const int64_t *idx,
                            float *out, int nthreads) nogil
    int fc_max_unpool2d_f64(const fc_pool_desc *d, const double *inp, const int64_t *idx,
                            double *out, int nthreads) nogil

    int fc_activation_f32(int act, double alpha, const float *x, float *y, int64_t n,
                          int nthreads) nogil
    int fc_activation_f64(int act, double alpha, const double *x, double *y, int64_t n,
                          int nthreads) nogil
    int fc_activation_backward_f32(int act, double alpha, const float *dy, const float *xy,
                                   float *dx, int64_t n, int nthreads) nogil
    int fc_activation_backward_f64(int act, double alpha, const double *dy, const double *xy,
                                   double *dx, int64_t n, int nthreads) nogil
    int fc_sgd_update_f32(float *w, const float *g, float *v, int64_t n, double lr,
                          double momentum, int nthreads) nogil
    int fc_sgd_update_f64(double *w, const double *g, double *v, int64_t n, double lr,
                          double momentum, int nthreads) nogil
    int fc_adam_update_f32(float *w, const float *g, float *m, float *v, int64_t n, double lr,
                           double beta1, double beta2, double eps, int64_t t, int nthreads) nogil
    int fc_adam_update_f64(double *w, const double *g, double *m, double *v, int64_t n,
                           double lr, double beta1, double beta2, double eps, int64_t t,
                           int nthreads) nogil
    int fc_add_activation_f32(int act, double alpha, const float *a, const float *b, float *y,
                              int64_t n, int nthreads) nogil
    int fc_add_activation_f64(int act, double alpha, const double *a, const double *b,
                              double *y, int64_t n, int nthreads) nogil
    int fc_bias_activation_f32(float *y, const int64_t *shape, const int64_t *ys,
                               const float *bias, int act, double alpha, int nthreads) nogil
    int fc_bias_activation_f64(double *y, const int64_t *shape, const int64_t *ys,
                               const double *bias, int act, double alpha, int nthreads) nogil
    int fc_softmax_f32(const float *x, float *y, int64_t rows, int64_t cols, int nthreads) nogil
    int fc_softmax_f64(const double *x, double *y, int64_t rows, int64_t cols,
                       int nthreads) nogil
    int fc_softmax_backward_f32(const float *dy, const float *y, float *dx, int64_t rows,
                                int64_t cols, int nthreads) nogil
    int fc_softmax_backward_f64(const double *dy, const double *y, double *dx, int64_t rows,
                                int64_t cols, int nthreads) nogil

    int fc_batchnorm_stats_f32(const float *x, int64_t rows, int64_t c, double *mean,
                               double *var, int nthreads) nogil
    int fc_batchnorm_stats_f64(const double *x, int64_t rows, int64_t c, double *mean,
                               double *var, int nthreads) nogil
    int fc_batchnorm_apply_f32(const float *x, float *y, int64_t rows, int64_t c,
                               const float *scale, const float *shift, int nthreads) nogil
    int fc_batchnorm_apply_f64(const double *x, double *y, int64_t rows, int64_t c,
                               const double *scale, const double *shift, int nthreads) nogil
    int fc_batchnorm_backward_f32(const float *dy, const float *x, int64_t rows, int64_t c,
                                  const double *mean, const double *inv_std, const float *gamma,
                                  float *dx, double *dgamma, double *dbeta, int nthreads) nogil
    int fc_batchnorm_backward_f64(const double *dy, const double *x, int64_t rows, int64_t c,
                                  const double *mean, const double *inv_std,
                                  const double *gamma, double *dx, double *dgamma,
                                  double *dbeta, int nthreads) nogil

    void fc_iou(const double *a, int64_t n, const double *b, int64_t m, double *out) nogil
    int64_t fc_nms(const double *boxes, const double *scores, const int64_t *classes, int64_t n,
                   double iou_threshold, double score_threshold, int64_t max_keep,
                   int64_t *keep) nogil
