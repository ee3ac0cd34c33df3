/**
 * A throwaway FreeRADIUS 3 server: a minimal radiusd.conf of its own in a temp dir (no
 * copy of /etc/freeradius: that brings EAP certificates, an inner-tunnel site on
 * 127.0.0.1:18120 and a freerad user switch), run in the foreground with -X. It answers
 * Access-Requests on 127.30.3.1 and ::1 with PAP against a users file, with reject_delay 0.
 *
 * The client entry covers 127.0.0.0/8, not only 127.30.0.0/16: a socket that is not bound
 * sends to 127.30.3.1 from 127.0.0.1 (lo's primary address), and so does the check.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { which } from './env';
import { ADDR, freePort, startDaemon, tempDir, type Daemon } from './throwaway';

export const RADIUS_SECRET = 'shared-s3cret';
export const RADIUS_USER = 'alice';
/** Spaces, and long enough to span several 16-byte blocks of the hidden User-Password. */
export const RADIUS_PASSWORD = 'alice pw, long enough for four blocks of RFC 2865 hiding';

export interface FreeRadius extends Daemon {
  host: string;
  port: number;
}

export function missingFreeRadius(): string | null {
  return which('freeradius') ? null : 'freeradius is not installed (apt-get install freeradius)';
}

export async function startFreeRadius(): Promise<FreeRadius> {
  const dir = tempDir('freeradius');
  const host = ADDR.radius;
  const port = await freePort([
    ['udp', host],
    ['udp', '::1'],
  ]);
  mkdirSync(join(dir, 'run'));
  mkdirSync(join(dir, 'log'));
  // A users file line: name, then check items; the password is a double-quoted string.
  writeFileSync(
    join(dir, 'users'),
    `${RADIUS_USER} Cleartext-Password := "${RADIUS_PASSWORD.replace(/["\\]/g, '\\$&')}"\n`,
  );
  // The local dictionary file may be empty: the server's own dictionaries are read from
  // /usr/share/freeradius.
  writeFileSync(join(dir, 'dictionary'), '');
  writeFileSync(
    join(dir, 'radiusd.conf'),
    `
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = \${exec_prefix}/sbin
logdir = ${dir}/log
raddbdir = ${dir}
radacctdir = ${dir}/log
name = freeradius
confdir = ${dir}
modconfdir = ${dir}
certdir = ${dir}
cadir = ${dir}
run_dir = ${dir}/run
db_dir = ${dir}
libdir = /usr/lib/freeradius
pidfile = ${dir}/run/freeradius.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no
log {
	destination = stdout
	colourise = no
	auth = yes
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = no
}
thread pool {
	start_servers = 1
	max_servers = 2
	min_spare_servers = 1
	max_spare_servers = 2
	max_requests_per_server = 0
}
client loopback4 {
	ipaddr = 127.0.0.0/8
	secret = "${RADIUS_SECRET}"
}
client loopback6 {
	ipv6addr = ::1
	secret = "${RADIUS_SECRET}"
}
modules {
	pap {
	}
	files {
		filename = ${dir}/users
	}
}
server default {
	listen {
		type = auth
		ipaddr = ${host}
		port = ${port}
	}
	listen {
		type = auth
		ipv6addr = ::1
		port = ${port}
	}
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
}
`,
  );
  const d = await startDaemon('freeradius', dir, 'freeradius', ['-X', '-d', dir], {
    ready: [
      ['udp', host, port],
      ['udp', '::1', port],
    ],
  });
  return Object.assign(d, { host, port });
}
