/** A collection name no other test (or earlier run against the same Milvus) uses: prefix, time, random. */
export function uniqueCollection(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
}
