/** How long ragoss waits on embedded Milvus Lite, unless told otherwise: what config reads its settings against and the store falls back to. */

/** How long to wait for another process's hold on the data directory (RAGOSS_LOCK_TIMEOUT). */
export const DEFAULT_LOCK_TIMEOUT_SECONDS = 120;
/** How long Milvus Lite may take to listen (RAGOSS_START_TIMEOUT). */
export const DEFAULT_START_TIMEOUT_SECONDS = 60;
