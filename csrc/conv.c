/* Convolution for float32 and float64: the names of the plan's algorithms and
 * variants, and conv.tmpl.h instantiated twice. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "activation.h"
#include "internal.h"

const char *fc_conv_algo_name(int algo) {
    static const char *const names[FC_CONV_NUM_ALGOS] = {"auto", "gemm", "direct", "winograd",
                                                         "inplace", "depthwise"};
    return algo >= 0 && algo < FC_CONV_NUM_ALGOS ? names[algo] : NULL;
}

const char *fc_conv_variant_name(int variant) {
    static const char *const names[FC_NUM_VARIANTS] = {
        "none", "im2col", "pointwise", "rows", "dy_t_col", "col_t_dy", "dcol", "col2im", "flipped",
        "grouped", "nchw", "planes", "lanes", "nhwc_chunks", "wide_rows"};
    return variant >= 0 && variant < FC_NUM_VARIANTS ? names[variant] : NULL;
}

#define FC_TEMPLATE "conv.tmpl.h"
#include "instantiate.h"
