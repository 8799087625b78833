/* The built-in synthetic set: side x side grey images (1 x side x side, NCHW), generated from a
 * seed without files, for demos and end-to-end tests.
 *
 * Normal images (label 0) are oriented sinusoidal gratings,
 *     v(x, y) = B + A sin(2 pi (x cos t + y sin t) / T + phi) + noise,
 * with the orientation t in a narrow band (45 +- 15 degrees), period T of 7..10 pixels (at side
 * 28, scaled with the side), any phase phi, amplitude A 60..90, brightness B 115..140 and
 * Gaussian noise of sd 4 (on 0..255). The family is smooth and low-dimensional, so an
 * autoencoder learns it quickly.
 * Anomalous images (label 1) are drawn from the same family and get one planted defect: a
 * square or a disc 3..6 pixels across, or a scratch (a segment 4..6 pixels long, about 2 pixels wide),
 * at least side/7 pixels from the border. The defect is saturated against what it covers (dark
 * where the grating under it is bright on average, bright elsewhere), so it always stands out;
 * its pixels are 1 in the image's mask (n x side x side; all zero for normal images).
 *
 * Images come normals first, then anomalies. Image j of each kind draws from its own random
 * stream (seed, 2j for normals, 2j + 1 for anomalies), so a set's first images do not depend on
 * how many are asked for. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

#define PI 3.14159265358979323846

svdd_synthetic_options svdd_synthetic_defaults(void) {
    svdd_synthetic_options o;
    memset(&o, 0, sizeof o);
    o.seed = 0;
    o.n_normal = 2000;
    o.n_anomalous = 0;
    o.side = 28;
    return o;
}

static uint8_t to_u8(double v) {
    if (v < 0) return 0;
    if (v > 255) return 255;
    return (uint8_t)lround(v);
}

/* The clean grating into v (side * side doubles). */
static void grating(svdd__rng *r, int side, double *v) {
    double t = PI / 4 + (svdd__rng_uniform_double(r) - 0.5) * (PI / 6);
    double period = (7.0 + 3.0 * svdd__rng_uniform_double(r)) * side / 28.0;
    double phi = 2 * PI * svdd__rng_uniform_double(r);
    double amp = 60 + 30 * svdd__rng_uniform_double(r);
    double bright = 115 + 25 * svdd__rng_uniform_double(r);
    double ct = cos(t), st = sin(t);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
            v[y * side + x] = bright + amp * sin(2 * PI * (x * ct + y * st) / period + phi);
}

/* Distance from (px, py) to the segment (ax, ay)-(bx, by). */
static double seg_dist(double px, double py, double ax, double ay, double bx, double by) {
    double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
    double u = l2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
    if (u < 0) u = 0;
    if (u > 1) u = 1;
    double ex = ax + u * dx - px, ey = ay + u * dy - py;
    return sqrt(ex * ex + ey * ey);
}

/* Mark one defect in mask (side * side, zeroed by the caller). */
static void plant_defect(svdd__rng *r, int side, uint8_t *mask) {
    int margin = side / 7 > 3 ? side / 7 : 3;
    int kind = (int)svdd__rng_below(r, 3);
    if (kind < 2) {
        /* Square or disc: a d x d box placed inside the margins. */
        int d = 3 + (int)svdd__rng_below(r, 4);
        int x0 = margin + (int)svdd__rng_below(r, (uint32_t)(side - 2 * margin - d + 1));
        int y0 = margin + (int)svdd__rng_below(r, (uint32_t)(side - 2 * margin - d + 1));
        double c = d / 2.0, r2 = c * c + 0.25;
        for (int y = 0; y < d; y++)
            for (int x = 0; x < d; x++) {
                double dx = x + 0.5 - c, dy = y + 0.5 - c;
                if (kind == 0 || dx * dx + dy * dy <= r2) mask[(y0 + y) * side + x0 + x] = 1;
            }
    } else {
        /* Scratch: a segment of length len at a random angle, its centre far enough inside
         * that both ends stay within the margins. */
        double len = 4 + 2 * svdd__rng_uniform_double(r), a = PI * svdd__rng_uniform_double(r);
        double hx = 0.5 * len * cos(a), hy = 0.5 * len * sin(a);
        double lo_x = margin + fabs(hx), hi_x = side - margin - fabs(hx);
        double lo_y = margin + fabs(hy), hi_y = side - margin - fabs(hy);
        double cx = lo_x + (hi_x - lo_x) * svdd__rng_uniform_double(r);
        double cy = lo_y + (hi_y - lo_y) * svdd__rng_uniform_double(r);
        for (int y = margin; y < side - margin; y++)
            for (int x = margin; x < side - margin; x++)
                if (seg_dist(x + 0.5, y + 0.5, cx - hx, cy - hy, cx + hx, cy + hy) <= 0.9)
                    mask[y * side + x] = 1;
    }
}

svdd_status svdd_dataset_synthetic(svdd_dataset **out, const svdd_synthetic_options *opt, svdd_error *err) {
    if (!out) return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_synthetic: out is NULL");
    *out = NULL;
    svdd_synthetic_options o = opt ? *opt : svdd_synthetic_defaults();
    if (o.side < 16)
        return svdd__fail(err, SVDD_E_INVALID, "synthetic set: side %u is too small (at least 16)",
                          (unsigned)o.side);
    size_t n = (size_t)o.n_normal + o.n_anomalous;
    if (n == 0)
        return svdd__fail(err, SVDD_E_INVALID, "synthetic set: n_normal + n_anomalous is 0, ask for images");
    if (o.side > INT32_MAX) return svdd__fail(err, SVDD_E_LIMIT, "synthetic set: side %u is too large",
                                              (unsigned)o.side);
    int side = (int)o.side;
    svdd_dataset *ds = NULL;
    svdd_status st = svdd__dataset_alloc(&ds, n, 1, side, side, NULL, "synthetic set", err);
    if (st != SVDD_OK) return st;
    static const char *const names[2] = {"normal", "anomalous"};
    size_t D = (size_t)side * (size_t)side;
    double *v = svdd__alloc(D, sizeof(double));
    ds->masks = svdd__calloc(n, D);
    if (!v || !ds->masks || svdd__dataset_set_class_names(ds, names, 2, err) != SVDD_OK) {
        free(v);
        svdd_dataset_free(ds);
        return svdd__fail(err, SVDD_E_NOMEM, "synthetic set: out of memory for %zu images", n);
    }
    for (size_t i = 0; i < n; i++) {
        int anomalous = i >= o.n_normal;
        size_t j = anomalous ? i - o.n_normal : i;
        svdd__rng r;
        svdd__rng_seed(&r, o.seed, 2 * (uint64_t)j + (uint64_t)anomalous);
        grating(&r, side, v);
        uint8_t *mask = ds->masks + i * D, *px = ds->pixels + i * D;
        double level = 0;
        if (anomalous) {
            plant_defect(&r, side, mask);
            double sum = 0;
            size_t cnt = 0;
            for (size_t k = 0; k < D; k++)
                if (mask[k]) sum += v[k], cnt++;
            level = cnt && sum / (double)cnt >= 127.5 ? 10 : 245;
        }
        for (size_t k = 0; k < D; k++) {
            double base = mask[k] ? level : v[k];
            px[k] = to_u8(base + 4 * svdd__rng_normal(&r));
        }
        ds->labels[i] = anomalous;
    }
    free(v);
    *out = ds;
    svdd__ok(err);
    return SVDD_OK;
}
