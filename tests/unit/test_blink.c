/* unit.test_blink: the front door's link to its broker over a unix socket
 * (endpoint/broker_link_unix.c) against a real listening socket playing the broker:
 * packets cut anywhere (one larger than the shared read buffer), pause, backlog and
 * drain, linger, a malformed packet and the broker closing. */
#include "endpoint/broker_link.h"
#include "endpoint/flushq.h"
#include "common/err.h"

#include <CUnit/CUnit.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct seen {
    int packets, drains, closes;
    uint8_t types[512];
    size_t lens[512];
    unsigned sums[512];
    char reason[128];
};

static void bl__on_packet(void *arg, const struct iotc_mqtt_frame *f, const uint8_t *pkt)
{
    struct seen *s = arg;
    if (s->packets < 512) {
        unsigned sum = 0;
        for (size_t i = 0; i < f->total; i++)
            sum = sum * 31 + pkt[i];
        s->types[s->packets] = f->type;
        s->lens[s->packets] = f->total;
        s->sums[s->packets] = sum;
    }
    s->packets++;
}

static void bl__on_close(void *arg, const char *reason)
{
    struct seen *s = arg;
    s->closes++;
    snprintf(s->reason, sizeof s->reason, "%s", reason);
}

static void bl__on_drain(void *arg)
{
    ((struct seen *)arg)->drains++;
}

struct rig {
    struct event_base *base;
    struct iotc_flushq fq;
    char path[108];
    int lfd, peer;
    struct iotc_blink *l;
    struct seen seen;
};

/* A listening unix socket playing mosquitto's; path (108 bytes) gets its name. */
static int bl__listen(char *path, const char *tag, int backlog)
{
    snprintf(path, 108, "/tmp/iotc-%s-%d.sock", tag, (int)getpid());
    unlink(path);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, backlog) == 0);
    return fd;
}

static void bl__open(struct rig *r)
{
    memset(r, 0, sizeof *r);
    r->base = event_base_new();
    iotc_flushq_init(&r->fq, r->base);
    r->lfd = bl__listen(r->path, "blink", 4);
    struct iotc_blink_cbs cbs = {bl__on_packet, bl__on_close, bl__on_drain, &r->seen};
    CU_ASSERT_FATAL(iotc_blink_open(&r->fq, r->path, &cbs, &r->l) == IOTC_OK);
    r->peer = accept(r->lfd, NULL, NULL);
    CU_ASSERT_FATAL(r->peer >= 0);
}

static void bl__close(struct rig *r)
{
    if (r->l)
        iotc_blink_free(r->l);
    if (r->peer >= 0)
        close(r->peer);
    close(r->lfd);
    unlink(r->path);
    iotc_flushq_free(&r->fq);
    event_base_free(r->base);
}

static void bl__spin(struct rig *r, int rounds)
{
    for (int i = 0; i < rounds; i++)
        event_base_loop(r->base, EVLOOP_NONBLOCK);
}

static void bl__write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        CU_ASSERT_FATAL(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* A PUBLISH of `payload` bytes, QoS 0, topic "t". */
static size_t bl__publish(uint8_t *buf, size_t payload)
{
    size_t rem = 2 + 1 + payload, h = 1;
    buf[0] = 0x30;
    size_t v = rem;
    do {
        uint8_t b = v % 128;
        v /= 128;
        buf[h++] = b | (v ? 0x80 : 0);
    } while (v);
    buf[h] = 0;
    buf[h + 1] = 1;
    buf[h + 2] = 't';
    for (size_t i = 0; i < payload; i++)
        buf[h + 3 + i] = (uint8_t)(i * 7 + 3);
    return h + rem;
}

/* Three packets, one past the 64 KB shared buffer, arriving in cuts that split headers
 * and bodies: each is handed out whole, once, in order, byte for byte. */
static void test_cut_packets(void)
{
    struct rig r;
    bl__open(&r);
    size_t cap = 200 * 1024;
    uint8_t *stream = malloc(cap);
    size_t n = bl__publish(stream, 10);
    size_t n1 = n;
    n += bl__publish(stream + n, 100 * 1024);
    size_t n2 = n - n1;
    stream[n++] = 0xd0; /* PINGRESP */
    stream[n++] = 0x00;
    size_t cuts[] = {1, 2, n1 + 1, n1 + 3, n1 + 70000, n - 1, n};
    size_t at = 0;
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        bl__write_all(r.peer, stream + at, cuts[i] - at);
        at = cuts[i];
        bl__spin(&r, 3);
    }
    CU_ASSERT_EQUAL(r.seen.packets, 3);
    CU_ASSERT_EQUAL(r.seen.closes, 0);
    CU_ASSERT(r.seen.types[0] == 3 && r.seen.lens[0] == n1);
    CU_ASSERT(r.seen.types[1] == 3 && r.seen.lens[1] == n2);
    CU_ASSERT(r.seen.types[2] == 13 && r.seen.lens[2] == 2);
    struct seen want = {0};
    bl__on_packet(&want, &(struct iotc_mqtt_frame){.type = 3, .total = n1}, stream);
    bl__on_packet(&want, &(struct iotc_mqtt_frame){.type = 3, .total = n2}, stream + n1);
    CU_ASSERT(want.sums[0] == r.seen.sums[0] && want.sums[1] == r.seen.sums[1]);
    free(stream);
    bl__close(&r);
}

/* Paused, nothing more is read; resumed, it all arrives (the twin). */
static void test_pause(void)
{
    struct rig r;
    bl__open(&r);
    iotc_blink_pause(r.l, true);
    uint8_t ping[2] = {0xd0, 0x00};
    for (int i = 0; i < 50; i++)
        bl__write_all(r.peer, ping, 2);
    bl__spin(&r, 5);
    CU_ASSERT_EQUAL(r.seen.packets, 0);
    iotc_blink_pause(r.l, false);
    bl__spin(&r, 5);
    CU_ASSERT_EQUAL(r.seen.packets, 50);
    bl__close(&r);
}

/* A broker that does not read: what the socket refuses is queued and counted, nothing is
 * lost, and on_drain says when it has all been written. */
static void test_backlog_drain(void)
{
    struct rig r;
    bl__open(&r);
    size_t big = 4 * 1024 * 1024;
    uint8_t *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 13);
    CU_ASSERT(iotc_blink_send(r.l, data, big) == IOTC_OK);
    CU_ASSERT(iotc_blink_queued(r.l) > 0);
    CU_ASSERT_EQUAL(r.seen.drains, 0);
    uint8_t *got = malloc(big);
    size_t have = 0;
    fcntl(r.peer, F_SETFL, O_NONBLOCK);
    for (int spins = 0; have < big && spins < 100000; spins++) {
        ssize_t n = read(r.peer, got + have, big - have);
        if (n > 0)
            have += (size_t)n;
        bl__spin(&r, 1);
    }
    bl__spin(&r, 2);
    CU_ASSERT_EQUAL(have, big);
    CU_ASSERT(memcmp(got, data, big) == 0);
    CU_ASSERT_EQUAL(iotc_blink_queued(r.l), 0);
    CU_ASSERT_EQUAL(r.seen.drains, 1);
    free(data);
    free(got);
    bl__close(&r);
}

/* Lingering: the queue and the final packet reach the broker, then the socket closes. */
static void test_linger(void)
{
    struct rig r;
    bl__open(&r);
    size_t big = 1024 * 1024;
    uint8_t *data = calloc(1, big);
    uint8_t disconnect[2] = {0xe0, 0x00};
    iotc_blink_send(r.l, data, big);
    iotc_blink_linger(r.l, disconnect, 2);
    r.l = NULL;
    uint8_t *got = malloc(big + 16);
    size_t have = 0;
    fcntl(r.peer, F_SETFL, O_NONBLOCK);
    bool eof = false;
    for (int spins = 0; !eof && spins < 100000; spins++) {
        ssize_t n = read(r.peer, got + have, big + 16 - have);
        if (n > 0)
            have += (size_t)n;
        else if (n == 0)
            eof = true;
        bl__spin(&r, 1);
    }
    CU_ASSERT(eof);
    CU_ASSERT_EQUAL(have, big + 2);
    CU_ASSERT(have == big + 2 && got[big] == 0xe0 && got[big + 1] == 0x00);
    CU_ASSERT_EQUAL(r.seen.closes, 0); /* no callbacks once lingering */
    free(data);
    free(got);
    bl__close(&r);
}

/* A malformed packet ends the link with a reason; a clean close says the broker closed. */
static void test_malformed_and_close(void)
{
    struct rig r;
    bl__open(&r);
    uint8_t bad[3] = {0xd0, 0x00, 0x00}; /* a PINGRESP, then packet type 0 */
    bl__write_all(r.peer, bad, 3);
    bl__spin(&r, 3);
    CU_ASSERT_EQUAL(r.seen.packets, 1);
    CU_ASSERT_EQUAL(r.seen.closes, 1);
    CU_ASSERT_STRING_EQUAL(r.seen.reason, "malformed packet from broker");
    bl__close(&r);

    bl__open(&r);
    close(r.peer);
    r.peer = -1;
    bl__spin(&r, 3);
    CU_ASSERT_EQUAL(r.seen.closes, 1);
    CU_ASSERT_STRING_EQUAL(r.seen.reason, "broker closed the connection");
    bl__close(&r);
}

/* mosquitto's listen backlog full: the link retries instead of failing, what is sent
 * meanwhile is queued, and it all arrives once the broker accepts. */
static void test_backlog_full_retry(void)
{
    struct event_base *base = event_base_new();
    struct iotc_flushq fq;
    iotc_flushq_init(&fq, base);
    char path[108];
    int lfd = bl__listen(path, "blink-bl", 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, path);
    int fill[8], nfill = 0;
    for (; nfill < 8; nfill++) {
        fill[nfill] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(fill[nfill], (struct sockaddr *)&a, sizeof a) != 0) {
            close(fill[nfill]);
            break;
        }
    }
    CU_ASSERT_FATAL(nfill < 8); /* the backlog is full now */
    struct seen seen = {0};
    struct iotc_blink_cbs cbs = {bl__on_packet, bl__on_close, bl__on_drain, &seen};
    struct iotc_blink *l = NULL;
    CU_ASSERT_FATAL(iotc_blink_open(&fq, path, &cbs, &l) == IOTC_OK);
    uint8_t ping[2] = {0xc0, 0x00};
    CU_ASSERT(iotc_blink_send(l, ping, 2) == IOTC_OK);
    CU_ASSERT_EQUAL(iotc_blink_queued(l), 2);
    for (int i = 0; i < nfill; i++) {
        close(accept(lfd, NULL, NULL));
        close(fill[i]);
    }
    int peer = -1;
    fcntl(lfd, F_SETFL, O_NONBLOCK);
    for (int i = 0; i < 2000 && peer < 0; i++) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        peer = accept(lfd, NULL, NULL);
        usleep(1000);
    }
    CU_ASSERT_FATAL(peer >= 0);
    for (int i = 0; i < 5; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    uint8_t got[4] = {0};
    CU_ASSERT_EQUAL(read(peer, got, sizeof got), 2);
    CU_ASSERT(got[0] == 0xc0 && got[1] == 0x00);
    CU_ASSERT_EQUAL(seen.closes, 0);
    iotc_blink_free(l);
    close(peer);
    close(lfd);
    unlink(path);
    iotc_flushq_free(&fq);
    event_base_free(base);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("blink", NULL, NULL);
    if (!s ||
        !CU_add_test(s, "packets cut anywhere, one past the shared buffer", test_cut_packets) ||
        !CU_add_test(s, "pause holds reads, resume delivers", test_pause) ||
        !CU_add_test(s, "backlog queued, drained, nothing lost", test_backlog_drain) ||
        !CU_add_test(s, "linger flushes then closes", test_linger) ||
        !CU_add_test(s, "malformed packet and broker close", test_malformed_and_close) ||
        !CU_add_test(s, "listen backlog full: retried, nothing lost", test_backlog_full_retry))
        return -1;
    return 0;
}
