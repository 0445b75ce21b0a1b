/* Fleet internals: reconnect strategies (series, jitter bounds, caps, attempt
 * limits), the delivery ledger, the payload header, the latency histogram, the
 * row table and the door identities (spec, registry, signing, wire forms). */
#include "fleet/fleet_int.h"
#include "authz/authz.h"
#include "common/err.h"
#include "config/cfgjson.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct iotc_fleet_backoff bo(int kind, long long base, long long cap)
{
    return (struct iotc_fleet_backoff){.kind = kind,
                                       .base_ms = base,
                                       .cap_ms = cap,
                                       .step_ms = 250,
                                       .factor = 2,
                                       .max_attempts = 0};
}

static void test_constant(void)
{
    struct iotc_fleet_backoff b = bo(IOTC_FLEET_BACKOFF_CONSTANT, 300, 1000);
    uint64_t rng = 1;
    for (unsigned n = 1; n <= 50; n++)
        CU_ASSERT_EQUAL(iotc_fleet_backoff_delay(&b, n, &rng), 300);
    b.base_ms = 5000; /* a constant above the cap is capped */
    CU_ASSERT_EQUAL(iotc_fleet_backoff_delay(&b, 1, &rng), 1000);
}

static void test_linear(void)
{
    struct iotc_fleet_backoff b = bo(IOTC_FLEET_BACKOFF_LINEAR, 100, 1000);
    uint64_t rng = 1;
    const long long want[] = {100, 350, 600, 850, 1000, 1000, 1000};
    for (unsigned n = 1; n <= 7; n++)
        CU_ASSERT_EQUAL(iotc_fleet_backoff_delay(&b, n, &rng), want[n - 1]);
    CU_ASSERT_EQUAL(iotc_fleet_backoff_delay(&b, 4000000000u, &rng), 1000); /* no overflow */
}

static void test_exponential(void)
{
    struct iotc_fleet_backoff b = bo(IOTC_FLEET_BACKOFF_EXP, 100, 5000);
    uint64_t rng = 1;
    const long long want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
    for (unsigned n = 1; n <= 8; n++)
        CU_ASSERT_EQUAL(iotc_fleet_backoff_delay(&b, n, &rng), want[n - 1]);
    CU_ASSERT_EQUAL(iotc_fleet_backoff_delay(&b, 100000, &rng), 5000); /* saturates, no overflow */
    b.factor = 3;
    CU_ASSERT_EQUAL(iotc_fleet_backoff_delay(&b, 3, &rng), 900);
}

static void test_full_jitter(void)
{
    struct iotc_fleet_backoff b = bo(IOTC_FLEET_BACKOFF_EXP_JITTER, 100, 5000);
    uint64_t rng = 42;
    for (unsigned n = 1; n <= 10; n++) {
        long long ceiling = n >= 7 ? 5000 : 100LL << (n - 1);
        long long lo = ceiling, hi = 0;
        double sum = 0;
        for (int i = 0; i < 4000; i++) {
            long long v = iotc_fleet_backoff_delay(&b, n, &rng);
            CU_ASSERT(v >= 0 && v <= ceiling);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            sum += (double)v;
        }
        /* Full jitter spreads over the whole range: near 0, near the ceiling, mean ~ half. */
        CU_ASSERT(lo <= ceiling / 20);
        CU_ASSERT(hi >= ceiling - ceiling / 20);
        double mean = sum / 4000;
        CU_ASSERT(mean > ceiling * 0.4 && mean < ceiling * 0.6);
    }
}

static void test_jitter_differs_per_device(void)
{
    struct iotc_fleet_backoff b = bo(IOTC_FLEET_BACKOFF_EXP_JITTER, 1000, 60000);
    uint64_t rng = 7;
    long long first = iotc_fleet_backoff_delay(&b, 5, &rng);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += iotc_fleet_backoff_delay(&b, 5, &rng) == first;
    CU_ASSERT(same < 5); /* a fleet that lost its endpoint does not come back in one wave */
}

static void test_none_and_max_attempts(void)
{
    struct iotc_fleet_backoff b = bo(IOTC_FLEET_BACKOFF_NONE, 100, 1000);
    uint64_t rng = 1;
    CU_ASSERT_EQUAL(iotc_fleet_backoff_delay(&b, 1, &rng), -1);
    b = bo(IOTC_FLEET_BACKOFF_EXP, 100, 1000);
    b.max_attempts = 3;
    CU_ASSERT_EQUAL(iotc_fleet_backoff_delay(&b, 3, &rng), 400);
    CU_ASSERT_EQUAL(iotc_fleet_backoff_delay(&b, 4, &rng), -1);
}

static void test_names(void)
{
    const char *names[] = {"exponential_jitter", "exponential", "linear", "constant", "none"};
    for (int k = 0; k < 5; k++) {
        CU_ASSERT_EQUAL(iotc_fleet_backoff_parse(names[k]), k);
        CU_ASSERT_STRING_EQUAL(iotc_fleet_backoff_name(k), names[k]);
    }
    CU_ASSERT_EQUAL(iotc_fleet_backoff_parse("fibonacci"), -1);
    CU_ASSERT_EQUAL(iotc_fleet_backoff_parse(NULL), -1);
}

static void test_defaults(void)
{
    struct iotc_fleet_behave b;
    iotc_fleet_behave_defaults(&b);
    CU_ASSERT_EQUAL(b.backoff.kind, IOTC_FLEET_BACKOFF_EXP_JITTER); /* the default strategy */
    CU_ASSERT_EQUAL(b.qos, 1);
    CU_ASSERT(b.backoff.cap_ms >= b.backoff.base_ms);
}

static void test_ledger(void)
{
    struct iotc_fleet_ledger l = {0};
    CU_ASSERT_EQUAL(iotc_fleet_ledger_mark(&l, 0), 1);
    CU_ASSERT_EQUAL(iotc_fleet_ledger_mark(&l, 1000), 1); /* grows */
    CU_ASSERT_EQUAL(iotc_fleet_ledger_mark(&l, 0), 0);    /* duplicate */
    CU_ASSERT_EQUAL(l.delivered, 2);
    CU_ASSERT_EQUAL(l.dup, 1);
    CU_ASSERT(iotc_fleet_ledger_seen(&l, 1000));
    CU_ASSERT(!iotc_fleet_ledger_seen(&l, 999));
    CU_ASSERT(!iotc_fleet_ledger_seen(&l, 1u << 20));
    CU_ASSERT(iotc_fleet_ledger_mark(&l, 1u << 30) < 0); /* absurd seq refused, not allocated */
    iotc_fleet_ledger_free(&l);
}

static void test_payload(void)
{
    char buf[64];
    uint32_t dev, seq;
    uint64_t t;
    CU_ASSERT_EQUAL(iotc_fleet_payload_fill(buf, sizeof buf, 4294967295u, 12, 1234567890123ull),
                    64);
    CU_ASSERT_EQUAL(iotc_fleet_payload_parse((uint8_t *)buf, sizeof buf, &dev, &seq, &t), 0);
    CU_ASSERT_EQUAL(dev, 4294967295u);
    CU_ASSERT_EQUAL(seq, 12);
    CU_ASSERT_EQUAL(t, 1234567890123ull);
    CU_ASSERT_EQUAL(iotc_fleet_payload_fill(buf, 8, 1, 2, 3333333333ull), 0); /* too small */
    CU_ASSERT(iotc_fleet_payload_parse((const uint8_t *)"1 2", 3, &dev, &seq, &t) < 0);
    CU_ASSERT(iotc_fleet_payload_parse((const uint8_t *)"x 2 3 ", 6, &dev, &seq, &t) < 0);
    CU_ASSERT(iotc_fleet_payload_parse((const uint8_t *)"99999999999 2 3 ", 16, &dev, &seq, &t) <
              0);
}

static void test_hist(void)
{
    static struct iotc_fleet_hist h;
    memset(&h, 0, sizeof h);
    CU_ASSERT_EQUAL(iotc_fleet_hist_pct_ms(&h, 50), 0);
    for (int i = 1; i <= 1000; i++)
        iotc_fleet_hist_add(&h, (uint64_t)i * 1000); /* 1..1000 ms */
    double p50 = iotc_fleet_hist_pct_ms(&h, 50), p99 = iotc_fleet_hist_pct_ms(&h, 99);
    CU_ASSERT(p50 > 490 && p50 < 512);
    CU_ASSERT(p99 > 980 && p99 <= 1000);
    CU_ASSERT(iotc_fleet_hist_pct_ms(&h, 100) <= 1000.0);
}

static void test_rows(void)
{
    CU_ASSERT_PTR_NOT_NULL(iotc_row_at(8));
    CU_ASSERT_PTR_NULL(iotc_row_at(9));
    const iotc_row *r = iotc_row_find("wss-sigv4-443");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(r->proto == IOTC_PROTO_WSS && r->auth == IOTC_AUTH_SIGV4 && !r->alpn);
    r = iotc_row_find("wss-custom-443");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(r->proto == IOTC_PROTO_WSS && r->auth == IOTC_AUTH_CUSTOM && !r->alpn);
    r = iotc_row_find("mqtt-custom-443");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(r->proto == IOTC_PROTO_MQTT && r->auth == IOTC_AUTH_CUSTOM && r->port == 443);
    CU_ASSERT_STRING_EQUAL(r->alpn, "mqtt");
    r = iotc_row_find("https-sigv4-443");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(r->proto == IOTC_PROTO_HTTPS && r->auth == IOTC_AUTH_SIGV4 && !r->alpn);
    r = iotc_row_find("https-custom-443");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(r->proto == IOTC_PROTO_HTTPS && r->auth == IOTC_AUTH_CUSTOM);
    CU_ASSERT(iotc_row_find("mqtt-x509-8883")->auth == IOTC_AUTH_X509);
    CU_ASSERT_PTR_NULL(iotc_row_find("wss-x509-443"));
    CU_ASSERT_STRING_EQUAL(iotc_auth_name(r->auth), "custom");
    CU_ASSERT_STRING_EQUAL(iotc_fleet_cause_name(IOTC_FLEET_CAUSE_WS_REFUSED),
                           "ws_upgrade_refused");
}

/* Loads text as a spec; err gets the message. */
static int load_spec(const char *text, struct iotc_fleet_spec *s, iotc_errtext *err)
{
    char path[] = "/tmp/iotc-fleet-spec-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    iotc_errtext_clear(err);
    int rc = iotc_fleet_spec_load(path, s, err);
    unlink(path);
    return rc;
}

#define ROW(r, ids) "{\"rows\": [{\"row\": \"" r "\", \"devices\": 2, \"identities\": " ids "}]}"

static void test_spec_door_identities(void)
{
    struct iotc_fleet_spec s;
    iotc_errtext err = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/fleets/door.json", IOTC_SOURCE_DIR);
    CU_ASSERT_EQUAL_FATAL(iotc_fleet_spec_load(path, &s, &err), IOTC_OK);
    CU_ASSERT_EQUAL(s.n_rows, 9);
    for (size_t r = 0; r < s.n_rows; r++) {
        const struct iotc_fleet_row *row = &s.rows[r];
        CU_ASSERT(row->n_identities >= 1);
        if (row->def->proto == IOTC_PROTO_HTTPS && row->def->auth != IOTC_AUTH_X509)
            CU_ASSERT_STRING_EQUAL(row->monitor_identity, "device-01");
        if (strcmp(row->def->id, "wss-sigv4-443") == 0) {
            CU_ASSERT_STRING_EQUAL(row->identities[1].name, "ASIAIOTCONFORM0002");
            CU_ASSERT_PTR_NULL(row->identities[1].secret); /* resolved at run start */
        }
        if (strcmp(row->def->id, "wss-custom-443") == 0) {
            CU_ASSERT_STRING_EQUAL(row->identities[0].name, "unsigned-authorizer");
            CU_ASSERT_STRING_EQUAL(row->identities[0].token_key, "token");
            CU_ASSERT_PTR_NULL(row->identities[1].name); /* the default authorizer */
            CU_ASSERT(row->identities[1].sign);
        }
    }
    iotc_fleet_spec_free(&s);

    static const struct {
        const char *text, *want;
    } bad[] = {
        {ROW("mqtt-x509-8883", "[{\"access_key\": \"AKID\"}]"),
         "$.rows[0].identities[0]: a certificate name"},
        {ROW("wss-custom-443", "[\"unsigned-authorizer\"]"), "$.rows[0].identities[0]: {"},
        {ROW("wss-custom-443", "[{\"authorizer\": \"a\"}]"), "token: required"},
        {ROW("https-custom-443", "[{\"token\": \"t\", \"sign\": 1}]"), "sign: must be true"},
        {ROW("mqtt-custom-443", "[{\"token\": \"t\", \"tokn\": \"x\"}]"), "unknown key 'tokn'"},
        {ROW("mqtt-custom-443", "[{\"token\": \"a b\"}]"), "token: must be a string"},
        {ROW("mqtt-custom-443", "[{\"authorizer\": \"a?b\", \"token\": \"t\"}]"),
         "authorizer: must be"},
        {ROW("wss-sigv4-443", "[\"AKID/0001\"]"), "an access key id"},
        {ROW("wss-sigv4-443", "[{\"secret\": \"s\"}]"), "access_key: required"},
        {ROW("https-sigv4-443", "[{\"access_key\": \"A\", \"secret\": \"a\\r\\nb\"}]"),
         "secret: must be"},
        {ROW("https-sigv4-443", "[]"), "$.rows[0].identities: at least one SigV4 credential"},
        {"{\"rows\": [{\"row\": \"wss-sigv4-443\", \"devices\": 1, \"identities\": [\"A\"], "
         "\"monitor_identity\": \"device-01\"}]}",
         "only HTTPS rows have a monitor"},
        {"{\"rows\": [{\"row\": \"https-sigv4-443\", \"devices\": 1, \"identities\": [\"A\"], "
         "\"monitor_identity\": \"../x\"}]}",
         "monitor_identity: a certificate name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = load_spec(bad[i].text, &s, &err);
        CU_ASSERT_NOT_EQUAL(rc, IOTC_OK);
        if (!strstr(err.msg, bad[i].want))
            fprintf(stderr, "\n  case %zu: want '%s' in '%s'\n", i, bad[i].want, err.msg);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, bad[i].want));
        iotc_fleet_spec_free(&s);
    }
}

/* Sharding: a device's publish phase and fault rank depend on the device (and fault) only,
 * spread over [0, 1); peer_offset is bounded by the row and refused on HTTPS rows. */
static void test_shard_phase_and_peer(void)
{
    double sum = 0;
    unsigned low = 0;
    for (uint32_t i = 0; i < 10000; i++) {
        double a = iotc_fleet_dev_phase01(i, 0);
        CU_ASSERT(a >= 0 && a < 1);
        CU_ASSERT_EQUAL(a, iotc_fleet_dev_phase01(i, 0));
        low += a < 0.5;
        sum += a;
    }
    CU_ASSERT(low > 4700 && low < 5300);
    CU_ASSERT(sum / 10000 > 0.47 && sum / 10000 < 0.53);
    CU_ASSERT_NOT_EQUAL(iotc_fleet_dev_phase01(7, 0), iotc_fleet_dev_phase01(7, 1)); /* per fault */
    struct iotc_fleet_spec s;
    iotc_errtext err = {0};
    CU_ASSERT_EQUAL(load_spec("{\"rows\": [{\"row\": \"mqtt-x509-8883\", \"devices\": 4, "
                              "\"peer_offset\": 3, \"identities\": [\"device-01\"]}], "
                              "\"defaults\": {\"max_messages\": 5}}",
                              &s, &err),
                    IOTC_OK);
    CU_ASSERT_EQUAL(s.rows[0].peer_offset, 3);
    CU_ASSERT_EQUAL(s.rows[0].b.max_messages, 5);
    iotc_fleet_spec_free(&s);
    static const char *const bad[] = {
        "{\"rows\": [{\"row\": \"mqtt-x509-8883\", \"devices\": 4, \"peer_offset\": 4, "
        "\"identities\": [\"device-01\"]}]}",
        "{\"rows\": [{\"row\": \"mqtt-x509-8883\", \"devices\": 4, \"peer_offset\": -1, "
        "\"identities\": [\"device-01\"]}]}",
        "{\"rows\": [{\"row\": \"https-x509-8443\", \"devices\": 4, \"peer_offset\": 1, "
        "\"identities\": [\"device-01\"]}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        CU_ASSERT_NOT_EQUAL(load_spec(bad[i], &s, &err), IOTC_OK);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "$.rows[0]: peer_offset"));
        iotc_fleet_spec_free(&s);
    }
}

static json_t *registry(void)
{
    char path[1024];
    iotc_errtext ce;
    snprintf(path, sizeof path, "%s/fixtures/registry.json", IOTC_SOURCE_DIR);
    return iotc_cfg_load(path, &ce);
}

static void test_ident_resolve(void)
{
    json_t *reg = registry();
    iotc_errtext err = {0};
    CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
    struct iotc_fleet_ident akid = {.name = strdup("AKIDIOTCONFORM0001")};
    struct iotc_fleet_ident asia = {.name = strdup("ASIAIOTCONFORM0002")};
    struct iotc_fleet_ident gone = {.name = strdup("AKIDNOTREGISTERED")};
    struct iotc_fleet_ident dropped = {
        .name = strdup("ASIAIOTCONFORM0002"), .session_token = strdup(""), .token_inline = true};
    struct iotc_fleet_ident inl = {
        .name = strdup("AKIDX"), .secret = strdup("s3cret"), .secret_inline = true};
    CU_ASSERT_EQUAL(iotc_fleet_ident_resolve(&akid, IOTC_AUTH_SIGV4, reg, NULL, &err), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(akid.secret, "iotconform/test/secret/0001/wJalrXUtnFEMI");
    CU_ASSERT_PTR_NULL(akid.session_token);
    CU_ASSERT_EQUAL(iotc_fleet_ident_resolve(&asia, IOTC_AUTH_SIGV4, reg, NULL, &err), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(asia.session_token, "IQoJb3JpZ2luX2VjEXAMPLEsessiontokenIOTCONFORM");
    CU_ASSERT_EQUAL(iotc_fleet_ident_resolve(&dropped, IOTC_AUTH_SIGV4, reg, NULL, &err), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(dropped.session_token, ""); /* inline "": send none */
    CU_ASSERT_EQUAL(iotc_fleet_ident_resolve(&gone, IOTC_AUTH_SIGV4, reg, NULL, &err),
                    IOTC_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "AKIDNOTREGISTERED"));
    CU_ASSERT_EQUAL(iotc_fleet_ident_resolve(&inl, IOTC_AUTH_SIGV4, NULL, NULL, &err),
                    IOTC_OK); /* an inline secret needs no registry */
    /* no inline secret and no registry: a setup error */
    CU_ASSERT_EQUAL(iotc_fleet_ident_resolve(&gone, IOTC_AUTH_SIGV4, NULL, NULL, &err),
                    IOTC_ERR_CONFIG);
    struct iotc_fleet_ident *all[] = {&akid, &asia, &gone, &dropped, &inl};
    for (size_t i = 0; i < 5; i++) {
        free(all[i]->name);
        free(all[i]->secret);
        free(all[i]->session_token);
    }
    json_decref(reg);
}

/* The signature a signing identity gets verifies with the registry's public key, and the
 * username and headers carry it so the endpoint's parser reads back the same values. */
static void test_ident_custom_wire(void)
{
    char user[2048], line[2048], pub[1100];
    iotc_errtext err = {0};
    struct iotc_fleet_ident *id = calloc(1, sizeof *id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    id->token = strdup("token-beta");
    id->token_key = strdup("token");
    id->sign = true;
    CU_ASSERT_EQUAL_FATAL(
        iotc_fleet_ident_resolve(id, IOTC_AUTH_CUSTOM, NULL, IOTC_BINARY_DIR "/pki", &err),
        IOTC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id->signature);
    EVP_PKEY *key = NULL;
    snprintf(pub, sizeof pub, "%s/pki/authorizer-signing.pub", IOTC_BINARY_DIR);
    CU_ASSERT_EQUAL_FATAL(iotc_authz_load_pubkey_file(pub, &key, NULL), IOTC_OK);
    CU_ASSERT_EQUAL(iotc_authz_verify_token(key, "token-beta", id->signature, NULL), IOTC_OK);

    CU_ASSERT_EQUAL(iotc_fleet_ident_username(id, "dev-1", user, sizeof user), IOTC_OK);
    struct iotc_authz_creds c;
    CU_ASSERT_EQUAL(iotc_authz_parse_username(user, strlen(user), &c, NULL), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(c.user, "dev-1");
    CU_ASSERT_PTR_NULL(c.authorizer); /* the default authorizer */
    CU_ASSERT_STRING_EQUAL(iotc_authz_creds_get(&c, "token"), "token-beta");
    CU_ASSERT_STRING_EQUAL(c.signature, id->signature); /* '+' '/' '=' survived encoding */
    iotc_authz_creds_free(&c);
    CU_ASSERT_EQUAL(iotc_fleet_ident_username(id, "a?b", user, sizeof user), IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(iotc_fleet_ident_username(id, "dev-1", user, 40), IOTC_ERR_TOO_LARGE);

    /* headers: no name line for the default authorizer, then token, then signature */
    CU_ASSERT_EQUAL(iotc_fleet_ident_custom_header(id, 0, line, sizeof line), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(line, "token: token-beta");
    CU_ASSERT_EQUAL(iotc_fleet_ident_custom_header(id, 1, line, sizeof line), IOTC_OK);
    CU_ASSERT_EQUAL(strncmp(line, "x-amz-customauthorizer-signature: ", 34), 0);
    CU_ASSERT_EQUAL(iotc_fleet_ident_custom_header(id, 2, line, sizeof line), IOTC_ERR_NOT_FOUND);
    id->name = strdup("unsigned-authorizer");
    CU_ASSERT_EQUAL(iotc_fleet_ident_custom_header(id, 0, line, sizeof line), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(line, "x-amz-customauthorizer-name: unsigned-authorizer");
    CU_ASSERT_EQUAL(iotc_fleet_ident_username(id, "d", user, sizeof user), IOTC_OK);
    CU_ASSERT_EQUAL(strncmp(user, "d?x-amz-customauthorizer-name=unsigned-authorizer&token=", 56),
                    0);
    CU_ASSERT_EQUAL(iotc_fleet_ident_wss_target(id, IOTC_AUTH_CUSTOM, "h:1", 0, line, sizeof line),
                    IOTC_OK);
    CU_ASSERT_STRING_EQUAL(line, "/mqtt");
    /* a missing signing key is a setup error that names the file */
    CU_ASSERT_EQUAL(iotc_fleet_ident_resolve(id, IOTC_AUTH_CUSTOM, NULL, "/nonexistent", &err),
                    IOTC_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/authorizer-signing.key"));
    EVP_PKEY_free(key);
    iotc_fleet_idents_free(id, 1);
}

static void test_ident_presign(void)
{
    char a[4096], b[4096];
    struct iotc_fleet_ident id = {.name = "ASIAIOTCONFORM0002",
                                  .secret = "iotconform/test/secret/0002/K7MDENGbPxRfiCY",
                                  .session_token = "tok/en+1="};
    time_t when = 1440938160; /* 2015-08-30T12:36:00Z */
    CU_ASSERT_EQUAL_FATAL(
        iotc_fleet_ident_wss_target(&id, IOTC_AUTH_SIGV4, "localhost:4443", when, a, sizeof a),
        IOTC_OK);
    CU_ASSERT_EQUAL(strncmp(a,
                            "/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
                            "ASIAIOTCONFORM0002%2F20150830%2Fus-east-1%2Fiotdevicegateway"
                            "%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=86400"
                            "&X-Amz-SignedHeaders=host&X-Amz-Signature=",
                            strlen("/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
                                   "ASIAIOTCONFORM0002%2F20150830%2Fus-east-1%2Fiotdevicegateway"
                                   "%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires="
                                   "86400&X-Amz-SignedHeaders=host&X-Amz-Signature=")),
                    0);
    /* the token follows the signature, encoded, and is not signed */
    const char *sig = strstr(a, "X-Amz-Signature="), *tok = strstr(a, "&X-Amz-Security-Token=");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sig);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    CU_ASSERT(tok > sig && tok - sig == 16 + 64);
    CU_ASSERT_STRING_EQUAL(tok, "&X-Amz-Security-Token=tok%2Fen%2B1%3D");
    id.session_token = NULL;
    CU_ASSERT_EQUAL(
        iotc_fleet_ident_wss_target(&id, IOTC_AUTH_SIGV4, "localhost:4443", when, b, sizeof b),
        IOTC_OK);
    CU_ASSERT_EQUAL(strncmp(a, b, strlen(b)), 0); /* same signature with or without a token */
    CU_ASSERT_PTR_NULL(strstr(b, "Token"));
    CU_ASSERT_EQUAL(
        iotc_fleet_ident_wss_target(&id, IOTC_AUTH_SIGV4, "localhost:4444", when, b, sizeof b),
        IOTC_OK);
    CU_ASSERT_NOT_EQUAL(strcmp(strstr(a, "Signature="), strstr(b, "Signature=")), 0); /* host */
    CU_ASSERT_EQUAL(iotc_fleet_ident_wss_target(&id, IOTC_AUTH_SIGV4, "h", when, b, 100),
                    IOTC_ERR_TOO_LARGE);
    id.secret = NULL;
    CU_ASSERT_EQUAL(iotc_fleet_ident_wss_target(&id, IOTC_AUTH_SIGV4, "h", when, b, sizeof b),
                    IOTC_ERR_INVALID);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("fleet", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "backoff constant", test_constant);
    CU_add_test(s, "backoff linear", test_linear);
    CU_add_test(s, "backoff exponential", test_exponential);
    CU_add_test(s, "backoff full jitter bounds", test_full_jitter);
    CU_add_test(s, "backoff jitter spreads", test_jitter_differs_per_device);
    CU_add_test(s, "backoff none / max attempts", test_none_and_max_attempts);
    CU_add_test(s, "backoff names", test_names);
    CU_add_test(s, "behaviour defaults", test_defaults);
    CU_add_test(s, "ledger", test_ledger);
    CU_add_test(s, "payload header", test_payload);
    CU_add_test(s, "latency histogram", test_hist);
    CU_add_test(s, "row table: the nine rows", test_rows);
    CU_add_test(s, "spec: door identities", test_spec_door_identities);
    CU_add_test(s, "sharding: phases, peers", test_shard_phase_and_peer);
    CU_add_test(s, "identities: registry", test_ident_resolve);
    CU_add_test(s, "identities: custom-auth wire forms", test_ident_custom_wire);
    CU_add_test(s, "identities: presigned WSS target", test_ident_presign);
    return 0;
}
