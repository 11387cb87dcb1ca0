// A Plan: what `up` (or `down`) will do, each action with the resource it acts
// on and why, and the graph of steps that carries the actions out (steps.ts).
// The text form is one line per action, in execution order:
//
//   <type> <resource> (<cause>)[ after: <edges>]
//
// the edges (with `{ edges: true }`, as `tsstack plan` prints) say what the
// action waits for: `after: db healthy, init completed` (steps.ts actionEdges).
//
// resources: `network:<key>`, `volume:<key>`, `image:<ref>`, `service:<name>:<n>`,
// `container:<name>` (orphans and removals); repairs name `dns`, `firewall` or
// `network:<name>`. Order: repairs, networks, volumes, images, removals, then
// services along depends_on (ties by name, replicas by number).

import type { BuildSpec } from '../model/types.js';
import type { ContainerInfo, Fault, PullPolicy } from '../engine/api.js';
import type { DesiredContainer, DesiredNetwork, DesiredState, DesiredVolume } from './desired.js';
import { actionEdges, planSteps, type Step } from './steps.js';

export type ActionType =
  | 'repair'
  | 'create-network'
  | 'create-volume'
  | 'pull'
  | 'build'
  | 'remove'
  | 'remove-orphan'
  | 'create'
  | 'recreate'
  | 'start'
  | 'restart'
  | 'stop'
  | 'remove-network'
  | 'remove-volume';

export interface Action {
  type: ActionType;
  resource: string;
  cause: string;
  service?: string;
  container?: DesiredContainer;
  observed?: ContainerInfo;
  network?: DesiredNetwork;
  networkName?: string;
  volume?: DesiredVolume;
  volumeName?: string;
  image?: string;
  policy?: PullPolicy;
  build?: BuildSpec;
  fault?: Fault;
}

/**
 * Why `up` stops before changing anything, chosen where the problem is found (never read back from its
 * text): `invalid` the stack asks for something that cannot be (exit 2), `missing` something it names is
 * not there (exit 3 when every problem is one), `conflict` something else holds what it needs (exit 4),
 * `unchecked` a check could not run, so nothing is known (exit 8 when every problem is one).
 */
export type ProblemKind = 'invalid' | 'missing' | 'conflict' | 'unchecked';

export interface Problem {
  kind: ProblemKind;
  message: string;
}

export const problem = (kind: ProblemKind, message: string): Problem => ({ kind, message });

/** Remaking from the records what the host lost (a dead DNS server, a deleted bridge, a flushed firewall). */
export const REPAIR: ReadonlySet<ActionType> = new Set(['repair']);
export const INFRA: ReadonlySet<ActionType> = new Set(['create-network', 'create-volume']);
export const IMAGE: ReadonlySet<ActionType> = new Set(['pull', 'build']);
export const REMOVAL: ReadonlySet<ActionType> = new Set(['remove', 'remove-orphan']);
export const SERVICE: ReadonlySet<ActionType> = new Set(['create', 'recreate', 'start', 'restart']);

export class Plan {
  constructor(
    readonly project: string,
    readonly actions: Action[],
    /** Services in start order (dependencies first), limited to the selection. */
    readonly order: string[],
    readonly desired: DesiredState | undefined,
    /** Things worth saying that change nothing (orphans left in place, …). */
    readonly warnings: string[] = [],
    /** Problems found without IO that stop `up` before anything changes. */
    readonly problems: Problem[] = [],
    /** Made for `--no-start`: containers are created, nothing is started. */
    readonly noStart = false,
  ) {}

  private graph?: Step[];

  /** The steps that carry the actions out, with their edges (made once, on first use). */
  get steps(): Step[] {
    this.graph ??= planSteps(this, { noStart: this.noStart });
    return this.graph;
  }

  get empty(): boolean {
    return this.actions.length === 0;
  }

  lines(opts: { edges?: boolean } = {}): string[] {
    if (!opts.edges) return this.actions.map((a) => formatAction(a));
    return this.actions.map((a) => formatAction(a, actionEdges(this.steps, a)));
  }

  toString(): string {
    return this.lines().join('\n');
  }

  toJSON(): object {
    return {
      project: this.project,
      actions: this.actions.map((a) => ({ type: a.type, resource: a.resource, cause: a.cause })),
      warnings: this.warnings,
      problems: this.problems.map((p) => p.message),
    };
  }
}

export function formatAction(a: Action, edges: string[] = []): string {
  return `${a.type} ${a.resource} (${a.cause})${edges.length ? ` after: ${edges.join(', ')}` : ''}`;
}

/** The steps one a line, `<id>` then what it needs: `<- a, b` (succeeded), `after c` (over). */
export function formatSteps(steps: Step[]): string[] {
  return steps.map((s) => [s.id, s.dependsOn.length ? `<- ${s.dependsOn.join(', ')}` : '', s.after.length ? `after ${s.after.join(', ')}` : ''].filter(Boolean).join('  '));
}
