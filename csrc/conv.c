/* Convolution for float32 and float64: instantiates conv_impl.h twice. */
#include <assert.h>
#include <string.h>
#include "fastconv/internal.h"

#define T float
#define SFX f32
#include "conv_impl.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "conv_impl.h"
