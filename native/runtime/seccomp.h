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

/* The syscall number for a name on this architecture, or -1. */
int syscall_number(const char *name);
/* Compiles an OCI linux.seccomp object. Names unknown here are skipped (a
 * profile lists several architectures' syscalls). */
int seccomp_compile(const json *sec, struct seccomp_prog *out, const char *where, err_t *e);
/* Loads the filter into the calling thread (needs no_new_privs or CAP_SYS_ADMIN). */
int seccomp_install(const struct seccomp_prog *p, err_t *e);
#endif
