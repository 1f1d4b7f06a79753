"""A real HTTP server on 127.0.0.1 serving files a test makes (no mock), and BTS-shaped data."""
from __future__ import annotations

import contextlib
import http.server
import io
import threading
import zipfile
from typing import Iterator

import pandas as pd

BTS_ROWS = pd.DataFrame({
    "FlightDate": ["2015-01-02", "2015-01-03"], "Reporting_Airline": ["AA", "DL"],
    "Flight_Number_Reporting_Airline": [100, 200], "Origin": ["JFK", "ATL"], "Dest": ["LAX", "JFK"],
    "CRSDepTime": [905, 1730], "CRSArrTime": [1225, 2010], "DepDelay": [3.0, -2.0], "ArrDelay": [10.0, -8.0],
    "Distance": [2475.0, 760.0],
})


def bts_zip(frame: pd.DataFrame) -> bytes:
    """A BTS-style monthly zip: one CSV inside."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("On_Time.csv", frame.to_csv(index=False))
    return buffer.getvalue()


@contextlib.contextmanager
def serve_files(files: dict[str, tuple[bytes, int | None]]) -> Iterator[str]:
    """Serve path -> (body, claimed Content-Length or None); yields the base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server API)
            if self.path not in files:
                self.send_error(404, "Not Found")
                return
            body, claimed = files[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(claimed if claimed is not None else len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
