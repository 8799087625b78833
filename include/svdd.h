/*
 * svdd.h - deep one-class anomaly detection on images (the whole public API).
 *
 * Overview
 * --------
 * svdd trains a detector on normal images only and scores new images. The engine is a small
 * from-scratch CNN library: networks are described by a text spec (see docs/spec.md), their
 * parameters live in one contiguous buffer, and the encoder of an autoencoder IS the Deep SVDD
 * network (the same parameters, never a copy), so that both losses can train it jointly.
 *
 * Conventions
 * -----------
 * - Every fallible function returns an svdd_status (SVDD_OK == 0, errors are negative) and, when
 *   `err` is not NULL, fills it with a message that names the file or argument and the problem.
 * - The library never prints and never exits; diagnostics go through an optional log callback.
 * - Objects are opaque and owned by the caller: every *_create / *_load has a matching *_free,
 *   and every *_free accepts NULL.
 * - Randomness comes only from explicit seeds; a fixed seed gives identical results on one thread.
 * - Images are uint8 NCHW (channels, rows, columns); network inputs are float32 NCHW.
 *
 * Worked example (train an autoencoder on the built-in synthetic set):
 *
 *     svdd_error err;
 *     svdd_dataset *ds = NULL;
 *     svdd_synthetic_options so = svdd_synthetic_defaults();
 *     if (svdd_dataset_synthetic(&ds, &so, &err) != SVDD_OK) { puts(err.message); return 1; }
 *     svdd_preprocess pp;
 *     svdd_preprocess_fit(&pp, ds, &err);
 *     float *x = malloc(svdd_dataset_count(ds) * svdd_dataset_image_size(ds) * sizeof(float));
 *     svdd_preprocess_apply(&pp, ds, 0, svdd_dataset_count(ds), x, &err);
 *     svdd_net *net = NULL;
 *     svdd_net_create(&net, svdd_spec_builtin("mnist-lenet"), "mnist-lenet", 42, &err);
 *     svdd_train_options to = svdd_train_defaults();
 *     to.epochs = 10;
 *     svdd_autoencoder_train(net, x, svdd_dataset_count(ds), &to, &err);
 *     svdd_net_free(net); svdd_dataset_free(ds); free(x);
 */
#ifndef SVDD_H
#define SVDD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define SVDD_API
#else
#define SVDD_API __attribute__((visibility("default")))
#endif

#define SVDD_VERSION_MAJOR 0
#define SVDD_VERSION_MINOR 1
#define SVDD_VERSION_PATCH 0
#define SVDD_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------------------------------------
 * Status and errors
 * ------------------------------------------------------------------------------------------- */

typedef enum svdd_status {
    SVDD_OK = 0,
    SVDD_E_INVALID = -1,     /* an argument is out of its documented range */
    SVDD_E_NOMEM = -2,       /* an allocation failed */
    SVDD_E_IO = -3,          /* a file could not be opened, read or written */
    SVDD_E_FORMAT = -4,      /* a file or spec is malformed (bad magic, sizes, values) */
    SVDD_E_LIMIT = -5,       /* an input exceeds a configured size limit */
    SVDD_E_UNSUPPORTED = -6, /* valid, but not something this build can do */
    SVDD_E_NUMERIC = -7      /* a NaN or infinity appeared where it must not */
} svdd_status;

#define SVDD_ERROR_MESSAGE_SIZE 512

/* Where a failing call explains itself. `status` repeats the return value. */
typedef struct svdd_error {
    svdd_status status;
    char message[SVDD_ERROR_MESSAGE_SIZE];
} svdd_error;

/* "SVDD_E_FORMAT" etc.; never NULL. */
SVDD_API const char *svdd_status_name(svdd_status status);
/* A short English description of a status; never NULL. */
SVDD_API const char *svdd_status_string(svdd_status status);
SVDD_API const char *svdd_version(void);

/* Write `len` bytes to `path` so that readers see either the old file or the whole new one: the
 * bytes go to a temporary file in the same folder, are flushed to disk, and the temporary file is
 * renamed over `path`. On failure `path` is untouched and nothing is left behind. A `path` that
 * names a device or a pipe (/dev/stdout, /dev/full) is written directly instead: renaming over it
 * would replace the device node. */
SVDD_API svdd_status svdd_write_file_atomic(const char *path, const void *data, size_t len, svdd_error *err);

typedef enum svdd_log_level { SVDD_LOG_DEBUG = 0, SVDD_LOG_INFO = 1, SVDD_LOG_WARN = 2 } svdd_log_level;
typedef void (*svdd_log_fn)(void *user, svdd_log_level level, const char *message);

/* ---------------------------------------------------------------------------------------------
 * Data sets: uint8 images (NCHW) with int32 labels
 * ------------------------------------------------------------------------------------------- */

typedef struct svdd_dataset svdd_dataset;

/* Upper bounds a loader checks before it allocates anything. Zero fields mean the defaults. */
typedef struct svdd_load_limits {
    uint64_t max_images;      /* default 10,000,000 */
    uint64_t max_pixel_bytes; /* default 4 GiB of decoded pixels */
    uint32_t max_side;        /* default 4096 pixels per image side */
    /* Labels to keep, as a bit set (label k is bit k % 64 of keep_labels[k / 64]); all zero keeps
     * every image. The file loaders skip the images of other labels while reading, so that one
     * class of a data set never costs the memory of the whole set; the class count and names
     * stay those of the whole data set. The parsers from memory ignore it. */
    uint64_t keep_labels[4];
} svdd_load_limits;

/* IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed (detected by content, not name).
 * `images_path` must hold a 3-d uint8 IDX tensor, `labels_path` a 1-d uint8 one of equal count.
 * `limits` may be NULL. */
SVDD_API svdd_status svdd_dataset_load_idx(svdd_dataset **out, const char *images_path,
                                           const char *labels_path, const svdd_load_limits *limits,
                                           svdd_error *err);

/* Parse IDX from memory (the file wrappers call these; `name` is used in messages). */
SVDD_API svdd_status svdd_dataset_parse_idx(svdd_dataset **out, const void *images, size_t images_len,
                                            const void *labels, size_t labels_len, const char *name,
                                            const svdd_load_limits *limits, svdd_error *err);

/* CIFAR-10 binary batches (records of 1 label byte + 3072 pixel bytes), raw or gzip-compressed;
 * several files are concatenated in the order given. */
SVDD_API svdd_status svdd_dataset_load_cifar10(svdd_dataset **out, const char *const *paths,
                                               size_t n_paths, const svdd_load_limits *limits,
                                               svdd_error *err);
SVDD_API svdd_status svdd_dataset_parse_cifar10(svdd_dataset **out, const void *data, size_t len,
                                                const char *name, const svdd_load_limits *limits,
                                                svdd_error *err);

/* An image folder ROOT/SPLIT/CLASS/\*.{png,jpg,jpeg}: class names sorted bytewise give the label
 * order, files are sorted by name within a class. All images must have the same size and
 * channel count (grey or RGB; grey+alpha and RGBA lose their alpha). `split` may be NULL or ""
 * to read ROOT/CLASS/\*. */
SVDD_API svdd_status svdd_dataset_load_folder(svdd_dataset **out, const char *root, const char *split,
                                              const svdd_load_limits *limits, svdd_error *err);

/* Decode one PNG or JPEG held in memory into an 1-image data set (label 0). */
SVDD_API svdd_status svdd_dataset_decode_image(svdd_dataset **out, const void *data, size_t len,
                                               const char *name, const svdd_load_limits *limits,
                                               svdd_error *err);

/* The built-in synthetic set: 28x28 grey images of a smooth pattern family (normal, label 0) and
 * of the same family with a planted localised defect (anomalous, label 1), with the defect's
 * pixel mask. Generated in memory from the seed; no files. */
typedef struct svdd_synthetic_options {
    uint64_t seed;
    uint32_t n_normal;    /* default 2000 */
    uint32_t n_anomalous; /* default 0 (a training set is normal only) */
    uint32_t side;        /* image side, default 28 */
} svdd_synthetic_options;
SVDD_API svdd_synthetic_options svdd_synthetic_defaults(void);
SVDD_API svdd_status svdd_dataset_synthetic(svdd_dataset **out, const svdd_synthetic_options *opt,
                                            svdd_error *err);

SVDD_API void svdd_dataset_free(svdd_dataset *ds);
SVDD_API size_t svdd_dataset_count(const svdd_dataset *ds);
SVDD_API void svdd_dataset_shape(const svdd_dataset *ds, int *channels, int *height, int *width);
/* channels * height * width */
SVDD_API size_t svdd_dataset_image_size(const svdd_dataset *ds);
SVDD_API const uint8_t *svdd_dataset_pixels(const svdd_dataset *ds); /* count * image_size */
SVDD_API const int32_t *svdd_dataset_labels(const svdd_dataset *ds); /* count */
SVDD_API int svdd_dataset_num_classes(const svdd_dataset *ds);
/* The class's name (a folder's name, CIFAR-10's class names, the decimal label for IDX;
 * "normal"/"anomalous" after svdd_dataset_one_class_labels), NULL when out of range. */
SVDD_API const char *svdd_dataset_class_name(const svdd_dataset *ds, int label);
/* The source file of image i (image folders), NULL otherwise. */
SVDD_API const char *svdd_dataset_path(const svdd_dataset *ds, size_t i);
/* Defect masks (count * height * width, 1 = defect) for synthetic sets, NULL otherwise. */
SVDD_API const uint8_t *svdd_dataset_masks(const svdd_dataset *ds);

/* The images whose label is `label`, in their original order (labels kept); SVDD_E_INVALID when
 * there are none. */
SVDD_API svdd_status svdd_dataset_select_class(svdd_dataset **out, const svdd_dataset *ds, int label,
                                               svdd_error *err);
/* A copy whose labels are 0 where the label was `normal_class` and 1 (anomaly) elsewhere. */
SVDD_API svdd_status svdd_dataset_one_class_labels(svdd_dataset **out, const svdd_dataset *ds,
                                                   int normal_class, svdd_error *err);

/* ---------------------------------------------------------------------------------------------
 * Preprocessing (Ruff et al. 2018): per-image global contrast normalisation with the l1 scale,
 * x <- (x - mean(x)) / mean(|x - mean(x)|) on pixels in [0,1], then min-max scaling
 * x <- (x - min) / (max - min) with min and max fitted on the normal class's training images.
 * ------------------------------------------------------------------------------------------- */

typedef struct svdd_preprocess {
    int gcn_l1;  /* 1: apply global contrast normalisation (l1) first */
    double min;  /* fitted minimum after GCN */
    double max;  /* fitted maximum after GCN */
} svdd_preprocess;

/* Fit min and max on all images of `ds` after GCN (fit always enables GCN, as the reference). A
 * constant image stays 0 after GCN; when max == min, apply only subtracts min. */
SVDD_API svdd_status svdd_preprocess_fit(svdd_preprocess *pp, const svdd_dataset *ds, svdd_error *err);
/* Write images [first, first+count) of `ds` as float32 into out (count * image_size). */
SVDD_API svdd_status svdd_preprocess_apply(const svdd_preprocess *pp, const svdd_dataset *ds,
                                           size_t first, size_t count, float *out, svdd_error *err);

/* ---------------------------------------------------------------------------------------------
 * Networks: an encoder (the Deep SVDD network) and an optional decoder, from a text spec
 * ------------------------------------------------------------------------------------------- */

typedef struct svdd_net svdd_net;

/* The spec text of a built-in architecture: "mnist-lenet" or "cifar10-lenet" (the networks of
 * Ruff et al. 2018, encoder and autoencoder decoder), NULL for an unknown name. */
SVDD_API const char *svdd_spec_builtin(const char *name);
/* The built-in names, NULL-terminated. */
SVDD_API const char *const *svdd_spec_builtin_names(void);

/* Parse `spec` and build a network with parameters initialised from `seed`. `spec_name` names
 * the spec in messages (a file name, or the built-in name). */
SVDD_API svdd_status svdd_net_create(svdd_net **out, const char *spec, const char *spec_name,
                                     uint64_t seed, svdd_error *err);
SVDD_API void svdd_net_free(svdd_net *net);

typedef enum svdd_part { SVDD_PART_ENCODER = 1, SVDD_PART_DECODER = 2, SVDD_PART_ALL = 3 } svdd_part;

SVDD_API size_t svdd_net_param_count(const svdd_net *net, svdd_part part);
SVDD_API int svdd_net_has_decoder(const svdd_net *net);
SVDD_API void svdd_net_input_shape(const svdd_net *net, int *channels, int *height, int *width);
SVDD_API int svdd_net_latent_dim(const svdd_net *net);
/* A human-readable table of the layers with their output shapes and parameter counts. */
SVDD_API svdd_status svdd_net_describe(const svdd_net *net, char *buf, size_t buf_size);

/* Evaluation mode (batch norm uses running statistics). x is n * input size, z n * latent_dim. */
SVDD_API svdd_status svdd_net_encode(svdd_net *net, const float *x, size_t n, float *z, svdd_error *err);
/* Reconstructions (n * input size) and, when per_image_error is not NULL, the squared error
 * sum over each image's pixels. Needs a decoder. */
SVDD_API svdd_status svdd_net_reconstruct(svdd_net *net, const float *x, size_t n, float *xhat,
                                          float *per_image_error, svdd_error *err);

/* Number of threads for the network's compute (>= 1). */
SVDD_API svdd_status svdd_net_set_threads(svdd_net *net, int threads, svdd_error *err);

/* ---------------------------------------------------------------------------------------------
 * Training
 * ------------------------------------------------------------------------------------------- */

typedef struct svdd_epoch_report {
    int epoch;             /* 1-based */
    int epochs;
    double loss;           /* mean training loss of the epoch */
    double images_per_sec;
    double seconds;        /* elapsed since training started */
    double lr;
} svdd_epoch_report;
typedef void (*svdd_epoch_fn)(void *user, const svdd_epoch_report *report);

typedef struct svdd_train_options {
    int epochs;
    int batch_size;
    double lr;
    double weight_decay;   /* L2 added to the gradient, as torch.optim.Adam's weight_decay */
    int amsgrad;
    int milestones[8];     /* epochs after which lr is multiplied by gamma (MultiStepLR) */
    int n_milestones;
    double gamma;
    uint64_t seed;         /* shuffling */
    int threads;
    /* Gradient clipping by the global L2 norm of the parameters being trained, as
     * torch.nn.utils.clip_grad_norm_: when the norm exceeds it, the gradient is scaled down to it
     * before the Adam step. 0 (default) = off. Training stops with SVDD_E_NUMERIC whenever the
     * loss or the gradient is NaN or infinite, clipped or not. */
    double clip_grad_norm;
    svdd_epoch_fn on_epoch;
    void *on_epoch_user;
    svdd_log_fn log;
    void *log_user;
} svdd_train_options;

/* Adam, lr 1e-4, batch 200, weight decay 0.5e-6, 10 epochs, no milestones, gamma 0.1, 1 thread,
 * no gradient clipping. */
SVDD_API svdd_train_options svdd_train_defaults(void);

/* Train encoder and decoder on the mean over images of the squared reconstruction error
 * (sum over pixels), as the reference autoencoder pre-training does. x holds n preprocessed
 * images. The final mean epoch loss is written to *final_loss when it is not NULL. */
SVDD_API svdd_status svdd_autoencoder_train(svdd_net *net, const float *x, size_t n,
                                            const svdd_train_options *opt, double *final_loss,
                                            svdd_error *err);

/* ---------------------------------------------------------------------------------------------
 * Deep SVDD objectives (Ruff et al. 2018) on a network's encoder phi, with centre c
 * ------------------------------------------------------------------------------------------- */

typedef enum svdd_method {
    SVDD_METHOD_ONE_CLASS = 0,     /* mean ||phi(x) - c||^2 */
    SVDD_METHOD_SOFT_BOUNDARY = 1, /* R^2 + 1/nu * mean max(0, ||phi(x) - c||^2 - R^2) */
    SVDD_METHOD_HYBRID = 2         /* mu1 * one-class + mu2 * reconstruction, one shared encoder */
} svdd_method;

/* "deep-svdd", "soft-boundary", "hybrid"; NULL for an unknown value. */
SVDD_API const char *svdd_method_name(svdd_method method);
/* The inverse; SVDD_E_INVALID for an unknown name. */
SVDD_API svdd_status svdd_method_parse(const char *name, svdd_method *method, svdd_error *err);

typedef struct svdd_objective {
    svdd_method method;
    double nu;         /* soft-boundary: the fraction of outliers allowed, (0, 1]; default 0.1 */
    int warmup_epochs; /* soft-boundary: R is updated only after these epochs; default 10 */
    double mu1, mu2;   /* hybrid weights of the SVDD and reconstruction terms; default 1, 1 */
} svdd_objective;
SVDD_API svdd_objective svdd_objective_defaults(void);

/* The centre: the mean of phi over the n images (evaluation mode), with every coordinate
 * closer to 0 than eps moved to +-eps keeping its sign (0 goes to +eps), so that the trivial
 * solution phi = 0 is not at the centre. c has latent_dim entries. */
SVDD_API svdd_status svdd_center_init(svdd_net *net, const float *x, size_t n, double eps, float *c,
                                      svdd_error *err);

/* Train the encoder (and for the hybrid also the decoder) on the objective, with c fixed.
 * *radius is R (soft-boundary: read as the initial value and written back; others: left alone
 * when NULL). The reported loss of an epoch is the mean of its batch losses. */
SVDD_API svdd_status svdd_deep_svdd_train(svdd_net *net, const float *x, size_t n, const float *c,
                                          const svdd_objective *obj, const svdd_train_options *opt,
                                          double *radius, svdd_error *err);

/* For n images (evaluation mode): dist[i] = ||phi(x_i) - c||^2; recon[i] = the summed squared
 * reconstruction error (needs a decoder; NULL to skip); latent (n * latent_dim; NULL to skip). */
SVDD_API svdd_status svdd_deep_svdd_distances(svdd_net *net, const float *x, size_t n, const float *c,
                                              float *dist, float *recon, float *latent, svdd_error *err);

/* ---------------------------------------------------------------------------------------------
 * Models: a trained detector with its preprocessing, centre, radius and calibrated threshold
 * ------------------------------------------------------------------------------------------- */

typedef struct svdd_model svdd_model;

/* How the decision threshold is derived. Every kind uses only the held-out normal calibration
 * images (never test labels); a model keeps what each kind needs, so the kind and the target
 * false-positive rate can be changed after training (svdd_model_set_threshold). */
typedef enum svdd_threshold_kind {
    SVDD_THRESHOLD_GAUSSIAN = 0,       /* mean + z * std of the calibration scores, z = Phi^-1(1 - fpr) */
    SVDD_THRESHOLD_QUANTILE = 1,       /* the empirical (1 - fpr) quantile of the calibration scores */
    SVDD_THRESHOLD_MAHALANOBIS = 2,    /* score = squared Mahalanobis distance of the latent vector
                                          under a Ledoit-Wolf Gaussian of the training latents;
                                          threshold = the chi-square (1 - fpr) quantile, latent_dim dof */
    SVDD_THRESHOLD_MAHALANOBIS_QUANTILE = 3, /* the same score, empirical (1 - fpr) quantile */
    SVDD_THRESHOLD_RADIUS = 4          /* soft-boundary only: anomalous when ||phi(x) - c|| > R */
} svdd_threshold_kind;
/* "gaussian", "quantile", "mahalanobis", "mahalanobis-quantile", "radius"; NULL if unknown. */
SVDD_API const char *svdd_threshold_name(svdd_threshold_kind kind);
SVDD_API svdd_status svdd_threshold_parse(const char *name, svdd_threshold_kind *kind, svdd_error *err);

/* How the hybrid's anomaly score combines the distance d = ||phi(x) - c||^2 and the
 * reconstruction error r. The standardised sum uses mean and std of d and r over the normal
 * training images. */
typedef enum svdd_hybrid_score {
    SVDD_HYBRID_SCORE_SUM = 0,      /* (d - mean_d) / std_d + (r - mean_r) / std_r (default) */
    SVDD_HYBRID_SCORE_DISTANCE = 1, /* d alone */
    SVDD_HYBRID_SCORE_RECON = 2     /* r alone */
} svdd_hybrid_score;
SVDD_API const char *svdd_hybrid_score_name(svdd_hybrid_score s);
SVDD_API svdd_status svdd_hybrid_score_parse(const char *name, svdd_hybrid_score *s, svdd_error *err);

typedef struct svdd_fit_options {
    const char *spec;      /* network spec text; NULL picks the built-in one for the image shape */
    const char *spec_name; /* its name in messages and metadata */
    svdd_objective objective;
    svdd_hybrid_score hybrid_score;
    svdd_train_options ae; /* autoencoder pre-training; ae.epochs = 0 skips it */
    svdd_train_options svdd; /* the objective's training */
    double center_eps;     /* default 0.1 */
    double calibration_fraction; /* held-out normal images for the threshold, default 0.1 */
    svdd_threshold_kind threshold;
    double target_fpr;     /* default 0.05 */
    uint64_t seed;         /* network initialisation, split and shuffling */
    int threads;
    const char *dataset;   /* recorded in the model: data set name and normal class */
    int normal_class;
    /* Optional file keeping the pre-trained network: when it holds a network pre-trained from
     * exactly these inputs (spec, preprocessed training images after the calibration split,
     * pre-training options, seed, threads), pre-training is skipped and those weights used;
     * otherwise pre-training runs and its result is written there. Results are identical either
     * way. NULL (default): no cache. */
    const char *pretrained_cache;
    /* Checkpoints (docs/methods.md, "Checkpoints and faults"). When checkpoint_path is set, the
     * whole training state (phase, epoch, network with batch-norm statistics, Adam's moments and
     * step, the shuffling generator and order, R, the centre, the schedule) is written there after
     * every checkpoint_every-th epoch of each phase (0 = every epoch), atomically: a crash leaves
     * the previous checkpoint or the new one, never a torn file. A state with NaN or infinity is
     * never written. */
    const char *checkpoint_path;
    int checkpoint_every;
    /* Continue the run saved in this checkpoint (it may be checkpoint_path too). The file is
     * validated (format, version, shapes against the spec, finite values), and the options and
     * training images must be those of the interrupted run (SVDD_E_INVALID naming the first
     * difference otherwise), except threads and clip_grad_norm, which may change (a changed value
     * is logged: the result then differs from an uninterrupted run). With the same options and one
     * thread, the model is bit for bit the one an uninterrupted run gives. NULL: start afresh. */
    const char *resume_path;
    /* Messages of the fit itself (checkpoint written, run resumed); may be NULL. */
    svdd_log_fn log;
    void *log_user;
} svdd_fit_options;

/* The reference defaults: Adam lr 1e-4, batch 200, weight decay 0.5e-6 (autoencoder 0.5e-3),
 * 150 + 150 epochs with a x0.1 milestone at epoch 50 for the autoencoder and Deep SVDD alike
 * (set epochs and milestones for a shorter schedule), one-class objective, Gaussian threshold
 * at 5% false positives, 10% calibration split. */
SVDD_API svdd_fit_options svdd_fit_defaults(void);

/* Train a model on the normal images `normal` (labels ignored). */
SVDD_API svdd_status svdd_model_fit(svdd_model **out, const svdd_dataset *normal, const svdd_fit_options *opt,
                                    svdd_error *err);
SVDD_API void svdd_model_free(svdd_model *m);

/* Scores (higher = more anomalous) and decisions (1 = anomalous: score > threshold) of images
 * [first, first + count) of `ds`, whose shape must match the model's input. Either output may be
 * NULL. The score depends on the method and, for the Mahalanobis kinds, on the threshold kind.
 * Runs on the model network's threads (svdd_net_set_threads(svdd_model_net(m), ...)): on the
 * MNIST-sized networks the same floats on any number of them, on the others within a rounding
 * (the matrix products' blocking follows each thread's share of the batch). */
SVDD_API svdd_status svdd_model_score(svdd_model *m, const svdd_dataset *ds, size_t first, size_t count,
                                      float *scores, uint8_t *anomalous, svdd_error *err);
/* What every score of a model is made of, for images [first, first + count) of `ds`, from one
 * forward pass: dist (count), the squared distances to the centre; recon (count, or NULL), the
 * reconstruction errors (models with a decoder); latent (count * latent_dim, or NULL), the codes.
 * svdd_model_score_parts then gives, for the model's current threshold kind and hybrid score,
 * the scores and decisions svdd_model_score gives, the same floats: an evaluation of several
 * threshold kinds or hybrid scores encodes the images once. The Mahalanobis kinds need latent,
 * the hybrid's sum and reconstruction scores recon. */
SVDD_API svdd_status svdd_model_parts(svdd_model *m, const svdd_dataset *ds, size_t first, size_t count, float *dist,
                                      float *recon, float *latent, svdd_error *err);
SVDD_API svdd_status svdd_model_score_parts(const svdd_model *m, size_t count, const float *dist, const float *recon,
                                            const float *latent, float *scores, uint8_t *anomalous, svdd_error *err);
/* Latent vectors (count * latent_dim) of images of `ds`. */
SVDD_API svdd_status svdd_model_latent(svdd_model *m, const svdd_dataset *ds, size_t first, size_t count,
                                       float *latent, svdd_error *err);
/* Re-derive the threshold from the stored calibration data. */
SVDD_API svdd_status svdd_model_set_threshold(svdd_model *m, svdd_threshold_kind kind, double target_fpr,
                                              svdd_error *err);
/* Switch a hybrid model's score (sum, distance or reconstruction) and re-derive its threshold
 * from the calibration data; the other methods have one score and refuse. */
SVDD_API svdd_status svdd_model_set_hybrid_score(svdd_model *m, svdd_hybrid_score score, svdd_error *err);

typedef struct svdd_model_info {
    svdd_method method;
    svdd_threshold_kind threshold_kind;
    svdd_hybrid_score hybrid_score;
    double threshold;     /* applied to svdd_model_score's scores */
    double target_fpr;
    double radius;        /* R (soft-boundary), 0 otherwise */
    int latent_dim;
    int channels, height, width;
    size_t n_train, n_calibration;
    double shrinkage;     /* Ledoit-Wolf intensity of the latent Gaussian */
    const char *spec_name;
    const char *dataset;
    int normal_class;
    uint64_t seed;
} svdd_model_info;
SVDD_API void svdd_model_get_info(const svdd_model *m, svdd_model_info *info);
/* The network inside (owned by the model). */
SVDD_API svdd_net *svdd_model_net(svdd_model *m);

/* Model files are safetensors (docs/model-format.md): the network's tensors under PyTorch-style
 * names, the centre, the latent Gaussian and the calibration scores as tensors, and everything
 * else (format version, spec, preprocessing, objective, threshold, training configuration, data
 * set, seed, library version) as metadata strings. A model file holds only data: loading checks
 * every length, dtype and shape against the spec, and refuses NaN or infinity. Saving writes a
 * temporary file and renames it, so a crash never leaves half a model. */
SVDD_API svdd_status svdd_model_save(const svdd_model *m, const char *path, svdd_error *err);
SVDD_API svdd_status svdd_model_load(svdd_model **out, const char *path, svdd_error *err);
/* Parse a model file held in memory (`name` in messages). */
SVDD_API svdd_status svdd_model_parse(svdd_model **out, const void *data, size_t len, const char *name,
                                      svdd_error *err);

/* ---------------------------------------------------------------------------------------------
 * Metrics. Label 1 = anomaly = the positive class; 0 = normal. An image is flagged anomalous when
 * its score is strictly greater than the threshold.
 * ------------------------------------------------------------------------------------------- */

typedef struct svdd_metrics {
    size_t n_normal, n_anomalous;
    double auc;               /* ROC AUC; ties count one half (the Mann-Whitney statistic) */
    double average_precision; /* sum over score levels of (R_k - R_k-1) * P_k */
    /* at the given threshold */
    double threshold;
    size_t tp, fp, tn, fn;
    double precision, recall, f1, fpr, tpr;
    /* reference values printed next to F1 so that nobody is fooled by it */
    double f1_all_anomalous;  /* F1 of flagging every image */
    double f1_oracle;         /* best F1 over all thresholds, chosen WITH the test labels */
    double threshold_oracle;
} svdd_metrics;

/* Compute every field from n scores and labels (0/1). Needs at least one image of each label and
 * finite scores. */
SVDD_API svdd_status svdd_metrics_compute(svdd_metrics *m, const float *scores, const int32_t *labels, size_t n,
                                          double threshold, svdd_error *err);

/* The ROC curve: points (fpr, tpr) for every distinct score level from the highest down, starting
 * at (0, 0) and ending at (1, 1); threshold[k] is the score level (+inf at the first point). The
 * three arrays are allocated here (free() them); *n_points receives their length. */
SVDD_API svdd_status svdd_roc_curve(const float *scores, const int32_t *labels, size_t n, double **fpr,
                                    double **tpr, double **threshold, size_t *n_points, svdd_error *err);

/* ---------------------------------------------------------------------------------------------
 * Grad-CAM of the anomaly score (Selvaraju et al. 2017, applied to the score itself)
 * ------------------------------------------------------------------------------------------- */

typedef enum svdd_cam_mode {
    /* Grad-CAM as published: each feature map A_k weighted by its spatially averaged gradient,
     * summed, ReLU. */
    SVDD_CAM_GRADCAM = 0,
    /* sum_k dS/dA_k * (A_k - mean A_k): the first-order (Taylor) share of each position in the
     * score's difference from the average normal image, ReLU. The mean feature maps of the normal
     * training images are stored in the model. On the synthetic defects this localises where the
     * published weighting does not (docs/explanations.md has the measurements). */
    SVDD_CAM_DEVIATION = 1,
    /* The default of svdd explain and the report. At the input pixels: r_p = sum_c dS/dx_cp *
     * (x_cp - mean x_cp) (the Taylor share of each pixel in the score's difference from the
     * average normal image, with the full gradient of the score, including a reconstruction
     * term's direct dependence on x), divided by sum_p |r_p|, minus what normal images reach
     * there: the mean of that share over the normal training images at the same pixel plus 3
     * standard deviations (pooled over the pixels), for the same score; ReLU. It shows where the
     * score comes from beyond what normal images show, and localises the synthetic defects best
     * (docs/explanations.md). The statistics are stored in the model (models saved by older
     * versions lack them: then SVDD_E_INVALID). Takes no layer (pass -1). */
    SVDD_CAM_EXCESS = 2
} svdd_cam_mode;
SVDD_API const char *svdd_cam_mode_name(svdd_cam_mode mode);

/* For each image: the gradient of the model's anomaly score S (the distance ||phi(x) - c||^2, the
 * hybrid's combined score, or the Mahalanobis score when the threshold kind is Mahalanobis) with
 * respect to the feature maps A_k of one encoder layer (or the input pixels, SVDD_CAM_EXCESS),
 * combined per `mode`, bilinearly upsampled to the image size and divided by its maximum (an
 * all-zero map stays zero: nothing stands out). heat is
 * count * height * width; scores (optional) count. layer: an encoder layer index whose output has
 * spatial maps (its activation, for SVDD_CAM_DEVIATION), or -1 for the default: the activation
 * of the first convolution block for SVDD_CAM_DEVIATION, of the last for SVDD_CAM_GRADCAM; always
 * -1 for SVDD_CAM_EXCESS (the pixels; no upsampling). */
SVDD_API svdd_status svdd_gradcam(svdd_model *m, const svdd_dataset *ds, size_t first, size_t count,
                                  svdd_cam_mode mode, int layer, float *heat, float *scores, svdd_error *err);

/* ---------------------------------------------------------------------------------------------
 * t-SNE (van der Maaten and Hinton 2008; Barnes-Hut approximation, van der Maaten 2014)
 * ------------------------------------------------------------------------------------------- */

typedef struct svdd_tsne_options {
    double perplexity;      /* default 30 */
    int iterations;         /* default 1000 */
    double theta;           /* Barnes-Hut accuracy, default 0.5; 0 = exact O(N^2) gradient */
    double learning_rate;   /* 0 (the default) = max(N / early_exaggeration / 4, 50) */
    double early_exaggeration; /* default 12, for the first 250 iterations */
    uint64_t seed;
    int threads;
} svdd_tsne_options;
SVDD_API svdd_tsne_options svdd_tsne_defaults(void);

/* Embed n points of dimension dim (row-major) into 2-d: out is n * 2. theta > 0 uses
 * vantage-point-tree neighbours (3 * perplexity of them) and a quadtree for the repulsion,
 * O(N log N); theta == 0 uses all pairs, O(N^2). opt NULL means the defaults. Non-finite input
 * (or a diverging embedding) gives SVDD_E_NUMERIC; the result is the same for any thread count. */
SVDD_API svdd_status svdd_tsne(const float *x, size_t n, int dim, const svdd_tsne_options *opt, float *out,
                               svdd_error *err);

/* Trustworthiness T(k) of an embedding (Venna and Kaski 2001): 1 means every embedding neighbour
 * was a neighbour in the input too. Exact, O(N^2). */
SVDD_API svdd_status svdd_trustworthiness(const float *x, size_t n, int dim, const float *y, int ydim, int k,
                                          double *result, svdd_error *err);

/* ---------------------------------------------------------------------------------------------
 * Plots and images (cairo). Every writer picks PNG or SVG by the path's extension and writes
 * atomically.
 * ------------------------------------------------------------------------------------------- */

typedef struct svdd_curve {
    const char *label;      /* legend text, e.g. "Deep SVDD (AUC 0.948)" */
    const double *x, *y;    /* n points */
    size_t n;
} svdd_curve;

/* ROC curves of several methods (at most 100) on one plot, with the chance diagonal, axes,
 * ticks, labels, legend and title. */
SVDD_API svdd_status svdd_plot_roc(const char *path, const char *title, const svdd_curve *curves, int n_curves,
                                   svdd_error *err);
/* Histograms (densities) of normal and anomalous scores (labels 0/1, shared bins) with the
 * threshold as a vertical line; a NaN threshold draws no line, a NULL label reads "threshold". */
SVDD_API svdd_status svdd_plot_score_histogram(const char *path, const char *title, const float *scores,
                                               const int32_t *labels, size_t n, double threshold,
                                               const char *threshold_label, svdd_error *err);
/* A 2-d scatter plot coloured by group (e.g. normal/anomalous or classes), with a legend.
 * group[i] in [0, n_groups), at most 100 groups; names[g] the legend entries (NULL: "group g"). */
SVDD_API svdd_status svdd_plot_scatter(const char *path, const char *title, const float *xy, size_t n,
                                       const int32_t *group, int n_groups, const char *const *names,
                                       svdd_error *err);
/* A Grad-CAM overlay: the image, the heat map in a perceptual colour map (viridis-like or
 * inferno), and their blend side by side, each upscaled `scale` times, with a caption line. The
 * image is c x h x w uint8 (grey or RGB, planar), heat is h x w (clipped to [0, 1]); the colour
 * map is viridis; a panel side may not exceed 4096 pixels. */
SVDD_API svdd_status svdd_write_overlay(const char *path, const uint8_t *image, int c, int h, int w, const float *heat,
                                        int scale, const char *caption, svdd_error *err);

/* ---------------------------------------------------------------------------------------------
 * The report: one self-contained HTML page (images as files beside it)
 * ------------------------------------------------------------------------------------------- */

typedef struct svdd_report_options {
    const char *title;        /* default: "<data set>, normal class K, <method>" */
    const char *command;      /* the command line that made it, shown on the page (may be NULL) */
    size_t tsne_points;       /* test images embedded with t-SNE, default 2000 (0 = all) */
    int gallery;              /* images per heat-map gallery, default 12 */
    svdd_cam_mode cam_mode;   /* default SVDD_CAM_EXCESS */
    int cam_layer;            /* default -1 */
    uint64_t seed;            /* t-SNE and the subsample */
    int threads;              /* t-SNE's; the scores and heat maps run on the model network's threads */
} svdd_report_options;
SVDD_API svdd_report_options svdd_report_defaults(void);

/* Score `test` (one-class labels: `normal_class` normal, every other class anomalous) and write
 * DIR/index.html with the model and training configuration, the metrics at the calibrated
 * threshold (with the flag-all and oracle F1), the ROC curves of the model's score and of the
 * Mahalanobis score, the score histogram with the threshold, t-SNE maps of the latent vectors
 * (normal vs anomalous, and by class), and heat-map galleries of the most anomalous images, the
 * false positives and the false negatives. DIR must exist. The test images are encoded once:
 * both scores and the codes come from one forward pass (svdd_model_parts). */
SVDD_API svdd_status svdd_report_write(svdd_model *m, const svdd_dataset *test, int normal_class,
                                       const svdd_report_options *opt, const char *dir, svdd_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SVDD_H */
