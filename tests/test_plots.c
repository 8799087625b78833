/* Plots: each writer's PNG is read back and its pixels checked where the plot's own geometry says
 * the curves, the chance diagonal, the threshold and the panels must be; SVGs are checked for
 * their header and title; bad input must fail with a clear message and leave no file behind.
 * Set SVDD_PLOT_DIR to keep the figures in that folder for a look. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "viz/viz.h"

/* ---- helpers ---- */

/* LeakSanitizer reads its suppressions from this hook. fontconfig (under cairo's text) loses a few
 * hundred bytes once per process while parsing its XML configuration; that is its own, not a
 * leak of ours, and a false alarm would hide real ones. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }

static char g_dir[256];
static int g_keep;

static int setup(void **state) {
    (void)state;
    const char *keep = getenv("SVDD_PLOT_DIR");
    if (keep && *keep) {
        snprintf(g_dir, sizeof g_dir, "%s", keep);
        g_keep = 1;
        return 0;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/svdd_plots_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static void remove_all(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static int teardown(void **state) {
    (void)state;
    if (!g_keep) {
        remove_all(g_dir);
        rmdir(g_dir);
    }
    /* cairo keeps font and pattern caches for the life of the process; drop them so that the
     * leak checker sees only what the library itself might have lost. */
    cairo_debug_reset_static_data();
    return 0;
}

static void out_path(char *buf, size_t size, const char *name) { svdd_test_path(buf, size, g_dir, name); }

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

typedef struct image {
    cairo_surface_t *s;
    int w, h, stride;
    const unsigned char *data;
} image;

static image load_png(const char *path) {
    image im;
    im.s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(im.s) != CAIRO_STATUS_SUCCESS)
        fail_msg("%s: cannot read back: %s", path, cairo_status_to_string(cairo_surface_status(im.s)));
    im.w = cairo_image_surface_get_width(im.s);
    im.h = cairo_image_surface_get_height(im.s);
    im.stride = cairo_image_surface_get_stride(im.s);
    im.data = cairo_image_surface_get_data(im.s);
    return im;
}

static void pixel(const image *im, int x, int y, uint8_t rgb[3]) {
    assert_true(x >= 0 && y >= 0 && x < im->w && y < im->h);
    uint32_t v = *(const uint32_t *)(im->data + (size_t)y * (size_t)im->stride + 4 * (size_t)x);
    rgb[0] = (uint8_t)(v >> 16), rgb[1] = (uint8_t)(v >> 8), rgb[2] = (uint8_t)v;
}

static int near(const uint8_t a[3], const uint8_t b[3], int tol) {
    for (int c = 0; c < 3; c++)
        if (abs((int)a[c] - (int)b[c]) > tol) return 0;
    return 1;
}

/* Pixels of colour `rgb` (within tol per channel) in [x0, x1) x [y0, y1); their mean x in *mean_x. */
static int count_color(const image *im, int x0, int y0, int x1, int y1, const uint8_t rgb[3], int tol,
                       double *mean_x) {
    int n = 0;
    double sx = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < im->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < im->w; x++) {
            uint8_t p[3];
            pixel(im, x, y, p);
            if (near(p, rgb, tol)) n++, sx += x;
        }
    if (mean_x) *mean_x = n ? sx / n : -1;
    return n;
}

static void rgb_bytes(svdd__rgb c, double alpha, uint8_t out[3]) {
    out[0] = svdd__over_white(c.r, alpha), out[1] = svdd__over_white(c.g, alpha), out[2] = svdd__over_white(c.b, alpha);
}

/* An SVG starts with its XML header and carries the (escaped) title as text. */
static void check_svg(const char *path, const char *title_escaped) {
    unsigned char *data;
    size_t len;
    svdd_error err;
    assert_int_equal(svdd__read_file(path, 64u << 20, &data, &len, &err), SVDD_OK);
    assert_true(len > 100);
    assert_true(!strncmp((char *)data, "<?xml", 5) || !strncmp((char *)data, "<svg", 4));
    assert_non_null(strstr((char *)data, "<svg"));
    assert_non_null(strstr((char *)data, title_escaped));
    assert_non_null(strstr((char *)data, "</svg>"));
    free(data);
}

/* ---- nice ticks ---- */

static void check_ticks(double lo, double hi, int max_iv, double step, double lo_nice, double hi_nice) {
    svdd__ticks t;
    assert_true(svdd__nice_ticks(lo, hi, max_iv, &t));
    if (fabs(t.step - step) > 1e-12 * step || fabs(t.lo_nice - lo_nice) > 1e-9 * step ||
        fabs(t.hi_nice - hi_nice) > 1e-9 * step)
        fail_msg("ticks of [%g, %g] max %d: step %g from %g to %g, expected %g from %g to %g", lo, hi, max_iv, t.step,
                 t.lo_nice, t.hi_nice, step, lo_nice, hi_nice);
    assert_int_equal(t.count, (int)lround((hi_nice - lo_nice) / step) + 1);
    assert_true(fabs(svdd__tick_value(&t, t.count - 1) - hi_nice) < 1e-9 * step);
}

static void test_nice_ticks(void **state) {
    (void)state;
    check_ticks(0, 1, 10, 0.1, 0, 1);
    check_ticks(0, 1, 5, 0.2, 0, 1);
    check_ticks(0.013, 0.87, 8, 0.2, 0, 1);
    check_ticks(0.013, 0.87, 10, 0.1, 0, 0.9);
    check_ticks(-3, 1250, 8, 200, -200, 1400);
    check_ticks(1250, -3, 8, 200, -200, 1400); /* ends in either order */
    check_ticks(0.6, 1.2, 3, 0.2, 0.6, 1.2);   /* 0.6 / 0.2 is 2.9999999999999996 */
    check_ticks(5, 5, 8, 0.2, 4.4, 5.6);       /* equal ends widen by 10% */
    check_ticks(0, 0, 8, 0.5, -1, 1);
    check_ticks(-2e-7, 7e-7, 8, 2e-7, -2e-7, 8e-7);

    svdd__ticks t;
    char buf[64];
    assert_true(svdd__nice_ticks(-3, 1250, 8, &t));
    assert_int_equal(t.decimals, 0);
    svdd__tick_label(&t, svdd__tick_value(&t, 0), buf, sizeof buf);
    assert_string_equal(buf, "-200");
    svdd__tick_label(&t, svdd__tick_value(&t, 1), buf, sizeof buf);
    assert_string_equal(buf, "0");
    assert_true(svdd__nice_ticks(-1, 1, 4, &t));
    svdd__tick_label(&t, svdd__tick_value(&t, 2), buf, sizeof buf);
    assert_string_equal(buf, "0.0"); /* not "-0.0" */
    assert_true(svdd__nice_ticks(0.013, 0.87, 10, &t));
    svdd__tick_label(&t, svdd__tick_value(&t, 3), buf, sizeof buf);
    assert_string_equal(buf, "0.3"); /* not 0.30000000000000004 */
    assert_true(svdd__nice_ticks(1e-7, 3e-7, 4, &t));
    svdd__tick_label(&t, svdd__tick_value(&t, 1), buf, sizeof buf);
    assert_non_null(strchr(buf, 'e')); /* too many decimals: scientific */

    assert_false(svdd__nice_ticks(NAN, 1, 8, &t));
    assert_false(svdd__nice_ticks(0, INFINITY, 8, &t));
    assert_false(svdd__nice_ticks(-1e308, 1e308, 8, &t));
    assert_false(svdd__nice_ticks(0, 1, 0, &t));

    /* Random ranges: the ticks cover the range, fit the budget, use 1/2/5 steps, and the next
     * smaller nice step would not fit. */
    svdd__rng r;
    svdd__rng_seed(&r, 7, 7);
    for (int trial = 0; trial < 2000; trial++) {
        double scale = pow(10.0, (int)svdd__rng_below(&r, 16) - 8);
        double a = (svdd__rng_uniform_double(&r) * 2 - 1) * scale, b = a + svdd__rng_uniform_double(&r) * scale;
        int max_iv = 2 + (int)svdd__rng_below(&r, 10);
        assert_true(svdd__nice_ticks(a, b, max_iv, &t));
        assert_true(t.lo_nice <= a + 1e-9 * t.step && t.hi_nice >= b - 1e-9 * t.step);
        assert_true(t.count - 1 <= max_iv && t.count >= 2);
        double m = t.step / pow(10.0, floor(log10(t.step) + 1e-9));
        assert_true(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9);
        double smaller = fabs(m - 1) < 1e-9 ? t.step / 2 : fabs(m - 2) < 1e-9 ? t.step / 2 : t.step * 0.4;
        double iv = ceil(b / smaller - 1e-9) - floor(a / smaller + 1e-9);
        if (b > a) assert_true(iv > max_iv);
    }
}

/* ---- ROC ---- */

#define ROC_POINTS 200

static void test_roc(void **state) {
    (void)state;
    double x[3][ROC_POINTS], y[3][ROC_POINTS];
    static const double power[3] = {0.15, 0.3, 0.5}; /* y = x^p: all well above the diagonal */
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < ROC_POINTS; i++) {
            x[k][i] = i / (double)(ROC_POINTS - 1);
            y[k][i] = pow(x[k][i], power[k]);
        }
    svdd_curve curves[3] = {{"Deep SVDD (AUC 0.870)", x[0], y[0], ROC_POINTS},
                            {"soft-boundary (AUC 0.769)", x[1], y[1], ROC_POINTS},
                            {"autoencoder (AUC 0.667)", x[2], y[2], ROC_POINTS}};
    const char *title = "ROC on synthetic <test> & co";
    char png[512], svg[512];
    out_path(png, sizeof png, "roc.png");
    out_path(svg, sizeof svg, "roc.svg");
    svdd_error err;
    if (svdd_plot_roc(png, title, curves, 3, &err) != SVDD_OK) fail_msg("%s", err.message);
    if (svdd_plot_roc(svg, title, curves, 3, &err) != SVDD_OK) fail_msg("%s", err.message);
    check_svg(svg, "ROC on synthetic &lt;test&gt; &amp; co");

    svdd__geometry g;
    assert_int_equal(svdd__roc_geometry(png, title, curves, 3, &g, &err), SVDD_OK);
    image im = load_png(png);
    assert_int_equal(im.w, g.width);
    assert_int_equal(im.h, g.height);
    assert_true(im.w >= 700 && im.w <= 1000 && im.h >= 500 && im.h <= 700);
    const svdd__frame *f = &g.frame;
    /* Each curve's colour, solid, in quantity inside the plot area. */
    for (int k = 0; k < 3; k++) {
        uint8_t c[3];
        rgb_bytes(svdd__palette(k, 3), 1, c);
        int n = count_color(&im, (int)f->x, (int)f->y, (int)(f->x + f->w), (int)(f->y + f->h), c, 12, NULL);
        if (n < 300) fail_msg("curve %d: only %d pixels of its colour", k, n);
    }
    /* The chance diagonal: grey pixels at (t, t) for some t (the dashes) but not all (the gaps). */
    int on = 0, total = 0;
    for (int i = 0; i < 400; i++) {
        double t = 0.15 + 0.7 * i / 399.0;
        uint8_t p[3];
        pixel(&im, (int)svdd__frame_px(f, t), (int)svdd__frame_py(f, t), p);
        int grey = abs(p[0] - p[1]) < 12 && abs(p[1] - p[2]) < 12 && p[0] > 90 && p[0] < 215;
        on += grey, total++;
    }
    if (on < total * 3 / 10 || on > total * 85 / 100) fail_msg("chance diagonal: %d of %d samples grey", on, total);
    /* Off the diagonal and below the curves (x = 0.8, y = 0.3) the plot is blank. */
    uint8_t p[3], white[3] = {255, 255, 255};
    pixel(&im, (int)svdd__frame_px(f, 0.83), (int)svdd__frame_py(f, 0.27), p);
    assert_true(near(p, white, 3));
    cairo_surface_destroy(im.s);
    if (!g_keep) assert_int_equal(count_entries(g_dir), 2);
    if (!g_keep) remove_all(g_dir);
}

/* ---- histogram ---- */

static void test_histogram(void **state) {
    (void)state;
    enum { NN = 900, NA = 100 };
    float s[NN + NA];
    int32_t lab[NN + NA];
    svdd__rng r;
    svdd__rng_seed(&r, 11, 3);
    for (int i = 0; i < NN + NA; i++) {
        lab[i] = i >= NN;
        s[i] = (float)(lab[i] ? 2.2 + 0.3 * svdd__rng_normal(&r) : 1.0 + 0.2 * svdd__rng_normal(&r));
    }
    const double thr = 1.55;
    const char *title = "Scores of the test set";
    char png[512], svg[512];
    out_path(png, sizeof png, "histogram.png");
    out_path(svg, sizeof svg, "histogram.svg");
    svdd_error err;
    if (svdd_plot_score_histogram(png, title, s, lab, NN + NA, thr, "threshold 1.55 (5% FPR)", &err) != SVDD_OK)
        fail_msg("%s", err.message);
    if (svdd_plot_score_histogram(svg, title, s, lab, NN + NA, thr, "threshold 1.55 (5% FPR)", &err) != SVDD_OK)
        fail_msg("%s", err.message);
    check_svg(svg, title);

    svdd__geometry g;
    assert_int_equal(svdd__histogram_geometry(png, title, s, lab, NN + NA, thr, "threshold 1.55 (5% FPR)", &g, &err),
                     SVDD_OK);
    image im = load_png(png);
    assert_int_equal(im.w, g.width);
    assert_int_equal(im.h, g.height);
    const svdd__frame *f = &g.frame;
    /* The threshold: black in (nearly) every row of the plot area at its column, and nowhere
     * in a column far from it. */
    int X = (int)svdd__frame_px(f, thr), Xfar = (int)svdd__frame_px(f, 0.6);
    int rows = 0, hit = 0, hit_far = 0;
    uint8_t black[3] = {0, 0, 0};
    for (int y = (int)f->y + 3; y < (int)(f->y + f->h) - 3; y++, rows++) {
        hit += count_color(&im, X - 2, y, X + 3, y + 1, black, 40, NULL) > 0;
        hit_far += count_color(&im, Xfar - 2, y, Xfar + 3, y + 1, black, 40, NULL) > 0;
    }
    if (hit < rows * 95 / 100) fail_msg("threshold line: %d of %d rows", hit, rows);
    assert_int_equal(hit_far, 0);
    /* Both translucent fills, the normal one left of the threshold, the anomalous one right. */
    uint8_t cn[3], ca[3];
    rgb_bytes(svdd__palette(0, 2), 0.45, cn);
    rgb_bytes(svdd__palette(1, 2), 0.45, ca);
    double mx_n, mx_a;
    int nn = count_color(&im, (int)f->x, (int)f->y, (int)(f->x + f->w), (int)(f->y + f->h), cn, 3, &mx_n);
    int na = count_color(&im, (int)f->x, (int)f->y, (int)(f->x + f->w), (int)(f->y + f->h), ca, 3, &mx_a);
    if (nn < 2000 || na < 2000) fail_msg("fills: %d normal and %d anomalous pixels", nn, na);
    assert_true(mx_n < X && mx_a > X);
    cairo_surface_destroy(im.s);

    /* Degenerate but valid: all scores equal, one score, one group only, no threshold. */
    float same[5] = {3, 3, 3, 3, 3};
    int32_t mixed[5] = {0, 1, 0, 1, 0}, zeros[5] = {0};
    char path[512];
    out_path(path, sizeof path, "histogram_equal.png");
    if (svdd_plot_score_histogram(path, "all equal", same, mixed, 5, 3.0, NULL, &err) != SVDD_OK)
        fail_msg("%s", err.message);
    im = load_png(path);
    uint8_t c2[3];
    rgb_bytes(svdd__palette(1, 2), 0.45, c2);
    int spike = count_color(&im, 0, 0, im.w, im.h, cn, 40, NULL) + count_color(&im, 0, 0, im.w, im.h, c2, 40, NULL);
    assert_true(spike > 100);
    cairo_surface_destroy(im.s);
    out_path(path, sizeof path, "histogram_one.png");
    assert_int_equal(svdd_plot_score_histogram(path, "one", same, zeros, 1, NAN, NULL, &err), SVDD_OK);
    out_path(path, sizeof path, "histogram_normals.png");
    assert_int_equal(svdd_plot_score_histogram(path, "normals only", s, zeros, 5, 1.0, "t", &err), SVDD_OK);
    if (!g_keep) remove_all(g_dir);
}

/* ---- scatter ---- */

static void test_scatter(void **state) {
    (void)state;
    enum { N = 600 };
    float xy[2 * N];
    int32_t grp[N];
    svdd__rng r;
    svdd__rng_seed(&r, 5, 5);
    static const double cx[3] = {-10, 10, 0}, cy[3] = {0, 0, 15};
    for (int i = 0; i < N; i++) {
        grp[i] = i < 300 ? 0 : i < 500 ? 1 : 2;
        xy[2 * i] = (float)(cx[grp[i]] + 2 * svdd__rng_normal(&r));
        xy[2 * i + 1] = (float)(cy[grp[i]] + 2 * svdd__rng_normal(&r));
    }
    const char *names[3] = {"normal", "anomalous", "other"};
    char png[512], svg[512];
    out_path(png, sizeof png, "scatter.png");
    out_path(svg, sizeof svg, "scatter.svg");
    svdd_error err;
    if (svdd_plot_scatter(png, "t-SNE of the latent codes", xy, N, grp, 3, names, &err) != SVDD_OK)
        fail_msg("%s", err.message);
    if (svdd_plot_scatter(svg, "t-SNE of the latent codes", xy, N, grp, 3, names, &err) != SVDD_OK)
        fail_msg("%s", err.message);
    check_svg(svg, "t-SNE of the latent codes");
    svdd__geometry g;
    assert_int_equal(svdd__scatter_geometry(png, "t-SNE of the latent codes", xy, N, grp, 3, names, &g, &err), SVDD_OK);
    image im = load_png(png);
    assert_int_equal(im.w, g.width);
    const svdd__frame *f = &g.frame;
    /* Every group's colour, centred where its cluster is. */
    for (int k = 0; k < 3; k++) {
        uint8_t c[3];
        rgb_bytes(svdd__palette(k, 3), 0.75, c);
        double mx;
        int n = count_color(&im, (int)f->x, (int)f->y, (int)(f->x + f->w), (int)(f->y + f->h), c, 4, &mx);
        if (n < 150) fail_msg("group %d: %d pixels", k, n);
        if (fabs(mx - svdd__frame_px(f, cx[k])) > 25) fail_msg("group %d centred at x %.1f", k, mx);
    }
    /* Equal scales: a unit is as long on both axes. */
    assert_true(fabs(f->w / (f->xmax - f->xmin) - f->h / (f->ymax - f->ymin)) < 1e-9);
    cairo_surface_destroy(im.s);

    /* Many groups: Kelly's colours, then markers; no names; one point. */
    for (int i = 0; i < N; i++) grp[i] = i % 25;
    char path[512];
    out_path(path, sizeof path, "scatter_25.png");
    if (svdd_plot_scatter(path, "25 groups", xy, N, grp, 25, NULL, &err) != SVDD_OK) fail_msg("%s", err.message);
    out_path(path, sizeof path, "scatter_one.png");
    assert_int_equal(svdd_plot_scatter(path, NULL, xy, 1, grp, 1, NULL, &err), SVDD_OK);
    if (!g_keep) remove_all(g_dir);
}

/* ---- overlay ---- */

static void check_overlay(int c) {
    enum { H = 6, W = 8, S = 5 };
    uint8_t img[3 * H * W];
    float heat[H * W] = {0};
    for (int i = 0; i < c * H * W; i++) img[i] = (uint8_t)(i * 5 + 3);
    heat[0] = 1; /* the top-left corner */
    char png[512];
    out_path(png, sizeof png, c == 1 ? "overlay_grey.png" : "overlay_rgb.png");
    svdd_error err;
    const char *caption = "score 1.234  ANOMALOUS (threshold 0.9)";
    if (svdd_write_overlay(png, img, c, H, W, heat, S, caption, &err) != SVDD_OK) fail_msg("%s", err.message);
    svdd__overlay_geometry g;
    assert_int_equal(svdd__overlay_layout(png, c, H, W, S, caption, &g, &err), SVDD_OK);
    image im = load_png(png);
    assert_int_equal(im.w, g.width);
    assert_int_equal(im.h, g.height);
    assert_int_equal(g.panel_w, W * S);
    uint8_t top[3], bottom[3];
    svdd__viridis(1, top);
    svdd__viridis(0, bottom);
    for (int y = 0; y < H * S; y++)
        for (int x = 0; x < W * S; x++) {
            int i = (y / S) * W + x / S;
            uint8_t p[3], want[3];
            /* input: the pixel itself, upscaled */
            for (int ch = 0; ch < 3; ch++) want[ch] = img[(c == 3 ? ch * H * W : 0) + i];
            pixel(&im, g.panel_x[0] + x, g.panel_y + y, p);
            if (!near(p, want, 0)) fail_msg("input panel (%d, %d): %d %d %d", x, y, p[0], p[1], p[2]);
            /* heat map: the map's top colour in the corner block, its bottom colour elsewhere */
            pixel(&im, g.panel_x[1] + x, g.panel_y + y, p);
            if (!near(p, i == 0 ? top : bottom, 0)) fail_msg("heat panel (%d, %d): %d %d %d", x, y, p[0], p[1], p[2]);
            /* blend: half grey image, half heat colour */
            double grey = c == 1 ? img[i] : 0.299 * img[i] + 0.587 * img[H * W + i] + 0.114 * img[2 * H * W + i];
            pixel(&im, g.panel_x[2] + x, g.panel_y + y, p);
            for (int ch = 0; ch < 3; ch++) want[ch] = (uint8_t)lround(0.5 * lround(grey) + 0.5 * (i == 0 ? top : bottom)[ch]);
            if (!near(p, want, 1)) fail_msg("blend panel (%d, %d): %d %d %d", x, y, p[0], p[1], p[2]);
        }
    /* The colour bar: the top colour at its top, the bottom colour at its bottom (one pixel in,
     * past its border, where the gradient has moved on by a few levels). */
    uint8_t p[3];
    pixel(&im, g.bar_x + g.bar_w / 2, g.bar_y + 1, p);
    assert_true(near(p, top, 20));
    pixel(&im, g.bar_x + g.bar_w / 2, g.bar_y + g.bar_h - 2, p);
    assert_true(near(p, bottom, 20));
    cairo_surface_destroy(im.s);
}

static void test_overlay(void **state) {
    (void)state;
    check_overlay(1);
    check_overlay(3);
    /* A bigger, smoother example (and its SVG) to look at. */
    enum { H = 28, W = 28 };
    uint8_t img[H * W];
    float heat[H * W];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double d = hypot(x - 14.0, y - 14.0);
            img[y * W + x] = (uint8_t)(d < 9 ? 40 + 20 * sin(x * 0.7) + 150 * (d > 6) : 20);
            heat[y * W + x] = (float)exp(-(pow(x - 19, 2) + pow(y - 9, 2)) / 18.0);
        }
    char png[512], svg[512];
    out_path(png, sizeof png, "overlay.png");
    out_path(svg, sizeof svg, "overlay.svg");
    svdd_error err;
    const char *caption = "score 1.234  ANOMALOUS (threshold 0.9)";
    if (svdd_write_overlay(png, img, 1, H, W, heat, 8, caption, &err) != SVDD_OK) fail_msg("%s", err.message);
    if (svdd_write_overlay(svg, img, 1, H, W, heat, 8, caption, &err) != SVDD_OK) fail_msg("%s", err.message);
    check_svg(svg, "ANOMALOUS (threshold 0.9)");
    /* Tiny panels and no caption still lay out. */
    out_path(png, sizeof png, "overlay_tiny.png");
    assert_int_equal(svdd_write_overlay(png, img, 1, 2, 3, heat, 1, NULL, &err), SVDD_OK);
    if (!g_keep) remove_all(g_dir);
}

/* ---- bad input ---- */

static void expect_fail(svdd_status got, svdd_status want, const svdd_error *err, const char *needle) {
    if (got != want) fail_msg("status %s, expected %s (%s)", svdd_status_name(got), svdd_status_name(want), err->message);
    if (needle && !strstr(err->message, needle)) fail_msg("message \"%s\" lacks \"%s\"", err->message, needle);
    /* a failed write leaves nothing behind */
    if (!g_keep && count_entries(g_dir) != 0) fail_msg("files left behind after: %s", err->message);
}

static void test_bad_input(void **state) {
    (void)state;
    if (!g_keep) remove_all(g_dir);
    double x[2] = {0, 1}, y[2] = {0, 1};
    svdd_curve curve = {"c", x, y, 2};
    float s[4] = {0.1f, 0.2f, NAN, 0.4f};
    int32_t lab[4] = {0, 0, 1, 1}, bad_lab[4] = {0, 2, 1, 1};
    float xy[4] = {0, 0, 1, 1};
    int32_t grp[2] = {0, 1};
    uint8_t img[4] = {0};
    float heat[4] = {0, 0.5f, NAN, 1};
    svdd_error err;
    char path[512], bmp[512], noext[512];
    out_path(path, sizeof path, "bad.png");
    out_path(bmp, sizeof bmp, "bad.bmp");
    out_path(noext, sizeof noext, "png");

    expect_fail(svdd_plot_roc(bmp, "t", &curve, 1, &err), SVDD_E_INVALID, &err, bmp);
    expect_fail(svdd_plot_roc(noext, "t", &curve, 1, &err), SVDD_E_INVALID, &err, ".png or .svg");
    expect_fail(svdd_plot_roc(NULL, "t", &curve, 1, &err), SVDD_E_INVALID, &err, NULL);
    expect_fail(svdd_plot_roc("/nonexistent/dir/roc.png", "t", &curve, 1, &err), SVDD_E_IO, &err,
                "/nonexistent/dir/roc.png");
    expect_fail(svdd_plot_roc(path, "t", &curve, 0, &err), SVDD_E_INVALID, &err, "no ROC curves");
    svdd_curve empty = {"e", x, y, 0};
    expect_fail(svdd_plot_roc(path, "t", &empty, 1, &err), SVDD_E_INVALID, &err, "no points");
    double xn[2] = {0, NAN};
    svdd_curve nan_curve = {"n", xn, y, 2};
    expect_fail(svdd_plot_roc(path, "t", &nan_curve, 1, &err), SVDD_E_NUMERIC, &err, "not finite");
    expect_fail(svdd_plot_roc(path, "bad \xC3\x28 utf-8", &curve, 1, &err), SVDD_E_INVALID, &err, "UTF-8");

    expect_fail(svdd_plot_score_histogram(path, "t", s, lab, 4, 0.2, NULL, &err), SVDD_E_NUMERIC, &err, "NaN");
    expect_fail(svdd_plot_score_histogram(path, "t", s, lab, 0, 0.2, NULL, &err), SVDD_E_INVALID, &err, "no scores");
    expect_fail(svdd_plot_score_histogram(path, "t", s, bad_lab, 2, 0.2, NULL, &err), SVDD_E_INVALID, &err, "label 1");
    expect_fail(svdd_plot_score_histogram(path, "t", s, lab, 2, INFINITY, NULL, &err), SVDD_E_NUMERIC, &err,
                "threshold");
    expect_fail(svdd_plot_score_histogram("/nonexistent/h.svg", "t", s, lab, 2, 0.2, NULL, &err), SVDD_E_IO, &err,
                "/nonexistent/h.svg");

    expect_fail(svdd_plot_scatter(path, "t", xy, 2, grp, 1, NULL, &err), SVDD_E_INVALID, &err, "group 1");
    expect_fail(svdd_plot_scatter(path, "t", xy, 0, grp, 2, NULL, &err), SVDD_E_INVALID, &err, "no points");
    expect_fail(svdd_plot_scatter(path, "t", xy, 2, grp, 0, NULL, &err), SVDD_E_INVALID, &err, "n_groups");
    expect_fail(svdd_plot_scatter(path, "t", xy, 2, grp, 1000, NULL, &err), SVDD_E_LIMIT, &err, NULL);
    xy[3] = INFINITY;
    expect_fail(svdd_plot_scatter(path, "t", xy, 2, grp, 2, NULL, &err), SVDD_E_NUMERIC, &err, "point 1");

    expect_fail(svdd_write_overlay(path, img, 2, 2, 2, heat, 4, "c", &err), SVDD_E_INVALID, &err, "channels");
    expect_fail(svdd_write_overlay(path, img, 1, 2, 2, heat, 4, "c", &err), SVDD_E_NUMERIC, &err, "NaN");
    heat[2] = 0;
    expect_fail(svdd_write_overlay(path, img, 1, 2, 2, heat, 0, "c", &err), SVDD_E_INVALID, &err, "scale");
    expect_fail(svdd_write_overlay(path, img, 1, 2, 2, heat, 100000, "c", &err), SVDD_E_LIMIT, &err, NULL);
    expect_fail(svdd_write_overlay(bmp, img, 1, 2, 2, heat, 4, "c", &err), SVDD_E_INVALID, &err, bmp);
    expect_fail(svdd_write_overlay("/nonexistent/o.png", img, 1, 2, 2, heat, 4, "c", &err), SVDD_E_IO, &err,
                "/nonexistent/o.png");

    /* An existing file survives a failed write untouched. */
    assert_int_equal(svdd_plot_roc(path, "first", &curve, 1, &err), SVDD_OK);
    unsigned char *before, *after;
    size_t n_before, n_after;
    assert_int_equal(svdd__read_file(path, 1u << 24, &before, &n_before, &err), SVDD_OK);
    assert_int_equal(svdd_plot_score_histogram(path, "t", s, lab, 4, 0.2, NULL, &err), SVDD_E_NUMERIC);
    assert_int_equal(svdd__read_file(path, 1u << 24, &after, &n_after, &err), SVDD_OK);
    assert_true(n_before == n_after && memcmp(before, after, n_before) == 0);
    free(before), free(after);
    if (!g_keep) assert_int_equal(count_entries(g_dir), 1);
    if (!g_keep) remove_all(g_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nice_ticks), cmocka_unit_test(test_roc),     cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_scatter),    cmocka_unit_test(test_overlay), cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
