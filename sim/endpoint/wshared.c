/* State shared by the workers of one serve (see wshared.h). */
#include "wshared.h"
#include "endpoint_int.h"
#include "throttle.h"
#include "common/err.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <sys/stat.h>
#include <signal.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Client IDs remembered (48 bytes each, 6 MB of a sparse file; and up to as many live
 * sessions' records, 344 bytes each, 45 MB more, of which only the records in use are
 * ever touched). A client ID finds its entry within WS_PROBE slots of its hash; with
 * none free it is not shared (a takeover across workers then closes the old device as
 * "broker" instead of DUPLICATE_CLIENTID, and its throttle and versionNumber are counted
 * by each worker). */
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
    struct ws_entry e[WS_SLOTS];
    struct ws_held held[WS_SLOTS];
};

struct iotc_ep_shared {
    struct ws_table *t;
    char cache_dir[4200]; /* PATH.authz/: the authorizer answer cache */
};

/* The lock holds the holder's pid: a worker killed inside (between two loads and
 * stores) would otherwise stop every other one, so a dead holder's lock is taken over. */
static void ws__lock(struct ws_table *t)
{
    int me = (int)getpid(), spins = 0;
    for (;;) {
        int holder = 0;
        if (atomic_compare_exchange_weak_explicit(&t->lock, &holder, me, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        if (holder && ++spins % 1024 == 0 && kill(holder, 0) != 0 && errno == ESRCH &&
            atomic_compare_exchange_strong_explicit(&t->lock, &holder, me, memory_order_acquire,
                                                    memory_order_relaxed))
            return;
        sched_yield(); /* the holder is another worker between two loads and stores */
    }
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

/* The entry of id, made when create; NULL when not there (or no room). Under the lock. */
static struct ws_entry *ws__find(struct ws_table *t, const char *id, bool create)
{
    uint64_t tag = ws__tag(id);
    for (unsigned i = 0; i < WS_PROBE; i++) {
        struct ws_entry *e = &t->e[(tag + i) % WS_SLOTS];
        if (e->tag == tag)
            return e;
        if (e->tag == 0) {
            if (!create)
                return NULL;
            e->tag = tag;
            return e;
        }
    }
    return NULL;
}

static void ws__cache_file(const struct iotc_ep_shared *s, const char *key, char *out, size_t len)
{
    snprintf(out, len, "%s/%016llx", s->cache_dir, (unsigned long long)ws__tag(key));
}

/* The parent's close (the last: its workers stopped first) removes the cache. */
static void ws__cache_clear(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[4400];
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

void iotc_ep_shared_cache_put(struct iotc_endpoint *ep, const char *key, double expires,
                              const char *response)
{
    if (!ep->wshared)
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
    if (!ep->wshared)
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

int iotc_ep_shared_open(struct iotc_endpoint *ep, const char *path, bool create)
{
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT | O_TRUNC : 0), 0600);
    if (fd < 0)
        return IOTC_ERR_IO;
    if (create && ftruncate(fd, (off_t)sizeof(struct ws_table)) != 0) {
        close(fd);
        return IOTC_ERR_IO;
    }
    void *m = mmap(NULL, sizeof(struct ws_table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return IOTC_ERR_IO;
    struct iotc_ep_shared *s = calloc(1, sizeof *s);
    if (!s) {
        munmap(m, sizeof(struct ws_table));
        return IOTC_ERR_NOMEM;
    }
    s->t = m;
    snprintf(s->cache_dir, sizeof s->cache_dir, "%s.authz", path);
    if (create)
        mkdir(s->cache_dir, 0700);
    ep->wshared = s;
    return IOTC_OK;
}

void iotc_ep_shared_close(struct iotc_endpoint *ep)
{
    if (!ep->wshared)
        return;
    munmap(ep->wshared->t, sizeof(struct ws_table));
    if (!ep->worker_child)
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
    if (e && !iotc_bucket_take(&e->connect, per_id_rate, 1, id_now))
        limit = "connect_per_s_per_client_id";
    else if (!iotc_bucket_take(&t->connects, account_rate, 1, now)) {
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
    bool ok = iotc_bucket_take(&t->publishes, account_rate, 1, now);
    ws__unlock(t);
    return ok;
}

static void ws__held_free(struct ws_table *t, struct ws_entry *e)
{
    struct ws_held *h = &t->held[e->held - 1];
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
    if (e && !e->held) { /* else: the record of a session this one took over, reused */
        if (t->held_free) {
            e->held = t->held_free;
            t->held_free = t->held[e->held - 1].next_free;
        } else if (t->held_used < WS_SLOTS) {
            e->held = ++t->held_used;
        }
    }
    if (e && e->held) {
        struct ws_held *h = &t->held[e->held - 1];
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
    if (e && e->held && t->held[e->held - 1].gen == gen)
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
    for (uint32_t i = 0; i < WS_SLOTS; i++) {
        struct ws_entry *e = &t->e[i];
        if (!e->held || t->held[e->held - 1].worker != worker)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct iotc_ep_shared_session *nv = realloc(v, nc * sizeof *nv);
            if (!nv)
                break; /* the rest stay recorded: a later call finds them */
            v = nv;
            cap = nc;
        }
        struct ws_held *h = &t->held[e->held - 1];
        memcpy(v[n].client_id, h->client_id, sizeof v[n].client_id);
        memcpy(v[n].session_id, h->session_id, sizeof v[n].session_id);
        memcpy(v[n].principal, h->principal, sizeof v[n].principal);
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
