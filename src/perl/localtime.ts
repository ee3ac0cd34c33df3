/**
 * Perl's `scalar localtime()`: `Sat Nov  1 09:05:03 2026` (local time, the day padded with a
 * space). The log file, stdout lines and the monitorfile are stamped with it, and
 * `ldirectord logs` reads it back, so both directions live here.
 */
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');
const STAMP = /^([A-Z][a-z]{2}) ([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

export function perlLocaltime(d = new Date()): string {
  const date = String(d.getDate()).padStart(2, ' ');
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${date} ${time} ${d.getFullYear()}`;
}

/** Perl's scalar localtime() text → ms since the epoch (read as local time), or null. */
export function parsePerlLocaltime(stamp: string): number | null {
  const m = STAMP.exec(stamp);
  if (!m || !DAYS.includes(m[1]!)) return null;
  const month = MONTHS.indexOf(m[2]!);
  const [day, h, min, s, y] = [m[3], m[4], m[5], m[6], m[7]].map(Number) as [number, number, number, number, number];
  if (month < 0 || day < 1 || day > 31 || h > 23 || min > 59 || s > 60) return null;
  return new Date(y, month, day, h, min, s).getTime();
}
