/* A 2-d scatter plot coloured by group, meant for embeddings such as t-SNE of the latent codes:
 * equal scales on both axes (distances are what an embedding shows), light unit-less ticks, small
 * translucent discs, and the legend on the right. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viz.h"

#define SCATTER_SIZE 500.0
#define SCATTER_MAX_GROUPS 100 /* 20 colours x 5 markers */
#define POINT_ALPHA 0.75

typedef struct scatter_plan {
    svdd__page page;
    svdd__ticks xt, yt;
    svdd__axes_style style;
    svdd__legend_entry *entries;
    char (*fallback)[32];
    size_t *count;
    int *order; /* groups from the largest to the smallest: small groups are drawn on top */
    double radius;
} scatter_plan;

static void plan_free(scatter_plan *p) {
    free(p->entries);
    free(p->fallback);
    free(p->count);
    free(p->order);
    memset(p, 0, sizeof *p);
}

static svdd_status check_input(const char *path, const char *title, const float *xy, size_t n,
                               const int32_t *group, int n_groups, const char *const *names, svdd_error *err) {
    svdd__image_format fmt;
    svdd_status st = svdd__image_format_of(path, &fmt, err);
    if (st != SVDD_OK) return st;
    if (n == 0) return svdd__fail(err, SVDD_E_INVALID, "%s: no points to plot", path);
    if (!xy || !group) return svdd__fail(err, SVDD_E_INVALID, "%s: points or groups missing", path);
    if (n_groups < 1) return svdd__fail(err, SVDD_E_INVALID, "%s: n_groups is %d (need at least 1)", path, n_groups);
    if (n_groups > SCATTER_MAX_GROUPS)
        return svdd__fail(err, SVDD_E_LIMIT, "%s: %d groups (at most %d can be told apart)", path, n_groups,
                          SCATTER_MAX_GROUPS);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(xy[2 * i]) || !isfinite(xy[2 * i + 1]))
            return svdd__fail(err, SVDD_E_NUMERIC, "%s: point %zu is not finite", path, i);
        if (group[i] < 0 || group[i] >= n_groups)
            return svdd__fail(err, SVDD_E_INVALID, "%s: point %zu is in group %d (expected 0..%d)", path, i,
                              (int)group[i], n_groups - 1);
    }
    if ((st = svdd__check_text(title, "title", path, err)) != SVDD_OK) return st;
    for (int g = 0; names && g < n_groups; g++)
        if ((st = svdd__check_text(names[g], "group name", path, err)) != SVDD_OK) return st;
    return SVDD_OK;
}

static svdd_status plan_scatter(scatter_plan *p, const char *path, const char *title, const float *xy, size_t n,
                                const int32_t *group, int n_groups, const char *const *names, svdd_error *err) {
    svdd_status st = check_input(path, title, xy, n, group, n_groups, names, err);
    if (st != SVDD_OK) return st;
    size_t G = (size_t)n_groups;
    p->entries = calloc(G, sizeof *p->entries);
    p->fallback = calloc(G, sizeof *p->fallback);
    p->count = calloc(G, sizeof *p->count);
    p->order = calloc(G, sizeof *p->order);
    cairo_t *cr = svdd__measure_begin();
    if (!p->entries || !p->fallback || !p->count || !p->order || !cr) {
        svdd__measure_end(cr);
        plan_free(p);
        return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", path);
    }
    double xmin = xy[0], xmax = xy[0], ymin = xy[1], ymax = xy[1];
    for (size_t i = 0; i < n; i++) {
        xmin = fmin(xmin, xy[2 * i]), xmax = fmax(xmax, xy[2 * i]);
        ymin = fmin(ymin, xy[2 * i + 1]), ymax = fmax(ymax, xy[2 * i + 1]);
        p->count[group[i]]++;
    }
    /* Equal scales: both axes show the larger of the two spans (plus air), centred on the data. */
    double span = fmax(xmax - xmin, ymax - ymin);
    if (!(span > fmax(fmax(fabs(xmin), fabs(xmax)), fmax(fabs(ymin), fabs(ymax))) * 1e-12))
        span = fmax(fmax(fabs(xmin), fabs(ymin)), 1.0) * 0.2; /* a single location */
    span *= 1.08;
    double cx = xmin / 2 + xmax / 2, cy = ymin / 2 + ymax / 2;
    svdd__frame range = {0};
    range.xmin = cx - span / 2, range.xmax = cx + span / 2;
    range.ymin = cy - span / 2, range.ymax = cy + span / 2;
    if (!svdd__nice_ticks(range.xmin, range.xmax, 6, &p->xt) || !svdd__nice_ticks(range.ymin, range.ymax, 6, &p->yt)) {
        svdd__measure_end(cr);
        plan_free(p);
        return svdd__fail(err, SVDD_E_NUMERIC, "%s: the points span too wide a range to plot", path);
    }

    int cycle = svdd__palette_size(n_groups);
    for (int g = 0; g < n_groups; g++) {
        svdd__legend_entry *e = &p->entries[g];
        if (names && names[g]) {
            e->label = names[g];
        } else {
            snprintf(p->fallback[g], sizeof p->fallback[g], "group %d", g);
            e->label = p->fallback[g];
        }
        e->color = svdd__palette(g, n_groups);
        e->swatch = SVDD__SWATCH_MARKER;
        e->marker = g / cycle; /* past the palette, repeated colours get another shape */
        p->order[g] = g;
    }
    /* Insertion sort by size, descending (at most 100 groups); ties keep the group order. */
    for (int i = 1; i < n_groups; i++)
        for (int j = i; j > 0 && p->count[p->order[j]] > p->count[p->order[j - 1]]; j--) {
            int t = p->order[j];
            p->order[j] = p->order[j - 1], p->order[j - 1] = t;
        }
    /* Smaller points as they get denser, so that clusters keep their shape. */
    p->radius = n <= 1000 ? 3.2 : n <= 5000 ? 2.4 : n <= 20000 ? 1.8 : 1.3;

    p->style.light = 1; /* embedding coordinates have no units */
    double ylabel_w = svdd__ticks_label_width(cr, &p->yt, range.ymin, range.ymax);
    svdd__page_layout(cr, title, SCATTER_SIZE, SCATTER_SIZE, ylabel_w, &p->style, p->entries, n_groups, &p->page);
    svdd__measure_end(cr);
    svdd__frame *f = &p->page.frame;
    f->xmin = range.xmin, f->xmax = range.xmax;
    f->ymin = range.ymin, f->ymax = range.ymax;
    return SVDD_OK;
}

svdd_status svdd__scatter_geometry(const char *path, const char *title, const float *xy, size_t n,
                                   const int32_t *group, int n_groups, const char *const *names,
                                   svdd__geometry *g, svdd_error *err) {
    scatter_plan p;
    memset(&p, 0, sizeof p);
    svdd_status st = plan_scatter(&p, path, title, xy, n, group, n_groups, names, err);
    if (st != SVDD_OK) return st;
    g->width = p.page.width;
    g->height = p.page.height;
    g->frame = p.page.frame;
    plan_free(&p);
    return SVDD_OK;
}

svdd_status svdd_plot_scatter(const char *path, const char *title, const float *xy, size_t n,
                              const int32_t *group, int n_groups, const char *const *names, svdd_error *err) {
    scatter_plan p;
    memset(&p, 0, sizeof p);
    svdd_status st = plan_scatter(&p, path, title, xy, n, group, n_groups, names, err);
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

    cairo_save(cr);
    svdd__clip_frame(cr, f, 0);
    for (int k = 0; k < n_groups; k++) {
        int g = p.order[k];
        if (!p.count[g]) continue;
        /* One path per group: overlapping discs of a group merge (nonzero winding) instead of
         * piling up alpha, and cairo fills it in one pass. */
        cairo_new_path(cr);
        for (size_t i = 0; i < n; i++)
            if (group[i] == g)
                svdd__marker_path(cr, p.entries[g].marker, svdd__frame_px(f, xy[2 * i]), svdd__frame_py(f, xy[2 * i + 1]),
                                  p.radius);
        cairo_set_fill_rule(cr, CAIRO_FILL_RULE_WINDING);
        svdd__set_rgb(cr, p.entries[g].color, POINT_ALPHA);
        cairo_fill(cr);
    }
    cairo_restore(cr);

    svdd__draw_axes(cr, f, &p.xt, &p.yt, &p.style);
    svdd__draw_legend(cr, &p.page.legend, p.entries, n_groups);
    st = svdd__canvas_end(&cv, err);
    plan_free(&p);
    return st;
}
