/*
 * A connection's bytes (conn_io.c): TLS handshake, reads, batched writes, flow control,
 * and the flush or lingering read at its end. conn.c owns the connection and is told
 * what happened through the iotc_conn_on_* calls below.
 */
#ifndef IOTC_ENDPOINT_CONN_IO_H
#define IOTC_ENDPOINT_CONN_IO_H

#include "conn.h"

/* Starts the stream on an accepted socket: the TLS handshake with ssl, or none (ssl NULL:
 * the session fuzzer's plain socket, already "handshaken"). */
int iotc_conn_io_start(struct iotc_conn *c, evutil_socket_t fd, SSL *ssl);
/* The connection closes: true when the stream goes on to flush queued output (then
 * iotc_conn_on_flushed), false when it can be freed now. */
bool iotc_conn_io_end(struct iotc_conn *c, bool linger);
/* After the flush of a lingering close: read and drop until the client closes. */
void iotc_conn_io_linger(struct iotc_conn *c);
/* Frees the stream's buffers and SSL and closes the socket. */
void iotc_conn_io_free(struct iotc_conn *c);

/* conn.c, called by conn_io.c. */
void iotc_conn_on_handshake(struct iotc_conn *c);
/* eof: the client went away; why: OpenSSL's reason or NULL; sys: the errno when the
 * socket failed, 0 otherwise. The same three for both ends of a stream. */
void iotc_conn_on_handshake_failed(struct iotc_conn *c, bool eof, const char *why, int sys);
void iotc_conn_on_input(struct iotc_conn *c);
void iotc_conn_on_drained(struct iotc_conn *c);
void iotc_conn_on_flushed(struct iotc_conn *c);
void iotc_conn_on_stream_end(struct iotc_conn *c, bool eof, const char *why, int sys);

#endif
