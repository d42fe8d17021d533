/* The GEMM engine for one dtype: BLIS-style loops around the micro-kernel.
 * Included (through instantiate.h) with T (float or double) and SFX (f32 or
 * f64); fc_gemm_kernel_for_SFX(n) gives the active micro-kernel of that dtype.
 *
 * Loop order: jc (NC columns, the packed B block stays in L2) -> pc (KC depth)
 * -> ic (MC rows, packed A block) -> ir (one A micro-panel stays in L1) -> jr.
 * Reduction order along k is fixed by KC alone, so results do not depend on the
 * number of threads, which only split the ic / jr work. */
#ifndef FC_INSTANTIATING
#error "gemm.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

#define PLAN FN(fc_gemm_plan)
#define MATRIX FN(fc_matrix)
#define KERNEL_TYPE FN(fc_gemm_kernel)

void FN(fc_pack_a_matrix)(const void *ctx, int64_t i0, int64_t rows, int64_t p0, int64_t kc,
                          int mr, T *dst) {
    const MATRIX *A = (const MATRIX *)ctx;
    for (int64_t i = 0; i < mr; i++, dst += kc) {
        const T *src = A->p + (i0 + i) * A->rs + p0 * A->cs;
        if (i >= rows)
            memset(dst, 0, (size_t)kc * sizeof(T));
        else if (A->cs == 1)
            memcpy(dst, src, (size_t)kc * sizeof(T));
        else
            for (int64_t p = 0; p < kc; p++) dst[p] = src[p * A->cs];
    }
}

void FN(fc_pack_b_matrix)(const void *ctx, int64_t p0, int64_t kc, int64_t j0, int64_t cols,
                          int nr, T *dst) {
    const MATRIX *B = (const MATRIX *)ctx;
    const T *src = B->p + p0 * B->rs + j0 * B->cs;
    for (int64_t p = 0; p < kc; p++, src += B->rs, dst += nr) {
        int64_t j = 0;
        if (B->cs == 1)
            for (; j < cols; j++) dst[j] = src[j];
        else
            for (; j < cols; j++) dst[j] = src[j * B->cs];
        for (; j < nr; j++) dst[j] = 0;
    }
}

/* The pack_b_rows of a row-major B (internal.h): each row of the block read
 * once, in order, into every panel.  Packing panel by panel walks B's rows
 * NR values at a time, rows a page apart for wide B, which no prefetcher
 * follows. */
void FN(fc_pack_b_matrix_rows)(const void *ctx, int64_t p0, int64_t rows, int64_t j0, int64_t nc,
                               int nr, int64_t panel, T *dst) {
    const MATRIX *B = (const MATRIX *)ctx;
    const int64_t full = nc / nr * nr;
    for (int64_t p = 0; p < rows; p++, dst += nr) {
        const T *src = B->p + (p0 + p) * B->rs + j0;
        for (int64_t j = 0; j < full; j += nr)
            memcpy(dst + j / nr * panel, src + j, (size_t)nr * sizeof(T));
        if (full < nc) {
            T *out = dst + full / nr * panel;
            memcpy(out, src + full, (size_t)(nc - full) * sizeof(T));
            memset(out + nc - full, 0, (size_t)(nr - (nc - full)) * sizeof(T));
        }
    }
}

/* Bias and activation on a finished rows x cols tile of C at (i0, j0). */
static void FN(epilogue)(const PLAN *pl, int64_t i0, int64_t j0, int64_t rows, int64_t cols) {
    const T *col_bias = pl->bias && !pl->bias_per_row ? pl->bias + j0 : NULL;
    if (pl->csc == 1 && (col_bias || !pl->bias)) {   /* the common case, vectorised for the ISA */
        T *c = pl->c + i0 * pl->rsc + j0;
        FN(fc_conv_kernels_for)()->bias_act(c, pl->rsc, c, pl->rsc, rows, cols, col_bias, pl->act,
                                            pl->act_alpha);
        return;
    }
    for (int64_t i = 0; i < rows; i++) {
        T *c = pl->c + (i0 + i) * pl->rsc + j0 * pl->csc;
        const T row_bias = pl->bias && pl->bias_per_row ? pl->bias[i0 + i] : 0;
        if (pl->csc == 1) {   /* a bias per row (the channels-first GEMM) */
            for (int64_t j = 0; j < cols; j++) c[j] += row_bias;
            FN(fc_activate_array)(c, c, cols, pl->act, pl->act_alpha);
            continue;
        }
        for (int64_t j = 0; j < cols; j++) {
            T v = c[j * pl->csc] + (col_bias ? col_bias[j] : row_bias);
            c[j * pl->csc] = FN(fc_activate)(v, pl->act, pl->act_alpha);
        }
    }
}

/* k == 0: C = act(beta * C + bias), without reading C when beta == 0. */
static void FN(scale_only)(const PLAN *pl) {
    for (int64_t i = 0; i < pl->m; i++)
        for (int64_t j = 0; j < pl->n; j++) {
            T *c = pl->c + i * pl->rsc + j * pl->csc;
            *c = pl->beta == 0 ? 0 : pl->beta * *c;
        }
    FN(epilogue)(pl, 0, 0, pl->m, pl->n);
}

/* One MR x NR tile (rows x cols of it valid) of C += A-panel * B-panel; the A
 * panel's rows lie lda apart, the B panel's rows ldb apart. */
static void FN(macro_tile)(const PLAN *pl, const KERNEL_TYPE *kd, int64_t kc, const T *ap,
                           int64_t lda, int64_t ksa, const T *bp, int64_t ldb, int64_t i0,
                           int64_t j0, int64_t rows, int64_t cols, T beta, int last) {
    T *c = pl->c + i0 * pl->rsc + j0 * pl->csc;
    if (rows == kd->mr && cols == kd->nr && pl->csc == 1) {
        /* the last product of a full tile adds the column bias and ReLU in registers */
        const int in_kernel = last && !pl->bias_per_row && fc_act_in_ukernel(pl->act);
        kd->run(kc, ap, lda, ksa, bp, ldb, c, pl->rsc, pl->alpha, beta, kc, 0,
                in_kernel && pl->bias ? pl->bias + j0 : NULL, in_kernel && pl->act == FC_ACT_RELU);
        if (in_kernel) return;
    } else {
        T tile[FC_MAX_MR * FC_MAX_NR] __attribute__((aligned(64)));
        FC_EDGE_RUN(kd, rows, cols)(kc, ap, lda, ksa, bp, ldb, tile, kd->nr, 1, 0, kc, 0, NULL, 0);
        const int64_t cs = pl->csc;
        for (int64_t i = 0; i < rows; i++) {
            T *ci = c + i * pl->rsc;
            const T *ti = tile + i * kd->nr;
            if (cs == 1 && beta == 0)       /* the common edge case, vectorised */
                for (int64_t j = 0; j < cols; j++) ci[j] = pl->alpha * ti[j];
            else
                for (int64_t j = 0; j < cols; j++) {
                    const T ab = pl->alpha * ti[j];
                    ci[j * cs] = beta == 0 ? ab : ab + beta * ci[j * cs];
                }
        }
    }
    if (last && (pl->bias || pl->act != FC_ACT_NONE)) FN(epilogue)(pl, i0, j0, rows, cols);
}

/* How fc_gemm_run splits one product: column blocks of nc_blk columns; row
 * blocks of whole MR-row tiles, at most mc_blk rows each (block_rows), each
 * split into nsplit column groups when there are fewer row blocks than
 * threads. */
typedef struct {
    int64_t nc_blk, mc_blk, mblocks, tiles, nsplit, items, kc_max;
    int own_panels;   /* one row block: each thread packs the B panels it runs (split_product) */
} FN(gemm_split);

/* Row block b: tiles [b * tiles / mblocks, (b + 1) * tiles / mblocks), so the
 * blocks differ by one tile at most (392 rows as four blocks of 108 left one
 * thread of two 216 rows, 10 % above its share; now 204 and 188). */
static void FN(block_rows)(const FN(gemm_split) *sp, int64_t m, int64_t MR, int64_t b,
                           int64_t *ic, int64_t *mc) {
    const int64_t t0 = b * sp->tiles / sp->mblocks, t1 = (b + 1) * sp->tiles / sp->mblocks;
    *ic = t0 * MR;
    *mc = FC_MIN(t1 * MR, m) - *ic;
}

/* B packed into bbuf by thread tid of nth, or read in place when the plan
 * allows it: only the partial last panel of a block is then packed. */
static void FN(pack_b_block)(const PLAN *pl, const KERNEL_TYPE *kd, int64_t pc, int64_t kc,
                             int64_t jc, int64_t nc, T *bbuf, int tid, int nth) {
    const int64_t NR = kd->nr, npanels = FC_CEIL_DIV(nc, NR);
    if (pl->b_panels) return;
    if (pl->b_direct) {
        if (nc % NR && tid == 0)
            pl->pack_b(pl->b_ctx, pc, kc, jc + (npanels - 1) * NR, nc % NR, (int)NR,
                       bbuf + (npanels - 1) * NR * kc);
    } else if (pl->pack_b_rows) {   /* rows split between the threads */
        const int64_t p0 = tid * kc / nth, p1 = (tid + 1) * kc / nth;
        if (p1 > p0)
            pl->pack_b_rows(pl->b_ctx, pc + p0, p1 - p0, jc, nc, (int)NR, NR * kc, bbuf + p0 * NR);
    } else {
        for (int64_t q = npanels * tid / nth; q < npanels * (tid + 1) / nth; q++)
            pl->pack_b(pl->b_ctx, pc, kc, jc + q * NR, FC_MIN(NR, nc - q * NR), (int)NR,
                       bbuf + q * NR * kc);
    }
}

/* Panels [q0, q1) of B's block (pc, kc, jc, nc) packed by the thread that
 * runs them (gemm_split's own_panels), panel q at bbuf + q * NR * kc_max:
 * a stride that does not change with kc, so a thread that goes on to the
 * next depth block never writes where another still reads the last one. */
static void FN(pack_b_panels)(const PLAN *pl, const KERNEL_TYPE *kd, int64_t pc, int64_t kc,
                              int64_t kc_max, int64_t jc, int64_t nc, int64_t q0, int64_t q1,
                              T *bbuf) {
    const int64_t NR = kd->nr;
    if (pl->b_panels) return;
    if (pl->b_direct) {   /* in place but for a partial last panel */
        if (q1 * NR > nc)
            pl->pack_b(pl->b_ctx, pc, kc, jc + (q1 - 1) * NR, nc - (q1 - 1) * NR, (int)NR,
                       bbuf + (q1 - 1) * NR * kc_max);
        return;
    }
    if (pl->pack_b_rows) {   /* B's rows read whole: a panel's column walk is a far stride */
        pl->pack_b_rows(pl->b_ctx, pc, kc, jc + q0 * NR, FC_MIN(nc, q1 * NR) - q0 * NR, (int)NR,
                        NR * kc_max, bbuf + q0 * NR * kc_max);
        return;
    }
    for (int64_t q = q0; q < q1; q++)
        pl->pack_b(pl->b_ctx, pc, kc, jc + q * NR, FC_MIN(NR, nc - q * NR), (int)NR,
                   bbuf + q * NR * kc_max);
}

/* A's micro-panel of rows ic + ir .. + rows at depth pc: A itself where the
 * plan reads it in place (whole panels), else its packed copy at ap + ir * kc,
 * packed now when `pack`.  Sets its row and depth strides. */
static const T *FN(a_panel)(const PLAN *pl, T *ap, int64_t ic, int64_t ir, int64_t rows,
                            int64_t MR, int64_t pc, int64_t kc, int pack, int64_t *lda,
                            int64_t *ksa) {
    if (pl->a_direct && rows == MR) {
        *ksa = pl->ksa_direct ? pl->ksa_direct : 1;
        *lda = pl->lda_direct;
        return pl->a_direct + (ic + ir) * pl->lda_direct + pc * *ksa;
    }
    if (pack) pl->pack_a(pl->a_ctx, ic + ir, rows, pc, kc, (int)MR, ap + ir * kc);
    *lda = kc;
    *ksa = 1;
    return ap + ir * kc;
}

/* B's panel q (cols columns) of block (pc, jc): the plan's pre-packed panels,
 * B in place (whole panels, when the plan allows), or bbuf's packed panel.
 * Sets its row stride. */
static const T *FN(b_panel)(const PLAN *pl, const T *bbuf, int64_t bstride, int64_t jc,
                            int64_t q, int64_t NR, int64_t cols, int64_t pc, int64_t *ldb) {
    *ldb = NR;
    if (pl->b_panels) return pl->b_panels + (jc + q * NR) * pl->k + pc * NR;
    if (pl->b_direct && cols == NR) {
        *ldb = pl->ldb_direct;
        return pl->b_direct + pc * pl->ldb_direct + jc + q * NR;
    }
    return bbuf + q * NR * bstride;
}

/* Whether a thread runs its row block B panel by B panel, each meeting every
 * A panel of the block while it is in L1 (and the next one fetched ahead),
 * rather than A panel by A panel over B's panels in L2: for B read in place
 * and larger than L2.  B's panels then come from L3 or memory, their kc rows
 * ldb apart, as many streams as rows, which no hardware prefetcher follows.
 * A channels-first 1x1 convolution's B is x's planes: Zen 4, 1 thread,
 * 8x256x56x56 -> 64 took 14.2 ms (8.3 for the same image eight times, its
 * planes in L3; the same layer channels-last 9.9), panel by panel 9.5. */
static int FN(b_panels_outer)(const PLAN *pl) {
    fc_cpu_caches caches;
    fc_cpu_caches_get(&caches);
    return pl->b_direct && !pl->b_panels &&
           pl->k * pl->ldb_direct * (int64_t)sizeof(T) > caches.l2;
}

/* Thread tid's share of the product, in a team of nth threads.  The team
 * splits its work by hand, without worksharing constructs: a lone caller
 * (nth == 1) may itself run inside another parallel region (a batch of small
 * products, a convolution's per-image loop), whose team those would bind to. */
static void FN(gemm_team)(const PLAN *pl, const KERNEL_TYPE *kd, const FN(gemm_split) *sp,
                          T *abuf, T *bbuf, int tid, int nth) {
    const int64_t m = pl->m, n = pl->n, k = pl->k;
    const int64_t MR = kd->mr, NR = kd->nr, KC = kd->kc, NC = sp->nc_blk;
    T *ap = abuf + (int64_t)tid * sp->mc_blk * sp->kc_max;
    const int64_t it0 = sp->items * tid / nth, it1 = sp->items * (tid + 1) / nth;
    const int b_outer = FN(b_panels_outer)(pl);
    for (int64_t jc = 0; jc < n; jc += NC) {
        const int64_t nc = FC_MIN(NC, n - jc);
        const int64_t npanels = FC_CEIL_DIV(nc, NR);
        /* own panels: a narrower last block splits its panels differently, so
         * no thread packs the next block while another still reads this one */
        if (sp->own_panels && jc > 0) fc_team_barrier(nth);
        for (int64_t pc = 0; pc < k; pc += KC) {
            const int64_t kc = FC_MIN(KC, k - pc);
            const T beta = pc == 0 ? pl->beta : 1;
            const int last = pc + kc == k;
            const int64_t bstride = sp->own_panels ? sp->kc_max : kc;   /* bbuf's panels */
            if (!sp->own_panels) {
                FN(pack_b_block)(pl, kd, pc, kc, jc, nc, bbuf, tid, nth);
                fc_team_barrier(nth);
            }
            for (int64_t it = it0; it < it1; it++) {
                int64_t lda, ksa, ldb;
                const int64_t part = it % sp->nsplit;
                int64_t ic, mc;
                FN(block_rows)(sp, m, MR, it / sp->nsplit, &ic, &mc);
                const int64_t q0 = part * npanels / sp->nsplit;
                const int64_t q1 = (part + 1) * npanels / sp->nsplit;
                if (q0 == q1) continue;
                if (sp->own_panels)
                    FN(pack_b_panels)(pl, kd, pc, kc, sp->kc_max, jc, nc, q0, q1, bbuf);
                if (b_outer) {   /* A's panels packed first, then each B panel meets them all */
                    for (int64_t ir = 0; ir < mc; ir += MR)
                        FN(a_panel)(pl, ap, ic, ir, FC_MIN(MR, mc - ir), MR, pc, kc, 1, &lda, &ksa);
                    for (int64_t q = q0; q < q1; q++) {
                        if ((q + 2) * NR <= nc)   /* the next panel, in place */
                            fc_prefetch_row(pl->b_direct + pc * pl->ldb_direct + jc + (q + 1) * NR,
                                            kc, pl->ldb_direct * (int64_t)sizeof(T),
                                            NR * (int64_t)sizeof(T));
                        const int64_t cols = FC_MIN(NR, nc - q * NR);
                        const T *b = FN(b_panel)(pl, bbuf, bstride, jc, q, NR, cols, pc, &ldb);
                        for (int64_t ir = 0; ir < mc; ir += MR) {
                            const int64_t rows = FC_MIN(MR, mc - ir);
                            const T *a = FN(a_panel)(pl, ap, ic, ir, rows, MR, pc, kc, 0, &lda, &ksa);
                            FN(macro_tile)(pl, kd, kc, a, lda, ksa, b, ldb, ic + ir, jc + q * NR,
                                           rows, cols, beta, last);
                        }
                    }
                    continue;
                }
                for (int64_t ir = 0; ir < mc; ir += MR) {
                    const int64_t rows = FC_MIN(MR, mc - ir);
                    const T *a = FN(a_panel)(pl, ap, ic, ir, rows, MR, pc, kc, 1, &lda, &ksa);
                    for (int64_t q = q0; q < q1; q++) {
                        const int64_t cols = FC_MIN(NR, nc - q * NR);
                        const T *b = FN(b_panel)(pl, bbuf, bstride, jc, q, NR, cols, pc, &ldb);
                        FN(macro_tile)(pl, kd, kc, a, lda, ksa, b, ldb, ic + ir, jc + q * NR,
                                       rows, cols, beta, last);
                    }
                }
            }
            if (!sp->own_panels) fc_team_barrier(nth);   /* bbuf is repacked next */
        }
    }
}

/* Products whose scratch fits here use the stack, not the allocator. */
#define FC_GEMM_STACK_SCRATCH 8192

/* The split of plan pl (m, n, k > 0) among up to nthreads threads; returns
 * how many threads it uses. */
static int FN(split_product)(const PLAN *pl, const KERNEL_TYPE *kd, int nthreads,
                             FN(gemm_split) *sp) {
    const int64_t m = pl->m, n = pl->n, k = pl->k;
    const int64_t MR = kd->mr, NR = kd->nr, MC = kd->mc, KC = kd->kc;
    const int64_t NC = pl->b_direct ? kd->nc_direct : kd->nc;
    /* Row blocks: whole MR-row tiles (each row's sums do not depend on the
     * block it falls in, so neither do the results on the thread count), at
     * most MC rows, and as many blocks as a multiple of the thread count, so
     * that threads get equal shares. */
    sp->tiles = FC_CEIL_DIV(m, MR);
    int64_t mblocks = FC_CEIL_DIV(sp->tiles, FC_MAX(1, MC / MR));
    if (nthreads > 1 && mblocks >= nthreads)
        mblocks = FC_MIN(sp->tiles, FC_CEIL_DIV(mblocks, nthreads) * nthreads);
    sp->mblocks = mblocks;
    sp->mc_blk = FC_CEIL_DIV(sp->tiles, mblocks) * MR;
    /* Column blocks: the B block (kc x nc) keeps the kernel's byte budget
     * (kd->kc x NC), so a product shallower than KC gets wider blocks and
     * passes over A fewer times; the blocks are balanced, so a few columns past
     * a multiple of the budget do not cost a whole extra pass. */
    sp->kc_max = FC_MIN(KC, k);
    const int64_t nc_budget = FC_MAX(NR, FC_MIN(FC_GEMM_MAX_NC, NC * KC / sp->kc_max) / NR * NR);
    sp->nc_blk = FC_CEIL_DIV(FC_CEIL_DIV(n, FC_CEIL_DIV(n, nc_budget)), NR) * NR;
    sp->nsplit = mblocks >= nthreads ? 1 : FC_MIN(sp->nc_blk / NR, FC_CEIL_DIV(nthreads, mblocks));
    sp->items = mblocks * sp->nsplit;
    if (nthreads > sp->items) nthreads = (int)sp->items;
    /* One row block (at most mc rows: fc layers, convolutions with 7x7
     * outputs at batch 1): the threads split the columns, so each packs the
     * panels it runs, with a barrier per column block only, instead of half
     * the rows of every panel behind two barriers per depth block, after
     * which each read half its panels from the other core's cache.  Zen 4, 2
     * threads, 1x1 convolutions at batch 1: 7x7 2048 -> 512 0.81 -> 0.68 ms,
     * 14x14/2 1024 -> 2048 1.55 -> 1.38, 7x7 512 -> 512 0.21 -> 0.17, 8 x
     * 1024 x 1024 0.36 -> 0.25; 1 thread unchanged (the same loops). */
    sp->own_panels = mblocks == 1;
    return nthreads < 1 ? 1 : nthreads;
}

/* Elements of scratch fc_gemm_run needs for pl on nthreads threads: the packed
 * B block (none when B comes packed), then one packed A block per thread. */
static int64_t FN(scratch_elems)(const PLAN *pl, const FN(gemm_split) *sp, int nthreads) {
    return (pl->b_panels ? 0 : sp->kc_max * sp->nc_blk) +
           (int64_t)nthreads * sp->mc_blk * sp->kc_max;
}

int64_t FN(fc_gemm_scratch_len)(const PLAN *pl, int nthreads) {
    const KERNEL_TYPE *kd = pl->kernel ? pl->kernel : FN(fc_gemm_kernel_for)(pl->n);
    if (pl->m == 0 || pl->n == 0 || pl->k == 0) return 0;
    FN(gemm_split) sp;
    nthreads = FN(split_product)(pl, kd, nthreads, &sp);
    return FN(scratch_elems)(pl, &sp, nthreads);
}

int FN(fc_gemm_run)(const PLAN *pl, int nthreads) {
    const KERNEL_TYPE *kd = pl->kernel ? pl->kernel : FN(fc_gemm_kernel_for)(pl->n);
    if (pl->m == 0 || pl->n == 0) return FC_OK;
    if (pl->k == 0) {
        FN(scale_only)(pl);
        return FC_OK;
    }
    FN(gemm_split) sp;
    nthreads = FN(split_product)(pl, kd, nthreads, &sp);
    const int64_t need = FN(scratch_elems)(pl, &sp, nthreads);
    T stack_scratch[FC_GEMM_STACK_SCRATCH / sizeof(T)] __attribute__((aligned(64)));
    const int on_stack = need * (int64_t)sizeof(T) <= FC_GEMM_STACK_SCRATCH;
    const int given = !on_stack && pl->scratch && pl->scratch_len >= need;
    T *bbuf = on_stack ? stack_scratch : given ? pl->scratch : (T *)fc_alloc(need, sizeof(T));
    if (!bbuf) return FC_ENOMEM;
    /* the B block has a multiple of NR columns, so abuf stays vector-aligned */
    T *abuf = bbuf + (pl->b_panels ? 0 : sp.kc_max * sp.nc_blk);
    if (nthreads > 1) {
#pragma omp parallel num_threads(nthreads)
        FN(gemm_team)(pl, kd, &sp, abuf, bbuf, fc_thread_id(), fc_thread_count());
    } else {
        FN(gemm_team)(pl, kd, &sp, abuf, bbuf, 0, 1);
    }
    if (!on_stack && !given) fc_free(bbuf);
    return FC_OK;
}

static int FN(direct_b_pays)(const fc_gemm_args *g) {
    return g->csb == 1 && fc_b_in_place_pays(g->m, g->rsb * (int64_t)sizeof(T),
                                             g->k * g->rsb * (int64_t)sizeof(T));
}

/* Reading A in place saves packing it, which matters when each A element
 * meets few columns of B; rows a multiple of 4 KiB apart alias in L1, so those
 * are packed. */
static int FN(direct_a_pays)(const fc_gemm_args *g) {
    return (g->rsa * (int64_t)sizeof(T)) % 4096 != 0;
}

static void FN(plan_from_args)(const fc_gemm_args *g, const T *a, const T *b, T *c,
                               MATRIX *A, MATRIX *B, PLAN *pl) {
    A->p = a; A->rs = g->rsa; A->cs = g->csa;
    B->p = b; B->rs = g->rsb; B->cs = g->csb;
    pl->m = g->m; pl->n = g->n; pl->k = g->k;
    pl->pack_a = FN(fc_pack_a_matrix); pl->a_ctx = A;
    pl->pack_b = FN(fc_pack_b_matrix); pl->b_ctx = B;
    if (g->csb == 1) pl->pack_b_rows = FN(fc_pack_b_matrix_rows);
    pl->a_direct = g->csa == 1 && FN(direct_a_pays)(g) ? a : NULL;
    pl->lda_direct = g->rsa;
    pl->b_direct = FN(direct_b_pays)(g) ? b : NULL;
    pl->ldb_direct = g->rsb;
    pl->c = c; pl->rsc = g->rsc; pl->csc = g->csc;
    pl->alpha = (T)g->alpha; pl->beta = (T)g->beta;
    pl->bias = (const T *)g->bias; pl->bias_per_row = g->bias_per_row;
    pl->act = g->act; pl->act_alpha = (T)g->act_alpha;
}

/* Products of at most FC_GEMM_ROWS_MAX_M rows with row-major B (fully
 * connected layers at small batch) stream B row by row, in order, through
 * the gemm_rows kernel of the ISA (ukernels/gemm_rows_simd.tmpl.h): the
 * micro-kernels walk B NR columns at a time down its rows, a page or more
 * apart for wide B, which no prefetcher follows (VGG-16's fc6 at batch 1,
 * 25088 x 4096: 42.8 ms, 9.6 GB/s, against NumPy's 14.3 ms).  Whole rows:
 * threads that split the columns read half rows and were as slow, so B's
 * rows are cut into chunks, a power of two of them (up to eight of at least
 * 256 rows, set by k alone), whose partial sums are added in chunk order:
 * the same sums whatever the thread count. */
#define FC_B_ROWS_CHUNKS 8
#define FC_B_ROWS_MIN_CHUNK 256
#define FC_B_ROWS_MAX_BYTES (64 << 20)   /* partial sums beyond this: the micro-kernels */
/* B smaller than this, or rows narrower, stays with the micro-kernels: in
 * cache they lose nothing, and a narrow row is mostly the kernel's scalar
 * tail (8 x 512 x 10: 19 us against their 6). */
#define FC_B_ROWS_MIN_B_BYTES (128 << 10)
#define FC_B_ROWS_MIN_ROW_BYTES 256
static int64_t FN(b_rows_chunks)(int64_t k) {
    int64_t chunks = 1;
    while (2 * chunks <= FC_B_ROWS_CHUNKS && 2 * chunks * FC_B_ROWS_MIN_CHUNK <= k) chunks *= 2;
    return chunks;
}

static int FN(b_rows_pay)(const fc_gemm_args *g) {
    const int64_t row_bytes = g->n * (int64_t)sizeof(T);
    return g->csb == 1 && g->m >= 1 && g->m <= FC_GEMM_ROWS_MAX_M && g->k >= 1 &&
           row_bytes >= FC_B_ROWS_MIN_ROW_BYTES && g->k * row_bytes >= FC_B_ROWS_MIN_B_BYTES &&
           (FN(b_rows_chunks)(g->k) * g->m * g->n + g->m * g->k) * (int64_t)sizeof(T) <=
               FC_B_ROWS_MAX_BYTES;
}

static int FN(gemm_b_rows)(const fc_gemm_args *g, int nthreads) {
    const T *a = (const T *)g->a, *b = (const T *)g->b;
    const int64_t m = g->m, n = g->n, k = g->k, mn = m * n;
    const int64_t chunks = FN(b_rows_chunks)(k), chunk = FC_CEIL_DIV(k, chunks);
    const FN(fc_gemm_rows) rows_kernel = FN(fc_conv_kernels_for)()->gemm_rows;
    T *part = (T *)fc_alloc(chunks * mn + m * k, sizeof(T));
    if (!part) return FC_ENOMEM;
    T *at = part + chunks * mn;   /* A transposed: at[p * m + i] = a[i][p] */
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && chunks > 1)
    for (int64_t q = 0; q < chunks; q++) {
        const int64_t p0 = q * chunk, p1 = FC_MIN(k, p0 + chunk);
        T *sum = part + q * mn;
        for (int64_t p = p0; p < p1; p++)
            for (int64_t i = 0; i < m; i++) at[p * m + i] = a[i * g->rsa + p * g->csa];
        memset(sum, 0, (size_t)mn * sizeof(T));
        rows_kernel(m, n, p1 - p0, at + p0 * m, b + p0 * g->rsb, g->rsb, sum);
    }
    T *c = (T *)g->c;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            T v = part[i * n + j];
            for (int64_t q = 1; q < chunks; q++) v += part[q * mn + i * n + j];
            T *cij = c + i * g->rsc + j * g->csc;
            *cij = g->beta == 0 ? (T)g->alpha * v : (T)g->alpha * v + (T)g->beta * *cij;
        }
    fc_free(part);
    if (g->bias || g->act != FC_ACT_NONE) {
        PLAN pl = {0};
        pl.c = c; pl.rsc = g->rsc; pl.csc = g->csc;
        pl.bias = (const T *)g->bias; pl.bias_per_row = g->bias_per_row;
        pl.act = g->act; pl.act_alpha = (T)g->act_alpha;
        FN(epilogue)(&pl, 0, 0, m, n);
    }
    return FC_OK;
}

int FN(fc_gemm)(const fc_gemm_args *g, int nthreads) {
    if (FN(b_rows_pay)(g)) return FN(gemm_b_rows)(g, nthreads);
    MATRIX A, B;
    PLAN pl = {0};
    FN(plan_from_args)(g, (const T *)g->a, (const T *)g->b, (T *)g->c, &A, &B, &pl);
    return FN(fc_gemm_run)(&pl, nthreads);
}

int FN(fc_gemm_with_ukernel)(int index, const fc_gemm_args *g) {
    MATRIX A, B;
    PLAN pl = {0};
    pl.kernel = FN(fc_gemm_kernel_at)(index);
    if (!pl.kernel || !fc_isa_supported(pl.kernel->isa)) return FC_EINVAL;
    FN(plan_from_args)(g, (const T *)g->a, (const T *)g->b, (T *)g->c, &A, &B, &pl);
    return FN(fc_gemm_run)(&pl, 1);
}

/* Products too small to share among threads run one per thread. */
#define FC_BATCH_SPLIT_FLOPS (1 << 21)

int FN(fc_gemm_batched)(const fc_gemm_args *g, int64_t batch, const int64_t *a_off,
                        const int64_t *b_off, int64_t c_batch_stride, int nthreads) {
    const int per_item = (double)g->m * g->n * g->k < FC_BATCH_SPLIT_FLOPS && batch > 1;
    int status = FC_OK;
    if (!per_item) {
        for (int64_t i = 0; i < batch && status == FC_OK; i++) {
            MATRIX A, B;
            PLAN pl = {0};
            FN(plan_from_args)(g, (const T *)g->a + a_off[i], (const T *)g->b + b_off[i],
                               (T *)g->c + i * c_batch_stride, &A, &B, &pl);
            status = FN(fc_gemm_run)(&pl, nthreads);
        }
        return status;
    }
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1)
    for (int64_t i = 0; i < batch; i++) {
        MATRIX A, B;
        PLAN pl = {0};
        FN(plan_from_args)(g, (const T *)g->a + a_off[i], (const T *)g->b + b_off[i],
                           (T *)g->c + i * c_batch_stride, &A, &B, &pl);
        if (FN(fc_gemm_run)(&pl, 1) != FC_OK) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
    }
    return status;
}

#undef PLAN
#undef MATRIX
#undef KERNEL_TYPE
