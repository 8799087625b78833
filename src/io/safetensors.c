/* safetensors reader and writer (see safetensors.h for the format and the guarantees).
 *
 * The reader trusts nothing: the header is checked as UTF-8 text before cJSON sees it, every
 * number that becomes a size is checked to be an exact non-negative integer below 2^53 (JSON
 * numbers are doubles), products and sums of sizes are overflow-checked, and byte ranges are
 * checked against the buffer and against each other before any tensor is handed out. */
#include "safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Largest integer a double (a cJSON number) holds exactly. */
#define EXACT_INT_MAX 9007199254740992.0

static const struct {
    const char *name;
    size_t size;
} DTYPES[] = {{"F32", 4}, {"F64", 8}, {"I32", 4}, {"I64", 8}, {"U8", 1}};
#define N_DTYPES ((int)(sizeof DTYPES / sizeof DTYPES[0]))

const char *svdd__st_dtype_name(svdd__st_dtype dtype) {
    return (int)dtype >= 0 && (int)dtype < N_DTYPES ? DTYPES[dtype].name : "?";
}

size_t svdd__st_dtype_size(svdd__st_dtype dtype) {
    return (int)dtype >= 0 && (int)dtype < N_DTYPES ? DTYPES[dtype].size : 0;
}

/* The format is little-endian; a big-endian host swaps every element on the way in and out. */
static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Copy n elements of `size` bytes, reversing each element's bytes when `swap`. */
static void copy_elements(void *dst, const void *src, size_t n, size_t size, int swap) {
    if (!swap || size == 1) {
        memcpy(dst, src, n * size);
        return;
    }
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < size; j++) d[i * size + j] = s[i * size + size - 1 - j];
}

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). Returns the offset of
 * the first bad byte, or len when all is well. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned min, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, min = 0x80, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, min = 0x800, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i <= n) return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += n + 1;
    }
    return len;
}

static uint64_t read_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* ---------------------------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------------------------- */

typedef struct meta_pair {
    const char *key, *value;
} meta_pair;

struct svdd__st {
    char *name;
    unsigned char *bytes;   /* the whole file */
    size_t len;
    cJSON *header;          /* kept alive: tensor names and metadata point into it */
    svdd__st_tensor *tensors; /* sorted by data offset */
    int n_tensors;
    int *by_name;           /* tensor indices sorted by name, for svdd__st_find */
    meta_pair *meta;        /* sorted by key */
    int n_meta;
};

void svdd__st_free(svdd__st *st) {
    if (!st) return;
    free(st->name);
    free(st->bytes);
    cJSON_Delete(st->header);
    free(st->tensors);
    free(st->by_name);
    free(st->meta);
    free(st);
}

/* An exact non-negative integer below 2^53, as every size in the header must be. */
static int json_size(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return 0;
    double d = item->valuedouble;
    if (!(d >= 0 && d <= EXACT_INT_MAX) || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

/* qsort comparators; qsort has no context argument, so the arrays sorted carry what they need. */
static int cmp_meta(const void *a, const void *b) {
    return strcmp(((const meta_pair *)a)->key, ((const meta_pair *)b)->key);
}

static int cmp_offset(const void *a, const void *b) {
    const svdd__st_tensor *x = a, *y = b;
    if (x->data != y->data) return x->data < y->data ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

typedef struct name_index {
    const char *name;
    int index;
} name_index;

static int cmp_name_index(const void *a, const void *b) {
    return strcmp(((const name_index *)a)->name, ((const name_index *)b)->name);
}

static svdd_status parse_metadata(svdd__st *st, const cJSON *md, svdd_error *err) {
    if (!cJSON_IsObject(md))
        return svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header: \"__metadata__\" must be an object of strings",
                          st->name);
    int n = cJSON_GetArraySize(md);
    st->meta = malloc(((size_t)n + 1) * sizeof *st->meta);
    if (!st->meta) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory for the metadata", st->name);
    for (const cJSON *it = md->child; it; it = it->next) {
        if (!cJSON_IsString(it) || !it->valuestring)
            return svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header: metadata value of \"%.64s\" is not a string",
                              st->name, it->string ? it->string : "");
        st->meta[st->n_meta].key = it->string ? it->string : "";
        st->meta[st->n_meta].value = it->valuestring;
        st->n_meta++;
    }
    qsort(st->meta, (size_t)st->n_meta, sizeof *st->meta, cmp_meta);
    for (int i = 1; i < st->n_meta; i++)
        if (strcmp(st->meta[i - 1].key, st->meta[i].key) == 0)
            return svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header: metadata key \"%.64s\" appears twice",
                              st->name, st->meta[i].key);
    return SVDD_OK;
}

/* Validate one tensor entry and fill `t` (data pointer into the buffer at `buf`). */
static svdd_status parse_entry(const svdd__st *st, const cJSON *e, const unsigned char *buf, size_t buf_len,
                               svdd__st_tensor *t, svdd_error *err) {
    const char *f = st->name, *nm = e->string ? e->string : "";
    t->name = nm;
    if (!*nm) return svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header: a tensor has an empty name", f);
    if (!cJSON_IsObject(e))
        return svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header: entry \"%.64s\" is not an object", f, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!dt || !sh || !of)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header: tensor \"%.64s\" lacks \"%s\"", f, nm,
                          !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    /* exactly three members, the three required ones: no duplicates, nothing unexpected */
    if (cJSON_GetArraySize(e) != 3)
        return svdd__fail(err, SVDD_E_FORMAT,
                          "%s: safetensors header: tensor \"%.64s\" must have exactly dtype, shape and data_offsets", f, nm);
    if (!cJSON_IsString(dt) || !dt->valuestring)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header: dtype of \"%.64s\" is not a string", f, nm);
    int d = 0;
    while (d < N_DTYPES && strcmp(DTYPES[d].name, dt->valuestring) != 0) d++;
    if (d == N_DTYPES)
        return svdd__fail(err, SVDD_E_FORMAT,
                          "%s: tensor \"%.64s\" has dtype \"%.16s\", which svdd does not read (F32, F64, I32, I64, U8)", f,
                          nm, dt->valuestring);
    t->dtype = (svdd__st_dtype)d;
    if (!cJSON_IsArray(sh))
        return svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header: shape of \"%.64s\" is not an array", f, nm);
    int ndim = cJSON_GetArraySize(sh);
    if (ndim > SVDD__ST_MAX_DIMS)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: tensor \"%.64s\" has %d dimensions, more than %d", f, nm, ndim,
                          SVDD__ST_MAX_DIMS);
    t->ndim = ndim;
    size_t numel = 1;
    int k = 0;
    for (const cJSON *it = sh->child; it; it = it->next, k++) {
        uint64_t v;
        if (!json_size(it, &v))
            return svdd__fail(err, SVDD_E_FORMAT,
                              "%s: safetensors header: shape of \"%.64s\" has a dimension that is not a non-negative integer",
                              f, nm);
        if (v > SIZE_MAX || !svdd__mul_size(numel, (size_t)v, &numel))
            return svdd__fail(err, SVDD_E_FORMAT, "%s: tensor \"%.64s\": the element count overflows", f, nm);
        t->shape[k] = (int64_t)v;
    }
    t->numel = numel;
    size_t nbytes;
    if (!svdd__mul_size(numel, DTYPES[d].size, &nbytes))
        return svdd__fail(err, SVDD_E_FORMAT, "%s: tensor \"%.64s\": the byte count overflows", f, nm);
    t->nbytes = nbytes;
    uint64_t begin, end;
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || !json_size(of->child, &begin) ||
        !json_size(of->child->next, &end))
        return svdd__fail(err, SVDD_E_FORMAT,
                          "%s: safetensors header: data_offsets of \"%.64s\" must be two non-negative integers", f, nm);
    if (begin > end)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: tensor \"%.64s\": data_offsets begin %llu > end %llu", f, nm,
                          (unsigned long long)begin, (unsigned long long)end);
    if (end > buf_len)
        return svdd__fail(err, SVDD_E_FORMAT,
                          "%s: tensor \"%.64s\" ends at byte %llu of the data, but the data has only %zu bytes (truncated file?)",
                          f, nm, (unsigned long long)end, buf_len);
    if (end - begin != nbytes)
        return svdd__fail(err, SVDD_E_FORMAT,
                          "%s: tensor \"%.64s\" spans %llu bytes, but its shape and dtype %s need %zu", f, nm,
                          (unsigned long long)(end - begin), DTYPES[d].name, nbytes);
    t->data = buf + begin;
    return SVDD_OK;
}

/* Parse `bytes` (len bytes, owned by st from now on). */
static svdd_status parse_owned(svdd__st **out, unsigned char *bytes, size_t len, const char *name,
                               svdd_error *err) {
    *out = NULL;
    svdd__st *st = calloc(1, sizeof *st);
    char *nm = svdd__strdup(name ? name : "<memory>");
    if (!st || !nm) {
        free(st), free(nm), free(bytes);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory");
    }
    st->name = nm;
    st->bytes = bytes;
    st->len = len;
    svdd_status rc = SVDD_OK;
    const char *f = st->name;
    char *text = NULL;
    if (len < 8) {
        rc = svdd__fail(err, SVDD_E_FORMAT, "%s: %zu bytes is too short for a safetensors file (8-byte header length)",
                        f, len);
        goto done;
    }
    const uint64_t hlen = read_le64(bytes);
    if (hlen > SVDD__ST_MAX_HEADER) {
        rc = svdd__fail(err, SVDD_E_LIMIT,
                        "%s: not a safetensors file: its first 8 bytes give a header of %llu bytes, more than the limit "
                        "of %llu; check that the path names the right file",
                        f, (unsigned long long)hlen, (unsigned long long)SVDD__ST_MAX_HEADER);
        goto done;
    }
    if (hlen > len - 8) {
        rc = svdd__fail(err, SVDD_E_FORMAT,
                        "%s: safetensors header length %llu is more than the %zu bytes after it (a truncated file, or not safetensors)",
                        f, (unsigned long long)hlen, len - 8);
        goto done;
    }
    const unsigned char *h = bytes + 8;
    const size_t hl = (size_t)hlen;
    size_t bad = utf8_invalid_at(h, hl);
    if (bad < hl) {
        rc = svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header is not UTF-8 text (byte %zu)", f, bad);
        goto done;
    }
    /* Raw control characters never occur in JSON text outside whitespace; a NUL would also make
     * cJSON stop early and ignore the rest. */
    for (size_t i = 0; i < hl; i++)
        if (h[i] < 0x20 && h[i] != '\t' && h[i] != '\n' && h[i] != '\r') {
            rc = svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header has control byte 0x%02x at %zu", f, h[i], i);
            goto done;
        }
    text = malloc(hl + 1);
    if (!text) {
        rc = svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory for the header", f);
        goto done;
    }
    memcpy(text, h, hl);
    text[hl] = '\0';
    const char *end = NULL;
    /* require_null_terminated: only whitespace (the padding) may follow the object */
    st->header = cJSON_ParseWithOpts(text, &end, 1);
    if (!st->header) {
        rc = svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header is not valid JSON (error near byte %td)", f,
                        end ? end - text : (ptrdiff_t)0);
        goto done;
    }
    if (!cJSON_IsObject(st->header)) {
        rc = svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header is JSON but not an object", f);
        goto done;
    }
    const unsigned char *buf = h + hl;
    const size_t buf_len = len - 8 - hl;
    const int n_entries = cJSON_GetArraySize(st->header);
    st->tensors = calloc((size_t)n_entries + 1, sizeof *st->tensors);
    name_index *names = calloc((size_t)n_entries + 1, sizeof *names);
    st->by_name = calloc((size_t)n_entries + 1, sizeof *st->by_name);
    if (!st->tensors || !names || !st->by_name) {
        free(names);
        rc = svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory for %d tensors", f, n_entries);
        goto done;
    }
    int n_md = 0;
    for (const cJSON *e = st->header->child; e; e = e->next) {
        if (e->string && strcmp(e->string, "__metadata__") == 0) {
            if (n_md++) {
                rc = svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header has \"__metadata__\" twice", f);
                break;
            }
            rc = parse_metadata(st, e, err);
        } else {
            rc = parse_entry(st, e, buf, buf_len, &st->tensors[st->n_tensors], err);
            st->n_tensors++;
        }
        if (rc != SVDD_OK) break;
    }
    if (rc != SVDD_OK) {
        free(names);
        goto done;
    }
    /* Unique names (cJSON keeps duplicate keys, the format forbids them). */
    for (int i = 0; i < st->n_tensors; i++) names[i] = (name_index){st->tensors[i].name, i};
    qsort(names, (size_t)st->n_tensors, sizeof *names, cmp_name_index);
    for (int i = 1; i < st->n_tensors; i++)
        if (strcmp(names[i - 1].name, names[i].name) == 0) {
            rc = svdd__fail(err, SVDD_E_FORMAT, "%s: safetensors header: tensor \"%.64s\" appears twice", f,
                            names[i].name);
            free(names);
            goto done;
        }
    free(names);
    /* No two tensors may share bytes; empty tensors occupy nothing and cannot overlap. */
    qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, cmp_offset);
    const svdd__st_tensor *prev = NULL;
    for (int i = 0; i < st->n_tensors; i++) {
        const svdd__st_tensor *t = &st->tensors[i];
        if (!t->nbytes) continue;
        if (prev && t->data < prev->data + prev->nbytes) {
            rc = svdd__fail(err, SVDD_E_FORMAT,
                            "%s: tensors \"%.64s\" and \"%.64s\" overlap in the data buffer (a damaged or hand-edited file)",
                            f, prev->name, t->name);
            goto done;
        }
        prev = t;
    }
    /* The name index refers to the tensors' final (offset-sorted) positions. */
    names = malloc(((size_t)st->n_tensors + 1) * sizeof *names);
    if (!names) {
        rc = svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", f);
        goto done;
    }
    for (int i = 0; i < st->n_tensors; i++) names[i] = (name_index){st->tensors[i].name, i};
    qsort(names, (size_t)st->n_tensors, sizeof *names, cmp_name_index);
    for (int i = 0; i < st->n_tensors; i++) st->by_name[i] = names[i].index;
    free(names);
done:
    free(text);
    if (rc != SVDD_OK) {
        svdd__st_free(st);
        return rc;
    }
    *out = st;
    svdd__ok(err);
    return SVDD_OK;
}

svdd_status svdd__st_parse(svdd__st **out, const void *data, size_t len, const char *name, svdd_error *err) {
    if (!out) return svdd__fail(err, SVDD_E_INVALID, "svdd__st_parse: NULL argument");
    *out = NULL;
    if (!data && len) return svdd__fail(err, SVDD_E_INVALID, "svdd__st_parse: NULL data");
    unsigned char *copy = malloc(len + 1);
    if (!copy) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory for %zu bytes", name ? name : "<memory>", len);
    if (len) memcpy(copy, data, len);
    return parse_owned(out, copy, len, name, err);
}

svdd_status svdd__st_load(svdd__st **out, const char *path, svdd_error *err) {
    if (!out || !path) return svdd__fail(err, SVDD_E_INVALID, "svdd__st_load: NULL argument");
    *out = NULL;
    unsigned char *data;
    size_t len;
    svdd_status rc = svdd__read_file(path, SVDD__ST_MAX_FILE, &data, &len, err);
    if (rc != SVDD_OK) return rc;
    return parse_owned(out, data, len, path, err);
}

const char *svdd__st_name(const svdd__st *st) { return st->name; }
int svdd__st_count(const svdd__st *st) { return st ? st->n_tensors : 0; }

const svdd__st_tensor *svdd__st_at(const svdd__st *st, int i) {
    return st && i >= 0 && i < st->n_tensors ? &st->tensors[i] : NULL;
}

const svdd__st_tensor *svdd__st_find(const svdd__st *st, const char *name) {
    if (!st || !name) return NULL;
    int lo = 0, hi = st->n_tensors;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        const svdd__st_tensor *t = &st->tensors[st->by_name[mid]];
        int c = strcmp(t->name, name);
        if (c == 0) return t;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *svdd__st_meta(const svdd__st *st, const char *key) {
    if (!st || !key) return NULL;
    meta_pair probe = {key, NULL};
    const meta_pair *m = st->n_meta ? bsearch(&probe, st->meta, (size_t)st->n_meta, sizeof *st->meta, cmp_meta) : NULL;
    return m ? m->value : NULL;
}

int svdd__st_meta_count(const svdd__st *st) { return st ? st->n_meta : 0; }

void svdd__st_meta_at(const svdd__st *st, int i, const char **key, const char **value) {
    int ok = st && i >= 0 && i < st->n_meta;
    if (key) *key = ok ? st->meta[i].key : NULL;
    if (value) *value = ok ? st->meta[i].value : NULL;
}

svdd_status svdd__st_copy(const svdd__st *st, const char *name, svdd__st_dtype dtype, void *dst, size_t n,
                          svdd_error *err) {
    if (!st || !name || (!dst && n)) return svdd__fail(err, SVDD_E_INVALID, "svdd__st_copy: NULL argument");
    const svdd__st_tensor *t = svdd__st_find(st, name);
    if (!t) return svdd__fail(err, SVDD_E_FORMAT, "%s: no tensor \"%.64s\"", st->name, name);
    if (t->dtype != dtype)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: tensor \"%.64s\" is %s, expected %s", st->name, name,
                          svdd__st_dtype_name(t->dtype), svdd__st_dtype_name(dtype));
    if (t->numel != n)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: tensor \"%.64s\" has %zu elements, expected %zu", st->name, name,
                          t->numel, n);
    if (n) copy_elements(dst, t->data, n, svdd__st_dtype_size(dtype), !host_is_little_endian());
    svdd__ok(err);
    return SVDD_OK;
}

/* "[2, 3, 5]" into buf, for messages. */
static void shape_text(char *buf, size_t size, int ndim, const int64_t *s64, const int *s32) {
    size_t used = 0;
    int w = snprintf(buf, size, "[");
    used = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < ndim && used < size; i++) {
        /* cppcheck-suppress nullPointer ; callers pass one of s64, s32 */
        long long v = s64 ? (long long)s64[i] : (long long)s32[i];
        w = snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", v);
        if (w < 0) return;
        used += (size_t)w;
    }
    if (used < size) snprintf(buf + used, size - used, "]");
}

svdd_status svdd__st_read_f32(const svdd__st *st, const char *name, float *dst, size_t n, int ndim, const int *shape,
                              svdd_error *err) {
    if (!st || !name) return svdd__fail(err, SVDD_E_INVALID, "svdd__st_read_f32: NULL argument");
    const svdd__st_tensor *t = svdd__st_find(st, name);
    if (t && shape) {
        int same = t->ndim == ndim;
        for (int i = 0; same && i < ndim; i++) same = t->shape[i] == (int64_t)shape[i];
        if (!same) {
            char have[128], want[128];
            shape_text(have, sizeof have, t->ndim, t->shape, NULL);
            shape_text(want, sizeof want, ndim, NULL, shape);
            return svdd__fail(err, SVDD_E_FORMAT, "%s: tensor \"%.64s\" has shape %s, expected %s", st->name, name, have,
                              want);
        }
    }
    return svdd__st_copy(st, name, SVDD__ST_F32, dst, n, err);
}

/* Finite unless the exponent bits are all ones (NaN or infinity); decoded from the
 * little-endian bytes so that no float is formed from untrusted bits. */
static svdd_status check_tensor_finite(const svdd__st *st, const svdd__st_tensor *t, svdd_error *err) {
    if (t->dtype != SVDD__ST_F32 && t->dtype != SVDD__ST_F64) return SVDD_OK;
    const size_t size = svdd__st_dtype_size(t->dtype);
    for (size_t i = 0; i < t->numel; i++) {
        const unsigned char *p = t->data + i * size;
        int bad = t->dtype == SVDD__ST_F32 ? ((p[3] & 0x7F) == 0x7F && (p[2] & 0x80))
                                           : ((p[7] & 0x7F) == 0x7F && (p[6] & 0xF0) == 0xF0);
        if (bad)
            return svdd__fail(err, SVDD_E_NUMERIC, "%s: tensor \"%.64s\" holds a NaN or infinity at element %zu",
                              st->name, t->name, i);
    }
    return SVDD_OK;
}

svdd_status svdd__st_check_finite(const svdd__st *st, const char *name, svdd_error *err) {
    if (!st) return svdd__fail(err, SVDD_E_INVALID, "svdd__st_check_finite: NULL argument");
    if (name) {
        const svdd__st_tensor *t = svdd__st_find(st, name);
        if (!t) return svdd__fail(err, SVDD_E_FORMAT, "%s: no tensor \"%.64s\"", st->name, name);
        return check_tensor_finite(st, t, err);
    }
    for (int i = 0; i < st->n_tensors; i++) {
        svdd_status rc = check_tensor_finite(st, &st->tensors[i], err);
        if (rc != SVDD_OK) return rc;
    }
    return SVDD_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------------------------- */

typedef struct wtensor {
    char *name;
    svdd__st_dtype dtype;
    int ndim;
    int64_t shape[SVDD__ST_MAX_DIMS];
    const void *data;
    size_t numel, nbytes;
} wtensor;

struct svdd__st_writer {
    wtensor *t;
    int n, cap;
    char **meta; /* key, value, key, value, ... */
    int n_meta, cap_meta;
};

svdd_status svdd__st_writer_create(svdd__st_writer **out, svdd_error *err) {
    if (!out) return svdd__fail(err, SVDD_E_INVALID, "svdd__st_writer_create: NULL argument");
    *out = calloc(1, sizeof **out);
    return *out ? SVDD_OK : svdd__fail(err, SVDD_E_NOMEM, "out of memory");
}

void svdd__st_writer_free(svdd__st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->t[i].name);
    for (int i = 0; i < 2 * w->n_meta; i++) free(w->meta[i]);
    free(w->t);
    free(w->meta);
    free(w);
}

static int valid_text(const char *s) { return utf8_invalid_at((const unsigned char *)s, strlen(s)) == strlen(s); }

svdd_status svdd__st_writer_add(svdd__st_writer *w, const char *name, svdd__st_dtype dtype, int ndim,
                                const int64_t *shape, const void *data, svdd_error *err) {
    if (!w || !name) return svdd__fail(err, SVDD_E_INVALID, "svdd__st_writer_add: NULL argument");
    if (!*name || !valid_text(name) || strcmp(name, "__metadata__") == 0)
        return svdd__fail(err, SVDD_E_INVALID, "tensor name \"%.64s\" is empty, reserved or not UTF-8", name);
    if (svdd__st_dtype_size(dtype) == 0) return svdd__fail(err, SVDD_E_INVALID, "tensor \"%.64s\": unknown dtype", name);
    if (ndim < 0 || ndim > SVDD__ST_MAX_DIMS || (ndim && !shape))
        return svdd__fail(err, SVDD_E_INVALID, "tensor \"%.64s\": %d dimensions (0..%d with a shape)", name, ndim,
                          SVDD__ST_MAX_DIMS);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return svdd__fail(err, SVDD_E_INVALID, "tensor \"%.64s\" added twice", name);
    wtensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.ndim = ndim;
    t.numel = 1;
    for (int i = 0; i < ndim; i++) {
        /* below 2^53 so that a reader holding JSON numbers as doubles reads it exactly */
        if (shape[i] < 0 || (double)shape[i] > EXACT_INT_MAX || (uint64_t)shape[i] > SIZE_MAX ||
            !svdd__mul_size(t.numel, (size_t)shape[i], &t.numel))
            return svdd__fail(err, SVDD_E_INVALID, "tensor \"%.64s\": bad or overflowing shape", name);
        t.shape[i] = shape[i];
    }
    if (!svdd__mul_size(t.numel, svdd__st_dtype_size(dtype), &t.nbytes))
        return svdd__fail(err, SVDD_E_INVALID, "tensor \"%.64s\": the byte count overflows", name);
    if (t.nbytes && !data) return svdd__fail(err, SVDD_E_INVALID, "tensor \"%.64s\": NULL data", name);
    t.data = data;
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        wtensor *nt = realloc(w->t, (size_t)cap * sizeof *nt);
        if (!nt) return svdd__fail(err, SVDD_E_NOMEM, "out of memory");
        w->t = nt;
        w->cap = cap;
    }
    t.name = svdd__strdup(name);
    if (!t.name) return svdd__fail(err, SVDD_E_NOMEM, "out of memory");
    w->t[w->n++] = t;
    return SVDD_OK;
}

svdd_status svdd__st_writer_add_f32(svdd__st_writer *w, const char *name, int ndim, const int *shape, const float *data,
                                    svdd_error *err) {
    int64_t s[SVDD__ST_MAX_DIMS];
    if (ndim < 0 || ndim > SVDD__ST_MAX_DIMS || (ndim && !shape))
        return svdd__fail(err, SVDD_E_INVALID, "tensor \"%.64s\": %d dimensions (0..%d with a shape)", name ? name : "",
                          ndim, SVDD__ST_MAX_DIMS);
    for (int i = 0; i < ndim; i++) s[i] = shape[i];
    return svdd__st_writer_add(w, name, SVDD__ST_F32, ndim, s, data, err);
}

svdd_status svdd__st_writer_meta(svdd__st_writer *w, const char *key, const char *value, svdd_error *err) {
    if (!w || !key || !value) return svdd__fail(err, SVDD_E_INVALID, "svdd__st_writer_meta: NULL argument");
    if (!valid_text(key) || !valid_text(value))
        return svdd__fail(err, SVDD_E_INVALID, "metadata \"%.64s\" is not UTF-8 text", key);
    char *v = svdd__strdup(value);
    if (!v) return svdd__fail(err, SVDD_E_NOMEM, "out of memory");
    for (int i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta[2 * i], key) == 0) {
            free(w->meta[2 * i + 1]);
            w->meta[2 * i + 1] = v;
            return SVDD_OK;
        }
    if (w->n_meta == w->cap_meta) {
        int cap = w->cap_meta ? 2 * w->cap_meta : 8;
        char **nm = realloc(w->meta, 2 * (size_t)cap * sizeof *nm);
        if (!nm) {
            free(v);
            return svdd__fail(err, SVDD_E_NOMEM, "out of memory");
        }
        w->meta = nm;
        w->cap_meta = cap;
    }
    char *k = svdd__strdup(key);
    if (!k) {
        free(v);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory");
    }
    w->meta[2 * w->n_meta] = k;
    w->meta[2 * w->n_meta + 1] = v;
    w->n_meta++;
    return SVDD_OK;
}

/* A growing text buffer for the header; `failed` latches an allocation failure. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string literal: quotes, backslashes and control characters escaped; UTF-8 passes. */
static void sb_json_string(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\', esc[1] = (char)*c;
            sb_put(b, esc, 2);
        } else if (*c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* The header JSON, padded with spaces so that the data starts at a multiple of 8. */
static svdd_status build_header(const svdd__st_writer *w, sbuf *b, size_t *data_len, svdd_error *err) {
    memset(b, 0, sizeof *b);
    sb_str(b, "{");
    int first = 1;
    if (w->n_meta) {
        sb_str(b, "\"__metadata__\":{");
        for (int i = 0; i < w->n_meta; i++) {
            if (i) sb_str(b, ",");
            sb_json_string(b, w->meta[2 * i]);
            sb_str(b, ":");
            sb_json_string(b, w->meta[2 * i + 1]);
        }
        sb_str(b, "}");
        first = 0;
    }
    size_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const wtensor *t = &w->t[i];
        char num[64];
        if (!first) sb_str(b, ",");
        first = 0;
        sb_json_string(b, t->name);
        sb_str(b, ":{\"dtype\":\"");
        sb_str(b, svdd__st_dtype_name(t->dtype));
        sb_str(b, "\",\"shape\":[");
        for (int k = 0; k < t->ndim; k++) {
            snprintf(num, sizeof num, "%s%lld", k ? "," : "", (long long)t->shape[k]);
            sb_str(b, num);
        }
        size_t end;
        if (!svdd__add_size(off, t->nbytes, &end) || (double)end > EXACT_INT_MAX) {
            free(b->p);
            return svdd__fail(err, SVDD_E_LIMIT, "the tensors add up to more bytes than a file can describe");
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)end);
        sb_str(b, num);
        off = end;
    }
    sb_str(b, "}");
    while (!b->failed && b->len % 8) sb_str(b, " ");
    if (b->failed) {
        free(b->p);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory for the safetensors header");
    }
    if (b->len > SVDD__ST_MAX_HEADER) {
        free(b->p);
        return svdd__fail(err, SVDD_E_LIMIT, "the safetensors header would be %zu bytes, more than readers accept",
                          b->len);
    }
    *data_len = off;
    return SVDD_OK;
}

/* Where emit() sends bytes: a memory buffer of the exact final size. */
typedef struct sink {
    unsigned char *mem;
    size_t pos;
} sink;

static void sink_put(sink *s, const void *p, size_t n) {
    if (!n) return;
    memcpy(s->mem + s->pos, p, n);
    s->pos += n;
}

static void emit(const svdd__st_writer *w, const sbuf *header, sink *s) {
    unsigned char len8[8];
    uint64_t hl = header->len;
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(hl >> (8 * i));
    sink_put(s, len8, 8);
    sink_put(s, header->p, header->len);
    const int swap = !host_is_little_endian();
    for (int i = 0; i < w->n; i++) {
        const wtensor *t = &w->t[i];
        const size_t size = svdd__st_dtype_size(t->dtype);
        if (!swap || size == 1) {
            sink_put(s, t->data, t->nbytes);
            continue;
        }
        unsigned char chunk[4096];
        const size_t per = sizeof chunk / size;
        for (size_t e = 0; e < t->numel; e += per) {
            size_t m = t->numel - e < per ? t->numel - e : per;
            copy_elements(chunk, (const unsigned char *)t->data + e * size, m, size, 1);
            sink_put(s, chunk, m * size);
        }
    }
}

svdd_status svdd__st_write_memory(const svdd__st_writer *w, unsigned char **out, size_t *len, svdd_error *err) {
    if (!w || !out || !len) return svdd__fail(err, SVDD_E_INVALID, "svdd__st_write_memory: NULL argument");
    *out = NULL;
    *len = 0;
    sbuf h;
    size_t data_len = 0, total;
    svdd_status rc = build_header(w, &h, &data_len, err);
    if (rc != SVDD_OK) return rc;
    if (!svdd__add_size(8 + h.len, data_len, &total)) {
        free(h.p);
        return svdd__fail(err, SVDD_E_LIMIT, "the safetensors image does not fit in memory");
    }
    unsigned char *mem = malloc(total);
    if (!mem) {
        free(h.p);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory for a %zu-byte safetensors image", total);
    }
    sink s = {mem, 0};
    emit(w, &h, &s);
    free(h.p);
    *out = mem;
    *len = total;
    return SVDD_OK;
}

svdd_status svdd__st_write_file(const svdd__st_writer *w, const char *path, svdd_error *err) {
    if (!w || !path || !*path) return svdd__fail(err, SVDD_E_INVALID, "svdd__st_write_file: NULL or empty path");
    /* The whole image is built in memory first (models are a few MB) and then written through the
     * library's one atomic-write routine: temporary file, fsync, rename. */
    unsigned char *mem;
    size_t len;
    svdd_status rc = svdd__st_write_memory(w, &mem, &len, err);
    if (rc != SVDD_OK) return rc;
    rc = svdd_write_file_atomic(path, mem, len, err);
    free(mem);
    return rc;
}
