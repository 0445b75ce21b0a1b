/*
 * Unit tests for sim/authz: username and HTTP credentials, token signatures
 * (throwaway keys made here), the authorizer event and response, and the
 * sample authorizer programs run on a real libevent loop.
 */
#include "authz/authz.h"
#include "http/http.h"
#include "common/err.h"

#include <CUnit/CUnit.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>

#define FIXTURES IOTC_SOURCE_DIR "/fixtures/authorizers/"

/* ---- username ---------------------------------------------------------- */

struct user_row {
    const char *in;
    int rc;
    const char *user;
    const char *name;
    const char *sig;
    const char *token_key;
    const char *token;
    size_t params;
};

#define N IOTC_AUTHZ_NAME_KEY
#define S IOTC_AUTHZ_SIG_KEY

static const struct user_row user_rows[] = {
    /* well-formed */
    {"plain-user", IOTC_OK, "plain-user", NULL, NULL, "tok", NULL, 0},
    {"", IOTC_OK, "", NULL, NULL, "tok", NULL, 0},
    {"u?" N "=auth1&" S "=c2ln&tok=T1", IOTC_OK, "u", "auth1", "c2ln", "tok", "T1", 3},
    {"?" N "=auth1&tok=T1", IOTC_OK, "", "auth1", NULL, "tok", "T1", 2},
    {"u?tok=T1", IOTC_OK, "u", NULL, NULL, "tok", "T1", 1}, /* default authorizer */
    {"u?" N "=a&" S "=ab%2Bcd%2F%3D%3D&tok=x", IOTC_OK, "u", "a", "ab+cd/==", "tok", "x", 3},
    {"u?" N "=a&" S "=ab+cd/==&tok=x", IOTC_OK, "u", "a", "ab+cd/==", "tok", "x", 3},
    {"u?" N "=my%20auth&tok=a%26b", IOTC_OK, "u", "my auth", NULL, "tok", "a&b", 2},
    {"u?" N "=a&tok=x&SDK=Python&Version=1.0.0&Platform=linux", IOTC_OK, "u", "a", NULL, "tok", "x",
     5},
    {"u?" N "=a&&tok=x&", IOTC_OK, "u", "a", NULL, "tok", "x", 2},
    {"u?flag&tok=x", IOTC_OK, "u", NULL, NULL, "flag", "", 2},
    {"u?tok=x=y", IOTC_OK, "u", NULL, NULL, "tok", "x=y", 1},
    {"u?tok=", IOTC_OK, "u", NULL, NULL, "tok", "", 1},
    {"u?tok=x?y", IOTC_OK, "u", NULL, NULL, "tok", "x?y", 1},
    {"us%20er?tok=x", IOTC_OK, "us%20er", NULL, NULL, "tok", "x", 1}, /* user part is not decoded */
    {"u?t%C3%B6k=%E2%82%AC", IOTC_OK, "u", NULL, NULL, "t\xc3\xb6k", "\xe2\x82\xac", 1},
    {"u?", IOTC_OK, "u", NULL, NULL, "tok", NULL, 0},
    /* malformed */
    {"u?" N "=&tok=x", IOTC_ERR_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0},
    {"u?" S "=&tok=x", IOTC_ERR_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0},
    {"u?" N "=a&" N "=b", IOTC_ERR_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0},
    {"u?tok=1&tok=2", IOTC_ERR_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0},
    {"u?=x", IOTC_ERR_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0},
    {"u?tok=%zz", IOTC_ERR_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0},
    {"u?tok=%4", IOTC_ERR_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0},
    {"u?tok=%00", IOTC_ERR_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0},
    {"u?tok=%C3%28", IOTC_ERR_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0},
    {"u?t%g1=x", IOTC_ERR_MALFORMED, NULL, NULL, NULL, NULL, NULL, 0},
};

static void test_username_table(void)
{
    for (size_t i = 0; i < sizeof user_rows / sizeof user_rows[0]; i++) {
        const struct user_row *r = &user_rows[i];
        struct iotc_authz_creds c;
        iotc_errtext why = {0};
        int rc = iotc_authz_parse_username(r->in, strlen(r->in), &c, &why);
        if (rc != r->rc)
            fprintf(stderr, "\n  row %zu '%s': rc %d (%s)\n", i, r->in, rc, why.msg);
        CU_ASSERT_EQUAL(rc, r->rc);
        if (rc != IOTC_OK) {
            CU_ASSERT_TRUE(why.msg[0] != '\0');
            CU_ASSERT_PTR_NULL(c.user);
            CU_ASSERT_EQUAL(c.param_count, 0);
            continue;
        }
        CU_ASSERT_STRING_EQUAL(why.msg, "");
        CU_ASSERT_STRING_EQUAL(c.user, r->user);
        if (r->name) {
            CU_ASSERT_TRUE(c.authorizer && strcmp(c.authorizer, r->name) == 0);
        } else {
            CU_ASSERT_PTR_NULL(c.authorizer);
        }
        if (r->sig) {
            CU_ASSERT_TRUE(c.signature && strcmp(c.signature, r->sig) == 0);
        } else {
            CU_ASSERT_PTR_NULL(c.signature);
        }
        const char *tok = iotc_authz_creds_get(&c, r->token_key);
        if (r->token) {
            CU_ASSERT_TRUE(tok && strcmp(tok, r->token) == 0);
        } else {
            CU_ASSERT_PTR_NULL(tok);
        }
        CU_ASSERT_EQUAL(c.param_count, r->params);
        iotc_authz_creds_free(&c);
    }
}

static void test_username_edges(void)
{
    struct iotc_authz_creds c;
    iotc_errtext why = {0};
    /* Not NUL-terminated: only len bytes count. */
    const char buf[] = "u?tok=abcXXXX";
    CU_ASSERT_EQUAL(iotc_authz_parse_username(buf, 9, &c, &why), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(iotc_authz_creds_get(&c, "tok"), "abc");
    iotc_authz_creds_free(&c);
    /* Embedded NUL. */
    CU_ASSERT_EQUAL(iotc_authz_parse_username("u?tok=a\0b", 9, &c, &why), IOTC_ERR_MALFORMED);
    /* Too many parameters. */
    char many[1024] = "u?";
    for (int i = 0; i <= IOTC_AUTHZ_MAX_PARAMS; i++) {
        char p[16];
        snprintf(p, sizeof p, "k%d=v&", i);
        strcat(many, p);
    }
    CU_ASSERT_EQUAL(iotc_authz_parse_username(many, strlen(many), &c, &why), IOTC_ERR_TOO_LARGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "parameters"));
    CU_ASSERT_EQUAL(iotc_authz_parse_username(NULL, 0, &c, NULL), IOTC_OK);
    iotc_authz_creds_free(&c);
    CU_ASSERT_EQUAL(iotc_authz_parse_username(NULL, 3, &c, NULL), IOTC_ERR_INVALID);
    /* The reason names the parameter. */
    CU_ASSERT_EQUAL(iotc_authz_parse_username("u?tok=1&tok=2", 13, &c, &why), IOTC_ERR_MALFORMED);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "\"tok\" is repeated"));
}

/* ---- HTTP credentials ------------------------------------------------- */

static struct iotc_http_reader *parse_req(const char *text, const struct iotc_http_req **q)
{
    struct iotc_http_reader *rd = iotc_http_reader_new(NULL);
    size_t used = 0;
    CU_ASSERT_EQUAL(iotc_http_reader_feed(rd, (const uint8_t *)text, strlen(text), &used), IOTC_OK);
    *q = iotc_http_reader_request(rd);
    return rd;
}

static void test_http_creds(void)
{
    const struct iotc_http_req *q;
    struct iotc_authz_creds c;
    iotc_errtext why = {0};
    /* Headers only. */
    struct iotc_http_reader *rd =
        parse_req("POST /topics/t?qos=1 HTTP/1.1\r\nHost: h\r\n" N ": auth1\r\n" S
                  ": c2ln+/==\r\nMyToken: T1\r\nContent-Length: 0\r\n\r\n",
                  &q);
    CU_ASSERT_EQUAL(iotc_authz_from_http(q, &c, &why), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(c.authorizer, "auth1");
    CU_ASSERT_STRING_EQUAL(c.signature, "c2ln+/==");
    CU_ASSERT_PTR_NULL(c.user);
    CU_ASSERT_STRING_EQUAL(iotc_authz_http_token(q, &c, "MyToken"), "T1");
    CU_ASSERT_STRING_EQUAL(iotc_authz_creds_get(&c, "qos"), "1");
    iotc_authz_creds_free(&c);
    iotc_http_reader_free(rd);
    /* Query only (the WSS way for browsers). */
    rd = parse_req(
        "GET /mqtt?" N "=auth2&" S "=ab%2Bcd%3D%3D&MyToken=T2 HTTP/1.1\r\nHost: h\r\n\r\n", &q);
    CU_ASSERT_EQUAL(iotc_authz_from_http(q, &c, &why), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(c.authorizer, "auth2");
    CU_ASSERT_STRING_EQUAL(c.signature, "ab+cd==");
    CU_ASSERT_STRING_EQUAL(iotc_authz_http_token(q, &c, "MyToken"), "T2");
    CU_ASSERT_PTR_NULL(iotc_authz_http_token(q, &c, "Other"));
    iotc_authz_creds_free(&c);
    iotc_http_reader_free(rd);
    /* Both, agreeing: fine; disagreeing: refused. */
    rd = parse_req("GET /mqtt?" N "=a HTTP/1.1\r\nHost: h\r\n" N ": a\r\n\r\n", &q);
    CU_ASSERT_EQUAL(iotc_authz_from_http(q, &c, &why), IOTC_OK);
    iotc_authz_creds_free(&c);
    iotc_http_reader_free(rd);
    rd = parse_req("GET /mqtt?" N "=a HTTP/1.1\r\nHost: h\r\n" N ": b\r\n\r\n", &q);
    CU_ASSERT_EQUAL(iotc_authz_from_http(q, &c, &why), IOTC_ERR_MALFORMED);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "differs"));
    CU_ASSERT_PTR_NULL(c.authorizer);
    iotc_http_reader_free(rd);
    /* Repeated or empty header. */
    rd = parse_req("GET /mqtt HTTP/1.1\r\nHost: h\r\n" S ": a\r\n" S ": b\r\n\r\n", &q);
    CU_ASSERT_EQUAL(iotc_authz_from_http(q, &c, &why), IOTC_ERR_MALFORMED);
    iotc_http_reader_free(rd);
    rd = parse_req("GET /mqtt HTTP/1.1\r\nHost: h\r\n" N ":\r\n\r\n", &q);
    CU_ASSERT_EQUAL(iotc_authz_from_http(q, &c, &why), IOTC_ERR_MALFORMED);
    iotc_http_reader_free(rd);
    /* Token header repeated: ambiguous, no token. */
    rd = parse_req("GET /mqtt HTTP/1.1\r\nHost: h\r\nTok: 1\r\nTok: 2\r\n\r\n", &q);
    CU_ASSERT_EQUAL(iotc_authz_from_http(q, &c, &why), IOTC_OK);
    CU_ASSERT_PTR_NULL(iotc_authz_http_token(q, &c, "tok"));
    iotc_authz_creds_free(&c);
    iotc_http_reader_free(rd);
}

/* ---- token signatures ------------------------------------------------- */

static EVP_PKEY *pub_of(EVP_PKEY *priv, const char *structure, char **pem_out)
{
    OSSL_ENCODER_CTX *ectx =
        OSSL_ENCODER_CTX_new_for_pkey(priv, EVP_PKEY_PUBLIC_KEY, "PEM", structure, NULL);
    unsigned char *pem = NULL;
    size_t len = 0;
    CU_ASSERT_TRUE_FATAL(ectx && OSSL_ENCODER_to_data(ectx, &pem, &len) == 1);
    OSSL_ENCODER_CTX_free(ectx);
    char *s = malloc(len + 1);
    memcpy(s, pem, len);
    s[len] = '\0';
    OPENSSL_free(pem);
    *pem_out = s;
    EVP_PKEY *pub = NULL;
    iotc_errtext why = {0};
    iotc_authz_load_pubkey(s, len, &pub, &why);
    return pub;
}

static void test_token_signature(void)
{
    EVP_PKEY *priv = EVP_RSA_gen(2048);
    CU_ASSERT_PTR_NOT_NULL_FATAL(priv);
    char *pem = NULL;
    EVP_PKEY *pub = pub_of(priv, "SubjectPublicKeyInfo", &pem);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
    CU_ASSERT_PTR_NOT_NULL(strstr(pem, "BEGIN PUBLIC KEY"));
    free(pem);
    char *sig = NULL;
    CU_ASSERT_EQUAL_FATAL(iotc_authz_sign_token(priv, "token-alpha", &sig), IOTC_OK);
    CU_ASSERT_EQUAL(strlen(sig), 344); /* 256 bytes in base64 */
    iotc_errtext why = {0};
    CU_ASSERT_EQUAL(iotc_authz_verify_token(pub, "token-alpha", sig, &why), IOTC_OK);
    CU_ASSERT_EQUAL(iotc_authz_verify_token(pub, "token-alphA", sig, &why), IOTC_ERR_DENIED);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "does not verify"));
    CU_ASSERT_EQUAL(iotc_authz_verify_token(pub, "", sig, &why), IOTC_ERR_DENIED);
    /* One flipped bit in the signature. */
    char *bad = strdup(sig);
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    CU_ASSERT_EQUAL(iotc_authz_verify_token(pub, "token-alpha", bad, &why), IOTC_ERR_DENIED);
    free(bad);
    /* Truncated: wrong length for the key. */
    CU_ASSERT_EQUAL(iotc_authz_verify_token(pub, "token-alpha", "c2ln", &why), IOTC_ERR_DENIED);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "bytes"));
    /* Not base64. */
    CU_ASSERT_EQUAL(iotc_authz_verify_token(pub, "token-alpha", "not base64!", &why),
                    IOTC_ERR_MALFORMED);
    CU_ASSERT_EQUAL(iotc_authz_verify_token(pub, "token-alpha", "", &why), IOTC_ERR_MALFORMED);
    CU_ASSERT_EQUAL(iotc_authz_verify_token(pub, "token-alpha", "ab=c", &why), IOTC_ERR_MALFORMED);
    CU_ASSERT_EQUAL(iotc_authz_verify_token(NULL, "t", sig, &why), IOTC_ERR_INVALID);

    /* The whole MQTT path: percent-encoded signature in the username. */
    struct iotc_buf user = {0};
    const char *pre = "dev?" N "=auth1&tok=token-alpha&" S "=";
    iotc_buf_append(&user, pre, strlen(pre));
    for (const char *p = sig; *p; p++) {
        char enc[4];
        if (*p == '+' || *p == '/' || *p == '=')
            snprintf(enc, sizeof enc, "%%%02X", (unsigned char)*p);
        else
            snprintf(enc, sizeof enc, "%c", *p);
        iotc_buf_append(&user, enc, strlen(enc));
    }
    struct iotc_authz_creds c;
    CU_ASSERT_EQUAL(iotc_authz_parse_username((const char *)user.p, user.len, &c, &why), IOTC_OK);
    CU_ASSERT_EQUAL(
        iotc_authz_verify_token(pub, iotc_authz_creds_get(&c, "tok"), c.signature, &why), IOTC_OK);
    iotc_authz_creds_free(&c);
    iotc_buf_free(&user);

    /* PKCS#1 "RSA PUBLIC KEY" loads too. */
    EVP_PKEY *pub1 = pub_of(priv, "type-specific", &pem);
    CU_ASSERT_PTR_NOT_NULL(strstr(pem, "BEGIN RSA PUBLIC KEY"));
    CU_ASSERT_PTR_NOT_NULL(pub1);
    CU_ASSERT_EQUAL(iotc_authz_verify_token(pub1, "token-alpha", sig, &why), IOTC_OK);
    free(pem);
    EVP_PKEY_free(pub1);
    free(sig);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(priv);
}

static void test_token_short_and_wrong_keys(void)
{
    iotc_errtext why = {0};
    EVP_PKEY *k = NULL;
    /* RSA-1024: refused at load, with the size in the reason. */
    EVP_PKEY *small = EVP_RSA_gen(1024);
    CU_ASSERT_PTR_NOT_NULL_FATAL(small);
    char *pem = NULL;
    CU_ASSERT_PTR_NULL(pub_of(small, "SubjectPublicKeyInfo", &pem));
    CU_ASSERT_EQUAL(iotc_authz_load_pubkey(pem, strlen(pem), &k, &why), IOTC_ERR_CONFIG);
    CU_ASSERT_PTR_NULL(k);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "RSA-1024"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "2048"));
    free(pem);
    /* And a key that slipped past the loader is not used either. */
    char *sig = NULL;
    CU_ASSERT_EQUAL(iotc_authz_sign_token(small, "t", &sig), IOTC_OK);
    CU_ASSERT_EQUAL(iotc_authz_verify_token(small, "t", sig, &why), IOTC_ERR_INVALID);
    free(sig);
    EVP_PKEY_free(small);
    /* Not RSA. */
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ec);
    CU_ASSERT_PTR_NULL(pub_of(ec, "SubjectPublicKeyInfo", &pem));
    CU_ASSERT_EQUAL(iotc_authz_load_pubkey(pem, strlen(pem), &k, &why), IOTC_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "must be RSA"));
    free(pem);
    EVP_PKEY_free(ec);
    /* Garbage and missing files. */
    CU_ASSERT_EQUAL(iotc_authz_load_pubkey("hello", 5, &k, &why), IOTC_ERR_CONFIG);
    CU_ASSERT_EQUAL(iotc_authz_load_pubkey_file("/nonexistent/key.pub", &k, &why), IOTC_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "/nonexistent/key.pub"));
}

/* ---- response validation ---------------------------------------------- */

struct resp_row {
    const char *json;
    int rc;
    const char *why; /* substring of the reason, for refusals */
};

#define POL       "\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[]}\""
#define GOOD_TAIL "\"disconnectAfterInSeconds\":300,\"refreshAfterInSeconds\":86400"
#define GOOD(pid, pols)                                                                            \
    "{\"isAuthenticated\":true,\"principalId\":" pid ",\"policyDocuments\":" pols "," GOOD_TAIL "}"

static const struct resp_row resp_rows[] = {
    {GOOD("\"alpha\"", "[" POL "]"), IOTC_OK, NULL},
    {GOOD("\"A1b2C3\"", "[]"), IOTC_OK, NULL},
    {"{\"isAuthenticated\":false}", IOTC_OK, NULL},
    {"{\"isAuthenticated\":false,\"principalId\":\"x\",\"policyDocuments\":[]," GOOD_TAIL "}",
     IOTC_OK, NULL},
    {GOOD("\"alpha\"",
          "[" POL "," POL "," POL "," POL "," POL "," POL "," POL "," POL "," POL "," POL "]"),
     IOTC_OK, NULL},
    {"", IOTC_ERR_MALFORMED, "empty"},
    {"not json", IOTC_ERR_MALFORMED, "not valid JSON"},
    {"[true]", IOTC_ERR_MALFORMED, "must be a JSON object"},
    {"{\"isAuthenticated\":true} trailing", IOTC_ERR_MALFORMED, "not valid JSON"},
    {"{}", IOTC_ERR_MALFORMED, "isAuthenticated is required"},
    {"{\"isAuthenticated\":\"true\"}", IOTC_ERR_MALFORMED, "true or false"},
    {"{\"isAuthenticated\":1}", IOTC_ERR_MALFORMED, "true or false"},
    {"{\"isAuthenticated\":false,\"isAuthenticated\":true}", IOTC_ERR_MALFORMED, "not valid JSON"},
    {"{\"isAuthenticated\":true}", IOTC_ERR_MALFORMED, "principalId is required"},
    {"{\"isAuthenticated\":true,\"principalId\":\"a\",\"policyDocuments\":[],"
     "\"refreshAfterInSeconds\":300}",
     IOTC_ERR_MALFORMED, "disconnectAfterInSeconds is required"},
    {GOOD("\"\"", "[]"), IOTC_ERR_MALFORMED, "1 to 128"},
    {GOOD("\"has space\"", "[]"), IOTC_ERR_MALFORMED, "[a-zA-Z0-9]"},
    {GOOD("\"dash-ed\"", "[]"), IOTC_ERR_MALFORMED, "[a-zA-Z0-9]"},
    {GOOD("\"caf\\u00e9\"", "[]"), IOTC_ERR_MALFORMED, "[a-zA-Z0-9]"},
    {GOOD("42", "[]"), IOTC_ERR_MALFORMED, "principalId must be a string"},
    {GOOD("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
          "[]"),
     IOTC_ERR_MALFORMED, "1 to 128"},
    {GOOD("\"alpha\"", "\""
                       "{}"
                       "\""),
     IOTC_ERR_MALFORMED, "must be an array"},
    {GOOD("\"alpha\"", "[{}]"), IOTC_ERR_MALFORMED, "policyDocuments[0] must be a string"},
    {GOOD("\"alpha\"", "[" POL ",\"{not json\"]"), IOTC_ERR_MALFORMED,
     "policyDocuments[1] is not valid JSON"},
    {GOOD("\"alpha\"", "[\"[1,2]\"]"), IOTC_ERR_MALFORMED, "must be a JSON object"},
    {GOOD("\"alpha\"", "[" POL "," POL "," POL "," POL "," POL "," POL "," POL "," POL "," POL
                       "," POL "," POL "]"),
     IOTC_ERR_MALFORMED, "11 entries"},
    {"{\"isAuthenticated\":true,\"principalId\":\"a\",\"policyDocuments\":[],"
     "\"disconnectAfterInSeconds\":299,\"refreshAfterInSeconds\":300}",
     IOTC_ERR_MALFORMED, "disconnectAfterInSeconds must be 300..86400 (got 299)"},
    {"{\"isAuthenticated\":true,\"principalId\":\"a\",\"policyDocuments\":[],"
     "\"disconnectAfterInSeconds\":300,\"refreshAfterInSeconds\":86401}",
     IOTC_ERR_MALFORMED, "refreshAfterInSeconds must be 300..86400"},
    {"{\"isAuthenticated\":true,\"principalId\":\"a\",\"policyDocuments\":[],"
     "\"disconnectAfterInSeconds\":300.0,\"refreshAfterInSeconds\":300}",
     IOTC_ERR_MALFORMED, "disconnectAfterInSeconds must be an integer"},
    {"{\"isAuthenticated\":true,\"principalId\":\"a\",\"policyDocuments\":[],"
     "\"disconnectAfterInSeconds\":\"300\",\"refreshAfterInSeconds\":300}",
     IOTC_ERR_MALFORMED, "must be an integer"},
    {"{\"isAuthenticated\":true,\"principalId\":\"a\",\"policyDocuments\":[],"
     "\"disconnectAfterInSeconds\":-5,\"refreshAfterInSeconds\":300}",
     IOTC_ERR_MALFORMED, "got -5"},
    {"{\"isAuthenticated\":false,\"context\":{}}", IOTC_ERR_MALFORMED, "unknown key \"context\""},
    {"{\"isAuthenticated\":true,\"principalID\":\"a\"}", IOTC_ERR_MALFORMED,
     "unknown key \"principalID\""},
    {"{\"isAuthenticated\":false,\"principalId\":\"bad id\"}", IOTC_ERR_MALFORMED, "[a-zA-Z0-9]"},
};

static void test_response_table(void)
{
    for (size_t i = 0; i < sizeof resp_rows / sizeof resp_rows[0]; i++) {
        const struct resp_row *r = &resp_rows[i];
        struct iotc_authz_response out;
        iotc_errtext why = {0};
        int rc = iotc_authz_response_parse(r->json, strlen(r->json), &out, &why);
        bool why_ok = !r->why || strstr(why.msg, r->why);
        if (rc != r->rc || !why_ok)
            fprintf(stderr, "\n  row %zu: rc %d why '%s'\n", i, rc, why.msg);
        CU_ASSERT_EQUAL(rc, r->rc);
        CU_ASSERT_TRUE(why_ok);
        if (rc == IOTC_OK) {
            CU_ASSERT_STRING_EQUAL(why.msg, "");
        } else {
            CU_ASSERT_EQUAL(out.policy_count, 0);
        }
        iotc_authz_response_free(&out);
    }
    /* Field values come through. */
    struct iotc_authz_response out;
    const char *good = GOOD("\"alpha\"", "[" POL "]");
    CU_ASSERT_EQUAL(iotc_authz_response_parse(good, strlen(good), &out, NULL), IOTC_OK);
    CU_ASSERT_TRUE(out.authenticated);
    CU_ASSERT_STRING_EQUAL(out.principal_id, "alpha");
    CU_ASSERT_EQUAL_FATAL(out.policy_count, 1);
    CU_ASSERT_STRING_EQUAL(out.policies[0], "{\"Version\":\"2012-10-17\",\"Statement\":[]}");
    CU_ASSERT_EQUAL(out.disconnect_after, 300);
    CU_ASSERT_EQUAL(out.refresh_after, 86400);
    iotc_authz_response_free(&out);
    /* A policy of exactly 2048 characters (multi-byte ones count once) is fine, 2049 is not. */
    for (int extra = 0; extra < 2; extra++) {
        struct iotc_buf b = {0};
        const char *head = "{\"isAuthenticated\":true,\"principalId\":\"a\",\"policyDocuments\":"
                           "[\"{\\\"k\\\":\\\"";
        iotc_buf_append(&b, head, strlen(head));
        int fill = 2048 - 8 + extra; /* {"k":"...."} is 8 characters around the fill */
        for (int i = 0; i < fill; i++)
            iotc_buf_append(&b, i % 2 ? "\xc3\xa9" : "x", i % 2 ? 2 : 1);
        const char *tail = "\\\"}\"]," GOOD_TAIL "}";
        iotc_buf_append(&b, tail, strlen(tail));
        iotc_errtext why = {0};
        int rc = iotc_authz_response_parse((const char *)b.p, b.len, &out, &why);
        CU_ASSERT_EQUAL(rc, extra ? IOTC_ERR_MALFORMED : IOTC_OK);
        if (extra)
            CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "2049 characters"));
        iotc_authz_response_free(&out);
        iotc_buf_free(&b);
    }
}

/* ---- request event ----------------------------------------------------- */

static void test_request_event(void)
{
    /* MQTT over TLS (port 443, ALPN mqtt). */
    static const uint8_t pw[] = {'p', 0, 0xff};
    struct iotc_authz_request r = {
        .token = "token-alpha",
        .signature_verified = true,
        .tls = true,
        .mqtt = true,
        .server_name = "iot.example.test",
        .mqtt_username = "dev?x-amz-customauthorizer-name=a",
        .mqtt_password = pw,
        .mqtt_password_len = sizeof pw,
        .mqtt_client_id = "dev1",
        .connection_id = "0b5a2c4e-1111-4222-8333-444455556666",
    };
    char *text = iotc_authz_request_json(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "token")), "token-alpha");
    CU_ASSERT_TRUE(json_is_true(json_object_get(j, "signatureVerified")));
    json_t *protos = json_object_get(j, "protocols");
    CU_ASSERT_EQUAL(json_array_size(protos), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(protos, 0)), "tls");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(protos, 1)), "mqtt");
    json_t *pd = json_object_get(j, "protocolData");
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_object_get(pd, "tls"), "serverName")),
        "iot.example.test");
    CU_ASSERT_PTR_NULL(json_object_get(pd, "http"));
    json_t *mqtt = json_object_get(pd, "mqtt");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(mqtt, "password")), "cAD/");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(mqtt, "clientId")), "dev1");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(mqtt, "username")),
                           "dev?x-amz-customauthorizer-name=a");
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_object_get(j, "connectionMetadata"), "id")),
        "0b5a2c4e-1111-4222-8333-444455556666");
    CU_ASSERT_EQUAL(json_object_size(j), 5);
    json_decref(j);
    free(text);

    /* HTTPS, no SNI, no token, no password: those keys are absent. */
    const struct iotc_http_req *q;
    struct iotc_http_reader *rd = parse_req(
        "POST /topics/t?qos=1 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 0\r\n\r\n",
        &q);
    struct iotc_authz_request h = {.tls = true, .http = true, .req = q, .connection_id = "c"};
    text = iotc_authz_request_json(&h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    j = json_loads(text, 0, &err);
    CU_ASSERT_PTR_NULL(json_object_get(j, "token"));
    CU_ASSERT_TRUE(json_is_false(json_object_get(j, "signatureVerified")));
    pd = json_object_get(j, "protocolData");
    CU_ASSERT_EQUAL(json_object_size(json_object_get(pd, "tls")), 0);
    CU_ASSERT_PTR_NULL(json_object_get(pd, "mqtt"));
    json_t *http = json_object_get(pd, "http");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(http, "queryString")), "?qos=1");
    json_t *hdrs = json_object_get(http, "headers");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(hdrs, "host")), "h");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(hdrs, "x-a")), "1, 2");
    json_decref(j);
    free(text);
    iotc_http_reader_free(rd);
}

/* ---- authorizer programs ---------------------------------------------- */

struct run_result {
    int calls;
    int rc;
    char out[1024];
    char why[128];
    double ms;
    struct timeval start;
};

static void run_done(void *arg, int rc, const char *out, const char *why)
{
    struct run_result *r = arg;
    struct timeval now;
    gettimeofday(&now, NULL);
    r->ms = (now.tv_sec - r->start.tv_sec) * 1000.0 + (now.tv_usec - r->start.tv_usec) / 1000.0;
    r->calls++;
    r->rc = rc;
    snprintf(r->out, sizeof r->out, "%s", out);
    snprintf(r->why, sizeof r->why, "%s", why);
}

static void other_sigchld(evutil_socket_t s, short w, void *arg)
{
    /* Stands in for the broker supervisor's own SIGCHLD event: must coexist. */
    (*(int *)arg)++;
}

/* Runs programs concurrently on one loop; request is the same for all. */
static void run_all(char *const *argvs[], struct run_result *res, size_t n, const char *request,
                    int timeout_ms)
{
    struct event_base *base = event_base_new();
    int other = 0;
    struct event *sig = evsignal_new(base, SIGCHLD, other_sigchld, &other);
    evsignal_add(sig, NULL);
    for (size_t i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof res[i]);
        gettimeofday(&res[i].start, NULL);
        int rc =
            iotc_authz_run_program(base, argvs[i], request, timeout_ms, run_done, &res[i], NULL);
        CU_ASSERT_EQUAL(rc, IOTC_OK);
        CU_ASSERT_EQUAL(res[i].calls, 0); /* never from inside the call */
    }
    /* The jobs' events go away when they finish; the other SIGCHLD event stays,
     * so stop once every job reported (or after a guard time). */
    for (int spins = 0; spins < 2000; spins++) {
        size_t left = 0;
        for (size_t i = 0; i < n; i++)
            left += res[i].calls == 0;
        if (!left)
            break;
        event_base_loop(base, EVLOOP_ONCE);
    }
    event_free(sig);
    event_base_free(base);
    /* No zombie left behind, and no other child either. */
    int st;
    CU_ASSERT_EQUAL(waitpid(-1, &st, WNOHANG), -1);
    CU_ASSERT_EQUAL(errno, ECHILD);
}

static char *argv_allow[] = {FIXTURES "allow-by-token.sh", NULL};
static char *argv_deny[] = {FIXTURES "deny-all.sh", NULL};
static char *argv_crash[] = {FIXTURES "crash.sh", NULL};
static char *argv_slow[] = {FIXTURES "slow.sh", NULL};
static char *argv_bad[] = {FIXTURES "bad-json.sh", NULL};

static void test_run_allow_deny(void)
{
    struct iotc_authz_request rq = {
        .token = "token-beta", .tls = true, .mqtt = true, .connection_id = "c1"};
    char *request = iotc_authz_request_json(&rq);
    char *const *argvs[] = {argv_allow, argv_deny};
    struct run_result res[2];
    run_all(argvs, res, 2, request, 5000);
    free(request);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(res[i].calls, 1);
        CU_ASSERT_EQUAL(res[i].rc, IOTC_OK);
        CU_ASSERT_STRING_EQUAL(res[i].why, "");
    }
    struct iotc_authz_response out;
    iotc_errtext why = {0};
    CU_ASSERT_EQUAL(iotc_authz_response_parse(res[0].out, strlen(res[0].out), &out, &why), IOTC_OK);
    CU_ASSERT_TRUE(out.authenticated);
    CU_ASSERT_STRING_EQUAL(out.principal_id, "beta");
    CU_ASSERT_EQUAL(out.policy_count, 1);
    CU_ASSERT_EQUAL(out.disconnect_after, 300);
    iotc_authz_response_free(&out);
    CU_ASSERT_EQUAL(iotc_authz_response_parse(res[1].out, strlen(res[1].out), &out, &why), IOTC_OK);
    CU_ASSERT_FALSE(out.authenticated);
    iotc_authz_response_free(&out);

    /* An unknown token: refused by the allow-by-token program itself. */
    struct iotc_authz_request rq2 = {.token = "token-gamma", .tls = true, .mqtt = true};
    request = iotc_authz_request_json(&rq2);
    char *const *one[] = {argv_allow};
    run_all(one, res, 1, request, 5000);
    free(request);
    CU_ASSERT_EQUAL(res[0].rc, IOTC_OK);
    CU_ASSERT_EQUAL(iotc_authz_response_parse(res[0].out, strlen(res[0].out), &out, &why), IOTC_OK);
    CU_ASSERT_FALSE(out.authenticated);
    iotc_authz_response_free(&out);
}

static void test_run_failures(void)
{
    /* Only the slow program runs against the 500 ms deadline: under a loaded machine a
     * shell script can take longer than that just to start, so the others get 10 s. */
    char *const *argvs[] = {argv_crash, argv_bad};
    char *const *slow[] = {argv_slow};
    struct run_result res[3], slow_res[1];
    run_all(argvs, res, 2, "{\"token\":\"token-alpha\"}", 10000);
    run_all(slow, slow_res, 1, "{\"token\":\"token-alpha\"}", 500);
    res[2] = res[1];
    res[1] = slow_res[0];
    CU_ASSERT_EQUAL(res[0].rc, IOTC_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(res[0].why, "status 1"));
    CU_ASSERT_STRING_EQUAL(res[0].out, "");
    CU_ASSERT_EQUAL(res[1].rc, IOTC_ERR_TIMEOUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(res[1].why, "500 ms"));
    CU_ASSERT_TRUE(res[1].ms >= 450 && res[1].ms < 3000);
    CU_ASSERT_EQUAL(res[2].rc, IOTC_OK); /* it ran fine; its answer is the problem */
    struct iotc_authz_response out;
    iotc_errtext why = {0};
    CU_ASSERT_EQUAL(iotc_authz_response_parse(res[2].out, strlen(res[2].out), &out, &why),
                    IOTC_ERR_MALFORMED);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.msg, "not valid JSON"));
}

static void test_run_limits(void)
{
    /* Too much output: killed, reported. */
    char *noisy[] = {"/bin/sh", "-c", "head -c 70000 /dev/zero | tr '\\0' x; sleep 5", NULL};
    /* A program that exits without reading a large request: EPIPE, not SIGPIPE. */
    char *const *argvs[] = {noisy, argv_crash};
    size_t big = 512 * 1024;
    char *request = malloc(big + 1);
    memset(request, ' ', big);
    request[big] = '\0';
    struct run_result res[2];
    run_all(argvs, res, 2, request, 3000);
    free(request);
    CU_ASSERT_EQUAL(res[0].rc, IOTC_ERR_TOO_LARGE);
    CU_ASSERT_TRUE(res[0].ms < 2500);
    CU_ASSERT_EQUAL(res[1].rc, IOTC_ERR_IO);

    /* Not executable: refused at once, done() not called. */
    struct event_base *base = event_base_new();
    char *missing[] = {"/nonexistent/authorizer", NULL};
    struct run_result r = {0};
    CU_ASSERT_EQUAL(iotc_authz_run_program(base, missing, "{}", 0, run_done, &r, NULL),
                    IOTC_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(iotc_authz_run_program(base, NULL, "{}", 0, run_done, &r, NULL),
                    IOTC_ERR_INVALID);
    /* Cancel: the child is killed and reaped, done() never runs. */
    struct iotc_authz_job *job = NULL;
    CU_ASSERT_EQUAL(iotc_authz_run_program(base, argv_slow, "{}", 0, run_done, &r, &job), IOTC_OK);
    CU_ASSERT_PTR_NOT_NULL(job);
    event_base_loop(base, EVLOOP_NONBLOCK);
    iotc_authz_job_cancel(job);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CU_ASSERT_EQUAL(r.calls, 0);
    int st;
    CU_ASSERT_EQUAL(waitpid(-1, &st, WNOHANG), -1);
    event_base_free(base);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("authz", NULL, NULL);
    if (!s)
        return -1;
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"username: table", test_username_table},
        {"username: edges", test_username_edges},
        {"http: headers and query", test_http_creds},
        {"token: sign and verify", test_token_signature},
        {"token: short and wrong keys", test_token_short_and_wrong_keys},
        {"response: table", test_response_table},
        {"request: event shape", test_request_event},
        {"program: allow and deny", test_run_allow_deny},
        {"program: crash, slow, bad json", test_run_failures},
        {"program: output limit, EPIPE, cancel", test_run_limits},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return -1;
    return 0;
}
