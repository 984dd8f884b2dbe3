import type { CalibrateResult, Check, CheckStatus, DoctorReport, EvalResult, ExportResult, IngestResult, JobInfo, SentContext } from '../engine/engine.js';
import { linkLabel } from '../corpus/links.js';
import type { Grounding, ThresholdSource } from '../pipeline/grounding.js';
import { probeRefusalWords, shownScore } from '../engine/hit-json.js';
import type { CurvePoint } from '../pipeline/evaluate.js';
import type { RankedHit } from '../pipeline/retrieve.js';
import type { ContextPassage } from '../pipeline/context.js';
import type { ServiceHealth } from '../service/identity.js';
import type { CorpusRecord, GroundingCalibration } from '../types.js';

/** How results look on stdout: one pure module, so every entry point prints the same thing. */

/** Whether links are wrapped as OSC 8 terminal hyperlinks (the URL stays the visible text either way). */
export interface LinkStyle {
  hyperlinks: boolean;
}

export const PLAIN_LINKS: LinkStyle = { hyperlinks: false };

/**
 * Hyperlinks on a terminal, plain text in pipes, files and CI logs; FORCE_HYPERLINK=1/0 decides
 * either way (as the supports-hyperlinks convention has it). Terminals without OSC 8 show the text.
 */
export function linkStyleFor(stream: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): LinkStyle {
  const forced = env['FORCE_HYPERLINK'];
  if (forced !== undefined && forced !== '') return { hyperlinks: forced !== '0' };
  return { hyperlinks: stream.isTTY === true && env['TERM'] !== 'dumb' && (env['CI'] === undefined || env['CI'] === '' || env['CI'] === 'false') };
}

/** An OSC 8 terminal hyperlink around `text`. */
export function hyperlink(text: string, url: string): string {
  return `\u001b]8;;${url}\u001b\\${text}\u001b]8;;\u001b\\`;
}

/** A hit's link as it prints: the URL (or path:line of a local file), clickable where the terminal allows. */
export function formatLink(url: string, line: number | undefined, style: LinkStyle): string {
  const label = linkLabel(url, line);
  return style.hyperlinks ? hyperlink(label, url) : label;
}

/** Where a line came from, in words. */
const SOURCE_WORDS: Record<ThresholdSource, string> = {
  'min-score': '--min-score',
  collection: "the collection's calibrated line",
  'model default': "the model's default line; `ragoss calibrate` draws the collection's own",
  none: 'no line',
};

export function formatHit(hit: RankedHit, style: LinkStyle = PLAIN_LINKS): string {
  const preview = hit.text.trim().replace(/\s+/g, ' ');
  const shown = preview.length > 300 ? `${preview.slice(0, 297)}...` : preview;
  const link = hit.url === undefined ? '' : `   ${formatLink(hit.url, hit.line, style)}\n`;
  return `${hit.rank}. ${shownScore(hit.score, 4)}  ${hit.source} #${hit.chunkIndex}\n${link}   ${shown}\n`;
}

export function formatHits(hits: readonly RankedHit[], style: LinkStyle = PLAIN_LINKS): string {
  return hits.length === 0 ? 'no results\n' : hits.map((hit) => formatHit(hit, style)).join('');
}

export function formatSources(hits: readonly RankedHit[], style: LinkStyle = PLAIN_LINKS): string {
  const line = (hit: RankedHit) =>
    hit.url === undefined
      ? `  [${hit.rank}] ${hit.source} #${hit.chunkIndex} (score ${shownScore(hit.score, 4)})`
      : `  [${hit.rank}] ${formatLink(hit.url, hit.line, style)} (${hit.source} #${hit.chunkIndex}, score ${shownScore(hit.score, 4)})`;
  return `Sources:\n${hits.map(line).join('\n')}\n`;
}

/** What the context builder sent, numbered as the prompt numbers them (--cite's [n]). */
export function formatPassages(passages: readonly ContextPassage[], style: LinkStyle = PLAIN_LINKS): string {
  const line = (passage: ContextPassage, index: number) => {
    const place = `${passage.source}:${passage.line}-${passage.lineEnd}`;
    return passage.url === undefined ? `  [${index + 1}] ${place}` : `  [${index + 1}] ${formatLink(passage.url, passage.line, style)} (${place})`;
  };
  return `Sources (sent as context):\n${passages.map(line).join('\n')}\n`;
}

/** --json's account of what the model was sent: each passage's place (not its text) and the token counts. */
export function contextJson(context: SentContext): Record<string, unknown> {
  return {
    budget: context.budget,
    tokens: context.tokens,
    promptTokens: context.promptTokens,
    passages: context.passages.map(({ text: _text, ...place }) => place),
  };
}

/** Where the nearest passages are, for the one line that says the docs do not cover a question. */
export function nearestSources(hits: readonly RankedHit[], count = 2): string {
  const shown = [...new Set(hits.slice(0, count).map((hit) => (hit.url === undefined ? hit.source : linkLabel(hit.url, hit.line))))];
  return shown.length === 0 ? 'nothing (the collection is empty)' : shown.join(', ');
}

/** The grounding verdict in words: the similarity against the line it had to reach. */
export function describeGrounding(grounding: Grounding): string {
  if (grounding.similarity === null) return 'no passage at all';
  const byProbe = probeRefusalWords(grounding);
  if (byProbe !== undefined) return byProbe;
  if (grounding.threshold === null) return `best similarity ${shownScore(grounding.similarity, 3)}`;
  // A line the user set needs no explanation; one ragoss drew says which.
  const source = grounding.thresholdSource === 'min-score' ? '' : `, ${SOURCE_WORDS[grounding.thresholdSource]}`;
  return `best similarity ${shownScore(grounding.similarity, 3)}, below ${grounding.threshold.toFixed(3)}${source}`;
}

/** A calibration as one summary line. */
function calibrationLine(grounding: GroundingCalibration | undefined): string[] {
  if (grounding === undefined) return [];
  return [`  grounding   line ${grounding.threshold.toFixed(3)}: ${grounding.method} (probes reach at most ${grounding.nullMax.toFixed(3)})`];
}

export function formatCalibrate(result: CalibrateResult): string {
  const before = result.previous === undefined ? 'none recorded' : result.previous.threshold.toFixed(3);
  return [
    `calibrated ${result.collection}: "not in the docs" below ${result.grounding.threshold.toFixed(3)} (was ${before})`,
    ...calibrationLine(result.grounding),
    `  from        ${result.chunks} stored chunks of ${result.embeddingModel} (${result.chunker} chunker), nothing re-embedded`,
    `  time        ${result.seconds}s`,
    '',
  ].join('\n');
}

/** The docs a collection or snapshot was built from, as one summary line (none when unrecorded). */
function corpusLine(corpus: CorpusRecord | undefined): string[] {
  return corpus === undefined ? [] : [`  docs        ${corpus.source} (${corpus.glob}, sha256 ${corpus.digest.slice(0, 12)})`];
}

export function formatIngest(result: IngestResult): string {
  if (result.dryRun) {
    const lines = result.files.map((file) => `${String(file.chunks).padStart(6)}  ${file.path}`);
    lines.push(`${String(result.totalChunks).padStart(6)}  chunks in ${result.totalFiles} files (dry run: nothing written)`);
    return `${lines.join('\n')}\n`;
  }
  if (result.snapshot !== undefined) {
    const { snapshot } = result;
    return [
      `imported ${result.chunks} chunks from ${result.files} files into ${result.collection}`,
      `  snapshot    ${result.source}`,
      `  built       by ragoss ${snapshot.ragossVersion} from ${snapshot.collection}, ${snapshot.createdAt}`,
      ...corpusLine(snapshot.corpus),
      `  model       ${result.embeddingModel} (${result.dimension} dims; vectors from the snapshot, nothing embedded)`,
      `  chunker     ${result.chunker}${result.fullText ? ', with a BM25 full-text index' : ' (no full-text index on this server: dense search only)'}`,
      ...calibrationLine(result.grounding),
      `  milvus      ${result.milvus}`,
      `  time        ${result.seconds}s (storing ${result.insertSeconds}s)`,
      '',
    ].join('\n');
  }
  return [
    `ingested ${result.chunks} chunks from ${result.files} files into ${result.collection}`,
    `  model       ${result.embeddingModel} (${result.dimension} dims${result.embeddingEndpoint === undefined ? '' : `, through ${result.embeddingEndpoint}`})`,
    `  chunker     ${result.chunker}${result.fullText ? ', with a BM25 full-text index' : ' (no full-text index on this server: dense search only)'}`,
    ...calibrationLine(result.grounding),
    `  embedded    ${result.embeddedChunks} ${result.embeddedChunks === 1 ? 'chunk' : 'chunks'}${result.reusedChunks > 0 ? `; ${result.reusedChunks} unchanged kept their vectors (--full embeds all)` : ''}`,
    `  milvus      ${result.milvus}`,
    `  time        ${result.seconds}s (embedding ${result.embedSeconds}s, storing ${result.insertSeconds}s)`,
    '',
  ].join('\n');
}

function formatBytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatExport(result: ExportResult): string {
  return [
    `exported ${result.chunks} chunks of ${result.collection} to ${result.path}`,
    `  size        ${formatBytes(result.bytes)} (Parquet, Milvus bulk-import layout)`,
    `  model       ${result.embeddingModel} (${result.dimension} dims${result.embeddingDtype === undefined ? '' : `, ${result.embeddingDtype}`})`,
    `  chunker     ${result.chunker}`,
    ...corpusLine(result.corpus),
    `  rows sha256 ${result.rowsDigest}`,
    `  time        ${result.seconds}s`,
    '',
  ].join('\n');
}

export function formatEval(report: EvalResult): string {
  const lines = [
    `questions   ${report.questions}`,
    `model       ${report.embeddingModel}`,
    `chunker     ${report.chunker}`,
    `mode        ${report.mode}`,
    ...(report.rerank === undefined ? [] : [`reranker    ${report.rerank.by} over the top ${report.rerank.candidates}${report.rerank.fallbacks === 0 ? '' : ` (${report.rerank.fallbacks} fell back)`}`]),
    // A file of off-topic questions only has no real question to score recall on.
    `recall@${report.topK}    ${report.questions === 0 ? 'n/a' : report.recallAtK.toFixed(3)}`,
    `MRR         ${report.questions === 0 ? 'n/a' : report.mrr.toFixed(3)}`,
    ...(report.page === undefined ? [] : [`page recall@${report.topK} ${report.page.recallAtK.toFixed(3)}`, `page MRR    ${report.page.mrr.toFixed(3)}`]),
    ...(report.context === undefined ? [] : [`context     ${report.context.recall.toFixed(3)} recall in what ask sends (${contextWords(report)}; median prompt ${report.context.medianPromptChars} characters)`]),
    `misses      ${report.misses.length}`,
    ...report.misses.flatMap((miss) => [`  - ${miss.question}`, `    expected: ${miss.expected.join(' | ')}`, `    got:      ${miss.retrieved.join(' | ')}`]),
    ...groundingLines(report),
  ];
  return `${lines.join('\n')}\n${formatCurve(report)}`;
}

/** What ask sends, in words: the builder's budget and cap, or the top k. */
function contextWords(report: EvalResult): string {
  const budget = report.contextBudget;
  return budget === undefined ? `the top ${report.topK}` : `${budget.tokens} tokens from the top ${budget.maxHits}`;
}

/** How the grounding check did: false alarms on real questions, and off-topic ones flagged. */
function groundingLines(report: EvalResult): string[] {
  const { grounding, threshold } = report;
  const source = report.thresholdSource === 'min-score' ? '' : ` (${SOURCE_WORDS[report.thresholdSource]})`;
  const line = threshold === null ? 'none (no default for this model; pass --min-score)' : `${threshold.toFixed(3)}${source}`;
  const byProbe = new Set(grounding.refusedByProbe);
  const signal = (question: string) => (byProbe.has(question) ? ' (nearest probe)' : '');
  const lines = [`threshold   ${line}`, `flagged     ${grounding.realFlagged.length} of ${grounding.realQuestions} real questions`, ...grounding.realFlagged.map((question) => `  - ${question}${signal(question)}`)];
  if (grounding.offTopicQuestions === 0) return lines;
  const kinds = grounding.byKind.filter((kind) => !kind.real);
  const perKind = kinds.length > 1 || kinds[0]?.kind !== 'off-topic' ? ` (${kinds.map((kind) => `${kind.kind} ${kind.flagged}/${kind.questions}`).join(', ')})` : '';
  const realByProbe = grounding.realFlagged.filter((question) => byProbe.has(question)).length;
  const offTopicByProbe = byProbe.size - realByProbe;
  const probeWords = offTopicByProbe === 0 ? '' : `; ${offTopicByProbe} by the nearest probe`;
  return [...lines, `off-topic   ${grounding.offTopicFlagged} of ${grounding.offTopicQuestions} flagged${perKind}${probeWords}`, ...grounding.offTopicMissed.map((question) => `  - not flagged: ${question}`)];
}

/** A header and rows as aligned lines: each column as wide as its widest cell, two spaces between. */
function tableLines(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/**
 * With --curve: per line, the share of each kind flagged (refused, for real questions; caught, for
 * off-topic ones), the line in use marked. Empty without a curve.
 */
export function formatCurve(report: EvalResult): string {
  const curve: readonly CurvePoint[] | undefined = report.grounding.curve;
  if (curve === undefined || curve.length === 0) return '';
  const kinds = report.grounding.byKind.map((kind) => `${kind.kind} ${kind.real ? 'refused' : 'caught'}`);
  const keys = report.grounding.byKind.map((kind) => kind.kind);
  const header = ['line', ...kinds];
  const marked = report.threshold === null ? undefined : Number(report.threshold.toFixed(2));
  const rows = curve.map((point) => [`${point.threshold.toFixed(2)}${point.threshold === marked ? ' *' : ''}`, ...keys.map((key) => percent(point.flagged[key] ?? 0))]);
  const title = `curve (${report.mode}): share flagged as the line moves${marked === undefined ? '' : `; * marks the step nearest the line in use, ${report.threshold?.toFixed(3)}`}`;
  return [title, ...tableLines(header, rows), ''].join('\n');
}

/** Several modes on one question set, a row each (misses: run one mode to see them). */
export function formatEvalTable(reports: readonly EvalResult[]): string {
  const first = reports[0];
  if (first === undefined) return '';
  const k = first.topK;
  const offTopic = first.grounding.offTopicQuestions > 0;
  const reranked = reports.some((report) => report.rerank !== undefined);
  const kinds = first.grounding.byKind.filter((kind) => !kind.real).map((kind) => kind.kind);
  const context = first.context !== undefined;
  const header = ['mode', ...(reranked ? ['rerank'] : []), `recall@${k}`, 'MRR', ...(first.page === undefined ? [] : [`page recall@${k}`, 'page MRR']), ...(context ? ['context recall'] : []), 'misses', 'flagged', ...(offTopic ? ['off-topic flagged'] : []), ...(kinds.length > 1 ? kinds.map((kind) => `${kind} caught`) : [])];
  const rows = reports.map((report) => [
    report.mode,
    ...(reranked ? [rerankCell(report)] : []),
    report.recallAtK.toFixed(3),
    report.mrr.toFixed(3),
    ...(report.page === undefined ? [] : [report.page.recallAtK.toFixed(3), report.page.mrr.toFixed(3)]),
    ...(context ? [report.context?.recall.toFixed(3) ?? ''] : []),
    String(report.misses.length),
    String(report.grounding.realFlagged.length),
    ...(offTopic ? [`${report.grounding.offTopicFlagged}/${report.grounding.offTopicQuestions}`] : []),
    ...(kinds.length > 1 ? kinds.map((kind) => kindCell(report, kind)) : []),
  ]);
  const by = reports.find((report) => report.rerank !== undefined)?.rerank;
  const groundingLine = first.threshold === null ? 'no grounding line' : `grounding line ${first.threshold.toFixed(3)} (${first.thresholdSource})`;
  const title = `${first.questions} questions, model ${first.embeddingModel}, chunker ${first.chunker}, ${groundingLine}${by === undefined ? '' : `, reranker ${by.by} over the top ${by.candidates}`}`;
  return [title, ...tableLines(header, rows), ''].join('\n');
}

function kindCell(report: EvalResult, kind: string): string {
  const count = report.grounding.byKind.find((item) => item.kind === kind);
  return count === undefined ? '' : `${count.flagged}/${count.questions}`;
}

/** "no", "yes", or how often the retrieval order had to stand in for the reranker's. */
function rerankCell(report: EvalResult): string {
  if (report.rerank === undefined) return 'no';
  return report.rerank.fallbacks === 0 ? 'yes' : `yes (${report.rerank.fallbacks} fell back)`;
}

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

export function formatChecks(checks: readonly Check[]): string {
  return checks.map((check) => `${MARK[check.status]}  ${check.name.padEnd(10)} ${check.detail}${check.fix ? `\n      ${''.padEnd(10)} fix: ${check.fix}` : ''}\n`).join('');
}

function formatUptime(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** doctor's line about the service: what is up, or what the next command will do. */
/**
 * The service line of doctor. `differences`: this command's settings that are one per process and
 * differ from the service's (doctor still checked through it; other commands would not use it as is).
 */
export function serviceCheck(health: ServiceHealth | undefined, startsOne: boolean, seen: { differences: readonly string[]; checkedThrough: boolean } = { differences: [], checkedThrough: true }): Check {
  const { differences } = seen;
  if (health === undefined) {
    return { name: 'service', status: 'ok', detail: startsOne ? 'not running (the next command starts one)' : 'not running (commands work in-process)' };
  }
  const address = health.tcp === null ? health.socket : `${health.socket} and ${health.tcp}`;
  const models = health.models.length === 0 ? 'no model loaded' : `models ${health.models.join(', ')}`;
  const detail = `pid ${health.pid} at ${address}, up ${formatUptime(health.uptimeSeconds)}, RSS ${Math.round(health.rssBytes / 1024 / 1024)} MiB, ${models}${health.autoStarted ? ' (auto-started)' : ''}`;
  if (differences.length === 0) return { name: 'service', status: 'ok', detail };
  const next = health.autoStarted ? 'the next command restarts it once it is idle' : 'commands on its embedded data stop with an error; elsewhere they work in-process';
  return {
    name: 'service',
    status: 'warn',
    detail: `${detail}; it runs with other settings (${differences.join(', ')})${seen.checkedThrough ? ': Milvus was checked through it,' : ';'} and ${next}`,
    fix: '`ragoss serve --stop`, or run commands with its settings',
  };
}

export function formatJobStarted(job: JobInfo): string {
  return `ingest job ${job.id} started in the ragoss service: ${job.source} into ${job.collection}\nsearches keep answering from the current data until it switches over; \`ragoss doctor\` shows its progress\n`;
}

/** One check line per detached job: running ones with where they stand, failed ones as failures. */
export function jobChecks(health: ServiceHealth | undefined): Check[] {
  return (health?.jobs ?? []).map((job) => ({
    name: `ingest job ${job.id}`,
    status: job.state === 'failed' ? 'warn' : 'ok',
    detail: `${job.state} (${job.collection} from ${job.source}): ${job.progress}`,
    ...(job.error?.hint === undefined ? {} : { fix: job.error.hint }),
  }));
}

/** Doctor's checks in order, for the text and the JSON alike: the service, its jobs, then the rest. */
export function doctorChecks(report: DoctorReport, health: ServiceHealth | undefined, service: Check): Check[] {
  return [service, ...jobChecks(health), ...report.checks];
}

export function doctorJson(report: DoctorReport, health: ServiceHealth | undefined, service: Check): Record<string, unknown> {
  const serviceReport = health === undefined ? { running: false } : { running: true, pid: health.pid, socket: health.socket, tcp: health.tcp, uptimeSeconds: health.uptimeSeconds, rssBytes: health.rssBytes, models: health.models, autoStarted: health.autoStarted, jobs: health.jobs };
  return { ...report, service: serviceReport, checks: doctorChecks(report, health, service) };
}
