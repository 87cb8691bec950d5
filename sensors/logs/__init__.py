"""Log sensor: follows log files (paths or globs) across rotation and turns their lines into Events.

Formats: generic JSON lines, Linux kernel/udev USB mass-storage attach/detach, and the
healthdlp file-copy event of endpoint agents (docs/log-sensor.md, docs/formats/file-copy.md).
"""

from sensors.logs.formats import FORMATS, detect_format
from sensors.logs.sensor import LogSensor, scan_log_file

__all__ = ["FORMATS", "LogSensor", "detect_format", "scan_log_file"]
