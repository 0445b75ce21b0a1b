/* Digit values shared by the percent-decoders and the strict base64 readers. */
#ifndef IOTC_TEXTCODEC_H
#define IOTC_TEXTCODEC_H

/* 0..15 for a hex digit (either case), else -1. */
static inline int iotc_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 0..63 for a standard (RFC 4648 section 4) base64 symbol, else -1. */
static inline int iotc_b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

#endif
