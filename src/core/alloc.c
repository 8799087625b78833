/* Checked allocation, whole-file reads, gzip detection and a monotonic clock. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "core.h"

int svdd__mul4_size(size_t a, size_t b, size_t c, size_t d, size_t *out) {
    size_t ab, abc;
    return svdd__mul_size(a, b, &ab) && svdd__mul_size(ab, c, &abc) && svdd__mul_size(abc, d, out);
}

void *svdd__alloc(size_t n, size_t size) {
    size_t bytes;
    if (!svdd__mul_size(n, size, &bytes)) return NULL;
    if (bytes == 0) bytes = 1;
    /* aligned_alloc wants a multiple of the alignment. */
    size_t rounded;
    if (!svdd__add_size(bytes, 63, &rounded)) return NULL;
    rounded &= ~(size_t)63;
    return aligned_alloc(64, rounded);
}

void *svdd__calloc(size_t n, size_t size) {
    size_t bytes;
    if (!svdd__mul_size(n, size, &bytes)) return NULL;
    void *p = svdd__alloc(n, size);
    if (p) memset(p, 0, bytes);
    return p;
}

char *svdd__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

double svdd__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

svdd_status svdd__read_file(const char *path, size_t max_len, unsigned char **data, size_t *len,
                            svdd_error *err) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return svdd__fail(err, SVDD_E_IO, "%s: cannot open: %s%s", path, strerror(e),
                          e == ENOENT ? "; check the path" : e == EACCES ? "; check the file's permissions" : "");
    }
    /* fopen opens a folder too (on Linux), and ftell then reports a nonsense size. */
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && !S_ISREG(sb.st_mode)) {
        (void)fclose(f);
        return svdd__fail(err, SVDD_E_IO, "%s: %s; give the path of a file", path,
                          S_ISDIR(sb.st_mode) ? "is a folder, not a file" : "is not a regular file");
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        (void)fclose(f);
        return svdd__fail(err, SVDD_E_IO, "%s: cannot seek (is it a regular file?)", path);
    }
    long size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        (void)fclose(f);
        return svdd__fail(err, SVDD_E_IO, "%s: cannot determine the file size", path);
    }
    if ((unsigned long)size > max_len) {
        (void)fclose(f);
        return svdd__fail(err, SVDD_E_LIMIT, "%s: file is %ld bytes, more than the %zu bytes the size limits allow",
                          path, size, max_len);
    }
    unsigned char *buf = malloc((size_t)size + 1);
    if (!buf) {
        (void)fclose(f);
        return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory reading %ld bytes", path, size);
    }
    size_t got = fread(buf, 1, (size_t)size, f);
    int read_error = ferror(f);
    (void)fclose(f); /* read only: nothing to lose */
    if (got != (size_t)size || read_error) {
        free(buf);
        return svdd__fail(err, SVDD_E_IO, "%s: read %zu of %ld bytes", path, got, size);
    }
    buf[size] = 0;
    *data = buf;
    *len = (size_t)size;
    return SVDD_OK;
}

svdd_status svdd__maybe_gunzip(unsigned char **data, size_t *len, size_t max_out, const char *name,
                               svdd_error *err) {
    if (*len < 2 || (*data)[0] != 0x1f || (*data)[1] != 0x8b) return SVDD_OK;
    /* A caller without a limit passes SIZE_MAX; the buffer arithmetic below (max_out + 1, cap * 2)
     * would wrap around and grow nothing, forever. No buffer near that size can exist anyway. */
    if (max_out > SIZE_MAX / 4) max_out = SIZE_MAX / 4;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 16 + MAX_WBITS: accept the gzip wrapper only. */
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return svdd__fail(err, SVDD_E_NOMEM, "%s: cannot initialise zlib", name);
    size_t cap = *len * 4 + 1024, used = 0;
    if (cap > max_out + 1) cap = max_out + 1;
    unsigned char *out = malloc(cap + 1);
    if (!out) {
        inflateEnd(&zs);
        return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory decompressing", name);
    }
    zs.next_in = *data;
    size_t in_left = *len;
    int rc = Z_OK;
    for (;;) {
        if (zs.avail_in == 0 && in_left > 0) {
            uInt chunk = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
            zs.avail_in = chunk;
            in_left -= chunk;
        }
        if (used == cap) {
            if (cap > max_out) {
                free(out);
                inflateEnd(&zs);
                return svdd__fail(err, SVDD_E_LIMIT,
                                  "%s: decompresses to more than the limit of %zu bytes", name, max_out);
            }
            size_t ncap = cap * 2 > max_out + 1 ? max_out + 1 : cap * 2;
            unsigned char *n = realloc(out, ncap + 1);
            if (!n) {
                free(out);
                inflateEnd(&zs);
                return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory decompressing", name);
            }
            out = n;
            cap = ncap;
        }
        size_t room = cap - used;
        uInt avail = room > (1u << 30) ? (1u << 30) : (uInt)room;
        zs.next_out = out + used;
        zs.avail_out = avail;
        rc = inflate(&zs, Z_NO_FLUSH);
        used += avail - zs.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return svdd__fail(err, SVDD_E_FORMAT, "%s: corrupt or truncated gzip data (%s); the file is damaged, download it again",
                          name, rc == Z_DATA_ERROR ? "data error" : "unexpected end");
    }
    out[used] = 0;
    free(*data);
    *data = out;
    *len = used;
    return SVDD_OK;
}
