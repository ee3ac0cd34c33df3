/** Fixed texts of the command line. */
import { VERSION } from '../util/version';

/** The first line is the original's, which scripts grep for. */
export const VERSION_TEXT = `Linux Director v1.186-ha
ldirectord ${VERSION} (TypeScript, Node.js ${process.version})
1999-2006 Jacob Rief, Horms and others
<http://www.vergenet.net/linux/ldirectord/>

ldirectord comes with ABSOLUTELY NO WARRANTY.
This is free software, and you are welcome to redistribute it
under certain conditions. See the GNU General Public Licence for details.
`;

export const USAGE = `Usage:
  ldirectord [-d|--debug] [--ipvsadm PATH] [--metrics [ADDR:]PORT [--status-page]] [--] [CONFIG] start|stop|restart|try-restart|reload|force-reload|status
  ldirectord -t|--check [--json] CONFIG
  ldirectord --dry-run [--json] [--ipvsadm PATH] [--against RUNNING-CONFIG] CONFIG
  ldirectord -d --dry-run [--ipvsadm PATH] CONFIG start
  ldirectord [CONFIG] status -v|show [--json]
  ldirectord [CONFIG] logs [-f] [-n N] [--virtual V] [--real R] [--since T] [--json] [--all]
  ldirectord CONFIG drain REAL [--virtual V] [--timeout S]
  ldirectord CONFIG undrain REAL [--virtual V]
  ldirectord -h|--help, -v|--version

Options:
  -d, --debug        stay in the foreground, log to stderr, write no pid file
  --ipvsadm PATH     the ipvsadm to run (default /sbin/ipvsadm, /usr/sbin/ipvsadm, PATH)
  --metrics PORT     serve Prometheus metrics on 127.0.0.1:PORT (or ADDR:PORT)
  --status-page      serve the live status page at / on the --metrics listener
  -t, --check        parse CONFIG as the daemon would and report; change nothing
  --json             machine-readable output (--check, --dry-run, show, logs)
  --dry-run          print the ipvsadm -R commands that CONFIG would run now; change nothing
  --against CONFIG   --dry-run: the running daemon's CONFIG, when the candidate has another name
  status -v|--verbose, show
                     the running daemon's live table
  logs -f|--follow, -n|--lines N
                     follow the log; show the last N entries (default 10)
  logs --virtual V, --real R, --since T
                     only entries about V or R, or since T (10m, 2h, HH:MM, ISO time)
  logs --all         every instance's lines of a shared log file, not only CONFIG's
  drain REAL         weight 0 now, out once its connections end (or after --timeout S,
                     default 300); kept across reload and restart until undrain
  -h, --help         this text
  -v, --version      the version

CONFIG is looked up in /etc/ha.d/, then /etc/ha.d/conf/, then as given;
without CONFIG, ldirectord.cf is used. With two words, the first is CONFIG and the
second the command, as the original reads them.

Exit codes: 0 success, 1 initialisation error, 2 configuration error,
3 not running (status), 4 not root (commands that change the director),
255 usage error.
`;
