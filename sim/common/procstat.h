/* Process facts the benchmark, the fleet and the endpoint all need from /proc and rlimits. */
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

#endif
