/* Image folders (ROOT/SPLIT/CLASS/\*.png|jpg|jpeg) and single PNG/JPEG images from memory.
 *
 * Layout: the classes are the subfolders of ROOT/SPLIT, sorted bytewise (strcmp), which gives
 * the label order (as torchvision's ImageFolder does); within a class the files are sorted by
 * name. Names starting with '.' are skipped, and so are files with other extensions. Every
 * image must have the size and channel count of the first one.
 *
 * Decoding: PNG through libpng's classic API (palette and low bit depths expanded, 16-bit
 * scaled to 8, alpha dropped), JPEG through libjpeg(-turbo) (grey stays grey, YCbCr/RGB become
 * RGB). The codecs report errors by longjmp into the decoder, which returns a status; their
 * warnings never print. The format is detected from the bytes, not the extension.
 * Decoders write interleaved rows (HWC) into a reusable scratch buffer; the data set stores
 * planar NCHW, so each image is transposed into its slot. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "data.h"

/* ---- decoding ------------------------------------------------------------------------------ */

struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
};

/* State shared by the decoders. It lives in the caller's frame (not in the function that calls
 * setjmp), so that what the codecs change before a longjmp keeps its value afterwards. */
typedef struct img_decoder {
    unsigned char *buf; /* interleaved pixels of the last image (h * w * c) */
    size_t cap;
    int c, h, w;
    const unsigned char *src; /* libpng's memory source */
    size_t src_len, src_pos;
    /* NOLINTNEXTLINE(bugprone-branch-clone): equal only where libjpeg's JMSG_LENGTH_MAX is 200 */
    char msg[JMSG_LENGTH_MAX > 200 ? JMSG_LENGTH_MAX : 200]; /* the codec's last error */
    struct jpeg_decompress_struct jpg;
    struct jpeg_err jerr;
} img_decoder;

/* Make room for h*w*c bytes (checked by the caller against the limits). */
static int ensure_buf(img_decoder *dec, size_t bytes) {
    if (bytes <= dec->cap) return 1;
    size_t cap = dec->cap ? dec->cap : 4096;
    while (cap < bytes) cap = cap > SIZE_MAX / 2 ? bytes : cap * 2;
    unsigned char *p = realloc(dec->buf, cap);
    if (!p) return 0;
    dec->buf = p;
    dec->cap = cap;
    return 1;
}

/* The decoded size must fit the limits before the scratch buffer grows to hold it. */
static svdd_status check_dims(uint64_t w, uint64_t h, int c, const svdd_load_limits *lim, const char *name,
                              svdd_error *err) {
    if (w == 0 || h == 0) return svdd__fail(err, SVDD_E_FORMAT, "%s: image has a zero size (%llux%llu)",
                                            name, (unsigned long long)w, (unsigned long long)h);
    if (w > lim->max_side || h > lim->max_side)
        return svdd__fail(err, SVDD_E_LIMIT, "%s: image is %llux%llu, more than the limit of %u pixels per "
                          "side (raise max_side, or resize the images)",
                          name, (unsigned long long)w, (unsigned long long)h, (unsigned)lim->max_side);
    if (w * h * (uint64_t)c > lim->max_pixel_bytes) /* w, h < 2^32 and c <= 4: no overflow */
        return svdd__fail(err, SVDD_E_LIMIT, "%s: image of %llux%llux%d exceeds the limit of %llu pixel "
                          "bytes (raise max_pixel_bytes)",
                          name, (unsigned long long)w, (unsigned long long)h, c,
                          (unsigned long long)lim->max_pixel_bytes);
    return SVDD_OK;
}

static void png_error_cb(png_structp png, png_const_charp msg) {
    img_decoder *dec = png_get_error_ptr(png);
    snprintf(dec->msg, sizeof dec->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* libpng warns about recoverable problems (a bad CRC in an ancillary chunk, say); the library
 * never prints, and the image is still usable, so they are dropped. */
static void png_warning_cb(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void png_read_cb(png_structp png, png_bytep out, size_t n) {
    img_decoder *dec = png_get_io_ptr(png);
    if (n > dec->src_len - dec->src_pos) png_error(png, "unexpected end of data (truncated file)");
    memcpy(out, dec->src + dec->src_pos, n);
    dec->src_pos += n;
}

/* Whether every chunk up to IEND lies inside the file. libpng allocates some chunks' announced
 * length before reading them (sPLT in libpng 1.6.39, ignoring png_set_chunk_malloc_max): a
 * 146-byte file announcing a 1.9 GB sPLT made it allocate that much (found by fuzz_image). A
 * chunk that runs past the end is the truncation libpng would report once it read that far. */
static int png_chunks_inside(const unsigned char *d, size_t len) {
    for (size_t p = 8; p + 8 <= len;) {
        const uint32_t n = (uint32_t)d[p] << 24 | (uint32_t)d[p + 1] << 16 | (uint32_t)d[p + 2] << 8 | d[p + 3];
        if (n > len - p - 8 || len - p - 8 - n < 4) return 0; /* data, then a 4-byte CRC */
        if (memcmp(d + p + 4, "IEND", 4) == 0) return 1;
        p += (size_t)n + 12;
    }
    return 1; /* a file that ends between chunks: libpng reports it */
}

static svdd_status decode_png(img_decoder *dec, const unsigned char *data, size_t len, const char *name,
                              const svdd_load_limits *lim, svdd_error *err) {
    if (!png_chunks_inside(data, len))
        return svdd__fail(err, SVDD_E_FORMAT,
                          "%s: corrupt PNG: unexpected end of data (truncated file); replace or remove the file", name);
    dec->src = data;
    dec->src_len = len;
    dec->src_pos = 0;
    dec->msg[0] = '\0';
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, dec, png_error_cb, png_warning_cb);
    if (!png) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory starting libpng", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory starting libpng", name);
    }
    /* png and info are not changed between here and any longjmp. */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return svdd__fail(err, SVDD_E_FORMAT, "%s: corrupt PNG: %s; replace or remove the file", name, dec->msg);
    }
    png_set_read_fn(png, dec, png_read_cb);
    /* Our own limits decide, with SVDD_E_LIMIT, rather than libpng's built-in 1,000,000. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    /* What a compressed ancillary chunk (iCCP, zTXt, iTXt) may decompress to: libpng's own safe
     * default (8 MB), or the file's size when larger; such chunks beyond it are skipped with a
     * warning. */
    png_set_chunk_malloc_max(png, len > 8000000 ? len : 8000000);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int color = png_get_color_type(png, info);
    int c = (color & PNG_COLOR_MASK_COLOR) ? 3 : 1;
    svdd_status st = check_dims(w, h, c, lim, name, err);
    if (st != SVDD_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return st;
    }
    png_set_expand(png);        /* palette -> RGB, grey 1/2/4 -> 8 bits, tRNS -> alpha */
    png_set_scale_16(png);      /* 16 -> 8 bits, rounded */
    png_set_strip_alpha(png);   /* dropped, not composited: the colour channels are kept as stored */
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (channels != c || rowbytes != (size_t)w * (size_t)c) {
        png_destroy_read_struct(&png, &info, NULL);
        return svdd__fail(err, SVDD_E_UNSUPPORTED, "%s: unexpected PNG layout after conversion "
                          "(%d channels, %zu bytes per row)", name, channels, rowbytes);
    }
    if (!ensure_buf(dec, rowbytes * h)) {
        png_destroy_read_struct(&png, &info, NULL);
        return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory decoding %ux%u", name, (unsigned)w,
                          (unsigned)h);
    }
    /* Interlaced images are read pass by pass into the same rows, as png_read_image does. */
    for (int p = 0; p < passes; p++)
        for (png_uint_32 y = 0; y < h; y++) png_read_row(png, dec->buf + (size_t)y * rowbytes, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    dec->c = c;
    dec->h = (int)h;
    dec->w = (int)w;
    return SVDD_OK;
}

static void jpeg_error_exit_cb(j_common_ptr cinfo) {
    struct jpeg_err *je = (struct jpeg_err *)cinfo->err;
    img_decoder *dec = cinfo->client_data;
    cinfo->err->format_message(cinfo, dec->msg);
    longjmp(je->jb, 1);
}

/* Warnings (level -1) mean corrupt data that libjpeg would paper over (a truncated file comes
 * out grey at the bottom): for training data that is an error. Trace messages are ignored. */
static void jpeg_emit_cb(j_common_ptr cinfo, int level) {
    if (level < 0) jpeg_error_exit_cb(cinfo);
}

static void jpeg_output_cb(j_common_ptr cinfo) { (void)cinfo; }

static svdd_status decode_jpeg(img_decoder *dec, const unsigned char *data, size_t len, const char *name,
                               const svdd_load_limits *lim, svdd_error *err) {
    struct jpeg_decompress_struct *ci = &dec->jpg;
    dec->msg[0] = '\0';
    ci->err = jpeg_std_error(&dec->jerr.pub);
    dec->jerr.pub.error_exit = jpeg_error_exit_cb;
    dec->jerr.pub.emit_message = jpeg_emit_cb;
    dec->jerr.pub.output_message = jpeg_output_cb;
    /* jpeg_create_decompress clears the struct but keeps err; client_data is set after it. */
    ci->client_data = dec;
    if (setjmp(dec->jerr.jb)) {
        jpeg_destroy_decompress(ci);
        return svdd__fail(err, SVDD_E_FORMAT, "%s: corrupt JPEG: %s; replace or remove the file", name, dec->msg);
    }
    jpeg_create_decompress(ci);
    ci->client_data = dec;
    jpeg_mem_src(ci, data, (unsigned long)len);
    jpeg_read_header(ci, TRUE);
    int c;
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE: c = 1, ci->out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr:
    case JCS_RGB: c = 3, ci->out_color_space = JCS_RGB; break;
    default:
        jpeg_destroy_decompress(ci);
        return svdd__fail(err, SVDD_E_UNSUPPORTED, "%s: JPEG colour space %d (CMYK?) is not supported; "
                          "convert the image to RGB or greyscale",
                          name, (int)ci->jpeg_color_space);
    }
    svdd_status st = check_dims(ci->image_width, ci->image_height, c, lim, name, err);
    if (st != SVDD_OK) {
        jpeg_destroy_decompress(ci);
        return st;
    }
    jpeg_start_decompress(ci);
    size_t w = ci->output_width, h = ci->output_height, row = w * (size_t)c;
    if (ci->output_components != c || !ensure_buf(dec, row * h)) {
        int oc = ci->output_components;
        jpeg_destroy_decompress(ci);
        return oc != c ? svdd__fail(err, SVDD_E_UNSUPPORTED, "%s: JPEG decodes to %d channels", name, oc)
                       : svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory decoding %zux%zu", name, w, h);
    }
    while (ci->output_scanline < ci->output_height) {
        JSAMPROW r = dec->buf + (size_t)ci->output_scanline * row;
        jpeg_read_scanlines(ci, &r, 1);
    }
    jpeg_finish_decompress(ci);
    jpeg_destroy_decompress(ci);
    dec->c = c;
    dec->h = (int)h;
    dec->w = (int)w;
    return SVDD_OK;
}

static svdd_status decode(img_decoder *dec, const unsigned char *data, size_t len, const char *name,
                          const svdd_load_limits *lim, svdd_error *err) {
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= 8 && memcmp(data, png_sig, 8) == 0) return decode_png(dec, data, len, name, lim, err);
    if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return decode_jpeg(dec, data, len, name, lim, err);
    if (len == 0)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: empty file, not a PNG or JPEG image; replace or remove the file", name);
    return svdd__fail(err, SVDD_E_FORMAT,
                      "%s: not a PNG or JPEG image (it starts with bytes %02x %02x %02x); only PNG and JPEG are read",
                      name, data[0], len > 1 ? data[1] : 0, len > 2 ? data[2] : 0);
}

/* Interleaved HWC rows -> planar CHW. */
static void to_planar(uint8_t *dst, const unsigned char *src, int c, int h, int w) {
    size_t hw = (size_t)h * (size_t)w;
    if (c == 1) {
        memcpy(dst, src, hw);
        return;
    }
    for (size_t i = 0; i < hw; i++)
        for (int k = 0; k < c; k++) dst[(size_t)k * hw + i] = src[i * (size_t)c + (size_t)k];
}

svdd_status svdd_dataset_decode_image(svdd_dataset **out, const void *data, size_t len, const char *name,
                                      const svdd_load_limits *limits, svdd_error *err) {
    if (!out) return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_decode_image: out is NULL");
    *out = NULL;
    if (!name) name = "image";
    if (!data && len) return svdd__fail(err, SVDD_E_INVALID, "%s: NULL buffer with a nonzero length", name);
    svdd_load_limits lim = svdd__limits_resolve(limits);
    img_decoder *dec = calloc(1, sizeof *dec);
    if (!dec) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", name);
    svdd_status st = decode(dec, data, len, name, &lim, err);
    svdd_dataset *ds = NULL;
    if (st == SVDD_OK) st = svdd__dataset_alloc(&ds, 1, dec->c, dec->h, dec->w, &lim, name, err);
    if (st == SVDD_OK) {
        to_planar(ds->pixels, dec->buf, dec->c, dec->h, dec->w);
        ds->labels[0] = 0;
        ds->n_classes = 1;
        *out = ds;
        svdd__ok(err);
    }
    free(dec->buf);
    free(dec);
    return st;
}

/* ---- folders ------------------------------------------------------------------------------- */

typedef struct strvec {
    char **v;
    size_t n, cap;
} strvec;

/* Append s (taking ownership; freed on failure). */
static int strvec_push(strvec *sv, char *s) {
    if (!s) return 0;
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 64;
        char **v = realloc(sv->v, cap * sizeof *v);
        if (!v) {
            free(s);
            return 0;
        }
        sv->v = v;
        sv->cap = cap;
    }
    sv->v[sv->n++] = s;
    return 1;
}

static void strvec_free(strvec *sv) {
    for (size_t i = 0; i < sv->n; i++) free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = sv->cap = 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *path_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    int slash = la > 0 && a[la - 1] != '/';
    size_t n = la + (size_t)slash + lb + 1;
    char *p = malloc(n);
    if (!p) return NULL;
    snprintf(p, n, "%s%s%s", a, slash ? "/" : "", b);
    return p;
}

static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    static const char *const exts[] = {".png", ".jpg", ".jpeg"};
    for (size_t e = 0; e < sizeof exts / sizeof exts[0]; e++) {
        size_t n = strlen(exts[e]);
        if (strlen(dot) != n) continue;
        size_t i = 0;
        while (i < n && tolower((unsigned char)dot[i]) == exts[e][i]) i++;
        if (i == n) return 1;
    }
    return 0;
}

/* The entries of `dir` (no hidden ones) that are directories (want_dirs) or regular image files,
 * sorted bytewise, as bare names. */
static svdd_status list_dir(const char *dir, int want_dirs, strvec *names, svdd_error *err) {
    DIR *d = opendir(dir);
    if (!d) return svdd__fail(err, SVDD_E_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    svdd_status st = SVDD_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) st = svdd__fail(err, SVDD_E_IO, "%s: cannot read folder: %s", dir, strerror(errno));
            break;
        }
        if (e->d_name[0] == '.') continue;
        if (!want_dirs && !has_image_ext(e->d_name)) continue;
        char *full = path_join(dir, e->d_name);
        struct stat sb;
        if (!full) {
            st = svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory listing the folder", dir);
            break;
        }
        /* stat follows symbolic links, so linked class folders and images count. */
        int ok = stat(full, &sb) == 0 && (want_dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode));
        free(full);
        if (ok && !strvec_push(names, svdd__strdup(e->d_name))) {
            st = svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory listing the folder", dir);
            break;
        }
    }
    closedir(d);
    if (st == SVDD_OK && names->n > 1) qsort(names->v, names->n, sizeof *names->v, cmp_str);
    return st;
}

/* Read a whole file into a buffer reused across files (grown geometrically): one open, fstat,
 * read and close per image keeps 60,000 small files fast. */
static svdd_status read_into(const char *path, size_t max_len, unsigned char **buf, size_t *cap,
                             size_t *len, svdd_error *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return svdd__fail(err, SVDD_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return svdd__fail(err, SVDD_E_IO, "%s: not a regular file", path);
    }
    if ((uintmax_t)sb.st_size > max_len) {
        close(fd);
        return svdd__fail(err, SVDD_E_LIMIT, "%s: file is %jd bytes, more than the limit of %zu", path,
                          (intmax_t)sb.st_size, max_len);
    }
    size_t want = (size_t)sb.st_size;
    if (want > *cap || !*buf) {
        size_t c = *cap ? *cap : 65536;
        while (c < want) c = c > SIZE_MAX / 2 ? want : c * 2;
        unsigned char *p = realloc(*buf, c);
        if (!p) {
            close(fd);
            return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory reading %zu bytes", path, want);
        }
        *buf = p;
        *cap = c;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t r = read(fd, *buf + got, want - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            return svdd__fail(err, SVDD_E_IO, "%s: read %zu of %zu bytes%s%s", path, got, want,
                              r < 0 ? ": " : "", r < 0 ? strerror(e) : "");
        }
        got += (size_t)r;
    }
    close(fd);
    *len = want;
    return SVDD_OK;
}

svdd_status svdd_dataset_load_folder(svdd_dataset **out, const char *root, const char *split,
                                     const svdd_load_limits *limits, svdd_error *err) {
    if (!out) return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_load_folder: out is NULL");
    *out = NULL;
    if (!root || !*root) return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_load_folder: root is empty");
    svdd_load_limits lim = svdd__limits_resolve(limits);
    size_t max_file = lim.max_pixel_bytes > SIZE_MAX - (1u << 20) ? SIZE_MAX
                                                                  : (size_t)lim.max_pixel_bytes + (1u << 20);
    strvec classes = {0}, paths = {0}, files = {0};
    int32_t *labels = NULL;
    size_t labels_cap = 0;
    img_decoder *dec = NULL;
    unsigned char *fbuf = NULL;
    size_t fcap = 0, flen = 0;
    svdd_dataset *ds = NULL;
    svdd_status st = SVDD_OK;
    char *base = split && *split ? path_join(root, split) : svdd__strdup(root);
    if (!base) {
        st = svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", root);
        goto done;
    }

    st = list_dir(base, 1, &classes, err);
    if (st != SVDD_OK) goto done;
    if (classes.n == 0) {
        st = svdd__fail(err, SVDD_E_FORMAT, "%s: no class folders; an image folder data set is laid out as "
                        "%s/CLASS/NAME.png (or .jpg)", base, base);
        goto done;
    }
    if (classes.n > INT32_MAX) {
        st = svdd__fail(err, SVDD_E_LIMIT, "%s: too many class folders", base);
        goto done;
    }
    for (size_t k = 0; k < classes.n; k++) {
        char *cdir = path_join(base, classes.v[k]);
        if (!cdir) {
            st = svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", base);
            goto done;
        }
        st = list_dir(cdir, 0, &files, err);
        if (st == SVDD_OK && files.n == 0)
            st = svdd__fail(err, SVDD_E_FORMAT, "%s: class folder has no .png, .jpg or .jpeg images; "
                            "remove it or add its images", cdir);
        if (st == SVDD_OK && (uint64_t)(paths.n + files.n) > lim.max_images)
            st = svdd__fail(err, SVDD_E_LIMIT, "%s: more than the limit of %llu images (raise max_images)",
                            base, (unsigned long long)lim.max_images);
        if (st == SVDD_OK && paths.n + files.n > labels_cap) {
            size_t cap = labels_cap ? labels_cap : 1024;
            while (cap < paths.n + files.n) cap *= 2;
            int32_t *l = realloc(labels, cap * sizeof *l);
            if (!l) st = svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory listing images", base);
            else labels = l, labels_cap = cap;
        }
        /* images of classes the caller does not keep are never decoded */
        for (size_t i = 0; st == SVDD_OK && svdd__keeps(&lim, (int)k) && i < files.n; i++) {
            labels[paths.n] = (int32_t)k;
            if (!strvec_push(&paths, path_join(cdir, files.v[i])))
                st = svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory listing images", base);
        }
        free(cdir);
        strvec_free(&files);
        if (st != SVDD_OK) goto done;
    }
    if (paths.n == 0) {
        /* keep_labels named no class present here: there is no image to take the shape from
         * (this used to dereference the data set that was never allocated) */
        st = svdd__fail(err, SVDD_E_INVALID, "%s: none of the classes to keep has a class folder here", base);
        goto done;
    }

    dec = calloc(1, sizeof *dec);
    if (!dec) {
        st = svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", base);
        goto done;
    }
    size_t D = 0;
    for (size_t i = 0; i < paths.n; i++) {
        const char *p = paths.v[i];
        st = read_into(p, max_file, &fbuf, &fcap, &flen, err);
        if (st == SVDD_OK) st = decode(dec, fbuf, flen, p, &lim, err);
        if (st != SVDD_OK) goto done;
        if (i == 0) {
            /* The first image fixes the shape, so the pixels are allocated once for all. */
            st = svdd__dataset_alloc(&ds, paths.n, dec->c, dec->h, dec->w, &lim, base, err);
            if (st != SVDD_OK) goto done;
            D = svdd_dataset_image_size(ds);
        } else if (dec->c != ds->c || dec->h != ds->h || dec->w != ds->w) {
            st = svdd__fail(err, SVDD_E_FORMAT, "%s: image is %dx%dx%d (channels x rows x columns) but the "
                            "first image, %s, is %dx%dx%d; all images must have the same size and channel "
                            "count (resize or convert them, e.g. grey to RGB)",
                            p, dec->c, dec->h, dec->w, paths.v[0], ds->c, ds->h, ds->w);
            goto done;
        }
        to_planar(ds->pixels + i * D, dec->buf, dec->c, dec->h, dec->w);
        ds->labels[i] = labels[i];
    }
    /* Hand the lists over to the data set. */
    ds->class_names = classes.v;
    ds->n_classes = (int)classes.n;
    classes.v = NULL, classes.n = classes.cap = 0;
    ds->paths = paths.v;
    paths.v = NULL, paths.n = paths.cap = 0;
    *out = ds;
    ds = NULL;
    svdd__ok(err);
done:
    svdd_dataset_free(ds);
    strvec_free(&classes);
    strvec_free(&paths);
    strvec_free(&files);
    free(labels);
    if (dec) free(dec->buf);
    free(dec);
    free(fbuf);
    free(base);
    return st;
}
