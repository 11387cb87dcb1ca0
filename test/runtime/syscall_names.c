/* Prints the native number tsstack-runtime's seccomp compiler gives each syscall name it knows of
 * (the names of its i386 and x32 tables, and the highest number), one "name number" a line. */
#include <stdio.h>
#include "seccomp.h"

int main(void) {
  size_t n;
  const struct syscall_nr *t = syscalls_i386(&n);
  for (size_t i = 0; i < n; i++) printf("%s %d\n", t[i].name, syscall_number(t[i].name));
  t = syscalls_x32(&n);
  for (size_t i = 0; i < n; i++) printf("%s %d\n", t[i].name, syscall_number(t[i].name));
  printf("(max) %d\n", syscall_native_max());
  return 0;
}
