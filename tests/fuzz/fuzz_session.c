/*
 * Fuzz harness for the front door's MQTT connection state machine: the endpoint's
 * session (mqtt_session.c, handle_*.c, broker_relay.c, durable_ack.c, throttle.c, the
 * policy checks, topic aliases, retained withholding, wills, lifecycle) fed arbitrary
 * byte streams without sockets or TLS (sim/endpoint/endpoint_fuzz.h). Devices are
 * socketpairs already authenticated as a certificate with a policy; the broker
 * is an in-memory peer here that answers like mosquitto (CONNACK with session present
 * for a kept session, SUBACK, UNSUBACK, PUBACK, PINGRESP, deliveries to matching
 * subscriptions, retained messages on SUBSCRIBE).
 *
 * Input: one config byte, then records [tag][len hi][len lo][len bytes]:
 *   tag % 8 = 0 bytes from the current device     1 bytes from its broker connection
 *             2 a new device (becomes current)     3 the current device closes (EOF)
 *             4 the broker drops the current device's connection
 *             5 data[0] picks the current device   7 as 0
 *             6 time passes: data[0..3] big-endian milliseconds (sim/common/clock.h
 *               iotc_clock_advance_ms); every timer that falls due fires, in deadline
 *               order, with the clock at its deadline
 * Config byte: bit 0 limits.qos1_durable, bit 1 no topic aliases, bit 2 tight quotas
 * (2 publishes/s and 256 bytes/s per connection, 4 publishes/s per account, 1 CONNECT/s
 * per client ID, 2 refused publishes/s before the connection closes).
 * The event loop is pumped until quiet after each record.
 *
 * Invariants (abort() when broken):
 *  - the endpoint's bytes to a device and to the broker are well-framed MQTT;
 *  - a device's first packet is a CONNACK (nothing before CONNACK);
 *  - the policy denies every topic and filter containing "secret" (publish, receive,
 *    retain, subscribe) and client IDs starting "banned": none of them reaches the broker
 *    (as a PUBLISH, a will or a SUBSCRIBE) and no PUBLISH on such a topic, nor on $SYS,
 *    reaches a device;
 *  - the broker never sees a topic alias or an empty topic (the front door resolves them),
 *    nor a packet that does not parse or that AWS refuses (QoS 2, AUTH, server packets):
 *    the front door answers those itself, as AWS would;
 *  - every broker connection starts with a stamped CONNECT;
 *  - time bounds every connection: one whose device sent nothing for longer than the
 *    CONNECT deadline and 1.5 x the largest keep-alive has been closed by the endpoint.
 */
#include "endpoint/endpoint_fuzz.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/stamp.h"
#include "mqtt/mqtt.h"
#include "policy/policy.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef IOTC_FUZZ_PROFILE
#error "IOTC_FUZZ_PROFILE must name a profile file"
#endif

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_session: check failed at line %d: %s\n", __LINE__, #cond);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define FS_MAX_DEV   4
#define FS_MAX_PEER  16
#define FS_MAX_SUBS  16
#define FS_MAX_KEPT  4
#define FS_MAX_RET   8
#define FS_TOPIC_MAX 300
#define FS_MAX_TIMER 512
/* Fake time one input may pass (about 50 days, past the 14-day X.509 duration): the
 * clock's offset only grows, across every input of a campaign. */
#define FS_MAX_INPUT_MS 4294967296.0

/* The device's policy: broad, with explicit Denies the checks above can see. */
static const char fs__policy[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":["
    "{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"arn:aws:iot:*:*:client/*\"},"
    "{\"Effect\":\"Allow\",\"Action\":[\"iot:Publish\",\"iot:Receive\",\"iot:RetainPublish\"],"
    "\"Resource\":\"arn:aws:iot:*:*:topic/*\"},"
    "{\"Effect\":\"Allow\",\"Action\":\"iot:Subscribe\",\"Resource\":\"arn:aws:iot:*:*:topicfilter/"
    "*\"},"
    "{\"Effect\":\"Deny\",\"Action\":[\"iot:Publish\",\"iot:Receive\",\"iot:RetainPublish\"],"
    "\"Resource\":\"arn:aws:iot:*:*:topic/*secret*\"},"
    "{\"Effect\":\"Deny\",\"Action\":\"iot:Subscribe\",\"Resource\":\"arn:aws:iot:*:*:topicfilter/"
    "*secret*\"},"
    "{\"Effect\":\"Deny\",\"Action\":\"iot:Connect\",\"Resource\":\"arn:aws:iot:*:*:client/"
    "banned*\"}"
    "]}";

struct fs_sub {
    char filter[FS_TOPIC_MAX];
    uint8_t qos;
};

/* One broker-side connection (the other end of a session's link). */
struct fs_peer {
    struct bufferevent *bev;
    bool connected, system, closed;
    uint8_t version;
    char client_id[128];
    uint16_t next_pid;
    struct fs_sub subs[FS_MAX_SUBS];
    size_t nsubs;
    bool persistent;
};

/* A device: the harness's end of its pair and what it has received. */
struct fs_dev {
    struct bufferevent *bev;
    struct evbuffer *rx;
    bool got_any;
    uint8_t version; /* from the CONNECT it sent (to parse what it receives) */
    double last_tx;  /* fake time (H.now) of the last bytes it sent, or of its opening */
};

static struct {
    iotc_endpoint *ep;
    struct event_base *base;
    struct iotc_reg_cert cert;
    struct iotc_policy *policy;
    uint8_t secret[IOTC_STAMP_SECRET_LEN];
    struct iotc_ep_fake_broker fb;
    struct fs_peer peers[FS_MAX_PEER];
    size_t npeers;
    struct fs_dev devs[FS_MAX_DEV];
    size_t ndev, cur;
    struct { /* broker sessions kept across connections (clean start 0) */
        char client_id[128];
        struct fs_sub subs[FS_MAX_SUBS];
        size_t nsubs;
    } kept[FS_MAX_KEPT];
    size_t nkept;
    struct {
        char topic[FS_TOPIC_MAX];
        uint8_t payload[64];
        size_t n;
    } ret[FS_MAX_RET];
    size_t nret;
    unsigned activity;
    unsigned broker_accepted, devices_accepted; /* CONNACKs with code 0, this input */
    struct iotc_buf out;
    double now;                /* fake milliseconds advanced in this input */
    struct iotc_limits limits; /* the profile's, restored before every input */
    struct {                   /* the pending timers, collected by fs__timers */
        struct event *ev;
        double left; /* milliseconds to its deadline */
    } timers[FS_MAX_TIMER];
    size_t ntimers;
} H;

/* What an MQTT 5 CONNACK may carry (MQTT 5.0 section 3.2.2.2); 3.1.1 has codes 0..5. */
static bool fs__connack_code_ok(uint8_t version, uint8_t code)
{
    static const uint8_t v5[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                                 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
    return version == IOTC_MQTT_V5 ? memchr(v5, code, sizeof v5) != NULL : code <= 5;
}

static bool fs__denied(struct iotc_span t)
{
    static const char word[] = "secret";
    for (size_t i = 0; i + sizeof word - 1 <= t.n; i++)
        if (memcmp(t.p + i, word, sizeof word - 1) == 0)
            return true;
    return false;
}

static bool fs__span_copy(char *dst, size_t cap, struct iotc_span s)
{
    if (s.n >= cap)
        return false;
    memcpy(dst, s.p, s.n);
    dst[s.n] = '\0';
    return true;
}

/* ---- the in-memory broker ---- */

static void fs__peer_send(struct fs_peer *p, const struct iotc_buf *b)
{
    if (!p->closed && b->len)
        bufferevent_write(p->bev, b->p, b->len);
}

static void fs__deliver(struct fs_peer *to, const char *topic, struct iotc_span payload,
                        uint8_t qos, bool retain)
{
    struct iotc_mqtt_publish pub = {
        .qos = qos, .retain = retain, .topic = iotc_span_str(topic), .payload = payload};
    if (qos) {
        if (++to->next_pid == 0)
            to->next_pid = 1;
        pub.packet_id = to->next_pid;
    }
    iotc_buf_reset(&H.out);
    if (iotc_mqtt_publish_encode(&H.out, to->version, &pub) == IOTC_OK)
        fs__peer_send(to, &H.out);
}

static void fs__route(const struct iotc_mqtt_publish *pub)
{
    char topic[FS_TOPIC_MAX];
    if (!fs__span_copy(topic, sizeof topic, pub->topic))
        return;
    for (size_t i = 0; i < H.npeers; i++) {
        struct fs_peer *p = &H.peers[i];
        if (!p->connected || p->closed || p->system)
            continue;
        for (size_t k = 0; k < p->nsubs; k++)
            if (iotc_mqtt_topic_matches(iotc_span_str(p->subs[k].filter), pub->topic)) {
                uint8_t q = pub->qos < p->subs[k].qos ? pub->qos : p->subs[k].qos;
                fs__deliver(p, topic, pub->payload, q, false);
                break;
            }
    }
    if (!pub->retain)
        return;
    size_t slot = H.nret;
    for (size_t i = 0; i < H.nret; i++)
        if (strcmp(H.ret[i].topic, topic) == 0)
            slot = i;
    if (pub->payload.n == 0 || pub->payload.n > sizeof H.ret[0].payload) {
        if (slot < H.nret)
            H.ret[slot] = H.ret[--H.nret];
        return;
    }
    if (slot == H.nret && H.nret == FS_MAX_RET)
        return;
    if (slot == H.nret)
        H.nret++;
    snprintf(H.ret[slot].topic, sizeof H.ret[slot].topic, "%s", topic);
    memcpy(H.ret[slot].payload, pub->payload.p, pub->payload.n);
    H.ret[slot].n = pub->payload.n;
}

static void fs__on_connect(struct fs_peer *p, const uint8_t *pkt, size_t n)
{
    struct iotc_mqtt_connect cn;
    CHECK(iotc_mqtt_connect_parse(pkt, n, &cn) == IOTC_OK);
    /* every broker connection carries the front door's identity stamp */
    CHECK(cn.has_username && cn.username.n > 0 && cn.has_password);
    CHECK(cn.password.n == IOTC_STAMP_LEN);
    if (cn.will) {
        CHECK(!fs__denied(cn.will_topic));
        CHECK(cn.will_topic.n > 0);
    }
    p->version = cn.version;
    CHECK(fs__span_copy(p->client_id, sizeof p->client_id, cn.client_id));
    p->system = strcmp(p->client_id, "$iotconform-system") == 0;
    CHECK(p->system || strncmp(p->client_id, "banned", 6) != 0);
    p->connected = true;
    if (!p->system)
        H.broker_accepted++;
    p->persistent = !cn.clean_start;
    bool present = false;
    for (size_t i = 0; i < H.nkept; i++)
        if (strcmp(H.kept[i].client_id, p->client_id) == 0) {
            if (cn.clean_start) {
                H.kept[i] = H.kept[--H.nkept];
            } else {
                present = true;
                memcpy(p->subs, H.kept[i].subs, sizeof p->subs);
                p->nsubs = H.kept[i].nsubs;
            }
            break;
        }
    struct iotc_mqtt_connack ca = {.session_present = present, .code = 0};
    iotc_buf_reset(&H.out);
    CHECK(iotc_mqtt_connack_encode(&H.out, p->version, &ca) == IOTC_OK);
    fs__peer_send(p, &H.out);
}

static void fs__keep(struct fs_peer *p)
{
    if (!p->persistent || p->system)
        return;
    size_t i;
    for (i = 0; i < H.nkept; i++)
        if (strcmp(H.kept[i].client_id, p->client_id) == 0)
            break;
    if (i == H.nkept) {
        if (H.nkept == FS_MAX_KEPT)
            return;
        H.nkept++;
    }
    snprintf(H.kept[i].client_id, sizeof H.kept[i].client_id, "%s", p->client_id);
    memcpy(H.kept[i].subs, p->subs, sizeof p->subs);
    H.kept[i].nsubs = p->nsubs;
}

static void fs__on_subscribe(struct fs_peer *p, const uint8_t *pkt, size_t n, bool unsub)
{
    static struct iotc_mqtt_subscribe sub;
    static struct iotc_mqtt_suback ack;
    int rc = unsub ? iotc_mqtt_unsubscribe_parse(pkt, n, p->version, &sub)
                   : iotc_mqtt_subscribe_parse(pkt, n, p->version, &sub);
    CHECK(rc == IOTC_OK); /* the front door forwards only what it could parse */
    memset(&ack, 0, sizeof ack);
    ack.type = unsub ? IOTC_MQTT_UNSUBACK : IOTC_MQTT_SUBACK;
    ack.packet_id = sub.packet_id;
    ack.count = sub.count;
    for (size_t i = 0; i < sub.count; i++) {
        struct iotc_span f = sub.filters[i].filter;
        CHECK(!fs__denied(f) || unsub);
        char filter[FS_TOPIC_MAX];
        size_t k;
        bool fits = fs__span_copy(filter, sizeof filter, f);
        for (k = 0; fits && k < p->nsubs; k++)
            if (strcmp(p->subs[k].filter, filter) == 0)
                break;
        if (unsub) {
            ack.codes[i] = p->version == IOTC_MQTT_V5 ? (fits && k < p->nsubs ? 0 : 0x11) : 0;
            if (fits && k < p->nsubs)
                p->subs[k] = p->subs[--p->nsubs];
            continue;
        }
        uint8_t q = sub.filters[i].options & 3;
        ack.codes[i] = q > 1 ? 1 : q;
        if (!fits || (k == p->nsubs && p->nsubs == FS_MAX_SUBS))
            continue;
        if (k == p->nsubs)
            p->nsubs++;
        snprintf(p->subs[k].filter, sizeof p->subs[k].filter, "%s", filter);
        p->subs[k].qos = ack.codes[i];
    }
    if (p->version != IOTC_MQTT_V5 && unsub)
        ack.count = 0;
    iotc_buf_reset(&H.out);
    CHECK(iotc_mqtt_suback_encode(&H.out, p->version, &ack) == IOTC_OK);
    fs__peer_send(p, &H.out);
    if (unsub)
        return;
    /* retained messages follow the SUBACK, as mosquitto sends them */
    for (size_t i = 0; i < sub.count; i++)
        for (size_t r = 0; r < H.nret; r++)
            if (iotc_mqtt_topic_matches(sub.filters[i].filter, iotc_span_str(H.ret[r].topic)))
                fs__deliver(p, H.ret[r].topic, (struct iotc_span){H.ret[r].payload, H.ret[r].n},
                            ack.codes[i], true);
}

static void fs__on_publish(struct fs_peer *p, const uint8_t *pkt, size_t n)
{
    struct iotc_mqtt_publish pub;
    CHECK(iotc_mqtt_publish_parse(pkt, n, p->version, &pub) == IOTC_OK);
    /* aliases are the front door's business: the broker sees whole topics */
    CHECK(pub.topic.n > 0);
    struct iotc_mqtt_prop pr;
    CHECK(iotc_mqtt_props_find(pub.props, IOTC_MQTT_PROP_TOPIC_ALIAS, &pr) != 1);
    if (!p->system)
        CHECK(!fs__denied(pub.topic));
    if (pub.qos == 1) {
        struct iotc_mqtt_ack a = {.type = IOTC_MQTT_PUBACK, .packet_id = pub.packet_id};
        iotc_buf_reset(&H.out);
        CHECK(iotc_mqtt_ack_encode(&H.out, p->version, &a) == IOTC_OK);
        fs__peer_send(p, &H.out);
    }
    fs__route(&pub);
}

static void fs__peer_packet(struct fs_peer *p, const struct iotc_mqtt_frame *f, const uint8_t *pkt)
{
    if (!p->connected) {
        CHECK(f->type == IOTC_MQTT_CONNECT);
        fs__on_connect(p, pkt, f->total);
        return;
    }
    switch (f->type) {
    case IOTC_MQTT_CONNECT:
        CHECK(!"a second CONNECT reached the broker");
        break;
    case IOTC_MQTT_PUBLISH:
        fs__on_publish(p, pkt, f->total);
        break;
    case IOTC_MQTT_SUBSCRIBE:
    case IOTC_MQTT_UNSUBSCRIBE:
        fs__on_subscribe(p, pkt, f->total, f->type == IOTC_MQTT_UNSUBSCRIBE);
        fs__keep(p);
        break;
    case IOTC_MQTT_PUBACK: {
        struct iotc_mqtt_ack a;
        CHECK(iotc_mqtt_ack_parse(pkt, f->total, p->version, &a) == IOTC_OK);
        break;
    }
    case IOTC_MQTT_PINGREQ: {
        static const uint8_t pingresp[2] = {0xD0, 0x00};
        CHECK(f->remaining == 0 && f->flags == 0);
        bufferevent_write(p->bev, pingresp, sizeof pingresp);
        break;
    }
    case IOTC_MQTT_DISCONNECT: {
        struct iotc_mqtt_disconnect dc;
        CHECK(iotc_mqtt_disconnect_parse(pkt, f->total, p->version, &dc) == IOTC_OK);
        p->closed = true;
        break;
    }
    default:
        /* QoS 2, AUTH and server packets are refused at the front door */
        CHECK(!"a packet the front door refuses reached the broker");
        break;
    }
}

static void fs__peer_read(struct bufferevent *bev, void *arg)
{
    struct fs_peer *p = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    H.activity++;
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (!avail)
            return;
        uint8_t head[5];
        size_t hn = avail < sizeof head ? avail : sizeof head;
        evbuffer_copyout(in, head, hn);
        struct iotc_mqtt_frame f;
        int rc = iotc_mqtt_frame_peek(head, hn, 0, &f);
        CHECK(rc == IOTC_OK || rc == IOTC_ERR_AGAIN); /* the front door frames correctly */
        if (rc == IOTC_ERR_AGAIN && f.total == 0)
            return;
        if (avail < f.total)
            return;
        const uint8_t *pkt = evbuffer_pullup(in, (ev_ssize_t)f.total);
        CHECK(pkt);
        if (!p->closed)
            fs__peer_packet(p, &f, pkt);
        evbuffer_drain(in, f.total);
    }
}

static void fs__peer_event(struct bufferevent *bev, short what, void *arg)
{
    struct fs_peer *p = arg;
    H.activity++;
    p->closed = true;
}

static int fs__open_link(void *arg, struct event_base *base, const struct iotc_blink_cbs *cbs,
                         struct iotc_blink **out)
{
    struct bufferevent *pair[2];
    if (H.npeers == FS_MAX_PEER)
        return IOTC_ERR_IO; /* "cannot reach the broker": a path worth fuzzing too */
    if (bufferevent_pair_new(base, BEV_OPT_DEFER_CALLBACKS, pair) != 0)
        return IOTC_ERR_NOMEM;
    if (iotc_blink_adopt(pair[0], cbs, out) != IOTC_OK) {
        bufferevent_free(pair[0]);
        bufferevent_free(pair[1]);
        return IOTC_ERR_NOMEM;
    }
    struct fs_peer *p = &H.peers[H.npeers++];
    memset(p, 0, sizeof *p);
    p->bev = pair[1];
    bufferevent_setcb(p->bev, fs__peer_read, NULL, fs__peer_event, p);
    bufferevent_enable(p->bev, EV_READ | EV_WRITE);
    return IOTC_OK;
}

/* ---- devices ---- */

static void fs__dev_read(struct bufferevent *bev, void *arg)
{
    struct fs_dev *d = arg;
    H.activity++;
    evbuffer_add_buffer(d->rx, bufferevent_get_input(bev));
    for (;;) {
        size_t avail = evbuffer_get_length(d->rx);
        if (!avail)
            return;
        uint8_t head[5];
        size_t hn = avail < sizeof head ? avail : sizeof head;
        evbuffer_copyout(d->rx, head, hn);
        struct iotc_mqtt_frame f;
        int rc = iotc_mqtt_frame_peek(head, hn, 0, &f);
        CHECK(rc == IOTC_OK || rc == IOTC_ERR_AGAIN);
        if (rc == IOTC_ERR_AGAIN && f.total == 0)
            return;
        if (avail < f.total)
            return;
        const uint8_t *pkt = evbuffer_pullup(d->rx, (ev_ssize_t)f.total);
        CHECK(pkt);
        /* nothing reaches a device before its CONNACK */
        if (!d->got_any)
            CHECK(f.type == IOTC_MQTT_CONNACK);
        else
            CHECK(f.type != IOTC_MQTT_CONNACK); /* one CONNACK per connection */
        d->got_any = true;
        struct iotc_mqtt_connack ca;
        if (f.type == IOTC_MQTT_CONNACK && d->version &&
            iotc_mqtt_connack_parse(pkt, f.total, d->version, &ca) == IOTC_OK) {
            CHECK(fs__connack_code_ok(d->version, ca.code));
            /* the front door accepts only what the broker accepted */
            if (ca.code == 0)
                CHECK(++H.devices_accepted <= H.broker_accepted);
        }
        struct iotc_mqtt_publish pub;
        if (f.type == IOTC_MQTT_PUBLISH && d->version &&
            iotc_mqtt_publish_parse(pkt, f.total, d->version, &pub) == IOTC_OK) {
            CHECK(!fs__denied(pub.topic));
            CHECK(!(pub.topic.n >= 4 && memcmp(pub.topic.p, "$SYS", 4) == 0));
        }
        evbuffer_drain(d->rx, f.total);
    }
}

static void fs__dev_event(struct bufferevent *bev, short what, void *arg)
{
    H.activity++;
}

static void fs__dev_new(void)
{
    evutil_socket_t sv[2];
    if (H.ndev == FS_MAX_DEV)
        return;
    CHECK(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(evutil_make_socket_nonblocking(sv[0]) == 0 && evutil_make_socket_nonblocking(sv[1]) == 0);
    struct fs_dev *d = &H.devs[H.ndev];
    memset(d, 0, sizeof *d);
    d->bev = bufferevent_socket_new(H.base, sv[1], BEV_OPT_CLOSE_ON_FREE);
    CHECK(d->bev);
    d->last_tx = H.now;
    d->rx = evbuffer_new();
    CHECK(d->rx);
    bufferevent_setcb(d->bev, fs__dev_read, NULL, fs__dev_event, d);
    bufferevent_enable(d->bev, EV_READ | EV_WRITE);
    struct iotc_conn *c;
    CHECK(iotc_conn_adopt(H.ep, sv[0], IOTC_PORT_8883, &H.cert, &c) == IOTC_OK);
    H.cur = H.ndev++;
}

/* Learns the device's MQTT version from a CONNECT it sends (to read what it gets back). */
static void fs__dev_sent(struct fs_dev *d, const uint8_t *p, size_t n)
{
    struct iotc_mqtt_frame f;
    struct iotc_mqtt_connect cn;
    if (d->version || iotc_mqtt_frame_peek(p, n, 0, &f) != IOTC_OK || f.type != IOTC_MQTT_CONNECT ||
        iotc_mqtt_connect_parse(p, f.total, &cn) != IOTC_OK)
        return;
    d->version = cn.version;
}

/* Runs the loop until nothing is left to do now (timers in the future stay armed). */
static void fs__pump(void)
{
    int quiet = 0;
    for (int i = 0; i < 256 && quiet < 2; i++) {
        H.activity = 0;
        event_base_loop(H.base, EVLOOP_NONBLOCK);
        if (H.activity == 0 && event_base_get_num_events(H.base, EVENT_BASE_COUNT_ACTIVE) == 0)
            quiet++;
        else
            quiet = 0;
    }
}

/* ---- the fake clock ---- */

static int fs__timer_seen(const struct event_base *base, const struct event *ev, void *arg)
{
    struct timeval at, now;
    if (H.ntimers == FS_MAX_TIMER || !event_pending(ev, EV_TIMEOUT, &at))
        return 0;
    /* event_pending reports the deadline on the wall clock (libevent's own monotonic
     * reading plus its offset), so the time left is measured against the wall clock */
    evutil_gettimeofday(&now, NULL);
    H.timers[H.ntimers].ev = (struct event *)ev; /* libevent hands out const views only */
    H.timers[H.ntimers].left =
        (double)(at.tv_sec - now.tv_sec) * 1000.0 + (double)(at.tv_usec - now.tv_usec) / 1000.0;
    H.ntimers++;
    return 0;
}

/* Every pending timer, the earliest deadline into *first (ms; HUGE when none). Events may
 * not be added or removed during event_base_foreach_event: hence the list. */
static void fs__timers(double *first)
{
    H.ntimers = 0;
    event_base_foreach_event(H.base, fs__timer_seen, NULL);
    *first = 1e300;
    for (size_t i = 0; i < H.ntimers; i++)
        if (H.timers[i].left < *first)
            *first = H.timers[i].left;
}

/* The clock moves by step ms: timers due by then fire (activated, run by the next pump);
 * the others are re-armed step ms closer, since libevent counts down in real time. False
 * when the clock cannot move (its offset is at its bound): then no time passes. */
static bool fs__shift(double step)
{
    if (!iotc_clock_advance_ms(step))
        return false;
    H.now += step;
    for (size_t i = 0; i < H.ntimers; i++) {
        double left = H.timers[i].left - step;
        if (left <= 0) {
            event_active(H.timers[i].ev, EV_TIMEOUT, 1);
            continue;
        }
        struct timeval tv = {(time_t)(left / 1000),
                             (suseconds_t)((long long)(left * 1000) % 1000000)};
        event_add(H.timers[i].ev, &tv);
    }
    return true;
}

/* ms of fake time pass, stopping at each deadline so a timer that re-arms itself (the
 * keep-alive check) sees the clock where it would be. */
static void fs__advance(double ms)
{
    for (int steps = 0; steps < 64 && ms > 0; steps++) {
        double first;
        fs__timers(&first);
        if (first > ms)
            break;
        double step = first > 0 ? first : 0;
        if (!fs__shift(step))
            return;
        ms -= step;
        fs__pump();
    }
    if (ms > 0) {
        double first;
        fs__timers(&first);
        if (fs__shift(ms))
            fs__pump();
    }
}

/* A device's connection outlives neither the CONNECT deadline nor 1.5 x the largest
 * keep-alive of silence (the endpoint frees its end of the pair when it closes). */
static void fs__check_idle(void)
{
    const struct iotc_limits *l = &H.limits;
    double bound = 1.5 * (double)l->keepalive_max_s * 1000.0;
    if ((double)l->connect_timeout_ms > bound)
        bound = (double)l->connect_timeout_ms;
    bound = bound * iotc_endpoint_profile(H.ep)->time_scale + 1000.0;
    for (size_t i = 0; i < H.ndev; i++)
        if (bufferevent_pair_get_partner(H.devs[i].bev) && H.now - H.devs[i].last_tx > bound) {
            fprintf(stderr,
                    "fuzz_session: device %zu open %.0f ms after its last bytes (%zu timers)\n", i,
                    H.now - H.devs[i].last_tx, H.ntimers);
            CHECK(!"a silent connection outlived the keep-alive");
        }
}

static void fs__init(void)
{
    iotc_errtext err = {0};
    struct iotc_policy *pol = NULL;
    CHECK(iotc_policy_parse(fs__policy, strlen(fs__policy), &pol, &err) == IOTC_OK);
    H.policy = pol;
    H.cert.policies.list = &H.policy;
    H.cert.policies.count = 1;
    H.cert.status = IOTC_CERT_ACTIVE;
    memset(H.cert.id, 'a', 64);
    H.cert.thing = "thing-fuzz";
    H.cert.common_name = "fuzz-device";
    memset(H.secret, 0x5a, sizeof H.secret);
    H.fb.secret = H.secret;
    H.fb.open = fs__open_link;
    if (iotc_endpoint_open_fake(IOTC_FUZZ_PROFILE, "/dev/null", &H.fb, &H.ep, &err)) {
        fprintf(stderr, "fuzz_session: %s\n", err.msg);
        abort();
    }
    H.base = iotc_endpoint_base(H.ep);
    H.limits = iotc_endpoint_profile(H.ep)->limits;
    fs__pump();
}

/* Back to the state after fs__init: every device and broker connection gone. */
static void fs__reset(void)
{
    for (size_t i = 0; i < H.ndev; i++)
        bufferevent_flush(H.devs[i].bev, EV_WRITE, BEV_FINISHED);
    fs__pump();
    for (size_t i = 0; i < H.npeers; i++)
        bufferevent_flush(H.peers[i].bev, EV_WRITE, BEV_FINISHED);
    fs__pump();
    size_t old = H.npeers;
    CHECK(iotc_endpoint_reset_fake(H.ep) == IOTC_OK);
    fs__pump();
    for (size_t i = 0; i < H.ndev; i++) {
        bufferevent_free(H.devs[i].bev);
        evbuffer_free(H.devs[i].rx);
    }
    H.ndev = H.cur = 0;
    /* the new lifecycle connection was opened by the reset: keep it */
    for (size_t i = 0; i < old; i++)
        bufferevent_free(H.peers[i].bev);
    memmove(H.peers, H.peers + old, (H.npeers - old) * sizeof H.peers[0]);
    H.npeers -= old;
    for (size_t i = 0; i < H.npeers; i++)
        bufferevent_setcb(H.peers[i].bev, fs__peer_read, NULL, fs__peer_event, &H.peers[i]);
    H.nkept = H.nret = 0;
    H.broker_accepted = H.devices_accepted = 0;
}

/* The broker connection of the current device: the last one opened after it. */
static struct fs_peer *fs__cur_peer(void)
{
    for (size_t i = H.npeers; i-- > 0;)
        if (!H.peers[i].system && H.peers[i].connected)
            return &H.peers[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!H.ep)
        fs__init();
    if (size < 1)
        return 0;
    struct iotc_profile *prof = iotc_endpoint_profile(H.ep);
    uint8_t cfg = data[0];
    prof->limits = H.limits;
    prof->limits.qos1_durable = cfg & 1;
    prof->limits.topic_alias_max = (cfg & 2) ? 0 : 8;
    if (cfg & 4) {
        prof->limits.publish_per_s = 2;
        prof->limits.throughput_bytes_per_s = 256;
        prof->limits.account_publish_per_s = 4;
        prof->limits.connect_per_s_per_client_id = 1;
        prof->limits.throttle_close_per_s = 2;
    }
    H.now = 0;
    data++;
    size--;
    fs__dev_new();
    fs__pump();
    size_t off = 0;
    while (off + 3 <= size) {
        uint8_t tag = data[off] % 8;
        size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
        off += 3;
        if (len > size - off)
            len = size - off;
        const uint8_t *p = data + off;
        off += len;
        struct fs_dev *d = H.ndev ? &H.devs[H.cur] : NULL;
        struct fs_peer *peer;
        switch (tag) {
        case 1:
            if ((peer = fs__cur_peer()) && !peer->closed)
                bufferevent_write(peer->bev, p, len);
            break;
        case 2:
            fs__dev_new();
            break;
        case 3:
            if (d)
                bufferevent_flush(d->bev, EV_WRITE, BEV_FINISHED);
            break;
        case 4:
            if ((peer = fs__cur_peer()) && !peer->closed) {
                peer->closed = true;
                bufferevent_flush(peer->bev, EV_WRITE, BEV_FINISHED);
            }
            break;
        case 5:
            if (len && H.ndev)
                H.cur = p[0] % H.ndev;
            break;
        case 6: {
            uint32_t ms = 0;
            for (size_t i = 0; i < len && i < 4; i++)
                ms = ms << 8 | p[i];
            fs__advance(H.now + ms > FS_MAX_INPUT_MS ? FS_MAX_INPUT_MS - H.now : ms);
            fs__check_idle();
            break;
        }
        default:
            if (d) {
                d->last_tx = H.now;
                fs__dev_sent(d, p, len);
                bufferevent_write(d->bev, p, len);
            }
            break;
        }
        fs__pump();
    }
    fs__reset();
    return 0;
}
