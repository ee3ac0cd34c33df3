/**
 * The environment commands started by the daemon get: nothing of the daemon's own, a fixed
 * PATH and the C locale, so a check, ipvsadm or a callback behaves the same whatever shell
 * started the daemon.
 */
export const CHECK_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

export const COMMAND_ENV: Readonly<Record<string, string>> = { PATH: CHECK_PATH, LANG: 'C', LC_ALL: 'C' };
