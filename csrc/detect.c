/* Detection kernels: the IoU matrix (non-maximum suppression is in nms.c). */
#include "internal.h"

/* out[i * m + j] = IoU(a[i], b[j]) for xyxy boxes; 0 when the union is empty. */
void fc_iou(const double *a, int64_t n, const double *b, int64_t m, double *out) {
    for (int64_t i = 0; i < n; i++) {
        const double ax1 = a[4 * i], ay1 = a[4 * i + 1], ax2 = a[4 * i + 2], ay2 = a[4 * i + 3];
        const double aw = ax2 - ax1, ah = ay2 - ay1, aa = (aw > 0 ? aw : 0) * (ah > 0 ? ah : 0);
        double *restrict row = out + i * m;
        for (int64_t j = 0; j < m; j++) {
            const double *bj = b + 4 * j;
            const double w = FC_MIN(ax2, bj[2]) - FC_MAX(ax1, bj[0]);
            const double h = FC_MIN(ay2, bj[3]) - FC_MAX(ay1, bj[1]);
            const double inter = (w > 0 ? w : 0) * (h > 0 ? h : 0);
            const double bw = bj[2] - bj[0], bh = bj[3] - bj[1];
            const double uni = aa + (bw > 0 ? bw : 0) * (bh > 0 ? bh : 0) - inter;
            row[j] = uni > 0 ? inter / uni : 0;
        }
    }
}
