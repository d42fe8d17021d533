/* Includes the template header named by FC_TEMPLATE twice: with T = float,
 * SFX = f32, then with T = double, SFX = f64.  Each driver (conv.c, pool.c, ...)
 * is one definition of FC_TEMPLATE and this include. */
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
