/* The loaders and the preprocessing on the real data sets in $SVDD_DATA (see
 * shared/data/README.md); skipped (exit code 77) when SVDD_DATA is not set.
 * - MNIST and Fashion-MNIST: counts and per-class label histograms;
 * - CIFAR-10 exact subset: counts, first records' labels and pixels, class names;
 * - CIFAR-10 as JPEG folders (extracted from the tarball into a temporary folder): all 60,000
 *   images through the image-folder loader, timed, and compared with the exact subset;
 * - preprocessing: min and max after GCN on MNIST classes 0 and 1 must match the values
 *   published with the Deep SVDD reference code; the one-class split of the test set. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data.h"
#include "testutil.h"

static const char *data_dir;

static svdd_dataset *load_idx(const char *set, const char *split) {
    char ip[1024], lp[1024], rel[256];
    snprintf(rel, sizeof rel, "%s/%s-images-idx3-ubyte.gz", set, split);
    svdd_test_path(ip, sizeof ip, data_dir, rel);
    snprintf(rel, sizeof rel, "%s/%s-labels-idx1-ubyte.gz", set, split);
    svdd_test_path(lp, sizeof lp, data_dir, rel);
    svdd_dataset *ds = NULL;
    svdd_error err;
    double t0 = svdd__now();
    if (svdd_dataset_load_idx(&ds, ip, lp, NULL, &err) != SVDD_OK) fail_msg("%s", err.message);
    printf("  %s %s: %zu images in %.2f s\n", set, split, svdd_dataset_count(ds), svdd__now() - t0);
    return ds;
}

static void check_histogram(const svdd_dataset *ds, const int *want, int classes) {
    assert_int_equal(svdd_dataset_num_classes(ds), classes);
    int count[256] = {0};
    for (size_t i = 0; i < svdd_dataset_count(ds); i++) count[svdd_dataset_labels(ds)[i]]++;
    for (int k = 0; k < classes; k++)
        if (count[k] != want[k]) fail_msg("class %d: %d images, expected %d", k, count[k], want[k]);
}

static svdd_dataset *load_cifar_subset(const char *file);

/* A loader told to keep one class gives exactly what selecting it from the whole set gives,
 * with the whole set's class count and names. */
static void same_as_selected(const svdd_dataset *kept, const svdd_dataset *all, int label) {
    svdd_dataset *sel = NULL;
    svdd_error err;
    assert_int_equal(svdd_dataset_select_class(&sel, all, label, &err), SVDD_OK);
    const size_t n = svdd_dataset_count(sel), D = svdd_dataset_image_size(sel);
    assert_true(n > 0);
    assert_int_equal(svdd_dataset_count(kept), n);
    assert_int_equal(svdd_dataset_image_size(kept), D);
    assert_int_equal(svdd_dataset_num_classes(kept), svdd_dataset_num_classes(all));
    assert_string_equal(svdd_dataset_class_name(kept, label), svdd_dataset_class_name(all, label));
    assert_memory_equal(svdd_dataset_pixels(kept), svdd_dataset_pixels(sel), n * D);
    assert_memory_equal(svdd_dataset_labels(kept), svdd_dataset_labels(sel), n * sizeof(int32_t));
    svdd_dataset_free(sel);
}

static void test_keep_labels(void **state) {
    (void)state;
    char ip[1024], lp[1024];
    svdd_test_path(ip, sizeof ip, data_dir, "mnist/train-images-idx3-ubyte.gz");
    svdd_test_path(lp, sizeof lp, data_dir, "mnist/train-labels-idx1-ubyte.gz");
    svdd_dataset *all = load_idx("mnist", "train"), *three = NULL, *cat = NULL;
    svdd_error err;
    svdd_load_limits keep3 = {0, 0, 0, {1u << 3, 0, 0, 0}};
    assert_int_equal(svdd_dataset_load_idx(&three, ip, lp, &keep3, &err), SVDD_OK);
    same_as_selected(three, all, 3);
    /* the limits still apply to the whole file's header */
    svdd_load_limits small = {100, 0, 0, {1u << 3, 0, 0, 0}};
    svdd_dataset *none = NULL;
    assert_int_equal(svdd_dataset_load_idx(&none, ip, lp, &small, &err), SVDD_E_LIMIT);
    assert_null(none);
    svdd_dataset_free(all), svdd_dataset_free(three);
    all = load_cifar_subset("data_batch_1.first4000.bin.gz");
    char cp[1024];
    svdd_test_path(cp, sizeof cp, data_dir, "cifar-10/exact-subset/data_batch_1.first4000.bin.gz");
    const char *paths[2] = {cp, cp};
    svdd_load_limits keep_cat = {0, 0, 0, {1u << 3, 0, 0, 0}};
    assert_int_equal(svdd_dataset_load_cifar10(&cat, paths, 1, &keep_cat, &err), SVDD_OK);
    same_as_selected(cat, all, 3);
    svdd_dataset_free(cat);
    /* two files: the kept records of each, in order */
    assert_int_equal(svdd_dataset_load_cifar10(&cat, paths, 2, &keep_cat, &err), SVDD_OK);
    svdd_dataset *sel = NULL;
    assert_int_equal(svdd_dataset_select_class(&sel, all, 3, &err), SVDD_OK);
    assert_int_equal(svdd_dataset_count(cat), 2 * svdd_dataset_count(sel));
    assert_memory_equal(svdd_dataset_pixels(cat) + svdd_dataset_count(sel) * 3072, svdd_dataset_pixels(sel),
                        svdd_dataset_count(sel) * 3072);
    svdd_dataset_free(sel), svdd_dataset_free(cat), svdd_dataset_free(all);
}

static void test_mnist(void **state) {
    (void)state;
    svdd_dataset *tr = load_idx("mnist", "train"), *te = load_idx("mnist", "t10k");
    assert_int_equal(svdd_dataset_count(tr), 60000);
    assert_int_equal(svdd_dataset_count(te), 10000);
    int c, h, w;
    svdd_dataset_shape(tr, &c, &h, &w);
    assert_true(c == 1 && h == 28 && w == 28);
    const int train_hist[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    const int test_hist[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    check_histogram(tr, train_hist, 10);
    check_histogram(te, test_hist, 10);
    /* the well-known first labels: a 5 in train, a 7 in test */
    assert_int_equal(svdd_dataset_labels(tr)[0], 5);
    assert_int_equal(svdd_dataset_labels(te)[0], 7);
    svdd_dataset_free(tr), svdd_dataset_free(te);
}

static void test_fashion_mnist(void **state) {
    (void)state;
    svdd_dataset *tr = load_idx("fashion-mnist", "train"), *te = load_idx("fashion-mnist", "t10k");
    assert_int_equal(svdd_dataset_count(tr), 60000);
    assert_int_equal(svdd_dataset_count(te), 10000);
    int th[10], eh[10];
    for (int k = 0; k < 10; k++) th[k] = 6000, eh[k] = 1000;
    check_histogram(tr, th, 10);
    check_histogram(te, eh, 10);
    svdd_dataset_free(tr), svdd_dataset_free(te);
}

static svdd_dataset *load_cifar_subset(const char *file) {
    char p[1024], rel[256];
    snprintf(rel, sizeof rel, "cifar-10/exact-subset/%s", file);
    svdd_test_path(p, sizeof p, data_dir, rel);
    const char *paths[1] = {p};
    svdd_dataset *ds = NULL;
    svdd_error err;
    if (svdd_dataset_load_cifar10(&ds, paths, 1, NULL, &err) != SVDD_OK) fail_msg("%s", err.message);
    return ds;
}

static void test_cifar_exact_subset(void **state) {
    (void)state;
    svdd_dataset *tr = load_cifar_subset("data_batch_1.first4000.bin.gz");
    svdd_dataset *te = load_cifar_subset("test_batch.first1000.bin.gz");
    assert_int_equal(svdd_dataset_count(tr), 4000);
    assert_int_equal(svdd_dataset_count(te), 1000);
    int c, h, w;
    svdd_dataset_shape(tr, &c, &h, &w);
    assert_true(c == 3 && h == 32 && w == 32);
    assert_int_equal(svdd_dataset_labels(tr)[0], 6);
    const uint8_t *px = svdd_dataset_pixels(tr);
    assert_true(px[0] == 59 && px[1] == 43 && px[2] == 50);
    assert_int_equal(svdd_dataset_labels(te)[0], 3);
    /* class names as in batches.meta.txt */
    char mp[1024], line[64];
    svdd_test_path(mp, sizeof mp, data_dir, "cifar-10/exact-subset/batches.meta.txt");
    FILE *f = fopen(mp, "r");
    assert_non_null(f);
    for (int k = 0; k < 10; k++) {
        assert_non_null(fgets(line, sizeof line, f));
        line[strcspn(line, "\r\n")] = 0;
        assert_string_equal(svdd_dataset_class_name(tr, k), line);
    }
    (void)fclose(f); /* read only */
    svdd_dataset_free(tr), svdd_dataset_free(te);
}

/* GCN-l1 then min/max on one MNIST training class, against the values in the reference code
 * (Deep-SVDD-PyTorch, datasets/mnist.py, min_max for 'l1'). */
static void test_preprocess_reference(void **state) {
    (void)state;
    svdd_dataset *tr = load_idx("mnist", "train");
    const double want[2][2] = {{-0.8826567065619495, 9.001545489292527},
                               {-0.6661464580883915, 20.108062262467364}};
    svdd_error err;
    for (int k = 0; k < 2; k++) {
        svdd_dataset *cls = NULL;
        assert_int_equal(svdd_dataset_select_class(&cls, tr, k, &err), SVDD_OK);
        svdd_preprocess pp;
        assert_int_equal(svdd_preprocess_fit(&pp, cls, &err), SVDD_OK);
        double rmin = fabs(pp.min - want[k][0]) / fabs(want[k][0]);
        double rmax = fabs(pp.max - want[k][1]) / fabs(want[k][1]);
        printf("  MNIST class %d: min %.16g max %.16g (relative differences %.2e %.2e)\n", k, pp.min, pp.max,
               rmin, rmax);
        assert_true(rmin < 1e-6 && rmax < 1e-6);
        /* the fitted class maps into [0, 1] */
        size_t n = svdd_dataset_count(cls), D = svdd_dataset_image_size(cls);
        float *x = malloc(n * D * sizeof *x);
        assert_non_null(x);
        assert_int_equal(svdd_preprocess_apply(&pp, cls, 0, n, x, &err), SVDD_OK);
        float lo = 1, hi = 0;
        for (size_t i = 0; i < n * D; i++) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
        assert_true(lo >= -1e-6f && lo < 1e-6f && hi > 1 - 1e-6f && hi <= 1 + 1e-6f);
        free(x);
        svdd_dataset_free(cls);
    }
    svdd_dataset_free(tr);
}

static void test_one_class_split(void **state) {
    (void)state;
    svdd_dataset *tr = load_idx("mnist", "train"), *te = load_idx("mnist", "t10k");
    svdd_error err;
    svdd_dataset *normal = NULL, *test = NULL;
    assert_int_equal(svdd_dataset_select_class(&normal, tr, 0, &err), SVDD_OK);
    assert_int_equal(svdd_dataset_count(normal), 5923);
    assert_int_equal(svdd_dataset_one_class_labels(&test, te, 0, &err), SVDD_OK);
    assert_int_equal(svdd_dataset_count(test), 10000);
    size_t normals = 0;
    for (size_t i = 0; i < 10000; i++) {
        int l = svdd_dataset_labels(test)[i];
        assert_true(l == 0 || l == 1);
        assert_int_equal(l, svdd_dataset_labels(te)[i] == 0 ? 0 : 1);
        normals += l == 0;
    }
    assert_int_equal(normals, 980);
    svdd_dataset_free(normal), svdd_dataset_free(test);
    svdd_dataset_free(tr), svdd_dataset_free(te);
}

/* The index NNNNN of ".../NNNNN.jpg". */
static long file_index(const char *path) {
    const char *slash = strrchr(path, '/');
    return strtol(slash ? slash + 1 : path, NULL, 10);
}

static void test_cifar_jpeg_folders(void **state) {
    (void)state;
    char tgz[1024], pre[1024], root[1100], tmp[1024] = "";
    svdd_test_path(tgz, sizeof tgz, data_dir, "cifar-10/jpeg/cifar-10-jpeg-folders.tar.gz");
    svdd_test_path(pre, sizeof pre, data_dir, "cifar-10/jpeg/cifar-10-folders");
    struct stat sb;
    if (stat(pre, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(root, sizeof root, "%s", pre); /* already extracted next to the tarball */
    } else {
        if (strchr(tgz, '\'')) skip();
        /* /tmp first: creating 60,000 files there took 2 s where the work tree took 40 s. */
        const char *tdir = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/svdd-cifar-jpeg-XXXXXX", tdir && *tdir ? tdir : "/tmp");
        if (!mkdtemp(tmp)) {
            snprintf(tmp, sizeof tmp, "%s/svdd-cifar-jpeg-XXXXXX", SVDD_BINARY_DIR);
            assert_non_null(mkdtemp(tmp));
        }
        char cmd[3000];
        snprintf(cmd, sizeof cmd, "tar -xzf '%s' -C '%s'", tgz, tmp);
        double t0 = svdd__now();
        if (system(cmd) != 0) {
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
            if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
            fail_msg("could not extract %s", tgz);
        }
        printf("  extracted the JPEG folders in %.1f s\n", svdd__now() - t0);
        snprintf(root, sizeof root, "%s/cifar-10-folders", tmp);
    }
    svdd_dataset *tr = NULL, *te = NULL;
    svdd_error err;
    double t0 = svdd__now();
    svdd_status st = svdd_dataset_load_folder(&tr, root, "train", NULL, &err);
    double t1 = svdd__now();
    if (st == SVDD_OK) st = svdd_dataset_load_folder(&te, root, "test", NULL, &err);
    double t2 = svdd__now();
    svdd_dataset *dogs = NULL;
    svdd_load_limits keep5 = {0, 0, 0, {1u << 5, 0, 0, 0}};
    if (st == SVDD_OK) st = svdd_dataset_load_folder(&dogs, root, "test", &keep5, &err);
    if (tmp[0]) {
        char cmd[1100];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        assert_int_equal(system(cmd), 0);
    }
    if (st != SVDD_OK) fail_msg("%s", err.message);
    printf("  CIFAR-10 (JPEG): %zu train images in %.2f s, %zu test images in %.2f s (%.0f images/s)\n",
           svdd_dataset_count(tr), t1 - t0, svdd_dataset_count(te), t2 - t1, 60000 / (t2 - t0));
    assert_int_equal(svdd_dataset_count(tr), 50000);
    assert_int_equal(svdd_dataset_count(te), 10000);
    int c, h, w;
    svdd_dataset_shape(tr, &c, &h, &w);
    assert_true(c == 3 && h == 32 && w == 32);
    svdd_dataset_shape(te, &c, &h, &w);
    assert_true(c == 3 && h == 32 && w == 32);
    static const char *const names[10] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                          "dog",      "frog",       "horse", "ship", "truck"};
    int th[10], eh[10];
    for (int k = 0; k < 10; k++) {
        assert_string_equal(svdd_dataset_class_name(tr, k), names[k]);
        assert_string_equal(svdd_dataset_class_name(te, k), names[k]);
        th[k] = 5000, eh[k] = 1000;
    }
    check_histogram(tr, th, 10);
    check_histogram(te, eh, 10);
    same_as_selected(dogs, te, 5);
    svdd_dataset_free(dogs);

    /* The JPEG copy against the original pixels: train file NNNNN is record NNNNN of the
     * training batches, so the first 4000 are the exact subset. Same labels, and pixels within
     * JPEG's loss (about 5.8 on average per the data README), which also checks planar order. */
    svdd_dataset *exact = load_cifar_subset("data_batch_1.first4000.bin.gz");
    double sum = 0;
    size_t matched = 0;
    for (size_t i = 0; i < svdd_dataset_count(tr); i++) {
        long r = file_index(svdd_dataset_path(tr, i));
        if (r < 0 || r >= 4000) continue;
        assert_int_equal(svdd_dataset_labels(tr)[i], svdd_dataset_labels(exact)[r]);
        const uint8_t *a = svdd_dataset_pixels(tr) + i * 3072, *b = svdd_dataset_pixels(exact) + (size_t)r * 3072;
        for (int k = 0; k < 3072; k++) sum += abs((int)a[k] - (int)b[k]);
        matched++;
    }
    assert_int_equal(matched, 4000);
    double mad = sum / (4000.0 * 3072.0);
    printf("  mean absolute difference JPEG vs original on the exact subset: %.3f\n", mad);
    assert_true(mad > 2 && mad < 10);
    svdd_dataset_free(exact);
    svdd_dataset_free(tr), svdd_dataset_free(te);
}

int main(void) {
    data_dir = svdd_test_data_dir();
    if (!data_dir) {
        printf("SKIP: SVDD_DATA is not set (point it at the shared data folder to run the real-data tests)\n");
        return SVDD_TEST_SKIP;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mnist),
        cmocka_unit_test(test_fashion_mnist),
        cmocka_unit_test(test_cifar_exact_subset),
        cmocka_unit_test(test_preprocess_reference),
        cmocka_unit_test(test_one_class_split),
        cmocka_unit_test(test_cifar_jpeg_folders),
        cmocka_unit_test(test_keep_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
