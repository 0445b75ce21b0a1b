/* A TLS connection from accept to close: handshake, routing to a session, journal. */
#include "session.h"
#include "conn_io.h"
#include "endpoint_fuzz.h"
#include "common/err.h"
#include "common/jevents.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void iotc_conn_emit(struct iotc_conn *c, const char *event, json_t *fields)
{
    if (!iotc_journal_enabled(c->ep->journal)) {
        json_decref(fields);
        return;
    }
    if (!fields)
        fields = json_object();
    json_object_set_new(fields, "conn", json_integer((json_int_t)c->id));
    json_object_set_new(fields, "port", json_integer(iotc_lport_number[c->lport]));
    char peer[IOTC_CONN_PEER_LEN];
    json_object_set_new(fields, "peer", json_string(iotc_conn_peer_str(c, peer, sizeof peer)));
    json_object_set_new(fields, "peer_port", json_integer(c->peer.port));
    json_object_set_new(fields, "family", json_string(iotc_conn_peer_ipv6(c) ? "ipv6" : "ipv4"));
    iotc_journal_emit(c->ep->journal, event, fields);
}

static void conn__info_cb(const SSL *ssl, int where, int ret)
{
    if (!(where & SSL_CB_ALERT) || !(where & SSL_CB_WRITE))
        return;
    struct iotc_conn *c = iotc_conn_of_ssl(ssl);
    if (c && (ret >> 8) == SSL3_AL_FATAL)
        c->tr.alert_sent = ret & 0xff;
}

static void conn__cancel_auth(struct iotc_conn *c)
{
    if (c->auth.pending && c->auth.cancel)
        c->auth.cancel(c);
}

static void conn__duration_fired(struct iotc_deadline *d)
{
    struct iotc_conn *c = IOTC_DEADLINE_OWNER(d, struct iotc_conn, auth.ttl);
    iotc_conn_emit(c, IOTC_EV_CONN_DURATION_LIMIT,
                   json_pack("{s:s}", "reason", c->auth.ttl_reason));
    if (c->sess.ops && c->sess.ops->on_expire)
        c->sess.ops->on_expire(c, c->auth.ttl_reason);
    else
        iotc_conn_close(c, "endpoint", c->auth.ttl_reason);
}

void iotc_conn_arm_duration(struct iotc_conn *c, double seconds, const char *lifecycle_reason)
{
    if (seconds <= 0)
        return;
    double ms = seconds * 1000.0 * c->ep->profile.time_scale;
    c->auth.ttl.fire = conn__duration_fired;
    if (iotc_deadline_set(&c->ep->deadlines, &c->auth.ttl, ms) == IOTC_OK)
        c->auth.ttl_reason = lifecycle_reason;
}

static void conn__free(struct iotc_conn *c)
{
    struct iotc_endpoint *ep = c->ep;
    if (c->sess.ops && c->sess.ops->on_close)
        c->sess.ops->on_close(c);
    conn__cancel_auth(c);
    iotc_deadline_clear(&ep->deadlines, &c->auth.ttl);
    if (c->tr.ws_in)
        evbuffer_free(c->tr.ws_in);
    if (c->auth.refresh_timer)
        event_free(c->auth.refresh_timer);
    free(c->auth.refresh_event);
    if (c->auth.principal_owned)
        free((char *)c->auth.principal);
    for (size_t i = 0; i < c->auth.own_policies.count; i++)
        iotc_policy_free(c->auth.own_policies.list[i]);
    free(c->auth.own_policies.list);
    if (c->tr.timer) { /* closed during its handshake */
        event_free(c->tr.timer);
        iotc_ep_trim_handshake_end(ep);
    }
    if (c->free_ev)
        event_free(c->free_ev);
    iotc_conn_io_free(c); /* the SSL and the socket */
    if (c->prev)
        c->prev->next = c->next;
    else
        ep->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ep->conn_count--;
    free(c->tr.sni);
    free(c->tr.refuse_reason);
    free(c);
}

void iotc_conn_refuse_reason(struct iotc_conn *c, const char *reason)
{
    free(c->tr.refuse_reason);
    c->tr.refuse_reason = strdup(reason ? reason : "");
}

static void conn__on_free_ev(evutil_socket_t fd, short what, void *arg)
{
    conn__free(arg);
}

/* Freed on the next loop turn, so callers up the stack may still look at c->closing. */
static void conn__defer_free(struct iotc_conn *c)
{
    if (!c->free_ev)
        c->free_ev = evtimer_new(c->ep->base, conn__on_free_ev, c);
    struct timeval zero = {0, 0};
    if (!c->free_ev || evtimer_add(c->free_ev, &zero) != 0)
        conn__free(c);
}

/* conn_io.h: the closing connection's output is written. A lingering close then shuts
 * the write side and reads and drops input until the client's EOF, an error or the
 * timer (c->free_ev) ends it. */
void iotc_conn_on_flushed(struct iotc_conn *c)
{
    long long ms = c->ep->profile.limits.http_linger_ms;
    if (!c->linger || ms <= 0 || c->tr.fd < 0 || shutdown(c->tr.fd, SHUT_WR) != 0) {
        conn__free(c);
        return;
    }
    iotc_conn_io_linger(c);
    if (!c->free_ev)
        c->free_ev = evtimer_new(c->ep->base, conn__on_free_ev, c);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    if (!c->free_ev || evtimer_add(c->free_ev, &tv) != 0)
        conn__free(c);
}

void iotc_conn_close_linger(struct iotc_conn *c, const char *by, const char *reason)
{
    c->linger = true;
    iotc_conn_close(c, by, reason);
}

void iotc_conn_close(struct iotc_conn *c, const char *by, const char *reason)
{
    if (c->closing)
        return;
    c->closing = true;
    json_t *f = json_pack("{s:s, s:s, s:I, s:I, s:f}", "by", by, "reason", reason, "bytes_in",
                          (json_int_t)c->tr.bytes_in, "bytes_out", (json_int_t)c->tr.bytes_out,
                          "duration_ms", iotc_mono_ms() - c->t_accept);
    iotc_conn_emit(c, IOTC_EV_CONN_CLOSE, f);
    c->close_by = by;
    if (c->sess.ops && c->sess.ops->on_close) {
        c->sess.ops->on_close(c);
        c->sess.ops = NULL;
    }
    if (c->tr.timer)
        event_del(c->tr.timer);
    iotc_deadline_clear(&c->ep->deadlines, &c->auth.ttl);
    if (c->auth.refresh_timer)
        event_del(c->auth.refresh_timer);
    conn__cancel_auth(c);
    /* Let a final CONNACK, DISCONNECT or HTTP response reach the client first. */
    if (iotc_conn_io_end(c, c->linger))
        return;
    conn__defer_free(c);
}

void iotc_conn_on_input(struct iotc_conn *c)
{
    if (c->sess.ops && c->sess.ops->on_read)
        c->sess.ops->on_read(c);
}

void iotc_conn_on_drained(struct iotc_conn *c)
{
    if (c->sess.ops && c->sess.ops->on_drain)
        c->sess.ops->on_drain(c);
}

static const char *conn__mode_name(enum iotc_conn_mode m)
{
    switch (m) {
    case IOTC_MODE_MQTT_X509:
        return "mqtt-x509";
    case IOTC_MODE_HTTP_X509:
        return "https-x509";
    case IOTC_MODE_MQTT_CUSTOM:
        return "mqtt-custom";
    case IOTC_MODE_DOOR_443:
        return "door-443";
    default:
        return "none";
    }
}

void iotc_conn_on_handshake(struct iotc_conn *c)
{
    /* Handshake-only state goes now: an idle device costs what it keeps (issue 13). The
     * server's certificates are the context's; this SSL's copies of their chains are not
     * needed once the Certificate message is sent (no renegotiation, no post-handshake
     * authentication). */
    if (c->tr.timer) {
        event_free(c->tr.timer);
        c->tr.timer = NULL;
        iotc_ep_trim_handshake_end(c->ep);
    }
    SSL_certs_clear(c->tr.ssl);
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(c->tr.ssl, &alpn, &alpn_len);
    json_t *f = json_object();
    json_object_set_new(f, "result", json_string("ok"));
    json_object_set_new(f, "version", json_string(SSL_get_version(c->tr.ssl)));
    json_object_set_new(f, "cipher", json_string(SSL_get_cipher_name(c->tr.ssl)));
    json_object_set_new(f, "alpn",
                        alpn_len ? json_stringn((const char *)alpn, alpn_len) : json_null());
    json_object_set_new(f, "sni", c->tr.sni ? json_string(c->tr.sni) : json_null());
    json_object_set_new(f, "mode", json_string(conn__mode_name(c->tr.mode)));
    json_object_set_new(f, "client_cert", json_boolean(c->auth.cert != NULL));
    iotc_conn_emit(c, IOTC_EV_TLS_HANDSHAKE, f);

    /* Seed 002: X.509 connections last "1-2 weeks, not guaranteed": the profile's limit. */
    if (c->auth.cert)
        iotc_conn_arm_duration(c, (double)c->ep->profile.limits.max_duration_x509_s,
                               "SERVER_INITIATED_DISCONNECT");
    switch (c->tr.mode) {
    case IOTC_MODE_MQTT_X509:
    case IOTC_MODE_MQTT_CUSTOM:
        c->sess.ops = &iotc_mqtt_session_ops;
        break;
    case IOTC_MODE_HTTP_X509:
        c->sess.ops = &iotc_https_session_ops;
        break;
    default:
        c->sess.ops = &iotc_door_session_ops;
        break;
    }
    if (c->sess.ops->start(c) != IOTC_OK) {
        iotc_conn_close(c, "endpoint", "session start failed");
        return;
    }
    /* Bytes may have arrived with the last handshake flight. */
    if (iotc_conn_input_len(c) > 0 && !c->closing)
        c->sess.ops->on_read(c);
}

void iotc_conn_on_handshake_failed(struct iotc_conn *c, bool eof, const char *why, int sys)
{
    char reason[256];
    if (c->tr.refuse_reason && c->tr.refuse_reason[0])
        snprintf(reason, sizeof reason, "%s", c->tr.refuse_reason);
    else if (why)
        snprintf(reason, sizeof reason, "%s", why);
    else if (sys == ECONNRESET)
        snprintf(reason, sizeof reason, "client reset the connection during the handshake");
    else
        snprintf(reason, sizeof reason, "%s",
                 eof ? "client closed during the handshake" : "handshake failed");
    json_t *f = json_object();
    json_object_set_new(f, "stage", json_string(c->tr.hello_seen ? "handshake" : "client_hello"));
    json_object_set_new(f, "reason", json_string(reason));
    json_object_set_new(f, "alert",
                        c->tr.alert_sent >= 0
                            ? json_string(SSL_alert_desc_string_long(c->tr.alert_sent))
                            : json_null());
    iotc_conn_emit(c, IOTC_EV_TLS_REFUSED, f);
    iotc_conn_close(c, eof ? "client" : "endpoint", reason);
}

/* The client's side of the stream ended: a close while this one was already closing
 * (flushing or lingering) just ends it. */
void iotc_conn_on_stream_end(struct iotc_conn *c, bool eof, const char *why, int sys)
{
    if (c->closing) {
        conn__free(c);
        return;
    }
    if (eof) {
        iotc_conn_close(c, "client", "connection closed by client");
        return;
    }
    char reason[200];
    snprintf(reason, sizeof reason, "connection error: %s", why ? why : strerror(sys));
    iotc_conn_close(c, "client", reason);
}

static void conn__on_handshake_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_conn *c = arg;
    json_t *f =
        json_pack("{s:s, s:s, s:n}", "stage", c->tr.hello_seen ? "handshake" : "client_hello",
                  "reason", "handshake timeout", "alert");
    iotc_conn_emit(c, IOTC_EV_TLS_REFUSED, f);
    iotc_conn_close(c, "endpoint", "handshake timeout");
}

static void conn__peer(struct iotc_conn *c, struct sockaddr *sa)
{
    iotc_conn_peer_set(c, sa);
}

void iotc_conn_accept(struct iotc_endpoint *ep, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      enum iotc_lport lport)
{
    if ((long long)ep->conn_count >= ep->profile.limits.max_connections) {
        evutil_closesocket(fd);
        iotc_journal_emit(ep->journal, IOTC_EV_ENDPOINT_REFUSED,
                          json_pack("{s:s}", "reason", "max_connections reached"));
        return;
    }
    struct iotc_conn *c = calloc(1, sizeof *c);
    SSL *ssl = SSL_new(ep->ctx);
    if (!c || !ssl) {
        free(c);
        SSL_free(ssl);
        evutil_closesocket(fd);
        return;
    }
    c->ep = ep;
    c->id = ++ep->next_conn_id;
    c->lport = lport;
    c->tr.fd = -1;
    c->tr.alert_sent = -1;
    c->t_accept = iotc_mono_ms();
    conn__peer(c, sa);
    c->next = ep->conns;
    if (ep->conns)
        ep->conns->prev = c;
    ep->conns = c;
    ep->conn_count++;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL_set_info_callback(ssl, conn__info_cb);
    if (iotc_conn_io_start(c, fd, ssl) != IOTC_OK) {
        conn__free(c); /* closes fd, frees ssl */
        return;
    }
    iotc_conn_emit(c, IOTC_EV_CONN_ACCEPT, NULL);
    c->tr.timer = evtimer_new(ep->base, conn__on_handshake_timeout, c);
    if (c->tr.timer)
        iotc_ep_trim_handshake_start(ep);
    struct timeval tv = {ep->profile.limits.handshake_timeout_ms / 1000,
                         (ep->profile.limits.handshake_timeout_ms % 1000) * 1000};
    evtimer_add(c->tr.timer, &tv);
}

/* endpoint_fuzz.h: the session fuzzer's device, on one end of a socketpair. The same steps as
 * an accepted TLS connection whose handshake just finished with a registered
 * certificate (x509_auth.c), minus the TLS. */
int iotc_conn_adopt(struct iotc_endpoint *ep, evutil_socket_t fd, enum iotc_lport lport,
                    const struct iotc_reg_cert *cert, struct iotc_conn **out)
{
    struct iotc_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return IOTC_ERR_NOMEM;
    }
    c->tr.fd = -1;
    c->ep = ep;
    c->id = ++ep->next_conn_id;
    c->lport = lport;
    c->tr.alert_sent = -1;
    c->t_accept = iotc_mono_ms();
    struct sockaddr_in fake = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)(40000 + c->id % 20000)),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    iotc_conn_peer_set(c, (struct sockaddr *)&fake);
    c->next = ep->conns;
    if (ep->conns)
        ep->conns->prev = c;
    ep->conns = c;
    ep->conn_count++;
    c->tr.mode = IOTC_MODE_MQTT_X509;
    if (cert) {
        c->auth.cert = cert;
        c->auth.policies = &cert->policies;
        c->auth.thing = cert->thing;
        c->auth.method = "x509";
        c->auth.principal = cert->id;
    }
    if (iotc_conn_io_start(c, fd, NULL) != IOTC_OK) {
        conn__free(c);
        return IOTC_ERR_IO;
    }
    iotc_conn_emit(c, IOTC_EV_CONN_ACCEPT, NULL);
    c->sess.ops = &iotc_mqtt_session_ops;
    if (c->sess.ops->start(c) != IOTC_OK) {
        c->sess.ops = NULL;
        conn__free(c);
        return IOTC_ERR_NOMEM;
    }
    *out = c;
    return IOTC_OK;
}

bool iotc_conn_allowed(struct iotc_conn *c, const char *client_id, enum iotc_action act,
                       const char *resource, iotc_errtext *why)
{
    const struct iotc_reg_policies *pol = c->auth.policies;
    const struct iotc_profile *p = &c->ep->profile;
    iotc_errtext local; /* per publish: no 4 KB memset, cleared below */
    if (!why)
        why = &local;
    struct iotc_policy_ctx ctx = {.region = p->region,
                                  .account = p->account,
                                  .client_id = client_id,
                                  .thing_name = iotc_conn_thing_for_policy(c, client_id),
                                  .cert_subject_cn =
                                      c->auth.cert ? c->auth.cert->common_name : NULL,
                                  .cert_id = c->auth.cert ? c->auth.cert->id : NULL};
    struct iotc_conn_keys keys;
    iotc_conn_policy_keys(c, client_id, &keys);
    ctx.keys = keys.kv;
    ctx.nkeys = keys.n;
    iotc_errtext_clear(why);
    bool ok =
        iotc_policy_allows(pol ? pol->list : NULL, pol ? pol->count : 0, act, resource, &ctx, why);
    /* The journal's reason keeps the 159-byte bound it always had. */
    if (!ok)
        iotc_conn_emit(c, IOTC_EV_POLICY_DENY,
                       json_pack("{s:s, s:s, s:s?, s:s%}", "action", iotc_action_name(act),
                                 "resource", resource, "client_id", client_id, "reason", why->msg,
                                 strnlen(why->msg, 159)));
    return ok;
}

void iotc_conn_close_all(struct iotc_endpoint *ep, const char *reason)
{
    while (ep->conns) {
        struct iotc_conn *c = ep->conns;
        if (!c->closing)
            iotc_conn_close(c, "endpoint", reason);
        if (ep->conns == c) /* close deferred for a flush: drop it now */
            conn__free(c);
    }
}
