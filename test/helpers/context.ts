import { CmpContext, CertReqType } from '../../lib';
import { MockServer, REF, SECRET } from './mock-server';
import { Pki } from './pki';

const open: CmpContext[] = [];

/**
 * Closes every context the helpers made. OpenSSL keeps a transaction's HTTP
 * connection until the context is freed or reinitialised, and the mock server
 * serves one connection at a time, so a test must not leave one behind.
 */
export function closeAll(): void {
  for (const ctx of open.splice(0)) ctx.close();
}

export function track(ctx: CmpContext): CmpContext {
  open.push(ctx);
  return ctx;
}

/** A context pointed at the mock server, trusting its CA, with the new key the mock's rsp_cert is for. */
export function pbmContext(pki: Pki, server: MockServer): CmpContext {
  const ctx = track(new CmpContext());
  ctx.setServer('127.0.0.1');
  ctx.setServerPort(server.port);
  ctx.setServerPath('pkix/');
  ctx.setReferenceValue(REF);
  ctx.setSecretValue(SECRET);
  ctx.setTrustedStore(pki.read('ca.crt'));
  ctx.setNewPkey(pki.read('newkey.key'));
  ctx.setSubjectName('/CN=newkey/O=Test');
  return ctx;
}

/** Signature-protected: the client's cert and key, the server's cert validated against the CA. */
export function signatureContext(pki: Pki, server: MockServer): CmpContext {
  const ctx = track(new CmpContext());
  ctx.setServer('127.0.0.1');
  ctx.setServerPort(server.port);
  ctx.setServerPath('pkix/');
  ctx.setCert(pki.read('client.crt'));
  ctx.setPkey(pki.read('client.key'));
  ctx.setTrustedStore(pki.read('ca.crt'));
  ctx.setNewPkey(pki.read('newkey.key'));
  ctx.setSubjectName('/CN=newkey/O=Test');
  return ctx;
}

/** A context whose transactions fail fast: nothing listens on its port. */
export function refusedContext(pki: Pki): CmpContext {
  const ctx = track(new CmpContext());
  ctx.setServer('127.0.0.1');
  ctx.setServerPort(1);
  ctx.setReferenceValue('1');
  ctx.setSecretValue('x');
  ctx.setNewPkey(pki.read('newkey.key'));
  ctx.setSubjectName('/CN=x');
  return ctx;
}

export { CertReqType };
