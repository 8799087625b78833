/* The network's tensors in safetensors files (net_store.h). */
#include <string.h>

#include "net_store.h"

svdd_status svdd__net_write_tensors(svdd__st_writer *w, const svdd_net *net, svdd_error *err) {
    svdd_status st = SVDD_OK;
    for (int i = 0; st == SVDD_OK && i < svdd__net_tensor_count(net); i++) {
        svdd__tensor_info t;
        svdd__net_tensor(net, i, &t);
        st = svdd__st_writer_add_f32(w, t.name, t.ndim, t.shape, t.data, err);
    }
    return st;
}

svdd_status svdd__net_read_tensors(svdd_net *net, const svdd__st *st, svdd_error *err) {
    const char *path = svdd__st_name(st);
    for (int i = 0; i < svdd__net_tensor_count(net); i++) {
        svdd__tensor_info t;
        svdd__net_tensor(net, i, &t);
        if (!svdd__st_find(st, t.name))
            return svdd__fail(err, SVDD_E_FORMAT, "%s: tensor '%s' is missing (a file of another network?)", path, t.name);
        svdd_status rc = svdd__st_read_f32(st, t.name, t.data, t.len, t.ndim, t.shape, err);
        if (rc == SVDD_OK) rc = svdd__st_check_finite(st, t.name, err);
        if (rc != SVDD_OK) return rc;
        /* a negative variance would make batch norm take the square root of a negative number */
        if (!t.is_param && strstr(t.name, "running_var"))
            for (size_t k = 0; k < t.len; k++)
                if (t.data[k] < 0) return svdd__fail(err, SVDD_E_FORMAT, "%s: '%s' holds a negative variance", path, t.name);
    }
    return SVDD_OK;
}

uint64_t svdd__fnv1a(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}
