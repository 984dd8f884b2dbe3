import { z } from 'zod';
import type { Grounding } from '../pipeline/grounding.js';
import type { RankedHit } from '../pipeline/retrieve.js';

/**
 * A hit as every entry point publishes it: `search --json` and `ask --json`, the HTTP API (and so
 * the CLI talking to the service), and the MCP tools. One shape, so a script moving between them
 * keeps its parsing: the engine's own field names (camelCase, as the rest of the HTTP API and the
 * CLI's JSON), the fields present only when known.
 */

/**
 * Scores are published at 6 decimals, everywhere, and the text output prints from the published
 * value (`shownScore`), so a score reads the same in-process, through the service and over MCP.
 * Milvus returns float32 scores (about 7 significant digits): 0.8090022206306458 is float32's
 * 0.8090022 widened to a double, so the digits past the sixth decimal of a cosine are noise. The
 * order is `rank`'s, never the rounded scores'.
 */
export function roundScore(score: number): number {
  return Number(score.toFixed(6));
}

/** A score or similarity as text prints it: from the published (rounded) value, never the raw one. */
export function shownScore(score: number, digits: number): string {
  return roundScore(score).toFixed(digits);
}

/** Where a hit is and how it scored: the hit without its text (MCP ask's sources, which point at what the model read). */
export const hitPlaceSchema = z.object({
  rank: z.number().int(),
  /** The retrieval's score (cosine, BM25 or the hybrid's RRF), rounded as `roundScore` says. */
  score: z.number(),
  source: z.string(),
  chunkIndex: z.number().int(),
  heading: z.string().optional(),
  /** 1-based line of the file where the chunk starts. */
  line: z.number().int().optional(),
  url: z.string().optional(),
  /** The reranker's score, when a reranker ordered the hits. */
  rerankScore: z.number().optional(),
});

export const hitJsonSchema = hitPlaceSchema.extend({ text: z.string() });

export type HitPlace = z.infer<typeof hitPlaceSchema>;
export type HitJson = z.infer<typeof hitJsonSchema>;

/** A hit as published. Keys in this order (the order `search --json` has always printed). */
export function hitJson(hit: RankedHit): HitJson {
  return {
    rank: hit.rank,
    score: roundScore(hit.score),
    text: hit.text,
    source: hit.source,
    chunkIndex: hit.chunkIndex,
    ...(hit.heading === undefined ? {} : { heading: hit.heading }),
    ...(hit.line === undefined ? {} : { line: hit.line }),
    ...(hit.url === undefined ? {} : { url: hit.url }),
    ...(hit.rerankScore === undefined ? {} : { rerankScore: roundScore(hit.rerankScore) }),
  };
}

/** A hit as published, without its text. */
export function hitPlace(hit: RankedHit): HitPlace {
  const { text: _text, ...place } = hitJson(hit);
  return place;
}

/**
 * A published hit back into the engine's type (the service's client reads its hits this way). The
 * names are the engine's, so nothing is renamed: only the scores have lost their noise digits. It
 * compiles only while a published hit still carries everything a `RankedHit` needs.
 */
export function hitFromJson(json: HitJson): RankedHit {
  return json;
}

/** The verdict as published: the engine's own shape, its similarities rounded (`groundingJson`). */
export type GroundingJson = Grounding;

/** The grounding verdict as published beside the hits: similarities rounded as scores are. */
export function groundingJson(grounding: Grounding): GroundingJson {
  const probe = grounding.nearestProbe;
  return {
    grounded: grounding.grounded,
    similarity: grounding.similarity === null ? null : roundScore(grounding.similarity),
    threshold: grounding.threshold,
    thresholdSource: grounding.thresholdSource,
    nearestProbe: probe === null ? null : { question: probe.question, similarity: roundScore(probe.similarity) },
    refusedBy: grounding.refusedBy,
  };
}

/** Why the nearest-probe signal refused a question, in words (CLI and MCP alike); undefined when it did not. */
export function probeRefusalWords(grounding: Grounding): string | undefined {
  const probe = grounding.nearestProbe;
  if (grounding.refusedBy !== 'nearest probe' || probe === null || grounding.similarity === null) return undefined;
  return `closer to a question about something else, "${probe.question}" (${shownScore(probe.similarity, 3)}), than to any passage (${shownScore(grounding.similarity, 3)})`;
}

/** A search or ask result with its hits and verdict as published (the HTTP API's answer). */
export function withPublishedHits<T extends Grounding & { hits: RankedHit[] }>(result: T): Omit<T, 'hits'> & GroundingJson & { hits: HitJson[] } {
  return { ...result, ...groundingJson(result), hits: result.hits.map(hitJson) };
}

/** The other way, for the service's client: a published result's hits as the engine's. */
export function withEngineHits<T extends { hits: HitJson[] }>(result: T): Omit<T, 'hits'> & { hits: RankedHit[] } {
  return { ...result, hits: result.hits.map(hitFromJson) };
}
