"""The near-duplicate index as it is, against the same rule built on datasketch.

datasketch (https://github.com/ekzhu/datasketch) is not a dependency; this script needs
``pip install datasketch``. Its variant keeps the acceptance rule of
``filters.Deduplicator`` (candidates from LSH bands of the whole signature, then the whole
signature, the output's signature and the passage's all at least the threshold): its
``MinHash`` replaces our signatures and its ``MinHashLSH``, given our (bands, rows), our
band index; the verification is ours, unchanged.

Each variant runs in a fresh process on the same records, one after the other; each
reports its own CPU time and peak memory growth, so a busy machine skews both alike:

    python scripts/bench_dedup_datasketch.py 20000

The records are those of bench_filters.py (nearly all kept: the index grows by N), with
one in four a rewording of an earlier example (one word of its question replaced, its
answer kept), which the rule should call a near-duplicate when enough word pairs survive.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time

from bonito_lite import filters
from bonito_lite.filters import Deduplicator


def records(n: int):
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(50_000)]
    passages = [" ".join(rng.choices(vocab, k=300)) for _ in range(2000)]
    made: list[tuple[str, list[str], str]] = []
    for i in range(n):
        if made and rng.random() < 0.25:
            passage, question, answer = made[rng.randrange(len(made))]
            question = list(question)
            question[rng.randrange(len(question))] = rng.choice(vocab)
        else:
            passage = passages[(i // 10) % len(passages)]
            question = rng.choices(vocab, k=14)
            answer = " ".join(rng.choices(vocab, k=rng.randint(1, 30)))
            made.append((passage, question, answer))
        yield {
            "input": passage + "\n\nQuestion: " + " ".join(question) + "?",
            "output": answer,
            "task_type": "question answering without choices",
            "context": passage,
            "unit": f"{i:016x}",
        }


class DatasketchDeduplicator(Deduplicator):
    """Deduplicator's rule over datasketch's MinHash signatures and MinHashLSH bands."""

    def __init__(self, threshold: float = filters.DEFAULT_DEDUP_THRESHOLD) -> None:
        from datasketch import MinHashLSH

        super().__init__(threshold)
        self._lsh = MinHashLSH(num_perm=filters._NUM_PERM, params=(self.bands, self.rows))

    @staticmethod
    def _minhash(items: set[str]):
        from datasketch import MinHash

        signature = MinHash(num_perm=filters._NUM_PERM)
        signature.update_batch([item.encode("utf-8") for item in items])
        return signature

    def _near_keys(self, record):
        passage_text = str(record.get("context", "")).strip()
        quotes_passage = bool(passage_text) and passage_text in str(record["input"])
        asked = filters.instruction_of(record) if quotes_passage else str(record["input"])
        whole = self._minhash(filters.shingles(asked + "\n" + str(record["output"])))
        output = self._minhash(filters.shingles(str(record["output"])))
        passage = self._passage_number(passage_text) if quotes_passage else -1
        # datasketch's values are below 2**32: our uint32 rows hold them unchanged.
        return whole.hashvalues, output.hashvalues[: filters._OUTPUT_PERM], passage, whole

    def _passage_number(self, text: str) -> int:
        key = filters._hash64(filters.normalise(text))
        number = self._passages.get(key)
        if number is None:
            number = self._passages[key] = len(self._passage_signatures)
            self._passage_signatures.append(self._minhash(filters.shingles(text)).hashvalues)
        return number

    def _candidates(self, whole) -> list[int]:
        return self._lsh.query(whole)

    def _add(self, record, exact, signature, output, passage, whole) -> None:
        number = len(self._keys)
        super()._add(record, exact, signature, output, passage, [])
        self._lsh.insert(number, whole, check_duplication=False)


def rss_mb() -> float:
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def child(variant: str, n: int) -> None:
    dedup = DatasketchDeduplicator() if variant == "datasketch" else Deduplicator()
    batch = list(records(n))
    base = rss_mb()
    cpu = time.process_time()
    reasons = []
    for record in batch:
        rejection = dedup.check(record)
        reasons.append(rejection.reason if rejection else "")
    cpu = time.process_time() - cpu
    print(json.dumps({"cpu_s": cpu, "rss_mb": rss_mb() - base, "reasons": reasons}))


def main(n: int) -> None:
    results = {}
    for variant in ("ours", "datasketch"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", variant, str(n)], check=True, capture_output=True, text=True
        ).stdout
        results[variant] = json.loads(out)
    ours, theirs = results["ours"], results["datasketch"]
    for variant, result in results.items():
        counts = {r or "kept": result["reasons"].count(r) for r in sorted(set(result["reasons"]))}
        print(
            f"{variant:>10}: {result['cpu_s']:.1f} s CPU ({result['cpu_s'] / n * 1e6:.0f} us an example), "
            f"peak RSS grew {result['rss_mb']:.0f} MB; {counts}"
        )
    same = sum(a == b for a, b in zip(ours["reasons"], theirs["reasons"]))
    print(
        f"datasketch / ours: {theirs['cpu_s'] / ours['cpu_s']:.2f}x the CPU time, "
        f"{theirs['rss_mb'] / max(ours['rss_mb'], 1e-9):.2f}x the memory; "
        f"the same decision for {same} of {n} examples"
    )


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
