/* The model object: everything needed to score new images and apply the threshold. */
#ifndef SVDD_MODEL_H
#define SVDD_MODEL_H

#include "../nn/network.h"
#include "gaussian.h"
#include "images.h"

struct svdd_model {
    svdd_net *net;
    char spec_name[64];
    svdd_preprocess pp;
    svdd_objective objective;
    svdd_hybrid_score hybrid_score;
    float *center;              /* latent_dim */
    double radius;              /* R, soft-boundary */
    /* standardisation of the hybrid's terms, fitted on the normal training images */
    double dist_mean, dist_std, recon_mean, recon_std;
    svdd__gaussian gauss;       /* latent Gaussian (Mahalanobis) */
    /* held-out normal calibration images: their distances, reconstruction errors (hybrid) and
     * squared Mahalanobis distances, from which every threshold kind is derived */
    size_t n_cal;
    float *cal_dist, *cal_recon, *cal_maha;
    /* mean feature maps over the normal training images (evaluation mode) of every encoder
     * activation layer with spatial maps, indexed by layer; NULL elsewhere (Grad-CAM baselines) */
    float **mean_act;
    /* statistics of the input-level excess maps (SVDD_CAM_EXCESS), from the normal training
     * images: their mean (preprocessed, C x H x W), and per explainable score (n_excess rows, the
     * order of svdd__explain_score_count) the per-pixel threshold on relevance shares (H x W).
     * NULL in models saved before they existed. */
    float *input_mean, *excess_thr;
    int n_excess;
    svdd_threshold_kind threshold_kind;
    double target_fpr, threshold;
    /* provenance */
    size_t n_train;
    char dataset[64];
    int normal_class;
    uint64_t seed;
    svdd_fit_options fit;       /* the training configuration (its pointers are not kept) */
};

/* The model's base score of one image from its distance and reconstruction error. */
double svdd__model_base_score(const svdd_model *m, double dist, double recon);
/* Does encoder layer i keep a mean feature map? (a leaky ReLU with spatial output) */
int svdd__model_keeps_mean_act(const svdd_net *net, int i);
/* Compute the mean feature maps over the images. */
svdd_status svdd__model_fit_mean_act(svdd_model *m, const svdd__images *im, svdd_error *err);
/* Explanations (src/eval/gradcam.c): how many scores a model can be switched between (rows of
 * excess_thr: distance, Mahalanobis, and for hybrids the sum and the reconstruction error); fit
 * the excess-map statistics on the normal images; d S / d x of the model's current
 * score for B <= 50 preprocessed images (gx B x input size, s the scores, may be NULL). */
int svdd__explain_score_count(const svdd_model *m);
svdd_status svdd__explain_fit(svdd_model *m, const svdd__images *im, svdd_error *err);
svdd_status svdd__score_input_grad(svdd_model *m, const float *x, int B, float *gx, float *s, svdd_error *err);
/* Allocate an empty model (all pointers NULL). */
svdd_model *svdd__model_new(void);

#endif
