/* The network spec: a small line-based text format (docs/spec.md).
 *
 *     svdd-spec 1
 *     name mnist-lenet
 *     input 1 28 28
 *     encoder
 *     conv2d 8 k=5 pad=2
 *     batchnorm eps=1e-4
 *     ...
 *     decoder
 *     ...
 *
 * Parsing computes every layer's shapes and its place in the parameter and state buffers, and
 * rejects anything inconsistent with a message naming the spec and the line. */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"

#define SPEC_MAX_LINE 256
#define SPEC_MAX_DIM 65536
/* 256 M parameters: far above any network here, far below size_t overflow. */
#define SPEC_MAX_PARAMS ((size_t)1 << 28)
#define SPEC_MAX_ACTIVATION ((size_t)1 << 26)

typedef struct parser {
    const char *name;
    int line;
    svdd_error *err;
    size_t n_params, n_state;
} parser;

static int parse_int(const char *s, int lo, int hi, int *out) {
    if (!s || !*s) return 0;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

static int parse_float(const char *s, double lo, double hi, float *out) {
    if (!s || !*s) return 0;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= lo && v <= hi)) return 0;
    *out = (float)v;
    return 1;
}

/* Split a line into at most 8 whitespace-separated tokens (in place). */
static int tokenize(char *line, char **tok, int max) {
    int n = 0;
    char *p = line;
    while (*p) {
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p || *p == '#') break;
        if (n == max) return -1;
        tok[n++] = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        if (*p) *p++ = '\0';
    }
    return n;
}

/* A format error at the current line; printf-style, so the compiler checks every call. */
static svdd_status bad(parser *ps, const char *fmt, ...) SVDD__PRINTF(2, 3);
static svdd_status bad(parser *ps, const char *fmt, ...) {
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return svdd__fail(ps->err, SVDD_E_FORMAT, "%s:%d: %s", ps->name, ps->line, what);
}

/* key=value options after the positional arguments */
static svdd_status parse_options(parser *ps, svdd__layer *L, char **tok, int n, int first) {
    for (int i = first; i < n; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq) return bad(ps, "unexpected argument '%s' (options are key=value)", tok[i]);
        *eq = '\0';
        const char *key = tok[i], *val = eq + 1;
        int ok = 1;
        if (strcmp(key, "k") == 0 && (L->kind == SVDD__CONV2D || L->kind == SVDD__CONV_TRANSPOSE2D))
            ok = parse_int(val, 1, 64, &L->k);
        else if (strcmp(key, "pad") == 0 && (L->kind == SVDD__CONV2D || L->kind == SVDD__CONV_TRANSPOSE2D))
            ok = parse_int(val, 0, 64, &L->pad);
        else if (strcmp(key, "eps") == 0 && L->kind == SVDD__BATCHNORM)
            ok = parse_float(val, 1e-30, 1.0, &L->eps);
        else if (strcmp(key, "momentum") == 0 && L->kind == SVDD__BATCHNORM)
            ok = parse_float(val, 0.0, 1.0, &L->momentum);
        else if (strcmp(key, "slope") == 0 &&
                 (L->kind == SVDD__LEAKY_RELU || L->kind == SVDD__CONV2D ||
                  L->kind == SVDD__CONV_TRANSPOSE2D || L->kind == SVDD__LINEAR))
            ok = parse_float(val, 0.0, 1.0, &L->slope);
        else if (strcmp(key, "init") == 0 &&
                 (L->kind == SVDD__CONV2D || L->kind == SVDD__CONV_TRANSPOSE2D || L->kind == SVDD__LINEAR)) {
            if (strcmp(val, "default") == 0) L->init = SVDD__INIT_DEFAULT;
            else if (strcmp(val, "xavier_leaky") == 0) L->init = SVDD__INIT_XAVIER_LEAKY;
            else return bad(ps, "unknown init '%s' (default or xavier_leaky)", val);
        } else
            return bad(ps, "option '%s' does not apply to this layer", key);
        if (!ok) return bad(ps, "value of '%s' is not a number in range", key);
    }
    return SVDD_OK;
}

static const struct {
    const char *word;
    svdd__layer_kind kind;
    const char *prefix;
} KINDS[] = {
    {"conv2d", SVDD__CONV2D, "conv"},       {"conv_transpose2d", SVDD__CONV_TRANSPOSE2D, "deconv"},
    {"batchnorm", SVDD__BATCHNORM, "bn"},   {"leaky_relu", SVDD__LEAKY_RELU, "lrelu"},
    {"maxpool2d", SVDD__MAXPOOL2D, "pool"}, {"upsample2d", SVDD__UPSAMPLE2D, "up"},
    {"linear", SVDD__LINEAR, "fc"},         {"sigmoid", SVDD__SIGMOID, "sigmoid"},
    {"flatten", SVDD__FLATTEN, "flatten"},  {"reshape", SVDD__RESHAPE, "reshape"},
};

/* Parse one layer line; shapes flow from (*c,*h,*w). */
static svdd_status parse_layer(parser *ps, svdd__layer *L, char **tok, int n, int *c, int *h, int *w,
                               int *kind_count) {
    int kind = -1;
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (strcmp(tok[0], KINDS[i].word) == 0) kind = (int)i;
    if (kind < 0) return bad(ps, "unknown layer '%s'", tok[0]);
    memset(L, 0, sizeof *L);
    L->kind = KINDS[kind].kind;
    L->line = ps->line;
    L->in_c = *c, L->in_h = *h, L->in_w = *w;
    L->eps = 1e-5f;
    L->momentum = 0.1f;
    L->slope = 0.01f;
    L->k = 0;
    snprintf(L->name, sizeof L->name, "%s%d", KINDS[kind].prefix, ++kind_count[kind]);
    int first_opt = 1;
    if (L->kind == SVDD__CONV2D || L->kind == SVDD__CONV_TRANSPOSE2D || L->kind == SVDD__LINEAR) {
        if (n < 2 || !parse_int(tok[1], 1, SPEC_MAX_DIM, &L->out_c))
            return bad(ps, "%s needs its number of outputs, e.g. '%s 8'", tok[0], tok[0]);
        first_opt = 2;
    } else if (L->kind == SVDD__RESHAPE) {
        if (n < 4 || !parse_int(tok[1], 1, SPEC_MAX_DIM, &L->out_c) || !parse_int(tok[2], 1, SPEC_MAX_DIM, &L->out_h) ||
            !parse_int(tok[3], 1, SPEC_MAX_DIM, &L->out_w))
            return bad(ps, "reshape needs three positive sizes C H W");
        first_opt = 4;
    } else if (L->kind == SVDD__MAXPOOL2D || L->kind == SVDD__UPSAMPLE2D) {
        if (n >= 2 && !strchr(tok[1], '=')) {
            int f;
            if (!parse_int(tok[1], 2, 2, &f)) return bad(ps, "%s supports a factor of 2 only", tok[0]);
            first_opt = 2;
        }
    }
    svdd_status st = parse_options(ps, L, tok, n, first_opt);
    if (st != SVDD_OK) return st;

    size_t in_size = (size_t)*c * (size_t)*h * (size_t)*w;
    switch (L->kind) {
    case SVDD__CONV2D:
    case SVDD__CONV_TRANSPOSE2D: {
        if (L->k == 0) return bad(ps, "%s needs a kernel size k=", tok[0]);
        long oh, ow;
        if (L->kind == SVDD__CONV2D) {
            oh = (long)*h + 2L * L->pad - L->k + 1;
            ow = (long)*w + 2L * L->pad - L->k + 1;
        } else {
            oh = (long)*h - 1 - 2L * L->pad + L->k;
            ow = (long)*w - 1 - 2L * L->pad + L->k;
            if (L->pad >= L->k) return bad(ps, "conv_transpose2d needs pad < k");
        }
        if (oh < 1 || ow < 1 || oh > SPEC_MAX_DIM || ow > SPEC_MAX_DIM)
            return bad(ps, "%s gives an empty or oversized output for this input", tok[0]);
        if (L->kind == SVDD__CONV2D && L->pad >= L->k)
            return bad(ps, "conv2d needs pad < k");
        L->out_h = (int)oh, L->out_w = (int)ow;
        L->w_len = (size_t)L->out_c * (size_t)*c * (size_t)L->k * (size_t)L->k;
        break;
    }
    case SVDD__LINEAR:
        L->out_h = L->out_w = 1;
        L->w_len = (size_t)L->out_c * in_size;
        break;
    case SVDD__BATCHNORM:
        L->out_c = *c, L->out_h = *h, L->out_w = *w;
        L->stat_off = ps->n_state;
        ps->n_state += 2 * (size_t)*c;
        break;
    case SVDD__MAXPOOL2D:
        if (*h < 2 || *w < 2) return bad(ps, "maxpool2d needs an input of at least 2x2");
        L->out_c = *c, L->out_h = *h / 2, L->out_w = *w / 2;
        break;
    case SVDD__UPSAMPLE2D:
        L->out_c = *c, L->out_h = *h * 2, L->out_w = *w * 2;
        if (L->out_h > SPEC_MAX_DIM || L->out_w > SPEC_MAX_DIM) return bad(ps, "upsample2d output too large");
        break;
    case SVDD__LEAKY_RELU:
    case SVDD__SIGMOID:
        L->out_c = *c, L->out_h = *h, L->out_w = *w;
        break;
    case SVDD__FLATTEN:
        if (in_size > INT_MAX) return bad(ps, "flatten: input too large");
        L->out_c = (int)in_size, L->out_h = L->out_w = 1;
        break;
    case SVDD__RESHAPE:
        if ((size_t)L->out_c * L->out_h * L->out_w != in_size)
            return bad(ps, "reshape must keep the number of values");
        break;
    }
    if (L->w_len > SPEC_MAX_PARAMS || ps->n_params + L->w_len > SPEC_MAX_PARAMS)
        return bad(ps, "too many parameters");
    if ((size_t)L->out_c * L->out_h * L->out_w > SPEC_MAX_ACTIVATION)
        return bad(ps, "activation too large");
    L->w_off = ps->n_params;
    ps->n_params += L->w_len;
    *c = L->out_c, *h = L->out_h, *w = L->out_w;
    return SVDD_OK;
}

svdd_status svdd__spec_parse(svdd_net *net, const char *spec, const char *spec_name, svdd_error *err) {
    parser ps = {spec_name ? spec_name : "spec", 0, err, 0, 0};
    svdd__layer layers[2][SVDD__MAX_LAYERS];
    int nl[2] = {0, 0};
    int section = -1, have_version = 0, have_input = 0, have_decoder = 0;
    int c = 0, h = 0, w = 0, in_c = 0, in_h = 0, in_w = 0, lat_c = 0;
    int kind_count[2][sizeof KINDS / sizeof KINDS[0]];
    memset(kind_count, 0, sizeof kind_count);
    const char *p = spec;
    net->name[0] = '\0';
    while (*p) {
        char line[SPEC_MAX_LINE + 1];
        size_t len = strcspn(p, "\n");
        ps.line++;
        if (len > SPEC_MAX_LINE) return bad(&ps, "line longer than 256 characters");
        memcpy(line, p, len);
        line[len] = '\0';
        p += len;
        if (*p == '\n') p++;
        char *tok[10];
        int n = tokenize(line, tok, 10);
        if (n < 0) return bad(&ps, "too many words on the line");
        if (n == 0) continue;
        if (!have_version) {
            int v;
            if (strcmp(tok[0], "svdd-spec") != 0 || n != 2)
                return bad(&ps, "the first line must be 'svdd-spec 1'");
            if (!parse_int(tok[1], 1, 1, &v)) return bad(&ps, "unsupported spec version '%s' (this build reads 1)", tok[1]);
            have_version = 1;
        } else if (strcmp(tok[0], "name") == 0) {
            if (n != 2 || strlen(tok[1]) >= sizeof net->name) return bad(&ps, "name takes one word (at most 63 characters)");
            snprintf(net->name, sizeof net->name, "%s", tok[1]);
        } else if (strcmp(tok[0], "input") == 0) {
            if (have_input || section >= 0) return bad(&ps, "'input' must come once, before the encoder");
            if (n != 4 || !parse_int(tok[1], 1, 64, &in_c) || !parse_int(tok[2], 1, 4096, &in_h) ||
                !parse_int(tok[3], 1, 4096, &in_w))
                return bad(&ps, "input takes three sizes C H W (C <= 64, H, W <= 4096)");
            c = in_c, h = in_h, w = in_w;
            have_input = 1;
        } else if (strcmp(tok[0], "encoder") == 0 && n == 1) {
            if (!have_input || section != -1) return bad(&ps, "'encoder' must follow 'input', once");
            section = 0;
        } else if (strcmp(tok[0], "decoder") == 0 && n == 1) {
            if (section != 0) return bad(&ps, "'decoder' must follow the encoder, once");
            if (nl[0] == 0) return bad(&ps, "the encoder has no layers");
            if (h != 1 || w != 1) return bad(&ps, "the encoder must end in a vector (flatten + linear)");
            lat_c = c;
            section = 1;
            have_decoder = 1;
        } else {
            if (section < 0) return bad(&ps, "layer '%s' before 'encoder'", tok[0]);
            if (nl[section] == SVDD__MAX_LAYERS) return bad(&ps, "more than 64 layers in a section");
            svdd_status st = parse_layer(&ps, &layers[section][nl[section]], tok, n, &c, &h, &w, kind_count[section]);
            if (st != SVDD_OK) return st;
            nl[section]++;
        }
    }
    ps.line++;
    if (!have_version) return bad(&ps, "empty spec (expected 'svdd-spec 1')");
    if (section < 0 || nl[0] == 0) return bad(&ps, "no encoder layers");
    if (!have_decoder) {
        if (h != 1 || w != 1) return bad(&ps, "the encoder must end in a vector (flatten + linear)");
        lat_c = c;
    } else {
        if (nl[1] == 0) return bad(&ps, "the decoder has no layers");
        if (c != in_c || h != in_h || w != in_w) {
            char msg[120];
            snprintf(msg, sizeof msg, "the decoder outputs %dx%dx%d but the input is %dx%dx%d", c, h, w, in_c, in_h, in_w);
            return bad(&ps, "%s", msg);
        }
    }
    /* The encoder's parameters come first in the buffer (they were parsed first). */
    size_t enc_params = 0;
    for (int i = 0; i < nl[0]; i++) enc_params += layers[0][i].w_len;
    for (int s = 0; s < 2; s++) {
        svdd__stack *st = s == 0 ? &net->enc : &net->dec;
        memset(st, 0, sizeof *st);
        if (nl[s] == 0) continue;
        st->layers = calloc((size_t)nl[s], sizeof(svdd__layer));
        if (!st->layers) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", ps.name);
        memcpy(st->layers, layers[s], sizeof(svdd__layer) * (size_t)nl[s]);
        st->n = nl[s];
        st->in_c = s == 0 ? in_c : lat_c, st->in_h = s == 0 ? in_h : 1, st->in_w = s == 0 ? in_w : 1;
        svdd__layer *last = &st->layers[nl[s] - 1];
        st->out_c = last->out_c, st->out_h = last->out_h, st->out_w = last->out_w;
    }
    net->n_params = ps.n_params;
    net->n_enc_params = enc_params;
    net->n_state = ps.n_state;
    if (!net->name[0]) snprintf(net->name, sizeof net->name, "%s", "unnamed");
    return SVDD_OK;
}
