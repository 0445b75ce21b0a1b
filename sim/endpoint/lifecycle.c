#include "lifecycle.h"
#include "broker_link.h"
#include "endpoint_int.h"
#include "broker_remote.h"
#include "wshared.h"
#include "mqtt_session.h"
#include "common/err.h"
#include "common/stamp.h"
#include "common/jevents.h"
#include "common/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Events queued while the system connection is (re)connecting; bounded so a dead
 * broker cannot make the endpoint grow without limit. */
#define LC_MAX_QUEUED_BYTES (4u << 20)

struct iotc_lifecycle {
    struct iotc_endpoint *ep;
    struct iotc_blink *link;
    bool ready;
    uint16_t next_pid;
    /* client id -> versionNumber of its last connected event, kept in the value pointer
     * itself (absent = 0): one entry per client ID ever connected, so a small one. */
    struct iotc_strmap *versions;
    struct iotc_buf queue; /* encoded PUBLISH packets waiting for CONNACK */
    struct iotc_buf pkt;
    unsigned long dropped;
};

static long long lc__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define LC_CONNECTED_PREFIX "$aws/events/presence/connected/"
#define LC_WATCH_PID        1   /* the system connection's one SUBSCRIBE */
#define LC_CLIENT_ID_MAX    256 /* a longer one cannot be a session here (AWS: 128) */

bool iotc_lifecycle_watches_takeovers(const struct iotc_lifecycle *lc)
{
    return lc && lc->ep->remote && !iotc_ep_shared_on(lc->ep);
}

static void lc__watch(struct iotc_lifecycle *lc)
{
    struct iotc_mqtt_subscribe sub = {.packet_id = LC_WATCH_PID, .count = 1};
    sub.filters[0].filter = iotc_span_str(LC_CONNECTED_PREFIX "+");
    sub.filters[0].options = 0;
    iotc_buf_reset(&lc->pkt);
    if (iotc_mqtt_subscribe_encode(&lc->pkt, IOTC_MQTT_V311, &sub) == IOTC_OK)
        iotc_blink_send(lc->link, lc->pkt.p, lc->pkt.len);
}

/* Another door's connected event: clientId from the topic, sessionIdentifier from the
 * payload (events of sessions held here are ours and change nothing). */
static void lc__on_event(struct iotc_lifecycle *lc, const struct iotc_mqtt_frame *f,
                         const uint8_t *pkt)
{
    struct iotc_mqtt_publish p;
    size_t plen = sizeof LC_CONNECTED_PREFIX - 1;
    char client_id[LC_CLIENT_ID_MAX + 1];
    if (iotc_mqtt_publish_parse(pkt, f->total, IOTC_MQTT_V311, &p) != IOTC_OK ||
        p.topic.n <= plen || p.topic.n - plen > LC_CLIENT_ID_MAX ||
        memcmp(p.topic.p, LC_CONNECTED_PREFIX, plen) != 0)
        return;
    memcpy(client_id, p.topic.p + plen, p.topic.n - plen);
    client_id[p.topic.n - plen] = '\0';
    json_t *o = json_loadb((const char *)p.payload.p, p.payload.n, 0, NULL);
    const char *sid = json_string_value(json_object_get(o, "sessionIdentifier"));
    if (sid)
        iotc_ms_connected_elsewhere(lc->ep, client_id, sid);
    json_decref(o);
}

static void lc__packet(void *arg, const struct iotc_mqtt_frame *f, const uint8_t *pkt)
{
    struct iotc_lifecycle *lc = arg;
    if (f->type == IOTC_MQTT_PUBLISH && iotc_lifecycle_watches_takeovers(lc)) {
        lc__on_event(lc, f, pkt);
        return;
    }
    if (f->type != IOTC_MQTT_CONNACK || lc->ready)
        return; /* PUBACKs need no action: the broker has the event */
    struct iotc_mqtt_connack ca;
    if (iotc_mqtt_connack_parse(pkt, f->total, IOTC_MQTT_V311, &ca) != IOTC_OK || ca.code != 0) {
        iotc_journal_emit(lc->ep->journal, IOTC_EV_LIFECYCLE_ERROR,
                          json_pack("{s:s}", "reason", "broker refused the system connection"));
        return;
    }
    lc->ready = true;
    if (iotc_lifecycle_watches_takeovers(lc))
        lc__watch(lc);
    if (lc->queue.len)
        iotc_blink_send(lc->link, lc->queue.p, lc->queue.len);
    iotc_buf_reset(&lc->queue);
}

static void lc__closed(void *arg, const char *reason)
{
    struct iotc_lifecycle *lc = arg;
    /* Journaled when it was up: a broker restart, or (with a shared broker) another
     * front door using the same system client ID. */
    if (lc->ready)
        iotc_journal_emit(lc->ep->journal, IOTC_EV_LIFECYCLE_ERROR,
                          json_pack("{s:s, s:s}", "reason", "system connection closed", "detail",
                                    reason ? reason : ""));
    lc->ready = false;
    iotc_blink_free(lc->link);
    lc->link = NULL;
    /* Reopened by iotc_lifecycle_broker_ready when the supervisor restarts mosquitto. */
}

void iotc_lifecycle_broker_ready(struct iotc_lifecycle *lc)
{
    struct iotc_endpoint *ep = lc->ep;
    char stamp[IOTC_STAMP_LEN + 1];
    const char *id = iotc_ep_system_client_id(ep);
    if (lc->link)
        return;
    if (iotc_stamp_make(iotc_ep_broker_secret(ep), IOTC_STAMP_SECRET_LEN, id, strlen(id), id,
                        strlen(id), stamp))
        return;
    struct iotc_mqtt_connect cn = {.protocol_name = IOTC_SPAN_LIT("MQTT"),
                                   .version = IOTC_MQTT_V311,
                                   .clean_start = true,
                                   .keepalive = 65535,
                                   .client_id = iotc_span_str(id),
                                   .has_username = true,
                                   .username = iotc_span_str(id),
                                   .has_password = true,
                                   .password = iotc_span_str(stamp)};
    iotc_buf_reset(&lc->pkt);
    if (iotc_mqtt_connect_encode(&lc->pkt, &cn) != IOTC_OK)
        return;
    struct iotc_blink_cbs cbs = {lc__packet, lc__closed, NULL, lc};
    if (iotc_ep_blink_open(ep, &cbs, &lc->link))
        return;
    iotc_blink_send(lc->link, lc->pkt.p, lc->pkt.len);
}

int iotc_lifecycle_new(struct iotc_endpoint *ep, struct iotc_lifecycle **out)
{
    struct iotc_lifecycle *lc = calloc(1, sizeof *lc);
    if (!lc || !(lc->versions = iotc_strmap_new())) {
        free(lc);
        return IOTC_ERR_NOMEM;
    }
    lc->ep = ep;
    *out = lc;
    return IOTC_OK;
}

void iotc_lifecycle_free(struct iotc_lifecycle *lc)
{
    if (!lc)
        return;
    iotc_blink_free(lc->link);
    iotc_strmap_free(lc->versions);
    iotc_buf_free(&lc->queue);
    iotc_buf_free(&lc->pkt);
    free(lc);
}

void iotc_system_publish(struct iotc_lifecycle *lc, const char *topic, const void *payload,
                         size_t len, int qos)
{
    /* The system connection is everyone's: never let one bad topic close it. */
    if (!iotc_mqtt_topic_name_valid(iotc_span_str(topic)))
        return;
    if (qos && ++lc->next_pid == 0)
        lc->next_pid = 1;
    struct iotc_mqtt_publish p = {.qos = (uint8_t)qos,
                                  .topic = iotc_span_str(topic),
                                  .packet_id = qos ? lc->next_pid : 0,
                                  .payload = {payload, len}};
    iotc_buf_reset(&lc->pkt);
    if (iotc_mqtt_publish_encode(&lc->pkt, IOTC_MQTT_V311, &p) != IOTC_OK)
        return;
    if (lc->ready)
        iotc_blink_send(lc->link, lc->pkt.p, lc->pkt.len);
    else if (lc->queue.len + lc->pkt.len <= LC_MAX_QUEUED_BYTES)
        iotc_buf_append(&lc->queue, lc->pkt.p, lc->pkt.len);
    else
        lc->dropped++;
}

static json_int_t lc__version(const struct iotc_lifecycle *lc, const char *client_id)
{
    return (json_int_t)(uintptr_t)iotc_strmap_get(lc->versions, client_id);
}

static void lc__publish(struct iotc_lifecycle *lc, const char *kind, const char *client_id,
                        json_t *payload)
{
    /* AWS: "Client IDs that contain # or + do not receive lifecycle events" (developer
     * guide, Lifecycle events). Published, such a topic would also be a malformed PUBLISH
     * that makes mosquitto drop the system connection, and with it everyone's events. */
    if (strpbrk(client_id, "#+")) {
        json_decref(payload);
        return;
    }
    char topic[512];
    snprintf(topic, sizeof topic, "$aws/events/%s/%s", kind, client_id);
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    if (!text)
        return;
    iotc_system_publish(lc, topic, text, strlen(text), 1);
    free(text);
}

void iotc_lifecycle_connected(struct iotc_lifecycle *lc, const char *client_id,
                              const char *session_id, const char *principal, const char *ip)
{
    long long shared;
    json_int_t version = lc__version(lc, client_id) + 1;
    if (iotc_ep_shared_version(lc->ep, client_id, true, &shared))
        version = shared; /* serve --workers: the client ID may have connected elsewhere */
    iotc_strmap_put(lc->versions, client_id, (void *)(uintptr_t)version);
    json_t *p = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I}", "clientId", client_id, "timestamp",
                          (json_int_t)lc__now_ms(), "eventType", "connected", "sessionIdentifier",
                          session_id, "principalIdentifier", principal, "ipAddress", ip,
                          "versionNumber", version);
    lc__publish(lc, "presence/connected", client_id, p);
}

void iotc_lifecycle_disconnected(struct iotc_lifecycle *lc, const char *client_id,
                                 const char *session_id, const char *principal, const char *reason,
                                 bool client_initiated)
{
    long long shared;
    json_int_t version = lc__version(lc, client_id);
    if (iotc_ep_shared_version(lc->ep, client_id, false, &shared))
        version = shared;
    json_t *p =
        json_pack("{s:s, s:I, s:s, s:s, s:s, s:b, s:s, s:I}", "clientId", client_id, "timestamp",
                  (json_int_t)lc__now_ms(), "eventType", "disconnected", "sessionIdentifier",
                  session_id, "principalIdentifier", principal, "clientInitiatedDisconnect",
                  client_initiated, "disconnectReason", reason, "versionNumber", version);
    lc__publish(lc, "presence/disconnected", client_id, p);
}

void iotc_lifecycle_subscriptions(struct iotc_lifecycle *lc, bool subscribed, const char *client_id,
                                  const char *session_id, const char *principal, json_t *topics)
{
    json_t *p = json_pack("{s:s, s:I, s:s, s:s, s:s, s:O}", "clientId", client_id, "timestamp",
                          (json_int_t)lc__now_ms(), "eventType",
                          subscribed ? "subscribed" : "unsubscribed", "sessionIdentifier",
                          session_id, "principalIdentifier", principal, "topics", topics);
    lc__publish(lc, subscribed ? "subscriptions/subscribed" : "subscriptions/unsubscribed",
                client_id, p);
}
