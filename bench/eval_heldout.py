"""Held-out phones and bank cards: a fresh Faker corpus the catalogue was never tuned on.

    .venv/bin/pip install -e '.[bench]'        # Faker (bench-only dependency)
    .venv/bin/python bench/eval_heldout.py [--seed 1] [--n 2000] [--errors N] [--json] [--dump PATH]

Why: the phone and card rules were last tuned after reading presidio-research's misses, so the
presidio figures (bench/eval_thirdparty.py) are no longer unseen for PHONE_NUMBER and BANK_CARD.
This script draws a new labelled corpus from a seed: Faker phone numbers from locales the rules
were not written against (en_US ... ja_JP, pl_PL), Faker card numbers of every provider (Visa
13/16/19, Mastercard, Amex, Diners, Discover, JCB 15/16, Maestro), written raw or in the brand's
usual grouping, inside sentence templates written here (free text, contact blocks, a few in the
locale's own language), each with a hard negative in the same sentence (order numbers, ISBNs,
tracking ids, timestamps, dates, IPs, versions, Luhn-valid numbers outside every card IIN), plus
sentences holding only hard negatives. Templates come in two kinds, reported apart: WITH a phone
or card word (*call, tel, card, visa* ...) and WITHOUT one (the hard case: "Try 02 4177 7631 after
six").

Scoring: detectors/evaluation.py (same rule as ``healthdlp eval``: same type, overlap >= half the
longer span, one-to-one), on PHONE_NUMBER and BANK_CARD only. Gold spans are the character
offsets of the value as inserted. ``--dump`` writes the corpus as ``healthdlp eval`` JSONL (plus
``meta``), for ``healthdlp eval PATH --types PHONE_NUMBER,BANK_CARD``.

Ambiguity, not a bug, and counted as it falls: Faker's Maestro prefix 0604 (no ISO/IEC 7812 card
IIN starts with 0), Faker's 12-digit Maestro and other 13-15 digit brands without a card word (one
order number in ten passes Luhn, so the catalogue wants a word), and phone numbers in formats no
numbering plan would accept (Faker's de_DE ``00008063608``) without a phone word.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors import build_engine
from detectors.catalogue import load_catalogue
from detectors.evaluation import Record, Report, Span, TypeScore, format_table, match
from model.config import DetectorsConfig

#: Dates and times in the hard negatives come from this fixed span, never from "now": a seed must
#: give the same corpus on every day it is run.
SPAN = (dt.datetime(2021, 1, 1), dt.datetime(2026, 1, 1))

try:
    from faker import Faker
except ImportError:  # pragma: no cover - a bench-only dependency
    sys.exit("bench/eval_heldout.py needs Faker: .venv/bin/pip install -e '.[bench]'")

PHONE = "PHONE_NUMBER"
CARD = "BANK_CARD"
TYPES = frozenset({PHONE, CARD})

LOCALES = (
    "en_US", "en_GB", "en_AU", "en_CA", "en_IN", "de_DE", "fr_FR", "zh_CN",
    "zh_TW", "ja_JP", "es_ES", "it_IT", "nl_NL", "pt_BR", "ko_KR", "pl_PL",
)  # fmt: skip
PROVIDERS = ("visa13", "visa16", "visa19", "mastercard", "amex", "diners", "discover", "jcb15", "jcb16", "maestro")
BRAND_WORD = {
    "visa13": "Visa", "visa16": "Visa", "visa19": "Visa", "mastercard": "Mastercard", "amex": "Amex",
    "diners": "Diners Club", "discover": "Discover", "jcb15": "JCB", "jcb16": "JCB", "maestro": "Maestro",
}  # fmt: skip

# ---------------------------------------------------------------- templates (written for this file)
# Slots: {P} phone, {C} card, {N} a hard negative (with or without its own label), {name}, {street},
# {city}, {email}, {exp} (MM/YY), {brand} (the card's brand word), {cvv}. Templates marked "ctx"
# hold a phone/card word near the value; "bare" ones hold none (checked against a fixed list below).

PHONE_CTX_EN = (
    "Call me at {P} if the lab results come back before Friday, re {N}.",
    "Tel: {P}",
    "{name}\n{street}\n{city}\nTel. {P}\nRef {N}",
    "Please phone {P} to confirm the appointment; {N}.",
    "My mobile is {P}, evenings only.",
    "You can reach the ward on {P} (ask for {name}).",
    "Fax {P} attn. billing, {N}",
    "Text me on {P} when you land.",
    "{name} | phone {P} | {email}",
    "Emergency contact: {name}, telephone {P}.",
    "If nobody answers at {P}, leave a voicemail. {N}",
    "Contact number: {P}",
    "{name} <{email}>\nMobile: {P}\n{N}",
    "WhatsApp {P} for the discharge summary.",
    "Dr {name}'s office line is {P}.",
)
PHONE_CTX_NATIVE = {
    "zh_CN": ("联系电话：{P}，{N}", "手机 {P}（{name}）", "请致电 {P} 预约复诊。"),
    "zh_TW": ("聯絡電話：{P}", "電話 {P}，{N}", "請撥打 {P} 預約門診。"),
    "ja_JP": ("電話番号：{P}", "携帯 {P}（{name}様）", "お問い合わせは {P} まで。{N}"),
    "de_DE": ("Telefon: {P}", "Rufen Sie mich unter {P} an. {N}", "Tel. {P} (Praxis {name})"),
    "fr_FR": ("Téléphone : {P}", "Appelez-moi au {P}, {N}.", "Tél. : {P}"),
}
PHONE_BARE = (
    "Try {P} after six, {N}.",
    "{name}, {P}",
    "I'm on {P} most evenings.",
    "{name} ({P}) will drop off the forms; {N}.",
    "Ask for {name} on {P}.",
    "{P} is my husband's, use it if I don't pick up.",
    "{name}\n{street}\n{city}\n{P}",
    "Best to get me on {P}; {N}",
)

CARD_CTX_EN = (
    "For billing use card {C}, exp {exp}.",
    "my {brand} {C} was declined again ({N})",
    "Credit card: {C}\n{N}",
    "Please charge the deposit to my card {C}.",
    "CC# {C} CVV {cvv}",
    "Payment: {brand} {C}, expires {exp}, {N}",
    "Card number {C} ({name})",
    "{name} paid by debit card {C} on {N}.",
    "The {brand} on file is {C}.",
)
CARD_CTX_NATIVE = {
    "zh_CN": ("信用卡号：{C}，{N}", "银行卡 {C}（{name}）"),
    "zh_TW": ("信用卡號：{C}", "卡號 {C}，{N}"),
}
CARD_BARE = (
    "Charge it to {C} please, {N}.",
    "{name} {C} {exp}",
    "use {C} for the booking",
    "{C} exp {exp} / {cvv}",
    "Put the deposit on {C}; {N}",
    "{name}\n{C}\n{exp}",
)

NEG_ONLY = (
    "Shipped {N}, delivered {N2}.",
    "{N} {N2}",
    "Invoice attached: {N}; see also {N2}.",
    "{name} ordered the book ({N}) on {N2}.",
    "Log: {N} from {N2}",
    "Call back about {N} and {N2}.",
    "Please phone about {N}.",
    "Card reader {N} restarted at {N2}.",
)

#: Words that make a template "ctx": no bare template may contain one (checked at start-up). The
#: list is the union of the catalogue's phone and card words as of writing plus obvious others,
#: so "bare" means "no phone or card word at all", not "no word the catalogue happens to know".
_CTX_WORDS = (
    "phone", "tel", "call", "mobile", "cell", "fax", "contact", "reach", "number", "dial", "office",
    "desk", "landline", "hotline", "voicemail", "message", "sms", "text", "whatsapp", "answer", "ring",
    "card", "credit", "debit", "visa", "mastercard", "amex", "diners", "maestro", "jcb", "payment", "pay",
    "account", "cc", "bank", "电话", "電話", "手机", "卡",
)  # fmt: skip


# ---------------------------------------------------------------- hard negatives
def _luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def _luhn_no_iin(rng: random.Random) -> str:
    """Luhn-valid 13-19 digits whose prefix no card scheme issues (0, 1 but not 1800, 7, 8, 9, 33,
    2-series outside Mastercard 2221-2720 and JCB 2131)."""
    prefix = rng.choice(("0", "1", "7", "8", "9", "33", "20", "21"))
    n = rng.randint(13, 19)
    while True:
        body = prefix + "".join(rng.choice("0123456789") for _ in range(n - 1 - len(prefix)))
        if not body.startswith(("1800", "2131")):
            return _luhn_complete(body)


def _group4(s: str, sep: str) -> str:
    return sep.join(s[i : i + 4] for i in range(0, len(s), 4))


DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%Y.%m.%d", "%d %m %Y", "%Y %m %d")
NegGen = Callable[[Faker, random.Random], tuple[str, str]]  # -> (label, value)

NEGATIVES: dict[str, NegGen] = {
    "order": lambda f, r: (r.choice(("order ", "order #", "Order no. ", "")), f.numerify("#" * r.randint(8, 16))),
    "order_alnum": lambda f, r: (r.choice(("order ", "")), f.bothify(r.choice(("ORD-####-####", "PO######-##")))),
    "isbn": lambda f, r: (r.choice(("ISBN ", "")), r.choice((f.isbn13(), f.isbn10(), f.isbn13().replace("-", "")))),
    "tracking": lambda f, r: r.choice(
        (
            ("tracking ", _group4("94" + f.numerify("#" * 20), " ")),
            ("tracking no. ", "1Z" + f.bothify("???###").upper() + f.numerify("#" * 10)),
            ("", f.numerify("#### #### ####")),
        )
    ),
    "timestamp": lambda f, r: r.choice(
        (
            ("ts=", str(f.unix_time(start_datetime=SPAN[0], end_datetime=SPAN[1]))[:10]),
            ("", str(int(f.unix_time(start_datetime=SPAN[0], end_datetime=SPAN[1]) * 1000))),
            ("at ", f.iso8601(end_datetime=SPAN[1])),
            ("", f.date_time_between(*SPAN).strftime("%Y-%m-%d %H:%M:%S")),
        )
    ),
    "date": lambda f, r: ("", f.date_between(SPAN[0].date(), SPAN[1].date()).strftime(r.choice(DATE_FORMATS))),
    "ip": lambda f, r: (r.choice(("from ", "host ", "")), r.choice((f.ipv4(), f.ipv4_private()))),
    "version": lambda f, r: (
        r.choice(("v", "version ", "build ", "")),
        r.choice((f.numerify("#.#.##"), f.numerify("##.0.#####.#####"), f.numerify("#.##.###"))),
    ),
    "luhn_no_iin": lambda f, r: (r.choice(("ref ", "id ", "")), _luhn_no_iin(r)),
    "amount": lambda f, r: ("", r.choice((f.pricetag(), f"EUR {f.numerify('#.###,##')}"))),
}


# ---------------------------------------------------------------- corpus
@dataclass(frozen=True, slots=True)
class Sample:
    record: Record
    kind: str  # phone | card | negative
    group: str  # locale (phone, negative) or provider (card)
    ctx: bool  # the template holds a phone/card word
    native: bool  # the template is in the locale's own language
    negatives: tuple[tuple[int, int, str], ...]  # (start, end, kind) of every hard negative


def _card_text(num: str, provider: str, rng: random.Random) -> str:
    """Raw digits half of the time, else the brand's usual grouping with a space or a dash."""
    if rng.random() < 0.5:
        return num
    sep = rng.choice((" ", " ", "-"))
    n = len(num)
    if provider == "amex" or (provider == "jcb15" and rng.random() < 0.5):
        cuts: tuple[int, ...] = (4, 6, 5)
    elif provider == "diners":
        cuts = (4, 6, 4)
    else:
        cuts = tuple(min(4, n - i) for i in range(0, n, 4))
    out, i = [], 0
    for c in cuts:
        out.append(num[i : i + c])
        i += c
    return sep.join(out)


def _render(template: str, values: dict[str, tuple[str, str | None]]) -> tuple[str, list[tuple[int, int, str]]]:
    """Fill ``{slot}`` placeholders, recording the offsets of every labelled value.
    ``values[slot] = (text, tag)``; a value may itself be "label + value", in which case ``tag``
    spans only the value part (the text after the last ``\\x1f``)."""
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    i = 0
    while i < len(template):
        if template[i] == "{":
            j = template.index("}", i)
            text, tag = values[template[i + 1 : j]]
            label, _, value = text.rpartition("\x1f")
            out.append(label)
            pos += len(label)
            if tag:
                spans.append((pos, pos + len(value), tag))
            out.append(value)
            pos += len(value)
            i = j + 1
        else:
            out.append(template[i])
            pos += 1
            i += 1
    return "".join(out), spans


def _neg(f: Faker, rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(sorted(NEGATIVES))
    label, value = NEGATIVES[kind](f, rng)
    return f"{label}\x1f{value}", "neg:" + kind


def generate(seed: int, n: int) -> list[Sample]:
    """``n`` samples: 40 % phone, 40 % card, 20 % hard negatives only; 40 % of phone and card
    sentences use a template without a phone/card word. Deterministic for a seed."""
    rng = random.Random(seed)
    fakers = {loc: Faker(loc) for loc in LOCALES}
    for k, loc in enumerate(LOCALES):
        fakers[loc].seed_instance(seed * 1000 + k)
    en = fakers["en_US"]
    samples: list[Sample] = []
    n_phone = n_card = int(n * 0.4)
    plan = (
        [("phone", LOCALES[i % len(LOCALES)]) for i in range(n_phone)]
        + [("card", PROVIDERS[i % len(PROVIDERS)]) for i in range(n_card)]
        + [("negative", LOCALES[i % len(LOCALES)]) for i in range(n - n_phone - n_card)]
    )
    for idx, (kind, group) in enumerate(plan):
        loc = group if kind != "card" else rng.choice(LOCALES)
        f = fakers[loc]
        ctx = rng.random() >= 0.4
        native = False
        if kind == "phone":
            if ctx and loc in PHONE_CTX_NATIVE and rng.random() < 0.4:
                template, native = rng.choice(PHONE_CTX_NATIVE[loc]), True
            else:
                template = rng.choice(PHONE_CTX_EN if ctx else PHONE_BARE)
        elif kind == "card":
            if ctx and loc in CARD_CTX_NATIVE and rng.random() < 0.4:
                template, native = rng.choice(CARD_CTX_NATIVE[loc]), True
            else:
                template = rng.choice(CARD_CTX_EN if ctx else CARD_BARE)
        else:
            ctx = False
            template = rng.choice(NEG_ONLY)
        values: dict[str, tuple[str, str | None]] = {
            "name": (f.name(), None),
            "street": (f.street_address(), None),
            "city": (f.city(), None),
            "email": (en.email(), None),
            "exp": (en.credit_card_expire(), None),
            "cvv": (en.numerify("###"), None),
            "N": _neg(en, rng),
            "N2": _neg(en, rng),
        }
        if kind == "phone":
            values["P"] = (f.phone_number(), PHONE)
        elif kind == "card":
            values["C"] = (_card_text(en.credit_card_number(group), group, rng), CARD)
            values["brand"] = (BRAND_WORD[group], None)
        text, spans = _render(template, values)
        gold = tuple(Span(s, e, t) for s, e, t in spans if not t.startswith("neg:"))
        negs = tuple((s, e, t[4:]) for s, e, t in spans if t.startswith("neg:"))
        samples.append(Sample(Record(f"heldout-{seed}-{idx}", text, gold), kind, group, ctx, native, negs))
    return samples


def check_templates() -> None:
    """A "bare" template must hold no phone or card word (the values are not part of it): neither
    one of :data:`_CTX_WORDS` nor, as a substring, any context word of the catalogue's phone and
    card detectors (which match substrings: "ring" is inside "bring")."""
    words = set(_CTX_WORDS)
    for spec in load_catalogue().patterns:
        if spec.entity in TYPES:
            words.update(spec.context)
    for t in PHONE_BARE + CARD_BARE:
        low = re.sub(r"\{[a-zA-Z0-9]+\}", "\x00", t.lower())
        for w in sorted(words):
            if w in low:
                raise SystemExit(f"bare template {t!r} holds the word {w!r}")


# ---------------------------------------------------------------- scoring
def _neg_kind(span: Span, negs: tuple[tuple[int, int, str], ...]) -> str:
    for s, e, k in negs:
        if min(e, span.end) > max(s, span.start):
            return k
    return "other text"


@dataclass
class Results:
    overall: Report
    groups: dict[tuple[str, str, bool], TypeScore]  # (kind, group, ctx) -> micro over both types
    fp_by_neg: Counter[str]
    errors: list[str]


def score(samples: list[Sample], engine: object, keep_errors: int) -> Results:
    overall = Report()
    groups: dict[tuple[str, str, bool], TypeScore] = defaultdict(TypeScore)
    fp_by_neg: Counter[str] = Counter()
    errors: list[str] = []
    for smp in samples:
        rec = smp.record
        pred = [
            Span(h.start, h.end, h.entity_type)
            for h in engine.scan_text(rec.text)  # type: ignore[attr-defined]
            if h.entity_type in TYPES
        ]
        overall.add(rec, pred)
        pairs, fps, fns = match(pred, rec.spans)
        for key in ((smp.kind, smp.group, smp.ctx), (smp.kind, "*", smp.ctx)):
            g = groups[key]
            g.tp += len(pairs)
            g.fp += len(fps)
            g.fn += len(fns)
        for p in fps:
            fp_by_neg[f"{_neg_kind(p, smp.negatives)} -> {p.type}"] += 1
        if len(errors) < keep_errors:
            tag = f"{smp.kind}/{smp.group}/{'ctx' if smp.ctx else 'bare'}"
            errors += [f"FP {p.type:12s} {tag}: {rec.text[p.start : p.end]!r} in {rec.text!r}" for p in fps]
            errors += [f"FN {g.type:12s} {tag}: {rec.text[g.start : g.end]!r} in {rec.text!r}" for g in fns]
    return Results(overall, dict(groups), fp_by_neg, errors[:keep_errors])


def _fmt(s: TypeScore) -> str:
    return f"{s.tp + s.fn:5d} {s.tp + s.fp:5d} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f}"


def group_table(res: Results, kind: str, names: tuple[str, ...], title: str) -> str:
    head = f"{title:14s} | {'with a phone/card word':^34s} | {'without one (hard case)':^34s}"
    cols = f"{'gold':>5s} {'pred':>5s} {'P':>6s} {'R':>6s} {'F1':>6s}"
    sub = f"{'':14s} | {cols}    | {cols}"
    lines = [head, sub, "-" * len(sub)]
    for name in (*names, "*"):
        a = res.groups.get((kind, name, True), TypeScore())
        b = res.groups.get((kind, name, False), TypeScore())
        if name == "*":
            lines.append("-" * len(sub))
        lines.append(f"{'all' if name == '*' else name:14s} | {_fmt(a)}    | {_fmt(b)}")
    return "\n".join(lines)


def as_json(res: Results) -> dict[str, object]:
    return {
        "overall": res.overall.as_dict(),
        "groups": {
            f"{k}/{g}/{'ctx' if c else 'bare'}": {"tp": s.tp, "fp": s.fp, "fn": s.fn, "p": round(s.precision, 4),
                                                  "r": round(s.recall, 4), "f1": round(s.f1, 4)}
            for (k, g, c), s in sorted(res.groups.items())
        },
        "fp_by_negative": dict(res.fp_by_neg),
    }  # fmt: skip


def main() -> int:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # some Faker locale providers draw from sets (it_IT cities), whose order follows the
        # per-process string hash: run again with a fixed hash seed so a --seed is one corpus
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=2000, help="sentences (40 %% phone, 40 %% card, 20 %% negatives)")
    ap.add_argument("--errors", type=int, default=0, help="list up to N false positives/negatives")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--dump", type=Path, help="write the corpus as healthdlp-eval JSONL")
    args = ap.parse_args()
    check_templates()
    samples = generate(args.seed, args.n)
    if args.dump:
        with args.dump.open("w", encoding="utf-8") as fh:
            for smp in samples:
                r = smp.record
                spans = [{"start": s.start, "end": s.end, "type": s.type} for s in r.spans]
                meta = {"kind": smp.kind, "group": smp.group, "ctx": smp.ctx, "native": smp.native}
                out = {"id": r.id, "text": r.text, "spans": spans, "meta": meta}
                fh.write(json.dumps(out, ensure_ascii=False) + "\n")
    engine = build_engine(DetectorsConfig(), b"eval-heldout")
    t0 = time.perf_counter()
    res = score(samples, engine, args.errors)
    print(f"== seed {args.seed}: {len(samples)} records, {time.perf_counter() - t0:.1f} s ==", file=sys.stderr)
    if args.json:
        print(json.dumps(as_json(res), indent=2))
        return 0
    print(f"### Held-out phones and cards (Faker, seed {args.seed}, {len(samples)} sentences)\n")
    print(format_table(res.overall))
    print("\nPhones by Faker locale (P counts every phone/card prediction in those sentences):\n")
    print(group_table(res, "phone", LOCALES, "locale"))
    print("\nCards by Faker provider:\n")
    print(group_table(res, "card", PROVIDERS, "provider"))
    neg = res.groups.get(("negative", "*", False), TypeScore())
    print(f"\nHard-negative-only sentences: {neg.fp} false positives")
    print("False positives by what they hit (hard-negative kind -> predicted type):")
    for k, v in res.fp_by_neg.most_common():
        print(f"  {v:4d}  {k}")
    for err in res.errors:
        print(" ", err)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
