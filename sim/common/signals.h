/* Stop signals for the long-running commands (run, certify): one handler, same set. */
#ifndef IOTC_SIGNALS_H
#define IOTC_SIGNALS_H

/* SIGINT, SIGTERM and SIGHUP go to handler; SIGPIPE is ignored, so a peer that closes
 * first cannot kill the process on its next write. */
void iotc_install_stop_signals(void (*handler)(int));

#endif
