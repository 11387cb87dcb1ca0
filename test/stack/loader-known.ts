// Upstream loader cases that fail for a reason we accept (asserted to still fail, so a fix is noticed).
import type { KnownFailures } from './conformance.js';

const REMOTE = 'remote include/extends resources (remote:…) are not supported';

export const LOADER_KNOWN: KnownFailures = {
  TestLoadWithRemoteResources: REMOTE,
  TestLoadWithMissingResources: REMOTE,
  TestLoadWithNestedResources: REMOTE,
  TestLoadEmptyContent_MissingProject: 'by design: with no name anywhere tsstack names the project after its directory (upstream has no directory in this test)',
  TestLoadProjectName: 'a table test whose variants mix success and expected errors; the table keeps only the document',
  TestOverrideSelfExtends: 'by design: tsstack rejects one host port published by two services at load time (upstream accepts it; it would fail at up)',
  TestDeviceMapping: 'by design: tsstack rejects device permissions other than r, w, m at load time (upstream accepts "permissions"; Docker refuses it at create)',
  TestDeviceMappingLongSyntax: 'by design: tsstack rejects device permissions other than r, w, m at load time (upstream accepts "permissions"; Docker refuses it at create)',
  TestSysctls: 'by design: tsstack refuses sysctls that are not namespaced (testing.one.one) at load time, with their line (upstream accepts any key; Docker refuses it at create)',
  TestLoadBindMountSourceIsWindowsAbsolute: 'by design: tsstack runs Linux containers and refuses a mount target that is not an absolute Linux path (c:\\data) at load time (Docker refuses it at create)',
  TestNormalizeImplicitDependencies: 'upstream runs normalization alone on a document the schema rejects (cgroup: service:…)',
};

/**
 * Where upstream writes each document of a multi-file case (the table keeps only the texts):
 * read off the paths the main document references. `main` lists the documents given as -f files;
 * `extra` adds files upstream creates besides them.
 */
export const LAYOUTS: Record<string, { paths: string[]; main: number[]; extra?: Record<string, string> }> = {
  TestLoadExtendsSameFile: { paths: ['sub/compose.yaml', 'compose.yaml'], main: [1] },
  TestLoadExtendsListenerMultipleFiles: { paths: ['sub/compose.yaml', 'compose.yaml'], main: [1] },
  TestLoadWithIncludeEnv: { paths: ['compose.yaml', 'module/compose.yml'], main: [0], extra: { 'custom.env': 'VAR_NAME=value\n' } },
  TestLoadExtendsMultipleFiles: { paths: ['a/compose.yaml', 'b/compose.yaml', 'compose.yaml'], main: [2] },
  TestOverrideMiddle: { paths: ['base.yaml', 'override.yaml', 'compose.yaml'], main: [2] },
  TestNestedIncludeAndExtends: { paths: ['compose.yaml', 'dir/included.yaml', 'dir/extended.yaml'], main: [0] },
};

/** Table tests whose documents are variants with different outcomes (read from the upstream test). */
export const VARIANT_OUTCOMES: Record<string, ('ok' | 'error')[]> = {
  TestResetCycle: ['ok', 'ok', 'ok', 'ok', 'ok', 'error'],
};

/** Environment that the upstream test passes in Go code (read from the upstream test). */
export const CASE_ENV: Record<string, Record<string, string>> = {
  TestLoadWithInterpolationCastFull: { theint: '555', thefloat: '3.14', thebool: 'true', theduration: '60s', thesize: '2gb' },
  TestInterpolateInt: { FOO_SCALE: '2' },
};

/** Values the upstream test substitutes for a `%s` placeholder, one variant each (read from the upstream test). */
export const FORMAT_FILLS: Record<string, string[]> = {
  TestLoadTmpfsVolume: ['1kb', '1024'],
  TestResolveAdditionalContexts: ['/tmp/an-absolute-context'],
};
