/* Session driver connections: open on a row or as a reference client. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "cases/door_auth_case.h"
#include "sess.h"
#include "wsc_case.h"

iotc_runner_sess_conn *iotc_runner_sess_conn_get(iotc_runner_sess *s, const char *name, int create)
{
    iotc_runner_sess_conn *free_slot = NULL;
    for (size_t i = 0; i < IOTC_RUNNER_SESS_MAX_CONNS; i++) {
        iotc_runner_sess_conn *k = &s->conns[i];
        if (k->used && strcmp(k->name, name) == 0)
            return k;
        if (!k->used && !free_slot)
            free_slot = k;
    }
    if (!create || !free_slot || strlen(name) >= sizeof(free_slot->name))
        return NULL;
    memset(free_slot, 0, sizeof(*free_slot));
    iotc_mqtt_session_init(&free_slot->m);
    free_slot->used = 1;
    snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
    return free_slot;
}

/* A reference client: device-02 (or the case's subscriber_cert) on 8883, standard TLS. */
static int sess__open_observer(iotc_runner_sess *s, iotc_runner_sess_conn *k, json_t *step_obs)
{
    const char *cert =
        json_string_value(json_object_get(iotc_case_client(s->c), "subscriber_cert"));
    iotc_tlsc_opts o;
    memset(&o, 0, sizeof(o));
    o.pki_dir = s->env->pki_dir;
    o.cert = cert ? cert : "device-02";
    o.tls = "any";
    o.sni = s->env->endpoint;
    iotc_env_tls_files(s->env, &o);
    return iotc_drv_wsc_open_to(&k->m.w, s->env, s->c->af, 8883, &o, step_obs,
                                iotc_drv_timeout_ms(s->c), s->out);
}

static int sess__open_wss(iotc_runner_sess *s, iotc_runner_sess_conn *k, json_t *obs)
{
    struct iotc_buf path = {0}, headers = {0};
    char host[300];
    int status = 0, rc;
    iotc_drv_wss_host(s->env, s->c, host, sizeof(host));
    rc = iotc_drv_wss_request(s->env, s->c, host, &path, &headers, s->out);
    if (rc == IOTC_OK && k->m.w.hs_ok)
        rc = iotc_wsc_upgrade(&k->m.w, host, (const char *)path.p,
                              headers.len ? (const char *)headers.p : "",
                              iotc_clock_ms() + iotc_drv_timeout_ms(s->c), &status, obs);
    if (rc == IOTC_ERR_DENIED || rc == IOTC_ERR_TIMEOUT || rc == IOTC_ERR_IO) {
        k->m.w.closed = 1; /* a refusal: the connection is observed as refused */
        rc = IOTC_OK;
    }
    iotc_buf_free(&path);
    iotc_buf_free(&headers);
    return rc;
}

int iotc_runner_sess_conn_open(iotc_runner_sess *s, iotc_runner_sess_conn *k, int observer,
                               char *username, size_t ulen, json_t *step_obs)
{
    int rc;
    username[0] = '\0';
    iotc_mqtt_session_close(&k->m);
    iotc_mqtt_session_reset(&k->m);
    if (observer) {
        rc = sess__open_observer(s, k, step_obs);
    } else {
        iotc_door_auth da;
        iotc_errtext e = {0};
        rc = iotc_door_auth_resolve(s->env, s->c, &da, &e);
        iotc_errtext_copy(&e, s->out->error, sizeof(s->out->error));
        if (rc != IOTC_OK)
            return rc;
        if (da.kind == IOTC_DA_CUSTOM && s->c->row->proto == IOTC_PROTO_MQTT)
            iotc_door_auth_username(&da, IOTC_DOOR_AUTH_USER, username, ulen);
        rc = iotc_drv_wsc_open(&k->m.w, s->env, s->c, s->out);
        if (rc == IOTC_OK && s->c->row->proto == IOTC_PROTO_WSS)
            rc = sess__open_wss(s, k, step_obs);
    }
    iotc_drv_add_port(s->out, k->m.w.fd);
    iotc_drv_add_port_number(s->out, k->m.w.st.local_port);
    if (rc != IOTC_OK)
        return rc;
    k->m.w.raw = observer || s->c->row->proto != IOTC_PROTO_WSS;
    iotc_mqtt_session_start(&k->m);
    return IOTC_OK;
}
