/* Greedy non-maximum suppression.
 *
 * The boxes scoring at least the score threshold are put in descending score
 * order (ties: lower index first) once, by a stable radix sort of the scores.
 * The definition: walk the boxes in that order; a box still alive is kept and
 * kills every later live box of its key (class) whose IoU with it exceeds the
 * threshold, tested as inter > t * union (no division; never true for empty
 * boxes when t >= 0).
 *
 * Only boxes that intersect can kill each other (t >= 0), so the boxes are
 * filed in a grid hierarchy: level l has square cells of side c0 * 2^l and
 * holds the boxes whose larger side fits in a cell, each in the cell of its
 * top-left corner.  A box of a level can only intersect a query box if its
 * corner lies in the cells from one cell side up/left of the query's top-left
 * corner to its bottom-right, so a kept box visits a few cells per level.  The
 * entries of a level are stored cell by cell with their coordinates alongside,
 * so one row of cells is one contiguous run that the suppression loop reads
 * in order.  It may "kill" entries already walked past: harmless, as their
 * fate is decided.
 *
 * The grid needs finite coordinates, t >= 0, labels exact as doubles and
 * coordinates not so far from the origin, relative to the boxes, that their
 * rounding reaches a cell; otherwise (and for a few boxes) every later box is
 * tested, which is the definition itself. */
#include <math.h>
#include <string.h>
#include "internal.h"

#define FC_NMS_MAX_LEVELS 64
#define FC_NMS_BRUTE_BELOW 32     /* fewer non-empty boxes: test every pair */
#define FC_NMS_RADIX_BITS 11

static inline int box_nonempty(const double *b) { return b[2] - b[0] > 0 && b[3] - b[1] > 0; }

/* ---- the order ------------------------------------------------------------ */
/* A key whose ascending unsigned order is the descending order of s (s not
 * NaN; -0 and +0 tie, as they compare). */
static inline uint64_t descending_key(double s) {
    uint64_t u;
    s = s == 0 ? 0.0 : s;
    memcpy(&u, &s, sizeof(u));
    u = (u >> 63) ? ~u : u | ((uint64_t)1 << 63);   /* ascending order of s */
    return ~u;
}

/* The indices of the scores >= threshold in descending order, ties by index
 * (an LSD radix sort, stable): writes them to order, returns their count, or
 * -1 when out of memory. */
static int64_t score_order(const double *scores, int64_t n, double threshold, int64_t *order) {
    const int64_t buckets = (int64_t)1 << FC_NMS_RADIX_BITS;
    uint64_t *key = (uint64_t *)fc_alloc(2 * n, sizeof(uint64_t));
    int64_t *tmp = (int64_t *)fc_alloc(n, sizeof(int64_t));
    int64_t *count = (int64_t *)fc_alloc(buckets, sizeof(int64_t));
    if (!key || !tmp || !count) {
        fc_free(key); fc_free(tmp); fc_free(count);
        return -1;
    }
    uint64_t *key2 = key + n;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (scores[i] >= threshold) {
            key[m] = descending_key(scores[i]);
            order[m++] = i;
        }
    for (int shift = 0; shift < 64; shift += FC_NMS_RADIX_BITS) {
        memset(count, 0, (size_t)buckets * sizeof(int64_t));
        for (int64_t i = 0; i < m; i++) count[(key[i] >> shift) & (uint64_t)(buckets - 1)]++;
        int64_t total = 0, top = 0;
        for (int64_t b = 0; b < buckets; b++) {
            const int64_t c = count[b];
            top = FC_MAX(top, c);
            count[b] = total;
            total += c;
        }
        if (top == m) continue;       /* one digit for all: the pass changes nothing */
        for (int64_t i = 0; i < m; i++) {
            const int64_t at = count[(key[i] >> shift) & (uint64_t)(buckets - 1)]++;
            key2[at] = key[i];
            tmp[at] = order[i];
        }
        memcpy(key, key2, (size_t)m * sizeof(uint64_t));
        memcpy(order, tmp, (size_t)m * sizeof(int64_t));
    }
    fc_free(key); fc_free(tmp); fc_free(count);
    return m;
}

/* ---- every pair ------------------------------------------------------------ */
static int64_t nms_brute(const double *boxes, const int64_t *classes, const int64_t *order,
                         int64_t m, double t, int64_t max_keep, int64_t *keep) {
    unsigned char *dead = (unsigned char *)fc_alloc(m, 1);
    if (!dead) return -1;
    memset(dead, 0, (size_t)m);
    int64_t kept = 0;
    for (int64_t i = 0; i < m && kept != max_keep; i++) {
        if (dead[i]) continue;
        keep[kept++] = order[i];
        const double *a = boxes + 4 * order[i];
        const double aw = a[2] - a[0], ah = a[3] - a[1], aa = aw > 0 && ah > 0 ? aw * ah : 0;
        for (int64_t j = i + 1; j < m; j++) {
            const double *b = boxes + 4 * order[j];
            const double w = FC_MIN(a[2], b[2]) - FC_MAX(a[0], b[0]);
            const double h = FC_MIN(a[3], b[3]) - FC_MAX(a[1], b[1]);
            const double inter = (w > 0 ? w : 0) * (h > 0 ? h : 0);
            const double bw = b[2] - b[0], bh = b[3] - b[1], ba = bw > 0 && bh > 0 ? bw * bh : 0;
            const int same = !classes || classes[order[i]] == classes[order[j]];
            if (same && inter > t * (aa + ba - inter)) dead[j] = 1;
        }
    }
    fc_free(dead);
    return kept;
}

/* ---- the grid ---------------------------------------------------------------- */
/* One level: cells of side `cell` from the grid's origin, gx by gy of them;
 * the entries of cell k are first[k] .. first[k + 1] - 1. */
typedef struct {
    double cell;
    int64_t gx, gy, begin;        /* begin: the level's first entry */
    int64_t *first;
} nms_level;

/* The entries, structure of arrays of doubles so the suppression loop
 * vectorises: coordinates, area, label and alive (1 or 0). */
typedef struct {
    double *x1, *y1, *x2, *y2, *area, *key, *alive;
} nms_entries;

typedef struct {
    double x0, y0, t;             /* origin; the IoU threshold */
    int levels;
    nms_level level[FC_NMS_MAX_LEVELS];
    nms_entries e;
    int64_t *entry_of;            /* sorted position -> entry; -1 for empty boxes */
    unsigned char *level_of;      /* sorted position -> level */
} nms_grid;

static inline int64_t cell_index(double v, double origin, double cell, int64_t count) {
    const double c = floor((v - origin) / cell);
    return c < 0 ? 0 : c >= (double)count ? count - 1 : (int64_t)c;
}

static void grid_free(nms_grid *g) {
    for (int l = 0; l < g->levels; l++) fc_free(g->level[l].first);
    fc_free(g->e.x1);
    fc_free(g->entry_of);
    fc_free(g->level_of);
}

/* The cell of box b (its top-left corner) on level lv. */
static inline int64_t box_cell(const nms_grid *g, const nms_level *lv, const double *b) {
    return cell_index(b[1], g->y0, lv->cell, lv->gy) * lv->gx +
           cell_index(b[0], g->x0, lv->cell, lv->gx);
}

/* Files the non-empty boxes (sorted positions 0..m-1); returns 0 when out of
 * memory.  bounds: x0, y0, x-extent, y-extent of the non-empty boxes; c0 the
 * finest cell. */
static int grid_build(nms_grid *g, const double *boxes, const int64_t *classes,
                      const int64_t *order, int64_t m, int64_t nonempty, const double bounds[4],
                      double c0) {
    g->x0 = bounds[0];
    g->y0 = bounds[1];
    const double extent = FC_MAX(bounds[2], bounds[3]);
    g->levels = 1;
    while (g->levels < FC_NMS_MAX_LEVELS && ldexp(c0, g->levels - 1) < extent) g->levels++;
    g->e.x1 = (double *)fc_alloc(7 * nonempty, sizeof(double));
    g->entry_of = (int64_t *)fc_alloc(m, sizeof(int64_t));
    g->level_of = (unsigned char *)fc_alloc(m, 1);
    if (!g->e.x1 || !g->entry_of || !g->level_of) return 0;
    g->e.y1 = g->e.x1 + nonempty; g->e.x2 = g->e.y1 + nonempty; g->e.y2 = g->e.x2 + nonempty;
    g->e.area = g->e.y2 + nonempty; g->e.key = g->e.area + nonempty;
    g->e.alive = g->e.key + nonempty;
    for (int l = 0; l < g->levels; l++) {
        nms_level *lv = &g->level[l];
        lv->cell = ldexp(c0, l);
        /* extent / cell <= 2 sqrt(n) + 1 at level 0: the counts cannot overflow */
        lv->gx = (int64_t)(bounds[2] / lv->cell) + 1;
        lv->gy = (int64_t)(bounds[3] / lv->cell) + 1;
        lv->first = (int64_t *)fc_alloc(lv->gx * lv->gy + 1, sizeof(int64_t));
        if (!lv->first) return 0;
        memset(lv->first, 0, (size_t)(lv->gx * lv->gy + 1) * sizeof(int64_t));
    }
    /* count the boxes of each cell (shifted by one), then prefix sums */
    for (int64_t j = 0; j < m; j++) {
        const double *b = boxes + 4 * order[j];
        g->entry_of[j] = -1;
        if (!box_nonempty(b)) continue;
        const double size = FC_MAX(b[2] - b[0], b[3] - b[1]);
        int l = 0;
        while (l + 1 < g->levels && size > g->level[l].cell) l++;
        g->level_of[j] = (unsigned char)l;
        g->level[l].first[box_cell(g, &g->level[l], b) + 1]++;
    }
    int64_t total = 0;
    for (int l = 0; l < g->levels; l++) {
        nms_level *lv = &g->level[l];
        lv->begin = lv->first[0] = total;
        for (int64_t k = 1; k <= lv->gx * lv->gy; k++) lv->first[k] += lv->first[k - 1];
        total = lv->first[lv->gx * lv->gy];
    }
    /* fill in score order; first[k] runs ahead and is moved back below */
    for (int64_t j = 0; j < m; j++) {
        const double *b = boxes + 4 * order[j];
        if (!box_nonempty(b)) continue;
        const nms_level *lv = &g->level[g->level_of[j]];
        const int64_t e = lv->first[box_cell(g, lv, b)]++;
        g->e.x1[e] = b[0]; g->e.y1[e] = b[1]; g->e.x2[e] = b[2]; g->e.y2[e] = b[3];
        g->e.area[e] = (b[2] - b[0]) * (b[3] - b[1]);
        g->e.key[e] = classes ? (double)classes[order[j]] : 0;
        g->e.alive[e] = 1;
        g->entry_of[j] = e;
    }
    for (int l = 0; l < g->levels; l++) {
        nms_level *lv = &g->level[l];
        for (int64_t k = lv->gx * lv->gy; k > 0; k--) lv->first[k] = lv->first[k - 1];
        lv->first[0] = lv->begin;
    }
    return 1;
}

/* Entry i, kept, kills the live entries of its label in [e0, e1) that it overlaps. */
static void suppress_run(const nms_entries *e, int64_t i, int64_t e0, int64_t e1, double t) {
    const double ax1 = e->x1[i], ay1 = e->y1[i], ax2 = e->x2[i], ay2 = e->y2[i], aa = e->area[i];
    const double key = e->key[i];
    const double *restrict x1 = e->x1, *restrict y1 = e->y1, *restrict x2 = e->x2,
                 *restrict y2 = e->y2, *restrict area = e->area, *restrict keys = e->key;
    double *restrict alive = e->alive;
    for (int64_t j = e0; j < e1; j++) {
        const double w = FC_MIN(ax2, x2[j]) - FC_MAX(ax1, x1[j]);
        const double h = FC_MIN(ay2, y2[j]) - FC_MAX(ay1, y1[j]);
        const double inter = (w > 0 ? w : 0) * (h > 0 ? h : 0);
        const int kill = (keys[j] == key) & (inter > t * (aa + area[j] - inter));
        alive[j] = kill ? 0.0 : alive[j];
    }
}

/* Entry i, kept, kills what it overlaps on every level.  A box of level l
 * (exact side <= cell (1 + 2^-52)) meeting box i has its left edge above
 * x1 - cell (1 + 2^-52); the bound below is lower still, its rounding being
 * far under cell * 2^-20 (checked before the grid is used). */
static void suppress(const nms_grid *g, int64_t i) {
    const double x1 = g->e.x1[i], y1 = g->e.y1[i], x2 = g->e.x2[i], y2 = g->e.y2[i];
    for (int l = 0; l < g->levels; l++) {
        const nms_level *lv = &g->level[l];
        const double reach = lv->cell * (1 + 0x1p-20);
        const int64_t cx0 = cell_index(x1 - reach, g->x0, lv->cell, lv->gx);
        const int64_t cy0 = cell_index(y1 - reach, g->y0, lv->cell, lv->gy);
        const int64_t cx1 = cell_index(x2, g->x0, lv->cell, lv->gx);
        const int64_t cy1 = cell_index(y2, g->y0, lv->cell, lv->gy);
        for (int64_t cy = cy0; cy <= cy1; cy++)
            suppress_run(&g->e, i, lv->first[cy * lv->gx + cx0], lv->first[cy * lv->gx + cx1 + 1],
                         g->t);
    }
}

static int64_t nms_grid_run(const double *boxes, const int64_t *classes, const int64_t *order,
                            int64_t m, double t, int64_t max_keep, int64_t nonempty,
                            const double bounds[4], double c0, int64_t *keep) {
    nms_grid g;
    memset(&g, 0, sizeof(g));
    g.t = t;
    if (!grid_build(&g, boxes, classes, order, m, nonempty, bounds, c0)) {
        grid_free(&g);
        return -1;
    }
    int64_t kept = 0;
    for (int64_t j = 0; j < m && kept != max_keep; j++) {
        const int64_t e = g.entry_of[j];
        if (e >= 0 && g.e.alive[e] == 0) continue;
        keep[kept++] = order[j];
        if (e >= 0) suppress(&g, e);  /* an empty box suppresses nothing */
    }
    grid_free(&g);
    return kept;
}

/* What the candidates look like: whether the grid applies, and its bounds and finest cell. */
static int grid_applies(const double *boxes, const int64_t *classes, const int64_t *order,
                        int64_t m, double t, int64_t *nonempty, double bounds[4], double *c0) {
    double lo_x = INFINITY, lo_y = INFINITY, hi_x = -INFINITY, hi_y = -INFINITY, sizes = 0;
    double far = 0;
    int ok = t >= 0;
    *nonempty = 0;
    for (int64_t j = 0; j < m && ok; j++) {
        const double *b = boxes + 4 * order[j];
        ok = isfinite(b[0]) && isfinite(b[1]) && isfinite(b[2]) && isfinite(b[3]) &&
             (!classes || (classes[order[j]] < ((int64_t)1 << 53) &&
                           classes[order[j]] > -((int64_t)1 << 53)));
        if (!ok || !box_nonempty(b)) continue;
        ++*nonempty;
        lo_x = FC_MIN(lo_x, b[0]); lo_y = FC_MIN(lo_y, b[1]);
        hi_x = FC_MAX(hi_x, b[2]); hi_y = FC_MAX(hi_y, b[3]);
        far = FC_MAX(far, FC_MAX(FC_MAX(fabs(b[0]), fabs(b[1])), FC_MAX(fabs(b[2]), fabs(b[3]))));
        sizes += FC_MAX(b[2] - b[0], b[3] - b[1]);
    }
    if (!ok || *nonempty < FC_NMS_BRUTE_BELOW) return 0;
    bounds[0] = lo_x; bounds[1] = lo_y; bounds[2] = hi_x - lo_x; bounds[3] = hi_y - lo_y;
    /* the finest cell: the mean box, but no more than 2 sqrt(n) cells a side */
    *c0 = FC_MAX(sizes / (double)*nonempty,
                 FC_MAX(bounds[2], bounds[3]) / (2 * sqrt((double)*nonempty)));
    return isfinite(bounds[2]) && isfinite(bounds[3]) && *c0 > 0 && isfinite(*c0) &&
           far <= ldexp(*c0, 30);
}

int64_t fc_nms(const double *boxes, const double *scores, const int64_t *classes, int64_t n,
               double iou_threshold, double score_threshold, int64_t max_keep, int64_t *keep) {
    if (n <= 0 || max_keep == 0) return 0;
    int64_t *order = (int64_t *)fc_alloc(n, sizeof(int64_t));
    if (!order) return -1;
    const int64_t m = score_order(scores, n, score_threshold, order);
    int64_t kept = m;
    if (m > 0) {
        int64_t nonempty;
        double bounds[4], c0;
        kept = grid_applies(boxes, classes, order, m, iou_threshold, &nonempty, bounds, &c0)
                   ? nms_grid_run(boxes, classes, order, m, iou_threshold, max_keep, nonempty,
                                  bounds, c0, keep)
                   : nms_brute(boxes, classes, order, m, iou_threshold, max_keep, keep);
    }
    fc_free(order);
    return kept;
}
