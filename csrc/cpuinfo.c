/* The CPU's caches, detected once: cpuid's deterministic cache leaves on x86
 * (leaf 4 on Intel, 0x8000001D on AMD), Linux sysfs where cpuid says nothing
 * (other CPUs, emulators), and stated defaults as the last resort.  The GEMM
 * cache blocks (dispatch.c) are derived from these sizes. */
#include "internal.h"
#include <stdio.h>
#include <stdlib.h>
#if FC_ARCH_X86
#include <cpuid.h>
#endif

/* Records a data or unified cache of `level` (1 to 3) and `bytes`. */
static void note_cache(fc_cpu_caches *out, int level, int64_t bytes) {
    if (level == 1) out->l1d = bytes;
    else if (level == 2) out->l2 = bytes;
    else if (level == 3) out->l3 = bytes;
}

#if FC_ARCH_X86
static int caches_from_leaf(unsigned leaf, fc_cpu_caches *out) {
    int found = 0;
    for (unsigned i = 0; i < 16; i++) {
        unsigned a, b, c, d;
        __cpuid_count(leaf, i, a, b, c, d);
        const unsigned type = a & 31;   /* 0: no more caches, 1: data, 2: code, 3: unified */
        if (type == 0) break;
        if (type == 2) continue;
        const int64_t ways = ((b >> 22) & 0x3ff) + 1, parts = ((b >> 12) & 0x3ff) + 1;
        const int64_t line = (b & 0xfff) + 1, sets = (int64_t)c + 1;
        note_cache(out, (a >> 5) & 7, ways * parts * line * sets);
        found = 1;
    }
    return found;
}

static int caches_from_cpuid(fc_cpu_caches *out) {
    unsigned a, b, c, d;
    /* (unsigned) casts: GCC's __get_cpuid_max returns unsigned, clang's int */
    if ((unsigned)__get_cpuid_max(0, NULL) >= 4u && caches_from_leaf(4, out)) return 1;
    /* AMD: leaf 0x8000001D, present with the topology extensions (0x80000001 ECX bit 22) */
    if ((unsigned)__get_cpuid_max(0x80000000u, NULL) >= 0x8000001Du &&
        __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c >> 22 & 1))
        return caches_from_leaf(0x8000001Du, out);
    return 0;
}
#else
static int caches_from_cpuid(fc_cpu_caches *out) { (void)out; return 0; }
#endif

/* Reads one small sysfs attribute of cache index i of cpu0 into buf. */
static int read_attr(int i, const char *name, char *buf, int len) {
    char path[96];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/%s", i, name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    const int ok = fgets(buf, len, f) != NULL;
    fclose(f);
    return ok;
}

static int caches_from_sysfs(fc_cpu_caches *out) {
    int found = 0;
    for (int i = 0; i < 8; i++) {
        char level[16], type[32], size[32];
        if (!read_attr(i, "level", level, sizeof level) || !read_attr(i, "type", type, sizeof type) ||
            !read_attr(i, "size", size, sizeof size))
            break;
        if (type[0] == 'I') continue;   /* Instruction */
        char unit = 0;
        long long value = 0;
        if (sscanf(size, "%lld%c", &value, &unit) < 1 || value <= 0) continue;
        const int64_t scale = unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : 1;
        note_cache(out, atoi(level), (int64_t)value * scale);
        found = 1;
    }
    return found;
}

void fc_cpu_caches_get(fc_cpu_caches *out) {
    static fc_cpu_caches detected;   /* written once; later calls read it */
    static int done;
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        fc_cpu_caches c = {0, 0, 0, "default"};
        if (caches_from_cpuid(&c)) c.source = "cpuid";
        else if (caches_from_sysfs(&c)) c.source = "sysfs";
        /* anything not reported: a common size of its level */
        if (c.l1d <= 0) c.l1d = 32 * 1024;
        if (c.l2 <= 0) c.l2 = 1024 * 1024;
        if (c.l3 < 0) c.l3 = 0;
        detected = c;
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
    *out = detected;
}
