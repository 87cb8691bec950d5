"""Network sensor: pcap/pcapng and live interfaces → IP/TCP reassembly → protocol parsers → Events.

Protocols: HTTP/FHIR, HL7-MLLP, DICOM, SMTP, FTP (+ data), IMAP/POP3 STARTTLS, PostgreSQL, MySQL,
TLS; flows not inspected get a flow-accounting Event (channel ``tcp``).

See docs/network-sensor.md for what is extracted, the attributes per channel, the limits and the
counters.
"""

from sensors.net.sensor import NetSensor, scan_pcap

__all__ = ["NetSensor", "scan_pcap"]
