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

#include <openssl/x509.h>
#include <stdbool.h>
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

/*
 * Verified chains, remembered on the shared leaf object. With the cache, identical bytes
 * are the identical object, and a memo holds a reference to every other certificate it
 * names, so comparing pointers compares the inputs: the same leaf, sent with the same
 * other certificates, verified in the same verification context (`ctx_id`: one store,
 * purpose and flags, from iotc_x509_memo_context) for the same host name (NULL: none)
 * chains again the same way. A hit re-checks what time changes: the validity dates of
 * every certificate of the chain. Anything else (revocation status kept outside the
 * store, a registry's ACTIVE flag) stays the caller's to check on every handshake.
 * Only short chains are remembered (IOTC_X509_MEMO_MAX certificates besides the leaf).
 */
#define IOTC_X509_MEMO_MAX 4
uint64_t iotc_x509_memo_context(void);
bool iotc_x509_memo_hit(X509 *leaf, STACK_OF(X509) * untrusted, uint64_t ctx_id, const char *host);
/* After X509_verify_cert succeeded on (leaf, untrusted) with the resulting chain. */
void iotc_x509_memo_keep(X509 *leaf, STACK_OF(X509) * untrusted, STACK_OF(X509) * chain,
                         uint64_t ctx_id, const char *host);

#endif
