"""The README's Python script, run as written against a server (only its URL replaced).

Usage: python readme_script.py --url http://127.0.0.1:PORT --readme README.md
Prints one line per check, starting with ✅ or ❌, as tutorial_client.py does.
"""

import argparse
import re
import subprocess
import sys

MARKER = "runs as written:"


def script_of(readme: str) -> str:
    after = readme.split(MARKER, 1)[1]
    match = re.search(r"```python\n(.*?)\n```", after, re.S)
    if match is None:
        raise SystemExit("❌ the README has no Python block after " + repr(MARKER))
    return match.group(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--readme", required=True)
    args = parser.parse_args()
    with open(args.readme, encoding="utf-8") as f:
        script = script_of(f.read())
    url_line = 'URL = "http://127.0.0.1:8123"'
    if url_line not in script:
        print(f"❌ the README's script does not set {url_line}")
        return 1
    script = script.replace(url_line, f"URL = {args.url.rstrip('/')!r}")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    out = run.stdout
    checks = [
        ("the script runs to its end (exit 0)", run.returncode == 0),
        ("Alice's thread is stamped with her as owner", "Alice's thread:" in out and "'owner': 'user1'" in out),
        ("Bob gets 404 for it", "Bob gets 404" in out),
    ]
    failed = 0
    for what, ok in checks:
        print(("✅ " if ok else "❌ ") + what, flush=True)
        failed += not ok
    if failed:
        print("---- stdout\n" + out + "---- stderr\n" + run.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
