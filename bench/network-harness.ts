// Helper for bench/network-*.sh: drives NetworkManager from the command line.
//   node network-harness.js up <root> <hostPort> <containerPort>   network + sandbox + endpoint + published port; prints JSON
//   node network-harness.js fill <root> <n>                          publishes n more ports (to a second sandbox) so the maps hold n+1 entries
//   node network-harness.js unfill <root>                            removes them again
//   node network-harness.js down <root>                             removes them
//   node network-harness.js setup-times <root> <n>                  median ms of create(), createSandbox()+connect(), publish()
import { join } from 'node:path';
import { NetworkManager } from '../src/engine/network/index.js';

const [cmd, root, a, b] = process.argv.slice(2);
const m = new NetworkManager({ root: join(root!, 'lib'), runRoot: join(root!, 'run') });

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

try {
  if (cmd === 'up') {
    await m.create({ name: 'bench_default', labels: {} });
    const { path } = await m.createSandbox('redis');
    const ep = await m.connect('redis', { network: 'bench_default', aliases: ['redis'] });
    await m.publish('redis', ep.address, [{ hostPort: Number(a), containerPort: Number(b), protocol: 'tcp' }]);
    console.log(JSON.stringify({ path, address: ep.address }));
  } else if (cmd === 'fill') {
    const n = Number(a);
    await m.createSandbox('filler');
    const ep = await m.connect('filler', { network: 'bench_default', aliases: [] });
    const ports = Array.from({ length: n }, (_, i) => ({ hostPort: 30000 + i, containerPort: 80, protocol: 'tcp' as const }));
    await m.publish('filler', ep.address, ports);
  } else if (cmd === 'unfill') {
    await m.removeSandbox('filler');
  } else if (cmd === 'down') {
    await m.removeSandbox('filler');
    await m.removeSandbox('redis');
    await m.remove('bench_default');
  } else if (cmd === 'setup-times') {
    const n = Number(a ?? 10);
    const net: number[] = [];
    const endpoint: number[] = [];
    const publish: number[] = [];
    const teardown: number[] = [];
    for (let i = 0; i < n; i++) {
      let t0 = performance.now();
      await m.create({ name: `bench_n${i}`, labels: {} });
      net.push(performance.now() - t0);
      t0 = performance.now();
      await m.createSandbox(`c${i}`);
      const ep = await m.connect(`c${i}`, { network: `bench_n${i}`, aliases: [] });
      endpoint.push(performance.now() - t0);
      t0 = performance.now();
      await m.publish(`c${i}`, ep.address, [{ hostPort: 20000 + i, containerPort: 80, protocol: 'tcp' }]);
      publish.push(performance.now() - t0);
    }
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await m.removeSandbox(`c${i}`);
      await m.remove(`bench_n${i}`);
      teardown.push(performance.now() - t0);
    }
    const f = (x: number) => x.toFixed(2);
    console.log(`networks/endpoints: ${n} (each network gets one endpoint and one published port; state and table grow as it goes)`);
    console.log(`median create network          ${f(median(net))} ms`);
    console.log(`median sandbox + connect       ${f(median(endpoint))} ms`);
    console.log(`median publish one port        ${f(median(publish))} ms`);
    console.log(`median remove sandbox+network  ${f(median(teardown))} ms`);
  } else {
    console.error('usage: network-harness.js up|down|setup-times <root> …');
    process.exitCode = 2;
  }
} finally {
  await m.close();
}
