/* IDX files (LeCun's MNIST format, also Fashion-MNIST).
 *
 * Format: a 4-byte magic 0x00 0x00 TYPE NDIM, then NDIM big-endian uint32 sizes, then the
 * elements row-major. Images are TYPE 0x08 (uint8), NDIM 3 (count, rows, columns): magic
 * 0x00000803; labels are uint8 with NDIM 1: magic 0x00000801. The loader makes a 1 x rows x
 * columns grey data set. Every size is checked against the limits and the bytes present before
 * anything is allocated; files are parsed from memory (or streamed, when only some labels are
 * kept: load_idx_kept), and gzip is detected by content. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data.h"

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The other element types IDX defines: valid files that this loader cannot use. */
static const char *idx_type_name(unsigned t) {
    switch (t) {
    case 0x09: return "int8";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    }
    return NULL;
}

/* Check the header of an IDX tensor of `want_ndim` uint8 dimensions and read its sizes. */
static svdd_status idx_header(const unsigned char *p, size_t len, const char *name, unsigned want_ndim,
                              uint32_t *dims, size_t *header_len, svdd_error *err) {
    const char *what = want_ndim == 3 ? "images" : "labels";
    if (len < 4)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: %zu bytes is too short for an IDX file (is it empty?)",
                          name, len);
    uint32_t magic = be32(p);
    unsigned type = p[2], ndim = p[3];
    if (p[0] != 0 || p[1] != 0)
        return svdd__fail(err, SVDD_E_FORMAT,
                          "%s: not an IDX file (magic 0x%08x, expected 0x%08x for %s); "
                          "check that the path points at the right (decompressed or .gz) file",
                          name, (unsigned)magic, 0x800u | want_ndim, what);
    if (type != 0x08) {
        const char *tn = idx_type_name(type);
        if (tn)
            return svdd__fail(err, SVDD_E_UNSUPPORTED, "%s: IDX %s elements are not supported, only uint8",
                              name, tn);
        return svdd__fail(err, SVDD_E_FORMAT, "%s: unknown IDX element type 0x%02x (magic 0x%08x)", name,
                          type, (unsigned)magic);
    }
    if (ndim != want_ndim)
        return svdd__fail(err, SVDD_E_FORMAT,
                          "%s: IDX tensor has %u dimensions but %s need %u (magic 0x%08x, expected "
                          "0x%08x); were the images and labels files swapped?",
                          name, ndim, what, want_ndim, (unsigned)magic, 0x800u | want_ndim);
    size_t hl = 4 + 4 * (size_t)ndim;
    if (len < hl)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: truncated: %zu bytes, shorter than the %zu-byte IDX header",
                          name, len, hl);
    for (unsigned d = 0; d < ndim; d++) {
        dims[d] = be32(p + 4 + 4 * d);
        if (dims[d] == 0)
            return svdd__fail(err, SVDD_E_FORMAT,
                              "%s: IDX size %u of %s is zero, so the file holds no %s; the file is damaged, "
                              "download it again",
                              name, d, what, d == 0 ? what : "pixels");
    }
    *header_len = hl;
    return SVDD_OK;
}

/* The image tensor's sizes against the limits and the size of memory; *bytes = its pixel bytes. */
static svdd_status check_dims(const uint32_t d[3], const svdd_load_limits *limp, const char *img_name, size_t *bytes_out,
                              svdd_error *err) {
    const svdd_load_limits lim = *limp;
    /* Limits before the byte count, so that a header asking for too much says so (and a loader
     * reading the header alone could stop there). */
    if (d[0] > lim.max_images)
        return svdd__fail(err, SVDD_E_LIMIT, "%s: header says %u images, more than the limit of %llu "
                          "(raise max_images if the file is genuine)",
                          img_name, (unsigned)d[0], (unsigned long long)lim.max_images);
    if (d[1] > lim.max_side || d[2] > lim.max_side)
        return svdd__fail(err, SVDD_E_LIMIT, "%s: header says images of %ux%u, more than the limit of %u "
                          "pixels per side (raise max_side if the file is genuine)",
                          img_name, (unsigned)d[1], (unsigned)d[2], (unsigned)lim.max_side);
    size_t bytes;
    if (!svdd__mul4_size(d[0], d[1], d[2], 1, &bytes))
        return svdd__fail(err, SVDD_E_LIMIT, "%s: header says %u images of %ux%u, which overflows the "
                          "size of memory (corrupt header?)",
                          img_name, (unsigned)d[0], (unsigned)d[1], (unsigned)d[2]);
    if ((uint64_t)bytes > lim.max_pixel_bytes)
        return svdd__fail(err, SVDD_E_LIMIT, "%s: header says %u images of %ux%u (%zu bytes), more than "
                          "the limit of %llu pixel bytes (raise max_pixel_bytes)",
                          img_name, (unsigned)d[0], (unsigned)d[1], (unsigned)d[2], bytes,
                          (unsigned long long)lim.max_pixel_bytes);
    *bytes_out = bytes;
    return SVDD_OK;
}

/* The checks both loaders make before they read a pixel: the two headers, the limits, that the
 * two files hold the same count, and the labels' length. The image bytes are the caller's to
 * check: parse_idx has them all, load_idx_kept finds them as it reads (img_len may then be the
 * header alone). */
static svdd_status check_idx(const unsigned char *img, size_t img_len, const char *img_name,
                             const unsigned char *lab, size_t lab_len, const char *lab_name,
                             const svdd_load_limits *lim, uint32_t d[3], size_t *ih, size_t *lh,
                             size_t *bytes, svdd_error *err) {
    uint32_t nl;
    svdd_status st = idx_header(img, img_len, img_name, 3, d, ih, err);
    if (st == SVDD_OK) st = idx_header(lab, lab_len, lab_name, 1, &nl, lh, err);
    if (st == SVDD_OK) st = check_dims(d, lim, img_name, bytes, err);
    if (st != SVDD_OK) return st;
    if (nl != d[0])
        return svdd__fail(err, SVDD_E_FORMAT, "%s: %u labels for the %u images of %s; do the two files "
                          "belong to the same split (train/t10k)?",
                          lab_name, (unsigned)nl, (unsigned)d[0], img_name);
    size_t body = lab_len - *lh;
    if (body != nl)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: %s: header says %u labels but %zu bytes follow; the "
                          "file is damaged, download it again",
                          lab_name, body < nl ? "truncated" : "trailing bytes", (unsigned)nl, body);
    return SVDD_OK;
}

/* uint8 labels make at most 256 classes, which the digit names cover; the count is that of the
 * whole labels file, also when a loader keeps some labels only. */
static int idx_classes(const unsigned char *labels, size_t n) {
    int max_label = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] > max_label) max_label = labels[i];
    return max_label + 1;
}

/* The parser behind both entry points, with one name per file for the messages. */
static svdd_status parse_idx(svdd_dataset **out, const unsigned char *img, size_t img_len,
                             const char *img_name, const unsigned char *lab, size_t lab_len,
                             const char *lab_name, const svdd_load_limits *limits, svdd_error *err) {
    *out = NULL;
    svdd_load_limits lim = svdd__limits_resolve(limits);
    uint32_t d[3];
    size_t ih = 0, lh = 0, bytes = 0;
    svdd_status st = check_idx(img, img_len, img_name, lab, lab_len, lab_name, &lim, d, &ih, &lh, &bytes, err);
    if (st != SVDD_OK) return st;
    size_t body = img_len - ih;
    if (body != bytes)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: %s: header says %u images of %ux%u (%zu bytes) but %zu "
                          "bytes follow; the file is damaged, download it again",
                          img_name, body < bytes ? "truncated" : "trailing bytes", (unsigned)d[0],
                          (unsigned)d[1], (unsigned)d[2], bytes, body);

    svdd_dataset *ds = NULL;
    st = svdd__dataset_alloc(&ds, d[0], 1, (int)d[1], (int)d[2], &lim, img_name, err);
    if (st != SVDD_OK) return st;
    memcpy(ds->pixels, img + ih, bytes);
    for (size_t i = 0; i < d[0]; i++) ds->labels[i] = lab[lh + i];
    ds->n_classes = idx_classes(lab + lh, d[0]);
    *out = ds;
    svdd__ok(err);
    return SVDD_OK;
}

svdd_status svdd_dataset_parse_idx(svdd_dataset **out, const void *images, size_t images_len,
                                   const void *labels, size_t labels_len, const char *name,
                                   const svdd_load_limits *limits, svdd_error *err) {
    if (!out) return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_parse_idx: out is NULL");
    *out = NULL;
    if (!name) name = "IDX";
    if ((!images && images_len) || (!labels && labels_len))
        return svdd__fail(err, SVDD_E_INVALID, "%s: NULL buffer with a nonzero length", name);
    char in[SVDD_ERROR_MESSAGE_SIZE / 2], ln[SVDD_ERROR_MESSAGE_SIZE / 2];
    snprintf(in, sizeof in, "%s (images)", name);
    snprintf(ln, sizeof ln, "%s (labels)", name);
    return parse_idx(out, images, images_len, in, labels, labels_len, ln, limits, err);
}

/* Read a file and inflate it if it is gzip, bounded by the largest IDX the limits allow. */
static svdd_status read_maybe_gz(const char *path, size_t max_len, unsigned char **data, size_t *len,
                                 svdd_error *err) {
    svdd_status st = svdd__read_file(path, max_len, data, len, err);
    if (st != SVDD_OK) return st;
    st = svdd__maybe_gunzip(data, len, max_len, path, err);
    if (st != SVDD_OK) {
        free(*data);
        *data = NULL;
    }
    return st;
}

/* The kept images' pixels as they arrive: a 64-byte aligned buffer (as svdd__alloc gives, for
 * the data set) of len bytes in cap, never more than `most`, the bytes of all kept images. */
typedef struct pixel_buf {
    uint8_t *p;
    size_t len, cap, most;
} pixel_buf;

/* Room for `more` bytes after px->len (len + more <= most), doubling the room: the buffer follows
 * the bytes that arrive, never what a header announces. 0 when out of memory. */
static int pixel_buf_reserve(pixel_buf *px, size_t more) {
    if (px->len + more <= px->cap) return 1;
    size_t cap = px->cap < ((size_t)1 << 20) ? (size_t)1 << 20 : px->cap > px->most / 2 ? px->most : 2 * px->cap;
    if (cap > px->most) cap = px->most;
    if (cap < px->len + more) cap = px->len + more;
    uint8_t *p = svdd__alloc(cap, 1);
    if (!p) return 0;
    if (px->len) memcpy(p, px->p, px->len);
    free(px->p);
    px->p = p;
    px->cap = cap;
    return 1;
}

/* Read n image bytes through the gz reader, appended to px (NULL: skipped). They go in pieces:
 * gzread counts in unsigned and returns an int, and an image may be larger than either.
 * 1: all read; 0: the file ended first; -1: a read error; -2: out of memory. */
static int gz_take(gzFile gz, pixel_buf *px, size_t n) {
    unsigned char skip[1 << 14];
    while (n > 0) {
        const unsigned want = n < sizeof skip ? (unsigned)n : (unsigned)sizeof skip;
        unsigned char *dst = skip;
        if (px) {
            if (!pixel_buf_reserve(px, want)) return -2;
            dst = px->p + px->len;
        }
        const int got = gzread(gz, dst, want);
        if (got < 0) return -1;
        if (px) px->len += (size_t)got;
        if ((unsigned)got < want) return 0;
        n -= want;
    }
    return 1;
}

/* The images of the kept labels only, read through zlib's gz reader (which passes raw files
 * through unchanged): one class of MNIST then takes a tenth of the memory of the whole set, and
 * neither the compressed nor the whole decompressed file is ever held. The labels file (one byte
 * per image) is read whole. The checks are parse_idx's (check_idx); a compressed file's length is
 * only known at its end, so the image bytes are checked while reading, and memory grows with the
 * bytes read, not with the count the header gives. */
static svdd_status load_idx_kept(svdd_dataset **out, const char *images_path, const char *labels_path,
                                 const svdd_load_limits *lim, size_t max_lab, svdd_error *err) {
    unsigned char *lab = NULL, hdr[16];
    size_t lab_len = 0, ih = 0, lh = 0, bytes = 0;
    uint32_t d[3];
    int32_t *labels = NULL;
    pixel_buf px = {NULL, 0, 0, 0};
    svdd_dataset *ds = NULL;
    gzFile gz = NULL;
    svdd_status st = read_maybe_gz(labels_path, max_lab, &lab, &lab_len, err);
    if (st != SVDD_OK) goto done;
    if (!(gz = gzopen(images_path, "rb"))) {
        st = svdd__fail(err, SVDD_E_IO, "%s: cannot open: %s", images_path, strerror(errno));
        goto done;
    }
    int zerr = Z_OK, got = gzread(gz, hdr, sizeof hdr);
    if (got < 0) {
        st = svdd__fail(err, SVDD_E_FORMAT, "%s: cannot read: %s", images_path, gzerror(gz, &zerr));
        goto done;
    }
    st = check_idx(hdr, (size_t)got, images_path, lab, lab_len, labels_path, lim, d, &ih, &lh, &bytes, err);
    if (st != SVDD_OK) goto done;
    const size_t n = d[0], D = (size_t)d[1] * d[2]; /* bounded by check_dims */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) kept += svdd__keeps(lim, lab[lh + i]);
    px.most = kept * D;
    /* one int32 per kept byte of the labels file, which is there whole */
    if (!(labels = svdd__alloc(kept, sizeof *labels))) {
        st = svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory for %zu labels", labels_path, kept);
        goto done;
    }
    for (size_t i = 0, k = 0; i < n; i++) {
        const int keep = svdd__keeps(lim, lab[lh + i]);
        const int r = gz_take(gz, keep ? &px : NULL, D);
        if (r == -2) {
            st = svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory for %zu images of %ux%u", images_path, kept,
                            (unsigned)d[1], (unsigned)d[2]);
            goto done;
        }
        if (r != 1) {
            const char *why = r < 0 ? gzerror(gz, &zerr) : "the file ends there";
            st = svdd__fail(err, SVDD_E_FORMAT, "%s: truncated: header says %u images of %ux%u but image %zu cannot be "
                            "read (%s); the file is damaged, download it again", images_path, (unsigned)d[0], (unsigned)d[1],
                            (unsigned)d[2], i, why);
            goto done;
        }
        if (keep) labels[k++] = lab[lh + i];
    }
    got = gzread(gz, hdr, 1);
    /* a gzip stream cut after the last image (its checksum missing) reads as a clean end of file,
     * with the error only in gzerror */
    (void)gzerror(gz, &zerr);
    if (got > 0) {
        st = svdd__fail(err, SVDD_E_FORMAT, "%s: trailing bytes after the %u images of %ux%u the header announces; "
                        "the file is damaged, download it again", images_path, (unsigned)d[0], (unsigned)d[1], (unsigned)d[2]);
        goto done;
    }
    if (got < 0 || zerr != Z_OK) {
        st = svdd__fail(err, SVDD_E_FORMAT, "%s: corrupt or truncated gzip data (%s); the file is damaged, download it again",
                        images_path, gzerror(gz, &zerr));
        goto done;
    }
    /* an empty set, then the images and labels read above */
    if ((st = svdd__dataset_alloc(&ds, 0, 1, (int)d[1], (int)d[2], lim, images_path, err)) != SVDD_OK) goto done;
    if (px.p) {
        free(ds->pixels);
        ds->pixels = px.p;
        px.p = NULL;
    }
    free(ds->labels);
    ds->labels = labels;
    labels = NULL;
    ds->n = kept;
    ds->n_classes = idx_classes(lab + lh, n);
    *out = ds;
    ds = NULL;
    svdd__ok(err);
done:
    if (gz) gzclose(gz);
    svdd_dataset_free(ds);
    free(px.p);
    free(labels);
    free(lab);
    return st;
}

svdd_status svdd_dataset_load_idx(svdd_dataset **out, const char *images_path, const char *labels_path,
                                  const svdd_load_limits *limits, svdd_error *err) {
    if (!out) return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_load_idx: out is NULL");
    *out = NULL;
    if (!images_path || !labels_path)
        return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_load_idx: a path is NULL");
    svdd_load_limits lim = svdd__limits_resolve(limits);
    /* The header is 16 bytes; a file larger than header + limit cannot load anyway. */
    size_t max_img = lim.max_pixel_bytes > SIZE_MAX - 16 ? SIZE_MAX : (size_t)lim.max_pixel_bytes + 16;
    size_t max_lab = lim.max_images > SIZE_MAX - 8 ? SIZE_MAX : (size_t)lim.max_images + 8;
    if (!svdd__keeps_all(&lim)) return load_idx_kept(out, images_path, labels_path, &lim, max_lab, err);
    unsigned char *img = NULL, *lab = NULL;
    size_t img_len = 0, lab_len = 0;
    svdd_status st = read_maybe_gz(images_path, max_img, &img, &img_len, err);
    if (st == SVDD_OK) st = read_maybe_gz(labels_path, max_lab, &lab, &lab_len, err);
    if (st == SVDD_OK) st = parse_idx(out, img, img_len, images_path, lab, lab_len, labels_path, &lim, err);
    free(img);
    free(lab);
    return st;
}
