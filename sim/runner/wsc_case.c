/* Client transports opened for a case (see wsc_case.h). */
#include "wsc_case.h"

#include "common/err.h"

int iotc_drv_wsc_open(iotc_wsc *w, const iotc_env *env, const iotc_case *c, iotc_drv_out *out)
{
    iotc_tlsc_opts o;
    json_t *alpn = NULL;
    int rc, fd;

    iotc_errtext e = {0};
    iotc_drv_tls_opts(env, c, &o, &alpn);
    rc = iotc_wsc_init(w, &o, &e);
    iotc_errtext_copy(&e, out->error, sizeof(out->error));
    json_decref(alpn);
    if (rc != IOTC_OK)
        return rc;
    fd = iotc_drv_tcp(env, c, iotc_drv_timeout_ms(c), out);
    if (fd < 0)
        return IOTC_ERR_IO;
    rc = iotc_wsc_handshake(w, fd, out->observed, &e);
    iotc_errtext_copy(&e, out->error, sizeof(out->error));
    return rc;
}

int iotc_drv_wsc_open_to(iotc_wsc *w, const iotc_env *env, int af, int logical_port,
                         const iotc_tlsc_opts *o, json_t *obs, int timeout_ms, iotc_drv_out *out)
{
    iotc_errtext e = {0};
    int rc = iotc_wsc_init(w, o, &e);
    iotc_errtext_copy(&e, out->error, sizeof(out->error));
    if (rc != IOTC_OK)
        return rc;
    int fd = iotc_drv_tcp_to(env, af, logical_port, timeout_ms, out);
    if (fd < 0)
        return IOTC_ERR_IO;
    rc = iotc_wsc_handshake(w, fd, obs, &e);
    iotc_errtext_copy(&e, out->error, sizeof(out->error));
    return rc;
}
