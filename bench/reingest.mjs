// Re-ingest at docs scale (run by bench/run.mjs): a first full-docs ingest, the same docs again
// (nothing changed), one edited file, and a corpus twice the size, each a fresh `ragoss ingest`
// process timed with its peak RSS. The peak of one run against another varies by ~10% for the same
// corpus, so the full docs and twice the corpus are ingested BENCH_MEMORY_REPS times each
// (default 3), alternating, and their median peaks are compared.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import AdmZip from 'adm-zip';

/** Ingests from scratch of each size whose median peaks are compared. */
const MEMORY_REPS = Math.max(1, Number(process.env.BENCH_MEMORY_REPS ?? 3));
/** The page the "one edited file" case changes: a mid-sized page of the user guide. */
const EDITED_FILE = 'en/userGuide/manage-collections.md';

function extract(zip, into) {
  rmSync(into, { recursive: true, force: true });
  new AdmZip(zip).extractAllTo(into, true);
}


/**
 * @param tools {ragoss, childEnv, log}
 * @param options {work, fullZip, milvusUri}
 */
export async function benchReingest({ ragoss, childEnv, log }, { work, fullZip, milvusUri }) {
  const ingest = async (what, collection, source, extra = []) => {
    log(`re-ingest: ${what}`);
    const result = await ragoss(['ingest', '--source', source, '--glob', 'en/**/*.md', '--json', '--quiet', ...extra], childEnv({ MILVUS_URI: milvusUri, RAGOSS_COLLECTION: collection }));
    if (result.code !== 0) throw new Error(`ragoss ingest (${what}) failed:\n${result.stderr.slice(-2000)}`);
    const summary = JSON.parse(result.stdout.trim().split('\n').pop());
    log(`re-ingest: ${what}: ${result.seconds.toFixed(1)} s, peak RSS ${Math.round(result.peakRssBytes / 2 ** 20)} MiB, embedded ${summary.embeddedChunks} of ${summary.chunks}`);
    return { wallSeconds: result.seconds, peakRssBytes: result.peakRssBytes, chunks: summary.chunks, embedded: summary.embeddedChunks, reused: summary.reusedChunks, embedSeconds: summary.embedSeconds, insertSeconds: summary.insertSeconds };
  };
  const first = await ingest('first full-docs ingest', 'bench_reingest', fullZip, ['--full', '--replace']);
  const unchanged = await ingest('the same docs again', 'bench_reingest', fullZip);

  const edited = join(work, 'docs-edited');
  extract(fullZip, edited);
  const page = join(edited, EDITED_FILE);
  const before = readFileSync(page, 'utf8');
  // One new section near the top and one sentence changed further down, as a docs update would.
  const firstHeading = before.indexOf('\n## ');
  const withNew = `${before.slice(0, firstHeading)}\n## A section added by the bench\n\nIt says something new.\n${before.slice(firstHeading)}`;
  writeFileSync(page, withNew.replace(/Milvus/, 'Milvus (edited)'));
  const oneFile = await ingest(`one file edited (${EDITED_FILE})`, 'bench_reingest', edited);

  const doubled = join(work, 'docs-doubled');
  extract(fullZip, doubled);
  extract(fullZip, `${doubled}.second`);
  renameSync(join(`${doubled}.second`, 'en'), join(doubled, 'en', 'copy'));
  rmSync(`${doubled}.second`, { recursive: true, force: true });
  const twiceRuns = [await ingest('twice the corpus (every file copied under en/copy/), run 1', 'bench_reingest_double', doubled, ['--full', '--replace'])];
  const fullRuns = [first];
  for (let rep = 2; rep <= MEMORY_REPS; rep++) {
    fullRuns.push(await ingest(`full docs again from scratch, run ${rep}`, 'bench_reingest', fullZip, ['--full', '--replace']));
    twiceRuns.push(await ingest(`twice the corpus, run ${rep}`, 'bench_reingest_double', doubled, ['--full', '--replace']));
  }
  rmSync(edited, { recursive: true, force: true });
  rmSync(doubled, { recursive: true, force: true });
  return { first, unchanged, oneFile, editedFile: EDITED_FILE, fullRuns, twiceRuns };
}

export function reingestRows(r, { row, section, fmtS, fmtMiB, verdict, median }) {
  const GiB = 1024 ** 3;
  section('Re-ingest at docs scale (full docs, seed chunker, ragoss ingest processes)');
  const { first, unchanged, oneFile, fullRuns, twiceRuns } = r;
  row('first ingest (--full)', `${fmtS(first.wallSeconds)}, ${first.chunks} chunks, peak RSS ${fmtMiB(first.peakRssBytes)}`);
  const ratio = unchanged.wallSeconds / first.wallSeconds;
  row('same docs again', `${fmtS(unchanged.wallSeconds)}, embedded ${unchanged.embedded}, reused ${unchanged.reused}`);
  row('  unchanged / first', `${ratio.toFixed(3)}x`, '<= 0.10x', verdict(ratio <= 0.1));
  row(`one file edited (${r.editedFile})`, `${fmtS(oneFile.wallSeconds)}, embedded ${oneFile.embedded} of ${oneFile.chunks}`);
  const fullPeaks = fullRuns.map((run) => run.peakRssBytes);
  const twicePeaks = twiceRuns.map((run) => run.peakRssBytes);
  const listMiB = (peaks) => peaks.map((bytes) => Math.round(bytes / 2 ** 20)).join(', ');
  // The 1 GiB ceiling holds for every run, not for a typical one.
  const fullWorst = Math.max(...fullPeaks);
  row(`peak RSS, full docs, ${fullPeaks.length} runs`, `highest ${fmtMiB(fullWorst)}, median ${fmtMiB(median(fullPeaks))} (${listMiB(fullPeaks)})`, '<= 1024 MiB', verdict(fullWorst <= GiB));
  const growth = median(twicePeaks) / median(fullPeaks);
  const twiceSeconds = median(twiceRuns.map((run) => run.wallSeconds));
  row(`peak RSS, twice the corpus (${twiceRuns[0].chunks} chunks, median ${fmtS(twiceSeconds)}), ${twicePeaks.length} runs`, `median ${fmtMiB(median(twicePeaks))} (${listMiB(twicePeaks)}): ${growth.toFixed(3)}x`, '<= 1.05x', verdict(growth <= 1.05));
  return {
    reingestUnchangedRatio: { value: Number(ratio.toFixed(3)), target: 0.1, pass: ratio <= 0.1 },
    fullIngestPeakRssMiB: { value: Math.round(fullWorst / 1024 / 1024), target: 1024, pass: fullWorst <= GiB },
    doubleCorpusPeakRssRatio: { value: Number(growth.toFixed(3)), target: 1.05, pass: growth <= 1.05 },
  };
}
