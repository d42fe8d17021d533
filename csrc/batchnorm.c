/* Batch normalisation for float32 and float64: instantiates batchnorm_impl.h twice. */
#include "fastconv/internal.h"

#define FC_TEMPLATE "batchnorm_impl.h"
#include "instantiate.h"
