/* GEMM for float32 and float64: instantiates gemm_impl.h twice. */
#include <string.h>
#include "fastconv/activation.h"
#include "fastconv/internal.h"

#define T float
#define SFX f32
#define KERNEL fc_sgemm_kernel
#define KERNEL_TYPE fc_gemm_kernel_f32
#include "gemm_impl.h"
#undef T
#undef SFX
#undef KERNEL
#undef KERNEL_TYPE

#define T double
#define SFX f64
#define KERNEL fc_dgemm_kernel
#define KERNEL_TYPE fc_gemm_kernel_f64
#include "gemm_impl.h"
