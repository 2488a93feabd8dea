/*
 * fasthost.h - a fast usb-host for the benchmarks and the soak:
 * libusbredirparser in the host role, in a child process, with one device
 * (bulk IN 0x81, control endpoint 0). It answers every bulk IN request with
 * as many bytes as were asked for and every control request with success
 * (IN: wLength bytes); in raw mode it writes 64 KiB buffers with no protocol. It serves
 * connection after connection until killed. Unless BENCH_HOST_MALLOC=default
 * is in the environment, the host process raises glibc's trim and mmap
 * thresholds first (docs/benchmarks.md, "The parser host's heap").
 */
#ifndef URG_FASTHOST_H
#define URG_FASTHOST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* raw: 0 the usb-host; FASTHOST_RAW_STREAM 64 KiB writes with no protocol;
 * FASTHOST_RAW_PINGPONG a 44-byte answer to each 26 bytes read (the sizes
 * of a control IN request of 18 bytes and its reply, with 64-bit ids);
 * FASTHOST_RAW_COPY as STREAM, but each 64 KiB first copied into a buffer
 * allocated for it and freed after the write, as the parser in the host
 * role sends every packet (the ceiling any guest has against this host);
 * FASTHOST_WRITEV the usb-host with no parser after the handshake: each bulk
 * IN or control request answered with its own header, patched, and the
 * static payload, many replies to a writev (no allocation, no payload copy:
 * a host that does little more per byte than STREAM); GET_DESCRIPTOR
 * (DEVICE, 18) answered from a reply encoded once, the device descriptor
 * as payload, the request's id copied in (a read and a one-iovec writev
 * per round trip: a host that does little more than PINGPONG's);
 * FASTHOST_RAW_REQUESTS the protocol's traffic with no protocol: every
 * FASTHOST_REQUEST bytes read are a request, answered with
 * FASTHOST_REPLY_HEADER bytes and 64 KiB, many to a writev (what a bulk IN
 * request and its reply are on the wire, with 64-bit ids). */
enum { FASTHOST_RAW_STREAM = 1, FASTHOST_RAW_PINGPONG = 2, FASTHOST_RAW_COPY = 3,
       FASTHOST_WRITEV = 4, FASTHOST_RAW_REQUESTS = 5 };
enum { FASTHOST_REQUEST = 26, FASTHOST_REPLY_HEADER = 28 };

/* Listens on a TCP port of 127.0.0.1 (or a Unix socket), forks the host;
 * the address goes to addr ("127.0.0.1:PORT" or "unix:PATH"). */
pid_t fasthost_start(int unix_socket, int raw, char *addr, size_t cap);
/* Kills and reaps it. */
void fasthost_stop(pid_t pid, const char *addr);
/* A blocking connection to addr (TCP_NODELAY on TCP). */
int fasthost_connect(const char *addr);

/* A libusbredirparser endpoint on a non-blocking socket, and its read,
 * write and log callbacks (priv is the struct fasthost_io, or a struct that
 * starts with one): read and write return 0 when the socket would block and
 * -1 when it is closed or failed. Used by the host and by the benchmarks'
 * reference guest. */
struct usbredirparser;
struct fasthost_io {
    struct usbredirparser *p;
    int fd;
};
int fasthost_io_read(void *priv, uint8_t *b, int n);
int fasthost_io_write(void *priv, uint8_t *b, int n);
void fasthost_io_log(void *priv, int level, const char *msg);

#endif
