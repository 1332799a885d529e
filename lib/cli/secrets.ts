// Secrets off the process list: `ps` and /proc/PID/cmdline show every local
// user a process's arguments, so pass phrases given there are blanked as soon
// as they have been read, as `openssl cmp` blanks them (zero bytes in place).
import { binding } from '../native';
import { OPTIONS } from '../options/table';

/** Options whose value is a secret or the source of one. */
export const SECRET_OPTIONS: ReadonlySet<string> = new Set([
  'secret', 'srv_secret', 'keypass', 'newkeypass', 'otherpass', 'tls_keypass', 'srv_keypass', 'rsp_keypass',
  // `openssl-cmp bulk`'s own: what encrypts the written keys, the Redis password (the rest are the client's)
  'out_keypass', 'queue_pass',
]);

/**
 * Where the secret values in `argv` lie: [argument index, first byte]; for
 * "-name=value" the first byte is the "=", which openssl's parser also turns
 * into a NUL, so both leave the same command line behind.
 * Follows the option parser: a value is the next argument of an option that
 * takes one, whatever it looks like.
 */
export function secretPositions(argv: readonly string[], secret: ReadonlySet<string> = SECRET_OPTIONS): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-')) continue;
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = OPTIONS.get(name);
    const takesValue = spec ? spec.type !== '-' : secret.has(name);
    if (!takesValue) continue;
    if (eq >= 0) {
      if (secret.has(name)) out.push([i, Buffer.byteLength(arg.slice(0, arg.length - body.length + eq))]);
    } else if (i + 1 < argv.length) {
      if (secret.has(name)) out.push([i + 1, 0]);
      i++;
    }
  }
  return out;
}

/**
 * Blanks the secrets among this process's arguments (`argv`: those after the
 * script, as given to the CLI) in the kernel's copy (Linux), and in
 * process.argv. Returns null, or why the command line could not be changed
 * (other systems, or an argument area that no longer matches).
 */
export function blankSecretArgs(argv: readonly string[], secret: ReadonlySet<string> = SECRET_OPTIONS): string | null {
  const positions = secretPositions(argv, secret);
  if (positions.length === 0) return null;
  const offset = process.argv.length - argv.length;
  for (const [index, from] of positions) {
    const at = offset + index;
    if (at >= 0 && process.argv[at] === argv[index]) process.argv[at] = Buffer.from(argv[index]).subarray(0, from).toString();
  }
  return binding.blankArgs([...argv], positions);
}
