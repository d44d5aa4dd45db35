import * as columns from './schema/columns.ts'
import { clientDocument } from './schema/client-document.ts'
import { materializers } from './schema/materializers.ts'
import { makeState } from './schema/schema.ts'
import { table } from './schema/table.ts'

/**
 * State definitions: `State.SQLite.table`, the column kinds, `clientDocument`, `materializers`
 * and `makeState`.
 */
export const State = {
  SQLite: { table, clientDocument, materializers, makeState, ...columns },
} as const

export { Events, type EventDef, type EventInput, type AnyEventDef } from './schema/events.ts'
export { makeSchema, type Schema, type StateDef, type UnknownEventHandling } from './schema/schema.ts'
export { SessionIdSymbol, type ClientDocumentDef } from './schema/client-document.ts'
export {
  or,
  QueryBuilder,
  WriteQuery,
  type Queryable,
  type Writable,
  type InsertOf,
  type RowOf,
  type Op,
  type WhereObject,
} from './schema/query-builder.ts'
export type { TableDef, IndexDefinition } from './schema/table.ts'
export type { ColumnDefinition, ColumnKind } from './schema/columns.ts'
export type { MaterializerContext, MaterializerResult, EventMeta, RawWrite } from './schema/materializers.ts'
export type { StandardSchemaV1 } from './schema/standard-schema.ts'
export { sql, type SqlFragment, type SqlValue, type BindValues } from './sqlite/sql.ts'
export {
  queryDb,
  computed,
  signal,
  LiveQueryDef,
  ComputedDef,
  SignalDef,
  type Def,
  type Getter,
  type RawQuery,
  type DefValues,
} from './reactive/query-def.ts'
export {
  createStorePromise,
  Store,
  type CreateStoreOptions,
  type CommitHandle,
  type SyncStatus,
  type SubscribeOptions,
} from './session/store.ts'
export { makeInMemoryAdapter, type Adapter, type LeaderPort, type OpenLeaderOptions } from './leader/adapter.ts'
export { hostLeader, type LeaderHostOptions } from './leader/host.ts'
export {
  Leader,
  type CommitHint,
  type BootProgress,
  type BootStage,
  type BootStatus,
  type SessionBoot,
  type AppendResult,
  type LeaderMessage,
  type LeaderStatus,
  type LoggedEvent,
  type LogEntry,
} from './leader/leader.ts'
export type { InstanceInfo } from './reactive/graph.ts'
export { syncStatus$, type SyncStatusError, type RefusedEvent } from './sync/status.ts'
export { LeaderSync, type SyncOptions, type BackendIdMismatchPolicy, type LeaderSyncHooks } from './sync/leader-sync.ts'
export {
  SyncError,
  SYNC_ERROR_CODES,
  DEFAULT_SYNC_LIMITS,
  type SyncBackend,
  type SyncConnection,
  type SyncConnectParams,
  type SyncHandlers,
  type SyncLimits,
  type SyncErrorCode,
  type SyncErrorDetails,
  type WireEvent,
  type ServerEvent,
  type PullPage,
  type PushAck,
  type Welcome,
} from './sync/backend.ts'
export { planAppend, pageEnd, type ProducerLookup, type PlannedEvent } from './sync/plan-append.ts'
export type { EventRecord } from './events/record.ts'
export { formatSeqNum, compareSeqNum, type SeqNum } from './events/seq-num.ts'
export { SqliteDb, SqliteError, RecordedWrites, loadSqlite, type Row, type SqliteOpenOptions } from './sqlite/db.ts'
export { readSparseImage, type SparseImageReader } from './sqlite/file-image.ts'
export {
  CairnError,
  InvalidEventArgsError,
  MaterializerError,
  QueryError,
  StoreShutdownError,
  SchemaError,
  UnknownEventError,
  ColumnValueError,
  type Issue,
} from './errors.ts'
export type { DocumentId } from './schema/client-document.ts'
export { listenable, documentQuery, setDocument, type Listenable, type DocumentUpdate } from './reactive/listenable.ts'
