/* GEMM for float32 and float64: instantiates gemm_impl.h twice. */
#include <string.h>
#include "fastconv/activation.h"
#include "fastconv/internal.h"

/* the active micro-kernel of each dtype, under the template's suffix naming */
#define fc_kernel_for_f32 fc_sgemm_kernel
#define fc_kernel_for_f64 fc_dgemm_kernel

#define FC_TEMPLATE "gemm_impl.h"
#include "instantiate.h"
