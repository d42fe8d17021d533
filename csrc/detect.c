/* Detection kernels: the IoU matrix and greedy non-maximum suppression. */
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

/* The candidates still in play, in score order, as a structure of doubles so
 * the suppression loop vectorises: coordinates, area, class (as a double) and
 * alive (1.0 or 0.0); pos is each candidate's position in the sorted input. */
typedef struct {
    double *x1, *y1, *x2, *y2, *area, *cls, *alive;
    int64_t *pos;
} nms_set;

/* Drops the dead candidates from `from` on, keeping the order; returns the new count. */
static int64_t compact(nms_set *s, int64_t from, int64_t n) {
    int64_t w = from;
    for (int64_t j = from; j < n; j++) {
        if (s->alive[j] == 0) continue;
        s->x1[w] = s->x1[j]; s->y1[w] = s->y1[j]; s->x2[w] = s->x2[j]; s->y2[w] = s->y2[j];
        s->area[w] = s->area[j]; s->cls[w] = s->cls[j]; s->alive[w] = 1; s->pos[w] = s->pos[j];
        w++;
    }
    return w;
}

/* boxes: (n, 4) x1, y1, x2, y2 in score order; classes: NULL or n labels (boxes
 * of different classes never suppress each other).  Writes the kept positions
 * (into the sorted order) to keep and returns how many.  A box is dropped when
 * its IoU with a kept, higher-scored box exceeds iou_threshold; the test
 * inter > t * union avoids a division and never fires for empty boxes. */
int64_t fc_nms_sorted(const double *boxes, const int64_t *classes, int64_t n,
                      double iou_threshold, int64_t *keep) {
    if (n <= 0) return 0;
    nms_set s;
    s.x1 = (double *)fc_alloc(7 * n, sizeof(double));
    s.pos = (int64_t *)fc_alloc(n, sizeof(int64_t));
    if (!s.x1 || !s.pos) {
        fc_free(s.x1);
        fc_free(s.pos);
        return -1;
    }
    s.y1 = s.x1 + n; s.x2 = s.y1 + n; s.y2 = s.x2 + n; s.area = s.y2 + n; s.cls = s.area + n;
    s.alive = s.cls + n;
    for (int64_t i = 0; i < n; i++) {
        s.x1[i] = boxes[4 * i];
        s.y1[i] = boxes[4 * i + 1];
        s.x2[i] = boxes[4 * i + 2];
        s.y2[i] = boxes[4 * i + 3];
        const double w = s.x2[i] - s.x1[i], h = s.y2[i] - s.y1[i];
        s.area[i] = w > 0 && h > 0 ? w * h : 0;
        s.cls[i] = classes ? (double)classes[i] : 0;
        s.alive[i] = 1;
        s.pos[i] = i;
    }
    int64_t kept = 0, count = n;
    for (int64_t i = 0; i < count; i++) {
        if (s.alive[i] == 0) continue;
        keep[kept++] = s.pos[i];
        const double ax1 = s.x1[i], ay1 = s.y1[i], ax2 = s.x2[i], ay2 = s.y2[i], aa = s.area[i];
        const double ci = s.cls[i];
        double *restrict alive = s.alive;
        const double *restrict x1 = s.x1, *restrict y1 = s.y1, *restrict x2 = s.x2,
                     *restrict y2 = s.y2, *restrict area = s.area, *restrict cls = s.cls;
        double live = 0;
        for (int64_t j = i + 1; j < count; j++) {
            const double w = FC_MIN(ax2, x2[j]) - FC_MAX(ax1, x1[j]);
            const double h = FC_MIN(ay2, y2[j]) - FC_MAX(ay1, y1[j]);
            const double inter = (w > 0 ? w : 0) * (h > 0 ? h : 0);
            const int drop = (cls[j] == ci) & (inter > iou_threshold * (aa + area[j] - inter));
            alive[j] = drop ? 0.0 : alive[j];
            live += alive[j];
        }
        /* shrink the arrays when most of the rest is dead, so later scans are short */
        if (live < 0.5 * (double)(count - i - 1)) count = compact(&s, i + 1, count);
    }
    fc_free(s.x1);
    fc_free(s.pos);
    return kept;
}
