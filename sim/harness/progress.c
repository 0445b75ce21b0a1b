/* Live progress of `run` and `certify` (progress.h). */
#include "harness/progress.h"

#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

#define PROGRESS__TICK_MS    1000 /* the ticker: elapsed moves on a terminal while a case runs */
#define PROGRESS__REASON_MAX 300  /* a failure line stays one readable line */
#define PROGRESS__BAR_MAX    30

void iotc_progress_hms(long s, char *out, size_t len)
{
    if (s < 0)
        s = 0;
    if (s >= 3600)
        snprintf(out, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, len, "%ld:%02ld", s / 60, s % 60);
}

/* ETA from the mean case time: remaining cases over the workers that can still run. */
static long progress__eta_s(const iotc_progress *p)
{
    size_t left = p->total - p->done;
    long par = p->jobs < 1 ? 1 : p->jobs;
    if (p->done == 0)
        return -1;
    if ((size_t)par > left)
        par = (long)(left ? left : 1);
    return (long)((double)p->case_ms_sum / (double)p->done * (double)left / (double)par / 1000.0 +
                  0.5);
}

/* "518/1472  35%  3 failed  elapsed 1:12  ETA 2:10" (no bar, no prefix). */
static void progress__text(const iotc_progress *p, long now_ms, char *out, size_t len)
{
    char el[24], eta[24] = "--:--";
    long e = progress__eta_s(p);
    iotc_progress_hms((now_ms - p->t0_ms) / 1000, el, sizeof el);
    if (e >= 0)
        iotc_progress_hms(e, eta, sizeof eta);
    snprintf(out, len, "%zu/%zu  %3d%%  %zu failed  elapsed %s  ETA %s", p->done, p->total,
             p->total ? (int)(p->done * 100 / p->total) : 100, p->failed, el, eta);
}

/* Called with the lock held. */
static void progress__draw(iotc_progress *p, long now_ms)
{
    char text[160], bar[PROGRESS__BAR_MAX + 3] = "";
    progress__text(p, now_ms, text, sizeof text);
    int room = p->width - 1 - (int)strlen(text) - 3;
    int bw = room > PROGRESS__BAR_MAX ? PROGRESS__BAR_MAX : room;
    if (bw >= 10) {
        int fill = p->total ? (int)(p->done * (size_t)bw / p->total) : bw;
        bar[0] = '[';
        for (int i = 0; i < bw; i++)
            bar[1 + i] = i < fill ? '#' : '.';
        bar[1 + bw] = ']';
        bar[2 + bw] = '\0';
    }
    /* A line wider than the terminal wraps and \r no longer returns to its start. */
    fprintf(p->out, "\r\033[K%s%s%.*s", bar, bar[0] ? " " : "", p->width > 1 ? p->width - 1 : 1,
            text);
    fflush(p->out);
    p->drawn = true;
    p->last_ms = now_ms;
}

static void progress__clear(iotc_progress *p)
{
    if (p->drawn)
        fputs("\r\033[K", p->out);
    p->drawn = false;
}

static void progress__plain(iotc_progress *p, long now_ms)
{
    char text[160];
    progress__text(p, now_ms, text, sizeof text);
    fprintf(p->out, "progress: %s\n", text);
    fflush(p->out);
    p->last_ms = now_ms;
}

static void progress__fail_line(iotc_progress *p, const char *verdict, const char *id,
                                const char *reason)
{
    size_t n = reason ? strcspn(reason, "\r\n") : 0;
    fprintf(p->out, "[%zu/%zu] %s %s: %.*s%s\n", p->done, p->total, verdict, id,
            (int)(n > PROGRESS__REASON_MAX ? PROGRESS__REASON_MAX : n), reason ? reason : "",
            n > PROGRESS__REASON_MAX ? "..." : "");
}

static void *progress__ticker(void *arg)
{
    iotc_progress *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += PROGRESS__TICK_MS / 1000;
        pthread_cond_timedwait(&p->cond, &p->lock, &ts);
        if (p->stop)
            break;
        long now = (long)iotc_clock_ms();
        if (p->mode == IOTC_PROGRESS_TTY)
            progress__draw(p, now);
        else if (p->mode == IOTC_PROGRESS_LINES && now - p->last_ms >= IOTC_PROGRESS_INTERVAL_MS)
            progress__plain(p, now);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

void iotc_progress_init(iotc_progress *p, FILE *out, iotc_progress_mode mode, size_t total,
                        int jobs)
{
    pthread_condattr_t ca;
    struct winsize ws;
    memset(p, 0, sizeof *p);
    p->out = out;
    p->total = total;
    p->jobs = jobs;
    p->width = 80;
    if (mode == IOTC_PROGRESS_AUTO)
        mode = isatty(fileno(out)) ? IOTC_PROGRESS_TTY : IOTC_PROGRESS_LINES;
    p->mode = mode;
    if (mode == IOTC_PROGRESS_TTY && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        p->width = ws.ws_col;
    p->t0_ms = p->last_ms = (long)iotc_clock_ms();
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
}

void iotc_progress_start(iotc_progress *p)
{
    if (p->mode != IOTC_PROGRESS_TTY && p->mode != IOTC_PROGRESS_LINES)
        return;
    pthread_mutex_lock(&p->lock);
    if (p->mode == IOTC_PROGRESS_TTY)
        progress__draw(p, (long)iotc_clock_ms());
    pthread_mutex_unlock(&p->lock);
    p->ticking = pthread_create(&p->ticker, NULL, progress__ticker, p) == 0;
}

bool iotc_progress_verbose(const iotc_progress *p)
{
    return p->mode == IOTC_PROGRESS_VERBOSE;
}

void iotc_progress_case_at(iotc_progress *p, const char *verdict, const char *id, bool failed,
                           const char *reason, long case_ms, long now_ms)
{
    pthread_mutex_lock(&p->lock);
    p->done++;
    p->failed += failed;
    p->case_ms_sum += case_ms > 0 ? case_ms : 0;
    switch (p->mode) {
    case IOTC_PROGRESS_VERBOSE:
    case IOTC_PROGRESS_AUTO:
        break;
    case IOTC_PROGRESS_QUIET:
        if (failed)
            progress__fail_line(p, verdict, id, reason);
        break;
    case IOTC_PROGRESS_TTY:
        if (failed) {
            progress__clear(p);
            progress__fail_line(p, verdict, id, reason);
        }
        if (failed || p->done == p->total || now_ms - p->last_ms >= IOTC_PROGRESS_REDRAW_MS)
            progress__draw(p, now_ms);
        break;
    case IOTC_PROGRESS_LINES: {
        int step = p->total ? (int)(p->done * 100 / p->total) / IOTC_PROGRESS_STEP_PCT : 0;
        if (failed)
            progress__fail_line(p, verdict, id, reason);
        if (step > p->last_pct_step || now_ms - p->last_ms >= IOTC_PROGRESS_INTERVAL_MS) {
            p->last_pct_step = step;
            progress__plain(p, now_ms);
        }
        break;
    }
    }
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}

void iotc_progress_case(iotc_progress *p, const char *verdict, const char *id, bool failed,
                        const char *reason, long case_ms)
{
    iotc_progress_case_at(p, verdict, id, failed, reason, case_ms, (long)iotc_clock_ms());
}

void iotc_progress_note(iotc_progress *p, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&p->lock);
    bool redraw = p->drawn;
    progress__clear(p);
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    if (redraw)
        progress__draw(p, (long)iotc_clock_ms());
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}

void iotc_progress_finish(iotc_progress *p)
{
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (p->ticking)
        pthread_join(p->ticker, NULL);
    p->ticking = false;
    long now = (long)iotc_clock_ms();
    if (p->mode == IOTC_PROGRESS_TTY) {
        progress__draw(p, now);
        fputc('\n', p->out);
        p->drawn = false;
    } else if (p->mode == IOTC_PROGRESS_LINES && p->done < p->total) {
        /* Interrupted: the last 10% line was not reached, say where it stopped. */
        progress__plain(p, now);
    }
    fflush(p->out);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
}
