/*
 * WebSocket (RFC 6455) for MQTT over WSS, both sides, framing by wslay.
 *
 * Handshake: the front door parses the HTTP upgrade request (sim/http) and asks
 * iotc_ws_accept() for the answer; a client builds its request with
 * iotc_ws_client_request() and checks the answer with iotc_ws_client_response().
 *
 * Session: no I/O inside. The owner feeds received bytes with iotc_ws_feed(),
 * writes what iotc_ws_pending() shows and then calls iotc_ws_consume(), so it
 * sits on a libevent bufferevent (or two memory buffers in tests). MQTT only
 * uses binary messages, and MQTT packets are not aligned with WebSocket
 * messages: received binary payloads reach on_data() as one ordered byte stream.
 *
 * Callbacks run inside iotc_ws_feed(); they must not free the session (mark it
 * and free it after feed() returns). They may call iotc_ws_send()/close().
 */
#ifndef IOTC_WS_H
#define IOTC_WS_H

#include "common/buf.h"
#include "common/errtext.h"
#include "http/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One MQTT publish may carry 128 KiB of payload and still fit in one message. */
#define IOTC_WS_DEFAULT_MAX_MESSAGE (256u * 1024u)
/* A response head larger than this is refused by iotc_ws_client_response(). */
#define IOTC_WS_MAX_RESPONSE_HEAD (16u * 1024u)
/* Base64 of the 16-byte client key, plus NUL. */
#define IOTC_WS_KEY_LEN 25
/* Base64 of a SHA-1 digest, plus NUL. */
#define IOTC_WS_ACCEPT_LEN 29

/* Close status codes used here (RFC 6455 section 7.4.1). */
enum iotc_ws_code {
    IOTC_WS_NORMAL = 1000,
    IOTC_WS_GOING_AWAY = 1001,
    IOTC_WS_PROTOCOL_ERROR = 1002,
    IOTC_WS_UNSUPPORTED_DATA = 1003,
    IOTC_WS_NO_STATUS = 1005, /* never on the wire: the peer's close had no code */
    IOTC_WS_ABNORMAL = 1006,  /* never on the wire: no close frame at all */
    IOTC_WS_INVALID_PAYLOAD = 1007,
    IOTC_WS_POLICY_VIOLATION = 1008,
    IOTC_WS_MESSAGE_TOO_BIG = 1009,
    IOTC_WS_INTERNAL_ERROR = 1011,
};

/*
 * Checks an upgrade request against RFC 6455 section 4.2.1 and what AWS IoT
 * needs (subprotocol "mqtt" or "mqttv3.1"). The request path is not looked at: routing
 * GET /mqtt here is the caller's job.
 * IOTC_OK: out gets the whole 101 response (Sec-WebSocket-Accept,
 *   Sec-WebSocket-Protocol: the client's first offer among "mqtt" and
 *   "mqttv3.1"); *status = 101.
 * IOTC_ERR_MALFORMED: not a valid opening handshake (405 for a method other
 *   than GET, 426 + "Upgrade: websocket" when Upgrade is missing, 400 for the
 *   rest: HTTP/1.0, no Host, Connection without "upgrade", bad or repeated key).
 * IOTC_ERR_DENIED: a valid handshake this endpoint refuses (426 +
 *   "Sec-WebSocket-Version: 13" for another version, 400 when neither "mqtt" nor
 *   "mqttv3.1" is among the offered subprotocols, or none is offered).
 * On failure out gets a ready-to-send error response (text/plain reason,
 * Connection: close); the caller may send its own instead. why gets the reason.
 * IOTC_ERR_INVALID / IOTC_ERR_NOMEM: caller error / allocation failure.
 */
int iotc_ws_accept(const struct iotc_http_req *req, struct iotc_buf *out, int *status,
                   iotc_errtext *why);

/* Sec-WebSocket-Accept for a client key (base64 SHA-1 of key + RFC GUID). */
int iotc_ws_accept_key(const char *client_key, char out[IOTC_WS_ACCEPT_LEN]);
/* True if key is the base64 (with padding) of exactly 16 bytes. */
bool iotc_ws_key_valid(const char *key);

/*
 * Appends a client opening handshake for GET <path_and_query> to out, with a
 * fresh random key (returned in key_out for iotc_ws_client_response()) and
 * "Sec-WebSocket-Protocol: mqtt". extra_headers: NULL or "Name: value\r\n"
 * lines (IOTC_ERR_INVALID if it does not end in CRLF).
 */
int iotc_ws_client_request(struct iotc_buf *out, const char *host, const char *path_and_query,
                           const char *extra_headers, char key_out[IOTC_WS_KEY_LEN]);
/*
 * Reads the server's answer to that request from the start of the stream.
 * IOTC_ERR_AGAIN: the head is not complete yet (feed the whole stream so far
 * again, with more bytes). IOTC_OK: 101 with the right Upgrade, Connection,
 * Sec-WebSocket-Accept and "mqtt" subprotocol; *consumed = bytes of the head
 * (what follows is already WebSocket). IOTC_ERR_DENIED: a well-formed refusal
 * or a 101 that does not match (*status tells the code). IOTC_ERR_MALFORMED /
 * IOTC_ERR_TOO_LARGE: not an HTTP/1.1 response head.
 */
int iotc_ws_client_response(const uint8_t *data, size_t len, const char *key, size_t *consumed,
                            int *status, iotc_errtext *why);

struct iotc_ws; /* opaque session */

struct iotc_ws_cbs {
    /* Application bytes (MQTT) in order; len > 0. */
    void (*on_data)(void *arg, const uint8_t *data, size_t len);
    /*
     * Called once, from iotc_ws_feed(), when the session stops reading: with the
     * peer's code and reason when its close frame arrives (IOTC_WS_NO_STATUS if
     * it had no code; also the answer to our iotc_ws_close()), or with the code
     * this side sent when the input failed the connection (1002, 1003, 1007,
     * 1009; IOTC_WS_NO_STATUS when wslay itself refused a frame header, since it
     * then sends a close without a code) and a reason for the journal. May be NULL.
     */
    void (*on_close)(void *arg, uint16_t code, const char *reason);
    void *arg;
};

/* max_message: largest reassembled message accepted (0 = IOTC_WS_DEFAULT_MAX_MESSAGE). */
struct iotc_ws *iotc_ws_new(const struct iotc_ws_cbs *cbs, size_t max_message);
/* Same, client side: outgoing frames are masked (random keys), incoming must not be. */
struct iotc_ws *iotc_ws_client_new(const struct iotc_ws_cbs *cbs, size_t max_message);
void iotc_ws_free(struct iotc_ws *w);

/*
 * Received bytes. IOTC_OK: taken (bytes arriving after the peer's close or
 * after a failure are ignored). IOTC_ERR_PROTOCOL: the input broke the protocol
 * (close 1002/1003/1007 queued), IOTC_ERR_TOO_LARGE: a message exceeded the
 * limit (close 1009 queued): drain pending, then close TCP. IOTC_ERR_NOMEM.
 */
int iotc_ws_feed(struct iotc_ws *w, const uint8_t *data, size_t len);
/* Queues data as one binary message. IOTC_ERR_PROTOCOL once closing. */
int iotc_ws_send(struct iotc_ws *w, const uint8_t *data, size_t len);
/*
 * Starts the close handshake (reason <= 123 bytes of UTF-8, may be NULL;
 * 1005, 1006, 1015 and codes outside 1000..4999 are IOTC_ERR_INVALID). The
 * session then waits for the peer's close: keep a timer of your own for a
 * peer that never answers.
 */
int iotc_ws_close(struct iotc_ws *w, uint16_t code, const char *reason);
/* Framed bytes ready for the socket; *len == 0 if none. Valid until the next call. */
void iotc_ws_pending(const struct iotc_ws *w, const uint8_t **data, size_t *len);
void iotc_ws_consume(struct iotc_ws *w, size_t n);
/*
 * True when nothing more will be read or written: the close handshake is done
 * or the connection failed. The caller writes what is pending, then closes TCP.
 */
bool iotc_ws_want_close(const struct iotc_ws *w);
/* Close codes seen so far (IOTC_WS_ABNORMAL when no close frame went that way). */
uint16_t iotc_ws_code_sent(const struct iotc_ws *w);
uint16_t iotc_ws_code_received(const struct iotc_ws *w);

#endif
