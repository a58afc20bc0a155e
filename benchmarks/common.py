"""What every benchmark case shares: the line it prints and the context it runs in.

A case measures a path of ours and, in the same run, the floor for it (the database doing the same work on its
own: raw SQL, `COPY`, a trivial view), then prints one `Line`: the figure, the floor, their ratio, the target and
PASS/FAIL. A case that cannot pass here says what bounds it in `note`.
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Line:
    case: str
    figure: float
    unit: str
    target: str
    passed: bool
    floor: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.floor in (None, 0):
            return None
        return self.figure / self.floor

    def render(self) -> str:
        floor = f"{self.floor:.4g} {self.unit}" if self.floor is not None else "-"
        ratio = f"{self.ratio:.2f}x" if self.ratio is not None else "-"
        verdict = "PASS" if self.passed else "FAIL"
        text = (
            f"{verdict}  {self.case:<58} {self.figure:>10.4g} {self.unit:<7} "
            f"floor {floor:<16} ratio {ratio:<7} target {self.target}"
        )
        return f"{text}  ({self.note})" if self.note else text


@dataclass
class Context:
    """`client` is a Django test client with a read-only analyst token in `key`; `violations` the dataset size."""

    client: object
    key: str
    violations: int
    vendor: str
    quick: bool = False
    extra: dict = field(default_factory=dict)

    def get(self, url: str, **headers):
        response = self.client.get(url, HTTP_AUTHORIZATION=f"Token {self.key}", **headers)
        if response.streaming:
            body = b"".join(response.streaming_content)
        else:
            body = response.content
        return response, body


def median_seconds(run: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def side_by_side(ours: Callable[[], object], floor: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    """Median seconds of each, measured turn about so that both see the same cache and load."""
    ours(), floor()
    a, b = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        ours()
        a.append(time.perf_counter() - start)
        start = time.perf_counter()
        floor()
        b.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)
