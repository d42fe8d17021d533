/* Compile the rest of this file for AVX2 + FMA, whatever the global flags. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define FC_ISA_POP _Pragma("clang attribute pop")
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#define FC_ISA_POP
#endif
#include <immintrin.h>
