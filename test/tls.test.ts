import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { CmpError } from '../lib';
import { closeAll, pbmContext } from './helpers/context';
import { MockServer, startMock } from './helpers/mock-server';
import { Pki, makePki, removePki } from './helpers/pki';
import { Relay, startRelay } from './helpers/relay';

let pki: Pki;
let server: MockServer;
let tlsRelay: Relay;
let mtlsRelay: Relay;

beforeAll(async () => {
  pki = makePki(['other', 'tlsclient']);
  // the TLS server's certificate, for localhost and 127.0.0.1, issued by the test CA
  execFileSync('openssl', ['req', '-new', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'tls.key', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-CA', 'ca.crt', '-CAkey', 'ca.key', '-days', '5', '-out', 'tls.crt'], { cwd: pki.dir, stdio: 'ignore' });
  server = await startMock(pki);
  const tls = { key: pki.read('tls.key'), cert: pki.read('tls.crt') };
  tlsRelay = await startRelay(server.port, { tls });
  mtlsRelay = await startRelay(server.port, { tls: { ...tls, ca: pki.read('ca.crt'), requestCert: true } });
});
afterEach(closeAll);
afterAll(async () => {
  await tlsRelay.close();
  await mtlsRelay.close();
  await server.stop();
  removePki(pki);
});

function viaTls(relay: Relay) {
  const ctx = pbmContext(pki, server);
  ctx.setServer('127.0.0.1');
  ctx.setServerPort(relay.port);
  return ctx;
}

test('HTTPS with the server certificate checked against trusted roots and the address', async () => {
  const ctx = viaTls(tlsRelay);
  ctx.setTls({ trusted: pki.read('ca.crt') });
  const before = tlsRelay.requests;
  await expect(ctx.execIR()).resolves.toBeInstanceOf(X509Certificate);
  expect(tlsRelay.requests - before).toBe(2);
});

test('an explicit host name that the certificate carries', async () => {
  const ctx = viaTls(tlsRelay);
  ctx.setTls({ trusted: pki.read('ca.crt'), host: 'localhost' });
  await expect(ctx.execIR()).resolves.toBeInstanceOf(X509Certificate);
});

test('a host name the certificate does not carry is refused', async () => {
  const ctx = viaTls(tlsRelay);
  ctx.setTls({ trusted: pki.read('ca.crt'), host: 'wrong.example' });
  const before = tlsRelay.requests;
  const err = await ctx.execIR().catch((e) => e);
  expect(err).toBeInstanceOf(CmpError);
  expect(err.opensslErrorStack.join('\n')).toMatch(/certificate verify failed|ssl/i);
  expect(tlsRelay.requests).toBe(before);
});

test('a server certificate from an untrusted CA is refused', async () => {
  const ctx = viaTls(tlsRelay);
  ctx.setTls({ trusted: pki.read('other.crt') });
  const err = await ctx.execIR().catch((e) => e);
  expect(err).toBeInstanceOf(CmpError);
  expect(err.opensslErrorStack.join('\n')).toMatch(/certificate verify failed/);
});

test('plain HTTP against a TLS endpoint fails; setTls(null) switches TLS off again', async () => {
  const ctx = viaTls(tlsRelay);
  ctx.setTls({ trusted: pki.read('ca.crt') });
  ctx.setTls(null);
  await expect(ctx.execIR()).rejects.toBeInstanceOf(CmpError);
});

test('client certificate and key for mutual TLS', async () => {
  const without = viaTls(mtlsRelay);
  without.setTls({ trusted: pki.read('ca.crt') });
  await expect(without.execIR()).rejects.toBeInstanceOf(CmpError);
  without.close();
  const ctx = viaTls(mtlsRelay);
  ctx.setTls({ trusted: pki.read('ca.crt'), cert: pki.read('tlsclient.crt'), key: pki.read('tlsclient.key'), extra: [pki.read('ca.crt')] });
  await expect(ctx.execIR()).resolves.toBeInstanceOf(X509Certificate);
});

test('bad TLS options are refused when set', () => {
  const ctx = pbmContext(pki, server);
  expect(() => ctx.setTls({ cert: pki.read('tlsclient.crt'), key: pki.read('other.key') })).toThrow(CmpError);
  expect(() => ctx.setTls('yes' as never)).toThrow(TypeError);
});
