/*
 * unit.test_certify: template filling and shell quoting, the strict
 * catalogue and adapter loaders, the judges on hand-made journals, and the device
 * process group (a child that ignores SIGTERM and a grandchild are both gone after stop).
 */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "certify/cert_int.h"
#include "common/jevents.h"

#define CATALOGUE IOTC_SOURCE_DIR "/suites/certification.json"

static void test_template_fill(void)
{
    json_t *v = json_pack("{s:s, s:i, s:s, s:s, s:s}", "host", "localhost", "port", 8883, "alpn",
                          "", "persistent", "1", "client_id", "it's");
    char out[512];
    iotc_errtext err = {0};
    CU_ASSERT_EQUAL(
        iotc_certify_template_fill("x -h {host} -p {port}{alpn+ --alpn }{persistent? -c} "
                                   "-i {client_id} {{lit}}",
                                   v, out, sizeof(out), &err),
        0);
    CU_ASSERT_STRING_EQUAL(out, "x -h 'localhost' -p '8883' -c -i 'it'\\''s' {lit}");
    json_object_set_new(v, "alpn", json_string("x-amzn-mqtt-ca"));
    CU_ASSERT_EQUAL(iotc_certify_template_fill("{alpn+--tls-alpn }", v, out, sizeof(out), &err), 0);
    CU_ASSERT_STRING_EQUAL(out, "--tls-alpn 'x-amzn-mqtt-ca'");
    CU_ASSERT_EQUAL(iotc_certify_template_fill("{nope}", v, out, sizeof(out), &err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown placeholder {nope}"));
    CU_ASSERT_EQUAL(iotc_certify_template_fill("{host", v, out, sizeof(out), &err), -1);
    CU_ASSERT_EQUAL(iotc_certify_template_fill("a } b", v, out, sizeof(out), &err), -1);
    CU_ASSERT_EQUAL(iotc_certify_template_fill("{host}{host}{host}", v, out, 12, &err), -1);
    /* Every documented placeholder is accepted. */
    for (size_t i = 0; iotc_certify_placeholders[i]; i++) {
        char t[80];
        snprintf(t, sizeof(t), "{%s}", iotc_certify_placeholders[i]);
        CU_ASSERT_EQUAL(iotc_certify_template_fill(t, v, out, sizeof(out), &err), 0);
    }
    json_decref(v);
}

static const char *const reference_cases[] = {"TLS_Connect",
                                              "TLS_Support_AWS_IoT_Cipher_Suites",
                                              "TLS_Unsecure_Server_Cert",
                                              "TLS_Incorrect_Subject_Name_Server_Cert",
                                              "TLS_Expired_Server_Cert",
                                              "TLS_Large_Size_Server_Cert",
                                              "TLS_Receive_Maximum_Size_Fragments",
                                              "MQTT_Connect",
                                              "MQTT_Connect_Exponential_Backoff_Retries",
                                              "MQTT_Connect_Jitter_Backoff_Retries",
                                              "MQTT_ReconnectionAfterSuccessfulConnection",
                                              "MQTT_Reconnect_Backoff_Retries_On_Server_Disconnect",
                                              "MQTT_Publish",
                                              "MQTT_Publish_Retry_No_Puback",
                                              "MQTT_Client_Puback_Qos1",
                                              "MQTT_Subscribe",
                                              "MQTT_Subscribe_Retry_No_Suback",
                                              "MQTT_No_Ack_PingResp",
                                              "MQTT_Persistent_Session_Happy_Case",
                                              "MQTT_Expired_Persistent_Session",
                                              "Long_Duration",
                                              "TLS_SNI",
                                              "TLS_ALPN_443",
                                              "TLS_Versions",
                                              "MQTT_Keep_Alive",
                                              "MQTT_Clean_Session",
                                              NULL};

static void test_catalogue_shipped(void)
{
    iotc_certify_catalogue cat;
    iotc_errtext err = {0};
    iotc_diag dg;
    iotc_diag_init(&dg);
    size_t idx[64];
    int rc = iotc_certify_catalogue_load(CATALOGUE, &cat, &dg);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    if (rc)
        fprintf(stderr, "%s\n", dg.msg);
    for (size_t i = 0; reference_cases[i]; i++)
        if (!iotc_certify_catalogue_find(&cat, reference_cases[i])) {
            CU_FAIL("a catalogue case is missing");
            fprintf(stderr, "missing %s\n", reference_cases[i]);
        }
    CU_ASSERT_EQUAL(iotc_certify_catalogue_select(&cat, "qualification", idx, 64, &err), 11);
    for (size_t i = 0; i < 11; i++)
        CU_ASSERT_TRUE(cat.v[idx[i]].qualification);
    CU_ASSERT_EQUAL(iotc_certify_catalogue_select(&cat, "full", idx, 64, &err), (int)cat.n);
    CU_ASSERT_EQUAL(iotc_certify_catalogue_select(&cat, "MQTT_Connect, TLS_Connect", idx, 64, &err),
                    2);
    CU_ASSERT_EQUAL(iotc_certify_catalogue_select(&cat, "MQTT_Nope", idx, 64, &err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "MQTT_Nope"));
    iotc_certify_catalogue_free(&cat);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    fclose(f);
    return 0;
}

static void test_catalogue_strict(void)
{
    char path[] = "/tmp/iotc-cat-XXXXXX";
    iotc_diag err;
    iotc_diag_init(&err);
    iotc_certify_catalogue cat;
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    write_file(path, "{\"schema\":\"iotconform-certification\",\"version\":1,\"colour\":1,"
                     "\"suites\":{\"qualification\":[\"A\",\"Z\"]},\"cases\":["
                     "{\"id\":\"A\",\"title\":\"t\",\"judge\":\"nojudge\",\"family\":\"f\","
                     "\"verdict_rule\":\"r\",\"reference\":{\"source\":\"s\",\"text\":\"t\"},"
                     "\"budget_ms\":1000,\"extra\":true,\"scenario\":{\"withhold_everything\":1}},"
                     "{\"id\":\"A\",\"title\":\"t\",\"judge\":\"publish\",\"family\":\"f\","
                     "\"verdict_rule\":\"r\",\"reference\":{\"source\":\"s\",\"text\":\"t\"},"
                     "\"budget_ms\":5,\"params\":{\"bogus\":1},\"observe\":{\"reconnect\":1},"
                     "\"actions\":[{\"do\":\"explode\"}]},"
                     "{\"id\":\"B\",\"title\":\"t\",\"judge\":\"backoff\",\"family\":\"f\","
                     "\"verdict_rule\":\"r\",\"reference\":{\"source\":\"s\",\"text\":\"t\"},"
                     "\"budget_ms\":1000,\"params\":{\"retries\":6}}]}");
    CU_ASSERT_NOT_EQUAL(iotc_certify_catalogue_load(path, &cat, &err), 0);
    /* Every problem is reported, not only the first. */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown key \"colour\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown key \"extra\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown key \"withhold_everything\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown judge \"nojudge\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "duplicate id \"A\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "budget_ms"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no parameter \"bogus\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "\"do\" must be"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "suites.qualification[1]: unknown case"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "\"observe\" must be"));
    /* Backoff judges count delays the case declares (observe.delays), not a parameter. */
    CU_ASSERT_PTR_NOT_NULL(
        strstr(err.msg, "(B): judge backoff needs \"observe\": {\"delays\": N}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "judge backoff has no parameter \"retries\""));
    iotc_certify_catalogue_free(&cat);
    write_file(path, "{ not json");
    CU_ASSERT_NOT_EQUAL(iotc_certify_catalogue_load(path, &cat, &err), 0);
    iotc_certify_catalogue_free(&cat);
    unlink(path);
}

static void test_adapters(void)
{
    static const char *const names[] = {"refdevice",     "refdevice-mqtt5", "mosquitto_pub",
                                        "mosquitto_sub", "paho-python",     NULL};
    char why[256];
    iotc_errtext err = {0};
    iotc_diag dg;
    iotc_diag_init(&dg);
    iotc_certify_adapter a;
    iotc_certify_catalogue cat;
    CU_ASSERT_EQUAL_FATAL(iotc_certify_catalogue_load(CATALOGUE, &cat, &dg), 0);
    for (size_t i = 0; names[i]; i++) {
        int rc =
            iotc_certify_adapter_load(names[i], IOTC_SOURCE_DIR "/fixtures/adapters", &a, &err);
        CU_ASSERT_EQUAL(rc, 0);
        if (rc) {
            fprintf(stderr, "%s\n", err.msg);
            continue;
        }
        /* Every case an adapter names exists. */
        for (size_t k = 0; k < json_array_size(a.cases); k++)
            CU_ASSERT_PTR_NOT_NULL(
                iotc_certify_catalogue_find(&cat, json_string_value(json_array_get(a.cases, k))));
        iotc_certify_adapter_free(&a);
    }
    CU_ASSERT_EQUAL(
        iotc_certify_adapter_load("mosquitto_pub", IOTC_SOURCE_DIR "/fixtures/adapters", &a, &err),
        0);
    CU_ASSERT_PTR_NOT_NULL(iotc_certify_adapter_excludes(&a, "MQTT_Subscribe", why, sizeof(why)));
    CU_ASSERT_PTR_NULL(iotc_certify_adapter_excludes(&a, "MQTT_Publish", why, sizeof(why)));
    iotc_certify_adapter_free(&a);
    CU_ASSERT_NOT_EQUAL(iotc_certify_adapter_load("no-such-adapter",
                                                  IOTC_SOURCE_DIR "/fixtures/adapters", &a, &err),
                        0);
    iotc_certify_catalogue_free(&cat);
}

/* A hand-made journal: three withheld CONNACKs, constant 1 s retries. */
static void test_judge_backoff_journal(void)
{
    iotc_certify_catalogue cat;
    iotc_diag err;
    iotc_diag_init(&err);
    json_t *lines = json_array();
    double t = 0;
    CU_ASSERT_EQUAL_FATAL(iotc_certify_catalogue_load(CATALOGUE, &cat, &err), 0);
    for (int c = 1; c <= 7; c++) {
        json_array_append_new(lines, json_pack("{s:s, s:f, s:i, s:i}", IOTC_JF_EVENT,
                                               IOTC_EV_CONN_ACCEPT, IOTC_JF_T, t, IOTC_JF_CONN, c,
                                               IOTC_JF_PEER_PORT, 1000 + c));
        json_array_append_new(lines,
                              json_pack("{s:s, s:s, s:f, s:i, s:i}", IOTC_JF_EVENT, IOTC_EV_MQTT_IN,
                                        IOTC_JF_TYPE, "CONNECT", IOTC_JF_T, t + 10, IOTC_JF_CONN, c,
                                        IOTC_JF_PEER_PORT, 1000 + c));
        if (c < 7) {
            json_array_append_new(lines, json_pack("{s:s, s:s, s:f, s:i}", IOTC_JF_EVENT,
                                                   IOTC_EV_SCENARIO_WITHHELD, IOTC_JF_TYPE,
                                                   "CONNACK", IOTC_JF_T, t + 11, IOTC_JF_CONN, c));
            json_array_append_new(lines, json_pack("{s:s, s:s, s:f, s:i}", IOTC_JF_EVENT,
                                                   IOTC_EV_CONN_CLOSE, IOTC_JF_BY, "client",
                                                   IOTC_JF_T, t + 500, IOTC_JF_CONN, c));
        } else {
            json_array_append_new(lines,
                                  json_pack("{s:s, s:s, s:f, s:i, s:i}", IOTC_JF_EVENT,
                                            IOTC_EV_MQTT_OUT, IOTC_JF_TYPE, "CONNACK", IOTC_JF_T,
                                            t + 11, IOTC_JF_CONN, c, IOTC_JF_CODE, 0));
        }
        t += 1500; /* closes at +500, next accept 1.0 s later */
    }
    iotc_certify_obs obs;
    iotc_certify_ctx x;
    memset(&x, 0, sizeof(x));
    CU_ASSERT_EQUAL_FATAL(iotc_certify_obs_build(&obs, lines, NULL, 0), 0);
    x.c = iotc_certify_catalogue_find(&cat, "MQTT_Connect_Exponential_Backoff_Retries");
    x.obs = &obs;
    x.n_series = 1;
    x.scale = 1.0;
    x.final = true;
    x.observed = json_object();
    /* That case wants two series: judged on one it cannot decide. */
    iotc_certify_judge_run(&x);
    CU_ASSERT_EQUAL(x.v, IOTC_CERTIFY_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "only 1 of 2 series"));
    iotc_certify_obs series[2] = {obs, obs};
    x.obs = series;
    x.n_series = 2;
    iotc_certify_judge_run(&x);
    CU_ASSERT_EQUAL(x.v, IOTC_CERTIFY_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "1.00, 1.00, 1.00, 1.00, 1.00, 1.00 | "));
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "constant; exponential backoff expected"));
    /* Not final and nothing yet: undecided; no connection at all and final: ERROR. */
    json_decref(x.observed);
    iotc_certify_obs_free(&obs);
    iotc_certify_obs empty;
    json_t *none = json_array();
    iotc_certify_obs_build(&empty, none, NULL, 0);
    x.obs = &empty;
    x.n_series = 1;
    x.final = false;
    x.observed = json_object();
    CU_ASSERT_EQUAL(iotc_certify_judge_run(&x), IOTC_CERTIFY_UNDECIDED);
    x.final = true;
    CU_ASSERT_EQUAL(iotc_certify_judge_run(&x), IOTC_CERTIFY_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "never connected"));
    json_decref(x.observed);
    iotc_certify_obs_free(&empty);
    json_decref(none);
    json_decref(lines);
    iotc_certify_catalogue_free(&cat);
}

/* A series of withheld CONNACKs: attempt i closes 500 ms after its accept and attempt i+1
 * is accepted d[i] s later; the last attempt stays open (the device waits for its CONNACK)
 * or is closed (the device is between attempts). */
static json_t *withheld_journal(const double *d, size_t n, bool last_open)
{
    json_t *lines = json_array();
    double t = 0;
    for (size_t c = 0; c <= n; c++) {
        json_array_append_new(lines, json_pack("{s:s, s:f, s:i, s:i}", "event", "conn.accept", "t",
                                               t, "conn", (int)c + 1, "peer_port", 2000 + (int)c));
        json_array_append_new(lines, json_pack("{s:s, s:s, s:f, s:i}", "event", "mqtt.in", "type",
                                               "CONNECT", "t", t + 10, "conn", (int)c + 1));
        json_array_append_new(lines, json_pack("{s:s, s:s, s:f, s:i}", "event", "scenario.withheld",
                                               "type", "CONNACK", "t", t + 11, "conn", (int)c + 1));
        if (c < n || !last_open)
            json_array_append_new(lines,
                                  json_pack("{s:s, s:s, s:f, s:i}", "event", "conn.close", "by",
                                            "client", "t", t + 500, "conn", (int)c + 1));
        if (c < n)
            t += 500 + d[c] * 1000;
    }
    return lines;
}

/* Judges a backoff case on two identical series that ended as `how` says. */
static iotc_certify_verdict judge_two(const iotc_certify_catalogue *cat, const char *id,
                                      json_t *lines, iotc_certify_device *dev, iotc_certify_end how,
                                      iotc_certify_ctx *x)
{
    iotc_certify_obs o[2];
    memset(x, 0, sizeof(*x));
    for (int q = 0; q < 2; q++) {
        iotc_certify_obs_build(&o[q], lines, NULL, 0);
        o[q].dev = dev;
        o[q].ended = how;
        o[q].budget_ms = 240000;
    }
    x->c = iotc_certify_catalogue_find(cat, id);
    x->obs = o;
    x->n_series = 2;
    x->scale = 1.0;
    x->final = true;
    x->observed = json_object();
    iotc_certify_judge_run(x);
    json_decref(x->observed);
    for (int q = 0; q < 2; q++)
        iotc_certify_obs_free(&o[q]);
    return x->v;
}

/* The v1 SDK case of issue 11: killed by the budget while still retrying with delays
 * 1, 2, 4, 8 s: the evidence (exponential, no jitter) decides, never "stopped retrying";
 * a device that exits says so with its status; too little evidence is INCONCLUSIVE. */
static void test_judge_budget_and_exit(void)
{
    iotc_certify_catalogue cat;
    iotc_diag err;
    iotc_diag_init(&err);
    iotc_certify_ctx x;
    static const double expo[] = {1.01, 2.01, 4.01, 8.01};
    iotc_certify_device running = {
        .pid = -1, .exited = true, .status = SIGTERM, .started_ms = 0, .exited_ms = 240000};
    iotc_certify_device exited2 = {
        .pid = -1, .exited = true, .status = 2 << 8, .started_ms = 0, .exited_ms = 3120};
    iotc_certify_device segv = {
        .pid = -1, .exited = true, .status = SIGSEGV, .started_ms = 0, .exited_ms = 900};
    CU_ASSERT_EQUAL_FATAL(iotc_certify_catalogue_load(CATALOGUE, &cat, &err), 0);
    json_t *open_end = withheld_journal(expo, 4, true);

    CU_ASSERT_EQUAL(judge_two(&cat, "MQTT_Connect_Jitter_Backoff_Retries", open_end, &running,
                              IOTC_CERTIFY_END_BUDGET, &x),
                    IOTC_CERTIFY_WARN);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "exponential without jitter"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(x.reason, "the 240 s budget ended while the device was still "
                         "retrying, after 4 of the 6 delays the case observes (series 1, 2)"));
    CU_ASSERT_PTR_NULL(strstr(x.reason, "stopped"));
    CU_ASSERT_PTR_NULL(strstr(x.reason, "signal"));
    CU_ASSERT_EQUAL(judge_two(&cat, "MQTT_Connect_Exponential_Backoff_Retries", open_end, &running,
                              IOTC_CERTIFY_END_BUDGET, &x),
                    IOTC_CERTIFY_PASS);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "budget ended while the device was still retrying"));
    CU_ASSERT_PTR_NULL(strstr(x.reason, "stopped"));

    /* Same journal, but the device exited by itself: FAIL with its exit status or signal. */
    CU_ASSERT_EQUAL(judge_two(&cat, "MQTT_Connect_Jitter_Backoff_Retries", open_end, &exited2,
                              IOTC_CERTIFY_END_DEVICE, &x),
                    IOTC_CERTIFY_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "only 4 retries"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "the device exited with status 2 after 3120 ms"));
    CU_ASSERT_PTR_NULL(strstr(x.reason, "stopped retrying"));
    CU_ASSERT_EQUAL(judge_two(&cat, "MQTT_Connect_Jitter_Backoff_Retries", open_end, &segv,
                              IOTC_CERTIFY_END_DEVICE, &x),
                    IOTC_CERTIFY_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "the device was killed by signal 11 after 900 ms"));

    /* Two delays when the budget ended: nothing to decide on. */
    json_t *two = withheld_journal(expo, 2, false);
    CU_ASSERT_EQUAL(judge_two(&cat, "MQTT_Connect_Jitter_Backoff_Retries", two, &running,
                              IOTC_CERTIFY_END_BUDGET, &x),
                    IOTC_CERTIFY_INCONCLUSIVE);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "too few retries to classify"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "budget ended"));
    /* Three: 1, 2, 4 cannot tell exponential from linear; say so instead of guessing. */
    json_t *three = withheld_journal(expo, 3, false);
    CU_ASSERT_EQUAL(judge_two(&cat, "MQTT_Connect_Exponential_Backoff_Retries", three, &running,
                              IOTC_CERTIFY_END_BUDGET, &x),
                    IOTC_CERTIFY_INCONCLUSIVE);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "undetermined"));
    json_decref(three);
    CU_ASSERT_STRING_EQUAL(iotc_certify_verdict_name(x.v), "INCONCLUSIVE");
    CU_ASSERT_STRING_EQUAL(iotc_certify_verdict_status(x.v), "error");

    /* A device that never connected: its exit status, or the budget, in the reason. */
    json_t *none = json_array();
    CU_ASSERT_EQUAL(judge_two(&cat, "MQTT_Connect", none, &exited2, IOTC_CERTIFY_END_DEVICE, &x),
                    IOTC_CERTIFY_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "never connected"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "exited with status 2"));
    CU_ASSERT_EQUAL(judge_two(&cat, "MQTT_Connect", none, &running, IOTC_CERTIFY_END_BUDGET, &x),
                    IOTC_CERTIFY_ERROR);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(x.reason, "240 s budget ended while the device was still running"));
    CU_ASSERT_PTR_NULL(strstr(x.reason, "signal"));

    /* Any other judge's FAIL carries the device's exit status too. */
    json_t *one = withheld_journal(expo, 0, false);
    CU_ASSERT_EQUAL(judge_two(&cat, "MQTT_Connect", one, &exited2, IOTC_CERTIFY_END_DEVICE, &x),
                    IOTC_CERTIFY_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "the device exited with status 2"));

    json_decref(one);
    json_decref(none);
    json_decref(two);
    json_decref(open_end);
    iotc_certify_catalogue_free(&cat);
}

/* Server disconnects after CONNACK; the device reconnects d[i] s later. */
static json_t *cut_journal(const double *d, size_t n)
{
    json_t *lines = json_array();
    double t = 0;
    for (size_t c = 0; c <= n; c++) {
        int id = (int)c + 1;
        json_array_append_new(lines, json_pack("{s:s, s:f, s:i, s:i}", "event", "conn.accept", "t",
                                               t, "conn", id, "peer_port", 3000 + id));
        json_array_append_new(lines, json_pack("{s:s, s:s, s:f, s:i}", "event", "mqtt.in", "type",
                                               "CONNECT", "t", t + 10, "conn", id));
        json_array_append_new(lines,
                              json_pack("{s:s, s:s, s:f, s:i, s:i}", "event", "mqtt.out", "type",
                                        "CONNACK", "t", t + 11, "conn", id, "code", 0));
        json_array_append_new(lines, json_pack("{s:s, s:f, s:i}", "event", "scenario.disconnect",
                                               "t", t + 12, "conn", id));
        json_array_append_new(lines, json_pack("{s:s, s:s, s:f, s:i}", "event", "conn.close", "by",
                                               "server", "t", t + 13, "conn", id));
        if (c < n)
            t += 13 + d[c] * 1000;
    }
    return lines;
}

/* reconnect_min when the budget ends first: the reconnects seen decide; none in a short
 * silence is INCONCLUSIVE, none in a long one FAILs; a device that exited says so. */
static void test_reconnect_budget(void)
{
    iotc_certify_catalogue cat;
    iotc_diag err;
    iotc_diag_init(&err);
    static const double d[] = {1.5, 2.5};
    iotc_certify_device running = {
        .pid = -1, .exited = true, .status = SIGTERM, .exited_ms = 120000};
    iotc_certify_device exited1 = {.pid = -1, .exited = true, .status = 1 << 8, .exited_ms = 4000};
    CU_ASSERT_EQUAL_FATAL(iotc_certify_catalogue_load(CATALOGUE, &cat, &err), 0);
    struct {
        json_t *lines;
        iotc_certify_device *dev;
        iotc_certify_end end;
        double stop_t;
        iotc_certify_verdict want;
        const char *says;
    } t[] = {
        {cut_journal(d, 2), &running, IOTC_CERTIFY_END_BUDGET, 5000, IOTC_CERTIFY_PASS,
         "2 of the 3 reconnects the case observes"},
        {cut_journal(d, 0), &running, IOTC_CERTIFY_END_BUDGET, 5000, IOTC_CERTIFY_INCONCLUSIVE,
         "no reconnect within 5.0 s"},
        {cut_journal(d, 0), &running, IOTC_CERTIFY_END_BUDGET, 60000, IOTC_CERTIFY_FAIL,
         "no reconnect within 60.0 s"},
        {cut_journal(d, 2), &exited1, IOTC_CERTIFY_END_DEVICE, -1, IOTC_CERTIFY_FAIL,
         "the device exited with status 1 after 4000 ms"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        iotc_certify_obs o;
        iotc_certify_ctx x;
        memset(&x, 0, sizeof(x));
        iotc_certify_obs_build(&o, t[i].lines, NULL, 0);
        o.dev = t[i].dev;
        o.ended = t[i].end;
        o.budget_ms = 120000;
        o.stop_t = t[i].stop_t;
        x.c = iotc_certify_catalogue_find(&cat, "MQTT_ReconnectionAfterSuccessfulConnection");
        x.obs = &o;
        x.n_series = 1;
        x.scale = 1.0;
        x.final = true;
        x.observed = json_object();
        CU_ASSERT_EQUAL(iotc_certify_judge_run(&x), t[i].want);
        CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, t[i].says));
        CU_ASSERT_PTR_NULL(strstr(x.reason, "signal"));
        if (t[i].end == IOTC_CERTIFY_END_BUDGET)
            CU_ASSERT_PTR_NULL(strstr(x.reason, "stopped"));
        json_decref(x.observed);
        iotc_certify_obs_free(&o);
        json_decref(t[i].lines);
    }
    iotc_certify_catalogue_free(&cat);
}

/* ---- judges that follow the MQTT version of the device's CONNECT (issue 11) ---- */

static void jl_add(json_t *lines, json_t *e)
{
    json_array_append_new(lines, e);
}

/* One connection: accept, CONNECT (version, clean, keep-alive, MQTT 5 expiry), CONNACK. */
static void jl_conn(json_t *lines, int id, double t, int version, bool clean, int ka, int ka_eff,
                    int expiry, bool present)
{
    json_t *cn =
        json_pack("{s:s, s:s, s:f, s:i, s:i, s:b, s:i, s:i, s:s}", "event", "mqtt.in", "type",
                  "CONNECT", "t", t + 10, "conn", id, "version", version, "clean", clean,
                  "keepalive", ka, "keepalive_effective", ka_eff, "client_id", "dev");
    if (version == 5)
        json_object_set_new(cn, "session_expiry", json_integer(expiry));
    jl_add(lines, json_pack("{s:s, s:f, s:i, s:i}", "event", "conn.accept", "t", t, "conn", id,
                            "peer_port", 4000 + id));
    jl_add(lines, cn);
    jl_add(lines,
           json_pack("{s:s, s:s, s:f, s:i, s:i, s:b}", "event", "mqtt.out", "type", "CONNACK", "t",
                     t + 11, "conn", id, "code", 0, "session_present", present));
}

static void jl_publish(json_t *lines, int id, double t, int pid, bool dup, const char *fnv)
{
    jl_add(lines,
           json_pack("{s:s, s:s, s:f, s:i, s:i, s:i, s:b, s:s, s:i, s:s}", "event", "mqtt.in",
                     "type", "PUBLISH", "t", t, "conn", id, "qos", 1, "packet_id", pid, "dup", dup,
                     "topic", "iotc/cert/out", "payload_bytes", 30, "payload_fnv", fnv));
}

static void jl_close(json_t *lines, int id, double t, const char *by)
{
    jl_add(lines, json_pack("{s:s, s:s, s:f, s:i, s:s}", "event", "conn.close", "by", by, "t", t,
                            "conn", id, "reason", "x"));
}

/* The endpoint withholds the PUBACK and closes the connection 10 s later. */
static void jl_withheld_cut(json_t *lines, int id, double t)
{
    jl_add(lines, json_pack("{s:s, s:s, s:f, s:i}", "event", "scenario.withheld", "type", "PUBACK",
                            "t", t, "conn", id));
    jl_add(lines, json_pack("{s:s, s:f, s:i}", "event", "scenario.disconnect", "t", t + 10000,
                            "conn", id));
    jl_close(lines, id, t + 10001, "server");
}

/* The observation's now (journal clock) for judge_one; < 0: its last journal line. */
static double judge_now = -1;

static iotc_certify_verdict judge_one(const iotc_certify_catalogue *cat, const char *id,
                                      json_t *lines, bool final, iotc_certify_end end,
                                      iotc_certify_ctx *x)
{
    static iotc_certify_device running = {.pid = -1};
    iotc_certify_obs o;
    memset(x, 0, sizeof(*x));
    iotc_certify_obs_build(&o, lines, NULL, 0);
    if (judge_now >= 0)
        o.now_t = judge_now;
    o.dev = &running;
    o.ended = final ? end : IOTC_CERTIFY_END_RUNNING;
    o.budget_ms = 60000;
    x->c = iotc_certify_catalogue_find(cat, id);
    x->obs = &o;
    x->n_series = 1;
    x->scale = 1.0;
    x->final = final;
    x->observed = json_object();
    iotc_certify_judge_run(x);
    json_decref(x->observed);
    iotc_certify_obs_free(&o);
    json_decref(lines);
    return x->v;
}

/* MQTT 3.1.1 and 5 section 4.4: when a device may resend an unacknowledged PUBLISH. */
static void test_judge_retry_versions(void)
{
    iotc_certify_catalogue cat;
    iotc_diag err;
    iotc_diag_init(&err);
    iotc_certify_ctx x;
    json_t *l;
    const char *id = "MQTT_Publish_Retry_No_Puback";
    CU_ASSERT_EQUAL_FATAL(iotc_certify_catalogue_load(CATALOGUE, &cat, &err), 0);

    /* MQTT 5 waits, the endpoint cuts, the device resends on its resumed session: PASS
     * (the old judge wanted a resend on the open connection MQTT 5 forbids). */
    l = json_array();
    jl_conn(l, 1, 0, 5, true, 60, 60, 3600, false);
    jl_publish(l, 1, 100, 7, false, "aaaa0001");
    jl_withheld_cut(l, 1, 110);
    jl_conn(l, 2, 11500, 5, false, 60, 60, 3600, true);
    jl_publish(l, 2, 11520, 7, true, "aaaa0001");
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x), IOTC_CERTIFY_PASS);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "session resumed"));

    /* Its failing twin: after the reconnect only a new message, never the old one. */
    l = json_array();
    jl_conn(l, 1, 0, 5, true, 60, 60, 3600, false);
    jl_publish(l, 1, 100, 7, false, "aaaa0001");
    jl_withheld_cut(l, 1, 110);
    jl_conn(l, 2, 11500, 5, false, 60, 60, 3600, true);
    jl_publish(l, 2, 11520, 8, false, "bbbb0002");
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x),
                    IOTC_CERTIFY_UNDECIDED);
    l = json_array();
    jl_conn(l, 1, 0, 5, true, 60, 60, 3600, false);
    jl_publish(l, 1, 100, 7, false, "aaaa0001");
    jl_withheld_cut(l, 1, 110);
    jl_conn(l, 2, 11500, 5, false, 60, 60, 3600, true);
    jl_publish(l, 2, 11520, 8, false, "bbbb0002");
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, true, IOTC_CERTIFY_END_BUDGET, &x), IOTC_CERTIFY_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "never sent again"));

    /* MQTT 3.1.1, new session after the cut: the same message under a new packet id
     * delivers it (the old judge warned "only after reconnecting"). */
    l = json_array();
    jl_conn(l, 1, 0, 4, true, 60, 60, 0, false);
    jl_publish(l, 1, 100, 1, false, "cccc0003");
    jl_withheld_cut(l, 1, 110);
    jl_conn(l, 2, 12000, 4, true, 60, 60, 0, false);
    jl_publish(l, 2, 12020, 1, false, "cccc0003");
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x), IOTC_CERTIFY_PASS);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "new session"));

    /* 3.1.1 resend on the open connection with DUP: allowed, PASS. MQTT 5 doing the same
     * breaks [MQTT-4.4.0-2]: WARN. */
    l = json_array();
    jl_conn(l, 1, 0, 4, true, 60, 60, 0, false);
    jl_publish(l, 1, 100, 1, false, "cccc0003");
    jl_publish(l, 1, 5100, 1, true, "cccc0003");
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x), IOTC_CERTIFY_PASS);
    l = json_array();
    jl_conn(l, 1, 0, 5, true, 60, 60, 0, false);
    jl_publish(l, 1, 100, 1, false, "cccc0003");
    jl_publish(l, 1, 5100, 1, true, "cccc0003");
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x), IOTC_CERTIFY_WARN);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "MQTT-4.4.0-2"));

    /* The budget ended 2 s after the cut, before any reconnect: INCONCLUSIVE, not "never
     * retransmitted"; 40 s without a reconnect FAILs; exiting instead FAILs. */
    l = json_array();
    jl_conn(l, 1, 0, 5, true, 60, 60, 0, false);
    jl_publish(l, 1, 100, 1, false, "cccc0003");
    jl_withheld_cut(l, 1, 110);
    jl_add(l, json_pack("{s:s, s:f}", "event", "x", "t", 12100.0));
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, true, IOTC_CERTIFY_END_BUDGET, &x),
                    IOTC_CERTIFY_INCONCLUSIVE);
    l = json_array();
    jl_conn(l, 1, 0, 5, true, 60, 60, 0, false);
    jl_publish(l, 1, 100, 1, false, "cccc0003");
    jl_withheld_cut(l, 1, 110);
    jl_add(l, json_pack("{s:s, s:f}", "event", "x", "t", 50200.0));
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, true, IOTC_CERTIFY_END_BUDGET, &x), IOTC_CERTIFY_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "no reconnect"));
    iotc_certify_catalogue_free(&cat);
}

/* MQTT 5 section 3.2.2.3.14: the CONNACK's Server Keep Alive (AWS: 5 s -> 30 s) is the
 * keep-alive the PINGRESP judge holds the device to. */
static void test_judge_server_keepalive(void)
{
    iotc_certify_catalogue cat;
    iotc_diag err;
    iotc_diag_init(&err);
    iotc_certify_ctx x;
    json_t *l;
    const char *id = "MQTT_No_Ack_PingResp";
    CU_ASSERT_EQUAL_FATAL(iotc_certify_catalogue_load(CATALOGUE, &cat, &err), 0);
    /* The false FAIL: no PINGREQ 29.8 s after CONNACK, asked 5 s, told 30 s. */
    l = json_array();
    jl_conn(l, 1, 0, 5, true, 5, 30, 0, false);
    jl_add(l, json_pack("{s:s, s:f}", "event", "x", "t", 29811.0));
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x),
                    IOTC_CERTIFY_UNDECIDED);
    l = json_array();
    jl_conn(l, 1, 0, 5, true, 5, 30, 0, false);
    jl_add(l, json_pack("{s:s, s:f}", "event", "x", "t", 29811.0));
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, true, IOTC_CERTIFY_END_BUDGET, &x),
                    IOTC_CERTIFY_INCONCLUSIVE);
    /* Pings at 30 s, gives up 30 s later: PASS. */
    l = json_array();
    jl_conn(l, 1, 0, 5, true, 5, 30, 0, false);
    jl_add(l, json_pack("{s:s, s:s, s:f, s:i}", "event", "mqtt.in", "type", "PINGREQ", "t", 30011.0,
                        "conn", 1));
    jl_close(l, 1, 60011, "client");
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x), IOTC_CERTIFY_PASS);
    /* Failing twin: no PINGREQ within 1.5 x 30 s. */
    l = json_array();
    jl_conn(l, 1, 0, 5, true, 5, 30, 0, false);
    jl_add(l, json_pack("{s:s, s:f}", "event", "x", "t", 47000.0));
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x), IOTC_CERTIFY_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "Server Keep Alive"));
    /* MQTT 3.1.1 gets no Server Keep Alive: its own 5 s counts. */
    l = json_array();
    jl_conn(l, 1, 0, 4, true, 5, 30, 0, false);
    jl_add(l, json_pack("{s:s, s:f}", "event", "x", "t", 9000.0));
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x), IOTC_CERTIFY_FAIL);
    iotc_certify_catalogue_free(&cat);
}

/* MQTT 5 sections 3.1.2.4 / 3.1.2.11.2: clean start 1 with a session expiry on the first
 * CONNECT creates a persistent session; the session cases wait for a reconnect. */
static void test_judge_session_versions(void)
{
    iotc_certify_catalogue cat;
    iotc_diag err;
    iotc_diag_init(&err);
    iotc_certify_ctx x;
    json_t *l;
    const char *id = "MQTT_Clean_Session";
    CU_ASSERT_EQUAL_FATAL(iotc_certify_catalogue_load(CATALOGUE, &cat, &err), 0);
    /* The false FAIL: MQTT 5 clean start 1 + expiry, then clean start 0. */
    l = json_array();
    jl_conn(l, 1, 0, 5, true, 60, 60, 3600, false);
    jl_conn(l, 2, 2000, 5, false, 60, 60, 3600, true);
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x), IOTC_CERTIFY_PASS);
    /* Twins: clean start 1 on the reconnect; expiry 0. */
    l = json_array();
    jl_conn(l, 1, 0, 5, true, 60, 60, 3600, false);
    jl_conn(l, 2, 2000, 5, true, 60, 60, 3600, false);
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x), IOTC_CERTIFY_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "clean start 1 on a reconnect"));
    l = json_array();
    jl_conn(l, 1, 0, 5, false, 60, 60, 0, false);
    jl_conn(l, 2, 2000, 5, false, 60, 60, 0, false);
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x), IOTC_CERTIFY_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "expiry interval 0"));
    /* Observation window: a 3.1.1 clean session 1 device is not failed 0.1 s after its
     * first CONNECT; the case runs on until it reconnects or the budget ends, and the
     * reason says how many reconnects were seen. */
    l = json_array();
    jl_conn(l, 1, 0, 4, true, 60, 60, 0, false);
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x),
                    IOTC_CERTIFY_UNDECIDED);
    l = json_array();
    jl_conn(l, 1, 0, 4, true, 60, 60, 0, false);
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, true, IOTC_CERTIFY_END_BUDGET, &x), IOTC_CERTIFY_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "0 of the 1 reconnect"));
    l = json_array();
    jl_conn(l, 1, 0, 4, true, 60, 60, 0, false);
    jl_conn(l, 2, 2000, 4, true, 60, 60, 0, false);
    CU_ASSERT_EQUAL(judge_one(&cat, id, l, false, IOTC_CERTIFY_END_RUNNING, &x), IOTC_CERTIFY_FAIL);
    /* Persistent_Session_Happy_Case with MQTT 5 clean start 1 + expiry first: not the
     * "clean session 1" FAIL of the old judge; it waits for the resumed session. */
    l = json_array();
    jl_conn(l, 1, 0, 5, true, 60, 60, 3600, false);
    jl_add(l, json_pack("{s:s, s:s, s:f, s:i, s:i}", "event", "mqtt.out", "type", "SUBACK", "t",
                        400.0, "conn", 1, "packet_id", 1));
    CU_ASSERT_EQUAL(judge_one(&cat, "MQTT_Persistent_Session_Happy_Case", l, false,
                              IOTC_CERTIFY_END_RUNNING, &x),
                    IOTC_CERTIFY_UNDECIDED);
    iotc_certify_catalogue_free(&cat);
}

/* A quiet device does not advance the journal: judges measure their waits to the
 * observation's now, and a verdict that the observation window can no longer change
 * (no reconnect 30 s after the close) ends the case instead of the budget. */
static void test_judge_quiet_device(void)
{
    iotc_certify_catalogue cat;
    iotc_diag err;
    iotc_diag_init(&err);
    iotc_certify_ctx x;
    json_t *l;
    const char *happy = "MQTT_Persistent_Session_Happy_Case";
    CU_ASSERT_EQUAL_FATAL(iotc_certify_catalogue_load(CATALOGUE, &cat, &err), 0);
#define QUIET_TAKEN_OVER(l)                                                                        \
    do {                                                                                           \
        l = json_array();                                                                          \
        jl_conn(l, 1, 0, 4, false, 60, 60, 0, false);                                              \
        jl_add(l, json_pack("{s:s, s:s, s:f, s:i, s:i}", "event", "mqtt.out", "type", "SUBACK",    \
                            "t", 400.0, "conn", 1, "packet_id", 1));                               \
        jl_close(l, 1, 1000, "server");                                                            \
    } while (0)
    /* Taken over at 1 s, silent since: undecided at 20 s, FAIL at 40 s (not at the budget). */
    judge_now = 20000;
    QUIET_TAKEN_OVER(l);
    CU_ASSERT_EQUAL(judge_one(&cat, happy, l, false, IOTC_CERTIFY_END_RUNNING, &x),
                    IOTC_CERTIFY_UNDECIDED);
    judge_now = 40000;
    QUIET_TAKEN_OVER(l);
    CU_ASSERT_EQUAL(judge_one(&cat, happy, l, false, IOTC_CERTIFY_END_RUNNING, &x),
                    IOTC_CERTIFY_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "did not reconnect within 30 s"));
    /* Resumed, the stored message delivered at 2.1 s and never acknowledged. */
    judge_now = 5000;
    QUIET_TAKEN_OVER(l);
    jl_conn(l, 2, 2000, 4, false, 60, 60, 0, true);
    jl_add(l, json_pack("{s:s, s:s, s:f, s:i, s:i, s:i}", "event", "mqtt.out", "type", "PUBLISH",
                        "t", 2100.0, "conn", 2, "qos", 1, "packet_id", 7));
    CU_ASSERT_EQUAL(judge_one(&cat, happy, l, false, IOTC_CERTIFY_END_RUNNING, &x),
                    IOTC_CERTIFY_UNDECIDED);
    judge_now = 13000;
    QUIET_TAKEN_OVER(l);
    jl_conn(l, 2, 2000, 4, false, 60, 60, 0, true);
    jl_add(l, json_pack("{s:s, s:s, s:f, s:i, s:i, s:i}", "event", "mqtt.out", "type", "PUBLISH",
                        "t", 2100.0, "conn", 2, "qos", 1, "packet_id", 7));
    CU_ASSERT_EQUAL(judge_one(&cat, happy, l, false, IOTC_CERTIFY_END_RUNNING, &x),
                    IOTC_CERTIFY_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "not acknowledged (10.9 s observed)"));
    /* A withheld PUBACK, the endpoint's cut at 10 s, no reconnect: FAIL 30 s later. */
    judge_now = 45000;
    l = json_array();
    jl_conn(l, 1, 0, 4, true, 60, 60, 0, false);
    jl_publish(l, 1, 100, 2, false, "abc");
    jl_withheld_cut(l, 1, 101);
    CU_ASSERT_EQUAL(
        judge_one(&cat, "MQTT_Publish_Retry_No_Puback", l, false, IOTC_CERTIFY_END_RUNNING, &x),
        IOTC_CERTIFY_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x.reason, "no reconnect within"));
#undef QUIET_TAKEN_OVER
    judge_now = -1;
    iotc_certify_catalogue_free(&cat);
}

/* The group is stopped as a whole: a shell that ignores SIGTERM and its background child. */
static void test_device_group_stop(void)
{
    iotc_certify_device d;
    char log[] = "/tmp/iotc-dev-XXXXXX";
    iotc_errtext err = {0};
    int fd = mkstemp(log);
    close(fd);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    CU_ASSERT_EQUAL_FATAL(
        iotc_certify_device_start(&d, "trap '' TERM; sleep 300 & sleep 300; wait", log, &err), 0);
    pid_t pg = d.pid;
    usleep(200 * 1000);
    iotc_certify_device_poll(&d);
    CU_ASSERT_FALSE(d.exited);
    long t0 = iotc_clock_ms();
    iotc_certify_device_stop(&d, 300);
    CU_ASSERT(iotc_clock_ms() - t0 < 3000);
    CU_ASSERT_TRUE(d.exited);
    /* Nothing of the group is left: signal 0 to the group finds no one. */
    CU_ASSERT_EQUAL(kill(-pg, 0), -1);
    /* And no zombie of ours remains. */
    CU_ASSERT_EQUAL(waitpid(-pg, NULL, WNOHANG), -1);
    char how[96];
    iotc_certify_device_describe(&d, how, sizeof(how));
    CU_ASSERT_PTR_NOT_NULL(strstr(how, "signal 9"));
    /* A command that does not exist: sh reports it, exit status 127. */
    CU_ASSERT_EQUAL(iotc_certify_device_start(&d, "/nonexistent/device --flag", log, &err), 0);
    for (int i = 0; i < 100 && !d.exited; i++) {
        usleep(20 * 1000);
        iotc_certify_device_poll(&d);
    }
    CU_ASSERT_TRUE(d.exited && WIFEXITED(d.status) && WEXITSTATUS(d.status) == 127);
    iotc_certify_device_stop(&d, 100);
    unlink(log);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("certify", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "template filling", test_template_fill) ||
        !CU_add_test(s, "shipped catalogue", test_catalogue_shipped) ||
        !CU_add_test(s, "catalogue is strict", test_catalogue_strict) ||
        !CU_add_test(s, "adapters", test_adapters) ||
        !CU_add_test(s, "backoff judge on a journal", test_judge_backoff_journal) ||
        !CU_add_test(s, "budget end and device exit in reasons", test_judge_budget_and_exit) ||
        !CU_add_test(s, "reconnect judge when the budget ends", test_reconnect_budget) ||
        !CU_add_test(s, "retransmission per MQTT version", test_judge_retry_versions) ||
        !CU_add_test(s, "MQTT 5 Server Keep Alive", test_judge_server_keepalive) ||
        !CU_add_test(s, "sessions per MQTT version, observe", test_judge_session_versions) ||
        !CU_add_test(s, "a quiet device: waits measured to now", test_judge_quiet_device) ||
        !CU_add_test(s, "device group stop", test_device_group_stop))
        return -1;
    return 0;
}
