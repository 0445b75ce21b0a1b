/*
 * The AWS IoT policy engine: a decision table (each allow row has a deny twin that
 * differs in one thing), parse errors that must name their JSON path, the fixture
 * policies, and a pathological wildcard that must stay fast.
 */
#include "policy/policy.h"
#include "common/err.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ARN             "arn:aws:iot:us-east-1:123456789012:"
#define DOC(stmts)      "{\"Version\":\"2012-10-17\",\"Statement\":" stmts "}"
#define ALLOW(act, res) "{\"Effect\":\"Allow\",\"Action\":" act ",\"Resource\":" res "}"
#define DENY(act, res)  "{\"Effect\":\"Deny\",\"Action\":" act ",\"Resource\":" res "}"

enum {
    P_ALL,
    P_CONNECT_EXACT,
    P_TOPIC_STAR,
    P_QMARK,
    P_LITERAL_PLUS,
    P_LITERAL_HASH,
    P_VAR_CLIENT,
    P_VAR_THING,
    P_ESCAPES,
    P_DENY_SECRET,
    P_DENY_X,
    P_ACTION_CASE,
    P_ACTION_WILD,
    P_STMT_OBJECT,
    P_LISTS,
    P_NOT_ACTION,
    P_NOT_RESOURCE,
    P_CN,
    P_CERT_ID,
    P_UNKNOWN_VAR,
    P_REGION,
    P_ACCOUNT,
    P_ARN_TRAIL,
    P_V2008,
    P_CASE_RESOURCE,
    P_FILTER_STAR,
    P_DENY_VAR,
    P_NOTRES_VAR,
    P_RETAIN,
    P_ACTION_STAR,
    P_ALLOW_X,
    /* conditions */
    C_BOOL,
    C_BOOL_JSON,
    C_STR_EQ,
    C_STR_NE,
    C_STR_IC,
    C_STR_NE_IC,
    C_STR_LIKE,
    C_STR_NOTLIKE,
    C_STR_VAR,
    C_NUM_LT,
    C_NUM_GE,
    C_NUM_EQ,
    C_NUM_NE,
    C_NUM_LE_GT,
    C_DATE_LT,
    C_DATE_GE,
    C_DATE_EQ,
    C_DATE_NE,
    C_EPOCH_GT,
    C_IP,
    C_NOT_IP,
    C_IP6,
    C_ARN_LIKE,
    C_ARN_EQ,
    C_ARN_NOT,
    C_NULL_T,
    C_NULL_F,
    C_IFEXISTS,
    C_ALLV,
    C_ANYV,
    C_ALLV_NE,
    C_ANYV_LIKE,
    C_NOQUAL_MULTI,
    C_DENY_COND,
    C_AND,
    C_ABSENT_NE,
    C_ABSENT_EQ,
    C_KEY_CASE,
    C_CERT,
    P_COUNT
};

#define COND(op, key, val)                                                                         \
    DOC("[{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Condition\":{\"" op      \
        "\":{\"" key "\":" val "}}}]")
#define ATTR(name) "iot:Connection.Thing.Attributes[" name "]"
#define CATTR      "iot:ConnectAttributes"

static const char *const policy_text[P_COUNT] = {
    [P_ALL] = DOC("[" ALLOW("\"iot:*\"", "\"*\"") "]"),
    [P_CONNECT_EXACT] = DOC("[" ALLOW("\"iot:Connect\"", "\"" ARN "client/dev-1\"") "]"),
    [P_TOPIC_STAR] = DOC("[" ALLOW("\"iot:Publish\"", "\"" ARN "topic/a/*\"") "]"),
    [P_QMARK] = DOC("[" ALLOW("\"iot:Publish\"", "\"" ARN "topic/dev-?\"") "]"),
    [P_LITERAL_PLUS] = DOC("[" ALLOW("\"iot:Subscribe\"", "\"" ARN "topicfilter/a/+\"") "]"),
    [P_LITERAL_HASH] = DOC("[" ALLOW("[\"iot:Publish\",\"iot:Subscribe\"]",
                                     "[\"" ARN "topic/a/#\",\"" ARN "topicfilter/a/#\"]") "]"),
    [P_VAR_CLIENT] = DOC("[" ALLOW("\"iot:Publish\"", "\"" ARN "topic/c/${iot:ClientId}\"") "]"),
    [P_VAR_THING] = DOC(
        "[" ALLOW("\"iot:Connect\"", "\"" ARN "client/${iot:Connection.Thing.ThingName}\"") "]"),
    [P_ESCAPES] = DOC("[" ALLOW("\"iot:Publish\"", "\"" ARN "topic/lit/${*}/${?}/${$}\"") "]"),
    [P_DENY_SECRET] = DOC("[" ALLOW("\"iot:*\"", "\"*\"") "," DENY(
        "\"iot:Publish\"", "\"" ARN "topic/secret/*\"") "]"),
    [P_DENY_X] = DOC("[" DENY("\"iot:Publish\"", "\"" ARN "topic/x\"") "]"),
    [P_ACTION_CASE] = DOC("[" ALLOW("\"IOT:PUBLISH\"", "\"" ARN "topic/*\"") "]"),
    [P_ACTION_WILD] = DOC("[" ALLOW("[\"iot:P*\",\"iot:?eceive\"]", "\"*\"") "]"),
    [P_STMT_OBJECT] = DOC(ALLOW("\"iot:Receive\"", "\"" ARN "topic/r\"")),
    [P_LISTS] = DOC("[" ALLOW("[\"iot:Publish\",\"iot:Receive\"]",
                              "[\"" ARN "topic/l1\",\"" ARN "topic/l2\"]") "]"),
    [P_NOT_ACTION] =
        DOC("[{\"Effect\":\"Allow\",\"NotAction\":\"iot:Publish\",\"Resource\":\"*\"}]"),
    [P_NOT_RESOURCE] = DOC("[{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\","
                           "\"NotResource\":\"" ARN "topic/private/*\"}]"),
    [P_CN] = DOC("[" ALLOW("\"iot:Publish\"",
                           "\"" ARN "topic/cn/${iot:Certificate.Subject.CommonName}\"") "]"),
    [P_CERT_ID] = DOC("[" ALLOW("\"iot:Connect\"", "\"" ARN "client/${iot:CertificateId}\"") "]"),
    [P_UNKNOWN_VAR] = DOC(
        "[" ALLOW("\"iot:Publish\"", "[\"" ARN "topic/u/${iot:Nope}\",\"" ARN "topic/ok\"]") "]"),
    [P_REGION] = DOC("[" ALLOW("\"iot:Publish\"", "\"arn:aws:iot:eu-west-1:*:topic/*\"") "]"),
    [P_ACCOUNT] = DOC("[" ALLOW("\"iot:Publish\"", "\"arn:aws:iot:*:123456789012:topic/x\"") "]"),
    [P_ARN_TRAIL] = DOC("[" ALLOW("\"iot:Publish\"", "\"arn:aws:iot:*\"") "]"),
    [P_V2008] = "{\"Version\":\"2008-10-17\",\"Statement\":[" ALLOW(
        "\"iot:Publish\"", "\"" ARN "topic/${iot:ClientId}\"") "]}",
    [P_CASE_RESOURCE] = DOC("[" ALLOW("\"iot:Publish\"", "\"" ARN "topic/Upper\"") "]"),
    [P_FILTER_STAR] = DOC("[" ALLOW("\"iot:Subscribe\"", "\"" ARN "topicfilter/*\"") "]"),
    [P_DENY_VAR] = DOC("[" ALLOW("\"iot:*\"", "\"*\"") "," DENY(
        "\"iot:Publish\"", "\"" ARN "topic/${iot:Connection.Thing.ThingName}/locked\"") "]"),
    [P_NOTRES_VAR] = DOC("[{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"NotResource\":\"" ARN
                         "topic/${iot:Connection.Thing.ThingName}/*\"}]"),
    [P_RETAIN] = DOC("[" ALLOW("\"iot:RetainPublish\"", "\"" ARN "topic/r/*\"") "]"),
    [P_ACTION_STAR] = DOC("[" ALLOW("\"*\"", "\"" ARN "client/*\"") "]"),
    [P_ALLOW_X] = DOC("[{\"Sid\":\"X\",\"Effect\":\"Allow\",\"Action\":\"iot:Publish\","
                      "\"Resource\":\"" ARN "topic/x\"}]"),
};

static struct iotc_policy *compiled[P_COUNT];

/* Condition policies: each allows everything when its one condition holds. */
static const char *const cond_text[][2] = {
    {"C_BOOL", COND("Bool", "iot:Connection.Thing.IsAttached", "\"true\"")},
    {"C_BOOL_JSON", COND("Bool", "iot:Connection.Thing.IsAttached", "[true]")},
    {"C_STR_EQ", COND("StringEquals", ATTR("color"), "\"red\"")},
    {"C_STR_NE", COND("StringNotEquals", ATTR("color"), "[\"red\",\"green\"]")},
    {"C_STR_IC", COND("StringEqualsIgnoreCase", ATTR("color"), "\"RED\"")},
    {"C_STR_NE_IC", COND("StringNotEqualsIgnoreCase", ATTR("color"), "\"RED\"")},
    {"C_STR_LIKE", COND("StringLike", "iot:ClientId", "[\"nope\",\"dev-*\"]")},
    {"C_STR_NOTLIKE", COND("StringNotLike", "iot:ClientId", "\"dev-?\"")},
    {"C_STR_VAR", COND("StringEquals", "iot:ClientId", "\"${iot:Connection.Thing.ThingName}\"")},
    {"C_NUM_LT", COND("NumericLessThan", "iot:Certificate.SerialNumber", "\"100\"")},
    {"C_NUM_GE", COND("NumericGreaterThanEquals", "iot:Certificate.SerialNumber", "42")},
    {"C_NUM_EQ", COND("NumericEquals", "iot:Certificate.SerialNumber", "\"42.0\"")},
    {"C_NUM_NE", COND("NumericNotEquals", "iot:Certificate.SerialNumber", "\"42\"")},
    {"C_NUM_LE_GT",
     DOC("[{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Condition\":{"
         "\"NumericLessThanEquals\":{\"iot:Certificate.SerialNumber\":\"42\"},"
         "\"NumericGreaterThan\":{\"iot:Certificate.SerialNumber\":\"41.5\"}}}]")},
    {"C_DATE_LT", COND("DateLessThan", "aws:CurrentTime", "\"2027-01-01T00:00:00Z\"")},
    {"C_DATE_GE", COND("DateGreaterThanEquals", "aws:CurrentTime", "\"2026-06-01\"")},
    {"C_DATE_EQ", COND("DateEquals", "aws:CurrentTime", "\"2026-06-01T02:00:00+02:00\"")},
    {"C_DATE_NE", COND("DateNotEquals", "aws:CurrentTime", "\"2026-06-01T00:00:00Z\"")},
    {"C_EPOCH_GT", COND("DateGreaterThan", "aws:EpochTime", "\"1780000000\"")},
    {"C_IP", COND("IpAddress", "aws:SourceIp", "[\"192.0.2.0/24\",\"127.0.0.0/8\"]")},
    {"C_NOT_IP", COND("NotIpAddress", "aws:SourceIp", "\"127.0.0.0/8\"")},
    {"C_IP6", COND("IpAddress", "aws:SourceIp", "\"::1/128\"")},
    {"C_ARN_LIKE", COND("ArnLike", ATTR("role"), "\"arn:aws:iam::*:role/dev*\"")},
    {"C_ARN_EQ", COND("ArnEquals", ATTR("role"), "\"arn:aws:iam::123456789012:role/dev\"")},
    {"C_ARN_NOT", COND("ArnNotLike", ATTR("role"), "\"arn:aws:iam::*:role/*\"")},
    {"C_NULL_T", COND("Null", ATTR("color"), "\"true\"")},
    {"C_NULL_F", COND("Null", ATTR("color"), "false")},
    {"C_IFEXISTS", COND("StringEqualsIfExists", ATTR("color"), "\"red\"")},
    {"C_ALLV", COND("ForAllValues:StringEquals", CATTR, "[\"PersistentConnect\"]")},
    {"C_ANYV", COND("ForAnyValue:StringEquals", CATTR, "[\"LastWill\"]")},
    {"C_ALLV_NE", COND("ForAllValues:StringNotEquals", CATTR, "\"PersistentConnect\"")},
    {"C_ANYV_LIKE", COND("ForAnyValue:StringLike", CATTR, "\"Last*\"")},
    {"C_NOQUAL_MULTI", COND("StringNotEquals", CATTR, "\"LastWill\"")},
    {"C_DENY_COND",
     DOC("[" ALLOW("\"iot:*\"",
                   "\"*\"") ",{\"Effect\":\"Deny\",\"Action\":\"iot:Publish\","
                            "\"Resource\":\"*\",\"Condition\":{\"NotIpAddress\":{\"aws:SourceIp\":"
                            "\"127.0.0.0/8\"}}}]")},
    {"C_AND",
     DOC("[{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Condition\":{"
         "\"Bool\":{\"iot:Connection.Thing.IsAttached\":\"true\"},"
         "\"StringEquals\":{\"" ATTR("color") "\":\"red\",\"iot:ClientId\":\"dev-1\"}}}]")},
    {"C_ABSENT_NE", COND("StringNotEquals", ATTR("size"), "\"big\"")},
    {"C_ABSENT_EQ", COND("StringEquals", ATTR("size"), "\"big\"")},
    {"C_KEY_CASE", COND("StringEquals", "IOT:CONNECTION.THING.ATTRIBUTES[color]", "\"red\"")},
    {"C_CERT", COND("StringLike", "iot:Certificate.Subject.CommonName", "\"cn-*\"")},
};

static const struct iotc_policy_ctx ctx_dev = {
    .region = "us-east-1",
    .account = "123456789012",
    .client_id = "dev-1",
    .thing_name = "thing-1",
    .cert_subject_cn = "cn-1",
    .cert_id = "c0ffee",
};
/* Same device, not attached to a thing and with an empty CN: variables unresolved. */
static const struct iotc_policy_ctx ctx_nothing = {
    .region = "us-east-1",
    .account = "123456789012",
    .client_id = "dev-1",
    .cert_subject_cn = "",
};
/* Values with wildcard characters must be substituted literally. */
static const struct iotc_policy_ctx ctx_wild = {
    .region = "us-east-1",
    .account = "123456789012",
    .client_id = "*",
    .thing_name = "t?",
};
static const struct iotc_policy_ctx ctx_eu = {
    .region = "eu-west-1", .account = "123456789012", .client_id = "dev-1"};
static const struct iotc_policy_ctx ctx_other_account = {
    .region = "us-east-1", .account = "999999999999", .client_id = "dev-1"};

/* Condition contexts: cond_a meets the conditions above, cond_b differs in each. */
static const char *const
    v_127[] = {"127.0.0.1"},
    *const v_10[] = {"10.1.2.3"}, *const v_v6[] = {"::1"}, *const v_mapped[] = {"::ffff:127.0.0.1"},
    *const v_true[] = {"true"}, *const v_false[] = {"false"}, *const v_red[] = {"red"},
    *const v_blue[] = {"blue"}, *const v_role[] = {"arn:aws:iam::123456789012:role/dev"},
    *const v_user[] = {"arn:aws:iam::123456789012:user/x"}, *const v_42[] = {"42"},
    *const v_700[] = {"700"}, *const v_nan[] = {"forty-two"},
    *const v_2026[] = {"2026-06-01T00:00:00Z"}, *const v_2028[] = {"2028-01-01T00:00:00Z"},
    *const v_e26[] = {"1780272000"}, *const v_e20[] = {"1600000000"},
    *const v_lw_pc[] = {"LastWill", "PersistentConnect"}, *const v_pc[] = {"PersistentConnect"},
    *const v_lw[] = {"LastWill"};
#define KV(k, v)                                                                                   \
    {                                                                                              \
        k, v, sizeof v / sizeof v[0]                                                               \
    }
static const struct iotc_policy_kv kv_a[] = {
    KV("aws:SourceIp", v_127),
    KV("iot:Connection.Thing.IsAttached", v_true),
    KV("iot:Connection.Thing.Attributes[color]", v_red),
    KV("iot:Connection.Thing.Attributes[role]", v_role),
    KV("iot:Certificate.SerialNumber", v_42),
    KV("aws:CurrentTime", v_2026),
    KV("aws:EpochTime", v_e26),
    KV("iot:ConnectAttributes", v_pc),
};
static const struct iotc_policy_kv kv_b[] = {
    KV("aws:SourceIp", v_10),
    KV("iot:Connection.Thing.IsAttached", v_false),
    KV("iot:Connection.Thing.Attributes[color]", v_blue),
    KV("iot:Connection.Thing.Attributes[role]", v_user),
    KV("iot:Certificate.SerialNumber", v_700),
    KV("aws:CurrentTime", v_2028),
    KV("aws:EpochTime", v_e20),
    KV("iot:ConnectAttributes", v_lw_pc),
};
static const struct iotc_policy_kv kv_c[] = {
    KV("aws:SourceIp", v_v6),
    KV("iot:Certificate.SerialNumber", v_nan),
    KV("iot:ConnectAttributes", v_lw),
    {"iot:Connection.Thing.IsAttached", NULL, 0},
};
static const struct iotc_policy_kv kv_d[] = {
    KV("aws:SourceIp", v_mapped),
    KV("iot:Connection.Thing.Attributes[Color]", v_red), /* attribute names are case-sensitive */
};
static const struct iotc_policy_ctx cond_a = {.region = "us-east-1",
                                              .account = "123456789012",
                                              .client_id = "dev-1",
                                              .thing_name = "thing-1",
                                              .cert_subject_cn = "cn-1",
                                              .keys = kv_a,
                                              .nkeys = sizeof kv_a / sizeof kv_a[0]};
static const struct iotc_policy_ctx cond_b = {.region = "us-east-1",
                                              .account = "123456789012",
                                              .client_id = "dev-17",
                                              .thing_name = "dev-17",
                                              .cert_subject_cn = "other",
                                              .keys = kv_b,
                                              .nkeys = sizeof kv_b / sizeof kv_b[0]};
static const struct iotc_policy_ctx cond_c = {.region = "us-east-1",
                                              .account = "123456789012",
                                              .client_id = "x",
                                              .keys = kv_c,
                                              .nkeys = sizeof kv_c / sizeof kv_c[0]};
static const struct iotc_policy_ctx cond_d = {.region = "us-east-1",
                                              .account = "123456789012",
                                              .client_id = "x",
                                              .keys = kv_d,
                                              .nkeys = sizeof kv_d / sizeof kv_d[0]};

#define POL1(a)       {a, -1, -1}, 1
#define POL2(a, b)    {a, b, -1}, 2
#define POL3(a, b, c) {a, b, c}, 3

struct row {
    int pols[3];
    size_t npols;
    enum iotc_action act;
    const char *resource;
    const struct iotc_policy_ctx *ctx;
    bool allow;
    const char *why; /* substring of the explanation, or NULL */
};

static const struct row rows[] = {
    /* allow-all and default deny */
    {POL1(P_ALL), IOTC_ACT_CONNECT, "anyone", &ctx_dev, true, "allowed by policy 0 statement 0"},
    {POL1(P_CONNECT_EXACT), IOTC_ACT_CONNECT, "anyone", &ctx_dev, false, "default deny"},
    {POL1(P_ALL), IOTC_ACT_RETAIN_PUBLISH, "x/y", &ctx_dev, true, NULL},
    {{-1, -1, -1},
     0,
     IOTC_ACT_RETAIN_PUBLISH,
     "x/y",
     &ctx_dev,
     false,
     "no Allow matched (default deny)"},
    /* exact client ARN */
    {POL1(P_CONNECT_EXACT), IOTC_ACT_CONNECT, "dev-1", &ctx_dev, true, NULL},
    {POL1(P_CONNECT_EXACT), IOTC_ACT_CONNECT, "dev-12", &ctx_dev, false, NULL},
    {POL1(P_CONNECT_EXACT), IOTC_ACT_PUBLISH, "dev-1", &ctx_dev, false, NULL},
    /* `*` spans levels, but needs the literal prefix */
    {POL1(P_TOPIC_STAR), IOTC_ACT_PUBLISH, "a/b", &ctx_dev, true, NULL},
    {POL1(P_TOPIC_STAR), IOTC_ACT_PUBLISH, "a", &ctx_dev, false, NULL},
    {POL1(P_TOPIC_STAR), IOTC_ACT_PUBLISH, "a/b/c/d", &ctx_dev, true, NULL},
    {POL1(P_TOPIC_STAR), IOTC_ACT_PUBLISH, "b/a/c", &ctx_dev, false, NULL},
    {POL1(P_TOPIC_STAR), IOTC_ACT_PUBLISH, "a/", &ctx_dev, true, NULL},
    {POL1(P_TOPIC_STAR), IOTC_ACT_RECEIVE, "a/b", &ctx_dev, false, NULL},
    /* `?` is exactly one character (one code point) */
    {POL1(P_QMARK), IOTC_ACT_PUBLISH, "dev-7", &ctx_dev, true, NULL},
    {POL1(P_QMARK), IOTC_ACT_PUBLISH, "dev-17", &ctx_dev, false, NULL},
    {POL1(P_QMARK), IOTC_ACT_PUBLISH, "dev-\xc3\xa9", &ctx_dev, true, NULL},
    {POL1(P_QMARK), IOTC_ACT_PUBLISH, "dev-", &ctx_dev, false, NULL},
    /* MQTT + and # are literal characters in policies */
    {POL1(P_LITERAL_PLUS), IOTC_ACT_SUBSCRIBE, "a/+", &ctx_dev, true, NULL},
    {POL1(P_LITERAL_PLUS), IOTC_ACT_SUBSCRIBE, "a/b", &ctx_dev, false, NULL},
    {POL1(P_LITERAL_HASH), IOTC_ACT_SUBSCRIBE, "a/#", &ctx_dev, true, NULL},
    {POL1(P_LITERAL_HASH), IOTC_ACT_SUBSCRIBE, "a/b/#", &ctx_dev, false, NULL},
    {POL1(P_LITERAL_HASH), IOTC_ACT_PUBLISH, "a/#", &ctx_dev, true, NULL},
    {POL1(P_LITERAL_HASH), IOTC_ACT_PUBLISH, "a/b", &ctx_dev, false, NULL},
    /* a wildcard filter resource covers MQTT wildcard filters, literally */
    {POL1(P_FILTER_STAR), IOTC_ACT_SUBSCRIBE, "a/+/#", &ctx_dev, true, NULL},
    {POL1(P_FILTER_STAR), IOTC_ACT_PUBLISH, "a/+/#", &ctx_dev, false, NULL},
    /* policy variables */
    {POL1(P_VAR_CLIENT), IOTC_ACT_PUBLISH, "c/dev-1", &ctx_dev, true, NULL},
    {POL1(P_VAR_CLIENT), IOTC_ACT_PUBLISH, "c/dev-2", &ctx_dev, false, NULL},
    {POL1(P_VAR_THING), IOTC_ACT_CONNECT, "thing-1", &ctx_dev, true, NULL},
    {POL1(P_VAR_THING), IOTC_ACT_CONNECT, "thing-1", &ctx_nothing, false, NULL},
    {POL1(P_VAR_THING), IOTC_ACT_CONNECT, "dev-1", &ctx_dev, false, NULL},
    {POL1(P_CN), IOTC_ACT_PUBLISH, "cn/cn-1", &ctx_dev, true, NULL},
    {POL1(P_CN), IOTC_ACT_PUBLISH, "cn/", &ctx_nothing, false, NULL},
    {POL1(P_CERT_ID), IOTC_ACT_CONNECT, "c0ffee", &ctx_dev, true, NULL},
    {POL1(P_CERT_ID), IOTC_ACT_CONNECT, "c0ffee", &ctx_nothing, false, NULL},
    /* an unknown variable never resolves; the other entry still counts */
    {POL1(P_UNKNOWN_VAR), IOTC_ACT_PUBLISH, "ok", &ctx_dev, true, NULL},
    {POL1(P_UNKNOWN_VAR), IOTC_ACT_PUBLISH, "u/", &ctx_dev, false, NULL},
    /* variable values are literal, never wildcards */
    {POL1(P_VAR_CLIENT), IOTC_ACT_PUBLISH, "c/*", &ctx_wild, true, NULL},
    {POL1(P_VAR_CLIENT), IOTC_ACT_PUBLISH, "c/anything", &ctx_wild, false, NULL},
    {POL1(P_VAR_THING), IOTC_ACT_CONNECT, "t?", &ctx_wild, true, NULL},
    {POL1(P_VAR_THING), IOTC_ACT_CONNECT, "t1", &ctx_wild, false, NULL},
    /* escapes ${*} ${?} ${$} */
    {POL1(P_ESCAPES), IOTC_ACT_PUBLISH, "lit/*/?/$", &ctx_dev, true, NULL},
    {POL1(P_ESCAPES), IOTC_ACT_PUBLISH, "lit/x/y/$", &ctx_dev, false, NULL},
    {POL1(P_ESCAPES), IOTC_ACT_PUBLISH, "lit/**/?/$", &ctx_dev, false, NULL},
    /* Version 2008-10-17: ${...} is plain text */
    {POL1(P_V2008), IOTC_ACT_PUBLISH, "${iot:ClientId}", &ctx_dev, true, NULL},
    {POL1(P_V2008), IOTC_ACT_PUBLISH, "dev-1", &ctx_dev, false, NULL},
    /* explicit Deny wins, inside a policy and across policies, in any order */
    {POL1(P_DENY_SECRET), IOTC_ACT_PUBLISH, "public/x", &ctx_dev, true, NULL},
    {POL1(P_DENY_SECRET), IOTC_ACT_PUBLISH, "secret/x", &ctx_dev, false,
     "explicit Deny in policy 0 statement 1"},
    {POL1(P_DENY_SECRET), IOTC_ACT_SUBSCRIBE, "secret/x", &ctx_dev, true, NULL},
    {POL2(P_ALL, P_DENY_X), IOTC_ACT_PUBLISH, "y", &ctx_dev, true, "allowed by policy 0"},
    {POL2(P_ALL, P_DENY_X), IOTC_ACT_PUBLISH, "x", &ctx_dev, false,
     "explicit Deny in policy 1 statement 0"},
    {POL3(P_DENY_X, P_ALLOW_X, P_ALL), IOTC_ACT_PUBLISH, "x", &ctx_dev, false,
     "explicit Deny in policy 0"},
    {POL2(P_ALLOW_X, P_CONNECT_EXACT), IOTC_ACT_PUBLISH, "x", &ctx_dev, true,
     "allowed by policy 0 statement 0 (Sid X)"},
    {POL1(P_DENY_X), IOTC_ACT_PUBLISH, "y", &ctx_dev, false, "default deny"},
    /* a Deny with an unresolved variable is ignored, so the Allow stands */
    {POL1(P_DENY_VAR), IOTC_ACT_PUBLISH, "thing-1/locked", &ctx_nothing, true, NULL},
    {POL1(P_DENY_VAR), IOTC_ACT_PUBLISH, "thing-1/locked", &ctx_dev, false, "explicit Deny"},
    /* action names: case-insensitive, wildcards */
    {POL1(P_ACTION_CASE), IOTC_ACT_PUBLISH, "t", &ctx_dev, true, NULL},
    {POL1(P_ACTION_CASE), IOTC_ACT_SUBSCRIBE, "t", &ctx_dev, false, NULL},
    {POL1(P_ACTION_WILD), IOTC_ACT_PUBLISH, "t", &ctx_dev, true, NULL},
    {POL1(P_ACTION_WILD), IOTC_ACT_SUBSCRIBE, "t", &ctx_dev, false, NULL},
    {POL1(P_ACTION_WILD), IOTC_ACT_RECEIVE, "t", &ctx_dev, true, NULL},
    {POL1(P_ACTION_WILD), IOTC_ACT_RETAIN_PUBLISH, "t", &ctx_dev, false, NULL},
    {POL1(P_ACTION_STAR), IOTC_ACT_CONNECT, "c", &ctx_dev, true, NULL},
    {POL1(P_ACTION_STAR), IOTC_ACT_SUBSCRIBE, "c", &ctx_dev, false, NULL},
    /* resources are case-sensitive */
    {POL1(P_CASE_RESOURCE), IOTC_ACT_PUBLISH, "Upper", &ctx_dev, true, NULL},
    {POL1(P_CASE_RESOURCE), IOTC_ACT_PUBLISH, "upper", &ctx_dev, false, NULL},
    /* Statement object vs array; string vs list Action/Resource */
    {POL1(P_STMT_OBJECT), IOTC_ACT_RECEIVE, "r", &ctx_dev, true, NULL},
    {POL1(P_STMT_OBJECT), IOTC_ACT_RECEIVE, "r2", &ctx_dev, false, NULL},
    {POL1(P_LISTS), IOTC_ACT_RECEIVE, "l2", &ctx_dev, true, NULL},
    {POL1(P_LISTS), IOTC_ACT_RECEIVE, "l3", &ctx_dev, false, NULL},
    {POL1(P_LISTS), IOTC_ACT_PUBLISH, "l1", &ctx_dev, true, NULL},
    {POL1(P_LISTS), IOTC_ACT_SUBSCRIBE, "l1", &ctx_dev, false, NULL},
    /* NotAction / NotResource */
    {POL1(P_NOT_ACTION), IOTC_ACT_SUBSCRIBE, "t", &ctx_dev, true, NULL},
    {POL1(P_NOT_ACTION), IOTC_ACT_PUBLISH, "t", &ctx_dev, false, NULL},
    {POL1(P_NOT_RESOURCE), IOTC_ACT_PUBLISH, "public/x", &ctx_dev, true, NULL},
    {POL1(P_NOT_RESOURCE), IOTC_ACT_PUBLISH, "private/x", &ctx_dev, false, NULL},
    {POL1(P_NOTRES_VAR), IOTC_ACT_PUBLISH, "other/x", &ctx_dev, true, NULL},
    {POL1(P_NOTRES_VAR), IOTC_ACT_PUBLISH, "thing-1/x", &ctx_dev, false, NULL},
    {POL1(P_NOTRES_VAR), IOTC_ACT_PUBLISH, "other/x", &ctx_nothing, false, NULL},
    /* ARN segments: region, account, trailing `*` over the rest */
    {POL1(P_REGION), IOTC_ACT_PUBLISH, "t", &ctx_eu, true, NULL},
    {POL1(P_REGION), IOTC_ACT_PUBLISH, "t", &ctx_dev, false, NULL},
    {POL1(P_ACCOUNT), IOTC_ACT_PUBLISH, "x", &ctx_dev, true, NULL},
    {POL1(P_ACCOUNT), IOTC_ACT_PUBLISH, "x", &ctx_other_account, false, NULL},
    /* a topic that spells the account must not smuggle in another account */
    {POL1(P_ACCOUNT), IOTC_ACT_PUBLISH, "a:123456789012:topic/x", &ctx_other_account, false, NULL},
    {POL1(P_ARN_TRAIL), IOTC_ACT_PUBLISH, "any/topic", &ctx_other_account, true, NULL},
    {POL1(P_ARN_TRAIL), IOTC_ACT_SUBSCRIBE, "any/topic", &ctx_other_account, false, NULL},
    /* RetainPublish is its own action */
    {POL1(P_RETAIN), IOTC_ACT_RETAIN_PUBLISH, "r/x", &ctx_dev, true, NULL},
    {POL1(P_RETAIN), IOTC_ACT_PUBLISH, "r/x", &ctx_dev, false, NULL},
    /* Conditions: every operator family allows with cond_a and denies with cond_b. */
    {POL1(C_BOOL), IOTC_ACT_CONNECT, "c", &cond_a, true, NULL},
    {POL1(C_BOOL), IOTC_ACT_CONNECT, "c", &cond_b, false, "default deny"},
    {POL1(C_BOOL), IOTC_ACT_CONNECT, "c", &cond_c, false, NULL}, /* absent */
    {POL1(C_BOOL_JSON), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_BOOL_JSON), IOTC_ACT_PUBLISH, "t", &cond_b, false, NULL},
    {POL1(C_STR_EQ), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_STR_EQ), IOTC_ACT_PUBLISH, "t", &cond_b, false, NULL},
    {POL1(C_STR_EQ), IOTC_ACT_PUBLISH, "t", &cond_d, false, NULL}, /* [Color] is not [color] */
    {POL1(C_STR_NE), IOTC_ACT_PUBLISH, "t", &cond_b, true, NULL},
    {POL1(C_STR_NE), IOTC_ACT_PUBLISH, "t", &cond_a, false, NULL},
    {POL1(C_STR_IC), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_STR_IC), IOTC_ACT_PUBLISH, "t", &cond_b, false, NULL},
    {POL1(C_STR_NE_IC), IOTC_ACT_PUBLISH, "t", &cond_b, true, NULL},
    {POL1(C_STR_NE_IC), IOTC_ACT_PUBLISH, "t", &cond_a, false, NULL},
    {POL1(C_STR_LIKE), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_STR_LIKE), IOTC_ACT_PUBLISH, "t", &cond_c, false, NULL},
    {POL1(C_STR_NOTLIKE), IOTC_ACT_PUBLISH, "t", &cond_b, true, NULL},
    {POL1(C_STR_NOTLIKE), IOTC_ACT_PUBLISH, "t", &cond_a, false, NULL},
    {POL1(C_STR_VAR), IOTC_ACT_PUBLISH, "t", &cond_b, true, NULL},
    {POL1(C_STR_VAR), IOTC_ACT_PUBLISH, "t", &cond_a, false, NULL},
    {POL1(C_STR_VAR), IOTC_ACT_PUBLISH, "t", &cond_c, false, NULL}, /* unresolved variable */
    {POL1(C_NUM_LT), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_NUM_LT), IOTC_ACT_PUBLISH, "t", &cond_b, false, NULL},
    {POL1(C_NUM_LT), IOTC_ACT_PUBLISH, "t", &cond_c, false, NULL}, /* not a number */
    {POL1(C_NUM_GE), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_NUM_GE), IOTC_ACT_PUBLISH, "t", &cond_c, false, NULL},
    {POL1(C_NUM_EQ), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_NUM_EQ), IOTC_ACT_PUBLISH, "t", &cond_b, false, NULL},
    {POL1(C_NUM_NE), IOTC_ACT_PUBLISH, "t", &cond_b, true, NULL},
    {POL1(C_NUM_NE), IOTC_ACT_PUBLISH, "t", &cond_a, false, NULL},
    {POL1(C_NUM_LE_GT), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_NUM_LE_GT), IOTC_ACT_PUBLISH, "t", &cond_b, false, NULL},
    {POL1(C_DATE_LT), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_DATE_LT), IOTC_ACT_PUBLISH, "t", &cond_b, false, NULL},
    {POL1(C_DATE_GE), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_DATE_GE), IOTC_ACT_PUBLISH, "t", &cond_c, true, NULL}, /* the wall clock */
    {POL1(C_DATE_EQ), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_DATE_EQ), IOTC_ACT_PUBLISH, "t", &cond_b, false, NULL},
    {POL1(C_DATE_NE), IOTC_ACT_PUBLISH, "t", &cond_b, true, NULL},
    {POL1(C_DATE_NE), IOTC_ACT_PUBLISH, "t", &cond_a, false, NULL},
    {POL1(C_EPOCH_GT), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_EPOCH_GT), IOTC_ACT_PUBLISH, "t", &cond_b, false, NULL},
    {POL1(C_IP), IOTC_ACT_CONNECT, "c", &cond_a, true, NULL},
    {POL1(C_IP), IOTC_ACT_CONNECT, "c", &cond_b, false, NULL},
    {POL1(C_IP), IOTC_ACT_CONNECT, "c", &cond_d, true, NULL}, /* v4-mapped IPv6 */
    {POL1(C_IP), IOTC_ACT_CONNECT, "c", &cond_c, false, NULL},
    {POL1(C_NOT_IP), IOTC_ACT_CONNECT, "c", &cond_b, true, NULL},
    {POL1(C_NOT_IP), IOTC_ACT_CONNECT, "c", &cond_a, false, NULL},
    {POL1(C_IP6), IOTC_ACT_CONNECT, "c", &cond_c, true, NULL},
    {POL1(C_IP6), IOTC_ACT_CONNECT, "c", &cond_a, false, NULL},
    {POL1(C_ARN_LIKE), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_ARN_LIKE), IOTC_ACT_PUBLISH, "t", &cond_b, false, NULL},
    {POL1(C_ARN_EQ), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_ARN_EQ), IOTC_ACT_PUBLISH, "t", &cond_b, false, NULL},
    {POL1(C_ARN_NOT), IOTC_ACT_PUBLISH, "t", &cond_b, true, NULL},
    {POL1(C_ARN_NOT), IOTC_ACT_PUBLISH, "t", &cond_a, false, NULL},
    {POL1(C_NULL_T), IOTC_ACT_PUBLISH, "t", &cond_c, true, NULL},
    {POL1(C_NULL_T), IOTC_ACT_PUBLISH, "t", &cond_a, false, NULL},
    {POL1(C_NULL_F), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_NULL_F), IOTC_ACT_PUBLISH, "t", &cond_c, false, NULL},
    {POL1(C_IFEXISTS), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_IFEXISTS), IOTC_ACT_PUBLISH, "t", &cond_c, true, NULL}, /* absent: holds */
    {POL1(C_IFEXISTS), IOTC_ACT_PUBLISH, "t", &cond_b, false, NULL},
    /* set qualifiers over iot:ConnectAttributes */
    {POL1(C_ALLV), IOTC_ACT_CONNECT, "c", &cond_a, true, NULL},
    {POL1(C_ALLV), IOTC_ACT_CONNECT, "c", &cond_b, false, NULL},
    {POL1(C_ALLV), IOTC_ACT_CONNECT, "c", &cond_d, true, NULL}, /* empty set: holds */
    {POL1(C_ANYV), IOTC_ACT_CONNECT, "c", &cond_b, true, NULL},
    {POL1(C_ANYV), IOTC_ACT_CONNECT, "c", &cond_a, false, NULL},
    {POL1(C_ANYV), IOTC_ACT_CONNECT, "c", &cond_d, false, NULL}, /* empty set: fails */
    {POL1(C_ALLV_NE), IOTC_ACT_CONNECT, "c", &cond_c, true, NULL},
    {POL1(C_ALLV_NE), IOTC_ACT_CONNECT, "c", &cond_b, false, NULL},
    {POL1(C_ANYV_LIKE), IOTC_ACT_CONNECT, "c", &cond_c, true, NULL},
    {POL1(C_ANYV_LIKE), IOTC_ACT_CONNECT, "c", &cond_a, false, NULL},
    {POL1(C_NOQUAL_MULTI), IOTC_ACT_CONNECT, "c", &cond_a, true, NULL},
    {POL1(C_NOQUAL_MULTI), IOTC_ACT_CONNECT, "c", &cond_b, false, NULL},
    /* a conditional Deny applies only when its condition holds */
    {POL1(C_DENY_COND), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_DENY_COND), IOTC_ACT_PUBLISH, "t", &cond_b, false,
     "explicit Deny in policy 0 statement 1"},
    /* operators and keys are ANDed */
    {POL1(C_AND), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_AND), IOTC_ACT_PUBLISH, "t", &ctx_dev, false, NULL},
    /* an absent key: negated operators hold (IAM), the others fail */
    {POL1(C_ABSENT_NE), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_ABSENT_EQ), IOTC_ACT_PUBLISH, "t", &cond_a, false, NULL},
    /* key names are case-insensitive (not an attribute's name) */
    {POL1(C_KEY_CASE), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_KEY_CASE), IOTC_ACT_PUBLISH, "t", &cond_d, false, NULL},
    /* the context fields are condition keys too */
    {POL1(C_CERT), IOTC_ACT_PUBLISH, "t", &cond_a, true, NULL},
    {POL1(C_CERT), IOTC_ACT_PUBLISH, "t", &cond_b, false, NULL},
};

static int suite_init(void)
{
    for (int i = 0; i < P_COUNT; i++) {
        iotc_errtext err = {0};
        const char *text = i < C_BOOL ? policy_text[i] : cond_text[i - C_BOOL][1];
        if (i >= C_BOOL && sizeof cond_text / sizeof cond_text[0] != P_COUNT - C_BOOL) {
            fprintf(stderr, "cond_text and the enum disagree\n");
            return 1;
        }
        if (iotc_policy_parse(text, strlen(text), &compiled[i], &err) != IOTC_OK) {
            fprintf(stderr, "policy %d does not parse: %s\n", i, err.msg);
            return 1;
        }
    }
    return 0;
}

static int suite_clean(void)
{
    for (int i = 0; i < P_COUNT; i++)
        iotc_policy_free(compiled[i]);
    return 0;
}

static void test_decision_table(void)
{
    size_t n = sizeof rows / sizeof rows[0], allows = 0;
    CU_ASSERT(n >= 60);
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        struct iotc_policy *set[3];
        for (size_t k = 0; k < r->npols; k++)
            set[k] = compiled[r->pols[k]];
        iotc_errtext why = {0};
        bool got = iotc_policy_allows(set, r->npols, r->act, r->resource, r->ctx, &why);
        bool why_ok = !r->why || strstr(why.msg, r->why);
        if (got != r->allow || !why_ok)
            fprintf(stderr, "\nrow %zu: %s %s: expected %s, got %s (%s)\n", i,
                    iotc_action_name(r->act), r->resource, r->allow ? "allow" : "deny",
                    got ? "allow" : "deny", why.msg);
        CU_ASSERT_EQUAL(got, r->allow);
        CU_ASSERT(why_ok);
        allows += r->allow;
    }
    /* Every positive row has a negative twin. */
    CU_ASSERT(allows * 2 <= n);
}

static void test_bad_context(void)
{
    iotc_errtext why = {0};
    struct iotc_policy *all = compiled[P_ALL];
    struct iotc_policy_ctx c = ctx_dev;
    CU_ASSERT_FALSE(iotc_policy_allows(&all, 1, IOTC_ACT_PUBLISH, "t", NULL, &why));
    CU_ASSERT_FALSE(iotc_policy_allows(&all, 1, IOTC_ACT_PUBLISH, NULL, &c, &why));
    CU_ASSERT_FALSE(iotc_policy_allows(&all, 1, IOTC_ACT_COUNT, "t", &c, &why));
    CU_ASSERT_FALSE(iotc_policy_allows(NULL, 1, IOTC_ACT_PUBLISH, "t", &c, &why));
    c.region = "us:east";
    CU_ASSERT_FALSE(iotc_policy_allows(&all, 1, IOTC_ACT_PUBLISH, "t", &c, &why));
    c.region = NULL;
    CU_ASSERT_FALSE(iotc_policy_allows(&all, 1, IOTC_ACT_PUBLISH, "t", &c, &why));
    c = ctx_dev;
    c.account = "";
    CU_ASSERT_FALSE(iotc_policy_allows(&all, 1, IOTC_ACT_PUBLISH, "t", &c, NULL));
    /* NULL entries in the set are skipped, and why may be NULL. */
    struct iotc_policy *set[2] = {NULL, all};
    CU_ASSERT_TRUE(iotc_policy_allows(set, 2, IOTC_ACT_PUBLISH, "t", &ctx_dev, NULL));
    /* An allow names the statement that allowed it. */
    iotc_errtext allowed = {0};
    CU_ASSERT_TRUE(iotc_policy_allows(set, 2, IOTC_ACT_PUBLISH, "t", &ctx_dev, &allowed));
    CU_ASSERT_PTR_NOT_NULL(strstr(allowed.msg, "statement"));
}

static void test_action_names(void)
{
    CU_ASSERT_STRING_EQUAL(iotc_action_name(IOTC_ACT_CONNECT), "iot:Connect");
    CU_ASSERT_STRING_EQUAL(iotc_action_name(IOTC_ACT_PUBLISH), "iot:Publish");
    CU_ASSERT_STRING_EQUAL(iotc_action_name(IOTC_ACT_SUBSCRIBE), "iot:Subscribe");
    CU_ASSERT_STRING_EQUAL(iotc_action_name(IOTC_ACT_RECEIVE), "iot:Receive");
    CU_ASSERT_STRING_EQUAL(iotc_action_name(IOTC_ACT_RETAIN_PUBLISH), "iot:RetainPublish");
    CU_ASSERT_STRING_EQUAL(iotc_action_name(IOTC_ACT_COUNT), "?");
}

struct bad {
    const char *json;
    const char *needle; /* the JSON path and the reason */
};

static const struct bad bad_docs[] = {
    {"{", "$: invalid JSON at line 1"},
    {"", "$: invalid JSON"},
    {"[]", "$: a policy must be a JSON object"},
    {"{\"Version\":\"2012-10-17\",\"Version\":\"2012-10-17\",\"Statement\":[]}", "duplicate"},
    {"{\"Statement\":[" ALLOW("\"iot:*\"", "\"*\"") "]}", "$.Version: missing"},
    {"{\"Version\":\"2020-01-01\",\"Statement\":[" ALLOW("\"iot:*\"", "\"*\"") "]}",
     "$.Version: must be \"2012-10-17\""},
    {"{\"Version\":20121017,\"Statement\":[]}", "$.Version: must be"},
    {DOC("[" ALLOW("\"iot:*\"", "\"*\"") "],\"Colour\":\"red\""), "$.Colour: unknown key"},
    {"{\"Version\":\"2012-10-17\"}", "$.Statement: missing"},
    {DOC("[]"), "$.Statement: must not be an empty array"},
    {DOC("\"Allow\""), "$.Statement: must be an object or an array"},
    {DOC("[" ALLOW("\"iot:*\"", "\"*\"") ",7]"), "$.Statement[1]: a statement must be an object"},
    {DOC("[{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Resouce\":\"*\"}]"),
     "$.Statement[0].Resouce: unknown key"},
    {DOC("[{\"Effect\":\"allow\",\"Action\":\"iot:*\",\"Resource\":\"*\"}]"),
     "$.Statement[0].Effect: must be \"Allow\" or \"Deny\""},
    {DOC("{\"Effect\":\"Maybe\",\"Action\":\"iot:*\",\"Resource\":\"*\"}"),
     "$.Statement.Effect: must be"},
    {DOC("[{\"Action\":\"iot:*\",\"Resource\":\"*\"}]"), "$.Statement[0].Effect: missing"},
    {DOC("[" ALLOW("\"iot:*\"", "\"*\"") ",{\"Effect\":\"Allow\",\"Action\":\"iot:*\","
                                         "\"Resource\":\"*\",\"Condition\":{\"Boolean\":{"
                                         "\"iot:Connection.Thing.IsAttached\":\"true\"}}}]"),
     "$.Statement[1].Condition.Boolean: unknown condition operator"},
    {COND("StringEquals", "iot:Nope", "\"x\""),
     "$.Statement[0].Condition.StringEquals.iot:Nope: unknown condition key"},
    {COND("StringEquals", "iot:ClientMode", "\"x\""), "iot:ClientMode: unknown condition key"},
    {COND("StringEquals", ATTR(""), "\"x\""), "unknown condition key"},
    {COND("StringEquals", ATTR("a b"), "\"x\""), "unknown condition key"},
    {COND("NullIfExists", ATTR("a"), "\"true\""), "NullIfExists: unknown condition operator"},
    {COND("ForAllValues:Null", ATTR("a"), "\"true\""), "unknown condition operator"},
    {COND("ForSomeValues:StringEquals", ATTR("a"), "\"x\""), "unknown condition operator"},
    {COND("stringequals", ATTR("a"), "\"x\""), "unknown condition operator"},
    {COND("NumericLessThan", ATTR("a"), "[\"1\",\"abc\"]"),
     "NumericLessThan." ATTR("a") "[1]: 'abc' is not a number"},
    {COND("NumericEquals", ATTR("a"), "\"0x10\""), "is not a number"},
    {COND("DateLessThan", ATTR("a"), "\"2026-13-01\""), "is not a date"},
    {COND("DateLessThan", ATTR("a"), "\"2026-01-01T00:00\""), "is not a date"},
    {COND("Bool", ATTR("a"), "\"yes\""), "'yes' is neither \"true\" nor \"false\""},
    {COND("Null", ATTR("a"), "\"maybe\""), "is neither"},
    {COND("IpAddress", "aws:SourceIp", "\"300.1.1.1\""), "is not an IP address or CIDR block"},
    {COND("IpAddress", "aws:SourceIp", "\"10.0.0.0/33\""), "is not an IP address"},
    {COND("IpAddress", "aws:SourceIp", "[]"), "SourceIp: must not be an empty array"},
    {COND("StringEquals", "iot:ClientId", "{}"), "ClientId: must be a string"},
    {COND("StringEquals", "iot:ClientId", "[null]"), "ClientId[0]: must be a string"},
    {COND("StringEquals", "iot:ClientId", "\"${iot:ClientId\""), "unterminated policy variable"},
    {DOC("[{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Condition\":[]}]"),
     "$.Statement[0].Condition: must be an object"},
    {DOC("[{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Condition\":{}}]"),
     "$.Statement[0].Condition: must not be empty"},
    {DOC("[{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Condition\":"
         "{\"Bool\":\"true\"}}]"),
     "$.Statement[0].Condition.Bool: must be a non-empty object"},
    {DOC("[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"iot:*\",\"Resource\":\"*\"}]"),
     "$.Statement[0].Principal: not allowed"},
    {DOC("[{\"Effect\":\"Allow\",\"Resource\":\"*\"}]"),
     "$.Statement[0]: needs Action or NotAction"},
    {DOC("[{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"NotAction\":\"iot:Publish\","
         "\"Resource\":\"*\"}]"),
     "$.Statement[0]: has both Action and NotAction"},
    {DOC("[{\"Effect\":\"Allow\",\"Action\":\"iot:*\"}]"),
     "$.Statement[0]: needs Resource or NotResource"},
    {DOC("[" ALLOW("[]", "\"*\"") "]"), "$.Statement[0].Action: must not be an empty array"},
    {DOC("[" ALLOW("[\"iot:Publish\",3]", "\"*\"") "]"),
     "$.Statement[0].Action[1]: must be a string"},
    {DOC("[" ALLOW("\"Publish\"", "\"*\"") "]"),
     "$.Statement[0].Action: 'Publish' is not an action"},
    {DOC("[" ALLOW("\"\"", "\"*\"") "]"), "$.Statement[0].Action: must not be empty"},
    {DOC("[" ALLOW("{\"a\":1}", "\"*\"") "]"), "$.Statement[0].Action: must be a string or"},
    {DOC("[" ALLOW("\"iot:*\"", "[\"topic/x\"]") "]"),
     "$.Statement[0].Resource[0]: 'topic/x' is neither"},
    {DOC("[" ALLOW("\"iot:*\"", "\"" ARN "topic/${iot:ClientId\"") "]"),
     "$.Statement[0].Resource: unterminated policy variable"},
    {DOC("[" ALLOW("\"iot:*\"", "[\"*\",\"" ARN "topic/${}\"]") "]"),
     "$.Statement[0].Resource[1]: empty policy variable"},
    {DOC("[{\"Sid\":1,\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\"}]"),
     "$.Statement[0].Sid: must be a string"},
    {"{\"Version\":\"2012-10-17\",\"Id\":[],\"Statement\":[]}", "$.Id: must be a string"},
    {"[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]", "$: JSON nested deeper than"},
};

static void test_parse_errors(void)
{
    for (size_t i = 0; i < sizeof bad_docs / sizeof bad_docs[0]; i++) {
        struct iotc_policy *p = (struct iotc_policy *)1;
        iotc_errtext err = {0};
        int rc = iotc_policy_parse(bad_docs[i].json, strlen(bad_docs[i].json), &p, &err);
        if (rc != IOTC_ERR_MALFORMED || !strstr(err.msg, bad_docs[i].needle))
            fprintf(stderr, "\nbad doc %zu: rc %d, expected '%s' in '%s'\n", i, rc,
                    bad_docs[i].needle, err.msg);
        CU_ASSERT_EQUAL(rc, IOTC_ERR_MALFORMED);
        CU_ASSERT_PTR_NULL(p);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, bad_docs[i].needle));
    }
}

static void test_parse_limits(void)
{
    struct iotc_policy *p = NULL;
    iotc_errtext err = {0};
    /* Text is bounded by its length, not by a NUL: an embedded NUL is malformed. */
    const char nul[] = "{\"Version\":\"2012-10-17\"\0}";
    CU_ASSERT_EQUAL(iotc_policy_parse(nul, sizeof nul - 1, &p, &err), IOTC_ERR_MALFORMED);
    /* A document cut short is read only up to len. */
    const char *all = policy_text[P_ALL];
    CU_ASSERT_EQUAL(iotc_policy_parse(all, strlen(all) - 1, &p, &err), IOTC_ERR_MALFORMED);
    size_t big = IOTC_POLICY_MAX_BYTES + 1;
    char *text = malloc(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    memset(text, ' ', big);
    memcpy(text, all, strlen(all));
    CU_ASSERT_EQUAL(iotc_policy_parse(text, big, &p, &err), IOTC_ERR_TOO_LARGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "20480"));
    CU_ASSERT_EQUAL(iotc_policy_parse(text, big - 1, &p, &err), IOTC_OK);
    iotc_policy_free(p);
    free(text);
    CU_ASSERT_EQUAL(iotc_policy_parse(all, strlen(all), NULL, &err), IOTC_ERR_INVALID);
    /* err is optional. */
    CU_ASSERT_EQUAL(iotc_policy_parse("{", 1, &p, NULL), IOTC_ERR_MALFORMED);
    iotc_policy_free(NULL);
    CU_ASSERT_PTR_NULL(iotc_policy_name(NULL));
}

/* "*a*a*a*a*a*a*a*b" against 10k 'a': exponential with naive backtracking. */
static void test_pathological_wildcards(void)
{
    const char *doc = DOC("[" ALLOW("\"iot:Publish\"", "\"" ARN "topic/*a*a*a*a*a*a*a*b\"") "]");
    struct iotc_policy *p = NULL;
    iotc_errtext why = {0};
    iotc_errtext err = {0};
    CU_ASSERT_EQUAL_FATAL(iotc_policy_parse(doc, strlen(doc), &p, &err), IOTC_OK);
    size_t n = 10000;
    char *topic = malloc(n + 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(topic);
    memset(topic, 'a', n);
    topic[n] = '\0';
    clock_t t0 = clock();
    CU_ASSERT_FALSE(iotc_policy_allows(&p, 1, IOTC_ACT_PUBLISH, topic, &ctx_dev, &why));
    topic[n] = 'b';
    topic[n + 1] = '\0';
    CU_ASSERT_TRUE(iotc_policy_allows(&p, 1, IOTC_ACT_PUBLISH, topic, &ctx_dev, &why));
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CU_ASSERT(secs < 1.0);
    free(topic);
    iotc_policy_free(p);
}

static struct iotc_policy *load_fixture(const char *name)
{
    char path[512];
    iotc_errtext err = {0};
    struct iotc_policy *p = NULL;
    snprintf(path, sizeof path, IOTC_SOURCE_DIR "/fixtures/policies/%s.json", name);
    int rc = iotc_policy_load_file(path, &p, &err);
    if (rc != IOTC_OK)
        fprintf(stderr, "\n%s\n", err.msg);
    CU_ASSERT_EQUAL(rc, IOTC_OK);
    if (p)
        CU_ASSERT_STRING_EQUAL(iotc_policy_name(p), name);
    return p;
}

static bool allows(struct iotc_policy *p, enum iotc_action act, const char *res,
                   const struct iotc_policy_ctx *ctx)
{
    return iotc_policy_allows(&p, 1, act, res, ctx, NULL);
}

static void test_fixture_policies(void)
{
    struct iotc_policy *p = load_fixture("allow-all");
    CU_ASSERT_TRUE(allows(p, IOTC_ACT_CONNECT, "x", &ctx_other_account));
    CU_ASSERT_TRUE(allows(p, IOTC_ACT_RETAIN_PUBLISH, "x/y", &ctx_dev));
    iotc_policy_free(p);

    p = load_fixture("thing-scoped");
    CU_ASSERT_TRUE(allows(p, IOTC_ACT_CONNECT, "thing-1", &ctx_dev));
    CU_ASSERT_FALSE(allows(p, IOTC_ACT_CONNECT, "dev-1", &ctx_dev));
    CU_ASSERT_FALSE(allows(p, IOTC_ACT_CONNECT, "thing-1", &ctx_nothing));
    CU_ASSERT_TRUE(allows(p, IOTC_ACT_PUBLISH, "things/thing-1/telemetry", &ctx_dev));
    CU_ASSERT_FALSE(allows(p, IOTC_ACT_PUBLISH, "things/thing-2/telemetry", &ctx_dev));
    CU_ASSERT_TRUE(allows(p, IOTC_ACT_RECEIVE, "things/thing-1/cmd", &ctx_dev));
    CU_ASSERT_FALSE(allows(p, IOTC_ACT_RECEIVE, "things/thing-1", &ctx_dev));
    CU_ASSERT_TRUE(allows(p, IOTC_ACT_SUBSCRIBE, "things/thing-1/#", &ctx_dev));
    CU_ASSERT_FALSE(allows(p, IOTC_ACT_SUBSCRIBE, "things/+/#", &ctx_dev));
    CU_ASSERT_FALSE(allows(p, IOTC_ACT_RETAIN_PUBLISH, "things/thing-1/x", &ctx_dev));
    iotc_policy_free(p);

    p = load_fixture("deny-publish-secret");
    CU_ASSERT_TRUE(allows(p, IOTC_ACT_PUBLISH, "public/x", &ctx_dev));
    CU_ASSERT_FALSE(allows(p, IOTC_ACT_PUBLISH, "secret/x", &ctx_dev));
    CU_ASSERT_TRUE(allows(p, IOTC_ACT_RECEIVE, "secret/x", &ctx_dev));
    iotc_policy_free(p);

    p = load_fixture("read-only");
    CU_ASSERT_TRUE(allows(p, IOTC_ACT_CONNECT, "anyone", &ctx_dev));
    CU_ASSERT_TRUE(allows(p, IOTC_ACT_SUBSCRIBE, "a/#", &ctx_dev));
    CU_ASSERT_TRUE(allows(p, IOTC_ACT_RECEIVE, "a/b", &ctx_dev));
    CU_ASSERT_FALSE(allows(p, IOTC_ACT_PUBLISH, "a/b", &ctx_dev));
    CU_ASSERT_FALSE(allows(p, IOTC_ACT_RETAIN_PUBLISH, "a/b", &ctx_dev));
    iotc_policy_free(p);
}

static void test_load_errors(void)
{
    char path[256];
    iotc_errtext err = {0};
    struct iotc_policy *p = NULL;
    CU_ASSERT_EQUAL(iotc_policy_load_file("/nonexistent/x.json", &p, &err), IOTC_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/x.json: "));

    snprintf(path, sizeof path, "/tmp/iotc-test-policy-%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(DOC("[{\"Effect\":\"Permit\",\"Action\":\"iot:*\",\"Resource\":\"*\"}]"), f);
    fclose(f);
    CU_ASSERT_EQUAL(iotc_policy_load_file(path, &p, &err), IOTC_ERR_MALFORMED);
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_EQUAL(strncmp(err.msg, path, strlen(path)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "$.Statement[0].Effect"));

    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int i = 0; i < IOTC_POLICY_MAX_BYTES + 10; i++)
        fputc(' ', f);
    fclose(f);
    CU_ASSERT_EQUAL(iotc_policy_load_file(path, &p, &err), IOTC_ERR_TOO_LARGE);
    CU_ASSERT_EQUAL(strncmp(err.msg, path, strlen(path)), 0);
    unlink(path);
    CU_ASSERT_EQUAL(iotc_policy_load_file(NULL, &p, &err), IOTC_ERR_INVALID);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("policy", suite_init, suite_clean);
    if (!s)
        return -1;
    if (!CU_add_test(s, "decision table", test_decision_table) ||
        !CU_add_test(s, "bad context", test_bad_context) ||
        !CU_add_test(s, "action names", test_action_names) ||
        !CU_add_test(s, "parse errors name the JSON path", test_parse_errors) ||
        !CU_add_test(s, "parse limits", test_parse_limits) ||
        !CU_add_test(s, "pathological wildcards", test_pathological_wildcards) ||
        !CU_add_test(s, "fixture policies", test_fixture_policies) ||
        !CU_add_test(s, "load errors name the file", test_load_errors))
        return -1;
    return 0;
}
