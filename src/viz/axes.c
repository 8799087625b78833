/* What the three plots share: nice tick numbers, the page layout (title, plot area, legend on the
 * right where it can never hide data), the grid, the frame with its ticks and labels, and the
 * legend box. All lengths are device units: pixels on the PNG, px on the SVG. */
#include <math.h>
#include <stdio.h>

#include "viz.h"

#define PAD 16.0        /* outer margin of a figure */
#define TICK_LEN 5.0    /* tick marks point outwards */
#define LABEL_GAP 4.0   /* between a tick mark and its label */
#define LEGEND_GAP 24.0 /* between the plot area and the legend */
#define LEGEND_PAD 10.0 /* inside the legend box */
#define LEGEND_ROW 21.0
#define LEGEND_SWATCH 26.0
#define LEGEND_COL_GAP 18.0
#define CAP 0.73 /* height of DejaVu Sans's capitals and digits, in em */

static const uint32_t TEXT = 0x1A1A1A, TEXT_LIGHT = 0x8A8A8A, AXIS = 0x555555, GRID = 0xE6E6E6,
                      LEGEND_EDGE = 0xC8C8C8;

/* ---- ticks ---- */

int svdd__nice_ticks(double lo, double hi, int max_intervals, svdd__ticks *t) {
    if (!isfinite(lo) || !isfinite(hi) || max_intervals < 1) return 0;
    if (lo > hi) {
        double s = lo;
        lo = hi, hi = s;
    }
    double span = hi - lo;
    if (!isfinite(span)) return 0;
    /* A span lost in the rounding of the ends cannot be divided into ticks: treat it as a single
     * value and widen it, as for equal ends. */
    double mag = fmax(fabs(lo), fabs(hi));
    if (span <= mag * 1e-12) {
        double c = lo / 2 + hi / 2;
        double d = c != 0 ? fabs(c) * 0.1 : 1.0;
        lo = c - d, hi = c + d, span = hi - lo;
    }
    double p = pow(10.0, floor(log10(span / max_intervals)));
    static const double mult[3] = {1, 2, 5};
    /* Try 1, 2, 5 x 10^k upwards from just below the raw step; within three decades one fits. */
    for (int i = 0; i < 12; i++) {
        const int decade = i / 3;
        double step = mult[i % 3] * p * pow(10.0, decade);
        /* The tolerance keeps an end that is already a multiple (0.6 / 0.2 = 2.9999999999999996)
         * from growing by a whole step. */
        double first = floor(lo / step + 1e-9), last = ceil(hi / step - 1e-9);
        if (last - first <= max_intervals) {
            t->step = step;
            t->first = (long long)first;
            t->count = (int)(last - first) + 1;
            t->lo_nice = first * step;
            t->hi_nice = last * step;
            int dec = (int)-floor(log10(step) + 1e-9);
            t->decimals = dec > 0 ? dec : 0;
            return 1;
        }
    }
    return 0; /* not reached for finite input */
}

double svdd__tick_value(const svdd__ticks *t, int k) { return (double)(t->first + k) * t->step; }

void svdd__tick_label(const svdd__ticks *t, double v, char *buf, size_t size) {
    if (fabs(v) < t->step * 1e-6) v = 0; /* never "-0" or "1e-17" */
    double mag = fmax(fabs(t->lo_nice), fabs(t->hi_nice));
    if (t->decimals <= 6 && mag < 1e7) {
        snprintf(buf, size, "%.*f", t->decimals, v);
    } else {
        /* Very small steps or very large values: scientific notation with just enough digits
         * to tell neighbouring ticks apart. */
        int digits = (int)(floor(log10(fmax(mag, t->step))) - floor(log10(t->step))) + 1;
        if (digits < 1) digits = 1;
        if (digits > 15) digits = 15;
        snprintf(buf, size, "%.*g", digits, v);
    }
}

/* Tick k lies within [lo, hi] up to rounding. */
static int tick_inside(const svdd__ticks *t, int k, double lo, double hi) {
    double v = svdd__tick_value(t, k), eps = (hi - lo) * 1e-9;
    return v >= lo - eps && v <= hi + eps;
}

double svdd__ticks_label_width(cairo_t *cr, const svdd__ticks *t, double lo, double hi) {
    char buf[64];
    double w = 0;
    svdd__font(cr, SVDD__FONT_TICK, 0);
    for (int k = 0; k < t->count; k++) {
        if (!tick_inside(t, k, lo, hi)) continue;
        svdd__tick_label(t, svdd__tick_value(t, k), buf, sizeof buf);
        w = fmax(w, svdd__text_width(cr, buf));
    }
    return w;
}

/* The middle of the device pixel containing v: 1-unit lines drawn there cover exactly one pixel
 * column or row instead of two half-grey ones. */
static double snap(double v) { return floor(v) + 0.5; }

/* ---- layout ---- */

static void legend_layout(cairo_t *cr, const svdd__legend_entry *e, int n, double max_h, svdd__legend *L) {
    L->rows = L->cols = 0;
    L->w = L->h = L->col_w = 0;
    if (n <= 0) return;
    svdd__font(cr, SVDD__FONT_LEGEND, 0);
    double label_w = 0;
    for (int i = 0; i < n; i++) label_w = fmax(label_w, svdd__text_width(cr, e[i].label));
    /* As many rows as the plot's height allows, then more columns, balanced. */
    int max_rows = (int)((max_h - 2 * LEGEND_PAD) / LEGEND_ROW);
    if (max_rows < 1) max_rows = 1;
    L->cols = (n + max_rows - 1) / max_rows;
    L->rows = (n + L->cols - 1) / L->cols;
    L->col_w = ceil(LEGEND_SWATCH + 8 + label_w);
    L->w = 2 * LEGEND_PAD + L->cols * L->col_w + (L->cols - 1) * LEGEND_COL_GAP;
    L->h = 2 * LEGEND_PAD + L->rows * LEGEND_ROW - 4;
}

void svdd__page_layout(cairo_t *cr, const char *title, double plot_w, double plot_h, double ylabel_w,
                       const svdd__axes_style *style, const svdd__legend_entry *entries, int n_entries,
                       svdd__page *page) {
    int has_title = title && *title;
    page->title_baseline = PAD + 18;
    double top = has_title ? page->title_baseline + 24 : PAD + 6;
    double left = PAD + (style->ytitle ? SVDD__FONT_AXIS + 10 : 0) + ylabel_w + TICK_LEN + LABEL_GAP;
    double bottom = TICK_LEN + LABEL_GAP + CAP * SVDD__FONT_TICK + (style->xtitle ? 13 + SVDD__FONT_AXIS : 4) + PAD + 6;
    svdd__frame *f = &page->frame;
    f->x = ceil(left);
    f->y = ceil(top);
    f->w = plot_w;
    f->h = plot_h;
    legend_layout(cr, entries, n_entries, plot_h, &page->legend);
    page->legend.x = f->x + f->w + LEGEND_GAP;
    page->legend.y = f->y;
    double width = n_entries > 0 ? page->legend.x + page->legend.w + PAD : f->x + f->w + 1.5 * PAD;
    double height = f->y + fmax(f->h, page->legend.h) + bottom;
    if (has_title) {
        svdd__font(cr, SVDD__FONT_TITLE, 1);
        double need = svdd__text_width(cr, title) + 2 * PAD;
        if (need > width) { /* a long title: widen the page and centre the rest under it */
            double shift = floor((need - width) / 2);
            f->x += shift;
            page->legend.x += shift;
            width = need;
        }
    }
    page->width = (int)ceil(width);
    page->height = (int)ceil(height);
}

/* ---- drawing ---- */

void svdd__clip_frame(cairo_t *cr, const svdd__frame *f, double pad) {
    cairo_rectangle(cr, f->x - pad, f->y - pad, f->w + 2 * pad, f->h + 2 * pad);
    cairo_clip(cr);
}

void svdd__draw_grid(cairo_t *cr, const svdd__frame *f, const svdd__ticks *xt, const svdd__ticks *yt) {
    cairo_save(cr);
    svdd__set_rgb(cr, svdd__rgb_hex(GRID), 1);
    cairo_set_line_width(cr, 1);
    for (int k = 0; xt && k < xt->count; k++) {
        if (!tick_inside(xt, k, f->xmin, f->xmax)) continue;
        double X = snap(svdd__frame_px(f, svdd__tick_value(xt, k)));
        if (X < f->x + 1 || X > f->x + f->w - 1) continue; /* the frame draws those */
        cairo_move_to(cr, X, f->y);
        cairo_line_to(cr, X, f->y + f->h);
    }
    for (int k = 0; yt && k < yt->count; k++) {
        if (!tick_inside(yt, k, f->ymin, f->ymax)) continue;
        double Y = snap(svdd__frame_py(f, svdd__tick_value(yt, k)));
        if (Y < f->y + 1 || Y > f->y + f->h - 1) continue;
        cairo_move_to(cr, f->x, Y);
        cairo_line_to(cr, f->x + f->w, Y);
    }
    cairo_stroke(cr);
    cairo_restore(cr);
}

void svdd__draw_axes(cairo_t *cr, const svdd__frame *f, const svdd__ticks *xt, const svdd__ticks *yt,
                     const svdd__axes_style *style) {
    char buf[64];
    cairo_save(cr);
    cairo_set_line_width(cr, 1);
    svdd__set_rgb(cr, svdd__rgb_hex(AXIS), 1);
    cairo_rectangle(cr, f->x + 0.5, f->y + 0.5, f->w - 1, f->h - 1);
    cairo_stroke(cr);

    svdd__font(cr, SVDD__FONT_TICK, 0);
    svdd__rgb label_color = svdd__rgb_hex(style->light ? TEXT_LIGHT : TEXT);
    if (xt) {
        /* Show every label when they fit side by side, else every second (or third...). */
        double label_w = svdd__ticks_label_width(cr, xt, f->xmin, f->xmax);
        double spacing = xt->step / (f->xmax - f->xmin) * f->w;
        int stride = 1;
        while (stride < xt->count && label_w + 10 > spacing * stride) stride++;
        for (int k = 0; k < xt->count; k++) {
            if (!tick_inside(xt, k, f->xmin, f->xmax)) continue;
            double v = svdd__tick_value(xt, k), X = svdd__frame_px(f, v);
            svdd__set_rgb(cr, svdd__rgb_hex(AXIS), 1);
            cairo_move_to(cr, snap(X), f->y + f->h);
            cairo_line_to(cr, snap(X), f->y + f->h + TICK_LEN);
            cairo_stroke(cr);
            if ((xt->first + k) % stride != 0) continue;
            svdd__tick_label(xt, v, buf, sizeof buf);
            svdd__set_rgb(cr, label_color, 1);
            svdd__text_at(cr, X, f->y + f->h + TICK_LEN + LABEL_GAP, buf, 0.5, SVDD__TOP);
        }
    }
    double ylabel_w = 0;
    if (yt) {
        ylabel_w = svdd__ticks_label_width(cr, yt, f->ymin, f->ymax);
        for (int k = 0; k < yt->count; k++) {
            if (!tick_inside(yt, k, f->ymin, f->ymax)) continue;
            double v = svdd__tick_value(yt, k), Y = svdd__frame_py(f, v);
            svdd__set_rgb(cr, svdd__rgb_hex(AXIS), 1);
            cairo_move_to(cr, f->x - TICK_LEN, snap(Y));
            cairo_line_to(cr, f->x, snap(Y));
            cairo_stroke(cr);
            svdd__tick_label(yt, v, buf, sizeof buf);
            svdd__set_rgb(cr, label_color, 1);
            svdd__text_at(cr, f->x - TICK_LEN - LABEL_GAP, Y, buf, 1, SVDD__MIDDLE);
        }
    }

    svdd__font(cr, SVDD__FONT_AXIS, 0);
    svdd__set_rgb(cr, svdd__rgb_hex(TEXT), 1);
    if (style->xtitle) {
        double top = f->y + f->h + TICK_LEN + LABEL_GAP + CAP * SVDD__FONT_TICK + 13;
        svdd__text_at(cr, f->x + f->w / 2, top, style->xtitle, 0.5, SVDD__TOP);
    }
    if (style->ytitle) {
        /* Rotated a quarter turn anticlockwise, its baseline 10 units left of the tick labels. */
        double base_x = f->x - TICK_LEN - LABEL_GAP - ylabel_w - 10;
        cairo_save(cr);
        cairo_translate(cr, base_x, f->y + f->h / 2);
        cairo_rotate(cr, -1.5707963267948966);
        svdd__text_at(cr, 0, 0, style->ytitle, 0.5, SVDD__BASELINE);
        cairo_restore(cr);
    }
    cairo_restore(cr);
}

void svdd__draw_title(cairo_t *cr, const svdd__page *page, const char *title) {
    if (!title || !*title) return;
    svdd__font(cr, SVDD__FONT_TITLE, 1);
    svdd__set_rgb(cr, svdd__rgb_hex(0x111111), 1);
    svdd__text_at(cr, page->width / 2.0, page->title_baseline, title, 0.5, SVDD__BASELINE);
}

static void draw_swatch(cairo_t *cr, const svdd__legend_entry *e, double x, double y) {
    cairo_save(cr);
    switch (e->swatch) {
    case SVDD__SWATCH_LINE:
    case SVDD__SWATCH_DASHED:
        if (e->swatch == SVDD__SWATCH_DASHED) {
            static const double dash[2] = {5, 3};
            cairo_set_dash(cr, dash, 2, 0);
        }
        cairo_set_line_width(cr, e->swatch == SVDD__SWATCH_DASHED ? 1.5 : 2.5);
        svdd__set_rgb(cr, e->color, 1);
        cairo_move_to(cr, x, y);
        cairo_line_to(cr, x + LEGEND_SWATCH, y);
        cairo_stroke(cr);
        break;
    case SVDD__SWATCH_PATCH:
        cairo_rectangle(cr, x + 3, y - 6, LEGEND_SWATCH - 6, 12);
        svdd__set_rgb(cr, e->color, 0.45);
        cairo_fill_preserve(cr);
        svdd__set_rgb(cr, e->color, 1);
        cairo_set_line_width(cr, 1.2);
        cairo_stroke(cr);
        break;
    case SVDD__SWATCH_MARKER:
        svdd__marker_path(cr, e->marker, x + LEGEND_SWATCH / 2, y, 4.5);
        svdd__set_rgb(cr, e->color, 1);
        cairo_fill(cr);
        break;
    }
    cairo_restore(cr);
}

void svdd__draw_legend(cairo_t *cr, const svdd__legend *L, const svdd__legend_entry *entries, int n) {
    if (n <= 0) return;
    cairo_save(cr);
    cairo_rectangle(cr, floor(L->x) + 0.5, floor(L->y) + 0.5, ceil(L->w), ceil(L->h));
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill_preserve(cr);
    svdd__set_rgb(cr, svdd__rgb_hex(LEGEND_EDGE), 1);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    svdd__font(cr, SVDD__FONT_LEGEND, 0);
    for (int i = 0; i < n; i++) {
        int col = i / L->rows, row = i % L->rows; /* down the first column, then the next */
        double x = L->x + LEGEND_PAD + col * (L->col_w + LEGEND_COL_GAP);
        double y = L->y + LEGEND_PAD + row * LEGEND_ROW + LEGEND_ROW / 2 - 2;
        draw_swatch(cr, &entries[i], x, y);
        svdd__set_rgb(cr, svdd__rgb_hex(TEXT), 1);
        svdd__text_at(cr, x + LEGEND_SWATCH + 8, y, entries[i].label, 0, SVDD__MIDDLE);
    }
    cairo_restore(cr);
}
