/* Device command templates: {name} placeholders filled with shell-quoted values. */
#include <stdio.h>
#include <string.h>

#include "cert_int.h"

const char *const iotc_certify_placeholders[] = {
    "host",
    "port",
    "sni",
    "ca",
    "cert",
    "key",
    "client_id",
    "topic",
    "pub_topic",
    "alpn",
    "keepalive",
    "qos",
    "persistent",
    "clean",
    "region",
    "account",
    "time_scale",
    "seed",
    "publish_every_ms",
    "run_ms",
    "case",
    "case_dir",
    "refdevice",
    "adapter_dir",
    NULL,
};

int iotc_certify_shell_quote(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen < 3)
        return -1;
    out[o++] = '\'';
    for (; *s; s++) {
        if (*s == '\'') {
            if (o + 4 >= outlen)
                return -1;
            memcpy(out + o, "'\\''", 4);
            o += 4;
        } else {
            if (o + 1 >= outlen)
                return -1;
            out[o++] = *s;
        }
    }
    if (o + 2 > outlen)
        return -1;
    out[o++] = '\'';
    out[o] = '\0';
    return 0;
}

static int template__known(const char *name)
{
    for (size_t i = 0; iotc_certify_placeholders[i]; i++)
        if (strcmp(iotc_certify_placeholders[i], name) == 0)
            return 1;
    return 0;
}

static int template__put(char *out, size_t outlen, size_t *o, const char *s, size_t n)
{
    if (*o + n + 1 > outlen)
        return -1;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = '\0';
    return 0;
}

int iotc_certify_template_fill(const char *tpl, json_t *vars, char *out, size_t outlen,
                               iotc_errtext *err)
{
    size_t o = 0;
    if (outlen == 0)
        return -1;
    out[0] = '\0';
    for (const char *p = tpl; *p;) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            if (template__put(out, outlen, &o, p, 1))
                goto too_long;
            p += 2;
            continue;
        }
        if (*p == '}') {
            return iotc_errtext_set(err, -1, "unbalanced '}' at offset %zu of the device template",
                                    (size_t)(p - tpl));
        }
        if (*p != '{') {
            if (template__put(out, outlen, &o, p, 1))
                goto too_long;
            p++;
            continue;
        }
        const char *end = strchr(p, '}');
        char name[64], text[256] = "";
        bool cond = false;
        if (!end || (size_t)(end - p - 1) >= sizeof(name) + sizeof(text)) {
            return iotc_errtext_set(err, -1, "unterminated or over-long placeholder at offset %zu",
                                    (size_t)(p - tpl));
        }
        const char *q = memchr(p + 1, '?', (size_t)(end - p - 1));
        const char *plus = memchr(p + 1, '+', (size_t)(end - p - 1));
        bool with_value = false;
        if (plus && (!q || plus < q)) {
            q = plus;
            with_value = true;
        }
        size_t nlen = (size_t)((q ? q : end) - p - 1);
        if (nlen == 0 || nlen >= sizeof(name)) {
            return iotc_errtext_set(err, -1, "empty or over-long placeholder name at offset %zu",
                                    (size_t)(p - tpl));
        }
        memcpy(name, p + 1, nlen);
        name[nlen] = '\0';
        if (q) {
            cond = true;
            snprintf(text, sizeof(text), "%.*s", (int)(end - q - 1), q + 1);
        }
        if (!template__known(name)) {
            return iotc_errtext_set(
                err, -1, "unknown placeholder {%s} (see iotconform certify --help)", name);
        }
        json_t *v = json_object_get(vars, name);
        const char *val = json_string_value(v);
        char num[64], quoted[4200];
        if (!val && json_is_number(v)) {
            if (json_is_integer(v))
                snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            else
                snprintf(num, sizeof(num), "%g", json_number_value(v));
            val = num;
        }
        if (!val)
            val = "";
        if (cond) {
            if (*val && template__put(out, outlen, &o, text, strlen(text)))
                goto too_long;
            if (*val && with_value &&
                (iotc_certify_shell_quote(val, quoted, sizeof(quoted)) ||
                 template__put(out, outlen, &o, quoted, strlen(quoted))))
                goto too_long;
        } else {
            if (iotc_certify_shell_quote(val, quoted, sizeof(quoted)) ||
                template__put(out, outlen, &o, quoted, strlen(quoted)))
                goto too_long;
        }
        p = end + 1;
    }
    return 0;
too_long:
    return iotc_errtext_set(err, -1, "the filled device command is longer than %zu bytes",
                            outlen - 1);
}
