// The little DER this package writes itself (extension lists, genp values).
import { CmpError } from './errors';
import { binding } from './native';

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

/** OBJECT IDENTIFIER from a dotted OID or an OpenSSL object name. */
export function oidDer(oid: string, param: string): Buffer {
  const dotted = binding.objectOid(oid);
  if (dotted === null) throw new CmpError(`${param}: unknown object '${oid}'`, { code: 'ERR_CMP_INVALID_ARGUMENT' });
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const out: number[] = [Number(arcs[0] * 40n + arcs[1])];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [];
    let v = arc;
    do {
      chunk.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i] |= 0x80;
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** The dotted form of the OBJECT IDENTIFIER element `t`. */
export function oidText(der: Buffer, t: { content: number; end: number }): string {
  const arcs: bigint[] = [];
  let v = 0n;
  for (const b of der.subarray(t.content, t.end)) {
    v = (v << 7n) | BigInt(b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0n;
    }
  }
  const first = arcs[0] < 80n ? arcs[0] / 40n : 2n;
  return [first, arcs[0] - first * 40n, ...arcs.slice(1)].join('.');
}

/** INTEGER, two's complement, minimal. */
export function integerDer(n: bigint): Buffer {
  let hex = (n < 0n ? (1n << BigInt(n.toString(16).length * 4 + 8)) + n : n).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (n >= 0n && bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

/** SEQUENCE OF the given DER elements. */
export function sequenceOf(items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

export interface Tlv {
  tag: number;
  /** Offset of the tag, of the content, and just past the content. */
  start: number;
  content: number;
  end: number;
}

/** Reads the DER element at `at` (definite lengths only); throws on truncation. */
export function readTlv(der: Buffer, at: number, limit = der.length): Tlv {
  if (at + 2 > limit) throw new RangeError('truncated DER');
  let len = der[at + 1];
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || at + 2 + n > limit) throw new RangeError('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[at + 2 + i];
    hdr += n;
  }
  if (at + hdr + len > limit) throw new RangeError('truncated DER');
  return { tag: der[at], start: at, content: at + hdr, end: at + hdr + len };
}

/** The elements inside a constructed element. */
export function children(der: Buffer, outer: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = outer.content; at < outer.end; at = out[out.length - 1].end) out.push(readTlv(der, at, outer.end));
  return out;
}

/** A UTCTime or GeneralizedTime element as a Date. */
export function timeOf(der: Buffer, t: Tlv): Date {
  const s = der.toString('latin1', t.content, t.end);
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m || (t.tag !== 0x17 && t.tag !== 0x18)) throw new RangeError('unsupported time encoding');
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

/**
 * The generalInfo of a PKIMessage's header (PKIHeader's [8] SEQUENCE OF InfoTypeAndValue) as
 * { type: dotted OID, value?: DER of infoValue }; empty when absent or unreadable.
 */
export function headerGeneralInfo(message: Buffer): Array<{ type: string; value?: Buffer }> {
  try {
    const header = children(message, readTlv(message, 0))[0];
    const gi = children(message, header).find((t) => t.tag === 0xa8);
    if (!gi) return [];
    return children(message, children(message, gi)[0]).map((itav) => {
      const [type, value] = children(message, itav);
      return { type: oidText(message, type), value: value ? message.subarray(value.start, value.end) : undefined };
    });
  } catch {
    return [];
  }
}
