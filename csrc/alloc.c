/* The kernels' allocator: 64-byte aligned blocks, with the bytes in use and
 * their high-water mark counted, so the workspace of a call can be reported
 * (benchmarks read the peak per call). */
#include <stdlib.h>
#include "internal.h"

static int64_t mem_in_use = 0, mem_peak = 0;
#define FC_HEADER 64   /* each block keeps its size and capacity in a header of one alignment unit */

/* Freed blocks of at least FC_KEEP_MIN bytes are kept for the next call (up to
 * FC_KEEP_MAX bytes in FC_KEEP_SLOTS blocks): a fresh block's pages fault and
 * are zeroed by the kernel on first touch, about 1 ms per 10 MB (Winograd's
 * transformed kernels, dx's flipped kernels, a training step's workspace: a
 * 32x4x4x512 3x3 conv2d_backward spent a third of its time there).  Lock
 * free: a slot's block is taken by an atomic exchange, so a block is never
 * read by two threads, and a fork finds no lock held. */
#define FC_KEEP_MIN ((int64_t)128 << 10)   /* glibc's default mmap threshold */
#define FC_KEEP_MAX ((int64_t)64 << 20)
#define FC_KEEP_SLOTS 16
static char *kept[FC_KEEP_SLOTS];
static int64_t kept_bytes = 0;

static int64_t capacity(const char *block) { return ((const int64_t *)block)[1]; }

/* A kept block of capacity at least bytes (and at most twice that), or NULL. */
static char *take_kept(int64_t bytes) {
    for (int i = 0; i < FC_KEEP_SLOTS; i++) {
        if (!__atomic_load_n(&kept[i], __ATOMIC_ACQUIRE)) continue;
        char *block = __atomic_exchange_n(&kept[i], NULL, __ATOMIC_ACQ_REL);
        if (!block) continue;
        const int64_t cap = capacity(block);
        if (cap >= bytes && cap <= 2 * bytes) {
            __atomic_sub_fetch(&kept_bytes, cap, __ATOMIC_RELAXED);
            return block;
        }
        char *none = NULL;   /* not this one: back to its slot, or freed if taken */
        if (!__atomic_compare_exchange_n(&kept[i], &none, block, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_RELAXED)) {   /* refilled meanwhile */
            __atomic_sub_fetch(&kept_bytes, cap, __ATOMIC_RELAXED);
            free(block);
        }
    }
    return NULL;
}

/* Frees the block of slot i (if any); returns its capacity. */
static int64_t drop_kept(int i) {
    char *old = __atomic_exchange_n(&kept[i], NULL, __ATOMIC_ACQ_REL);
    if (!old) return 0;
    const int64_t cap = capacity(old);
    __atomic_sub_fetch(&kept_bytes, cap, __ATOMIC_RELAXED);
    free(old);
    return cap;
}

/* Keeps a freed block in the next slot round the ring (the most recently
 * freed blocks are the ones a repeated call asks for next), dropping the
 * slot's old block, and others while the kept bytes pass FC_KEEP_MAX. */
static void keep_or_free(char *block) {
    static int next_slot = 0;
    const int64_t cap = capacity(block);
    if (cap < FC_KEEP_MIN || cap > FC_KEEP_MAX) {
        free(block);
        return;
    }
    const int i = (int)((unsigned)__atomic_fetch_add(&next_slot, 1, __ATOMIC_RELAXED) % FC_KEEP_SLOTS);
    drop_kept(i);
    __atomic_add_fetch(&kept_bytes, cap, __ATOMIC_RELAXED);
    char *none = NULL;
    if (!__atomic_compare_exchange_n(&kept[i], &none, block, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED)) {   /* refilled meanwhile */
        __atomic_sub_fetch(&kept_bytes, cap, __ATOMIC_RELAXED);
        free(block);
        return;
    }
    for (int j = 1; j < FC_KEEP_SLOTS && __atomic_load_n(&kept_bytes, __ATOMIC_RELAXED) > FC_KEEP_MAX; j++)
        drop_kept((i + j) % FC_KEEP_SLOTS);
}

void *fc_alloc(int64_t count, int64_t size) {
    if (count < 0 || size <= 0 || count > (INT64_MAX - 2 * FC_HEADER) / size) return NULL;
    size_t bytes = (size_t)(count * size);
    bytes = (bytes + 63) & ~(size_t)63; /* aligned_alloc wants a multiple of the alignment */
    char *block = (int64_t)bytes >= FC_KEEP_MIN ? take_kept((int64_t)bytes) : NULL;
    if (!block) {
        block = aligned_alloc(64, bytes + FC_HEADER);
        if (!block) return NULL;
        ((int64_t *)block)[1] = (int64_t)bytes;
    }
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
    keep_or_free(block);
}

int64_t fc_workspace_kept(void) { return __atomic_load_n(&kept_bytes, __ATOMIC_RELAXED); }

int64_t fc_workspace_release(void) {
    int64_t released = 0;
    for (int i = 0; i < FC_KEEP_SLOTS; i++) released += drop_kept(i);
    return released;
}

int64_t fc_workspace_in_use(void) { return __atomic_load_n(&mem_in_use, __ATOMIC_RELAXED); }

int64_t fc_workspace_peak(void) { return __atomic_load_n(&mem_peak, __ATOMIC_RELAXED); }

void fc_workspace_reset_peak(void) {
    __atomic_store_n(&mem_peak, fc_workspace_in_use(), __ATOMIC_RELAXED);
}
