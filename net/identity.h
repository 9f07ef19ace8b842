/*
 * identity: this device's keys and the `.devices` member records (DESIGN §4).
 *   DB/device.key  the static X25519 key: 32-byte secret then 32-byte public
 *                  key; the device id is journal_key_origin(public key)
 *   DB/sign.key    the Ed25519 key that signs every change this device makes
 *                  (libsodium's 64-byte secret key, which ends with the public)
 * both mode 0600.  .devices/<devid> = {"name", "public_key" (X25519, hex),
 * "sign_key" (Ed25519, hex), "priority", "role" ("admin" or "member"),
 * ["removed": true]}, written by an admin (core/journal.h: trust).
 *
 * Secret keys are written into caller-provided buffers (the caller keeps
 * them in sodium_malloc'd memory and wipes them).
 */
#ifndef NET_IDENTITY_H
#define NET_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

struct journal;

/* Reads DB/device.key.  0, or -1 with errno. */
int identity_load(const char *db, uint8_t priv[32], uint8_t pub[32]);

/* Reads DB/sign.key.  0, or -1 with errno. */
int identity_sign_load(const char *db, uint8_t sk[64]);

/* Writes secret file DB/name (new, mode 0600, synced).  0, or -1 with errno. */
int identity_write_secret(const char *db, const char *name, const uint8_t *buf, size_t n);

/* A new device's keys, written to DB/device.key and DB/sign.key (which must
 * not exist); the public halves in box_pub and sign_pub.  0 or -1. */
int identity_create(const char *db, uint8_t box_pub[32], uint8_t sign_pub[32]);

/* What an admin states about a device when it adds it. */
struct identity_device {
	uint8_t box_pub[32], sign_pub[32];
	const char *name;
	long long priority;
	int admin;
};

/* Priorities an admin may give (a bound, so no device outranks by overflow). */
#define IDENTITY_PRIORITY_MAX 1000000

/* Writes .devices/<devid> for a device this (admin) device adds.  0, or -1
 * with errno (EPERM: this device is not an admin). */
int identity_register(struct journal *j, const struct identity_device *d);

/*
 * Makes this device the root of a new database: sets the journal's trust
 * root and writes its own record (name from meta "name"), sealed and signed
 * with the keys in db.  For init.  0 or -1.
 */
int identity_found(struct journal *j, const char *db, long long priority);

/* Journal meta key: the public key of the device a join went through, a
 * member before its .devices record has synced. */
#define IDENTITY_INTRODUCER_META "introducer"

/* 1 if pub is the key of a member that is not removed (or of the device this
 * one joined through), 0 if not, -1 on error. */
int identity_is_member(struct journal *j, const uint8_t pub[32]);

#endif
