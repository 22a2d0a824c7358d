extension WorkflowDefinition {
    /// Checks the definition and derives the form the engine runs.
    ///
    /// Collects every problem it can find (see ``DefinitionError``): names, duplicates, unknown and
    /// self dependencies, cycles (each shown as a path, `a -> b -> c -> a`), retry and timeout
    /// values, `map` and `join` use. Only a definition over ``Limits/maxTasks`` or
    /// ``Limits/maxTotalDependencies`` stops early, so that an oversized input costs no more work.
    public func validated(limits: Limits = Limits()) throws(DefinitionError) -> ValidatedWorkflow {
        var problems: [DefinitionError.Problem] = []
        if !NameRules.isValidName(name, maxLength: limits.maxNameLength) {
            problems.append(.init(
                .invalidName,
                "workflow name \(NameRules.quoted(name)) is invalid: \(NameRules.nameRule(limits.maxNameLength))"
            ))
        }
        if let timeout {
            if timeout <= .zero {
                problems.append(.init(.invalidTimeout, "the workflow timeout must be positive, not \(DurationCoding.format(timeout))"))
            } else if timeout > limits.maxDuration {
                problems.append(.init(
                    .invalidTimeout,
                    "the workflow timeout of \(DurationCoding.format(timeout)) exceeds the limit of \(DurationCoding.format(limits.maxDuration))"))
            }
        }
        guard !tasks.isEmpty else {
            problems.append(.init(.noTasks, "the workflow has no tasks"))
            throw DefinitionError(workflow: name, problems: problems)
        }
        guard tasks.count <= limits.maxTasks else {
            problems.append(.init(.tooManyTasks, "the workflow has \(tasks.count) tasks; the limit is \(limits.maxTasks)"))
            throw DefinitionError(workflow: name, problems: problems)
        }
        let edgeCount = tasks.reduce(0) { $0 + $1.dependsOn.count }
        guard edgeCount <= limits.maxTotalDependencies else {
            problems.append(.init(
                .tooManyDependencies,
                "the workflow has \(edgeCount) dependencies in all; the limit is \(limits.maxTotalDependencies)"
            ))
            throw DefinitionError(workflow: name, problems: problems)
        }

        // Names: the first task with a name owns it; later ones are reported as duplicates.
        var positionByName: [String: Int] = [:]
        positionByName.reserveCapacity(tasks.count)
        var duplicatePositions: [String: [Int]] = [:]
        var duplicateOrder: [String] = []
        for (position, task) in tasks.enumerated() {
            if let first = positionByName[task.name] {
                if duplicatePositions[task.name] == nil {
                    duplicatePositions[task.name] = [first]
                    duplicateOrder.append(task.name)
                }
                duplicatePositions[task.name]?.append(position)
            } else {
                positionByName[task.name] = position
            }
        }
        for duplicate in duplicateOrder {
            let positions = duplicatePositions[duplicate, default: []].map { "#\($0 + 1)" }.joined(separator: ", ")
            problems.append(.init(
                .duplicateTask, task: duplicate,
                "task name \(NameRules.quoted(duplicate)) is used by more than one task (tasks \(positions))"
            ))
        }

        for (position, task) in tasks.enumerated() {
            task.collectProblems(position: position, known: positionByName, limits: limits, into: &problems)
        }

        let graph = DependencyGraph(tasks: tasks, positionByName: positionByName)
        let order = graph.topologicalOrder()
        if order.count < graph.nodeCount {
            for cycle in graph.cycles(excluding: order, limit: 10) {
                let path = (cycle + [cycle[0]]).map { tasks[$0].name }.joined(separator: " -> ")
                problems.append(.init(
                    .cycle, task: tasks[cycle[0]].name,
                    "dependency cycle: \(path) (each task waits for the one before it)"
                ))
            }
        }

        guard problems.isEmpty else { throw DefinitionError(workflow: name, problems: problems) }
        return ValidatedWorkflow(graph: graph.validatedGraph(definition: self, order: order))
    }
}
