/* The target architecture, in one place.  The AVX2 and AVX-512 micro-kernels
 * (and cpuid, __builtin_cpu_supports) exist only on x86; elsewhere (aarch64
 * Linux, arm64 macOS) their files compile to nothing, their registry rows
 * vanish, and the portable generic kernels run. */
#ifndef FASTCONV_ARCH_H
#define FASTCONV_ARCH_H

#if defined(__x86_64__) || defined(__i386__)
#define FC_ARCH_X86 1
#else
#define FC_ARCH_X86 0
#endif

#endif
