"""FTP: control commands and user, data connections associated back to the transfer, AUTH TLS."""

from __future__ import annotations

import pytest

from sensors.net import craft
from tests.sensors.net._util import assert_clean, by_channel, scan_packets, scan_turns

FILES = [("RETR", "/export/patients_2024.csv", "姓名,身份证号\n王伟,110101198001010011\n".encode() * 200),
         ("STOR", "upload/ct_study_7.dcm", bytes(range(256)) * 40)]


@pytest.mark.parametrize(("mode", "ipv6"), [("passive", False), ("active", False), ("passive", True),
                                            ("active", True)], ids=["pasv", "port", "epsv", "eprt"])
def test_data_connections_carry_the_file_name_user_and_direction(tmp_path, mode, ipv6):
    client, server = ("2001:db8::5", "2001:db8::21") if ipv6 else ("10.20.0.5", "10.20.0.21")
    convs = craft.ftp_session(FILES, mode=mode, client=client, server=server, ipv6=ipv6)
    pkts = sorted((p for c in convs for p in c), key=lambda p: float(p.time))
    events, dls, stats = scan_packets(tmp_path, pkts)
    assert_clean(stats)
    assert dls == []
    ctrl = by_channel(events, "ftp")
    assert [(e.attributes["command"], e.attributes["file_name"], e.attributes["reply_code"]) for e in ctrl] == [
        ("RETR", "/export/patients_2024.csv", 226), ("STOR", "upload/ct_study_7.dcm", 226)]
    assert all(e.actor == "pacs-export" for e in ctrl)
    assert ctrl[0].content == b"RETR /export/patients_2024.csv"
    data = by_channel(events, "ftp-data")
    assert [(e.attributes["file_name"], e.attributes["transfer"], e.attributes["mode"]) for e in data] == [
        ("/export/patients_2024.csv", "download", mode), ("upload/ct_study_7.dcm", "upload", mode)]
    assert [e.content for e in data] == [FILES[0][2], FILES[1][2]]
    assert all(e.actor == "pacs-export" and e.attributes["control"].endswith(":21") for e in data)
    assert data[0].content_type == "text/csv"
    # the download flows from the server to the client, the upload the other way
    assert data[0].src is not None and data[0].src.host == server
    assert data[1].src is not None and data[1].src.host == client
    assert "hunter2" not in repr(events)
    assert stats["ftp.data-channel-announced"] == 2 and stats["flows.ftp-data"] == 2


def test_data_connection_with_a_missing_segment_is_incomplete(tmp_path):
    convs = craft.ftp_session(FILES[:1], data_mutations={"drop": {3}})
    pkts = sorted((p for c in convs for p in c), key=lambda p: float(p.time))
    events, _, stats = scan_packets(tmp_path, pkts)
    assert_clean(stats)
    (data,) = by_channel(events, "ftp-data")
    assert data.attributes["incomplete"] is True and data.size == len(FILES[0][2])
    assert len(data.content) == len(FILES[0][2]) - 1400


def test_unannounced_data_looking_flow_is_not_ftp_data(tmp_path):
    convs = craft.ftp_session(FILES[:1])
    pkts = sorted((p for c in convs[1:] for p in c), key=lambda p: float(p.time))  # data without control
    events, _, stats = scan_packets(tmp_path, pkts)
    assert by_channel(events, "ftp-data") == []
    assert stats["uninspected.unknown-protocol"] == 1


def test_auth_tls_hands_the_flow_to_tls(tmp_path):
    events, _, stats = scan_turns(tmp_path, craft.ftp_auth_tls_turns(), craft.Conversation(dport=21))
    assert_clean(stats)
    (tls,) = by_channel(events, "tls")
    assert tls.attributes["starttls"] == "ftp" and tls.tls is not None
    assert tls.tls.sni == "ftp.hospital.example" and tls.tls.version == "TLS 1.2"
    assert tls.tls.cipher == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert by_channel(events, "ftp") == []
