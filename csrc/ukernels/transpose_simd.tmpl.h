/* transpose: dst[j * dst_rs + i] = src[i * src_rs + j] for i < rows, j < cols
 * (the layout changes between channels-first planes and NHWC pixel rows, and
 * the weight re-layouts).  A VL x VL block is loaded as VL row vectors and
 * transposed in registers: by the ISA's own shuffles where its vector header
 * defines FC_TRANSPOSE_VL (AVX2: 24 one-uop shuffles for 8 x 8 floats, all in
 * 16 registers), else with two-source permutes (FC_PERMUTE2) by log2(VL)
 * rounds of interleaving row l with row l + VL/2 (after the last round,
 * vector l holds column l).  Edges, and the portable kernels, copy one value
 * at a time.  The scalar 16 x 16 loop it replaces took about 6 cycles a value
 * on Zen 3 (a third of a channels-first ResNet-18 layer1 forward pass).
 * Tiles of FC_TRANSPOSE_TILE x FC_TRANSPOSE_TILE keep both sides in L1.
 * Included by conv_simd.tmpl.h. */
#if !defined(FC_T) || !defined(FC_VL) || !defined(FC_DIRECT_FN)
#error "transpose_simd.tmpl.h: include it through conv_simd.tmpl.h"
#endif

#define FC_TRANSPOSE_TILE 64

static void FC_DIRECT_FN(transpose_scalar, _)(const FC_T *src, int64_t src_rs, int64_t i0,
                                              int64_t i1, int64_t j0, int64_t j1, FC_T *dst,
                                              int64_t dst_rs) {
    for (int64_t j = j0; j < j1; j++)
        for (int64_t i = i0; i < i1; i++) dst[j * dst_rs + i] = src[i * src_rs + j];
}

#if defined(FC_TRANSPOSE_VL) || defined(FC_PERMUTE2)
#define FC_TRANSPOSE_VECTORS
#endif

#if !defined(FC_TRANSPOSE_VL) && defined(FC_PERMUTE2)
/* The permutes of one round: lane l of lo(a, b) is lane l/2 of a (l even) or
 * of b (l odd); hi(a, b) the same from lane VL/2 on.  Indices in 32-bit units. */
static void FC_DIRECT_FN(transpose_perms, _)(FC_IDX *lo, FC_IDX *hi) {
    const int n32 = (int)(sizeof(FC_T) / 4);
    int32_t ilo[FC_IDX_UNITS], ihi[FC_IDX_UNITS];
    for (int l = 0; l < FC_VL; l++)
        for (int u = 0; u < n32; u++) {
            const int b = l % 2 ? FC_IDX_UNITS : 0;
            ilo[l * n32 + u] = (l / 2) * n32 + u + b;
            ihi[l * n32 + u] = (FC_VL / 2 + l / 2) * n32 + u + b;
        }
    *lo = FC_LOAD_IDX(ilo);
    *hi = FC_LOAD_IDX(ihi);
}
#define FC_TRANSPOSE_PERMS FC_IDX lo, hi; FC_DIRECT_FN(transpose_perms, _)(&lo, &hi)
#define FC_TRANSPOSE_PERMS_ARGS , lo, hi
#define FC_TRANSPOSE_PERMS_PARAMS , FC_IDX lo, FC_IDX hi
#else
#define FC_TRANSPOSE_PERMS
#define FC_TRANSPOSE_PERMS_ARGS
#define FC_TRANSPOSE_PERMS_PARAMS
#endif

#ifdef FC_TRANSPOSE_VECTORS

static void FC_DIRECT_FN(transpose_block, _)(const FC_T *src, int64_t src_rs, FC_T *dst,
                                             int64_t dst_rs FC_TRANSPOSE_PERMS_PARAMS) {
    FC_VEC v[FC_VL];
    for (int l = 0; l < FC_VL; l++) v[l] = FC_LOAD(src + l * src_rs);
#ifdef FC_TRANSPOSE_VL
    FC_TRANSPOSE_VL(v);
#else
    FC_VEC t[FC_VL];
    for (int round = FC_VL; round > 1; round /= 2) {
        for (int l = 0; l < FC_VL / 2; l++) {
            t[2 * l] = FC_PERMUTE2(v[l], v[l + FC_VL / 2], lo);
            t[2 * l + 1] = FC_PERMUTE2(v[l], v[l + FC_VL / 2], hi);
        }
        for (int l = 0; l < FC_VL; l++) v[l] = t[l];
    }
#endif
    for (int l = 0; l < FC_VL; l++) FC_STORE(dst + l * dst_rs, v[l]);
}
#endif

static void FC_DIRECT_FN(transpose, _)(const FC_T *src, int64_t src_rs, int64_t rows,
                                       int64_t cols, FC_T *dst, int64_t dst_rs) {
#ifdef FC_TRANSPOSE_VECTORS
    FC_TRANSPOSE_PERMS;
#endif
    for (int64_t i0 = 0; i0 < rows; i0 += FC_TRANSPOSE_TILE)
        for (int64_t j0 = 0; j0 < cols; j0 += FC_TRANSPOSE_TILE) {
            const int64_t i1 = i0 + FC_TRANSPOSE_TILE < rows ? i0 + FC_TRANSPOSE_TILE : rows;
            const int64_t j1 = j0 + FC_TRANSPOSE_TILE < cols ? j0 + FC_TRANSPOSE_TILE : cols;
            int64_t iv = i0, jv = j0;   /* the whole blocks end at iv, jv */
#ifdef FC_TRANSPOSE_VECTORS
            iv = i0 + (i1 - i0) / FC_VL * FC_VL;
            jv = j0 + (j1 - j0) / FC_VL * FC_VL;
            for (int64_t i = i0; i < iv; i += FC_VL)
                for (int64_t j = j0; j < jv; j += FC_VL)
                    FC_DIRECT_FN(transpose_block, _)(src + i * src_rs + j, src_rs,
                                                     dst + j * dst_rs + i, dst_rs FC_TRANSPOSE_PERMS_ARGS);
#endif
            FC_DIRECT_FN(transpose_scalar, _)(src, src_rs, i0, iv, jv, j1, dst, dst_rs);
            FC_DIRECT_FN(transpose_scalar, _)(src, src_rs, iv, i1, j0, j1, dst, dst_rs);
        }
}

#undef FC_TRANSPOSE_TILE
#undef FC_TRANSPOSE_VECTORS
#undef FC_TRANSPOSE_PERMS
#undef FC_TRANSPOSE_PERMS_ARGS
#undef FC_TRANSPOSE_PERMS_PARAMS
