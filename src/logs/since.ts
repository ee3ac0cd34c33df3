/**
 * `logs --since T`: a point in time from what an operator types. Pure (`now` is given).
 *
 *   duration   `30s`, `10m`, `2h`, `1d`, `1w`, combined `1h30m`: that long before now
 *   clock      `HH:MM` or `HH:MM:SS`: the latest such time that is not in the future
 *              (today, or yesterday when today's has not come yet)
 *   ISO 8601   `2026-11-21`, `2026-11-21T10:50`, `2026-11-21 10:50:06`, with an optional
 *              `Z` or `+01:00`; without an offset it is local time, like the log's stamps
 *   log stamp  `Sat Nov 21 10:50:06 2026`, as copied from a log line
 *   words      `today`, `yesterday` (local midnight)
 */
import { parsePerlLocaltime } from '../perl/localtime';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** ms since the epoch, or null when the text is none of the accepted forms. */
export function parseSince(text: string, now: Date): number | null {
  const t = text.trim();
  if (/^(\d+[smhdw])+$/.test(t)) {
    let ms = 0;
    for (const m of t.matchAll(/(\d+)([smhdw])/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    return now.getTime() - ms;
  }
  let m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (m) {
    const [h, min, s] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
    if (h > 23 || min > 59 || s > 59) return null;
    const d = new Date(now.getFullYear(), now.getMonth(), now.getDate(), h, min, s);
    if (d.getTime() > now.getTime()) d.setDate(d.getDate() - 1);
    return d.getTime();
  }
  if (t === 'today' || t === 'yesterday') {
    return new Date(now.getFullYear(), now.getMonth(), now.getDate() - (t === 'yesterday' ? 1 : 0)).getTime();
  }
  m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(t);
  if (m) {
    const [y, mo, d, h, min, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m![i] ?? 0)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const frac = m[7] ? Math.round(Number(m[7]) * 1000) : 0;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || min > 59 || s > 60) return null;
    const zone = m[8];
    if (zone === undefined) return new Date(y, mo - 1, d, h, min, s, frac).getTime();
    let off = 0;
    if (zone !== 'Z') {
      const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
      off = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3])) * 60_000;
    }
    return Date.UTC(y, mo - 1, d, h, min, s, frac) - off;
  }
  return parsePerlLocaltime(t);
}
