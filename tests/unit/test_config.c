/* Profile and registry loading: defaults, bounds, and errors that name file and key path. */
#include "config/profile.h"
#include "config/registry.h"
#include "common/err.h"
#include "common/errtext.h"
#include "endpoint/mqtt_rules.h"
#include "endpoint/throttle.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp_path[256];

static const char *write_tmp(const char *text)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/iotc-test-config-%d.json", (int)getpid());
    FILE *f = fopen(tmp_path, "w");
    fputs(text, f);
    fclose(f);
    return tmp_path;
}

static void expect_profile_error(const char *json, const char *needle)
{
    struct iotc_profile p;
    iotc_errtext err = {{0}};
    int rc = iotc_profile_load(write_tmp(json), &p, &err);
    CU_ASSERT_EQUAL(rc, IOTC_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, tmp_path));
    if (!strstr(err.msg, needle))
        fprintf(stderr, "\nexpected '%s' in '%s'\n", needle, err.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, needle));
    unlink(tmp_path);
}

static void test_default_profile(void)
{
    struct iotc_profile p;
    iotc_errtext err;
    int rc = iotc_profile_load(IOTC_SOURCE_DIR "/fixtures/profiles/default.json", &p, &err);
    CU_ASSERT_EQUAL_FATAL(rc, IOTC_OK);
    CU_ASSERT_EQUAL(p.policy, IOTC_POLICY_TLS13_1_2);
    CU_ASSERT_TRUE(p.sni_required);
    CU_ASSERT_EQUAL(p.ports[IOTC_PORT_8883], 8883);
    CU_ASSERT_EQUAL(p.ports[IOTC_PORT_443], 443);
    CU_ASSERT_EQUAL(p.limits.max_client_id_bytes, 128);
    CU_ASSERT_EQUAL(p.limits.max_payload_bytes, 131072);
    CU_ASSERT_EQUAL(p.limits.keepalive_min_s, 30);
    CU_ASSERT_EQUAL(p.limits.keepalive_max_s, 1200);
    /* AWS's message-broker quotas (us-east-1), the per-client-ID CONNECT quota included. */
    CU_ASSERT_EQUAL(p.limits.publish_per_s, 100);
    CU_ASSERT_EQUAL(p.limits.throughput_bytes_per_s, 512 * 1024);
    CU_ASSERT_EQUAL(p.limits.account_connect_per_s, 500);
    CU_ASSERT_EQUAL(p.limits.account_publish_per_s, 20000);
    CU_ASSERT_EQUAL(p.limits.connect_per_s_per_client_id, 1);
    CU_ASSERT_TRUE(iotc_profile_name_known(&p, "localhost"));
    CU_ASSERT_TRUE(iotc_profile_name_known(&p, "IOT.example.test"));
    CU_ASSERT_FALSE(iotc_profile_name_known(&p, "127.0.0.1"));
    CU_ASSERT_FALSE(iotc_profile_name_known(&p, NULL));
    iotc_profile_free(&p);
}

static void test_every_fixture_profile_loads(void)
{
    const char *names[] = {"default", "tls13-only", "tls12-only", "sni-optional", "fast-timers"};
    enum iotc_tls_policy want[] = {IOTC_POLICY_TLS13_1_2, IOTC_POLICY_TLS13_1_3,
                                   IOTC_POLICY_TLS12_1_2, IOTC_POLICY_TLS13_1_2,
                                   IOTC_POLICY_TLS13_1_2};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, IOTC_SOURCE_DIR "/fixtures/profiles/%s.json", names[i]);
        struct iotc_profile p;
        iotc_errtext err;
        CU_ASSERT_EQUAL_FATAL(iotc_profile_load(path, &p, &err), IOTC_OK);
        CU_ASSERT_EQUAL(p.policy, want[i]);
        CU_ASSERT_STRING_EQUAL(p.name, names[i]);
        iotc_profile_free(&p);
    }
}

static void test_profile_errors(void)
{
    expect_profile_error("{", "expected near end of file");
    expect_profile_error("[]", "$: must be a JSON object");
    expect_profile_error("{\"endpoint_names\":[\"a\"],\"colour\":1}", "unknown key 'colour'");
    expect_profile_error("{\"endpoint_names\":[\"a\"],\"security_policy\":\"TLS10\"}",
                         "$.security_policy");
    expect_profile_error("{\"endpoint_names\":[\"a\"],\"sni\":\"maybe\"}", "$.sni");
    expect_profile_error("{}", "$.endpoint_names");
    expect_profile_error("{\"endpoint_names\":[\"\"]}", "endpoint_names[0]");
    expect_profile_error("{\"endpoint_names\":[\"a\"],\"limits\":{\"max_topic_bytes\":0}}",
                         "$.limits: max_topic_bytes: must be an integer in 1..65535");
    expect_profile_error("{\"endpoint_names\":[\"a\"],\"limits\":{\"max_topic_bytes\":\"x\"}}",
                         "max_topic_bytes");
    expect_profile_error("{\"endpoint_names\":[\"a\"],\"limits\":{\"nope\":1}}",
                         "$.limits: unknown key 'nope'");
    expect_profile_error("{\"endpoint_names\":[\"a\"],\"ports\":{\"1883\":1}}", "$.ports");
    expect_profile_error("{\"endpoint_names\":[\"a\"],\"ports\":{\"8883\":70000}}", "0..65535");
    expect_profile_error("{\"endpoint_names\":[\"a\"],\"time_scale\":0}", "$.time_scale");
    expect_profile_error(
        "{\"endpoint_names\":[\"a\"],\"limits\":{\"keepalive_min_s\":100,\"keepalive_max_s\":50}}",
        "keepalive_min_s exceeds");
}

/* A profile that does not name the per-client-ID CONNECT quota gets AWS's 1/s. */
static void test_throttle_defaults(void)
{
    struct iotc_profile p;
    iotc_errtext err;
    CU_ASSERT_EQUAL_FATAL(iotc_profile_load(write_tmp("{\"endpoint_names\":[\"a\"]}"), &p, &err),
                          IOTC_OK);
    CU_ASSERT_EQUAL(p.limits.connect_per_s_per_client_id, 1);
    iotc_profile_free(&p);
    unlink(tmp_path);
    expect_profile_error("{\"endpoint_names\":[\"a\"],\"limits\":{\"publish_per_s\":-1}}",
                         "$.limits: publish_per_s: must be an integer in 0..");
}

/* Token buckets: a burst up to the rate passes, then the refill rate; 0 = unlimited. */
static void test_token_bucket(void)
{
    struct iotc_bucket b = {0};
    int passed = 0;
    for (int i = 0; i < 20; i++)
        passed += iotc_bucket_take(&b, 10, 1, 1000.0);
    CU_ASSERT_EQUAL(passed, 10);
    CU_ASSERT_FALSE(iotc_bucket_take(&b, 10, 1, 1050.0)); /* half a token back */
    CU_ASSERT_TRUE(iotc_bucket_take(&b, 10, 1, 1100.0));  /* one token back */
    CU_ASSERT_FALSE(iotc_bucket_take(&b, 10, 1, 1100.0));
    /* After a long pause it holds one second's worth, not more. */
    passed = 0;
    for (int i = 0; i < 20; i++)
        passed += iotc_bucket_take(&b, 10, 1, 60000.0);
    CU_ASSERT_EQUAL(passed, 10);
    /* Bytes: one packet larger than a second's worth passes when the bucket is full. */
    struct iotc_bucket bytes = {0};
    CU_ASSERT_TRUE(iotc_bucket_take(&bytes, 1000, 1500, 5.0));
    CU_ASSERT_FALSE(iotc_bucket_take(&bytes, 1000, 10, 5.0));
    struct iotc_bucket off = {0};
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_TRUE(iotc_bucket_take(&off, 0, 1, 1.0));
}

static void test_profile_missing_file(void)
{
    struct iotc_profile p;
    iotc_errtext err;
    CU_ASSERT_EQUAL(iotc_profile_load("/nonexistent/profile.json", &p, &err), IOTC_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/profile.json"));
}

static const char *pki(void)
{
    return IOTC_BINARY_DIR "/pki";
}

static void test_registry_fixture(void)
{
    struct iotc_registry r;
    iotc_errtext err;
    int rc = iotc_registry_load(IOTC_SOURCE_DIR "/fixtures/registry.json", pki(), &r, &err);
    if (rc)
        fprintf(stderr, "\n%s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, IOTC_OK);
    CU_ASSERT_EQUAL(r.ca_count, 2);
    CU_ASSERT_TRUE(r.cert_count >= 8);
    /* Lookup by fingerprint finds each registered certificate with its status. */
    for (size_t i = 0; i < r.cert_count; i++) {
        const struct iotc_reg_cert *c = iotc_registry_find_cert(&r, r.certs[i].sha256);
        CU_ASSERT_PTR_EQUAL(c, &r.certs[i]);
        CU_ASSERT_EQUAL(strlen(c->id), 64);
    }
    uint8_t zero[32] = {0};
    CU_ASSERT_PTR_NULL(iotc_registry_find_cert(&r, zero));
    bool saw_revoked = false, saw_noca = false;
    for (size_t i = 0; i < r.cert_count; i++) {
        saw_revoked |= r.certs[i].status == IOTC_CERT_REVOKED;
        saw_noca |= r.certs[i].ca == NULL;
    }
    CU_ASSERT_TRUE(saw_revoked);
    CU_ASSERT_TRUE(saw_noca);
    /* SigV4 credential state: IAM key status and STS expiration. */
    const struct iotc_reg_credential *k = iotc_registry_find_credential(&r, "AKIDIOTCONFORM0001");
    CU_ASSERT_TRUE(k && !k->inactive && k->expires_at == 0);
    k = iotc_registry_find_credential(&r, "AKIDIOTCONFORM0004");
    CU_ASSERT_TRUE(k && k->inactive);
    k = iotc_registry_find_credential(&r, "ASIAIOTCONFORM0005");
    CU_ASSERT_TRUE(k && k->expires_at == 1577836800); /* 2020-01-01T00:00:00Z */
    k = iotc_registry_find_credential(&r, "ASIAIOTCONFORM0002");
    CU_ASSERT_TRUE(k && k->expires_at == 4102444799); /* 2099-12-31T23:59:59Z */
    iotc_registry_free(&r);
}

static void expect_registry_error(const char *json, const char *needle);

/* Things with a type and attributes (condition keys), and certificate condition keys. */
static void test_registry_things(void)
{
    struct iotc_registry r;
    iotc_errtext err = {{0}};
    const char *json = "{\"certificates\":[{\"file\":\"device-01.crt\",\"thing\":\"t1\"}],"
                       "\"things\":[\"t0\",{\"name\":\"t1\",\"type\":\"sensor\","
                       "\"attributes\":{\"fleet\":\"blue\"}}]}";
    CU_ASSERT_EQUAL_FATAL(iotc_registry_load(write_tmp(json), pki(), &r, &err), 0);
    const struct iotc_reg_thing *t = iotc_registry_find_thing(&r, "t1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_STRING_EQUAL(t->type, "sensor");
    CU_ASSERT_EQUAL_FATAL(t->nattr, 1);
    CU_ASSERT_STRING_EQUAL(t->attr_keys[0], "iot:Connection.Thing.Attributes[fleet]");
    CU_ASSERT_STRING_EQUAL(t->attr_values[0], "blue");
    CU_ASSERT_PTR_NULL(iotc_registry_find_thing(&r, "t0")->type);
    CU_ASSERT_PTR_NULL(iotc_registry_find_thing(&r, "t9"));
    /* Validity dates are ISO 8601 UTC, the serial number decimal. */
    const char *nb = r.certs[0].cond_vals[10], *serial = r.certs[0].cond_vals[9];
    CU_ASSERT(nb && strlen(nb) == 20 && nb[10] == 'T' && nb[19] == 'Z');
    CU_ASSERT(serial && strspn(serial, "0123456789") == strlen(serial));
    iotc_registry_free(&r);
    expect_registry_error("{\"things\":[{\"name\":\"t\",\"attributes\":{\"a b\":\"x\"}}]}",
                          "$.things[0].attributes: attribute name 'a b'");
    expect_registry_error("{\"things\":[{\"name\":\"t\",\"attributes\":{\"a\":1}}]}",
                          "a: must be a string");
    expect_registry_error("{\"things\":[{\"type\":\"x\"}]}", "$.things[0]: must be a thing name");
    expect_registry_error("{\"things\":[{\"name\":\"t\",\"color\":1}]}", "color");
}

static void expect_registry_error(const char *json, const char *needle)
{
    struct iotc_registry r;
    iotc_errtext err = {{0}};
    int rc = iotc_registry_load(write_tmp(json), pki(), &r, &err);
    CU_ASSERT_EQUAL(rc, IOTC_ERR_CONFIG);
    if (!strstr(err.msg, needle))
        fprintf(stderr, "\nexpected '%s' in '%s'\n", needle, err.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, needle));
    unlink(tmp_path);
}

static void test_registry_errors(void)
{
    expect_registry_error("{\"cas\":{}}", "$.cas: must be an array");
    expect_registry_error("{\"cas\":[{\"id\":\"x\",\"file\":\"missing.crt\"}]}",
                          "$.cas[0]: file: cannot open certificate");
    expect_registry_error("{\"cas\":[{\"id\":\"x\",\"file\":\"ca-ec.crt\",\"status\":\"ON\"}]}",
                          "$.cas[0]: status");
    expect_registry_error("{\"cas\":[{\"id\":\"x\",\"file\":\"ca-ec.crt\"},{\"id\":\"x\",\"file\":"
                          "\"ca-rsa.crt\"}]}",
                          "duplicate CA id");
    expect_registry_error("{\"certificates\":[{\"file\":\"device-01.crt\",\"ca\":\"nope\"}]}",
                          "$.certificates[0]: ca: no registered CA with id 'nope'");
    expect_registry_error("{\"certificates\":[{\"file\":\"device-01.crt\",\"thing\":\"t\"}]}",
                          "thing: 't' is not in $.things");
    expect_registry_error("{\"certificates\":[{\"file\":\"device-01.crt\"},{\"file\":\"device-01."
                          "crt\"}]}",
                          "registered twice");
    expect_registry_error("{\"certificates\":[{\"file\":\"device-01.crt\",\"x\":1}]}",
                          "unknown key 'x'");
    expect_registry_error("{\"certificates\":[{\"file\":\"device-01.crt\",\"thing_exclusive\":"
                          "\"yes\"}]}",
                          "thing_exclusive: must be true or false");
    expect_registry_error("{\"certificates\":[{\"file\":\"device-01.crt\",\"thing_exclusive\":"
                          "true}]}",
                          "thing_exclusive: needs a thing");
    expect_registry_error("{\"credentials\":[{\"access_key_id\":\"A\",\"secret_access_key\":"
                          "\"s\",\"status\":\"INACTIVE\"}]}",
                          "$.credentials[0]: status: must be \"Active\" or \"Inactive\"");
    expect_registry_error("{\"credentials\":[{\"access_key_id\":\"A\",\"secret_access_key\":"
                          "\"s\",\"session_token\":\"t\",\"expiration\":\"2020-01-01 00:00\"}]}",
                          "$.credentials[0]: expiration: must be UTC");
    expect_registry_error("{\"credentials\":[{\"access_key_id\":\"A\",\"secret_access_key\":"
                          "\"s\",\"expiration\":\"2020-01-01T00:00:00Z\"}]}",
                          "only temporary credentials (session_token) expire");
    expect_registry_error("{\"certificates\":[{\"file\":\"" IOTC_SOURCE_DIR
                          "/fixtures/registry.json\"}]}",
                          "is not a PEM certificate");
}

static void test_keepalive_clamp(void)
{
    struct iotc_limits l = {.keepalive_min_s = 30, .keepalive_max_s = 1200};
    CU_ASSERT_EQUAL(iotc_rule_keepalive(&l, 0), 1200);
    CU_ASSERT_EQUAL(iotc_rule_keepalive(&l, 1), 30);
    CU_ASSERT_EQUAL(iotc_rule_keepalive(&l, 29), 30);
    CU_ASSERT_EQUAL(iotc_rule_keepalive(&l, 30), 30);
    CU_ASSERT_EQUAL(iotc_rule_keepalive(&l, 60), 60);
    CU_ASSERT_EQUAL(iotc_rule_keepalive(&l, 1200), 1200);
    CU_ASSERT_EQUAL(iotc_rule_keepalive(&l, 1201), 1200);
    CU_ASSERT_EQUAL(iotc_rule_keepalive(&l, 65535), 1200);
}

static void test_topic_rules(void)
{
    struct iotc_limits l = {
        .max_topic_bytes = 256, .max_topic_slashes = 7, .max_client_id_bytes = 128};
    char t[300];
    memset(t, 'a', sizeof t);
    CU_ASSERT_PTR_NULL(iotc_rule_topic(&l, (struct iotc_span){(uint8_t *)t, 256}));
    CU_ASSERT_PTR_NOT_NULL(iotc_rule_topic(&l, (struct iotc_span){(uint8_t *)t, 257}));
    CU_ASSERT_PTR_NULL(iotc_rule_topic(&l, iotc_span_str("a/b/c/d/e/f/g/h")));
    CU_ASSERT_PTR_NOT_NULL(iotc_rule_topic(&l, iotc_span_str("a/b/c/d/e/f/g/h/i")));
    CU_ASSERT_PTR_NOT_NULL(iotc_rule_topic(&l, iotc_span_str("a/+/b")));
    CU_ASSERT_PTR_NULL(iotc_rule_filter(&l, iotc_span_str("a/+/b/#")));
    CU_ASSERT_PTR_NOT_NULL(iotc_rule_filter(&l, iotc_span_str("a/#/b")));
    CU_ASSERT_PTR_NULL(iotc_rule_client_id(&l, (struct iotc_span){(uint8_t *)t, 128}));
    CU_ASSERT_PTR_NOT_NULL(iotc_rule_client_id(&l, (struct iotc_span){(uint8_t *)t, 129}));
    CU_ASSERT_PTR_NOT_NULL(iotc_rule_client_id(&l, iotc_span_str("$aws")));
}

/* AWS's reserved-topics page: each $aws family with the operations it allows, and its twin */
static void test_reserved_topics(void)
{
    static const struct {
        const char *name;
        bool pub_ok, sub_ok;
    } cases[] = {
        {"plain/topic", true, true},
        {"$aws/events/presence/connected/x", false, true},
        {"$aws/events/presence/connected/+", false, true},
        {"$aws/rules/r1/a", true, false},
        {"$aws/things/t1/shadow/update", true, true},
        {"$aws/things/+/shadow/#", true, true},
        {"$aws/certificates/create/json", true, true},
        {"$aws/provisioning-templates/p/provision/json", true, true},
        {"$aws/sitewise/asset-models/m", false, true},
        {"$aws/unknown/x", false, false},
        {"$aws/#", false, false},
        {"$SYS/#", false, false},
        {"$SYS/broker/clients/connected", false, false},
        {"$foo", false, false},
        {"$share/g/plain/#", false, true},
        {"$share/g/$SYS/#", false, false},
        {"$share/g/$aws/things/t1/shadow/update/accepted", false, true},
        {"$share/g", false, false},
        {"$share/g/$share/h/a", false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct iotc_span n = iotc_span_str(cases[i].name);
        bool pub = iotc_rule_reserved(n, IOTC_RESERVED_PUBLISH) == NULL;
        bool sub = iotc_rule_reserved(n, IOTC_RESERVED_SUBSCRIBE) == NULL;
        /* $share/ is a filter prefix only: as a topic it is an unknown '$' topic */
        if (pub != cases[i].pub_ok || sub != cases[i].sub_ok)
            fprintf(stderr, "reserved rule: %s publish %d subscribe %d\n", cases[i].name, pub, sub);
        CU_ASSERT_EQUAL(pub, cases[i].pub_ok);
        CU_ASSERT_EQUAL(sub, cases[i].sub_ok);
    }
}

/* The one error-text type: the code comes back, NULL is allowed, text is bounded. */
static void test_errtext(void)
{
    iotc_errtext e;
    iotc_errtext_clear(&e);
    CU_ASSERT_STRING_EQUAL(iotc_errtext_msg(&e), "");
    CU_ASSERT_EQUAL(iotc_errtext_set(&e, IOTC_ERR_CONFIG, "bad key '%s'", "k"), IOTC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(e.msg, "bad key 'k'");
    CU_ASSERT_EQUAL(iotc_errtext_prefix(&e, IOTC_ERR_CONFIG, "%s", "p.json"), IOTC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(e.msg, "p.json: bad key 'k'");
    CU_ASSERT_EQUAL(iotc_errtext_append(&e, IOTC_ERR_IO, " (%d)", 2), IOTC_ERR_IO);
    CU_ASSERT_STRING_EQUAL(e.msg, "p.json: bad key 'k' (2)");
    CU_ASSERT_EQUAL(iotc_errtext_set(NULL, IOTC_ERR_NOMEM, "x"), IOTC_ERR_NOMEM);
    CU_ASSERT_EQUAL(iotc_errtext_prefix(NULL, IOTC_ERR_IO, "x"), IOTC_ERR_IO);
    CU_ASSERT_STRING_EQUAL(iotc_errtext_msg(NULL), "");
    char big[IOTC_ERRTEXT_MAX + 1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    iotc_errtext_set(&e, IOTC_ERR_CONFIG, "%s", big);
    CU_ASSERT_EQUAL(strlen(e.msg), sizeof e.msg - 1);
    iotc_errtext_prefix(&e, IOTC_ERR_CONFIG, "%s", big);
    CU_ASSERT_EQUAL(strlen(e.msg), sizeof e.msg - 1);
    /* copy: into a smaller record field, truncated; an empty text leaves it alone. */
    char field[8] = "keep";
    iotc_errtext empty = {0};
    CU_ASSERT_STRING_EQUAL(iotc_errtext_copy(&empty, field, sizeof field), "keep");
    CU_ASSERT_STRING_EQUAL(iotc_errtext_copy(NULL, field, sizeof field), "keep");
    iotc_errtext_set(&e, IOTC_ERR_IO, "%s", "0123456789");
    CU_ASSERT_STRING_EQUAL(iotc_errtext_copy(&e, field, sizeof field), "0123456");
    /* A profile error arrives in the same type, naming the file. */
    struct iotc_profile p;
    CU_ASSERT_NOT_EQUAL(iotc_profile_load("/nonexistent/p.json", &p, &e), IOTC_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "/nonexistent/p.json"));
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("config", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "default profile", test_default_profile) ||
        !CU_add_test(s, "every fixture profile loads", test_every_fixture_profile_loads) ||
        !CU_add_test(s, "profile errors name file and key path", test_profile_errors) ||
        !CU_add_test(s, "missing profile file", test_profile_missing_file) ||
        !CU_add_test(s, "throttle limits default to AWS's", test_throttle_defaults) ||
        !CU_add_test(s, "token buckets", test_token_bucket) ||
        !CU_add_test(s, "registry fixture", test_registry_fixture) ||
        !CU_add_test(s, "registry errors", test_registry_errors) ||
        !CU_add_test(s, "registry things and certificate keys", test_registry_things) ||
        !CU_add_test(s, "keep-alive clamp", test_keepalive_clamp) ||
        !CU_add_test(s, "topic and client-id rules", test_topic_rules) ||
        !CU_add_test(s, "reserved '$' topics", test_reserved_topics) ||
        !CU_add_test(s, "error text", test_errtext))
        return -1;
    return 0;
}
