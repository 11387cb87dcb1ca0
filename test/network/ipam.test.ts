import test from 'ava';
import fc from 'fast-check';
import { TsstackError } from '../../src/util/errors.js';
import { contains, formatCidr, intToIp, ipToInt, overlaps, parseCidr } from '../../src/engine/network/cidr.js';
import { allocateAddress, chooseSubnet, macFor, pickSubnet, type Taken } from '../../src/engine/network/ipam.js';
import { parseResolvConf } from '../../src/engine/network/host.js';

const taken = (cidr: string, owner = cidr): Taken => ({ cidr: parseCidr(cidr), owner });

test('addresses and prefixes round-trip', (t) => {
  t.is(ipToInt('10.89.0.1'), 0x0a590001);
  t.is(intToIp(0xffffffff), '255.255.255.255');
  t.is(formatCidr(parseCidr('172.16.0.0/12')), '172.16.0.0/12');
  t.true(contains(parseCidr('10.89.0.0/24'), ipToInt('10.89.0.255')));
  t.false(contains(parseCidr('10.89.0.0/24'), ipToInt('10.89.1.0')));
  t.true(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.89.3.0/24')));
  t.false(overlaps(parseCidr('10.89.0.0/24'), parseCidr('10.89.1.0/24')));
});

const badCidrs: [string, RegExp][] = [
  ['10.89.0.0', /expected a\.b\.c\.d\/prefix/],
  ['10.89.0.0/33', /prefix of 0-32/],
  ['10.89.0.1/24', /host bits are set \(did you mean 10\.89\.0\.0\/24\?\)/],
  ['10.89.256.0/24', /invalid IPv4 subnet "10\.89\.256\.0"/],
  ['010.89.0.0/24', /invalid IPv4/],
];
for (const [input, msg] of badCidrs) {
  test(`parseCidr refuses ${input}`, (t) => {
    const e = t.throws(() => parseCidr(input), { instanceOf: TsstackError });
    t.regex(e!.message, msg);
  });
}

test('pickSubnet takes the lowest free /24 of the pool, skipping routes, resolvers and networks', (t) => {
  t.is(formatCidr(pickSubnet([])), '10.89.0.0/24');
  t.is(formatCidr(pickSubnet([taken('10.89.0.0/24'), taken('10.89.1.7/32'), taken('10.89.2.0/23')])), '10.89.4.0/24');
  const e = t.throws(() => pickSubnet([taken('10.0.0.0/8')]), { instanceOf: TsstackError });
  t.regex(e!.message, /no free \/24 subnet left in the address pool 10\.89\.0\.0\/16/);
});

test('pickSubnet never overlaps anything taken (property)', (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 8, max: 32 })), { maxLength: 20 }), (raw) => {
      const list = raw.map(([a, p]) => ({ cidr: { base: (a & (p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0)) >>> 0, prefix: p }, owner: 'x' }));
      try {
        const c = pickSubnet(list);
        return list.every((x) => !overlaps(x.cidr, c)) && c.prefix === 24;
      } catch (e) {
        return e instanceof TsstackError;
      }
    }),
  );
  t.pass();
});

test('chooseSubnet names both sides of an overlap', (t) => {
  const e = t.throws(() => chooseSubnet('p_b', { subnet: '10.1.0.0/16' }, [taken('10.1.2.0/24', 'host route 10.1.2.0/24 on eth0')]), { instanceOf: TsstackError });
  t.is(e!.code, 'CONFLICT');
  t.is(e!.message, 'subnet 10.1.0.0/16 of network "p_b" overlaps host route 10.1.2.0/24 on eth0');
  t.truthy(e!.hint);
  const c = chooseSubnet('p_c', { subnet: '192.168.5.0/24', gateway: '192.168.5.254' }, []);
  t.is(intToIp(c.gateway), '192.168.5.254');
  t.regex(t.throws(() => chooseSubnet('p', { subnet: '192.168.5.0/24', gateway: '192.168.5.255' }, []))!.message, /not a host address/);
  t.regex(t.throws(() => chooseSubnet('p', { subnet: '192.168.5.0/24', gateway: 'gw' }, []))!.message, /invalid IPv4 gateway of network "p" "gw"/);
  t.regex(t.throws(() => chooseSubnet('p', { subnet: '192.168.5.0/31' }, []))!.message, /too small: a \/31 leaves no room/);
});

test('allocateAddress: lowest free, requested ones checked', (t) => {
  const s = parseCidr('10.89.0.0/24');
  const gw = ipToInt('10.89.0.1');
  const used = new Map([[ipToInt('10.89.0.2'), 'c1']]);
  t.is(intToIp(allocateAddress('n', s, gw, used)), '10.89.0.3');
  t.is(intToIp(allocateAddress('n', s, gw, used, '10.89.0.200')), '10.89.0.200');
  t.is(t.throws(() => allocateAddress('n', s, gw, used, '10.89.0.2'))!.message, 'ipv4_address 10.89.0.2 on network "n" is already leased to container c1');
  t.regex(t.throws(() => allocateAddress('n', s, gw, used, '10.89.0.1'))!.message, /is the gateway/);
  t.regex(t.throws(() => allocateAddress('n', s, gw, used, '10.89.0.255'))!.message, /outside network "n"/);
  t.regex(t.throws(() => allocateAddress('n', s, gw, used, '10.90.0.5'))!.message, /outside network "n" \(subnet 10\.89\.0\.0\/24\)/);
  const tiny = parseCidr('10.0.0.0/30');
  t.regex(t.throws(() => allocateAddress('n', tiny, ipToInt('10.0.0.1'), new Map([[ipToInt('10.0.0.2'), 'x']])))!.message, /no free address left/);
});

test('macFor follows 02:42 + IPv4', (t) => {
  t.is(macFor(ipToInt('10.89.0.2')), '02:42:0a:59:00:02');
});

test('parseResolvConf keeps IPv4 nameservers', (t) => {
  t.deepEqual(parseResolvConf('# x\nnameserver 10.0.0.53\nnameserver ::1\n  nameserver 1.1.1.1 \nsearch lan\n'), ['10.0.0.53', '1.1.1.1']);
});
