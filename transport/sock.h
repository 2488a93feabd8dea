/*
 * sock.h - socket helpers shared by the transport and the replay host
 * (internal: hidden in both libraries).
 */
#ifndef URG_SOCK_H
#define URG_SOCK_H

#include "urg_transport.h"

/* Makes fd non-blocking; 0 or -1. */
int sock_nonblock(int fd);
/* Listens on a TCP or Unix address (a Unix path is unlinked first): the
 * fd, non-blocking and close-on-exec, and in *port the TCP port bound (for
 * port 0). A negative URG_ERR_RESOLVE / URG_ERR_CONNECT / URG_ERR_ADDRESS. */
int sock_listen(const struct urg_address *a, int backlog, int *port);

#endif
