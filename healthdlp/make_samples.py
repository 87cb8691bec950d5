"""Regenerate the demo's bundled samples: `python -m healthdlp.make_samples [DIR]`.

Everything is synthetic (healthdlp.synth) and seeded, so the files are reproducible byte for
byte. What they hold, and what the demo should make of them:

- clinic-traffic.pcap
  - an EMR client POSTs a patient record (name, citizen ID, diagnosis) over cleartext HTTP
    → cleartext-transfer, level 4;
  - the same with an HIV diagnosis → level 5, critical;
  - a FHIR search whose chunked+gzip response carries a Bundle of patients → cleartext, level 4;
  - HL7 v2 ADT^A01 and ORU^R01 over MLLP (port 2575) with their ACKs → cleartext hl7-mllp, level 4;
  - a TLS session to the HIS portal → encrypted: no cleartext alert;
  - a public bed-availability query → level 1 at most: no alert.
- usb-file-copy.jsonl: an endpoint agent reports one user copying exports of 30 patients to a
  USB stick (bulk-removable-media) and another user copying a single letter (no bulk alert);
  one line is garbage, to show the dead-letter path.
- kern-usb.log: the kernel lines of that USB stick being attached and removed.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from healthdlp.synth import Synth, csv_export, hl7_adt, patient_json
from sensors.net import craft

OUT = Path(__file__).resolve().parent / "samples"
T0 = datetime(2026, 11, 20, 1, 12, 0, tzinfo=UTC)  # 09:12 in Beijing


def _conv(client: str, server: str, sport: int, dport: int, t: float) -> craft.Conversation:
    return craft.Conversation(client=client, server=server, sport=sport, dport=dport, start_ts=t)


def traffic(path: Path, synth: Synth) -> None:
    t = T0.timestamp()
    p1, p2 = synth.patient(special=False), synth.patient(special=True)
    convs = [
        craft.conversation(
            [("c", craft.http_request("POST", "/api/emr/patients", host="emr.hosp.example",
                                      body=patient_json(p1), content_type="application/json",
                                      user="dr.wang")),
             ("s", craft.http_response(b'{"status":"ok"}'))],
            _conv("10.20.1.15", "10.20.0.9", 51514, 80, t),
        ),
        craft.conversation(
            [("c", craft.http_request("POST", "/api/emr/patients", host="emr.hosp.example",
                                      body=patient_json(p2), content_type="application/json",
                                      user="dr.wang")),
             ("s", craft.http_response(b'{"status":"ok"}'))],
            _conv("10.20.1.15", "10.20.0.9", 51520, 80, t + 30),
        ),
        craft.conversation(
            [("c", craft.http_request("GET", "/fhir/Patient?_count=5&address-city=Beijing",
                                      host="fhir.hosp.example", user="report-svc")),
             ("s", craft.http_chunked_gzip_response(seed=7))],
            _conv("10.30.4.2", "10.20.0.12", 40222, 8080, t + 60),
        ),
        craft.conversation(
            [("c", craft.mllp(hl7_adt(synth.patient(special=False), "ADT0001"))),
             ("s", craft.mllp(craft.hl7_ack("ADT0001"))),
             ("c", craft.mllp(craft.hl7_oru_r01("ORU0002", seed=11))),
             ("s", craft.mllp(craft.hl7_ack("ORU0002")))],
            _conv("10.20.0.9", "10.40.0.7", 33001, 2575, t + 90),
        ),
        craft.conversation(
            [("c", craft.tls_client_hello("his.hosp.example")),
             ("s", craft.tls_server_hello()),
             ("c", craft.tls_app_data(1800, seed=1)),
             ("s", craft.tls_app_data(5200, seed=2))],
            _conv("10.20.1.15", "10.20.0.20", 52000, 443, t + 120),
        ),
        craft.conversation(
            [("c", craft.http_request("GET", "/api/beds/available", host="www.hosp.example")),
             ("s", craft.http_response(json.dumps({"ward": "心内科", "free_beds": 4}).encode()))],
            _conv("203.0.113.50", "10.20.0.30", 60111, 80, t + 150),
        ),
    ]
    craft.write_conversations(path, convs)


def file_copies(path: Path, synth: Synth) -> None:
    lines = []
    t = T0 + timedelta(hours=9)  # 18:12 Beijing: after hours
    batch = synth.patients(30)
    for i in range(3):  # three exports of ten patients each
        part = batch[i * 10 : (i + 1) * 10]
        sample = csv_export(part)
        lines.append({
            "v": 1, "ts": (t + timedelta(minutes=4 * i)).isoformat(), "user": "zhang.wei", "host": "WS-ONC-07",
            "path": f"D:\\exports\\onc_followup_{i + 1}.csv", "dest_path": f"E:\\backup\\onc_followup_{i + 1}.csv",
            "size": len(sample.encode()), "records": len(part), "content_sample": sample,
            "device": {"bus": "usb", "serial": "4C530001230511115271", "vendor": "SanDisk",
                       "product": "Cruzer Blade", "removable": True},
        })
    letter = synth.patient(special=False)
    lines.append({
        "v": 1, "ts": (t + timedelta(minutes=30)).isoformat(), "user": "li.na", "host": "WS-CARD-02",
        "path": "C:\\letters\\referral.txt", "dest_path": "F:\\referral.txt", "size": 420,
        "content_sample": f"转诊单 患者 {letter.name} 身份证 {letter.citizen_id} 诊断 {letter.diagnosis}",
        "device": {"bus": "usb", "serial": "AA00000000001234", "vendor": "Kingston", "product": "DataTraveler"},
    })
    text = "\n".join(json.dumps(rec, ensure_ascii=False) for rec in lines[:2])
    text += "\n{garbage line written by a crashed agent\n"
    text += "\n".join(json.dumps(rec, ensure_ascii=False) for rec in lines[2:]) + "\n"
    path.write_text(text, encoding="utf-8")


def kernel_log(path: Path) -> None:
    ts = "Nov 20 18:11:58 WS-ONC-07 kernel:"
    lines = [
        f"{ts} [86012.114512] usb 1-1: new high-speed USB device number 5 using xhci_hcd",
        f"{ts} [86012.265018] usb 1-1: New USB device found, idVendor=0781, idProduct=5567, bcdDevice= 1.00",
        f"{ts} [86012.265022] usb 1-1: New USB device strings: Mfr=1, Product=2, SerialNumber=3",
        f"{ts} [86012.265024] usb 1-1: Product: Cruzer Blade",
        f"{ts} [86012.265026] usb 1-1: Manufacturer: SanDisk",
        f"{ts} [86012.265027] usb 1-1: SerialNumber: 4C530001230511115271",
        f"{ts} [86012.266121] usb-storage 1-1:1.0: USB Mass Storage device detected",
        f"{ts} [86012.266398] scsi host6: usb-storage 1-1:1.0",
        f"{ts} [86013.291450] sd 6:0:0:0: [sdb] Attached SCSI removable disk",
        "Nov 20 18:31:02 WS-ONC-07 kernel: [87156.001201] usb 1-1: USB disconnect, device number 5",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else OUT
    out.mkdir(parents=True, exist_ok=True)
    synth = Synth(seed=20201214)  # the day GB/T 39725-2020 was issued
    traffic(out / "clinic-traffic.pcap", synth)
    file_copies(out / "usb-file-copy.jsonl", synth)
    kernel_log(out / "kern-usb.log")
    for p in sorted(out.iterdir()):
        if p.suffix in (".pcap", ".jsonl", ".log"):
            print(f"{p}  {p.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
