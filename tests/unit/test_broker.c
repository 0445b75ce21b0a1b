/*
 * The broker supervisor with a real mosquitto and the real iotc_plugin: readiness,
 * the identity stamp (accepted and every way of getting it wrong), crash + restart
 * with backoff, failed starts, clean stop, and PR_SET_PDEATHSIG. Waiting is done by
 * running the event loop under a deadline, never by sleeping.
 */
#define _GNU_SOURCE
#include "broker/broker.h"
#include "common/err.h"
#include "common/stamp.h"

#include <CUnit/CUnit.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IOTC_PLUGIN_PATH
#error "IOTC_PLUGIN_PATH must point at iotc_plugin.so"
#endif
#ifndef MOSQUITTO_BIN
#error "MOSQUITTO_BIN must point at mosquitto"
#endif

#define READY_TIMEOUT_MS 10000
#define MQ_CLOSED        (-1) /* connection closed without a CONNACK */
#define MQ_TIMEOUT       (-2)
#define MQ_NOCONNECT     (-3)

struct fx {
    struct event_base *base;
    struct iotc_broker *b;
    char dir[64];     /* mkdtemp, short: the socket path must fit in sun_path */
    char run_dir[80]; /* dir/run: created by the broker */
    json_t *events;   /* [{"event": name, "fields": {...}}, ...] in order */
    int ready_calls;
};

/* ------------------------------------------------------------------ fixture */

static void fx__on_event(void *arg, const char *event, json_t *fields)
{
    struct fx *f = arg;
    json_array_append_new(f->events, json_pack("{s:s, s:O}", "event", event, "fields", fields));
}

static void fx__on_ready(void *arg)
{
    struct fx *f = arg;
    f->ready_calls++;
}

static int fx_count(const struct fx *f, const char *event)
{
    size_t i;
    json_t *e;
    int n = 0;
    json_array_foreach(f->events, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "event")), event) == 0)
            n++;
    }
    return n;
}

/* Fields of the k-th (0-based) occurrence of event, or NULL. */
static json_t *fx_nth(const struct fx *f, const char *event, int k)
{
    size_t i;
    json_t *e;
    json_array_foreach(f->events, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "event")), event) == 0 && k-- == 0)
            return json_object_get(e, "fields");
    }
    return NULL;
}

static long fx_int(json_t *fields, const char *key)
{
    return (long)json_integer_value(json_object_get(fields, key));
}

static const char *fx_str(json_t *fields, const char *key)
{
    const char *s = json_string_value(json_object_get(fields, key));
    return s ? s : "";
}

static bool fx_init(struct fx *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/iotc-brk-XXXXXX");
    if (!mkdtemp(f->dir))
        return false;
    snprintf(f->run_dir, sizeof f->run_dir, "%s/run", f->dir);
    f->base = event_base_new();
    f->events = json_array();
    return f->base && f->events;
}

static int fx_start_with(struct fx *f, const char *bin, const char *plugin)
{
    struct iotc_broker_opts o = {
        .run_dir = f->run_dir,
        .mosquitto_bin = bin,
        .plugin_path = plugin,
        .max_packet = 128 * 1024 + 1024,
        .on_event = fx__on_event,
        .on_ready = fx__on_ready,
        .arg = f,
    };
    return iotc_broker_start(f->base, &o, &f->b);
}

static void fx_fini(struct fx *f)
{
    iotc_broker_stop(f->b);
    f->b = NULL;
    rmdir(f->run_dir); /* normally already gone */
    rmdir(f->dir);
    json_decref(f->events);
    if (f->base)
        event_base_free(f->base);
}

static void fx__on_deadline(evutil_socket_t fd, short what, void *arg)
{
    *(bool *)arg = true;
}

/* Runs the loop until cond(f, arg) holds or timeout_ms passes. */
static bool fx_wait(struct fx *f, bool (*cond)(struct fx *, long), long arg, int timeout_ms)
{
    bool expired = false;
    struct event *t = evtimer_new(f->base, fx__on_deadline, &expired);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(t, &tv);
    while (!cond(f, arg) && !expired)
        event_base_loop(f->base, EVLOOP_ONCE);
    event_free(t);
    return cond(f, arg);
}

static bool fx_is_ready(struct fx *f, long unused)
{
    return iotc_broker_is_ready(f->b);
}

static bool fx_has_exits(struct fx *f, long n)
{
    return fx_count(f, "broker.exit") >= n;
}

static bool fx_has_ready_events(struct fx *f, long n)
{
    return fx_count(f, "broker.ready") >= n;
}

/* broker.log lines in which the plugin explains a refusal. */
static int fx_refusal_lines(const struct fx *f)
{
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(f->events, i, e)
    {
        json_t *fl = json_object_get(e, "fields");
        if (strcmp(fx_str(e, "event"), "broker.log") == 0 &&
            strcmp(fx_str(fl, "level"), "plugin") == 0 &&
            strstr(fx_str(fl, "line"), "iotc_plugin: refused client '"))
            n++;
    }
    return n;
}

static bool fx_has_refusal_lines(struct fx *f, long n)
{
    return fx_refusal_lines(f) >= n;
}

static bool fx_never(struct fx *f, long unused)
{
    return false;
}

/* ------------------------------------------------------------------ MQTT client */

struct mq {
    struct mosquitto *m;
    int rc;
    bool done;
};

static void mq__on_connect(struct mosquitto *m, void *obj, int rc)
{
    struct mq *q = obj;
    q->rc = rc;
    q->done = true;
}

static void mq__on_io(evutil_socket_t fd, short what, void *arg)
{
    struct mq *q = arg;
    if (what & EV_TIMEOUT) {
        q->rc = MQ_TIMEOUT;
        q->done = true;
        return;
    }
    if (mosquitto_loop_read(q->m, 1) != MOSQ_ERR_SUCCESS && !q->done) {
        q->rc = MQ_CLOSED;
        q->done = true;
    }
}

/* Connects to the broker socket (libmosquitto: host = socket path, port 0) and
 * returns the CONNACK code, or MQ_CLOSED / MQ_TIMEOUT / MQ_NOCONNECT. */
static int mq_connect(struct fx *f, int version, const char *client_id, const char *user,
                      const char *pass)
{
    struct mq q = {.rc = MQ_NOCONNECT};
    struct event *ev = NULL;
    q.m = mosquitto_new(client_id, true, &q);
    if (!q.m)
        return MQ_NOCONNECT;
    mosquitto_int_option(q.m, MOSQ_OPT_PROTOCOL_VERSION, version);
    mosquitto_connect_callback_set(q.m, mq__on_connect);
    if (user)
        mosquitto_username_pw_set(q.m, user, pass);
    if (mosquitto_connect(q.m, iotc_broker_socket_path(f->b), 0, 60) != MOSQ_ERR_SUCCESS)
        goto cleanup;
    ev = event_new(f->base, mosquitto_socket(q.m), EV_READ | EV_PERSIST, mq__on_io, &q);
    struct timeval tv = {5, 0};
    event_add(ev, &tv);
    while (!q.done)
        event_base_loop(f->base, EVLOOP_ONCE);
    if (q.rc == 0)
        mosquitto_disconnect(q.m);
cleanup:
    if (ev)
        event_free(ev);
    mosquitto_destroy(q.m);
    return q.rc;
}

static void stamp_for(const uint8_t *secret, const char *client_id, const char *principal,
                      char out[IOTC_STAMP_LEN + 1])
{
    CU_ASSERT_EQUAL_FATAL(iotc_stamp_make(secret, IOTC_STAMP_SECRET_LEN, client_id,
                                          strlen(client_id), principal, strlen(principal), out),
                          IOTC_OK);
}

/* Connects with a correct stamp for (client_id, principal). */
static int mq_connect_stamped(struct fx *f, const char *client_id, const char *principal)
{
    char stamp[IOTC_STAMP_LEN + 1];
    stamp_for(iotc_broker_secret(f->b), client_id, principal, stamp);
    return mq_connect(f, MQTT_PROTOCOL_V311, client_id, principal, stamp);
}

static bool no_children_left(void)
{
    int status;
    return waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD;
}

static bool file_mode_is(const char *path, mode_t mode)
{
    struct stat st;
    return lstat(path, &st) == 0 && (st.st_mode & 07777) == mode;
}

static bool path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static bool file_contains(const char *path, const char *needle)
{
    char buf[4096];
    FILE *fp = fopen(path, "r");
    if (!fp)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/* ------------------------------------------------------------------ tests */

static void test_start_rejects_bad_options(void)
{
    struct fx f;
    CU_ASSERT_FATAL(fx_init(&f));
    struct iotc_broker *b = NULL;
    struct iotc_broker_opts o = {
        .run_dir = f.run_dir, .mosquitto_bin = MOSQUITTO_BIN, .plugin_path = IOTC_PLUGIN_PATH};
    CU_ASSERT_EQUAL(iotc_broker_start(f.base, &o, NULL), IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(iotc_broker_start(NULL, &o, &b), IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(iotc_broker_start(f.base, NULL, &b), IOTC_ERR_INVALID);

    o.plugin_path = "/nonexistent/iotc_plugin.so";
    CU_ASSERT_EQUAL(iotc_broker_start(f.base, &o, &b), IOTC_ERR_NOT_FOUND);
    o.plugin_path = IOTC_PLUGIN_PATH;
    o.mosquitto_bin = "/nonexistent/mosquitto";
    CU_ASSERT_EQUAL(iotc_broker_start(f.base, &o, &b), IOTC_ERR_NOT_FOUND);
    o.mosquitto_bin = MOSQUITTO_BIN;

    /* Config injection: whitespace would split the listener line. */
    char spaced[128];
    snprintf(spaced, sizeof spaced, "%s/a b", f.dir);
    o.run_dir = spaced;
    CU_ASSERT_EQUAL(iotc_broker_start(f.base, &o, &b), IOTC_ERR_INVALID);
    char newline[128];
    snprintf(newline, sizeof newline, "%s/a\nplugin /tmp/evil.so", f.dir);
    o.run_dir = newline;
    CU_ASSERT_EQUAL(iotc_broker_start(f.base, &o, &b), IOTC_ERR_INVALID);

    /* sun_path is 108 bytes. */
    char longdir[200];
    snprintf(longdir, sizeof longdir, "%s/%0100d", f.dir, 0);
    o.run_dir = longdir;
    CU_ASSERT_EQUAL(iotc_broker_start(f.base, &o, &b), IOTC_ERR_INVALID);
    CU_ASSERT_FALSE(path_exists(longdir));

    /* A symlinked run dir could aim the socket and the secret anywhere. */
    char link[128];
    snprintf(link, sizeof link, "%s/link", f.dir);
    CU_ASSERT_EQUAL_FATAL(symlink("/tmp", link), 0);
    o.run_dir = link;
    CU_ASSERT_EQUAL(iotc_broker_start(f.base, &o, &b), IOTC_ERR_INVALID);
    unlink(link);

    /* A directory others can write in is refused, and its mode is left alone. */
    char shared[128];
    snprintf(shared, sizeof shared, "%s/shared", f.dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(shared, 0700), 0);
    CU_ASSERT_EQUAL_FATAL(chmod(shared, 01777), 0);
    o.run_dir = shared;
    CU_ASSERT_EQUAL(iotc_broker_start(f.base, &o, &b), IOTC_ERR_INVALID);
    CU_ASSERT_TRUE(file_mode_is(shared, 01777));
    rmdir(shared);

    o.run_dir = f.run_dir;
    o.max_packet = (size_t)1 << 30;
    CU_ASSERT_EQUAL(iotc_broker_start(f.base, &o, &b), IOTC_ERR_INVALID);

    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT_FALSE(path_exists(f.run_dir));
    CU_ASSERT_TRUE(no_children_left());
    fx_fini(&f);
}

static void test_ready_and_private_files(void)
{
    struct fx f;
    char path[160];
    CU_ASSERT_FATAL(fx_init(&f));
    CU_ASSERT_EQUAL_FATAL(fx_start_with(&f, MOSQUITTO_BIN, IOTC_PLUGIN_PATH), IOTC_OK);
    CU_ASSERT_FALSE(iotc_broker_is_ready(f.b)); /* start returns before mosquitto is up */
    CU_ASSERT_TRUE(iotc_broker_pid(f.b) > 0);
    CU_ASSERT_TRUE_FATAL(fx_wait(&f, fx_is_ready, 0, READY_TIMEOUT_MS));

    CU_ASSERT_EQUAL(f.ready_calls, 1);
    CU_ASSERT_EQUAL(fx_count(&f, "broker.start"), 1);
    CU_ASSERT_EQUAL(fx_count(&f, "broker.ready"), 1);
    CU_ASSERT_EQUAL(fx_count(&f, "broker.exit"), 0);
    CU_ASSERT_EQUAL(fx_int(fx_nth(&f, "broker.start", 0), "pid"), iotc_broker_pid(f.b));
    CU_ASSERT_EQUAL(fx_int(fx_nth(&f, "broker.ready", 0), "pid"), iotc_broker_pid(f.b));

    struct stat st;
    CU_ASSERT_TRUE(file_mode_is(f.run_dir, 0700));
    CU_ASSERT_TRUE(lstat(iotc_broker_socket_path(f.b), &st) == 0 && S_ISSOCK(st.st_mode));
    snprintf(path, sizeof path, "%s/broker.sock", f.run_dir);
    CU_ASSERT_STRING_EQUAL(iotc_broker_socket_path(f.b), path);

    snprintf(path, sizeof path, "%s/secret", f.run_dir);
    CU_ASSERT_TRUE(file_mode_is(path, 0600));
    uint8_t secret[IOTC_STAMP_SECRET_LEN];
    CU_ASSERT_EQUAL(iotc_stamp_load_secret(path, secret), IOTC_OK);
    CU_ASSERT_EQUAL(memcmp(secret, iotc_broker_secret(f.b), sizeof secret), 0);

    snprintf(path, sizeof path, "%s/mosquitto.conf", f.run_dir);
    CU_ASSERT_TRUE(file_mode_is(path, 0600));
    CU_ASSERT_TRUE(file_contains(path, "\nallow_anonymous false\n"));
    CU_ASSERT_TRUE(file_contains(path, "\nper_listener_settings false\n"));
    CU_ASSERT_TRUE(file_contains(path, "\nmax_packet_size 132096\n"));
    char line[200];
    snprintf(line, sizeof line, "\nlistener 0 %s\n", iotc_broker_socket_path(f.b));
    CU_ASSERT_TRUE(file_contains(path, line));
    snprintf(line, sizeof line, "\nplugin_opt_secret_file %s/secret\n", f.run_dir);
    CU_ASSERT_TRUE(file_contains(path, line));
    fx_fini(&f);
}

static void test_stamp_decides_who_connects(void)
{
    struct fx f;
    char stamp[IOTC_STAMP_LEN + 1];
    CU_ASSERT_FATAL(fx_init(&f));
    CU_ASSERT_EQUAL_FATAL(fx_start_with(&f, MOSQUITTO_BIN, IOTC_PLUGIN_PATH), IOTC_OK);
    CU_ASSERT_TRUE_FATAL(fx_wait(&f, fx_is_ready, 0, READY_TIMEOUT_MS));
    const uint8_t *secret = iotc_broker_secret(f.b);

    CU_ASSERT_EQUAL(mq_connect_stamped(&f, "device-01", "thing/device-01"), 0);

    /* Each way of getting the identity wrong is refused with "not authorised". */
    stamp_for(secret, "device-01", "thing/device-01", stamp);
    stamp[10] = stamp[10] == 'a' ? 'b' : 'a';
    CU_ASSERT_EQUAL(mq_connect(&f, MQTT_PROTOCOL_V311, "device-01", "thing/device-01", stamp),
                    CONNACK_REFUSED_NOT_AUTHORIZED);
    CU_ASSERT_EQUAL(mq_connect(&f, MQTT_PROTOCOL_V311, "device-01", NULL, NULL),
                    CONNACK_REFUSED_NOT_AUTHORIZED);
    CU_ASSERT_EQUAL(mq_connect(&f, MQTT_PROTOCOL_V311, "device-01", "thing/device-01", NULL),
                    CONNACK_REFUSED_NOT_AUTHORIZED);
    CU_ASSERT_EQUAL(mq_connect(&f, MQTT_PROTOCOL_V311, "device-01", "thing/device-01", ""),
                    CONNACK_REFUSED_NOT_AUTHORIZED);
    stamp_for(secret, "device-02", "thing/device-01", stamp); /* made for another client id */
    CU_ASSERT_EQUAL(mq_connect(&f, MQTT_PROTOCOL_V311, "device-01", "thing/device-01", stamp),
                    CONNACK_REFUSED_NOT_AUTHORIZED);
    stamp_for(secret, "device-01", "thing/device-02", stamp); /* made for another principal */
    CU_ASSERT_EQUAL(mq_connect(&f, MQTT_PROTOCOL_V311, "device-01", "thing/device-01", stamp),
                    CONNACK_REFUSED_NOT_AUTHORIZED);
    uint8_t other[IOTC_STAMP_SECRET_LEN];
    memcpy(other, secret, sizeof other);
    other[0] ^= 1;
    stamp_for(other, "device-01", "thing/device-01", stamp); /* made with another secret */
    CU_ASSERT_EQUAL(mq_connect(&f, MQTT_PROTOCOL_V311, "device-01", "thing/device-01", stamp),
                    CONNACK_REFUSED_NOT_AUTHORIZED);

    /* MQTT 5 sees the same decision as reason code 0x87. */
    stamp_for(secret, "device-05", "thing/device-05", stamp);
    CU_ASSERT_EQUAL(mq_connect(&f, MQTT_PROTOCOL_V5, "device-05", "thing/device-05", stamp), 0);
    stamp[20] = stamp[20] == '0' ? '1' : '0';
    CU_ASSERT_EQUAL(mq_connect(&f, MQTT_PROTOCOL_V5, "device-05", "thing/device-05", stamp),
                    IOTC_MQTT_RC_NOT_AUTHORIZED);

    /* Refusals reach the journal as plugin lines, with the reason. */
    CU_ASSERT_TRUE(fx_wait(&f, fx_has_refusal_lines, 8, 5000));
    CU_ASSERT_EQUAL(fx_refusal_lines(&f), 8);

    /* The broker is unharmed by all that. */
    CU_ASSERT_EQUAL(mq_connect_stamped(&f, "device-01", "thing/device-01"), 0);
    CU_ASSERT_EQUAL(fx_count(&f, "broker.exit"), 0);
    fx_fini(&f);
}

static void test_restart_after_crash(void)
{
    struct fx f;
    CU_ASSERT_FATAL(fx_init(&f));
    CU_ASSERT_EQUAL_FATAL(fx_start_with(&f, MOSQUITTO_BIN, IOTC_PLUGIN_PATH), IOTC_OK);
    CU_ASSERT_TRUE_FATAL(fx_wait(&f, fx_is_ready, 0, READY_TIMEOUT_MS));
    pid_t pid1 = iotc_broker_pid(f.b);

    CU_ASSERT_EQUAL(iotc_broker_kill(f.b, SIGKILL), IOTC_OK);
    CU_ASSERT_TRUE_FATAL(fx_wait(&f, fx_has_exits, 1, 5000));
    json_t *ex = fx_nth(&f, "broker.exit", 0);
    CU_ASSERT_EQUAL(fx_int(ex, "pid"), pid1);
    CU_ASSERT_STRING_EQUAL(fx_str(ex, "status"), "killed");
    CU_ASSERT_EQUAL(fx_int(ex, "signal"), SIGKILL);
    CU_ASSERT_TRUE(json_is_true(json_object_get(ex, "ready")));
    CU_ASSERT_EQUAL(fx_int(ex, "restart_in_ms"), 100);
    /* Between the crash and the restart there is no broker to talk to. */
    CU_ASSERT_FALSE(iotc_broker_is_ready(f.b));
    CU_ASSERT_EQUAL(iotc_broker_pid(f.b), 0);
    CU_ASSERT_EQUAL(iotc_broker_kill(f.b, SIGTERM), IOTC_ERR_NOT_FOUND);
    CU_ASSERT_TRUE(kill(pid1, 0) != 0 && errno == ESRCH); /* reaped, not a zombie */

    CU_ASSERT_TRUE_FATAL(fx_wait(&f, fx_has_ready_events, 2, READY_TIMEOUT_MS));
    pid_t pid2 = iotc_broker_pid(f.b);
    CU_ASSERT_TRUE(pid2 > 0 && pid2 != pid1);
    CU_ASSERT_EQUAL(f.ready_calls, 2);
    CU_ASSERT_EQUAL(mq_connect_stamped(&f, "device-02", "thing/device-02"), 0);

    /* A second crash soon after: the backoff doubles. */
    CU_ASSERT_EQUAL(iotc_broker_kill(f.b, SIGKILL), IOTC_OK);
    CU_ASSERT_TRUE_FATAL(fx_wait(&f, fx_has_exits, 2, 5000));
    CU_ASSERT_EQUAL(fx_int(fx_nth(&f, "broker.exit", 1), "restart_in_ms"), 200);
    CU_ASSERT_TRUE_FATAL(fx_wait(&f, fx_has_ready_events, 3, READY_TIMEOUT_MS));
    CU_ASSERT_EQUAL(mq_connect_stamped(&f, "device-03", "thing/device-03"), 0);
    CU_ASSERT_EQUAL(fx_count(&f, "broker.error"), 0);
    fx_fini(&f);
    CU_ASSERT_TRUE(no_children_left());
}

static void test_failed_starts_back_off(void)
{
    struct fx f;
    char script[160];
    CU_ASSERT_FATAL(fx_init(&f));
    /* A "mosquitto" that dies at once, explaining why on stderr. */
    snprintf(script, sizeof script, "%s/fake-mosquitto", f.dir);
    FILE *fp = fopen(script, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    fputs("#!/bin/sh\necho 'Error: simulated start failure' >&2\nexit 3\n", fp);
    fclose(fp);
    chmod(script, 0700);

    CU_ASSERT_EQUAL_FATAL(fx_start_with(&f, script, IOTC_PLUGIN_PATH), IOTC_OK);
    CU_ASSERT_TRUE_FATAL(fx_wait(&f, fx_has_exits, 5, 10000));
    const long want[] = {100, 200, 400, 800, 5000};
    for (int k = 0; k < 5; k++) {
        json_t *ex = fx_nth(&f, "broker.exit", k);
        CU_ASSERT_STRING_EQUAL(fx_str(ex, "status"), "exited");
        CU_ASSERT_EQUAL(fx_int(ex, "code"), 3);
        CU_ASSERT_TRUE(json_is_false(json_object_get(ex, "ready")));
        CU_ASSERT_EQUAL(fx_int(ex, "restart_in_ms"), want[k]);
    }
    CU_ASSERT_EQUAL(fx_count(&f, "broker.error"), 1);
    json_t *err = fx_nth(&f, "broker.error", 0);
    CU_ASSERT_EQUAL(fx_int(err, "failures"), 5);
    CU_ASSERT_STRING_EQUAL(fx_str(err, "last_line"), "Error: simulated start failure");
    CU_ASSERT_EQUAL(fx_count(&f, "broker.ready"), 0);
    CU_ASSERT_EQUAL(f.ready_calls, 0);
    /* Every death was explained in the journal before its broker.exit. */
    CU_ASSERT_TRUE(fx_count(&f, "broker.log") >= 5);
    CU_ASSERT_STRING_EQUAL(fx_str(fx_nth(&f, "broker.log", 0), "line"),
                           "Error: simulated start failure");
    CU_ASSERT_STRING_EQUAL(fx_str(fx_nth(&f, "broker.log", 0), "level"), "error");
    /* Stopping during the 5 s wait cancels the pending restart. */
    fx_fini(&f);
    unlink(script);
    rmdir(f.dir);
    CU_ASSERT_TRUE(no_children_left());
}

static void test_stop_leaves_nothing(void)
{
    struct fx f;
    char secret_path[160], conf_path[160], sock_path[160];
    CU_ASSERT_FATAL(fx_init(&f));
    CU_ASSERT_EQUAL_FATAL(fx_start_with(&f, MOSQUITTO_BIN, IOTC_PLUGIN_PATH), IOTC_OK);
    CU_ASSERT_TRUE_FATAL(fx_wait(&f, fx_is_ready, 0, READY_TIMEOUT_MS));
    pid_t pid = iotc_broker_pid(f.b);
    snprintf(sock_path, sizeof sock_path, "%s", iotc_broker_socket_path(f.b));
    snprintf(secret_path, sizeof secret_path, "%s/secret", f.run_dir);
    snprintf(conf_path, sizeof conf_path, "%s/mosquitto.conf", f.run_dir);

    /* Right after readiness is when mosquitto 2.0.11 can lose a SIGTERM: stop must
     * still be quick (it repeats the signal) rather than wait for its SIGKILL. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    iotc_broker_stop(f.b);
    f.b = NULL;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CU_ASSERT_TRUE((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2000);
    CU_ASSERT_TRUE(kill(pid, 0) != 0 && errno == ESRCH);
    int status;
    CU_ASSERT_TRUE(waitpid(pid, &status, WNOHANG) < 0 && errno == ECHILD);
    CU_ASSERT_TRUE(no_children_left());
    CU_ASSERT_FALSE(path_exists(sock_path));
    CU_ASSERT_FALSE(path_exists(secret_path));
    CU_ASSERT_FALSE(path_exists(conf_path));
    CU_ASSERT_FALSE(path_exists(f.run_dir));         /* we created it, so we remove it */
    CU_ASSERT_EQUAL(fx_count(&f, "broker.exit"), 0); /* a stop is not a crash */

    /* Stop in the window between a crash and its restart. */
    CU_ASSERT_EQUAL_FATAL(fx_start_with(&f, MOSQUITTO_BIN, IOTC_PLUGIN_PATH), IOTC_OK);
    CU_ASSERT_TRUE_FATAL(fx_wait(&f, fx_has_ready_events, 2, READY_TIMEOUT_MS));
    CU_ASSERT_EQUAL(iotc_broker_kill(f.b, SIGKILL), IOTC_OK);
    CU_ASSERT_TRUE_FATAL(fx_wait(&f, fx_has_exits, 1, 5000));
    iotc_broker_stop(f.b);
    f.b = NULL;
    fx_wait(&f, fx_never, 0, 300); /* a leaked restart timer would fire here */
    CU_ASSERT_EQUAL(fx_count(&f, "broker.start"), 2);
    CU_ASSERT_TRUE(no_children_left());
    CU_ASSERT_FALSE(path_exists(f.run_dir));
    fx_fini(&f);
}

/* Runs mosquitto with conf (not through the supervisor) and collects its output
 * until it exits; returns its exit status or -1 when it is still running after 10 s. */
struct run {
    struct evbuffer *out;
    bool eof;
};

static void run__on_read(struct bufferevent *bev, void *arg)
{
    struct run *r = arg;
    evbuffer_add_buffer(r->out, bufferevent_get_input(bev));
}

static void run__on_event(struct bufferevent *bev, short what, void *arg)
{
    struct run *r = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        r->eof = true;
}

static bool run__done(struct fx *f, long arg)
{
    return ((struct run *)arg)->eof;
}

static int run_mosquitto(struct fx *f, const char *conf, char *out, size_t outsz)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        execl(MOSQUITTO_BIN, MOSQUITTO_BIN, "-c", conf, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    struct run r = {.out = evbuffer_new()};
    evutil_make_socket_nonblocking(fds[0]);
    struct bufferevent *bev = bufferevent_socket_new(f->base, fds[0], BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, run__on_read, NULL, run__on_event, &r);
    bufferevent_enable(bev, EV_READ);
    bool exited = fx_wait(f, run__done, (long)&r, 10000);
    evbuffer_add_buffer(r.out, bufferevent_get_input(bev));
    size_t n = evbuffer_remove(r.out, out, outsz - 1);
    out[n > 0 ? n : 0] = '\0';
    bufferevent_free(bev);
    evbuffer_free(r.out);
    int status = 0;
    if (!exited)
        kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, data, len), (ssize_t)len);
    fchmod(fd, mode);
    close(fd);
}

static void test_plugin_refuses_to_start_without_good_secret(void)
{
    struct fx f;
    char conf[160], secret[160], sock[160], text[1024], out[8192];
    uint8_t bytes[IOTC_STAMP_SECRET_LEN] = {1, 2, 3};
    CU_ASSERT_FATAL(fx_init(&f));
    snprintf(conf, sizeof conf, "%s/m.conf", f.dir);
    snprintf(secret, sizeof secret, "%s/secret", f.dir);
    snprintf(sock, sizeof sock, "%s/s.sock", f.dir);
    const char *common = "per_listener_settings false\nuser root\nallow_anonymous false\n"
                         "log_dest stderr\nlog_type error\nlog_type information\n"
                         "log_timestamp false\n";

    /* No plugin_opt_secret_file at all. */
    int n =
        snprintf(text, sizeof text, "%slistener 0 %s\nplugin %s\n", common, sock, IOTC_PLUGIN_PATH);
    write_file(conf, text, (size_t)n, 0600);
    CU_ASSERT_NOT_EQUAL(run_mosquitto(&f, conf, out, sizeof out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "plugin_opt_secret_file is required"));
    CU_ASSERT_PTR_NULL(strstr(out, " running"));

    /* A secret others can read. */
    n = snprintf(text, sizeof text, "%slistener 0 %s\nplugin %s\nplugin_opt_secret_file %s\n",
                 common, sock, IOTC_PLUGIN_PATH, secret);
    write_file(conf, text, (size_t)n, 0600);
    write_file(secret, bytes, sizeof bytes, 0644);
    CU_ASSERT_NOT_EQUAL(run_mosquitto(&f, conf, out, sizeof out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "mode 0600"));

    /* A secret of the wrong length. */
    write_file(secret, bytes, sizeof bytes / 2, 0600);
    CU_ASSERT_NOT_EQUAL(run_mosquitto(&f, conf, out, sizeof out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "want 32 bytes"));

    /* A missing secret file. */
    unlink(secret);
    CU_ASSERT_NOT_EQUAL(run_mosquitto(&f, conf, out, sizeof out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cannot stat secret file"));

    unlink(conf);
    unlink(sock);
    fx_fini(&f);
    CU_ASSERT_TRUE(no_children_left());
}

struct pdeath {
    pid_t pid;
    bool reaped;
};

static bool pdeath__reaped(struct fx *f, long arg)
{
    struct pdeath *d = (struct pdeath *)arg;
    int status;
    if (!d->reaped && waitpid(d->pid, &status, WNOHANG) == d->pid)
        d->reaped = true;
    return d->reaped;
}

/* The broker must not outlive serve, even when serve is SIGKILLed and cannot stop it.
 * A child process plays serve; this process becomes the subreaper so the orphaned
 * mosquitto is reparented here and can be reaped (and so seen to exit). */
static void test_broker_dies_with_its_parent(void)
{
    struct fx f;
    int fds[2];
    CU_ASSERT_FATAL(fx_init(&f));
    CU_ASSERT_EQUAL_FATAL(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
    pid_t serve = fork();
    CU_ASSERT_TRUE_FATAL(serve >= 0);
    if (serve == 0) {
        close(fds[0]);
        struct event_base *base = event_base_new();
        struct iotc_broker *b = NULL;
        struct iotc_broker_opts o = {
            .run_dir = f.run_dir, .mosquitto_bin = MOSQUITTO_BIN, .plugin_path = IOTC_PLUGIN_PATH};
        if (!base || iotc_broker_start(base, &o, &b) != IOTC_OK)
            _exit(1);
        while (!iotc_broker_is_ready(b))
            event_base_loop(base, EVLOOP_ONCE);
        pid_t mpid = iotc_broker_pid(b);
        if (write(fds[1], &mpid, sizeof mpid) != sizeof mpid)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    pid_t mpid = 0;
    /* Bounded by ctest's timeout; the child writes as soon as the broker is ready. */
    CU_ASSERT_EQUAL(read(fds[0], &mpid, sizeof mpid), (ssize_t)sizeof mpid);
    close(fds[0]);
    kill(serve, SIGKILL);
    int status;
    waitpid(serve, &status, 0);
    CU_ASSERT_TRUE_FATAL(mpid > 0);

    /* Poll under the loop's deadline: the orphan is not ours until reparented. */
    struct event *tick = event_new(f.base, -1, EV_PERSIST, fx__on_deadline, &(bool){false});
    struct timeval step = {0, 20 * 1000};
    event_add(tick, &step);
    struct pdeath d = {.pid = mpid};
    CU_ASSERT_TRUE(fx_wait(&f, pdeath__reaped, (long)&d, 5000));
    event_free(tick);
    if (kill(mpid, 0) == 0) {
        kill(mpid, SIGKILL);
        waitpid(mpid, &status, 0);
    }
    CU_ASSERT_TRUE(no_children_left());

    /* serve could not clean up: do it for it. */
    char p[160];
    const char *names[] = {"broker.sock", "secret", "mosquitto.conf"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", f.run_dir, names[i]);
        unlink(p);
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    fx_fini(&f);
}

/* ------------------------------------------------------------------ registration */

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
    CU_pSuite s = CU_add_suite("broker", suite_init, suite_cleanup);
    if (!s)
        return 1;
    if (!CU_add_test(s, "start rejects bad options", test_start_rejects_bad_options) ||
        !CU_add_test(s, "ready, private files", test_ready_and_private_files) ||
        !CU_add_test(s, "stamp decides who connects", test_stamp_decides_who_connects) ||
        !CU_add_test(s, "restart after crash", test_restart_after_crash) ||
        !CU_add_test(s, "failed starts back off", test_failed_starts_back_off) ||
        !CU_add_test(s, "stop leaves nothing", test_stop_leaves_nothing) ||
        !CU_add_test(s, "plugin refuses to start without a good secret",
                     test_plugin_refuses_to_start_without_good_secret) ||
        !CU_add_test(s, "broker dies with its parent", test_broker_dies_with_its_parent))
        return 1;
    return 0;
}
