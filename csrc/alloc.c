/* The kernels' allocator: 64-byte aligned blocks, with the bytes in use and
 * their high-water mark counted, so the workspace of a call can be reported
 * (benchmarks read the peak per call). */
#include <stdlib.h>
#include "internal.h"

static int64_t mem_in_use = 0, mem_peak = 0;
#define FC_HEADER 64   /* each block keeps its size in a header of one alignment unit */

void *fc_alloc(int64_t count, int64_t size) {
    if (count < 0 || size <= 0 || count > (INT64_MAX - 2 * FC_HEADER) / size) return NULL;
    size_t bytes = (size_t)(count * size);
    bytes = (bytes + 63) & ~(size_t)63; /* aligned_alloc wants a multiple of the alignment */
    char *block = aligned_alloc(64, bytes + FC_HEADER);
    if (!block) return NULL;
    *(int64_t *)block = (int64_t)bytes;
    const int64_t now = __atomic_add_fetch(&mem_in_use, (int64_t)bytes, __ATOMIC_RELAXED);
    int64_t peak = __atomic_load_n(&mem_peak, __ATOMIC_RELAXED);
    while (now > peak &&
           !__atomic_compare_exchange_n(&mem_peak, &peak, now, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return block + FC_HEADER;
}

void fc_free(void *p) {
    if (!p) return;
    char *block = (char *)p - FC_HEADER;
    __atomic_sub_fetch(&mem_in_use, *(int64_t *)block, __ATOMIC_RELAXED);
    free(block);
}

int64_t fc_workspace_in_use(void) { return __atomic_load_n(&mem_in_use, __ATOMIC_RELAXED); }

int64_t fc_workspace_peak(void) { return __atomic_load_n(&mem_peak, __ATOMIC_RELAXED); }

void fc_workspace_reset_peak(void) {
    __atomic_store_n(&mem_peak, fc_workspace_in_use(), __ATOMIC_RELAXED);
}
