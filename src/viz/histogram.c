/* Score histograms: normal and anomalous scores over shared bins, each normalised to a density
 * (so that 900 normals and 100 anomalies compare), drawn as two semi-transparent step areas,
 * with the decision threshold as a vertical line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viz.h"

#define HIST_W 600.0
#define HIST_H 440.0
#define MIN_BINS 10
#define MAX_BINS 50
#define FILL_ALPHA 0.45

static const uint32_t THRESHOLD = 0x000000;

typedef struct hist_plan {
    svdd__page page;
    svdd__ticks xt, yt;
    svdd__axes_style style;
    svdd__legend_entry entries[3];
    int n_entries;
    char group_label[2][64];
    int bins;
    double lo, width;     /* bins are [lo + i * width, lo + (i+1) * width) */
    double *density;      /* 2 * bins: normal, then anomalous */
    size_t count[2];
    int has_threshold;
} hist_plan;

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Quantile of sorted values with linear interpolation (numpy's default). */
static double quantile(const float *v, size_t n, double q) {
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n) return v[n - 1];
    return v[i] + (pos - (double)i) * ((double)v[i + 1] - v[i]);
}

/* Freedman-Diaconis: bin width 2 IQR / n^(1/3), robust to the long tail anomalies make; clamped
 * to [MIN_BINS, MAX_BINS] so that a few hundred scores still give a readable shape. */
static int choose_bins(const float *sorted, size_t n, double span) {
    double iqr = quantile(sorted, n, 0.75) - quantile(sorted, n, 0.25);
    double bins = iqr > 0 ? ceil(span / (2 * iqr / cbrt((double)n))) : ceil(sqrt((double)n));
    if (!(bins >= MIN_BINS)) return MIN_BINS;
    return bins > MAX_BINS ? MAX_BINS : (int)bins;
}

static svdd_status check_input(const char *path, const char *title, const float *scores, const int32_t *labels,
                               size_t n, double threshold, const char *threshold_label, svdd_error *err) {
    svdd__image_format fmt;
    svdd_status st = svdd__image_format_of(path, &fmt, err);
    if (st != SVDD_OK) return st;
    if (n == 0) return svdd__fail(err, SVDD_E_INVALID, "%s: no scores to plot", path);
    if (!scores || !labels) return svdd__fail(err, SVDD_E_INVALID, "%s: scores or labels missing", path);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(scores[i]))
            return svdd__fail(err, SVDD_E_NUMERIC, "%s: score %zu is %s; cannot plot it", path, i,
                              isnan(scores[i]) ? "NaN" : "infinite");
        if (labels[i] != 0 && labels[i] != 1)
            return svdd__fail(err, SVDD_E_INVALID, "%s: label %zu is %d (expected 0 = normal or 1 = anomalous)", path,
                              i, (int)labels[i]);
    }
    if (isinf(threshold)) return svdd__fail(err, SVDD_E_NUMERIC, "%s: the threshold is infinite", path);
    if ((st = svdd__check_text(title, "title", path, err)) != SVDD_OK) return st;
    return svdd__check_text(threshold_label, "threshold label", path, err);
}

static svdd_status plan_histogram(hist_plan *p, const char *path, const char *title, const float *scores,
                                  const int32_t *labels, size_t n, double threshold, const char *threshold_label,
                                  svdd_error *err) {
    svdd_status st = check_input(path, title, scores, labels, n, threshold, threshold_label, err);
    if (st != SVDD_OK) return st;
    float *sorted = svdd__alloc(n, sizeof *sorted);
    if (!sorted) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory for %zu scores", path, n);
    memcpy(sorted, scores, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_float);
    double lo = sorted[0], hi = sorted[n - 1];
    if (hi - lo <= fmax(fabs(lo), fabs(hi)) * 1e-12) {
        /* All scores equal: a spike in the middle bin of a small range around them (an odd
         * number of bins puts the value at a bin's centre, not on an edge). */
        double d = lo != 0 ? fabs(lo) * 0.05 : 0.5;
        lo -= d, hi += d;
        p->bins = MIN_BINS + 1;
    } else {
        p->bins = choose_bins(sorted, n, hi - lo);
    }
    free(sorted);
    p->lo = lo;
    p->width = (hi - lo) / p->bins;
    p->density = svdd__calloc(2 * (size_t)p->bins, sizeof *p->density);
    if (!p->density) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        int g = labels[i], b = (int)((scores[i] - lo) / p->width);
        b = b < 0 ? 0 : b >= p->bins ? p->bins - 1 : b; /* the maximum lands on the last edge */
        p->density[g * p->bins + b] += 1;
        p->count[g]++;
    }
    double top = 0;
    for (int g = 0; g < 2; g++)
        for (int b = 0; b < p->bins; b++) {
            double *d = &p->density[g * p->bins + b];
            if (p->count[g]) *d /= (double)p->count[g] * p->width;
            top = fmax(top, *d);
        }

    /* The x range shows every bin and the threshold, with a little air on both sides. */
    p->has_threshold = !isnan(threshold);
    double xlo = lo, xhi = hi;
    if (p->has_threshold) xlo = fmin(xlo, threshold), xhi = fmax(xhi, threshold);
    double air = (xhi - xlo) * 0.04;
    xlo -= air, xhi += air;
    if (!svdd__nice_ticks(xlo, xhi, 8, &p->xt) || !svdd__nice_ticks(0, top * 1.06, 6, &p->yt)) {
        free(p->density);
        p->density = NULL;
        return svdd__fail(err, SVDD_E_NUMERIC, "%s: the scores span too wide a range to plot", path);
    }

    static const char *names[2] = {"normal", "anomalous"};
    for (int g = 0; g < 2; g++) {
        snprintf(p->group_label[g], sizeof p->group_label[g], "%s (n = %zu)", names[g], p->count[g]);
        p->entries[g].label = p->group_label[g];
        p->entries[g].color = svdd__palette(g, 2);
        p->entries[g].swatch = SVDD__SWATCH_PATCH;
    }
    p->n_entries = 2;
    if (p->has_threshold) {
        p->entries[2].label = threshold_label ? threshold_label : "threshold";
        p->entries[2].color = svdd__rgb_hex(THRESHOLD);
        p->entries[2].swatch = SVDD__SWATCH_LINE;
        p->n_entries = 3;
    }
    p->style.xtitle = "Anomaly score";
    p->style.ytitle = "Density";

    cairo_t *cr = svdd__measure_begin();
    if (!cr) {
        free(p->density);
        p->density = NULL;
        return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", path);
    }
    double ylabel_w = svdd__ticks_label_width(cr, &p->yt, 0, p->yt.hi_nice);
    svdd__page_layout(cr, title, HIST_W, HIST_H, ylabel_w, &p->style, p->entries, p->n_entries, &p->page);
    svdd__measure_end(cr);
    svdd__frame *f = &p->page.frame;
    f->xmin = xlo, f->xmax = xhi;
    f->ymin = 0, f->ymax = p->yt.hi_nice;
    return SVDD_OK;
}

svdd_status svdd__histogram_geometry(const char *path, const char *title, const float *scores,
                                     const int32_t *labels, size_t n, double threshold,
                                     const char *threshold_label, svdd__geometry *g, svdd_error *err) {
    hist_plan p;
    memset(&p, 0, sizeof p);
    svdd_status st = plan_histogram(&p, path, title, scores, labels, n, threshold, threshold_label, err);
    if (st != SVDD_OK) return st;
    g->width = p.page.width;
    g->height = p.page.height;
    g->frame = p.page.frame;
    free(p.density);
    return SVDD_OK;
}

/* One group's histogram as a closed step outline along the baseline. */
static void step_path(cairo_t *cr, const svdd__frame *f, const hist_plan *p, const double *d) {
    double base = svdd__frame_py(f, 0);
    cairo_move_to(cr, svdd__frame_px(f, p->lo), base);
    for (int b = 0; b < p->bins; b++) {
        double y = svdd__frame_py(f, d[b]);
        cairo_line_to(cr, svdd__frame_px(f, p->lo + b * p->width), y);
        cairo_line_to(cr, svdd__frame_px(f, p->lo + (b + 1) * p->width), y);
    }
    cairo_line_to(cr, svdd__frame_px(f, p->lo + p->bins * p->width), base);
    cairo_close_path(cr);
}

svdd_status svdd_plot_score_histogram(const char *path, const char *title, const float *scores,
                                      const int32_t *labels, size_t n, double threshold,
                                      const char *threshold_label, svdd_error *err) {
    hist_plan p;
    memset(&p, 0, sizeof p);
    svdd_status st = plan_histogram(&p, path, title, scores, labels, n, threshold, threshold_label, err);
    if (st != SVDD_OK) return st;
    svdd__canvas cv;
    st = svdd__canvas_begin(&cv, path, p.page.width, p.page.height, title, err);
    if (st != SVDD_OK) {
        free(p.density);
        return st;
    }
    cairo_t *cr = cv.cr;
    const svdd__frame *f = &p.page.frame;
    svdd__draw_title(cr, &p.page, title);
    svdd__draw_grid(cr, f, &p.xt, &p.yt);

    cairo_save(cr);
    svdd__clip_frame(cr, f, 0);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
    for (int g = 0; g < 2; g++) { /* anomalous over normal: the rarer group stays visible */
        if (!p.count[g]) continue;
        step_path(cr, f, &p, p.density + g * p.bins);
        svdd__set_rgb(cr, p.entries[g].color, FILL_ALPHA);
        cairo_fill_preserve(cr);
        svdd__set_rgb(cr, p.entries[g].color, 1);
        cairo_set_line_width(cr, 1.4);
        cairo_stroke(cr);
    }
    if (p.has_threshold) {
        double X = svdd__frame_px(f, threshold);
        svdd__set_rgb(cr, p.entries[2].color, 1);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, floor(X) + 1, f->y); /* 2 units wide: exactly two pixel columns */
        cairo_line_to(cr, floor(X) + 1, f->y + f->h);
        cairo_stroke(cr);
    }
    cairo_restore(cr);

    svdd__draw_axes(cr, f, &p.xt, &p.yt, &p.style);
    svdd__draw_legend(cr, &p.page.legend, p.entries, p.n_entries);
    st = svdd__canvas_end(&cv, err);
    free(p.density);
    return st;
}
