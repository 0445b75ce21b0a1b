/*
 * Case tables: loading, validation (every unknown key with its JSON path),
 * expansion over rows x families x TLS versions x variants, selection, and the
 * judge reporting every mismatch. Also loads the shipped suites/ tables.
 */
#include <CUnit/CUnit.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "cases/cases.h"
#include "cases/door_auth_case.h"
#include "cases/judge.h"
#include "client/mqtt_wire.h"
#include "client/sigv4c.h"
#include "cases/target.h"
#include "client/tlsc.h"

#define DATA IOTC_SOURCE_DIR "/tests/unit/data/cases/"

static const iotc_case *find_case(const iotc_caseset *set, const char *id)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->v[i].id, id) == 0)
            return &set->v[i];
    return NULL;
}

static void test_good_table_expands(void)
{
    iotc_caseset set = {0};
    iotc_diag d;
    iotc_diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(iotc_cases_load_file(DATA "good.json", &set, &d), IOTC_OK);
    CU_ASSERT_EQUAL(d.count, 0);
    /* plain: 2 rows x 2 families x 2 versions = 8; variant a: 1x1x1; b: 1x1x2 */
    CU_ASSERT_EQUAL(set.n, 11);

    const iotc_case *c = find_case(&set, "fixture.plain.https-x509-8443.ipv6.tls13");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->af, AF_INET6);
    CU_ASSERT_STRING_EQUAL(c->tls, "1.3");
    CU_ASSERT_STRING_EQUAL(c->template, "fixture.plain");
    CU_ASSERT_STRING_EQUAL(iotc_case_str(c, "profile"), "default");
    CU_ASSERT_STRING_EQUAL(iotc_case_str(c, "twin"), "fixture.with-variants");
    /* defaults.client merged under case.client */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(iotc_case_client(c), "sni")), "none");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(iotc_case_client(c), "cert")),
                           "device-01");
    CU_ASSERT_TRUE(iotc_case_has_label(c, "fixture-label"));
    CU_ASSERT_TRUE(iotc_case_has_label(c, "https-x509-8443"));
    CU_ASSERT_TRUE(iotc_case_has_label(c, "tls13"));
    CU_ASSERT_TRUE(iotc_case_has_label(c, "sni"));

    c = find_case(&set, "fixture.with-variants.a.mqtt-x509-443.ipv6.tls12");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(iotc_case_str(c, "title"), "Variant A");
    CU_ASSERT_STRING_EQUAL(iotc_case_str(c, "profile"), "tls12-only");
    json_t *e = iotc_case_expect(c);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "handshake")), "accepted");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "cipher")), "AES128-SHA");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(iotc_case_client(c), "cipher")),
                           "AES128-SHA");

    c = find_case(&set, "fixture.with-variants.b.mqtt-x509-443.ipv6.tls10");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(iotc_case_str(c, "title"), "Variant case");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(iotc_case_expect(c), "handshake")),
                           "refused");
    CU_ASSERT_TRUE(iotc_case_has_label(c, "variant-label"));
    CU_ASSERT_TRUE(iotc_case_has_label(c, "case-label"));
    CU_ASSERT_PTR_NOT_NULL(find_case(&set, "fixture.with-variants.b.mqtt-x509-443.ipv6.tls11"));
    CU_ASSERT_PTR_NULL(find_case(&set, "fixture.with-variants.b.mqtt-x509-443.ipv4.tls11"));
    iotc_caseset_free(&set);
}

static void test_unknown_keys_all_reported(void)
{
    iotc_caseset set = {0};
    iotc_diag d;
    iotc_diag_init(&d);
    CU_ASSERT_EQUAL(iotc_cases_load_file(DATA "unknown-keys.json", &set, &d), IOTC_ERR_CONFIG);
    CU_ASSERT_EQUAL(set.n, 0);
    CU_ASSERT_EQUAL(d.count, 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "unknown-keys.json: $.colour: unknown key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.defaults.client.snii: unknown key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[0].expect.handshak: unknown key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[1].variants[0].expct: unknown key"));
    iotc_caseset_free(&set);
}

static void test_bad_values_reported(void)
{
    iotc_caseset set = {0};
    iotc_diag d;
    iotc_diag_init(&d);
    CU_ASSERT_EQUAL(iotc_cases_load_file(DATA "bad-values.json", &set, &d), IOTC_ERR_CONFIG);
    CU_ASSERT_EQUAL(set.n, 0);
    CU_ASSERT_EQUAL(d.count, 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[0].ip_families[0]: unknown value \"ipv5\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[0].requirement.text: missing required key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[0].client.qos: expected integer"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[0].expect.handshake: unknown value \"maybe\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[1].expect.delivered: expected boolean"));
    iotc_caseset_free(&set);
}

static void test_semantic_errors(void)
{
    iotc_caseset set = {0};
    iotc_diag d;
    iotc_diag_init(&d);
    CU_ASSERT_EQUAL(iotc_cases_load_file(DATA "bad-semantics.json", &set, &d), IOTC_ERR_CONFIG);
    CU_ASSERT_EQUAL(set.n, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[0].twin: \"nowhere\" is not another case"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[1].id: \"one\" repeats $.cases[0]"));

    iotc_diag_init(&d);
    CU_ASSERT_EQUAL(iotc_cases_load_file(DATA "no-rows.json", &set, &d), IOTC_ERR_CONFIG);
    CU_ASSERT_EQUAL(set.n, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[0]: no rows"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[1].variants[0].rows[0]: unknown row"));

    iotc_diag_init(&d);
    CU_ASSERT_EQUAL(iotc_cases_load_file(DATA "not-json.json", &set, &d), IOTC_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "not-json.json:"));
    iotc_diag_init(&d);
    CU_ASSERT_EQUAL(iotc_cases_load_file(DATA "missing.json", &set, &d), IOTC_ERR_CONFIG);
    CU_ASSERT_EQUAL(d.count, 1);
    iotc_caseset_free(&set);
}

/* not_applicable: every problem reported; a good declaration reaches the caseset. */
static void test_not_applicable(void)
{
    iotc_caseset set = {0};
    iotc_diag d;
    iotc_diag_init(&d);
    CU_ASSERT_EQUAL(iotc_cases_load_file(DATA "bad-na.json", &set, &d), IOTC_ERR_CONFIG);
    CU_ASSERT_PTR_NULL(set.not_applicable);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(d.msg, "$.not_applicable[0].rows[1]: unknown row \"no-such-row\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.not_applicable[1].reason: one line"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.not_applicable[2].reason: one line"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.not_applicable[3]: family \"sni\" on row "
                                         "mqtt-x509-8883 is declared not applicable but this "
                                         "table has cases for it"));
    CU_ASSERT_EQUAL(d.count, 4);
    iotc_caseset_free(&set);

    /* The schema: unknown keys and missing fields, before any semantic check. */
    json_t *t =
        json_loads("{\"format\": \"iotconform-cases/1\", \"suite\": \"f\", \"title\": \"t\","
                   " \"cases\": [], \"not_applicable\": [{\"family\": \"alpn\", "
                   "\"reason\": \"r\", \"oops\": 1}]}",
                   0, NULL);
    iotc_diag_init(&d);
    CU_ASSERT_EQUAL(iotc_cases_validate(t, "inline", &d), IOTC_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.not_applicable[0].oops"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.not_applicable[0].rows"));
    json_decref(t);

    iotc_diag_init(&d);
    CU_ASSERT_EQUAL(iotc_cases_load_file(IOTC_SOURCE_DIR "/suites/door-cred.json", &set, &d),
                    IOTC_OK);
    CU_ASSERT_TRUE(json_array_size(set.not_applicable) > 0);
    json_t *e = json_array_get(set.not_applicable, 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "suite")), "door-cred");
    CU_ASSERT_PTR_NOT_NULL(json_string_value(json_object_get(e, "reason")));
    iotc_caseset_free(&set);
    CU_ASSERT_PTR_NULL(set.not_applicable);
}

static void test_selection(void)
{
    iotc_caseset set = {0};
    iotc_diag d;
    iotc_diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(iotc_cases_load_file(DATA "good.json", &set, &d), IOTC_OK);
    const iotc_case *c = find_case(&set, "fixture.plain.mqtt-x509-8883.ipv4.tls12");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_TRUE(iotc_case_matches(c, "mqtt-x509-8883*"));
    CU_ASSERT_TRUE(iotc_case_matches(c, "fixture.plain.*"));
    CU_ASSERT_TRUE(iotc_case_matches(c, "*.ipv4.*"));
    CU_ASSERT_TRUE(iotc_case_matches(c, "ipv4.tls12"));
    CU_ASSERT_FALSE(iotc_case_matches(c, "https-*"));
    CU_ASSERT_FALSE(iotc_case_matches(c, "plain"));
    CU_ASSERT_FALSE(iotc_case_has_label(c, "ipv6"));
    iotc_caseset_free(&set);
}

static void test_judge_reports_every_mismatch(void)
{
    json_t *expect = json_pack("{s:s, s:s, s:s, s:i, s:{s:s, s:s}, s:b, s:[s, s]}", "handshake",
                               "refused", "alert", "unrecognized_name", "connect", "refused",
                               "http_status", 400, "http_body", "message", "bad", "traceId", "*",
                               "delivered", 0, "journal_has", "tls.refused", "tls.client_hello");
    json_t *observed =
        json_pack("{s:s, s:n, s:s, s:i, s:{s:s}, s:b, s:[s]}", "handshake", "accepted", "alert",
                  "connect", "accepted", "http_status", 200, "http_body", "message", "OK",
                  "delivered", 1, "journal_events", "tls.client_hello");
    json_t *mm = json_array();
    int n = iotc_judge(expect, observed, mm);
    /* handshake, alert, connect, http_status, http_body.message, http_body.traceId,
     * delivered, journal_has[tls.refused] */
    CU_ASSERT_EQUAL(n, 8);
    CU_ASSERT_EQUAL(json_array_size(mm), 8);
    char *why = iotc_judge_reason(mm);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "handshake: expected refused, observed accepted"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "alert: expected unrecognized_name, observed none"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "http_status: expected 400, observed 200"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "http_body.traceId: expected *, observed none"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "journal_has[tls.refused]"));
    free(why);
    json_decref(mm);
    json_decref(expect);
    json_decref(observed);
}

static void test_judge_matchers(void)
{
    json_t *expect =
        json_pack("{s:[s, s], s:s, s:{s:s}, s:n}", "alert", "bad_certificate",
                  "certificate_revoked", "http_status", "4xx", "http_body", "traceId", "*", "alpn");
    json_t *observed = json_pack("{s:s, s:i, s:{s:s}, s:n, s:s, s:s}", "alert",
                                 "certificate_revoked", "http_status", 403, "http_body", "traceId",
                                 "x", "alpn", "handshake", "accepted", "server_cert", "valid");
    json_t *mm = json_array();
    CU_ASSERT_EQUAL(iotc_judge(expect, observed, mm), 0);
    /* An accepted handshake with an untrusted server certificate fails implicitly. */
    json_object_set_new(observed, "server_cert", json_string("invalid: self signed"));
    CU_ASSERT_EQUAL(iotc_judge(expect, observed, mm), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(mm, 0), "field")),
                           "server_cert");
    json_object_set_new(observed, "http_status", json_integer(500));
    json_array_clear(mm);
    CU_ASSERT_EQUAL(iotc_judge(expect, observed, mm), 2);
    json_decref(mm);
    json_decref(expect);
    json_decref(observed);
}

static void test_mqtt_wire(void)
{
    unsigned char buf[256];
    int rc = -1;
    int n = iotc_mqttw_connect("abc", buf, sizeof(buf));
    CU_ASSERT_EQUAL(n, 2 + 10 + 2 + 3);
    CU_ASSERT_EQUAL(buf[0], 0x10);
    CU_ASSERT_EQUAL(buf[1], n - 2);
    CU_ASSERT_EQUAL(memcmp(buf + 4, "MQTT", 4), 0);
    CU_ASSERT_EQUAL(iotc_mqttw_connect("abc", buf, 8), IOTC_ERR_TOO_LARGE);
    const unsigned char ok[] = {0x20, 0x02, 0x00, 0x05};
    CU_ASSERT_EQUAL(iotc_mqttw_connack(ok, 4, &rc), IOTC_OK);
    CU_ASSERT_EQUAL(rc, 5);
    CU_ASSERT_EQUAL(iotc_mqttw_connack(ok, 3, &rc), IOTC_ERR_AGAIN);
    CU_ASSERT_EQUAL(iotc_mqttw_connack((const unsigned char *)"HTTP/1.1", 8, &rc),
                    IOTC_ERR_MALFORMED);
}

static void test_tls_names(void)
{
    char buf[32];
    CU_ASSERT_STRING_EQUAL(iotc_tlsc_alert_name(112, buf, sizeof(buf)), "unrecognized_name");
    CU_ASSERT_STRING_EQUAL(iotc_tlsc_alert_name(120, buf, sizeof(buf)), "no_application_protocol");
    CU_ASSERT_STRING_EQUAL(iotc_tlsc_alert_name(70, buf, sizeof(buf)), "protocol_version");
    CU_ASSERT_STRING_EQUAL(iotc_tlsc_alert_name(200, buf, sizeof(buf)), "alert_200");
    CU_ASSERT_PTR_NULL(iotc_tlsc_sni_for("none", "127.0.0.1", "localhost"));
    CU_ASSERT_STRING_EQUAL(iotc_tlsc_sni_for("ip", "::1", "localhost"), "::1");
    CU_ASSERT_STRING_EQUAL(iotc_tlsc_sni_for(NULL, "127.0.0.1", "localhost"), "localhost");
    CU_ASSERT_STRING_EQUAL(iotc_tlsc_sni_for("iot.example.test", "127.0.0.1", "localhost"),
                           "iot.example.test");
}

static void test_door_table_errors(void)
{
    iotc_caseset set = {0};
    iotc_diag d;
    iotc_diag_init(&d);
    CU_ASSERT_EQUAL(iotc_cases_load_file(DATA "bad-door.json", &set, &d), IOTC_ERR_CONFIG);
    CU_ASSERT_EQUAL(d.count, 7);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[0].client.auth.sigv4.secrett: unknown key"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(d.msg, "$.cases[0].client.auth.sigv4.access_key: missing required key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[1].client.auth.custom.sign: unknown value"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[1].client.auth.custom.via: unknown value"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[1].expect.upgrade: unknown value"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[2].client.port: expected integer"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[2].client.auth.sigv4.tamper: unknown value"));

    iotc_diag_init(&d);
    CU_ASSERT_EQUAL(iotc_cases_load_file(DATA "bad-door-semantics.json", &set, &d),
                    IOTC_ERR_CONFIG);
    CU_ASSERT_EQUAL(set.n, 0);
    CU_ASSERT_EQUAL(d.count, 6);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[0].client.auth: exactly one of sigv4, custom"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[1].client.auth.sigv4: MQTT has no SigV4"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[2].client.auth.sigv4: tamper and date_offset_s"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[3].client.port: 443, 8443 or 8883"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[4].client.subscriber_auth: one custom object"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[5].client.auth.sigv4: a presigned GET"));
    iotc_caseset_free(&set);
}

/* Public SigV4 vectors (../shared/vectors/sigv4, Apache-2.0): the runner's own
 * signer must agree with them before its signatures judge the endpoint. */
static const char *sigv4c_sig(const char *s)
{
    const char *p = strstr(s, "Signature=");
    return p ? p + strlen("Signature=") : "";
}

static void test_sigv4c_vectors(void)
{
    static const char ak[] = "AKIDEXAMPLE";
    static const char sk[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    static const char token[] = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
    struct tm tm = {.tm_year = 115, .tm_mon = 7, .tm_mday = 30, .tm_hour = 12, .tm_min = 36};
    iotc_sigv4c_param order_key_case[] = {{"Param2", "value2"}, {"Param1", "value1"}};
    iotc_sigv4c_param post_query[] = {{"Param1", "value1"}};
    iotc_sigv4c_param token_param[] = {{"X-Amz-Security-Token", token}};
    iotc_sigv4c s = {
        ak, sk,   "us-east-1", "service", timegm(&tm), "GET", "/", "example.amazonaws.com", NULL,
        0,  NULL, NULL,        0};
    char date[IOTC_SIGV4C_DATE_LEN], auth[1024], q[2048];

    /* get-vanilla */
    CU_ASSERT_EQUAL_FATAL(iotc_sigv4c_header(&s, date, auth, sizeof(auth)), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(date, "20150830T123600Z");
    CU_ASSERT_STRING_EQUAL(auth,
                           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
                           "service/aws4_request, SignedHeaders=host;x-amz-date, "
                           "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d"
                           "763fbf31");
    CU_ASSERT_EQUAL_FATAL(iotc_sigv4c_presign(&s, 3600, q, sizeof(q)), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(sigv4c_sig(q),
                           "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d");
    CU_ASSERT_PTR_NOT_NULL(strstr(q, "X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2F"));

    /* get-vanilla-query-order-key-case */
    s.params = order_key_case;
    s.n_params = 2;
    CU_ASSERT_EQUAL(iotc_sigv4c_header(&s, date, auth, sizeof(auth)), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(sigv4c_sig(auth),
                           "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    CU_ASSERT_EQUAL(iotc_sigv4c_presign(&s, 3600, q, sizeof(q)), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(sigv4c_sig(q),
                           "86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5");
    CU_ASSERT_EQUAL(strncmp(q, "Param1=value1&Param2=value2&X-Amz-Algorithm=", 44), 0);

    /* post-vanilla, post-vanilla-query */
    s.method = "POST";
    s.params = NULL;
    s.n_params = 0;
    CU_ASSERT_EQUAL(iotc_sigv4c_header(&s, date, auth, sizeof(auth)), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(sigv4c_sig(auth),
                           "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
    s.params = post_query;
    s.n_params = 1;
    CU_ASSERT_EQUAL(iotc_sigv4c_header(&s, date, auth, sizeof(auth)), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(sigv4c_sig(auth),
                           "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");

    /* get-vanilla-with-session-token: signed header, or a signed query parameter */
    s.method = "GET";
    s.params = NULL;
    s.n_params = 0;
    s.token = token;
    CU_ASSERT_EQUAL(iotc_sigv4c_header(&s, date, auth, sizeof(auth)), IOTC_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(auth, "SignedHeaders=host;x-amz-date;x-amz-security-token,"));
    CU_ASSERT_STRING_EQUAL(sigv4c_sig(auth),
                           "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
    s.token = NULL;
    s.params = token_param;
    s.n_params = 1;
    CU_ASSERT_EQUAL(iotc_sigv4c_presign(&s, 3600, q, sizeof(q)), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(sigv4c_sig(q),
                           "7ff2b50b376cb4d151970630573d6291dc128cc5c2a12ffb237f73cc53f67b6c");

    /* get-unreserved: nothing to encode in the path */
    s.params = NULL;
    s.n_params = 0;
    s.path = "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    CU_ASSERT_EQUAL(iotc_sigv4c_header(&s, date, auth, sizeof(auth)), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(sigv4c_sig(auth),
                           "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");

    /* Bounds: encoding never overflows and says so. */
    char small[8];
    CU_ASSERT_EQUAL(iotc_sigv4c_encode("a b/c", 1, small, sizeof(small)), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(small, "a%20b/c");
    CU_ASSERT_EQUAL(iotc_sigv4c_encode("a b/c", 0, small, sizeof(small)), IOTC_ERR_TOO_LARGE);
    CU_ASSERT_EQUAL(iotc_sigv4c_presign(&s, 3600, q, 16), IOTC_ERR_TOO_LARGE);
    s.secret = NULL;
    CU_ASSERT_EQUAL(iotc_sigv4c_header(&s, date, auth, sizeof(auth)), IOTC_ERR_INVALID);
}

/* 1 if sig_b64 is a valid RSA-SHA256 signature of token with the PKI's public key. */
static int door_sig_verifies(const char *pki, const char *token, const char *sig_b64)
{
    char path[1024];
    unsigned char sig[1024];
    int ok = 0, n;
    FILE *f;
    EVP_PKEY *key;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    snprintf(path, sizeof(path), "%s/authorizer-signing.pub", pki);
    f = fopen(path, "r");
    key = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    size_t len = strlen(sig_b64);
    if (len > 4 * (sizeof(sig) / 3))
        len = 0;
    n = EVP_DecodeBlock(sig, (const unsigned char *)sig_b64, (int)len);
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    if (n > 0 && len >= 1 && sig_b64[len - 1] == '=')
        n--;
    if (n > 0 && len >= 2 && sig_b64[len - 2] == '=')
        n--;
    if (key && md && n > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1)
        ok = EVP_DigestVerify(md, sig, (size_t)n, (const unsigned char *)token, strlen(token)) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    return ok;
}

static void test_door_auth(void)
{
    iotc_caseset set = {0};
    iotc_diag d;
    iotc_env env;
    iotc_door_auth a;
    char user[2048];
    iotc_errtext err = {0};
    const char *pki = IOTC_BINARY_DIR "/pki";
    json_t *reg = json_load_file(IOTC_SOURCE_DIR "/fixtures/registry.json", 0, NULL);

    iotc_diag_init(&d);
    memset(&env, 0, sizeof(env));
    env.pki_dir = pki;
    env.registry = reg;
    CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
    CU_ASSERT_EQUAL_FATAL(iotc_cases_load_file(DATA "door-good.json", &set, &d), IOTC_OK);

    const iotc_case *c = find_case(&set, "door-fixture.sigv4.wss-sigv4-443.ipv4.tls13");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(iotc_door_auth_resolve(&env, c, &a, &err), IOTC_OK);
    CU_ASSERT_EQUAL(a.kind, IOTC_DA_SIGV4);
    CU_ASSERT_STRING_EQUAL(a.secret, "iotconform/test/secret/0002/K7MDENGbPxRfiCY");
    CU_ASSERT_STRING_EQUAL(a.token, "IQoJb3JpZ2luX2VjEXAMPLEsessiontokenIOTCONFORM");
    CU_ASSERT_STRING_EQUAL(a.service, "iotdevicegateway");
    CU_ASSERT_EQUAL(a.own_signer, 1);
    {
        /* Presigned: the token comes after the signature, outside what was signed. */
        struct iotc_buf q = {0}, h = {0};
        iotc_door_req r = {"GET", "/mqtt", "localhost:443", NULL, 0, NULL, 0, 1, 0};
        CU_ASSERT_EQUAL(iotc_door_auth_http(&a, &r, &q, &h, NULL), IOTC_OK);
        const char *sig = strstr((char *)q.p, "X-Amz-Signature=");
        const char *tok = strstr((char *)q.p, "X-Amz-Security-Token=");
        CU_ASSERT_TRUE(sig && tok && tok > sig);
        CU_ASSERT_EQUAL(h.len, 0);
        iotc_buf_free(&q);
        iotc_buf_free(&h);
    }
    c = find_case(&set, "door-fixture.sigv4.https-sigv4-443.ipv4.tls13");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(iotc_door_auth_resolve(&env, c, &a, &err), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(a.service, "iotdata");
    CU_ASSERT_EQUAL(a.own_signer, 0); /* libcurl signs HTTPS unless told otherwise */

    c = find_case(&set, "door-fixture.unknown-key.https-sigv4-443.ipv4.tls13");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(iotc_door_auth_resolve(&env, c, &a, &err), IOTC_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not in the registry"));

    if (access(IOTC_BINARY_DIR "/pki/authorizer-signing.key", R_OK) == 0) {
        c = find_case(&set, "door-fixture.custom.good.mqtt-custom-443.ipv4.tls13");
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_EQUAL(iotc_door_auth_resolve(&env, c, &a, &err), IOTC_OK);
        CU_ASSERT_TRUE(door_sig_verifies(pki, "token-alpha", a.signature));
        CU_ASSERT_EQUAL(iotc_door_auth_username(&a, IOTC_DOOR_AUTH_USER, user, sizeof(user)),
                        IOTC_OK);
        /* No name: the default authorizer; the base64 signature is URL-encoded. */
        CU_ASSERT_EQUAL(strncmp(user,
                                "iotconform?token=token-alpha&x-amz-customauthorizer-"
                                "signature=",
                                strlen("iotconform?token=token-alpha&x-amz-customauthorizer-"
                                       "signature=")),
                        0);
        CU_ASSERT_PTR_NULL(strpbrk(strchr(user, '?') + 1, "+/ "));

        c = find_case(&set, "door-fixture.custom.bad.mqtt-custom-443.ipv4.tls13");
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_EQUAL(iotc_door_auth_resolve(&env, c, &a, &err), IOTC_OK);
        CU_ASSERT_FALSE(door_sig_verifies(pki, "token-alpha", a.signature));
        CU_ASSERT_EQUAL(iotc_door_auth_username(&a, IOTC_DOOR_AUTH_USER, user, sizeof(user)),
                        IOTC_OK);
        CU_ASSERT_PTR_NOT_NULL(strstr(user, "x-amz-customauthorizer-name=token-authorizer&"));
    } else {
        fprintf(stderr, "\n  (no PKI in %s: token signing not checked)\n", pki);
    }
    iotc_caseset_free(&set);
    json_decref(reg);
}

/* The shipped tables must load: a typo there must fail here, not at run time. */
/* Target files: strict like the tables, paths relative to the file, and the
 * skip reasons that keep an external run honest about what it did not check. */
static void test_target_file(void)
{
    iotc_target t;
    iotc_caseset set = {0};
    iotc_diag d;
    iotc_env env;
    iotc_errtext why = {0};
    json_t *reg = json_load_file(IOTC_SOURCE_DIR "/fixtures/registry.json", 0, NULL);

    iotc_diag_init(&d);
    CU_ASSERT_EQUAL(iotc_target_load(DATA "target-bad.json", &t, &d), IOTC_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.hots: unknown key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.ports.9999: unknown key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.identities.device-01.key: missing required key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.features.ip_families[0]: unknown value"));
    iotc_target_free(&t);

    iotc_diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(iotc_target_load(DATA "target-good.json", &t, &d), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(t.addr4, "127.0.0.1");
    CU_ASSERT_STRING_EQUAL(t.addr6, "");
    CU_ASSERT_STRING_EQUAL(t.profile, "default");
    CU_ASSERT_PTR_NOT_NULL(strstr(t.ca, "/tests/unit/data/cases/good.json"));
    memset(&env, 0, sizeof(env));
    iotc_target_env(&t, &env);
    CU_ASSERT_EQUAL(env.port_8883, 18883);
    CU_ASSERT_EQUAL(env.port_8443, 0);
    CU_ASSERT_STRING_EQUAL(env.endpoint, "endpoint.example");
    CU_ASSERT_STRING_EQUAL(iotc_env_addr(&env, AF_INET), "127.0.0.1");

    CU_ASSERT_EQUAL_FATAL(iotc_cases_load_file(IOTC_SOURCE_DIR "/suites/x509.json", &set, &d),
                          IOTC_OK);
    const iotc_case *c = find_case(&set, "x509.connect.mqtt-x509-8883.ipv4.tls12");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(iotc_target_skip(&t, c, reg, why.msg, sizeof why.msg), 0);
    c = find_case(&set, "x509.connect.mqtt-x509-8883.ipv6.tls12");
    CU_ASSERT_EQUAL(iotc_target_skip(&t, c, reg, why.msg, sizeof why.msg), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "IPv6"));
    c = find_case(&set, "x509.cert-revoked.mqtt-x509-8883.ipv4.tls12");
    CU_ASSERT_EQUAL(iotc_target_skip(&t, c, reg, why.msg, sizeof why.msg), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "REVOKED"));
    c = find_case(&set, "x509.connect.https-x509-8443.ipv4.tls12");
    CU_ASSERT_EQUAL(iotc_target_skip(&t, c, reg, why.msg, sizeof why.msg), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "https-x509-8443"));
    c = find_case(&set, "x509.sni-optional-missing.mqtt-x509-8883.ipv4.tls12");
    CU_ASSERT_EQUAL(iotc_target_skip(&t, c, reg, why.msg, sizeof why.msg), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "profile sni-optional"));
    c = find_case(&set, "x509.sni-missing.mqtt-x509-8883.ipv4.tls12");
    json_t *dropped = NULL;
    json_t *e = iotc_target_expect(c, &dropped);
    CU_ASSERT_PTR_NULL(json_object_get(e, "journal_has"));
    CU_ASSERT_PTR_NOT_NULL(json_object_get(e, "alert"));
    CU_ASSERT_EQUAL(json_array_size(dropped), 1);
    json_decref(e);
    json_decref(dropped);
    {
        /* The tables' key name is sent as the target's own key. */
        iotc_caseset door = {0};
        iotc_door_auth a;
        CU_ASSERT_EQUAL_FATAL(iotc_cases_load_file(IOTC_SOURCE_DIR "/suites/sigv4.json", &door, &d),
                              IOTC_OK);
        c = find_case(&door, "sigv4.wss-roundtrip-qos0.wss-sigv4-443.ipv4.tls12");
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_EQUAL(iotc_target_skip(&t, c, reg, why.msg, sizeof why.msg), 0);
        CU_ASSERT_EQUAL(iotc_door_auth_resolve(&env, c, &a, &why), IOTC_OK);
        CU_ASSERT_STRING_EQUAL(a.access_key, "AKIAREAL");
        CU_ASSERT_STRING_EQUAL(a.secret, "s3cret");
        c = find_case(&door, "sigv4.wss-temporary-token.wss-sigv4-443.ipv4.tls12");
        CU_ASSERT_EQUAL(iotc_target_skip(&t, c, reg, why.msg, sizeof why.msg), 1);
        iotc_caseset_free(&door);
    }
    {
        /* Session scripts with a reference client need its identity too. */
        iotc_caseset mb = {0};
        CU_ASSERT_EQUAL_FATAL(
            iotc_cases_load_file(IOTC_SOURCE_DIR "/suites/mqtt-behaviour.json", &mb, &d), IOTC_OK);
        c = find_case(&mb, "mqtt-behaviour.persistent-session-queued.mqtt-x509-8883.ipv4.tlsany");
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_EQUAL(iotc_target_skip(&t, c, reg, why.msg, sizeof why.msg), 0);
        json_object_del(t.identities, "device-02");
        CU_ASSERT_EQUAL(iotc_target_skip(&t, c, reg, why.msg, sizeof why.msg), 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "reference client identity device-02"));
        c = find_case(&mb, "mqtt-behaviour.qos2-publish-refused.mqtt-x509-8883.ipv4.tlsany");
        CU_ASSERT_EQUAL(iotc_target_skip(&t, c, reg, why.msg, sizeof why.msg), 0);
        c = find_case(&mb, "mqtt-behaviour.keepalive-timeout.mqtt-x509-8883.ipv4.tlsany");
        CU_ASSERT_EQUAL(iotc_target_skip(&t, c, reg, why.msg, sizeof why.msg), 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "fast-timers"));
        iotc_caseset_free(&mb);
    }
    iotc_caseset_free(&set);
    iotc_target_free(&t);
    json_decref(reg);
}

/* Session scripts: one operation per step, per-row credentials resolved at
 * expansion, and the judge's dotted paths and ranges over observed.steps. */
/* The typed view is filled once at expansion, with every default resolved. */
static void test_typed_fields(void)
{
    iotc_caseset set = {0};
    iotc_diag d;
    iotc_diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(iotc_cases_load_file(DATA "typed.json", &set, &d), IOTC_OK);
    CU_ASSERT_EQUAL(set.n, 4);

    const iotc_case *c = find_case(&set, "typed.roundtrip.mqtt-x509-8883.ipv4.tls12");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->client.action, IOTC_CASE_ACT_ROUNDTRIP);
    CU_ASSERT_EQUAL(c->client.driver, IOTC_CASE_DRV_MQTT); /* not a connect: a real client */
    CU_ASSERT_EQUAL(c->client.qos, 1);
    CU_ASSERT_TRUE(c->client.retain);
    CU_ASSERT_STRING_EQUAL(c->client.payload, "p");
    CU_ASSERT_STRING_EQUAL(c->client.query, "a=b");
    CU_ASSERT_STRING_EQUAL(c->client.client_id, "fixed");
    CU_ASSERT_STRING_EQUAL(c->client.subscriber_cert, "device-03");
    CU_ASSERT_STRING_EQUAL(c->client.key, "device-01");
    CU_ASSERT_STRING_EQUAL(c->client.cipher, "AES128-SHA");
    CU_ASSERT_STRING_EQUAL(c->client.sni, "wrong");
    CU_ASSERT_PTR_NULL(c->client.cert);          /* null: no certificate, even on an X.509 row */
    CU_ASSERT_EQUAL(c->client.timeout_ms, 3000); /* outside 1..60000 */
    CU_ASSERT_EQUAL(c->client.port, 443);
    CU_ASSERT_EQUAL(json_array_size(c->client.alpn), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(c->client.alpn, 1)), "two");
    CU_ASSERT_EQUAL(c->expect.delivered, 1);
    CU_ASSERT_TRUE(c->expect.judges_delivery);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(c->expect.journal_has, 0)), "mqtt.in");
    CU_ASSERT_STRING_EQUAL(c->profile, "default");

    c = find_case(&set, "typed.refused.hello.mqtt-x509-443.ipv4.tls12");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->client.driver, IOTC_CASE_DRV_HELLO);
    CU_ASSERT_EQUAL(c->client.action, IOTC_CASE_ACT_CONNECT);
    CU_ASSERT_EQUAL(json_array_size(c->client.alpn), 0); /* null: offer none */
    CU_ASSERT_STRING_EQUAL(c->client.cert, "device-01"); /* absent on an X.509 row */
    CU_ASSERT_EQUAL(c->client.timeout_ms, 1500);
    CU_ASSERT_EQUAL(c->client.port, 443);
    CU_ASSERT_EQUAL(c->expect.delivered, 0);
    CU_ASSERT_TRUE(c->expect.judges_delivery);
    CU_ASSERT_PTR_NULL(c->expect.journal_has);
    CU_ASSERT_PTR_NULL(c->client.payload);

    c = find_case(&set, "typed.refused.auto.mqtt-x509-443.ipv4.tls12");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->client.driver, IOTC_CASE_DRV_PROBE); /* a connect on an X.509 row */
    CU_ASSERT_EQUAL(json_array_size(c->client.alpn), 1);    /* "row": the row's ALPN */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(c->client.alpn, 0)), "x-amzn-mqtt-ca");

    c = find_case(&set, "typed.refused.auto.https-sigv4-443.ipv4.tls12");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->client.driver, IOTC_CASE_DRV_HTTPS); /* the door: a real client */
    CU_ASSERT_PTR_NULL(c->client.cert);                     /* the door rows have none */
    CU_ASSERT_EQUAL(json_array_size(c->client.alpn), 0);
    CU_ASSERT_PTR_NULL(c->client.steps);
    iotc_caseset_free(&set);

    iotc_diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(
        iotc_cases_load_file(IOTC_SOURCE_DIR "/suites/mqtt-behaviour.json", &set, &d), IOTC_OK);
    c = find_case(&set, "mqtt-behaviour.qos2-publish-refused.wss-sigv4-443.ipv6.tlsany");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->client.driver, IOTC_CASE_DRV_SESSION);
    CU_ASSERT_TRUE(json_array_size(c->client.steps) > 0);
    CU_ASSERT_PTR_NOT_NULL(json_object_get(c->client.auth, "sigv4")); /* from auth_by_row */
    CU_ASSERT_EQUAL(c->client.repeat, 1);                             /* absent: one request */
    CU_ASSERT_FALSE(c->client.keep_alive);
    iotc_caseset_free(&set);

    /* HTTPS quota cases: N publishes, on one kept-alive connection or one each. */
    iotc_diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(iotc_cases_load_file(IOTC_SOURCE_DIR "/suites/throttle.json", &set, &d),
                          IOTC_OK);
    c = find_case(&set, "throttle.https-account-over.https-custom-443.ipv4.tlsany");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->client.driver, IOTC_CASE_DRV_HTTPS);
    CU_ASSERT_EQUAL(c->client.repeat, 100);
    CU_ASSERT_TRUE(c->client.keep_alive);
    CU_ASSERT_PTR_NOT_NULL(json_object_get(c->client.auth, "custom")); /* from auth_by_row */
    c = find_case(&set, "throttle.https-account-under.https-x509-443.ipv4.tlsany");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->client.repeat, 10);
    CU_ASSERT_FALSE(c->client.keep_alive);
    CU_ASSERT_STRING_EQUAL(c->profile, "throttle-account-under");
    iotc_caseset_free(&set);
}

static void test_session_tables(void)
{
    iotc_caseset set = {0};
    iotc_diag d;
    iotc_diag_init(&d);
    CU_ASSERT_EQUAL(iotc_cases_load_file(DATA "bad-session.json", &set, &d), IOTC_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[0].client.steps[0]: exactly one operation"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "$.cases[0].client.steps[2]: exactly one operation"));
    CU_ASSERT_PTR_NULL(strstr(d.msg, "steps[1]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "auth_by_row.no-such-row: unknown row"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "auth_by_row.mqtt-custom-443.sigv4: MQTT has no SigV4"));
    CU_ASSERT_EQUAL(set.n, 0);

    iotc_diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(
        iotc_cases_load_file(IOTC_SOURCE_DIR "/suites/mqtt-behaviour.json", &set, &d), IOTC_OK);
    const iotc_case *c =
        find_case(&set, "mqtt-behaviour.qos2-publish-refused.wss-sigv4-443.ipv6.tlsany");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    json_t *auth = c->client.auth;
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_object_get(auth, "sigv4"), "access_key")),
        "AKIDIOTCONFORM0001");
    CU_ASSERT_PTR_NULL(json_object_get(iotc_case_client(c), "auth_by_row"));
    c = find_case(&set, "mqtt-behaviour.qos2-publish-refused.mqtt-x509-8883.ipv4.tlsany");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_NULL(c->client.auth);
    iotc_caseset_free(&set);

    json_t *exp =
        json_pack("{s:{s:b, s:{s:i, s:i}, s:s, s:i}}", "steps", "a.closed", 1, "a.after_ms", "min",
                  300, "max", 2000, "w.json.reason", "LOST", "a.missing", 1);
    json_t *obs = json_pack("{s:{s:{s:b, s:i}, s:{s:{s:s}}}}", "steps", "a", "closed", 1,
                            "after_ms", 2500, "w", "json", "reason", "LOST");
    json_t *mm = json_array();
    CU_ASSERT_EQUAL(iotc_judge(exp, obs, mm), 2); /* after_ms out of range, a.missing absent */
    char *why = iotc_judge_reason(mm);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "steps.a.after_ms"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "steps.a.missing"));
    free(why);
    json_decref(mm);
    mm = json_array();
    json_object_set_new(json_object_get(json_object_get(obs, "steps"), "a"), "after_ms",
                        json_integer(450));
    json_object_set_new(json_object_get(json_object_get(obs, "steps"), "a"), "missing",
                        json_integer(1));
    CU_ASSERT_EQUAL(iotc_judge(exp, obs, mm), 0);
    json_decref(mm);
    json_decref(exp);
    json_decref(obs);
}

static void test_shipped_tables_load(void)
{
    char **paths = NULL;
    size_t n = 0;
    iotc_caseset set = {0};
    iotc_diag d;
    iotc_diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(iotc_cases_list_dir(IOTC_SOURCE_DIR "/suites", &paths, &n), IOTC_OK);
    CU_ASSERT_TRUE(n >= 1);
    for (size_t i = 0; i < n; i++) {
        if (iotc_cases_is_table(paths[i]))
            CU_ASSERT_EQUAL(iotc_cases_load_file(paths[i], &set, &d), IOTC_OK);
        free(paths[i]);
    }
    free(paths);
    if (d.count)
        fprintf(stderr, "%s", d.msg);
    CU_ASSERT_EQUAL(d.count, 0);
    CU_ASSERT_TRUE(set.n > 0);
    /* Every template's twin exists among the loaded templates, and expects
     * something else: a twin with the same expectation proves nothing. */
    for (size_t i = 0; i < set.n; i++) {
        const char *twin = iotc_case_str(&set.v[i], "twin");
        const iotc_case *t = NULL;
        for (size_t j = 0; j < set.n && !t; j++)
            if (strncmp(set.v[j].template, twin, strlen(twin)) == 0 &&
                (set.v[j].template[strlen(twin)] == '\0' || set.v[j].template[strlen(twin)] == '.'))
                t = &set.v[j];
        CU_ASSERT_PTR_NOT_NULL(t);
        if (t && json_equal(iotc_case_expect(t), iotc_case_expect(&set.v[i]))) {
            fprintf(stderr, "\n  %s and its twin %s expect the same\n", set.v[i].id, t->id);
            CU_FAIL("twin with the same expectation");
        }
    }
    iotc_caseset_free(&set);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("cases", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "good table expands", test_good_table_expands) ||
        !CU_add_test(s, "unknown keys all reported", test_unknown_keys_all_reported) ||
        !CU_add_test(s, "bad values reported", test_bad_values_reported) ||
        !CU_add_test(s, "semantic errors", test_semantic_errors) ||
        !CU_add_test(s, "not applicable declarations", test_not_applicable) ||
        !CU_add_test(s, "selection", test_selection) ||
        !CU_add_test(s, "judge reports every mismatch", test_judge_reports_every_mismatch) ||
        !CU_add_test(s, "judge matchers", test_judge_matchers) ||
        !CU_add_test(s, "mqtt wire", test_mqtt_wire) ||
        !CU_add_test(s, "tls names", test_tls_names) ||
        !CU_add_test(s, "door table errors", test_door_table_errors) ||
        !CU_add_test(s, "sigv4 client signer on the public vectors", test_sigv4c_vectors) ||
        !CU_add_test(s, "door credentials", test_door_auth) ||
        !CU_add_test(s, "target file", test_target_file) ||
        !CU_add_test(s, "session tables", test_session_tables) ||
        !CU_add_test(s, "typed case fields", test_typed_fields) ||
        !CU_add_test(s, "shipped tables load", test_shipped_tables_load))
        return -1;
    return 0;
}
