// A profiling aid, loaded into a bench server with `BENCH_NODE_ARGS="--import ./bench/alloc-sampler.mjs"` (path
// relative to the repo root): on SIGUSR2 the process samples its allocations for ALLOC_SAMPLE_MS (default 8000) and
// writes /tmp/alloc-<pid>.heapprofile, which Chrome DevTools (Memory tab) opens. ALLOC_SURVIVORS=1 keeps only the
// objects that outlived a scavenge (promoted, or still live): the garbage that costs mark-compacts and resident size.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
const post = (method, params = {}) =>
  new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));

process.on('SIGUSR2', async () => {
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: process.env.ALLOC_SURVIVORS !== '1',
  });
  setTimeout(async () => {
    const { profile } = await post('HeapProfiler.stopSampling');
    writeFileSync(`/tmp/alloc-${process.pid}.heapprofile`, JSON.stringify(profile));
  }, Number(process.env.ALLOC_SAMPLE_MS ?? 8000));
});
