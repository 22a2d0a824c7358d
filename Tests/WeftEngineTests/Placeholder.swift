import Testing
import WeftEngine
