/* Whole-file writes that never leave a torn file behind. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

/* After a rename the directory entry itself must reach the disk too. Best effort: some file
 * systems refuse to fsync a directory, and the data is safe either way. */
static void sync_dir_of(const char *path) {
    char *copy = svdd__strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

/* What to do about a failed write, after strerror. */
static const char *write_hint(int e) {
    switch (e) {
    case ENOSPC:
    case EDQUOT: return " (free some disk space and try again)";
    case EFBIG: return " (the file size limit, ulimit -f, is too small; raise it or write elsewhere)";
    case ENOENT: return "; the folder does not exist: create it or choose another path";
    case ENOTDIR: return "; part of the path is a file, not a folder: choose another path";
    case EACCES:
    case EPERM:
    case EROFS: return "; choose a folder you may write to";
    }
    return "";
}

/* Write all len bytes to fd; 0, or the errno of the failed write. */
static int write_all(int fd, const void *data, size_t len) {
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* A device or a pipe (/dev/stdout, /dev/full, a FIFO) has no folder entry to swap: renaming a
 * temporary file over it would replace the device node itself. Such targets get the bytes
 * directly; there is no torn regular file to protect. */
static svdd_status write_direct(const char *path, const void *data, size_t len, svdd_error *err) {
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0) {
        int e = errno;
        return svdd__fail(err, SVDD_E_IO, "%s: cannot open it for writing: %s%s", path, strerror(e), write_hint(e));
    }
    int e = write_all(fd, data, len);
    if (close(fd) != 0 && !e) e = errno;
    if (e) return svdd__fail(err, SVDD_E_IO, "%s: writing failed: %s%s", path, strerror(e), write_hint(e));
    return SVDD_OK;
}

svdd_status svdd_write_file_atomic(const char *path, const void *data, size_t len, svdd_error *err) {
    if (!path || !*path || (!data && len)) return svdd__fail(err, SVDD_E_INVALID, "svdd_write_file_atomic: no path or data");
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        if (S_ISDIR(sb.st_mode))
            return svdd__fail(err, SVDD_E_IO, "%s: is a folder; give the path of a file to write", path);
        return write_direct(path, data, len, err);
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    if (!tmp) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        svdd_status st = svdd__fail(err, SVDD_E_IO, "%s: cannot create a file there: %s%s", path, strerror(e), write_hint(e));
        free(tmp);
        return st;
    }
    (void)fchmod(fd, 0644);
    int e = write_all(fd, data, len);
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        unlink(tmp);
        free(tmp);
        return svdd__fail(err, SVDD_E_IO, "%s: writing failed: %s%s", path, strerror(e), write_hint(e));
    }
    sync_dir_of(path);
    free(tmp);
    return SVDD_OK;
}
