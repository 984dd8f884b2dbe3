import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let fullCollection: (() => void) | undefined;
let looked = false;

/**
 * Runs a full garbage collection now, where V8 lets us. Why: each ingest batch's rows stay alive
 * across an insert round trip while the next batch embeds, so young-generation collections promote
 * them, and V8 lets that old-generation garbage grow by 150-200 MB before it collects it (measured on
 * the full docs: heap 60 -> 240 MB, RSS +200 MB). One full collection per batch of 256 chunks costs
 * ~10-40 ms and keeps the peak at what one batch needs, whatever the corpus size.
 */
export function collectGarbage(): void {
  if (!looked) {
    looked = true;
    try {
      setFlagsFromString('--expose-gc');
      fullCollection = runInNewContext('gc') as () => void;
    } catch {
      fullCollection = undefined;
    }
  }
  fullCollection?.();
}
