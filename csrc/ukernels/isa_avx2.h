/* Compile the rest of this file for AVX2 + FMA, whatever the global flags; off x86
 * FC_ARCH_X86 is 0 and the including file skips its body (arch.h). */
#include "arch.h"
#if FC_ARCH_X86
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define FC_ISA_POP _Pragma("clang attribute pop")
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#define FC_ISA_POP
#endif
#include <immintrin.h>
#endif
