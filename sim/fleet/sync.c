/*
 * The start barrier of a synchronized fleet: publishing starts together, so no message
 * is published before its receiver (on this shard or another one) has subscribed.
 *
 * Over MQTT itself, so it needs nothing but the endpoint the devices use (emulated or
 * AWS IoT Core): each shard's sync client subscribes to fleet/<run>/sync/+ and, once
 * every device of its shard is subscribed, publishes "ready" on fleet/<run>/sync/<k>
 * every SYNC_EVERY_MS (longer with many shards) until the run ends; publishing starts when all N
 * are seen. Not a retained message: AWS IoT Core does not send retained messages to a subscription
 * with a wildcard (the emulator withholds them too, journal mqtt.withheld), and one exact
 * subscription per shard would hit the 50-subscriptions-per-connection quota. Repeating
 * means a late shard hears the early ones within SYNC_EVERY_MS of subscribing. The run
 * tag is unique per run (a Kubernetes Job's uid), so another run's shards never count.
 */
#include "fleet_int.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

/* Every shard's client hears every shard's announcements: at most ~50 a second in all,
 * half AWS IoT Core's 100 publishes per second per connection. */
#define SYNC_EVERY_MS     500
#define SYNC_PER_SHARD_MS 20

struct iotc_fleet_sync {
    struct iotc_fleet_dev *dev;
    SSL_CTX *ctx;
    char topic[160];     /* this shard's */
    unsigned char *seen; /* by shard index - 1 */
    unsigned n_seen;
    bool local_ready;
    uint64_t t_ready_us, t_released_us, t_sent_us;
};

/* The sync client's certificate: the first X.509 identity of the spec, else the first
 * HTTPS monitor's, else device-01 (the door rows have no certificate of their own). */
static const char *sync__identity(const struct iotc_fleet_spec *s)
{
    for (size_t r = 0; r < s->n_rows; r++)
        if (s->rows[r].def->auth == IOTC_AUTH_X509 && s->rows[r].n_identities)
            return s->rows[r].identities[0].name;
    for (size_t r = 0; r < s->n_rows; r++)
        if (s->rows[r].monitor_identity)
            return s->rows[r].monitor_identity;
    return "device-01";
}

int iotc_fleet_sync_setup(struct iotc_fleet *fl, struct iotc_fleet_dev *d, iotc_errtext *err)
{
    struct iotc_fleet_sync *y = calloc(1, sizeof *y);
    char cid[160], filter[160];
    if (!y)
        return IOTC_ERR_NOMEM;
    fl->sync = y;
    y->dev = d;
    y->seen = calloc((size_t)fl->shard.n, 1);
    y->ctx = iotc_fleet_tls_ctx_new(&fl->spec->target, sync__identity(fl->spec), err);
    if (!y->seen || !y->ctx)
        return y->seen ? IOTC_ERR_CRYPTO : IOTC_ERR_NOMEM;
    snprintf(cid, sizeof cid, "fleet-sync-%s-%d", fl->run_tag, fl->shard.k);
    snprintf(filter, sizeof filter, "fleet/%s/sync/+", fl->run_tag);
    snprintf(y->topic, sizeof y->topic, "fleet/%s/sync/%d", fl->run_tag, fl->shard.k);
    d->client_id = strdup(cid);
    d->sub_topic = strdup(filter);
    d->topic = strdup(y->topic);
    if (!d->client_id || !d->sub_topic || !d->topic)
        return IOTC_ERR_NOMEM;
    if (strlen(d->client_id) > IOTC_FLEET_CLIENTID_MAX) {
        return iotc_errtext_set(err, IOTC_ERR_LIMIT, "run tag too long for a client ID (%s)",
                                d->client_id);
    }
    return IOTC_OK;
}

void iotc_fleet_sync_free(struct iotc_fleet *fl)
{
    if (!fl->sync)
        return;
    SSL_CTX_free(fl->sync->ctx);
    free(fl->sync->seen);
    free(fl->sync);
    fl->sync = NULL;
}

SSL_CTX *iotc_fleet_sync_ctx(const struct iotc_fleet *fl)
{
    return fl->sync ? fl->sync->ctx : NULL;
}

static void sync__announce(struct iotc_fleet *fl, bool now)
{
    struct iotc_fleet_sync *y = fl->sync;
    uint64_t t = iotc_clock_us(), every_ms = SYNC_PER_SHARD_MS * (uint64_t)fl->shard.n;
    if (every_ms < SYNC_EVERY_MS)
        every_ms = SYNC_EVERY_MS;
    if (!y->local_ready || !y->dev->subscribed || y->dev->state != IOTC_FLEET_DEV_UP ||
        (!now && t - y->t_sent_us < every_ms * 1000))
        return;
    if (iotc_fleet_mqtt_send_raw(y->dev, y->topic, "ready", 5, 0, false) == IOTC_OK)
        y->t_sent_us = t;
}

void iotc_fleet_sync_on_suback(struct iotc_fleet_dev *d)
{
    sync__announce(d->fl, true);
}

void iotc_fleet_sync_on_publish(struct iotc_fleet_dev *d, const struct iotc_mqtt_publish *p)
{
    struct iotc_fleet *fl = d->fl;
    struct iotc_fleet_sync *y = fl->sync;
    /* fleet/<run>/sync/<k>: the part after the last '/' is the shard index. */
    const uint8_t *t = p->topic.p;
    size_t n = p->topic.n, i = n;
    while (i > 0 && t[i - 1] != '/')
        i--;
    unsigned k = 0;
    if (i == n || n - i > 4)
        return;
    for (size_t j = i; j < n; j++) {
        if (t[j] < '0' || t[j] > '9')
            return;
        k = k * 10 + (unsigned)(t[j] - '0');
    }
    if (k < 1 || k > (unsigned)fl->shard.n || y->seen[k - 1])
        return;
    y->seen[k - 1] = 1;
    if (++y->n_seen == (unsigned)fl->shard.n)
        y->t_released_us = iotc_clock_us();
}

void iotc_fleet_sync_local_ready(struct iotc_fleet *fl)
{
    if (!fl->sync || fl->sync->local_ready)
        return;
    fl->sync->local_ready = true;
    fl->sync->t_ready_us = iotc_clock_us();
    sync__announce(fl, true);
}

bool iotc_fleet_sync_released(const struct iotc_fleet *fl)
{
    return !fl->sync || fl->sync->n_seen == (unsigned)fl->shard.n;
}

void iotc_fleet_sync_tick(struct iotc_fleet *fl)
{
    /* Until the end, not only until this shard is released: a later shard still needs
     * to hear this one. */
    if (fl->sync && !fl->stopping)
        sync__announce(fl, false);
}

json_t *iotc_fleet_sync_json(const struct iotc_fleet *fl)
{
    const struct iotc_fleet_sync *y = fl->sync;
    if (!y)
        return json_null();
    double waited = y->t_ready_us && y->t_released_us > y->t_ready_us
                        ? (double)(y->t_released_us - y->t_ready_us) / 1e6
                        : 0;
    return json_pack("{s:b, s:i, s:i, s:f}", "released", y->n_seen == (unsigned)fl->shard.n,
                     "shards_seen", (int)y->n_seen, "shards", fl->shard.n, "waited_s", waited);
}
