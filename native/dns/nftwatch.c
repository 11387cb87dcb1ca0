/* nftables changes, made visible with a stat. The engine's no-op `up` must notice a ruleset
 * flushed under it (`nft flush ruleset`, a reload of nftables.service) without listing the
 * ruleset: loading libnftables costs more than the rest of that check. This server lives in the
 * network namespace whose ruleset matters, so it listens to the kernel's nftables notifications
 * (NFNLGRP_NFTABLES) and rewrites a small file after each burst of them: "<count> <generation>".
 * A stat of that file tells the engine whether anything changed since it last looked. */
#include "nftwatch.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int sock = -1;
static const char *file;
static unsigned long changes;

static void write_file(void) {
  char tmp[4200], text[64];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", file) >= (int)sizeof tmp) return;
  int n = snprintf(text, sizeof text, "%lu %d\n", changes, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  int ok = write(fd, text, (size_t)n) == n;
  close(fd);
  if (!ok || rename(tmp, file) < 0) unlink(tmp);
}

int nftwatch_init(int epfd, uint32_t kind, const char *path) {
  file = path;
  sock = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (sock < 0) return -1;
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1u << (NFNLGRP_NFTABLES - 1) };
  if (bind(sock, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(sock);
    sock = -1;
    errno = e;
    return -1;
  }
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)kind << 32 | (uint32_t)sock };
  epoll_ctl(epfd, EPOLL_CTL_ADD, sock, &ev);
  write_file();
  return 0;
}

void nftwatch_on_readable(void) {
  char buf[8192];
  int any = 0;
  for (;;) {
    ssize_t n = recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0 || (n < 0 && errno == ENOBUFS)) { any = 1; continue; } /* ENOBUFS: some were lost, still a change */
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  if (!any) return;
  changes++;
  write_file();
}

void nftwatch_close(void) {
  if (sock >= 0) close(sock);
  sock = -1;
  if (file) unlink(file);
}
