// expect: compiles
import Weft
let (extract, clean, enrich, load) = (Step("extract", type: "echo"), Step("clean", type: "noop"), Step("enrich", type: "noop"), Step("load", type: "noop"))
_ = Workflow("ingest", extract >>> (clean | enrich) >>> load)
_ = Workflow("ingest") { extract; clean | enrich; load }
_ = Workflow("line", extract >>> clean >>> load)
_ = Workflow("side", clean | enrich | load)
