"""Helper of check-report.sh: checks a census report folder (see that script).

1. Parse index.html: every <img src>, <a href>, <link href>, <script src> that is local must
   exist in the folder; none may point to the network; no <script> at all.
2. Open the page in headless Chromium (no network, fresh profile): inside a probe page of this
   checker (the report itself has no scripts) count the images the browser failed to decode or
   load; then take a screenshot tall enough for the whole page, with console logging, and fail
   on console errors.
3. The screenshot must be non-trivial: many distinct colours, not mostly one colour.
4. Every linked SVG is self-contained: no <text> left to the viewer's fonts, no font named,
   nothing referenced outside the file (its glyphs are outlines defined in it).
"""

import argparse
import html.parser
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import urllib.parse

from PIL import Image, ImageChops


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []  # (tag, attribute, value)
        self.scripts = 0
        self.imgs = []  # (src, width attribute or None)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for attr in ("src", "href"):
            if attr in a and a[attr] is not None:
                self.refs.append((tag, attr, a[attr]))
        if tag == "img":
            self.imgs.append((a.get("src", ""), a.get("width")))


def png_size(path):
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def check_links(folder):
    problems = []
    page = os.path.join(folder, "index.html")
    with open(page, encoding="utf-8") as f:
        parser = Links()
        parser.feed(f.read())
    if parser.scripts:
        problems.append(f"index.html has {parser.scripts} <script> element(s)")
    for tag, attr, value in parser.refs:
        url = urllib.parse.urlparse(value)
        if url.scheme in ("http", "https") or value.startswith("//"):
            if tag != "a":
                problems.append(f"<{tag} {attr}={value!r}> loads from the network")
            continue
        if url.scheme or value.startswith("#"):
            continue
        target = os.path.join(folder, urllib.parse.unquote(url.path))
        if not os.path.isfile(target):
            problems.append(f"<{tag} {attr}={value!r}>: {target} does not exist")
        elif target.endswith(".svg"):
            problems += svg_problems(target)
        elif tag == "img" and png_size(target) is None and not target.endswith(".svg"):
            problems.append(f"<img src={value!r}> is not a PNG or SVG file")
    return parser, problems


def svg_problems(path):
    """Text drawn by the viewer's fonts or references outside the file."""
    with open(path, encoding="utf-8") as f:
        svg = f.read()
    name = os.path.basename(path)
    out = []
    if "<text" in svg or "font-family" in svg:
        out.append(f"{name} has text that depends on the viewer's fonts")
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    for ref in re.findall(r'href="([^"]*)"', svg):
        if not ref.startswith("#") or ref[1:] not in ids:
            out.append(f"{name} refers to {ref!r}, which it does not define")
            break
    return out


def page_height(folder, parser, width):
    """Generous page height: every image at its displayed height plus text and tables."""
    total = 600
    for src, w in parser.imgs:
        size = png_size(os.path.join(folder, src)) if src else None
        if size:
            shown_w = min(int(w or size[0]), width - 80)
            total += int(size[1] * shown_w / size[0]) + 160
    with open(os.path.join(folder, "index.html"), encoding="utf-8") as f:
        text = f.read()
    total += 40 * text.count("<tr>") + 120 * text.count("<section")
    return min(total, 30000)


CONSOLE_ERROR = re.compile(
    r"ERR_FILE_NOT_FOUND|Failed to load resource|Uncaught|net::ERR_|"
    r"CONSOLE\(\d+\)\].*(error|Error)|:ERROR:.*(console|resource|Not allowed to load)"
)


PROBE = """<!DOCTYPE html><html><body>
<iframe id="f" src="%s" width="1440" height="900"></iframe><pre id="out">NOT LOADED</pre>
<script>
document.getElementById("f").addEventListener("load", () => {
  const out = document.getElementById("out");
  let d = null;
  try { d = document.getElementById("f").contentDocument; } catch (e) {}
  if (!d) { out.textContent = "NO ACCESS"; return; }
  const bad = [];
  for (const img of d.images) {
    if (!img.complete || img.naturalWidth === 0) bad.push(img.getAttribute("src"));
  }
  out.textContent = "IMAGES " + d.images.length + " BROKEN " + JSON.stringify(bad);
});
</script></body></html>
"""


def chromium_flags(chromium, profile):
    return [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}",
    ]


def broken_images(folder, chromium):
    """Images the browser could not show, as the page's <img src> values; or a problem."""
    url = "file://" + urllib.parse.quote(os.path.join(folder, "index.html"))
    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, "probe.html")
        with open(probe, "w", encoding="utf-8") as f:
            f.write(PROBE % url)
        cmd = chromium_flags(chromium, os.path.join(tmp, "profile")) + [
            "--allow-file-access-from-files", "--virtual-time-budget=30000", "--dump-dom",
            "file://" + probe,
        ]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    m = re.search(r"IMAGES (\d+) BROKEN (\[.*?\])", run.stdout)
    if not m:
        tail = re.search(r'<pre id="out">(.*?)</pre>', run.stdout)
        return None, f"the probe page did not report (got {tail.group(1) if tail else run.stdout[-300:]!r})"

    return (int(m.group(1)), json.loads(m.group(2))), None


def screenshot(folder, chromium, out, width, height):
    url = "file://" + urllib.parse.quote(os.path.join(folder, "index.html"))
    with tempfile.TemporaryDirectory() as profile:
        cmd = chromium_flags(chromium, profile) + [
            "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
            f"--window-size={width},{height}", f"--screenshot={out}", url,
        ]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    log = run.stdout + run.stderr
    errors = [line for line in log.splitlines() if CONSOLE_ERROR.search(line)]
    return run.returncode, errors, log


def check_image(path):
    problems = []
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return [f"no screenshot at {path}"], (0, 0, 0, 1.0)
    img = Image.open(path).convert("RGB")
    # the window was made taller than the page: drop the blank band below the content
    box = ImageChops.difference(img, Image.new("RGB", img.size, img.getpixel((0, 0)))).getbbox()
    if box and box[3] + 40 < img.height:
        img = img.crop((0, 0, img.width, box[3] + 40))
        img.save(path)
    small = img.resize((max(1, img.width // 2), max(1, img.height // 2)))
    colours = small.getcolors(maxcolors=1 << 24) or []
    distinct = len(colours)
    top = max(c for c, _ in colours) / (small.width * small.height) if colours else 1.0
    if distinct < 64:
        problems.append(f"screenshot has only {distinct} distinct colours")
    if top > 0.995:
        problems.append(f"screenshot is {100 * top:.1f}% one colour")
    return problems, (img.width, img.height, distinct, top)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--screenshot", required=True)
    ap.add_argument("--width", type=int, default=1440)
    args = ap.parse_args()
    folder = os.path.abspath(args.folder)
    if not os.path.isfile(os.path.join(folder, "index.html")):
        print(f"check-report: no index.html in {folder}", file=sys.stderr)
        return 1
    parser, problems = check_links(folder)
    shown, problem = broken_images(folder, args.chromium)
    if problem:
        problems.append(problem)
    else:
        count, broken = shown
        if count != len(parser.imgs):
            problems.append(f"the browser sees {count} images, the page has {len(parser.imgs)}")
        problems += [f"browser could not show image {b}" for b in broken]
    height = page_height(folder, parser, args.width)
    code, errors, log = screenshot(folder, args.chromium, args.screenshot, args.width, height)
    if code != 0:
        problems.append(f"chromium exited with {code}:\n{log[-2000:]}")
    problems += [f"browser: {e}" for e in errors]
    image_problems, stats = check_image(args.screenshot)
    problems += image_problems
    print(f"check-report: {len(parser.imgs)} images, {len(parser.refs)} links, "
          f"screenshot {stats[0]}x{stats[1]} px with {stats[2]} colours "
          f"({100 * stats[3]:.1f}% background) at {args.screenshot}")
    for p in problems:
        print(f"check-report: FAIL {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
