const { CmpContext } = require('/work/wt/bulk/dist');
const { generateKeyPair } = require('crypto'); const { promisify } = require('util'); const gen = promisify(generateKeyPair);
(async () => {
  const N = 400; let next = 0; const cb = process.argv[2] === 'cb';
  const t = Date.now(); const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: 8 }, async () => {
    const ctx = CmpContext.fromOptions({ server: '127.0.0.1:18555/pkix/', ref: 'ref', secret: 'pass:sec' });
    if (cb) ctx.setCertConfCallback(async () => 0);
    while (next++ < N) {
      const k = (await gen('ec', { namedCurve: 'P-256' })).privateKey;
      ctx.reinit(); ctx.setNewPkey(k); ctx.setSubjectName('/CN=x' + next);
      await ctx.execIR();
    }
    ctx.close();
  }));
  const c = process.cpuUsage(c0);
  console.log(cb, (N / ((Date.now() - t) / 1000)).toFixed(1), '/s', ((c.user + c.system) / 1000 / N).toFixed(2), 'cpu ms/IR');
})();
