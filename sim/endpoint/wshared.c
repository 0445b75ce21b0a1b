/* State shared by the workers of one serve (see wshared.h). */
#define _GNU_SOURCE /* memfd_create and file seals (Linux) */
#include "wshared.h"
#include "endpoint_int.h"
#include "throttle.h"
#include "common/clock.h"
#include "common/err.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <signal.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Client IDs remembered: a hash index of 4-byte slots (512 KB) pointing into entries
 * handed out densely (48 bytes each), and up to as many live sessions' records (344 bytes
 * each, also dense), all in one sparse file of which only the pages in use are ever
 * touched. The entries themselves once sat in the hashed slots, and 2,000 devices touched
 * three quarters of their 6 MB (random pages): with two workers that was 2.2 KB of each
 * idle device (iotc_bench, issue 13). A client ID finds its entry within WS_PROBE slots of
 * its hash; with none free it is not shared (a takeover across workers then closes the old device
 * as "broker" instead of DUPLICATE_CLIENTID, and its throttle and versionNumber are counted by each
 * worker). */
#define WS_SLOTS (1u << 17)
#define WS_PROBE 32

struct ws_entry {
    uint64_t tag; /* 64-bit hash of the client ID, never 0; 0 = free */
    uint64_t gen;
    int64_t version;
    struct iotc_bucket connect;
    uint32_t held; /* 1 + index in held[] of the live session's record, 0: none */
};

/* A live session as its lifecycle events name it, so the parent can announce its end when
 * the worker holding it dies. Records are handed out densely (a free list, then the next
 * unused one), so the pages touched grow with the live sessions, not with the table. */
struct ws_held {
    int32_t worker;
    uint32_t next_free; /* 1 + index, on the free list */
    uint64_t gen;
    char client_id[IOTC_EP_SHARED_ID_MAX + 1];
    char session_id[37];
    char principal[IOTC_EP_SHARED_PRINCIPAL_MAX + 1];
};

struct ws_table {
    _Atomic int lock;
    uint64_t next_gen;
    struct iotc_bucket connects, publishes; /* the account's */
    long long counters[IOTC_EP_SHARED_COUNTERS];
    uint32_t held_used, held_free; /* records ever handed out; 1 + head of the free list */
    uint32_t e_used;               /* entries ever handed out (never freed: versionNumber) */
    uint32_t slot[WS_SLOTS];       /* 1 + index in e[] of the entry hashed here, 0: free */
    struct ws_entry e[WS_SLOTS];
    struct ws_held held[WS_SLOTS];
};

struct iotc_ep_shared {
    struct ws_table *t;
    int fd;               /* the parent's sealed memfd (-1 in a worker) */
    char worker_path[64]; /* how a worker opens it: /proc/PID/fd/N */
    char cache_dir[4200]; /* the authorizer answer cache ("" = none) */
};

/* A holder keeps the lock for a few loads and stores; one that has it this long is not a
 * worker inside (a corrupted or overwritten file: the attack table's shm rows). */
#define WS_LOCK_STALE_MS 500

/* The lock holds the holder's pid: a worker killed inside (between two loads and
 * stores) would otherwise stop every other one, so a dead holder's lock is taken over,
 * and so is one held past WS_LOCK_STALE_MS (a pid written into the file by something
 * else may be a live process: pid 1 would stop every worker for good). */
static void ws__lock(struct ws_table *t)
{
    int me = (int)getpid(), spins = 0;
    int64_t since = 0;
    for (;;) {
        int holder = 0;
        if (atomic_compare_exchange_weak_explicit(&t->lock, &holder, me, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        if (holder && ++spins % 1024 == 0) {
            int64_t now = iotc_clock_ms();
            if (!since)
                since = now;
            bool stale = (kill(holder, 0) != 0 && errno == ESRCH) || holder < 0 ||
                         now - since > WS_LOCK_STALE_MS;
            if (stale && atomic_compare_exchange_strong_explicit(
                             &t->lock, &holder, me, memory_order_acquire, memory_order_relaxed))
                return;
        }
        sched_yield(); /* the holder is another worker between two loads and stores */
    }
}

/* A shared bucket as iotc_bucket_take leaves it (finite, tokens >= 0, last refill not in
 * the future), else a fresh one: garbage written into the file must not stop every
 * device (a NaN or a far-future refill time would refuse forever). Under the lock. */
static struct iotc_bucket *ws__bucket(struct iotc_bucket *b, double now)
{
    if (!isfinite(b->tokens) || !isfinite(b->last_ms) || b->tokens < 0 || b->last_ms < 0 ||
        b->last_ms > now + 1000.0)
        b->tokens = b->last_ms = 0;
    return b;
}

static void ws__unlock(struct ws_table *t)
{
    atomic_store_explicit(&t->lock, 0, memory_order_release);
}

static uint64_t ws__tag(const char *id)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h ? h : 1;
}

/* The entry of id, made when create; NULL when not there (or no room). Under the lock. A
 * slot or count that garbage in the file put out of range is treated as taken or full
 * (the attack table's shm-garbage row). */
static struct ws_entry *ws__find(struct ws_table *t, const char *id, bool create)
{
    uint64_t tag = ws__tag(id);
    if (t->e_used > WS_SLOTS)
        t->e_used = WS_SLOTS;
    for (unsigned i = 0; i < WS_PROBE; i++) {
        uint32_t *slot = &t->slot[(tag + i) % WS_SLOTS];
        if (*slot == 0) {
            if (!create || t->e_used == WS_SLOTS)
                return NULL;
            struct ws_entry *e = &t->e[t->e_used++];
            memset(e, 0, sizeof *e);
            e->tag = tag;
            *slot = t->e_used;
            return e;
        }
        if (*slot <= t->e_used && t->e[*slot - 1].tag == tag)
            return &t->e[*slot - 1];
    }
    return NULL;
}

static void ws__cache_file(const struct iotc_ep_shared *s, const char *key, char *out, size_t len)
{
    snprintf(out, len, "%s/%016llx", s->cache_dir, (unsigned long long)ws__tag(key));
}

/* Removes the cache directory: at the parent's close (the last: its workers stopped
 * first) and before it makes a fresh one. Never through a symbolic link: a link left
 * at that name is removed itself, not the files of the directory it points to. */
static void ws__cache_clear(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        unlink(dir); /* a link or a file (ENOENT: nothing there) */
        return;
    }
    DIR *d = fdopendir(fd);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            unlinkat(fd, de->d_name, 0);
    if (d)
        closedir(d);
    else
        close(fd);
    rmdir(dir);
}

/* The cache is used only in a private directory of this user's (not through a link);
 * otherwise there is none and every answer asks the authorizer. */
static bool ws__cache_ok(const char *dir)
{
    struct stat st;
    return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
           !(st.st_mode & 077);
}

void iotc_ep_shared_cache_put(struct iotc_endpoint *ep, const char *key, double expires,
                              const char *response)
{
    if (!ep->wshared || !ep->wshared->cache_dir[0])
        return;
    char path[4400], tmp[4500];
    ws__cache_file(ep->wshared, key, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
    json_t *o = json_pack("{s:s, s:f, s:s}", "key", key, "expires", expires, "response", response);
    /* rename: a reader in another worker sees the old answer or the new one, never half */
    if (o && json_dump_file(o, tmp, JSON_COMPACT) == 0 && rename(tmp, path) != 0)
        unlink(tmp);
    json_decref(o);
}

char *iotc_ep_shared_cache_get(struct iotc_endpoint *ep, const char *key, double now)
{
    if (!ep->wshared || !ep->wshared->cache_dir[0])
        return NULL;
    char path[4400];
    ws__cache_file(ep->wshared, key, path, sizeof path);
    json_t *o = json_load_file(path, 0, NULL);
    const char *k = json_string_value(json_object_get(o, "key"));
    const char *r = json_string_value(json_object_get(o, "response"));
    char *out = NULL;
    if (k && r && strcmp(k, key) == 0 && json_real_value(json_object_get(o, "expires")) > now)
        out = strdup(r);
    json_decref(o);
    return out;
}

/* The parent's table: a memfd sealed against shrinking and growing, so no file in the run
 * directory can be truncated (mapped pages past the end are SIGBUS in every worker), made
 * to point elsewhere, or be another user's. */
static int ws__create(void)
{
    int fd = memfd_create("iotconform-workers", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)sizeof(struct ws_table)) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A worker maps only what the parent made: sealed against resizing, of the table's size. */
static int ws__attach(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC); /* /proc/PID/fd/N is a link by nature */
    struct stat st;
    if (fd < 0)
        return -1;
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW) ||
        fstat(fd, &st) != 0 || st.st_size != (off_t)sizeof(struct ws_table)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

int iotc_ep_shared_open(struct iotc_endpoint *ep, const char *path, const char *cache_dir,
                        bool create)
{
    int fd = create ? ws__create() : ws__attach(path);
    if (fd < 0)
        return IOTC_ERR_IO;
    void *m = mmap(NULL, sizeof(struct ws_table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    struct iotc_ep_shared *s = m == MAP_FAILED ? NULL : calloc(1, sizeof *s);
    if (!s) {
        int rc = m == MAP_FAILED ? IOTC_ERR_IO : IOTC_ERR_NOMEM;
        if (m != MAP_FAILED)
            munmap(m, sizeof(struct ws_table));
        close(fd);
        return rc;
    }
    s->t = m;
    s->fd = -1;
    if (create) {
        s->fd = fd;
        snprintf(s->worker_path, sizeof s->worker_path, "/proc/%d/fd/%d", (int)getpid(), fd);
    } else {
        close(fd);
    }
    snprintf(s->cache_dir, sizeof s->cache_dir, "%s", cache_dir);
    if (create) {
        ws__cache_clear(s->cache_dir); /* answers a crashed run left are not this run's */
        mkdir(s->cache_dir, 0700);
    }
    if (!ws__cache_ok(s->cache_dir))
        s->cache_dir[0] = '\0';
    ep->wshared = s;
    return IOTC_OK;
}

const char *iotc_ep_shared_worker_path(const struct iotc_endpoint *ep)
{
    return ep->wshared ? ep->wshared->worker_path : NULL;
}

void iotc_ep_shared_close(struct iotc_endpoint *ep)
{
    if (!ep->wshared)
        return;
    munmap(ep->wshared->t, sizeof(struct ws_table));
    if (ep->wshared->fd >= 0)
        close(ep->wshared->fd);
    if (!ep->worker_child && ep->wshared->cache_dir[0])
        ws__cache_clear(ep->wshared->cache_dir);
    free(ep->wshared);
    ep->wshared = NULL;
}

bool iotc_ep_shared_on(const struct iotc_endpoint *ep)
{
    return ep->wshared != NULL;
}

uint64_t iotc_ep_shared_claim(struct iotc_endpoint *ep, const char *client_id)
{
    if (!ep->wshared || !client_id)
        return 0;
    struct ws_table *t = ep->wshared->t;
    uint64_t gen = 0;
    ws__lock(t);
    struct ws_entry *e = ws__find(t, client_id, true);
    if (e)
        e->gen = gen = ++t->next_gen;
    ws__unlock(t);
    return gen;
}

bool iotc_ep_shared_lost(const struct iotc_endpoint *ep, const char *client_id, uint64_t gen)
{
    if (!ep->wshared || !client_id || !gen)
        return false;
    struct ws_table *t = ep->wshared->t;
    ws__lock(t);
    struct ws_entry *e = ws__find(t, client_id, false);
    bool lost = e && e->gen != gen;
    ws__unlock(t);
    return lost;
}

bool iotc_ep_shared_version(struct iotc_endpoint *ep, const char *client_id, bool connected,
                            long long *version)
{
    if (!ep->wshared || !client_id)
        return false;
    struct ws_table *t = ep->wshared->t;
    ws__lock(t);
    struct ws_entry *e = ws__find(t, client_id, true);
    if (e) {
        if (connected)
            e->version++;
        *version = e->version;
    }
    ws__unlock(t);
    return e != NULL;
}

const char *iotc_ep_shared_connect(struct iotc_endpoint *ep, const char *client_id,
                                   double per_id_rate, double id_now, double account_rate,
                                   double now, bool *handled)
{
    *handled = ep->wshared != NULL;
    if (!ep->wshared)
        return NULL;
    struct ws_table *t = ep->wshared->t;
    const char *limit = NULL;
    ws__lock(t);
    struct ws_entry *e = per_id_rate > 0 && client_id ? ws__find(t, client_id, true) : NULL;
    if (e && !iotc_bucket_take(ws__bucket(&e->connect, id_now), per_id_rate, 1, id_now))
        limit = "connect_per_s_per_client_id";
    else if (!iotc_bucket_take(ws__bucket(&t->connects, now), account_rate, 1, now)) {
        limit = "account_connect_per_s";
        if (e)
            e->connect.tokens += 1; /* a refused connect costs the client ID nothing */
    }
    ws__unlock(t);
    return limit;
}

bool iotc_ep_shared_count(struct iotc_endpoint *ep, int which, long long limit, long long *count,
                          bool *handled)
{
    *handled = ep->wshared != NULL;
    if (!ep->wshared || which < 0 || which >= IOTC_EP_SHARED_COUNTERS)
        return false;
    struct ws_table *t = ep->wshared->t;
    ws__lock(t);
    if (t->counters[which] < 0 || t->counters[which] == LLONG_MAX)
        t->counters[which] = 0; /* garbage in the file; ++ must not overflow */
    bool take = limit < 0 || t->counters[which] < limit;
    if (take)
        *count = ++t->counters[which];
    ws__unlock(t);
    return take;
}

bool iotc_ep_shared_publish(struct iotc_endpoint *ep, double account_rate, double now,
                            bool *handled)
{
    *handled = ep->wshared != NULL;
    if (!ep->wshared)
        return true;
    struct ws_table *t = ep->wshared->t;
    ws__lock(t);
    bool ok = iotc_bucket_take(ws__bucket(&t->publishes, now), account_rate, 1, now);
    ws__unlock(t);
    return ok;
}

/* The record an entry holds, NULL for none; an index or a free list head that garbage
 * in the table put out of range is dropped (the attack table's shm-garbage row). */
static struct ws_held *ws__held_of(struct ws_table *t, struct ws_entry *e)
{
    if (t->held_free > WS_SLOTS)
        t->held_free = 0;
    if (t->held_used > WS_SLOTS)
        t->held_used = WS_SLOTS;
    if (e->held > WS_SLOTS)
        e->held = 0;
    return e->held ? &t->held[e->held - 1] : NULL;
}

static void ws__held_free(struct ws_table *t, struct ws_entry *e)
{
    struct ws_held *h = ws__held_of(t, e);
    if (!h)
        return;
    h->worker = -1;
    h->next_free = t->held_free;
    t->held_free = e->held;
    e->held = 0;
}

void iotc_ep_shared_hold(struct iotc_endpoint *ep, const char *client_id, uint64_t gen,
                         const char *session_id, const char *principal)
{
    if (!ep->wshared || !client_id || !gen || strlen(client_id) > IOTC_EP_SHARED_ID_MAX)
        return;
    struct ws_table *t = ep->wshared->t;
    ws__lock(t);
    struct ws_entry *e = ws__find(t, client_id, true);
    if (e && !ws__held_of(t, e)) { /* else: the record of a session this one took over */
        if (t->held_free) {
            e->held = t->held_free;
            t->held_free = t->held[e->held - 1].next_free;
        } else if (t->held_used < WS_SLOTS) {
            e->held = ++t->held_used;
        }
    }
    struct ws_held *h = e ? ws__held_of(t, e) : NULL;
    if (h) {
        h->worker = ep->worker_id;
        h->gen = gen;
        snprintf(h->client_id, sizeof h->client_id, "%s", client_id);
        snprintf(h->session_id, sizeof h->session_id, "%s", session_id ? session_id : "");
        snprintf(h->principal, sizeof h->principal, "%s", principal ? principal : "");
    }
    ws__unlock(t);
}

void iotc_ep_shared_release(struct iotc_endpoint *ep, const char *client_id, uint64_t gen)
{
    if (!ep->wshared || !client_id || !gen)
        return;
    struct ws_table *t = ep->wshared->t;
    ws__lock(t);
    struct ws_entry *e = ws__find(t, client_id, false);
    struct ws_held *h = e ? ws__held_of(t, e) : NULL;
    if (h && h->gen == gen)
        ws__held_free(t, e); /* else a newer session (any worker) holds it now */
    ws__unlock(t);
}

size_t iotc_ep_shared_orphans(struct iotc_endpoint *ep, int worker, iotc_ep_shared_orphan_fn fn,
                              void *arg)
{
    if (!ep->wshared)
        return 0;
    struct ws_table *t = ep->wshared->t;
    struct iotc_ep_shared_session *v = NULL;
    size_t n = 0, cap = 0;
    ws__lock(t);
    uint32_t used = t->e_used > WS_SLOTS ? WS_SLOTS : t->e_used;
    for (uint32_t i = 0; i < used; i++) {
        struct ws_entry *e = &t->e[i];
        struct ws_held *h = ws__held_of(t, e);
        if (!h || h->worker != worker)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct iotc_ep_shared_session *nv = realloc(v, nc * sizeof *nv);
            if (!nv)
                break; /* the rest stay recorded: a later call finds them */
            v = nv;
            cap = nc;
        }
        memcpy(v[n].client_id, h->client_id, sizeof v[n].client_id);
        memcpy(v[n].session_id, h->session_id, sizeof v[n].session_id);
        memcpy(v[n].principal, h->principal, sizeof v[n].principal);
        /* garbage in the table must not make a string run on */
        v[n].client_id[sizeof v[n].client_id - 1] = '\0';
        v[n].session_id[sizeof v[n].session_id - 1] = '\0';
        v[n].principal[sizeof v[n].principal - 1] = '\0';
        v[n].taken_over = e->gen != h->gen; /* a newer connect claimed it elsewhere */
        n++;
        ws__held_free(t, e);
    }
    ws__unlock(t);
    /* Called outside the lock: the callback publishes and takes the lock again. */
    for (size_t i = 0; i < n; i++)
        fn(arg, &v[i]);
    free(v);
    return n;
}
