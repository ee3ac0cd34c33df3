/** Fixed texts of the command line. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };

/** The first line is the original's, which scripts grep for. */
export const VERSION_TEXT = `Linux Director v1.186-ha
ldirectord ${pkg.version} (TypeScript, Node.js ${process.version})
1999-2006 Jacob Rief, Horms and others
<http://www.vergenet.net/linux/ldirectord/>

ldirectord comes with ABSOLUTELY NO WARRANTY.
This is free software, and you are welcome to redistribute it
under certain conditions. See the GNU General Public Licence for details.
`;

export const USAGE = `Usage:
  ldirectord [-d|--debug] [--ipvsadm PATH] [--] [CONFIG] start|stop|restart|try-restart|reload|force-reload|status
  ldirectord -t|--check [--json] CONFIG
  ldirectord --dry-run [--json] [--ipvsadm PATH] CONFIG
  ldirectord -d --dry-run [--ipvsadm PATH] CONFIG start
  ldirectord [CONFIG] status -v|show [--json]
  ldirectord [CONFIG] logs [-f] [-n N] [--virtual V] [--real R] [--since T] [--json]
  ldirectord -h|--help, -v|--version

CONFIG is looked up in /etc/ha.d/, then /etc/ha.d/conf/, then as given;
without CONFIG, ldirectord.cf is used.

Exit codes: 0 success, 1 initialisation error, 2 configuration error,
3 not running (status), 255 usage error.
`;
