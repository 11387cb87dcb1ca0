// Subordinate ids and the namespace mapping (src/engine/rootless/ids.ts): pure.
import test from 'ava';
import { describeMapped, idMappings, idMapText, isIdentityMap, mappedSize, newIdMapArgs, parseIdMap, parseSubIds, toHost } from '../../src/engine/rootless/ids.js';

const SUBUID = `# comment
alice:100000:65536
bob:165536:65536

1000:300000:10
alice:bad:1
alice:400000
alice:100500:10
carol:500000:0
alice:4294967290:100
`;

test('ranges by name and by uid, malformed, empty and overlapping lines skipped', (t) => {
  t.deepEqual(parseSubIds(SUBUID, { name: 'alice', id: 1000 }), [
    { start: 100000, count: 65536 },
    { start: 300000, count: 10 },
  ]);
  t.deepEqual(parseSubIds(SUBUID, { name: 'bob', id: 1001 }), [{ start: 165536, count: 65536 }]);
  t.deepEqual(parseSubIds(SUBUID, { name: 'carol', id: 1002 }), []);
  t.deepEqual(parseSubIds(SUBUID, { id: 1000 }), [{ start: 300000, count: 10 }]);
  t.deepEqual(parseSubIds('', { name: 'dave', id: 7 }), []);
});

test("mapping: 0 is the user, then the subordinate ranges; the user's own id is cut out of a range", (t) => {
  const maps = idMappings(1000, [{ start: 100000, count: 65536 }, { start: 300000, count: 10 }]);
  t.deepEqual(maps, [
    { containerID: 0, hostID: 1000, size: 1 },
    { containerID: 1, hostID: 100000, size: 65536 },
    { containerID: 65537, hostID: 300000, size: 10 },
  ]);
  t.is(mappedSize(maps), 65547);
  t.is(toHost(maps, 0), 1000);
  t.is(toHost(maps, 1), 100000);
  t.is(toHost(maps, 65537), 300000);
  t.is(toHost(maps, 65547), undefined);
  t.deepEqual(idMappings(1000, [{ start: 999, count: 3 }]), [
    { containerID: 0, hostID: 1000, size: 1 },
    { containerID: 1, hostID: 999, size: 1 },
    { containerID: 2, hostID: 1001, size: 1 },
  ]);
  t.deepEqual(idMappings(1000, []), [{ containerID: 0, hostID: 1000, size: 1 }]);
});

test('newuidmap arguments and the uid_map text', (t) => {
  const maps = idMappings(1000, [{ start: 100000, count: 65536 }]);
  t.deepEqual(newIdMapArgs(42, maps), ['42', '0', '1000', '1', '1', '100000', '65536']);
  t.is(idMapText(maps), '0 1000 1\n1 100000 65536\n');
});

test('uid_map text read back; the initial namespace; mapped ids for messages', (t) => {
  const maps = parseIdMap('         0       1001          1\n         1     100000      65536\n');
  t.deepEqual(maps, [{ containerID: 0, hostID: 1001, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }]);
  t.false(isIdentityMap(maps));
  t.true(isIdentityMap(parseIdMap('         0          0 4294967295\n')));
  t.is(describeMapped(maps), '0–65536');
  t.is(describeMapped([{ containerID: 0, hostID: 5, size: 1 }, { containerID: 10, hostID: 7, size: 5 }]), '0, 10–14');
  t.is(describeMapped([]), 'none');
});
