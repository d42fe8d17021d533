/* The kernels' allocator: 64-byte aligned blocks, with the bytes in use and
 * their high-water mark counted, so the workspace of a call can be reported
 * (benchmarks read the peak per call). */
#include <stdlib.h>
#include "internal.h"

static int64_t mem_in_use = 0, mem_peak = 0;
#define FC_HEADER 64   /* each block keeps its size and capacity in a header of one alignment unit */

/* Freed blocks of at least FC_KEEP_MIN bytes are kept for the next call (up to
 * a pool's max_bytes in its first `slots` slots): a fresh block's pages fault
 * and are zeroed by the kernel on first touch, about 1 ms per 10 MB
 * (Winograd's transformed kernels, dx's flipped kernels, a training step's
 * workspace: a 32x4x4x512 3x3 conv2d_backward spent a third of its time
 * there).  Lock free: a slot's block is taken by an atomic exchange, so a
 * block is never read by two threads, and a fork finds no lock held.  Two
 * pools: the kernels' workspace, and the NumPy arrays of a training step
 * (fc_array_alloc: LeNet-5's step at batch 64 took 620 page faults, a fifth
 * of its time). */
#define FC_KEEP_MIN ((int64_t)128 << 10)   /* glibc's default mmap threshold */
#define FC_KEEP_SLOTS_MAX 64
typedef struct {
    char *kept[FC_KEEP_SLOTS_MAX];
    int slots, next_slot;
    int64_t kept_bytes, max_bytes;
} keep_pool;
static keep_pool workspace_pool = {{0}, 16, 0, 0, (int64_t)64 << 20};
static keep_pool array_pool = {{0}, FC_KEEP_SLOTS_MAX, 0, 0, (int64_t)256 << 20};

static int64_t capacity(const char *block) { return ((const int64_t *)block)[1]; }

/* A kept block of capacity at least bytes (and at most twice that), or NULL. */
static char *take_kept(keep_pool *pool, int64_t bytes) {
    for (int i = 0; i < pool->slots; i++) {
        if (!__atomic_load_n(&pool->kept[i], __ATOMIC_ACQUIRE)) continue;
        char *block = __atomic_exchange_n(&pool->kept[i], NULL, __ATOMIC_ACQ_REL);
        if (!block) continue;
        const int64_t cap = capacity(block);
        if (cap >= bytes && cap <= 2 * bytes) {
            __atomic_sub_fetch(&pool->kept_bytes, cap, __ATOMIC_RELAXED);
            return block;
        }
        char *none = NULL;   /* not this one: back to its slot, or freed if taken */
        if (!__atomic_compare_exchange_n(&pool->kept[i], &none, block, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_RELAXED)) {   /* refilled meanwhile */
            __atomic_sub_fetch(&pool->kept_bytes, cap, __ATOMIC_RELAXED);
            free(block);
        }
    }
    return NULL;
}

/* Frees the block of slot i (if any); returns its capacity. */
static int64_t drop_kept(keep_pool *pool, int i) {
    char *old = __atomic_exchange_n(&pool->kept[i], NULL, __ATOMIC_ACQ_REL);
    if (!old) return 0;
    const int64_t cap = capacity(old);
    __atomic_sub_fetch(&pool->kept_bytes, cap, __ATOMIC_RELAXED);
    free(old);
    return cap;
}

/* Keeps a freed block in the next slot round the ring (the most recently
 * freed blocks are the ones a repeated call asks for next), dropping the
 * slot's old block, and others while the kept bytes pass max_bytes. */
static void keep_or_free(keep_pool *pool, char *block) {
    const int64_t cap = capacity(block);
    if (cap < FC_KEEP_MIN || cap > pool->max_bytes) {
        free(block);
        return;
    }
    const int i = (int)((unsigned)__atomic_fetch_add(&pool->next_slot, 1, __ATOMIC_RELAXED) %
                        (unsigned)pool->slots);
    drop_kept(pool, i);
    __atomic_add_fetch(&pool->kept_bytes, cap, __ATOMIC_RELAXED);
    char *none = NULL;
    if (!__atomic_compare_exchange_n(&pool->kept[i], &none, block, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED)) {   /* refilled meanwhile */
        __atomic_sub_fetch(&pool->kept_bytes, cap, __ATOMIC_RELAXED);
        free(block);
        return;
    }
    for (int j = 1; j < pool->slots &&
                    __atomic_load_n(&pool->kept_bytes, __ATOMIC_RELAXED) > pool->max_bytes; j++)
        drop_kept(pool, (i + j) % pool->slots);
}

static int64_t release_pool(keep_pool *pool) {
    int64_t released = 0;
    for (int i = 0; i < pool->slots; i++) released += drop_kept(pool, i);
    return released;
}

/* A block of bytes (a multiple of 64) from pool, or NULL; its header holds
 * the bytes asked for and the capacity. */
static char *pool_block(keep_pool *pool, size_t bytes) {
    char *block = (int64_t)bytes >= FC_KEEP_MIN ? take_kept(pool, (int64_t)bytes) : NULL;
    if (!block) {
        block = aligned_alloc(64, bytes + FC_HEADER);
        if (!block) return NULL;
        ((int64_t *)block)[1] = (int64_t)bytes;
    }
    *(int64_t *)block = (int64_t)bytes;
    return block;
}

void *fc_alloc(int64_t count, int64_t size) {
    if (count < 0 || size <= 0 || count > (INT64_MAX - 2 * FC_HEADER) / size) return NULL;
    size_t bytes = (size_t)(count * size);
    bytes = (bytes + 63) & ~(size_t)63; /* aligned_alloc wants a multiple of the alignment */
    char *block = pool_block(&workspace_pool, bytes);
    if (!block) return NULL;
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
    keep_or_free(&workspace_pool, block);
}

int64_t fc_workspace_kept(void) { return __atomic_load_n(&workspace_pool.kept_bytes, __ATOMIC_RELAXED); }

int64_t fc_workspace_release(void) { return release_pool(&workspace_pool); }

void *fc_array_alloc(size_t bytes) {
    if (bytes > (size_t)INT64_MAX - 2 * FC_HEADER - 63) return NULL;
    bytes = (bytes + 63) & ~(size_t)63;
    char *block = pool_block(&array_pool, bytes ? bytes : 64);
    return block ? block + FC_HEADER : NULL;
}

size_t fc_array_size(const void *p) { return (size_t)*(const int64_t *)((const char *)p - FC_HEADER); }

void fc_array_free(void *p) {
    if (p) keep_or_free(&array_pool, (char *)p - FC_HEADER);
}

int64_t fc_array_kept(void) { return __atomic_load_n(&array_pool.kept_bytes, __ATOMIC_RELAXED); }

int64_t fc_array_release(void) { return release_pool(&array_pool); }

int64_t fc_workspace_in_use(void) { return __atomic_load_n(&mem_in_use, __ATOMIC_RELAXED); }

int64_t fc_workspace_peak(void) { return __atomic_load_n(&mem_peak, __ATOMIC_RELAXED); }

void fc_workspace_reset_peak(void) {
    __atomic_store_n(&mem_peak, fc_workspace_in_use(), __ATOMIC_RELAXED);
}
