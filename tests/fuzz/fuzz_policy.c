/*
 * Fuzz harness for the policy engine. The input up to the first NUL byte is a policy
 * document; whatever follows is used as the resource (client id, topic, filter) of the
 * decisions, so wildcard matching sees hostile subjects as well as hostile patterns.
 * Checks two properties of every decision: it is stable when the policy is given twice,
 * and a Deny-everything policy next to it always wins.
 */
#include "policy/policy.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char deny_all_text[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"*\","
    "\"Resource\":\"*\"}}";

/* Condition keys: present with values of every type in one context, absent (or of the
 * wrong type) in the other, so both sides of each operator are reached. */
static const char *const fz_ip[] = {"127.0.0.1"}, *const fz_true[] = {"true"},
                         *const fz_attrs[] = {"LastWill", "PersistentConnect"},
                         *const fz_color[] = {"red"}, *const fz_num[] = {"42"},
                         *const fz_time[] = {"2026-06-01T00:00:00Z"},
                         *const fz_role[] = {"arn:aws:iam::1:role/dev-1"},
                         *const fz_v6[] = {"::ffff:10.0.0.1"}, *const fz_junk[] = {"x:y"};
static const struct iotc_policy_kv fuzz_kv[2][6] = {
    {{"aws:SourceIp", fz_ip, 1},
     {"iot:Connection.Thing.IsAttached", fz_true, 1},
     {"iot:ConnectAttributes", fz_attrs, 2},
     {"iot:Connection.Thing.Attributes[color]", fz_color, 1},
     {"iot:Certificate.SerialNumber", fz_num, 1},
     {"aws:CurrentTime", fz_time, 1}},
    {{"aws:SourceIp", fz_v6, 1},
     {"iot:Connection.Thing.Attributes[role]", fz_role, 1},
     {"iot:Certificate.SerialNumber", fz_junk, 1},
     {"iot:ConnectAttributes", NULL, 0},
     {"aws:CurrentTime", fz_junk, 1},
     {"aws:EpochTime", fz_num, 1}},
};

static const struct iotc_policy_ctx fuzz_ctx[2] = {
    {.region = "us-east-1",
     .account = "123456789012",
     .client_id = "dev-1",
     .thing_name = "thing-1",
     .cert_subject_cn = "cn*?",
     .cert_id = "c0ffee",
     .keys = fuzz_kv[0],
     .nkeys = 6},
    {.region = "eu-west-1", .account = "1", .client_id = "*", .keys = fuzz_kv[1], .nkeys = 6},
};

static void fuzz__decide(struct iotc_policy *p, struct iotc_policy *deny_all, const char *res)
{
    iotc_errtext why = {0};
    for (int a = 0; a < IOTC_ACT_COUNT; a++) {
        for (int c = 0; c < 2; c++) {
            bool one = iotc_policy_allows(&p, 1, a, res, &fuzz_ctx[c], &why);
            struct iotc_policy *twice[2] = {p, p};
            if (iotc_policy_allows(twice, 2, a, res, &fuzz_ctx[c], NULL) != one)
                abort(); /* a decision must not depend on repetition */
            struct iotc_policy *with_deny[2] = {p, deny_all};
            if (iotc_policy_allows(with_deny, 2, a, res, &fuzz_ctx[c], &why))
                abort(); /* an explicit Deny always wins */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct iotc_policy *deny_all;
    if (!deny_all &&
        iotc_policy_parse(deny_all_text, sizeof deny_all_text - 1, &deny_all, NULL) != IOTC_OK)
        abort();

    const uint8_t *nul = memchr(data, 0, size);
    size_t doc_len = nul ? (size_t)(nul - data) : size;
    struct iotc_policy *p = NULL;
    iotc_errtext err = {0};
    int rc = iotc_policy_parse((const char *)data, doc_len, &p, &err);
    if (rc != IOTC_OK) {
        if (p || !memchr(err.msg, '\0', sizeof err.msg))
            abort(); /* failure leaves no policy and a terminated message */
        return 0;
    }
    if (iotc_policy_name(p))
        abort();
    if (nul) {
        size_t rl = size - doc_len - 1;
        char *res = malloc(rl + 1);
        if (res) {
            memcpy(res, nul + 1, rl);
            res[rl] = '\0'; /* a NUL inside just shortens the resource */
            fuzz__decide(p, deny_all, res);
            free(res);
        }
    } else {
        static const char *const fixed[] = {"dev-1", "a/b", "things/thing-1/x", "a/+/#", "", "*"};
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            fuzz__decide(p, deny_all, fixed[i]);
    }
    iotc_policy_free(p);
    return 0;
}
