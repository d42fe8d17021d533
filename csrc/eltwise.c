/* Element-wise ops for float32 and float64: instantiates eltwise.tmpl.h twice. */
#include <math.h>
#include "activation.h"
#include "internal.h"

static inline float exp_f32(float v) { return expf(v); }
static inline double exp_f64(double v) { return exp(v); }

#define FC_TEMPLATE "eltwise.tmpl.h"
#include "instantiate.h"
