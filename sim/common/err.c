#include "err.h"

const char *iotc_strerror(int err)
{
    switch ((iotc_err)err) {
    case IOTC_OK:
        return "ok";
    case IOTC_ERR_AGAIN:
        return "incomplete input";
    case IOTC_ERR_MALFORMED:
        return "malformed input";
    case IOTC_ERR_TOO_LARGE:
        return "too large";
    case IOTC_ERR_NOMEM:
        return "out of memory";
    case IOTC_ERR_IO:
        return "I/O error";
    case IOTC_ERR_CONFIG:
        return "configuration error";
    case IOTC_ERR_NOT_FOUND:
        return "not found";
    case IOTC_ERR_PROTOCOL:
        return "protocol violation";
    case IOTC_ERR_DENIED:
        return "denied";
    case IOTC_ERR_TIMEOUT:
        return "timed out";
    case IOTC_ERR_UNSUPPORTED:
        return "unsupported";
    case IOTC_ERR_LIMIT:
        return "limit exceeded";
    case IOTC_ERR_INVALID:
        return "invalid argument";
    case IOTC_ERR_CRYPTO:
        return "cryptographic failure";
    }
    return "unknown error";
}
