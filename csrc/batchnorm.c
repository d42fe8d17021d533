/* Batch normalisation for float32 and float64: instantiates batchnorm.tmpl.h twice. */
#include "internal.h"

#define FC_TEMPLATE "batchnorm.tmpl.h"
#include "instantiate.h"
