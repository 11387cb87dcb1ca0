// ps --swarm and logs --swarm (pure parts): task rows, the details prefix of service logs.
import test from 'ava';
import { splitDetails, taskRows } from '../../../src/deploy/swarm/tasks.js';
import type { Task } from '../../../src/deploy/swarm/engine.js';

const svc = { ID: 's1', Spec: { Name: 'p_web', Labels: { 'tsstack.service': 'web' } } };
const task = (id: string, slot: number, desired: string, state: string, extra: Partial<Task> = {}): Task => ({
  ID: id, Slot: slot, NodeID: 'n1', ServiceID: 's1', DesiredState: desired,
  Spec: { ContainerSpec: { Image: 'reg:5000/web:1@sha256:' + 'a'.repeat(64) } },
  Status: { State: state }, ...extra,
});

test('task rows: running and wanted tasks by slot, node names, image without its digest; all with -a', (t) => {
  const tasks = [task('t2', 2, 'running', 'running'), task('t1', 1, 'running', 'running'), task('t0', 1, 'shutdown', 'failed', { Status: { State: 'failed', Err: 'exit 1' } }), task('x', 1, 'running', 'running', { ServiceID: 'other' })];
  const rows = taskRows([svc], tasks, { n1: 'node1' }, false);
  t.deepEqual(rows.map((r) => [r.name, r.node, r.state, r.image]), [['web.1', 'node1', 'running', 'reg:5000/web:1'], ['web.2', 'node1', 'running', 'reg:5000/web:1']]);
  const all = taskRows([svc], tasks, { n1: 'node1' }, true);
  t.is(all.length, 3);
  t.is(all.find((r) => r.id === 't0')!.error, 'exit 1');
});

test('service log lines: the task id comes from the details prefix; other lines pass unchanged', (t) => {
  t.deepEqual(splitDetails('com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t9 hello world'), { task: 't9', node: 'n1', text: 'hello world' });
  t.deepEqual(splitDetails('plain line'), { text: 'plain line' });
});
