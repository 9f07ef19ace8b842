/*
 * bytes: big-endian integers in byte arrays, the one encoding of every
 * on-disk and on-wire integer in blazefs.  Header only (static inline); the
 * caller owns the buffers and has checked their length.
 */
#ifndef BLAZEFS_BYTES_H
#define BLAZEFS_BYTES_H

#include <stdint.h>

/* Writes v as 8 big-endian bytes at p. */
static inline void
be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Reads 8 big-endian bytes at p. */
static inline uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Writes v as 4 big-endian bytes at p. */
static inline void
be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Reads 4 big-endian bytes at p. */
static inline uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes v as 2 big-endian bytes at p. */
static inline void
be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Reads 2 big-endian bytes at p. */
static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

#endif
