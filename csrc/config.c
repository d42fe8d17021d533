/* Build and thread configuration: OpenMP, thread count, compiler. */
#include "internal.h"

#ifndef FC_COMPILER
#define FC_COMPILER "unknown"
#endif

int fc_have_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int fc_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void fc_set_max_threads(int n) {
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}

const char *fc_compiler(void) { return FC_COMPILER; }
