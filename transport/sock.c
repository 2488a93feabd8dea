/*
 * sock.c - see sock.h.
 */
#include "sock.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int sock_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

int sock_listen(const struct urg_address *a, int backlog, int *port)
{
    int fd = -1, one = 1;
    if (a->kind == URG_ADDR_UNIX) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
        unlink(a->path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, backlog))
            goto fail;
    } else if (a->kind == URG_ADDR_TCP) {
        struct addrinfo hints, *res = NULL;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char p[8];
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        snprintf(p, sizeof(p), "%u", a->port);
        if (getaddrinfo(a->host[0] ? a->host : NULL, p, &hints, &res) || !res)
            return URG_ERR_RESOLVE;
        fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
        if (fd >= 0)
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, backlog)) {
            freeaddrinfo(res);
            goto fail;
        }
        freeaddrinfo(res);
        if (port && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                    : ((struct sockaddr_in *)&ss)->sin_port);
    } else {
        return URG_ERR_ADDRESS;
    }
    if (sock_nonblock(fd) == 0)
        return fd;
fail:
    if (fd >= 0)
        close(fd);
    return URG_ERR_CONNECT;
}
