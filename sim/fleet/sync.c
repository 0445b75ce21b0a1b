/*
 * The start barrier of a synchronized fleet: publishing starts together, so no message
 * is published before its receiver (on this shard or another one) has subscribed.
 *
 * Over MQTT itself, so it needs nothing but the endpoint the devices use (emulated or
 * AWS IoT Core: retained messages are supported there): each shard's sync client
 * subscribes to fleet/<run>/sync/+ and, once every device of its shard is subscribed,
 * publishes a retained "ready" on fleet/<run>/sync/<k>. A shard that comes late still
 * sees the others' retained messages when it subscribes; a shard that comes early sees
 * the late ones live. Publishing starts when all N are seen. The run tag is unique per
 * run (a Kubernetes Job's uid), so old retained messages never match; each shard
 * clears its own at the end anyway.
 */
#include "fleet_int.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

struct fleet_sync {
    struct fleet_dev *dev;
    SSL_CTX *ctx;
    char topic[160];     /* this shard's */
    unsigned char *seen; /* by shard index - 1 */
    unsigned n_seen;
    bool local_ready, sent;
    uint64_t t_ready_us, t_released_us;
};

/* The sync client's certificate: the first X.509 identity of the spec, else the first
 * HTTPS monitor's, else device-01 (the door rows have no certificate of their own). */
static const char *sync__identity(const struct fleet_spec *s)
{
    for (size_t r = 0; r < s->n_rows; r++)
        if (s->rows[r].def->auth == IOTC_AUTH_X509 && s->rows[r].n_identities)
            return s->rows[r].identities[0].name;
    for (size_t r = 0; r < s->n_rows; r++)
        if (s->rows[r].monitor_identity)
            return s->rows[r].monitor_identity;
    return "device-01";
}

int fleet_sync_setup(struct fleet *fl, struct fleet_dev *d, char *err, size_t errlen)
{
    struct fleet_sync *y = calloc(1, sizeof *y);
    char cid[160], filter[160];
    if (!y)
        return IOTC_ERR_NOMEM;
    fl->sync = y;
    y->dev = d;
    y->seen = calloc((size_t)fl->shard.n, 1);
    y->ctx = fleet_tls_ctx_new(&fl->spec->target, sync__identity(fl->spec), err, errlen);
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
    if (strlen(d->client_id) > FLEET_CLIENTID_MAX) {
        snprintf(err, errlen, "run tag too long for a client ID (%s)", d->client_id);
        return IOTC_ERR_LIMIT;
    }
    return IOTC_OK;
}

void fleet_sync_free(struct fleet *fl)
{
    if (!fl->sync)
        return;
    SSL_CTX_free(fl->sync->ctx);
    free(fl->sync->seen);
    free(fl->sync);
    fl->sync = NULL;
}

SSL_CTX *fleet_sync_ctx(const struct fleet *fl)
{
    return fl->sync ? fl->sync->ctx : NULL;
}

static void sync__announce(struct fleet *fl)
{
    struct fleet_sync *y = fl->sync;
    if (y->sent || !y->local_ready || !y->dev->subscribed || y->dev->state != DEV_UP)
        return;
    if (fleet_mqtt_send_raw(y->dev, y->topic, "ready", 5, 1, true) == IOTC_OK)
        y->sent = true;
}

void fleet_sync_on_suback(struct fleet_dev *d)
{
    /* A reconnect re-subscribes and the retained messages come again: announce once. */
    sync__announce(d->fl);
}

void fleet_sync_on_publish(struct fleet_dev *d, const struct mqtt_publish *p)
{
    struct fleet *fl = d->fl;
    struct fleet_sync *y = fl->sync;
    /* fleet/<run>/sync/<k>: the part after the last '/' is the shard index. */
    const uint8_t *t = p->topic.p;
    size_t n = p->topic.n, i = n;
    while (i > 0 && t[i - 1] != '/')
        i--;
    unsigned k = 0;
    if (i == n || n - i > 4 || p->payload.n == 0) /* empty: a shard clearing its message */
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

void fleet_sync_local_ready(struct fleet *fl)
{
    if (!fl->sync || fl->sync->local_ready)
        return;
    fl->sync->local_ready = true;
    fl->sync->t_ready_us = iotc_clock_us();
    sync__announce(fl);
}

bool fleet_sync_released(const struct fleet *fl)
{
    if (!fl->sync)
        return true;
    sync__announce((struct fleet *)fl); /* the sync client may have come back since */
    return fl->sync->n_seen == (unsigned)fl->shard.n;
}

void fleet_sync_goodbye(struct fleet *fl)
{
    struct fleet_sync *y = fl->sync;
    if (y && y->sent && y->dev->state == DEV_UP)
        fleet_mqtt_send_raw(y->dev, y->topic, "", 0, 0, true);
}

json_t *fleet_sync_json(const struct fleet *fl)
{
    const struct fleet_sync *y = fl->sync;
    if (!y)
        return json_null();
    double waited = y->t_ready_us && y->t_released_us > y->t_ready_us
                        ? (double)(y->t_released_us - y->t_ready_us) / 1e6
                        : 0;
    return json_pack("{s:b, s:i, s:i, s:f}", "released", y->n_seen == (unsigned)fl->shard.n,
                     "shards_seen", (int)y->n_seen, "shards", fl->shard.n, "waited_s", waited);
}
