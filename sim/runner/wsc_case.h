/*
 * The runner's side of the client transport (client/wsc.h): a case's TLS
 * settings, its port and family, and where observations and errors go.
 */
#ifndef IOTC_RUNNER_WSC_CASE_H
#define IOTC_RUNNER_WSC_CASE_H

#include "client/wsc.h"
#include "driver.h"

/* TCP + TLS with the case's settings; observations go to out->observed.
 * IOTC_OK even when TLS is refused (w->hs_ok tells); other codes: out->error. */
int iotc_drv_wsc_open(iotc_wsc *w, const iotc_env *env, const iotc_case *c, iotc_drv_out *out);

/* TCP + TLS with explicit options to a logical port (the session driver's
 * reference clients); observations go to obs (may be NULL). */
int iotc_drv_wsc_open_to(iotc_wsc *w, const iotc_env *env, int af, int logical_port,
                         const iotc_tlsc_opts *o, json_t *obs, int timeout_ms, iotc_drv_out *out);

#endif
