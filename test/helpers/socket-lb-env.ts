// Loaded by ava before every test file (package.json "ava.require"): a test run
// never attaches tsstack's socket programs to the host's root cgroup. scripts/test.sh
// sets TSSTACK_SOCKET_LB_CGROUP to a cgroup of its own; a bare `npx ava` gets `off`
// (published ports then go through the DNAT rules alone; test/network/socket-lb.test.ts
// makes its own cgroup either way).
process.env.TSSTACK_SOCKET_LB_CGROUP ??= 'off';
