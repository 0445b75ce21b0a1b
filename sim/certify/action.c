/*
 * Runner actions: things the certify runner itself does to the device's session while a
 * case runs, when the journal shows their trigger. "takeover" (after the device's first
 * SUBACK): connect with the device's client id and clean session 0, which makes the
 * endpoint close the device's connection (duplicate client id) while the broker keeps
 * the session; leave; optionally queue a QoS 1 message for the offline session.
 * "outage" is carried out by the case loop (run.c). The runner's connections use their
 * own certificate and their local ports are recorded so judges ignore them.
 */
#include <arpa/inet.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cert_int.h"
#include "common/clock.h"
#include "common/jevents.h"
#include "config/paths.h"

static const char *const action__keys[] = {
    "do", "after", "publish_bytes", "after_ms", "outage_ms", "cert", NULL};

int iotc_certify_action_check(json_t *a, iotc_errtext *err)
{
    const char *k, *what;
    json_t *v;
    if (!json_is_object(a)) {
        return iotc_errtext_set(err, -1, "must be an object");
    }
    json_object_foreach(a, k, v)
    {
        size_t i = 0;
        while (action__keys[i] && strcmp(action__keys[i], k) != 0)
            i++;
        if (!action__keys[i]) {
            return iotc_errtext_set(err, -1, "unknown key \"%s\"", k);
        }
    }
    what = json_string_value(json_object_get(a, "do"));
    if (!what || (strcmp(what, "takeover") != 0 && strcmp(what, "outage") != 0)) {
        return iotc_errtext_set(err, -1, "\"do\" must be \"takeover\" or \"outage\"");
    }
    if (strcmp(what, "outage") == 0 && (!json_is_integer(json_object_get(a, "after_ms")) ||
                                        !json_is_integer(json_object_get(a, "outage_ms")))) {
        return iotc_errtext_set(err, -1, "an outage needs integer \"after_ms\" and \"outage_ms\"");
    }
    if (strcmp(what, "takeover") == 0) {
        const char *after = json_string_value(json_object_get(a, "after"));
        if (!after || strcmp(after, "suback") != 0) {
            return iotc_errtext_set(err, -1, "a takeover needs \"after\": \"suback\"");
        }
    }
    return 0;
}

typedef struct action__client {
    struct mosquitto *m;
    int connected, published, rc;
} action__client;

static void action__on_connect(struct mosquitto *m, void *u, int rc)
{
    action__client *c = u;
    (void)m;
    c->rc = rc;
    c->connected = rc == 0 ? 1 : -1;
}

static void action__on_publish(struct mosquitto *m, void *u, int mid)
{
    action__client *c = u;
    (void)m;
    (void)mid;
    c->published = 1;
}

static int action__wait(action__client *c, int *flag, long ms)
{
    long end = iotc_clock_ms() + ms;
    while (*flag == 0 && iotc_clock_ms() < end)
        if (mosquitto_loop(c->m, 50, 1) != MOSQ_ERR_SUCCESS)
            break;
    return *flag == 1 ? 0 : -1;
}

static long action__local_port(struct mosquitto *m)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = mosquitto_socket(m);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Connects (clean as given), optionally publishes, disconnects. */
static int action__client_run(const iotc_certify_endpoint *ep, const char *cert,
                              const char *client_id, bool clean, const char *topic, long bytes,
                              iotc_certify_action_state *st, iotc_errtext *err)
{
    char ca[1200], crt[1200], key[1200];
    action__client c = {0};
    int rc = -1;
    iotc_paths_pki_file(ca, sizeof(ca), ep->pki_dir, IOTC_PKI_CA_BUNDLE, "");
    iotc_paths_pki_file(crt, sizeof(crt), ep->pki_dir, cert, IOTC_PKI_CERT_EXT);
    iotc_paths_pki_file(key, sizeof(key), ep->pki_dir, cert, IOTC_PKI_KEY_EXT);
    c.m = mosquitto_new(client_id, clean, &c);
    if (!c.m) {
        return iotc_errtext_set(err, -1, "mosquitto_new failed");
    }
    mosquitto_connect_callback_set(c.m, action__on_connect);
    mosquitto_publish_callback_set(c.m, action__on_publish);
    if (mosquitto_tls_set(c.m, ca, NULL, crt, key, NULL) != MOSQ_ERR_SUCCESS ||
        mosquitto_connect(c.m, ep->host, ep->port_8883, 30) != MOSQ_ERR_SUCCESS) {
        iotc_errtext_set(err, 0, "cannot connect to the endpoint as %s", client_id);
        goto cleanup;
    }
    long port = action__local_port(c.m);
    if (port > 0 && st->n_runner_ports < sizeof(st->runner_ports) / sizeof(st->runner_ports[0]))
        st->runner_ports[st->n_runner_ports++] = port;
    if (action__wait(&c, &c.connected, 5000) != 0) {
        iotc_errtext_set(err, 0, "no CONNACK for %s (rc %d)", client_id, c.rc);
        goto cleanup;
    }
    if (topic && bytes >= 0) {
        char *payload = malloc((size_t)bytes + 1);
        if (!payload)
            goto cleanup;
        memset(payload, 'q', (size_t)bytes);
        int prc = mosquitto_publish(c.m, NULL, topic, (int)bytes, payload, 1, false);
        free(payload);
        if (prc != MOSQ_ERR_SUCCESS || action__wait(&c, &c.published, 5000) != 0) {
            iotc_errtext_set(err, 0, "the QoS 1 message to %s was not acknowledged", topic);
            goto cleanup;
        }
    }
    mosquitto_disconnect(c.m);
    mosquitto_loop(c.m, 50, 1);
    rc = 0;
cleanup:
    mosquitto_destroy(c.m);
    return rc;
}

/* The device's first SUBACK: its client id and its first subscribed filter. */
static int action__suback(json_t *lines, const iotc_certify_action_state *st, char *cid,
                          size_t cidlen, char *filter, size_t flen)
{
    size_t i;
    json_t *e;
    long conn = -1;
    json_array_foreach(lines, i, e)
    {
        const char *ev = json_string_value(json_object_get(e, IOTC_JF_EVENT));
        const char *ty = json_string_value(json_object_get(e, IOTC_JF_TYPE));
        long pp = (long)json_integer_value(json_object_get(e, IOTC_JF_PEER_PORT));
        bool runner = false;
        for (size_t r = 0; r < st->n_runner_ports; r++)
            runner |= st->runner_ports[r] == pp;
        if (!ev || !ty || runner)
            continue;
        if (strcmp(ev, IOTC_EV_MQTT_IN) == 0 && strcmp(ty, "SUBSCRIBE") == 0 && conn < 0) {
            json_t *f = json_array_get(json_object_get(e, IOTC_JF_FILTERS), 0);
            snprintf(filter, flen, "%s",
                     json_string_value(json_object_get(f, IOTC_JF_FILTER)) ?: "");
            conn = (long)json_integer_value(json_object_get(e, IOTC_JF_CONN));
        }
        if (strcmp(ev, IOTC_EV_MQTT_OUT) == 0 && strcmp(ty, "SUBACK") == 0 && conn >= 0 &&
            json_integer_value(json_object_get(e, IOTC_JF_CONN)) == conn) {
            snprintf(cid, cidlen, "%s",
                     json_string_value(json_object_get(e, IOTC_JF_CLIENT_ID)) ?: "");
            return 0;
        }
    }
    return -1;
}

void iotc_certify_actions_step(const iotc_certify_case *c, const iotc_certify_endpoint *ep,
                               json_t *lines, iotc_certify_action_state *st)
{
    size_t i;
    json_t *a;
    json_array_foreach(c->actions, i, a)
    {
        char cid[200], filter[256], cid2[300];
        iotc_errtext err = {0};
        const char *what = json_string_value(json_object_get(a, "do"));
        const char *cert = json_string_value(json_object_get(a, "cert"));
        if (i >= sizeof(st->done) || st->done[i] || strcmp(what, "takeover") != 0)
            continue;
        if (action__suback(lines, st, cid, sizeof(cid), filter, sizeof(filter)) != 0)
            continue;
        /* The takeover is a second device with the client ID: on AWS it too waits a second
         * after the device's CONNECT was answered, or the quota refuses it. */
        if (!st->due_ms[i]) {
            double wait = 1000.0 * (ep->time_scale > 0 ? ep->time_scale : 1.0);
            st->due_ms[i] = iotc_clock_ms() + (long long)wait;
        }
        if (iotc_clock_ms() < st->due_ms[i])
            continue;
        st->done[i] = true;
        if (!cert)
            cert = "device-04";
        if (action__client_run(ep, cert, cid, false, NULL, -1, st, &err) != 0) {
            snprintf(st->note, sizeof(st->note), "takeover failed: %.199s", err.msg);
            continue;
        }
        json_t *pb = json_object_get(a, "publish_bytes");
        if (json_is_integer(pb)) {
            if (strpbrk(filter, "+#")) {
                snprintf(st->note, sizeof(st->note),
                         "takeover done; no message queued: the device's filter %s has wildcards",
                         filter);
                continue;
            }
            snprintf(cid2, sizeof(cid2), "%s-feeder", cid);
            if (action__client_run(ep, cert, cid2, true, filter, (long)json_integer_value(pb), st,
                                   &err) != 0) {
                snprintf(st->note, sizeof(st->note), "takeover done; queuing failed: %.199s",
                         err.msg);
                continue;
            }
        }
        snprintf(st->note, sizeof(st->note), "took over client id %s%s", cid,
                 json_is_integer(pb) ? " and queued a QoS 1 message for it" : "");
    }
}
