"""Floor 2: sensors turn packets and log records into Events. They never import detectors or stream."""
