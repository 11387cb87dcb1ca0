/* Exercises native/runtime/alloc.c (linked in place of the C library's malloc): random allocations,
 * frees and reallocs whose contents are checked, alignment, calloc of reused blocks, big blocks and
 * aligned ones. Prints "OK" or what went wrong. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>

#define SLOTS 512
static unsigned char *p[SLOTS];
static size_t len[SLOTS];
static unsigned seed = 12345;
static unsigned rnd(void) { return seed = seed * 1103515245u + 12345u; }

static int check(int i) {
  for (size_t k = 0; k < len[i]; k++)
    if (p[i][k] != (unsigned char)(i + k)) return printf("slot %d byte %zu changed\n", i, k), 1;
  return 0;
}
static void fill(int i) { for (size_t k = 0; k < len[i]; k++) p[i][k] = (unsigned char)(i + k); }
static size_t size(void) {
  unsigned r = rnd() % 100;
  return r < 80 ? rnd() % 200 : r < 97 ? rnd() % 20000 : 65536 + rnd() % 300000; /* small, medium, big */
}

int main(void) {
  for (int round = 0; round < 20000; round++) {
    int i = (int)(rnd() % SLOTS);
    if (p[i] && check(i)) return 1;
    switch (rnd() % 4) {
    case 0: free(p[i]); p[i] = NULL; len[i] = 0; break;
    case 1: {
      size_t n = size();
      unsigned char *q = realloc(p[i], n ? n : 1);
      if (!q) return puts("realloc failed"), 1;
      size_t keep = len[i] < n ? len[i] : n;
      for (size_t k = 0; k < keep; k++)
        if (q[k] != (unsigned char)(i + k)) return printf("realloc lost byte %zu\n", k), 1;
      p[i] = q; len[i] = n; fill(i);
      break;
    }
    default: {
      free(p[i]);
      len[i] = size();
      p[i] = (rnd() & 1) ? malloc(len[i]) : calloc(1, len[i]);
      if (!p[i]) return puts("malloc failed"), 1;
      fill(i);
    }
    }
    if (p[i] && ((uintptr_t)p[i] & 15)) return puts("a block not 16-byte aligned"), 1;
    if (p[i] && malloc_usable_size(p[i]) < len[i]) return puts("usable size below the size asked"), 1;
  }
  for (int i = 0; i < SLOTS; i++) { if (p[i] && check(i)) return 1; free(p[i]); }
  /* a reused block comes back zeroed from calloc */
  for (int k = 0; k < 100; k++) {
    unsigned char *a = malloc(100);
    memset(a, 0xab, 100);
    free(a);
    unsigned char *b = calloc(10, 10);
    for (int j = 0; j < 100; j++) if (b[j]) return puts("calloc gave a dirty block"), 1;
    free(b);
  }
  void *al = NULL;
  if (posix_memalign(&al, 4096, 100) || ((uintptr_t)al & 4095)) return puts("posix_memalign 4096"), 1;
  memset(al, 1, 100);
  free(al);
  if (posix_memalign(&al, 64, 1 << 20) || ((uintptr_t)al & 63)) return puts("posix_memalign 64 (big)"), 1;
  memset(al, 1, 1 << 20);
  free(al);
  if (aligned_alloc(3, 8) != NULL || errno != EINVAL) return puts("aligned_alloc took alignment 3"), 1;
  if (calloc(SIZE_MAX / 2, 4) != NULL || errno != ENOMEM) return puts("calloc overflow not refused"), 1;
  if (malloc(SIZE_MAX - 8) != NULL || errno != ENOMEM) return puts("huge malloc not refused"), 1;
  puts("OK");
  return 0;
}
