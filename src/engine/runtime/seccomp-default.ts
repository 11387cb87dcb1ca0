// tsstack's default seccomp profile: the system calls a container may make.
// The facts are those of Docker's default profile (moby profiles/seccomp,
// 2026): the same allow list, argument rules, and the calls that a
// capability opens; written here in tsstack's own shape. Left out: the
// architectures tsstack does not run on (ppc64le, s390, mips, riscv64).
// Everything not allowed fails with EPERM; seccomp-profile.ts turns this into
// the OCI filter for one container (its capabilities, this host's arch).

/** An argument test: `[index, op, value]`, or `[index, '&==', mask, value]` ((arg & mask) == value). */
export type ArgTest = readonly [number, '==' | '!=' | '<' | '<=' | '>' | '>=', number] | readonly [number, '&==', number, number];

export interface DefaultRule {
  /** The calls the rule is about. */
  calls: readonly string[];
  /** Allow (default), or fail with this errno. */
  errno?: number;
  /** Only when the container has every one of these capabilities. */
  caps?: readonly string[];
  /** Only when the container lacks this capability. */
  withoutCap?: string;
  /** Only on these architectures (libseccomp's names: amd64, x86, x32, arm64, arm). */
  arches?: readonly string[];
  /** Only on kernels at least this recent. */
  minKernel?: string;
  /** Every test must hold; at most one test per argument (libseccomp, under runc, keeps only one). */
  args?: readonly ArgTest[];
}

export const EPERM = 1;
export const ENOSYS = 38;

/** The filter's ABIs per host architecture: each 64-bit one runs its 32-bit programs too. */
export const DEFAULT_ARCHES: Readonly<Record<string, readonly string[]>> = {
  SCMP_ARCH_X86_64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  SCMP_ARCH_AARCH64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
};

// socket(2) families refused: AF_ALG (38, the kernel's crypto API) and AF_VSOCK (40, host↔VM sockets);
// AF_NFC (39) between them is allowed.
const AF_ALG = 38, AF_NFC = 39, AF_VSOCK = 40;
// clone(2) flags that make namespaces (NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET): CAP_SYS_ADMIN only.
const CLONE_NEW_ANY = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;
// personality(2) values allowed: PER_LINUX, PER_LINUX32, UNAME26 with each, and 0xffffffff (a query).
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** Calls every container may make, whatever its capabilities (the kernel still checks those). */
const EVERYONE = `
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync
fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat
getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups
getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
get_thread_area gettid gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen
listmount listxattr listxattrat llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock
mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget msgrcv
msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat
openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64
pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg
recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat rename renameat renameat2
restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
sched_getaffinity sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min
sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity
sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop
semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid
setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list
setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr setxattrat shmat shmctl
shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair
splice stat stat64 statfs statfs64 statmount statx symlink symlinkat sync sync_file_range syncfs
sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat uretprobe
utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
`.trim().split(/\s+/);

export const DEFAULT_PROFILE: readonly DefaultRule[] = [
  { calls: EVERYONE },
  // the kernel checks ptrace access itself since 4.8 (seccomp ran after it before)
  { calls: ['process_vm_readv', 'process_vm_writev', 'ptrace'], minKernel: '4.8' },
  { calls: ['socket'], args: [[0, '<', AF_ALG]] },
  { calls: ['socket'], args: [[0, '==', AF_NFC]] },
  { calls: ['socket'], args: [[0, '>', AF_VSOCK]] },
  ...PERSONALITIES.map((p): DefaultRule => ({ calls: ['personality'], args: [[0, '==', p]] })),
  { calls: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'], arches: ['arm', 'arm64'] },
  { calls: ['arch_prctl'], arches: ['amd64', 'x32'] },
  { calls: ['modify_ldt'], arches: ['amd64', 'x32', 'x86'] },
  { calls: ['open_by_handle_at'], caps: ['CAP_DAC_READ_SEARCH'] },
  {
    calls: ['bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie', 'lsm_get_self_attr', 'lsm_list_modules', 'lsm_set_self_attr',
      'mount', 'mount_setattr', 'move_mount', 'open_tree', 'perf_event_open', 'quotactl', 'quotactl_fd', 'setdomainname', 'sethostname', 'setns', 'syslog', 'umount', 'umount2', 'unshare'],
    caps: ['CAP_SYS_ADMIN'],
  },
  // threads and fork: clone without namespace flags
  { calls: ['clone'], withoutCap: 'CAP_SYS_ADMIN', args: [[0, '&==', CLONE_NEW_ANY, 0]] },
  // clone3's flags are behind a pointer, out of the filter's reach: ENOSYS makes the C library use clone
  { calls: ['clone3'], withoutCap: 'CAP_SYS_ADMIN', errno: ENOSYS },
  { calls: ['reboot'], caps: ['CAP_SYS_BOOT'] },
  { calls: ['chroot'], caps: ['CAP_SYS_CHROOT'] },
  { calls: ['delete_module', 'init_module', 'finit_module'], caps: ['CAP_SYS_MODULE'] },
  { calls: ['acct'], caps: ['CAP_SYS_PACCT'] },
  { calls: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'], caps: ['CAP_SYS_PTRACE'] },
  { calls: ['iopl', 'ioperm'], caps: ['CAP_SYS_RAWIO'] },
  { calls: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'], caps: ['CAP_SYS_TIME'] },
  { calls: ['vhangup'], caps: ['CAP_SYS_TTY_CONFIG'] },
  { calls: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'], caps: ['CAP_SYS_NICE'] },
  { calls: ['syslog'], caps: ['CAP_SYSLOG'] },
  { calls: ['bpf'], caps: ['CAP_BPF'] },
  { calls: ['perf_event_open'], caps: ['CAP_PERFMON'] },
];
