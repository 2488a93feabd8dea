/*
 * usbmonw.h - test support: usbmon captures written record by record, as
 * Linux's usbmon gives them to libpcap (link types USB_LINUX, 48-byte
 * headers, or USB_LINUX_MMAPPED, 64-byte ones, with iso descriptors before
 * the data), and the synthesized devices the usbmon import's tests read:
 * a hub, and an audio-like device whose iso IN endpoint only an
 * alternate setting has. Used by tests/transport/test_usbmon.c and by
 * tests/tools/usbmon-make.c (the command's tests).
 */
#ifndef URG_TEST_USBMONW_H
#define URG_TEST_USBMONW_H

#include <stdbool.h>
#include <stdint.h>

#define UMW_USB_LINUX 189
#define UMW_USB_LINUX_MMAPPED 220

struct umw;

/* One iso packet's descriptor. */
struct umw_iso {
    int32_t status;
    uint32_t offset, length;
};

/* One record. */
struct umw_rec {
    uint64_t id;               /* the URB's */
    char type;                 /* 'S', 'C', 'E' */
    uint8_t xfer;              /* 0 iso, 1 interrupt, 2 control, 3 bulk */
    uint8_t ep;                /* with 0x80 for IN */
    uint8_t dev;
    uint16_t bus;
    bool has_setup;            /* an 'S' of a control URB */
    uint8_t setup[8];
    int32_t status;            /* 'S': -EINPROGRESS */
    uint32_t length;           /* 'S': the transfer's; 'C': actual */
    int32_t interval;
    uint32_t flags;
    uint32_t numdesc;          /* iso: number of packets */
    const struct umw_iso *desc;
    uint32_t ndesc;
    const void *data;
    uint32_t data_len;
    uint32_t snap;             /* cut the record to this many bytes (0: not) */
};

/* A capture of linktype (UMW_USB_LINUX or UMW_USB_LINUX_MMAPPED) at path;
 * NULL if it cannot be created. Times are microseconds since 1.7e9 s. */
struct umw *umw_open(const char *path, int linktype);
void umw_close(struct umw *w);
/* The writer's clock, in microseconds: each record is written at it and
 * it moves on 10 us. */
extern uint64_t umw_now;
void umw_write(struct umw *w, const struct umw_rec *r);
/* A record as bytes (a 64-byte header, then the rest) written as is,
 * cut to the writer's header form; caplen bytes of len. */
void umw_write_raw(struct umw *w, uint64_t t_us, const uint8_t *rec, uint32_t caplen,
                   uint32_t len);

/* A whole control transfer on device bus.dev: its 'S' (with the OUT data)
 * and 'C' (with len bytes of IN data, status), URB id id. */
void umw_control(struct umw *w, uint16_t bus, uint8_t dev, uint64_t id, const uint8_t setup[8],
                 const void *data, uint32_t len, int32_t status);
/* A bulk or interrupt transfer (xfer 3 or 1) on ep: 'S' then 'C'. IN:
 * asked asks, data (len bytes) comes back; OUT: data goes. */
void umw_transfer(struct umw *w, uint16_t bus, uint8_t dev, uint64_t id, uint8_t xfer,
                  uint8_t ep, int32_t interval, uint32_t asked, const void *data, uint32_t len,
                  int32_t status);

/* A hub at bus.dev: its enumeration (class 9) and n status-change
 * interrupts of 64 bytes on 0x81 (more data than the other devices of the
 * tests). */
void umw_hub(struct umw *w, uint16_t bus, uint8_t dev, int n);
/* The audio-like device at bus.dev (46f4:0003, full speed): enumeration
 * (device and configuration descriptors, SET_CONFIGURATION 1), then
 * SET_INTERFACE(1, 1), whose alternate setting alone has the iso IN
 * endpoint 0x81 (192 bytes, bInterval 1); urbs iso URBs of 8 packets on it,
 * two in flight (packet k of URB u holds bytes (u * 8 + k) & 0xff, 192 of
 * them but every 4th packet 96); then SET_INTERFACE(1, 0), which takes the
 * endpoint away again. */
void umw_audio(struct umw *w, uint16_t bus, uint8_t dev, int urbs);

/* What QEMU's pcap= option (hw/usb/pcap.c) writes, one device on bus 0,
 * with QEMU's ways: status 0 in a submission, length 0 and no data in an
 * IN submission and an OUT completion, len_cap counting the 64-byte
 * header, data transfers cut to 256 bytes; control URBs all id 0. The
 * device (0627:0001) is enumerated at address 0, then 3 (an emulated
 * device's synchronous control transfers, each completed: the device
 * descriptor, SET_ADDRESS, a stalled device qualifier), then used at
 * address 1 through usb-redir, whose asynchronous control transfers have
 * no completion but a failed one's (SET_CONFIGURATION 1, GET_DESCRIPTOR of
 * the HID report, SET_IDLE, the device qualifier failed with -EREMOTEIO
 * and QEMU's stale buffer, 10 bytes of the device descriptor); then bulk:
 * a 31-byte CBW out on 0x02 (its completion length 0), 512 bytes in on
 * 0x81 (0, 1, 2, ... cut to 256; its submission written twice, a NAK
 * between), and an IN that ends with the device gone (-ENODEV). */
void umw_qemu(struct umw *w);

#endif
