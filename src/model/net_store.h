/* The network's tensors in safetensors files, and fingerprints of what a file was made from.
 * Model files, checkpoints and the pre-training cache all store the network the same way: every
 * tensor of svdd__net_tensor under its name ("encoder.conv1.weight", ...), as F32. */
#ifndef SVDD_NET_STORE_H
#define SVDD_NET_STORE_H

#include "../io/safetensors.h"
#include "../nn/network.h"

/* Add the parameters and batch-norm statistics of `net` to `w` (borrowed: `net` must outlive the
 * write). */
svdd_status svdd__net_write_tensors(svdd__st_writer *w, const svdd_net *net, svdd_error *err);
/* Read them from `st` into `net`, built from the spec the file was written from: every tensor
 * present with its exact shape, finite, and the running variances non-negative. Messages name the
 * file (`st`'s name) and the tensor. On failure `net` may hold part of the file. */
svdd_status svdd__net_read_tensors(svdd_net *net, const svdd__st *st, svdd_error *err);

/* 64-bit FNV-1a, continuing from h (SVDD__FNV1A_BASIS to start): a fingerprint against using a
 * file made from other inputs by mistake, not a defence against crafted collisions. */
#define SVDD__FNV1A_BASIS 0xcbf29ce484222325ull
uint64_t svdd__fnv1a(uint64_t h, const void *data, size_t len);

#endif
