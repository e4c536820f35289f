/* SPDX-License-Identifier: MIT */
#ifndef VH_SHA256_H
#define VH_SHA256_H

#include <stddef.h>

#define SHA256_HEX_LEN 65 /* 64 hex digits and a NUL */

/* FIPS 180-4 SHA-256 of LEN bytes at DATA, as lowercase hex (sha256sum's form). */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN]);

#endif
