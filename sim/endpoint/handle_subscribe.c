/* SUBSCRIBE / UNSUBSCRIBE: filter rules, iot:Subscribe per filter, the 50-subscription cap, SUBACK
 * splicing and subscription lifecycle events. */
#include "mqtt_session.h"
#include "lifecycle.h"
#include "mqtt_rules.h"
#include "wshared.h"
#include "common/err.h"
#include "common/jevents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void iotc_ms_remember_filters(struct iotc_endpoint_mqtt_sess *s,
                              const struct iotc_mqtt_subscribe *sub, const uint8_t *refused)
{
    char key[8];
    json_t *filters = json_array(), *mask = json_array();
    for (size_t i = 0; i < sub->count; i++) {
        json_array_append_new(filters, json_stringn((const char *)sub->filters[i].filter.p,
                                                    sub->filters[i].filter.n));
        json_array_append_new(mask, json_integer(refused ? refused[i] : 0));
    }
    snprintf(key, sizeof key, "%u", sub->packet_id);
    /* Bounded: a client that never gets answers cannot grow this without limit. */
    if (!s->pending_subs)
        s->pending_subs = json_object();
    if (json_object_size(s->pending_subs) < 128)
        json_object_set_new(s->pending_subs, key,
                            json_pack("{s:o, s:o}", "filters", filters, "refused", mask));
    else
        json_decref(filters), json_decref(mask);
}

/*
 * iot:Subscribe per filter. MQTT 3.1.1: any denied filter disconnects. MQTT 5: denied
 * filters get SUBACK 0x87 while allowed ones go to the broker; the broker's SUBACK is
 * spliced back together with the denials (iotc_ms_subscription_event).
 * Returns 0 to forward, 1 when the connection was closed, 2 when handled here.
 */
static int ms__authorize_subscribe(struct iotc_endpoint_mqtt_sess *s,
                                   struct iotc_mqtt_subscribe *sub)
{
    /* Per filter: 0 = goes to the broker, else the SUBACK code the front door answers. */
    uint8_t refused[IOTC_MQTT_SUB_MAX_FILTERS] = {0};
    size_t n_refused = 0, adding = 0;
    bool policy_denied = false;
    long long cap = s->c->ep->profile.limits.max_subscriptions;
    for (size_t i = 0; i < sub->count; i++) {
        char filter[1024];
        snprintf(filter, sizeof filter, "%.*s", (int)sub->filters[i].filter.n,
                 (const char *)sub->filters[i].filter.p);
        if (!iotc_conn_allowed(s->c, s->client_id, IOTC_ACT_SUBSCRIBE, filter, NULL)) {
            refused[i] = IOTC_MQTT_RC_NOT_AUTHORIZED;
            policy_denied = true;
        } else if (!json_object_get(s->subscriptions, filter) &&
                   (long long)(json_object_size(s->subscriptions) + adding) >= cap) {
            /* AWS: at most 50 subscriptions per connection; the rest get a failure code. */
            refused[i] = s->version == IOTC_MQTT_V5 ? IOTC_MQTT_RC_QUOTA_EXCEEDED : 0x80;
            iotc_conn_emit(s->c, IOTC_EV_MQTT_REFUSED,
                           json_pack("{s:s, s:s, s:s}", "rule", "max-subscriptions", "reason",
                                     "more than 50 subscriptions on one connection", "filter",
                                     filter));
        } else if (!json_object_get(s->subscriptions, filter)) {
            adding++;
        }
        n_refused += refused[i] != 0;
    }
    iotc_ms_remember_filters(s, sub, refused);
    if (n_refused == 0)
        return 0;
    if (policy_denied && s->version != IOTC_MQTT_V5) {
        iotc_ms_refuse(s, "policy", "iot:Subscribe not allowed by the principal's policies",
                       IOTC_MQTT_RC_NOT_AUTHORIZED, 0);
        return 1;
    }
    iotc_buf_reset(&s->out);
    if (n_refused == sub->count) {
        struct iotc_mqtt_suback sa = {
            .type = IOTC_MQTT_SUBACK, .packet_id = sub->packet_id, .count = sub->count};
        memcpy(sa.codes, refused, sub->count);
        char key[8];
        snprintf(key, sizeof key, "%u", sub->packet_id);
        json_object_del(s->pending_subs, key);
        if (iotc_mqtt_suback_encode(&s->out, s->version, &sa) == IOTC_OK)
            iotc_ms_send_client(s, s->out.p, s->out.len);
        return 2;
    }
    struct iotc_mqtt_subscribe *allowed = malloc(sizeof *allowed);
    if (!allowed) {
        iotc_ms_finish(s, "endpoint", "out of memory");
        return 1;
    }
    *allowed = *sub;
    allowed->count = 0;
    for (size_t i = 0; i < sub->count; i++)
        if (!refused[i])
            allowed->filters[allowed->count++] = sub->filters[i];
    if (iotc_mqtt_subscribe_encode(&s->out, s->version, allowed) == IOTC_OK)
        iotc_ms_send_broker(s, s->out.p, s->out.len);
    free(allowed);
    return 2; /* handled: the rewritten SUBSCRIBE went out */
}

int iotc_ms_check_subscribe(struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_frame *f,
                            const uint8_t *pkt)
{
    const struct iotc_limits *lim = &s->c->ep->profile.limits;
    struct iotc_mqtt_subscribe *sub = malloc(sizeof *sub);
    int stop = 1;
    if (!sub) {
        iotc_ms_finish(s, "endpoint", "out of memory");
        return 1;
    }
    int rc = iotc_mqtt_subscribe_parse(pkt, f->total, s->version, sub);
    if (rc == IOTC_ERR_TOO_LARGE ||
        (rc == IOTC_OK && (long long)sub->count > lim->max_filters_per_subscribe)) {
        iotc_ms_refuse(s, "subscribe-filters", "more than 8 topic filters in one SUBSCRIBE",
                       IOTC_MQTT_RC_QUOTA_EXCEEDED, 0);
        goto cleanup;
    }
    if (rc != IOTC_OK) {
        iotc_ms_refuse(s, "malformed", "malformed SUBSCRIBE", IOTC_MQTT_RC_MALFORMED, 0);
        goto cleanup;
    }
    /* The CONNACK said Subscription Identifiers are not available: MQTT 5 3.8.2.1.2. */
    struct iotc_mqtt_prop sid;
    if (s->version == IOTC_MQTT_V5 &&
        iotc_mqtt_props_find(sub->props, IOTC_MQTT_PROP_SUBSCRIPTION_ID, &sid) == 1) {
        iotc_ms_refuse(s, "subscription-id", "Subscription Identifiers are not supported",
                       IOTC_MQTT_RC_SUB_IDS_NOT_SUPPORTED, 0);
        goto cleanup;
    }
    for (size_t i = 0; i < sub->count; i++) {
        const char *why = iotc_rule_filter(lim, sub->filters[i].filter);
        if (why) {
            iotc_ms_refuse(s, "topic-filter", why, IOTC_MQTT_RC_TOPIC_FILTER_INVALID, 0);
            goto cleanup;
        }
        /* AWS's reserved-topics page: unsupported '$' operations end the connection */
        if ((why = iotc_rule_reserved(sub->filters[i].filter, IOTC_RESERVED_SUBSCRIBE))) {
            iotc_ms_refuse(s, "reserved-topic", why, IOTC_MQTT_RC_NOT_AUTHORIZED, 0);
            goto cleanup;
        }
        if ((sub->filters[i].options & 3) == 2) {
            iotc_ms_refuse(s, "qos2", "QoS 2 subscriptions are not supported by AWS IoT",
                           IOTC_MQTT_RC_QOS_NOT_SUPPORTED, 0);
            goto cleanup;
        }
    }
    stop = ms__authorize_subscribe(s, sub);
cleanup:
    free(sub);
    return stop;
}

/*
 * Lifecycle subscription events follow the broker's answer (AWS reports granted
 * filters). When the policy denied some filters of an MQTT 5 SUBSCRIBE, the broker
 * only saw the others: splice 0x87 back in at the denied positions and send that
 * SUBACK instead. Returns true when it sent the (spliced) SUBACK itself.
 */
static bool ms__persistent(const struct iotc_conn *c)
{
    for (size_t i = 0; i < c->auth.n_connect_attrs; i++)
        if (strcmp(c->auth.connect_attrs[i], "PersistentConnect") == 0)
            return true;
    return false;
}

/*
 * serve --workers: a persistent session may resume on another worker than the one that
 * saw its SUBSCRIBEs, and that worker needs the set as much (AWS's '#' matching of what
 * the resumed session receives). The set of a persistent session is kept in the files
 * the workers share (wshared.h) under "subs <client ID>", written on every SUBACK and
 * UNSUBACK that changes it; a fresh session of the client ID clears it.
 */
#define MS_SUBS_KEEP_S 1e300 /* no expiry of its own: the broker's session decides */

static void ms__subs_key(const struct iotc_endpoint_mqtt_sess *s, char *key, size_t len)
{
    snprintf(key, len, "subs %s", s->client_id);
}

static void ms__subs_share(struct iotc_endpoint_mqtt_sess *s)
{
    if (!s->client_id || !iotc_ep_shared_on(s->c->ep) || !ms__persistent(s->c))
        return;
    char key[300];
    ms__subs_key(s, key, sizeof key);
    json_t *none = s->subscriptions ? NULL : json_object();
    char *dump = json_dumps(s->subscriptions ? s->subscriptions : none, JSON_COMPACT);
    if (dump)
        iotc_ep_shared_cache_put(s->c->ep, key, MS_SUBS_KEEP_S, dump);
    free(dump);
    json_decref(none);
}

/* The set another worker stored, or NULL; only an object of filters counts. */
static json_t *ms__subs_shared(struct iotc_endpoint_mqtt_sess *s)
{
    char key[300];
    ms__subs_key(s, key, sizeof key);
    char *dump = iotc_ep_shared_cache_get(s->c->ep, key, 0);
    json_t *set = dump ? json_loads(dump, 0, NULL) : NULL;
    free(dump);
    if (set && !json_is_object(set)) {
        json_decref(set);
        set = NULL;
    }
    return set;
}

/* The set is made by the first granted SUBSCRIBE (most devices never send one) and from
 * then on is also the client ID's entry in ep->session_subs (iotc_ms_subs_bind). */
static bool ms__subs_own(struct iotc_endpoint_mqtt_sess *s)
{
    if (s->subscriptions)
        return true;
    if (!(s->subscriptions = json_object()))
        return false;
    /* Not over a newer connection's set (a SUBACK racing a takeover). */
    json_t *map = s->c->ep->session_subs;
    if (s->client_id && map && !json_object_get(map, s->client_id))
        json_object_set(map, s->client_id, s->subscriptions);
    return true;
}

bool iotc_ms_subscription_event(struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_frame *f,
                                const uint8_t *pkt)
{
    struct iotc_mqtt_suback *sa = malloc(sizeof *sa), *full = NULL;
    bool sent = false;
    if (!sa || iotc_mqtt_suback_parse(pkt, f->total, s->version, sa) != IOTC_OK)
        goto cleanup;
    char key[8];
    snprintf(key, sizeof key, "%u", sa->packet_id);
    json_t *entry = json_object_get(s->pending_subs, key);
    if (!entry)
        goto cleanup;
    json_t *filters = json_object_get(entry, "filters"),
           *refused = json_object_get(entry, "refused");
    json_t *granted = json_array();
    bool spliced = false;
    full = malloc(sizeof *full);
    if (full) {
        *full = *sa;
        full->count = 0;
    }
    /* A 3.1.1 UNSUBACK has no codes: every filter of the UNSUBSCRIBE counts. */
    bool all = f->type == IOTC_MQTT_UNSUBACK && sa->count == 0;
    for (size_t i = 0, b = 0; i < json_array_size(filters) && i < IOTC_MQTT_SUB_MAX_FILTERS; i++) {
        uint8_t code;
        json_int_t own = json_integer_value(json_array_get(refused, i));
        if (own) {
            code = (uint8_t)own;
            spliced = true;
        } else {
            code = b < sa->count ? sa->codes[b++] : 0;
            if (all || code < 0x80) {
                json_t *flt = json_array_get(filters, i);
                json_array_append(granted, flt);
                if (f->type == IOTC_MQTT_SUBACK && ms__subs_own(s))
                    json_object_set_new(s->subscriptions, json_string_value(flt), json_true());
                else
                    json_object_del(s->subscriptions, json_string_value(flt));
            }
        }
        if (full)
            full->codes[full->count++] = code;
    }
    if (f->type == IOTC_MQTT_SUBACK) { /* the retained messages that follow are this SUBSCRIBE's */
        json_decref(s->retain_filters);
        s->retain_filters = json_incref(granted);
    }
    if (json_array_size(granted))
        iotc_lifecycle_subscriptions(s->c->ep->lifecycle, f->type == IOTC_MQTT_SUBACK, s->client_id,
                                     s->session_id, iotc_conn_principal(s->c), granted);
    if (json_array_size(granted))
        ms__subs_share(s);
    json_decref(granted);
    json_object_del(s->pending_subs, key);
    if (spliced && full && f->type == IOTC_MQTT_SUBACK) {
        iotc_buf_reset(&s->out);
        if (iotc_mqtt_suback_encode(&s->out, s->version, full) == IOTC_OK) {
            iotc_ms_send_client(s, s->out.p, s->out.len);
            sent = true;
        }
    }
cleanup:
    free(full);
    free(sa);
    return sent;
}

/*
 * mosquitto keeps a persistent session's subscriptions across connections; the
 * endpoint must know them too, or it cannot apply AWS's matching (handle_publish.c,
 * '#' and the parent level) to what a resumed session receives. The set lives in
 * ep->session_subs under the client ID and is the same object as the live
 * connection's s->subscriptions. The broker's session_present decides: a resumed
 * session takes the stored set, a fresh one replaces it.
 */
void iotc_ms_subs_bind(struct iotc_endpoint_mqtt_sess *s, bool session_present)
{
    json_t *map = s->c->ep->session_subs;
    if (!s->client_id || !map)
        return;
    json_t *known = json_object_get(map, s->client_id);
    if (iotc_ep_shared_on(s->c->ep)) {
        /* The shared copy is the newest: the session may have been on another worker. */
        json_t *shared = session_present ? ms__subs_shared(s) : NULL;
        if (shared) {
            json_object_set_new(map, s->client_id, shared);
            known = shared;
        } else if (!session_present) {
            char key[300];
            ms__subs_key(s, key, sizeof key);
            iotc_ep_shared_cache_put(s->c->ep, key, 0, "{}");
        }
    }
    if (session_present && known && known != s->subscriptions) {
        /* this connection's own SUBSCRIBEs cannot have been answered yet */
        json_decref(s->subscriptions);
        s->subscriptions = json_incref(known);
        return;
    }
    if (!session_present || !known) {
        if (s->subscriptions)
            json_object_set(map, s->client_id, s->subscriptions);
        else
            json_object_del(map, s->client_id); /* a fresh session has none yet */
    }
}

void iotc_ms_subs_release(struct iotc_endpoint_mqtt_sess *s)
{
    json_t *map = s->c->ep->session_subs;
    /* Only this connection's own set: a newer connection may have replaced it. */
    if (s->client_id && map && !ms__persistent(s->c) &&
        json_object_get(map, s->client_id) == s->subscriptions)
        json_object_del(map, s->client_id);
}
