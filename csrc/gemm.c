/* GEMM for float32 and float64: instantiates gemm.tmpl.h twice. */
#include <string.h>
#include "activation.h"
#include "internal.h"

#define FC_TEMPLATE "gemm.tmpl.h"
#include "instantiate.h"
