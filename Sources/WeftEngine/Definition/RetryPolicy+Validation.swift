extension RetryPolicy {
    func collectProblems(report: (DefinitionError.Code, String) -> Void, limits: WorkflowDefinition.Limits) {
        if maxAttempts < 1 || maxAttempts > TaskDefinition.maxAttemptsLimit {
            report(.invalidRetryPolicy, "retry.max_attempts must be between 1 and \(TaskDefinition.maxAttemptsLimit), not \(maxAttempts)")
        }
        for (field, value) in [("initial_backoff", initialBackoff), ("max_backoff", maxBackoff)] {
            if value <= .zero {
                report(.invalidRetryPolicy, "retry.\(field) must be positive, not \(DurationCoding.format(value))")
            } else if value > limits.maxDuration {
                report(.invalidRetryPolicy, "retry.\(field) of \(DurationCoding.format(value)) exceeds the limit of \(DurationCoding.format(limits.maxDuration))")
            }
        }
        if initialBackoff > .zero && maxBackoff > .zero && maxBackoff < initialBackoff {
            report(.invalidRetryPolicy, "retry.max_backoff (\(DurationCoding.format(maxBackoff))) is shorter than retry.initial_backoff (\(DurationCoding.format(initialBackoff)))")
        }
        if !backoffMultiplier.isFinite || backoffMultiplier < 1 || backoffMultiplier > 1000 {
            report(.invalidRetryPolicy, "retry.backoff_multiplier must be between 1 and 1000, not \(backoffMultiplier)")
        }
        if nonRetryable.contains(where: \.isEmpty) {
            report(.invalidRetryPolicy, "retry.non_retryable lists an empty error kind")
        }
    }
}
