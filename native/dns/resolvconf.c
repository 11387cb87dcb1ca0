// resolv.conf(5) reader: only `nameserver ADDR` lines matter here.
#include "resolvconf.h"
#include <stdio.h>
#include <string.h>

size_t resolvconf_read(const char *path, struct rec_upstream *out, size_t max) {
  FILE *f = fopen(path, "re");
  if (!f) return 0;
  char line[512];
  size_t n = 0;
  while (n < max && fgets(line, sizeof line, f)) {
    char *save = NULL, *key = strtok_r(line, " \t\r\n", &save);
    if (!key || strcmp(key, "nameserver") != 0) continue;
    char *addr = strtok_r(NULL, " \t\r\n", &save);
    if (!addr) continue;
    char *zone = strchr(addr, '%');  // fe80::1%eth0: the zone cannot be kept in an ipaddr
    if (zone) *zone = 0;
    if (ipaddr_parse(addr, &out[n].addr) < 0) continue;
    out[n].port = 53;
    n++;
  }
  fclose(f);
  return n;
}
