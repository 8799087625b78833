/* The child role for whole training runs: svdd_model_fit from the first image to the saved
 * threshold, on synthetic 28x28 images (svdd_dataset_synthetic), timed end to end.
 *
 * The step benchmarks measure one batch; this measures what a user waits for, including what
 * a step leaves out: shuffling and gathering batches, preprocessing, the centre, the calibration
 * split and the threshold's statistics. Synthetic images have MNIST's shape, so the arithmetic is
 * that of an MNIST run, and no data set is needed to run it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "svdd.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* When each phase's last epoch ended (the autoencoder's first, then the objective's). */
typedef struct phase_clock {
    double last_epoch_end;
    double images_per_sec; /* of the last epoch */
} phase_clock;

static void on_epoch(void *user, const svdd_epoch_report *r) {
    phase_clock *pc = user;
    pc->last_epoch_end = now_seconds();
    pc->images_per_sec = r->images_per_sec;
}

int bench_fit_child_main(const bench_task *task, int threads, const bench_fit_size *size) {
    svdd_error err;
    svdd_dataset *ds = NULL;
    svdd_synthetic_options so = svdd_synthetic_defaults();
    so.seed = 1;
    so.n_normal = (uint32_t)size->images;
    so.side = 28;
    if (svdd_dataset_synthetic(&ds, &so, &err) != SVDD_OK) {
        fprintf(stderr, "svdd bench: %s\n", err.message);
        return 1;
    }
    long base_rss = bench_status_kb("VmRSS");
    phase_clock ae = {0, 0}, obj = {0, 0};
    svdd_fit_options fo = svdd_fit_defaults();
    fo.spec_name = "mnist-lenet";
    fo.spec = svdd_spec_builtin(fo.spec_name);
    fo.objective.method = SVDD_METHOD_ONE_CLASS;
    fo.ae.epochs = size->epochs;
    fo.svdd.epochs = size->epochs;
    /* the published milestone (epoch 50) stays: a short run simply never reaches it */
    fo.ae.on_epoch = on_epoch, fo.ae.on_epoch_user = &ae;
    fo.svdd.on_epoch = on_epoch, fo.svdd.on_epoch_user = &obj;
    fo.seed = 1;
    fo.threads = threads;
    fo.dataset = "synthetic";
    fo.normal_class = 0;
    svdd_model *m = NULL;
    double t0 = now_seconds();
    svdd_status st = svdd_model_fit(&m, ds, &fo, &err);
    double t1 = now_seconds();
    svdd_model_free(m);
    svdd_dataset_free(ds);
    if (st != SVDD_OK) {
        fprintf(stderr, "svdd bench: %s\n", err.message);
        return 1;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "side", "svdd");
    cJSON_AddStringToObject(o, "task", task->name);
    cJSON_AddNumberToObject(o, "threads", threads);
    cJSON_AddNumberToObject(o, "images", size->images);
    cJSON_AddNumberToObject(o, "epochs", size->epochs);
    cJSON_AddStringToObject(o, "version", svdd_version());
    cJSON_AddNumberToObject(o, "seconds", t1 - t0);
    /* the autoencoder's phase ends at its last epoch; everything between its end and the
     * objective's first epoch (centre, calibration split) is counted with the objective */
    if (fo.ae.epochs > 0) cJSON_AddNumberToObject(o, "ae_seconds", ae.last_epoch_end - t0);
    cJSON_AddNumberToObject(o, "objective_seconds", obj.last_epoch_end - (fo.ae.epochs > 0 ? ae.last_epoch_end : t0));
    cJSON_AddNumberToObject(o, "after_seconds", t1 - obj.last_epoch_end);
    cJSON_AddNumberToObject(o, "ae_images_per_sec", ae.images_per_sec);
    cJSON_AddNumberToObject(o, "objective_images_per_sec", obj.images_per_sec);
    cJSON_AddNumberToObject(o, "base_rss_kb", (double)base_rss);
    cJSON_AddNumberToObject(o, "peak_rss_kb", (double)bench_status_kb("VmHWM"));
    return bench_emit_line(o);
}
