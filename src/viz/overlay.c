/* A Grad-CAM style overlay: the input image, its heat map through viridis, and the two blended,
 * side by side and upscaled with nearest neighbours (each input pixel becomes a scale x scale
 * block, so nothing is invented), with a colour bar and a caption line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "viz.h"

#define PAD 16
#define GAP 16            /* between panels */
#define BAR_GAP 14        /* between the last panel and the colour bar */
#define BAR_W 14
#define BAR_MIN_H 100     /* the colour bar stays readable next to small panels */
#define MAX_PANEL 4096    /* pixels per panel side */
#define BLEND_ALPHA 0.5   /* weight of the heat map in the blend */
#define TITLE_FONT 13.0
#define BAR_FONT 11.0

static const char *const panel_title[3] = {"input", "heat map", "overlay"};

static svdd_status check_input(const char *path, const uint8_t *image, int c, int h, int w, const float *heat,
                               int scale, const char *caption, svdd_error *err) {
    svdd__image_format fmt;
    svdd_status st = svdd__image_format_of(path, &fmt, err);
    if (st != SVDD_OK) return st;
    if (c != 1 && c != 3)
        return svdd__fail(err, SVDD_E_INVALID, "%s: the image has %d channels (expected 1 = grey or 3 = RGB)", path, c);
    if (h < 1 || w < 1 || scale < 1)
        return svdd__fail(err, SVDD_E_INVALID, "%s: image size %d x %d with scale %d (all must be >= 1)", path, h, w,
                          scale);
    if (w > MAX_PANEL / scale || h > MAX_PANEL / scale)
        return svdd__fail(err, SVDD_E_LIMIT, "%s: a %d x %d image at scale %d exceeds %d pixels per panel side", path,
                          h, w, scale, MAX_PANEL);
    if (!image || !heat)
        return svdd__fail(err, SVDD_E_INVALID, "%s: image or heat map missing", path);
    size_t hw = (size_t)h * (size_t)w;
    for (size_t i = 0; i < hw; i++)
        if (!isfinite(heat[i]))
            return svdd__fail(err, SVDD_E_NUMERIC, "%s: heat map value %zu (row %zu, column %zu) is %s", path, i,
                              i / (size_t)w, i % (size_t)w, isnan(heat[i]) ? "NaN" : "infinite");
    return svdd__check_text(caption, "caption", path, err);
}

/* The layout needs only the sizes and the caption's width. */
static svdd_status layout(const char *path, int h, int w, int scale, const char *caption,
                          svdd__overlay_geometry *g, svdd_error *err) {
    cairo_t *cr = svdd__measure_begin();
    if (!cr) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", path);
    int pw = w * scale, ph = h * scale;
    /* A column is as wide as its panel or its title, whichever is wider. */
    svdd__font(cr, TITLE_FONT, 0);
    int cw = pw;
    for (int i = 0; i < 3; i++) {
        int tw = (int)ceil(svdd__text_width(cr, panel_title[i])) + 4;
        if (tw > cw) cw = tw;
    }
    svdd__font(cr, BAR_FONT, 0);
    int bar_label_w = (int)ceil(svdd__text_width(cr, "0.5"));
    int caption_w = 0;
    if (caption && *caption) {
        svdd__font(cr, SVDD__FONT_CAPTION, 0);
        caption_w = (int)ceil(svdd__text_width(cr, caption));
    }
    svdd__measure_end(cr);

    int bar_h = ph > BAR_MIN_H ? ph : BAR_MIN_H;
    int row_h = bar_h;
    int content_w = 3 * cw + 2 * GAP + BAR_GAP + BAR_W + 5 + bar_label_w;
    int width = PAD + content_w + PAD;
    if (caption_w + 2 * PAD > width) width = caption_w + 2 * PAD;
    int x0 = (width - content_w) / 2;
    int top = PAD + 22; /* below the panel titles */
    g->panel_w = pw;
    g->panel_h = ph;
    g->panel_y = top + (row_h - ph) / 2;
    for (int i = 0; i < 3; i++) g->panel_x[i] = x0 + i * (cw + GAP) + (cw - pw) / 2;
    g->bar_x = x0 + 3 * cw + 2 * GAP + BAR_GAP;
    g->bar_y = top; /* the bar is as tall as the row */
    g->bar_w = BAR_W;
    g->bar_h = bar_h;
    g->width = width;
    g->height = top + row_h + (caption_w ? 14 + (int)SVDD__FONT_CAPTION : 0) + PAD;
    return SVDD_OK;
}

svdd_status svdd__overlay_layout(const char *path, int c, int h, int w, int scale, const char *caption,
                                 svdd__overlay_geometry *g, svdd_error *err) {
    /* Same checks as the writer, minus the data. */
    svdd__image_format fmt;
    svdd_status st = svdd__image_format_of(path, &fmt, err);
    if (st != SVDD_OK) return st;
    if ((c != 1 && c != 3) || h < 1 || w < 1 || scale < 1 || w > MAX_PANEL / scale || h > MAX_PANEL / scale)
        return svdd__fail(err, SVDD_E_INVALID, "%s: bad overlay size", path);
    return layout(path, h, w, scale, caption, g, err);
}

/* Grey value of input pixel (y, x): the pixel itself, or BT.601 luma of RGB. */
static uint8_t grey_at(const uint8_t *image, int c, int h, int w, int y, int x) {
    size_t plane = (size_t)h * (size_t)w, i = (size_t)y * (size_t)w + (size_t)x;
    if (c == 1) return image[i];
    double v = 0.299 * image[i] + 0.587 * image[plane + i] + 0.114 * image[2 * plane + i];
    return (uint8_t)lround(v);
}

/* Fill an upscaled panel: each input pixel (y, x) becomes a scale x scale block of `which`:
 * 0 the input, 1 the heat map, 2 the blend. cairo's RGB24 pixels are native-endian 0x00RRGGBB. */
static void fill_panel(cairo_surface_t *s, int which, const uint8_t *image, int c, int h, int w, const float *heat,
                       int scale) {
    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    size_t plane = (size_t)h * (size_t)w;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            uint8_t rgb[3];
            if (which == 0) {
                for (int ch = 0; ch < 3; ch++) rgb[ch] = image[(c == 3 ? (size_t)ch * plane : 0) + i];
            } else {
                svdd__viridis(heat[i], rgb);
                if (which == 2) {
                    /* The image in grey, so that the only colour comes from the heat map. */
                    double gv = grey_at(image, c, h, w, y, x);
                    for (int ch = 0; ch < 3; ch++)
                        rgb[ch] = (uint8_t)lround((1 - BLEND_ALPHA) * gv + BLEND_ALPHA * rgb[ch]);
                }
            }
            uint32_t px = (uint32_t)rgb[0] << 16 | (uint32_t)rgb[1] << 8 | rgb[2];
            for (int dy = 0; dy < scale; dy++) {
                uint32_t *row = (uint32_t *)(data + (size_t)(y * scale + dy) * (size_t)stride) + (size_t)x * scale;
                for (int dx = 0; dx < scale; dx++) row[dx] = px;
            }
        }
    }
    cairo_surface_mark_dirty(s);
}

svdd_status svdd_write_overlay(const char *path, const uint8_t *image, int c, int h, int w, const float *heat,
                               int scale, const char *caption, svdd_error *err) {
    svdd_status st = check_input(path, image, c, h, w, heat, scale, caption, err);
    if (st != SVDD_OK) return st;
    svdd__overlay_geometry g;
    if ((st = layout(path, h, w, scale, caption, &g, err)) != SVDD_OK) return st;
    svdd__canvas cv;
    if ((st = svdd__canvas_begin(&cv, path, g.width, g.height, caption, err)) != SVDD_OK) return st;
    cairo_t *cr = cv.cr;

    for (int k = 0; k < 3; k++) {
        cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, g.panel_w, g.panel_h);
        cairo_status_t cs = cairo_surface_status(s);
        if (cs != CAIRO_STATUS_SUCCESS) {
            cairo_surface_destroy(s);
            svdd__canvas_discard(&cv);
            return svdd__cairo_fail(cs, path, err);
        }
        fill_panel(s, k, image, c, h, w, heat, scale);
        /* Integer offsets and no scaling: the panel's pixels are copied one to one. */
        cairo_set_source_surface(cr, s, g.panel_x[k], g.panel_y);
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
        cairo_paint(cr);
        cairo_surface_destroy(s); /* the SVG surface keeps its own reference until it is written */

        svdd__font(cr, TITLE_FONT, 0);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        svdd__text_at(cr, g.panel_x[k] + g.panel_w / 2.0, g.panel_y - 8, panel_title[k], 0.5, SVDD__BASELINE);
    }

    /* Colour bar: the same anchors as the panels, 1 at the top. */
    cairo_pattern_t *grad = svdd__viridis_gradient(0, g.bar_y + g.bar_h, 0, g.bar_y);
    cairo_rectangle(cr, g.bar_x, g.bar_y, g.bar_w, g.bar_h);
    cairo_set_source(cr, grad);
    cairo_fill(cr);
    cairo_pattern_destroy(grad);
    cairo_rectangle(cr, g.bar_x + 0.5, g.bar_y + 0.5, g.bar_w - 1, g.bar_h - 1);
    cairo_set_source_rgb(cr, 0.33, 0.33, 0.33);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    svdd__font(cr, BAR_FONT, 0);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    static const char *const bar_label[3] = {"0", "0.5", "1"};
    for (int k = 0; k < 3; k++) {
        double y = g.bar_y + g.bar_h - k * (g.bar_h - 1) / 2.0;
        if (k == 0) y -= 4; /* keep the end labels inside the bar's height */
        if (k == 2) y += 4;
        svdd__text_at(cr, g.bar_x + g.bar_w + 5, y, bar_label[k], 0, SVDD__MIDDLE);
    }

    if (caption && *caption) {
        svdd__font(cr, SVDD__FONT_CAPTION, 0);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        svdd__text_at(cr, g.width / 2.0, g.height - PAD - 4, caption, 0.5, SVDD__BASELINE);
    }
    return svdd__canvas_end(&cv, err);
}
