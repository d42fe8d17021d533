# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin bridge to the C kernels: typed memoryviews in, the C call without the GIL.

Argument checking, dtype rules and allocation of results live in the Python
modules; this file only unpacks pointers and strides.
"""
from libc.stdint cimport int64_t

cdef extern from "fastconv/fastconv.h":
    int FC_OK, FC_ENOMEM, FC_EINVAL
    int fc_isa_supported(int isa)
    int fc_best_isa()
    void fc_set_isa(int isa)
    int fc_get_isa()
    int fc_have_openmp()
    int fc_max_threads()
    void fc_set_max_threads(int n)
    const char *fc_compiler()
    int64_t fc_workspace_in_use()
    int64_t fc_workspace_peak()
    void fc_workspace_reset_peak()

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
    int fc_gemm_batched_f32(const fc_gemm_args *g, int64_t batch, const int64_t *a_off,
                            const int64_t *b_off, int64_t c_batch_stride, int nthreads) nogil
    int fc_gemm_batched_f64(const fc_gemm_args *g, int64_t batch, const int64_t *a_off,
                            const int64_t *b_off, int64_t c_batch_stride, int nthreads) nogil

    ctypedef struct fc_conv_desc:
        int64_t n, h, w, c, r, s, k, groups
        int64_t stride_h, stride_w, pad_top, pad_left, dil_h, dil_w, ho, wo
        int64_t xs[4]
        int64_t ys[4]
        int algo
    int fc_conv2d_f32(const fc_conv_desc *d, const float *x, const float *w, const float *bias,
                      int act, double act_alpha, float *y, int nthreads) nogil
    int fc_conv2d_f64(const fc_conv_desc *d, const double *x, const double *w, const double *bias,
                      int act, double act_alpha, double *y, int nthreads) nogil
    int fc_conv2d_backward_f32(const fc_conv_desc *d, const float *dy, const float *x,
                               const float *w, float *dx, const int64_t *dxs, float *dw,
                               float *db, int nthreads) nogil
    int fc_conv2d_backward_f64(const fc_conv_desc *d, const double *dy, const double *x,
                               const double *w, double *dx, const int64_t *dxs, double *dw,
                               double *db, int nthreads) nogil

    ctypedef struct fc_pool_desc:
        int64_t n, h, w, c, r, s, stride_h, stride_w, pad_top, pad_left, ho, wo
        int64_t xs[4]
        int64_t ys[4]
        int64_t dxs[4]
    int fc_max_pool2d_f32(const fc_pool_desc *d, const float *x, float *y, int nthreads) nogil
    int fc_max_pool2d_f64(const fc_pool_desc *d, const double *x, double *y, int nthreads) nogil
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

    int fc_activation_f32(int act, double alpha, const float *x, float *y, int64_t n,
                          int nthreads) nogil
    int fc_activation_f64(int act, double alpha, const double *x, double *y, int64_t n,
                          int nthreads) nogil
    int fc_activation_backward_f32(int act, double alpha, const float *dy, const float *xy,
                                   float *dx, int64_t n, int nthreads) nogil
    int fc_activation_backward_f64(int act, double alpha, const double *dy, const double *xy,
                                   double *dx, int64_t n, int nthreads) nogil
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
    int64_t fc_nms_sorted(const double *boxes, const int64_t *classes, int64_t n,
                          double iou_threshold, int64_t *keep) nogil

ctypedef fused real:
    float
    double

ISA_GENERIC, ISA_AVX2, ISA_AVX512 = 0, 1, 2
ACT_NONE, ACT_RELU, ACT_LEAKY_RELU, ACT_SIGMOID, ACT_TANH = 0, 1, 2, 3, 4


cdef inline int check(int status) except -1:
    if status == FC_ENOMEM:
        raise MemoryError("fastconv: could not allocate the kernel workspace")
    return 0


cdef inline int check_conv(int status, str func) except -1:
    if status == FC_EINVAL:
        raise ValueError(f"{func}: the algorithm asked for does not apply to this convolution: "
                         "'direct' needs stride 1, dilation 1, groups=1, an image whose padded "
                         "planar copy fits in 8 MiB, and (for dx) padding smaller than the "
                         "kernel; 'winograd' needs the same with a 3x3 kernel, the NHWC layout "
                         "and at most 131072 channel pairs (C*K); 'inplace' (dw) needs stride "
                         "1, dilation 1, groups=1 and a padded image within 8 MiB")
    return check(status)


# ---- configuration -------------------------------------------------------
def isa_supported(int isa):
    return bool(fc_isa_supported(isa))

def best_isa():
    return fc_best_isa()

def set_isa(int isa):
    fc_set_isa(isa)

def get_isa():
    return fc_get_isa()

def have_openmp():
    return bool(fc_have_openmp())

def max_threads():
    return fc_max_threads()

def set_max_threads(int n):
    fc_set_max_threads(n)

def compiler():
    return fc_compiler().decode()


def workspace_in_use():
    return fc_workspace_in_use()


def workspace_peak():
    return fc_workspace_peak()


def reset_workspace_peak():
    fc_workspace_reset_peak()


# ---- GEMM ----------------------------------------------------------------
cdef fc_gemm_args gemm_args(const real[:, :] a, const real[:, :] b, real[:, :] c,
                            double alpha, double beta, int act, double act_alpha):
    cdef fc_gemm_args g
    cdef Py_ssize_t isz = sizeof(real)
    g.m, g.n, g.k = c.shape[0], c.shape[1], a.shape[1]
    g.a, g.rsa, g.csa = &a[0, 0], a.strides[0] // isz, a.strides[1] // isz
    g.b, g.rsb, g.csb = &b[0, 0], b.strides[0] // isz, b.strides[1] // isz
    g.c, g.rsc, g.csc = &c[0, 0], c.strides[0] // isz, c.strides[1] // isz
    g.alpha, g.beta = alpha, beta
    g.bias, g.bias_per_row = NULL, 0
    g.act, g.act_alpha = act, act_alpha
    return g


def gemm(const real[:, :] a, const real[:, :] b, real[:, :] c, double alpha, double beta,
         const real[::1] bias, bint bias_per_row, int act, double act_alpha, int nthreads):
    """c = act(alpha * a @ b + beta * c + bias), in place in c."""
    cdef fc_gemm_args g = gemm_args(a, b, c, alpha, beta, act, act_alpha)
    cdef int status
    if bias is not None:
        g.bias, g.bias_per_row = &bias[0], bias_per_row
    with nogil:
        if real is float:
            status = fc_gemm_f32(&g, nthreads)
        else:
            status = fc_gemm_f64(&g, nthreads)
    check(status)


def gemm_batched(const real[:, :] a, const int64_t[::1] a_off, const real[:, :] b,
                 const int64_t[::1] b_off, real[:, :, ::1] c, int nthreads):
    """c[i] = a(i) @ b(i), where a(i) is the matrix a shifted by a_off[i] elements."""
    cdef real[:, :] c0 = c[0]
    cdef fc_gemm_args g = gemm_args(a, b, c0, 1.0, 0.0, 0, 0.0)
    cdef int64_t batch = c.shape[0], cstride = c.strides[0] // sizeof(real)
    cdef int status
    with nogil:
        if real is float:
            status = fc_gemm_batched_f32(&g, batch, &a_off[0], &b_off[0], cstride, nthreads)
        else:
            status = fc_gemm_batched_f64(&g, batch, &a_off[0], &b_off[0], cstride, nthreads)
    check(status)


# ---- convolution -----------------------------------------------------------
cdef void fill_strides(int64_t *dst, const Py_ssize_t *strides, Py_ssize_t isz):
    for i in range(4):
        dst[i] = strides[i] // isz


cdef fc_conv_desc conv_desc(tuple geometry, Py_ssize_t isz, const Py_ssize_t *xs,
                            const Py_ssize_t *ys):
    cdef fc_conv_desc d
    (d.n, d.h, d.w, d.c, d.r, d.s, d.k, d.groups, d.stride_h, d.stride_w, d.pad_top,
     d.pad_left, d.dil_h, d.dil_w, d.ho, d.wo, d.algo) = geometry
    fill_strides(d.xs, xs, isz)
    fill_strides(d.ys, ys, isz)
    return d


def conv2d(const real[:, :, :, :] x, const real[:, :, :, ::1] w, const real[::1] bias,
           real[:, :, :, :] y, tuple geometry, int act, double act_alpha, int nthreads):
    """y = act(conv(x, w) + bias); x and y are NHWC-ordered views, w is (R, S, C/g, K)."""
    cdef fc_conv_desc d = conv_desc(geometry, sizeof(real), x.strides, y.strides)
    cdef const real *bp = &bias[0] if bias is not None else NULL
    cdef int status
    with nogil:
        if real is float:
            status = fc_conv2d_f32(&d, &x[0, 0, 0, 0], &w[0, 0, 0, 0], bp, act, act_alpha,
                                   &y[0, 0, 0, 0], nthreads)
        else:
            status = fc_conv2d_f64(&d, &x[0, 0, 0, 0], &w[0, 0, 0, 0], bp, act, act_alpha,
                                   &y[0, 0, 0, 0], nthreads)
    check_conv(status, "conv2d")


def conv2d_backward(const real[:, :, :, :] dy, const real[:, :, :, :] x,
                    const real[:, :, :, ::1] w, real[:, :, :, :] dx, real[:, :, :, ::1] dw,
                    real[::1] db, tuple geometry, int nthreads):
    """dx (None to skip), dw and db of a convolution; NHWC-ordered views."""
    cdef fc_conv_desc d = conv_desc(geometry, sizeof(real), x.strides, dy.strides)
    cdef int64_t dxs[4]
    cdef real *dxp = NULL
    cdef real *dbp = &db[0] if db is not None else NULL
    cdef int status
    if dx is not None:
        fill_strides(dxs, dx.strides, sizeof(real))
        dxp = &dx[0, 0, 0, 0]
    with nogil:
        if real is float:
            status = fc_conv2d_backward_f32(&d, &dy[0, 0, 0, 0], &x[0, 0, 0, 0],
                                            &w[0, 0, 0, 0], dxp, dxs, &dw[0, 0, 0, 0], dbp,
                                            nthreads)
        else:
            status = fc_conv2d_backward_f64(&d, &dy[0, 0, 0, 0], &x[0, 0, 0, 0],
                                            &w[0, 0, 0, 0], dxp, dxs, &dw[0, 0, 0, 0], dbp,
                                            nthreads)
    check_conv(status, "conv2d_backward")


# ---- pooling ---------------------------------------------------------------
cdef fc_pool_desc pool_desc(tuple geometry):
    cdef fc_pool_desc d
    (d.n, d.h, d.w, d.c, d.r, d.s, d.stride_h, d.stride_w, d.pad_top, d.pad_left,
     d.ho, d.wo) = geometry
    return d


def pool2d(str kind, const real[:, :, :, :] x, real[:, :, :, :] y, tuple geometry,
           int nthreads):
    """kind 'max' or 'avg': y = pool(x); NHWC-ordered views."""
    cdef fc_pool_desc d = pool_desc(geometry)
    cdef bint is_max = kind == "max"
    cdef int status
    fill_strides(d.xs, x.strides, sizeof(real))
    fill_strides(d.ys, y.strides, sizeof(real))
    with nogil:
        if real is float:
            if is_max:
                status = fc_max_pool2d_f32(&d, &x[0, 0, 0, 0], &y[0, 0, 0, 0], nthreads)
            else:
                status = fc_avg_pool2d_f32(&d, &x[0, 0, 0, 0], &y[0, 0, 0, 0], nthreads)
        else:
            if is_max:
                status = fc_max_pool2d_f64(&d, &x[0, 0, 0, 0], &y[0, 0, 0, 0], nthreads)
            else:
                status = fc_avg_pool2d_f64(&d, &x[0, 0, 0, 0], &y[0, 0, 0, 0], nthreads)
    check(status)


def pool2d_backward(str kind, const real[:, :, :, :] dy, const real[:, :, :, :] x,
                    real[:, :, :, :] dx, tuple geometry, int nthreads):
    """kind 'max' (needs x) or 'avg' (x unused): dx from dy; NHWC-ordered views."""
    cdef fc_pool_desc d = pool_desc(geometry)
    cdef bint is_max = kind == "max"
    cdef int status
    fill_strides(d.xs, x.strides, sizeof(real))
    fill_strides(d.ys, dy.strides, sizeof(real))
    fill_strides(d.dxs, dx.strides, sizeof(real))
    with nogil:
        if real is float:
            if is_max:
                status = fc_max_pool2d_backward_f32(&d, &dy[0, 0, 0, 0], &x[0, 0, 0, 0],
                                                    &dx[0, 0, 0, 0], nthreads)
            else:
                status = fc_avg_pool2d_backward_f32(&d, &dy[0, 0, 0, 0], &dx[0, 0, 0, 0],
                                                    nthreads)
        else:
            if is_max:
                status = fc_max_pool2d_backward_f64(&d, &dy[0, 0, 0, 0], &x[0, 0, 0, 0],
                                                    &dx[0, 0, 0, 0], nthreads)
            else:
                status = fc_avg_pool2d_backward_f64(&d, &dy[0, 0, 0, 0], &dx[0, 0, 0, 0],
                                                    nthreads)
    check(status)


def global_avg_pool2d(const real[:, :, :, :] x, real[:, ::1] y, int nthreads):
    """y[n, c] = mean of x[n, :, :, c]; x is an NHWC-ordered view."""
    cdef fc_pool_desc d
    cdef int status
    d.n, d.h, d.w, d.c = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    fill_strides(d.xs, x.strides, sizeof(real))
    with nogil:
        if real is float:
            status = fc_global_avg_pool2d_f32(&d, &x[0, 0, 0, 0], &y[0, 0], nthreads)
        else:
            status = fc_global_avg_pool2d_f64(&d, &x[0, 0, 0, 0], &y[0, 0], nthreads)
    check(status)


# ---- element-wise ----------------------------------------------------------
def activation(int act, double alpha, const real[::1] x, real[::1] y, int nthreads):
    cdef int status
    with nogil:
        if real is float:
            status = fc_activation_f32(act, alpha, &x[0], &y[0], x.shape[0], nthreads)
        else:
            status = fc_activation_f64(act, alpha, &x[0], &y[0], x.shape[0], nthreads)
    check(status)


def activation_backward(int act, double alpha, const real[::1] dy, const real[::1] xy,
                        real[::1] dx, int nthreads):
    cdef int status
    with nogil:
        if real is float:
            status = fc_activation_backward_f32(act, alpha, &dy[0], &xy[0], &dx[0],
                                                dy.shape[0], nthreads)
        else:
            status = fc_activation_backward_f64(act, alpha, &dy[0], &xy[0], &dx[0],
                                                dy.shape[0], nthreads)
    check(status)


def softmax(const real[:, ::1] x, real[:, ::1] y, int nthreads):
    cdef int status
    with nogil:
        if real is float:
            status = fc_softmax_f32(&x[0, 0], &y[0, 0], x.shape[0], x.shape[1], nthreads)
        else:
            status = fc_softmax_f64(&x[0, 0], &y[0, 0], x.shape[0], x.shape[1], nthreads)
    check(status)


def softmax_backward(const real[:, ::1] dy, const real[:, ::1] y, real[:, ::1] dx,
                     int nthreads):
    cdef int status
    with nogil:
        if real is float:
            status = fc_softmax_backward_f32(&dy[0, 0], &y[0, 0], &dx[0, 0], dy.shape[0],
                                             dy.shape[1], nthreads)
        else:
            status = fc_softmax_backward_f64(&dy[0, 0], &y[0, 0], &dx[0, 0], dy.shape[0],
                                             dy.shape[1], nthreads)
    check(status)


# ---- batch normalisation ---------------------------------------------------------
def batchnorm_stats(const real[:, ::1] x, double[::1] mean, double[::1] var, int nthreads):
    """Per-channel mean and biased variance of the rows of x."""
    cdef int status
    with nogil:
        if real is float:
            status = fc_batchnorm_stats_f32(&x[0, 0], x.shape[0], x.shape[1], &mean[0], &var[0],
                                            nthreads)
        else:
            status = fc_batchnorm_stats_f64(&x[0, 0], x.shape[0], x.shape[1], &mean[0], &var[0],
                                            nthreads)
    check(status)


def batchnorm_apply(const real[:, ::1] x, real[:, ::1] y, const real[::1] scale,
                    const real[::1] shift, int nthreads):
    """y = x * scale + shift, per channel."""
    cdef int status
    with nogil:
        if real is float:
            status = fc_batchnorm_apply_f32(&x[0, 0], &y[0, 0], x.shape[0], x.shape[1],
                                            &scale[0], &shift[0], nthreads)
        else:
            status = fc_batchnorm_apply_f64(&x[0, 0], &y[0, 0], x.shape[0], x.shape[1],
                                            &scale[0], &shift[0], nthreads)
    check(status)


def batchnorm_backward(const real[:, ::1] dy, const real[:, ::1] x, const double[::1] mean,
                       const double[::1] inv_std, const real[::1] gamma, real[:, ::1] dx,
                       double[::1] dgamma, double[::1] dbeta, int nthreads):
    """dx, dgamma, dbeta of batch normalisation with batch statistics."""
    cdef int status
    with nogil:
        if real is float:
            status = fc_batchnorm_backward_f32(&dy[0, 0], &x[0, 0], dy.shape[0], dy.shape[1],
                                               &mean[0], &inv_std[0], &gamma[0], &dx[0, 0],
                                               &dgamma[0], &dbeta[0], nthreads)
        else:
            status = fc_batchnorm_backward_f64(&dy[0, 0], &x[0, 0], dy.shape[0], dy.shape[1],
                                               &mean[0], &inv_std[0], &gamma[0], &dx[0, 0],
                                               &dgamma[0], &dbeta[0], nthreads)
    check(status)


# ---- detection -----------------------------------------------------------------
def nms_sorted(const double[:, ::1] boxes, const int64_t[::1] classes, double iou_threshold,
               int64_t[::1] keep):
    """Greedy NMS over score-sorted boxes; returns how many positions were kept."""
    cdef const int64_t *cp = &classes[0] if classes is not None else NULL
    cdef int64_t kept
    with nogil:
        kept = fc_nms_sorted(&boxes[0, 0], cp, boxes.shape[0], iou_threshold, &keep[0])
    if kept < 0:
        raise MemoryError("fastconv: could not allocate the NMS workspace")
    return kept


def iou(const double[:, ::1] a, const double[:, ::1] b, double[:, ::1] out):
    """out = the IoU matrix of xyxy boxes a and b."""
    with nogil:
        fc_iou(&a[0, 0], a.shape[0], &b[0, 0], b.shape[0], &out[0, 0])
