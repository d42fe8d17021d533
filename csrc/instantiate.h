/* The dtype-template protocol.  A driver (gemm.c, conv.c, pool.c, ...) defines
 * FC_TEMPLATE as the name of its template header (*.tmpl.h) and includes this
 * file, which includes the template twice: with T = float, SFX = f32, then with
 * T = double, SFX = f64.  FN(name) gives name_f32 / name_f64.  Templates check
 * FC_INSTANTIATING, so including one any other way is a compile error. */
#ifndef FC_TEMPLATE
#error "define FC_TEMPLATE (the template header to instantiate) before including instantiate.h"
#endif

#define FC_CAT_(a, b) a##_##b
#define FC_CAT(a, b) FC_CAT_(a, b)
#define FN(name) FC_CAT(name, SFX)
#define FC_INSTANTIATING 1

#define T float
#define SFX f32
#include FC_TEMPLATE
#undef T
#undef SFX

#define T double
#define SFX f64
#include FC_TEMPLATE
#undef T
#undef SFX

#undef FC_INSTANTIATING
#undef FN
#undef FC_CAT
#undef FC_CAT_
#undef FC_TEMPLATE
