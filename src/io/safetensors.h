/* safetensors: the model file format of svdd and the format of the PyTorch test fixtures.
 *
 * Layout (https://github.com/huggingface/safetensors, format as of 2023):
 *   8 bytes   N, the header length, unsigned little-endian
 *   N bytes   a JSON object in UTF-8:
 *               {"__metadata__": {"key": "value", ...},            (optional, strings only)
 *                "tensor name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
 *             padded with trailing spaces (conventionally to a multiple of 8)
 *   the rest  the data buffer: each tensor's elements in row-major order, little-endian, at
 *             [begin, end) counted from the start of the buffer.
 *
 * The reader parses from memory (so it can be fuzzed) and validates everything before anything
 * is used: every length against the bytes present, integer shapes whose products cannot
 * overflow, byte ranges that match the dtype and shape and do not overlap, unique names,
 * string-only metadata, UTF-8 text. Errors are SVDD_E_FORMAT (malformed) or SVDD_E_LIMIT (a
 * header over 100 MB) and name the file. Two things are stricter than the format's reference
 * implementation (an entry must hold exactly dtype, shape and data_offsets; raw control bytes are
 * refused) and one is laxer (bytes of the buffer that no tensor covers are allowed; the writer
 * never leaves any). A parsed file owns a copy of its bytes, so the
 * caller's buffer may go away right after parsing.
 *
 * The writer collects F32 tensors (borrowed pointers) and metadata strings and writes them in
 * the order added, either to memory or to a file, replacing the file atomically (temporary file
 * in the same folder, fsync, rename) so that a crash never leaves half a model behind.
 */
#ifndef SVDD_SAFETENSORS_H
#define SVDD_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/core.h"

/* The element types the reader understands (safetensors also has F16, BF16, I8, ... which are
 * reported as unknown: svdd has no use for them). */
typedef enum svdd__st_dtype {
    SVDD__ST_F32 = 0,
    SVDD__ST_F64,
    SVDD__ST_I32,
    SVDD__ST_I64,
    SVDD__ST_U8
} svdd__st_dtype;

/* Most dimensions a tensor may have; the format has no bound, ours is generous. */
#define SVDD__ST_MAX_DIMS 8
/* Largest header the reader accepts (the reference implementation's limit). */
#define SVDD__ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)
/* Largest file svdd__st_load reads. */
#define SVDD__ST_MAX_FILE ((size_t)1 << 31)

/* "F32", "F64", ...; "?" for an out-of-range value. */
const char *svdd__st_dtype_name(svdd__st_dtype dtype);
/* Bytes per element (0 for an out-of-range value). */
size_t svdd__st_dtype_size(svdd__st_dtype dtype);

/* One tensor of a parsed file. `data` points into the file's copy of the buffer: it is NOT
 * aligned for any type and holds little-endian values; use svdd__st_read_f32 / svdd__st_copy
 * to get host values in aligned memory. */
typedef struct svdd__st_tensor {
    const char *name;
    svdd__st_dtype dtype;
    int ndim;                          /* 0 for a scalar */
    int64_t shape[SVDD__ST_MAX_DIMS];
    size_t numel;                      /* product of the shape (1 for a scalar) */
    const unsigned char *data;
    size_t nbytes;                     /* numel * dtype size */
} svdd__st_tensor;

typedef struct svdd__st svdd__st;

/* Parse a safetensors image held in memory (copied; `data` may be freed afterwards). `name`
 * (a file name) is used in messages. *out is NULL on failure. */
svdd_status svdd__st_parse(svdd__st **out, const void *data, size_t len, const char *name,
                           svdd_error *err);
/* Read and parse a file (at most SVDD__ST_MAX_FILE bytes). */
svdd_status svdd__st_load(svdd__st **out, const char *path, svdd_error *err);
void svdd__st_free(svdd__st *st);

/* The name given to parse/load. */
const char *svdd__st_name(const svdd__st *st);
/* Tensors in the order of their data offsets (for a file written by svdd: the order added). */
int svdd__st_count(const svdd__st *st);
const svdd__st_tensor *svdd__st_at(const svdd__st *st, int i);
/* NULL when there is no tensor of that name. */
const svdd__st_tensor *svdd__st_find(const svdd__st *st, const char *name);

/* Metadata: the value of `key`, NULL when absent. Keys are sorted bytewise for _meta_at. */
const char *svdd__st_meta(const svdd__st *st, const char *key);
int svdd__st_meta_count(const svdd__st *st);
void svdd__st_meta_at(const svdd__st *st, int i, const char **key, const char **value);

/* Copy tensor `name` into dst (n elements of host type for `dtype`: float, double, int32_t,
 * int64_t, uint8_t). Fails with SVDD_E_FORMAT, naming the file and tensor, when the tensor is
 * missing, has another dtype, or does not have exactly n elements. */
svdd_status svdd__st_copy(const svdd__st *st, const char *name, svdd__st_dtype dtype, void *dst,
                          size_t n, svdd_error *err);
/* Copy an F32 tensor into dst (n floats) and check its shape: when `shape` is not NULL the
 * tensor must have exactly `ndim` dimensions equal to shape[0..ndim). */
svdd_status svdd__st_read_f32(const svdd__st *st, const char *name, float *dst, size_t n, int ndim,
                              const int *shape, svdd_error *err);
/* SVDD_E_NUMERIC, naming the tensor and the first bad element, when an F32 or F64 tensor holds
 * a NaN or an infinity (the format allows them; a model must not). `name` NULL checks every
 * tensor. Integer tensors always pass. */
svdd_status svdd__st_check_finite(const svdd__st *st, const char *name, svdd_error *err);

/* ---- writing ---- */

typedef struct svdd__st_writer svdd__st_writer;

svdd_status svdd__st_writer_create(svdd__st_writer **out, svdd_error *err);
void svdd__st_writer_free(svdd__st_writer *w);
/* Add a tensor of `ndim` dimensions (0..SVDD__ST_MAX_DIMS; shape may be NULL for a scalar) whose
 * host-order elements are at `data`. The data is borrowed: it must stay valid and unchanged
 * until the last write. The name is copied; it must be non-empty valid UTF-8, not
 * "__metadata__" and not already added (SVDD_E_INVALID otherwise). */
svdd_status svdd__st_writer_add(svdd__st_writer *w, const char *name, svdd__st_dtype dtype, int ndim,
                                const int64_t *shape, const void *data, svdd_error *err);
/* The common case: an F32 tensor with an int shape (as svdd__tensor_info holds). */
svdd_status svdd__st_writer_add_f32(svdd__st_writer *w, const char *name, int ndim, const int *shape,
                                    const float *data, svdd_error *err);
/* Set a metadata string (both copied, valid UTF-8; setting a key again replaces its value). */
svdd_status svdd__st_writer_meta(svdd__st_writer *w, const char *key, const char *value,
                                 svdd_error *err);
/* The whole file in a new malloc'ed buffer (free with free()). */
svdd_status svdd__st_write_memory(const svdd__st_writer *w, unsigned char **out, size_t *len,
                                  svdd_error *err);
/* Write `path` atomically: the bytes go to a new `path.tmp.XXXXXX` in the same folder, which is
 * flushed to disk and then renamed over `path`; on any failure the temporary file is removed,
 * `path` is untouched and the error names it. The file gets mode 0644. */
svdd_status svdd__st_write_file(const svdd__st_writer *w, const char *path, svdd_error *err);

#endif
