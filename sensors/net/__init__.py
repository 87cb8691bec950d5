"""Network sensor: pcap/pcapng files and live interfaces → reassembled TCP → HTTP/FHIR, HL7-MLLP, TLS Events.

See docs/network-sensor.md for what is extracted, the attributes per channel, the limits and the
counters.
"""

from sensors.net.sensor import NetSensor, scan_pcap

__all__ = ["NetSensor", "scan_pcap"]
