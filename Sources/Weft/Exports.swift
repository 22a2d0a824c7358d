// The SDK's data model is the wire protocol's Swift types (RunInfo, RunStatus, TaskInfo, …) and
// the core vocabulary (RunID, StatusCode, RPCError, …): `import Weft` brings them along, so users
// need a single import.
@_exported import WeftCore
@_exported import WeftWire
