/* Winograd F(4x4, 3x3) for 3x3, stride-1 convolutions (forward, and dx, which
 * is a 3x3 stride-1 convolution of dy): each 4x4 block of outputs ("tile")
 * comes from a 6x6 input patch with 36 multiplies per channel pair instead of
 * 144.  For a block of output channels (K block) the kernel is transformed
 * once (U = G g G^T, 36 C x kb matrices, packed as the GEMM's B panels); then
 * per block of tiles the patches are transformed (V = B^T d B, 36 tiles x C
 * matrices), 36 GEMMs multiply them with U, and the products are transformed
 * back (Y = A^T M A) into y, with the bias and activation.
 *
 * Workspace: U for one K block (at most a quarter of L3, at least one panel
 * of NR output channels), plus per thread one block of V (about L2) and M.
 * A tile's result does not depend on its block or K block, so the bits do not
 * depend on the thread count.
 * Included by conv.tmpl.h with T, SFX and FN defined.  NHWC with unit channel
 * strides only. */
#ifndef FC_INSTANTIATING
#error "conv_winograd.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

#ifndef FC_WINOGRAD_POINTS
#define FC_WINOGRAD_M 4        /* outputs per tile side */
#define FC_WINOGRAD_A 6        /* patch side: m + 3 - 1 */
#define FC_WINOGRAD_POINTS 36  /* transformed points, one GEMM each */
#define FC_WINOGRAD_MAX_U_BYTES ((int64_t)16 << 20)   /* U of one GEMM panel, at most */
#endif

/* The GEMM kernel Winograd's products run with (its NR is U's panel width). */
static const FN(fc_gemm_kernel) *FN(winograd_gemm_kernel)(const FN(direct_geom) *g) {
    return FN(fc_gemm_kernel_for)(g->k);
}

/* Whether Winograd can run convolution g (3x3, stride 1 given by the caller)
 * reading strides xs and writing strides os. */
static int FN(winograd_applies)(const FN(direct_geom) *g, const int64_t xs[4], const int64_t os[4]) {
    return g->r == 3 && g->s == 3 && xs[3] == 1 && os[3] == 1 &&
           FC_WINOGRAD_POINTS * g->c * FN(winograd_gemm_kernel)(g)->nr * (int64_t)sizeof(T) <=
               FC_WINOGRAD_MAX_U_BYTES;
}

/* How the work is cut: kb output channels per K block (a multiple of NR; the
 * last block may hold fewer, its U and M rows keep the stride kb),
 * tb tiles per tile block, and the row stride of V (ldv, off
 * multiples of 4 KiB so the GEMM reads V in place without L1 aliasing). */
typedef struct {
    const FN(fc_gemm_kernel) *kd;
    int64_t th, tw, tiles;   /* tiles per column, per row, in all */
    int64_t kb, nkb;         /* K block, count */
    int64_t tb, ldv;
    int team;                /* blocks run on the whole team (winograd_block), else a thread each */
} FN(winograd_cut);

static void FN(winograd_plan_cut)(const FN(direct_geom) *g, int nthreads, FN(winograd_cut) *c) {
    fc_cpu_caches caches;
    fc_cpu_caches_get(&caches);
    c->kd = FN(winograd_gemm_kernel)(g);
    const int64_t nr = c->kd->nr, mr = c->kd->mr;
    c->th = FC_CEIL_DIV(g->ho, FC_WINOGRAD_M);
    c->tw = FC_CEIL_DIV(g->wo, FC_WINOGRAD_M);
    c->tiles = g->n * c->th * c->tw;
    /* U of a K block stays in a quarter of L3 while every tile block reads it
     * (measured on Zen 5, 32 MiB L3: 1x28x28x512 10.2 ms at 8 MiB, 12.6 at 4
     * MiB (V recomputed for more K blocks), 10.8 at 16 MiB) */
    const int64_t u_budget = FC_MAX(caches.l3 / 4, caches.l2);
    const int64_t per_panel = FC_WINOGRAD_POINTS * g->c * nr * (int64_t)sizeof(T);
    const int64_t max_panels = FC_MAX(1, u_budget / per_panel), panels = FC_CEIL_DIV(g->k, nr);
    c->nkb = FC_CEIL_DIV(panels, max_panels);
    c->kb = FC_CEIL_DIV(panels, c->nkb) * nr;   /* balanced blocks */
    c->nkb = FC_CEIL_DIV(g->k, c->kb);
    c->ldv = g->c + ((g->c * (int64_t)sizeof(T)) % 4096 == 0 ? 64 / (int64_t)sizeof(T) : 0);
    /* tile blocks: V and M together in half of L2, the rest for U's panels
     * and the GEMM's (V alone about L2, with M on top, was 1.8 MiB a thread
     * for 8x32x32x16 -> 32 on a 1 MiB L2: the same speed within this host's
     * noise, the workspace halved, tiny YOLO's inference under PyTorch's
     * memory), at least four row panels (the GEMMs' rows), and the blocks a
     * multiple of the thread count: 32 tiles on 2 threads as 24 + 8 took
     * 1.3x as long as 16 + 16 (8x7x7x256), and 196 tiles as 48-tile blocks
     * 1.4x as long as 98 + 98 (1x56x56x64).  Under two row panels a thread,
     * one block for the whole team instead (winograd_block): Zen 4, 2
     * threads, against 8 + 8 tiles, 1x14x14 C x K 64 x 64 to 256 x 256
     * forward 1.33-1.66x, dx 1.24-1.64x; 8x7x7 (16 + 16) 1.14-1.16x, dx
     * 0.99-1.04x; 1x28x28 (49 tiles) 0.92-1.09x, so not there. */
    int64_t tb = caches.l2 / 2 / ((int64_t)sizeof(T) * FC_WINOGRAD_POINTS * (c->ldv + c->kb));
    tb = FC_MAX(4 * mr, tb / mr * mr);
    c->team = nthreads == 1 || c->tiles < 2 * mr * nthreads;
    const int64_t nblocks = c->team ? FC_CEIL_DIV(c->tiles, tb)
                                    : FC_CEIL_DIV(FC_CEIL_DIV(c->tiles, tb), nthreads) * nthreads;
    tb = FC_CEIL_DIV(c->tiles, nblocks);
    c->tb = FC_MIN(tb, c->tiles);
}

/* U for output channels [k0, k0 + kb) and input channels [c0, c1): point xi
 * of (c, k0 + j) at u[xi * C * kb + (j / NR) * NR * C + c * NR + j % NR]. */
static void FN(winograd_kernel)(const FN(direct_geom) *g, const FN(winograd_cut) *cut,
                                const T *w, int64_t k0, int64_t c0, int64_t c1, T *scratch,
                                T *u) {   /* scratch: 18 kb values */
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const int64_t c = g->c, k = g->k, nr = cut->kd->nr, plane = c * cut->kb;
    const int64_t kb = FC_MIN(cut->kb, k - k0);
    T *t = scratch;   /* G along the kernel's rows: [6][3][kb] */
    for (int64_t ci = c0; ci < c1; ci++) {
        for (int s = 0; s < 3; s++) {
            const T *rows[3];
            T *out[FC_WINOGRAD_A];
            for (int i = 0; i < 3; i++) rows[i] = w + ((i * 3 + s) * c + ci) * k + k0;
            for (int a = 0; a < FC_WINOGRAD_A; a++) out[a] = t + (a * 3 + s) * kb;
            kern->winograd_g(rows, kb, kb, 0, out);
        }
        for (int a = 0; a < FC_WINOGRAD_A; a++) {   /* G along the columns, into panels */
            const T *rows[3] = {t + a * 3 * kb, t + (a * 3 + 1) * kb, t + (a * 3 + 2) * kb};
            T *out[FC_WINOGRAD_A];
            for (int b = 0; b < FC_WINOGRAD_A; b++)
                out[b] = u + (a * FC_WINOGRAD_A + b) * plane + ci * nr;
            kern->winograd_g(rows, kb, nr, nr * c, out);
        }
    }
}

/* V[xi][t - t0][.] = (B^T d B)[xi] for the 6x6 input patch d of each tile t
 * of [t0, t1), by the ISA's 1-D transforms over contiguous channels: the
 * columns straight from x (a zero row outside it) into scratch, then the
 * rows.  Scratch: B^T d as [6][6][C], then one zero row of C. */
static void FN(winograd_input)(const FN(direct_geom) *g, const FN(winograd_cut) *cut,
                               const T *x, const int64_t xs[4], int64_t t0, int64_t t1,
                               T *scratch, T *v) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const int64_t c = g->c, vplane = cut->tb * cut->ldv;
    T *half = scratch, *zeros = scratch + FC_WINOGRAD_POINTS * c;
    memset(zeros, 0, (size_t)c * sizeof(T));
    for (int64_t t = t0; t < t1; t++) {
        const int64_t n = t / (cut->th * cut->tw), ti = t / cut->tw % cut->th, tj = t % cut->tw;
        const int64_t h0 = FC_WINOGRAD_M * ti - g->pt, w0 = FC_WINOGRAD_M * tj - g->pl;
        for (int j = 0; j < FC_WINOGRAD_A; j++) {   /* columns: B^T d */
            const T *col[FC_WINOGRAD_A];
            T *out[FC_WINOGRAD_A];
            const int inside = w0 + j >= 0 && w0 + j < g->w;
            for (int i = 0; i < FC_WINOGRAD_A; i++) {
                const int64_t h = h0 + i;
                col[i] = inside && h >= 0 && h < g->h ? x + n * xs[0] + h * xs[1] + (w0 + j) * xs[2]
                                                      : zeros;
                out[i] = half + (i * FC_WINOGRAD_A + j) * c;
            }
            kern->winograd_bt(col, c, out);
        }
        for (int i = 0; i < FC_WINOGRAD_A; i++) {   /* rows: (B^T d) B */
            const T *row[FC_WINOGRAD_A];
            T *out[FC_WINOGRAD_A];
            for (int j = 0; j < FC_WINOGRAD_A; j++) {
                row[j] = half + (i * FC_WINOGRAD_A + j) * c;
                out[j] = v + (i * FC_WINOGRAD_A + j) * vplane + (t - t0) * cut->ldv;
            }
            kern->winograd_bt(row, c, out);
        }
    }
}

/* y's 4x4 block of each tile t of [t0, t1), channels [k0, k0 + kb) =
 * A^T M[.][t - t0] A (+ y's old value, if accumulate) + bias, then the
 * activation; outputs past the last row
 * or column are dropped.  Scratch: A^T M as [4][6][kb], then the block as
 * [4][4][kb]. */
static void FN(winograd_output)(const FN(direct_geom) *g, const FN(winograd_cut) *cut,
                                const T *m, int64_t t0, int64_t t1, int64_t k0, const T *bias,
                                int act, T act_alpha, int accumulate, T *scratch, T *y,
                                const int64_t ys[4]) {
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const int64_t kb = FC_MIN(cut->kb, g->k - k0), mplane = cut->tb * cut->kb;
    T *half = scratch, *quad = scratch + FC_WINOGRAD_M * FC_WINOGRAD_A * kb;
    for (int64_t t = t0; t < t1; t++) {
        const int64_t n = t / (cut->th * cut->tw), ti = t / cut->tw % cut->th, tj = t % cut->tw;
        const T *in = m + (t - t0) * cut->kb;
        for (int b = 0; b < FC_WINOGRAD_A; b++) {   /* columns: A^T M */
            const T *col[FC_WINOGRAD_A];
            T *out[FC_WINOGRAD_M];
            for (int a = 0; a < FC_WINOGRAD_A; a++) col[a] = in + (a * FC_WINOGRAD_A + b) * mplane;
            for (int a = 0; a < FC_WINOGRAD_M; a++) out[a] = half + (a * FC_WINOGRAD_A + b) * kb;
            kern->winograd_at(col, kb, out);
        }
        for (int a = 0; a < FC_WINOGRAD_M; a++) {   /* rows: (A^T M) A */
            const T *row[FC_WINOGRAD_A];
            T *out[FC_WINOGRAD_M];
            for (int b = 0; b < FC_WINOGRAD_A; b++) row[b] = half + (a * FC_WINOGRAD_A + b) * kb;
            for (int b = 0; b < FC_WINOGRAD_M; b++) out[b] = quad + (a * FC_WINOGRAD_M + b) * kb;
            kern->winograd_at(row, kb, out);
        }
        const int64_t x0 = FC_WINOGRAD_M * tj, cols = FC_MIN(FC_WINOGRAD_M, g->wo - x0);
        for (int a = 0; a < FC_WINOGRAD_M && FC_WINOGRAD_M * ti + a < g->ho; a++)   /* a row's pixels */
            (accumulate ? kern->bias_add_act : kern->bias_act)(quad + a * FC_WINOGRAD_M * kb, kb,
                           y + n * ys[0] + (FC_WINOGRAD_M * ti + a) * ys[1] + x0 * ys[2] + k0,
                           ys[2], cols, kb, bias ? bias + k0 : NULL, act, act_alpha);
    }
}

/* A thread's buffers: V, M, the GEMM's A panels and the transforms' scratch. */
typedef struct {
    T *v, *m, *gemm, *scratch;
    int64_t gemm_len;
} FN(winograd_bufs);

/* V and M of a tile block. */
static int FN(winograd_planes_alloc)(const FN(winograd_cut) *cut, FN(winograd_bufs) *b) {
    b->v = (T *)fc_alloc(FC_WINOGRAD_POINTS * cut->tb * cut->ldv, sizeof(T));
    b->m = (T *)fc_alloc(FC_WINOGRAD_POINTS * cut->tb * cut->kb, sizeof(T));
    return b->v && b->m ? FC_OK : FC_ENOMEM;
}

/* The GEMM's A panels (for one thread's GEMMs) and the transforms' scratch. */
static int FN(winograd_scratch_alloc)(const FN(direct_geom) *g, const FN(winograd_cut) *cut,
                                      FN(winograd_bufs) *b) {
    FN(fc_gemm_plan) probe = {0};
    probe.m = cut->tb; probe.n = cut->kb; probe.k = g->c;
    probe.b_panels = (const T *)b;   /* only whether B comes packed matters */
    probe.kernel = cut->kd;
    b->gemm_len = FN(fc_gemm_scratch_len)(&probe, 1);
    b->gemm = (T *)fc_alloc(FC_MAX(1, b->gemm_len), sizeof(T));
    b->scratch = (T *)fc_alloc(FC_WINOGRAD_POINTS * FC_MAX(g->c + 1, 2 * cut->kb) + g->c,
                               sizeof(T));
    return b->gemm && b->scratch ? FC_OK : FC_ENOMEM;
}

static void FN(winograd_bufs_free)(FN(winograd_bufs) *b) {
    fc_free(b->v);
    fc_free(b->m);
    fc_free(b->gemm);
    fc_free(b->scratch);
}

/* Tile block `block` of K block k0 on a team (member id of nt; every member
 * calls it): each member transforms its share of the block's tiles in, runs
 * its share of the 36 GEMMs on one thread, then transforms its share out.  V
 * and M are the team's (planes), the GEMM's panels and the transforms'
 * scratch each member's own.  Every sum is the one a single thread makes,
 * in the same order. */
static int FN(winograd_block)(const FN(direct_geom) *g, const FN(winograd_cut) *cut,
                              const T *x, const int64_t xs[4], const T *u, int64_t k0,
                              int64_t block, const T *bias, int act, T act_alpha, int accumulate,
                              T *y, const int64_t ys[4], const FN(winograd_bufs) *planes,
                              FN(winograd_bufs) *own, int id, int nt) {
    const int64_t t0 = block * cut->tb, t1 = FC_MIN(cut->tiles, t0 + cut->tb);
    const int64_t ta = t0 + (t1 - t0) * id / nt, tz = t0 + (t1 - t0) * (id + 1) / nt;
    FN(winograd_input)(g, cut, x, xs, ta, tz, own->scratch, planes->v + (ta - t0) * cut->ldv);
    if (nt > 1) {   /* (a block of its own, nt = 1, runs inside an omp for: no barrier there) */
#pragma omp barrier
    }
    int status = FC_OK;
    for (int xi = id; xi < FC_WINOGRAD_POINTS && status == FC_OK; xi += nt) {
        FN(fc_matrix) A = {planes->v + xi * cut->tb * cut->ldv, cut->ldv, 1};
        FN(fc_gemm_plan) pl = {0};
        pl.m = t1 - t0; pl.n = FC_MIN(cut->kb, g->k - k0); pl.k = g->c;
        pl.pack_a = FN(fc_pack_a_matrix); pl.a_ctx = &A;
        pl.a_direct = A.p; pl.lda_direct = cut->ldv;
        pl.b_panels = u + xi * g->c * cut->kb;
        pl.c = planes->m + xi * cut->tb * cut->kb; pl.rsc = cut->kb; pl.csc = 1;
        pl.alpha = 1; pl.beta = 0;
        pl.kernel = cut->kd;
        pl.scratch = own->gemm; pl.scratch_len = own->gemm_len;
        status = FN(fc_gemm_run)(&pl, 1);
    }
    if (nt > 1) {
#pragma omp barrier
    }
    FN(winograd_output)(g, cut, planes->m + (ta - t0) * cut->kb, ta, tz, k0, bias, act, act_alpha,
                        accumulate, own->scratch, y, ys);
    return status;
}

/* U of K block k0, input channels split among a team: member id of nt. */
static void FN(winograd_kernel_share)(const FN(direct_geom) *g, const FN(winograd_cut) *cut,
                                      const T *w, int64_t k0, T *tscratch, T *u, int id, int nt) {
    FN(winograd_kernel)(g, cut, w, k0, g->c * id / nt, g->c * (id + 1) / nt,
                        tscratch + (int64_t)id * 3 * FC_WINOGRAD_A * cut->kb, u);
}

/* y = act(conv(x, w) + bias (+ y's old value, if accumulate)) for a 3x3
 * stride-1 convolution, w as (3, 3, c, k).
 * Tile blocks go to threads when there are enough of them; otherwise the
 * blocks run in turn, each on the whole team (winograd_block).  The threads
 * share each K block's kernel transform. */
static int FN(winograd_conv)(const FN(direct_geom) *g, const T *x, const int64_t xs[4],
                             const T *w, const T *bias, int act, T act_alpha, int accumulate,
                             T *y, const int64_t ys[4], int nthreads) {
    FN(winograd_cut) cut;
    FN(winograd_plan_cut)(g, nthreads, &cut);
    if (cut.tiles == 0 || g->k == 0) return FC_OK;
    const int64_t nblocks = FC_CEIL_DIV(cut.tiles, cut.tb);
    /* U, then the kernel transform's scratch per thread */
    const int64_t u_len = FC_WINOGRAD_POINTS * g->c * cut.kb;
    T *u = (T *)fc_alloc(u_len + (int64_t)nthreads * 3 * FC_WINOGRAD_A * cut.kb, sizeof(T));
    if (!u) return FC_ENOMEM;
    T *tscratch = u + u_len;
    int status = FC_OK;
    const int own_blocks = !cut.team;   /* a block a thread, or the team on each block */
    FN(winograd_bufs) planes = {0};   /* the team's V and M */
    if (!own_blocks && FN(winograd_planes_alloc)(&cut, &planes) != FC_OK) status = FC_ENOMEM;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && status == FC_OK)
    {
        const int id = fc_thread_id(), nt = fc_thread_count();
        FN(winograd_bufs) b = {0};
        if (FN(winograd_scratch_alloc)(g, &cut, &b) != FC_OK ||
            (own_blocks && FN(winograd_planes_alloc)(&cut, &b) != FC_OK)) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
        for (int64_t k0 = 0; k0 < g->k; k0 += cut.kb) {
#pragma omp barrier
            int ok;   /* the same for every thread: status changes only between the barriers */
#pragma omp atomic read
            ok = status;
            if (ok != FC_OK) break;
            FN(winograd_kernel_share)(g, &cut, w, k0, tscratch, u, id, nt);
#pragma omp barrier
            int mine = FC_OK;
            if (own_blocks) {
#pragma omp for schedule(static)
                for (int64_t blk = 0; blk < nblocks; blk++)
                    if (mine == FC_OK)
                        mine = FN(winograd_block)(g, &cut, x, xs, u, k0, blk, bias, act, act_alpha,
                                                  accumulate, y, ys, &b, &b, 0, 1);
            } else {
                for (int64_t blk = 0; blk < nblocks; blk++) {
                    const int r = FN(winograd_block)(g, &cut, x, xs, u, k0, blk, bias, act,
                                                     act_alpha, accumulate, y, ys, &planes, &b, id, nt);
                    if (r != FC_OK) mine = r;
#pragma omp barrier
                }
            }
            if (mine != FC_OK) {
#pragma omp atomic write
                status = mine;
            }
        }
        FN(winograd_bufs_free)(&b);
    }
    FN(winograd_bufs_free)(&planes);
    fc_free(u);
    return status;
}
