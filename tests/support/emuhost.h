/*
 * emuhost.h - an emulated usb-host for tests and fixtures, built on the
 * engine's codec in the host role (its output queued through
 * urg_host_output, as the other hosts'). It behaves as libusbredirhost does
 * (hello, then interface_info, ep_info, device_connect; cancelled replies;
 * streams with their statuses) in front of one emulated device:
 *
 *   keyboard  0627:0001, HID boot keyboard, interrupt IN 0x81; after
 *             start_interrupt_receiving it types the configured text
 *             (press and release reports);
 *   msc       46f4:0001, mass storage Bulk-Only Transport (bulk 0x81 IN,
 *             0x02 OUT), SCSI INQUIRY, TEST UNIT READY, REQUEST SENSE,
 *             READ CAPACITY(10), READ(10), WRITE(10), MODE SENSE(6) on a
 *             RAM disk whose block n starts with "block n" and repeats
 *             the byte n & 0xff;
 *   serial    0403:6001, an FTDI FT232R: vendor requests accepted (the
 *             baud rate decoded), bulk IN 0x81 sends a greeting then
 *             echoes what arrives on bulk OUT 0x02, in 64-byte blocks
 *             each with the 2-byte FTDI status header - as buffered bulk
 *             packets while bulk receiving runs, else answering bulk IN;
 *   mouse     0627:0001, HID boot mouse, interrupt IN 0x81 (4-byte
 *             reports); after start_interrupt_receiving: right 10, down 5,
 *             a left click, up-left 3/4 with the right button, wheel down;
 *   cp210x    10c4:ea60, a CP2102: its vendor requests (the baud rate
 *             kept), raw data on bulk 0x81 IN / 0x01 OUT, greeting, echo;
 *   pl2303    067b:2303, a PL2303: vendor reads and writes, CDC line
 *             coding, raw data on bulk 0x83 IN / 0x02 OUT, greeting, echo.
 *
 * Sans-IO (emu_recv / emu_output / emu_consume) with an optional libev glue.
 */
#ifndef URG_EMUHOST_H
#define URG_EMUHOST_H

#include <stddef.h>
#include <stdint.h>

#include "urg_codec.h"

enum emu_kind { EMU_KEYBOARD, EMU_MSC, EMU_SERIAL, EMU_MOUSE, EMU_CP210X, EMU_PL2303,
                EMU_ISO, EMU_KIND_COUNT };
/* The kind's name on command lines ("keyboard", "msc", "ftdi", "mouse",
 * "cp210x", "pl2303", "iso"), and back (-1 for an unknown name). */
const char *emu_kind_name(int kind);
int emu_kind_parse(const char *name);

struct emu_config {
    int kind;
    uint32_t caps;          /* the host's caps (URG_CAPS_ALL) */
    const char *text;       /* keyboard: what it types ("hello") */
    uint32_t blocks;        /* msc: 512-byte blocks (2048) */
    uint8_t speed;          /* URG_SPEED_* (high; msc: super; serial, iso: full) */
    uint32_t iso_burst;     /* iso: IN packets sent when the stream starts (64) */
};

struct emuhost;

void emu_config_init(struct emu_config *c, int kind);
struct emuhost *emu_new(const struct emu_config *c);
void emu_free(struct emuhost *e);
/* Bytes from the guest; returns 0 or the decoder's error. */
int emu_recv(struct emuhost *e, const void *buf, size_t n);
/* Bytes for the guest. */
const uint8_t *emu_output(struct emuhost *e, size_t *n);
void emu_consume(struct emuhost *e, size_t n);
/* The device is unplugged: pending requests are answered cancelled, then
 * device_disconnect. */
void emu_unplug(struct emuhost *e);
/* The RAM disk (msc). */
uint8_t *emu_disk(struct emuhost *e, uint32_t *blocks);
/* Serial: the last baud rate the guest set (0: none), the adapter requests
 * accepted, the bytes received on bulk OUT. */
uint32_t emu_serial_baud(const struct emuhost *e);
uint64_t emu_serial_requests(const struct emuhost *e);
uint64_t emu_serial_received(const struct emuhost *e);
/* Iso (EMU_ISO): OUT payload bytes received; IN packets sent. Starting its
 * iso IN stream sends a burst of iso_burst packets: packet k has
 * 100 + k % 50 bytes, byte i being (k + i) & 0xff. */
uint64_t emu_iso_out_bytes(const struct emuhost *e);
/* The pkts_per_urb and no_urbs of the last start_iso_stream for an OUT
 * endpoint (0 and 0 if none came). */
void emu_iso_out_sizing(const struct emuhost *e, uint8_t *pkts_per_urb, uint8_t *no_urbs);
/* Packets of each type the guest sent. */
uint64_t emu_count(const struct emuhost *e, uint32_t type);

/* ---- libev glue: serves the guest on fd until EOF, then calls done ---- */
struct ev_loop;
int emu_serve(struct emuhost *e, struct ev_loop *loop, int fd,
              void (*done)(void *ctx, struct emuhost *e), void *ctx);
/* Stops serving and closes the fd (the guest sees EOF). */
void emu_close(struct emuhost *e);
/* Stops (1) or resumes (0) reading what the guest sends: a slow host. */
void emu_pause(struct emuhost *e, int pause);

#endif
