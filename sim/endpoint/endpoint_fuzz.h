/*
 * The in-memory seam of the session fuzzer (tests/fuzz/fuzz_session.c): an endpoint
 * with its profile, policies, journal, sessions, quotas and lifecycle, but without
 * TLS, listeners or mosquitto. Devices are plain sockets (one end of a socketpair)
 * already authenticated as a certificate; the broker is a peer the caller plays on a
 * bufferevent_pair. serve never calls any of this: a real
 * endpoint has ep->fake_broker NULL and takes the same code paths as before.
 */
#ifndef IOTC_ENDPOINT_FUZZ_H
#define IOTC_ENDPOINT_FUZZ_H

#include "conn.h"
#include "broker_link.h"

struct iotc_ep_fake_broker {
    const uint8_t *secret; /* IOTC_STAMP_SECRET_LEN bytes, stamps the CONNECTs it gets */
    /* Opens one broker connection: typically a bufferevent_pair whose one end goes to
     * iotc_blink_adopt and whose other end the caller answers on. */
    int (*open)(void *arg, struct event_base *base, const struct iotc_blink_cbs *cbs,
                struct iotc_blink **out);
    void *arg;
};

/* profile_path: a profile file; journal_path: where the journal goes (e.g. /dev/null);
 * fb must outlive the endpoint. The registry is empty: devices bring their own
 * certificate to iotc_conn_adopt. */
int iotc_endpoint_open_fake(const char *profile_path, const char *journal_path,
                            const struct iotc_ep_fake_broker *fb, iotc_endpoint **out,
                            iotc_errtext *err);
/* Closes every connection and forgets what outlives one (live sessions, broker session
 * filters, quotas, lifecycle versions), so each fuzz input starts from the same state. */
int iotc_endpoint_reset_fake(iotc_endpoint *ep);
struct event_base *iotc_endpoint_base(iotc_endpoint *ep);
struct iotc_profile *iotc_endpoint_profile(iotc_endpoint *ep);

/* conn.c: a connection on the non-blocking socket fd (no TLS; the endpoint owns and
 * closes fd), accepted on lport and authenticated as cert, running the MQTT session as
 * if its handshake had just finished on 8883. */
int iotc_conn_adopt(struct iotc_endpoint *ep, evutil_socket_t fd, enum iotc_lport lport,
                    const struct iotc_reg_cert *cert, struct iotc_conn **out);

#endif
