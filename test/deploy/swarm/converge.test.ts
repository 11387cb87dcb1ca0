// When a service counts as deployed (pure): its desired number of tasks of its current spec run,
// none of an older spec is still wanted; a task allowed to end counts once it completed.
import test from 'ava';
import { allRunning } from '../../../src/deploy/swarm/converge.js';
import type { Task } from '../../../src/deploy/swarm/engine.js';
import type { JsonObject } from '../../../src/deploy/swarm/types.js';

const spec = (image: string, o: { replicas?: number; global?: boolean; condition?: string } = {}): JsonObject => ({
  TaskTemplate: { ContainerSpec: { Image: image }, ...(o.condition ? { RestartPolicy: { Condition: o.condition } } : {}) },
  Mode: o.global ? { Global: {} } : { Replicated: { Replicas: o.replicas ?? 1 } },
});
const task = (image: string, desired: string, state: string): Task => ({ ID: `${image}-${state}`, ServiceID: 's', DesiredState: desired, Spec: { ContainerSpec: { Image: image } }, Status: { State: state } });

test('replicated: enough running tasks of the current spec, and no older task still wanted', (t) => {
  t.false(allRunning(spec('b', { replicas: 2 }), []));
  t.false(allRunning(spec('b', { replicas: 2 }), [task('b', 'running', 'running'), task('b', 'running', 'starting')]));
  t.true(allRunning(spec('b', { replicas: 2 }), [task('b', 'running', 'running'), task('b', 'running', 'running'), task('a', 'shutdown', 'shutdown')]));
  t.false(allRunning(spec('b', { replicas: 1 }), [task('a', 'running', 'running')]), 'just after an update call: the old task runs');
  t.false(allRunning(spec('b', { replicas: 1 }), [task('b', 'running', 'running'), task('a', 'running', 'running')]));
});

test('global: no task yet is not done; every wanted task running is', (t) => {
  t.false(allRunning(spec('b', { global: true }), []));
  t.true(allRunning(spec('b', { global: true }), [task('b', 'running', 'running'), task('b', 'running', 'running')]));
  t.false(allRunning(spec('b', { global: true }), [task('b', 'running', 'running'), task('b', 'running', 'preparing')]));
});

test('a one-shot service (restart none / on-failure) is done when its task completed', (t) => {
  t.true(allRunning(spec('m', { condition: 'none' }), [task('m', 'shutdown', 'complete')]));
  t.true(allRunning(spec('m', { condition: 'on-failure' }), [task('m', 'running', 'complete')]));
  t.false(allRunning(spec('m'), [task('m', 'shutdown', 'complete')]), 'restart any: a completed task is not running');
  t.false(allRunning(spec('m', { condition: 'none' }), [task('m', 'shutdown', 'failed')]));
});
