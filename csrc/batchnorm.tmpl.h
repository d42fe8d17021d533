/* Batch normalisation over the rows of a contiguous (rows, C) array (an NHWC
 * tensor seen as N*H*W rows of C channels), for one dtype (included by
 * batchnorm.c with T and SFX).  Channel sums are accumulated in double over
 * fixed chunks of rows and the chunks are added in order, so the results do
 * not depend on the thread count. */
#ifndef FC_INSTANTIATING
#error "batchnorm.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

#define FC_BN_CHUNK 512   /* rows per partial sum */

/* sum[c] += f(row, c) over all rows, with per-chunk partials (parallel) reduced
 * in chunk order.  `mode` 0: sums of x and x^2; 1: sums of dy and dy * xhat
 * with xhat = (x - mean) * inv_std. */
static int FN(channel_sums)(int mode, const T *a, const T *x, int64_t rows, int64_t c,
                            const double *mean, const double *inv_std, double *s1, double *s2,
                            int nthreads) {
    const int64_t chunks = FC_CEIL_DIV(rows, FC_BN_CHUNK);
    double *part = (double *)fc_alloc(2 * chunks * c, sizeof(double));
    if (!part) return FC_ENOMEM;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && chunks > 1)
    for (int64_t k = 0; k < chunks; k++) {
        double *p1 = part + 2 * k * c, *p2 = p1 + c;
        for (int64_t j = 0; j < c; j++) p1[j] = p2[j] = 0;
        const int64_t end = FC_MIN(rows, (k + 1) * FC_BN_CHUNK);
        for (int64_t r = k * FC_BN_CHUNK; r < end; r++) {
            const T *ar = a + r * c;
            if (mode == 0) {
                for (int64_t j = 0; j < c; j++) {
                    p1[j] += ar[j];
                    p2[j] += (double)ar[j] * ar[j];
                }
            } else {
                const T *xr = x + r * c;
                for (int64_t j = 0; j < c; j++) {
                    p1[j] += ar[j];
                    p2[j] += (double)ar[j] * ((xr[j] - mean[j]) * inv_std[j]);
                }
            }
        }
    }
    for (int64_t j = 0; j < c; j++) s1[j] = s2[j] = 0;
    for (int64_t k = 0; k < chunks; k++)
        for (int64_t j = 0; j < c; j++) {
            s1[j] += part[2 * k * c + j];
            s2[j] += part[(2 * k + 1) * c + j];
        }
    fc_free(part);
    return FC_OK;
}

int FN(fc_batchnorm_stats)(const T *x, int64_t rows, int64_t c, double *mean, double *var,
                           int nthreads) {
    const int status = FN(channel_sums)(0, x, NULL, rows, c, NULL, NULL, mean, var, nthreads);
    if (status != FC_OK) return status;
    for (int64_t j = 0; j < c; j++) {
        mean[j] /= (double)rows;
        const double v = var[j] / (double)rows - mean[j] * mean[j];
        var[j] = v > 0 ? v : 0;
    }
    return FC_OK;
}

int FN(fc_batchnorm_apply)(const T *x, T *y, int64_t rows, int64_t c, const T *scale,
                           const T *shift, int nthreads) {
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && rows * c >= 65536)
    for (int64_t r = 0; r < rows; r++) {
        const T *restrict xr = x + r * c;
        T *restrict yr = y + r * c;
        for (int64_t j = 0; j < c; j++) yr[j] = xr[j] * scale[j] + shift[j];
    }
    return FC_OK;
}

/* dgamma = sum(dy * xhat), dbeta = sum(dy),
 * dx = gamma * inv_std / M * (M dy - dbeta - xhat * dgamma). */
int FN(fc_batchnorm_backward)(const T *dy, const T *x, int64_t rows, int64_t c,
                              const double *mean, const double *inv_std, const T *gamma, T *dx,
                              double *dgamma, double *dbeta, int nthreads) {
    const int status = FN(channel_sums)(1, dy, x, rows, c, mean, inv_std, dbeta, dgamma, nthreads);
    if (status != FC_OK) return status;
    const double m = (double)rows;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && rows * c >= 65536)
    for (int64_t r = 0; r < rows; r++) {
        const T *gr = dy + r * c, *xr = x + r * c;
        T *out = dx + r * c;
        for (int64_t j = 0; j < c; j++) {
            const double xhat = (xr[j] - mean[j]) * inv_std[j];
            out[j] = (T)(gamma[j] * inv_std[j] / m * (m * gr[j] - dbeta[j] - xhat * dgamma[j]));
        }
    }
    return FC_OK;
}

