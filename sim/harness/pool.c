/* The worker pool of `run` and `certify`. */
#include "harness/pool.h"

#include <pthread.h>

typedef struct pool {
    size_t n, next;
    pthread_mutex_t lock;
    void (*one)(size_t i, void *arg);
    void *arg;
} pool;

static void *pool__worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next++;
        pthread_mutex_unlock(&p->lock);
        if (i >= p->n)
            return NULL;
        p->one(i, p->arg);
    }
}

void iotc_pool_run(size_t n, int threads, void (*one)(size_t i, void *arg), void *arg)
{
    pool p = {.n = n, .next = 0, .one = one, .arg = arg};
    pthread_t th[IOTC_POOL_MAX_THREADS];
    int started = 0;

    pthread_mutex_init(&p.lock, NULL);
    for (int j = 0; j < threads && j < IOTC_POOL_MAX_THREADS; j++)
        if (pthread_create(&th[j], NULL, pool__worker, &p) == 0)
            started++;
    for (int j = 0; j < started; j++)
        pthread_join(th[j], NULL);
    if (started == 0)
        pool__worker(&p);
    pthread_mutex_destroy(&p.lock);
}
