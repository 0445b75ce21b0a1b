/* libcurl multi on the fleet's libevent loop (curl_multi_socket_action): every
 * HTTPS device shares the loop of the MQTT devices, no thread per request. */
#include "fleet_int.h"
#include "common/err.h"

#include <stdlib.h>

static void ce__check(struct iotc_fleet *fl)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(fl->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct iotc_fleet_dev *d = NULL;
        CURL *e = m->easy_handle;
        CURLcode result = m->data.result;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&d);
        curl_multi_remove_handle(fl->multi, e);
        if (d)
            iotc_fleet_https_done(d, result);
    }
}

static void ce__on_sock(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_fleet *fl = arg;
    int running,
        flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(fl->multi, fd, flags, &running);
    ce__check(fl);
}

static void ce__on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_fleet *fl = arg;
    int running;
    curl_multi_socket_action(fl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    ce__check(fl);
}

static int ce__socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct iotc_fleet *fl = userp;
    struct event *ev = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ev)
            event_free(ev);
        curl_multi_assign(fl->multi, s, NULL);
        return 0;
    }
    short kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) |
                         (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);
    if (ev) {
        event_del(ev);
        event_assign(ev, fl->base, s, kind, ce__on_sock, fl);
    } else {
        ev = event_new(fl->base, s, kind, ce__on_sock, fl);
        if (!ev)
            return -1;
        curl_multi_assign(fl->multi, s, ev);
    }
    event_add(ev, NULL);
    return 0;
}

static int ce__timer_cb(CURLM *m, long ms, void *userp)
{
    struct iotc_fleet *fl = userp;
    if (ms < 0) {
        evtimer_del(fl->curl_tm);
        return 0;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(fl->curl_tm, &tv);
    return 0;
}

int iotc_fleet_https_setup(struct iotc_fleet *fl, iotc_errtext *err)
{
    fl->multi = curl_multi_init();
    fl->curl_tm = evtimer_new(fl->base, ce__on_timeout, fl);
    if (!fl->multi || !fl->curl_tm) {
        return iotc_errtext_set(err, IOTC_ERR_NOMEM, "libcurl multi setup failed");
    }
    curl_multi_setopt(fl->multi, CURLMOPT_SOCKETFUNCTION, ce__socket_cb);
    curl_multi_setopt(fl->multi, CURLMOPT_SOCKETDATA, fl);
    curl_multi_setopt(fl->multi, CURLMOPT_TIMERFUNCTION, ce__timer_cb);
    curl_multi_setopt(fl->multi, CURLMOPT_TIMERDATA, fl);
    return IOTC_OK;
}

void iotc_fleet_https_free(struct iotc_fleet *fl)
{
    if (fl->multi)
        curl_multi_cleanup(fl->multi);
    if (fl->curl_tm)
        event_free(fl->curl_tm);
    fl->multi = NULL;
    fl->curl_tm = NULL;
}
