/**
 * Whether a --source or --out names a snapshot: by its extension, as users name them. Its own
 * module so the CLI and the engine can ask without loading the Parquet libraries.
 */
export function isSnapshotPath(source: string): boolean {
  return /\.parquet$/i.test(source);
}
