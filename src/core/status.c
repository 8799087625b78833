/* Status names, error messages and the log helper. */
#include <stdio.h>
#include <string.h>

#include "core.h"

const char *svdd_status_name(svdd_status status) {
    switch (status) {
    case SVDD_OK: return "SVDD_OK";
    case SVDD_E_INVALID: return "SVDD_E_INVALID";
    case SVDD_E_NOMEM: return "SVDD_E_NOMEM";
    case SVDD_E_IO: return "SVDD_E_IO";
    case SVDD_E_FORMAT: return "SVDD_E_FORMAT";
    case SVDD_E_LIMIT: return "SVDD_E_LIMIT";
    case SVDD_E_UNSUPPORTED: return "SVDD_E_UNSUPPORTED";
    case SVDD_E_NUMERIC: return "SVDD_E_NUMERIC";
    }
    return "SVDD_E_UNKNOWN";
}

const char *svdd_status_string(svdd_status status) {
    switch (status) {
    case SVDD_OK: return "success";
    case SVDD_E_INVALID: return "invalid argument";
    case SVDD_E_NOMEM: return "out of memory";
    case SVDD_E_IO: return "input/output error";
    case SVDD_E_FORMAT: return "malformed input";
    case SVDD_E_LIMIT: return "input exceeds a size limit";
    case SVDD_E_UNSUPPORTED: return "unsupported";
    case SVDD_E_NUMERIC: return "non-finite number";
    }
    return "unknown status";
}

const char *svdd_version(void) { return SVDD_VERSION_STRING; }

/* (the name in parentheses: core.h defines a macro of this name for the static analyser) */
svdd_status (svdd__fail)(svdd_error *err, svdd_status status, const char *fmt, ...) {
    if (err) {
        err->status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

void svdd__ok(svdd_error *err) {
    if (err) {
        err->status = SVDD_OK;
        err->message[0] = '\0';
    }
}

void svdd__log(svdd_log_fn fn, void *user, svdd_log_level level, const char *fmt, ...) {
    if (!fn) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fn(user, level, buf);
}
