import { describe, expect, it } from 'vitest';
import { groundingJson, hitFromJson, hitJson, hitJsonSchema, hitPlace, probeRefusalWords, roundScore, shownScore, withEngineHits, withPublishedHits } from '../../src/engine/hit-json.js';
import type { RankedHit } from '../../src/pipeline/retrieve.js';

const full: RankedHit = {
  rank: 1,
  score: 0.8090022206306458,
  text: ' Where does Milvus store data?\n\nMilvus deals with two types of data.',
  source: 'en/faq/product_faq.md',
  chunkIndex: 5,
  heading: 'Where does Milvus store data?',
  line: 37,
  url: 'https://milvus.io/docs/v2.4.x/product_faq.md#Where-does-Milvus-store-data',
  rerankScore: 0.4285714328289032,
};

describe('the published hit', () => {
  it('has every field, in the order search --json has always printed, scores at 6 decimals', () => {
    const json = hitJson(full);
    expect(Object.keys(json)).toEqual(['rank', 'score', 'text', 'source', 'chunkIndex', 'heading', 'line', 'url', 'rerankScore']);
    expect(json).toEqual({ ...full, score: 0.809002, rerankScore: 0.428571 });
    expect(hitJsonSchema.parse(json)).toEqual(json);
  });

  it('leaves out what is not known (no key with undefined in it)', () => {
    const bare: RankedHit = { rank: 2, score: 0.5, text: 't', source: 's.md', chunkIndex: 0 };
    expect(Object.keys(hitJson(bare))).toEqual(['rank', 'score', 'text', 'source', 'chunkIndex']);
    expect(Object.keys(hitJson({ ...bare, heading: '', line: 1 }))).toEqual(['rank', 'score', 'text', 'source', 'chunkIndex', 'heading', 'line']);
  });

  it('a place is the hit without its text', () => {
    const { text: _text, ...rest } = hitJson(full);
    expect(hitPlace(full)).toEqual(rest);
  });

  it('reads back into the engine type unchanged but for the rounding, and publishing it again changes nothing', () => {
    const back = hitFromJson(hitJson(full));
    expect(back).toEqual({ ...full, score: 0.809002, rerankScore: 0.428571 });
    expect(hitJson(back)).toEqual(hitJson(full));
    const bare: RankedHit = { rank: 2, score: 0.5, text: 't', source: 's.md', chunkIndex: 0 };
    expect(Object.keys(hitFromJson(hitJson(bare)))).toEqual(Object.keys(bare));
  });
});

describe('scores', () => {
  it('round to 6 decimals, and rounding twice is rounding once', () => {
    expect(roundScore(0.8090022206306458)).toBe(0.809002);
    expect(roundScore(12.3456789)).toBe(12.345679);
    for (const score of [0.12344951, 0.99999951, 0.016393442, -0.2]) expect(roundScore(roundScore(score))).toBe(roundScore(score));
  });

  it('print from the published value, so a score reads the same before and after the wire', () => {
    // Raw, this prints 0.1234; published first (0.12345), 0.1235: the service's client only has the latter.
    const raw = 0.12344951;
    expect([raw.toFixed(4), roundScore(raw).toFixed(4)]).toEqual(['0.1234', '0.1235']);
    expect(shownScore(raw, 4)).toBe(shownScore(roundScore(raw), 4));
    expect(shownScore(raw, 4)).toBe(roundScore(raw).toFixed(4));
  });
});

describe('results', () => {
  const nearestProbe = { question: 'how do I bake bread', similarity: 0.2123456789 };
  const result = { question: 'q', grounded: true, similarity: 0.8090022206306458, threshold: 0.197, thresholdSource: 'collection' as const, nearestProbe, refusedBy: null, hits: [full] };

  it('the verdict: similarities rounded as scores, the rest as it is', () => {
    const probe = { question: 'how do I bake bread', similarity: 0.212346 };
    expect(groundingJson(result)).toEqual({ grounded: true, similarity: 0.809002, threshold: 0.197, thresholdSource: 'collection', nearestProbe: probe, refusedBy: null });
    expect(groundingJson({ ...result, grounded: false, refusedBy: 'nearest probe' })).toMatchObject({ grounded: false, refusedBy: 'nearest probe' });
    expect(groundingJson({ ...result, similarity: null, threshold: null, thresholdSource: 'none', nearestProbe: null })).toEqual({
      grounded: true,
      similarity: null,
      threshold: null,
      thresholdSource: 'none',
      nearestProbe: null,
      refusedBy: null,
    });
  });

  it('says in words why the nearest probe refused a question, and nothing when it did not', () => {
    expect(probeRefusalWords({ ...result, grounded: false, refusedBy: 'nearest probe', similarity: 0.3101 })).toBe(
      'closer to a question about something else, "how do I bake bread" (0.212), than to any passage (0.310)',
    );
    expect(probeRefusalWords(result)).toBeUndefined();
    expect(probeRefusalWords({ ...result, grounded: false, refusedBy: 'similarity' })).toBeUndefined();
    expect(probeRefusalWords({ ...result, grounded: false, refusedBy: 'nearest probe', nearestProbe: null })).toBeUndefined();
  });

  it('a result as the HTTP API sends it, and back as the service client reads it', () => {
    const published = withPublishedHits(result);
    expect(published).toEqual({ ...result, similarity: 0.809002, nearestProbe: { question: 'how do I bake bread', similarity: 0.212346 }, hits: [hitJson(full)] });
    expect(withEngineHits(published)).toEqual({ ...published, hits: [hitFromJson(hitJson(full))] });
  });
});
