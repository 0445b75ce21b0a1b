/* Token buckets for AWS IoT Core's message-broker quotas (throttle.h). */
#include "throttle.h"
#include "conn.h"
#include "wshared.h"
#include "common/clock.h"
#include "common/jevents.h"
#include "common/strmap.h"

#include <stdlib.h>
#include <string.h>

/* Distinct client IDs remembered at once. Entries leave when their bucket is full again
 * (after one device second at 1 CONNECT/s); only more than this many distinct IDs connecting
 * within that second evicts a live one early, and the per-account CONNECT limit (500/s
 * by default) keeps a real fleet far below it. */
#define THR_MAX_IDS 65536

struct thr_id {
    char *id;
    struct iotc_bucket b;
    struct thr_id *prev, *next; /* least recently touched first */
};

struct iotc_throttle_ep {
    struct iotc_bucket connects, publishes; /* the account's */
    struct iotc_strmap *ids;
    struct thr_id *head, *tail;
    size_t n;
};

bool iotc_bucket_take(struct iotc_bucket *b, double rate, double cost, double now_ms)
{
    if (rate <= 0)
        return true;
    double cap = rate > cost ? rate : cost; /* one packet larger than a second's worth passes */
    if (b->last_ms == 0)
        b->tokens = cap;
    else if (now_ms > b->last_ms)
        b->tokens += (now_ms - b->last_ms) * rate / 1000.0;
    if (b->tokens > cap)
        b->tokens = cap;
    b->last_ms = now_ms;
    if (b->tokens < cost)
        return false;
    b->tokens -= cost;
    return true;
}

struct iotc_throttle_ep *iotc_throttle_ep_new(void)
{
    struct iotc_throttle_ep *t = calloc(1, sizeof *t);
    if (t && !(t->ids = iotc_strmap_new())) {
        free(t);
        t = NULL;
    }
    return t;
}

static void thr__unlink(struct iotc_throttle_ep *t, struct thr_id *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        t->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        t->tail = e->prev;
    e->prev = e->next = NULL;
}

static void thr__append(struct iotc_throttle_ep *t, struct thr_id *e)
{
    e->prev = t->tail;
    if (t->tail)
        t->tail->next = e;
    else
        t->head = e;
    t->tail = e;
}

static void thr__drop(struct iotc_throttle_ep *t, struct thr_id *e)
{
    thr__unlink(t, e);
    iotc_strmap_del_if(t->ids, e->id, e);
    free(e->id);
    free(e);
    t->n--;
}

void iotc_throttle_ep_free(struct iotc_throttle_ep *t)
{
    if (!t)
        return;
    while (t->head)
        thr__drop(t, t->head);
    iotc_strmap_free(t->ids);
    free(t);
}

/* The bucket of one client ID, created full; expired entries go first. NULL: no memory
 * (the connect is then not throttled by its client ID: failing open keeps devices up). */
static struct iotc_bucket *thr__id_bucket(struct iotc_throttle_ep *t, const char *id, double now)
{
    while (t->head && (now - t->head->b.last_ms >= 1000.0 || t->n >= THR_MAX_IDS))
        thr__drop(t, t->head);
    struct thr_id *e = iotc_strmap_get(t->ids, id);
    if (e) {
        thr__unlink(t, e);
        thr__append(t, e);
        return &e->b;
    }
    if (!(e = calloc(1, sizeof *e)) || !(e->id = strdup(id)) ||
        iotc_strmap_put(t->ids, id, e) != 0) {
        if (e)
            free(e->id);
        free(e);
        return NULL;
    }
    thr__append(t, e);
    t->n++;
    return &e->b;
}

static void thr__journal(struct iotc_conn *c, const char *limit, long long value,
                         const char *client_id)
{
    iotc_conn_emit(c, IOTC_EV_MQTT_THROTTLED,
                   json_pack("{s:s, s:I, s:s?}", IOTC_JF_LIMIT, limit, "per_second",
                             (json_int_t)value, "client_id", client_id));
}

/* The account's PUBLISH bucket: the workers' shared one (wshared.h), else this process's. */
static bool throttle__account_publish(struct iotc_endpoint *ep, double rate, double now)
{
    bool handled, ok = iotc_ep_shared_publish(ep, rate, now, &handled);
    return handled ? ok : iotc_bucket_take(&ep->throttle->publishes, rate, 1, now);
}

const char *iotc_throttle_publish(struct iotc_conn *c, const char *client_id, size_t packet_bytes)
{
    const struct iotc_limits *lim = &c->ep->profile.limits;
    struct iotc_throttle_conn *tc = &c->sess.throttle;
    double now = iotc_mono_ms();
    const char *limit = NULL;
    long long v = 0;
    /* The connection's own limits first: one device over its quota does not use up the
     * account's. */
    if (!iotc_bucket_take(&tc->publish, (double)lim->publish_per_s, 1, now))
        limit = "publish_per_s", v = lim->publish_per_s;
    else if (!iotc_bucket_take(&tc->bytes, (double)lim->throughput_bytes_per_s,
                               (double)packet_bytes, now))
        limit = "throughput_bytes_per_s", v = lim->throughput_bytes_per_s;
    else if (!throttle__account_publish(c->ep, (double)lim->account_publish_per_s, now))
        limit = "account_publish_per_s", v = lim->account_publish_per_s;
    if (limit)
        thr__journal(c, limit, v, client_id);
    return limit;
}

const char *iotc_throttle_connect(struct iotc_conn *c, const char *client_id)
{
    const struct iotc_limits *lim = &c->ep->profile.limits;
    struct iotc_throttle_ep *t = c->ep->throttle;
    double now = iotc_mono_ms();
    /* The per-client-ID quota is what a device's minimum reconnect delay answers, a device
     * timer: on the devices' clock its second lasts device_time_scale seconds, and the
     * bucket still holds one (device) second's worth. The other quotas are capacity and
     * run on the wall clock. */
    double scale = c->ep->device_time_scale > 0 ? c->ep->device_time_scale : 1.0;
    double id_now = now / scale;
    const char *limit = NULL;
    long long v = 0;
    bool shared;
    limit = iotc_ep_shared_connect(c->ep, client_id, (double)lim->connect_per_s_per_client_id,
                                   id_now, (double)lim->account_connect_per_s, now, &shared);
    if (shared) {
        if (limit)
            thr__journal(c, limit,
                         strcmp(limit, "account_connect_per_s") == 0
                             ? lim->account_connect_per_s
                             : lim->connect_per_s_per_client_id,
                         client_id);
        return limit;
    }
    struct iotc_bucket *b =
        lim->connect_per_s_per_client_id > 0 ? thr__id_bucket(t, client_id, id_now) : NULL;
    /* The client ID's bucket first; when the account's then refuses, the client ID gets
     * its token back, so a refused connect costs neither. */
    if (b && !iotc_bucket_take(b, (double)lim->connect_per_s_per_client_id, 1, id_now))
        limit = "connect_per_s_per_client_id", v = lim->connect_per_s_per_client_id;
    else if (!iotc_bucket_take(&t->connects, (double)lim->account_connect_per_s, 1, now)) {
        limit = "account_connect_per_s", v = lim->account_connect_per_s;
        if (b)
            b->tokens += 1; /* give the client ID its token back */
    }
    if (limit)
        thr__journal(c, limit, v, client_id);
    return limit;
}

bool iotc_throttle_closes(struct iotc_conn *c, const char *limit)
{
    const struct iotc_limits *lim = &c->ep->profile.limits;
    if (!limit || strcmp(limit, "account_publish_per_s") == 0)
        return false;
    return !iotc_bucket_take(&c->sess.throttle.refused, (double)lim->throttle_close_per_s, 1,
                             iotc_mono_ms());
}
