#include "devfilter.h"
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

/* The devices every container gets whatever the rules say (as on v1). */
static const struct device_rule always[] = {
    {true, 'c', 1, 3, "rwm"}, {true, 'c', 1, 5, "rwm"}, {true, 'c', 1, 7, "rwm"}, {true, 'c', 1, 8, "rwm"},
    {true, 'c', 1, 9, "rwm"}, {true, 'c', 5, 0, "rwm"}, {true, 'c', 5, 1, "rwm"}, {true, 'c', 5, 2, "rwm"},
    {true, 'c', 136, -1, "rwm"}, {true, 'c', 10, 200, "rwm"}, {true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"},
};

struct insns { struct bpf_insn *v; size_t n, cap; };

static void put(struct insns *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  if (p->n == p->cap) p->v = ts_xrealloc(p->v, (p->cap = p->cap ? p->cap * 2 : 64) * sizeof *p->v);
  struct bpf_insn i = {.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
  p->v[p->n++] = i;
}

static uint32_t access_bits(const char *a) {
  uint32_t bits = 0;
  for (; *a; a++) bits |= *a == 'r' ? BPF_DEVCG_ACC_READ : *a == 'w' ? BPF_DEVCG_ACC_WRITE : *a == 'm' ? BPF_DEVCG_ACC_MKNOD : 0;
  return bits;
}

/* One rule as a block: each mismatch jumps past it; a match returns allow/deny.
 * Registers: r2 device type, r3 requested access, r4 major, r5 minor.
 * Returns true when the rule matches every request (nothing after it runs). */
static bool rule_block(struct insns *p, const struct device_rule *r) {
  struct insns b = {0};
  uint32_t acc = access_bits(r->access);
  if (r->type == 'c' || r->type == 'b') put(&b, BPF_JMP | BPF_JNE | BPF_K, 2, 0, 0, r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
  if (acc != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)) {
    put(&b, BPF_ALU64 | BPF_MOV | BPF_X, 1, 3, 0, 0);
    put(&b, BPF_ALU64 | BPF_AND | BPF_K, 1, 0, 0, (int32_t)~acc);
    put(&b, BPF_JMP | BPF_JNE | BPF_K, 1, 0, 0, 0);  /* asks for more than the rule grants */
  }
  if (r->major >= 0) put(&b, BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, (int32_t)r->major);
  if (r->minor >= 0) put(&b, BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, (int32_t)r->minor);
  put(&b, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, r->allow ? 1 : 0);
  put(&b, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  for (size_t i = 0; i < b.n; i++) {
    if (BPF_CLASS(b.v[i].code) == BPF_JMP && BPF_OP(b.v[i].code) == BPF_JNE) b.v[i].off = (int16_t)(b.n - i - 1);
    put(p, b.v[i].code, b.v[i].dst_reg, b.v[i].src_reg, b.v[i].off, b.v[i].imm);
  }
  bool unconditional = b.n == 2;
  free(b.v);
  return unconditional;
}

int devfilter_attach(const char *dir, const struct resources *res, err_t *e) {
  if (!res->n_devices) return 0;
  struct insns p = {0};
  /* r1 = ctx */
  put(&p, BPF_LDX | BPF_W | BPF_MEM, 2, 1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
  put(&p, BPF_ALU64 | BPF_AND | BPF_K, 2, 0, 0, 0xFFFF);
  put(&p, BPF_LDX | BPF_W | BPF_MEM, 3, 1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
  put(&p, BPF_ALU64 | BPF_RSH | BPF_K, 3, 0, 0, 16);
  put(&p, BPF_LDX | BPF_W | BPF_MEM, 4, 1, offsetof(struct bpf_cgroup_dev_ctx, major), 0);
  put(&p, BPF_LDX | BPF_W | BPF_MEM, 5, 1, offsetof(struct bpf_cgroup_dev_ctx, minor), 0);
  /* The last matching rule wins (v1 semantics): test them newest first. */
  bool total = false;  /* the verifier refuses code after a rule that matches all */
  for (size_t i = sizeof always / sizeof always[0]; i-- > 0 && !total;) total = rule_block(&p, &always[i]);
  for (size_t i = res->n_devices; i-- > 0 && !total;) total = rule_block(&p, &res->devices[i]);
  if (!total) {
    put(&p, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);  /* no rule matched: deny */
    put(&p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }

  union bpf_attr load;
  memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = (uint64_t)(uintptr_t)p.v;
  load.insn_cnt = (uint32_t)p.n;
  load.license = (uint64_t)(uintptr_t)"Apache-2.0";
  int prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
  if (prog < 0) {
    /* Again with the verifier's log, for the error message (its tail says why). */
    static char log[1 << 16];
    load.log_buf = (uint64_t)(uintptr_t)log;
    load.log_size = sizeof log;
    load.log_level = 1;
    int saved = errno;
    if (syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load) >= 0) saved = 0;
    size_t len = strlen(log);
    errno = saved;
    free(p.v);
    return ts_failerr(e, "cannot load the cgroup v2 device filter (%.200s)", len > 200 ? log + len - 200 : log);
  }
  free(p.v);
  _cleanup_close_ int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) {
    close(prog);
    return ts_failerr(e, "cannot open cgroup %s", dir);
  }
  union bpf_attr att;
  memset(&att, 0, sizeof att);
  att.target_fd = (uint32_t)cg;
  att.attach_bpf_fd = (uint32_t)prog;
  att.attach_type = BPF_CGROUP_DEVICE;
  att.attach_flags = BPF_F_ALLOW_MULTI;
  int rc = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &att, sizeof att);
  close(prog); /* the attachment holds its own reference */
  if (rc < 0) return ts_failerr(e, "cannot attach the device filter to cgroup %s", dir);
  return 0;
}
