/* Optimizer updates (SGD with momentum, Adam) for float32 and float64:
 * instantiates optim.tmpl.h twice. */
#include <math.h>
#include "internal.h"

/* Below this many elements a parallel region costs more than it saves. */
#define FC_OPTIM_PARALLEL_MIN 65536

static inline float fc_sqrt_f32(float v) { return sqrtf(v); }
static inline double fc_sqrt_f64(double v) { return sqrt(v); }

#define FC_TEMPLATE "optim.tmpl.h"
#include "instantiate.h"
