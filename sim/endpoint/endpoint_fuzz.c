/*
 * The session fuzzer's endpoint (endpoint_fuzz.h): the parts of iotc_endpoint_open a
 * session touches, with the broker replaced by the caller's in-memory peer.
 */
#include "endpoint_fuzz.h"
#include "lifecycle.h"
#include "common/err.h"
#include "common/strmap.h"

#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

int iotc_endpoint_open_fake(const char *profile_path, const char *journal_path,
                            const struct iotc_ep_fake_broker *fb, iotc_endpoint **out,
                            iotc_errtext *err)
{
    struct iotc_endpoint *ep = calloc(1, sizeof *ep);
    *out = NULL;
    if (!ep)
        return IOTC_ERR_NOMEM;
    ep->stop_pipe[0] = ep->stop_pipe[1] = ep->lock_fd = -1;
    ep->fake_broker = fb;
    ep->journal_packets = true;
    /* As iotc_endpoint_open: a device that closes its socket gives EPIPE, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    iotc_scenario_defaults(&ep->scenario);
    int rc = IOTC_ERR_CONFIG;
    if (iotc_profile_load(profile_path, &ep->profile, err))
        goto fail;
    ep->device_time_scale = ep->profile.time_scale;
    rc = IOTC_ERR_IO;
    if (iotc_journal_open(journal_path, &ep->journal)) {
        iotc_errtext_set(err, 0, "cannot open journal %s", journal_path);
        goto fail;
    }
    rc = IOTC_ERR_NOMEM;
    iotc_errtext_set(err, 0, "out of memory");
    ep->base = event_base_new();
    iotc_deadlines_init(&ep->deadlines, ep->base);
    iotc_flushq_init(&ep->flushq, ep->base);
    ep->sessions = iotc_strmap_new();
    ep->throttle = iotc_throttle_ep_new();
    ep->authz_cache = json_object();
    ep->session_subs = json_object();
    if (!ep->base || !ep->sessions || !ep->throttle || !ep->authz_cache || !ep->session_subs ||
        iotc_lifecycle_new(ep, &ep->lifecycle) != IOTC_OK)
        goto fail;
    iotc_lifecycle_broker_ready(ep->lifecycle);
    *out = ep;
    return IOTC_OK;
fail:
    iotc_endpoint_close(ep);
    return rc;
}

int iotc_endpoint_reset_fake(iotc_endpoint *ep)
{
    iotc_conn_close_all(ep, "fuzz input done");
    iotc_lifecycle_free(ep->lifecycle);
    ep->lifecycle = NULL;
    iotc_throttle_ep_free(ep->throttle);
    ep->throttle = iotc_throttle_ep_new();
    json_object_clear(ep->session_subs);
    json_object_clear(ep->authz_cache);
    ep->next_conn_id = 0;
    if (!ep->throttle || iotc_lifecycle_new(ep, &ep->lifecycle) != IOTC_OK)
        return IOTC_ERR_NOMEM;
    iotc_lifecycle_broker_ready(ep->lifecycle);
    return IOTC_OK;
}

struct event_base *iotc_endpoint_base(iotc_endpoint *ep)
{
    return ep->base;
}

struct iotc_profile *iotc_endpoint_profile(iotc_endpoint *ep)
{
    return &ep->profile;
}
