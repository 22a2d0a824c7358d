extension WeftSchema {
    /// Migration 2: a cheaper write path (measured with `weft bench throughput`, fsync on).
    ///
    /// - **`runs_by_status_idx` goes.** A run's status changes when it closes, so with `status`
    ///   indexed every close was an update that could never be HOT and inserted a new entry into
    ///   every index of `runs`: index insertion was a third of Postgres's time under load. Listing
    ///   by status now filters while walking the primary key (time-ordered run ids) or the
    ///   workflow index, which listings page through anyway.
    /// - **`task_attempts` table partitions keep 30% of each page free** (`fillfactor = 70`): an
    ///   attempt row is updated once, when it ends, and no indexed column changes then, so with
    ///   room on its page the update is HOT — no new index entry, one page written. New table
    ///   partitions are created with it (`PartitionMaintenance`); existing ones get it for the
    ///   pages they fill from now on.
    static let migration2 = Migration(version: 2, name: "cheaper write path", sql: """
        DROP INDEX IF EXISTS runs_by_status_idx;
        DO $$
        DECLARE partition regclass;
        BEGIN
            FOR partition IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'task_attempts'::regclass LOOP
                EXECUTE format('ALTER TABLE %s SET (fillfactor = 70)', partition);
            END LOOP;
        END $$;
        """)
}
