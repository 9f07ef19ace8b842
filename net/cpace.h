/*
 * cpace: the CPace balanced PAKE over ristretto255 with SHA-512, as the
 * CFRG draft (draft-irtf-cfrg-cpace) defines it; tests/vectors/
 * cpace-ristretto255.json are its vectors and tests/unit/net_cpace.c
 * reproduces each one.  Two parties sharing a low-entropy password (PRS)
 * each send one share Y; both then hold the same intermediate session key
 * (ISK) only if their passwords matched.  An active attacker learns nothing
 * but whether its one guess per run was right.
 *
 *   g   = ristretto255 from_hash(SHA-512(lv_cat(DSI, PRS, zpad, CI, sid)))
 *   Y   = y * g                      (y a random scalar)
 *   K   = y * Y_other                (refused if Y_other is not a point or K
 *                                     is the identity)
 *   ISK = SHA-512(lv_cat(DSI "_ISK", sid, K) || transcript)
 *
 * transcript is lv_cat(Ya, ADa) || lv_cat(Yb, ADb) for an initiator and a
 * responder (_ir), or "oc" and the two in byte order for symmetric parties
 * (_oc).  blazefs uses the initiator-responder form.
 */
#ifndef NET_CPACE_H
#define NET_CPACE_H

#include <stddef.h>
#include <stdint.h>

#define CPACE_POINT 32  /* a share, the generator, K */
#define CPACE_SCALAR 32 /* a party's secret y */
#define CPACE_ISK 64    /* SHA-512 output */

/* The generator for password prs, channel identifier ci and session id sid
 * (any may be empty).  0, or -1 if the hash gave the identity (never in
 * practice). */
int cpace_generator(uint8_t g[CPACE_POINT], const uint8_t *prs, size_t prslen, const uint8_t *ci,
                    size_t cilen, const uint8_t *sid, size_t sidlen);

/* A fresh secret scalar y and its share Y = y * g.  0, or -1. */
int cpace_share(uint8_t y[CPACE_SCALAR], uint8_t Y[CPACE_POINT], const uint8_t g[CPACE_POINT]);

/* Y = y * g for a given y (the vectors' fixed scalars).  0, or -1. */
int cpace_share_from(const uint8_t y[CPACE_SCALAR], uint8_t Y[CPACE_POINT],
                     const uint8_t g[CPACE_POINT]);

/* K = y * Yo, the draft's scalar_mult_vfy: -1 with errno EBADMSG if Yo is not
 * a canonical ristretto255 encoding or K is the identity. */
int cpace_key(uint8_t K[CPACE_POINT], const uint8_t y[CPACE_SCALAR], const uint8_t Yo[CPACE_POINT]);

/* The ISK in initiator-responder order (Ya and ADa the initiator's). */
void cpace_isk_ir(uint8_t isk[CPACE_ISK], const uint8_t *sid, size_t sidlen,
                  const uint8_t K[CPACE_POINT], const uint8_t Ya[CPACE_POINT], const uint8_t *ada,
                  size_t adalen, const uint8_t Yb[CPACE_POINT], const uint8_t *adb, size_t adblen);

/* The ISK for symmetric parties: the two (Y, AD) pairs in byte order. */
void cpace_isk_oc(uint8_t isk[CPACE_ISK], const uint8_t *sid, size_t sidlen,
                  const uint8_t K[CPACE_POINT], const uint8_t Ya[CPACE_POINT], const uint8_t *ada,
                  size_t adalen, const uint8_t Yb[CPACE_POINT], const uint8_t *adb, size_t adblen);

/* The session id output (SHA-512("CPaceSidOutput" || transcript)) a caller
 * without a pre-agreed sid may use; oc selects the symmetric transcript. */
void cpace_sid_output(uint8_t out[CPACE_ISK], int oc, const uint8_t Ya[CPACE_POINT],
                      const uint8_t *ada, size_t adalen, const uint8_t Yb[CPACE_POINT],
                      const uint8_t *adb, size_t adblen);

#endif
