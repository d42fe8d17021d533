/* Activations and softmax for one dtype (included by eltwise.c with T and SFX).
 * Rows and elements are independent, so any thread split gives the same bits. */
#ifndef FC_INSTANTIATING
#error "eltwise.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

/* Below this many elements a parallel region costs more than it saves; also
 * the chunk each thread activates at a time. */
#define FC_ELTWISE_PARALLEL_MIN 32768

int FN(fc_activation)(int act, double alpha, const T *x, T *y, int64_t n, int nthreads) {
    const int64_t chunks = FC_CEIL_DIV(n, FC_ELTWISE_PARALLEL_MIN);
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && chunks > 1)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t i0 = c * FC_ELTWISE_PARALLEL_MIN;
        FN(fc_activate_array)(x + i0, y + i0, FC_MIN(FC_ELTWISE_PARALLEL_MIN, n - i0), act,
                              (T)alpha);
    }
    return FC_OK;
}

/* y = act(a + b): a residual block's sum and activation in one pass (y may be a or b). */
int FN(fc_add_activation)(int act, double alpha, const T *a, const T *b, T *y, int64_t n,
                          int nthreads) {
    const int64_t chunks = FC_CEIL_DIV(n, FC_ELTWISE_PARALLEL_MIN);
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && chunks > 1)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t i0 = c * FC_ELTWISE_PARALLEL_MIN, len = FC_MIN(FC_ELTWISE_PARALLEL_MIN, n - i0);
        for (int64_t i = i0; i < i0 + len; i++) y[i] = a[i] + b[i];
        FN(fc_activate_array)(y + i0, y + i0, len, act, (T)alpha);
    }
    return FC_OK;
}

int FN(fc_activation_backward)(int act, double alpha, const T *restrict dy, const T *restrict xy,
                               T *restrict dx, int64_t n, int nthreads) {
    const T a = (T)alpha;
    if (act == FC_ACT_RELU) {
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && n >= FC_ELTWISE_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) {   /* dy loaded outside the select: it vectorises */
            const T g = dy[i];
            dx[i] = xy[i] > 0 ? g : (T)0;
        }
    } else {
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && n >= FC_ELTWISE_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) dx[i] = FN(fc_activate_grad)(dy[i], xy[i], act, a);
    }
    return FC_OK;
}

/* In memory order: channels innermost when they are the unit stride
 * (NHWC), else each channel's rows (NCHW); rows are shared among threads. */
int FN(fc_bias_activation)(T *y, const int64_t shape[4], const int64_t ys[4], const T *bias,
                           int act, double alpha, int nthreads) {
    const int64_t n = shape[0], h = shape[1], w = shape[2], c = shape[3];
    const T a = (T)alpha;
    const int channels_last = ys[3] == 1;
    const int64_t rows = channels_last ? n * h : n * c * h;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && n * h * w * c >= FC_ELTWISE_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        if (channels_last) {
            T *row = y + (r / h) * ys[0] + (r % h) * ys[1];
            for (int64_t x = 0; x < w; x++) {
                T *px = row + x * ys[2];
                if (bias)
                    for (int64_t k = 0; k < c; k++) px[k] += bias[k];
                FN(fc_activate_array)(px, px, c, act, a);
            }
        } else {
            const int64_t k = (r / h) % c;
            T *row = y + (r / (h * c)) * ys[0] + k * ys[3] + (r % h) * ys[1];
            const T b = bias ? bias[k] : 0;
            if (ys[2] == 1) {
                for (int64_t x = 0; x < w; x++) row[x] += b;
                FN(fc_activate_array)(row, row, w, act, a);
            } else {
                for (int64_t x = 0; x < w; x++)
                    row[x * ys[2]] = FN(fc_activate)(row[x * ys[2]] + b, act, a);
            }
        }
    }
    return FC_OK;
}

int FN(fc_softmax)(const T *x, T *y, int64_t rows, int64_t cols, int nthreads) {
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && rows * cols >= FC_ELTWISE_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const T *in = x + r * cols;
        T *out = y + r * cols;
        T mx = -(T)INFINITY;
        for (int64_t j = 0; j < cols; j++)
            if (in[j] > mx || in[j] != in[j]) mx = in[j];
        T sum = 0;
        for (int64_t j = 0; j < cols; j++) sum += out[j] = FN(exp)(in[j] - mx);
        const T inv = (T)1 / sum;
        for (int64_t j = 0; j < cols; j++) out[j] *= inv;
    }
    return FC_OK;
}

/* dx = y * (dy - sum(dy * y)) row by row. */
int FN(fc_softmax_backward)(const T *dy, const T *y, T *dx, int64_t rows, int64_t cols,
                            int nthreads) {
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && rows * cols >= FC_ELTWISE_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const T *g = dy + r * cols, *p = y + r * cols;
        T dot = 0;
        for (int64_t j = 0; j < cols; j++) dot += g[j] * p[j];
        for (int64_t j = 0; j < cols; j++) dx[r * cols + j] = p[j] * (g[j] - dot);
    }
    return FC_OK;
}

