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

svdd_status svdd_write_file_atomic(const char *path, const void *data, size_t len, svdd_error *err) {
    if (!path || !*path || (!data && len)) return svdd__fail(err, SVDD_E_INVALID, "svdd_write_file_atomic: no path or data");
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    if (!tmp) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        svdd_status st = svdd__fail(err, SVDD_E_IO, "%s: cannot create a file there: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    (void)fchmod(fd, 0644);
    const unsigned char *p = data;
    size_t left = len;
    int e = 0;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            e = errno;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        unlink(tmp);
        free(tmp);
        return svdd__fail(err, SVDD_E_IO, "%s: writing failed: %s%s", path, strerror(e),
                          e == ENOSPC ? " (free some disk space and try again)" : "");
    }
    sync_dir_of(path);
    free(tmp);
    return SVDD_OK;
}
