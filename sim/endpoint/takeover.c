/* Client-ID generations shared by the workers of one serve (see takeover.h). */
#include "takeover.h"
#include "endpoint_int.h"
#include "common/err.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* 2^16 slots (512 KB): two client IDs sharing a slot only matter if one's broker link
 * closes for another reason while the other connects, and then only the reason differs. */
#define TAKEOVER_SLOTS (1u << 16)

struct iotc_ep_takeover {
    _Atomic uint64_t *map; /* [0]: the next generation; [1 + slot]: newest generation */
    size_t len;
};

static uint32_t takeover__slot(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return 1 + h % TAKEOVER_SLOTS;
}

int iotc_ep_takeover_open(struct iotc_endpoint *ep, const char *path, bool create)
{
    size_t len = (TAKEOVER_SLOTS + 1) * sizeof(uint64_t);
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT | O_TRUNC : 0), 0600);
    if (fd < 0)
        return IOTC_ERR_IO;
    if (create && ftruncate(fd, (off_t)len) != 0) {
        close(fd);
        return IOTC_ERR_IO;
    }
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return IOTC_ERR_IO;
    struct iotc_ep_takeover *t = calloc(1, sizeof *t);
    if (!t) {
        munmap(m, len);
        return IOTC_ERR_NOMEM;
    }
    t->map = m;
    t->len = len;
    ep->takeover = t;
    return IOTC_OK;
}

void iotc_ep_takeover_close(struct iotc_endpoint *ep)
{
    if (!ep->takeover)
        return;
    munmap((void *)ep->takeover->map, ep->takeover->len);
    free(ep->takeover);
    ep->takeover = NULL;
}

uint64_t iotc_ep_takeover_claim(struct iotc_endpoint *ep, const char *client_id)
{
    if (!ep->takeover || !client_id)
        return 0;
    uint64_t gen = atomic_fetch_add(&ep->takeover->map[0], 1) + 1;
    atomic_store(&ep->takeover->map[takeover__slot(client_id)], gen);
    return gen;
}

bool iotc_ep_takeover_lost(const struct iotc_endpoint *ep, const char *client_id, uint64_t gen)
{
    if (!ep->takeover || !client_id || !gen)
        return false;
    return atomic_load(&ep->takeover->map[takeover__slot(client_id)]) != gen;
}
