// Keys sealed to the coordinator open only with its key, only for the item
// and serial they were sealed for, and only untouched.
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { coordinatorKey, publicKeyFrom, seal, unseal } from '../lib/bulk/distributed/sealing';
import { tmpDir } from './helpers/bulk';

const device = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

test('a sealed key opens with the coordinator key, for its item and serial only', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'sub', 'coordinator-key.pem');
    const own = coordinatorKey(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(coordinatorKey(file).export({ type: 'pkcs8', format: 'der' })).toEqual(own.export({ type: 'pkcs8', format: 'der' })); // read back, not made anew
    const pub = publicKeyFrom(fs.readFileSync(file), 'key file');
    const sealed = seal(pub, device, 'dev-1', '0A1B');
    expect(JSON.stringify(sealed)).not.toMatch(/PRIVATE KEY/);
    expect(unseal(own, sealed, 'dev-1', '0A1B').export({ type: 'pkcs8', format: 'der' })).toEqual(device.export({ type: 'pkcs8', format: 'der' }));

    expect(() => unseal(own, sealed, 'dev-2', '0A1B')).toThrow(/item 'dev-2': the sealed key does not open/);
    expect(() => unseal(own, sealed, 'dev-1', '0A1C')).toThrow(/does not open/);
    const other = coordinatorKey(path.join(dir, 'other.pem'));
    expect(() => unseal(other, sealed, 'dev-1', '0A1B')).toThrow(/does not open/);
    const ct = Buffer.from(sealed.ct, 'base64');
    ct[5] ^= 1;
    expect(() => unseal(own, { ...sealed, ct: ct.toString('base64') }, 'dev-1', '0A1B')).toThrow(/does not open/);
    expect(() => publicKeyFrom(device.export({ type: 'pkcs8', format: 'pem' }), 'coordinatorKey')).toThrow(/must be X25519, not ec/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('queue URLs', () => {
  const { parseQueueUrl } = require('../lib/bulk/distributed/redis') as typeof import('../lib/bulk/distributed/redis');

  test('a password in the URL is refused, and a URL that does not parse is not repeated in the error', () => {
    expect(() => parseQueueUrl('redis://u:hunter2@127.0.0.1:6379/q')).toThrow(/must not hold a password/);
    let message = '';
    try {
      parseQueueUrl('redis://u:hunter2@host:notaport/q');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/not a URL like redis:\/\/HOST:PORT\/NAME/);
    expect(message).not.toContain('hunter2');
  });

  test('HOST:PORT/DB/NAME', () => {
    const a = parseQueueUrl('redis://127.0.0.1:6390/3/plant-4', 'pw');
    expect(a).toMatchObject({ name: 'plant-4', options: { host: '127.0.0.1', port: 6390, db: 3, password: 'pw' } });
    expect(a.label).not.toContain('pw');
  });
});
