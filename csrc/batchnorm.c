/* Batch normalisation for float32 and float64: instantiates batchnorm_impl.h twice. */
#include "fastconv/internal.h"

#define T float
#define SFX f32
#include "batchnorm_impl.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "batchnorm_impl.h"
