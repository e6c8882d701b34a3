#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

static inline long shim_SSL_CTX_set_min_proto_version(SSL_CTX *c, int v) { return SSL_CTX_set_min_proto_version(c, v); }
static inline long shim_SSL_CTX_set_max_proto_version(SSL_CTX *c, int v) { return SSL_CTX_set_max_proto_version(c, v); }
static inline long shim_SSL_CTX_set_mode(SSL_CTX *c, long m) { return SSL_CTX_set_mode(c, m); }
static inline int shim_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
static inline X509 *shim_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
static inline void shim_OPENSSL_free(void *p) { OPENSSL_free(p); }
static inline int shim_sk_X509_OBJECT_num(const STACK_OF(X509_OBJECT) *sk) { return sk_X509_OBJECT_num(sk); }
static inline X509_OBJECT *shim_sk_X509_OBJECT_value(const STACK_OF(X509_OBJECT) *sk, int i) { return sk_X509_OBJECT_value(sk, i); }
static const uint64_t shim_SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;
static const uint64_t shim_SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
static const unsigned long shim_XN_FLAG_RFC2253 = XN_FLAG_RFC2253;
static const uint64_t shim_SSL_OP_NO_TICKET = SSL_OP_NO_TICKET;
static const uint64_t shim_SSL_OP_CIPHER_SERVER_PREFERENCE = SSL_OP_CIPHER_SERVER_PREFERENCE;
static inline long shim_SSL_CTX_set_session_cache_mode(SSL_CTX *c, long m) { return SSL_CTX_set_session_cache_mode(c, m); }
static const long shim_SSL_SESS_CACHE_OFF = SSL_SESS_CACHE_OFF;
static inline long shim_SSL_CTX_add_extra_chain_cert(SSL_CTX *c, X509 *x) { return SSL_CTX_add_extra_chain_cert(c, x); }
static const int shim_NID_organizationalUnitName = NID_organizationalUnitName;
static inline const char *shim_SSL_get_version(const SSL *s) { return SSL_get_version(s); }
/* 1 when the certificate's certificatePolicies extension names `oid`, else 0 (OBJ_cmp: no text truncation). */
static inline int shim_X509_has_policy(X509 *x, const ASN1_OBJECT *oid) {
    CERTIFICATEPOLICIES *policies = X509_get_ext_d2i(x, NID_certificate_policies, NULL, NULL);
    if (policies == NULL) return 0;
    int found = 0;
    for (int i = 0; i < sk_POLICYINFO_num(policies) && !found; i++) {
        POLICYINFO *info = sk_POLICYINFO_value(policies, i);
        if (OBJ_cmp(info->policyid, oid) == 0) found = 1;
    }
    CERTIFICATEPOLICIES_free(policies);
    return found;
}
static const uint32_t shim_EXFLAG_SI = EXFLAG_SI;
#endif
