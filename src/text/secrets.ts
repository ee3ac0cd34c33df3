/**
 * What a secret looks like once shown: `***`. One place for the mask and for the
 * secrets that are recognised by their shape rather than by a directive (a URL's
 * `user:password@`), used by the config dump and the daemon's redactor alike.
 */

/** What a secret's value is shown as, in the dump and everywhere else. */
export const MASKED = '***';

/** `scheme://user:password@` (or `//user@`): the userinfo of a URL. Linear: no nested repeats. */
const USERINFO = /(\/\/)[^\s/?#@]+@/g;

/** `text` with every URL's userinfo shown as `***`. */
export function maskUserinfo(text: string): string {
  return text.includes('@') ? text.replace(USERINFO, `$1${MASKED}@`) : text;
}
