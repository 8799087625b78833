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
/* The class's name (folder name, or the digit for IDX/CIFAR), NULL when out of range. */
SVDD_API const char *svdd_dataset_class_name(const svdd_dataset *ds, int label);
/* The source file of image i (image folders), NULL otherwise. */
SVDD_API const char *svdd_dataset_path(const svdd_dataset *ds, size_t i);
/* Defect masks (count * height * width, 1 = defect) for synthetic sets, NULL otherwise. */
SVDD_API const uint8_t *svdd_dataset_masks(const svdd_dataset *ds);

/* The images whose label is `label`, in their original order (labels kept). */
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

/* Fit min and max on all images of `ds` (after GCN when enabled, which fit enables). */
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
    svdd_epoch_fn on_epoch;
    void *on_epoch_user;
    svdd_log_fn log;
    void *log_user;
} svdd_train_options;

/* Adam, lr 1e-4, batch 200, weight decay 0.5e-6, 10 epochs, no milestones, gamma 0.1, 1 thread. */
SVDD_API svdd_train_options svdd_train_defaults(void);

/* Train encoder and decoder on the mean over images of the squared reconstruction error
 * (sum over pixels), as the reference autoencoder pre-training does. x holds n preprocessed
 * images. The final mean epoch loss is written to *final_loss when it is not NULL. */
SVDD_API svdd_status svdd_autoencoder_train(svdd_net *net, const float *x, size_t n,
                                            const svdd_train_options *opt, double *final_loss,
                                            svdd_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SVDD_H */
