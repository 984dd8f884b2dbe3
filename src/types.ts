/**
 * The records every layer shares: what a collection records of the docs it was built from and of
 * its "not in the docs" line. They sit below every layer (this module imports nothing), so the
 * store, the corpus, the snapshot format and the pipeline all name them without importing each other.
 */

/** Where a collection's chunks came from, as recorded at ingest (and carried by snapshots). */
export interface CorpusRecord {
  /** The URL, zip or directory ingested. */
  source: string;
  glob: string;
  /** sha256 over the files read (path and text, in path order): the same docs give the same digest. */
  digest: string;
}

/**
 * How a collection's line was drawn, recorded with it (and carried by its snapshots). The null
 * distribution is the best similarity each of ragoss's off-topic probes (grounding-probes.ts)
 * reaches on the collection's own chunks: what questions about other subjects score there.
 */
export interface GroundingCalibration {
  threshold: number;
  /** The rule in words, for doctor and --json. */
  method: string;
  /** How many probes were embedded (their best similarities are the null distribution). */
  probes: number;
  /** The highest best similarity of any probe. */
  nullMax: number;
  /** The null distribution's `quantile` quantile. */
  nullQuantile: number;
  quantile: number;
  /** Added above the quantile. */
  margin: number;
}
