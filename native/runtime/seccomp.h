/* linux.seccomp → a classic BPF filter (first matching rule wins, as in
 * runc's libseccomp programs for allow-list profiles such as Docker's). */
#ifndef RT_SECCOMP_H
#define RT_SECCOMP_H
#include <linux/filter.h>
#include "json.h"

struct seccomp_prog {
  struct sock_filter *insns;
  size_t n;
};

struct syscall_nr {
  const char *name;
  int nr;
};

/* The syscall number for a name on this architecture, or -1. */
int syscall_number(const char *name);
/* The highest number syscall_number() knows: the filter answers ENOSYS above it. */
int syscall_native_max(void);
/* Binary search in a table sorted by name; -1 when absent. */
int syscall_lookup(const struct syscall_nr *t, size_t n, const char *name);
int syscall_max(const struct syscall_nr *t, size_t n);
#if defined(__x86_64__)
/* The 32-bit ABIs of an x86_64 kernel (syscalls_x86.c). */
const struct syscall_nr *syscalls_i386(size_t *n);
const struct syscall_nr *syscalls_x32(size_t *n);
#endif
#if defined(__aarch64__) || defined(TSSTACK_ALL_SYSCALL_TABLES)
/* The 32-bit ARM ABI of an aarch64 kernel (syscalls_arm.c). */
int syscall_arm_number(const char *name);
int syscall_arm_max(void);
#endif
/* Compiles an OCI linux.seccomp object. Names unknown here are skipped (a
 * profile lists several architectures' syscalls). */
int seccomp_compile(const json *sec, struct seccomp_prog *out, const char *where, err_t *e);
/* Loads the filter into the calling thread (needs no_new_privs or CAP_SYS_ADMIN). */
int seccomp_install(const struct seccomp_prog *p, err_t *e);
#endif
