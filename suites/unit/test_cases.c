/*
 * Case tables: loading, validation (every unknown key with its JSON path),
 * expansion over rows x families x TLS versions x variants, selection, and the
 * judge reporting every mismatch. Also loads the shipped suites/ tables.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/err.h"
#include "runner/cases.h"
#include "runner/judge.h"
#include "runner/mqtt_wire.h"
#include "runner/tlsc.h"

#define DATA IOTC_SOURCE_DIR "/suites/unit/data/cases/"

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
    CU_ASSERT_EQUAL(iotc_mqttw_connect("abc", buf, 8), -1);
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
    CU_ASSERT_PTR_NULL(iotc_tlsc_sni_for("none", AF_INET, "localhost"));
    CU_ASSERT_STRING_EQUAL(iotc_tlsc_sni_for("ip", AF_INET6, "localhost"), "::1");
    CU_ASSERT_STRING_EQUAL(iotc_tlsc_sni_for(NULL, AF_INET, "localhost"), "localhost");
    CU_ASSERT_STRING_EQUAL(iotc_tlsc_sni_for("iot.example.test", AF_INET, "localhost"),
                           "iot.example.test");
}

/* The shipped tables must load: a typo there must fail here, not at run time. */
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
        CU_ASSERT_EQUAL(iotc_cases_load_file(paths[i], &set, &d), IOTC_OK);
        free(paths[i]);
    }
    free(paths);
    if (d.count)
        fprintf(stderr, "%s", d.msg);
    CU_ASSERT_EQUAL(d.count, 0);
    CU_ASSERT_TRUE(set.n > 0);
    /* Every template's twin exists among the loaded templates. */
    for (size_t i = 0; i < set.n; i++) {
        const char *twin = iotc_case_str(&set.v[i], "twin");
        int found = 0;
        for (size_t j = 0; j < set.n && !found; j++)
            found = strncmp(set.v[j].template, twin, strlen(twin)) == 0;
        CU_ASSERT_TRUE(found);
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
        !CU_add_test(s, "selection", test_selection) ||
        !CU_add_test(s, "judge reports every mismatch", test_judge_reports_every_mismatch) ||
        !CU_add_test(s, "judge matchers", test_judge_matchers) ||
        !CU_add_test(s, "mqtt wire", test_mqtt_wire) ||
        !CU_add_test(s, "tls names", test_tls_names) ||
        !CU_add_test(s, "shipped tables load", test_shipped_tables_load))
        return -1;
    return 0;
}
