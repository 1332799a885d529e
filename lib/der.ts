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

/** SEQUENCE OF the given DER elements. */
export function sequenceOf(items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}
