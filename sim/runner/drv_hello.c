/*
 * A hand-built TLS 1.2 ClientHello for suites this OpenSSL build cannot offer
 * (3DES, RC4, EXPORT, single DES are compiled out or in the legacy provider).
 * Only the server's first answer matters: an alert (refused) or a ServerHello
 * (accepted, with the suite it chose).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "client/dial.h"
#include "common/err.h"
#include "driver.h"

static const struct {
    const char *name;
    unsigned id;
} hello__suites[] = {
    {"NULL-MD5", 0x0001},          {"NULL-SHA", 0x0002},
    {"EXP-RC4-MD5", 0x0003},       {"RC4-MD5", 0x0004},
    {"RC4-SHA", 0x0005},           {"EXP-DES-CBC-SHA", 0x0008},
    {"DES-CBC-SHA", 0x0009},       {"DES-CBC3-SHA", 0x000a},
    {"NULL-SHA256", 0x003b},       {"ECDHE-RSA-DES-CBC3-SHA", 0xc012},
    {"ECDHE-RSA-RC4-SHA", 0xc011}, {"ECDHE-RSA-NULL-SHA", 0xc010},
    {"AES128-SHA", 0x002f},        {"ECDHE-RSA-AES128-GCM-SHA256", 0xc02f},
};

static int hello__suite_id(const char *name)
{
    for (size_t i = 0; i < sizeof(hello__suites) / sizeof(hello__suites[0]); i++)
        if (strcmp(hello__suites[i].name, name) == 0)
            return (int)hello__suites[i].id;
    return -1;
}

static void hello__put16(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

/* Returns the record length or -1. ids: suites in preference order. */
static int hello__build(unsigned char *out, size_t cap, const int *ids, size_t n_ids,
                        const char *sni, json_t *alpn)
{
    static const unsigned char tail_ext[] = {
        /* supported_groups: x25519, secp256r1, secp384r1 */
        0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18,
        /* ec_point_formats: uncompressed */
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,
        /* signature_algorithms */
        0x00, 0x0d, 0x00, 0x10, 0x00, 0x0e, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08,
        0x05, 0x05, 0x01, 0x02, 0x01,
        /* renegotiation_info (empty) */
        0xff, 0x01, 0x00, 0x01, 0x00};
    size_t p = 9, ext_len_at, body_at = 5;

    if (cap < 512)
        return -1;
    out[0] = 0x16;
    out[1] = 0x03;
    out[2] = 0x01;
    out[5] = 0x01; /* ClientHello; 3-byte length at 6..8 */
    out[p++] = 0x03;
    out[p++] = 0x03;
    if (RAND_bytes(out + p, 32) != 1)
        memset(out + p, 0x42, 32);
    p += 32;
    out[p++] = 0x00; /* no session id */
    hello__put16(out + p, n_ids * 2);
    p += 2;
    for (size_t i = 0; i < n_ids; i++, p += 2)
        hello__put16(out + p, (size_t)ids[i]);
    out[p++] = 0x01;
    out[p++] = 0x00;
    ext_len_at = p;
    p += 2;
    if (sni) {
        size_t n = strlen(sni);
        if (n > 255 || p + 9 + n >= cap)
            return -1;
        hello__put16(out + p, 0x0000);
        hello__put16(out + p + 2, n + 5);
        hello__put16(out + p + 4, n + 3);
        out[p + 6] = 0x00;
        hello__put16(out + p + 7, n);
        memcpy(out + p + 9, sni, n);
        p += 9 + n;
    }
    if (json_array_size(alpn)) {
        unsigned char wire[256];
        int n = iotc_tlsc_alpn_wire(alpn, wire, sizeof(wire));
        if (n <= 0 || p + 6 + (size_t)n >= cap)
            return -1;
        hello__put16(out + p, 0x0010);
        hello__put16(out + p + 2, (size_t)n + 2);
        hello__put16(out + p + 4, (size_t)n);
        memcpy(out + p + 6, wire, (size_t)n);
        p += 6 + (size_t)n;
    }
    if (p + sizeof(tail_ext) >= cap)
        return -1;
    memcpy(out + p, tail_ext, sizeof(tail_ext));
    p += sizeof(tail_ext);
    hello__put16(out + ext_len_at, p - ext_len_at - 2);
    size_t body = p - body_at - 4;
    out[6] = (unsigned char)(body >> 16);
    out[7] = (unsigned char)(body >> 8);
    out[8] = (unsigned char)body;
    hello__put16(out + 3, p - 5);
    return (int)p;
}

static int hello__read_full(int fd, unsigned char *buf, size_t n)
{
    size_t have = 0;
    while (have < n) {
        ssize_t r = recv(fd, buf + have, n - have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    return 0;
}

int iotc_drv_hello(const iotc_env *env, const iotc_case *c, size_t idx, iotc_drv_out *out)
{
    const char *cipher = c->client.cipher;
    iotc_tlsc_opts o;
    json_t *alpn = NULL;
    unsigned char hello[1024], rec[5], body[64];
    int ids[16];
    size_t n_ids = 0;
    int fd = -1, rc = IOTC_ERR_IO, len;
    char names[256];
    (void)idx;

    iotc_drv_tls_opts(env, c, &o, &alpn);
    snprintf(names, sizeof(names), "%s", cipher ? cipher : "");
    for (char *save = NULL, *tok = strtok_r(names, ":", &save); tok && n_ids < 16;
         tok = strtok_r(NULL, ":", &save)) {
        int id = hello__suite_id(tok);
        if (id < 0) {
            snprintf(out->error, sizeof(out->error), "the hello driver does not know suite %s",
                     tok);
            rc = IOTC_ERR_CONFIG;
            goto cleanup;
        }
        ids[n_ids++] = id;
    }
    if (!n_ids || (c->tls[0] && strcmp(c->tls, "1.2") != 0 && strcmp(c->tls, "any") != 0)) {
        snprintf(out->error, sizeof(out->error),
                 "the hello driver needs client.cipher and TLS version 1.2");
        rc = IOTC_ERR_CONFIG;
        goto cleanup;
    }
    len = hello__build(hello, sizeof(hello), ids, n_ids, o.sni, alpn);
    if (len < 0) {
        snprintf(out->error, sizeof(out->error), "ClientHello does not fit");
        goto cleanup;
    }
    {
        /* The emulator's loopback address of the case's family. */
        int tmo = iotc_drv_timeout_ms(c);
        iotc_dial_opts d = {.host = c->af == AF_INET6 ? "::1" : "127.0.0.1",
                            .port = iotc_env_port(env, c->row->port),
                            .family = c->af,
                            .numeric = 1,
                            .connect_timeout_ms = tmo,
                            .io_timeout_ms = tmo};
        iotc_errtext e = {0};
        if (iotc_client_dial(&d, &fd, &e) != IOTC_OK) {
            iotc_errtext_copy(&e, out->error, sizeof(out->error));
            goto cleanup;
        }
        iotc_drv_add_port(out, fd);
    }
    if (send(fd, hello, (size_t)len, MSG_NOSIGNAL) != len) {
        snprintf(out->error, sizeof(out->error), "send: %s", strerror(errno));
        goto cleanup;
    }
    json_object_set_new(out->observed, "sni_sent", o.sni ? json_string(o.sni) : json_null());
    if (hello__read_full(fd, rec, 5) != 0) {
        json_object_set_new(out->observed, "handshake", json_string("refused"));
        json_object_set_new(out->observed, "alert", json_null());
        json_object_set_new(out->observed, "transport_end", json_string("eof"));
    } else if (rec[0] == 0x15 && hello__read_full(fd, body, 2) == 0) {
        char buf[32];
        json_object_set_new(out->observed, "handshake", json_string("refused"));
        json_object_set_new(out->observed, "alert",
                            json_string(iotc_tlsc_alert_name(body[1], buf, sizeof(buf))));
    } else if (rec[0] == 0x16 && hello__read_full(fd, body, 4 + 2 + 32 + 1) == 0 &&
               body[0] == 0x02) {
        unsigned char sid[32], cs[2];
        char hex[8];
        size_t sid_len = body[38] <= 32 ? body[38] : 32;
        if (hello__read_full(fd, sid, sid_len) == 0 && hello__read_full(fd, cs, 2) == 0) {
            snprintf(hex, sizeof(hex), "0x%02x%02x", cs[0], cs[1]);
            json_object_set_new(out->observed, "cipher_id", json_string(hex));
            for (size_t i = 0; i < sizeof(hello__suites) / sizeof(hello__suites[0]); i++)
                if (hello__suites[i].id == ((unsigned)cs[0] << 8 | cs[1]))
                    json_object_set_new(out->observed, "cipher",
                                        json_string(hello__suites[i].name));
        }
        json_object_set_new(out->observed, "handshake", json_string("accepted"));
        json_object_set_new(out->observed, "alert", json_null());
    } else {
        json_object_set_new(out->observed, "handshake", json_string("refused"));
        json_object_set_new(out->observed, "alert", json_null());
        json_object_set_new(out->observed, "unexpected_reply", json_integer(rec[0]));
    }
    /* No application protocol can follow a hand-made hello. */
    json_object_set_new(
        out->observed, "connect",
        json_string(
            strcmp(json_string_value(json_object_get(out->observed, "handshake")), "refused") == 0
                ? "refused"
                : "not_attempted"));
    rc = IOTC_OK;
cleanup:
    if (fd >= 0)
        close(fd);
    json_decref(alpn);
    return rc;
}
