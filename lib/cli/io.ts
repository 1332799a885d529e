// How the CLI speaks: its two output streams, and failures as openssl cmp reports them.
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const defaultIo: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

export function fail(io: CliIo, text: string): number {
  io.err(`CMP error: ${text}\n`);
  return 1;
}
