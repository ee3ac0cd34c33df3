/**
 * Operations → ipvsadm argv, `ipvsadm -R` lines, and the original's log lines
 * (spec §6.0 command shapes, §8.2 message catalogue).
 */
import type { Op } from './diff';
import { destArgs, serviceArgs, serviceAttrArgs } from './table';

export function opArgv(op: Op): string[] {
  switch (op.kind) {
    case 'addService':
      return ['-A', ...serviceArgs(op.svc), ...serviceAttrArgs(op.svc, op.svc.proto)];
    case 'editService':
      return ['-E', ...serviceArgs(op.svc), ...serviceAttrArgs(op.svc, op.svc.proto)];
    case 'deleteService':
      return ['-D', ...serviceArgs(op.svc)];
    case 'addDest':
      // As Perl: add/restore pass the thresholds; a weight-0 (quiescent) add does not.
      return ['-a', ...serviceArgs(op.svc), ...destArgs(op.dest, op.dest.weight > 0)];
    case 'editDest':
      return ['-e', ...serviceArgs(op.svc), ...destArgs(op.dest, op.dest.weight > 0)];
    case 'deleteDest':
      return ['-d', ...serviceArgs(op.svc), '-r', op.before.key];
  }
}

/** One `ipvsadm -R` line (the argv joined; every value is validated, nothing needs quoting). */
export const restoreLine = (argv: string[]) => argv.join(' ');

/** A stable identity for an op, to tell which ops a re-read shows as still outstanding. */
export function opId(op: Op): string {
  switch (op.kind) {
    case 'addService':
    case 'editService':
    case 'deleteService':
      return `${op.kind} ${op.svc.key}`;
    case 'addDest':
    case 'editDest':
      return `${op.kind} ${op.svc.key} ${op.dest.key}`;
    case 'deleteDest':
      return `${op.kind} ${op.svc.key} ${op.before.key}`;
  }
}

/** What a reconcile is part of: start or reload ('start'), the running daemon ('run'), stop. */
export type OpContext = 'run' | 'start' | 'stop';

/** The original's log line for an op that was carried out. */
export function opMessage(op: Op, context: OpContext = 'run'): string {
  switch (op.kind) {
    case 'addService':
      return `Added virtual server: ${op.svc.label}`;
    case 'editService':
      return `Changed virtual server: ${op.svc.label}`;
    case 'deleteService':
      return `Purged virtual server (${op.why}): ${op.label}`;
    case 'addDest': {
      const d = op.dest;
      if (d.role === 'fallback')
        return `Added fallback server: ${d.label} (${op.svc.label}) (Weight set to ${d.weight})`;
      if (d.weight === 0)
        return `Readd Quiescent real server: ${mapped(d.key, d.label)}(${op.svc.label}) (Weight set to 0)`;
      return `Added real server: ${d.label} (${op.svc.label}) (Weight set to ${d.weight})`;
    }
    case 'editDest': {
      const d = op.dest;
      const role = d.role === 'fallback' ? 'fallback' : 'real';
      if (d.weight === 0)
        return `Quiescent ${role} server: ${mapped(d.key, d.label)}(${op.svc.label}) (Weight set to 0)`;
      return `Restored ${role} server: ${d.label} (${op.svc.label}) (Weight set to ${d.weight})`;
    }
    case 'deleteDest':
      if (isPurge(op, context))
        return `Purged real server (${context === 'stop' ? 'stop' : 'start'}): ${op.before.key} (${op.svc.label})`;
      return `Deleted ${op.role} server: ${mapped(op.before.key, op.label)}(${op.svc.label})`;
  }
}

/** Perl names a rewritten gate/ipip destination `rip:vport mapped from rip:rport `. */
function mapped(key: string, label: string): string {
  return key === label ? `${key} ` : `${key} mapped from ${label} `;
}

/** Whether a deleted destination is a purge (start, reload, stop, or not the config's own). */
export function isPurge(op: Op & { kind: 'deleteDest' }, context: OpContext): boolean {
  return op.role === 'stale' || context !== 'run';
}

/**
 * The subject of the e-mail the original sends for an op (Perl ld_emailalert_send): the
 * log line, except that a real re-added at weight 0 is mailed as "Quiescent real server"
 * (_remove_service), not as its "Readd Quiescent" log line.
 */
export function alertSubject(op: Op, context: OpContext): string {
  const message = opMessage(op, context);
  const readd = op.kind === 'addDest' && op.dest.role === 'real' && op.dest.weight === 0;
  return readd ? message.replace(/^Readd /, '') : message;
}
