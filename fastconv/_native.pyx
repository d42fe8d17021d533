# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin bridge to the C kernels: typed memoryviews in, the C call without the GIL.

Argument checking, dtype rules and allocation of results live in the Python
modules; this file only unpacks pointers and strides.
"""
from libc.stdint cimport int64_t, SIZE_MAX
from libc.string cimport memset, memcpy, strncpy
from cpython.pycapsule cimport PyCapsule_New
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_RECORDS,
                            PyBUF_RECORDS_RO, PyBUF_C_CONTIGUOUS, PyBUF_FORMAT)

ctypedef fused real:
    float
    double



cdef inline int check(int status) except -1:
    if status == FC_ENOMEM:
        raise MemoryError("fastconv: could not allocate the kernel workspace")
    return 0


# ---- configuration -------------------------------------------------------
def isa_supported(int isa):
    return bool(fc_isa_supported(isa))

def isa_name(int isa):
    return fc_isa_name(isa).decode()

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

def usable_cores():
    return fc_usable_cores()

def thread_bound():
    return fc_thread_bound()

def forked_serial():
    return bool(fc_forked_serial())

def compiler():
    return fc_compiler().decode()

def cflags():
    return fc_cflags().decode()

def openmp_spec():
    return fc_openmp_spec()

def openmp_library():
    return fc_openmp_library().decode()

def cpu_features():
    cdef char buf[256]
    fc_cpu_features(buf, sizeof(buf))
    return buf.decode().split()

def cpu_caches():
    """The detected data caches in bytes (l1d, l2 per core; l3) and their source."""
    cdef fc_cpu_caches c
    fc_cpu_caches_get(&c)
    return dict(l1d=c.l1d, l2=c.l2, l3=c.l3, source=c.source.decode())


def fma512_ratio():
    """The float32 FMA rate of 512-bit vectors over 256-bit ones, measured once
    (about 1: 256-bit units, as Zen 4; about 2: full-width); 0 without AVX-512."""
    return fc_cpu_fma512_ratio()


def ukernels():
    """The registered micro-kernels (csrc/ukernels/registry.h), as dicts."""
    cdef fc_ukernel_info info
    out = []
    for i in range(fc_ukernel_count()):
        fc_ukernel_get(i, &info)
        out.append(dict(index=i, name=info.name.decode(), kind=info.kind.decode(),
                        dtype=info.dtype.decode(), isa=info.isa, mr=info.mr, nr=info.nr,
                        mc=info.mc, kc=info.kc, nc=info.nc, nc_direct=info.nc_direct,
                        edge_mr=info.edge_mr, narrow=bool(info.narrow),
                        lanes=info.lanes, supported=bool(info.supported),
                        active=bool(info.active)))
    return out


def workspace_in_use():
    return fc_workspace_in_use()


def workspace_peak():
    return fc_workspace_peak()


def reset_workspace_peak():
    fc_workspace_reset_peak()


def workspace_kept():
    return fc_workspace_kept()


def release_workspace():
    return fc_workspace_release()


def array_blocks_kept():
    return fc_array_kept()


def release_array_blocks():
    return fc_array_release()


# ---- NumPy arrays in fastconv's kept blocks -------------------------------
# An allocation handler (NumPy's PyDataMem_Handler) over fc_array_alloc: a
# training step installs it (fastconv.kept_array_blocks), so its arrays of
# 128 KiB or more reuse the last step's blocks instead of faulting in fresh
# pages.  Arrays remember their handler: one freed later comes back here.
cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyDataMemAllocator:
        void *ctx
        void *(*malloc)(void *ctx, size_t size) noexcept nogil
        void *(*calloc)(void *ctx, size_t nelem, size_t elsize) noexcept nogil
        void *(*realloc)(void *ctx, void *ptr, size_t new_size) noexcept nogil
        void (*free)(void *ctx, void *ptr, size_t size) noexcept nogil
    ctypedef struct PyDataMem_Handler:
        char name[127]
        unsigned char version
        PyDataMemAllocator allocator
    object PyDataMem_SetHandler(object handler)
    int _import_array() except -1


cdef void *array_malloc(void *ctx, size_t size) noexcept nogil:
    return fc_array_alloc(size)


cdef void *array_calloc(void *ctx, size_t nelem, size_t elsize) noexcept nogil:
    if elsize and nelem > SIZE_MAX // elsize:
        return NULL
    cdef void *p = fc_array_alloc(nelem * elsize)
    if p:
        memset(p, 0, nelem * elsize)
    return p


cdef void *array_realloc(void *ctx, void *ptr, size_t new_size) noexcept nogil:
    cdef void *p = fc_array_alloc(new_size)
    if p and ptr:   # on failure ptr stays valid, as realloc's contract says
        memcpy(p, ptr, min(fc_array_size(ptr), new_size))
        fc_array_free(ptr)
    return p


cdef void array_free(void *ctx, void *ptr, size_t size) noexcept nogil:
    fc_array_free(ptr)


_import_array()
cdef PyDataMem_Handler kept_blocks_handler
strncpy(kept_blocks_handler.name, b"fastconv_kept_blocks", 127)
kept_blocks_handler.version = 1
kept_blocks_handler.allocator.ctx = NULL
kept_blocks_handler.allocator.malloc = array_malloc
kept_blocks_handler.allocator.calloc = array_calloc
kept_blocks_handler.allocator.realloc = array_realloc
kept_blocks_handler.allocator.free = array_free
_kept_blocks_capsule = PyCapsule_New(&kept_blocks_handler, "mem_handler", NULL)


def set_array_handler(handler):
    """Installs handler (None: fastconv's kept blocks) as NumPy's allocation
    handler in the current context; returns the one it replaces."""
    return PyDataMem_SetHandler(_kept_blocks_capsule if handler is None else handler)


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


def data_address(arr):
    """The address of a contiguous array's first byte (a tenth of the time of
    arr.ctypes.data, which builds a ctypes object)."""
    cdef Py_buffer view
    PyObject_GetBuffer(arr, &view, PyBUF_C_CONTIGUOUS)
    cdef size_t address = <size_t>view.buf
    PyBuffer_Release(&view)
    return address


cdef int matrix_view(object arr, Py_buffer *view, int flags, Py_ssize_t isz,
                     const char *name) except -1:
    """Acquires arr's buffer and checks it holds elements of isz bytes (the caller
    releases the view whether or not this raises)."""
    PyObject_GetBuffer(arr, view, flags)
    if view.itemsize != isz or view.format[0] not in b"fd" or view.format[1] != 0:
        raise TypeError(f"gemm: {name} must hold the same float type as c")
    return 0


def gemm(a, b, c, double alpha, double beta, bias, bint bias_per_row, int act,
         double act_alpha, int nthreads):
    """c = act(alpha * a @ b + beta * c + bias), in place in c (2-D float32 or
    float64 buffers of one dtype; bias None or 1-D contiguous).  Raw buffers,
    not typed memoryviews: acquiring those dominated the call on tiny products."""
    cdef Py_buffer views[4]
    cdef int held = 0, status, f64
    cdef fc_gemm_args g
    cdef Py_ssize_t isz
    try:
        PyObject_GetBuffer(c, &views[0], PyBUF_RECORDS)
        held = 1
        isz = views[0].itemsize
        if views[0].ndim != 2 or isz not in (4, 8):
            raise TypeError("gemm: c must be a 2-D float32 or float64 array")
        f64 = isz == 8
        matrix_view(a, &views[1], PyBUF_RECORDS_RO, isz, "a")
        held = 2
        matrix_view(b, &views[2], PyBUF_RECORDS_RO, isz, "b")
        held = 3
        if views[1].ndim != 2 or views[2].ndim != 2:
            raise TypeError("gemm: a and b must be 2-D")
        g.m, g.n, g.k = views[0].shape[0], views[0].shape[1], views[1].shape[1]
        g.a, g.rsa, g.csa = views[1].buf, views[1].strides[0] // isz, views[1].strides[1] // isz
        g.b, g.rsb, g.csb = views[2].buf, views[2].strides[0] // isz, views[2].strides[1] // isz
        g.c, g.rsc, g.csc = views[0].buf, views[0].strides[0] // isz, views[0].strides[1] // isz
        g.alpha, g.beta = alpha, beta
        g.bias, g.bias_per_row = NULL, 0
        g.act, g.act_alpha = act, act_alpha
        if bias is not None:
            matrix_view(bias, &views[3], PyBUF_C_CONTIGUOUS | PyBUF_FORMAT, isz, "bias")
            held = 4
            g.bias, g.bias_per_row = views[3].buf, bias_per_row
        with nogil:
            if f64:
                status = fc_gemm_f64(&g, nthreads)
            else:
                status = fc_gemm_f32(&g, nthreads)
        check(status)
    finally:
        for i in range(held):
            PyBuffer_Release(&views[i])


def gemm_with_ukernel(int index, const real[:, :] a, const real[:, :] b, real[:, :] c,
                      double alpha, double beta):
    """c = alpha * a @ b + beta * c with registered micro-kernel `index`, one thread."""
    cdef fc_gemm_args g = gemm_args(a, b, c, alpha, beta, FC_ACT_NONE, 0.0)
    cdef int status
    with nogil:
        if real is float:
            status = fc_gemm_with_ukernel_f32(index, &g)
        else:
            status = fc_gemm_with_ukernel_f64(index, &g)
    if status == FC_EINVAL:
        raise ValueError(f"gemm_with_ukernel: kernel {index} is not a runnable GEMM kernel of "
                         "this dtype")
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


cdef fc_conv_desc conv_desc(geo, Py_ssize_t isz, const Py_ssize_t *xs, const Py_ssize_t *ys,
                            const Py_ssize_t *dxs):
    """The C descriptor of a conv.ConvGeometry, field by field; strides in bytes
    (dxs may be NULL: no dx)."""
    cdef fc_conv_desc d
    memset(&d, 0, sizeof(d))
    d.n, d.h, d.w, d.c = geo.n, geo.h, geo.w, geo.c
    d.r, d.s, d.k = geo.r, geo.s, geo.k
    d.groups, d.cg, d.kg = geo.groups, geo.cg, geo.kg
    d.stride_h, d.stride_w = geo.stride
    d.dil_h, d.dil_w = geo.dilation
    (d.pad_top, d.pad_bottom), (d.pad_left, d.pad_right) = geo.pads
    d.ho, d.wo = geo.ho, geo.wo
    d.algo = geo.algorithm
    fill_strides(d.xs, xs, isz)
    fill_strides(d.ys, ys, isz)
    if dxs != NULL:
        fill_strides(d.dxs, dxs, isz)
    return d


PASS_NAMES = {FC_PASS_FORWARD: "forward", FC_PASS_DX: "dx", FC_PASS_DW: "dw"}
ALGORITHM_NAMES = [fc_conv_algo_name(a).decode() for a in range(FC_CONV_NUM_ALGOS)]


cdef dict plan_of(const fc_conv_desc *d, bint f64):
    """{pass: {algorithm, variant, micro_kernel, reason}} of the C plan."""
    cdef fc_conv_plan plan
    if f64:
        fc_conv_plan_f64(d, &plan)
    else:
        fc_conv_plan_f32(d, &plan)
    result = {}
    for p in range(FC_NUM_PASSES):
        algo = plan.passes[p].algo
        result[PASS_NAMES[p]] = {
            "algorithm": fc_conv_algo_name(algo).decode() if algo >= 0 else None,
            "variant": fc_conv_variant_name(plan.passes[p].variant).decode(),
            "micro_kernel": plan.passes[p].kernel.decode(),
            "reason": plan.passes[p].reason.decode(),
        }
    return result


def conv_plan(geo, bint f64, xs, ys, dxs, bint accumulate=False):
    """The plan for geometry geo with element strides xs, ys and dxs (tuples of 4);
    accumulate: the forward pass adds into y (a residual)."""
    cdef Py_ssize_t ex[4]
    cdef Py_ssize_t ey[4]
    cdef Py_ssize_t edx[4]
    for i in range(4):
        ex[i], ey[i], edx[i] = xs[i], ys[i], dxs[i]
    cdef fc_conv_desc d = conv_desc(geo, 1, ex, ey, edx)   # strides already in elements
    d.accumulate = accumulate
    return plan_of(&d, f64)


cdef int check_conv(int status, const fc_conv_desc *d, bint f64, str func,
                    tuple passes) except -1:
    """FC_EINVAL: the algorithm asked for does not apply to one of the passes
    that ran; say why, in the plan's words."""
    if status == FC_EINVAL:
        plan = plan_of(d, f64)
        for name in passes:
            if plan[name]["algorithm"] is None:
                raise ValueError(f"{func}: {plan[name]['reason']} (the {name} pass)")
    return check(status)


def conv_pack_weights(const real[:, :, :, ::1] w, geo, real[::1] out=None):
    """(elements, nr) of w (R, S, C, K) packed once for conv2d calls of geo on
    C-contiguous NHWC x and y (fc_conv_pack_weights; 0 elements where their
    forward pass would not read a packed copy); with out, also packs into it."""
    cdef Py_ssize_t isz = sizeof(real)
    cdef Py_ssize_t xs[4]
    cdef Py_ssize_t ys[4]
    xs[:] = [geo.h * geo.w * geo.c * isz, geo.w * geo.c * isz, geo.c * isz, isz]
    ys[:] = [geo.ho * geo.wo * geo.k * isz, geo.wo * geo.k * isz, geo.k * isz, isz]
    cdef fc_conv_desc d = conv_desc(geo, isz, xs, ys, NULL)
    cdef int nr = 0
    cdef int64_t size
    if real is float:
        size = fc_conv_pack_weights_f32(&d, &w[0, 0, 0, 0], NULL, &nr)
    else:
        size = fc_conv_pack_weights_f64(&d, &w[0, 0, 0, 0], NULL, &nr)
    if out is None or size == 0:
        return size, nr
    if out.shape[0] != size:
        raise ValueError(f"conv_pack_weights: out has {out.shape[0]} elements, not {size}")
    with nogil:
        if real is float:
            fc_conv_pack_weights_f32(&d, &w[0, 0, 0, 0], &out[0], &nr)
        else:
            fc_conv_pack_weights_f64(&d, &w[0, 0, 0, 0], &out[0], &nr)
    return size, nr


def conv2d(const real[:, :, :, :] x, const real[:, :, :, ::1] w, const real[::1] bias,
           real[:, :, :, :] y, geo, int act, double act_alpha, int nthreads, bint w_kcrs=False,
           bint accumulate=False, const real[::1] w_packed=None, int w_packed_nr=0):
    """y = act(conv(x, w) + bias (+ y's old value, with accumulate)); x and y are
    NHWC-ordered views, w is (R, S, C/g, K), or with w_kcrs (K, C/g, R, S);
    w_packed, w_packed_nr: conv_pack_weights' result for this geometry, or None."""
    cdef fc_conv_desc d = conv_desc(geo, sizeof(real), x.strides, y.strides, NULL)
    d.w_kcrs = w_kcrs
    d.accumulate = accumulate
    if w_packed is not None:
        d.w_packed = &w_packed[0]
        d.w_packed_nr = w_packed_nr
    cdef const real *bp = &bias[0] if bias is not None else NULL
    cdef int status
    with nogil:
        if real is float:
            status = fc_conv2d_f32(&d, &x[0, 0, 0, 0], &w[0, 0, 0, 0], bp, act, act_alpha,
                                   &y[0, 0, 0, 0], nthreads)
        else:
            status = fc_conv2d_f64(&d, &x[0, 0, 0, 0], &w[0, 0, 0, 0], bp, act, act_alpha,
                                   &y[0, 0, 0, 0], nthreads)
    check_conv(status, &d, real is double, "conv2d", ("forward",))


def conv2d_backward(const real[:, :, :, :] dy, const real[:, :, :, :] x,
                    const real[:, :, :, ::1] w, real[:, :, :, :] dx, real[:, :, :, ::1] dw,
                    real[::1] db, geo, int nthreads):
    """dx, dw and db of a convolution, each None to skip it (x too when dw is
    skipped); NHWC-ordered views.  dx alone is a transposed convolution of dy."""
    cdef const Py_ssize_t *xs = &dx.strides[0] if x is None else &x.strides[0]
    # skipped dx: x's strides, so that the plan (which may depend on dx's
    # layout) is the one a call with dx makes, and dw's bits are the same
    cdef const Py_ssize_t *dxs = &dx.strides[0] if dx is not None else xs
    cdef fc_conv_desc d = conv_desc(geo, sizeof(real), xs, dy.strides, dxs)
    cdef const real *xp = &x[0, 0, 0, 0] if x is not None else NULL
    cdef real *dxp = &dx[0, 0, 0, 0] if dx is not None else NULL
    cdef real *dwp = &dw[0, 0, 0, 0] if dw is not None else NULL
    cdef real *dbp = &db[0] if db is not None else NULL
    cdef int status
    with nogil:
        if real is float:
            status = fc_conv2d_backward_f32(&d, &dy[0, 0, 0, 0], xp, &w[0, 0, 0, 0], dxp, dwp,
                                            dbp, nthreads)
        else:
            status = fc_conv2d_backward_f64(&d, &dy[0, 0, 0, 0], xp, &w[0, 0, 0, 0], dxp, dwp,
                                            dbp, nthreads)
    check_conv(status, &d, real is double, "conv2d_backward",
               (("dw",) if dw is not None else ()) + (("dx",) if dx is not None else ()))


def bias_activation(real[:, :, :, :] y, const real[::1] bias, int act, double act_alpha,
                    int nthreads):
    """y = act(y + bias) in place; y an NHWC-ordered view."""
    cdef int64_t shape[4]
    cdef int64_t ys[4]
    cdef const real *bp = &bias[0] if bias is not None else NULL
    cdef int status
    for i in range(4):
        shape[i] = y.shape[i]
    fill_strides(ys, y.strides, sizeof(real))
    with nogil:
        if real is float:
            status = fc_bias_activation_f32(&y[0, 0, 0, 0], shape, ys, bp, act, act_alpha,
                                            nthreads)
        else:
            status = fc_bias_activation_f64(&y[0, 0, 0, 0], shape, ys, bp, act, act_alpha,
                                            nthreads)
    check(status)


# ---- pooling ---------------------------------------------------------------
cdef int same_strides(const Py_ssize_t *index_strides, const Py_ssize_t *strides,
                      Py_ssize_t isz) except -1:
    """The kernels address an int64 index tensor with its values' element strides."""
    for i in range(4):
        if index_strides[i] // 8 != strides[i] // isz:
            raise ValueError("fastconv: an index tensor must be laid out like its values")
    return 0


cdef fc_pool_desc pool_desc(geo):
    """The C descriptor of a pool.PoolGeometry, field by field (strides are
    filled by the caller)."""
    cdef fc_pool_desc d
    memset(&d, 0, sizeof(d))
    d.n, d.h, d.w, d.c = geo.n, geo.h, geo.w, geo.c
    d.r, d.s = geo.size
    d.stride_h, d.stride_w = geo.stride
    d.dil_h, d.dil_w = geo.dilation
    (d.pad_top, d.pad_bottom), (d.pad_left, d.pad_right) = geo.pads
    d.count_include_pad = geo.count_include_pad
    d.ho, d.wo = geo.ho, geo.wo
    return d


def pool2d(str kind, const real[:, :, :, :] x, real[:, :, :, :] y, int64_t[:, :, :, :] idx,
           geometry, int nthreads):
    """kind 'max' or 'avg': y = pool(x), and for max the argmax positions in
    idx (None to skip); NHWC-ordered views, idx strided like y."""
    cdef fc_pool_desc d = pool_desc(geometry)
    cdef bint is_max = kind == "max"
    cdef int64_t *ip = NULL
    cdef int status
    if idx is not None:
        same_strides(idx.strides, y.strides, sizeof(real))
        ip = &idx[0, 0, 0, 0]
    fill_strides(d.xs, x.strides, sizeof(real))
    fill_strides(d.ys, y.strides, sizeof(real))
    with nogil:
        if real is float:
            if is_max:
                status = fc_max_pool2d_f32(&d, &x[0, 0, 0, 0], &y[0, 0, 0, 0], ip, nthreads)
            else:
                status = fc_avg_pool2d_f32(&d, &x[0, 0, 0, 0], &y[0, 0, 0, 0], nthreads)
        else:
            if is_max:
                status = fc_max_pool2d_f64(&d, &x[0, 0, 0, 0], &y[0, 0, 0, 0], ip, nthreads)
            else:
                status = fc_avg_pool2d_f64(&d, &x[0, 0, 0, 0], &y[0, 0, 0, 0], nthreads)
    check(status)


def max_unpool2d(const real[:, :, :, :] x, const int64_t[:, :, :, :] idx, real[:, :, :, :] out,
                 geometry, int nthreads):
    """out = the inverse of max pooling; NHWC-ordered views, idx strided like x.
    Returns False when an index was outside its plane."""
    cdef fc_pool_desc d = pool_desc(geometry)
    cdef int status
    same_strides(idx.strides, x.strides, sizeof(real))
    fill_strides(d.ys, x.strides, sizeof(real))
    fill_strides(d.dxs, out.strides, sizeof(real))
    with nogil:
        if real is float:
            status = fc_max_unpool2d_f32(&d, &x[0, 0, 0, 0], &idx[0, 0, 0, 0], &out[0, 0, 0, 0],
                                         nthreads)
        else:
            status = fc_max_unpool2d_f64(&d, &x[0, 0, 0, 0], &idx[0, 0, 0, 0], &out[0, 0, 0, 0],
                                         nthreads)
    if status == FC_EINVAL:
        return False
    check(status)
    return True


def pool2d_backward(str kind, const real[:, :, :, :] dy, const real[:, :, :, :] x,
                    real[:, :, :, :] dx, geometry, int nthreads):
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


def add_activation(int act, double alpha, const real[::1] a, const real[::1] b, real[::1] y,
                   int nthreads):
    cdef int status
    with nogil:
        if real is float:
            status = fc_add_activation_f32(act, alpha, &a[0], &b[0], &y[0], a.shape[0], nthreads)
        else:
            status = fc_add_activation_f64(act, alpha, &a[0], &b[0], &y[0], a.shape[0], nthreads)
    check(status)


def sgd_update(real[::1] w, const real[::1] g, real[::1] v, double lr, double momentum,
               int nthreads):
    """v None: plain gradient descent."""
    cdef int status
    cdef real *vp = NULL if v is None else &v[0]
    with nogil:
        if real is float:
            status = fc_sgd_update_f32(&w[0], &g[0], vp, w.shape[0], lr, momentum, nthreads)
        else:
            status = fc_sgd_update_f64(&w[0], &g[0], vp, w.shape[0], lr, momentum, nthreads)
    check(status)


def adam_update(real[::1] w, const real[::1] g, real[::1] m, real[::1] v, double lr,
                double beta1, double beta2, double eps, int64_t t, int nthreads):
    cdef int status
    with nogil:
        if real is float:
            status = fc_adam_update_f32(&w[0], &g[0], &m[0], &v[0], w.shape[0], lr, beta1,
                                        beta2, eps, t, nthreads)
        else:
            status = fc_adam_update_f64(&w[0], &g[0], &m[0], &v[0], w.shape[0], lr, beta1,
                                        beta2, eps, t, nthreads)
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
def nms(const double[:, ::1] boxes, const double[::1] scores, const int64_t[::1] classes,
        double iou_threshold, double score_threshold, int64_t max_keep, int64_t[::1] keep):
    """Greedy NMS; writes the kept indices to keep and returns how many."""
    cdef const int64_t *cp = &classes[0] if classes is not None else NULL
    cdef int64_t kept
    with nogil:
        kept = fc_nms(&boxes[0, 0], &scores[0], cp, boxes.shape[0], iou_threshold,
                      score_threshold, max_keep, &keep[0])
    if kept < 0:
        raise MemoryError("fastconv: could not allocate the NMS workspace")
    return kept


def iou(const double[:, ::1] a, const double[:, ::1] b, double[:, ::1] out):
    """out = the IoU matrix of xyxy boxes a and b."""
    with nogil:
        fc_iou(&a[0, 0], a.shape[0], &b[0, 0], b.shape[0], &out[0, 0])
