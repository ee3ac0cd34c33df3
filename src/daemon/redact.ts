/**
 * Keep secrets out of everything the daemon writes (logs, status, metrics, e-mail,
 * monitorfile): every passwd, secret and login value of the config is replaced by `***`.
 * Values of three characters or more are replaced wherever they appear; shorter ones only
 * where they stand alone, so a one-letter password does not blank every word. A URL's
 * userinfo (`http://user:pw@host/`, in a request=) is masked whatever the config says.
 */
import type { Config } from '../parser/model';
import { MASKED, maskUserinfo } from '../text/secrets';

export class Redactor {
  private long: string[] = [];
  private short: RegExp | null = null;

  constructor(cfg?: Config) {
    if (cfg) this.update(cfg);
  }

  update(cfg: Config): void {
    const values = new Set<string>();
    for (const v of cfg.virtuals) for (const s of [v.passwd, v.secret, v.login]) if (s) values.add(s);
    const all = [...values].sort((a, b) => b.length - a.length);
    this.long = all.filter((s) => s.length >= 3);
    const short = all.filter((s) => s.length < 3).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.short = short.length ? new RegExp(`(?<![A-Za-z0-9])(?:${short.join('|')})(?![A-Za-z0-9])`, 'g') : null;
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.long) if (out.includes(s)) out = out.split(s).join(MASKED);
    if (this.short) out = out.replace(this.short, MASKED);
    return maskUserinfo(out);
  }
}
