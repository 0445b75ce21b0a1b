/* mosquitto's stderr: the readiness signal and the error lines for the journal. */
#define _GNU_SOURCE
#include "broker_int.h"

#include "common/err.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool logpipe__starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "mosquitto version 2.0.11 running" (log_type information): printed after the
 * listeners are open, so the socket accepts connections from then on. */
static bool logpipe__is_running_line(const char *line, size_t len)
{
    static const char suffix[] = " running";
    return logpipe__starts_with(line, "mosquitto version ") && len >= sizeof suffix - 1 &&
           strcmp(line + len - (sizeof suffix - 1), suffix) == 0;
}

static const char *logpipe__level(const char *line)
{
    /* Expected: files.c runs it as root on purpose when serve is root. */
    if (strcmp(line, "Warning: Mosquitto should not be run as root/administrator.") == 0)
        return NULL;
    if (logpipe__starts_with(line, "Error"))
        return "error";
    if (logpipe__starts_with(line, "Warning"))
        return "warning";
    if (logpipe__starts_with(line, "iotc_plugin:"))
        return "plugin";
    return NULL; /* routine: starting, config loaded, listener opened, terminating */
}

static void logpipe__line(struct iotc_broker *b, char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        line[--len] = '\0';
    if (len == 0)
        return;
    if (!b->ready && logpipe__is_running_line(line, len)) {
        iotc_broker__on_running(b);
        return;
    }
    const char *level = logpipe__level(line);
    if (!level)
        return;
    snprintf(b->last_line, sizeof b->last_line, "%s", line);
    iotc_broker__emit(
        b, "broker.log",
        json_pack("{s:i, s:s, s:s%}", "pid", (int)b->pid, "level", level, "line", line, len));
}

/* Hands complete lines to logpipe__line; at_eof also flushes a final partial line.
 * An over-long line is cut rather than buffered without bound. */
static void logpipe__drain_lines(struct iotc_broker *b, struct evbuffer *in, bool at_eof)
{
    for (;;) {
        size_t len = 0;
        char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
        if (!line) {
            size_t left = evbuffer_get_length(in);
            if (left == 0 || (!at_eof && left < IOTC_BROKER_LOG_LINE_MAX))
                return;
            len = left < IOTC_BROKER_LOG_LINE_MAX ? left : IOTC_BROKER_LOG_LINE_MAX;
            line = malloc(len + 1);
            if (!line)
                return;
            evbuffer_remove(in, line, len);
            line[len] = '\0';
        }
        logpipe__line(b, line, len);
        free(line);
    }
}

static void logpipe__on_read(struct bufferevent *bev, void *arg)
{
    logpipe__drain_lines(arg, bufferevent_get_input(bev), false);
}

static void logpipe__on_event(struct bufferevent *bev, short what, void *arg)
{
    struct iotc_broker *b = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    /* The child closed its output (it is exiting); SIGCHLD does the rest. */
    logpipe__drain_lines(b, bufferevent_get_input(bev), true);
    bufferevent_free(bev);
    if (b->log == bev)
        b->log = NULL;
}

int iotc_broker__log_attach(struct iotc_broker *b, int fd)
{
    if (evutil_make_socket_nonblocking(fd) != 0) {
        close(fd);
        return IOTC_ERR_IO;
    }
    struct bufferevent *bev = bufferevent_socket_new(b->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        close(fd);
        return IOTC_ERR_NOMEM;
    }
    bufferevent_setcb(bev, logpipe__on_read, NULL, logpipe__on_event, b);
    if (bufferevent_enable(bev, EV_READ) != 0) {
        bufferevent_free(bev);
        return IOTC_ERR_IO;
    }
    b->log = bev;
    return IOTC_OK;
}

void iotc_broker__log_detach(struct iotc_broker *b)
{
    struct bufferevent *bev = b->log;
    if (!bev)
        return;
    b->log = NULL;
    /* The child has exited, so whatever it wrote is in the pipe now: read it all so
     * its last words (usually the reason it died) reach the journal before the exit. */
    struct evbuffer *in = bufferevent_get_input(bev);
    evutil_socket_t fd = bufferevent_getfd(bev);
    while (evbuffer_get_length(in) < 1024 * 1024 && evbuffer_read(in, fd, 65536) > 0)
        logpipe__drain_lines(b, in, false);
    logpipe__drain_lines(b, in, true);
    bufferevent_free(bev);
}
