/*
 * import.h - the import of pcap and pcapng files into captures (internal
 * to the transport): import.c reads the file, takes usbredir sessions over
 * TCP apart and writes the capture; usbmon.c turns a usbmon capture's URBs
 * into a session.
 */
#ifndef URG_IMPORT_H
#define URG_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "talloc.h"

/* One import in progress. */
struct import {
    const struct urg_allocator *alloc;
    const struct urg_import_config *cfg; /* never NULL: the defaults filled in */
    const char *path;          /* the file read */
    const char *out_path;      /* the capture file; NULL: in memory */
    size_t budget;             /* cfg->max_bytes, or its default */
    urg_capture *cap;          /* the capture written (import_output()) */
    char *note;                /* what was taken and why ("; " between */
    size_t notecap;            /*   sentences) */
    char *err;
    size_t errcap;
};

/* Says why into x->err (printf; the message names the file itself) and
 * returns code. */
int import_fail(struct import *x, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends a sentence to x->note ("; " before it when there is one). */
void import_note(struct import *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Creates the capture (x->out_path, or memory up to x->budget) into
 * x->cap: 0, or the error after saying why. */
int import_output(struct import *x);

/* usbmon.c: the usbmon capture x->path (dlt: DLT_USB_LINUX or
 * DLT_USB_LINUX_MMAPPED) as a session into import_output()'s capture. 0,
 * or an error after saying why (URG_ERR_PCAP, URG_ERR_CAPTURE,
 * URG_ERR_NOMEM). */
int usbmon_import(struct import *x, int dlt);

#endif
