/*
 * Parsed peer certificates, shared by DER bytes.
 *
 * OpenSSL 3.0 decodes a certificate's public key through its provider decoders
 * (OSSL_DECODER_CTX_new_for_pkey walks every key manager and decoder under locks):
 * about a third of the front door's CPU per full mTLS handshake went into parsing the
 * one certificate the device sends, the same bytes each time the device reconnects.
 * This file defines d2i_X509 in the executable, which the dynamic linker binds ahead of
 * libcrypto's for libssl's calls, and returns one shared, reference-counted X509 for
 * identical DER bytes. The object is the one a fresh parse would give (same bytes, same
 * default library context); every check on it still runs per handshake.
 *
 * It only takes the cached path when the cache was enabled in this process and the
 * caller passes a pre-allocated object (libssl's X509_new_ex + d2i_X509 pattern for the
 * peer's Certificate message) whose DER spans the whole input: callers that parse into
 * a fresh object, or that read trailing data (d2i_X509_AUX trust settings), get a
 * private object as before. Reads of PEM files (a NULL object) are never cached.
 */
#ifndef IOTC_X509_CACHE_H
#define IOTC_X509_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* Turns the cache on for this process with room for `slots` certificates (a power of two
 * is not needed; 0 turns it off). Returns IOTC_OK or IOTC_ERR_NOMEM. */
int iotc_x509_cache_enable(size_t slots);

struct iotc_x509_cache_stats {
    uint64_t hits, misses, bypass; /* bypass: calls outside the cached pattern */
    size_t slots, used;
};
void iotc_x509_cache_stats(struct iotc_x509_cache_stats *out);

/* Drops every entry and turns the cache off (tests, shutdown). */
void iotc_x509_cache_disable(void);

#endif
