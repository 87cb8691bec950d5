"""SMTP: envelope, headers, MIME parts decoded, DATA/BDAT, STARTTLS, and damage in flight."""

from __future__ import annotations

import pytest

from sensors.net import craft
from tests.sensors.net._util import assert_clean, by_channel, scan_turns

SMTP = craft.Conversation(dport=25, mss=600)
PDF = b"%PDF-1.4\n" + "出院小结 患者 王伟 身份证 ".encode() + bytes(range(256)) * 8
CSV = "姓名,身份证号,诊断\n王伟,110101198001010011,2型糖尿病\n".encode()


def _mail() -> bytes:
    return craft.mime_mail(subject="Discharge summary", text="Dear colleague,\n.\nLine starting with a dot.\n",
                           attachments=[("summary.pdf", "application/pdf", PDF), ("patients.csv", "text/csv", CSV)],
                           qp_text=True)


def test_mail_with_attachments_gives_one_event_per_part_with_envelope_and_names(tmp_path):
    turns = craft.smtp_turns(_mail(), user="dr.li", rcpts=("a@x.example", "b@y.example"))
    events, dls, stats = scan_turns(tmp_path, turns, SMTP)
    assert_clean(stats)
    assert dls == []
    parts = by_channel(events, "smtp")
    assert [p.attributes["part_index"] for p in parts] == [1, 2, 3]
    text, pdf, csv = parts
    assert all(p.attributes["mail_from"] == "dr.li@hospital.example" for p in parts)
    assert all(p.attributes["rcpt_to"] == ["a@x.example", "b@y.example"] for p in parts)
    assert all(p.attributes["subject"] == "Discharge summary" and p.attributes["part_count"] == 3 for p in parts)
    assert all(p.actor == "dr.li" and not p.encrypted for p in parts)  # the AUTH PLAIN user, never the password
    assert text.content_type == "text/plain" and text.attributes["transfer_encoding"] == "quoted-printable"
    assert b"\n.\nLine starting with a dot." in text.content.replace(b"\r\n", b"\n")  # dot-unstuffed, QP-decoded
    assert pdf.content == PDF and pdf.attributes["file_name"] == "summary.pdf"
    assert pdf.attributes["transfer_encoding"] == "base64" and pdf.content_type == "application/pdf"
    assert csv.content == CSV and csv.attributes["file_name"] == "patients.csv"
    assert "s3cret" not in repr(events)


def test_bdat_chunking_gives_the_same_parts_as_data(tmp_path):
    data, _, _ = scan_turns(tmp_path, craft.smtp_turns(_mail()), SMTP)
    bdat, _, stats = scan_turns(tmp_path, craft.smtp_turns(_mail(), bdat=700), SMTP)
    assert_clean(stats)
    assert [(e.content, e.attributes.get("file_name")) for e in by_channel(bdat, "smtp")] == \
        [(e.content, e.attributes.get("file_name")) for e in by_channel(data, "smtp")]
    assert by_channel(bdat, "smtp")[0].actor == "dr.li@hospital.example"  # no AUTH: MAIL FROM is the actor


def test_starttls_marks_the_flow_encrypted_and_keeps_sni(tmp_path):
    events, _, stats = scan_turns(tmp_path, craft.smtp_turns(b"", starttls=True), SMTP)
    assert_clean(stats)
    assert by_channel(events, "smtp") == []
    (tls,) = by_channel(events, "tls")
    assert tls.encrypted and tls.tls is not None and tls.tls.sni == "mx.hospital.example"
    assert tls.attributes["starttls"] == "smtp" and tls.content == b""
    (acct,) = by_channel(events, "tcp")
    assert acct.encrypted and acct.attributes["protocol"] == "smtp+tls"
    assert acct.attributes["uninspected_reason"] == "encrypted" and acct.attributes["starttls"] == "smtp"
    assert stats["flows.upgraded-tls"] == 1


@pytest.mark.parametrize("mutation", [{"shuffle_seed": 3}, {"retransmit": {2, 5, 9}},
                                      {"overlap": {6: (30, False)}}], ids=["reorder", "retransmit", "overlap"])
def test_damage_in_flight_gives_the_same_mail(tmp_path, mutation):
    turns = craft.smtp_turns(_mail())
    clean, _, _ = scan_turns(tmp_path, turns, SMTP)
    damaged, _, stats = scan_turns(tmp_path, turns, SMTP, **mutation)
    assert_clean(stats)
    assert [(e.event_id, e.content) for e in damaged] == [(e.event_id, e.content) for e in clean]


def test_missing_segment_inside_data_marks_the_mail_incomplete(tmp_path):
    turns = craft.smtp_turns(_mail())
    events, _, stats = scan_turns(tmp_path, turns, SMTP, drop={12})  # inside the PDF attachment
    assert_clean(stats)
    parts = by_channel(events, "smtp")
    assert parts and all(p.attributes.get("incomplete") for p in parts)
    assert stats["smtp.gap"] >= 1


def test_truncated_capture_inside_data_still_emits_the_partial_mail(tmp_path):
    turns = craft.smtp_turns(_mail())
    cut = [t for t in turns if not t[1].startswith(b"250 2.0.0 Ok: queued")]
    data_turn = next(i for i, t in enumerate(cut) if t[1].startswith(b"MIME") or b"Subject:" in t[1])
    cut = [*cut[:data_turn], (cut[data_turn][0], cut[data_turn][1][:1500])]
    events, _, stats = scan_turns(tmp_path, cut, craft.Conversation(dport=25, mss=600, close="none"))
    assert_clean(stats)
    parts = by_channel(events, "smtp")
    assert parts and parts[0].attributes["incomplete"] is True
