/* Pooling for float32 and float64: instantiates pool.tmpl.h twice. */
#include <math.h>
#include <string.h>
#include "internal.h"

#define FC_TEMPLATE "pool.tmpl.h"
#include "instantiate.h"
