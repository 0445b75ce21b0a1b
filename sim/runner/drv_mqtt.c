/*
 * libmosquitto clients: a subscriber and a publisher on the case's row, one
 * unique topic per case, every wait bounded by a deadline and driven by
 * mosquitto_loop() with short timeouts (no sleeps, no threads).
 */
#include <mosquitto.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/err.h"
#include "cases/door_auth_case.h"
#include "driver.h"

typedef struct mq_client {
    struct mosquitto *m;
    SSL_CTX *ctx;
    iotc_tlsc_state st;
    json_t *alpn;
    int connack_rc; /* -1 until CONNACK */
    int subscribed;
    int dead;
    int published_mid;
    int got;
    int got_qos;
    int got_retain;
    char got_payload[256];
} mq_client;

struct iotc_sub {
    mq_client q;
};

static void mq__on_connect(struct mosquitto *m, void *obj, int rc)
{
    mq_client *q = obj;
    (void)m;
    q->connack_rc = rc;
    q->st.app_data_seen = 1;
}

static void mq__on_disconnect(struct mosquitto *m, void *obj, int rc)
{
    mq_client *q = obj;
    (void)m;
    (void)rc;
    q->dead = 1;
}

static void mq__on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
    mq_client *q = obj;
    (void)m;
    (void)mid;
    /* 0x80 is the broker's "failure" grant: the subscription does not exist. */
    q->subscribed = (n >= 1 && granted[0] <= 1) ? 1 : -1;
}

static void mq__on_publish(struct mosquitto *m, void *obj, int mid)
{
    mq_client *q = obj;
    (void)m;
    q->published_mid = mid;
}

static void mq__on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    mq_client *q = obj;
    (void)m;
    if (q->got)
        return;
    q->got = 1;
    q->got_qos = msg->qos;
    q->got_retain = msg->retain;
    size_t n = (size_t)msg->payloadlen < sizeof(q->got_payload) - 1 ? (size_t)msg->payloadlen
                                                                    : sizeof(q->got_payload) - 1;
    memcpy(q->got_payload, msg->payload, n);
    q->got_payload[n] = '\0';
}

/* username: NULL for none (X.509 rows); the door's custom-auth rows carry
 * the authorizer values in it. */
static int mq__open(mq_client *q, const iotc_env *env, int logical_port, int af,
                    const iotc_tlsc_opts *o, const char *client_id, const char *username,
                    json_t *observe_into, iotc_drv_out *out)
{
    iotc_errtext err = {0};
    int rc;

    memset(q, 0, sizeof(*q));
    q->connack_rc = -1;
    q->ctx = iotc_tlsc_ctx_new(o, &q->st, &err);
    if (!q->ctx) {
        iotc_errtext_copy(&err, out->error, sizeof(out->error));
        return IOTC_ERR_CONFIG;
    }
    /* Before connecting: libmosquitto may finish (or fail) the handshake inside
     * mosquitto_connect(). */
    q->st.observe_into = observe_into;
    q->m = mosquitto_new(client_id, true, q);
    if (!q->m) {
        snprintf(out->error, sizeof(out->error), "mosquitto_new failed");
        return IOTC_ERR_NOMEM;
    }
    mosquitto_int_option(q->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    if (username && mosquitto_username_pw_set(q->m, username, NULL) != MOSQ_ERR_SUCCESS) {
        snprintf(out->error, sizeof(out->error), "username refused by libmosquitto");
        return IOTC_ERR_INVALID;
    }
    /* Our own context carries versions, ciphers, ALPN and the SNI override. */
    mosquitto_void_option(q->m, MOSQ_OPT_SSL_CTX, q->ctx);
    mosquitto_int_option(q->m, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
    mosquitto_connect_callback_set(q->m, mq__on_connect);
    mosquitto_disconnect_callback_set(q->m, mq__on_disconnect);
    mosquitto_subscribe_callback_set(q->m, mq__on_subscribe);
    mosquitto_publish_callback_set(q->m, mq__on_publish);
    mosquitto_message_callback_set(q->m, mq__on_message);
    /* Dial the literal address: the family is the case's, the SNI comes from the
     * context (libmosquitto would otherwise send the dialled host). */
    rc = mosquitto_connect(q->m, iotc_env_addr(env, af), iotc_env_port(env, logical_port), 60);
    iotc_drv_add_port(out, mosquitto_socket(q->m));
    iotc_drv_add_port_number(out, q->st.local_port);
    if (rc != MOSQ_ERR_SUCCESS)
        q->dead = 1;
    ERR_clear_error();
    return IOTC_OK;
}

static void mq__close(mq_client *q)
{
    if (q->m) {
        if (!q->dead && q->connack_rc == 0) {
            long deadline = iotc_clock_ms() + 300;
            mosquitto_disconnect(q->m);
            while (!q->dead && iotc_clock_ms() < deadline)
                if (mosquitto_loop(q->m, 10, 1) != MOSQ_ERR_SUCCESS)
                    break;
        }
        mosquitto_destroy(q->m);
        q->m = NULL;
    }
    ERR_clear_error();
    SSL_CTX_free(q->ctx);
    q->ctx = NULL;
    json_decref(q->alpn);
    q->alpn = NULL;
}

typedef int (*mq_done_fn)(mq_client *a, mq_client *b, void *arg);

/* Runs both clients' loops until done() or the deadline. */
static void mq__pump(mq_client *a, mq_client *b, long deadline, mq_done_fn done, void *arg)
{
    while (!done(a, b, arg) && iotc_clock_ms() < deadline) {
        int live = 0;
        mq_client *v[2] = {a, b};
        for (int i = 0; i < 2; i++) {
            if (!v[i] || !v[i]->m || v[i]->dead)
                continue;
            live++;
            if (mosquitto_loop(v[i]->m, 10, 1) != MOSQ_ERR_SUCCESS)
                v[i]->dead = 1;
        }
        if (!live)
            break;
    }
    ERR_clear_error();
}

static int mq__done_connack(mq_client *a, mq_client *b, void *arg)
{
    (void)b;
    (void)arg;
    return a->connack_rc >= 0 || a->dead;
}

static int mq__done_suback(mq_client *a, mq_client *b, void *arg)
{
    (void)b;
    (void)arg;
    return a->subscribed != 0 || a->dead;
}

static int mq__done_msg(mq_client *sub, mq_client *pub, void *arg)
{
    int want_mid = *(int *)arg;
    int pub_done = !pub || pub->dead || want_mid <= 0 || pub->published_mid == want_mid;
    return (sub->got || sub->dead) && pub_done;
}

static int mq__done_published(mq_client *pub, mq_client *b, void *arg)
{
    (void)b;
    return pub->dead || pub->published_mid == *(int *)arg;
}

/* Where the subscriber connects: the case's MQTT row when it is X.509, or a
 * custom-auth row when the case gives client.subscriber_auth (so both ends of
 * the round trip use the row); otherwise a plain X.509 client on 8883. */
static const iotc_row *mq__sub_row(const iotc_case *c)
{
    if (c->row->proto == IOTC_PROTO_MQTT &&
        (c->row->auth == IOTC_AUTH_X509 || c->client.subscriber_auth))
        return c->row;
    return iotc_row_find("mqtt-x509-8883");
}

/* Subscriber settings: the case's family and TLS version, standard everything else. */
static int mq__sub_opts(const iotc_env *env, const iotc_case *c, const iotc_row *row,
                        iotc_tlsc_opts *o, json_t **alpn, char *username, size_t ulen,
                        iotc_drv_out *out)
{
    const char *cert = c->client.subscriber_cert;
    memset(o, 0, sizeof(*o));
    o->pki_dir = env->pki_dir;
    o->cert = cert ? cert : "device-02";
    o->tls = row == c->row ? c->tls : "any";
    o->sni = env->endpoint;
    *alpn = row->alpn ? json_pack("[s]", row->alpn) : json_array();
    o->alpn = *alpn;
    iotc_env_tls_files(env, o);
    username[0] = '\0';
    if (row->auth == IOTC_AUTH_CUSTOM) {
        iotc_door_auth a;
        json_t *sa = c->client.subscriber_auth;
        o->cert = NULL;
        o->cert_file[0] = o->key_file[0] = '\0';
        iotc_errtext e = {0};
        if (iotc_door_auth_from(env, c, sa, &a, &e) != IOTC_OK) {
            iotc_errtext_copy(&e, out->error, sizeof(out->error));
            return IOTC_ERR_CONFIG;
        }
        if (iotc_door_auth_username(&a, IOTC_DOOR_AUTH_USER, username, ulen) != IOTC_OK) {
            snprintf(out->error, sizeof(out->error), "subscriber_auth must be custom");
            return IOTC_ERR_CONFIG;
        }
    }
    return IOTC_OK;
}

static int mq__sub_connect(mq_client *sub, const iotc_env *env, const iotc_case *c,
                           const char *topic, int qos, const char *client_id, long deadline,
                           iotc_drv_out *out)
{
    iotc_tlsc_opts o;
    json_t *alpn = NULL;
    const iotc_row *row = mq__sub_row(c);
    char username[2048];
    int rc;

    rc = mq__sub_opts(env, c, row, &o, &alpn, username, sizeof(username), out);
    if (rc == IOTC_OK)
        rc = mq__open(sub, env, row->port, c->af, &o, client_id, username[0] ? username : NULL,
                      NULL, out);
    sub->alpn = alpn;
    if (rc != IOTC_OK)
        return rc;
    mq__pump(sub, NULL, deadline, mq__done_connack, NULL);
    if (sub->connack_rc != 0) {
        char a[32];
        snprintf(out->error, sizeof(out->error),
                 "subscriber (%s on %s) could not connect: connack %d, alert %s",
                 o.cert ? o.cert : "custom auth", row->id, sub->connack_rc,
                 sub->st.alert_recv >= 0 ? iotc_tlsc_alert_name(sub->st.alert_recv, a, sizeof(a))
                                         : "none");
        return IOTC_ERR_IO;
    }
    if (mosquitto_subscribe(sub->m, NULL, topic, qos) != MOSQ_ERR_SUCCESS) {
        snprintf(out->error, sizeof(out->error), "subscribe could not be sent");
        return IOTC_ERR_IO;
    }
    mq__pump(sub, NULL, deadline, mq__done_suback, NULL);
    if (sub->subscribed != 1) {
        snprintf(out->error, sizeof(out->error), "subscriber got no SUBACK for %s", topic);
        return IOTC_ERR_IO;
    }
    return IOTC_OK;
}

iotc_sub *iotc_sub_open(const iotc_env *env, const iotc_case *c, const char *topic, int qos,
                        const char *client_id, iotc_drv_out *out)
{
    iotc_sub *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(out->error, sizeof(out->error), "out of memory");
        return NULL;
    }
    if (mq__sub_connect(&s->q, env, c, topic, qos, client_id,
                        iotc_clock_ms() + iotc_drv_timeout_ms(c), out) != IOTC_OK) {
        iotc_sub_close(s);
        return NULL;
    }
    return s;
}

int iotc_sub_wait(iotc_sub *s, long deadline_ms, int *qos, int *retained, char *payload, size_t len)
{
    int none = 0;
    mq__pump(&s->q, NULL, deadline_ms, mq__done_msg, &none);
    if (!s->q.got)
        return 0;
    *qos = s->q.got_qos;
    *retained = s->q.got_retain;
    snprintf(payload, len, "%s", s->q.got_payload);
    return 1;
}

void iotc_sub_close(iotc_sub *s)
{
    if (!s)
        return;
    mq__close(&s->q);
    free(s);
}

/* How long to keep listening for a message the case says must NOT arrive. */
static long mq__absence_window(const iotc_case *c, int timeout)
{
    if (c->expect.delivered == 0 && timeout > 500)
        return 500;
    return timeout;
}

static void mq__observe_pub(mq_client *pub, json_t *obs)
{
    iotc_tlsc_observe_state(&pub->st, pub->st.handshake_done, obs);
    if (pub->connack_rc >= 0)
        json_object_set_new(obs, "connack_rc", json_integer(pub->connack_rc));
    json_object_set_new(obs, "connect", json_string(pub->connack_rc == 0 ? "accepted" : "refused"));
}

static void mq__observe_delivery(mq_client *sub, const char *payload, json_t *obs)
{
    int same = sub->got && strcmp(sub->got_payload, payload) == 0;
    json_object_set_new(obs, "delivered", json_boolean(same));
    if (sub->got) {
        json_object_set_new(obs, "delivered_qos", json_integer(sub->got_qos));
        json_object_set_new(obs, "retained", json_boolean(sub->got_retain));
        if (!same)
            json_object_set_new(obs, "delivered_payload", json_string(sub->got_payload));
    } else {
        json_object_set_new(obs, "retained", json_false());
    }
}

int iotc_drv_mqtt(const iotc_env *env, const iotc_case *c, size_t idx, iotc_drv_out *out)
{
    int retained_flow = c->client.action == IOTC_CASE_ACT_PUBLISH_THEN_SUBSCRIBE;
    int connect_only = c->client.action == IOTC_CASE_ACT_CONNECT;
    int qos = c->client.qos;
    int retain = c->client.retain;
    int timeout = iotc_drv_timeout_ms(c);
    mq_client sub, pub;
    iotc_tlsc_opts o;
    iotc_door_auth da;
    char topic[128], sub_id[128], pub_id[128], payload[320], username[2048];
    int mid = 0, rc = IOTC_OK;
    long deadline;

    memset(&sub, 0, sizeof(sub));
    memset(&pub, 0, sizeof(pub));
    if (c->row->proto != IOTC_PROTO_MQTT) {
        snprintf(out->error, sizeof(out->error), "the mqtt driver needs an MQTT row");
        return IOTC_ERR_INVALID;
    }
    iotc_drv_topic(env, idx, topic, sizeof(topic));
    iotc_drv_client_id(env, idx, "sub", c, sub_id, sizeof(sub_id));
    iotc_drv_client_id(env, idx, "pub", c, pub_id, sizeof(pub_id));
    snprintf(payload, sizeof(payload), "%s", c->client.payload ? c->client.payload : c->id);
    deadline = iotc_clock_ms() + timeout;
    username[0] = '\0';
    iotc_errtext e = {0};
    rc = iotc_door_auth_resolve(env, c, &da, &e);
    iotc_errtext_copy(&e, out->error, sizeof(out->error));
    if (rc == IOTC_OK && da.kind == IOTC_DA_SIGV4) {
        snprintf(out->error, sizeof(out->error), "MQTT has no SigV4 form: use a wss row");
        rc = IOTC_ERR_CONFIG;
    }
    if (rc != IOTC_OK)
        return rc;
    if (da.kind == IOTC_DA_CUSTOM)
        iotc_door_auth_username(&da, IOTC_DOOR_AUTH_USER, username, sizeof(username));

    if (!retained_flow && !connect_only) {
        rc = mq__sub_connect(&sub, env, c, topic, qos > 1 ? 1 : qos, sub_id, deadline, out);
        if (rc != IOTC_OK)
            goto cleanup;
    }
    iotc_drv_tls_opts(env, c, &o, &pub.alpn);
    json_t *alpn = pub.alpn;
    pub.alpn = NULL;
    rc = mq__open(&pub, env, iotc_drv_logical_port(c), c->af, &o, pub_id,
                  username[0] ? username : NULL, out->observed, out);
    pub.alpn = alpn;
    if (rc != IOTC_OK)
        goto cleanup;
    mq__pump(&pub, retained_flow ? NULL : &sub, deadline, mq__done_connack, NULL);
    iotc_drv_add_port_number(out, pub.st.local_port);
    mq__observe_pub(&pub, out->observed);
    if (connect_only)
        goto cleanup;
    if (pub.connack_rc == 0) {
        if (mosquitto_publish(pub.m, &mid, topic, (int)strlen(payload), payload, qos, retain) !=
            MOSQ_ERR_SUCCESS)
            mid = 0;
        json_object_set_new(out->observed, "published", json_boolean(mid > 0));
    }
    if (retained_flow) {
        /* The retained copy must exist before anyone subscribes. */
        if (mid > 0)
            mq__pump(&pub, NULL, deadline, mq__done_published, &mid);
        rc = mq__sub_connect(&sub, env, c, topic, qos > 1 ? 1 : qos, sub_id, deadline, out);
        if (rc != IOTC_OK)
            goto cleanup;
    }
    if (pub.connack_rc == 0) {
        /* A refused publisher sent nothing: there is nothing to wait for. */
        long wait_until = iotc_clock_ms() + mq__absence_window(c, timeout);
        int want = qos >= 1 ? mid : 0;
        mq__pump(&sub, &pub, wait_until, mq__done_msg, &want);
        if (qos >= 1 && mid > 0)
            json_object_set_new(out->observed, "puback", json_boolean(pub.published_mid == mid));
    }
    mq__observe_delivery(&sub, payload, out->observed);
    json_object_set_new(out->observed, "disconnected", json_boolean(pub.dead));
    if (retain && pub.connack_rc == 0 && !pub.dead) {
        /* Leave no retained message behind: an empty retained payload deletes it. */
        int cmid = 0;
        if (mosquitto_publish(pub.m, &cmid, topic, 0, NULL, 1, true) == MOSQ_ERR_SUCCESS)
            mq__pump(&pub, NULL, iotc_clock_ms() + 500, mq__done_published, &cmid);
    }
cleanup:
    mq__close(&pub);
    mq__close(&sub);
    return rc;
}

int iotc_pub_once(const iotc_env *env, const iotc_case *c, const char *topic, int qos,
                  const char *payload, const char *client_id, iotc_drv_out *out)
{
    const iotc_row *row = iotc_row_find("mqtt-x509-8883");
    long deadline = iotc_clock_ms() + iotc_drv_timeout_ms(c);
    iotc_tlsc_opts o;
    mq_client pub;
    int mid = 0, rc;

    memset(&o, 0, sizeof(o));
    o.pki_dir = env->pki_dir;
    o.cert = "device-01";
    o.tls = "any";
    o.sni = env->endpoint;
    iotc_env_tls_files(env, &o);
    rc = mq__open(&pub, env, row->port, c->af, &o, client_id, NULL, NULL, out);
    if (rc != IOTC_OK)
        goto cleanup;
    mq__pump(&pub, NULL, deadline, mq__done_connack, NULL);
    rc = IOTC_ERR_IO;
    if (pub.connack_rc != 0) {
        snprintf(out->error, sizeof(out->error),
                 "reference publisher (device-01 on %s): connack %d", row->id, pub.connack_rc);
        goto cleanup;
    }
    if (mosquitto_publish(pub.m, &mid, topic, (int)strlen(payload), payload, qos, false) !=
        MOSQ_ERR_SUCCESS) {
        snprintf(out->error, sizeof(out->error), "reference publisher could not publish");
        goto cleanup;
    }
    /* QoS 0 has no acknowledgement: pumping until "published" still flushes it. */
    mq__pump(&pub, NULL, deadline, mq__done_published, &mid);
    rc = IOTC_OK;
cleanup:
    mq__close(&pub);
    return rc;
}
