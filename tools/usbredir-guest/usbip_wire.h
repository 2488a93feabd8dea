/*
 * usbip_wire.h - the USB/IP protocol (version 1.1.1) as a server speaks it:
 * the client's messages read and checked by a sans-IO reader, the server's
 * replies encoded. Pure code - no sockets, no allocation - so that every
 * byte a client sends can be fuzzed (tests/fuzz/fuzz_usbip.c) and
 * unit-tested (tests/tools/test_usbip_wire.c). The server that uses it is
 * usbip.c; docs/usbip.md describes the mapping.
 *
 * Every integer in a header is big-endian. The client is an untrusted
 * network peer: a length, a count, an offset or an endpoint number it sends
 * is checked against the limits here before anything is sized by it.
 */
#ifndef URG_CLI_USBIP_WIRE_H
#define URG_CLI_USBIP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define USBIP_VERSION 0x0111

/* Management phase: an 8-byte header (version, code, status). */
enum {
    USBIP_OP_REQ_DEVLIST = 0x8005,
    USBIP_OP_REP_DEVLIST = 0x0005,
    USBIP_OP_REQ_IMPORT = 0x8003,
    USBIP_OP_REP_IMPORT = 0x0003
};
#define USBIP_OP_HEADER_SIZE 8
#define USBIP_BUSID_SIZE 32
#define USBIP_DEVICE_SIZE 312       /* a device record */
#define USBIP_INTERFACE_SIZE 4      /* class, subclass, protocol, padding */

/* OP_REP_* status. */
enum {
    USBIP_ST_OK = 0,
    USBIP_ST_NA = 1,        /* the device is not available (absent now) */
    USBIP_ST_DEV_BUSY = 2,  /* already imported */
    USBIP_ST_DEV_ERR = 3,
    USBIP_ST_NODEV = 4,     /* no such busid */
    USBIP_ST_ERROR = 5
};

/* USB/IP speeds (the kernel's enum usb_device_speed). */
enum { USBIP_SPEED_LOW = 1, USBIP_SPEED_FULL = 2, USBIP_SPEED_HIGH = 3, USBIP_SPEED_SUPER = 5 };

/* URB phase: a 48-byte header, then data, then iso descriptors. */
enum { USBIP_CMD_SUBMIT = 1, USBIP_CMD_UNLINK = 2, USBIP_RET_SUBMIT = 3, USBIP_RET_UNLINK = 4 };
#define USBIP_HEADER_SIZE 48
#define USBIP_ISO_DESC_SIZE 16
#define USBIP_MAX_ISO_PACKETS 1024  /* the Linux stub's limit */
#define USBIP_DIR_OUT 0
#define USBIP_DIR_IN 1
#define USBIP_URB_SHORT_NOT_OK 0x1
#define USBIP_URB_ZERO_PACKET 0x40

/* A device as OP_REP_DEVLIST and OP_REP_IMPORT describe it. */
struct usbip_device {
    char path[256];
    char busid[USBIP_BUSID_SIZE];
    uint32_t busnum, devnum, speed;
    uint16_t id_vendor, id_product, bcd_device;
    uint8_t device_class, device_subclass, device_protocol;
    uint8_t configuration_value, num_configurations, num_interfaces;
    struct {
        uint8_t class_code, subclass, protocol;
    } interface[32];
};

/* A CMD_SUBMIT or CMD_UNLINK, its header decoded and checked. */
struct usbip_cmd {
    uint32_t command;         /* USBIP_CMD_SUBMIT or USBIP_CMD_UNLINK */
    uint32_t seqnum, devid;
    uint32_t direction;       /* USBIP_DIR_OUT or USBIP_DIR_IN */
    uint32_t ep;              /* 0..15 */
    uint32_t transfer_flags;
    uint32_t transfer_buffer_length; /* checked: 0..max_transfer */
    int32_t start_frame, interval;
    uint32_t number_of_packets; /* iso: 1..USBIP_MAX_ISO_PACKETS; else 0 */
    uint8_t setup[8];
    uint32_t unlink_seqnum;   /* CMD_UNLINK */
};

/* An iso packet descriptor (both ways). */
struct usbip_iso_desc {
    uint32_t offset, length, actual_length;
    int32_t status;
};

/* ---------------------------------------------------------------- reader */

enum usbip_mode { USBIP_MODE_MANAGEMENT = 0, USBIP_MODE_URB = 1 };

/* What usbip_read() found. */
enum usbip_event {
    USBIP_NEED_MORE = 0,    /* every byte given was used; give more */
    USBIP_DEVLIST = 1,      /* OP_REQ_DEVLIST */
    USBIP_IMPORT = 2,       /* OP_REQ_IMPORT: busid in usbip_reader.busid */
    USBIP_HEADER = 3,       /* a CMD_SUBMIT's header is in cmd: the caller
                               calls usbip_reader_payload() before reading on */
    USBIP_SUBMIT = 4,       /* a whole CMD_SUBMIT: data and descriptors are
                               in the places usbip_reader_payload() gave */
    USBIP_UNLINK = 5,       /* a CMD_UNLINK, in cmd */
    USBIP_MALFORMED = -1    /* the client broke the protocol: why says how;
                               the reader reads nothing more */
};

/* Endpoint types as the caller's table gives them (urg_guest.h's
 * URG_EP_*: control 0, iso 1, bulk 2, interrupt 3). */
#define USBIP_EP_ISO 1

struct usbip_reader {
    /* limits, set before the first read */
    uint32_t max_transfer;    /* largest transfer_buffer_length accepted */
    uint32_t devid;           /* commands must carry it (URB mode) */
    /* state */
    enum usbip_mode mode;
    int state;
    uint8_t header[USBIP_HEADER_SIZE];
    size_t have;              /* bytes of the current piece read */
    struct usbip_cmd cmd;
    char busid[USBIP_BUSID_SIZE + 1];
    uint8_t *data;            /* where a CMD_SUBMIT's OUT data goes */
    size_t data_len;
    struct usbip_iso_desc *iso; /* where its descriptors go */
    uint32_t iso_count;
    char why[160];            /* USBIP_MALFORMED: what was wrong */
};

/* Starts a reader in mode (a new connection: management; after a
 * successful import: usbip_reader_urb_mode()). */
void usbip_reader_init(struct usbip_reader *r, uint32_t max_transfer);
/* The connection imported the device with this devid: commands follow. */
void usbip_reader_urb_mode(struct usbip_reader *r, uint32_t devid);
/*
 * Reads from buf[0..len): returns an event and sets *used to the bytes it
 * took (the rest is for the next call). After USBIP_HEADER the caller must
 * call usbip_reader_payload() before the next read. After USBIP_MALFORMED
 * every call returns it again and uses nothing.
 */
enum usbip_event usbip_read(struct usbip_reader *r, const uint8_t *buf, size_t len,
                            size_t *used);
/*
 * After USBIP_HEADER, first: the endpoint's current type (USBIP_EP_ISO or
 * another, from the caller's table: the header does not carry it). For iso
 * the header's number_of_packets is checked (1..USBIP_MAX_ISO_PACKETS);
 * for other types it is set to 0 (the field is stale on reused URBs).
 * Returns 0, or -1 when the command is malformed (why says how; reads
 * return USBIP_MALFORMED from then on).
 */
int usbip_reader_endpoint(struct usbip_reader *r, int ep_type);
/*
 * Then: where the submit's payload goes. data has room for
 * cmd.transfer_buffer_length bytes (OUT data follows only for OUT; NULL
 * allowed when nothing follows); iso has room for cmd.number_of_packets
 * descriptors, which are read and checked (every packet within the buffer).
 */
void usbip_reader_payload(struct usbip_reader *r, uint8_t *data, struct usbip_iso_desc *iso);

/* ---------------------------------------------------------------- writer */

/* Each writes exactly the size named and returns it. */
size_t usbip_put_op_header(uint8_t out[USBIP_OP_HEADER_SIZE], uint16_t code, uint32_t status);
/* A device record; with_interfaces adds num_interfaces 4-byte entries
 * (OP_REP_DEVLIST); out must have room for
 * USBIP_DEVICE_SIZE + 4 * num_interfaces. */
size_t usbip_put_device(uint8_t *out, const struct usbip_device *d, int with_interfaces);
size_t usbip_put_ret_submit(uint8_t out[USBIP_HEADER_SIZE], uint32_t seqnum, int32_t status,
                            uint32_t actual_length, int32_t start_frame,
                            uint32_t number_of_packets, uint32_t error_count);
size_t usbip_put_ret_unlink(uint8_t out[USBIP_HEADER_SIZE], uint32_t seqnum, int32_t status);
size_t usbip_put_iso_desc(uint8_t out[USBIP_ISO_DESC_SIZE], const struct usbip_iso_desc *d);

/* For clients (the tests): the inverse of the server's side. */
void usbip_put_cmd(uint8_t out[USBIP_HEADER_SIZE], const struct usbip_cmd *c);
uint32_t usbip_get32(const uint8_t *p);
uint16_t usbip_get16(const uint8_t *p);

#endif
