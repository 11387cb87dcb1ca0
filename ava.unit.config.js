// `npm run test:unit`: the tests that run as an ordinary user with no kernel parts —
// no root, namespaces, mounts, containers, bridges or nftables — in well under 30 s.
// Rule: a directory listed whole is pure by design (the stack-file loader, reconcile
// over the fake engine); elsewhere a file is listed by name when every test in it is
// pure (the Kubernetes renderer, test/deploy/, is pure by design too). A test in a listed file that does need root says so with needs('root')
// (test/helpers/skip.ts) and is reported as skipped here. The unit run as a non-root
// user is the check that this list stays true: a kernel test in it fails. Fuzz
// files (property runs given seconds each) are left to the whole suite.
export default {
  files: [
    'dist/test/stack/**/*.test.js',
    'dist/test/reconcile/**/*.test.js',
    'dist/test/deploy/**/*.test.js',
    'dist/test/cli/cli.test.js',
    'dist/test/cli/stdin-kind.test.js',
    'dist/test/rootless/stateless.test.js',
    'dist/test/ui/server.test.js',
    'dist/test/ui/plan-text.test.js',
    'dist/test/cli/converged.test.js',
    'dist/test/cli/extra-ca.test.js',
    'dist/test/cli/model-cache.test.js',
    'dist/test/cli/project-name.test.js',
    'dist/test/watch/classify.test.js',
    'dist/test/watch/session.test.js',
    'dist/test/watch/host.test.js',
    'dist/test/infra/layers.test.js',
    'dist/test/network/ipam.test.js',
    'dist/test/network/nft-rules.test.js',
    'dist/test/network/ports.test.js',
    'dist/test/network/port-conflicts.test.js',
    'dist/test/network/health.test.js',
    'dist/test/network/conntrack.test.js',
    'dist/test/network/manager-unit.test.js',
    'dist/test/image/reference.test.js',
    'dist/test/image/conformance.test.js',
    'dist/test/image/build/parser.test.js',
    'dist/test/image/build/dockerignore.test.js',
    'dist/test/image/build/conformance-*.test.js',
    'dist/test/image/build/run-spec.test.js',
    'dist/test/engine-runtime/oci-spec.test.js',
    'dist/test/engine/ffi-async.test.js',
    'dist/test/engine-runtime/isolation-spec.test.js',
    'dist/test/engine-runtime/devices-spec.test.js',
    'dist/test/engine-runtime/pure.test.js',
    'dist/test/engine-runtime/output.test.js',
    'dist/test/engine/containers-unit.test.js',
    'dist/test/engine/recovery-unit.test.js',
    'dist/test/engine/lock-dir.test.js',
    'dist/test/engine/stamp-grain.test.js',
    'dist/test/engine/digest.test.js',
    'dist/test/engine/no-collation.test.js',
    'dist/test/engine/cgroup-dirs.test.js',
    'dist/test/dns/records.test.js',
    'dist/test/dns/etc-files.test.js',
    'dist/test/security/seccomp-profile.test.js',
    'dist/test/security/container-masks.test.js',
    // property runs with time budgets of seconds each are left to the whole suite
    '!dist/test/**/*fuzz*.test.js',
    // a real three-node Swarm (dockerd as root): the whole suite only
    '!dist/test/deploy/swarm/swarm.test.js',
  ],
  timeout: '1m',
  concurrency: 2,
  workerThreads: true,
};
