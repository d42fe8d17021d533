/* CPU detection, the active kernel set, and selection among the registered
 * micro-kernels (ukernels/registry.h). */
#include "internal.h"

int fc_isa_supported(int isa) {
    switch (isa) {
    case FC_ISA_GENERIC: return 1;
#if FC_ARCH_X86
    case FC_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FC_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
               fc_isa_supported(FC_ISA_AVX2);
#endif
    default: return 0;
    }
}

int fc_best_isa(void) {
    if (fc_isa_supported(FC_ISA_AVX512)) return FC_ISA_AVX512;
    if (fc_isa_supported(FC_ISA_AVX2)) return FC_ISA_AVX2;
    return FC_ISA_GENERIC;
}

const char *fc_isa_name(int isa) {
    switch (isa) {
    case FC_ISA_AVX512: return "avx512";
    case FC_ISA_AVX2: return "avx2";
    default: return "generic";
    }
}

/* ---- the registered kernels, in fc_ukernel_info's numbering: f32 GEMM,
 * f64 GEMM, then the conv tables.  The GEMM tables are filled in at first use
 * with cache blocks derived from the detected caches (derive_blocks). ---- */
#define FC_GEMM_ENTRY(name_, isa_, mr_, nr_, narrow_, half_)                                    \
    {.name = #name_, .isa = FC_ISA_##isa_, .mr = mr_, .nr = nr_, .narrow = narrow_, .run = fc_uk_##name_, \
     .run_half = FC_UK_HALF_##half_(name_)},
static fc_gemm_kernel_f32 sgemm_kernels[] = {FC_SGEMM_UKERNELS(FC_GEMM_ENTRY)};
static fc_gemm_kernel_f64 dgemm_kernels[] = {FC_DGEMM_UKERNELS(FC_GEMM_ENTRY)};
#undef FC_GEMM_ENTRY

/* Scratch tiles on the stack are sized for the largest kernel. */
#define FC_CHECK_TILE(name_, isa_, mr_, nr_, narrow_, half_) \
    _Static_assert(mr_ <= FC_MAX_MR && nr_ <= FC_MAX_NR && FC_GEMM_MAX_NC % nr_ == 0, \
                   #name_ ": tile outside FC_MAX_MR / FC_MAX_NR, or FC_GEMM_MAX_NC not a multiple of nr");
FC_SGEMM_UKERNELS(FC_CHECK_TILE)
FC_DGEMM_UKERNELS(FC_CHECK_TILE)
#undef FC_CHECK_TILE

/* The largest multiple of step, within [lo, hi], that fits budget / unit. */
static int fit_block(int64_t budget, int64_t unit, int step, int lo, int hi) {
    int64_t v = budget / unit / step * step;
    if (v > hi) v = hi / step * step;
    if (v < lo) v = lo;
    return (int)v;
}

/* Cache blocks of a kernel with an mr x nr tile and elements of `size` bytes,
 * for the loop order of gemm.tmpl.h (jc -> pc -> ic -> ir -> jr; B read in
 * place and larger than L2 runs jr -> ir instead, b_panels_outer, with the
 * same blocks: its B panel of kc rows then fills or overflows L1 and is read
 * again from L2 by each A panel, still 1.5x faster than B's strided streams
 * from memory once per A panel):
 *   kc: an A micro-panel (mr x kc), which the innermost loop reads for every
 *       B panel, fills half of L1 (the other half streams the B panels);
 *   nc: the packed B block (kc x nc) fills an eighth of L3 (a core's share on
 *       CPUs with 8-16 cores per L3) and at least half of L2.  Each column
 *       block costs a pass over A (packed again, often by strided gathers),
 *       while B panels stream from L3 at a fraction of the FMA rate, so wide
 *       blocks win (measured on Zen 5: an L2-sized nc = 256 made VGG-16
 *       conv2_1's dw 20 % slower);
 *   nc_direct: with B read in place (few rows of A) nothing is packed, and a
 *       B block met again by the next A panel should still be in L2: half of L2;
 *   mc: a thread's packed A block (mc x kc) fills a quarter of L2. */
#define FC_DERIVE_BLOCKS(k, size, caches)                                                      \
    do {                                                                                       \
        (k)->kc = fit_block((caches)->l1d / 2, (int64_t)(k)->mr * (size), 16, 64, 1024);      \
        (k)->nc_direct = fit_block((caches)->l2 / 2, (int64_t)(k)->kc * (size), (k)->nr,       \
                                   (k)->nr, FC_GEMM_MAX_NC);                                   \
        (k)->nc = fit_block(FC_MAX((caches)->l3 / 8, (caches)->l2 / 2),                        \
                            (int64_t)(k)->kc * (size), (k)->nr, (k)->nr, FC_GEMM_MAX_NC);      \
        (k)->mc = fit_block((caches)->l2 / 4, (int64_t)(k)->kc * (size), (k)->mr, (k)->mr,     \
                            40 * (k)->mr);                                                     \
    } while (0)

/* Each wide kernel's narrow twin: the narrow kernel of its ISA with its rows
 * and half its columns (it reads the wide kernel's packed panels as they are). */
#define FC_LINK_NARROW(list)                                                                   \
    for (size_t i = 0; i < sizeof list / sizeof *list; i++)                                     \
        for (size_t j = 0; j < sizeof list / sizeof *list; j++)                                 \
            if (!list[i].narrow && list[j].narrow && list[j].isa == list[i].isa &&              \
                list[j].mr == list[i].mr && 2 * list[j].nr == list[i].nr) {                    \
                list[i].run_narrow = list[j].run;                                               \
                list[i].run_narrow_half = list[j].run_half;                                     \
            }

static void derive_blocks(void) {
    fc_cpu_caches caches;
    fc_cpu_caches_get(&caches);
    for (size_t i = 0; i < sizeof sgemm_kernels / sizeof *sgemm_kernels; i++)
        FC_DERIVE_BLOCKS(&sgemm_kernels[i], (int64_t)sizeof(float), &caches);
    for (size_t i = 0; i < sizeof dgemm_kernels / sizeof *dgemm_kernels; i++)
        FC_DERIVE_BLOCKS(&dgemm_kernels[i], (int64_t)sizeof(double), &caches);
    FC_LINK_NARROW(sgemm_kernels)
    FC_LINK_NARROW(dgemm_kernels)
}

typedef struct { const char *name, *dtype; int is_f64, isa; const void *table; } conv_entry;
#define FC_IS_F64_f32 0
#define FC_IS_F64_f64 1
#define FC_CONV_ENTRY(name_, isa_, dtype_) \
    {#name_, #dtype_, FC_IS_F64_##dtype_, FC_ISA_##isa_, &fc_uk_##name_},
static const conv_entry conv_kernels[] = {FC_CONV_UKERNELS(FC_CONV_ENTRY)};
#undef FC_CONV_ENTRY

#define FC_POOL_ENTRY(name_, isa_, dtype_) \
    {#name_, #dtype_, FC_IS_F64_##dtype_, FC_ISA_##isa_, &fc_uk_##name_},
static const conv_entry pool_kernels[] = {FC_POOL_UKERNELS(FC_POOL_ENTRY)};
#undef FC_POOL_ENTRY

#define FC_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
enum { N_SGEMM = FC_COUNT(sgemm_kernels), N_DGEMM = FC_COUNT(dgemm_kernels), N_CONV = FC_COUNT(conv_kernels) };
enum { N_POOL = FC_COUNT(pool_kernels) };

/* ---- the active kernel set ---- */
/* The kernels the active ISA uses: per dtype a wide and (optionally) a narrow GEMM
 * kernel and a conv table; filled by fc_set_isa. */
static struct {
    int isa;   /* -1 until first use */
    const fc_gemm_kernel_f32 *swide, *snarrow;
    const fc_gemm_kernel_f64 *dwide, *dnarrow;
    const fc_conv_kernels_f32 *sconv;
    const fc_conv_kernels_f64 *dconv;
    const fc_pool_kernels_f32 *spool;
    const fc_pool_kernels_f64 *dpool;
} active = {-1, 0, 0, 0, 0, 0, 0, 0, 0};

#define FC_PICK_GEMM(list, count, isa_, wide_out, narrow_out)                           \
    do {                                                                                   \
        (wide_out) = (narrow_out) = NULL;                                                  \
        for (int i = 0; i < (count); i++)                                                  \
            if ((list)[i].isa == (isa_)) {                                                 \
                if ((list)[i].narrow) (narrow_out) = &(list)[i];                           \
                else (wide_out) = &(list)[i];                                              \
            }                                                                              \
    } while (0)

void fc_set_isa(int isa) {
    if (!fc_isa_supported(isa)) isa = fc_best_isa();
    if (active.isa < 0) derive_blocks();
    FC_PICK_GEMM(sgemm_kernels, N_SGEMM, isa, active.swide, active.snarrow);
    FC_PICK_GEMM(dgemm_kernels, N_DGEMM, isa, active.dwide, active.dnarrow);
    for (int i = 0; i < N_CONV; i++) {
        if (conv_kernels[i].isa != isa) continue;
        if (conv_kernels[i].is_f64) active.dconv = conv_kernels[i].table;
        else active.sconv = conv_kernels[i].table;
    }
    for (int i = 0; i < N_POOL; i++) {
        if (pool_kernels[i].isa != isa) continue;
        if (pool_kernels[i].is_f64) active.dpool = pool_kernels[i].table;
        else active.spool = pool_kernels[i].table;
    }
    active.isa = isa;
}

int fc_get_isa(void) {
    if (active.isa < 0) fc_set_isa(fc_best_isa());
    return active.isa;
}

/* The narrow kernel wastes no lanes when C has at most its NR columns. */
const fc_gemm_kernel_f32 *fc_gemm_kernel_for_f32(int64_t n) {
    fc_get_isa();
    return active.snarrow && n <= active.snarrow->nr ? active.snarrow : active.swide;
}

const fc_gemm_kernel_f64 *fc_gemm_kernel_for_f64(int64_t n) {
    fc_get_isa();
    return active.dnarrow && n <= active.dnarrow->nr ? active.dnarrow : active.dwide;
}

const fc_conv_kernels_f32 *fc_conv_kernels_for_f32(void) {
    fc_get_isa();
    return active.sconv;
}

const fc_conv_kernels_f64 *fc_conv_kernels_for_f64(void) {
    fc_get_isa();
    return active.dconv;
}

const fc_pool_kernels_f32 *fc_pool_kernels_for_f32(void) {
    fc_get_isa();
    return active.spool;
}

const fc_pool_kernels_f64 *fc_pool_kernels_for_f64(void) {
    fc_get_isa();
    return active.dpool;
}

const fc_gemm_kernel_f32 *fc_gemm_kernel_at_f32(int i) {
    fc_get_isa();
    return i >= 0 && i < N_SGEMM ? &sgemm_kernels[i] : NULL;
}

const fc_gemm_kernel_f64 *fc_gemm_kernel_at_f64(int i) {
    fc_get_isa();
    return i >= N_SGEMM && i < N_SGEMM + N_DGEMM ? &dgemm_kernels[i - N_SGEMM] : NULL;
}

/* ---- the report ---- */
int fc_ukernel_count(void) { return N_SGEMM + N_DGEMM + N_CONV + N_POOL; }

#define FC_GEMM_INFO(k, dt, out)                                                           \
    do {                                                                                   \
        (out)->name = (k)->name; (out)->kind = "gemm"; (out)->dtype = dt;                  \
        (out)->isa = (k)->isa; (out)->mr = (k)->mr; (out)->nr = (k)->nr;                   \
        (out)->mc = (k)->mc; (out)->kc = (k)->kc; (out)->nc = (k)->nc; (out)->nc_direct = (k)->nc_direct;                     \
        (out)->narrow = (k)->narrow; (out)->edge_mr = (k)->run_half ? (k)->mr / 2 : 0;     \
    } while (0)

int fc_ukernel_get(int index, fc_ukernel_info *info) {
    fc_ukernel_info out = {0};
    fc_get_isa();
    if (index < 0 || index >= fc_ukernel_count()) return FC_EINVAL;
    if (index < N_SGEMM) {
        const fc_gemm_kernel_f32 *k = &sgemm_kernels[index];
        FC_GEMM_INFO(k, "f32", &out);
        out.active = k == active.swide || k == active.snarrow;
    } else if (index < N_SGEMM + N_DGEMM) {
        const fc_gemm_kernel_f64 *k = &dgemm_kernels[index - N_SGEMM];
        FC_GEMM_INFO(k, "f64", &out);
        out.active = k == active.dwide || k == active.dnarrow;
    } else if (index >= N_SGEMM + N_DGEMM + N_CONV) {
        const conv_entry *e = &pool_kernels[index - N_SGEMM - N_DGEMM - N_CONV];
        out.name = e->name; out.kind = "pool"; out.dtype = e->dtype; out.isa = e->isa;
        out.lanes = e->is_f64 ? ((const fc_pool_kernels_f64 *)e->table)->lanes
                           : ((const fc_pool_kernels_f32 *)e->table)->lanes;
        out.active = e->table == (const void *)active.spool || e->table == (const void *)active.dpool;
    } else {
        const conv_entry *e = &conv_kernels[index - N_SGEMM - N_DGEMM];
        out.name = e->name; out.kind = "conv"; out.dtype = e->dtype; out.isa = e->isa;
        out.lanes = e->is_f64 ? ((const fc_conv_kernels_f64 *)e->table)->lanes
                           : ((const fc_conv_kernels_f32 *)e->table)->lanes;
        out.active = e->table == (const void *)active.sconv || e->table == (const void *)active.dconv;
    }
    out.supported = fc_isa_supported(out.isa);
    *info = out;
    return FC_OK;
}
