"""``latticework demo`` as a new user runs it: it starts its own server and prints what happened."""

from __future__ import annotations

import re
import subprocess
import sys


def test_the_demo_builds_the_example_and_prints_the_distribution():
    done = subprocess.run([sys.executable, "-m", "latticework", "demo", "--endpoint", "http://127.0.0.1:9",
                           "--requests", "400"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "Started a server for the demo" in out and "HEALTHY" in out
    split = re.search(r"blue ([\d.]+)% / green ([\d.]+)%", out)
    assert split and 70 <= float(split.group(1)) <= 90, out
    assert re.search(r"GET /v2/pay\s+-> green-1", out) and re.search(r"POST /refunds\s+-> fixed response 404", out)
    assert "NXDOMAIN" in out  # the provider VPC cannot resolve the service
    headers = out.split("was stripped):")[1]
    assert "x-amzn-lattice-target: ServiceArn=" in headers and "x-amzn-lattice-identity" not in headers
