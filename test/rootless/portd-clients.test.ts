// tsstack-portd's control socket under a slow runtime: tsstack-runtime connects before the
// container's mounts (while the path is visible) and sends its seccomp listener only once the
// filter is loaded, which under load takes seconds. portd must wait for it without holding up
// the others (nor any container's bind/connect): a client that sends after 3 s is still
// answered, and one that connects meanwhile is answered at once. Runs portd directly (as the
// test's own user) with a small C client that loads a real notifying filter.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';

const PORTD = join(process.cwd(), 'native', 'bin', 'tsstack-portd');

// CLIENT SOCK DELAY_MS: connect, wait, load a filter notifying on bind, send it with metadata, print the answer
const CLIENT = String.raw`
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, argv[1]);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) { puts("no connect"); return 1; }
  usleep(atoi(argv[2]) * 1000);
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_bind, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog p = {.len = 4, .filter = f};
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  int l = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &p);
  if (l < 0) { puts("no filter"); return 1; }
  char meta[] = "project=x\n", ctl[CMSG_SPACE(sizeof(int))] = {0};
  struct iovec io = {meta, sizeof meta - 1};
  struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &l, sizeof l);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char ack = 0;
  if (sendmsg(s, &m, MSG_NOSIGNAL) < 0 || recv(s, &ack, 1, 0) != 1) ack = 0;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("%s %ld\n", ack == 'k' ? "ack" : "no-ack", (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
  return 0;
}
`;

function output(c: ChildProcess): Promise<string> {
  return new Promise((res) => {
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', () => res(out.trim()));
  });
}

test('portd answers a runtime that sends its listener seconds after connecting, and serves another meanwhile at once', async (t) => {
  if (!existsSync(PORTD)) return t.fail(`${PORTD} is missing: npm run build`);
  const tmp = makeTemp('tsstack-portd-clients-');
  const portd = spawn(PORTD, [join(tmp, 'portd.sock')], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    writeFileSync(join(tmp, 'client.c'), CLIENT);
    execFileSync(process.env.CC || 'cc', ['-O1', '-o', join(tmp, 'client'), join(tmp, 'client.c')]);
    for (let i = 0; i < 200 && !existsSync(join(tmp, 'portd.sock')); i++) await new Promise((r) => setTimeout(r, 10));
    const slow = spawn(join(tmp, 'client'), [join(tmp, 'portd.sock'), '3000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const slowOut = output(slow);
    await new Promise((r) => setTimeout(r, 300)); // portd has accepted the slow one by now
    const fast = spawn(join(tmp, 'client'), [join(tmp, 'portd.sock'), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [fastAck, fastMs] = (await output(fast)).split(' ');
    t.is(fastAck, 'ack', 'the second runtime is answered');
    t.true(Number(fastMs) < 1000, `the second runtime waited ${fastMs} ms for the first (silent) one`);
    t.is((await slowOut).split(' ')[0], 'ack', 'the slow runtime is answered, not dropped after a timeout');
  } finally {
    portd.kill('SIGKILL');
    await new Promise((r) => portd.once('exit', r));
    rmTemp(tmp);
  }
});
