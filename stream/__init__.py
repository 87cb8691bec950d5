"""Floor 3: the stream layer — detection + policy + alerts over event batches.

``stream.pipeline`` is the pure core (scan → policy → Alert, bad events → DeadLetter) that runs
unchanged in the faust worker (``stream.app`` / ``stream.agents``), in the embedded runner and in
``healthdlp scan``. ``stream.policy`` holds the rules (YAML data), the rule kinds (code) and the
per-principal sliding windows. Only the agents talk to Kafka and the alert store; the pipeline
and the policy talk to neither.
"""
