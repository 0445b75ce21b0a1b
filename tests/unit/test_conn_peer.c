/* endpoint/conn_peer.c: the strings made from a connection's address are the ones the
 * connection stored before it kept only the address (issue 13), for IPv4, IPv6 and
 * IPv4-mapped IPv6 peers. */
#include "endpoint/conn.h"

#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

struct peer_case {
    int family;
    const char *addr;
    unsigned port;
    const char *peer, *host, *source_ip;
    bool ipv6;
};

static const struct peer_case cases[] = {
    {AF_INET, "192.0.2.7", 5000, "192.0.2.7:5000", "192.0.2.7", "192.0.2.7", false},
    {AF_INET, "0.0.0.0", 0, "0.0.0.0:0", "0.0.0.0", "0.0.0.0", false},
    {AF_INET6, "::1", 443, "[::1]:443", "::1", "::1", true},
    {AF_INET6, "::ffff:10.1.2.3", 1, "[::ffff:10.1.2.3]:1", "::ffff:10.1.2.3", "10.1.2.3", false},
    {AF_INET6, "2001:db8:1234:5678:9abc:def0:1234:5678", 65535,
     "[2001:db8:1234:5678:9abc:def0:1234:5678]:65535", "2001:db8:1234:5678:9abc:def0:1234:5678",
     "2001:db8:1234:5678:9abc:def0:1234:5678", true},
    {AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535,
     "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
};

static void set_peer(struct iotc_conn *c, const struct peer_case *k)
{
    struct sockaddr_storage ss = {0};
    if (k->family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)k->port);
        CU_ASSERT_FATAL(inet_pton(AF_INET, k->addr, &s4->sin_addr) == 1);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)k->port);
        CU_ASSERT_FATAL(inet_pton(AF_INET6, k->addr, &s6->sin6_addr) == 1);
    }
    iotc_conn_peer_set(c, (struct sockaddr *)&ss);
}

static void test_peer_strings(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct peer_case *k = &cases[i];
        struct iotc_conn c;
        memset(&c, 0xa5, sizeof c); /* nothing but the address may be read */
        set_peer(&c, k);
        char buf[IOTC_CONN_PEER_LEN];
        CU_ASSERT_STRING_EQUAL(iotc_conn_peer_str(&c, buf, sizeof buf), k->peer);
        CU_ASSERT_STRING_EQUAL(iotc_conn_peer_host(&c, buf, sizeof buf), k->host);
        CU_ASSERT_STRING_EQUAL(iotc_conn_peer_ip(&c, buf, sizeof buf), k->source_ip);
        CU_ASSERT_EQUAL(iotc_conn_peer_ipv6(&c), k->ipv6);
        CU_ASSERT_EQUAL(c.peer.port, k->port);
    }
}

static void test_peer_small_buffer(void)
{
    struct iotc_conn c = {0};
    set_peer(&c, &cases[4]);
    char buf[8];
    CU_ASSERT_STRING_EQUAL(iotc_conn_peer_str(&c, buf, sizeof buf), "[2001:d"); /* cut, ended */
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("conn_peer", NULL, NULL);
    if (!s || !CU_add_test(s, "journal, SourceIp and lifecycle strings", test_peer_strings) ||
        !CU_add_test(s, "a short buffer is cut and terminated", test_peer_small_buffer))
        return -1;
    return 0;
}
