/* The runtime's memory allocator, in place of the C library's.
 *
 * The runtime lives for one command (or, for an attached `run`, waits for its container, allocating
 * nothing more): it parses one config into a few thousand small blocks and exits. musl's allocator
 * returns each emptied group of blocks to the kernel at once: a `run` made ~90 mmap and ~45 munmap
 * calls, each a page table change and fresh pages to fault in, which cost more than the work they
 * served. Here: blocks in power-of-two classes from 16 bytes to 64 KiB, carved from 256 KiB arenas
 * that are never given back, freed blocks kept on their class's list for reuse; larger blocks are
 * mappings of their own, unmapped when freed. Single-threaded, as the runtime is (no threads; a
 * child made by clone or fork has its own copy).
 *
 * Replacing malloc is supported by both C libraries for a static link when every entry point below
 * is defined (glibc's manual, "Replacing malloc"). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define MIN_SHIFT 4                  /* 16-byte blocks */
#define MAX_SHIFT 16                 /* 64 KiB: larger ones are mapped alone */
#define ARENA (256u << 10)
#define ALIGN 16u
#define BIG ((unsigned)(MAX_SHIFT + 1))

/* Before every block, keeping it 16-byte aligned: its class, or BIG with its mapping's size. */
struct head {
  size_t size;  /* the usable size: the class's, or what follows this head in its mapping */
  unsigned cls; /* MIN_SHIFT..MAX_SHIFT, or BIG */
  unsigned off; /* BIG: where this head is in its mapping (for an alignment above 16) */
};

static void *free_list[MAX_SHIFT + 1];
static char *arena_next, *arena_end;

static unsigned class_of(size_t n) {
  unsigned c = MIN_SHIFT;
  while (((size_t)1 << c) < n) c++;
  return c;
}

static void *map(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* A block in a mapping of its own, its start aligned to `al` (a power of two, 16 to 4096). */
static void *alloc_big(size_t n, size_t al) {
  size_t lead = al > sizeof(struct head) ? al : sizeof(struct head); /* the head ends where the block starts */
  if (n > SIZE_MAX - lead - 4096) return errno = ENOMEM, NULL;
  size_t total = (n + lead + 4095) & ~(size_t)4095;
  char *base = map(total);
  if (!base) return errno = ENOMEM, NULL;
  struct head *h = (struct head *)(base + lead) - 1;
  h->size = total - lead;
  h->cls = BIG;
  h->off = (unsigned)((char *)h - base);
  return h + 1;
}

static void *alloc(size_t n) {
  if (n > ((size_t)1 << MAX_SHIFT)) return alloc_big(n, ALIGN);
  unsigned c = class_of(n ? n : 1);
  if (free_list[c]) {
    struct head *h = free_list[c];
    free_list[c] = *(void **)(h + 1);
    return h + 1;
  }
  size_t need = sizeof(struct head) + ((size_t)1 << c);
  if (!arena_next || (size_t)(arena_end - arena_next) < need) {
    char *a = map(ARENA); /* what was left of the last arena is not used again: at most a 64 KiB block's worth */
    if (!a) return errno = ENOMEM, NULL;
    arena_next = a;
    arena_end = a + ARENA;
  }
  struct head *h = (struct head *)arena_next;
  arena_next += need;
  h->size = (size_t)1 << c;
  h->cls = c;
  h->off = 0;
  return h + 1;
}

void *malloc(size_t n) { return alloc(n); }

void free(void *p) {
  if (!p) return;
  struct head *h = (struct head *)p - 1;
  if (h->cls == BIG) {
    munmap((char *)h - h->off, h->off + sizeof(struct head) + h->size);
    return;
  }
  *(void **)p = free_list[h->cls];
  free_list[h->cls] = h;
}

void *calloc(size_t a, size_t b) {
  if (b && a > SIZE_MAX / b) return errno = ENOMEM, NULL;
  void *p = alloc(a * b);
  if (p) memset(p, 0, a * b); /* a reused block holds its last owner's bytes */
  return p;
}

void *realloc(void *p, size_t n) {
  if (!p) return alloc(n);
  struct head *h = (struct head *)p - 1;
  if (n <= h->size) return p;
  void *q = alloc(n);
  if (!q) return NULL;
  memcpy(q, p, h->size < n ? h->size : n);
  free(p);
  return q;
}

size_t malloc_usable_size(void *p) { return p ? ((struct head *)p - 1)->size : 0; }

/* Every block is 16-byte aligned; a larger alignment (up to a page) gets a mapping of its own. */
void *aligned_alloc(size_t al, size_t n) {
  if (!al || (al & (al - 1)) || al > 4096) return errno = EINVAL, NULL;
  return al <= ALIGN ? alloc(n) : alloc_big(n, al);
}
void *memalign(size_t al, size_t n) { return aligned_alloc(al, n); }
int posix_memalign(void **out, size_t al, size_t n) {
  if (al < sizeof(void *) || (al & (al - 1)) || al > 4096) return EINVAL;
  void *p = aligned_alloc(al, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void *valloc(size_t n) { return aligned_alloc(4096, n); }
void *pvalloc(size_t n) { return aligned_alloc(4096, (n + 4095) & ~(size_t)4095); }
