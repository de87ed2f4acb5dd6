"""A small, independent model of the Firehose NDJSON record (design.md, "Firehose record").

The warehouse tests load `fixtures/firehose.ndjson`. That file is meant to be exactly what
`playstream validate` writes for the raw client events in `fixtures/events.jsonl`; this module
states the expected line for one raw event so a test can check the two fixtures agree (and,
once the Rust encoder generates the NDJSON, that the encoder agrees with this model).

It models only what the fixtures use: valid events, the currencies below, and the field order
of the v1 schemas. It is not a validator.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

TOPIC = "game-events.raw"
VALIDATED_AT = "2026-11-20T00:00:00Z"

# ISO 4217 minor units of the currencies the fixtures use.
CURRENCY_SCALE = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3}

COMMON_FIELDS = [
    "event_id", "event_type", "timestamp", "user_id", "game_id",
    "platform", "app_version", "session_id", "country",
]

# Per type: (schema record name, fields after the common ones, in schema order).
TYPE_FIELDS = {
    "install": ("Install", ["source", "campaign", "device_model", "os_version"]),
    "purchase": ("Purchase", ["product_id", "product_name", "price", "currency", "store",
                              "transaction_id", "quantity"]),
    "session_start": ("SessionStart", []),
    "session_end": ("SessionEnd", ["duration_ms"]),
    "level_start": ("LevelStart", ["level"]),
    "level_complete": ("LevelComplete", ["level", "duration_ms", "success", "score"]),
    "ad_watched": ("AdWatched", ["placement", "ad_type", "revenue", "currency"]),
    "achievement_unlocked": ("AchievementUnlocked", ["achievement_id"]),
}

MONEY_FIELDS = {"price", "revenue"}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_rfc3339(text: str) -> datetime:
    """RFC 3339 with an explicit offset to an aware UTC datetime (finer than µs truncated)."""
    date_time, offset = text[:-1], timedelta(0)
    if not text.endswith(("Z", "z")):
        date_time, sign, hh, mm = text[:-6], text[-6], text[-5:-3], text[-2:]
        offset = timedelta(hours=int(hh), minutes=int(mm)) * (-1 if sign == "-" else 1)
    base, _, frac = date_time.partition(".")
    parsed = datetime.strptime(base.replace("t", "T").replace(" ", "T"), "%Y-%m-%dT%H:%M:%S")
    micros = int((frac + "000000")[:6]) if frac else 0
    return (parsed.replace(microsecond=micros) - offset).replace(tzinfo=timezone.utc)


def format_rfc3339(moment: datetime) -> str:
    """UTC with `Z`; fraction omitted when zero, 3 digits for whole milliseconds, else 6."""
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        if moment.microsecond % 1000 == 0:
            text += f".{moment.microsecond // 1000:03d}"
        else:
            text += f".{moment.microsecond:06d}"
    return text + "Z"


def money_text(value, currency: str) -> str:
    """An exact amount written at its currency's scale ("4.99", "1200", "1.500")."""
    exact = Decimal(str(value)) if not isinstance(value, Decimal) else value
    scaled = exact.quantize(Decimal(1).scaleb(-CURRENCY_SCALE[currency]))
    if scaled != exact:
        raise ValueError(f"{value} has more digits than {currency} allows")
    return format(scaled, "f")


def expected_record(origin: dict) -> dict:
    """The Firehose record (as an ordered dict) for one events.jsonl line."""
    event = origin["event"]
    event_type = event["event_type"]
    schema_name, own_fields = TYPE_FIELDS[event_type]
    known = COMMON_FIELDS + own_fields
    out: dict = {}
    for name in known:
        value = event.get(name)
        if name == "quantity" and value is None:
            value = 1
        if value is None:
            continue
        if name == "event_id":
            value = value.lower()
        elif name == "timestamp":
            value = format_rfc3339(parse_rfc3339(value))
        elif name in MONEY_FIELDS:
            value = money_text(value, event["currency"])
        elif isinstance(value, Decimal):  # an integral JSON number read as Decimal
            value = int(value)
        out[name] = value
    extra = {k: v for k, v in event.items() if k not in known}
    if extra:
        out["_extra"] = extra
    meta: dict = {"validated_at": VALIDATED_AT}
    if origin.get("received_at") is not None:
        meta["received_at"] = format_rfc3339(parse_rfc3339(origin["received_at"]))
    meta["source"] = {"topic": TOPIC, "partition": origin["partition"], "offset": origin["offset"]}
    meta["schema"] = {"name": f"playstream.events.{schema_name}", "version": 1}
    out["_meta"] = meta
    return out


def load_jsonl(path) -> list[dict]:
    """One JSON object per non-blank line; numbers read exactly (never through float), key
    order preserved. Used for both fixtures."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line, parse_float=Decimal) for line in handle if line.strip()]


load_events = load_jsonl      # events.jsonl: {"partition", "offset", "received_at", "event"}
load_firehose = load_jsonl    # firehose.ndjson: Firehose records


def render(record: dict) -> str:
    """Compact JSON, one line, as the encoder writes it."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str)
