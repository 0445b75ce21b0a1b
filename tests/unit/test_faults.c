/* The fault proxy seen by a plain TCP client: each fault observed on the wire
 * (reset, blackhole and its end, delay, bandwidth, half-open), rules set before
 * accept, and the default fault for every connection. The upstream is an echo
 * server on the same loop. */
#include "faults/faults.h"

#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct event_base *base;
static struct evconnlistener *echo_lis;
static int echo_port, echo_eofs;
static struct iotc_proxy *proxy;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pump(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* Echo server: echoes; on EOF says "bye" and closes once it went out. */
static void echo_read(struct bufferevent *bev, void *arg)
{
    bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}
static void echo_write(struct bufferevent *bev, void *arg)
{
    if (arg == (void *)1)
        bufferevent_free(bev);
}
static void echo_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & BEV_EVENT_EOF) {
        echo_eofs++;
        bufferevent_setcb(bev, NULL, echo_write, NULL, (void *)1);
        bufferevent_write(bev, "bye", 3);
        return;
    }
    if (what & BEV_EVENT_ERROR)
        bufferevent_free(bev);
}
static void echo_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int n,
                        void *arg)
{
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, echo_read, NULL, echo_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static int suite_init(void)
{
    base = event_base_new();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    echo_lis =
        evconnlistener_new_bind(base, echo_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                64, (struct sockaddr *)&sa, sizeof sa);
    if (!echo_lis)
        return -1;
    socklen_t len = sizeof sa;
    getsockname(evconnlistener_get_fd(echo_lis), (struct sockaddr *)&sa, &len);
    echo_port = ntohs(sa.sin_port);
    return iotc_proxy_new(base, "127.0.0.1", echo_port, &proxy) == 0 ? 0 : -1;
}

static int suite_clean(void)
{
    iotc_proxy_free(proxy);
    evconnlistener_free(echo_lis);
    event_base_free(base);
    return 0;
}

/* A plain client: bound first, so its source port is known before connect. */
static int client(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.sin_port);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void client_connect(int fd)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)iotc_proxy_port(proxy))};
    connect(fd, (struct sockaddr *)&sa, sizeof sa);
    pump(30);
}

/* Reads until want bytes, EOF/error, or the timeout; returns bytes, -errno, or -1000 for EOF. */
static int recv_until(int fd, char *buf, size_t want, int timeout_ms)
{
    size_t have = 0;
    double end = now_s() + timeout_ms / 1000.0;
    while (have < want && now_s() < end) {
        pump(5);
        ssize_t n = recv(fd, buf + have, want - have, 0);
        if (n > 0)
            have += (size_t)n;
        else if (n == 0)
            return have ? (int)have : -1000;
        else if (errno != EAGAIN)
            return -errno;
    }
    return (int)have;
}

static void send_all(int fd, const char *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        pump(2);
    }
}

static void test_passthrough(void)
{
    uint16_t port;
    char buf[16];
    int fd = client(&port);
    client_connect(fd);
    send_all(fd, "hello", 5);
    CU_ASSERT_EQUAL(recv_until(fd, buf, 5, 2000), 5);
    CU_ASSERT(memcmp(buf, "hello", 5) == 0);
    close(fd);
    pump(20);
}

static void test_reset(void)
{
    uint16_t port;
    char buf[16];
    struct iotc_proxy_stats st0, st1;
    iotc_proxy_stats(proxy, &st0);
    int fd = client(&port);
    client_connect(fd);
    send_all(fd, "x", 1);
    CU_ASSERT_EQUAL(recv_until(fd, buf, 1, 2000), 1);
    struct iotc_fault f = {.kind = IOTC_FAULT_RESET};
    CU_ASSERT_EQUAL(iotc_proxy_fault_port(proxy, port, &f), 0);
    CU_ASSERT_EQUAL(recv_until(fd, buf, 1, 2000), -ECONNRESET); /* RST, not FIN */
    iotc_proxy_stats(proxy, &st1);
    CU_ASSERT_EQUAL(st1.resets, st0.resets + 1);
    close(fd);
}

static void test_reset_before_accept(void)
{
    uint16_t port;
    char buf[16];
    int fd = client(&port);
    struct iotc_fault f = {.kind = IOTC_FAULT_RESET};
    CU_ASSERT_EQUAL(iotc_proxy_fault_port(proxy, port, &f), 0); /* waits for the connection */
    client_connect(fd);
    CU_ASSERT_EQUAL(recv_until(fd, buf, 1, 2000), -ECONNRESET);
    close(fd);
    /* The rule was spent on that connection: the port starts clean next time. */
    fd = client(&port);
    client_connect(fd);
    send_all(fd, "y", 1);
    CU_ASSERT_EQUAL(recv_until(fd, buf, 1, 2000), 1);
    close(fd);
    pump(20);
}

static void test_blackhole(void)
{
    uint16_t port;
    char buf[16];
    int fd = client(&port);
    client_connect(fd);
    struct iotc_fault f = {.kind = IOTC_FAULT_BLACKHOLE};
    CU_ASSERT_EQUAL(iotc_proxy_fault_port(proxy, port, &f), 0);
    send_all(fd, "ping", 4);
    CU_ASSERT_EQUAL(recv_until(fd, buf, 4, 400), 0); /* silence, and still open */
    ssize_t n = recv(fd, buf, 1, 0);
    CU_ASSERT(n < 0 && errno == EAGAIN);
    struct iotc_fault none = {0};
    CU_ASSERT_EQUAL(iotc_proxy_fault_port(proxy, port, &none), 0);
    CU_ASSERT_EQUAL(recv_until(fd, buf, 4, 2000), 4); /* the held bytes go through after */
    CU_ASSERT(memcmp(buf, "ping", 4) == 0);
    close(fd);
    pump(20);
}

static void test_delay(void)
{
    uint16_t port;
    char buf[16];
    int fd = client(&port);
    client_connect(fd);
    struct iotc_fault f = {.kind = IOTC_FAULT_DELAY, .dir = IOTC_DIR_BOTH, .delay_ms = 150};
    iotc_proxy_fault_port(proxy, port, &f);
    double t0 = now_s();
    send_all(fd, "abc", 3);
    CU_ASSERT_EQUAL(recv_until(fd, buf, 3, 3000), 3);
    double rtt = now_s() - t0;
    CU_ASSERT(rtt >= 0.29 && rtt < 1.5); /* 150 ms each way */
    f.dir = IOTC_DIR_DOWN;
    iotc_proxy_fault_port(proxy, port, &f);
    t0 = now_s();
    send_all(fd, "def", 3);
    CU_ASSERT_EQUAL(recv_until(fd, buf, 3, 3000), 3);
    rtt = now_s() - t0;
    CU_ASSERT(rtt >= 0.14 && rtt < 0.29); /* one way only */
    close(fd);
    pump(20);
}

static void test_bandwidth(void)
{
    uint16_t port;
    static char out[20000], in[20000];
    memset(out, 'b', sizeof out);
    int fd = client(&port);
    client_connect(fd);
    double t0 = now_s();
    send_all(fd, out, sizeof out);
    CU_ASSERT_EQUAL(recv_until(fd, in, sizeof in, 3000), (int)sizeof in);
    double fast = now_s() - t0;
    struct iotc_fault f = {.kind = IOTC_FAULT_BANDWIDTH, .dir = IOTC_DIR_UP, .rate_bps = 20000};
    iotc_proxy_fault_port(proxy, port, &f);
    t0 = now_s();
    send_all(fd, out, sizeof out);
    CU_ASSERT_EQUAL(recv_until(fd, in, sizeof in, 5000), (int)sizeof in);
    double slow = now_s() - t0;
    CU_ASSERT(fast < 0.5);
    CU_ASSERT(slow >= 0.8 && slow < 3.0); /* 20000 bytes at 20000 B/s */
    close(fd);
    pump(20);
}

static void test_half_open(void)
{
    uint16_t port;
    char buf[16];
    int fd = client(&port);
    client_connect(fd);
    pump(50); /* earlier tests' closes are counted before this one starts */
    int eofs = echo_eofs;
    struct iotc_fault f = {.kind = IOTC_FAULT_HALF_OPEN, .dir = IOTC_DIR_UP};
    iotc_proxy_fault_port(proxy, port, &f);
    pump(100);
    CU_ASSERT_EQUAL(echo_eofs, eofs + 1); /* the endpoint saw the up direction close */
    /* The down direction still flows: the server's goodbye reaches the client, and
     * what the client sends now goes nowhere. */
    send_all(fd, "lost", 4);
    int n = recv_until(fd, buf, 3, 2000);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT(memcmp(buf, "bye", 3) == 0);
    close(fd);
    pump(20);
}

static void test_fault_all(void)
{
    uint16_t port;
    char buf[16];
    struct iotc_fault f = {.kind = IOTC_FAULT_DELAY, .delay_ms = 120};
    CU_ASSERT_EQUAL(iotc_proxy_fault_all(proxy, &f), 0);
    int fd = client(&port);
    client_connect(fd);
    double t0 = now_s();
    send_all(fd, "z", 1);
    CU_ASSERT_EQUAL(recv_until(fd, buf, 1, 2000), 1);
    CU_ASSERT(now_s() - t0 >= 0.23);
    struct iotc_fault none = {0};
    iotc_proxy_fault_all(proxy, &none);
    t0 = now_s();
    send_all(fd, "z", 1);
    CU_ASSERT_EQUAL(recv_until(fd, buf, 1, 2000), 1);
    CU_ASSERT(now_s() - t0 < 0.1);
    close(fd);
    pump(20);
    struct iotc_fault bad = {.kind = IOTC_FAULT_BROKER_RESTART};
    CU_ASSERT(iotc_proxy_fault_all(proxy, &bad) < 0); /* not a network fault */
}

static void test_names(void)
{
    for (int k = 1; k < IOTC_FAULT_KIND_COUNT; k++)
        CU_ASSERT_EQUAL(iotc_fault_parse(iotc_fault_name((enum iotc_fault_kind)k)), k);
    CU_ASSERT_EQUAL(iotc_fault_parse("meteor"), IOTC_FAULT_NONE);
    enum iotc_fault_dir d;
    CU_ASSERT_EQUAL(iotc_fault_dir_parse("up", &d), 0);
    CU_ASSERT_EQUAL(d, IOTC_DIR_UP);
    CU_ASSERT(iotc_fault_dir_parse("sideways", &d) < 0);
    CU_ASSERT(iotc_fault_is_network(IOTC_FAULT_HALF_OPEN));
    CU_ASSERT(!iotc_fault_is_network(IOTC_FAULT_ENDPOINT_RESTART));
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("faults", suite_init, suite_clean);
    if (!s)
        return -1;
    CU_add_test(s, "pass-through", test_passthrough);
    CU_add_test(s, "reset", test_reset);
    CU_add_test(s, "reset set before accept", test_reset_before_accept);
    CU_add_test(s, "blackhole and its end", test_blackhole);
    CU_add_test(s, "delay per direction", test_delay);
    CU_add_test(s, "bandwidth limit", test_bandwidth);
    CU_add_test(s, "half-open", test_half_open);
    CU_add_test(s, "default fault for all", test_fault_all);
    CU_add_test(s, "names", test_names);
    return 0;
}
