/* Optimizer updates for one dtype (included by optim.c with T, SFX, FN): one
 * pass over a parameter and its state.  Every element is updated on its own,
 * so any thread split gives the same bits. */
#ifndef FC_INSTANTIATING
#error "optim.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

int FN(fc_sgd_update)(T *restrict w, const T *restrict g, T *restrict v, int64_t n, double lr,
                      double momentum, int nthreads) {
    const T rate = (T)lr, mom = (T)momentum;
    if (n < 0) return FC_EINVAL;
    if (v == NULL) {
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && n >= FC_OPTIM_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) w[i] -= rate * g[i];
    } else {
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && n >= FC_OPTIM_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) {
            const T vi = mom * v[i] + g[i];
            v[i] = vi;
            w[i] -= rate * vi;
        }
    }
    return FC_OK;
}

int FN(fc_adam_update)(T *restrict w, const T *restrict g, T *restrict m, T *restrict v,
                       int64_t n, double lr, double beta1, double beta2, double eps, int64_t t,
                       int nthreads) {
    if (n < 0 || t < 1) return FC_EINVAL;
    const T b1 = (T)beta1, b2 = (T)beta2, c1 = (T)(1 - beta1), c2 = (T)(1 - beta2);
    /* the bias corrections of step t, as factors */
    const T corr1 = (T)(1 / (1 - pow(beta1, (double)t)));
    const T corr2 = (T)(1 / (1 - pow(beta2, (double)t)));
    const T rate = (T)lr, e = (T)eps;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && n >= FC_OPTIM_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        const T gi = g[i];
        const T mi = b1 * m[i] + c1 * gi;
        const T vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] -= rate * (mi * corr1) / (FN(fc_sqrt)(vi * corr2) + e);
    }
    return FC_OK;
}
