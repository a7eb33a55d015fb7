"""How fast a slip PDF is made, and whether start-up loads the slip libraries.

    python benchmarks/slip_bench.py

Prints one figure a line:
  slip_pdf_ms VALUE ms             warm median of 50 Letter builds, five siblings (target < 50 ms)
  slip_pdf_receipt_ms VALUE ms     the same for the 80 mm receipt (drawn twice: measure, then cut)
  slip_pdf_unicode_ms VALUE ms     the Letter build for five siblings named in Vietnamese, Greek, Cyrillic...
  slip_pdf_cold_ms VALUE ms        the first slip in a fresh process, imports of segno and fpdf included
  slip_imports_at_startup 0|1      1 if importing the app loads segno, fpdf or PIL (should be 0)
"""

from __future__ import annotations

import datetime as dt
import statistics
import subprocess
import sys
import time

RUNS = 50
STARTUP_MODULES = ("segno", "fpdf", "PIL")


def five_sibling_slip():
    from kiosk.slip.content import SlipData

    children = tuple((f"Child{n} Testkiddo-Oyelaran", f"JFKAY-TTJY{'VWXYZ'[n]}") for n in range(5))
    return SlipData(
        "Sunny Hills Pediatrics",
        "https://portal.example.org/register",
        children[0][0],
        children,
        dt.date(2026, 12, 22),
        "en",
        "b0c1d2e3f4a5b6c7",
        (),
    )


def unicode_sibling_slip():
    """Five siblings whose names need the embedded font (more glyphs to subset than plain ASCII)."""
    from kiosk.slip.content import SlipData

    names = (
        "Nguyễn Thị Ánh",
        "Zoë O'Brien [Jr]",
        "Ђорђе Петровић",
        "Αλέξανδρος",
        "Łukasz Żółć-Wiśniewski",
    )
    children = tuple((name, f"JFKAY-TTJY{'VWXYZ'[n]}") for n, name in enumerate(names))
    return SlipData(
        "Sunny Hills Pediatrics",
        "https://portal.example.org/register",
        names[0],
        children,
        dt.date(2026, 12, 22),
        "en",
        "b0c1d2e3f4a5b6c7",
        (),
    )


def warm_median_ms(layout: str, slip=None) -> float:
    from kiosk.slip.pdf import render_slip_pdf

    slip = slip or five_sibling_slip()
    render_slip_pdf(slip, layout)  # imports and font metrics loaded
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        render_slip_pdf(slip, layout)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def cold_ms() -> float:
    code = (
        "import time, sys; sys.path.insert(0, 'benchmarks'); from slip_bench import five_sibling_slip; "
        "s = five_sibling_slip(); t = time.perf_counter(); from kiosk.slip.pdf import render_slip_pdf; "
        "render_slip_pdf(s, 'letter'); print((time.perf_counter() - t) * 1000)"
    )
    return float(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )


def startup_imports() -> tuple[str, int]:
    """(module checked, 1 if it loads a slip library). kiosk_screens.app is the app; kiosk.cli if it will not import."""
    probe = f"import sys, importlib; importlib.import_module(sys.argv[1]); print(int(any(m in sys.modules for m in {STARTUP_MODULES!r})))"
    for module in ("kiosk_screens.app", "kiosk.cli"):
        done = subprocess.run([sys.executable, "-c", probe, module], capture_output=True, text=True)
        if done.returncode == 0:
            return module, int(done.stdout.strip())
    raise SystemExit("neither kiosk_screens.app nor kiosk.cli imports")


def main() -> None:
    print(f"slip_pdf_ms {warm_median_ms('letter'):.1f} ms")
    print(f"slip_pdf_receipt_ms {warm_median_ms('receipt'):.1f} ms")
    print(f"slip_pdf_unicode_ms {warm_median_ms('letter', unicode_sibling_slip()):.1f} ms")
    print(f"slip_pdf_cold_ms {cold_ms():.0f} ms")
    module, loaded = startup_imports()
    print(f"slip_imports_at_startup {loaded}  (checked: import {module})")


if __name__ == "__main__":
    main()
