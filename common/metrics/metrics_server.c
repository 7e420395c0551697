/*
 * The /metrics endpoint. We bind the listening socket ourselves (so a
 * failure says exactly why, e.g. "Address already in use", and port 0 can be
 * read back with getsockname) and hand it to libmicrohttpd, which serves it
 * from one internal thread: a scrape is a render of a few kilobytes.
 */
#include "metrics/metrics.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct metrics_server {
    struct MHD_Daemon *daemon;
    metrics_registry *reg;
    int port;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *ctype,
                             char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result rc = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    metrics_server *s = cls;
    static const char text[] = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static char msg[] = "method not allowed\n";
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, msg, sizeof msg - 1,
                     MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        char *body = metrics_render(s->reg, &len);
        if (!body) {
            static char msg[] = "out of memory\n";
            return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text, msg, sizeof msg - 1,
                         MHD_RESPMEM_PERSISTENT);
        }
        return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
                     MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/") == 0 || strcmp(url, "/healthz") == 0) {
        static char ok[] = "ok\n";
        return reply(conn, MHD_HTTP_OK, text, ok, sizeof ok - 1, MHD_RESPMEM_PERSISTENT);
    }
    static char nf[] = "not found: try /metrics\n";
    return reply(conn, MHD_HTTP_NOT_FOUND, text, nf, sizeof nf - 1, MHD_RESPMEM_PERSISTENT);
}

/* "host:port", "[v6]:port", ":port" (all interfaces). */
static int split_addr(const char *addr, char *host, size_t hn, char *port, size_t pn)
{
    const char *colon;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':' || (size_t)(close - addr - 1) >= hn)
            return -1;
        snprintf(host, hn, "%.*s", (int)(close - addr - 1), addr + 1);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || (size_t)(colon - addr) >= hn || memchr(addr, ':', (size_t)(colon - addr)))
            return -1;
        snprintf(host, hn, "%.*s", (int)(colon - addr), addr);
    }
    if (!colon[1] || strlen(colon + 1) >= pn ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return -1;
    snprintf(port, pn, "%s", colon + 1);
    return 0;
}

static int listen_on(const char *addr, int *port_out, int *is_v6, metrics_error *err)
{
    char host[256], port[8];
    if (!addr || split_addr(addr, host, sizeof host, port, sizeof port) != 0 ||
        atoi(port) > 65535) {
        snprintf(err->msg, sizeof err->msg, "metrics address \"%s\": expected host:port",
                 addr ? addr : "(null)");
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (gai != 0) {
        snprintf(err->msg, sizeof err->msg, "metrics address \"%s\": %s", addr, gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        snprintf(err->msg, sizeof err->msg, "cannot listen on %s for metrics: %s", addr,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    *is_v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

metrics_server *metrics_serve(metrics_registry *r, const char *addr, metrics_error *err)
{
    metrics_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return NULL;
    }
    int v6 = 0;
    int fd = listen_on(addr, &s->port, &v6, err);
    if (fd < 0) {
        free(s);
        return NULL;
    }
    s->reg = r;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | (v6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err->msg, sizeof err->msg, "cannot start the metrics server on %s", addr);
        close(fd);
        free(s);
        return NULL;
    }
    return s;
}

int metrics_server_port(const metrics_server *s)
{
    return s->port;
}

void metrics_server_stop(metrics_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon); /* closes the listening socket too */
    free(s);
}
