"""Config load cost: CPU time of ``load_config`` on generated 1,000- and 10,000-source files.

    python bench/config_speed.py
    python bench/config_speed.py --sources 1000 5000 --runs 9

The files look like the one bench/scale.py writes (three brands, one flow-mapping line per
source, a fetch and an email section), generated here so the big corpus is not needed.
``first`` is the first call in this process, so it includes importing the YAML library the
loader uses, as ``ereputation run --once`` pays it; ``median`` is the median of ``--runs``
further calls (``time.process_time``, so only this process's CPU counts, not the machine's
other load).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from corpus import BRANDS_YAML  # noqa: E402 - the brands bench/scale.py uses (no corpus is built)

from ereputation.config import load_config  # noqa: E402 - after the sys.path line above


def write_config(folder: Path, count: int) -> Path:
    """A feeds.yaml with ``count`` sources, shaped like bench/scale.py's ``write_config``."""
    sources = "\n".join(
        f'  - {{name: "feed {i}", url: "http://127.0.0.1:8080/feeds/{i}.xml", full_text: never}}'
        for i in range(count)
    )
    path = folder / f"feeds-{count}.yaml"
    path.write_text(
        f"database: bench.db\n{BRANDS_YAML}sources:\n{sources}\n"
        "fetch: {concurrency: 32, per_host: 32, host_delay: 0s, timeout: 3s}\n"
        "email: {outbox: outbox}\n",
        encoding="utf-8",
    )
    return path


def cpu_ms(path: Path) -> float:
    start = time.process_time()
    config = load_config(path)
    elapsed = time.process_time() - start
    assert len(config.sources) == int(path.stem.split("-")[1])
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = [write_config(Path(tmp), count) for count in args.sources]
        first = cpu_ms(paths[0])
        print(f"first load_config ({args.sources[0]} sources, with imports): {first:.1f} ms")
        for path, count in zip(paths, args.sources, strict=True):
            times = [cpu_ms(path) for _ in range(args.runs)]
            print(
                f"{count:>6} sources: median {statistics.median(times):.1f} ms CPU "
                f"(min {min(times):.1f}, max {max(times):.1f}, {args.runs} runs)"
            )


if __name__ == "__main__":
    main()
