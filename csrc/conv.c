/* Convolution for float32 and float64: instantiates conv_impl.h twice. */
#include <assert.h>
#include <string.h>
#include "fastconv/activation.h"
#include "fastconv/internal.h"

/* the active GEMM micro-kernel of each dtype, under the template's suffix naming */
#define fc_kernel_for_f32 fc_sgemm_kernel
#define fc_kernel_for_f64 fc_dgemm_kernel

#define FC_TEMPLATE "conv_impl.h"
#include "instantiate.h"
