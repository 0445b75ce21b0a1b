#define _GNU_SOURCE /* asprintf */
#include "auth.h"
#include "session.h"
#include "wshared.h"
#include "common/err.h"
#include "sigv4/sigv4.h"
#include "common/clock.h"
#include "common/jevents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct iotc_auth_pending {
    struct iotc_conn *c;
    const struct iotc_reg_authorizer *authz;
    char *cache_key;
    struct iotc_authz_job *job;
    struct event *later; /* cached answers are delivered from the loop, like program answers */
    char *cached_response;
    bool cacheable; /* an HTTP publish to an authorizer with enable_caching_for_http */
    bool refresh;   /* re-invocation for refreshAfterInSeconds on a live connection */
    char *event;    /* the request event, kept for refreshes */
    iotc_auth_done_fn done;
    /* The authorizer gate: a slot held while the program runs, else a place in the queue. */
    bool has_slot, queued;
    struct iotc_auth_pending *next;
    struct event *deadline;
    double queued_ms;
};

static void auth__journal(struct iotc_conn *c, const char *method, bool allow,
                          const char *principal, const char *why)
{
    iotc_conn_emit(c, IOTC_EV_AUTH,
                   json_pack("{s:s, s:s, s:s?, s:s?}", "method", method, "result",
                             allow ? "allow" : "deny", "principal", principal, "reason", why));
}

/* The principal of a SigV4 or custom-authorizer connection: an owned copy, cut to the
 * 159 bytes the fixed field it replaced held (the workers' shared table keeps as many). */
static int auth__set_principal(struct iotc_conn *c, const char *principal)
{
    size_t n = strlen(principal);
    if (n > IOTC_EP_SHARED_PRINCIPAL_MAX)
        n = IOTC_EP_SHARED_PRINCIPAL_MAX;
    char *copy = malloc(n + 1);
    if (!copy)
        return IOTC_ERR_NOMEM;
    memcpy(copy, principal, n);
    copy[n] = '\0';
    if (c->auth.principal_owned)
        free((char *)c->auth.principal);
    c->auth.principal = copy;
    c->auth.principal_owned = true;
    return IOTC_OK;
}

/* ---- SigV4 ---- */

int iotc_auth_sigv4(struct iotc_conn *c, const struct iotc_http_req *q, bool wss, iotc_errtext *why)
{
    iotc_errtext local; /* the journal needs the reason even when the caller does not */
    if (!why)
        why = &local;
    iotc_errtext_clear(why);
    struct iotc_sigv4_header *hdrs = calloc(q->header_count + 1, sizeof *hdrs);
    struct iotc_sigv4_parsed p = {0};
    char *path = NULL;
    int rc = IOTC_ERR_NOMEM;
    if (!hdrs)
        return rc;
    for (size_t i = 0; i < q->header_count; i++) {
        hdrs[i].name = q->headers[i].name;
        hdrs[i].value = q->headers[i].value;
    }
    /* SigV4 signs the path as sent, so take it from the raw target, not the decoded path. */
    const char *target = q->target ? q->target : "/";
    size_t plen = strcspn(target, "?");
    path = strndup(target, plen);
    struct iotc_sigv4_request rq = {.method = q->method,
                                    .path = path,
                                    .query = q->query,
                                    .headers = hdrs,
                                    .header_count = q->header_count,
                                    .body = q->body.p,
                                    .body_len = q->body.len};
    rc = iotc_sigv4_parse(&rq, &p, why);
    if (rc == IOTC_ERR_NOT_FOUND)
        goto cleanup;
    if (rc != IOTC_OK) {
        rc = IOTC_ERR_DENIED;
        auth__journal(c, "sigv4", false, NULL, why->msg);
        goto cleanup;
    }
    const struct iotc_reg_credential *cred =
        iotc_registry_find_credential(&c->ep->registry, p.access_key);
    static const char *const https_services[] = {"iotdata", "iotdevicegateway"};
    static const char *const wss_services[] = {"iotdevicegateway"};
    struct iotc_sigv4_policy pol = {.services = wss ? wss_services : https_services,
                                    .service_count = wss ? 1 : 2,
                                    .region = c->ep->profile.region,
                                    .skew_s = (long)c->ep->profile.limits.sigv4_skew_s,
                                    /* AWS IoT WSS appends the token after signing */
                                    .token_in_canonical_query = false};
    rc = IOTC_ERR_DENIED;
    if (!cred) {
        iotc_errtext_set(why, 0, "unknown access key id '%.40s'", p.access_key);
    } else if (cred->inactive) {
        /* IAM refuses an inactive key like an unknown one (InvalidClientTokenId). */
        iotc_errtext_set(why, 0, "access key id '%.40s' is inactive", p.access_key);
    } else if (iotc_sigv4_verify(&rq, &p, cred->secret_access_key, &pol, why) != IOTC_OK) {
        /* why filled by the verifier */
    } else if (cred->session_token &&
               (!p.security_token || strcmp(p.security_token, cred->session_token) != 0)) {
        iotc_errtext_set(why, 0, "%s",
                         p.security_token ? "security token does not match"
                                          : "temporary credentials need their "
                                            "X-Amz-Security-Token");
    } else if (!cred->session_token && p.security_token) {
        iotc_errtext_set(why, 0, "a security token was sent for long-term credentials");
    } else if (cred->expires_at && iotc_clock_wall_ms() / 1000.0 >= (double)cred->expires_at) {
        /* STS: "The security token included in the request is expired" (ExpiredToken). */
        iotc_errtext_set(why, 0, "the security token included in the request is expired");
    } else {
        rc = IOTC_OK;
    }
    auth__journal(c, "sigv4", rc == IOTC_OK, p.access_key, rc == IOTC_OK ? NULL : why->msg);
    if (rc == IOTC_OK && (rc = auth__set_principal(c, p.access_key)) == IOTC_OK) {
        c->auth.policies = &cred->policies;
        c->auth.method = "sigv4";
        if (wss)
            iotc_conn_arm_duration(c, (double)c->ep->profile.limits.max_duration_sigv4_s,
                                   "WEBSOCKET_TTL_EXPIRATION");
    }
cleanup:
    iotc_sigv4_parsed_free(&p);
    free(path);
    free(hdrs);
    return rc;
}

/* ---- custom authorizers ---- */

bool iotc_auth_custom_wanted(const struct iotc_conn *c, const struct iotc_http_req *q)
{
    if (iotc_http_header_get(q, "x-amz-customauthorizer-name") ||
        iotc_http_query_count(q->query, "x-amz-customauthorizer-name"))
        return true;
    return iotc_registry_find_authorizer(&c->ep->registry, NULL) != NULL;
}

static void auth__gate_leave(struct iotc_auth_pending *p);

static void auth__pending_free(struct iotc_auth_pending *p)
{
    if (!p)
        return;
    auth__gate_leave(p);
    if (p->deadline)
        event_free(p->deadline);
    if (p->later)
        event_free(p->later);
    free(p->cache_key);
    free(p->cached_response);
    free(p->event);
    free(p);
}

static void auth__finish(struct iotc_auth_pending *p, bool ok, const char *why)
{
    struct iotc_conn *c = p->c;
    iotc_auth_done_fn done = p->done;
    c->auth.pending = NULL;
    auth__pending_free(p);
    done(c, ok, why);
}

static void auth__refresh_fired(evutil_socket_t fd, short what, void *arg);

static void auth__free_policies(struct iotc_reg_policies *pols)
{
    for (size_t i = 0; i < pols->count; i++)
        iotc_policy_free(pols->list[i]);
    free(pols->list);
    pols->list = NULL;
    pols->count = 0;
}

static int auth__apply(struct iotc_auth_pending *p, const char *text, iotc_errtext *why)
{
    struct iotc_conn *c = p->c;
    struct iotc_authz_response r;
    struct iotc_reg_policies fresh = {0};
    if (iotc_authz_response_parse(text, strlen(text), &r, why) != IOTC_OK)
        return IOTC_ERR_DENIED;
    int rc = IOTC_ERR_DENIED;
    if (!r.authenticated) {
        iotc_errtext_set(why, 0, "authorizer %s answered isAuthenticated false", p->authz->name);
        goto cleanup;
    }
    fresh.list = calloc(r.policy_count + 1, sizeof *fresh.list);
    if (!fresh.list)
        goto cleanup;
    for (size_t i = 0; i < r.policy_count; i++) {
        struct iotc_policy *pol;
        if (iotc_policy_parse(r.policies[i], strlen(r.policies[i]), &pol, why)) {
            /* the policy parser's text, cut to 255 bytes as before, after its index */
            if (why)
                why->msg[strnlen(why->msg, 255)] = '\0';
            iotc_errtext_prefix(why, 0, "policyDocuments[%zu]", i);
            goto cleanup;
        }
        fresh.list[fresh.count++] = pol;
    }
    /* A refresh replaces the policies of a live connection; its principal stays. */
    auth__free_policies(&c->auth.own_policies);
    c->auth.own_policies = fresh;
    fresh = (struct iotc_reg_policies){0};
    c->auth.policies = &c->auth.own_policies;
    c->auth.method = "custom";
    if (!p->refresh) {
        if (auth__set_principal(c, r.principal_id) != IOTC_OK) {
            rc = IOTC_ERR_NOMEM;
            goto cleanup;
        }
        iotc_conn_arm_duration(c, r.disconnect_after, "CUSTOMAUTH_TTL_EXPIRATION");
    }
    if (p->cacheable && r.refresh_after > 0) {
        /* AWS caches answers across HTTP requests only when the authorizer allows it. */
        double expires = iotc_mono_ms() + r.refresh_after * 1000.0 * c->ep->profile.time_scale;
        if (iotc_ep_shared_on(c->ep)) /* serve --workers: the next request may land elsewhere */
            iotc_ep_shared_cache_put(c->ep, p->cache_key, expires, text);
        else
            json_object_set_new(c->ep->authz_cache, p->cache_key,
                                json_pack("{s:f, s:s}", "expires", expires, "response", text));
    } else if (!p->cacheable && r.refresh_after > 0 && p->event) {
        /* A connection is re-authorized every refreshAfterInSeconds with the same event. */
        free(c->auth.refresh_event);
        c->auth.refresh_event = strdup(p->event);
        c->auth.refresh_authz = p->authz;
        if (!c->auth.refresh_timer)
            c->auth.refresh_timer = evtimer_new(c->ep->base, auth__refresh_fired, c);
        double ms = r.refresh_after * 1000.0 * c->ep->profile.time_scale;
        struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((long long)ms % 1000 * 1000)};
        if (c->auth.refresh_timer)
            evtimer_add(c->auth.refresh_timer, &tv);
    }
    rc = IOTC_OK;
cleanup:
    auth__free_policies(&fresh);
    iotc_authz_response_free(&r);
    return rc;
}

/* ---- the authorizer gate ----
 * Every connect without a certificate may start an authorizer program: unbounded, a
 * flood of unsigned tokens forks hundreds at once and starves every other device. So
 * at most limits.authz_max_concurrent run at once; later ones wait in a FIFO of at
 * most limits.authz_queue_max for at most limits.authz_queue_wait_ms. A connect that
 * finds the queue full, or waits too long, is refused as when the authorizer could not
 * run (AWS: an authorizer Lambda that fails or is throttled fails the authentication),
 * and the journal says why (authz.queue). */

static void auth__program_done(void *arg, int rc, const char *out, const char *what);

static void auth__gate_journal(struct iotc_conn *c, const char *result, double waited_ms)
{
    struct iotc_authz_gate *g = &c->ep->authz_gate;
    iotc_conn_emit(c, IOTC_EV_AUTHZ_QUEUE,
                   json_pack("{s:s, s:I, s:I, s:f}", "result", result, "running",
                             (json_int_t)g->running, "queued", (json_int_t)g->queued, "waited_ms",
                             waited_ms));
}

static void auth__gate_unqueue(struct iotc_auth_pending *p)
{
    struct iotc_authz_gate *g = &p->c->ep->authz_gate;
    struct iotc_auth_pending **pp = &g->head, *prev = NULL;
    while (*pp && *pp != p) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = p->next;
        if (g->tail == p)
            g->tail = prev;
        g->queued--;
    }
    p->queued = false;
    p->next = NULL;
    if (p->deadline)
        evtimer_del(p->deadline);
}

static void auth__gate_leave(struct iotc_auth_pending *p)
{
    struct iotc_authz_gate *g = &p->c->ep->authz_gate;
    if (p->queued)
        auth__gate_unqueue(p);
    if (p->has_slot) {
        p->has_slot = false;
        g->running--;
        if (g->head && g->pump) /* from the loop: this may run inside a connection's close */
            event_active(g->pump, 0, 0);
    }
}

static int auth__gate_run(struct iotc_auth_pending *p)
{
    struct iotc_authz_gate *g = &p->c->ep->authz_gate;
    p->has_slot = true;
    g->running++;
    int rc = iotc_authz_run_program(p->c->ep->base, p->authz->argv, p->event, p->authz->timeout_ms,
                                    auth__program_done, p, &p->job);
    if (rc != IOTC_OK) {
        p->has_slot = false;
        g->running--;
    }
    return rc;
}

static void auth__gate_pump(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_endpoint *ep = arg;
    struct iotc_authz_gate *g = &ep->authz_gate;
    while (g->head && g->running < ep->profile.limits.authz_max_concurrent) {
        struct iotc_auth_pending *p = g->head;
        double waited = iotc_mono_ms() - p->queued_ms;
        auth__gate_unqueue(p);
        if (auth__gate_run(p) == IOTC_OK) {
            auth__gate_journal(p->c, "started", waited);
            continue;
        }
        char why[160];
        snprintf(why, sizeof why, "cannot start authorizer %s", p->authz->name);
        auth__journal(p->c, "custom", false, NULL, why);
        auth__finish(p, false, why);
    }
}

static void auth__gate_expired(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_auth_pending *p = arg;
    double waited = iotc_mono_ms() - p->queued_ms;
    auth__gate_unqueue(p);
    auth__gate_journal(p->c, "timeout", waited);
    char why[200];
    snprintf(why, sizeof why,
             "authorizer %s could not run: no free slot within %lld ms "
             "(limits.authz_max_concurrent %lld)",
             p->authz->name, p->c->ep->profile.limits.authz_queue_wait_ms,
             p->c->ep->profile.limits.authz_max_concurrent);
    auth__journal(p->c, "custom", false, NULL, why);
    auth__finish(p, false, why);
}

/* Runs p's program now, or queues it. IOTC_ERR_LIMIT (why filled): the queue is full. */
static int auth__gate_enter(struct iotc_auth_pending *p, iotc_errtext *why)
{
    struct iotc_endpoint *ep = p->c->ep;
    struct iotc_authz_gate *g = &ep->authz_gate;
    const struct iotc_limits *l = &ep->profile.limits;
    if (!g->pump && !(g->pump = event_new(ep->base, -1, 0, auth__gate_pump, ep)))
        return IOTC_ERR_NOMEM;
    if (g->running < l->authz_max_concurrent && !g->head) {
        if (auth__gate_run(p) != IOTC_OK) {
            iotc_errtext_set(why, 0, "cannot start authorizer %s", p->authz->name);
            return IOTC_ERR_IO;
        }
        return IOTC_OK;
    }
    if (g->queued >= l->authz_queue_max) {
        auth__gate_journal(p->c, "full", 0);
        iotc_errtext_set(why, 0,
                         "authorizer %s could not run: %lld running and %lld waiting "
                         "(limits.authz_max_concurrent, limits.authz_queue_max)",
                         p->authz->name, g->running, g->queued);
        return IOTC_ERR_LIMIT;
    }
    if (!p->deadline && !(p->deadline = evtimer_new(ep->base, auth__gate_expired, p)))
        return IOTC_ERR_NOMEM;
    long long ms = l->authz_queue_wait_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    if (evtimer_add(p->deadline, &tv) != 0)
        return IOTC_ERR_NOMEM;
    p->queued = true;
    p->queued_ms = iotc_mono_ms();
    if (g->tail)
        g->tail->next = p;
    else
        g->head = p;
    g->tail = p;
    g->queued++;
    auth__gate_journal(p->c, "queued", 0);
    return IOTC_OK;
}

void iotc_auth_gate_free(struct iotc_endpoint *ep)
{
    if (ep->authz_gate.pump)
        event_free(ep->authz_gate.pump);
    ep->authz_gate.pump = NULL;
}

static void auth__program_done(void *arg, int rc, const char *out, const char *what)
{
    struct iotc_auth_pending *p = arg;
    struct iotc_conn *c = p->c;
    iotc_errtext why;
    iotc_errtext_clear(&why);
    p->job = NULL;
    auth__gate_leave(p); /* the program is gone: its slot goes to the next in the queue */
    if (rc != IOTC_OK) {
        iotc_errtext_set(&why, 0, "authorizer %s failed: %s", p->authz->name, what);
    } else if (auth__apply(p, out, &why) == IOTC_OK) {
        auth__journal(c, "custom", true, iotc_conn_principal(c), NULL);
        auth__finish(p, true, NULL);
        return;
    }
    auth__journal(c, "custom", false, NULL, why.msg);
    auth__finish(p, false, why.msg);
}

static void auth__cached(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_auth_pending *p = arg;
    iotc_errtext why;
    iotc_errtext_clear(&why);
    if (auth__apply(p, p->cached_response, &why) == IOTC_OK) {
        auth__journal(p->c, "custom", true, iotc_conn_principal(p->c), "cached authorizer answer");
        auth__finish(p, true, NULL);
    } else {
        auth__journal(p->c, "custom", false, NULL, why.msg);
        auth__finish(p, false, why.msg);
    }
}

static void auth__conn_id(const struct iotc_conn *c, char out[37])
{
    snprintf(out, 37, "00000000-0000-4000-8000-%012llx", (unsigned long long)c->id);
}

int iotc_auth_custom_start(struct iotc_conn *c, const struct iotc_auth_input *in,
                           iotc_auth_done_fn done, iotc_errtext *why)
{
    iotc_errtext local; /* the journal needs the reason even when the caller does not */
    if (!why)
        why = &local;
    iotc_errtext_clear(why);
    struct iotc_authz_creds creds = {0};
    struct iotc_auth_pending *p = NULL;
    char *event = NULL;
    int rc = IOTC_ERR_DENIED;
    if (in->http)
        rc = iotc_authz_from_http(in->http, &creds, why);
    else if (in->mqtt_username)
        rc = iotc_authz_parse_username(in->mqtt_username, strlen(in->mqtt_username), &creds, why);
    else
        rc = IOTC_OK; /* no username: the default authorizer, with no token */
    if (rc != IOTC_OK) {
        rc = IOTC_ERR_DENIED;
        goto deny;
    }
    const struct iotc_reg_authorizer *a =
        iotc_registry_find_authorizer(&c->ep->registry, creds.authorizer);
    rc = IOTC_ERR_DENIED;
    if (!a) {
        iotc_errtext_set(why, 0,
                         creds.authorizer ? "no authorizer named '%.64s'"
                                          : "no authorizer named and no default authorizer%.0s",
                         creds.authorizer ? creds.authorizer : "");
        goto deny;
    }
    if (!a->active) {
        iotc_errtext_set(why, 0, "authorizer %s is INACTIVE", a->name);
        goto deny;
    }
    const char *token = in->http ? iotc_authz_http_token(in->http, &creds, a->token_key_name)
                                 : iotc_authz_creds_get(&creds, a->token_key_name);
    bool verified = false;
    if (a->signing_enabled) {
        /* AWS checks the token signature before the authorizer ever runs. */
        if (!token || !creds.signature) {
            iotc_errtext_set(why, 0, "authorizer %s needs a signed token (%s and %s)", a->name,
                             a->token_key_name, IOTC_AUTHZ_SIG_KEY);
            goto deny;
        }
        if (iotc_authz_verify_token(a->public_key, token, creds.signature, why) != IOTC_OK)
            goto deny;
        verified = true;
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        rc = IOTC_ERR_NOMEM;
        goto deny;
    }
    p->c = c;
    p->authz = a;
    p->done = done;
    if (asprintf(&p->cache_key, "%s\n%s", a->name, token ? token : "") < 0) {
        p->cache_key = NULL;
        rc = IOTC_ERR_NOMEM;
        goto deny;
    }
    p->cacheable = in->http && !in->connection && a->caching_for_http;
    bool shared = p->cacheable && iotc_ep_shared_on(c->ep);
    char *shared_hit =
        shared ? iotc_ep_shared_cache_get(c->ep, p->cache_key, iotc_mono_ms()) : NULL;
    json_t *hit =
        p->cacheable && !shared ? json_object_get(c->ep->authz_cache, p->cache_key) : NULL;
    if (shared_hit || (hit && json_real_value(json_object_get(hit, "expires")) > iotc_mono_ms())) {
        p->cached_response =
            shared_hit ? shared_hit : strdup(json_string_value(json_object_get(hit, "response")));
        p->later = evtimer_new(c->ep->base, auth__cached, p);
        struct timeval zero = {0, 0};
        if (!p->cached_response || !p->later || evtimer_add(p->later, &zero)) {
            rc = IOTC_ERR_NOMEM;
            goto deny;
        }
    } else {
        if (hit)
            json_object_del(c->ep->authz_cache, p->cache_key);
        char conn_id[37];
        auth__conn_id(c, conn_id);
        struct iotc_authz_request req = {.token = token,
                                         .signature_verified = verified,
                                         .tls = true,
                                         .http = in->http != NULL,
                                         .mqtt = in->http == NULL,
                                         .server_name = c->tr.sni,
                                         .req = in->http,
                                         .mqtt_username = in->mqtt_username,
                                         .mqtt_password =
                                             in->has_password ? in->mqtt_password : NULL,
                                         .mqtt_password_len = in->mqtt_password_len,
                                         .mqtt_client_id = in->mqtt_client_id,
                                         .connection_id = conn_id};
        event = iotc_authz_request_json(&req);
        if (!event) {
            iotc_errtext_set(why, 0, "cannot build the authorizer request");
            goto deny;
        }
        p->event = strdup(event);
        if (!p->event) {
            rc = IOTC_ERR_NOMEM;
            goto deny;
        }
        int grc = auth__gate_enter(p, why);
        if (grc != IOTC_OK) {
            if (grc == IOTC_ERR_NOMEM)
                iotc_errtext_set(why, 0, "out of memory");
            goto deny;
        }
    }
    c->auth.pending = p;
    c->auth.cancel = iotc_auth_custom_cancel;
    iotc_authz_creds_free(&creds);
    free(event);
    return IOTC_OK;
deny:
    auth__pending_free(p);
    iotc_authz_creds_free(&creds);
    free(event);
    auth__journal(c, "custom", false, NULL, why->msg);
    return rc ? rc : IOTC_ERR_DENIED;
}

static void auth__refresh_done(struct iotc_conn *c, bool allowed, const char *why)
{
    if (allowed || c->closing)
        return;
    /* The authorizer no longer allows this connection: end it. */
    if (c->sess.ops && c->sess.ops->on_expire)
        c->sess.ops->on_expire(c, "AUTH_ERROR");
    else
        iotc_conn_close(c, "endpoint", why ? why : "authorizer refresh denied");
}

static void auth__refresh_fired(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_conn *c = arg;
    if (c->closing || c->auth.pending || !c->auth.refresh_event)
        return;
    struct iotc_auth_pending *p = calloc(1, sizeof *p);
    if (!p)
        return;
    p->c = c;
    p->authz = c->auth.refresh_authz;
    p->refresh = true;
    p->done = auth__refresh_done;
    p->event = strdup(c->auth.refresh_event);
    iotc_conn_emit(c, IOTC_EV_AUTH_REFRESH, json_pack("{s:s}", "authorizer", p->authz->name));
    if (!p->event || auth__gate_enter(p, NULL) != IOTC_OK) { /* its own reason below */
        auth__pending_free(p);
        auth__refresh_done(c, false, "cannot start the authorizer for a refresh");
        return;
    }
    c->auth.pending = p;
    c->auth.cancel = iotc_auth_custom_cancel;
}

void iotc_auth_custom_cancel(struct iotc_conn *c)
{
    struct iotc_auth_pending *p = c->auth.pending;
    if (!p)
        return;
    if (p->job)
        iotc_authz_job_cancel(p->job);
    c->auth.pending = NULL;
    auth__pending_free(p);
}
