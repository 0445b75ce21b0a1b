/*
 * A connection's bytes: the TLS handshake, reads and writes, flow control, and the
 * flush or linger at the end, on one bare event instead of a bufferevent.
 *
 * Why not bufferevent_openssl: every idle connected device holds its connection for
 * hours, and the bufferevent (688 bytes of struct, two evbuffers and a callback entry)
 * cost ~1.0 KB of each idle device (heaptrack, 2,000 idle devices), against issue 13's
 * budget of 16 KB per device for front door and broker together. Here a connection keeps
 * one embedded event and two buffer pointers that are NULL while there is nothing to keep:
 * an idle device holds no input and no output buffer. The session fuzzer's devices use
 * the same code on a plain socket (tr.ssl NULL).
 */
#include "conn_io.h"
#include "ev_watch.h"
#include "common/err.h"

#include <errno.h>
#include <event2/buffer.h>
#include <openssl/err.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One TLS record's worth: the most SSL_read hands out at once. */
#define IO_CHUNK 16384
/* Read at most this much per event before the session sees it, so one busy device cannot
 * hold the loop (level-triggered: the rest is read on the next turn). */
#define IO_READ_BUDGET (4 * IO_CHUNK)

/* One loop, one callback at a time: SSL_read lands here and only what is not consumed at
 * once is copied into the connection's own buffer. */
static uint8_t io__scratch[IO_CHUNK];

static void io__on_event(evutil_socket_t fd, short what, void *arg);

/* The connection rides on its socket BIO's callback argument: OpenSSL reads it only when a
 * BIO callback is set (none is), and unlike SSL ex_data it allocates nothing per
 * connection (ex_data cost ~100 bytes of each idle device). */
struct iotc_conn *iotc_conn_of_ssl(const SSL *ssl)
{
    BIO *b = ssl ? SSL_get_rbio(ssl) : NULL;
    return b ? (struct iotc_conn *)BIO_get_callback_arg(b) : NULL;
}

static void io__arm(struct iotc_conn *c)
{
    struct iotc_conn_transport *t = &c->tr;
    if (t->fd < 0)
        return;
    short want = 0;
    if (t->ending == IOTC_IO_STOPPED) {
        want = 0;
    } else if (!t->handshake_done) {
        want = t->hs_want;
    } else if (t->ending == IOTC_IO_LINGER_READ) {
        want = EV_READ;
    } else {
        if ((t->ending == IOTC_IO_OPEN && !t->read_paused) || t->write_wants_read)
            want |= EV_READ;
        /* Queued output waits for EV_WRITE only once the end-of-turn flush left some. */
        if ((t->out && evbuffer_get_length(t->out) && !t->flush_queued) || t->read_wants_write)
            want |= EV_WRITE;
    }
    iotc_ev_watch(&t->ev, &t->ev_want, want, c->ep->base, t->fd, io__on_event, c);
}

/* libevent's bufferevent kept the SSL_get_error code and then up to two queued errors and
 * reported the last one kept; the same choice keeps the journal's reasons as they were.
 * The bare code has no text of its own: NULL then, and the caller says what happened. */
static const char *io__ssl_reason(int code)
{
    unsigned long kept[3];
    int n = 0;
    if (code == SSL_ERROR_SYSCALL || code == SSL_ERROR_SSL)
        kept[n++] = (unsigned long)code;
    unsigned long e;
    while ((e = ERR_get_error()) != 0)
        if (n < 3)
            kept[n++] = e;
    if (n == 0 || (n == 1 && kept[0] == (unsigned long)code))
        return NULL;
    return ERR_reason_error_string(kept[n - 1]);
}

/* EOF, a reset and a TLS close_notify all end the stream from the client's side; only a
 * protocol error gets a reason of its own. */
static bool io__is_eof(int code)
{
    return code == SSL_ERROR_ZERO_RETURN || code == SSL_ERROR_SYSCALL;
}

static void io__handshake(struct iotc_conn *c)
{
    struct iotc_conn_transport *t = &c->tr;
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->handshake_done = true;
        io__arm(c);
        iotc_conn_on_handshake(c);
        return;
    }
    int code = SSL_get_error(t->ssl, r);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
        t->hs_want = code == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE;
        io__arm(c);
        return;
    }
    int sys = errno;
    const char *why = io__ssl_reason(code);
    iotc_conn_on_handshake_failed(c, why ? false : io__is_eof(code), why,
                                  code == SSL_ERROR_SYSCALL && !why ? sys : 0);
}

/* What the stream says when it fails: journaled by conn.c. */
static void io__failed(struct iotc_conn *c, int code, int sys)
{
    const char *why = code == SSL_ERROR_SSL ? io__ssl_reason(code) : NULL;
    if (code != SSL_ERROR_SSL)
        ERR_clear_error();
    bool eof = code != SSL_ERROR_SSL && code != -1;
    iotc_conn_on_stream_end(c, eof, why, sys);
}

/* Writes what is queued. Returns false when the stream failed (c's end is under way). */
static bool io__flush(struct iotc_conn *c)
{
    struct iotc_conn_transport *t = &c->tr;
    t->read_wants_write = false;
    while (t->out && evbuffer_get_length(t->out) > 0) {
        if (!t->ssl) {
            int w = evbuffer_write(t->out, t->fd);
            if (w < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            if (w <= 0) {
                io__failed(c, -1, errno);
                return false;
            }
            continue;
        }
        /* The first chain as it is: packets added one by one share chains, so records stay
         * full without copying; a retry repeats the length OpenSSL asked for. */
        struct evbuffer_iovec v;
        if (evbuffer_peek(t->out, -1, NULL, &v, 1) < 1)
            break;
        size_t n = t->write_retry ? t->write_retry : v.iov_len;
        if (n > IO_CHUNK)
            n = IO_CHUNK;
        if (n > v.iov_len) /* a retry across chains: make them one */
            v.iov_base = evbuffer_pullup(t->out, (ev_ssize_t)n);
        ERR_clear_error();
        int w = SSL_write(t->ssl, v.iov_base, (int)n);
        if (w > 0) {
            t->write_retry = 0;
            evbuffer_drain(t->out, (size_t)w);
            continue;
        }
        int code = SSL_get_error(t->ssl, w);
        if (code == SSL_ERROR_WANT_WRITE || code == SSL_ERROR_WANT_READ) {
            t->write_retry = (uint32_t)n; /* <= IO_CHUNK */
            t->write_wants_read = code == SSL_ERROR_WANT_READ;
            break;
        }
        io__failed(c, code, errno);
        return false;
    }
    if (t->out && evbuffer_get_length(t->out) == 0) {
        evbuffer_free(t->out);
        t->out = NULL;
    }
    return true;
}

/* Reads up to the budget into c->tr.in. Returns 1 when bytes came, 0 when none, -1 when
 * the stream ended (c's end is under way; bytes read before it are in c->tr.in). */
static int io__read(struct iotc_conn *c, int *end_code, int *end_errno)
{
    struct iotc_conn_transport *t = &c->tr;
    size_t got = 0;
    t->write_wants_read = false;
    while (got < IO_READ_BUDGET) {
        int r;
        int code = SSL_ERROR_NONE;
        if (t->ssl) {
            ERR_clear_error();
            r = SSL_read(t->ssl, io__scratch, sizeof io__scratch);
            if (r <= 0)
                code = SSL_get_error(t->ssl, r);
        } else {
            r = (int)read(t->fd, io__scratch, sizeof io__scratch);
            if (r < 0)
                code = (errno == EAGAIN || errno == EINTR) ? SSL_ERROR_WANT_READ : -1;
            else if (r == 0)
                code = SSL_ERROR_ZERO_RETURN;
        }
        if (r > 0) {
            if (!t->in && !(t->in = evbuffer_new())) {
                *end_code = -1;
                *end_errno = ENOMEM;
                return -1;
            }
            if (evbuffer_add(t->in, io__scratch, (size_t)r) != 0) {
                *end_code = -1;
                *end_errno = ENOMEM;
                return -1;
            }
            got += (size_t)r;
            continue;
        }
        if (code == SSL_ERROR_WANT_READ)
            break;
        if (code == SSL_ERROR_WANT_WRITE) {
            t->read_wants_write = true;
            break;
        }
        *end_code = code;
        *end_errno = errno;
        return -1;
    }
    return got ? 1 : 0;
}

/* A lingering close reads and drops until the client closes (conn.c's timer bounds it). */
static void io__linger_read(struct iotc_conn *c)
{
    int code = 0, sys = 0;
    int r = io__read(c, &code, &sys);
    if (c->tr.in)
        evbuffer_drain(c->tr.in, evbuffer_get_length(c->tr.in));
    if (r < 0)
        iotc_conn_on_stream_end(c, true, NULL, 0);
}

/* The socket may take output. Returns false when c's end is under way (it may be gone). */
static bool io__write_ready(struct iotc_conn *c)
{
    struct iotc_conn_transport *t = &c->tr;
    size_t before = t->out ? evbuffer_get_length(t->out) : 0;
    if (!io__flush(c))
        return false;
    size_t left = t->out ? evbuffer_get_length(t->out) : 0;
    if (t->ending == IOTC_IO_FLUSH && left == 0) {
        iotc_conn_on_flushed(c);
        return false;
    }
    if (before > 0 && left <= t->low_water && t->ending == IOTC_IO_OPEN)
        iotc_conn_on_drained(c);
    return true;
}

/* flushq.h: what this turn queued, sent now. */
static void io__turn_flush(void *arg)
{
    struct iotc_conn *c = arg;
    c->tr.flush_queued = false;
    if (c->tr.fd < 0 || c->tr.ending == IOTC_IO_STOPPED)
        return;
    if (io__write_ready(c))
        io__arm(c);
}

static void io__on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct iotc_conn *c = arg;
    struct iotc_conn_transport *t = &c->tr;
    if (t->ending == IOTC_IO_STOPPED)
        return;
    if (!t->handshake_done) {
        io__handshake(c);
        return;
    }
    if (t->ending == IOTC_IO_LINGER_READ) {
        io__linger_read(c);
        return;
    }
    if (((what & EV_WRITE) || t->write_wants_read) && !io__write_ready(c))
        return;
    if (((what & EV_READ) || t->read_wants_write) && !t->read_paused && t->ending == IOTC_IO_OPEN) {
        int code = 0, sys = 0;
        int r = io__read(c, &code, &sys);
        if (r != 0 || (t->in && evbuffer_get_length(t->in)))
            iotc_conn_on_input(c);
        if (r < 0 && !c->closing) {
            if (code == -1 && sys == ENOMEM)
                iotc_conn_on_stream_end(c, false, "out of memory", 0);
            else
                io__failed(c, code, sys);
            return;
        }
        if (c->closing)
            return;
        if (t->in && evbuffer_get_length(t->in) == 0) {
            evbuffer_free(t->in);
            t->in = NULL;
        }
        /* Records OpenSSL already took off the socket raise no event of their own. */
        if (r > 0 && !t->read_paused && t->ssl && SSL_has_pending(t->ssl))
            event_active(&t->ev, EV_READ, 0);
    }
    io__arm(c);
}

int iotc_conn_io_start(struct iotc_conn *c, evutil_socket_t fd, SSL *ssl)
{
    struct iotc_conn_transport *t = &c->tr;
    t->fd = fd;
    t->ssl = ssl;
    if (ssl) {
        /* A retried SSL_write repeats its length but the queue may have moved; records
         * go out one at a time so output drains as the socket takes it. */
        SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        if (!SSL_set_fd(ssl, (int)fd))
            return IOTC_ERR_NOMEM;
        BIO_set_callback_arg(SSL_get_rbio(ssl), (char *)c);
        SSL_set_accept_state(ssl);
        t->hs_want = EV_READ;
    } else {
        t->handshake_done = true;
    }
    io__arm(c);
    return t->ev_want ? IOTC_OK : IOTC_ERR_IO;
}

struct evbuffer *iotc_conn_input(struct iotc_conn *c)
{
    if (!c->tr.in)
        c->tr.in = evbuffer_new();
    return c->tr.in;
}

size_t iotc_conn_input_len(const struct iotc_conn *c)
{
    return c->tr.in ? evbuffer_get_length(c->tr.in) : 0;
}

size_t iotc_conn_output_len(const struct iotc_conn *c)
{
    return c->tr.out ? evbuffer_get_length(c->tr.out) : 0;
}

int iotc_conn_write(struct iotc_conn *c, const void *data, size_t len)
{
    struct iotc_conn_transport *t = &c->tr;
    if (c->closing || t->fd < 0)
        return IOTC_ERR_IO;
    if (!t->out && !(t->out = evbuffer_new()))
        return IOTC_ERR_NOMEM;
    if (evbuffer_add(t->out, data, len) != 0)
        return IOTC_ERR_NOMEM;
    t->bytes_out += len;
    if (t->handshake_done && !t->flush_queued && !(t->ev_want & EV_WRITE) &&
        iotc_flushq_add(&c->ep->flushq, io__turn_flush, c) == IOTC_OK)
        t->flush_queued = true;
    io__arm(c);
    return IOTC_OK;
}

void iotc_conn_read_enable(struct iotc_conn *c, bool on)
{
    struct iotc_conn_transport *t = &c->tr;
    bool resumed = on && t->read_paused;
    t->read_paused = !on;
    io__arm(c);
    /* What arrived while paused raises no new event: look at it now. */
    if (resumed && t->handshake_done && (t->ev_want & EV_READ) &&
        ((t->in && evbuffer_get_length(t->in)) || (t->ssl && SSL_has_pending(t->ssl))))
        event_active(&t->ev, EV_READ, 0);
}

void iotc_conn_set_low_water(struct iotc_conn *c, size_t bytes)
{
    c->tr.low_water = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
}

bool iotc_conn_io_end(struct iotc_conn *c, bool linger)
{
    struct iotc_conn_transport *t = &c->tr;
    if (t->fd < 0 || !t->handshake_done || (iotc_conn_output_len(c) == 0 && !linger)) {
        t->ending = IOTC_IO_STOPPED;
        io__arm(c);
        return false;
    }
    t->ending = IOTC_IO_FLUSH;
    t->low_water = 0;
    io__arm(c);
    if (iotc_conn_output_len(c) == 0)
        iotc_conn_on_flushed(c);
    return true;
}

void iotc_conn_io_linger(struct iotc_conn *c)
{
    c->tr.ending = IOTC_IO_LINGER_READ;
    io__arm(c);
}

void iotc_conn_io_free(struct iotc_conn *c)
{
    struct iotc_conn_transport *t = &c->tr;
    if (t->flush_queued)
        iotc_flushq_cancel(&c->ep->flushq, c);
    t->flush_queued = false;
    if (t->ev_want)
        event_del(&t->ev);
    t->ev_want = 0;
    if (t->in)
        evbuffer_free(t->in);
    if (t->out)
        evbuffer_free(t->out);
    t->in = t->out = NULL;
    SSL_free(t->ssl); /* and its socket BIO, which does not close the socket */
    t->ssl = NULL;
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}
