// expect-error: operands of type 'Flow<Quote, ParentOutputs>' and 'Step<Label, Bool>'
import Weft
struct Quote: Codable, Sendable { var total: Int }
struct Label: Codable, Sendable { var text: String }
let label = TaskType<Quote, Label>("label")
let audit = TaskType<Quote, Bool>("audit")
let ship = TaskType<Label, Bool>("ship")
// After a fan-in a step receives ParentOutputs, not one parent's Label.
_ = Workflow("w", (Step(label) | Step(audit)) >>> Step(ship))
