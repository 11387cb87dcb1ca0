#include "seccomp.h"
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define X32_BIT 0x40000000U
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "tsstack-runtime seccomp: unsupported architecture"
#endif

#define FAIL 0xff  /* jump placeholder: to the end of the current rule block */

struct prog {
  struct sock_filter *v;
  size_t n, cap;
};

static void emit(struct prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k) {
  if (p->n == p->cap) p->v = ts_xrealloc(p->v, (p->cap = p->cap ? p->cap * 2 : 256) * sizeof *p->v);
  p->v[p->n++] = (struct sock_filter){code, jt, jf, k};
}

static int action(const char *name, const json *errno_ret, uint32_t *out, const char *what, err_t *e) {
  long long ret = EPERM;
  if (errno_ret && json_as_i64(errno_ret, &ret, what, e) < 0) return -1;
  if (!name) return ts_fail(e, "%s: an action is required", what);
  if (!strcmp(name, "SCMP_ACT_ALLOW")) *out = SECCOMP_RET_ALLOW;
  else if (!strcmp(name, "SCMP_ACT_ERRNO")) *out = SECCOMP_RET_ERRNO | ((uint32_t)ret & SECCOMP_RET_DATA);
  else if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD")) *out = SECCOMP_RET_KILL_THREAD;
  else if (!strcmp(name, "SCMP_ACT_KILL_PROCESS")) *out = SECCOMP_RET_KILL_PROCESS;
  else if (!strcmp(name, "SCMP_ACT_TRAP")) *out = SECCOMP_RET_TRAP;
  else if (!strcmp(name, "SCMP_ACT_TRACE")) *out = SECCOMP_RET_TRACE | ((uint32_t)ret & SECCOMP_RET_DATA);
  else if (!strcmp(name, "SCMP_ACT_LOG")) *out = SECCOMP_RET_LOG;
  else return ts_fail(e, "%s: unsupported seccomp action \"%s\"", what, name);
  return 0;
}

#define LD_ABS(off) emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)(off))
#define JMP(op, k, jt, jf) emit(b, BPF_JMP | (op) | BPF_K, (jt), (jf), (uint32_t)(k))

/* One argument condition; falls through when it holds, jumps to FAIL when not. */
static int emit_arg(struct prog *b, const json *arg, const char *what, err_t *e) {
  unsigned long long idx, value, two = 0;
  if (json_as_u64(json_get(arg, "index"), &idx, what, e) < 0 || json_as_u64(json_get(arg, "value"), &value, what, e) < 0) return -1;
  if (json_get(arg, "valueTwo") && json_as_u64(json_get(arg, "valueTwo"), &two, what, e) < 0) return -1;
  if (idx > 5) return ts_fail(e, "%s: argument index %llu is out of range", what, idx);
  const char *op = json_string(json_get(arg, "op"));
  uint32_t lo_off = (uint32_t)(offsetof(struct seccomp_data, args) + 8 * idx), hi_off = lo_off + 4;  /* little endian */
  uint32_t hi = (uint32_t)(value >> 32), lo = (uint32_t)value;
  if (!op) return ts_fail(e, "%s: \"op\" is required", what);
  if (!strcmp(op, "SCMP_CMP_EQ")) {
    LD_ABS(hi_off), JMP(BPF_JEQ, hi, 0, FAIL), LD_ABS(lo_off), JMP(BPF_JEQ, lo, 0, FAIL);
  } else if (!strcmp(op, "SCMP_CMP_NE")) {
    LD_ABS(hi_off), JMP(BPF_JEQ, hi, 0, 2), LD_ABS(lo_off), JMP(BPF_JEQ, lo, FAIL, 0);
  } else if (!strcmp(op, "SCMP_CMP_MASKED_EQ")) {
    LD_ABS(hi_off), emit(b, BPF_ALU | BPF_AND | BPF_K, 0, 0, (uint32_t)(value >> 32)), JMP(BPF_JEQ, (uint32_t)(two >> 32), 0, FAIL);
    LD_ABS(lo_off), emit(b, BPF_ALU | BPF_AND | BPF_K, 0, 0, (uint32_t)value), JMP(BPF_JEQ, (uint32_t)two, 0, FAIL);
  } else if (!strcmp(op, "SCMP_CMP_GT") || !strcmp(op, "SCMP_CMP_GE")) {
    LD_ABS(hi_off), JMP(BPF_JGT, hi, 3, 0), JMP(BPF_JEQ, hi, 0, FAIL), LD_ABS(lo_off);
    JMP(!strcmp(op, "SCMP_CMP_GT") ? BPF_JGT : BPF_JGE, lo, 0, FAIL);
  } else if (!strcmp(op, "SCMP_CMP_LT") || !strcmp(op, "SCMP_CMP_LE")) {
    LD_ABS(hi_off), JMP(BPF_JGT, hi, FAIL, 0), JMP(BPF_JEQ, hi, 0, 2), LD_ABS(lo_off);
    JMP(!strcmp(op, "SCMP_CMP_LT") ? BPF_JGE : BPF_JGT, lo, FAIL, 0);
  } else
    return ts_fail(e, "%s: unsupported seccomp operator \"%s\"", what, op);
  return 0;
}

/* Appends block (ending in its `ret`) after `jeq nr`, resolving FAIL to the
 * instruction after the block, where the syscall number is reloaded. */
static int emit_block(struct prog *p, int nr, struct prog *block, const char *what, err_t *e) {
  size_t len = block->n;
  if (len > 250) return ts_fail(e, "%s: too many argument conditions", what);
  emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t)len, (uint32_t)nr);
  for (size_t i = 0; i < len; i++) {
    struct sock_filter f = block->v[i];
    uint8_t to_end = (uint8_t)(len - i - 1);
    if (BPF_CLASS(f.code) == BPF_JMP) {
      if (f.jt == FAIL) f.jt = to_end;
      if (f.jf == FAIL) f.jf = to_end;
    }
    emit(p, f.code, f.jt, f.jf, f.k);
  }
  emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
  return 0;
}

/* One ABI the filter has a section for: its arch value and syscall numbers. */
struct abi {
  const char *name;  /* SCMP_ARCH_… */
  int (*number)(const char *name);
  int max;           /* highest number known: above it, ENOSYS */
};

#if defined(__x86_64__)
static int i386_number(const char *name) {
  size_t n;
  const struct syscall_nr *t = syscalls_i386(&n);
  return syscall_lookup(t, n, name);
}
static int x32_number(const char *name) {
  size_t n;
  const struct syscall_nr *t = syscalls_x32(&n);
  return syscall_lookup(t, n, name);
}
static int table_max(const struct syscall_nr *(*get)(size_t *)) {
  size_t n;
  const struct syscall_nr *t = get(&n);
  return syscall_max(t, n);
}
#endif

/* A rule without argument conditions, over its syscall numbers sorted and without repeats: one
 * range check per run of consecutive numbers, all to one `ret`. A profile allowing ~350 calls is
 * ~50 runs: a third of the instructions of one `jeq` per call, which the kernel checks and
 * compiles at every container start and the container's every syscall walks through.
 *   per run [lo, hi]:  jgt hi → the next run;  jge lo → ret, else → past this rule
 * Jumps are 8 bits: runs go in chunks, each with its own `ret`; a number between two runs of a
 * chunk is below every later run too, so it leaves through the chunks' "past" jumps one by one. */
static void emit_group(struct prog *p, const int *nrs, size_t k, uint32_t act) {
  size_t i = 0;
  while (i < k) {
    enum { CHUNK = 120 };
    int lo[CHUNK], hi[CHUNK];
    size_t m = 0;
    while (i < k && m < CHUNK) {
      lo[m] = hi[m] = nrs[i++];
      while (i < k && nrs[i] == hi[m] + 1) hi[m] = nrs[i++];
      m++;
    }
    for (size_t j = 0; j < m; j++) {
      /* the ret is at 2m, past this chunk at 2m + 1 (indices from the chunk's start) */
      emit(p, BPF_JMP | BPF_JGT | BPF_K, (uint8_t)(j == m - 1 ? 2 : 1), 0, (uint32_t)hi[j]);
      emit(p, BPF_JMP | BPF_JGE | BPF_K, (uint8_t)(2 * m - 2 * j - 2), (uint8_t)(2 * m - 2 * j - 1), (uint32_t)lo[j]);
    }
    emit(p, BPF_RET | BPF_K, 0, 0, act);
  }
}

static void sift_down(int *a, size_t i, size_t n) {
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) return;
    if (c + 1 < n && a[c + 1] > a[c]) c++;
    if (a[i] >= a[c]) return;
    int t = a[i]; a[i] = a[c]; a[c] = t;
    i = c;
  }
}

/* Heapsort of syscall numbers, in place. Not qsort: musl's moves each element with a call of memcpy,
 * 11 207 calls for the default profile's rules in one `run` (gdb), more than half of all its copies. */
static void sort_numbers(int *a, size_t n) {
  for (size_t i = n / 2; i-- > 0;) sift_down(a, i, n);
  for (size_t end = n; end > 1;) {
    int t = a[0]; a[0] = a[--end]; a[end] = t;
    sift_down(a, 0, end);
  }
}

/* The rules for one ABI, with the syscall number in A; ends in a `ret`. */
static int emit_rules(struct prog *p, const json *sec, const struct abi *abi, uint32_t dflt, bool enosys, err_t *e) {
  json *rules = json_get(sec, "syscalls");
  for (size_t r = 0; rules && rules->type == JSON_ARRAY && r < rules->n; r++) {
    json *rule = rules->items[r], *names = json_get(rule, "names"), *args = json_get(rule, "args");
    char what[96];
    snprintf(what, sizeof what, "linux.seccomp.syscalls[%zu]", r);
    uint32_t act;
    if (action(json_string(json_get(rule, "action")), json_get(rule, "errnoRet"), &act, what, e) < 0) return -1;
    size_t k = 0, nn = names && names->type == JSON_ARRAY ? names->n : 0;
    int *nrs = ts_xrealloc(NULL, (nn ? nn : 1) * sizeof *nrs);
    for (size_t i = 0; i < nn; i++) {
      const char *name = json_string(names->items[i]);
      int nr = name ? abi->number(name) : -1;
      if (nr >= 0) nrs[k++] = nr;
    }
    sort_numbers(nrs, k);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
      if (u == 0 || nrs[u - 1] != nrs[i]) nrs[u++] = nrs[i];
    k = u;
    int rc = 0;
    if (!args || args->type != JSON_ARRAY || args->n == 0) {
      emit_group(p, nrs, k, act);
    } else {
      struct prog block = {0}, *b = &block;
      for (size_t a = 0; rc == 0 && a < args->n; a++) rc = emit_arg(&block, args->items[a], what, e);
      emit(b, BPF_RET | BPF_K, 0, 0, act);
      for (size_t i = 0; rc == 0 && i < k; i++) rc = emit_block(p, nrs[i], &block, what, e);
      free(block.v);
    }
    free(nrs);
    if (rc < 0) return -1;
  }
  /* Like runc: a call newer than any this runtime knows fails with ENOSYS,
   * so the C library falls back to an older call instead of giving up. */
  if (enosys) {
    emit(p, BPF_JMP | BPF_JGT | BPF_K, 0, 1, (uint32_t)abi->max);
    emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS);
  }
  emit(p, BPF_RET | BPF_K, 0, 0, dflt);
  return 0;
}

static bool listed(const json *arches, const char *name) {
  for (size_t i = 0; arches && arches->type == JSON_ARRAY && i < arches->n; i++) {
    const char *a = json_string(arches->items[i]);
    if (a && !strcmp(a, name)) return true;
  }
  return false;
}

/* Points the `ja` at index `at` to index `to`. */
static void patch_ja(struct prog *p, size_t at, size_t to) { p->v[at].k = (uint32_t)(to - at - 1); }

/* Layout: the arch is checked first; each ABI listed in `architectures` that
 * this runtime knows has a section of its own (its own syscall numbers). The
 * native ABI always has one. A call from any other ABI kills the process, as
 * libseccomp's "bad arch" action does under runc: with the default action it
 * would escape a deny-list profile (defaultAction ALLOW) through `int $0x80`. */
int seccomp_compile(const json *sec, struct seccomp_prog *out, const char *where, err_t *e) {
  struct prog p = {0}, *b = &p;
  uint32_t dflt;
  if (action(json_string(json_get(sec, "defaultAction")), json_get(sec, "defaultErrnoRet"), &dflt, "linux.seccomp.defaultAction", e) < 0) goto fail;
  bool enosys = (dflt & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO;
  const json *arches = json_get(sec, "architectures");
  struct abi native = {"native", syscall_number, syscall_native_max()};
  LD_ABS(offsetof(struct seccomp_data, arch));
#if defined(__x86_64__)
  struct abi i386 = {"SCMP_ARCH_X86", i386_number, table_max(syscalls_i386)};
  struct abi x32 = {"SCMP_ARCH_X32", x32_number, table_max(syscalls_x32)};
  bool want_i386 = listed(arches, i386.name), want_x32 = listed(arches, x32.name);
  size_t to_i386 = 0, to_x32 = 0;
  if (want_i386) {
    JMP(BPF_JEQ, AUDIT_ARCH_I386, 0, 1);
    to_i386 = p.n, emit(&p, BPF_JMP | BPF_JA, 0, 0, 0);
  }
#elif defined(__aarch64__)
  struct abi arm = {"SCMP_ARCH_ARM", syscall_arm_number, syscall_arm_max()};
  bool want_arm = listed(arches, arm.name);
  size_t to_arm = 0;
  if (want_arm) {
    JMP(BPF_JEQ, AUDIT_ARCH_ARM, 0, 1);
    to_arm = p.n, emit(&p, BPF_JMP | BPF_JA, 0, 0, 0);
  }
#endif
  JMP(BPF_JEQ, NATIVE_ARCH, 1, 0);
  emit(&p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS); /* an ABI without a section */
  LD_ABS(offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
  JMP(BPF_JGE, X32_BIT, 0, 1);
  if (want_x32) to_x32 = p.n, emit(&p, BPF_JMP | BPF_JA, 0, 0, 0);
  else emit(&p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
#endif
  if (emit_rules(&p, sec, &native, dflt, enosys, e) < 0) goto fail;
#if defined(__x86_64__)
  if (want_x32) {
    patch_ja(&p, to_x32, p.n);
    if (emit_rules(&p, sec, &x32, dflt, enosys, e) < 0) goto fail;
  }
  if (want_i386) {
    patch_ja(&p, to_i386, p.n);
    LD_ABS(offsetof(struct seccomp_data, nr));
    if (emit_rules(&p, sec, &i386, dflt, enosys, e) < 0) goto fail;
  }
#elif defined(__aarch64__)
  if (want_arm) {
    patch_ja(&p, to_arm, p.n);
    LD_ABS(offsetof(struct seccomp_data, nr));
    if (emit_rules(&p, sec, &arm, dflt, enosys, e) < 0) goto fail;
  }
#endif
  (void)arches, (void)listed;
  if (p.n > BPF_MAXINSNS) {
    ts_fail(e, "%s: the seccomp profile compiles to %zu instructions (the kernel takes %d)", where, p.n, BPF_MAXINSNS);
    goto fail;
  }
  out->insns = p.v;
  out->n = p.n;
  return 0;
fail:
  free(p.v);
  return -1;
}

int seccomp_install(const struct seccomp_prog *p, err_t *e) {
  struct sock_fprog f = {.len = (unsigned short)p->n, .filter = p->insns};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &f) < 0) return ts_failerr(e, "cannot load the seccomp filter");
  return 0;
}
