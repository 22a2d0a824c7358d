// snippet:start client
import Shipping
import Weft

// Register the workflow, start a run, wait for its typed result.
let address = try Endpoint(parsing: CommandLine.arguments.dropFirst().first ?? "127.0.0.1:7400")
try await withWeftClient(.init(address: address)) { client in
    try await client.register(Shipping.workflow)
    let run = try await client.start(
        Shipping.workflow, input: Order(id: "o-42", weightKg: 2.5),
        options: StartOptions(idempotencyKey: "order-o-42"))  // starting twice returns the same run
    do {
        let label = try await client.result(of: run)  // a Label
        print("run \(run.id): label \(label.tracking) for \(label.cents) cents")
    } catch let error as WeftError where error.code == .runFailed {
        print("run \(run.id) failed: \(error.message)")
    }
}
// snippet:end client

// A batch: each order is a child run of the shipping workflow.
try await withWeftClient(.init(address: address)) { client in
    try await client.register(Shipping.batchWorkflow)
    let batch = try await client.start(
        Shipping.batchWorkflow, input: [Order(id: "o-1", weightKg: 1), Order(id: "o-2", weightKg: 3)])
    let labels = try await client.result(of: batch)
    print("batch \(batch.id): \(labels.count) labels, \(labels.map(\.cents)) cents")
}

// snippet:start schedule
// A cron schedule: a restock run at 02:30 Berlin time every night, exactly once a night.
try await withWeftClient(.init(address: address)) { client in
    let nightly = try Schedule(
        "nightly-restock", workflow: Shipping.workflow, cron: "30 2 * * *", input: Order(id: "restock", weightKg: 40),
        timeZone: "Europe/Berlin", overlap: .skip)
    do {
        try await client.createSchedule(nightly)
    } catch let error as WeftError where error.code == .alreadyExists {
        // created by an earlier run of this program
    }
    let info = try await client.schedule(named: "nightly-restock")
    print("schedule \(info.spec.name): next fires \(info.nextFires.map(\.atMilliseconds)) (Unix ms)")
}
// snippet:end schedule
