/* A network: an encoder stack (the Deep SVDD network) and an optional decoder stack, built from a
 * text spec. All parameters of both stacks live in one buffer (encoder first), mirrored by the
 * gradient and Adam buffers, so the optimiser is one flat loop and the encoder seen by the
 * autoencoder and by Deep SVDD is the same memory. */
#ifndef SVDD_NETWORK_H
#define SVDD_NETWORK_H

#include "layers.h"

/* Layers in one stack at most (the spec parser refuses more). */
#define SVDD__MAX_LAYERS 64

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

/* Where a layer's output lives (chosen by svdd__net_reserve; see network.c for why each is safe).
 * Every layer's output is valid after a forward except a TRANSIENT one's, which only its next
 * layer reads, during the forward. */
typedef enum svdd__out_kind {
    SVDD__OUT_OWN,       /* its own (cap, out size) region of the cache block */
    SVDD__OUT_INPLACE,   /* the previous layer's output, overwritten (batch norm, sigmoid after a
                          * convolution or linear layer, whose output no backward reads; a leaky
                          * ReLU with slope > 0 after batch norm, whose backward puts batch
                          * norm's output back before batch norm's backward reads it); that
                          * layer's out then shows the next layer's values */
    SVDD__OUT_ALIAS,     /* its input itself (flatten, reshape), set by each forward */
    SVDD__OUT_TRANSIENT, /* the start of the gradient buffer, which is free during a forward */
    SVDD__OUT_FUSED      /* a decoder's upsampling read by the transposed convolution after it
                          * through its input (never stored): out is set by each forward to
                          * the layer's input, at the input's size */
} svdd__out_kind;

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
    svdd__out_kind out_kind;
    float *out;              /* (cap, out size), see out_kind */
    float *mean, *rstd;      /* batch norm, (C) each */
    int restore;             /* an in-place leaky ReLU whose output has not been turned back yet */
    /* batch norm: the layer next to it took its sums group by group (bn_stats), in the forward
     * the convolution before it, in the backward the pooling after it */
    int sums_ready;
    /* training's forward left the output in the lanes (svdd__block_lanes_applies) */
    int lanes;
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
    float *cache_block;   /* the OWN layer outputs, batch-norm mean/rstd */
    /* Activation gradients: a layer that cannot work in place reads its output's gradient at
     * one end and writes its input's at the other, so the buffer needs the largest (input +
     * output) of such a layer, not twice the largest activation. */
    float *grad_block;
    size_t grad_len;      /* floats in grad_block */
    float *dlatent;       /* (cap, latent): where the losses on the code meet */
    double *bn_stats;     /* a batch norm's sums by groups of images, taken by the layer next to it */
    /* Floats max pooling's backward may add to the gradient buffer to run in one round instead of
     * two (svdd__net_reserve; the tests set 0 to have the rounds) */
    size_t pool_one_round_extra;
    /* 1: the blocks of svdd__block_backward go layer by layer (the tests compare the two) */
    int layer_by_layer;
    /* 1: such blocks keep their maps in the images' own layout, not in the lanes
     * (svdd__block_lanes_applies; the tests compare the one-pass backward on both) */
    int maps_in_images;
    svdd__workspace ws;
};

#define SVDD__POOL_ONE_ROUND_EXTRA ((size_t)1 << 19) /* 2 MiB */

/* Parse a spec into layer tables (shapes, offsets) without allocating run-time buffers. */
svdd_status svdd__spec_parse(svdd_net *net, const char *spec, const char *spec_name, svdd_error *err);

/* Make room for batches of up to B images. */
svdd_status svdd__net_reserve(svdd_net *net, int B, svdd_error *err);
/* Give the run-time buffers back (a fit between its phases: a training batch's activations and
 * gradients are the largest memory of a run); the next reserve makes them again. */
void svdd__net_release(svdd_net *net);

/* Whether layer i's output is overwritten in place by the next layer's (a batch norm or sigmoid
 * after a convolution or linear layer): after a forward, layer i's out holds the next layer's
 * values, so nothing may read it as layer i's. */
int svdd__output_overwritten(const svdd__stack *st, int i);

/* Forward a batch through a stack; `train` selects batch statistics (and updates the running
 * ones). Returns the output (owned by the network, valid until the next forward of that stack).
 * x must stay alive until the matching backward. A forward may overwrite what the last backward
 * returned. */
const float *svdd__stack_forward(svdd_net *net, svdd__stack *st, const float *x, int B, int train);
/* The same from layer `first` on, whose input is `in` (the stack's input must be set already). */
const float *svdd__stack_forward_from(svdd_net *net, svdd__stack *st, const float *in, int B, int train, int first);

/* An evaluation-mode forward that keeps only the output (infer.c): the stack's output as
 * svdd__stack_forward(net, st, x, B, 0) gives it (up to the sign of a zero), but the other layers'
 * outputs are left undefined, so no backward may follow. Faster where the stack opens with
 * direct convolutions (the MNIST encoder): they run image by image through the opening blocks. */
const float *svdd__stack_infer(svdd_net *net, svdd__stack *st, const float *x, int B);
/* Floats of workspace per thread svdd__stack_infer needs (0: it runs layer by layer). */
size_t svdd__stack_infer_scratch(const svdd__stack *st);

/* Back-propagate dout (gradient of the stack's output) through layers n-1 down to `stop`,
 * accumulating parameter gradients. Returns the gradient of the input of layer `stop` (a network
 * buffer, valid until the next backward or forward; dout itself when it passes unchanged) or NULL
 * when stop == 0 and !need_input_grad. `train` must match the forward. A dout that is itself a
 * network buffer (the result of the other stack's backward) may be overwritten. */
float *svdd__stack_backward(svdd_net *net, svdd__stack *st, const float *dout, int B, int stop,
                            int need_input_grad, int train);

/* Training's backward of the block conv2d, batch norm, leaky ReLU (over batch norm's output: its
 * restore flag set), max pooling at L[0..3] in one go (src/nn/block_backward.c): from g, the
 * pooling's output gradient, to the convolution's weight gradient and input gradient dinp (NULL:
 * not wanted; never over g), in is the convolution's input. 1 when it ran; 0 where it does not
 * apply (the convolution off the lanes, or maps larger than its buffers), nothing done. */
int svdd__block_backward(svdd_net *net, const svdd__layer *L, const float *in, const float *g, float *dinp, int B,
                         svdd__workspace *ws);
/* Whether it applies to L[0..3] at batch B as far as the layers go (it also needs the leaky ReLU's
 * restore flag, and dinp apart from g). Where it ran, the leaky ReLU's output is left as it is
 * (layer by layer, its backward puts batch norm's output back under it). */
int svdd__block_backward_applies(const svdd__layer *L, int B);
/* Whether training's forward keeps such a block's maps in the lanes: the convolution's output, and
 * batch norm's and the leaky ReLU's over it, as (B/8, C, H, W, 8), eight images one per lane
 * (svdd__conv2d_forward_lanes, svdd__batchnorm_lrelu_pool_lanes); the pooling's output stays the
 * images' own. The backward then reads them there (no transposes of the large maps either way).
 * It sets the three layers' `lanes` flags; svdd__block_maps_to_images puts the maps back into
 * the images' own layout (a backward that cannot take the block in one go, and the tests). */
int svdd__block_lanes_applies(const svdd_net *net, const svdd__layer *L, int B);
/* The leaky ReLU's output of the block at L, in the lanes, to (B, C, H, W) in place; clears the
 * flags. scratch: 8 C H W floats. */
void svdd__block_maps_to_images(svdd__layer *L, int B, float *scratch);

/* Where a loss on the decoder's output writes its gradient for svdd__stack_backward: the start
 * of the gradient buffer, which nothing holds between a forward and the backward that follows
 * (the decoder's backward reads it there, then its layers write over it in place or from the
 * other end). Room for the reserved batch of decoder outputs: every layer's gradient, at least
 * the size of its output, fits in the buffer. Valid until the next backward. */
float *svdd__recon_grad(svdd_net *net);

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
