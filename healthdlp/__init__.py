"""Floor 4: the face of healthdlp: the CLI, the embedded runner and the demo. Imports anything below."""

__version__ = "0.1.0"
