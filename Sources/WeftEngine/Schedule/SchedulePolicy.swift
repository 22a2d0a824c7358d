/// What a schedule does when a tick comes while the run of its previous tick is still open.
public enum ScheduleOverlap: String, Hashable, Sendable, CaseIterable {
    /// The tick is skipped (the default, like Temporal's and Kubernetes' `Forbid`).
    case skip
    /// One tick waits and fires when the previous run closes; further ticks meanwhile are skipped.
    case bufferOne = "buffer_one"
    /// Every tick fires, whatever is still running.
    case allow
}

/// Where a schedule stands, as stored with it: the next tick to consider and the tick held back
/// by `buffer_one`. Ticks are Unix milliseconds.
public struct ScheduleCursor: Hashable, Sendable {
    /// The next tick not yet fired or skipped; nil when the expression has no more.
    public var next: Int64?
    /// A tick that came while the previous run was open (`buffer_one`), fired when that closes.
    public var buffered: Int64?

    public init(next: Int64?, buffered: Int64? = nil) {
        self.next = next
        self.buffered = buffered
    }
}

/// A schedule's rules (expression, overlap, catch-up window), deciding one step at a time what to
/// do about its cursor. Pure: the scheduler's firing loop carries the steps out — a fire is a
/// start keyed by schedule and tick, so doing a step twice (a crash between the start and the
/// cursor's update) starts nothing twice.
public struct SchedulePolicy: Sendable {
    public var schedule: CronSchedule
    public var overlap: ScheduleOverlap
    /// Ticks older than this when they are considered (the scheduler was down, the partition was
    /// moving) are skipped as missed.
    public var catchupWindowMilliseconds: Int64

    /// The catch-up window when none is given: 10 minutes.
    public static let defaultCatchupWindowMilliseconds: Int64 = 600_000

    public init(schedule: CronSchedule, overlap: ScheduleOverlap, catchupWindowMilliseconds: Int64) {
        self.schedule = schedule
        self.overlap = overlap
        self.catchupWindowMilliseconds = catchupWindowMilliseconds
    }

    public enum SkipReason: String, Hashable, Sendable {
        /// Older than the catch-up window when considered.
        case missed
        /// The previous run was still open (`skip`, or `buffer_one` with a tick already held).
        case overlap
    }

    public enum Step: Hashable, Sendable {
        /// Nothing is due: consider the schedule again at `until` (nil: only when it changes), or
        /// sooner when the previous run closes.
        case wait(until: Int64?)
        /// Start the run of `tick`, then store `then`.
        case fire(tick: Int64, then: ScheduleCursor)
        /// Store `then`: `count` ticks from `tick` on are not fired, for `reason`.
        case skip(tick: Int64, count: Int, reason: SkipReason, then: ScheduleCursor)
        /// Store `then`: `tick` is held until the previous run closes (`buffer_one`).
        case buffer(tick: Int64, then: ScheduleCursor)
    }

    /// The next step for a schedule at `cursor`, at `now`, with the run of its previous tick open
    /// or not.
    public func step(_ cursor: ScheduleCursor, now: Int64, previousOpen: Bool) -> Step {
        let oldest = now - catchupWindowMilliseconds
        if let held = cursor.buffered, !previousOpen {
            var after = cursor
            after.buffered = nil
            return held < oldest ? .skip(tick: held, count: 1, reason: .missed, then: after) : .fire(tick: held, then: after)
        }
        guard let tick = cursor.next else { return .wait(until: nil) }
        guard tick <= now else { return .wait(until: tick) }
        if tick < oldest {
            // Missed while nobody fired (the scheduler was down): skip to the first tick inside
            // the window, counting what is skipped (up to a bound; beyond, the count is a floor).
            var count = 0
            var next: Int64? = tick
            while let n = next, n < oldest, count < 10_000 {
                count += 1
                next = schedule.next(after: n)
            }
            if let n = next, n < oldest { next = schedule.next(after: oldest - 1) }
            return .skip(tick: tick, count: count, reason: .missed, then: ScheduleCursor(next: next, buffered: cursor.buffered))
        }
        let following = ScheduleCursor(next: schedule.next(after: tick), buffered: cursor.buffered)
        guard previousOpen else { return .fire(tick: tick, then: following) }
        switch overlap {
        case .allow:
            return .fire(tick: tick, then: following)
        case .skip:
            return .skip(tick: tick, count: 1, reason: .overlap, then: following)
        case .bufferOne:
            guard cursor.buffered == nil else { return .skip(tick: tick, count: 1, reason: .overlap, then: following) }
            return .buffer(tick: tick, then: ScheduleCursor(next: following.next, buffered: tick))
        }
    }
}
