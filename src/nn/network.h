/* A network: an encoder stack (the Deep SVDD network) and an optional decoder stack, built from a
 * text spec. All parameters of both stacks live in one buffer (encoder first), mirrored by the
 * gradient and Adam buffers, so the optimiser is one flat loop and the encoder seen by the
 * autoencoder and by Deep SVDD is the same memory. */
#ifndef SVDD_NETWORK_H
#define SVDD_NETWORK_H

#include "layers.h"

typedef enum svdd__layer_kind {
    SVDD__CONV2D,
    SVDD__CONV_TRANSPOSE2D,
    SVDD__BATCHNORM,
    SVDD__LEAKY_RELU,
    SVDD__MAXPOOL2D,
    SVDD__UPSAMPLE2D,
    SVDD__LINEAR,
    SVDD__SIGMOID,
    SVDD__FLATTEN,
    SVDD__RESHAPE
} svdd__layer_kind;

typedef enum svdd__init_kind { SVDD__INIT_DEFAULT, SVDD__INIT_XAVIER_LEAKY } svdd__init_kind;

typedef struct svdd__layer {
    svdd__layer_kind kind;
    int in_c, in_h, in_w;    /* one image's input shape (1-d data: c features, h = w = 1) */
    int out_c, out_h, out_w; /* one image's output shape */
    int k, pad;              /* convolutions */
    float eps, momentum;     /* batch norm */
    float slope;             /* leaky ReLU; for init=xavier_leaky the slope of its gain */
    svdd__init_kind init;
    size_t w_off, w_len;     /* weights in the parameter buffer (0 length if none) */
    size_t stat_off;         /* batch norm: running mean at stat_off, running var after it */
    int line;                /* line in the spec, for messages */
    char name[24];           /* "conv1", "bn2", "fc1", "deconv1", ... */
    /* run-time caches for the reserved batch capacity */
    float *out;              /* (cap, out size) */
    float *mean, *rstd;      /* batch norm, (C) each */
} svdd__layer;

typedef struct svdd__stack {
    svdd__layer *layers;
    int n;
    int in_c, in_h, in_w, out_c, out_h, out_w;
    const float *input; /* the input of the last forward (owned by the caller) */
} svdd__stack;

struct svdd_net {
    char *spec;           /* the spec text it was built from */
    char name[64];
    svdd__stack enc, dec;
    size_t n_params, n_enc_params;
    float *params, *grads, *adam_m, *adam_v, *adam_vmax; /* n_params each, one allocation */
    size_t n_state;
    float *state;         /* batch-norm running statistics */
    long adam_step;
    int threads;
    /* run-time buffers for `cap` images */
    int cap;
    float *cache_block;   /* every layer's out/mean/rstd */
    float *grad_a, *grad_b; /* ping-pong activation gradients, (cap, largest activation) */
    float *dlatent;       /* (cap, latent): where the losses on the code meet */
    svdd__workspace ws;
};

/* Parse a spec into layer tables (shapes, offsets) without allocating run-time buffers. */
svdd_status svdd__spec_parse(svdd_net *net, const char *spec, const char *spec_name, svdd_error *err);

/* Make room for batches of up to B images. */
svdd_status svdd__net_reserve(svdd_net *net, int B, svdd_error *err);

/* Forward a batch through a stack; `train` selects batch statistics (and updates the running
 * ones). Returns the output (owned by the network, valid until the next forward of that stack).
 * x must stay alive until the matching backward. */
const float *svdd__stack_forward(svdd_net *net, svdd__stack *st, const float *x, int B, int train);

/* Back-propagate dout (gradient of the stack's output) through layers n-1 down to `stop`,
 * accumulating parameter gradients. Returns the gradient of the input of layer `stop` (a network
 * buffer, valid until the next backward) or NULL when stop == 0 and !need_input_grad. `train`
 * must match the forward. */
float *svdd__stack_backward(svdd_net *net, svdd__stack *st, const float *dout, int B, int stop,
                            int need_input_grad, int train);

/* Zero the gradients of the chosen parts. */
void svdd__net_zero_grad(svdd_net *net, svdd_part part);
/* One Adam step over the chosen parts' contiguous parameter range. */
void svdd__net_adam_step(svdd_net *net, svdd_part part, float lr, float weight_decay, int amsgrad);
/* Reset Adam's moments and step counter (a new optimiser, as a new torch.optim.Adam). */
void svdd__net_adam_reset(svdd_net *net);

size_t svdd__stack_out_size(const svdd__stack *st); /* out_c*out_h*out_w */
size_t svdd__stack_in_size(const svdd__stack *st);

/* The tensors of the network in a fixed order, named as in PyTorch's state_dict of the reference
 * networks' layout ("encoder.conv1.weight", "encoder.bn1.running_mean", ...). */
typedef struct svdd__tensor_info {
    char name[64];
    int ndim;
    int shape[4];
    float *data;
    size_t len;
    int is_param; /* 0 for batch-norm running statistics */
} svdd__tensor_info;
int svdd__net_tensor_count(const svdd_net *net);
void svdd__net_tensor(const svdd_net *net, int i, svdd__tensor_info *info);

#endif
