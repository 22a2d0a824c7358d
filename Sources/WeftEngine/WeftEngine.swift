// The run state machine lands here (issue 4).
