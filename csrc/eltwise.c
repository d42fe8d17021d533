/* Element-wise ops for float32 and float64: instantiates eltwise_impl.h twice. */
#include <math.h>
#include "fastconv/activation.h"
#include "fastconv/internal.h"

static inline float exp_f32(float v) { return expf(v); }
static inline double exp_f64(double v) { return exp(v); }

#define T float
#define SFX f32
#include "eltwise_impl.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "eltwise_impl.h"
