/*
 * Little-endian byte helpers shared by the image readers, the DfuSe commands and the
 * simulator. Internal: not installed.
 */
#ifndef DFU_BYTES_H
#define DFU_BYTES_H

#include <stdint.h>

static inline uint32_t dfui_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint16_t dfui_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline void dfui_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

#endif
