/**
 * Text that comes from outside (a real server's bytes, a file, a command's stderr, a
 * library's error message) is hostile until bounded: it is cut to a known length and its
 * control characters are escaped before it reaches a log line, syslog, the terminal, the
 * monitorfile, a status page, a metrics label or an e-mail. A server that answers with
 * "\n[Mon Dec  7 ...|ldirectord|1] Real server up: ..." or an ANSI/OSC sequence then shows
 * exactly that text, inert, on one line.
 *
 * One place, so that every output gets the same bound: UNTRUSTED_MAX characters, then
 * `... (N bytes)`.
 */

/** The most characters of outside text any output carries in one piece. */
export const UNTRUSTED_MAX = 512;

/** C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators. */
const CONTROL = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Outside text made safe for any output: at most `max` characters (then
 * `... (N bytes)` with the full length), every control character escaped (`\n`, `\x1b`),
 * backslashes doubled so an escape cannot be forged. The result is one printable line.
 */
export function inert(text: string, max = UNTRUSTED_MAX): string {
  const cut = text.length > max;
  const shown = (cut ? text.slice(0, max) : text).replace(/\\/g, '\\\\').replace(CONTROL, escapeChar);
  return cut ? `${shown}... (${Buffer.byteLength(text, 'latin1')} bytes)` : shown;
}

/** Outside text as a quoted value in a sentence: `"250 ok\r"`, bounded and inert. */
export function quoted(text: string, max = 120): string {
  return `"${inert(text, max).replace(/"/g, '\\"')}"`;
}

/**
 * Text the daemon itself composed that may hold outside text somewhere inside it (a check
 * reason, an ipvsadm stderr): control characters escaped, bounded at `max`. Backslashes
 * are kept as they are (the daemon's own text has none that need doubling, and an
 * already-escaped server text must not be escaped twice).
 */
export function oneLine(text: string, max = 4 * UNTRUSTED_MAX): string {
  const cut = text.length > max;
  const shown = (cut ? text.slice(0, max) : text).replace(CONTROL, escapeChar);
  return cut ? `${shown}... (${text.length} chars)` : shown;
}
