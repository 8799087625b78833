/* The built-in architectures: the LeNet-type networks of the Deep SVDD reference implementation
 * (Ruff et al., "Deep One-Class Classification", ICML 2018), encoder and autoencoder decoder.
 *
 * The reference CIFAR-10 autoencoder applies a BatchNorm1d to the 128-d code inside its encoder,
 * while its Deep SVDD network ends at the linear layer. Here that batch norm opens the decoder,
 * which computes exactly the same autoencoder and lets the encoder be the Deep SVDD network
 * itself. */
#include <string.h>

#include "svdd.h"

static const char MNIST_LENET[] =
    "svdd-spec 1\n"
    "name mnist-lenet\n"
    "input 1 28 28\n"
    "encoder\n"
    "conv2d 8 k=5 pad=2\n"
    "batchnorm eps=1e-4\n"
    "leaky_relu slope=0.01\n"
    "maxpool2d 2\n"
    "conv2d 4 k=5 pad=2\n"
    "batchnorm eps=1e-4\n"
    "leaky_relu slope=0.01\n"
    "maxpool2d 2\n"
    "flatten\n"
    "linear 32\n"
    "decoder\n"
    "reshape 2 4 4\n"
    "leaky_relu slope=0.01\n"
    "upsample2d 2\n"
    "conv_transpose2d 4 k=5 pad=2\n"
    "batchnorm eps=1e-4\n"
    "leaky_relu slope=0.01\n"
    "upsample2d 2\n"
    "conv_transpose2d 8 k=5 pad=3\n"
    "batchnorm eps=1e-4\n"
    "leaky_relu slope=0.01\n"
    "upsample2d 2\n"
    "conv_transpose2d 1 k=5 pad=2\n"
    "sigmoid\n";

/* The reference CIFAR-10 autoencoder initialises every convolution (encoder and decoder) with
 * Xavier-uniform and the leaky-ReLU gain; its Deep SVDD network uses PyTorch's defaults. The
 * Deep SVDD network is initialised from the pre-trained autoencoder, so the spec follows the
 * autoencoder. */
static const char CIFAR10_LENET[] =
    "svdd-spec 1\n"
    "name cifar10-lenet\n"
    "input 3 32 32\n"
    "encoder\n"
    "conv2d 32 k=5 pad=2 init=xavier_leaky\n"
    "batchnorm eps=1e-4\n"
    "leaky_relu slope=0.01\n"
    "maxpool2d 2\n"
    "conv2d 64 k=5 pad=2 init=xavier_leaky\n"
    "batchnorm eps=1e-4\n"
    "leaky_relu slope=0.01\n"
    "maxpool2d 2\n"
    "conv2d 128 k=5 pad=2 init=xavier_leaky\n"
    "batchnorm eps=1e-4\n"
    "leaky_relu slope=0.01\n"
    "maxpool2d 2\n"
    "flatten\n"
    "linear 128\n"
    "decoder\n"
    "batchnorm eps=1e-4\n"
    "reshape 8 4 4\n"
    "leaky_relu slope=0.01\n"
    "conv_transpose2d 128 k=5 pad=2 init=xavier_leaky\n"
    "batchnorm eps=1e-4\n"
    "leaky_relu slope=0.01\n"
    "upsample2d 2\n"
    "conv_transpose2d 64 k=5 pad=2 init=xavier_leaky\n"
    "batchnorm eps=1e-4\n"
    "leaky_relu slope=0.01\n"
    "upsample2d 2\n"
    "conv_transpose2d 32 k=5 pad=2 init=xavier_leaky\n"
    "batchnorm eps=1e-4\n"
    "leaky_relu slope=0.01\n"
    "upsample2d 2\n"
    "conv_transpose2d 3 k=5 pad=2 init=xavier_leaky\n"
    "sigmoid\n";

static const char *const NAMES[] = {"mnist-lenet", "cifar10-lenet", NULL};

const char *svdd_spec_builtin(const char *name) {
    if (!name) return NULL;
    if (strcmp(name, "mnist-lenet") == 0) return MNIST_LENET;
    if (strcmp(name, "cifar10-lenet") == 0) return CIFAR10_LENET;
    return NULL;
}

const char *const *svdd_spec_builtin_names(void) { return NAMES; }
