extension WeftSchema {
    /// Migration 3: signals (`SignalRun`, `wait_signal` nodes).
    ///
    /// A signal is acknowledged to its sender only after its row is committed, so a run never loses
    /// one: a signal that arrives before its node is reached stays here (`consumed_by` NULL) and is
    /// loaded with the run on recovery; when a signal node takes it, `consumed_by` names the node in
    /// the same transaction as the node's completion. `seq` numbers a run's signals from 0.
    /// Not table-partitioned: signals are rare next to runs and attempts (a retention for them
    /// belongs with the runs' retention).
    static let migration3 = Migration(version: 3, name: "run signals", sql: """
        CREATE TABLE run_signals (
            run_id      uuid        NOT NULL,
            seq         integer     NOT NULL CHECK (seq >= 0),
            name        text        NOT NULL,
            payload     bytea       NOT NULL,
            received_at timestamptz NOT NULL,
            consumed_by text,
            PRIMARY KEY (run_id, seq)
        );
        COMMENT ON TABLE run_signals IS
            'Signals sent to runs (SignalRun). consumed_by is the wait_signal node that took the signal; NULL while it waits for one.';
        """)
}
