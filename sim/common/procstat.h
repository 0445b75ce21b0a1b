/* Process facts the benchmark, the fleet, the runner and the endpoint all need from /proc,
 * rlimits and the scheduler. */
#ifndef IOTC_PROCSTAT_H
#define IOTC_PROCSTAT_H

#include <sys/types.h>

/* VmRSS in KB of pid (0: this process), -1 when unknown. */
long iotc_rss_kb(pid_t pid);
/* CPU seconds (user + system) pid (0: this process) has used, -1 when unknown. */
double iotc_cpu_s(pid_t pid);
/* Raises the soft descriptor limit to the hard one (children inherit it); returns the
 * soft limit now in force (or -1). *hard (may be NULL) gets the hard limit, -1 = none. */
long iotc_raise_nofile(long *hard);
/* The CPUs this process may run on (its affinity mask: a container's or taskset's cpuset
 * counts, not the machine's), else the CPUs online; at least 1. */
int iotc_ncpu(void);

#endif
