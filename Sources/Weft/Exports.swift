// What `import Weft` brings besides the SDK's own types: the identifiers and the records the calls
// return, so that users need a single import. The wire protocol's requests and codecs stay
// internal (scoped re-exports, not the whole modules).
@_exported import struct WeftCore.Endpoint
@_exported import struct WeftCore.Fence
@_exported import struct WeftCore.IdentifierError
@_exported import struct WeftCore.PartitionID
@_exported import struct WeftCore.RunID
@_exported import struct WeftWire.BackfillScheduleResponse
@_exported import struct WeftWire.DrainResponse
@_exported import struct WeftWire.GetWorkflowResponse
@_exported import struct WeftWire.GetRunHistoryResponse
@_exported import struct WeftWire.ListRunsRequest
@_exported import struct WeftWire.ListRunsResponse
@_exported import struct WeftWire.MemberInfo
@_exported import struct WeftWire.PartitionInfo
@_exported import struct WeftWire.QueueInfo
@_exported import struct WeftWire.RegisterWorkflowResponse
@_exported import struct WeftWire.RingOwner
@_exported import struct WeftWire.RingResponse
@_exported import struct WeftWire.RunHistoryEntry
@_exported import struct WeftWire.RunInfo
@_exported import enum WeftWire.RunStatus
@_exported import struct WeftWire.RunSummary
@_exported import struct WeftWire.ScheduleFireTime
@_exported import struct WeftWire.ScheduleInfo
@_exported import struct WeftWire.ScheduleSpec
@_exported import struct WeftWire.TaskInfo
@_exported import struct WeftWire.WorkerInfo
@_exported import enum WeftWire.TaskStatus
@_exported import struct WeftWire.WorkflowSummary
@_exported import struct WeftWire.WorkflowVersionSummary
