/*
 * Memory for large image buffers allocated at their full size (a segment read from an ELF
 * file, a file read whole, a copied or merged segment). Such a buffer is filled page by page as
 * it is written; with 4 KiB pages that is thousands of page faults, which cost more than the
 * copying itself. Where the system has transparent huge pages on request (Linux, madvise), a
 * large buffer is aligned to 2 MiB and marked for them, so that 32 MiB take a few dozen faults.
 * Elsewhere this is plain malloc().
 *
 * Buffers that grow (a segment that records are appended to) are not marked: realloc() moves a
 * large block with mremap() to an address that is not 2 MiB aligned, and the system then has to
 * split every huge page in it again.
 */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* madvise() and MADV_HUGEPAGE */
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <stdint.h>
#include <stdlib.h>

#include "img_internal.h"

#define HUGE_PAGE ((size_t)2 << 20)

void *dfui_alloc(size_t len)
{
#if defined(MADV_HUGEPAGE)
    if (len >= DFUI_LARGE) {
        void *p;
        if (posix_memalign(&p, HUGE_PAGE, len) != 0)
            return NULL;
        /* Only a hint: if it is refused, the buffer is used as it is. */
        (void)madvise(p, len & ~(size_t)4095, MADV_HUGEPAGE);
        return p;
    }
#endif
    return malloc(len);
}
