/** Perl's string idioms that the original's behaviour depends on. */

/** Perl truthiness of a string: everything but undef, "" and "0" ("00" and "0.0" are true). */
export const perlTrue = (s: string | null | undefined): s is string =>
  s !== null && s !== undefined && s !== '' && s !== '0';

/** Perl quotemeta: a backslash before every character that is not [A-Za-z0-9_]. */
export function quotemeta(s: string): string {
  return s.replace(/[^A-Za-z0-9_]/g, '\\$&');
}

/** Perl chomp: drop one trailing line terminator. */
export const chomp = (s: string) => s.replace(/\r?\n$/, '');

/** The text Perl's `$!` gives for the errno codes a config's files meet. */
export function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (code && ERRNO_TEXT[code]) || (e as Error).message;
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EROFS: 'Read-only file system',
  ELOOP: 'Too many levels of symbolic links',
};
