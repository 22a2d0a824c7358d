// expect-error: use >>> to sequence steps
import Weft
let (a, b) = (Step("a", type: "noop"), Step("b", type: "noop"))
_ = Workflow("w", a >> b)
