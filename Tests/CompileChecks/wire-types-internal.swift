// expect-error: cannot find 'StartRunRequest' in scope
import Weft
// The wire protocol's requests are not part of the SDK's namespace.
_ = StartRunRequest(workflow: "w", version: "", input: [], idempotencyKey: "", priority: .unspecified, runID: nil)
