/* Pooling for float32 and float64: instantiates pool_impl.h twice. */
#include <math.h>
#include <string.h>
#include "fastconv/internal.h"

#define T float
#define SFX f32
#include "pool_impl.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "pool_impl.h"
