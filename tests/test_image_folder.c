/* Image decoding (PNG, JPEG) and image folders, on small files written here with libpng and
 * libjpeg: every PNG colour type and depth the loader converts, planar RGB, JPEG within the
 * codec's loss, corrupt and truncated files, limits, and folder layout (bytewise class order,
 * file order, skipped entries, paths) and its errors (mixed sizes or channels, empty class,
 * no classes, missing folder). */
#include <dirent.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "data/data.h"
#include "testutil.h"

static char tmp[128];

/* ---- writing test images ---- */

/* Write a PNG of w x h with rows packed in `rows` (rowbytes each). */
static void write_png(const char *path, int w, int h, int color, int depth, int interlace, const unsigned char *rows,
                      size_t rowbytes, const png_color *pal, int npal, const png_byte *trns, int ntrns) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_true(png && info);
    if (setjmp(png_jmpbuf(png))) fail_msg("libpng failed writing %s", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    if (trns) png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    if (depth == 16) png_set_swap(png); /* our 16-bit test rows are little-endian */
    png_bytep *rp = malloc((size_t)h * sizeof *rp);
    assert_non_null(rp);
    for (int y = 0; y < h; y++) rp[y] = (png_bytep)(rows + (size_t)y * rowbytes);
    png_write_image(png, rp);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rp);
    assert_int_equal(fclose(f), 0);
}

static void write_jpeg(const char *path, int w, int h, int comps, const unsigned char *px, int quality) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = comps;
    ci.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)ci.next_scanline * (size_t)w * (size_t)comps);
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    (void)fclose(f); /* read only */
    *len = (size_t)n;
    return p;
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void rm_rf(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        assert_non_null(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        closedir(d);
        assert_int_equal(rmdir(path), 0);
    } else {
        assert_int_equal(unlink(path), 0);
    }
}

static const char *at(char *buf, size_t size, const char *rel) {
    snprintf(buf, size, "%s/%s", tmp, rel);
    return buf;
}

static void mkdirs(const char *rel) {
    char p[512], part[1024];
    snprintf(p, sizeof p, "%s", rel);
    for (char *s = p; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        mkdir(at(part, sizeof part, p), 0700);
        *s = '/';
    }
    mkdir(at(part, sizeof part, p), 0700);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/svdd-test-folder-XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    rm_rf(tmp);
    return 0;
}

/* Decode a file written by the test; fails the test on error. */
static svdd_dataset *decode_file(const char *rel) {
    char p[512];
    size_t n;
    unsigned char *data = slurp(at(p, sizeof p, rel), &n);
    svdd_dataset *ds = NULL;
    svdd_error err;
    svdd_status st = svdd_dataset_decode_image(&ds, data, n, rel, NULL, &err);
    free(data);
    if (st != SVDD_OK) fail_msg("%s", err.message);
    return ds;
}

static svdd_status decode_expect(const char *rel, const svdd_load_limits *lim, svdd_status want, const char *needle) {
    char p[512];
    size_t n;
    unsigned char *data = slurp(at(p, sizeof p, rel), &n);
    svdd_dataset *ds = (svdd_dataset *)1;
    svdd_error err;
    svdd_status st = svdd_dataset_decode_image(&ds, data, n, rel, lim, &err);
    free(data);
    if (st != want) fail_msg("%s: status %s, expected %s: %s", rel, svdd_status_name(st), svdd_status_name(want),
                             err.message);
    if (st == SVDD_OK) {
        svdd_dataset_free(ds);
        return st;
    }
    assert_null(ds);
    assert_int_equal(err.status, want);
    if (!strstr(err.message, rel)) fail_msg("message '%s' does not name %s", err.message, rel);
    if (needle && !strstr(err.message, needle)) fail_msg("message '%s' lacks '%s'", err.message, needle);
    return st;
}

static void check_shape(const svdd_dataset *ds, int c, int h, int w) {
    int dc, dh, dw;
    svdd_dataset_shape(ds, &dc, &dh, &dw);
    if (dc != c || dh != h || dw != w) fail_msg("shape %dx%dx%d, expected %dx%dx%d", dc, dh, dw, c, h, w);
}

/* ---- decoding ---- */

static void test_png_variants(void **state) {
    (void)state;
    char p[512];
    enum { W = 5, H = 3 };
    unsigned char grey[W * H], rgb[W * H * 3], rgba[W * H * 4], ga[W * H * 2], g16[W * H * 2], idx[W * H];
    for (int i = 0; i < W * H; i++) {
        grey[i] = (unsigned char)(i * 17);
        for (int k = 0; k < 3; k++) rgb[i * 3 + k] = (unsigned char)(i * 5 + k * 80);
        for (int k = 0; k < 3; k++) rgba[i * 4 + k] = rgb[i * 3 + k];
        rgba[i * 4 + 3] = (unsigned char)(i * 13); /* alpha is dropped, not composited */
        ga[i * 2] = grey[i], ga[i * 2 + 1] = (unsigned char)(255 - i);
        unsigned v = (unsigned)i * 4000u + 129u;
        g16[i * 2] = (unsigned char)(v & 255), g16[i * 2 + 1] = (unsigned char)(v >> 8);
        idx[i] = (unsigned char)(i % 3);
    }
    write_png(at(p, sizeof p, "grey.png"), W, H, PNG_COLOR_TYPE_GRAY, 8, 0, grey, W, NULL, 0, NULL, 0);
    write_png(at(p, sizeof p, "rgb.png"), W, H, PNG_COLOR_TYPE_RGB, 8, 0, rgb, W * 3, NULL, 0, NULL, 0);
    write_png(at(p, sizeof p, "rgba.png"), W, H, PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, rgba, W * 4, NULL, 0, NULL, 0);
    write_png(at(p, sizeof p, "ga.png"), W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, ga, W * 2, NULL, 0, NULL, 0);
    write_png(at(p, sizeof p, "g16.png"), W, H, PNG_COLOR_TYPE_GRAY, 16, 0, g16, W * 2, NULL, 0, NULL, 0);
    write_png(at(p, sizeof p, "adam7.png"), W, H, PNG_COLOR_TYPE_RGB, 8, 1, rgb, W * 3, NULL, 0, NULL, 0);
    const png_color pal[3] = {{10, 20, 30}, {200, 100, 0}, {1, 2, 3}};
    const png_byte trns[3] = {255, 0, 128};
    write_png(at(p, sizeof p, "pal.png"), W, H, PNG_COLOR_TYPE_PALETTE, 8, 0, idx, W, pal, 3, trns, 3);
    /* 1-bit grey: pixels alternate 0 and 1, packed 8 per byte, expanded to 0 and 255 */
    unsigned char bits[H] = {0xA8, 0x50, 0xF8};
    write_png(at(p, sizeof p, "bits.png"), W, H, PNG_COLOR_TYPE_GRAY, 1, 0, bits, 1, NULL, 0, NULL, 0);

    svdd_dataset *ds = decode_file("grey.png");
    check_shape(ds, 1, H, W);
    assert_memory_equal(svdd_dataset_pixels(ds), grey, W * H);
    assert_int_equal(svdd_dataset_count(ds), 1);
    assert_int_equal(svdd_dataset_labels(ds)[0], 0);
    svdd_dataset_free(ds);

    const char *colour[] = {"rgb.png", "rgba.png", "adam7.png"};
    for (int f = 0; f < 3; f++) {
        ds = decode_file(colour[f]);
        check_shape(ds, 3, H, W);
        /* planar: the whole R plane, then G, then B */
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < W * H; i++) assert_int_equal(svdd_dataset_pixels(ds)[k * W * H + i], rgb[i * 3 + k]);
        svdd_dataset_free(ds);
    }
    ds = decode_file("ga.png");
    check_shape(ds, 1, H, W);
    assert_memory_equal(svdd_dataset_pixels(ds), grey, W * H);
    svdd_dataset_free(ds);
    ds = decode_file("g16.png");
    check_shape(ds, 1, H, W);
    for (int i = 0; i < W * H; i++) {
        unsigned v = (unsigned)i * 4000u + 129u, want = (v * 255u + 32767u) / 65535u;
        assert_int_equal(svdd_dataset_pixels(ds)[i], want);
    }
    svdd_dataset_free(ds);
    ds = decode_file("pal.png");
    check_shape(ds, 3, H, W);
    for (int i = 0; i < W * H; i++) {
        const png_color *c = &pal[i % 3];
        const uint8_t *px = svdd_dataset_pixels(ds);
        assert_true(px[i] == c->red && px[W * H + i] == c->green && px[2 * W * H + i] == c->blue);
    }
    svdd_dataset_free(ds);
    ds = decode_file("bits.png");
    check_shape(ds, 1, H, W);
    const uint8_t want_bits[W * H] = {255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 255, 255, 255, 255};
    assert_memory_equal(svdd_dataset_pixels(ds), want_bits, W * H);
    svdd_dataset_free(ds);
}

static void test_jpeg(void **state) {
    (void)state;
    char p[512];
    enum { W = 24, H = 16 };
    unsigned char grey[W * H], rgb[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            grey[y * W + x] = (unsigned char)(40 + 6 * x + 3 * y);
            rgb[(y * W + x) * 3 + 0] = (unsigned char)(30 + 5 * x);
            rgb[(y * W + x) * 3 + 1] = (unsigned char)(200 - 4 * y);
            rgb[(y * W + x) * 3 + 2] = (unsigned char)(90 + 2 * x + 2 * y);
        }
    write_jpeg(at(p, sizeof p, "grey.jpg"), W, H, 1, grey, 98);
    write_jpeg(at(p, sizeof p, "rgb.jpeg"), W, H, 3, rgb, 98);
    svdd_dataset *ds = decode_file("grey.jpg");
    check_shape(ds, 1, H, W);
    for (int i = 0; i < W * H; i++) assert_true(abs((int)svdd_dataset_pixels(ds)[i] - grey[i]) <= 4);
    svdd_dataset_free(ds);
    ds = decode_file("rgb.jpeg");
    check_shape(ds, 3, H, W);
    double sum = 0;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < W * H; i++) {
            int d = abs((int)svdd_dataset_pixels(ds)[k * W * H + i] - rgb[i * 3 + k]);
            assert_true(d <= 12);
            sum += d;
        }
    assert_true(sum / (3 * W * H) < 2.5); /* planar order and colour conversion are right */
    svdd_dataset_free(ds);
}

static void test_decode_errors(void **state) {
    (void)state;
    char p[512];
    unsigned char img[16 * 16 * 3];
    for (int i = 0; i < 16 * 16 * 3; i++) img[i] = (unsigned char)(i * 7);
    write_png(at(p, sizeof p, "ok.png"), 16, 16, PNG_COLOR_TYPE_RGB, 8, 0, img, 48, NULL, 0, NULL, 0);
    write_jpeg(at(p, sizeof p, "ok.jpg"), 16, 16, 3, img, 90);
    size_t n, m;
    unsigned char *png = slurp(at(p, sizeof p, "ok.png"), &n);
    unsigned char *jpg = slurp(at(p, sizeof p, "ok.jpg"), &m);

    write_bytes(at(p, sizeof p, "cut.png"), png, n / 2);
    decode_expect("cut.png", NULL, SVDD_E_FORMAT, "corrupt PNG");
    /* a flipped byte inside the image data: the chunk CRC (or zlib) catches it */
    png[n - 30] ^= 0x55;
    write_bytes(at(p, sizeof p, "flipped.png"), png, n);
    decode_expect("flipped.png", NULL, SVDD_E_FORMAT, "corrupt PNG");
    png[n - 30] ^= 0x55;
    /* a PNG signature followed by rubbish */
    unsigned char sig_only[40] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 1, 2, 3};
    write_bytes(at(p, sizeof p, "sig.png"), sig_only, sizeof sig_only);
    decode_expect("sig.png", NULL, SVDD_E_FORMAT, "corrupt PNG");

    write_bytes(at(p, sizeof p, "cut.jpg"), jpg, m / 2);
    decode_expect("cut.jpg", NULL, SVDD_E_FORMAT, "corrupt JPEG");
    unsigned char soi_junk[64] = {0xff, 0xd8, 0xff, 0x00, 0x13, 0x37};
    write_bytes(at(p, sizeof p, "junk.jpg"), soi_junk, sizeof soi_junk);
    decode_expect("junk.jpg", NULL, SVDD_E_FORMAT, "corrupt JPEG");
    /* a JPEG whose header is fine but whose entropy-coded data is overwritten */
    memset(jpg + m / 2, 0xAB, m / 2 - 2);
    write_bytes(at(p, sizeof p, "garbled.jpg"), jpg, m);
    decode_expect("garbled.jpg", NULL, SVDD_E_FORMAT, "corrupt JPEG");

    write_bytes(at(p, sizeof p, "text.png"), "hello, world", 12);
    decode_expect("text.png", NULL, SVDD_E_FORMAT, "not a PNG or JPEG");
    write_bytes(at(p, sizeof p, "empty.jpg"), "", 0);
    decode_expect("empty.jpg", NULL, SVDD_E_FORMAT, "empty");

    /* limits are checked on the header, before the pixels are allocated */
    svdd_load_limits side = {0, 0, 15, {0, 0, 0, 0}};
    decode_expect("ok.png", &side, SVDD_E_LIMIT, "max_side");
    decode_expect("ok.jpg", &side, SVDD_E_LIMIT, "max_side");
    svdd_load_limits bytes = {0, 16 * 16 * 3 - 1, 0, {0, 0, 0, 0}};
    decode_expect("ok.png", &bytes, SVDD_E_LIMIT, "max_pixel_bytes");
    decode_expect("ok.jpg", &bytes, SVDD_E_LIMIT, "max_pixel_bytes");
    decode_expect("ok.png", NULL, SVDD_OK, NULL);
    decode_expect("ok.jpg", NULL, SVDD_OK, NULL);

    svdd_dataset *ds = NULL;
    svdd_error err;
    assert_int_equal(svdd_dataset_decode_image(&ds, NULL, 3, "x", NULL, &err), SVDD_E_INVALID);
    assert_int_equal(svdd_dataset_decode_image(NULL, png, n, "x", NULL, &err), SVDD_E_INVALID);
    free(png);
    free(jpg);
}

/* Random damage (flipped bytes, cut files) must give OK or an error status, never a crash, a
 * leak or a print (the sanitizer build runs this too). */
static void test_decode_mutations(void **state) {
    (void)state;
    char p[512];
    unsigned char img[20 * 12 * 3];
    for (int i = 0; i < 20 * 12 * 3; i++) img[i] = (unsigned char)((i * 37) ^ (i >> 3));
    write_png(at(p, sizeof p, "m.png"), 20, 12, PNG_COLOR_TYPE_RGB, 8, 1, img, 60, NULL, 0, NULL, 0);
    write_jpeg(at(p, sizeof p, "m.jpg"), 20, 12, 3, img, 80);
    const char *files[2] = {"m.png", "m.jpg"};
    svdd__rng r;
    svdd__rng_seed(&r, 77, 1);
    int failures = 0;
    for (int f = 0; f < 2; f++) {
        size_t n;
        unsigned char *orig = slurp(at(p, sizeof p, files[f]), &n);
        unsigned char *buf = malloc(n);
        assert_non_null(buf);
        for (int it = 0; it < 400; it++) {
            memcpy(buf, orig, n);
            size_t len = n;
            if (it % 4 == 0) {
                len = svdd__rng_below(&r, (uint32_t)n);
            } else {
                int flips = 1 + (int)svdd__rng_below(&r, 4);
                for (int k = 0; k < flips; k++)
                    buf[svdd__rng_below(&r, (uint32_t)n)] ^= (unsigned char)(1 + svdd__rng_below(&r, 255));
            }
            svdd_dataset *ds = NULL;
            svdd_error err;
            svdd_status st = svdd_dataset_decode_image(&ds, buf, len, files[f], NULL, &err);
            assert_int_equal(err.status, st);
            if (st == SVDD_OK) {
                assert_non_null(ds);
                svdd_dataset_free(ds);
            } else {
                assert_null(ds);
                assert_non_null(strstr(err.message, files[f]));
                failures++;
            }
        }
        free(buf);
        free(orig);
    }
    assert_true(failures > 100); /* most damage is detected */
}

/* ---- folders ---- */

/* A w x h grey PNG with all pixels v. */
static void grey_png(const char *rel, int w, int h, unsigned char v) {
    char p[512];
    unsigned char *px = malloc((size_t)w * h);
    assert_non_null(px);
    memset(px, v, (size_t)w * h);
    write_png(at(p, sizeof p, rel), w, h, PNG_COLOR_TYPE_GRAY, 8, 0, px, (size_t)w, NULL, 0, NULL, 0);
    free(px);
}

static void grey_jpg(const char *rel, int w, int h, unsigned char v) {
    char p[512];
    unsigned char *px = malloc((size_t)w * h);
    assert_non_null(px);
    memset(px, v, (size_t)w * h);
    write_jpeg(at(p, sizeof p, rel), w, h, 1, px, 95);
    free(px);
}

static svdd_status load_expect(const char *root_rel, const char *split, const svdd_load_limits *lim,
                               svdd_status want, const char *needle1, const char *needle2) {
    char root[512];
    svdd_dataset *ds = (svdd_dataset *)1;
    svdd_error err;
    svdd_status st = svdd_dataset_load_folder(&ds, at(root, sizeof root, root_rel), split, lim, &err);
    if (st != want) fail_msg("%s: status %s, expected %s: %s", root_rel, svdd_status_name(st),
                             svdd_status_name(want), err.message);
    assert_null(ds);
    assert_int_equal(err.status, want);
    if (needle1 && !strstr(err.message, needle1)) fail_msg("message '%s' lacks '%s'", err.message, needle1);
    if (needle2 && !strstr(err.message, needle2)) fail_msg("message '%s' lacks '%s'", err.message, needle2);
    return st;
}

static void test_folder_layout(void **state) {
    (void)state;
    char p[512];
    /* bytewise order: "B" < "a" < "b"; hidden folders and plain files at class level skipped */
    mkdirs("lay/train/b");
    mkdirs("lay/train/a/sub.png"); /* a folder with an image name is not an image */
    mkdirs("lay/train/B");
    mkdirs("lay/train/.git");
    write_bytes(at(p, sizeof p, "lay/train/README.txt"), "x", 1);
    grey_png("lay/train/.git/x.png", 6, 4, 1);
    grey_png("lay/train/a/10.png", 6, 4, 10);
    grey_png("lay/train/a/2.PNG", 6, 4, 2);
    grey_jpg("lay/train/a/1.jpg", 6, 4, 100);
    grey_png("lay/train/a/.hidden.png", 6, 4, 99);
    write_bytes(at(p, sizeof p, "lay/train/a/notes.txt"), "not an image", 12);
    grey_png("lay/train/b/z.png", 6, 4, 200);
    grey_jpg("lay/train/B/x.JPEG", 6, 4, 50);
    grey_png("lay/train/B/y.Png", 6, 4, 60);

    char root[512];
    at(root, sizeof root, "lay");
    svdd_dataset *ds = NULL;
    svdd_error err;
    if (svdd_dataset_load_folder(&ds, root, "train", NULL, &err) != SVDD_OK) fail_msg("%s", err.message);
    assert_int_equal(svdd_dataset_count(ds), 6);
    check_shape(ds, 1, 4, 6);
    assert_int_equal(svdd_dataset_num_classes(ds), 3);
    assert_string_equal(svdd_dataset_class_name(ds, 0), "B");
    assert_string_equal(svdd_dataset_class_name(ds, 1), "a");
    assert_string_equal(svdd_dataset_class_name(ds, 2), "b");
    const char *files[6] = {"B/x.JPEG", "B/y.Png", "a/1.jpg", "a/10.png", "a/2.PNG", "b/z.png"};
    const int labels[6] = {0, 0, 1, 1, 1, 2};
    const int values[6] = {50, 60, 100, 10, 2, 200};
    for (size_t i = 0; i < 6; i++) {
        char want[600];
        snprintf(want, sizeof want, "%s/train/%s", root, files[i]);
        assert_string_equal(svdd_dataset_path(ds, i), want);
        assert_int_equal(svdd_dataset_labels(ds)[i], labels[i]);
        for (int k = 0; k < 24; k++) {
            int d = abs((int)svdd_dataset_pixels(ds)[i * 24 + (size_t)k] - values[i]);
            assert_true(d <= 1); /* JPEG of a flat grey is exact or off by one */
        }
    }
    assert_null(svdd_dataset_path(ds, 6));
    svdd_dataset_free(ds);

    /* no split: ROOT/CLASS directly; NULL and "" alike */
    at(root, sizeof root, "lay/train");
    assert_int_equal(svdd_dataset_load_folder(&ds, root, NULL, NULL, &err), SVDD_OK);
    assert_int_equal(svdd_dataset_count(ds), 6);
    svdd_dataset_free(ds);
    assert_int_equal(svdd_dataset_load_folder(&ds, root, "", NULL, &err), SVDD_OK);
    assert_string_equal(svdd_dataset_class_name(ds, 2), "b");
    svdd_dataset_free(ds);

    /* an RGB folder */
    unsigned char rgb[3 * 2 * 3];
    for (int i = 0; i < 18; i++) rgb[i] = (unsigned char)(i * 11);
    mkdirs("col/x");
    write_png(at(p, sizeof p, "col/x/a.png"), 3, 2, PNG_COLOR_TYPE_RGB, 8, 0, rgb, 9, NULL, 0, NULL, 0);
    assert_int_equal(svdd_dataset_load_folder(&ds, at(root, sizeof root, "col"), NULL, NULL, &err), SVDD_OK);
    check_shape(ds, 3, 2, 3);
    assert_int_equal(svdd_dataset_pixels(ds)[6 + 1], rgb[1 * 3 + 1]); /* G plane, pixel 1 */
    svdd_dataset_free(ds);
}

static void test_folder_errors(void **state) {
    (void)state;
    char p[512];
    mkdirs("mixed/a");
    mkdirs("mixed/b");
    grey_png("mixed/a/1.png", 6, 4, 1);
    grey_png("mixed/b/1.png", 4, 6, 1);
    load_expect("mixed", NULL, NULL, SVDD_E_FORMAT, "mixed/b/1.png: image is 1x6x4", "mixed/a/1.png");
    /* keeping only a class that has no folder here (label 5 of two): an error, not a crash */
    svdd_load_limits only5 = {0, 0, 0, {(uint64_t)1 << 5, 0, 0, 0}};
    load_expect("mixed", NULL, &only5, SVDD_E_INVALID, "none of the classes to keep", NULL);

    mkdirs("chan/a");
    grey_png("chan/a/1.png", 4, 4, 1);
    unsigned char rgb[48] = {0};
    write_png(at(p, sizeof p, "chan/a/2.png"), 4, 4, PNG_COLOR_TYPE_RGB, 8, 0, rgb, 12, NULL, 0, NULL, 0);
    load_expect("chan", NULL, NULL, SVDD_E_FORMAT, "chan/a/2.png: image is 3x4x4", "chan/a/1.png");

    mkdirs("hollow/train/full");
    mkdirs("hollow/train/void");
    grey_png("hollow/train/full/1.png", 4, 4, 1);
    write_bytes(at(p, sizeof p, "hollow/train/void/readme.md"), "x", 1);
    load_expect("hollow", "train", NULL, SVDD_E_FORMAT, "hollow/train/void", "no .png");

    mkdirs("flat/train");
    grey_png("flat/train/1.png", 4, 4, 1);
    load_expect("flat", "train", NULL, SVDD_E_FORMAT, "flat/train: no class folders", NULL);
    mkdirs("nothing");
    load_expect("nothing", NULL, NULL, SVDD_E_FORMAT, "nothing: no class folders", NULL);

    load_expect("absent", "train", NULL, SVDD_E_IO, "absent/train", NULL);
    load_expect("flat", "test", NULL, SVDD_E_IO, "flat/test", NULL);

    mkdirs("broken/a");
    grey_png("broken/a/1.png", 4, 4, 1);
    write_bytes(at(p, sizeof p, "broken/a/2.jpg"), "\xff\xd8\xff\xe0garbage", 11);
    load_expect("broken", NULL, NULL, SVDD_E_FORMAT, "broken/a/2.jpg: corrupt JPEG", NULL);

    mkdirs("many/a");
    mkdirs("many/b");
    grey_png("many/a/1.png", 4, 4, 1);
    grey_png("many/a/2.png", 4, 4, 1);
    grey_png("many/b/1.png", 4, 4, 1);
    svdd_load_limits lim = {2, 0, 0, {0, 0, 0, 0}};
    load_expect("many", NULL, &lim, SVDD_E_LIMIT, "max_images", NULL);
    svdd_load_limits side = {0, 0, 3, {0, 0, 0, 0}};
    load_expect("many", NULL, &side, SVDD_E_LIMIT, "many/a/1.png", "max_side");
    svdd_load_limits bytes = {0, 40, 0, {0, 0, 0, 0}};
    load_expect("many", NULL, &bytes, SVDD_E_LIMIT, "max_pixel_bytes", NULL);

    svdd_dataset *ds = NULL;
    svdd_error err;
    assert_int_equal(svdd_dataset_load_folder(&ds, NULL, NULL, NULL, &err), SVDD_E_INVALID);
    assert_int_equal(svdd_dataset_load_folder(NULL, "x", NULL, NULL, &err), SVDD_E_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_variants),  cmocka_unit_test(test_jpeg),
        cmocka_unit_test(test_decode_errors), cmocka_unit_test(test_decode_mutations),
        cmocka_unit_test(test_folder_layout),
        cmocka_unit_test(test_folder_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
