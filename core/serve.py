"""A small local HTTP endpoint that answers predictions of a classification run, in JSON.

    .venv/bin/python -m core.serve --run studio-data/runs/<run> [--port 8000] [--host 127.0.0.1]
    curl -s localhost:8000/predict -d '{"texts": ["The battery died after two days."]}'

POST /predict takes {"texts": [...]} (or {"text": "..."}) and returns {"predictions": [{"label",
"probability", "probabilities"}]} in the order sent; GET /health returns the run and its labels.
It listens on the loopback address unless --host says otherwise: it has no sign-in, so anyone who
can reach the port can use the model. The model is the adapter merged into the base, batched as
core.predict does; the standard library's http.server answers one request at a time.
"""

from __future__ import annotations

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from core.predict import PredictError, load_merged_classifier, predict_probabilities

MAX_BODY_BYTES = 1_000_000
MAX_TEXTS = 1024
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class RequestError(ValueError):
    """A request the endpoint cannot answer; the message goes back to the client as JSON."""


def texts_from(body: bytes) -> list[str]:
    """The texts in a request body.

    Raises:
        RequestError: not JSON, no texts, not strings, or too many.
    """
    try:
        request = json.loads(body or b"null")
    except ValueError as err:
        raise RequestError(f'The body is not JSON ({err}). Send {{"texts": ["..."]}}.') from err
    if isinstance(request, dict) and isinstance(request.get("text"), str):
        request = {"texts": [request["text"]]}
    texts = request.get("texts") if isinstance(request, dict) else None
    if not isinstance(texts, list) or not texts:
        raise RequestError('Send {"texts": ["first text", "second text"]} or {"text": "..."}.')
    if not all(isinstance(t, str) for t in texts):
        raise RequestError("Every entry of 'texts' must be a string.")
    if len(texts) > MAX_TEXTS:
        raise RequestError(f"{len(texts)} texts in one request; send at most {MAX_TEXTS}.")
    return texts


def predictions(classifier, texts: list[str]) -> list[dict]:
    """Label, its probability, and every label's probability, for each text in order."""
    probs = predict_probabilities(classifier, texts)
    labels = classifier.labels
    return [
        {
            "label": labels[int(row.argmax())],
            "probability": round(float(row.max()), 6),
            "probabilities": {
                label: round(float(p), 6) for label, p in zip(labels, row, strict=True)
            },
        }
        for row in probs
    ]


def make_handler(classifier, run_name: str):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path.rstrip("/") in ("", "/health"):
                self.reply(200, {"status": "ok", "run": run_name, "labels": classifier.labels})
            else:
                self.reply(404, {"error": f"No {self.path}: use POST /predict or GET /health."})

        def do_POST(self):  # noqa: N802
            if self.path.rstrip("/") != "/predict":
                self.reply(404, {"error": f"No {self.path}: POST to /predict."})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self.drain(length)  # a client still sending would see a broken pipe, not the 413
                self.reply(413, {"error": f"Body of {length:,} bytes; at most {MAX_BODY_BYTES:,}."})
                return
            try:
                texts = texts_from(self.rfile.read(length))
            except RequestError as err:
                self.reply(400, {"error": str(err)})
                return
            self.reply(200, {"predictions": predictions(classifier, texts)})

        def drain(self, length: int) -> None:
            """Read and drop a refused body, in chunks, up to 8× the limit (then close)."""
            left = min(length, 8 * MAX_BODY_BYTES)
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
            if length > 8 * MAX_BODY_BYTES:
                self.close_connection = True

        def reply(self, code: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 - one short line per request
            print(f"{self.address_string()} {format % args}", file=sys.stderr)

    return Handler


def make_server(run_dir: Path, host: str = "127.0.0.1", port: int = 8000) -> HTTPServer:
    """The endpoint, bound and ready for `serve_forever()` (port 0: any free port).

    Raises:
        PredictError: the run has no complete classification adapter.
        OSError: the port is taken or the address is not this machine's.
    """
    classifier = load_merged_classifier(Path(run_dir), device="auto")
    return HTTPServer((host, port), make_handler(classifier, Path(run_dir).name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.serve", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--run", required=True, type=Path, help="a finished classification run")
    parser.add_argument("--port", type=int, default=8000, help="the port (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="the address (default loopback only)")
    args = parser.parse_args(argv)
    try:
        server = make_server(args.run, args.host, args.port)
    except PredictError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: cannot listen on {args.host}:{args.port} ({err.strerror or err}). "
              "Choose another --port.", file=sys.stderr)  # fmt: skip
        return 2
    if args.host not in LOOPBACK:
        print(f"warning: listening on {args.host}: anyone who reaches it can use the model "
              "(no sign-in).", file=sys.stderr)  # fmt: skip
    host, port = server.server_address[:2]
    print(f"Serving run {args.run.name} on http://{host}:{port}/predict (Ctrl+C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
