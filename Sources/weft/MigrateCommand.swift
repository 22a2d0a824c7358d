import ArgumentParser
import Logging
import Weft
import WeftCLISupport
import WeftPostgres

/// `weft migrate --postgres URL [--partitions P]`: brings a database up to Weft's schema
/// (ARCHITECTURE.md §5, §10). Applies pending migrations, creates the cluster on first use (P and
/// the cluster name in `cluster_meta`, one `partition_owners` row per partition) and creates the
/// table partitions for now and ahead. Idempotent and safe to run concurrently.
///
/// Prints one line per thing done on standard output; exit 0 on success, 1 when Postgres is
/// unreachable or refuses (the message never contains the password), 2 on bad flags.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the Postgres schema, and create the cluster on first use.")

    @Option(help: "Postgres URL, e.g. postgresql://user:password@host:5432/db. [env: WEFT_POSTGRES_URL]")
    var postgres: String?

    @Option(help: "Partition count P of a new cluster (fixed for its life; an existing cluster keeps its own, and a different value is refused). [env: WEFT_PARTITIONS] (default: 256)")
    var partitions: String?

    @Option(name: .customLong("months-ahead"), help: "Monthly table partitions of runs and task_attempts to create after the current month's. [env: WEFT_MONTHS_AHEAD] (default: 2)")
    var monthsAhead: String?

    @Option(name: .customLong("days-ahead"), help: "Daily table partitions of history_events to create after today's. [env: WEFT_DAYS_AHEAD] (default: 7)")
    var daysAhead: String?

    @Option(name: .customLong("connect-timeout"), help: "How long to wait for Postgres to accept the connection. [env: WEFT_CONNECT_TIMEOUT] (default: 10s)")
    var connectTimeout: String?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        _ = try postgresURL()
        _ = try partitionCount()
        _ = try integer(monthsAhead, flag: "months-ahead", range: 0...36)
        _ = try integer(daysAhead, flag: "days-ahead", range: 0...366)
        _ = try timeout()
    }

    private func postgresURL() throws -> String {
        guard let url = WeftEnvironment.resolve(postgres, flag: "postgres") else {
            throw ValidationError("--postgres URL (or WEFT_POSTGRES_URL) is required")
        }
        return url
    }

    /// `nil` when not given: a new cluster gets the default, an existing one keeps its own.
    private func partitionCount() throws -> Int? {
        try integer(partitions, flag: "partitions", range: 1...WeftSchema.maximumPartitionCount)
    }

    private func integer(_ value: String?, flag: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text = WeftEnvironment.resolve(value, flag: flag) else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw ValidationError("--\(flag) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return number
    }

    private func timeout() throws -> Duration {
        try parseDuration(WeftEnvironment.resolve(connectTimeout, flag: "connect-timeout") ?? "10s", flag: "connect-timeout")
    }

    func run() async throws {
        try common.bootstrapLogging()
        let logger = Logger(label: "weft.migrate")
        var configuration = WeftSchema.Configuration(
            partitionCount: try partitionCount(),
            // Only an explicit --cluster / WEFT_CLUSTER is checked against an existing cluster;
            // a new cluster without one is named "weft", the --cluster default.
            clusterName: WeftEnvironment.resolve(common.cluster, flag: "cluster"))
        if let months = try integer(monthsAhead, flag: "months-ahead", range: 0...36) { configuration.monthsAhead = months }
        if let days = try integer(daysAhead, flag: "days-ahead", range: 0...366) { configuration.daysAhead = days }

        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(url: try postgresURL(), connectTimeout: try timeout(), logger: logger)
        } catch let error as PostgresError {
            // libpq's message, with any password already scrubbed; never the URL itself.
            throw CommandFailure("cannot connect to Postgres: \(error.message)")
        }
        let report: WeftSchema.MigrationReport
        do {
            report = try await WeftSchema.migrate(connection: connection, configuration: configuration, logger: logger)
        } catch {
            await connection.close()
            throw CommandFailure("migration failed: \(error)")
        }
        await connection.close()

        for migration in report.applied {
            print("applied migration \(migration.version) (\(migration.name))")
        }
        if report.applied.isEmpty {
            print("schema is up to date (version \(report.schemaVersion))")
        }
        let cluster = report.cluster
        print(report.clusterCreated
            ? "created cluster '\(cluster.clusterName)' with \(cluster.partitionCount) partitions"
            : "cluster '\(cluster.clusterName)' has \(cluster.partitionCount) partitions")
        for partition in report.createdTablePartitions {
            print("created table partition \(partition.name)")
        }
        if report.createdTablePartitions.isEmpty {
            print("table partitions are up to date")
        }
        flushStandardOutput()
    }
}
