extension WeftSchema {
    /// Migration 4: cron schedules (`weftctl schedule …`).
    ///
    /// A schedule belongs to a partition (`partition`, from its name) and is fired by that
    /// partition's owner. Its cursor — `next_fire_ms`, the next tick not yet fired or skipped, and
    /// `buffered_ms`, a tick `buffer_one` holds back — moves only after the tick's run is started;
    /// the start is keyed by schedule and tick (an idempotency key `schedule/<id>/<tick>`, in the
    /// same transaction as the run), so a crash between the two starts nothing twice. `id` is new
    /// for every schedule created, so a schedule deleted and created again under its name starts
    /// afresh. `revision` (from `schedule_revisions`) changes with every change an operator makes,
    /// never with the cursor: owners poll `max(revision)` and `count(*)` of their partitions to
    /// see changes cheaply.
    static let migration4 = Migration(version: 4, name: "cron schedules", sql: """
        CREATE SEQUENCE schedule_revisions;
        CREATE TABLE schedules (
            id                bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
            name              text        PRIMARY KEY,
            partition         integer     NOT NULL CHECK (partition >= 0),
            workflow          text        NOT NULL,
            version           text        NOT NULL DEFAULT '',
            cron              text        NOT NULL,
            timezone          text        NOT NULL,
            input             bytea       NOT NULL,
            overlap           text        NOT NULL CHECK (overlap IN ('skip', 'buffer_one', 'allow')),
            catchup_window_ms bigint      NOT NULL CHECK (catchup_window_ms >= 0),
            paused            boolean     NOT NULL DEFAULT false,
            next_fire_ms      bigint,
            buffered_ms       bigint,
            last_tick_ms      bigint,
            last_run_id       uuid,
            revision          bigint      NOT NULL DEFAULT nextval('schedule_revisions'),
            created_at        timestamptz NOT NULL DEFAULT now(),
            updated_at        timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX schedules_partition_idx ON schedules (partition);
        COMMENT ON TABLE schedules IS
            'Cron schedules. next_fire_ms/buffered_ms are the cursor, moved by the owner of partition after each tick''s run is started (keyed schedule/<id>/<tick> in idempotency_keys).';
        """)
}
