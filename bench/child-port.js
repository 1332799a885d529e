'use strict';
// The port a child process prints once it listens ("ACCEPT [::]:1234", "PROXY 1234").

/**
 * Resolves with the first capture of `pattern` in the child's stdout. What the
 * child prints afterwards (a server's line per request) is drained, not kept:
 * the benchmarks measure this process's CPU and memory.
 */
function childPort(child, pattern) {
  return new Promise((resolve, reject) => {
    let out = '';
    const read = (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        child.stdout.off('data', read).resume();
        out = '';
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', read);
    child.once('exit', (c) => reject(new Error(`${child.spawnfile} exited with ${c} before listening`)));
  });
}

module.exports = { childPort };
