/*
 * The session driver: runs client.steps, a short script over named connections,
 * and records what each step saw under observed.steps.<label> (label = the step's
 * "id", else its connection's name). The judge compares expect.steps against it.
 * Strings may use {topic} (this case's unique topic) and {cid:NAME} (the client
 * id connection NAME used). Every wait is bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "driver.h"
#include "mqtt/mqtt.h"
#include "sess.h"

/* payload_size of an http_publish: room for the 128 KB limit cases, no more. */
#define SESSION__HTTP_PAYLOAD_MAX (256 * 1024)

/* {topic} and {cid:NAME} filled in; unknown placeholders stay as written. */
void iotc_runner_sess_fill(iotc_runner_sess *s, const char *in, char *out, size_t len)
{
    size_t o = 0;
    while (*in && o + 1 < len) {
        const char *end = *in == '{' ? strchr(in, '}') : NULL;
        const char *val = NULL;
        char gen[200];
        if (end && (size_t)(end - in) == 6 && strncmp(in, "{topic}", 7) == 0) {
            val = s->topic;
        } else if (end && strncmp(in, "{cid:", 5) == 0) {
            char name[32];
            snprintf(name, sizeof(name), "%.*s", (int)(end - in - 5), in + 5);
            iotc_runner_sess_conn *k = iotc_runner_sess_conn_get(s, name, 0);
            /* Not opened yet: the id it will get by default (a watcher subscribes first). */
            if (k && k->client_id[0])
                val = k->client_id;
            else
                iotc_drv_client_id(s->env, s->idx, name, s->c, gen, sizeof(gen));
            if (!val)
                val = gen;
        }
        if (!val) {
            out[o++] = *in++;
            continue;
        }
        o += (size_t)snprintf(out + o, len - o, "%s", val);
        if (o >= len)
            o = len - 1;
        in = end + 1;
    }
    out[o] = '\0';
}

json_t *iotc_runner_sess_untemplate(const iotc_runner_sess *s, const char *topic)
{
    size_t n = strlen(s->topic);
    if (n && strncmp(topic, s->topic, n) == 0) {
        char out[1100];
        snprintf(out, sizeof(out), "{topic}%s", topic + n);
        return json_string(out);
    }
    return json_string(topic);
}

static const char *session__str(json_t *step, const char *key)
{
    return json_string_value(json_object_get(step, key));
}

static long session__int(json_t *step, const char *key, long def)
{
    json_t *v = json_object_get(step, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : def;
}

/* The step's observation object: observed.steps[label], created on first use. */
static json_t *session__obs(iotc_runner_sess *s, json_t *step, const char *conn)
{
    const char *label = session__str(step, "id");
    if (!label)
        label = conn;
    json_t *o = json_object_get(s->obs, label);
    if (!o) {
        o = json_object();
        json_object_set_new(s->obs, label, o);
    }
    return o;
}

static void session__closed_obs(const iotc_mqtt_session *m, json_t *o)
{
    json_object_set_new(o, "closed", json_boolean(iotc_mqtt_session_closed(m)));
    json_object_set_new(o, "disconnect_reason",
                        m->disconnect_reason >= 0 ? json_integer(m->disconnect_reason)
                                                  : json_null());
}

static void session__sleep(iotc_runner_sess *s, long ms);

/* Waits (pumping the open connections) until client ID id's last CONNECT in this case
 * is IOTC_RUNNER_SESS_CONNECT_SPACING_MS old; other cases run on meanwhile. */
static void session__pace(iotc_runner_sess *s, const char *id)
{
    int64_t last = 0;
    for (size_t i = 0; i < IOTC_RUNNER_SESS_MAX_CONNS; i++) {
        const iotc_runner_sess_conn *k = &s->conns[i];
        if (k->used && k->connect_ms > last && strcmp(k->client_id, id) == 0)
            last = k->connect_ms;
    }
    if (!last)
        return;
    int64_t wait = last + IOTC_RUNNER_SESS_CONNECT_SPACING_MS + IOTC_RUNNER_SESS_CONNECT_MARGIN_MS -
                   iotc_clock_ms();
    if (wait > 0)
        session__sleep(s, (long)wait);
}

static int session__connect(iotc_runner_sess *s, json_t *step, const char *name)
{
    iotc_runner_sess_conn *k = iotc_runner_sess_conn_get(s, name, 1);
    const char *as = session__str(step, "as");
    const char *cid = session__str(step, "client_id");
    long cid_len = session__int(step, "client_id_len", 0);
    json_t *will = json_object_get(step, "will");
    json_t *o;
    char username[2048], wtopic[320], wpayload[256], id[sizeof(k->client_id)];
    struct iotc_mqtt_connect cn;
    struct iotc_buf props = {0};
    iotc_mqtt_session *m;
    int rc;

    if (!k) {
        snprintf(s->out->error, sizeof(s->out->error), "too many connections (at most %d)",
                 IOTC_RUNNER_SESS_MAX_CONNS);
        return IOTC_ERR_CONFIG;
    }
    o = session__obs(s, step, name);
    m = &k->m;
    m->version = (int)session__int(step, "version", 4);
    if (cid) {
        iotc_runner_sess_fill(s, cid, id, sizeof(id));
    } else {
        iotc_drv_client_id(s->env, s->idx, name, s->c, id, sizeof(id));
        /* Unique and exactly cid_len bytes: a limit is checked at its edge. */
        size_t n = strlen(id);
        if (cid_len > 0 && (size_t)cid_len < sizeof(id)) {
            while (n < (size_t)cid_len)
                id[n++] = 'x';
            id[cid_len] = '\0';
        }
    }
    /* Like a device on AWS: a reconnect with the same client ID waits for the ID's
     * CONNECT token; only a throttling case ("pace": false) reconnects sooner. */
    if (!json_is_false(json_object_get(step, "pace")))
        session__pace(s, id);
    snprintf(k->client_id, sizeof(k->client_id), "%s", id);
    rc = iotc_runner_sess_conn_open(s, k, as && strcmp(as, "observer") == 0, username,
                                    sizeof(username), o);
    if (rc != IOTC_OK)
        return rc;
    memset(&cn, 0, sizeof(cn));
    cn.protocol_name = IOTC_SPAN_LIT("MQTT");
    cn.version = (uint8_t)m->version;
    cn.clean_start = !json_is_false(json_object_get(step, "clean"));
    cn.keepalive = (uint16_t)session__int(step, "keepalive", 60);
    cn.client_id = iotc_span_str(k->client_id);
    if (username[0]) {
        cn.has_username = true;
        cn.username = iotc_span_str(username);
    }
    if (m->version == IOTC_MQTT_V5 && json_is_integer(json_object_get(step, "session_expiry"))) {
        struct iotc_mqtt_prop p = {IOTC_MQTT_PROP_SESSION_EXPIRY,
                                   (uint32_t)session__int(step, "session_expiry", 0),
                                   {NULL, 0},
                                   {NULL, 0}};
        iotc_mqtt_props_put(&props, &p);
    }
    cn.props = (struct iotc_span){props.p, props.len};
    if (will) {
        iotc_runner_sess_fill(s,
                              session__str(will, "topic") ? session__str(will, "topic") : "{topic}",
                              wtopic, sizeof(wtopic));
        snprintf(wpayload, sizeof(wpayload), "%s",
                 session__str(will, "payload") ? session__str(will, "payload") : "gone");
        cn.will = true;
        cn.will_topic = iotc_span_str(wtopic);
        cn.will_payload = iotc_span_str(wpayload);
        cn.will_qos = (uint8_t)session__int(will, "qos", 1);
        cn.will_retain = json_is_true(json_object_get(will, "retain"));
    }
    rc = iotc_mqtt_session_connect(m, &cn, iotc_clock_ms() + iotc_drv_timeout_ms(s->c));
    k->connect_ms = iotc_clock_ms(); /* the server took the ID's token before it answered */
    if (rc != IOTC_OK && rc != IOTC_ERR_IO) {
        snprintf(s->out->error, sizeof(s->out->error), "CONNECT for %s cannot be encoded", name);
        goto cleanup;
    }
    json_object_set_new(o, "connect", json_string(m->connack_rc == 0 ? "accepted" : "refused"));
    json_object_set_new(o, "connack_rc",
                        m->connack_rc >= 0 ? json_integer(m->connack_rc) : json_null());
    json_object_set_new(o, "session_present", json_boolean(m->session_present));
    json_object_set_new(o, "server_keep_alive",
                        m->server_keep_alive >= 0 ? json_integer(m->server_keep_alive)
                                                  : json_null());
    json_object_set_new(o, "client_id_len", json_integer((json_int_t)strlen(k->client_id)));
    if (m->version == IOTC_MQTT_V5 && m->connack_rc >= 0)
        json_object_set_new(o, "connack_props", iotc_runner_sess_props_connack(&m->connack_props));
    if (m->connack_rc != 0)
        session__closed_obs(m, o);
    rc = IOTC_OK;
cleanup:
    iotc_buf_free(&props);
    return rc;
}

/* Filters in packets of per_packet; the codes of all packets in order. */
static int session__subscribe(iotc_runner_sess *s, json_t *step, const char *name,
                              iotc_mqtt_session *m)
{
    json_t *filters = json_object_get(step, "filters");
    long count = session__int(step, "count", (long)json_array_size(filters));
    long per = session__int(step, "per_packet", 8);
    int qos = (int)session__int(step, "qos", 1);
    json_t *o = session__obs(s, step, name);
    json_t *codes = json_array();
    struct iotc_mqtt_subscribe *sub = calloc(1, sizeof(*sub));
    char(*names)[320] = calloc(IOTC_MQTT_SUB_MAX_FILTERS, sizeof(*names));
    long granted = 0, failures = 0, sent = 0;
    long subid = session__int(step, "subscription_id", 0);
    struct iotc_buf subprops = {0};

    if (!sub || !names || per < 1 || per > IOTC_MQTT_SUB_MAX_FILTERS) {
        free(sub);
        free(names);
        json_decref(codes);
        snprintf(s->out->error, sizeof(s->out->error), "subscribe: bad per_packet or no memory");
        return IOTC_ERR_CONFIG;
    }
    while (sent < count && !iotc_mqtt_session_closed(m)) {
        memset(sub, 0, sizeof(*sub));
        sub->packet_id = iotc_mqtt_session_pid(m);
        for (long i = 0; i < per && sent < count; i++, sent++) {
            const char *f = json_string_value(json_array_get(filters, (size_t)sent));
            char gen[64];
            if (!f) { /* generated: distinct filters under the case's topic */
                snprintf(gen, sizeof(gen), "{topic}/f%ld", sent);
                f = gen;
            }
            iotc_runner_sess_fill(s, f, names[i], sizeof(names[i]));
            sub->filters[i].filter = iotc_span_str(names[i]);
            sub->filters[i].options = (uint8_t)qos;
            sub->count++;
        }
        if (subid > 0 && m->version == IOTC_MQTT_V5) {
            /* The CONNACK said Subscription Identifiers are not available: this one is
             * sent anyway, to see the refusal. */
            struct iotc_mqtt_prop sp = {
                IOTC_MQTT_PROP_SUBSCRIPTION_ID, (uint32_t)subid, {NULL, 0}, {NULL, 0}};
            iotc_buf_reset(&subprops);
            iotc_mqtt_props_put(&subprops, &sp);
            sub->props = (struct iotc_span){subprops.p, subprops.len};
        }
        iotc_mqtt_session_subscribe(m, sub, iotc_clock_ms() + iotc_drv_timeout_ms(s->c));
        if (m->suback_pid != sub->packet_id)
            break;
        for (int i = 0; i < m->suback_n; i++) {
            json_array_append_new(codes, json_integer(m->suback_codes[i]));
            if (m->suback_codes[i] < 0x80)
                granted++;
            else
                failures++;
        }
    }
    free(sub);
    free(names);
    iotc_buf_free(&subprops);
    json_object_set_new(o, "suback", codes);
    json_object_set_new(o, "granted", json_integer(granted));
    json_object_set_new(o, "failures", json_integer(failures));
    session__closed_obs(m, o);
    return IOTC_OK;
}

static int session__publish(iotc_runner_sess *s, json_t *step, const char *name,
                            iotc_mqtt_session *m)
{
    const char *topic_t = session__str(step, "topic");
    const char *payload_s = session__str(step, "payload");
    long size = session__int(step, "payload_size", -1);
    int qos = (int)session__int(step, "qos", 1);
    json_t *o = session__obs(s, step, name);
    json_t *props_spec = json_object_get(step, "properties");
    char topic[1024], scratch[2048];
    char *payload;
    struct iotc_mqtt_publish p;
    struct iotc_buf props = {0};
    long wait;
    int rc;

    iotc_runner_sess_fill(s, topic_t ? topic_t : "{topic}", topic, sizeof(topic));
    {
        /* A topic of exactly topic_len bytes: limits are checked at their edge. */
        long tl = session__int(step, "topic_len", 0);
        size_t n = strlen(topic);
        if (tl > 0 && (size_t)tl < sizeof(topic) && n < (size_t)tl) {
            memset(topic + n, 'x', (size_t)tl - n);
            topic[tl] = '\0';
        }
    }
    if (size >= 0) {
        payload = malloc((size_t)size + 1);
        if (payload) {
            memset(payload, 'p', (size_t)size);
            payload[size] = '\0';
        }
    } else {
        payload = strdup(payload_s ? payload_s : s->c->id);
        size = payload ? (long)strlen(payload) : 0;
    }
    if (!payload)
        return IOTC_ERR_NOMEM;
    memset(&p, 0, sizeof(p));
    p.qos = (uint8_t)qos;
    p.retain = json_is_true(json_object_get(step, "retain"));
    p.topic = iotc_span_str(topic);
    p.payload = (struct iotc_span){(const uint8_t *)payload, (size_t)size};
    if (qos > 0)
        p.packet_id = iotc_mqtt_session_pid(m);
    if (props_spec && m->version == IOTC_MQTT_V5) {
        if (iotc_runner_sess_props_build(s, props_spec, &props, scratch, sizeof(scratch)) !=
            IOTC_OK) {
            snprintf(s->out->error, sizeof(s->out->error), "publish: properties too large");
            rc = IOTC_ERR_CONFIG;
            goto cleanup;
        }
        p.props = (struct iotc_span){props.p, props.len};
    }
    wait = session__int(step, "within_ms", qos > 0 ? iotc_drv_timeout_ms(s->c) : 0);
    rc = iotc_mqtt_session_publish(m, &p, iotc_clock_ms() + wait);
    if (rc != IOTC_OK && rc != IOTC_ERR_IO) {
        snprintf(s->out->error, sizeof(s->out->error), "PUBLISH cannot be encoded");
        rc = IOTC_ERR_CONFIG;
        goto cleanup;
    }
    rc = IOTC_OK;
    if (qos > 0) {
        json_object_set_new(
            o, "puback",
            json_boolean(iotc_mqtt_session_acked(m->pubacks, m->n_pubacks, p.packet_id)));
        int prc = iotc_mqtt_session_puback_rc(m, p.packet_id);
        /* MQTT 5's answer (0x00 success, 0x97 quota exceeded, 0x87 not authorized ...). */
        json_object_set_new(o, "puback_rc", prc >= 0 ? json_integer(prc) : json_null());
        json_object_set_new(
            o, "pubrec",
            json_boolean(iotc_mqtt_session_acked(m->pubrecs, m->n_pubrecs, p.packet_id)));
    }
    session__closed_obs(m, o);
cleanup:
    iotc_buf_free(&props);
    free(payload);
    return rc;
}

typedef struct session_want {
    const char *topic; /* NULL = any */
    const char *payload;
    size_t from;
    long found;
} session_want;

static long session__find(const iotc_mqtt_session *m, session_want *w)
{
    for (size_t i = w->from; i < m->n_inbox; i++) {
        if (w->topic && strcmp(m->inbox[i].topic, w->topic) != 0)
            continue;
        if (w->payload && strcmp(m->inbox[i].payload, w->payload) != 0)
            continue;
        return (long)i;
    }
    return -1;
}

static int session__done_msg(iotc_mqtt_session *m, const void *arg)
{
    session_want *w = (session_want *)arg;
    w->found = session__find(m, w);
    return w->found >= 0;
}

typedef struct session_count {
    session_want *w;
    long want, n;
} session_count;

/* Whether the inbox holds c->want matching messages (not consumed here). */
static int session__done_count(iotc_mqtt_session *m, const void *arg)
{
    session_count *c = (session_count *)arg;
    session_want w = *c->w;
    long n = 0;
    for (w.from = 0; (w.found = session__find(m, &w)) >= 0; w.from = (size_t)w.found + 1)
        n++;
    return n >= c->want;
}

static void session__receive(iotc_runner_sess *s, json_t *step, const char *name,
                             iotc_mqtt_session *m)
{
    const char *topic_t = session__str(step, "topic");
    char topic[1024], payload[1024];
    session_want w = {NULL, NULL, 0, -1};
    json_t *o = session__obs(s, step, name);

    if (topic_t) {
        iotc_runner_sess_fill(s, topic_t, topic, sizeof(topic));
        w.topic = topic;
    }
    if (session__str(step, "payload")) {
        iotc_runner_sess_fill(s, session__str(step, "payload"), payload, sizeof(payload));
        w.payload = payload;
    }
    long want = session__int(step, "count", 0);
    if (want > 0) {
        /* Counting (shared subscriptions: how the group's messages were spread): wait for
         * want matching messages or within_ms, then consume every match. */
        session_count c = {&w, want, 0};
        iotc_mqtt_session_pump(m, iotc_clock_ms() + session__int(step, "within_ms", 1000),
                               session__done_count, &c);
        long n = 0;
        for (w.from = 0; (w.found = session__find(m, &w)) >= 0; n++)
            iotc_mqtt_session_take(m, (size_t)w.found);
        json_object_set_new(o, "count", json_integer(n));
        json_object_set_new(o, "received", json_boolean(n > 0));
        return;
    }
    w.found = session__find(m, &w);
    if (w.found < 0)
        iotc_mqtt_session_pump(m, iotc_clock_ms() + session__int(step, "within_ms", 1000),
                               session__done_msg, &w);
    json_object_set_new(o, "received", json_boolean(w.found >= 0));
    if (w.found >= 0) {
        const iotc_mqtt_msg *msg = &m->inbox[w.found];
        json_t *j = json_loads(msg->payload, 0, NULL);
        json_object_set_new(o, "qos", json_integer(msg->qos));
        json_object_set_new(o, "retain", json_boolean(msg->retain));
        json_object_set_new(o, "payload_len", json_integer((json_int_t)msg->len));
        json_object_set_new(o, "topic", iotc_runner_sess_untemplate(s, msg->topic));
        iotc_runner_sess_props_publish(msg->props, msg->props_len, o);
        json_t *rt = json_object_get(o, "response_topic");
        if (json_is_string(rt))
            json_object_set_new(o, "response_topic",
                                iotc_runner_sess_untemplate(s, json_string_value(rt)));
        if (json_is_object(j))
            json_object_set(o, "json", j);
        json_decref(j);
        /* Consumed: a second receive waits for a second message. */
        iotc_mqtt_session_take(m, (size_t)w.found);
    }
}

static int session__done_pingresp(iotc_mqtt_session *m, const void *arg)
{
    return m->pingresps >= *(const int *)arg;
}

/* PINGREQ every every_ms for for_ms: a live client is not timed out. */
static void session__ping(iotc_runner_sess *s, json_t *step, const char *name, iotc_mqtt_session *m)
{
    long every = session__int(step, "every_ms", 200);
    long until = iotc_clock_ms() + session__int(step, "for_ms", 1000);
    json_t *o = session__obs(s, step, name);
    int sent = 0;

    while (!iotc_mqtt_session_closed(m) && iotc_clock_ms() < until) {
        struct iotc_buf b = {0};
        long next = iotc_clock_ms() + every;
        if (iotc_mqtt_ping_encode(&b, IOTC_MQTT_PINGREQ) == IOTC_OK &&
            iotc_mqtt_session_send(m, &b) == IOTC_OK)
            sent++;
        iotc_buf_free(&b);
        iotc_mqtt_session_pump(m, next, session__done_pingresp, &sent);
        iotc_mqtt_session_pump(m, next, NULL, NULL);
    }
    json_object_set_new(o, "alive", json_boolean(!iotc_mqtt_session_closed(m)));
    json_object_set_new(o, "pingresps", json_integer(m->pingresps));
}

static void session__wait_closed(iotc_runner_sess *s, json_t *step, const char *name,
                                 iotc_mqtt_session *m)
{
    long t0 = iotc_clock_ms();
    json_t *o = session__obs(s, step, name);
    iotc_mqtt_session_pump(m, t0 + session__int(step, "within_ms", 1000), NULL, NULL);
    session__closed_obs(m, o);
    if (m->closed_at) {
        json_object_set_new(o, "after_ms", json_integer(m->closed_at - t0));
        json_object_set_new(o, "lifetime_ms", json_integer(m->closed_at - m->opened_at));
    }
}

/* Waits, keeping every open connection's packets flowing. */
static void session__sleep(iotc_runner_sess *s, long ms)
{
    long until = iotc_clock_ms() + ms;
    do {
        int any = 0;
        for (size_t i = 0; i < IOTC_RUNNER_SESS_MAX_CONNS; i++) {
            iotc_runner_sess_conn *k = &s->conns[i];
            if (!k->used || iotc_mqtt_session_closed(&k->m))
                continue;
            any = 1;
            iotc_mqtt_session_pump(&k->m, iotc_clock_ms() + 10, NULL, NULL);
        }
        if (!any) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    } while (iotc_clock_ms() < until);
}

/* One HTTPS publish on the case's row (X.509 rows, the probe). */
static int session__http_publish(iotc_runner_sess *s, json_t *step)
{
    char topic[1024], query[1024], headers[1024];
    json_t *props_spec = json_object_get(step, "properties");
    long size = session__int(step, "payload_size", -1);
    char *big = NULL;
    iotc_drv_out tmp;
    iotc_pubspec ps;
    json_t *o = session__obs(s, step, "http");
    int rc;

    iotc_runner_sess_fill(s, session__str(step, "topic") ? session__str(step, "topic") : "{topic}",
                          topic, sizeof(topic));
    memset(&tmp, 0, sizeof(tmp));
    ps.topic = topic;
    ps.qos = (int)session__int(step, "qos", 1);
    ps.retain = json_is_true(json_object_get(step, "retain"));
    ps.payload = session__str(step, "payload") ? session__str(step, "payload") : s->c->id;
    ps.query = NULL;
    ps.headers = NULL;
    if (size >= 0) {
        /* The payload limit's cases: AWS's 128 KB and one byte more. */
        if (size > SESSION__HTTP_PAYLOAD_MAX || !(big = malloc((size_t)size + 1))) {
            snprintf(s->out->error, sizeof(s->out->error), "http_publish: payload_size 0..%d",
                     SESSION__HTTP_PAYLOAD_MAX);
            return IOTC_ERR_CONFIG;
        }
        memset(big, 'x', (size_t)size);
        big[size] = '\0';
        ps.payload = big;
    }
    if (props_spec) {
        /* MQTT 5 properties the AWS way: query parameters and x-amz-mqtt5-* headers */
        if (iotc_runner_sess_props_http(s, props_spec, ps.qos, ps.retain, query, sizeof(query),
                                        headers, sizeof(headers)) != IOTC_OK) {
            snprintf(s->out->error, sizeof(s->out->error), "http_publish: properties too large");
            free(big);
            return IOTC_ERR_CONFIG;
        }
        ps.query = query;
        ps.headers = headers;
    }
    tmp.observed = json_object();
    /* X.509 rows: the probe (it offers 443's x-amzn-http-ca); the door rows: libcurl with
     * the case's SigV4 or custom-auth credentials. */
    if (s->c->row->auth == IOTC_AUTH_X509)
        rc = iotc_drv_probe_ex(s->env, s->c, s->idx, &ps, &tmp);
    else
        rc = iotc_drv_https_door(s->env, s->c, &ps, &tmp);
    for (size_t i = 0; i < tmp.n_ports; i++)
        iotc_drv_add_port_number(s->out, tmp.local_ports[i]);
    json_object_set(o, "http_status", json_object_get(tmp.observed, "http_status"));
    json_object_set(o, "connect", json_object_get(tmp.observed, "connect"));
    json_decref(tmp.observed);
    free(big);
    if (tmp.error[0])
        snprintf(s->out->error, sizeof(s->out->error), "%s", tmp.error);
    return rc;
}

static const char *const session__ops[] = {"connect",    "subscribe",    "publish",     "receive",
                                           "disconnect", "drop",         "wait_closed", "ping",
                                           "sleep_ms",   "http_publish", NULL};

static int session__step(iotc_runner_sess *s, json_t *step, size_t i)
{
    const char *op = NULL, *name = NULL;
    for (const char *const *k = session__ops; *k && !op; k++)
        if (json_object_get(step, *k))
            op = *k;
    if (!op) {
        snprintf(s->out->error, sizeof(s->out->error), "client.steps[%zu]: no operation", i);
        return IOTC_ERR_CONFIG;
    }
    if (strcmp(op, "sleep_ms") == 0) {
        session__sleep(s, session__int(step, "sleep_ms", 0));
        return IOTC_OK;
    }
    if (strcmp(op, "http_publish") == 0)
        return session__http_publish(s, step);
    name = session__str(step, op);
    if (!name) {
        snprintf(s->out->error, sizeof(s->out->error), "client.steps[%zu].%s: a connection name", i,
                 op);
        return IOTC_ERR_CONFIG;
    }
    if (strcmp(op, "connect") == 0)
        return session__connect(s, step, name);
    iotc_runner_sess_conn *k = iotc_runner_sess_conn_get(s, name, 0);
    if (!k) {
        snprintf(s->out->error, sizeof(s->out->error),
                 "client.steps[%zu].%s: connection \"%s\" was never opened", i, op, name);
        return IOTC_ERR_CONFIG;
    }
    if (strcmp(op, "subscribe") == 0)
        return session__subscribe(s, step, name, &k->m);
    if (strcmp(op, "publish") == 0 && json_object_get(step, "count"))
        return iotc_runner_sess_burst(s, step, &k->m, session__obs(s, step, name));
    if (strcmp(op, "publish") == 0)
        return session__publish(s, step, name, &k->m);
    if (strcmp(op, "receive") == 0)
        session__receive(s, step, name, &k->m);
    else if (strcmp(op, "disconnect") == 0)
        iotc_mqtt_session_disconnect(&k->m);
    else if (strcmp(op, "drop") == 0)
        iotc_mqtt_session_drop(&k->m);
    else if (strcmp(op, "wait_closed") == 0)
        session__wait_closed(s, step, name, &k->m);
    else if (strcmp(op, "ping") == 0)
        session__ping(s, step, name, &k->m);
    return IOTC_OK;
}

int iotc_drv_session(const iotc_env *env, const iotc_case *c, size_t idx, iotc_drv_out *out)
{
    json_t *steps = c->client.steps;
    iotc_runner_sess *s = calloc(1, sizeof(*s));
    size_t i;
    json_t *step;
    int rc = IOTC_OK;

    if (!s) {
        snprintf(out->error, sizeof(out->error), "out of memory");
        return IOTC_ERR_NOMEM;
    }
    s->env = env;
    s->c = c;
    s->idx = idx;
    s->out = out;
    s->obs = json_object();
    for (i = 0; i < IOTC_RUNNER_SESS_MAX_CONNS; i++)
        iotc_mqtt_session_init(&s->conns[i].m);
    iotc_drv_topic(env, idx, s->topic, sizeof(s->topic));
    json_array_foreach(steps, i, step)
    {
        rc = session__step(s, step, i);
        if (rc != IOTC_OK)
            break;
    }
    json_object_set_new(out->observed, "steps", s->obs);
    for (i = 0; i < IOTC_RUNNER_SESS_MAX_CONNS; i++) {
        if (!s->conns[i].used)
            continue;
        /* Orderly goodbyes: no will fires and no session is left taken. */
        iotc_mqtt_session_disconnect(&s->conns[i].m);
        iotc_mqtt_session_free(&s->conns[i].m);
    }
    free(s);
    if (rc != IOTC_OK && !out->error[0])
        snprintf(out->error, sizeof(out->error), "session step failed (%d)", rc);
    return rc;
}
