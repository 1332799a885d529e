// Private keys made on workers travel through Redis sealed to the
// coordinator: X25519 with a fresh ephemeral key per item, HKDF-SHA256,
// AES-256-GCM with the item id and serial as associated data (a sealed key
// moved to another item does not open). All of it is Node's crypto, that is
// OpenSSL. Only the coordinator holds the private half; workers take the
// public half from Redis, or from a file they are given (pinned), which
// stops whoever can write to Redis from substituting a key of their own.
import {
  KeyObject,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
} from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { queueError } from './redis';

const INFO = Buffer.from('openssl-cmp bulk sealed key v1');

export interface SealedKey {
  /** Ephemeral X25519 public key (SPKI DER), IV, ciphertext of the PKCS#8 DER, GCM tag: base64 each. */
  epk: string;
  iv: string;
  ct: string;
  tag: string;
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

function aeadKey(shared: Buffer, epk: Buffer, recipient: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([epk, recipient]), INFO, 32));
}

function aad(id: string, serial: string): Buffer {
  return Buffer.from(`${id}\0${serial}`);
}

export function seal(recipient: KeyObject, key: KeyObject, id: string, serial: string): SealedKey {
  const eph = generateKeyPairSync('x25519');
  const epk = spki(eph.publicKey);
  const k = aeadKey(diffieHellman({ privateKey: eph.privateKey, publicKey: recipient }), epk, spki(recipient));
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', k, iv).setAAD(aad(id, serial));
  const ct = Buffer.concat([c.update(key.export({ type: 'pkcs8', format: 'der' })), c.final()]);
  return { epk: epk.toString('base64'), iv: iv.toString('base64'), ct: ct.toString('base64'), tag: c.getAuthTag().toString('base64') };
}

export function unseal(own: KeyObject, s: SealedKey, id: string, serial: string): KeyObject {
  try {
    const epk = Buffer.from(s.epk, 'base64');
    const shared = diffieHellman({ privateKey: own, publicKey: createPublicKey({ key: epk, format: 'der', type: 'spki' }) });
    const d = createDecipheriv('aes-256-gcm', aeadKey(shared, epk, spki(createPublicKey(own))), Buffer.from(s.iv, 'base64'));
    d.setAAD(aad(id, serial)).setAuthTag(Buffer.from(s.tag, 'base64'));
    const der = Buffer.concat([d.update(Buffer.from(s.ct, 'base64')), d.final()]);
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw queueError(`item '${id}': the sealed key does not open with this coordinator's key (${(err as Error).message})`, err);
  }
}

/** The coordinator's X25519 key from `file`, made there (mode 0600) when absent. */
export function coordinatorKey(file: string): KeyObject {
  try {
    return createPrivateKey(fs.readFileSync(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw queueError(`cannot read the coordinator key '${file}': ${(err as Error).message}`, err);
  }
  const { privateKey } = generateKeyPairSync('x25519');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return privateKey;
}

/** An X25519 public key from PEM (a coordinator key file, public or private, works too). */
export function publicKeyFrom(pem: string | Buffer, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw queueError(`${where}: not a public key (${(err as Error).message})`, err);
  }
  if (key.asymmetricKeyType !== 'x25519') throw queueError(`${where}: the coordinator key must be X25519, not ${key.asymmetricKeyType}`);
  return key;
}

export function fingerprint(key: KeyObject): string {
  return createHash('sha256').update(spki(key)).digest('hex');
}
