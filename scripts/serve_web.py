#!/usr/bin/env python3
"""Serves the browser demo on 127.0.0.1 (scripts/web.sh, scripts/test_web.sh).

    /            examples/web/ (the page)
    /pkg/        the wasm-bindgen output (target/web/pkg)
    /model/      all-MiniLM-L6-v2 (.cache/all-MiniLM-L6-v2, scripts/fetch_minilm.sh)
    /fixtures/   graphs/tests/fixtures (the browser tests' references)

Every response allows any origin (the browser tests fetch from the test
runner's page, another origin) and is never cached (a rebuilt wasm is
picked up on reload). With --port 0 the OS picks the port; the address is
printed, and written to --address-file when given.
"""
import argparse
import functools
import http.server
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOUNTS = {
    "/pkg/": os.path.join(ROOT, "target", "web", "pkg"),
    "/model/": os.path.join(ROOT, ".cache", "all-MiniLM-L6-v2"),
    "/fixtures/": os.path.join(ROOT, "graphs", "tests", "fixtures"),
    "/": os.path.join(ROOT, "examples", "web"),
}


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm", ".js": "text/javascript"}

    def translate_path(self, path):
        path = path.split("?", 1)[0].split("#", 1)[0]
        for prefix, directory in MOUNTS.items():
            if path.startswith(prefix):
                rest = path[len(prefix):]
                parts = [p for p in rest.split("/") if p not in ("", ".", "..")]
                return os.path.join(directory, *parts)
        return os.path.join(MOUNTS["/"], "missing")

    def end_headers(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, fmt, *args):
        if os.environ.get("WGRAPH_WEB_LOG"):
            super().log_message(fmt, *args)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--address-file")
    args = parser.parse_args()
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), functools.partial(Handler))
    except OSError as e:
        sys.exit(f"web: cannot listen on 127.0.0.1:{args.port}: {e.strerror} (pick another with --port P)")
    address = f"http://127.0.0.1:{server.server_address[1]}"
    if args.address_file:
        tmp = args.address_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(address + "\n")
        os.replace(tmp, args.address_file)
    print(f"wgraph web demo: {address}/  (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
