#!/usr/bin/env python3
"""Checks the browser demo page in headless Chromium (scripts/test_web.sh).

Opens ADDRESS/?texts=A|B|C through chromedriver (WebGPU on: --enable-unsafe-webgpu),
waits until the page writes the embeddings into <pre id="embeddings"> (or an
error into <pre id="error">), checks them (one unit vector per text, the
similar pair closer than the unrelated one), takes a screenshot of the page
and checks that it shows the similarity matrix: every diagonal cell (cosine
1) is drawn in the matrix's full-similarity blue at the place the page laid
it out. Writes the screenshot to --screenshot. Exit status 1 with the reason
on any failure.
"""
import argparse
import base64
import json
import math
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import zlib

TEXTS = ["a cat sleeps on the sofa", "a kitten naps on the couch", "quarterly stock prices fell"]
CHROME_ARGS = ["--headless=new", "--no-sandbox", "--enable-unsafe-webgpu", "--disable-dev-shm-usage",
               "--window-size=1100,1000", "--force-device-scale-factor=1"]


def fail(message):
    sys.exit(f"web page check: {message}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    def __init__(self, chromedriver):
        self.port = free_port()
        self.proc = subprocess.Popen([chromedriver, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                self.call("GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        else:
            fail(f"{chromedriver} did not start")
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": CHROME_ARGS}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())["value"]

    def session_call(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def script(self, source):
        return self.session_call("POST", "/execute/sync", {"script": source, "args": []})

    def close(self):
        try:
            self.call("DELETE", f"/session/{self.session}")
        finally:
            self.proc.terminate()


def decode_png(data):
    """(width, height, rows of RGBA bytes) of an 8-bit RGB or RGBA PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("the screenshot is not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    if depth != 8 or color not in (2, 6) or interlace:
        fail(f"unexpected PNG format (depth {depth}, colour type {color}, interlace {interlace})")
    channels = 4 if color == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            up_left = previous[x - channels] if x >= channels else 0
            if filter_type == 1:
                line[x] = (line[x] + left) & 255
            elif filter_type == 2:
                line[x] = (line[x] + up) & 255
            elif filter_type == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            elif filter_type == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
                line[x] = (line[x] + predictor) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", help="the page server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--screenshot", default="target/web/demo.png")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--chromedriver", default=os.environ.get("CHROMEDRIVER", "chromedriver"))
    args = parser.parse_args()

    url = f"{args.address.rstrip('/')}/?texts=" + urllib.parse.quote("|".join(TEXTS))
    driver = WebDriver(args.chromedriver)
    try:
        driver.session_call("POST", "/url", {"url": url})
        deadline = time.time() + args.timeout
        while True:
            embeddings, error = driver.script(
                "return [document.getElementById('embeddings').textContent,"
                " document.getElementById('error').hidden ? '' : document.getElementById('error').textContent];")
            if error:
                fail(f"the page reports an error: {error}")
            if embeddings:
                break
            if time.time() > deadline:
                fail(f"no embeddings after {args.timeout:.0f} s")
            time.sleep(1)
        vectors = json.loads(embeddings)
        if len(vectors) != len(TEXTS) or any(len(v) != 384 for v in vectors):
            fail(f"expected {len(TEXTS)} vectors of 384 floats, got {[len(v) for v in vectors]}")
        for i, v in enumerate(vectors):
            norm = math.sqrt(sum(x * x for x in v))
            if abs(norm - 1) > 1e-4:
                fail(f"embedding {i} has norm {norm}, not 1")
        dot = lambda a, b: sum(x * y for x, y in zip(a, b))
        if not dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2]) + 0.2:
            fail(f"the cat/kitten pair ({dot(vectors[0], vectors[1]):.3f}) is not closer than cat/stocks "
                 f"({dot(vectors[0], vectors[2]):.3f})")
        cells = driver.script(
            "return Array.from(document.querySelectorAll('table.similarity td')).map(td => {"
            " const r = td.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2, Number(td.dataset.cosine)]; });")
        if len(cells) != len(TEXTS) ** 2:
            fail(f"the page shows {len(cells)} matrix cells, expected {len(TEXTS) ** 2}")
        png = base64.b64decode(driver.session_call("GET", "/screenshot"))
    finally:
        driver.close()
    os.makedirs(os.path.dirname(args.screenshot) or ".", exist_ok=True)
    with open(args.screenshot + ".tmp", "wb") as f:
        f.write(png)
    os.replace(args.screenshot + ".tmp", args.screenshot)
    width, height, channels, rows = decode_png(png)
    for x, y, c in cells:
        if abs(c - 1) > 1e-3:
            continue
        px, py = int(x), int(y)
        if not (0 <= px < width and 0 <= py < height):
            fail(f"matrix cell at ({px}, {py}) is outside the {width}x{height} screenshot")
        # Sample beside the number: the cell's background, hsl(215 80% 45%) = rgb(23, 101, 207).
        r, g, b = rows[py][(px - 24) * channels:(px - 24) * channels + 3]
        if not (b > 150 and b > r + 100 and b > g + 50):
            fail(f"the screenshot has rgb({r}, {g}, {b}) where the diagonal cell at ({px}, {py}) "
                 f"should be blue: the matrix is not shown")
    print(f"web page check: {len(TEXTS)} embeddings, similarity matrix shown ({args.screenshot})")


if __name__ == "__main__":
    main()
