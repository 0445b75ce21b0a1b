/* iotc_refdevice: connect, run a session, back off, repeat until SIGTERM or --run-ms. */
#include <openssl/err.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "refdevice.h"

volatile int iotc_refdevice_stop;

static void main__on_signal(int sig)
{
    (void)sig;
    iotc_refdevice_stop = 1;
}

void iotc_refdevice_log(const struct iotc_refdevice_opts *o, const char *fmt, ...)
{
    static double t0;
    va_list ap;
    if (t0 == 0)
        t0 = iotc_mono_ms();
    (void)o;
    fprintf(stderr, "[%9.3f] ", (iotc_mono_ms() - t0) / 1000.0);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Sleeps in small steps so SIGTERM ends a long backoff at once. */
static void main__sleep_ms(double ms, double deadline)
{
    double end = iotc_mono_ms() + ms;
    while (!iotc_refdevice_stop && iotc_mono_ms() < end &&
           (deadline == 0 || iotc_mono_ms() < deadline)) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    struct iotc_refdevice_opts o;
    struct iotc_refdevice_backoff b;
    struct sigaction sa;
    struct rd_state *st = NULL;
    SSL_CTX *ctx = NULL;
    double deadline;
    int rc = 2;

    if (iotc_refdevice_opts_parse(argc, argv, &o) != 0) {
        iotc_refdevice_usage(stderr);
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = main__on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stderr, NULL, _IOLBF, 0);
    iotc_refdevice_log(
        &o, "iotc_refdevice %s:%d client_id=%s seed=%llu time_scale=%g misbehave=0x%x", o.host,
        o.port, o.client_id, (unsigned long long)o.seed, o.time_scale, o.misbehave);
    ctx = iotc_refdevice_tls_ctx(&o);
    st = iotc_refdevice_state_new();
    if (!ctx || !st) {
        fprintf(stderr, "iotc_refdevice: cannot set up TLS (CA, certificate, key?)\n");
        goto cleanup;
    }
    iotc_refdevice_backoff_init(&b, o.seed);
    deadline = o.run_ms > 0 ? iotc_mono_ms() + (double)o.run_ms : 0;
    int failures = 0;
    while (!iotc_refdevice_stop && (deadline == 0 || iotc_mono_ms() < deadline)) {
        int fd = -1;
        double up = 0;
        bool connected = false, answered = false;
        SSL *ssl = iotc_refdevice_tls_connect(ctx, &o, &fd);
        if (ssl) {
            double t_connect = iotc_mono_ms();
            connected = iotc_refdevice_session_run(ssl, fd, &o, st, &up) == 1;
            answered = connected || iotc_mono_ms() - t_connect <
                                        IOTC_REFDEVICE_CONNACK_TIMEOUT_MS * o.time_scale;
            SSL_shutdown(ssl);
            SSL_free(ssl);
            close(fd);
        }
        if (iotc_refdevice_stop)
            break;
        if (connected && up >= IOTC_REFDEVICE_STABLE_MS * o.time_scale)
            iotc_refdevice_backoff_reset(&b);
        failures = connected ? 0 : failures + 1;
        if ((o.misbehave & IOTC_REFDEVICE_GIVE_UP) && failures >= 3) {
            iotc_refdevice_log(&o, "giving up after %d failed attempts", failures);
            rc = 1;
            goto cleanup;
        }
        double d = iotc_refdevice_backoff_next_ms(&b, &o, answered);
        iotc_refdevice_log(&o, "connection %s; reconnecting in %.0f ms",
                           connected ? "lost" : "failed", d);
        main__sleep_ms(d, deadline);
    }
    rc = 0;
cleanup:
    iotc_refdevice_state_free(st);
    SSL_CTX_free(ctx);
    return rc;
}
