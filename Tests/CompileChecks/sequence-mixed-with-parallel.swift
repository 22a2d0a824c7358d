// expect-error: adjacent operators are in unordered precedence groups
import Weft
let (a, b, c) = (Step("a", type: "noop"), Step("b", type: "noop"), Step("c", type: "noop"))
_ = Workflow("w", a >>> b | c)
