/*
 * usbip.h - what the two files of `usbredir-guest usbip` share:
 *
 *   usbip.c         the command: options, the listening socket, the exports
 *                   (a model device behind a reconnecting transport per
 *                   usb-host, probed and described as USB/IP lists it)
 *   usbip_client.c  a client's connection: the management request, then
 *                   its URBs from CMD_SUBMIT to RET_SUBMIT (the one owner
 *                   of a URB's lifecycle), unlink, iso pacing, bounds
 *   usbip_wire.c    the protocol's bytes (usbip_wire.h; pure, fuzzed)
 *
 * Both use the installed public headers only (urg_hcd.h, urg_transport.h),
 * as a VMM's controller model would.
 */
#ifndef URG_CLI_USBIP_H
#define URG_CLI_USBIP_H

#include <ev.h>

#include "cli.h"
#include "usbip_wire.h"

#define MAX_EXPORTS 32
#define MAX_CLIENTS 64

struct client;

struct export {
    struct server *s;
    int devnum;                  /* 1..: busid "1-devnum" */
    char busid[USBIP_BUSID_SIZE];
    const char *address;
    urg_hcd_dev *dev;
    urg_transport *t;
    int ready;                   /* attached and probed: listed */
    int probing;
    struct urg_urb *probe;
    uint8_t descriptor[18];
    uint8_t configuration;       /* GET_CONFIGURATION's answer (the model keeps it) */
    uint8_t num_configurations;
    struct client *importer;
    ev_timer redial;             /* connected with no device: dial again */
    int can_redial;              /* a host address and --device-wait > 0 */
    urg_replay *device;          /* device:FILE: the recorded device, served
                                    in-process on a socketpair (fd_address) */
    const char *recording;       /* its FILE */
    char fd_address[32];
    char usbmon[4096];           /* --usbmon: this device's capture */
};

struct server {
    struct common *o;
    int n_addresses;             /* usb-hosts on the command line */
    struct ev_loop *loop;
    int lfd;
    ev_io lio;
    struct cli_signals signals;  /* SIGINT, SIGTERM: the server stops */
    ev_signal report;            /* SIGUSR1: clients_report() */
    struct export exports[MAX_EXPORTS];
    int n_exports;
    struct client *clients;
    int n_clients;               /* connected (MAX_CLIENTS at most) */
    struct client *closed;       /* reaped before the loop next waits */
    ev_timer accept_again;       /* out of file descriptors: accept later */
    size_t max_output;           /* requests queued per usb-host (--max-output) */
    double device_wait;          /* --device-wait: seconds connected with no device */
    uint32_t iso_latency_ms;     /* --iso-latency: the usb-host's iso buffering */
    ev_prepare reaper;
};

/* ---- usbip.c */

/* The export with this busid, or NULL. */
struct export *export_by_busid(struct server *s, const char *busid);
/* The device record a client is sent (OP_REP_DEVLIST, OP_REP_IMPORT). */
void export_describe(const struct export *e, struct usbip_device *d);

/* ---- usbip_client.c */

/* Logs each connection's requests and the time with and without one in
 * the bridge or at the usb-host (SIGUSR1). */
void clients_report(struct server *s);

/* A client connected on fd (the client owns it from here). */
void client_new(struct server *s, int fd);
/* Ends the connection now (safe from anywhere, inside the model's
 * callbacks too: it does not call the model). why: the log line's reason,
 * NULL for a normal close. clients_reap() does the rest. */
void client_close(struct client *c, const char *why);
/* Its device went away (the export's detach): the replies the model just
 * completed are written, then the connection closes. */
void client_device_gone(struct client *c);
/* The model completed a URB of a client (urb_complete). */
void client_urb_complete(struct urg_urb *u);
/* At exit: every client closed. */
void clients_close_all(struct server *s);
/* For each client closed since the last call, from outside every callback:
 * its URBs still in the model are cancelled (answered to no one), the
 * device it imported is reset and importable again, and it is freed. */
void clients_reap(struct server *s);

#endif
