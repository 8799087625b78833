/* Colours and markers of the plots: two qualitative palettes, the viridis colour map and the
 * marker shapes that tell apart groups once the colours run out. */
#include <math.h>

#include "viz.h"

#define SVDD__PI 3.14159265358979323846

/* Okabe and Ito (2008), "Color Universal Design": distinguishable under the common forms of
 * colour blindness. Ordered so that the first two (normal/anomalous, or two methods) contrast
 * most; yellow comes last because it is faint on white. */
static const uint32_t okabe_ito[8] = {
    0x0072B2, /* blue */
    0xD55E00, /* vermillion */
    0x009E73, /* bluish green */
    0xCC79A7, /* reddish purple */
    0xE69F00, /* orange */
    0x56B4E9, /* sky blue */
    0x000000, /* black */
    0xF0E442, /* yellow */
};

/* Kelly (1965), "Twenty-two colors of maximum contrast", as usually tabulated, without white
 * (the background) and olive green (too close to black); in Kelly's order, so that any prefix is
 * as distinct as possible. Used for more than eight groups (e.g. the ten classes of CIFAR-10). */
static const uint32_t kelly[20] = {
    0x222222, 0xF3C300, 0x875692, 0xF38400, 0xA1CAF1, 0xBE0032, 0xC2B280, 0x848482, 0x008856, 0xE68FAC,
    0x0067A5, 0xF99379, 0x604E97, 0xF6A600, 0xB3446C, 0xDCD300, 0x882D17, 0x8DB600, 0x654522, 0xE25822,
};

svdd__rgb svdd__rgb_hex(uint32_t hex) {
    svdd__rgb c = {((hex >> 16) & 255) / 255.0, ((hex >> 8) & 255) / 255.0, (hex & 255) / 255.0};
    return c;
}

int svdd__palette_size(int n) { return n <= 8 ? 8 : 20; }

svdd__rgb svdd__palette(int i, int n) {
    if (i < 0) i = 0;
    return n <= 8 ? svdd__rgb_hex(okabe_ito[i % 8]) : svdd__rgb_hex(kelly[i % 20]);
}

void svdd__set_rgb(cairo_t *cr, svdd__rgb c, double alpha) {
    if (alpha >= 1) cairo_set_source_rgb(cr, c.r, c.g, c.b);
    else cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

uint8_t svdd__over_white(double v, double a) {
    double x = (v * a + (1 - a)) * 255.0;
    return (uint8_t)lround(x < 0 ? 0 : x > 255 ? 255 : x);
}

void svdd__marker_path(cairo_t *cr, int marker, double x, double y, double r) {
    cairo_new_sub_path(cr);
    switch (((marker % SVDD__MARKER_COUNT) + SVDD__MARKER_COUNT) % SVDD__MARKER_COUNT) {
    case 0: cairo_arc(cr, x, y, r, 0, 2 * SVDD__PI); break;
    case 1: { /* a square of the disc's area looks as heavy as the disc */
        double s = r * 0.886;
        cairo_rectangle(cr, x - s, y - s, 2 * s, 2 * s);
        break;
    }
    case 2:
        cairo_move_to(cr, x, y - 1.25 * r);
        cairo_line_to(cr, x + 1.1 * r, y + 0.75 * r);
        cairo_line_to(cr, x - 1.1 * r, y + 0.75 * r);
        cairo_close_path(cr);
        break;
    case 3:
        cairo_move_to(cr, x, y - 1.25 * r);
        cairo_line_to(cr, x + 1.25 * r, y);
        cairo_line_to(cr, x, y + 1.25 * r);
        cairo_line_to(cr, x - 1.25 * r, y);
        cairo_close_path(cr);
        break;
    default:
        cairo_move_to(cr, x, y + 1.25 * r);
        cairo_line_to(cr, x + 1.1 * r, y - 0.75 * r);
        cairo_line_to(cr, x - 1.1 * r, y - 0.75 * r);
        cairo_close_path(cr);
        break;
    }
}

/* Viridis (Stefan van der Walt and Nathaniel Smith, 2015), the default colour map of matplotlib:
 * perceptually uniform, readable in grey and by colour-blind viewers. Every 8th entry (and the
 * last) of the 256-entry table published under CC0 in matplotlib's _cm_listed.py
 * (_viridis_data); linear interpolation between these 33 anchors stays within 0.0065 of the
 * full table (under 2 of 255 levels), far below what the eye tells apart. */
static const unsigned char viridis_index[33] = {0,   8,   16,  24,  32,  40,  48,  56,  64,  72,  80,
                                                88,  96,  104, 112, 120, 128, 136, 144, 152, 160, 168,
                                                176, 184, 192, 200, 208, 216, 224, 232, 240, 248, 255};
static const float viridis_anchor[33][3] = {
    {0.267004f, 0.004874f, 0.329415f}, {0.277018f, 0.050344f, 0.375715f}, {0.282327f, 0.094955f, 0.417331f},
    {0.282884f, 0.135920f, 0.453427f}, {0.278826f, 0.175490f, 0.483397f}, {0.270595f, 0.214069f, 0.507052f},
    {0.258965f, 0.251537f, 0.524736f}, {0.244972f, 0.287675f, 0.537260f}, {0.229739f, 0.322361f, 0.545706f},
    {0.214298f, 0.355619f, 0.551184f}, {0.199430f, 0.387607f, 0.554642f}, {0.185556f, 0.418570f, 0.556753f},
    {0.172719f, 0.448791f, 0.557885f}, {0.160665f, 0.478540f, 0.558115f}, {0.149039f, 0.508051f, 0.557250f},
    {0.137770f, 0.537492f, 0.554906f}, {0.127568f, 0.566949f, 0.550556f}, {0.120565f, 0.596422f, 0.543611f},
    {0.120638f, 0.625828f, 0.533488f}, {0.132268f, 0.655014f, 0.519661f}, {0.157851f, 0.683765f, 0.501686f},
    {0.196571f, 0.711827f, 0.479221f}, {0.246070f, 0.738910f, 0.452024f}, {0.304148f, 0.764704f, 0.419943f},
    {0.369214f, 0.788888f, 0.382914f}, {0.440137f, 0.811138f, 0.340967f}, {0.515992f, 0.831158f, 0.294279f},
    {0.595839f, 0.848717f, 0.243329f}, {0.678489f, 0.863742f, 0.189503f}, {0.762373f, 0.876424f, 0.137064f},
    {0.845561f, 0.887322f, 0.099702f}, {0.926106f, 0.897330f, 0.104071f}, {0.993248f, 0.906157f, 0.143936f},
};

void svdd__viridis(double t, uint8_t rgb[3]) {
    if (!(t > 0)) t = 0; /* also NaN */
    if (t > 1) t = 1;
    double pos = t * 255.0;
    int k = (int)(pos / 8.0);
    if (k > 31) k = 31;
    double f = (pos - viridis_index[k]) / (double)(viridis_index[k + 1] - viridis_index[k]);
    for (int ch = 0; ch < 3; ch++) {
        double v = viridis_anchor[k][ch] + f * (viridis_anchor[k + 1][ch] - viridis_anchor[k][ch]);
        rgb[ch] = (uint8_t)lround(v * 255.0);
    }
}

cairo_pattern_t *svdd__viridis_gradient(double x0, double y0, double x1, double y1) {
    cairo_pattern_t *p = cairo_pattern_create_linear(x0, y0, x1, y1);
    /* The same anchors at the same positions: the bar shows exactly the map of the panels. */
    for (int k = 0; k < 33; k++)
        cairo_pattern_add_color_stop_rgb(p, viridis_index[k] / 255.0, viridis_anchor[k][0], viridis_anchor[k][1],
                                         viridis_anchor[k][2]);
    return p;
}
