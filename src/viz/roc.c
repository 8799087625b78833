/* ROC curves of several detectors on one plot: false positive rate against true positive rate
 * (anomaly = positive), the chance diagonal dashed, one colour per curve, legend on the right. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "viz.h"

#define ROC_SIZE 480.0     /* the plot area is square: both axes are rates */
#define ROC_MAX_CURVES 100 /* a legend beyond that is unreadable */
#define ROC_MARGIN 0.02    /* data range beyond [0, 1], so curves along the axes stay visible */

static const uint32_t CHANCE = 0x8C8C8C;

/* Everything drawn, decided before the canvas exists (its size depends on the legend). */
typedef struct roc_plan {
    svdd__page page;
    svdd__ticks ticks;
    svdd__legend_entry *entries; /* n_curves + 1 (the chance line) */
    char (*fallback)[32];        /* labels of curves without one */
    svdd__axes_style style;
} roc_plan;

static void plan_free(roc_plan *p) {
    free(p->entries);
    free(p->fallback);
    p->entries = NULL;
    p->fallback = NULL;
}

static svdd_status check_input(const char *path, const char *title, const svdd_curve *curves, int n_curves,
                               svdd_error *err) {
    svdd__image_format fmt;
    svdd_status st = svdd__image_format_of(path, &fmt, err);
    if (st != SVDD_OK) return st;
    if (n_curves < 1 || !curves)
        return svdd__fail(err, SVDD_E_INVALID, "%s: no ROC curves to plot (n_curves = %d)", path, n_curves);
    if (n_curves > ROC_MAX_CURVES)
        return svdd__fail(err, SVDD_E_LIMIT, "%s: %d ROC curves on one plot (at most %d)", path, n_curves,
                          ROC_MAX_CURVES);
    if ((st = svdd__check_text(title, "title", path, err)) != SVDD_OK) return st;
    for (int k = 0; k < n_curves; k++) {
        const svdd_curve *c = &curves[k];
        if (c->n == 0 || !c->x || !c->y)
            return svdd__fail(err, SVDD_E_INVALID, "%s: ROC curve %d has no points", path, k);
        for (size_t i = 0; i < c->n; i++)
            if (!isfinite(c->x[i]) || !isfinite(c->y[i]))
                return svdd__fail(err, SVDD_E_NUMERIC, "%s: point %zu of ROC curve %d is not finite", path, i, k);
        if ((st = svdd__check_text(c->label, "curve label", path, err)) != SVDD_OK) return st;
    }
    return SVDD_OK;
}

static svdd_status plan_roc(roc_plan *p, const char *path, const char *title, const svdd_curve *curves,
                            int n_curves, svdd_error *err) {
    svdd_status st = check_input(path, title, curves, n_curves, err);
    if (st != SVDD_OK) return st;
    p->entries = calloc((size_t)n_curves + 1, sizeof *p->entries);
    p->fallback = calloc((size_t)n_curves, sizeof *p->fallback);
    cairo_t *cr = svdd__measure_begin();
    if (!p->entries || !p->fallback || !cr) {
        svdd__measure_end(cr);
        plan_free(p);
        return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", path);
    }
    int cycle = svdd__palette_size(n_curves);
    for (int k = 0; k < n_curves; k++) {
        svdd__legend_entry *e = &p->entries[k];
        if (curves[k].label) {
            e->label = curves[k].label;
        } else {
            snprintf(p->fallback[k], sizeof p->fallback[k], "curve %d", k + 1);
            e->label = p->fallback[k];
        }
        e->color = svdd__palette(k, n_curves);
        /* Past the palette, colours repeat: the repeats are dashed. */
        e->swatch = k < cycle ? SVDD__SWATCH_LINE : SVDD__SWATCH_DASHED;
    }
    svdd__legend_entry *chance = &p->entries[n_curves];
    chance->label = "chance";
    chance->color = svdd__rgb_hex(CHANCE);
    chance->swatch = SVDD__SWATCH_DASHED;

    svdd__nice_ticks(0, 1, 10, &p->ticks); /* every 0.1 */
    p->style.xtitle = "False positive rate";
    p->style.ytitle = "True positive rate (anomaly = positive)";
    double ylabel_w = svdd__ticks_label_width(cr, &p->ticks, 0, 1);
    svdd__page_layout(cr, title, ROC_SIZE, ROC_SIZE, ylabel_w, &p->style, p->entries, n_curves + 1, &p->page);
    svdd__frame *f = &p->page.frame;
    f->xmin = f->ymin = -ROC_MARGIN;
    f->xmax = f->ymax = 1 + ROC_MARGIN;
    svdd__measure_end(cr);
    return SVDD_OK;
}

svdd_status svdd__roc_geometry(const char *path, const char *title, const svdd_curve *curves, int n_curves,
                               svdd__geometry *g, svdd_error *err) {
    roc_plan p = {0};
    svdd_status st = plan_roc(&p, path, title, curves, n_curves, err);
    if (st != SVDD_OK) return st;
    g->width = p.page.width;
    g->height = p.page.height;
    g->frame = p.page.frame;
    plan_free(&p);
    return SVDD_OK;
}

svdd_status svdd_plot_roc(const char *path, const char *title, const svdd_curve *curves, int n_curves,
                          svdd_error *err) {
    roc_plan p = {0};
    svdd_status st = plan_roc(&p, path, title, curves, n_curves, err);
    if (st != SVDD_OK) return st;
    svdd__canvas cv;
    st = svdd__canvas_begin(&cv, path, p.page.width, p.page.height, title, err);
    if (st != SVDD_OK) {
        plan_free(&p);
        return st;
    }
    cairo_t *cr = cv.cr;
    const svdd__frame *f = &p.page.frame;
    svdd__draw_title(cr, &p.page, title);
    svdd__draw_grid(cr, f, &p.ticks, &p.ticks);

    cairo_save(cr);
    svdd__clip_frame(cr, f, 0);
    /* Chance first, so that every curve is drawn over it. */
    static const double chance_dash[2] = {6, 5};
    cairo_set_dash(cr, chance_dash, 2, 0);
    cairo_set_line_width(cr, 1.3);
    svdd__set_rgb(cr, svdd__rgb_hex(CHANCE), 1);
    cairo_move_to(cr, svdd__frame_px(f, 0), svdd__frame_py(f, 0));
    cairo_line_to(cr, svdd__frame_px(f, 1), svdd__frame_py(f, 1));
    cairo_stroke(cr);

    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cairo_set_line_width(cr, 2.2);
    for (int k = 0; k < n_curves; k++) {
        const svdd_curve *c = &curves[k];
        static const double curve_dash[2] = {8, 4};
        cairo_set_dash(cr, curve_dash, p.entries[k].swatch == SVDD__SWATCH_DASHED ? 2 : 0, 0);
        svdd__set_rgb(cr, p.entries[k].color, 1);
        if (c->n == 1) { /* one operating point: a dot, since a line needs two */
            cairo_arc(cr, svdd__frame_px(f, c->x[0]), svdd__frame_py(f, c->y[0]), 3.5, 0, 6.283185307179586);
            cairo_fill(cr);
            continue;
        }
        cairo_move_to(cr, svdd__frame_px(f, c->x[0]), svdd__frame_py(f, c->y[0]));
        for (size_t i = 1; i < c->n; i++) cairo_line_to(cr, svdd__frame_px(f, c->x[i]), svdd__frame_py(f, c->y[i]));
        cairo_stroke(cr);
    }
    cairo_restore(cr);

    svdd__draw_axes(cr, f, &p.ticks, &p.ticks, &p.style);
    svdd__draw_legend(cr, &p.page.legend, p.entries, n_curves + 1);
    st = svdd__canvas_end(&cv, err);
    plan_free(&p);
    return st;
}
