/* Observations: journal entries grouped into the device's connections. */
#include <stdlib.h>
#include <string.h>

#include "cert_int.h"
#include "common/err.h"
#include "common/jevents.h"

double iotc_certify_entry_t(json_t *e)
{
    json_t *t = json_object_get(e, IOTC_JF_T);
    return json_is_number(t) ? json_number_value(t) : -1;
}

static const char *obs__s(json_t *e, const char *k)
{
    return json_string_value(json_object_get(e, k));
}

static iotc_certify_conn *obs__conn(iotc_certify_obs *o, long id, size_t *cap)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->c[i].id == id)
            return &o->c[i];
    if (o->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        iotc_certify_conn *nc = realloc(o->c, ncap * sizeof(*nc));
        if (!nc)
            return NULL;
        o->c = nc;
        *cap = ncap;
    }
    iotc_certify_conn *c = &o->c[o->n++];
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->t_accept = c->t_close = -1;
    c->events = json_array();
    return c;
}

int iotc_certify_obs_build(iotc_certify_obs *o, json_t *lines, const long *runner_ports, size_t n_runner)
{
    size_t cap = 0, i;
    json_t *e;
    memset(o, 0, sizeof(*o));
    o->lines = lines;
    o->dev_exit_t = -1;
    o->stop_t = -1;
    json_array_foreach(lines, i, e)
    {
        json_t *cid = json_object_get(e, IOTC_JF_CONN);
        const char *ev = obs__s(e, IOTC_JF_EVENT), *type = obs__s(e, IOTC_JF_TYPE);
        double t = iotc_certify_entry_t(e);
        if (t > o->t_end)
            o->t_end = t;
        if (!json_is_integer(cid) || !ev)
            continue;
        iotc_certify_conn *c = obs__conn(o, (long)json_integer_value(cid), &cap);
        if (!c)
            return IOTC_ERR_NOMEM;
        json_array_append(c->events, e);
        if (json_is_integer(json_object_get(e, IOTC_JF_PEER_PORT)))
            c->peer_port = (long)json_integer_value(json_object_get(e, IOTC_JF_PEER_PORT));
        if (strcmp(ev, IOTC_EV_CONN_ACCEPT) == 0)
            c->t_accept = t;
        else if (strcmp(ev, IOTC_EV_CONN_CLOSE) == 0) {
            c->t_close = t;
            c->close = e;
        } else if (strcmp(ev, IOTC_EV_TLS_CLIENT_HELLO) == 0 && !c->hello)
            c->hello = e;
        else if (strcmp(ev, IOTC_EV_TLS_HANDSHAKE) == 0)
            c->handshake = e;
        else if (strcmp(ev, IOTC_EV_TLS_REFUSED) == 0)
            c->refused = e;
        else if (strcmp(ev, IOTC_EV_MQTT_IN) == 0 && type && strcmp(type, "CONNECT") == 0 &&
                 !c->connect)
            c->connect = e;
        else if (strcmp(ev, IOTC_EV_MQTT_OUT) == 0 && type && strcmp(type, "CONNACK") == 0)
            c->connack = e;
        else if (strcmp(ev, IOTC_EV_SCENARIO_WITHHELD) == 0 && type && strcmp(type, "CONNACK") == 0)
            c->connack_withheld = true;
        else if (strcmp(ev, IOTC_EV_SCENARIO_DISCONNECT) == 0)
            c->scenario_cut = true;
    }
    for (size_t k = 0; k < o->n; k++)
        for (size_t r = 0; r < n_runner; r++)
            if (o->c[k].peer_port == runner_ports[r])
                o->c[k].runner = true;
    return IOTC_OK;
}

void iotc_certify_obs_free(iotc_certify_obs *o)
{
    for (size_t i = 0; i < o->n; i++)
        json_decref(o->c[i].events);
    free(o->c);
    o->c = NULL;
    o->n = 0;
}

size_t iotc_certify_obs_device_conns(const iotc_certify_obs *o, const iotc_certify_conn **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < o->n && n < max; i++)
        if (!o->c[i].runner)
            out[n++] = &o->c[i];
    return n;
}

json_t *iotc_certify_conn_find(const iotc_certify_conn *c, const char *event, const char *type, size_t nth)
{
    size_t i;
    json_t *e;
    json_array_foreach(c->events, i, e)
    {
        const char *ev = obs__s(e, IOTC_JF_EVENT), *ty = obs__s(e, IOTC_JF_TYPE);
        if (!ev || strcmp(ev, event) != 0)
            continue;
        if (type && (!ty || strcmp(ty, type) != 0))
            continue;
        if (nth-- == 0)
            return e;
    }
    return NULL;
}

size_t iotc_certify_conn_count(const iotc_certify_conn *c, const char *event, const char *type)
{
    size_t n = 0;
    while (iotc_certify_conn_find(c, event, type, n))
        n++;
    return n;
}

int iotc_certify_conn_version(const iotc_certify_conn *c)
{
    json_t *v = c ? json_object_get(c->connect, IOTC_JF_VERSION) : NULL;
    return json_integer_value(v) == 5 ? 5 : 4;
}

const char *iotc_certify_conn_version_name(const iotc_certify_conn *c)
{
    return iotc_certify_conn_version(c) == 5 ? "MQTT 5" : "MQTT 3.1.1";
}

bool iotc_certify_conn_keeps_session(const iotc_certify_conn *c)
{
    if (!c || !c->connect)
        return false;
    if (iotc_certify_conn_version(c) == 5)
        return json_integer_value(json_object_get(c->connect, IOTC_JF_SESSION_EXPIRY)) > 0;
    return !json_is_true(json_object_get(c->connect, IOTC_JF_CLEAN));
}

long iotc_certify_conn_keepalive(const iotc_certify_conn *c)
{
    json_t *eff;
    if (!c || !c->connect)
        return 0;
    eff = json_object_get(c->connect, IOTC_JF_KEEPALIVE_EFFECTIVE);
    if (iotc_certify_conn_version(c) == 5 && json_is_integer(eff))
        return (long)json_integer_value(eff);
    return (long)json_integer_value(json_object_get(c->connect, IOTC_JF_KEEPALIVE));
}

const char *iotc_certify_conn_session_fault(const iotc_certify_conn *c, bool first)
{
    bool clean = json_is_true(json_object_get(c->connect, IOTC_JF_CLEAN));
    if (iotc_certify_conn_version(c) == 5) {
        if (!iotc_certify_conn_keeps_session(c))
            return "MQTT 5 session expiry interval 0 (or absent): the session ends with the "
                   "connection (section 3.1.2.11.2)";
        if (clean && !first)
            return "MQTT 5 clean start 1 on a reconnect: the session it had is discarded "
                   "(section 3.1.2.4)";
        return NULL;
    }
    if (clean)
        return first ? "MQTT 3.1.1 clean session 1: the session ends with the connection "
                       "(section 3.1.2.4)"
                     : "MQTT 3.1.1 clean session 1 on a reconnect: the session it had is "
                       "discarded (section 3.1.2.4)";
    return NULL;
}
