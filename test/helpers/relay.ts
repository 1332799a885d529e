// An HTTP(S) front for the mock server on loopback: any number of client
// connections, one fresh upstream connection per message (the mock server
// serves one connection at a time). Optionally rewrites responses.
import * as http from 'node:http';
import * as https from 'node:https';
import { AddressInfo } from 'node:net';

export interface Relay {
  port: number;
  url: string;
  requests: number;
  lastHeaders: http.IncomingHttpHeaders;
  close(): Promise<void>;
}

export interface RelayOptions {
  tls?: { key: string; cert: string; ca?: string; requestCert?: boolean };
  rewrite?: (body: Buffer) => Buffer;
  status?: number;
  contentType?: string;
}

export function startRelay(targetPort: number, opts: RelayOptions = {}): Promise<Relay> {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      relay.requests++;
      relay.lastHeaders = req.headers;
      const up = http.request(
        { host: '127.0.0.1', port: targetPort, path: req.url, method: 'POST', agent: false,
          headers: { 'content-type': 'application/pkixcmp', connection: 'close' } },
        (upRes) => {
          const body: Buffer[] = [];
          upRes.on('data', (c: Buffer) => body.push(c));
          upRes.on('end', () => {
            let out = Buffer.concat(body);
            if (opts.rewrite) out = opts.rewrite(out);
            res.writeHead(opts.status ?? upRes.statusCode ?? 502, {
              'content-type': opts.contentType ?? 'application/pkixcmp',
              'content-length': out.length,
            });
            res.end(out);
          });
        },
      );
      up.on('error', () => res.destroy());
      up.end(Buffer.concat(chunks));
    });
  };
  const server = opts.tls ? https.createServer(
        { key: opts.tls.key, cert: opts.tls.cert, ca: opts.tls.ca, requestCert: opts.tls.requestCert, rejectUnauthorized: !!opts.tls.requestCert },
        handler,
      ) : http.createServer(handler);
  const relay: Relay = { port: 0, url: '', requests: 0, lastHeaders: {}, close: () => new Promise((r) => server.close(() => r())) };
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      relay.port = (server.address() as AddressInfo).port;
      relay.url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${relay.port}/pkix/`;
      server.keepAliveTimeout = 1000;
      resolve(relay);
    });
  });
}

/**
 * Flips the tag of the PBM protectionAlg parameters of a PKIMessage from
 * SEQUENCE to OCTET STRING (same length): the CVE-2026-63076 shape.
 */
export function corruptPbmParameters(der: Buffer): Buffer {
  const out = Buffer.from(der);
  const pbmOid = Buffer.from('06092a864886f67d07420d', 'hex');
  const at = out.indexOf(pbmOid);
  if (at < 0) throw new Error('no PBM protectionAlg in this message');
  const paramsTag = at + pbmOid.length;
  if (out[paramsTag] !== 0x30) throw new Error('PBM parameters are not a SEQUENCE already');
  out[paramsTag] = 0x04;
  return out;
}
