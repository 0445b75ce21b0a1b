/* One error enum for the whole project: negative codes, 0 is success (libuv style). */
#ifndef IOTC_ERR_H
#define IOTC_ERR_H

typedef enum iotc_err {
    IOTC_OK = 0,
    IOTC_ERR_AGAIN = -1,     /* need more input: not an error for stream parsers */
    IOTC_ERR_MALFORMED = -2, /* input violates the wire format */
    IOTC_ERR_TOO_LARGE = -3, /* input exceeds a configured or protocol bound */
    IOTC_ERR_NOMEM = -4,
    IOTC_ERR_IO = -5,
    IOTC_ERR_CONFIG = -6, /* a configuration file is wrong */
    IOTC_ERR_NOT_FOUND = -7,
    IOTC_ERR_PROTOCOL = -8, /* well-formed but not allowed in this state */
    IOTC_ERR_DENIED = -9,   /* authentication or authorization refused */
    IOTC_ERR_TIMEOUT = -10,
    IOTC_ERR_UNSUPPORTED = -11,
    IOTC_ERR_LIMIT = -12,   /* an AWS IoT limit is exceeded */
    IOTC_ERR_INVALID = -13, /* invalid argument from the caller */
    IOTC_ERR_CRYPTO = -14,  /* OpenSSL failed */
} iotc_err;

const char *iotc_strerror(int err);

#endif
