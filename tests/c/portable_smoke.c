/* A C-only check of the kernel library, for machines where the Python suite
 * cannot run: the aarch64 build that CI cross-compiles and runs under qemu
 * (tests/c/run_aarch64.sh).  GEMM and every applicable convolution algorithm,
 * forward and backward, on 1 and 2 threads, against naive loops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "fastconv/fastconv.h"

static int failures = 0;

static double urand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffff) / 32768.0 - 1.0;
}

static float *random_f32(int64_t n, unsigned seed) {
    float *p = malloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++) p[i] = (float)urand(&seed);
    return p;
}

static void expect_close(const char *what, const float *got, const double *want, int64_t n) {
    double worst = 0, scale = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]);
        if (!(e <= worst)) worst = e;   /* NaN counts as the worst */
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
    }
    int ok = worst <= 1e-4 * scale;
    printf("%-4s %s (max error %.2g of %.2g)\n", ok ? "ok" : "FAIL", what, worst, scale);
    failures += !ok;
}

static void check_gemm(int64_t m, int64_t n, int64_t k, int threads) {
    float *a = random_f32(m * k, 1), *b = random_f32(k * n, 2), *c = calloc((size_t)(m * n), sizeof *c);
    double *want = calloc((size_t)(m * n), sizeof *want);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            for (int64_t p = 0; p < k; p++) want[i * n + j] += (double)a[i * k + p] * b[p * n + j];
    fc_gemm_args g = {.m = m, .n = n, .k = k, .a = a, .rsa = k, .csa = 1, .b = b, .rsb = n, .csb = 1,
                      .c = c, .rsc = n, .csc = 1, .alpha = 1, .beta = 0};
    char what[96];
    snprintf(what, sizeof what, "gemm %lldx%lldx%lld, %d thread(s)", (long long)m, (long long)n,
             (long long)k, threads);
    if (fc_gemm_f32(&g, threads) != FC_OK) { printf("FAIL %s: error\n", what); failures++; }
    else expect_close(what, c, want, m * n);
    free(a); free(b); free(c); free(want);
}

/* NHWC input n x h x w x c, weights (r, s, c / groups, k), stride st, pad p. */
static void check_conv(int64_t n, int64_t h, int64_t w, int64_t c, int64_t r, int64_t k,
                       int64_t groups, int64_t st, int64_t p, int algo, int threads) {
    int64_t cg = c / groups, kg = k / groups;
    int64_t ho = (h + 2 * p - r) / st + 1, wo = (w + 2 * p - r) / st + 1;
    fc_conv_desc d = {.n = n, .h = h, .w = w, .c = c, .r = r, .s = r, .k = k, .groups = groups,
                      .cg = cg, .kg = kg, .stride_h = st, .stride_w = st, .dil_h = 1, .dil_w = 1,
                      .pad_top = p, .pad_bottom = p, .pad_left = p, .pad_right = p, .ho = ho, .wo = wo,
                      .xs = {h * w * c, w * c, c, 1}, .ys = {ho * wo * k, wo * k, k, 1},
                      .dxs = {h * w * c, w * c, c, 1}, .algo = algo};
    fc_conv_plan plan;
    if (fc_conv_plan_f32(&d, &plan) != FC_OK) return;   /* the algorithm does not apply */
    int64_t nx = n * h * w * c, nw = r * r * cg * k, ny = n * ho * wo * k;
    float *x = random_f32(nx, 3), *wt = random_f32(nw, 4), *dy = random_f32(ny, 5);
    float *y = malloc((size_t)ny * sizeof *y), *dx = malloc((size_t)nx * sizeof *dx);
    float *dw = malloc((size_t)nw * sizeof *dw), *db = malloc((size_t)k * sizeof *db);
    double *y_ref = calloc((size_t)ny, sizeof *y_ref), *dx_ref = calloc((size_t)nx, sizeof *dx_ref);
    double *dw_ref = calloc((size_t)nw, sizeof *dw_ref), *db_ref = calloc((size_t)k, sizeof *db_ref);
    for (int64_t b = 0; b < n; b++)
        for (int64_t oh = 0; oh < ho; oh++)
            for (int64_t ow = 0; ow < wo; ow++)
                for (int64_t ko = 0; ko < k; ko++) {
                    int64_t yi = ((b * ho + oh) * wo + ow) * k + ko, g = ko / kg;
                    db_ref[ko] += dy[yi];
                    for (int64_t i = 0; i < r; i++)
                        for (int64_t j = 0; j < r; j++) {
                            int64_t ih = oh * st - p + i, iw = ow * st - p + j;
                            if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                            for (int64_t ci = 0; ci < cg; ci++) {
                                int64_t xi = ((b * h + ih) * w + iw) * c + g * cg + ci;
                                int64_t wi = ((i * r + j) * cg + ci) * k + ko;
                                y_ref[yi] += (double)x[xi] * wt[wi];
                                dx_ref[xi] += (double)dy[yi] * wt[wi];
                                dw_ref[wi] += (double)dy[yi] * x[xi];
                            }
                        }
                }
    char what[160];
    snprintf(what, sizeof what, "conv %s %lldx%lldx%lldx%lld %lldx%lld/%lld k=%lld groups=%lld, %d thread(s)",
             fc_conv_algo_name(plan.pass[FC_PASS_FORWARD].algo), (long long)n, (long long)h,
             (long long)w, (long long)c, (long long)r, (long long)r, (long long)st, (long long)k,
             (long long)groups, threads);
    if (fc_conv2d_f32(&d, x, wt, NULL, FC_ACT_NONE, 0, y, threads) != FC_OK ||
        fc_conv2d_backward_f32(&d, dy, x, wt, dx, dw, db, threads) != FC_OK) {
        printf("FAIL %s: error\n", what);
        failures++;
    } else {
        expect_close(what, y, y_ref, ny);
        expect_close("  dx", dx, dx_ref, nx);
        expect_close("  dw", dw, dw_ref, nw);
        expect_close("  db", db, db_ref, k);
    }
    free(x); free(wt); free(dy); free(y); free(dx); free(dw); free(db);
    free(y_ref); free(dx_ref); free(dw_ref); free(db_ref);
}

int main(void) {
    printf("isa %s, %d thread(s) available\n", fc_isa_name(fc_get_isa()), fc_max_threads());
    for (int threads = 1; threads <= 2; threads++) {
        check_gemm(1, 300, 70, threads);
        check_gemm(37, 53, 129, threads);
        check_gemm(200, 190, 300, threads);
        for (int algo = FC_CONV_AUTO; algo < FC_CONV_NUM_ALGOS; algo++) {
            check_conv(2, 9, 11, 16, 3, 24, 1, 1, 1, algo, threads);    /* 3x3 s1 */
            check_conv(1, 12, 12, 3, 7, 16, 1, 2, 3, algo, threads);    /* stem */
            check_conv(1, 8, 8, 32, 1, 48, 1, 2, 0, algo, threads);     /* 1x1 s2 */
            check_conv(2, 10, 10, 24, 3, 24, 24, 1, 1, algo, threads);  /* depthwise */
            check_conv(1, 10, 10, 32, 3, 32, 8, 2, 1, algo, threads);   /* grouped */
        }
    }
    printf(failures ? "%d check(s) failed\n" : "all checks passed\n", failures);
    return failures != 0;
}
