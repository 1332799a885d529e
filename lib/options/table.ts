// The option set of `openssl cmp`, by name and value type, in the order of
// its help text: OpenSSL 3.0's, plus those later versions added, offered only
// when the OpenSSL this runs on has the feature they need (otherwise they are
// unknown options, as to that version's `openssl cmp`). Types as OpenSSL's
// option parser knows them: '-' flag, 's' string, 'n' integer, 'N'
// non-negative, 'p' positive.
import { binding } from '../native';

export type OptType = '-' | 's' | 'n' | 'N' | 'p';

export interface OptSpec {
  name: string;
  type: OptType;
  help: string;
  /** Server (mock) side option. */
  server?: boolean;
  /** Not read from config files. */
  cmdlineOnly?: boolean;
  /** A certificate verification flag. */
  verifyFlag?: boolean;
  /** Only with this OpenSSL feature (a key of `features`), present natively. */
  since?: string;
}

// The OpenSSL version an option came with, by a function that version added.
const V32 = { since: 'validatedSrvCert' };
const V33 = { since: 'geninfoITAVs' };
const V34 = { since: 'certReqTemplate' };
const V35 = { since: 'centralKeyGen' };

/** Whether the running OpenSSL has what an option needs. */
export function available(spec: OptSpec): boolean {
  return spec.since === undefined || binding.features[spec.since] === 'native';
}

const o = (name: string, type: OptType, help: string, extra: Partial<OptSpec> = {}): OptSpec => ({ name, type, help, ...extra });

const ALL_SECTIONS: Array<[string, OptSpec[]]> = [
  ['General options', [
    o('help', '-', 'Display this summary', { cmdlineOnly: true }),
    o('config', 's', 'Configuration file to use. "" = none. Default from env variable OPENSSL_CONF', { cmdlineOnly: true }),
    o('section', 's', 'Section(s) in config file to get options from. "" = \'default\'. Default \'cmp\'', { cmdlineOnly: true }),
    o('verbosity', 'N', 'Log level; 3=ERR, 4=WARN, 6=INFO, 7=DEBUG, 8=TRACE. Default 6 = INFO'),
  ]],
  ['Generic message options', [
    o('cmd', 's', 'CMP request to send: ir/cr/kur/p10cr/rr/genm'),
    o('infotype', 's', 'InfoType name for requesting specific info in genm, e.g. \'signKeyPairTypes\''),
    o('profile', 's', 'Certificate profile name to place in generalInfo field of request PKIHeader', V33),
    o('geninfo', 's', 'generalInfo integer values to place in request PKIHeader with given OID'),
    o('template', 's', 'File to save certTemplate received in genp of type certReqTemplate', V34),
    o('keyspec', 's', 'Optional file to save Key specification received in genp of type certReqTemplate', V34),
  ]],
  ['Certificate enrollment options', [
    o('newkey', 's', 'Private or public key for the requested cert. Default: CSR key or client key'),
    o('newkeypass', 's', 'New private key pass phrase source'),
    o('centralkeygen', '-', 'Request central (server-side) key generation. Default is local generation', V35),
    o('newkeyout', 's', 'File to save centrally generated key, in PEM format', V35),
    o('subject', 's', 'Distinguished Name (DN) of subject to use in the requested cert template'),
    o('issuer', 's', 'DN of the issuer to place in the requested certificate template'),
    o('days', 'N', 'Requested validity time of the new certificate in number of days'),
    o('reqexts', 's', 'Name of config file section defining certificate request extensions'),
    o('sans', 's', 'Subject Alt Names (IPADDR/DNS/URI) to add as (critical) cert req extension'),
    o('san_nodefault', '-', 'Do not take default SANs from reference certificate (see -oldcert)'),
    o('policies', 's', 'Name of config file section defining policies certificate request extension'),
    o('policy_oids', 's', 'Policy OID(s) to add as policies certificate request extension'),
    o('policy_oids_critical', '-', 'Flag the policy OID(s) given with -policy_oids as critical'),
    o('popo', 'n', 'Proof-of-Possession (POPO) method to use for ir/cr/kur'),
    o('csr', 's', 'PKCS#10 CSR file in PEM or DER format to convert or to use in p10cr'),
    o('out_trusted', 's', 'Certificates to trust when verifying newly enrolled certificates'),
    o('implicit_confirm', '-', 'Request implicit confirmation of newly enrolled certificates'),
    o('disable_confirm', '-', 'Do not confirm newly enrolled certificate w/o requesting implicit confirmation'),
    o('certout', 's', 'File to save newly enrolled certificate'),
    o('chainout', 's', 'File to save the chain of newly enrolled certificate'),
  ]],
  ['Certificate enrollment and revocation options', [
    o('oldcert', 's', 'Certificate to be updated (defaulting to -cert) or to be revoked in rr'),
    o('serial', 's', 'Serial number of certificate to be revoked in revocation request (rr)', V32),
    o('revreason', 'n', 'Reason code to include in revocation request (rr); possible values: 0..6, 8..10 (see RFC5280, 5.3.1) or -1'),
  ]],
  ['Message transfer options', [
    o('server', 's', '[http[s]://]address[:port][/path] of CMP server. Default port 80 or 443'),
    o('proxy', 's', '[http[s]://]address[:port][/path] of HTTP(S) proxy to use; path is ignored'),
    o('no_proxy', 's', 'List of addresses of servers not to use HTTP(S) proxy for'),
    o('recipient', 's', 'DN of CA. Default: subject of -srvcert, -issuer, issuer of -oldcert or -cert'),
    o('path', 's', 'HTTP path (aka CMP alias) at the CMP server. Default from -server, else "/"'),
    o('keep_alive', 'N', 'Persistent HTTP connections. 0: no, 1 (the default): request, 2: require'),
    o('msg_timeout', 'N', 'Number of seconds allowed per CMP message round trip, or 0 for infinite'),
    o('total_timeout', 'N', 'Overall time an enrollment incl. polling may take. Default 0 = infinite'),
  ]],
  ['Server authentication options', [
    o('trusted', 's', 'Certificates to use as trust anchors when verifying signed CMP responses'),
    o('untrusted', 's', 'Intermediate CA certs for chain construction for CMP/TLS/enrolled certs'),
    o('srvcert', 's', 'Server cert to pin and trust directly when verifying signed CMP responses'),
    o('expect_sender', 's', 'DN of expected sender of responses. Defaults to subject of -srvcert, if any'),
    o('ignore_keyusage', '-', 'Ignore CMP signer cert key usage, else \'digitalSignature\' must be allowed'),
    o('unprotected_errors', '-', 'Accept missing or invalid protection of regular error messages and negative certificate responses'),
    o('no_cache_extracerts', '-', 'Do not keep certificates received in the extraCerts CMP message field', V32),
    o('srvcertout', 's', 'File to save the server cert used and validated for CMP response protection', V32),
    o('extracertsout', 's', 'File to save extra certificates received in the extraCerts field'),
    o('cacertsout', 's', 'File to save CA certificates received in the caPubs field of \'ip\' messages'),
    o('oldwithold', 's', 'Root CA certificate to request update for in genm of type rootCaCert', V32),
    o('newwithnew', 's', 'File to save NewWithNew cert received in genp of type rootCaKeyUpdate', V32),
    o('newwithold', 's', 'File to save NewWithOld cert received in genp of type rootCaKeyUpdate', V32),
    o('oldwithnew', 's', 'File to save OldWithNew cert received in genp of type rootCaKeyUpdate', V32),
    o('crlcert', 's', 'certificate to request a CRL for in genm of type crlStatusList', V34),
    o('oldcrl', 's', 'CRL to request update for in genm of type crlStatusList', V34),
    o('crlout', 's', 'File to save new CRL received in genp of type \'crls\'', V34),
  ]],
  ['Client authentication options', [
    o('ref', 's', 'Reference value to use as senderKID in case no -cert is given'),
    o('secret', 's', 'Prefer PBM (over signatures) for protecting msgs with given password source'),
    o('cert', 's', 'Client\'s CMP signer certificate; its public key must match the -key argument'),
    o('own_trusted', 's', 'Optional certs to verify chain building for own CMP signer cert'),
    o('key', 's', 'CMP signer private key, not used when -secret given'),
    o('keypass', 's', 'Client private key (and cert and old cert) pass phrase source'),
    o('digest', 's', 'Digest to use in message protection and POPO signatures. Default \'sha256\''),
    o('mac', 's', 'MAC algorithm to use in PBM-based message protection. Default \'hmac-sha1\''),
    o('extracerts', 's', 'Certificates to append in extraCerts field of outgoing messages'),
    o('unprotected_requests', '-', 'Send messages without CMP-level protection'),
  ]],
  ['Credentials format options', [
    o('certform', 's', 'Format (PEM or DER) to use when saving a certificate to a file. Default PEM'),
    o('crlform', 's', 'Format (PEM or DER) to use when saving a CRL to a file. Default DER', V34),
    o('keyform', 's', 'Format of the key input (ENGINE, other values ignored)'),
    o('otherpass', 's', 'Pass phrase source potentially needed for loading certificates of others'),
    o('engine', 's', 'Use crypto engine with given identifier, possibly a hardware device.'),
  ]],
  ['TLS connection options', [
    o('tls_used', '-', 'Enable using TLS (also when other TLS options are not set)'),
    o('tls_cert', 's', 'Client\'s TLS certificate. May include chain to be provided to TLS server'),
    o('tls_key', 's', 'Private key for the client\'s TLS certificate'),
    o('tls_keypass', 's', 'Pass phrase source for the client\'s private TLS key (and TLS cert)'),
    o('tls_extra', 's', 'Extra certificates to provide to TLS server during TLS handshake'),
    o('tls_trusted', 's', 'Trusted certificates to use for verifying the TLS server certificate'),
    o('tls_host', 's', 'Address to be checked (rather than -server) during TLS host name validation'),
  ]],
  ['Certificate verification options, for both CMP and TLS', [
    o('policy', 's', 'adds policy to the acceptable policy set'),
    o('purpose', 's', 'certificate chain purpose'),
    o('verify_name', 's', 'verification policy name'),
    o('verify_depth', 'n', 'chain depth limit'),
    o('auth_level', 'n', 'chain authentication security level'),
    o('attime', 'n', 'verification epoch time'),
    o('verify_hostname', 's', 'expected peer hostname'),
    o('verify_email', 's', 'expected peer email'),
    o('verify_ip', 's', 'expected peer IP address'),
    ...(['ignore_critical', 'issuer_checks', 'crl_check', 'crl_check_all', 'policy_check', 'explicit_policy', 'inhibit_any',
      'inhibit_map', 'x509_strict', 'extended_crl', 'use_deltas', 'policy_print', 'check_ss_sig', 'trusted_first',
      'suiteB_128_only', 'suiteB_128', 'suiteB_192', 'partial_chain', 'no_alt_chains', 'no_check_time', 'allow_proxy_certs'] as const)
      .map((flag) => o(flag, '-', `verification flag ${flag}`, { verifyFlag: true })),
  ]],
  ['Provider and random state options', [
    o('provider-path', 's', 'Provider load path (must be before \'provider\' argument if required)'),
    o('provider', 's', 'Provider to load (can be specified multiple times)'),
    o('propquery', 's', 'Property query used when fetching algorithms'),
    o('rand', 's', 'Load the given file(s) into the random number generator'),
    o('writerand', 's', 'Write random data to the specified file'),
  ]],
  ['Client-side debugging options', [
    o('batch', '-', 'Do not interactively prompt for input when a password is required etc.'),
    o('repeat', 'p', 'Invoke the transaction the given positive number of times. Default 1'),
    o('reqin', 's', 'Take sequence of CMP requests from file(s)'),
    o('reqin_new_tid', '-', 'Use fresh transactionID for CMP requests read from -reqin'),
    o('reqout', 's', 'Save sequence of CMP requests to file(s)'),
    o('reqout_only', 's', 'Save first CMP request created by the client to file and exit', V34),
    o('rspin', 's', 'Process sequence of CMP responses provided in file(s), skipping server'),
    o('rspout', 's', 'Save sequence of CMP responses to file(s)'),
    o('use_mock_srv', '-', 'Use internal mock server at API level, bypassing socket-based HTTP'),
  ]],
  ['Mock server options', [
    o('port', 's', 'Act as HTTP-based mock server listening on given port', { server: true }),
    o('max_msgs', 'N', 'max number of messages handled by HTTP mock server. Default: 0 = unlimited', { server: true }),
    o('srv_ref', 's', 'Reference value to use as senderKID of server in case no -srv_cert is given', { server: true }),
    o('srv_secret', 's', 'Password source for server authentication with a pre-shared key (secret)', { server: true }),
    o('srv_cert', 's', 'Certificate of the server', { server: true }),
    o('srv_key', 's', 'Private key used by the server for signing messages', { server: true }),
    o('srv_keypass', 's', 'Server private key (and cert) pass phrase source', { server: true }),
    o('srv_trusted', 's', 'Trusted certificates for client authentication', { server: true }),
    o('srv_untrusted', 's', 'Intermediate certs that may be useful for verifying CMP protection', { server: true }),
    o('ref_cert', 's', 'Certificate to be expected for rr and any oldCertID in kur messages', { server: true, ...V32 }),
    o('rsp_cert', 's', 'Certificate to be returned as mock enrollment result', { server: true }),
    o('rsp_key', 's', 'Private key for the certificate to be returned as mock enrollment result, and for central key pair generation', { server: true, ...V35 }),
    o('rsp_keypass', 's', 'Response private key (and cert) pass phrase source', { server: true, ...V35 }),
    o('rsp_crl', 's', 'CRL to be returned in genp of type crls', { server: true, ...V34 }),
    o('rsp_extracerts', 's', 'Extra certificates to be included in mock certification responses', { server: true }),
    o('rsp_capubs', 's', 'CA certificates to be included in mock ip response', { server: true }),
    o('rsp_newwithnew', 's', 'New root CA certificate to include in genp of type rootCaKeyUpdate', { server: true, ...V32 }),
    o('rsp_newwithold', 's', 'NewWithOld transition cert to include in genp of type rootCaKeyUpdate', { server: true, ...V32 }),
    o('rsp_oldwithnew', 's', 'OldWithNew transition cert to include in genp of type rootCaKeyUpdate', { server: true, ...V32 }),
    o('poll_count', 'N', 'Number of times the client must poll before receiving a certificate', { server: true }),
    o('check_after', 'N', 'The check_after value (time to wait) to include in poll response', { server: true }),
    o('grant_implicitconf', '-', 'Grant implicit confirmation of newly enrolled certificate', { server: true }),
    o('pkistatus', 'N', 'PKIStatus to be included in server response. Possible values: 0..6', { server: true }),
    o('failure', 'N', 'A single failure info bit number to include in server response, 0..26', { server: true }),
    o('failurebits', 'N', 'Number representing failure bits to include in server response, 0..2^27 - 1', { server: true }),
    o('statusstring', 's', 'Status string to be included in server response', { server: true }),
    o('send_error', '-', 'Force server to reply with error message', { server: true }),
    o('send_unprotected', '-', 'Send response messages without CMP-level protection', { server: true }),
    o('send_unprot_err', '-', 'In case of negative responses, server shall send unprotected error messages, certificate responses (IP/CP/KUP), and revocation responses (RP). WARNING: This setting leads to behavior violating RFC 4210', { server: true }),
    o('accept_unprotected', '-', 'Accept missing or invalid protection of requests', { server: true }),
    o('accept_unprot_err', '-', 'Accept unprotected error messages from client', { server: true }),
    o('accept_raverified', '-', 'Accept RAVERIFIED as proof-of-possession (POPO)', { server: true }),
  ]],
  ['Operating the -port server (openssl-cmp only)', [
    o('json_events', '-', 'Write one JSON line per CMP transaction to stdout', { server: true }),
    o('metrics_path', 's', 'Serve Prometheus metrics to GET requests on this HTTP path, e.g. /metrics', { server: true }),
  ]],
];

export const SECTIONS: Array<[string, OptSpec[]]> = ALL_SECTIONS.map(([title, opts]) => [title, opts.filter(available)]);

export const OPTIONS: ReadonlyMap<string, OptSpec> = new Map(SECTIONS.flatMap(([, opts]) => opts.map((x) => [x.name, x])));

/** camelCase of an option name, as the library's option objects spell it. */
export function camel(name: string): string {
  return name.replace(/[_-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function helpText(prog: string): string {
  const lines = [`Usage: ${prog} [options]`, 'Valid options are:'];
  for (const [title, opts] of SECTIONS) {
    lines.push('', `${title}:`);
    for (const x of opts) {
      const arg = x.type === '-' ? '' : x.type === 's' ? ' val' : ' nonneg';
      lines.push(` -${(x.name + arg).padEnd(24)} ${x.help}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
