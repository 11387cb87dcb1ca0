// Prints how many socket programs are still attached to the cgroup given (a
// test run's own, scripts/test.sh): each is a published port a test did not take
// down. Needs a built tree.   node scripts/lib/socket-lb-left.mjs CGROUP
import { progQuery, withDirFd } from '../../dist/src/engine/network/bpf-sys.js';

const hooks = ['connect4', 'sendmsg4', 'recvmsg4', 'getpeername4'];
const cgroup = process.argv[2];
console.log(withDirFd(cgroup, (fd) => hooks.reduce((n, h) => n + progQuery(fd, h).length, 0)));
