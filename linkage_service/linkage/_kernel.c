/*
 * vinculo candidate kernel: Hamming-LSH bucketing, pair generation under the per-record
 * budget, and Dice, over CLKs held as (n, bytes) uint8 rows (bits big-endian in a byte).
 *
 * Same result as the NumPy path of linkage_service/linkage/blocking.py (tests pin it): the
 * distinct pairs that share all sampled bits of at least one band (buckets larger than
 * max_bucket skipped; with `involve`, only pairs touching an involved record), with Dice
 * >= min_dice, each kept when its Dice rank floor(dice * 2^26) is at least the budget-th
 * best rank of its left or of its right record (ties kept; fewer pairs: all kept).
 *
 * How: bands are processed in groups that fit a memory budget. For a group, every record's
 * key in each band is computed (records in cache-sized blocks, task_keys; keys are 32-bit in
 * the build with VK_KEY32, used for bands of k <= 32 bits, else 64-bit); then the bands
 * run in parallel (task_band): each radix-sorts its keys into buckets and checks the pairs
 * of every bucket of 2..max_bucket records (with `involve`, only pairs touching an involved
 * record) in prefetched batches, keeping in its thread's buffer each pair at or above the
 * floor whose Dice rank is at least the current budget-th best of one of its records (once
 * per such record). After the group, the found pairs are counted into owner order and
 * merged into each record's partner list, each distinct partner once (a stamp array), and
 * each list is pruned to its budget-th best rank (that floor only rises, so a dropped pair
 * never comes back). When the involved records are under an eighth of all, an incremental
 * band keeps only the records whose key is an involved record's (an L1 bitmap filter, then a
 * small hash table) and orders those by counting sort, instead of sorting all. Dice
 * popcounts use AVX-512 VPOPCNTQ, AVX2 (nibble lookup) or POPCNT when the CPU has them
 * (runtime dispatch), a portable SWAR count if not.
 *
 * Built by linkage_service/linkage/kernel.py with the system C compiler (cc -O3 -shared
 * -fPIC -pthread); loaded with ctypes. No Python headers needed.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define VK_X86 1
#include <immintrin.h>
#endif

/* Band keys: 32 bits when the kernel is built with VK_KEY32 (kernel.py builds both and uses it
 * for bands of k <= 32 bits: half the memory traffic of writing and reading the keys), else 64. */
#ifdef VK_KEY32
typedef uint32_t vkey;
#define VK_KEY_BITS 32
#else
typedef uint64_t vkey;
#define VK_KEY_BITS 64
#endif

int vk_key_bits(void) { return VK_KEY_BITS; }

#define RANK_SCALE 67108864.0 /* 2^26, as blocking._RANK_BITS */

/* ---------------------------------------------------------------- popcount of a AND b */

typedef uint32_t (*and_pc_fn)(const uint64_t *, const uint64_t *, int);

static inline __attribute__((always_inline)) uint32_t pc_portable(const uint64_t *a, const uint64_t *b, int words) {
    uint32_t total = 0;
    for (int w = 0; w < words; w++) {
        uint64_t x = a[w] & b[w];
        x = x - ((x >> 1) & 0x5555555555555555ULL);
        x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
        x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
        total += (uint32_t)((x * 0x0101010101010101ULL) >> 56);
    }
    return total;
}

#ifdef VK_X86
__attribute__((target("popcnt"), always_inline)) static inline uint32_t pc_popcnt(
    const uint64_t *a, const uint64_t *b, int words) {
    uint64_t total = 0;
    for (int w = 0; w < words; w++) total += (uint64_t)__builtin_popcountll(a[w] & b[w]);
    return (uint32_t)total;
}

__attribute__((target("avx2"), always_inline)) static inline uint32_t pc_avx2(
    const uint64_t *a, const uint64_t *b, int words) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                         2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0F);
    __m256i acc = _mm256_setzero_si256();
    int w = 0;
    for (; w + 4 <= words; w += 4) {
        __m256i x = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(a + w)),
                                     _mm256_loadu_si256((const __m256i *)(b + w)));
        __m256i c = _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(x, low)),
                                    _mm256_shuffle_epi8(lut, _mm256_and_si256(
                                                                 _mm256_srli_epi16(x, 4), low)));
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(c, _mm256_setzero_si256()));
    }
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, acc);
    uint32_t total = (uint32_t)(lanes[0] + lanes[1] + lanes[2] + lanes[3]);
    if (w < words) total += pc_portable(a + w, b + w, words - w);
    return total;
}

__attribute__((target("avx512f,avx512vpopcntdq"), always_inline)) static inline uint32_t
pc_avx512(const uint64_t *a, const uint64_t *b, int words) {
    __m512i acc = _mm512_setzero_si512();
    int w = 0;
    for (; w + 8 <= words; w += 8) {
        __m512i x = _mm512_and_si512(_mm512_loadu_si512((const void *)(a + w)),
                                     _mm512_loadu_si512((const void *)(b + w)));
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
    }
    uint32_t total = (uint32_t)_mm512_reduce_add_epi64(acc);
    if (w < words) total += pc_portable(a + w, b + w, words - w);
    return total;
}
#endif

static uint32_t and_pc_portable(const uint64_t *a, const uint64_t *b, int words) {
    return pc_portable(a, b, words);
}
#ifdef VK_X86
__attribute__((target("popcnt"))) static uint32_t and_pc_popcnt(const uint64_t *a,
                                                                const uint64_t *b, int words) {
    return pc_popcnt(a, b, words);
}
__attribute__((target("avx2"))) static uint32_t and_pc_avx2(const uint64_t *a, const uint64_t *b,
                                                            int words) {
    return pc_avx2(a, b, words);
}
__attribute__((target("avx512f,avx512vpopcntdq"))) static uint32_t and_pc_avx512(
    const uint64_t *a, const uint64_t *b, int words) {
    return pc_avx512(a, b, words);
}
#endif

/* Levels: 0 portable, 1 popcnt, 2 avx2, 3 avx512. */
int vk_simd_supported(void) {
#ifdef VK_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq")) return 3;
    if (__builtin_cpu_supports("avx2")) return 2;
    if (__builtin_cpu_supports("popcnt")) return 1;
#endif
    return 0;
}

static and_pc_fn pick(int level) {
    int best = vk_simd_supported();
    if (level < 0 || level > best) level = best;
#ifdef VK_X86
    if (level == 3) return and_pc_avx512;
    if (level == 2) return and_pc_avx2;
    if (level == 1) return and_pc_popcnt;
#endif
    return and_pc_portable;
}

static inline double dice_of(uint32_t both, uint32_t ca, uint32_t cb) {
    int64_t total = (int64_t)ca + (int64_t)cb;
    return total > 0 ? (2.0 * (double)both) / (double)total : 0.0;
}

/* ---------------------------------------------------------------- a tiny parallel-for */

typedef void (*task_fn)(void *ctx, int64_t item, int thread);

typedef struct {
    task_fn fn;
    void *ctx;
    int64_t items;
    int64_t next; /* shared counter, atomic */
} pool_shared;

typedef struct {
    pool_shared *shared;
    int thread;
} pool_arg;

static void *pool_worker(void *p) {
    pool_arg *arg = (pool_arg *)p;
    pool_shared *sh = arg->shared;
    for (;;) {
        int64_t item = __atomic_fetch_add(&sh->next, 1, __ATOMIC_RELAXED);
        if (item >= sh->items) break;
        sh->fn(sh->ctx, item, arg->thread);
    }
    return NULL;
}

/* Items 0..items-1 on `threads` threads (the caller is thread 0); each item runs once. */
static void parallel_for(int threads, int64_t items, task_fn fn, void *ctx) {
    pool_shared sh = {fn, ctx, items, 0};
    if (threads > 64) threads = 64;
    if (threads <= 1 || items <= 1) threads = 1;
    pthread_t tid[64];
    pool_arg args[64];
    int started = 1;
    for (int t = 0; t < threads; t++) {
        args[t].shared = &sh;
        args[t].thread = t;
    }
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tid[t], NULL, pool_worker, &args[t]) != 0) break;
        started = t + 1;
    }
    pool_worker(&args[0]);
    for (int t = 1; t < started; t++) pthread_join(tid[t], NULL);
}

/* ---------------------------------------------------------------- per-record partner lists */

typedef struct {
    int32_t *partner;
    int32_t *rank;
    int32_t len, cap;
    int32_t kth; /* budget-th best rank so far (-1 while fewer) */
} plist;

static int plist_push(plist *l, int32_t partner, int32_t rank) {
    if (l->len == l->cap) {
        int32_t cap = l->cap ? l->cap * 2 : 8;
        int32_t *p = (int32_t *)realloc(l->partner, sizeof(int32_t) * (size_t)cap);
        if (!p) return -1;
        l->partner = p;
        int32_t *r = (int32_t *)realloc(l->rank, sizeof(int32_t) * (size_t)cap);
        if (!r) return -1;
        l->rank = r;
        l->cap = cap;
    }
    l->partner[l->len] = partner;
    l->rank[l->len] = rank;
    l->len++;
    return 0;
}

static int cmp_desc_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x < y) - (x > y);
}

static int cmp_asc_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Raise kth to the budget-th best rank and drop entries below it. `scratch` holds len ints. */
static void plist_prune(plist *l, int budget, int32_t *scratch) {
    if (budget <= 0 || l->len < budget) return;
    memcpy(scratch, l->rank, sizeof(int32_t) * (size_t)l->len);
    qsort(scratch, (size_t)l->len, sizeof(int32_t), cmp_desc_i32);
    int32_t kth = scratch[budget - 1];
    if (kth > l->kth) l->kth = kth;
    int32_t out = 0;
    for (int32_t e = 0; e < l->len; e++) {
        if (l->rank[e] >= l->kth) {
            l->partner[out] = l->partner[e];
            l->rank[out] = l->rank[e];
            out++;
        }
    }
    l->len = out;
}

/* ---------------------------------------------------------------- the candidate job */

/* Pairs found in a group's bands with Dice >= the floor, once per direction: (owner,
 * partner, rank). A thread's buffer, grown as needed. */
typedef struct {
    int32_t *owner, *partner, *rank;
    int64_t len, cap;
} found;

static int found_push(found *f, int32_t owner, int32_t partner, int32_t rank) {
    if (f->len == f->cap) {
        int64_t cap = f->cap ? f->cap * 2 : 4096;
        int32_t *o = (int32_t *)realloc(f->owner, sizeof(int32_t) * (size_t)cap);
        if (!o) return -1;
        f->owner = o;
        int32_t *p = (int32_t *)realloc(f->partner, sizeof(int32_t) * (size_t)cap);
        if (!p) return -1;
        f->partner = p;
        int32_t *r = (int32_t *)realloc(f->rank, sizeof(int32_t) * (size_t)cap);
        if (!r) return -1;
        f->rank = r;
        f->cap = cap;
    }
    f->owner[f->len] = owner;
    f->partner[f->len] = partner;
    f->rank[f->len] = rank;
    f->len++;
    return 0;
}

typedef struct {
    /* inputs */
    const uint8_t *clks;
    int64_t n;
    int bytes, words;
    const int32_t *positions; /* bands x k */
    int bands, k;
    int64_t max_bucket;
    const uint8_t *involve; /* NULL: all */
    double min_dice;
    int budget; /* 0: none */
    int threads;
    and_pc_fn and_pc;
    int level;
    /* state */
    uint32_t *counts;
    plist *lists;
    int32_t *kth; /* each list's floor, compact (read by the band tasks) */
    int g_first, g_bands; /* current band group */
    vkey *keys;       /* g_bands x n */
    vkey *tmp_keys;   /* threads x n: radix scratch */
    int32_t *tmp_rows;    /* threads x 2n */
    found *found;         /* per thread */
    uint64_t **seen;      /* per thread: close pairs already checked (direct-mapped) */
    int seen_bits;        /* 2^seen_bits slots each */
    int32_t *inv_rows;    /* incremental: the involved records */
    int64_t inv_count;
    uint64_t **inv_table; /* per thread: the band's keys of involved records (open addressing),
                             then the bitmap filter (inv_fwords), then slot counts (slots + 2) */
    int64_t inv_mask;
    int64_t inv_fwords;
    int inv_fbits;
    int64_t *compared;    /* per band of the group */
    int64_t *skipped;
    /* the group's found pairs by owner (counting sort) */
    int64_t *start; /* n + 1 */
    int32_t *by_partner, *by_rank;
    int32_t **stamps;  /* threads x n */
    int32_t **scratch; /* threads x scratch_len */
    int64_t scratch_len;
    int failed;
} job;

#define KEY_BLOCK 256

/* Keys of a block of records for the group's bands. The block is first turned into byte
 * planes (plane[byte][record]), so each sampled bit of a band is one pass over contiguous
 * bytes that the compiler vectorizes, instead of a load per record and bit; the key is built
 * in byte lanes (eight of its bits per byte) and widened once at the end, not once per bit. */
static void task_keys(void *ctx, int64_t item, int thread) {
    (void)thread;
    job *J = (job *)ctx;
    int64_t lo = item * KEY_BLOCK, hi = lo + KEY_BLOCK;
    if (hi > J->n) hi = J->n;
    int m = (int)(hi - lo);
    uint8_t planes[128 * KEY_BLOCK];
    uint8_t part[8][KEY_BLOCK]; /* the key's bytes: bit j is bit j & 7 of part[j >> 3] */
    int nplanes = J->bytes < 128 ? J->bytes : 128;
    int nparts = (J->k + 7) / 8;
    if (m < KEY_BLOCK) memset(planes, 0, sizeof(planes));
    for (int i = 0; i < m; i++) {
        const uint8_t *row = J->clks + (size_t)(lo + i) * (size_t)J->bytes;
        for (int c = 0; c < nplanes; c++) planes[c * KEY_BLOCK + i] = row[c];
    }
    for (int b = 0; b < J->g_bands; b++) {
        const int32_t *pos = J->positions + (size_t)(J->g_first + b) * (size_t)J->k;
        vkey *out = J->keys + (size_t)b * (size_t)J->n + lo;
        memset(part, 0, (size_t)nparts * KEY_BLOCK);
        for (int j = 0; j < J->k; j++) {
            int p = pos[j];
            int shift = 7 - (p & 7);
            uint8_t *dst = part[j >> 3];
            int at = j & 7;
            if ((p >> 3) < nplanes) { /* byte lanes: one vector op covers 16-64 records */
                const uint8_t *plane = planes + (p >> 3) * KEY_BLOCK;
                for (int i = 0; i < KEY_BLOCK; i++)
                    dst[i] |= (uint8_t)(((plane[i] >> shift) & 1) << at);
            } else { /* CLKs wider than 1024 bits: read the rows */
                for (int i = 0; i < m; i++) {
                    const uint8_t *row = J->clks + (size_t)(lo + i) * (size_t)J->bytes;
                    dst[i] |= (uint8_t)(((row[p >> 3] >> shift) & 1) << at);
                }
            }
        }
        if (nparts <= 4) {
            uint32_t low[KEY_BLOCK];
            memset(low, 0, sizeof(low));
            for (int q = 0; q < nparts; q++)
                for (int i = 0; i < KEY_BLOCK; i++) low[i] |= (uint32_t)part[q][i] << (8 * q);
            for (int i = 0; i < m; i++) out[i] = low[i];
        } else {
            for (int i = 0; i < m; i++) {
                vkey key = 0;
                for (int q = 0; q < nparts; q++) key |= (vkey)part[q][i] << (8 * q);
                out[i] = key;
            }
        }
    }
}

static inline int32_t rank_of(double d) { return (int32_t)floor(d * RANK_SCALE); }

/* A band's pairs are checked in batches: the rows and floors of the pairs ahead are
 * prefetched, so the random row reads overlap instead of waiting one by one. */
#define BATCH 256
/* The seen cache: 2^bits slots per thread, bits = log2(n) + 2 within [16, 22] (512 KiB to
 * 32 MiB a thread). */
#define SEEN_MIN_BITS 16
#define SEEN_MAX_BITS 22
#define AHEAD 12

typedef struct {
    int32_t i[BATCH], j[BATCH];
    uint32_t h[BATCH];
    int len;
} batch;

static inline void prefetch_row(const job *J, int32_t r) {
    const uint8_t *row = J->clks + (size_t)r * (size_t)J->bytes;
    for (int off = 0; off < J->bytes; off += 64) __builtin_prefetch(row + off);
    __builtin_prefetch(J->kth + r);
}

#define DEFINE_FLUSH(NAME, ATTR, PC)                                                        \
    ATTR static int NAME(job *J, found *f, batch *bt, uint64_t *seen) {                    \
        const uint64_t *words = (const uint64_t *)J->clks;                                 \
        int m = bt->len;                                                                   \
        for (int q = 0; q < m && q < AHEAD; q++) {                                         \
            prefetch_row(J, bt->i[q]);                                                     \
            prefetch_row(J, bt->j[q]);                                                     \
        }                                                                                  \
        for (int q = 0; q < m && q < 2 * AHEAD; q++) __builtin_prefetch(seen + bt->h[q]);  \
        for (int q = 0; q < m; q++) {                                                      \
            if (q + 2 * AHEAD < m) __builtin_prefetch(seen + bt->h[q + 2 * AHEAD]);        \
            if (q + AHEAD < m) {                                                           \
                prefetch_row(J, bt->i[q + AHEAD]);                                         \
                prefetch_row(J, bt->j[q + AHEAD]);                                         \
            }                                                                              \
            int32_t i = bt->i[q], j = bt->j[q];                                            \
            uint64_t code = ((uint64_t)(uint32_t)i << 32) | (uint32_t)j;                   \
            if (seen[bt->h[q]] == code + 1) continue;                                      \
            uint32_t both = PC(words + (size_t)i * (size_t)J->words,                       \
                               words + (size_t)j * (size_t)J->words, J->words);            \
            double d = dice_of(both, J->counts[i], J->counts[j]);                          \
            if (!(d >= J->min_dice)) continue;                                             \
            seen[bt->h[q]] = code + 1;                                                     \
            int32_t r = rank_of(d);                                                        \
            if (r >= J->kth[i] && found_push(f, i, j, r)) return -1;                       \
            if (r >= J->kth[j] && found_push(f, j, i, r)) return -1;                       \
        }                                                                                  \
        bt->len = 0;                                                                       \
        return 0;                                                                          \
    }

DEFINE_FLUSH(flush_portable, , pc_portable)
#ifdef VK_X86
DEFINE_FLUSH(flush_popcnt, __attribute__((target("popcnt"))), pc_popcnt)
DEFINE_FLUSH(flush_avx2, __attribute__((target("avx2"))), pc_avx2)
DEFINE_FLUSH(flush_avx512, __attribute__((target("avx512f,avx512vpopcntdq"))), pc_avx512)
#endif

static int flush_batch(job *J, found *f, batch *bt, uint64_t *seen) {
#ifdef VK_X86
    if (J->level == 3) return flush_avx512(J, f, bt, seen);
    if (J->level == 2) return flush_avx2(J, f, bt, seen);
    if (J->level == 1) return flush_popcnt(J, f, bt, seen);
#endif
    return flush_portable(J, f, bt, seen);
}

/* A pair seen again (true matches share dozens of bands, near-identical ones all of them) is
 * skipped: checking a pair twice cannot change the result (a record's floor only rises), so a
 * lossy cache is enough. Only pairs at or above the Dice floor enter it: the others are mostly
 * strangers met once, and when every bucket pair entered, they evicted the close pairs within a
 * band (at 3 x 300k: 1,621 M Dice checks that way, 1,181 M this way, same pairs). */
static inline int consider(job *J, found *f, batch *bt, uint64_t *seen, int32_t i, int32_t j) {
    uint64_t code = ((uint64_t)(uint32_t)i << 32) | (uint32_t)j;
    bt->h[bt->len] = (uint32_t)((code * 0x9E3779B97F4A7C15ULL) >> (64 - J->seen_bits));
    bt->i[bt->len] = i;
    bt->j[bt->len] = j;
    if (++bt->len == BATCH) return flush_batch(J, f, bt, seen);
    return 0;
}

/* One band: sort its rows by key (stable LSD radix, 11-bit digits), then every pair of each
 * bucket of 2..max_bucket records (touching an involved record, with `involve`). */
static void scan_buckets(job *J, found *f, batch *bt, uint64_t *seen, const vkey *keys,
                         const int32_t *rows, int64_t n, int64_t *compared, int64_t *skipped);

/* Incremental band: no sort of all records. The involved records' keys go into a small
 * hash table (slot = the key's bucket id) and a bitmap filter that stays in L1; one pass over
 * all records tests the filter (a bit test per record), the table only when it passes, and
 * keeps the records whose key is in the table with their slot. Those are ordered by slot with
 * a counting sort (stable: rows ascending within a bucket). Same buckets (every bucket holding
 * an involved record, whole), same pairs; only the order in which buckets are visited
 * differs, which does not change the result. */
static void band_involved(job *J, int b, int thread) {
    int64_t n = J->n;
    const vkey *keys = J->keys + (size_t)b * (size_t)n;
    int64_t mask = J->inv_mask;
    int64_t slots = mask + 1;
    uint64_t *table = J->inv_table[thread];        /* slots: key + 1 (0 = empty) */
    uint64_t *filter = table + slots;              /* inv_fwords words */
    int64_t *count = (int64_t *)(filter + J->inv_fwords); /* slots + 2 */
    const int fshift = 64 - J->inv_fbits;
    const uint64_t FMUL = 0xC2B2AE3D27D4EB4FULL, TMUL = 0x9E3779B97F4A7C15ULL;
    memset(table, 0, sizeof(uint64_t) * (size_t)slots);
    memset(filter, 0, sizeof(uint64_t) * (size_t)J->inv_fwords);
    /* the all-ones key (k = 64) cannot be stored as key + 1: it takes slot `slots` */
    int ones_key = 0;
    for (int64_t q = 0; q < J->inv_count; q++) {
        uint64_t key = (uint64_t)keys[J->inv_rows[q]];
        uint64_t f = (key * FMUL) >> fshift;
        filter[f >> 6] |= 1ULL << (f & 63);
        if (key == UINT64_MAX) {
            ones_key = 1;
            continue;
        }
        uint64_t h = (key * TMUL) & (uint64_t)mask;
        while (table[h] && table[h] != key + 1) h = (h + 1) & (uint64_t)mask;
        table[h] = key + 1;
    }
    int32_t *hit_row = J->tmp_rows + (size_t)thread * 2 * (size_t)n;
    int32_t *hit_slot = hit_row + n;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t key = (uint64_t)keys[i];
        uint64_t f = (key * FMUL) >> fshift;
        if (!((filter[f >> 6] >> (f & 63)) & 1)) continue;
        int64_t slot = -1;
        if (key == UINT64_MAX) {
            if (ones_key) slot = slots;
        } else {
            uint64_t h = (key * TMUL) & (uint64_t)mask;
            while (table[h]) {
                if (table[h] == key + 1) {
                    slot = (int64_t)h;
                    break;
                }
                h = (h + 1) & (uint64_t)mask;
            }
        }
        if (slot >= 0) {
            hit_row[m] = (int32_t)i;
            hit_slot[m] = (int32_t)slot;
            m++;
        }
    }
    /* counting sort by slot */
    memset(count, 0, sizeof(int64_t) * (size_t)(slots + 2));
    for (int64_t q = 0; q < m; q++) count[hit_slot[q] + 1]++;
    for (int64_t s = 0; s <= slots; s++) count[s + 1] += count[s];
    vkey *sk = J->tmp_keys + (size_t)thread * 2 * (size_t)n; /* m slots */
    int32_t *rows = (int32_t *)(J->keys + (size_t)b * (size_t)n); /* this band's keys: done */
    for (int64_t q = 0; q < m; q++) {
        int64_t at = count[hit_slot[q]]++;
        rows[at] = hit_row[q];
        sk[at] = (vkey)hit_slot[q];
    }
    found *f = &J->found[thread];
    batch bt;
    bt.len = 0;
    int64_t compared = 0, skipped = 0;
    scan_buckets(J, f, &bt, J->seen[thread], sk, rows, m, &compared, &skipped);
    if (flush_batch(J, f, &bt, J->seen[thread])) J->failed = 1;
    J->compared[b] = compared;
    J->skipped[b] = skipped;
}

static void task_band(void *ctx, int64_t item, int thread) {
    job *J = (job *)ctx;
    int b = (int)item;
    int64_t n = J->n;
    if (J->involve && J->inv_table) {
        band_involved(J, b, thread);
        return;
    }
    vkey *keys = J->keys + (size_t)b * (size_t)n;
    vkey *tk = J->tmp_keys + (size_t)thread * 2 * (size_t)n;
    int32_t *order = J->tmp_rows + (size_t)thread * 2 * (size_t)n;
    int32_t *tr = order + n;
    found *f = &J->found[thread];
    batch bt;
    bt.len = 0;
    uint64_t *seen = J->seen[thread];
    vkey *src_k = keys, *dst_k = tk;
    int32_t *src_r = order, *dst_r = tr;
    for (int64_t i = 0; i < n; i++) order[i] = (int32_t)i;
    int64_t hist[2048];
    for (int shift = 0; shift < J->k; shift += 11) {
        memset(hist, 0, sizeof(hist));
        for (int64_t i = 0; i < n; i++) hist[(src_k[i] >> shift) & 2047]++;
        int64_t sum = 0;
        for (int d = 0; d < 2048; d++) {
            int64_t c = hist[d];
            hist[d] = sum;
            sum += c;
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t at = hist[(src_k[i] >> shift) & 2047]++;
            dst_k[at] = src_k[i];
            dst_r[at] = src_r[i];
        }
        vkey *sk = src_k;
        src_k = dst_k;
        dst_k = sk;
        int32_t *sr = src_r;
        src_r = dst_r;
        dst_r = sr;
    }
    const int32_t *rows = src_r;
    int64_t compared = 0, skipped = 0;
    scan_buckets(J, f, &bt, seen, src_k, rows, n, &compared, &skipped);
    if (flush_batch(J, f, &bt, seen)) J->failed = 1;
    J->compared[b] = compared;
    J->skipped[b] = skipped;
}

/* Every bucket of rows sorted by key: pairs of buckets of 2..max_bucket records (touching an
 * involved record, with `involve`); larger buckets holding an involved record (or any, in a
 * full run) are counted as skipped. */
static void scan_buckets(job *J, found *f, batch *bt, uint64_t *seen, const vkey *keys,
                         const int32_t *rows, int64_t n, int64_t *compared, int64_t *skipped) {
    int64_t s = 0;
    while (s < n) {
        int64_t e = s + 1;
        while (e < n && keys[e] == keys[s]) e++;
        int64_t size = e - s;
        if (size > J->max_bucket) {
            int hit = !J->involve;
            for (int64_t p = s; !hit && p < e; p++) hit = J->involve[rows[p]] != 0;
            if (hit) *skipped += size;
        } else if (size >= 2 && !J->involve) {
            *compared += size * (size - 1) / 2;
            for (int64_t p = s; p < e; p++)
                for (int64_t q = p + 1; q < e; q++)
                    if (consider(J, f, bt, seen, rows[p], rows[q])) J->failed = 1;
        } else if (size >= 2) {
            for (int64_t p = s; p < e; p++) {
                int32_t i = rows[p];
                if (!J->involve[i]) continue;
                for (int64_t q = s; q < e; q++) {
                    int32_t j = rows[q];
                    if (q == p || (J->involve[j] && q < p)) continue;
                    (*compared)++;
                    if (consider(J, f, bt, seen, i < j ? i : j, i < j ? j : i)) J->failed = 1;
                }
            }
        }
        s = e;
    }
}

/* Records [lo, hi): merge the group's distinct found partners into each record's list. */
#define OWN_BLOCK 1024

static void task_merge(void *ctx, int64_t item, int thread) {
    job *J = (job *)ctx;
    int32_t *stamp = J->stamps[thread];
    int32_t *scr = J->scratch[thread];
    int64_t lo = item * OWN_BLOCK, hi = lo + OWN_BLOCK;
    if (hi > J->n) hi = J->n;
    for (int64_t i = lo; i < hi; i++) {
        int64_t s = J->start[i], e = J->start[i + 1];
        if (s == e) continue;
        plist *l = &J->lists[i];
        int32_t mark = (int32_t)i;
        for (int32_t q = 0; q < l->len; q++) stamp[l->partner[q]] = mark;
        int added = 0;
        for (int64_t q = s; q < e; q++) {
            int32_t j = J->by_partner[q];
            if (stamp[j] == mark) continue;
            stamp[j] = mark;
            if (J->by_rank[q] < l->kth) continue;
            if (plist_push(l, j, J->by_rank[q])) {
                J->failed = 1;
                return;
            }
            added++;
        }
        if (added && J->budget && l->len >= J->budget) {
            if (l->len > J->scratch_len) { /* cannot happen: scratch sized for the group */
                J->failed = 1;
                return;
            }
            plist_prune(l, J->budget, scr);
            J->kth[i] = l->kth;
        }
    }
}

/* The buffers of the band loop (keys, sort scratch, found pairs, caches): freed before the
 * output is allocated, so the job's peak is the larger of the two phases, not their sum. */
static void free_band_buffers(job *J) {
    free(J->keys);
    free(J->tmp_keys);
    free(J->tmp_rows);
    J->keys = NULL;
    J->tmp_keys = NULL;
    J->tmp_rows = NULL;
    if (J->found) {
        for (int t = 0; t < J->threads; t++) {
            free(J->found[t].owner);
            free(J->found[t].partner);
            free(J->found[t].rank);
        }
    }
    free(J->found);
    J->found = NULL;
    if (J->seen)
        for (int t = 0; t < J->threads; t++) free(J->seen[t]);
    free(J->seen);
    J->seen = NULL;
    if (J->inv_table)
        for (int t = 0; t < J->threads; t++) free(J->inv_table[t]);
    free(J->inv_table);
    J->inv_table = NULL;
    if (J->stamps)
        for (int t = 0; t < J->threads; t++) free(J->stamps[t]);
    if (J->scratch)
        for (int t = 0; t < J->threads; t++) free(J->scratch[t]);
    free(J->stamps);
    free(J->scratch);
    J->stamps = NULL;
    J->scratch = NULL;
    free(J->by_partner);
    free(J->by_rank);
    J->by_partner = NULL;
    J->by_rank = NULL;
}

static void free_job(job *J) {
    free_band_buffers(J);
    if (J->lists) {
        for (int64_t i = 0; i < J->n; i++) {
            free(J->lists[i].partner);
            free(J->lists[i].rank);
        }
    }
    free(J->lists);
    free(J->kth);
    free(J->counts);
    free(J->inv_rows);
    free(J->compared);
    free(J->skipped);
    free(J->start);
}

/* The group's found pairs, counted into owner order (J->start, by_partner, by_rank). */
static int gather(job *J) {
    int64_t n = J->n, total = 0;
    for (int t = 0; t < J->threads; t++) total += J->found[t].len;
    free(J->by_partner);
    free(J->by_rank);
    J->by_partner = (int32_t *)malloc(sizeof(int32_t) * (size_t)(total ? total : 1));
    J->by_rank = (int32_t *)malloc(sizeof(int32_t) * (size_t)(total ? total : 1));
    if (!J->by_partner || !J->by_rank) return -1;
    memset(J->start, 0, sizeof(int64_t) * (size_t)(n + 1));
    for (int t = 0; t < J->threads; t++)
        for (int64_t q = 0; q < J->found[t].len; q++) J->start[J->found[t].owner[q] + 1]++;
    int64_t longest = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = J->start[i + 1] + J->lists[i].len;
        if (c > longest) longest = c;
        J->start[i + 1] += J->start[i];
    }
    if (longest > J->scratch_len) {
        for (int t = 0; t < J->threads; t++) {
            free(J->scratch[t]);
            J->scratch[t] = (int32_t *)malloc(sizeof(int32_t) * (size_t)longest);
            if (!J->scratch[t]) return -1;
        }
        J->scratch_len = longest;
    }
    /* stable scatter: a record's partners keep their found order */
    int64_t *at = J->start; /* advanced, then restored */
    for (int t = 0; t < J->threads; t++) {
        found *f = &J->found[t];
        for (int64_t q = 0; q < f->len; q++) {
            int64_t pos = at[f->owner[q]]++;
            J->by_partner[pos] = f->partner[q];
            J->by_rank[pos] = f->rank[q];
        }
        f->len = 0;
    }
    for (int64_t i = n; i > 0; i--) J->start[i] = J->start[i - 1];
    J->start[0] = 0;
    return 0;
}

/*
 * Returns the number of pairs (>= 0) or -1 (out of memory) / -2 (bad arguments). The pairs
 * are written to *out_left / *out_right (malloc'ed, sorted by (left, right), free with
 * vk_free); stats[0] = pairs compared (per band), stats[1] = record-band memberships
 * skipped, stats[2] = most partner-list entries held at once (a pair in up to two lists),
 * stats[3] = SIMD level used.
 */
int64_t vk_lsh_candidates(const uint8_t *clks, int64_t n, int bytes, const int32_t *positions,
                          int bands, int k, int64_t max_bucket, const uint8_t *involve,
                          double min_dice, int budget, int64_t group_bytes, int threads,
                          int simd, int64_t **out_left, int64_t **out_right, int64_t *stats) {
    *out_left = NULL;
    *out_right = NULL;
    if (n < 0 || n > INT32_MAX - 1 || bytes <= 0 || bytes % 8 || k < 1 || k > VK_KEY_BITS ||
        bands < 0 || threads < 1)
        return -2;
    job J;
    memset(&J, 0, sizeof(J));
    J.clks = clks;
    J.n = n;
    J.bytes = bytes;
    J.words = bytes / 8;
    J.positions = positions;
    J.bands = bands;
    J.k = k;
    J.max_bucket = max_bucket;
    J.involve = involve;
    J.min_dice = min_dice;
    J.budget = budget;
    J.threads = threads > 64 ? 64 : threads;
    J.and_pc = pick(simd);
    int level = simd < 0 || simd > vk_simd_supported() ? vk_simd_supported() : simd;
    J.level = level;
    stats[0] = stats[1] = stats[2] = 0;
    stats[3] = level;
    if (n < 2 || bands == 0) return 0;
    int group = (int)(group_bytes / (n * (int64_t)sizeof(vkey)));
    if (group < 1) group = 1;
    if (group > bands) group = bands;
    J.seen_bits = SEEN_MIN_BITS;
    while (J.seen_bits < SEEN_MAX_BITS && ((int64_t)1 << (J.seen_bits - 2)) < n) J.seen_bits++;
    J.counts = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)n);
    J.lists = (plist *)calloc((size_t)n, sizeof(plist));
    J.kth = (int32_t *)malloc(sizeof(int32_t) * (size_t)n);
    J.keys = (vkey *)malloc(sizeof(vkey) * (size_t)n * (size_t)group);
    J.tmp_keys = (vkey *)malloc(sizeof(vkey) * 2 * (size_t)n * (size_t)J.threads);
    J.tmp_rows = (int32_t *)malloc(sizeof(int32_t) * 2 * (size_t)n * (size_t)J.threads);
    J.found = (found *)calloc((size_t)J.threads, sizeof(found));
    J.stamps = (int32_t **)calloc((size_t)J.threads, sizeof(int32_t *));
    J.seen = (uint64_t **)calloc((size_t)J.threads, sizeof(uint64_t *));
    J.scratch = (int32_t **)calloc((size_t)J.threads, sizeof(int32_t *));
    J.compared = (int64_t *)calloc((size_t)group, sizeof(int64_t));
    J.skipped = (int64_t *)calloc((size_t)group, sizeof(int64_t));
    J.start = (int64_t *)calloc((size_t)n + 1, sizeof(int64_t));
    int ok = J.seen && J.counts && J.lists && J.kth && J.keys && J.tmp_keys && J.tmp_rows && J.found && J.stamps &&
             J.scratch && J.compared && J.skipped && J.start;
    for (int t = 0; ok && t < J.threads; t++) {
        J.stamps[t] = (int32_t *)malloc(sizeof(int32_t) * (size_t)n);
        J.seen[t] = (uint64_t *)calloc((size_t)1 << J.seen_bits, sizeof(uint64_t));
        ok = J.stamps[t] != NULL && J.seen[t] != NULL;
        if (ok)
            for (int64_t i = 0; i < n; i++) J.stamps[t][i] = -1;
    }
    if (!ok) {
        free_job(&J);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) J.lists[i].kth = J.kth[i] = -1;
    if (involve) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++) m += involve[i] != 0;
        /* worth it while the involved records are a small share: a hash probe per record
         * instead of a radix sort of all */
        if (m * 8 < n) {
            J.inv_rows = (int32_t *)malloc(sizeof(int32_t) * (size_t)(m ? m : 1));
            int64_t slots = 16;
            while (slots < 2 * m) slots <<= 1;
            /* filter: about 32 bits per involved key (2-3 % false positives), 2^10..2^18 */
            int fbits = 10;
            while (fbits < 18 && ((int64_t)1 << fbits) < 32 * m) fbits++;
            J.inv_fbits = fbits;
            J.inv_fwords = ((int64_t)1 << fbits) / 64;
            J.inv_mask = slots - 1;
            J.inv_count = m;
            J.inv_table = (uint64_t **)calloc((size_t)J.threads, sizeof(uint64_t *));
            ok = J.inv_rows && J.inv_table;
            for (int t = 0; ok && t < J.threads; t++) {
                J.inv_table[t] = (uint64_t *)malloc(
                    sizeof(uint64_t) * (size_t)(slots + J.inv_fwords + slots + 2));
                ok = J.inv_table[t] != NULL;
            }
            if (!ok) {
                free_job(&J);
                return -1;
            }
            m = 0;
            for (int64_t i = 0; i < n; i++)
                if (involve[i]) J.inv_rows[m++] = (int32_t)i;
        }
    }
    const uint64_t *words = (const uint64_t *)clks;
    for (int64_t i = 0; i < n; i++) {
        const uint64_t *w = words + (size_t)i * (size_t)J.words;
        J.counts[i] = J.and_pc(w, w, J.words);
    }
    int64_t held = 0, listed = 0;
    for (int first = 0; first < bands; first += group) {
        J.g_first = first;
        J.g_bands = bands - first < group ? bands - first : group;
        parallel_for(J.threads, (n + KEY_BLOCK - 1) / KEY_BLOCK, task_keys, &J);
        parallel_for(J.threads, J.g_bands, task_band, &J);
        for (int b = 0; b < J.g_bands; b++) {
            stats[0] += J.compared[b];
            stats[1] += J.skipped[b];
        }
        if (J.failed || gather(&J)) {
            free_job(&J);
            return -1;
        }
        parallel_for(J.threads, (n + OWN_BLOCK - 1) / OWN_BLOCK, task_merge, &J);
        if (J.failed) {
            free_job(&J);
            return -1;
        }
        listed = 0;
        for (int64_t i = 0; i < n; i++) listed += J.lists[i].len;
        if (listed > held) held = listed;
    }
    stats[2] = held;
    free_band_buffers(&J);
    /* Each record's list now holds every partner at or above its final floor (kth). Each
     * pair once: from its left record's list, or from its right record's when the left
     * record's floor is above it. */
    int64_t *start = J.start;
    memset(start, 0, sizeof(int64_t) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++) {
        plist *l = &J.lists[i];
        for (int32_t e = 0; e < l->len; e++) {
            int32_t j = l->partner[e];
            if (j > i) start[i + 1]++;
            else if (l->rank[e] < J.lists[j].kth) start[j + 1]++;
        }
    }
    for (int64_t i = 0; i < n; i++) start[i + 1] += start[i];
    int64_t pairs = start[n];
    int64_t *left = (int64_t *)malloc(sizeof(int64_t) * (size_t)(pairs ? pairs : 1));
    int64_t *right = (int64_t *)malloc(sizeof(int64_t) * (size_t)(pairs ? pairs : 1));
    if (!left || !right) {
        free(left);
        free(right);
        free_job(&J);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        plist *l = &J.lists[i];
        for (int32_t e = 0; e < l->len; e++) {
            int64_t j = l->partner[e];
            if (j > i) {
                left[start[i]] = i;
                right[start[i]++] = j;
            } else if (l->rank[e] < J.lists[j].kth) {
                left[start[j]] = j;
                right[start[j]++] = i;
            }
        }
    }
    free_job(&J);
    /* sort each left record's partners */
    int64_t s = 0;
    while (s < pairs) {
        int64_t e = s + 1;
        while (e < pairs && left[e] == left[s]) e++;
        if (e - s > 1) qsort(right + s, (size_t)(e - s), sizeof(int64_t), cmp_asc_i64);
        s = e;
    }
    *out_left = left;
    *out_right = right;
    return pairs;
}

/* ---------------------------------------------------------------- Dice of given pairs */

typedef struct {
    const uint64_t *words;
    int nwords;
    const int64_t *left, *right;
    const int64_t *counts;
    double *out;
    int64_t m;
    and_pc_fn and_pc;
} dice_job;

static void task_dice(void *ctx, int64_t item, int thread) {
    (void)thread;
    dice_job *D = (dice_job *)ctx;
    int64_t lo = item * 8192, hi = lo + 8192;
    if (hi > D->m) hi = D->m;
    for (int64_t q = lo; q < hi; q++) {
        int64_t a = D->left[q], b = D->right[q];
        uint32_t both = D->and_pc(D->words + (size_t)a * (size_t)D->nwords,
                                  D->words + (size_t)b * (size_t)D->nwords, D->nwords);
        int64_t total = D->counts[a] + D->counts[b];
        D->out[q] = total > 0 ? (2.0 * (double)both) / (double)total : 0.0;
    }
}

void vk_dice_of_pairs(const uint8_t *clks, int bytes, const int64_t *left, const int64_t *right,
                      int64_t m, const int64_t *counts, double *out, int threads, int simd) {
    dice_job D = {(const uint64_t *)clks, bytes / 8, left, right, counts, out, m, pick(simd)};
    parallel_for(m > 65536 ? threads : 1, (m + 8191) / 8192, task_dice, &D);
}

void vk_free(void *p) { free(p); }
