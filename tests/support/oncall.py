"""Receivers standing in for PagerDuty's Events API v2 and for a CloudEvents sink, each checking
every body against the service's published rules, written down here as JSON Schemas:

PagerDuty, "Send an Alert Event" (developer.pagerduty.com, events-API-v2):
- `routing_key` (required): the 32 character integration key;
- `event_action` (required): `trigger`, `acknowledge` or `resolve`;
- `dedup_key`: at most 255 characters; required to acknowledge or resolve (an alert is found
  by it), optional for a trigger (PagerDuty makes one up: a new alert every time);
- `payload` (required for a trigger): `summary` (required, at most 1024 characters),
  `source` (required), `severity` (required: `critical`, `error`, `warning` or `info`),
  optional `timestamp` (ISO 8601), `component`, `group`, `class`, `custom_details` (object);
- `images`, `links` (arrays of objects), `client`, `client_url`.
Events for a `dedup_key` go to the open alert of that key; once it is resolved, a trigger with
the same key opens a new alert and a resolve is dropped. The receiver keeps alerts that way.

CloudEvents 1.0 (github.com/cloudevents/spec, cloudevents/spec.md and formats/json-format.md):
- required attributes `specversion` ("1.0"), `id` (non-empty string; source + id is unique for
  each distinct event, so a consumer may treat an event with a source and id it saw as a
  duplicate), `source` (non-empty URI-reference), `type` (non-empty string, SHOULD be prefixed
  with a reverse-DNS name);
- optional `datacontenttype` (RFC 2046), `dataschema` (URI), `subject` (non-empty string),
  `time` (RFC 3339);
- attribute names are lower-case ASCII letters and digits (at most 20 SHOULD be used);
- JSON format: the media type of structured mode is `application/cloudevents+json`; with a JSON
  `datacontenttype`, `data` holds the JSON value itself; `data` and `data_base64` exclude
  each other.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jsonschema import Draft202012Validator

PAGERDUTY_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["routing_key", "event_action"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 32, "maxLength": 32},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string", "format": "date-time"},
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
        },
        "images": {"type": "array", "items": {"type": "object", "required": ["src"]}},
        "links": {"type": "array", "items": {"type": "object", "required": ["href"]}},
        "client": {"type": "string"},
        "client_url": {"type": "string", "format": "uri"},
    },
    "allOf": [
        {
            "if": {"properties": {"event_action": {"const": "trigger"}}},
            "then": {"required": ["payload"]},
            "else": {"required": ["dedup_key"]},
        }
    ],
}

CLOUDEVENT: dict[str, Any] = {
    "type": "object",
    "required": ["specversion", "id", "source", "type"],
    "propertyNames": {"pattern": "^([a-z0-9]{1,20}|data_base64)$"},
    "properties": {
        "specversion": {"const": "1.0"},
        "id": {"type": "string", "minLength": 1},
        "source": {"type": "string", "minLength": 1, "format": "uri-reference"},
        # Reverse-DNS prefixed, as the spec recommends and Knative / Argo Events filter on.
        "type": {"type": "string", "pattern": r"^[a-z0-9-]+(\.[a-z0-9-]+)+$"},
        "datacontenttype": {"type": "string", "pattern": r"^[a-z]+/[a-z0-9.+-]+(;.*)?$"},
        "dataschema": {"type": "string", "format": "uri"},
        "subject": {"type": "string", "minLength": 1},
        "time": {"type": "string", "format": "date-time"},
        "data_base64": {"type": "string"},
    },
    "not": {"required": ["data", "data_base64"]},
}

STRUCTURED_MODE = "application/cloudevents+json"


def violations(schema: dict[str, Any], body: Any) -> list[str]:
    """Every way ``body`` breaks ``schema``, formats (date-time, URIs) included."""
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return sorted(
        f"{'/'.join(str(p) for p in e.absolute_path) or '(body)'}: {e.message}"
        for e in validator.iter_errors(body)
    )


@dataclass
class Received:
    body: Any
    headers: dict[str, str]
    problems: list[str]


@dataclass
class Receiver:
    """An HTTP server on loopback that checks each POST and answers as the service would: 202
    for a valid PagerDuty event, 200 for a CloudEvent, 400 with the problems otherwise. After
    `hold`, it takes each request in (and counts it) but answers only after `release`: an
    operator killed meanwhile never hears that its delivery arrived."""

    check: str  # "PagerDuty" or "CloudEvents"
    received: list[Received] = field(default_factory=list)
    alerts: dict[str, str] = field(default_factory=dict)
    """PagerDuty: dedup_key -> "triggered" or "resolved", of the newest alert of each key."""
    opened: Counter[str] = field(default_factory=Counter)
    """PagerDuty: alerts opened per dedup_key."""
    events: dict[tuple[str, str], Any] = field(default_factory=dict)
    """CloudEvents: each distinct event by (source, id)."""

    down: bool = False
    """Answer 503 to everything, taking nothing in (the service is unreachable)."""
    refused: list[Any] = field(default_factory=list)
    """Bodies answered 503 while down."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.take(raw, dict(self.headers.items()))
                receiver._released.wait(timeout=30)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def take(self, raw: bytes, headers: dict[str, str]) -> int:
        if self.down:
            with self._lock:
                self.refused.append(json.loads(raw))
            return 503
        try:
            body = json.loads(raw)
        except ValueError:
            body, problems = None, ["the body is not JSON"]
        else:
            problems = self.problems(body, headers)
        with self._lock:
            self.received.append(Received(body, headers, problems))
            if problems:
                return 400
            if self.check == "PagerDuty":
                self._alert(body)
                return 202
            self.events.setdefault((body["source"], body["id"]), body)
            return 200

    def problems(self, body: Any, headers: dict[str, str]) -> list[str]:
        if self.check == "PagerDuty":
            return violations(PAGERDUTY_EVENT, body)
        found = violations(CLOUDEVENT, body)
        content_type = headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != STRUCTURED_MODE:
            found.append(f"Content-Type {content_type!r} is not {STRUCTURED_MODE}")
        return found

    def _alert(self, event: dict[str, Any]) -> None:
        key, action = event.get("dedup_key", ""), event["event_action"]
        if action == "trigger" and self.alerts.get(key) != "triggered":
            self.alerts[key] = "triggered"
            self.opened[key] += 1
        elif action == "resolve" and self.alerts.get(key) == "triggered":
            self.alerts[key] = "resolved"

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r.body for r in self.received]

    def rejected(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.problems]

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
