/* features: what this runtime implements, as the runtime-spec features
 * document describes it (runc prints the same shape). */
#include <stdio.h>
#include "caps.h"
#include "hooks.h"
#include "json.h"
#include "spec.h"
#include "verbs.h"

static void list(jbuf *b, const char *key, const char *const *items, size_t n, const char *indent) {
  jb_printf(b, "%s", indent);
  jb_str(b, key);
  jb_puts(b, ": [");
  for (size_t i = 0; i < n; i++) {
    if (i) jb_puts(b, ", ");
    jb_str(b, items[i]);
  }
  jb_puts(b, "]");
}

int verb_features(int argc, char **argv) {
  static const struct opt opts[] = {{NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0) return verb_report("features", &e);
  jbuf b = {0};
  jb_puts(&b, "{\n  \"ociVersionMin\": \"1.0.0\",\n  \"ociVersionMax\": \"1.0.2\",\n");
  list(&b, "hooks", hook_names, HOOK_KINDS, "  ");
  jb_puts(&b, ",\n");
  const char *opts_list[96];
  size_t n = 0;
  for (const char *o; n < 96 && (o = spec_mount_option(n));) opts_list[n++] = o;
  list(&b, "mountOptions", opts_list, n, "  ");
  jb_puts(&b, ",\n  \"linux\": {\n");
  static const char *ns[] = {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"};
  list(&b, "namespaces", ns, sizeof ns / sizeof ns[0], "    ");
  jb_puts(&b, ",\n");
  char names[64][32];
  const char *caps[64];
  size_t nc = 0;
  for (const char *c; nc < 64 && (c = caps_name((int)nc));) {
    snprintf(names[nc], sizeof names[nc], "CAP_%s", c);
    caps[nc] = names[nc];
    nc++;
  }
  list(&b, "capabilities", caps, nc, "    ");
  jb_puts(&b, ",\n    \"cgroup\": {\"v1\": true, \"v2\": true, \"systemd\": false, \"systemdUser\": false},\n");
  jb_puts(&b, "    \"seccomp\": {\n      \"enabled\": true,\n");
  static const char *actions[] = {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                                  "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"};
  static const char *ops[] = {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"};
#if defined(__x86_64__)
  static const char *archs[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
#else
  static const char *archs[] = {"SCMP_ARCH_AARCH64"};
#endif
  list(&b, "actions", actions, sizeof actions / sizeof actions[0], "      ");
  jb_puts(&b, ",\n");
  list(&b, "operators", ops, sizeof ops / sizeof ops[0], "      ");
  jb_puts(&b, ",\n");
  list(&b, "archs", archs, sizeof archs / sizeof archs[0], "      ");
  jb_puts(&b, "\n    },\n    \"apparmor\": {\"enabled\": false},\n    \"selinux\": {\"enabled\": false}\n  }\n}");
  puts(b.p);
  jb_free(&b);
  return 0;
}
