/* Writes the JPEG seeds of the image fuzz target (fuzz/make_corpus.sh compiles and runs it):
 * a few tiny synthetic images, grey and colour, baseline and progressive, and one cut short.
 * Usage: make_jpeg DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

static void write_jpeg(const char *dir, const char *name, int w, int h, int comps, int progressive, long cut) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unsigned char *mem = NULL;
    unsigned long len = 0;
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, &mem, &len);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = comps;
    ci.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 75, TRUE);
    if (progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    unsigned char *row = malloc((size_t)w * (size_t)comps);
    while (ci.next_scanline < ci.image_height) {
        for (int x = 0; x < w * comps; x++) row[x] = (unsigned char)(x * 29 + (int)ci.next_scanline * 11);
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    if (cut > 0 && (unsigned long)cut < len) len = (unsigned long)cut;
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(mem, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "make_jpeg: cannot write %s\n", path);
        exit(1);
    }
    free(mem);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_jpeg DIR\n");
        return 2;
    }
    write_jpeg(argv[1], "grey.jpg", 8, 8, 1, 0, 0);
    write_jpeg(argv[1], "rgb.jpg", 12, 10, 3, 0, 0);
    write_jpeg(argv[1], "rgb_progressive.jpg", 16, 9, 3, 1, 0);
    write_jpeg(argv[1], "bad_truncated.jpg", 16, 16, 3, 0, 200);
    return 0;
}
