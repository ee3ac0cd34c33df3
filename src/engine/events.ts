/**
 * What the engine tells the operator tools, typed: the monitorfile, the e-mail alerts,
 * the metrics and the status page act on these, never on log text.
 */
import type { CheckResult } from '../checks/kernel';
import type { RealServer, VirtualService } from '../parser/model';
import type { Op } from '../reconcile/diff';
import type { OpContext } from '../reconcile/ops';
import type { ReconcileReport } from '../reconcile/reconciler';
import type { Transition } from '../schedule/health';
import type { ProbeDef } from '../schedule/probes';

export type EngineEvent =
  /** A check ended (forced: maintenance, no check was run). */
  | { type: 'check'; probe: ProbeDef; result: CheckResult; forced: boolean }
  /** A member's health changed (or a soft failure was counted). */
  | { type: 'transition'; t: Transition }
  /** The kernel now shows an operation; `message` is the original's log line for it. */
  | { type: 'applied'; op: Op; context: OpContext; message: string }
  /** At stop: a real taken out with its whole service (one -D, no op of its own). */
  | { type: 'purged'; v: VirtualService; r: RealServer; message: string }
  | { type: 'reconcile'; report: ReconcileReport; ms: number }
  | { type: 'fallbackcommand'; v: VirtualService; status: 'start' | 'stop' }
  /** A virtual entered or left panic (policy.ts): every real kept in service. */
  | { type: 'panic'; v: VirtualService; panic: boolean; up: number; total: number; message: string }
  /** A virtual's quorum was lost or reached again (quorumdown / quorumup ran). */
  | { type: 'quorum'; v: VirtualService; reached: boolean; sum: number; message: string }
  /** Drains or slow starts changed: what Engine.policyState() returns is to be kept. */
  | { type: 'policy' };

/** The commands a config names that the engine runs. */
export type ConfigCommand = 'fallbackcommand' | 'quorumup' | 'quorumdown';
