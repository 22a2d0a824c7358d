extension WeftSchema {
    /// Migration 5: child workflows.
    ///
    /// A child run's link to its parent — which run, which node (a map element: `node[i]`), which
    /// attempt, the width of the map it belongs to, how deep it nests — is written in the same transaction as the
    /// child run itself. It is the durable side of the parent's barrier: the parent's owner learns
    /// that children closed from Redis (`SADD` + `SCARD`, one notification per map) or from a
    /// failed child's own call, and in every case reads the outcomes here, joined to `runs`; after
    /// a restart, a failover or a Redis loss it reads them here too, so recovery never depends on
    /// Redis. `child_created_at` lets that join reach the child's table partition directly.
    static let migration5 = Migration(version: 5, name: "child workflows", sql: """
        CREATE TABLE child_runs (
            child_run_id     uuid        PRIMARY KEY,
            child_created_at timestamptz NOT NULL,
            parent_run_id    uuid        NOT NULL,
            parent_node      text        NOT NULL,
            parent_attempt   integer     NOT NULL CHECK (parent_attempt >= 1),
            map_width        integer     NOT NULL CHECK (map_width >= 1),
            depth            integer     NOT NULL CHECK (depth >= 1),
            created_at       timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX child_runs_parent_idx ON child_runs (parent_run_id);
        COMMENT ON TABLE child_runs IS
            'Child workflow runs and their parent node (map elements: node[i]); written with the child run; the durable side of the parent''s Redis barrier.';
        """)
}
