/* Fuzz target: the network spec parser (src/nn/spec.c). The input is the spec text (a NUL is
 * appended: specs are C strings, and the CLI reads --spec files into one).
 *
 * A spec that parses is built into a network when it is small enough to be cheap (a valid spec
 * may ask for 2^28 parameters, which is a large network, not a parser bug), and described; the
 * layer table must be consistent: shapes chain from layer to layer, parameter offsets tile the
 * buffer, and the encoder ends in a vector. */
#include "nn/network.h"
#include "fuzz_common.h"

static volatile unsigned sink;

/* Shapes chain and offsets tile; returns the parameters counted. */
static size_t check_stack(const svdd__stack *s, size_t off) {
    int c = s->in_c, h = s->in_h, w = s->in_w;
    for (int i = 0; i < s->n; i++) {
        const svdd__layer *L = &s->layers[i];
        if (L->in_c != c || L->in_h != h || L->in_w != w) abort();
        if (L->out_c < 1 || L->out_h < 1 || L->out_w < 1) abort();
        if (L->w_len && L->w_off != off) abort();
        off += L->w_len;
        c = L->out_c, h = L->out_h, w = L->out_w;
    }
    if (s->n && (c != s->out_c || h != s->out_h || w != s->out_w)) abort();
    return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) abort();
    if (size) memcpy(text, data, size);
    text[size] = '\0';

    svdd_net probe;
    memset(&probe, 0, sizeof probe);
    svdd_error err = fuzz_error();
    svdd_status st = svdd__spec_parse(&probe, text, "fuzz.spec", &err);
    fuzz_check_failure(st, &err, NULL);
    if (st == SVDD_OK) {
        if (probe.enc.n < 1 || probe.enc.out_h != 1 || probe.enc.out_w != 1) abort();
        size_t enc = check_stack(&probe.enc, 0);
        if (enc != probe.n_enc_params) abort();
        if (probe.dec.n) {
            if (probe.dec.in_c != probe.enc.out_c || probe.dec.out_c != probe.enc.in_c ||
                probe.dec.out_h != probe.enc.in_h || probe.dec.out_w != probe.enc.in_w)
                abort();
        }
        if (check_stack(&probe.dec, enc) != probe.n_params) abort();
    }
    free(probe.enc.layers);
    free(probe.dec.layers);

    /* the public entry point: parse, allocate, initialise */
    if (st == SVDD_OK && probe.n_params <= ((size_t)1 << 20)) {
        svdd_net *net = NULL;
        err = fuzz_error();
        svdd_status st2 = svdd_net_create(&net, text, "fuzz.spec", 1, &err);
        if (st2 != SVDD_OK) abort(); /* it parsed once; only memory could fail, and it is small */
        char buf[8192];
        svdd_net_describe(net, buf, sizeof buf);
        sink += (unsigned)strlen(buf) + (unsigned)svdd_net_latent_dim(net);
        svdd_net_free(net);
    }
    free(text);
    return 0;
}
