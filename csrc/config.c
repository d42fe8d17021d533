/* Build and thread configuration: OpenMP, thread count and its bound, what a
 * forked child does, compiler and flags, and the CPU features show_config
 * reports. */
#define _GNU_SOURCE      /* dladdr */
#include <dlfcn.h>
#include <limits.h>
#include <string.h>
#include <stdatomic.h>
#include <stddef.h>
#include <unistd.h>

#include "internal.h"

#ifdef _OPENMP
#include <pthread.h>
#endif

#ifndef FC_COMPILER
#define FC_COMPILER "unknown"
#endif
#ifndef FC_CFLAGS
#define FC_CFLAGS "unknown"
#endif

/* How many threads a call may use at most: 4 x the usable cores, and never
 * more than OpenMP's thread limit.  Computed once (0: not yet). */
static atomic_int thread_bound;

int fc_have_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int fc_usable_cores(void) {
#ifdef _OPENMP
    int n = omp_get_num_procs();          /* the cores this process may run on */
#else
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n > INT_MAX) n = INT_MAX;
#endif
    return n > 0 ? (int)n : 1;
}

int fc_thread_bound(void) {
    int bound = atomic_load_explicit(&thread_bound, memory_order_relaxed);
    if (bound > 0) return bound;
    int64_t b = 4 * (int64_t)fc_usable_cores();
#ifdef _OPENMP
    int limit = omp_get_thread_limit();
    if (limit > 0 && limit < b) b = limit;
#endif
    bound = b > INT_MAX ? INT_MAX : (int)b;
    atomic_store_explicit(&thread_bound, bound, memory_order_relaxed);
    return bound;
}

#ifdef _OPENMP
/* Fork safety.  GNU libgomp keeps the worker threads of a thread's parallel
 * regions in a pool owned by that thread.  fork() copies the pool's records
 * but not its threads, so a child forked from a thread that has run a parallel
 * region waits forever for them in its first region with more than one
 * thread.  fastconv notes, per thread, when it handed out more than one
 * thread (may_own_pool), and a pthread_atfork child handler, which runs in the
 * child's only thread (the copy of the forking one), makes every later call
 * in such a child run on one thread: a region of one thread never touches the
 * pool.  A child forked from a thread that never ran threads keeps its thread
 * count (libgomp starts a fresh pool for it). */
static _Thread_local int may_own_pool;
static atomic_int forked_serial;   /* 1 in a child forked after threads ran */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void) {
    if (may_own_pool) atomic_store(&forked_serial, 1);
}

static void register_atfork(void) {
    (void)pthread_atfork(NULL, NULL, on_fork_child);
}
#endif

int fc_forked_serial(void) {
#ifdef _OPENMP
    return atomic_load_explicit(&forked_serial, memory_order_relaxed);
#else
    return 0;
#endif
}

int fc_max_threads(void) {
#ifdef _OPENMP
    (void)pthread_once(&atfork_once, register_atfork);
    if (fc_forked_serial()) return 1;
    int n = omp_get_max_threads();
    int bound = fc_thread_bound();
    if (n > bound) n = bound;
    if (n > 1) may_own_pool = 1;
    return n;
#else
    return 1;
#endif
}

void fc_set_max_threads(int n) {
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}

const char *fc_compiler(void) { return FC_COMPILER; }

const char *fc_cflags(void) { return FC_CFLAGS; }

int fc_openmp_spec(void) {
#ifdef _OPENMP
    return _OPENMP;
#else
    return 0;
#endif
}

const char *fc_openmp_library(void) {
#ifdef _OPENMP
    Dl_info info;
    if (dladdr((void *)&omp_get_max_threads, &info) && info.dli_fname) return info.dli_fname;
#endif
    return "";
}

void fc_cpu_features(char *buf, size_t size) {
    size_t used = 0;
#if FC_ARCH_X86
#define FC_FEATURE(name)                                                     \
    if (__builtin_cpu_supports(name) && used + sizeof(name) <= size) {      \
        memcpy(buf + used, name " ", sizeof(name));                          \
        used += sizeof(name);                                                \
    }
    FC_FEATURE("sse4.2") FC_FEATURE("avx") FC_FEATURE("avx2") FC_FEATURE("fma")
    FC_FEATURE("avx512f") FC_FEATURE("avx512dq") FC_FEATURE("avx512bw")
    FC_FEATURE("avx512vl") FC_FEATURE("avx512vnni")
#undef FC_FEATURE
#endif
    if (size == 0) return;
    if (used) used--;   /* the last space */
    buf[used] = '\0';
}
