/* The convolution plan for one dtype: which algorithm and variant runs each
 * pass (forward, dx, dw) of a convolution, and why.  This is the one place the
 * rule is stated; the entry points (conv.tmpl.h) only run what it decides, and
 * fc_conv_plan_* reports it (fastconv.conv2d_plan in Python).
 *
 * Algorithms: the implicit GEMM (any convolution); depthwise kernels with
 * channels on the vector lanes (one input channel per group, narrow groups,
 * and as many input as output channels per group: variant "lanes"); direct kernels
 * with output pixels on the vector lanes (few output channels); Winograd
 * F(4x4, 3x3) (forward and dx; dw by F(3x3, 4x4)); the in-place dw GEMM.
 * Direct, Winograd and in-place need stride 1 and no dilation, and all but
 * the direct forward pass and dx one group; dx by a forward algorithm also
 * needs padding that leaves the flipped convolution a non-negative one.  The
 * automatic choice never depends on the thread count, so neither do results. */
#ifndef FC_INSTANTIATING
#error "conv_plan.tmpl.h is a dtype template: include it through instantiate.h (T, SFX, FN)"
#endif

/* What the entry points need of one pass of the plan. */
typedef struct {
    int algo, variant;
    FN(direct_geom) geo;   /* the stride-1 convolution direct and Winograd run (dx: on dy) */
    int64_t lda;           /* FC_VARIANT_POINTWISE: the input's pixel row stride */
    int64_t nhwc_chunk;    /* backward on NHWC copies of this many images (0: in place);
                              the fields above then plan such a chunk */
} FN(pass_plan);

/* Whether k output channels are few enough for the direct kernels to beat the
 * GEMM (measured on Sapphire Rapids, float32, 1 and 2 threads): up to 16
 * always (dw: 8; LeNet's 6->16 dw takes 0.56 ms direct, 0.42 ms as a GEMM); up
 * to 32 with at least 9 taps when the GEMM's 16-wide tiles would be part
 * padding (3x3, 64->24 on 56x56: 6.0 vs 7.9 ms) or with at least 25 taps (5x5,
 * 16->32 on 28x28: 1.35 vs 1.50 ms); not for 3x3 to 32 channels (1.45 vs 1.36 ms).
 * Never for one tap: a 1x1 layer's GEMM reads its pixel rows in place, while
 * the direct kernels copy the input into planes first (Zen 5, 1 thread,
 * forward: YOLO-tiny's 8x8x64->16 0.043 -> 0.016 ms, 8x13x13x256->16 0.29 ->
 * 0.07, 8x28x28x64->2 0.27 -> 0.11; dx + dw 1.0-3x likewise).
 *
 * Those figures are for kernels whose tile of FC_DIRECT_MAX_KB channels spans
 * several vectors of pixels (AVX-512: 3).  With registers for one vector
 * (AVX2: 8 pixels x 8 channels), each weight broadcast serves one vector and
 * the GEMM already wins at 16 channels: Zen 3, 1 thread, batch 8, direct
 * against GEMM, 3x3 and 5x5 on 28x28 and 56x56 from 16 or 64 channels: to 8
 * channels 1.05-1.48x, to 16 0.79-1.06x, to 24 0.95-1.08x, to 32 0.73-0.84x
 * (GoogLeNet 3a's 5x5, 16->32: 2.67 against 2.10 ms).  So the forward pass
 * of such kernels goes direct up to 8 channels only.  dx keeps the rule
 * (its 5x5 to 16 channels as a GEMM made the 28x28 16->8 backward 1.77 ->
 * 2.51 ms), and so do the portable kernels (one lane). */
static int FN(few_channels)(int pass, int64_t k, int64_t taps) {
    if (taps == 1) return 0;
    if (pass == FC_PASS_DW) return k <= FC_DIRECT_MAX_KB;
    const FN(fc_conv_kernels) *kern = FN(fc_conv_kernels_for)();
    const int one_vector_tile = kern->lanes > 1 && kern->width[FC_DIRECT_MAX_KB] < 2 * kern->lanes;
    if (pass == FC_PASS_FORWARD && one_vector_tile)
        return k <= FC_DIRECT_MAX_KB;
    return k <= 2 * FC_DIRECT_MAX_KB ||
           (k <= 4 * FC_DIRECT_MAX_KB && taps >= 9 && (k % 16 != 0 || taps >= 25));
}

/* The direct kernels compute each padded row whole (s - 1 columns past the
 * output row's end at stride 1, dropped), which wastes lanes on narrow maps,
 * where the GEMM wins.  Measured on Zen 5, 1 thread, batch 8, forward, over
 * 16-128 input channels: 5x5 to 32 channels, the GEMM 1.2-1.5x faster on
 * 14x14 and 1.5-1.8x on 7x7, even on 28x28; 5x5 to 16 channels, even on
 * 14x14 (0.9-1.35x), the GEMM 1.1-1.4x faster on 7x7; 3x3 to 16-24 channels,
 * the GEMM 1.2-1.5x faster on 7x7, direct 1.05-1.2x faster on 14x14; to 8
 * channels direct wins everywhere (1.1-2x).  So: rows of at least seven
 * times the dropped columns, or of 14 columns up to 16 channels. */
static int FN(direct_rows_wide_enough)(int pass, const FN(direct_geom) *g) {
    const int64_t wide = 7 * (g->s - 1);
    if (pass == FC_PASS_DW || g->k <= FC_DIRECT_MAX_KB) return 1;
    return g->wo >= (g->k <= 2 * FC_DIRECT_MAX_KB ? FC_MIN(wide, 14) : wide);
}

/* A stem's forward pass with 16 or more output channels and at most 3x3 taps
 * runs faster as the "rows" GEMM variant than on the direct kernels (Zen 5, 1
 * and 2 threads: 3->16 on 64x64 batch 8 1.41x, on 416x416 2.2-3.1x, 8->16 on
 * 32x32 1.07x); with fewer output channels the GEMM tile's lanes go unused
 * (3->8: 0.65x) and 5x5 kernels stay direct (6->16 on 14x14: 0.86x). */
static int FN(rows_beats_direct)(const fc_conv_desc *d, int pass) {
    return pass == FC_PASS_FORWARD && FN(rows_applies)(d) && d->k >= 16 && d->r * d->s <= 9;
}

/* One image goes to the direct kernels (which then share its tiles among
 * threads) only when it is this large: YOLOv3-tiny conv0 (416x416, 3->16)
 * forward 3.60 -> 2.12 ms, but GoogLeNet 5a's 5x5 dx (7x7, 128->32) 0.20 ->
 * 0.37 ms, its padded rows mostly waste the lanes. */
#define FC_DIRECT_MIN_B1_PIXELS 4096

/* The in-place dw GEMM for 3x3 layers up to this many channels each way:
 * resnet-3x3 (64) dw 20.9 -> 17.5 ms at 1 thread, 12.6 -> 10.2 at 2; but
 * vgg-c2's 128 channels 32.4 -> 35.0 ms, and slower for 1x1 and 5x5.  Not
 * where the rows variant takes dw (at most 8 input channels): its GEMM over
 * whole kernel rows won 1.4-2.6x (Zen 5, 1 thread: 32x64x64 3->16 4.95 ->
 * 2.80 ms, 8x56x56 4->64 2.97 -> 1.14, 8->64 3.01 -> 2.03). */
#define FC_INPLACE_DW_MAX_CHANNELS 64

/* Winograd F(4x4, 3x3) pays for its kernel transform (36 C K values, per
 * call) from this many 4x4 output tiles, and its 36 GEMMs per tile block are
 * too narrow below this many channels each way.  Measured on Zen 5, 1
 * thread, against the algorithm auto picked before: C = K from 32, 16 tiles
 * (1x14x14) 0.82-0.99x, 32 tiles (8x7x7) 1.15-1.39x, 49 (1x28x28) 1.6-2.0x,
 * 196 and more 2.0-3.6x; 16 x 16 channels 1.4-1.6x, 16 x 32 1.6-1.9x,
 * 8 x 32 1.03x, 32 x 8 1.10x (dw 0.87x).
 * Where the GEMM runs at half that FMA rate (Zen 4 executes 512-bit FMAs on
 * 256-bit units; AVX2 or portable kernels) the transforms pay from fewer
 * tiles, while U stays in cache: Zen 4, against the GEMM, 16 tiles (1x14x14,
 * C x K from 128 x 128 to 160 x 320) forward 1.53-1.61x on 1 thread,
 * 0.99-1.22x on 2, dx 1.6-2.0x / 1.0-1.4x; 9 tiles 1.05-1.45x, 8 (2x7x7)
 * 0.86-1.04x; 512 x 512 (U 38 MB, from memory each call) 1.28-1.38x on 1
 * thread but 0.88-0.94x on 2. */
#define FC_WINOGRAD_MIN_TILES 32
#define FC_WINOGRAD_MIN_TILES_HALF_RATE 16
#define FC_WINOGRAD_MIN_CHANNELS 16
/* dw by Winograd F(3x3, 4x4) transforms no kernel: it wins from few tiles
 * (8 images of 4x4, 1 thread: 1.2-2.0x the GEMM; 16 tiles 1.0-4.7x). */
#define FC_WINOGRAD_DW_MIN_TILES 8

/* The output tiles from which auto runs pass (not dw) by Winograd (above). */
static int64_t FN(winograd_min_tiles)(const FN(direct_geom) *g, int pass) {
    if (pass == FC_PASS_DW) return FC_WINOGRAD_DW_MIN_TILES;
    fc_cpu_caches caches;
    fc_cpu_caches_get(&caches);
    const int half_rate = fc_get_isa() != FC_ISA_AVX512 || fc_cpu_fma512_ratio() < 1.5;
    const int u_in_cache = FC_WINOGRAD_POINTS * g->c * g->k * (int64_t)sizeof(T) <= caches.l3 / 2;
    return half_rate && u_in_cache ? FC_WINOGRAD_MIN_TILES_HALF_RATE : FC_WINOGRAD_MIN_TILES;
}

/* A 1x1, stride-1, unpadded convolution is a plain GEMM on the input's pixel
 * rows (x for the forward pass, dy for dx): when the pixels of the whole batch,
 * of the input (strides as) and of the output (strides os), are evenly spaced
 * with unit channel stride, the GEMM reads the input's rows in place (no
 * packing), unless rows a multiple of 4 KiB apart would alias in L1. */
static int FN(pointwise_applies)(const fc_conv_desc *d, const int64_t as[4], const int64_t os[4],
                                 int64_t *lda) {
    const int64_t batch[3] = {d->n, d->h, d->w};
    int64_t out_rows;
    return d->r == 1 && d->s == 1 && d->stride_h == 1 && d->stride_w == 1 && d->pad_top == 0 &&
           d->pad_left == 0 && as[3] == 1 && fc_uniform_row_stride(as, batch, lda) &&
           fc_uniform_row_stride(os, batch, &out_rows) && (*lda * (int64_t)sizeof(T)) % 4096 != 0;
}

/* Why no algorithm but the GEMM (and the depthwise kernels) can run this pass,
 * groups aside, or NULL when one may. */
static const char *FN(stride1_obstacle_any_groups)(const fc_conv_desc *d, int pass) {
    if (d->stride_h != 1 || d->stride_w != 1) return "stride > 1";
    if (d->dil_h != 1 || d->dil_w != 1) return "dilation > 1";
    if (pass == FC_PASS_DX && (d->pad_top >= d->r || d->pad_left >= d->s ||
                               d->pad_bottom >= d->r || d->pad_right >= d->s))
        return "dx needs padding smaller than the kernel on every side";
    return NULL;
}

static const char *FN(stride1_obstacle)(const fc_conv_desc *d, int pass) {
    if (d->groups != 1) return "groups > 1";
    return FN(stride1_obstacle_any_groups)(d, pass);
}

/* The GEMM's variant for a pass. */
static int FN(gemm_variant)(const fc_conv_desc *d, int pass, int64_t *lda) {
    switch (pass) {
    case FC_PASS_FORWARD:
        if (FN(pointwise_applies)(d, d->xs, d->ys, lda)) return FC_VARIANT_POINTWISE;
        if (FN(rows_forward_applies)(d)) return FC_VARIANT_ROWS;
        return FN(nchw_applies)(d) ? FC_VARIANT_NCHW : FC_VARIANT_IM2COL;
    case FC_PASS_DX:
        /* at most 4 input channels (a stem): dcol's GEMM would have that many
         * columns and gather r * s pixels of dy per row; col2im's has r * s * c
         * columns and reads dy in place.  Zen 4, AVX-512, 1 thread, dx + dw +
         * db of 416x416, 3 -> 16 channels: 20.4 ms -> 14.8; LeNet-5's first
         * layer at batch 64: 1.67 -> 1.37 */
        if (d->stride_h > 1 || d->stride_w > 1 || (d->groups == 1 && d->cg <= 4)) return FC_VARIANT_COL2IM;
        /* grouped: the grouped forward GEMM of dy with the flipped kernel, all
         * groups in one pass (the dcol GEMM would run one per group) */
        if (d->groups > 1 && !FN(stride1_obstacle_any_groups)(d, pass)) return FC_VARIANT_FLIPPED;
        return FN(pointwise_applies)(d, d->ys, d->dxs, lda) ? FC_VARIANT_POINTWISE : FC_VARIANT_DCOL;
    default:
        if (FN(rows_applies)(d)) return FC_VARIANT_ROWS;   /* dy's strides are in ys */
        return d->n * d->ho * d->wo < d->kg ? FC_VARIANT_COL_T_DY : FC_VARIANT_DY_T_COL;
    }
}

/* A grouped forward pass with more (input x output) channels per group than
 * this runs faster as the group-blocked GEMM (conv.tmpl.h) than on the
 * depthwise kernels, whose cost grows with cg * kg.  Measured on Zen 5, batch
 * 8, 56x56, stride 2: cg = kg = 4 4.8 ms against 6.3; cg = kg = 8 8.8 against
 * 23; cg = kg = 2 3.6 against 1.5.  (dx and dw still run one GEMM per group,
 * so they keep the depthwise kernels up to 8 x 8.) */
#define FC_DEPTHWISE_MAX_GROUPED_FORWARD 8


/* The group-lanes kernels (depthwise variant "lanes") run the forward pass
 * and dx of every grouped layer they take without being asked, and dw up to
 * this many channels per group.  Measured on Zen 5, float32, 1 thread,
 * against the best of the other algorithms, forward, batch 8: 4 per group
 * (56x56x128) 6.4 -> 3.2 ms, 8 (28x28x256) 5.0 -> 2.4 ms, 16 (14x14x512)
 * 2.5 -> 2.0 ms, 32 (7x7x1024) 1.70 -> 1.62 ms; dw (against the GEMM), batch
 * 8: 4 per group 97.6 -> 6.1 ms, 8 12.5 -> 4.3 ms, 16 5.4 -> 2.6 ms, but 32
 * 3.6 -> 5.6 ms (7-pixel rows: each call loads and stores its 16
 * accumulators for 7 pixels' work).  The forward pass and dx only up to
 * FC_GL_AUTO_MAX_LANES_PER_GROUP vectors' worth of channels per group: on
 * Zen 3 (AVX2, 8 lanes), 32 per group ran 1.8-3.3x slower than the grouped
 * GEMM forward (7x7x1024 batch 1: 1.30 against 0.56 ms; 14x14x1024 stride 2:
 * 1.86 against 0.57), 16 per group at par (0.63 against 0.66). */
#define FC_GL_AUTO_MAX_G_DW 16
#define FC_GL_AUTO_MAX_LANES_PER_GROUP 2
#define FC_STR_(x) #x
#define FC_STR(x) FC_STR_(x)

/* The direct kernels also take groups, for the forward pass and dx. */
static const char *FN(direct_obstacle)(const fc_conv_desc *d, int pass, const FN(direct_geom) *g) {
    const char *why = pass == FC_PASS_DW ? FN(stride1_obstacle)(d, pass)
                                         : FN(stride1_obstacle_any_groups)(d, pass);
    if (why) return why;
    if (!FN(direct_applies)(g, pass, pass == FC_PASS_DX ? d->dxs : d->ys))
        return "the padded planar image (or dw's partial sums) exceeds the 8 MiB workspace "
               "cap, or the output offsets exceed int32";
    return NULL;
}


/* Whether a forward pass on channels-first tensors (nchw_applies, with x's
 * planes whole too) runs Winograd on NHWC copies of a few images at a time
 * (the variant nhwc_chunks, forward_by_nhwc_chunks): what the kernels would
 * take in NHWC but not as laid out, with one image's copies (in and out)
 * within FC_NHWC_MAX_IMAGE_BYTES. */
static int FN(winograd_by_nhwc_chunks)(const fc_conv_desc *d, int pass, const FN(direct_geom) *g) {
    const int64_t nhwc[4] = {0, 0, 0, 1};
    const int64_t image = (d->h * d->w * d->c + d->ho * d->wo * d->k) * (int64_t)sizeof(T);
    return pass == FC_PASS_FORWARD && FN(nchw_applies)(d) && (d->h == 1 || d->xs[1] == d->w) &&
           image <= FC_NHWC_MAX_IMAGE_BYTES && !FN(winograd_applies)(g, d->xs, d->ys) &&
           FN(winograd_applies)(g, nhwc, nhwc);
}

static const char *FN(winograd_obstacle)(const fc_conv_desc *d, int pass, const FN(direct_geom) *g) {
    const char *why = FN(stride1_obstacle)(d, pass);
    if (why) return why;
    if (d->r != 3 || d->s != 3) return "Winograd F(4x4, 3x3) needs a 3x3 kernel";
    const int64_t *is = pass == FC_PASS_DX ? d->ys : d->xs, *os = pass == FC_PASS_DX ? d->dxs : d->ys;
    if (!FN(winograd_applies)(g, is, os) && !FN(winograd_by_nhwc_chunks)(d, pass, g))
        return is[3] != 1 || os[3] != 1 ? "Winograd needs unit channel strides (NHWC)"
                                        : "Winograd's transformed kernel for one GEMM panel (36 C NR values) exceeds 16 MiB";
    return NULL;
}

static const char *FN(depthwise_obstacle)(const fc_conv_desc *d) {
    if (FN(depthwise_applies)(d)) return NULL;
    return d->cg > FC_DEPTHWISE_MAX_CG ? "the depthwise kernels take at most 8 input channels per group"
                                       : "the depthwise kernels need channel offsets within int32";
}

static const char *FN(inplace_obstacle)(const fc_conv_desc *d, int pass) {
    const char *why = FN(stride1_obstacle)(d, pass);
    if (why) return why;
    int64_t wp, len;
    if (pass != FC_PASS_DW) return "the in-place GEMM computes dw only";
    if (FN(inplace_dw_sizes)(d, &wp, &len) == 0) return "the padded image exceeds the 8 MiB workspace cap";
    return NULL;
}

#define FC_SAY(...) (void)(why ? snprintf(why, why_len, __VA_ARGS__) : 0)

/* Decides pass `pass` of d: fills p and returns p->algo, which is FC_EINVAL
 * when the algorithm asked for does not apply.  why (may be NULL) receives
 * the reason. */
static int FN(plan_pass)(const fc_conv_desc *d, int pass, FN(pass_plan) *p, char *why, size_t why_len) {
    p->nhwc_chunk = 0;
    if (pass != FC_PASS_FORWARD && (d->algo == FC_CONV_AUTO || d->algo == FC_CONV_GEMM) &&
        d->n > 0 && d->c > 0 && d->k > 0 && FN(pointwise_nchw_backward_applies)(d)) {
        p->geo = FN(direct_geom_of)(d);
        p->algo = FC_CONV_GEMM;
        p->variant = FC_VARIANT_NCHW;
        FC_SAY("%s1x1 on channels-first tensors: a GEMM per image on its planes, read in place",
               d->algo == FC_CONV_AUTO ? "auto: " : "asked for; ");
        return p->algo;
    }
    if (pass == FC_PASS_DX && (d->algo == FC_CONV_AUTO || d->algo == FC_CONV_DEPTHWISE) &&
        d->n > 0 && FN(backward_channels_first)(d) && FN(depthwise_planes_dx_applies)(d)) {
        p->geo = FN(direct_geom_dx)(d);
        p->algo = FC_CONV_DEPTHWISE;
        p->variant = FC_VARIANT_PLANES;
        FC_SAY("%sdepthwise on channels-first tensors at stride 1: dx as the depthwise forward "
               "of dy's planes with the flipped kernel, read in place",
               d->algo == FC_CONV_AUTO ? "auto: " : "asked for; ");
        return p->algo;
    }
    const int64_t chunk = pass == FC_PASS_FORWARD ? 0 : FN(backward_nhwc_chunk)(d);
    if (chunk) {   /* plan the twin; its reason goes after ours */
        const fc_conv_desc twin = FN(nhwc_twin)(d, chunk);
        char inner[sizeof(((fc_conv_pass_plan *)0)->reason)] = "";
        FN(plan_pass)(&twin, pass, p, inner, sizeof inner);
        p->nhwc_chunk = chunk;
        if (p->algo == FC_EINVAL) {
            FC_SAY("%s", inner);
            return p->algo;
        }
        FC_SAY("channels first: on NHWC copies of %lld image(s) at a time, as %s/%s: %s",
               (long long)chunk, fc_conv_algo_name(p->algo), fc_conv_variant_name(p->variant), inner);
        return p->algo;
    }
    p->geo = pass == FC_PASS_DX ? FN(direct_geom_dx)(d) : FN(direct_geom_of)(d);
    p->variant = FN(gemm_variant)(d, pass, &p->lda);
    p->algo = FC_CONV_GEMM;
    if (d->c == 0 || d->k == 0) {
        FC_SAY("no channels: nothing to compute but zeros");
        return p->algo;
    }
    const char *no_direct = FN(direct_obstacle)(d, pass, &p->geo);
    const char *no_winograd = FN(winograd_obstacle)(d, pass, &p->geo);
    const char *no_inplace = FN(inplace_obstacle)(d, pass);
    const char *no_lanes = FN(group_lanes_obstacle)(d, pass);
    const char *no_depthwise = no_lanes ? FN(depthwise_obstacle)(d) : NULL;
    if (no_depthwise && d->groups > 1 && d->cg == d->kg) no_depthwise = no_lanes;   /* the closer miss */
    if (d->accumulate && pass == FC_PASS_FORWARD)   /* only the GEMM and Winograd add into y */
        no_direct = no_depthwise = no_lanes = "its kernels store y without adding a residual to it";
    const char *obstacle = NULL;
    int asked = d->algo;
    switch (d->algo) {
    case FC_CONV_GEMM:
        FC_SAY("asked for");
        return p->algo;
    case FC_CONV_DIRECT: obstacle = no_direct; break;
    case FC_CONV_DEPTHWISE: obstacle = no_depthwise; break;
    case FC_CONV_WINOGRAD: obstacle = no_winograd; break;
    case FC_CONV_INPLACE:
        if (pass != FC_PASS_DW) {   /* the in-place GEMM is for dw */
            FC_SAY("'inplace' was asked for; it computes dw, this pass runs as a GEMM");
            return p->algo;
        }
        obstacle = no_inplace;
        break;
    default: {   /* FC_CONV_AUTO */
        const FN(direct_geom) *g = &p->geo;
        const int64_t tiles = g->n * FC_CEIL_DIV(g->ho, 4) * FC_CEIL_DIV(g->wo, 4);
        const int64_t winograd_tiles = FN(winograd_min_tiles)(g, pass);
        const int lanes = FN(fc_conv_kernels_for)()->lanes;
        if (!no_lanes && d->cg <= (pass == FC_PASS_DW ? FC_GL_AUTO_MAX_G_DW
                                                      : FC_GL_AUTO_MAX_LANES_PER_GROUP * lanes)) {
            asked = FC_CONV_DEPTHWISE;
            FC_SAY("auto: %lld groups of %lld channels each way: %s", (long long)d->groups,
                   (long long)d->cg,
                   d->cg < lanes
                       ? "whole groups on the vector lanes, each group's sum finished in registers"
                       : "a group's output channels on the vector lanes, its inputs broadcast");
        } else if (!no_direct && d->groups > 1 && pass != FC_PASS_DW && d->cg >= 2 &&
            FC_MAX(d->cg, d->kg) <= FC_DIRECT_MAX_KB) {
            asked = FC_CONV_DIRECT;
            FC_SAY("auto: %lld groups of %lld input and %lld output channels at stride 1: "
                   "output pixels on the vector lanes, one pass per group",
                   (long long)d->groups, (long long)d->cg, (long long)d->kg);
        } else if (!no_depthwise && d->groups > 1 &&
                   d->cg * d->kg <= (pass == FC_PASS_FORWARD ? FC_DEPTHWISE_MAX_GROUPED_FORWARD
                                                             : FC_DEPTHWISE_MAX_CG * FC_DEPTHWISE_MAX_CG)) {
            asked = FC_CONV_DEPTHWISE;
            FC_SAY("auto: %lld groups of %lld input and %lld output channels, too narrow for "
                   "GEMM tiles: output channels on the vector lanes", (long long)d->groups,
                   (long long)d->cg, (long long)d->kg);
        } else if (!no_winograd && FC_MIN(g->c, g->k) >= FC_WINOGRAD_MIN_CHANNELS &&
                   tiles >= winograd_tiles) {
            asked = FC_CONV_WINOGRAD;
            FC_SAY("auto: 3x3 stride 1 with %lld x %lld channels (at least %d each way) and %lld "
                   "output tiles (at least %lld)", (long long)g->c, (long long)g->k,
                   FC_WINOGRAD_MIN_CHANNELS, (long long)tiles,
                   (long long)winograd_tiles);
        } else if (!no_direct && FN(few_channels)(pass, g->k, g->r * g->s) &&
                   FN(direct_rows_wide_enough)(pass, g) && !FN(rows_beats_direct)(d, pass) &&
                   (d->n >= 2 || (pass != FC_PASS_DW && g->ho * g->wo >= FC_DIRECT_MIN_B1_PIXELS))) {
            asked = FC_CONV_DIRECT;
            FC_SAY("auto: %lld output channels with %lld taps are few enough to put output "
                   "pixels on the vector lanes", (long long)g->k, (long long)(g->r * g->s));
        } else if (!no_inplace && d->r == 3 && d->s == 3 && d->c <= FC_INPLACE_DW_MAX_CHANNELS &&
                   d->k <= FC_INPLACE_DW_MAX_CHANNELS && !FN(rows_applies)(d)) {
            asked = FC_CONV_INPLACE;
            FC_SAY("auto: dw of a 3x3 stride-1 layer with at most %d channels each way reads x "
                   "and dy in place", FC_INPLACE_DW_MAX_CHANNELS);
        } else {
            FC_SAY("auto: the implicit GEMM (depthwise: %s; direct: %s; winograd: %s)",
                   no_depthwise ? no_depthwise
                   : d->groups == 1 ? "for groups > 1"
                   : !no_lanes      ? "its lanes variant wins up to " FC_STR(FC_GL_AUTO_MAX_G_DW)
                                      " channels per group for dw, "
                                      FC_STR(FC_GL_AUTO_MAX_LANES_PER_GROUP) " vectors' worth otherwise"
                                    : "groups wide enough for GEMM tiles",
                   no_direct ? no_direct
                             : "more output channels than it wins with, rows too narrow for its "
                               "lanes, or one small image",
                   no_winograd ? no_winograd : "too few channels or output tiles for its GEMMs");
            return p->algo;
        }
        break;
    }
    }
    if (obstacle) {
        FC_SAY("'%s' does not apply: %s", fc_conv_algo_name(d->algo), obstacle);
        return p->algo = FC_EINVAL;
    }
    if (d->algo != FC_CONV_AUTO) FC_SAY("asked for");
    p->algo = asked;
    if (asked == FC_CONV_DEPTHWISE)
        p->variant = !no_lanes ? FC_VARIANT_LANES
                     : d->cg > 1 ? FC_VARIANT_GROUPED
                     : pass == FC_PASS_FORWARD && FN(depthwise_planes_applies)(d) ? FC_VARIANT_PLANES
                     : pass != FC_PASS_DX && FN(dw_wide_rows)(d) ? FC_VARIANT_WIDE_ROWS
                                                                  : FC_VARIANT_NONE;
    else if (asked == FC_CONV_WINOGRAD && FN(winograd_by_nhwc_chunks)(d, pass, &p->geo))
        p->variant = FC_VARIANT_NHWC_CHUNKS;
    else
        p->variant = pass == FC_PASS_DX ? FC_VARIANT_FLIPPED : FC_VARIANT_NONE;
    return p->algo;
}

#undef FC_SAY

/* The micro-kernel(s) pass p runs, e.g. "f32 gemm 12x32 avx512", for the report. */
static void FN(describe_kernels)(const fc_conv_desc *d, int pass, const FN(pass_plan) *p,
                                 char *buf, size_t len) {
    const char *dtype = sizeof(T) == sizeof(float) ? "f32" : "f64";
    const int64_t width = d->r * d->s * d->cg;   /* a row of im2col */
    int64_t n;                                   /* columns of the pass's GEMM */
    switch (p->algo) {
    case FC_EINVAL:
        snprintf(buf, len, "none");
        return;
    case FC_CONV_DIRECT:
    case FC_CONV_DEPTHWISE:
        snprintf(buf, len, "%s %s %d-lane %s", dtype, fc_conv_algo_name(p->algo),
                 FN(fc_conv_kernels_for)()->lanes, fc_isa_name(fc_get_isa()));
        return;
    case FC_CONV_WINOGRAD: n = p->geo.k; break;
    case FC_CONV_INPLACE: n = d->k; break;
    default:
        if (pass == FC_PASS_FORWARD) n = d->kg;
        else if (p->variant == FC_VARIANT_NCHW) n = pass == FC_PASS_DX ? d->h * d->w : d->k;
        else if (pass == FC_PASS_DX) n = p->variant == FC_VARIANT_COL2IM ? width : d->cg;
        else n = p->variant == FC_VARIANT_COL_T_DY ? d->kg : width;
    }
    const FN(fc_gemm_kernel) *k = FN(fc_gemm_kernel_for)(n);
    snprintf(buf, len, "%s gemm %dx%d %s%s", dtype, k->mr, k->nr, fc_isa_name(k->isa),
             p->algo == FC_CONV_WINOGRAD ? " + winograd transforms" : "");
}

int FN(fc_conv_plan)(const fc_conv_desc *d, fc_conv_plan *plan) {
    int status = FC_OK;
    for (int pass = 0; pass < FC_NUM_PASSES; pass++) {
        fc_conv_pass_plan *out = &plan->pass[pass];
        FN(pass_plan) p;
        if (FN(plan_pass)(d, pass, &p, out->reason, sizeof out->reason) == FC_EINVAL) status = FC_EINVAL;
        out->algo = p.algo;
        out->variant = p.nhwc_chunk ? FC_VARIANT_NHWC_CHUNKS : p.variant;
        FN(describe_kernels)(d, pass, &p, out->kernel, sizeof out->kernel);
    }
    return status;
}
