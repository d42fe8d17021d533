/* Pooling for float32 and float64: instantiates pool_impl.h twice. */
#include <math.h>
#include <string.h>
#include "fastconv/internal.h"

#define FC_TEMPLATE "pool_impl.h"
#include "instantiate.h"
