/* The canvas every figure is drawn on. A figure is rendered completely into memory (a PNG encoded
 * by cairo, or an SVG document) and only then written with svdd_write_file_atomic, so a reader
 * never sees half an image and a failure at any step leaves no file behind. */
#include <cairo-svg.h>
#include <stdlib.h>
#include <string.h>

#include "viz.h"

/* cairo's write callback: append to a buffer that doubles as it fills. */
static cairo_status_t buffer_write(void *closure, const unsigned char *data, unsigned int length) {
    svdd__buffer *b = closure;
    if (length > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 64 * 1024;
        while (cap - b->len < length) {
            if (cap > SIZE_MAX / 2) {
                b->failed = 1;
                return CAIRO_STATUS_NO_MEMORY;
            }
            cap *= 2;
        }
        unsigned char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return CAIRO_STATUS_NO_MEMORY;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, length);
    b->len += length;
    return CAIRO_STATUS_SUCCESS;
}

/* ASCII case-insensitive equality; the C library's versions depend on the locale. */
static int ext_equal(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a;
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (x != *b) return 0;
    }
    return *a == *b;
}

svdd_status svdd__image_format_of(const char *path, svdd__image_format *format, svdd_error *err) {
    if (!path || !*path) return svdd__fail(err, SVDD_E_INVALID, "plot: no output path given");
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash)) {
        if (ext_equal(dot, ".png")) {
            *format = SVDD__FORMAT_PNG;
            return SVDD_OK;
        }
        if (ext_equal(dot, ".svg")) {
            *format = SVDD__FORMAT_SVG;
            return SVDD_OK;
        }
    }
    return svdd__fail(err, SVDD_E_INVALID, "%s: unknown image type (the file name must end in .png or .svg)", path);
}

svdd_status svdd__cairo_fail(cairo_status_t cs, const char *path, svdd_error *err) {
    const char *what = cairo_status_to_string(cs);
    switch (cs) {
    case CAIRO_STATUS_NO_MEMORY: return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory while drawing", path);
    case CAIRO_STATUS_WRITE_ERROR: return svdd__fail(err, SVDD_E_IO, "%s: encoding the image failed: %s", path, what);
    case CAIRO_STATUS_INVALID_SIZE: return svdd__fail(err, SVDD_E_LIMIT, "%s: the image is too large: %s", path, what);
    default: return svdd__fail(err, SVDD_E_INVALID, "%s: drawing failed: %s", path, what);
    }
}

/* Structural UTF-8 check (no overlongs, no surrogates, at most U+10FFFF), as cairo's own. */
static int valid_utf8(const unsigned char *s) {
    while (*s) {
        unsigned c = *s;
        int more;
        unsigned min;
        if (c < 0x80) {
            s++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            more = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            more = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            more = 3, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        s++;
        for (int i = 0; i < more; i++, s++) {
            if ((*s & 0xC0) != 0x80) return 0;
            c = (c << 6) | (*s & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    }
    return 1;
}

svdd_status svdd__check_text(const char *s, const char *what, const char *path, svdd_error *err) {
    if (s && !valid_utf8((const unsigned char *)s))
        return svdd__fail(err, SVDD_E_INVALID, "%s: the %s is not valid UTF-8", path, what);
    return SVDD_OK;
}

void svdd__text_setup(cairo_t *cr) {
    cairo_font_options_t *fo = cairo_font_options_create();
    /* Unhinted metrics make text widths independent of the surface, so a layout measured on a
     * scratch surface holds on the PNG and the SVG alike; slight outline hinting keeps small
     * labels sharp on the PNG. */
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT);
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_set_font_options(cr, fo); /* an out-of-memory options object puts cr in error */
    cairo_font_options_destroy(fo);
    svdd__font(cr, SVDD__FONT_TICK, 0);
}

void svdd__font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double svdd__text_width(cairo_t *cr, const char *s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

void svdd__text_at(cairo_t *cr, double x, double y, const char *s, double halign, svdd__valign valign) {
    cairo_matrix_t m;
    cairo_get_font_matrix(cr, &m);
    /* DejaVu Sans's capitals and digits are 0.73 em high; anchoring on them (rather than on the
     * font's ascent, which includes accents) centres numbers on their tick marks. */
    double cap = 0.73 * m.yy;
    double base = valign == SVDD__MIDDLE ? y + cap / 2 : valign == SVDD__TOP ? y + cap : y;
    cairo_move_to(cr, x - halign * svdd__text_width(cr, s), base);
    cairo_show_text(cr, s);
}

cairo_t *svdd__measure_begin(void) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
    cairo_t *cr = cairo_create(s);
    cairo_surface_destroy(s); /* cr holds its own reference */
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        cairo_destroy(cr);
        return NULL;
    }
    svdd__text_setup(cr);
    return cr;
}

void svdd__measure_end(cairo_t *cr) {
    if (cr) cairo_destroy(cr);
}

svdd_status svdd__canvas_begin(svdd__canvas *cv, const char *path, int width, int height, const char *title,
                               svdd_error *err) {
    memset(cv, 0, sizeof *cv);
    svdd_status st = svdd__image_format_of(path, &cv->format, err);
    if (st != SVDD_OK) return st;
    if (width < 1 || height < 1 || width > SVDD__MAX_CANVAS_SIDE || height > SVDD__MAX_CANVAS_SIDE)
        return svdd__fail(err, SVDD_E_LIMIT, "%s: the figure would be %d x %d pixels (at most %d a side)", path,
                          width, height, SVDD__MAX_CANVAS_SIDE);
    cv->path = path;
    cv->title = title;
    cv->width = width;
    cv->height = height;
    if (cv->format == SVDD__FORMAT_PNG) {
        /* No alpha channel: figures have a white background, and RGB PNGs are smaller. */
        cv->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    } else {
        cv->surface = cairo_svg_surface_create_for_stream(buffer_write, &cv->out, width, height);
#if CAIRO_VERSION >= CAIRO_VERSION_ENCODE(1, 16, 0)
        /* Pixels, so that a browser shows the SVG at the size of the PNG (the default is points). */
        cairo_svg_surface_set_document_unit(cv->surface, CAIRO_SVG_UNIT_PX);
#endif
    }
    cairo_status_t cs = cairo_surface_status(cv->surface);
    if (cs == CAIRO_STATUS_SUCCESS) {
        cv->cr = cairo_create(cv->surface);
        cs = cairo_status(cv->cr);
    }
    if (cs != CAIRO_STATUS_SUCCESS) {
        svdd__canvas_discard(cv);
        return svdd__cairo_fail(cs, path, err);
    }
    svdd__text_setup(cv->cr);
    cairo_set_source_rgb(cv->cr, 1, 1, 1);
    cairo_paint(cv->cr);
    return SVDD_OK;
}

void svdd__canvas_discard(svdd__canvas *cv) {
    if (cv->cr) cairo_destroy(cv->cr);
    /* Destroying an SVG surface finishes it, which may still write into the buffer: free the
     * buffer only afterwards. */
    if (cv->surface) cairo_surface_destroy(cv->surface);
    free(cv->out.data);
    cv->cr = NULL;
    cv->surface = NULL;
    memset(&cv->out, 0, sizeof cv->out);
}

/* Write `s` into dst (when not NULL) with XML's five special characters escaped and control
 * characters (not allowed in XML 1.0) turned into spaces; return the escaped length. */
static size_t xml_escape(const char *s, char *dst) {
    size_t n = 0;
    for (; *s; s++) {
        const char *rep = NULL;
        char one[2] = {*s, 0};
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default:
            if ((unsigned char)*s < 0x20) one[0] = ' ';
            rep = one;
        }
        size_t k = strlen(rep);
        if (dst) memcpy(dst + n, rep, k); /* NOLINT(bugprone-not-null-terminated-result): a piece of the text */
        n += k;
    }
    return n;
}

/* cairo draws text as glyph outlines, so an SVG would not contain its own title as text. Insert
 * a <title> element (what viewers show as the document's name and screen readers read) right
 * after the opening <svg ...> tag. */
static svdd_status svg_add_title(svdd__canvas *cv, svdd_error *err) {
    if (!cv->title || !*cv->title) return SVDD_OK;
    svdd__buffer *b = &cv->out;
    size_t at = 0;
    int found = 0;
    for (size_t i = 0; i + 4 <= b->len; i++) {
        if (memcmp(b->data + i, "<svg", 4) == 0) {
            for (size_t j = i; j < b->len; j++)
                if (b->data[j] == '>') {
                    at = j + 1, found = 1;
                    break;
                }
            break;
        }
    }
    if (!found) return svdd__fail(err, SVDD_E_FORMAT, "%s: cairo produced an SVG without an <svg> element", cv->path);
    size_t esc = xml_escape(cv->title, NULL);
    size_t extra = esc + sizeof "\n<title></title>" - 1;
    size_t total;
    if (!svdd__add_size(b->len, extra, &total)) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", cv->path);
    unsigned char *p = malloc(total);
    if (!p) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", cv->path);
    memcpy(p, b->data, at);
    size_t o = at;
    /* bytes of the SVG, not C strings: */
    memcpy(p + o, "\n<title>", 8), o += 8; /* NOLINT(bugprone-not-null-terminated-result) */
    o += xml_escape(cv->title, (char *)p + o);
    memcpy(p + o, "</title>", 8), o += 8; /* NOLINT(bugprone-not-null-terminated-result) */
    memcpy(p + o, b->data + at, b->len - at);
    free(b->data);
    b->data = p;
    b->len = b->cap = total;
    return SVDD_OK;
}

svdd_status svdd__canvas_end(svdd__canvas *cv, svdd_error *err) {
    svdd_status st = SVDD_OK;
    /* Errors in cairo are sticky: one check after drawing catches any failed operation. */
    cairo_status_t cs = cairo_status(cv->cr);
    cairo_destroy(cv->cr);
    cv->cr = NULL;
    if (cs == CAIRO_STATUS_SUCCESS) {
        if (cv->format == SVDD__FORMAT_PNG) {
            cs = cairo_surface_write_to_png_stream(cv->surface, buffer_write, &cv->out);
        } else {
            cairo_surface_finish(cv->surface); /* the SVG document is written now */
            cs = cairo_surface_status(cv->surface);
        }
    }
    if (cs == CAIRO_STATUS_SUCCESS) cs = cairo_surface_status(cv->surface);
    if (cv->out.failed) st = svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory while encoding the image", cv->path);
    else if (cs != CAIRO_STATUS_SUCCESS) st = svdd__cairo_fail(cs, cv->path, err);
    cairo_surface_destroy(cv->surface);
    cv->surface = NULL;
    if (st == SVDD_OK && cv->format == SVDD__FORMAT_SVG) st = svg_add_title(cv, err);
    if (st == SVDD_OK) st = svdd_write_file_atomic(cv->path, cv->out.data, cv->out.len, err);
    svdd__canvas_discard(cv);
    return st;
}
