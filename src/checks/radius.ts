/**
 * service=radius negotiate check (Perl check_radius, which uses Authen::Radius check_pwd).
 *
 * One Access-Request over UDP to the check port (RFC 2865): User-Name, User-Password
 * hidden with the shared secret and the Request Authenticator, NAS-IP-Address (the local
 * address, as Authen::Radius sends; NAS-IPv6-Address on IPv6), and a Message-Authenticator
 * (RFC 3579 HMAC-MD5, which current servers require against the BlastRADIUS attack;
 * Authen::Radius leaves it out, servers that do not know it ignore it).
 *
 * Up only on an Access-Accept whose Response Authenticator (and Message-Authenticator,
 * when present) is right for the shared secret. An Access-Reject, an Access-Challenge, a
 * forged or wrong-secret answer, a socket error or no answer by the deadline is down.
 * A request is resent unchanged (same identifier, same authenticator) after 1 s, 2 s, …
 * until the deadline, as RFC 2865 section 2.4 allows, so one lost datagram is not a failure.
 *
 * Reasons name the reply code (`Access-Accept`, `Access-Reject`, …) and never contain
 * the password or the secret.
 */
import { createHash, createHmac, randomBytes, randomInt } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { aborted, down, failed, up, type Verdict } from './kernel';
import { datagramExchange } from './datagram';
import { defineKind, negotiateBase } from './kind';
import { ipv6Groups } from './ipv6';

export interface RadiusSpec {
  kind: 'radius';
  host: string;
  port: number;
  secret: string;
  user: string;
  password: string;
  timeoutMs: number;
}

const ACCESS_REQUEST = 1;
const CODES: Record<number, string> = { 2: 'Access-Accept', 3: 'Access-Reject', 11: 'Access-Challenge' };

const ATTR_USER_NAME = 1;
const ATTR_USER_PASSWORD = 2;
const ATTR_NAS_IP_ADDRESS = 4;
const ATTR_MESSAGE_AUTHENTICATOR = 80;
const ATTR_NAS_IPV6_ADDRESS = 95;

const RETRANSMIT_MS = 1000;

export const radius = defineKind<RadiusSpec>({
  services: { radius: 1812 },
  spec: (t) => ({
    kind: 'radius',
    ...negotiateBase(t),
    secret: t.secret,
    user: t.login,
    password: t.passwd,
  }),
  run(spec, { signal }) {
    const secret = Buffer.from(spec.secret, 'utf8');
    const id = randomInt(0, 256);
    let authenticator: Buffer | null = null;
    return datagramExchange<Verdict>({
      host: spec.host,
      port: spec.port,
      signal,
      // Resent unchanged (same identifier and authenticator), as RFC 2865 2.4 allows.
      retransmit: { firstMs: RETRANSMIT_MS, maxMs: Infinity },
      request: (local) => {
        const r = accessRequest(id, spec.user, spec.password, secret, local.address);
        authenticator = r.authenticator;
        return r.packet;
      },
      accept: (msg) => (authenticator ? (judgeReply(msg, id, authenticator, secret) ?? undefined) : undefined),
      failed: (e) => (e instanceof Error && !(e as NodeJS.ErrnoException).code ? down('error', e.message) : failed(e)),
      aborted: () => aborted(signal),
    });
  },
});

/**
 * Judge a datagram from the server: null when it is not an answer to our request (wrong
 * identifier or too short: keep waiting), else the check's result.
 */
export function judgeReply(msg: Buffer, id: number, requestAuthenticator: Buffer, secret: Buffer): Verdict | null {
  if (msg.length < 20 || msg[1] !== id) return null;
  const length = msg.readUInt16BE(2);
  if (length < 20 || length > msg.length) return down('protocol', 'malformed RADIUS reply (bad length)');
  const packet = msg.subarray(0, length);
  const code = packet[0];
  const name = CODES[code] ?? `RADIUS code ${code}`;
  const expected = md5(packet.subarray(0, 4), requestAuthenticator, packet.subarray(20), secret);
  if (!expected.equals(packet.subarray(4, 20)))
    return down('auth', `${name} with a wrong Response Authenticator (shared secret mismatch?)`);
  const ma = findAttribute(packet, ATTR_MESSAGE_AUTHENTICATOR);
  if (ma === 'malformed') return down('protocol', `${name} with malformed attributes`);
  if (ma !== null) {
    // RFC 3579 3.2: HMAC-MD5 over the reply with the Request Authenticator in place and the
    // Message-Authenticator zeroed.
    const copy = Buffer.from(packet);
    requestAuthenticator.copy(copy, 4);
    copy.fill(0, ma.offset, ma.offset + 16);
    const mac = createHmac('md5', secret).update(copy).digest();
    if (ma.value.length !== 16 || !mac.equals(ma.value))
      return down('auth', `${name} with a wrong Message-Authenticator`);
  }
  return code === 2 ? up(name) : down(code === 3 ? 'auth' : 'status', name);
}

function findAttribute(packet: Buffer, type: number): { offset: number; value: Buffer } | null | 'malformed' {
  let off = 20;
  while (off < packet.length) {
    if (off + 2 > packet.length) return 'malformed';
    const len = packet[off + 1];
    if (len < 2 || off + len > packet.length) return 'malformed';
    if (packet[off] === type) return { offset: off + 2, value: packet.subarray(off + 2, off + len) };
    off += len;
  }
  return null;
}

/** Build an Access-Request (RFC 2865 4.1) signed with a Message-Authenticator (RFC 3579). */
export function accessRequest(
  id: number,
  user: string,
  password: string,
  secret: Buffer,
  localAddress: string,
  authenticator: Buffer = randomBytes(16),
): { packet: Buffer; authenticator: Buffer } {
  const userName = Buffer.from(user, 'utf8');
  if (userName.length > 253) throw new Error('User-Name longer than 253 bytes');
  const attrs: Buffer[] = [
    attribute(ATTR_USER_NAME, userName),
    attribute(ATTR_USER_PASSWORD, hidePassword(Buffer.from(password, 'utf8'), secret, authenticator)),
  ];
  if (isIPv4(localAddress))
    attrs.push(attribute(ATTR_NAS_IP_ADDRESS, Buffer.from(localAddress.split('.').map(Number))));
  else if (isIPv6(localAddress)) attrs.push(attribute(ATTR_NAS_IPV6_ADDRESS, ipv6Bytes(localAddress)));
  else attrs.push(attribute(ATTR_NAS_IP_ADDRESS, Buffer.from([127, 0, 0, 1])));
  attrs.push(attribute(ATTR_MESSAGE_AUTHENTICATOR, Buffer.alloc(16)));
  const body = Buffer.concat(attrs);
  const header = Buffer.alloc(4);
  header[0] = ACCESS_REQUEST;
  header[1] = id;
  header.writeUInt16BE(20 + body.length, 2);
  const packet = Buffer.concat([header, authenticator, body]);
  const mac = createHmac('md5', secret).update(packet).digest();
  mac.copy(packet, packet.length - 16);
  return { packet, authenticator };
}

/**
 * RFC 2865 5.2: pad the password with NULs to a multiple of 16 bytes; c(1) = p(1) xor
 * MD5(secret + Request Authenticator), c(i) = p(i) xor MD5(secret + c(i-1)).
 */
export function hidePassword(password: Buffer, secret: Buffer, authenticator: Buffer): Buffer {
  if (password.length > 128) throw new Error('User-Password longer than 128 bytes');
  const padded = Buffer.alloc(Math.max(16, Math.ceil(password.length / 16) * 16));
  password.copy(padded);
  const out = Buffer.alloc(padded.length);
  let prev = authenticator;
  for (let i = 0; i < padded.length; i += 16) {
    const b = md5(secret, prev);
    for (let j = 0; j < 16; j++) out[i + j] = padded[i + j] ^ b[j];
    prev = out.subarray(i, i + 16);
  }
  return out;
}

function attribute(type: number, value: Buffer): Buffer {
  if (value.length > 253) throw new Error(`RADIUS attribute ${type} too long`);
  return Buffer.concat([Buffer.from([type, value.length + 2]), value]);
}

function md5(...parts: Buffer[]): Buffer {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
}

function ipv6Bytes(address: string): Buffer {
  const out = Buffer.alloc(16);
  ipv6Groups(address).forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}
