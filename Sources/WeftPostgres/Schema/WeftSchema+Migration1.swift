extension WeftSchema {
    /// Migration 1: the tables of ARCHITECTURE.md §5. Never edit it once shipped (its checksum is
    /// recorded); change the schema with migration 2 and up.
    ///
    /// Choices that are not obvious:
    /// - **Run ids are `uuid`** (16 bytes, fast comparisons), not text. `created_at` of `runs`
    ///   and `task_attempts` is the run id's UUIDv7 millisecond timestamp, enforced by a CHECK
    ///   against `weft_uuid7_time(run_id)`, so a lookup that computes `created_at` from the id
    ///   (`RunID.createdAt`) always finds the row and prunes to one table partition.
    ///   The check is re-evaluated on every insert and update of those rows, so the function is
    ///   kept cheap: about 0.25 µs (measured; `uuid_send` + `encode`, no text parsing of the
    ///   uuid, `float8` rather than `numeric` division).
    /// - **`weft_uuid7_time` is exact through 2106-02-07** (2^32 seconds; checked on a million
    ///   random ids). It divides in `float8`, whose rounding could be off by a microsecond for
    ///   later ids; the exact all-integer formulations cost 5–6 times as much per row. A migration
    ///   well before then can switch.
    /// - **`weft_uuid7_time` has a SQL-standard body** (`RETURN ...`): it is parsed and bound when
    ///   created, so it behaves the same whatever the caller's `search_path`, and is `IMMUTABLE`
    ///   so the planner can fold it into partition pruning.
    /// - **Task attempts live in their run's month**: their `created_at` is the run's, not the
    ///   attempt's, so a run and all its attempts share a table partition and are found with the
    ///   same pruning key.
    /// - **"Open" is `closed_at IS NULL`**, not a list of statuses: the recovery index is partial
    ///   on it, so the status vocabulary belongs to the engine (`WeftEngine`) and can grow without
    ///   a migration. The writer must set `closed_at` exactly when a run reaches a terminal status.
    ///   Closed runs leave the index, which therefore stays as small as the open set.
    /// - **`status` and `kind` are `text`**, not `smallint` codes: readable in `psql` and in
    ///   `weftctl` filters without a mapping table kept in sync, for a few bytes per row.
    /// - **Payloads (`input`, `output`, history `body`) are `bytea`**: opaque to Postgres, no JSON
    ///   parsing on the write path, any codec. Definition bodies are `bytea` too because
    ///   `version_hash` is a content hash: `jsonb` would reorder keys and drop whitespace, so the
    ///   stored bytes would no longer be the hashed bytes.
    /// - **Columns are ordered fixed-width first** (uuid, timestamps, integers, then variable
    ///   length), which avoids alignment padding; writers always name their columns.
    /// - **Listing indexes end in `run_id`**: keyset paging by `(created_at, run_id)` is exact even
    ///   for runs created in the same millisecond. Listing without a filter needs no index of its
    ///   own: the primary key starts with the time-ordered `run_id`.
    /// - **`history_events` is unique on `(run_id, seq, at)`**: Postgres requires the partition
    ///   key in every unique index, so `(run_id, seq)` alone is only unique within a day. Its
    ///   single writer (the partition owner, under the fence) numbers events, which keeps `seq`
    ///   unique per run.
    /// - **No DEFAULT table partitions.** A default partition would accept rows of any time, but
    ///   creating a table partition whose range it already holds rows for then fails (or must
    ///   scan and move them under a heavy lock), and `DETACH ... CONCURRENTLY` is refused while
    ///   one exists. Instead table partitions are created ahead (at migrate time and by periodic
    ///   maintenance) and a row outside them fails with SQLSTATE 23514, which the stores report as
    ///   ``StoreError/Code/missingTablePartition``.
    /// - **`idempotency_keys` is not partitioned**: a key must stay unique across all time, which
    ///   a partitioned table cannot enforce without the time in the key. Old keys are deleted in
    ///   small batches (``PartitionMaintenance/dropExpiredHistory(now:retention:idempotencyKeyBatchSize:)``).
    /// - **`workflow_definitions.applied_at`** (besides `created_at`) is the last time a version
    ///   was applied, so re-applying an older version makes it the latest again
    ///   (`workflow_definitions_latest`).
    static let migration1 = Migration(version: 1, name: "initial schema", sql: """
        -- Weft schema 1 (ARCHITECTURE.md section 5). Objects are created in the first schema of search_path.

        CREATE FUNCTION weft_uuid7_time(run_id uuid) RETURNS timestamptz
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            RETURN to_timestamp(('x' || encode(substring(uuid_send(run_id) FROM 1 FOR 6), 'hex'))::bit(48)::bigint::float8 / 1000);
        COMMENT ON FUNCTION weft_uuid7_time(uuid) IS
            'The creation time of a UUIDv7 run id (its 48-bit Unix milliseconds): the created_at of the run and its task attempts. Exact to the microsecond for ids up to 2106-02-07 (2^32 seconds).';

        CREATE TABLE cluster_meta (
            key   text PRIMARY KEY,
            value text NOT NULL
        );
        COMMENT ON TABLE cluster_meta IS
            'Cluster-wide settings fixed at creation: partition_count (P) and cluster_name. Written by weft migrate.';

        CREATE TABLE partition_owners (
            partition_id  integer     PRIMARY KEY CHECK (partition_id >= 0),
            range_id      bigint      NOT NULL DEFAULT 0 CHECK (range_id >= 0),
            updated_at    timestamptz,
            owner_node    text,
            owner_address text
        );
        COMMENT ON TABLE partition_owners IS
            'One row per partition 0..P-1. range_id is the fence: every claim increments it, and every write for the partition checks it (SELECT ... FOR SHARE) in its transaction.';

        CREATE TABLE workflow_definitions (
            name         text        NOT NULL,
            version_hash text        NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            applied_at   timestamptz NOT NULL DEFAULT now(),
            body         bytea       NOT NULL,
            PRIMARY KEY (name, version_hash)
        );
        CREATE INDEX workflow_definitions_latest_idx ON workflow_definitions (name, applied_at DESC, version_hash);
        CREATE VIEW workflow_definitions_latest AS
            SELECT DISTINCT ON (name) name, version_hash, created_at, applied_at, body
            FROM workflow_definitions
            ORDER BY name, applied_at DESC, version_hash;
        COMMENT ON TABLE workflow_definitions IS
            'Workflow definitions by content hash. body holds exactly the bytes that were hashed. applied_at is the last time the version was applied; the latest version of a name has the greatest applied_at (view workflow_definitions_latest).';

        CREATE TABLE runs (
            run_id     uuid        NOT NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            closed_at  timestamptz,
            partition  integer     NOT NULL CHECK (partition >= 0),
            priority   smallint    NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 3),
            workflow   text        NOT NULL,
            version    text        NOT NULL,
            status     text        NOT NULL,
            error      text,
            input      bytea,
            output     bytea,
            PRIMARY KEY (run_id, created_at),
            CONSTRAINT runs_created_at_from_run_id CHECK (created_at = weft_uuid7_time(run_id))
        ) PARTITION BY RANGE (created_at);
        CREATE INDEX runs_open_by_partition_idx ON runs (partition, run_id) WHERE closed_at IS NULL;
        CREATE INDEX runs_by_workflow_idx ON runs (workflow, created_at DESC, run_id DESC);
        CREATE INDEX runs_by_status_idx ON runs (status, created_at DESC, run_id DESC);
        COMMENT ON TABLE runs IS
            'One row per run, table-partitioned by month of created_at (= weft_uuid7_time(run_id)). A run is open while closed_at IS NULL; closed_at is set exactly when status becomes terminal.';
        COMMENT ON COLUMN runs.partition IS 'xxh64(run_id bytes, seed 0) mod P: the partition that owns the run.';
        COMMENT ON COLUMN runs.priority IS '0 critical, 1 high, 2 normal, 3 low.';

        CREATE TABLE task_attempts (
            run_id       uuid        NOT NULL,
            created_at   timestamptz NOT NULL,
            scheduled_at timestamptz NOT NULL,
            started_at   timestamptz,
            finished_at  timestamptz,
            attempt      integer     NOT NULL CHECK (attempt >= 1),
            node         text        NOT NULL,
            status       text        NOT NULL,
            worker       text,
            error_kind   text,
            error        text,
            output       bytea,
            PRIMARY KEY (run_id, node, attempt, created_at),
            CONSTRAINT task_attempts_created_at_from_run_id CHECK (created_at = weft_uuid7_time(run_id))
        ) PARTITION BY RANGE (created_at);
        COMMENT ON TABLE task_attempts IS
            'One row per attempt of a task node. created_at is the RUN''s creation time (from run_id), so a run and its attempts share a monthly table partition.';

        CREATE TABLE idempotency_keys (
            key        text        PRIMARY KEY,
            run_id     uuid        NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
        COMMENT ON TABLE idempotency_keys IS
            'Start-run idempotency keys. Not partitioned: a key is unique across all time. Rows past the retention are deleted in small batches.';

        CREATE TABLE history_events (
            run_id    uuid        NOT NULL,
            at        timestamptz NOT NULL,
            seq       bigint      NOT NULL CHECK (seq >= 0),
            partition integer     NOT NULL CHECK (partition >= 0),
            kind      text        NOT NULL,
            body      bytea,
            PRIMARY KEY (run_id, seq, at)
        ) PARTITION BY RANGE (at);
        COMMENT ON TABLE history_events IS
            'Every state change of every run, table-partitioned by day of at. Day partitions past the retention are detached and dropped, never bulk-deleted.';
        """)
}
