"""The kit's engine: command line, stack files, settings core, recorder, plan and its readers
(policies, strict inputs, cost, deploy time, change safety) and docs generation."""
