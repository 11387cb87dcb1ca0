// Upstream assertions of some loader cases, ported by hand from their `upstream_checks`
// (Go struct fields mapped to our model's keys). Each returns [what, got, want] triples.
import type { StackModel } from '../../src/model/types.js';
import { formatPortRange } from '../../src/model/format.js';
import { asWritten } from '../../src/stack/render.js';

type Check = (m: StackModel, root: string) => [string, unknown, unknown][];
const svc = (m: StackModel, n: string) => m.services[n]!;

export const CHECKS: Record<string, Check> = {
  TestInterpolateInt: (m) => [['foo.scale', svc(m, 'foo').scale, 2]],
  TestLoadTmpfsVolume: (m) => [['tmpfs.volumes[0]', svc(m, 'tmpfs').volumes[0], { type: 'tmpfs', target: '/app', tmpfs: { size: 1024 } }]],
  TestLoadWithInterpolationCastFull: (m) => {
    const w = svc(m, 'web');
    return [
      ['web.ports', w.ports.map((p) => [p.target, p.published ? formatPortRange(p.published) : null]), [[555, null], [34567, null], [555, '555']]],
      ['web.healthcheck', w.healthcheck, { retries: 555, disable: true }],
      ['web.deploy.replicas', w.deploy?.replicas, 555],
      ['web.deploy.restart_policy.max_attempts', w.deploy?.restart_policy?.max_attempts, 555],
      ['web.ulimits', w.ulimits, { nproc: { soft: 555, hard: 555 }, nofile: { soft: 555, hard: 555 } }],
      ['web flags', [w.privileged, w.read_only, w.stdin_open, w.tty], [true, true, true, true]],
      ['web.shm_size', w.shm_size, 2 * 1024 ** 3],
      ['web.stop_grace_period', w.stop_grace_period, 60_000],
      ['web.volumes[0]', w.volumes[0], { type: 'volume', source: 'data', target: '/data', read_only: true, volume: { nocopy: true } }],
      ['networks.front', [m.networks.front?.external, m.networks.front?.internal, m.networks.front?.attachable], [true, true, true]],
    ];
  },
  TestExtendsPort: (m) => [['test.ports[0].target', svc(m, 'test').ports[0]?.target, 8000]],
  TestExtendsWithInterpolation: (m) => [['test.volumes[0].source', (svc(m, 'test').volumes[0] as { source?: string }).source, '/dev/null']],
  TestLoadWithIncludeOverride: (m) => [['imported.image', svc(m, 'imported').image, 'overridden']],
  TestLoadExtendsSameFile: (m, root) => [
    ['service count', Object.keys(m.services).length, 2],
    ['out-base build.context', svc(m, 'out-base').build?.context, root],
    ['out-service build.context', svc(m, 'out-service').build?.context, root],
  ],
  TestLoadExtendsMultipleFiles: (m, root) => [
    ['service count', Object.keys(m.services).length, 2],
    ['a build.context', svc(m, 'a').build?.context, `${root}/a`],
    ['b build.context', svc(m, 'b').build?.context, root],
  ],
  TestOverrideMiddle: (m) => [
    ['test.volumes', svc(m, 'test').volumes, [
      { type: 'bind', source: '/bar', target: '/bar', bind: { create_host_path: true } },
      { type: 'bind', source: '/zot', target: '/zot', bind: { create_host_path: true } },
    ]],
    ['test.networks', svc(m, 'test').networks, { zot: {} }],
  ],
  TestNestedIncludeAndExtends: (m) => [['included.image', svc(m, 'included').image, 'alpine']],
  TestLoadWithIncludeEnv: (m) => [
    ['a VAR_NAME', svc(m, 'a').environment.VAR_NAME, null],
    ['b VAR_NAME', svc(m, 'b').environment.VAR_NAME, 'value'],
    ['c VAR_NAME', svc(m, 'c').environment.VAR_NAME, 'value'],
  ],
  TestCPUFields: (m) => [
    ['foo cpu_shares/cpu_quota/cpu_period', [svc(m, 'foo').cpu_shares, svc(m, 'foo').cpu_quota, svc(m, 'foo').cpu_period], [1024, 50000, 100000]],
    ['foo cpus/cpuset', [svc(m, 'foo').cpus, svc(m, 'foo').cpuset], [1.5, '0,1']],
  ],
  TestMemoryFields: (m) => [
    ['foo mem_limit/mem_reservation/memswap_limit/shm_size', [svc(m, 'foo').mem_limit, svc(m, 'foo').mem_reservation, svc(m, 'foo').memswap_limit, svc(m, 'foo').shm_size],
      [512 * 1024 ** 2, 256 * 1024 ** 2, 1024 ** 3, 64 * 1024 ** 2]],
  ],
  TestDeviceCgroupRules: (m) => [['foo.device_cgroup_rules', asWritten(svc(m, 'foo')).device_cgroup_rules, ['c 1:3 mr', 'a 7:* rmw']]],
  TestDNSOpt: (m) => [['foo.dns_opt', svc(m, 'foo').dns_opt, ['use-vc', 'no-tld-query']]],
  TestCommandString: (m) => [['foo.command', svc(m, 'foo').command, ['bundle', 'exec', 'thin', '-p', '3000']]],
  TestCommandList: (m) => [['foo.command', svc(m, 'foo').command, ['bundle', 'exec', 'thin', '-p', '3000']]],
  TestDependsOnList: (m) => [['web.depends_on', svc(m, 'web').depends_on, { db: { condition: 'service_started', required: true }, redis: { condition: 'service_started', required: true } }]],
  TestDependsOnObject: (m) => [
    ['db condition', svc(m, 'web').depends_on.db?.condition, 'service_healthy'],
    ['db restart', svc(m, 'web').depends_on.db?.restart, true],
    ['redis condition', svc(m, 'web').depends_on.redis?.condition, 'service_started'],
  ],
  TestDependsOnXService: (m) => [['test.depends_on', svc(m, 'test').depends_on, { 'x-foo': { condition: 'service_started', required: true } }]],
  TestEnvironmentMap: (m) => [['foo.environment', svc(m, 'foo').environment, { FOO: '1', BAR: '2', GA: '2.5', BU: '', ZO: null, MEU: 'Shadoks' }]],
  TestEnvironmentList: (m) => [['foo.environment', svc(m, 'foo').environment, { FOO: '1', BAR: '2', BU: '', ZO: null, MEU: 'Shadoks' }]],
  TestEnvironmentBoolean: (m) => [['foo.environment', svc(m, 'foo').environment, { FOO: 'true', BAR: 'false' }]],
  TestHealthcheck: (m) => [['foo.healthcheck', svc(m, 'foo').healthcheck, { test: ['CMD-SHELL', 'echo "hello world"'], interval: 10_000, timeout: 1000, retries: 5, start_period: 15_000, start_interval: 5000 }]],
  TestPortsShortSyntax: (m) => [['foo.ports', svc(m, 'foo').ports, [
    { target: 8080, published: { start: 80, end: 80 }, protocol: 'tcp', mode: 'ingress' },
    { target: 8090, published: { start: 90, end: 90 }, protocol: 'udp', mode: 'ingress' },
    { target: 8600, protocol: 'tcp', mode: 'ingress' },
  ]]],
  TestPortsLongSyntax: (m) => [['foo.ports', svc(m, 'foo').ports, [{ target: 80, published: { start: 8080, end: 8080 }, protocol: 'tcp', mode: 'host' }]]],
  TestPortsRange: (m) => [['foo.ports', svc(m, 'foo').ports.map((p) => [p.target, p.published && formatPortRange(p.published)]), [[8080, '80'], [8081, '81'], [8082, '82']]]],
  TestNamedPort: (m) => [['foo.ports[0].name', svc(m, 'foo').ports[0]?.name, 'http']],
  TestAppProtocol: (m) => [['foo.ports[0].app_protocol', svc(m, 'foo').ports[0]?.app_protocol, 'http']],
  TestProfiles: (m) => [['services with profile debug', Object.keys(m.services).sort(), ['bar', 'foo']], ['foo.profiles', svc(m, 'foo').profiles, ['debug', 'dev']]],
  TestStopGracePeriod: (m) => [['foo.stop_grace_period', svc(m, 'foo').stop_grace_period, 20_000]],
  TestStopSignal: (m) => [['foo.stop_signal', svc(m, 'foo').stop_signal, 'SIGUSR1']],
  TestTmpfs: (m) => [['list.tmpfs', asWritten(svc(m, 'list')).tmpfs, ['/run', '/tmp']], ['string.tmpfs', asWritten(svc(m, 'string')).tmpfs, ['/run']]],
  TestUlimits: (m) => [['foo.ulimits', svc(m, 'foo').ulimits, { nproc: { soft: 65535, hard: 65535 }, nofile: { soft: 20000, hard: 40000 } }]],
  TestVolumeBindPropagation: (m) => [['foo.volumes[0].bind.propagation', (svc(m, 'foo').volumes[0] as { bind?: { propagation?: string } }).bind?.propagation, 'rslave']],
};
