/*
 * The endpoint embedded in a test process (iotc_endpoint_open/run/stop/close):
 * ephemeral ports, the default profile, the build's PKI, the real mosquitto behind
 * it, and a real MQTT client (libmosquitto over TLS with a device certificate).
 */
#include "endpoint/endpoint.h"
#include "common/err.h"

#include <CUnit/CUnit.h>
#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PKI IOTC_BINARY_DIR "/pki"

struct embedded {
    iotc_endpoint *ep;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ready;
    int run_rc;
    char dir[64];
    char journal[128];
};

static void embedded__on_ready(iotc_endpoint *ep, void *arg)
{
    struct embedded *e = arg;
    (void)ep;
    pthread_mutex_lock(&e->mu);
    e->ready = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static void *embedded__run(void *arg)
{
    struct embedded *e = arg;
    e->run_rc = iotc_endpoint_run(e->ep, NULL);
    return NULL;
}

static void embedded__opts(struct embedded *e, iotc_endpoint_opts *o)
{
    iotc_endpoint_opts_init(o);
    o->profile_path = IOTC_SOURCE_DIR "/fixtures/profiles/default.json";
    o->registry_path = IOTC_SOURCE_DIR "/fixtures/registry.json";
    o->pki_dir = PKI;
    for (int i = 0; i < IOTC_ENDPOINT_NPORTS; i++)
        o->ports[i] = 0;
    o->run_dir = e->dir;
    o->journal_path = e->journal;
    o->on_ready = embedded__on_ready;
    o->arg = e;
}

/* Opens the endpoint, runs it on a thread and waits for READY (20 s at most). */
static int embedded__start(struct embedded *e)
{
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    snprintf(e->dir, sizeof e->dir, "/tmp/iotc-embedded-XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    snprintf(e->journal, sizeof e->journal, "%s/journal.jsonl", e->dir);
    iotc_endpoint_opts o;
    embedded__opts(e, &o);
    iotc_errtext err = {0};
    if (iotc_endpoint_open(&o, &e->ep, &err) != IOTC_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        return -1;
    }
    if (pthread_create(&e->thread, NULL, embedded__run, e) != 0)
        return -1;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&e->mu);
    while (!e->ready && pthread_cond_timedwait(&e->cv, &e->mu, &until) != ETIMEDOUT)
        ;
    bool ready = e->ready;
    pthread_mutex_unlock(&e->mu);
    return ready ? 0 : -1;
}

static void embedded__finish(struct embedded *e)
{
    iotc_endpoint_stop(e->ep);
    pthread_join(e->thread, NULL);
    iotc_endpoint_close(e->ep);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    if (buf)
        fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    return buf;
}

static void embedded__cleanup_dir(struct embedded *e)
{
    unlink(e->journal);
    rmdir(e->dir);
}

/* ---- an MQTT device on libmosquitto, driven by its own loop calls ---- */

struct device {
    struct mosquitto *m;
    int connack; /* -1 until CONNACK */
    bool subacked, puback, closed;
    int granted_qos;
    char got[64];
};

static void dev__on_connect(struct mosquitto *m, void *arg, int rc)
{
    ((struct device *)arg)->connack = rc;
}
static void dev__on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *qos)
{
    struct device *d = arg;
    d->subacked = true;
    d->granted_qos = n > 0 ? qos[0] : -1;
}
static void dev__on_publish(struct mosquitto *m, void *arg, int mid)
{
    ((struct device *)arg)->puback = true;
}
static void dev__on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
    struct device *d = arg;
    snprintf(d->got, sizeof d->got, "%.*s", msg->payloadlen, (const char *)msg->payload);
}
static void dev__on_disconnect(struct mosquitto *m, void *arg, int rc)
{
    ((struct device *)arg)->closed = true;
}

static int dev__open(struct device *d, const char *client_id, const char *cert, int port)
{
    char crt[512], key[512];
    memset(d, 0, sizeof *d);
    d->connack = -1;
    snprintf(crt, sizeof crt, PKI "/%s.crt", cert);
    snprintf(key, sizeof key, PKI "/%s.key", cert);
    d->m = mosquitto_new(client_id, true, d);
    if (!d->m)
        return -1;
    mosquitto_connect_callback_set(d->m, dev__on_connect);
    mosquitto_subscribe_callback_set(d->m, dev__on_subscribe);
    mosquitto_publish_callback_set(d->m, dev__on_publish);
    mosquitto_message_callback_set(d->m, dev__on_message);
    mosquitto_disconnect_callback_set(d->m, dev__on_disconnect);
    if (mosquitto_tls_set(d->m, PKI "/ca-bundle.crt", NULL, crt, key, NULL) != MOSQ_ERR_SUCCESS)
        return -1;
    /* "localhost" is an endpoint name of the default profile: it goes out as SNI. */
    return mosquitto_connect(d->m, "localhost", port, 30) == MOSQ_ERR_SUCCESS ? 0 : -1;
}

/* Runs the client's loop until *flag is true or 5 s pass. */
static bool dev__wait(struct device *d, const bool *flag, const int *connack)
{
    for (int i = 0; i < 100; i++) {
        if ((flag && *flag) || (connack && *connack >= 0) || d->closed)
            break;
        if (mosquitto_loop(d->m, 50, 1) != MOSQ_ERR_SUCCESS)
            d->closed = true;
    }
    return flag ? *flag : *connack >= 0;
}

static void test_round_trip(void)
{
    struct embedded e;
    CU_ASSERT_EQUAL_FATAL(embedded__start(&e), 0);
    int port = iotc_endpoint_port(e.ep, IOTC_ENDPOINT_8883);
    CU_ASSERT(port > 0);
    CU_ASSERT(iotc_endpoint_port(e.ep, IOTC_ENDPOINT_443) > 0);
    json_t *ready = iotc_endpoint_ready_json(e.ep);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(ready, "ports"), "8883")),
                    port);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ready, "journal")), e.journal);
    json_decref(ready);

    struct device d;
    CU_ASSERT_EQUAL_FATAL(dev__open(&d, "embedded-01", "device-01", port), 0);
    CU_ASSERT_TRUE(dev__wait(&d, NULL, &d.connack));
    CU_ASSERT_EQUAL(d.connack, 0);
    CU_ASSERT_EQUAL(mosquitto_subscribe(d.m, NULL, "embedded/echo", 1), MOSQ_ERR_SUCCESS);
    CU_ASSERT_TRUE(dev__wait(&d, &d.subacked, NULL));
    CU_ASSERT_EQUAL(d.granted_qos, 1);
    CU_ASSERT_EQUAL(mosquitto_publish(d.m, NULL, "embedded/echo", 5, "hello", 1, false),
                    MOSQ_ERR_SUCCESS);
    CU_ASSERT_TRUE(dev__wait(&d, &d.puback, NULL));
    for (int i = 0; i < 100 && !d.got[0] && !d.closed; i++)
        mosquitto_loop(d.m, 50, 1);
    CU_ASSERT_STRING_EQUAL(d.got, "hello");
    mosquitto_disconnect(d.m);
    mosquitto_loop(d.m, 50, 1);
    mosquitto_destroy(d.m);

    /* The negative twin: a certificate the registry does not know gets no session. */
    struct device bad;
    if (dev__open(&bad, "embedded-02", "device-unregistered", port) == 0)
        dev__wait(&bad, NULL, &bad.connack);
    CU_ASSERT_NOT_EQUAL(bad.connack, 0);
    if (bad.m)
        mosquitto_destroy(bad.m);

    embedded__finish(&e);
    CU_ASSERT_EQUAL(e.run_rc, IOTC_OK);
    char *j = slurp(e.journal);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"event\":\"endpoint.ready\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"client_id\":\"embedded-01\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"event\":\"tls.refused\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"event\":\"endpoint.stop\""));
    free(j);
    embedded__cleanup_dir(&e);
}

/* A stop requested before the loop runs is kept: run returns at once. */
static void test_stop_before_run(void)
{
    struct embedded e;
    CU_ASSERT_EQUAL_FATAL(embedded__start(&e), 0);
    embedded__finish(&e);
    struct embedded e2;
    memset(&e2, 0, sizeof e2);
    snprintf(e2.dir, sizeof e2.dir, "/tmp/iotc-embedded-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(e2.dir));
    snprintf(e2.journal, sizeof e2.journal, "%s/journal.jsonl", e2.dir);
    iotc_endpoint_opts o;
    embedded__opts(&e2, &o);
    iotc_errtext err = {0};
    CU_ASSERT_EQUAL_FATAL(iotc_endpoint_open(&o, &e2.ep, &err), IOTC_OK);
    iotc_endpoint_stop(e2.ep);
    CU_ASSERT_EQUAL(iotc_endpoint_run(e2.ep, &err), IOTC_OK);
    iotc_endpoint_close(e2.ep);
    embedded__cleanup_dir(&e);
    embedded__cleanup_dir(&e2);
}

static void test_open_reports_bad_options(void)
{
    iotc_endpoint_opts o;
    iotc_endpoint *ep = NULL;
    iotc_errtext err = {0};
    iotc_endpoint_opts_init(&o);
    CU_ASSERT_EQUAL(iotc_endpoint_open(&o, &ep, &err), IOTC_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(err.msg, "options need a profile, a registry and a PKI directory");
    CU_ASSERT_PTR_NULL(ep);
    o.profile_path = "/nonexistent/profile.json";
    o.registry_path = IOTC_SOURCE_DIR "/fixtures/registry.json";
    o.pki_dir = PKI;
    CU_ASSERT_EQUAL(iotc_endpoint_open(&o, &ep, &err), IOTC_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/profile.json"));
    CU_ASSERT_PTR_NULL(ep);
    o.profile_path = IOTC_SOURCE_DIR "/fixtures/profiles/default.json";
    o.ports[IOTC_ENDPOINT_8443] = 70000;
    CU_ASSERT_EQUAL(iotc_endpoint_open(&o, &ep, &err), IOTC_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(err.msg, "port 70000 out of range");
    CU_ASSERT_PTR_NULL(ep);
    /* NULL: the caller does not want the text */
    CU_ASSERT_EQUAL(iotc_endpoint_open(&o, &ep, NULL), IOTC_ERR_INVALID);
}

static int suite_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    return mosquitto_lib_init() == MOSQ_ERR_SUCCESS ? 0 : 1;
}

static int suite_cleanup(void)
{
    mosquitto_lib_cleanup();
    return 0;
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("endpoint_embedded", suite_init, suite_cleanup);
    if (!s)
        return 1;
    if (!CU_add_test(s, "open reports bad options", test_open_reports_bad_options) ||
        !CU_add_test(s, "CONNECT, SUBSCRIBE, PUBLISH round trip in-process", test_round_trip) ||
        !CU_add_test(s, "stop before run", test_stop_before_run))
        return 1;
    return 0;
}
