/* Internal helpers of the plots (src/viz): a canvas that renders PNG or SVG into memory and writes
 * it atomically, "nice" axis ticks, a page layout with a frame, axes and a legend shared by the
 * three plots, qualitative palettes, markers and the viridis colour map. Nothing here is exported;
 * the geometry functions exist so that the tests can find where a plot put things. */
#ifndef SVDD_VIZ_H
#define SVDD_VIZ_H

#include <cairo.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/core.h"

/* ---- canvas: one figure, PNG or SVG by the path's extension ---- */

typedef enum svdd__image_format { SVDD__FORMAT_PNG = 1, SVDD__FORMAT_SVG = 2 } svdd__image_format;

/* cairo image surfaces stop at 32767 pixels a side; we stop well before, since a figure that
 * large is a mistake (a legend of thousands of entries, a huge upscale factor). */
#define SVDD__MAX_CANVAS_SIDE 16384

/* The bytes cairo produces, grown as it writes. */
typedef struct svdd__buffer {
    unsigned char *data;
    size_t len, cap;
    int failed; /* an allocation failed inside cairo's write callback */
} svdd__buffer;

typedef struct svdd__canvas {
    const char *path;  /* borrowed */
    const char *title; /* borrowed; becomes the SVG's <title>, NULL for none */
    svdd__image_format format;
    int width, height;
    cairo_surface_t *surface;
    cairo_t *cr;
    svdd__buffer out;
} svdd__canvas;

/* PNG or SVG from the path's extension (case-insensitive); SVDD_E_INVALID naming the path
 * otherwise. */
svdd_status svdd__image_format_of(const char *path, svdd__image_format *format, svdd_error *err);
/* Create the surface and a context with the house font settings, painted white. On failure
 * nothing is left allocated. */
svdd_status svdd__canvas_begin(svdd__canvas *cv, const char *path, int width, int height, const char *title,
                               svdd_error *err);
/* Check cairo's status, encode the figure, write it atomically and release everything, also when
 * it fails. */
svdd_status svdd__canvas_end(svdd__canvas *cv, svdd_error *err);
/* Release without writing (after an error while drawing); safe on a zeroed canvas. */
void svdd__canvas_discard(svdd__canvas *cv);

/* A 1x1 context for measuring text before the figure's size is known; NULL when out of memory.
 * Free with svdd__measure_end. */
cairo_t *svdd__measure_begin(void);
void svdd__measure_end(cairo_t *cr);

/* SVDD_E_INVALID unless `s` is NULL or valid UTF-8 (cairo refuses anything else mid-drawing,
 * with a message that would not say which string was wrong). */
svdd_status svdd__check_text(const char *s, const char *what, const char *path, svdd_error *err);

/* Map a cairo failure to a status and a message naming the path. */
svdd_status svdd__cairo_fail(cairo_status_t cs, const char *path, svdd_error *err);

/* ---- text ---- */

#define SVDD__FONT_TITLE 18.0
#define SVDD__FONT_AXIS 14.0
#define SVDD__FONT_TICK 12.5
#define SVDD__FONT_LEGEND 13.0
#define SVDD__FONT_CAPTION 14.0

typedef enum svdd__valign {
    SVDD__BASELINE = 0, /* y is the baseline */
    SVDD__MIDDLE = 1,   /* y is halfway up the capitals and digits */
    SVDD__TOP = 2       /* y is the top of the capitals and digits */
} svdd__valign;

/* Font settings every context gets: DejaVu Sans (fontconfig substitutes when missing), grey
 * antialiasing and unhinted metrics, so that text measures the same on PNG and SVG surfaces. */
void svdd__text_setup(cairo_t *cr);
void svdd__font(cairo_t *cr, double size, int bold);
/* Advance width of `s` in the current font. */
double svdd__text_width(cairo_t *cr, const char *s);
/* Draw `s` with its anchor at (x, y): halign 0 = left, 0.5 = centre, 1 = right. */
void svdd__text_at(cairo_t *cr, double x, double y, const char *s, double halign, svdd__valign valign);

/* ---- colours and markers ---- */

typedef struct svdd__rgb {
    double r, g, b;
} svdd__rgb;

/* Colour i of a qualitative set of n: Okabe-Ito (colour-blind safe) when n <= 8, Kelly's
 * maximum-contrast colours otherwise, repeating after svdd__palette_size(n) colours (callers then
 * tell the repeats apart by marker or dash). */
svdd__rgb svdd__palette(int i, int n);
int svdd__palette_size(int n);
svdd__rgb svdd__rgb_hex(uint32_t hex);
void svdd__set_rgb(cairo_t *cr, svdd__rgb c, double alpha);
/* The 8-bit value cairo stores for channel value v (0..1) painted with alpha a over white. */
uint8_t svdd__over_white(double v, double a);

/* Marker shapes: 0 disc, 1 square, 2 triangle up, 3 diamond, 4 triangle down. */
#define SVDD__MARKER_COUNT 5
/* Append a marker of radius r centred at (x, y) to the current path. */
void svdd__marker_path(cairo_t *cr, int marker, double x, double y, double r);

/* Viridis (van der Walt and Smith, matplotlib; CC0) at t in [0, 1] (clamped) as 8-bit sRGB. */
void svdd__viridis(double t, uint8_t rgb[3]);
/* The anchors as a cairo gradient along (x0,y0) -> (x1,y1); the caller destroys it. */
cairo_pattern_t *svdd__viridis_gradient(double x0, double y0, double x1, double y1);

/* ---- ticks ---- */

/* Ticks at multiples of step = {1, 2, 5} x 10^k: the smallest such step for which the multiples
 * covering [lo, hi] (from `lo_nice` = first * step up to `hi_nice`) make at most max_intervals
 * intervals. `decimals` is how many digits after the point the labels need. */
typedef struct svdd__ticks {
    double step;
    double lo_nice, hi_nice;
    long long first; /* lo_nice / step */
    int count;       /* ticks from lo_nice to hi_nice inclusive */
    int decimals;
} svdd__ticks;

/* 0 when an end is not finite, the span overflows, or max_intervals < 1. Equal ends are widened
 * by 10% of their value (or by 1 around 0). */
int svdd__nice_ticks(double lo, double hi, int max_intervals, svdd__ticks *t);
/* The value of tick k (0-based), computed from its index so that no error accumulates. */
double svdd__tick_value(const svdd__ticks *t, int k);
/* The label of a tick value ("0.2", "1200", "-0.05"; never "-0"). */
void svdd__tick_label(const svdd__ticks *t, double v, char *buf, size_t size);

/* ---- frame, axes, legend, page ---- */

/* The plot area in device units (y grows downwards) and the data range it shows. */
typedef struct svdd__frame {
    double x, y, w, h;
    double xmin, xmax, ymin, ymax;
} svdd__frame;

static inline double svdd__frame_px(const svdd__frame *f, double v) {
    return f->x + (v - f->xmin) / (f->xmax - f->xmin) * f->w;
}
static inline double svdd__frame_py(const svdd__frame *f, double v) {
    return f->y + f->h - (v - f->ymin) / (f->ymax - f->ymin) * f->h;
}

typedef enum svdd__swatch {
    SVDD__SWATCH_LINE = 0,   /* a solid line */
    SVDD__SWATCH_DASHED = 1, /* a dashed line */
    SVDD__SWATCH_PATCH = 2,  /* a semi-transparent filled box with a solid edge */
    SVDD__SWATCH_MARKER = 3  /* one marker */
} svdd__swatch;

typedef struct svdd__legend_entry {
    const char *label;
    svdd__rgb color;
    svdd__swatch swatch;
    int marker;
} svdd__legend_entry;

typedef struct svdd__legend {
    double x, y, w, h;
    int rows, cols;
    double col_w;
} svdd__legend;

/* Where everything of a plot goes: a title on top, the plot area, a legend to its right. */
typedef struct svdd__page {
    int width, height;
    svdd__frame frame;
    svdd__legend legend;
    double title_baseline;
} svdd__page;

typedef struct svdd__axes_style {
    const char *xtitle, *ytitle; /* NULL for none */
    int light;                   /* grey tick labels and no grid: unit-less coordinates */
} svdd__axes_style;

/* Lay out a page around a plot area of plot_w x plot_h. `ylabel_w` is the width of the widest y
 * tick label (svdd__ticks_label_width). The legend is measured here (it may use several columns
 * to stay within the plot's height). Frame ranges are left for the caller. */
void svdd__page_layout(cairo_t *cr, const char *title, double plot_w, double plot_h, double ylabel_w,
                       const svdd__axes_style *style, const svdd__legend_entry *entries, int n_entries,
                       svdd__page *page);
/* Width of the widest label among the ticks inside [lo, hi], in the tick font. */
double svdd__ticks_label_width(cairo_t *cr, const svdd__ticks *t, double lo, double hi);

/* Light grid lines at the ticks inside the frame (drawn before the data). */
void svdd__draw_grid(cairo_t *cr, const svdd__frame *f, const svdd__ticks *xt, const svdd__ticks *yt);
/* The frame's box, tick marks, tick labels and axis titles (drawn after the data). Either ticks
 * may be NULL to leave that axis unlabelled. */
void svdd__draw_axes(cairo_t *cr, const svdd__frame *f, const svdd__ticks *xt, const svdd__ticks *yt,
                     const svdd__axes_style *style);
void svdd__draw_title(cairo_t *cr, const svdd__page *page, const char *title);
void svdd__draw_legend(cairo_t *cr, const svdd__legend *L, const svdd__legend_entry *entries, int n);
/* Clip to the frame widened by `pad` device units (data just outside stays visible at edges). */
void svdd__clip_frame(cairo_t *cr, const svdd__frame *f, double pad);

/* ---- geometry of each figure, for the tests ---- */

typedef struct svdd__geometry {
    int width, height;
    svdd__frame frame;
} svdd__geometry;

svdd_status svdd__roc_geometry(const char *path, const char *title, const svdd_curve *curves, int n_curves,
                               svdd__geometry *g, svdd_error *err);
svdd_status svdd__histogram_geometry(const char *path, const char *title, const float *scores,
                                     const int32_t *labels, size_t n, double threshold,
                                     const char *threshold_label, svdd__geometry *g, svdd_error *err);
svdd_status svdd__scatter_geometry(const char *path, const char *title, const float *xy, size_t n,
                                   const int32_t *group, int n_groups, const char *const *names,
                                   svdd__geometry *g, svdd_error *err);

/* The overlay's three panels (input, heat map, blend) and its colour bar. Integer positions, so
 * that upscaled pixels land exactly on device pixels. */
typedef struct svdd__overlay_geometry {
    int width, height;
    int panel_x[3], panel_y;
    int panel_w, panel_h;
    int bar_x, bar_y, bar_w, bar_h;
} svdd__overlay_geometry;

svdd_status svdd__overlay_layout(const char *path, int c, int h, int w, int scale, const char *caption,
                                 svdd__overlay_geometry *g, svdd_error *err);

#endif
