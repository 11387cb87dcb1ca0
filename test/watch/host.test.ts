// The pure parts of the CLI's watch host: plan announcement and status lines.
import test from 'ava';
import { LABEL } from '../../src/engine/api.js';
import { planLines, statusLines } from '../../src/cli/watch-host.js';
import { Plan } from '../../src/reconcile/plan.js';

test('planLines: one line per action with its cause, or that nothing changes', (t) => {
  const plan = new Plan('p', [
    { type: 'remove-orphan', resource: 'container:p-extra-1', cause: 'service extra is not in the stack' },
    { type: 'recreate', resource: 'service:web:1', cause: 'environment.GREETING' },
  ], ['web'], undefined);
  t.deepEqual(planLines(plan), [
    'watch: plan: remove-orphan container:p-extra-1 (service extra is not in the stack)',
    'watch: plan: recreate service:web:1 (environment.GREETING)',
  ]);
  t.deepEqual(planLines(new Plan('p', [], [], undefined)), ['watch: nothing to change']);
});

test('statusLines: one line per service, states counted, one-off containers left out', (t) => {
  const c = (service: string, status: 'running' | 'exited', extra: { health?: 'healthy'; exitCode?: number; oneoff?: boolean } = {}) => ({
    labels: { [LABEL.service]: service, ...(extra.oneoff ? { [LABEL.oneoff]: 'True' } : {}) }, status, health: extra.health, exitCode: extra.exitCode,
  });
  t.deepEqual(statusLines(['web', 'db', 'job', 'gone'], [
    c('web', 'running'), c('web', 'running'), c('db', 'running', { health: 'healthy' }), c('job', 'exited', { exitCode: 0 }), c('job', 'running', { oneoff: true }), c('web', 'exited', { exitCode: 137 }),
  ]), [
    'watch: db: 1 running (healthy)',
    'watch: gone: no containers',
    'watch: job: 1 exited (0)',
    'watch: web: 1 exited (137), 2 running',
  ]);
});
