/* Checkpoints of a fit: the whole training state, so that a run killed at any moment continues
 * from its last checkpoint and ends with exactly the model an uninterrupted run gives (one
 * thread, same options). docs/methods.md, "Checkpoints and faults", describes the file. */
#ifndef SVDD_CHECKPOINT_H
#define SVDD_CHECKPOINT_H

#include "train.h"

typedef enum svdd__phase { SVDD__PHASE_PRETRAIN = 0, SVDD__PHASE_OBJECTIVE = 1 } svdd__phase;

/* What a checkpoint holds besides the network (parameters, batch-norm statistics, Adam's
 * moments and step count, which live in svdd_net). */
typedef struct svdd__ckpt {
    svdd__phase phase;
    svdd__loop_pos pos; /* epochs done in the phase, shuffling state, R; pos.order is owned */
    float *center;      /* latent_dim entries in the objective phase, NULL before (owned) */
} svdd__ckpt;

/* Write the state atomically to `path`. `o` gives the schedule recorded with it, `data_key` the
 * images (svdd__images_key). Refuses (SVDD_E_NUMERIC, nothing written) a state holding NaN or
 * infinity. */
svdd_status svdd__ckpt_save(const char *path, const svdd_net *net, const svdd__ckpt *ck, const svdd_fit_options *o,
                            const char *data_key, svdd_error *err);
/* Read `path` into `net` (built from the same spec) and `ck` (free with svdd__ckpt_free; n: the
 * number of training images, the length of the order), after
 * checking the format and version, every tensor's shape against the network, finite values, a
 * permutation for the order, and that the schedule of `o` and the images are the checkpoint's
 * (threads and clip_grad_norm may differ; a difference is logged through o->log). On failure
 * the network may hold part of the file. */
svdd_status svdd__ckpt_load(const char *path, svdd_net *net, size_t n, svdd__ckpt *ck, const svdd_fit_options *o,
                            const char *data_key, svdd_error *err);
/* The same from a checkpoint held in memory (`name` is used in messages): what svdd__ckpt_load
 * runs on the file's bytes, and what the fuzz target drives. `data` may be freed afterwards. */
svdd_status svdd__ckpt_parse(const void *data, size_t len, const char *name, svdd_net *net, size_t n, svdd__ckpt *ck,
                             const svdd_fit_options *o, const char *data_key, svdd_error *err);
void svdd__ckpt_free(svdd__ckpt *ck);

/* The fit's side: resume at the start, a loop hook per phase, a hint on failure. */
typedef struct svdd__fit_ckpt {
    const svdd_fit_options *o;
    svdd_net *net;
    char data_key[64];
    int resumed;              /* `resume` holds the checkpoint resumed from */
    svdd__ckpt resume;
    svdd__phase phase;        /* of the current hook */
    const float *center;      /* objective phase: the centre saved with each checkpoint */
    svdd__loop_hook hook;
    const char *last_path;    /* the last checkpoint written or resumed from, NULL if none */
    svdd__phase last_phase;
    int last_epoch;
} svdd__fit_ckpt;

/* Prepare (all zero when neither checkpointing nor resuming); when o->resume_path is set, load
 * it into net. x: the n training images. */
svdd_status svdd__fit_ckpt_begin(svdd__fit_ckpt *fc, svdd_net *net, const svdd_fit_options *o, const svdd__images *im,
                                 svdd_error *err);
/* 1 when the run resumes inside (or after) `phase`. */
int svdd__fit_ckpt_resumes(const svdd__fit_ckpt *fc, svdd__phase phase);
/* The loop hook for a phase (NULL when there is nothing to do); `center` for the objective. */
const svdd__loop_hook *svdd__fit_ckpt_hook(svdd__fit_ckpt *fc, svdd__phase phase, const float *center);
/* After a failed fit: a numeric failure's message gains where the last good checkpoint is. */
svdd_status svdd__fit_ckpt_explain(const svdd__fit_ckpt *fc, svdd_status st, svdd_error *err);
void svdd__fit_ckpt_end(svdd__fit_ckpt *fc);

#endif
