/*
 * identity: this device's static X25519 key (DB/device.key: 32-byte secret
 * key then 32-byte public key, mode 0600) and the `.devices` member records
 * (DESIGN §4): .devices/<devid> = {"name", "public_key" (hex), "priority"},
 * where devid = change_devid(origin) and origin is the first 8 bytes,
 * big-endian, of BLAKE2b-256(public key).
 *
 * Secret keys are written into caller-provided buffers (the caller keeps
 * them in sodium_malloc'd memory and wipes them).
 */
#ifndef NET_IDENTITY_H
#define NET_IDENTITY_H

#include <stdint.h>

struct journal;

/* The origin (device id) of public key pub. */
uint64_t identity_origin(const uint8_t pub[32]);

/* Reads DB/device.key.  0, or -1 with errno. */
int identity_load(const char *db, uint8_t priv[32], uint8_t pub[32]);

/* Writes .devices/<devid of pub> for a device.  0, or -1 with errno. */
int identity_register(struct journal *j, const uint8_t pub[32], const char *name,
                      long long priority);

/* Writes this device's own record (name from meta "name"), sealed with
 * DB/content.key.  For init (and invite, if init did not). */
int identity_register_self(struct journal *j, const char *db, long long priority);

/* Journal meta key: the public key of the device a join went through, a
 * member before its .devices record has synced. */
#define IDENTITY_INTRODUCER_META "introducer"

/* 1 if pub is listed in .devices under its own devid, 0 if not, -1 on error. */
int identity_is_member(struct journal *j, const uint8_t pub[32]);

#endif
